//! # lab-proxmox: Proxmox VE
//!
//! Everything `lab` needs to manage a Proxmox VE cluster, in the same rooms
//! as every provider crate:
//!
//! - [`model`]: typed resources and their builders: nodes (each with its
//!   local disk as an appliance), NAS pools, storages, downloaded files and
//!   pulled OCI images, templates, QEMU VMs, LXC containers (system
//!   containers, and application containers with an `entrypoint` and
//!   environment variables, secret ones included) and pools, with outputs
//!   such as the VMID and MAC addresses; [`kinds`] is the typed contract
//!   they lower to (one serde spec per kind);
//! - [`api`]: the HTTP client for the PVE API (reqwest with rustls, API-token
//!   auth, pinned certificate fingerprint, asynchronous task polling);
//! - [`provider`]: lab-core's typed provider (one `KindProvider` per kind,
//!   served as the `Typed` adapter): bulk read from `/cluster/resources`,
//!   normalised diff, create, update,
//!   delete, adoption by ownership tag and notes line, per-node and
//!   per-template limits;
//! - [`checks`]: the Proxmox policy checks, run before any call;
//! - [`notes`]: the guests' notes (`docs`) and the short note written into
//!   each guest's description;
//! - [`schedule`]: calendar events (`/cluster/backup` schedules, and PBS's
//!   jobs) parsed as Proxmox parses them, with their next runs;
//! - [`schema`]: validation of requests against the official API schema
//!   (`pve-apidoc.json` of PVE 9.1, embedded from `reference/`), used by the
//!   simulator and the conformance tests;
//! - `sim` (feature `sim`): an API-faithful PVE simulator on 127.0.0.1.

#![deny(missing_docs)]

pub mod addr;
pub mod api;
pub mod checks;
pub mod connect;
pub mod kinds;
pub mod model;
pub mod notes;
pub mod provider;
pub mod schedule;
pub mod schema;
#[cfg(feature = "sim")]
pub mod sim;

pub use connect::Connection;
pub use provider::{ProxmoxOptions, ProxmoxProvider};
