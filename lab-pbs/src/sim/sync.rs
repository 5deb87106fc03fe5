//! The sync job's pull (proxmox-backup `src/server/pull.rs`): copy the
//! snapshots of a source datastore (a local one, or one on a remote PBS)
//! into the job's datastore.
//!
//! - Namespaces: the source's `remote-ns` and below (to `max-depth`,
//!   unlimited when unset) map onto the job's `ns` and below; missing
//!   target namespaces are created.
//! - Groups: `group-filter` (`type:<t>`, `group:<t>/<id>`; an `exclude:`
//!   prefix inverts one) selects; a target group owned by someone else
//!   than the job's `owner` fails that group (`owner check failed`).
//! - Snapshots: with `transfer-last` n only the n newest of each group;
//!   those the target has are skipped, as are those older than its newest
//!   (PBS never inserts into the past); files, sizes, guest config, notes
//!   and the verification state travel with them.
//! - `remove-vanished`: target snapshots, groups and namespaces the source
//!   no longer has go (protected snapshots stay).
//!
//! A remote is reached over HTTPS with its fingerprint and token, through
//! the real `namespace` and `snapshots` listings and the contract's `GET
//! /sim/backup`; a non-loopback host is never dialled: the job fails as
//! PBS fails when it cannot connect.

use std::collections::BTreeSet;
use std::sync::Arc;

use lab_core::Secret;
use serde_json::{Map, Value};

use super::backups::{in_scope, owns};
use super::datastores::MAX_NAMESPACE_DEPTH;
use super::rest::snapshot_dir;
use super::tasks::{self, WorkResult};
use super::world::{File, Group, Snapshot};
use super::{now, Shared};
use crate::api::{ClientConfig, PbsClient};

struct SrcSnap {
    time: i64,
    files: Vec<File>,
    verification: Option<(String, String)>,
}

struct SrcGroup {
    rel_ns: String,
    ty: String,
    id: String,
    snaps: Vec<SrcSnap>,
}

/// Where snapshots come from.
enum Source {
    Local {
        store: String,
    },
    Remote {
        client: PbsClient,
        raw: reqwest::Client,
        base: String,
        auth: String,
        store: String,
    },
}

fn rel(ns: &str, root: &str) -> String {
    if root.is_empty() {
        ns.to_string()
    } else if ns == root {
        String::new()
    } else {
        ns.strip_prefix(root)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(ns)
            .to_string()
    }
}

fn join(root: &str, rel: &str) -> String {
    match (root.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => root.to_string(),
        _ => format!("{root}/{rel}"),
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn str_of<'a>(c: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str)
}

fn matches_filter(filters: &[String], ty: &str, id: &str) -> bool {
    let hit = |f: &str| {
        if let Some(t) = f.strip_prefix("type:") {
            t == ty
        } else if let Some(g) = f.strip_prefix("group:") {
            g == format!("{ty}/{id}")
        } else {
            false
        }
    };
    let includes: Vec<&String> = filters
        .iter()
        .filter(|f| !f.starts_with("exclude:"))
        .collect();
    let included = includes.is_empty() || includes.iter().any(|f| hit(f));
    let excluded = filters
        .iter()
        .filter_map(|f| f.strip_prefix("exclude:"))
        .any(hit);
    included && !excluded
}

async fn open_source(shared: &Shared, job: &Map<String, Value>) -> Result<Source, String> {
    let store = str_of(job, "remote-store").unwrap_or_default().to_string();
    let Some(remote) = str_of(job, "remote") else {
        return Ok(Source::Local { store });
    };
    let r = shared
        .read(|w| w.remotes.get(remote).cloned())
        .ok_or_else(|| format!("no such remote '{remote}'"))?;
    let host = str_of(&r.config, "host").unwrap_or_default().to_string();
    let port = r.config.get("port").and_then(Value::as_u64).unwrap_or(8007);
    let auth = str_of(&r.config, "auth-id").unwrap_or_default().to_string();
    if !is_loopback(&host) {
        // The simulator never dials out; PBS's error when the host cannot
        // be reached.
        return Err(format!(
            "error trying to connect: tcp connect error: Network is unreachable (os error 101) \
             (pbs-sim reaches remotes on loopback only; {host} was not dialled)"
        ));
    }
    let hostport = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let base = format!("https://{hostport}");
    let mut cfg = ClientConfig::new(&base, &auth, Secret::new(r.password.clone()))
        .with_timeout(std::time::Duration::from_secs(20));
    let fp = str_of(&r.config, "fingerprint").map(str::to_string);
    if let Some(fp) = &fp {
        cfg = cfg.with_fingerprint(fp.clone());
    }
    let client = PbsClient::new(cfg).map_err(|e| e.to_string())?;
    let pin = fp
        .as_deref()
        .and_then(lab_proxmox::api::tls::parse_fingerprint);
    let tls = lab_proxmox::api::tls::client_config(pin).map_err(|e| e.to_string())?;
    let raw = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Source::Remote {
        client,
        raw,
        base,
        auth: format!("{auth}:{}", r.password),
        store,
    })
}

