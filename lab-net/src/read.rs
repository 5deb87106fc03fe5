//! The lab as lab-net sees it: zones, VLANs, flows, services, hosts, DNS
//! names and the guests on VLANs, read from the specs into typed views,
//! with every address the IPAM gives ([`crate::ipam`]). The derivation,
//! the checks and the reachability answer all read this one view.
//!
//! [`edge`]: the Cloudflare side (tunnels, their rules, DNS, Access, the
//! connectors), in [`NetModel::edge`].

pub mod edge;

use std::net::Ipv4Addr;

use indexmap::IndexMap;
use lab_core::value::decode;
use lab_core::{Address, Lab, Loc, ResourceSpec, Value};
use lab_proxmox::addr::Cidr;

use crate::kinds::*;

/// A trust zone (`net.zone`) as [`NetModel::read`] finds it: its spec
/// decoded, and the line that declared it, for diagnostics.
#[derive(Clone, Debug)]
pub struct ZoneView {
    /// Its name.
    pub name: String,
    /// Its spec.
    pub spec: ZoneSpec,
    /// Where it was declared.
    pub loc: Loc,
}

impl ZoneView {
    /// Traffic inside the zone is allowed.
    pub fn intra_allowed(&self) -> bool {
        !self.spec.isolated.unwrap_or(false)
    }
}

/// A VLAN (`net.vlan`) as [`NetModel::read`] finds it: its spec, its
/// subnet parsed (the IPAM allocates in it), and where it was declared.
#[derive(Clone, Debug)]
pub struct VlanView {
    /// Its name.
    pub name: String,
    /// Its spec.
    pub spec: VlanSpec,
    /// Its subnet, when it parses.
    pub cidr: Option<Cidr>,
    /// Where it was declared.
    pub loc: Loc,
    /// Where each field was set.
    pub spec_address: Address,
}

impl VlanView {
    /// The subnet's (network, broadcast) as integers.
    pub fn bounds(&self) -> Option<(u32, u32)> {
        self.cidr.and_then(|c| c.v4_bounds())
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.cidr.map_or(24, |c| c.prefix)
    }

    /// True when `ip` is in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.bounds()
            .is_some_and(|(a, b)| (a..=b).contains(&u32::from(ip)))
    }

    /// The gateway, when it parses.
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.spec.gateway.as_deref().and_then(|g| g.parse().ok())
    }
}

/// An allowed flow between zones (`net.flow`) as [`NetModel::read`]
/// finds it; the firewall derivation and `reach` read it.
#[derive(Clone, Debug)]
pub struct FlowView {
    /// Its address.
    pub address: Address,
    /// Its spec.
    pub spec: FlowSpec,
    /// Where it was declared.
    pub loc: Loc,
}

/// A service on a guest or host (`net.service`) as [`NetModel::read`] finds
/// it, with the line that set each field so a check can point at it.
#[derive(Clone, Debug)]
pub struct ServiceView {
    /// Its name.
    pub name: String,
    /// Its spec.
    pub spec: ServiceSpec,
    /// Where it was declared.
    pub loc: Loc,
    /// Where each field was set.
    pub field_locs: IndexMap<String, Loc>,
}

/// A device that is not a Proxmox guest (`net.host`: a NAS, the router) as
/// [`NetModel::read`] finds it.
#[derive(Clone, Debug)]
pub struct HostView {
    /// Its name.
    pub name: String,
    /// Its spec.
    pub spec: HostSpec,
    /// Where it was declared.
    pub loc: Loc,
}

/// A local DNS name (`net.dns_record`) as [`NetModel::read`] finds it.
#[derive(Clone, Debug)]
pub struct DnsView {
    /// Its spec.
    pub spec: DnsRecordSpec,
    /// Where it was declared.
    pub loc: Loc,
}

/// A `net.caddy` reverse proxy.
#[derive(Clone, Debug)]
pub struct ProxyView {
    /// Its name.
    pub name: String,
    /// Where it was declared.
    pub loc: Loc,
    /// Where its hand-written routes were set, if any.
    pub routes_loc: Option<Loc>,
    /// The hosts of its routes (hand-written first, then derived).
    pub hosts: Vec<String>,
    /// How many of `hosts` were written by hand.
    pub hand_routes: usize,
    /// The guest it runs in (its address), if stated.
    pub guest: Option<String>,
}

