//! Backups: `POST /nodes/{node}/vzdump` (pve-manager `PVE/API2/VZDump.pm`,
//! `PVE/VZDump.pm`) and a job's "Run now".
//!
//! - the guests are `get_included_guests`'s: a pool's members, the `vmid`
//!   list, or every guest but `exclude` with `all`; only those on this
//!   node are backed up here (a VMID no node has is kept, and fails
//!   visibly: `unable to find VM '<id>'`); with none here and no `all`, the
//!   call answers `OK` and starts nothing;
//! - one `vzdump` worker (its id the VMID when there is one guest) logs as
//!   vzdump does (`INFO: starting new backup job: vzdump ...`, `INFO:
//!   Starting Backup of VM <id> (qemu)`, `ERROR: Backup of VM <id> failed -
//!   <err>`, `INFO: Backup job finished with errors`) and ends `job errors`
//!   when a guest failed;
//! - each guest is locked `lock: backup` for its backup (a guest with
//!   another lock fails: `VM is locked (clone)`), and a stopped guest is
//!   backed up in mode `stop` whatever the job says;
//! - to a `pbs` storage, each guest becomes one snapshot through the PBS
//!   contract ([`PbsConn::write_backup`]): the config blob
//!   (`qemu-server.conf.blob` / `pct.conf.blob`) and one
//!   `drive-<key>.img.fidx` per VM disk with its size, or `root.pxar.didx`
//!   (the root filesystem and mount points with `backup=1`); to a file
//!   storage with `backup` content, one `vzdump-<type>-<id>-<time>` volume.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::async_worker::{log_line, spawn_async};
use super::backup::verify_selection;
use super::guest::{check_lock, drive_volid, is_cdrom, is_disk_key};
use super::pbs_link::{rfc3339, PbsConn, Snapshot};
use super::propstr::{parse_size, split_list, PropString};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::world::{now, GuestKind, Volume, World};

/// Parameters of a vzdump run that are not options of the backup itself.
const JOB_ONLY: &[&str] = &[
    "id",
    "type",
    "schedule",
    "enabled",
    "comment",
    "repeat-missed",
];

