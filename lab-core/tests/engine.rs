//! The engine end to end against the in-memory provider.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{lab_from_dag, runtime};
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::testing::{Fault, MemoryProvider, Thing};
use lab_core::{
    Action, ApplyOptions, EngineError, Event, MemoryStateStore, RetryPolicy, StateStore,
};

fn fast() -> ApplyOptions {
    ApplyOptions {
        parallelism: 4,
        retry: RetryPolicy::fast(),
    }
}

fn chain() -> common::Dag {
    vec![vec![], vec![0], vec![1], vec![0], vec![]]
}

#[test]
fn apply_then_plan_is_empty_and_outputs_flow() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let store = MemoryStateStore::new();
        let mut lab = Lab::new("t");
        lab.register_provider(provider.shared());
        let db = lab.add(
            Thing::new("db")
                .attr("size_gb", 20)
                .secret("password", "hunter2"),
        );
        lab.add(Thing::new("app").input("db_id", db.output::<String>("id")));
        let engine = Engine::new(lab, store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (2, 0, 0));
        let app = plan
            .steps
            .iter()
            .find(|s| s.address.name() == "app")
            .unwrap();
        assert!(
            app.desired["db_id"].contains_ref(),
            "db id is known after apply"
        );
        let report = engine.apply(&plan, &fast()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        let again = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
        assert_eq!(again.unchanged, 2);
        let app_obj = &provider.find_by_name("app")[0];
        let db_obj = &provider.find_by_name("db")[0];
        assert_eq!(app_obj.attrs["db_id"], Value::Str(db_obj.id.clone()));
    });
}

#[test]
fn update_replace_delete_and_drift() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let store = MemoryStateStore::new();
        let dag = chain();
        let e1 = Engine::new(
            lab_from_dag(&provider, &dag, "debian-12", 10),
            store.clone(),
        );
        let p = e1.plan(&PlanOptions::default()).await.unwrap();
        assert!(e1.apply(&p, &fast()).await.unwrap().is_success());

        // A size change updates in place; an image change replaces.
        let mut lab = Lab::new("dag");
        lab.register_provider(provider.shared());
        let r0 = lab.add(
            Thing::new("r0")
                .attr("image", "debian-12")
                .attr("size", 10)
                .secret("password", "pw-0"),
        );
        let r1 = lab.add(
            Thing::new("r1")
                .attr("image", "debian-13")
                .attr("size", 10)
                .after(&r0),
        );
        lab.add(
            Thing::new("r2")
                .attr("image", "debian-12")
                .attr("size", 99)
                .after(&r1),
        );
        // r3 and r4 are gone from the code.
        let e2 = Engine::new(lab, store.clone());
        // Someone resized r0 by hand.
        let r0_id = provider.find_by_name("r0")[0].id.clone();
        provider.mutate_outside(&r0_id, "size", Value::Int(11));
        let plan = e2.plan(&PlanOptions::default()).await.unwrap();
        let action = |n: &str| {
            plan.steps
                .iter()
                .find(|s| s.address.name() == n)
                .map(|s| s.action)
        };
        assert_eq!(action("r0"), Some(Action::Update), "drift is corrected");
        assert_eq!(action("r1"), Some(Action::Replace));
        assert_eq!(action("r2"), Some(Action::Update));
        assert_eq!(action("r3"), Some(Action::Delete));
        assert_eq!(action("r4"), Some(Action::Delete));
        assert_eq!(plan.drift.len(), 1);
        assert_eq!(plan.drift[0].address.name(), "r0");
        let r1_step = plan
            .steps
            .iter()
            .find(|s| s.address.name() == "r1")
            .unwrap();
        assert!(r1_step
            .changes
            .iter()
            .any(|c| c.field == "image" && c.forces_replacement));
        // Deletes come after the resources still in the code, dependents first.
        let r3 = plan
            .steps
            .iter()
            .position(|s| s.address.name() == "r3")
            .unwrap();
        assert!(
            r3 > plan
                .steps
                .iter()
                .position(|s| s.address.name() == "r2")
                .unwrap()
        );

        let report = e2.apply(&plan, &fast()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        assert_eq!(provider.objects().len(), 3, "{:?}", provider.objects());
        assert!(!e2
            .plan(&PlanOptions::default())
            .await
            .unwrap()
            .has_changes());

        // Deleted outside: planned as a create, shown as drift.
        let r2_id = provider.find_by_name("r2")[0].id.clone();
        provider.delete_outside(&r2_id);
        let plan = e2.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (1, 0, 0));
        assert!(plan.drift[0].deleted);
        assert_eq!(
            plan.steps[0].reason.as_deref(),
            Some("deleted outside the lab")
        );
    });
}

