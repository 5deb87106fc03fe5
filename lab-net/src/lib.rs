//! # lab-net: the lab's network
//!
//! The user declares trust zones, the flows allowed between them, VLANs,
//! the guests on them and the services they run; lab-net derives the rest
//! (NIC bridges and VLAN tags, addresses, the Proxmox firewall's IPSets,
//! security groups and guest rules, the reverse proxy's routes) so none of
//! it is written by hand, and proves the result before anything is applied.
//!
//! The rooms are those of every provider crate:
//!
//! - [`kinds`]: the typed contract of lab-net's resource kinds;
//! - [`model`]: the builders the user writes (zones, VLANs, flows, services,
//!   hosts, DNS names, guests' NICs on VLANs, the Caddy proxy);
//! - [`api`]: the HTTP client of Caddy's admin API;
//! - [`provider`]: the `lab_core::Provider` implementations;
//! - [`checks`]: the network policy checks, at the user's lines;
//! - `sim` (feature `sim`): simulators of the services on 127.0.0.1.
//!
//! And what is particular to a network:
//!
//! - [`read`]: the lab as lab-net sees it, one typed view for all of the
//!   below; [`ipam`]: addresses as a pure function of the lab;
//! - [`derive`](mod@derive): the lowering onto what is applied (lab-core's
//!   derivation);
//! - [`policy`]: "can A reach B on port P?", from the model and from the
//!   derived Proxmox firewall; [`command`]: the `reach` CLI command;
//! - [`picture`]: the `network` picture (`graph --view network`);
//!   [`notes`]: each guest's services, network and exposures in its note
//!   (`docs`).

#![deny(missing_docs)]

pub mod api;
pub mod checks;
pub mod cloudflare;
pub mod command;
pub mod connect;
pub mod derive;
pub mod ipam;
pub mod kinds;
pub mod model;
pub mod notes;
pub mod picture;
pub mod policy;
pub mod provider;
pub mod read;
#[cfg(feature = "sim")]
pub mod sim;
