//! A lab run from the command line is one process per command. These tests
//! play two processes: everything of the first (both simulators, the
//! provider, the engine, the runtime) is dropped, and the second starts
//! fresh ones from the files the first left in a directory, as `apply`
//! then `plan` in a user's `main.rs` do.
//!
//! Covered: the Talos simulator keeps its nodes' disks (stage, config,
//! version, etcd, boot counter) in its state file, so the second process's
//! plan has no changes and talks to nodes that are still installed and
//! bootstrapped; the Proxmox simulator takes its third node from the lab;
//! a simulated lab never dials an address its simulator has no node for:
//! the dial is refused, naming the address, and only loopback is dialled.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{ApplyOptions, FileStateStore, StateStore};
use lab_proxmox::model::*;
use lab_proxmox::sim::TaskLatency;
use lab_proxmox::{Connection, ProxmoxOptions};
use lab_talos::connect::{simulated_on_proxmox, simulated_on_proxmox_kept};
use lab_talos::model::TalosCluster;
use lab_talos::provider::{TalosOptions, TalosProvider};
use lab_talos::sim::{SimConfig, Stage, TalosSim};

/// (name, address, control plane, Proxmox node)
const NODES: [(&str, &str, bool, usize); 5] = [
    ("cp1", "10.0.10.11", true, 0),
    ("cp2", "10.0.10.12", true, 1),
    ("cp3", "10.0.10.13", true, 2),
    ("w1", "10.0.10.21", false, 0),
    ("w2", "10.0.10.22", false, 1),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Talos's reference bundle: generating one (an RSA-4096 key) is for the
/// tests about generation.
fn reference_bundle() -> Secret {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/reference/talos-examples/secrets.yaml"
    );
    Secret::new(std::fs::read_to_string(path).expect("the reference secrets.yaml"))
}

/// The embedded Proxmox simulator of a `main.rs` (default nodes: pve3
/// comes from the lab), kept in `dir/pve.json`.
fn pve(dir: &Path) -> Connection {
    Connection::simulated(
        lab_proxmox::sim::SimConfig {
            task_latency: TaskLatency::instant(),
            auth_failure_delay: Duration::ZERO,
            ..Default::default()
        },
        dir.join("pve.json"),
    )
    .expect("the Proxmox simulator starts")
}

fn talos_config() -> SimConfig {
    SimConfig {
        reboot: Duration::from_millis(100),
        ..Default::default()
    }
}

/// Three Proxmox nodes, three control planes and two workers.
fn lab(pve: &Connection, talos: TalosOptions) -> Lab {
    lab_with(pve, talos, false)
}

/// The same, registering the schematic with the (official) Image Factory
/// if `register`.
fn lab_with(pve: &Connection, talos: TalosOptions, register: bool) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));
    lab.register_provider(TalosProvider::shared(talos));
    let nodes = ["pve1", "pve2", "pve3"].map(|n| lab.add(Node::new(n).bridge("vmbr0")));
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso])
            .node(&nodes[0])
            .node(&nodes[1])
            .node(&nodes[2]),
    );
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images])
            .node(&nodes[0])
            .node(&nodes[1])
            .node(&nodes[2]),
    );
    let mut cluster = TalosCluster::new("home", "https://10.0.10.5:6443")
        .talos_version("v1.13.9")
        .vip("10.0.10.5")
        .link("ens18")
        .gateway("10.0.10.1")
        .nameservers(&["10.0.10.1"])
        .vm_storage(&lvm)
        .iso_storage(&local)
        .bridge("vmbr0")
        .vlan(10)
        .import_secrets(reference_bundle());
    if register {
        cluster = cluster.register_schematic();
    }
    for (name, ip, control_plane, host) in NODES {
        let cidr = format!("{ip}/24");
        cluster = if control_plane {
            cluster.control_plane(name, &cidr, &nodes[host])
        } else {
            cluster.worker(name, &cidr, &nodes[host])
        };
    }
    cluster.add_to(&mut lab);
    lab
}

fn options(talos: &TalosSim) -> TalosOptions {
    let mut options = TalosOptions::simulated_from_lab(talos);
    options.boot_timeout = Duration::from_secs(20);
    options
}

