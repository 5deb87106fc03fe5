//! What a simulated PBS holds: datastores with their namespaces and backup
//! groups, remotes, jobs, users, tokens, ACLs and tasks. Serialisable, so
//! the simulator persists it whole (0600, atomic) after every change.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One archive of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    /// `qemu-server.conf.blob`, `drive-scsi0.img.fidx`, ...
    pub filename: String,
    /// Bytes.
    pub size: u64,
}

/// A snapshot: one backup of a group at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Unix seconds.
    pub time: i64,
    /// The archives.
    pub files: Vec<File>,
    /// The guest's config text as vzdump stored it.
    pub guest_config: String,
    /// Notes (the first line is the listing's `comment`).
    pub notes: Option<String>,
    /// Protected from prune.
    pub protected: bool,
    /// `(state, upid)` of the last verification.
    pub verification: Option<(String, String)>,
    /// When its chunks were last touched (written, or marked by a GC):
    /// what garbage collection's grace period is measured from.
    pub touched: i64,
}

impl Snapshot {
    /// The sum of the archive sizes.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// A backup group: `<type>/<id>` in a namespace, with its owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Namespace path (`""` for the root).
    pub ns: String,
    /// `vm`, `ct` or `host`.
    pub backup_type: String,
    /// The id (a VMID for guests).
    pub backup_id: String,
    /// The owning auth id.
    pub owner: String,
    /// By time.
    pub snapshots: BTreeMap<i64, Snapshot>,
}

/// Chunks no snapshot references any more, waiting for garbage collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Garbage {
    /// Bytes.
    pub bytes: u64,
    /// When last touched (see [`Snapshot::touched`]).
    pub touched: i64,
}

/// The result of the last garbage collection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcResult {
    /// Its task.
    pub upid: Option<String>,
    /// Bytes removed.
    pub removed_bytes: u64,
    /// Bytes still inside the grace period.
    pub pending_bytes: u64,
    /// Bytes on disk after the run.
    pub disk_bytes: u64,
    /// When it ended.
    pub endtime: Option<i64>,
    /// `OK` or the error.
    pub state: Option<String>,
}

/// A datastore: its configuration (as PBS returns it) and contents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Datastore {
    /// The configuration properties (`name`, `path`, `comment`,
    /// `gc-schedule`, `keep-*`, ...), as PBS lists them.
    pub config: Map<String, Value>,
    /// Namespaces below the root (`a`, `a/b`).
    pub namespaces: BTreeSet<String>,
    /// Backup groups.
    pub groups: Vec<Group>,
    /// Unreferenced chunks.
    pub garbage: Vec<Garbage>,
    /// The last GC.
    pub gc: GcResult,
    /// Total bytes of the filesystem under it.
    pub total: u64,
}

impl Datastore {
    /// The group `<type>/<id>` in `ns`.
    pub fn group(&self, ns: &str, backup_type: &str, backup_id: &str) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.ns == ns && g.backup_type == backup_type && g.backup_id == backup_id)
    }

    /// Mutable [`Datastore::group`].
    pub fn group_mut(
        &mut self,
        ns: &str,
        backup_type: &str,
        backup_id: &str,
    ) -> Option<&mut Group> {
        self.groups
            .iter_mut()
            .find(|g| g.ns == ns && g.backup_type == backup_type && g.backup_id == backup_id)
    }

    /// Whether the namespace exists (the root always does).
    pub fn has_ns(&self, ns: &str) -> bool {
        ns.is_empty() || self.namespaces.contains(ns)
    }

    /// Bytes in live snapshots.
    pub fn live_bytes(&self) -> u64 {
        self.groups
            .iter()
            .flat_map(|g| g.snapshots.values())
            .map(Snapshot::size)
            .sum()
    }

    /// Bytes used on disk: live snapshots plus garbage not yet collected.
    pub fn used(&self) -> u64 {
        self.live_bytes() + self.garbage.iter().map(|g| g.bytes).sum::<u64>()
    }

    /// Removes a snapshot; its chunks become garbage.
    pub fn remove_snapshot(&mut self, ns: &str, backup_type: &str, backup_id: &str, time: i64) {
        let Some(g) = self.group_mut(ns, backup_type, backup_id) else {
            return;
        };
        if let Some(s) = g.snapshots.remove(&time) {
            let garbage = Garbage {
                bytes: s.size(),
                touched: s.touched,
            };
            self.garbage.push(garbage);
        }
    }

    /// Drops groups that have no snapshot left.
    pub fn drop_empty_groups(&mut self) {
        self.groups.retain(|g| !g.snapshots.is_empty());
    }
}

/// A remote PBS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    /// The configuration as listed (no password).
    pub config: Map<String, Value>,
    /// The token secret used there (kept in the 0600 state file, as PBS
    /// keeps it in `remote.cfg`; never listed).
    pub password: String,
}

/// A user (`name@realm`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The configuration as listed (`userid`, `comment`, `enable`, ...).
    pub config: Map<String, Value>,
}

/// An API token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// The configuration as listed (`tokenid`, `comment`, `enable`,
    /// `expire`).
    pub config: Map<String, Value>,
    /// The secret (PBS keeps a hash; the simulator's state file is 0600).
    pub secret: String,
}

/// One ACL entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// `/`, `/datastore/<store>[/<ns>...]`, `/remote/<name>`, ...
    pub path: String,
    /// The user or token.
    pub ugid: String,
    /// The role.
    pub role: String,
    /// Applies below `path` too.
    pub propagate: bool,
}

/// A task (worker) and its log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The 9-field UPID.
    pub upid: String,
    /// Worker type.
    pub worker_type: String,
    /// Worker id, unescaped.
    pub worker_id: Option<String>,
    /// Who started it.
    pub auth_id: String,
    /// Start, unix seconds.
    pub starttime: i64,
    /// End, once stopped.
    pub endtime: Option<i64>,
    /// `OK`, `WARNINGS: n` or the error text, once stopped.
    pub exitstatus: Option<String>,
    /// The log lines.
    pub log: Vec<String>,
}

/// Everything the simulated server holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// Datastores by name.
    pub datastores: BTreeMap<String, Datastore>,
    /// Remotes by name.
    pub remotes: BTreeMap<String, Remote>,
    /// Sync jobs by id (their configuration properties).
    pub sync_jobs: BTreeMap<String, Map<String, Value>>,
    /// Prune jobs by id.
    pub prune_jobs: BTreeMap<String, Map<String, Value>>,
    /// Verify jobs by id.
    pub verify_jobs: BTreeMap<String, Map<String, Value>>,
    /// Users by id.
    pub users: BTreeMap<String, User>,
    /// Tokens by full id (`user@realm!name`).
    pub tokens: BTreeMap<String, Token>,
    /// ACL entries.
    pub acl: Vec<Acl>,
    /// Tasks, oldest first.
    pub tasks: Vec<Task>,
    /// The next task number.
    pub next_task: u64,
}
