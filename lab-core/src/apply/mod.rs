//! The executor: runs a plan's operations concurrently, in dependency order.
//!
//! - An operation starts as soon as what it needs is done; among operations
//!   waiting for capacity, the one with the longest remaining path (by
//!   estimated or measured duration) goes first ([`ops`], [`Limiter`]).
//! - Concurrency is limited per contended key the provider declares (one
//!   clone per template, N calls per node) and by a global cap on calls
//!   (`parallelism`). Call-scoped permits are given back while a provider
//!   waits on a remote task ([`crate::OpContext::wait`]).
//! - Before each call an intent is journaled; after it the result goes into
//!   the in-memory state, which one saver task saves atomically, back to
//!   back, and each `Done` is journaled once a save holds its change
//!   (group commit, in `apply/commit.rs`: operations that start or finish together
//!   share one journal append or one save). A crash at any point leaves a
//!   journal and a state the next run completes (adopting by claim or
//!   ownership marker).
//! - A failed operation stops only what depends on it. Transient errors are
//!   retried with capped exponential backoff and jitter.

pub mod ops;

mod commit;
mod limiter;
mod retry;

pub use limiter::{Limiter, OpSlots, Permits};
pub use retry::RetryPolicy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::task::JoinSet;

use crate::engine::{Engine, EngineError};
use crate::events::{Event, EventSink};
use crate::plan::compute::{estimate_op, instance_named, move_entry, resolve_from_state};
use crate::plan::{Action, Plan, PlanStep};
use crate::provider::{
    Claim, ClaimJournal, CreateRequest, DeleteRequest, Limit, LimitScope, Observed, OpContext,
    OpInfo, OpKind, Ownership, Provider, TokenBucket, UpdateRequest,
};
use crate::state::{
    pending, JournalRecord, PendingCreate, ResourceState, State, StateError, StateStore,
};
use crate::Address;
use ops::{Op, OpGraph};

/// Options of an apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Global cap on concurrent calls.
    pub parallelism: usize,
    /// Retry policy for transient errors.
    pub retry: RetryPolicy,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            retry: RetryPolicy::default(),
        }
    }
}

/// One operation that ran to completion.
#[derive(Clone, Debug, PartialEq)]
pub struct OpDone {
    /// The resource.
    pub address: Address,
    /// The operation.
    pub op: OpKind,
    /// How long it took, retries included.
    pub elapsed: Duration,
    /// How many tries it took.
    pub attempts: u32,
}

/// One operation that failed for good.
#[derive(Clone, Debug, PartialEq)]
pub struct OpFailed {
    /// The resource.
    pub address: Address,
    /// The operation.
    pub op: OpKind,
    /// The last error.
    pub error: String,
    /// How many tries were made.
    pub attempts: u32,
}

/// One operation not run because something it needs failed.
#[derive(Clone, Debug, PartialEq)]
pub struct OpSkipped {
    /// The resource.
    pub address: Address,
    /// The operation.
    pub op: OpKind,
    /// The failed resource it waited for.
    pub because: Address,
}

/// What an apply did: the summary the CLI prints and tests assert on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyReport {
    /// Operations that succeeded, in completion order.
    pub done: Vec<OpDone>,
    /// Operations that failed.
    pub failed: Vec<OpFailed>,
    /// Operations skipped because a dependency failed.
    pub skipped: Vec<OpSkipped>,
    /// Interrupted operations of an earlier run resolved first (address, outcome).
    pub recovered: Vec<(Address, String)>,
    /// State entries renamed (`Lab::moved`): (from, to).
    pub moved: Vec<(Address, Address)>,
    /// Why the run stopped starting operations early (a provider rejected
    /// its credentials), with what to fix.
    pub stopped: Option<String>,
    /// Wall-clock time of the apply.
    pub elapsed: Duration,
}

impl ApplyReport {
    /// True if nothing failed or was skipped.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.stopped.is_none()
    }
}

