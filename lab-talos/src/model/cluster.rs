//! [`TalosCluster`]: a whole Talos cluster on Proxmox VMs from one builder.

use std::panic::Location;

use indexmap::IndexMap;
use lab_core::model::Waiver;
use lab_core::{Handle, Lab, Loc, Output, Problem, Resource, ResourceSpec, Secret, Value};
use lab_proxmox::model::{CloudInit, Content, File, Node, Storage, Vm};

use super::net::{dns_label_problem, dns_name_problem, endpoint_problem, parse_ip, Cidr};
use super::resources::{
    contract_problem, Cluster, ClusterOutputs, Machine, SchematicRegistration, Secrets,
    CONTRACT_HELP,
};
use crate::config::{
    ClusterInput, Cni, NodeInput, RegistryMirror, Role, StaticNetwork, VersionContract, Vip,
};
use crate::factory::{
    Arch, ImageFactory, Platform, Schematic, TalosVersion, NEWEST_STABLE, QEMU_GUEST_AGENT,
};

/// The Kubernetes version a cluster gets unless `.kubernetes_version(..)`
/// says otherwise: the default of Talos v1.13.9.
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.36.3";
/// The version contract a cluster gets unless `.contract(..)` says otherwise.
pub const DEFAULT_CONTRACT: &str = "v1.13";
/// The disk Talos installs to: the VM's `scsi0` disk, as Talos sees it.
pub const DEFAULT_INSTALL_DISK: &str = "/dev/sda";
/// The Proxmox bridge the VMs' NIC is on unless `.bridge(..)` says otherwise.
pub const DEFAULT_BRIDGE: &str = "vmbr0";
/// The SCSI controller of the VMs: VirtIO SCSI, **not** `virtio-scsi-single`,
/// on which installs and bootstraps hang (talos#11173).
pub const SCSI_CONTROLLER: &str = "virtio-scsi-pci";
/// The QEMU machine type of the VMs.
pub const MACHINE_TYPE: &str = "q35";

/// A VM size: cores, memory (MiB), disk (GiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Size {
    cores: u32,
    memory_mb: u32,
    disk_gb: u32,
}

const CONTROL_PLANE_SIZE: Size = Size {
    cores: 2,
    memory_mb: 4096,
    disk_gb: 32,
};
const WORKER_SIZE: Size = Size {
    cores: 2,
    memory_mb: 4096,
    disk_gb: 64,
};

/// One node as declared.
#[derive(Clone, Debug)]
struct NodeDecl {
    name: String,
    role: Role,
    cidr: String,
    pve: Handle<Node>,
    loc: Loc,
    hostname: Option<String>,
    patches: Vec<(String, Loc)>,
    problems: Vec<Problem>,
}

impl NodeDecl {
    /// The node's IP (the CIDR without its prefix; the text as given when
    /// it does not parse, which is reported at the node's line).
    fn address(&self) -> String {
        Cidr::parse(&self.cidr).map_or_else(|_| self.cidr.clone(), |c| c.ip.to_string())
    }
}

/// A Talos cluster on Proxmox VMs, built as one unit and lowered by
/// [`TalosCluster::add_to`] into every resource it needs (see the
/// [module docs](super) for the list and the reasons).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// use lab_talos::model::*;
///
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
/// let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
/// let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
/// let talos = TalosCluster::new("home", "https://10.0.10.5:6443")
///     .vip("10.0.10.5")
///     .link("ens18")
///     .gateway("10.0.10.1")
///     .nameservers(&["10.0.10.1"])
///     .vm_storage(&lvm)
///     .iso_storage(&local)
///     .control_plane("cp1", "10.0.10.11/24", &pve1)
///     .worker("w1", "10.0.10.21/24", &pve1)
///     .add_to(&mut lab);
/// assert_eq!(talos.machines.len(), 2);
/// assert_eq!(talos.isos.len(), 1);
/// let kubeconfig: Output<Secret> = talos.kubeconfig();
/// assert_eq!(kubeconfig.address().to_string(), "talos.cluster.home");
/// lab_proxmox::checks::register(&mut lab);
/// lab_talos::checks::register(&mut lab);
/// assert!(lab.check().is_empty(), "{:#?}", lab.check());
/// ```
#[derive(Clone, Debug)]
pub struct TalosCluster {
    name: String,
    endpoint: String,
    declared_at: Loc,
    locs: IndexMap<&'static str, Loc>,
    talos_version: String,
    kubernetes_version: String,
    contract: String,
    schematic: Schematic,
    factory: ImageFactory,
    register_schematic: bool,
    vip: Option<String>,
    link: Option<String>,
    gateway: Option<String>,
    nameservers: Vec<String>,
    vm_storage: Option<Handle<Storage>>,
    iso_storage: Option<Handle<Storage>>,
    bridge: String,
    vlan: Option<u16>,
    cpu: Option<String>,
    control_plane_size: Size,
    worker_size: Size,
    install_disk: String,
    cert_sans: Vec<String>,
    allow_scheduling_on_control_planes: bool,
    cni: Option<Cni>,
    sysctls: IndexMap<String, String>,
    registry_mirrors: Vec<RegistryMirror>,
    patches: Vec<(String, Loc)>,
    control_plane_patches: Vec<(String, Loc)>,
    worker_patches: Vec<(String, Loc)>,
    nodes: Vec<NodeDecl>,
    import: Option<Secret>,
    waivers: Vec<Waiver>,
    problems: Vec<Problem>,
}

