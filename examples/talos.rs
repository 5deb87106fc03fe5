//! A Talos Kubernetes cluster on three Proxmox VE nodes: three control
//! planes behind a VIP and two workers, from a fresh secrets bundle to a
//! kubeconfig.
//!
//! ```sh
//! cargo run --example talos --features talos,sim -- apply --auto-approve   # against the simulators
//! cargo run --example talos --features talos,sim -- plan                   # "No changes."
//! cargo run --example talos --features talos,sim -- output talos.cluster.home kubeconfig --out kubeconfig
//! cargo run --example talos --features talos,sim -- output talos.cluster.home talosconfig --out talosconfig
//! cargo run --example talos --features talos,sim -- output talos.secrets.home bundle --out secrets.yaml
//! ```
//!
//! With no `PVE_*` environment variables it runs against simulators kept
//! under `.lab/sim/`: the Proxmox VE simulator (`pve.json`; HTTPS, tasks,
//! locks), which takes its third node from this code, and the Talos
//! simulator (`talos.json`; gRPC over TLS, maintenance mode -> configured
//! -> bootstrapped), one node per machine address declared here. A Talos
//! node answers only once its VM runs on the Proxmox simulator with the
//! node's address in its cloud-init drive, so the order of operations is
//! the real one.
//!
//! With `PVE_ENDPOINT`, `PVE_TOKEN_ID`, `PVE_TOKEN_SECRET` (and
//! `PVE_FINGERPRINT`) set, the same code talks to that cluster and to the
//! real Talos nodes at their addresses (apid, port 50000).
//!
//! The state (`.lab/state.json`) keeps the secrets bundle, the kubeconfig
//! and the talosconfig age-encrypted; `output ... --out FILE` writes one
//! out with mode 0600 (the `talos.secrets` bundle is talosctl's
//! `secrets.yaml`: back it up).

use lab::prelude::*;
use lab::proxmox::model::*;
use lab::proxmox::sim::SimConfig;
use lab::proxmox::{Connection, ProxmoxOptions};
use lab::talos::factory::{Schematic, QEMU_GUEST_AGENT};
use lab::talos::model::TalosCluster;
use lab::talos::provider::TalosProvider;

fn main() {
    // A live cluster if PVE_* is set, else the simulators (state in .lab/sim/).
    let (pve, talos) = match connect() {
        Ok(both) => both,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("talking to {}", pve.describe());

    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));
    lab.register_provider(TalosProvider::shared(talos));

    // Three nodes; the simulated cluster has pve1 and pve2 and takes pve3
    // from here.
    let nodes = ["pve1", "pve2", "pve3"].map(|name| lab.add(Node::new(name).bridge("vmbr0")));
    // The storages every fresh node has (one id, on each node's own disk).
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso, Content::Import])
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

    // One control plane per node; the workers on the first two.
    TalosCluster::new("home", "https://10.0.10.5:6443")
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
        .patch("machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n")
        .control_plane("cp1", "10.0.10.11/24", &nodes[0])
        .control_plane("cp2", "10.0.10.12/24", &nodes[1])
        .control_plane("cp3", "10.0.10.13/24", &nodes[2])
        .worker("w1", "10.0.10.21/24", &nodes[0])
        .worker("w2", "10.0.10.22/24", &nodes[1])
        .add_to(&mut lab);

    lab::cli::run(lab)
}

/// The Proxmox VE connection and the Talos options that go with it.
fn connect() -> Result<(Connection, lab::talos::provider::TalosOptions), Box<dyn std::error::Error>>
{
    let pve = Connection::from_env_or_simulated(SimConfig::default(), ".lab/sim/pve.json")?;
    let talos = lab::talos::connect::from_env_or_simulated(&pve, ".lab/sim/talos.json")?;
    Ok((pve, talos))
}
