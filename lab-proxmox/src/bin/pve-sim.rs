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
//! process loses nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lab_proxmox::sim::{SimConfig, SimHandle, SimNode, TaskLatency};

/// A simulated Proxmox VE cluster over HTTPS.
#[derive(Debug, Parser)]
#[command(name = "pve-sim", version, about)]
struct Args {
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

fn main() -> std::process::ExitCode {
    let args = Args::parse();
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
