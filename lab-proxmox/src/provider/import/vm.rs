//! VMs: `Vm::new` with every setting the config holds (CPU, memory,
//! controller, machine, balloon, disks, virtio NICs, cloud-init, agent,
//! boot order, power, tags, notes, pool), bound by VMID. A CD-ROM, another
//! NIC model, a disk under 1 GiB, or ipconfig entries that skip a NIC are
//! findings; a boot order naming what lab does not model (the web
//! interface's empty CD-ROM drive) is left out, and the code says so. A linked clone (its disks
//! thin copies of a template's base volumes) says which template; a full
//! clone keeps no trace of one, so its code declares its disks alone.

use lab_core::import::ImportBlock;
use lab_core::Address;

use super::guest::{bound, guest_name, storage_var, tail};
use super::{lit, lit_list, Chain, Names, World};
use crate::api::ClusterResource;
use crate::kinds;
use crate::provider::normalize::{self, Readback, VmKept};

/// The template a linked clone's disks are thin copies of: a disk volume
/// `base-<template vmid>-disk-<n>/vm-<vmid>-disk-<m>` names it.
fn linked_template(config: &serde_json::Map<String, serde_json::Value>) -> Option<i64> {
    normalize::sorted_keys(config, normalize::is_disk_slot)
        .into_iter()
        .filter_map(|k| normalize::text(config, k))
        .find_map(|raw| {
            let volume = raw.split(',').next()?.split(':').nth(1)?;
            let (base, _) = volume.split_once('/')?;
            base.strip_prefix("base-")?.split('-').next()?.parse().ok()
        })
}

