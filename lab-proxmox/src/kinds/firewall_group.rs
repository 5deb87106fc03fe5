//! `proxmox.firewall_group`: a security group
//! (`/cluster/firewall/groups/{group}`, `[group name]` in `cluster.fw`):
//! an ordered list of rules guests attach with a `type: group` rule.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `group` | `Str` | ≤ 18 chars, `[A-Za-z][A-Za-z0-9\-\_]+`; forces replacement |
//! | `comment?` | `Str` | the user's; the lab's ownership marker ends PVE's comment, the read strips it |
//! | `rules` | [`FirewallRule`] list | ordered: index 0 = position 0 = evaluated first; `type` `in`/`out` only (PVE refuses groups in groups) |
//!
//! Outputs ([`SecurityGroupOutputs`]): `group`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::FirewallRule;

/// The spec of a `proxmox.firewall_group`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupSpec {
    /// The group name.
    pub group: String,
    /// The user's comment.
    pub comment: Option<String>,
    /// The rules, in evaluation order.
    pub rules: Vec<FirewallRule>,
}

/// The outputs of a security group.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SecurityGroupOutputs {
    /// The group name.
    pub group: String,
}

impl Kind for SecurityGroupSpec {
    const KIND: &'static str = super::FIREWALL_GROUP;
    type Outputs = SecurityGroupOutputs;

    /// The name, cluster-wide.
    fn identity(&self) -> Option<String> {
        Some(format!("firewall security group {}", self.group))
    }
}