/// The provider instance a step runs through.
#[derive(Clone)]
struct StepProvider {
    name: String,
    provider: Arc<dyn Provider>,
    rate: Option<Arc<TokenBucket>>,
    /// The identities the instance's pending creates hold.
    held: Arc<Vec<Claim>>,
}

/// Everything the operation tasks share.
struct Shared {
    state: Mutex<State>,
    store: Arc<dyn StateStore>,
    sink: Option<EventSink>,
    run: String,
    lab: String,
    fatal: Mutex<Option<StateError>>,
    /// Set when a provider rejects its credentials: no new operation starts.
    stop: Mutex<Option<(Address, String)>>,
    limiter: Arc<Limiter>,
    global: Limit,
    retry: RetryPolicy,
    /// Creates recovery found blocked (what a person must do first): not attempted.
    blocked: Vec<(Address, String)>,
    /// Group commit of the state ([`commit::saver`]).
    commits: Mutex<commit::Commits>,
    /// Wakes the saver when a change is recorded or the run ends.
    changes: tokio::sync::Notify,
    /// Group commit of the journal ([`Shared::journal_now`]).
    journal: Mutex<commit::JournalQueue>,
    /// Wakes the operations waiting for a journal append when one ends.
    journaled: tokio::sync::Notify,
}

impl Shared {
    fn emit(&self, e: Event) {
        if let Some(s) = &self.sink {
            s(&e);
        }
    }

