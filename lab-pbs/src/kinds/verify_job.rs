//! `pbs.verify_job`: re-reads snapshots and checks their chunks.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the server's address |
//! | `datastore` | `Str` | lab only: the datastore's address |
//! | `id` | `Str` | the job id (3-32); forces replacement |
//! | `store` | `Str` | |
//! | `schedule?` | `Str` | calendar event; absent: only run by hand |
//! | `ns?` | `Ref(namespace#ns)` | |
//! | `max-depth?` | `Int` | 0-7 (PBS's default 7) |
//! | `ignore-verified?` | `Bool` | skip snapshots verified within `outdated-after` (PBS's default: true) |
//! | `outdated-after?` | `Int` | days after which a verification is stale |
//! | `comment?` | `Str` | |
//!
//! Outputs ([`super::JobOutputs`]): `id`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::Request;

/// The spec of a `pbs.verify_job`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VerifyJobSpec {
    /// The server's address.
    pub server: String,
    /// The datastore's address.
    pub datastore: String,
    /// The job id.
    pub id: String,
    /// The store.
    pub store: String,
    /// When it runs.
    pub schedule: Option<String>,
    /// The namespace.
    pub ns: Option<String>,
    /// Levels below the namespace.
    pub max_depth: Option<i64>,
    /// Skip recently verified snapshots.
    pub ignore_verified: Option<bool>,
    /// Days after which a verification is stale.
    pub outdated_after: Option<i64>,
    /// A comment.
    pub comment: Option<String>,
}

impl VerifyJobSpec {
    /// `POST /config/verify`.
    pub fn create_request(&self) -> Request {
        let mut r = Request::new("POST", "/config/verify".into());
        r.put("id", &self.id);
        r.put("store", &self.store);
        r.put_opt("schedule", self.schedule.as_ref());
        r.put_opt("ns", self.ns.as_ref());
        r.put_opt("max-depth", self.max_depth);
        r.put_opt("ignore-verified", self.ignore_verified);
        r.put_opt("outdated-after", self.outdated_after);
        r.put_opt("comment", self.comment.as_ref());
        r
    }
}

impl Kind for VerifyJobSpec {
    const KIND: &'static str = super::VERIFY_JOB;
    type Outputs = super::JobOutputs;

    /// The job id, on its server.
    fn identity(&self) -> Option<String> {
        Some(format!("verify job {}", self.id))
    }
}
