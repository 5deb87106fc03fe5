//! LXC containers: `/nodes/{node}/lxc/...`.
//!
//! Modelled after pve-container's `API2/LXC.pm`, `API2/LXC/Status.pm` and
//! `API2/LXC/Config.pm` (proxmox-api.md §7):
//!
//! - **create** (`vzcreate`): `ostemplate` must name an existing `vztmpl`
//!   volume (checked in the worker: `unable to create CT <id> - volume
//!   '<volid>' does not exist`); `rootfs=<storage>:<GiB>` and
//!   `mp[n]=<storage>:<GiB>,mp=/path` are allocated (`vm-<id>-disk-<n>` on
//!   lvmthin, `<id>/vm-<id>-disk-<n>.raw` on directory storages);
//!   `net[n]` gets `hwaddr=BC:24:11:..` and `type=veth`; `password` and
//!   `ssh-public-keys` are consumed and never stored; the storage must allow
//!   `rootdir` (`storage '<id>' does not support container directories`);
//! - **config**: `PUT` only (there is no `POST .../config` for containers:
//!   the schema answers 501); `unprivileged` cannot change; descriptions
//!   read back with a trailing newline;
//! - **status**: start/stop/shutdown/reboot are checked before the fork
//!   (`CT <id> already running`, `CT <id> not running`);
//! - **resize** refuses shrinking before the fork (`unable to shrink disk
//!   size`);
//! - **destroy** (`vzdestroy`) is refused while running unless `force=1`
//!   (`unable to destroy CT <id> - container is running`).
//!
//! - an API token is never `root@pam`: feature flags other than `nesting`,
//!   bind/device mount points and hook scripts are refused with **403**
//!   `Permission check failed (changing feature flags (except nesting) is
//!   only allowed for root@pam)` (`check_ct_modify_config_perm`; bpg #609).
//!
//! Simplification: every config change of a running container applies at
//! once except `arch`, `ostype`, `features`, `rootfs`, `entrypoint` and
//! `env`, which go to the pending section.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::disks;
use super::guest::{self, Power};
use super::locks::LockSpec;
use super::propstr::{normalise_tags, random_mac, split_list, PropString};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::tasks::{self, Cx, Effect, TaskPlan};
use super::world::{Guest, GuestKind, World};

const KIND: GuestKind = GuestKind::Lxc;

/// Create parameters that are not config keys.
const CREATE_META: &[&str] = &[
    "node",
    "vmid",
    "ostemplate",
    "password",
    "ssh-public-keys",
    "start",
    "pool",
    "force",
    "unique",
    "restore",
    "storage",
    "bwlimit",
    "ignore-unpack-errors",
    "ha-managed",
];

const UPDATE_META: &[&str] = &["node", "vmid", "delete", "revert", "digest"];

/// Keys that go to pending on a running container (`entrypoint` and
/// `env` are not hotpluggable either: pve-container's
/// `vmconfig_hotplug_pending` skips them, so they wait for a reboot).
const COLD: &[&str] = &["arch", "ostype", "features", "rootfs", "entrypoint", "env"];

/// The `vzcreate` plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CreatePlan {
    /// Node.
    pub node: String,
    /// VMID.
    pub vmid: u32,
    /// `ostemplate` volid.
    pub ostemplate: String,
    /// The config; `rootfs`/`mp[n]` still hold allocation requests.
    pub config: BTreeMap<String, String>,
    /// `start=1`.
    pub start: bool,
    /// `pool=`.
    pub pool: Option<String>,
}

fn lock_spec(node: &str, vmid: u32, timeout: std::time::Duration) -> LockSpec {
    LockSpec::file(node, &KIND.lock_path(vmid), true, timeout)
}

/// Normalises an LXC `net[n]`: `name` first, then sorted keys, with
/// `hwaddr` and `type=veth` filled in.
pub(crate) fn normalise_net(key: &str, value: &str) -> Result<String, ApiError> {
    let mut p = PropString::parse(value)
        .map_err(|e| ApiError::param(key, format!("invalid format - {e}")))?;
    if let Some(head) = p.head.take() {
        p.set("name", head);
    }
    if p.get("name").is_none() {
        return Err(ApiError::param(
            key,
            format!("invalid format - format error\n{key}.name: property is missing and it is not optional\n"),
        ));
    }
    if p.get("hwaddr").is_none() {
        p.set("hwaddr", random_mac());
    }
    if p.get("type").is_none() {
        p.set("type", "veth");
    }
    Ok(p.print_key_first("name"))
}

