//! `proxmox.backup_job`: `/cluster/backup`. The id is always sent (without
//! one PVE makes up a UUID and answers `null`, so the job could not be
//! found again); `POST` answers `null`, so the job is read back by id.
//! Updates are `PUT /cluster/backup/{id}` with a `delete=` list for what
//! the code no longer says; a new id replaces the job.
//!
//! Ownership: jobs carry no tags or notes, so the lab's marker
//! (`lab:<lab>/<address>`) ends the job's `comment` (one line, as
//! `jobs.cfg` keeps it); the read strips it, an update keeps it, and
//! adoption after a crash takes a job with this id only when it carries
//! the marker.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{
    FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverRequest, StepReview,
};
use lab_core::{Attrs, ProviderError, Value};
use serde_json::{Map, Value as Json};

use super::{diff, err, gone_ok, normalize, ProxmoxProvider, Snapshot};
use crate::api::{path, ErrorKind, Form};
use crate::kinds::{BackupJobOutputs, BackupJobSpec, Retention};
use crate::schedule::CalendarEvent;

/// A VMID list (`101,102`) as numbers, in PVE's order.
fn vmid_list(raw: Option<String>) -> Option<Vec<i64>> {
    let list: Vec<i64> = raw
        .unwrap_or_default()
        .split([',', ' ', ';'])
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    (!list.is_empty()).then_some(list)
}

