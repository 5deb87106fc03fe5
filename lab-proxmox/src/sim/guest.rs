//! What QEMU VMs and LXC containers share: config lookup with PVE's error
//! texts, the `lock` check, typed config rendering, the pending list,
//! resize and destroy (power transitions live in `power`, re-exported
//! here).
//!
//! Quirks modelled (proxmox-api.md §3, §6, §7):
//! - a missing guest is a **500** `Configuration file
//!   'nodes/<node>/qemu-server/<vmid>.conf' does not exist` (no 404), also
//!   when the guest lives on another node than the one in the path;
//! - a set `lock` refuses changes with `VM is locked (<lock>)` /
//!   `CT is locked (<lock>)` (`AbstractConfig::check_lock`);
//! - starting a running VM fails the *task* with `VM <id> already running`;
//!   a container start is refused before the fork (`CT <id> already
//!   running`);
//! - pending values are applied when the VM starts or reboots;
//! - `cipassword` reads back as `**********`;
//! - config values come back typed like Perl emits them: integers and 0/1
//!   booleans as numbers, property strings (QEMU `memory`!) as strings;
//! - descriptions: qemu-server trims trailing whitespace on read, while
//!   pve-container reads every `#` comment line back with a `\n` appended,
//!   so an LXC description always ends with a newline.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::disks;
pub(crate) use super::power::{
    alloc_state, autostart, power_apply, state_size, vmstate_storage, Power,
};
use super::propstr::{parse_size, PropString};
use super::rest::ApiError;
use super::world::{now, Guest, GuestKind, GuestStatus, World};

/// The message for a missing config file.
pub(crate) fn missing_message(kind: GuestKind, node: &str, vmid: u32) -> String {
    format!(
        "Configuration file 'nodes/{node}/{}/{vmid}.conf' does not exist",
        kind.conf_dir()
    )
}

/// The guest `vmid` of `kind` whose config lives on `node`.
pub(crate) fn lookup<'a>(
    world: &'a World,
    kind: GuestKind,
    node: &str,
    vmid: u32,
) -> Result<&'a Guest, String> {
    world
        .guests
        .get(&vmid)
        .filter(|g| g.kind == kind && g.node == node)
        .ok_or_else(|| missing_message(kind, node, vmid))
}

/// Mutable [`lookup`].
pub(crate) fn lookup_mut<'a>(
    world: &'a mut World,
    kind: GuestKind,
    node: &str,
    vmid: u32,
) -> Result<&'a mut Guest, String> {
    world
        .guests
        .get_mut(&vmid)
        .filter(|g| g.kind == kind && g.node == node)
        .ok_or_else(|| missing_message(kind, node, vmid))
}

/// `check_lock`.
pub(crate) fn check_lock(guest: &Guest) -> Result<(), String> {
    match guest.lock() {
        Some(lock) => Err(format!("{} is locked ({lock})", guest.kind.label())),
        None => Ok(()),
    }
}

/// The message when a VMID is taken (pve-cluster `check_vmid_unused`).
pub(crate) fn vmid_taken(world: &World, vmid: u32) -> Option<String> {
    world.guests.get(&vmid).map(|g| {
        format!(
            "{} {vmid} already exists on node '{}'",
            g.kind.label(),
            g.node
        )
    })
}

/// Removes a guest whose config still carries `lock` (failed create/clone).
pub(crate) fn remove_if_locked(world: &mut World, vmid: u32, lock: &str) {
    if world.guests.get(&vmid).and_then(|g| g.lock()) == Some(lock) {
        world.guests.remove(&vmid);
    }
}

const QEMU_INTS: &[&str] = &[
    "balloon",
    "cores",
    "cpuunits",
    "migrate_speed",
    "shares",
    "smp",
    "snaptime",
    "sockets",
    "vcpus",
];
const QEMU_BOOLS: &[&str] = &[
    "acpi",
    "allow-ksm",
    "autostart",
    "ciupgrade",
    "freeze",
    "keephugepages",
    "kvm",
    "localtime",
    "numa",
    "onboot",
    "protection",
    "reboot",
    "tablet",
    "tdf",
    "template",
];
const QEMU_NUMBERS: &[&str] = &["cpulimit", "migrate_downtime"];
const LXC_INTS: &[&str] = &["cores", "cpuunits", "memory", "swap", "tty"];
const LXC_BOOLS: &[&str] = &[
    "console",
    "debug",
    "onboot",
    "protection",
    "template",
    "unprivileged",
];
const LXC_NUMBERS: &[&str] = &["cpulimit"];

/// Whether `key` is a boolean config key.
pub(crate) fn is_bool_key(kind: GuestKind, key: &str) -> bool {
    match kind {
        GuestKind::Qemu => QEMU_BOOLS.contains(&key),
        GuestKind::Lxc => LXC_BOOLS.contains(&key),
    }
}

