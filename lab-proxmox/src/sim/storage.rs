//! Storage: the cluster-wide configuration (`/storage`), per-node status and
//! content (`/nodes/{node}/storage/...`) and `download-url`.
//!
//! Modelled after pve-storage `API2/Storage/Config.pm`, `Status.pm` and
//! `Content.pm` (proxmox-api.md §8, §6 "Disk import"):
//!
//! - `POST /storage` runs under the storage-config lock whose error prefix is
//!   `create storage failed: `; a duplicate id is `storage ID '<id>' already
//!   defined`; the new storage is **activated synchronously** and an NFS
//!   server the simulator treats as unreachable fails the create with
//!   `storage '<id>' is not online` (`PVE::Storage::activate_storage` after
//!   `check_connection`), leaving nothing behind;
//! - NFS `path` defaults to `/mnt/pve/<id>`; `server`, `export` and `path` are
//!   fixed (`NFSPlugin::options`): changing them is `update storage failed:
//!   can't change value of fixed parameter '<k>'`;
//! - `download-url` accepts `iso`, `vztmpl` and `import` only on file-based
//!   storages (`can't upload to storage type 'lvmthin', not a file based
//!   storage!`) that have that content type enabled (`storage '<id>' is not
//!   configured for content-type '<ct>'`), with PVE's extension rules
//!   (import: `.ova|.qcow2|.raw|.vmdk`, so Ubuntu's `.img` cloud images are
//!   refused); an existing file fails the task with `refusing to override
//!   existing file '<path>'`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::disks;
use super::propstr::{split_list, GIB_BYTES, MIB_BYTES};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::{Settings, Shared};
use super::tasks::{self, Effect, TaskPlan};
use super::world::{now, Storage, Volume, World};

/// Storage types that are shared automatically (`Plugin.pm @SHARED_STORAGE`).
const SHARED_TYPES: &[&str] = &[
    "nfs",
    "cifs",
    "pbs",
    "rbd",
    "cephfs",
    "iscsi",
    "iscsidirect",
    "glusterfs",
    "zfs",
];

/// Content types each plugin allows, and its default.
fn plugin_content(kind: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        "nfs" | "cifs" | "dir" | "cephfs" | "btrfs" => (
            &[
                "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import",
            ],
            &["images"],
        ),
        "lvmthin" | "lvm" | "zfspool" | "rbd" => (&["images", "rootdir"], &["images", "rootdir"]),
        "pbs" => (&["backup"], &["backup"]),
        _ => (&["images"], &["images"]),
    }
}

/// Fixed options per plugin (cannot change after create).
fn fixed_options(kind: &str) -> &'static [&'static str] {
    match kind {
        "nfs" => &["server", "export", "path"],
        "dir" => &["path"],
        "lvmthin" => &["vgname", "thinpool"],
        "lvm" => &["vgname"],
        "zfspool" => &["pool"],
        "cifs" => &["server", "share"],
        "pbs" => &["datastore"],
        _ => &[],
    }
}

/// Required options per plugin.
fn required_options(kind: &str) -> &'static [&'static str] {
    match kind {
        "nfs" => &["server", "export"],
        "dir" => &["path"],
        "lvmthin" => &["vgname", "thinpool"],
        "lvm" => &["vgname"],
        "zfspool" => &["pool"],
        "cifs" => &["server", "share"],
        "pbs" => &["server", "datastore"],
        _ => &[],
    }
}

/// Keys never returned by `GET` (`sensitive-properties`).
const SENSITIVE: &[&str] = &["password", "encryption-key", "master-pubkey", "keyring"];

/// Storage capacity by type (per node for local storages).
pub(crate) fn default_total(kind: &str) -> u64 {
    match kind {
        "dir" => 100 * GIB_BYTES,
        "lvmthin" | "lvm" | "zfspool" => 400 * GIB_BYTES,
        _ => 4096 * GIB_BYTES,
    }
}

