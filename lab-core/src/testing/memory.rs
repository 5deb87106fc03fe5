//! [`MemoryProvider`]: a `Provider` over an in-memory world, with
//! latency, contention keys, faults and crash points.

use super::thing::LATENCY_ATTR;
use super::world::*;
use super::*;

#[derive(Clone, Debug)]
pub(super) struct AttrLimit {
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

    pub(super) fn wait_for(&self, attrs: &Attrs) -> Duration {
        match attrs.get(LATENCY_ATTR).and_then(Value::as_i64) {
            Some(ms) if ms >= 0 => Duration::from_millis(ms.unsigned_abs()),
            _ => self.wait,
        }
    }

    /// The common path of create, update and delete (see the type's docs).
    pub(super) async fn mutate<T: Send>(
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
pub(super) fn nth(n: usize) -> u64 {
    u64::try_from(n.max(1)).unwrap_or(u64::MAX)
}

/// Persists after an outside change; such helpers return no error, so a
/// failure is logged.
pub(super) fn persist_logged(st: &WorldState) {
    if let Err(e) = st.persist() {
        tracing::warn!("cannot persist the simulated world: {e}");
    }
}

/// Refuses attributes that still hold unresolved references: the engine
/// must resolve them before calling the provider.
pub(super) fn check_resolved(address: &Address, attrs: &Attrs) -> Result<(), ProviderError> {
    match attrs.iter().find(|(_, v)| v.contains_ref()) {
        Some((field, _)) => Err(ProviderError::permanent(format!(
            "`{address}`: field `{field}` is still an unresolved reference"
        ))),
        None => Ok(()),
    }
}

/// The value part of an attribute-based limit key.
pub(super) fn limit_value(v: &Value) -> Option<String> {
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
