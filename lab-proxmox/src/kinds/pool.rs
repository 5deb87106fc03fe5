//! `proxmox.pool`: a resource pool.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `poolid` | `Str` | forces replacement |
//! | `comment?` | `Str` | in place |
//!
//! Outputs ([`PoolOutputs`]): `poolid`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

/// The spec of a `proxmox.pool`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// The pool id.
    pub poolid: String,
    /// Its comment.
    pub comment: Option<String>,
}

/// The outputs of a pool.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PoolOutputs {
    /// The pool id.
    pub poolid: String,
}

impl Kind for PoolSpec {
    const KIND: &'static str = super::POOL;
    type Outputs = PoolOutputs;

    /// The pool id, cluster-wide.
    fn identity(&self) -> Option<String> {
        Some(format!("pool {}", self.poolid))
    }
}
