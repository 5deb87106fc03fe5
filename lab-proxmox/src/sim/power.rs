//! Guest power: the actions of `status/{start,stop,shutdown,reboot}` for
//! QEMU and LXC and QEMU's `reset`, `suspend` and `resume`, and what each
//! worker does to the guest (qemu-server `API2/Qemu.pm` and
//! `QemuServer/RunState.pm`, pve-container `API2/LXC/Status.pm`;
//! proxmox-api.md §6, §7):
//!
//! - start applies pending values; a running guest fails the task with
//!   `VM <id> already running`, a NIC on a missing bridge with `bridge
//!   '<b>' does not exist`;
//! - reboot applies pending values; reset only restarts the machine;
//! - suspend pauses the CPUs (`qmpstatus: paused`) or, with `todisk`, saves
//!   the state to `vm-<id>-state-suspend-<date>`, stops the VM and leaves
//!   `lock: suspended` and `vmstate`; a start or resume of such a VM
//!   resumes from the state and frees the volume.

use serde::{Deserialize, Serialize};

use super::disks;
use super::guest::{
    apply_pending, check_lock, drive_volid, is_cdrom, is_disk_key, lookup, lookup_mut,
};
use super::propstr::PropString;
use super::world::{now, Guest, GuestKind, GuestStatus, World};

/// A power action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Power {
    /// `status/start`.
    Start,
    /// `status/stop`.
    Stop,
    /// `status/shutdown`.
    Shutdown,
    /// `status/reboot`.
    Reboot,
    /// `status/reset` (QEMU): `system_reset`, the VM keeps running.
    Reset,
    /// `status/suspend` (QEMU): pause (`qmpause`), or with `todisk=1` save
    /// the state to a volume and stop (`qmsuspend`, lock `suspended`).
    Suspend {
        /// `todisk=1`.
        todisk: bool,
        /// `statestorage`.
        statestorage: Option<String>,
    },
    /// `status/resume` (QEMU): continue a paused VM, or start one
    /// suspended to disk.
    Resume,
}

impl Power {
    /// The worker type.
    pub fn wtype(&self, kind: GuestKind) -> &'static str {
        match (kind, self) {
            (GuestKind::Qemu, Power::Start) => "qmstart",
            (GuestKind::Qemu, Power::Stop) => "qmstop",
            (GuestKind::Qemu, Power::Shutdown) => "qmshutdown",
            (GuestKind::Qemu, Power::Reboot) => "qmreboot",
            (GuestKind::Lxc, Power::Start) => "vzstart",
            (GuestKind::Lxc, Power::Stop) => "vzstop",
            (GuestKind::Lxc, Power::Shutdown) => "vzshutdown",
            (GuestKind::Lxc, Power::Reboot) => "vzreboot",
            (_, Power::Reset) => "qmreset",
            (_, Power::Suspend { todisk: true, .. }) => "qmsuspend",
            (_, Power::Suspend { todisk: false, .. }) => "qmpause",
            (_, Power::Resume) => "qmresume",
        }
    }

    /// Parses the last path segment.
    pub fn parse(text: &str) -> Option<Power> {
        match text {
            "start" => Some(Power::Start),
            "stop" => Some(Power::Stop),
            "shutdown" => Some(Power::Shutdown),
            "reboot" => Some(Power::Reboot),
            "reset" => Some(Power::Reset),
            "suspend" => Some(Power::Suspend {
                todisk: false,
                statestorage: None,
            }),
            "resume" => Some(Power::Resume),
            _ => None,
        }
    }
}

/// Starts a guest created with `start=1`. As in PVE, a failed start is a
/// warning of the create task, not its failure; returns the warnings.
pub(crate) fn autostart(
    world: &mut World,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    log: &mut Vec<String>,
) -> u32 {
    let mut start_log = Vec::new();
    let warnings = match power_apply(
        world,
        kind,
        node,
        vmid,
        &Power::Start,
        false,
        &mut start_log,
    ) {
        Ok(()) => 0,
        Err(e) => {
            log.push(format!("WARN: {e}"));
            1
        }
    };
    log.append(&mut start_log);
    warnings
}

