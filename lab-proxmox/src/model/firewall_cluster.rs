//! The datacenter firewall's options (`/cluster/firewall/options`): the
//! first of the three switches (datacenter, guest, NIC) that must all be
//! on for a guest's rules to filter anything.

use lab_core::{Resource, ResourceSpec};

use super::firewall_rule::Policy;
use crate::kinds;

/// The cluster firewall (`proxmox.firewall_cluster`, one per cluster,
/// named `cluster`). Declaring it turns the datacenter firewall on unless
/// `.enable(false)`; only the options set here are managed. Removing it
/// from the lab sets `enable` back to 0 and leaves the other options.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let fw = lab.add(ClusterFirewall::new().policy_in(Policy::Drop));
/// let spec = lab.resource(fw.address()).unwrap();
/// assert_eq!(spec.attrs["enable"], Value::Bool(true));
/// assert_eq!(spec.attrs["policy_in"], Value::from("DROP"));
/// ```
#[derive(Clone, Debug)]
pub struct ClusterFirewall {
    spec: ResourceSpec,
}

impl ClusterFirewall {
    /// The kind, `proxmox.firewall_cluster`.
    pub const KIND: &'static str = kinds::FIREWALL_CLUSTER;

    /// The cluster's firewall, enabled.
    #[track_caller]
    pub fn new() -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, "cluster");
        spec.check_set = Some(crate::checks::SET);
        spec.set("enable", true);
        ClusterFirewall { spec }
    }

    /// Turns the datacenter firewall on or off.
    #[track_caller]
    pub fn enable(mut self, on: bool) -> Self {
        self.spec.set("enable", on);
        self
    }

    /// The input policy of the host (and the default of the cluster's rules).
    #[track_caller]
    pub fn policy_in(mut self, policy: Policy) -> Self {
        self.spec.set("policy_in", policy.as_str());
        self
    }

    /// The output policy.
    #[track_caller]
    pub fn policy_out(mut self, policy: Policy) -> Self {
        self.spec.set("policy_out", policy.as_str());
        self
    }

    /// The forward policy (nftables `proxmox-firewall` only; `ACCEPT` or `DROP`).
    #[track_caller]
    pub fn policy_forward(mut self, policy: Policy) -> Self {
        if policy == Policy::Reject {
            self.spec.invalid(
                "policy_forward",
                "the forward policy cannot be REJECT",
                "use Policy::Accept or Policy::Drop",
            );
        }
        self.spec.set("policy_forward", policy.as_str());
        self
    }

    /// ebtables rules cluster-wide.
    #[track_caller]
    pub fn ebtables(mut self, on: bool) -> Self {
        self.spec.set("ebtables", on);
        self
    }

    /// The log rate limit as PVE's property string
    /// (`enable=1,rate=1/second,burst=5`).
    #[track_caller]
    pub fn log_ratelimit(mut self, limit: &str) -> Self {
        self.spec.set("log_ratelimit", limit);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Default for ClusterFirewall {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl Resource for ClusterFirewall {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
