//! `proxmox.storage` (managed): a storage the lab creates, of type `nfs`
//! (mounted from a NAS pool) or `pbs` (a Proxmox Backup Server datastore).
//! One kind for both, so guests' disks and backup jobs take one
//! `Handle<Storage>`; the fields of the other type are absent.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `storage` | `Str` | the storage id; forces replacement |
//! | `type` | `"nfs"` \| `"pbs"` | forces replacement |
//! | `server` | `Str` (NFS: `Ref(nas-pool#server)`) | NFS server, or PBS host; forces replacement |
//! | `export?` | `Str` (`Ref(nas-pool#export)`) | NFS only; forces replacement |
//! | `content` | `[Str]` | sorted; PBS: `["backup"]` |
//! | `options?` | `Str` | NFS mount options |
//! | `nodes?` | `[Str]` | the nodes it is available on (absent: all) |
//! | `datastore?` | `Str` | PBS only; the PBS datastore (fixed: forces replacement) |
//! | `namespace?` | `Str` | PBS only; the namespace in the datastore (absent: the root) |
//! | `port?` | `Int` | PBS only; absent: 8007 |
//! | `username?` | `Str` | PBS only; the token id `user@realm!name` |
//! | `password?` | `Secret` | PBS only; the token secret. PVE never returns it: the read keeps the recorded one, so a changed secret is an update and nothing is drift |
//! | `fingerprint?` | `Str` | PBS only; SHA-256 of the PBS certificate, `AA:BB:..` |
//! | `encryption_key?` | `Secret` | PBS only; `autogen` or the key JSON; never returned (kept as recorded) |
//! | `prune_backups?` | [`Retention`] | retention applied after each backup |
//! | `pool?` | `Str` | NFS: the NAS pool's address (for the failure-domain checks); ignored by the diff |
//! | `appliance?` | `Str` | ignored by the diff |
//! | `pbs_datastore?` | `Str` | PBS: the lab's `pbs.datastore` address it reads (lab-pbs's `PveStorage` sets it), for the failure-domain analysis; ignored by the diff |
//!
//! Outputs ([`StorageOutputs`]): `storage`.

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::Retention;

/// The spec of a managed `proxmox.storage`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// The storage id.
    pub storage: String,
    /// The storage type (`nfs` or `pbs`).
    #[serde(rename = "type")]
    pub r#type: String,
    /// NFS server, or the PBS host.
    pub server: String,
    /// NFS export.
    pub export: Option<String>,
    /// Content types.
    pub content: Vec<String>,
    /// Mount options.
    pub options: Option<String>,
    /// Nodes it is available on.
    pub nodes: Option<Vec<String>>,
    /// PBS datastore.
    pub datastore: Option<String>,
    /// PBS namespace.
    pub namespace: Option<String>,
    /// PBS port (8007 when absent).
    pub port: Option<i64>,
    /// PBS token id (`user@realm!name`).
    pub username: Option<String>,
    /// PBS token secret.
    pub password: Option<Secret>,
    /// PBS certificate fingerprint.
    pub fingerprint: Option<String>,
    /// PBS client-side encryption key (`autogen` or the key's JSON).
    pub encryption_key: Option<Secret>,
    /// Retention (`prune-backups`).
    pub prune_backups: Option<Retention>,
    /// The NAS pool's address.
    pub pool: Option<String>,
    /// The appliance holding it.
    pub appliance: Option<String>,
    /// PBS: the address of the lab's `pbs.datastore` it reads (set by
    /// lab-pbs's typed builder, for the failure-domain analysis).
    pub pbs_datastore: Option<String>,
}

impl StorageSpec {
    /// Whether this is a Proxmox Backup Server storage.
    pub fn is_pbs(&self) -> bool {
        self.r#type == "pbs"
    }
}

/// The outputs of a storage.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StorageOutputs {
    /// The storage id.
    pub storage: String,
}

impl Kind for StorageSpec {
    const KIND: &'static str = super::STORAGE;
    type Outputs = StorageOutputs;

    /// The storage id, cluster-wide.
    fn identity(&self) -> Option<String> {
        Some(format!("storage {}", self.storage))
    }
}
