//! The provider contract: how the engine talks to a real service.
//!
//! A provider reads many resources in one call ([`Provider::read`]), diffs
//! field by field saying which fields force replacement ([`Provider::diff`]),
//! creates, updates and deletes, and finds objects it created earlier by
//! their ownership marker ([`Provider::adopt`]) so that a crash between a
//! create and the state write adopts instead of duplicating.
//!
//! Providers declare what they contend for ([`Provider::limits`]): one clone
//! per source template, N operations per node. The engine enforces those
//! limits and a global cap; a provider that waits on a remote task wraps the
//! wait in [`OpContext::wait`] so it holds no call slot meanwhile.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

mod rate;
mod recover;
mod registry;

pub use rate::{RateLimit, TokenBucket};
pub use recover::{Claim, RecoverCause, RecoverRequest, Recovered};
pub use registry::{ProviderHandle, ProviderInstance, ProviderRegistry};

use crate::checks::Check;
use crate::diag::Diagnostic;
use crate::model::{Lab, ResourceSpec};
use crate::plan::PlanStep;
use crate::value::{Attrs, DecodeError, Value};
use crate::Address;

/// Who owns an object: stamped by providers on everything they create
/// (a Proxmox tag and notes line, a Cloudflare comment, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// The lab's name.
    pub lab: String,
    /// The state's lineage: distinguishes two labs with the same name.
    pub lineage: String,
    /// The resource's address.
    pub address: Address,
}

impl Ownership {
    /// A one-line marker, e.g. `lab:home/proxmox.vm.web`, for notes and comments.
    pub fn marker(&self) -> String {
        format!("lab:{}/{}", self.lab, self.address)
    }

    /// A short tag naming the lab instance, e.g. `lab-3f9c2a1b`, for systems
    /// whose tags are short and restricted.
    pub fn tag(&self) -> String {
        let short: String = self
            .lineage
            .chars()
            .filter(|c| c.is_ascii_hexdigit())
            .take(8)
            .collect();
        format!("lab-{short}")
    }
}

/// A real object as the provider read it back, normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The provider's id (a VMID, a UUID).
    pub id: String,
    /// The fields, in the same shape as the desired attributes.
    pub attrs: Attrs,
    /// Values other resources can take as inputs (`vmid`, `mac`, `tunnel_id`).
    pub outputs: Attrs,
}

/// One resource to read during refresh.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    /// Its address.
    pub address: Address,
    /// The provider's id from state.
    pub id: String,
    /// The attributes recorded in state (some providers need them to find it).
    pub prior: Attrs,
    /// The outputs recorded in state (a provider that can tell cheaply that
    /// nothing changed returns them as they were).
    pub prior_outputs: Attrs,
    /// The ownership marker the object was stamped with (a provider strips
    /// it from what it reads back).
    pub owner: Ownership,
}

/// What [`Provider::create`] is asked to make: the resource's address, its
/// attributes with every reference resolved, and the ownership marker to
/// stamp on the new object (so a later run can find and adopt it).
#[derive(Clone, Debug)]
pub struct CreateRequest {
    /// The resource's address.
    pub address: Address,
    /// The desired attributes, references resolved.
    pub attrs: Attrs,
    /// The marker to stamp on the object.
    pub owner: Ownership,
}

/// An update-in-place call.
#[derive(Clone, Debug)]
pub struct UpdateRequest {
    /// The resource's address.
    pub address: Address,
    /// The provider's id.
    pub id: String,
    /// The attributes as last observed.
    pub prior: Attrs,
    /// The outputs as last recorded (what a create returned, e.g. a
    /// generated key the update must keep).
    pub prior_outputs: Attrs,
    /// The desired attributes, references resolved.
    pub attrs: Attrs,
    /// The fields that change.
    pub changes: Vec<FieldChange>,
    /// The marker (to restamp if the object lost it).
    pub owner: Ownership,
}

