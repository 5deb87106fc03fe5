//! `net.host`: a device with an address that is not a Proxmox guest (a
//! NAS, a Proxmox node's own interface, the router). The firewall lab-net
//! derives cannot filter in front of it; reachability still follows the
//! zone policy, which the router enforces.

use serde::{Deserialize, Serialize};

/// The spec of a `net.host`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Its VLAN's name.
    pub vlan: String,
    /// Its address on the VLAN.
    pub address: String,
}
