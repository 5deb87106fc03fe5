//! `pbs.verify_job`: `/config/verify`. The comment carries the lab's
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
use super::normalize::{flag, int, text};
use super::owner::user_comment;
use super::{PbsProvider, Snapshot};
use crate::kinds::{JobOutputs, VerifyJobSpec};

fn observe(m: &Map<String, Json>, base: &VerifyJobSpec) -> Found<VerifyJobSpec> {
    let id = text(m, "id").unwrap_or_else(|| base.id.clone());
    let spec = VerifyJobSpec {
        store: text(m, "store").unwrap_or_default(),
        schedule: text(m, "schedule"),
        ns: text(m, "ns"),
        max_depth: int(m, "max-depth"),
        ignore_verified: flag(m, "ignore-verified"),
        outdated_after: int(m, "outdated-after"),
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

const SECTION: Section<VerifyJobSpec> = Section {
    base: "/config/verify",
    what: "verify job",
    key: "id",
    optional: &[
        "schedule",
        "ns",
        "max-depth",
        "ignore-verified",
        "outdated-after",
    ],
    observe,
};

#[async_trait]
impl KindProvider<VerifyJobSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["id"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(
            &KindProvider::<VerifyJobSpec>::schema(self),
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
        requests: &[Read<VerifyJobSpec>],
    ) -> Result<Vec<Option<Found<VerifyJobSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                snapshot
                    .verify_jobs
                    .get(&r.id)
                    .map(|m| observe(m, &r.prior))
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<VerifyJobSpec>,
    ) -> Result<Found<VerifyJobSpec>, ProviderError> {
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
        req: Update<VerifyJobSpec>,
    ) -> Result<Found<VerifyJobSpec>, ProviderError> {
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
        req: Delete<VerifyJobSpec>,
    ) -> Result<(), ProviderError> {
        self.section_delete(&SECTION, &req.id).await
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&VerifyJobSpec>,
    ) -> Result<Vec<Found<VerifyJobSpec>>, ProviderError> {
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
        desired: Option<&VerifyJobSpec>,
    ) -> Result<Recovery<VerifyJobSpec>, ProviderError> {
        self.section_recover(&SECTION, desired.map(|d| d.id.as_str()), req, desired)
            .await
    }
}
