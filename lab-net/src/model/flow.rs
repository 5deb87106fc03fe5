//! [`Flow`]: traffic allowed from one zone to another.

use lab_core::{Handle, ResourceSpec};

use super::net_spec;
use super::service::Service;
use super::zone::{zone_name, Zone};
use crate::kinds::{Port, FLOW};

/// Traffic allowed from zone `from` to zone `to`: on some ports to every
/// guest of `to`, or to one service ([`Flow::service`]). Everything else
/// between zones is denied. Its name is made from the zones and what it
/// allows (`dmz-to-servers-tcp443`), so a flow written twice is reported.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::{Flow, Zone};
/// use lab_net::kinds::Port;
/// let mut lab = Lab::new("home");
/// let trusted = lab.add(Zone::trusted());
/// let mgmt = lab.add(Zone::mgmt());
/// let f = lab.add(Flow::allow(&trusted, &mgmt).port(Port::tcp(8006)).port(Port::tcp(22)));
/// assert_eq!(f.address().to_string(), "net.flow.trusted-to-mgmt-tcp8006-tcp22");
/// ```
pub struct Flow {
    spec: ResourceSpec,
    from: String,
    to: String,
    ports: Vec<Port>,
    service: Option<String>,
}

impl Flow {
    /// Allows traffic from `from` to `to` (add ports or a service).
    #[track_caller]
    pub fn allow(from: &Handle<Zone>, to: &Handle<Zone>) -> Self {
        let (f, t) = (zone_name(from), zone_name(to));
        let mut spec = net_spec(FLOW, &format!("{f}-to-{t}"));
        spec.set("from", f.as_str());
        spec.set("to", t.as_str());
        spec.depend_on(from, "from");
        spec.depend_on(to, "to");
        Flow {
            spec,
            from: f,
            to: t,
            ports: Vec::new(),
            service: None,
        }
    }

    /// Allows one port (range), e.g. `Port::tcp(443)`.
    #[track_caller]
    pub fn port(mut self, port: Port) -> Self {
        self.ports.push(port);
        self.spec.set(
            "ports",
            self.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        );
        self
    }

    /// Allows every protocol and port.
    #[track_caller]
    pub fn any(self) -> Self {
        self.port(Port::any())
    }

    /// Allows traffic only to `service`'s guest, on its ports (or on the
    /// ports given with [`Flow::port`]).
    #[track_caller]
    pub fn service(mut self, service: &Handle<Service>) -> Self {
        let name = service.address().name().to_string();
        self.spec.set("service", name.as_str());
        self.spec.depend_on(service, "service");
        self.service = Some(name);
        self
    }
}

impl lab_core::Resource for Flow {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(mut self) -> ResourceSpec {
        let mut name = format!("{}-to-{}", self.from, self.to);
        if let Some(s) = &self.service {
            name.push_str("-svc-");
            name.push_str(s);
        }
        for p in &self.ports {
            name.push('-');
            name.push_str(&p.slug());
        }
        if self.ports.is_empty() {
            self.spec.set("ports", Vec::<String>::new());
            if self.service.is_none() {
                self.spec.invalid(
                    "ports",
                    "the flow allows nothing",
                    "add `.port(Port::tcp(443))`, `.service(&svc)` or `.any()`",
                );
            }
        }
        self.spec.address = lab_core::Address::new(FLOW, &name);
        self.spec
    }
}
