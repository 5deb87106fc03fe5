//! A damaged, lost or foreign state is an error, never an empty state.
//!
//! A state read as emptier than it is makes the next plan create every
//! object again (duplicates, VMID collisions). So every way a `state.json`
//! can be damaged (a field missing, null or of the wrong type, a resource
//! entry without its id, attributes that are not an object, a truncated or
//! empty file, a JSON array) is [`StateError::Corrupt`] naming the file and
//! the field and telling how to restore `state.json.prev`; a field this
//! build does not know is refused; a lost `state.json` whose `.prev` is
//! still there is refused with the `cp` that restores it; a state of another
//! lab is refused with both names. Nothing reaches the provider. The files
//! are private (0600) and `.prev` is replaced atomically. States written by
//! older builds (the fixtures of lab-proxmox and lab-talos) still load.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::runtime;
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::state::{FileStateStore, State, StateError, StateStore};
use lab_core::testing::{CallCounts, MemoryProvider, Thing};
use lab_core::EngineError;
use miette::Diagnostic as _;
use serde_json::{json, Value as Json};

const PASSWORD: &str = "state-damage-password-41c9";

/// Three things, one with a secret, one depending on another.
fn lab(memory: &MemoryProvider, name: &str) -> Lab {
    let mut lab = Lab::new(name);
    lab.register_provider(memory.shared());
    let db = lab.add(Thing::new("db").secret("password", PASSWORD));
    lab.add(Thing::new("app").input("db_id", db.output::<String>("id")));
    lab.add(Thing::new("cache").attr("size_gb", 2));
    lab
}

fn store(dir: &Path) -> Arc<FileStateStore> {
    Arc::new(FileStateStore::new(dir.join(".lab")))
}

fn engine(memory: &MemoryProvider, dir: &Path) -> Engine {
    Engine::with_store(lab(memory, "home"), store(dir) as Arc<dyn StateStore>)
}

/// Applies the lab into `dir/.lab` and applies once more (a change), so
/// `state.json.prev` exists; returns the provider with its counts reset.
fn applied(dir: &Path) -> MemoryProvider {
    let memory = MemoryProvider::new();
    runtime().block_on(async {
        let engine = engine(&memory, dir);
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        assert!(engine
            .apply(&plan, &Default::default())
            .await
            .expect("apply")
            .is_success());
    });
    assert_eq!(memory.objects().len(), 3);
    memory.reset_counts();
    memory
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join(".lab/state.json")
}

fn prev_path(dir: &Path) -> PathBuf {
    dir.join(".lab/state.json.prev")
}

fn read_json(path: &Path) -> Json {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

/// Edits a state's JSON, or returns the bytes to write instead.
type Damager = Box<dyn Fn(&mut Json) -> Option<Vec<u8>>>;

/// A way to damage a state file, with what the error must name.
struct Damage {
    what: &'static str,
    damage: Damager,
    names: &'static str,
}

fn edit(f: impl Fn(&mut Json) + 'static) -> Damager {
    Box::new(move |j| {
        f(j);
        None
    })
}

fn bytes(f: impl Fn(&[u8]) -> Vec<u8> + 'static) -> Damager {
    Box::new(move |j| Some(f(serde_json::to_string_pretty(j).unwrap().as_bytes())))
}

fn resource<'j>(j: &'j mut Json, name: &str) -> &'j mut Json {
    &mut j["resources"][format!("test.thing.{name}")]
}

