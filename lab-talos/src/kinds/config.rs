//! The `config` attribute of a `talos.machine`: the inputs of
//! [`crate::config::generate`] for one node, as serde types.
//!
//! `config = {cluster: Map, node: Map}`, so the provider renders the node's
//! machine config with `generate(&cluster, &node, &ConfigSecrets::from(&bundle))`
//! and nothing in the config is hidden from the plan. The model puts into a
//! machine's map only what changes that machine's config: a worker's map
//! has no `vip` and no `control_plane_patches`, a control plane's no
//! `worker_patches`, so editing a worker patch does not touch control
//! planes.
//!
//! `cluster`:
//! - `name: Str`, `endpoint: Str`, `kubernetes_version: Str` (no `v`),
//!   `contract: Str` (`v1.13`), `dns_domain: Str`, `pod_subnets: [Str]`,
//!   `service_subnets: [Str]` (always present)
//! - `install_disk?: Str`, `install_image?: Str`, `cert_sans?: [Str]`,
//!   `allow_scheduling_on_control_planes?: Bool` (only when true),
//!   `cni?: Map{name: Str, urls?: [Str]}`, `sysctls?: Map{<key>: Str}`,
//!   `registry_mirrors?: [Map{registry: Str, endpoints: [Str]}]`,
//!   `vip?: Map{address: Str, link: Str}`, `patches?: [Str]`,
//!   `control_plane_patches?: [Str]`, `worker_patches?: [Str]`
//!
//! `node`:
//! - `role: Str` (`controlplane`/`worker`), `hostname?: Str`,
//!   `install_disk?: Str`, `network?: Map{link: Str, addresses: [Str],
//!   gateway?: Str, nameservers?: [Str]}`, `patches?: [Str]`
//!
//! Optional lists are left out when empty and `false` flags are left out,
//! so a new option does not show up as a change on every existing machine.
//! Every level refuses unknown keys (a typo or a newer contract must not be
//! silently ignored).

use indexmap::IndexMap;
use lab_core::value::{decode_value, encode_value};
use lab_core::Value;
use serde::{Deserialize, Serialize};

use crate::config::{
    ClusterInput, Cni, NodeInput, RegistryMirror, Role, StaticNetwork, VersionContract, Vip,
};

/// A machine's `config` attribute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    /// The cluster-wide inputs (only those that reach this machine).
    pub cluster: ClusterConfig,
    /// The node's own inputs.
    pub node: NodeConfig,
}

/// `config.cluster`: [`ClusterInput`] as attributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The cluster's name.
    pub name: String,
    /// The Kubernetes API endpoint URL.
    pub endpoint: String,
    /// The Kubernetes version, without `v`.
    pub kubernetes_version: String,
    /// The version contract (`v1.13`).
    pub contract: VersionContract,
    /// The cluster's DNS domain.
    pub dns_domain: String,
    /// Pod subnets (present even when empty).
    pub pod_subnets: Vec<String>,
    /// Service subnets (present even when empty).
    pub service_subnets: Vec<String>,
    /// The install disk for every node.
    pub install_disk: Option<String>,
    /// The installer image.
    pub install_image: Option<String>,
    /// Extra SANs of the API server certificate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cert_sans: Vec<String>,
    /// Workloads on control planes (present only when true).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_scheduling_on_control_planes: bool,
    /// The CNI.
    pub cni: Option<CniConfig>,
    /// Kernel parameters.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub sysctls: IndexMap<String, String>,
    /// Registry mirrors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registry_mirrors: Vec<MirrorConfig>,
    /// The control planes' shared address.
    pub vip: Option<VipConfig>,
    /// Patches for every node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<String>,
    /// Patches for control planes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub control_plane_patches: Vec<String>,
    /// Patches for workers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worker_patches: Vec<String>,
}

/// `config.cluster.cni`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CniConfig {
    /// `flannel`, `custom` or `none`.
    pub name: String,
    /// Manifests of a custom CNI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

/// One of `config.cluster.registry_mirrors`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    /// The registry mirrored (`docker.io`, `*`).
    pub registry: String,
    /// The mirrors (present even when empty).
    pub endpoints: Vec<String>,
}

/// `config.cluster.vip`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VipConfig {
    /// The shared IP.
    pub address: String,
    /// The link it lives on.
    pub link: String,
}

/// `config.node`: [`NodeInput`] as attributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// `controlplane` or `worker`.
    #[serde(with = "RoleName")]
    pub role: Role,
    /// The node's host name.
    pub hostname: Option<String>,
    /// The node's install disk.
    pub install_disk: Option<String>,
    /// The node's static address.
    pub network: Option<NetworkConfig>,
    /// The node's own patches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<String>,
}

/// `config.node.network`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// The link (`ens18`).
    pub link: String,
    /// CIDRs (present even when empty).
    pub addresses: Vec<String>,
    /// The default gateway.
    pub gateway: Option<String>,
    /// DNS servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
}

