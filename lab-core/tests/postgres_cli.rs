//! The CLI with the PostgreSQL store (`LAB_STATE_POSTGRES`): `run` uses
//! it and says so without the password; `state history`, `state rollback`
//! and `state migrate` file -> PostgreSQL -> file keep serial, lineage
//! and every resource; a target holding another state is refused.

use std::path::Path;
use std::sync::Mutex;

use lab_core::prelude::*;
use lab_core::state::FileStateStore;
use lab_core::testing::postgres::TestPostgres;
use lab_core::testing::{MemoryProvider, Thing};
use lab_core::StateStore;

/// `LAB_STATE_POSTGRES` is the process's: one test at a time sets it.
static ENV: Mutex<()> = Mutex::new(());

fn lab(provider: &MemoryProvider, size: i64) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(provider.shared());
    let db = lab.add(
        Thing::new("db")
            .attr("size", size)
            .secret("password", "db-plaintext-pw"),
    );
    lab.add(Thing::new("app").attr("size", 1).after(&db));
    lab.add(Thing::new("cache").attr("size", 2));
    lab
}

/// Runs the CLI with `LAB_STATE_POSTGRES` = `url` (unset when `None`).
fn cli(lab: Lab, url: Option<&str>, dir: &Path, args: &[&str]) -> (i32, String, String) {
    match url {
        Some(u) => std::env::set_var("LAB_STATE_POSTGRES", u),
        None => std::env::remove_var("LAB_STATE_POSTGRES"),
    }
    let mut argv = vec![
        "lab".to_string(),
        "--state-dir".into(),
        dir.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(lab, argv, &mut out, &mut err);
    std::env::remove_var("LAB_STATE_POSTGRES");
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[test]
fn migrate_file_to_postgres_and_back_keeps_serial_lineage_and_every_resource() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let url = pg.tls_url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".lab");
    let provider = MemoryProvider::new();
    let apply = ["apply", "--auto-approve"];
    assert_eq!(cli(lab(&provider, 10), None, &dir, &apply).0, 0);
    let (code, out, err) = cli(lab(&provider, 20), None, &dir, &apply);
    assert_eq!(code, 0, "{out}{err}");
    let file = FileStateStore::new(&dir).load().unwrap().unwrap();

    // The file store's history: the current state and state.json.prev.
    let (code, out, _) = cli(lab(&provider, 20), None, &dir, &["state", "history"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("SERIAL") && lines[0].contains("RESOURCES"),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains(&file.lineage) && lines[1].ends_with("current"),
        "{out}"
    );
    assert!(
        lines[1].trim_start().starts_with(&file.serial.to_string()),
        "{out}"
    );
    assert!(lines[2].ends_with("state.json.prev"), "{out}");

    // file -> PostgreSQL, the password from PGPASSWORD (not on the
    // command line).
    let no_password = url.replace(&format!(":{}@", pg.password()), "@");
    assert!(!no_password.contains(pg.password()));
    std::env::set_var("PGPASSWORD", pg.password());
    let (code, out, err) = cli(
        lab(&provider, 20),
        None,
        &dir,
        &["state", "migrate", "--to", &no_password],
    );
    std::env::remove_var("PGPASSWORD");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&file.lineage), "{out}");
    assert!(!format!("{out}{err}").contains(pg.password()), "{out}{err}");

    // The run now uses PostgreSQL, says so, and finds nothing to change.
    let (code, out, err) = cli(lab(&provider, 20), Some(&url), &dir, &["plan"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("state: PostgreSQL postgres://lab@127.0.0.1:"),
        "{err}"
    );
    assert!(!format!("{out}{err}").contains(pg.password()));
    let (_, history, _) = cli(lab(&provider, 20), Some(&url), &dir, &["state", "history"]);
    assert_eq!(history.lines().count(), 3, "both versions moved: {history}");
    let stored = pg
        .psql("SELECT document::text FROM lab_state_versions")
        .unwrap();
    assert!(!stored.contains("db-plaintext-pw"));

    // An apply in PostgreSQL, then PostgreSQL -> another directory.
    let (code, out, err) = cli(lab(&provider, 30), Some(&url), &dir, &apply);
    assert_eq!(code, 0, "{out}{err}");
    let in_pg = lab_core::state::postgres::PostgresStateStore::connect(&url, "home")
        .unwrap()
        .with_key_file(dir.join("age.key"))
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(in_pg.lineage, file.lineage);
    assert!(in_pg.serial > file.serial);
    let back = tmp.path().join("back");
    let (code, out, err) = cli(
        lab(&provider, 30),
        Some(&url),
        &dir,
        &["state", "migrate", "--to", back.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let copied = FileStateStore::new(&back)
        .with_key_file(dir.join("age.key"))
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(copied, in_pg, "serial, lineage and every resource");
    assert!(!std::fs::read_to_string(back.join("state.json"))
        .unwrap()
        .contains("db-plaintext-pw"));

    // The first directory holds an older version of this same state: a
    // migration into it is allowed; the other way round is refused.
    let (code, _, err) = cli(
        lab(&provider, 30),
        None,
        &dir,
        &["state", "migrate", "--to", &url],
    );
    assert_eq!(code, 1, "PostgreSQL holds a newer serial");
    assert!(err.contains("newer"), "{err}");

    // A directory holding another lineage (sealed with the same key) is
    // refused.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(dir.join("age.key"), other.join("age.key")).unwrap();
    let provider2 = MemoryProvider::new();
    assert_eq!(cli(lab(&provider2, 1), None, &other, &apply).0, 0);
    let (code, _, err) = cli(
        lab(&provider, 30),
        Some(&url),
        &dir,
        &["state", "migrate", "--to", other.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("another state"), "{err}");
}

#[test]
fn rollback_writes_a_kept_version_back_under_the_lock() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let url = pg.tls_url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".lab");
    let provider = MemoryProvider::new();
    let apply = ["apply", "--auto-approve"];
    assert_eq!(cli(lab(&provider, 1), Some(&url), &dir, &apply).0, 0);
    let store = lab_core::state::postgres::PostgresStateStore::connect(&url, "home")
        .unwrap()
        .with_key_file(dir.join("age.key"));
    let first = store.load().unwrap().unwrap();
    assert_eq!(cli(lab(&provider, 2), Some(&url), &dir, &apply).0, 0);
    let second = store.load().unwrap().unwrap();
    let (code, out, err) = cli(
        lab(&provider, 2),
        Some(&url),
        &dir,
        &["state", "rollback", &first.serial.to_string()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let now = store.load().unwrap().unwrap();
    assert_eq!(now.serial, second.serial + 1);
    assert_eq!(now.resources, first.resources);
    // The live object has size 2; the state says 1: the plan shows it.
    let (code, out, _) = cli(lab(&provider, 2), Some(&url), &dir, &["plan"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("size = 1 -> 2"), "{out}");
    // A serial the store does not keep.
    let (code, _, err) = cli(
        lab(&provider, 2),
        Some(&url),
        &dir,
        &["state", "rollback", "999"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("keeps no version with serial 999"), "{err}");
    // Refused while another run holds the lock.
    let _held = store.lock("apply").unwrap();
    let (code, _, err) = cli(
        lab(&provider, 2),
        Some(&url),
        &dir,
        &["state", "rollback", &first.serial.to_string()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("locked by pid"), "{err}");
}

#[test]
fn without_the_variable_the_file_store_is_used_silently() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".lab");
    let (code, out, err) = cli(
        lab(&MemoryProvider::new(), 1),
        None,
        &dir,
        &["state", "history"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("No state yet"), "{err}");
    assert!(!err.contains("PostgreSQL"));
    // A malformed connection string is refused without being repeated.
    let (code, _, err) = cli(
        lab(&MemoryProvider::new(), 1),
        Some("postgres://lab:hunter2@127.0.0.1/lab?sslmode=sometimes"),
        &dir,
        &["plan"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("sslmode"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
