//! What the code and the refreshed world show before anything is applied:
//! provider checks that run whenever their kinds are in the lab, plan-time
//! world checks at the user's lines, and old and new objects that share an
//! identity never racing.

mod common;

use std::time::Duration;

use common::runtime;
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::testing::{MemoryProvider, Thing};
use lab_core::{
    Action, ApplyOptions, Check, CheckSet, EngineError, MemoryStateStore, Resource, RetryPolicy,
};

fn fast() -> ApplyOptions {
    ApplyOptions {
        parallelism: 4,
        retry: RetryPolicy::fast(),
    }
}

const NO_ZERO: &str = "demo::no-zero";
const AT_PLAN: &str = "demo::at-plan";

fn demo_checks() -> Vec<Check> {
    vec![
        Check::new(NO_ZERO, Severity::Error, |lab, out| {
            for spec in lab.resources() {
                if spec.attrs.get("size") == Some(&Value::Int(0)) {
                    out.push(
                        Diagnostic::error(NO_ZERO, "size 0")
                            .for_resource(&spec.address)
                            .with_label(spec.loc_of("size"), "size 0 here"),
                    );
                }
            }
        }),
        Check::at_plan(AT_PLAN, Severity::Error),
    ]
}

/// What a provider crate's builders put on their specs.
const DEMO: CheckSet = CheckSet {
    name: "demo",
    checks: demo_checks,
};

/// A thing made by the "demo" crate's builder: its spec carries the set.
#[track_caller]
fn demo(name: &str) -> Thing {
    let mut t = Thing::new(name);
    t.spec_mut().check_set = Some(DEMO);
    t
}

#[test]
fn provider_checks_run_whenever_their_kinds_are_in_the_lab() {
    // No provider registered at all: the kinds bring their checks.
    let mut lab = Lab::new("t");
    let line = line!() + 1;
    lab.add(demo("a").attr("size", 0));
    let diags = lab.check();
    let d = diags
        .iter()
        .find(|d| d.code == NO_ZERO)
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(d.file_line(), Some((file!(), line)));
    // Engine::check is the same call.
    let engine = Engine::new(lab, MemoryStateStore::new());
    assert!(engine.check().iter().any(|d| d.code == NO_ZERO));

    // A lab without those kinds does not run them.
    let mut lab = Lab::new("t");
    lab.add(Thing::new("a").attr("size", 0));
    assert!(lab.check().is_empty());

    // A plan-time code is known: waiving it is no unknown waiver.
    let mut lab = Lab::new("t");
    lab.add(demo("a").attr("size", 1).waive(AT_PLAN, "thin pool"));
    assert!(lab.check().is_empty(), "{:#?}", lab.check());
    let mut lab = Lab::new("t");
    lab.add(Thing::new("a").waive(AT_PLAN, "thin pool"));
    assert!(lab.check().iter().any(|d| d.code == "core::unknown-waiver"));

    // A check the user registered under the same code stays theirs.
    let mut lab = Lab::new("t");
    lab.check_with(NO_ZERO, Severity::Warning, |_, _| {});
    lab.add(demo("a").attr("size", 0));
    assert!(lab.check().is_empty());
}

fn too_big(memory: MemoryProvider) -> MemoryProvider {
    memory.check_plan_with(|plan, _world| {
        plan.steps
            .iter()
            .filter_map(|s| plan.spec(s))
            .filter(|spec| spec.attrs.get("size").and_then(Value::as_i64) > Some(10))
            .map(|spec| {
                Diagnostic::error(AT_PLAN, format!("`{}` does not fit", spec.address))
                    .for_resource(&spec.address)
                    .with_label(spec.loc_of("size"), "size given here")
            })
            .collect()
    })
}

#[test]
fn world_findings_stop_the_plan_at_the_users_line() {
    runtime().block_on(async {
        let memory = too_big(MemoryProvider::new());
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("small").attr("size", 1));
        let line = line!() + 1;
        lab.add(Thing::new("big").attr("size", 20));
        let engine = Engine::new(lab, MemoryStateStore::new());
        let err = engine.plan(&PlanOptions::default()).await.unwrap_err();
        let EngineError::PlanCheck(diags) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(diags[0].code, AT_PLAN);
        assert_eq!(diags[0].file_line(), Some((file!(), line)));
        assert_eq!(memory.counts().mutating(), 0);

        // Waived: the plan goes on and shows the finding under its step.
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("small").attr("size", 1));
        lab.add(
            Thing::new("big")
                .attr("size", 20)
                .waive(AT_PLAN, "measured: it fits"),
        );
        let engine = Engine::new(lab, MemoryStateStore::new());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let big = plan
            .steps
            .iter()
            .find(|s| s.address.name() == "big")
            .unwrap();
        assert!(
            big.notes
                .iter()
                .any(|n| n.contains(AT_PLAN) && n.contains("measured: it fits")),
            "{:?}",
            big.notes
        );

        // Without a refresh the plan reads nothing, so it checks nothing.
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("big").attr("size", 20));
        let engine = Engine::new(lab, MemoryStateStore::new());
        engine.plan(&PlanOptions { refresh: false }).await.unwrap();
    });
}

