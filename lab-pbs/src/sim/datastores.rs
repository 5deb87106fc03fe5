//! `/config/datastore` and `/admin/datastore/...` (proxmox-backup
//! `src/api2/config/datastore.rs`, `src/api2/admin/datastore.rs`,
//! `src/api2/admin/namespace.rs`).
//!
//! Texts and statuses: a duplicate name is a parameter error (`datastore
//! 'x' already exists.`), a missing datastore 400 `no such datastore 'x'`
//! (section-config lookup) except on DELETE, which is 404 `datastore 'x'
//! does not exist.`; a missing privilege is 403 `permission check failed`,
//! checked before existence. Creation and deletion are tasks
//! (`create-datastore`, `delete-datastore`).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::acl::{self, datastore_path};
use super::rest::{apply_update, config_props, digest, Params, PbsError, Res};
use super::world::{Datastore, GcResult, World};
use super::{backups, tasks, Shared};

/// PBS's namespace depth limit (`MAX_NAMESPACE_DEPTH`).
pub(crate) const MAX_NAMESPACE_DEPTH: usize = 7;

pub(crate) fn need(
    w: &World,
    auth: &str,
    path: &str,
    privs: u64,
    partial: bool,
) -> Result<(), PbsError> {
    if acl::allowed(w, auth, path, privs, partial) {
        Ok(())
    } else {
        Err(PbsError::forbidden())
    }
}

/// The datastore, or 400 `no such datastore '<name>'`.
pub(crate) fn lookup<'a>(w: &'a World, name: &str) -> Result<&'a Datastore, PbsError> {
    w.datastores
        .get(name)
        .ok_or_else(|| PbsError::bad(format!("no such datastore '{name}'")))
}

/// The namespace must exist in the datastore.
pub(crate) fn need_ns(ds: &Datastore, ns: &str) -> Result<(), PbsError> {
    if ds.has_ns(ns) {
        Ok(())
    } else {
        Err(PbsError::bad(format!("namespace '{ns}' does not exist")))
    }
}

