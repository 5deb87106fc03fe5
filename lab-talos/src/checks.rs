//! The Talos checks: rules over the whole lab that catch, before any VM
//! boots, what would leave a cluster broken or fragile: an even number of
//! control planes, a VIP that cannot float between them, a patch that does
//! not apply, two nodes on one address.
//!
//! Each rule reads the attributes the builders lowered (see
//! [`crate::kinds`]): the machines of a cluster are the `talos.machine`
//! specs whose `cluster` names it, and their generation inputs come back
//! from the `config` map with [`crate::kinds::config_inputs`]. Findings
//! carry the code `talos::<rule>`, a label at the user's line (the
//! locations [`crate::model::TalosCluster::add_to`] recorded) and a help
//! line saying what to write instead. Values a builder can judge on its own
//! (a malformed CIDR, an endpoint without port, an unknown contract) are
//! reported by `core::invalid-value` instead.
//!
//! Patches are checked by generating every node's machine config with
//! placeholder secrets (fixed strings, no key generation), so `lab check`
//! stays fast and needs no secrets bundle; with the crate's `schema`
//! feature (which the `lab` facade's `talos` feature turns on) every
//! generated config is also validated against the Talos schema, each
//! problem reported at the patch that brought it (`talos::patch-schema`).
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_proxmox::model::*;
//! use lab_talos::model::*;
//!
//! // No provider and no `register`: the Talos and Proxmox kinds bring their checks.
//! let mut lab = Lab::new("home");
//! let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
//! let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
//! let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
//! TalosCluster::new("home", "https://10.0.10.5:6443")
//!     .vip("10.0.10.5").link("ens18").vm_storage(&lvm).iso_storage(&local)
//!     .control_plane("cp1", "10.0.10.11/24", &pve1)
//!     .control_plane("cp2", "10.0.10.12/24", &pve1)
//!     .add_to(&mut lab);
//! let diags = lab.check();
//! assert!(diags.iter().any(|d| d.code == "talos::even-control-planes"));
//! ```

use indexmap::IndexMap;
use lab_core::{
    Address, Check, CheckSet, Diagnostic, Lab, Loc, ResourceSpec, Secret, Severity, Value,
};

use crate::config::{
    generate, ClusterInput, ConfigError, ConfigSecrets, NodeInput, PatchErrorKind, PatchLayer, Role,
};
use crate::factory::{TalosVersion, KNOWN_VERSIONS, NEWEST_STABLE};
use crate::kinds;
use crate::model::net::{endpoint_problem, parse_ip, Cidr};

#[cfg(feature = "schema")]
mod schema;
mod workload;

/// An even number of control planes: etcd gains no fault tolerance from
/// the extra member (warning).
pub const EVEN_CONTROL_PLANES: &str = "talos::even-control-planes";
/// A VIP outside the control planes' subnet, or equal to a node's address.
pub const VIP_SUBNET: &str = "talos::vip-subnet";
/// A control-plane endpoint that is not `https://<host>:<port>`.
pub const ENDPOINT: &str = "talos::endpoint";
/// A Talos version lab does not know was released.
pub const UNKNOWN_VERSION: &str = "talos::unknown-version";
/// A machine-config patch that does not parse or targets nothing.
pub const PATCH: &str = "talos::patch";
/// A patch that makes a machine config the Talos schema rejects: an
/// unknown key, a value of the wrong type. Registered with the crate's
/// `schema` feature, which the `lab` facade's `talos` feature turns on.
pub const PATCH_SCHEMA: &str = "talos::patch-schema";
/// Two Talos nodes with one address.
pub const DUPLICATE_ADDRESS: &str = "talos::duplicate-address";
/// A node whose address is not in its gateway's subnet.
pub const GATEWAY_SUBNET: &str = "talos::gateway-subnet";
/// A VM with less memory than Talos needs for its role (warning).
pub const MEMORY: &str = "talos::memory";
/// A workload's load-balancer IP that another workload of its cluster, a
/// node or the VIP already has.
pub const WORKLOAD_IP: &str = "talos::workload-ip";

/// Talos's minimum memory for a control plane, in MiB.
pub const CONTROL_PLANE_MIN_MEMORY_MB: i64 = 2048;
/// Talos's minimum memory for a worker, in MiB.
pub const WORKER_MIN_MEMORY_MB: i64 = 1024;

