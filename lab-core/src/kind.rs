//! Typed resource kinds: a spec and outputs as serde types, and a provider's
//! typed operations per kind, behind the dynamic [`Provider`] trait.
//!
//! As kube-rs puts typed resources over `DynamicObject`, a provider crate
//! declares each kind's spec (what the builder lowers to) and outputs (what
//! other resources can take as inputs) as plain structs, and implements
//! [`KindProvider`] for each kind it serves, one file per kind. The engine
//! still speaks [`Attrs`] (to diff, render and store); [`TypedProvider`] is
//! the generic adapter between the two, and [`Provider`] stays the engine's
//! contract and the escape hatch for a provider that wants the raw attributes.
//!
//! What the adapter guarantees:
//! - at `check`, every resource's attributes are read into its kind's spec
//!   (references to outputs not known yet stand for a value of the field's
//!   type); a mismatch is the `core::spec-mismatch` diagnostic naming the
//!   resource and the field path, at the line that set the field, never a
//!   silent default;
//! - at apply and refresh, the provider gets the spec with every reference
//!   resolved, and its answers are written back as attributes with the lab's
//!   conventions (`None` fields absent, secrets kept as secrets);
//! - one [`TypedProvider::snapshot`] per refresh serves every kind, so a
//!   provider still lists things once for all its kinds.
//!
//! ```
//! use lab_core::kind::{Create, Delete, Found, Kind, KindProvider, Read, TypedProvider, Typed};
//! use lab_core::{OpContext, Ownership, ProviderError};
//!
//! /// `demo.bucket`: the spec is the kind.
//! #[derive(serde::Serialize, serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Bucket { region: String, versioned: Option<bool> }
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! struct BucketOutputs { arn: String }
//! impl Kind for Bucket {
//!     const KIND: &'static str = "demo.bucket";
//!     type Outputs = BucketOutputs;
//! }
//!
//! struct Demo;
//! #[async_trait::async_trait]
//! impl TypedProvider for Demo {
//!     type Snapshot = ();
//!     fn name(&self) -> &str { "demo" }
//!     async fn snapshot(&self, _: &OpContext, _: &[lab_core::provider::ReadRequest]) -> Result<(), ProviderError> { Ok(()) }
//! }
//! #[async_trait::async_trait]
//! impl KindProvider<Bucket> for Demo {
//!     async fn read(&self, _: &OpContext, _: &(), reqs: &[Read<Bucket>]) -> Result<Vec<Option<Found<Bucket>>>, ProviderError> {
//!         Ok(reqs.iter().map(|_| None).collect())
//!     }
//!     async fn create(&self, _: &OpContext, req: Create<Bucket>) -> Result<Found<Bucket>, ProviderError> {
//!         let arn = format!("arn:demo:{}", req.spec.region);
//!         Ok(Found { id: arn.clone(), spec: req.spec, outputs: BucketOutputs { arn } })
//!     }
//!     async fn delete(&self, _: &OpContext, _: Delete<Bucket>) -> Result<(), ProviderError> { Ok(()) }
//! }
//!
//! let provider = Typed::new(Demo).kind::<Bucket>().shared();
//! assert_eq!(provider.kinds(), vec!["demo.bucket"]);
//! ```

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::checks::Check;
use crate::diag::Diagnostic;
use crate::provider::{
    generic_diff, Claim, CreateRequest, DeleteRequest, FieldChange, KindSchema, Limit, Observed,
    OpContext, OpInfo, OpKind, Ownership, PlanCheck, Provider, ProviderError, ReadRequest,
    RecoverRequest, Recovered, StepReview, UpdateRequest,
};
use crate::value::{decode, encode, validate, Attrs, DecodeError};
use crate::Address;

/// A resource kind: its spec is `Self`, its outputs [`Kind::Outputs`].
///
/// The spec's fields are the attributes the builder sets (same names, same
/// shapes; see the provider crate's kind files). Prefer
/// `#[serde(deny_unknown_fields)]`, so that an attribute the builder sets and
/// the provider does not know is a `check` error rather than ignored.
pub trait Kind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind part of the address, e.g. `proxmox.vm`.
    const KIND: &'static str;
    /// What applying it produces for other resources (`vmid`, `macs`).
    type Outputs: Serialize + DeserializeOwned + Default + Send + Sync + 'static;

    /// The identity the object made from this spec takes from the spec
    /// alone, when the service derives it so (a volume id, a storage id, a
    /// VMID given in code); `None` when the service allocates it. See
    /// [`Provider::identity`]: the plan never lets an old and a new object
    /// with one identity race. Called on the known part of the spec
    /// (fields that are references not resolved yet are left out).
    fn identity(&self) -> Option<String> {
        None
    }
}

