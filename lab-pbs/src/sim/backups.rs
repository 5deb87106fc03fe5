//! The backup model: snapshots written and read through the contract's
//! `/sim/backup` (the simulators do not speak PBS's HTTP/2 backup
//! protocol), listed through the real `snapshots`/`groups` endpoints,
//! forgotten, pruned ([`super::prune`]), verified and garbage-collected.
//!
//! Owners follow `check_backup_owner`: the group's owner, or the user of
//! an owning token, may add to it; a new group belongs to whoever writes it
//! first. A snapshot must be newer than the group's last (`backup timestamp
//! is older than last backup.`). Bytes: a snapshot's chunks are its
//! files' sizes; a removed snapshot's become garbage, which GC frees once
//! they were last touched (written, or marked by a GC) before the grace
//! period (PBS: the chunk's atime against 24 h 5 min).

use std::sync::Arc;

use serde_json::{json, Value};

use super::acl::{self, datastore_path};
use super::datastores::{lookup, need, need_ns};
use super::prune::{prune_marks, PruneMark};
use super::rest::{snapshot_dir, Params, PbsError, Res};
use super::tasks::{self, WorkResult};
use super::world::{File, Group, Snapshot, World};
use super::{now, Shared};
use crate::api::KeepOptions;

/// `check_backup_owner`.
pub(crate) fn owns(owner: &str, auth: &str) -> bool {
    owner == auth || (owner.contains('!') && !auth.contains('!') && acl::user_of(owner) == auth)
}

fn text<'a>(b: &'a Value, key: &str) -> Result<&'a str, PbsError> {
    b.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| PbsError::param(key, "parameter is missing and it is not optional."))
}

fn backup_type(t: &str) -> Result<(), PbsError> {
    if matches!(t, "vm" | "ct" | "host") {
        Ok(())
    } else {
        Err(PbsError::param(
            "backup-type",
            format!("value '{t}' is not defined in the enumeration."),
        ))
    }
}

/// `POST /sim/backup`.
pub(crate) fn write(shared: &Arc<Shared>, auth: &str, body: &Value) -> Res {
    let store = text(body, "store")?;
    let ns = body
        .get("ns")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim_matches('/');
    let ty = text(body, "backup-type")?;
    backup_type(ty)?;
    let id = text(body, "backup-id")?;
    let time = body
        .get("backup-time")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            PbsError::param(
                "backup-time",
                "parameter is missing and it is not optional.",
            )
        })?;
    let mut files = Vec::new();
    for f in body
        .get("files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let filename = f
            .get("filename")
            .and_then(Value::as_str)
            .ok_or_else(|| PbsError::param("files", "every file needs a filename"))?;
        let size = f.get("size").and_then(Value::as_u64).unwrap_or(0);
        files.push(File {
            filename: filename.to_string(),
            size,
        });
    }
    let guest_config = body
        .get("guest-config")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let notes = body
        .get("notes")
        .and_then(Value::as_str)
        .map(str::to_string);
    shared.write(|w| {
        need(
            w,
            auth,
            &datastore_path(store, ns),
            acl::DATASTORE_BACKUP,
            false,
        )?;
        need_ns(lookup(w, store)?, ns)?;
        let ds = w.datastores.get_mut(store).expect("looked up");
        match ds.group(ns, ty, id) {
            Some(g) => {
                if !owns(&g.owner, auth) {
                    return Err(PbsError::bad(format!(
                        "backup owner check failed ({auth} != {})",
                        g.owner
                    )));
                }
                if g.snapshots
                    .keys()
                    .next_back()
                    .is_some_and(|last| time <= *last)
                {
                    return Err(PbsError::bad("backup timestamp is older than last backup."));
                }
            }
            None => ds.groups.push(Group {
                ns: ns.to_string(),
                backup_type: ty.to_string(),
                backup_id: id.to_string(),
                owner: auth.to_string(),
                snapshots: Default::default(),
            }),
        }
        let g = ds.group_mut(ns, ty, id).expect("just made");
        g.snapshots.insert(
            time,
            Snapshot {
                time,
                files,
                guest_config,
                notes,
                protected: false,
                verification: None,
                touched: now(),
            },
        );
        Ok(Value::Null)
    })
}

