//! Engine benches (criterion):
//!
//! - `plan/build_check_plan/{1000,10000}`: build a synthetic lab, run every
//!   check and plan it against an empty state with a zero-latency in-memory
//!   provider (no network). Targets: < 50 ms and < 500 ms.
//! - `plan/no_change/1000`: refresh + diff of an applied lab.
//! - `apply/makespan/{unlimited,clone_lock}`: apply a homelab-shaped DAG with
//!   latency injected (the model from shared/notes/engines.md section 6.2,
//!   1 unit = 5 ms), without and with one key of capacity 1.
//!
//! Before the criterion groups run, the bench prints the figures the issue
//! asks for: the peak heap of the 10,000-resource plan (a counting global
//! allocator), each makespan's ratio to its lower bound (the DAG's
//! critical path, or the lock-aware bound when the clone lock binds), and
//! the engine's own cost of applying 1,000 and 10,000 resources with a
//! zero-latency provider, with the file state store and with the
//! PostgreSQL store on loopback (a throwaway server with `fsync` on, TLS
//! pinned: `lab::testing::postgres::TestPostgres`; without PostgreSQL
//! binaries the bench says so and skips those figures): the time and the
//! saves group commit made.
//! - `apply/postgres/1000`: that apply of 1,000 resources with PostgreSQL.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use lab::core::plan::PlanOptions;
use lab::core::provider::LimitScope;
use lab::core::state::postgres::PostgresStateStore;
use lab::core::state::{FileStateStore, StateStore};
use lab::core::{ApplyOptions, MemoryStateStore, RetryPolicy};
use lab::prelude::*;
use lab::testing::postgres::TestPostgres;
use lab::testing::{MemoryProvider, Thing};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A synthetic lab of `n` resources: each depends on up to 3 earlier ones
/// (a deterministic pseudo-random DAG) and has 6 attributes, one a secret.
fn synthetic_lab(n: usize, provider: &MemoryProvider) -> Lab {
    named_lab("bench", n, provider)
}

/// [`synthetic_lab`] as lab `name` (several labs share one database).
fn named_lab(name: &str, n: usize, provider: &MemoryProvider) -> Lab {
    let mut lab = Lab::new(name);
    lab.register_provider(provider.shared());
    let mut handles: Vec<Handle<Thing>> = Vec::with_capacity(n);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        let mut t = Thing::new(format!("r{i}"))
            .attr("image", "debian-13")
            .attr("cores", (i % 8) as i64 + 1)
            .attr("memory_mb", 1024 * ((i % 4) as i64 + 1))
            .attr("tags", vec!["lab", "bench"])
            .attr("notes", format!("resource {i}"))
            .secret("password", "bench-secret");
        for _ in 0..3.min(i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t = t.after(&handles[(x as usize) % i]);
        }
        handles.push(lab.add(t));
    }
    lab
}

fn build_check_plan(rt: &tokio::runtime::Runtime, n: usize) -> usize {
    let provider = MemoryProvider::new();
    let lab = synthetic_lab(n, &provider);
    assert!(lab.check().iter().all(|d| !d.is_blocking()));
    let engine = Engine::new(lab, MemoryStateStore::new());
    let plan = rt
        .block_on(engine.plan(&PlanOptions::default()))
        .expect("plan");
    plan.steps.len()
}

/// The homelab-shaped DAG of engines.md section 6.2, in units.
struct Node {
    name: String,
    units: u64,
    deps: Vec<usize>,
    clone: bool,
}

fn homelab_dag() -> Vec<Node> {
    let mut v: Vec<Node> = Vec::new();
    let add = |name: String, units: u64, deps: Vec<usize>, clone: bool, v: &mut Vec<Node>| {
        v.push(Node {
            name,
            units,
            deps,
            clone,
        });
        v.len() - 1
    };
    let iso = add("iso".into(), 60, vec![], false, &mut v);
    let mut talos = Vec::new();
    for i in 0..3 {
        let c = add(format!("clone{i}"), 40, vec![iso], true, &mut v);
        let b = add(format!("boot{i}"), 30, vec![c], false, &mut v);
        talos.push(add(format!("talos{i}"), 20, vec![b], false, &mut v));
    }
    let boot = add("bootstrap".into(), 90, talos, false, &mut v);
    let kc = add("kubeconfig".into(), 2, vec![boot], false, &mut v);
    for i in 0..10 {
        add(format!("app{i}"), 10, vec![kc], false, &mut v);
    }
    for i in 0..20 {
        add(format!("dns{i}"), 3, vec![], false, &mut v);
    }
    for i in 0..8 {
        add(format!("pbs{i}"), 15, vec![], false, &mut v);
    }
    v
}

