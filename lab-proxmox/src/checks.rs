//! The Proxmox checks: rules over the whole lab that catch, before any API
//! call, what Proxmox would refuse halfway through an apply (a VMID used
//! twice, a disk on a storage that cannot hold disks, a NIC on a bridge
//! the node does not have).
//!
//! Each rule reads the attributes the builders lowered (see
//! [`crate::kinds`]), follows storage ids and node names to the resources
//! that declare them, and reports a [`Diagnostic`] with the code
//! `proxmox::<rule>`, labels at the user's lines and a help line saying
//! what to write instead. Values a builder can judge on its own (a size
//! that does not parse, a slot out of range) are not here: they are
//! reported by `core::invalid-value` at the line that gave them.
//!
//! The provider registers these through `Provider::checks`; a lab without
//! the provider (a test) can call [`register`].
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_proxmox::model::*;
//!
//! let mut lab = Lab::new("home");
//! lab_proxmox::checks::register(&mut lab);
//! let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
//! let iso = lab.add(Storage::existing("local").content(&[Content::Iso]));
//! lab.add(Vm::new("db", &pve1).disk("scsi0", &iso, "32G"));
//! let diags = lab.check();
//! assert!(diags.iter().any(|d| d.code == "proxmox::storage-content"));
//! ```

use indexmap::IndexMap;
use lab_core::{Address, Check, Diagnostic, Lab, Loc, ResourceSpec, Severity, Value};

use crate::kinds;

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
/// An NFS storage whose NAS pool does not say its server or export.
pub const NFS_EXPORT: &str = "proxmox::nfs-export";

/// Every Proxmox check.
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
        Check::new(NFS_EXPORT, Severity::Error, nfs_export),
    ]
}

/// Registers every Proxmox check on `lab` (the provider does this when it
/// is registered; use it in tests that have no provider).
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

// ---------------------------------------------------------------------------
// Reading lowered attributes
// ---------------------------------------------------------------------------

type Map = IndexMap<String, Value>;

fn text<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a str> {
    spec.attrs.get(key).and_then(Value::as_str)
}

fn int(spec: &ResourceSpec, key: &str) -> Option<i64> {
    spec.attrs.get(key).and_then(Value::as_i64)
}

fn strs<'a>(spec: &'a ResourceSpec, key: &str) -> Vec<&'a str> {
    match spec.attrs.get(key) {
        Some(Value::List(l)) => l.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn map<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a Map> {
    match spec.attrs.get(key) {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    }
}

fn maps<'a>(spec: &'a ResourceSpec, key: &str) -> Vec<&'a Map> {
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
fn cluster_of<'a>(lab: &'a Lab, spec: &ResourceSpec) -> Option<&'a str> {
    lab.provider_of(spec).ok().map(|i| i.name.as_str())
}

fn field<'a>(m: &'a Map, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

fn by_address<'a>(lab: &'a Lab, address: &str) -> Option<&'a ResourceSpec> {
    lab.resource(&Address::parse(address)?)
}

fn node<'a>(lab: &'a Lab, name: &str) -> Option<&'a ResourceSpec> {
    lab.resource(&Address::new(kinds::NODE, name))
}

fn storage<'a>(lab: &'a Lab, id: &str) -> Option<&'a ResourceSpec> {
    lab.resource(&Address::new(kinds::STORAGE, id))
}

fn of_kinds<'a>(lab: &'a Lab, wanted: &'a [&str]) -> impl Iterator<Item = &'a ResourceSpec> {
    lab.resources().filter(move |s| wanted.contains(&s.kind()))
}

const GUESTS: &[&str] = &[kinds::VM, kinds::CT];
const WITH_VMID: &[&str] = &[kinds::VM, kinds::CT, kinds::TEMPLATE];

/// One place a resource puts data on a storage.
struct StorageUse<'a> {
    /// What it is, for messages: "disk scsi0".
    what: String,
    storage: &'a str,
    /// The content type the storage must allow.
    needs: &'a str,
    loc: Loc,
}

/// The items of list `key` (`disks`, `mountpoints`) as storage uses.
fn list_uses<'a>(
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
        });
    }
}

fn storage_uses(spec: &ResourceSpec) -> Vec<StorageUse<'_>> {
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
                });
            }
        }
        kinds::CT => {
            if let Some(id) = map(spec, "rootfs").and_then(|m| field(m, "storage")) {
                out.push(StorageUse {
                    what: "the root filesystem".into(),
                    storage: id,
                    needs: "rootdir",
                    loc: spec.loc_of("rootfs"),
                });
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
                });
            }
        }
        _ => {}
    }
    out
}

