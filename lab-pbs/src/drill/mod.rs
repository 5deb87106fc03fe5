//! # Restore drills
//!
//! A backup nobody restored is a hope. A drill restores the latest
//! snapshot of a guest through the Proxmox VE API, exactly as an operator
//! would after a loss, and proves it boots:
//!
//! 1. the guest's VMID and node come from the state and the cluster;
//! 2. the copy to read is the one the failure analysis names as the
//!    restore path ([`crate::failures::DataReport::restore_from`]), or the
//!    datastore given with `--from`; when the lab declares no datastore for
//!    the guest, every PVE `pbs` storage is searched and the newest snapshot
//!    wins;
//! 3. the PVE `pbs` storage reading that datastore lists its content
//!    (`storage:backup/vm/<vmid>/<time>`), and the latest snapshot is
//!    restored with `unique=1` to a scratch VMID (`/cluster/nextid`, never
//!    the original's) on another node when there is one, onto a storage
//!    holding `images` (`rootdir` for a container) with room;
//! 4. the copy is started, `status/current` must say `running`, then it is
//!    stopped and removed: always, also when a step failed, so a drill
//!    leaves nothing behind;
//! 5. the report says what was restored (volume, snapshot time), from where
//!    (storage -> datastore -> appliance), onto which node and VMID, and how
//!    long each step took.
//!
//! The original guest is only read (its config digest and status, before
//! and after, are in the report). [`run`] is the library call (tests drive
//! it against pve-sim and pbs-sim); [`RestoreDrillCommand`] the CLI's
//! `restore-drill`.

mod command;
mod render;
mod resolve;
mod steps;

use std::fmt;
use std::time::Duration;

use lab_core::state::State;
use lab_core::{Address, Lab};
use lab_proxmox::api::{ApiError, Client};
use serde::Serialize;

use crate::failures::Topology;

pub use command::RestoreDrillCommand;
pub use render::render_text;

/// What to drill and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrillOptions {
    /// The guest: its address (`proxmox.vm.web`) or its name (`web`).
    /// `None`: every guest of the lab that has a backup, one by one.
    pub guest: Option<String>,
    /// The node to restore onto (default: a node other than the guest's,
    /// with room, when there is one).
    pub node: Option<String>,
    /// The scratch VMID (default: `GET /cluster/nextid`). Never the
    /// original's.
    pub vmid: Option<u32>,
    /// Read this copy instead of the analysis' restore path: a datastore's
    /// address (`pbs.datastore.main--daily`), a datastore name, or a PVE
    /// `pbs` storage id.
    pub from: Option<String>,
}

/// A VM or a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestType {
    /// A QEMU VM (`qemu`, backup type `vm`).
    Vm,
    /// An LXC container (`lxc`, backup type `ct`).
    Ct,
}

impl GuestType {
    /// The API path segment: `qemu` or `lxc`.
    pub fn api(self) -> &'static str {
        match self {
            GuestType::Vm => "qemu",
            GuestType::Ct => "lxc",
        }
    }

    /// The backup type: `vm` or `ct`.
    pub fn backup_type(self) -> &'static str {
        match self {
            GuestType::Vm => "vm",
            GuestType::Ct => "ct",
        }
    }

    /// The storage content a restored disk needs: `images` or `rootdir`.
    pub fn disk_content(self) -> &'static str {
        match self {
            GuestType::Vm => "images",
            GuestType::Ct => "rootdir",
        }
    }

    /// `VM` or `CT`, for messages.
    pub fn label(self) -> &'static str {
        match self {
            GuestType::Vm => "VM",
            GuestType::Ct => "CT",
        }
    }
}

/// One step of a drill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Reading the original, the storages, the snapshots, the nodes.
    Prepare,
    /// `qmrestore`/`vzrestore` to the scratch VMID.
    Restore,
    /// `status/start`.
    Start,
    /// `status/current` = running.
    Check,
    /// `status/stop`.
    Stop,
    /// `DELETE` with `purge=1`.
    Remove,
}

