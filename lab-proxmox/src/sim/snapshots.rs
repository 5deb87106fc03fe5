//! Guest snapshots: `/nodes/{node}/{qemu|lxc}/{vmid}/snapshot/...`.
//!
//! Modelled after pve-guest-common `src/PVE/AbstractConfig.pm`
//! (`snapshot_create`, `snapshot_rollback`, `snapshot_delete`), qemu-server
//! `src/PVE/API2/Qemu.pm` and pve-container `src/PVE/API2/LXC/Snapshot.pm`:
//!
//! - the list holds every snapshot (`name`, `snaptime`, `description`,
//!   `parent`, `snapstate` while a worker is on it, QEMU also `vmstate`
//!   0/1) and then `current` (`digest`, `running`, `description` "You are
//!   here!", `parent`);
//! - create forks `qmsnapshot` / `vzsnapshot`. Its first step
//!   (`__snapshot_prepare`) refuses a template (`you can't take a snapshot
//!   if it's a template`), a locked guest (`VM is locked (<lock>)`), a used
//!   name (`snapshot name '<n>' already used`) and a volume whose storage
//!   cannot snapshot it (`snapshot feature is not available`: raw files on
//!   directory storages, thick LVM), then writes `lock: snapshot` and the
//!   section with `snapstate: prepare`; with `vmstate=1` on a running VM
//!   the RAM goes to a `vm-<id>-state-<name>` volume. The volume snapshots
//!   take the worker's latency, and the commit drops `snapstate` and the
//!   lock and sets the config's `parent`;
//! - rollback (`qmrollback` / `vzrollback`) stops a running guest, writes
//!   `lock: rollback`, then replaces the config by the snapshot's (keeping
//!   `description` and `unused[n]`, a disk the snapshot lacks becoming
//!   `unused[n]`), sets `parent`, and starts a VM whose snapshot holds RAM
//!   (or any guest with `start=1`); an incomplete snapshot is refused
//!   (`unable to rollback to incomplete snapshot (snapstate = <s>)`);
//! - delete (`qmdelsnapshot` / `vzdelsnapshot`) takes `lock:
//!   snapshot-delete`, marks the section `snapstate: delete`, frees the
//!   state volume, removes the section, hands its `parent` down to the
//!   snapshots (and config) that pointed at it and drops the lock;
//! - `.../snapshot/{name}/config` reads a section (with the config's
//!   `digest`) or updates its `description` (synchronous, `null`).
//!
//! The workers take the config lock per step, as `lock_config` in the real
//! ones does, so what another client meets meanwhile is the `lock` key
//! (`VM is locked (snapshot)`), not a lock timeout. A node that goes down
//! mid-task leaves `lock: snapshot` and `snapstate: prepare` behind, as a
//! real one does.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::disks;
use super::guest::{self, Power};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::tasks::{self, Cx, Effect, TaskPlan};
use super::world::{now, Guest, GuestKind, GuestStatus, Snapshot, World};

/// What a snapshot worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SnapOp {
    /// Create.
    Create,
    /// Roll back.
    Rollback,
    /// Delete.
    Delete,
}

/// A snapshot worker's plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SnapPlan {
    /// QEMU or LXC.
    pub kind: GuestKind,
    /// Node.
    pub node: String,
    /// VMID.
    pub vmid: u32,
    /// Snapshot name.
    pub snapname: String,
    /// The operation.
    pub op: SnapOp,
    /// Create: `vmstate=1` (QEMU).
    #[serde(default)]
    pub vmstate: bool,
    /// Create: `description`.
    #[serde(default)]
    pub description: Option<String>,
    /// Rollback: `start=1`.
    #[serde(default)]
    pub start: bool,
    /// Delete: `force=1`.
    #[serde(default)]
    pub force: bool,
}

