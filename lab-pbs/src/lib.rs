//! # lab-pbs: Proxmox Backup Server, backup jobs, and the failure-domain proof
//!
//! Everything `lab` needs to manage backups, in the same rooms as every
//! provider crate, plus what backups add:
//!
//! - [`model`]: typed builders: PBS servers (each its own provider
//!   instance, placed on an appliance or in a guest), datastores (on an
//!   appliance or a NAS pool), namespaces, users, tokens, ACLs, remotes,
//!   sync, prune and verify jobs, [`model::PveStorage`] (the PVE `pbs`
//!   storage reading a datastore) and [`model::BackupTarget`] (the RPO and
//!   retention the lab promises); [`kinds`] is the typed contract they
//!   lower to, with the request each create sends;
//! - [`api`]: [`api::PbsClient`], the PBS API on lab-proxmox's transport
//!   (`PBSAPIToken` with `:`, plain-text errors, 9-field UPIDs, pinned
//!   certificates);
//! - [`provider`]: lab-core's typed provider for one server; [`connect`]:
//!   each server live from the environment or as the embedded simulator;
//! - [`checks`]: the offline rules, and the failure-domain checks over
//!   [`failures`]: the analysis, as pure code over a
//!   [`failures::Topology`] read off the lab, of what every appliance loss
//!   (and pair) costs: data lost, what restores and from where, the worst
//!   data-loss window, capacity;
//! - [`commands`]: the CLI commands a lab with backups gains: `failures`,
//!   `restore-drill` ([`drill`]) and `backup-now` ([`backup_now`]);
//! - [`notes`]: each guest's copies, failure domains and restore in its
//!   note (`docs`);
//! - [`picture`]: the `failures` view (`graph --view failures`): the
//!   appliances, the data and its copies on them, what one loss loses;
//! - [`schema`]: the official PBS API schema, embedded, which the simulator
//!   and the tests validate every request against; [`schedule`]: calendar
//!   events (shared with PVE's backup jobs);
//! - `sim` (feature `sim`): an API-faithful PBS simulator on 127.0.0.1
//!   that models backups (written by pve-sim's vzdump, copied by sync jobs,
//!   pruned, garbage-collected, verified), and the `pbs-sim` binary.

#![deny(missing_docs)]

pub mod api;
pub mod backup_now;
pub mod checks;
pub mod commands;
pub mod connect;
pub mod drill;
pub mod failures;
pub mod kinds;
pub mod model;
pub mod notes;
pub mod picture;
pub mod provider;
/// PBS calendar events (shared with PVE's backup jobs, so they live in
/// lab-proxmox).
pub use lab_proxmox::schedule;
pub mod schema;
#[cfg(feature = "sim")]
pub mod sim;