/// The source's namespaces (relative to `root`, `""` first) and groups.
async fn list(
    shared: &Shared,
    src: &Source,
    root: &str,
    max_depth: Option<usize>,
) -> Result<(Vec<String>, Vec<SrcGroup>), String> {
    match src {
        Source::Local { store } => shared.read(|w| {
            let ds = w
                .datastores
                .get(store)
                .ok_or_else(|| format!("no such datastore '{store}'"))?;
            if !ds.has_ns(root) {
                return Err(format!("namespace '{root}' does not exist"));
            }
            let namespaces: Vec<String> = std::iter::once(String::new())
                .chain(ds.namespaces.iter().cloned())
                .filter(|n| in_scope(n, root, max_depth))
                .map(|n| rel(&n, root))
                .collect();
            let groups = ds
                .groups
                .iter()
                .filter(|g| in_scope(&g.ns, root, max_depth))
                .map(|g| SrcGroup {
                    rel_ns: rel(&g.ns, root),
                    ty: g.backup_type.clone(),
                    id: g.backup_id.clone(),
                    snaps: g
                        .snapshots
                        .values()
                        .map(|s| SrcSnap {
                            time: s.time,
                            files: s.files.clone(),
                            verification: s.verification.clone(),
                        })
                        .collect(),
                })
                .collect();
            Ok((namespaces, groups))
        }),
        Source::Remote { client, store, .. } => {
            let depth = max_depth.map(|d| d.min(MAX_NAMESPACE_DEPTH) as u8);
            let nss = client
                .namespaces(store, Some(root), depth)
                .await
                .map_err(|e| e.to_string())?;
            let mut namespaces = Vec::new();
            let mut groups: Vec<SrcGroup> = Vec::new();
            for n in nss {
                if !in_scope(&n.ns, root, max_depth) {
                    continue;
                }
                let r = rel(&n.ns, root);
                namespaces.push(r.clone());
                let snaps = client
                    .snapshots(store, Some(&n.ns))
                    .await
                    .map_err(|e| e.to_string())?;
                for s in snaps {
                    let snap = SrcSnap {
                        time: s.backup_time,
                        files: s
                            .files
                            .iter()
                            .map(|f| File {
                                filename: f.filename.clone(),
                                size: f.size.unwrap_or(0),
                            })
                            .collect(),
                        verification: s.verification.map(|v| (v.state, v.upid)),
                    };
                    match groups
                        .iter_mut()
                        .find(|g| g.rel_ns == r && g.ty == s.backup_type && g.id == s.backup_id)
                    {
                        Some(g) => g.snaps.push(snap),
                        None => groups.push(SrcGroup {
                            rel_ns: r.clone(),
                            ty: s.backup_type.clone(),
                            id: s.backup_id.clone(),
                            snaps: vec![snap],
                        }),
                    }
                }
            }
            for g in &mut groups {
                g.snaps.sort_by_key(|s| s.time);
            }
            namespaces.sort();
            Ok((namespaces, groups))
        }
    }
}

