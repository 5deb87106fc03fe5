//! The Proxmox checks: rules over the whole lab that catch, before any API
//! call, what Proxmox would refuse halfway through an apply (a VMID used
//! twice, a disk on a storage that cannot hold disks, a NIC on a bridge
//! the node does not have).
//!
//! Each rule reads the attributes the builders lowered (see
//! [`crate::kinds`]), follows storage ids and node names to the resources
//! that declare them, and reports a [`Diagnostic`](lab_core::Diagnostic) with the code
//! `proxmox::<rule>`, labels at the user's lines and a help line saying
//! what to write instead. Values a builder can judge on its own (a size
//! that does not parse, a slot out of range) are not here: they are
//! reported by `core::invalid-value` at the line that gave them.
//!
//! Two kinds of rules, one module each:
//! - `rules`: offline, over the code alone (`lab check`);
//! - [`world`]: at plan time, against what the cluster reports after the
//!   refresh (its nodes, its storages with their content types and free
//!   space, where an existing template's disks are), through
//!   `Provider::check_plan`: a guest on a node the cluster does not have,
//!   an existing storage no node has or that lacks the content, disks
//!   larger than the free space, a clone across nodes from local storage.
//!   `check` cannot know these; the plan reports them at the same lines
//!   before anything is applied.
//!
//! Every builder of this crate puts [`SET`] on its spec, so a lab with
//! Proxmox kinds runs these checks with or without a registered provider
//! ([`register`] remains for labs built by hand).
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_proxmox::model::*;
//!
//! let mut lab = Lab::new("home");
//! let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
//! let iso = lab.add(Storage::existing("local").content(&[Content::Iso]));
//! lab.add(Vm::new("db", &pve1).disk("scsi0", &iso, "32G"));
//! let diags = lab.check();
//! assert!(diags.iter().any(|d| d.code == "proxmox::storage-content"));
//! ```

mod backup;
mod firewall;
pub(crate) mod oci;
mod read;
mod rules;
mod sdn;
pub mod world;

use lab_core::{Address, Check, CheckSet, Lab, ResourceSpec, Severity};

use crate::kinds;
use backup::backup_selection;
use firewall::firewall_references;
use read::{by_address, node, strs, text};
use rules::*;

/// A VMID outside 100..=999999999.
pub const VMID_RANGE: &str = "proxmox::vmid-range";
/// Two guests or templates with one VMID.
pub const VMID_REUSED: &str = "proxmox::vmid-reused";
/// Zero cores, sockets or memory.
pub const ZERO_RESOURCES: &str = "proxmox::zero-resources";
/// A VLAN tag outside 1..=4094.
pub const VLAN_RANGE: &str = "proxmox::vlan-range";
/// A disk, root filesystem, mount point, cloud-init drive or file on a
/// storage whose content types do not allow it.
pub const STORAGE_CONTENT: &str = "proxmox::storage-content";
/// A NIC on a bridge its node does not declare.
pub const UNKNOWN_BRIDGE: &str = "proxmox::unknown-bridge";
/// A storage used on a node it is not available on.
pub const STORAGE_NOT_ON_NODE: &str = "proxmox::storage-not-on-node";
/// A container template that is not a `vztmpl` file, a cloud image that is
/// not an `import` file, or a VM's CD-ROM that is not an `iso` file.
pub const FILE_CONTENT: &str = "proxmox::file-content";
/// A guest or template on one node using a file (OS template, cloud image,
/// ISO) downloaded to a node-local storage of another node: that node's
/// disk is the only place the file is.
pub const FILE_NODE: &str = "proxmox::file-on-other-node";
/// An NFS storage whose NAS pool does not say its server or export.
pub const NFS_EXPORT: &str = "proxmox::nfs-export";
/// Two files with one volume id on one node (same storage, content type
/// and file name): both downloads would make the same volume.
pub const DUPLICATE_VOLUME: &str = "proxmox::duplicate-volume";
/// A backup job that selects no guest, or selects them in two ways (a
/// VMID list and `all` or a pool), or excludes guests from a VMID list.
pub const BACKUP_SELECTION: &str = "proxmox::backup-selection";
/// A firewall rule names an ipset or attaches a security group the lab
/// does not declare (warning: PVE refuses the first unless the cluster has
/// it, and silently skips the second).
pub const FIREWALL_REFERENCE: &str = "proxmox::firewall-reference";

/// An SDN zone or VNet id PVE does not take (2 to 8 letters and digits,
/// a letter first), or a VNet named like a bridge a node declares.
pub const SDN_ID: &str = "proxmox::sdn-id";
/// An SDN zone PVE cannot make as written: a type other than `vlan` or
/// `simple`, a VLAN zone without a bridge, a simple zone with one.
pub const SDN_ZONE_TYPE: &str = "proxmox::sdn-zone-type";
/// A VNet tag outside 1..=4094, missing in a VLAN zone, or given in a
/// simple zone.
pub const SDN_TAG_RANGE: &str = "proxmox::sdn-tag-range";
/// Two VNets of one zone with one tag.
pub const SDN_TAG_REUSED: &str = "proxmox::sdn-tag-reused";

