//! The versions a store keeps of a lab's state, for `state history`,
//! `state rollback` and `state migrate`.
//!
//! Every store can list what it keeps ([`super::StateStore::history`]) and
//! read one of those versions back ([`super::StateStore::load_version`]):
//! the file store keeps the current state and the one before it
//! (`state.json.prev`), the PostgreSQL store the last
//! [`super::postgres::HISTORY_KEPT`] versions, the memory store only the
//! current one. A rollback writes an old version back as a new serial (the
//! serial only ever rises, so a plan made before the rollback is refused),
//! and refuses a version of another lineage: that is another lab's state.

use super::{State, StateError, StateStore};

/// One saved version of a lab's state, as `state history` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateVersion {
    /// Its serial (rises on every save).
    pub serial: u64,
    /// Its lineage (set when the state was made).
    pub lineage: String,
    /// When it was saved, `YYYY-MM-DD HH:MM:SS UTC`, if the store knows.
    pub saved_at: Option<String>,
    /// How many resources it records.
    pub resources: usize,
    /// Which one it is in the store, for people (`current`, `state.json.prev`).
    pub label: String,
}

impl StateVersion {
    /// The entry for `state`, saved at `saved_at`, labelled `label`.
    pub fn of(state: &State, saved_at: Option<String>, label: impl Into<String>) -> Self {
        StateVersion {
            serial: state.serial,
            lineage: state.lineage.clone(),
            saved_at,
            resources: state.resources.len(),
            label: label.into(),
        }
    }
}

/// Writes version `serial` of `store`'s state back as its newest version,
/// with a serial one above the current one, and returns what was written.
/// The caller holds the store's lock. Refuses a serial the store does not
/// keep, and a version whose lineage is not the current state's.
pub fn rollback(store: &dyn StateStore, serial: u64) -> Result<State, RollbackError> {
    let current = store.load()?.ok_or(RollbackError::NoState)?;
    let Some(mut version) = store.load_version(serial)? else {
        let kept: Vec<String> = store
            .history()?
            .iter()
            .map(|v| v.serial.to_string())
            .collect();
        return Err(RollbackError::NotKept {
            serial,
            kept: kept.join(", "),
        });
    };
    if version.lineage != current.lineage {
        return Err(RollbackError::OtherLineage {
            serial,
            lineage: version.lineage,
            current: current.lineage,
        });
    }
    version.serial = current.serial + 1;
    store.save(&version)?;
    Ok(version)
}

/// Why [`rollback`] refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// The store holds no state at all.
    #[error("there is no state to roll back")]
    NoState,
    /// The store does not keep that serial.
    #[error("the state keeps no version with serial {serial} (it keeps: {kept})")]
    NotKept {
        /// The serial asked for.
        serial: u64,
        /// The serials it keeps, comma-separated.
        kept: String,
    },
    /// The version belongs to another lineage.
    #[error(
        "version {serial} has lineage {lineage}, and the current state has lineage {current}: \
         it is another state, not an earlier version of this one"
    )]
    OtherLineage {
        /// The serial asked for.
        serial: u64,
        /// Its lineage.
        lineage: String,
        /// The current state's lineage.
        current: String,
    },
    /// Reading or writing the state failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// What [`migrate`] moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The serials written into the target, oldest first.
    pub serials: Vec<u64>,
    /// The lineage (the same on both sides).
    pub lineage: String,
    /// Journal records copied.
    pub journal_records: usize,
}

/// Copies `from`'s state into `to`: every version `from` keeps (oldest
/// first, serial and lineage unchanged), then its journal. The caller holds
/// both stores' locks. Refuses when `from` has no state, and when `to`
/// already holds a state of this lab with another lineage or a higher
/// serial (its versions up to the same serial of this lineage are left as
/// they are, so a migration can be run again).
pub fn migrate(from: &dyn StateStore, to: &dyn StateStore) -> Result<Migrated, MigrateError> {
    let current = from.load()?.ok_or(MigrateError::NoState)?;
    if let Some(there) = to.load()? {
        if there.lab != current.lab || there.lineage != current.lineage {
            return Err(MigrateError::OtherState {
                lab: there.lab,
                lineage: there.lineage,
                serial: there.serial,
            });
        }
        if there.serial > current.serial {
            return Err(MigrateError::Ahead {
                there: there.serial,
                here: current.serial,
            });
        }
    }
    let already = to.load()?.map_or(0, |s| s.serial);
    let mut versions: Vec<State> = Vec::new();
    let mut kept = from.history()?;
    kept.sort_by_key(|v| v.serial);
    for v in kept {
        if v.lineage != current.lineage || v.serial >= current.serial || v.serial <= already {
            continue;
        }
        if let Some(state) = from.load_version(v.serial)? {
            versions.push(state);
        }
    }
    if current.serial > already || already == 0 {
        versions.push(current.clone());
    }
    let serials = versions.iter().map(|s| s.serial).collect();
    for state in &versions {
        to.save(state)?;
    }
    let journal = from.journal_read()?;
    to.journal_clear()?;
    for record in &journal {
        to.journal_append(record)?;
    }
    Ok(Migrated {
        serials,
        lineage: current.lineage,
        journal_records: journal.len(),
    })
}

/// Why [`migrate`] refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The source holds no state.
    #[error("there is no state to migrate")]
    NoState,
    /// The target holds another state.
    #[error(
        "the target already holds a state of lab `{lab}` with lineage {lineage} (serial {serial}), \
         another state than this one"
    )]
    OtherState {
        /// Its lab.
        lab: String,
        /// Its lineage.
        lineage: String,
        /// Its serial.
        serial: u64,
    },
    /// The target holds this state at a higher serial.
    #[error("the target holds this state at serial {there}, newer than the serial {here} here")]
    Ahead {
        /// The target's serial.
        there: u64,
        /// The source's serial.
        here: u64,
    },
    /// Reading or writing a state failed.
    #[error(transparent)]
    State(#[from] StateError),
}