/// What [`Provider::delete`] is asked to remove: the object's id and the
/// attributes and marker recorded when it was made (a delete works from
/// the state, as the code may no longer declare the resource).
#[derive(Clone, Debug)]
pub struct DeleteRequest {
    /// The resource's address.
    pub address: Address,
    /// The provider's id.
    pub id: String,
    /// The attributes as last recorded.
    pub prior: Attrs,
    /// The marker the object was stamped with: a provider whose ids can be
    /// reused (a VMID) checks it, so it never deletes someone else's object.
    pub owner: Ownership,
}

/// One field that differs between desired and actual.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    /// The field's name (or a dotted path into it).
    pub field: String,
    /// The current value; `None` if unset.
    pub before: Option<Value>,
    /// The desired value; `None` if it will be unset. A `Value::Ref` here
    /// is `(known after apply)`.
    pub after: Option<Value>,
    /// True if this field cannot change in place.
    pub forces_replacement: bool,
}

/// How a provider treats a kind's fields, and how long operations take.
#[derive(Clone, Debug, Default)]
pub struct KindSchema {
    /// Fields whose change forces replacement.
    pub force_new: Vec<&'static str>,
    /// Fields the generic diff ignores (bookkeeping the service rewrites).
    pub ignore: Vec<&'static str>,
    /// Typical durations, for the plan's estimate before history exists.
    pub estimate: Estimates,
}

/// Typical durations of each operation.
#[derive(Clone, Copy, Debug)]
pub struct Estimates {
    /// A create.
    pub create: Duration,
    /// An update in place.
    pub update: Duration,
    /// A delete.
    pub delete: Duration,
}

impl Default for Estimates {
    fn default() -> Self {
        Estimates {
            create: Duration::from_secs(5),
            update: Duration::from_secs(2),
            delete: Duration::from_secs(2),
        }
    }
}

/// The operations the engine performs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Create an object.
    Create,
    /// Update it in place.
    Update,
    /// Delete it.
    Delete,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            OpKind::Create => "create",
            OpKind::Update => "update",
            OpKind::Delete => "delete",
        })
    }
}

/// What an operation is about, for [`Provider::limits`].
#[derive(Clone, Debug)]
pub struct OpInfo<'a> {
    /// The resource.
    pub address: &'a Address,
    /// The operation.
    pub op: OpKind,
    /// Desired attributes (create/update) or recorded ones (delete).
    pub attrs: &'a Attrs,
}

/// How long a limit's permit is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitScope {
    /// Held only while API calls are in flight; given back during
    /// [`OpContext::wait`] (e.g. N calls per node, a rate limit).
    Call,
    /// Held for the whole operation, waits included (e.g. one clone per
    /// source template: the template stays locked until the clone task ends).
    Operation,
}

/// A named contended thing and how many operations may use it at once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Limit {
    /// The key, e.g. `proxmox:clone:9000` or `proxmox:node:pve1`.
    pub key: String,
    /// How many holders at once.
    pub capacity: usize,
    /// How long a holder keeps it.
    pub scope: LimitScope,
}

impl Limit {
    /// A limit held only during calls.
    pub fn calls(key: impl Into<String>, capacity: usize) -> Self {
        Limit {
            key: key.into(),
            capacity: capacity.max(1),
            scope: LimitScope::Call,
        }
    }

    /// A limit held for the whole operation.
    pub fn operation(key: impl Into<String>, capacity: usize) -> Self {
        Limit {
            key: key.into(),
            capacity: capacity.max(1),
            scope: LimitScope::Operation,
        }
    }
}

/// How a failed provider call should be treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The same call may succeed later (connection reset, 5xx, 429,
    /// Proxmox `can't lock file`): the engine retries with backoff.
    Transient,
    /// The credentials are missing, wrong or lack a permission (401, 403):
    /// retrying cannot help and every other call to the same service will
    /// fail alike, so the run stops starting operations and says what to fix.
    Auth,
    /// Anything else: not retried; only the operation's dependents are skipped.
    Permanent,
}

