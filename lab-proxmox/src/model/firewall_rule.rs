//! Firewall rules as builders write them: one [`FirewallRule`] per line of
//! a security group or a guest firewall, with the ipsets and groups it
//! names taken by handle so the edges exist and the names cannot be typos.

use lab_core::{Handle, Loc, Problem, ResourceSpec};

use super::firewall_group::SecurityGroup;
use super::firewall_ipset::IpSet;
use crate::kinds::{self, canonical_macro, check_address, check_ports, check_proto};

/// A rule's verdict (`ACCEPT`, `DROP`, `REJECT`), also a guest's or the
/// datacenter's default policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Let the packet through.
    Accept,
    /// Drop it silently.
    Drop,
    /// Drop it and tell the sender.
    Reject,
}

impl Policy {
    /// The name PVE uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
            Policy::Reject => "REJECT",
        }
    }
}

/// One firewall rule for [`SecurityGroup::rule`] and
/// [`super::GuestFirewall::rule`]. Bad values are recorded where they were
/// written and reported by `check` once the rule is added.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let mgmt = lab.add(IpSet::new("zone_mgmt").entry("10.10.0.0/24"));
/// let sg = lab.add(
///     SecurityGroup::new("sg_dmz")
///         .rule(FirewallRule::accept_in().source_set(&mgmt).proto("tcp").dport("22"))
///         .rule(FirewallRule::drop_in()),
/// );
/// let spec = lab.resource(sg.address()).unwrap();
/// let Value::List(rules) = &spec.attrs["rules"] else { panic!() };
/// let Value::Map(first) = &rules[0] else { panic!() };
/// assert_eq!(first["source"], Value::from("+zone_mgmt"));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct FirewallRule {
    pub(crate) rule: kinds::FirewallRule,
    pub(crate) sets: Vec<Handle<IpSet>>,
    pub(crate) group: Option<Handle<SecurityGroup>>,
    problems: Vec<(&'static str, String, &'static str, Loc)>,
    at: Loc,
}

impl FirewallRule {
    #[track_caller]
    fn make(direction: &str, action: &str) -> Self {
        FirewallRule {
            rule: kinds::FirewallRule::new(direction, action),
            sets: Vec::new(),
            group: None,
            problems: Vec::new(),
            at: std::panic::Location::caller(),
        }
    }

    /// A rule for incoming traffic with `policy`.
    #[track_caller]
    pub fn incoming(policy: Policy) -> Self {
        Self::make("in", policy.as_str())
    }

    /// A rule for outgoing traffic with `policy`.
    #[track_caller]
    pub fn outgoing(policy: Policy) -> Self {
        Self::make("out", policy.as_str())
    }

    /// `IN ACCEPT`.
    #[track_caller]
    pub fn accept_in() -> Self {
        Self::incoming(Policy::Accept)
    }

    /// `IN DROP`.
    #[track_caller]
    pub fn drop_in() -> Self {
        Self::incoming(Policy::Drop)
    }

    /// `IN REJECT`.
    #[track_caller]
    pub fn reject_in() -> Self {
        Self::incoming(Policy::Reject)
    }

    /// `OUT ACCEPT`.
    #[track_caller]
    pub fn accept_out() -> Self {
        Self::outgoing(Policy::Accept)
    }

    /// `OUT DROP`.
    #[track_caller]
    pub fn drop_out() -> Self {
        Self::outgoing(Policy::Drop)
    }

    /// `OUT REJECT`.
    #[track_caller]
    pub fn reject_out() -> Self {
        Self::outgoing(Policy::Reject)
    }

    /// Attaches security group `group` (`GROUP <name>`; guest firewalls only).
    #[track_caller]
    pub fn group(group: &Handle<SecurityGroup>) -> Self {
        let mut rule = Self::make("group", group.address().name());
        rule.group = Some(group.clone());
        rule
    }

    #[track_caller]
    fn problem(&mut self, field: &'static str, message: String, help: &'static str) {
        self.problems
            .push((field, message, help, std::panic::Location::caller()));
    }

    #[track_caller]
    fn address(&mut self, field: &'static str, addr: &str) -> Option<String> {
        if let Err(e) = check_address(addr) {
            self.problem(
                field,
                format!("`{addr}` is not a PVE address: {e}"),
                "write an IP, a CIDR (`10.0.0.0/24`), a comma list of one IP version, or use `_set(&ipset)`",
            );
        }
        Some(addr.to_string())
    }

    /// Matches packets from `addr` (IP, CIDR, comma list, alias, `+ipset`).
    #[track_caller]
    pub fn source(mut self, addr: &str) -> Self {
        self.rule.source = self.address("source", addr);
        self
    }

    /// Matches packets from the members of `set`.
    #[track_caller]
    pub fn source_set(mut self, set: &Handle<IpSet>) -> Self {
        self.rule.source = Some(format!("+{}", set.address().name()));
        self.sets.push(set.clone());
        self
    }

    /// Matches packets to `addr`.
    #[track_caller]
    pub fn dest(mut self, addr: &str) -> Self {
        self.rule.dest = self.address("dest", addr);
        self
    }

    /// Matches packets to the members of `set`.
    #[track_caller]
    pub fn dest_set(mut self, set: &Handle<IpSet>) -> Self {
        self.rule.dest = Some(format!("+{}", set.address().name()));
        self.sets.push(set.clone());
        self
    }

