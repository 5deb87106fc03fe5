//! lab-proxmox's notes ([`lab_core::notes`]): every VM and container is a
//! subject (it gets a note, and its short form in its `notes` field, which
//! the provider writes into the guest's `description` above the ownership
//! line, so the web UI shows it and a hand edit is drift). The sections
//! lab-proxmox knows: where the guest runs and with what (node, VMID,
//! cores, memory, disks and mount points with storage and size), and its
//! data on NAS-pool-backed storages (the pool and the appliance it lives
//! on).
//!
//! Changing a guest's notes is an in-place config update: it never
//! restarts the guest.

use indexmap::IndexMap;
use lab_core::notes::{order, show_value, NoteLine, NoteSection, NoteSet, NoteSource};
use lab_core::{Address, Lab, ResourceSpec, Value};

use crate::kinds;

/// lab-proxmox's note set, on every guest's spec.
pub const NOTES: NoteSet = NoteSet {
    name: "proxmox",
    read: |lab| Box::new(ProxmoxNotes::read(lab)),
    short_field: Some("notes"),
};

/// One volume of a guest: a disk, a root filesystem, a mount point.
struct Volume {
    slot: String,
    storage: String,
    size: String,
    path: Option<String>,
}

/// A storage backed by a NAS pool: the pool's address and its appliance.
struct PoolBacking {
    pool: Address,
    appliance: Option<String>,
}

/// The lab as lab-proxmox's notes read it.
struct ProxmoxNotes<'a> {
    lab: &'a Lab,
    /// Storage id -> the NAS pool behind it.
    nas: IndexMap<String, PoolBacking>,
}

impl<'a> ProxmoxNotes<'a> {
    fn read(lab: &'a Lab) -> Self {
        let mut nas = IndexMap::new();
        for spec in lab.resources().filter(|s| s.kind() == kinds::STORAGE) {
            let (Some(id), Some(pool)) = (
                text(spec, "storage"),
                text(spec, "pool").and_then(|p| Address::parse(&p)),
            ) else {
                continue;
            };
            let appliance = lab.resource(&pool).and_then(|p| text(p, "appliance"));
            nas.insert(id, PoolBacking { pool, appliance });
        }
        ProxmoxNotes { lab, nas }
    }

    fn guest(&self, subject: &Address) -> Option<&'a ResourceSpec> {
        self.lab
            .resource(subject)
            .filter(|s| s.kind() == kinds::VM || s.kind() == kinds::CT)
    }
}

fn text(spec: &ResourceSpec, field: &str) -> Option<String> {
    spec.attrs
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn shown(spec: &ResourceSpec, field: &str) -> Option<String> {
    spec.attrs.get(field).map(show_value)
}

fn volume(v: &Value, slot: Option<&str>) -> Option<Volume> {
    Some(Volume {
        slot: slot
            .map(str::to_string)
            .or_else(|| v.get("slot").map(show_value))?,
        storage: v.get("storage").map(show_value)?,
        size: v.get("size_gb").map_or_else(
            || "the template's size".into(),
            |s| format!("{} GiB", show_value(s)),
        ),
        path: v.get("path").map(show_value),
    })
}

/// A guest's volumes: a VM's disks, a container's root filesystem and
/// mount points.
fn volumes(spec: &ResourceSpec) -> Vec<Volume> {
    let mut out = Vec::new();
    if let Some(rootfs) = spec.attrs.get("rootfs") {
        out.extend(volume(rootfs, Some("rootfs")));
    }
    for field in ["disks", "mountpoints"] {
        for v in spec
            .attrs
            .get(field)
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            out.extend(volume(v, None));
        }
    }
    out
}

fn what(spec: &ResourceSpec) -> &'static str {
    if spec.kind() == kinds::VM {
        "a QEMU VM"
    } else {
        "an LXC container"
    }
}

impl NoteSource for ProxmoxNotes<'_> {
    fn subjects(&self) -> Vec<Address> {
        self.lab
            .resources()
            .filter(|s| s.kind() == kinds::VM || s.kind() == kinds::CT)
            .map(|s| s.address.clone())
            .collect()
    }

    fn sections(&self, subject: &Address) -> Vec<NoteSection> {
        let Some(spec) = self.guest(subject) else {
            return Vec::new();
        };
        let mut body = format!(
            "{} on the node `{}`",
            what(spec),
            text(spec, "node").unwrap_or_default()
        );
        match shown(spec, "vmid") {
            Some(vmid) => body.push_str(&format!(", VMID {vmid}.\n\n")),
            None => {
                body.push_str(", its VMID given by Proxmox at create (`state show` names it).\n\n")
            }
        }
        if let Some(from) = text(spec, "clone_from") {
            body.push_str(&format!("- cloned from `{from}`\n"));
        }
        // The template file's address reads better than its volume id,
        // an output known only after the download.
        match (text(spec, "ostemplate_file"), shown(spec, "ostemplate")) {
            (Some(file), _) => body.push_str(&format!("- from the template file `{file}`\n")),
            (None, Some(volid)) => body.push_str(&format!("- from the template `{volid}`\n")),
            (None, None) => {}
        }
        if let Some(image) = text(spec, "entrypoint") {
            body.push_str(&format!("- entrypoint `{image}`\n"));
        }
        body.push_str(&format!(
            "- {} core(s), {} MiB of memory\n",
            shown(spec, "cores").unwrap_or_else(|| "1".into()),
            shown(spec, "memory_mb").unwrap_or_default()
        ));
        for v in volumes(spec) {
            body.push_str(&format!("- `{}`: {} on `{}`", v.slot, v.size, v.storage));
            if let Some(path) = &v.path {
                body.push_str(&format!(", mounted at `{path}`"));
            }
            body.push('\n');
        }
        if let Some(pool) = text(spec, "pool") {
            body.push_str(&format!("- in the Proxmox pool `{pool}`\n"));
        }
        let mut sections = vec![NoteSection::new("Where it runs", body, order::PLACEMENT)];
        let on_nas: Vec<String> = volumes(spec)
            .iter()
            .filter_map(|v| {
                let b = self.nas.get(&v.storage)?;
                Some(format!(
                    "- `{}` ({}) is on the storage `{}`, on the NAS pool `{}`{}\n",
                    v.slot,
                    v.size,
                    v.storage,
                    b.pool,
                    b.appliance
                        .as_deref()
                        .map(|a| format!(" of the appliance `{a}`"))
                        .unwrap_or_default()
                ))
            })
            .collect();
        if !on_nas.is_empty() {
            sections.push(NoteSection::new(
                "Data",
                format!(
                    "Volumes on a NAS pool: the pool's appliance failing takes them.\n\n{}",
                    on_nas.concat()
                ),
                order::DATA,
            ));
        }
        sections
    }

    fn lines(&self, subject: &Address) -> Vec<NoteLine> {
        let Some(spec) = self.guest(subject) else {
            return Vec::new();
        };
        vec![NoteLine::new(
            "node",
            text(spec, "node").unwrap_or_default(),
            order::PLACEMENT,
        )]
    }
}
