//! State: what the lab has created, where, with which ids.
//!
//! [`State`] is the in-memory value (secrets as plaintext [`crate::Secret`]);
//! a [`StateStore`] persists it. The default store ([`FileStateStore`])
//! writes `.lab/state.json` atomically (temp, fsync, rename), keeps the
//! previous version, holds an exclusive lock during apply, encrypts every
//! secret with age, and keeps the write-ahead intent journal
//! ([`JournalRecord`]) that lets the next run adopt what a crash left behind.

mod crypt;
mod file;
mod journal;
mod memory;

pub use crypt::{KeyFile, Sealer};
pub use file::{FileStateStore, StoreFault};
pub use journal::{open_operations, pending, JournalRecord, OpenOperation};
pub use memory::MemoryStateStore;

use std::any::Any;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde_json::{json, Value as Json};

use crate::value::{attrs_from_json, attrs_to_json, Attrs};
use crate::{Address, Secret};

/// The state format version this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// The recorded state of one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceState {
    /// The provider's id.
    pub id: String,
    /// The attributes as last observed after apply (normalised).
    pub attrs: Attrs,
    /// Its outputs (inputs of other resources).
    pub outputs: Attrs,
    /// What it depended on when applied (orders destroys once the code is gone).
    pub deps: Vec<Address>,
    /// Replace by creating first.
    pub create_before_destroy: bool,
    /// The provider instance that applied it (empty in states written
    /// before instances were recorded: the one instance of its kind).
    pub provider: String,
}

/// A create that claimed an identity and did not complete: the next run
/// looks at that object first ([`crate::Provider::recover`]), and the next
/// create reuses the identity rather than picking a new one.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingCreate {
    /// The provider instance the create ran through.
    pub provider: String,
    /// What the provider claimed (a VMID, a UPID): identities, no secrets.
    pub claim: crate::provider::Claim,
    /// Why it is pending (the error, or the recovery's finding).
    pub reason: String,
}

/// The whole state of a lab.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// The lab's name.
    pub lab: String,
    /// A random id set when the state is created: refuses foreign writes.
    pub lineage: String,
    /// Rises on every write.
    pub serial: u64,
    /// The resources, by address.
    pub resources: IndexMap<Address, ResourceState>,
    /// Old objects replaced create-before-destroy whose delete has not
    /// completed yet; the next plan deletes them.
    pub deposed: IndexMap<Address, ResourceState>,
    /// Creates that claimed an identity and did not complete (failed, or
    /// interrupted and not adopted): recovery candidates.
    pub pending: IndexMap<Address, PendingCreate>,
    /// Measured operation durations (`kind/op` -> milliseconds, a moving
    /// average), used for estimates and critical-path priorities.
    pub timings: IndexMap<String, u64>,
}

impl State {
    /// A fresh state for lab `lab` with a new lineage.
    pub fn new(lab: &str) -> Self {
        State {
            lab: lab.to_string(),
            lineage: new_lineage(),
            serial: 0,
            resources: IndexMap::new(),
            deposed: IndexMap::new(),
            pending: IndexMap::new(),
            timings: IndexMap::new(),
        }
    }

    /// True if any recorded attribute or output is a secret.
    pub fn has_secrets(&self) -> bool {
        self.resources
            .values()
            .chain(self.deposed.values())
            .any(|r| {
                r.attrs.values().any(|v| v.contains_secret())
                    || r.outputs.values().any(|v| v.contains_secret())
            })
    }

    /// Records a measured duration as a moving average.
    pub fn record_timing(&mut self, kind: &str, op: crate::provider::OpKind, millis: u64) {
        let key = format!("{kind}/{op}");
        let e = self.timings.entry(key).or_insert(millis);
        *e = (*e * 7 + millis * 3) / 10;
    }

    /// The recorded average duration of `op` on `kind`, if measured.
    pub fn timing(&self, kind: &str, op: crate::provider::OpKind) -> Option<u64> {
        self.timings.get(&format!("{kind}/{op}")).copied()
    }

