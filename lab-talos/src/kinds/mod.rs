//! The contract between the typed builders ([`crate::model`]) and the Talos
//! provider: the resource kinds, each a spec and its outputs as serde types
//! ([`lab_core::kind::Kind`]), one file per kind.
//!
//! Conventions (as in `lab_proxmox::kinds`): optional fields are absent
//! rather than `Null`, empty lists and `false` flags are left out, so an
//! unchanged lab diffs as no changes and a new option does not show up as a
//! change on every existing machine. Every spec refuses unknown fields, so a
//! builder/provider mismatch is a `check` error (`core::spec-mismatch`) at
//! the line that set the field.
//!
//! | kind | name | spec | outputs |
//! |---|---|---|---|
//! | `talos.secrets` | cluster name | [`SecretsSpec`] | [`SecretsOut`] |
//! | `talos.machine` | node name | [`MachineSpec`] (its `config`: [`ConfigSpec`]) | [`MachineOut`] |
//! | `talos.cluster` | cluster name | [`ClusterSpec`] | [`ClusterOut`] |
//! | `talos.schematic` | cluster name | [`SchematicSpec`] | [`SchematicOut`] |
//! | `talos.workload` | workload name | [`WorkloadSpec`] | [`WorkloadOut`] |
//!
//! `talos.workload` is applied by its own provider,
//! [`crate::provider::WorkloadFolder`] (manifests in a folder for GitOps),
//! not by the Talos provider.

mod cluster;
pub mod config;
mod machine;
mod schematic;
mod secrets;
mod workload;

pub use cluster::{ClusterOut, ClusterSpec};
pub use config::{
    config_inputs, config_value, ClusterConfig, CniConfig, ConfigSpec, MirrorConfig, NetworkConfig,
    NodeConfig, VipConfig,
};
pub use machine::{MachineOut, MachineSpec};
pub use schematic::{SchematicOut, SchematicSpec, SchematicYaml};
pub use secrets::{SecretsOut, SecretsSpec};
pub use workload::{
    NfsVolume, WorkloadEnv, WorkloadOut, WorkloadPort, WorkloadSpec, FILES_AS_GENERATED,
};

use crate::config::Role;

/// Kind of the cluster's secrets bundle (one per cluster).
pub const SECRETS: &str = "talos.secrets";
/// Kind of Talos machines (one per node): its config, applied over the Talos API.
pub const MACHINE: &str = "talos.machine";
/// Kind of the cluster: bootstrapped once, the source of kubeconfig and talosconfig.
pub const CLUSTER: &str = "talos.cluster";
/// Kind of an Image Factory schematic registration (one per cluster, optional).
pub const SCHEMATIC: &str = "talos.schematic";
/// Kind of a workload on the cluster, kept as Kubernetes manifests in a
/// GitOps folder ([`crate::provider::WorkloadFolder`]).
pub const WORKLOAD: &str = "talos.workload";

/// The kinds the Talos provider applies (`talos.workload` has its own).
pub const MANAGED: &[&str] = &[SECRETS, MACHINE, CLUSTER, SCHEMATIC];

/// The `role` attribute of a control plane.
pub const ROLE_CONTROL_PLANE: &str = "controlplane";
/// The `role` attribute of a worker.
pub const ROLE_WORKER: &str = "worker";

/// The `role` attribute for `role`.
pub fn role_str(role: Role) -> &'static str {
    role.machine_type()
}

/// The role a `role` attribute names.
pub fn parse_role(text: &str) -> Option<Role> {
    match text {
        ROLE_CONTROL_PLANE => Some(Role::ControlPlane),
        ROLE_WORKER => Some(Role::Worker),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_their_attribute() {
        assert_eq!(role_str(Role::ControlPlane), ROLE_CONTROL_PLANE);
        assert_eq!(parse_role("worker"), Some(Role::Worker));
        assert_eq!(parse_role("master"), None);
    }
}
