//! The answers of the PBS API as serde types.
//!
//! Decoding is lenient where PBS (or a proxy in front of it) is: numbers
//! and booleans may come as strings or `0`/`1`, optional fields go missing,
//! a snapshot's `files` are objects (`{filename, size, crypt-mode}`) in
//! newer releases and bare names in older ones. Unknown fields are ignored
//! (PBS adds fields between releases).

use lab_core::Secret;
use lab_proxmox::api::lenient::{
    as_string_lenient, de_bool, de_i64, de_opt_bool, de_opt_i64, de_opt_string, de_opt_u64,
    de_string, de_u64,
};
pub use lab_proxmox::api::{TaskStatus, Version};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The retention options shared by datastores and prune jobs
/// (`keep-last`, `keep-hourly`, ... `keep-yearly`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct KeepOptions {
    /// Keep the last n snapshots.
    #[serde(
        default,
        deserialize_with = "de_opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_last: Option<u64>,
    /// Keep the last one of each of the last n hours.
    #[serde(
        default,
        deserialize_with = "de_opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_hourly: Option<u64>,
    /// ... days.
    #[serde(
        default,
        deserialize_with = "de_opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_daily: Option<u64>,
    /// ... ISO weeks.
    #[serde(
        default,
        deserialize_with = "de_opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_weekly: Option<u64>,
    /// ... months.
    #[serde(
        default,
        deserialize_with = "de_opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_monthly: Option<u64>,
    /// ... years.
    #[serde(
        default,
        deserialize_with = "de_opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_yearly: Option<u64>,
}

impl KeepOptions {
    /// True when some option is set (PBS keeps everything otherwise).
    pub fn keeps_something(&self) -> bool {
        [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ]
        .iter()
        .any(|k| k.is_some_and(|n| n > 0))
    }

    /// The options as form pairs (`keep-last=3`, ...), unset ones left out.
    pub fn pairs(&self) -> Vec<(&'static str, u64)> {
        [
            ("keep-last", self.keep_last),
            ("keep-hourly", self.keep_hourly),
            ("keep-daily", self.keep_daily),
            ("keep-weekly", self.keep_weekly),
            ("keep-monthly", self.keep_monthly),
            ("keep-yearly", self.keep_yearly),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
}

/// An item of `GET /nodes/{node}/certificates/info`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct CertificateInfo {
    /// `proxy.pem`, ...
    #[serde(default, deserialize_with = "de_string")]
    pub filename: String,
    /// SHA-256 fingerprint, `AA:BB:...`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub fingerprint: Option<String>,
    /// The certificate's subject.
    #[serde(default, deserialize_with = "de_string")]
    pub subject: String,
    /// The issuer.
    #[serde(default, deserialize_with = "de_string")]
    pub issuer: String,
    /// Not valid after (unix seconds).
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub notafter: Option<i64>,
    /// Subject alternative names.
    #[serde(default)]
    pub san: Vec<String>,
}

/// A datastore's configuration (`GET /config/datastore[/{name}]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DatastoreConfig {
    /// The datastore name.
    #[serde(deserialize_with = "de_string")]
    pub name: String,
    /// Absolute path of the datastore's directory.
    #[serde(default, deserialize_with = "de_string")]
    pub path: String,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
    /// GC schedule (calendar event).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub gc_schedule: Option<String>,
    /// Prune schedule (deprecated in favour of prune jobs).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub prune_schedule: Option<String>,
    /// Retention (deprecated on the datastore; prune jobs carry it).
    #[serde(flatten)]
    pub keep: KeepOptions,
    /// Verify new snapshots right after their backup.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub verify_new: Option<bool>,
    /// `legacy-sendmail` or `notification-system`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub notification_mode: Option<String>,
    /// The config digest.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub digest: Option<String>,
}

/// An item of `GET /admin/datastore` (what the token may see).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DatastoreListItem {
    /// The datastore name.
    #[serde(deserialize_with = "de_string")]
    pub store: String,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
    /// Maintenance mode, if any.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub maintenance: Option<String>,
}

/// `GET /admin/datastore/{store}/status`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DatastoreStatus {
    /// Total bytes.
    #[serde(default, deserialize_with = "de_u64")]
    pub total: u64,
    /// Used bytes.
    #[serde(default, deserialize_with = "de_u64")]
    pub used: u64,
    /// Available bytes.
    #[serde(default, deserialize_with = "de_u64")]
    pub avail: u64,
    /// Group and snapshot counts per type (`verbose=1`).
    #[serde(default)]
    pub counts: Option<Value>,
    /// The last GC's result (`verbose=1`).
    #[serde(default)]
    pub gc_status: Option<GcStatus>,
}