/// A failed provider call.
///
/// ```
/// use std::time::Duration;
/// use lab_core::provider::{ErrorClass, ProviderError};
/// let e = ProviderError::transient("429 Too Many Requests").retry_after(Duration::from_secs(30));
/// assert!(e.is_transient());
/// assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
/// assert_eq!(ProviderError::auth("401: invalid token").class, ErrorClass::Auth);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// Retry, stop the run, or fail the operation.
    pub class: ErrorClass,
    /// For a transient error, how long the service asked to wait (an HTTP
    /// `Retry-After`); the engine waits at least that long before retrying.
    pub retry_after: Option<Duration>,
    /// What went wrong, with no secret in it.
    pub message: String,
}

impl ProviderError {
    /// An error worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        ProviderError {
            class: ErrorClass::Transient,
            retry_after: None,
            message: message.into(),
        }
    }

    /// An error not worth retrying.
    pub fn permanent(message: impl Into<String>) -> Self {
        ProviderError {
            class: ErrorClass::Permanent,
            retry_after: None,
            message: message.into(),
        }
    }

    /// Credentials rejected: the run stops. Say in `message` what to fix
    /// (which variable, which permission).
    pub fn auth(message: impl Into<String>) -> Self {
        ProviderError {
            class: ErrorClass::Auth,
            retry_after: None,
            message: message.into(),
        }
    }

    /// The wait the service asked for before a retry.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// True if the engine may retry the call.
    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }

    /// True if the run must stop (credentials).
    pub fn is_auth(&self) -> bool {
        self.class == ErrorClass::Auth
    }
}

/// The engine's side of [`OpContext::wait`]: gives call-scoped permits back
/// and takes them again. Implemented by the executor.
#[async_trait]
pub trait CallSlots: Send + Sync {
    /// Gives back the call-scoped permits.
    fn release(&self);
    /// Takes them again (waits for capacity).
    async fn reacquire(&self);
}

/// The engine's side of [`OpContext::claim`]: writes the claim to the
/// journal, durably, before returning. Implemented by the executor.
pub trait ClaimJournal: Send + Sync {
    /// Records `claim` for the running operation.
    fn record(&self, claim: &Claim) -> Result<(), String>;
}

/// Passed to every provider call: who it is for, and the hook that lets a
/// provider wait on a remote task without holding a call slot.
#[derive(Clone)]
pub struct OpContext {
    address: Option<Address>,
    attempt: u32,
    slots: Option<Arc<dyn CallSlots>>,
    rate: Option<Arc<TokenBucket>>,
    journal: Option<Arc<dyn ClaimJournal>>,
    reserved: Option<Claim>,
    held: Arc<Vec<Claim>>,
}

impl OpContext {
    /// A context with no limits (refresh, tests).
    pub fn detached() -> Self {
        OpContext {
            address: None,
            attempt: 1,
            slots: None,
            rate: None,
            journal: None,
            reserved: None,
            held: Arc::default(),
        }
    }

    /// A context for an operation on `address`; used by the executor.
    pub fn for_operation(address: Address, attempt: u32, slots: Arc<dyn CallSlots>) -> Self {
        OpContext {
            address: Some(address),
            attempt,
            slots: Some(slots),
            rate: None,
            journal: None,
            reserved: None,
            held: Arc::default(),
        }
    }

    /// The same context, taking request tokens from `bucket` in
    /// [`OpContext::throttle`]; used by the engine for providers that
    /// declare a [`Provider::rate_limit`].
    pub fn with_rate(mut self, bucket: Option<Arc<TokenBucket>>) -> Self {
        self.rate = bucket;
        self
    }

    /// The same context, journaling claims through `journal`, with the
    /// identity an earlier try reserved; used by the executor.
    pub fn with_journal(
        mut self,
        journal: Option<Arc<dyn ClaimJournal>>,
        reserved: Option<Claim>,
    ) -> Self {
        self.journal = journal;
        self.reserved = reserved;
        self
    }

    /// Records which object this operation is about to make (a VMID, a
    /// file name) or the remote task doing it (a UPID), durably, before
    /// the provider sends the call. The next run's recovery looks at
    /// exactly that object ([`Provider::recover`]). Fails if the journal
    /// cannot be written: then send nothing. Outside an apply (tests,
    /// refresh) it records nothing.
    pub fn claim(&self, claim: Claim) -> Result<(), ProviderError> {
        match &self.journal {
            Some(journal) => journal.record(&claim).map_err(|e| {
                ProviderError::permanent(format!(
                    "could not journal which object the call will make ({e}); nothing was sent"
                ))
            }),
            None => Ok(()),
        }
    }

