//! The model's answer: zones, isolation, flows.

use std::fmt;

use lab_core::{Address, Loc};

use crate::derive::firewall::flow_ports;
use crate::kinds::Port;
use crate::read::{Endpoint, NetModel};

/// Why traffic is allowed or denied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Both ends are in one zone, which is not isolated.
    SameZone(String),
    /// A flow allows it.
    Flow {
        /// The flow's address.
        address: Address,
        /// Where it is declared.
        loc: Loc,
    },
    /// Nothing allows it: zones deny by default.
    DefaultDeny {
        /// The source zone.
        from: String,
        /// The destination zone.
        to: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::SameZone(z) => write!(f, "both are in zone `{z}`"),
            Reason::Flow { address, loc } => write!(
                f,
                "flow `{}` ({})",
                address.name(),
                lab_core::diag::loc_string(loc)
            ),
            Reason::DefaultDeny { from, to } if from == to => {
                write!(f, "zone `{from}` is isolated and no flow allows it")
            }
            Reason::DefaultDeny { from, to } => {
                write!(f, "no flow allows `{from}` -> `{to}` (default deny)")
            }
        }
    }
}

/// The model's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

/// Whether traffic from `from` reaches `to` on `port`, by the zone policy.
///
/// Inside a zone everything is allowed unless the zone is isolated;
/// between zones (and inside an isolated one) only what a flow allows: a
/// flow to a zone covers every endpoint of it, a flow to a service only
/// that service's endpoints, each on the flow's ports (a service flow
/// without ports: the service's ports and admin ports).
pub fn can_reach(model: &NetModel, from: &Endpoint, to: &Endpoint, port: &Port) -> Verdict {
    let same = from.zone == to.zone;
    if same
        && model
            .zones
            .get(&from.zone)
            .is_some_and(|z| z.intra_allowed())
    {
        return Verdict {
            allowed: true,
            reason: Reason::SameZone(from.zone.clone()),
        };
    }
    for flow in &model.flows {
        if flow.spec.from != from.zone || flow.spec.to != to.zone {
            continue;
        }
        if let Some(service) = &flow.spec.service {
            let Some(s) = model.services.get(service) else {
                continue;
            };
            let targets = model.service_endpoints(s);
            let hit = targets.iter().any(|t| match (&t.guest, &to.guest) {
                (Some(a), Some(b)) => a.0 == b.0 && t.address == to.address,
                _ => t.address.is_some() && t.address == to.address,
            });
            if !hit {
                continue;
            }
        }
        if flow_ports(model, flow).iter().any(|p| p.covers(port)) {
            return Verdict {
                allowed: true,
                reason: Reason::Flow {
                    address: flow.address.clone(),
                    loc: flow.loc,
                },
            };
        }
    }
    Verdict {
        allowed: false,
        reason: Reason::DefaultDeny {
            from: from.zone.clone(),
            to: to.zone.clone(),
        },
    }
}

/// Finds `name` among the lab's services, guests (by resource name),
/// hosts and zones, in that order, as the endpoints it has.
pub fn resolve(model: &NetModel, name: &str) -> Result<Vec<Endpoint>, String> {
    if let Some(s) = model.services.get(name) {
        let e = model.service_endpoints(s);
        return if e.is_empty() {
            Err(format!(
                "service `{name}` runs on no guest or host with a NIC on a lab-net VLAN"
            ))
        } else {
            Ok(e)
        };
    }
    if let Some(g) = model.guests.iter().find(|g| g.name() == name) {
        let e = model.guest_endpoints(g);
        return if e.is_empty() {
            Err(format!("guest `{name}` has no NIC on a lab-net VLAN"))
        } else {
            Ok(e)
        };
    }
    if let Some(h) = model.hosts.get(name) {
        return model
            .host_endpoint(h)
            .map(|e| vec![e])
            .ok_or_else(|| format!("host `{name}` is on an unknown VLAN"));
    }
    if let Some(z) = model.zones.get(name) {
        let vlan = model
            .vlans
            .values()
            .find(|v| v.spec.zone == z.name)
            .map(|v| v.name.clone())
            .unwrap_or_default();
        return Ok(vec![Endpoint {
            zone: z.name.clone(),
            vlan,
            address: None,
            guest: None,
        }]);
    }
    Err(format!(
        "`{name}` is no service, guest, host or zone of this lab"
    ))
}

/// "Can `from` reach `to` on `port`?" for a whole lab, by name (a service,
/// a guest's resource name, a host, or a zone as the source): the zone
/// policy's answer, as `reach` prints it. Allowed only if every endpoint
/// of `from` reaches every endpoint of `to`; otherwise the first denial.
/// For `cargo test`:
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::kinds::Port;
/// use lab_net::model::*;
/// use lab_net::policy::reach;
///
/// let mut lab = Lab::new("home");
/// let storage = lab.add(Zone::storage());
/// let iot = lab.add(Zone::iot());
/// let v30 = lab.add(Vlan::new("storage", 30, &storage).cidr("10.0.30.0/24"));
/// lab.add(Vlan::new("iot", 60, &iot).cidr("10.0.60.0/24"));
/// let nas = lab.add(Host::new("nas", &v30, "10.0.30.5"));
/// lab.add(Service::new("nas-ui", &nas).admin(Port::tcp(5001)));
/// assert!(!reach(&lab, "iot", "nas-ui", &Port::tcp(5001)).unwrap().allowed);
/// lab.add(Flow::allow(&iot, &storage).port(Port::tcp(5001)));
/// assert!(reach(&lab, "iot", "nas-ui", &Port::tcp(5001)).unwrap().allowed);
/// ```
pub fn reach(lab: &lab_core::Lab, from: &str, to: &str, port: &Port) -> Result<Verdict, String> {
    let derived;
    let lab = if lab.derivation_pending() {
        let mut copy = lab.clone();
        copy.derive();
        derived = copy;
        &derived
    } else {
        lab
    };
    let model = NetModel::read(lab);
    let sources = resolve(&model, from)?;
    let targets = resolve(&model, to)?;
    let mut first = None;
    for s in &sources {
        for t in &targets {
            let v = can_reach(&model, s, t, port);
            if !v.allowed {
                return Ok(v);
            }
            first.get_or_insert(v);
        }
    }
    first.ok_or_else(|| format!("`{from}` or `{to}` has no endpoint"))
}
