//! Crash safety with the PostgreSQL store, as `crash.rs` checks the file
//! store: a crash right after the provider performed the k-th call (for
//! every k), a save cut before its COMMIT (for every save of a run), and a
//! permanent fault at every operation; each time the next run converges
//! with no duplicate and no orphan, and the state always reads.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{lab_from_dag, runtime, Dag};
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::state::postgres::{CutBeforeCommit, PostgresStateStore};
use lab_core::testing::postgres::TestPostgres;
use lab_core::testing::{Fault, MemoryProvider};
use lab_core::{ApplyOptions, RetryPolicy, StateStore};

fn dag() -> Dag {
    // Two chains and a join, with independent leaves: 8 resources.
    vec![
        vec![],
        vec![0],
        vec![1],
        vec![],
        vec![3],
        vec![2, 4],
        vec![],
        vec![0, 6],
    ]
}

fn opts() -> ApplyOptions {
    ApplyOptions {
        parallelism: 3,
        retry: RetryPolicy::fast(),
    }
}

fn store(pg: &TestPostgres, dir: &Path) -> Arc<PostgresStateStore> {
    Arc::new(
        PostgresStateStore::connect(&pg.url("sslmode=disable"), "dag")
            .unwrap()
            .with_key_file(dir.join("age.key")),
    )
}

/// Forgets every state, journal record and lock holder (a new lab).
fn reset(pg: &TestPostgres) {
    // The first use of a store makes the tables.
    PostgresStateStore::connect(&pg.url("sslmode=disable"), "tables")
        .unwrap()
        .load()
        .unwrap();
    pg.psql("DELETE FROM lab_state_versions; DELETE FROM lab_journal; DELETE FROM lab_lock_holder")
        .unwrap();
}

fn engine(pg: &TestPostgres, provider: &MemoryProvider, dir: &Path, dag: &Dag) -> Engine {
    Engine::with_store(lab_from_dag(provider, dag, "a", 1), store(pg, dir))
}

/// Every object is recorded in state exactly once, every state entry exists.
fn assert_converged(pg: &TestPostgres, provider: &MemoryProvider, dir: &Path, context: &str) {
    let state = store(pg, dir)
        .load()
        .expect("state reads")
        .expect("state exists");
    let objects = provider.objects();
    let expected = dag().len();
    assert_eq!(objects.len(), expected, "{context}: objects {objects:#?}");
    let mut names: Vec<&str> = objects
        .iter()
        .map(|o| o.marker.rsplit('.').next().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), expected, "{context}: duplicate objects");
    for o in &objects {
        assert!(
            state.resources.values().any(|r| r.id == o.id),
            "{context}: orphan object {} not in state",
            o.id
        );
    }
    assert_eq!(state.resources.len(), expected, "{context}");
}

/// Runs plan + apply until nothing changes (at most 3 rounds).
async fn converge(engine: &Engine) {
    for _ in 0..3 {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        if !plan.has_changes() {
            return;
        }
        let report = engine.apply(&plan, &opts()).await.expect("apply");
        assert!(report.is_success(), "{report:?}");
    }
    panic!("did not converge in 3 rounds");
}

#[test]
fn crash_at_every_operation_then_rerun_converges() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let rt = runtime();
    let dag = dag();
    for k in 1..=dag.len() {
        reset(&pg);
        let dir = tempfile::tempdir().unwrap();
        let provider = MemoryProvider::new();
        rt.block_on(async {
            let e = engine(&pg, &provider, dir.path(), &dag);
            let crashed = provider.crash_at(k);
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let o = opts();
            tokio::select! {
                _ = e.apply(&plan, &o) => {}
                _ = crashed.notified() => {}
            }
            drop(e);
            provider.clear_faults();
            converge(&engine(&pg, &provider, dir.path(), &dag)).await;
            assert_converged(&pg, &provider, dir.path(), &format!("crash at {k}"));
        });
    }
}

/// A save cut before its COMMIT, at every save of the run (found by going
/// on until a run makes fewer saves than the one the cut waits for).
#[test]
fn a_save_cut_before_commit_at_every_save_then_rerun_converges() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let rt = runtime();
    let dag = dag();
    let mut cut = 0;
    for save in 1..=dag.len() as u64 + 1 {
        reset(&pg);
        let dir = tempfile::tempdir().unwrap();
        let provider = MemoryProvider::new();
        let fired = rt.block_on(async {
            let s = store(&pg, dir.path());
            s.inject_fault(CutBeforeCommit { on_save: save });
            let e = Engine::with_store(lab_from_dag(&provider, &dag, "a", 1), s.clone());
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            if e.apply(&plan, &opts()).await.is_ok() {
                return false;
            }
            // Whatever is there reads: the previous version, or none.
            let _ = store(&pg, dir.path()).load().expect("the state reads");
            drop(e);
            converge(&engine(&pg, &provider, dir.path(), &dag)).await;
            assert_converged(&pg, &provider, dir.path(), &format!("cut at save {save}"));
            true
        });
        if !fired {
            break;
        }
        cut += 1;
    }
    assert!(cut >= 2, "only {cut} saves were cut");
}

#[test]
fn permanent_fault_at_every_operation_then_rerun_converges() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let rt = runtime();
    let dag = dag();
    for k in 1..=dag.len() {
        reset(&pg);
        let dir = tempfile::tempdir().unwrap();
        let provider = MemoryProvider::new();
        rt.block_on(async {
            provider.fail_at(k, Fault::Permanent);
            let e = engine(&pg, &provider, dir.path(), &dag);
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let report = e.apply(&plan, &opts()).await.unwrap();
            assert_eq!(report.failed.len(), 1, "fault at {k}");
            provider.clear_faults();
            converge(&e).await;
            assert_converged(&pg, &provider, dir.path(), &format!("fault at {k}"));
        });
    }
}

/// An administrator ends the store's session in the middle of an apply
/// (between operations): the run stops writing (its lock went with the
/// session), what it saved stays readable, and the next run converges.
#[test]
fn a_session_terminated_mid_apply_then_rerun_converges() {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    reset(&pg);
    let rt = runtime();
    let dag = dag();
    let dir = tempfile::tempdir().unwrap();
    let provider = MemoryProvider::new()
        .with_latency(std::time::Duration::from_millis(150), Default::default());
    let cut = std::thread::scope(|scope| {
        let killer = scope.spawn(|| {
            // Once three operations are journaled, end every lab session.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let n = pg
                    .psql("SELECT count(*) FROM lab_journal WHERE record->>'record' = 'done'")
                    .unwrap();
                if n.trim().parse::<u32>().unwrap() >= 3 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the apply never got going"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            pg.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'lab' AND pid <> pg_backend_pid()",
            )
            .unwrap();
        });
        let result = rt.block_on(async {
            let e = engine(&pg, &provider, dir.path(), &dag);
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let o = ApplyOptions {
                parallelism: 1,
                retry: RetryPolicy::fast(),
            };
            e.apply(&plan, &o).await
        });
        killer.join().unwrap();
        result
    });
    let err = match cut {
        Err(e) => e.to_string(),
        Ok(report) => format!("{report:?}"),
    };
    assert!(err.contains("lost"), "the run noticed the cut: {err}");
    let saved = store(&pg, dir.path()).load().unwrap().expect("a state");
    assert!(saved.resources.len() < dag.len(), "the run was cut short");
    rt.block_on(converge(&engine(&pg, &provider, dir.path(), &dag)));
    assert_converged(&pg, &provider, dir.path(), "terminated mid-apply");
}
