//! The CLI end to end, over the memory provider.

use std::path::Path;

use super::*;
use crate::testing::{Fault, MemoryProvider, Thing};
use crate::{Appliance, ApplianceKind, Resource};

const PASSWORD: &str = "cli-test-password-7f3a";

const PLAIN: Term = Term {
    color: false,
    live: false,
    interactive: false,
};

/// The same lab each time, applied through `memory` (clones share its world).
fn lab(memory: &MemoryProvider) -> Lab {
    let mut lab = Lab::new("clitest");
    lab.register_provider(memory.shared());
    let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
    let pool = lab.add(Thing::new("pool").attr("size_gb", 100).on(&nas));
    let db = lab.add(Thing::new("db").secret("password", PASSWORD).after(&pool));
    lab.add(Thing::new("app").input("db_id", db.output::<String>("id")));
    lab
}

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn run_in(lab: Lab, dir: &Path, args: &[&str], term: Term, input: &str) -> Run {
    let mut argv: Vec<OsString> = vec!["lab".into(), "--state-dir".into(), dir.join(".lab").into()];
    argv.extend(args.iter().map(|a| OsString::from(*a)));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = io::Cursor::new(input.as_bytes().to_vec());
    let code = run_io(lab, argv, &mut out, &mut err, &mut input, term);
    let run = Run {
        code,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    };
    assert!(
        !run.out.contains(PASSWORD) && !run.err.contains(PASSWORD),
        "secret printed by {args:?}:\n{}\n{}",
        run.out,
        run.err
    );
    run
}

fn run(memory: &MemoryProvider, dir: &Path, args: &[&str]) -> Run {
    run_in(lab(memory), dir, args, PLAIN, "")
}

