//! `pbs.namespace`: `POST`/`DELETE /admin/datastore/{store}/namespace`.
//!
//! PBS creates one level at a time under an existing parent; the builder
//! orders each namespace after its parent, so a create sends `name` (the
//! last component) and `parent` (the rest). Namespaces have no comment, so
//! no marker: a create that finds the namespace already there takes it
//! (making a namespace is idempotent, and it holds no settings), and
//! recovery adopts an interrupted create's namespace by its path, never
//! on a state that is merely behind. A delete never takes backups with it
//! (no `delete-groups`): PBS refuses to remove a namespace holding backup
//! groups, and says so; move or forget them first.
//!
//! Id: `<store>:<ns>`.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery};
use lab_core::provider::{
    FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverCause, RecoverRequest,
};
use lab_core::{Attrs, ProviderError};

use super::{err, form_of, gone_ok, PbsProvider, Snapshot};
use crate::api::ErrorKind;
use crate::kinds::{NamespaceOutputs, NamespaceSpec};

fn found(spec: NamespaceSpec) -> Found<NamespaceSpec> {
    Found {
        id: format!("{}:{}", spec.store, spec.ns),
        outputs: NamespaceOutputs {
            ns: spec.ns.clone(),
            acl_path: spec.acl_path(),
        },
        spec,
    }
}

#[async_trait]
impl KindProvider<NamespaceSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["store", "ns"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(
            &KindProvider::<NamespaceSpec>::schema(self),
            desired,
            observed,
        )
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<NamespaceSpec>],
    ) -> Result<Vec<Option<Found<NamespaceSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let present = snapshot
                    .namespaces
                    .get(&r.prior.store)
                    .and_then(Option::as_ref)
                    .is_some_and(|set| set.contains(&r.prior.ns));
                present.then(|| found(r.prior.clone()))
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<NamespaceSpec>,
    ) -> Result<Found<NamespaceSpec>, ProviderError> {
        let request = req.spec.create_request();
        match self
            .client
            .transport()
            .post(&request.path, &form_of(&request, &[]))
            .await
        {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(err(e)),
        }
        Ok(found(req.spec))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        req: Delete<NamespaceSpec>,
    ) -> Result<(), ProviderError> {
        let (store, ns) = (&req.prior.store, &req.prior.ns);
        match self.client.delete_namespace(store, ns, false).await {
            Err(e) if e.message.contains("existing groups") => {
                Err(ProviderError::permanent(format!(
                    "namespace `{ns}` of datastore `{store}` still holds backup groups, and lab \
                     never deletes backups: move or forget them (PBS's web UI, or \
                     `proxmox-backup-client forget`), then apply again; or keep the namespace \
                     in the code (PBS: {})",
                    e.message.trim()
                )))
            }
            other => gone_ok(other),
        }
    }

    /// The namespace at the desired path, if the store has it.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&NamespaceSpec>,
    ) -> Result<Vec<Found<NamespaceSpec>>, ProviderError> {
        let Some(spec) = desired else {
            return Ok(vec![]);
        };
        let set = self.namespace_set(&spec.store).await?;
        Ok(set
            .is_some_and(|s| s.contains(&spec.ns))
            .then(|| found(spec.clone()))
            .into_iter()
            .collect())
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&NamespaceSpec>,
    ) -> Result<Recovery<NamespaceSpec>, ProviderError> {
        if req.action != OpKind::Create || req.cause == RecoverCause::StateBehind {
            return Ok(Recovery::default());
        }
        let found = KindProvider::<NamespaceSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(Recovery {
            found: found
                .into_iter()
                .filter(|f| !req.known_ids.contains(&f.id))
                .collect(),
            ..Recovery::default()
        })
    }
}
