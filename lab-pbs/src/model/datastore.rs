//! Datastores: where a server keeps its chunks, on which appliance or NAS
//! pool, with their GC and retention schedules.

use lab_core::{Handle, Output, Resource, ResourceSpec};
use lab_proxmox::model::NasPool;

use super::common::{
    address_id_problem, comment_problem, local_of, owned_spec, parse_gb, schedule_problem,
    SCHEDULE_HELP,
};
use super::server::PbsServer;
use crate::kinds::{self, Retention};

/// A datastore (`pbs.datastore`) on a server; its address is
/// `pbs.datastore.<server>--<name>` and its name is the PBS store name
/// (3-32 of letters, digits, `_`, `-`; PBS also allows `.`, which cannot
/// be part of an address).
///
/// Say where its path lives, so the failure-domain analysis can follow it:
/// `.on(&appliance)` (a disk of the server's own box, a USB disk) or
/// [`Datastore::nas_pool`] (an NFS export mounted on the server: the
/// datastore then shares the pool's appliance). Without either,
/// `pbs::datastore-placement` warns.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
///
/// let mut lab = Lab::new("home");
/// let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20").on(&pbs_box));
/// let store = lab.add(
///     Datastore::new(&primary, "backup", "/mnt/datastore/backup")
///         .on(&pbs_box)
///         .gc_schedule("daily")
///         .retention(Retention::default().last(3).daily(7))
///         .capacity("4T"),
/// );
/// assert_eq!(store.address().to_string(), "pbs.datastore.primary--backup");
/// let spec = lab.resource(store.address()).unwrap();
/// assert_eq!(spec.attrs["name"], Value::from("backup"));
/// assert_eq!(spec.attrs["server"], Value::from("pbs.server.primary"));
/// assert_eq!(spec.attrs["keep-daily"], Value::from(7));
/// assert_eq!(spec.attrs["capacity-gb"], Value::from(4096));
/// assert_eq!(spec.provider.as_ref().unwrap().name, "primary");
/// ```
#[derive(Clone, Debug)]
pub struct Datastore {
    spec: ResourceSpec,
}

impl Datastore {
    /// The kind, `pbs.datastore`.
    pub const KIND: &'static str = kinds::DATASTORE;

    /// The datastore `name` on `server`, its chunks at `path` (absolute).
    #[track_caller]
    pub fn new(server: &Handle<PbsServer>, name: &str, path: &str) -> Self {
        let mut spec = owned_spec(Self::KIND, server, name);
        if let Some(p) = address_id_problem(name, "datastore name") {
            spec.invalid("name", p, "name the datastore like `backup` or `archive_2`");
        }
        spec.set("name", name);
        if !path.starts_with('/') || path.len() > 4096 {
            spec.invalid(
                "path",
                format!("`{path}` is not an absolute path"),
                "write where the datastore lives on the server, like `/mnt/datastore/backup`",
            );
        }
        spec.set("path", path);
        Datastore { spec }
    }

    /// A comment shown in PBS's interface.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        if let Some(p) = comment_problem(comment) {
            self.spec.invalid("comment", p, "write a single line");
        }
        self.spec.set("comment", comment);
        self
    }

    /// When garbage collection runs (a calendar event, like `daily`).
    #[track_caller]
    pub fn gc_schedule(mut self, schedule: &str) -> Self {
        if let Some(p) = schedule_problem(schedule) {
            self.spec.invalid("gc-schedule", p, SCHEDULE_HELP);
        }
        self.spec.set("gc-schedule", schedule);
        self
    }

    /// When the datastore's own retention ([`Datastore::retention`]) runs.
    /// Prune jobs ([`super::PruneJob`]) are the newer way to the same end.
    #[track_caller]
    pub fn prune_schedule(mut self, schedule: &str) -> Self {
        if let Some(p) = schedule_problem(schedule) {
            self.spec.invalid("prune-schedule", p, SCHEDULE_HELP);
        }
        self.spec.set("prune-schedule", schedule);
        self
    }

    /// The datastore's own retention (`keep-*`), run by its
    /// `prune-schedule`.
    #[track_caller]
    pub fn retention(mut self, retention: Retention) -> Self {
        set_retention(&mut self.spec, &retention);
        self
    }

    /// Verifies every new snapshot right after its upload.
    #[track_caller]
    pub fn verify_new(mut self, verify: bool) -> Self {
        self.spec.set("verify-new", verify);
        self
    }

    /// The space it has (`4T`, `500G`), for the capacity checks.
    #[track_caller]
    pub fn capacity(mut self, size: &str) -> Self {
        match parse_gb(size) {
            Ok(gb) => self.spec.set("capacity-gb", gb),
            Err(p) => self.spec.invalid(
                "capacity-gb",
                p,
                "write whole GiB or TiB, like `500G` or `4T`",
            ),
        }
        self
    }

    /// Puts the datastore's path on a NAS pool (an NFS export the server
    /// mounts): its failure domain is the pool's appliance.
    #[track_caller]
    pub fn nas_pool(mut self, pool: &Handle<NasPool>) -> Self {
        self.spec.set_ref("pool", pool);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

/// Sets the six `keep-*` attributes (absent ones removed), each at the
/// caller's line; a count below 1 is a problem there.
#[track_caller]
pub(crate) fn set_retention(spec: &mut ResourceSpec, retention: &Retention) {
    for (key, n) in retention.counts() {
        match n {
            Some(n) => {
                if n < 1 {
                    spec.invalid(
                        key,
                        format!("{key} = {n}: PBS keeps at least 1 per period"),
                        "give a count of 1 or more, or leave the period out",
                    );
                }
                spec.set(key, n);
            }
            None => {
                spec.attrs.shift_remove(key);
            }
        }
    }
    spec.field_locs
        .insert("retention".into(), std::panic::Location::caller());
}

impl Resource for Datastore {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a datastore.
pub trait DatastoreOutputs {
    /// The store name.
    #[track_caller]
    fn store_name(&self) -> Output<String>;
}

impl DatastoreOutputs for Handle<Datastore> {
    #[track_caller]
    fn store_name(&self) -> Output<String> {
        self.output("name")
    }
}

/// The store name a datastore handle names (the part of its address
/// after the server).
pub(crate) fn store_of(store: &Handle<Datastore>) -> &str {
    local_of(store)
}