#[test]
fn a_failure_stops_only_its_dependents() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        provider.fail_resource("r1", Fault::Permanent);
        let engine = Engine::new(
            lab_from_dag(&provider, &chain(), "img", 1),
            MemoryStateStore::new(),
        );
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let report = engine.apply(&plan, &fast()).await.unwrap();
        assert!(!report.is_success());
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].address.name(), "r1");
        assert_eq!(
            report.failed[0].attempts, 1,
            "permanent errors are not retried"
        );
        let skipped: Vec<&str> = report.skipped.iter().map(|s| s.address.name()).collect();
        assert_eq!(skipped, vec!["r2"]);
        let mut done: Vec<&str> = report.done.iter().map(|d| d.address.name()).collect();
        done.sort();
        assert_eq!(done, vec!["r0", "r3", "r4"]);
        // The next run finishes the job once the fault is gone.
        provider.clear_faults();
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (2, 0, 0));
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());
        assert_eq!(provider.objects().len(), 5);
    });
}

#[test]
fn transient_errors_are_retried_with_events() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        provider.fail_at(2, Fault::Transient);
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let engine = Engine::new(
            lab_from_dag(&provider, &chain(), "img", 1),
            MemoryStateStore::new(),
        )
        .on_event(move |e| sink.lock().unwrap().push(e.clone()));
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let report = engine.apply(&plan, &fast()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.done.iter().filter(|d| d.attempts == 2).count(), 1);
        let events = events.lock().unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, Event::Retrying { .. }))
                .count(),
            1
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, Event::Finished { .. }))
                .count(),
            5
        );
        assert_eq!(provider.objects().len(), 5, "no duplicate from the retry");
    });
}

#[test]
fn a_saved_plan_is_refused_once_the_state_moved() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let store = MemoryStateStore::new();
        let engine = Engine::new(lab_from_dag(&provider, &chain(), "img", 1), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        // Round trip through the saved form, secrets sealed.
        let sealer = store.sealer().unwrap();
        let json = plan.to_json(&mut |s| sealer.seal(s));
        assert!(!json.to_string().contains("pw-0"));
        let loaded = lab_core::Plan::from_json(&json, &mut |j| sealer.unseal(j)).unwrap();
        assert_eq!(loaded, plan);
        assert!(engine.apply(&loaded, &fast()).await.unwrap().is_success());
        // Applying the same plan again: the state moved.
        match engine.apply(&loaded, &fast()).await {
            Err(EngineError::StalePlan { reason }) => {
                assert!(reason.contains("serial"), "{reason}")
            }
            other => panic!("expected a stale plan, got {other:?}"),
        }
    });
}

#[test]
fn destroy_runs_in_reverse_dependency_order() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let engine = Engine::new(
            lab_from_dag(&provider, &chain(), "img", 1),
            MemoryStateStore::new(),
        );
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        engine.apply(&plan, &fast()).await.unwrap();
        let destroy = engine.plan_destroy().await.unwrap();
        assert_eq!(destroy.counts(), (0, 0, 5));
        let report = engine.apply(&destroy, &fast()).await.unwrap();
        assert!(report.is_success());
        assert!(provider.objects().is_empty());
        let calls = provider.calls();
        let del = |n: &str| {
            calls
                .iter()
                .find(|c| c.op == lab_core::provider::OpKind::Delete && c.address.name() == n)
                .unwrap()
                .clone()
        };
        assert!(del("r2").end.unwrap() < del("r1").start);
        assert!(del("r1").end.unwrap() < del("r0").start);
        assert!(del("r3").end.unwrap() < del("r0").start);
    });
}

