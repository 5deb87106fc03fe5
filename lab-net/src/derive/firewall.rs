//! The Proxmox firewall, derived from the zone policy.
//!
//! - One IPSet per zone with VLANs, `zone-<zone>`, holding its subnets; one
//!   per service a flow targets, `svc-<service>`, holding its addresses.
//! - One security group per zone with guests, `zone-<zone>`: the traffic
//!   its guests accept, in order: from the zone itself (unless isolated),
//!   then every flow into the zone in the order the code declares them,
//!   one rule per port (`IN ACCEPT -source +zone-<from> [-dest
//!   +svc-<service>] -p <proto> -dport <port>`).
//! - One guest firewall per guest on a VLAN: enabled, `policy_in DROP`,
//!   `policy_out ACCEPT` (egress is judged by the receiving side), and the
//!   group of each NIC's zone attached to that NIC (`GROUP zone-<zone> -i
//!   netN`); each NIC has `firewall=1` (see `super::nics`).
//! - The datacenter switch (`proxmox.firewall_cluster`), turned on last.
//!
//! Proxmox filters at the guest's tap: traffic between zones is denied at
//! the receiving guest whatever the router does; traffic to hosts that are
//! not guests (a NAS, a node) is the router's to filter. Replies are
//! allowed by connection tracking, so no rule is written for them.

use indexmap::IndexMap;
use lab_core::model::ProviderBinding;
use lab_core::value::OutputRef;
use lab_core::{Address, Lab, Loc, ResourceSpec, Value};

use super::{add, push_dep};
use crate::kinds::Port;
use crate::read::{GuestView, NetModel};

pub use lab_proxmox::kinds::{
    FIREWALL_CLUSTER as CLUSTER_FIREWALL, FIREWALL_GROUP as GROUP, FIREWALL_IPSET as IPSET,
    GUEST_FIREWALL,
};

/// The IPSet (and security group) of a zone.
pub fn zone_set(zone: &str) -> String {
    format!("zone-{zone}")
}

/// The IPSet of a service's addresses.
pub fn service_set(service: &str) -> String {
    format!("svc-{service}")
}

/// One rule as Proxmox's API takes it.
fn rule(fields: &[(&str, Value)]) -> Value {
    let mut map: IndexMap<String, Value> = IndexMap::new();
    for (k, v) in fields {
        map.insert((*k).to_string(), v.clone());
    }
    map.entry("enable".to_string()).or_insert(Value::Bool(true));
    Value::Map(map)
}

/// The accept rule for traffic from `source` (an ipset) on `port`, to
/// `dest` (an ipset) when given.
fn accept(source: &str, dest: Option<&str>, port: &Port, comment: &str) -> Value {
    let mut fields = vec![
        ("type", Value::from("in")),
        ("action", Value::from("ACCEPT")),
        ("source", Value::from(format!("+{source}"))),
    ];
    if let Some(d) = dest {
        fields.push(("dest", Value::from(format!("+{d}"))));
    }
    if let Some(p) = port.proto.pve_name() {
        fields.push(("proto", Value::from(p)));
    }
    if let Some(d) = port.pve_dport() {
        fields.push(("dport", Value::from(d)));
    }
    fields.push(("comment", Value::from(comment)));
    rule(&fields)
}

struct Ctx {
    id: lab_core::LabId,
    binding: Option<ProviderBinding>,
    /// Appended to the addresses (not the PVE names) of this instance's
    /// cluster-wide objects when the lab has several.
    suffix: String,
}

impl Ctx {
    /// A spec of `kind` for the PVE object `name` on this instance.
    fn spec(&self, kind: &str, name: &str) -> ResourceSpec {
        let mut spec = ResourceSpec::new(kind, &format!("{name}{}", self.suffix));
        spec.check_set = Some(lab_proxmox::checks::SET);
        spec.provider = self.binding.clone();
        spec
    }

