//! The seed homelab: the whole lab as code, the template to copy.
//!
//! ```sh
//! cargo run --example homelab -- apply --auto-approve   # the simulated lab, from scratch
//! cargo run --example homelab -- plan                   # "No changes."
//! cargo run --example homelab -- check                  # every rule, offline
//! cargo run --example homelab -- failures               # what each appliance loss would cost
//! cargo run --example homelab -- graph --view network --format svg --out network.svg
//! cargo run --example homelab -- destroy --auto-approve
//! ```
//!
//! Three Proxmox VE nodes; most services in LXC containers, VMs where a
//! service needs its own kernel; a Talos Kubernetes cluster (three control
//! planes, two workers) on VMs; NAS A with the hot pool, NAS B with the
//! cold archive pool, over NFS; a Proxmox Backup Server whose daily copy
//! and archive copy sit on separate appliances; VLANs by trust level; a
//! Cloudflare Tunnel with Access in front of every admin surface; the
//! internal Caddy proxy with TLS; and the services.
//!
//! The lab is split as an owner would split it, one module per area:
//!
//! - [`compute`]: the nodes, their storages and templates;
//! - [`storage_backups`]: the NASes, their pools, the backup server, its
//!   copies and the nightly job;
//! - [`network_edge`]: zones, VLANs, the boxes that are not guests, the
//!   proxy, the tunnel and its connector, the flows between zones;
//! - [`services`]: what the lab is for, each service one [`App`]; the one
//!   on the Talos cluster becomes manifests under `gitops/` for Flux or
//!   Argo CD (`lab` does not drive the Kubernetes API).
//!
//! With no `PVE_*`, `PBS_*`, `CADDY_*` or `CLOUDFLARE_*` variables every
//! system is simulated in this process, its state kept under `.lab/sim/`
//! (the proxy is a real Caddy when `caddy` is on the PATH); the lab's own
//! state is `.lab/state.json`. Set them and the same code drives the real
//! systems (see the README).

mod compute;
mod network_edge;
mod services;
mod storage_backups;

use lab::net::connect::{CaddyConnection, CloudflareConnection};
use lab::pbs::connect::PbsConnection;
use lab::prelude::*;
use lab::proxmox::sim::SimConfig;
use lab::proxmox::{Connection, ProxmoxOptions};
use lab::talos::provider::{TalosOptions, TalosProvider, WorkloadFolder};

fn main() {
    let systems = match Systems::open(".lab/sim") {
        Ok(systems) => systems,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let lab = homelab(&systems);
    let code = lab::cli::run_with_args(lab, std::env::args_os());
    // A local Caddy (if one was started) stops with its connection.
    drop(systems);
    std::process::exit(code)
}

/// The lab, from the four areas.
pub fn homelab(systems: &Systems) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(systems.pve.provider(ProxmoxOptions::default()));
    let pbs = lab.register_provider_as(systems.pbs.name(), systems.pbs.provider());
    let proxy = lab.register_provider_as("proxy", systems.caddy.provider());
    lab.register_provider(systems.cloudflare.provider());
    lab.register_provider(TalosProvider::shared(systems.talos.clone()));
    lab.register_provider(WorkloadFolder::new(&systems.gitops));

    let compute = compute::add(&mut lab);
    let kubernetes = compute::kubernetes(&mut lab, &compute);
    let storage = storage_backups::add(&mut lab, &pbs);
    let net = network_edge::add(&mut lab, &compute, &proxy);
    services::add(&mut lab, &compute, &kubernetes, &storage, &net);
    lab
}

/// The systems the lab talks to: live ones the environment names, else
/// simulators kept under one folder.
pub struct Systems {
    /// The Proxmox VE cluster.
    pub pve: Connection,
    /// The Proxmox Backup Server.
    pub pbs: PbsConnection,
    /// The internal proxy's Caddy.
    pub caddy: CaddyConnection,
    /// The Cloudflare account.
    pub cloudflare: CloudflareConnection,
    /// How the Talos nodes are reached.
    pub talos: TalosOptions,
    /// Where the Kubernetes manifests of the services on the cluster go,
    /// for Flux or Argo CD to apply (commit it to the repository they
    /// watch).
    pub gitops: std::path::PathBuf,
}

impl Systems {
    /// Opens them, the simulators' state under `dir`.
    pub fn open(dir: &str) -> Result<Systems, Box<dyn std::error::Error>> {
        let pve =
            Connection::from_env_or_simulated(SimConfig::default(), format!("{dir}/pve.json"))?;
        let talos = lab::talos::connect::from_env_or_simulated(&pve, format!("{dir}/talos.json"))?;
        Ok(Systems {
            pbs: PbsConnection::from_env_or_simulated(
                "primary",
                format!("{dir}/pbs-primary.json"),
            )?,
            caddy: CaddyConnection::from_env_or_local("proxy", format!("{dir}/caddy-proxy"))?,
            cloudflare: CloudflareConnection::from_env_or_simulated("cloudflare", dir)?,
            pve,
            talos,
            gitops: "gitops".into(),
        })
    }
}