fn damages() -> Vec<Damage> {
    vec![
        Damage {
            what: "resources missing",
            damage: edit(|j| {
                j.as_object_mut().unwrap().shift_remove("resources");
            }),
            names: "`resources` is missing",
        },
        Damage {
            what: "resources null",
            damage: edit(|j| j["resources"] = Json::Null),
            names: "`resources` is null, not an object",
        },
        Damage {
            what: "resources an array",
            damage: edit(|j| j["resources"] = json!([])),
            names: "`resources` is an array, not an object",
        },
        Damage {
            what: "resources a string",
            damage: edit(|j| j["resources"] = json!("{}")),
            names: "`resources` is a string, not an object",
        },
        Damage {
            what: "deposed null",
            damage: edit(|j| j["deposed"] = Json::Null),
            names: "`deposed` is null",
        },
        Damage {
            what: "an entry without id",
            damage: edit(|j| {
                resource(j, "db")
                    .as_object_mut()
                    .unwrap()
                    .shift_remove("id");
            }),
            names: r#"`resources["test.thing.db"].id` is missing"#,
        },
        Damage {
            what: "an id that is a number",
            damage: edit(|j| resource(j, "db")["id"] = json!(7)),
            names: r#"`resources["test.thing.db"].id` is the number 7, not a string"#,
        },
        Damage {
            what: "attrs a string",
            damage: edit(|j| resource(j, "cache")["attrs"] = json!("size_gb=2")),
            names: r#"`resources["test.thing.cache"].attrs` is a string, not an object"#,
        },
        Damage {
            what: "attrs null",
            damage: edit(|j| resource(j, "cache")["attrs"] = Json::Null),
            names: r#"`resources["test.thing.cache"].attrs` is null, not an object"#,
        },
        Damage {
            what: "outputs missing",
            damage: edit(|j| {
                resource(j, "app")
                    .as_object_mut()
                    .unwrap()
                    .shift_remove("outputs");
            }),
            names: r#"`resources["test.thing.app"].outputs` is missing"#,
        },
        Damage {
            what: "deps an object",
            damage: edit(|j| resource(j, "app")["deps"] = json!({})),
            names: r#"`resources["test.thing.app"].deps` is an object, not an array"#,
        },
        Damage {
            what: "a dep that is no address",
            damage: edit(|j| resource(j, "app")["deps"] = json!(["nodot"])),
            names: r#"`resources["test.thing.app"].deps[0]` is not a `kind.name` resource address"#,
        },
        Damage {
            what: "an entry that is a string",
            damage: edit(|j| *resource(j, "cache") = json!("mem-3")),
            names: r#"`resources["test.thing.cache"]` is a string, not an object"#,
        },
        Damage {
            what: "serial negative",
            damage: edit(|j| j["serial"] = json!(-1)),
            names: "`serial` is the number -1, not a whole number",
        },
        Damage {
            what: "lineage missing",
            damage: edit(|j| {
                j.as_object_mut().unwrap().shift_remove("lineage");
            }),
            names: "`lineage` is missing",
        },
        Damage {
            what: "timings an array",
            damage: edit(|j| j["timings"] = json!([])),
            names: "`timings` is an array, not an object",
        },
        Damage {
            what: "pending a string",
            damage: edit(|j| j["pending"] = json!("none")),
            names: "`pending` is a string, not an object",
        },
        Damage {
            what: "truncated",
            damage: bytes(|b| b[..b.len() / 2].to_vec()),
            names: "cut short",
        },
        Damage {
            what: "empty",
            damage: bytes(|_| Vec::new()),
            names: "the file is empty",
        },
        Damage {
            what: "a JSON array",
            damage: bytes(|_| b"[]\n".to_vec()),
            names: "the file holds a JSON array, not a state object",
        },
        Damage {
            what: "a JSON string",
            damage: bytes(|_| b"\"state\"\n".to_vec()),
            names: "not a state object",
        },
    ]
}

/// Damages `dir`'s state.json; returns the bytes written.
fn damage(dir: &Path, d: &Damage) -> Vec<u8> {
    let path = state_path(dir);
    let mut json = read_json(&path);
    let written = match (d.damage)(&mut json) {
        Some(b) => b,
        None => serde_json::to_vec_pretty(&json).unwrap(),
    };
    std::fs::write(&path, &written).expect("write the damage");
    written
}

fn assert_names_file_and_prev(e: &StateError, dir: &Path, what: &str) {
    let text = e.to_string();
    let help = e.help().map(|h| h.to_string()).unwrap_or_default();
    let state = state_path(dir).display().to_string();
    let prev = prev_path(dir).display().to_string();
    assert!(text.contains(&state), "{what}: names the file: {text}");
    assert!(
        help.contains(&format!("cp {prev} {state}")),
        "{what}: says how to restore .prev: {help}"
    );
}

#[test]
fn every_damage_is_corrupt_naming_the_field_and_the_file_is_untouched() {
    for d in damages() {
        let tmp = tempfile::tempdir().unwrap();
        let memory = applied(tmp.path());
        let written = damage(tmp.path(), &d);
        let e = FileStateStore::new(tmp.path().join(".lab"))
            .load()
            .expect_err(d.what);
        match &e {
            StateError::Corrupt { path, reason } => {
                assert_eq!(path, &state_path(tmp.path()), "{}", d.what);
                assert!(reason.contains(d.names), "{}: {reason}", d.what);
            }
            other => panic!("{}: expected Corrupt, got {other:?}", d.what),
        }
        assert_names_file_and_prev(&e, tmp.path(), d.what);
        assert!(!e.to_string().contains(PASSWORD));
        assert_eq!(
            std::fs::read(state_path(tmp.path())).unwrap(),
            written,
            "{}: the file is left as it was",
            d.what
        );

        // The engine plans nothing and sends nothing to the provider.
        runtime().block_on(async {
            let engine = engine(&memory, tmp.path());
            match engine.plan(&PlanOptions::default()).await {
                Err(EngineError::State(StateError::Corrupt { .. })) => {}
                other => panic!("{}: plan must fail, got {other:?}", d.what),
            }
        });
        assert_eq!(memory.counts(), CallCounts::default(), "{}", d.what);
        assert_eq!(memory.objects().len(), 3, "{}", d.what);
        assert_eq!(std::fs::read(state_path(tmp.path())).unwrap(), written);
    }
}

