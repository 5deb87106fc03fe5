//! Which config changes a v1.13 node applies live, and which need a reboot.
//!
//! On `ApplyConfiguration` with mode AUTO, Talos 1.13 applies the new config
//! without rebooting only if `CanApplyImmediate` accepts it
//! (`internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_runtime.go`): the
//! v1alpha1 documents may differ only in the fields of
//! [`LIVE_V1ALPHA1_PATHS`]. Otherwise the node reboots. Plans use
//! [`needs_reboot`] to say so before anything is applied.
//!
//! Talos compares only the v1alpha1 document there, so it applies changes
//! to every other document kind live, even those that only take effect at
//! boot (volumes, extension services, kernel-level settings). We are
//! conservative: a change to a document kind counts as live only for the
//! kinds in [`LIVE_MULTIDOC_KINDS`] (network configuration, which Talos's
//! network controllers reconcile at runtime, and registry mirrors/TLS, which
//! containerd re-reads; registry *auth* is not re-read, per the same Talos
//! source). Every other kind, added, removed or changed, is reported.

use indexmap::IndexMap;

use super::{DocId, Document};
use crate::yaml::Node;

/// v1alpha1 fields (dotted paths from the document root) that a v1.13 node
/// applies without a reboot; a change anywhere else in the v1alpha1
/// document reboots it.
pub const LIVE_V1ALPHA1_PATHS: &[&str] = &[
    "debug",
    "cluster",
    "machine.ca",
    "machine.acceptedCAs",
    "machine.time",
    "machine.certSANs",
    "machine.install",
    "machine.network",
    "machine.sysfs",
    "machine.sysctls",
    "machine.logging",
    "machine.controlPlane",
    "machine.kubelet",
    "machine.kernel",
    "machine.registries",
    "machine.pods",
    "machine.seccompProfiles",
    "machine.nodeAnnotations",
    "machine.nodeLabels",
    "machine.nodeTaints",
    "machine.features.kubernetesTalosAPIAccess",
    "machine.features.kubePrism",
    "machine.features.hostDNS",
    "machine.features.imageCache",
    "machine.features.nodeAddressSortAlgorithm",
];

/// Document kinds whose changes we count as live (see the module docs).
pub const LIVE_MULTIDOC_KINDS: &[&str] = &[
    "BlackholeRouteConfig",
    "BondConfig",
    "BridgeConfig",
    "DHCPv4Config",
    "DHCPv6Config",
    "DummyLinkConfig",
    "EthernetConfig",
    "HCloudVIPConfig",
    "HostnameConfig",
    "KubeSpanConfig",
    "KubeSpanEndpoints",
    "Layer2VIPConfig",
    "LinkAliasConfig",
    "LinkConfig",
    "NetworkDefaultActionConfig",
    "NetworkRuleConfig",
    "RegistryMirrorConfig",
    "RegistryTLSConfig",
    "ResolverConfig",
    "RoutingRuleConfig",
    "StaticHostConfig",
    "TCPProbeConfig",
    "TimeSyncConfig",
    "VLANConfig",
    "VRFConfig",
    "WireguardConfig",
];

/// Every difference between two configs, as paths: `.machine.install.disk`
/// in the v1alpha1 document, `LinkConfig(ens18).addresses` in another
/// document, `Layer2VIPConfig(192.168.0.15)` for a document added or
/// removed. Lists and scalars are compared whole; mappings key by key.
pub fn changed_paths(old: &[Document], new: &[Document]) -> Vec<String> {
    let mut out = Vec::new();
    let mut ids: Vec<DocId> = old.iter().map(Document::id).collect();
    for id in new.iter().map(Document::id) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    for id in ids {
        let a = old.iter().find(|d| d.id() == id).map(|d| &d.body);
        let b = new.iter().find(|d| d.id() == id).map(|d| &d.body);
        let prefix = match &id {
            DocId::V1Alpha1 => String::new(),
            other => other.to_string(),
        };
        match (a, b) {
            (Some(a), Some(b)) => diff(Some(a), Some(b), &prefix, &mut out),
            _ if id == DocId::V1Alpha1 => out.push(".".to_owned()),
            _ => out.push(prefix),
        }
    }
    out
}

fn diff(a: Option<&Node>, b: Option<&Node>, path: &str, out: &mut Vec<String>) {
    fn as_map<'a>(
        n: Option<&'a Node>,
        empty: &'a IndexMap<String, Node>,
    ) -> Option<&'a IndexMap<String, Node>> {
        match n {
            None => Some(empty),
            Some(Node::Map(m)) => Some(m),
            Some(_) => None,
        }
    }
    if a == b {
        return;
    }
    let empty = IndexMap::new();
    match (as_map(a, &empty), as_map(b, &empty)) {
        (Some(x), Some(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            for key in keys {
                diff(x.get(key), y.get(key), &format!("{path}.{key}"), out);
            }
        }
        _ => out.push(path.to_owned()),
    }
}

fn is_live(path: &str) -> bool {
    if let Some(field) = path.strip_prefix('.') {
        return LIVE_V1ALPHA1_PATHS.iter().any(|live| {
            field == *live
                || field
                    .strip_prefix(live)
                    .is_some_and(|rest| rest.starts_with('.'))
        });
    }
    let kind = path.split(['(', '.']).next().unwrap_or_default();
    LIVE_MULTIDOC_KINDS.contains(&kind)
}

/// The changes between `old` and `new` that a v1.13 node can't apply live:
/// empty means the apply needs no reboot. Paths as in [`changed_paths`].
///
/// ```
/// use lab_talos::config::{needs_reboot, Document};
/// let old = Document::parse_all("version: v1alpha1\nmachine:\n  type: worker\n  sysctls: {a: '1'}\n").unwrap();
/// let new = Document::parse_all("version: v1alpha1\nmachine:\n  type: controlplane\n  sysctls: {a: '2'}\n").unwrap();
/// assert_eq!(needs_reboot(&old, &new), [".machine.type"]);
/// ```
pub fn needs_reboot(old: &[Document], new: &[Document]) -> Vec<String> {
    changed_paths(old, new)
        .into_iter()
        .filter(|p| !is_live(p))
        .collect()
}