/// `GET /sim/backup`.
pub(crate) fn read(shared: &Arc<Shared>, auth: &str, p: &Params) -> Res {
    let store = p.req("store")?;
    let ns = p.ns("ns");
    let ty = p.req("backup-type")?;
    let id = p.req("backup-id")?;
    let time = p.int("backup-time").ok_or_else(|| {
        PbsError::param(
            "backup-time",
            "parameter is missing and it is not optional.",
        )
    })?;
    shared.read(|w| {
        let path = datastore_path(store, &ns);
        need(
            w,
            auth,
            &path,
            acl::DATASTORE_READ | acl::DATASTORE_BACKUP,
            true,
        )?;
        let ds = lookup(w, store)?;
        let missing = || {
            PbsError::bad(format!(
                "snapshot {} does not exist!",
                snapshot_dir(ty, id, time)
            ))
        };
        let g = ds.group(&ns, ty, id).ok_or_else(missing)?;
        if !acl::allowed(w, auth, &path, acl::DATASTORE_READ, false) && !owns(&g.owner, auth) {
            return Err(PbsError::forbidden());
        }
        let s = g.snapshots.get(&time).ok_or_else(missing)?;
        let mut v = json!({
            "backup-type": ty,
            "backup-id": id,
            "backup-time": time,
            "files": s.files,
            "guest-config": s.guest_config,
            "size": s.size(),
            "owner": g.owner,
            "protected": s.protected,
        });
        if let Some(n) = &s.notes {
            v["notes"] = n.clone().into();
        }
        if let Some((state, upid)) = &s.verification {
            v["verification"] = json!({"state": state, "upid": upid});
        }
        Ok(v)
    })
}

/// Whether the caller lists everything in `ns` (`Datastore.Audit` or
/// `.Read`) or only its own groups (`.Backup`); 403 with neither.
fn list_all(w: &World, auth: &str, store: &str, ns: &str) -> Result<bool, PbsError> {
    let privs = acl::privs(w, auth, &datastore_path(store, ns));
    if privs & (acl::DATASTORE_AUDIT | acl::DATASTORE_READ) != 0 {
        Ok(true)
    } else if privs & acl::DATASTORE_BACKUP != 0 {
        Ok(false)
    } else {
        Err(PbsError::forbidden())
    }
}

/// `GET /admin/datastore/{store}/snapshots`.
pub(crate) fn list_snapshots(w: &World, auth: &str, store: &str, p: &Params) -> Res {
    let ns = p.ns("ns");
    let all = list_all(w, auth, store, &ns)?;
    let ds = lookup(w, store)?;
    need_ns(ds, &ns)?;
    let mut items = Vec::new();
    for g in ds.groups.iter().filter(|g| g.ns == ns) {
        if !all && !owns(&g.owner, auth) {
            continue;
        }
        if p.get("backup-type").is_some_and(|t| t != g.backup_type)
            || p.get("backup-id").is_some_and(|i| i != g.backup_id)
        {
            continue;
        }
        for s in g.snapshots.values() {
            let mut v = json!({
                "backup-type": g.backup_type,
                "backup-id": g.backup_id,
                "backup-time": s.time,
                "files": s.files.iter().map(|f| json!({
                    "filename": f.filename, "size": f.size, "crypt-mode": "none"
                })).collect::<Vec<_>>(),
                "size": s.size(),
                "owner": g.owner,
                "protected": s.protected,
            });
            if let Some(c) = s.notes.as_deref().and_then(|n| n.lines().next()) {
                v["comment"] = c.into();
            }
            if let Some((state, upid)) = &s.verification {
                v["verification"] = json!({"state": state, "upid": upid});
            }
            items.push(v);
        }
    }
    Ok(Value::Array(items))
}

/// `GET /admin/datastore/{store}/groups`.
pub(crate) fn list_groups(w: &World, auth: &str, store: &str, p: &Params) -> Res {
    let ns = p.ns("ns");
    let all = list_all(w, auth, store, &ns)?;
    let ds = lookup(w, store)?;
    need_ns(ds, &ns)?;
    let items: Vec<Value> = ds
        .groups
        .iter()
        .filter(|g| g.ns == ns && (all || owns(&g.owner, auth)))
        .filter_map(|g| {
            let last = g.snapshots.values().next_back()?;
            Some(json!({
                "backup-type": g.backup_type,
                "backup-id": g.backup_id,
                "last-backup": last.time,
                "backup-count": g.snapshots.len(),
                "files": last.files.iter().map(|f| f.filename.clone()).collect::<Vec<_>>(),
                "owner": g.owner,
            }))
        })
        .collect();
    Ok(Value::Array(items))
}

