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
//! - log: `[{n, t}]` with `total`, ending in `TASK OK` / `TASK ERROR: ...`;
//!   lines appear while the worker runs.
//!
//! A worker here is a tokio task that (1) takes the locks the real worker
//! takes, in the same order and with the same timeouts (a timeout fails the
//! task with PVE's `can't lock file ... - got timeout`), (2) runs its
//! [`Effect`] in the stages the real worker writes in, each a change of
//! the world under the world mutex (persisted like every change), spread
//! over the configured latency of its worker type, and (3) releases its
//! locks. The stages are where a node that goes down mid-task leaves
//! something behind:
//!
//! - `qmclone` writes `# qmclone temporary file` + `lock: clone` once it
//!   holds its config locks, allocates each drive's copy as the copy
//!   starts and rewrites the new config (name, description, the drives
//!   cloned so far, still `lock: clone`) after each drive; the last write
//!   drops the lock and adds the pool;
//! - `qmcreate` allocates the drives one by one under the `lock: create`
//!   config the handler wrote, then writes the whole config at the end;
//!   `vzcreate` allocates the mount points, extracts the template, then
//!   writes the config;
//! - `download` checks for an existing file first and only lists the new
//!   file at the end (pve-common downloads to `<dest>.tmp_dwnl.<pid>` and
//!   renames it);
//! - every other worker changes the world once, at its end.
//!
//! A failing worker cleans up as the real one does (frees what it
//! allocated, removes the config it created). A node that goes down runs no
//! cleanup: when a simulator starts on a persisted world, every task that
//! was `running` reads `stopped` with `unexpected status` and no `TASK`
//! line ends its log (pve-common `PVE::UPID::read_status`), and whatever
//! its worker had written stays ([`vanish_running`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::copies::StageIo;
use super::guest::{self, Power};
use super::locks::{Held, LockSpec};
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::{Settings, Shared};
use super::world::{now, GuestKind, Task, TaskState, World, UNEXPECTED_STATUS};
use super::{content, lxc, oci, qemu, snapshots, storage};

/// What a worker does.
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
    /// `ociregistrypull`.
    OciPull(oci::PullPlan),
    /// `imgdel` (`DELETE .../storage/{storage}/content/{volume}`).
    DeleteVolume(content::DeletePlan),
    /// `qmsnapshot`, `qmrollback`, `qmdelsnapshot` and their `vz` twins.
    Snapshot(snapshots::SnapPlan),
}

/// What a running worker has done so far: its memory, kept in its task
/// (lost when the node goes down, like the worker process).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Whether [`Effect::begin`] ran.
    #[serde(default)]
    pub begun: bool,
    /// Volume ids the worker allocated (freed if it fails).
    #[serde(default)]
    pub allocated: Vec<String>,
    /// The config being built: a clone's new config, a create's drives.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// A clone source's pending values (written with the new config until
    /// the clone ends).
    #[serde(default)]
    pub pending: BTreeMap<String, String>,
    /// A clone source's pending deletions.
    #[serde(default)]
    pub pending_delete: BTreeSet<String>,
    /// The drive keys a clone copies, in order.
    #[serde(default)]
    pub drives: Vec<String>,
    /// Warnings so far.
    #[serde(default)]
    pub warnings: u32,
}

/// What a stage of a worker sees.
pub(crate) struct Cx<'a> {
    /// The simulator's settings.
    pub settings: &'a Settings,
    /// The worker's memory.
    pub progress: &'a mut Progress,
    /// Lines for the task log.
    pub log: &'a mut Vec<String>,
    /// The worker's PID (temporary file names carry it).
    pub pid: u32,
}

impl Cx<'_> {
    /// Records the volumes pushed onto `world.volumes` since it had
    /// `before` of them as allocated by this worker.
    pub fn record_allocations(&mut self, world: &World, before: usize) {
        for v in world.volumes.iter().skip(before) {
            self.progress.allocated.push(v.volid.clone());
        }
    }
}

impl Effect {
    /// Runs after the worker's first locks are taken (the clone writes its
    /// `lock: clone` placeholder config here).
    fn begin(&self, world: &mut World, cx: &mut Cx) -> Result<(), String> {
        match self {
            Effect::QemuClone(plan) => qemu::clone_begin(world, plan, cx),
            Effect::Snapshot(plan) => snapshots::begin(world, plan, cx),
            _ => Ok(()),
        }
    }

