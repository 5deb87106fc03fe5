//! [`TalosCluster`]: a whole Talos cluster on Proxmox VMs from one builder.

use std::panic::Location;

use indexmap::IndexMap;
use lab_core::model::Waiver;
use lab_core::{Handle, Loc, Problem, Secret};
use lab_proxmox::model::{Node, Storage};

use super::net::{dns_label_problem, dns_name_problem, endpoint_problem, parse_ip, Cidr};
use super::resources::{contract_problem, CONTRACT_HELP};
use crate::config::{Cni, RegistryMirror, Role};
use crate::factory::{ImageFactory, Schematic, TalosVersion, NEWEST_STABLE, QEMU_GUEST_AGENT};

mod lower;

pub use lower::TalosHandles;

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
}
