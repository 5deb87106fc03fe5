//! QEMU VMs: `/nodes/{node}/qemu/...`.
//!
//! Modelled after qemu-server's `API2/Qemu.pm` (proxmox-api.md §6):
//!
//! - **create** checks parameters and storages, generates random MACs
//!   (`BC:24:11:..`), and writes a config holding only `lock: create`
//!   before forking `qmcreate`; a taken VMID is a 500 `unable to create VM
//!   <id> - VM <id> already exists on node '<node>'`. The worker allocates
//!   the disks (`local-lvm:32` → `local-lvm:vm-<id>-disk-0,size=32G`,
//!   `local-lvm:0,import-from=<volid>` → the source image's virtual size,
//!   `ide2=local-lvm:cloudinit` → `local-lvm:vm-<id>-cloudinit,media=cdrom`,
//!   `ide2=local:iso/x.iso,media=cdrom` → the same with the ISO's `size=`;
//!   a missing ISO fails with `volume 'local:iso/x.iso' does not exist`),
//!   adds `meta`, `vmgenid`, `smbios1` and a default `boot` order, and
//!   starts the VM when `start=1` (a failing start only *warns*, so the task
//!   ends `WARNINGS: 1`);
//! - **config**: `GET` applies pending values unless `current=1`; `PUT` is
//!   synchronous, `POST` forks `qmconfig`; `digest` is checked; on a running
//!   VM only hot-pluggable keys (NICs, disks, and qemu-server's "fast plug"
//!   options such as `name`, `tags`, `description`, `onboot`; a new disc in
//!   an existing CD-ROM drive; a `balloon` target that keeps the balloon
//!   device on or off) apply at once, everything else (`cores`, `memory`,
//!   `cpu`, `boot`, `scsihw`, `machine`, cloud-init keys, ...) goes to the
//!   pending section until the next start or reboot (a pending value equal
//!   to the current one is dropped, as `cleanup_pending` does, so unchanged
//!   settings sent again never wait for a reboot); a `balloon` above the
//!   memory is refused (`balloon value too large`). A `net[n]`
//!   written without a MAC gets a **new** random MAC (`parse_net`
//!   autogenerates one), so clients must send the MAC back on updates;
//! - **clone** follows current qemu-server (`clone_vm` in API2/Qemu.pm,
//!   `clone_disk` in QemuServer.pm): early checks before the fork (pool,
//!   storage, source lock, linked/full support, target VMID), then the
//!   worker takes the source config lock **shared** (exclusive if the
//!   source runs) and the target lock exclusively, each with qemu-server's
//!   1 s timeout, writes a `lock: clone` placeholder (a new MAC for every
//!   NIC, printed `virtio=<MAC>,bridge=...`), and for each drive holds the
//!   storage lock only around its allocation (`vdisk_alloc` /
//!   `vdisk_clone`, 10 s timeout); a full clone then copies the drive
//!   outside the lock, sharing the storage's bandwidth with every other
//!   copy running onto it ([`super::copies`]); a linked clone copies
//!   nothing. Clones of one template therefore run concurrently; two
//!   clones onto one new VMID exclude each other (the second waits 1 s for
//!   the target lock and fails with `can't lock file
//!   '/var/lock/qemu-server/lock-<newid>.conf' - got timeout`, or, once
//!   the first wrote its placeholder, with `unable to create VM <newid>:
//!   config file already exists`); a synchronous `PUT .../config` on the
//!   target while the clone runs waits for its config lock and fails with
//!   HTTP 500 `can't lock file '/var/lock/qemu-server/lock-<newid>.conf' -
//!   got timeout` (bpg #995, #1521; capmox #389).
//!   [`super::CloneSourceLock::ExclusiveInRequest`] instead reproduces the
//!   older behaviour where the source lock is taken exclusively before the
//!   fork, so a second clone of the same source gets the HTTP 500 itself;
//! - **template** renames disks to `base-<id>-disk-<n>`; linked clones of a
//!   template get `base-<tid>-disk-<n>/vm-<id>-disk-<m>`;
//! - **resize** forks `resize`; shrinking fails the task with `shrinking
//!   disks is not supported` (the check runs inside the worker);
//! - **status**: starting a running VM fails the task with `VM <id> already
//!   running`; a NIC on a bridge the node lacks fails the start with
//!   `bridge '<b>' does not exist`;
//! - **destroy** is refused before the fork while the VM runs (`VM <id> is
//!   running - destroy failed`) or is locked, and removes the VM from its
//!   pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::copies::StageIo;
use super::disks;
use super::guest::{self, Power};
use super::locks::LockSpec;
use super::propstr::{
    is_mac, is_urlencoded, normalise_tags, random_mac, split_list, PropString, MIB_BYTES,
};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::tasks::{self, Cx, Effect, TaskPlan};
use super::world::{now, Guest, GuestKind, World};
use super::CloneSourceLock;

const KIND: GuestKind = GuestKind::Qemu;

/// Parameters of `POST /nodes/{node}/qemu` that are not config keys.
const CREATE_META: &[&str] = &[
    "node",
    "vmid",
    "start",
    "pool",
    "force",
    "unique",
    "storage",
    "bwlimit",
    "live-restore",
    "archive",
    "import-working-storage",
];

/// Parameters of the config update that are not config keys.
const UPDATE_META: &[&str] = &[
    "node",
    "vmid",
    "delete",
    "revert",
    "digest",
    "skiplock",
    "force",
    "background_delay",
];

/// qemu-server's `$fast_plug_option`: applied at once even while running.
const FAST_PLUG: &[&str] = &[
    "description",
    "hookscript",
    "lock",
    "migrate_downtime",
    "migrate_speed",
    "name",
    "onboot",
    "protection",
    "shares",
    "startup",
    "tags",
    "vmstatestorage",
];

const NIC_MODELS: &[&str] = &[
    "e1000",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
    "e1000e",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "ne2k_pci",
    "pcnet",
    "rtl8139",
    "virtio",
    "vmxnet3",
];

/// The `qmcreate` plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CreatePlan {
    /// Node.
    pub node: String,
    /// VMID.
    pub vmid: u32,
    /// The config to write; drive values still hold allocation requests.
    pub config: BTreeMap<String, String>,
    /// `start=1`.
    pub start: bool,
    /// `pool=`.
    pub pool: Option<String>,
}

/// The `qmclone` plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClonePlan {
    /// Node of the source.
    pub node: String,
    /// Source VMID.
    pub src: u32,
    /// New VMID.
    pub newid: u32,
    /// Target node (shared storage only).
    pub target: Option<String>,
    /// Full clone.
    pub full: bool,
    /// Target storage (full clones).
    pub storage: Option<String>,
    /// Target format (full clones).
    pub format: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Pool to join.
    pub pool: Option<String>,
}

/// A config update (`PUT`/`POST .../config`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UpdatePlan {
    /// Node.
    pub node: String,
    /// VMID.
    pub vmid: u32,
    /// Keys to set (normalised, MACs injected).
    pub set: Vec<(String, String)>,
    /// Keys to delete.
    pub delete: Vec<String>,
    /// Pending keys to revert.
    pub revert: Vec<String>,
    /// Expected digest.
    pub digest: Option<String>,
    /// `force=1`: free removed disks instead of keeping them as `unused[n]`.
    pub force: bool,
    /// `skiplock=1`.
    pub skiplock: bool,
}

