//! The network policy checks: pure functions over the lab (and the
//! [`crate::read::NetModel`] view of it), each a `net::<rule>` code with
//! labels at the user's lines. They run on the derived lab, so they judge
//! what will be applied: the NICs' tags, the addresses the IPAM gave, the
//! proxy's routes.
//!
//! Every lab-net builder (and [`crate::model::GuestNet`] on a guest) puts
//! [`SET`] on its spec.
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_net::model::*;
//! let mut lab = Lab::new("home");
//! let servers = lab.add(Zone::servers());
//! let storage = lab.add(Zone::storage());
//! lab.add(Vlan::new("a", 20, &servers).cidr("10.0.20.0/24"));
//! lab.add(Vlan::new("b", 20, &storage).cidr("10.0.20.128/25"));
//! let codes: Vec<String> = lab.check().into_iter().map(|d| d.code).collect();
//! assert!(codes.contains(&"net::vlan-id-repeated".to_string()));
//! assert!(codes.contains(&"net::cidr-overlap".to_string()));
//! ```

pub mod caddy;
mod rules;

use lab_core::{Check, CheckSet, Severity};

/// A guest NIC on a VLAN of another zone than the guest's (or a raw tag
/// that is none of its zone's VLANs).
pub const NIC_ZONE: &str = "net::nic-zone";
/// Two VLANs with one id on one bridge or SDN zone.
pub const VLAN_ID_REPEATED: &str = "net::vlan-id-repeated";
/// Two VLANs whose subnets overlap.
pub const CIDR_OVERLAP: &str = "net::cidr-overlap";
/// An address (static, a host's, a gateway) outside its VLAN's subnet.
pub const ADDRESS_OUTSIDE: &str = "net::address-outside-vlan";
/// One address given to two NICs or hosts (or a NIC and the gateway).
pub const ADDRESS_TWICE: &str = "net::address-twice";
/// A VLAN's pool has no address left for a NIC.
pub const POOL_EXHAUSTED: &str = "net::pool-exhausted";
/// A host name served twice across the reverse proxy and the local DNS.
pub const HOST_TWICE: &str = "net::host-twice";
/// A service needs another (or the proxy needs its upstream) and the
/// policy denies the traffic.
pub const FLOW_DENIED: &str = "net::flow-denied";
/// A guest outside the trusted zones with its firewall turned off.
pub const FIREWALL_OFF: &str = "net::firewall-off";
/// An admin surface reachable from the `iot` or `guest` zones.
pub const ADMIN_EXPOSED: &str = "net::admin-exposed";
/// A flow to a service that is not in the flow's destination zone, or a
/// service or proxy route whose guest has no address on a lab-net VLAN.
pub const FLOW_TARGET: &str = "net::flow-target";

/// lab-net's checks, on every spec its builders make.
pub const SET: CheckSet = CheckSet {
    name: "net",
    checks,
};

fn checks() -> Vec<Check> {
    vec![
        Check::new(NIC_ZONE, Severity::Error, rules::nic_zone),
        Check::new(VLAN_ID_REPEATED, Severity::Error, rules::vlan_ids),
        Check::new(CIDR_OVERLAP, Severity::Error, rules::cidr_overlap),
        Check::new(ADDRESS_OUTSIDE, Severity::Error, rules::address_outside),
        Check::new(ADDRESS_TWICE, Severity::Error, rules::address_twice),
        Check::new(POOL_EXHAUSTED, Severity::Error, rules::pool_exhausted),
        Check::new(HOST_TWICE, Severity::Error, rules::host_twice),
        Check::new(FLOW_DENIED, Severity::Error, rules::flow_denied),
        Check::new(FIREWALL_OFF, Severity::Error, rules::firewall_off),
        Check::new(ADMIN_EXPOSED, Severity::Error, rules::admin_exposed),
        Check::new(FLOW_TARGET, Severity::Error, rules::flow_target),
    ]
}
