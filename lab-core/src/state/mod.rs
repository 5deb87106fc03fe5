//! State: what the lab has created, where, with which ids.
//!
//! [`State`] is the in-memory value (secrets as plaintext [`crate::Secret`]);
//! a [`StateStore`] persists it. The default store ([`FileStateStore`])
//! writes `.lab/state.json` atomically (temp, fsync, rename), keeps the
//! previous version, holds an exclusive lock during apply, encrypts every
//! secret with age, and keeps the write-ahead intent journal
//! ([`JournalRecord`]) that lets the next run adopt what a crash left behind.

mod crypt;
mod document;
mod file;
mod history;
mod journal;
mod keys;
mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;

pub use crypt::{KeyFile, Sealer};
pub use document::StateDocument;
pub(crate) use document::{DocumentError, SealCache};
pub(crate) use file::write_private;
pub use file::{FileStateStore, StoreFault};
pub use history::{migrate, rollback, MigrateError, Migrated, RollbackError, StateVersion};
pub use journal::{open_operations, pending, JournalRecord, OpenOperation};
pub(crate) use keys::{sealing_for_save, StoreKey};
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

impl ResourceState {
    /// The entry for an object a provider made or found.
    pub fn observed(
        obs: crate::provider::Observed,
        deps: Vec<Address>,
        create_before_destroy: bool,
        provider: &str,
    ) -> Self {
        ResourceState {
            id: obs.id,
            attrs: obs.attrs,
            outputs: obs.outputs,
            deps,
            create_before_destroy,
            provider: provider.to_string(),
        }
    }
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

    /// Parses, handing each `{"$secret": ..}` to `unseal`.
    ///
    /// The JSON must follow the state schema exactly, or nothing is read: a
    /// state read as emptier than it is makes the next plan create every
    /// object again. Required: `version` (this build's), `lab`, `lineage`,
    /// `serial` and `resources` (an object; each entry an object with a
    /// string `id`, objects `attrs` and `outputs` and an array `deps`).
    /// Optional (absent: the default): `deposed` (entries like
    /// `resources`), `timings`, `pending`, and in each entry
    /// `create_before_destroy` and `provider`. `key_recipient` belongs to
    /// the file store and is ignored here. A damage is
    /// [`StateError::Corrupt`] naming the field (`resources["a.b"].attrs`);
    /// a field this build does not know is [`StateError::UnknownField`] (a
    /// newer build may have written it; this one would drop it on its next
    /// save). Both leave the path empty for the store to fill in.
    pub fn from_json(json: &Json, unseal: Unseal<'_>) -> Result<State, StateError> {
        let top = json.as_object().ok_or_else(|| {
            corrupt(format!(
                "the file holds {}, not a state object",
                json_kind(json)
            ))
        })?;
        let version = whole(required(top, "", "version")?, "version")?;
        if version != u64::from(STATE_VERSION) {
            return Err(StateError::UnknownVersion {
                path: PathBuf::new(),
                found: version,
                supported: STATE_VERSION,
            });
        }
        refuse_unknown(top, "", STATE_FIELDS)?;
        let lab = name(required(top, "", "lab")?, "lab")?;
        let lineage = name(required(top, "", "lineage")?, "lineage")?;
        let serial = whole(required(top, "", "serial")?, "serial")?;
        let resources = resource_map(required(top, "", "resources")?, "resources", unseal)?;
        let deposed = match top.get("deposed") {
            None => IndexMap::new(),
            Some(j) => resource_map(j, "deposed", unseal)?,
        };
        let mut timings = IndexMap::new();
        if let Some(j) = top.get("timings") {
            for (k, v) in object(j, "timings")? {
                timings.insert(k.clone(), whole(v, &entry("timings", k))?);
            }
        }
        let mut pending = IndexMap::new();
        if let Some(j) = top.get("pending") {
            for (addr, p) in object(j, "pending")? {
                let at = entry("pending", addr);
                let address = address(addr, &at)?;
                let p = object(p, &at)?;
                refuse_unknown(p, &at, PENDING_FIELDS)?;
                let text_or_empty = |k: &str| match p.get(k) {
                    None => Ok(String::new()),
                    Some(v) => text(v, &join(&at, k)),
                };
                let claim = match p.get("claim") {
                    None => crate::provider::Claim::default(),
                    Some(c) => crate::provider::Claim(object(c, &join(&at, "claim"))?.clone()),
                };
                pending.insert(
                    address,
                    PendingCreate {
                        provider: text_or_empty("provider")?,
                        claim,
                        reason: text_or_empty("reason")?,
                    },
                );
            }
        }
        Ok(State {
            lab,
            lineage,
            serial,
            resources,
            deposed,
            pending,
            timings,
        })
    }

