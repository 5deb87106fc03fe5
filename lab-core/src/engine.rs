//! [`Engine`]: the library face of check, plan, apply and destroy.

use std::collections::HashMap;
use std::sync::Arc;

use crate::apply::{ApplyOptions, ApplyReport};
use crate::diag::Diagnostic;
use crate::events::{Event, EventSink};
use crate::model::Lab;
use crate::plan::{Plan, PlanOptions};
use crate::provider::TokenBucket;
use crate::state::{StateError, StateStore};
use crate::ProviderError;

/// Why a run could not proceed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EngineError {
    /// Checks found errors; nothing was planned.
    #[error("the lab has {} error(s); nothing was planned", .0.iter().filter(|d| d.is_blocking()).count())]
    #[diagnostic(
        code(lab::check_failed),
        help("run `check` to see each one at its line")
    )]
    Check(Vec<Diagnostic>),
    /// The plan's world checks found what the service would refuse
    /// (`Provider::check_plan`): nothing was applied.
    #[error("the plan found {} problem(s) the service would refuse; nothing was applied", .0.iter().filter(|d| d.is_blocking()).count())]
    #[diagnostic(
        code(lab::plan_check_failed),
        help(
            "each is shown above at its line, against what the service reports now; fix the \
             code (or waive a finding with .waive(code, reason)) and plan again"
        )
    )]
    PlanCheck(Vec<Diagnostic>),
    /// The state could not be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
    /// A resource's kind has no registered provider.
    #[error(
        "no provider is registered for `{kind}` (needed by `{address}`, declared at {declared_at})"
    )]
    #[diagnostic(
        code(lab::no_provider),
        help("register the provider crate's provider with `lab.register_provider(..)`")
    )]
    NoProvider {
        /// The kind.
        kind: String,
        /// The first resource of that kind.
        address: String,
        /// Where it was declared.
        declared_at: String,
    },
    /// Refresh failed.
    #[error("refresh through `{provider}` failed: {error}")]
    #[diagnostic(
        code(lab::refresh_failed),
        help("check the endpoint and credentials; nothing was changed")
    )]
    Refresh {
        /// The provider.
        provider: String,
        /// The error.
        error: ProviderError,
    },
    /// A provider refused a planned step: applying it would do harm the
    /// plan cannot express (e.g. regenerate the Talos secrets a running
    /// cluster trusts).
    #[error("the plan stops at `{address}` (declared at {declared_at}): {message}")]
    #[diagnostic(
        code(lab::plan_refused),
        help("nothing was changed; the message says what to do first")
    )]
    Refused {
        /// The resource.
        address: String,
        /// Where it was declared.
        declared_at: String,
        /// The provider's reason, with what to do.
        message: String,
    },
    /// The plan would destroy a resource marked `prevent_destroy`.
    #[error("the plan would destroy `{address}`, which is marked prevent_destroy")]
    #[diagnostic(
        code(lab::prevent_destroy),
        help("remove .prevent_destroy() from it first if you really mean to destroy it")
    )]
    PreventDestroy {
        /// The resource.
        address: String,
    },
    /// A saved plan no longer matches the state.
    #[error("the saved plan is stale: {reason}")]
    #[diagnostic(
        code(lab::stale_plan),
        help("make a new plan with `plan --out FILE` and apply that")
    )]
    StalePlan {
        /// What moved.
        reason: String,
    },
    /// A saved plan file could not be read.
    #[error("cannot read the plan file: {0}")]
    #[diagnostic(code(lab::bad_plan_file))]
    PlanFile(String),
    /// A saved plan's integrity seal does not hold: it is not applied.
    #[error("the plan file {path} {problem}; make it again with `plan --out`")]
    #[diagnostic(
        code(lab::plan_seal),
        help(
            "nothing was applied. `apply FILE` applies a saved plan only exactly as `plan --out` \
             saved it, sealed with the key of the state it was made against"
        )
    )]
    PlanSeal {
        /// The file.
        path: String,
        /// What is wrong ("was changed after it was saved").
        problem: String,
    },
}

/// Runs check, plan, apply and destroy for one lab against one state store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use lab_core::prelude::*;
/// use lab_core::testing::{MemoryProvider, Thing};
/// use lab_core::MemoryStateStore;
///
/// let mut lab = Lab::new("home");
/// lab.register_provider(MemoryProvider::new().shared());
/// lab.add(Thing::new("db").attr("size_gb", 20));
/// let engine = Engine::new(lab, MemoryStateStore::new());
/// let plan = engine.plan(&Default::default()).await.unwrap();
/// assert_eq!(plan.counts(), (1, 0, 0));
/// let report = engine.apply(&plan, &Default::default()).await.unwrap();
/// assert!(report.is_success());
/// assert!(!engine.plan(&Default::default()).await.unwrap().has_changes());
/// # });
/// ```
pub struct Engine {
    pub(crate) lab: Lab,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) sink: Option<EventSink>,
    /// One token bucket per provider instance that declares a rate limit.
    rates: HashMap<String, Arc<TokenBucket>>,
}

fn rate_buckets(lab: &Lab) -> HashMap<String, Arc<TokenBucket>> {
    lab.providers()
        .instances()
        .filter_map(|i| {
            let limit = i.provider.rate_limit()?;
            Some((i.name.clone(), Arc::new(TokenBucket::new(limit))))
        })
        .collect()
}

impl Engine {
    /// An engine for `lab` keeping state in `store`.
    ///
    /// The lab is derived here ([`Lab::derive`]): plans and applies see the
    /// resources and fields its crates derive.
    pub fn new(mut lab: Lab, store: impl StateStore + 'static) -> Self {
        lab.derive();
        Engine {
            rates: rate_buckets(&lab),
            lab,
            store: Arc::new(store),
            sink: None,
        }
    }

    /// An engine sharing a store with other code (tests inspect it).
    pub fn with_store(mut lab: Lab, store: Arc<dyn StateStore>) -> Self {
        lab.derive();
        Engine {
            rates: rate_buckets(&lab),
            lab,
            store,
            sink: None,
        }
    }

    /// Subscribes `sink` to every event of later calls.
    pub fn on_event(mut self, sink: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.sink = Some(Arc::new(sink));
        self
    }

    /// The lab.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The state store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The request-rate bucket of provider instance `name`, if it has one.
    pub(crate) fn rate_bucket(&self, name: &str) -> Option<Arc<TokenBucket>> {
        self.rates.get(name).cloned()
    }

    pub(crate) fn emit(&self, event: Event) {
        if let Some(sink) = &self.sink {
            sink(&event);
        }
    }

    /// Runs every check (no network).
    pub fn check(&self) -> Vec<Diagnostic> {
        self.lab.check()
    }

    /// Refreshes and plans the changes that bring reality to the code.
    pub async fn plan(&self, opts: &PlanOptions) -> Result<Plan, EngineError> {
        crate::plan::plan(self, opts).await
    }

    /// Plans destroying everything in state, in reverse dependency order.
    pub async fn plan_destroy(&self) -> Result<Plan, EngineError> {
        crate::plan::plan_destroy(self).await
    }

    /// Applies `plan` exactly; refuses if the state moved since it was made.
    pub async fn apply(
        &self,
        plan: &Plan,
        opts: &ApplyOptions,
    ) -> Result<ApplyReport, EngineError> {
        crate::apply::apply(self, plan, opts).await
    }
}