/// Every Talos check (what the provider returns from `Provider::checks`).
pub fn checks() -> Vec<Check> {
    vec![
        Check::new(EVEN_CONTROL_PLANES, Severity::Warning, even_control_planes),
        Check::new(VIP_SUBNET, Severity::Error, vip_subnet),
        Check::new(ENDPOINT, Severity::Error, endpoint),
        Check::new(UNKNOWN_VERSION, Severity::Error, unknown_version),
        Check::new(PATCH, Severity::Error, patches),
        #[cfg(feature = "schema")]
        Check::new(PATCH_SCHEMA, Severity::Error, schema::patch_schema),
        Check::new(DUPLICATE_ADDRESS, Severity::Error, duplicate_address),
        Check::new(GATEWAY_SUBNET, Severity::Error, gateway_subnet),
        Check::new(MEMORY, Severity::Warning, memory),
        Check::new(WORKLOAD_IP, Severity::Error, workload::workload_ip),
    ]
}

/// What this crate's builders put on every spec they make: the lab
/// registers [`checks`] when the first of them is added, so the Talos
/// checks run with or without a registered provider.
pub const SET: CheckSet = CheckSet {
    name: "talos",
    checks,
};

/// Registers every Talos check on `lab`. Adding any resource of this crate
/// does it already; this is for labs whose specs are built by hand.
pub fn register(lab: &mut Lab) {
    for c in checks() {
        lab.register_check(c);
    }
}

// ---------------------------------------------------------------------------
// Reading lowered attributes
// ---------------------------------------------------------------------------

fn text<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a str> {
    spec.attrs.get(key).and_then(Value::as_str)
}

/// A machine with its generation inputs read back.
struct MachineView<'a> {
    spec: &'a ResourceSpec,
    cluster: ClusterInput,
    node: NodeInput,
}

impl MachineView<'_> {
    fn is_control_plane(&self) -> bool {
        self.node.role == Role::ControlPlane
    }

    fn cidrs(&self) -> Vec<Cidr> {
        self.node
            .network
            .iter()
            .flat_map(|n| &n.addresses)
            .filter_map(|a| Cidr::parse(a).ok())
            .collect()
    }
}

/// Every machine whose config map reads back (one that does not is the
/// provider's to report).
fn machines(lab: &Lab) -> Vec<MachineView<'_>> {
    lab.resources()
        .filter(|s| s.kind() == kinds::MACHINE)
        .filter_map(|spec| {
            let (cluster, node) = kinds::config_inputs(spec.attrs.get("config")?).ok()?;
            Some(MachineView {
                spec,
                cluster,
                node,
            })
        })
        .collect()
}

fn clusters(lab: &Lab) -> impl Iterator<Item = &ResourceSpec> {
    lab.resources().filter(|s| s.kind() == kinds::CLUSTER)
}

fn members<'a, 'l>(
    all: &'a [MachineView<'l>],
    cluster: &'a ResourceSpec,
) -> impl Iterator<Item = &'a MachineView<'l>> {
    all.iter()
        .filter(move |m| text(m.spec, "cluster") == Some(cluster.name()))
}

fn has_problem(spec: &ResourceSpec, field: &str) -> bool {
    spec.problems.iter().any(|p| p.field == field)
}

// ---------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------

fn even_control_planes(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let all = machines(lab);
    for cluster in clusters(lab) {
        let cps: Vec<&MachineView> = members(&all, cluster)
            .filter(|m| m.is_control_plane())
            .collect();
        let count = cps.len();
        if count == 0 || count % 2 == 1 {
            continue;
        }
        let mut d = Diagnostic::warning(
            EVEN_CONTROL_PLANES,
            format!(
                "cluster `{}` has {count} control planes; etcd needs a majority, so {count} \
                 tolerate no more failures than {}",
                cluster.name(),
                count - 1
            ),
        )
        .for_resource(&cluster.address)
        .with_label(cluster.declared_at, "cluster declared here");
        if let Some(last) = cps.last() {
            d = d.with_label(
                last.spec.declared_at,
                format!("control plane #{count} added here"),
            );
        }
        out.push(d.with_help(format!(
            "use an odd number of control planes: {} or {} (a worker adds capacity without \
             joining etcd)",
            count - 1,
            count + 1
        )));
    }
}

