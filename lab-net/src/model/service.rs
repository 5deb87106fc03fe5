//! [`Service`]: something listening on a guest or host.

use std::panic::Location;

use lab_core::{Handle, ResourceSpec, Value};
use lab_proxmox::model::{Container, Vm};

use super::cloudflare::{Include, Tunnel};
use super::host::Host;
use super::public::Public;
use super::{net_resource, net_spec};
use crate::kinds::{Port, SERVICE};

/// What a [`Service`] runs on: a Proxmox VM or container, or a [`Host`].
pub trait RunsOn {
    /// Records it on the service's spec (`guest` or `host`, and the edge).
    #[doc(hidden)]
    fn place(&self, spec: &mut ResourceSpec);

    /// Its address (`proxmox.ct.caddy`, `net.host.nas`).
    #[doc(hidden)]
    fn target(&self) -> &lab_core::Address;
}

impl RunsOn for Handle<Vm> {
    #[track_caller]
    fn place(&self, spec: &mut ResourceSpec) {
        spec.set("guest", self.address().to_string());
        spec.depend_on(self, "guest");
    }

    fn target(&self) -> &lab_core::Address {
        self.address()
    }
}

impl RunsOn for Handle<Container> {
    #[track_caller]
    fn place(&self, spec: &mut ResourceSpec) {
        spec.set("guest", self.address().to_string());
        spec.depend_on(self, "guest");
    }

    fn target(&self) -> &lab_core::Address {
        self.address()
    }
}

impl RunsOn for Handle<Host> {
    #[track_caller]
    fn place(&self, spec: &mut ResourceSpec) {
        spec.set("host", self.address().name());
        spec.depend_on(self, "host");
    }

    fn target(&self) -> &lab_core::Address {
        self.address()
    }
}

/// A service: ports on a guest (or host), its admin surfaces, the services
/// it connects to, and its route through the internal reverse proxy. Its
/// zone is its guest's. lab-net derives from it the firewall rules that
/// let the flows the policy allows reach it, and the proxy's route.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::*;
/// use lab_net::kinds::Port;
/// use lab_proxmox::model::{Container, Node};
///
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
/// let servers = lab.add(Zone::servers());
/// let v20 = lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24"));
/// let db = lab.add(Container::new("db", &pve1).nic_on("net0", &v20));
/// let app = lab.add(Container::new("app", &pve1).nic_on("net0", &v20));
/// let pg = lab.add(Service::new("postgres", &db).port(Port::tcp(5432)));
/// lab.add(Service::new("photos", &app).port(Port::tcp(2283)).needs(&pg));
/// ```
pub struct Service {
    spec: ResourceSpec,
    ports: Vec<Port>,
    admin: Vec<Port>,
    needs: Vec<String>,
    public: Vec<Value>,
}

net_resource!(Service);

impl Service {
    /// Service `name` running on `on` (a VM, a container or a host).
    #[track_caller]
    pub fn new(name: &str, on: &impl RunsOn) -> Self {
        let mut spec = net_spec(SERVICE, name);
        on.place(&mut spec);
        spec.set("ports", Vec::<String>::new());
        spec.set("admin", Vec::<String>::new());
        spec.set("needs", Vec::<String>::new());
        spec.set("public", Value::List(Vec::new()));
        Service {
            spec,
            ports: Vec::new(),
            admin: Vec::new(),
            needs: Vec::new(),
            public: Vec::new(),
        }
    }

    /// A port it listens on.
    #[track_caller]
    pub fn port(mut self, port: Port) -> Self {
        self.ports.push(port);
        let list: Vec<String> = self.ports.iter().map(|p| p.to_string()).collect();
        self.spec.set("ports", list);
        self
    }

    /// An administrative port (a UI or API that can change the lab: the
    /// Proxmox UI, a NAS's admin page). `check` refuses a lab where it is
    /// reachable from the `iot` or `guest` zones.
    #[track_caller]
    pub fn admin(mut self, port: Port) -> Self {
        self.admin.push(port);
        let list: Vec<String> = self.admin.iter().map(|p| p.to_string()).collect();
        self.spec.set("admin", list);
        self
    }

    /// It connects to `other` on `other`'s ports: `check` refuses a lab
    /// whose policy denies that.
    #[track_caller]
    pub fn needs(mut self, other: &Handle<Service>) -> Self {
        let name = other.address().name().to_string();
        let here = Location::caller();
        self.spec.field_locs.insert(format!("needs.{name}"), here);
        self.needs.push(name);
        let list: Vec<Value> = self.needs.iter().map(|n| Value::from(n.as_str())).collect();
        self.spec.set("needs", Value::List(list));
        self.spec.depend_on(other, "needs");
        self
    }

