//! A saved plan carries an integrity seal (HMAC-SHA256 keyed from the
//! lab's key over the canonical plan JSON): it reads back exactly, and any
//! edit (a size, an extra or a removed step, the lineage or serial it was
//! made against, the seal itself) or another lab's key is refused.

mod common;

use std::sync::Arc;

use common::runtime;
use lab_core::plan::{PlanOptions, SavedPlanError};
use lab_core::prelude::*;
use lab_core::state::{FileStateStore, Sealer, StateStore};
use lab_core::testing::{MemoryProvider, Thing};
use lab_core::Plan;
use serde_json::{json, Value as Json};

const PASSWORD: &str = "plan-seal-password-9d20";

/// A plan creating three things (one with a secret, one a float).
fn plan_and_store() -> (Plan, Arc<FileStateStore>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStateStore::new(tmp.path().join(".lab")));
    let memory = MemoryProvider::new();
    let mut lab = Lab::new("home");
    lab.register_provider(memory.shared());
    let db = lab.add(
        Thing::new("db")
            .secret("password", PASSWORD)
            .attr("size_gb", 20)
            .attr("ratio", 0.1 + 0.2),
    );
    lab.add(Thing::new("app").input("db_id", db.output::<String>("id")));
    lab.add(Thing::new("cache").attr("size_gb", 2));
    let engine = Engine::with_store(lab, store.clone() as Arc<dyn StateStore>);
    let plan = runtime()
        .block_on(engine.plan(&PlanOptions::default()))
        .unwrap();
    assert_eq!(plan.counts(), (3, 0, 0));
    (plan, store, tmp)
}

fn step<'j>(json: &'j mut Json, name: &str) -> &'j mut Json {
    json["steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["address"] == format!("test.thing.{name}"))
        .unwrap()
}

#[test]
fn a_sealed_plan_reads_back_exactly() {
    let (plan, store, _tmp) = plan_and_store();
    let sealer = store.sealer().unwrap();
    let json = plan.to_sealed_json(&sealer).unwrap();
    let seal = &json["seal"];
    assert_eq!(seal["alg"], "HMAC-SHA256");
    assert_eq!(seal["key"], json!(sealer.recipient()));
    assert_eq!(seal["mac"].as_str().unwrap().len(), 64);
    let text = serde_json::to_string_pretty(&json).unwrap();
    assert!(!text.contains(PASSWORD));
    assert_eq!(Plan::from_sealed_json(&json, &sealer), Ok(plan.clone()));

    // Through text, pretty or compact: whitespace is not content.
    for text in [text.clone(), serde_json::to_string(&json).unwrap()] {
        let back: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(Plan::from_sealed_json(&back, &sealer), Ok(plan.clone()));
    }
    // Neither is the order of an object's keys.
    let mut reordered = serde_json::Map::new();
    for (k, v) in json.as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    assert_eq!(
        Plan::from_sealed_json(&Json::Object(reordered), &sealer),
        Ok(plan.clone())
    );

    // A later run of the store reads the key from its file and agrees.
    let later = FileStateStore::new(store.dir());
    let again = later.existing_sealer().unwrap().expect("the key exists");
    assert_eq!(Plan::from_sealed_json(&json, &again), Ok(plan));
}

