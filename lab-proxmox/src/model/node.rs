//! Cluster nodes (model only): the bridges guests may use, and each node's
//! local disk as a failure domain.

use lab_core::{Address, Appliance, ApplianceKind, Handle, Resource, ResourceSpec};

use super::common::dns_label_problem;
use crate::kinds;

/// A Proxmox VE node (`proxmox.node`, model only): its name is the PVE node
/// name. It declares the bridges guests may plug into (checked by
/// `proxmox::unknown-bridge`), and its `appliance` attribute names its local
/// disk, `appliance.<node>-disk` (see [`Node::local_disk`]).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0").bridge("vmbr1"));
/// let disk = lab.add(Node::local_disk(&pve1));
/// assert_eq!(disk.address().to_string(), "appliance.pve1-disk");
/// let spec = lab.resource(pve1.address()).unwrap();
/// assert_eq!(spec.attrs["bridges"], Value::from(vec!["vmbr0", "vmbr1"]));
/// assert_eq!(spec.attrs["appliance"], Value::from("appliance.pve1-disk"));
/// assert!(!spec.managed);
/// ```
///
/// With `.cores(16).memory_gb(64)` it also says what it can carry, so the
/// failure-domain analysis can tell whether the other nodes take its guests
/// when it fails.
#[derive(Clone, Debug)]
pub struct Node {
    spec: ResourceSpec,
    bridges: Vec<String>,
}

impl Node {
    /// The kind, `proxmox.node`.
    pub const KIND: &'static str = kinds::NODE;

    /// The node called `name` in the cluster (`pvecm nodes`).
    #[track_caller]
    pub fn new(name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        spec.managed = false;
        if let Some(p) = dns_label_problem(name) {
            spec.invalid(
                "name",
                format!("`{name}` is not a Proxmox node name: {p}"),
                "node names are host names: letters, digits and inner `-`",
            );
        }
        spec.set("bridges", Vec::<String>::new());
        spec.set("appliance", Self::disk_address(name).to_string());
        Node {
            spec,
            bridges: Vec::new(),
        }
    }

    /// Declares a bridge (`vmbr0`) on this node. Guests' NICs may only use
    /// declared bridges.
    #[track_caller]
    pub fn bridge(mut self, name: &str) -> Self {
        if name.is_empty() {
            self.spec
                .invalid("bridges", "a bridge name is empty", "write it like `vmbr0`");
        } else if !self.bridges.iter().any(|b| b == name) {
            self.bridges.push(name.to_string());
        }
        self.spec.set("bridges", self.bridges.clone());
        self
    }

    /// The node's CPU cores, for the capacity-on-loss analysis (can the
    /// other nodes carry this node's guests when it fails?).
    #[track_caller]
    pub fn cores(mut self, cores: u32) -> Self {
        if cores == 0 {
            self.spec.invalid(
                "cores",
                "a node has no cores",
                "write the node's core count (threads), like `.cores(16)`",
            );
        }
        self.spec.set("cores", cores);
        self
    }

    /// The node's memory, in GiB, for the capacity-on-loss analysis.
    #[track_caller]
    pub fn memory_gb(mut self, gib: u32) -> Self {
        if gib == 0 {
            self.spec.invalid(
                "memory_mb",
                "a node has no memory",
                "write the node's memory in GiB, like `.memory_gb(64)`",
            );
        }
        self.spec.set("memory_mb", u64::from(gib) * 1024);
        self
    }

    /// The node's local disk as an [`Appliance`] named `<node>-disk` of kind
    /// [`ApplianceKind::NodeDisk`], with a `node` attribute pointing back at
    /// the node. Add it to the lab and put local storages `.on(..)` it.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_proxmox::model::*;
    /// let mut lab = Lab::new("home");
    /// let pve1 = lab.add(Node::new("pve1"));
    /// let disk = lab.add(Node::local_disk(&pve1));
    /// let local = lab.add(Storage::existing("local").on(&disk).node(&pve1));
    /// let spec = lab.resource(local.address()).unwrap();
    /// assert_eq!(spec.attrs["appliance"], Value::from("appliance.pve1-disk"));
    /// ```
    #[track_caller]
    pub fn local_disk(node: &Handle<Node>) -> Appliance {
        let name = Self::disk_address(node.address().name());
        let mut disk = Appliance::new(name.name()).kind(ApplianceKind::NodeDisk);
        disk.spec_mut().set_ref("node", node);
        disk
    }

    /// The address of node `node`'s local disk appliance.
    pub fn disk_address(node: &str) -> Address {
        Address::new(Appliance::KIND, &format!("{node}-disk"))
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Node {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