const UNIT_MS: u64 = 5;

/// Longest path (critical path) and the lock-aware lower bound: with the
/// clones serialised, the first clone starts no earlier than the smallest
/// release time among them, they take the sum of their durations, and the
/// last one is followed by at least the smallest tail.
fn bounds(dag: &[Node]) -> (u64, u64) {
    let n = dag.len();
    let mut release = vec![0u64; n]; // earliest start
    for i in 0..n {
        release[i] = dag[i]
            .deps
            .iter()
            .map(|&d| release[d] + dag[d].units)
            .max()
            .unwrap_or(0);
    }
    let mut tail = vec![0u64; n]; // longest path after i, excluding i
    for i in (0..n).rev() {
        for &d in &dag[i].deps {
            tail[d] = tail[d].max(dag[i].units + tail[i]);
        }
    }
    let cp = (0..n)
        .map(|i| release[i] + dag[i].units + tail[i])
        .max()
        .unwrap_or(0);
    let locked: Vec<usize> = (0..n).filter(|&i| dag[i].clone).collect();
    let lock_bound = locked.iter().map(|&i| release[i]).min().unwrap_or(0)
        + locked.iter().map(|&i| dag[i].units).sum::<u64>()
        + locked.iter().map(|&i| tail[i]).min().unwrap_or(0);
    (cp * UNIT_MS, cp.max(lock_bound) * UNIT_MS)
}

fn homelab_lab(provider: &MemoryProvider) -> Lab {
    let mut lab = Lab::new("makespan");
    lab.register_provider(provider.shared());
    let mut handles: HashMap<usize, Handle<Thing>> = HashMap::new();
    for (i, node) in homelab_dag().into_iter().enumerate() {
        let mut t = Thing::new(&node.name).latency_ms(node.units * UNIT_MS);
        if node.clone {
            t = t.attr("template", "talos-1.13");
        }
        for d in node.deps {
            t = t.after(&handles[&d]);
        }
        handles.insert(i, lab.add(t));
    }
    lab
}

fn makespan(rt: &tokio::runtime::Runtime, clone_lock: bool, parallelism: usize) -> Duration {
    let mut provider = MemoryProvider::new();
    if clone_lock {
        provider = provider.limit_by_attr("template", 1, LimitScope::Operation);
    }
    let engine = Engine::new(homelab_lab(&provider), MemoryStateStore::new());
    let opts = ApplyOptions {
        parallelism,
        retry: RetryPolicy::none(),
    };
    rt.block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let start = Instant::now();
        let report = engine.apply(&plan, &opts).await.expect("apply");
        assert!(report.is_success());
        start.elapsed()
    })
}

/// Applies the synthetic lab of `n` resources with a zero-latency provider
/// and the file state store (fsynced saves and journal): the time and how
/// many state saves it took.
fn apply_with_file_store(rt: &tokio::runtime::Runtime, n: usize) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = std::sync::Arc::new(FileStateStore::new(dir.path()));
    let took = apply_into(rt, n, "bench", store.clone());
    (took, store.saves())
}

/// Applies the `n`-resource synthetic lab as lab `name` into a fresh state
/// of PostgreSQL server `pg`: the time and the saves.
fn apply_with_postgres(
    rt: &tokio::runtime::Runtime,
    pg: &TestPostgres,
    n: usize,
    name: &str,
) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = std::sync::Arc::new(
        PostgresStateStore::connect(&pg.tls_url(), name)
            .expect("url")
            .with_key_file(dir.path().join("age.key")),
    );
    let took = apply_into(rt, n, name, store.clone());
    (took, store.saves())
}

