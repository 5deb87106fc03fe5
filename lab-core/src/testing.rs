//! Test helpers: an in-memory provider ([`MemoryProvider`]) and a generic
//! resource it applies ([`Thing`]).
//!
//! They exist for lab-core's own tests and benches, and for yours: a
//! topology can be planned and applied end to end in `cargo test`, with
//! simulated latency, contention limits, injected failures and crashes, and
//! then inspected (which objects exist, how many calls were made, in which
//! order, how many ran at once).
//!
//! # Example
//!
//! Build a lab of [`Thing`]s and drive the provider directly, the way the
//! engine does:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use lab_core::prelude::*;
//! use lab_core::provider::{CreateRequest, OpContext, Ownership, Provider, ReadRequest};
//! use lab_core::testing::{Fault, MemoryProvider, Thing};
//!
//! let memory = MemoryProvider::new();
//! let mut lab = Lab::new("home");
//! lab.register_provider(memory.shared()); // shares the simulated world with `memory`
//! let db = lab.add(Thing::new("db").attr("size_gb", 20).secret("password", "hunter2"));
//! let app = lab.add(Thing::new("app").input("db_id", &db.output::<String>("id")));
//! assert!(lab.check().iter().all(|d| !d.is_blocking()));
//! assert_eq!(lab.resource(app.address()).unwrap().deps[0].on, *db.address());
//!
//! // Create `db` as the engine would.
//! let spec = lab.resource(db.address()).unwrap();
//! let owner = Ownership {
//!     lab: "home".into(),
//!     lineage: "3f9c2a1b-0000".into(),
//!     address: spec.address.clone(),
//! };
//! let ctx = OpContext::detached();
//! let req = CreateRequest { address: spec.address.clone(), attrs: spec.attrs.clone(), owner: owner.clone() };
//! let created = memory.create(&ctx, &req).await?;
//! assert_eq!(created.id, "mem-1");
//! assert_eq!(created.outputs["id"], Value::Str("mem-1".into()));
//!
//! // Refresh reads everything in one call, and adoption finds the object by its marker.
//! let read = memory
//!     .read(&ctx, &[ReadRequest { address: spec.address.clone(), id: created.id.clone(), prior: Default::default(), prior_outputs: Default::default(), owner: owner.clone() }])
//!     .await?;
//! assert_eq!(read[0].as_ref().unwrap().attrs["size_gb"], Value::Int(20));
//! assert_eq!(memory.adopt(&ctx, &owner, &Default::default()).await?[0].id, "mem-1");
//! assert_eq!(memory.counts().creates, 1);
//! assert_eq!(memory.find_by_name("db").len(), 1);
//!
//! // Inject a failure: the next mutating call fails once, transiently.
//! memory.fail_at(1, Fault::Transient);
//! assert!(memory.create(&ctx, &req).await.unwrap_err().is_transient());
//! # Ok::<(), lab_core::ProviderError>(())
//! # }).unwrap();
//! ```
//!
//! With the [`crate::Engine`], a whole plan and apply runs against it:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use lab_core::prelude::*;
//! use lab_core::provider::LimitScope;
//! use lab_core::testing::{MemoryProvider, Thing};
//! use lab_core::MemoryStateStore;
//!
//! let memory = MemoryProvider::new()
//!     .with_latency(Duration::from_millis(1), Duration::from_millis(20))
//!     .limit_calls(2)
//!     .limit_by_attr("template", 1, LimitScope::Operation);
//! let mut lab = Lab::new("home");
//! lab.register_provider(memory.shared());
//! for i in 0..3 {
//!     lab.add(Thing::new(format!("vm{i}")).attr("template", "debian-13"));
//! }
//! let engine = Engine::new(lab, MemoryStateStore::new());
//! let plan = engine.plan(&Default::default()).await.unwrap();
//! let report = engine.apply(&plan, &Default::default()).await.unwrap();
//! assert!(report.is_success());
//! assert_eq!(memory.objects().len(), 3);
//! assert_eq!(memory.max_concurrent("memory:template:debian-13"), 1); // one clone per template
//! assert!(memory.max_concurrent("memory:calls") <= 2);
//! assert!(!engine.plan(&Default::default()).await.unwrap().has_changes());
//! # });
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;
use serde_json::{json, Value as Json};
use tokio::sync::Notify;

use crate::model::{Handle, Input, Output, Resource, ResourceSpec};
use crate::provider::{
    CreateRequest, DeleteRequest, Estimates, KindSchema, Limit, LimitScope, Observed, OpContext,
    OpInfo, OpKind, Ownership, PlanCheck, Provider, ProviderError, RateLimit, ReadRequest,
    StepReview, UpdateRequest,
};
use crate::value::{attrs_from_json, attrs_to_json, Attrs, Value};
use crate::Diagnostic;
use crate::{Address, Secret};

// ---------------------------------------------------------------------------
// Thing
// ---------------------------------------------------------------------------

/// A generic resource with free-form attributes, applied by
/// [`MemoryProvider`]. Its kind is [`Thing::KIND`] (`test.thing`) unless
/// built with [`Thing::of_kind`].
///
/// Every builder method is `#[track_caller]`, so diagnostics point at the
/// test's line, as they do for real resources.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_core::testing::Thing;
///
/// let mut lab = Lab::new("home");
/// let net = lab.add(Thing::of_kind("test.net", "lan").attr("cidr", "10.0.0.0/24"));
/// let vm = lab.add(
///     Thing::new("vm")
///         .attr("cores", 4)
///         .secret("root_password", "hunter2")
///         .after(&net)
///         .input("net_id", &net.output::<String>("id"))
///         .latency_ms(50),
/// );
/// let spec = lab.resource(vm.address()).unwrap();
/// assert_eq!(spec.address.to_string(), "test.thing.vm");
/// assert_eq!(spec.attrs["cores"], Value::Int(4));
/// assert_eq!(spec.attrs["latency_ms"], Value::Int(50));
/// assert_eq!(spec.deps.len(), 2); // `after` and the `net_id` input
/// assert_eq!(spec.attrs["root_password"].to_string(), "(sensitive value)");
/// ```
#[derive(Clone, Debug)]
pub struct Thing {
    spec: ResourceSpec,
}

impl Thing {
    /// The default kind, `test.thing`, which [`MemoryProvider::new`] manages.
    pub const KIND: &'static str = "test.thing";

    /// A thing called `name` of kind [`Thing::KIND`].
    #[track_caller]
    pub fn new(name: impl AsRef<str>) -> Self {
        Thing {
            spec: ResourceSpec::new(Self::KIND, name.as_ref()),
        }
    }

    /// A thing of another kind (register a provider managing it with
    /// [`MemoryProvider::with_kinds`]).
    #[track_caller]
    pub fn of_kind(kind: &'static str, name: impl AsRef<str>) -> Self {
        Thing {
            spec: ResourceSpec::new(kind, name.as_ref()),
        }
    }

    /// Sets attribute `key`.
    #[track_caller]
    pub fn attr(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.spec.set(key, value);
        self
    }

