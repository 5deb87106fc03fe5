//! # lab: the homelab as Rust code
//!
//! Describe the whole lab (Proxmox guests, NAS pools, backups, VLANs, the
//! Cloudflare Tunnel, Talos Kubernetes, the services) in a `main.rs`; `lab`
//! checks it before anything runs, plans it against what exists, and applies
//! it by calling the real APIs in dependency order.
//!
//! A service is one [`App`](prelude::App) (feature `services`): the guest
//! it runs in, its VLAN, ports, data, backups and how it is reached.
//!
//! ```no_run
//! use lab::net::kinds::Port;
//! use lab::net::model::{Vlan, Zone};
//! use lab::prelude::*;
//! use lab::proxmox::model::{Content, Node, Storage};
//!
//! let mut lab = Lab::new("home");
//! let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
//! let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Rootdir]));
//! let servers = lab.add(Zone::servers());
//! let v20 = lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24"));
//! App::container("notes", &pve1, |ct| {
//!     ct.ostemplate_volid("local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst")
//!         .rootfs(&lvm, "8G")
//! })
//! .about("SilverBullet: the household's notes")
//! .vlan(&v20)
//! .port(Port::tcp(3000))
//! .add_to(&mut lab);
//! lab::cli::run(lab); // check | plan | apply | destroy | graph | state | ...
//! ```
//!
//! `examples/homelab/` is the whole seed lab, and the README walks
//! through it.
//!
//! The crates behind this facade, each behind a Cargo feature of the same
//! name; the default is `full` (all of them with their simulators), and a
//! lab that needs less turns the default off:
//!
//! - [`core`]: the model, checks, plan, apply engine, state and CLI runner
//!   (always);
//! - `proxmox` (feature `proxmox`): Proxmox VE;
//! - `pbs` (feature `pbs`, which turns on `proxmox`): Proxmox Backup
//!   Server, backup jobs, the failure-domain analysis and restore drills
//!   (`failures`, `restore-drill`, `backup-now` join the CLI);
//! - `net` (feature `net`, which turns on `proxmox`): trust zones, VLANs
//!   and the flows between them; the Proxmox firewall, NIC tags and
//!   addresses derived from them; the Caddy reverse proxy; the Cloudflare
//!   Tunnel, DNS and Access (`reach` joins the CLI);
//! - `talos` (feature `talos`, which turns on `proxmox`): Talos Linux and its
//!   Kubernetes cluster;
//! - `services` (feature `services`, which turns on `proxmox` and `net`):
//!   the [`App`](prelude::App), a service as a whole.
//!
//! The feature `sim` adds the API-faithful simulators of the enabled
//! providers (`lab::proxmox::sim`, `lab::pbs::sim`, `lab::talos::sim`,
//! `lab::net::sim`). Features compose: `["proxmox", "sim"]` for a Proxmox
//! VE lab, `["pbs", "sim"]` for one with backups, `["talos", "sim"]` for
//! Talos on Proxmox VE with both simulators. The feature `postgres` keeps
//! the state in a PostgreSQL database when `LAB_STATE_POSTGRES` is set
//! (`lab::core::state::postgres`); `full` (the default) has all of them.
//!
//! ```toml
//! [dependencies]
//! lab = { version = "0.1", default-features = false, features = ["talos", "sim"] }
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
#[cfg(feature = "services")]
pub use lab_services as services;
#[cfg(feature = "talos")]
pub use lab_talos as talos;

/// The names a `main.rs` needs: `use lab::prelude::*;`.
pub mod prelude {
    pub use lab_core::prelude::*;
    #[cfg(feature = "services")]
    pub use lab_services::{App, AppHandle};
}