impl SnapPlan {
    /// The worker type.
    fn wtype(&self) -> &'static str {
        match (self.kind, self.op) {
            (GuestKind::Qemu, SnapOp::Create) => "qmsnapshot",
            (GuestKind::Qemu, SnapOp::Rollback) => "qmrollback",
            (GuestKind::Qemu, SnapOp::Delete) => "qmdelsnapshot",
            (GuestKind::Lxc, SnapOp::Create) => "vzsnapshot",
            (GuestKind::Lxc, SnapOp::Rollback) => "vzrollback",
            (GuestKind::Lxc, SnapOp::Delete) => "vzdelsnapshot",
        }
    }
}

/// Keys `__snapshot_copy_config` leaves out of a snapshot (and a rollback
/// out of the restored config).
fn not_copied(key: &str) -> bool {
    matches!(
        key,
        "snapstate" | "snaptime" | "vmstate" | "lock" | "digest" | "description" | "parent"
    ) || guest::is_unused_key(key)
}

/// The volumes of a config a snapshot covers: QEMU drives that are not
/// CD-ROMs (a cloud-init drive is one), LXC `rootfs` and `mp[n]` volumes.
fn snapshot_volumes(config: &BTreeMap<String, String>) -> Vec<(String, String)> {
    config
        .iter()
        .filter(|(k, v)| guest::is_disk_key(k) && !guest::is_cdrom(v))
        .filter_map(|(k, v)| guest::drive_volid(v).map(|volid| (k.clone(), volid)))
        .collect()
}

/// Whether the storage plugin can snapshot a volume
/// (`volume_has_feature(snapshot)`): LVM-thin, ZFS, Ceph RBD, Btrfs
/// always; directory-like storages only qcow2 files (pve-storage
/// `Plugin.pm`); thick LVM only with `snapshot-as-volume-chain`.
fn can_snapshot(world: &World, node: &str, volid: &str) -> bool {
    let Some((sid, name)) = disks::split_volid(volid) else {
        return false;
    };
    let Some(storage) = world.storages.get(sid) else {
        return false;
    };
    let format = world
        .volume(node, volid)
        .map(|v| v.format.clone())
        .unwrap_or_else(|| {
            name.rsplit_once('.')
                .map(|(_, e)| e.to_string())
                .unwrap_or_else(|| "raw".into())
        });
    match storage.kind.as_str() {
        "lvmthin" | "zfspool" | "zfs" | "rbd" | "btrfs" => true,
        "lvm" => {
            storage
                .options
                .get("snapshot-as-volume-chain")
                .map(String::as_str)
                == Some("1")
                && format == "qcow2"
        }
        _ => format == "qcow2",
    }
}

fn missing_snapshot(name: &str) -> String {
    format!("snapshot '{name}' does not exist")
}

fn find<'a>(g: &'a Guest, name: &str) -> Result<&'a Snapshot, String> {
    g.snapshots.get(name).ok_or_else(|| missing_snapshot(name))
}

