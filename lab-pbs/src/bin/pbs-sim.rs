//! `pbs-sim`: the API-faithful Proxmox Backup Server simulator as a
//! standalone server, for pointing PBS tools, a pve-sim `pbs` storage or a
//! CI job at a fake backup server.
//!
//! ```text
//! cargo run -p lab-pbs --features sim --bin pbs-sim -- \
//!     --listen 127.0.0.1:8007 [--state FILE] [--node pbs] [--auth-delay-ms 3000]
//! ```
//!
//! It prints the endpoint, the root API token (`PBSAPIToken=<id>:<secret>`)
//! and the certificate fingerprint to pin, then serves until Ctrl-C. With
//! `--state`, the world is written after every change (0600, atomically)
//! and the certificate and token secret are kept in `FILE.tls.json`, so a
//! restart on the same file serves the same fingerprint and accepts the
//! same token; tasks that were running when it stopped read `stopped` with
//! `unexpected status`.

#![deny(missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lab_pbs::sim::{PbsSim, PbsSimConfig};

/// A simulated Proxmox Backup Server over HTTPS.
#[derive(Debug, Parser)]
#[command(name = "pbs-sim", version, about)]
struct Args {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8007")]
    listen: SocketAddr,
    /// Persist the simulated server to this JSON file (loaded if it exists).
    #[arg(long)]
    state: Option<PathBuf>,
    /// The node name (in task ids).
    #[arg(long, default_value = "pbs")]
    node: String,
    /// The root token id (granted Admin on `/`).
    #[arg(long, default_value = "root@pam!lab")]
    token_id: String,
    /// Its secret (default: `$PBS_SIM_TOKEN_SECRET`, else the kept one, else random).
    #[arg(long)]
    token_secret: Option<String>,
    /// Delay before answering an authentication failure, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    auth_delay_ms: u64,
    /// How long tasks run, in milliseconds.
    #[arg(long, default_value_t = 200)]
    task_latency_ms: u64,
    /// Size of each datastore's filesystem, in GiB.
    #[arg(long, default_value_t = 1024)]
    datastore_gib: u64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut config = PbsSimConfig {
        node: args.node,
        root_token_id: args.token_id,
        listen: args.listen,
        state_file: args.state,
        auth_failure_delay: Duration::from_millis(args.auth_delay_ms),
        task_latency: Duration::from_millis(args.task_latency_ms),
        datastore_size: args.datastore_gib << 30,
        ..PbsSimConfig::default()
    };
    config.root_token_secret = args.token_secret.or_else(|| {
        std::env::var("PBS_SIM_TOKEN_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pbs-sim: cannot start a runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let sim = match PbsSim::start(config).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("pbs-sim: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        println!("pbs-sim: a simulated Proxmox Backup Server 4");
        println!("  endpoint:     {}", sim.endpoint());
        println!(
            "  API token:    PBSAPIToken={}:{}",
            sim.token_id(),
            sim.token_secret().expose()
        );
        println!("  fingerprint:  {}", sim.fingerprint());
        println!("  validation:   every /api2/json request is checked against pbs-apidoc.json");
        println!("Press Ctrl-C to stop.");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::future::pending::<()>().await;
        std::process::ExitCode::SUCCESS
    })
}
