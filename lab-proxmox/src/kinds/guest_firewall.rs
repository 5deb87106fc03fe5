//! `proxmox.guest_firewall`: a guest's firewall
//! (`/nodes/{node}/{qemu,lxc}/{vmid}/firewall/{options,rules}`,
//! `/etc/pve/firewall/<vmid>.fw`): its options and its ordered rules;
//! a `type: group` rule attaches a security group.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `node` | `Str` | the guest's node |
//! | `vmid` | `Int` | usually a `Ref` to the guest's `vmid` output; forces replacement |
//! | `guest` | `"qemu"` \| `"lxc"` | forces replacement |
//! | `enable` | `Bool` | the guest's switch (NICs need `firewall=1` too) |
//! | `policy_in?`, `policy_out?` | `"ACCEPT"` \| `"DROP"` \| `"REJECT"` | |
//! | `ipfilter?`, `macfilter?`, `dhcp?`, `ndp?`, `radv?` | `Bool` | |
//! | `log_level_in?`, `log_level_out?` | `Str` | `emerg` ... `debug`, `nolog` |
//! | `rules` | [`FirewallRule`] list | ordered; each carries the lab's marker at the end of its comment in PVE (the read strips it) |
//!
//! Options the lab leaves out are not compared. The rule list is compared
//! whole: a rule added, edited, removed or moved by hand is drift. Delete
//! removes the rules carrying the marker and sets `enable` to 0. No outputs.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::FirewallRule;

/// The spec of a `proxmox.guest_firewall`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestFirewallSpec {
    /// The guest's node.
    pub node: String,
    /// The guest's VMID.
    pub vmid: i64,
    /// `qemu` or `lxc`.
    pub guest: String,
    /// The guest's firewall switch.
    pub enable: bool,
    /// Input policy.
    pub policy_in: Option<String>,
    /// Output policy.
    pub policy_out: Option<String>,
    /// IP anti-spoofing (`ipfilter-net*` ipsets).
    pub ipfilter: Option<bool>,
    /// MAC anti-spoofing.
    pub macfilter: Option<bool>,
    /// DHCP allowed.
    pub dhcp: Option<bool>,
    /// NDP allowed.
    pub ndp: Option<bool>,
    /// Router advertisements allowed.
    pub radv: Option<bool>,
    /// Log level of incoming traffic.
    pub log_level_in: Option<String>,
    /// Log level of outgoing traffic.
    pub log_level_out: Option<String>,
    /// The rules, in evaluation order.
    pub rules: Vec<FirewallRule>,
}

/// A guest firewall has no outputs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GuestFirewallOutputs {}

impl Kind for GuestFirewallSpec {
    const KIND: &'static str = super::GUEST_FIREWALL;
    type Outputs = GuestFirewallOutputs;

    /// The guest's VMID, cluster-wide.
    fn identity(&self) -> Option<String> {
        Some(format!("firewall of guest {}", self.vmid))
    }
}