#[test]
fn a_second_apply_fails_at_once_naming_the_holder() {
    let store = MemoryStateStore::new();
    let _held = store.lock("apply").unwrap();
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let engine = Engine::new(lab_from_dag(&provider, &chain(), "img", 1), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let started = std::time::Instant::now();
        match engine.apply(&plan, &fast()).await {
            Err(EngineError::State(lab_core::state::StateError::Locked { holder })) => {
                assert!(holder.contains("apply"), "{holder}")
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn prevent_destroy_blocks_a_replacing_plan() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let store = MemoryStateStore::new();
        let mut lab = Lab::new("t");
        lab.register_provider(provider.shared());
        lab.add(Thing::new("nas").attr("image", "a").prevent_destroy());
        let e = Engine::new(lab, store.clone());
        let p = e.plan(&PlanOptions::default()).await.unwrap();
        e.apply(&p, &fast()).await.unwrap();
        let mut lab = Lab::new("t");
        lab.register_provider(provider.shared());
        lab.add(Thing::new("nas").attr("image", "b").prevent_destroy());
        let e = Engine::new(lab, store.clone());
        assert!(matches!(
            e.plan(&PlanOptions::default()).await,
            Err(EngineError::PreventDestroy { .. })
        ));
    });
}

/// A state store that counts its saves.
#[derive(Clone)]
struct CountingStore {
    inner: MemoryStateStore,
    saves: Arc<std::sync::atomic::AtomicUsize>,
}

impl StateStore for CountingStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn lock(
        &self,
        operation: &str,
    ) -> Result<lab_core::state::StateLock, lab_core::state::StateError> {
        self.inner.lock(operation)
    }
    fn load(&self) -> Result<Option<lab_core::state::State>, lab_core::state::StateError> {
        self.inner.load()
    }
    fn save(&self, state: &lab_core::state::State) -> Result<(), lab_core::state::StateError> {
        self.saves.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.save(state)
    }
    fn journal_append(
        &self,
        record: &lab_core::state::JournalRecord,
    ) -> Result<(), lab_core::state::StateError> {
        self.inner.journal_append(record)
    }
    fn journal_read(
        &self,
    ) -> Result<Vec<lab_core::state::JournalRecord>, lab_core::state::StateError> {
        self.inner.journal_read()
    }
    fn journal_clear(&self) -> Result<(), lab_core::state::StateError> {
        self.inner.journal_clear()
    }
    fn sealer(&self) -> Result<lab_core::state::Sealer, lab_core::state::StateError> {
        self.inner.sealer()
    }
}

#[test]
fn operations_that_finish_together_share_one_save() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let saves = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let store = CountingStore {
            inner: MemoryStateStore::new(),
            saves: saves.clone(),
        };
        let mut lab = Lab::new("t");
        lab.register_provider(provider.shared());
        for i in 0..200 {
            lab.add(Thing::new(format!("r{i}")));
        }
        let e = Engine::new(lab, store.clone());
        let p = e.plan(&PlanOptions::default()).await.unwrap();
        let opts = ApplyOptions {
            parallelism: 32,
            retry: RetryPolicy::fast(),
        };
        let report = e.apply(&p, &opts).await.unwrap();
        assert_eq!(report.done.len(), 200);
        let n = saves.load(std::sync::atomic::Ordering::SeqCst);
        eprintln!("{n} saves for 200 operations");
        // One save fixes the lineage; then far fewer than one per operation.
        assert!(n <= 1 + 200 / 4, "{n} saves for 200 operations");
        // Every change is on disk, and the journal is closed.
        let state = store.load().unwrap().unwrap();
        assert_eq!(state.resources.len(), 200);
        assert!(store.journal_read().unwrap().is_empty());
        // A plan in a fresh engine agrees.
        let mut lab = Lab::new("t");
        lab.register_provider(provider.shared());
        for i in 0..200 {
            lab.add(Thing::new(format!("r{i}")));
        }
        let again = Engine::new(lab, store.clone())
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        assert!(!again.has_changes());
    });
}

#[test]
fn destroy_keeps_what_prevent_destroy_protects_and_what_it_needs() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let store = MemoryStateStore::new();
        let mut lab = Lab::new("t");
        lab.register_provider(provider.shared());
        let disk = lab.add(Thing::new("disk"));
        let bundle = lab.add(
            Thing::new("bundle")
                .input("disk", disk.output::<String>("id"))
                .prevent_destroy(),
        );
        let vm = lab.add(Thing::new("vm").input("bundle", bundle.output::<String>("id")));
        lab.add(Thing::new("scratch"));
        let e = Engine::new(lab, store.clone());
        let p = e.plan(&PlanOptions::default()).await.unwrap();
        e.apply(&p, &fast()).await.unwrap();

        let destroy = e.plan_destroy().await.unwrap();
        let kept: Vec<&str> = destroy.kept.iter().map(|a| a.as_str()).collect();
        assert_eq!(kept, ["test.thing.disk", "test.thing.bundle"]);
        let gone: Vec<&str> = destroy.steps.iter().map(|s| s.address.as_str()).collect();
        assert_eq!(gone.len(), 2, "{gone:?}");
        assert!(gone.contains(&vm.address().as_str()) && gone.contains(&"test.thing.scratch"));
        let text = lab_core::plan::render::render(&destroy, false);
        assert!(
            text.contains(
                "Kept (prevent_destroy, or needed by what is): test.thing.disk, test.thing.bundle"
            ),
            "{text}"
        );
        e.apply(&destroy, &fast()).await.unwrap();
        let state = store.load().unwrap().unwrap();
        let left: Vec<&str> = state.resources.keys().map(|a| a.as_str()).collect();
        assert_eq!(left, ["test.thing.disk", "test.thing.bundle"]);
    });
}