fn flag(m: &Map<String, Json>, key: &str) -> Option<bool> {
    normalize::text(m, key).map(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"))
}

/// The user's part of a comment ending in `marker` (or in any lab marker).
pub(super) fn user_comment(comment: Option<String>) -> Option<String> {
    let c = comment?;
    let user = match c.rfind("lab:") {
        Some(i) if !c[i..].contains(' ') => c[..i].trim_end().to_string(),
        _ => c,
    };
    (!user.is_empty()).then_some(user)
}

/// The comment to write: the user's, then the marker.
pub(super) fn comment_with(user: Option<&str>, marker: &str) -> String {
    match user {
        Some(u) if !u.is_empty() => format!("{u} {marker}"),
        _ => marker.to_string(),
    }
}

/// The marker a job's raw comment ends with, if any.
pub(super) fn marker_of(comment: Option<&str>) -> Option<&str> {
    let c = comment?;
    let last = c.rsplit(' ').next()?;
    last.starts_with("lab:").then_some(last)
}

/// A job as `/cluster/backup` lists it.
pub(super) fn observe(m: &Map<String, Json>, id: &str) -> Found<BackupJobSpec> {
    let text = |k: &str| normalize::text(m, k).filter(|v| !v.is_empty());
    let spec = BackupJobSpec {
        id: id.to_string(),
        schedule: text("schedule").unwrap_or_default(),
        storage: text("storage").unwrap_or_default(),
        vmids: vmid_list(text("vmid")),
        all: flag(m, "all").filter(|a| *a),
        exclude: vmid_list(text("exclude")),
        pool: text("pool"),
        node: text("node"),
        mode: text("mode"),
        compress: text("compress"),
        enabled: flag(m, "enabled").unwrap_or(true),
        prune_backups: text("prune-backups").and_then(|t| Retention::parse(&t).ok()),
        notes_template: text("notes-template"),
        comment: user_comment(text("comment")),
    };
    Found {
        id: id.to_string(),
        spec,
        outputs: BackupJobOutputs { id: id.to_string() },
    }
}

fn join(list: &[i64]) -> String {
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The job's parameters (without `id` and `comment`); with `delete`, the
/// optional ones the spec leaves out are listed there (for `PUT`).
fn job_form(spec: &BackupJobSpec, mut delete: Option<&mut Vec<&'static str>>) -> Form {
    let mut form = Form::new();
    form.push_str("schedule", &spec.schedule);
    form.push_str("storage", &spec.storage);
    form.push_bool("enabled", spec.enabled);
    let texts: [(&'static str, Option<String>); 9] = [
        ("vmid", spec.vmids.as_deref().map(join)),
        ("all", spec.all.filter(|a| *a).map(|_| "1".to_string())),
        ("exclude", spec.exclude.as_deref().map(join)),
        ("pool", spec.pool.clone()),
        ("node", spec.node.clone()),
        ("mode", spec.mode.clone()),
        ("compress", spec.compress.clone()),
        (
            "prune-backups",
            spec.prune_backups
                .as_ref()
                .map(Retention::to_property_string),
        ),
        ("notes-template", spec.notes_template.clone()),
    ];
    for (key, value) in texts {
        match value {
            Some(v) => form.push_str(key, &v),
            None => {
                if let Some(d) = delete.as_deref_mut() {
                    d.push(key);
                }
            }
        }
    }
    form
}

/// Whether an error says the job is not there: `GET`/`DELETE` of a
/// missing job is a parameter error, `id: No such job '<id>'` (400).
fn job_missing(e: &crate::api::ApiError) -> bool {
    e.kind == ErrorKind::NotFound
        || e.errors
            .get("id")
            .is_some_and(|m| m.starts_with("No such job"))
}

impl ProxmoxProvider {
    async fn backup_job(&self, id: &str) -> Result<Option<Map<String, Json>>, ProviderError> {
        match self
            .client
            .get(&path(&["cluster", "backup", id]), &[])
            .await
        {
            Ok(m) => Ok(Some(m)),
            Err(e) if job_missing(&e) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn backup_job_read_back(&self, id: &str) -> Result<Found<BackupJobSpec>, ProviderError> {
        let m = self.backup_job(id).await?.ok_or_else(|| {
            ProviderError::permanent(format!(
                "backup job `{id}` was accepted but PVE does not list it"
            ))
        })?;
        Ok(observe(&m, id))
    }
}

/// The next `n` runs of `schedule` after now, as text (UTC).
pub(crate) fn next_runs_text(schedule: &str, n: usize) -> Option<String> {
    let event: CalendarEvent = schedule.parse().ok()?;
    let runs: Vec<String> = event
        .next_runs(time::OffsetDateTime::now_utc(), n)
        .iter()
        .map(|t| {
            format!(
                "{}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .collect();
    (!runs.is_empty()).then(|| runs.join(", "))
}

#[async_trait]
impl KindProvider<BackupJobSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["id"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        diff::diff(
            &KindProvider::<BackupJobSpec>::schema(self),
            desired,
            observed,
        )
    }

    /// The next three runs of the schedule (PVE runs jobs in the node's
    /// time zone; shown in UTC).
    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        let Some(Value::Str(schedule)) = review.desired.get("schedule") else {
            return Ok(vec![]);
        };
        let schedule_changed =
            review.prior.is_none() || review.changes.iter().any(|c| c.field == "schedule");
        if !schedule_changed {
            return Ok(vec![]);
        }
        Ok(next_runs_text(schedule, 3)
            .map(|runs| format!("schedule `{schedule}`: next runs {runs}"))
            .into_iter()
            .collect())
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<BackupJobSpec>],
    ) -> Result<Vec<Option<Found<BackupJobSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| snapshot.backup_jobs.get(&r.id).map(|m| observe(m, &r.id)))
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<BackupJobSpec>,
    ) -> Result<Found<BackupJobSpec>, ProviderError> {
        let spec = &req.spec;
        let mut form = job_form(spec, None);
        form.push_str("id", &spec.id);
        form.push_str(
            "comment",
            &comment_with(spec.comment.as_deref(), &req.owner.marker()),
        );
        self.client
            .post("/cluster/backup", &form)
            .await
            .map_err(err)?;
        self.backup_job_read_back(&spec.id).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<BackupJobSpec>,
    ) -> Result<Found<BackupJobSpec>, ProviderError> {
        let spec = &req.spec;
        let current = self.backup_job(&req.id).await?;
        let raw = current.as_ref().and_then(|m| normalize::text(m, "comment"));
        let marker = marker_of(raw.as_deref()).map(str::to_string);
        let mut delete = Vec::new();
        let mut form = job_form(spec, Some(&mut delete));
        match (spec.comment.as_deref(), marker.as_deref()) {
            (user, Some(m)) => form.push_str("comment", &comment_with(user, m)),
            (Some(user), None) => form.push_str("comment", user),
            (None, None) => delete.push("comment"),
        }
        if !delete.is_empty() {
            form.push_str("delete", &delete.join(","));
        }
        self.client
            .put(&path(&["cluster", "backup", &req.id]), &form)
            .await
            .map_err(err)?;
        self.backup_job_read_back(&req.id).await
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        req: Delete<BackupJobSpec>,
    ) -> Result<(), ProviderError> {
        match self
            .client
            .delete(&path(&["cluster", "backup", &req.id]), &[])
            .await
        {
            Err(e) if job_missing(&e) => Ok(()),
            other => gone_ok(other).map(|_| ()),
        }
    }

    /// The job with the desired id, if its comment carries `owner`'s marker.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&BackupJobSpec>,
    ) -> Result<Vec<Found<BackupJobSpec>>, ProviderError> {
        let id = desired.map_or(owner.address.name(), |d| d.id.as_str());
        let Some(m) = self.backup_job(id).await? else {
            return Ok(vec![]);
        };
        let raw = normalize::text(&m, "comment");
        if marker_of(raw.as_deref()) != Some(owner.marker().as_str()) {
            return Ok(vec![]);
        }
        Ok(vec![observe(&m, id)])
    }

    /// After a crash during a create: the job is adopted when it exists
    /// with this lab's marker; a job of that id without it is not this
    /// lab's, and the create will fail with PVE's `Job '<id>' already
    /// exists`.
    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&BackupJobSpec>,
    ) -> Result<Recovery<BackupJobSpec>, ProviderError> {
        if req.action != OpKind::Create {
            return Ok(Recovery::default());
        }
        // A job is adopted only with the marker, so a state that is
        // merely behind (RecoverCause::StateBehind) adopts it the same way.
        let found = KindProvider::<BackupJobSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(super::recover::marker_less(req, found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_rides_at_the_end_of_the_comment() {
        let m = "lab:home/proxmox.backup_job.nightly";
        assert_eq!(
            comment_with(Some("nightly to pbs"), m),
            format!("nightly to pbs {m}")
        );
        assert_eq!(
            user_comment(Some(format!("nightly to pbs {m}"))).as_deref(),
            Some("nightly to pbs")
        );
        assert_eq!(user_comment(Some(m.to_string())), None);
        assert_eq!(marker_of(Some(&comment_with(None, m))), Some(m));
        assert_eq!(marker_of(Some("made by hand")), None);
    }

    #[test]
    fn next_runs_are_listed() {
        let text = next_runs_text("*-*-* 02:30", 3).unwrap();
        assert_eq!(text.matches("02:30 UTC").count(), 3, "{text}");
        assert!(next_runs_text("not a schedule", 3).is_none());
    }
}