pub(crate) fn dispatch(
    shared: &Arc<Shared>,
    auth: &str,
    method: &str,
    segs: &[&str],
    p: &Params,
) -> Res {
    match (method, segs) {
        ("GET", ["config", "datastore"]) => shared.read(|w| {
            let list: Vec<Value> = w
                .datastores
                .iter()
                .filter(|(name, _)| {
                    acl::allowed(
                        w,
                        auth,
                        &datastore_path(name, ""),
                        acl::DATASTORE_AUDIT | acl::DATASTORE_MODIFY,
                        true,
                    )
                })
                .map(|(_, ds)| Value::Object(ds.config.clone()))
                .collect();
            Ok(Value::Array(list))
        }),
        ("POST", ["config", "datastore"]) => create(shared, auth, p),
        ("GET", ["config", "datastore", name]) => shared.read(|w| {
            need(w, auth, &datastore_path(name, ""), acl::DATASTORE_AUDIT, false)?;
            let ds = lookup(w, name)?;
            let mut c = ds.config.clone();
            c.insert("digest".into(), digest(&ds.config).into());
            Ok(Value::Object(c))
        }),
        ("PUT", ["config", "datastore", name]) => {
            let props = config_props(&shared.schema, "PUT", "/config/datastore/x", p, &["name"]);
            shared.write(|w| {
                need(w, auth, &datastore_path(name, ""), acl::DATASTORE_MODIFY, false)?;
                lookup(w, name)?;
                let ds = w.datastores.get_mut(*name).expect("looked up");
                apply_update(&mut ds.config, props, p);
                Ok(Value::Null)
            })
        }
        ("DELETE", ["config", "datastore", name]) => delete(shared, auth, name, p),
        ("GET", ["admin", "datastore"]) => shared.read(|w| {
            let list: Vec<Value> = w
                .datastores
                .iter()
                .filter(|(name, _)| {
                    acl::privs(w, auth, &datastore_path(name, "")) != 0
                        || w.acl.iter().any(|a| {
                            a.path.starts_with(&format!("{}/", datastore_path(name, "")))
                                && acl::privs(w, auth, &a.path) != 0
                        })
                })
                .map(|(name, ds)| {
                    let mut v = json!({"store": name, "mount-status": "nonremovable"});
                    if let Some(c) = ds.config.get("comment") {
                        v["comment"] = c.clone();
                    }
                    if let Some(m) = ds.config.get("maintenance-mode") {
                        v["maintenance"] = m.clone();
                    }
                    v
                })
                .collect();
            Ok(Value::Array(list))
        }),
        ("GET", ["admin", "datastore", store]) => shared.read(|w| {
            lookup(w, store)?;
            Ok(json!([
                {"subdir": "gc"}, {"subdir": "groups"}, {"subdir": "namespace"},
                {"subdir": "snapshots"}, {"subdir": "status"}
            ]))
        }),
        ("GET", ["admin", "datastore", store, "status"]) => shared.read(|w| {
            need(
                w,
                auth,
                &datastore_path(store, ""),
                acl::DATASTORE_AUDIT | acl::DATASTORE_BACKUP,
                true,
            )?;
            let ds = lookup(w, store)?;
            let used = ds.used().min(ds.total);
            let mut v = json!({"total": ds.total, "used": used, "avail": ds.total - used});
            if p.flag("verbose", false) {
                let mut counts = Map::new();
                for ty in ["vm", "ct", "host"] {
                    let groups: Vec<_> = ds.groups.iter().filter(|g| g.backup_type == ty).collect();
                    if !groups.is_empty() {
                        counts.insert(
                            ty.into(),
                            json!({
                                "groups": groups.len(),
                                "snapshots": groups.iter().map(|g| g.snapshots.len()).sum::<usize>(),
                            }),
                        );
                    }
                }
                v["counts"] = Value::Object(counts);
                v["gc-status"] = gc_json(&ds.gc);
            }
            Ok(v)
        }),
        ("GET", ["admin", "datastore", store, "snapshots"]) => {
            shared.read(|w| backups::list_snapshots(w, auth, store, p))
        }
        ("DELETE", ["admin", "datastore", store, "snapshots"]) => {
            shared.write(|w| backups::forget(w, auth, store, p))
        }
        ("PUT", ["admin", "datastore", store, "protected"]) => {
            shared.write(|w| backups::set_protected(w, auth, store, p))
        }
        ("GET", ["admin", "datastore", store, "groups"]) => {
            shared.read(|w| backups::list_groups(w, auth, store, p))
        }
        ("GET", ["admin", "datastore", store, "namespace"]) => {
            shared.read(|w| list_namespaces(w, auth, store, p))
        }
        ("POST", ["admin", "datastore", store, "namespace"]) => {
            shared.write(|w| create_namespace(w, auth, store, p))
        }
        ("DELETE", ["admin", "datastore", store, "namespace"]) => {
            shared.write(|w| delete_namespace(w, auth, store, p))
        }
        ("GET", ["admin", "datastore", store, "gc"]) => shared.read(|w| {
            need(w, auth, &datastore_path(store, ""), acl::DATASTORE_AUDIT, false)?;
            let ds = lookup(w, store)?;
            let mut v = gc_json(&ds.gc);
            v["store"] = (*store).into();
            if let Some(s) = ds.config.get("gc-schedule") {
                v["schedule"] = s.clone();
            }
            Ok(v)
        }),
        ("POST", ["admin", "datastore", store, "gc"]) => {
            shared.read(|w| {
                need(w, auth, &datastore_path(store, ""), acl::DATASTORE_MODIFY, false)?;
                lookup(w, store).map(drop)
            })?;
            let running = shared.read(|w| {
                w.tasks.iter().any(|t| {
                    t.worker_type == "garbage_collection"
                        && t.worker_id.as_deref() == Some(*store)
                        && t.exitstatus.is_none()
                })
            });
            if running {
                return Err(PbsError::bad("Start GC failed - (already running/locked)"));
            }
            let store = store.to_string();
            let upid = tasks::spawn(shared, "garbage_collection", Some(&store.clone()), auth, {
                move |shared, upid| async move { backups::gc(&shared, &upid, &store) }
            });
            Ok(upid.into())
        }
        _ => Err(PbsError::http(
            501,
            format!("pbs-sim does not implement {method} /{}", segs.join("/")),
        )),
    }
}

