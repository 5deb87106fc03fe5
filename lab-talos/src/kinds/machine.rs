//! `talos.machine` (named after the node): one node's machine config,
//! applied over the Talos API.
//!
//! | attributes | outputs |
//! |---|---|
//! | `cluster: Str`, `role: Str` (`"controlplane"`/`"worker"`), `address: Str` (the node's IP without prefix, where apid listens on :50000), `config: Map` (generation inputs, see [`super::config`]), `secrets: Ref(talos.secrets.<c>#bundle)`, `vm?: Ref(proxmox.vm.<n>#vmid)` (forces replacement), `version?: Str` (the Talos version it runs, `v1.13.9`; read back from the node, a change upgrades it) | `config_sha256: Str`, `talos_version: Str` |

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::config::{ConfigSpec, RoleName};
use super::MACHINE;
use crate::config::Role;

/// The spec of a `talos.machine`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineSpec {
    /// The cluster's name.
    pub cluster: String,
    /// `controlplane` or `worker`.
    #[serde(with = "RoleName")]
    pub role: Role,
    /// The node's IP (no prefix): where the Talos API is dialled.
    pub address: String,
    /// The generation inputs of the node's machine config.
    pub config: ConfigSpec,
    /// The cluster's bundle (`talos.secrets.<cluster>#bundle`).
    pub secrets: Secret,
    /// The VMID of the VM the node runs in (`proxmox.vm.<node>#vmid`).
    pub vm: Option<i64>,
    /// The Talos version the node runs (read back from the node).
    pub version: Option<String>,
}

/// The outputs of a `talos.machine`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineOut {
    /// SHA-256 (lowercase hex) of the rendered machine config.
    pub config_sha256: String,
    /// The Talos version the node answered with.
    pub talos_version: String,
}

impl Kind for MachineSpec {
    const KIND: &'static str = MACHINE;
    type Outputs = MachineOut;
}