    /// Sets attribute `key` to a secret.
    #[track_caller]
    pub fn secret(mut self, key: &str, value: impl Into<Secret>) -> Self {
        self.spec.set(key, Value::Secret(value.into()));
        self
    }

    /// Orders this thing after `other` (a dependency edge labelled `after`).
    #[track_caller]
    pub fn after<R>(mut self, other: &Handle<R>) -> Self {
        self.spec.depend_on(other, "after");
        self
    }

    /// Sets attribute `key` from a value or another resource's output (which
    /// also records the dependency): anything [`ThingInput`], e.g.
    /// `&db.output::<String>("id")`, `"text"`, `42`.
    #[track_caller]
    pub fn input<I: ThingInput>(mut self, key: &str, input: I) -> Self {
        self.spec.set_input::<I::Type>(key, input.into_input());
        self
    }

    /// How long this thing's create, update and delete wait on their
    /// simulated remote task (the attribute `latency_ms`), instead of the
    /// provider's configured wait.
    #[track_caller]
    pub fn latency_ms(self, ms: u64) -> Self {
        self.attr(LATENCY_ATTR, ms)
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Thing {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// What [`Thing::input`] takes: a plain value, an [`Output`] (owned or
/// borrowed) of another resource, or an [`Input`].
///
/// It exists so that the output's type is inferred: with a bare
/// `impl Into<Input<T>>` parameter, `&db.output::<String>("id")` would be
/// ambiguous.
pub trait ThingInput {
    /// The type of the value the input carries.
    type Type: Into<Value>;
    /// Converts to an [`Input`].
    fn into_input(self) -> Input<Self::Type>;
}

impl<V: Into<Value>> ThingInput for V {
    type Type = V;
    fn into_input(self) -> Input<V> {
        Input::Value(self)
    }
}

impl<T: Into<Value>> ThingInput for Output<T> {
    type Type = T;
    fn into_input(self) -> Input<T> {
        Input::Output(self)
    }
}

impl<T: Into<Value>> ThingInput for &Output<T> {
    type Type = T;
    fn into_input(self) -> Input<T> {
        Input::Output(self.clone())
    }
}

impl<T: Into<Value>> ThingInput for Input<T> {
    type Type = T;
    fn into_input(self) -> Input<T> {
        self
    }
}

/// The attribute [`Thing::latency_ms`] sets.
const LATENCY_ATTR: &str = "latency_ms";

// ---------------------------------------------------------------------------
// Public inspection types
// ---------------------------------------------------------------------------

/// An injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fails with [`ProviderError::transient`]: the engine retries.
    Transient,
    /// Fails with [`ProviderError::permanent`]: the engine gives up.
    Permanent,
    /// Fails with [`ProviderError::auth`]: the run stops starting operations.
    Auth,
    /// Fails with a transient error asking to wait this long (an HTTP 429
    /// with `Retry-After`).
    RateLimited(Duration),
}

impl Fault {
    fn error(self, what: String) -> ProviderError {
        match self {
            Fault::Transient => {
                ProviderError::transient(format!("injected transient failure: {what}"))
            }
            Fault::Permanent => {
                ProviderError::permanent(format!("injected permanent failure: {what}"))
            }
            Fault::Auth => ProviderError::auth(format!(
                "injected 401 for {what}: the token is invalid; set a valid one"
            )),
            Fault::RateLimited(wait) => {
                ProviderError::transient(format!("injected 429 for {what}")).retry_after(wait)
            }
        }
    }
}

/// One object in the simulated world.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryObject {
    /// Its id, `mem-{n}`; never reused.
    pub id: String,
    /// The kind of the resource that created it.
    pub kind: String,
    /// The address of the resource that created it.
    pub address: Address,
    /// The ownership marker stamped on it ([`Ownership::marker`]).
    pub marker: String,
    /// The ownership tag stamped on it ([`Ownership::tag`]).
    pub tag: String,
    /// Its attributes: exactly those of the last create or update (secrets
    /// included, held in memory), plus any outside change.
    pub attrs: Attrs,
}

impl MemoryObject {
    fn observed(&self) -> Observed {
        let mut outputs = Attrs::new();
        outputs.insert("id".into(), Value::Str(self.id.clone()));
        Observed {
            id: self.id.clone(),
            attrs: self.attrs.clone(),
            outputs,
        }
    }

    /// The resource name in the marker (`lab:home/test.thing.db` -> `db`).
    fn marker_name(&self) -> Option<&str> {
        self.marker.rsplit_once('.').map(|(_, name)| name)
    }
}

/// How many calls of each kind the provider received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Bulk [`Provider::read`] calls (one per call, whatever the number of
    /// resources read).
    pub reads: u64,
    /// [`Provider::create`] calls, failed ones included.
    pub creates: u64,
    /// [`Provider::update`] calls, failed ones included.
    pub updates: u64,
    /// [`Provider::delete`] calls, failed ones included.
    pub deletes: u64,
    /// [`Provider::adopt`] calls.
    pub adopts: u64,
}

impl CallCounts {
    /// Creates, updates and deletes.
    pub fn mutating(&self) -> u64 {
        self.creates + self.updates + self.deletes
    }
}

/// One mutating call, with its place in time.
///
/// `start` and `end` come from one counter per simulated world, incremented
/// at every call start and end, so `b.start > a.end.unwrap()` means "b
/// started after a returned".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Create, update or delete.
    pub op: OpKind,
    /// The resource.
    pub address: Address,
    /// The counter's value when the call started.
    pub start: u64,
    /// The counter's value when it returned; `None` while in flight, or if
    /// it never returned (a crash, a cancelled future).
    pub end: Option<u64>,
    /// The engine's attempt number ([`OpContext::attempt`]).
    pub attempt: u32,
}

// ---------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------

#[derive(Default)]
struct WorldState {
    objects: IndexMap<String, MemoryObject>,
    next_id: u64,
    counts: CallCounts,
    calls: Vec<CallRecord>,
    /// Mutating calls so far (fault positions are absolute numbers of it).
    mutating: u64,
    fail_at: BTreeMap<u64, Fault>,
    fail_resource: HashMap<String, Fault>,
    fail_reads: Option<Fault>,
    crash_at: Vec<(u64, Arc<Notify>)>,
    in_flight: HashMap<String, usize>,
    max_in_flight: HashMap<String, usize>,
    ops_in_flight: usize,
    max_ops_in_flight: usize,
    persist: Option<PathBuf>,
}

impl WorldState {
    fn enter(&mut self, keys: &[String]) {
        for k in keys {
            let n = self.in_flight.entry(k.clone()).or_insert(0);
            *n += 1;
            let now = *n;
            let max = self.max_in_flight.entry(k.clone()).or_insert(0);
            *max = (*max).max(now);
        }
    }

