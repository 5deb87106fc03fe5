//! Recovering what an interrupted or failed create left behind.
//!
//! A create is not atomic on a real service: Proxmox picks no VMID for us,
//! a clone runs for minutes as a task, a download writes a file at the end.
//! If `lab` dies (or the call fails) in the middle, the object may be
//! half made, still being made, or not made at all, and it may not carry
//! the ownership marker yet. So a provider says, before each call that
//! makes something, *which* object it will be: it records a [`Claim`]
//! (`{"node": "pve1", "vmid": 105}`, then `{"upid": "UPID:..."}` once the
//! task runs) with [`crate::provider::OpContext::claim`]. The engine
//! journals every claim durably before the call goes out.
//!
//! The next run hands the merged claim to [`crate::Provider::recover`],
//! which looks at exactly that object and that task: still running → wait;
//! finished → adopt it or clean it up; never made → say so, and the next
//! create reuses the same identity ([`crate::provider::OpContext::reserved`])
//! instead of picking a new one. A claim holds identities, never secrets.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::{Observed, OpKind, Ownership};
use crate::value::Attrs;
use crate::Address;

/// Which object an operation will make or touch: provider-defined keys
/// (`vmid`, `node`, `upid`, `volid`), each a JSON scalar. Later claims of
/// the same operation add keys or overwrite them.
///
/// ```
/// use lab_core::provider::Claim;
/// let mut c = Claim::new().with("node", "pve1").with("vmid", 105);
/// c.merge(&Claim::new().with("upid", "UPID:pve1:..."));
/// assert_eq!(c.int("vmid"), Some(105));
/// assert_eq!(c.text("upid"), Some("UPID:pve1:..."));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Claim(pub Map<String, Json>);

impl Claim {
    /// An empty claim.
    pub fn new() -> Self {
        Claim::default()
    }

    /// The claim with `key` set.
    pub fn with(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.0.insert(key.to_string(), value.into());
        self
    }

    /// Sets `key`.
    pub fn set(&mut self, key: &str, value: impl Into<Json>) {
        self.0.insert(key.to_string(), value.into());
    }

    /// Adds `other`'s keys, overwriting.
    pub fn merge(&mut self, other: &Claim) {
        for (k, v) in &other.0 {
            self.0.insert(k.clone(), v.clone());
        }
    }

    /// True if no key is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A text value.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Json::as_str)
    }

    /// An integer value.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(Json::as_i64)
    }

    /// `key=value, ...` for messages.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => format!("{k} {s}"),
                other => format!("{k} {other}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why the engine asks a provider to recover an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoverCause {
    /// A run died while the call was in flight (an open journal intent).
    Interrupted,
    /// The call returned an error after claiming an identity: the object
    /// may be half made.
    Failed,
    /// The state may be older than the world (restored from `.prev`): the
    /// object may exist, carrying this lab's marker, though the state has
    /// no record of it. No claim.
    StateBehind,
}

/// One object to recover, as [`crate::Provider::recover`] sees it.
#[derive(Clone, Debug)]
pub struct RecoverRequest {
    /// The resource.
    pub address: Address,
    /// The call that was interrupted or failed (always `Create` for
    /// [`RecoverCause::StateBehind`]).
    pub action: OpKind,
    /// Why.
    pub cause: RecoverCause,
    /// The ownership marker the object was (or would have been) stamped with.
    pub owner: Ownership,
    /// The known part of the resource's spec (references the state cannot
    /// resolve yet are left out); empty if the code no longer has it.
    pub desired: Attrs,
    /// What the provider claimed before the call (empty if it claimed
    /// nothing, or for [`RecoverCause::StateBehind`]).
    pub claim: Claim,
    /// Ids the state already records for objects of this kind: they are
    /// not candidates.
    pub known_ids: Vec<String>,
}

/// What [`crate::Provider::recover`] found and did.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    /// The objects the create made (usually none or one), to adopt.
    pub found: Vec<Observed>,
    /// What the provider did or saw, for the user ("waited for task
    /// UPID:...", "removed the half-made VM 105").
    pub notes: Vec<String>,
    /// The identity to reserve for the next create of this resource (the
    /// same VMID), when nothing was adopted. `None`: nothing to keep.
    pub keep: Option<Claim>,
    /// Set when the object is in a state only a person can resolve (a
    /// guest left locked by a crashed task): what to do. The claim is kept
    /// and the next run looks again.
    pub blocked: Option<String>,
}

impl Recovered {
    /// Found these objects.
    pub fn found(found: Vec<Observed>) -> Self {
        Recovered {
            found,
            ..Recovered::default()
        }
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}
