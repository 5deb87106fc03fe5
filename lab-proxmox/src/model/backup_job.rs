//! Backup jobs: what PVE's scheduler backs up, when, and where
//! (`/cluster/backup`).

use std::fmt;

use lab_core::diag::Loc;
use lab_core::value::OutputRef;
use lab_core::{Handle, Lab, Output, Resource, ResourceSpec, Value};

use super::node::Node;
use super::pool::Pool;
use super::storage::Storage;
use super::GuestOutputs;
use crate::kinds::{self, Retention};
use crate::schedule::CalendarEvent;

/// How vzdump gets a consistent image of a running guest (`mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupMode {
    /// Live (QEMU: a fleecing snapshot; LXC: a storage snapshot). PVE's default.
    Snapshot,
    /// Suspend the guest for the copy.
    Suspend,
    /// Shut the guest down for the backup and start it again after.
    Stop,
}

impl BackupMode {
    /// The name PVE uses.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupMode::Snapshot => "snapshot",
            BackupMode::Suspend => "suspend",
            BackupMode::Stop => "stop",
        }
    }
}

impl fmt::Display for BackupMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compression of a vzdump archive (`compress`; ignored by PBS storages,
/// which compress chunks themselves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compress {
    /// None (`0`).
    None,
    /// gzip (or pigz).
    Gzip,
    /// lzo.
    Lzo,
    /// zstd.
    Zstd,
}

impl Compress {
    /// The value PVE uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Compress::None => "0",
            Compress::Gzip => "gzip",
            Compress::Lzo => "lzo",
            Compress::Zstd => "zstd",
        }
    }
}

/// A scheduled backup job (`proxmox.backup_job`); its resource name is the
/// job id PVE shows (`/cluster/backup/<id>`), always sent so the job can be
/// found again.
///
/// Select the guests with one of: [`BackupJob::guest`] (by handle, any
/// number), [`BackupJob::all`] (+ [`BackupJob::exclude`]) or
/// [`BackupJob::pool`] (+ `exclude`). The schedule is a calendar event
/// (`sun 01:00`, `mon..fri 22:00`, `*-*-* 02:30`, `daily`), checked here;
/// the plan shows its next runs.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1"));
/// let pbs = lab.add(Storage::pbs("pbs-daily", "10.0.0.9", "daily"));
/// let web = lab.add(Vm::new("web", &pve1));
/// let job = lab.add(
///     BackupJob::new("nightly", &pbs, "*-*-* 02:30")
///         .guest(&web)
///         .mode(BackupMode::Snapshot)
///         .retention(Retention::new().keep_daily(7).keep_weekly(4)),
/// );
/// let spec = lab.resource(job.address()).unwrap();
/// assert_eq!(spec.attrs["id"], Value::from("nightly"));
/// assert_eq!(spec.attrs["storage"], Value::from("pbs-daily"));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct BackupJob {
    spec: ResourceSpec,
    vmids: Vec<Value>,
    exclude: Vec<Value>,
}

/// Why `id` is not a PVE config id (`pve-configid`: a letter, then
/// letters, digits, `-` and `_`, two characters at least).
fn configid_problem(id: &str) -> Option<String> {
    let ok = id.len() >= 2
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    (!ok).then(|| format!("`{id}` is not a valid backup job id"))
}

impl BackupJob {
    /// The kind, `proxmox.backup_job`.
    pub const KIND: &'static str = kinds::BACKUP_JOB;

