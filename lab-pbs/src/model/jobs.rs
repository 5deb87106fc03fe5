//! Sync, prune and verify jobs. Garbage collection is the datastore's
//! `gc-schedule`.

use lab_core::{Handle, Output, Resource, ResourceSpec};

use super::common::{
    address_id_problem, comment_problem, local_of, owned_spec, schedule_problem, SCHEDULE_HELP,
};
use super::datastore::{set_retention, store_of, Datastore};
use super::namespace::{Namespace, NamespaceOutputs};
use super::remote::Remote;
use crate::kinds::{self, Retention, MAX_NAMESPACE_DEPTH};

/// The spec of a job `id` on `store`'s server, with `store`.
#[track_caller]
fn job_spec(kind: &str, store: &Handle<Datastore>, id: &str) -> ResourceSpec {
    let mut spec = owned_spec(kind, store, id);
    if let Some(p) = address_id_problem(id, "job id") {
        spec.invalid("id", p, "name the job like `daily-copy` or `keep_30d`");
    }
    spec.set("id", id);
    spec.set_ref("datastore", store);
    spec.set("store", store_of(store));
    spec
}

#[track_caller]
fn set_schedule(spec: &mut ResourceSpec, schedule: &str) {
    if let Some(p) = schedule_problem(schedule) {
        spec.invalid("schedule", p, SCHEDULE_HELP);
    }
    spec.set("schedule", schedule);
}

#[track_caller]
fn set_max_depth(spec: &mut ResourceSpec, depth: u8) {
    if usize::from(depth) > MAX_NAMESPACE_DEPTH {
        spec.invalid(
            "max-depth",
            format!("max-depth {depth}: PBS recurses at most {MAX_NAMESPACE_DEPTH} levels"),
            "give 0 (this namespace only) to 7",
        );
    }
    spec.set("max-depth", i64::from(depth));
}

#[track_caller]
fn set_comment(spec: &mut ResourceSpec, comment: &str) {
    if let Some(p) = comment_problem(comment) {
        spec.invalid("comment", p, "write a single line");
    }
    spec.set("comment", comment);
}

/// Why `filter` is not a PBS group filter
/// (`[exclude:|include:]type:<vm|ct|host>|group:<type>/<id>|regex:<re>`),
/// if it is not.
fn group_filter_problem(filter: &str) -> Option<String> {
    let body = filter
        .strip_prefix("exclude:")
        .or_else(|| filter.strip_prefix("include:"))
        .unwrap_or(filter);
    if let Some(t) = body.strip_prefix("type:") {
        return (!matches!(t, "vm" | "ct" | "host"))
            .then(|| format!("`{filter}`: the backup type is `vm`, `ct` or `host`"));
    }
    if let Some(g) = body.strip_prefix("group:") {
        let ok = g.split_once('/').is_some_and(|(t, id)| {
            matches!(t, "vm" | "ct" | "host")
                && !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        });
        return (!ok).then(|| format!("`{filter}`: a group is `<vm|ct|host>/<id>`, like `vm/100`"));
    }
    if let Some(re) = body.strip_prefix("regex:") {
        return re
            .is_empty()
            .then(|| format!("`{filter}`: the regular expression is empty"));
    }
    Some(format!(
        "`{filter}` is not a group filter: write `type:vm`, `group:vm/100` or `regex:^vm/1..$`, \
         each optionally after `exclude:`"
    ))
}

/// A sync job (`pbs.sync_job`): pulls the snapshots of `source` into
/// `store` on `store`'s server. With [`SyncJob::remote`] the source is a
/// datastore of the remote's target server (the off-site copy); without
/// one it is a datastore of the same server (a local sync). The schedule
/// is optional (without it the job runs only by hand).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
/// let mut lab = Lab::new("home");
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
/// let offsite = lab.add(PbsServer::new("offsite", "pbs.offsite.example"));
/// let daily = lab.add(Datastore::new(&primary, "daily", "/mnt/daily"));
/// let archive = lab.add(Datastore::new(&offsite, "archive", "/mnt/archive"));
/// let sync = lab.add(User::new(&primary, "sync@pbs"));
/// let token = lab.add(Token::new(&sync, "offsite"));
/// let remote = lab.add(Remote::new(&offsite, "primary", &primary, &token));
/// let job = lab.add(
///     SyncJob::new(&archive, "archive-copy", &daily)
///         .remote(&remote)
///         .schedule("sat 03:00")
///         .remove_vanished(false),
/// );
/// let spec = lab.resource(job.address()).unwrap();
/// assert_eq!(spec.attrs["store"], Value::from("archive"));
/// assert_eq!(spec.attrs["remote"], Value::from("primary"));
/// assert_eq!(spec.attrs["remote-store"], Value::from("daily"));
/// assert_eq!(spec.provider.as_ref().unwrap().name, "offsite");
/// ```
#[derive(Clone, Debug)]
pub struct SyncJob {
    spec: ResourceSpec,
    filters: Vec<String>,
}

