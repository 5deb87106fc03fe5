//! # lab-pbs: Proxmox Backup Server and backup jobs
//!
//! This crate will hold everything `lab` needs to manage backups, in the
//! same rooms as every provider crate:
//!
//! - `model`: typed resources and their builders: PBS datastores (each
//!   naming the appliance it lives on), sync jobs that copy them elsewhere,
//!   prune and verify jobs, and the PVE backup jobs that write to them;
//! - `api`: the HTTP client for the PBS API (and the PVE backup-job API);
//! - `provider`: the implementation of lab-core's `Provider` trait;
//! - `checks`: the failure-domain analysis: proof that no single appliance
//!   loss takes out both the data and the means to restore it;
//! - `sim` (feature `sim`): an API-faithful PBS simulator on 127.0.0.1.
//!
//! What exists so far: [`kinds`], the typed contract of every PBS resource
//! (servers, datastores, namespaces, users, tokens, ACLs, remotes, sync,
//! prune and verify jobs) with the request each create sends; [`model`],
//! their builders (each PBS server its own provider instance, every
//! resource bound to its server's); [`checks`], the offline rules over
//! them; [`schema`], the official PBS API schema, embedded and checked with
//! lab-proxmox's validator; [`schedule`], PBS's calendar events parsed as
//! PBS parses them, with their next runs; and the first [`api`] pieces PBS
//! does its own way (token header, UPIDs); [`failures`], the
//! failure-domain analysis as pure code over a [`failures::Topology`]; the
//! PBS client ([`api::PbsClient`], on lab-proxmox's transport); and `sim`
//! (feature `sim`), the PBS simulator and the `pbs-sim` binary;
//! [`provider`], lab-core's typed provider for one server, and
//! [`connect`], how a `main.rs` gets each server (live from the
//! environment, or the embedded simulator).

pub mod api;
pub mod backup_now;
pub mod checks;
pub mod commands;
pub mod connect;
pub mod drill;
pub mod failures;
pub mod kinds;
pub mod model;
pub mod provider;
/// PBS calendar events (shared with PVE's backup jobs, so they live in
/// lab-proxmox).
pub use lab_proxmox::schedule;
pub mod schema;
#[cfg(feature = "sim")]
pub mod sim;
