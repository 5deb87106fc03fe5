//! Refresh cost of a no-change plan: 500 guests on 3 nodes against the
//! simulated Proxmox VE (real client, real TLS, real provider).
//!
//! - `proxmox_refresh/bulk`: the provider's plan: one `GET /cluster/resources`
//!   for all guests, configs read only for guests that changed.
//! - `proxmox_refresh/naive`: what a one-read-per-guest refresh costs (a
//!   `GET .../config` per guest, 10 at a time, Terraform's default
//!   parallelism), measured in the same run against the same simulator.
//!
//! Before the criterion groups, the bench prints the request count of each
//! (from the simulator's counter) against the target `1 + nodes + changed`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lab::core::plan::PlanOptions;
use lab::core::{ApplyOptions, MemoryStateStore, RetryPolicy};
use lab::prelude::*;
use lab::proxmox::api::ClusterResource;
use lab::proxmox::model::*;
use lab::proxmox::sim::{SimConfig, SimNode, TaskLatency};
use lab::proxmox::{Connection, ProxmoxOptions};
use tokio::sync::Semaphore;

const GUESTS: usize = 500;
const NODES: usize = 3;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn lab(conn: &Connection) -> Lab {
    let mut lab = Lab::new("bench");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let nodes: Vec<Handle<Node>> = (1..=NODES)
        .map(|n| lab.add(Node::new(format!("pve{n}")).bridge("vmbr0")))
        .collect();
    let lvm = lab.add({
        let mut s = Storage::existing("local-lvm").content(&[Content::Images, Content::Rootdir]);
        for n in &nodes {
            s = s.node(n);
        }
        s
    });
    for i in 0..GUESTS {
        lab.add(
            Vm::new(format!("vm{i}"), &nodes[i % NODES])
                .cores(1 + (i % 4) as u32)
                .memory_mb(512)
                .disk("scsi0", &lvm, "4G")
                .nic("net0", "vmbr0")
                .vlan(10 + (i % 50) as u16)
                .started(false)
                .tags(&["bench"]),
        );
    }
    lab
}

/// The no-change plan; returns the number of requests it made.
fn plan_requests(rt: &tokio::runtime::Runtime, engine: &Engine, conn: &Connection) -> u64 {
    let sim = conn.simulator().expect("simulated");
    let before = sim.request_count();
    let plan = rt
        .block_on(engine.plan(&PlanOptions::default()))
        .expect("plan");
    assert!(!plan.has_changes(), "the applied lab plans as no changes");
    sim.request_count() - before
}

/// One config read per guest, 10 at a time.
fn naive_refresh(rt: &tokio::runtime::Runtime, conn: &Connection) -> u64 {
    let sim = conn.simulator().expect("simulated");
    let before = sim.request_count();
    let client = conn.client().clone();
    rt.block_on(async move {
        let guests: Vec<ClusterResource> = client
            .cluster_resources(Some("vm"))
            .await
            .expect("resources");
        let limit = Arc::new(Semaphore::new(10));
        let mut tasks = tokio::task::JoinSet::new();
        for g in guests {
            let client = client.clone();
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire().await.expect("semaphore");
                let path = format!(
                    "/nodes/{}/qemu/{}/config",
                    g.node.unwrap_or_default(),
                    g.vmid.unwrap_or_default()
                );
                let _: serde_json::Value = client.get(&path, &[]).await.expect("config");
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("task");
        }
    });
    sim.request_count() - before
}

fn benches(c: &mut Criterion) {
    let rt = rt();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = SimConfig {
        nodes: (1..=NODES)
            .map(|n| SimNode::new(&format!("pve{n}")))
            .collect(),
        auth_failure_delay: Duration::ZERO,
        task_latency: TaskLatency::instant(),
        ..SimConfig::default()
    };
    let conn = Connection::simulated(config, dir.path().join("pve.json")).expect("simulator");
    let engine = Engine::new(lab(&conn), MemoryStateStore::new());
    rt.block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let opts = ApplyOptions {
            parallelism: 32,
            retry: RetryPolicy::default(),
        };
        let report = engine.apply(&plan, &opts).await.expect("apply");
        assert!(report.is_success(), "{:?}", report.failed.first());
    });

    let bulk = plan_requests(&rt, &engine, &conn);
    let naive = naive_refresh(&rt, &conn);
    println!(
        "figure: no-change plan of {GUESTS} guests on {NODES} nodes: {bulk} request(s) (target <= 1 + {NODES} + 0 changed = {}); naive one-read-per-guest refresh: {naive} requests",
        1 + NODES
    );
    assert!(
        bulk as usize <= 1 + NODES,
        "the bulk refresh made {bulk} requests"
    );

    let mut g = c.benchmark_group("proxmox_refresh");
    g.sample_size(10);
    g.bench_function("bulk", |b| b.iter(|| plan_requests(&rt, &engine, &conn)));
    g.bench_function("naive", |b| b.iter(|| naive_refresh(&rt, &conn)));
    g.finish();
}

criterion_group!(proxmox, benches);
criterion_main!(proxmox);
