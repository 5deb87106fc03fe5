//! `pbs.acl`: one entry of `/access/acl` (path, auth id, role).
//!
//! Create and update are `PUT /access/acl` (PBS replaces the entry with
//! the same path, auth id and role, so sending it again is harmless);
//! delete is the same `PUT` with `delete=1`. ACL entries have no comment,
//! so no marker: recovery takes an interrupted create's entry by its
//! identity, never on a state that is merely behind. `propagate` left out
//! of the code is PBS's default (true) and reads back absent.
//!
//! Id: `<path> <auth-id> <role>`.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{
    FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverCause, RecoverRequest,
};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::normalize::{flag, text};
use super::{err, PbsProvider, Snapshot};
use crate::api::ErrorKind;
use crate::kinds::{AclOutputs, AclSpec};

fn id_of(spec: &AclSpec) -> String {
    format!("{} {} {}", spec.path, spec.auth_id, spec.role)
}

/// The entry for `spec` in a listing, if any.
fn entry<'a>(acl: &'a [Map<String, Json>], spec: &AclSpec) -> Option<&'a Map<String, Json>> {
    acl.iter().find(|e| {
        text(e, "path").as_deref() == Some(spec.path.as_str())
            && text(e, "ugid").as_deref() == Some(spec.auth_id.as_str())
            && text(e, "roleid").as_deref() == Some(spec.role.as_str())
    })
}

fn observe(e: &Map<String, Json>, base: &AclSpec) -> Found<AclSpec> {
    let propagate = flag(e, "propagate").unwrap_or(true);
    let spec = AclSpec {
        // PBS's default, left out of the code, stays out.
        propagate: match (base.propagate, propagate) {
            (None, true) => None,
            _ => Some(propagate),
        },
        ..base.clone()
    };
    Found {
        id: id_of(base),
        outputs: AclOutputs {
            path: base.path.clone(),
        },
        spec,
    }
}

impl PbsProvider {
    async fn put_acl(&self, spec: &AclSpec, delete: bool) -> Result<(), crate::api::ApiError> {
        self.client
            .put_acl(
                &spec.path,
                spec.role.as_str(),
                &spec.auth_id,
                spec.propagate.unwrap_or(true),
                delete,
            )
            .await
    }

    async fn acl_read_back(&self, spec: &AclSpec) -> Result<Found<AclSpec>, ProviderError> {
        let list: Vec<Map<String, Json>> = self
            .client
            .transport()
            .get("/access/acl", &[])
            .await
            .map_err(err)?;
        entry(&list, spec).map(|e| observe(e, spec)).ok_or_else(|| {
            ProviderError::permanent(format!(
                "the ACL entry {} was accepted but PBS does not list it",
                id_of(spec)
            ))
        })
    }
}

#[async_trait]
impl KindProvider<AclSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["path", "role", "auth-id"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(&KindProvider::<AclSpec>::schema(self), desired, observed)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<AclSpec>],
    ) -> Result<Vec<Option<Found<AclSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| entry(&snapshot.acl, &r.prior).map(|e| observe(e, &r.prior)))
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<AclSpec>,
    ) -> Result<Found<AclSpec>, ProviderError> {
        self.put_acl(&req.spec, false).await.map_err(err)?;
        self.acl_read_back(&req.spec).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<AclSpec>,
    ) -> Result<Found<AclSpec>, ProviderError> {
        self.put_acl(&req.spec, false).await.map_err(err)?;
        self.acl_read_back(&req.spec).await
    }

    async fn delete(&self, _ctx: &OpContext, req: Delete<AclSpec>) -> Result<(), ProviderError> {
        match self.put_acl(&req.prior, true).await {
            Ok(()) => Ok(()),
            // The token, user or datastore went first, and its entries with it.
            Err(e) if e.kind == ErrorKind::NotFound || e.message.contains("no such") => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&AclSpec>,
    ) -> Result<Vec<Found<AclSpec>>, ProviderError> {
        let Some(spec) = desired else {
            return Ok(vec![]);
        };
        let list: Vec<Map<String, Json>> = self
            .client
            .transport()
            .get("/access/acl", &[])
            .await
            .map_err(err)?;
        Ok(entry(&list, spec)
            .map(|e| observe(e, spec))
            .into_iter()
            .collect())
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&AclSpec>,
    ) -> Result<Recovery<AclSpec>, ProviderError> {
        if req.action != OpKind::Create || req.cause == RecoverCause::StateBehind {
            return Ok(Recovery::default());
        }
        let found = KindProvider::<AclSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(Recovery {
            found: found
                .into_iter()
                .filter(|f| !req.known_ids.contains(&f.id))
                .collect(),
            ..Recovery::default()
        })
    }
}