/// What a typed operation returns: the object as the service has it now.
#[derive(Clone, Debug)]
pub struct Found<K: Kind> {
    /// The provider's id (a VMID, a UUID).
    pub id: String,
    /// Its fields, normalised to the spec's shape.
    pub spec: K,
    /// Its outputs.
    pub outputs: K::Outputs,
}

/// One resource to read during refresh.
#[derive(Debug)]
pub struct Read<K: Kind> {
    /// Its address.
    pub address: Address,
    /// The provider's id from state.
    pub id: String,
    /// The spec recorded in state.
    pub prior: K,
    /// The outputs recorded in state.
    pub prior_outputs: K::Outputs,
    /// The ownership marker the object carries.
    pub owner: Ownership,
}

/// What [`KindProvider::recover`] found and did (see
/// [`crate::provider::Recovered`]).
pub struct Recovery<K: Kind> {
    /// The objects the interrupted create made, to adopt.
    pub found: Vec<Found<K>>,
    /// What the provider did or saw, for the user.
    pub notes: Vec<String>,
    /// The identity to reserve for the next create, when nothing was adopted.
    pub keep: Option<Claim>,
    /// What only a person can resolve (the claim is kept; the next run looks again).
    pub blocked: Option<String>,
}

impl<K: Kind> Default for Recovery<K> {
    fn default() -> Self {
        Recovery {
            found: Vec::new(),
            notes: Vec::new(),
            keep: None,
            blocked: None,
        }
    }
}

/// A create call of a typed kind ([`KindProvider::create`]): the typed
/// counterpart of [`crate::provider::CreateRequest`], the spec already
/// decoded into `K`.
#[derive(Debug)]
pub struct Create<K: Kind> {
    /// The resource's address.
    pub address: Address,
    /// The desired spec, references resolved.
    pub spec: K,
    /// The marker to stamp on the object.
    pub owner: Ownership,
}

/// An update-in-place call.
#[derive(Debug)]
pub struct Update<K: Kind> {
    /// The resource's address.
    pub address: Address,
    /// The provider's id.
    pub id: String,
    /// The spec as last observed.
    pub prior: K,
    /// The outputs as last recorded.
    pub prior_outputs: K::Outputs,
    /// The desired spec, references resolved.
    pub spec: K,
    /// The fields that change.
    pub changes: Vec<FieldChange>,
    /// The marker (to restamp if the object lost it).
    pub owner: Ownership,
}

impl<K: Kind> Update<K> {
    /// True if `field` is among the changes.
    pub fn changed(&self, field: &str) -> bool {
        self.changes.iter().any(|c| c.field == field)
    }
}

/// A delete call of a typed kind ([`KindProvider::delete`]): the typed
/// counterpart of [`crate::provider::DeleteRequest`], the recorded spec
/// decoded into `K`.
#[derive(Debug)]
pub struct Delete<K: Kind> {
    /// The resource's address.
    pub address: Address,
    /// The provider's id.
    pub id: String,
    /// The spec as last recorded.
    pub prior: K,
    /// The marker the object carries (check it before deleting an object
    /// whose id can be reused).
    pub owner: Ownership,
}

