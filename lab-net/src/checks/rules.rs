//! The rules behind [`super`]'s codes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use lab_core::{Diagnostic, Lab, Loc};

use super::*;
use crate::kinds::Port;
use crate::policy::can_reach;
use crate::read::{Endpoint, NetModel};

fn err(code: &str, message: String, at: Loc, label: impl Into<String>) -> Diagnostic {
    Diagnostic::error(code, message).with_label(at, label)
}

pub(super) fn nic_zone(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for g in &m.guests {
        let Some((zone, zone_loc)) = &g.zone else {
            continue;
        };
        let zone_vlans: Vec<_> = m.vlans.values().filter(|v| &v.spec.zone == zone).collect();
        let listing = zone_vlans
            .iter()
            .map(|v| format!("`{}` ({})", v.name, v.spec.id))
            .collect::<Vec<_>>()
            .join(", ");
        let help = if listing.is_empty() {
            format!("zone `{zone}` has no VLAN yet: declare one with `Vlan::new(.., &zone)`")
        } else {
            format!("put the NIC on a VLAN of zone `{zone}`: {listing}; or move the guest to the other zone")
        };
        for n in &g.nics {
            match &n.vlan {
                Some(vlan) => {
                    let Some(v) = m.vlans.get(vlan) else { continue };
                    if &v.spec.zone != zone {
                        out.push(
                            err(
                                NIC_ZONE,
                                format!(
                                    "{} of `{}` is on VLAN `{vlan}` ({}, zone `{}`), but the guest is in zone `{zone}`",
                                    n.slot, g.address, v.spec.id, v.spec.zone
                                ),
                                n.loc,
                                format!("VLAN `{vlan}` is in zone `{}`", v.spec.zone),
                            )
                            .with_label(zone_loc, format!("the guest is in zone `{zone}`"))
                            .with_help(help.clone())
                            .for_resource(&g.address),
                        );
                    }
                }
                None => {
                    let Some(tag) = n.tag else { continue };
                    if !zone_vlans.iter().any(|v| v.spec.id == tag) {
                        out.push(
                            err(
                                NIC_ZONE,
                                format!(
                                    "{} of `{}` is tagged {tag}, which is none of zone `{zone}`'s VLANs",
                                    n.slot, g.address
                                ),
                                n.loc,
                                format!("tag {tag}"),
                            )
                            .with_label(zone_loc, format!("the guest is in zone `{zone}`"))
                            .with_help(format!("{help}; `.nic_on(slot, &vlan)` sets the tag from the VLAN"))
                            .for_resource(&g.address),
                        );
                    }
                }
            }
        }
    }
}

pub(super) fn vlan_ids(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    let mut seen: BTreeMap<(String, i64), &crate::read::VlanView> = BTreeMap::new();
    for v in m.vlans.values() {
        let carrier = match &v.spec.sdn_zone {
            Some(z) => format!("sdn:{z}"),
            None => format!("bridge:{}", v.spec.bridge.as_deref().unwrap_or("vmbr0")),
        };
        let _ = carrier;
        // One id is one broadcast domain on the wire, whatever carries it.
        if let Some(first) = seen.get(&(String::new(), v.spec.id)) {
            out.push(
                err(
                    VLAN_ID_REPEATED,
                    format!(
                        "VLAN `{}` and VLAN `{}` both have id {}",
                        first.name, v.name, v.spec.id
                    ),
                    v.loc,
                    "the second",
                )
                .with_label(first.loc, "the first")
                .with_help(
                    "give each VLAN its own id: one id is one broadcast domain on the switch",
                )
                .for_resource(&v.spec_address),
            );
        } else {
            seen.insert((String::new(), v.spec.id), v);
        }
    }
}

pub(super) fn cidr_overlap(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    let vlans: Vec<_> = m.vlans.values().collect();
    for (i, a) in vlans.iter().enumerate() {
        for b in &vlans[i + 1..] {
            let (Some(ca), Some(cb)) = (a.cidr, b.cidr) else {
                continue;
            };
            if ca.overlaps(&cb) {
                out.push(
                    err(
                        CIDR_OVERLAP,
                        format!(
                            "the subnets of VLAN `{}` ({}) and VLAN `{}` ({}) overlap",
                            a.name, a.spec.cidr, b.name, b.spec.cidr
                        ),
                        b.loc,
                        b.spec.cidr.clone(),
                    )
                    .with_label(a.loc, a.spec.cidr.clone())
                    .with_help("give each VLAN a subnet of its own: an address must say which VLAN (and zone) it is in")
                    .for_resource(&b.spec_address),
                );
            }
        }
    }
}