impl Step {
    /// The step's name.
    pub fn name(self) -> &'static str {
        match self {
            Step::Prepare => "prepare",
            Step::Restore => "restore",
            Step::Start => "start",
            Step::Check => "check",
            Step::Stop => "stop",
            Step::Remove => "remove",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long one step took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepTiming {
    /// The step.
    pub step: Step,
    /// Its duration in milliseconds.
    pub millis: u64,
}

/// Why the source copy was chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceChoice {
    /// The failure analysis' restore path for the guest (its freshest copy).
    Analysis,
    /// `--from`.
    Given,
    /// The lab declares no datastore holding the guest: the PVE `pbs`
    /// storage with its newest snapshot.
    NewestSnapshot,
}

/// Where the restored snapshot came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DrillSource {
    /// The PVE `pbs` storage read (`pbs-daily`).
    pub storage: String,
    /// The PBS datastore behind it.
    pub datastore: String,
    /// The PBS server (`host:port`).
    pub server: String,
    /// The datastore's address in the lab, when the lab declares it.
    pub datastore_address: Option<String>,
    /// The appliance the datastore lives on, when the lab says.
    pub appliance: Option<String>,
    /// Why this copy.
    pub chosen: SourceChoice,
}

/// What the drill saw of the original guest, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OriginalCheck {
    /// Its config digest before the drill.
    pub digest: String,
    /// Its status before the drill (`running`, `stopped`).
    pub status: String,
    /// Digest and status were the same after the drill.
    pub unchanged: bool,
}

/// One guest's drill, completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GuestDrill {
    /// The guest's address in the lab.
    pub guest: String,
    /// VM or CT.
    pub guest_type: GuestType,
    /// The original's VMID.
    pub original_vmid: u32,
    /// The original's node.
    pub original_node: String,
    /// The restored volume (`pbs-daily:backup/vm/101/2026-...Z`).
    pub volid: String,
    /// The snapshot's time (Unix seconds).
    pub snapshot_time: i64,
    /// The snapshot's time, RFC 3339 (UTC).
    pub snapshot: String,
    /// The snapshot's size in bytes, as the storage lists it.
    pub size: u64,
    /// Where it came from.
    pub source: DrillSource,
    /// The node it was restored onto.
    pub node: String,
    /// The scratch VMID.
    pub vmid: u32,
    /// The storage its disks were restored onto.
    pub target_storage: String,
    /// The status `status/current` reported after the start.
    pub observed_status: String,
    /// Each step's duration, in order.
    pub steps: Vec<StepTiming>,
    /// The original guest, before and after.
    pub original: OriginalCheck,
}

impl GuestDrill {
    /// The whole drill's duration.
    pub fn total(&self) -> Duration {
        Duration::from_millis(self.steps.iter().map(|s| s.millis).sum())
    }
}

/// A guest not drilled when drilling every guest, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The guest's address.
    pub guest: String,
    /// Why (no backup yet, not applied).
    pub reason: String,
}

/// A guest whose drill failed when drilling every guest.
#[derive(Clone, Debug, Serialize)]
pub struct Failed {
    /// The guest's address.
    pub guest: String,
    /// What failed.
    pub error: String,
    /// What to do next.
    pub help: String,
}

/// What [`run`] did: one entry per guest drilled (what was restored, from
/// which storage, datastore and appliance, onto which node and scratch
/// VMID, each step's duration), the guests skipped and those whose drill
/// failed. `restore-drill` prints it, or writes it as JSON with `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct DrillReport {
    /// The drills that passed, in order.
    pub drills: Vec<GuestDrill>,
    /// Guests not drilled (drilling every guest only).
    pub skipped: Vec<Skipped>,
    /// Guests whose drill failed (drilling every guest only; a single
    /// guest's failure is the [`DrillError`] itself).
    pub failed: Vec<Failed>,
}