#[test]
fn apply_in_one_process_then_plan_in_the_next_has_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let talos_file = dir.path().join("talos.json");
    let store =
        || -> Arc<dyn StateStore> { Arc::new(FileStateStore::new(dir.path().join("state"))) };

    // First process: apply.
    {
        let rt = runtime();
        let pve = pve(dir.path());
        let talos =
            simulated_on_proxmox_kept(pve.simulator().unwrap(), talos_config(), &talos_file)
                .expect("the Talos simulator starts");
        let engine = Engine::with_store(lab(&pve, options(&talos)), store());
        rt.block_on(async {
            let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
            let report = engine
                .apply(&plan, &ApplyOptions::default())
                .await
                .expect("apply");
            assert!(report.is_success(), "{report:#?}");
        });
        // The lab's third node joined the embedded cluster, and its VM runs there.
        let world = pve.simulator().unwrap().world();
        assert!(world.nodes.iter().any(|n| n.name == "pve3"));
        assert!(world.guests.values().any(|g| g.node == "pve3"));
        assert_eq!(talos.node_stage("10.0.10.11"), Some(Stage::Bootstrapped));
        assert!(talos.boots("10.0.10.11").unwrap() >= 1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&talos_file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the nodes' configs carry the cluster's secrets"
        );
    }

    // Second process: fresh simulators from the files, a fresh engine.
    let rt = runtime();
    let pve = pve(dir.path());
    let talos = simulated_on_proxmox_kept(pve.simulator().unwrap(), talos_config(), &talos_file)
        .expect("the Talos simulator starts again");
    assert_eq!(talos.addresses().len(), NODES.len());
    let boots_before: Vec<u64> = NODES.iter().map(|n| talos.boots(n.1).unwrap()).collect();
    let engine = Engine::with_store(lab(&pve, options(&talos)), store());
    let again = rt
        .block_on(engine.plan(&PlanOptions::default()))
        .expect("plan");
    assert!(!again.has_changes(), "{:#?}", again.steps);
    // The nodes are still installed, bootstrapped, on the installer's tag,
    // and nothing rebooted or was applied again.
    assert_eq!(talos.node_stage("10.0.10.11"), Some(Stage::Bootstrapped));
    assert_eq!(talos.node_stage("10.0.10.21"), Some(Stage::Configured));
    assert_eq!(
        talos.running_version("10.0.10.12").as_deref(),
        Some("v1.13.9")
    );
    let boots_after: Vec<u64> = NODES.iter().map(|n| talos.boots(n.1).unwrap()).collect();
    assert_eq!(boots_before, boots_after);
    assert!(
        talos
            .requests()
            .iter()
            .all(|r| r.ends_with("/machine.MachineService/Version")),
        "{:?}",
        talos.requests()
    );
}

#[test]
fn a_simulated_lab_never_dials_an_address_its_simulator_lacks() {
    let rt = runtime();
    let talos = TalosSim::new(talos_config());
    rt.block_on(talos.add_node("10.0.10.11")).unwrap();
    let options = TalosOptions::simulated(&talos);
    let known = (options.dial)("10.0.10.11").expect("a known node");
    let addr: std::net::SocketAddr = known.parse().unwrap();
    assert!(addr.ip().is_loopback(), "{known}");
    let err = (options.dial)("10.0.10.99").expect_err("an unknown node");
    assert!(
        err.contains("10.0.10.99")
            && err.contains("not a node of the Talos simulator")
            && err.contains("10.0.10.11"),
        "{err}"
    );
    assert!(!err.contains(":50000"), "{err}");
}

