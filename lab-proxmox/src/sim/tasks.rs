//! Asynchronous tasks (PVE "workers") and their endpoints.
//!
//! Every method that returns "the task ID" answers with a UPID right after
//! the worker is forked; the outcome is only visible through
//! `GET /nodes/{node}/tasks/{upid}/status` (proxmox-api.md §4):
//!
//! - UPID: `UPID:<node>:<pid 8 hex>:<pstart 8 hex>:<starttime 8 hex>:<type>:<id>:<user>:`
//!   with the API token id as the user (`common src/PVE/UPID.pm`);
//! - status: `running`, then `stopped` with `exitstatus` `OK`,
//!   `WARNINGS: n` or the error text;
//! - log: `[{n, t}]` with `total`, ending in `TASK OK` / `TASK ERROR: ...`.
//!
//! A worker here is a tokio task that (1) takes the locks the real worker
//! takes, in the same order and with the same timeouts (a timeout fails the
//! task with PVE's `can't lock file ... - got timeout`), (2) sleeps for the
//! configured latency of its worker type, then (3) applies its [`Effect`]
//! to the world under the world mutex, and releases its locks. Effects are
//! plain data so a persisted world can finish interrupted tasks on load.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::guest::{self, Power};
use super::locks::{Held, LockSpec};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::{Settings, Shared};
use super::world::{now, GuestKind, Task, TaskState, World};
use super::{lxc, qemu, storage};

/// What a worker does when it completes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub(crate) enum Effect {
    /// `qmcreate`.
    QemuCreate(qemu::CreatePlan),
    /// `qmclone`.
    QemuClone(qemu::ClonePlan),
    /// `qmtemplate`.
    QemuTemplate {
        /// Node.
        node: String,
        /// VMID.
        vmid: u32,
    },
    /// `qmconfig` (`POST .../config`).
    QemuUpdate(qemu::UpdatePlan),
    /// `resize` (QEMU and LXC).
    Resize {
        /// QEMU or LXC.
        kind: GuestKind,
        /// Node.
        node: String,
        /// VMID.
        vmid: u32,
        /// Disk key (`scsi0`, `rootfs`, `mp0`).
        disk: String,
        /// `+10G` or `40G`.
        size: String,
        /// Whether the `lock` check is skipped.
        skiplock: bool,
    },
    /// `qmstart`, `vzstop`, ...
    Power {
        /// QEMU or LXC.
        kind: GuestKind,
        /// Node.
        node: String,
        /// VMID.
        vmid: u32,
        /// What to do.
        action: Power,
        /// Whether the `lock` check is skipped.
        skiplock: bool,
    },
    /// `qmdestroy` / `vzdestroy`.
    Destroy {
        /// QEMU or LXC.
        kind: GuestKind,
        /// Node.
        node: String,
        /// VMID.
        vmid: u32,
        /// `purge=1`.
        purge: bool,
        /// `destroy-unreferenced-disks=1`.
        unreferenced: bool,
    },
    /// `vzcreate`.
    LxcCreate(lxc::CreatePlan),
    /// `download`.
    Download(storage::DownloadPlan),
}

impl Effect {
    /// Runs after the worker's first locks are taken (the clone writes its
    /// `lock: clone` placeholder config here).
    fn begin(&self, world: &mut World) -> Result<(), String> {
        match self {
            Effect::QemuClone(plan) => qemu::clone_begin(world, plan),
            _ => Ok(()),
        }
    }

    /// Applies the effect; `Ok(n)` is success with `n` warnings.
    fn apply(
        &self,
        settings: &Settings,
        world: &mut World,
        log: &mut Vec<String>,
    ) -> Result<u32, String> {
        match self {
            Effect::QemuCreate(plan) => qemu::create_apply(world, plan, log),
            Effect::QemuClone(plan) => qemu::clone_apply(world, plan, log),
            Effect::QemuTemplate { node, vmid } => {
                qemu::template_apply(world, node, *vmid, log).map(|()| 0)
            }
            Effect::QemuUpdate(plan) => qemu::update_apply(world, plan, log).map(|()| 0),
            Effect::Resize {
                kind,
                node,
                vmid,
                disk,
                size,
                skiplock,
            } => guest::resize_apply(world, *kind, node, *vmid, disk, size, *skiplock, log)
                .map(|()| 0),
            Effect::Power {
                kind,
                node,
                vmid,
                action,
                skiplock,
            } => guest::power_apply(world, *kind, node, *vmid, *action, *skiplock, log).map(|()| 0),
            Effect::Destroy {
                kind,
                node,
                vmid,
                purge,
                unreferenced,
            } => guest::destroy_apply(world, *kind, node, *vmid, *purge, *unreferenced, log),
            Effect::LxcCreate(plan) => lxc::create_apply(world, plan, log),
            Effect::Download(plan) => {
                storage::download_apply(settings, world, plan, log).map(|()| 0)
            }
        }
    }

