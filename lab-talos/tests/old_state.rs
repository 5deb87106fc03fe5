//! A Talos lab applied by an older build plans "No changes." with this one,
//! but the short notes this build writes into its VMs' `notes`.
//!
//! The fixture `tests/fixtures/state-v0.1-b7ad410/` is what
//! `examples/talos.rs` left in `.lab/talos-example/` when built at commit
//! `b7ad410` (before typed kinds and before the state recorded each
//! resource's provider instance):
//!
//! ```sh
//! git worktree add /tmp/old b7ad410
//! cd /tmp/old && cargo run --example talos
//! cp .lab/talos-example/state/state.json .lab/talos-example/state/age.key \
//!    .lab/talos-example/pve-sim.json <fixture dir>
//! ```
//!
//! `state.json` is the lab's state as the old code wrote it (no `provider`
//! field); its secrets (the Talos bundle, the kubeconfig, the talosconfig)
//! are sealed with `age.key`, a throwaway key made by that run for
//! simulated nodes, protecting nothing. `pve-sim.json` is the Proxmox
//! simulator's persisted world. The kubeconfig, talosconfig and
//! secrets.yaml the example also writes out (in plaintext) were left out,
//! as was the simulator's certificate sidecar.
//!
//! The Talos simulator keeps no world on disk, so its nodes are powered
//! off here: a machine that does not answer keeps its record (what the
//! provider does for an unreachable node), so the plan compares the old
//! records with what this build generates from the same code. The Proxmox
//! side (ISOs, VMs) is read back from the persisted world for real.
//!
//! Nothing the test prints holds a value: only addresses, actions and
//! field names.

#![cfg(feature = "sim")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{FileStateStore, Provider, StateStore};
use lab_proxmox::model::*;
use lab_proxmox::sim::{SimConfig, TaskLatency};
use lab_proxmox::{Connection, ProxmoxOptions};
use lab_talos::connect::simulated_on_proxmox;
use lab_talos::factory::{Schematic, QEMU_GUEST_AGENT};
use lab_talos::model::TalosCluster;
use lab_talos::provider::{TalosOptions, TalosProvider};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/state-v0.1-b7ad410"
);

const CONTROL_PLANES: [(&str, &str); 3] = [
    ("cp1", "10.0.10.11/24"),
    ("cp2", "10.0.10.12/24"),
    ("cp3", "10.0.10.13/24"),
];
const WORKERS: [(&str, &str); 2] = [("w1", "10.0.10.21/24"), ("w2", "10.0.10.22/24")];

/// `examples/talos.rs`'s lab, as it was at `b7ad410` (and still is).
fn example_lab(pve: &Connection, talos: Arc<dyn Provider>) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));
    lab.register_provider(talos);

    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso, Content::Import])
            .node(&pve1)
            .node(&pve2),
    );
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images])
            .node(&pve1)
            .node(&pve2),
    );

    let mut cluster = TalosCluster::new("home", "https://10.0.10.5:6443")
        .talos_version("v1.13.9")
        .kubernetes_version("1.36.3")
        .schematic(Schematic::new().extension(QEMU_GUEST_AGENT))
        .vip("10.0.10.5")
        .link("ens18")
        .gateway("10.0.10.1")
        .nameservers(&["10.0.10.1"])
        .vm_storage(&lvm)
        .iso_storage(&local)
        .bridge("vmbr0")
        .vlan(10)
        .patch("machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n");
    for (i, (name, cidr)) in CONTROL_PLANES.into_iter().enumerate() {
        cluster = cluster.control_plane(name, cidr, if i % 2 == 0 { &pve1 } else { &pve2 });
    }
    for (i, (name, cidr)) in WORKERS.into_iter().enumerate() {
        cluster = cluster.worker(name, cidr, if i % 2 == 0 { &pve2 } else { &pve1 });
    }
    cluster.add_to(&mut lab);
    lab
}