impl SyncJob {
    /// The kind, `pbs.sync_job`.
    pub const KIND: &'static str = kinds::SYNC_JOB;

    /// The job `id` pulling `source` into `store`.
    #[track_caller]
    pub fn new(store: &Handle<Datastore>, id: &str, source: &Handle<Datastore>) -> Self {
        let mut spec = job_spec(Self::KIND, store, id);
        spec.set_ref("source", source);
        spec.set("remote-store", store_of(source));
        SyncJob {
            spec,
            filters: Vec::new(),
        }
    }

    /// Pulls through `remote` (a remote of this job's server pointing at
    /// the source's server).
    #[track_caller]
    pub fn remote(mut self, remote: &Handle<Remote>) -> Self {
        self.spec.depend_on(remote, "remote");
        self.spec.set("remote", local_of(remote));
        self
    }

    /// When it runs (a calendar event).
    #[track_caller]
    pub fn schedule(mut self, schedule: &str) -> Self {
        set_schedule(&mut self.spec, schedule);
        self
    }

    /// The namespace (of the target store) it writes into.
    #[track_caller]
    pub fn ns(mut self, ns: &Handle<Namespace>) -> Self {
        self.spec.set_input::<String>("ns", ns.ns());
        self
    }

    /// The namespace (of the source store) it reads from.
    #[track_caller]
    pub fn remote_ns(mut self, ns: &Handle<Namespace>) -> Self {
        self.spec.set_input::<String>("remote-ns", ns.ns());
        self
    }

    /// How many namespace levels below `remote-ns` it copies (0-7).
    #[track_caller]
    pub fn max_depth(mut self, depth: u8) -> Self {
        set_max_depth(&mut self.spec, depth);
        self
    }

    /// Removes from the target what the source no longer has (pruned
    /// there). PBS's default: keep it.
    #[track_caller]
    pub fn remove_vanished(mut self, remove: bool) -> Self {
        self.spec.set("remove-vanished", remove);
        self
    }

    /// Copies only the last `n` snapshots of each group.
    #[track_caller]
    pub fn transfer_last(mut self, n: u32) -> Self {
        if n == 0 {
            self.spec.invalid(
                "transfer-last",
                "transfer-last 0 would copy nothing; PBS takes 1 or more",
                "leave .transfer_last(..) out to copy every snapshot",
            );
        }
        self.spec.set("transfer-last", i64::from(n));
        self
    }

    /// Adds a group filter (`type:vm`, `group:vm/100`, `regex:..`, each
    /// optionally after `exclude:`).
    #[track_caller]
    pub fn group_filter(mut self, filter: &str) -> Self {
        if let Some(p) = group_filter_problem(filter) {
            self.spec
                .invalid("group-filter", p, "see PBS's `group-filter` syntax");
        }
        self.filters.push(filter.to_string());
        self.spec.set("group-filter", self.filters.clone());
        self
    }

    /// A comment.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        set_comment(&mut self.spec, comment);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for SyncJob {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// A prune job (`pbs.prune_job`): applies a [`Retention`] to `store` (or
/// a namespace of it) on a schedule, which PBS requires.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
/// let mut lab = Lab::new("home");
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
/// let store = lab.add(Datastore::new(&primary, "backup", "/mnt/datastore/backup"));
/// let job = lab.add(
///     PruneJob::new(&store, "keep", "daily").retention(Retention::default().last(3).daily(7)),
/// );
/// let spec = lab.resource(job.address()).unwrap();
/// assert_eq!(spec.attrs["schedule"], Value::from("daily"));
/// assert_eq!(spec.attrs["keep-last"], Value::from(3));
/// ```
#[derive(Clone, Debug)]
pub struct PruneJob {
    spec: ResourceSpec,
}

impl PruneJob {
    /// The kind, `pbs.prune_job`.
    pub const KIND: &'static str = kinds::PRUNE_JOB;

    /// The job `id` on `store`, run at `schedule`.
    #[track_caller]
    pub fn new(store: &Handle<Datastore>, id: &str, schedule: &str) -> Self {
        let mut spec = job_spec(Self::KIND, store, id);
        set_schedule(&mut spec, schedule);
        PruneJob { spec }
    }