    fn leave(&mut self, keys: &[String]) {
        for k in keys {
            if let Some(n) = self.in_flight.get_mut(k) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Writes the world to the persistence file, if any.
    fn persist(&self) -> io::Result<()> {
        let Some(path) = &self.persist else {
            return Ok(());
        };
        let mut seal = |_: &Secret| json!({ "$secret": SECRET_PLACEHOLDER });
        let objects: Vec<Json> = self
            .objects
            .values()
            .map(|o| {
                json!({
                    "id": o.id,
                    "address": o.address.to_string(),
                    "marker": o.marker,
                    "tag": o.tag,
                    "attrs": attrs_to_json(&o.attrs, &mut seal),
                })
            })
            .collect();
        let doc = json!({
            "format": WORLD_FORMAT,
            "next_id": self.next_id,
            "objects": objects,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
        write_atomic(path, text.as_bytes())
    }

    /// Replaces the objects with those in `path`, if it exists.
    fn load(&mut self, path: &Path) -> io::Result<()> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let bad = |what: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {what}", path.display()),
            )
        };
        let doc: Json = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if doc.get("format").and_then(Json::as_str) != Some(WORLD_FORMAT) {
            return Err(bad(format!("not a `{WORLD_FORMAT}` file")));
        }
        let mut objects = IndexMap::new();
        let mut max_id = 0u64;
        let list = doc
            .get("objects")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        for o in &list {
            let field = |name: &str| {
                o.get(name)
                    .and_then(Json::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("an object has no `{name}`")))
            };
            let id = field("id")?;
            let address_text = field("address")?;
            let address = Address::parse(&address_text)
                .ok_or_else(|| bad(format!("bad address `{address_text}`")))?;
            let attrs = attrs_from_json(o.get("attrs").unwrap_or(&Json::Null), &mut |_| {
                Ok(Secret::new(UNKNOWN_SECRET))
            })
            .map_err(|e| bad(format!("`{id}`: {e}")))?;
            if let Some(n) = id.strip_prefix("mem-").and_then(|n| n.parse::<u64>().ok()) {
                max_id = max_id.max(n);
            }
            objects.insert(
                id.clone(),
                MemoryObject {
                    id,
                    kind: address.kind().to_string(),
                    address,
                    marker: field("marker")?,
                    tag: field("tag")?,
                    attrs,
                },
            );
        }
        let next_id = doc.get("next_id").and_then(Json::as_u64).unwrap_or(0);
        self.objects = objects;
        self.next_id = next_id.max(max_id);
        Ok(())
    }
}

/// The format tag of a persisted world.
const WORLD_FORMAT: &str = "lab-memory-world/1";

/// What a persisted world holds instead of a secret's plaintext.
const SECRET_PLACEHOLDER: &str = "(held in memory only)";

/// The value a secret loaded from a persisted world holds until the engine
/// tells the provider what it set (see [`MemoryProvider::persist_to`]).
const UNKNOWN_SECRET: &str = "\u{0}lab-memory:secret-not-persisted";

/// Reads back like a service that never returns secrets: a secret the
/// world no longer knows is reported as the value recorded in state.
fn observed_with_prior(obj: &MemoryObject, prior: &Attrs) -> Observed {
    let mut obs = obj.observed();
    for (k, v) in obs.attrs.iter_mut() {
        if matches!(v, Value::Secret(s) if s.expose() == UNKNOWN_SECRET) {
            if let Some(p) = prior.get(k) {
                *v = p.clone();
            }
        }
    }
    obs
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "world.json".into());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

struct World {
    /// The call-order counter behind [`CallRecord::start`] and `end`.
    clock: AtomicU64,
    state: Mutex<WorldState>,
}

impl World {
    fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Stamps the end of the call that started at `start`.
    fn finish(&self, start: u64) {
        let end = self.tick();
        let mut st = self.lock();
        if let Some(rec) = st.calls.iter_mut().rev().find(|c| c.start == start) {
            rec.end = Some(end);
        }
    }
}

/// Tracks how many operations (and holders of each limit key) are in
/// flight; undone on drop, so a cancelled call leaves no trace.
struct InFlight<'a> {
    world: &'a World,
    call_keys: Vec<String>,
    op_keys: Vec<String>,
    calls_held: bool,
}

impl<'a> InFlight<'a> {
    fn enter(world: &'a World, call_keys: Vec<String>, op_keys: Vec<String>) -> Self {
        let mut st = world.lock();
        st.ops_in_flight += 1;
        st.max_ops_in_flight = st.max_ops_in_flight.max(st.ops_in_flight);
        st.enter(&op_keys);
        st.enter(&call_keys);
        drop(st);
        InFlight {
            world,
            call_keys,
            op_keys,
            calls_held: true,
        }
    }

    fn release_calls(&mut self) {
        if self.calls_held {
            self.world.lock().leave(&self.call_keys);
            self.calls_held = false;
        }
    }