impl DrillReport {
    /// True if every drill passed and left the original unchanged.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.drills.iter().all(|d| d.original.unchanged)
    }
}

/// What became of the scratch guest after a failed step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// The restore never made it (or PVE removed the half-made guest).
    NothingLeft,
    /// It was stopped (when running) and removed.
    Removed,
    /// Removing it failed: remove it by hand.
    Left(String),
}

/// Why a drill could not run or failed.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// No guest of that name or address.
    #[error("no guest '{name}' in the lab")]
    UnknownGuest {
        /// What was asked.
        name: String,
        /// The lab's guests.
        known: Vec<String>,
    },
    /// A VM and a container share the name.
    #[error("'{name}' names more than one guest: {}", .candidates.join(", "))]
    AmbiguousGuest {
        /// What was asked.
        name: String,
        /// The guests of that name.
        candidates: Vec<String>,
    },
    /// The lab has no VM or container.
    #[error("the lab declares no VM or container to drill")]
    NoGuests,
    /// The guest has no VMID in the state.
    #[error("{guest} has not been applied yet (the state records no VMID for it)")]
    NotApplied {
        /// The guest.
        guest: Address,
    },
    /// No Proxmox provider serves the guest.
    #[error("no Proxmox VE provider serves {guest}")]
    NoProxmox {
        /// The guest.
        guest: Address,
    },
    /// The state could not be read.
    #[error("cannot read the state: {0}")]
    State(String),
    /// The guest is not on the cluster.
    #[error("{guest} (VMID {vmid}) is not on the cluster")]
    GuestMissing {
        /// The guest.
        guest: Address,
        /// Its VMID in the state.
        vmid: u32,
    },
    /// No PVE `pbs` storage reads the wanted datastore.
    #[error("no PVE 'pbs' storage reads {what}")]
    NoPbsStorage {
        /// The datastore (and server) looked for.
        what: String,
        /// The `pbs` storages the cluster has (`id: server/datastore`).
        storages: Vec<String>,
    },
    /// `--from` names nothing known.
    #[error("--from '{0}' is neither a datastore of the lab nor a PVE 'pbs' storage (nor a datastore one reads)")]
    UnknownSource(String),
    /// No snapshot of the guest yet.
    #[error("{guest} (VMID {vmid}) has no backup on {storages}")]
    NoBackup {
        /// The guest.
        guest: Address,
        /// Its VMID.
        vmid: u32,
        /// The storages searched.
        storages: String,
        /// A backup job of the lab that selects it, if any.
        job: Option<String>,
    },
    /// Drilling every guest, none has a backup (or was applied).
    #[error("no guest of the lab has a backup to drill: {}", .skipped.join("; "))]
    NothingBackedUp {
        /// Why each guest was not drilled.
        skipped: Vec<String>,
    },
    /// `--node` names no node of the cluster, or an offline one.
    #[error("node '{node}' {why}")]
    BadNode {
        /// The node asked.
        node: String,
        /// What is wrong with it.
        why: String,
    },
    /// No node (or no storage on it) has room for the copy.
    #[error("no node has room for the restored copy of {guest}: {details}")]
    NoRoom {
        /// The guest.
        guest: Address,
        /// What each candidate lacked.
        details: String,
    },
    /// `--vmid` is the original's or taken.
    #[error("scratch VMID {vmid}: {why}")]
    BadVmid {
        /// The VMID asked.
        vmid: u32,
        /// Why it cannot be used.
        why: String,
    },
    /// An API call failed before anything was restored.
    #[error("{what}: {error}")]
    Api {
        /// What the drill was doing.
        what: String,
        /// The API's error.
        error: ApiError,
    },
    /// A step failed after the restore began; the scratch guest was
    /// cleaned up as `cleanup` says.
    #[error("{guest}: the drill failed at '{step}' on {node} (scratch VMID {vmid}): {message}; {}", cleanup_text(.cleanup, *.vmid, .node))]
    StepFailed {
        /// The guest.
        guest: Address,
        /// The failed step.
        step: Step,
        /// What failed.
        message: String,
        /// The node restored onto.
        node: String,
        /// The scratch VMID.
        vmid: u32,
        /// What became of the scratch guest.
        cleanup: Cleanup,
    },
}

