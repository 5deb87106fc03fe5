//! `cloudflare.zone`: an existing zone, looked up by name in the account
//! (`GET /zones?name=&account.id=`); lab-net neither creates nor deletes
//! zones. A zone the account lacks is found at plan time
//! ([`super::plan_checks`], `net::cloudflare-zone-missing`), so the apply
//! error here is the last line of defence.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read};
use lab_core::provider::{KindSchema, OpContext, ProviderError};
use serde_json::Value as Json;

use super::{estimates, text, Bound, CloudflareProvider, CloudflareSnapshot};
use crate::kinds::cloudflare::{ZoneOut, ZoneSpec};

/// The zone `name` of the bound account, as the API lists it.
pub(crate) async fn lookup(
    bound: &Bound,
    ctx: &OpContext,
    name: &str,
) -> Result<Option<Json>, ProviderError> {
    let name = name.to_lowercase();
    let zones = bound
        .client
        .get_all(
            ctx,
            "/zones",
            &[("name", &name), ("account.id", &bound.account_id)],
        )
        .await?;
    Ok(zones.into_iter().find(|z| text(z, "name") == name))
}

/// The help for a zone the account lacks.
pub(crate) fn missing_help(name: &str) -> String {
    format!(
        "add `{name}` to the account in the dashboard (Websites > Add a site) and let it \
         become active, or fix the name; lab-net does not create zones"
    )
}

#[async_trait]
impl KindProvider<ZoneSpec> for CloudflareProvider {
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["account", "name"],
            ignore: Vec::new(),
            estimate: estimates(300),
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &CloudflareSnapshot,
        requests: &[Read<ZoneSpec>],
    ) -> Result<Vec<Option<Found<ZoneSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let zone = super::snapshot::find(snapshot.zones.as_deref(), &r.id)?;
                Some(Found {
                    id: r.id.clone(),
                    spec: ZoneSpec {
                        account: r.prior.account.clone(),
                        name: text(zone, "name"),
                    },
                    outputs: ZoneOut { id: r.id.clone() },
                })
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<ZoneSpec>,
    ) -> Result<Found<ZoneSpec>, ProviderError> {
        let bound = self.bound()?;
        let Some(zone) = lookup(&bound, ctx, &req.spec.name).await? else {
            return Err(ProviderError::permanent(format!(
                "{}: account {} has no zone `{}`: {}",
                req.address,
                bound.account_id,
                req.spec.name,
                missing_help(&req.spec.name)
            )));
        };
        let id = text(&zone, "id");
        Ok(Found {
            id: id.clone(),
            spec: ZoneSpec {
                account: req.spec.account,
                name: text(&zone, "name"),
            },
            outputs: ZoneOut { id },
        })
    }

    async fn delete(&self, _ctx: &OpContext, _req: Delete<ZoneSpec>) -> Result<(), ProviderError> {
        // The zone stays on the account: lab-net only looked it up.
        Ok(())
    }
}
