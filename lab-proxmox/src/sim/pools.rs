//! Resource pools: `/pools` (proxmox-api.md §12).
//!
//! PVE 8.1+ addresses pools with `?poolid=` on `/pools` itself (`GET`,
//! `POST`, `PUT`, `DELETE`); the nested `/pools/{poolid}` form is deprecated
//! but still served. Changes run under the user-config lock, so errors carry
//! its prefix (`create pool failed: pool '<id>' already exists`,
//! `update pools failed: ...`, `delete pool failed: pool '<id>' is not
//! empty`), as `PVE::API2::Pool` does.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::guest;
use super::propstr::split_list;
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::world::{Pool, World};

fn member_json(world: &World, pool: &Pool) -> Vec<Value> {
    let mut members = Vec::new();
    for vmid in &pool.vms {
        if let Some(g) = world.guest(*vmid) {
            let mut obj = match guest::current_status(world, g) {
                Value::Object(o) => o,
                _ => Map::new(),
            };
            obj.remove("ha");
            obj.insert("id".into(), json!(format!("{}/{vmid}", g.kind.as_str())));
            obj.insert("type".into(), json!(g.kind.as_str()));
            obj.insert("node".into(), json!(g.node));
            obj.insert(
                "template".into(),
                json!(if g.is_template() { 1 } else { 0 }),
            );
            members.push(Value::Object(obj));
        }
    }
    for sid in &pool.storages {
        for node in &world.nodes {
            if let Some(s) = world.storages.get(sid).filter(|s| s.on_node(&node.name)) {
                members.push(json!({
                    "id": format!("storage/{}/{sid}", node.name),
                    "type": "storage",
                    "node": node.name,
                    "storage": sid,
                    "plugintype": s.kind,
                    "status": "available",
                    "shared": if s.shared { 1 } else { 0 },
                    "content": s.content.join(","),
                    "maxdisk": s.total,
                    "disk": world.storage_used(&node.name, sid),
                }));
            }
        }
    }
    members
}

fn pool_json(world: &World, pool: &Pool) -> Value {
    let mut obj = Map::new();
    obj.insert("poolid".into(), json!(pool.poolid));
    if let Some(c) = &pool.comment {
        obj.insert("comment".into(), json!(c));
    }
    obj.insert("members".into(), Value::Array(member_json(world, pool)));
    Value::Object(obj)
}

/// `GET /pools[?poolid=]`.
pub(crate) fn list(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let poolid = p.get("poolid").map(str::to_string);
    let kind = p.get("type").map(str::to_string);
    shared.read(|w| {
        if let Some(id) = &poolid {
            if !w.pools.contains_key(id) {
                return Err(ApiError::die(format!("pool '{id}' does not exist")));
            }
        }
        let items: Vec<Value> = w
            .pools
            .values()
            .filter(|pool| poolid.as_deref().is_none_or(|id| pool.poolid == id))
            .map(|pool| {
                let mut v = pool_json(w, pool);
                if let (Some(kind), Some(members)) =
                    (&kind, v.get_mut("members").and_then(Value::as_array_mut))
                {
                    members.retain(|m| m.get("type").and_then(Value::as_str) == Some(kind));
                }
                v
            })
            .collect();
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /pools/{poolid}` (deprecated form).
pub(crate) fn get(shared: &Arc<Shared>, poolid: &str) -> ApiResult {
    shared.read(|w| {
        let pool = w
            .pools
            .get(poolid)
            .ok_or_else(|| ApiError::die(format!("pool '{poolid}' does not exist")))?;
        let mut obj = Map::new();
        if let Some(c) = &pool.comment {
            obj.insert("comment".into(), json!(c));
        }
        obj.insert("members".into(), Value::Array(member_json(w, pool)));
        Ok(Reply::data(Value::Object(obj)))
    })
}

/// `POST /pools`.
pub(crate) fn create(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let poolid = p.required("poolid")?.to_string();
    let comment = p.get("comment").map(str::to_string);
    shared.write(|w| {
        if w.pools.contains_key(&poolid) {
            return Err(ApiError::die(format!(
                "create pool failed: pool '{poolid}' already exists"
            )));
        }
        w.pools.insert(
            poolid.clone(),
            Pool {
                poolid,
                comment,
                ..Pool::default()
            },
        );
        Ok(Reply::null())
    })
}

/// `PUT /pools?poolid=` and `PUT /pools/{poolid}`.
pub(crate) fn update(shared: &Arc<Shared>, poolid: &str, p: &Params) -> ApiResult {
    let wrap = |e: String| ApiError::die(format!("update pools failed: {e}"));
    let delete = p.bool("delete", false)?;
    let allow_move = p.bool("allow-move", false)?;
    let vms = p.get("vms").map(split_list).unwrap_or_default();
    let storages = p.get("storage").map(split_list).unwrap_or_default();
    shared.write(|w| {
        let mut pool = w
            .pools
            .get(poolid)
            .cloned()
            .ok_or_else(|| wrap(format!("pool '{poolid}' does not exist")))?;
        if let Some(c) = p.get("comment") {
            pool.comment = Some(c.to_string()).filter(|c| !c.is_empty());
        }
        let mut moved_from: Vec<(String, u32)> = Vec::new();
        for vm in &vms {
            let vmid: u32 = vm.parse().map_err(|_| wrap(format!("invalid VMID '{vm}'")))?;
            if delete {
                if !pool.vms.remove(&vmid) {
                    return Err(wrap(format!("VM {vmid} is not a pool member")));
                }
            } else {
                if pool.vms.contains(&vmid) {
                    return Err(wrap(format!("VM {vmid} is already a pool member")));
                }
                if w.guest(vmid).is_none() {
                    return Err(wrap(format!("VM {vmid} does not exist")));
                }
                if let Some(other) = w.pool_of(vmid).filter(|o| *o != poolid) {
                    if !allow_move {
                        return Err(wrap(format!(
                            "VM {vmid} belongs already to pool '{other}' and 'allow-move' is not set"
                        )));
                    }
                    moved_from.push((other.to_string(), vmid));
                }
                pool.vms.insert(vmid);
            }
        }
        for sid in &storages {
            if delete {
                if !pool.storages.remove(sid) {
                    return Err(wrap(format!("Storage '{sid}' is not a pool member")));
                }
            } else {
                if pool.storages.contains(sid) {
                    return Err(wrap(format!("Storage '{sid}' is already a pool member")));
                }
                if !w.storages.contains_key(sid) {
                    return Err(wrap(format!("storage '{sid}' does not exist")));
                }
                pool.storages.insert(sid.clone());
            }
        }
        for (other, vmid) in moved_from {
            if let Some(o) = w.pools.get_mut(&other) {
                o.vms.remove(&vmid);
            }
        }
        w.pools.insert(poolid.to_string(), pool);
        Ok(Reply::null())
    })
}

/// `DELETE /pools?poolid=` and `DELETE /pools/{poolid}`.
pub(crate) fn delete(shared: &Arc<Shared>, poolid: &str) -> ApiResult {
    shared.write(|w| {
        let pool = w.pools.get(poolid).ok_or_else(|| {
            ApiError::die(format!(
                "delete pool failed: pool '{poolid}' does not exist"
            ))
        })?;
        if !pool.vms.is_empty() || !pool.storages.is_empty() {
            return Err(ApiError::die(format!(
                "delete pool failed: pool '{poolid}' is not empty"
            )));
        }
        w.pools.remove(poolid);
        Ok(Reply::null())
    })
}