fn normalise_value(key: &str, value: &str) -> Result<String, ApiError> {
    if key.len() > 3 && key.starts_with("net") && key[3..].chars().all(|c| c.is_ascii_digit()) {
        return normalise_net(key, value);
    }
    if key == "tags" {
        return Ok(normalise_tags(value));
    }
    if key == "description" {
        return Ok(value.trim_end_matches('\n').to_string());
    }
    if guest::is_bool_key(KIND, key) {
        if let Some(b) = super::rest::parse_bool(value) {
            return Ok(if b { "1" } else { "0" }.to_string());
        }
    }
    if key == "features" {
        return PropString::parse(value)
            .map(|p| p.print())
            .map_err(|e| ApiError::param(key, format!("invalid format - {e}")));
    }
    Ok(value.to_string())
}

/// `check_ct_modify_config_perm` for an API token (never `root@pam`):
/// feature flags other than `nesting`, bind/device mount points and hook
/// scripts are refused with 403 whatever the token's privileges.
fn check_root_only(
    old: &BTreeMap<String, String>,
    key: &str,
    value: Option<&str>,
) -> Result<(), ApiError> {
    let deny = |what: &str| ApiError::Status(403, format!("Permission check failed ({what})"));
    if key == "hookscript" {
        return Err(deny("changing the hookscript is only allowed for root@pam"));
    }
    if key.starts_with("dev") && key[3..].chars().all(|c| c.is_ascii_digit()) && key.len() > 3 {
        return Err(deny(
            "configuring device passthrough is only allowed for root@pam",
        ));
    }
    if key == "features" {
        let flags = |text: Option<&str>| -> BTreeMap<String, String> {
            text.and_then(|t| PropString::parse(t).ok())
                .map(|p| p.pairs.into_iter().collect())
                .unwrap_or_default()
        };
        let before = flags(old.get("features").map(String::as_str));
        let after = flags(value);
        let changed = before
            .keys()
            .chain(after.keys())
            .any(|k| k != "nesting" && before.get(k) != after.get(k));
        if changed {
            return Err(deny(
                "changing feature flags (except nesting) is only allowed for root@pam",
            ));
        }
    }
    if (key == "rootfs" || key.starts_with("mp")) && guest::is_disk_key(key) {
        if let Some(head) = value
            .and_then(|v| PropString::parse(v).ok())
            .and_then(|p| p.head)
        {
            if head.starts_with('/') {
                let kind = if head.starts_with("/dev/") {
                    "device"
                } else {
                    "bind"
                };
                return Err(deny(&format!(
                    "mount point type {kind} is only allowed for root@pam"
                )));
            }
        }
    }
    Ok(())
}

fn check_mountpoint(
    world: &World,
    node: &str,
    key: &str,
    value: &str,
) -> Result<Option<String>, ApiError> {
    let p = PropString::parse(value)
        .map_err(|e| ApiError::param(key, format!("invalid format - {e}")))?;
    let head = p
        .head
        .clone()
        .or_else(|| p.get("volume").map(str::to_string))
        .unwrap_or_default();
    if key.starts_with("mp") && p.get("mp").is_none() {
        return Err(ApiError::param(
            key,
            format!("invalid format - format error\n{key}.mp: property is missing and it is not optional\n"),
        ));
    }
    if let Some((storage, _)) = disks::parse_new_disk(&head) {
        disks::check_image_storage(world, node, &storage, "rootdir")?;
        return Ok(Some(storage));
    }
    Ok(None)
}

fn alloc_mountpoint(
    world: &mut World,
    node: &str,
    vmid: u32,
    value: &str,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let mut p = PropString::parse(value)?;
    let head = match p.head.clone() {
        Some(h) => h,
        None => p.take("volume").unwrap_or_default(),
    };
    p.head = Some(head.clone());
    if let Some((storage, size)) = disks::parse_new_disk(&head) {
        let bytes = disks::gib(size);
        let volid = disks::alloc_image(world, node, &storage, vmid, bytes, "rootdir", None, log)?;
        p.head = Some(volid);
        p.set("size", disks::size_text(bytes));
    }
    Ok(p.print())
}

