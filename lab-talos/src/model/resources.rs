//! The Talos resources, one builder each: [`Secrets`]
//! (`talos.secrets`), [`Machine`] (`talos.machine`), [`Cluster`]
//! (`talos.cluster`) and [`SchematicRegistration`] (`talos.schematic`).
//! [`super::TalosCluster`] builds all of them (and the Proxmox VMs under
//! them); these builders are for labs that bring their own machines, and
//! for tests.

use std::panic::Location;

use lab_core::{Handle, Output, Resource, ResourceSpec, Secret, Value};
use lab_proxmox::model::{GuestOutputs, Vm};

use super::net::{dns_label_problem, endpoint_problem, parse_ip};
use crate::config::{ClusterInput, NodeInput, VersionContract};
use crate::factory::{ImageFactory, Schematic};
use crate::kinds;

/// The help line for a bad version contract.
pub(crate) const CONTRACT_HELP: &str =
    "use .contract(\"v1.13\"): the contract is picked when the cluster is created and never \
     bumped by upgrades (lab generates configs for v1.13)";

/// Why `contract` is not a contract lab can generate configs for, if it
/// is not.
pub(crate) fn contract_problem(contract: &str) -> Option<String> {
    match VersionContract::parse(contract) {
        Err(_) => Some(format!(
            "`{contract}` is not a version contract (`v<major>.<minor>`)"
        )),
        Ok(c) if c != VersionContract::V1_13 => Some(format!(
            "version contract {c} is not supported (lab generates configs for v1.13)"
        )),
        Ok(_) => None,
    }
}

/// The cluster's secrets bundle (`talos.secrets`, named after the
/// cluster): generated once by the provider (or imported from talosctl's
/// `secrets.yaml`) and kept, encrypted, in the lab's state. It refuses to
/// be destroyed: losing it means losing access to the cluster.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_talos::model::*;
/// let mut lab = Lab::new("home");
/// let secrets = lab.add(Secrets::new("home").import(Secret::new("cluster: ...")));
/// let spec = lab.resource(secrets.address()).unwrap();
/// assert_eq!(spec.attrs["contract"], Value::from("v1.13"));
/// assert!(spec.attrs["import"].contains_secret());
/// assert!(spec.lifecycle.prevent_destroy);
/// assert_eq!(secrets.bundle().name(), "bundle");
/// ```
#[derive(Clone, Debug)]
pub struct Secrets {
    spec: ResourceSpec,
}

impl Secrets {
    /// The kind, `talos.secrets`.
    pub const KIND: &'static str = kinds::SECRETS;