#[test]
fn a_machine_at_an_address_the_simulator_lacks_fails_at_once_without_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let pve = pve(dir.path());
    // The simulator knows four of the five addresses (no w2), and does not
    // take nodes from the lab.
    let talos = rt
        .block_on(simulated_on_proxmox(
            pve.simulator().unwrap(),
            talos_config(),
            &NODES[..4].iter().map(|n| n.1).collect::<Vec<_>>(),
        ))
        .unwrap();
    let mut options = TalosOptions::simulated(&talos);
    options.boot_timeout = Duration::from_secs(20);
    let engine = Engine::with_store(
        lab(&pve, options),
        Arc::new(FileStateStore::new(dir.path().join("state"))),
    );
    let report = rt.block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        engine
            .apply(&plan, &ApplyOptions::default())
            .await
            .expect("apply")
    });
    assert!(!report.is_success());
    let failure = format!("{report:?}");
    assert!(
        failure.contains("10.0.10.22 is not a node of the Talos simulator"),
        "{failure}"
    );
    // The other machines were made; the unknown address stayed unknown.
    assert!(!talos.has_node("10.0.10.22"));
    assert_eq!(talos.node_stage("10.0.10.21"), Some(Stage::Configured));
}

#[test]
fn a_simulated_lab_never_registers_with_the_real_image_factory() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let pve = pve(dir.path());
    let talos = simulated_on_proxmox_kept(
        pve.simulator().unwrap(),
        talos_config(),
        dir.path().join("talos.json"),
    )
    .unwrap();
    let engine = Engine::with_store(
        lab_with(&pve, options(&talos), true),
        Arc::new(FileStateStore::new(dir.path().join("state"))),
    );
    let report = rt.block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        engine
            .apply(&plan, &ApplyOptions::default())
            .await
            .expect("apply")
    });
    assert!(!report.is_success());
    let failure = format!("{report:?}");
    assert!(
        failure
            .contains("a simulated lab registers schematics only with a simulated Image Factory")
            && failure.contains("https://factory.talos.dev"),
        "{failure}"
    );
}

/// A `plan` started while another process applies waits for the lab's lock
/// and then refreshes: its simulators, started before the apply, must
/// answer with the nodes as the apply left them, not as they were when it
/// started (and must not write their stale copy back).
#[test]
fn a_plan_started_before_another_process_applied_sees_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let talos_file = dir.path().join("talos.json");
    let store =
        || -> Arc<dyn StateStore> { Arc::new(FileStateStore::new(dir.path().join("state"))) };

    // The waiting process: its simulators start first and plan once.
    let rt_b = runtime();
    let pve_b = pve(dir.path());
    let talos_b =
        simulated_on_proxmox_kept(pve_b.simulator().unwrap(), talos_config(), &talos_file)
            .expect("the Talos simulator starts");
    let first = rt_b
        .block_on(
            Engine::with_store(lab(&pve_b, options(&talos_b)), store())
                .plan(&PlanOptions::default()),
        )
        .expect("plan");
    assert!(first.has_changes());

    // The applying process, on the same files.
    {
        let rt = runtime();
        let pve = pve(dir.path());
        let talos =
            simulated_on_proxmox_kept(pve.simulator().unwrap(), talos_config(), &talos_file)
                .expect("the Talos simulator starts");
        let engine = Engine::with_store(lab(&pve, options(&talos)), store());
        rt.block_on(async {
            let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
            let report = engine
                .apply(&plan, &ApplyOptions::default())
                .await
                .expect("apply");
            assert!(report.is_success(), "{report:#?}");
        });
    }

    // The waiting process plans again with the simulators it started before.
    let again = rt_b
        .block_on(
            Engine::with_store(lab(&pve_b, options(&talos_b)), store())
                .plan(&PlanOptions::default()),
        )
        .expect("plan");
    assert!(!again.has_changes(), "{:#?}", again.steps);
    assert_eq!(talos_b.node_stage("10.0.10.11"), Some(Stage::Bootstrapped));
    // Its refresh wrote nothing stale back: a third process still finds
    // the nodes bootstrapped.
    drop(talos_b);
    let rt_c = runtime();
    let pve_c = pve(dir.path());
    let talos_c =
        simulated_on_proxmox_kept(pve_c.simulator().unwrap(), talos_config(), &talos_file)
            .expect("the Talos simulator starts");
    let third = rt_c
        .block_on(
            Engine::with_store(lab(&pve_c, options(&talos_c)), store())
                .plan(&PlanOptions::default()),
        )
        .expect("plan");
    assert!(!third.has_changes(), "{:#?}", third.steps);
}
