//! `pbs.sync_job`: `/config/sync` (a pull, PBS's default direction).
//! The comment carries the lab's marker; an update sends PBS's `delete`
//! array for what the code no longer sets; the plan shows the next runs.
//!
//! Id: the job id.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{
    FieldChange, KindSchema, OpContext, Ownership, RecoverRequest, StepReview,
};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::jobs::Section;
use super::normalize::{flag, int, list, text};
use super::owner::user_comment;
use super::{PbsProvider, Snapshot};
use crate::kinds::{JobOutputs, SyncJobSpec};

fn observe(m: &Map<String, Json>, base: &SyncJobSpec) -> Found<SyncJobSpec> {
    let id = text(m, "id").unwrap_or_else(|| base.id.clone());
    let spec = SyncJobSpec {
        store: text(m, "store").unwrap_or_default(),
        remote: text(m, "remote"),
        remote_store: text(m, "remote-store").unwrap_or_default(),
        ns: text(m, "ns"),
        remote_ns: text(m, "remote-ns"),
        max_depth: int(m, "max-depth"),
        schedule: text(m, "schedule"),
        remove_vanished: flag(m, "remove-vanished"),
        transfer_last: int(m, "transfer-last"),
        group_filter: list(m, "group-filter"),
        comment: user_comment(text(m, "comment")),
        id: id.clone(),
        ..base.clone()
    };
    Found {
        id: id.clone(),
        spec,
        outputs: JobOutputs { id },
    }
}

const SECTION: Section<SyncJobSpec> = Section {
    base: "/config/sync",
    what: "sync job",
    key: "id",
    optional: &[
        "remote",
        "schedule",
        "remove-vanished",
        "group-filter",
        "ns",
        "remote-ns",
        "max-depth",
        "transfer-last",
    ],
    observe,
};

#[async_trait]
impl KindProvider<SyncJobSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["id"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(
            &KindProvider::<SyncJobSpec>::schema(self),
            desired,
            observed,
        )
    }

    /// The next three runs of the schedule.
    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        Ok(super::schedule_notes(review, &["schedule"]))
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<SyncJobSpec>],
    ) -> Result<Vec<Option<Found<SyncJobSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| snapshot.sync_jobs.get(&r.id).map(|m| observe(m, &r.prior)))
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<SyncJobSpec>,
    ) -> Result<Found<SyncJobSpec>, ProviderError> {
        let s = &req.spec;
        self.section_create(
            &SECTION,
            &s.id,
            &s.create_request(),
            s.comment.as_deref(),
            &req.owner,
            s,
        )
        .await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<SyncJobSpec>,
    ) -> Result<Found<SyncJobSpec>, ProviderError> {
        let s = &req.spec;
        self.section_update(
            &SECTION,
            &req.id,
            &s.create_request(),
            &[],
            s.comment.as_deref(),
            &req.owner,
            s,
        )
        .await
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        req: Delete<SyncJobSpec>,
    ) -> Result<(), ProviderError> {
        self.section_delete(&SECTION, &req.id).await
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&SyncJobSpec>,
    ) -> Result<Vec<Found<SyncJobSpec>>, ProviderError> {
        let Some(base) = desired else {
            return Ok(vec![]);
        };
        Ok(self
            .section_marked(&SECTION, &base.id, owner, base)
            .await?
            .into_iter()
            .collect())
    }

    async fn recover(
        &self,
        _ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&SyncJobSpec>,
    ) -> Result<Recovery<SyncJobSpec>, ProviderError> {
        self.section_recover(&SECTION, desired.map(|d| d.id.as_str()), req, desired)
            .await
    }
}
