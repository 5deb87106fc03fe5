//! The PBS checks: rules over the whole lab that catch, before any API
//! call, what PBS would refuse or what would quietly not protect anything
//! (a sync job copying a datastore onto itself, a prune job that keeps
//! everything, a remote pointing at its own server).
//!
//! Each rule reads the attributes the builders lowered (see
//! [`crate::kinds`]), follows addresses and references to the resources
//! they name, and reports a [`Diagnostic`](lab_core::Diagnostic) with the
//! code `pbs::<rule>`, labels at the user's lines and a help line. Values a
//! builder can judge alone (a bad store name, a schedule that does not
//! parse, a relative path) are not here: they are `core::invalid-value` at
//! the line that gave them.
//!
//! Every builder of this crate puts [`SET`] on its spec, so a lab with PBS
//! kinds runs these checks with or without a registered provider.
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_pbs::model::*;
//!
//! let mut lab = Lab::new("home");
//! let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
//! let store = lab.add(Datastore::new(&primary, "backup", "/mnt/backup"));
//! lab.add(SyncJob::new(&store, "loop", &store));
//! let diags = lab.check();
//! assert!(diags.iter().any(|d| d.code == "pbs::sync-same-datastore"));
//! ```

mod read;
mod rules;

use lab_core::{Address, Check, CheckSet, Lab, ResourceSpec, Severity};

use crate::kinds;
use read::{by_address, text};
use rules::*;

/// A sync job whose source and target are the same datastore.
pub const SYNC_SAME_DATASTORE: &str = "pbs::sync-same-datastore";
/// A sync job whose source is not where it can read it: a local sync from
/// another server's datastore, or a remote sync from a datastore of a
/// server the remote does not point at, or through a remote of another
/// server.
pub const SYNC_SOURCE: &str = "pbs::sync-source";
/// A namespace deeper than PBS allows (7 components below the root), or a
/// job whose namespace depth plus `max-depth` exceeds it.
pub const NAMESPACE_DEPTH: &str = "pbs::namespace-depth";
/// A namespace whose parent namespace is not declared (PBS creates one
/// level at a time under an existing parent).
pub const NAMESPACE_PARENT: &str = "pbs::namespace-parent";
/// A job or ACL whose namespace belongs to another datastore than the
/// job's (or the sync job's source).
pub const NAMESPACE_STORE: &str = "pbs::namespace-store";
/// (Warning) a prune job without any `keep-*`: PBS then keeps every
/// snapshot, so the job removes nothing.
pub const PRUNE_KEEPS_ALL: &str = "pbs::prune-keeps-all";
/// A remote pointing at the server it is on.
pub const REMOTE_SELF: &str = "pbs::remote-self";
/// A remote whose token belongs to another server than the one it points
/// at (the target would refuse the login).
pub const REMOTE_TOKEN: &str = "pbs::remote-token";
/// An ACL entry on a datastore or namespace of another server than its
/// token's or user's.
pub const ACL_PATH: &str = "pbs::acl-path";
/// (Warning) a remote sync whose token has no ACL entry on the source
/// datastore (or `/`) of its server: PBS would list nothing to pull.
pub const SYNC_TOKEN_ACL: &str = "pbs::sync-token-acl";
/// A PVE `pbs` storage whose token (or its user) has no ACL entry letting
/// it back up into the datastore, or which the plan could create before
/// that entry (PVE contacts the PBS on create).
pub const PVE_STORAGE_ACCESS: &str = "pbs::pve-storage-access";
/// (Warning) a datastore that says neither `.on(appliance)` nor
/// `.nas_pool(..)`: the failure-domain analysis cannot place its data.
pub const DATASTORE_PLACEMENT: &str = "pbs::datastore-placement";
/// (Warning) a server that says neither `.on(appliance)` nor
/// `.in_guest(..)`.
pub const SERVER_PLACEMENT: &str = "pbs::server-placement";
/// Two datastores of one server at one path.
pub const DATASTORE_PATH: &str = "pbs::datastore-path";
/// A token id (`user@realm!name`) longer than the 64 characters PBS
/// takes as an `auth-id` (ACL entries and remotes could not name it).
pub const TOKEN_ID_LENGTH: &str = "pbs::token-id-length";

/// What this crate's builders put on every spec they make: the lab
/// registers [`all`] when the first of them is added.
pub const SET: CheckSet = CheckSet {
    name: "pbs",
    checks: all,
};

