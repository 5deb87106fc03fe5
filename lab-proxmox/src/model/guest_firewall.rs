//! A guest's firewall (`/nodes/{node}/{qemu,lxc}/{vmid}/firewall`): its
//! switch, policies, anti-spoofing options and ordered rules; security
//! groups are attached as rules.

use lab_core::value::{encode_value, OutputRef};
use lab_core::{Handle, Resource, ResourceSpec, Value};

use super::container::Container;
use super::firewall_rule::{FirewallRule, Policy};
use super::node::Node;
use super::vm::Vm;
use super::GuestOutputs;
use crate::kinds;

/// The firewall of one guest (`proxmox.guest_firewall`). Enabled on
/// creation; the guest's NICs need `.firewall(true)` too for it to filter.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1"));
/// let web = lab.add(Vm::new("web", &pve1).nic("net0", "vmbr0").firewall(true));
/// let sg = lab.add(SecurityGroup::new("sg_web").rule(FirewallRule::accept_in().macro_name("https")));
/// let fw = lab.add(
///     GuestFirewall::vm("web-fw", &web, &pve1)
///         .policy_in(Policy::Drop)
///         .ipfilter(true)
///         .rule(FirewallRule::group(&sg).iface("net0")),
/// );
/// let spec = lab.resource(fw.address()).unwrap();
/// assert_eq!(spec.attrs["guest"], Value::from("qemu"));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct GuestFirewall {
    spec: ResourceSpec,
    rules: Vec<Value>,
}

impl GuestFirewall {
    /// The kind, `proxmox.guest_firewall`.
    pub const KIND: &'static str = kinds::GUEST_FIREWALL;

    #[track_caller]
    fn make<R>(name: &str, guest: &Handle<R>, node: &Handle<Node>, kind: &str) -> Self
    where
        Handle<R>: GuestOutputs,
    {
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        let vmid = guest.vmid();
        spec.depend_on(guest, "vmid");
        spec.set(
            "vmid",
            Value::Ref(OutputRef {
                address: vmid.address().clone(),
                output: vmid.name().to_string(),
            }),
        );
        spec.depend_on(node, "node");
        spec.set("node", node.address().name());
        spec.set("guest", kind);
        spec.set("enable", true);
        spec.set("rules", Value::List(Vec::new()));
        GuestFirewall {
            spec,
            rules: Vec::new(),
        }
    }

    /// The firewall of VM `vm` on `node`.
    #[track_caller]
    pub fn vm(name: impl AsRef<str>, vm: &Handle<Vm>, node: &Handle<Node>) -> Self {
        Self::make(name.as_ref(), vm, node, "qemu")
    }

    /// The firewall of container `ct` on `node`.
    #[track_caller]
    pub fn container(name: impl AsRef<str>, ct: &Handle<Container>, node: &Handle<Node>) -> Self {
        Self::make(name.as_ref(), ct, node, "lxc")
    }

    /// Turns the guest's firewall on or off (default: on).
    #[track_caller]
    pub fn enable(mut self, on: bool) -> Self {
        self.spec.set("enable", on);
        self
    }

    /// The policy for incoming traffic no rule matched.
    #[track_caller]
    pub fn policy_in(mut self, policy: Policy) -> Self {
        self.spec.set("policy_in", policy.as_str());
        self
    }

    /// The policy for outgoing traffic no rule matched.
    #[track_caller]
    pub fn policy_out(mut self, policy: Policy) -> Self {
        self.spec.set("policy_out", policy.as_str());
        self
    }

    /// IP anti-spoofing (only the guest's own addresses may leave it).
    #[track_caller]
    pub fn ipfilter(mut self, on: bool) -> Self {
        self.spec.set("ipfilter", on);
        self
    }

    /// MAC anti-spoofing.
    #[track_caller]
    pub fn macfilter(mut self, on: bool) -> Self {
        self.spec.set("macfilter", on);
        self
    }

    /// DHCP allowed.
    #[track_caller]
    pub fn dhcp(mut self, on: bool) -> Self {
        self.spec.set("dhcp", on);
        self
    }

    /// NDP (IPv6 neighbour discovery) allowed.
    #[track_caller]
    pub fn ndp(mut self, on: bool) -> Self {
        self.spec.set("ndp", on);
        self
    }

    /// Router advertisements from the guest allowed.
    #[track_caller]
    pub fn radv(mut self, on: bool) -> Self {
        self.spec.set("radv", on);
        self
    }

    #[track_caller]
    fn log_level(mut self, field: &str, level: &str) -> Self {
        if !kinds::LOG_LEVELS.contains(&level) {
            self.spec.invalid(
                field,
                format!("`{level}` is not a log level"),
                "use emerg, alert, crit, err, warning, notice, info, debug or nolog",
            );
        }
        self.spec.set(field, level);
        self
    }

    /// Log level of incoming traffic.
    #[track_caller]
    pub fn log_level_in(self, level: &str) -> Self {
        self.log_level("log_level_in", level)
    }

    /// Log level of outgoing traffic.
    #[track_caller]
    pub fn log_level_out(self, level: &str) -> Self {
        self.log_level("log_level_out", level)
    }

    /// Appends a rule (evaluated after the ones before it);
    /// `FirewallRule::group(&sg)` attaches a security group.
    #[track_caller]
    pub fn rule(mut self, rule: FirewallRule) -> Self {
        rule.attach(&mut self.spec, false);
        if let Ok(v) = encode_value(rule.spec()) {
            self.rules.push(v);
        }
        self.spec.set("rules", Value::List(self.rules.clone()));
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for GuestFirewall {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
