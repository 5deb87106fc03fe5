//! The offline rules of backup jobs: which guests a job selects.
//! PVE takes one of `vmid`, `all` or `pool` (`PVE::VZDump::verify_vzdump_parameters`:
//! "option conflicts with option 'vmid'" and "you need to specify
//! list of VM IDs, or 'all'/'pool'"), and `exclude` only with `all` or
//! `pool`. The schedule is checked by the builder, where it is given.

use lab_core::{Diagnostic, Lab, ResourceSpec, Value};

use super::BACKUP_SELECTION;
use crate::kinds;

fn has(spec: &ResourceSpec, key: &str) -> bool {
    match spec.attrs.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::List(l)) => !l.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    }
}

pub(super) fn backup_selection(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources().filter(|s| s.kind() == kinds::BACKUP_JOB) {
        let (vmids, all, pool, exclude) = (
            has(spec, "vmids"),
            has(spec, "all"),
            has(spec, "pool"),
            has(spec, "exclude"),
        );
        let err = |message: String| {
            Diagnostic::error(BACKUP_SELECTION, message).for_resource(&spec.address)
        };
        if !vmids && !all && !pool {
            out.push(
                err(format!("backup job `{}` selects no guest", spec.name()))
                    .with_label(spec.added_at, "this job backs up nothing")
                    .with_help(
                        "select guests with .guest(&vm) (once per guest), .all() or .pool(&pool)",
                    ),
            );
        }
        let chosen: Vec<(&str, &str)> = [
            (vmids, "vmids", ".guest(..)/.vmid(..)"),
            (all, "all", ".all()"),
            (pool, "pool", ".pool(..)"),
        ]
        .into_iter()
        .filter(|(on, _, _)| *on)
        .map(|(_, key, call)| (key, call))
        .collect();
        if chosen.len() > 1 {
            let mut d = err(format!(
                "backup job `{}` selects guests in {} ways; PVE takes one of a VMID list, `all` or a pool",
                spec.name(),
                chosen.len()
            ));
            for (key, call) in &chosen {
                d = d.with_label(spec.loc_of(key), format!("{call} here"));
            }
            out.push(d.with_help(
                "keep one selection: list the guests, or .all()/.pool(..) with .exclude(..) for the ones to leave out",
            ));
        }
        if exclude && !all && !pool {
            out.push(
                err(format!(
                    "backup job `{}` excludes guests but selects them by VMID",
                    spec.name()
                ))
                .with_label(spec.loc_of("exclude"), "excluded here")
                .with_help("exclude works with .all() or .pool(..); otherwise leave the guest out of the list"),
            );
        }
    }
}