/// The effect of a power task (`qmstart`, `qmreset`, `qmpause`,
/// `qmsuspend`, `qmresume`, `vzstop`, ...).
#[allow(clippy::too_many_arguments)]
pub(crate) fn power_apply(
    world: &mut World,
    kind: GuestKind,
    node: &str,
    vmid: u32,
    action: &Power,
    skiplock: bool,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let mut bridges: Vec<String> = world
        .node(node)
        .map(|n| n.bridges.clone())
        .unwrap_or_default();
    // An applied SDN VNet is a bridge on the nodes of its zone.
    bridges.extend(world.sdn.running_vnets_on(node));
    let pid = world.next_pid.wrapping_add(rand::random::<u16>() as u32);
    let guest = lookup(world, kind, node, vmid)?;
    // A VM suspended to disk starts (and resumes) from its saved state; its
    // `suspended` lock does not block that (qemu-server `vm_start`:
    // `check_lock($conf) if !($params->{skiplock} || $has_suspended_lock)`).
    let suspended = kind == GuestKind::Qemu && guest.lock() == Some("suspended");
    let resumes_from_disk = suspended && matches!(action, Power::Start | Power::Resume);
    if !skiplock && !resumes_from_disk {
        check_lock(guest)?;
    }
    let label = kind.label();
    match action {
        Power::Start | Power::Resume if resumes_from_disk => {
            let vmstate = guest.config.get("vmstate").cloned();
            log.push(format!("resuming VM {vmid} from its saved state"));
            if let Some(volid) = vmstate {
                // `vm_start_nolock`: the state volume is freed once QEMU runs.
                disks::free(world, node, &volid, log)?;
            }
            let guest = lookup_mut(world, kind, node, vmid)?;
            for key in ["lock", "vmstate", "runningmachine", "runningcpu"] {
                guest.config.remove(key);
            }
            guest.status = GuestStatus::Running;
            guest.paused = false;
            guest.started_at = Some(now());
            guest.pid = Some(pid);
        }
        Power::Start => {
            if guest.is_template() {
                return Err(match kind {
                    GuestKind::Qemu => "you can't start a vm if it's a template".to_string(),
                    GuestKind::Lxc => "you can't start a CT if it's a template".to_string(),
                });
            }
            if guest.running() {
                return Err(format!("{label} {vmid} already running"));
            }
            let config = guest.effective_config();
            for (key, value) in &config {
                if !key.starts_with("net") || !key[3..].chars().all(|c| c.is_ascii_digit()) {
                    continue;
                }
                if let Some(bridge) = PropString::parse(value)
                    .ok()
                    .and_then(|p| p.get("bridge").map(str::to_string))
                {
                    if !bridges.contains(&bridge) {
                        return Err(format!("bridge '{bridge}' does not exist"));
                    }
                }
            }
            let guest = lookup_mut(world, kind, node, vmid)?;
            apply_pending(guest);
            if kind == GuestKind::Qemu && guest.config.values().any(|v| v.contains("cloudinit")) {
                log.push("generating cloud-init ISO".to_string());
            }
            guest.status = GuestStatus::Running;
            guest.paused = false;
            guest.started_at = Some(now());
            guest.pid = Some(pid);
        }
        Power::Stop | Power::Shutdown => {
            if kind == GuestKind::Lxc && !guest.running() {
                return Err(format!("CT {vmid} not running"));
            }
            let guest = lookup_mut(world, kind, node, vmid)?;
            guest.status = GuestStatus::Stopped;
            guest.paused = false;
            guest.started_at = None;
            guest.pid = None;
        }
        Power::Reboot => {
            if !guest.running() {
                return Err(format!("{label} {vmid} not running"));
            }
            let guest = lookup_mut(world, kind, node, vmid)?;
            apply_pending(guest);
            guest.started_at = Some(now());
        }
        // qemu-server `vm_reset`: `system_reset` under the config lock; the
        // QEMU process (and so the uptime) stays, pending values stay
        // pending.
        Power::Reset => {
            if !guest.running() {
                return Err(format!("VM {vmid} not running"));
            }
        }
        // qemu-server `RunState.pm vm_suspend`.
        Power::Suspend {
            todisk,
            statestorage,
        } => {
            if !guest.running() {
                return Err(format!("VM {vmid} not running"));
            }
            if !todisk {
                lookup_mut(world, kind, node, vmid)?.paused = true;
                return Ok(());
            }
            let storage = statestorage
                .clone()
                .unwrap_or_else(|| vmstate_storage(world, guest));
            let date = chrono_date(now());
            let size = state_size(guest);
            let volid = alloc_state(
                world,
                node,
                &storage,
                vmid,
                &format!("suspend-{date}"),
                size,
                log,
            )?;
            log.push("State saved, quitting".to_string());
            let guest = lookup_mut(world, kind, node, vmid)?;
            guest.config.insert("lock".into(), "suspended".into());
            guest.config.insert("vmstate".into(), volid);
            guest
                .config
                .insert("runningmachine".into(), "pc-i440fx-9.2+pve1".into());
            guest.status = GuestStatus::Stopped;
            guest.paused = false;
            guest.started_at = None;
            guest.pid = None;
        }
        // qemu-server `RunState.pm vm_resume`: a VM that runs already is
        // left alone ("job done"); a template cannot be resumed.
        Power::Resume => {
            if guest.is_template() {
                return Err(format!("VM {vmid} is a template and cannot be resumed!"));
            }
            if !guest.running() {
                return Err(format!("VM {vmid} not running"));
            }
            lookup_mut(world, kind, node, vmid)?.paused = false;
        }
    }
    Ok(())
}

