//! `net.vlan`: a VLAN (802.1Q id, IPv4 subnet, gateway) of one zone, on a
//! VLAN-aware bridge (guest NICs get `bridge=<bridge>,tag=<id>`) or on a
//! Proxmox SDN VLAN zone (a VNet per VLAN; NICs get `bridge=<vnet>`).

use serde::{Deserialize, Serialize};

/// The spec of a `net.vlan`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VlanSpec {
    /// The 802.1Q id, 1 to 4094.
    pub id: i64,
    /// The zone's name.
    pub zone: String,
    /// The IPv4 subnet, `10.0.20.0/24`.
    pub cidr: String,
    /// The router's address on it.
    pub gateway: Option<String>,
    /// The VLAN-aware bridge (when not on SDN).
    pub bridge: Option<String>,
    /// The Proxmox SDN zone's name (`proxmox.sdn_zone`), when the VLAN is a
    /// VNet.
    pub sdn_zone: Option<String>,
    /// The addresses the lab's IPAM gives out, `first-last`.
    pub pool: Option<String>,
}

impl VlanSpec {
    /// The id of the VNet an SDN VLAN becomes: `vlan<id>` (PVE's VNet ids
    /// have at most 8 characters).
    pub fn vnet_id(&self) -> String {
        format!("vlan{}", self.id)
    }
}