/// A Proxmox guest's NIC.
#[derive(Clone, Debug)]
pub struct NicView {
    /// `net0`, ...
    pub slot: String,
    /// The lab-net VLAN it joined (`nic_on`), if any.
    pub vlan: Option<String>,
    /// The raw VLAN tag written with `.vlan(..)` (or derived).
    pub tag: Option<i64>,
    /// The NIC's firewall flag as the user wrote it.
    pub firewall: Option<bool>,
    /// Its IPv4 address: static, or the IPAM's.
    pub address: Option<Ipv4Addr>,
    /// The address was written by the user (not the IPAM's).
    pub static_address: bool,
    /// Where the NIC joined its VLAN (or was declared).
    pub loc: Loc,
    /// Where its address was written, if it was.
    pub address_loc: Option<Loc>,
}

/// A Proxmox guest (VM or container).
#[derive(Clone, Debug)]
pub struct GuestView {
    /// Its address (`proxmox.ct.immich`).
    pub address: Address,
    /// `qemu` or `lxc`.
    pub guest_type: &'static str,
    /// Its node's name.
    pub node: String,
    /// Its zone as written with `.zone(..)`, and where.
    pub zone: Option<(String, Loc)>,
    /// Its NICs.
    pub nics: Vec<NicView>,
    /// Where it was declared.
    pub loc: Loc,
    /// The provider instance it is bound to, if named.
    pub binding: Option<lab_core::model::ProviderBinding>,
    /// The guest's spec carries cloud-init (VMs).
    pub cloud_init: bool,
}

impl GuestView {
    /// The guest's name.
    pub fn name(&self) -> &str {
        self.address.name()
    }

    /// The NICs that joined a lab-net VLAN.
    pub fn vlan_nics(&self) -> impl Iterator<Item = &NicView> {
        self.nics.iter().filter(|n| n.vlan.is_some())
    }
}

/// Everything lab-net reads from a lab.
#[derive(Clone, Debug, Default)]
pub struct NetModel {
    /// Zones by name.
    pub zones: IndexMap<String, ZoneView>,
    /// VLANs by name.
    pub vlans: IndexMap<String, VlanView>,
    /// Flows in declaration order.
    pub flows: Vec<FlowView>,
    /// Services by name.
    pub services: IndexMap<String, ServiceView>,
    /// Hosts by name.
    pub hosts: IndexMap<String, HostView>,
    /// Local DNS names.
    pub dns: Vec<DnsView>,
    /// Guests with a NIC on a lab-net VLAN, a zone, or a raw VLAN tag.
    pub guests: Vec<GuestView>,
    /// `net.caddy` proxies by name.
    pub proxies: IndexMap<String, ProxyView>,
    /// NICs the IPAM found no free address for: (guest, slot).
    pub pool_exhausted: Vec<(Address, String)>,
    /// The Cloudflare edge.
    pub edge: edge::EdgeModel,
}

fn read<T: serde::de::DeserializeOwned>(spec: &ResourceSpec) -> Option<T> {
    decode(&spec.attrs).ok()
}

/// `value` with every reference to an output replaced by its name
/// (`cloudflare.access_group.ops#id`): a service's Access rules may name an
/// Access group's id, which the model view reads as text.
fn unref(value: &Value) -> Value {
    match value {
        Value::Ref(r) => Value::Str(r.to_string()),
        Value::List(l) => Value::List(l.iter().map(unref).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), unref(v))).collect()),
        other => other.clone(),
    }
}