fn vip_subnet(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let all = machines(lab);
    for cluster in clusters(lab) {
        if has_problem(cluster, "vip") {
            continue;
        }
        let cps: Vec<&MachineView> = members(&all, cluster)
            .filter(|m| m.is_control_plane())
            .collect();
        let Some(vip) = cps
            .iter()
            .find_map(|m| m.cluster.vip.as_ref())
            .map(|v| v.address.clone())
        else {
            continue;
        };
        let Ok(ip) = parse_ip(&vip) else { continue };
        let at = cluster.loc_of("vip");
        // The VIP must not be any node's own address.
        if let Some(owner) = members(&all, cluster).find(|m| m.cidrs().iter().any(|c| c.ip == ip)) {
            let subnet = owner.cidrs().first().map(Cidr::network).unwrap_or_default();
            out.push(
                Diagnostic::error(
                    VIP_SUBNET,
                    format!(
                        "the VIP {vip} of cluster `{}` is node `{}`'s own address",
                        cluster.name(),
                        owner.spec.name()
                    ),
                )
                .for_resource(&cluster.address)
                .with_label(at, format!("VIP {vip} given here"))
                .with_label(
                    owner.spec.declared_at,
                    format!("`{}` has {vip}", owner.spec.name()),
                )
                .with_help(format!(
                    "give the VIP an unused address in {subnet} (outside any DHCP range); \
                     Talos moves it between the control planes"
                )),
            );
            continue;
        }
        // A layer-2 VIP floats only within the control planes' subnet.
        let outside: Vec<(&MachineView, Cidr)> = cps
            .iter()
            .filter_map(|m| m.cidrs().first().copied().map(|c| (*m, c)))
            .filter(|(_, c)| !c.contains(ip))
            .collect();
        if let Some((first, cidr)) = outside.first() {
            let names: Vec<&str> = outside.iter().map(|(m, _)| m.spec.name()).collect();
            out.push(
                Diagnostic::error(
                    VIP_SUBNET,
                    format!(
                        "the VIP {vip} of cluster `{}` is outside the subnet {} of control \
                         plane{} {}",
                        cluster.name(),
                        cidr.network(),
                        if names.len() == 1 { "" } else { "s" },
                        names.join(", ")
                    ),
                )
                .for_resource(&cluster.address)
                .with_label(at, format!("VIP {vip} given here"))
                .with_label(
                    first.spec.declared_at,
                    format!("`{}` is in {}", first.spec.name(), cidr.network()),
                )
                .with_help(format!(
                    "a layer-2 VIP can only move between nodes of one subnet: pick an unused \
                     address in {}",
                    cidr.network()
                )),
            );
        }
    }
}

fn endpoint(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for cluster in clusters(lab) {
        if has_problem(cluster, "endpoint") {
            continue;
        }
        let Some(endpoint) = text(cluster, "endpoint") else {
            continue;
        };
        let Some(problem) = endpoint_problem(endpoint) else {
            continue;
        };
        out.push(
            Diagnostic::error(ENDPOINT, format!("cluster `{}`: {problem}", cluster.name()))
                .for_resource(&cluster.address)
                .with_label(cluster.loc_of("endpoint"), "endpoint given here")
                .with_help(
                    "write the Kubernetes API URL as https://<VIP or DNS name>:6443, e.g. \
                 https://10.0.10.5:6443",
                ),
        );
    }
}

/// The version tag of an installer image (`…/nocloud-installer/<id>:v1.13.9`).
fn installer_version(image: &str) -> Option<&str> {
    let (_, tag) = image.rsplit_once(':')?;
    (!tag.contains('/')).then_some(tag)
}

fn unknown_version(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let all = machines(lab);
    for cluster in clusters(lab) {
        if has_problem(cluster, "talos_version") {
            continue;
        }
        let mut versions: Vec<&str> = members(&all, cluster)
            .filter_map(|m| m.cluster.install_image.as_deref())
            .filter_map(installer_version)
            .collect();
        versions.dedup();
        for v in versions {
            let known = TalosVersion::parse(v).is_ok_and(|t| t.is_known());
            if known {
                continue;
            }
            out.push(
                Diagnostic::error(
                    UNKNOWN_VERSION,
                    format!(
                        "cluster `{}`: Talos {v} is not a release lab knows; the Image Factory \
                         would answer 404 for its ISO and installer",
                        cluster.name()
                    ),
                )
                .for_resource(&cluster.address)
                .with_label(cluster.loc_of("talos_version"), format!("{v} given here"))
                .with_help(format!(
                    "use a released version: the newest stable is {NEWEST_STABLE} (known: {})",
                    KNOWN_VERSIONS.join(", ")
                )),
            );
        }
    }
}