/// A [`Role`] as its attribute, `controlplane` or `worker`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Role")]
pub(crate) enum RoleName {
    #[serde(rename = "controlplane")]
    ControlPlane,
    #[serde(rename = "worker")]
    Worker,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ConfigSpec {
    /// The attribute for these generation inputs.
    pub fn new(cluster: &ClusterInput, node: &NodeInput) -> ConfigSpec {
        let c = cluster.clone();
        let n = node.clone();
        ConfigSpec {
            cluster: ClusterConfig {
                name: c.name,
                endpoint: c.endpoint,
                kubernetes_version: c.kubernetes_version,
                contract: c.contract,
                dns_domain: c.dns_domain,
                pod_subnets: c.pod_subnets,
                service_subnets: c.service_subnets,
                install_disk: c.install_disk,
                install_image: c.install_image,
                cert_sans: c.cert_sans,
                allow_scheduling_on_control_planes: c.allow_scheduling_on_control_planes,
                cni: c.cni.map(|x| CniConfig {
                    name: x.name,
                    urls: x.urls,
                }),
                sysctls: c.sysctls,
                registry_mirrors: c
                    .registry_mirrors
                    .into_iter()
                    .map(|r| MirrorConfig {
                        registry: r.registry,
                        endpoints: r.endpoints,
                    })
                    .collect(),
                vip: c.vip.map(|v| VipConfig {
                    address: v.address,
                    link: v.link,
                }),
                patches: c.patches,
                control_plane_patches: c.control_plane_patches,
                worker_patches: c.worker_patches,
            },
            node: NodeConfig {
                role: n.role,
                hostname: n.hostname,
                install_disk: n.install_disk,
                network: n.network.map(|x| NetworkConfig {
                    link: x.link,
                    addresses: x.addresses,
                    gateway: x.gateway,
                    nameservers: x.nameservers,
                }),
                patches: n.patches,
            },
        }
    }

    /// The generation inputs: the exact inverse of [`ConfigSpec::new`].
    pub fn inputs(&self) -> (ClusterInput, NodeInput) {
        let c = self.cluster.clone();
        let mut cluster = ClusterInput::new(c.name, c.endpoint, c.kubernetes_version);
        cluster.contract = c.contract;
        cluster.dns_domain = c.dns_domain;
        cluster.pod_subnets = c.pod_subnets;
        cluster.service_subnets = c.service_subnets;
        cluster.install_disk = c.install_disk;
        cluster.install_image = c.install_image;
        cluster.cert_sans = c.cert_sans;
        cluster.allow_scheduling_on_control_planes = c.allow_scheduling_on_control_planes;
        cluster.cni = c.cni.map(|x| Cni {
            name: x.name,
            urls: x.urls,
        });
        cluster.sysctls = c.sysctls;
        cluster.registry_mirrors = c
            .registry_mirrors
            .into_iter()
            .map(|r| RegistryMirror {
                registry: r.registry,
                endpoints: r.endpoints,
            })
            .collect();
        cluster.vip = c.vip.map(|v| Vip {
            address: v.address,
            link: v.link,
        });
        cluster.patches = c.patches;
        cluster.control_plane_patches = c.control_plane_patches;
        cluster.worker_patches = c.worker_patches;

        let n = self.node.clone();
        let mut node = NodeInput::new(n.role);
        node.hostname = n.hostname;
        node.install_disk = n.install_disk;
        node.network = n.network.map(|x| StaticNetwork {
            link: x.link,
            addresses: x.addresses,
            gateway: x.gateway,
            nameservers: x.nameservers,
        });
        node.patches = n.patches;
        (cluster, node)
    }
}

/// The `config` attribute of a `talos.machine`: the generation inputs of
/// one node (see the module docs for the shape).
///
/// ```
/// use lab_talos::config::{ClusterInput, NodeInput, Role};
/// use lab_talos::kinds::{config_inputs, config_value};
/// let cluster = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
/// let node = NodeInput::new(Role::Worker);
/// let value = config_value(&cluster, &node);
/// let (c, n) = config_inputs(&value).unwrap();
/// assert_eq!(c.endpoint, "https://10.0.10.5:6443");
/// assert_eq!(n.role, Role::Worker);
/// ```
pub fn config_value(cluster: &ClusterInput, node: &NodeInput) -> Value {
    encode_value(&ConfigSpec::new(cluster, node)).expect("config inputs are plain data")
}

/// Reads a `config` attribute back into the generation inputs: the exact
/// inverse of [`config_value`]. Unknown keys, missing required keys and
/// values of the wrong type are errors naming the path (`config.node.role`).
pub fn config_inputs(value: &Value) -> Result<(ClusterInput, NodeInput), String> {
    decode_value::<ConfigSpec>(value)
        .map(|spec| spec.inputs())
        .map_err(|e| match e.path().as_str() {
            "" => format!("`config`: {}", e.message()),
            path => format!("`config.{path}`: {}", e.message()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> (ClusterInput, NodeInput) {
        let mut c = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
        c.dns_domain = "home.local".into();
        c.pod_subnets = vec!["10.244.0.0/16".into(), "fd00:10:244::/56".into()];
        c.service_subnets = vec![];
        c.install_disk = Some("/dev/sda".into());
        c.install_image = Some("factory.talos.dev/nocloud-installer/abc:v1.13.9".into());
        c.cert_sans = vec!["k8s.home.arpa".into(), "10.0.10.5".into()];
        c.allow_scheduling_on_control_planes = true;
        c.cni = Some(Cni {
            name: "custom".into(),
            urls: vec!["https://example.org/cilium.yaml".into()],
        });
        c.sysctls.insert("vm.max_map_count".into(), "262144".into());
        c.sysctls
            .insert("net.core.somaxconn".into(), "65535".into());
        c.registry_mirrors = vec![
            RegistryMirror {
                registry: "docker.io".into(),
                endpoints: vec!["https://mirror.home.arpa".into(), "https://b".into()],
            },
            RegistryMirror {
                registry: "*".into(),
                endpoints: vec![],
            },
        ];
        c.vip = Some(Vip {
            address: "10.0.10.5".into(),
            link: "ens18".into(),
        });
        c.patches = vec!["machine:\n  sysctls:\n    a: \"1\"\n".into()];
        c.control_plane_patches = vec!["cluster: {}\n".into(), "machine: {}\n".into()];
        c.worker_patches = vec!["machine: {}\n".into()];
        let mut n = NodeInput::new(Role::ControlPlane);
        n.hostname = Some("cp1".into());
        n.install_disk = Some("/dev/vda".into());
        n.network = Some(StaticNetwork {
            link: "ens18".into(),
            addresses: vec!["10.0.10.11/24".into()],
            gateway: Some("10.0.10.1".into()),
            nameservers: vec!["10.0.10.1".into(), "1.1.1.1".into()],
        });
        n.patches = vec!["machine:\n  nodeLabels:\n    zone: a\n".into()];
        (c, n)
    }

    fn same(a: &(ClusterInput, NodeInput), b: &(ClusterInput, NodeInput)) {
        // The inputs hold no secrets, so their Debug text is a complete
        // field-by-field comparison.
        assert_eq!(format!("{:?}", a.0), format!("{:?}", b.0));
        assert_eq!(format!("{:?}", a.1), format!("{:?}", b.1));
    }

    #[test]
    fn every_field_round_trips() {
        let inputs = full();
        let value = config_value(&inputs.0, &inputs.1);
        let back = config_inputs(&value).unwrap();
        same(&inputs, &back);
        assert_eq!(config_value(&back.0, &back.1), value);
    }

    #[test]
    fn defaults_round_trip_and_optional_fields_stay_absent() {
        let inputs = (
            ClusterInput::new("home", "https://k8s.home.arpa:6443", "1.36.3"),
            NodeInput::new(Role::Worker),
        );
        let value = config_value(&inputs.0, &inputs.1);
        let back = config_inputs(&value).unwrap();
        same(&inputs, &back);
        let Value::Map(top) = &value else { panic!() };
        let Value::Map(c) = &top["cluster"] else {
            panic!()
        };
        let keys: Vec<&str> = c.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "endpoint",
                "kubernetes_version",
                "contract",
                "dns_domain",
                "pod_subnets",
                "service_subnets"
            ]
        );
        assert_eq!(c["contract"], Value::from("v1.13"));
        let Value::Map(n) = &top["node"] else {
            panic!()
        };
        assert_eq!(n.keys().collect::<Vec<_>>(), ["role"]);
        assert_eq!(n["role"], Value::from("worker"));
    }

    #[test]
    fn empty_lists_inside_optional_maps_round_trip() {
        let (mut c, mut n) = full();
        c.cni = Some(Cni {
            name: "none".into(),
            urls: vec![],
        });
        n.network = Some(StaticNetwork {
            link: "ens18".into(),
            addresses: vec![],
            gateway: None,
            nameservers: vec![],
        });
        let inputs = (c, n);
        let back = config_inputs(&config_value(&inputs.0, &inputs.1)).unwrap();
        same(&inputs, &back);
    }

    #[test]
    fn malformed_maps_are_refused_with_their_path() {
        let (c, n) = full();
        let Value::Map(mut top) = config_value(&c, &n) else {
            panic!()
        };
        let mut bad = top.clone();
        let Value::Map(node) = &mut bad["node"] else {
            panic!()
        };
        node.insert("rol".into(), "worker".into());
        let err = config_inputs(&Value::Map(bad)).unwrap_err();
        assert!(err.contains("config.node.rol"), "{err}");

        let Value::Map(node) = &mut top["node"] else {
            panic!()
        };
        node.insert("role".into(), "master".into());
        let err = config_inputs(&Value::Map(top.clone())).unwrap_err();
        assert!(err.contains("config.node.role"), "{err}");

        let Value::Map(cluster) = &mut top["cluster"] else {
            panic!()
        };
        cluster.shift_remove("endpoint");
        let err = config_inputs(&Value::Map(top)).unwrap_err();
        assert!(err.contains("config.cluster.endpoint"), "{err}");

        assert!(config_inputs(&Value::from("x")).is_err());
    }
}
