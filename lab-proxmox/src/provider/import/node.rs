//! Nodes: `Node::new(name)` with the bridges the node has, and its local
//! disk (`Node::local_disk`) as an appliance; model only: a node is never
//! created or read by a plan.

use lab_core::import::{Finding, ImportBlock};
use lab_core::Address;

use super::{lab_name, lit, Chain, Names, Out, World, ORDER_NODE};
use crate::kinds;

pub(super) fn import(world: &World, names: &mut Names, out: &mut Out) {
    for (node, bridges) in &world.nodes {
        let Some(name) = lab_name(node).filter(|n| n == node) else {
            out.findings.push(Finding::new(
                format!("node {node}"),
                "its name is not a lab name (letters, digits, `-`); its guests are not imported either",
            ));
            continue;
        };
        out.uses.insert("use lab::proxmox::model::Node;");
        let var = names.var("node", &name);
        let mut chain = Chain::new(format!("Node::new({})", lit(&name)));
        for b in bridges {
            chain.call(format!("bridge({})", lit(b)));
        }
        out.blocks.push(ImportBlock {
            address: Address::new(kinds::NODE, &name),
            var: var.clone(),
            handle: "Handle<Node>".into(),
            order: ORDER_NODE,
            // A node's own disk fails with it (the failure-domain analysis
            // needs every place data lives).
            code: format!(
                "{}\nlab.add(Node::local_disk(&{var}));",
                chain.add_to_lab(&var)
            ),
            comment: None,
            state: None,
        });
        names.nodes.insert(node.clone(), var);
    }
}