    /// Serialises, handing each secret to `seal`.
    pub fn to_json(&self, seal: &mut dyn FnMut(&Secret) -> Json) -> Json {
        let mut map = |m: &IndexMap<Address, ResourceState>| -> serde_json::Map<String, Json> {
            m.iter()
                .map(|(a, r)| {
                    (
                        a.to_string(),
                        json!({
                            "id": r.id,
                            "attrs": attrs_to_json(&r.attrs, seal),
                            "outputs": attrs_to_json(&r.outputs, seal),
                            "deps": r.deps,
                            "create_before_destroy": r.create_before_destroy,
                            "provider": r.provider,
                        }),
                    )
                })
                .collect()
        };
        let resources = map(&self.resources);
        let deposed = map(&self.deposed);
        let mut out = json!({
            "version": STATE_VERSION,
            "lab": self.lab,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": resources,
            "deposed": deposed,
            "timings": self.timings,
        });
        // Written only when there is something pending, so states without
        // interrupted creates read the same as before.
        if !self.pending.is_empty() {
            let pending: serde_json::Map<String, Json> = self
                .pending
                .iter()
                .map(|(a, p)| {
                    (
                        a.to_string(),
                        json!({"provider": p.provider, "claim": p.claim, "reason": p.reason}),
                    )
                })
                .collect();
            out["pending"] = Json::Object(pending);
        }
        out
    }

    /// Parses, handing each `{"$secret": ..}` to `unseal`. Refuses other
    /// versions.
    pub fn from_json(
        json: &Json,
        unseal: &mut dyn FnMut(&Json) -> Result<Secret, String>,
    ) -> Result<State, StateError> {
        let corrupt = |reason: String| StateError::Corrupt {
            path: PathBuf::new(),
            reason,
        };
        let version = json
            .get("version")
            .and_then(Json::as_u64)
            .ok_or_else(|| corrupt("no `version` field".into()))?;
        if version != u64::from(STATE_VERSION) {
            return Err(StateError::UnknownVersion {
                path: PathBuf::new(),
                found: version,
                supported: STATE_VERSION,
            });
        }
        let text = |k: &str| -> Result<String, StateError> {
            json.get(k)
                .and_then(Json::as_str)
                .map(str::to_string)
                .ok_or_else(|| corrupt(format!("no `{k}` field")))
        };
        let resources = resource_map(json.get("resources"), unseal)?;
        let deposed = resource_map(json.get("deposed"), unseal)?;
        let timings = serde_json::from_value(json.get("timings").cloned().unwrap_or(json!({})))
            .map_err(|e| corrupt(format!("timings: {e}")))?;
        let mut pending = IndexMap::new();
        match json.get("pending") {
            None | Some(Json::Null) => {}
            Some(Json::Object(map)) => {
                for (addr, p) in map {
                    let address = Address::parse(addr)
                        .ok_or_else(|| corrupt(format!("pending: bad address `{addr}`")))?;
                    let text = |k: &str| p.get(k).and_then(Json::as_str).unwrap_or_default();
                    let claim =
                        serde_json::from_value(p.get("claim").cloned().unwrap_or(json!({})))
                            .map_err(|e| corrupt(format!("pending `{addr}`.claim: {e}")))?;
                    pending.insert(
                        address,
                        PendingCreate {
                            provider: text("provider").to_string(),
                            claim,
                            reason: text("reason").to_string(),
                        },
                    );
                }
            }
            Some(_) => return Err(corrupt("`pending` is not an object".into())),
        }
        Ok(State {
            lab: text("lab")?,
            lineage: text("lineage")?,
            serial: json
                .get("serial")
                .and_then(Json::as_u64)
                .ok_or_else(|| corrupt("no `serial` field".into()))?,
            resources,
            deposed,
            pending,
            timings,
        })
    }
}

