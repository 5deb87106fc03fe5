//! Restores from a `pbs` volume: `POST /nodes/{node}/qemu` with
//! `archive=<storage>:backup/vm/<id>/<time>` (qemu-server `create_vm`,
//! worker `qmrestore`) and `POST /nodes/{node}/lxc` with
//! `ostemplate=<storage>:backup/ct/<id>/<time>` and `restore=1`
//! (pve-container, worker `vzrestore`).
//!
//! As `create_and_lock_config` does, the handler takes the VMID at once
//! (`lock: create`): a VMID in use without `force` is `unable to restore
//! VM <id> - VM <id> already exists on node '<node>'`, a running guest with
//! `force` `unable to restore VM <id> - vm is running`. The worker reads
//! the snapshot through the PBS contract ([`PbsConn::read_backup`]; a
//! missing one fails the task with PBS's words), allocates one volume per
//! backed-up disk with the size it had, on `storage` when given (else the
//! storage it was on), writes the config from the backup (drives pointing
//! at the new volumes, new MACs with `unique=1`, no `lock`), and with
//! `force` frees the old guest's volumes first. A disk that does not fit
//! on its storage fails the task and frees what was allocated.
//! Only PBS archives are simulated; a `vzdump-*` file archive is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::async_worker::{log_line, spawn_async};
use super::disks::{self, split_volid};
use super::guest::{is_cdrom, is_disk_key};
use super::pbs_link::{parse_volname, PbsConn, Snapshot};
use super::propstr::{format_size, is_mac, random_mac, PropString};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::world::{Guest, GuestKind, World};

/// What a restore was asked.
struct Request {
    kind: GuestKind,
    node: String,
    vmid: u32,
    conn: PbsConn,
    btype: String,
    bid: String,
    btime: i64,
    storage: Option<String>,
    unique: bool,
    /// The VMID held a guest before (`force`).
    replaced: bool,
}

fn emsg(kind: GuestKind, vmid: u32) -> String {
    format!("unable to restore {} {vmid} -", kind.label())
}

/// The handler of both restores: checks, the placeholder config, the worker.
pub(crate) fn start(
    shared: &Arc<Shared>,
    kind: GuestKind,
    node: &str,
    p: &Params,
    archive_key: &str,
) -> ApiResult {
    let vmid = p
        .vmid("vmid")?
        .ok_or_else(|| ApiError::param("vmid", "property is missing"))?;
    let archive = p.required(archive_key)?.to_string();
    let force = p.bool("force", false)?;
    let unique = p.bool("unique", false)?;
    let storage = p.get("storage").map(str::to_string);
    let prefix = emsg(kind, vmid);
    let (storeid, volname) = split_volid(&archive)
        .map(|(s, v)| (s.to_string(), v.to_string()))
        .ok_or_else(|| {
            ApiError::param(
                archive_key,
                format!("unable to parse volume ID '{archive}'"),
            )
        })?;
    let req = shared.write(|w| {
        let st = w
            .storages
            .get(&storeid)
            .ok_or_else(|| ApiError::die(format!("storage '{storeid}' does not exist")))?;
        if st.kind != "pbs" {
            return Err(ApiError::die(format!(
                "{prefix} archive '{archive}' is not on a Proxmox Backup Server storage \
                 (pve-sim restores PBS backups only)"
            )));
        }
        let (btype, bid, btime) = parse_volname(&volname).map_err(ApiError::Die)?;
        let wanted = if kind == GuestKind::Qemu { "vm" } else { "ct" };
        if btype != wanted {
            return Err(ApiError::die(format!(
                "{prefix} archive '{archive}' is a '{btype}' backup, not a '{wanted}' one"
            )));
        }
        if let Some(s) = &storage {
            disks::storage_on(w, node, s).map_err(ApiError::Die)?;
        }
        let conn = PbsConn::of(&storeid, &st.options);
        let replaced = match w.guests.get(&vmid) {
            Some(g) if !force => {
                return Err(ApiError::die(format!(
                    "{prefix} {} {vmid} already exists on node '{}'",
                    g.kind.label(),
                    g.node
                )))
            }
            Some(g) if g.kind != kind || g.node != node => {
                return Err(ApiError::die(format!(
                    "{prefix} {} {vmid} already exists on node '{}'",
                    g.kind.label(),
                    g.node
                )))
            }
            Some(g) if g.running() => {
                return Err(ApiError::die(format!("{prefix} vm is running")));
            }
            Some(g) => {
                if let Some(lock) = g.lock() {
                    return Err(ApiError::die(format!(
                        "{prefix} {} is locked ({lock})",
                        kind.label()
                    )));
                }
                true
            }
            None => false,
        };
        match w.guests.get_mut(&vmid) {
            Some(g) => {
                g.config.insert("lock".into(), "create".into());
            }
            None => {
                let mut g = Guest::new(vmid, node, kind);
                g.config.insert("lock".into(), "create".into());
                w.guests.insert(vmid, g);
            }
        }
        Ok(Request {
            kind,
            node: node.to_string(),
            vmid,
            conn,
            btype,
            bid,
            btime,
            storage,
            unique,
            replaced,
        })
    })?;
    let wtype = match kind {
        GuestKind::Qemu => "qmrestore",
        GuestKind::Lxc => "vzrestore",
    };
    let upid = spawn_async(
        shared,
        node,
        wtype,
        &vmid.to_string(),
        move |shared, upid| async move {
            let result = run(&shared, &upid, &req).await;
            if result.is_err() {
                shared.write(|w| {
                    if !req.replaced {
                        w.guests.remove(&req.vmid);
                    } else if let Some(g) = w.guests.get_mut(&req.vmid) {
                        g.config.remove("lock");
                    }
                });
            }
            result.map_err(|e| format!("{} {e}", emsg(req.kind, req.vmid)))
        },
    );
    Ok(Reply::data(json!(upid)))
}