/// A config value as PVE's JSON encoder emits it.
pub(crate) fn typed(kind: GuestKind, key: &str, value: &str) -> Value {
    let (ints, bools, numbers) = match kind {
        GuestKind::Qemu => (QEMU_INTS, QEMU_BOOLS, QEMU_NUMBERS),
        GuestKind::Lxc => (LXC_INTS, LXC_BOOLS, LXC_NUMBERS),
    };
    if ints.contains(&key) || bools.contains(&key) {
        if let Ok(n) = value.parse::<i64>() {
            return json!(n);
        }
    }
    if numbers.contains(&key) {
        if let Ok(n) = value.parse::<f64>() {
            return json!(n);
        }
    }
    json!(value)
}

/// How a stored value reads back.
fn read_value(kind: GuestKind, key: &str, value: &str) -> Value {
    match (kind, key) {
        (GuestKind::Qemu, "cipassword") => json!("**********"),
        (GuestKind::Qemu, "description") => json!(value.trim_end()),
        (GuestKind::Lxc, "description") => {
            let mut text = String::new();
            for line in value.trim_end_matches('\n').split('\n') {
                text.push_str(line);
                text.push('\n');
            }
            json!(text)
        }
        _ => typed(kind, key, value),
    }
}

/// Renders a config map for `GET .../config`.
pub(crate) fn render_config(guest: &Guest, current: bool) -> Value {
    let config = if current {
        guest.config.clone()
    } else {
        guest.effective_config()
    };
    let mut obj = Map::new();
    for (k, v) in &config {
        obj.insert(k.clone(), read_value(guest.kind, k, v));
    }
    obj.insert("digest".into(), json!(guest.digest()));
    Value::Object(obj)
}

/// Renders `GET .../pending`.
pub(crate) fn render_pending(guest: &Guest) -> Value {
    let mut keys: Vec<&String> = guest
        .config
        .keys()
        .chain(guest.pending.keys())
        .chain(guest.pending_delete.iter())
        .collect();
    keys.sort();
    keys.dedup();
    let items: Vec<Value> = keys
        .into_iter()
        .filter(|k| k.as_str() != "digest")
        .map(|k| {
            let mut obj = Map::new();
            obj.insert("key".into(), json!(k));
            if let Some(v) = guest.config.get(k) {
                obj.insert("value".into(), read_value(guest.kind, k, v));
            }
            if let Some(v) = guest.pending.get(k) {
                obj.insert("pending".into(), read_value(guest.kind, k, v));
            }
            if guest.pending_delete.contains(k) {
                obj.insert("delete".into(), json!(1));
            }
            Value::Object(obj)
        })
        .collect();
    Value::Array(items)
}

/// The size of a guest's boot disk / rootfs in bytes.
pub(crate) fn max_disk(world: &World, guest: &Guest) -> u64 {
    let key = match guest.kind {
        GuestKind::Lxc => Some("rootfs".to_string()),
        GuestKind::Qemu => guest
            .config
            .get("boot")
            .and_then(|b| PropString::parse(b).ok())
            .and_then(|p| p.get("order").map(str::to_string))
            .and_then(|order| {
                order
                    .split(';')
                    .find(|d| {
                        is_disk_key(d)
                            && !is_cdrom(guest.config.get(*d).map(String::as_str).unwrap_or(""))
                    })
                    .map(str::to_string)
            })
            .or_else(|| {
                guest
                    .config
                    .iter()
                    .find(|(k, v)| is_disk_key(k) && !is_cdrom(v))
                    .map(|(k, _)| k.clone())
            }),
    };
    key.and_then(|k| guest.config.get(&k))
        .and_then(|v| PropString::parse(v).ok())
        .and_then(|p| {
            p.get("size").and_then(parse_size).or_else(|| {
                p.head
                    .as_deref()
                    .and_then(|volid| world.volume(&guest.node, volid))
                    .map(|v| v.size)
            })
        })
        .unwrap_or(0)
}