fn resource_map(
    json: Option<&Json>,
    unseal: &mut dyn FnMut(&Json) -> Result<Secret, String>,
) -> Result<IndexMap<Address, ResourceState>, StateError> {
    let corrupt = |reason: String| StateError::Corrupt {
        path: PathBuf::new(),
        reason,
    };
    let mut resources = IndexMap::new();
    {
        if let Some(map) = json.and_then(Json::as_object) {
            for (addr, r) in map {
                let address =
                    Address::parse(addr).ok_or_else(|| corrupt(format!("bad address `{addr}`")))?;
                let deps: Vec<Address> =
                    serde_json::from_value(r.get("deps").cloned().unwrap_or(json!([])))
                        .map_err(|e| corrupt(format!("`{addr}`.deps: {e}")))?;
                resources.insert(
                    address,
                    ResourceState {
                        id: r
                            .get("id")
                            .and_then(Json::as_str)
                            .ok_or_else(|| corrupt(format!("`{addr}` has no id")))?
                            .to_string(),
                        attrs: attrs_from_json(r.get("attrs").unwrap_or(&Json::Null), unseal)
                            .map_err(|e| corrupt(format!("`{addr}`.attrs: {e}")))?,
                        outputs: attrs_from_json(r.get("outputs").unwrap_or(&Json::Null), unseal)
                            .map_err(|e| corrupt(format!("`{addr}`.outputs: {e}")))?,
                        deps,
                        create_before_destroy: r
                            .get("create_before_destroy")
                            .and_then(Json::as_bool)
                            .unwrap_or(false),
                        provider: r
                            .get("provider")
                            .and_then(Json::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    },
                );
            }
        }
    }
    Ok(resources)
}
/// A random lineage in UUID v4 form.
pub fn new_lineage() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// Held while a run may write the state; dropping it releases the lock.
pub struct StateLock(#[allow(dead_code)] Box<dyn Any + Send>);

impl StateLock {
    /// Wraps a store's lock guard.
    pub fn new(guard: impl Any + Send) -> Self {
        StateLock(Box::new(guard))
    }
}

/// Where the state lives.
pub trait StateStore: Send + Sync {
    /// Where, for messages (`.lab/state.json`).
    fn describe(&self) -> String;

    /// Takes the exclusive lock, failing at once (naming the holder) if
    /// another run holds it.
    fn lock(&self, operation: &str) -> Result<StateLock, StateError>;

    /// Loads the state; `None` if there is none yet.
    fn load(&self) -> Result<Option<State>, StateError>;

    /// Saves the state atomically. The caller bumps `serial`.
    fn save(&self, state: &State) -> Result<(), StateError>;

    /// Appends a journal record durably (before the call it announces).
    fn journal_append(&self, record: &JournalRecord) -> Result<(), StateError>;

    /// Reads the journal left by earlier runs.
    fn journal_read(&self) -> Result<Vec<JournalRecord>, StateError>;

    /// Empties the journal once every record in it is reflected in state.
    fn journal_clear(&self) -> Result<(), StateError>;

    /// Seals secrets for a saved plan file with the state's key.
    fn sealer(&self) -> Result<Sealer, StateError>;
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    /// Another run holds the lock.
    #[error("the state is locked by {holder}")]
    #[diagnostic(
        code(lab::state::locked),
        help("wait for that run to finish; if it died, its lock is released with its process")
    )]
    Locked {
        /// Who holds it (pid, host, operation, since).
        holder: String,
    },
    /// The state file is not valid.
    #[error("the state file {path:?} is corrupt: {reason}")]
    #[diagnostic(
        code(lab::state::corrupt),
        help("the file was left untouched; the previous version is kept beside it as state.json.prev")
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The state file has a version this build does not know.
    #[error("the state file {path:?} has version {found}; this build reads version {supported}")]
    #[diagnostic(
        code(lab::state::version),
        help("use the lab build that wrote it; the file was left untouched")
    )]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u64,
        /// Ours.
        supported: u32,
    },
    /// The encryption key is missing or wrong.
    #[error("{message}")]
    #[diagnostic(code(lab::state::key))]
    Key {
        /// What is wrong and what to do.
        message: String,
    },
    /// A file operation failed.
    #[error("{action} {path:?}: {source}")]
    #[diagnostic(code(lab::state::io))]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A fault injected by a test.
    #[error("injected fault: {0}")]
    #[diagnostic(code(lab::state::fault))]
    Injected(String),
}
