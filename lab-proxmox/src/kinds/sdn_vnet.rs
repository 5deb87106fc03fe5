//! `proxmox.sdn_vnet`: a VNet of an SDN zone (`/cluster/sdn/vnets`), the
//! bridge guests plug into (`bridge=<vnet>`, no `tag`: the VNet carries it).
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `vnet` | `Str` | PVE's `pve-sdn-vnet-id` (2 to 8 characters, a letter then letters and digits); forces replacement |
//! | `zone` | `Str` | the zone's id (a `Handle<SdnZone>` edge); in place |
//! | `tag?` | `Int` | the VLAN tag, 1..=4094 (VLAN zones need it, simple zones refuse it); unique within the zone |
//! | `alias?` | `Str` | a description (PVE's `alias`, up to 256 characters) |
//! | `isolate_ports?` | `Bool` | PVE's `isolate-ports` |
//! | `subnets?` | `[{cidr, gateway?, snat?}]` | `/cluster/sdn/vnets/{vnet}/subnets`, sorted by `cidr` |
//!
//! No outputs ([`SdnVnetOutputs`] is empty).

use lab_core::kind::Kind;

use crate::addr::Cidr;
use serde::{Deserialize, Serialize};

/// The spec of a `proxmox.sdn_vnet`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdnVnetSpec {
    /// The VNet id.
    pub vnet: String,
    /// The zone id.
    pub zone: String,
    /// The VLAN tag.
    pub tag: Option<i64>,
    /// The alias.
    pub alias: Option<String>,
    /// `isolate-ports`.
    pub isolate_ports: Option<bool>,
    /// Its subnets, sorted by CIDR.
    pub subnets: Option<Vec<SdnSubnet>>,
}

/// One subnet of a VNet.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdnSubnet {
    /// The network, `10.0.40.0/24`.
    pub cidr: String,
    /// The gateway address inside it.
    pub gateway: Option<String>,
    /// Source NAT for the subnet (simple zones).
    pub snat: Option<bool>,
}

/// The outputs of a VNet: none.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SdnVnetOutputs {}

impl Kind for SdnVnetSpec {
    const KIND: &'static str = super::SDN_VNET;
    type Outputs = SdnVnetOutputs;

    /// The VNet id, cluster-wide.
    fn identity(&self) -> Option<String> {
        Some(format!("sdn vnet {}", self.vnet))
    }
}

/// The VLAN tags a VNet of a VLAN zone may carry.
pub const VNET_TAG_RANGE: std::ops::RangeInclusive<i64> = 1..=4094;

/// Whether `ip` lies inside network `cidr` (both well formed, one family).
///
/// ```
/// use lab_proxmox::kinds::cidr_contains;
/// assert!(cidr_contains("10.0.40.0/24", "10.0.40.1"));
/// assert!(!cidr_contains("10.0.40.0/24", "10.0.41.1"));
/// ```
pub fn cidr_contains(cidr: &str, ip: &str) -> bool {
    match (Cidr::parse(cidr), ip.parse::<std::net::IpAddr>()) {
        (Ok(net), Ok(ip)) => net.contains(ip),
        _ => false,
    }
}

/// Why a subnet (`cidr`, optional `gateway`) would be refused: PVE's texts
/// (pve-network `SubnetPlugin.pm`: `value does not look like a valid CIDR
/// network`, `<gw> is not in subnet <cidr>`), and a network written with
/// host bits set (PVE keeps the text as the subnet's id; the lab asks for
/// the network address so ids and CIDRs compare as written).
///
/// ```
/// use lab_proxmox::kinds::subnet_problem;
/// assert_eq!(subnet_problem("10.0.40.0/24", Some("10.0.40.1")), None);
/// assert!(subnet_problem("10.0.40.0/24", Some("10.0.50.1")).unwrap().contains("not in subnet"));
/// assert!(subnet_problem("10.0.40.7/24", None).unwrap().contains("10.0.40.0/24"));
/// ```
pub fn subnet_problem(cidr: &str, gateway: Option<&str>) -> Option<String> {
    let Ok(net) = Cidr::parse(cidr) else {
        return Some(format!(
            "`{cidr}`: value does not look like a valid CIDR network"
        ));
    };
    let prefix = net.prefix;
    if net.network() != net.to_string() {
        return Some(format!(
            "`{cidr}` has host bits set; write the network as `{}`",
            net.network()
        ));
    }
    if let Some(gw) = gateway {
        if gw.parse::<std::net::IpAddr>().is_err() {
            return Some(format!("gateway `{gw}` is not an IP address"));
        }
        let point_to_point = net.ip.is_ipv4() && prefix == 32;
        if !point_to_point && !cidr_contains(cidr, gw) {
            return Some(format!("{gw} is not in subnet {cidr}"));
        }
    }
    None
}