/// The `status/current` object.
pub(crate) fn current_status(world: &World, guest: &Guest) -> Value {
    let running = guest.running();
    let maxmem = guest.memory_bytes();
    let mut obj = Map::new();
    obj.insert("vmid".into(), json!(guest.vmid));
    obj.insert("status".into(), json!(guest.status.as_str()));
    obj.insert("name".into(), json!(guest.display_name()));
    obj.insert("cpus".into(), json!(guest.cpus()));
    obj.insert("maxmem".into(), json!(maxmem));
    obj.insert("mem".into(), json!(if running { maxmem / 3 } else { 0 }));
    obj.insert("maxdisk".into(), json!(max_disk(world, guest)));
    obj.insert("disk".into(), json!(0));
    obj.insert("cpu".into(), json!(if running { 0.02 } else { 0.0 }));
    obj.insert("uptime".into(), json!(uptime(guest)));
    obj.insert("netin".into(), json!(0));
    obj.insert("netout".into(), json!(0));
    obj.insert("diskread".into(), json!(0));
    obj.insert("diskwrite".into(), json!(0));
    obj.insert("ha".into(), json!({"managed": 0}));
    if let Some(lock) = guest.lock() {
        obj.insert("lock".into(), json!(lock));
    }
    if let Some(tags) = guest.config.get("tags") {
        obj.insert("tags".into(), json!(tags));
    }
    if guest.is_template() {
        obj.insert("template".into(), json!(1));
    }
    if let Some(pid) = guest.pid.filter(|_| running) {
        obj.insert("pid".into(), json!(pid));
    }
    match guest.kind {
        GuestKind::Qemu => {
            // `query-status` of a paused VM: the process runs, QEMU is
            // `paused` (qemu-server `vmstatus` with `full`).
            let qmp = if running && guest.paused {
                "paused"
            } else {
                guest.status.as_str()
            };
            obj.insert("qmpstatus".into(), json!(qmp));
            if guest.config.contains_key("agent") {
                obj.insert("agent".into(), json!(1));
            }
            if running {
                obj.insert("running-machine".into(), json!("pc-i440fx-9.2+pve1"));
                obj.insert("running-qemu".into(), json!("9.2.0"));
            }
        }
        GuestKind::Lxc => {
            obj.insert("type".into(), json!("lxc"));
            let swap: u64 = guest
                .config
                .get("swap")
                .and_then(|s| s.parse().ok())
                .unwrap_or(512);
            obj.insert("maxswap".into(), json!(swap.saturating_mul(1024 * 1024)));
            obj.insert("swap".into(), json!(0));
        }
    }
    Value::Object(obj)
}

/// Seconds since start, while running.
pub(crate) fn uptime(guest: &Guest) -> u64 {
    match (guest.status, guest.started_at) {
        (GuestStatus::Running, Some(t)) => now().saturating_sub(t).max(1),
        _ => 0,
    }
}

/// QEMU drive keys (and LXC `rootfs`/`mp[n]`).
pub(crate) fn is_disk_key(key: &str) -> bool {
    let indexed = |prefix: &str, max: u32| {
        key.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n < max)
    };
    key == "efidisk0"
        || key == "tpmstate0"
        || key == "rootfs"
        || indexed("scsi", 31)
        || indexed("virtio", 16)
        || indexed("sata", 6)
        || indexed("ide", 4)
        || indexed("mp", 256)
}

/// `unused[n]` keys.
pub(crate) fn is_unused_key(key: &str) -> bool {
    key.strip_prefix("unused")
        .and_then(|n| n.parse::<u32>().ok())
        .is_some()
}

/// Whether a drive value is a CD-ROM (`media=cdrom`, or `none`/`cdrom`).
pub(crate) fn is_cdrom(value: &str) -> bool {
    PropString::parse(value).is_ok_and(|p| {
        p.get("media") == Some("cdrom") || matches!(p.head.as_deref(), Some("none") | Some("cdrom"))
    })
}

/// The volid a drive value points at, if it is a real volume.
pub(crate) fn drive_volid(value: &str) -> Option<String> {
    let p = PropString::parse(value).ok()?;
    let head = p.head.or_else(|| {
        p.pairs
            .iter()
            .find(|(k, _)| k == "file" || k == "volume")
            .map(|(_, v)| v.clone())
    })?;
    disks::split_volid(&head)?;
    Some(head)
}

/// The first free `unused[n]` key.
pub(crate) fn next_unused(config: &BTreeMap<String, String>) -> String {
    (0..)
        .map(|n| format!("unused{n}"))
        .find(|k| !config.contains_key(k))
        .unwrap_or_else(|| "unused0".to_string())
}

/// Applies every pending change.
pub(crate) fn apply_pending(guest: &mut Guest) {
    let deletes: Vec<String> = guest.pending_delete.iter().cloned().collect();
    for key in deletes {
        guest.config.remove(&key);
    }
    let pending = std::mem::take(&mut guest.pending);
    guest.config.extend(pending);
    guest.pending_delete.clear();
}