    /// The identity an earlier, interrupted or failed, try of this create
    /// claimed and recovery found free: a provider reuses it (the same
    /// VMID) rather than picking a new one.
    pub fn reserved(&self) -> Option<&Claim> {
        self.reserved.as_ref()
    }

    /// The same context, knowing the identities other pending creates of
    /// this provider instance hold; used by the executor.
    pub fn with_held(mut self, held: Arc<Vec<Claim>>) -> Self {
        self.held = held;
        self
    }

    /// Identities held for other resources' pending creates: a provider
    /// that allocates ids (a VMID) never hands one of these to another
    /// object.
    pub fn held(&self) -> &[Claim] {
        &self.held
    }

    /// Waits for a request token of the provider's rate limit (at once if
    /// it declares none). Call it before each request to the service.
    pub async fn throttle(&self) {
        if let Some(bucket) = &self.rate {
            bucket.take().await;
        }
    }

    /// The resource the operation is for, if any.
    pub fn address(&self) -> Option<&Address> {
        self.address.as_ref()
    }

    /// 1 for the first try, 2 for the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Awaits `fut` (a remote task, a boot) holding no call slot, so other
    /// operations can make calls meanwhile. Operation-scoped limits stay held.
    pub async fn wait<F: Future>(&self, fut: F) -> F::Output {
        match &self.slots {
            Some(slots) => {
                slots.release();
                let out = fut.await;
                slots.reacquire().await;
                out
            }
            None => fut.await,
        }
    }
}