    /// How many timed stages run before [`Effect::apply`] (the worker's
    /// latency is spread over them; none: it all happens at the end).
    fn stages(&self, progress: &Progress) -> usize {
        match self {
            Effect::QemuCreate(plan) => qemu::create_stages(plan),
            Effect::QemuClone(_) => progress.drives.len(),
            Effect::LxcCreate(_) | Effect::Download(_) | Effect::Snapshot(_) => 1,
            _ => 0,
        }
    }

    /// What stage `i` does outside the world (see [`StageIo`]): a lock
    /// held around the stage alone, bytes copied after it.
    fn stage_io(
        &self,
        world: &World,
        progress: &Progress,
        i: usize,
        lock_timeout: Duration,
    ) -> Option<StageIo> {
        match self {
            Effect::QemuClone(plan) => {
                qemu::clone_stage_io(world, plan, &progress.drives, i, lock_timeout)
            }
            _ => None,
        }
    }

    /// Runs stage `i`; `Some(warnings)` ends the task early with success.
    fn stage(&self, world: &mut World, i: usize, cx: &mut Cx) -> Result<Option<u32>, String> {
        match self {
            Effect::QemuCreate(plan) => qemu::create_stage(world, plan, i, cx).map(|()| None),
            Effect::QemuClone(plan) => qemu::clone_stage(world, plan, i, cx).map(|()| None),
            Effect::LxcCreate(plan) => lxc::create_stage(world, plan, cx).map(|()| None),
            Effect::Download(plan) => storage::download_check(world, plan, cx),
            Effect::Snapshot(plan) => snapshots::stage(world, plan, cx).map(|()| None),
            _ => Ok(None),
        }
    }

    /// Completes the effect; `Ok(n)` is success with `n` warnings.
    fn apply(&self, world: &mut World, cx: &mut Cx) -> Result<u32, String> {
        let log = &mut *cx.log;
        match self {
            Effect::QemuCreate(plan) => qemu::create_apply(world, plan, cx),
            Effect::QemuClone(plan) => qemu::clone_apply(world, plan, cx),
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
            } => guest::power_apply(world, *kind, node, *vmid, action, *skiplock, log).map(|()| 0),
            Effect::Destroy {
                kind,
                node,
                vmid,
                purge,
                unreferenced,
            } => guest::destroy_apply(world, *kind, node, *vmid, *purge, *unreferenced, log),
            Effect::LxcCreate(plan) => lxc::create_apply(world, plan, cx),
            Effect::Download(plan) => storage::download_apply(world, plan, cx).map(|()| 0),
            Effect::OciPull(plan) => oci::pull_apply(world, plan, cx).map(|()| 0),
            Effect::DeleteVolume(plan) => content::delete_apply(world, plan, cx),
            Effect::Snapshot(plan) => snapshots::apply(world, plan, cx),
        }
    }

    /// The node the worker runs on.
    fn node(&self) -> &str {
        match self {
            Effect::QemuCreate(p) => &p.node,
            Effect::QemuClone(p) => &p.node,
            Effect::QemuUpdate(p) => &p.node,
            Effect::LxcCreate(p) => &p.node,
            Effect::Download(p) => &p.node,
            Effect::OciPull(p) => &p.node,
            Effect::DeleteVolume(p) => &p.node,
            Effect::Snapshot(p) => &p.node,
            Effect::QemuTemplate { node, .. }
            | Effect::Resize { node, .. }
            | Effect::Power { node, .. }
            | Effect::Destroy { node, .. } => node,
        }
    }

    /// Cleans up after a failure: frees what the worker allocated and
    /// removes the config it created.
    fn on_failure(&self, world: &mut World, progress: &Progress) {
        for volid in &progress.allocated {
            world.remove_volume(self.node(), volid);
        }
        match self {
            Effect::QemuCreate(plan) => guest::remove_if_locked(world, plan.vmid, "create"),
            Effect::LxcCreate(plan) => guest::remove_if_locked(world, plan.vmid, "create"),
            Effect::QemuClone(plan) if progress.begun => {
                guest::remove_if_locked(world, plan.newid, "clone")
            }
            Effect::Snapshot(plan) => snapshots::on_failure(world, plan, progress.begun),
            _ => {}
        }
    }

    /// The exit status of a worker stopped with `DELETE .../tasks/{upid}`
    /// (SIGTERM): the clone's copy loop dies with its own text, any other
    /// worker with `fork_worker`'s.
    fn interrupted(&self, progress: &Progress) -> String {
        match self {
            Effect::QemuClone(_) if progress.begun => {
                "clone failed: interrupted by signal".to_string()
            }
            _ => "received interrupt".to_string(),
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
            effect,
        }
    }

    /// Adds a lock taken first by the worker.
    pub fn lock(mut self, spec: LockSpec, prefix: impl Into<String>) -> Self {
        self.locks.push((spec, prefix.into()));
        self
    }

    /// Adds a lock the handler already holds.
    pub fn holding(mut self, held: Held) -> Self {
        self.held.push(held);
        self
    }
}

