//! The contract between the typed builders ([`crate::model`]) and the
//! provider ([`crate::provider`]): the resource kinds, each managed one a
//! serde type (its spec, what the builder lowers to) with its outputs, one
//! file per kind. The provider reads Proxmox's answers back into exactly
//! these shapes (normalised), so an unchanged lab diffs as no changes.
//!
//! Every spec is `#[serde(deny_unknown_fields)]`: an attribute a builder
//! sets and the spec does not know is a `core::spec-mismatch` error at
//! `check`, at the line that set it. A field is an `Option` when the
//! builder may leave it out or Proxmox cannot report it back.
//!
//! Conventions: sizes are whole GiB (`Int`), memory is MiB (`Int`), lists
//! that Proxmox keeps unordered (tags, content types) are sorted, booleans
//! are `Bool`, optional fields are absent rather than `Null`.
//!
//! | kind | managed | spec |
//! |---|---|---|
//! | `proxmox.node` | no (model only) | `bridges: [Str]`, `appliance: Str` (its local disk) |
//! | `proxmox.nas-pool` | no | `server: Str`, `export: Str`, `appliance: Str` |
//! | `proxmox.storage` (existing) | no | `storage: Str`, `content: [Str]`, `shared: Bool`, `nodes: [Str]`, `appliance: Str` |
//! | `proxmox.storage` (NFS, PBS) | yes | [`StorageSpec`] |
//! | `proxmox.file` | yes | [`FileSpec`] |
//! | `proxmox.template` (cloud image) | yes | [`TemplateSpec`] |
//! | `proxmox.template` (existing) | no | `node`, `vmid: Int` |
//! | `proxmox.vm` | yes | [`VmSpec`] |
//! | `proxmox.ct` | yes | [`CtSpec`] |
//! | `proxmox.pool` | yes | [`PoolSpec`] |
//! | `proxmox.backup_job` | yes | [`BackupJobSpec`] |
//! | `proxmox.sdn_zone` | yes | [`SdnZoneSpec`] |
//! | `proxmox.sdn_vnet` | yes | [`SdnVnetSpec`] |
//! | `proxmox.firewall_ipset` | yes | [`IpSetSpec`] |
//! | `proxmox.firewall_group` | yes | [`SecurityGroupSpec`] |
//! | `proxmox.firewall_cluster` | yes | [`ClusterFirewallSpec`] |
//! | `proxmox.guest_firewall` | yes | [`GuestFirewallSpec`] |
//!
//! [`Retention`] (`prune-backups`) is shared by storages and backup jobs.
//! [`FirewallRule`] is shared by security groups and guest firewalls.

mod backup_job;
mod ct;
mod file;
mod firewall_cluster;
mod firewall_group;
mod firewall_ipset;
mod firewall_rule;
mod guest_firewall;
mod pool;
mod retention;
mod sdn_vnet;
mod sdn_zone;
mod storage;
mod template;
mod vm;

pub use backup_job::{BackupJobOutputs, BackupJobSpec};
pub use ct::{CtMountpoint, CtNic, CtSpec, CtVolume};
pub use file::{FileOutputs, FileSpec};
pub use firewall_cluster::{ClusterFirewallOutputs, ClusterFirewallSpec};
pub use firewall_group::{SecurityGroupOutputs, SecurityGroupSpec};
pub use firewall_ipset::{IpSetEntry, IpSetOutputs, IpSetSpec};
pub use firewall_rule::{
    canonical_macro, check_address, check_ports, check_proto, firewall_name_ok, ip_version,
    normalize_cidr, FirewallRule, LOG_LEVELS, MACROS, MAX_GROUP_NAME, MAX_IPSET_NAME, PROTOCOLS,
    PROTOCOLS_WITH_PORTS, SERVICES,
};
pub use guest_firewall::{GuestFirewallOutputs, GuestFirewallSpec};
pub use pool::{PoolOutputs, PoolSpec};
pub use retention::Retention;
pub use sdn_vnet::{
    cidr_contains, subnet_problem, SdnSubnet, SdnVnetOutputs, SdnVnetSpec, VNET_TAG_RANGE,
};
pub use sdn_zone::{sdn_id_problem, SdnZoneOutputs, SdnZoneSpec, SDN_ZONE_TYPES};
pub use storage::{StorageOutputs, StorageSpec};
pub use template::TemplateSpec;
pub use vm::{CloudInit, GuestOutputs, VmDisk, VmNic, VmSpec};

