//! `pbs.token`: `/access/users/{userid}/token/{name}`.
//!
//! PBS shows a token's secret once, in the answer to its create: the
//! provider keeps it as the `secret` output (a [`Secret`], sealed in the
//! state) and never reads it back, because it cannot. So a token whose
//! secret is not recorded (the run that created it died before writing the
//! state) is useless to the lab: recovery deletes such a token when it
//! carries the lab's marker, a refresh reports it as gone, and the next
//! create makes it again with a new secret (replacing, never adopting).
//! Whatever used the old secret (a remote's `password`) then changes with
//! it in the same plan. Changing the user id or the name is a replacement
//! too; `comment`, `enable` and `expire` change in place.
//!
//! Id: the token id (`sync@pbs!offsite`).

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{
    Claim, FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverRequest,
};
use lab_core::{Attrs, ProviderError, Secret};
use serde_json::{Map, Value as Json};

use super::normalize::{flag, int, text};
use super::owner::{comment_with, is_ours, user_comment};
use super::user::defaults_for_absent;
use super::{err, form_of, gone_ok, update_form, PbsProvider, Snapshot};
use crate::api::ErrorKind;
use crate::kinds::{TokenOutputs, TokenSpec};

const OPTIONAL: &[&str] = &[];

fn observe(m: &Map<String, Json>, base: &TokenSpec, secret: Option<Secret>) -> Found<TokenSpec> {
    let spec = TokenSpec {
        comment: user_comment(text(m, "comment")),
        enable: flag(m, "enable").filter(|e| !(*e && base.enable.is_none())),
        expire: int(m, "expire").filter(|x| !(*x == 0 && base.expire.is_none())),
        ..base.clone()
    };
    Found {
        id: base.tokenid(),
        outputs: TokenOutputs {
            tokenid: base.tokenid(),
            secret,
        },
        spec,
    }
}

fn path_of(spec: &TokenSpec) -> String {
    lab_proxmox::api::path(&["access", "users", &spec.userid, "token", &spec.token_name])
}

impl PbsProvider {
    /// Deletes the token `spec` names if it carries `owner`'s marker;
    /// true if it did.
    async fn drop_marked_token(
        &self,
        owner: &Ownership,
        spec: &TokenSpec,
    ) -> Result<bool, ProviderError> {
        let Some(m) = self.object(&path_of(spec)).await? else {
            return Ok(false);
        };
        if !is_ours(text(&m, "comment").as_deref(), owner) {
            return Ok(false);
        }
        gone_ok(
            self.client
                .delete_token(&spec.userid, &spec.token_name)
                .await,
        )?;
        Ok(true)
    }

    async fn post_token(
        &self,
        spec: &TokenSpec,
        owner: &Ownership,
    ) -> Result<Result<Secret, crate::api::ApiError>, ProviderError> {
        let form = form_of(&spec.create_request(), &["comment"])
            .str("comment", comment_with(spec.comment.as_deref(), owner));
        Ok(
            match self.client.transport().post(&path_of(spec), &form).await {
                Ok(data) => match data.get("value").and_then(Json::as_str) {
                    Some(v) => Ok(Secret::new(v)),
                    None => {
                        return Err(ProviderError::permanent(format!(
                            "PBS created the token {} but its answer holds no secret; \
                             delete the token and apply again",
                            spec.tokenid()
                        )))
                    }
                },
                Err(e) => Err(e),
            },
        )
    }

    async fn token_read_back(
        &self,
        spec: &TokenSpec,
        secret: Option<Secret>,
    ) -> Result<Found<TokenSpec>, ProviderError> {
        let m = self.object(&path_of(spec)).await?.ok_or_else(|| {
            ProviderError::permanent(format!(
                "token `{}` was accepted but PBS does not list it",
                spec.tokenid()
            ))
        })?;
        Ok(observe(&m, spec, secret))
    }
}

#[async_trait]
impl KindProvider<TokenSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["userid", "token-name"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(&KindProvider::<TokenSpec>::schema(self), desired, observed)
    }

    /// A token whose secret the state does not hold reads as gone (see
    /// the module doc).
    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<TokenSpec>],
    ) -> Result<Vec<Option<Found<TokenSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let secret = r.prior_outputs.secret.clone()?;
                let m = snapshot.tokens.get(&r.id)?;
                Some(observe(m, &r.prior, Some(secret)))
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<TokenSpec>,
    ) -> Result<Found<TokenSpec>, ProviderError> {
        let spec = &req.spec;
        ctx.claim(Claim::new().with("tokenid", spec.tokenid()))?;
        let secret = match self.post_token(spec, &req.owner).await? {
            Ok(s) => s,
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                // Ours, with a secret nobody recorded: make it again.
                if !self.drop_marked_token(&req.owner, spec).await? {
                    return Err(ProviderError::permanent(format!(
                        "token `{}` already exists on {} and is not this lab's (its comment \
                         has no `{}`); its secret cannot be read back: pick another token \
                         name, or delete that token",
                        spec.tokenid(),
                        self.client.endpoint(),
                        req.owner.marker()
                    )));
                }
                self.post_token(spec, &req.owner).await?.map_err(err)?
            }
            Err(e) => return Err(err(e)),
        };
        self.token_read_back(spec, Some(secret)).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<TokenSpec>,
    ) -> Result<Found<TokenSpec>, ProviderError> {
        let spec = &req.spec;
        let (form, delete) = update_form(&spec.create_request(), &["comment"], OPTIONAL);
        let mut form = form.str("comment", comment_with(spec.comment.as_deref(), &req.owner));
        for d in &delete {
            form.push("delete", *d);
        }
        defaults_for_absent(&mut form, spec.enable, spec.expire);
        self.client
            .transport()
            .put(&path_of(spec), &form)
            .await
            .map_err(err)?;
        self.token_read_back(spec, req.prior_outputs.secret.clone())
            .await
    }

    async fn delete(&self, _ctx: &OpContext, req: Delete<TokenSpec>) -> Result<(), ProviderError> {
        gone_ok(
            self.client
                .delete_token(&req.prior.userid, &req.prior.token_name)
                .await,
        )
    }

    /// Never: a token found without its secret is of no use.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        _owner: &Ownership,
        _desired: Option<&TokenSpec>,
    ) -> Result<Vec<Found<TokenSpec>>, ProviderError> {
        Ok(vec![])
    }

    /// Deletes the token an interrupted create made (when it carries the
    /// lab's marker): its secret was shown to a run that died.
    async fn recover(
        &self,
        _ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&TokenSpec>,
    ) -> Result<Recovery<TokenSpec>, ProviderError> {
        let (OpKind::Create, Some(spec)) = (req.action, desired) else {
            return Ok(Recovery::default());
        };
        if req.known_ids.contains(&spec.tokenid()) {
            return Ok(Recovery::default());
        }
        let mut recovery = Recovery::default();
        if self.drop_marked_token(&req.owner, spec).await? {
            recovery.notes.push(format!(
                "deleted the token {} the interrupted run made: PBS shows a token's secret \
                 only once, and that run did not record it; it is created again",
                spec.tokenid()
            ));
        }
        Ok(recovery)
    }
}
