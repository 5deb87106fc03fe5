//! What a Talos cluster costs at plan time.
//!
//! - `talos/generate`: one control-plane machine config from the reference
//!   bundle (Talos's own `secrets.yaml`), patches applied and rendered, as
//!   checks and plan reviews do per node.
//! - `talos/secrets_generate`: a fresh secrets bundle for the v1.13
//!   contract (its RSA-4096 service-account key from AWS-LC dominates).
//!   This is the optimised build; `benches/user_crate.sh` measures the same
//!   step in a user crate's unoptimised debug build.
//! - `talos/check`: `Lab::check` of the 3+2 cluster with a patch, which
//!   validates every node's generated config against the Talos schema
//!   (`talos::patch-schema`).
//! - `talos/plan_no_change`: a no-change plan of 3 control planes and 2
//!   workers on the Proxmox and Talos simulators (real clients, real TLS):
//!   one bulk Proxmox read and one mTLS `Version` call per node.
//!
//! Before the groups, the bench prints the request counts of one no-change
//! plan from the simulators' counters.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lab::core::plan::PlanOptions;
use lab::core::{Engine, MemoryStateStore, Provider};
use lab::prelude::*;
use lab::proxmox::model::*;
use lab::proxmox::sim::TaskLatency;
use lab::proxmox::{Connection, ProxmoxOptions};
use lab::talos::config::{self, ClusterInput, ConfigSecrets, NodeInput, Role, StaticNetwork, Vip};
use lab::talos::connect::simulated_on_proxmox;
use lab::talos::model::TalosCluster;
use lab::talos::provider::{TalosOptions, TalosProvider};
use lab::talos::secrets::{SecretsBundle, VersionContract};

/// Talos's public test bundle, an unmodified copy in lab-talos (see
/// `lab-talos/reference/SOURCES.md`).
const REFERENCE: &str = include_str!("../lab-talos/reference/talos-examples/secrets.yaml");
const NODES: [(&str, &str, bool); 5] = [
    ("cp1", "10.0.10.11", true),
    ("cp2", "10.0.10.12", true),
    ("cp3", "10.0.10.13", true),
    ("w1", "10.0.10.21", false),
    ("w2", "10.0.10.22", false),
];

fn generate(c: &mut Criterion) {
    let bundle = SecretsBundle::from_yaml(REFERENCE).expect("reference bundle");
    let secrets = ConfigSecrets::from(&bundle);
    let mut cluster = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
    cluster.install_disk = Some("/dev/sda".into());
    cluster.vip = Some(Vip {
        address: "10.0.10.5".into(),
        link: "ens18".into(),
    });
    cluster
        .patches
        .push("machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n".into());
    let mut node = NodeInput::new(Role::ControlPlane);
    node.hostname = Some("cp1".into());
    node.network = Some(StaticNetwork {
        link: "ens18".into(),
        addresses: vec!["10.0.10.11/24".into()],
        gateway: Some("10.0.10.1".into()),
        nameservers: vec!["10.0.10.1".into()],
    });
    c.bench_function("talos/generate", |b| {
        b.iter(|| {
            let docs = config::generate(&cluster, &node, &secrets).expect("config");
            config::render(&docs).len()
        })
    });
}

fn secrets_generate(c: &mut Criterion) {
    c.bench_function("talos/secrets_generate", |b| {
        b.iter(|| SecretsBundle::generate(VersionContract::V1_13).expect("bundle"))
    });
}

fn check(c: &mut Criterion) {
    let mut lab = Lab::new("bench");
    lab::talos::checks::register(&mut lab);
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
    let mut cluster = TalosCluster::new("home", "https://10.0.10.5:6443")
        .vip("10.0.10.5")
        .link("ens18")
        .vm_storage(&lvm)
        .iso_storage(&local)
        .patch("machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n");
    for (name, ip, control_plane) in NODES {
        let cidr = format!("{ip}/24");
        cluster = if control_plane {
            cluster.control_plane(name, &cidr, &pve1)
        } else {
            cluster.worker(name, &cidr, &pve1)
        };
    }
    cluster.add_to(&mut lab);
    assert!(lab.check().is_empty(), "{:#?}", lab.check());
    c.bench_function("talos/check", |b| b.iter(|| lab.check().len()));
}

fn lab(pve: &Connection, talos: Arc<dyn Provider>, bundle: &str) -> Lab {
    let mut lab = Lab::new("bench");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));
    lab.register_provider(talos);
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso])
            .node(&pve1),
    );
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images])
            .node(&pve1),
    );
    let mut cluster = TalosCluster::new("home", "https://10.0.10.5:6443")
        .vip("10.0.10.5")
        .link("ens18")
        .gateway("10.0.10.1")
        .vm_storage(&lvm)
        .iso_storage(&local)
        .import_secrets(Secret::new(bundle));
    for (name, ip, control_plane) in NODES {
        let cidr = format!("{ip}/24");
        cluster = if control_plane {
            cluster.control_plane(name, &cidr, &pve1)
        } else {
            cluster.worker(name, &cidr, &pve1)
        };
    }
    cluster.add_to(&mut lab);
    lab
}

fn plan_no_change(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = REFERENCE;
    let pve = Connection::simulated(
        lab::proxmox::sim::SimConfig {
            task_latency: TaskLatency::instant(),
            ..Default::default()
        },
        dir.path().join("pve.json"),
    )
    .expect("pve sim");
    let addresses: Vec<&str> = NODES.iter().map(|n| n.1).collect();
    let talos_sim = rt
        .block_on(simulated_on_proxmox(
            pve.simulator().expect("sim"),
            lab::talos::sim::SimConfig {
                reboot: Duration::from_millis(50),
                ..Default::default()
            },
            &addresses,
        ))
        .expect("talos sim");
    let talos = TalosProvider::shared(TalosOptions::simulated(&talos_sim));
    let store = MemoryStateStore::new();
    rt.block_on(async {
        let e = Engine::new(lab(&pve, talos.clone(), bundle), store.clone());
        let plan = e.plan(&PlanOptions::default()).await.expect("plan");
        let report = e
            .apply(&plan, &lab::core::ApplyOptions::default())
            .await
            .expect("apply");
        assert!(report.is_success(), "{report:?}");
    });
    let pve_sim = pve.simulator().expect("sim");
    let (pve_before, talos_before) = (pve_sim.request_count(), talos_sim.request_count());
    rt.block_on(async {
        let e = Engine::new(lab(&pve, talos.clone(), bundle), store.clone());
        let plan = e.plan(&PlanOptions::default()).await.expect("plan");
        assert!(!plan.has_changes(), "{:?}", plan.steps);
    });
    println!(
        "no-change plan of {} Talos nodes: {} Proxmox request(s), {} Talos call(s)",
        NODES.len(),
        pve_sim.request_count() - pve_before,
        talos_sim.request_count() - talos_before
    );
    c.bench_function("talos/plan_no_change", |b| {
        b.iter(|| {
            rt.block_on(async {
                let e = Engine::new(lab(&pve, talos.clone(), bundle), store.clone());
                e.plan(&PlanOptions::default())
                    .await
                    .expect("plan")
                    .steps
                    .len()
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = generate, plan_no_change
}
criterion_group! {
    name = slow;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(10));
    targets = secrets_generate, check
}
criterion_main!(benches, slow);