#[test]
fn a_damage_in_a_state_with_sealed_secrets_is_reported_before_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    applied(tmp.path());
    std::fs::remove_file(tmp.path().join(".lab/age.key")).unwrap();
    damage(
        tmp.path(),
        &Damage {
            what: "attrs null",
            damage: edit(|j| resource(j, "cache")["attrs"] = Json::Null),
            names: "",
        },
    );
    let e = FileStateStore::new(tmp.path().join(".lab"))
        .load()
        .expect_err("damaged");
    assert!(matches!(e, StateError::Corrupt { .. }), "{e:?}");
}

#[test]
fn an_unknown_field_is_refused_by_name() {
    type Edit = Box<dyn Fn(&mut Json)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|j: &mut Json| j["outputs_v2"] = json!({})),
            "outputs_v2",
        ),
        (
            Box::new(|j: &mut Json| resource(j, "db")["replicas"] = json!(2)),
            r#"resources["test.thing.db"].replicas"#,
        ),
    ];
    for (edit, field) in cases {
        let tmp = tempfile::tempdir().unwrap();
        applied(tmp.path());
        let path = state_path(tmp.path());
        let mut json = read_json(&path);
        edit(&mut json);
        let written = serde_json::to_vec_pretty(&json).unwrap();
        std::fs::write(&path, &written).unwrap();
        let e = FileStateStore::new(tmp.path().join(".lab"))
            .load()
            .expect_err(field);
        match &e {
            StateError::UnknownField { path: p, field: f } => {
                assert_eq!(p, &path);
                assert_eq!(f, field);
            }
            other => panic!("expected UnknownField, got {other:?}"),
        }
        assert!(e.to_string().contains(&format!("`{field}`")), "{e}");
        let help = e.help().unwrap().to_string();
        assert!(help.contains("newer build"), "{help}");
        assert_eq!(std::fs::read(&path).unwrap(), written);
    }
}

#[test]
fn optional_fields_may_be_absent() {
    let tmp = tempfile::tempdir().unwrap();
    applied(tmp.path());
    let path = state_path(tmp.path());
    let mut json = read_json(&path);
    let top = json.as_object_mut().unwrap();
    for k in ["deposed", "timings", "pending"] {
        top.shift_remove(k);
    }
    for r in top["resources"].as_object_mut().unwrap().values_mut() {
        let r = r.as_object_mut().unwrap();
        r.shift_remove("create_before_destroy");
        r.shift_remove("provider");
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let state = FileStateStore::new(tmp.path().join(".lab"))
        .load()
        .expect("loads")
        .expect("some");
    assert_eq!(state.resources.len(), 3);
    assert!(state.deposed.is_empty() && state.timings.is_empty() && state.pending.is_empty());
    assert!(state.resources.values().all(|r| r.provider.is_empty()));
}

/// Copies an older build's state (and its key, if any) into a temporary
/// `.lab` and loads it.
fn load_fixture(crate_dir: &str) -> State {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("tests/fixtures/state-v0.1-b7ad410");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".lab");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["state.json", "age.key"] {
        if fixture.join(name).exists() {
            std::fs::copy(fixture.join(name), dir.join(name)).unwrap();
        }
    }
    FileStateStore::new(&dir)
        .load()
        .unwrap_or_else(|e| panic!("{crate_dir}'s old state: {e:?}"))
        .expect("a state")
}

#[test]
fn states_written_by_older_builds_still_load() {
    let pve = load_fixture("lab-proxmox");
    assert_eq!(pve.lab, "home");
    assert!(pve.resources.len() > 5, "{}", pve.resources.len());
    assert!(pve.resources.values().all(|r| r.provider.is_empty()));
    let talos = load_fixture("lab-talos");
    assert!(talos.has_secrets());
    assert!(talos.resources.len() > 5);
}

