//! The offline rules: what the code alone shows Proxmox would refuse.

use indexmap::IndexMap;
use lab_core::{Diagnostic, Lab, ResourceSpec, Value};

use super::read::*;
use super::*;
use crate::kinds;

pub(super) fn vmid_range(lab: &Lab, out: &mut Vec<Diagnostic>) {
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

pub(super) fn vmid_reused(lab: &Lab, out: &mut Vec<Diagnostic>) {
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

pub(super) fn zero_resources(lab: &Lab, out: &mut Vec<Diagnostic>) {
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

pub(super) fn vlan_range(lab: &Lab, out: &mut Vec<Diagnostic>) {
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

pub(super) fn storage_content(lab: &Lab, out: &mut Vec<Diagnostic>) {
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

pub(super) fn unknown_bridge(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in of_kinds(lab, GUESTS) {
        let Some(n) = text(spec, "node").and_then(|n| node(lab, n)) else {
            continue;
        };
        let bridges = strs(n, "bridges");
        for nic in maps(spec, "nics") {
            let (Some(slot), Some(bridge)) = (field(nic, "slot"), field(nic, "bridge")) else {
                continue;
            };
            if bridges.contains(&bridge) || super::sdn::vnet_spans(lab, bridge, n.name()) {
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

pub(super) fn storage_not_on_node(lab: &Lab, out: &mut Vec<Diagnostic>) {
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

pub(super) fn file_on_other_node(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let uses = [
        (
            kinds::CT,
            "ostemplate_file",
            "ostemplate",
            "the OS template",
        ),
        (kinds::TEMPLATE, "image_file", "image", "the cloud image"),
        (kinds::VM, "cdrom_file", "cdrom", "the CD-ROM image"),
    ];
    for (kind, file_key, loc_key, what) in uses {
        for spec in lab.resources().filter(|s| s.kind() == kind) {
            let Some(file) = text(spec, file_key).and_then(|a| by_address(lab, a)) else {
                continue;
            };
            let (Some(on), Some(file_node), Some(store)) = (
                text(spec, "node"),
                text(file, "node"),
                text(file, "storage"),
            ) else {
                continue;
            };
            let local = storage(lab, store)
                .is_some_and(|s| s.attrs.get("shared") == Some(&lab_core::Value::Bool(false)));
            if on == file_node || !local {
                continue;
            }
            out.push(
                Diagnostic::error(
                    FILE_NODE,
                    format!(
                        "`{}` runs on `{on}`, but {what} `{}` is on `{store}` of `{file_node}`, a storage each node has on its own disk",
                        spec.address, file.address
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.loc_of(loc_key), format!("{what} given here"))
                .with_label(file.declared_at, format!("downloaded to `{file_node}`"))
                .with_help(format!(
                    "download it on `{on}` too (File::download(.., &{on}, ..)) and use that one, or download it to a shared storage (NFS)"
                )),
            );
        }
    }
}

pub(super) fn file_content(lab: &Lab, out: &mut Vec<Diagnostic>) {
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

pub(super) fn nfs_export(lab: &Lab, out: &mut Vec<Diagnostic>) {
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

pub(super) fn duplicate_volume(lab: &Lab, out: &mut Vec<Diagnostic>) {
    // Per cluster and node: a local storage is one per node.
    let mut first: IndexMap<(Option<&str>, &str, String), &ResourceSpec> = IndexMap::new();
    for spec in lab.resources().filter(|s| s.kind() == kinds::FILE) {
        let (Some(on), Some(id), Some(content), Some(name)) = (
            text(spec, "node"),
            text(spec, "storage"),
            text(spec, "content"),
            text(spec, "filename"),
        ) else {
            continue;
        };
        let volid = format!("{id}:{content}/{name}");
        let key = (cluster_of(lab, spec), on, volid.clone());
        match first.get(&key) {
            None => {
                first.insert(key, spec);
            }
            Some(earlier) => out.push(
                Diagnostic::error(
                    DUPLICATE_VOLUME,
                    format!(
                        "`{}` and `{}` are both `{volid}` on `{on}`: one volume, downloaded twice",
                        spec.address, earlier.address
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.loc_of("filename"), format!("`{volid}` again here"))
                .with_label(earlier.loc_of("filename"), format!("first `{volid}` here"))
                .with_help(
                    "keep one of them and use its handle in both places, or store the second \
                     under another name: .filename(\"other.iso\")",
                ),
            ),
        }
    }
}