    /// The secrets of cluster `cluster`, for contract v1.13.
    #[track_caller]
    pub fn new(cluster: impl AsRef<str>) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, cluster.as_ref());
        spec.check_set = Some(crate::checks::SET);
        spec.set("contract", VersionContract::V1_13.to_string());
        spec.lifecycle.prevent_destroy = true;
        spec.field_locs
            .insert("prevent_destroy".into(), Location::caller());
        Secrets { spec }
    }

    /// The version contract (`v1.13`).
    #[track_caller]
    pub fn contract(mut self, contract: &str) -> Self {
        if let Some(p) = contract_problem(contract) {
            self.spec.invalid("contract", p, CONTRACT_HELP);
        }
        self.spec.set("contract", contract);
        self
    }

    /// Imports an existing bundle (the text of talosctl's `secrets.yaml`)
    /// instead of generating one: how a cluster made with `talosctl gen
    /// secrets` comes under the lab.
    #[track_caller]
    pub fn import(mut self, bundle: Secret) -> Self {
        self.spec.set("import", bundle);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Secrets {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a secrets bundle.
pub trait SecretsOutputs {
    /// The bundle, as talosctl's `secrets.yaml` text.
    #[track_caller]
    fn bundle(&self) -> Output<Secret>;
    /// The SHA-256 (hex) of the OS CA certificate: pins the Talos API.
    #[track_caller]
    fn os_ca_fingerprint(&self) -> Output<String>;
}

impl SecretsOutputs for Handle<Secrets> {
    #[track_caller]
    fn bundle(&self) -> Output<Secret> {
        self.output("bundle")
    }
    #[track_caller]
    fn os_ca_fingerprint(&self) -> Output<String> {
        self.output("os_ca_fingerprint")
    }
}

/// One Talos node (`talos.machine`, named after the node): the inputs its
/// machine config is generated from, where its Talos API listens, and the
/// VM it runs in. The provider applies the config (in maintenance mode the
/// first time), and re-applies it when the inputs change.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_talos::config::{ClusterInput, NodeInput, Role};
/// use lab_talos::model::*;
/// let mut lab = Lab::new("home");
/// let secrets = lab.add(Secrets::new("home"));
/// let cluster = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
/// let m = lab.add(Machine::new("cp1", "10.0.10.11", &cluster, &NodeInput::new(Role::ControlPlane), &secrets));
/// let spec = lab.resource(m.address()).unwrap();
/// assert_eq!(spec.attrs["role"], Value::from("controlplane"));
/// assert_eq!(spec.attrs["cluster"], Value::from("home"));
/// assert!(spec.attrs["secrets"].contains_ref());
/// ```
#[derive(Clone, Debug)]
pub struct Machine {
    spec: ResourceSpec,
}

impl Machine {
    /// The kind, `talos.machine`.
    pub const KIND: &'static str = kinds::MACHINE;

    /// Node `name` at `address` (its IP, no prefix), with the config inputs
    /// `cluster` and `node`, in the cluster whose secrets are `secrets`.
    /// The role is `node.role`.
    #[track_caller]
    pub fn new(
        name: impl AsRef<str>,
        address: &str,
        cluster: &ClusterInput,
        node: &NodeInput,
        secrets: &Handle<Secrets>,
    ) -> Self {
        let name = name.as_ref();
        let here = Location::caller();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        if let Some(p) = dns_label_problem(name) {
            spec.invalid(
                "name",
                format!("`{name}` is not a node name: {p}"),
                "name nodes like host names: `cp1`, `worker-2`",
            );
        }
        if let Err(p) = parse_ip(address) {
            spec.invalid(
                "address",
                p,
                "give the node's IP address, like `10.0.10.11`",
            );
        }
        spec.set("cluster", cluster.name.as_str());
        spec.set("role", kinds::role_str(node.role));
        spec.set("address", address);
        spec.set("config", kinds::config_value(cluster, node));
        spec.set_input::<Secret>("secrets", secrets.bundle());
        // Where each patch was given: the generic place; TalosCluster
        // records the exact lines.
        for (key, count) in [
            ("patches", cluster.patches.len()),
            ("control_plane_patches", cluster.control_plane_patches.len()),
            ("worker_patches", cluster.worker_patches.len()),
            ("node_patches", node.patches.len()),
        ] {
            for i in 0..count {
                spec.field_locs.insert(format!("{key}[{i}]"), here);
            }
        }
        Machine { spec }
    }

    /// The VM the node runs in: `vm` is its `vmid` output, so a new VM
    /// (a fresh disk) means a new machine.
    #[track_caller]
    pub fn vm(mut self, vm: &Handle<Vm>) -> Self {
        self.spec.set_input::<i64>("vm", vm.vmid());
        self
    }

    /// The Talos version the node runs (`v1.13.9`): the tag of its
    /// installer image. Changing it upgrades the node in place (the new
    /// installer, then a reboot), one node of the cluster at a time.
    #[track_caller]
    pub fn version(mut self, version: &str) -> Self {
        self.spec.set("version", version);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Machine {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a machine.
pub trait MachineOutputs {
    /// The SHA-256 of the config the node runs.
    #[track_caller]
    fn config_sha256(&self) -> Output<String>;
    /// The Talos version the node runs (`v1.13.9`).
    #[track_caller]
    fn talos_version(&self) -> Output<String>;
}

impl MachineOutputs for Handle<Machine> {
    #[track_caller]
    fn config_sha256(&self) -> Output<String> {
        self.output("config_sha256")
    }
    #[track_caller]
    fn talos_version(&self) -> Output<String> {
        self.output("talos_version")
    }
}

/// The cluster (`talos.cluster`): etcd bootstrapped once on the first
/// control plane, then the source of the admin kubeconfig and talosconfig.
/// It depends on every machine, so it is applied after all of them.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_talos::config::{ClusterInput, NodeInput, Role};
/// use lab_talos::model::*;
/// let mut lab = Lab::new("home");
/// let secrets = lab.add(Secrets::new("home"));
/// let input = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
/// let cp1 = lab.add(Machine::new("cp1", "10.0.10.11", &input, &NodeInput::new(Role::ControlPlane), &secrets));
/// let cluster = lab.add(Cluster::new("home", "https://10.0.10.5:6443", &secrets).control_plane(&cp1, "10.0.10.11"));
/// let spec = lab.resource(cluster.address()).unwrap();
/// assert_eq!(spec.attrs["bootstrap_node"], Value::from("10.0.10.11"));
/// let kubeconfig: Output<Secret> = cluster.kubeconfig();
/// # let _ = kubeconfig;
/// ```
#[derive(Clone, Debug)]
pub struct Cluster {
    spec: ResourceSpec,
    control_planes: Vec<String>,
    workers: Vec<String>,
}

impl Cluster {
    /// The kind, `talos.cluster`.
    pub const KIND: &'static str = kinds::CLUSTER;

    /// Cluster `name` with the Kubernetes API at `endpoint`
    /// (`https://<host>:<port>`, usually the VIP or a DNS name for it).
    #[track_caller]
    pub fn new(name: impl AsRef<str>, endpoint: &str, secrets: &Handle<Secrets>) -> Self {
        let name = name.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        if let Some(p) = dns_label_problem(name) {
            spec.invalid(
                "name",
                format!("`{name}` is not a cluster name: {p}"),
                "name the cluster like a host name: `home`, `k8s-lab`",
            );
        }
        if let Some(p) = endpoint_problem(endpoint) {
            spec.invalid(
                "endpoint",
                p,
                "write the Kubernetes API URL as https://<VIP or DNS name>:6443",
            );
        }
        spec.set("endpoint", endpoint);
        spec.set_input::<Secret>("secrets", secrets.bundle());
        // The kubeconfig's and talosconfig's client certificates (one year)
        // must stay valid for 30 more days; a plan renews them otherwise.
        spec.set("credentials", "valid");
        Cluster {
            spec,
            control_planes: Vec::new(),
            workers: Vec::new(),
        }
    }

    /// Adds a control plane at `address` (its IP). The first one is where
    /// etcd is bootstrapped.
    #[track_caller]
    pub fn control_plane(mut self, machine: &Handle<Machine>, address: &str) -> Self {
        self.spec.depend_on(machine, "control_planes");
        if self.control_planes.is_empty() {
            self.spec.set("bootstrap_node", address);
        }
        self.control_planes.push(address.to_owned());
        self.spec.set("control_planes", self.control_planes.clone());
        self
    }

    /// Adds a worker at `address` (its IP).
    #[track_caller]
    pub fn worker(mut self, machine: &Handle<Machine>, address: &str) -> Self {
        self.spec.depend_on(machine, "workers");
        self.workers.push(address.to_owned());
        self.spec.set("workers", self.workers.clone());
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Cluster {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(mut self) -> ResourceSpec {
        if !self.spec.attrs.contains_key("control_planes") {
            let at = self.spec.declared_at;
            self.spec.problems.push(lab_core::Problem {
                field: "control_planes".into(),
                message: "the cluster has no control plane".into(),
                help: "add at least one: .control_plane(\"cp1\", \"10.0.10.11/24\", &pve1)".into(),
                loc: at,
            });
            self.spec
                .attrs
                .insert("control_planes".into(), Value::List(Vec::new()));
        }
        if !self.spec.attrs.contains_key("workers") {
            self.spec
                .attrs
                .insert("workers".into(), Value::List(Vec::new()));
        }
        self.spec
    }
}

/// Outputs of a cluster.
pub trait ClusterOutputs {
    /// The admin kubeconfig.
    #[track_caller]
    fn kubeconfig(&self) -> Output<Secret>;
    /// The admin talosconfig (endpoints: the control planes' own
    /// addresses, never the VIP).
    #[track_caller]
    fn talosconfig(&self) -> Output<Secret>;
}

impl ClusterOutputs for Handle<Cluster> {
    #[track_caller]
    fn kubeconfig(&self) -> Output<Secret> {
        self.output("kubeconfig")
    }
    #[track_caller]
    fn talosconfig(&self) -> Output<Secret> {
        self.output("talosconfig")
    }
}

/// The registration of the cluster's Image Factory schematic
/// (`talos.schematic`, named after the cluster): the provider posts the
/// schematic's canonical YAML to the factory and checks that the factory
/// answers the id computed offline. The factory never forgets a schematic,
/// so destroying this resource does nothing.
/// [`super::TalosCluster::register_schematic`] adds one and makes the ISO
/// downloads wait for it.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_talos::factory::{ImageFactory, Schematic, QEMU_GUEST_AGENT, QEMU_GUEST_AGENT_SCHEMATIC_ID};
/// use lab_talos::model::*;
/// let mut lab = Lab::new("home");
/// let schematic = Schematic::new().extension(QEMU_GUEST_AGENT);
/// let reg = lab.add(SchematicRegistration::new("home", &ImageFactory::official(), &schematic));
/// let spec = lab.resource(reg.address()).unwrap();
/// assert_eq!(spec.attrs["id"], Value::from(QEMU_GUEST_AGENT_SCHEMATIC_ID));
/// assert_eq!(spec.attrs["factory"], Value::from("https://factory.talos.dev"));
/// assert_eq!(spec.attrs["schematic"], Value::from(schematic.canonical_yaml()));
/// let id: Output<String> = reg.id();
/// # let _ = id;
/// ```
#[derive(Clone, Debug)]
pub struct SchematicRegistration {
    spec: ResourceSpec,
}

impl SchematicRegistration {
    /// The kind, `talos.schematic`.
    pub const KIND: &'static str = kinds::SCHEMATIC;

    /// Registers `schematic` with `factory`, for cluster `cluster`.
    #[track_caller]
    pub fn new(cluster: impl AsRef<str>, factory: &ImageFactory, schematic: &Schematic) -> Self {
        let name = cluster.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        if let Some(p) = dns_label_problem(name) {
            spec.invalid(
                "name",
                format!("`{name}` is not a cluster name: {p}"),
                "name the cluster like a host name: `home`, `k8s-lab`",
            );
        }
        if let Err(e) = schematic.validate() {
            spec.invalid(
                "schematic",
                e.to_string(),
                "fix the schematic: official extensions are named like `siderolabs/qemu-guest-agent`",
            );
        }
        spec.set("factory", factory.base_url());
        // A schematic may embed a machine config (with its keys): then the
        // whole text is a secret, encrypted in the state and redacted in plans.
        if schematic
            .customization
            .embedded_machine_configuration
            .is_some()
        {
            spec.set("schematic", Secret::new(schematic.canonical_yaml()));
        } else {
            spec.set("schematic", schematic.canonical_yaml());
        }
        spec.set("id", schematic.id());
        SchematicRegistration { spec }
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for SchematicRegistration {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a schematic registration.
pub trait SchematicRegistrationOutputs {
    /// The id the factory answered (the offline id).
    #[track_caller]
    fn id(&self) -> Output<String>;
}

impl SchematicRegistrationOutputs for Handle<SchematicRegistration> {
    #[track_caller]
    fn id(&self) -> Output<String> {
        self.output("id")
    }
}
