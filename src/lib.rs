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
//! The crates behind this facade:
//!
//! - [`core`]: the model, checks, plan, apply engine, state and CLI runner;
//! - [`proxmox`]: Proxmox VE;
//! - [`pbs`]: Proxmox Backup Server, backup jobs, failure-domain analysis;
//! - [`net`]: VLANs and trust zones, Cloudflare, the reverse proxy, firewall;
//! - [`talos`]: Talos Linux and its Kubernetes cluster.

pub use lab_core as core;
pub use lab_core::cli;
pub use lab_core::testing;
pub use lab_net as net;
pub use lab_pbs as pbs;
pub use lab_proxmox as proxmox;
pub use lab_talos as talos;

/// The names a `main.rs` needs: `use lab::prelude::*;`.
pub mod prelude {
    pub use lab_core::prelude::*;
}
