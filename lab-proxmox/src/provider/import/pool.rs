//! Resource pools: `Pool::new(id).comment(..)`, bound by pool id.

use lab_core::import::{Finding, ImportBlock, ImportedState};
use lab_core::Address;

use super::{attrs, lab_name, lit, Chain, Names, Out, World, ORDER_POOL};
use crate::kinds;

pub(super) fn import(world: &World, names: &mut Names, out: &mut Out) {
    for (id, m) in &world.pools {
        let Some(name) = lab_name(id).filter(|n| n == id) else {
            out.findings.push(Finding::new(
                format!("pool {id}"),
                "its id is not a lab name (letters, digits, `-`, `_`)",
            ));
            continue;
        };
        let found = crate::provider::pool::observe(m, id);
        out.uses.insert("use lab::proxmox::model::Pool;");
        let var = names.var("pool", &name);
        let mut chain = Chain::new(format!("Pool::new({})", lit(id)));
        if let Some(c) = &found.spec.comment {
            chain.call(format!("comment({})", lit(c)));
        }
        chain.call("provider({provider})");
        out.blocks.push(ImportBlock {
            address: Address::new(kinds::POOL, &name),
            var: var.clone(),
            handle: "Handle<Pool>".into(),
            order: ORDER_POOL,
            code: chain.add_to_lab(&var),
            comment: None,
            state: Some(ImportedState {
                id: found.id.clone(),
                attrs: attrs(&found.spec),
                outputs: attrs(&found.outputs),
                deps: Vec::new(),
            }),
        });
        names.pools.insert(id.clone(), var);
    }
}
