//! [`Vlan`]: a VLAN of a zone.

use lab_core::{Handle, ResourceSpec};
use lab_proxmox::addr::{parse_ip, Cidr};
use lab_proxmox::model::SdnZone;

use super::zone::{zone_name, Zone};
use super::{net_resource, net_spec};
use crate::kinds::VLAN;

/// A VLAN: an 802.1Q id, an IPv4 subnet and its gateway, in one zone. On
/// Proxmox it is a tag on a VLAN-aware bridge (`vmbr0` unless
/// [`Vlan::bridge`] says otherwise) or, with [`Vlan::sdn`], a VNet of an
/// SDN VLAN zone.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::{Vlan, Zone};
/// let mut lab = Lab::new("home");
/// let servers = lab.add(Zone::servers());
/// let v20 = lab.add(
///     Vlan::new("servers", 20, &servers)
///         .cidr("10.0.20.0/24")
///         .gateway("10.0.20.1")
///         .pool("10.0.20.100", "10.0.20.199"),
/// );
/// assert_eq!(v20.address().to_string(), "net.vlan.servers");
/// ```
pub struct Vlan {
    spec: ResourceSpec,
}

net_resource!(Vlan);

impl Vlan {
    /// VLAN `name` with 802.1Q id `id` (1 to 4094) in `zone`.
    #[track_caller]
    pub fn new(name: &str, id: u16, zone: &Handle<Zone>) -> Self {
        let mut spec = net_spec(VLAN, name);
        spec.set("id", i64::from(id));
        if !(1..=4094).contains(&id) {
            spec.invalid(
                "id",
                format!("VLAN id {id} is outside 1..4094"),
                "802.1Q ids run from 1 to 4094 (0 and 4095 are reserved)",
            );
        }
        spec.set("zone", zone_name(zone));
        spec.depend_on(zone, "zone");
        Vlan { spec }
    }

    /// The IPv4 subnet (`10.0.20.0/24`).
    #[track_caller]
    pub fn cidr(mut self, cidr: &str) -> Self {
        match Cidr::parse(cidr) {
            Ok(c) if c.ip.is_ipv4() && c.network() == cidr => {}
            Ok(c) if c.ip.is_ipv4() => self.spec.invalid(
                "cidr",
                format!("`{cidr}` is an address, not its subnet"),
                format!("write the subnet: `{}`", c.network()),
            ),
            Ok(_) => self.spec.invalid(
                "cidr",
                format!("`{cidr}` is IPv6; lab-net's VLANs are IPv4 for now"),
                "write the VLAN's IPv4 subnet, like `10.0.20.0/24`",
            ),
            Err(e) => self
                .spec
                .invalid("cidr", e, "write the subnet, like `10.0.20.0/24`"),
        }
        self.spec.set("cidr", cidr);
        self
    }

    /// The router's address on the VLAN.
    #[track_caller]
    pub fn gateway(mut self, address: &str) -> Self {
        if let Err(e) = parse_ip(address) {
            self.spec.invalid(
                "gateway",
                e,
                "write the gateway's address, like `10.0.20.1`",
            );
        }
        self.spec.set("gateway", address);
        self
    }

    /// The VLAN-aware bridge its guests' NICs use (default `vmbr0`).
    #[track_caller]
    pub fn bridge(mut self, bridge: &str) -> Self {
        self.spec.set("bridge", bridge);
        self
    }

    /// Makes the VLAN a VNet (`vlan<id>`) of this SDN VLAN zone: lab-net
    /// adds the VNet, and guests' NICs use it as their bridge, untagged.
    #[track_caller]
    pub fn sdn(mut self, zone: &Handle<SdnZone>) -> Self {
        self.spec.set("sdn_zone", zone.address().name());
        self.spec.depend_on(zone, "sdn_zone");
        self
    }

    /// The addresses the lab's IPAM hands out to NICs that state none
    /// (default: the subnet from its 10th address, or its 2nd in subnets
    /// smaller than /26).
    #[track_caller]
    pub fn pool(mut self, first: &str, last: &str) -> Self {
        for a in [first, last] {
            if let Err(e) = parse_ip(a) {
                self.spec
                    .invalid("pool", e, "write two addresses of the subnet");
            }
        }
        self.spec.set("pool", format!("{first}-{last}"));
        self
    }
}