fn ostype_from_template(ostemplate: &str) -> &'static str {
    let name = ostemplate.rsplit('/').next().unwrap_or(ostemplate);
    for os in [
        "debian",
        "ubuntu",
        "alpine",
        "centos",
        "fedora",
        "archlinux",
        "opensuse",
        "gentoo",
        "nixos",
        "devuan",
        "almalinux",
        "rockylinux",
    ] {
        if name.starts_with(os) {
            return match os {
                "almalinux" | "rockylinux" => "centos",
                other => other,
            };
        }
    }
    "unmanaged"
}

/// `GET /nodes/{node}/lxc`.
pub(crate) fn list(shared: &Arc<Shared>, node: &str) -> ApiResult {
    shared.read(|w| {
        let items: Vec<serde_json::Value> = w
            .guests
            .values()
            .filter(|g| g.kind == KIND && g.node == node)
            .map(|g| {
                let mut v = guest::current_status(w, g);
                if let Some(obj) = v.as_object_mut() {
                    obj.remove("ha");
                }
                v
            })
            .collect();
        Ok(Reply::data(serde_json::Value::Array(items)))
    })
}

/// `POST /nodes/{node}/lxc`.
pub(crate) fn create(shared: &Arc<Shared>, node: &str, p: &Params) -> ApiResult {
    let vmid = p
        .vmid("vmid")?
        .ok_or_else(|| ApiError::param("vmid", "property is missing and it is not optional"))?;
    let ostemplate = p.required("ostemplate")?.to_string();
    if p.bool("restore", false)? {
        return Err(ApiError::NotImplemented(
            "pve-sim: restoring a container from a backup archive is not simulated".to_string(),
        ));
    }
    let start = p.bool("start", false)?;
    let pool = p.get("pool").map(str::to_string);
    let default_storage = p.get("storage").unwrap_or("local").to_string();
    let mut config = BTreeMap::new();
    for (key, value) in p.iter() {
        if CREATE_META.contains(&key) {
            continue;
        }
        config.insert(key.to_string(), normalise_value(key, value)?);
    }
    config
        .entry("rootfs".to_string())
        .or_insert_with(|| format!("{default_storage}:4"));
    config.insert(
        "arch".into(),
        config
            .get("arch")
            .cloned()
            .unwrap_or_else(|| "amd64".into()),
    );
    config
        .entry("ostype".to_string())
        .or_insert_with(|| ostype_from_template(&ostemplate).to_string());
    let empty = BTreeMap::new();
    for (key, value) in &config {
        check_root_only(&empty, key, Some(value))?;
    }
    let storages = shared.read(|w| -> Result<Vec<String>, ApiError> {
        super::oci::refuse_runtime_keys(w, node, config.keys().map(String::as_str))?;
        if let Some(pool) = &pool {
            if !w.pools.contains_key(pool) {
                return Err(ApiError::die(format!("pool '{pool}' does not exist")));
            }
        }
        let (tpl_storage, _) = disks::split_volid(&ostemplate).ok_or_else(|| {
            ApiError::param(
                "ostemplate",
                format!("unable to parse volume ID '{ostemplate}'"),
            )
        })?;
        disks::storage_on(w, node, tpl_storage).map_err(ApiError::Die)?;
        let mut storages = Vec::new();
        for (key, value) in &config {
            if key == "rootfs" || (key.starts_with("mp") && guest::is_disk_key(key)) {
                if let Some(s) = check_mountpoint(w, node, key, value)? {
                    if !storages.contains(&s) {
                        storages.push(s);
                    }
                }
            }
        }
        Ok(storages)
    })?;
    shared.write(|w| {
        if let Some(taken) = guest::vmid_taken(w, vmid) {
            return Err(ApiError::die(taken));
        }
        let mut g = Guest::new(vmid, node, KIND);
        g.config.insert("lock".into(), "create".into());
        w.guests.insert(vmid, g);
        Ok(())
    })?;
    let timeout = shared.lock_timeout();
    let mut plan = TaskPlan::new(
        node,
        "vzcreate",
        vmid.to_string(),
        Effect::LxcCreate(CreatePlan {
            node: node.to_string(),
            vmid,
            ostemplate,
            config,
            start,
            pool,
        }),
    )
    .lock(lock_spec(node, vmid, timeout), "");
    for s in storages {
        plan = plan.lock(
            LockSpec::storage(node, &s, shared.storage_is_shared(&s), timeout),
            format!("unable to create CT {vmid} - "),
        );
    }
    Ok(Reply::data(json!(tasks::spawn(shared, plan))))
}

/// Whether a create key is a volume to allocate.
fn is_mount_key(key: &str) -> bool {
    key == "rootfs" || (key.starts_with("mp") && guest::is_disk_key(key))
}