#[test]
fn a_talos_state_applied_by_b7ad410_plans_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("state");
    let world = dir.path().join("pve-sim.json");
    std::fs::create_dir_all(&store_dir).unwrap();
    for (from, to) in [
        ("state.json", store_dir.join("state.json")),
        ("age.key", store_dir.join("age.key")),
        ("pve-sim.json", world.clone()),
    ] {
        std::fs::copy(Path::new(FIXTURE).join(from), &to)
            .unwrap_or_else(|e| panic!("copying the fixture's {from}: {e}"));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pve = Connection::simulated(
            SimConfig {
                auth_failure_delay: Duration::ZERO,
                task_latency: TaskLatency::instant(),
                ..SimConfig::default()
            },
            &world,
        )
        .expect("simulator starts");
        let addresses: Vec<&str> = CONTROL_PLANES
            .iter()
            .chain(WORKERS.iter())
            .map(|(_, cidr)| cidr.split('/').next().unwrap())
            .collect();
        let talos_sim = simulated_on_proxmox(
            pve.simulator().unwrap(),
            lab_talos::sim::SimConfig::default(),
            &addresses,
        )
        .await
        .expect("Talos simulator starts");
        // No persisted Talos world: every node is off, so each machine
        // keeps its record (see the module docs).
        talos_sim.set_presence(|_| None);
        let talos = TalosProvider::shared(TalosOptions::simulated(&talos_sim));

        let store: Arc<dyn StateStore> = Arc::new(FileStateStore::new(&store_dir));
        let recorded = store.load().expect("the old state loads").expect("a state");
        assert!(
            recorded.resources.values().all(|r| r.provider.is_empty()),
            "the fixture predates recorded provider instances"
        );
        let engine = Engine::with_store(example_lab(&pve, talos), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        // Only addresses, actions and field names: no values (the bundle,
        // the kubeconfig) reach the test output.
        let steps: Vec<_> = plan
            .steps
            .iter()
            .map(|s| {
                let fields: Vec<_> = s.changes.iter().map(|c| c.field.as_str()).collect();
                format!("{} {:?} {fields:?}", s.address, s.action)
            })
            .collect();
        let drift: Vec<_> = plan
            .drift
            .iter()
            .map(|d| {
                let fields: Vec<_> = d.changes.iter().map(|c| c.field.as_str()).collect();
                format!("{} deleted={} {fields:?}", d.address, d.deleted)
            })
            .collect();
        // The fixture's kubeconfig and talosconfig client certificates
        // were issued on 2026-12-02 for 365 days; from 30 days before they
        // expire, a plan renews them (`credentials`), as it should.
        let renewing = time::OffsetDateTime::now_utc().date()
            >= time::Date::from_calendar_date(2027, time::Month::November, 1).unwrap();
        let expected: &[&str] = if renewing {
            &["talos.cluster.home Update [\"credentials\"]"]
        } else {
            &[]
        };
        // This build writes each guest's short note into its `notes`
        // (`lab_proxmox::notes`); the old one wrote none: the VMs take
        // exactly that update, nothing else.
        let (notes, steps): (Vec<String>, Vec<String>) = steps
            .into_iter()
            .partition(|s| s.starts_with("proxmox.vm.") && s.ends_with(" Update [\"notes\"]"));
        let mut noted: Vec<&str> = notes.iter().map(|s| s.split(' ').next().unwrap()).collect();
        noted.sort();
        assert_eq!(
            noted,
            ["proxmox.vm.cp1", "proxmox.vm.cp2", "proxmox.vm.cp3", "proxmox.vm.w1", "proxmox.vm.w2"]
        );
        assert!(
            steps == expected && plan.moves.is_empty() && plan.drift.is_empty(),
            "the old state should plan no changes but the notes\nsteps: {steps:#?}\ndrift: {drift:#?}"
        );
        assert_eq!(
            plan.unchanged + steps.len() + notes.len(),
            recorded.resources.len()
        );
        assert_eq!(
            talos_sim.request_count(),
            0,
            "powered-off nodes answer nothing"
        );
        let after = store.load().unwrap().unwrap();
        assert_eq!(after.serial, recorded.serial, "planning wrote nothing");
    });
}