/// The provider-wide half of a typed provider: its name, its checks, and the
/// one bulk listing a refresh shares between its kinds.
#[async_trait]
pub trait TypedProvider: Send + Sync + 'static {
    /// What one refresh lists once for every kind (e.g. `/cluster/resources`).
    type Snapshot: Send + Sync;

    /// A short name for messages, e.g. `proxmox`.
    fn name(&self) -> &str;

    /// The checks this provider adds to every lab it is registered in.
    fn checks(&self) -> Vec<Check> {
        Vec::new()
    }

    /// Lists, in as few calls as the API allows, what the kinds' reads need
    /// for `requests` (every kind's, in the raw form).
    async fn snapshot(
        &self,
        ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Self::Snapshot, ProviderError>;

    /// Checks the connection and the credentials (see [`Provider::probe`]).
    async fn probe(&self, _ctx: &OpContext) -> Result<(), ProviderError> {
        Ok(())
    }

    /// How many requests per period the service accepts (see
    /// [`Provider::rate_limit`]); `None` by default.
    fn rate_limit(&self) -> Option<crate::provider::RateLimit> {
        None
    }

    /// Sees the lab's code before anything is read (see
    /// [`Provider::prepare`]); nothing by default.
    fn prepare(&self, _lab: &crate::Lab, _instance: &str) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Reads the objects `lab import` can describe (see
    /// [`Provider::discover`]); `None` by default.
    async fn discover(
        &self,
        _ctx: &OpContext,
        _instance: &str,
    ) -> Result<Option<crate::import::Discovery>, ProviderError> {
        Ok(None)
    }

    /// Checks the planned steps against the world after the refresh (see
    /// [`Provider::check_plan`]). The default finds nothing.
    async fn check_plan(
        &self,
        _ctx: &OpContext,
        _plan: &PlanCheck<'_>,
    ) -> Result<Vec<Diagnostic>, ProviderError> {
        Ok(Vec::new())
    }
}

/// A provider's typed operations on one kind. Implement it once per kind,
/// in its own file.
#[async_trait]
pub trait KindProvider<K: Kind>: TypedProvider {
    /// How the kind's fields behave and how long its operations take.
    fn schema(&self) -> KindSchema {
        KindSchema::default()
    }

    /// Field-level diff of desired against observed attributes (references
    /// not known yet are still `Value::Ref`). Defaults to [`generic_diff`].
    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        generic_diff(&KindProvider::<K>::schema(self), desired, observed)
    }

    /// The contended things an operation on `spec` needs.
    fn limits(&self, _op: OpKind, _address: &Address, _spec: &K) -> Vec<Limit> {
        Vec::new()
    }

    /// Plan-time notes or a refusal; see [`Provider::review`]. Works on
    /// attributes because references may still be unknown.
    fn review(&self, _review: &StepReview<'_>) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    /// Reads the recorded resources of this kind from `snapshot` (and more
    /// calls where it must). One answer per request, in order.
    async fn read(
        &self,
        ctx: &OpContext,
        snapshot: &Self::Snapshot,
        requests: &[Read<K>],
    ) -> Result<Vec<Option<Found<K>>>, ProviderError>;

    /// Creates the object, stamping `req.owner` on it.
    async fn create(&self, ctx: &OpContext, req: Create<K>) -> Result<Found<K>, ProviderError>;

    /// Updates the object in place. The default refuses: a kind whose
    /// every field forces replacement never gets here.
    async fn update(&self, _ctx: &OpContext, req: Update<K>) -> Result<Found<K>, ProviderError> {
        Err(ProviderError::permanent(format!(
            "`{}` cannot be updated in place",
            req.address.kind()
        )))
    }

    /// Deletes the object. Deleting something already gone is success.
    async fn delete(&self, ctx: &OpContext, req: Delete<K>) -> Result<(), ProviderError>;

    /// Finds the objects carrying `owner`'s marker (see [`Provider::adopt`]);
    /// `desired` is the spec in the code, when the resource is still there
    /// and its references are known.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        _owner: &Ownership,
        _desired: Option<&K>,
    ) -> Result<Vec<Found<K>>, ProviderError> {
        Ok(Vec::new())
    }

    /// Looks at what an interrupted or failed operation left (see
    /// [`Provider::recover`]); `desired` is the known part of the spec in
    /// the code. The default adopts by marker for creates.
    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&K>,
    ) -> Result<Recovery<K>, ProviderError> {
        if req.action != OpKind::Create {
            return Ok(Recovery::default());
        }
        let found = KindProvider::<K>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(Recovery {
            found: found
                .into_iter()
                .filter(|f| !req.known_ids.contains(&f.id))
                .collect(),
            ..Recovery::default()
        })
    }
}

/// A [`TypedProvider`] and the kinds it serves, as the engine's [`Provider`].
///
/// ```ignore
/// lab.register_provider(Typed::new(proxmox).kind::<VmSpec>().kind::<CtSpec>().shared());
/// ```
pub struct Typed<P: TypedProvider> {
    provider: Arc<P>,
    kinds: Vec<Box<dyn ErasedKind<P>>>,
}

