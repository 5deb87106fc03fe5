//! The PostgreSQL state store against a real server
//! (`lab_core::testing::postgres::TestPostgres`): save, load and the
//! journal round trip, secrets sealed in the database, the history kept,
//! rollback, TLS (pinned, CA file, refused), and what a cut connection
//! leaves behind.

use lab_core::prelude::*;
use lab_core::state::postgres::{CutBeforeCommit, PostgresStateStore};
use lab_core::state::{JournalRecord, ResourceState, State, StateError, StateStore};
use lab_core::testing::postgres::TestPostgres;
use lab_core::value::Attrs;
use lab_core::Address;

fn store(pg: &TestPostgres, lab: &str, dir: &std::path::Path) -> PostgresStateStore {
    PostgresStateStore::connect(&pg.tls_url(), lab)
        .expect("connection string")
        .with_key_file(dir.join("age.key"))
}

fn state_with_secret(lab: &str, serial: u64, password: &str) -> State {
    let mut state = State::new(lab);
    state.serial = serial;
    let mut attrs = Attrs::new();
    attrs.insert("size".into(), Value::Int(serial as i64));
    attrs.insert("password".into(), Value::Secret(Secret::new(password)));
    state.resources.insert(
        Address::parse("thing.db").unwrap(),
        ResourceState {
            id: "mem-1".into(),
            attrs,
            outputs: Attrs::new(),
            deps: vec![],
            create_before_destroy: false,
            provider: "memory".into(),
        },
    );
    state
}

#[test]
fn save_load_and_journal_round_trip_with_secrets_sealed() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = store(&pg, "home", dir.path());
    assert!(s.load().unwrap().is_none());
    assert!(s.journal_read().unwrap().is_empty());
    let state = state_with_secret("home", 1, "hunter2-plaintext");
    s.save(&state).unwrap();
    let record = JournalRecord::Done {
        run: "r".into(),
        op: 1,
        ok: true,
    };
    s.journal_append(&record).unwrap();

    // A second store (another process) reads the same.
    let t = store(&pg, "home", dir.path());
    assert_eq!(t.load().unwrap().unwrap(), state);
    assert_eq!(t.journal_read().unwrap(), vec![record]);
    t.journal_clear().unwrap();
    assert!(s.journal_read().unwrap().is_empty());

    // The database holds ciphertext only, and the key's public half.
    let stored = pg
        .psql("SELECT document::text FROM lab_state_versions")
        .unwrap();
    assert!(!stored.contains("hunter2-plaintext"), "{stored}");
    assert!(stored.contains("$secret"), "{stored}");
    assert!(stored.contains("key_recipient"));
    // Another lab in the same database sees nothing of it.
    assert!(store(&pg, "other", dir.path()).load().unwrap().is_none());
    // The description never holds the password.
    assert!(!s.describe().contains(pg.password()));
    assert!(s.describe().starts_with("postgres://lab@127.0.0.1:"));
}

#[test]
fn history_keeps_the_last_n_and_rollback_writes_an_old_version_back() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = store(&pg, "home", dir.path()).with_history(5);
    let first = state_with_secret("home", 1, "pw");
    let lineage = first.lineage.clone();
    for serial in 1..=8 {
        let mut st = state_with_secret("home", serial, "pw");
        st.lineage = lineage.clone();
        if serial > 4 {
            st.resources.clear();
        }
        s.save(&st).unwrap();
    }
    let history = s.history().unwrap();
    let serials: Vec<u64> = history.iter().map(|v| v.serial).collect();
    assert_eq!(serials, vec![8, 7, 6, 5, 4]);
    assert_eq!(history[0].label, "current");
    assert_eq!(history[4].resources, 1);
    assert_eq!(history[0].resources, 0);
    assert!(history[0].saved_at.as_deref().unwrap().ends_with(" UTC"));
    assert!(s.load_version(3).unwrap().is_none());

    let _lock = s.lock("state rollback").unwrap();
    let back = lab_core::state::rollback(&s, 4).unwrap();
    assert_eq!(back.serial, 9);
    let now = s.load().unwrap().unwrap();
    assert_eq!(now.serial, 9);
    assert_eq!(now.resources.len(), 1);
    assert_eq!(now.resources[0].attrs["size"], Value::Int(4));
    // A version the store does not keep, and one of another lineage.
    assert!(matches!(
        lab_core::state::rollback(&s, 2),
        Err(lab_core::state::RollbackError::NotKept { .. })
    ));
    pg.psql(
        "UPDATE lab_state_versions SET document = replace(document::text, lineage, \
         'other-lineage')::json, lineage = 'other-lineage' WHERE serial = 5",
    )
    .unwrap();
    let err = lab_core::state::rollback(&s, 5).unwrap_err();
    assert!(
        matches!(err, lab_core::state::RollbackError::OtherLineage { .. }),
        "{err}"
    );
}