/// `skiplock` is for `root@pam` only; the simulator's caller is an API
/// token, so `skiplock=1` is refused as qemu-server refuses it
/// (`raise_param_exc({ skiplock => "Only root may use this option." })`).
fn root_only_skiplock(p: &Params) -> Result<bool, ApiError> {
    if p.bool("skiplock", false)? {
        return Err(ApiError::param(
            "skiplock",
            "Only root may use this option.",
        ));
    }
    Ok(false)
}

fn lock_spec(node: &str, vmid: u32, exclusive: bool, timeout: std::time::Duration) -> LockSpec {
    LockSpec::file(node, &KIND.lock_path(vmid), exclusive, timeout)
}

/// Normalises `net[n]`: model key carries the MAC, other keys sorted; a
/// missing MAC gets a fresh random one.
pub(crate) fn normalise_net(key: &str, value: &str) -> Result<String, ApiError> {
    let mut p = PropString::parse(value)
        .map_err(|e| ApiError::param(key, format!("invalid format - {e}")))?;
    let mut model = p.head.take();
    let mut mac = None;
    if let Some(m) = p.take("model") {
        model = Some(m);
    }
    if let Some(m) = p.take("macaddr") {
        mac = Some(m);
    }
    for m in NIC_MODELS {
        if let Some(v) = p.take(m) {
            model = Some((*m).to_string());
            mac = Some(v);
        }
    }
    if let Some(m) = mac.as_deref().filter(|m| !is_mac(m)) {
        return Err(ApiError::param(
            key,
            format!("invalid format - format error\n{key}.macaddr: value '{m}' does not look like a valid MAC address\n"),
        ));
    }
    let model = model.ok_or_else(|| {
        ApiError::param(
            key,
            format!("invalid format - format error\n{key}.model: property is missing and it is not optional\n"),
        )
    })?;
    p.head = Some(format!("{model}={}", mac.unwrap_or_else(random_mac)));
    Ok(p.print())
}

/// Normalises one config value as qemu-server stores it.
fn normalise_value(key: &str, value: &str) -> Result<String, ApiError> {
    if key.starts_with("net") && key[3..].chars().all(|c| c.is_ascii_digit()) && key.len() > 3 {
        return normalise_net(key, value);
    }
    if key == "sshkeys" && !is_urlencoded(value) {
        return Err(ApiError::param(
            key,
            format!("invalid format - invalid urlencoded string: {value}\n"),
        ));
    }
    if key == "tags" {
        return Ok(normalise_tags(value));
    }
    if guest::is_bool_key(KIND, key) {
        if let Some(b) = super::rest::parse_bool(value) {
            return Ok(if b { "1" } else { "0" }.to_string());
        }
    }
    Ok(value.to_string())
}

/// The content type a volume name implies (`parse_volname`'s vtype).
fn vtype(volname: &str) -> &'static str {
    if volname.starts_with("iso/") {
        "iso"
    } else if volname.starts_with("vztmpl/") {
        "vztmpl"
    } else if volname.starts_with("import/") {
        "import"
    } else if volname.starts_with("backup/") || volname.starts_with("dump/") {
        "backup"
    } else if volname.starts_with("snippets/") {
        "snippets"
    } else {
        "images"
    }
}

/// Checks a drive value before the fork (`$check_drive_param`,
/// `$check_storage_access`).
fn check_drive(world: &World, node: &str, key: &str, value: &str) -> Result<(), ApiError> {
    let p = PropString::parse(value)
        .map_err(|e| ApiError::param(key, format!("invalid format - {e}")))?;
    let Some(head) = p.head.clone().or_else(|| p.get("file").map(str::to_string)) else {
        return Err(ApiError::param(key, "unable to parse drive options"));
    };
    if matches!(head.as_str(), "none" | "cdrom") {
        return Ok(());
    }
    if let Some((storage, "cloudinit")) = head.split_once(':') {
        return disks::check_image_storage(world, node, storage, "images");
    }
    if let Some((storage, size)) = disks::parse_new_disk(&head) {
        if let Some(src) = p.get("import-from") {
            if size != 0.0 {
                return Err(ApiError::param(
                    key,
                    "'import-from' requires special syntax - use <storage ID>:0,import-from=<source>",
                ));
            }
            if let Some((src_storage, volname)) = disks::split_volid(src) {
                disks::storage_on(world, node, src_storage).map_err(ApiError::Die)?;
                let vt = vtype(volname);
                if vt != "images" && vt != "import" {
                    return Err(ApiError::param(
                        key,
                        format!("{src} has wrong type '{vt}' - needs to be 'images' or 'import'"),
                    ));
                }
            }
        }
        return disks::check_image_storage(world, node, &storage, "images");
    }
    if let Some((storage, volname)) = disks::split_volid(&head) {
        disks::storage_on(world, node, storage).map_err(ApiError::Die)?;
        if vtype(volname) == "iso" && p.get("media") != Some("cdrom") {
            return Err(ApiError::param(
                key,
                "explicit 'media=cdrom' is required for iso images",
            ));
        }
    }
    Ok(())
}

/// The storages a drive value allocates on (for the storage locks).
fn allocating_storage(value: &str) -> Option<String> {
    let p = PropString::parse(value).ok()?;
    let head = p.head?;
    if let Some((storage, "cloudinit")) = head.split_once(':') {
        return Some(storage.to_string());
    }
    disks::parse_new_disk(&head).map(|(storage, _)| storage)
}

/// Allocates what a drive value asks for and returns the normalised value.
fn alloc_drive(
    world: &mut World,
    node: &str,
    vmid: u32,
    key: &str,
    value: &str,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let mut p = PropString::parse(value)?;
    let head = match p.head.clone() {
        Some(h) => h,
        None => p
            .take("file")
            .ok_or_else(|| format!("unable to parse drive options for '{key}'"))?,
    };
    p.head = Some(head.clone());
    if matches!(head.as_str(), "none" | "cdrom") {
        return Ok(p.print());
    }
    if let Some((storage, "cloudinit")) = head.split_once(':') {
        let volid = disks::alloc_cloudinit(world, node, storage, vmid)?;
        p.head = Some(volid);
        p.set("media", "cdrom");
        return Ok(p.print());
    }
    if let Some((storage, size_gib)) = disks::parse_new_disk(&head) {
        let format = p.take("format");
        let size = if let Some(src) = p.take("import-from") {
            let source = world
                .volume(node, &src)
                .cloned()
                .ok_or_else(|| format!("volume '{src}' does not exist"))?;
            let size = source.virtual_size.unwrap_or(source.size);
            log.push(format!("importing disk '{src}' to VM {vmid} ..."));
            log.push(format!(
                "transferred {} of {} (100.00%)",
                disks::human(size),
                disks::human(size)
            ));
            size
        } else if key == "efidisk0" || key == "tpmstate0" {
            4 * MIB_BYTES
        } else {
            disks::gib(size_gib)
        };
        let volid = disks::alloc_image(
            world,
            node,
            &storage,
            vmid,
            size,
            "images",
            format.as_deref(),
            log,
        )?;
        p.head = Some(volid);
        p.set("size", disks::size_text(size));
        return Ok(p.print());
    }
    if guest::is_cdrom(value) {
        // An ISO in a CD-ROM drive must exist; PVE records its size.
        if disks::split_volid(&head).is_some() {
            let volume = world
                .volume(node, &head)
                .cloned()
                .ok_or_else(|| format!("volume '{head}' does not exist"))?;
            p.set("size", disks::size_text(volume.size));
        }
        return Ok(p.print());
    }
    let volume = world
        .volume(node, &head)
        .cloned()
        .ok_or_else(|| format!("volume '{head}' does not exist"))?;
    p.set("size", disks::size_text(volume.size));
    Ok(p.print())
}