impl TalosCluster {
    /// Cluster `name` with the Kubernetes API at `endpoint`:
    /// `https://<host>:<port>`, where the host is the VIP (see
    /// [`TalosCluster::vip`]) or a DNS name for the control planes. The
    /// Talos API is always reached at the nodes' own addresses, never the
    /// endpoint.
    #[track_caller]
    pub fn new(name: impl AsRef<str>, endpoint: &str) -> Self {
        let here = Location::caller();
        let name = name.as_ref();
        let mut c = TalosCluster {
            name: name.to_owned(),
            endpoint: endpoint.to_owned(),
            declared_at: here,
            locs: IndexMap::new(),
            talos_version: NEWEST_STABLE.to_owned(),
            kubernetes_version: DEFAULT_KUBERNETES_VERSION.to_owned(),
            contract: DEFAULT_CONTRACT.to_owned(),
            schematic: Schematic::new().extension(QEMU_GUEST_AGENT),
            factory: ImageFactory::official(),
            register_schematic: false,
            vip: None,
            link: None,
            gateway: None,
            nameservers: Vec::new(),
            vm_storage: None,
            iso_storage: None,
            bridge: DEFAULT_BRIDGE.to_owned(),
            vlan: None,
            cpu: None,
            control_plane_size: CONTROL_PLANE_SIZE,
            worker_size: WORKER_SIZE,
            install_disk: DEFAULT_INSTALL_DISK.to_owned(),
            cert_sans: Vec::new(),
            allow_scheduling_on_control_planes: false,
            cni: None,
            sysctls: IndexMap::new(),
            registry_mirrors: Vec::new(),
            patches: Vec::new(),
            control_plane_patches: Vec::new(),
            worker_patches: Vec::new(),
            nodes: Vec::new(),
            import: None,
            waivers: Vec::new(),
            problems: Vec::new(),
        };
        c.locs.insert("endpoint", here);
        if let Some(p) = dns_label_problem(name) {
            c.invalid(
                "name",
                format!("`{name}` is not a cluster name: {p}"),
                "name the cluster like a host name: `home`, `k8s-lab` (it names VMs' tags and ISO files too)",
            );
        }
        if let Some(p) = endpoint_problem(endpoint) {
            c.invalid(
                "endpoint",
                p,
                "write the Kubernetes API URL as https://<VIP or DNS name>:6443, e.g. https://10.0.10.5:6443",
            );
        }
        c
    }

    #[track_caller]
    fn invalid(&mut self, field: &str, message: impl Into<String>, help: impl Into<String>) {
        self.problems.push(Problem {
            field: field.to_owned(),
            message: message.into(),
            help: help.into(),
            loc: Location::caller(),
        });
    }

    #[track_caller]
    fn mark(&mut self, field: &'static str) {
        self.locs.insert(field, Location::caller());
    }

    /// The Talos version to boot and install (the ISO and the installer
    /// image), default [`NEWEST_STABLE`]. Changing it later upgrades the
    /// installer image in the machine configs; it never changes the
    /// version contract.
    #[track_caller]
    pub fn talos_version(mut self, version: &str) -> Self {
        self.mark("talos_version");
        if TalosVersion::parse(version).is_err() {
            self.invalid(
                "talos_version",
                format!("`{version}` is not a Talos version"),
                format!("write it with its `v` and three numbers, like `{NEWEST_STABLE}`"),
            );
        }
        self.talos_version = version.to_owned();
        self
    }