impl NetModel {
    /// Reads `lab` (derived or not: the guests' own NIC attributes are read
    /// for raw tags and the firewall flag, lab-net's annotations for VLANs
    /// and addresses) and runs the IPAM.
    pub fn read(lab: &Lab) -> NetModel {
        let mut m = NetModel::default();
        for spec in lab.resources() {
            let name = spec.name().to_string();
            match spec.kind() {
                ZONE => {
                    if let Some(s) = read(spec) {
                        m.zones.insert(
                            name.clone(),
                            ZoneView {
                                name,
                                spec: s,
                                loc: spec.declared_at,
                            },
                        );
                    }
                }
                VLAN => {
                    if let Some(s) = read::<VlanSpec>(spec) {
                        let cidr = Cidr::parse(&s.cidr).ok().filter(|c| c.ip.is_ipv4());
                        m.vlans.insert(
                            name.clone(),
                            VlanView {
                                name,
                                spec: s,
                                cidr,
                                loc: spec.declared_at,
                                spec_address: spec.address.clone(),
                            },
                        );
                    }
                }
                FLOW => {
                    if let Some(s) = read(spec) {
                        m.flows.push(FlowView {
                            address: spec.address.clone(),
                            spec: s,
                            loc: spec.declared_at,
                        });
                    }
                }
                SERVICE => {
                    let attrs = spec
                        .attrs
                        .iter()
                        .map(|(k, v)| (k.clone(), unref(v)))
                        .collect();
                    if let Ok(s) = decode(&attrs) {
                        m.services.insert(
                            name.clone(),
                            ServiceView {
                                name,
                                spec: s,
                                loc: spec.declared_at,
                                field_locs: spec.field_locs.clone(),
                            },
                        );
                    }
                }
                HOST => {
                    if let Some(s) = read(spec) {
                        m.hosts.insert(
                            name.clone(),
                            HostView {
                                name,
                                spec: s,
                                loc: spec.declared_at,
                            },
                        );
                    }
                }
                DNS_RECORD => {
                    if let Some(s) = read(spec) {
                        m.dns.push(DnsView {
                            spec: s,
                            loc: spec.declared_at,
                        });
                    }
                }
                CADDY => {
                    let hosts = spec
                        .attrs
                        .get("routes")
                        .and_then(Value::as_list)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|r| r.get("host").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect();
                    let hand = spec
                        .annotations
                        .get("net.original.routes")
                        .or(spec.attrs.get("routes"))
                        .and_then(Value::as_list)
                        .map_or(0, <[Value]>::len);
                    m.proxies.insert(
                        name.clone(),
                        ProxyView {
                            name,
                            loc: spec.declared_at,
                            routes_loc: spec.field_locs.get("routes").copied(),
                            hosts,
                            hand_routes: hand,
                            guest: spec
                                .annotations
                                .get(PROXY_GUEST_ANNOTATION)
                                .and_then(Value::as_str)
                                .map(str::to_string),
                        },
                    );
                }
                lab_proxmox::kinds::VM | lab_proxmox::kinds::CT => {
                    if let Some(g) = guest_view(spec) {
                        m.guests.push(g);
                    }
                }
                _ => {}
            }
            m.edge.read(spec);
        }
        crate::ipam::allocate(&mut m);
        // A derived rule points at the exposure it follows from.
        let mut configs = std::mem::take(&mut m.edge.configs);
        for rule in configs.iter_mut().flat_map(|c| c.rules.iter_mut()) {
            if let Some(at) = rule.derived_from.as_ref().and_then(|e| m.exposure_loc(e)) {
                rule.loc = at;
            }
        }
        m.edge.configs = configs;
        m
    }

    /// The line that exposed a service publicly.
    pub fn exposure_loc(&self, exposure: &edge::ExposureRef) -> Option<Loc> {
        let s = self.services.get(&exposure.service)?;
        Some(
            s.field_locs
                .get(&format!("public.{}", exposure.index))
                .copied()
                .unwrap_or(s.loc),
        )
    }

    /// The zone of a VLAN.
    pub fn vlan_zone(&self, vlan: &str) -> Option<&ZoneView> {
        self.vlans
            .get(vlan)
            .and_then(|v| self.zones.get(&v.spec.zone))
    }

    /// The guest at `address`.
    pub fn guest(&self, address: &str) -> Option<&GuestView> {
        self.guests
            .iter()
            .find(|g| g.address.to_string() == address)
    }

    /// The zone a guest is in: the one it states, else its first NIC's
    /// VLAN's.
    pub fn guest_zone(&self, guest: &GuestView) -> Option<String> {
        if let Some((z, _)) = &guest.zone {
            return Some(z.clone());
        }
        guest
            .vlan_nics()
            .find_map(|n| n.vlan.as_deref())
            .and_then(|v| self.vlan_zone(v))
            .map(|z| z.name.clone())
    }