/// `PVE::QemuConfig::find_vmstate_storage`: `vmstatestorage`, else a
/// shared storage holding one of the VM's disks, else a local one
/// (file-based preferred), else `local`.
pub(crate) fn vmstate_storage(world: &World, guest: &Guest) -> String {
    if let Some(s) = guest.config.get("vmstatestorage") {
        return s.clone();
    }
    let (mut shared, mut local): (Option<String>, Option<String>) = (None, None);
    for (key, value) in &guest.config {
        if !is_disk_key(key) || is_cdrom(value) {
            continue;
        }
        let Some(volid) = drive_volid(value) else {
            continue;
        };
        let Some((sid, _)) = disks::split_volid(&volid) else {
            continue;
        };
        let Some(storage) = world.storages.get(sid) else {
            continue;
        };
        let slot = if world.storage_is_shared(sid) {
            &mut shared
        } else {
            &mut local
        };
        if slot.is_none() || storage.path().is_some() {
            *slot = Some(sid.to_string());
        }
    }
    shared.or(local).unwrap_or_else(|| "local".to_string())
}

/// The size of a VM state volume: twice the memory plus 500 MiB for device
/// state (qemu-server `QemuConfig.pm __snapshot_save_vmstate`).
pub(crate) fn state_size(guest: &Guest) -> u64 {
    guest
        .memory_mib()
        .saturating_mul(2)
        .saturating_add(500)
        .saturating_mul(1024 * 1024)
}

/// Allocates a VM state volume `vm-<vmid>-state-<name>` (`.raw` on file
/// storages) as `__snapshot_save_vmstate` does.
pub(crate) fn alloc_state(
    world: &mut World,
    node: &str,
    storage: &str,
    vmid: u32,
    name: &str,
    size: u64,
    log: &mut Vec<String>,
) -> Result<String, String> {
    disks::alloc_named(
        world,
        node,
        storage,
        vmid,
        &format!("vm-{vmid}-state-{name}"),
        size,
        log,
    )
}

/// `YYYY-MM-DD` of a Unix time (UTC).
pub(crate) fn chrono_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