impl<P: TypedProvider> Typed<P> {
    /// A provider serving no kind yet.
    pub fn new(provider: P) -> Self {
        Typed {
            provider: Arc::new(provider),
            kinds: Vec::new(),
        }
    }

    /// A provider shared with other code (tests keep a clone to inspect it).
    pub fn from_arc(provider: Arc<P>) -> Self {
        Typed {
            provider,
            kinds: Vec::new(),
        }
    }

    /// Serves kind `K` through `P`'s [`KindProvider<K>`] impl.
    pub fn kind<K: Kind>(mut self) -> Self
    where
        P: KindProvider<K>,
    {
        self.kinds.push(Box::new(Entry::<K>(PhantomData)));
        self
    }

    /// The typed provider inside.
    pub fn inner(&self) -> &Arc<P> {
        &self.provider
    }

    /// The provider as the engine takes it.
    pub fn shared(self) -> Arc<dyn Provider> {
        Arc::new(self)
    }

    fn entry(&self, kind: &str) -> Result<&dyn ErasedKind<P>, ProviderError> {
        self.kinds
            .iter()
            .find(|k| k.kind() == kind)
            .map(|k| k.as_ref())
            .ok_or_else(|| {
                ProviderError::permanent(format!(
                    "{} does not manage `{kind}`",
                    self.provider.name()
                ))
            })
    }
}

/// Turns a decode error of a provider's own data into a provider error.
fn bad(address: &Address, what: &str, e: DecodeError) -> ProviderError {
    ProviderError::permanent(format!("{address}: {what} does not fit the kind: {e}"))
}

fn to_attrs<T: Serialize>(address: &Address, what: &str, v: &T) -> Result<Attrs, ProviderError> {
    encode(v).map_err(|e| {
        ProviderError::permanent(format!("{address}: {what} cannot be written back: {e}"))
    })
}

fn observed<K: Kind>(address: &Address, found: Found<K>) -> Result<Observed, ProviderError> {
    Ok(Observed {
        attrs: to_attrs(address, "the observed spec", &found.spec)?,
        outputs: to_attrs(address, "the outputs", &found.outputs)?,
        id: found.id,
    })
}