impl fmt::Debug for OpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpContext")
            .field("address", &self.address)
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// A service the engine can apply resources to.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// A short name for messages, e.g. `proxmox`.
    fn name(&self) -> &str;

    /// The resource kinds this provider applies, e.g. `["proxmox.vm"]`.
    fn kinds(&self) -> Vec<&'static str>;

    /// The concrete provider behind this one, for a crate's own CLI
    /// commands (lab-pbs's `restore-drill` reaches the Proxmox client
    /// through it): `Typed<P>` gives its `P`. `None` by default.
    fn as_any(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        None
    }

    /// How the kind's fields behave and how long its operations take.
    fn schema(&self, _kind: &str) -> KindSchema {
        KindSchema::default()
    }

    /// The checks this provider adds to every lab it is registered in.
    fn checks(&self) -> Vec<Check> {
        Vec::new()
    }

    /// Checks, without IO, that `attrs` fit the kind's spec (references to
    /// outputs not known yet stand for a value of the field's type). Run by
    /// the `core::spec-mismatch` check; typed providers ([`crate::kind`])
    /// read the attributes into the kind's spec. The default accepts all.
    fn validate(&self, _kind: &str, _attrs: &Attrs) -> Result<(), DecodeError> {
        Ok(())
    }

    /// How many requests per period the service accepts (Cloudflare: 1,200
    /// per 5 minutes). The engine keeps one token bucket per provider
    /// instance; the provider takes a token before each request with
    /// [`OpContext::throttle`]. `None` (the default): no rate limit.
    fn rate_limit(&self) -> Option<RateLimit> {
        None
    }

    /// Sees the lab's code before anything is read: called once per plan
    /// (and destroy plan, and before a saved plan is applied) for every
    /// registered instance, with its `instance` name, before recovery and
    /// refresh. A provider for a live service has nothing to do here (the
    /// default). A simulator that takes its shape from the lab does: the
    /// embedded Proxmox VE simulator joins the nodes the lab declares, the
    /// Talos simulator makes a node for each declared machine address.
    /// Without I/O beyond the simulator's own; an error stops the plan.
    fn prepare(&self, _lab: &Lab, _instance: &str) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Checks, with one cheap call, that the service answers and accepts
    /// the credentials (Proxmox: `GET /version`). The plan calls it for an
    /// instance it has nothing to read from (a fresh lab), so a wrong
    /// address or token is an error at `plan`, not at `apply`. The
    /// default checks nothing.
    async fn probe(&self, _ctx: &OpContext) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Reads many resources in as few calls as the API allows. Returns one
    /// entry per request, in order; `None` where the object no longer exists.
    async fn read(
        &self,
        ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError>;

    /// Field-level diff of desired against observed. The default compares
    /// every desired field (ignoring the schema's `ignore` fields and fields
    /// only the service sets) and marks the schema's `force_new` fields.
    fn diff(&self, kind: &str, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        generic_diff(&self.schema(kind), desired, observed)
    }

    /// Creates the object, stamping `req.owner` on it.
    async fn create(&self, ctx: &OpContext, req: &CreateRequest)
        -> Result<Observed, ProviderError>;

    /// Updates the object in place.
    async fn update(&self, ctx: &OpContext, req: &UpdateRequest)
        -> Result<Observed, ProviderError>;

    /// Deletes the object. Deleting something already gone is success.
    async fn delete(&self, ctx: &OpContext, req: &DeleteRequest) -> Result<(), ProviderError>;

    /// Finds every object carrying `owner`'s marker, so that an object
    /// created by a run that crashed before recording it is adopted rather
    /// than duplicated. Usually none or one; two while a
    /// create-before-destroy replacement is under way (the engine tells
    /// them apart by the ids it recorded). Objects that cannot carry a
    /// marker (a storage id, a pool id, a downloaded file) are found by the
    /// deterministic identity `desired` gives them.
    async fn adopt(
        &self,
        ctx: &OpContext,
        owner: &Ownership,
        desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError>;

    /// Looks at what an interrupted or failed operation left (see
    /// [`recover`](crate::provider::RecoverRequest)): the object its
    /// [`Claim`] names and the task doing it. Waits for a task still
    /// running; returns the objects to adopt; cleans up what is half made
    /// and provably this lab's; says what only a person can fix. The
    /// default adopts by marker ([`Provider::adopt`]) for creates.
    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
    ) -> Result<Recovered, ProviderError> {
        if req.action != OpKind::Create {
            return Ok(Recovered::default());
        }
        let found = self.adopt(ctx, &req.owner, &req.desired).await?;
        Ok(Recovered::found(
            found
                .into_iter()
                .filter(|o| !req.known_ids.contains(&o.id))
                .collect(),
        ))
    }

    /// The contended things this operation needs.
    fn limits(&self, _op: &OpInfo<'_>) -> Vec<Limit> {
        Vec::new()
    }

    /// Looks at a planned create, update or replace once its field changes
    /// are known. Returns notes the plan shows under the step (what the
    /// change will do beyond its fields: "the node reboots"), or refuses
    /// the step with a message that stops the whole plan (what to do
    /// instead). The default has nothing to add.
    ///
    /// Runs at plan time without I/O: work from `review.prior` (the
    /// refreshed attributes) and `review.desired` (references to outputs
    /// not known yet are still `Value::Ref`).
    fn review(&self, _review: &StepReview<'_>) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    /// Checks the planned steps against the world as the service shows it
    /// now, after the refresh: what the code alone cannot tell and the
    /// service would refuse halfway through an apply (a node the cluster
    /// does not have, a storage without room for the new disks). Returns
    /// findings at the user's lines; blocking ones stop the plan
    /// (`lab::plan_check_failed`) before anything is applied, the others
    /// are shown under their steps. Waivers apply as they do to `check`
    /// (declare the codes with [`Check::at_plan`] in [`Provider::checks`]
    /// so waivers naming them are known).
    ///
    /// Runs once per plan and instance, after the refresh, and may read
    /// what it needs from the service (nothing is written). The default
    /// finds nothing.
    async fn check_plan(
        &self,
        _ctx: &OpContext,
        _plan: &PlanCheck<'_>,
    ) -> Result<Vec<Diagnostic>, ProviderError> {
        Ok(Vec::new())
    }

    /// Reads every object of the service this instance can describe, for
    /// `lab import` ([`crate::import`]): one block of Rust code per object
    /// it can express exactly (with the state entry binding it), a finding
    /// per object it cannot. `instance` is the name the lab registered it
    /// under (a PBS server's resources are named after it). `None` (the
    /// default): this provider imports nothing yet, and `import` says so.
    async fn discover(
        &self,
        _ctx: &OpContext,
        _instance: &str,
    ) -> Result<Option<crate::import::Discovery>, ProviderError> {
        Ok(None)
    }

    /// The identity an object of `kind` made from `attrs` takes from those
    /// attributes alone, when the service derives it so and two objects
    /// cannot share it: a Proxmox volume id (`local:iso/x.iso`), a storage
    /// or pool id, a VMID given in code. `None` when the service allocates
    /// it (so two objects never collide) or it is not known yet.
    ///
    /// The plan uses it so that an old and a new object with one identity
    /// never race: a create waits for the delete of another resource's old
    /// object with its identity (a renamed file), and a create-before-destroy
    /// replacement whose new object would take the old one's identity is
    /// refused with the reason. The default: no such identity.
    fn identity(&self, _kind: &str, _attrs: &Attrs) -> Option<String> {
        None
    }
}

/// What a plan is about to do through one provider instance, as
/// [`Provider::check_plan`] sees it.
pub struct PlanCheck<'a> {
    /// The instance's name.
    pub instance: &'a str,
    /// The lab: every resource's spec, with the lines that declared its
    /// fields (the findings' labels).
    pub lab: &'a Lab,
    /// This instance's create, update and replace steps, in creation
    /// order (references to outputs of resources being created are still
    /// `Value::Ref`).
    pub steps: Vec<&'a PlanStep>,
}

