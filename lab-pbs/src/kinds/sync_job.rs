//! `pbs.sync_job`: pulls the snapshots of one datastore into another (the
//! daily copy, the archive copy), from a remote or, without one, from a
//! datastore of the same server.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the address of the server that runs the job (the target's) |
//! | `datastore` | `Str` | lab only: the target datastore's address |
//! | `source` | `Str` | lab only: the source datastore's address |
//! | `id` | `Str` | the job id (3-32); forces replacement |
//! | `store` | `Str` | the target store |
//! | `remote?` | `Str` | the remote's name; absent: a local sync |
//! | `remote-store` | `Str` | the source store |
//! | `ns?`, `remote-ns?` | `Ref(namespace#ns)` | target and source namespaces |
//! | `max-depth?` | `Int` | 0-7 levels below the namespace |
//! | `schedule?` | `Str` | calendar event; absent: only run by hand |
//! | `remove-vanished?` | `Bool` | remove what the source no longer has |
//! | `transfer-last?` | `Int` | only the last N snapshots of each group (>= 1) |
//! | `group-filter?` | `[Str]` | `type:vm`, `group:vm/100`, `regex:..`, each may start `exclude:`/`include:` |
//! | `comment?` | `Str` | |
//!
//! Outputs ([`super::JobOutputs`]): `id`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::Request;

/// The spec of a `pbs.sync_job`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SyncJobSpec {
    /// The server that runs it.
    pub server: String,
    /// The target datastore's address.
    pub datastore: String,
    /// The source datastore's address.
    pub source: String,
    /// The job id.
    pub id: String,
    /// The target store.
    pub store: String,
    /// The remote's name.
    pub remote: Option<String>,
    /// The source store.
    pub remote_store: String,
    /// The target namespace.
    pub ns: Option<String>,
    /// The source namespace.
    pub remote_ns: Option<String>,
    /// Levels below the namespace.
    pub max_depth: Option<i64>,
    /// When it runs.
    pub schedule: Option<String>,
    /// Remove what vanished from the source.
    pub remove_vanished: Option<bool>,
    /// Only the last N snapshots of each group.
    pub transfer_last: Option<i64>,
    /// Group filters.
    pub group_filter: Option<Vec<String>>,
    /// A comment.
    pub comment: Option<String>,
}

impl SyncJobSpec {
    /// `POST /config/sync` (a pull: PBS's default `sync-direction`).
    pub fn create_request(&self) -> Request {
        let mut r = Request::new("POST", "/config/sync".into());
        r.put("id", &self.id);
        r.put("store", &self.store);
        r.put_opt("remote", self.remote.as_ref());
        r.put("remote-store", &self.remote_store);
        r.put_opt("ns", self.ns.as_ref());
        r.put_opt("remote-ns", self.remote_ns.as_ref());
        r.put_opt("max-depth", self.max_depth);
        r.put_opt("schedule", self.schedule.as_ref());
        r.put_opt("remove-vanished", self.remove_vanished);
        r.put_opt("transfer-last", self.transfer_last);
        for f in self.group_filter.iter().flatten() {
            r.put("group-filter", f);
        }
        r.put_opt("comment", self.comment.as_ref());
        r
    }
}

impl Kind for SyncJobSpec {
    const KIND: &'static str = super::SYNC_JOB;
    type Outputs = super::JobOutputs;

    /// The job id, on its server.
    fn identity(&self) -> Option<String> {
        Some(format!("sync job {}", self.id))
    }
}