/// `DELETE /admin/datastore/{store}/snapshots` (forget one snapshot).
pub(crate) fn forget(w: &mut World, auth: &str, store: &str, p: &Params) -> Res {
    let ns = p.ns("ns");
    let ty = p.req("backup-type")?.to_string();
    let id = p.req("backup-id")?.to_string();
    let time = p.int("backup-time").unwrap_or(0);
    let path = datastore_path(store, &ns);
    need(
        w,
        auth,
        &path,
        acl::DATASTORE_MODIFY | acl::DATASTORE_PRUNE,
        true,
    )?;
    let modify = acl::allowed(w, auth, &path, acl::DATASTORE_MODIFY, false);
    let ds = lookup(w, store)?;
    let missing = || {
        PbsError::bad(format!(
            "snapshot {} does not exist!",
            snapshot_dir(&ty, &id, time)
        ))
    };
    let g = ds.group(&ns, &ty, &id).ok_or_else(missing)?;
    if !modify && !owns(&g.owner, auth) {
        return Err(PbsError::forbidden());
    }
    let s = g.snapshots.get(&time).ok_or_else(missing)?;
    if s.protected {
        return Err(PbsError::bad("cannot remove protected snapshot"));
    }
    let ds = w.datastores.get_mut(store).expect("looked up");
    ds.remove_snapshot(&ns, &ty, &id, time);
    ds.drop_empty_groups();
    Ok(Value::Null)
}

/// `PUT /admin/datastore/{store}/protected`: `Datastore.Modify`, or
/// `Datastore.Backup` as the owner.
pub(crate) fn set_protected(w: &mut World, auth: &str, store: &str, p: &Params) -> Res {
    let ns = p.ns("ns");
    let ty = p.req("backup-type")?.to_string();
    let id = p.req("backup-id")?.to_string();
    let time = p.int("backup-time").unwrap_or(0);
    let protected = p.flag("protected", false);
    let path = datastore_path(store, &ns);
    need(
        w,
        auth,
        &path,
        acl::DATASTORE_MODIFY | acl::DATASTORE_BACKUP,
        true,
    )?;
    let modify = acl::allowed(w, auth, &path, acl::DATASTORE_MODIFY, false);
    let ds = lookup(w, store)?;
    let missing = || {
        PbsError::bad(format!(
            "snapshot {} does not exist!",
            snapshot_dir(&ty, &id, time)
        ))
    };
    let g = ds.group(&ns, &ty, &id).ok_or_else(missing)?;
    if !modify && !owns(&g.owner, auth) {
        return Err(PbsError::forbidden());
    }
    g.snapshots.get(&time).ok_or_else(missing)?;
    let ds = w.datastores.get_mut(store).expect("looked up");
    if let Some(s) = ds
        .group_mut(&ns, &ty, &id)
        .and_then(|g| g.snapshots.get_mut(&time))
    {
        s.protected = protected;
    }
    Ok(Value::Null)
}

/// Whether namespace `ns` is `root` or below it within `max_depth`.
pub(crate) fn in_scope(ns: &str, root: &str, max_depth: Option<usize>) -> bool {
    let rel = if root.is_empty() {
        ns
    } else if ns == root {
        ""
    } else if let Some(rest) = ns.strip_prefix(root).and_then(|r| r.strip_prefix('/')) {
        rest
    } else {
        return false;
    };
    let depth = if rel.is_empty() {
        0
    } else {
        rel.split('/').count()
    };
    max_depth.is_none_or(|d| depth <= d)
}

