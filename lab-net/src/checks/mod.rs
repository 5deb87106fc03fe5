//! The network policy checks: pure functions over the lab (and the
//! [`crate::read::NetModel`] view of it), each a `net::<rule>` code with
//! labels at the user's lines. They run on the derived lab, so they judge
//! what will be applied: the NICs' tags, the addresses the IPAM gave, the
//! proxy's routes.
//!
//! Every lab-net builder (and [`crate::model::GuestNet`] on a guest) puts
//! [`SET`] on its spec; the edge's checks (the Cloudflare side) are in
//! `edge`.
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
mod edge;
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
/// A service needs another (or the proxy needs its upstream, or a tunnel's
/// connector a service its rules send requests to) and the policy denies
/// the traffic.
pub const FLOW_DENIED: &str = "net::flow-denied";
/// A guest outside the trusted zones with its firewall turned off.
pub const FIREWALL_OFF: &str = "net::firewall-off";
/// An admin surface reachable from the `iot` or `guest` zones.
pub const ADMIN_EXPOSED: &str = "net::admin-exposed";
/// A flow to a service that is not in the flow's destination zone, or a
/// service or proxy route whose guest has no address on a lab-net VLAN.
pub const FLOW_TARGET: &str = "net::flow-target";

/// An admin port public through a tunnel (a service's exposure or a rule
/// written by hand) without Cloudflare Access on its rule.
pub const ADMIN_PUBLIC: &str = "net::admin-public";
/// A public name that does not go through the tunnel: a Cloudflare A/AAAA
/// record to a lab (VLAN or private) address.
pub const PUBLIC_BYPASS: &str = "net::public-bypass";
/// One host name used twice across tunnel rules, Cloudflare DNS and the
/// internal proxy or local DNS.
pub const PUBLIC_HOST_TWICE: &str = "net::public-host-twice";
/// A tunnel rule's path regex without a leading `^` (cloudflared matches
/// it anywhere in the path).
pub const UNANCHORED_PATH: &str = "net::unanchored-path";
/// A wildcard tunnel rule wider than the Access app it requires (Access
/// wildcards cover one level; the rule every depth).
pub const WILDCARD_WIDER: &str = "net::wildcard-wider-than-access";
/// An Access app in front of an admin surface whose policy includes
/// `everyone` or bypasses Access.
pub const ADMIN_APP_OPEN: &str = "net::admin-app-open";
/// A tunnel's connector on a VLAN that can reach the `mgmt` zone.
pub const CONNECTOR_MGMT: &str = "net::connector-reaches-mgmt";
/// Two `cloudflare.tunnel_config`s for one tunnel (the document has one
/// owner).
pub const CONFIG_TWICE: &str = "net::tunnel-config-twice";
/// A tunnel with public rules and no connector in the lab (warning).
pub const NO_CONNECTOR: &str = "net::tunnel-no-connector";
/// A public exposure lab-net cannot derive: its host in no zone of the
/// account, its service without an address, its port none of the
/// service's.
pub const PUBLIC_EXPOSURE: &str = "net::public-exposure";

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
        Check::new(ADMIN_PUBLIC, Severity::Error, edge::admin_public),
        Check::new(PUBLIC_BYPASS, Severity::Error, edge::public_bypass),
        Check::new(PUBLIC_HOST_TWICE, Severity::Error, edge::host_twice),
        Check::new(UNANCHORED_PATH, Severity::Error, edge::unanchored_path),
        Check::new(WILDCARD_WIDER, Severity::Error, edge::wildcard_wider),
        Check::new(ADMIN_APP_OPEN, Severity::Error, edge::admin_app_open),
        Check::new(CONNECTOR_MGMT, Severity::Error, edge::connector_mgmt),
        Check::new(CONFIG_TWICE, Severity::Error, edge::config_twice),
        Check::new(NO_CONNECTOR, Severity::Warning, edge::no_connector),
        Check::new(PUBLIC_EXPOSURE, Severity::Error, edge::public_exposure),
    ]
}