pub(super) fn import(
    rb: &Readback<'_>,
    r: &ClusterResource,
    world: &World,
    node_var: &str,
    names: &mut Names,
    used: &mut std::collections::BTreeSet<Address>,
) -> Result<ImportBlock, String> {
    // A linked clone names its template (a full clone keeps no trace of
    // one): the code says `.linked_clone_from(..)`, the state what the
    // refresh keeps from the code.
    let template = linked_template(rb.config).and_then(|tid| {
        let (var, address) = names.guests.get(&tid)?;
        let t = world.guests.iter().find(|g| g.vmid == Some(tid as u64))?;
        (address.kind() == kinds::TEMPLATE)
            .then(|| (tid, var.clone(), address.clone(), t.node.clone()))
    });
    let kept = VmKept {
        vmid: true,
        clone_from: template.as_ref().map(|t| t.2.to_string()),
        clone_vmid: template.as_ref().map(|t| t.0),
        clone_node: template.as_ref().and_then(|t| t.3.clone()),
        linked_clone: template.as_ref().map(|_| true),
        ..VmKept::default()
    };
    let (spec, outputs) = normalize::vm(rb, kept);
    let vmid = rb.vmid;
    let Some(pve_name) = spec.name.clone() else {
        return Err("it has no name".into());
    };
    if spec.cdrom.is_some() {
        return Err("a disc in its CD-ROM drive (lab inserts only files it downloads)".into());
    }
    let name = guest_name(kinds::VM, Some(&pve_name), vmid, used);
    let mut c = Chain::new(format!("Vm::new({}, &{node_var})", lit(&name)));
    c.call(format!("vmid({vmid})"));
    if name != pve_name {
        c.call(format!("hostname({})", lit(&pve_name)));
    }
    if let Some((_, var, _, _)) = &template {
        c.call(format!("linked_clone_from(&{var})"));
    }
    c.call(format!("cores({})", spec.cores));
    if let Some(s) = spec.sockets {
        c.call(format!("sockets({s})"));
    }
    c.call(format!("memory_mb({})", spec.memory_mb));
    if let Some(cpu) = &spec.cpu {
        c.call(format!("cpu({})", lit(cpu)));
    }
    if let Some(h) = &spec.scsihw {
        c.call(format!("scsi_controller({})", lit(h)));
    }
    if let Some(m) = &spec.machine {
        c.call(format!("machine({})", lit(m)));
    }
    if let Some(b) = spec.balloon {
        c.call(format!("balloon_mb({b})"));
    }
    for d in &spec.disks {
        let size = d.size_gb.filter(|s| *s > 0).ok_or_else(|| {
            format!(
                "disk {} is smaller than 1 GiB (lab sizes disks in whole GiB)",
                d.slot
            )
        })?;
        let s = storage_var(names, &d.storage)?;
        c.call(format!("disk({}, &{s}, \"{size}G\")", lit(&d.slot)));
        for (f, v) in [
            ("ssd", d.ssd),
            ("discard", d.discard),
            ("iothread", d.iothread),
        ] {
            if let Some(v) = v {
                c.call(format!("{f}({v})"));
            }
        }
    }
    for n in &spec.nics {
        if n.model.as_deref() != Some("virtio") {
            return Err(format!(
                "NIC {} is `{}` (lab's VM NICs are virtio)",
                n.slot,
                n.model.as_deref().unwrap_or("NIC of no model")
            ));
        }
        let bridge = n
            .bridge
            .as_deref()
            .ok_or_else(|| format!("NIC {} has no bridge", n.slot))?;
        c.call(format!("nic({}, {})", lit(&n.slot), lit(bridge)));
        if let Some(t) = n.tag {
            c.call(format!("vlan({t})"));
        }
        if let Some(f) = n.firewall {
            c.call(format!("firewall({f})"));
        }
    }
    if let Some(ci) = &spec.cloud_init {
        let s = storage_var(names, &ci.storage)?;
        let mut code = format!("CloudInit::new(&{s})");
        if let Some(u) = &ci.user {
            code.push_str(&format!(".user({})", lit(u)));
        }
        for k in ci.ssh_keys.iter().flatten() {
            code.push_str(&format!(".ssh_key({})", lit(k)));
        }
        for (i, ip) in ci.ipconfig.iter().flatten().enumerate() {
            if rb.config.get(&format!("ipconfig{i}")).is_none() {
                return Err("its cloud-init ipconfig entries skip a NIC index".into());
            }
            code.push_str(&format!(".ipconfig({})", lit(ip)));
        }
        if let Some(ns) = &ci.nameserver {
            code.push_str(&format!(".nameserver({})", lit(ns)));
        }
        if let Some(sd) = &ci.searchdomain {
            code.push_str(&format!(".searchdomain({})", lit(sd)));
        }
        c.call(format!("cloud_init({code})"));
    }
    c.call(format!("agent({})", spec.agent));
    // A boot order naming what lab does not model (the empty CD-ROM drive
    // the web interface adds, `ide2`) is left to Proxmox: without
    // `.boot_order(..)` lab neither compares nor writes it.
    let mut note = None;
    if let Some(order) = &spec.boot_order {
        let known = |e: &String| {
            spec.disks.iter().any(|d| &d.slot == e) || spec.nics.iter().any(|n| &n.slot == e)
        };
        match order.iter().find(|e| !known(e)) {
            None => {
                c.call(format!("boot_order({})", lit_list(order)));
            }
            Some(e) => {
                note = Some(format!(
                    "Its boot order `{}` names `{e}` (an empty CD-ROM drive or another device lab does not model): left to Proxmox.",
                    order.join(";")
                ));
            }
        }
    }
    tail(
        &mut c,
        spec.onboot,
        spec.started,
        &spec.tags,
        &spec.notes,
        &spec.pool,
        names,
    )?;
    let mut block = bound(kinds::VM, &name, vmid, &spec, outputs, c, names, r)?;
    block.comment = note;
    // What a later destroy must leave until this VM is gone.
    let storages = spec
        .disks
        .iter()
        .map(|d| d.storage.as_str())
        .chain(spec.cloud_init.iter().map(|c| c.storage.as_str()));
    super::guest::depend_on_storages(&mut block, storages);
    if let (Some(state), Some((_, _, template, _))) = (block.state.as_mut(), &template) {
        state.deps.push(template.clone());
    }
    Ok(block)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::json;

    use super::super::{Names, World};
    use crate::api::ClusterResource;
    use crate::provider::normalize::Readback;

    fn resource(vmid: u64) -> ClusterResource {
        serde_json::from_value(json!({"id": format!("qemu/{vmid}"), "type": "qemu",
            "node": "pve1", "vmid": vmid}))
        .unwrap()
    }

    fn import(config: serde_json::Value) -> Result<lab_core::import::ImportBlock, String> {
        let config = config.as_object().unwrap().clone();
        let rb = Readback {
            config: &config,
            node: "pve1",
            vmid: 120,
            running: true,
            ownership_tag: "",
            pool: None,
        };
        let world = World {
            nodes: BTreeMap::new(),
            storages: Vec::new(),
            pools: Vec::new(),
            guests: Vec::new(),
            jobs: Vec::new(),
            vztmpls: BTreeSet::new(),
        };
        let mut names = Names::default();
        names
            .storages
            .insert("local-lvm".into(), "storage_local_lvm".into());
        super::import(
            &rb,
            &resource(120),
            &world,
            "node_pve1",
            &mut names,
            &mut BTreeSet::new(),
        )
    }

    #[test]
    fn a_linked_clone_names_its_template_by_its_base_volume() {
        let config = json!({"scsi0": "local-lvm:base-9000-disk-0/vm-103-disk-0,size=8G"});
        assert_eq!(
            super::linked_template(config.as_object().unwrap()),
            Some(9000)
        );
        let full = json!({"scsi0": "local-lvm:vm-103-disk-0,size=8G"});
        assert_eq!(super::linked_template(full.as_object().unwrap()), None);
    }

    #[test]
    fn what_the_builders_cannot_say_is_a_finding_never_code() {
        let disc = import(json!({"name": "iso", "memory": "1024",
            "scsi0": "local-lvm:vm-120-disk-0,size=8G",
            "ide2": "local:iso/debian.iso,media=cdrom"}));
        assert!(disc.unwrap_err().contains("CD-ROM"));
        let storage = import(json!({"name": "far", "memory": "1024",
            "scsi0": "tank2:vm-120-disk-0,size=8G"}));
        assert!(storage.unwrap_err().contains("tank2"));
        let ok = import(json!({"name": "web.lan", "memory": "2048", "cores": "2",
            "scsi0": "local-lvm:vm-120-disk-0,size=16G,iothread=1",
            "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
            "description": "Hello"}))
        .unwrap();
        for call in [
            "Vm::new(\"web-lan\", &node_pve1)",
            ".hostname(\"web.lan\")",
            ".disk(\"scsi0\", &storage_local_lvm, \"16G\")",
            ".iothread(true)",
            ".nic(\"net0\", \"vmbr0\")",
            ".notes(\"Hello\")",
            ".provider({provider})",
        ] {
            assert!(ok.code.contains(call), "{call} in {}", ok.code);
        }
        let state = ok.state.unwrap();
        assert_eq!(state.id, "120");
        assert_eq!(state.outputs["imported"], lab_core::Value::Bool(true));
        assert!(!state.attrs.contains_key("macs"), "the MAC is an output");
    }
}
