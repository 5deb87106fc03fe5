//! `proxmox.template`: a VM template made from a cloud image.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `node`, `vmid?` | | force replacement |
//! | `name` | `Str` | |
//! | `image` | `Ref(file#volid)` | the `import` volume; forces replacement; not reported back |
//! | `image_file` | `Str` | the file's address; forces replacement; not reported back |
//! | `storage` | `Str` | of its disk; forces replacement |
//! | `disk_gb?` | `Int` | forces replacement |
//! | `cores`, `memory_mb` | `Int` | force replacement |
//! | `tags?`, `notes?`, `pool?` | | in place |
//!
//! Read back like a VM: the other [`super::VmSpec`] fields its config holds
//! (`disks`, `nics`, `agent`, ...) are recorded too, and not compared
//! unless the code sets them. An existing template (model only) has `node`
//! and `vmid` alone.
//!
//! Outputs ([`super::GuestOutputs`]): `vmid`, `node`, `macs`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::{CloudInit, GuestOutputs, VmDisk, VmNic};

/// The spec of a `proxmox.template`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// The node it is on.
    pub node: String,
    /// The VMID given in code.
    pub vmid: Option<i64>,
    /// Its name.
    pub name: Option<String>,
    /// CPU cores.
    pub cores: i64,
    /// Memory in MiB.
    pub memory_mb: i64,
    /// The `import` volume of the cloud image.
    pub image: Option<String>,
    /// The address of that file.
    pub image_file: Option<String>,
    /// The storage of its disk.
    pub storage: Option<String>,
    /// Its disk's size in GiB.
    pub disk_gb: Option<i64>,
    /// Tags (sorted, without the ownership tag).
    pub tags: Option<Vec<String>>,
    /// Notes (without the marker line).
    pub notes: Option<String>,
    /// The pool id.
    pub pool: Option<String>,
    /// Read back: CPU sockets.
    pub sockets: Option<i64>,
    /// Read back: CPU type.
    pub cpu: Option<String>,
    /// Read back: SCSI controller.
    pub scsihw: Option<String>,
    /// Read back: machine type.
    pub machine: Option<String>,
    /// Read back: balloon target.
    pub balloon: Option<i64>,
    /// Read back: its disks.
    pub disks: Option<Vec<VmDisk>>,
    /// Read back: the disc in its CD-ROM drive.
    pub cdrom: Option<String>,
    /// Read back: its NICs.
    pub nics: Option<Vec<VmNic>>,
    /// Read back: its cloud-init drive and settings.
    pub cloud_init: Option<CloudInit>,
    /// Read back: guest agent.
    pub agent: Option<bool>,
    /// Read back: boot order.
    pub boot_order: Option<Vec<String>>,
    /// Read back: start at boot.
    pub onboot: Option<bool>,
    /// Read back: running (a template never is).
    pub started: Option<bool>,
}

impl Kind for TemplateSpec {
    const KIND: &'static str = super::TEMPLATE;
    type Outputs = GuestOutputs;

    /// A VMID given in code names one guest in the cluster: a replacement
    /// with the same one cannot be made beside the old guest.
    fn identity(&self) -> Option<String> {
        self.vmid.map(|v| format!("VMID {v}"))
    }
}
