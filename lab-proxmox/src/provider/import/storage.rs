//! Storages: an NFS storage is managed (`NasPool` + `Storage::nfs`, bound
//! by storage id); the others are what the nodes already have
//! (`Storage::existing`, model only: content and nodes as listed). A PBS
//! storage is one of those too: PVE never returns its token secret, so
//! lab cannot write it, but backup jobs into it are imported; the comment
//! says how to manage it (lab-pbs's `PveStorage`).

use lab_core::import::{Finding, ImportBlock, ImportedState};
use lab_core::Address;

use super::{attrs, lab_name, lit, Chain, Names, Out, World, ORDER_STORAGE};
use crate::kinds::{self, Retention, StorageSpec};
use crate::provider::normalize;

/// `Content::Images` for `images`.
fn content_variant(c: &str) -> Option<&'static str> {
    Some(match c {
        "images" => "Content::Images",
        "rootdir" => "Content::Rootdir",
        "vztmpl" => "Content::Vztmpl",
        "iso" => "Content::Iso",
        "backup" => "Content::Backup",
        "snippets" => "Content::Snippets",
        "import" => "Content::Import",
        _ => return None,
    })
}

/// `Retention::new().keep_last(3)..`.
pub(super) fn retention_code(r: &Retention) -> String {
    let mut s = "Retention::new()".to_string();
    let keeps = [
        ("keep_last", r.keep_last),
        ("keep_hourly", r.keep_hourly),
        ("keep_daily", r.keep_daily),
        ("keep_weekly", r.keep_weekly),
        ("keep_monthly", r.keep_monthly),
        ("keep_yearly", r.keep_yearly),
    ];
    for (f, v) in keeps {
        if let Some(v) = v {
            s.push_str(&format!(".{f}({v})"));
        }
    }
    s
}

