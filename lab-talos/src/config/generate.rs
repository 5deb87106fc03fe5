//! Generation of a node's machine config for a version contract.
//!
//! The base documents reproduce Talos's `generate` package
//! (`pkg/machinery/config/generate`, v1.13 contract) field for field, in
//! Go struct order; the goldens of Talos's `v1alpha1_stability_test.go` are
//! the oracle (see `tests/config.rs`). Control-plane-only content (the OS CA
//! key, `nodeLabels`, the secretbox key, the aggregator/service-account/etcd
//! keys, the control-plane components, `localAPIServerPort`,
//! `allowSchedulingOnControlPlanes`) is left out of worker configs, exactly
//! as Talos does.

use indexmap::IndexMap;
use lab_core::Secret;

use super::patch::{apply_patches, Patch, PatchError};
use super::{shape, DocSource, Document, VersionContract};
use crate::secrets::SecretsBundle;
use crate::yaml::Node;

/// A node's role in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs etcd and the Kubernetes control plane.
    ControlPlane,
    /// Runs workloads only.
    Worker,
}

impl Role {
    /// The `machine.type` value.
    pub fn machine_type(self) -> &'static str {
        match self {
            Role::ControlPlane => "controlplane",
            Role::Worker => "worker",
        }
    }
}

/// The secrets a machine config embeds, as the base64(PEM) strings and
/// tokens Talos writes. Fill it from a [`SecretsBundle`] (`From`), or by
/// hand in tests.
#[derive(Clone, Debug)]
pub struct ConfigSecrets {
    /// `cluster.id`: base64 of 32 random bytes.
    pub cluster_id: Secret,
    /// `cluster.secret`: base64 of 32 random bytes.
    pub cluster_secret: Secret,
    /// `cluster.token`: the Kubernetes bootstrap token.
    pub bootstrap_token: Secret,
    /// `machine.token`: the trustd token.
    pub trustd_token: Secret,
    /// `cluster.secretboxEncryptionSecret` (contracts after 1.2).
    pub secretbox_secret: Option<Secret>,
    /// `cluster.aescbcEncryptionSecret` (bundles of contract 1.2 and older).
    pub aescbc_secret: Option<Secret>,
    /// `machine.ca.crt`.
    pub os_ca_crt: String,
    /// `machine.ca.key` (control planes only).
    pub os_ca_key: Secret,
    /// `cluster.ca.crt`.
    pub k8s_ca_crt: String,
    /// `cluster.ca.key` (control planes only).
    pub k8s_ca_key: Secret,
    /// `cluster.aggregatorCA.crt`.
    pub aggregator_ca_crt: String,
    /// `cluster.aggregatorCA.key`.
    pub aggregator_ca_key: Secret,
    /// `cluster.serviceAccount.key`.
    pub service_account_key: Secret,
    /// `cluster.etcd.ca.crt`.
    pub etcd_ca_crt: String,
    /// `cluster.etcd.ca.key`.
    pub etcd_ca_key: Secret,
}

impl From<&SecretsBundle> for ConfigSecrets {
    fn from(b: &SecretsBundle) -> ConfigSecrets {
        ConfigSecrets {
            cluster_id: b.cluster_id(),
            cluster_secret: b.cluster_secret(),
            bootstrap_token: b.bootstrap_token(),
            trustd_token: b.trustd_token(),
            secretbox_secret: b.secretbox_secret(),
            aescbc_secret: b.aescbc_secret(),
            os_ca_crt: b.os_ca_crt_b64(),
            os_ca_key: b.os_ca_key_b64(),
            k8s_ca_crt: b.k8s_ca_crt_b64(),
            k8s_ca_key: b.k8s_ca_key_b64(),
            aggregator_ca_crt: b.aggregator_ca_crt_b64(),
            aggregator_ca_key: b.aggregator_ca_key_b64(),
            service_account_key: b.service_account_key_b64(),
            etcd_ca_crt: b.etcd_ca_crt_b64(),
            etcd_ca_key: b.etcd_ca_key_b64(),
        }
    }
}

/// The CNI Talos deploys (`cluster.network.cni`); `None` in
/// [`ClusterInput::cni`] means Talos's default (Flannel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cni {
    /// `flannel`, `custom` or `none`.
    pub name: String,
    /// Manifest URLs for `custom`.
    pub urls: Vec<String>,
}