/// Kind of cluster nodes (model only).
pub const NODE: &str = "proxmox.node";
/// Kind of NAS pools exporting NFS (model only).
pub const NAS_POOL: &str = "proxmox.nas-pool";
/// Kind of storages (NFS: managed; existing: model only).
pub const STORAGE: &str = "proxmox.storage";
/// Kind of files downloaded onto a storage (cloud images, ISOs, CT templates).
pub const FILE: &str = "proxmox.file";
/// Kind of VM templates.
pub const TEMPLATE: &str = "proxmox.template";
/// Kind of QEMU VMs.
pub const VM: &str = "proxmox.vm";
/// Kind of LXC containers.
pub const CT: &str = "proxmox.ct";
/// Kind of resource pools.
pub const POOL: &str = "proxmox.pool";
/// Kind of scheduled backup jobs (`/cluster/backup`).
pub const BACKUP_JOB: &str = "proxmox.backup_job";
/// Kind of SDN zones (`/cluster/sdn/zones`).
pub const SDN_ZONE: &str = "proxmox.sdn_zone";
/// Kind of SDN VNets (`/cluster/sdn/vnets`).
pub const SDN_VNET: &str = "proxmox.sdn_vnet";
/// Kind of firewall IP sets (`/cluster/firewall/ipset`).
pub const FIREWALL_IPSET: &str = "proxmox.firewall_ipset";
/// Kind of firewall security groups (`/cluster/firewall/groups`).
pub const FIREWALL_GROUP: &str = "proxmox.firewall_group";
/// Kind of the datacenter firewall options (`/cluster/firewall/options`).
pub const FIREWALL_CLUSTER: &str = "proxmox.firewall_cluster";
/// Kind of guest firewalls (`/nodes/{node}/{qemu,lxc}/{vmid}/firewall`).
pub const GUEST_FIREWALL: &str = "proxmox.guest_firewall";

/// The kinds the provider applies.
pub const MANAGED: &[&str] = &[
    STORAGE,
    FILE,
    TEMPLATE,
    VM,
    CT,
    POOL,
    BACKUP_JOB,
    FIREWALL_IPSET,
    FIREWALL_GROUP,
    FIREWALL_CLUSTER,
    GUEST_FIREWALL,
    SDN_ZONE,
    SDN_VNET,
];

/// Smallest and largest VMID Proxmox accepts.
pub const VMID_RANGE: std::ops::RangeInclusive<i64> = 100..=999_999_999;

/// Content types Proxmox storages know.
pub const CONTENT_TYPES: &[&str] = &[
    "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import",
];

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::kind::Kind;

    #[test]
    fn the_kind_names_are_the_constants() {
        assert_eq!(VmSpec::KIND, VM);
        assert_eq!(CtSpec::KIND, CT);
        assert_eq!(TemplateSpec::KIND, TEMPLATE);
        assert_eq!(StorageSpec::KIND, STORAGE);
        assert_eq!(FileSpec::KIND, FILE);
        assert_eq!(PoolSpec::KIND, POOL);
        assert_eq!(BackupJobSpec::KIND, BACKUP_JOB);
        assert_eq!(SdnZoneSpec::KIND, SDN_ZONE);
        assert_eq!(SdnVnetSpec::KIND, SDN_VNET);
        assert_eq!(IpSetSpec::KIND, FIREWALL_IPSET);
        assert_eq!(SecurityGroupSpec::KIND, FIREWALL_GROUP);
        assert_eq!(ClusterFirewallSpec::KIND, FIREWALL_CLUSTER);
        assert_eq!(GuestFirewallSpec::KIND, GUEST_FIREWALL);
    }
}