/// The garbage-collection worker.
pub(crate) fn gc(shared: &Arc<Shared>, upid: &str, store: &str) -> WorkResult {
    tasks::log(
        shared,
        upid,
        "starting garbage collection on store ".to_string() + store,
    );
    tasks::log(shared, upid, "Start GC phase1 (mark used chunks)");
    let grace = shared.config.gc_grace.as_secs() as i64;
    let (removed, pending, disk) = shared.write(|w| {
        let ds = w
            .datastores
            .get_mut(store)
            .ok_or_else(|| format!("no such datastore '{store}'"))?;
        let t = now();
        let cutoff = t - grace;
        for s in ds.groups.iter_mut().flat_map(|g| g.snapshots.values_mut()) {
            s.touched = t;
        }
        let (gone, kept): (Vec<_>, Vec<_>) =
            ds.garbage.drain(..).partition(|g| g.touched <= cutoff);
        ds.garbage = kept;
        let removed: u64 = gone.iter().map(|g| g.bytes).sum();
        let pending: u64 = ds.garbage.iter().map(|g| g.bytes).sum();
        let disk = ds.used();
        ds.gc = super::world::GcResult {
            upid: Some(upid.to_string()),
            removed_bytes: removed,
            pending_bytes: pending,
            disk_bytes: disk,
            endtime: Some(t),
            state: Some("ok".into()),
        };
        Ok::<_, String>((removed, pending, disk))
    })?;
    tasks::log(shared, upid, "Start GC phase2 (sweep unused chunks)");
    tasks::log(shared, upid, format!("Removed garbage: {removed} B"));
    tasks::log(shared, upid, format!("Pending removals: {pending} B"));
    tasks::log(shared, upid, format!("On-Disk usage: {disk} B"));
    Ok(0)
}

/// The verify worker: marks what it checks `ok`.
pub(crate) fn verify(
    shared: &Arc<Shared>,
    upid: &str,
    store: &str,
    ns: &str,
    max_depth: Option<usize>,
    ignore_verified: bool,
    outdated_after_days: Option<i64>,
) -> WorkResult {
    let t = now();
    let checked = shared.write(|w| {
        let ds = w
            .datastores
            .get_mut(store)
            .ok_or_else(|| format!("no such datastore '{store}'"))?;
        let mut checked = Vec::new();
        for g in ds
            .groups
            .iter_mut()
            .filter(|g| in_scope(&g.ns, ns, max_depth))
        {
            for s in g.snapshots.values_mut() {
                if ignore_verified {
                    if let Some((state, vupid)) = &s.verification {
                        let fresh = match outdated_after_days {
                            None => true,
                            Some(days) => crate::api::Upid::parse(vupid)
                                .map(|u| t - i64::from(u.starttime) < days * 86_400)
                                .unwrap_or(false),
                        };
                        if state == "ok" && fresh {
                            continue;
                        }
                    }
                }
                s.verification = Some(("ok".into(), upid.to_string()));
                checked.push(format!(
                    "{}:{}",
                    store,
                    snapshot_dir(&g.backup_type, &g.backup_id, s.time)
                ));
            }
        }
        Ok::<_, String>(checked)
    })?;
    tasks::log(shared, upid, format!("verify datastore {store}"));
    for c in checked {
        tasks::log(shared, upid, format!("  verify {c}"));
    }
    Ok(0)
}

/// The prune worker over every group in scope.
pub(crate) fn prune(
    shared: &Arc<Shared>,
    upid: &str,
    store: &str,
    ns: &str,
    max_depth: Option<usize>,
    keep: &KeepOptions,
) -> WorkResult {
    if !keep.keeps_something() {
        tasks::log(shared, upid, "No prune selection - keeping all files.");
        return Ok(0);
    }
    let lines = shared.write(|w| {
        let ds = w
            .datastores
            .get_mut(store)
            .ok_or_else(|| format!("no such datastore '{store}'"))?;
        let mut lines = Vec::new();
        let groups: Vec<(String, String, String)> = ds
            .groups
            .iter()
            .filter(|g| in_scope(&g.ns, ns, max_depth))
            .map(|g| (g.ns.clone(), g.backup_type.clone(), g.backup_id.clone()))
            .collect();
        for (gns, ty, id) in groups {
            let snaps: Vec<(i64, bool)> = ds
                .group(&gns, &ty, &id)
                .map(|g| {
                    g.snapshots
                        .values()
                        .map(|s| (s.time, s.protected))
                        .collect()
                })
                .unwrap_or_default();
            lines.push(format!("Pruning group {gns}:\"{ty}/{id}\""));
            for (time, mark) in prune_marks(&snaps, keep) {
                let what = match mark {
                    PruneMark::Keep => "keep",
                    PruneMark::Protected => "keep (protected)",
                    PruneMark::Remove => "remove",
                };
                lines.push(format!("{what} {}", snapshot_dir(&ty, &id, time)));
                if mark == PruneMark::Remove {
                    ds.remove_snapshot(&gns, &ty, &id, time);
                }
            }
        }
        ds.drop_empty_groups();
        Ok::<_, String>(lines)
    })?;
    for l in lines {
        tasks::log(shared, upid, l);
    }
    Ok(0)
}
