//! `pbs.prune_job`: applies a retention to a datastore (or a namespace of
//! it) on a schedule. PBS requires the schedule; without any `keep-*` PBS
//! keeps every snapshot (`pbs::prune-keeps-all`).
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the server's address |
//! | `datastore` | `Str` | lab only: the datastore's address |
//! | `id` | `Str` | the job id (3-32); forces replacement |
//! | `store` | `Str` | |
//! | `schedule` | `Str` | calendar event (required by PBS) |
//! | `ns?` | `Ref(namespace#ns)` | |
//! | `max-depth?` | `Int` | 0-7 |
//! | `keep-last?` .. `keep-yearly?` | `Int` | each >= 1 |
//! | `comment?` | `Str` | |
//!
//! Outputs ([`super::JobOutputs`]): `id`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::{Request, Retention};

/// The spec of a `pbs.prune_job`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PruneJobSpec {
    /// The server's address.
    pub server: String,
    /// The datastore's address.
    pub datastore: String,
    /// The job id.
    pub id: String,
    /// The store.
    pub store: String,
    /// When it runs.
    pub schedule: String,
    /// The namespace.
    pub ns: Option<String>,
    /// Levels below the namespace.
    pub max_depth: Option<i64>,
    /// `keep-last`.
    pub keep_last: Option<i64>,
    /// `keep-hourly`.
    pub keep_hourly: Option<i64>,
    /// `keep-daily`.
    pub keep_daily: Option<i64>,
    /// `keep-weekly`.
    pub keep_weekly: Option<i64>,
    /// `keep-monthly`.
    pub keep_monthly: Option<i64>,
    /// `keep-yearly`.
    pub keep_yearly: Option<i64>,
    /// A comment.
    pub comment: Option<String>,
}

impl PruneJobSpec {
    /// Its retention.
    pub fn retention(&self) -> Retention {
        Retention {
            keep_last: self.keep_last,
            keep_hourly: self.keep_hourly,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            keep_yearly: self.keep_yearly,
        }
    }

    /// `POST /config/prune`.
    pub fn create_request(&self) -> Request {
        let mut r = Request::new("POST", "/config/prune".into());
        r.put("id", &self.id);
        r.put("store", &self.store);
        r.put("schedule", &self.schedule);
        r.put_opt("ns", self.ns.as_ref());
        r.put_opt("max-depth", self.max_depth);
        self.retention().put_into(&mut r);
        r.put_opt("comment", self.comment.as_ref());
        r
    }
}

impl Kind for PruneJobSpec {
    const KIND: &'static str = super::PRUNE_JOB;
    type Outputs = super::JobOutputs;

    /// The job id, on its server.
    fn identity(&self) -> Option<String> {
        Some(format!("prune job {}", self.id))
    }
}