/// Plans the `n`-resource synthetic lab (lab `name`) against an empty
/// `store` and times its apply.
fn apply_into(
    rt: &tokio::runtime::Runtime,
    n: usize,
    name: &str,
    store: std::sync::Arc<dyn StateStore>,
) -> Duration {
    let provider = MemoryProvider::new();
    let engine = Engine::with_store(named_lab(name, n, &provider), store);
    rt.block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let opts = ApplyOptions {
            parallelism: 64,
            retry: RetryPolicy::none(),
        };
        let start = Instant::now();
        let report = engine.apply(&plan, &opts).await.expect("apply");
        let took = start.elapsed();
        assert!(report.is_success());
        took
    })
}

fn report_figures(rt: &tokio::runtime::Runtime, pg: Option<&TestPostgres>) {
    for n in [1_000usize, 10_000] {
        let (took, saves) = apply_with_file_store(rt, n);
        println!(
            "figure: apply of {n} resources, zero-latency provider, file state store: {:.0} ms, {saves} state saves",
            took.as_secs_f64() * 1000.0
        );
    }
    if let Some(pg) = pg {
        for n in [1_000usize, 10_000] {
            let (took, saves) = apply_with_postgres(rt, pg, n, &format!("figure-{n}"));
            println!(
                "figure: apply of {n} resources, zero-latency provider, PostgreSQL state store on loopback (TLS, fsync on): {:.0} ms, {saves} state saves",
                took.as_secs_f64() * 1000.0
            );
        }
    }
    // Peak heap of the 10,000-resource build + check + plan.
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let steps = build_check_plan(rt, 10_000);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    println!(
        "figure: peak heap of build+check+plan of 10,000 resources ({steps} steps): {:.1} MiB",
        peak as f64 / (1024.0 * 1024.0)
    );
    let (cp, lock_bound) = bounds(&homelab_dag());
    for (name, lock, bound) in [("unlimited", false, cp), ("clone_lock", true, lock_bound)] {
        let runs: Vec<Duration> = (0..5).map(|_| makespan(rt, lock, 64)).collect();
        let mean = runs.iter().sum::<Duration>() / runs.len() as u32;
        let worst = runs.iter().max().copied().unwrap_or_default();
        println!(
            "figure: makespan {name}: mean {:.0} ms, worst {:.0} ms; lower bound {bound} ms; ratio mean {:.3}, worst {:.3}",
            mean.as_secs_f64() * 1000.0,
            worst.as_secs_f64() * 1000.0,
            mean.as_secs_f64() * 1000.0 / bound as f64,
            worst.as_secs_f64() * 1000.0 / bound as f64,
        );
    }
}

fn benches(c: &mut Criterion) {
    let rt = rt();
    let pg = TestPostgres::start_durable_or_skip();
    report_figures(&rt, pg.as_ref());

    let mut g = c.benchmark_group("plan");
    g.sample_size(10);
    for n in [1_000usize, 10_000] {
        g.bench_with_input(BenchmarkId::new("build_check_plan", n), &n, |b, &n| {
            b.iter(|| build_check_plan(&rt, n))
        });
    }
    // A no-change plan: refresh (one bulk read) + diff of an applied lab.
    let provider = MemoryProvider::new();
    let engine = Engine::new(synthetic_lab(1_000, &provider), MemoryStateStore::new());
    rt.block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let opts = ApplyOptions {
            parallelism: 64,
            retry: RetryPolicy::none(),
        };
        assert!(engine
            .apply(&plan, &opts)
            .await
            .expect("apply")
            .is_success());
    });
    g.bench_function(BenchmarkId::new("no_change", 1_000), |b| {
        b.iter(|| {
            let plan = rt
                .block_on(engine.plan(&PlanOptions::default()))
                .expect("plan");
            assert!(!plan.has_changes());
        })
    });
    g.finish();

    let mut g = c.benchmark_group("apply");
    g.sample_size(10);
    g.bench_function("makespan/unlimited", |b| {
        b.iter(|| makespan(&rt, false, 64))
    });
    g.bench_function("makespan/clone_lock", |b| {
        b.iter(|| makespan(&rt, true, 64))
    });
    if let Some(pg) = &pg {
        let mut run = 0;
        g.bench_function("postgres/1000", |b| {
            b.iter(|| {
                run += 1;
                apply_with_postgres(&rt, pg, 1_000, &format!("bench-{run}"))
            })
        });
    }
    g.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