fn cleanup_text(cleanup: &Cleanup, vmid: u32, node: &str) -> String {
    match cleanup {
        Cleanup::NothingLeft => format!("nothing was left behind (no guest {vmid} on {node})"),
        Cleanup::Removed => format!("the scratch guest {vmid} was removed"),
        Cleanup::Left(e) => format!("the scratch guest {vmid} could NOT be removed: {e}"),
    }
}

impl DrillError {
    /// What the user should do next.
    pub fn help(&self) -> String {
        match self {
            DrillError::UnknownGuest { known, .. } => format!(
                "name one of the lab's guests: {}",
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            ),
            DrillError::AmbiguousGuest { .. } => "give the guest's address instead of its name".into(),
            DrillError::NoGuests => "add a Vm or a Container to the lab, apply it and back it up".into(),
            DrillError::NotApplied { .. } => {
                "run `lab apply` first, then a backup job, then the drill".into()
            }
            DrillError::NoProxmox { .. } => "register a Proxmox VE provider (lab_proxmox::Connection::provider) in the lab".into(),
            DrillError::State(_) => "check the state directory (`lab state`)".into(),
            DrillError::GuestMissing { .. } => {
                "run `lab plan` to see the drift, and `lab apply` to bring the guest back".into()
            }
            DrillError::NoPbsStorage { storages, .. } => format!(
                "add a Storage::pbs(..) reading that datastore (with its token and fingerprint) and apply it{}",
                if storages.is_empty() {
                    String::new()
                } else {
                    format!("; the cluster's pbs storages: {}", storages.join(", "))
                }
            ),
            DrillError::UnknownSource(_) => {
                "give a datastore's address or name from the lab, or a PVE pbs storage id".into()
            }
            DrillError::NoBackup { vmid, storages, job, .. } => {
                let first = storages.split(", ").next().unwrap_or("<pbs storage>");
                match job {
                    Some(job) => format!(
                        "run the backup job first (e.g. 'Run now' on backup job '{job}' in Datacenter > Backup, \
                         or `vzdump {vmid} --storage {first}` on the guest's node), then drill again"
                    ),
                    None => format!(
                        "run the backup job first (e.g. `vzdump {vmid} --storage {first}` on the guest's node; \
                         no BackupJob of the lab selects it: add one), then drill again"
                    ),
                }
            }
            DrillError::NothingBackedUp { .. } => "run the backup job first (e.g. 'Run now' on a \
                 BackupJob's job in Datacenter > Backup, after `lab apply`), then drill again"
                .into(),
            DrillError::BadNode { .. } => "name an online node of the cluster with --node (see `pvesh get /nodes`)".into(),
            DrillError::NoRoom { .. } => "free memory or disk space on a node, or name one with --node".into(),
            DrillError::BadVmid { .. } => {
                "give a free VMID with --vmid, or leave it out to take /cluster/nextid".into()
            }
            DrillError::Api { .. } => "check the cluster's API (address, token, certificate) and try again".into(),
            DrillError::StepFailed { cleanup: Cleanup::Left(_), vmid, node, guest, .. } => format!(
                "remove the scratch guest by hand (`qm destroy {vmid} --purge` or `pct destroy {vmid} --purge` on {node}); \
                 the original {guest} was not touched"
            ),
            DrillError::StepFailed { node, .. } => format!(
                "the backup may not boot: look at the task log on {node}, fix the guest and back it up again"
            ),
        }
    }
}

