//! The `network` picture (`graph --view network`): the lab's network as
//! one drawing, so a reader sees at a glance what sits where and what may
//! reach what.
//!
//! It is drawn from [`NetModel`], the same view the derivation, the checks
//! and `reach` read, so the picture shows what lab-net enforces, not a
//! second opinion:
//!
//! - each trust zone is a cluster holding its VLANs (nested clusters,
//!   `VLAN 20 10.0.20.0/24`) and one zone node the flows start from; nodes
//!   are coloured by their zone's trust (the legend names it);
//! - each guest is one node (name, address, its services and ports) in the
//!   VLAN of its first NIC; another NIC is an edge to that VLAN's zone;
//!   hosts (`net.host`) are nodes in their VLAN;
//! - the flows between zones are solid edges from the source zone to the
//!   destination zone (labelled with the ports) or to the guest of the
//!   service the flow names;
//! - the internal proxy's routes are dashed edges from the proxy's guest to
//!   each upstream, labelled with the route's host;
//! - the Internet is a node, with thick edges through the Cloudflare tunnel
//!   and its connector to each public service, labelled with the host name
//!   (`[Access]` when Cloudflare Access guards it).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use lab_core::picture::{Cluster, Edge, EdgeStyle, Node, Picture, PictureSet, PictureView, Shape};
use lab_core::{Lab, Value};

use crate::derive::firewall::flow_ports;
use crate::kinds::{Port, PublicExposure, CADDY};
use crate::read::{GuestView, NetModel, ServiceView};

/// The name of lab-net's view.
pub const NETWORK: &str = "network";

/// lab-net's pictures, carried by its specs (`graph --view network`).
pub const PICTURES: PictureSet = PictureSet { name: "net", views };

fn views() -> Vec<Arc<dyn PictureView>> {
    vec![Arc::new(NetworkView)]
}

/// The `network` view: zones, VLANs, guests and hosts, the flows between
/// zones, the internal proxy's routes and the public exposures.
///
/// ```
/// use lab_core::picture::PictureView;
/// use lab_core::prelude::*;
/// use lab_net::model::*;
/// use lab_net::picture::NetworkView;
///
/// let mut lab = Lab::new("home");
/// let servers = lab.add(Zone::servers());
/// lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24"));
/// let picture = NetworkView.picture(&lab);
/// assert!(picture.clusters.iter().any(|c| c.label == "VLAN 20 10.0.20.0/24"));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NetworkView;

impl PictureView for NetworkView {
    fn name(&self) -> &str {
        NETWORK
    }

    fn about(&self) -> &str {
        "zones, VLANs, guests and hosts, the flows between zones, the proxy's routes and the public exposures"
    }

    fn picture(&self, lab: &Lab) -> Picture {
        network_picture(lab, &NetModel::read(lab))
    }
}

/// The cluster id of a zone.
fn zone_cluster(zone: &str) -> String {
    format!("zone:{zone}")
}

/// The node id of a zone (the end of its flows).
fn zone_node(zone: &str) -> String {
    format!("zone-node:{zone}")
}

/// The cluster id of a VLAN.
fn vlan_cluster(vlan: &str) -> String {
    format!("vlan:{vlan}")
}

/// The node id of a host.
fn host_node(host: &str) -> String {
    format!("host:{host}")
}

/// The node id of a tunnel.
fn tunnel_node(tunnel: &str) -> String {
    format!("tunnel:{tunnel}")
}

/// The node id of the Internet.
const INTERNET: &str = "internet";

/// The legend class of a zone's trust (`trust: servers`).
fn trust_class(model: &NetModel, zone: Option<&str>) -> String {
    match zone.and_then(|z| model.zones.get(z)) {
        Some(z) => format!("trust: {}", z.spec.trust.as_str()),
        None => "no zone".to_string(),
    }
}