#[test]
fn a_save_cut_before_commit_leaves_the_previous_version() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = store(&pg, "home", dir.path());
    let one = state_with_secret("home", 1, "pw");
    s.save(&one).unwrap();
    s.inject_fault(CutBeforeCommit { on_save: 1 });
    let mut two = one.clone();
    two.serial = 2;
    two.resources.clear();
    let err = s.save(&two).unwrap_err();
    assert!(matches!(err, StateError::Injected(_)), "{err}");
    assert!(!err.to_string().contains("survived"), "{err}");
    // The previous version is what is there, for this store (reconnected)
    // and for another.
    assert_eq!(s.load().unwrap().unwrap(), one);
    assert_eq!(store(&pg, "home", dir.path()).load().unwrap().unwrap(), one);
    s.save(&two).unwrap();
    assert_eq!(s.load().unwrap().unwrap().serial, 2);
}

#[test]
fn a_lock_on_a_terminated_session_is_lost_and_writes_stop() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = store(&pg, "home", dir.path());
    let one = state_with_secret("home", 1, "pw");
    s.save(&one).unwrap();
    let lock = s.lock("apply").unwrap();
    // A second lock in this process is refused, naming the holder.
    let other = store(&pg, "home", dir.path());
    let refused = other.lock("apply").err().expect("locked");
    let text = refused.to_string();
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("(apply, since"), "{text}");
    assert!(text.contains("released when that session ends"), "{text}");
    // An administrator ends the session: the lock goes with it.
    let pid = s.backend_pid().unwrap();
    pg.psql(&format!("SELECT pg_terminate_backend({pid})"))
        .unwrap();
    let mut two = one.clone();
    two.serial = 2;
    let err = s.save(&two).unwrap_err();
    assert!(err.to_string().contains("lost"), "{err}");
    assert!(!err.to_string().contains(pg.password()));
    // Still refused until the lock is given back: the lock was lost.
    assert!(s.save(&two).is_err());
    let _taken = other.lock("apply").expect("the lock went with the session");
    drop(lock);
    assert_eq!(s.load().unwrap().unwrap(), one);
}

#[test]
fn tls_is_verified_pinned_by_ca_file_or_refused_with_the_fingerprint() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("server.crt");
    std::fs::write(&ca, pg.cert_pem()).unwrap();
    let by_ca = PostgresStateStore::connect(
        &pg.url(&format!("sslmode=verify-full&sslrootcert={}", ca.display())),
        "home",
    )
    .unwrap();
    assert!(by_ca.load().unwrap().is_none());
    // The platform's roots do not know the self-signed certificate.
    let refused = PostgresStateStore::connect(&pg.url("sslmode=require"), "home")
        .unwrap()
        .load()
        .unwrap_err()
        .to_string();
    assert!(refused.contains(&pg.fingerprint()), "{refused}");
    assert!(refused.contains("sslfingerprint="), "{refused}");
    assert!(!refused.contains(pg.password()));
    // A wrong password: refused, not echoed.
    let url = pg.tls_url().replace(pg.password(), "wrong-password");
    let err = PostgresStateStore::connect(&url, "home")
        .unwrap()
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("wrong-password"), "{err}");
}

#[test]
fn concurrent_journal_appends_are_all_kept_in_each_callers_order() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = store(&pg, "home", dir.path());
    std::thread::scope(|scope| {
        for t in 0..8u64 {
            let s = &s;
            scope.spawn(move || {
                for op in 0..40u64 {
                    s.journal_append(&JournalRecord::Done {
                        run: format!("run-{t}"),
                        op,
                        ok: true,
                    })
                    .unwrap();
                }
            });
        }
    });
    let records = store(&pg, "home", dir.path()).journal_read().unwrap();
    assert_eq!(records.len(), 8 * 40);
    for t in 0..8 {
        let ops: Vec<u64> = records
            .iter()
            .filter(|r| r.key().0 == format!("run-{t}"))
            .map(|r| r.key().1)
            .collect();
        assert_eq!(ops, (0..40).collect::<Vec<_>>(), "run-{t}");
    }
}