/// The `vzcreate` stage: checks the template and allocates the root disk
/// and mount points (`create_disks`) under the `lock: create` config; the
/// extraction takes the worker's latency.
pub(crate) fn create_stage(
    world: &mut World,
    plan: &CreatePlan,
    cx: &mut Cx,
) -> Result<(), String> {
    let vmid = plan.vmid;
    let fail = |e: String| format!("unable to create CT {vmid} - {e}");
    world
        .volume(&plan.node, &plan.ostemplate)
        .filter(|v| v.content == "vztmpl")
        .ok_or_else(|| fail(format!("volume '{}' does not exist", plan.ostemplate)))?;
    for (key, value) in &plan.config {
        if !is_mount_key(key) {
            continue;
        }
        let before = world.volumes.len();
        let result = alloc_mountpoint(world, &plan.node, vmid, value, cx.log);
        cx.record_allocations(world, before);
        cx.progress
            .config
            .insert(key.clone(), result.map_err(fail)?);
    }
    Ok(())
}

/// The end of `vzcreate`: the archive is extracted, the config written
/// (without the `lock`), the container joins its pool and starts if asked.
pub(crate) fn create_apply(
    world: &mut World,
    plan: &CreatePlan,
    cx: &mut Cx,
) -> Result<u32, String> {
    let vmid = plan.vmid;
    let fail = |e: String| format!("unable to create CT {vmid} - {e}");
    let template = world
        .volume(&plan.node, &plan.ostemplate)
        .filter(|v| v.content == "vztmpl")
        .cloned()
        .ok_or_else(|| fail(format!("volume '{}' does not exist", plan.ostemplate)))?;
    let mut config = BTreeMap::new();
    for (key, value) in &plan.config {
        let value = if is_mount_key(key) {
            cx.progress
                .config
                .get(key)
                .cloned()
                .ok_or_else(|| fail(format!("unable to parse mount point '{key}'")))?
        } else {
            value.clone()
        };
        config.insert(key.clone(), value);
    }
    let log = &mut *cx.log;
    // `archive_is_oci_format`: a `.tar` with an OCI layout inside.
    match template
        .oci
        .as_ref()
        .filter(|_| template.volid.ends_with(".tar"))
    {
        Some(image) => super::oci::apply_image_config(image, &mut config, log),
        None => {
            log.push(format!(
                "extracting archive '/var/lib/vz/template/cache/{}'",
                template.volid.rsplit('/').next().unwrap_or_default()
            ));
            log.push(format!("Total bytes read: {}", template.size * 3));
        }
    }
    log.push(format!(
        "Detected container architecture: {}",
        config.get("arch").cloned().unwrap_or_default()
    ));
    // "set some defaults" once the archive is extracted (pve-container
    // `src/PVE/API2/LXC.pm` create_vm: `$conf->{hostname} ||= "CT$vmid";
    // $conf->{memory} ||= 512; $conf->{swap} //= 512;`).
    if config.get("hostname").is_none_or(|h| h.is_empty()) {
        config.insert("hostname".into(), format!("CT{vmid}"));
    }
    if config
        .get("memory")
        .is_none_or(|m| m.is_empty() || m == "0")
    {
        config.insert("memory".into(), "512".into());
    }
    config.entry("swap".into()).or_insert_with(|| "512".into());
    let guest = guest::lookup_mut(world, KIND, &plan.node, vmid).map_err(fail)?;
    guest.config = config;
    if let Some(pool) = &plan.pool {
        if let Some(p) = world.pools.get_mut(pool) {
            p.vms.insert(vmid);
        }
    }
    let mut warnings = 0;
    if plan.start {
        warnings += guest::autostart(world, KIND, &plan.node, vmid, log);
    }
    Ok(warnings)
}

/// `GET /nodes/{node}/lxc/{vmid}/config`.
pub(crate) fn get_config(shared: &Arc<Shared>, node: &str, vmid: u32, p: &Params) -> ApiResult {
    let current = p.bool("current", false)?;
    // pve-container `vm_config`: `snapshot` reads that section.
    if let Some(snapname) = p.get("snapshot").filter(|s| !s.is_empty()) {
        return shared.read(|w| {
            let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
            super::snapshots::section_json(g, snapname).map(Reply::data)
        });
    }
    shared.read(|w| {
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        Ok(Reply::data(guest::render_config(g, current)))
    })
}