/// A worker id made safe for the UPID: `fork_worker` puts the id in as it
/// is (pve-common `RESTEnvironment.pm fork_worker`, `UPID.pm encode`), and
/// `UPID.pm decode` only parses ids matching `[^:\s/]*`, so those characters
/// are escaped as `\xNN` and everything else (`100@local-lvm`) stays.
fn encode_worker_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if !(c == ':' || c == '/' || c == '\\' || c.is_whitespace() || c.is_control()) {
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
pub(super) fn register(
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
    let progress = effect.as_ref().map(|_| Progress::default());
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
        progress,
    });
    upid
}

/// Marks a task stopped.
pub(super) fn finish(
    world: &mut World,
    upid: &str,
    mut log: Vec<String>,
    result: Result<u32, String>,
) {
    if let Some(task) = world.task_mut(upid) {
        task.log.append(&mut log);
        task.state = TaskState::Stopped;
        task.endtime = Some(now());
        task.effect = None;
        task.progress = None;
        task.exitstatus = Some(match result {
            Ok(0) => "OK".to_string(),
            Ok(n) => format!("WARNINGS: {n}"),
            Err(e) => e,
        });
    }
}

/// What a node that went down leaves of its running tasks (called when a
/// simulator starts on a persisted world): the workers are gone, so each
/// task reads `stopped` with `unexpected status` and its log ends without a
/// `TASK` line; nothing is completed and nothing is cleaned up. Returns how
/// many tasks were running.
pub(crate) fn vanish_running(world: &mut World) -> usize {
    let end = now();
    let mut n = 0;
    for task in world
        .tasks
        .iter_mut()
        .filter(|t| t.state == TaskState::Running)
    {
        task.state = TaskState::Stopped;
        task.exitstatus = Some(UNEXPECTED_STATUS.to_string());
        task.endtime = Some(end);
        task.effect = None;
        task.progress = None;
        n += 1;
    }
    n
}