fn content_variant(content: &str) -> String {
    let mut c = content.chars();
    match c.next() {
        Some(first) => format!("Content::{}{}", first.to_ascii_uppercase(), c.as_str()),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------

fn vmid_range(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in of_kinds(lab, WITH_VMID) {
        let Some(vmid) = int(spec, "vmid") else {
            continue;
        };
        if !kinds::VMID_RANGE.contains(&vmid) {
            out.push(
                Diagnostic::error(
                    VMID_RANGE,
                    format!(
                        "`{}` has VMID {vmid}; Proxmox accepts {} to {}",
                        spec.address,
                        kinds::VMID_RANGE.start(),
                        kinds::VMID_RANGE.end()
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.loc_of("vmid"), format!("VMID {vmid} given here"))
                .with_help(
                    "pick a VMID from 100 to 999999999, or leave .vmid(..) out to have one allocated",
                ),
            );
        }
    }
}

fn vmid_reused(lab: &Lab, out: &mut Vec<Diagnostic>) {
    // Per cluster: a VMID names one guest in its cluster only.
    let mut first: IndexMap<(Option<&str>, i64), &ResourceSpec> = IndexMap::new();
    for spec in of_kinds(lab, WITH_VMID) {
        let Some(vmid) = int(spec, "vmid") else {
            continue;
        };
        let key = (cluster_of(lab, spec), vmid);
        match first.get(&key) {
            None => {
                first.insert(key, spec);
            }
            Some(earlier) => out.push(
                Diagnostic::error(
                    VMID_REUSED,
                    format!(
                        "`{}` and `{}` both use VMID {vmid}",
                        spec.address, earlier.address
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.loc_of("vmid"), format!("VMID {vmid} used again here"))
                .with_label(
                    earlier.loc_of("vmid"),
                    format!("first used by `{}` here", earlier.address),
                )
                .with_help(
                    "a VMID names one guest or template in the cluster: give this one another, \
                     or leave .vmid(..) out to have one allocated",
                ),
            ),
        }
    }
}

fn zero_resources(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in of_kinds(lab, WITH_VMID).filter(|s| s.managed) {
        for (key, what, fix) in [
            ("cores", "zero CPU cores", ".cores(1)"),
            ("sockets", "zero CPU sockets", ".sockets(1)"),
            ("memory_mb", "zero memory", ".memory_mb(1024)"),
        ] {
            if int(spec, key) == Some(0) {
                out.push(
                    Diagnostic::error(ZERO_RESOURCES, format!("`{}` has {what}", spec.address))
                        .for_resource(&spec.address)
                        .with_label(spec.loc_of(key), format!("{key} = 0 here"))
                        .with_help(format!("give it at least one: {fix} or more")),
                );
            }
        }
    }
}

fn vlan_range(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in of_kinds(lab, GUESTS) {
        for nic in maps(spec, "nics") {
            let (Some(slot), Some(tag)) =
                (field(nic, "slot"), nic.get("tag").and_then(Value::as_i64))
            else {
                continue;
            };
            if !(1..=4094).contains(&tag) {
                out.push(
                    Diagnostic::error(
                        VLAN_RANGE,
                        format!(
                            "`{}`: NIC {slot} has VLAN tag {tag}; tags are 1 to 4094",
                            spec.address
                        ),
                    )
                    .for_resource(&spec.address)
                    .with_label(
                        spec.loc_of(&format!("nics.{slot}.tag")),
                        format!("VLAN {tag} given here"),
                    )
                    .with_help(
                        "give a VLAN id from 1 to 4094, or leave .vlan(..) out for untagged traffic",
                    ),
                );
            }
        }
    }
}

fn storage_content(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources() {
        for u in storage_uses(spec) {
            let Some(st) = storage(lab, u.storage) else {
                continue;
            };
            let content = strs(st, "content");
            if content.contains(&u.needs) {
                continue;
            }
            let allows = if content.is_empty() {
                format!("`{}` declares no content types", u.storage)
            } else {
                format!("`{}` allows {}", u.storage, content.join(", "))
            };
            out.push(
                Diagnostic::error(
                    STORAGE_CONTENT,
                    format!(
                        "`{}`: {} is on storage `{}`, which does not allow `{}` content",
                        spec.address, u.what, u.storage, u.needs
                    ),
                )
                .for_resource(&spec.address)
                .with_label(u.loc, format!("{} on `{}`", u.what, u.storage))
                .with_label(st.loc_of("content"), allows)
                .with_help(format!(
                    "put it on a storage that allows `{}`, or add {} to `{}`'s .content(..)",
                    u.needs,
                    content_variant(u.needs),
                    u.storage
                )),
            );
        }
    }
}

fn unknown_bridge(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in of_kinds(lab, GUESTS) {
        let Some(n) = text(spec, "node").and_then(|n| node(lab, n)) else {
            continue;
        };
        let bridges = strs(n, "bridges");
        for nic in maps(spec, "nics") {
            let (Some(slot), Some(bridge)) = (field(nic, "slot"), field(nic, "bridge")) else {
                continue;
            };
            if bridges.contains(&bridge) {
                continue;
            }
            let declared = if bridges.is_empty() {
                format!("`{}` declares no bridges", n.name())
            } else {
                format!("`{}` declares {}", n.name(), bridges.join(", "))
            };
            out.push(
                Diagnostic::error(
                    UNKNOWN_BRIDGE,
                    format!(
                        "`{}`: NIC {slot} is on bridge `{bridge}`, which node `{}` does not have",
                        spec.address,
                        n.name()
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.loc_of(&format!("nics.{slot}")), format!("`{bridge}` used here"))
                .with_label(n.loc_of("bridges"), declared)
                .with_help(format!(
                    "use one of the node's bridges, or declare it: Node::new(\"{}\").bridge(\"{bridge}\")",
                    n.name()
                )),
            );
        }
    }
}

fn storage_not_on_node(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources() {
        let Some(on) = text(spec, "node") else {
            continue;
        };
        for u in storage_uses(spec) {
            let Some(st) = storage(lab, u.storage) else {
                continue;
            };
            let nodes = strs(st, "nodes");
            if nodes.is_empty() || nodes.contains(&on) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    STORAGE_NOT_ON_NODE,
                    format!(
                        "`{}`: {} is on storage `{}`, which is not available on node `{on}`",
                        spec.address, u.what, u.storage
                    ),
                )
                .for_resource(&spec.address)
                .with_label(u.loc, format!("{} on `{}`", u.what, u.storage))
                .with_label(
                    st.loc_of("nodes"),
                    format!("`{}` is on {} only", u.storage, nodes.join(", ")),
                )
                .with_help(format!(
                    "use a storage available on `{on}` (or a shared one), or add .node(&{on}) to \
                     `{}` if it exists there",
                    u.storage
                )),
            );
        }
    }
}

fn file_content(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let rules: [(&str, &str, &str, &str, &str); 3] = [
        (
            kinds::CT,
            "ostemplate_file",
            "ostemplate",
            "vztmpl",
            "the OS template",
        ),
        (
            kinds::TEMPLATE,
            "image_file",
            "image",
            "import",
            "the cloud image",
        ),
        (kinds::VM, "cdrom_file", "cdrom", "iso", "the CD-ROM image"),
    ];
    for (kind, file_key, loc_key, wanted, what) in rules {
        for spec in lab.resources().filter(|s| s.kind() == kind) {
            let Some(file) = text(spec, file_key).and_then(|a| by_address(lab, a)) else {
                continue;
            };
            let Some(content) = text(file, "content") else {
                continue;
            };
            if content == wanted {
                continue;
            }
            out.push(
                Diagnostic::error(
                    FILE_CONTENT,
                    format!(
                        "`{}`: {what} `{}` was downloaded as `{content}`, not `{wanted}`",
                        spec.address, file.address
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.loc_of(loc_key), format!("{what} given here"))
                .with_label(
                    file.loc_of("content"),
                    format!("`{}` downloaded as `{content}`", file.name()),
                )
                .with_help(format!(
                    "download it as {}: File::download(name, &node, &storage, {}, url)",
                    content_variant(wanted),
                    content_variant(wanted)
                )),
            );
        }
    }
}

fn nfs_export(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources().filter(|s| s.kind() == kinds::STORAGE) {
        if text(spec, "type") != Some("nfs") {
            continue;
        }
        for key in ["server", "export"] {
            let Some(Value::Ref(r)) = spec.attrs.get(key) else {
                continue;
            };
            let Some(pool) = lab.resource(&r.address) else {
                continue;
            };
            if text(pool, &r.output).is_some() {
                continue;
            }
            out.push(
                Diagnostic::error(
                    NFS_EXPORT,
                    format!(
                        "NFS storage `{}` takes its {key} from NAS pool `{}`, which does not say it",
                        spec.name(),
                        pool.name()
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.loc_of(key), format!("{key} taken from `{}`", pool.name()))
                .with_label(pool.declared_at, "NAS pool declared here")
                .with_help(if key == "server" {
                    "add .server(\"10.0.0.5\") to the NAS pool (its address)"
                } else {
                    "add .export(\"/mnt/tank/pve\") to the NAS pool (the exported directory)"
                }),
            );
        }
    }
}