pub(super) fn import(world: &World, names: &mut Names, out: &mut Out) {
    for (id, m) in &world.storages {
        let object = format!("storage {id}");
        let Some(name) = lab_name(id).filter(|n| n == id) else {
            out.findings.push(Finding::new(
                object,
                "its id is not a lab name (letters, digits, `-`, `_`)",
            ));
            continue;
        };
        let kind = normalize::text(m, "type").unwrap_or_default();
        let mut content: Vec<String> = normalize::text(m, "content")
            .unwrap_or_default()
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        content.sort();
        let unknown: Vec<&String> = content
            .iter()
            .filter(|c| content_variant(c).is_none())
            .collect();
        if !unknown.is_empty() {
            out.findings.push(Finding::new(
                object,
                format!("content {unknown:?} has no `Content` variant"),
            ));
            continue;
        }
        let nodes: Vec<String> = normalize::text(m, "nodes")
            .unwrap_or_default()
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(n) = nodes.iter().find(|n| !names.nodes.contains_key(*n)) {
            out.findings.push(Finding::new(
                object,
                format!("it is restricted to node {n}, which was not imported"),
            ));
            continue;
        }
        let content_code = format!(
            "content(&[{}])",
            content
                .iter()
                .filter_map(|c| content_variant(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        out.uses
            .insert("use lab::proxmox::model::{Content, Storage};");
        let var = names.var("storage", &name);
        let block = match kind.as_str() {
            "nfs" => nfs(id, &name, &var, m, &content_code, &nodes, names, out),
            _ => {
                let mut chain = Chain::new(format!("Storage::existing({})", lit(id)));
                chain.call(content_code);
                for n in &nodes {
                    chain.call(format!("node(&{})", names.nodes[n]));
                }
                if normalize::text(m, "shared").is_some_and(|s| s == "1") {
                    chain.call("shared(true)");
                }
                ImportBlock {
                    address: Address::new(kinds::STORAGE, &name),
                    var: var.clone(),
                    handle: "Handle<Storage>".into(),
                    order: super::ORDER_STORAGE,
                    code: chain.add_to_lab(&var),
                    comment: Some(if kind == "pbs" {
                        format!(
                            "`{id}` (PBS datastore {}): lab uses it and never changes it (PVE never returns its token secret); to manage it, declare it with lab-pbs's `PveStorage`.",
                            normalize::text(m, "datastore").unwrap_or_default()
                        )
                    } else {
                        format!(
                            "`{id}` ({kind}): the nodes' own; lab uses it and never changes it."
                        )
                    }),
                    state: None,
                }
            }
        };
        out.blocks.push(block);
        names.storages.insert(id.clone(), var);
    }
}

/// The NAS pool it mounts and the managed NFS storage.
#[allow(clippy::too_many_arguments)]
fn nfs(
    id: &str,
    name: &str,
    var: &str,
    m: &serde_json::Map<String, serde_json::Value>,
    content_code: &str,
    nodes: &[String],
    names: &mut Names,
    out: &mut Out,
) -> ImportBlock {
    out.uses.insert("use lab::proxmox::model::NasPool;");
    let found = crate::provider::storage::observe(m, None, id);
    let pool_name = format!("{name}-export");
    let pool_var = names.var("nas", &pool_name);
    let pool_address = Address::new(kinds::NAS_POOL, &pool_name);
    let mut pool = Chain::new(format!("NasPool::new({})", lit(&pool_name)));
    pool.call(format!("server({})", lit(&found.spec.server)));
    pool.call(format!(
        "export({})",
        lit(found.spec.export.as_deref().unwrap_or_default())
    ));
    let mut chain = Chain::new(format!("Storage::nfs({}, &{pool_var})", lit(id)));
    chain.call(content_code);
    for n in nodes {
        chain.call(format!("node(&{})", names.nodes[n]));
    }
    if let Some(o) = &found.spec.options {
        chain.call(format!("mount_options({})", lit(o)));
    }
    if let Some(r) = &found.spec.prune_backups {
        out.uses.insert("use lab::proxmox::kinds::Retention;");
        chain.call(format!(
            "prune_backups({})",
            super::storage::retention_code(r)
        ));
    }
    chain.call("provider({provider})");
    // What the refresh reads back, with the pool the code names.
    let spec = StorageSpec {
        pool: Some(pool_address.to_string()),
        ..found.spec
    };
    let found = crate::provider::storage::observe(m, Some(&spec), id);
    ImportBlock {
        address: Address::new(kinds::STORAGE, name),
        var: var.to_string(),
        handle: "Handle<Storage>".into(),
        order: ORDER_STORAGE,
        code: format!("{}\n{}", pool.add_to_lab(&pool_var), chain.add_to_lab(var)),
        comment: Some(format!(
            "`{id}` (NFS): the NAS pool it mounts (its name is lab's; add `.on(&nas)` to say which box holds it)."
        )),
        state: Some(ImportedState {
            id: id.to_string(),
            attrs: attrs(&found.spec),
            outputs: attrs(&found.outputs),
            deps: vec![pool_address],
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::json;

    use super::super::{Names, Out, World};

    fn world(storages: serde_json::Value) -> World {
        let storages = storages
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let m = s.as_object().unwrap().clone();
                (m["storage"].as_str().unwrap().to_string(), m)
            })
            .collect();
        World {
            nodes: BTreeMap::from([("pve1".to_string(), vec!["vmbr0".to_string()])]),
            storages,
            pools: Vec::new(),
            guests: Vec::new(),
            jobs: Vec::new(),
            vztmpls: BTreeSet::new(),
        }
    }

    #[test]
    fn a_pbs_storage_is_used_as_it_is_and_odd_ones_are_findings() {
        let w = world(json!([
            {"storage": "pbs-main", "type": "pbs", "content": "backup", "server": "10.0.0.20",
             "datastore": "daily", "username": "pve@pbs!lab", "nodes": "pve1"},
            {"storage": "odd", "type": "dir", "content": "images,weird"},
            {"storage": "on-pve9", "type": "dir", "content": "iso", "nodes": "pve9"},
        ]));
        let mut names = Names::default();
        names.nodes.insert("pve1".into(), "node_pve1".into());
        let mut out = Out::default();
        super::import(&w, &mut names, &mut out);
        assert_eq!(out.blocks.len(), 1);
        let b = &out.blocks[0];
        assert!(b.state.is_none(), "lab never writes it");
        assert!(
            b.code.contains("Storage::existing(\"pbs-main\")"),
            "{}",
            b.code
        );
        assert!(b.code.contains("content(&[Content::Backup])"), "{}", b.code);
        assert!(b.code.contains(".node(&node_pve1)"), "{}", b.code);
        assert!(b.comment.as_deref().unwrap().contains("PveStorage"));
        assert_eq!(names.storages["pbs-main"], "storage_pbs_main");
        let objects: Vec<&str> = out.findings.iter().map(|f| f.object.as_str()).collect();
        assert_eq!(objects, ["storage odd", "storage on-pve9"]);
    }
}
