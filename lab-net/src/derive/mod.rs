//! lab-net's derivation: what follows from the zones, VLANs, flows and
//! services (see `lab_core::derive`).
//!
//! - NICs (`nics`): each guest NIC on a VLAN gets its bridge and tag (or
//!   its VNet, untagged), the firewall flag (unless the user set it), and
//!   its address: a container's `ip`/`gw`, a VM's cloud-init `ipconfigN`
//!   when it has cloud-init and no entry for that NIC.
//! - SDN: a VLAN on an SDN zone becomes a `proxmox.sdn_vnet` (`vlan<id>`).
//! - The firewall ([`firewall`]): IPSets, security groups, the guests'
//!   firewalls and the cluster switch, from the zone policy.
//! - Proxy routes: each service served through a `net.caddy` proxy adds a
//!   route (host -> the service's address and port) to that proxy.
//! - The edge ([`edge`]): each service exposed through a Cloudflare Tunnel
//!   adds a rule to the tunnel's ingress, a proxied CNAME, and behind
//!   Access an Access application and policy.

pub mod edge;
pub mod firewall;
mod nics;

use indexmap::IndexMap;
use lab_core::derive::Derivation;
use lab_core::{Lab, Loc, ResourceSpec, Value};

use lab_proxmox::kinds::{SDN_VNET, SDN_ZONE};

use crate::kinds::CADDY;
use crate::read::NetModel;

/// lab-net's derivation, on every spec its builders (and `GuestNet`) make.
pub const NET: Derivation = Derivation {
    name: "net",
    run: derive,
};

/// A spec made here, as a `lab_core::Resource`.
pub(crate) struct Made(pub ResourceSpec);

impl lab_core::Resource for Made {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.0
    }

    fn into_spec(self) -> ResourceSpec {
        self.0
    }
}

/// Adds a derived spec at the user's line `at`.
pub(crate) fn add(lab: &mut Lab, spec: ResourceSpec, at: Loc) {
    lab.add_derived(Made(spec), at);
}

fn derive(lab: &mut Lab) {
    let model = NetModel::read(lab);
    nics::derive(lab, &model);
    sdn(lab, &model);
    firewall::derive(lab, &model);
    proxy_routes(lab, &model);
    edge::derive(lab, &model);
}

/// One `proxmox.sdn_vnet` per VLAN on an SDN zone.
fn sdn(lab: &mut Lab, model: &NetModel) {
    for v in model.vlans.values() {
        let Some(zone) = &v.spec.sdn_zone else {
            continue;
        };
        let vnet = v.spec.vnet_id();
        let mut spec = ResourceSpec::new(SDN_VNET, &vnet);
        spec.check_set = Some(lab_proxmox::checks::SET);
        spec.set("vnet", vnet.as_str());
        spec.set("zone", zone.as_str());
        spec.set("tag", v.spec.id);
        spec.set("alias", v.name.as_str());
        let mut subnet = IndexMap::new();
        subnet.insert("cidr".to_string(), Value::from(v.spec.cidr.as_str()));
        if let Some(g) = &v.spec.gateway {
            subnet.insert("gateway".to_string(), Value::from(g.as_str()));
        }
        spec.set("subnets", Value::List(vec![Value::Map(subnet)]));
        let zone_address = lab_core::Address::new(SDN_ZONE, zone);
        push_dep(&mut spec, lab.id(), &zone_address, "zone", v.loc);
        add(lab, spec, v.loc);
    }
}

/// Appends each proxied service's route to its proxy's `routes`.
fn proxy_routes(lab: &mut Lab, model: &NetModel) {
    let mut routes: IndexMap<String, Vec<Value>> = IndexMap::new();
    for s in model.services.values() {
        let Some(p) = &s.spec.proxy else { continue };
        let Some(addr) = model
            .service_endpoints(s)
            .into_iter()
            .find_map(|e| e.address)
        else {
            continue;
        };
        let mut route = IndexMap::new();
        route.insert("host".to_string(), Value::from(p.host.as_str()));
        route.insert(
            "upstreams".to_string(),
            Value::List(vec![Value::from(format!("{addr}:{}", p.port))]),
        );
        if p.upstream_tls == Some(true) {
            route.insert("upstream_tls".to_string(), Value::Bool(true));
        }
        routes
            .entry(p.via.clone())
            .or_default()
            .push(Value::Map(route));
    }
    for (via, mut derived) in routes {
        let address = lab_core::Address::new(CADDY, &via);
        let Some(spec) = lab.spec_mut(&address) else {
            continue;
        };
        // The routes the user wrote by hand come first; derived ones follow.
        let mut list = match original(spec, "routes") {
            Some(Value::List(l)) => l,
            _ => Vec::new(),
        };
        list.append(&mut derived);
        spec.attrs.insert("routes".into(), Value::List(list));
    }
}

/// Records an edge to `on` (an address the derivation knows by name).
pub(crate) fn push_dep(
    spec: &mut ResourceSpec,
    lab: lab_core::LabId,
    on: &lab_core::Address,
    via: &str,
    at: Loc,
) {
    spec.deps.push(lab_core::model::Dependency {
        on: on.clone(),
        lab,
        loc: at,
        via: via.to_string(),
    });
}

/// The value of a user's field before any derivation wrote it: saved in an
/// annotation the first time, so deriving again starts from what the user
/// wrote (`None`: the field was not set).
pub(crate) fn original(spec: &mut ResourceSpec, field: &str) -> Option<Value> {
    let key = format!("net.original.{field}");
    if !spec.annotations.contains_key(&key) {
        let now = spec.attrs.get(field).cloned().unwrap_or(Value::Null);
        spec.annotations.insert(key.clone(), now);
    }
    match spec.annotations.get(&key) {
        Some(Value::Null) | None => None,
        Some(v) => Some(v.clone()),
    }
}