    /// The endpoints (zone, address) a service listens at.
    pub fn service_endpoints(&self, service: &ServiceView) -> Vec<Endpoint> {
        if let Some(g) = service.spec.guest.as_deref().and_then(|a| self.guest(a)) {
            return self.guest_endpoints(g);
        }
        if let Some(h) = service.spec.host.as_deref().and_then(|h| self.hosts.get(h)) {
            return self.host_endpoint(h).into_iter().collect();
        }
        Vec::new()
    }

    /// A guest's endpoints: one per NIC on a VLAN.
    pub fn guest_endpoints(&self, guest: &GuestView) -> Vec<Endpoint> {
        guest
            .vlan_nics()
            .filter_map(|n| {
                let vlan = n.vlan.as_deref()?;
                let zone = self.vlan_zone(vlan)?.name.clone();
                Some(Endpoint {
                    zone,
                    vlan: vlan.to_string(),
                    address: n.address,
                    guest: Some((guest.address.clone(), n.slot.clone())),
                })
            })
            .collect()
    }

    /// A host's endpoint.
    pub fn host_endpoint(&self, host: &HostView) -> Option<Endpoint> {
        let zone = self.vlan_zone(&host.spec.vlan)?.name.clone();
        Some(Endpoint {
            zone,
            vlan: host.spec.vlan.clone(),
            address: host.spec.address.parse().ok(),
            guest: None,
        })
    }
}

/// One place traffic can come from or go to: an address on a VLAN of a
/// zone (a guest's NIC or a host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The zone.
    pub zone: String,
    /// The VLAN.
    pub vlan: String,
    /// The address, when known.
    pub address: Option<Ipv4Addr>,
    /// The guest and NIC slot, for a guest.
    pub guest: Option<(Address, String)>,
}

fn guest_view(spec: &ResourceSpec) -> Option<GuestView> {
    let annotated: IndexMap<String, (String, Option<String>)> = spec
        .annotations
        .get(NICS_ANNOTATION)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| {
            Some((
                n.get("slot")?.as_str()?.to_string(),
                (
                    n.get("vlan")?.as_str()?.to_string(),
                    n.get("address").and_then(Value::as_str).map(str::to_string),
                ),
            ))
        })
        .collect();
    let zone = spec
        .annotations
        .get(ZONE_ANNOTATION)
        .and_then(Value::as_str)
        .map(|z| {
            (
                z.to_string(),
                spec.field_locs
                    .get(ZONE_ANNOTATION)
                    .copied()
                    .unwrap_or(spec.declared_at),
            )
        });
    let mut nics = Vec::new();
    for nic in spec
        .attrs
        .get("nics")
        .and_then(Value::as_list)
        .unwrap_or_default()
    {
        let Some(slot) = nic.get("slot").and_then(Value::as_str) else {
            continue;
        };
        let joined = annotated.get(slot);
        let nic_loc = spec
            .field_locs
            .get(&format!("{NICS_ANNOTATION}.{slot}"))
            .or_else(|| spec.field_locs.get(&format!("nics.{slot}")))
            .copied()
            .unwrap_or(spec.declared_at);
        let written = joined.and_then(|(_, a)| a.as_deref());
        nics.push(NicView {
            slot: slot.to_string(),
            vlan: joined.map(|(v, _)| v.clone()),
            tag: nic.get("tag").and_then(Value::as_i64),
            firewall: nic.get("firewall").and_then(Value::as_bool),
            address: written.and_then(|a| a.parse().ok()),
            static_address: written.is_some(),
            loc: nic_loc,
            address_loc: spec.field_locs.get(&format!("net.address.{slot}")).copied(),
        });
    }
    let interesting = zone.is_some() || !annotated.is_empty();
    if !interesting {
        return None;
    }
    let guest_type = if spec.kind() == lab_proxmox::kinds::VM {
        "qemu"
    } else {
        "lxc"
    };
    Some(GuestView {
        address: spec.address.clone(),
        guest_type,
        node: spec
            .attrs
            .get("node")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        zone,
        nics,
        loc: spec.declared_at,
        binding: spec.provider.clone(),
        cloud_init: spec.attrs.contains_key("cloud_init"),
    })
}
