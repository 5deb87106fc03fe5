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
//! What exists so far: [`schema`], the official PBS API schema, embedded and
//! checked with lab-proxmox's validator (the simulator and the client's
//! conformance tests build on it), [`schedule`], PBS's calendar events
//! parsed as PBS parses them, with their next runs, the first [`api`]
//! pieces PBS does its own way (token header, UPIDs), and [`failures`],
//! the failure-domain analysis as pure code over a [`failures::Topology`]
//! (the lowering from a `Lab` fills it).

pub mod api;
pub mod failures;
/// PBS calendar events (shared with PVE's backup jobs, so they live in
/// lab-proxmox).
pub use lab_proxmox::schedule;
pub mod schema;
