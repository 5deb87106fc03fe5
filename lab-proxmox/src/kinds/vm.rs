//! `proxmox.vm`: a QEMU VM.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `node` | `Str` | forces replacement |
//! | `vmid` | `Int?` | absent: allocated at create, recorded as the `vmid` output and the state id; forces replacement |
//! | `name` | `Str` | the DNS name |
//! | `cores`, `sockets?`, `memory_mb`, `cpu?` | | |
//! | `clone_from?` | `Str` | the template's address; forces replacement |
//! | `clone_vmid?` | `Ref(template#vmid) \| Int` | used at create only; ignored by the diff |
//! | `clone_node?` | `Ref(template#node) \| Str` | the template's node: a clone of a template on another node is asked of that node with `target` (qemu-server loads the source's config where the call runs); absent: `node`; used at create only; ignored by the diff |
//! | `linked_clone?` | `Bool` | a linked clone (`full=0`: a thin copy of the template's base volumes, on the template's storage); absent or false: a full clone; used at create only; ignored by the diff |
//! | `disks` | `[{slot: "scsi0", storage, size_gb?, ssd?, discard?, iothread?}]` | growing is in place, shrinking or another storage replaces |
//! | `nics` | `[{slot: "net0", model: "virtio", bridge, tag?, firewall?}]` | the MAC is an output, never an attribute |
//! | `cloud_init?` | `{storage, user?, password?: Secret, ssh_keys?, ipconfig?, nameserver?, searchdomain?}` | `ipconfig` (`ip=10.0.0.5/24,gw=10.0.0.1`): index = NIC index |
//! | `agent`, `boot_order?: [Str]`, `onboot`, `started` | | `started`: running after apply |
//! | `cdrom?` | `Ref(file#volid) \| Str` | an `iso` volume in a CD-ROM drive (`ide2`, or the first free IDE slot when a cloned cloud-init drive holds `ide2`); swapped in place; dropping one the lab inserted ejects it |
//! | `cdrom_file?` | `Str` | the file's address, for the diff |
//! | `scsihw?`, `machine?`, `balloon?` | | updated in place, applied at the next boot where Proxmox cannot hot-plug them; `scsihw` absent: `virtio-scsi-single` without a clone, the template's on a clone |
//! | `tags?`, `notes?`, `pool?` | | tags sorted, without the ownership tag; notes without the marker line |
//!
//! Outputs ([`GuestOutputs`]): `vmid`, `node`, `macs` (slot -> MAC), and
//! `imported` only on a guest `lab import` bound that carries no ownership
//! tag yet.

use indexmap::IndexMap;
use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

/// The spec of a `proxmox.vm`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSpec {
    /// The node it runs on.
    pub node: String,
    /// The VMID given in code.
    pub vmid: Option<i64>,
    /// The guest's name (absent only when Proxmox reports none).
    pub name: Option<String>,
    /// CPU cores per socket.
    pub cores: i64,
    /// CPU sockets.
    pub sockets: Option<i64>,
    /// Memory in MiB.
    pub memory_mb: i64,
    /// CPU type.
    pub cpu: Option<String>,
    /// The template's address it is cloned from.
    pub clone_from: Option<String>,
    /// The template's VMID (create only).
    pub clone_vmid: Option<i64>,
    /// The template's node, when it is not `node` (create only).
    pub clone_node: Option<String>,
    /// A linked clone of the template rather than a full one (create only).
    pub linked_clone: Option<bool>,
    /// The SCSI controller.
    pub scsihw: Option<String>,
    /// The machine type.
    pub machine: Option<String>,
    /// Balloon target in MiB (`0`: no balloon device).
    pub balloon: Option<i64>,
    /// Disks, by slot.
    #[serde(default)]
    pub disks: Vec<VmDisk>,
    /// The `iso` volume in the CD-ROM drive.
    pub cdrom: Option<String>,
    /// The address of the file the CD-ROM came from.
    pub cdrom_file: Option<String>,
    /// NICs, by slot.
    #[serde(default)]
    pub nics: Vec<VmNic>,
    /// Cloud-init settings.
    pub cloud_init: Option<CloudInit>,
    /// QEMU guest agent enabled.
    pub agent: bool,
    /// Boot order (`["scsi0", "net0"]`).
    pub boot_order: Option<Vec<String>>,
    /// Start at boot.
    pub onboot: bool,
    /// Running after apply.
    pub started: bool,
    /// Tags (sorted, without the ownership tag).
    pub tags: Option<Vec<String>>,
    /// Notes (without the marker line).
    pub notes: Option<String>,
    /// The pool id.
    pub pool: Option<String>,
}

/// One disk of a VM: a `scsiN`/`virtioN`/`sataN`/`ideN` config entry such
/// as `local-lvm:32,ssd=1,discard=on,iothread=1`, as the builder
/// ([`crate::model::Vm::disk`]) writes it and as a refresh reads it back
/// (cloud-init drives and CD-ROMs are kept apart, so they never show as a
/// disk change).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmDisk {
    /// `scsi0`, `virtio1`, ...
    pub slot: String,
    /// Storage id.
    pub storage: String,
    /// Size in GiB (absent on a clone: the template's).
    pub size_gb: Option<i64>,
    /// Emulate an SSD.
    pub ssd: Option<bool>,
    /// Pass discards.
    pub discard: Option<bool>,
    /// IO thread.
    pub iothread: Option<bool>,
}

/// One network device of a VM: a `netN` config entry such as
/// `virtio,bridge=vmbr0,tag=20,firewall=1`. The MAC address Proxmox
/// generates is not part of it (it goes to the outputs), so a NIC the code
/// did not change never shows as a change.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmNic {
    /// `net0`, ...
    pub slot: String,
    /// NIC model (`virtio`).
    pub model: Option<String>,
    /// Bridge.
    pub bridge: Option<String>,
    /// VLAN tag.
    pub tag: Option<i64>,
    /// Proxmox firewall on the NIC.
    pub firewall: Option<bool>,
}

/// A VM's cloud-init settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudInit {
    /// Storage of the cloud-init drive.
    pub storage: String,
    /// Default user.
    pub user: Option<String>,
    /// Its password.
    pub password: Option<Secret>,
    /// Authorised SSH keys.
    pub ssh_keys: Option<Vec<String>>,
    /// `ipconfigN` values, by NIC index.
    pub ipconfig: Option<Vec<String>>,
    /// DNS server.
    pub nameserver: Option<String>,
    /// DNS search domain.
    pub searchdomain: Option<String>,
}

/// The outputs of a guest (VM, container or template).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GuestOutputs {
    /// Its VMID.
    pub vmid: i64,
    /// The node it is on.
    pub node: String,
    /// MAC per NIC slot.
    #[serde(default)]
    pub macs: IndexMap<String, String>,
    /// The guest was imported (`lab import`) and carries no ownership tag
    /// yet: the refresh takes it by its VMID alone. The first update
    /// stamps the tag and the marker line, and this goes back to false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

impl Kind for VmSpec {
    const KIND: &'static str = super::VM;
    type Outputs = GuestOutputs;

    /// A VMID given in code names one guest in the cluster: a replacement
    /// with the same one cannot be made beside the old guest.
    fn identity(&self) -> Option<String> {
        self.vmid.map(|v| format!("VMID {v}"))
    }
}
