//! `proxmox.firewall_cluster`: the datacenter firewall's options
//! (`/cluster/firewall/options`, `[OPTIONS]` of `cluster.fw`); one per
//! cluster, named `cluster`.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `enable` | `Bool` | the datacenter switch (PVE's default: off) |
//! | `policy_in?`, `policy_out?` | `"ACCEPT"` \| `"DROP"` \| `"REJECT"` | |
//! | `policy_forward?` | `"ACCEPT"` \| `"DROP"` | |
//! | `ebtables?` | `Bool` | |
//! | `log_ratelimit?` | `Str` | PVE's property string (`enable=1,rate=1/second,burst=5`) |
//!
//! Only the fields the lab sets are compared and written; deleting the
//! resource sets `enable` back to 0 and leaves every other option alone.
//! No outputs.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

/// The spec of a `proxmox.firewall_cluster`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFirewallSpec {
    /// The datacenter firewall switch.
    pub enable: bool,
    /// Input policy.
    pub policy_in: Option<String>,
    /// Output policy.
    pub policy_out: Option<String>,
    /// Forward policy (nftables firewall only).
    pub policy_forward: Option<String>,
    /// ebtables rules cluster-wide.
    pub ebtables: Option<bool>,
    /// Log rate limit (property string).
    pub log_ratelimit: Option<String>,
}

/// The cluster firewall has no outputs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClusterFirewallOutputs {}

impl Kind for ClusterFirewallSpec {
    const KIND: &'static str = super::FIREWALL_CLUSTER;
    type Outputs = ClusterFirewallOutputs;

    /// One per cluster.
    fn identity(&self) -> Option<String> {
        Some("cluster firewall options".to_string())
    }
}
