//! `cloudflare.access_policy`: a reusable Access policy
//! (`/accounts/{a}/access/policies`), linked to apps by their `policies`.
//! A policy an app still links cannot be deleted: the references order the
//! app's delete (or update) first.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{KindSchema, OpContext, Ownership, ProviderError};
use serde_json::{json, Value as Json};

use super::access::{self, rules};
use super::{estimates, text, CloudflareProvider, CloudflareSnapshot};
use crate::kinds::cloudflare::{AccessPolicyOut, AccessPolicySpec, Decision};

/// The session length Cloudflare reports for a policy that sets none.
const DEFAULT_SESSION: &str = "24h";

fn spec_of(record: &Json, account: &str, wanted_session: Option<&str>) -> AccessPolicySpec {
    let session = record
        .get("session_duration")
        .and_then(Json::as_str)
        .filter(|s| !(wanted_session.is_none() && *s == DEFAULT_SESSION))
        .map(str::to_string);
    let decision =
        serde_json::from_value::<Decision>(record["decision"].clone()).unwrap_or(Decision::Deny);
    AccessPolicySpec {
        account: account.to_string(),
        name: text(record, "name"),
        decision,
        include: rules(record, "include"),
        exclude: rules(record, "exclude"),
        require: rules(record, "require"),
        session_duration: session,
    }
}

fn found(record: &Json, account: &str, wanted_session: Option<&str>) -> Found<AccessPolicySpec> {
    Found {
        id: text(record, "id"),
        spec: spec_of(record, account, wanted_session),
        outputs: AccessPolicyOut {
            id: text(record, "id"),
        },
    }
}

fn body(spec: &AccessPolicySpec) -> Json {
    let mut body = json!({
        "name": spec.name,
        "decision": spec.decision,
        "include": spec.include,
        "exclude": spec.exclude,
        "require": spec.require,
    });
    if let Some(s) = &spec.session_duration {
        body["session_duration"] = s.clone().into();
    }
    body
}

#[async_trait]
impl KindProvider<AccessPolicySpec> for CloudflareProvider {
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["account"],
            ignore: Vec::new(),
            estimate: estimates(400),
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &CloudflareSnapshot,
        requests: &[Read<AccessPolicySpec>],
    ) -> Result<Vec<Option<Found<AccessPolicySpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let record = super::snapshot::find(snapshot.policies.as_deref(), &r.id)?;
                Some(found(
                    record,
                    &r.prior.account,
                    r.prior.session_duration.as_deref(),
                ))
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<AccessPolicySpec>,
    ) -> Result<Found<AccessPolicySpec>, ProviderError> {
        let bound = self.bound()?;
        let back = access::save(&bound, ctx, "policies", None, &body(&req.spec)).await?;
        Ok(found(
            &back,
            &req.spec.account,
            req.spec.session_duration.as_deref(),
        ))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<AccessPolicySpec>,
    ) -> Result<Found<AccessPolicySpec>, ProviderError> {
        let bound = self.bound()?;
        let back = access::save(&bound, ctx, "policies", Some(&req.id), &body(&req.spec)).await?;
        Ok(found(
            &back,
            &req.spec.account,
            req.spec.session_duration.as_deref(),
        ))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        req: Delete<AccessPolicySpec>,
    ) -> Result<(), ProviderError> {
        access::remove(&*self.bound()?, ctx, "policies", &req.id).await
    }

    async fn adopt(
        &self,
        ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&AccessPolicySpec>,
    ) -> Result<Vec<Found<AccessPolicySpec>>, ProviderError> {
        let Some(desired) = desired else {
            return Ok(Vec::new());
        };
        let bound = self.bound()?;
        Ok(access::named(&bound, ctx, "policies", &desired.name)
            .await?
            .iter()
            .map(|p| found(p, &desired.account, desired.session_duration.as_deref()))
            .collect())
    }
}
