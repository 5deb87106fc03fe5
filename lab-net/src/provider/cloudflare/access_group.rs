//! `cloudflare.access_group`: a named set of identities
//! (`/accounts/{a}/access/groups`) that policies include by id.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{KindSchema, OpContext, Ownership, ProviderError};
use serde_json::{json, Value as Json};

use super::access::{self, rules};
use super::{estimates, text, CloudflareProvider, CloudflareSnapshot};
use crate::kinds::cloudflare::{AccessGroupOut, AccessGroupSpec};

fn found(record: &Json, account: &str) -> Found<AccessGroupSpec> {
    Found {
        id: text(record, "id"),
        spec: AccessGroupSpec {
            account: account.to_string(),
            name: text(record, "name"),
            include: rules(record, "include"),
            exclude: rules(record, "exclude"),
            require: rules(record, "require"),
        },
        outputs: AccessGroupOut {
            id: text(record, "id"),
        },
    }
}

fn body(spec: &AccessGroupSpec) -> Json {
    json!({
        "name": spec.name,
        "include": spec.include,
        "exclude": spec.exclude,
        "require": spec.require,
    })
}

#[async_trait]
impl KindProvider<AccessGroupSpec> for CloudflareProvider {
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
        requests: &[Read<AccessGroupSpec>],
    ) -> Result<Vec<Option<Found<AccessGroupSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let record = super::snapshot::find(snapshot.groups.as_deref(), &r.id)?;
                Some(found(record, &r.prior.account))
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<AccessGroupSpec>,
    ) -> Result<Found<AccessGroupSpec>, ProviderError> {
        let bound = self.bound()?;
        let back = access::save(&bound, ctx, "groups", None, &body(&req.spec)).await?;
        Ok(found(&back, &req.spec.account))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<AccessGroupSpec>,
    ) -> Result<Found<AccessGroupSpec>, ProviderError> {
        let bound = self.bound()?;
        let back = access::save(&bound, ctx, "groups", Some(&req.id), &body(&req.spec)).await?;
        Ok(found(&back, &req.spec.account))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        req: Delete<AccessGroupSpec>,
    ) -> Result<(), ProviderError> {
        access::remove(&*self.bound()?, ctx, "groups", &req.id).await
    }

    async fn adopt(
        &self,
        ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&AccessGroupSpec>,
    ) -> Result<Vec<Found<AccessGroupSpec>>, ProviderError> {
        let Some(desired) = desired else {
            return Ok(Vec::new());
        };
        let bound = self.bound()?;
        Ok(access::named(&bound, ctx, "groups", &desired.name)
            .await?
            .iter()
            .map(|g| found(g, &desired.account))
            .collect())
    }
}