/// The guest config and notes of a source snapshot.
async fn details(
    shared: &Shared,
    src: &Source,
    ns: &str,
    ty: &str,
    id: &str,
    time: i64,
) -> Result<(String, Option<String>), String> {
    match src {
        Source::Local { store } => shared.read(|w| {
            w.datastores
                .get(store)
                .and_then(|ds| ds.group(ns, ty, id))
                .and_then(|g| g.snapshots.get(&time))
                .map(|s| (s.guest_config.clone(), s.notes.clone()))
                .ok_or_else(|| format!("snapshot {} does not exist!", snapshot_dir(ty, id, time)))
        }),
        Source::Remote {
            raw,
            base,
            auth,
            store,
            ..
        } => {
            let mut q = vec![
                ("store", store.clone()),
                ("backup-type", ty.to_string()),
                ("backup-id", id.to_string()),
                ("backup-time", time.to_string()),
            ];
            if !ns.is_empty() {
                q.push(("ns", ns.to_string()));
            }
            let query = serde_urlencoded::to_string(&q).map_err(|e| e.to_string())?;
            let resp = raw
                .get(format!("{base}/sim/backup?{query}"))
                .header("Authorization", format!("PBSAPIToken={auth}"))
                .send()
                .await
                .map_err(|e| format!("error trying to connect: {e}"))?;
            let status = resp.status();
            let body = resp.text().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("{} - {}", status.as_u16(), body.trim()));
            }
            let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            let data = &v["data"];
            Ok((
                data["guest-config"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                data["notes"].as_str().map(str::to_string),
            ))
        }
    }
}