fn gc_json(gc: &GcResult) -> Value {
    let mut v = json!({
        "removed-bytes": gc.removed_bytes,
        "pending-bytes": gc.pending_bytes,
        "disk-bytes": gc.disk_bytes,
        "removed-chunks": gc.removed_bytes.div_ceil(4 << 20),
        "pending-chunks": gc.pending_bytes.div_ceil(4 << 20),
        "disk-chunks": gc.disk_bytes.div_ceil(4 << 20),
        "index-file-count": 0,
        "index-data-bytes": 0,
    });
    if let Some(u) = &gc.upid {
        v["upid"] = u.clone().into();
    }
    if let Some(e) = gc.endtime {
        v["last-run-endtime"] = e.into();
    }
    if let Some(s) = &gc.state {
        v["last-run-state"] = s.clone().into();
    }
    v
}

fn create(shared: &Arc<Shared>, auth: &str, p: &Params) -> Res {
    let name = p.req("name")?.to_string();
    let path = p.req("path")?.to_string();
    shared.read(|w| {
        need(w, auth, "/datastore", acl::DATASTORE_ALLOCATE, false)?;
        if w.datastores.contains_key(&name) {
            return Err(PbsError::param(
                "name",
                format!("datastore '{name}' already exists."),
            ));
        }
        Ok(())
    })?;
    if !path.starts_with('/') {
        return Err(PbsError::bad(format!(
            "expected absolute path - got {path:?}"
        )));
    }
    if path.trim_end_matches('/').is_empty() {
        return Err(PbsError::bad("cannot create datastore in root path"));
    }
    let config = config_props(&shared.schema, "POST", "/config/datastore", p, &[]);
    let total = shared.size_of(&name);
    let upid = tasks::spawn(shared, "create-datastore", Some(&name.clone()), auth, {
        move |shared, upid| async move {
            tasks::log(&shared, &upid, format!("Chunkstore create: {path}"));
            shared.write(|w| {
                if w.datastores.contains_key(&name) {
                    return Err(format!("datastore '{name}' already exists."));
                }
                w.datastores.insert(
                    name.clone(),
                    Datastore {
                        config,
                        namespaces: BTreeSet::new(),
                        groups: Vec::new(),
                        garbage: Vec::new(),
                        gc: GcResult::default(),
                        total,
                    },
                );
                Ok(0)
            })
        }
    });
    Ok(upid.into())
}

/// `delete_datastore`: the job configurations on the datastore and its
/// ACL subtree go at once (unless `keep-job-configs`), the datastore itself
/// in the `delete-datastore` task.
fn delete(shared: &Arc<Shared>, auth: &str, name: &str, p: &Params) -> Res {
    let keep_jobs = p.flag("keep-job-configs", false);
    let destroy = p.flag("destroy-data", false);
    shared.write(|w| {
        need(
            w,
            auth,
            &datastore_path(name, ""),
            acl::DATASTORE_ALLOCATE,
            false,
        )?;
        if !w.datastores.contains_key(name) {
            return Err(PbsError::http(
                404,
                format!("datastore '{name}' does not exist."),
            ));
        }
        if !keep_jobs {
            let on_store =
                |c: &Map<String, Value>| c.get("store").and_then(Value::as_str) == Some(name);
            w.sync_jobs.retain(|_, c| !on_store(c));
            w.prune_jobs.retain(|_, c| !on_store(c));
            w.verify_jobs.retain(|_, c| !on_store(c));
            let node = datastore_path(name, "");
            w.acl
                .retain(|a| a.path != node && !a.path.starts_with(&format!("{node}/")));
        }
        Ok(())
    })?;
    let name = name.to_string();
    let upid = tasks::spawn(shared, "delete-datastore", Some(&name.clone()), auth, {
        move |shared, upid| async move {
            if destroy {
                tasks::log(
                    &shared,
                    &upid,
                    format!("destroying datastore '{name}' contents"),
                );
            }
            shared.write(|w| w.datastores.remove(&name));
            Ok(0)
        }
    });
    Ok(upid.into())
}

/// NS_PRIVS_OK: what lets one see a namespace.
const NS_PRIVS_OK: u64 =
    acl::DATASTORE_MODIFY | acl::DATASTORE_READ | acl::DATASTORE_BACKUP | acl::DATASTORE_AUDIT;

fn depth(ns: &str) -> usize {
    if ns.is_empty() {
        0
    } else {
        ns.split('/').count()
    }
}