/// Fixed stand-ins for the secrets a config embeds: enough to generate a
/// config and apply patches to it, without generating any key.
fn placeholder_secrets() -> ConfigSecrets {
    let s = |t: &str| Secret::new(t);
    ConfigSecrets {
        cluster_id: s("placeholder-cluster-id"),
        cluster_secret: s("placeholder-cluster-secret"),
        bootstrap_token: s("abcdef.0123456789abcdef"),
        trustd_token: s("ghijkl.0123456789abcdef"),
        secretbox_secret: Some(s("placeholder-secretbox")),
        aescbc_secret: None,
        os_ca_crt: "placeholder-os-ca-crt".into(),
        os_ca_key: s("placeholder-os-ca-key"),
        k8s_ca_crt: "placeholder-k8s-ca-crt".into(),
        k8s_ca_key: s("placeholder-k8s-ca-key"),
        aggregator_ca_crt: "placeholder-aggregator-ca-crt".into(),
        aggregator_ca_key: s("placeholder-aggregator-ca-key"),
        service_account_key: s("placeholder-service-account-key"),
        etcd_ca_crt: "placeholder-etcd-ca-crt".into(),
        etcd_ca_key: s("placeholder-etcd-ca-key"),
    }
}

/// The `field_locs` key of patch `index` of `layer` on a machine spec.
pub fn patch_key(layer: PatchLayer, index: usize) -> String {
    let list = match layer {
        PatchLayer::Cluster => "patches",
        PatchLayer::ControlPlane => "control_plane_patches",
        PatchLayer::Worker => "worker_patches",
        PatchLayer::Node => "node_patches",
    };
    format!("{list}[{index}]")
}

fn patch_help(kind: &PatchErrorKind) -> &'static str {
    match kind {
        PatchErrorKind::Parse(_) => {
            "fix the YAML (indentation, quoting, `key: value`); a patch is shaped like the \
             machine config, e.g. \"machine:\\n  sysctls:\\n    vm.max_map_count: \\\"262144\\\"\\n\""
        }
        PatchErrorKind::Empty => "give the patch some content, or remove it",
        PatchErrorKind::JsonPatchMultiDoc => {
            "lab's configs have several documents, so JSON patches cannot apply: write a \
             strategic-merge patch (YAML shaped like the config) instead"
        }
        PatchErrorKind::DeleteTargetMissing
        | PatchErrorKind::UnknownKind(_)
        | PatchErrorKind::IncompleteDocument(_) => {
            "the patch targets nothing: check the path's spelling and indentation against the \
             Talos v1.13 configuration reference"
        }
        _ => "fix the patch: see the Talos v1.13 configuration reference for each document's shape",
    }
}

/// Failing patches, one finding per patch and message whichever nodes it
/// fails on: a cluster-wide patch is reported against the cluster, a node
/// patch against its machine. Shared by `talos::patch` (a patch that does
/// not apply) and `talos::patch-schema` (a config Talos rejects).
#[derive(Default)]
struct PatchFindings {
    /// By (owner, patch key, message).
    found: IndexMap<(Address, String, String), PatchFinding>,
}

/// One failing patch: where it was given, what to do, the nodes it fails on.
struct PatchFinding {
    loc: Loc,
    help: String,
    nodes: Vec<String>,
}

impl PatchFindings {
    /// Records that patch `index` of `layer` fails on machine `m`.
    fn add(
        &mut self,
        m: &MachineView<'_>,
        layer: PatchLayer,
        index: usize,
        message: String,
        help: impl FnOnce() -> String,
    ) {
        let key = patch_key(layer, index);
        let owner = match layer {
            PatchLayer::Node => m.spec.address.clone(),
            _ => Address::new(kinds::CLUSTER, &m.cluster.name),
        };
        let loc = m.spec.loc_of(&key);
        self.found
            .entry((owner, key, message))
            .or_insert_with(|| PatchFinding {
                loc,
                help: help(),
                nodes: Vec::new(),
            })
            .nodes
            .push(m.spec.name().to_owned());
    }

    /// One diagnostic per finding: `a patch of <target> <says>: <message>`.
    fn report(self, lab: &Lab, code: &str, says: &str, out: &mut Vec<Diagnostic>) {
        for ((owner, _, message), PatchFinding { loc, help, nodes }) in self.found {
            let target = if owner.kind() == kinds::MACHINE {
                format!("node `{}`", owner.name())
            } else {
                format!("cluster `{}` (on {})", owner.name(), nodes.join(", "))
            };
            let resource = if lab.resource(&owner).is_some() {
                owner
            } else {
                Address::new(kinds::MACHINE, &nodes[0])
            };
            out.push(
                Diagnostic::error(code, format!("a patch of {target} {says}: {message}"))
                    .for_resource(&resource)
                    .with_label(loc, "patch given here")
                    .with_help(help),
            );
        }
    }
}