/// Progress of a drill, as it happens (the CLI prints it on stderr).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrillProgress {
    /// A guest's drill begins.
    Guest {
        /// The guest's address.
        guest: Address,
    },
    /// A step begins.
    StepStarted {
        /// The guest.
        guest: Address,
        /// The step.
        step: Step,
    },
    /// A step ended (successfully or not).
    StepEnded {
        /// The guest.
        guest: Address,
        /// The step.
        step: Step,
        /// How long it took.
        took: Duration,
    },
}

/// Runs the drill `options` asks over `lab` as `state` records it.
///
/// Each guest's Proxmox client is its provider instance's
/// ([`Provider::as_any`](lab_core::Provider::as_any) -> `ProxmoxProvider`).
/// `progress` hears each step as it begins and ends.
///
/// With a guest: that guest's drill, or its error. Without: every guest
/// with a backup, one by one (the others in [`DrillReport::skipped`], the
/// failures in [`DrillReport::failed`]); an error only when none has a
/// backup.
pub async fn run(
    lab: &Lab,
    state: &State,
    options: &DrillOptions,
    progress: &mut dyn FnMut(&DrillProgress),
) -> Result<DrillReport, DrillError> {
    run_with(lab, state, &Topology::of_lab(lab), options, progress).await
}

/// [`run`] with the failure analysis over `topology` rather than the one
/// [`Topology::of_lab`] reads (tests build it by hand).
pub async fn run_with(
    lab: &Lab,
    state: &State,
    topology: &Topology,
    options: &DrillOptions,
    progress: &mut dyn FnMut(&DrillProgress),
) -> Result<DrillReport, DrillError> {
    let guests = resolve::guests(lab, options.guest.as_deref())?;
    let mut report = DrillReport {
        drills: Vec::new(),
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    let single = options.guest.is_some();
    for guest in guests {
        let result = drill_one(lab, state, topology, &guest, options, progress).await;
        match result {
            Ok(d) => report.drills.push(d),
            Err(e) if single => return Err(e),
            Err(e @ (DrillError::NoBackup { .. } | DrillError::NotApplied { .. })) => {
                report.skipped.push(Skipped {
                    guest: guest.address.to_string(),
                    reason: e.to_string(),
                })
            }
            Err(e) => report.failed.push(Failed {
                guest: guest.address.to_string(),
                error: e.to_string(),
                help: e.help(),
            }),
        }
    }
    if report.drills.is_empty() && report.failed.is_empty() {
        return Err(DrillError::NothingBackedUp {
            skipped: report.skipped.into_iter().map(|s| s.reason).collect(),
        });
    }
    Ok(report)
}

/// [`run`] with the engine's lab and the state its store holds.
pub async fn run_engine(
    engine: &lab_core::Engine,
    options: &DrillOptions,
    progress: &mut dyn FnMut(&DrillProgress),
) -> Result<DrillReport, DrillError> {
    let lab = engine.lab();
    let state = engine
        .store()
        .load_lab(lab.name())
        .map_err(|e| DrillError::State(e.to_string()))?
        .unwrap_or_else(|| State::new(lab.name()));
    run(lab, &state, options, progress).await
}

async fn drill_one(
    lab: &Lab,
    state: &State,
    topology: &Topology,
    guest: &resolve::LabGuest,
    options: &DrillOptions,
    progress: &mut dyn FnMut(&DrillProgress),
) -> Result<GuestDrill, DrillError> {
    progress(&DrillProgress::Guest {
        guest: guest.address.clone(),
    });
    let client = resolve::client_of(lab, guest)?;
    let plan = steps::prepare(lab, state, topology, client, guest, options, progress).await?;
    steps::execute(client, guest, plan, progress).await
}

/// An [`ApiError`] as a pre-restore [`DrillError`].
fn api(what: impl Into<String>) -> impl FnOnce(ApiError) -> DrillError {
    let what = what.into();
    move |error| DrillError::Api { what, error }
}

/// The Proxmox VE client every call of the drill goes through.
type Pve = Client;