/// (Plan time) a guest, template, file or storage on a node the cluster
/// does not have.
pub const NODE_MISSING: &str = "proxmox::node-missing";
/// (Plan time) a storage the lab does not create that no node of the
/// cluster has, or that the guest's node does not have (or has disabled).
pub const STORAGE_MISSING: &str = "proxmox::storage-missing";
/// (Plan time) a use of an existing storage whose content types, as the
/// cluster reports them, do not allow it.
pub const CLUSTER_CONTENT: &str = "proxmox::cluster-storage-content";
/// (Plan time) new disks on a storage that add up to more than its free
/// space on that node (all nodes together for a shared storage).
pub const STORAGE_FULL: &str = "proxmox::storage-full";
/// (Plan time) a clone onto another node from a template whose disks are
/// on that template node's local storage, or onto a local target storage:
/// PVE clones across nodes only from and to shared storage.
pub const CLONE_ACROSS_NODES: &str = "proxmox::clone-across-nodes";
/// (Plan time) a VLAN zone whose bridge a node it spans does not have.
pub const SDN_BRIDGE_MISSING: &str = "proxmox::sdn-bridge-missing";
/// (Plan time) a VLAN zone on a bridge that is not VLAN-aware on a node it
/// spans.
pub const SDN_BRIDGE_NOT_VLAN_AWARE: &str = "proxmox::sdn-bridge-not-vlan-aware";
/// (Plan time) an OCI image pulled, or a container's `entrypoint`/`env`
/// written, on a node older than Proxmox VE 9.1, which has neither.
pub const OCI_UNSUPPORTED: &str = "proxmox::oci-unsupported";

/// What this crate's builders put on every spec they make
/// ([`lab_core::ResourceSpec::check_set`]): the lab registers [`all`] when
/// the first of them is added.
pub const SET: CheckSet = CheckSet {
    name: "proxmox",
    checks: all,
};

/// Every Proxmox check (the plan-time ones declared, so waivers may name
/// them; they run in [`world::check`]).
pub fn all() -> Vec<Check> {
    vec![
        Check::new(VMID_RANGE, Severity::Error, vmid_range),
        Check::new(VMID_REUSED, Severity::Error, vmid_reused),
        Check::new(ZERO_RESOURCES, Severity::Error, zero_resources),
        Check::new(VLAN_RANGE, Severity::Error, vlan_range),
        Check::new(STORAGE_CONTENT, Severity::Error, storage_content),
        Check::new(UNKNOWN_BRIDGE, Severity::Error, unknown_bridge),
        Check::new(STORAGE_NOT_ON_NODE, Severity::Error, storage_not_on_node),
        Check::new(FILE_CONTENT, Severity::Error, file_content),
        Check::new(FILE_NODE, Severity::Error, file_on_other_node),
        Check::new(NFS_EXPORT, Severity::Error, nfs_export),
        Check::new(DUPLICATE_VOLUME, Severity::Error, duplicate_volume),
        Check::new(BACKUP_SELECTION, Severity::Error, backup_selection),
        Check::new(SDN_ID, Severity::Error, sdn::sdn_id),
        Check::new(SDN_ZONE_TYPE, Severity::Error, sdn::sdn_zone_type),
        Check::new(SDN_TAG_RANGE, Severity::Error, sdn::sdn_tag_range),
        Check::new(SDN_TAG_REUSED, Severity::Error, sdn::sdn_tag_reused),
        Check::new(FIREWALL_REFERENCE, Severity::Warning, firewall_references),
        Check::at_plan(NODE_MISSING, Severity::Error),
        Check::at_plan(STORAGE_MISSING, Severity::Error),
        Check::at_plan(CLUSTER_CONTENT, Severity::Error),
        Check::at_plan(STORAGE_FULL, Severity::Error),
        Check::at_plan(CLONE_ACROSS_NODES, Severity::Error),
        Check::at_plan(SDN_BRIDGE_MISSING, Severity::Error),
        Check::at_plan(SDN_BRIDGE_NOT_VLAN_AWARE, Severity::Error),
        Check::at_plan(OCI_UNSUPPORTED, Severity::Error),
    ]
}

/// Registers every Proxmox check on `lab`. Adding any resource of this
/// crate does it already; this is for labs whose specs are built by hand.
pub fn register(lab: &mut Lab) {
    for c in all() {
        lab.register_check(c);
    }
}

/// The appliance (failure domain) holding a storage's data, or any
/// resource's with an `appliance` attribute: its own `appliance`, else its
/// NAS pool's (`pool` of an NFS storage), else the local disk of its only
/// node.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1"));
/// let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
/// let tank = lab.add(NasPool::new("tank").server("10.0.0.5").export("/mnt/tank").on(&nas));
/// let nfs = lab.add(Storage::nfs("tank-nfs", &tank));
/// let local = lab.add(Storage::existing("local").node(&pve1));
/// let of = |h: &Handle<Storage>| {
///     lab_proxmox::checks::appliance_of(&lab, lab.resource(h.address()).unwrap()).map(|a| a.to_string())
/// };
/// assert_eq!(of(&nfs).as_deref(), Some("appliance.nas"));
/// assert_eq!(of(&local).as_deref(), Some("appliance.pve1-disk"));
/// ```
pub fn appliance_of(lab: &Lab, resource: &ResourceSpec) -> Option<Address> {
    if let Some(a) = text(resource, "appliance") {
        return Address::parse(a);
    }
    if let Some(pool) = text(resource, "pool").and_then(|p| by_address(lab, p)) {
        if pool.kind() == kinds::NAS_POOL {
            return text(pool, "appliance").and_then(Address::parse);
        }
    }
    match strs(resource, "nodes").as_slice() {
        [only] => text(node(lab, only)?, "appliance").and_then(Address::parse),
        _ => None,
    }
}
