//! Backup jobs: `BackupJob::new(id, &storage, schedule)` with its
//! selection (imported guests by handle, others by VMID), mode,
//! compression, retention, notes template and comment; bound by job id.

use lab_core::import::{Finding, ImportBlock, ImportedState};
use lab_core::Address;

use super::storage::retention_code;
use super::{attrs, lab_name, lit, Chain, Names, Out, World, ORDER_JOB};
use crate::kinds;

fn mode(m: &str) -> Option<&'static str> {
    Some(match m {
        "snapshot" => "BackupMode::Snapshot",
        "suspend" => "BackupMode::Suspend",
        "stop" => "BackupMode::Stop",
        _ => return None,
    })
}

fn compress(c: &str) -> Option<&'static str> {
    Some(match c {
        "0" => "Compress::None",
        "gzip" => "Compress::Gzip",
        "lzo" => "Compress::Lzo",
        "zstd" => "Compress::Zstd",
        _ => return None,
    })
}

pub(super) fn import(world: &World, names: &mut Names, out: &mut Out) {
    for (id, m) in &world.jobs {
        let object = format!("backup job {id}");
        match job(id, m, names, out) {
            Ok(block) => out.blocks.push(block),
            Err(reason) => out.findings.push(Finding::new(object, reason)),
        }
    }
}

fn job(
    id: &str,
    m: &serde_json::Map<String, serde_json::Value>,
    names: &mut Names,
    out: &mut Out,
) -> Result<ImportBlock, String> {
    let found = crate::provider::backup_job::observe(m, id);
    let spec = &found.spec;
    let name = lab_name(id)
        .filter(|n| n == id)
        .ok_or("its id is not a lab name (letters, digits, `-`, `_`)")?;
    if spec.comment.as_deref().is_some_and(|c| c.contains("lab:")) {
        return Err(
            "its comment carries a lab's marker: manage it from that lab's code and state".into(),
        );
    }
    let storage = names
        .storages
        .get(&spec.storage)
        .ok_or_else(|| format!("its storage {} was not imported", spec.storage))?;
    let mut c = Chain::new(format!(
        "BackupJob::new({}, &{storage}, {})",
        lit(id),
        lit(&spec.schedule)
    ));
    let mut deps = vec![Address::new(kinds::STORAGE, &spec.storage)];
    let guest = |vmid: &i64, deps: &mut Vec<Address>| match names.guests.get(vmid) {
        Some((var, address)) => {
            deps.push(address.clone());
            Ok(format!("(&{var})"))
        }
        None => Err(*vmid),
    };
    if let Some(vmids) = &spec.vmids {
        let mut sorted = vmids.clone();
        sorted.sort();
        if &sorted != vmids {
            return Err("its VMID list is not in ascending order (lab writes it sorted)".into());
        }
        for v in vmids {
            match guest(v, &mut deps) {
                Ok(h) => c.call(format!("guest{h}")),
                Err(v) => c.call(format!("vmid({v})")),
            };
        }
    }
    if spec.all == Some(true) {
        c.call("all()");
    }
    if let Some(pool) = &spec.pool {
        let v = names
            .pools
            .get(pool)
            .ok_or_else(|| format!("its pool {pool} was not imported"))?;
        c.call(format!("pool(&{v})"));
        deps.push(Address::new(kinds::POOL, pool));
    }
    for v in spec.exclude.iter().flatten() {
        match guest(v, &mut deps) {
            Ok(h) => c.call(format!("exclude{h}")),
            Err(v) => c.call(format!("exclude_vmid({v})")),
        };
    }
    if let Some(node) = &spec.node {
        let v = names
            .nodes
            .get(node)
            .ok_or_else(|| format!("its node {node} was not imported"))?;
        c.call(format!("node(&{v})"));
    }
    if let Some(md) = &spec.mode {
        let variant = mode(md).ok_or_else(|| format!("mode `{md}`"))?;
        out.uses.insert("use lab::proxmox::model::BackupMode;");
        c.call(format!("mode({variant})"));
    }
    if let Some(cp) = &spec.compress {
        let variant = compress(cp).ok_or_else(|| format!("compression `{cp}`"))?;
        out.uses.insert("use lab::proxmox::model::Compress;");
        c.call(format!("compress({variant})"));
    }
    c.call(format!("enabled({})", spec.enabled));
    if let Some(r) = &spec.prune_backups {
        out.uses.insert("use lab::proxmox::kinds::Retention;");
        c.call(format!("retention({})", retention_code(r)));
    }
    if let Some(t) = &spec.notes_template {
        c.call(format!("notes_template({})", lit(t)));
    }
    if let Some(t) = &spec.comment {
        c.call(format!("comment({})", lit(t)));
    }
    c.call("provider({provider})");
    out.uses.insert("use lab::proxmox::model::BackupJob;");
    let var = names.var("backup_job", &name);
    Ok(ImportBlock {
        address: Address::new(kinds::BACKUP_JOB, &name),
        var: var.clone(),
        handle: "Handle<BackupJob>".into(),
        order: ORDER_JOB,
        code: c.add_to_lab(&var),
        comment: None,
        state: Some(ImportedState {
            id: id.to_string(),
            attrs: attrs(&found.spec),
            outputs: attrs(&found.outputs),
            deps,
        }),
    })
}