#[test]
fn every_edit_is_refused() {
    let (plan, store, _tmp) = plan_and_store();
    let sealer = store.sealer().unwrap();
    let sealed = plan.to_sealed_json(&sealer).unwrap();
    let other_secret = sealer.seal(&Secret::new("another password"));
    type Edit = Box<dyn Fn(&mut Json)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "a changed size",
            Box::new(|j| step(j, "cache")["desired"]["size_gb"] = json!(200)),
        ),
        (
            "a changed size in the changes only",
            Box::new(|j| {
                let cache = step(j, "cache");
                for c in cache["changes"].as_array_mut().unwrap() {
                    if c["field"] == "size_gb" {
                        c["after"] = json!(200);
                    }
                }
            }),
        ),
        (
            "a float a bit off",
            Box::new(|j| step(j, "db")["desired"]["ratio"] = json!(0.3)),
        ),
        (
            "an extra resource",
            Box::new(|j| {
                let mut extra = step(j, "cache").clone();
                extra["address"] = json!("test.thing.extra");
                j["steps"].as_array_mut().unwrap().push(extra);
            }),
        ),
        (
            "a removed step",
            Box::new(|j| {
                j["steps"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "a changed lineage",
            Box::new(|j| j["lineage"] = json!("00000000-0000-4000-8000-000000000000")),
        ),
        (
            "a changed serial",
            Box::new(|j| j["state_serial"] = json!(7)),
        ),
        (
            "a changed secret",
            Box::new(move |j| step(j, "db")["desired"]["password"] = other_secret.clone()),
        ),
        ("a destroy flag", Box::new(|j| j["destroy"] = json!(true))),
        (
            "an added top-level field",
            Box::new(|j| j["note"] = json!("fine")),
        ),
        (
            "a changed mac",
            Box::new(|j| {
                let mac = j["seal"]["mac"].as_str().unwrap().to_string();
                let flipped = if mac.starts_with('0') { "1" } else { "0" };
                j["seal"]["mac"] = json!(format!("{flipped}{}", &mac[1..]));
            }),
        ),
        (
            "a truncated mac",
            Box::new(|j| j["seal"]["mac"] = json!("00")),
        ),
        (
            "another algorithm",
            Box::new(|j| j["seal"]["alg"] = json!("none")),
        ),
        (
            "the seal not an object",
            Box::new(|j| j["seal"] = json!("trust me")),
        ),
    ];
    for (what, edit) in edits {
        let mut json = sealed.clone();
        edit(&mut json);
        assert_ne!(json, sealed, "{what}: the edit changed something");
        assert_eq!(
            Plan::from_sealed_json(&json, &sealer),
            Err(SavedPlanError::Changed),
            "{what}"
        );
    }

    let mut unsealed = sealed.clone();
    unsealed.as_object_mut().unwrap().shift_remove("seal");
    assert_eq!(
        Plan::from_sealed_json(&unsealed, &sealer),
        Err(SavedPlanError::Unsealed)
    );
    // A plan saved without a seal (an older build) is refused too.
    let old = plan.to_json(&mut |s| sealer.seal(s));
    assert_eq!(
        Plan::from_sealed_json(&old, &sealer),
        Err(SavedPlanError::Unsealed)
    );
}

#[test]
fn a_plan_sealed_with_another_key_is_refused() {
    let (plan, store, _tmp) = plan_and_store();
    let ours = store.sealer().unwrap();
    let theirs = Sealer::generate();
    let json = plan.to_sealed_json(&theirs).unwrap();
    assert_eq!(
        Plan::from_sealed_json(&json, &ours),
        Err(SavedPlanError::OtherKey {
            sealed_with: theirs.recipient(),
            ours: ours.recipient(),
        })
    );
    let message = SavedPlanError::OtherKey {
        sealed_with: theirs.recipient(),
        ours: ours.recipient(),
    }
    .to_string();
    assert!(
        message.contains(&theirs.recipient()) && message.contains(&ours.recipient()),
        "{message}"
    );
    // Claiming our key does not help: the MAC is another key's.
    let mut claimed = json.clone();
    claimed["seal"]["key"] = json!(ours.recipient());
    assert_eq!(
        Plan::from_sealed_json(&claimed, &ours),
        Err(SavedPlanError::Changed)
    );
}

#[test]
fn the_seal_message_says_to_make_the_plan_again() {
    let e = lab_core::EngineError::PlanSeal {
        path: "plan.json".into(),
        problem: SavedPlanError::Changed.to_string(),
    };
    assert_eq!(
        e.to_string(),
        "the plan file plan.json was changed after it was saved; make it again with `plan --out`"
    );
}

#[test]
fn a_memory_store_keeps_its_key() {
    let store = lab_core::MemoryStateStore::new();
    assert!(store.existing_sealer().unwrap().is_none());
    let a = store.sealer().unwrap();
    let b = store.clone().sealer().unwrap();
    assert_eq!(a.recipient(), b.recipient());
    assert_eq!(
        store.existing_sealer().unwrap().map(|s| s.recipient()),
        Some(a.recipient())
    );
}
