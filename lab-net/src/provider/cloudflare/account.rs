//! `cloudflare.account`: nothing is made. A create checks what the
//! provider will need: the token is valid and active
//! (`GET /user/tokens/verify`) and reaches the account (one tunnel list
//! call, 403 when it cannot). Its output is the team name. A delete leaves
//! the account alone (lab-net never deletes an account).

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{KindSchema, OpContext, ProviderError};

use super::{estimates, CloudflareProvider, CloudflareSnapshot};
use crate::kinds::cloudflare::{AccountOut, AccountSpec};

impl CloudflareProvider {
    async fn check_account(
        &self,
        ctx: &OpContext,
        spec: &AccountSpec,
    ) -> Result<Found<AccountSpec>, ProviderError> {
        let bound = self.bound()?;
        if bound.account_id != spec.account_id {
            return Err(ProviderError::permanent(format!(
                "this Cloudflare instance serves account {}, not {}: one instance per account \
                 (bind this account's resources to its own instance)",
                bound.account_id, spec.account_id
            )));
        }
        bound.client.verify_token(ctx).await?;
        bound
            .client
            .get(
                ctx,
                &bound.account_path("/cfd_tunnel"),
                &[("per_page", "1")],
            )
            .await?;
        Ok(Found {
            id: spec.account_id.clone(),
            spec: spec.clone(),
            outputs: AccountOut {
                team_name: spec.team_name.clone(),
            },
        })
    }
}

#[async_trait]
impl KindProvider<AccountSpec> for CloudflareProvider {
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["account_id"],
            ignore: Vec::new(),
            estimate: estimates(400),
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        _snapshot: &CloudflareSnapshot,
        requests: &[Read<AccountSpec>],
    ) -> Result<Vec<Option<Found<AccountSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                Some(Found {
                    id: r.id.clone(),
                    spec: r.prior.clone(),
                    outputs: r.prior_outputs.clone(),
                })
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<AccountSpec>,
    ) -> Result<Found<AccountSpec>, ProviderError> {
        self.check_account(ctx, &req.spec).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<AccountSpec>,
    ) -> Result<Found<AccountSpec>, ProviderError> {
        self.check_account(ctx, &req.spec).await
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        _req: Delete<AccountSpec>,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}
