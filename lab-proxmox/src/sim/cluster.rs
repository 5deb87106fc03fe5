//! Cluster-wide reads: `/version`, `/nodes`, `/nodes/{node}/status`,
//! `/nodes/{node}/network`, `/cluster/resources`, `/cluster/status`,
//! `/cluster/nextid` and `/access/permissions` (proxmox-api.md §5).
//!
//! `/cluster/resources` is the one-call inventory the provider refreshes
//! from: guests (`qemu/<vmid>`, `lxc/<vmid>`) with `vmid` as a number,
//! `template` 0/1, `lock` while a task holds it, `tags` `;`-joined and
//! `pool`; one `storage/<node>/<id>` item per node and storage; nodes; and
//! `/pool/<id>` items. `nextid` returns the first free VMID as a JSON
//! **string** and reserves nothing (the VMID race of proxmox-peers.md §6
//! item 2); with `?vmid=` a taken id is a 400 `errors.vmid = "VM <id>
//! already exists"`.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::guest;
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::world::{now, TaskState, World};

const NODE_MAXMEM: u64 = 64 * 1024 * 1024 * 1024;
const NODE_MAXCPU: u64 = 16;
const NODE_DISK: u64 = 100 * 1024 * 1024 * 1024;

/// pve-manager's `PVE::pvecfg::version_info()` of a node running `version`.
fn version_info(version: &str) -> Map<String, Value> {
    let mut obj = Map::new();
    let release: Vec<&str> = version.split('.').take(2).collect();
    obj.insert("version".into(), json!(version));
    obj.insert("release".into(), json!(release.join(".")));
    obj.insert("repoid".into(), json!("5a1b2c3d4e5f6a7b"));
    obj
}

/// The simulated `/etc/pve/datacenter.cfg`.
const DATACENTER_CFG: &[(&str, &str)] = &[("console", "xtermjs"), ("keyboard", "en-us")];

/// `GET /version`: `version_info()` plus the datacenter `console`
/// (pve-manager `PVE/API2.pm`).
pub(crate) fn version() -> ApiResult {
    let mut obj = version_info(super::PVE_VERSION);
    for (k, v) in DATACENTER_CFG.iter().filter(|(k, _)| *k == "console") {
        obj.insert((*k).into(), json!(v));
    }
    Ok(Reply::data(Value::Object(obj)))
}

/// `GET /nodes/{node}/version`: `version_info()` alone (pve-manager
/// `PVE/API2/Nodes.pm`, method `version`).
pub(crate) fn node_version(shared: &Arc<Shared>, node: &str) -> ApiResult {
    let version = shared.read(|w| {
        w.node(node)
            .map_or_else(|| super::PVE_VERSION.to_string(), |n| n.version.clone())
    });
    Ok(Reply::data(Value::Object(version_info(&version))))
}

/// `GET /cluster`: the index lists `{name}` items (pve-manager
/// `PVE/API2/Cluster.pm`, method `index`; `sdn` only where SDN is
/// installed, which it is on PVE 9).
pub(crate) fn cluster_index() -> ApiResult {
    let names = [
        "acme",
        "backup",
        "backup-info",
        "bulk-action",
        "ceph",
        "config",
        "firewall",
        "ha",
        "jobs",
        "log",
        "mapping",
        "metrics",
        "notifications",
        "nextid",
        "options",
        "qemu",
        "replication",
        "resources",
        "status",
        "tasks",
        "sdn",
    ];
    Ok(Reply::data(Value::Array(
        names.iter().map(|n| json!({"name": n})).collect(),
    )))
}

