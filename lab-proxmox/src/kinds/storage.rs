//! `proxmox.storage` (NFS, managed): a storage the cluster mounts.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `storage` | `Str` | the storage id; forces replacement |
//! | `type` | `"nfs"` | forces replacement |
//! | `server`, `export` | `Ref(nas-pool#server)`, `Ref(nas-pool#export)` | force replacement |
//! | `content` | `[Str]` | sorted |
//! | `options?` | `Str` | mount options |
//! | `nodes?` | `[Str]` | the nodes it is available on (absent: all) |
//! | `pool?` | `Str` | the NAS pool's address (for the failure-domain checks); ignored by the diff |
//! | `appliance?` | `Str` | ignored by the diff |
//!
//! Outputs ([`StorageOutputs`]): `storage`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

/// The spec of a managed `proxmox.storage`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// The storage id.
    pub storage: String,
    /// The storage type (`nfs`).
    #[serde(rename = "type")]
    pub r#type: String,
    /// NFS server.
    pub server: String,
    /// NFS export.
    pub export: String,
    /// Content types.
    pub content: Vec<String>,
    /// Mount options.
    pub options: Option<String>,
    /// Nodes it is available on.
    pub nodes: Option<Vec<String>>,
    /// The NAS pool's address.
    pub pool: Option<String>,
    /// The appliance holding it.
    pub appliance: Option<String>,
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