fn ports(ports: &[Port]) -> String {
    ports
        .iter()
        .map(Port::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An exposure is behind Cloudflare Access: it asks for it, or an Access
/// application covers its host.
fn public_access(model: &NetModel, public: &PublicExposure) -> bool {
    public.access.is_some() || model.edge.apps.values().any(|a| a.host() == public.host)
}

/// `https://host`, marked `[Access]` when Access guards it.
fn public_label(host: &str, access: bool) -> String {
    if access {
        format!("https://{host} [Access]")
    } else {
        format!("https://{host}")
    }
}

/// Builds the picture from `model` (read from `lab`, which is read again
/// only for the proxies' hand-written routes).
fn network_picture(lab: &Lab, model: &NetModel) -> Picture {
    let mut b = Builder {
        picture: Picture::new(format!("{}: network", lab.name()))
            .edge_meaning(
                EdgeStyle::Solid,
                "traffic a flow allows (or a guest's other NIC)",
            )
            .edge_meaning(EdgeStyle::Dashed, "a route of the internal proxy")
            .edge_meaning(
                EdgeStyle::Thick,
                "public, from the Internet through the tunnel",
            ),
        by_address: HashMap::new(),
    };
    b.zones(model);
    b.hosts(model);
    b.guests(model);
    b.flows(model);
    b.proxies(lab, model);
    b.public(model);
    // The legend names only the styles drawn.
    let mut picture = b.picture;
    let used: Vec<EdgeStyle> = picture.edges.iter().map(|e| e.style).collect();
    picture
        .edge_legend
        .retain(|(style, _)| used.contains(style));
    picture
}

struct Builder {
    picture: Picture,
    /// The node drawn for each known IPv4 address.
    by_address: HashMap<Ipv4Addr, String>,
}

impl Builder {
    fn has_node(&self, id: &str) -> bool {
        self.picture.find_node(id).is_some()
    }

    fn add_node(&mut self, node: Node) {
        self.picture.nodes.push(node);
    }

    fn add_edge(&mut self, edge: Edge) {
        self.picture.edges.push(edge);
    }

    /// Zones, their VLANs, and a node per zone.
    fn zones(&mut self, model: &NetModel) {
        for zone in model.zones.values() {
            self.picture.clusters.push(Cluster::new(
                zone_cluster(&zone.name),
                format!("zone {}", zone.name),
            ));
            // The cluster names the zone; its node stands for all of it.
            let mut label = "whole zone".to_string();
            if !zone.intra_allowed() {
                label.push_str("\nisolated");
            }
            self.add_node(
                Node::new(zone_node(&zone.name), label)
                    .class(trust_class(model, Some(&zone.name)))
                    .shape(Shape::Box)
                    .in_cluster(zone_cluster(&zone.name)),
            );
        }
        for vlan in model.vlans.values() {
            let mut c = Cluster::new(
                vlan_cluster(&vlan.name),
                format!("VLAN {} {}", vlan.spec.id, vlan.spec.cidr),
            );
            if model.zones.contains_key(&vlan.spec.zone) {
                c = c.inside(zone_cluster(&vlan.spec.zone));
            }
            self.picture.clusters.push(c);
        }
    }

    /// The services of the guest or host named `owner`, one line each.
    fn service_lines(model: &NetModel, owner: impl Fn(&ServiceView) -> bool) -> Vec<String> {
        model
            .services
            .values()
            .filter(|s| owner(s))
            .flat_map(|s| {
                let all: Vec<Port> = s.spec.ports.iter().chain(&s.spec.admin).copied().collect();
                let own = if all.is_empty() {
                    s.name.clone()
                } else {
                    format!("{} {}", s.name, ports(&all))
                };
                // Public names in the label too: an edge's label is left
                // out of the SVG where it would cover another.
                let public = s
                    .spec
                    .public
                    .iter()
                    .map(|p| public_label(&p.host, public_access(model, p)));
                std::iter::once(own).chain(public)
            })
            .collect()
    }

    fn hosts(&mut self, model: &NetModel) {
        for host in model.hosts.values() {
            let mut lines = vec![host.name.clone(), host.spec.address.clone()];
            lines.extend(Self::service_lines(model, |s| {
                s.spec.host.as_deref() == Some(host.name.as_str())
            }));
            let id = host_node(&host.name);
            let mut node = Node::new(&id, lines.join("\n"))
                .class(trust_class(
                    model,
                    model.vlan_zone(&host.spec.vlan).map(|z| z.name.as_str()),
                ))
                .shape(Shape::Box);
            if model.vlans.contains_key(&host.spec.vlan) {
                node = node.in_cluster(vlan_cluster(&host.spec.vlan));
            }
            if let Ok(ip) = host.spec.address.parse() {
                self.by_address.insert(ip, id.clone());
            }
            self.add_node(node);
        }
    }

    fn guests(&mut self, model: &NetModel) {
        for guest in &model.guests {
            let id = guest.address.to_string();
            let zone = model.guest_zone(guest);
            let first = guest.vlan_nics().next();
            let mut lines = vec![guest.name().to_string()];
            if let Some(ip) = first.and_then(|n| n.address) {
                lines.push(ip.to_string());
            }
            lines.extend(Self::service_lines(model, |s| {
                s.spec.guest.as_deref() == Some(id.as_str())
            }));
            for proxy in model.proxies.values() {
                if proxy.guest.as_deref() == Some(id.as_str()) {
                    lines.push(format!("caddy: {}", proxy.name));
                }
            }
            if model
                .edge
                .connectors
                .iter()
                .any(|c| c.guest == guest.address)
            {
                lines.push("tunnel connector".to_string());
            }
            let mut node =
                Node::new(&id, lines.join("\n")).class(trust_class(model, zone.as_deref()));
            match (first.and_then(|n| n.vlan.as_deref()), zone.as_deref()) {
                (Some(vlan), _) if model.vlans.contains_key(vlan) => {
                    node = node.in_cluster(vlan_cluster(vlan));
                }
                (_, Some(z)) if model.zones.contains_key(z) => {
                    node = node.in_cluster(zone_cluster(z));
                }
                _ => {}
            }
            for nic in guest.vlan_nics() {
                if let Some(ip) = nic.address {
                    self.by_address.entry(ip).or_insert_with(|| id.clone());
                }
            }
            self.add_node(node);
            self.other_nics(model, guest);
        }
    }

    /// An edge from a guest to the zone of each VLAN its NICs after the
    /// first join.
    fn other_nics(&mut self, model: &NetModel, guest: &GuestView) {
        for nic in guest.vlan_nics().skip(1) {
            let Some(vlan) = nic.vlan.as_deref().and_then(|v| model.vlans.get(v)) else {
                continue;
            };
            let to = zone_node(&vlan.spec.zone);
            if !self.has_node(&to) {
                continue;
            }
            let mut label = format!("{}: VLAN {}", nic.slot, vlan.spec.id);
            if let Some(ip) = nic.address {
                label.push_str(&format!(" {ip}"));
            }
            self.add_edge(Edge::new(guest.address.to_string(), to).label(label));
        }
    }

    /// The node a service runs on (its guest's or its host's).
    fn service_node(&self, service: &ServiceView) -> Option<String> {
        let id = match (&service.spec.guest, &service.spec.host) {
            (Some(g), _) => g.clone(),
            (None, Some(h)) => host_node(h),
            _ => return None,
        };
        self.has_node(&id).then_some(id)
    }

    fn flows(&mut self, model: &NetModel) {
        for flow in &model.flows {
            let from = zone_node(&flow.spec.from);
            if !self.has_node(&from) {
                continue;
            }
            let service = flow
                .spec
                .service
                .as_deref()
                .and_then(|s| model.services.get(s));
            let (to, label) = match service {
                Some(s) => {
                    let Some(to) = self.service_node(s) else {
                        continue;
                    };
                    let allowed = flow_ports(model, flow);
                    let mut label = s.name.clone();
                    if !allowed.is_empty() {
                        label.push_str(&format!(" {}", ports(&allowed)));
                    }
                    (to, label)
                }
                None => (zone_node(&flow.spec.to), ports(&flow.spec.ports)),
            };
            if self.has_node(&to) {
                self.add_edge(Edge::new(from, to).label(label));
            }
        }
    }

    /// The proxies and a dashed edge per route to its upstream.
    fn proxies(&mut self, lab: &Lab, model: &NetModel) {
        for proxy in model.proxies.values() {
            let from = match proxy.guest.as_deref().filter(|g| self.has_node(g)) {
                Some(guest) => guest.to_string(),
                None => {
                    let id = format!("proxy:{}", proxy.name);
                    self.add_node(Node::new(&id, format!("caddy: {}", proxy.name)).class("proxy"));
                    id
                }
            };
            let mut routed = Vec::new();
            for s in model.services.values() {
                let Some(exposure) = s.spec.proxy.as_ref().filter(|p| p.via == proxy.name) else {
                    continue;
                };
                if let Some(to) = self.service_node(s) {
                    routed.push(exposure.host.clone());
                    self.add_edge(
                        Edge::new(&from, to)
                            .label(&exposure.host)
                            .style(EdgeStyle::Dashed),
                    );
                }
            }
            // Routes written by hand: their upstreams' addresses.
            let spec = lab
                .resources()
                .find(|r| r.kind() == CADDY && r.name() == proxy.name);
            let routes = spec
                .and_then(|r| r.attrs.get("routes"))
                .and_then(Value::as_list)
                .unwrap_or_default();
            for route in routes {
                let Some(host) = route.get("host").and_then(Value::as_str) else {
                    continue;
                };
                if routed.iter().any(|h| h == host) {
                    continue;
                }
                let upstreams = route
                    .get("upstreams")
                    .and_then(Value::as_list)
                    .unwrap_or_default();
                for upstream in upstreams.iter().filter_map(Value::as_str) {
                    let to = self.upstream_node(upstream);
                    self.add_edge(Edge::new(&from, to).label(host).style(EdgeStyle::Dashed));
                }
            }
        }
    }

    /// The node at an upstream (`10.0.20.7:8000`, `http://10.0.20.7`): the
    /// guest or host with that address, else a node of its own.
    fn upstream_node(&mut self, upstream: &str) -> String {
        let bare = upstream
            .split_once("://")
            .map_or(upstream, |(_, rest)| rest);
        let host = bare.split(['/', ':']).next().unwrap_or(bare);
        if let Some(id) = host.parse().ok().and_then(|ip| self.by_address.get(&ip)) {
            return id.clone();
        }
        let id = format!("upstream:{upstream}");
        if !self.has_node(&id) {
            self.add_node(Node::new(&id, upstream).class("outside the lab"));
        }
        id
    }

    /// The Internet, the tunnels, their connectors, and a thick edge per
    /// public host name to the node serving it.
    fn public(&mut self, model: &NetModel) {
        let edge = &model.edge;
        // (tunnel name, host, access, target node)
        let mut exposures: Vec<(String, String, bool, String)> = Vec::new();
        for s in model.services.values() {
            let Some(to) = self.service_node(s) else {
                continue;
            };
            for p in &s.spec.public {
                let access = public_access(model, p);
                exposures.push((p.tunnel.clone(), p.host.clone(), access, to.clone()));
            }
        }
        for config in &edge.configs {
            let Some((tunnel, _)) = edge
                .tunnels
                .iter()
                .find(|(_, t)| t.address.to_string() == config.tunnel)
            else {
                continue;
            };
            for rule in &config.rules {
                if rule.derived_from.is_some() || rule.is_catch_all() {
                    continue;
                }
                let host = rule.hostname.clone().unwrap_or_default();
                if exposures.iter().any(|e| e.1 == host) {
                    continue;
                }
                let access = rule.access
                    || !rule.access_apps.is_empty()
                    || edge.apps.values().any(|a| a.host() == host);
                let to = self.upstream_node(&rule.service);
                exposures.push((tunnel.clone(), host, access, to));
            }
        }
        if exposures.is_empty() && edge.tunnels.is_empty() {
            return;
        }
        self.add_node(
            Node::new(INTERNET, "Internet")
                .class("internet")
                .shape(Shape::Box),
        );
        for name in edge.tunnels.keys() {
            let id = tunnel_node(name);
            self.add_node(
                Node::new(&id, format!("tunnel {name}\n(Cloudflare)"))
                    .class("cloudflare")
                    .shape(Shape::Box),
            );
            self.add_edge(Edge::new(INTERNET, &id).style(EdgeStyle::Thick));
        }
        for (tunnel, host, access, to) in exposures {
            let tid = tunnel_node(&tunnel);
            if !self.has_node(&tid) {
                continue;
            }
            // Through the tunnel's connector, when the lab says which
            // guest runs it.
            let from = edge
                .connectors
                .iter()
                .filter(|c| c.tunnel == tunnel)
                .map(|c| c.guest.to_string())
                .find(|g| self.has_node(g))
                .unwrap_or(tid);
            let label = if access {
                format!("{host} [Access]")
            } else {
                host
            };
            self.add_edge(Edge::new(from, to).label(label).style(EdgeStyle::Thick));
        }
        for c in &edge.connectors {
            let (tid, guest) = (tunnel_node(&c.tunnel), c.guest.to_string());
            if self.has_node(&tid) && self.has_node(&guest) {
                self.add_edge(
                    Edge::new(tid, guest)
                        .label("connector")
                        .style(EdgeStyle::Thick),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_addresses_find_their_node() {
        let mut b = Builder {
            picture: Picture::new("t"),
            by_address: HashMap::new(),
        };
        b.by_address
            .insert("10.0.20.7".parse().unwrap(), "proxmox.ct.app".into());
        assert_eq!(b.upstream_node("10.0.20.7:8000"), "proxmox.ct.app");
        assert_eq!(b.upstream_node("http://10.0.20.7/x"), "proxmox.ct.app");
        assert_eq!(b.upstream_node("10.9.9.9:80"), "upstream:10.9.9.9:80");
        assert!(b.has_node("upstream:10.9.9.9:80"));
    }
}