/// One kind of a [`Typed`] provider, with its types erased.
#[async_trait]
trait ErasedKind<P: TypedProvider>: Send + Sync {
    fn kind(&self) -> &'static str;
    fn schema(&self, p: &P) -> KindSchema;
    fn validate(&self, attrs: &Attrs) -> Result<(), DecodeError>;
    fn diff(&self, p: &P, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange>;
    fn limits(&self, p: &P, op: &OpInfo<'_>) -> Vec<Limit>;
    fn review(&self, p: &P, review: &StepReview<'_>) -> Result<Vec<String>, String>;
    fn identity(&self, attrs: &Attrs) -> Option<String>;
    async fn read(
        &self,
        p: &P,
        ctx: &OpContext,
        snapshot: &P::Snapshot,
        requests: &[&ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError>;
    async fn create(
        &self,
        p: &P,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError>;
    async fn update(
        &self,
        p: &P,
        ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError>;
    async fn delete(
        &self,
        p: &P,
        ctx: &OpContext,
        req: &DeleteRequest,
    ) -> Result<(), ProviderError>;
    async fn adopt(
        &self,
        p: &P,
        ctx: &OpContext,
        owner: &Ownership,
        desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError>;
    async fn recover(
        &self,
        p: &P,
        ctx: &OpContext,
        req: &RecoverRequest,
    ) -> Result<Recovered, ProviderError>;
}

/// The known part of `desired` (no unresolved references), read into `K`
/// if it fits.
fn known_spec<K: Kind>(desired: &Attrs) -> Option<K> {
    let known: Attrs = desired
        .iter()
        .filter(|(_, v)| !v.contains_ref())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    decode::<K>(&known).ok()
}

struct Entry<K>(PhantomData<fn() -> K>);

#[async_trait]
impl<P: KindProvider<K>, K: Kind> ErasedKind<P> for Entry<K> {
    fn kind(&self) -> &'static str {
        K::KIND
    }

    fn schema(&self, p: &P) -> KindSchema {
        KindProvider::<K>::schema(p)
    }

    fn validate(&self, attrs: &Attrs) -> Result<(), DecodeError> {
        validate::<K>(attrs)
    }

    fn diff(&self, p: &P, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        KindProvider::<K>::diff(p, desired, observed)
    }

    fn limits(&self, p: &P, op: &OpInfo<'_>) -> Vec<Limit> {
        match decode::<K>(op.attrs) {
            Ok(spec) => KindProvider::<K>::limits(p, op.op, op.address, &spec),
            // The operation itself reports the mismatch.
            Err(_) => Vec::new(),
        }
    }

    fn review(&self, p: &P, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        KindProvider::<K>::review(p, review)
    }

    fn identity(&self, attrs: &Attrs) -> Option<String> {
        known_spec::<K>(attrs)?.identity()
    }

    async fn read(
        &self,
        p: &P,
        ctx: &OpContext,
        snapshot: &P::Snapshot,
        requests: &[&ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let typed = requests
            .iter()
            .map(|r| {
                Ok(Read {
                    address: r.address.clone(),
                    id: r.id.clone(),
                    prior: decode::<K>(&r.prior)
                        .map_err(|e| bad(&r.address, "the recorded spec", e))?,
                    prior_outputs: decode::<K::Outputs>(&r.prior_outputs)
                        .map_err(|e| bad(&r.address, "the recorded outputs", e))?,
                    owner: r.owner.clone(),
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        let found = KindProvider::<K>::read(p, ctx, snapshot, &typed).await?;
        if found.len() != typed.len() {
            return Err(ProviderError::permanent(format!(
                "{} read returned {} results for {} `{}` requests",
                p.name(),
                found.len(),
                typed.len(),
                K::KIND
            )));
        }
        typed
            .iter()
            .zip(found)
            .map(|(r, f)| f.map(|f| observed(&r.address, f)).transpose())
            .collect()
    }

    async fn create(
        &self,
        p: &P,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError> {
        let spec = decode::<K>(&req.attrs).map_err(|e| bad(&req.address, "the spec", e))?;
        let found = KindProvider::<K>::create(
            p,
            ctx,
            Create {
                address: req.address.clone(),
                spec,
                owner: req.owner.clone(),
            },
        )
        .await?;
        observed(&req.address, found)
    }

    async fn update(
        &self,
        p: &P,
        ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError> {
        let a = &req.address;
        let update = Update {
            address: a.clone(),
            id: req.id.clone(),
            prior: decode::<K>(&req.prior).map_err(|e| bad(a, "the recorded spec", e))?,
            prior_outputs: decode::<K::Outputs>(&req.prior_outputs)
                .map_err(|e| bad(a, "the recorded outputs", e))?,
            spec: decode::<K>(&req.attrs).map_err(|e| bad(a, "the spec", e))?,
            changes: req.changes.clone(),
            owner: req.owner.clone(),
        };
        let found = KindProvider::<K>::update(p, ctx, update).await?;
        observed(a, found)
    }

    async fn delete(
        &self,
        p: &P,
        ctx: &OpContext,
        req: &DeleteRequest,
    ) -> Result<(), ProviderError> {
        let delete = Delete {
            address: req.address.clone(),
            id: req.id.clone(),
            prior: decode::<K>(&req.prior)
                .map_err(|e| bad(&req.address, "the recorded spec", e))?,
            owner: req.owner.clone(),
        };
        KindProvider::<K>::delete(p, ctx, delete).await
    }

    async fn adopt(
        &self,
        p: &P,
        ctx: &OpContext,
        owner: &Ownership,
        desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError> {
        // The code may no longer hold the resource (adopt by marker alone),
        // or hold references the engine could not resolve yet: the kind gets
        // the known part of the spec, so bookkeeping the service does not
        // keep (a clone's source address) survives the adoption.
        let spec = known_spec::<K>(desired);
        KindProvider::<K>::adopt(p, ctx, owner, spec.as_ref())
            .await?
            .into_iter()
            .map(|f| observed(&owner.address, f))
            .collect()
    }

    async fn recover(
        &self,
        p: &P,
        ctx: &OpContext,
        req: &RecoverRequest,
    ) -> Result<Recovered, ProviderError> {
        let spec = known_spec::<K>(&req.desired);
        let r = KindProvider::<K>::recover(p, ctx, req, spec.as_ref()).await?;
        Ok(Recovered {
            found: r
                .found
                .into_iter()
                .map(|f| observed(&req.address, f))
                .collect::<Result<_, _>>()?,
            notes: r.notes,
            keep: r.keep,
            blocked: r.blocked,
        })
    }
}

#[async_trait]
impl<P: TypedProvider> Provider for Typed<P> {
    fn name(&self) -> &str {
        self.provider.name()
    }

    fn as_any(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        Some(&*self.provider)
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.kind()).collect()
    }

    fn schema(&self, kind: &str) -> KindSchema {
        self.entry(kind)
            .map(|k| k.schema(&self.provider))
            .unwrap_or_default()
    }

    fn checks(&self) -> Vec<Check> {
        self.provider.checks()
    }

    async fn probe(&self, ctx: &OpContext) -> Result<(), ProviderError> {
        self.provider.probe(ctx).await
    }

    fn prepare(&self, lab: &crate::Lab, instance: &str) -> Result<(), ProviderError> {
        self.provider.prepare(lab, instance)
    }

    fn rate_limit(&self) -> Option<crate::provider::RateLimit> {
        self.provider.rate_limit()
    }

    async fn check_plan(
        &self,
        ctx: &OpContext,
        plan: &PlanCheck<'_>,
    ) -> Result<Vec<Diagnostic>, ProviderError> {
        self.provider.check_plan(ctx, plan).await
    }

    async fn discover(
        &self,
        ctx: &OpContext,
        instance: &str,
    ) -> Result<Option<crate::import::Discovery>, ProviderError> {
        self.provider.discover(ctx, instance).await
    }

    fn identity(&self, kind: &str, attrs: &Attrs) -> Option<String> {
        self.entry(kind).ok()?.identity(attrs)
    }

    fn validate(&self, kind: &str, attrs: &Attrs) -> Result<(), DecodeError> {
        match self.entry(kind) {
            Ok(k) => k.validate(attrs),
            Err(_) => Ok(()),
        }
    }

    async fn read(
        &self,
        ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let snapshot = self.provider.snapshot(ctx, requests).await?;
        let mut by_kind: indexmap::IndexMap<&str, Vec<usize>> = indexmap::IndexMap::new();
        for (i, r) in requests.iter().enumerate() {
            by_kind.entry(r.address.kind()).or_default().push(i);
        }
        let mut out: Vec<Option<Observed>> = vec![None; requests.len()];
        for (kind, indexes) in by_kind {
            let entry = self.entry(kind)?;
            let reqs: Vec<&ReadRequest> = indexes.iter().map(|&i| &requests[i]).collect();
            let found = entry.read(&self.provider, ctx, &snapshot, &reqs).await?;
            for (i, f) in indexes.into_iter().zip(found) {
                out[i] = f;
            }
        }
        Ok(out)
    }

    fn diff(&self, kind: &str, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        match self.entry(kind) {
            Ok(k) => k.diff(&self.provider, desired, observed),
            Err(_) => generic_diff(&KindSchema::default(), desired, observed),
        }
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError> {
        self.entry(req.address.kind())?
            .create(&self.provider, ctx, req)
            .await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError> {
        self.entry(req.address.kind())?
            .update(&self.provider, ctx, req)
            .await
    }

    async fn delete(&self, ctx: &OpContext, req: &DeleteRequest) -> Result<(), ProviderError> {
        self.entry(req.address.kind())?
            .delete(&self.provider, ctx, req)
            .await
    }

    async fn adopt(
        &self,
        ctx: &OpContext,
        owner: &Ownership,
        desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError> {
        self.entry(owner.address.kind())?
            .adopt(&self.provider, ctx, owner, desired)
            .await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
    ) -> Result<Recovered, ProviderError> {
        self.entry(req.address.kind())?
            .recover(&self.provider, ctx, req)
            .await
    }

    fn limits(&self, op: &OpInfo<'_>) -> Vec<Limit> {
        match self.entry(op.address.kind()) {
            Ok(k) => k.limits(&self.provider, op),
            Err(_) => Vec::new(),
        }
    }

    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        match self.entry(review.address.kind()) {
            Ok(k) => k.review(&self.provider, review),
            Err(_) => Ok(Vec::new()),
        }
    }
}