/// The default boot order (`get_default_bootdevices`): first disk, first
/// CD-ROM (not cloud-init), first NIC.
fn default_boot(config: &BTreeMap<String, String>) -> Option<String> {
    let mut order: Vec<String> = Vec::new();
    let buses: Vec<String> = (0..4)
        .map(|i| format!("ide{i}"))
        .chain((0..6).map(|i| format!("sata{i}")))
        .chain((0..31).map(|i| format!("scsi{i}")))
        .chain((0..16).map(|i| format!("virtio{i}")))
        .collect();
    if let Some(disk) = buses
        .iter()
        .find(|k| config.get(*k).is_some_and(|v| !guest::is_cdrom(v)))
    {
        order.push(disk.clone());
    }
    if let Some(cd) = buses.iter().find(|k| {
        config
            .get(*k)
            .is_some_and(|v| guest::is_cdrom(v) && !v.contains("cloudinit"))
    }) {
        order.push(cd.clone());
    }
    if let Some(net) = (0..32)
        .map(|i| format!("net{i}"))
        .find(|k| config.contains_key(k))
    {
        order.push(net);
    }
    (!order.is_empty()).then(|| format!("order={}", order.join(";")))
}

fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-{:02x}{:02x}-{}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6] & 0x0f,
        b[7],
        (b[8] & 0x3f) | 0x80,
        b[9],
        b[10..]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}

fn is_net_key(key: &str) -> bool {
    key.len() > 3 && key.starts_with("net") && key[3..].chars().all(|c| c.is_ascii_digit())
}

fn check_pool(world: &World, pool: Option<&str>) -> Result<(), ApiError> {
    match pool {
        Some(p) if !world.pools.contains_key(p) => {
            Err(ApiError::die(format!("pool '{p}' does not exist")))
        }
        _ => Ok(()),
    }
}

