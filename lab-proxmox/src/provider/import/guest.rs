//! Guests: templates as `Template::existing` (model only), VMs and
//! containers with every setting their config holds, bound by VMID.
//!
//! The spec recorded in the state is the refresh's own read
//! (`normalize::vm` / `normalize::ct`) with the VMID given in code; the
//! code sets exactly its fields, so the next refresh compares equal
//! values. A guest whose config holds what the builders cannot say (a NIC
//! model other than virtio, a CD-ROM, a boot entry that is no disk or NIC,
//! a container feature other than nesting and keyctl, ...) is a finding.

use lab_core::import::{Finding, ImportBlock, ImportedState};
use lab_core::provider::ProviderError;
use lab_core::Address;
use serde_json::Value as Json;

use super::{attrs, lab_name, lit, lit_list, Chain, Names, Out, World, ORDER_GUEST};
use super::{ProxmoxProvider, ORDER_TEMPLATE};
use crate::api::ClusterResource;
use crate::kinds::{self, CtSpec, GuestOutputs, VmSpec};
use crate::provider::err;
use crate::provider::guest::guest_path;
use crate::provider::normalize::{self, Readback, VmKept};

/// Whether `tag` is a lab's ownership tag (`lab-` and 8 hex digits).
fn ownership_tag(tag: &str) -> bool {
    tag.strip_prefix("lab-")
        .is_some_and(|h| h.len() == 8 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

pub(super) async fn import(
    p: &ProxmoxProvider,
    world: &World,
    names: &mut Names,
    out: &mut Out,
) -> Result<(), ProviderError> {
    let mut used = std::collections::BTreeSet::new();
    // Templates first: VMs may name them.
    for r in world.guests.iter().filter(|r| r.template) {
        template(r, names, &mut used, out);
    }
    for r in world.guests.iter().filter(|r| !r.template) {
        let vmid = r.vmid.unwrap_or_default() as i64;
        let what = if r.r#type == "lxc" { "CT" } else { "VM" };
        let object = format!("{what} {vmid} ({})", r.name.as_deref().unwrap_or("no name"));
        if let Some(t) = r.tags_list().iter().find(|t| ownership_tag(t)) {
            out.findings.push(Finding::new(
                object,
                format!("it carries the ownership tag `{t}` of a lab: manage it from that lab's code and state"),
            ));
            continue;
        }
        let node = r.node.clone().unwrap_or_default();
        let Some(node_var) = names.nodes.get(&node).cloned() else {
            out.findings.push(Finding::new(
                object,
                format!("its node {node} was not imported"),
            ));
            continue;
        };
        let lxc = r.r#type == "lxc";
        let (config, base) = if lxc {
            let c = p.config::<CtSpec>(&node, vmid).await.map_err(err)?;
            (c, guest_path::<CtSpec>(&node, vmid))
        } else {
            let c = p.config::<VmSpec>(&node, vmid).await.map_err(err)?;
            (c, guest_path::<VmSpec>(&node, vmid))
        };
        let status: Json = p
            .client
            .get(&format!("{base}/status/current"), &[])
            .await
            .map_err(err)?;
        let rb = Readback {
            config: &config,
            node: &node,
            vmid,
            running: status.get("status").and_then(Json::as_str) == Some("running"),
            ownership_tag: "",
            pool: r.pool.as_deref(),
        };
        let made = if lxc {
            container(&rb, r, world, &node_var, names, &mut used)
        } else {
            vm(&rb, r, &node_var, names, &mut used)
        };
        match made {
            Ok(block) => {
                out.uses.insert(if r.r#type == "lxc" {
                    "use lab::proxmox::model::Container;"
                } else {
                    "use lab::proxmox::model::Vm;"
                });
                if block.code.contains("CloudInit::new") {
                    out.uses.insert("use lab::proxmox::model::CloudInit;");
                }
                names
                    .guests
                    .insert(vmid, (block.var.clone(), block.address.clone()));
                out.blocks.push(block);
            }
            Err(reason) => out.findings.push(Finding::new(object, reason)),
        }
    }
    Ok(())
}

/// A resource name for a guest: its own (dots as `-`), else `<what>-<vmid>`,
/// made unique with `-<vmid>`.
fn guest_name(
    kind: &str,
    name: Option<&str>,
    vmid: i64,
    used: &mut std::collections::BTreeSet<Address>,
) -> String {
    let base = name
        .and_then(lab_name)
        .unwrap_or_else(|| format!("{}-{vmid}", kind.rsplit('.').next().unwrap_or("guest")));
    let mut n = base.clone();
    if used.contains(&Address::new(kind, &n)) {
        n = format!("{base}-{vmid}");
    }
    used.insert(Address::new(kind, &n));
    n
}

fn template(
    r: &ClusterResource,
    names: &mut Names,
    used: &mut std::collections::BTreeSet<Address>,
    out: &mut Out,
) {
    let vmid = r.vmid.unwrap_or_default() as i64;
    let node = r.node.clone().unwrap_or_default();
    let Some(node_var) = names.nodes.get(&node).cloned() else {
        out.findings.push(Finding::new(
            format!("template {vmid}"),
            format!("its node {node} was not imported"),
        ));
        return;
    };
    let name = guest_name(kinds::TEMPLATE, r.name.as_deref(), vmid, used);
    let var = names.var("template", &name);
    out.uses.insert("use lab::proxmox::model::Template;");
    let chain = Chain::new(format!(
        "Template::existing({}, &{node_var}, {vmid})",
        lit(&name)
    ));
    let address = Address::new(kinds::TEMPLATE, &name);
    names.guests.insert(vmid, (var.clone(), address.clone()));
    out.blocks.push(ImportBlock {
        address,
        var: var.clone(),
        handle: "Handle<Template>".into(),
        order: ORDER_TEMPLATE,
        code: chain.add_to_lab(&var),
        comment: Some(format!(
            "Template {vmid}: lab clones it and never changes it."
        )),
        state: None,
    });
}

/// The calls every guest ends with: power, tags, notes, pool, provider.
fn tail(
    chain: &mut Chain,
    onboot: bool,
    started: bool,
    tags: &Option<Vec<String>>,
    notes: &Option<String>,
    pool: &Option<String>,
    names: &Names,
) -> Result<(), String> {
    chain.call(format!("onboot({onboot})"));
    chain.call(format!("started({started})"));
    if let Some(t) = tags.as_ref().filter(|t| !t.is_empty()) {
        chain.call(format!("tags({})", lit_list(t)));
    }
    match notes {
        Some(n) => chain.call(format!("notes({})", lit(n))),
        None => chain.call("no_notes()"),
    };
    if let Some(pool) = pool {
        let v = names
            .pools
            .get(pool)
            .ok_or_else(|| format!("its pool {pool} was not imported"))?;
        chain.call(format!("pool(&{v})"));
    }
    chain.call("provider({provider})");
    Ok(())
}

fn storage_var<'a>(names: &'a Names, id: &str) -> Result<&'a String, String> {
    names
        .storages
        .get(id)
        .ok_or_else(|| format!("its storage {id} was not imported"))
}

