//! The volumes on a storage: `GET /nodes/{node}/storage/{storage}/content`
//! (the list), `GET .../content/{volume}` (one volume's attributes) and
//! `DELETE .../content/{volume}` (the `imgdel` task), after pve-storage
//! `src/PVE/API2/Storage/Content.pm` (proxmox-api.md §8).
//!
//! `{volume}` is a whole volume id, `/` included, encoded or not (the
//! router joins the rest of the path; see `crate::schema::FRAGMENT_DELIMITED`),
//! or a volume name relative to the storage (`vztmpl/x.tar.zst`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::disks;
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::storage::subdir;
use super::tasks::{self, Cx, Effect, TaskPlan};
use super::world::{Volume, World};

fn volume_json(v: &Volume) -> Value {
    let mut obj = Map::new();
    obj.insert("volid".into(), json!(v.volid));
    obj.insert("format".into(), json!(v.format));
    obj.insert("size".into(), json!(v.size));
    obj.insert("content".into(), json!(v.content));
    obj.insert("ctime".into(), json!(v.ctime));
    if let Some(vmid) = v.vmid {
        obj.insert("vmid".into(), json!(vmid));
    }
    if v.content == "images" || v.content == "rootdir" {
        obj.insert("used".into(), json!(v.size / 3));
    }
    if let Some((_, name)) = v.volid.split_once(':') {
        if let Some((base, _)) = name.split_once('/').filter(|(b, _)| b.starts_with("base-")) {
            obj.insert("parent".into(), json!(format!("{base}@__base__")));
        }
    }
    Value::Object(obj)
}