/// `GET .../snapshot`.
pub(crate) fn list(shared: &Arc<Shared>, kind: GuestKind, node: &str, vmid: u32) -> ApiResult {
    shared.read(|w| {
        let g = guest::lookup(w, kind, node, vmid).map_err(ApiError::Die)?;
        let mut snaps: Vec<(&String, &Snapshot)> = g.snapshots.iter().collect();
        let time = |s: &Snapshot| -> i64 {
            s.config
                .get("snaptime")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0)
        };
        snaps.sort_by(|a, b| time(a.1).cmp(&time(b.1)).then(a.0.cmp(b.0)));
        let mut items = Vec::new();
        for (name, snap) in snaps {
            let mut obj = Map::new();
            obj.insert("name".into(), json!(name));
            obj.insert("snaptime".into(), json!(time(snap)));
            if kind == GuestKind::Qemu {
                let has = snap.config.contains_key("vmstate");
                obj.insert("vmstate".into(), json!(u8::from(has)));
            }
            obj.insert(
                "description".into(),
                json!(snap.config.get("description").cloned().unwrap_or_default()),
            );
            for key in ["parent", "snapstate"] {
                if let Some(v) = snap.config.get(key) {
                    obj.insert(key.into(), json!(v));
                }
            }
            items.push(Value::Object(obj));
        }
        let mut current = Map::new();
        current.insert("name".into(), json!("current"));
        current.insert("digest".into(), json!(g.digest()));
        current.insert("running".into(), json!(u8::from(g.running())));
        current.insert("description".into(), json!("You are here!"));
        if let Some(parent) = g.config.get("parent") {
            current.insert("parent".into(), json!(parent));
        }
        items.push(Value::Object(current));
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET .../snapshot/{snapname}`: the command index (no existence check,
/// as in PVE).
pub(crate) fn index() -> ApiResult {
    Ok(Reply::data(json!([{"cmd": "rollback"}, {"cmd": "config"}])))
}

/// A snapshot section as `load_snapshot_config` returns it (plus the
/// config's `digest`).
pub(crate) fn section_json(g: &Guest, name: &str) -> Result<Value, ApiError> {
    let snap = find(g, name).map_err(ApiError::Die)?;
    let mut obj = Map::new();
    for (k, v) in &snap.config {
        let value = match (g.kind, k.as_str()) {
            (GuestKind::Qemu, "cipassword") => json!("**********"),
            (_, "snaptime") => v.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(v)),
            _ => guest::typed(g.kind, k, v),
        };
        obj.insert(k.clone(), value);
    }
    obj.insert("digest".into(), json!(g.digest()));
    Ok(Value::Object(obj))
}

/// `GET .../snapshot/{snapname}/config`.
pub(crate) fn get_config(
    shared: &Arc<Shared>,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    snapname: &str,
) -> ApiResult {
    shared.read(|w| {
        let g = guest::lookup(w, kind, node, vmid).map_err(ApiError::Die)?;
        section_json(g, snapname).map(Reply::data)
    })
}

/// `PUT .../snapshot/{snapname}/config`: sets the description under the
/// config lock (`check_lock` first); without `description` nothing
/// happens.
pub(crate) fn put_config(
    shared: &Arc<Shared>,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    snapname: &str,
    p: &Params,
) -> ApiResult {
    let Some(description) = p.get("description").map(str::to_string) else {
        return Ok(Reply::null());
    };
    shared.write(|w| {
        let g = guest::lookup_mut(w, kind, node, vmid).map_err(ApiError::Die)?;
        guest::check_lock(g).map_err(ApiError::Die)?;
        let snap = g
            .snapshots
            .get_mut(snapname)
            .ok_or_else(|| ApiError::Die(missing_snapshot(snapname)))?;
        snap.config.insert("description".into(), description);
        Ok(Reply::null())
    })
}

/// `POST .../snapshot`: the handler checks the reserved names (QEMU:
/// `current`, `pending`; LXC: `current`, `vzdump`) and that the config
/// exists, then forks.
pub(crate) fn create(
    shared: &Arc<Shared>,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    p: &Params,
) -> ApiResult {
    let snapname = p.required("snapname")?.to_string();
    let reserved = match kind {
        GuestKind::Qemu => snapname == "current" || snapname.eq_ignore_ascii_case("pending"),
        GuestKind::Lxc => snapname == "current" || snapname == "vzdump",
    };
    if reserved {
        let shown = if kind == GuestKind::Qemu && snapname != "current" {
            "pending".to_string()
        } else {
            snapname.clone()
        };
        return Err(ApiError::die(format!(
            "unable to use snapshot name '{shown}' (reserved name)"
        )));
    }
    let vmstate = kind == GuestKind::Qemu && p.bool("vmstate", false)?;
    shared.read(|w| {
        guest::lookup(w, kind, node, vmid)
            .map(|_| ())
            .map_err(ApiError::Die)
    })?;
    spawn(
        shared,
        SnapPlan {
            kind,
            node: node.to_string(),
            vmid,
            snapname,
            op: SnapOp::Create,
            vmstate,
            description: p.get("description").map(str::to_string),
            start: false,
            force: false,
        },
    )
}

/// `POST .../snapshot/{snapname}/rollback`.
pub(crate) fn rollback(
    shared: &Arc<Shared>,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    snapname: &str,
    p: &Params,
) -> ApiResult {
    let start = p.bool("start", false)?;
    spawn(
        shared,
        SnapPlan {
            kind,
            node: node.to_string(),
            vmid,
            snapname: snapname.to_string(),
            op: SnapOp::Rollback,
            vmstate: false,
            description: None,
            start,
            force: false,
        },
    )
}

/// `DELETE .../snapshot/{snapname}`.
pub(crate) fn delete(
    shared: &Arc<Shared>,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    snapname: &str,
    p: &Params,
) -> ApiResult {
    let force = p.bool("force", false)?;
    spawn(
        shared,
        SnapPlan {
            kind,
            node: node.to_string(),
            vmid,
            snapname: snapname.to_string(),
            op: SnapOp::Delete,
            vmstate: false,
            description: None,
            start: false,
            force,
        },
    )
}

fn spawn(shared: &Arc<Shared>, plan: SnapPlan) -> ApiResult {
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(
            &plan.node.clone(),
            plan.wtype(),
            plan.vmid.to_string(),
            Effect::Snapshot(plan),
        ),
    );
    Ok(Reply::data(json!(upid)))
}

/// The first step of a snapshot worker (under the config lock).
pub(crate) fn begin(world: &mut World, plan: &SnapPlan, cx: &mut Cx) -> Result<(), String> {
    match plan.op {
        SnapOp::Create => prepare_create(world, plan, cx),
        SnapOp::Rollback => prepare_rollback(world, plan, cx),
        SnapOp::Delete => prepare_delete(world, plan),
    }
}

/// `__snapshot_prepare`.
fn prepare_create(world: &mut World, plan: &SnapPlan, cx: &mut Cx) -> Result<(), String> {
    let (kind, node, vmid, name) = (plan.kind, plan.node.as_str(), plan.vmid, &plan.snapname);
    let g = guest::lookup(world, kind, node, vmid)?.clone();
    if g.is_template() {
        return Err("you can't take a snapshot if it's a template".to_string());
    }
    guest::check_lock(&g)?;
    if g.snapshots.contains_key(name) {
        return Err(format!("snapshot name '{name}' already used"));
    }
    if snapshot_volumes(&g.config)
        .iter()
        .any(|(_, volid)| !can_snapshot(world, node, volid))
    {
        return Err("snapshot feature is not available".to_string());
    }
    let mut snap = Snapshot::default();
    for (k, v) in &g.config {
        if !not_copied(k) {
            snap.config.insert(k.clone(), v.clone());
        }
    }
    if let Some(parent) = g.config.get("parent") {
        snap.config.insert("parent".into(), parent.clone());
    }
    if plan.vmstate && g.running() {
        let storage = guest::vmstate_storage(world, &g);
        let size = guest::state_size(&g);
        let before = world.volumes.len();
        let volid = guest::alloc_state(world, node, &storage, vmid, name, size, cx.log)?;
        cx.record_allocations(world, before);
        snap.config.insert("vmstate".into(), volid);
        snap.config
            .insert("runningmachine".into(), "pc-i440fx-9.2+pve1".into());
        cx.log
            .push("saving VM state and RAM using storage".to_string());
    }
    snap.config.insert("snapstate".into(), "prepare".into());
    snap.config.insert("snaptime".into(), now().to_string());
    if let Some(d) = plan.description.as_deref().filter(|d| !d.is_empty()) {
        snap.config.insert("description".into(), d.to_string());
    }
    let g = guest::lookup_mut(world, kind, node, vmid)?;
    for other in g.snapshots.values_mut() {
        if other.config.get("parent") == Some(name) {
            other.config.remove("parent");
        }
    }
    g.config.insert("lock".into(), "snapshot".into());
    g.snapshots.insert(name.clone(), snap);
    Ok(())
}

/// `snapshot_rollback`, prepare step: checks, stops the guest, `lock:
/// rollback`.
fn prepare_rollback(world: &mut World, plan: &SnapPlan, cx: &mut Cx) -> Result<(), String> {
    let (kind, node, vmid, name) = (plan.kind, plan.node.as_str(), plan.vmid, &plan.snapname);
    let g = guest::lookup(world, kind, node, vmid)?;
    if g.is_template() {
        return Err("you can't rollback if vm is a template".to_string());
    }
    let snap = find(g, name)?;
    if let Some(state) = snap.config.get("snapstate") {
        return Err(format!(
            "unable to rollback to incomplete snapshot (snapstate = {state})"
        ));
    }
    guest::check_lock(g)?;
    let g = guest::lookup_mut(world, kind, node, vmid)?;
    if g.running() {
        cx.log.push(format!("stopping {} {vmid}", kind.label()));
        g.status = GuestStatus::Stopped;
        g.paused = false;
        g.started_at = None;
        g.pid = None;
    }
    g.config.insert("lock".into(), "rollback".into());
    Ok(())
}

/// `snapshot_delete`, prepare step: `set_lock('snapshot-delete')` (which
/// checks the lock first), then `snapstate: delete`.
fn prepare_delete(world: &mut World, plan: &SnapPlan) -> Result<(), String> {
    let (kind, node, vmid, name) = (plan.kind, plan.node.as_str(), plan.vmid, &plan.snapname);
    let g = guest::lookup(world, kind, node, vmid)?;
    find(g, name)?;
    guest::check_lock(g)?;
    if g.is_template() {
        return Err("you can't delete a snapshot if vm is a template".to_string());
    }
    let g = guest::lookup_mut(world, kind, node, vmid)?;
    g.config.insert("lock".into(), "snapshot-delete".into());
    if let Some(snap) = g.snapshots.get_mut(name) {
        snap.config.insert("snapstate".into(), "delete".into());
    }
    Ok(())
}

/// The timed stage: the volume snapshots (create), rollbacks or deletions,
/// one log line each.
pub(crate) fn stage(world: &mut World, plan: &SnapPlan, cx: &mut Cx) -> Result<(), String> {
    let g = guest::lookup(world, plan.kind, &plan.node, plan.vmid)?;
    let config = match plan.op {
        SnapOp::Create => g.config.clone(),
        SnapOp::Rollback | SnapOp::Delete => g
            .snapshots
            .get(&plan.snapname)
            .map(|s| s.config.clone())
            .unwrap_or_default(),
    };
    for (key, volid) in snapshot_volumes(&config) {
        let verb = match plan.op {
            SnapOp::Create => "snapshotting",
            SnapOp::Rollback => "rolling back",
            SnapOp::Delete => "deleting snapshot of",
        };
        cx.log.push(format!("{verb} '{key}' ({volid})"));
    }
    Ok(())
}

/// The last step: commit, restore or remove.
pub(crate) fn apply(world: &mut World, plan: &SnapPlan, cx: &mut Cx) -> Result<u32, String> {
    let (kind, node, vmid, name) = (plan.kind, plan.node.as_str(), plan.vmid, &plan.snapname);
    match plan.op {
        SnapOp::Create => {
            // `__snapshot_commit`.
            let g = guest::lookup_mut(world, kind, node, vmid)?;
            if g.lock() != Some("snapshot") {
                return Err("missing snapshot lock".to_string());
            }
            let snap = g
                .snapshots
                .get_mut(name)
                .ok_or_else(|| missing_snapshot(name))?;
            if snap.config.get("snapstate").map(String::as_str) != Some("prepare") {
                return Err("wrong snapshot state".to_string());
            }
            snap.config.remove("snapstate");
            g.config.remove("lock");
            g.config.insert("parent".into(), name.clone());
            Ok(0)
        }
        SnapOp::Rollback => {
            let g = guest::lookup(world, kind, node, vmid)?.clone();
            if g.lock() != Some("rollback") {
                return Err("got wrong lock".to_string());
            }
            let snap = find(&g, name)?.clone();
            // `__snapshot_apply_config`: the snapshot's keys, the current
            // description and unused disks; `__snapshot_rollback_get_unused`:
            // a current disk the snapshot does not have becomes unused.
            let mut config: BTreeMap<String, String> = g
                .config
                .iter()
                .filter(|(k, _)| guest::is_unused_key(k) || k.as_str() == "description")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let snap_volids: Vec<String> = snapshot_volumes(&snap.config)
                .into_iter()
                .map(|(_, v)| v)
                .collect();
            for (_, volid) in snapshot_volumes(&g.config) {
                let elsewhere = g
                    .snapshots
                    .values()
                    .any(|s| snapshot_volumes(&s.config).iter().any(|(_, v)| *v == volid));
                if !snap_volids.contains(&volid) && !elsewhere {
                    let key = guest::next_unused(&config);
                    config.insert(key, volid);
                }
            }
            for (k, v) in &snap.config {
                if !not_copied(k) {
                    config.insert(k.clone(), v.clone());
                }
            }
            // The state's machine type is the snapshot's, not the
            // config's (qemu-server `__snapshot_rollback_hook`).
            config.remove("runningmachine");
            config.remove("runningcpu");
            config.insert("parent".into(), name.clone());
            // A volume rolled back has the size it had then.
            for (key, volid) in snapshot_volumes(&snap.config) {
                let size = snap
                    .config
                    .get(&key)
                    .and_then(|v| super::propstr::PropString::parse(v).ok())
                    .and_then(|p| p.get("size").and_then(super::propstr::parse_size));
                if let (Some(size), Some(v)) = (
                    size,
                    world
                        .volumes
                        .iter_mut()
                        .find(|v| v.volid == volid && v.node.as_deref().is_none_or(|n| n == node)),
                ) {
                    v.size = size;
                }
            }
            let g = guest::lookup_mut(world, kind, node, vmid)?;
            g.config = config;
            g.pending.clear();
            g.pending_delete.clear();
            let with_ram = snap.config.contains_key("vmstate");
            if with_ram || plan.start {
                let mut warnings = Vec::new();
                guest::power_apply(world, kind, node, vmid, &Power::Start, false, &mut warnings)?;
                cx.log.append(&mut warnings);
            }
            Ok(0)
        }
        SnapOp::Delete => {
            let g = guest::lookup(world, kind, node, vmid)?;
            if g.lock() != Some("snapshot-delete") {
                return Err("encountered invalid lock, expected 'snapshot-delete'".to_string());
            }
            let snap = find(g, name)?.clone();
            let mut warnings = 0;
            if let Some(state) = snap.config.get("vmstate") {
                if let Err(e) = disks::free(world, node, state, cx.log) {
                    if !plan.force {
                        return Err(e);
                    }
                    cx.log.push(format!("WARN: {e}"));
                    warnings += 1;
                }
            }
            let parent = snap.config.get("parent").cloned();
            let g = guest::lookup_mut(world, kind, node, vmid)?;
            let relink = |config: &mut BTreeMap<String, String>| {
                if config.get("parent") == Some(name) {
                    match &parent {
                        Some(p) => {
                            config.insert("parent".into(), p.clone());
                        }
                        None => {
                            config.remove("parent");
                        }
                    }
                }
            };
            relink(&mut g.config);
            for (other, s) in g.snapshots.iter_mut() {
                if other != name {
                    relink(&mut s.config);
                }
            }
            g.snapshots.remove(name);
            g.config.remove("lock");
            Ok(warnings)
        }
    }
}

/// What a failing snapshot worker undoes: a create that prepared its
/// section removes it and the lock again (`snapshot_delete` with force).
pub(crate) fn on_failure(world: &mut World, plan: &SnapPlan, begun: bool) {
    if plan.op != SnapOp::Create || !begun {
        return;
    }
    if let Ok(g) = guest::lookup_mut(world, plan.kind, &plan.node, plan.vmid) {
        if g.snapshots
            .get(&plan.snapname)
            .is_some_and(|s| s.config.get("snapstate").map(String::as_str) == Some("prepare"))
        {
            g.snapshots.remove(&plan.snapname);
            if g.lock() == Some("snapshot") {
                g.config.remove("lock");
            }
        }
    }
}
