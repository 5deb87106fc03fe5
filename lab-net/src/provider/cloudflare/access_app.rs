//! `cloudflare.access_app`: a self-hosted Access application; its `aud`
//! is what tunnel rules verify (`originRequest.access.audTag`). Create is
//! `POST …/access/apps`, update `PUT …/apps/{id}` (the whole app, its
//! policy links included), both read back; the `aud` stays across updates.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{KindSchema, OpContext, Ownership, ProviderError};
use serde_json::{json, Value as Json};

use super::{access, estimates, text, CloudflareProvider, CloudflareSnapshot};
use crate::kinds::cloudflare::{AccessAppOut, AccessAppSpec, AppPolicyLink};

fn spec_of(record: &Json, account: &str) -> AccessAppSpec {
    let mut policies: Vec<AppPolicyLink> = record
        .get("policies")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|p| AppPolicyLink {
            id: text(p, "id"),
            precedence: p
                .get("precedence")
                .and_then(Json::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
        })
        .collect();
    policies.sort_by_key(|p| p.precedence);
    AccessAppSpec {
        account: account.to_string(),
        name: text(record, "name"),
        domain: text(record, "domain"),
        app_type: text(record, "type"),
        session_duration: text(record, "session_duration"),
        policies,
    }
}

fn found(record: &Json, account: &str) -> Found<AccessAppSpec> {
    Found {
        id: text(record, "id"),
        spec: spec_of(record, account),
        outputs: AccessAppOut {
            id: text(record, "id"),
            aud: text(record, "aud"),
        },
    }
}

fn body(spec: &AccessAppSpec) -> Json {
    json!({
        "type": spec.app_type,
        "name": spec.name,
        "domain": spec.domain,
        "session_duration": spec.session_duration,
        "policies": spec.policies.iter()
            .map(|p| json!({"id": p.id, "precedence": p.precedence}))
            .collect::<Vec<_>>(),
    })
}

#[async_trait]
impl KindProvider<AccessAppSpec> for CloudflareProvider {
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["account", "type"],
            ignore: Vec::new(),
            estimate: estimates(500),
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &CloudflareSnapshot,
        requests: &[Read<AccessAppSpec>],
    ) -> Result<Vec<Option<Found<AccessAppSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let record = super::snapshot::find(snapshot.apps.as_deref(), &r.id)?;
                Some(found(record, &r.prior.account))
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<AccessAppSpec>,
    ) -> Result<Found<AccessAppSpec>, ProviderError> {
        let bound = self.bound()?;
        let back = access::save(&bound, ctx, "apps", None, &body(&req.spec)).await?;
        Ok(found(&back, &req.spec.account))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<AccessAppSpec>,
    ) -> Result<Found<AccessAppSpec>, ProviderError> {
        let bound = self.bound()?;
        let back = access::save(&bound, ctx, "apps", Some(&req.id), &body(&req.spec)).await?;
        Ok(found(&back, &req.spec.account))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        req: Delete<AccessAppSpec>,
    ) -> Result<(), ProviderError> {
        access::remove(&*self.bound()?, ctx, "apps", &req.id).await
    }

    async fn adopt(
        &self,
        ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&AccessAppSpec>,
    ) -> Result<Vec<Found<AccessAppSpec>>, ProviderError> {
        let Some(desired) = desired else {
            return Ok(Vec::new());
        };
        let bound = self.bound()?;
        Ok(access::named(&bound, ctx, "apps", &desired.name)
            .await?
            .iter()
            .filter(|a| text(a, "domain") == desired.domain)
            .map(|a| found(a, &desired.account))
            .collect())
    }
}