/// The effect of `resize`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn resize_apply(
    world: &mut World,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    disk: &str,
    size: &str,
    skiplock: bool,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let guest = lookup(world, kind, node, vmid)?;
    if !skiplock {
        check_lock(guest)?;
    }
    let value = guest
        .config
        .get(disk)
        .cloned()
        .ok_or_else(|| format!("disk '{disk}' does not exist"))?;
    if kind == GuestKind::Qemu && is_cdrom(&value) {
        return Err("you can't resize a cdrom".to_string());
    }
    let volid =
        drive_volid(&value).ok_or_else(|| format!("disk '{disk}' has no associated volume"))?;
    let current = world
        .volume(node, &volid)
        .map(|v| v.size)
        .ok_or_else(|| format!("volume '{volid}' does not exist"))?;
    let new_size = new_disk_size(current, size).ok_or_else(|| format!("invalid size '{size}'"))?;
    if new_size < current {
        return Err(match kind {
            GuestKind::Qemu => "shrinking disks is not supported".to_string(),
            GuestKind::Lxc => "unable to shrink disk size".to_string(),
        });
    }
    if let Some(volume) = world
        .volumes
        .iter_mut()
        .find(|v| v.volid == volid && v.node.as_deref().is_none_or(|n| n == node))
    {
        volume.size = new_size;
    }
    let storage_kind = disks::split_volid(&volid)
        .and_then(|(s, _)| world.storages.get(s))
        .map(|s| s.kind.clone())
        .unwrap_or_default();
    if storage_kind.starts_with("lvm") {
        let name = volid.rsplit(['/', ':']).next().unwrap_or(&volid);
        log.push(format!(
            "  Size of logical volume pve/{name} changed from {} to {}.",
            disks::human(current),
            disks::human(new_size)
        ));
        log.push(format!("  Logical volume pve/{name} successfully resized."));
    } else {
        log.push(format!("Image resized to {new_size} bytes."));
    }
    let guest = lookup_mut(world, kind, node, vmid)?;
    if let Some(v) = guest.config.get(disk).cloned() {
        if let Ok(mut p) = PropString::parse(&v) {
            p.set("size", disks::size_text(new_size));
            let printed = p.print();
            guest.config.insert(disk.to_string(), printed);
        }
    }
    Ok(())
}

/// The new size for a resize request (`+10G` grows, `40G` is absolute).
pub(crate) fn new_disk_size(current: u64, request: &str) -> Option<u64> {
    match request.strip_prefix('+') {
        Some(delta) => parse_size(delta).map(|d| current.saturating_add(d)),
        None => parse_size(request),
    }
}

/// The effect of `qmdestroy` / `vzdestroy`; `Ok(n)` counts the disks that
/// could not be removed (each is a task warning, as in `destroy_vm`).
pub(crate) fn destroy_apply(
    world: &mut World,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    purge: bool,
    unreferenced: bool,
    log: &mut Vec<String>,
) -> Result<u32, String> {
    let guest = lookup(world, kind, node, vmid)?.clone();
    if guest.running() {
        return Err(match kind {
            GuestKind::Qemu => format!("VM {vmid} is running - destroy failed"),
            GuestKind::Lxc => format!("unable to destroy CT {vmid} - container is running"),
        });
    }
    let mut volids: Vec<String> = Vec::new();
    for (key, value) in guest.config.iter().chain(guest.pending.iter()) {
        if !(is_disk_key(key) || is_unused_key(key)) {
            continue;
        }
        let Some(volid) = drive_volid(value) else {
            continue;
        };
        let owned = world
            .volume(node, &volid)
            .is_some_and(|v| v.vmid == Some(vmid));
        if owned && !volids.contains(&volid) {
            volids.push(volid);
        }
    }
    // qemu-server `destroy_vm` also frees the state volumes of snapshots
    // taken with RAM.
    for snap in guest.snapshots.values() {
        if let Some(volid) = snap.config.get("vmstate") {
            if world.volume(node, volid).is_some() && !volids.contains(volid) {
                volids.push(volid.clone());
            }
        }
    }
    if unreferenced {
        for v in world.volumes.iter().filter(|v| {
            v.vmid == Some(vmid)
                && v.node.as_deref().is_none_or(|n| n == node)
                && matches!(v.content.as_str(), "images" | "rootdir")
        }) {
            if !volids.contains(&v.volid) {
                volids.push(v.volid.clone());
            }
        }
    }
    let mut warnings = 0;
    for volid in volids {
        if let Err(e) = disks::free(world, node, &volid, log) {
            log.push(format!(
                "WARN: Could not remove disk '{volid}', check manually: {e}"
            ));
            warnings += 1;
        }
    }
    for pool in world.pools.values_mut() {
        pool.vms.remove(&vmid);
    }
    if purge {
        log.push(format!(
            "purging {} {vmid} from related configurations..",
            kind.label()
        ));
    }
    // qemu-server and pve-container: `PVE::Firewall::remove_vmfw_conf($vmid)`.
    world.firewall.guests.remove(&vmid);
    world.guests.remove(&vmid);
    Ok(warnings)
}

/// Checks a `resize` size value.
pub(crate) fn check_size_param(size: &str) -> Result<(), ApiError> {
    let body = size.strip_prefix('+').unwrap_or(size);
    if parse_size(body).is_none() {
        return Err(ApiError::param(
            "size",
            "value does not match the regex pattern",
        ));
    }
    Ok(())
}