/// `PUT /nodes/{node}/lxc/{vmid}/config` (synchronous).
pub(crate) async fn put_config(
    shared: &Arc<Shared>,
    node: &str,
    vmid: u32,
    p: &Params,
) -> ApiResult {
    let delete = p.get("delete").map(split_list).unwrap_or_default();
    let revert = p.get("revert").map(split_list).unwrap_or_default();
    let digest = p.get("digest").map(str::to_string);
    let mut set = Vec::new();
    for (key, value) in p.iter() {
        if UPDATE_META.contains(&key) {
            continue;
        }
        if delete.iter().any(|d| d == key) {
            return Err(ApiError::param(
                key,
                format!("you can't use '-{key}' and -delete {key}' at the same time"),
            ));
        }
        set.push((key.to_string(), normalise_value(key, value)?));
    }
    shared.read(|w| -> Result<(), ApiError> {
        super::oci::refuse_runtime_keys(w, node, set.iter().map(|(k, _)| k.as_str()))?;
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        for (key, value) in &set {
            check_root_only(&g.config, key, Some(value))?;
        }
        for key in &delete {
            check_root_only(&g.config, key, None)?;
        }
        for (key, value) in &set {
            if key.starts_with("mp") && guest::is_disk_key(key) {
                check_mountpoint(w, node, key, value)?;
            }
        }
        Ok(())
    })?;
    let _held = shared
        .locks
        .acquire(&lock_spec(node, vmid, shared.lock_timeout()))
        .await
        .map_err(ApiError::Die)?;
    shared.write(|w| -> Result<(), ApiError> {
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        if let Some(d) = &digest {
            if d != &g.digest() {
                return Err(ApiError::die(
                    "detected modified configuration - file changed by other user? Try again.",
                ));
            }
        }
        guest::check_lock(g).map_err(ApiError::Die)?;
        if let Some((_, v)) = set.iter().find(|(k, _)| k == "unprivileged") {
            if g.config
                .get("unprivileged")
                .map(String::as_str)
                .unwrap_or("0")
                != v
            {
                return Err(ApiError::die(
                    "unable to modify read-only option: 'unprivileged'",
                ));
            }
        }
        let running = g.running();
        let mut log = Vec::new();
        for key in &revert {
            let g = guest::lookup_mut(w, KIND, node, vmid).map_err(ApiError::Die)?;
            g.pending.remove(key);
            g.pending_delete.remove(key);
        }
        for key in &delete {
            let g = guest::lookup_mut(w, KIND, node, vmid).map_err(ApiError::Die)?;
            if running && COLD.contains(&key.as_str()) {
                g.pending_delete.insert(key.clone());
                continue;
            }
            let old = g.config.remove(key);
            g.pending.remove(key);
            if let Some(old) = old {
                let volid = guest::drive_volid(&old);
                if guest::is_unused_key(key) {
                    if let Some(volid) = volid {
                        disks::free(w, node, &volid, &mut log).map_err(ApiError::Die)?;
                    }
                } else if key.starts_with("mp") {
                    if let Some(volid) = volid {
                        let unused = guest::next_unused(&g.config);
                        g.config.insert(unused, volid);
                    }
                }
            }
        }
        for (key, value) in &set {
            let value = if key.starts_with("mp") && guest::is_disk_key(key) {
                alloc_mountpoint(w, node, vmid, value, &mut log).map_err(ApiError::Die)?
            } else {
                value.clone()
            };
            let g = guest::lookup_mut(w, KIND, node, vmid).map_err(ApiError::Die)?;
            if running && COLD.contains(&key.as_str()) {
                g.pending.insert(key.clone(), value);
            } else {
                g.config.insert(key.clone(), value);
                g.pending.remove(key);
            }
        }
        let g = guest::lookup_mut(w, KIND, node, vmid).map_err(ApiError::Die)?;
        if !g.running() {
            guest::apply_pending(g);
        }
        Ok(())
    })?;
    Ok(Reply::null())
}