/// Every PBS check.
pub fn all() -> Vec<Check> {
    vec![
        Check::new(SYNC_SAME_DATASTORE, Severity::Error, sync_same_datastore),
        Check::new(SYNC_SOURCE, Severity::Error, sync_source),
        Check::new(NAMESPACE_DEPTH, Severity::Error, namespace_depth),
        Check::new(NAMESPACE_PARENT, Severity::Error, namespace_parent),
        Check::new(NAMESPACE_STORE, Severity::Error, namespace_store),
        Check::new(PRUNE_KEEPS_ALL, Severity::Warning, prune_keeps_all),
        Check::new(REMOTE_SELF, Severity::Error, remote_self),
        Check::new(REMOTE_TOKEN, Severity::Error, remote_token),
        Check::new(ACL_PATH, Severity::Error, acl_path),
        Check::new(SYNC_TOKEN_ACL, Severity::Warning, sync_token_acl),
        Check::new(PVE_STORAGE_ACCESS, Severity::Error, pve_storage_access),
        Check::new(DATASTORE_PLACEMENT, Severity::Warning, datastore_placement),
        Check::new(SERVER_PLACEMENT, Severity::Warning, server_placement),
        Check::new(DATASTORE_PATH, Severity::Error, datastore_path),
        Check::new(TOKEN_ID_LENGTH, Severity::Error, token_id_length),
    ]
    .into_iter()
    .chain(failure_domain_checks())
    .collect()
}

/// The failure-domain checks ([`crate::failures`]): the analysis of the
/// lab's topology ([`Topology::of_lab`](crate::failures::Topology::of_lab))
/// over every single appliance loss, one check per finding code (so each
/// can be waived on its own; the analysis takes milliseconds even for
/// hundreds of guests).
fn failure_domain_checks() -> impl Iterator<Item = Check> {
    use crate::failures::checks as f;
    [
        (f::NO_RESTORABLE_COPY, Severity::Error),
        (f::SERVER_AND_COPIES_TOGETHER, Severity::Error),
        (f::TOPOLOGY, Severity::Error),
        (f::ARCHIVE_SHARES_APPLIANCE, Severity::Warning),
        (f::GUEST_NOT_BACKED_UP, Severity::Warning),
        (f::RPO_TARGET, Severity::Warning),
        (f::RETENTION_TARGET, Severity::Warning),
        (f::CAPACITY_NODE_LOSS, Severity::Warning),
        (f::CAPACITY_NAS_LOSS, Severity::Warning),
    ]
    .into_iter()
    .map(|(code, severity)| {
        Check::new(code, severity, move |lab, out| {
            let topology = crate::failures::Topology::of_lab(lab);
            out.extend(topology.check().into_iter().filter(|d| d.code == code));
        })
    })
}

/// Registers every PBS check on `lab`. Adding any resource of this crate
/// does it already; this is for labs whose specs are built by hand.
pub fn register(lab: &mut Lab) {
    for c in all() {
        lab.register_check(c);
    }
}

/// The appliance (failure domain) holding a datastore's data or a
/// server's system: its own `appliance`; else a datastore's NAS pool's
/// appliance; else a server's guest's node's local disk (the node's
/// `appliance`). `None` when the code does not say.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_core::Address;
/// use lab_pbs::model::*;
/// use lab_proxmox::model::{NasPool, Node, Vm};
/// let mut lab = Lab::new("home");
/// let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
/// let tank = lab.add(NasPool::new("tank").server("10.0.0.5").export("/mnt/tank/pbs").on(&nas));
/// let pve1 = lab.add(Node::new("pve1"));
/// let vm = lab.add(Vm::new("pbs", &pve1));
/// let server = lab.add(PbsServer::new("primary", "10.0.0.20").in_guest(&vm));
/// let store = lab.add(Datastore::new(&server, "backup", "/mnt/tank").nas_pool(&tank));
/// let of = |a: &Address| {
///     lab_pbs::checks::appliance_of(&lab, lab.resource(a).unwrap()).map(|a| a.to_string())
/// };
/// assert_eq!(of(store.address()).as_deref(), Some("appliance.nas"));
/// assert_eq!(of(server.address()).as_deref(), Some("appliance.pve1-disk"));
/// ```
pub fn appliance_of(lab: &Lab, resource: &ResourceSpec) -> Option<Address> {
    if let Some(a) = text(resource, "appliance") {
        return Address::parse(a);
    }
    if let Some(pool) = text(resource, "pool").and_then(|p| by_address(lab, p)) {
        return text(pool, "appliance").and_then(Address::parse);
    }
    let guest = text(resource, "guest").and_then(|g| by_address(lab, g))?;
    if let Some(a) = text(guest, "appliance") {
        return Address::parse(a);
    }
    let node = text(guest, "node")?;
    let node = lab.resource(&Address::new(lab_proxmox::kinds::NODE, node))?;
    text(node, "appliance").and_then(Address::parse)
}

/// The datastores of the lab on server `server` (its address).
pub fn datastores_of<'a>(lab: &'a Lab, server: &'a str) -> impl Iterator<Item = &'a ResourceSpec> {
    lab.resources()
        .filter(move |s| s.kind() == kinds::DATASTORE && text(s, "server") == Some(server))
}
