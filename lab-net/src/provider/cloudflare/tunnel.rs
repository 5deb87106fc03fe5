//! `cloudflare.tunnel`: a remotely managed tunnel (`config_src:
//! cloudflare`). Names are unique per account, so a create first looks
//! for a live tunnel of the name and adopts it (a tunnel made by hand, or
//! by a run that crashed before recording it) rather than failing with
//! 409/1013; a 1013 on the create itself (a race) adopts too. Outputs: the
//! id, `<id>.cfargotunnel.com`, and the connector's run token
//! (`GET …/token`, a secret). A rename is a `PATCH`; a delete cleans the
//! stale connections, then deletes the tunnel (cloudflare-api.md §6).

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{KindSchema, OpContext, Ownership, ProviderError};
use lab_core::Secret;
use serde_json::{json, Value as Json};

use super::{estimates, text, Bound, CloudflareProvider, CloudflareSnapshot};
use crate::kinds::cloudflare::{TunnelOut, TunnelSpec, CFARGOTUNNEL_SUFFIX};

/// The code of a duplicate tunnel name.
const DUPLICATE_NAME: u64 = 1013;

/// The spec a `cfd_tunnel` object says, for the recorded `account`.
fn spec_of(record: &Json, account: &str) -> TunnelSpec {
    let remote = record.get("remote_config").and_then(Json::as_bool) == Some(true);
    TunnelSpec {
        account: account.to_string(),
        name: text(record, "name"),
        config_src: if remote { "cloudflare" } else { "local" }.to_string(),
    }
}

/// The live tunnel named `name`, if any.
pub(crate) async fn by_name(
    bound: &Bound,
    ctx: &OpContext,
    name: &str,
) -> Result<Option<Json>, ProviderError> {
    let live = bound
        .client
        .get_all(
            ctx,
            &bound.account_path("/cfd_tunnel"),
            &[("name", name), ("is_deleted", "false")],
        )
        .await?;
    Ok(live.into_iter().find(|t| text(t, "name") == name))
}

async fn token(bound: &Bound, ctx: &OpContext, id: &str) -> Result<Secret, ProviderError> {
    let token = bound
        .client
        .get(
            ctx,
            &bound.account_path(&format!("/cfd_tunnel/{id}/token")),
            &[],
        )
        .await?;
    match token {
        Json::String(t) if !t.is_empty() => Ok(Secret::new(t)),
        _ => Err(ProviderError::permanent(format!(
            "GET …/cfd_tunnel/{id}/token answered no token string"
        ))),
    }
}

/// The tunnel `record` with its token, read back.
async fn found(
    bound: &Bound,
    ctx: &OpContext,
    record: &Json,
    account: &str,
) -> Result<Found<TunnelSpec>, ProviderError> {
    let id = text(record, "id");
    let back = bound
        .client
        .get(ctx, &bound.account_path(&format!("/cfd_tunnel/{id}")), &[])
        .await?;
    let token = token(bound, ctx, &id).await?;
    Ok(Found {
        id: id.clone(),
        spec: spec_of(&back, account),
        outputs: TunnelOut {
            cname: format!("{id}{CFARGOTUNNEL_SUFFIX}"),
            id,
            token,
        },
    })
}

#[async_trait]
impl KindProvider<TunnelSpec> for CloudflareProvider {
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["account", "config_src"],
            ignore: Vec::new(),
            estimate: estimates(800),
        }
    }

    async fn read(
        &self,
        ctx: &OpContext,
        snapshot: &CloudflareSnapshot,
        requests: &[Read<TunnelSpec>],
    ) -> Result<Vec<Option<Found<TunnelSpec>>>, ProviderError> {
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            let Some(record) = snapshot.tunnel(&r.id) else {
                out.push(None);
                continue;
            };
            // The token changes only with the tunnel secret, which lab-net
            // never rotates: the recorded one stands unless there is none.
            let token = if r.prior_outputs.token.expose().is_empty() {
                token(&*self.bound()?, ctx, &r.id).await?
            } else {
                r.prior_outputs.token.clone()
            };
            out.push(Some(Found {
                id: r.id.clone(),
                spec: spec_of(record, &r.prior.account),
                outputs: TunnelOut {
                    id: r.id.clone(),
                    cname: format!("{}{CFARGOTUNNEL_SUFFIX}", r.id),
                    token,
                },
            }));
        }
        Ok(out)
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<TunnelSpec>,
    ) -> Result<Found<TunnelSpec>, ProviderError> {
        let bound = self.bound()?;
        if let Some(existing) = by_name(&bound, ctx, &req.spec.name).await? {
            return found(&bound, ctx, &existing, &req.spec.account).await;
        }
        let body = json!({"name": req.spec.name, "config_src": req.spec.config_src});
        let made = match bound
            .client
            .post(ctx, &bound.account_path("/cfd_tunnel"), &body)
            .await
        {
            Ok(made) => made,
            Err(e) if e.code() == Some(DUPLICATE_NAME) => {
                by_name(&bound, ctx, &req.spec.name).await?.ok_or_else(|| {
                    ProviderError::transient(format!(
                        "{}: Cloudflare says tunnel `{}` exists, but does not list it yet",
                        req.address, req.spec.name
                    ))
                })?
            }
            Err(e) => return Err(e.into()),
        };
        found(&bound, ctx, &made, &req.spec.account).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<TunnelSpec>,
    ) -> Result<Found<TunnelSpec>, ProviderError> {
        let bound = self.bound()?;
        let path = bound.account_path(&format!("/cfd_tunnel/{}", req.id));
        let record = bound
            .client
            .patch(ctx, &path, &json!({"name": req.spec.name}))
            .await?;
        found(&bound, ctx, &record, &req.spec.account).await
    }

    async fn delete(&self, ctx: &OpContext, req: Delete<TunnelSpec>) -> Result<(), ProviderError> {
        let bound = self.bound()?;
        let path = bound.account_path(&format!("/cfd_tunnel/{}", req.id));
        match bound
            .client
            .delete(ctx, &format!("{path}/connections"), &[])
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        match bound.client.delete(ctx, &path, &[]).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn adopt(
        &self,
        ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&TunnelSpec>,
    ) -> Result<Vec<Found<TunnelSpec>>, ProviderError> {
        let Some(desired) = desired else {
            return Ok(Vec::new());
        };
        let bound = self.bound()?;
        match by_name(&bound, ctx, &desired.name).await? {
            Some(t) => Ok(vec![found(&bound, ctx, &t, &desired.account).await?]),
            None => Ok(Vec::new()),
        }
    }
}