/// A file of a snapshot (`index.json.blob`, `drive-scsi0.img.fidx`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotFile {
    /// The archive name.
    pub filename: String,
    /// Its size in bytes, when PBS says.
    pub size: Option<u64>,
}

impl<'de> Deserialize<'de> for SnapshotFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::String(s) => Ok(SnapshotFile {
                filename: s.clone(),
                size: None,
            }),
            Value::Object(m) => Ok(SnapshotFile {
                filename: m
                    .get("filename")
                    .and_then(as_string_lenient)
                    .ok_or_else(|| serde::de::Error::missing_field("filename"))?,
                size: m
                    .get("size")
                    .and_then(lab_proxmox::api::lenient::as_u64_lenient),
            }),
            _ => Err(serde::de::Error::custom(format!(
                "a snapshot file is a name or an object, got {v}"
            ))),
        }
    }
}

/// A snapshot's verification result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Verification {
    /// `ok` or `failed`.
    #[serde(default, deserialize_with = "de_string")]
    pub state: String,
    /// The verify task.
    #[serde(default, deserialize_with = "de_string")]
    pub upid: String,
}

/// An item of `GET /admin/datastore/{store}/snapshots`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotInfo {
    /// `vm`, `ct` or `host`.
    #[serde(deserialize_with = "de_string")]
    pub backup_type: String,
    /// The group's id (a VMID for guests).
    #[serde(deserialize_with = "de_string")]
    pub backup_id: String,
    /// The snapshot time, unix seconds.
    #[serde(deserialize_with = "de_i64")]
    pub backup_time: i64,
    /// The archives.
    #[serde(default)]
    pub files: Vec<SnapshotFile>,
    /// Total size in bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub size: Option<u64>,
    /// The group's owner (auth id).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub owner: Option<String>,
    /// The last verification.
    #[serde(default)]
    pub verification: Option<Verification>,
    /// Protected from prune.
    #[serde(default, deserialize_with = "de_bool")]
    pub protected: bool,
    /// The first line of the notes.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
}

/// An item of `GET /admin/datastore/{store}/groups`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct GroupInfo {
    /// `vm`, `ct` or `host`.
    #[serde(deserialize_with = "de_string")]
    pub backup_type: String,
    /// The group's id.
    #[serde(deserialize_with = "de_string")]
    pub backup_id: String,
    /// The newest snapshot's time.
    #[serde(default, deserialize_with = "de_i64")]
    pub last_backup: i64,
    /// How many snapshots.
    #[serde(default, deserialize_with = "de_u64")]
    pub backup_count: u64,
    /// The newest snapshot's archive names.
    #[serde(default)]
    pub files: Vec<String>,
    /// The owner.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub owner: Option<String>,
    /// The group comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
}

/// An item of `GET /admin/datastore/{store}/namespace`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct NamespaceInfo {
    /// The namespace path (`a/b`; the root is the empty string).
    #[serde(default, deserialize_with = "de_string")]
    pub ns: String,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
}

/// `GET /admin/datastore/{store}/gc` (and the `gc-status` of a status).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct GcStatus {
    /// The task of the last run.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub upid: Option<String>,
    /// Bytes removed by the last run.
    #[serde(default, deserialize_with = "de_u64")]
    pub removed_bytes: u64,
    /// Chunks removed.
    #[serde(default, deserialize_with = "de_u64")]
    pub removed_chunks: u64,
    /// Bytes that become removable on the next run (the grace period).
    #[serde(default, deserialize_with = "de_u64")]
    pub pending_bytes: u64,
    /// Chunks pending.
    #[serde(default, deserialize_with = "de_u64")]
    pub pending_chunks: u64,
    /// Bytes of chunks on disk after the run.
    #[serde(default, deserialize_with = "de_u64")]
    pub disk_bytes: u64,
    /// Chunks on disk after the run.
    #[serde(default, deserialize_with = "de_u64")]
    pub disk_chunks: u64,
}

/// A remote (`GET /config/remote[/{name}]`); the password is never read
/// back.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RemoteConfig {
    /// The remote's name.
    #[serde(deserialize_with = "de_string")]
    pub name: String,
    /// Host name or address.
    #[serde(default, deserialize_with = "de_string")]
    pub host: String,
    /// Port (8007 when unset).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub port: Option<u64>,
    /// The auth id used there.
    #[serde(default, deserialize_with = "de_string")]
    pub auth_id: String,
    /// The remote's certificate fingerprint.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub fingerprint: Option<String>,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
}