fn content_text(storage: &Storage) -> String {
    storage.content.join(",")
}

/// The `GET /storage[/{id}]` object.
fn config_json(world: &World, storage: &Storage) -> Value {
    let mut obj = Map::new();
    obj.insert("storage".into(), json!(storage.id));
    obj.insert("type".into(), json!(storage.kind));
    obj.insert("content".into(), json!(content_text(storage)));
    obj.insert("digest".into(), json!(world.storage_digest()));
    if let Some(nodes) = &storage.nodes {
        obj.insert("nodes".into(), json!(nodes.join(",")));
    }
    if storage.shared && !SHARED_TYPES.contains(&storage.kind.as_str()) {
        obj.insert("shared".into(), json!(1));
    }
    for (k, v) in &storage.options {
        if SENSITIVE.contains(&k.as_str()) {
            continue;
        }
        let value = match k.as_str() {
            "disable" | "is_mountpoint" | "sparse" | "krbd" => {
                v.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(v))
            }
            _ => json!(v),
        };
        obj.insert(k.clone(), value);
    }
    Value::Object(obj)
}

/// `GET /storage`.
pub(crate) fn list_config(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let kind = p.get("type").map(str::to_string);
    shared.read(|w| {
        let items: Vec<Value> = w
            .storages
            .values()
            .filter(|s| kind.as_deref().is_none_or(|k| s.kind == k))
            .map(|s| config_json(w, s))
            .collect();
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /storage/{storage}`.
pub(crate) fn get_config(shared: &Arc<Shared>, id: &str) -> ApiResult {
    shared.read(|w| {
        let s = w
            .storages
            .get(id)
            .ok_or_else(|| ApiError::die(format!("storage '{id}' does not exist")))?;
        Ok(Reply::data(config_json(w, s)))
    })
}

fn parse_content(kind: &str, text: &str) -> Result<Vec<String>, ApiError> {
    let (allowed, _) = plugin_content(kind);
    let mut content: Vec<String> = Vec::new();
    for c in split_list(text) {
        if c == "none" {
            continue;
        }
        if !allowed.contains(&c.as_str()) {
            return Err(ApiError::param(
                "content",
                format!("storage does not support content type '{c}'"),
            ));
        }
        if !content.contains(&c) {
            content.push(c);
        }
    }
    content.sort();
    Ok(content)
}

/// `POST /storage`.
pub(crate) fn create(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let id = p.required("storage")?.to_string();
    let kind = p.required("type")?.to_string();
    let wrap = |e: String| ApiError::die(format!("create storage failed: {e}"));
    for key in required_options(&kind) {
        p.required(key)?;
    }
    let content = match p.get("content") {
        Some(c) => parse_content(&kind, c)?,
        None => plugin_content(&kind)
            .1
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let nodes = p.get("nodes").map(split_list).filter(|n| !n.is_empty());
    let mut options = BTreeMap::new();
    for (k, v) in p.iter() {
        if matches!(k, "storage" | "type" | "content" | "nodes" | "shared") {
            continue;
        }
        options.insert(k.to_string(), v.to_string());
    }
    if kind == "nfs" || kind == "cifs" {
        options
            .entry("path".to_string())
            .or_insert_with(|| format!("/mnt/pve/{id}"));
    }
    let shared_flag = SHARED_TYPES.contains(&kind.as_str()) || p.bool("shared", false)?;
    let reachable = &shared.settings.nfs_servers_reachable;
    shared.write(|w| {
        if w.storages.contains_key(&id) {
            return Err(wrap(format!("storage ID '{id}' already defined")));
        }
        if kind == "nfs" {
            let server = options.get("server").cloned().unwrap_or_default();
            let local_enabled = nodes.as_ref().is_none_or(|n| {
                n.iter()
                    .any(|x| w.nodes.first().is_some_and(|f| &f.name == x))
            });
            let disabled = options.get("disable").map(String::as_str) == Some("1");
            if local_enabled && !disabled && !reachable.is_empty() && !reachable.contains(&server) {
                return Err(wrap(format!("storage '{id}' is not online")));
            }
        }
        if let Some(nodes) = &nodes {
            if let Some(unknown) = nodes.iter().find(|n| w.node(n).is_none()) {
                return Err(ApiError::param(
                    "nodes",
                    format!(
                        "invalid format - value '{unknown}' does not look like a valid node name\n"
                    ),
                ));
            }
        }
        w.storages.insert(
            id.clone(),
            Storage {
                id: id.clone(),
                kind: kind.clone(),
                content,
                shared: shared_flag,
                nodes,
                options,
                total: default_total(&kind),
            },
        );
        Ok(())
    })?;
    Ok(Reply::data(json!({"storage": id, "type": kind})))
}

/// `PUT /storage/{storage}`.
pub(crate) fn update(shared: &Arc<Shared>, id: &str, p: &Params) -> ApiResult {
    let wrap = |e: String| ApiError::die(format!("update storage failed: {e}"));
    let delete = p.get("delete").map(split_list).unwrap_or_default();
    let digest = p.get("digest").map(str::to_string);
    shared.write(|w| {
        if let Some(d) = &digest {
            if d != &w.storage_digest() {
                return Err(wrap(
                    "detected modified configuration - file changed by other user? Try again."
                        .to_string(),
                ));
            }
        }
        let s = w
            .storages
            .get(id)
            .cloned()
            .ok_or_else(|| wrap(format!("storage '{id}' does not exist")))?;
        let mut s = s;
        for (k, v) in p.iter() {
            if matches!(k, "storage" | "delete" | "digest") {
                continue;
            }
            if fixed_options(&s.kind).contains(&k) || k == "type" {
                return Err(wrap(format!("can't change value of fixed parameter '{k}'")));
            }
            match k {
                "content" => s.content = parse_content(&s.kind, v)?,
                "nodes" => s.nodes = Some(split_list(v)).filter(|n| !n.is_empty()),
                "shared" => {
                    s.shared = super::rest::parse_bool(v).unwrap_or(false)
                        || SHARED_TYPES.contains(&s.kind.as_str())
                }
                _ => {
                    s.options.insert(k.to_string(), v.to_string());
                }
            }
        }
        for k in &delete {
            if required_options(&s.kind).contains(&k.as_str()) {
                return Err(wrap(format!("unable to delete required option '{k}'")));
            }
            if fixed_options(&s.kind).contains(&k.as_str()) {
                return Err(wrap(format!("unable to delete fixed option '{k}'")));
            }
            if p.has(k) {
                return Err(wrap(format!(
                    "cannot set and delete property '{k}' at the same time!"
                )));
            }
            match k.as_str() {
                "nodes" => s.nodes = None,
                "content" => {
                    s.content = plugin_content(&s.kind)
                        .1
                        .iter()
                        .map(|c| c.to_string())
                        .collect()
                }
                other => {
                    s.options.remove(other);
                }
            }
        }
        let kind = s.kind.clone();
        w.storages.insert(id.to_string(), s);
        Ok(Reply::data(json!({"storage": id, "type": kind})))
    })
}

/// `DELETE /storage/{storage}` (volumes are not checked, as in PVE).
pub(crate) fn delete(shared: &Arc<Shared>, id: &str) -> ApiResult {
    shared.write(|w| {
        if w.storages.remove(id).is_none() {
            return Err(ApiError::die(format!(
                "delete storage failed: storage '{id}' does not exist"
            )));
        }
        for pool in w.pools.values_mut() {
            pool.storages.remove(id);
        }
        Ok(Reply::null())
    })
}

/// One `GET /nodes/{node}/storage` item.
pub(crate) fn status_json(world: &World, node: &str, s: &Storage) -> Value {
    let used = world.storage_used(node, &s.id);
    let total = s.total;
    json!({
        "storage": s.id,
        "type": s.kind,
        "content": content_text(s),
        "active": 1,
        "enabled": if s.options.get("disable").map(String::as_str) == Some("1") { 0 } else { 1 },
        "shared": if s.shared { 1 } else { 0 },
        "total": total,
        "used": used,
        "avail": total.saturating_sub(used),
        "used_fraction": if total == 0 { 0.0 } else { used as f64 / total as f64 },
    })
}

/// `GET /nodes/{node}/storage`.
pub(crate) fn node_list(shared: &Arc<Shared>, node: &str, p: &Params) -> ApiResult {
    let content = p.get("content").map(split_list).unwrap_or_default();
    let storage = p.get("storage").map(str::to_string);
    let enabled = p.bool("enabled", false)?;
    shared.read(|w| {
        let items: Vec<Value> = w
            .storages
            .values()
            .filter(|s| s.on_node(node))
            .filter(|s| content.iter().all(|c| s.allows(c)))
            .filter(|s| storage.as_deref().is_none_or(|id| s.id == id))
            .filter(|s| !enabled || s.options.get("disable").map(String::as_str) != Some("1"))
            .map(|s| status_json(w, node, s))
            .collect();
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /nodes/{node}/storage/{storage}/status`.
pub(crate) fn node_status(shared: &Arc<Shared>, node: &str, id: &str) -> ApiResult {
    shared.read(|w| {
        let s = disks::storage_on(w, node, id).map_err(ApiError::Die)?;
        Ok(Reply::data(status_json(w, node, s)))
    })
}

/// `GET /nodes/{node}/storage/{storage}`: the directory index.
pub(crate) fn node_index(shared: &Arc<Shared>, node: &str, id: &str) -> ApiResult {
    shared.read(|w| {
        disks::storage_on(w, node, id)
            .map(|_| ())
            .map_err(ApiError::Die)
    })?;
    let dirs = [
        "content",
        "download-url",
        "file-restore",
        "import-metadata",
        "prunebackups",
        "rrd",
        "rrddata",
        "status",
        "upload",
    ];
    Ok(Reply::data(Value::Array(
        dirs.iter().map(|d| json!({"subdir": d})).collect(),
    )))
}

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

/// `DELETE /nodes/{node}/storage/{storage}/content/{volume}`: frees the
/// volume. Real PVE runs a worker and answers `null` when it finishes within
/// `delay`; freeing a simulated volume is instant, so the answer is `null`.
pub(crate) fn delete_volume(shared: &Arc<Shared>, node: &str, id: &str, volume: &str) -> ApiResult {
    let volid = if volume.contains(':') {
        volume.to_string()
    } else {
        format!("{id}:{volume}")
    };
    shared.write(|w| {
        if w.guests
            .values()
            .any(|g| g.config.values().any(|v| v.contains(&volid)))
        {
            return Err(ApiError::die(format!("volume '{volid}' is still in use")));
        }
        if !w.remove_volume(node, &volid) {
            return Err(ApiError::die(format!("volume '{volid}' does not exist")));
        }
        Ok(Reply::data(Value::Null))
    })
}

/// The `download` plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DownloadPlan {
    /// Node.
    pub node: String,
    /// Storage id.
    pub storage: String,
    /// `iso`, `vztmpl` or `import`.
    pub content: String,
    /// File name.
    pub filename: String,
    /// Source URL.
    pub url: String,
}

fn subdir(content: &str) -> &'static str {
    match content {
        "iso" => "template/iso",
        "vztmpl" => "template/cache",
        _ => "import",
    }
}

/// `POST /nodes/{node}/storage/{storage}/download-url`.
pub(crate) fn download_url(shared: &Arc<Shared>, node: &str, id: &str, p: &Params) -> ApiResult {
    let content = p.required("content")?.to_string();
    let filename = p.required("filename")?.to_string();
    let url = p.required("url")?.to_string();
    shared.read(|w| -> Result<(), ApiError> {
        let s = disks::storage_on(w, node, id).map_err(ApiError::Die)?;
        if !s.file_based() {
            return Err(ApiError::die(format!(
                "can't upload to storage type '{}', not a file based storage!",
                s.kind
            )));
        }
        if !s.allows(&content) {
            return Err(ApiError::die(format!(
                "storage '{id}' is not configured for content-type '{content}'"
            )));
        }
        Ok(())
    })?;
    let lower = filename.to_ascii_lowercase();
    let safe = filename
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+' | '=' | '_'));
    match content.as_str() {
        "iso" if !(lower.ends_with(".iso") || lower.ends_with(".img")) => {
            return Err(ApiError::param("filename", "wrong file extension"));
        }
        "vztmpl"
            if ![".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2", ".tgz"]
                .iter()
                .any(|e| lower.ends_with(e)) =>
        {
            return Err(ApiError::param("filename", "wrong file extension"));
        }
        "import"
            if !safe
                || ![".ova", ".qcow2", ".raw", ".vmdk"]
                    .iter()
                    .any(|e| lower.ends_with(e)) =>
        {
            return Err(ApiError::param(
                "filename",
                "invalid filename or wrong extension",
            ));
        }
        "iso" | "vztmpl" | "import" => {}
        other => {
            return Err(ApiError::param(
                "content",
                format!("upload content-type '{other}' is not allowed"),
            ));
        }
    }
    let plan = DownloadPlan {
        node: node.to_string(),
        storage: id.to_string(),
        content,
        filename: filename.clone(),
        url,
    };
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(node, "download", filename, Effect::Download(plan)),
    );
    Ok(Reply::data(json!(upid)))
}