#[test]
fn world_checks_see_only_changes_of_their_instance() {
    runtime().block_on(async {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let memory = MemoryProvider::new().check_plan_with(move |plan, _| {
            log.lock().unwrap().extend(
                plan.steps
                    .iter()
                    .map(|s| format!("{}:{}:{}", plan.instance, s.action, s.address.name())),
            );
            Vec::new()
        });
        let store = MemoryStateStore::new();
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("keep").attr("size", 1));
        lab.add(Thing::new("gone").attr("size", 1));
        let engine = Engine::new(lab, store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());
        seen.lock().unwrap().clear();

        // Unchanged, deleted and updated: only the update is shown.
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("keep").attr("size", 2));
        let engine = Engine::new(lab, store.clone());
        engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), vec!["memory:update:keep"]);

        // No changes: not asked at all.
        seen.lock().unwrap().clear();
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("keep").attr("size", 1));
        lab.add(Thing::new("gone").attr("size", 1));
        let engine = Engine::new(lab, store);
        assert!(!engine
            .plan(&PlanOptions::default())
            .await
            .unwrap()
            .has_changes());
        assert!(seen.lock().unwrap().is_empty());
    });
}

fn identity_memory() -> MemoryProvider {
    MemoryProvider::new()
        .identity_by("path")
        .with_latency(Duration::from_millis(2), Duration::from_millis(10))
}

#[test]
fn a_renamed_object_with_the_same_identity_is_deleted_before_it_is_made_again() {
    runtime().block_on(async {
        let memory = identity_memory();
        let store = MemoryStateStore::new();
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("old").attr("path", "local:iso/x.iso"));
        let engine = Engine::new(lab, store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());

        // Renamed in the code, same identity.
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("new").attr("path", "local:iso/x.iso"));
        let engine = Engine::new(lab, store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let new = plan
            .steps
            .iter()
            .find(|s| s.address.name() == "new")
            .unwrap();
        assert_eq!(new.action, Action::Create);
        assert_eq!(
            new.after_delete,
            vec![lab_core::Address::new("test.thing", "old")]
        );
        assert!(
            new.notes
                .iter()
                .any(|n| n.contains("path=local:iso/x.iso") && n.contains("lab.moved(")),
            "{:?}",
            new.notes
        );
        // The order survives a saved plan.
        let json = plan.to_redacted_json();
        let back = lab_core::Plan::from_json(&json, &mut |_| Err("no secrets".into())).unwrap();
        assert_eq!(back.steps, plan.steps);

        memory.reset_counts();
        let report = engine.apply(&plan, &fast()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        let calls = memory.calls();
        let delete = calls
            .iter()
            .find(|c| c.address.name() == "old")
            .expect("old deleted");
        let create = calls
            .iter()
            .find(|c| c.address.name() == "new")
            .expect("new created");
        assert!(
            delete.end.unwrap() <= create.start,
            "the create started before the delete ended: {calls:?}"
        );
        assert_eq!(memory.objects().len(), 1);
        assert!(!engine
            .plan(&PlanOptions::default())
            .await
            .unwrap()
            .has_changes());
    });
}

#[test]
fn a_create_before_destroy_replacement_onto_its_own_identity_is_refused() {
    runtime().block_on(async {
        let memory = identity_memory();
        let store = MemoryStateStore::new();
        let build = |image: &str, cbd: bool| {
            let mut lab = Lab::new("t");
            lab.register_provider(memory.shared());
            let t = Thing::new("iso")
                .attr("path", "local:iso/x.iso")
                .attr("image", image);
            lab.add(if cbd { t.create_before_destroy() } else { t });
            lab
        };
        let engine = Engine::new(build("v1", true), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());

        // `image` forces replacement; the new object would be the old one's volume.
        let engine = Engine::new(build("v2", true), store.clone());
        let err = engine.plan(&PlanOptions::default()).await.unwrap_err();
        let EngineError::Refused {
            address, message, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(address, "test.thing.iso");
        assert!(
            message.contains("create-before-destroy") && message.contains("local:iso/x.iso"),
            "{message}"
        );
        assert_eq!(memory.counts().mutating(), 1, "only the first create");

        // Without create_before_destroy: delete, then create.
        let engine = Engine::new(build("v2", false), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.steps[0].action, Action::Replace);
        assert!(!plan.steps[0].create_before_destroy);
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());
        assert_eq!(memory.objects().len(), 1);
    });
}

#[test]
fn two_new_objects_with_one_identity_are_refused() {
    runtime().block_on(async {
        let memory = identity_memory();
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("a").attr("path", "local:iso/x.iso"));
        lab.add(Thing::new("b").attr("path", "local:iso/x.iso"));
        let engine = Engine::new(lab, MemoryStateStore::new());
        let err = engine.plan(&PlanOptions::default()).await.unwrap_err();
        assert!(
            matches!(&err, EngineError::Refused { message, .. } if message.contains("would both be")),
            "{err:?}"
        );
    });
}