    fn reacquire_calls(&mut self) {
        if !self.calls_held {
            self.world.lock().enter(&self.call_keys);
            self.calls_held = true;
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut st = self.world.lock();
        st.ops_in_flight = st.ops_in_flight.saturating_sub(1);
        st.leave(&self.op_keys);
        if self.calls_held {
            st.leave(&self.call_keys);
        }
    }
}

// ---------------------------------------------------------------------------
// MemoryProvider
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct AttrLimit {
    field: String,
    capacity: usize,
    scope: LimitScope,
}

/// An in-memory [`Provider`] with simulated latency, contention limits,
/// fault injection, crash simulation, call accounting and optional
/// persistence to a JSON file.
///
/// Cloning it shares the simulated world (objects, counters, faults), so a
/// test keeps one clone to configure and inspect while the lab holds
/// another ([`MemoryProvider::shared`]). Builder methods (`with_*`,
/// `limit_*`, `force_new`, `persist_to`) configure the clone they are called
/// on and should be called before sharing; fault methods take `&self` and
/// work at any time.
///
/// Every create, update and delete:
/// 1. counts itself and stamps a [`CallRecord`];
/// 2. fails at once if a fault is armed for it (nothing changes);
/// 3. sleeps the configured call latency, holding its call slots;
/// 4. waits for its simulated remote task through [`OpContext::wait`]
///    (holding no call slot): the thing's `latency_ms` attribute, else the
///    configured wait;
/// 5. changes the world (and the persistence file), and returns; or, if
///    [`MemoryProvider::crash_at`] armed it, notifies and never returns.
///
/// ```
/// use std::time::Duration;
/// use lab_core::provider::{LimitScope, Provider};
/// use lab_core::testing::{Fault, MemoryProvider};
///
/// let memory = MemoryProvider::new()
///     .with_kinds(&["test.thing", "test.net"])
///     .with_latency(Duration::from_millis(2), Duration::from_millis(30))
///     .limit_calls(4)
///     .limit_by_attr("template", 1, LimitScope::Operation)
///     .force_new(&["image", "template"]);
/// let shared = memory.shared(); // for `lab.register_provider(..)`
/// memory.fail_resource("flaky", Fault::Transient); // configure after sharing
/// assert_eq!(shared.kinds(), vec!["test.thing", "test.net"]);
/// assert_eq!(shared.schema("test.thing").force_new, vec!["image", "template"]);
/// ```
#[derive(Clone)]
pub struct MemoryProvider {
    name: String,
    kinds: Vec<&'static str>,
    call: Duration,
    wait: Duration,
    call_limit: Option<usize>,
    attr_limits: Vec<AttrLimit>,
    force_new: Vec<&'static str>,
    reviewer: Option<Arc<Reviewer>>,
    world_check: Option<Arc<WorldCheck>>,
    identity: Option<&'static str>,
    rate: Option<RateLimit>,
    world: Arc<World>,
}

type Reviewer = dyn Fn(&StepReview<'_>) -> Result<Vec<String>, String> + Send + Sync;
type WorldCheck = dyn Fn(&PlanCheck<'_>, &[MemoryObject]) -> Vec<Diagnostic> + Send + Sync;

impl Default for MemoryProvider {
    fn default() -> Self {
        MemoryProvider::new()
    }
}

impl MemoryProvider {
    /// A provider named `memory` managing [`Thing::KIND`], with no latency,
    /// no limits, `image` forcing replacement and an empty world.
    pub fn new() -> Self {
        MemoryProvider {
            name: "memory".into(),
            kinds: vec![Thing::KIND],
            call: Duration::ZERO,
            wait: Duration::ZERO,
            call_limit: None,
            attr_limits: Vec::new(),
            force_new: vec!["image"],
            reviewer: None,
            world_check: None,
            identity: None,
            rate: None,
            world: Arc::new(World {
                clock: AtomicU64::new(0),
                state: Mutex::new(WorldState::default()),
            }),
        }
    }

    /// Manages these kinds instead (what [`Provider::kinds`] returns).
    pub fn with_kinds(mut self, kinds: &[&'static str]) -> Self {
        self.kinds = kinds.to_vec();
        self
    }

    /// Renames the provider (default `memory`). The name also prefixes its
    /// limit keys. Two providers registered in one lab need distinct names.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Simulated latency: every create, update and delete takes `call`
    /// holding its call slots, then waits `wait` (or the thing's
    /// `latency_ms`) holding none. A bulk read or an adopt takes `call` once.
    pub fn with_latency(mut self, call: Duration, wait: Duration) -> Self {
        self.call = call;
        self.wait = wait;
        self
    }

    /// At most `capacity` calls at once: every operation gets
    /// `Limit::calls("memory:calls", capacity)`.
    pub fn limit_calls(mut self, capacity: usize) -> Self {
        self.call_limit = Some(capacity.max(1));
        self
    }

    /// Operations whose attributes have `field` contend on
    /// `memory:{field}:{value}` with `capacity` holders at once, e.g. one
    /// clone per template: `limit_by_attr("template", 1, LimitScope::Operation)`.
    /// Secret and reference values give no key.
    pub fn limit_by_attr(mut self, field: &str, capacity: usize, scope: LimitScope) -> Self {
        self.attr_limits.push(AttrLimit {
            field: field.to_string(),
            capacity: capacity.max(1),
            scope,
        });
        self
    }

    /// Declares a request rate ([`Provider::rate_limit`]); every read and
    /// every create, update and delete takes a token first.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate = Some(limit);
        self
    }

    /// The fields whose change forces replacement (default `["image"]`).
    pub fn force_new(mut self, fields: &[&'static str]) -> Self {
        self.force_new = fields.to_vec();
        self
    }

    /// Answers [`Provider::review`] with `f`: notes for the plan, or a
    /// refusal that stops it.
    ///
    /// ```
    /// use lab_core::testing::MemoryProvider;
    /// let memory = MemoryProvider::new().review_with(|r| {
    ///     if r.changes.iter().any(|c| c.field == "kernel") {
    ///         Ok(vec!["reboots".to_string()])
    ///     } else {
    ///         Ok(Vec::new())
    ///     }
    /// });
    /// # let _ = memory;
    /// ```
    pub fn review_with(
        mut self,
        f: impl Fn(&StepReview<'_>) -> Result<Vec<String>, String> + Send + Sync + 'static,
    ) -> Self {
        self.reviewer = Some(Arc::new(f));
        self
    }

    /// Answers [`Provider::check_plan`] with `f`, given the plan's steps
    /// and the objects the world holds now: findings that stop the plan
    /// (errors) or show under their steps.
    pub fn check_plan_with(
        mut self,
        f: impl Fn(&PlanCheck<'_>, &[MemoryObject]) -> Vec<Diagnostic> + Send + Sync + 'static,
    ) -> Self {
        self.world_check = Some(Arc::new(f));
        self
    }

    /// Objects take their identity from `field` ([`Provider::identity`]
    /// is `field=value`), like a volume id: a create whose `field` another
    /// object already has fails, as the service would refuse it.
    pub fn identity_by(mut self, field: &'static str) -> Self {
        self.identity = Some(field);
        self
    }

    /// Keeps the simulated world in a JSON file: loads it now if the file
    /// exists, and rewrites it atomically (temporary file, fsync, rename)
    /// after every change, so a CLI demo keeps its world across runs.
    ///
    /// Secrets are never written: the file holds
    /// `{"$secret": "(held in memory only)"}` instead. A world loaded from a
    /// file does not know those secrets; like a real API that never returns
    /// a password, its bulk read then reports the value recorded in the
    /// lab's state (`ReadRequest::prior`), so an unchanged lab still plans
    /// as no changes.
    ///
    /// Fails if the file exists but cannot be read or is not a world file.
    pub fn persist_to(self, path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        {
            let mut st = self.world.lock();
            st.load(&path)?;
            st.persist = Some(path);
        }
        Ok(self)
    }

    /// The provider as the engine takes it, sharing this world.
    pub fn shared(&self) -> Arc<dyn Provider> {
        Arc::new(self.clone())
    }

    // -- faults ---------------------------------------------------------

    /// Makes the `n`-th mutating call from now (1 = the next one; creates,
    /// updates and deletes counted together, retries included) fail once
    /// with `fault`, before it changes anything.
    pub fn fail_at(&self, n: usize, fault: Fault) -> &Self {
        let mut st = self.world.lock();
        let at = st.mutating + nth(n);
        st.fail_at.insert(at, fault);
        self
    }

    /// Makes every mutating call for resources named `name` (any kind) fail
    /// with `fault`, until [`MemoryProvider::clear_faults`].
    pub fn fail_resource(&self, name: &str, fault: Fault) -> &Self {
        self.world
            .lock()
            .fail_resource
            .insert(name.to_string(), fault);
        self
    }

    /// Makes every bulk read fail with `fault` (a refresh failure), until
    /// [`MemoryProvider::clear_faults`].
    pub fn fail_reads(&self, fault: Fault) -> &Self {
        self.world.lock().fail_reads = Some(fault);
        self
    }

    /// Simulates the process dying in the middle of the `n`-th mutating
    /// call from now: that call performs its change on the world (and
    /// persists it), then notifies the returned [`Notify`] and never
    /// returns. The test then drops the apply future, and checks that the
    /// next run adopts the object instead of duplicating it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use lab_core::provider::{CreateRequest, OpContext, Ownership, Provider};
    /// use lab_core::testing::MemoryProvider;
    /// use lab_core::Address;
    ///
    /// let memory = MemoryProvider::new();
    /// let crashed = memory.crash_at(1);
    /// let address = Address::new("test.thing", "db");
    /// let owner = Ownership { lab: "home".into(), lineage: "abc".into(), address: address.clone() };
    /// let req = CreateRequest { address, attrs: Default::default(), owner: owner.clone() };
    /// let ctx = OpContext::detached();
    /// tokio::select! {
    ///     _ = memory.create(&ctx, &req) => unreachable!("a crashed call never returns"),
    ///     _ = crashed.notified() => {} // the "process" dies here
    /// }
    /// assert_eq!(memory.objects().len(), 1); // the object was created...
    /// assert!(!memory.adopt(&ctx, &owner, &Default::default()).await.unwrap().is_empty()); // ...and can be adopted
    /// # });
    /// ```
    pub fn crash_at(&self, n: usize) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        let mut st = self.world.lock();
        let at = st.mutating + nth(n);
        st.crash_at.push((at, notify.clone()));
        notify
    }

    /// Disarms every injected failure and crash.
    pub fn clear_faults(&self) -> &Self {
        let mut st = self.world.lock();
        st.fail_at.clear();
        st.fail_resource.clear();
        st.fail_reads = None;
        st.crash_at.clear();
        self
    }

    // -- outside changes ------------------------------------------------

    /// Changes field `field` of object `id` behind the lab's back (drift).
    /// Returns false if there is no such object.
    pub fn mutate_outside(&self, id: &str, field: &str, value: impl Into<Value>) -> bool {
        let mut st = self.world.lock();
        let Some(obj) = st.objects.get_mut(id) else {
            return false;
        };
        obj.attrs.insert(field.to_string(), value.into());
        persist_logged(&st);
        true
    }

    /// Deletes object `id` behind the lab's back. Returns false if there is
    /// no such object.
    pub fn delete_outside(&self, id: &str) -> bool {
        let mut st = self.world.lock();
        let found = st.objects.shift_remove(id).is_some();
        if found {
            persist_logged(&st);
        }
        found
    }

    // -- inspection -----------------------------------------------------

    /// Every object, in creation order.
    pub fn objects(&self) -> Vec<MemoryObject> {
        self.world.lock().objects.values().cloned().collect()
    }

    /// One object by id.
    pub fn object(&self, id: &str) -> Option<MemoryObject> {
        self.world.lock().objects.get(id).cloned()
    }

    /// The objects whose ownership marker names a resource called `name`
    /// (any kind). More than one means a duplicate.
    pub fn find_by_name(&self, name: &str) -> Vec<MemoryObject> {
        self.world
            .lock()
            .objects
            .values()
            .filter(|o| o.marker_name() == Some(name))
            .cloned()
            .collect()
    }

    /// How many calls of each kind were made.
    pub fn counts(&self) -> CallCounts {
        self.world.lock().counts
    }

    /// Every mutating call, in start order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.world.lock().calls.clone()
    }

    /// Forgets the counts, the call records and the concurrency maxima
    /// (e.g. between an apply and the plan that follows it).
    pub fn reset_counts(&self) {
        let mut st = self.world.lock();
        st.counts = CallCounts::default();
        st.calls.clear();
        st.max_in_flight.clear();
        st.max_ops_in_flight = st.ops_in_flight;
    }

    /// The most operations that held limit `key` at the same time, as
    /// seen by the provider: call-scoped keys count only while calls are
    /// in flight (not during [`OpContext::wait`]), operation-scoped ones
    /// for the whole operation.
    pub fn max_concurrent(&self, key: &str) -> usize {
        self.world
            .lock()
            .max_in_flight
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// The most mutating operations in flight at the same time.
    pub fn max_concurrent_ops(&self) -> usize {
        self.world.lock().max_ops_in_flight
    }

    // -- internals ------------------------------------------------------

    fn wait_for(&self, attrs: &Attrs) -> Duration {
        match attrs.get(LATENCY_ATTR).and_then(Value::as_i64) {
            Some(ms) if ms >= 0 => Duration::from_millis(ms.unsigned_abs()),
            _ => self.wait,
        }
    }

    /// The common path of create, update and delete (see the type's docs).
    async fn mutate<T: Send>(
        &self,
        ctx: &OpContext,
        op: OpKind,
        address: &Address,
        attrs: &Attrs,
        effect: impl FnOnce(&mut WorldState) -> Result<T, ProviderError> + Send,
    ) -> Result<T, ProviderError> {
        ctx.throttle().await;
        let limits = Provider::limits(self, &OpInfo { address, op, attrs });
        let (call_keys, op_keys): (Vec<Limit>, Vec<Limit>) = limits
            .into_iter()
            .partition(|l| l.scope == LimitScope::Call);
        let call_keys: Vec<String> = call_keys.into_iter().map(|l| l.key).collect();
        let op_keys: Vec<String> = op_keys.into_iter().map(|l| l.key).collect();

        let world = &*self.world;
        let start = world.tick();
        let (fault, crash, n) = {
            let mut st = world.lock();
            match op {
                OpKind::Create => st.counts.creates += 1,
                OpKind::Update => st.counts.updates += 1,
                OpKind::Delete => st.counts.deletes += 1,
            }
            st.mutating += 1;
            let n = st.mutating;
            st.calls.push(CallRecord {
                op,
                address: address.clone(),
                start,
                end: None,
                attempt: ctx.attempt(),
            });
            let fault = st
                .fail_at
                .remove(&n)
                .or_else(|| st.fail_resource.get(address.name()).copied());
            let crash = match fault {
                Some(_) => None,
                None => st
                    .crash_at
                    .iter()
                    .position(|(at, _)| *at == n)
                    .map(|i| st.crash_at.remove(i).1),
            };
            (fault, crash, n)
        };
        let mut flight = InFlight::enter(world, call_keys, op_keys);

        if let Some(fault) = fault {
            drop(flight);
            world.finish(start);
            return Err(fault.error(format!("{op} `{address}` (mutating call #{n})")));
        }
        if !self.call.is_zero() {
            tokio::time::sleep(self.call).await;
        }
        let wait = self.wait_for(attrs);
        if !wait.is_zero() {
            flight.release_calls();
            ctx.wait(tokio::time::sleep(wait)).await;
            flight.reacquire_calls();
        }
        let result = {
            let mut st = world.lock();
            match effect(&mut st) {
                Ok(v) => match st.persist() {
                    Ok(()) => Ok(v),
                    Err(e) => Err(ProviderError::permanent(format!(
                        "cannot persist the simulated world after {op} `{address}`: {e}"
                    ))),
                },
                Err(e) => Err(e),
            }
        };
        if let Some(notify) = crash {
            // The process "dies" here: the change is made, the answer is lost.
            notify.notify_one();
            loop {
                std::future::pending::<()>().await;
            }
        }
        drop(flight);
        world.finish(start);
        result
    }
}

/// A 1-based call position as a counter offset (0 is taken as 1).
fn nth(n: usize) -> u64 {
    u64::try_from(n.max(1)).unwrap_or(u64::MAX)
}

/// Persists after an outside change; such helpers return no error, so a
/// failure is logged.
fn persist_logged(st: &WorldState) {
    if let Err(e) = st.persist() {
        tracing::warn!("cannot persist the simulated world: {e}");
    }
}

/// Refuses attributes that still hold unresolved references: the engine
/// must resolve them before calling the provider.
fn check_resolved(address: &Address, attrs: &Attrs) -> Result<(), ProviderError> {
    match attrs.iter().find(|(_, v)| v.contains_ref()) {
        Some((field, _)) => Err(ProviderError::permanent(format!(
            "`{address}`: field `{field}` is still an unresolved reference"
        ))),
        None => Ok(()),
    }
}

/// The value part of an attribute-based limit key.
fn limit_value(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Null | Value::Secret(_) | Value::Ref(_) => None,
        other => Some(other.to_string()),
    }
}

impl fmt::Debug for MemoryProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.world.lock();
        f.debug_struct("MemoryProvider")
            .field("name", &self.name)
            .field("kinds", &self.kinds)
            .field("objects", &st.objects.len())
            .field("counts", &st.counts)
            .finish()
    }
}

#[async_trait]
impl Provider for MemoryProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.kinds.clone()
    }