#[test]
fn a_lost_state_with_its_prev_is_refused_with_the_restore_command() {
    let tmp = tempfile::tempdir().unwrap();
    let memory = applied(tmp.path());
    let (state, prev) = (state_path(tmp.path()), prev_path(tmp.path()));
    let older = std::fs::read(&state).unwrap();
    // A second apply makes one more object.
    runtime().block_on(async {
        let mut lab = lab(&memory, "home");
        lab.add(Thing::new("extra"));
        let engine = Engine::with_store(lab, store(tmp.path()) as Arc<dyn StateStore>);
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(engine
            .apply(&plan, &Default::default())
            .await
            .unwrap()
            .is_success());
    });
    assert!(prev.exists());
    assert_eq!(memory.objects().len(), 4);
    memory.reset_counts();
    // The state is lost; the version kept beside it is older than the world
    // (written here as the state before the second apply, so it certainly
    // lacks the new object).
    std::fs::remove_file(&state).unwrap();
    std::fs::write(&prev, &older).unwrap();

    let e = FileStateStore::new(tmp.path().join(".lab"))
        .load()
        .expect_err("lost");
    match &e {
        StateError::Missing { path, prev: p } => {
            assert_eq!(path, &state);
            assert_eq!(p, &prev);
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    let help = e.help().unwrap().to_string();
    assert!(
        help.contains(&format!("cp {} {}", prev.display(), state.display())),
        "{help}"
    );
    runtime().block_on(async {
        match engine(&memory, tmp.path())
            .plan(&PlanOptions::default())
            .await
        {
            Err(EngineError::State(StateError::Missing { .. })) => {}
            other => panic!("plan must refuse, got {other:?}"),
        }
    });
    assert_eq!(memory.counts(), CallCounts::default());
    assert!(!state.exists(), "nothing was written");

    // Restored as told: the older state loads, and the plan adopts the
    // object it does not record (it carries the lab's marker) rather than
    // creating it again.
    std::fs::copy(&prev, &state).unwrap();
    runtime().block_on(async {
        let mut lab = lab(&memory, "home");
        lab.add(Thing::new("extra"));
        let engine = Engine::with_store(lab, store(tmp.path()) as Arc<dyn StateStore>);
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(!plan.has_changes(), "{plan:?}");
    });
    assert_eq!(memory.counts().creates, 0);
    assert_eq!(memory.objects().len(), 4);
}

#[test]
fn a_state_of_another_lab_is_refused_with_both_names() {
    let tmp = tempfile::tempdir().unwrap();
    applied(tmp.path());
    let store = FileStateStore::new(tmp.path().join(".lab"));
    assert!(store.load_lab("home").unwrap().is_some());
    let e = store.load_lab("work").expect_err("another lab");
    match &e {
        StateError::ForeignLab {
            state_lab,
            code_lab,
            ..
        } => assert_eq!((state_lab.as_str(), code_lab.as_str()), ("home", "work")),
        other => panic!("expected ForeignLab, got {other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("belongs to lab `home`; this code is lab `work`")
            && text.contains(&state_path(tmp.path()).display().to_string()),
        "{text}"
    );
    assert!(e.help().unwrap().to_string().contains("--state-dir"));
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[test]
fn the_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".lab");
    let store = FileStateStore::new(&dir);
    let mut state = State::new("home");
    state.serial = 1;
    let _lock = store.lock("test").unwrap();
    store.save(&state).unwrap();
    state.serial = 2;
    store.save(&state).unwrap();
    store
        .journal_append(&lab_core::state::JournalRecord::Done {
            run: "r".into(),
            op: 1,
            ok: true,
        })
        .unwrap();
    assert_eq!(mode(&dir), 0o700, "the directory it created");
    for name in ["state.json", "state.json.prev", "journal.jsonl", "lock"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    drop(_lock);

    // Wider modes (an older build, a copy, a restore) are tightened on write.
    for name in ["state.json", "state.json.prev", "journal.jsonl", "lock"] {
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let _lock = store.lock("test").unwrap();
    state.serial = 3;
    store.save(&state).unwrap();
    store.journal_clear().unwrap();
    for name in ["state.json", "state.json.prev", "journal.jsonl", "lock"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name} tightened");
    }
    std::fs::set_permissions(
        dir.join("journal.jsonl"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    store
        .journal_append(&lab_core::state::JournalRecord::Done {
            run: "r".into(),
            op: 2,
            ok: true,
        })
        .unwrap();
    assert_eq!(mode(&dir.join("journal.jsonl")), 0o600);
}

#[test]
fn prev_is_replaced_whole_and_no_temp_file_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".lab");
    let store = FileStateStore::new(&dir);
    let mut state = State::new("home");
    for serial in 1..=4 {
        let before = std::fs::read(dir.join("state.json")).ok();
        // A torn temp file left by a crash while .prev was written.
        if serial == 3 {
            std::fs::write(dir.join("state.json.prev.tmp"), b"{ torn").unwrap();
        }
        state.serial = serial;
        store.save(&state).unwrap();
        assert_eq!(std::fs::read(dir.join("state.json.prev")).ok(), before);
        assert!(!dir.join("state.json.prev.tmp").exists());
        assert!(!dir.join("state.json.tmp").exists());
    }
    let prev: Json = read_json(&dir.join("state.json.prev"));
    assert_eq!(prev["serial"], 3);
}