fn vm(
    rb: &Readback<'_>,
    r: &ClusterResource,
    node_var: &str,
    names: &mut Names,
    used: &mut std::collections::BTreeSet<Address>,
) -> Result<ImportBlock, String> {
    let kept = VmKept {
        vmid: true,
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
    if let Some(order) = &spec.boot_order {
        let known = |e: &String| {
            spec.disks.iter().any(|d| &d.slot == e) || spec.nics.iter().any(|n| &n.slot == e)
        };
        if let Some(e) = order.iter().find(|e| !known(e)) {
            return Err(format!(
                "its boot order names `{e}`, which is no disk or NIC lab declares"
            ));
        }
        c.call(format!("boot_order({})", lit_list(order)));
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
    bound(kinds::VM, &name, vmid, &spec, outputs, c, names, r)
}

fn container(
    rb: &Readback<'_>,
    r: &ClusterResource,
    world: &World,
    node_var: &str,
    names: &mut Names,
    used: &mut std::collections::BTreeSet<Address>,
) -> Result<ImportBlock, String> {
    let (mut spec, outputs) = normalize::ct(rb, None);
    let vmid = rb.vmid;
    spec.vmid = Some(vmid);
    let Some(pve_name) = spec.hostname.clone() else {
        return Err("it has no host name".into());
    };
    // PVE does not record the template a container was made from: the
    // one its OS type names, else the first on the cluster.
    let ostype = normalize::text(rb.config, "ostype").unwrap_or_default();
    let guess = world
        .vztmpls
        .iter()
        .find(|v| !ostype.is_empty() && v.contains(&format!("vztmpl/{ostype}")))
        .or_else(|| world.vztmpls.iter().next())
        .cloned()
        .unwrap_or_else(|| "local:vztmpl/unknown.tar.zst".to_string());
    spec.ostemplate = Some(guess.clone());
    let name = guest_name(kinds::CT, Some(&pve_name), vmid, used);
    let mut c = Chain::new(format!("Container::new({}, &{node_var})", lit(&name)));
    c.call(format!("vmid({vmid})"));
    if name != pve_name {
        c.call(format!("hostname({})", lit(&pve_name)));
    }
    c.call(format!("cores({})", spec.cores));
    c.call(format!("memory_mb({})", spec.memory_mb));
    c.call(format!("swap_mb({})", spec.swap_mb));
    c.call(format!("ostemplate_volid({})", lit(&guess)));
    let root = spec.rootfs.as_ref().ok_or("it has no root filesystem")?;
    let size = root
        .size_gb
        .filter(|s| *s > 0)
        .ok_or("its root filesystem is smaller than 1 GiB")?;
    c.call(format!(
        "rootfs(&{}, \"{size}G\")",
        storage_var(names, &root.storage)?
    ));
    for mp in spec.mountpoints.iter().flatten() {
        let size = mp
            .size_gb
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("mount point {} is smaller than 1 GiB", mp.slot))?;
        c.call(format!(
            "mount_point({}, &{}, \"{size}G\", {})",
            lit(&mp.slot),
            storage_var(names, &mp.storage)?,
            lit(&mp.path)
        ));
    }
    for n in &spec.nics {
        let index = n.slot.trim_start_matches("net");
        if n.name.as_deref() != Some(&format!("eth{index}")) {
            return Err(format!(
                "NIC {} is named {:?} (lab names a container's net<N> eth<N>)",
                n.slot, n.name
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
        if let Some(ip) = &n.ip {
            c.call(format!("ip({})", lit(ip)));
        }
        if let Some(gw) = &n.gw {
            c.call(format!("gw({})", lit(gw)));
        }
        if let Some(f) = n.firewall {
            c.call(format!("firewall({f})"));
        }
    }
    c.call(format!("unprivileged({})", spec.unprivileged));
    for (feature, on) in spec.features.iter().flatten() {
        if !matches!(feature.as_str(), "nesting" | "keyctl") {
            return Err(format!(
                "feature `{feature}` (lab sets nesting and keyctl only)"
            ));
        }
        c.call(format!("{feature}({on})"));
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
    let mut block = bound(kinds::CT, &name, vmid, &spec, outputs, c, names, r)?;
    block.comment = Some(format!(
        "Proxmox does not record a container's OS template: `{guess}` is a guess, used only if lab makes it again."
    ));
    Ok(block)
}

/// The block of a bound guest: its code and the state entry (the spec as
/// the refresh reads it, outputs marked `imported`).
#[allow(clippy::too_many_arguments)]
fn bound<S: serde::Serialize>(
    kind: &str,
    name: &str,
    vmid: i64,
    spec: &S,
    mut outputs: GuestOutputs,
    c: Chain,
    names: &mut Names,
    r: &ClusterResource,
) -> Result<ImportBlock, String> {
    outputs.imported = true;
    let prefix = if kind == kinds::CT { "ct" } else { "vm" };
    let var = names.var(prefix, name);
    let address = Address::new(kind, name);
    let mut deps = vec![Address::new(
        kinds::NODE,
        r.node.as_deref().unwrap_or_default(),
    )];
    if let Some(pool) = &r.pool {
        deps.push(Address::new(kinds::POOL, pool));
    }
    Ok(ImportBlock {
        address,
        var: var.clone(),
        handle: format!(
            "Handle<{}>",
            if kind == kinds::CT { "Container" } else { "Vm" }
        ),
        order: ORDER_GUEST,
        code: c.add_to_lab(&var),
        comment: None,
        state: Some(ImportedState {
            id: vmid.to_string(),
            attrs: attrs(spec),
            outputs: attrs(&outputs),
            deps,
        }),
    })
}
