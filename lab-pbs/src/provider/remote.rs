//! `pbs.remote`: `/config/remote`, on the server that pulls. The
//! `password` (the target's token secret, a [`lab_core::Secret`] input)
//! is sent on create and on every update, and never read back (PBS does
//! not show it): the recorded one stands for it, so a token replaced on
//! the target changes the remote's password in the same plan.
//!
//! Id: the remote's name.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext, Ownership, RecoverRequest};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::jobs::Section;
use super::normalize::{int, text};
use super::owner::user_comment;
use super::{PbsProvider, Snapshot};
use crate::kinds::{RemoteOutputs, RemoteSpec};

fn observe(m: &Map<String, Json>, base: &RemoteSpec) -> Found<RemoteSpec> {
    let name = text(m, "name").unwrap_or_else(|| base.name.clone());
    let spec = RemoteSpec {
        name: name.clone(),
        host: text(m, "host").unwrap_or_default(),
        port: int(m, "port"),
        fingerprint: text(m, "fingerprint"),
        auth_id: text(m, "auth-id").unwrap_or_default(),
        comment: user_comment(text(m, "comment")),
        ..base.clone()
    };
    Found {
        id: name.clone(),
        spec,
        outputs: RemoteOutputs { name },
    }
}

const SECTION: Section<RemoteSpec> = Section {
    base: "/config/remote",
    what: "remote",
    key: "name",
    optional: &["port", "fingerprint"],
    observe,
};

#[async_trait]
impl KindProvider<RemoteSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["name"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(&KindProvider::<RemoteSpec>::schema(self), desired, observed)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<RemoteSpec>],
    ) -> Result<Vec<Option<Found<RemoteSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| snapshot.remotes.get(&r.id).map(|m| observe(m, &r.prior)))
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<RemoteSpec>,
    ) -> Result<Found<RemoteSpec>, ProviderError> {
        let s = &req.spec;
        self.section_create(
            &SECTION,
            &s.name,
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
        req: Update<RemoteSpec>,
    ) -> Result<Found<RemoteSpec>, ProviderError> {
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

    async fn delete(&self, _ctx: &OpContext, req: Delete<RemoteSpec>) -> Result<(), ProviderError> {
        self.section_delete(&SECTION, &req.id).await
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&RemoteSpec>,
    ) -> Result<Vec<Found<RemoteSpec>>, ProviderError> {
        let Some(base) = desired else {
            return Ok(vec![]);
        };
        Ok(self
            .section_marked(&SECTION, &base.name, owner, base)
            .await?
            .into_iter()
            .collect())
    }

    async fn recover(
        &self,
        _ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&RemoteSpec>,
    ) -> Result<Recovery<RemoteSpec>, ProviderError> {
        self.section_recover(&SECTION, desired.map(|d| d.name.as_str()), req, desired)
            .await
    }
}