    /// What it keeps. Without any count PBS keeps everything
    /// (`pbs::prune-keeps-all`).
    #[track_caller]
    pub fn retention(mut self, retention: Retention) -> Self {
        set_retention(&mut self.spec, &retention);
        self
    }

    /// Prunes only this namespace (of the job's store) and below.
    #[track_caller]
    pub fn ns(mut self, ns: &Handle<Namespace>) -> Self {
        self.spec.set_input::<String>("ns", ns.ns());
        self
    }

    /// How many namespace levels below `ns` it prunes (0-7).
    #[track_caller]
    pub fn max_depth(mut self, depth: u8) -> Self {
        set_max_depth(&mut self.spec, depth);
        self
    }

    /// A comment.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        set_comment(&mut self.spec, comment);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for PruneJob {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// A verify job (`pbs.verify_job`): re-reads the snapshots of `store` (or
/// a namespace of it) and checks every chunk.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
/// let mut lab = Lab::new("home");
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
/// let store = lab.add(Datastore::new(&primary, "backup", "/mnt/datastore/backup"));
/// let job = lab.add(
///     VerifyJob::new(&store, "weekly-verify").schedule("sun 04:00").outdated_after(30),
/// );
/// let spec = lab.resource(job.address()).unwrap();
/// assert_eq!(spec.attrs["outdated-after"], Value::from(30));
/// ```
#[derive(Clone, Debug)]
pub struct VerifyJob {
    spec: ResourceSpec,
}

impl VerifyJob {
    /// The kind, `pbs.verify_job`.
    pub const KIND: &'static str = kinds::VERIFY_JOB;

    /// The job `id` on `store`.
    #[track_caller]
    pub fn new(store: &Handle<Datastore>, id: &str) -> Self {
        VerifyJob {
            spec: job_spec(Self::KIND, store, id),
        }
    }

    /// When it runs (a calendar event; without one only by hand).
    #[track_caller]
    pub fn schedule(mut self, schedule: &str) -> Self {
        set_schedule(&mut self.spec, schedule);
        self
    }

    /// Verifies only this namespace (of the job's store) and below.
    #[track_caller]
    pub fn ns(mut self, ns: &Handle<Namespace>) -> Self {
        self.spec.set_input::<String>("ns", ns.ns());
        self
    }

    /// How many namespace levels below `ns` it verifies (0-7).
    #[track_caller]
    pub fn max_depth(mut self, depth: u8) -> Self {
        set_max_depth(&mut self.spec, depth);
        self
    }

    /// Skips snapshots verified within `outdated-after` days (PBS's
    /// default: true).
    #[track_caller]
    pub fn ignore_verified(mut self, ignore: bool) -> Self {
        self.spec.set("ignore-verified", ignore);
        self
    }

    /// Days after which a verification is stale and is done again.
    #[track_caller]
    pub fn outdated_after(mut self, days: u32) -> Self {
        self.spec.set("outdated-after", i64::from(days));
        self
    }

    /// A comment.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        set_comment(&mut self.spec, comment);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for VerifyJob {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a job.
pub trait JobOutputs {
    /// The job id.
    #[track_caller]
    fn job_id(&self) -> Output<String>;
}

impl JobOutputs for Handle<SyncJob> {
    #[track_caller]
    fn job_id(&self) -> Output<String> {
        self.output("id")
    }
}

impl JobOutputs for Handle<PruneJob> {
    #[track_caller]
    fn job_id(&self) -> Output<String> {
        self.output("id")
    }
}

impl JobOutputs for Handle<VerifyJob> {
    #[track_caller]
    fn job_id(&self) -> Output<String> {
        self.output("id")
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::server_of;
    use super::*;

    #[test]
    fn group_filters() {
        for ok in [
            "type:vm",
            "exclude:type:ct",
            "include:group:vm/100",
            "regex:^vm/1..$",
        ] {
            assert!(group_filter_problem(ok).is_none(), "{ok}");
        }
        for bad in ["type:lxc", "group:100", "regex:", "vm/100", "exclude:"] {
            assert!(group_filter_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn server_of_a_store_handle_is_its_prefix() {
        let mut lab = lab_core::Lab::new("t");
        let s = lab.add(super::super::PbsServer::new("primary", "10.0.0.20"));
        let d = lab.add(Datastore::new(&s, "backup", "/mnt/b"));
        assert_eq!(server_of(&d), "primary");
        assert_eq!(store_of(&d), "backup");
    }
}
