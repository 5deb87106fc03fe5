//! Templates: `Template::existing(name, &node, vmid)`, model only (lab
//! clones them and never changes them).

use lab_core::import::{Finding, ImportBlock};
use lab_core::Address;

use super::guest::guest_name;
use super::{lit, Chain, Names, Out, ORDER_TEMPLATE};
use crate::api::ClusterResource;
use crate::kinds;

pub(super) fn import(
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