#[test]
fn output_prints_plain_values_and_writes_secrets_only_to_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    let r = run(&memory, dir.path(), &["output", "test.thing.db", "id"]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("no state yet"), "{}", r.err);
    let r = run(&memory, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);

    let id = memory.find_by_name("db")[0].id.clone();
    let r = run(&memory, dir.path(), &["output", "test.thing.db", "id"]);
    assert_eq!((r.code, r.out.as_str()), (0, format!("{id}\n").as_str()));
    let r = run(&memory, dir.path(), &["output", "test.thing.db", "nope"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.contains("has no output `nope`") && r.err.contains("its outputs: id"),
        "{}",
        r.err
    );

    // A secret output (as a kubeconfig is) in the state.
    let store = FileStateStore::new(dir.path().join(".lab"));
    let mut state = store.load().unwrap().unwrap();
    let db = Address::parse("test.thing.db").unwrap();
    state.resources.get_mut(&db).unwrap().outputs.insert(
        "token".into(),
        crate::Value::Secret(crate::Secret::new(PASSWORD)),
    );
    store.save(&state).unwrap();
    // run_in asserts the secret is never in stdout or stderr.
    let r = run(&memory, dir.path(), &["output", "test.thing.db", "token"]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("--out FILE"), "{}", r.err);
    let file = dir.path().join("token");
    let r = run(
        &memory,
        dir.path(),
        &[
            "output",
            "test.thing.db",
            "token",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(r.err.contains("mode 0600"), "{}", r.err);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), PASSWORD);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn plan_apply_plan_again() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();

    let r = run(&memory, dir.path(), &["plan"]);
    assert_eq!(r.code, 2, "{}{}", r.out, r.err);
    assert!(
        r.out.contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{}",
        r.out
    );
    assert!(r.out.contains("(known after apply)") && r.out.contains("(sensitive value)"));

    // No terminal and no --auto-approve: refuse, say what to do.
    let r = run(&memory, dir.path(), &["apply"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.contains("--auto-approve") && r.err.contains("plan --out"),
        "{}",
        r.err
    );
    assert_eq!(memory.counts().creates, 0);

    let r = run(
        &memory,
        dir.path(),
        &["apply", "--auto-approve", "--parallelism", "2"],
    );
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(
        r.out
            .contains("Apply complete: 3 done, 0 failed, 0 skipped in"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("create   test.thing.db: started") || r.out.contains("test.thing.db: done")
    );
    assert!(r.err.contains("created age key"), "{}", r.err);
    let state = std::fs::read_to_string(dir.path().join(".lab/state.json")).unwrap();
    assert!(!state.contains(PASSWORD));

    let r = run(&memory, dir.path(), &["plan"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(
        r.out
            .contains("No changes. The lab matches the code (3 resources)."),
        "{}",
        r.out
    );
    assert!(!r.err.contains("created age key"));

    let r = run(&memory, dir.path(), &["apply"]);
    assert_eq!(r.code, 0);
    assert!(r.out.contains("No changes."));

    let r = run(&memory, dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(r.out.contains("3 to destroy"), "{}", r.out);
    assert!(memory.objects().is_empty());
}

#[test]
fn confirmation_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    let tty = Term {
        interactive: true,
        ..PLAIN
    };
    let r = run_in(lab(&memory), dir.path(), &["apply"], tty, "no\n");
    assert_eq!(r.code, 1);
    assert!(r.out.contains("Only 'yes' will be accepted:") && r.out.contains("Apply cancelled."));
    assert_eq!(memory.counts().creates, 0);

    let r = run_in(lab(&memory), dir.path(), &["apply"], tty, "yes\n");
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert_eq!(memory.objects().len(), 3);
}

#[test]
fn saved_plan_applies_once_and_then_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    let file = dir.path().join("plan.json");
    let file_arg = file.to_str().unwrap();

    let r = run(&memory, dir.path(), &["plan", "--out", file_arg]);
    assert_eq!(r.code, 2, "{}{}", r.out, r.err);
    assert!(r.out.contains("Saved the plan to"));
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.contains(PASSWORD));
    assert!(saved.contains("$secret"));

    let r = run(&memory, dir.path(), &["apply", file_arg]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert_eq!(memory.objects().len(), 3);
    let db = memory.find_by_name("db");
    assert_eq!(
        db[0].attrs["password"],
        crate::Value::Secret(crate::Secret::new(PASSWORD))
    );

    let r = run(&memory, dir.path(), &["apply", file_arg]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("stale"), "{}", r.err);
    assert_eq!(memory.counts().creates, 3);

    let r = run(&memory, dir.path(), &["apply", "missing.json"]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("plan --out"), "{}", r.err);
}

#[test]
fn plan_json_is_json_and_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    let r = run(&memory, dir.path(), &["plan", "--json"]);
    assert_eq!(r.code, 2);
    let json: Json = serde_json::from_str(&r.out).unwrap();
    assert_eq!(json["summary"]["add"], 3);
    assert!(r.out.contains("(sensitive value)"));
    // Planning a lab needs no key: none was created.
    assert!(!dir.path().join(".lab/age.key").exists());
}

#[test]
fn a_failure_stops_only_what_depends_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    memory.fail_resource("db", Fault::Permanent);
    let r = run(&memory, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}{}", r.out, r.err);
    assert!(r.out.contains("1 done, 1 failed, 1 skipped"), "{}", r.out);
    assert!(
        r.out.contains("test.thing.db (create)") && r.out.contains("injected permanent failure")
    );
    assert!(
        r.out
            .contains("test.thing.app (create): waited for test.thing.db, which failed"),
        "{}",
        r.out
    );

    memory.clear_faults();
    let r = run(&memory, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(r.out.contains("Apply complete: 2 done"), "{}", r.out);
}

#[test]
fn state_commands() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    let r = run(&memory, dir.path(), &["state", "list"]);
    assert_eq!(r.code, 0);
    assert!(r.out.is_empty() && r.err.contains("No state yet"));

    assert_eq!(
        run(&memory, dir.path(), &["apply", "--auto-approve"]).code,
        0
    );

    let r = run(&memory, dir.path(), &["state", "list"]);
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("test.thing.app ") && lines[2].starts_with("test.thing.pool"));
    assert!(lines.iter().all(|l| l.contains("mem-")));

    let r = run(&memory, dir.path(), &["state", "show", "test.thing.db"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let shown: Json = serde_json::from_str(&r.out).unwrap();
    assert_eq!(shown["attrs"]["password"], "(sensitive value)");
    assert_eq!(shown["deps"][0], "test.thing.pool");

    let r = run(&memory, dir.path(), &["state", "show", "test.thing.nope"]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("not in the state") && r.err.contains("state list"));
    assert_eq!(
        run(&memory, dir.path(), &["state", "show", "nodot"]).code,
        1
    );

    let r = run(&memory, dir.path(), &["state", "rm", "test.thing.app"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("without destroying it"));
    assert_eq!(memory.objects().len(), 3, "state rm destroys nothing");
    let r = run(&memory, dir.path(), &["state", "list"]);
    assert_eq!(r.out.lines().count(), 2);
    assert_eq!(
        run(&memory, dir.path(), &["state", "rm", "test.thing.app"]).code,
        1
    );
}

#[test]
fn check_graph_and_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    let r = run(&memory, dir.path(), &["check"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(
        r.out.starts_with("0 error(s), 0 warning(s), 0 waived"),
        "{}",
        r.out
    );

    let mut bad = lab(&memory);
    bad.add(Thing::new("pool"));
    let r = run_in(bad, dir.path(), &["check"], PLAIN, "");
    assert_eq!(r.code, 1);
    assert!(r.out.starts_with("1 error(s)"), "{}", r.out);
    assert!(
        r.err.contains("core::duplicate-address") || r.err.contains("duplicate"),
        "{}",
        r.err
    );

    let mut bad = lab(&memory);
    bad.add(Thing::new("pool"));
    let r = run_in(bad, dir.path(), &["plan"], PLAIN, "");
    assert_eq!(r.code, 1);
    assert!(r.err.contains("nothing was planned"), "{}", r.err);

    let r = run(&memory, dir.path(), &["graph"]);
    assert_eq!(r.code, 0);
    assert!(
        r.out.starts_with("digraph lab {")
            && r.out.contains("\"test.thing.pool\" -> \"test.thing.db\"")
    );
    let r = run(&memory, dir.path(), &["graph", "--format", "mermaid"]);
    assert!(r.out.starts_with("flowchart LR"));

    let r = run(&memory, dir.path(), &["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.out.contains("clitest") && r.out.contains("apply"));
    let r = run(&memory, dir.path(), &["plan", "--bogus"]);
    assert_eq!(r.code, 1);
    assert!(!r.err.is_empty());
    assert_eq!(
        run(&memory, dir.path(), &["apply", "--parallelism", "0"]).code,
        1
    );
    assert_eq!(run(&memory, dir.path(), &[]).code, 1);
}

// Issue 9, crash safety: a damaged, lost or foreign state and an edited
// saved plan stop the run before anything reaches a provider.

/// `text` without whitespace and miette's frame (which wraps lines
/// anywhere, even inside a long path).
fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !"│╰╭─×┬┆".contains(*c))
        .collect()
}

/// True if stderr `err` says `needle`, however it was wrapped.
fn says(err: &str, needle: &str) -> bool {
    squeeze(err).contains(&squeeze(needle))
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join(".lab/state.json")
}

fn prev_file(dir: &Path) -> PathBuf {
    dir.join(".lab/state.json.prev")
}

fn restore_command(dir: &Path) -> String {
    format!(
        "cp {} {}",
        prev_file(dir).display(),
        state_file(dir).display()
    )
}

/// Applies `lab(memory)` in `dir`, then forgets the provider's counts.
fn applied(memory: &MemoryProvider, dir: &Path) {
    let r = run(memory, dir, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert_eq!(memory.objects().len(), 3);
    memory.reset_counts();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_damaged_state_stops_every_command_naming_the_file_and_its_prev() {
    /// Edits the state's JSON, or returns the bytes to write instead.
    type Damage = fn(&mut Json) -> Option<Vec<u8>>;
    let damages: [(&str, Damage, &str); 6] = [
        (
            "resources null",
            |j| {
                j["resources"] = Json::Null;
                None
            },
            "`resources` is null, not an object",
        ),
        (
            "resources missing",
            |j| {
                j.as_object_mut().unwrap().shift_remove("resources");
                None
            },
            "`resources` is missing",
        ),
        (
            "an entry without id",
            |j| {
                j["resources"]["test.thing.db"]
                    .as_object_mut()
                    .unwrap()
                    .shift_remove("id");
                None
            },
            r#"`resources["test.thing.db"].id` is missing"#,
        ),
        (
            "attrs not an object",
            |j| {
                j["resources"]["test.thing.pool"]["attrs"] = json!([1]);
                None
            },
            r#"`resources["test.thing.pool"].attrs` is an array, not an object"#,
        ),
        (
            "truncated",
            |_| Some(b"{\"version\": 1, \"lab\": \"cl".to_vec()),
            "cut short",
        ),
        ("empty", |_| Some(Vec::new()), "the file is empty"),
    ];
    for (what, damage, names) in damages {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        applied(&memory, dir.path());
        let path = state_file(dir.path());
        let mut json: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let bytes = damage(&mut json).unwrap_or_else(|| serde_json::to_vec(&json).unwrap());
        std::fs::write(&path, &bytes).unwrap();
        for args in [
            &["plan"][..],
            &["plan", "--json"],
            &["apply", "--auto-approve"],
            &["destroy", "--auto-approve"],
            &["state", "list"],
        ] {
            let r = run(&memory, dir.path(), args);
            assert_eq!(r.code, 1, "{what} {args:?}: {}{}", r.out, r.err);
            assert!(
                says(
                    &r.err,
                    &format!("the state file {} is corrupt", path.display())
                ) && says(&r.err, names)
                    && says(&r.err, &restore_command(dir.path())),
                "{what} {args:?}: {}",
                r.err
            );
        }
        assert_eq!(
            memory.counts(),
            crate::testing::CallCounts::default(),
            "{what}"
        );
        assert_eq!(memory.objects().len(), 3, "{what}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}: untouched");
    }
}

#[test]
fn a_lost_state_with_its_prev_stops_plan_with_the_restore_command() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    applied(&memory, dir.path());
    std::fs::remove_file(state_file(dir.path())).unwrap();
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["state", "list"],
    ] {
        let r = run(&memory, dir.path(), args);
        assert_eq!(r.code, 1, "{args:?}: {}{}", r.out, r.err);
        assert!(
            says(
                &r.err,
                &format!(
                    "the state file {} is missing, but its previous version {} is there",
                    state_file(dir.path()).display(),
                    prev_file(dir.path()).display()
                )
            ) && says(&r.err, &restore_command(dir.path())),
            "{args:?}: {}",
            r.err
        );
    }
    assert_eq!(memory.counts(), crate::testing::CallCounts::default());
    assert!(!state_file(dir.path()).exists());

    // Restored as told: nothing is created again (what the older state
    // lacks is adopted by its marker).
    std::fs::copy(prev_file(dir.path()), state_file(dir.path())).unwrap();
    let r = run(&memory, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert_eq!(memory.counts().creates, 0);
    assert_eq!(memory.objects().len(), 3);
    let r = run(&memory, dir.path(), &["plan"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
}

#[test]
fn apply_of_a_saved_plan_refuses_a_state_of_another_lab() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    // The plan is saved first (no state yet), then lab `other` applies
    // into the same directory (with the key the plan was sealed with).
    let file = dir.path().join("plan.json");
    let file_arg = file.to_str().unwrap();
    assert_eq!(
        run(&memory, dir.path(), &["plan", "--out", file_arg]).code,
        2
    );
    let mut other = Lab::new("other");
    other.register_provider(memory.shared());
    other.add(Thing::new("x"));
    let r = run_in(other, dir.path(), &["apply", "--auto-approve"], PLAIN, "");
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    memory.reset_counts();
    let r = run(&memory, dir.path(), &["apply", file_arg]);
    assert_eq!(r.code, 1, "{}{}", r.out, r.err);
    assert!(
        says(
            &r.err,
            &format!(
                "the state in {} belongs to lab `other`; this code is lab `clitest`",
                state_file(dir.path()).display()
            )
        ),
        "{}",
        r.err
    );
    assert_eq!(memory.counts().mutating(), 0);
}

#[test]
fn plan_refuses_a_state_of_another_lab() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    let mut other = Lab::new("other");
    other.register_provider(memory.shared());
    other.add(Thing::new("x"));
    assert_eq!(
        run_in(other, dir.path(), &["apply", "--auto-approve"], PLAIN, "").code,
        0
    );
    memory.reset_counts();
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["destroy", "--auto-approve"],
    ] {
        let r = run(&memory, dir.path(), args);
        assert_eq!(r.code, 1, "{args:?}: {}{}", r.out, r.err);
        assert!(
            says(&r.err, "belongs to lab `other`; this code is lab `clitest`"),
            "{args:?}: {}",
            r.err
        );
    }
    assert_eq!(memory.counts(), crate::testing::CallCounts::default());
}

#[test]
fn a_saved_plan_is_private_and_sealed_and_its_key_made_if_needed() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    // No secret in this lab: only the seal needs the key.
    let plain = || {
        let mut lab = Lab::new("clitest");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("a").attr("size_gb", 1));
        lab
    };
    let file = dir.path().join("plan.json");
    let file_arg = file.to_str().unwrap();
    let r = run_in(plain(), dir.path(), &["plan", "--out", file_arg], PLAIN, "");
    assert_eq!(r.code, 2, "{}{}", r.out, r.err);
    assert!(r.err.contains("created age key"), "{}", r.err);
    assert!(dir.path().join(".lab/age.key").exists());
    let saved: Json = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["seal"]["alg"], "HMAC-SHA256");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let r = run_in(plain(), dir.path(), &["plan", "--out", file_arg], PLAIN, "");
        assert_eq!(r.code, 2, "{}{}", r.out, r.err);
        assert!(!r.err.contains("created age key"), "{}", r.err);
        assert_eq!(mode(&file), 0o600, "an existing file is tightened");
    }
    let r = run_in(plain(), dir.path(), &["apply", file_arg], PLAIN, "");
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert_eq!(memory.objects().len(), 1);
    #[cfg(unix)]
    for name in [
        "state.json",
        "state.json.prev",
        "journal.jsonl",
        "lock",
        "age.key",
    ] {
        assert_eq!(mode(&dir.path().join(".lab").join(name)), 0o600, "{name}");
    }
}