/// Every address of the lab: (address, vlan, where, what).
fn addresses(m: &NetModel) -> Vec<(Ipv4Addr, String, Loc, String, bool)> {
    let mut all = Vec::new();
    for g in &m.guests {
        for n in g.vlan_nics() {
            if let Some(a) = n.address {
                all.push((
                    a,
                    n.vlan.clone().unwrap_or_default(),
                    n.address_loc.unwrap_or(n.loc),
                    format!("{} of `{}`", n.slot, g.address),
                    n.static_address,
                ));
            }
        }
    }
    for h in m.hosts.values() {
        if let Ok(a) = h.spec.address.parse() {
            all.push((
                a,
                h.spec.vlan.clone(),
                h.loc,
                format!("host `{}`", h.name),
                true,
            ));
        }
    }
    all
}

pub(super) fn address_outside(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for (a, vlan, loc, what, _) in addresses(&m) {
        let Some(v) = m.vlans.get(&vlan) else {
            continue;
        };
        if v.cidr.is_some() && !v.contains(a) {
            out.push(
                err(
                    ADDRESS_OUTSIDE,
                    format!(
                        "{what} has address {a}, outside VLAN `{vlan}` ({})",
                        v.spec.cidr
                    ),
                    loc,
                    a.to_string(),
                )
                .with_label(v.loc, format!("VLAN `{vlan}` is {}", v.spec.cidr))
                .with_help(format!(
                    "give it an address in {}, or leave it out and let the lab's IPAM pick one",
                    v.spec.cidr
                )),
            );
        }
    }
    for v in m.vlans.values() {
        if let (Some(g), Some(_)) = (v.gateway(), v.cidr) {
            if !v.contains(g) {
                out.push(
                    err(
                        ADDRESS_OUTSIDE,
                        format!(
                            "the gateway {g} of VLAN `{}` is outside its subnet {}",
                            v.name, v.spec.cidr
                        ),
                        v.loc,
                        "here",
                    )
                    .with_help("the gateway is the router's address on this VLAN")
                    .for_resource(&v.spec_address),
                );
            }
        }
    }
}

pub(super) fn address_twice(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    let mut seen: BTreeMap<Ipv4Addr, (Loc, String)> = BTreeMap::new();
    for v in m.vlans.values() {
        if let Some(g) = v.gateway() {
            seen.insert(g, (v.loc, format!("the gateway of VLAN `{}`", v.name)));
        }
    }
    for (a, _, loc, what, _) in addresses(&m) {
        if let Some((first_loc, first)) = seen.get(&a) {
            out.push(
                err(
                    ADDRESS_TWICE,
                    format!("{what} and {first} both have address {a}"),
                    loc,
                    what.clone(),
                )
                .with_label(first_loc, first.clone())
                .with_help(
                    "give each its own address, or leave one out and let the lab's IPAM pick",
                ),
            );
        } else {
            seen.insert(a, (loc, what));
        }
    }
}

pub(super) fn pool_exhausted(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for (guest, slot) in &m.pool_exhausted {
        let Some(g) = m.guests.iter().find(|g| &g.address == guest) else {
            continue;
        };
        let Some(n) = g.nics.iter().find(|n| &n.slot == slot) else {
            continue;
        };
        let vlan = n.vlan.clone().unwrap_or_default();
        out.push(
            err(
                POOL_EXHAUSTED,
                format!("no free address left on VLAN `{vlan}` for {slot} of `{guest}`"),
                n.loc,
                "here",
            )
            .with_help(
                "widen the VLAN's `.pool(..)` (or its subnet), or give this NIC an `.address(..)`",
            )
            .for_resource(guest),
        );
    }
}

