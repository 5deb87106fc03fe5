//! The Caddy reverse proxy as the user declares it: where its admin API
//! is, its ports, its certificate issuer and the hand-written routes. The
//! routes of the lab's services are appended by lab-net's derivation, so
//! most labs write none.

use lab_core::diag::Loc;
use lab_core::value::encode_value;
use lab_core::{Handle, Lab, Output, ProviderHandle, Resource, ResourceSpec, Secret, Value};

use crate::checks::caddy::{site_host_problem, upstream_problem};
use crate::kinds::{self, CaddyRoute, CaddyTls};

/// A Caddy reverse proxy (`net.caddy`) whose whole configuration the lab
/// owns, through its admin API (`POST /load`, read back with
/// `GET /config/`).
///
/// Defaults: HTTPS on 443 on every interface, certificates from Caddy's
/// local CA (`tls internal`; the root is the `root_ca` output), no routes.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::Caddy;
///
/// let mut lab = Lab::new("home");
/// let proxy = lab.add(
///     Caddy::new("proxy", "127.0.0.1:2019")
///         .bind("10.0.20.5")
///         .route("grafana.lab.home.arpa", "10.0.20.11:3000"),
/// );
/// let spec = lab.resource(proxy.address()).unwrap();
/// assert_eq!(spec.attrs["https_port"], Value::from(443));
/// let Value::List(routes) = &spec.attrs["routes"] else { panic!() };
/// let Value::Map(first) = &routes[0] else { panic!() };
/// assert_eq!(first["host"], Value::from("grafana.lab.home.arpa"));
/// ```
#[derive(Clone, Debug)]
pub struct Caddy {
    spec: ResourceSpec,
}

impl Caddy {
    /// The kind, `net.caddy`.
    pub const KIND: &'static str = kinds::CADDY;