    /// Cleans up after a failure; `begun` tells whether [`Effect::begin`]
    /// ran.
    fn on_failure(&self, world: &mut World, begun: bool) {
        match self {
            Effect::QemuCreate(plan) => guest::remove_if_locked(world, plan.vmid, "create"),
            Effect::LxcCreate(plan) => guest::remove_if_locked(world, plan.vmid, "create"),
            Effect::QemuClone(plan) if begun => guest::remove_if_locked(world, plan.newid, "clone"),
            _ => {}
        }
    }
}

/// How to run one worker.
pub(crate) struct TaskPlan {
    /// Node the worker runs on.
    pub node: String,
    /// Worker type (`qmcreate`).
    pub wtype: &'static str,
    /// Worker id (the VMID, or the file name for downloads).
    pub id: String,
    /// Locks the handler already took (inherited by the forked worker).
    pub held: Vec<Held>,
    /// Locks the worker takes first; a timeout fails the task with
    /// `prefix + message`.
    pub locks: Vec<(LockSpec, String)>,
    /// Locks taken after [`Effect::begin`].
    pub locks_after_begin: Vec<(LockSpec, String)>,
    /// The effect.
    pub effect: Effect,
}

impl TaskPlan {
    /// A plan without locks.
    pub fn new(node: &str, wtype: &'static str, id: impl Into<String>, effect: Effect) -> Self {
        TaskPlan {
            node: node.to_string(),
            wtype,
            id: id.into(),
            held: Vec::new(),
            locks: Vec::new(),
            locks_after_begin: Vec::new(),
            effect,
        }
    }

    /// Adds a lock taken first by the worker.
    pub fn lock(mut self, spec: LockSpec, prefix: impl Into<String>) -> Self {
        self.locks.push((spec, prefix.into()));
        self
    }

    /// Adds a lock taken after `begin`.
    pub fn lock_after_begin(mut self, spec: LockSpec, prefix: impl Into<String>) -> Self {
        self.locks_after_begin.push((spec, prefix.into()));
        self
    }

    /// Adds a lock the handler already holds.
    pub fn holding(mut self, held: Held) -> Self {
        self.held.push(held);
        self
    }
}

/// Characters PVE's `encode_text` would escape in a worker id.
fn encode_worker_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_string()
            } else {
                format!("\\x{:02x}", c as u32)
            }
        })
        .collect()
}

/// How many finished tasks the world keeps.
const MAX_FINISHED_TASKS: usize = 1000;

