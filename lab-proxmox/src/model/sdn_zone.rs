//! SDN zones: the cluster-wide VLAN layer (`/cluster/sdn/zones`) that
//! VNets ([`super::Vnet`]) live in.

use lab_core::{Handle, Resource, ResourceSpec};

use super::node::Node;
use crate::kinds;

/// An SDN zone (`proxmox.sdn_zone`); its resource name is the zone id PVE
/// shows (2 to 8 letters and digits, a letter first; checked by
/// `proxmox::sdn-id`).
///
/// A VLAN zone tags its VNets' traffic on one bridge of every node it
/// spans; that bridge must exist there and be VLAN-aware
/// (`bridge-vlan-aware yes`), which the plan checks against the nodes
/// (`proxmox::sdn-bridge-missing`, `proxmox::sdn-bridge-not-vlan-aware`).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
/// let zone = lab.add(SdnZone::vlan("lab", "vmbr0").mtu(1500).node(&pve1));
/// let spec = lab.resource(zone.address()).unwrap();
/// assert_eq!(spec.attrs["zone"], Value::from("lab"));
/// assert_eq!(spec.attrs["type"], Value::from("vlan"));
/// assert_eq!(spec.attrs["bridge"], Value::from("vmbr0"));
/// assert_eq!(spec.attrs["nodes"], Value::from(vec!["pve1"]));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct SdnZone {
    spec: ResourceSpec,
    nodes: Vec<String>,
}

impl SdnZone {
    /// The kind, `proxmox.sdn_zone`.
    pub const KIND: &'static str = kinds::SDN_ZONE;

    #[track_caller]
    fn new(id: &str, zone_type: &str) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, id);
        spec.check_set = Some(crate::checks::SET);
        spec.set("zone", id);
        spec.set("type", zone_type);
        SdnZone {
            spec,
            nodes: Vec::new(),
        }
    }

    /// A VLAN zone `id` on `bridge` (a VLAN-aware bridge every node it
    /// spans has, like `vmbr0`).
    #[track_caller]
    pub fn vlan(id: &str, bridge: &str) -> Self {
        let mut zone = SdnZone::new(id, "vlan");
        if bridge.is_empty() {
            zone.spec.invalid(
                "bridge",
                "a VLAN zone needs a bridge",
                "name the VLAN-aware bridge the zone tags on, like `vmbr0`",
            );
        }
        zone.spec.set("bridge", bridge);
        zone
    }

    /// A simple zone `id`: an isolated bridge per VNet on each node, no
    /// VLAN tags (routing and SNAT by the node).
    #[track_caller]
    pub fn simple(id: &str) -> Self {
        SdnZone::new(id, "simple")
    }

    /// The MTU of the VNets' bridges.
    #[track_caller]
    pub fn mtu(mut self, mtu: u32) -> Self {
        if !(576..=65520).contains(&mtu) {
            self.spec.invalid(
                "mtu",
                format!("an MTU of {mtu} is outside 576..=65520"),
                "use 1500, or 9000 for jumbo frames",
            );
        }
        self.spec.set("mtu", mtu);
        self
    }

    /// Limits the zone to `node` (call once per node; none: every node).
    #[track_caller]
    pub fn node(mut self, node: &Handle<Node>) -> Self {
        let name = node.address().name().to_string();
        self.spec.depend_on(node, "nodes");
        if !self.nodes.contains(&name) {
            self.nodes.push(name);
            self.nodes.sort();
        }
        self.spec.set("nodes", self.nodes.clone());
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for SdnZone {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
