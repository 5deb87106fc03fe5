//! Remotes (`/config/remote`) and the sync, prune and verify jobs
//! (`/config/{sync,prune,verify}`, `POST /admin/{kind}/{id}/run`), as
//! proxmox-backup's `src/api2/config/{remote,sync,prune,verify}.rs` and
//! `src/api2/admin/{sync,prune,verify}.rs` answer: duplicates are
//! parameter errors (`remote 'x' already exists.`, `job 'x' already
//! exists.`), a missing one 400 `no such <section type> '<id>'` on read
//! and 404 on delete; a run answers the job's UPID (`syncjob`, `prunejob`,
//! `verificationjob`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::acl::{self, datastore_path};
use super::datastores::{lookup, need};
use super::rest::{apply_update, config_props, digest, Params, PbsError, Res};
use super::world::{Remote, World};
use super::{backups, sync, tasks, Shared};
use crate::api::{JobKind, KeepOptions};

fn kind_of(seg: &str) -> JobKind {
    match seg {
        "sync" => JobKind::Sync,
        "prune" => JobKind::Prune,
        _ => JobKind::Verify,
    }
}

/// The section-config type name (what `no such ...` names).
fn section(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Sync => "sync",
        JobKind::Prune => "prune",
        JobKind::Verify => "verification",
    }
}

fn table(w: &World, kind: JobKind) -> &BTreeMap<String, Map<String, Value>> {
    match kind {
        JobKind::Sync => &w.sync_jobs,
        JobKind::Prune => &w.prune_jobs,
        JobKind::Verify => &w.verify_jobs,
    }
}

fn table_mut(w: &mut World, kind: JobKind) -> &mut BTreeMap<String, Map<String, Value>> {
    match kind {
        JobKind::Sync => &mut w.sync_jobs,
        JobKind::Prune => &mut w.prune_jobs,
        JobKind::Verify => &mut w.verify_jobs,
    }
}

fn field<'a>(c: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str)
}

