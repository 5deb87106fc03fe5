//! `talos.workload` (named after the workload): an application on the Talos
//! cluster, kept as Kubernetes manifests in a folder that the user's GitOps
//! tool (Flux or Argo CD) applies. `lab` never talks to the Kubernetes API:
//! the folder is the object, served by
//! [`crate::provider::WorkloadFolder`], not by the Talos provider.
//!
//! | attributes | outputs |
//! |---|---|
//! | `cluster: Str` (the `talos.cluster`'s name), `namespace: Str`, `image: Str` (with a tag or digest), `replicas: Int`, `ports: [{name, port}]`, `env: [{name, value} \| {name, secret, key}]`, `volumes: [{mount_path, server, export, size}]` (NFS), `cpu: Str`, `memory: Str` (requests, Kubernetes quantities), `load_balancer: Str` (an IP), `files: Str` (`as generated`: read back as `edited outside lab: <files>` when a file differs from what the other fields render, an edit lab does not model; the update writes them again) | `folder: Str` (the workload's folder), `service: Str` (the Service's cluster DNS name, when it has ports) |
//!
//! Empty lists and unset options are left out, as in every kind of this
//! crate. Secrets never appear: an environment variable from a secret
//! names a Kubernetes Secret that exists in the cluster (made with SOPS,
//! sealed-secrets or external-secrets), never its value, because the
//! manifests are meant for Git.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::WORKLOAD;

/// The spec of a `talos.workload`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// The cluster's name (the `talos.cluster` it runs on).
    pub cluster: String,
    /// The Kubernetes namespace.
    pub namespace: String,
    /// The container image, with a tag or a digest.
    pub image: String,
    /// How many pods.
    pub replicas: u32,
    /// Container ports, each also a port of the workload's Service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<WorkloadPort>,
    /// Environment variables, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<WorkloadEnv>,
    /// NFS volumes (a PersistentVolume and its claim each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<NfsVolume>,
    /// The CPU request (`500m`, `2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// The memory request (`512Mi`, `2Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// The Service's load-balancer IP: the Service is `LoadBalancer`
    /// instead of `ClusterIP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<String>,
    /// [`FILES_AS_GENERATED`], or which files hold an edit that none of
    /// the other fields shows (read back by the provider).
    pub files: String,
}

/// The `files` attribute of a workload whose files hold nothing but what
/// its other fields say.
pub const FILES_AS_GENERATED: &str = "as generated";

/// A named container port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadPort {
    /// The port's name (an IANA service name: `http`, `metrics`).
    pub name: String,
    /// The TCP port.
    pub port: u16,
}

/// An environment variable: a value, or a key of an existing Secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadEnv {
    /// The variable's name.
    pub name: String,
    /// Its value, when given in the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The name of the Secret in the workload's namespace it comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The key in that Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// An NFS export mounted into the pods (ReadWriteMany).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NfsVolume {
    /// Where the pods see it.
    pub mount_path: String,
    /// The NFS server (a host name or an IP).
    pub server: String,
    /// The exported path.
    pub export: String,
    /// The capacity, a Kubernetes quantity (`100Gi`).
    pub size: String,
}

/// The outputs of a `talos.workload`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadOut {
    /// The folder holding the workload's manifests.
    pub folder: String,
    /// The Service's cluster DNS name (`<name>.<namespace>.svc.cluster.local`),
    /// empty without ports.
    #[serde(default)]
    pub service: String,
}

impl Kind for WorkloadSpec {
    const KIND: &'static str = WORKLOAD;
    type Outputs = WorkloadOut;
}
