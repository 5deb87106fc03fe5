//! Typed builders for a Proxmox VE cluster.
//!
//! Each builder lowers to one [`ResourceSpec`](lab_core::ResourceSpec) of a
//! kind in [`crate::kinds`], with exactly the attributes listed there; the
//! provider reads those and nothing else. Handles make the edges typed: a
//! VM's disk can only sit on a `Handle<Storage>`, its clone source can only
//! be a `Handle<Template>`, a container's OS template only a `Handle<File>`.
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_proxmox::model::*;
//!
//! let mut lab = Lab::new("home");
//! let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
//! let pve1_disk = lab.add(Node::local_disk(&pve1));
//! let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
//! let tank = lab.add(NasPool::new("tank").server("10.0.0.5").export("/mnt/tank/pve").on(&nas));
//! let nfs = lab.add(Storage::nfs("tank-nfs", &tank).content(&[Content::Images, Content::Rootdir]));
//! let local_lvm = lab.add(
//!     Storage::existing("local-lvm").content(&[Content::Images, Content::Rootdir]).on(&pve1_disk).node(&pve1),
//! );
//! let vm = lab.add(
//!     Vm::new("immich", &pve1)
//!         .cores(4)
//!         .memory_mb(8192)
//!         .disk("scsi0", &local_lvm, "32G")
//!         .disk("scsi1", &nfs, "200G")
//!         .nic("net0", "vmbr0")
//!         .vlan(20),
//! );
//! let vmid: Output<i64> = vm.vmid();
//! assert_eq!(vmid.address().to_string(), "proxmox.vm.immich");
//! lab_proxmox::checks::register(&mut lab);
//! assert!(lab.check().iter().all(|d| !d.is_blocking()));
//! ```
//!
//! # Why it is shaped this way
//!
//! - **Names are Proxmox identifiers.** A node's resource name is its PVE
//!   node name, a storage's is its storage id, a pool's is its pool id. So a
//!   builder given `&Handle<Storage>` writes the storage id (the handle's
//!   name) into `storage` fields and records the dependency edge (with the
//!   field as `via`), without needing to read the storage.
//! - **Handles carry no data**, so a value that lives on another resource is
//!   lowered as a [`Value::Ref`] to it: a VM's
//!   `clone_vmid` is the template's `vmid` output, a container's
//!   `ostemplate` the file's `volid`, a template's `image` the file's
//!   `volid`, and an NFS storage's `server`/`export` are the NAS pool's
//!   `server`/`export`. This is the one place where this design leans on
//!   the engine: references to a **model-only** resource (a NAS pool, an
//!   existing template, an existing storage) are resolved from that
//!   resource's attribute of the same name, because such a resource is fully
//!   known when the lab is built. Until then, `.server()`/`.export()` on the
//!   NFS storage give the values directly, and the
//!   `proxmox::nfs-export` check reports a pool that does not say them.
//! - **NFS storage, pools and appliances.** `Storage::nfs(name, &pool)`
//!   stores `pool` = the NAS pool's address (an edge), so the failure domain
//!   is followed storage → pool → appliance. The storage's own `appliance`
//!   is set only by `.on(..)`; [`crate::checks::appliance_of`] follows the
//!   chain (storage, then its pool, then its single node's local disk) for
//!   checks that reason about failure domains.
//! - **Each node's local disk is an appliance** (`Node::local_disk(&node)`,
//!   named `<node>-disk`, kind [`ApplianceKind::NodeDisk`]); the node's
//!   `appliance` attribute names it (`appliance.<node>-disk`) unless the node
//!   is put `.on(..)` another one. Local storages say `.on(&node_disk)`.
//! - **Lists use "the last one" modifiers**: `.disk(..).ssd(true)`,
//!   `.nic(..).vlan(20).firewall(true)`, `.mount_point(..)`; a modifier with
//!   nothing before it to modify is a diagnostic, not a panic.
//! - **Bad values never panic.** They are recorded with
//!   [`ResourceSpec::invalid`](lab_core::ResourceSpec::invalid) at the
//!   user's line and reported by `core::invalid-value`; rules that need the
//!   whole lab (a VMID used twice, a disk on a storage without `images`) are
//!   [`crate::checks`].
//!
//! # Where things were written
//!
//! Besides the field names, the builders record a location for each list
//! item and each item's option, under `<list>.<slot>` and
//! `<list>.<slot>.<option>` (`disks.scsi0`, `disks.scsi0.ssd`,
//! `nics.net0.tag`, `mountpoints.mp0`), and `cloud_init` for the cloud-init
//! drive; `spec.loc_of("nics.net0.tag")` is the line of `.vlan(20)`.

mod backup_job;
mod common;
mod container;
mod file;
#[cfg(feature = "sim")]
pub(crate) use file::normalize_content_filename;
mod firewall_cluster;
mod firewall_group;
mod firewall_ipset;
mod firewall_rule;
mod guest;
mod guest_firewall;
mod nas;
mod node;
mod pool;
mod sdn_vnet;
mod sdn_zone;
mod storage;
mod template;
mod vm;

pub use backup_job::{BackupJob, BackupJobOutputs, BackupMode, Compress};
pub use common::TextInput;
pub use container::Container;
pub use file::{File, FileOutputs};
pub use firewall_cluster::ClusterFirewall;
pub use firewall_group::SecurityGroup;
pub use firewall_ipset::{IpSet, IpSetOutputs};
pub use firewall_rule::{FirewallRule, Policy};
pub use guest_firewall::GuestFirewall;
pub use nas::{NasPool, NasPoolOutputs};
pub use node::Node;
pub use pool::{Pool, PoolOutputs};
pub use sdn_vnet::Vnet;
pub use sdn_zone::SdnZone;
pub use storage::{Content, Storage, StorageOutputs};
pub use template::{Template, TemplateOutputs};
pub use vm::{CloudInit, Vm};

pub use crate::kinds::Retention;

pub use lab_core::{Appliance, ApplianceKind};

use lab_core::{Handle, Output, Value};

/// The `macs` output of a guest: NIC slot (`net0`) to MAC address (a `Str`).
pub type Macs = indexmap::IndexMap<String, Value>;

/// Outputs of VMs and containers, known after they are applied.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1"));
/// let ct = lab.add(Container::new("paperless", &pve1));
/// assert_eq!(ct.vmid().name(), "vmid");
/// assert_eq!(ct.macs().name(), "macs");
/// ```
pub trait GuestOutputs {
    /// The VMID (allocated at create unless given with `.vmid(..)`).
    #[track_caller]
    fn vmid(&self) -> Output<i64>;
    /// The node the guest runs on.
    #[track_caller]
    fn node(&self) -> Output<String>;
    /// The MAC address of each NIC, by slot.
    #[track_caller]
    fn macs(&self) -> Output<Macs>;
}

impl GuestOutputs for Handle<Vm> {
    #[track_caller]
    fn vmid(&self) -> Output<i64> {
        self.output("vmid")
    }
    #[track_caller]
    fn node(&self) -> Output<String> {
        self.output("node")
    }
    #[track_caller]
    fn macs(&self) -> Output<Macs> {
        self.output("macs")
    }
}

impl GuestOutputs for Handle<Container> {
    #[track_caller]
    fn vmid(&self) -> Output<i64> {
        self.output("vmid")
    }
    #[track_caller]
    fn node(&self) -> Output<String> {
        self.output("node")
    }
    #[track_caller]
    fn macs(&self) -> Output<Macs> {
        self.output("macs")
    }
}