/// What a job on `c` needs for reading its config, and for changing or
/// running it.
fn job_privs(
    w: &World,
    auth: &str,
    kind: JobKind,
    c: &Map<String, Value>,
    write: bool,
) -> Result<(), PbsError> {
    let store = field(c, "store").unwrap_or_default();
    let ns = field(c, "ns").unwrap_or_default();
    let path = datastore_path(store, ns);
    if !write {
        return need(w, auth, &path, acl::DATASTORE_AUDIT, false);
    }
    match kind {
        // `check_sync_job_modify_access` failing is a plain `bail!`: 400.
        JobKind::Sync => {
            let mut ok = acl::allowed(w, auth, &path, acl::DATASTORE_BACKUP, false);
            if let Some(remote) = field(c, "remote") {
                let rs = field(c, "remote-store").unwrap_or_default();
                let remote_path = format!("/remote/{remote}/{rs}");
                ok &= acl::allowed(w, auth, &remote_path, acl::REMOTE_READ, false);
            }
            if ok {
                Ok(())
            } else {
                Err(PbsError::bad("permission check failed"))
            }
        }
        JobKind::Prune => need(
            w,
            auth,
            &path,
            acl::DATASTORE_MODIFY | acl::DATASTORE_PRUNE,
            true,
        ),
        JobKind::Verify => need(
            w,
            auth,
            &path,
            acl::DATASTORE_MODIFY | acl::DATASTORE_VERIFY,
            true,
        ),
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
        ("GET", ["config", "remote"]) => shared.read(|w| {
            Ok(Value::Array(
                w.remotes
                    .iter()
                    .filter(|(n, _)| {
                        acl::allowed(w, auth, &format!("/remote/{n}"), acl::REMOTE_AUDIT, false)
                    })
                    .map(|(_, r)| Value::Object(r.config.clone()))
                    .collect(),
            ))
        }),
        ("POST", ["config", "remote"]) => {
            let name = p.req("name")?.to_string();
            let password = p.req("password")?.to_string();
            let config = config_props(&shared.schema, "POST", "/config/remote", p, &["password"]);
            shared.write(|w| {
                need(w, auth, "/remote", acl::REMOTE_MODIFY, false)?;
                if w.remotes.contains_key(&name) {
                    return Err(PbsError::param(
                        "name",
                        format!("remote '{name}' already exists."),
                    ));
                }
                w.remotes.insert(name, Remote { config, password });
                Ok(Value::Null)
            })
        }
        ("GET", ["config", "remote", name]) => shared.read(|w| {
            need(
                w,
                auth,
                &format!("/remote/{name}"),
                acl::REMOTE_AUDIT,
                false,
            )?;
            let r = w
                .remotes
                .get(*name)
                .ok_or_else(|| PbsError::bad(format!("no such remote '{name}'")))?;
            let mut c = r.config.clone();
            c.insert("digest".into(), digest(&r.config).into());
            Ok(Value::Object(c))
        }),
        ("PUT", ["config", "remote", name]) => {
            let props = config_props(&shared.schema, "PUT", "/config/remote/x", p, &["password"]);
            shared.write(|w| {
                need(
                    w,
                    auth,
                    &format!("/remote/{name}"),
                    acl::REMOTE_MODIFY,
                    false,
                )?;
                let r = w
                    .remotes
                    .get_mut(*name)
                    .ok_or_else(|| PbsError::bad(format!("no such remote '{name}'")))?;
                apply_update(&mut r.config, props, p);
                if let Some(pw) = p.get("password") {
                    r.password = pw.to_string();
                }
                Ok(Value::Null)
            })
        }
        ("DELETE", ["config", "remote", name]) => shared.write(|w| {
            need(w, auth, "/remote", acl::REMOTE_MODIFY, false)?;
            if !w.remotes.contains_key(*name) {
                return Err(PbsError::http(
                    404,
                    format!("remote '{name}' does not exist."),
                ));
            }
            if let Some((id, c)) = w
                .sync_jobs
                .iter()
                .find(|(_, c)| field(c, "remote") == Some(*name))
            {
                return Err(PbsError::param(
                    "name",
                    format!(
                        "remote '{name}' is used by sync job '{id}' (datastore '{}')",
                        field(c, "store").unwrap_or_default()
                    ),
                ));
            }
            w.remotes.remove(*name);
            Ok(Value::Null)
        }),
        ("GET", ["config", kind]) => {
            let kind = kind_of(kind);
            shared.read(|w| {
                Ok(Value::Array(
                    table(w, kind)
                        .values()
                        .filter(|c| job_privs(w, auth, kind, c, false).is_ok())
                        .map(|c| Value::Object(c.clone()))
                        .collect(),
                ))
            })
        }
        ("POST", ["config", seg]) => {
            let kind = kind_of(seg);
            let id = p.req("id")?.to_string();
            let config = config_props(&shared.schema, "POST", &format!("/config/{seg}"), p, &[]);
            shared.write(|w| {
                job_privs(w, auth, kind, &config, true)?;
                if kind == JobKind::Sync
                    && field(&config, "remote").is_none()
                    && field(&config, "store") == field(&config, "remote-store")
                {
                    return Err(PbsError::bad(
                        "source and target datastore can't be the same",
                    ));
                }
                lookup(w, field(&config, "store").unwrap_or_default())?;
                if let Some(remote) = field(&config, "remote") {
                    if !w.remotes.contains_key(remote) {
                        return Err(PbsError::bad(format!("no such remote '{remote}'")));
                    }
                }
                if table(w, kind).contains_key(&id) {
                    return Err(PbsError::param("id", format!("job '{id}' already exists.")));
                }
                table_mut(w, kind).insert(id, config);
                Ok(Value::Null)
            })
        }
        ("GET", ["config", seg, id]) => {
            let kind = kind_of(seg);
            shared.read(|w| {
                let c = table(w, kind)
                    .get(*id)
                    .ok_or_else(|| PbsError::bad(format!("no such {} '{id}'", section(kind))))?;
                job_privs(w, auth, kind, c, false)?;
                let mut c = c.clone();
                let d = digest(&c);
                c.insert("digest".into(), d.into());
                Ok(Value::Object(c))
            })
        }
        ("PUT", ["config", seg, id]) => {
            let kind = kind_of(seg);
            let props = config_props(
                &shared.schema,
                "PUT",
                &format!("/config/{seg}/x"),
                p,
                &["id"],
            );
            shared.write(|w| {
                let mut c = table(w, kind)
                    .get(*id)
                    .cloned()
                    .ok_or_else(|| PbsError::bad(format!("no such {} '{id}'", section(kind))))?;
                job_privs(w, auth, kind, &c, true)?;
                apply_update(&mut c, props, p);
                job_privs(w, auth, kind, &c, true)?;
                table_mut(w, kind).insert(id.to_string(), c);
                Ok(Value::Null)
            })
        }
        ("DELETE", ["config", seg, id]) => {
            let kind = kind_of(seg);
            shared.write(|w| {
                let c = table(w, kind)
                    .get(*id)
                    .cloned()
                    .ok_or_else(|| PbsError::http(404, format!("job '{id}' does not exist.")))?;
                job_privs(w, auth, kind, &c, true)?;
                table_mut(w, kind).remove(*id);
                Ok(Value::Null)
            })
        }
        ("POST", ["admin", seg, id, "run"]) => run(shared, auth, kind_of(seg), id),
        _ => Err(PbsError::http(
            501,
            format!("pbs-sim does not implement {method} /{}", segs.join("/")),
        )),
    }
}

