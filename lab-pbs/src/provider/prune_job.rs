//! `pbs.prune_job`: `/config/prune`. The comment carries the lab's
//! marker; an update sends PBS's `delete` array for what the code no
//! longer sets; the plan shows the next runs.
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
use super::normalize::{int, text};
use super::owner::user_comment;
use super::{PbsProvider, Snapshot};
use crate::kinds::{JobOutputs, PruneJobSpec};

fn observe(m: &Map<String, Json>, base: &PruneJobSpec) -> Found<PruneJobSpec> {
    let id = text(m, "id").unwrap_or_else(|| base.id.clone());
    let spec = PruneJobSpec {
        store: text(m, "store").unwrap_or_default(),
        schedule: text(m, "schedule").unwrap_or_default(),
        ns: text(m, "ns"),
        max_depth: int(m, "max-depth"),
        keep_last: int(m, "keep-last"),
        keep_hourly: int(m, "keep-hourly"),
        keep_daily: int(m, "keep-daily"),
        keep_weekly: int(m, "keep-weekly"),
        keep_monthly: int(m, "keep-monthly"),
        keep_yearly: int(m, "keep-yearly"),
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

const SECTION: Section<PruneJobSpec> = Section {
    base: "/config/prune",
    what: "prune job",
    key: "id",
    optional: &[
        "ns",
        "max-depth",
        "keep-last",
        "keep-hourly",
        "keep-daily",
        "keep-weekly",
        "keep-monthly",
        "keep-yearly",
    ],
    observe,
};

#[async_trait]
impl KindProvider<PruneJobSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["id"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(
            &KindProvider::<PruneJobSpec>::schema(self),
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
        requests: &[Read<PruneJobSpec>],
    ) -> Result<Vec<Option<Found<PruneJobSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| snapshot.prune_jobs.get(&r.id).map(|m| observe(m, &r.prior)))
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<PruneJobSpec>,
    ) -> Result<Found<PruneJobSpec>, ProviderError> {
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
        req: Update<PruneJobSpec>,
    ) -> Result<Found<PruneJobSpec>, ProviderError> {
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
        req: Delete<PruneJobSpec>,
    ) -> Result<(), ProviderError> {
        self.section_delete(&SECTION, &req.id).await
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&PruneJobSpec>,
    ) -> Result<Vec<Found<PruneJobSpec>>, ProviderError> {
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
        desired: Option<&PruneJobSpec>,
    ) -> Result<Recovery<PruneJobSpec>, ProviderError> {
        self.section_recover(&SECTION, desired.map(|d| d.id.as_str()), req, desired)
            .await
    }
}