    fn set_fatal(&self, e: StateError) {
        let mut f = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(e);
        }
    }

    fn stop(&self, address: &Address, why: String) {
        let mut s = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_none() {
            *s = Some((address.clone(), why));
        }
    }

    fn stopped(&self) -> Option<(Address, String)> {
        self.stop.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn is_fatal(&self) -> bool {
        self.fatal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

type OpResult = Result<(u32, Duration), (u32, String)>;

/// Aborts a task when dropped (the state saver, when a run is dropped).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Journals one operation's claims ([`OpContext::claim`]) and keeps their
/// merge, so a failed create can leave its identity in the state.
struct OpJournal {
    store: Arc<dyn StateStore>,
    run: String,
    op: u64,
    merged: Mutex<Claim>,
}

impl ClaimJournal for OpJournal {
    fn record(&self, claim: &Claim) -> Result<(), String> {
        self.store
            .journal_append(&JournalRecord::Claim {
                run: self.run.clone(),
                op: self.op,
                claim: claim.clone(),
            })
            .map_err(|e| e.to_string())?;
        self.merged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .merge(claim);
        Ok(())
    }
}

/// The longest `Retry-After` the engine honours; a longer one is a sign of
/// a quota the run should not sit out.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(900);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn stale(reason: impl Into<String>) -> EngineError {
    EngineError::StalePlan {
        reason: reason.into(),
    }
}

pub(crate) async fn apply(
    engine: &Engine,
    plan: &Plan,
    opts: &ApplyOptions,
) -> Result<ApplyReport, EngineError> {
    let started = Instant::now();
    let lab = &engine.lab;
    let store = engine.store.clone();
    let _lock = store.lock(if plan.destroy { "destroy" } else { "apply" })?;
    if plan.lab != lab.name() {
        return Err(stale(format!(
            "it was made for lab `{}`, not `{}`",
            plan.lab,
            lab.name()
        )));
    }
    if !pending(&store.journal_read()?).is_empty() {
        return Err(stale(
            "an interrupted run left operations to resolve since it was made",
        ));
    }
    let loaded = store.load_lab(lab.name())?;
    match (&plan.lineage, &loaded) {
        (None, None) => {}
        (None, Some(s))
            if s.serial == 0
                || s.resources.is_empty() && plan.state_serial == 0 && s.serial <= 1 => {}
        (Some(l), Some(s)) if *l == s.lineage && plan.state_serial == s.serial => {}
        (Some(l), Some(s)) if *l != s.lineage => {
            return Err(stale(format!(
                "the state's lineage is {}, the plan's {}",
                s.lineage, l
            )));
        }
        (_, Some(s)) => {
            return Err(stale(format!(
                "the state moved from serial {} to {} since the plan was made",
                plan.state_serial, s.serial
            )));
        }
        (Some(_), None) => return Err(stale("the state it was made against no longer exists")),
    }
    // A saved plan applied by another process: the simulators that take
    // their shape from the lab see it before the first call.
    crate::plan::compute::prepare(engine)?;
    let mut report = ApplyReport {
        recovered: plan
            .recovered
            .iter()
            .map(|r| (r.address.clone(), r.outcome.clone()))
            .collect(),
        ..ApplyReport::default()
    };
    if !plan.has_changes() {
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let mut state = loaded.unwrap_or_else(|| State::new(lab.name()));
    if state.serial == 0 {
        // Fix the lineage on disk before the first call: ownership markers carry it.
        state.serial = 1;
        store.save(&state)?;
    }
    let mut providers: Vec<StepProvider> = Vec::with_capacity(plan.steps.len());
    // The identities each instance's pending creates hold, once per instance.
    let mut held_by: HashMap<&str, Arc<Vec<Claim>>> = HashMap::new();
    for s in &plan.steps {
        let instance =
            instance_named(lab, &s.address, &s.provider, &s.provider).ok_or_else(|| {
                EngineError::NoProvider {
                    kind: s.address.kind().to_string(),
                    address: s.address.to_string(),
                    declared_at: s.declared_at.clone().unwrap_or_else(|| "the plan".into()),
                }
            })?;
        let held = held_by
            .entry(instance.name.as_str())
            .or_insert_with(|| {
                Arc::new(
                    state
                        .pending
                        .values()
                        .filter(|p| p.provider.is_empty() || p.provider == instance.name)
                        .map(|p| p.claim.clone())
                        .collect(),
                )
            })
            .clone();
        providers.push(StepProvider {
            name: instance.name.clone(),
            provider: instance.provider.clone(),
            rate: engine.rate_bucket(&instance.name),
            held,
        });
    }
    if !plan.moves.is_empty() {
        for m in &plan.moves {
            move_entry(&mut state, &m.from, &m.to);
            report.moved.push((m.from.clone(), m.to.clone()));
        }
        state.serial += 1;
        store.save(&state)?;
    }
    let graph = OpGraph::build(plan, &|a: &Address, op: OpKind| {
        estimate_op(engine, &state, a, op)
    });
    if graph.topo_order().is_none() {
        return Err(EngineError::PlanFile(
            "the plan's operations form a cycle".into(),
        ));
    }
    let run = format!(
        "{}-{}",
        &state.lineage[..state.lineage.len().min(8)],
        state.serial
    );
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        store: store.clone(),
        sink: engine.sink.clone(),
        run,
        lab: lab.name().to_string(),
        fatal: Mutex::new(None),
        stop: Mutex::new(None),
        limiter: Limiter::new(),
        global: Limit::calls("engine:parallelism", opts.parallelism.max(1)),
        retry: opts.retry.clone(),
        blocked: plan
            .recovered
            .iter()
            .filter(|r| r.needs_attention)
            .map(|r| (r.address.clone(), r.outcome.clone()))
            .collect(),
        commits: Mutex::new(commit::Commits::default()),
        changes: tokio::sync::Notify::new(),
        journal: Mutex::new(commit::JournalQueue::default()),
        journaled: tokio::sync::Notify::new(),
    });
    let steps: Vec<Arc<PlanStep>> = plan.steps.iter().cloned().map(Arc::new).collect();

    let n = graph.ops.len();
    let mut waiting: Vec<usize> = graph.needs.iter().map(Vec::len).collect();
    let mut finished = vec![false; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    // The state saver runs beside the operations, in a task of its own so
    // that a save never holds up starting the next operations. A run that
    // is dropped (a crash, a timeout) aborts it: it stops at its next await
    // (a save already under way finishes, as one in an operation's task
    // would; the serial check refuses any plan made against the state it
    // replaces).
    let mut saver = AbortOnDrop(tokio::spawn(commit::saver(shared.clone())));
    let run_ops = async {
        let mut tasks: JoinSet<(usize, OpResult)> = JoinSet::new();
        let mut running = 0usize;
        loop {
            if !shared.is_fatal() && shared.stopped().is_none() {
                // Highest bottom level first; the limiter keeps that order among waiters.
                ready.sort_by_key(|&i| (std::cmp::Reverse(graph.bottom_level[i]), i));
                for i in ready.drain(..) {
                    let op = graph.ops[i].clone();
                    let priority = graph.bottom_level[i].as_millis() as u64;
                    tasks.spawn(run_op(
                        shared.clone(),
                        providers[op.step].clone(),
                        steps[op.step].clone(),
                        op,
                        priority,
                        i,
                    ));
                    running += 1;
                }
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            running -= 1;
            let (i, result) = match joined {
                Ok(r) => r,
                Err(e) => {
                    // A panicking provider: find which op it was is impossible
                    // from a JoinError, so treat the whole run as failed.
                    shared.set_fatal(StateError::Injected(format!(
                        "an operation task panicked: {e}"
                    )));
                    continue;
                }
            };
            finished[i] = true;
            let op = &graph.ops[i];
            match result {
                Ok((attempts, elapsed)) => {
                    report.done.push(OpDone {
                        address: op.address.clone(),
                        op: op.kind,
                        elapsed,
                        attempts,
                    });
                    for &j in &graph.needed_by[i] {
                        waiting[j] -= 1;
                        if waiting[j] == 0 && !finished[j] {
                            ready.push(j);
                        }
                    }
                }
                Err((attempts, error)) => {
                    report.failed.push(OpFailed {
                        address: op.address.clone(),
                        op: op.kind,
                        error,
                        attempts,
                    });
                    // Skip everything downstream; it never started.
                    let mut stack = graph.needed_by[i].clone();
                    while let Some(j) = stack.pop() {
                        if finished[j] {
                            continue;
                        }
                        finished[j] = true;
                        report.skipped.push(OpSkipped {
                            address: graph.ops[j].address.clone(),
                            op: graph.ops[j].kind,
                            because: op.address.clone(),
                        });
                        shared.emit(Event::Skipped {
                            address: graph.ops[j].address.clone(),
                            op: graph.ops[j].kind,
                            because: op.address.clone(),
                        });
                        stack.extend(graph.needed_by[j].iter().copied());
                    }
                }
            }
            if running == 0 && (ready.is_empty() || shared.is_fatal() || shared.stopped().is_some())
            {
                break;
            }
        }
        // Drain anything still in flight (only after a fatal error).
        while let Some(joined) = tasks.join_next().await {
            if let Ok((i, Ok((attempts, elapsed)))) = joined {
                report.done.push(OpDone {
                    address: graph.ops[i].address.clone(),
                    op: graph.ops[i].kind,
                    elapsed,
                    attempts,
                });
            }
        }
        // The last save: everything recorded in memory reaches the store
        // before the run reports or empties its journal.
        shared.close_commits();
    };
    run_ops.await;
    if let Err(e) = (&mut saver.0).await {
        shared.set_fatal(StateError::Injected(format!(
            "the state saver panicked: {e}"
        )));
    }
    let fatal = shared
        .fatal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(e) = fatal {
        // The journal keeps the open intents: the next run resolves them.
        // The `Done` records of saved changes still queued go with them,
        // so that recovery has only the open ones left to look at.
        shared.flush_journal();
        return Err(EngineError::State(e));
    }
    if let Some((because, why)) = shared.stopped() {
        // Operations never started: skipped, because of the rejected call.
        // (A stop without a fatal error leaves the loop above only once
        // nothing runs, so `finished` holds every operation that ran.)
        for (j, done) in finished.iter().enumerate() {
            if !done {
                report.skipped.push(OpSkipped {
                    address: graph.ops[j].address.clone(),
                    op: graph.ops[j].kind,
                    because: because.clone(),
                });
            }
        }
        report.stopped = Some(why);
    }
    store.journal_clear()?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Runs one operation: limits, journal, call with retries, state, journal.
async fn run_op(
    shared: Arc<Shared>,
    provider: StepProvider,
    step: Arc<PlanStep>,
    op: Op,
    priority: u64,
    index: usize,
) -> (usize, OpResult) {
    let result = run_op_inner(&shared, &provider, &step, &op, priority, index as u64).await;
    if let Err((_, error)) = &result {
        shared.emit(Event::Failed {
            address: op.address.clone(),
            op: op.kind,
            error: error.clone(),
        });
    }
    (index, result)
}

async fn run_op_inner(
    shared: &Shared,
    instance: &StepProvider,
    step: &PlanStep,
    op: &Op,
    priority: u64,
    index: u64,
) -> OpResult {
    let address = &op.address;
    if op.kind == OpKind::Create {
        if let Some((_, why)) = shared.blocked.iter().find(|(a, _)| a == address) {
            return Err((0, format!("not attempted: {why}")));
        }
    }
    // Inputs: references resolved from outputs recorded by the producers.
    let (attrs, lineage, mut reserved) = {
        let state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut attrs = match op.kind {
            OpKind::Delete => step
                .prior
                .as_ref()
                .map(|p| p.attrs.clone())
                .unwrap_or_default(),
            _ => step.desired.clone(),
        };
        if op.kind != OpKind::Delete {
            resolve_from_state(&mut attrs, &state).map_err(|e| (0, e))?;
        }
        // An earlier try claimed an identity and recovery found it free:
        // the create reuses it.
        let reserved = match op.kind {
            OpKind::Create => state
                .pending
                .get(address)
                .map(|p| p.claim.clone())
                .filter(|c| !c.is_empty()),
            _ => None,
        };
        (attrs, state.lineage.clone(), reserved)
    };
    let owner = Ownership {
        lab: shared.lab.clone(),
        lineage,
        address: address.clone(),
    };
    let provider = instance.provider.as_ref();
    // Keys are per instance: two clusters both have a node `pve1`.
    let mut limits: Vec<Limit> = provider
        .limits(&OpInfo {
            address,
            op: op.kind,
            attrs: &attrs,
        })
        .into_iter()
        .map(|mut l| {
            l.key = format!("{}/{}", instance.name, l.key);
            l
        })
        .collect();
    limits.push(shared.global.clone());
    let (op_limits, call_limits): (Vec<Limit>, Vec<Limit>) = limits
        .into_iter()
        .partition(|l| l.scope == LimitScope::Operation);
    let _op_permits = shared.limiter.acquire(&op_limits, priority).await;

    let intent = JournalRecord::Intent {
        run: shared.run.clone(),
        op: index,
        address: address.clone(),
        action: op.kind,
        at_ms: now_ms(),
        provider: instance.name.clone(),
    };
    let journal = Arc::new(OpJournal {
        store: shared.store.clone(),
        run: shared.run.clone(),
        op: index,
        merged: Mutex::new(Claim::new()),
    });
    if let Err(msg) = shared.journal_now(intent).await {
        return Err((0, msg));
    }
    shared.emit(Event::Started {
        address: address.clone(),
        op: op.kind,
    });
    let started = Instant::now();
    let mut attempt = 1u32;
    let observed: Option<Observed> = loop {
        let permits = shared.limiter.acquire(&call_limits, priority).await;
        let slots = Arc::new(OpSlots::new(
            shared.limiter.clone(),
            call_limits.clone(),
            priority,
            permits,
        ));
        let ctx = OpContext::for_operation(address.clone(), attempt, slots)
            .with_rate(instance.rate.clone())
            .with_journal(
                Some(journal.clone() as Arc<dyn ClaimJournal>),
                reserved.clone(),
            )
            .with_held(instance.held.clone());
        let prior = step.prior.as_ref();
        let result = match op.kind {
            OpKind::Create => provider
                .create(
                    &ctx,
                    &CreateRequest {
                        address: address.clone(),
                        attrs: attrs.clone(),
                        owner: owner.clone(),
                    },
                )
                .await
                .map(Some),
            OpKind::Update => provider
                .update(
                    &ctx,
                    &UpdateRequest {
                        address: address.clone(),
                        id: prior.map(|p| p.id.clone()).unwrap_or_default(),
                        prior: prior.map(|p| p.attrs.clone()).unwrap_or_default(),
                        prior_outputs: prior.map(|p| p.outputs.clone()).unwrap_or_default(),
                        attrs: attrs.clone(),
                        changes: step.changes.clone(),
                        owner: owner.clone(),
                    },
                )
                .await
                .map(Some),
            OpKind::Delete => provider
                .delete(
                    &ctx,
                    &DeleteRequest {
                        address: address.clone(),
                        id: prior.map(|p| p.id.clone()).unwrap_or_default(),
                        prior: attrs.clone(),
                        owner: owner.clone(),
                    },
                )
                .await
                .map(|()| None),
        };
        drop(ctx);
        match result {
            Ok(obs) => break obs,
            Err(e) if shared.retry.should_retry(attempt, e.is_transient()) => {
                // The service's own Retry-After wins over a shorter backoff.
                let delay = shared
                    .retry
                    .delay(attempt)
                    .max(e.retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
                shared.emit(Event::Retrying {
                    address: address.clone(),
                    op: op.kind,
                    attempt,
                    delay,
                    error: e.message.clone(),
                });
                // What this try claimed (a VMID, its task) may exist now,
                // half made: the next try reuses the claim, as the next run
                // would, so it never makes a second object beside it (the
                // provider refuses a claimed identity that is taken, and
                // the next plan's recovery looks at it).
                if op.kind == OpKind::Create {
                    let merged = journal
                        .merged
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    if !merged.is_empty() {
                        let mut claim = reserved.clone().unwrap_or_default();
                        claim.merge(&merged);
                        reserved = Some(claim);
                    }
                }
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => {
                // A create that claimed an identity may have left the object
                // half made: it stays a recovery candidate in the state, and
                // the next try reuses the identity.
                let mut claim = reserved.clone().unwrap_or_default();
                claim.merge(&journal.merged.lock().unwrap_or_else(|p| p.into_inner()));
                let done = JournalRecord::Done {
                    run: shared.run.clone(),
                    op: index,
                    ok: false,
                };
                if op.kind == OpKind::Create && !claim.is_empty() {
                    let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                    state.pending.insert(
                        address.clone(),
                        PendingCreate {
                            provider: instance.name.clone(),
                            claim,
                            reason: e.message.clone(),
                        },
                    );
                    shared.changed(&mut state, done);
                } else {
                    shared.journal_later(done);
                }
                if e.is_auth() {
                    shared.stop(
                        address,
                        format!(
                            "provider `{}` rejected its credentials at {address}: {}; fix them \
                             and run apply again (what was done is recorded)",
                            instance.name, e.message
                        ),
                    );
                }
                return Err((attempt, e.message));
            }
        }
    };
    let elapsed = started.elapsed();
    {
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        match (op.kind, observed) {
            (OpKind::Delete, _) => {
                if op.deposed {
                    state.deposed.shift_remove(address);
                } else {
                    state.resources.shift_remove(address);
                }
            }
            (_, Some(obs)) => {
                state.pending.shift_remove(address);
                if step.action == Action::Replace && step.create_before_destroy {
                    if let Some(old) = state.resources.get(address).cloned() {
                        state.deposed.insert(address.clone(), old);
                    }
                }
                state.resources.insert(
                    address.clone(),
                    ResourceState::observed(
                        obs,
                        step.deps.clone(),
                        step.create_before_destroy,
                        &instance.name,
                    ),
                );
            }
            (_, None) => {}
        }
        state.record_timing(address.kind(), op.kind, elapsed.as_millis() as u64);
        let done = JournalRecord::Done {
            run: shared.run.clone(),
            op: index,
            ok: true,
        };
        // Finished: dependents start now; the saver makes the change
        // durable and journals `Done` after it.
        shared.changed(&mut state, done);
    }

    shared.emit(Event::Finished {
        address: address.clone(),
        op: op.kind,
        elapsed,
    });
    Ok((attempt, elapsed))
}
