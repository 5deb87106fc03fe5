//! SDN VNets: one per VLAN of a zone (`/cluster/sdn/vnets`), the bridge
//! name guests plug into instead of a per-NIC tag.

use indexmap::IndexMap;
use lab_core::{Handle, Resource, ResourceSpec, Value};

use super::sdn_zone::SdnZone;
use crate::kinds::{self, subnet_problem};

/// A VNet (`proxmox.sdn_vnet`) of an [`SdnZone`]; its resource name is
/// the VNet id PVE shows (2 to 8 letters and digits, a letter first),
/// which is also the bridge name guests use (`.nic("net0", "dmz")`).
///
/// The tag must be 1..=4094 and unique within the zone
/// (`proxmox::sdn-tag-range`, `proxmox::sdn-tag-reused`).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let zone = lab.add(SdnZone::vlan("lab", "vmbr0"));
/// let dmz = lab.add(
///     Vnet::new("dmz", &zone, 40)
///         .alias("DMZ")
///         .subnet("10.0.40.0/24", Some("10.0.40.1"))
///         .isolate_ports(true),
/// );
/// let spec = lab.resource(dmz.address()).unwrap();
/// assert_eq!(spec.attrs["zone"], Value::from("lab"));
/// assert_eq!(spec.attrs["tag"], Value::from(40));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Vnet {
    spec: ResourceSpec,
    subnets: Vec<IndexMap<String, Value>>,
}

impl Vnet {
    /// The kind, `proxmox.sdn_vnet`.
    pub const KIND: &'static str = kinds::SDN_VNET;

    /// VNet `id` in `zone`, carrying VLAN `tag`.
    #[track_caller]
    pub fn new(id: &str, zone: &Handle<SdnZone>, tag: u16) -> Self {
        let mut vnet = Vnet::build(id, zone);
        vnet.spec.set("tag", i64::from(tag));
        vnet
    }

    /// VNet `id` in a simple zone (no tag: simple zones refuse one).
    #[track_caller]
    pub fn untagged(id: &str, zone: &Handle<SdnZone>) -> Self {
        Vnet::build(id, zone)
    }

    #[track_caller]
    fn build(id: &str, zone: &Handle<SdnZone>) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, id);
        spec.check_set = Some(crate::checks::SET);
        spec.set("vnet", id);
        spec.set("zone", zone.address().name());
        spec.depend_on(zone, "zone");
        Vnet {
            spec,
            subnets: Vec::new(),
        }
    }

    /// A description shown beside the id (PVE's `alias`).
    #[track_caller]
    pub fn alias(mut self, alias: &str) -> Self {
        let ok = alias.len() <= 256
            && alias
                .chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "()-_.".contains(c));
        if !ok {
            self.spec.invalid(
                "alias",
                format!("`{alias}` is not a VNet alias PVE accepts"),
                "use up to 256 letters, digits, spaces and ( ) - _ .",
            );
        }
        self.spec.set("alias", alias);
        self
    }

    /// Isolates the guests' ports from each other on this VNet (they reach
    /// only the uplink).
    #[track_caller]
    pub fn isolate_ports(mut self, isolate: bool) -> Self {
        self.spec.set("isolate_ports", isolate);
        self
    }

    /// A subnet of the VNet (`10.0.40.0/24`) with its gateway (inside it).
    #[track_caller]
    pub fn subnet(mut self, cidr: &str, gateway: Option<&str>) -> Self {
        if let Some(p) = subnet_problem(cidr, gateway) {
            self.spec.invalid(
                "subnets",
                p,
                "write the subnet like `10.0.40.0/24` and its gateway inside it, like `10.0.40.1`",
            );
        }
        if self.subnets.iter().any(|s| s["cidr"] == Value::from(cidr)) {
            self.spec.invalid(
                "subnets",
                format!("subnet `{cidr}` is given twice"),
                "give each subnet once",
            );
        }
        let mut m = IndexMap::new();
        m.insert("cidr".to_string(), Value::from(cidr));
        if let Some(gw) = gateway {
            m.insert("gateway".to_string(), Value::from(gw));
        }
        self.subnets.push(m);
        self.set_subnets();
        self
    }

    /// Source NAT for the last subnet (simple zones routing out through the
    /// node).
    #[track_caller]
    pub fn snat(mut self, snat: bool) -> Self {
        match self.subnets.last_mut() {
            Some(last) => {
                last.insert("snat".to_string(), Value::from(snat));
                self.set_subnets();
            }
            None => self.spec.invalid(
                "subnets",
                "`.snat(..)` has no subnet before it",
                "call `.subnet(cidr, gateway)` first",
            ),
        }
        self
    }

    #[track_caller]
    fn set_subnets(&mut self) {
        let mut list = self.subnets.clone();
        list.sort_by(|a, b| a["cidr"].as_str().cmp(&b["cidr"].as_str()));
        self.spec.set(
            "subnets",
            Value::List(list.into_iter().map(Value::Map).collect()),
        );
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Vnet {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