/// A sync job (`GET /config/sync[/{id}]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SyncJobConfig {
    /// Job id.
    #[serde(deserialize_with = "de_string")]
    pub id: String,
    /// The local datastore.
    #[serde(deserialize_with = "de_string")]
    pub store: String,
    /// The local namespace.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub ns: Option<String>,
    /// The remote (none: a local sync).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub remote: Option<String>,
    /// The datastore read from.
    #[serde(deserialize_with = "de_string")]
    pub remote_store: String,
    /// The namespace read from.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub remote_ns: Option<String>,
    /// How deep below the namespace.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub max_depth: Option<u64>,
    /// Calendar event.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub schedule: Option<String>,
    /// Remove what vanished from the source.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub remove_vanished: Option<bool>,
    /// Copy only the last n snapshots of each group.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub transfer_last: Option<u64>,
    /// The local owner of synced groups.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub owner: Option<String>,
    /// Group filters.
    #[serde(default)]
    pub group_filter: Vec<String>,
    /// `pull` or `push`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub sync_direction: Option<String>,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
}

/// A prune job (`GET /config/prune[/{id}]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PruneJobConfig {
    /// Job id.
    #[serde(deserialize_with = "de_string")]
    pub id: String,
    /// The datastore.
    #[serde(deserialize_with = "de_string")]
    pub store: String,
    /// The namespace.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub ns: Option<String>,
    /// How deep below it.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub max_depth: Option<u64>,
    /// Calendar event.
    #[serde(default, deserialize_with = "de_string")]
    pub schedule: String,
    /// Disabled.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub disable: Option<bool>,
    /// Retention.
    #[serde(flatten)]
    pub keep: KeepOptions,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
}

/// A verify job (`GET /config/verify[/{id}]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyJobConfig {
    /// Job id.
    #[serde(deserialize_with = "de_string")]
    pub id: String,
    /// The datastore.
    #[serde(deserialize_with = "de_string")]
    pub store: String,
    /// The namespace.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub ns: Option<String>,
    /// How deep below it.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub max_depth: Option<u64>,
    /// Calendar event.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub schedule: Option<String>,
    /// Skip snapshots already verified.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub ignore_verified: Option<bool>,
    /// Days after which a verification is outdated.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub outdated_after: Option<u64>,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
}

/// An item of `GET /access/users`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct UserInfo {
    /// `name@realm`.
    #[serde(deserialize_with = "de_string")]
    pub userid: String,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
    /// Enabled (PBS leaves it out when true).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub enable: Option<bool>,
    /// Expiry (unix seconds, 0 = never).
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub expire: Option<i64>,
}

/// An item of `GET /access/users/{userid}/token`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct TokenInfo {
    /// `user@realm!name`.
    #[serde(deserialize_with = "de_string")]
    pub tokenid: String,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comment: Option<String>,
    /// Enabled.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub enable: Option<bool>,
    /// Expiry.
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub expire: Option<i64>,
}

/// A token just created: its secret is shown this once.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// `user@realm!name`.
    pub tokenid: String,
    /// The secret (PBS keeps only a hash).
    pub value: Secret,
}

/// An item of `GET /access/acl`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AclEntry {
    /// `/datastore/<store>[/<ns>]`, `/remote/<name>`, `/`, ...
    #[serde(deserialize_with = "de_string")]
    pub path: String,
    /// The user, token or group.
    #[serde(deserialize_with = "de_string")]
    pub ugid: String,
    /// `user` or `group`.
    #[serde(default, deserialize_with = "de_string")]
    pub ugid_type: String,
    /// The role.
    #[serde(deserialize_with = "de_string")]
    pub roleid: String,
    /// Whether it applies below `path` too.
    #[serde(default, deserialize_with = "de_bool")]
    pub propagate: bool,
}

/// One task of `GET /nodes/{node}/tasks`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TaskListItem {
    /// The task's id.
    pub upid: String,
    /// Its worker type (`create-datastore`, `syncjob`, ...).
    #[serde(default, deserialize_with = "de_string")]
    pub worker_type: String,
    /// Its worker id (the datastore, the job), if it has one.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub worker_id: Option<String>,
    /// Its end status; absent while it runs.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub status: Option<String>,
}