/// `get_included_guests`, for `node`: the guests to back up here, sorted.
fn included(world: &World, node: &str, opts: &BTreeMap<String, String>) -> Vec<u32> {
    let ids = |key: &str| -> Vec<u32> {
        opts.get(key)
            .map(|v| {
                split_list(v)
                    .iter()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut vmids: Vec<u32> = if let Some(pool) = opts.get("pool") {
        world
            .pools
            .get(pool)
            .map(|p| p.vms.iter().copied().collect())
            .unwrap_or_default()
    } else if opts.contains_key("vmid") {
        ids("vmid")
    } else if opts.get("all").is_some_and(|v| v != "0") {
        let exclude = ids("exclude");
        world
            .guests
            .keys()
            .copied()
            .filter(|v| !exclude.contains(v))
            .collect()
    } else {
        Vec::new()
    };
    vmids.sort_unstable();
    vmids.dedup();
    vmids.retain(|v| match world.guests.get(v) {
        Some(g) => {
            g.node == node && opts.get("node").is_none_or(|n| n == &g.node) && !g.is_template()
        }
        // Deleted guests are kept and fail visibly.
        None => true,
    });
    vmids
}

/// `POST /nodes/{node}/vzdump`.
pub(crate) fn vzdump(shared: &Arc<Shared>, node: &str, p: &Params) -> ApiResult {
    let opts: BTreeMap<String, String> = p
        .iter()
        .filter(|(k, _)| *k != "node")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match start(shared, node, opts)? {
        Some(upid) => Ok(Reply::data(json!(upid))),
        None => Ok(Reply::data(json!("OK"))),
    }
}

/// Starts a vzdump worker on `node`; `None` when there is nothing to do
/// here.
pub(crate) fn start(
    shared: &Arc<Shared>,
    node: &str,
    mut opts: BTreeMap<String, String>,
) -> Result<Option<String>, ApiError> {
    verify_selection(&mut opts)?;
    let vmids = shared.read(|w| included(w, node, &opts));
    if vmids.is_empty() && opts.get("all").is_none_or(|v| v == "0") {
        return Ok(None);
    }
    let id = if vmids.len() == 1 {
        vmids[0].to_string()
    } else {
        String::new()
    };
    let node_name = node.to_string();
    let latency = shared.settings.task_latency.for_type("vzdump");
    Ok(Some(spawn_async(
        shared,
        node,
        "vzdump",
        &id,
        move |shared, upid| async move { run(&shared, &upid, &node_name, &vmids, &opts, latency).await },
    )))
}

/// What a backup of one guest reads from its config.
struct Prepared {
    kind: GuestKind,
    running: bool,
    name: String,
    snapshot: Snapshot,
}

fn command_line(vmids: &[u32], opts: &BTreeMap<String, String>) -> String {
    let mut cmd = String::from("vzdump");
    for v in vmids {
        cmd.push_str(&format!(" {v}"));
    }
    for (k, v) in opts {
        if k != "vmid" {
            cmd.push_str(&format!(" --{k} {v}"));
        }
    }
    cmd
}

/// Locks the guest `lock: backup` and reads what its backup holds.
fn prepare(world: &mut World, vmid: u32, backup_time: i64) -> Result<Prepared, String> {
    let sizes: BTreeMap<String, u64> = world
        .volumes
        .iter()
        .map(|v| (v.volid.clone(), v.size))
        .collect();
    let guest = world
        .guests
        .get_mut(&vmid)
        .ok_or_else(|| format!("unable to find VM '{vmid}'"))?;
    check_lock(guest)?;
    let config_text = guest.file_text();
    let volume_size = |value: &str| -> u64 {
        drive_volid(value)
            .and_then(|v| sizes.get(&v).copied())
            .or_else(|| {
                PropString::parse(value)
                    .ok()
                    .and_then(|p| p.get("size").and_then(parse_size))
            })
            .unwrap_or(0)
    };
    let mut files = Vec::new();
    let (btype, blob) = match guest.kind {
        GuestKind::Qemu => ("vm", "qemu-server.conf.blob"),
        GuestKind::Lxc => ("ct", "pct.conf.blob"),
    };
    files.push((blob.to_string(), config_text.len() as u64));
    match guest.kind {
        GuestKind::Qemu => {
            for (key, value) in &guest.config {
                if !is_disk_key(key) || is_cdrom(value) || value.contains("cloudinit") {
                    continue;
                }
                files.push((format!("drive-{key}.img.fidx"), volume_size(value)));
            }
        }
        GuestKind::Lxc => {
            let total: u64 = guest
                .config
                .iter()
                .filter(|(k, v)| {
                    k.as_str() == "rootfs"
                        || (k.starts_with("mp")
                            && PropString::parse(v).is_ok_and(|p| p.get("backup") == Some("1")))
                })
                .map(|(_, v)| volume_size(v))
                .sum();
            files.push(("root.pxar.didx".to_string(), total));
        }
    }
    let prepared = Prepared {
        kind: guest.kind,
        running: guest.running(),
        name: guest.display_name(),
        snapshot: Snapshot {
            backup_type: btype.to_string(),
            backup_id: vmid.to_string(),
            backup_time,
            files,
            guest_config: config_text,
            notes: None,
        },
    };
    guest.config.insert("lock".into(), "backup".into());
    Ok(prepared)
}

fn unlock(world: &mut World, vmid: u32) {
    if let Some(g) = world.guests.get_mut(&vmid) {
        if g.lock() == Some("backup") {
            g.config.remove("lock");
        }
    }
}

/// `{{guestname}}`, `{{node}}`, `{{vmid}}`, `{{cluster}}` in a notes template.
fn notes(template: &str, name: &str, node: &str, vmid: u32) -> String {
    template
        .replace("{{guestname}}", name)
        .replace("{{node}}", node)
        .replace("{{vmid}}", &vmid.to_string())
        .replace("{{cluster}}", "pve-sim")
}

/// Where a backup goes.
enum Target {
    Pbs(PbsConn),
    File { storage: String, shared: bool },
}

fn target(world: &World, node: &str, storeid: &str) -> Result<Target, String> {
    let s = world
        .storages
        .get(storeid)
        .filter(|s| s.on_node(node))
        .ok_or_else(|| format!("storage '{storeid}' does not exist"))?;
    if !s.allows("backup") {
        return Err(format!(
            "storage '{storeid}' does not support vzdump backups"
        ));
    }
    Ok(if s.kind == "pbs" {
        Target::Pbs(PbsConn::of(storeid, &s.options))
    } else {
        Target::File {
            storage: storeid.to_string(),
            shared: s.shared,
        }
    })
}

async fn run(
    shared: &Arc<Shared>,
    upid: &str,
    node: &str,
    vmids: &[u32],
    opts: &BTreeMap<String, String>,
    latency: std::time::Duration,
) -> Result<u32, String> {
    let log = |line: String| log_line(shared, upid, line);
    log(format!(
        "INFO: starting new backup job: {}",
        command_line(vmids, opts)
    ));
    let storeid = opts
        .get("storage")
        .cloned()
        .unwrap_or_else(|| "local".into());
    let target = shared.read(|w| target(w, node, &storeid))?;
    let per_guest = latency / vmids.len().max(1) as u32;
    let mut errors = 0;
    for &vmid in vmids {
        let started = now();
        let backup_time = started as i64;
        let kind = shared.read(|w| w.guests.get(&vmid).map(|g| g.kind));
        log(format!(
            "INFO: Starting Backup of VM {vmid} ({})",
            kind.map_or("qemu", GuestKind::as_str)
        ));
        let result = backup_one(
            shared,
            upid,
            node,
            vmid,
            backup_time,
            opts,
            &target,
            per_guest,
        )
        .await;
        shared.write(|w| unlock(w, vmid));
        match result {
            Ok(()) => {
                let secs = now().saturating_sub(started);
                log(format!(
                    "INFO: Finished Backup of VM {vmid} ({:02}:{:02}:{:02})",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                ));
            }
            Err(e) => {
                errors += 1;
                log(format!("ERROR: Backup of VM {vmid} failed - {e}"));
            }
        }
    }
    if errors > 0 {
        log("INFO: Backup job finished with errors".into());
        Err("job errors".into())
    } else {
        log("INFO: Backup job finished successfully".into());
        Ok(0)
    }
}

#[allow(clippy::too_many_arguments)]
async fn backup_one(
    shared: &Arc<Shared>,
    upid: &str,
    node: &str,
    vmid: u32,
    backup_time: i64,
    opts: &BTreeMap<String, String>,
    target: &Target,
    latency: std::time::Duration,
) -> Result<(), String> {
    let log = |line: String| log_line(shared, upid, line);
    let mut prepared = shared.write(|w| prepare(w, vmid, backup_time))?;
    log(format!(
        "INFO: status = {}",
        if prepared.running {
            "running"
        } else {
            "stopped"
        }
    ));
    let mode = if prepared.running {
        opts.get("mode").map_or("snapshot", String::as_str)
    } else {
        "stop"
    };
    log(format!("INFO: backup mode: {mode}"));
    if prepared.kind == GuestKind::Qemu {
        log(format!("INFO: VM Name: {}", prepared.name));
    }
    if let Some(t) = opts.get("notes-template") {
        prepared.snapshot.notes = Some(notes(t, &prepared.name, node, vmid));
    }
    tokio::time::sleep(latency).await;
    let snap = &prepared.snapshot;
    match target {
        Target::Pbs(conn) => {
            log(format!(
                "INFO: creating Proxmox Backup Server archive '{}/{}/{}'",
                snap.backup_type,
                snap.backup_id,
                rfc3339(backup_time)
            ));
            conn.write_backup(snap).await?;
        }
        Target::File {
            storage,
            shared: is_shared,
        } => {
            let t = time::OffsetDateTime::from_unix_timestamp(backup_time)
                .map_err(|e| e.to_string())?;
            let (ty, ext) = match prepared.kind {
                GuestKind::Qemu => ("qemu", "vma.zst"),
                GuestKind::Lxc => ("lxc", "tar.zst"),
            };
            let name = format!(
                "vzdump-{ty}-{vmid}-{:04}_{:02}_{:02}-{:02}_{:02}_{:02}.{ext}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            let volid = format!("{storage}:backup/{name}");
            log(format!("INFO: creating vzdump archive '{name}'"));
            let size = snap.files.iter().map(|(_, s)| s).sum();
            shared.write(|w| {
                w.volumes.push(Volume {
                    volid,
                    storage: storage.clone(),
                    node: (!is_shared).then(|| node.to_string()),
                    content: "backup".into(),
                    format: ext.into(),
                    size,
                    vmid: Some(vmid),
                    ctime: backup_time as u64,
                    virtual_size: None,
                    download: None,
                    oci: None,
                })
            });
        }
    }
    Ok(())
}

/// The vzdump parameters of job `id` ("Run now": the GUI posts the job's
/// options to `/nodes/{node}/vzdump` on every node).
pub(crate) fn job_options(world: &World, id: &str) -> Option<BTreeMap<String, String>> {
    let job = world.backup_jobs.iter().find(|j| j.id == id)?;
    Some(
        job.options
            .iter()
            .filter(|(k, _)| !JOB_ONLY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// `GET /nodes/{node}/storage/{pbs}/content` of a `pbs` storage: its
/// namespace's snapshots as PVE volumes.
pub(crate) async fn pbs_content(shared: &Arc<Shared>, id: &str, p: &Params) -> ApiResult {
    let conn = shared.read(|w| w.storages.get(id).map(|s| PbsConn::of(id, &s.options)));
    let conn = conn.ok_or_else(|| ApiError::die(format!("storage '{id}' does not exist")))?;
    let content_ok = p.get("content").is_none_or(|c| c == "backup");
    let vmid = p.get("vmid").map(str::to_string);
    let snaps = conn.snapshots().await.map_err(ApiError::die)?;
    let items: Vec<Value> = snaps
        .iter()
        .filter(|_| content_ok)
        .filter_map(|s| {
            let btype = s.get("backup-type")?.as_str()?;
            let bid = s.get("backup-id")?.as_str()?;
            let btime = s.get("backup-time")?.as_i64()?;
            if vmid.as_deref().is_some_and(|v| v != bid) {
                return None;
            }
            let mut item = json!({
                "volid": format!("{id}:backup/{btype}/{bid}/{}", rfc3339(btime)),
                "format": format!("pbs-{btype}"),
                "content": "backup",
                "ctime": btime,
                "size": s.get("size").and_then(Value::as_u64).unwrap_or(0),
            });
            if let Ok(n) = bid.parse::<u64>() {
                item["vmid"] = json!(n);
            }
            for key in ["verification", "protected", "comment"] {
                if let Some(v) = s.get(key) {
                    let k = if key == "comment" { "notes" } else { key };
                    item[k] = v.clone();
                }
            }
            Some(item)
        })
        .collect();
    Ok(Reply::data(Value::Array(items)))
}

/// `(total, used, avail, active)` of a `pbs` storage (PBSPlugin `status`:
/// inactive with zeros when the PBS cannot be reached).
pub(crate) async fn pbs_status(conn: &PbsConn) -> (u64, u64, u64, bool) {
    match conn.status().await {
        Ok((t, u, a)) => (t, u, a, true),
        Err(_) => (0, 0, 0, false),
    }
}
