//! `pbs.user`: `/access/users`. The comment carries the lab's marker.
//! Users declared `User::existing` (`root@pam`) are model only and never
//! reach the provider. Deleting a user takes its tokens and their ACL
//! entries with it (PBS does).
//!
//! Id: the user id (`sync@pbs`).

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext, Ownership};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::normalize::{flag, int, text};
use super::owner::{comment_with, is_ours, user_comment};
use super::{err, form_of, gone_ok, update_form, PbsProvider, Snapshot};
use crate::api::ErrorKind;
use crate::kinds::{UserOutputs, UserSpec};

const OPTIONAL: &[&str] = &["email", "firstname", "lastname"];

/// PBS cannot delete `enable` and `expire` (its `delete` enum lacks
/// them): left out of the code, they are set to PBS's defaults (enabled,
/// never expires), and those read back as absent.
pub(crate) fn defaults_for_absent(
    form: &mut crate::api::Form,
    enable: Option<bool>,
    expire: Option<i64>,
) {
    if enable.is_none() {
        form.push("enable", "true");
    }
    if expire.is_none() {
        form.push("expire", "0");
    }
}

fn observe(m: &Map<String, Json>, base: &UserSpec) -> Found<UserSpec> {
    let userid = text(m, "userid").unwrap_or_else(|| base.userid.clone());
    let spec = UserSpec {
        server: base.server.clone(),
        userid: userid.clone(),
        comment: user_comment(text(m, "comment")),
        email: text(m, "email"),
        firstname: text(m, "firstname"),
        lastname: text(m, "lastname"),
        enable: flag(m, "enable").filter(|e| !(*e && base.enable.is_none())),
        expire: int(m, "expire").filter(|x| !(*x == 0 && base.expire.is_none())),
    };
    Found {
        id: userid.clone(),
        spec,
        outputs: UserOutputs { userid },
    }
}

fn path_of(userid: &str) -> String {
    lab_proxmox::api::path(&["access", "users", userid])
}

impl PbsProvider {
    async fn user_marked(
        &self,
        owner: &Ownership,
        base: &UserSpec,
    ) -> Result<Option<Found<UserSpec>>, ProviderError> {
        let Some(m) = self.object(&path_of(&base.userid)).await? else {
            return Ok(None);
        };
        Ok(is_ours(text(&m, "comment").as_deref(), owner).then(|| observe(&m, base)))
    }

    async fn user_read_back(&self, base: &UserSpec) -> Result<Found<UserSpec>, ProviderError> {
        let m = self.object(&path_of(&base.userid)).await?.ok_or_else(|| {
            ProviderError::permanent(format!(
                "user `{}` was accepted but PBS does not list it",
                base.userid
            ))
        })?;
        Ok(observe(&m, base))
    }
}

#[async_trait]
impl KindProvider<UserSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["userid"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(&KindProvider::<UserSpec>::schema(self), desired, observed)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<UserSpec>],
    ) -> Result<Vec<Option<Found<UserSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| snapshot.users.get(&r.id).map(|m| observe(m, &r.prior)))
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<UserSpec>,
    ) -> Result<Found<UserSpec>, ProviderError> {
        let spec = &req.spec;
        let form = form_of(&spec.create_request(), &["comment"])
            .str("comment", comment_with(spec.comment.as_deref(), &req.owner));
        match self.client.transport().post("/access/users", &form).await {
            Ok(_) => self.user_read_back(spec).await,
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                match self.user_marked(&req.owner, spec).await? {
                    Some(found) => Ok(found),
                    None => Err(ProviderError::permanent(format!(
                        "user `{}` already exists on {} and is not this lab's (its comment \
                         has no `{}`): declare it with `User::existing` to use it as it is, \
                         or pick another user id",
                        spec.userid,
                        self.client.endpoint(),
                        req.owner.marker()
                    ))),
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<UserSpec>,
    ) -> Result<Found<UserSpec>, ProviderError> {
        let spec = &req.spec;
        let (form, delete) = update_form(&spec.create_request(), &["userid", "comment"], OPTIONAL);
        let mut form = form.str("comment", comment_with(spec.comment.as_deref(), &req.owner));
        for d in &delete {
            form.push("delete", *d);
        }
        defaults_for_absent(&mut form, spec.enable, spec.expire);
        self.client
            .transport()
            .put(&path_of(&req.id), &form)
            .await
            .map_err(err)?;
        self.user_read_back(spec).await
    }

    async fn delete(&self, _ctx: &OpContext, req: Delete<UserSpec>) -> Result<(), ProviderError> {
        gone_ok(self.client.delete_user(&req.id).await)
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&UserSpec>,
    ) -> Result<Vec<Found<UserSpec>>, ProviderError> {
        match desired {
            Some(base) => Ok(self.user_marked(owner, base).await?.into_iter().collect()),
            None => Ok(vec![]),
        }
    }
}
