//! `pve-sim`: the API-faithful Proxmox VE simulator as a standalone server,
//! for pointing other Proxmox tools (or a CI job) at a fake cluster.
//!
//! ```text
//! cargo run -p lab-proxmox --features sim --bin pve-sim -- \
//!     --listen 127.0.0.1:8006 [--state FILE] [--nodes pve1,pve2] [--auth-delay-ms 3000]
//! ```
//!
//! It prints the URL, the API token (`PVEAPIToken=<id>=<secret>`) and the
//! certificate fingerprint to pin, then serves until Ctrl-C. With
//! `--state`, the world is written after every change, so stopping the
//! process loses nothing, and the node's identity is kept beside it in
//! `FILE.tls.json` (mode 0600): a restart serves the same certificate (a
//! pinned fingerprint keeps working) and accepts the same token secret
//! (unless `--token-secret` gives another), on the same `--listen`
//! address.
//!
//! Stopping it (Ctrl-C, or a kill) is a node going down: tasks that were
//! running read `stopped` with `unexpected status` after the restart, and
//! what their workers had written stays, as on a rebooted Proxmox node: a
//! clone's target keeps `lock: clone`, a create's `lock: create`; a
//! download leaves no file. A token cannot remove a `lock` (only
//! `root@pam` may pass `skiplock`), so, as an administrator runs `qm unlock
//! <vmid>` (or `pct unlock <vmid>`) on the node:
//!
//! ```text
//! pve-sim unlock --state FILE <vmid>
//! ```
//!
//! It removes the guest's `lock` from the state file, whether or not a
//! simulator is running on it (a running one reads the change back before
//! its next request), prints the lock it removed, and exits 0 (1 with PVE's
//! message if there is no such guest, or, for a container, no lock).

#![deny(missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lab_proxmox::sim::{SimConfig, SimHandle, SimNode, TaskLatency};

/// A simulated Proxmox VE cluster over HTTPS.
#[derive(Debug, Parser)]
#[command(
    name = "pve-sim",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Args {
    /// A command on a state file instead of serving.
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8006")]
    listen: SocketAddr,
    /// Persist the simulated cluster to this JSON file (loaded if it exists).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Comma-separated node names.
    #[arg(long, default_value = "pve1,pve2", value_delimiter = ',')]
    nodes: Vec<String>,
    /// Delay before answering an authentication failure, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    auth_delay_ms: u64,
    /// Token id to accept.
    #[arg(long, default_value = "lab@pve!lab")]
    token_id: String,
    /// Token secret to accept (default: `$PVE_SIM_TOKEN_SECRET`, else random).
    #[arg(long)]
    token_secret: Option<String>,
    /// Config/storage lock timeout in milliseconds (real PVE: 10000).
    #[arg(long, default_value_t = 10_000)]
    lock_timeout_ms: u64,
    /// Complete every task after this many milliseconds instead of the
    /// per-type demo latencies.
    #[arg(long)]
    task_latency_ms: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Remove a guest's `lock`, as `qm unlock <vmid>` / `pct unlock <vmid>`
    /// on the node.
    Unlock {
        /// The simulator's state file.
        #[arg(long)]
        state: PathBuf,
        /// The guest.
        #[arg(value_parser = clap::value_parser!(u32).range(100..=999_999_999))]
        vmid: u32,
    },
}

fn unlock(state: &std::path::Path, vmid: u32) -> std::process::ExitCode {
    match lab_proxmox::sim::unlock_state_file(state, vmid) {
        Ok(Some(lock)) => {
            println!("removed lock '{lock}' from {vmid}");
            std::process::ExitCode::SUCCESS
        }
        Ok(None) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pve-sim: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(Command::Unlock { state, vmid }) = &args.command {
        return unlock(state, *vmid);
    }
    let mut config = SimConfig {
        nodes: args
            .nodes
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| SimNode::new(n))
            .collect(),
        token_id: args.token_id,
        auth_failure_delay: Duration::from_millis(args.auth_delay_ms),
        lock_timeout: Duration::from_millis(args.lock_timeout_ms),
        persist: args.state,
        listen: Some(args.listen),
        ..SimConfig::default()
    };
    if let Some(secret) = args.token_secret.or_else(|| {
        std::env::var("PVE_SIM_TOKEN_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
    }) {
        config.token_secret = secret;
    }
    if let Some(ms) = args.task_latency_ms {
        config.task_latency = TaskLatency::uniform(Duration::from_millis(ms));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pve-sim: cannot start a runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let sim = match lab_proxmox::sim::Simulator::start(config).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("pve-sim: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        print_banner(&sim);
        // Ctrl-C (SIGINT) ends the process; the state file, if any, is
        // already written after every change.
        std::future::pending::<()>().await;
        sim.shutdown();
        std::process::ExitCode::SUCCESS
    })
}

fn print_banner(sim: &SimHandle) {
    println!("pve-sim: a simulated Proxmox VE 9.1 cluster");
    println!("  URL:          {}/api2/json", sim.url());
    println!("  API token:    {}", sim.api_token());
    println!("  fingerprint:  {}", sim.fingerprint());
    println!(
        "  nodes:        {}",
        sim.world()
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  validation:   every request is checked against pve-apidoc.json (PVE 9.1)");
    println!();
    println!(
        "  curl -k -H 'Authorization: {}' {}/api2/json/version",
        sim.api_token(),
        sim.url()
    );
    println!("Press Ctrl-C to stop.");
}