    /// Orders `spec` after this instance's object `name` of `kind`.
    fn dep(&self, spec: &mut ResourceSpec, kind: &str, name: &str, via: &str, at: Loc) {
        let on = Address::new(kind, &format!("{name}{}", self.suffix));
        if !spec.deps.iter().any(|d| d.on == on) {
            push_dep(spec, self.id, &on, via, at);
        }
    }
}

/// The ports a flow allows to its service (or to its zone).
pub fn flow_ports(model: &NetModel, flow: &crate::read::FlowView) -> Vec<Port> {
    if !flow.spec.ports.is_empty() {
        return flow.spec.ports.clone();
    }
    flow.spec
        .service
        .as_deref()
        .and_then(|s| model.services.get(s))
        .map(|s| s.spec.ports.iter().chain(&s.spec.admin).copied().collect())
        .unwrap_or_default()
}

pub(super) fn derive(lab: &mut Lab, model: &NetModel) {
    // One firewall per Proxmox instance the guests are bound to (usually
    // one; a lab with two clusters gets the cluster-wide objects on each,
    // their addresses suffixed with the instance's name).
    let mut clusters: IndexMap<Option<String>, Vec<&GuestView>> = IndexMap::new();
    for g in model
        .guests
        .iter()
        .filter(|g| g.vlan_nics().next().is_some())
    {
        clusters
            .entry(g.binding.as_ref().map(|b| b.name.clone()))
            .or_default()
            .push(g);
    }
    let several = clusters.len() > 1;
    for (instance, guests) in clusters {
        let suffix = match (&instance, several) {
            (Some(name), true) => format!("--{name}"),
            (None, true) => "--default".to_string(),
            _ => String::new(),
        };
        let ctx = Ctx {
            id: lab.id(),
            binding: guests[0].binding.clone(),
            suffix,
        };
        derive_for(lab, model, &ctx, &guests);
    }
}

