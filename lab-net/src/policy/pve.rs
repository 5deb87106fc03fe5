//! The derived Proxmox firewall, evaluated as Proxmox evaluates it.
//!
//! This reads the attributes lab-net derived for lab-proxmox's firewall
//! kinds (exactly what is sent to the API) and answers for one packet
//! arriving at a guest's NIC, following pve-firewall's model for the `in`
//! direction of a guest:
//!
//! - nothing is filtered unless the datacenter firewall, the guest's
//!   firewall and the NIC's `firewall=1` are all on;
//! - the guest's rules run top to bottom (`pos` 0 first); a `group` rule
//!   (limited to one NIC by `iface`) runs the group's rules in order; the
//!   first enabled `in` rule whose source, destination, protocol and
//!   destination port match decides (ACCEPT, or DROP/REJECT);
//! - no match: the guest's `policy_in` (DROP when unset, as PVE's default).
//!
//! Source and destination are PVE address specs: an IP, a CIDR, `+ipset`
//! (its entries, `nomatch` entries excluded) or a comma list of those.
//! Ports are `dport` specs: numbers, `a:b` ranges, comma lists.

use std::net::Ipv4Addr;

use indexmap::IndexMap;
use lab_core::{Address, Lab, Value};
use lab_proxmox::addr::Cidr;

use crate::derive::firewall::{CLUSTER_FIREWALL, GROUP, GUEST_FIREWALL, IPSET};
use crate::kinds::{Port, Proto};

/// One firewall rule as derived.
#[derive(Clone, Debug, Default)]
pub struct FwRule {
    /// `in`, `out` or `group`.
    pub kind: String,
    /// ACCEPT, DROP, REJECT or a group's name.
    pub action: String,
    /// Address spec.
    pub source: Option<String>,
    /// Address spec.
    pub dest: Option<String>,
    /// Protocol.
    pub proto: Option<String>,
    /// Destination ports.
    pub dport: Option<String>,
    /// NIC.
    pub iface: Option<String>,
    /// Enabled.
    pub enable: bool,
}

impl FwRule {
    fn read(v: &Value) -> FwRule {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        FwRule {
            kind: s("type").unwrap_or_default(),
            action: s("action").unwrap_or_default(),
            source: s("source"),
            dest: s("dest"),
            proto: s("proto"),
            dport: s("dport"),
            iface: s("iface"),
            enable: v.get("enable").and_then(Value::as_bool).unwrap_or(true),
        }
    }
}

/// The derived firewall of a lab.
#[derive(Clone, Debug, Default)]
pub struct PveFirewall {
    /// The datacenter switch.
    pub cluster_enabled: bool,
    /// IPSets: (cidr, nomatch) entries.
    pub ipsets: IndexMap<String, Vec<(Cidr, bool)>>,
    /// Security groups' rules, in order.
    pub groups: IndexMap<String, Vec<FwRule>>,
    /// Guest firewalls by guest name: enabled, policy_in, rules.
    pub guests: IndexMap<String, (bool, String, Vec<FwRule>)>,
    /// NIC firewall flags by (guest address, slot).
    pub nic_firewall: IndexMap<(Address, String), bool>,
}

/// What the firewall does with a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PveVerdict {
    /// Accepted.
    pub allowed: bool,
    /// Which switch, rule or policy decided.
    pub by: String,
}