/// `POST /nodes/{node}/lxc/{vmid}/status/{action}`.
pub(crate) fn power(
    shared: &Arc<Shared>,
    node: &str,
    vmid: u32,
    action: Power,
    p: &Params,
) -> ApiResult {
    if p.bool("skiplock", false)? {
        return Err(ApiError::param(
            "skiplock",
            "Only root may use this option.",
        ));
    }
    shared.read(|w| -> Result<(), ApiError> {
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        match action {
            Power::Start if g.running() => Err(ApiError::die(format!("CT {vmid} already running"))),
            Power::Stop | Power::Shutdown | Power::Reboot if !g.running() => {
                Err(ApiError::die(format!("CT {vmid} not running")))
            }
            _ => Ok(()),
        }
    })?;
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(
            node,
            action.wtype(KIND),
            vmid.to_string(),
            Effect::Power {
                kind: KIND,
                node: node.to_string(),
                vmid,
                action,
                skiplock: false,
            },
        )
        .lock(lock_spec(node, vmid, shared.lock_timeout()), ""),
    );
    Ok(Reply::data(json!(upid)))
}

/// `PUT /nodes/{node}/lxc/{vmid}/resize`.
pub(crate) async fn resize(shared: &Arc<Shared>, node: &str, vmid: u32, p: &Params) -> ApiResult {
    let disk = p.required("disk")?.to_string();
    let size = p.required("size")?.to_string();
    guest::check_size_param(&size)?;
    let digest = p.get("digest").map(str::to_string);
    shared.read(|w| {
        guest::lookup(w, KIND, node, vmid)
            .map(|_| ())
            .map_err(ApiError::Die)
    })?;
    let held = shared
        .locks
        .acquire(&lock_spec(node, vmid, shared.lock_timeout()))
        .await
        .map_err(ApiError::Die)?;
    shared.read(|w| -> Result<(), ApiError> {
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        if let Some(d) = &digest {
            if d != &g.digest() {
                return Err(ApiError::die(
                    "detected modified configuration - file changed by other user? Try again.",
                ));
            }
        }
        guest::check_lock(g).map_err(ApiError::Die)?;
        let value = g
            .config
            .get(&disk)
            .ok_or_else(|| ApiError::die(format!("disk '{disk}' does not exist")))?;
        let volid = guest::drive_volid(value)
            .ok_or_else(|| ApiError::die(format!("disk '{disk}' has no volume")))?;
        let current = w.volume(node, &volid).map(|v| v.size).unwrap_or(0);
        match guest::new_disk_size(current, &size) {
            Some(n) if n < current => Err(ApiError::die("unable to shrink disk size")),
            Some(_) => Ok(()),
            None => Err(ApiError::param(
                "size",
                "value does not match the regex pattern",
            )),
        }
    })?;
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(
            node,
            "resize",
            vmid.to_string(),
            Effect::Resize {
                kind: KIND,
                node: node.to_string(),
                vmid,
                disk,
                size,
                skiplock: true,
            },
        )
        .holding(held),
    );
    Ok(Reply::data(json!(upid)))
}

/// `DELETE /nodes/{node}/lxc/{vmid}`.
pub(crate) fn destroy(shared: &Arc<Shared>, node: &str, vmid: u32, p: &Params) -> ApiResult {
    let force = p.bool("force", false)?;
    let purge = p.bool("purge", false)?;
    let unreferenced = p.bool("destroy-unreferenced-disks", false)?;
    shared.read(|w| -> Result<(), ApiError> {
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        guest::check_lock(g).map_err(ApiError::Die)?;
        if g.running() && !force {
            return Err(ApiError::die(format!(
                "unable to destroy CT {vmid} - container is running"
            )));
        }
        if g.config.get("protection").map(String::as_str) == Some("1") {
            return Err(ApiError::die(format!(
                "can't remove CT {vmid} - protection mode enabled"
            )));
        }
        Ok(())
    })?;
    if force {
        // `force=1` stops the container inside the destroy worker.
        shared.write(|w| {
            if let Ok(g) = guest::lookup_mut(w, KIND, node, vmid) {
                g.status = super::world::GuestStatus::Stopped;
                g.started_at = None;
                g.pid = None;
            }
        });
    }
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(
            node,
            "vzdestroy",
            vmid.to_string(),
            Effect::Destroy {
                kind: KIND,
                node: node.to_string(),
                vmid,
                purge,
                unreferenced,
            },
        )
        .lock(lock_spec(node, vmid, shared.lock_timeout()), ""),
    );
    Ok(Reply::data(json!(upid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lxc_nics_print_name_first_with_hwaddr_and_type() {
        let v = normalise_net("net0", "name=eth0,bridge=vmbr0,ip=dhcp,tag=20").unwrap();
        assert!(
            v.starts_with("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:"),
            "{v}"
        );
        assert!(v.ends_with(",ip=dhcp,tag=20,type=veth"), "{v}");
        assert_eq!(
            ostype_from_template("local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"),
            "debian"
        );
    }
}