    /// Matches protocol `proto` (`tcp`, `udp`, `icmp`, a number).
    #[track_caller]
    pub fn proto(mut self, proto: &str) -> Self {
        if let Err(e) = check_proto(proto) {
            self.problem(
                "proto",
                e,
                "write a protocol name from /etc/protocols (`tcp`, `udp`, `icmp`) or its number",
            );
        }
        self.rule.proto = Some(proto.to_string());
        self
    }

    /// Matches destination ports (`22`, `80:85`, `http,https`; needs `proto`).
    #[track_caller]
    pub fn dport(mut self, ports: &str) -> Self {
        if let Err(e) = check_ports(ports) {
            self.problem(
                "dport",
                format!("`{ports}`: {e}"),
                "write ports as numbers, `from:to` ranges or service names, comma separated",
            );
        }
        self.rule.dport = Some(ports.to_string());
        self
    }

    /// Matches source ports.
    #[track_caller]
    pub fn sport(mut self, ports: &str) -> Self {
        if let Err(e) = check_ports(ports) {
            self.problem(
                "sport",
                format!("`{ports}`: {e}"),
                "write ports as numbers, `from:to` ranges or service names, comma separated",
            );
        }
        self.rule.sport = Some(ports.to_string());
        self
    }

    /// Matches an ICMP type (with `proto("icmp")`), e.g. `echo-request`.
    #[track_caller]
    pub fn icmp_type(mut self, icmp_type: &str) -> Self {
        self.rule.icmp_type = Some(icmp_type.to_string());
        self
    }

    /// Uses one of PVE's standard macros (`SSH`, `HTTPS`, `DNS`, ...; any case).
    #[track_caller]
    pub fn macro_name(mut self, name: &str) -> Self {
        match canonical_macro(name) {
            Some(m) => self.rule.macro_name = Some(m.to_string()),
            None => {
                self.problem(
                    "macro",
                    format!("unknown macro '{name}'"),
                    "use one of PVE's macros (lab_proxmox::kinds::MACROS), e.g. `SSH` or `HTTPS`",
                );
                self.rule.macro_name = Some(name.to_string());
            }
        }
        self
    }

    /// Limits the rule to one guest NIC (`net0`).
    #[track_caller]
    pub fn iface(mut self, iface: &str) -> Self {
        let ok = iface
            .strip_prefix("net")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            self.problem(
                "iface",
                format!("`{iface}` is not a guest NIC"),
                "name the NIC by its config key: `net0`, `net1`, ...",
            );
        }
        self.rule.iface = Some(iface.to_string());
        self
    }

    /// Logs matches at `level` (`info`, `warning`, ..., `nolog`).
    #[track_caller]
    pub fn log(mut self, level: &str) -> Self {
        if !kinds::LOG_LEVELS.contains(&level) {
            self.problem(
                "log",
                format!("`{level}` is not a log level"),
                "use emerg, alert, crit, err, warning, notice, info, debug or nolog",
            );
        }
        self.rule.log = Some(level.to_string());
        self
    }

    /// A comment shown next to the rule.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        if comment.contains('\n') {
            self.problem(
                "comment",
                "a rule's comment is one line".to_string(),
                "remove the line breaks",
            );
        }
        self.rule.comment = Some(comment.to_string());
        self
    }

    /// Keeps the rule but switches it off (`enable: 0`).
    #[track_caller]
    pub fn disabled(mut self) -> Self {
        self.rule.enable = false;
        self
    }

    /// The rule as the kinds carry it.
    pub fn spec(&self) -> &kinds::FirewallRule {
        &self.rule
    }

    /// Records the rule's problems (and those only visible once it is
    /// whole, as PVE's `verify_rule` finds them) on `spec` and the edges to
    /// the ipsets and group it names. `in_group`: a security group's rule.
    #[track_caller]
    pub(crate) fn attach(&self, spec: &mut ResourceSpec, in_group: bool) {
        let mut problems = self.problems.clone();
        let r = &self.rule;
        if in_group && r.direction == "group" {
            problems.push((
                "type",
                "security groups not allowed (a group cannot hold another group)".to_string(),
                "attach the groups to the guest firewall instead",
                self.at,
            ));
        }
        if in_group && r.iface.is_some() {
            problems.push((
                "iface",
                "parameter -i not allowed for this rule type (a group's rule cannot name a NIC)"
                    .to_string(),
                "limit the group to one NIC where the guest attaches it: `FirewallRule::group(&g).iface(\"net0\")`",
                self.at,
            ));
        }
        for (field, ports) in [("dport", &r.dport), ("sport", &r.sport)] {
            if ports.is_none() {
                continue;
            }
            match r.proto.as_deref() {
                None => problems.push((
                    field,
                    format!("missing property - '{field}' requires 'proto'"),
                    "add `.proto(\"tcp\")` (or udp) to the rule",
                    self.at,
                )),
                Some(p)
                    if !(kinds::PROTOCOLS_WITH_PORTS.contains(&p)
                        || field == "dport" && matches!(p, "icmp" | "icmpv6" | "ipv6-icmp")) =>
                {
                    problems.push((
                        field,
                        format!("protocol '{p}' does not support ports"),
                        "ports need tcp, udp, udplite, dccp or sctp",
                        self.at,
                    ))
                }
                Some(_) => {}
            }
        }
        for (field, message, help, loc) in problems {
            spec.problems.push(Problem {
                field: format!("rules.{field}"),
                message,
                help: help.to_string(),
                loc,
            });
        }
        for set in &self.sets {
            spec.depend_on(set, "rules");
        }
        if let Some(g) = &self.group {
            spec.depend_on(g, "rules");
        }
    }
}
