//! The write-ahead intent journal.
//!
//! Before each mutating call the executor appends an `Intent`; after the
//! call and the state write it appends a `Done`. An `Intent` without a
//! `Done` is an operation a crash interrupted: the next run asks the
//! provider to find the object by its ownership marker and adopts it, or
//! drops the intent if nothing was created. No secret is ever written here.

use serde::{Deserialize, Serialize};

use crate::provider::OpKind;
use crate::Address;

/// One journal line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "lowercase")]
pub enum JournalRecord {
    /// About to call the provider.
    Intent {
        /// The run's id (the state lineage plus serial at start).
        run: String,
        /// The operation's number within the run.
        op: u64,
        /// The resource.
        address: Address,
        /// The call.
        action: OpKind,
        /// Unix time in milliseconds.
        at_ms: u64,
    },
    /// The call returned and its result is in state.
    Done {
        /// The run's id.
        run: String,
        /// The operation's number within the run.
        op: u64,
        /// True if it succeeded.
        ok: bool,
    },
}

impl JournalRecord {
    /// `(run, op)` of the record.
    pub fn key(&self) -> (&str, u64) {
        match self {
            JournalRecord::Intent { run, op, .. } | JournalRecord::Done { run, op, .. } => {
                (run, *op)
            }
        }
    }
}

/// The intents in `records` that have no matching `Done`, in order.
pub fn pending(records: &[JournalRecord]) -> Vec<&JournalRecord> {
    let done: std::collections::HashSet<(&str, u64)> = records
        .iter()
        .filter(|r| matches!(r, JournalRecord::Done { .. }))
        .map(JournalRecord::key)
        .collect();
    records
        .iter()
        .filter(|r| matches!(r, JournalRecord::Intent { .. }) && !done.contains(&r.key()))
        .collect()
}
