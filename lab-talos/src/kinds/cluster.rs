//! `talos.cluster` (named after the cluster): bootstrapped once, the source
//! of kubeconfig and talosconfig; depends on every `talos.machine` of the
//! cluster.
//!
//! | attributes | outputs |
//! |---|---|
//! | `endpoint: Str`, `bootstrap_node: Str` (IP of the first control plane), `control_planes: [Str]` (IPs), `workers: [Str]` (IPs), `secrets: Ref(talos.secrets.<c>#bundle)`, `credentials: "valid"` (read back as `expires on <date>` once a client certificate has less than 30 days left: the update renews them) | `kubeconfig: Secret`, `talosconfig: Secret` |
//!
//! `control_planes` and `workers` are always present (empty lists
//! included). `credentials` is optional for states recorded before it
//! existed; the builder always sets it.

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::CLUSTER;

/// The spec of a `talos.cluster`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// The Kubernetes API endpoint URL.
    pub endpoint: String,
    /// The IP of the first control plane, where etcd is bootstrapped.
    pub bootstrap_node: String,
    /// The control planes' IPs.
    pub control_planes: Vec<String>,
    /// The workers' IPs.
    pub workers: Vec<String>,
    /// The cluster's bundle (`talos.secrets.<cluster>#bundle`).
    pub secrets: Secret,
    /// `valid`, or when the client certificates expire (read back).
    pub credentials: Option<String>,
}

/// The outputs of a `talos.cluster`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterOut {
    /// The admin kubeconfig.
    pub kubeconfig: Secret,
    /// The admin talosconfig (endpoints: the control planes' addresses).
    pub talosconfig: Secret,
}

impl Default for ClusterOut {
    fn default() -> Self {
        ClusterOut {
            kubeconfig: Secret::new(String::new()),
            talosconfig: Secret::new(String::new()),
        }
    }
}

impl Kind for ClusterSpec {
    const KIND: &'static str = CLUSTER;
    type Outputs = ClusterOut;
}
