//! Typed builders for Proxmox Backup Servers.
//!
//! Each builder lowers to one [`ResourceSpec`](lab_core::ResourceSpec) of a
//! kind in [`crate::kinds`], with exactly the attributes listed there.
//! Handles make the edges typed: a datastore belongs to a
//! `Handle<PbsServer>`, a namespace to a `Handle<Datastore>`, a token to a
//! `Handle<User>`, a remote points at another `Handle<PbsServer>` with a
//! `Handle<Token>` of it.
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_core::testing::MemoryProvider;
//! use lab_pbs::model::*;
//!
//! let mut lab = Lab::new("home");
//! // Each PBS server is its own provider instance.
//! let pbs = || MemoryProvider::new().with_kinds(lab_pbs::kinds::ALL).shared();
//! let primary_pbs = lab.register_provider_as("primary", pbs());
//! let offsite_pbs = lab.register_provider_as("offsite", pbs());
//!
//! let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
//! let remote_box = lab.add(Appliance::new("remote-box").kind(ApplianceKind::Offsite));
//! let primary = lab.add(PbsServer::instance(&primary_pbs, "10.0.0.20").on(&pbs_box));
//! let offsite = lab.add(PbsServer::instance(&offsite_pbs, "pbs.example.net").on(&remote_box));
//!
//! let daily = lab.add(Datastore::new(&primary, "daily", "/mnt/daily").on(&pbs_box).gc_schedule("daily"));
//! let archive = lab.add(Datastore::new(&offsite, "archive", "/mnt/archive").on(&remote_box));
//! lab.add(PruneJob::new(&daily, "keep", "daily").retention(Retention::default().last(3).daily(14)));
//!
//! // The off-site server pulls the daily copy with a read-only token of the primary.
//! let sync = lab.add(User::new(&primary, "sync@pbs"));
//! let token = lab.add(Token::new(&sync, "offsite"));
//! lab.add(Acl::new(&token, Role::DatastoreReader, &daily));
//! let remote = lab.add(Remote::new(&offsite, "primary", &primary, &token));
//! lab.add(SyncJob::new(&archive, "archive-copy", &daily).remote(&remote).schedule("sat 03:00"));
//!
//! assert!(lab.check().iter().all(|d| !d.is_blocking()), "{:#?}", lab.check());
//! ```
//!
//! # Why it is shaped this way
//!
//! - **A server is a provider instance, and its handle says which.** A lab
//!   may have a primary and an off-site PBS, each applied by its own
//!   provider instance. Every builder derives its resource's address from
//!   a handle of the server's (`pbs.datastore.<server>--<store>`), and
//!   binds the resource to the instance named like the server
//!   ([`lab_core::model::ProviderBinding`]), so nothing is bound by hand and
//!   `core::provider-binding` catches a server whose instance is missing.
//!   Server names are at most 24 characters, without `--` and not ending
//!   in `-`, so the server
//!   part of any address is unambiguous.
//! - **PBS names ride in addresses where they can.** A datastore's,
//!   remote's or job's address ends with its PBS name, so a builder given
//!   `&Handle<Datastore>` writes the store name into `store` fields
//!   without reading the datastore (PBS allows `.` in these names; lab does
//!   not, as addresses cannot hold one). Values the address cannot carry
//!   exactly are [`Value::Ref`](lab_core::Value::Ref)s to the other
//!   resource's outputs: a token's `userid`, an ACL's `auth-id` (the
//!   token's `tokenid`), a namespace's `ns` and `acl-path` in jobs and ACLs,
//!   and a remote's `host`, `port`, `fingerprint` (its target server's) and
//!   `password` (the token's `secret`).
//! - **Failure domains are attributes.** A server says `appliance` (its
//!   box) or `guest` (the Proxmox VM or container it runs in); a datastore
//!   says `appliance` or `pool` (a lab-proxmox NAS pool, whose appliance it
//!   shares). The failure-domain analysis follows them.
//! - **Bad values never panic.** Names, paths, namespaces, schedules,
//!   comments, fingerprints are checked as PBS's apidoc says and recorded
//!   with [`ResourceSpec::invalid`](lab_core::ResourceSpec::invalid) at the
//!   user's line (`core::invalid-value`); rules over several resources are
//!   [`crate::checks`].
//!
//! # Where things were written
//!
//! Every attribute's line is its `field_locs` entry (`schedule`,
//! `gc-schedule`, `keep-daily`, ...); a `.retention(..)` call also records
//! `retention`, where `pbs::prune-keeps-all` points.

mod access;
pub(crate) mod common;
mod datastore;
mod jobs;
mod namespace;
mod pve;
mod remote;
mod replication;
mod server;
mod target;

pub use access::{Acl, AclPath, Grantee, Token, TokenOutputs, User, UserOutputs};
pub use datastore::{Datastore, DatastoreOutputs};
pub use jobs::{JobOutputs, PruneJob, SyncJob, VerifyJob};
pub use namespace::{Namespace, NamespaceOutputs};
pub use pve::PveStorage;
pub use remote::{Remote, RemoteOutputs};
pub use replication::NasReplication;
pub use server::{Guest, PbsServer, ServerOutputs};
pub use target::BackupTarget;

pub use crate::kinds::{Retention, Role};
pub use common::namespace_depth;
pub use lab_core::{Appliance, ApplianceKind};

pub(crate) use namespace::namespace_address;

use time::OffsetDateTime;

use crate::schedule::{CalendarEvent, ScheduleError};

/// The next `n` runs of `schedule` after `after`, as `YYYY-MM-DD HH:MM`
/// (UTC; PBS runs jobs in the server's local time), for plans.
///
/// ```
/// use time::{Date, Month, Time};
/// let after = Date::from_calendar_date(2026, Month::December, 4) // a Friday
///     .unwrap()
///     .with_time(Time::from_hms(3, 0, 0).unwrap())
///     .assume_utc();
/// let runs = lab_pbs::model::next_runs("mon..fri 02:30", after, 3).unwrap();
/// assert_eq!(runs, ["2026-12-07 02:30", "2026-12-08 02:30", "2026-12-09 02:30"]);
/// assert!(lab_pbs::model::next_runs("25:00", after, 3).is_err());
/// ```
pub fn next_runs(
    schedule: &str,
    after: OffsetDateTime,
    n: usize,
) -> Result<Vec<String>, ScheduleError> {
    let event: CalendarEvent = schedule.parse()?;
    Ok(event
        .next_runs(after, n)
        .into_iter()
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .collect())
}

/// What a plan shows for a schedule: `` `daily`: next 2026-12-05 00:00,
/// 2026-12-06 00:00, 2026-12-07 00:00 `` (the next 3 runs), or why it does
/// not parse.
///
/// ```
/// use time::{Date, Month, Time};
/// let at = Date::from_calendar_date(2026, Month::December, 4)
///     .unwrap()
///     .with_time(Time::from_hms(12, 0, 0).unwrap())
///     .assume_utc();
/// assert_eq!(
///     lab_pbs::model::describe_schedule("daily", at),
///     "`daily`: next 2026-12-05 00:00, 2026-12-06 00:00, 2026-12-07 00:00"
/// );
/// ```
pub fn describe_schedule(schedule: &str, after: OffsetDateTime) -> String {
    match next_runs(schedule, after, 3) {
        Ok(runs) if runs.is_empty() => format!("`{schedule}`: never runs again"),
        Ok(runs) => format!("`{schedule}`: next {}", runs.join(", ")),
        Err(e) => e.to_string(),
    }
}