/// A registry mirror (a `RegistryMirrorConfig` document, as `talosctl gen
/// config --registry-mirror` writes for the v1.13 contract).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryMirror {
    /// The registry host, e.g. `docker.io`, or `*` for all.
    pub registry: String,
    /// Mirror endpoint URLs, in order.
    pub endpoints: Vec<String>,
}

/// The control-plane virtual IP: a `Layer2VIPConfig` document on every
/// control-plane node (Talos moves the address between them; it answers
/// only once etcd is bootstrapped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// The shared address, e.g. `192.168.0.15`.
    pub address: String,
    /// The link it lives on, e.g. `ens18`.
    pub link: String,
}

/// Static addressing for one node: a `LinkConfig` document (addresses and a
/// default route) plus a `ResolverConfig` when nameservers are given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticNetwork {
    /// The link to configure, e.g. `ens18`.
    pub link: String,
    /// Addresses with prefix length, e.g. `192.168.0.10/24`.
    pub addresses: Vec<String>,
    /// The default gateway (a route without destination).
    pub gateway: Option<String>,
    /// DNS servers; none means Talos's defaults (or DHCP's).
    pub nameservers: Vec<String>,
}

/// What a whole cluster shares. Field by field these are the options of
/// Talos's `generate.NewInput` that a homelab uses; anything else goes into
/// [`ClusterInput::patches`].
#[derive(Clone, Debug)]
pub struct ClusterInput {
    /// `cluster.clusterName`.
    pub name: String,
    /// `cluster.controlPlane.endpoint`: `https://<host>:<port>`, usually the
    /// VIP or a DNS name for it.
    pub endpoint: String,
    /// Kubernetes version without `v`, e.g. `1.36.3`: the images
    /// `ghcr.io/siderolabs/kubelet:v<version>`, `registry.k8s.io/kube-*:v<version>`.
    pub kubernetes_version: String,
    /// The version contract the config is generated for (only v1.13 is
    /// supported); stored with the cluster, independent of the installed
    /// Talos version.
    pub contract: VersionContract,
    /// `cluster.network.dnsDomain` (default `cluster.local`).
    pub dns_domain: String,
    /// `cluster.network.podSubnets` (default `10.244.0.0/16`).
    pub pod_subnets: Vec<String>,
    /// `cluster.network.serviceSubnets` (default `10.96.0.0/12`).
    pub service_subnets: Vec<String>,
    /// `machine.install.disk`, written only when set (nodes may override).
    pub install_disk: Option<String>,
    /// `machine.install.image` (the Image Factory installer), written only
    /// when set.
    pub install_image: Option<String>,
    /// Extra certificate SANs: `machine.certSANs` and `cluster.apiServer.certSANs`.
    pub cert_sans: Vec<String>,
    /// `cluster.allowSchedulingOnControlPlanes` (control planes only).
    pub allow_scheduling_on_control_planes: bool,
    /// `cluster.network.cni`.
    pub cni: Option<Cni>,
    /// `machine.sysctls`.
    pub sysctls: IndexMap<String, String>,
    /// Registry mirrors, one `RegistryMirrorConfig` document each.
    pub registry_mirrors: Vec<RegistryMirror>,
    /// The control-plane VIP (a `Layer2VIPConfig` on control planes).
    pub vip: Option<Vip>,
    /// Strategic-merge or JSON patches (YAML text) for every node, applied
    /// first.
    pub patches: Vec<String>,
    /// Patches for control-plane nodes, applied after [`Self::patches`].
    pub control_plane_patches: Vec<String>,
    /// Patches for worker nodes, applied after [`Self::patches`].
    pub worker_patches: Vec<String>,
}

