//! `proxmox.sdn_zone`: an SDN zone of the cluster (`/cluster/sdn/zones`),
//! the VLAN (or simple) layer VNets live in.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `zone` | `Str` | PVE's `pve-sdn-zone-id`: 2 to 8 characters, a letter then letters and digits; forces replacement |
//! | `type` | `"vlan"` \| `"simple"` | forces replacement (PVE cannot change a zone's type) |
//! | `bridge?` | `Str` | the VLAN-aware bridge the zone tags on (`vmbr0`); required for `vlan` |
//! | `mtu?` | `Int` | MTU of the VNets' bridges |
//! | `nodes?` | `[Str]` | the nodes the zone spans (absent: every node), sorted |
//!
//! No outputs ([`SdnZoneOutputs`] is empty): other resources name a zone
//! by its id, which the spec gives.
//!
//! PVE keeps SDN changes **pending** until `PUT /cluster/sdn` applies them
//! all at once; the provider applies after every write, so an applied lab
//! is live. The zone's ownership is its id: SDN objects carry no comment.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

/// The spec of a `proxmox.sdn_zone`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdnZoneSpec {
    /// The zone id.
    pub zone: String,
    /// `vlan` or `simple`.
    #[serde(rename = "type")]
    pub zone_type: String,
    /// The bridge (VLAN zones).
    pub bridge: Option<String>,
    /// The MTU.
    pub mtu: Option<i64>,
    /// The nodes it spans (absent: all), sorted.
    pub nodes: Option<Vec<String>>,
}

/// The outputs of an SDN zone: none.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SdnZoneOutputs {}

impl Kind for SdnZoneSpec {
    const KIND: &'static str = super::SDN_ZONE;
    type Outputs = SdnZoneOutputs;

    /// The zone id, cluster-wide.
    fn identity(&self) -> Option<String> {
        Some(format!("sdn zone {}", self.zone))
    }
}

/// The zone types this kind manages.
pub const SDN_ZONE_TYPES: &[&str] = &["vlan", "simple"];

/// Why `id` is not a PVE SDN zone or VNet id (`pve-sdn-zone-id`,
/// `pve-sdn-vnet-id`: pattern `[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]`, 2 to 8
/// characters, pve-network `Zones/Plugin.pm`, `VnetPlugin.pm`).
///
/// ```
/// use lab_proxmox::kinds::sdn_id_problem;
/// assert_eq!(sdn_id_problem("lab"), None);
/// assert!(sdn_id_problem("servers01").unwrap().contains("8"));
/// assert!(sdn_id_problem("my-zone").is_some());
/// ```
pub fn sdn_id_problem(id: &str) -> Option<String> {
    if id.len() < 2 || id.len() > 8 {
        return Some(format!(
            "`{id}` has {} characters; PVE's SDN ids have 2 to 8",
            id.len()
        ));
    }
    let ok = id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric());
    (!ok).then(|| format!("`{id}` must start with a letter and hold only letters and digits"))
}
