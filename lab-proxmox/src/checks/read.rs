//! Reading the attributes the builders lowered (see [`crate::kinds`]):
//! typed views shared by the offline rules and the plan-time world checks.

use indexmap::IndexMap;
use lab_core::{Address, Lab, Loc, ResourceSpec, Value};

use crate::kinds;

pub(super) type Map = IndexMap<String, Value>;

pub(super) fn text<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a str> {
    spec.attrs.get(key).and_then(Value::as_str)
}

pub(super) fn int(spec: &ResourceSpec, key: &str) -> Option<i64> {
    spec.attrs.get(key).and_then(Value::as_i64)
}

pub(super) fn strs<'a>(spec: &'a ResourceSpec, key: &str) -> Vec<&'a str> {
    match spec.attrs.get(key) {
        Some(Value::List(l)) => l.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

pub(super) fn map<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a Map> {
    match spec.attrs.get(key) {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    }
}

pub(super) fn maps<'a>(spec: &'a ResourceSpec, key: &str) -> Vec<&'a Map> {
    match spec.attrs.get(key) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| match v {
                Value::Map(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The provider instance (cluster) a resource is applied by: its name, or
/// `None` for model-only resources and unbound ones (the engine's binding
/// check reports those). Two clusters may both use VMID 100.
pub(super) fn cluster_of<'a>(lab: &'a Lab, spec: &ResourceSpec) -> Option<&'a str> {
    lab.provider_of(spec).ok().map(|i| i.name.as_str())
}

pub(super) fn field<'a>(m: &'a Map, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

pub(super) fn by_address<'a>(lab: &'a Lab, address: &str) -> Option<&'a ResourceSpec> {
    lab.resource(&Address::parse(address)?)
}

pub(super) fn node<'a>(lab: &'a Lab, name: &str) -> Option<&'a ResourceSpec> {
    lab.resource(&Address::new(kinds::NODE, name))
}

pub(super) fn storage<'a>(lab: &'a Lab, id: &str) -> Option<&'a ResourceSpec> {
    lab.resource(&Address::new(kinds::STORAGE, id))
}

pub(super) fn of_kinds<'a>(
    lab: &'a Lab,
    wanted: &'a [&str],
) -> impl Iterator<Item = &'a ResourceSpec> {
    lab.resources().filter(move |s| wanted.contains(&s.kind()))
}

pub(super) const GUESTS: &[&str] = &[kinds::VM, kinds::CT];
pub(super) const WITH_VMID: &[&str] = &[kinds::VM, kinds::CT, kinds::TEMPLATE];

/// One place a resource puts data on a storage.
pub(super) struct StorageUse<'a> {
    /// What it is, for messages: "disk scsi0".
    pub what: String,
    /// The storage id.
    pub storage: &'a str,
    /// The content type the storage must allow.
    pub needs: &'a str,
    /// Where the user put it there.
    pub loc: Loc,
    /// The disk's key in the lowered attributes (`disks.scsi0`,
    /// `rootfs`, `disk_gb`), to find its size before and after a change.
    pub key: String,
    /// The space it takes, in GiB, when the code says (a clone's disk
    /// without a size takes the template's, which the code does not say).
    pub size_gb: Option<i64>,
}

/// The items of list `key` (`disks`, `mountpoints`) as storage uses.
pub(super) fn list_uses<'a>(
    spec: &'a ResourceSpec,
    key: &str,
    what: &str,
    needs: &'a str,
    out: &mut Vec<StorageUse<'a>>,
) {
    for m in maps(spec, key) {
        let (Some(slot), Some(id)) = (field(m, "slot"), field(m, "storage")) else {
            continue;
        };
        out.push(StorageUse {
            what: format!("{what} {slot}"),
            storage: id,
            needs,
            loc: spec.loc_of(&format!("{key}.{slot}")),
            key: format!("{key}.{slot}"),
            size_gb: m.get("size_gb").and_then(Value::as_i64),
        });
    }
}

/// Every place `spec` puts data on a storage.
pub(super) fn storage_uses(spec: &ResourceSpec) -> Vec<StorageUse<'_>> {
    let mut out = Vec::new();
    match spec.kind() {
        kinds::VM => {
            list_uses(spec, "disks", "disk", "images", &mut out);
            if let Some(id) = map(spec, "cloud_init").and_then(|m| field(m, "storage")) {
                out.push(StorageUse {
                    what: "the cloud-init drive".into(),
                    storage: id,
                    needs: "images",
                    loc: spec.loc_of("cloud_init"),
                    key: "cloud_init".into(),
                    size_gb: None,
                });
            }
        }
        kinds::CT => {
            if let Some(m) = map(spec, "rootfs") {
                if let Some(id) = field(m, "storage") {
                    out.push(StorageUse {
                        what: "the root filesystem".into(),
                        storage: id,
                        needs: "rootdir",
                        loc: spec.loc_of("rootfs"),
                        key: "rootfs".into(),
                        size_gb: m.get("size_gb").and_then(Value::as_i64),
                    });
                }
            }
            list_uses(spec, "mountpoints", "mount point", "rootdir", &mut out);
        }
        kinds::TEMPLATE if spec.managed => {
            if let Some(id) = text(spec, "storage") {
                out.push(StorageUse {
                    what: "the template's disk".into(),
                    storage: id,
                    needs: "images",
                    loc: spec.loc_of("storage"),
                    key: "disk_gb".into(),
                    size_gb: int(spec, "disk_gb"),
                });
            }
        }
        kinds::BACKUP_JOB => {
            if let Some(id) = text(spec, "storage") {
                out.push(StorageUse {
                    what: "the backup job's target".into(),
                    storage: id,
                    needs: "backup",
                    loc: spec.loc_of("storage"),
                    key: "storage".into(),
                    size_gb: None,
                });
            }
        }
        kinds::FILE => {
            if let (Some(id), Some(content)) = (text(spec, "storage"), text(spec, "content")) {
                out.push(StorageUse {
                    what: format!("the {content} file"),
                    storage: id,
                    needs: content,
                    loc: spec.loc_of("storage"),
                    key: "filename".into(),
                    size_gb: None,
                });
            }
        }
        _ => {}
    }
    out
}

pub(super) fn content_variant(content: &str) -> String {
    let mut c = content.chars();
    match c.next() {
        Some(first) => format!("Content::{}{}", first.to_ascii_uppercase(), c.as_str()),
        None => String::new(),
    }
}