impl ClusterInput {
    /// An input with Talos's defaults: contract v1.13, `cluster.local`,
    /// `10.244.0.0/16` and `10.96.0.0/12`, no install disk or image.
    pub fn new(
        name: impl Into<String>,
        endpoint: impl Into<String>,
        kubernetes_version: impl Into<String>,
    ) -> ClusterInput {
        ClusterInput {
            name: name.into(),
            endpoint: endpoint.into(),
            kubernetes_version: kubernetes_version.into(),
            contract: VersionContract::V1_13,
            dns_domain: "cluster.local".to_owned(),
            pod_subnets: vec!["10.244.0.0/16".to_owned()],
            service_subnets: vec!["10.96.0.0/12".to_owned()],
            install_disk: None,
            install_image: None,
            cert_sans: Vec::new(),
            allow_scheduling_on_control_planes: false,
            cni: None,
            sysctls: IndexMap::new(),
            registry_mirrors: Vec::new(),
            vip: None,
            patches: Vec::new(),
            control_plane_patches: Vec::new(),
            worker_patches: Vec::new(),
        }
    }
}

/// What is specific to one node.
#[derive(Clone, Debug)]
pub struct NodeInput {
    /// Control plane or worker.
    pub role: Role,
    /// A fixed hostname (`HostnameConfig.hostname`); `None` keeps Talos's
    /// `auto: stable`.
    pub hostname: Option<String>,
    /// Overrides [`ClusterInput::install_disk`].
    pub install_disk: Option<String>,
    /// Static addressing; `None` leaves the network to DHCP.
    pub network: Option<StaticNetwork>,
    /// Patches for this node, applied last.
    pub patches: Vec<String>,
}

impl NodeInput {
    /// A node of `role` with nothing node-specific.
    pub fn new(role: Role) -> NodeInput {
        NodeInput {
            role,
            hostname: None,
            install_disk: None,
            network: None,
            patches: Vec::new(),
        }
    }
}

/// Which list a patch came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchLayer {
    /// [`ClusterInput::patches`].
    Cluster,
    /// [`ClusterInput::control_plane_patches`].
    ControlPlane,
    /// [`ClusterInput::worker_patches`].
    Worker,
    /// [`NodeInput::patches`].
    Node,
}

impl std::fmt::Display for PatchLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PatchLayer::Cluster => "cluster",
            PatchLayer::ControlPlane => "control-plane",
            PatchLayer::Worker => "worker",
            PatchLayer::Node => "node",
        })
    }
}

/// Why a config could not be generated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// Only the v1.13 contract has a generator so far.
    #[error("version contract {0} is not supported (supported: v1.13)")]
    UnsupportedContract(String),
    /// An input value Talos would reject.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The input field, e.g. `endpoint`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A patch doesn't parse or doesn't apply.
    #[error("{layer} {error}")]
    Patch {
        /// The list the patch is in.
        layer: PatchLayer,
        /// The error, with the patch's index in that list and the YAML path.
        error: Box<PatchError>,
    },
}

/// Generates a node's machine config: the documents Talos's generator
/// writes for the cluster's contract, the lab's additions (VIP, static
/// network, hostname), then the cluster, role and node patches in that
/// order.
pub fn generate(
    cluster: &ClusterInput,
    node: &NodeInput,
    secrets: &ConfigSecrets,
) -> Result<Vec<Document>, ConfigError> {
    if cluster.contract != VersionContract::V1_13 {
        return Err(ConfigError::UnsupportedContract(
            cluster.contract.to_string(),
        ));
    }
    check_inputs(cluster, node)?;
    let mut docs = base_v1_13(cluster, node, secrets);
    for d in &mut docs {
        shape::normalize(&mut d.body);
    }
    let role_layer = match node.role {
        Role::ControlPlane => (PatchLayer::ControlPlane, &cluster.control_plane_patches),
        Role::Worker => (PatchLayer::Worker, &cluster.worker_patches),
    };
    for (layer, texts) in [
        (PatchLayer::Cluster, &cluster.patches),
        role_layer,
        (PatchLayer::Node, &node.patches),
    ] {
        let mut patches = Vec::with_capacity(texts.len());
        for (index, text) in texts.iter().enumerate() {
            let patch = Patch::parse(text).map_err(|kind| ConfigError::Patch {
                layer,
                error: Box::new(PatchError {
                    index,
                    document: None,
                    path: String::new(),
                    kind,
                }),
            })?;
            patches.push(patch);
        }
        docs =
            apply_patches(&docs, &patches).map_err(|error| ConfigError::Patch { layer, error })?;
        for d in &mut docs {
            if let DocSource::Patch {
                layer: l @ None, ..
            } = &mut d.source
            {
                *l = Some(layer);
            }
        }
    }
    Ok(docs)
}