fn keep_of(c: &Map<String, Value>) -> KeepOptions {
    let n = |k: &str| c.get(k).and_then(Value::as_u64);
    KeepOptions {
        keep_last: n("keep-last"),
        keep_hourly: n("keep-hourly"),
        keep_daily: n("keep-daily"),
        keep_weekly: n("keep-weekly"),
        keep_monthly: n("keep-monthly"),
        keep_yearly: n("keep-yearly"),
    }
}

fn run(shared: &Arc<Shared>, auth: &str, kind: JobKind, id: &str) -> Res {
    let c = shared.read(|w| {
        let c = table(w, kind)
            .get(id)
            .cloned()
            .ok_or_else(|| PbsError::bad(format!("no such {} '{id}'", section(kind))))?;
        job_privs(w, auth, kind, &c, true)?;
        Ok::<_, PbsError>(c)
    })?;
    let store = field(&c, "store").unwrap_or_default().to_string();
    let ns = field(&c, "ns").unwrap_or_default().to_string();
    let max_depth = c
        .get("max-depth")
        .and_then(Value::as_u64)
        .map(|d| d as usize);
    let upid = match kind {
        JobKind::Sync => {
            let wid = format!(
                "{}:{}:{}:{}",
                field(&c, "remote").unwrap_or("-"),
                field(&c, "remote-store").unwrap_or_default(),
                store,
                id
            );
            let owner = field(&c, "owner").unwrap_or("root@pam").to_string();
            tasks::spawn(
                shared,
                "syncjob",
                Some(&wid),
                auth,
                move |shared, upid| async move { sync::run(&shared, &upid, &c, &owner).await },
            )
        }
        JobKind::Prune => {
            let keep = keep_of(&c);
            let wid = format!("{store}:{id}");
            tasks::spawn(
                shared,
                "prunejob",
                Some(&wid),
                auth,
                move |shared, upid| async move {
                    backups::prune(&shared, &upid, &store, &ns, max_depth, &keep)
                },
            )
        }
        JobKind::Verify => {
            let ignore = c
                .get("ignore-verified")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let outdated = c.get("outdated-after").and_then(Value::as_i64);
            let wid = format!("{store}:{id}");
            tasks::spawn(
                shared,
                "verificationjob",
                Some(&wid),
                auth,
                move |shared, upid| async move {
                    backups::verify(&shared, &upid, &store, &ns, max_depth, ignore, outdated)
                },
            )
        }
    };
    Ok(upid.into())
}