    /// Job `id` backing up to `storage` on `schedule` (a calendar event).
    /// Enabled, mode `snapshot`; no guest selected yet.
    #[track_caller]
    pub fn new(id: impl AsRef<str>, storage: &Handle<Storage>, schedule: &str) -> Self {
        let id = id.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, id);
        spec.check_set = Some(crate::checks::SET);
        if let Some(p) = configid_problem(id) {
            spec.invalid(
                "id",
                p,
                "name the job like `nightly` or `daily-pbs` (a letter, then letters, digits, - and _)",
            );
        }
        spec.set("id", id);
        spec.set("storage", storage.address().name());
        spec.depend_on(storage, "storage");
        spec.set("enabled", true);
        let mut job = BackupJob {
            spec,
            vmids: Vec::new(),
            exclude: Vec::new(),
        };
        job.set_schedule(schedule);
        job
    }

    #[track_caller]
    fn set_schedule(&mut self, schedule: &str) {
        if let Err(e) = schedule.parse::<CalendarEvent>() {
            self.spec.invalid(
                "schedule",
                e.to_string(),
                "write a calendar event like `sun 01:00`, `mon..fri 22:00`, `*-*-* 02:30` or `daily`",
            );
        }
        self.spec.set("schedule", schedule);
    }

    /// Replaces the schedule.
    #[track_caller]
    pub fn schedule(mut self, schedule: &str) -> Self {
        self.set_schedule(schedule);
        self
    }

    /// Backs up this guest (a `Handle<Vm>` or `Handle<Container>`; its
    /// VMID once known). Call once per guest.
    #[track_caller]
    pub fn guest<R>(mut self, guest: &Handle<R>) -> Self
    where
        Handle<R>: GuestOutputs,
    {
        let vmid = vmid_ref(guest);
        self.spec.depend_on(guest, "vmids");
        self.vmids.push(vmid);
        self.spec.set("vmids", self.vmids.clone());
        self
    }

    /// Backs up the guest with this VMID (one the lab does not declare).
    #[track_caller]
    pub fn vmid(mut self, vmid: u32) -> Self {
        self.vmids.push(Value::Int(i64::from(vmid)));
        self.spec.set("vmids", self.vmids.clone());
        self
    }

    /// Backs up every guest (of the job's node, with [`BackupJob::node`]).
    #[track_caller]
    pub fn all(mut self) -> Self {
        self.spec.set("all", true);
        self
    }

    /// Backs up every guest of `pool`.
    #[track_caller]
    pub fn pool(mut self, pool: &Handle<Pool>) -> Self {
        self.spec.set("pool", pool.address().name());
        self.spec.depend_on(pool, "pool");
        self
    }

    /// Leaves a guest out of [`BackupJob::all`] or [`BackupJob::pool`].
    #[track_caller]
    pub fn exclude<R>(mut self, guest: &Handle<R>) -> Self
    where
        Handle<R>: GuestOutputs,
    {
        let vmid = vmid_ref(guest);
        self.spec.depend_on(guest, "exclude");
        self.exclude.push(vmid);
        self.spec.set("exclude", self.exclude.clone());
        self
    }

    /// Leaves the guest with this VMID out.
    #[track_caller]
    pub fn exclude_vmid(mut self, vmid: u32) -> Self {
        self.exclude.push(Value::Int(i64::from(vmid)));
        self.spec.set("exclude", self.exclude.clone());
        self
    }

    /// Only guests on `node` (and the job runs there only).
    #[track_caller]
    pub fn node(mut self, node: &Handle<Node>) -> Self {
        self.spec.set("node", node.address().name());
        self.spec.depend_on(node, "node");
        self
    }

    /// How running guests are backed up (default: snapshot).
    #[track_caller]
    pub fn mode(mut self, mode: BackupMode) -> Self {
        self.spec.set("mode", mode.as_str());
        self
    }

    /// Compression of the archive (not used by PBS storages).
    #[track_caller]
    pub fn compress(mut self, compress: Compress) -> Self {
        self.spec.set("compress", compress.as_str());
        self
    }

    /// Whether the scheduler runs the job (default: yes).
    #[track_caller]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.spec.set("enabled", enabled);
        self
    }

    /// Retention applied after each run (`prune-backups`), instead of the
    /// storage's.
    #[track_caller]
    pub fn retention(mut self, retention: Retention) -> Self {
        self.spec.set("prune_backups", retention);
        self
    }

    /// The notes of each backup (`{{guestname}}`, `{{vmid}}`, `{{node}}`,
    /// `{{cluster}}` are replaced).
    #[track_caller]
    pub fn notes_template(mut self, template: &str) -> Self {
        if template.len() > 1024 {
            self.spec.invalid(
                "notes_template",
                format!(
                    "the notes template has {} bytes; PVE allows 1024",
                    template.len()
                ),
                "shorten the notes template",
            );
        }
        self.spec.set("notes_template", template);
        self
    }

    /// A comment shown in the web interface.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        if comment.contains('\n') {
            self.spec.invalid(
                "comment",
                "a backup job's comment is one line",
                "remove the line breaks from the comment",
            );
        }
        self.spec.set("comment", comment);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl BackupJob {
    /// Adds `guest` to the job `job`, which is in `lab` already: for builders
    /// that make a guest after the job it belongs to (lab-services' `App`
    /// with `.backup(&job)`, as Caddy routes join their proxy). `at` is the
    /// user's line that asked for it. Selecting a guest twice is harmless: PVE
    /// backs it up once.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_proxmox::model::{BackupJob, Container, Node, Storage};
    ///
    /// let mut lab = Lab::new("home");
    /// let pve1 = lab.add(Node::new("pve1"));
    /// let pbs = lab.add(Storage::existing("pbs-daily"));
    /// let job = lab.add(BackupJob::new("nightly", &pbs, "02:00"));
    /// let ct = lab.add(Container::new("notes", &pve1));
    /// BackupJob::select_guest(&mut lab, &job, &ct, std::panic::Location::caller());
    /// let vmids = lab.resource(job.address()).unwrap().attrs["vmids"].as_list().unwrap().len();
    /// assert_eq!(vmids, 1);
    /// ```
    pub fn select_guest<R>(lab: &mut Lab, job: &Handle<BackupJob>, guest: &Handle<R>, at: Loc)
    where
        Handle<R>: GuestOutputs,
    {
        let vmid = vmid_ref(guest);
        let Some(spec) = lab.spec_mut(job.address()) else {
            return;
        };
        let mut list = match spec.attrs.get("vmids") {
            Some(Value::List(list)) => list.clone(),
            _ => Vec::new(),
        };
        if !list.contains(&vmid) {
            list.push(vmid);
        }
        spec.attrs.insert("vmids".into(), Value::List(list));
        spec.field_locs.entry("vmids".into()).or_insert(at);
        spec.depend_on(guest, "vmids");
        if let Some(dep) = spec.deps.last_mut() {
            dep.loc = at;
        }
    }
}

#[track_caller]
fn vmid_ref<R>(guest: &Handle<R>) -> Value
where
    Handle<R>: GuestOutputs,
{
    let out = guest.vmid();
    Value::Ref(OutputRef {
        address: out.address().clone(),
        output: out.name().to_string(),
    })
}

impl Resource for BackupJob {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a backup job.
pub trait BackupJobOutputs {
    /// The job id.
    #[track_caller]
    fn job_id(&self) -> Output<String>;
}

impl BackupJobOutputs for Handle<BackupJob> {
    #[track_caller]
    fn job_id(&self) -> Output<String> {
        self.output("id")
    }
}