fn derive_for(lab: &mut Lab, model: &NetModel, ctx: &Ctx, guests: &[&GuestView]) {
    // Zone IPSets.
    let mut zone_sets: IndexMap<String, Loc> = IndexMap::new();
    for zone in model.zones.values() {
        let cidrs: Vec<Value> = model
            .vlans
            .values()
            .filter(|v| v.spec.zone == zone.name)
            .map(|v| {
                let mut e = IndexMap::new();
                e.insert("cidr".to_string(), Value::from(v.spec.cidr.as_str()));
                e.insert(
                    "comment".to_string(),
                    Value::from(format!("VLAN {} ({})", v.spec.id, v.name)),
                );
                Value::Map(e)
            })
            .collect();
        if cidrs.is_empty() {
            continue;
        }
        let name = zone_set(&zone.name);
        let mut spec = ctx.spec(IPSET, &name);
        spec.set("name", name.as_str());
        spec.set("comment", format!("lab-net: zone {}", zone.name));
        spec.set("entries", Value::List(cidrs));
        add(lab, spec, zone.loc);
        zone_sets.insert(zone.name.clone(), zone.loc);
    }

    // Service IPSets, for the services flows name.
    let mut service_sets: IndexMap<String, ()> = IndexMap::new();
    for flow in &model.flows {
        let Some(name) = flow.spec.service.as_deref() else {
            continue;
        };
        let Some(service) = model.services.get(name) else {
            continue;
        };
        if service_sets.contains_key(name) {
            continue;
        }
        let entries: Vec<Value> = model
            .service_endpoints(service)
            .into_iter()
            .filter_map(|e| e.address)
            .map(|a| {
                let mut e = IndexMap::new();
                e.insert("cidr".to_string(), Value::from(format!("{a}/32")));
                Value::Map(e)
            })
            .collect();
        if entries.is_empty() {
            continue;
        }
        let set = service_set(name);
        let mut spec = ctx.spec(IPSET, &set);
        spec.set("name", set.as_str());
        spec.set("comment", format!("lab-net: service {name}"));
        spec.set("entries", Value::List(entries));
        add(lab, spec, service.loc);
        service_sets.insert(name.to_string(), ());
    }

    // Security groups, for the zones with guests.
    let mut groups: IndexMap<String, ()> = IndexMap::new();
    for g in guests {
        for nic in g.vlan_nics() {
            if let Some(z) = nic.vlan.as_deref().and_then(|v| model.vlan_zone(v)) {
                groups.insert(z.name.clone(), ());
            }
        }
    }
    for zone_name in groups.keys() {
        let Some(zone) = model.zones.get(zone_name) else {
            continue;
        };
        let group = zone_set(zone_name);
        let mut spec = ctx.spec(GROUP, &group);
        spec.set("group", group.as_str());
        spec.set("comment", format!("lab-net: into zone {zone_name}"));
        let mut rules = Vec::new();
        if zone.intra_allowed() && zone_sets.contains_key(zone_name) {
            rules.push(accept(
                &group,
                None,
                &Port::any(),
                &format!("inside zone {zone_name}"),
            ));
            ctx.dep(&mut spec, IPSET, &group, "rules", zone.loc);
        }
        for flow in model.flows.iter().filter(|f| &f.spec.to == zone_name) {
            if !zone_sets.contains_key(&flow.spec.from) {
                continue;
            }
            let dest = match &flow.spec.service {
                Some(s) if service_sets.contains_key(s) => Some(service_set(s)),
                Some(_) => continue,
                None => None,
            };
            let source = zone_set(&flow.spec.from);
            ctx.dep(&mut spec, IPSET, &source, "rules", flow.loc);
            if let Some(d) = &dest {
                ctx.dep(&mut spec, IPSET, d, "rules", flow.loc);
            }
            for port in flow_ports(model, flow) {
                rules.push(accept(
                    &source,
                    dest.as_deref(),
                    &port,
                    &format!("flow {}", flow.address.name()),
                ));
            }
        }
        spec.set("rules", Value::List(rules));
        add(lab, spec, zone.loc);
    }

    // Guest firewalls.
    let mut guest_fws = Vec::new();
    for g in guests {
        let at = g.vlan_nics().next().map_or(g.loc, |n| n.loc);
        let name = g.name().to_string();
        let mut spec = ResourceSpec::new(GUEST_FIREWALL, &name);
        spec.check_set = Some(lab_proxmox::checks::SET);
        spec.provider = g.binding.clone();
        spec.set("node", g.node.as_str());
        spec.set(
            "vmid",
            Value::Ref(OutputRef {
                address: g.address.clone(),
                output: "vmid".into(),
            }),
        );
        spec.set("guest", g.guest_type);
        spec.set("enable", true);
        spec.set("policy_in", "DROP");
        spec.set("policy_out", "ACCEPT");
        push_dep(&mut spec, ctx.id, &g.address, "vmid", at);
        let mut rules = Vec::new();
        for nic in g.vlan_nics() {
            let Some(zone) = nic.vlan.as_deref().and_then(|v| model.vlan_zone(v)) else {
                continue;
            };
            let group = zone_set(&zone.name);
            rules.push(rule(&[
                ("type", Value::from("group")),
                ("action", Value::from(group.as_str())),
                ("iface", Value::from(nic.slot.as_str())),
                ("comment", Value::from(format!("zone {}", zone.name))),
            ]));
            ctx.dep(&mut spec, GROUP, &group, "rules", nic.loc);
        }
        spec.set("rules", Value::List(rules));
        add(lab, spec, at);
        guest_fws.push((name, at));
    }

    // The datacenter switch, after every guest has its rules.
    let at = lab.declared_at();
    let mut spec = ctx.spec(CLUSTER_FIREWALL, "cluster");
    spec.set("enable", true);
    for (name, loc) in &guest_fws {
        let on = Address::new(GUEST_FIREWALL, name);
        push_dep(&mut spec, ctx.id, &on, "after", loc);
    }
    add(lab, spec, at);
}
