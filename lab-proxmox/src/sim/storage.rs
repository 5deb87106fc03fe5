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
//! - `download-url` (pve-storage `download_url`, pve-common
//!   `download_file_from_url`) accepts `iso`, `vztmpl` and `import` only on
//!   file-based storages (`can't upload to storage type 'lvmthin', not a
//!   file based storage!`) that have that content type enabled (`storage
//!   '<id>' is not configured for content-type '<ct>'`); the file name is
//!   normalised (`normalize_content_filename`: characters outside
//!   `[a-zA-Z0-9_.-]` become `_`) and must carry PVE's extensions (iso:
//!   `.iso|.img`; vztmpl: `.tar[.gz|.xz|.zst|.bz2]`; import, case-sensitive:
//!   `.ova|.qcow2|.raw|.vmdk`, so Ubuntu's `.img` cloud images are
//!   refused). Nothing about the file itself is checked by the handler:
//!   the **worker** refuses `compression` for anything but ISOs
//!   (`decompression not supported for <ct>`), prints `downloading <url> to
//!   <path>`, then finds an existing file: without `checksum` the task fails
//!   with `refusing to override existing file '<path>'`; with one it hashes
//!   the file there: the same digest ends the task `OK` (log `calculating
//!   checksum of existing file...OK, got correct file already, no need to
//!   download`), another fails it with `checksum mismatch: got '<x>' !=
//!   expect '<y>', aborting`. A fresh download lands in
//!   `<path>.tmp_dwnl.<pid>`, so nothing is listed until the rename at the
//!   end (a node that goes down mid-download leaves no volume); a URL the
//!   server does not have fails with wget's `download failed: command
//!   'wget ...' failed: exit code 8`; with `checksum` the download is
//!   verified (`checksum mismatch: got '<x>' != expect '<y>'`, nothing
//!   left). The simulated content of a URL (size, digests) is
//!   [`super::urls`]'s; each downloaded volume records what it was
//!   downloaded as;
//! - `GET /nodes/{node}/query-url-metadata` (pve-manager `Nodes.pm`)
//!   answers `filename`, `size` and `mimetype` of the same simulated
//!   content, or `invalid server response: '404 Not Found'`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::disks;
use super::pbs_link::PbsConn;
use super::propstr::{split_list, GIB_BYTES};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::tasks::{self, Cx, Effect, TaskPlan};
use super::urls::url_basename;
use super::world::{now, Download, Storage, Volume, World};

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