    /// Serves it through the internal reverse proxy `proxy` as `https://host`,
    /// forwarding to `port` on its guest.
    #[track_caller]
    pub fn internal(mut self, proxy: &Handle<super::Caddy>, host: &str, port: u16) -> Self {
        if let Some(p) = crate::checks::caddy::site_host_problem(host) {
            self.spec.invalid(
                "proxy",
                p,
                "write the name clients use, like `photos.lab.home.arpa`",
            );
        }
        if port == 0 {
            self.spec
                .invalid("proxy", "port 0", "write the port the service listens on");
        }
        let mut map = indexmap::IndexMap::new();
        map.insert("via".to_string(), Value::from(proxy.address().name()));
        map.insert("host".to_string(), Value::from(host));
        map.insert("port".to_string(), Value::Int(i64::from(port)));
        self.spec.set("proxy", Value::Map(map));
        self.spec.depend_on(proxy, "proxy");
        self
    }

    /// The service speaks TLS itself behind the proxy (Proxmox's 8006).
    #[track_caller]
    pub fn upstream_tls(mut self) -> Self {
        if let Some(Value::Map(m)) = self.spec.attrs.get_mut("proxy") {
            m.insert("upstream_tls".into(), Value::Bool(true));
        } else {
            self.spec.invalid(
                "proxy",
                "`upstream_tls` without a proxy route",
                "call `.internal(&proxy, host, port)` first",
            );
        }
        self
    }

    /// Serves it on the internet as `https://host` through `tunnel`, to
    /// `port` on its guest: lab-net derives the tunnel's ingress rule
    /// (before the catch-all, after the rules written by hand), a proxied
    /// CNAME for `host` in the account's zone that `host` ends in, and
    /// nothing else. An admin port exposed this way is refused by `check`
    /// (`net::admin-public`): use [`Service::public_behind_access`].
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_net::kinds::Port;
    /// use lab_net::model::cloudflare::{Account, Tunnel, Zone as CfZone};
    /// use lab_net::model::*;
    /// use lab_proxmox::model::{Container, Node};
    ///
    /// let mut lab = Lab::new("home");
    /// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    /// let dmz = lab.add(Zone::dmz());
    /// let v40 = lab.add(Vlan::new("dmz", 40, &dmz).cidr("10.0.40.0/24"));
    /// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
    /// lab.add(CfZone::new(&cf, "example.com"));
    /// let tunnel = lab.add(Tunnel::new(&cf, "lab"));
    /// let web = lab.add(Container::new("blog", &pve1).nic_on("net0", &v40));
    /// lab.add(Service::new("blog", &web).port(Port::tcp(8080))
    ///     .public(&tunnel, "blog.example.com", 8080));
    /// lab.derive();
    /// assert!(lab.resources().any(|s| s.address.to_string() == "cloudflare.dns_record.cname-blog-example-com"));
    /// ```
    #[track_caller]
    pub fn public(self, tunnel: &Handle<Tunnel>, host: &str, port: u16) -> Self {
        self.expose(Public::new(tunnel, host, port))
    }

    /// [`Service::public`] behind Cloudflare Access: lab-net also derives
    /// an Access application for `host` and an Allow policy for `who`, and
    /// the tunnel rule requires that application's token
    /// (`originRequest.access`), so nobody else reaches the service.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_net::kinds::Port;
    /// use lab_net::model::cloudflare::{Account, Include, Tunnel};
    /// use lab_net::model::*;
    /// use lab_proxmox::model::{Container, Node};
    ///
    /// let mut lab = Lab::new("home");
    /// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    /// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
    /// let tunnel = lab.add(Tunnel::new(&cf, "lab"));
    /// let ct = lab.add(Container::new("grafana", &pve1));
    /// lab.add(Service::new("grafana", &ct).admin(Port::tcp(3000))
    ///     .public_behind_access(&tunnel, "grafana.example.com", 3000,
    ///                           Include::emails(&["me@example.com"])));
    /// ```
    #[track_caller]
    pub fn public_behind_access(
        self,
        tunnel: &Handle<Tunnel>,
        host: &str,
        port: u16,
        who: Include,
    ) -> Self {
        self.expose(Public::new(tunnel, host, port).behind_access(who))
    }

    /// Serves it on the internet as [`Public`] says (a path, an origin
    /// speaking TLS, Access with reusable policies).
    #[track_caller]
    pub fn expose(mut self, public: Public) -> Self {
        let here = Location::caller();
        let (value, deps, problems) = public.into_value();
        self.spec
            .field_locs
            .insert(format!("public.{}", self.public.len()), here);
        self.spec.deps.extend(deps);
        self.spec.problems.extend(problems);
        self.public.push(value);
        self.spec.set("public", Value::List(self.public.clone()));
        self
    }
}
