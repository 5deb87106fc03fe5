//! The provider as the engine takes it: lab-core's [`Typed`] adapter,
//! with one addition for adoption.
//!
//! After a crash the engine adopts with the code's attributes as they are,
//! references unresolved (a clone's `clone_vmid`, a container's
//! `ostemplate`), and `Typed` gives a kind no spec at all when one does not
//! decode. The guests' bookkeeping that Proxmox does not keep
//! (`clone_from`, the file addresses) would then be lost, and the adopted
//! guest replaced by the next plan. So the values not known yet are left
//! out before the spec is read: the rest of it still reaches the kind.

use async_trait::async_trait;
use lab_core::checks::Check;
use lab_core::kind::Typed;
use lab_core::provider::{
    CreateRequest, DeleteRequest, FieldChange, KindSchema, Limit, Observed, OpContext, OpInfo,
    Ownership, Provider, ProviderError, ReadRequest, StepReview, UpdateRequest,
};
use lab_core::value::DecodeError;
use lab_core::Attrs;

use super::ProxmoxProvider;

/// [`Typed`]`<ProxmoxProvider>` adopting with the known part of the spec.
pub(crate) struct Adapter(pub(crate) Typed<ProxmoxProvider>);

#[async_trait]
impl Provider for Adapter {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.0.kinds()
    }

    fn schema(&self, kind: &str) -> KindSchema {
        self.0.schema(kind)
    }

    fn checks(&self) -> Vec<Check> {
        self.0.checks()
    }

    fn validate(&self, kind: &str, attrs: &Attrs) -> Result<(), DecodeError> {
        self.0.validate(kind, attrs)
    }

    async fn read(
        &self,
        ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        self.0.read(ctx, requests).await
    }

    fn diff(&self, kind: &str, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        self.0.diff(kind, desired, observed)
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError> {
        self.0.create(ctx, req).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError> {
        self.0.update(ctx, req).await
    }

    async fn delete(&self, ctx: &OpContext, req: &DeleteRequest) -> Result<(), ProviderError> {
        self.0.delete(ctx, req).await
    }

    async fn adopt(
        &self,
        ctx: &OpContext,
        owner: &Ownership,
        desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError> {
        let known: Attrs = desired
            .iter()
            .filter(|(_, v)| !v.contains_ref())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.0.adopt(ctx, owner, &known).await
    }

    fn limits(&self, op: &OpInfo<'_>) -> Vec<Limit> {
        self.0.limits(op)
    }

    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        self.0.review(review)
    }
}