/// The config keys of a config file's text (up to the first section),
/// with `#` lines as the description.
fn parse_config(text: &str) -> BTreeMap<String, String> {
    let mut config = BTreeMap::new();
    let mut description = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            break;
        }
        if let Some(d) = line.strip_prefix('#') {
            description.push(d.to_string());
        } else if let Some((k, v)) = line.split_once(": ") {
            if !matches!(k, "lock" | "parent" | "digest") {
                config.insert(k.to_string(), v.to_string());
            }
        }
    }
    if !description.is_empty() {
        config.insert("description".into(), description.join("\n"));
    }
    config
}

async fn run(shared: &Arc<Shared>, upid: &str, req: &Request) -> Result<u32, String> {
    log_line(
        shared,
        upid,
        format!(
            "restore proxmox backup image: {}/{}/{}",
            req.btype,
            req.bid,
            super::pbs_link::rfc3339(req.btime)
        ),
    );
    let snap = req
        .conn
        .read_backup(&req.btype, &req.bid, req.btime)
        .await?;
    let mut log = Vec::new();
    let result = shared.write(|w| apply(w, req, &snap, &mut log));
    for line in log {
        log_line(shared, upid, line);
    }
    result.map(|()| 0)
}

/// Frees the old guest's volumes (with `force`), allocates the restored
/// disks and writes the config.
fn apply(
    w: &mut World,
    req: &Request,
    snap: &Snapshot,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let files: BTreeMap<&str, u64> = snap.files.iter().map(|(f, s)| (f.as_str(), *s)).collect();
    let old = parse_config(&snap.guest_config);
    if req.replaced {
        w.volumes
            .retain(|v| !(v.vmid == Some(req.vmid) && v.content != "backup" && v.content != "iso"));
    }
    let before = w.volumes.len();
    let mut config = BTreeMap::new();
    let mut failure = None;
    // The root filesystem first (pct allocates it before the mount points).
    let mut keys: Vec<&String> = old.keys().collect();
    keys.sort_by_key(|k| (k.as_str() != "rootfs", k.as_str()));
    for key in keys {
        let value = &old[key];
        if !is_disk_key(key) || is_cdrom(value) {
            config.insert(key.clone(), value.clone());
            continue;
        }
        let Ok(mut prop) = PropString::parse(value) else {
            continue;
        };
        let size = match req.kind {
            GuestKind::Qemu => files.get(format!("drive-{key}.img.fidx").as_str()).copied(),
            // The archive holds the root filesystem and the mount points
            // with backup=1; each is made again with its size.
            GuestKind::Lxc => (key == "rootfs" || prop.get("backup") == Some("1"))
                .then(|| prop.get("size").and_then(super::propstr::parse_size))
                .flatten(),
        };
        let Some(size) = size else {
            continue; // not in the backup (cloud-init drive, mount point without backup=1)
        };
        let original = prop
            .head
            .as_deref()
            .and_then(split_volid)
            .map(|(s, _)| s.to_string());
        let Some(storage) = req.storage.clone().or(original) else {
            continue;
        };
        let free = w
            .storages
            .get(&storage)
            .map(|s| s.total.saturating_sub(w.storage_used(&req.node, &storage)))
            .unwrap_or(0);
        if size > free {
            failure = Some(format!(
                "no space left on storage '{storage}' for {key} ({} needed, {} free)",
                format_size(size),
                format_size(free)
            ));
            break;
        }
        let content = if req.kind == GuestKind::Qemu {
            "images"
        } else {
            "rootdir"
        };
        let volid =
            match disks::alloc_image(w, &req.node, &storage, req.vmid, size, content, None, log) {
                Ok(v) => v,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
        log.push(format!("new volume ID is '{volid}'"));
        prop.head = Some(volid);
        prop.set("size", format_size(size));
        config.insert(key.clone(), prop.print());
    }
    if let Some(e) = failure {
        let allocated: Vec<String> = w.volumes[before..]
            .iter()
            .map(|v| v.volid.clone())
            .collect();
        for v in allocated {
            w.remove_volume(&req.node, &v);
        }
        return Err(e);
    }
    if req.unique {
        for (key, value) in config.iter_mut() {
            if !key.starts_with("net") {
                continue;
            }
            let Ok(mut prop) = PropString::parse(value) else {
                continue;
            };
            let mac_keys: Vec<String> = prop
                .pairs
                .iter()
                .filter(|(k, v)| is_mac(v) && (k == "hwaddr" || req.kind == GuestKind::Qemu))
                .map(|(k, _)| k.clone())
                .collect();
            for k in mac_keys {
                prop.set(&k, random_mac());
            }
            *value = if req.kind == GuestKind::Lxc {
                prop.print_key_first("name")
            } else {
                prop.print()
            };
        }
    }
    let guest = w
        .guests
        .get_mut(&req.vmid)
        .ok_or_else(|| "the placeholder config vanished".to_string())?;
    guest.config = config;
    guest.pending.clear();
    guest.pending_delete.clear();
    guest.snapshots.clear();
    log.push(format!(
        "restored {} {} from the backup",
        req.kind.label(),
        req.vmid
    ));
    Ok(())
}