impl PveFirewall {
    /// Reads the derived firewall of `lab` (call `lab.derive()` first).
    pub fn read(lab: &Lab) -> PveFirewall {
        let mut fw = PveFirewall::default();
        for spec in lab.resources() {
            let rules = || -> Vec<FwRule> {
                spec.attrs
                    .get("rules")
                    .and_then(Value::as_list)
                    .unwrap_or_default()
                    .iter()
                    .map(FwRule::read)
                    .collect()
            };
            match spec.kind() {
                CLUSTER_FIREWALL => {
                    fw.cluster_enabled =
                        spec.attrs.get("enable").and_then(Value::as_bool) == Some(true);
                }
                IPSET => {
                    let entries = spec
                        .attrs
                        .get("entries")
                        .and_then(Value::as_list)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|e| {
                            let cidr = e.get("cidr").and_then(Value::as_str)?;
                            let cidr = if cidr.contains('/') {
                                Cidr::parse(cidr).ok()?
                            } else {
                                Cidr::parse(&format!("{cidr}/32")).ok()?
                            };
                            let nomatch = e.get("nomatch").and_then(Value::as_bool) == Some(true);
                            Some((cidr, nomatch))
                        })
                        .collect();
                    let name = spec.attrs.get("name").and_then(Value::as_str);
                    fw.ipsets
                        .insert(name.unwrap_or(spec.name()).to_string(), entries);
                }
                GROUP => {
                    let name = spec.attrs.get("group").and_then(Value::as_str);
                    fw.groups
                        .insert(name.unwrap_or(spec.name()).to_string(), rules());
                }
                GUEST_FIREWALL => {
                    let enabled = spec.attrs.get("enable").and_then(Value::as_bool) == Some(true);
                    let policy = spec
                        .attrs
                        .get("policy_in")
                        .and_then(Value::as_str)
                        .unwrap_or("DROP")
                        .to_string();
                    fw.guests
                        .insert(spec.name().to_string(), (enabled, policy, rules()));
                }
                lab_proxmox::kinds::VM | lab_proxmox::kinds::CT => {
                    for nic in spec
                        .attrs
                        .get("nics")
                        .and_then(Value::as_list)
                        .unwrap_or_default()
                    {
                        if let Some(slot) = nic.get("slot").and_then(Value::as_str) {
                            let on = nic.get("firewall").and_then(Value::as_bool) == Some(true);
                            fw.nic_firewall
                                .insert((spec.address.clone(), slot.to_string()), on);
                        }
                    }
                }
                _ => {}
            }
        }
        fw
    }

    /// The fate of a packet from `src` to guest `guest`'s NIC `slot` (whose
    /// address is `dst`) on `port`.
    pub fn evaluate(
        &self,
        src: Ipv4Addr,
        guest: &Address,
        slot: &str,
        dst: Ipv4Addr,
        port: &Port,
    ) -> PveVerdict {
        let open = |by: &str| PveVerdict {
            allowed: true,
            by: by.to_string(),
        };
        if !self.cluster_enabled {
            return open("the datacenter firewall is off");
        }
        let Some((enabled, policy, rules)) = self.guests.get(guest.name()) else {
            return open("the guest has no firewall");
        };
        if !enabled {
            return open("the guest's firewall is off");
        }
        if self.nic_firewall.get(&(guest.clone(), slot.to_string())) != Some(&true) {
            return open(&format!("{slot} has firewall=0"));
        }
        for (i, r) in rules.iter().enumerate() {
            if !r.enable {
                continue;
            }
            if r.kind == "group" {
                if r.iface.as_deref().is_some_and(|i| i != slot) {
                    continue;
                }
                let Some(group) = self.groups.get(&r.action) else {
                    continue;
                };
                for (j, g) in group.iter().enumerate() {
                    if g.enable && g.kind == "in" && self.matches(g, src, dst, port) {
                        return PveVerdict {
                            allowed: g.action == "ACCEPT",
                            by: format!("rule {j} of group {} ({})", r.action, g.action),
                        };
                    }
                }
                continue;
            }
            if r.kind == "in"
                && r.iface.as_deref().is_none_or(|i| i == slot)
                && self.matches(r, src, dst, port)
            {
                return PveVerdict {
                    allowed: r.action == "ACCEPT",
                    by: format!("guest rule {i} ({})", r.action),
                };
            }
        }
        PveVerdict {
            allowed: policy == "ACCEPT",
            by: format!("policy_in {policy}"),
        }
    }

    fn matches(&self, r: &FwRule, src: Ipv4Addr, dst: Ipv4Addr, port: &Port) -> bool {
        self.addr_matches(r.source.as_deref(), src)
            && self.addr_matches(r.dest.as_deref(), dst)
            && proto_matches(r.proto.as_deref(), port)
            && dport_matches(r.dport.as_deref(), port)
    }

    fn addr_matches(&self, spec: Option<&str>, ip: Ipv4Addr) -> bool {
        let Some(spec) = spec else { return true };
        spec.split(',').any(|part| {
            let part = part.trim();
            if let Some(set) = part.strip_prefix('+') {
                let Some(entries) = self.ipsets.get(set) else {
                    return false;
                };
                let ip = std::net::IpAddr::V4(ip);
                entries
                    .iter()
                    .any(|(c, nomatch)| !nomatch && c.contains(ip))
                    && !entries
                        .iter()
                        .any(|(c, nomatch)| *nomatch && c.contains(ip))
            } else if part.contains('/') {
                Cidr::parse(part).is_ok_and(|c| c.contains(std::net::IpAddr::V4(ip)))
            } else {
                part.parse::<Ipv4Addr>() == Ok(ip)
            }
        })
    }
}

fn proto_matches(rule: Option<&str>, port: &Port) -> bool {
    match (rule, port.proto) {
        (None, _) => true,
        (Some(_), Proto::Any) => false,
        (Some(p), q) => q.pve_name() == Some(p),
    }
}

fn dport_matches(rule: Option<&str>, port: &Port) -> bool {
    let Some(spec) = rule else { return true };
    if matches!(port.proto, Proto::Any | Proto::Icmp) {
        return false;
    }
    spec.split(',').any(|part| {
        let (a, b) = match part.split_once(':') {
            Some((a, b)) => (a.parse::<u16>(), b.parse::<u16>()),
            None => (part.parse::<u16>(), part.parse::<u16>()),
        };
        matches!((a, b), (Ok(a), Ok(b)) if a <= port.first && port.last <= b)
    })
}