/// Runs a sync job (`job` is its configuration) for `owner`.
pub(crate) async fn run(
    shared: &Arc<Shared>,
    upid: &str,
    job: &Map<String, Value>,
    owner: &str,
) -> WorkResult {
    let store = str_of(job, "store").unwrap_or_default().to_string();
    let target_root = str_of(job, "ns").unwrap_or_default().to_string();
    let source_root = str_of(job, "remote-ns").unwrap_or_default().to_string();
    let max_depth = job
        .get("max-depth")
        .and_then(Value::as_u64)
        .map(|d| d as usize);
    let remove_vanished = job
        .get("remove-vanished")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let transfer_last = job
        .get("transfer-last")
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    let filters: Vec<String> = match job.get("group-filter") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let log = |line: String| tasks::log(shared, upid, line);
    log(format!(
        "sync datastore '{store}' from '{}{}'",
        str_of(job, "remote")
            .map(|r| format!("{r}/"))
            .unwrap_or_default(),
        str_of(job, "remote-store").unwrap_or_default()
    ));
    let src = open_source(shared, job).await?;
    let (namespaces, groups) = list(shared, &src, &source_root, max_depth).await?;
    let mut errors = 0u32;

    // Target namespaces.
    for r in &namespaces {
        let target = join(&target_root, r);
        if target.split('/').filter(|c| !c.is_empty()).count() > MAX_NAMESPACE_DEPTH {
            log(format!("namespace too deep: {target}"));
            errors += 1;
            continue;
        }
        let created = shared.write(|w| {
            let ds = w.datastores.get_mut(&store)?;
            if ds.has_ns(&target) {
                return Some(false);
            }
            // Parents first (the list is sorted, so they exist by now, but a
            // job's own `ns` may be missing too).
            let mut path = String::new();
            for c in target.split('/') {
                path = join(&path, c);
                ds.namespaces.insert(path.clone());
            }
            Some(true)
        });
        match created {
            None => return Err(format!("no such datastore '{store}'")),
            Some(true) => log(format!("created namespace {target}")),
            Some(false) => {}
        }
    }

    let mut synced_groups: BTreeSet<(String, String, String)> = BTreeSet::new();
    for g in groups
        .iter()
        .filter(|g| matches_filter(&filters, &g.ty, &g.id))
    {
        let tns = join(&target_root, &g.rel_ns);
        synced_groups.insert((tns.clone(), g.ty.clone(), g.id.clone()));
        let ok_owner = shared.write(|w| {
            let ds = w.datastores.get_mut(&store).ok_or("gone")?;
            match ds.group(&tns, &g.ty, &g.id) {
                Some(t) if !owns(&t.owner, owner) => {
                    Err(format!("owner check failed ({owner} != {})", t.owner))
                }
                Some(_) => Ok(()),
                None => {
                    ds.groups.push(Group {
                        ns: tns.clone(),
                        backup_type: g.ty.clone(),
                        backup_id: g.id.clone(),
                        owner: owner.to_string(),
                        snapshots: Default::default(),
                    });
                    Ok(())
                }
            }
        });
        if let Err(e) = ok_owner {
            log(format!("sync group {}/{} failed - {e}", g.ty, g.id));
            errors += 1;
            continue;
        }
        let skip = transfer_last.map_or(0, |n| g.snaps.len().saturating_sub(n));
        let last_local = shared.read(|w| {
            w.datastores
                .get(&store)
                .and_then(|ds| ds.group(&tns, &g.ty, &g.id))
                .and_then(|t| t.snapshots.keys().next_back().copied())
        });
        let have: BTreeSet<i64> = shared.read(|w| {
            w.datastores
                .get(&store)
                .and_then(|ds| ds.group(&tns, &g.ty, &g.id))
                .map(|t| t.snapshots.keys().copied().collect())
                .unwrap_or_default()
        });
        for s in g.snaps.iter().skip(skip) {
            if have.contains(&s.time) || last_local.is_some_and(|l| s.time < l) {
                continue;
            }
            let src_ns = join(&source_root, &g.rel_ns);
            let (guest_config, notes) =
                match details(shared, &src, &src_ns, &g.ty, &g.id, s.time).await {
                    Ok(d) => d,
                    Err(e) => {
                        log(format!(
                            "sync snapshot {} failed - {e}",
                            snapshot_dir(&g.ty, &g.id, s.time)
                        ));
                        errors += 1;
                        continue;
                    }
                };
            let snap = Snapshot {
                time: s.time,
                files: s.files.clone(),
                guest_config,
                notes,
                protected: false,
                verification: s.verification.clone(),
                touched: now(),
            };
            shared.write(|w| {
                if let Some(t) = w
                    .datastores
                    .get_mut(&store)
                    .and_then(|ds| ds.group_mut(&tns, &g.ty, &g.id))
                {
                    t.snapshots.insert(s.time, snap);
                }
            });
            log(format!(
                "sync snapshot {}",
                snapshot_dir(&g.ty, &g.id, s.time)
            ));
        }
        if remove_vanished {
            let source_times: BTreeSet<i64> = g.snaps.iter().map(|s| s.time).collect();
            let removed = shared.write(|w| {
                let Some(ds) = w.datastores.get_mut(&store) else {
                    return Vec::new();
                };
                let gone: Vec<i64> = ds
                    .group(&tns, &g.ty, &g.id)
                    .map(|t| {
                        t.snapshots
                            .values()
                            .filter(|s| !source_times.contains(&s.time) && !s.protected)
                            .map(|s| s.time)
                            .collect()
                    })
                    .unwrap_or_default();
                for t in &gone {
                    ds.remove_snapshot(&tns, &g.ty, &g.id, *t);
                }
                gone
            });
            for t in removed {
                log(format!(
                    "delete vanished snapshot {}",
                    snapshot_dir(&g.ty, &g.id, t)
                ));
            }
        }
    }

    if remove_vanished {
        let target_nss: BTreeSet<String> =
            namespaces.iter().map(|r| join(&target_root, r)).collect();
        let lines = shared.write(|w| {
            let Some(ds) = w.datastores.get_mut(&store) else {
                return Vec::new();
            };
            let mut lines = Vec::new();
            let vanished: Vec<(String, String, String)> = ds
                .groups
                .iter()
                .filter(|g| in_scope(&g.ns, &target_root, max_depth))
                .filter(|g| matches_filter(&filters, &g.backup_type, &g.backup_id))
                .map(|g| (g.ns.clone(), g.backup_type.clone(), g.backup_id.clone()))
                .filter(|k| !synced_groups.contains(k))
                .collect();
            for (gns, ty, id) in vanished {
                let times: Vec<(i64, bool)> = ds
                    .group(&gns, &ty, &id)
                    .map(|g| {
                        g.snapshots
                            .values()
                            .map(|s| (s.time, s.protected))
                            .collect()
                    })
                    .unwrap_or_default();
                for (t, protected) in times {
                    if !protected {
                        ds.remove_snapshot(&gns, &ty, &id, t);
                    }
                }
                lines.push(format!("delete vanished group '{ty}/{id}'"));
            }
            let stale: Vec<String> = ds
                .namespaces
                .iter()
                .filter(|n| in_scope(n, &target_root, max_depth) && !target_nss.contains(*n))
                .cloned()
                .collect();
            for n in stale {
                if !ds
                    .groups
                    .iter()
                    .any(|g| g.ns == n && !g.snapshots.is_empty())
                {
                    ds.namespaces.remove(&n);
                    lines.push(format!("delete vanished namespace {n}"));
                }
            }
            ds.drop_empty_groups();
            lines
        });
        for l in lines {
            log(l);
        }
    } else {
        shared.write(|w| {
            if let Some(ds) = w.datastores.get_mut(&store) {
                ds.drop_empty_groups();
            }
        });
    }
    if errors > 0 {
        Err("sync failed with some errors.".into())
    } else {
        Ok(0)
    }
}