    /// The Caddy called `name`, whose admin API lab reaches at `admin`
    /// (`host:port`; Caddy's default is `localhost:2019`, which is also
    /// the only safe place for it: tunnel to a remote one).
    #[track_caller]
    pub fn new(name: &str, admin: &str) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, name);
        super::mark(&mut spec);
        if admin
            .rsplit_once(':')
            .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        {
            spec.invalid(
                "admin",
                format!("`{admin}` is not the `host:port` of Caddy's admin API"),
                "write it like `127.0.0.1:2019` (Caddy's `admin` global option)",
            );
        }
        spec.set("admin", admin);
        spec.set("https_port", 443i64);
        spec.set("routes", Value::List(Vec::new()));
        let mut caddy = Caddy { spec };
        caddy.set_tls(CaddyTls::internal());
        caddy
    }

    /// The Caddy behind provider instance `instance` (its name is the
    /// instance's, and it is bound to it), whose admin API is at `admin`.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_core::testing::MemoryProvider;
    /// use lab_net::model::Caddy;
    /// let mut lab = Lab::new("home");
    /// let proxy = lab.register_provider_as(
    ///     "proxy",
    ///     MemoryProvider::new().with_kinds(&[lab_net::kinds::CADDY]).shared(),
    /// );
    /// let caddy = lab.add(Caddy::instance(&proxy, "127.0.0.1:2019"));
    /// assert_eq!(caddy.address().to_string(), "net.caddy.proxy");
    /// assert_eq!(lab.resource(caddy.address()).unwrap().provider.as_ref().unwrap().name, "proxy");
    /// ```
    #[track_caller]
    pub fn instance(instance: &ProviderHandle, admin: &str) -> Self {
        Caddy::new(instance.name(), admin).provider(instance)
    }

    #[track_caller]
    fn set_tls(&mut self, tls: CaddyTls) {
        match encode_value(&tls) {
            Ok(v) => self.spec.set("tls", v),
            Err(e) => self
                .spec
                .invalid("tls", e.to_string(), "report this as a bug"),
        }
    }

    /// The guest (or host) Caddy runs in: its zone is where the proxy's
    /// traffic to the services it fronts comes from, so `check` holds that
    /// traffic to the zone policy (`net::flow-denied`).
    #[track_caller]
    pub fn runs_in(mut self, on: &impl super::RunsOn) -> Self {
        let here = std::panic::Location::caller();
        self.spec.annotations.insert(
            kinds::PROXY_GUEST_ANNOTATION.into(),
            Value::from(on.target().to_string()),
        );
        self.spec
            .field_locs
            .insert(kinds::PROXY_GUEST_ANNOTATION.into(), here);
        self
    }

    /// The sites' HTTPS port (443 unless given).
    #[track_caller]
    pub fn https_port(mut self, port: u16) -> Self {
        if port == 0 {
            self.spec
                .invalid("https_port", "port 0 is not a port", "leave it out for 443");
        }
        self.spec.set("https_port", i64::from(port));
        self
    }

    /// Caddy's HTTP port (80 unless given; lab asks for no redirect
    /// listener, so it matters only to ACME's HTTP challenge).
    #[track_caller]
    pub fn http_port(mut self, port: u16) -> Self {
        if port == 0 {
            self.spec
                .invalid("http_port", "port 0 is not a port", "leave it out for 80");
        }
        self.spec.set("http_port", i64::from(port));
        self
    }

    /// Listens on `host` only (call again for more); every interface when
    /// never called.
    #[track_caller]
    pub fn bind(mut self, host: &str) -> Self {
        let mut hosts = match self.spec.attrs.get("bind") {
            Some(Value::List(l)) => l.clone(),
            _ => Vec::new(),
        };
        hosts.push(Value::from(host));
        self.spec.set("bind", Value::List(hosts));
        self
    }

    /// Certificates from Caddy's local CA (the default).
    #[track_caller]
    pub fn tls_internal(mut self) -> Self {
        self.set_tls(CaddyTls::internal());
        self
    }

    /// Publicly trusted certificates from ACME with the DNS-01 challenge
    /// through Caddy's `dns.providers.<dns_provider>` module (`cloudflare`;
    /// token scopes Zone:Read + DNS:Edit). Debian's `caddy` package has no
    /// DNS provider module: build one with
    /// `xcaddy build --with github.com/caddy-dns/cloudflare`.
    #[track_caller]
    pub fn tls_acme_dns(
        mut self,
        dns_provider: &str,
        api_token: Secret,
        email: Option<&str>,
    ) -> Self {
        self.set_tls(CaddyTls::acme(dns_provider, api_token, email));
        self
    }

    /// Caddy's storage folder on its host (certificates, the local CA).
    #[track_caller]
    pub fn storage(mut self, path: &str) -> Self {
        if !path.starts_with('/') {
            self.spec.invalid(
                "storage",
                format!("`{path}` is not an absolute path"),
                "write the folder on the Caddy host, like `/var/lib/caddy`",
            );
        }
        self.spec.set("storage", path);
        self
    }

    /// A site: requests for `host` go to `upstream` (`ip:port`).
    #[track_caller]
    pub fn route(self, host: &str, upstream: &str) -> Self {
        self.route_spec(CaddyRoute::new(host, upstream))
    }

    /// A site with every option (several upstreams, TLS to them, request
    /// headers).
    #[track_caller]
    pub fn route_spec(mut self, route: CaddyRoute) -> Self {
        push_route(&mut self.spec, route);
        self
    }

    /// Adds a route to a proxy already in `lab`, as
    /// [`Caddy::route_spec`] would have, for builders that learn a route
    /// after the proxy was added (lab-services' apps on Kubernetes); `at`
    /// is the user's line that asked for it, where its problems point.
    pub fn add_route(lab: &mut Lab, proxy: &Handle<Caddy>, route: CaddyRoute, at: Loc) {
        let Some(spec) = lab.spec_mut(proxy.address()) else {
            return;
        };
        let routes_at = spec.field_locs.get("routes").copied();
        let problems = spec.problems.len();
        push_route(spec, route);
        spec.field_locs
            .insert("routes".into(), routes_at.unwrap_or(at));
        for p in &mut spec.problems[problems..] {
            p.loc = at;
        }
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Caddy {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a Caddy.
pub trait CaddyOutput {
    /// PEM of the local CA's root certificate (`GET /pki/ca/local`).
    #[track_caller]
    fn root_ca(&self) -> Output<String>;
}

impl CaddyOutput for Handle<Caddy> {
    #[track_caller]
    fn root_ca(&self) -> Output<String> {
        self.output("root_ca")
    }
}

/// Appends `route` to a Caddy spec's `routes`, refusing (at the caller's
/// line) a site twice, a bad host and bad upstreams.
#[track_caller]
fn push_route(spec: &mut ResourceSpec, route: CaddyRoute) {
    let mut routes = match spec.attrs.get("routes") {
        Some(Value::List(l)) => l.clone(),
        _ => Vec::new(),
    };
    let taken = routes.iter().any(|r| match r {
        Value::Map(m) => m
            .get("host")
            .and_then(Value::as_str)
            .is_some_and(|h| h.eq_ignore_ascii_case(&route.host)),
        _ => false,
    });
    if taken {
        spec.invalid(
            "routes",
            format!("site `{}` already has a route", route.host),
            "give each host one route; pass several upstreams with `route_spec`",
        );
    }
    if let Some(p) = site_host_problem(&route.host) {
        spec.invalid(
            "routes",
            p,
            "write the site's DNS name, like `grafana.lab.home.arpa`",
        );
    }
    if route.upstreams.is_empty() {
        spec.invalid(
            "routes",
            format!("site `{}` has no upstream", route.host),
            "give it the `ip:port` of the service",
        );
    }
    for u in &route.upstreams {
        if let Some(p) = upstream_problem(u) {
            spec.invalid(
                "routes",
                p,
                "write the upstream as `ip:port`, like `10.0.20.11:3000`",
            );
        }
    }
    match encode_value(&route) {
        Ok(v) => routes.push(v),
        Err(e) => spec.invalid("routes", e.to_string(), "report this as a bug"),
    }
    spec.set("routes", Value::List(routes));
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::value::decode;

    #[test]
    fn the_builder_writes_the_kind() {
        let c = Caddy::new("proxy", "127.0.0.1:2019")
            .https_port(18443)
            .http_port(18081)
            .bind("127.0.0.1")
            .storage("/var/lib/caddy")
            .tls_acme_dns("cloudflare", Secret::new("tok"), Some("me@example.org"))
            .route("a.lab", "10.0.0.1:80");
        assert!(c.spec().problems.is_empty(), "{:?}", c.spec().problems);
        let spec: kinds::CaddySpec = decode(&c.spec().attrs).unwrap();
        assert_eq!(spec.https_port, 18443);
        assert_eq!(spec.bind, Some(vec!["127.0.0.1".to_string()]));
        assert_eq!(spec.tls.api_token, Some(Secret::new("tok")));
        assert_eq!(spec.routes, vec![CaddyRoute::new("a.lab", "10.0.0.1:80")]);
        assert!(
            matches!(c.spec().attrs["tls"], Value::Map(ref m) if matches!(m["api_token"], Value::Secret(_)))
        );
    }

    #[test]
    fn bad_routes_are_reported_at_the_line() {
        let c = Caddy::new("proxy", "nohost")
            .route("a.lab", "10.0.0.1:80")
            .route("a.lab", "10.0.0.1:notaport");
        let fields: Vec<&str> = c.spec().problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["admin", "routes", "routes"]);
    }
}
