//! Crash safety: a crash (or fault) at every operation index, and between
//! the state write and its rename, then a re-run converges with no duplicate
//! and no orphan, and the state file always parses.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{lab_from_dag, runtime, Dag};
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::state::{FileStateStore, StoreFault};
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

fn store(dir: &Path) -> Arc<FileStateStore> {
    Arc::new(FileStateStore::new(dir.join(".lab")))
}

/// Every object is recorded in state exactly once, every state entry exists.
fn assert_converged(provider: &MemoryProvider, dir: &Path, expected: usize, context: &str) {
    let state = store(dir)
        .load()
        .expect("state parses")
        .expect("state exists");
    let objects = provider.objects();
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

fn engine(provider: &MemoryProvider, dir: &Path, image: &str, size: i64, dag: &Dag) -> Engine {
    Engine::with_store(lab_from_dag(provider, dag, image, size), store(dir))
}

/// Crash (the process dies: the apply future is dropped) right after the
/// provider performed the k-th mutating call, for every k.
#[test]
fn crash_at_every_operation_then_rerun_converges() {
    let rt = runtime();
    let dag = dag();
    // Phase 1: creates from nothing. Phase 2: updates, replaces and deletes.
    let phase2: Dag = dag[..6].to_vec();
    for phase in [1, 2] {
        let ops = if phase == 1 { dag.len() } else { 6 + 2 + 2 };
        for k in 1..=ops {
            let dir = tempfile::tempdir().unwrap();
            let provider = MemoryProvider::new();
            rt.block_on(async {
                if phase == 2 {
                    converge(&engine(&provider, dir.path(), "a", 1, &dag)).await;
                }
                let (image, size, d) = if phase == 1 {
                    ("a", 1, &dag)
                } else {
                    ("a", 2, &phase2)
                };
                // In phase 2, r0 and r1 are replaced (image) too.
                let e = if phase == 2 {
                    let _ = (image, size);
                    Engine::with_store(lab_replacing_first_two(&provider, d), store(dir.path()))
                } else {
                    engine(&provider, dir.path(), image, size, d)
                };
                let crashed = provider.crash_at(k);
                let plan = e.plan(&PlanOptions::default()).await.unwrap();
                let o = opts();
                tokio::select! {
                    _ = e.apply(&plan, &o) => {}
                    _ = crashed.notified() => {}
                }
                drop(e);
                provider.clear_faults();
                let (image, size) = if phase == 1 { ("a", 1) } else { ("a", 2) };
                let e = if phase == 2 {
                    Engine::with_store(
                        lab_replacing_first_two(&provider, &phase2),
                        store(dir.path()),
                    )
                } else {
                    engine(&provider, dir.path(), image, size, &dag)
                };
                converge(&e).await;
                let expected = if phase == 1 { dag.len() } else { phase2.len() };
                assert_converged(
                    &provider,
                    dir.path(),
                    expected,
                    &format!("phase {phase}, crash at {k}"),
                );
            });
        }
    }
}

/// `lab_from_dag` with `image = "b"` on r0 and r1 (forcing their replacement).
fn lab_replacing_first_two(provider: &MemoryProvider, dag: &Dag) -> Lab {
    common::lab_from_dag_with(provider, dag, |i| if i < 2 { "b" } else { "a" }, 2)
}

/// The state write "crashes" between fsync of the temp file and the rename,
/// at every save of the run (save 1 fixes the lineage; the others follow
/// batches of operations, group commit: as many as the run makes, found by
/// going on until a run makes fewer saves than the one the fault waits for).
#[test]
fn crash_between_state_write_and_rename_then_rerun_converges() {
    let rt = runtime();
    let dag = dag();
    let mut crashed = 0;
    for save in 1..=dag.len() as u64 + 1 {
        let dir = tempfile::tempdir().unwrap();
        let provider = MemoryProvider::new();
        let fired = rt.block_on(async {
            let s = store(dir.path());
            s.inject_fault(StoreFault::CrashBeforeRename { on_save: save });
            let e = Engine::with_store(lab_from_dag(&provider, &dag, "a", 1), s.clone());
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let result = e.apply(&plan, &opts()).await;
            if result.is_ok() {
                // The run made fewer saves than `save`: every save was tried.
                return false;
            }
            // Whatever is on disk parses.
            let _ = store(dir.path())
                .load()
                .expect("state parses after a torn save");
            drop(e);
            let e = engine(&provider, dir.path(), "a", 1, &dag);
            converge(&e).await;
            assert_converged(
                &provider,
                dir.path(),
                dag.len(),
                &format!("crash before rename at save {save}"),
            );
            true
        });
        if !fired {
            break;
        }
        crashed += 1;
    }
    // The lineage save and at least one save after operations crashed.
    assert!(crashed >= 2, "only {crashed} saves were crashed");
}

/// A permanent fault at every operation index: the run ends non-zero, then
/// the next run (fault gone) converges.
#[test]
fn permanent_fault_at_every_operation_then_rerun_converges() {
    let rt = runtime();
    let dag = dag();
    for k in 1..=dag.len() {
        let dir = tempfile::tempdir().unwrap();
        let provider = MemoryProvider::new();
        rt.block_on(async {
            provider.fail_at(k, Fault::Permanent);
            let e = engine(&provider, dir.path(), "a", 1, &dag);
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let report = e.apply(&plan, &opts()).await.unwrap();
            assert_eq!(report.failed.len(), 1, "fault at {k}");
            provider.clear_faults();
            converge(&e).await;
            assert_converged(&provider, dir.path(), dag.len(), &format!("fault at {k}"));
        });
    }
}

/// A create-before-destroy replacement interrupted after the new object
/// exists (two objects carry the marker) or after the old one is deleted:
/// the re-run keeps the new object, deletes the old one, and nothing is left over.
#[test]
fn crash_during_a_create_before_destroy_replacement_converges() {
    use lab_core::testing::Thing;
    let rt = runtime();
    for k in 1..=2 {
        let dir = tempfile::tempdir().unwrap();
        let provider = MemoryProvider::new();
        let lab = |image: &str| {
            let mut lab = Lab::new("cbd");
            lab.register_provider(provider.shared());
            let db = lab.add(Thing::new("db").attr("image", "pg-16"));
            lab.add(
                Thing::new("web")
                    .attr("image", image)
                    .after(&db)
                    .create_before_destroy(),
            );
            lab
        };
        rt.block_on(async {
            converge(&Engine::with_store(lab("a"), store(dir.path()))).await;
            let old_id = provider.find_by_name("web")[0].id.clone();
            let e = Engine::with_store(lab("b"), store(dir.path()));
            let crashed = provider.crash_at(k);
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let o = opts();
            tokio::select! {
                _ = e.apply(&plan, &o) => panic!("the crash point was not reached"),
                _ = crashed.notified() => {}
            }
            drop(e);
            provider.clear_faults();
            converge(&Engine::with_store(lab("b"), store(dir.path()))).await;
            let web = provider.find_by_name("web");
            assert_eq!(web.len(), 1, "crash at {k}: {web:#?}");
            assert_ne!(web[0].id, old_id, "crash at {k}: the replacement is kept");
            assert_eq!(web[0].attrs["image"], Value::Str("b".into()));
            assert_converged(&provider, dir.path(), 2, &format!("cbd crash at {k}"));
            let state = store(dir.path()).load().unwrap().unwrap();
            assert!(
                state.deposed.is_empty(),
                "crash at {k}: nothing left deposed"
            );
        });
    }
}
