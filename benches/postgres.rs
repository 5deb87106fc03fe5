//! The PostgreSQL state store's cost in an apply (criterion):
//!
//! - `apply_postgres/1000`: apply 1,000 resources with a zero-latency
//!   in-memory provider and the PostgreSQL store on loopback (a throwaway
//!   server, `lab::testing::postgres::TestPostgres`, TLS pinned): every
//!   operation journals its intent and its done record, and the group
//!   commit saves the state once per batch, each save one transaction.
//!
//! Before the group runs it prints the figures for 1,000 and 10,000
//! resources (time and state saves), beside the file store's in the
//! `engine` bench. Without PostgreSQL binaries it says so and measures
//! nothing. Run it with `cargo bench -p lab-benches --bench postgres`.
//!
//! Measured on the 2-core development machine, shared with other builds
//! (PostgreSQL 15, fsync off in the throwaway server): 1,000 resources
//! 970 ms (31 saves; criterion 858 to 989 ms between runs), 10,000
//! resources 33.4 s (266 saves; 40.5 s before concurrent journal appends
//! shared their inserts). Each save stores the whole document (about
//! 115 ms at 10,000 resources, half of it `State::to_json`), so the cost
//! grows with saves x state size, as the file store's does.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use lab::core::plan::PlanOptions;
use lab::core::state::postgres::PostgresStateStore;
use lab::core::{ApplyOptions, RetryPolicy};
use lab::prelude::*;
use lab::testing::postgres::TestPostgres;
use lab::testing::{MemoryProvider, Thing};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// `n` resources in chains of 10 (each after the one before), 4
/// attributes, a secret every tenth.
fn lab(n: usize, name: &str, provider: &MemoryProvider) -> Lab {
    let mut lab = Lab::new(name);
    lab.register_provider(provider.shared());
    let mut previous: Option<Handle<Thing>> = None;
    for i in 0..n {
        let mut t = Thing::new(format!("r{i}"))
            .attr("image", "debian-13")
            .attr("cores", (i % 8) as i64 + 1)
            .attr("notes", format!("resource {i}"));
        if i % 10 == 0 {
            t = t.secret("password", "bench-secret");
        }
        if let Some(p) = previous.as_ref().filter(|_| i % 10 != 0) {
            t = t.after(p);
        }
        previous = Some(lab.add(t));
    }
    lab
}

/// Applies `n` resources as lab `name` into a fresh state: the time of the
/// apply and the saves it made.
fn apply(rt: &tokio::runtime::Runtime, pg: &TestPostgres, n: usize, name: &str) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let provider = MemoryProvider::new();
    let store = std::sync::Arc::new(
        PostgresStateStore::connect(&pg.tls_url(), name)
            .expect("url")
            .with_key_file(dir.path().join("age.key")),
    );
    let engine = Engine::with_store(lab(n, name, &provider), store.clone());
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
        (took, store.saves())
    })
}

fn benches(c: &mut Criterion) {
    let Some(pg) = TestPostgres::start_or_skip() else {
        return;
    };
    let rt = rt();
    for n in [1_000usize, 10_000] {
        let (took, saves) = apply(&rt, &pg, n, &format!("figure-{n}"));
        println!(
            "figure: apply of {n} resources, zero-latency provider, PostgreSQL state store on loopback (TLS): {:.0} ms, {saves} state saves",
            took.as_secs_f64() * 1000.0
        );
    }
    let mut g = c.benchmark_group("apply_postgres");
    g.sample_size(10);
    let mut run = 0;
    g.bench_function(BenchmarkId::from_parameter(1_000), |b| {
        b.iter(|| {
            run += 1;
            apply(&rt, &pg, 1_000, &format!("bench-{run}"))
        })
    });
    g.finish();
}

criterion_group!(postgres, benches);
criterion_main!(postgres);
