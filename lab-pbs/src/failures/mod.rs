//! # The failure-domain analysis
//!
//! DESIGN.md's third principle: *a backup is real only once its failure
//! domains are isolated*. More copies on one disk are not redundancy, and a
//! copy nobody can read (its backup server went down with the data) is not
//! a copy. This module proves, with no IO and no provider, that no single
//! appliance loss takes out both the data and the means to restore it, and
//! says what every loss costs.
//!
//! The input is a [`Topology`]: plain values naming each appliance, compute
//! node, guest (its disks' appliances), NAS pool, backup server (the
//! appliances it fails with), datastore (its server and appliance), and
//! job copying data (backup jobs, sync jobs, pool replications) with its
//! schedule. [`Topology::of_lab`] reads it off a `Lab`; tests build it by
//! hand.
//!
//! [`Topology::analyze`] gives a [`FailureReport`]:
//!
//! - per data item (every guest, every pool's data): where the live data
//!   lives, each copy (place, appliance, server, role, job chain, worst
//!   age), the copy a restore would use;
//! - per loss (every appliance, and every pair with
//!   [`AnalysisOptions::pairs`]): which items are lost, which restorable and
//!   from where, the worst-case data-loss window ([`Rpo`]), and whether the
//!   surviving nodes and pools have room (first-fit decreasing).
//!
//! The worst age of a copy is the sum of the worst gaps between runs of
//! the jobs of its chain ([`worst_gap`], once per distinct schedule).
//! [`FailureReport::diagnostics`] are the checks (codes in [`checks`]);
//! [`FailureReport::render_table`], [`FailureReport::render_copies`] and
//! [`FailureReport::render_mermaid`] the `failures` command's output.

mod analysis;
mod capacity;
pub mod checks;
mod gap;
pub(crate) mod lower;
mod render;
mod resolve;
mod topology;

pub use analysis::{
    Affected, AnalysisOptions, DataCopy, DataKind, DataReport, FailureReport, Hop, Outcome,
    PlaceKind, Rpo, Scenario,
};
pub use capacity::{NasCapacity, NodeCapacity};
pub use gap::{worst_gap, GapCache, Schedule, DEFAULT_HORIZON_DAYS};
pub use render::{bytes, duration};
pub use resolve::TopologyError;
pub use topology::{
    ApplianceInfo, BackupJob, BackupServer, ComputeNode, CopyRole, Datastore, Disk, Guest,
    PoolData, PoolReplication, Retention, Selection, SyncJob, Topology,
};
