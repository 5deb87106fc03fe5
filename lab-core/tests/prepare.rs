//! `Provider::prepare` sees the lab's code before the plan calls the
//! provider at all, once per instance with its name; and again before a
//! saved plan is applied by another engine (another process).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::provider::{
    CreateRequest, DeleteRequest, Observed, OpContext, Ownership, ReadRequest, UpdateRequest,
};
use lab_core::testing::{MemoryProvider, Thing};
use lab_core::{ApplyOptions, Attrs, MemoryStateStore, Provider, ProviderError};

/// A [`MemoryProvider`] that logs `prepare`, `probe` and `read` calls.
struct Logged {
    inner: Arc<dyn Provider>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Logged {
    fn push(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }
}

#[async_trait]
impl Provider for Logged {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn kinds(&self) -> Vec<&'static str> {
        self.inner.kinds()
    }
    fn prepare(&self, lab: &Lab, instance: &str) -> Result<(), ProviderError> {
        self.push(format!(
            "prepare {instance} ({} resources)",
            lab.resources().count()
        ));
        Ok(())
    }
    async fn probe(&self, ctx: &OpContext) -> Result<(), ProviderError> {
        self.push("probe".into());
        self.inner.probe(ctx).await
    }
    async fn read(
        &self,
        ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        self.push("read".into());
        self.inner.read(ctx, requests).await
    }
    async fn create(
        &self,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError> {
        self.inner.create(ctx, req).await
    }
    async fn update(
        &self,
        ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError> {
        self.inner.update(ctx, req).await
    }
    async fn delete(&self, ctx: &OpContext, req: &DeleteRequest) -> Result<(), ProviderError> {
        self.inner.delete(ctx, req).await
    }
    async fn adopt(
        &self,
        ctx: &OpContext,
        owner: &Ownership,
        desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError> {
        self.inner.adopt(ctx, owner, desired).await
    }
}

fn lab(memory: &MemoryProvider, log: &Arc<Mutex<Vec<String>>>) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider_as(
        "mem",
        Arc::new(Logged {
            inner: memory.shared(),
            log: log.clone(),
        }),
    );
    lab.add(Thing::new("a"));
    lab.add(Thing::new("b"));
    lab
}

#[test]
fn prepare_comes_before_any_call_and_before_a_saved_plan_is_applied() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let memory = MemoryProvider::new();
    let store = MemoryStateStore::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let taken = |log: &Arc<Mutex<Vec<String>>>| std::mem::take(&mut *log.lock().unwrap());

    let engine = Engine::new(lab(&memory, &log), store.clone());
    let plan = rt.block_on(engine.plan(&PlanOptions::default())).unwrap();
    assert_eq!(taken(&log), ["prepare mem (2 resources)", "probe"]);

    // Another engine (another process) applies the saved plan.
    let other = Engine::new(lab(&memory, &log), store.clone());
    let report = rt
        .block_on(other.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    assert!(report.is_success(), "{report:#?}");
    assert_eq!(
        taken(&log).first().map(String::as_str),
        Some("prepare mem (2 resources)")
    );

    let again = rt.block_on(other.plan(&PlanOptions::default())).unwrap();
    assert!(!again.has_changes());
    assert_eq!(taken(&log), ["prepare mem (2 resources)", "read"]);
}
