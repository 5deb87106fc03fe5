//! Guests: what templates (`template`), VMs (`vm`) and containers (`ct`)
//! share: the one pass over `/cluster/resources` (each config and status
//! read once), resource names, the calls every guest ends with, and the
//! bound block with its state entry.
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

use super::{
    attrs, lab_name, lit, lit_list, Chain, Names, Out, ProxmoxProvider, World, ORDER_GUEST,
};
use crate::api::ClusterResource;
use crate::kinds::{self, CtSpec, GuestOutputs, VmSpec};
use crate::provider::err;
use crate::provider::guest::guest_path;
use crate::provider::normalize::Readback;

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
        super::template::import(r, names, &mut used, out);
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
            super::ct::import(&rb, r, world, &node_var, names, &mut used)
        } else {
            super::vm::import(&rb, r, world, &node_var, names, &mut used)
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
pub(super) fn guest_name(
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

/// The calls every guest ends with: power, tags, notes, pool, provider.
pub(super) fn tail(
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

pub(super) fn storage_var<'a>(names: &'a Names, id: &str) -> Result<&'a String, String> {
    names
        .storages
        .get(id)
        .ok_or_else(|| format!("its storage {id} was not imported"))
}

/// The block of a bound guest: its code and the state entry (the spec as
/// the refresh reads it, outputs marked `imported`).
#[allow(clippy::too_many_arguments)]
pub(super) fn bound<S: serde::Serialize>(
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

/// Adds the storages a guest's volumes are on to its state entry's
/// dependencies (a destroy removes the guest before them), once each.
pub(super) fn depend_on_storages<'a>(
    block: &mut ImportBlock,
    storages: impl Iterator<Item = &'a str>,
) {
    let Some(state) = block.state.as_mut() else {
        return;
    };
    for s in storages {
        let a = Address::new(kinds::STORAGE, s);
        if !state.deps.contains(&a) {
            state.deps.push(a);
        }
    }
}