/// The `download` effect.
pub(crate) fn download_apply(
    settings: &Settings,
    world: &mut World,
    plan: &DownloadPlan,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let storage = disks::storage_on(world, &plan.node, &plan.storage)?.clone();
    let base = storage.path().unwrap_or("/var/lib/vz").to_string();
    let path = format!("{base}/{}/{}", subdir(&plan.content), plan.filename);
    let dir = match plan.content.as_str() {
        "iso" => "iso",
        "vztmpl" => "vztmpl",
        _ => "import",
    };
    let volid = format!("{}:{dir}/{}", plan.storage, plan.filename);
    log.push(format!("downloading {} to {path}", plan.url));
    if world.volume(&plan.node, &volid).is_some() {
        return Err(format!("refusing to override existing file '{path}'"));
    }
    if settings.download_urls_fail.iter().any(|u| u == &plan.url) {
        return Err(format!("download failed: 404 Not Found ({})", plan.url));
    }
    let lower = plan.filename.to_ascii_lowercase();
    let (format, size, virtual_size) = match plan.content.as_str() {
        "iso" => ("iso".to_string(), 650 * MIB_BYTES, None),
        "vztmpl" => (
            lower
                .rsplit('.')
                .next()
                .map(|e| {
                    if e == "zst" {
                        "tzst"
                    } else if e == "xz" {
                        "txz"
                    } else {
                        "tgz"
                    }
                })
                .unwrap_or("tgz")
                .to_string(),
            125 * MIB_BYTES,
            None,
        ),
        _ => {
            let ext = lower.rsplit('.').next().unwrap_or("qcow2").to_string();
            let file_size = if ext == "raw" {
                3 * GIB_BYTES
            } else {
                420 * MIB_BYTES
            };
            (ext, file_size, Some(3 * GIB_BYTES))
        }
    };
    log.push(format!("download of '{}' to '{path}' finished", plan.url));
    world.volumes.push(Volume {
        volid,
        storage: plan.storage.clone(),
        node: (!storage.shared).then(|| plan.node.clone()),
        content: plan.content.clone(),
        format,
        size,
        vmid: None,
        ctime: now(),
        virtual_size,
    });
    Ok(())
}