    fn schema(&self, _kind: &str) -> KindSchema {
        let each = self.call + self.wait;
        KindSchema {
            force_new: self.force_new.clone(),
            ignore: Vec::new(),
            estimate: Estimates {
                create: each,
                update: each,
                delete: each,
            },
        }
    }

    fn rate_limit(&self) -> Option<RateLimit> {
        self.rate
    }

    async fn read(
        &self,
        ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        ctx.throttle().await;
        let fault = {
            let mut st = self.world.lock();
            st.counts.reads += 1;
            st.fail_reads
        };
        if let Some(fault) = fault {
            return Err(fault.error(format!("bulk read of {} object(s)", requests.len())));
        }
        if !self.call.is_zero() {
            tokio::time::sleep(self.call).await;
        }
        let st = self.world.lock();
        Ok(requests
            .iter()
            .map(|r| {
                st.objects
                    .get(&r.id)
                    .map(|o| observed_with_prior(o, &r.prior))
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError> {
        self.mutate(ctx, OpKind::Create, &req.address, &req.attrs, |st| {
            check_resolved(&req.address, &req.attrs)?;
            if let Some(field) = self.identity {
                let taken = req.attrs.get(field).and_then(|want| {
                    st.objects
                        .values()
                        .find(|o| o.attrs.get(field) == Some(want))
                });
                if let Some(other) = taken {
                    return Err(ProviderError::permanent(format!(
                        "create of `{}`: `{field}={}` already exists (object `{}`)",
                        req.address, req.attrs[field], other.id
                    )));
                }
            }
            st.next_id += 1;
            let obj = MemoryObject {
                id: format!("mem-{}", st.next_id),
                kind: req.address.kind().to_string(),
                address: req.address.clone(),
                marker: req.owner.marker(),
                tag: req.owner.tag(),
                attrs: req.attrs.clone(),
            };
            let observed = obj.observed();
            st.objects.insert(obj.id.clone(), obj);
            Ok(observed)
        })
        .await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError> {
        self.mutate(ctx, OpKind::Update, &req.address, &req.attrs, |st| {
            check_resolved(&req.address, &req.attrs)?;
            let obj = st.objects.get_mut(&req.id).ok_or_else(|| {
                ProviderError::permanent(format!(
                    "update of `{}`: object `{}` does not exist",
                    req.address, req.id
                ))
            })?;
            obj.attrs = req.attrs.clone();
            obj.marker = req.owner.marker();
            obj.tag = req.owner.tag();
            Ok(obj.observed())
        })
        .await
    }

    async fn delete(&self, ctx: &OpContext, req: &DeleteRequest) -> Result<(), ProviderError> {
        self.mutate(ctx, OpKind::Delete, &req.address, &req.prior, |st| {
            st.objects.shift_remove(&req.id);
            Ok(())
        })
        .await
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        _desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError> {
        self.world.lock().counts.adopts += 1;
        if !self.call.is_zero() {
            tokio::time::sleep(self.call).await;
        }
        let (marker, tag) = (owner.marker(), owner.tag());
        let st = self.world.lock();
        Ok(st
            .objects
            .values()
            .filter(|o| o.marker == marker && o.tag == tag)
            .map(MemoryObject::observed)
            .collect())
    }

    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        match &self.reviewer {
            Some(f) => f(review),
            None => Ok(Vec::new()),
        }
    }

    async fn check_plan(
        &self,
        _ctx: &OpContext,
        plan: &PlanCheck<'_>,
    ) -> Result<Vec<Diagnostic>, ProviderError> {
        let Some(f) = &self.world_check else {
            return Ok(Vec::new());
        };
        let objects: Vec<MemoryObject> = self.world.lock().objects.values().cloned().collect();
        Ok(f(plan, &objects))
    }

    fn identity(&self, _kind: &str, attrs: &Attrs) -> Option<String> {
        let field = self.identity?;
        let value = attrs.get(field).filter(|v| !v.contains_ref())?;
        match value.as_str() {
            Some(text) => Some(format!("{field}={text}")),
            None => Some(format!("{field}={value}")),
        }
    }

    fn limits(&self, op: &OpInfo<'_>) -> Vec<Limit> {
        let mut out = Vec::new();
        if let Some(capacity) = self.call_limit {
            out.push(Limit::calls(format!("{}:calls", self.name), capacity));
        }
        for l in &self.attr_limits {
            if let Some(value) = op.attrs.get(&l.field).and_then(limit_value) {
                out.push(Limit {
                    key: format!("{}:{}:{}", self.name, l.field, value),
                    capacity: l.capacity,
                    scope: l.scope,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(name: &str) -> Ownership {
        Ownership {
            lab: "home".into(),
            lineage: "3f9c2a1b-aaaa".into(),
            address: Address::new(Thing::KIND, name),
        }
    }

    fn create_req(name: &str, attrs: &[(&str, Value)]) -> CreateRequest {
        CreateRequest {
            address: Address::new(Thing::KIND, name),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            owner: owner(name),
        }
    }

    fn read_req(id: &str) -> ReadRequest {
        ReadRequest {
            address: Address::new(Thing::KIND, "x"),
            id: id.into(),
            prior: Attrs::new(),
            prior_outputs: Attrs::new(),
            owner: owner("x"),
        }
    }

    #[tokio::test]
    async fn bulk_read_counts_one_call() {
        let m = MemoryProvider::new();
        let ctx = OpContext::detached();
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(
                m.create(&ctx, &create_req(&format!("t{i}"), &[]))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut reqs: Vec<ReadRequest> = ids.iter().map(|id| read_req(id)).collect();
        reqs.push(read_req("mem-999"));
        let out = m.read(&ctx, &reqs).await.unwrap();
        assert_eq!(m.counts().reads, 1);
        assert_eq!(out.len(), 6);
        assert!(out[..5].iter().all(Option::is_some));
        assert!(out[5].is_none());
        assert_eq!(
            out[2].as_ref().unwrap().outputs["id"],
            Value::Str("mem-3".into())
        );
        assert_eq!(m.counts().creates, 5);
        assert_eq!(m.counts().mutating(), 5);
    }

    #[tokio::test]
    async fn crash_at_performs_the_side_effect_and_notifies() {
        let m = MemoryProvider::new();
        let ctx = OpContext::detached();
        m.create(&ctx, &create_req("first", &[])).await.unwrap();
        let crashed = m.crash_at(1);
        let req = create_req("second", &[("size", Value::Int(3))]);
        let call = m.create(&ctx, &req);
        tokio::select! {
            _ = call => panic!("a crashed call never returns"),
            _ = crashed.notified() => {}
        }
        let objs = m.find_by_name("second");
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].attrs["size"], Value::Int(3));
        let rec = m
            .calls()
            .into_iter()
            .find(|c| c.address.name() == "second")
            .unwrap();
        assert_eq!(rec.end, None, "the crashed call never returned");
        assert_eq!(m.max_concurrent_ops(), 1);
        // Fires once: the next call is normal.
        m.create(&ctx, &create_req("third", &[])).await.unwrap();
        assert_eq!(m.objects().len(), 3);
    }

    #[tokio::test]
    async fn crash_during_delete_deletes() {
        let m = MemoryProvider::new();
        let ctx = OpContext::detached();
        let id = m.create(&ctx, &create_req("a", &[])).await.unwrap().id;
        let crashed = m.crash_at(1);
        let req = DeleteRequest {
            address: Address::new(Thing::KIND, "a"),
            id,
            prior: Attrs::new(),
            owner: owner("a"),
        };
        tokio::select! {
            _ = m.delete(&ctx, &req) => panic!("a crashed call never returns"),
            _ = crashed.notified() => {}
        }
        assert!(m.objects().is_empty());
    }

    #[tokio::test]
    async fn fail_at_transient_fails_once() {
        let m = MemoryProvider::new();
        let ctx = OpContext::detached();
        m.create(&ctx, &create_req("a", &[])).await.unwrap();
        m.fail_at(2, Fault::Transient);
        m.create(&ctx, &create_req("b", &[])).await.unwrap(); // 1st from now
        let err = m.create(&ctx, &create_req("c", &[])).await.unwrap_err(); // 2nd
        assert!(err.is_transient());
        assert!(err.message.contains("test.thing.c"), "{}", err.message);
        assert!(m.find_by_name("c").is_empty(), "nothing was done");
        m.create(&ctx, &create_req("c", &[])).await.unwrap(); // the retry succeeds
        assert_eq!(m.find_by_name("c").len(), 1);
        assert_eq!(m.counts().creates, 4);
        let calls = m.calls();
        assert_eq!(calls.len(), 4);
        assert!(calls.iter().all(|c| c.end.is_some()));
        assert!(calls.windows(2).all(|w| w[1].start > w[0].end.unwrap()));
    }

    #[tokio::test]
    async fn permanent_faults_and_clear() {
        let m = MemoryProvider::new();
        let ctx = OpContext::detached();
        m.fail_at(1, Fault::Permanent);
        assert!(!m
            .create(&ctx, &create_req("a", &[]))
            .await
            .unwrap_err()
            .is_transient());
        m.fail_resource("bad", Fault::Permanent);
        for _ in 0..3 {
            assert!(!m
                .create(&ctx, &create_req("bad", &[]))
                .await
                .unwrap_err()
                .is_transient());
        }
        m.create(&ctx, &create_req("good", &[])).await.unwrap();
        m.fail_reads(Fault::Transient);
        assert!(m.read(&ctx, &[]).await.unwrap_err().is_transient());
        m.clear_faults();
        m.create(&ctx, &create_req("bad", &[])).await.unwrap();
        m.read(&ctx, &[]).await.unwrap();
    }

    #[tokio::test]
    async fn adopt_finds_by_marker_and_tag() {
        let m = MemoryProvider::new();
        let ctx = OpContext::detached();
        let created = m.create(&ctx, &create_req("db", &[])).await.unwrap();
        m.create(&ctx, &create_req("other", &[])).await.unwrap();
        let found = m.adopt(&ctx, &owner("db"), &Attrs::new()).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, created.id);
        assert!(m
            .adopt(&ctx, &owner("nope"), &Attrs::new())
            .await
            .unwrap()
            .is_empty());
        let mut other_lab = owner("db");
        other_lab.lineage = "ffffffff".into();
        assert!(
            m.adopt(&ctx, &other_lab, &Attrs::new())
                .await
                .unwrap()
                .is_empty(),
            "tag must match"
        );
        assert_eq!(m.counts().adopts, 3);
    }

    #[test]
    fn limits_for_attrs_and_calls() {
        let m = MemoryProvider::new()
            .limit_calls(3)
            .limit_by_attr("template", 1, LimitScope::Operation)
            .limit_by_attr("node", 2, LimitScope::Call);
        let address = Address::new(Thing::KIND, "vm");
        let mut attrs = Attrs::new();
        attrs.insert("template".into(), Value::Str("debian-13".into()));
        attrs.insert("token".into(), Value::Secret(Secret::new("x")));
        let limits = m.limits(&OpInfo {
            address: &address,
            op: OpKind::Create,
            attrs: &attrs,
        });
        assert_eq!(
            limits,
            vec![
                Limit::calls("memory:calls", 3),
                Limit::operation("memory:template:debian-13", 1),
            ]
        );
        attrs.insert("node".into(), Value::Int(7));
        let limits = m.limits(&OpInfo {
            address: &address,
            op: OpKind::Delete,
            attrs: &attrs,
        });
        assert!(limits.contains(&Limit::calls("memory:node:7", 2)));
        let m2 = MemoryProvider::new().limit_by_attr("token", 1, LimitScope::Call);
        assert!(m2
            .limits(&OpInfo {
                address: &address,
                op: OpKind::Create,
                attrs: &attrs
            })
            .is_empty());
    }

    #[tokio::test]
    async fn update_replaces_attrs_delete_is_idempotent_and_drift() {
        let m = MemoryProvider::new();
        let ctx = OpContext::detached();
        let c = m
            .create(
                &ctx,
                &create_req("a", &[("x", Value::Int(1)), ("y", Value::Int(2))]),
            )
            .await
            .unwrap();
        let mut attrs = Attrs::new();
        attrs.insert("x".into(), Value::Int(5));
        let upd = UpdateRequest {
            address: Address::new(Thing::KIND, "a"),
            id: c.id.clone(),
            prior: c.attrs.clone(),
            prior_outputs: c.outputs.clone(),
            attrs: attrs.clone(),
            changes: Vec::new(),
            owner: owner("a"),
        };
        assert_eq!(m.update(&ctx, &upd).await.unwrap().attrs, attrs);
        assert!(m.mutate_outside(&c.id, "x", 9));
        assert_eq!(m.object(&c.id).unwrap().attrs["x"], Value::Int(9));
        let del = DeleteRequest {
            address: upd.address.clone(),
            id: c.id.clone(),
            prior: attrs,
            owner: owner("x"),
        };
        m.delete(&ctx, &del).await.unwrap();
        m.delete(&ctx, &del).await.unwrap();
        assert!(m.update(&ctx, &upd).await.is_err());
        assert!(!m.delete_outside(&c.id));
        // Ids are never reused.
        assert_eq!(
            m.create(&ctx, &create_req("b", &[])).await.unwrap().id,
            "mem-2"
        );
    }

    #[tokio::test]
    async fn unresolved_references_are_refused() {
        let m = MemoryProvider::new();
        let r = Value::Ref(crate::value::OutputRef {
            address: Address::new(Thing::KIND, "db"),
            output: "id".into(),
        });
        let err = m
            .create(&OpContext::detached(), &create_req("a", &[("db", r)]))
            .await
            .unwrap_err();
        assert!(err.message.contains("unresolved"));
        assert!(m.objects().is_empty());
    }

    #[tokio::test]
    async fn latency_and_concurrency_tracking() {
        let m = MemoryProvider::new()
            .with_latency(Duration::from_millis(5), Duration::from_millis(30))
            .limit_by_attr("template", 1, LimitScope::Operation)
            .limit_calls(8);
        assert_eq!(
            m.schema(Thing::KIND).estimate.create,
            Duration::from_millis(35)
        );
        let ctx = OpContext::detached();
        let started = std::time::Instant::now();
        let a = create_req("a", &[("template", "t".into())]);
        let b = create_req("b", &[("template", "t".into())]);
        let c = create_req("c", &[(LATENCY_ATTR, Value::Int(80))]);
        let (ra, rb, rc) = tokio::join!(m.create(&ctx, &a), m.create(&ctx, &b), m.create(&ctx, &c));
        ra.unwrap();
        rb.unwrap();
        rc.unwrap();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(85),
            "latency_ms overrides the wait: {took:?}"
        );
        assert!(took < Duration::from_secs(5));
        // The provider does not enforce limits (the engine does); it reports them.
        assert_eq!(m.max_concurrent("memory:template:t"), 2);
        assert_eq!(m.max_concurrent("memory:calls"), 3);
        assert_eq!(m.max_concurrent_ops(), 3);
        m.reset_counts();
        assert_eq!(m.counts(), CallCounts::default());
        assert_eq!(m.max_concurrent("memory:calls"), 0);
        let started = std::time::Instant::now();
        m.read(&ctx, &[read_req("mem-1"), read_req("mem-2")])
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(5),
            "one call per bulk read"
        );
        assert_eq!(m.counts().reads, 1);
    }

    #[tokio::test]
    async fn persists_without_secrets_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim").join("world.json");
        let m = MemoryProvider::new().persist_to(&path).unwrap();
        let ctx = OpContext::detached();
        let req = create_req(
            "db",
            &[
                ("size", Value::Int(20)),
                ("password", Value::Secret(Secret::new("hunter2"))),
            ],
        );
        let c = m.create(&ctx, &req).await.unwrap();
        assert_eq!(
            c.attrs["password"],
            Value::Secret(Secret::new("hunter2")),
            "kept in memory"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2"));
        assert!(!text.contains("2retnuh"));
        assert!(text.contains(SECRET_PLACEHOLDER));

        let again = MemoryProvider::new().persist_to(&path).unwrap();
        let objs = again.objects();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].attrs["size"], Value::Int(20));
        assert_eq!(
            objs[0].attrs["password"],
            Value::Secret(Secret::new(UNKNOWN_SECRET))
        );
        assert_eq!(objs[0].marker, "lab:home/test.thing.db");
        // Read back, the unknown secret is what the state recorded.
        let mut prior = Attrs::new();
        prior.insert("password".into(), Value::Secret(Secret::new("hunter2")));
        let read = again
            .read(
                &ctx,
                &[ReadRequest {
                    address: objs[0].address.clone(),
                    id: objs[0].id.clone(),
                    prior,
                    prior_outputs: Attrs::new(),
                    owner: owner("db"),
                }],
            )
            .await
            .unwrap();
        assert_eq!(
            read[0].as_ref().unwrap().attrs["password"],
            Value::Secret(Secret::new("hunter2"))
        );
        assert!(!again
            .adopt(&ctx, &owner("db"), &Attrs::new())
            .await
            .unwrap()
            .is_empty());
        let next = again.create(&ctx, &create_req("b", &[])).await.unwrap();
        assert_eq!(next.id, "mem-2", "ids continue after a reload");

        std::fs::write(&path, "{\"not\": \"a world\"}").unwrap();
        assert!(MemoryProvider::new().persist_to(&path).is_err());
        assert!(MemoryProvider::new()
            .persist_to(dir.path().join("missing.json"))
            .is_ok());
    }

    #[test]
    fn thing_builder_records_caller_lines() {
        let mut lab = crate::Lab::new("home");
        let a = lab.add(Thing::new("a"));
        let line = line!() + 1;
        let b = Thing::new("b").attr("k", 1).after(&a).latency_ms(5);
        let spec = b.into_spec();
        assert_eq!(spec.declared_at.line(), line);
        assert_eq!(spec.loc_of("k").line(), line);
        assert_eq!(spec.loc_of(LATENCY_ATTR).line(), line);
        assert_eq!(spec.deps[0].via, "after");
        assert_eq!(spec.deps[0].loc.line(), line);
        assert_eq!(Thing::of_kind("test.net", "lan").spec().kind(), "test.net");
    }

    #[test]
    fn input_accepts_values_and_outputs() {
        let mut lab = crate::Lab::new("home");
        let db = lab.add(Thing::new("db"));
        let out = db.output::<String>("id");
        let spec = Thing::new("app")
            .input("a", &out)
            .input("b", out.clone())
            .input("c", "text")
            .input("d", 42)
            .input("e", Input::Value(true))
            .into_spec();
        assert_eq!(spec.deps.len(), 2);
        assert!(matches!(spec.attrs["a"], Value::Ref(_)));
        assert!(matches!(spec.attrs["b"], Value::Ref(_)));
        assert_eq!(spec.attrs["c"], Value::Str("text".into()));
        assert_eq!(spec.attrs["d"], Value::Int(42));
        assert_eq!(spec.attrs["e"], Value::Bool(true));
    }

    #[test]
    fn provider_is_send_sync_and_clone_shares_the_world() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MemoryProvider>();
        let m = MemoryProvider::new();
        let shared = m.shared();
        assert_eq!(shared.name(), "memory");
        assert_eq!(shared.kinds(), vec![Thing::KIND]);
        assert_eq!(shared.schema(Thing::KIND).force_new, vec!["image"]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            shared
                .create(&OpContext::detached(), &create_req("x", &[]))
                .await
                .unwrap();
        });
        assert_eq!(m.objects().len(), 1);
    }
}