/// What a node that kept running does with the tasks that were running
/// when the simulator's process stopped ([`super::Restart::NodeKeptRunning`]):
/// each starts over under its UPID (its partial work undone, without the
/// locks its handler took: nothing else runs yet) and completes after its
/// latency. Returns how many tasks were resumed.
pub(crate) fn resume_running(shared: &Arc<Shared>) -> usize {
    let resumed: Vec<(String, String, Effect)> = shared.write(|w| {
        let running: Vec<(String, String, Effect, Progress)> = w
            .tasks
            .iter_mut()
            .filter(|t| t.state == TaskState::Running)
            .filter_map(|t| {
                let effect = t.effect.clone()?;
                let progress = t.progress.replace(Progress::default()).unwrap_or_default();
                Some((t.upid.clone(), t.wtype.clone(), effect, progress))
            })
            .collect();
        running
            .into_iter()
            .map(|(upid, wtype, effect, progress)| {
                effect.on_failure(w, &progress);
                (upid, wtype, effect)
            })
            .collect()
    });
    // A running task without its effect cannot be resumed: it vanishes.
    shared.write(|w| {
        for t in w.tasks.iter_mut().filter(|t| {
            t.state == TaskState::Running && !resumed.iter().any(|(u, _, _)| *u == t.upid)
        }) {
            t.state = TaskState::Stopped;
            t.exitstatus = Some(UNEXPECTED_STATUS.to_string());
            t.endtime = Some(now());
        }
    });
    let n = resumed.len();
    for (upid, wtype, effect) in resumed {
        let latency = shared.settings.task_latency.for_type(&wtype);
        let worker = {
            let shared = shared.clone();
            let upid = upid.clone();
            async move {
                let mut guards = Vec::new();
                run(&shared, &upid, &effect, vec![], latency, &mut guards).await;
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
            .insert(upid, handle.abort_handle());
    }
    n
}

/// What a step of a worker decided.
enum Flow {
    /// Go on.
    Continue,
    /// The task ended (success or failure).
    Stop,
}

/// Runs one step of worker `upid` under the world mutex: `f` sees the
/// worker's memory and a log buffer whose lines are appended to the task;
/// an error cleans up and fails the task, `Some(n)` ends it with `n`
/// warnings, both within the same change of the world.
fn step(
    shared: &Shared,
    upid: &str,
    effect: &Effect,
    f: impl FnOnce(&mut World, &mut Cx) -> Result<Option<u32>, String>,
) -> Flow {
    shared.write(|w| {
        let Some(task) = w.task_mut(upid).filter(|t| t.state == TaskState::Running) else {
            return Flow::Stop;
        };
        let pid = task.pid;
        let mut progress = task.progress.take().unwrap_or_default();
        let mut log = Vec::new();
        let result = {
            let mut cx = Cx {
                settings: &shared.settings,
                progress: &mut progress,
                log: &mut log,
                pid,
            };
            f(w, &mut cx)
        };
        match result {
            Ok(None) => {
                if let Some(task) = w.task_mut(upid) {
                    task.log.append(&mut log);
                    task.progress = Some(progress);
                }
                Flow::Continue
            }
            Ok(Some(warnings)) => {
                finish(w, upid, log, Ok(warnings));
                Flow::Stop
            }
            Err(message) => {
                effect.on_failure(w, &progress);
                finish(w, upid, log, Err(message));
                Flow::Stop
            }
        }
    })
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
                effect,
                ..
            } = plan;
            let mut guards = held;
            run(&shared, &upid, &effect, locks, latency, &mut guards).await;
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

/// The worker: locks, `begin`, the timed stages (each with the lock and
/// the copy of its [`StageIo`]), `apply`.
async fn run(
    shared: &Shared,
    upid: &str,
    effect: &Effect,
    locks: Vec<(LockSpec, String)>,
    latency: Duration,
    guards: &mut Vec<Held>,
) {
    let fail = |message: String| {
        step(shared, upid, effect, |_, _| Err(message));
    };
    for (spec, prefix) in locks {
        match shared.locks.acquire(&spec).await {
            Ok(guard) => guards.push(guard),
            Err(message) => return fail(format!("{prefix}{message}")),
        }
    }
    let begun = step(shared, upid, effect, |w, cx| {
        effect.begin(w, cx)?;
        cx.progress.begun = true;
        Ok(None)
    });
    if let Flow::Stop = begun {
        return;
    }
    let stages = shared.read(|w| {
        w.task(upid)
            .and_then(|t| t.progress.as_ref())
            .map(|p| effect.stages(p))
            .unwrap_or(0)
    });
    if stages == 0 {
        tokio::time::sleep(latency).await;
    }
    let slice = latency / stages.max(1) as u32;
    for i in 0..stages {
        let io = shared.read(|w| {
            let progress = w.task(upid).and_then(|t| t.progress.as_ref())?;
            effect.stage_io(w, progress, i, shared.lock_timeout())
        });
        let held = match &io {
            Some(io) => match shared.locks.acquire(&io.lock).await {
                Ok(guard) => Some(guard),
                Err(message) => return fail(format!("{}{message}", io.prefix)),
            },
            None => None,
        };
        if let Flow::Stop = step(shared, upid, effect, |w, cx| effect.stage(w, i, cx)) {
            return;
        }
        drop(held);
        tokio::time::sleep(slice).await;
        if let Some(io) = io.filter(|io| io.copy_bytes > 0) {
            let bandwidth = shared.settings.task_latency.copy_bandwidth;
            (shared.copies)
                .transfer(&io.lock.key, io.copy_bytes, bandwidth)
                .await;
        }
    }
    step(shared, upid, effect, |w, cx| effect.apply(w, cx).map(Some));
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

/// pve-common `PVE::Tools::upid_status_is_error`, negated: `OK` or
/// `WARNINGS: n`.
pub(crate) fn status_is_ok(status: &str) -> bool {
    status == "OK"
        || status
            .strip_prefix("WARNINGS: ")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
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

/// `DELETE /nodes/{node}/tasks/{upid}`: stops a running worker (SIGTERM:
/// it cleans up like a failing one).
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
                let Some(task) = w.task_mut(upid).filter(|t| t.state == TaskState::Running) else {
                    return;
                };
                let effect = task.effect.clone();
                let progress = task.progress.take().unwrap_or_default();
                let message = match &effect {
                    Some(effect) => {
                        let message = effect.interrupted(&progress);
                        effect.on_failure(w, &progress);
                        message
                    }
                    None => "received interrupt".to_string(),
                };
                finish(w, upid, Vec::new(), Err(message));
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
        assert_eq!(encode_worker_id("101@local-lvm"), "101@local-lvm");
        assert!(status_is_ok("WARNINGS: 2") && status_is_ok("OK"));
        assert!(!status_is_ok("WARNINGS: ") && !status_is_ok("unexpected status"));
    }
}
