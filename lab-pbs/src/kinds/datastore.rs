//! `pbs.datastore`: a datastore on one server.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the server's address |
//! | `name` | `Str` | the store name (3-32 of `[A-Za-z0-9_][A-Za-z0-9._-]*`; lab also refuses `.`); forces replacement |
//! | `path` | `Str` | absolute path of the chunk store; forces replacement |
//! | `comment?` | `Str` | |
//! | `gc-schedule?`, `prune-schedule?` | `Str` | calendar events |
//! | `keep-last?` .. `keep-yearly?` | `Int` | the datastore's own retention (run by `prune-schedule`), each >= 1 |
//! | `verify-new?` | `Bool` | verify each new snapshot after upload |
//! | `appliance?` | `Str` | lab only: the appliance the path is on |
//! | `pool?` | `Str` | lab only: the `proxmox.nas-pool` the path is on (its appliance is the datastore's) |
//! | `capacity-gb?` | `Int` | lab only: the space the user says it has |
//!
//! Outputs ([`DatastoreOutputs`]): `name`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::{Request, Retention};

/// The spec of a `pbs.datastore`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DatastoreSpec {
    /// The server's address.
    pub server: String,
    /// The store name.
    pub name: String,
    /// The chunk store's absolute path.
    pub path: String,
    /// A comment.
    pub comment: Option<String>,
    /// When garbage collection runs.
    pub gc_schedule: Option<String>,
    /// When the datastore's own retention runs.
    pub prune_schedule: Option<String>,
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
    /// Verify new snapshots.
    pub verify_new: Option<bool>,
    /// The appliance the path is on.
    pub appliance: Option<String>,
    /// The NAS pool the path is on.
    pub pool: Option<String>,
    /// Capacity in GiB, as the user states it.
    pub capacity_gb: Option<i64>,
}

impl DatastoreSpec {
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

    /// `POST /config/datastore`.
    pub fn create_request(&self) -> Request {
        let mut r = Request::new("POST", "/config/datastore".into());
        r.put("name", &self.name);
        r.put("path", &self.path);
        r.put_opt("comment", self.comment.as_ref());
        r.put_opt("gc-schedule", self.gc_schedule.as_ref());
        r.put_opt("prune-schedule", self.prune_schedule.as_ref());
        self.retention().put_into(&mut r);
        r.put_opt("verify-new", self.verify_new);
        r
    }
}

/// The outputs of a datastore.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DatastoreOutputs {
    /// The store name.
    pub name: String,
}

impl Kind for DatastoreSpec {
    const KIND: &'static str = super::DATASTORE;
    type Outputs = DatastoreOutputs;

    /// The store name, on its server.
    fn identity(&self) -> Option<String> {
        Some(format!("datastore {}", self.name))
    }
}