#[test]
fn create_before_destroy_creates_the_replacement_first() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let store = MemoryStateStore::new();
        let mk = |image: &str| {
            let mut lab = Lab::new("t");
            lab.register_provider(provider.shared());
            lab.add(
                Thing::new("web")
                    .attr("image", image)
                    .create_before_destroy(),
            );
            lab
        };
        let e = Engine::new(mk("a"), store.clone());
        let p = e.plan(&PlanOptions::default()).await.unwrap();
        e.apply(&p, &fast()).await.unwrap();
        let e = Engine::new(mk("b"), store.clone());
        let p = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(p.steps[0].action, Action::Replace);
        assert!(p.steps[0].create_before_destroy);
        assert!(lab_core::plan::render::render(&p, false).contains("+/-"));
        let report = e.apply(&p, &fast()).await.unwrap();
        assert!(report.is_success());
        let ops: Vec<_> = report.done.iter().map(|d| d.op).collect();
        assert_eq!(
            ops,
            vec![
                lab_core::provider::OpKind::Create,
                lab_core::provider::OpKind::Delete
            ]
        );
        assert_eq!(provider.objects().len(), 1);
        assert_eq!(provider.objects()[0].attrs["image"], Value::Str("b".into()));
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());
    });
}

#[test]
fn outputs_of_model_only_resources_are_their_attributes() {
    runtime().block_on(async {
        let provider = MemoryProvider::new();
        let mut lab = Lab::new("t");
        lab.register_provider(provider.shared());
        let nas = lab.add(
            Appliance::new("nas")
                .kind(ApplianceKind::Nas)
                .site("basement"),
        );
        lab.add(Thing::new("share").input("site", nas.output::<String>("site")));
        let engine = Engine::new(lab, MemoryStateStore::new());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.steps[0].desired["site"], Value::Str("basement".into()));
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());
        assert_eq!(
            provider.find_by_name("share")[0].attrs["site"],
            Value::Str("basement".into())
        );
    });
}

#[test]
fn a_provider_review_adds_notes_or_stops_the_plan() {
    runtime().block_on(async {
        let provider = MemoryProvider::new().review_with(|r| {
            let kernel = r.changes.iter().find(|c| c.field == "kernel");
            match (r.action, kernel) {
                (Action::Update, Some(_)) if r.desired.contains_key("pinned") => Err(format!(
                    "{} pins its kernel; unpin it first",
                    r.address.name()
                )),
                (Action::Update, Some(_)) => Ok(vec![format!("{} reboots", r.address.name())]),
                _ => Ok(Vec::new()),
            }
        });
        let store = MemoryStateStore::new();
        let lab_with = |kernel: &str, pinned: bool| {
            let mut lab = Lab::new("t");
            lab.register_provider(provider.shared());
            let mut node = Thing::new("node").attr("kernel", kernel);
            if pinned {
                node = node.attr("pinned", true);
            }
            lab.add(node);
            lab
        };
        let e = Engine::new(lab_with("6.1", false), store.clone());
        let p = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(p.steps[0].notes.is_empty(), "a create has nothing to add");
        e.apply(&p, &fast()).await.unwrap();

        let e = Engine::new(lab_with("6.12", false), store.clone());
        let p = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(p.steps[0].notes, vec!["node reboots".to_string()]);
        let text = lab_core::plan::render::render(&p, false);
        assert!(text.contains("! node reboots"), "{text}");
        let json = p.to_json(&mut |_| serde_json::Value::Null);
        assert_eq!(json["steps"][0]["notes"][0], "node reboots");

        let e = Engine::new(lab_with("6.12", true), store.clone());
        match e.plan(&PlanOptions::default()).await {
            Err(EngineError::Refused {
                address, message, ..
            }) => {
                assert_eq!(address, "test.thing.node");
                assert!(message.contains("unpin it first"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    });
}