fn check_inputs(cluster: &ClusterInput, node: &NodeInput) -> Result<(), ConfigError> {
    let invalid = |field, message: &str| {
        Err(ConfigError::InvalidInput {
            field,
            message: message.to_owned(),
        })
    };
    if cluster.name.is_empty() {
        return invalid("name", "the cluster name is empty");
    }
    let Some(rest) = cluster.endpoint.strip_prefix("https://") else {
        return invalid(
            "endpoint",
            "the control-plane endpoint must be an https:// URL",
        );
    };
    if rest.is_empty() || rest.starts_with(['/', ':']) {
        return invalid("endpoint", "the control-plane endpoint has no host");
    }
    let version = cluster.kubernetes_version.trim_start_matches('v');
    if version.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit()) {
        return invalid("kubernetes_version", "expected a version like 1.36.3");
    }
    if let Some(net) = &node.network {
        if net.link.is_empty() {
            return invalid("network.link", "the link name is empty");
        }
        if let Some(a) = net.addresses.iter().find(|a| !a.contains('/')) {
            return invalid(
                "network.addresses",
                &format!("{a} has no prefix length (e.g. /24)"),
            );
        }
    }
    if let Some(vip) = &cluster.vip {
        if vip.link.is_empty() || vip.address.is_empty() {
            return invalid("vip", "the VIP needs an address and a link");
        }
    }
    Ok(())
}

fn s(value: impl Into<String>) -> Node {
    Node::Str(value.into())
}

fn exposed(secret: &Secret) -> Node {
    Node::Str(secret.expose().to_owned())
}

fn pairs<const N: usize>(items: [(&str, Node); N]) -> Node {
    Node::from_pairs(items)
}