fn patches(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let secrets = placeholder_secrets();
    let mut found = PatchFindings::default();
    for m in &machines(lab) {
        let Err(ConfigError::Patch { layer, error }) = generate(&m.cluster, &m.node, &secrets)
        else {
            continue;
        };
        found.add(m, layer, error.index, format!("{layer} {error}"), || {
            patch_help(&error.kind).to_string()
        });
    }
    found.report(lab, PATCH, "does not apply", out);
}

fn duplicate_address(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let mut first: IndexMap<String, &ResourceSpec> = IndexMap::new();
    for spec in lab.resources().filter(|s| s.kind() == kinds::MACHINE) {
        let Some(address) = text(spec, "address") else {
            continue;
        };
        let Ok(ip) = parse_ip(address) else { continue };
        match first.get(&ip.to_string()) {
            None => {
                first.insert(ip.to_string(), spec);
            }
            Some(earlier) => out.push(
                Diagnostic::error(
                    DUPLICATE_ADDRESS,
                    format!(
                        "`{}` and `{}` both have address {ip}",
                        spec.name(),
                        earlier.name()
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.declared_at, format!("{ip} used again here"))
                .with_label(
                    earlier.declared_at,
                    format!("first used by `{}` here", earlier.name()),
                )
                .with_help("give each node its own address"),
            ),
        }
    }
}

fn gateway_subnet(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let clusters: IndexMap<&str, &ResourceSpec> = clusters(lab).map(|c| (c.name(), c)).collect();
    for m in machines(lab) {
        let Some(net) = &m.node.network else { continue };
        let Some(gw) = net.gateway.as_deref() else {
            continue;
        };
        let Ok(gw_ip) = parse_ip(gw) else { continue };
        let Some(cidr) = m
            .cidrs()
            .into_iter()
            .find(|c| c.ip.is_ipv4() == gw_ip.is_ipv4())
        else {
            continue;
        };
        if cidr.contains(gw_ip) {
            continue;
        }
        let mut d = Diagnostic::error(
            GATEWAY_SUBNET,
            format!(
                "node `{}` at {cidr} cannot reach its gateway {gw}: it is outside {}",
                m.spec.name(),
                cidr.network()
            ),
        )
        .for_resource(&m.spec.address)
        .with_label(m.spec.declared_at, format!("{cidr} given here"));
        if let Some(c) = clusters.get(m.cluster.name.as_str()) {
            d = d.with_label(c.loc_of("gateway"), format!("gateway {gw} given here"));
        }
        out.push(d.with_help(format!(
            "give the node an address in the gateway's subnet, or a gateway inside {}",
            cidr.network()
        )));
    }
}

fn memory(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for m in lab.resources().filter(|s| s.kind() == kinds::MACHINE) {
        let Some(Value::Ref(vm)) = m.attrs.get("vm") else {
            continue;
        };
        let Some(vm) = lab.resource(&vm.address) else {
            continue;
        };
        let Some(mb) = vm.attrs.get("memory_mb").and_then(Value::as_i64) else {
            continue;
        };
        let (min, role, fix) = match text(m, "role") {
            Some(kinds::ROLE_CONTROL_PLANE) => (
                CONTROL_PLANE_MIN_MEMORY_MB,
                "a control plane",
                ".control_plane_size(2, 4096, 32)",
            ),
            Some(kinds::ROLE_WORKER) => (
                WORKER_MIN_MEMORY_MB,
                "a worker",
                ".worker_size(2, 4096, 64)",
            ),
            _ => continue,
        };
        // Zero is proxmox::zero-resources' finding.
        if mb == 0 || mb >= min {
            continue;
        }
        out.push(
            Diagnostic::warning(
                MEMORY,
                format!(
                    "`{}` has {mb} MiB of memory; Talos needs at least {min} MiB on {role}",
                    m.name()
                ),
            )
            .for_resource(&m.address)
            .with_label(vm.loc_of("memory_mb"), format!("{mb} MiB given here"))
            .with_help(format!(
                "give it at least {min} MiB (4096 is comfortable), e.g. {fix}"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installer_tags_are_read_back() {
        assert_eq!(
            installer_version("factory.talos.dev/nocloud-installer/abc:v1.13.9"),
            Some("v1.13.9")
        );
        assert_eq!(
            installer_version("factory.home:5000/installer/abc:v1.14.0-rc.1"),
            Some("v1.14.0-rc.1")
        );
        assert_eq!(installer_version("factory.home:5000/installer/abc"), None);
    }

    #[test]
    fn placeholder_secrets_generate_both_roles() {
        let s = placeholder_secrets();
        let c = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
        for role in [Role::ControlPlane, Role::Worker] {
            assert!(generate(&c, &NodeInput::new(role), &s).is_ok());
        }
    }
}