pub(super) fn host_twice(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    let mut seen: BTreeMap<String, (Loc, String)> = BTreeMap::new();
    let mut names: Vec<(String, Loc, String)> = Vec::new();
    for p in m.proxies.values() {
        for (i, host) in p.hosts.iter().enumerate() {
            if i < p.hand_routes {
                names.push((
                    host.clone(),
                    p.routes_loc.unwrap_or(p.loc),
                    format!("a route of proxy `{}`", p.name),
                ));
            }
        }
    }
    for s in m.services.values() {
        if let Some(x) = &s.spec.proxy {
            let at = s.field_locs.get("proxy").copied().unwrap_or(s.loc);
            names.push((
                x.host.clone(),
                at,
                format!("service `{}` through proxy `{}`", s.name, x.via),
            ));
        }
    }
    for d in &m.dns {
        names.push((d.spec.name.clone(), d.loc, "a local DNS record".to_string()));
    }
    for (host, loc, what) in names {
        let key = host.to_ascii_lowercase();
        if let Some((first_loc, first)) = seen.get(&key) {
            out.push(
                err(HOST_TWICE, format!("`{host}` is used twice: by {first} and by {what}"), loc, what.clone())
                    .with_label(first_loc, first.clone())
                    .with_help("one name, one service: Caddy would serve the same name from two places (or DNS would answer around the proxy); rename one"),
            );
        } else {
            seen.insert(key, (loc, what));
        }
    }
}

/// The endpoints of the proxy named `via`, from its guest.
fn proxy_endpoints(m: &NetModel, via: &str) -> Vec<Endpoint> {
    let Some(on) = m.proxies.get(via).and_then(|p| p.guest.as_deref()) else {
        return Vec::new();
    };
    if let Some(g) = m.guest(on) {
        return m.guest_endpoints(g);
    }
    on.strip_prefix("net.host.")
        .and_then(|h| m.hosts.get(h))
        .and_then(|h| m.host_endpoint(h))
        .into_iter()
        .collect()
}

/// The first source endpoint that cannot reach any of `targets` on `port`.
pub(super) fn denied(
    m: &NetModel,
    from: &[Endpoint],
    targets: &[Endpoint],
    port: &Port,
) -> Option<(Endpoint, crate::policy::Verdict)> {
    for f in from {
        let verdicts: Vec<_> = targets.iter().map(|t| can_reach(m, f, t, port)).collect();
        if !verdicts.is_empty() && verdicts.iter().all(|v| !v.allowed) {
            return Some((f.clone(), verdicts[0].clone()));
        }
    }
    None
}

pub(super) fn flow_denied(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for s in m.services.values() {
        let from = m.service_endpoints(s);
        for need in &s.spec.needs {
            let Some(t) = m.services.get(need) else {
                continue;
            };
            let targets = m.service_endpoints(t);
            for port in &t.spec.ports {
                if let Some((f, v)) = denied(&m, &from, &targets, port) {
                    let at = s
                        .field_locs
                        .get(&format!("needs.{need}"))
                        .copied()
                        .unwrap_or(s.loc);
                    out.push(
                        err(
                            FLOW_DENIED,
                            format!(
                                "service `{}` needs `{need}` on {port}, but the policy denies zone `{}` -> zone `{}`: {}",
                                s.name, f.zone, targets[0].zone, v.reason
                            ),
                            at,
                            "needed here",
                        )
                        .with_label(t.loc, format!("`{need}` is in zone `{}`", targets[0].zone))
                        .with_help(format!(
                            "allow it: `lab.add(Flow::allow(&{}, &{}).service(&{need}))`, or move one of the services",
                            f.zone, targets[0].zone
                        )),
                    );
                    break;
                }
            }
        }
        if let Some(p) = &s.spec.proxy {
            let from = proxy_endpoints(&m, &p.via);
            let targets = m.service_endpoints(s);
            let port = Port::tcp(p.port);
            if let Some((f, v)) = denied(&m, &from, &targets, &port) {
                let at = s.field_locs.get("proxy").copied().unwrap_or(s.loc);
                out.push(
                    err(
                        FLOW_DENIED,
                        format!(
                            "proxy `{}` forwards `{}` to `{}` on {port}, but the policy denies zone `{}` -> zone `{}`: {}",
                            p.via, p.host, s.name, f.zone, targets[0].zone, v.reason
                        ),
                        at,
                        "routed here",
                    )
                    .with_help(format!(
                        "allow it: `lab.add(Flow::allow(&{}, &{}).service(&{}))`",
                        f.zone, targets[0].zone, s.name
                    )),
                );
            }
        }
    }
    super::edge::connector_flows(&m, out);
}