/// The documents of `talosctl gen config` for contract v1.13, plus the
/// lab's additions.
fn base_v1_13(cluster: &ClusterInput, node: &NodeInput, secrets: &ConfigSecrets) -> Vec<Document> {
    let cp = node.role == Role::ControlPlane;
    let k8s = cluster.kubernetes_version.trim_start_matches('v');

    // machine
    let mut machine = IndexMap::new();
    machine.insert("type".to_owned(), s(node.role.machine_type()));
    machine.insert("token".to_owned(), exposed(&secrets.trustd_token));
    machine.insert(
        "ca".to_owned(),
        pairs([
            ("crt", s(&secrets.os_ca_crt)),
            (
                "key",
                if cp {
                    exposed(&secrets.os_ca_key)
                } else {
                    s("")
                },
            ),
        ]),
    );
    machine.insert(
        "certSANs".to_owned(),
        Node::str_seq(cluster.cert_sans.iter().cloned()),
    );
    machine.insert(
        "kubelet".to_owned(),
        pairs([
            ("image", s(format!("ghcr.io/siderolabs/kubelet:v{k8s}"))),
            ("defaultRuntimeSeccompProfileEnabled", Node::Bool(true)),
            ("disableManifestsDirectory", Node::Bool(true)),
        ]),
    );
    let mut install = IndexMap::new();
    if let Some(disk) = node.install_disk.as_ref().or(cluster.install_disk.as_ref()) {
        install.insert("disk".to_owned(), s(disk));
    }
    if let Some(image) = &cluster.install_image {
        install.insert("image".to_owned(), s(image));
    }
    install.insert("wipe".to_owned(), Node::Bool(false));
    install.insert("grubUseUKICmdline".to_owned(), Node::Bool(true));
    machine.insert("install".to_owned(), Node::Map(install));
    if !cluster.sysctls.is_empty() {
        machine.insert(
            "sysctls".to_owned(),
            Node::Map(
                cluster
                    .sysctls
                    .iter()
                    .map(|(k, v)| (k.clone(), s(v)))
                    .collect(),
            ),
        );
    }
    machine.insert(
        "features".to_owned(),
        pairs([
            ("diskQuotaSupport", Node::Bool(true)),
            (
                "kubePrism",
                pairs([("enabled", Node::Bool(true)), ("port", Node::Int(7445))]),
            ),
            (
                "hostDNS",
                pairs([
                    ("enabled", Node::Bool(true)),
                    ("forwardKubeDNSToHost", Node::Bool(true)),
                ]),
            ),
        ]),
    );
    if cp {
        machine.insert(
            "nodeLabels".to_owned(),
            pairs([(
                "node.kubernetes.io/exclude-from-external-load-balancers",
                s(""),
            )]),
        );
    }

    // cluster
    let mut c = IndexMap::new();
    c.insert("id".to_owned(), exposed(&secrets.cluster_id));
    c.insert("secret".to_owned(), exposed(&secrets.cluster_secret));
    let mut control_plane = IndexMap::new();
    control_plane.insert("endpoint".to_owned(), s(&cluster.endpoint));
    c.insert("controlPlane".to_owned(), Node::Map(control_plane));
    c.insert("clusterName".to_owned(), s(&cluster.name));
    let mut network = IndexMap::new();
    if let Some(cni) = &cluster.cni {
        let mut n = IndexMap::new();
        n.insert("name".to_owned(), s(&cni.name));
        if !cni.urls.is_empty() {
            n.insert("urls".to_owned(), Node::str_seq(cni.urls.iter().cloned()));
        }
        network.insert("cni".to_owned(), Node::Map(n));
    }
    network.insert("dnsDomain".to_owned(), s(&cluster.dns_domain));
    network.insert(
        "podSubnets".to_owned(),
        Node::str_seq(cluster.pod_subnets.iter().cloned()),
    );
    network.insert(
        "serviceSubnets".to_owned(),
        Node::str_seq(cluster.service_subnets.iter().cloned()),
    );
    c.insert("network".to_owned(), Node::Map(network));
    c.insert("token".to_owned(), exposed(&secrets.bootstrap_token));
    if cp {
        if let Some(key) = &secrets.secretbox_secret {
            c.insert("secretboxEncryptionSecret".to_owned(), exposed(key));
        } else if let Some(key) = &secrets.aescbc_secret {
            c.insert("aescbcEncryptionSecret".to_owned(), exposed(key));
        }
    }
    c.insert(
        "ca".to_owned(),
        pairs([
            ("crt", s(&secrets.k8s_ca_crt)),
            (
                "key",
                if cp {
                    exposed(&secrets.k8s_ca_key)
                } else {
                    s("")
                },
            ),
        ]),
    );
    if cp {
        c.insert(
            "aggregatorCA".to_owned(),
            pairs([
                ("crt", s(&secrets.aggregator_ca_crt)),
                ("key", exposed(&secrets.aggregator_ca_key)),
            ]),
        );
        c.insert(
            "serviceAccount".to_owned(),
            pairs([("key", exposed(&secrets.service_account_key))]),
        );
        let mut api = IndexMap::new();
        api.insert(
            "image".to_owned(),
            s(format!("registry.k8s.io/kube-apiserver:v{k8s}")),
        );
        if !cluster.cert_sans.is_empty() {
            api.insert(
                "certSANs".to_owned(),
                Node::str_seq(cluster.cert_sans.iter().cloned()),
            );
        }
        api.insert(
            "admissionControl".to_owned(),
            Node::Seq(vec![pod_security()]),
        );
        api.insert("auditPolicy".to_owned(), audit_policy());
        c.insert("apiServer".to_owned(), Node::Map(api));
        for (key, image) in [
            ("controllerManager", "kube-controller-manager"),
            ("proxy", "kube-proxy"),
            ("scheduler", "kube-scheduler"),
        ] {
            c.insert(
                key.to_owned(),
                pairs([("image", s(format!("registry.k8s.io/{image}:v{k8s}")))]),
            );
        }
    }
    c.insert(
        "discovery".to_owned(),
        pairs([
            ("enabled", Node::Bool(true)),
            (
                "registries",
                pairs([
                    ("kubernetes", pairs([("disabled", Node::Bool(true))])),
                    ("service", Node::map()),
                ]),
            ),
        ]),
    );
    if cp {
        c.insert(
            "etcd".to_owned(),
            pairs([(
                "ca",
                pairs([
                    ("crt", s(&secrets.etcd_ca_crt)),
                    ("key", exposed(&secrets.etcd_ca_key)),
                ]),
            )]),
        );
        if cluster.allow_scheduling_on_control_planes {
            c.insert(
                "allowSchedulingOnControlPlanes".to_owned(),
                Node::Bool(true),
            );
        }
    }

    let v1alpha1 = pairs([
        ("version", s("v1alpha1")),
        ("debug", Node::Bool(false)),
        ("persist", Node::Bool(true)),
        ("machine", Node::Map(machine)),
        ("cluster", Node::Map(c)),
    ]);
    let mut docs = vec![Document::new(v1alpha1)];

    let mut mirrors: Vec<&RegistryMirror> = cluster.registry_mirrors.iter().collect();
    mirrors.sort_by(|a, b| crate::yaml::go_key_cmp(&a.registry, &b.registry));
    for m in mirrors {
        docs.push(Document::new(pairs([
            ("apiVersion", s("v1alpha1")),
            ("kind", s("RegistryMirrorConfig")),
            ("name", s(&m.registry)),
            (
                "endpoints",
                Node::Seq(
                    m.endpoints
                        .iter()
                        .map(|url| pairs([("url", s(url))]))
                        .collect(),
                ),
            ),
        ])));
    }

    docs.push(Document::new(match &node.hostname {
        Some(name) => pairs([
            ("apiVersion", s("v1alpha1")),
            ("kind", s("HostnameConfig")),
            ("hostname", s(name)),
        ]),
        None => pairs([
            ("apiVersion", s("v1alpha1")),
            ("kind", s("HostnameConfig")),
            ("auto", s("stable")),
        ]),
    }));

    if let Some(net) = &node.network {
        if !net.nameservers.is_empty() {
            docs.push(Document::new(pairs([
                ("apiVersion", s("v1alpha1")),
                ("kind", s("ResolverConfig")),
                (
                    "nameservers",
                    Node::Seq(
                        net.nameservers
                            .iter()
                            .map(|a| pairs([("address", s(a))]))
                            .collect(),
                    ),
                ),
            ])));
        }
        let mut link = IndexMap::new();
        link.insert("apiVersion".to_owned(), s("v1alpha1"));
        link.insert("kind".to_owned(), s("LinkConfig"));
        link.insert("name".to_owned(), s(&net.link));
        if !net.addresses.is_empty() {
            link.insert(
                "addresses".to_owned(),
                Node::Seq(
                    net.addresses
                        .iter()
                        .map(|a| pairs([("address", s(a))]))
                        .collect(),
                ),
            );
        }
        if let Some(gw) = &net.gateway {
            link.insert(
                "routes".to_owned(),
                Node::Seq(vec![pairs([("gateway", s(gw))])]),
            );
        }
        docs.push(Document::new(Node::Map(link)));
    }

    if cp {
        if let Some(vip) = &cluster.vip {
            docs.push(Document::new(pairs([
                ("apiVersion", s("v1alpha1")),
                ("kind", s("Layer2VIPConfig")),
                ("name", s(&vip.address)),
                ("link", s(&vip.link)),
            ])));
        }
    }
    docs
}

