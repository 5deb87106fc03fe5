//! The embedded simulated cluster takes its nodes from the lab: a node the
//! code declares (`Node::new("pve3")`) and the cluster lacks joins it with
//! a fresh install's storages, and stays in the state file; a simulator
//! given its node set never grows.

mod common;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::MemoryStateStore;
use lab_proxmox::model::*;
use lab_proxmox::sim::SimConfig;
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};

/// pve1 and pve3, a VM on pve3 on its `local-lvm`.
fn lab(pve: &Connection) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve3 = lab.add(Node::new("pve3").bridge("vmbr0"));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images])
            .node(&pve1)
            .node(&pve3),
    );
    lab.add(
        Vm::new("db", &pve3)
            .cores(1)
            .memory_mb(512)
            .disk("scsi0", &lvm, "4G")
            .nic("net0", "vmbr0"),
    );
    lab
}

fn node_names(pve: &Connection) -> Vec<String> {
    let world = pve.simulator().unwrap().world();
    world.nodes.iter().map(|n| n.name.clone()).collect()
}

#[test]
fn a_node_declared_in_the_lab_joins_the_embedded_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let file = dir.path().join("pve.json");
    {
        let pve = Connection::simulated(sim_config(), &file).unwrap();
        assert_eq!(node_names(&pve), ["pve1", "pve2"]);
        let engine = Engine::new(lab(&pve), MemoryStateStore::new());
        let plan = rt
            .block_on(engine.plan(&PlanOptions::default()))
            .expect("plan");
        // The plan's first look at the cluster already has pve3.
        assert_eq!(node_names(&pve), ["pve1", "pve2", "pve3"]);
        let world = pve.simulator().unwrap().world();
        let local = &world.storages["local"];
        let lvm = &world.storages["local-lvm"];
        assert!(local.on_node("pve3") && lvm.on_node("pve3"));
        assert_eq!(local.kind, "dir");
        assert!(["iso", "vztmpl", "backup", "import", "snippets"]
            .iter()
            .all(|c| local.content.iter().any(|x| x == c)));
        assert_eq!(lvm.kind, "lvmthin");
        assert_eq!(lvm.content, ["images", "rootdir"]);

        let report = rt.block_on(engine.apply(&plan, &opts())).expect("apply");
        assert!(report.is_success(), "{report:#?}");
        let world = pve.simulator().unwrap().world();
        assert!(world.guests.values().any(|g| g.node == "pve3"));
    }
    // The state file holds the guests' configs: its owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // The node is part of the cluster's state file: a simulator started on
    // it has pve3 before any lab says so.
    let pve = Connection::simulated(sim_config(), &file).unwrap();
    assert_eq!(node_names(&pve), ["pve1", "pve2", "pve3"]);
}

#[test]
fn a_simulator_given_its_nodes_does_not_grow() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    for (i, config) in [
        sim_config().with_nodes(&["pve1", "pve2"]),
        SimConfig {
            nodes_from_lab: false,
            ..sim_config()
        },
        SimConfig {
            nodes: vec![lab_proxmox::sim::SimNode::new("pve1")],
            ..sim_config()
        },
        SimConfig::for_tests(),
    ]
    .into_iter()
    .enumerate()
    {
        let nodes = config.nodes.len();
        let pve = Connection::simulated(config, dir.path().join(format!("pve{i}.json"))).unwrap();
        let engine = Engine::new(lab(&pve), MemoryStateStore::new());
        // Whatever the plan says about pve3, the cluster does not get it.
        let _ = rt.block_on(engine.plan(&PlanOptions::default()));
        let names = node_names(&pve);
        assert_eq!(names.len(), nodes, "config {i}: {names:?}");
        assert!(!names.iter().any(|n| n == "pve3"), "config {i}");
    }
}
