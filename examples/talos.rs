//! A Talos Kubernetes cluster on Proxmox VE: three control planes behind a
//! VIP and two workers, from a fresh secrets bundle to a kubeconfig, then a
//! second plan that has nothing to do.
//!
//! ```sh
//! cargo run --example talos --features talos,sim
//! ```
//!
//! Everything runs in this process against simulators: the Proxmox VE
//! simulator (HTTPS, tasks, locks) and the Talos simulator (gRPC over TLS,
//! one node per address, maintenance mode -> configured -> bootstrapped).
//! A Talos node answers only once its VM runs on the Proxmox simulator with
//! the node's address in its cloud-init drive, so the order of operations
//! is the real one. State (age-encrypted: the bundle, the kubeconfig) goes
//! to `.lab/talos-example/`; the kubeconfig, the talosconfig and the
//! secrets bundle (talosctl's `secrets.yaml`, for backup) are written there
//! with mode 0600.
//!
//! Against real hardware the same lab takes `Connection::live(..)` for
//! Proxmox and `TalosOptions::live()` for Talos (apid on port 50000 of each
//! node address), and `lab::cli::run(lab)` for plan/apply.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lab::core::plan::render::render;
use lab::core::plan::PlanOptions;
use lab::core::{ApplyOptions, FileStateStore, Provider, StateStore};
use lab::prelude::*;
use lab::proxmox::model::*;
use lab::proxmox::sim::{SimConfig, TaskLatency};
use lab::proxmox::{Connection, ProxmoxOptions};
use lab::talos::connect::simulated_on_proxmox;
use lab::talos::factory::{Schematic, QEMU_GUEST_AGENT};
use lab::talos::model::TalosCluster;
use lab::talos::provider::{export_secrets, TalosOptions, TalosProvider};

const CONTROL_PLANES: [(&str, &str); 3] = [
    ("cp1", "10.0.10.11/24"),
    ("cp2", "10.0.10.12/24"),
    ("cp3", "10.0.10.13/24"),
];
const WORKERS: [(&str, &str); 2] = [("w1", "10.0.10.21/24"), ("w2", "10.0.10.22/24")];

/// The lab: two Proxmox nodes, their storages, and the Talos cluster.
fn build(pve: &Connection, talos: Arc<dyn Provider>) -> Lab {
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

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

async fn run(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    // A fresh simulated world each run: the state starts empty too.
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let pve = Connection::simulated(
        SimConfig {
            task_latency: TaskLatency::instant(),
            ..SimConfig::default()
        },
        dir.join("pve-sim.json"),
    )?;
    let addresses: Vec<&str> = CONTROL_PLANES
        .iter()
        .chain(WORKERS.iter())
        .map(|(_, cidr)| cidr.split('/').next().unwrap_or(cidr))
        .collect();
    let talos_sim = simulated_on_proxmox(
        pve.simulator().expect("a simulated connection"),
        lab::talos::sim::SimConfig {
            reboot: Duration::from_millis(300),
            ..Default::default()
        },
        &addresses,
    )
    .await?;
    eprintln!(
        "talking to {} and {} simulated Talos nodes",
        pve.describe(),
        addresses.len()
    );
    let talos = TalosProvider::shared(TalosOptions::simulated(&talos_sim));

    let store: Arc<dyn StateStore> = Arc::new(FileStateStore::new(dir.join("state")));
    let engine = Engine::with_store(build(&pve, talos.clone()), store.clone());
    let plan = engine.plan(&PlanOptions::default()).await?;
    println!("{}", render(&plan, false));
    let report = engine.apply(&plan, &ApplyOptions::default()).await?;
    if !report.is_success() {
        return Err(format!("apply failed: {report:?}").into());
    }
    println!("applied {} steps", plan.steps.len());

    // The kubeconfig and talosconfig are outputs of the cluster, kept
    // encrypted in the state; write them out for kubectl and talosctl.
    let state = store.load()?.ok_or("no state after apply")?;
    let cluster = &state.resources[&lab::core::Address::new("talos.cluster", "home")];
    for (output, file) in [("kubeconfig", "kubeconfig"), ("talosconfig", "talosconfig")] {
        if let Some(Value::Secret(text)) = cluster.outputs.get(output) {
            let path = dir.join(file);
            write_private(&path, text.expose())?;
            println!("wrote {} (mode 0600)", path.display());
        }
    }
    // The bundle, in talosctl's secrets.yaml format: back it up; it is what
    // `.import_secrets(..)` takes if the state is ever lost.
    if let Some(bundle) = export_secrets(&state, "home") {
        let path = dir.join("secrets.yaml");
        write_private(&path, bundle.expose())?;
        println!("wrote {} (mode 0600)", path.display());
    }
    let bootstraps = talos_sim
        .requests()
        .iter()
        .filter(|r| r.ends_with("/machine.MachineService/Bootstrap"))
        .count();
    println!("etcd bootstrapped with {bootstraps} Bootstrap call(s)");

    // The same code again: nothing to do.
    let engine = Engine::with_store(build(&pve, talos), store);
    let again = engine.plan(&PlanOptions::default()).await?;
    println!("{}", render(&again, false));
    if again.has_changes() {
        return Err("the second plan should have no changes".into());
    }
    Ok(())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = runtime.block_on(run(Path::new(".lab/talos-example"))) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