fn list_namespaces(w: &World, auth: &str, store: &str, p: &Params) -> Res {
    let parent = p.ns("parent");
    let max_depth = p
        .int("max-depth")
        .map(|d| d as usize)
        .unwrap_or(MAX_NAMESPACE_DEPTH);
    let parent_ok = acl::allowed(w, auth, &datastore_path(store, &parent), NS_PRIVS_OK, true);
    let ds = lookup(w, store)?;
    if !ds.has_ns(&parent) {
        if !parent_ok {
            return Err(PbsError::forbidden());
        }
        return Err(PbsError::bad(format!(
            "namespace '{parent}' does not exist"
        )));
    }
    let below =
        |ns: &str| parent.is_empty() || ns == parent || ns.starts_with(&format!("{parent}/"));
    let mut all: Vec<String> = std::iter::once(String::new())
        .chain(ds.namespaces.iter().cloned())
        .filter(|ns| {
            below(ns) && depth(ns) >= depth(&parent) && depth(ns) - depth(&parent) <= max_depth
        })
        .collect();
    all.sort();
    let items: Vec<Value> = all
        .into_iter()
        .filter(|ns| acl::allowed(w, auth, &datastore_path(store, ns), NS_PRIVS_OK, true))
        .map(|ns| json!({"ns": ns}))
        .collect();
    if items.is_empty() && !parent_ok {
        return Err(PbsError::forbidden());
    }
    Ok(Value::Array(items))
}

fn create_namespace(w: &mut World, auth: &str, store: &str, p: &Params) -> Res {
    let parent = p.ns("parent");
    let name = p.req("name")?.to_string();
    if depth(&parent) >= MAX_NAMESPACE_DEPTH {
        return Err(PbsError::bad(format!(
            "namespace too deep, {} >= max {MAX_NAMESPACE_DEPTH}",
            depth(&parent)
        )));
    }
    let ns = if parent.is_empty() {
        name.clone()
    } else {
        format!("{parent}/{name}")
    };
    need(
        w,
        auth,
        &datastore_path(store, &parent),
        acl::DATASTORE_MODIFY,
        false,
    )?;
    let ds = w
        .datastores
        .get_mut(store)
        .ok_or_else(|| PbsError::bad(format!("no such datastore '{store}'")))?;
    if !ds.has_ns(&parent) {
        return Err(PbsError::bad(format!(
            "cannot create new namespace, parent {parent} doesn't already exists"
        )));
    }
    ds.namespaces.insert(ns.clone());
    Ok(ns.into())
}

fn delete_namespace(w: &mut World, auth: &str, store: &str, p: &Params) -> Res {
    let ns = p.ns("ns");
    if ns.is_empty() {
        return Err(PbsError::bad("Cannot create/delete root namespace!"));
    }
    let parent = ns.rsplit_once('/').map_or("", |(p, _)| p).to_string();
    need(
        w,
        auth,
        &datastore_path(store, &parent),
        acl::DATASTORE_MODIFY,
        false,
    )?;
    let delete_groups = p.flag("delete-groups", false);
    let ds = w
        .datastores
        .get_mut(store)
        .ok_or_else(|| PbsError::bad(format!("no such datastore '{store}'")))?;
    let inside = |n: &str| n == ns || n.starts_with(&format!("{ns}/"));
    let groups: Vec<(String, String, String)> = ds
        .groups
        .iter()
        .filter(|g| inside(&g.ns))
        .map(|g| (g.ns.clone(), g.backup_type.clone(), g.backup_id.clone()))
        .collect();
    if !groups.is_empty() && !delete_groups {
        return Err(PbsError::bad(
            "only partially deleted due to existing groups but `delete-groups` not true ",
        ));
    }
    let mut protected = false;
    for (gns, ty, id) in groups {
        let times: Vec<(i64, bool)> = ds
            .group(&gns, &ty, &id)
            .map(|g| {
                g.snapshots
                    .values()
                    .map(|s| (s.time, s.protected))
                    .collect()
            })
            .unwrap_or_default();
        for (t, prot) in times {
            if prot {
                protected = true;
            } else {
                ds.remove_snapshot(&gns, &ty, &id, t);
            }
        }
    }
    ds.drop_empty_groups();
    if protected {
        return Err(PbsError::bad(
            "group only partially deleted due to protected snapshots",
        ));
    }
    ds.namespaces.retain(|n| !inside(n));
    Ok(Value::Null)
}