/// `GET /nodes/{node}/qemu`.
pub(crate) fn list(shared: &Arc<Shared>, node: &str) -> ApiResult {
    shared.read(|w| {
        let items: Vec<Value> = w
            .guests
            .values()
            .filter(|g| g.kind == KIND && g.node == node)
            .map(|g| {
                let mut v = guest::current_status(w, g);
                if let Some(obj) = v.as_object_mut() {
                    obj.remove("ha");
                    obj.remove("agent");
                    obj.remove("running-machine");
                    obj.remove("running-qemu");
                    if let Some(name) = g.config.get("name") {
                        obj.insert("name".into(), json!(name));
                    }
                }
                v
            })
            .collect();
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `POST /nodes/{node}/qemu`.
pub(crate) fn create(shared: &Arc<Shared>, node: &str, p: &Params) -> ApiResult {
    let vmid = p
        .vmid("vmid")?
        .ok_or_else(|| ApiError::param("vmid", "property is missing and it is not optional"))?;
    if p.has("archive") {
        return Err(ApiError::NotImplemented(
            "pve-sim: restoring a VM from a backup archive is not simulated".to_string(),
        ));
    }
    let start = p.bool("start", false)?;
    let pool = p.get("pool").map(str::to_string);
    let mut config = BTreeMap::new();
    for (key, value) in p.iter() {
        if CREATE_META.contains(&key) {
            continue;
        }
        let value = if key == "cdrom" {
            // `cdrom` is an alias for `ide2` with media=cdrom.
            let v = if value.contains("media=") {
                value.to_string()
            } else {
                format!("{value},media=cdrom")
            };
            config.insert("ide2".to_string(), v);
            continue;
        } else {
            normalise_value(key, value)?
        };
        config.insert(key.to_string(), value);
    }
    let storages: Vec<String> = shared.read(|w| -> Result<Vec<String>, ApiError> {
        check_pool(w, pool.as_deref())?;
        let mut storages = Vec::new();
        for (key, value) in &config {
            if guest::is_disk_key(key) {
                check_drive(w, node, key, value)?;
                if let Some(s) = allocating_storage(value) {
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
            return Err(ApiError::die(format!(
                "unable to create VM {vmid} - {taken}"
            )));
        }
        let mut g = Guest::new(vmid, node, KIND);
        g.config.insert("lock".into(), "create".into());
        w.guests.insert(vmid, g);
        Ok(())
    })?;
    let timeout = shared.lock_timeout();
    let mut plan = TaskPlan::new(
        node,
        "qmcreate",
        vmid.to_string(),
        Effect::QemuCreate(CreatePlan {
            node: node.to_string(),
            vmid,
            config,
            start,
            pool,
        }),
    )
    .lock(lock_spec(node, vmid, true, timeout), "");
    for s in storages {
        plan = plan.lock(
            LockSpec::storage(node, &s, shared.storage_is_shared(&s), timeout),
            format!("unable to create VM {vmid} - "),
        );
    }
    Ok(Reply::data(json!(tasks::spawn(shared, plan))))
}

/// The drive keys a create allocates or checks, one per stage.
fn create_drives(plan: &CreatePlan) -> impl Iterator<Item = (&String, &String)> {
    plan.config.iter().filter(|(k, _)| guest::is_disk_key(k))
}

/// The `qmcreate` stages: one per drive.
pub(crate) fn create_stages(plan: &CreatePlan) -> usize {
    create_drives(plan).count()
}

/// `qmcreate` stage `i`: allocates (or imports, or checks) drive `i` under
/// the `lock: create` config (`create_disks`); the config itself is written
/// at the end.
pub(crate) fn create_stage(
    world: &mut World,
    plan: &CreatePlan,
    i: usize,
    cx: &mut Cx,
) -> Result<(), String> {
    let vmid = plan.vmid;
    let Some((key, value)) = create_drives(plan).nth(i) else {
        return Ok(());
    };
    let before = world.volumes.len();
    let result = alloc_drive(world, &plan.node, vmid, key, value, cx.log);
    cx.record_allocations(world, before);
    let value = result.map_err(|e| format!("unable to create VM {vmid} - {e}"))?;
    cx.progress.config.insert(key.clone(), value);
    Ok(())
}

/// The end of `qmcreate`: writes the whole config (without the `lock`),
/// joins the pool, starts the VM if asked.
pub(crate) fn create_apply(
    world: &mut World,
    plan: &CreatePlan,
    cx: &mut Cx,
) -> Result<u32, String> {
    let vmid = plan.vmid;
    let fail = |e: String| format!("unable to create VM {vmid} - {e}");
    let mut config = BTreeMap::new();
    for (key, value) in &plan.config {
        let value = if guest::is_disk_key(key) {
            cx.progress
                .config
                .get(key)
                .cloned()
                .ok_or_else(|| fail(format!("unable to parse drive options for '{key}'")))?
        } else {
            value.clone()
        };
        config.insert(key.clone(), value);
    }
    config
        .entry("meta".to_string())
        .or_insert_with(|| format!("creation-qemu=9.2.0,ctime={}", now()));
    config.entry("vmgenid".to_string()).or_insert_with(uuid);
    config
        .entry("smbios1".to_string())
        .or_insert_with(|| format!("uuid={}", uuid()));
    if !config.contains_key("boot") {
        if let Some(boot) = default_boot(&config) {
            config.insert("boot".to_string(), boot);
        }
    }
    let guest = guest::lookup_mut(world, KIND, &plan.node, vmid).map_err(fail)?;
    guest.config = config;
    if let Some(pool) = &plan.pool {
        if let Some(p) = world.pools.get_mut(pool) {
            p.vms.insert(vmid);
        }
    }
    let mut warnings = 0;
    if plan.start {
        cx.log.push("Execute autostart".to_string());
        warnings += guest::autostart(world, KIND, &plan.node, vmid, cx.log);
    }
    Ok(warnings)
}

/// `GET /nodes/{node}/qemu/{vmid}/config`.
pub(crate) fn get_config(shared: &Arc<Shared>, node: &str, vmid: u32, p: &Params) -> ApiResult {
    let current = p.bool("current", false)?;
    // qemu-server `get_vm_config`: `snapshot` and `current` exclude each
    // other; `snapshot` reads that section (`load_snapshot_config`).
    if let Some(snapname) = p.get("snapshot").filter(|s| !s.is_empty()) {
        if current {
            let message = "cannot use 'snapshot' parameter with 'current'";
            let mut errors = std::collections::BTreeMap::new();
            errors.insert("snapshot".to_string(), message.to_string());
            errors.insert("current".to_string(), message.to_string());
            return Err(ApiError::Param(errors));
        }
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

/// `GET /nodes/{node}/qemu/{vmid}/pending`.
pub(crate) fn pending(shared: &Arc<Shared>, kind: GuestKind, node: &str, vmid: u32) -> ApiResult {
    shared.read(|w| {
        let g = guest::lookup(w, kind, node, vmid).map_err(ApiError::Die)?;
        Ok(Reply::data(guest::render_pending(g)))
    })
}

/// Builds the update plan from the request (parameter checks happen here,
/// before any lock, as in `update_vm_api`).
pub(crate) fn update_plan(node: &str, vmid: u32, p: &Params) -> Result<UpdatePlan, ApiError> {
    let skiplock = root_only_skiplock(p)?;
    let delete = p.get("delete").map(split_list).unwrap_or_default();
    let revert = p.get("revert").map(split_list).unwrap_or_default();
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
        if key == "cdrom" {
            let v = if value.contains("media=") {
                value.to_string()
            } else {
                format!("{value},media=cdrom")
            };
            set.push(("ide2".to_string(), v));
            continue;
        }
        set.push((key.to_string(), normalise_value(key, value)?));
    }
    for key in &revert {
        if set.iter().any(|(k, _)| k == key) || delete.contains(key) {
            return Err(ApiError::param(
                "revert",
                format!("you can't use '-{key}' and '-revert {key}' at the same time"),
            ));
        }
    }
    Ok(UpdatePlan {
        node: node.to_string(),
        vmid,
        set,
        delete,
        revert,
        digest: p.get("digest").map(str::to_string),
        force: p.bool("force", false)?,
        skiplock,
    })
}

fn hot(key: &str) -> bool {
    FAST_PLUG.contains(&key)
        || is_net_key(key)
        || (guest::is_disk_key(key) && !key.starts_with("ide"))
        || guest::is_unused_key(key)
}

/// Whether setting `key` from `old` to `new` applies to a running VM at
/// once (`vmconfig_hotplug_pending`): the [`hot`] keys, a new medium in an
/// existing CD-ROM drive (`vmconfig_update_disk` changes it through QMP,
/// whatever the bus), and a balloon target that neither adds nor removes
/// the balloon device ("enable/disable ballooning device is not
/// hotpluggable").
fn hot_change(key: &str, old: Option<&str>, new: &str) -> bool {
    if hot(key) {
        return true;
    }
    let plain_cdrom = |v: &str| guest::is_cdrom(v) && !v.contains("cloudinit");
    if guest::is_disk_key(key) {
        return old.is_some_and(plain_cdrom) && plain_cdrom(new);
    }
    if key == "balloon" {
        let enabled = |v: Option<&str>| v.is_none_or(|v| v.trim() != "0");
        return enabled(old) == enabled(Some(new));
    }
    false
}

/// `update_vm_api`'s memory check: a balloon target above the VM's memory
/// is refused.
fn check_balloon(g: &Guest, plan: &UpdatePlan) -> Result<(), String> {
    let set = |k: &str| plan.set.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    if set("memory").is_none() && set("balloon").is_none() {
        return Ok(());
    }
    let mut effective = g.clone();
    if let Some(m) = set("memory").or_else(|| g.pending.get("memory")) {
        effective.config.insert("memory".into(), m.clone());
    }
    let balloon: u64 = set("balloon")
        .or_else(|| g.pending.get("balloon"))
        .or_else(|| g.config.get("balloon"))
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or(0);
    if balloon > effective.memory_mib() {
        return Err("balloon value too large (must be smaller than assigned memory)".to_string());
    }
    Ok(())
}

/// Removes a drive key, keeping its volume as `unused[n]` (or freeing it).
fn detach_drive(
    world: &mut World,
    node: &str,
    vmid: u32,
    key: &str,
    force: bool,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let Some(value) = guest::lookup(world, KIND, node, vmid)?
        .config
        .get(key)
        .cloned()
    else {
        return Ok(());
    };
    let owned_volume = guest::drive_volid(&value).filter(|volid| {
        world
            .volume(node, volid)
            .is_some_and(|v| v.vmid == Some(vmid))
            && !value.contains("cloudinit")
    });
    let is_unused = guest::is_unused_key(key);
    let free_it = is_unused || force || value.contains("cloudinit");
    if free_it {
        if let Some(volid) = guest::drive_volid(&value).filter(|v| {
            world
                .volume(node, v)
                .is_some_and(|vol| vol.vmid == Some(vmid))
        }) {
            disks::free(world, node, &volid, log)?;
        }
    }
    let g = guest::lookup_mut(world, KIND, node, vmid)?;
    g.config.remove(key);
    if let (Some(volid), false) = (owned_volume, free_it) {
        let unused = guest::next_unused(&g.config);
        g.config.insert(unused, volid);
    }
    Ok(())
}

/// Applies a config update (the body of `update_vm_api`'s `$updatefn`).
pub(crate) fn update_apply(
    world: &mut World,
    plan: &UpdatePlan,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let (node, vmid) = (plan.node.as_str(), plan.vmid);
    let g = guest::lookup(world, KIND, node, vmid)?;
    if let Some(digest) = &plan.digest {
        if digest != &g.digest() {
            return Err(
                "detected modified configuration - file changed by other user? Try again."
                    .to_string(),
            );
        }
    }
    if !plan.skiplock {
        guest::check_lock(g)?;
    }
    check_balloon(g, plan)?;
    let running = g.running();
    for key in &plan.revert {
        let g = guest::lookup_mut(world, KIND, node, vmid)?;
        g.pending.remove(key);
        g.pending_delete.remove(key);
    }
    for key in &plan.delete {
        if running && !hot(key) {
            let g = guest::lookup_mut(world, KIND, node, vmid)?;
            g.pending.remove(key);
            g.pending_delete.insert(key.clone());
        } else if guest::is_disk_key(key) || guest::is_unused_key(key) {
            detach_drive(world, node, vmid, key, plan.force, log)?;
        } else {
            let g = guest::lookup_mut(world, KIND, node, vmid)?;
            g.config.remove(key);
            g.pending.remove(key);
            g.pending_delete.remove(key);
        }
    }
    for (key, value) in &plan.set {
        let mut value = value.clone();
        let old = guest::lookup(world, KIND, node, vmid)?
            .config
            .get(key)
            .cloned();
        let applies_now = !running || hot_change(key, old.as_deref(), &value);
        if guest::is_disk_key(key) {
            value = alloc_drive(world, node, vmid, key, &value, log)?;
            let same_volume = old
                .as_deref()
                .and_then(guest::drive_volid)
                .is_some_and(|old| guest::drive_volid(&value).as_deref() == Some(old.as_str()));
            if old.is_some() && !same_volume {
                detach_drive(world, node, vmid, key, false, log)?;
            }
        }
        let g = guest::lookup_mut(world, KIND, node, vmid)?;
        if !applies_now {
            g.pending.insert(key.clone(), value);
            g.pending_delete.remove(key);
        } else {
            g.config.insert(key.clone(), value);
            g.pending.remove(key);
            g.pending_delete.remove(key);
        }
    }
    let g = guest::lookup_mut(world, KIND, node, vmid)?;
    // qemu-server `update_vm_api` then `cleanup_pending` ("remove pending
    // changes when nothing changed"): a pending value equal to the
    // current one, and a pending delete of a key the config lacks, are
    // dropped, so sending a running VM's unchanged settings again (with a
    // new description) leaves nothing for a reboot.
    let current = g.config.clone();
    g.pending.retain(|k, v| current.get(k) != Some(v));
    g.pending_delete.retain(|k| current.contains_key(k));
    if !g.running() {
        guest::apply_pending(g);
    }
    Ok(())
}

/// `PUT /nodes/{node}/qemu/{vmid}/config` (synchronous).
pub(crate) async fn put_config(
    shared: &Arc<Shared>,
    node: &str,
    vmid: u32,
    p: &Params,
) -> ApiResult {
    let plan = update_plan(node, vmid, p)?;
    shared.read(|w| {
        guest::lookup(w, KIND, node, vmid)
            .map(|_| ())
            .map_err(ApiError::Die)
    })?;
    let spec = lock_spec(node, vmid, true, shared.lock_timeout());
    let _held = shared.locks.acquire(&spec).await.map_err(ApiError::Die)?;
    shared.write(|w| {
        let mut log = Vec::new();
        update_apply(w, &plan, &mut log).map_err(ApiError::Die)
    })?;
    Ok(Reply::null())
}

/// `POST /nodes/{node}/qemu/{vmid}/config` (asynchronous, `qmconfig`).
pub(crate) async fn post_config(
    shared: &Arc<Shared>,
    node: &str,
    vmid: u32,
    p: &Params,
) -> ApiResult {
    let plan = update_plan(node, vmid, p)?;
    shared.read(|w| {
        guest::lookup(w, KIND, node, vmid)
            .map(|_| ())
            .map_err(ApiError::Die)
    })?;
    let background_delay = p.int("background_delay")?;
    let spec = lock_spec(node, vmid, true, shared.lock_timeout());
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(node, "qmconfig", vmid.to_string(), Effect::QemuUpdate(plan)).lock(spec, ""),
    );
    if let Some(delay) = background_delay.filter(|d| *d > 0) {
        let delay = std::time::Duration::from_secs(delay.clamp(1, 30) as u64);
        match tasks::wait(shared, &upid, delay).await {
            Some(status) if status == "OK" || status.starts_with("WARNINGS: ") => {
                return Ok(Reply::null())
            }
            Some(status) => return Err(ApiError::Die(status)),
            None => {}
        }
    }
    Ok(Reply::data(json!(upid)))
}

/// `PUT /nodes/{node}/qemu/{vmid}/resize`.
pub(crate) fn resize(shared: &Arc<Shared>, node: &str, vmid: u32, p: &Params) -> ApiResult {
    let disk = p.required("disk")?.to_string();
    let size = p.required("size")?.to_string();
    guest::check_size_param(&size)?;
    let skiplock = root_only_skiplock(p)?;
    let digest = p.get("digest").map(str::to_string);
    shared.read(|w| -> Result<(), ApiError> {
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        if let Some(d) = digest {
            if d != g.digest() {
                return Err(ApiError::die(
                    "detected modified configuration - file changed by other user? Try again.",
                ));
            }
        }
        Ok(())
    })?;
    let spec = lock_spec(node, vmid, true, shared.lock_timeout());
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
                skiplock,
            },
        )
        .lock(spec, ""),
    );
    Ok(Reply::data(json!(upid)))
}

/// The early clone checks (`$load_and_check`).
fn clone_check(
    world: &World,
    plan: &ClonePlan,
    explicit_full: Option<bool>,
) -> Result<bool, ApiError> {
    check_pool(world, plan.pool.as_deref())?;
    if let Some(target) = &plan.target {
        if world.node(target).is_none() {
            return Err(ApiError::die(format!("no such cluster node '{target}'")));
        }
    }
    if let Some(storage) = &plan.storage {
        let s = disks::storage_on(world, &plan.node, storage).map_err(ApiError::Die)?;
        if !s.allows("images") {
            return Err(ApiError::param(
                "storage",
                format!("storage '{storage}' does not support vm images"),
            ));
        }
        if plan.target.is_some() && !s.shared {
            return Err(ApiError::die(format!(
                "can't clone to non-shared storage '{storage}'"
            )));
        }
    }
    let src = guest::lookup(world, KIND, &plan.node, plan.src).map_err(ApiError::Die)?;
    guest::check_lock(src).map_err(ApiError::Die)?;
    let full = explicit_full.unwrap_or(!src.is_template());
    if plan.storage.is_some() && !full {
        return Err(ApiError::die(
            "parameter 'storage' not allowed for linked clones",
        ));
    }
    if plan.format.is_some() && !full {
        return Err(ApiError::die(
            "parameter 'format' not allowed for linked clones",
        ));
    }
    let mut shared_vm = true;
    for (key, value) in &src.config {
        if !guest::is_disk_key(key) {
            continue;
        }
        let Some(volid) = guest::drive_volid(value) else {
            continue;
        };
        if let Some((sid, _)) = disks::split_volid(&volid) {
            if !world.storage_is_shared(sid) {
                shared_vm = false;
            }
        }
        if guest::is_cdrom(value) && !value.contains("cloudinit") {
            continue;
        }
        if !full
            && !value.contains("cloudinit")
            && key != "tpmstate0"
            && !disks::supports_linked_clone(world, &volid)
        {
            return Err(ApiError::die(format!(
                "Linked clone feature is not supported for '{volid}' ({key})"
            )));
        }
    }
    if plan.target.is_some() && !shared_vm {
        return Err(ApiError::die(format!(
            "can't clone VM to node '{}' (VM uses local storage)",
            plan.target.as_deref().unwrap_or_default()
        )));
    }
    if world.guests.contains_key(&plan.newid) {
        return Err(ApiError::die(format!(
            "unable to create VM {}: config file already exists",
            plan.newid
        )));
    }
    Ok(full)
}

/// `POST /nodes/{node}/qemu/{vmid}/clone`.
pub(crate) async fn clone(shared: &Arc<Shared>, node: &str, vmid: u32, p: &Params) -> ApiResult {
    let newid = p
        .vmid("newid")?
        .ok_or_else(|| ApiError::param("newid", "property is missing and it is not optional"))?;
    let explicit_full = if p.has("full") {
        Some(p.bool("full", false)?)
    } else {
        None
    };
    let mut plan = ClonePlan {
        node: node.to_string(),
        src: vmid,
        newid,
        target: p
            .get("target")
            .filter(|t| *t != node && *t != "localhost")
            .map(str::to_string),
        full: false,
        storage: p.get("storage").map(str::to_string),
        format: p.get("format").map(str::to_string),
        name: p.get("name").map(str::to_string),
        description: p.get("description").map(str::to_string),
        pool: p.get("pool").map(str::to_string),
    };
    let (full, running) = shared.read(|w| -> Result<(bool, bool), ApiError> {
        let full = clone_check(w, &plan, explicit_full)?;
        let running = w.guest(vmid).is_some_and(|g| g.running());
        Ok((full, running))
    })?;
    plan.full = full;
    let timeout = shared.lock_timeout();
    let clone_timeout = shared.clone_lock_timeout();
    // qemu-server `clone_vm` (API2/Qemu.pm): `$lock_source_vm` takes the
    // source's config lock with `lock_config_shared($vmid, 1, ..)` unless
    // the source runs (then `lock_config_full`), and `$lock_target_vm`
    // takes `lock_config_full($newid, 1, ..)`, both inside the forked
    // worker. Clones of one stopped source (every template) thus run side
    // by side; two clones onto one new VMID exclude each other. The
    // storage lock is not taken here: each drive's `vdisk_alloc` /
    // `vdisk_clone` (pve-storage `Storage.pm`) holds it around the
    // allocation alone ([`clone_stage_io`]), and the copy runs after it.
    let mut task = TaskPlan::new(node, "qmclone", vmid.to_string(), Effect::QemuClone(plan));
    match shared.settings.clone_source_lock {
        CloneSourceLock::SharedInWorker => {
            task = task.lock(lock_spec(node, vmid, running, clone_timeout), "");
        }
        CloneSourceLock::ExclusiveInRequest => {
            let held = shared
                .locks
                .acquire(&lock_spec(node, vmid, true, timeout))
                .await
                .map_err(ApiError::Die)?;
            task = task.holding(held);
        }
    }
    task = task.lock(lock_spec(node, newid, true, clone_timeout), "");
    Ok(Reply::data(json!(tasks::spawn(shared, task))))
}

/// The first line of the config file the clone worker writes before
/// anything else (`# qmclone temporary file`), read back as the
/// description (a leading `#` line is one).
const CLONE_PLACEHOLDER_DESCRIPTION: &str = " qmclone temporary file";

/// Whether a source drive is copied (a disk or a cloud-init drive) rather
/// than its value taken over (a CD-ROM).
fn cloned_drive(key: &str, value: &str) -> bool {
    guest::is_disk_key(key) && (!guest::is_cdrom(value) || value.contains("cloudinit"))
}

/// Clone worker, after its config locks: re-checks, builds the new config
/// (`$newconf`: the source's keys without snapshot state and unused disks,
/// new MACs, a new SMBIOS UUID and vmgenid, the name and description, the
/// CD-ROMs as they are, still `lock: clone`; drives to copy come later),
/// and writes the placeholder `# qmclone temporary file\nlock: clone\n`.
pub(crate) fn clone_begin(world: &mut World, plan: &ClonePlan, cx: &mut Cx) -> Result<(), String> {
    clone_check(world, plan, Some(plan.full)).map_err(|e| e.message_text())?;
    let src = guest::lookup(world, KIND, &plan.node, plan.src)?.clone();
    cx.log.push(format!(
        "create {} clone of VM {} with ID {}",
        if plan.full { "full" } else { "linked" },
        plan.src,
        plan.newid
    ));
    let mut config = BTreeMap::from([("lock".to_string(), "clone".to_string())]);
    let mut drives = Vec::new();
    for (key, value) in &src.config {
        if matches!(
            key.as_str(),
            "lock"
                | "template"
                | "parent"
                | "snaptime"
                | "vmstate"
                | "snapstate"
                | "runningcpu"
                | "runningmachine"
                | "running-nets-host-mtu"
        ) || guest::is_unused_key(key)
        {
            continue;
        }
        if cloned_drive(key, value) {
            drives.push(key.clone());
            continue;
        }
        let value = if is_net_key(key) {
            with_new_mac(value)?
        } else {
            value.clone()
        };
        config.insert(key.clone(), value);
    }
    config.insert("smbios1".into(), format!("uuid={}", uuid()));
    if config.contains_key("vmgenid") {
        config.insert("vmgenid".into(), uuid());
    }
    let name = plan.name.clone().unwrap_or_else(|| {
        format!(
            "Copy-of-VM-{}",
            src.config
                .get("name")
                .cloned()
                .unwrap_or_else(|| plan.src.to_string())
        )
    });
    config.insert("name".into(), name);
    if let Some(d) = plan.description.as_ref().filter(|d| !d.is_empty()) {
        config.insert("description".into(), d.clone());
    }
    cx.progress.config = config;
    cx.progress.pending = src.pending.clone();
    cx.progress.pending_delete = src.pending_delete.clone();
    cx.progress.drives = drives;
    let mut g = Guest::new(plan.newid, &plan.node, KIND);
    g.config.insert(
        "description".into(),
        CLONE_PLACEHOLDER_DESCRIPTION.to_string(),
    );
    g.config.insert("lock".into(), "clone".into());
    world.guests.insert(plan.newid, g);
    Ok(())
}

/// A NIC with a new random MAC (a clone always gets new ones).
fn with_new_mac(value: &str) -> Result<String, String> {
    let mut p = PropString::parse(value)?;
    let mut model = p
        .head
        .take()
        .map(|h| h.split('=').next().unwrap_or_default().to_string());
    if let Some(m) = p.take("model") {
        model = Some(m);
    }
    p.take("macaddr");
    for m in NIC_MODELS {
        if p.take(m).is_some() {
            model = Some((*m).to_string());
        }
    }
    let model = model.unwrap_or_else(|| "virtio".to_string());
    p.head = Some(format!("{model}={}", random_mac()));
    Ok(p.print())
}

/// Writes the clone's config as it stands (`write_config` after a drive):
/// still `lock: clone`, with the source's pending section.
fn clone_write(world: &mut World, plan: &ClonePlan, cx: &Cx) -> Result<(), String> {
    let target = guest::lookup_mut(world, KIND, &plan.node, plan.newid)
        .map_err(|e| format!("clone failed: {e}"))?;
    target.config = cx.progress.config.clone();
    target.pending = cx.progress.pending.clone();
    target.pending_delete = cx.progress.pending_delete.clone();
    Ok(())
}

/// `qmclone` stage `i`: writes the config with the drives copied so far,
/// then starts copying drive `i` (its volume is allocated now; it enters
/// the config once copied).
pub(crate) fn clone_stage(
    world: &mut World,
    plan: &ClonePlan,
    i: usize,
    cx: &mut Cx,
) -> Result<(), String> {
    if i > 0 {
        clone_write(world, plan, cx)?;
    }
    let Some(key) = cx.progress.drives.get(i).cloned() else {
        return Ok(());
    };
    let before = world.volumes.len();
    let result = clone_drive(world, plan, &key, cx.log);
    cx.record_allocations(world, before);
    let value = result.map_err(|e| format!("clone failed: {e}"))?;
    cx.progress.config.insert(key, value);
    Ok(())
}

/// What `qmclone` stage `i` does outside the world: the storage lock its
/// allocation takes and the bytes it copies afterwards.
///
/// qemu-server `clone_disk` (QemuServer.pm): a linked clone calls
/// `PVE::Storage::vdisk_clone` on the source's storage and copies nothing;
/// a full clone calls `vdisk_alloc` on the target storage (`storage`, else
/// the source's) and then copies the source's data
/// (`clone_disk_copy_data`); a cloud-init drive is allocated anew and
/// copies nothing. `vdisk_alloc` and `vdisk_clone` (pve-storage
/// Storage.pm) run their allocation inside
/// `$plugin->cluster_lock_storage($storeid, $scfg->{shared}, undef, ..)`:
/// `lock_file("/var/lock/pve-manager/pve-storage-<id>")` on a local
/// storage, `cfs_lock_storage` on a shared one, each with the 10 s default
/// timeout, released when the allocation returns.
pub(crate) fn clone_stage_io(
    world: &World,
    plan: &ClonePlan,
    drives: &[String],
    i: usize,
    timeout: Duration,
) -> Option<StageIo> {
    let key = drives.get(i)?;
    let src = guest::lookup(world, KIND, &plan.node, plan.src).ok()?;
    let value = src.config.get(key)?;
    let volid = guest::drive_volid(value)?;
    let (source_sid, _) = disks::split_volid(&volid)?;
    let cloudinit = value.contains("cloudinit");
    let sid = if plan.full || cloudinit {
        plan.storage.as_deref().unwrap_or(source_sid)
    } else {
        source_sid
    };
    let copy_bytes = if plan.full && !cloudinit {
        world.volume(&plan.node, &volid).map_or(0, |v| v.size)
    } else {
        0
    };
    Some(StageIo {
        lock: LockSpec::storage(&plan.node, sid, world.storage_is_shared(sid), timeout),
        prefix: "clone failed: ",
        copy_bytes,
    })
}

/// Copies one drive of the source: a cloud-init drive is allocated anew, a
/// disk fully copied or linked to the template's base volume.
fn clone_drive(
    world: &mut World,
    plan: &ClonePlan,
    key: &str,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let src = guest::lookup(world, KIND, &plan.node, plan.src)?;
    let value = src
        .config
        .get(key)
        .cloned()
        .ok_or_else(|| format!("unable to parse drive options for '{key}'"))?;
    let mut p = PropString::parse(&value)?;
    if value.contains("cloudinit") {
        let volid = p.head.clone().unwrap_or_default();
        let sid = plan
            .storage
            .clone()
            .or_else(|| disks::split_volid(&volid).map(|(s, _)| s.to_string()))
            .unwrap_or_default();
        p.head = Some(disks::alloc_cloudinit(world, &plan.node, &sid, plan.newid)?);
        return Ok(p.print());
    }
    let volid = guest::drive_volid(&value)
        .ok_or_else(|| format!("unable to parse drive options for '{key}'"))?;
    let source = world
        .volume(&plan.node, &volid)
        .cloned()
        .ok_or_else(|| format!("volume '{volid}' does not exist"))?;
    let new_volid = if plan.full {
        log.push(format!("create full clone of drive {key} ({volid})"));
        let sid = plan
            .storage
            .clone()
            .unwrap_or_else(|| source.storage.clone());
        disks::alloc_image(
            world,
            &plan.node,
            &sid,
            plan.newid,
            source.size,
            "images",
            plan.format.as_deref(),
            log,
        )?
    } else {
        log.push(format!("create linked clone of drive {key} ({volid})"));
        disks::linked_clone(world, &plan.node, &volid, plan.newid, log)?
    };
    p.head = Some(new_volid);
    p.set("size", disks::size_text(source.size));
    Ok(p.print())
}

/// The end of `qmclone`: the last drive is in, the `lock` goes, pending
/// changes are dropped (with a warning), the config moves to the target
/// node, the VM joins the pool.
pub(crate) fn clone_apply(world: &mut World, plan: &ClonePlan, cx: &mut Cx) -> Result<u32, String> {
    let fail = |e: String| format!("clone failed: {e}");
    let mut warnings = cx.progress.warnings;
    if !cx.progress.pending.is_empty() || !cx.progress.pending_delete.is_empty() {
        let keys: Vec<String> = cx
            .progress
            .pending
            .keys()
            .chain(cx.progress.pending_delete.iter())
            .cloned()
            .collect();
        cx.log.push(format!(
            "WARN: found pending changes for '{}', discarding for clone",
            keys.join(",")
        ));
        warnings += 1;
    }
    let mut config = cx.progress.config.clone();
    config.remove("lock");
    let target = guest::lookup_mut(world, KIND, &plan.node, plan.newid).map_err(fail)?;
    target.config = config;
    target.pending.clear();
    target.pending_delete.clear();
    if let Some(t) = &plan.target {
        target.node = t.clone();
    }
    if let Some(pool) = &plan.pool {
        if let Some(p) = world.pools.get_mut(pool) {
            p.vms.insert(plan.newid);
        }
    }
    Ok(warnings)
}

/// `POST /nodes/{node}/qemu/{vmid}/template`.
pub(crate) async fn template(shared: &Arc<Shared>, node: &str, vmid: u32) -> ApiResult {
    shared.read(|w| {
        guest::lookup(w, KIND, node, vmid)
            .map(|_| ())
            .map_err(ApiError::Die)
    })?;
    let held = shared
        .locks
        .acquire(&lock_spec(node, vmid, true, shared.lock_timeout()))
        .await
        .map_err(ApiError::Die)?;
    shared.read(|w| -> Result<(), ApiError> {
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        guest::check_lock(g).map_err(ApiError::Die)?;
        if g.is_template() {
            return Err(ApiError::die("you can't convert a template to a template"));
        }
        if g.running() {
            return Err(ApiError::die(
                "you can't convert a VM to template if VM is running",
            ));
        }
        Ok(())
    })?;
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(
            node,
            "qmtemplate",
            vmid.to_string(),
            Effect::QemuTemplate {
                node: node.to_string(),
                vmid,
            },
        )
        .holding(held),
    );
    Ok(Reply::data(json!(upid)))
}

/// The `qmtemplate` effect.
pub(crate) fn template_apply(
    world: &mut World,
    node: &str,
    vmid: u32,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let g = guest::lookup(world, KIND, node, vmid)?.clone();
    if g.running() {
        return Err("you can't convert a VM to template if VM is running".to_string());
    }
    let mut config = g.config.clone();
    for (key, value) in &g.config {
        if !guest::is_disk_key(key) || guest::is_cdrom(value) {
            continue;
        }
        let Some(volid) = guest::drive_volid(value) else {
            continue;
        };
        let new_volid = disks::to_base(world, node, &volid, log)?;
        let mut p = PropString::parse(value)?;
        p.head = Some(new_volid);
        config.insert(key.clone(), p.print());
    }
    config.insert("template".into(), "1".into());
    let g = guest::lookup_mut(world, KIND, node, vmid)?;
    g.config = config;
    Ok(())
}

/// `GET /nodes/{node}/{qemu|lxc}/{vmid}/status/current`.
pub(crate) fn status_current(
    shared: &Arc<Shared>,
    kind: GuestKind,
    node: &str,
    vmid: u32,
) -> ApiResult {
    shared.read(|w| {
        let g = guest::lookup(w, kind, node, vmid).map_err(ApiError::Die)?;
        Ok(Reply::data(guest::current_status(w, g)))
    })
}

/// `POST /nodes/{node}/qemu/{vmid}/status/{action}`: the checks each
/// handler of qemu-server `API2/Qemu.pm` makes before it forks:
/// `check_running` (`vm_reset`, `vm_reboot`, `vm_suspend`, `vm_resume`)
/// fails a missing VM with `unable to find configuration file for VM <id>
/// on node '<node>'` (`QemuConfig.pm assert_config_exists_on_node`) and a
/// stopped one with `VM <id> not running`; a paused VM refuses `shutdown`
/// (unless `forceStop`) and `reboot` with `VM is paused - cannot shutdown`;
/// `resume` of a VM suspended to disk (lock `suspended`) starts it.
pub(crate) fn power(
    shared: &Arc<Shared>,
    node: &str,
    vmid: u32,
    mut action: Power,
    p: &Params,
) -> ApiResult {
    let skiplock = root_only_skiplock(p)?;
    if p.bool("nocheck", false)? {
        return Err(ApiError::param("nocheck", "Only root may use this option."));
    }
    if let Power::Suspend {
        todisk,
        statestorage,
    } = &mut action
    {
        *todisk = p.bool("todisk", false)?;
        *statestorage = p.get("statestorage").map(str::to_string);
    }
    let force_stop = p.bool("forceStop", false)?;
    shared.read(|w| -> Result<(), ApiError> {
        let checks_running = matches!(
            action,
            Power::Reset | Power::Reboot | Power::Suspend { .. } | Power::Resume
        );
        let g = match guest::lookup(w, KIND, node, vmid) {
            Ok(g) => g,
            Err(_) if checks_running => {
                return Err(ApiError::die(format!(
                    "unable to find configuration file for VM {vmid} on node '{node}'"
                )))
            }
            Err(e) => return Err(ApiError::Die(e)),
        };
        let paused = g.running() && g.paused;
        match &action {
            Power::Shutdown if paused && !force_stop => {
                Err(ApiError::die("VM is paused - cannot shutdown"))
            }
            Power::Reboot if paused => Err(ApiError::die("VM is paused - cannot shutdown")),
            Power::Resume if g.lock() == Some("suspended") => Ok(()),
            Power::Reset | Power::Reboot | Power::Suspend { .. } | Power::Resume
                if !g.running() =>
            {
                Err(ApiError::die(format!("VM {vmid} not running")))
            }
            Power::Suspend { todisk: true, .. } => {
                if g.config.keys().any(|k| k.starts_with("hostpci")) {
                    return Err(ApiError::die(
                        "cannot suspend VM to disk due to passed-through PCI device(s), which lack the possibility to save/restore their internal state",
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    })?;
    let spec = lock_spec(node, vmid, true, shared.lock_timeout());
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
                skiplock,
            },
        )
        .lock(spec, ""),
    );
    Ok(Reply::data(json!(upid)))
}

/// `DELETE /nodes/{node}/qemu/{vmid}`.
pub(crate) fn destroy(shared: &Arc<Shared>, node: &str, vmid: u32, p: &Params) -> ApiResult {
    root_only_skiplock(p)?;
    let purge = p.bool("purge", false)?;
    let unreferenced = p.bool("destroy-unreferenced-disks", false)?;
    shared.read(|w| -> Result<(), ApiError> {
        let g = guest::lookup(w, KIND, node, vmid).map_err(ApiError::Die)?;
        guest::check_lock(g).map_err(ApiError::Die)?;
        if g.running() {
            return Err(ApiError::die(format!(
                "VM {vmid} is running - destroy failed"
            )));
        }
        if g.config.get("protection").map(String::as_str) == Some("1") {
            return Err(ApiError::die(format!(
                "can't remove VM {vmid} - protection mode enabled"
            )));
        }
        Ok(())
    })?;
    let spec = lock_spec(node, vmid, true, shared.lock_timeout());
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(
            node,
            "qmdestroy",
            vmid.to_string(),
            Effect::Destroy {
                kind: KIND,
                node: node.to_string(),
                vmid,
                purge,
                unreferenced,
            },
        )
        .lock(spec, ""),
    );
    Ok(Reply::data(json!(upid)))
}

/// `GET /nodes/{node}/qemu/{vmid}`: the directory index.
pub(crate) fn index(shared: &Arc<Shared>, node: &str, vmid: u32) -> ApiResult {
    shared.read(|w| {
        guest::lookup(w, KIND, node, vmid)
            .map(|_| ())
            .map_err(ApiError::Die)
    })?;
    let dirs = [
        "config",
        "pending",
        "status",
        "unlink",
        "vncproxy",
        "termproxy",
        "migrate",
        "resize",
        "move",
        "rrd",
        "rrddata",
        "monitor",
        "agent",
        "snapshot",
        "spiceproxy",
        "sendkey",
        "firewall",
        "mtunnel",
        "remote_migrate",
    ];
    Ok(Reply::data(Value::Array(
        dirs.iter().map(|d| json!({"subdir": d})).collect(),
    )))
}

impl ApiError {
    /// The message, as a task's exit status would carry it.
    pub(crate) fn message_text(&self) -> String {
        match self {
            ApiError::Param(errors) => {
                let parts: Vec<String> = errors
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.trim_end()))
                    .collect();
                format!("400 Parameter verification failed.\n{}", parts.join("\n"))
            }
            other => other.message(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nics_get_a_mac_in_the_model_key() {
        let v = normalise_net("net0", "virtio,bridge=vmbr0,tag=20,firewall=1").unwrap();
        assert!(v.starts_with("virtio=BC:24:11:"), "{v}");
        assert!(v.ends_with(",bridge=vmbr0,firewall=1,tag=20"), "{v}");
        let kept =
            normalise_net("net0", "model=e1000,macaddr=AA:BB:CC:DD:EE:FF,bridge=vmbr1").unwrap();
        assert_eq!(kept, "e1000=AA:BB:CC:DD:EE:FF,bridge=vmbr1");
        let alias = normalise_net("net1", "virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr1").unwrap();
        assert_eq!(alias, "virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr1");
        assert!(normalise_net("net0", "bridge=vmbr0").is_err());
    }

    #[test]
    fn default_boot_order_is_disk_cdrom_nic() {
        let mut c = BTreeMap::new();
        c.insert(
            "scsi0".to_string(),
            "local-lvm:vm-1-disk-0,size=1G".to_string(),
        );
        c.insert(
            "ide2".to_string(),
            "local-lvm:vm-1-cloudinit,media=cdrom".to_string(),
        );
        c.insert(
            "net0".to_string(),
            "virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0".to_string(),
        );
        assert_eq!(default_boot(&c).as_deref(), Some("order=scsi0;net0"));
        c.insert(
            "ide0".to_string(),
            "local:iso/x.iso,media=cdrom".to_string(),
        );
        assert_eq!(default_boot(&c).as_deref(), Some("order=scsi0;ide0;net0"));
    }
}
