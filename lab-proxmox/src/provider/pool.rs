//! `proxmox.pool`: `POST /pools`, the comment updated in place.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext, Ownership};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::{diff, err, gone_ok, normalize, ProxmoxProvider, Snapshot};
use crate::api::{ErrorKind, Form};
use crate::kinds::{PoolOutputs, PoolSpec};

fn found(id: &str, spec: PoolSpec) -> Found<PoolSpec> {
    Found {
        id: id.to_string(),
        spec,
        outputs: PoolOutputs {
            poolid: id.to_string(),
        },
    }
}

/// A pool as `/pools` lists it.
pub(super) fn observe(m: &Map<String, Json>, id: &str) -> Found<PoolSpec> {
    let spec = PoolSpec {
        poolid: id.to_string(),
        comment: normalize::text(m, "comment").filter(|c| !c.is_empty()),
    };
    found(id, spec)
}

#[async_trait]
impl KindProvider<PoolSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["poolid"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        diff::diff(&KindProvider::<PoolSpec>::schema(self), desired, observed)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<PoolSpec>],
    ) -> Result<Vec<Option<Found<PoolSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| snapshot.pools.get(&r.id).map(|m| observe(m, &r.id)))
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<PoolSpec>,
    ) -> Result<Found<PoolSpec>, ProviderError> {
        let mut form = Form::new();
        form.push_str("poolid", &req.spec.poolid);
        if let Some(c) = &req.spec.comment {
            form.push_str("comment", c);
        }
        match self.client.post("/pools", &form).await {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(err(e)),
        }
        let id = req.spec.poolid.clone();
        Ok(found(&id, req.spec))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<PoolSpec>,
    ) -> Result<Found<PoolSpec>, ProviderError> {
        let mut form = Form::new();
        form.push_str("comment", req.spec.comment.as_deref().unwrap_or_default());
        let q = format!(
            "/pools?poolid={}",
            percent_encoding::utf8_percent_encode(&req.id, percent_encoding::NON_ALPHANUMERIC)
        );
        self.client.put(&q, &form).await.map_err(err)?;
        Ok(found(&req.id, req.spec))
    }

    async fn delete(&self, _ctx: &OpContext, req: Delete<PoolSpec>) -> Result<(), ProviderError> {
        gone_ok(
            self.client
                .delete("/pools", &[("poolid", req.id.clone())])
                .await,
        )
        .map(|_| ())
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&PoolSpec>,
    ) -> Result<Vec<Found<PoolSpec>>, ProviderError> {
        let id = desired.map_or(owner.address.name(), |d| d.poolid.as_str());
        let list: Vec<Map<String, Json>> = self.client.get("/pools", &[]).await.map_err(err)?;
        Ok(list
            .iter()
            .filter(|m| normalize::text(m, "poolid").as_deref() == Some(id))
            .map(|m| observe(m, id))
            .collect())
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        req: &lab_core::provider::RecoverRequest,
        desired: Option<&PoolSpec>,
    ) -> Result<lab_core::kind::Recovery<PoolSpec>, ProviderError> {
        if req.action != lab_core::provider::OpKind::Create
            || req.cause == lab_core::provider::RecoverCause::StateBehind
        {
            return Ok(lab_core::kind::Recovery::default());
        }
        let found = KindProvider::<PoolSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(super::recover::marker_less(req, found))
    }
}