    /// Refuses a state recorded for another lab than `lab` (the code's):
    /// its objects carry the other lab's ownership markers, and planning
    /// against it would change or delete them. `location` names the state
    /// for the message (a [`StateStore::describe`]).
    pub fn ensure_lab(&self, lab: &str, location: &str) -> Result<(), StateError> {
        if self.lab == lab {
            Ok(())
        } else {
            Err(StateError::ForeignLab {
                location: location.to_string(),
                state_lab: self.lab.clone(),
                code_lab: lab.to_string(),
            })
        }
    }
}

/// The callback that turns the inner value of a `{"$secret": ..}` object
/// back into a secret.
pub type Unseal<'a> = &'a mut dyn FnMut(&Json) -> Result<Secret, String>;

/// The top-level fields of a state file this build knows (`key_recipient`
/// is the file store's).
const STATE_FIELDS: &[&str] = &[
    "version",
    "key_recipient",
    "lab",
    "lineage",
    "serial",
    "resources",
    "deposed",
    "timings",
    "pending",
];
/// The fields of a `resources` (or `deposed`) entry.
const RESOURCE_FIELDS: &[&str] = &[
    "id",
    "attrs",
    "outputs",
    "deps",
    "create_before_destroy",
    "provider",
];
/// The fields of a `pending` entry.
const PENDING_FIELDS: &[&str] = &["provider", "claim", "reason"];

fn corrupt(reason: String) -> StateError {
    StateError::Corrupt {
        path: PathBuf::new(),
        reason,
    }
}

/// What a JSON value is, for messages (never a string's content: it may be
/// anything, and a message is no place to repeat it).
fn json_kind(j: &Json) -> String {
    match j {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("the boolean {b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(_) => "a string".into(),
        Json::Array(_) => "an array".into(),
        Json::Object(_) => "an object".into(),
    }
}

/// `at.key`, or `key` at the top.
fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// `at["key"]`: an entry of a map keyed by addresses (which hold dots).
fn entry(at: &str, key: &str) -> String {
    format!("{at}[{key:?}]")
}

fn required<'j>(
    m: &'j serde_json::Map<String, Json>,
    at: &str,
    key: &str,
) -> Result<&'j Json, StateError> {
    m.get(key)
        .ok_or_else(|| corrupt(format!("`{}` is missing", join(at, key))))
}

fn refuse_unknown(
    m: &serde_json::Map<String, Json>,
    at: &str,
    known: &[&str],
) -> Result<(), StateError> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(StateError::UnknownField {
            path: PathBuf::new(),
            field: join(at, k),
        }),
        None => Ok(()),
    }
}

fn object<'j>(j: &'j Json, at: &str) -> Result<&'j serde_json::Map<String, Json>, StateError> {
    j.as_object()
        .ok_or_else(|| corrupt(format!("`{at}` is {}, not an object", json_kind(j))))
}

fn text(j: &Json, at: &str) -> Result<String, StateError> {
    j.as_str()
        .map(str::to_string)
        .ok_or_else(|| corrupt(format!("`{at}` is {}, not a string", json_kind(j))))
}

/// A string that must not be empty (the lab's name, the lineage).
fn name(j: &Json, at: &str) -> Result<String, StateError> {
    let t = text(j, at)?;
    if t.is_empty() {
        return Err(corrupt(format!("`{at}` is empty")));
    }
    Ok(t)
}

fn whole(j: &Json, at: &str) -> Result<u64, StateError> {
    j.as_u64().ok_or_else(|| {
        corrupt(format!(
            "`{at}` is {}, not a whole number of at least 0",
            json_kind(j)
        ))
    })
}

fn address(text: &str, at: &str) -> Result<Address, StateError> {
    Address::parse(text).ok_or_else(|| {
        corrupt(format!(
            "`{at}`: the key is not a `kind.name` resource address"
        ))
    })
}