#[test]
fn an_edited_saved_plan_is_refused_and_nothing_runs() {
    type Edit = fn(&mut Json);
    let edits: [(&str, Edit); 5] = [
        ("a changed size", |j| {
            for s in j["steps"].as_array_mut().unwrap() {
                if s["address"] == "test.thing.pool" {
                    s["desired"]["size_gb"] = json!(1000);
                }
            }
        }),
        ("an extra resource", |j| {
            let mut extra = j["steps"][0].clone();
            extra["address"] = json!("test.thing.extra");
            j["steps"].as_array_mut().unwrap().push(extra);
        }),
        ("a removed step", |j| {
            j["steps"].as_array_mut().unwrap().remove(0);
        }),
        ("a changed lineage", |j| {
            j["lineage"] = json!("00000000-0000-4000-8000-000000000000")
        }),
        ("a changed serial", |j| j["state_serial"] = json!(5)),
    ];
    let changed = "was changed after it was saved; make it again with `plan --out`";
    for (what, edit) in edits {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let file = dir.path().join("plan.json");
        let file_arg = file.to_str().unwrap();
        assert_eq!(
            run(&memory, dir.path(), &["plan", "--out", file_arg]).code,
            2
        );
        let mut json: Json = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        edit(&mut json);
        std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        let r = run(&memory, dir.path(), &["apply", file_arg]);
        assert_eq!(r.code, 1, "{what}: {}{}", r.out, r.err);
        assert!(
            says(&r.err, &format!("the plan file {file_arg} {changed}")),
            "{what}: {}",
            r.err
        );
        assert!(says(&r.err, "nothing was applied"), "{what}: {}", r.err);
        assert_eq!(memory.counts().mutating(), 0, "{what}");
        assert!(memory.objects().is_empty(), "{what}");
    }

    // No seal, not JSON (a torn file), another lab's key, no key at all.
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new();
    let file = dir.path().join("plan.json");
    let file_arg = file.to_str().unwrap();
    assert_eq!(
        run(&memory, dir.path(), &["plan", "--out", file_arg]).code,
        2
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let mut json: Json = serde_json::from_str(&text).unwrap();
    json.as_object_mut().unwrap().shift_remove("seal");
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
    let r = run(&memory, dir.path(), &["apply", file_arg]);
    assert_eq!(r.code, 1);
    assert!(says(&r.err, "carries no integrity seal"), "{}", r.err);
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let r = run(&memory, dir.path(), &["apply", file_arg]);
    assert_eq!(r.code, 1);
    assert!(
        says(&r.err, "is not a saved plan: it is not JSON"),
        "{}",
        r.err
    );

    std::fs::write(&file, &text).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let r = run(&memory, elsewhere.path(), &["apply", file_arg]);
    assert_eq!(r.code, 1);
    assert!(says(&r.err, "this lab has no key yet"), "{}", r.err);
    assert!(
        !elsewhere.path().join(".lab/age.key").exists(),
        "no key made"
    );
    // Once that directory has its own key: another key.
    run(
        &memory,
        elsewhere.path(),
        &[
            "plan",
            "--out",
            elsewhere.path().join("p.json").to_str().unwrap(),
        ],
    );
    let r = run(&memory, elsewhere.path(), &["apply", file_arg]);
    assert_eq!(r.code, 1);
    assert!(says(&r.err, "was sealed with another key"), "{}", r.err);
    assert_eq!(memory.counts().mutating(), 0);

    // The file as saved still applies.
    let r = run(&memory, dir.path(), &["apply", file_arg]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert_eq!(memory.objects().len(), 3);
}

/// A provider's plan-time finding is rendered like a check's: a report
/// at the user's line, exit code 1, nothing applied.
#[test]
fn plan_check_findings_render_at_the_line_and_stop_apply() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryProvider::new().check_plan_with(|plan, _| {
        plan.steps
            .iter()
            .filter_map(|s| plan.spec(s))
            .filter(|spec| spec.attrs.get("size_gb") == Some(&crate::Value::Int(100)))
            .map(|spec| {
                Diagnostic::error("memory::too-big", "no room for 100 GiB")
                    .for_resource(&spec.address)
                    .with_label(spec.loc_of("size_gb"), "100 GiB asked here")
            })
            .collect()
    });
    let line = line!() + 2;
    let mut lab = lab(&memory);
    lab.add(Thing::new("big").attr("size_gb", 100));
    let r = run_in(lab, dir.path(), &["apply", "--auto-approve"], PLAIN, "");
    assert_eq!(r.code, 1, "{}{}", r.out, r.err);
    assert!(r.err.contains("memory::too-big"), "{}", r.err);
    assert!(r.err.contains("lab::plan_check_failed"), "{}", r.err);
    assert!(r.err.contains(&format!("{}:{line}", file!())), "{}", r.err);
    assert_eq!(memory.counts().mutating(), 0, "nothing applied");
}