/// The `PodSecurity` admission plugin configuration Talos generates
/// (`constants.APIServerDefaultAdmissionControl`): baseline enforced,
/// restricted audited and warned, `kube-system` exempt.
fn pod_security() -> Node {
    pairs([
        ("name", s("PodSecurity")),
        (
            "configuration",
            pairs([
                (
                    "apiVersion",
                    s("pod-security.admission.config.k8s.io/v1alpha1"),
                ),
                (
                    "defaults",
                    pairs([
                        ("audit", s("restricted")),
                        ("audit-version", s("latest")),
                        ("enforce", s("baseline")),
                        ("enforce-version", s("latest")),
                        ("warn", s("restricted")),
                        ("warn-version", s("latest")),
                    ]),
                ),
                (
                    "exemptions",
                    pairs([
                        ("namespaces", Node::str_seq(["kube-system"])),
                        ("runtimeClasses", Node::Seq(Vec::new())),
                        ("usernames", Node::Seq(Vec::new())),
                    ]),
                ),
                ("kind", s("PodSecurityConfiguration")),
            ]),
        ),
    ])
}

/// Talos's default audit policy (`constants.APIServerDefaultAuditPolicy`):
/// everything at `Metadata` level.
fn audit_policy() -> Node {
    pairs([
        ("apiVersion", s("audit.k8s.io/v1")),
        ("kind", s("Policy")),
        ("rules", Node::Seq(vec![pairs([("level", s("Metadata"))])])),
    ])
}