/// `POST /storage`. A `pbs` storage is activated by contacting its PBS
/// ([`PbsConn::activate`]) before it is written, so a wrong server, token,
/// fingerprint or datastore leaves nothing behind (PVE writes the config,
/// activates, and rolls back on failure).
pub(crate) async fn create(shared: &Arc<Shared>, p: &Params) -> ApiResult {
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
    if kind == "pbs" {
        let activate = shared.read(|w| {
            if w.storages.contains_key(&id) {
                return Err(wrap(format!("storage ID '{id}' already defined")));
            }
            let local_enabled = nodes.as_ref().is_none_or(|n| {
                n.iter()
                    .any(|x| w.nodes.first().is_some_and(|f| &f.name == x))
            });
            let disabled = options.get("disable").map(String::as_str) == Some("1");
            Ok(local_enabled && !disabled)
        })?;
        if activate {
            PbsConn::of(&id, &options).activate().await.map_err(wrap)?;
        }
    }
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

/// `GET /nodes/{node}/storage`. A `pbs` storage's figures are its
/// datastore's, asked of the PBS ([`super::vzdump::pbs_status`]); one that
/// cannot be reached is listed inactive with zeros.
pub(crate) async fn node_list(shared: &Arc<Shared>, node: &str, p: &Params) -> ApiResult {
    let content = p.get("content").map(split_list).unwrap_or_default();
    let storage = p.get("storage").map(str::to_string);
    let enabled = p.bool("enabled", false)?;
    let items: Vec<(Value, Option<PbsConn>)> = shared.read(|w| {
        w.storages
            .values()
            .filter(|s| s.on_node(node))
            .filter(|s| content.iter().all(|c| s.allows(c)))
            .filter(|s| storage.as_deref().is_none_or(|id| s.id == id))
            .filter(|s| !enabled || s.options.get("disable").map(String::as_str) != Some("1"))
            .map(|s| {
                let conn = (s.kind == "pbs").then(|| PbsConn::of(&s.id, &s.options));
                (status_json(w, node, s), conn)
            })
            .collect()
    });
    let mut out = Vec::new();
    for (mut item, conn) in items {
        if let Some(conn) = conn {
            pbs_figures(&mut item, &conn).await;
        }
        out.push(item);
    }
    Ok(Reply::data(Value::Array(out)))
}

/// Puts a PBS datastore's figures into a storage status item.
async fn pbs_figures(item: &mut Value, conn: &PbsConn) {
    let (total, used, avail, active) = super::vzdump::pbs_status(conn).await;
    item["total"] = json!(total);
    item["used"] = json!(used);
    item["avail"] = json!(avail);
    item["active"] = json!(if active { 1 } else { 0 });
    item["used_fraction"] = json!(if total == 0 {
        0.0
    } else {
        used as f64 / total as f64
    });
}

/// `GET /nodes/{node}/storage/{storage}/status`.
pub(crate) async fn node_status(shared: &Arc<Shared>, node: &str, id: &str) -> ApiResult {
    let (mut item, conn) = shared.read(|w| {
        let s = disks::storage_on(w, node, id).map_err(ApiError::Die)?;
        let conn = (s.kind == "pbs").then(|| PbsConn::of(&s.id, &s.options));
        Ok::<_, ApiError>((status_json(w, node, s), conn))
    })?;
    if let Some(conn) = conn {
        pbs_figures(&mut item, &conn).await;
    }
    Ok(Reply::data(item))
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

/// The `download` plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DownloadPlan {
    /// Node.
    pub node: String,
    /// Storage id.
    pub storage: String,
    /// `iso`, `vztmpl` or `import`.
    pub content: String,
    /// File name (normalised).
    pub filename: String,
    /// Source URL.
    pub url: String,
    /// `checksum-algorithm` and `checksum`.
    #[serde(default)]
    pub checksum: Option<(String, String)>,
    /// `compression` (decompress after the download).
    #[serde(default)]
    pub compression: Option<String>,
    /// `verify-certificates=0` adds `--no-check-certificate` to wget.
    #[serde(default = "yes")]
    pub verify_certificates: bool,
}

fn yes() -> bool {
    true
}

/// The directory of a content type below a file storage's path.
pub(crate) fn subdir(content: &str) -> &'static str {
    match content {
        "iso" => "template/iso",
        "vztmpl" => "template/cache",
        _ => "import",
    }
}

/// PVE's file-name normalisation, shared with the builders that predict it.
pub(crate) use crate::model::normalize_content_filename;

/// `$ISO_EXT_RE_0` after one character at least (case-insensitive).
fn iso_name(lower: &str) -> bool {
    [".iso", ".img"]
        .iter()
        .any(|e| lower.len() > e.len() && lower.ends_with(e))
}

/// `$VZTMPL_EXT_RE_1` after one character at least (case-insensitive):
/// `.tar`, `.tar.gz`, `.tar.xz`, `.tar.zst`, `.tar.bz2`; the format is
/// `tar` or `t` + the compression (`tzst`).
fn vztmpl_format(lower: &str) -> Option<String> {
    for ext in ["gz", "xz", "zst", "bz2"] {
        let suffix = format!(".tar.{ext}");
        if lower.len() > suffix.len() && lower.ends_with(&suffix) {
            return Some(format!("t{ext}"));
        }
    }
    (lower.len() > 4 && lower.ends_with(".tar")).then(|| "tar".to_string())
}

/// `$UPLOAD_IMPORT_EXT_RE_1` (case-sensitive): the format.
fn import_format(name: &str) -> Option<&'static str> {
    ["ova", "qcow2", "raw", "vmdk"]
        .into_iter()
        .find(|e| name.len() > e.len() + 1 && name.ends_with(&format!(".{e}")))
}