    /// The Kubernetes version (default [`DEFAULT_KUBERNETES_VERSION`]),
    /// with or without `v`.
    #[track_caller]
    pub fn kubernetes_version(mut self, version: &str) -> Self {
        self.mark("kubernetes_version");
        let v = version.strip_prefix('v').unwrap_or(version);
        let parts: Vec<&str> = v.split('.').collect();
        let ok = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            self.invalid(
                "kubernetes_version",
                format!("`{version}` is not a Kubernetes version"),
                format!("write it like `{DEFAULT_KUBERNETES_VERSION}`"),
            );
        }
        self.kubernetes_version = v.to_owned();
        self
    }

    /// The machine-config version contract (default `v1.13`): stored with
    /// the cluster's secrets and never bumped by Talos upgrades.
    #[track_caller]
    pub fn contract(mut self, contract: &str) -> Self {
        self.mark("contract");
        if let Some(p) = contract_problem(contract) {
            self.invalid("contract", p, CONTRACT_HELP);
        }
        self.contract = contract.to_owned();
        self
    }

    /// The Image Factory schematic of the ISO and the installer (default:
    /// the `siderolabs/qemu-guest-agent` extension). The VMs' QEMU agent is
    /// on exactly when the schematic has that extension.
    #[track_caller]
    pub fn schematic(mut self, schematic: Schematic) -> Self {
        self.mark("schematic");
        if let Err(e) = schematic.validate() {
            self.invalid(
                "schematic",
                e.to_string(),
                "fix the schematic: official extensions are named like `siderolabs/qemu-guest-agent`",
            );
        }
        self.schematic = schematic;
        self
    }

    /// The Image Factory to take the ISO and the installer from (default:
    /// the official one).
    #[track_caller]
    pub fn factory(mut self, factory: ImageFactory) -> Self {
        self.mark("factory");
        self.factory = factory;
        self
    }

    /// Registers the schematic with the Image Factory before the ISO is
    /// downloaded: adds a `talos.schematic.<cluster>` resource (the
    /// provider posts the canonical YAML and checks the answered id is the
    /// offline one) and makes every ISO download depend on it. Off by
    /// default: the official factory serves any schematic whose id it has
    /// seen (such as the default qemu-guest-agent one); a custom schematic,
    /// or a self-hosted factory, needs it.
    #[track_caller]
    pub fn register_schematic(mut self) -> Self {
        self.mark("register_schematic");
        self.register_schematic = true;
        self
    }

    /// The control planes' shared virtual IP (a `Layer2VIPConfig` on the
    /// link of [`TalosCluster::link`]): a free address in their subnet.
    /// It answers only once etcd is bootstrapped, so lab never uses it to
    /// reach Talos; make it the endpoint's host.
    #[track_caller]
    pub fn vip(mut self, address: &str) -> Self {
        self.mark("vip");
        if let Err(p) = parse_ip(address) {
            self.invalid(
                "vip",
                p,
                "give the VIP as a plain address, like `10.0.10.5`",
            );
        }
        self.vip = Some(address.to_owned());
        self
    }

    /// The name Talos gives the VMs' NIC (`ens18`; `talosctl get links
    /// --insecure -n <ip>` shows it): static addresses and the VIP are
    /// configured on it. Required: a wrong guess would leave nodes without
    /// their address once the machine config is applied.
    #[track_caller]
    pub fn link(mut self, name: &str) -> Self {
        self.mark("link");
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('/') {
            self.invalid(
                "link",
                format!("`{name}` is not a link name"),
                "give the NIC's name as Talos shows it, like `ens18`",
            );
        }
        self.link = Some(name.to_owned());
        self
    }

    /// The default gateway of every node.
    #[track_caller]
    pub fn gateway(mut self, address: &str) -> Self {
        self.mark("gateway");
        if let Err(p) = parse_ip(address) {
            self.invalid("gateway", p, "give the gateway's address, like `10.0.10.1`");
        }
        self.gateway = Some(address.to_owned());
        self
    }

    /// The DNS servers of every node (replaces those given before).
    #[track_caller]
    pub fn nameservers(mut self, servers: &[&str]) -> Self {
        self.mark("nameservers");
        for s in servers {
            if let Err(p) = parse_ip(s) {
                self.invalid(
                    "nameservers",
                    p,
                    "give DNS servers as addresses, like `10.0.10.1`",
                );
            }
        }
        self.nameservers = servers.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The storage of the VMs' disks and cloud-init drives (needs `images`
    /// content, on every node that hosts a Talos VM). Required.
    #[track_caller]
    pub fn vm_storage(mut self, storage: &Handle<Storage>) -> Self {
        self.mark("vm_storage");
        self.vm_storage = Some(storage.clone());
        self
    }

    /// The storage the Talos ISO is downloaded to (needs `iso` content):
    /// one download per Proxmox node, or one in all if the storage is
    /// shared. Required.
    #[track_caller]
    pub fn iso_storage(mut self, storage: &Handle<Storage>) -> Self {
        self.mark("iso_storage");
        self.iso_storage = Some(storage.clone());
        self
    }

    /// The Proxmox bridge of the VMs' NIC (default `vmbr0`).
    #[track_caller]
    pub fn bridge(mut self, bridge: &str) -> Self {
        self.mark("bridge");
        if bridge.is_empty() {
            self.invalid(
                "bridge",
                "the bridge name is empty",
                "write it like `vmbr0`",
            );
        }
        self.bridge = bridge.to_owned();
        self
    }

    /// The VLAN tag of the VMs' NIC (1 to 4094).
    #[track_caller]
    pub fn vlan(mut self, tag: u16) -> Self {
        self.mark("vlan");
        if !(1..=4094).contains(&tag) {
            self.invalid(
                "vlan",
                format!("VLAN tag {tag} is out of range"),
                "give a VLAN id from 1 to 4094, or leave .vlan(..) out for untagged traffic",
            );
        } else {
            self.vlan = Some(tag);
        }
        self
    }

    /// The VMs' CPU type (`host`, `x86-64-v2-AES`); without it Proxmox's
    /// default. Talos needs x86-64-v2.
    #[track_caller]
    pub fn cpu(mut self, cpu: &str) -> Self {
        self.mark("cpu");
        self.cpu = Some(cpu.to_owned());
        self
    }

    #[track_caller]
    fn size(&mut self, field: &'static str, cores: u32, memory_mb: u32, disk_gb: u32) -> Size {
        self.mark(field);
        if disk_gb == 0 {
            self.invalid(
                field,
                "the disk size is zero",
                "give the disk a size in GiB; Talos needs at least 10",
            );
        }
        Size {
            cores,
            memory_mb,
            disk_gb,
        }
    }

    /// The control planes' VMs: cores, memory in MiB, disk in GiB
    /// (default 2, 4096, 32). Talos needs at least 2048 MiB on a control plane.
    #[track_caller]
    pub fn control_plane_size(mut self, cores: u32, memory_mb: u32, disk_gb: u32) -> Self {
        self.control_plane_size = self.size("control_plane_size", cores, memory_mb, disk_gb);
        self
    }

    /// The workers' VMs: cores, memory in MiB, disk in GiB (default 2, 4096, 64).
    #[track_caller]
    pub fn worker_size(mut self, cores: u32, memory_mb: u32, disk_gb: u32) -> Self {
        self.worker_size = self.size("worker_size", cores, memory_mb, disk_gb);
        self
    }

    /// The disk Talos installs to (default `/dev/sda`, the VM's `scsi0`).
    #[track_caller]
    pub fn install_disk(mut self, path: &str) -> Self {
        self.mark("install_disk");
        if !path.starts_with("/dev/") {
            self.invalid(
                "install_disk",
                format!("`{path}` is not a device path"),
                "give the disk's device, like `/dev/sda`",
            );
        }
        self.install_disk = path.to_owned();
        self
    }

    /// Extra names and addresses for the API servers' and Talos'
    /// certificates (appended).
    #[track_caller]
    pub fn cert_sans(mut self, sans: &[&str]) -> Self {
        self.mark("cert_sans");
        self.cert_sans.extend(sans.iter().map(|s| s.to_string()));
        self
    }

    /// Lets workloads run on control planes (small clusters).
    #[track_caller]
    pub fn allow_scheduling_on_control_planes(mut self, allow: bool) -> Self {
        self.mark("allow_scheduling_on_control_planes");
        self.allow_scheduling_on_control_planes = allow;
        self
    }

    /// The CNI: `flannel` (Talos's default), `none` (install one yourself,
    /// e.g. Cilium) or `custom` with manifest URLs.
    #[track_caller]
    pub fn cni(mut self, name: &str, urls: &[&str]) -> Self {
        self.mark("cni");
        match (name, urls.is_empty()) {
            ("flannel" | "none", true) | ("custom", false) => {}
            ("custom", true) => self.invalid(
                "cni",
                "a custom CNI needs its manifest URLs",
                "give them: .cni(\"custom\", &[\"https://.../cilium.yaml\"])",
            ),
            ("flannel" | "none", false) => self.invalid(
                "cni",
                format!("manifest URLs apply to the `custom` CNI only, not `{name}`"),
                "use .cni(\"custom\", &[..]) or drop the URLs",
            ),
            _ => self.invalid(
                "cni",
                format!("`{name}` is not a Talos CNI setting"),
                "use `flannel`, `none` or `custom`",
            ),
        }
        self.cni = Some(Cni {
            name: name.to_owned(),
            urls: urls.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// A kernel parameter on every node (`machine.sysctls`).
    #[track_caller]
    pub fn sysctl(mut self, key: &str, value: &str) -> Self {
        self.mark("sysctls");
        if key.is_empty() || key.contains(char::is_whitespace) {
            self.invalid(
                "sysctls",
                format!("`{key}` is not a sysctl name"),
                "write it like `vm.max_map_count`",
            );
        }
        self.sysctls.insert(key.to_owned(), value.to_owned());
        self
    }

    /// A registry mirror (`docker.io`, or `*` for all registries) with its
    /// endpoint URLs, in order.
    #[track_caller]
    pub fn registry_mirror(mut self, registry: &str, endpoints: &[&str]) -> Self {
        self.mark("registry_mirrors");
        if registry.is_empty() || endpoints.is_empty() {
            self.invalid(
                "registry_mirrors",
                "a registry mirror needs a registry and at least one endpoint",
                "write it like .registry_mirror(\"docker.io\", &[\"https://mirror.home.arpa\"])",
            );
        }
        self.registry_mirrors.push(RegistryMirror {
            registry: registry.to_owned(),
            endpoints: endpoints.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// A machine-config patch (strategic merge YAML) for every node,
    /// applied first. A patch that does not parse or targets nothing is
    /// reported (`talos::patch`) at this line.
    #[track_caller]
    pub fn patch(mut self, yaml: &str) -> Self {
        self.patches.push((yaml.to_owned(), Location::caller()));
        self
    }

    /// A patch for the control planes, applied after the cluster's.
    #[track_caller]
    pub fn control_plane_patch(mut self, yaml: &str) -> Self {
        self.control_plane_patches
            .push((yaml.to_owned(), Location::caller()));
        self
    }

    /// A patch for the workers, applied after the cluster's.
    #[track_caller]
    pub fn worker_patch(mut self, yaml: &str) -> Self {
        self.worker_patches
            .push((yaml.to_owned(), Location::caller()));
        self
    }

    #[track_caller]
    fn node(mut self, name: &str, role: Role, cidr: &str, pve: &Handle<Node>) -> Self {
        let here = Location::caller();
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String, help: &str| {
            problems.push(Problem {
                field: field.to_owned(),
                message,
                help: help.to_owned(),
                loc: here,
            })
        };
        if let Some(p) = dns_label_problem(name) {
            problem(
                "name",
                format!("`{name}` is not a node name: {p}"),
                "name nodes like host names: `cp1`, `worker-2`",
            );
        }
        if let Err(p) = Cidr::parse(cidr) {
            problem(
                "address",
                p,
                "give the node's address with its subnet, like `10.0.10.11/24`",
            );
        }
        if self.nodes.iter().any(|n| n.name == name) {
            // Reported here rather than as two VMs and machines with one
            // address; the node is left out.
            self.invalid(
                "nodes",
                format!("node `{name}` is declared twice"),
                "give each node its own name",
            );
            return self;
        }
        self.nodes.push(NodeDecl {
            name: name.to_owned(),
            role,
            cidr: cidr.to_owned(),
            pve: pve.clone(),
            loc: here,
            hostname: None,
            patches: Vec::new(),
            problems,
        });
        self
    }

    /// A control plane called `name` (its VM's and its Talos hostname) at
    /// `cidr` (`10.0.10.11/24`), in a VM on Proxmox node `pve`. The first
    /// control plane bootstraps etcd. Use an odd number (1, 3, 5).
    #[track_caller]
    pub fn control_plane(self, name: &str, cidr: &str, pve: &Handle<Node>) -> Self {
        self.node(name, Role::ControlPlane, cidr, pve)
    }

    /// A worker called `name` at `cidr`, in a VM on Proxmox node `pve`.
    #[track_caller]
    pub fn worker(self, name: &str, cidr: &str, pve: &Handle<Node>) -> Self {
        self.node(name, Role::Worker, cidr, pve)
    }

    #[track_caller]
    fn last_node(&mut self, what: &str) -> Option<&mut NodeDecl> {
        if self.nodes.is_empty() {
            self.invalid(
                what,
                format!(".{what}(..) applies to the node declared before it, and there is none"),
                "declare the node first: .worker(\"w1\", \"10.0.10.21/24\", &pve1).node_patch(..)",
            );
        }
        self.nodes.last_mut()
    }

    /// A patch for the node declared last, applied after the cluster's and
    /// its role's.
    #[track_caller]
    pub fn node_patch(mut self, yaml: &str) -> Self {
        let here = Location::caller();
        if let Some(n) = self.last_node("node_patch") {
            n.patches.push((yaml.to_owned(), here));
        }
        self
    }

    /// The Talos hostname of the node declared last (default: its name).
    #[track_caller]
    pub fn hostname(mut self, hostname: &str) -> Self {
        let here = Location::caller();
        if let Some(n) = self.last_node("hostname") {
            if let Some(p) = dns_name_problem(hostname) {
                n.problems.push(Problem {
                    field: "hostname".into(),
                    message: format!("`{hostname}` is not a host name: {p}"),
                    help:
                        "write a DNS name: letters, digits and inner `-`, labels separated by `.`"
                            .into(),
                    loc: here,
                });
            }
            n.hostname = Some(hostname.to_owned());
        }
        self
    }

    /// Uses an existing secrets bundle (the text of talosctl's
    /// `secrets.yaml`) instead of generating one: how a cluster made with
    /// talosctl comes under the lab.
    #[track_caller]
    pub fn import_secrets(mut self, bundle: Secret) -> Self {
        self.mark("import");
        self.import = Some(bundle);
        self
    }

    /// Waives check `code` for every resource of the cluster.
    #[track_caller]
    pub fn waive(mut self, code: &str, reason: &str) -> Self {
        self.waivers.push(Waiver {
            code: code.to_owned(),
            reason: reason.to_owned(),
            loc: Location::caller(),
        });
        self
    }

    /// Where `field` was set, or where the cluster was declared.
    fn at(&self, field: &str) -> Loc {
        self.locs.get(field).copied().unwrap_or(self.declared_at)
    }

    /// The generation inputs a node of `role` shares with the others: only
    /// what changes that role's config (a worker gets no VIP and no
    /// control-plane patches), so a plan touches only the machines a
    /// change reaches.
    fn cluster_input(&self, role: Role, installer: &str) -> ClusterInput {
        let mut c = ClusterInput::new(&self.name, &self.endpoint, &self.kubernetes_version);
        c.contract = VersionContract::parse(&self.contract).unwrap_or(VersionContract::V1_13);
        c.install_disk = Some(self.install_disk.clone());
        c.install_image = Some(installer.to_owned());
        c.cert_sans = self.cert_sans.clone();
        c.allow_scheduling_on_control_planes = self.allow_scheduling_on_control_planes;
        c.cni = self.cni.clone();
        c.sysctls = self.sysctls.clone();
        c.registry_mirrors = self.registry_mirrors.clone();
        let texts = |l: &[(String, Loc)]| l.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
        c.patches = texts(&self.patches);
        match role {
            Role::ControlPlane => {
                c.vip = self.vip.as_ref().map(|address| Vip {
                    address: address.clone(),
                    link: self.link.clone().unwrap_or_default(),
                });
                c.control_plane_patches = texts(&self.control_plane_patches);
            }
            Role::Worker => c.worker_patches = texts(&self.worker_patches),
        }
        c
    }

    fn node_input(&self, n: &NodeDecl) -> NodeInput {
        let mut node = NodeInput::new(n.role);
        node.hostname = Some(n.hostname.clone().unwrap_or_else(|| n.name.clone()));
        node.network = Some(StaticNetwork {
            link: self.link.clone().unwrap_or_default(),
            addresses: vec![n.cidr.clone()],
            gateway: self.gateway.clone(),
            nameservers: self.nameservers.clone(),
        });
        node.patches = n.patches.iter().map(|(t, _)| t.clone()).collect();
        node
    }

    /// Adds everything the cluster needs to `lab`:
    ///
    /// - `talos.secrets.<cluster>` (refuses to be destroyed);
    /// - with [`register_schematic`](Self::register_schematic),
    ///   `talos.schematic.<cluster>`, which every ISO download depends on;
    /// - a `proxmox.file` per Proxmox node hosting a Talos VM (one in all
    ///   if the ISO storage is shared): the schematic's nocloud ISO,
    ///   `talos-<version>-<id8>-nocloud-amd64.iso`;
    /// - a `proxmox.vm` per node (see the [module docs](super));
    /// - a `talos.machine` per node, its config inputs using the installer
    ///   image of the ISO's schematic;
    /// - `talos.cluster.<cluster>`, after every machine.
    #[track_caller]
    pub fn add_to(self, lab: &mut Lab) -> TalosHandles {
        let mut problems = self.problems.clone();
        let mut require = |missing: bool, field: &str, message: &str, help: &str| {
            if missing {
                problems.push(Problem {
                    field: field.to_owned(),
                    message: message.to_owned(),
                    help: help.to_owned(),
                    loc: self.declared_at,
                });
            }
        };
        let has_nodes = !self.nodes.is_empty();
        require(
            has_nodes && self.link.is_none(),
            "link",
            "the cluster does not say the name of the VMs' NIC inside Talos",
            "add .link(\"ens18\") (the name `talosctl get links --insecure -n <ip>` shows): the static addresses and the VIP are configured on it",
        );
        require(
            has_nodes && self.vm_storage.is_none(),
            "vm_storage",
            "the cluster does not say where the VMs' disks go",
            "add .vm_storage(&local_lvm) (a storage with `images` content)",
        );
        require(
            has_nodes && self.iso_storage.is_none(),
            "iso_storage",
            "the cluster does not say where the Talos ISO goes",
            "add .iso_storage(&local) (a storage with `iso` content)",
        );

        let version = TalosVersion::parse(&self.talos_version)
            .unwrap_or_else(|_| TalosVersion::newest_stable());
        let image = self
            .factory
            .image(&self.schematic, &version, &Platform::NOCLOUD, Arch::Amd64);
        let id8 = image.schematic_id.get(..8).unwrap_or(&image.schematic_id);
        let filename = format!("talos-{version}-{id8}-nocloud-amd64.iso");
        let agent = self.schematic.has_extension(QEMU_GUEST_AGENT);

        // The secrets bundle.
        let mut secrets = Secrets::new(&self.name);
        {
            let spec = secrets.spec_mut();
            spec.attrs
                .insert("contract".into(), Value::from(self.contract.as_str()));
            if let Some(bundle) = &self.import {
                spec.attrs
                    .insert("import".into(), Value::Secret(bundle.clone()));
            }
            relocate(spec, self.declared_at);
            mark(spec, "contract", self.at("contract"));
            if self.import.is_some() {
                mark(spec, "import", self.at("import"));
            }
            spec.waivers.extend(self.waivers.iter().cloned());
        }
        let secrets = lab.add(secrets);

        // The schematic registration, before any ISO download.
        let schematic = self.register_schematic.then(|| {
            let mut reg = SchematicRegistration::new(&self.name, &self.factory, &self.schematic);
            let spec = reg.spec_mut();
            // The name and schematic were judged by `new` and `.schematic(..)`.
            spec.problems.clear();
            relocate(spec, self.at("register_schematic"));
            mark(spec, "schematic", self.at("schematic"));
            mark(spec, "id", self.at("schematic"));
            mark(spec, "factory", self.at("factory"));
            spec.waivers.extend(self.waivers.iter().cloned());
            lab.add(reg)
        });

        // The ISO, once per Proxmox node (local storage is per node), or
        // once in all on a shared storage.
        let shared = self.iso_storage.as_ref().is_some_and(|st| {
            lab.resource(st.address()).is_some_and(|s| {
                s.attrs.get("shared") == Some(&Value::Bool(true))
                    || s.attrs.get("type") == Some(&Value::from("nfs"))
            })
        });
        let mut isos: Vec<(String, Handle<File>)> = Vec::new();
        if let Some(storage) = &self.iso_storage {
            for n in &self.nodes {
                let pve = n.pve.address().name();
                if isos.iter().any(|(p, _)| p == pve) || (shared && !isos.is_empty()) {
                    continue;
                }
                let mut file = File::download(
                    format!("talos-{}-{pve}", self.name),
                    &n.pve,
                    storage,
                    Content::Iso,
                    &image.iso_url,
                )
                .filename(&filename);
                let spec = file.spec_mut();
                // A new Talos version is a new ISO: download it, move the
                // VMs' CD-ROMs to it, then delete the old one (Proxmox
                // refuses to delete an ISO a VM still has inserted).
                spec.lifecycle.create_before_destroy = true;
                relocate(spec, self.at("iso_storage"));
                mark(spec, "node", n.loc);
                for key in ["url", "filename"] {
                    mark(spec, key, self.at("talos_version"));
                }
                if let Some(reg) = &schematic {
                    spec.depend_on(reg, "depends_on");
                    if let Some(dep) = spec.deps.last_mut() {
                        dep.loc = self.at("register_schematic");
                    }
                }
                spec.waivers.extend(self.waivers.iter().cloned());
                isos.push((pve.to_owned(), lab.add(file)));
            }
        }
        let iso_for = |n: &NodeDecl| {
            isos.iter()
                .find(|(p, _)| p == n.pve.address().name())
                .or(isos.first().filter(|_| shared))
                .map(|(_, h)| h.clone())
        };

        // The VMs.
        let mut vms = Vec::new();
        for n in &self.nodes {
            let (size, size_key) = match n.role {
                Role::ControlPlane => (self.control_plane_size, "control_plane_size"),
                Role::Worker => (self.worker_size, "worker_size"),
            };
            let mut vm = Vm::new(&n.name, &n.pve)
                .cores(size.cores)
                .memory_mb(size.memory_mb);
            if let Some(storage) = &self.vm_storage {
                vm = vm.disk("scsi0", storage, &format!("{}G", size.disk_gb.max(1)));
            }
            vm = vm
                .scsi_controller(SCSI_CONTROLLER)
                .machine(MACHINE_TYPE)
                .balloon_mb(0);
            let iso = iso_for(n);
            if let Some(iso) = &iso {
                vm = vm.cdrom(iso);
            }
            if self.vm_storage.is_some() && iso.is_some() {
                // The empty disk boots nothing, so the ISO boots and
                // installs; from then on the disk boots.
                vm = vm.boot_order(&["scsi0", "ide2"]);
            }
            vm = vm.nic("net0", &self.bridge);
            if let Some(tag) = self.vlan {
                vm = vm.vlan(tag);
            }
            vm = vm.agent(agent);
            if let Some(storage) = &self.vm_storage {
                vm = vm.cloud_init(self.cloud_init(storage, n));
            }
            if let Some(cpu) = &self.cpu {
                vm = vm.cpu(cpu);
            }
            vm = vm
                .started(true)
                .onboot(true)
                .tags(&["talos", self.name.as_str()]);
            let spec = vm.spec_mut();
            relocate(spec, n.loc);
            for p in &mut spec.problems {
                p.loc = n.loc;
            }
            for (key, field) in [
                ("cores", size_key),
                ("memory_mb", size_key),
                ("disks.scsi0", "vm_storage"),
                ("cloud_init", "vm_storage"),
                ("nics", "bridge"),
                ("nics.net0", "bridge"),
                ("nics.net0.tag", "vlan"),
                ("cdrom", "iso_storage"),
                ("cdrom_file", "iso_storage"),
                ("agent", "schematic"),
                ("cpu", "cpu"),
            ] {
                if spec.field_locs.contains_key(key) {
                    mark(spec, key, self.at(field));
                }
            }
            spec.waivers.extend(self.waivers.iter().cloned());
            vms.push(lab.add(vm));
        }

        // The machines.
        let mut machines = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let cluster = self.cluster_input(n.role, &image.installer_image);
            let node = self.node_input(n);
            let mut m = Machine::new(&n.name, &n.address(), &cluster, &node, &secrets)
                .vm(&vms[i])
                .version(&version.to_string());
            let spec = m.spec_mut();
            mark(spec, "version", self.at("talos_version"));
            // The name and address were judged where the node was declared.
            spec.problems.clear();
            spec.problems.extend(n.problems.iter().cloned());
            relocate(spec, n.loc);
            let layers: [(&str, &[(String, Loc)]); 4] = [
                ("patches", &self.patches),
                ("control_plane_patches", &self.control_plane_patches),
                ("worker_patches", &self.worker_patches),
                ("node_patches", &n.patches),
            ];
            for (key, list) in layers {
                for (j, (_, loc)) in list.iter().enumerate() {
                    let key = format!("{key}[{j}]");
                    if spec.field_locs.contains_key(&key) {
                        spec.field_locs.insert(key, *loc);
                    }
                }
            }
            // An imported bundle is known now: the config inputs carry it
            // directly (the edge to the secrets resource stays), so a plan
            // that re-imports the bundle a cluster runs with (after its
            // state was lost) sees the machines unchanged.
            if let Some(bundle) = &self.import {
                spec.attrs
                    .insert("secrets".into(), Value::Secret(bundle.clone()));
            }
            spec.waivers.extend(self.waivers.iter().cloned());
            machines.push(lab.add(m));
        }

        // The cluster, after every machine.
        let mut cluster = Cluster::new(&self.name, &self.endpoint, &secrets);
        for (n, m) in self.nodes.iter().zip(&machines) {
            cluster = match n.role {
                Role::ControlPlane => cluster.control_plane(m, &n.address()),
                Role::Worker => cluster.worker(m, &n.address()),
            };
        }
        {
            let first_cp = self.nodes.iter().find(|n| n.role == Role::ControlPlane);
            let spec = cluster.spec_mut();
            // Judged by TalosCluster::new, at the same line.
            spec.problems.clear();
            spec.problems.extend(problems);
            relocate(spec, self.declared_at);
            if let Some(cp) = first_cp {
                mark(spec, "bootstrap_node", cp.loc);
            }
            for (key, loc) in &self.locs {
                spec.field_locs.insert((*key).to_owned(), *loc);
            }
            for dep in &mut spec.deps {
                if let Some(n) = self
                    .nodes
                    .iter()
                    .find(|n| n.name == dep.on.name() && dep.on.kind() == Machine::KIND)
                {
                    dep.loc = n.loc;
                }
            }
            if let Some(bundle) = &self.import {
                spec.attrs
                    .insert("secrets".into(), Value::Secret(bundle.clone()));
            }
            spec.waivers.extend(self.waivers.iter().cloned());
        }
        let cluster = lab.add(cluster);

        TalosHandles {
            secrets,
            schematic,
            isos: isos.into_iter().map(|(_, h)| h).collect(),
            vms,
            machines,
            cluster,
        }
    }

    /// The cloud-init drive of node `n`'s VM: its static address, gateway
    /// and DNS servers. Talos's nocloud platform reads them at boot, so
    /// the maintenance API is reachable at the node's address before any
    /// machine config exists. Values already reported as invalid are left
    /// out rather than reported twice.
    #[track_caller]
    fn cloud_init(&self, storage: &Handle<Storage>, n: &NodeDecl) -> CloudInit {
        let mut ci = CloudInit::new(storage);
        if Cidr::parse(&n.cidr).is_ok() {
            let mut ipconfig = format!("ip={}", n.cidr);
            if let Some(gw) = self.gateway.as_ref().filter(|g| parse_ip(g).is_ok()) {
                ipconfig.push_str(&format!(",gw={gw}"));
            }
            ci = ci.ipconfig(&ipconfig);
        }
        let servers: Vec<&str> = self
            .nameservers
            .iter()
            .map(String::as_str)
            .filter(|s| parse_ip(s).is_ok())
            .collect();
        if !servers.is_empty() {
            ci = ci.nameserver(&servers.join(" "));
        }
        ci
    }
}

/// Points every location of `spec` at `loc` (the builders inside
/// [`TalosCluster::add_to`] record its line; the user wrote the values
/// elsewhere).
fn relocate(spec: &mut ResourceSpec, loc: Loc) {
    spec.declared_at = loc;
    for l in spec.field_locs.values_mut() {
        *l = loc;
    }
    for d in &mut spec.deps {
        d.loc = loc;
    }
}

/// Records that `key` was written at `loc`, and moves the edges made by
/// that field there too.
fn mark(spec: &mut ResourceSpec, key: &str, loc: Loc) {
    spec.field_locs.insert(key.to_owned(), loc);
    for d in spec.deps.iter_mut().filter(|d| d.via == key) {
        d.loc = loc;
    }
}

/// What [`TalosCluster::add_to`] added.
#[derive(Clone, Debug)]
pub struct TalosHandles {
    /// The secrets bundle.
    pub secrets: Handle<Secrets>,
    /// The schematic registration, with
    /// [`TalosCluster::register_schematic`].
    pub schematic: Option<Handle<SchematicRegistration>>,
    /// The ISO downloads, one per Proxmox node hosting Talos VMs (or one
    /// on a shared storage).
    pub isos: Vec<Handle<File>>,
    /// The VMs, in the order the nodes were declared.
    pub vms: Vec<Handle<Vm>>,
    /// The machines, in the order the nodes were declared.
    pub machines: Vec<Handle<Machine>>,
    /// The cluster.
    pub cluster: Handle<Cluster>,
}

impl TalosHandles {
    /// The admin kubeconfig, known after the cluster is bootstrapped.
    #[track_caller]
    pub fn kubeconfig(&self) -> Output<Secret> {
        self.cluster.kubeconfig()
    }

    /// The admin talosconfig (endpoints: the control planes' addresses).
    #[track_caller]
    pub fn talosconfig(&self) -> Output<Secret> {
        self.cluster.talosconfig()
    }
}