/// Registers a new running task in the world and returns its UPID.
fn register(
    world: &mut World,
    node: &str,
    wtype: &str,
    id: &str,
    user: &str,
    effect: Option<Effect>,
) -> String {
    if world.next_pid == 0 {
        world.next_pid = 0x0003_0000 + rand::random::<u16>() as u32;
    }
    let pid = world.next_pid;
    world.next_pid = world
        .next_pid
        .wrapping_add(1 + rand::random::<u8>() as u32 % 7);
    let starttime = now();
    let boot = world.node(node).map(|n| n.boot_time).unwrap_or(starttime);
    let pstart = starttime.saturating_sub(boot) * 100 + 1000 + (pid as u64 % 97);
    let id = encode_worker_id(id);
    let upid = format!("UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{wtype}:{id}:{user}:");
    // Keep the task history bounded, like PVE's rotated task archive.
    let stopped = world
        .tasks
        .iter()
        .filter(|t| t.state == TaskState::Stopped)
        .count();
    if stopped > MAX_FINISHED_TASKS {
        let mut excess = stopped - MAX_FINISHED_TASKS;
        world.tasks.retain(|t| {
            if excess > 0 && t.state == TaskState::Stopped {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }
    world.tasks.push(Task {
        upid: upid.clone(),
        node: node.to_string(),
        pid,
        pstart,
        starttime,
        wtype: wtype.to_string(),
        id,
        user: user.to_string(),
        state: TaskState::Running,
        exitstatus: None,
        endtime: None,
        log: Vec::new(),
        polls: 0,
        effect,
    });
    upid
}

/// Marks a task stopped.
fn finish(world: &mut World, upid: &str, mut log: Vec<String>, result: Result<u32, String>) {
    if let Some(task) = world.tasks.iter_mut().find(|t| t.upid == upid) {
        task.log.append(&mut log);
        task.state = TaskState::Stopped;
        task.endtime = Some(now());
        task.effect = None;
        task.exitstatus = Some(match result {
            Ok(0) => "OK".to_string(),
            Ok(n) => format!("WARNINGS: {n}"),
            Err(e) => e,
        });
    }
}

/// Applies an effect at once and finishes its task (used when a persisted
/// world is loaded with running tasks).
pub(crate) fn complete_now(settings: &Settings, world: &mut World, upid: &str) {
    let Some(effect) = world.task(upid).and_then(|t| t.effect.clone()) else {
        finish(
            world,
            upid,
            Vec::new(),
            Err("unexpected status".to_string()),
        );
        return;
    };
    let mut log = Vec::new();
    let result = match effect.begin(world) {
        Err(e) => {
            effect.on_failure(world, false);
            Err(e)
        }
        Ok(()) => {
            let result = effect.apply(settings, world, &mut log);
            if result.is_err() {
                effect.on_failure(world, true);
            }
            result
        }
    };
    finish(world, upid, log, result);
}

/// Starts a worker and returns its UPID.
pub(crate) fn spawn(shared: &Arc<Shared>, plan: TaskPlan) -> String {
    let latency = shared.settings.task_latency.for_type(plan.wtype);
    let user = shared.settings.token_id.clone();
    let upid = shared.write(|w| {
        register(
            w,
            &plan.node,
            plan.wtype,
            &plan.id,
            &user,
            Some(plan.effect.clone()),
        )
    });
    let worker = {
        let shared = shared.clone();
        let upid = upid.clone();
        async move {
            let TaskPlan {
                held,
                locks,
                locks_after_begin,
                effect,
                ..
            } = plan;
            let mut guards = held;
            let fail = |begun: bool, message: String| {
                shared.write(|w| {
                    effect.on_failure(w, begun);
                    finish(w, &upid, Vec::new(), Err(message));
                });
            };
            for (spec, prefix) in locks {
                match shared.locks.acquire(&spec).await {
                    Ok(guard) => guards.push(guard),
                    Err(message) => return fail(false, format!("{prefix}{message}")),
                }
            }
            if let Err(e) = shared.write(|w| effect.begin(w)) {
                return fail(false, e);
            }
            for (spec, prefix) in locks_after_begin {
                match shared.locks.acquire(&spec).await {
                    Ok(guard) => guards.push(guard),
                    Err(message) => return fail(true, format!("{prefix}{message}")),
                }
            }
            tokio::time::sleep(latency).await;
            shared.write(|w| {
                let mut log = Vec::new();
                let result = effect.apply(&shared.settings, w, &mut log);
                if result.is_err() {
                    effect.on_failure(w, true);
                }
                finish(w, &upid, log, result);
            });
            drop(guards);
            shared
                .workers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&upid);
        }
    };
    let handle = tokio::spawn(worker);
    shared
        .workers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(upid.clone(), handle.abort_handle());
    upid
}

/// Waits until a task stops or `delay` passes; returns its exit status if
/// it stopped (for `background_delay`).
pub(crate) async fn wait(
    shared: &Arc<Shared>,
    upid: &str,
    delay: std::time::Duration,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + delay;
    loop {
        let status = shared.read(|w| w.task(upid).and_then(|t| t.exitstatus.clone()));
        if status.is_some() {
            return status;
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn no_such_task() -> ApiError {
    ApiError::param("upid", "no such task")
}

fn task_json(task: &Task) -> serde_json::Map<String, Value> {
    let mut obj = serde_json::Map::new();
    obj.insert("upid".into(), json!(task.upid));
    obj.insert("node".into(), json!(task.node));
    obj.insert("pid".into(), json!(task.pid));
    obj.insert("pstart".into(), json!(task.pstart));
    obj.insert("starttime".into(), json!(task.starttime));
    obj.insert("type".into(), json!(task.wtype));
    obj.insert("id".into(), json!(task.id));
    obj.insert("user".into(), json!(task.user));
    obj
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
pub(crate) fn status(shared: &Arc<Shared>, node: &str, upid: &str) -> ApiResult {
    if shared.faults.take_poll_599() {
        return Err(ApiError::Status(599, "Too many redirections".to_string()));
    }
    let first_poll_400 = shared.faults.first_poll_400();
    shared.touch(|w| {
        let task = w
            .tasks
            .iter_mut()
            .find(|t| t.upid == upid && t.node == node)
            .ok_or_else(no_such_task)?;
        task.polls += 1;
        if first_poll_400 && task.polls == 1 {
            return Err(no_such_task());
        }
        let mut obj = task_json(task);
        match task.state {
            TaskState::Running => {
                obj.insert("status".into(), json!("running"));
            }
            TaskState::Stopped => {
                obj.insert("status".into(), json!("stopped"));
                obj.insert("exitstatus".into(), json!(task.exitstatus));
            }
        }
        Ok(Reply::data(Value::Object(obj)))
    })
}

/// `GET /nodes/{node}/tasks/{upid}/log`.
pub(crate) fn log(shared: &Arc<Shared>, node: &str, upid: &str, p: &Params) -> ApiResult {
    let start = p.int("start")?.unwrap_or(0).max(0) as usize;
    let limit = p.int("limit")?.unwrap_or(50).max(0) as usize;
    shared.read(|w| {
        let task = w
            .tasks
            .iter()
            .find(|t| t.upid == upid && t.node == node)
            .ok_or_else(no_such_task)?;
        let lines = task.full_log();
        let total = lines.len() as u64;
        let items: Vec<Value> = lines
            .iter()
            .enumerate()
            .skip(start)
            .take(limit)
            .map(|(i, t)| json!({"n": i + 1, "t": t}))
            .collect();
        Ok(Reply {
            data: Value::Array(items),
            total: Some(total),
        })
    })
}

/// `GET /nodes/{node}/tasks/{upid}`: the directory index.
pub(crate) fn index(shared: &Arc<Shared>, node: &str, upid: &str) -> ApiResult {
    shared.read(|w| {
        w.tasks
            .iter()
            .find(|t| t.upid == upid && t.node == node)
            .ok_or_else(no_such_task)?;
        Ok(Reply::data(json!([{"name": "log"}, {"name": "status"}])))
    })
}

/// `DELETE /nodes/{node}/tasks/{upid}`: stops a running worker.
pub(crate) fn stop(shared: &Arc<Shared>, node: &str, upid: &str) -> ApiResult {
    let running = shared.read(|w| {
        w.tasks
            .iter()
            .find(|t| t.upid == upid && t.node == node)
            .map(|t| t.state == TaskState::Running)
    });
    match running {
        None => Err(no_such_task()),
        Some(false) => Ok(Reply::null()),
        Some(true) => {
            if let Some(handle) = shared
                .workers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(upid)
            {
                handle.abort();
            }
            shared.write(|w| {
                let effect = w.task(upid).and_then(|t| t.effect.clone());
                if let Some(effect) = effect {
                    effect.on_failure(w, false);
                }
                finish(w, upid, Vec::new(), Err("received interrupt".to_string()));
            });
            Ok(Reply::null())
        }
    }
}

/// `GET /nodes/{node}/tasks`.
pub(crate) fn list(shared: &Arc<Shared>, node: &str, p: &Params) -> ApiResult {
    let start = p.int("start")?.unwrap_or(0).max(0) as usize;
    let limit = p.int("limit")?.unwrap_or(50).max(0) as usize;
    let vmid = p.get("vmid").map(str::to_string);
    let typefilter = p.get("typefilter").map(str::to_string);
    let userfilter = p.get("userfilter").map(str::to_string);
    let errors_only = p.bool("errors", false)?;
    let source = p.get("source").unwrap_or("archive").to_string();
    shared.read(|w| {
        let mut tasks: Vec<&Task> = w
            .tasks
            .iter()
            .filter(|t| t.node == node)
            .filter(|t| match source.as_str() {
                "active" => t.state == TaskState::Running,
                "all" => true,
                _ => t.state == TaskState::Stopped,
            })
            .filter(|t| vmid.as_deref().is_none_or(|v| t.id == v))
            .filter(|t| typefilter.as_deref().is_none_or(|v| t.wtype == v))
            .filter(|t| userfilter.as_deref().is_none_or(|v| t.user.contains(v)))
            .filter(|t| !errors_only || t.exitstatus.as_deref().is_some_and(|s| s != "OK"))
            .collect();
        tasks.sort_by(|a, b| b.starttime.cmp(&a.starttime).then(b.pid.cmp(&a.pid)));
        let total = tasks.len() as u64;
        let items: Vec<Value> = tasks
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|t| {
                let mut obj = task_json(t);
                if let Some(end) = t.endtime {
                    obj.insert("endtime".into(), json!(end));
                }
                if let Some(status) = &t.exitstatus {
                    obj.insert("status".into(), json!(status));
                }
                Value::Object(obj)
            })
            .collect();
        Ok(Reply {
            data: Value::Array(items),
            total: Some(total),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upids_have_the_pve_shape() {
        let mut world = World::default();
        let upid = register(&mut world, "pve1", "qmcreate", "101", "lab@pve!lab", None);
        let parts: Vec<&str> = upid.split(':').collect();
        assert_eq!(parts.len(), 9, "{upid}");
        assert_eq!(parts[0], "UPID");
        assert_eq!(parts[1], "pve1");
        assert!(parts[2..5]
            .iter()
            .all(|p| p.len() == 8 && p.chars().all(|c| c.is_ascii_hexdigit())));
        assert_eq!(&parts[5..8], &["qmcreate", "101", "lab@pve!lab"]);
        assert_eq!(parts[8], "");
        assert_eq!(encode_worker_id("debian-12.qcow2"), "debian-12.qcow2");
        assert_eq!(encode_worker_id("a:b"), "a\\x3ab");
    }
}