/// `POST /nodes/{node}/storage/{storage}/download-url`: the checks of the
/// handler (pve-storage `API2/Storage/Status.pm`); everything about the
/// file itself happens in the worker.
pub(crate) fn download_url(shared: &Arc<Shared>, node: &str, id: &str, p: &Params) -> ApiResult {
    // The embedded schema dumps this enum as `null`; the running PVE has it
    // (`KNOWN_COMPRESSION_FORMATS`).
    if let Some(c) = p.get("compression") {
        if !["gz", "lzo", "zst", "bz2"].contains(&c) {
            return Err(ApiError::param(
                "compression",
                format!("value '{c}' does not have a value in the enumeration 'gz, lzo, zst, bz2'"),
            ));
        }
    }
    let content = p.required("content")?.to_string();
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
    let filename = normalize_content_filename(p.required("filename")?);
    let lower = filename.to_ascii_lowercase();
    match content.as_str() {
        "iso" if !iso_name(&lower) => {
            return Err(ApiError::param("filename", "wrong file extension"));
        }
        "vztmpl" if vztmpl_format(&lower).is_none() => {
            return Err(ApiError::param("filename", "wrong file extension"));
        }
        "import" if import_format(&filename).is_none() => {
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
    let checksum = match (p.get("checksum-algorithm"), p.get("checksum")) {
        (Some(alg), Some(sum)) if !sum.is_empty() => Some((alg.to_string(), sum.to_string())),
        _ => None,
    };
    let plan = DownloadPlan {
        node: node.to_string(),
        storage: id.to_string(),
        content,
        filename: filename.clone(),
        url,
        checksum,
        compression: p.get("compression").map(str::to_string),
        verify_certificates: p.bool("verify-certificates", true)?,
    };
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(node, "download", filename, Effect::Download(plan)),
    );
    Ok(Reply::data(json!(upid)))
}

/// Where a download goes: the file path and the volume id.
fn download_target(world: &World, plan: &DownloadPlan) -> Result<(String, String, bool), String> {
    let storage = disks::storage_on(world, &plan.node, &plan.storage)?;
    let base = storage.path().unwrap_or("/var/lib/vz");
    let path = format!("{base}/{}/{}", subdir(&plan.content), plan.filename);
    let dir = match plan.content.as_str() {
        "iso" => "iso",
        "vztmpl" => "vztmpl",
        _ => "import",
    };
    let volid = format!("{}:{dir}/{}", plan.storage, plan.filename);
    Ok((path, volid, storage.shared))
}

/// The start of the `download` worker (`download_file_from_url` before
/// wget runs): decompression only for ISOs, then an existing file is
/// refused, or with a `checksum` hashed: the same digest ends the task
/// successfully at once, another fails it.
pub(crate) fn download_check(
    world: &mut World,
    plan: &DownloadPlan,
    cx: &mut Cx,
) -> Result<Option<u32>, String> {
    if plan.compression.is_some() && plan.content != "iso" {
        return Err(format!("decompression not supported for {}", plan.content));
    }
    let (path, volid, _) = download_target(world, plan)?;
    cx.log.push(format!("downloading {} to {path}", plan.url));
    let Some(existing) = world.volume(&plan.node, &volid) else {
        return Ok(None);
    };
    let Some((algorithm, expected)) = &plan.checksum else {
        return Err(format!("refusing to override existing file '{path}'"));
    };
    let got = cx
        .settings
        .urls
        .volume_checksum(existing, algorithm)
        .unwrap_or_default();
    if got.eq_ignore_ascii_case(expected) {
        cx.log.push(
            "calculating checksum of existing file...OK, got correct file already, no need to download"
                .to_string(),
        );
        return Ok(Some(0));
    }
    cx.log
        .push("calculating checksum of existing file...".to_string());
    Err(format!(
        "checksum mismatch: got '{got}' != expect '{expected}', aborting"
    ))
}

/// A command line as `PVE::Tools::cmd2string` prints it.
pub(crate) fn cmd2string(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '_' | '-' | '.' | '/' | ':' | '=' | '+' | '@' | ',' | '%')
                });
            if plain {
                a.to_string()
            } else {
                format!("'{}'", a.replace('\'', "'\"'\"'"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The end of the `download` worker: wget into `<dest>.tmp_dwnl.<pid>`
/// (a URL the server does not have fails the task), the checksum of what
/// came, the decompression, then the rename that makes the file (and its
/// volume) appear, replacing one that appeared meanwhile.
pub(crate) fn download_apply(
    world: &mut World,
    plan: &DownloadPlan,
    cx: &mut Cx,
) -> Result<(), String> {
    let urls = &cx.settings.urls;
    let (path, volid, shared) = download_target(world, plan)?;
    let tmp = format!("{path}.tmp_dwnl.{}", cx.pid);
    if urls.missing(&plan.url) {
        let mut cmd = vec!["wget", "--progress=dot:giga", "-O", &tmp, &plan.url];
        if !plan.verify_certificates {
            cmd.push("--no-check-certificate");
        }
        cx.log.push("ERROR 404: Not Found.".to_string());
        return Err(format!(
            "download failed: command '{}' failed: exit code 8",
            cmd2string(&cmd)
        ));
    }
    if let Some((algorithm, expected)) = &plan.checksum {
        let got = urls.checksum(&plan.url, algorithm).unwrap_or_default();
        if !got.eq_ignore_ascii_case(expected) {
            cx.log.push("calculating checksum...".to_string());
            return Err(format!(
                "checksum mismatch: got '{got}' != expect '{expected}'"
            ));
        }
        cx.log
            .push("calculating checksum...OK, checksum verified".to_string());
    }
    if plan.compression.is_some() {
        cx.log
            .push(format!("decompressing {tmp} to {path}.tmp_dcom.{}", cx.pid));
    }
    let download = Download {
        url: plan.url.clone(),
        compression: plan.compression.clone(),
    };
    let size = urls.file_size(&download);
    let (format, virtual_size) = match plan.content.as_str() {
        "iso" => ("iso".to_string(), None),
        "vztmpl" => (
            vztmpl_format(&plan.filename.to_ascii_lowercase()).unwrap_or_else(|| "tar".into()),
            None,
        ),
        _ => {
            let format = import_format(&plan.filename).unwrap_or("raw");
            let virtual_size = if format == "raw" { size } else { 3 * GIB_BYTES };
            (format.to_string(), Some(virtual_size))
        }
    };
    world.remove_volume(&plan.node, &volid);
    world.volumes.push(Volume {
        volid,
        storage: plan.storage.clone(),
        node: (!shared).then(|| plan.node.clone()),
        content: plan.content.clone(),
        format,
        size,
        vmid: None,
        ctime: now(),
        virtual_size,
        download: Some(download),
        oci: None,
    });
    cx.log
        .push(format!("download of '{}' to '{path}' finished", plan.url));
    Ok(())
}

/// `GET /nodes/{node}/query-url-metadata` (pve-manager `API2/Nodes.pm`):
/// a `HEAD` of the URL; `filename` from `Content-Disposition` or the
/// path, `size` from `Content-Length`, `mimetype` without parameters; a
/// status other than 200 is `invalid server response: '<status line>'`.
pub(crate) fn query_url_metadata(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let url = p.required("url")?;
    let urls = &shared.settings.urls;
    if urls.missing(url) {
        return Err(ApiError::die("invalid server response: '404 Not Found'"));
    }
    let mut obj = Map::new();
    let filename = urls
        .disposition(url)
        .unwrap_or_else(|| url_basename(url).to_string());
    if !filename.is_empty() {
        obj.insert("filename".into(), json!(filename));
    }
    let size = urls.size(url);
    if size > 0 {
        obj.insert("size".into(), json!(size));
    }
    let mimetype = urls.mimetype(url);
    let mimetype = mimetype.split(';').next().unwrap_or_default().trim();
    if !mimetype.is_empty() {
        obj.insert("mimetype".into(), json!(mimetype));
    }
    Ok(Reply::data(Value::Object(obj)))
}
