//! # lab: the homelab as Rust code
//!
//! Describe the whole lab (Proxmox guests, NAS pools, backups, VLANs, the
//! Cloudflare Tunnel, Talos Kubernetes, the services) in a `main.rs`; `lab`
//! checks it before anything runs, plans it against what exists, and applies
//! it by calling the real APIs in dependency order.
//!
//! ```no_run
//! use lab::prelude::*;
//! use lab::testing::{MemoryProvider, Thing};
//!
//! fn main() {
//!     let mut lab = Lab::new("home");
//!     // A simulated provider; the provider crates register real ones.
//!     lab.register_provider(MemoryProvider::new().shared());
//!     let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
//!     let db = lab.add(Thing::new("db").attr("size_gb", 20).on(&nas));
//!     lab.add(Thing::new("app").input("db_id", db.output::<String>("id")));
//!     lab::cli::run(lab); // check | plan | apply | destroy | graph | state
//! }
//! ```
//!
//! The crates behind this facade, each provider behind a Cargo feature of
//! the same name (none is on by default, so a lab builds only what it uses):
//!
//! - [`core`]: the model, checks, plan, apply engine, state and CLI runner
//!   (always);
//! - `proxmox` (feature `proxmox`): Proxmox VE;
//! - `pbs` (feature `pbs`, which turns on `proxmox`): Proxmox Backup
//!   Server, backup jobs, the failure-domain analysis and restore drills
//!   (`failures`, `restore-drill`, `backup-now` join the CLI);
//! - `net` (feature `net`, which turns on `proxmox`): trust zones, VLANs
//!   and the flows between them; the Proxmox firewall, NIC tags and
//!   addresses derived from them; the Caddy reverse proxy (`reach` joins
//!   the CLI);
//! - `talos` (feature `talos`, which turns on `proxmox`): Talos Linux and its
//!   Kubernetes cluster.
//!
//! The feature `sim` adds the API-faithful simulators of the enabled
//! providers (`lab::proxmox::sim`, `lab::pbs::sim`, `lab::talos::sim`,
//! `lab::net::sim`).
//! Features compose, so one line gives a lab everything the examples use:
//! `["proxmox", "sim"]` for a Proxmox VE lab, `["pbs", "sim"]` for one
//! with backups, `["talos", "sim"]` for Talos on Proxmox VE with both
//! simulators, `["full"]` for every provider and simulator:
//!
//! ```toml
//! [dependencies]
//! lab = { version = "0.1", features = ["talos", "sim"] }
//! ```

#![deny(missing_docs)]

pub use lab_core as core;
pub use lab_core::cli;
pub use lab_core::testing;
#[cfg(feature = "net")]
pub use lab_net as net;
#[cfg(feature = "pbs")]
pub use lab_pbs as pbs;
#[cfg(feature = "proxmox")]
pub use lab_proxmox as proxmox;
#[cfg(feature = "talos")]
pub use lab_talos as talos;

/// The names a `main.rs` needs: `use lab::prelude::*;`.
pub mod prelude {
    pub use lab_core::prelude::*;
}