pub(super) fn firewall_off(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for g in &m.guests {
        for n in g.vlan_nics() {
            if n.firewall != Some(false) {
                continue;
            }
            let Some(zone) = n.vlan.as_deref().and_then(|v| m.vlan_zone(v)) else {
                continue;
            };
            if zone.spec.trust.is_trusted() {
                continue;
            }
            let at = lab
                .resource(&g.address)
                .and_then(|s| {
                    s.field_locs
                        .get(&format!("nics.{}.firewall", n.slot))
                        .copied()
                })
                .unwrap_or(n.loc);
            out.push(
                err(
                    FIREWALL_OFF,
                    format!(
                        "{} of `{}` has its firewall off in zone `{}` ({}): nothing would keep other zones out",
                        n.slot, g.address, zone.name, zone.spec.trust.as_str()
                    ),
                    at,
                    "firewall off",
                )
                .with_help("remove `.firewall(false)`: lab-net turns it on and derives the rules; only guests of `mgmt` and `trusted` zones may run without it (or waive net::firewall-off with a reason)")
                .for_resource(&g.address),
            );
        }
    }
}

pub(super) fn admin_exposed(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    let untrusted: Vec<Endpoint> = m
        .zones
        .values()
        .filter(|z| z.spec.trust.is_untrusted())
        .map(|z| Endpoint {
            zone: z.name.clone(),
            vlan: String::new(),
            address: None,
            guest: None,
        })
        .collect();
    for s in m.services.values() {
        let targets = m.service_endpoints(s);
        for port in &s.spec.admin {
            for from in &untrusted {
                let Some(v) = targets
                    .iter()
                    .map(|t| can_reach(&m, from, t, port))
                    .find(|v| v.allowed)
                else {
                    continue;
                };
                let mut d = err(
                    ADMIN_EXPOSED,
                    format!(
                        "the admin surface {port} of service `{}` is reachable from zone `{}`: {}",
                        s.name, from.zone, v.reason
                    ),
                    s.field_locs.get("admin").copied().unwrap_or(s.loc),
                    "admin surface",
                )
                .with_help("admin surfaces are for `mgmt` and `trusted` clients: narrow the flow to the service's non-admin ports, or move the service out of that zone");
                if let crate::policy::Reason::Flow { loc, .. } = v.reason {
                    d = d.with_label(loc, "this flow lets it in");
                }
                out.push(d);
            }
        }
    }
}

/// The service's guest states `zone` with `.zone(..)`: a NIC of it on
/// another zone's VLAN is `net::nic-zone`'s finding, not the flow's.
fn stated_zone(m: &NetModel, s: &crate::read::ServiceView, zone: &str) -> bool {
    s.spec
        .guest
        .as_deref()
        .and_then(|g| m.guest(g))
        .and_then(|g| g.zone.as_ref())
        .is_some_and(|(z, _)| z == zone)
}

pub(super) fn flow_target(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for f in &m.flows {
        let Some(name) = &f.spec.service else {
            continue;
        };
        let Some(s) = m.services.get(name) else {
            continue;
        };
        let ends = m.service_endpoints(s);
        if ends.is_empty() {
            out.push(
                err(FLOW_TARGET, format!("flow `{}` targets service `{name}`, which has no address on a lab-net VLAN", f.address.name()), f.loc, "here")
                    .with_help("put the service's guest on a VLAN with `.nic_on(slot, &vlan)`"),
            );
        } else if !ends.iter().any(|e| e.zone == f.spec.to) && !stated_zone(&m, s, &f.spec.to) {
            out.push(
                err(
                    FLOW_TARGET,
                    format!(
                        "flow `{}` goes to zone `{}`, but service `{name}` is in zone `{}`",
                        f.address.name(),
                        f.spec.to,
                        ends[0].zone
                    ),
                    f.loc,
                    "here",
                )
                .with_label(s.loc, format!("`{name}` is in zone `{}`", ends[0].zone))
                .with_help(format!(
                    "write `Flow::allow(&{}, &{})`",
                    f.spec.from, ends[0].zone
                )),
            );
        }
    }
    for s in m.services.values() {
        if s.spec.proxy.is_some() && m.service_endpoints(s).iter().all(|e| e.address.is_none()) {
            out.push(
                err(FLOW_TARGET, format!("service `{}` is proxied but has no address on a lab-net VLAN", s.name), s.loc, "here")
                    .with_help("put its guest on a VLAN with `.nic_on(slot, &vlan)` so the proxy has an upstream"),
            );
        }
    }
}