fn attr_map(j: &Json, at: &str, unseal: Unseal<'_>) -> Result<Attrs, StateError> {
    object(j, at)?;
    attrs_from_json(j, unseal).map_err(|e| corrupt(format!("`{at}`: {e}")))
}

fn resource_map(
    json: &Json,
    at: &str,
    unseal: Unseal<'_>,
) -> Result<IndexMap<Address, ResourceState>, StateError> {
    let mut resources = IndexMap::new();
    for (addr, r) in object(json, at)? {
        let at = entry(at, addr);
        let address = address(addr, &at)?;
        let r = object(r, &at)?;
        refuse_unknown(r, &at, RESOURCE_FIELDS)?;
        let id = text(required(r, &at, "id")?, &join(&at, "id"))?;
        let attrs_at = join(&at, "attrs");
        let attrs = attr_map(required(r, &at, "attrs")?, &attrs_at, unseal)?;
        let outputs_at = join(&at, "outputs");
        let outputs = attr_map(required(r, &at, "outputs")?, &outputs_at, unseal)?;
        let deps_at = join(&at, "deps");
        let deps_json = required(r, &at, "deps")?;
        let deps = deps_json
            .as_array()
            .ok_or_else(|| {
                corrupt(format!(
                    "`{deps_at}` is {}, not an array",
                    json_kind(deps_json)
                ))
            })?
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let at = format!("{deps_at}[{i}]");
                let t = text(d, &at)?;
                Address::parse(&t)
                    .ok_or_else(|| corrupt(format!("`{at}` is not a `kind.name` resource address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let create_before_destroy = match r.get("create_before_destroy") {
            None => false,
            Some(b) => b.as_bool().ok_or_else(|| {
                corrupt(format!(
                    "`{at}.create_before_destroy` is {}, not a boolean",
                    json_kind(b)
                ))
            })?,
        };
        let provider = match r.get("provider") {
            None => String::new(),
            Some(p) => text(p, &join(&at, "provider"))?,
        };
        resources.insert(
            address,
            ResourceState {
                id,
                attrs,
                outputs,
                deps,
                create_before_destroy,
                provider,
            },
        );
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

    /// Loads the state; `None` if there is none yet. A state that does not
    /// read whole is an error ([`StateError::Corrupt`],
    /// [`StateError::UnknownField`]), never an empty state; so is a lost
    /// state whose previous version is still there ([`StateError::Missing`]).
    fn load(&self) -> Result<Option<State>, StateError>;

    /// [`StateStore::load`] for the code's lab `lab`: a state recorded for
    /// another lab is [`StateError::ForeignLab`].
    fn load_lab(&self, lab: &str) -> Result<Option<State>, StateError> {
        let state = self.load()?;
        if let Some(s) = &state {
            s.ensure_lab(lab, &self.describe())?;
        }
        Ok(state)
    }

    /// Saves the state atomically. The caller bumps `serial`.
    fn save(&self, state: &State) -> Result<(), StateError>;

    /// Appends a journal record durably (before the call it announces).
    fn journal_append(&self, record: &JournalRecord) -> Result<(), StateError>;

    /// Appends several records durably with one write where the store can
    /// (the executor's group commit: the intents of operations that start
    /// together). The default appends them one by one.
    fn journal_append_batch(&self, records: &[JournalRecord]) -> Result<(), StateError> {
        records.iter().try_for_each(|r| self.journal_append(r))
    }

    /// Reads the journal left by earlier runs.
    fn journal_read(&self) -> Result<Vec<JournalRecord>, StateError>;

    /// Empties the journal once every record in it is reflected in state.
    fn journal_clear(&self) -> Result<(), StateError>;

    /// Seals secrets for a saved plan file with the state's key, creating
    /// the key if the store may (none exists and no state records one).
    fn sealer(&self) -> Result<Sealer, StateError>;

    /// The state's key if there is one, never creating it (`None`: no key
    /// yet). Checks a saved plan's seal: a new key could not.
    fn existing_sealer(&self) -> Result<Option<Sealer>, StateError> {
        self.sealer().map(Some)
    }

    /// The versions of the state this store keeps, newest first (the
    /// default: the current one only). See [`rollback`] and [`migrate`].
    fn history(&self) -> Result<Vec<StateVersion>, StateError> {
        Ok(self
            .load()?
            .map(|s| vec![StateVersion::of(&s, None, "current")])
            .unwrap_or_default())
    }

    /// The version with serial `serial`, if this store keeps it (the
    /// default: the current state, when its serial is that one).
    fn load_version(&self, serial: u64) -> Result<Option<State>, StateError> {
        Ok(self.load()?.filter(|s| s.serial == serial))
    }
}

/// The name of the previous version beside `state.json`.
const PREV_FILE_NAME: &str = "state.json.prev";

/// What to do about a corrupt file: restore the previous version, for the
/// state file.
fn corrupt_help(path: &std::path::Path) -> String {
    let untouched = "the file was left untouched";
    if path.file_name().is_none_or(|n| n != "state.json") {
        return untouched.to_string();
    }
    let prev = path.with_file_name(PREV_FILE_NAME);
    format!(
        "{untouched}, and nothing of it was read: a state read as emptier than it is would make \
         lab create every object again. The version before the last save is kept beside it; \
         check it, then restore it with\n\n    cp {prev} {path}\n\nThe next plan adopts the \
         objects the older state does not record (they carry this lab's ownership marker).",
        prev = prev.display(),
        path = path.display()
    )
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
    /// The state file (or the journal) is not valid: nothing of it is read.
    #[error("the state file {} is corrupt: {reason}", .path.display())]
    #[diagnostic(code(lab::state::corrupt), help("{}", corrupt_help(.path)))]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (naming the field, e.g. `resources["a.b"].attrs`).
        reason: String,
    },
    /// The state file has a field this build does not know.
    #[error(
        "the state file {} has a field this build of lab does not know: `{field}`",
        .path.display()
    )]
    #[diagnostic(
        code(lab::state::unknown_field),
        help(
            "the file was left untouched. A newer build of lab probably wrote it: use that build \
             (this one would drop the field on its next save). If the file was edited by hand, \
             fix or remove the field, or restore the previous version, {}",
            .path.with_file_name(PREV_FILE_NAME).display()
        )
    )]
    UnknownField {
        /// The file.
        path: PathBuf,
        /// The field's path, e.g. `resources["a.b"].size`.
        field: String,
    },
    /// `state.json` is gone but its previous version is still there: the
    /// state was lost, not never made.
    #[error(
        "the state file {} is missing, but its previous version {} is there",
        .path.display(),
        .prev.display()
    )]
    #[diagnostic(
        code(lab::state::missing),
        help(
            "lab does not start from an empty state while a previous one exists: that would \
             create every object again. If state.json was deleted or lost, restore the previous \
             version with\n\n    cp {} {}\n\nThe next plan adopts the objects it does not \
             record (they carry this lab's ownership marker). To really start over, move {} \
             away first.",
            .prev.display(),
            .path.display(),
            .prev.display()
        )
    )]
    Missing {
        /// The missing state file.
        path: PathBuf,
        /// Its previous version, which exists.
        prev: PathBuf,
    },
    /// The state records another lab than the code's.
    #[error("the state in {location} belongs to lab `{state_lab}`; this code is lab `{code_lab}`")]
    #[diagnostic(
        code(lab::state::foreign_lab),
        help(
            "nothing was read or changed. Run lab `{code_lab}` with its own state directory \
             (`--state-dir DIR`). If this code was renamed from `{state_lab}`, give it its old \
             name back: the objects carry ownership markers with the lab's name"
        )
    )]
    ForeignLab {
        /// Where the state is (the store's description).
        location: String,
        /// The lab the state records.
        state_lab: String,
        /// The lab of the code.
        code_lab: String,
    },
    /// The state file has a version this build does not know.
    #[error(
        "the state file {} has version {found}; this build reads version {supported}",
        .path.display()
    )]
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
    /// A state backend (PostgreSQL) could not be reached, or failed.
    #[error("{location}: {message}")]
    #[diagnostic(code(lab::state::backend), help("{help}"))]
    Backend {
        /// Where the state is (the store's description, never a password).
        location: String,
        /// What failed.
        message: String,
        /// What to do next.
        help: String,
    },
    /// A fault injected by a test.
    #[error("injected fault: {0}")]
    #[diagnostic(code(lab::state::fault))]
    Injected(String),
}