/// `GET /nodes/{node}/storage/{storage}/content`.
pub(crate) fn content(shared: &Arc<Shared>, node: &str, id: &str, p: &Params) -> ApiResult {
    let content = p.get("content").map(str::to_string);
    let vmid = p.int("vmid")?;
    shared.read(|w| {
        disks::storage_on(w, node, id).map_err(ApiError::Die)?;
        let items: Vec<Value> = w
            .volumes
            .iter()
            .filter(|v| v.storage == id && v.node.as_deref().is_none_or(|n| n == node))
            .filter(|v| content.as_deref().is_none_or(|c| v.content == c))
            .filter(|v| vmid.is_none_or(|id| v.vmid == Some(id as u32)))
            .map(volume_json)
            .collect();
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /nodes/{node}/storage/{storage}/content/{volume}`.
pub(crate) fn volume_attributes(
    shared: &Arc<Shared>,
    node: &str,
    id: &str,
    volume: &str,
) -> ApiResult {
    let volid = if volume.contains(':') {
        volume.to_string()
    } else {
        format!("{id}:{volume}")
    };
    shared.read(|w| {
        let v = w
            .volume(node, &volid)
            .ok_or_else(|| ApiError::die(format!("volume '{volid}' does not exist")))?;
        let mut obj = volume_json(v);
        if let Some(o) = obj.as_object_mut() {
            o.insert(
                "path".into(),
                json!(format!("/dev/{}", volid.replace(':', "/"))),
            );
            o.insert("protected".into(), json!(0));
        }
        Ok(Reply::data(obj))
    })
}

/// The owner VMID a volume name carries (`vm-101-disk-0`, `101/vm-101-disk-0.qcow2`,
/// `base-9000-disk-0/vm-101-disk-0`: the last image's owner), as the plugins'
/// `parse_volname` derive it; ISOs and templates have none.
fn owner_from_name(name: &str) -> Option<u32> {
    let last = name.rsplit('/').next().unwrap_or(name);
    let rest = last
        .strip_prefix("vm-")
        .or_else(|| last.strip_prefix("base-"))?;
    rest.split('-').next()?.parse().ok()
}

/// The `imgdel` plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeletePlan {
    /// Node.
    pub node: String,
    /// Storage id.
    pub storage: String,
    /// The full volume id.
    pub volid: String,
}

/// `DELETE /nodes/{node}/storage/{storage}/content/{volume}`: forks
/// `imgdel` (worker id `<owner vmid>@<storage>` or `<storage>`) and answers
/// its UPID; with `delay` (1-30 s) it waits for the task and answers `null`
/// when it ended well, or fails with its exit status (pve-storage
/// `src/PVE/API2/Storage/Content.pm`, method `delete`). A volume id with a
/// `:` must name this storage (`storage ID mismatch (a != b)`, a 400 on
/// `volume`); one without is taken relative to it.
///
/// Real PVE does not check whether a guest still uses the volume (the
/// worker calls `vdisk_free` and nothing else; the guest only fails at its
/// next start), so neither does the simulator: it deletes, and records the
/// guests that can see the volume (on the same node for a node-local
/// storage) and still name it in [`Shared::dangling`], for tests to assert
/// that a client let go of a volume before deleting it
/// ([`super::SimHandle::dangling_references`]).
pub(crate) async fn delete_volume(
    shared: &Arc<Shared>,
    node: &str,
    id: &str,
    volume: &str,
    p: &Params,
) -> ApiResult {
    let delay = p.int("delay")?;
    let (storage, volid) = match volume.split_once(':') {
        Some((sid, _)) => {
            if disks::split_volid(volume).is_none() {
                return Err(ApiError::param(
                    "volume",
                    format!("unable to parse volume ID '{volume}'\n"),
                ));
            }
            if sid != id {
                return Err(ApiError::param(
                    "volume",
                    format!("storage ID mismatch ({sid} != {id})\n"),
                ));
            }
            (sid.to_string(), volume.to_string())
        }
        None => (id.to_string(), format!("{id}:{volume}")),
    };
    let (owner, holders) = shared.read(|w| -> Result<(Option<u32>, Vec<u32>), ApiError> {
        disks::storage_on(w, node, &storage).map_err(ApiError::Die)?;
        let (_, name) = disks::split_volid(&volid).unwrap_or_default();
        let owner = w
            .volume(node, &volid)
            .and_then(|v| v.vmid)
            .or_else(|| owner_from_name(name));
        // Guests that can see the volume and still name it: PVE deletes it
        // anyway (no in-use check in `delete` or `vdisk_free`).
        let storage_shared = w.storages.get(&storage).is_some_and(|s| s.shared);
        let holders = if w.volume(node, &volid).is_some() {
            w.guests
                .iter()
                .filter(|(_, g)| storage_shared || g.node == node)
                .filter(|(_, g)| {
                    g.config
                        .values()
                        .any(|v| v.split([',', '=']).any(|part| part == volid))
                })
                .map(|(vmid, _)| *vmid)
                .collect()
        } else {
            Vec::new()
        };
        Ok((owner, holders))
    })?;
    if !holders.is_empty() {
        shared
            .dangling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!(
                "{volid} on {node} deleted while guest(s) {holders:?} still use it"
            ));
    }
    let worker_id = match owner {
        Some(vmid) => format!("{vmid}@{storage}"),
        None => storage.clone(),
    };
    let shared_storage = shared.storage_is_shared(&storage);
    let plan = TaskPlan::new(
        node,
        "imgdel",
        worker_id,
        Effect::DeleteVolume(DeletePlan {
            node: node.to_string(),
            storage: storage.clone(),
            volid,
        }),
    )
    .lock(
        super::locks::LockSpec::storage(node, &storage, shared_storage, shared.lock_timeout()),
        "",
    );
    let upid = tasks::spawn(shared, plan);
    if let Some(seconds) = delay.filter(|d| *d > 0) {
        let waited = std::time::Duration::from_secs(seconds as u64);
        if let Some(status) = tasks::wait(shared, &upid, waited).await {
            return if tasks::status_is_ok(&status) {
                Ok(Reply::null())
            } else {
                Err(ApiError::Die(status))
            };
        }
    }
    Ok(Reply::data(json!(upid)))
}

/// The `imgdel` worker: `PVE::Storage::vdisk_free` under the storage lock
/// (a base volume linked clones still use is refused), then `Removed volume
/// '<volid>'`. A file that is already gone is only a warning on file-based
/// storages (`Plugin.pm free_image`: `disk image '<path>' does not exist`);
/// LVM's `lvremove` fails.
pub(crate) fn delete_apply(
    world: &mut World,
    plan: &DeletePlan,
    cx: &mut Cx,
) -> Result<u32, String> {
    let log = &mut *cx.log;
    let storage = world
        .storages
        .get(&plan.storage)
        .cloned()
        .ok_or_else(|| format!("storage '{}' does not exist", plan.storage))?;
    let mut warnings = 0;
    if world.volume(&plan.node, &plan.volid).is_none() {
        let (_, name) = disks::split_volid(&plan.volid).unwrap_or_default();
        if storage.file_based() {
            let base = storage.path().unwrap_or("/var/lib/vz");
            let path = match name.split_once('/') {
                Some((c @ ("iso" | "vztmpl" | "import"), file)) => {
                    format!("{base}/{}/{file}", subdir(c))
                }
                _ => format!("{base}/images/{name}"),
            };
            log.push(format!("disk image '{path}' does not exist"));
            warnings += 1;
        } else if storage.kind.starts_with("lvm") {
            let vg = storage
                .options
                .get("vgname")
                .map(String::as_str)
                .unwrap_or("pve");
            return Err(format!(
                "lvremove '{vg}/{name}' error:   Failed to find logical volume \"{vg}/{name}\""
            ));
        } else {
            return Err(format!("volume '{}' does not exist", plan.volid));
        }
    } else {
        disks::free(world, &plan.node, &plan.volid, log)?;
    }
    log.push(format!("Removed volume '{}'", plan.volid));
    Ok(warnings)
}