impl fmt::Debug for PlanCheck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlanCheck")
            .field("instance", &self.instance)
            .field("lab", &self.lab.name())
            .field(
                "steps",
                &self.steps.iter().map(|s| &s.address).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PlanCheck<'_> {
    /// The spec of a step's resource (every step of a [`PlanCheck`] is in
    /// the code).
    pub fn spec(&self, step: &PlanStep) -> Option<&ResourceSpec> {
        self.lab.resource(&step.address)
    }
}

/// A planned step, as [`Provider::review`] sees it.
#[derive(Debug)]
pub struct StepReview<'a> {
    /// The resource.
    pub address: &'a Address,
    /// Create, update or replace.
    pub action: crate::plan::Action,
    /// The desired attributes (known references resolved).
    pub desired: &'a Attrs,
    /// The refreshed attributes, when the resource exists.
    pub prior: Option<&'a Attrs>,
    /// The recorded outputs, when the resource exists.
    pub prior_outputs: Option<&'a Attrs>,
    /// The field changes.
    pub changes: &'a [FieldChange],
}

/// The default field diff: every desired field against its observed value.
///
/// ```
/// use lab_core::provider::{generic_diff, KindSchema};
/// use lab_core::value::{Attrs, Value};
/// let schema = KindSchema { force_new: vec!["template"], ..Default::default() };
/// let mut want = Attrs::new();
/// want.insert("cores".into(), Value::Int(4));
/// want.insert("template".into(), Value::Str("debian-13".into()));
/// let mut have = want.clone();
/// have.insert("cores".into(), Value::Int(2));
/// have.insert("mac".into(), Value::Str("bc:24:11:00:00:01".into())); // set by the service
/// let changes = generic_diff(&schema, &want, &have);
/// assert_eq!(changes.len(), 1);
/// assert_eq!(changes[0].field, "cores");
/// assert!(!changes[0].forces_replacement);
/// ```
pub fn generic_diff(schema: &KindSchema, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for (field, want) in desired {
        if schema.ignore.contains(&field.as_str()) {
            continue;
        }
        let have = observed.get(field);
        let same = match (want, have) {
            (Value::Null, None) => true,
            (w, Some(h)) => w == h,
            (_, None) => false,
        };
        if !same {
            out.push(FieldChange {
                field: field.clone(),
                before: have.cloned(),
                after: Some(want.clone()),
                forces_replacement: schema.force_new.contains(&field.as_str()),
            });
        }
    }
    out
}
