//! `proxmox.backup_job`: a scheduled backup job of the cluster
//! (`/cluster/backup`), the job PVE's scheduler runs as `vzdump`.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `id` | `Str` | the job id (always sent: without it PVE makes up a UUID); forces replacement |
//! | `schedule` | `Str` | calendar event (`sun 01:00`, `*-*-* 02:30`), checked with [`crate::schedule::CalendarEvent`] |
//! | `storage` | `Str` | the target storage's id (a `Handle<Storage>` edge) |
//! | `vmids?` | `[Int]` | the guests selected by handle (`Ref(guest#vmid)` until they exist), sorted; exclusive with `all` and `pool` |
//! | `all?` | `Bool` | every guest (of `node`, when given) |
//! | `exclude?` | `[Int]` | with `all` or `pool`: the guests left out, sorted |
//! | `pool?` | `Str` | every guest of this resource pool (a `Handle<Pool>` edge) |
//! | `node?` | `Str` | only guests on this node |
//! | `mode?` | `"snapshot"` \| `"suspend"` \| `"stop"` | absent: `snapshot` |
//! | `compress?` | `"0"` \| `"1"` \| `"gzip"` \| `"lzo"` \| `"zstd"` | ignored by PBS storages |
//! | `enabled` | `Bool` | |
//! | `prune_backups?` | [`Retention`] | retention applied after the job (absent: the storage's) |
//! | `notes_template?` | `Str` | notes of each backup (`{{guestname}}`, `{{vmid}}`, `{{node}}`, `{{cluster}}`) |
//! | `comment?` | `Str` | the user's comment; PVE's `comment` also carries the lab's ownership marker on its last line, which the read strips |
//!
//! Outputs ([`BackupJobOutputs`]): `id`.
//!
//! PVE 9.1's `/cluster/backup` has no selection by tag (the apidoc lists
//! `vmid`, `all`, `pool`, `exclude`, `node` only), so neither has this kind.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::Retention;

/// The spec of a `proxmox.backup_job`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupJobSpec {
    /// The job id.
    pub id: String,
    /// The calendar event.
    pub schedule: String,
    /// The target storage id.
    pub storage: String,
    /// Guests selected by VMID.
    pub vmids: Option<Vec<i64>>,
    /// Every guest.
    pub all: Option<bool>,
    /// Guests left out of `all` or `pool`.
    pub exclude: Option<Vec<i64>>,
    /// Every guest of this pool.
    pub pool: Option<String>,
    /// Only guests on this node.
    pub node: Option<String>,
    /// `snapshot`, `suspend` or `stop`.
    pub mode: Option<String>,
    /// Compression.
    pub compress: Option<String>,
    /// Whether the scheduler runs it.
    pub enabled: bool,
    /// Retention.
    pub prune_backups: Option<Retention>,
    /// Notes template.
    pub notes_template: Option<String>,
    /// The user's comment.
    pub comment: Option<String>,
}

/// The outputs of a backup job.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BackupJobOutputs {
    /// The job id.
    pub id: String,
}

impl Kind for BackupJobSpec {
    const KIND: &'static str = super::BACKUP_JOB;
    type Outputs = BackupJobOutputs;

    /// The job id, cluster-wide.
    fn identity(&self) -> Option<String> {
        Some(format!("backup job {}", self.id))
    }
}