/// `GET /cluster/options`: the datacenter config (the token has
/// `Sys.Audit`) plus `allowed-tags`, the sorted tags of the guests it may
/// see (pve-manager `PVE/API2/Cluster.pm` `get_options`,
/// `PVE::GuestHelpers::get_allowed_tags`).
pub(crate) fn cluster_options(shared: &Arc<Shared>) -> ApiResult {
    let mut obj = Map::new();
    for (k, v) in DATACENTER_CFG {
        obj.insert((*k).into(), json!(v));
    }
    let tags: std::collections::BTreeSet<String> = shared.read(|w| {
        w.guests
            .values()
            .filter_map(|g| g.config.get("tags"))
            .flat_map(|t| {
                t.split([';', ',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    });
    obj.insert("allowed-tags".into(), json!(tags));
    Ok(Reply::data(Value::Object(obj)))
}

/// `GET /cluster/tasks`: the tasks list every node broadcasts
/// (pve-common `RESTEnvironment.pm active_workers`): its running tasks
/// (with `pid`) and then its most recently finished ones (`endtime`,
/// `status`, no `pid`), 25 items per node at most; `pstart` is dropped and
/// a token's `user` is split into `user` and `tokenid` (pve-manager
/// `PVE/API2/Cluster.pm` `tasks`).
pub(crate) fn cluster_tasks(shared: &Arc<Shared>) -> ApiResult {
    const MAX_FINISHED: usize = 25;
    shared.read(|w| {
        let mut items = Vec::new();
        for node in &w.nodes {
            let mut running: Vec<&super::world::Task> = w
                .tasks
                .iter()
                .filter(|t| t.node == node.name && t.state == TaskState::Running)
                .collect();
            running.sort_by(|a, b| b.starttime.cmp(&a.starttime).then(b.pid.cmp(&a.pid)));
            let mut finished: Vec<&super::world::Task> = w
                .tasks
                .iter()
                .filter(|t| t.node == node.name && t.state == TaskState::Stopped)
                .collect();
            finished.sort_by(|a, b| b.starttime.cmp(&a.starttime).then(b.pid.cmp(&a.pid)));
            let room = MAX_FINISHED.saturating_sub(running.len());
            for t in running.iter().chain(finished.iter().take(room)) {
                let mut obj = Map::new();
                obj.insert("upid".into(), json!(t.upid));
                obj.insert("node".into(), json!(t.node));
                obj.insert("starttime".into(), json!(t.starttime));
                obj.insert("type".into(), json!(t.wtype));
                obj.insert("id".into(), json!(t.id));
                match t.user.split_once('!') {
                    Some((user, token)) => {
                        obj.insert("user".into(), json!(user));
                        obj.insert("tokenid".into(), json!(token));
                    }
                    None => {
                        obj.insert("user".into(), json!(t.user));
                    }
                }
                match t.state {
                    TaskState::Running => {
                        obj.insert("pid".into(), json!(t.pid));
                        obj.insert("saved".into(), json!("0"));
                    }
                    TaskState::Stopped => {
                        obj.insert("saved".into(), json!("1"));
                        if let Some(end) = t.endtime {
                            obj.insert("endtime".into(), json!(end));
                        }
                        if let Some(status) = &t.exitstatus {
                            obj.insert("status".into(), json!(status));
                        }
                    }
                }
                items.push(Value::Object(obj));
            }
        }
        Ok(Reply::data(Value::Array(items)))
    })
}

fn node_mem(world: &World, node: &str) -> u64 {
    2 * 1024 * 1024 * 1024
        + world
            .guests
            .values()
            .filter(|g| g.node == node && g.running())
            .map(|g| g.memory_bytes() / 3)
            .fold(0u64, u64::saturating_add)
}

fn node_json(world: &World, node: &str, fingerprint: &str) -> Value {
    let boot = world.node(node).map(|n| n.boot_time).unwrap_or_else(now);
    json!({
        "node": node,
        "id": format!("node/{node}"),
        "type": "node",
        "status": "online",
        "cpu": 0.031,
        "maxcpu": NODE_MAXCPU,
        "mem": node_mem(world, node),
        "maxmem": NODE_MAXMEM,
        "disk": 12 * 1024 * 1024 * 1024u64,
        "maxdisk": NODE_DISK,
        "uptime": now().saturating_sub(boot).max(1),
        "level": "",
        "ssl_fingerprint": fingerprint,
    })
}

/// `GET /nodes`.
pub(crate) fn nodes(shared: &Arc<Shared>, fingerprint: &str) -> ApiResult {
    shared.read(|w| {
        let items: Vec<Value> = w
            .nodes
            .iter()
            .map(|n| node_json(w, &n.name, fingerprint))
            .collect();
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /nodes/{node}`: the directory index.
pub(crate) fn node_index() -> ApiResult {
    let dirs = [
        "aplinfo",
        "apt",
        "capabilities",
        "ceph",
        "certificates",
        "config",
        "disks",
        "dns",
        "firewall",
        "hardware",
        "hosts",
        "journal",
        "lxc",
        "migrateall",
        "netstat",
        "network",
        "qemu",
        "query-oci-repo-tags",
        "query-url-metadata",
        "replication",
        "report",
        "rrd",
        "rrddata",
        "scan",
        "sdn",
        "services",
        "spiceshell",
        "startall",
        "status",
        "stopall",
        "storage",
        "subscription",
        "suspendall",
        "syslog",
        "tasks",
        "termproxy",
        "time",
        "version",
        "vncshell",
        "vzdump",
        "wakeonlan",
    ];
    Ok(Reply::data(Value::Array(
        dirs.iter().map(|d| json!({"name": d})).collect(),
    )))
}

/// `GET /nodes/{node}/status`.
pub(crate) fn node_status(shared: &Arc<Shared>, node: &str) -> ApiResult {
    shared.read(|w| {
        let boot = w.node(node).map(|n| n.boot_time).unwrap_or_else(now);
        let used = node_mem(w, node);
        Ok(Reply::data(json!({
            "uptime": now().saturating_sub(boot).max(1),
            "cpu": 0.031,
            "wait": 0.0,
            "loadavg": ["0.12", "0.08", "0.05"],
            "memory": {"total": NODE_MAXMEM, "used": used, "free": NODE_MAXMEM.saturating_sub(used), "available": NODE_MAXMEM.saturating_sub(used)},
            "swap": {"total": 8u64 << 30, "used": 0, "free": 8u64 << 30},
            "rootfs": {"total": NODE_DISK, "used": 12u64 << 30, "free": NODE_DISK - (12u64 << 30), "avail": NODE_DISK - (12u64 << 30)},
            "cpuinfo": {"cpus": NODE_MAXCPU, "cores": 8, "sockets": 1, "model": "pve-sim virtual CPU", "mhz": "3000.000", "hvm": "1"},
            "pveversion": "pve-manager/9.1.2/5a1b2c3d4e5f6a7b",
            "kversion": "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1",
            "current-kernel": {"sysname": "Linux", "release": "6.17.2-1-pve", "machine": "x86_64", "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1"},
            "boot-info": {"mode": "efi", "secureboot": 0},
        })))
    })
}

/// `GET /nodes/{node}/network[?type=]`.
pub(crate) fn network(shared: &Arc<Shared>, node: &str, p: &Params) -> ApiResult {
    let kind = p.get("type").map(str::to_string);
    shared.read(|w| {
        let bridges = w.node(node).map(|n| n.bridges.clone()).unwrap_or_default();
        let vlan_aware = w
            .node(node)
            .map(|n| n.vlan_aware_bridges.clone())
            .unwrap_or_default();
        let mut items: Vec<Value> = Vec::new();
        for (i, bridge) in bridges.iter().enumerate() {
            let port = format!("eno{}", i + 1);
            items.push(json!({
                "iface": port,
                "type": "eth",
                "method": "manual",
                "families": ["inet"],
                "active": 1,
                "exists": 1,
                "priority": i * 2 + 1,
            }));
            let mut obj = Map::new();
            obj.insert("iface".into(), json!(bridge));
            obj.insert("type".into(), json!("bridge"));
            obj.insert("active".into(), json!(1));
            obj.insert("autostart".into(), json!(1));
            obj.insert("bridge_ports".into(), json!(port));
            obj.insert("bridge_stp".into(), json!("off"));
            obj.insert("bridge_fd".into(), json!("0"));
            // PVE leaves the keys out of a bridge that is not VLAN-aware.
            if vlan_aware.contains(bridge) {
                obj.insert("bridge_vlan_aware".into(), json!(1));
                obj.insert("bridge_vids".into(), json!("2-4094"));
            }
            obj.insert("families".into(), json!(["inet"]));
            obj.insert("priority".into(), json!(i * 2 + 2));
            if i == 0 {
                obj.insert("method".into(), json!("static"));
                obj.insert(
                    "cidr".into(),
                    json!(format!(
                        "192.168.1.{}/24",
                        10 + w.nodes.iter().position(|n| n.name == node).unwrap_or(0)
                    )),
                );
                obj.insert(
                    "address".into(),
                    json!(format!(
                        "192.168.1.{}",
                        10 + w.nodes.iter().position(|n| n.name == node).unwrap_or(0)
                    )),
                );
                obj.insert("netmask".into(), json!("24"));
                obj.insert("gateway".into(), json!("192.168.1.1"));
            } else {
                obj.insert("method".into(), json!("manual"));
            }
            items.push(Value::Object(obj));
        }
        let mut items: Vec<Value> = items
            .into_iter()
            .filter(|item| {
                let t = item.get("type").and_then(Value::as_str).unwrap_or_default();
                match kind.as_deref() {
                    None => true,
                    Some("any_bridge") | Some("any_local_bridge") => t == "bridge",
                    Some(k) => t == k,
                }
            })
            .collect();
        // `any_bridge` and `vnet` add the SDN VNets running on the node
        // (pve-manager `API2/Network.pm`, pve-network `get_local_vnets`).
        if matches!(kind.as_deref(), Some("any_bridge" | "include_sdn" | "vnet")) {
            items.extend(super::sdn::local_vnets(&w.sdn, node));
        }
        Ok(Reply::data(Value::Array(items)))
    })
}

fn guest_resource(world: &World, g: &super::world::Guest) -> Value {
    let mut obj = Map::new();
    let kind = g.kind.as_str();
    obj.insert("id".into(), json!(format!("{kind}/{}", g.vmid)));
    obj.insert("type".into(), json!(kind));
    obj.insert("node".into(), json!(g.node));
    obj.insert("vmid".into(), json!(g.vmid));
    obj.insert("name".into(), json!(g.display_name()));
    obj.insert("status".into(), json!(g.status.as_str()));
    obj.insert(
        "template".into(),
        json!(if g.is_template() { 1 } else { 0 }),
    );
    let maxmem = g.memory_bytes();
    obj.insert("maxmem".into(), json!(maxmem));
    obj.insert(
        "mem".into(),
        json!(if g.running() { maxmem / 3 } else { 0 }),
    );
    obj.insert("maxcpu".into(), json!(g.cpus()));
    obj.insert("cpu".into(), json!(if g.running() { 0.02 } else { 0.0 }));
    obj.insert("maxdisk".into(), json!(guest::max_disk(world, g)));
    obj.insert("disk".into(), json!(0));
    obj.insert("uptime".into(), json!(guest::uptime(g)));
    obj.insert("netin".into(), json!(0));
    obj.insert("netout".into(), json!(0));
    obj.insert("diskread".into(), json!(0));
    obj.insert("diskwrite".into(), json!(0));
    if let Some(lock) = g.lock() {
        obj.insert("lock".into(), json!(lock));
    }
    if let Some(tags) = g.config.get("tags").filter(|t| !t.is_empty()) {
        obj.insert("tags".into(), json!(tags));
    }
    if let Some(pool) = world.pool_of(g.vmid) {
        obj.insert("pool".into(), json!(pool));
    }
    Value::Object(obj)
}

/// `GET /cluster/resources[?type=vm|storage|node|sdn]`.
pub(crate) fn resources(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let kind = p.get("type").map(str::to_string);
    shared.read(|w| {
        let want = |t: &str| kind.as_deref().is_none_or(|k| k == t);
        let mut items: Vec<Value> = Vec::new();
        if want("vm") {
            items.extend(w.guests.values().map(|g| guest_resource(w, g)));
        }
        if want("node") {
            for n in &w.nodes {
                let mut v = node_json(w, &n.name, "");
                if let Some(o) = v.as_object_mut() {
                    o.remove("ssl_fingerprint");
                    o.insert("cgroup-mode".into(), json!(2));
                }
                items.push(v);
            }
        }
        if want("storage") {
            for n in &w.nodes {
                for s in w.storages.values().filter(|s| s.on_node(&n.name)) {
                    let used = w.storage_used(&n.name, &s.id);
                    let mut obj = Map::new();
                    obj.insert("id".into(), json!(format!("storage/{}/{}", n.name, s.id)));
                    obj.insert("type".into(), json!("storage"));
                    obj.insert("node".into(), json!(n.name));
                    obj.insert("storage".into(), json!(s.id));
                    obj.insert("status".into(), json!("available"));
                    obj.insert("plugintype".into(), json!(s.kind));
                    obj.insert("content".into(), json!(s.content.join(",")));
                    obj.insert("shared".into(), json!(if s.shared { 1 } else { 0 }));
                    obj.insert("disk".into(), json!(used));
                    obj.insert("maxdisk".into(), json!(s.total));
                    if let Some(pool) = w.pools.values().find(|p| p.storages.contains(&s.id)) {
                        obj.insert("pool".into(), json!(pool.poolid));
                    }
                    items.push(Value::Object(obj));
                }
            }
        }
        if kind.is_none() || kind.as_deref() == Some("pool") {
            for pool in w.pools.values() {
                items.push(json!({"id": format!("/pool/{}", pool.poolid), "type": "pool", "pool": pool.poolid}));
            }
        }
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /cluster/status`.
pub(crate) fn cluster_status(shared: &Arc<Shared>) -> ApiResult {
    shared.read(|w| {
        let mut items = vec![json!({
            "type": "cluster",
            "id": "cluster",
            "name": "lab",
            "nodes": w.nodes.len(),
            "quorate": 1,
            "version": w.nodes.len() + 1,
        })];
        for (i, n) in w.nodes.iter().enumerate() {
            items.push(json!({
                "type": "node",
                "id": format!("node/{}", n.name),
                "name": n.name,
                "nodeid": i + 1,
                "ip": format!("192.168.1.{}", 10 + i),
                "online": 1,
                "local": if i == 0 { 1 } else { 0 },
                "level": "",
            }));
        }
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /cluster/nextid[?vmid=]`.
pub(crate) fn nextid(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let requested = p.vmid("vmid")?;
    shared.read(|w| match requested {
        Some(vmid) if w.guests.contains_key(&vmid) => {
            Err(ApiError::param("vmid", format!("VM {vmid} already exists")))
        }
        Some(vmid) => Ok(Reply::data(json!(vmid.to_string()))),
        None => (100u32..1_000_000)
            .find(|id| !w.guests.contains_key(id))
            .map(|id| Reply::data(json!(id.to_string())))
            .ok_or_else(|| ApiError::die("unable to get any free VMID in range [100, 999999]")),
    })
}

/// The privileges an administrator token has on `/`.
const PRIVILEGES: &[&str] = &[
    "Datastore.Allocate",
    "Datastore.AllocateSpace",
    "Datastore.AllocateTemplate",
    "Datastore.Audit",
    "Pool.Allocate",
    "Pool.Audit",
    "SDN.Allocate",
    "SDN.Audit",
    "SDN.Use",
    "Sys.Audit",
    "Sys.Console",
    "Sys.Modify",
    "VM.Allocate",
    "VM.Audit",
    "VM.Clone",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.Migrate",
    "VM.PowerMgmt",
    "VM.Snapshot",
];

/// `GET /access/permissions`: the token has every privilege on `/`.
pub(crate) fn permissions(p: &Params) -> ApiResult {
    let path = p.get("path").unwrap_or("/").to_string();
    let mut privs = Map::new();
    for privilege in PRIVILEGES {
        privs.insert((*privilege).to_string(), json!(1));
    }
    let mut obj = Map::new();
    obj.insert(path, Value::Object(privs));
    Ok(Reply::data(Value::Object(obj)))
}
