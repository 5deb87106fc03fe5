//! The contract between the typed builders ([`crate::model`]) and the
//! provider ([`crate::provider`]): the resource kinds and the attributes each
//! lowers to. The provider reads Proxmox's answers back into exactly these
//! shapes (normalised), so an unchanged lab diffs as no changes.
//!
//! Conventions: sizes are whole GiB (`Int`), memory is MiB (`Int`), lists
//! that Proxmox keeps unordered (tags, content types) are sorted, booleans
//! are `Bool`, optional fields are absent rather than `Null`.
//!
//! | kind | managed | attributes | forces replacement | outputs |
//! |---|---|---|---|---|
//! | `proxmox.node` | no (model only) | `bridges: [Str]`, `appliance: Str` (its local disk) | | |
//! | `proxmox.nas-pool` | no | `server: Str`, `export: Str`, `appliance: Str` | | |
//! | `proxmox.storage` (existing) | no | `storage: Str`, `content: [Str]`, `shared: Bool`, `nodes: [Str]`, `appliance: Str` | | |
//! | `proxmox.storage` (NFS) | yes | `storage`, `type: "nfs"`, `server`, `export`, `content: [Str]`, `options?: Str`, `nodes?: [Str]`, `pool: Str` (nas-pool address), `appliance: Str` | `type`, `server`, `export` | `storage` |
//! | `proxmox.file` | yes | `node`, `storage`, `content: "import"\|"iso"\|"vztmpl"`, `filename`, `url`, `checksum?`, `checksum_algorithm?` | every field | `volid` |
//! | `proxmox.template` (cloud image) | yes | `node`, `vmid?: Int`, `name`, `image: Ref(file#volid)`, `image_file: Str` (the file's address), `storage`, `disk_gb?: Int`, `cores`, `memory_mb`, `tags?`, `notes?` | `node`, `vmid`, `image_file`, `storage`, `disk_gb` | `vmid`, `node` |
//! | `proxmox.template` (existing) | no | `node`, `vmid: Int` | | |
//! | `proxmox.vm` | yes | see [`VM`] | `node`, `vmid`, `clone_from`, a disk shrinking or changing storage | `vmid`, `node`, `macs: Map` |
//! | `proxmox.ct` | yes | see [`CT`] | `node`, `vmid`, `ostemplate`, `unprivileged`, rootfs/mount point shrinking or changing storage | `vmid`, `node`, `macs: Map` |
//! | `proxmox.pool` | yes | `poolid: Str`, `comment?: Str` | `poolid` | `poolid` |
//!
//! [`VM`] attributes:
//! - `node: Str`, `vmid?: Int` (absent: allocated at create, recorded as
//!   the `vmid` output and the state id), `name: Str` (dns name)
//! - `cores: Int`, `sockets?: Int`, `memory_mb: Int`, `cpu?: Str`
//! - `clone_from?: Str` (the template's address) and `clone_vmid?:
//!   Ref(template#vmid) | Int` (used at create only; ignored by the diff)
//! - `disks: [Map{slot: "scsi0", storage: Str, size_gb: Int, ssd?: Bool,
//!   discard?: Bool, iothread?: Bool}]`
//! - `nics: [Map{slot: "net0", model: "virtio", bridge: Str, tag?: Int,
//!   firewall?: Bool}]` (the MAC is an output, never an attribute)
//! - `cloud_init?: Map{storage: Str, user?: Str, password?: Secret,
//!   ssh_keys?: [Str], ipconfig?: [Str] (`ip=10.0.0.5/24,gw=10.0.0.1`, index =
//!   NIC index), nameserver?: Str, searchdomain?: Str}`
//! - `agent: Bool`, `boot_order?: [Str]` (e.g. `["scsi0", "ide2", "net0"]`),
//!   `onboot: Bool`, `started: Bool` (running after apply)
//! - `cdrom?: Ref(file#volid) | Str` (an `iso` volume id, in a CD-ROM drive:
//!   `ide2: <volid>,media=cdrom`, or the first free IDE slot when a cloned
//!   cloud-init drive holds `ide2`; read back as the volume id) and
//!   `cdrom_file?: Str` (the file's address, for the diff). Changing it
//!   swaps the disc in place; dropping a CD-ROM the lab inserted ejects it
//!   (`none,media=cdrom`)
//! - `scsihw?: Str` (`lsi`, `lsi53c810`, `virtio-scsi-pci`,
//!   `virtio-scsi-single`, `megasas`, `pvscsi`; absent: `virtio-scsi-single`
//!   on a VM created without a clone, the template's on a clone),
//!   `machine?: Str` (`[type=]<machine type>`, e.g. `q35`), `balloon?: Int`
//!   (MiB, `0` = no balloon device); all updated in place, applied at the
//!   next boot where Proxmox cannot hot-plug them
//! - `tags?: [Str]` (sorted; the ownership tag is not listed), `notes?: Str`
//!   (the ownership marker line is not part of it), `pool?: Str` (pool id)
//!
//! [`CT`] attributes:
//! - `node`, `vmid?`, `hostname: Str`, `cores: Int`, `memory_mb: Int`,
//!   `swap_mb: Int`
//! - `ostemplate: Str | Ref(file#volid)` (a `vztmpl` volume id) and
//!   `ostemplate_file?: Str` (the file's address, for the diff)
//! - `rootfs: Map{storage: Str, size_gb: Int}`, `mountpoints?: [Map{slot:
//!   "mp0", storage: Str, size_gb: Int, path: Str}]`
//! - `nics: [Map{slot: "net0", name: "eth0", bridge: Str, tag?: Int, ip?:
//!   Str ("dhcp" or CIDR), gw?: Str, firewall?: Bool}]`
//! - `unprivileged: Bool`, `features?: Map{nesting?: Bool, keyctl?: Bool}`
//! - `password?: Secret`, `ssh_keys?: [Str]` (create-time only)
//! - `onboot: Bool`, `started: Bool`, `tags?`, `notes?`, `pool?`

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

/// The kinds the provider applies.
pub const MANAGED: &[&str] = &[STORAGE, FILE, TEMPLATE, VM, CT, POOL];

/// Smallest and largest VMID Proxmox accepts.
pub const VMID_RANGE: std::ops::RangeInclusive<i64> = 100..=999_999_999;

/// Content types Proxmox storages know.
pub const CONTENT_TYPES: &[&str] = &[
    "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import",
];
