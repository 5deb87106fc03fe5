//! `net.caddy`: one Caddy reverse proxy, driven whole through its admin
//! API. The lab owns the proxy's entire configuration (one document,
//! `POST /load`), so the spec is everything the rendered config says
//! ([`crate::api::caddy_config`]).
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `admin` | `Str` | `host:port` of the admin API as lab reaches it; rendered as `admin.listen` |
//! | `https_port` | `Int` | the port the sites listen on |
//! | `http_port?` | `Int` | Caddy's HTTP port (no redirect listener is made; 80 when absent) |
//! | `bind?` | `List(Str)` | listen hosts; absent: every interface |
//! | `tls` | `Map` | `{issuer: "internal"}` or `{issuer: "acme", dns_provider, api_token: Secret, email?}` |
//! | `routes` | `List(Map)` | `{host, upstreams: ["ip:port"], upstream_tls?, headers?: {name: value}}`, in order |
//! | `storage?` | `Str` | the folder of Caddy's certificates and CA on its host |
//!
//! Outputs ([`CaddyOutputs`]): `root_ca`, the PEM of the local CA's root
//! certificate (`GET /pki/ca/local`), which clients of `tls internal`
//! sites trust.

use indexmap::IndexMap;
use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

/// The spec of a `net.caddy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaddySpec {
    /// `host:port` of the admin API.
    pub admin: String,
    /// The HTTPS port of the sites.
    pub https_port: i64,
    /// Caddy's HTTP port.
    pub http_port: Option<i64>,
    /// Listen hosts (absent: all interfaces).
    pub bind: Option<Vec<String>>,
    /// Where the certificates come from.
    pub tls: CaddyTls,
    /// The sites, in order.
    pub routes: Vec<CaddyRoute>,
    /// Caddy's storage folder on its host.
    pub storage: Option<String>,
}

/// The certificate issuer of every site: `{issuer: "internal"}` (Caddy's
/// local CA) or `{issuer: "acme", dns_provider, api_token, email?}` (ACME
/// with the DNS-01 challenge through a `dns.providers.<dns_provider>`
/// module, which Caddy must be built with).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaddyTls {
    /// `internal` or `acme`.
    pub issuer: String,
    /// The DNS provider module's name (`cloudflare`), for `acme`.
    pub dns_provider: Option<String>,
    /// The DNS provider's API token, for `acme`.
    pub api_token: Option<Secret>,
    /// The ACME account's e-mail address.
    pub email: Option<String>,
}

impl CaddyTls {
    /// The local CA (`tls internal`).
    pub fn internal() -> Self {
        CaddyTls {
            issuer: ISSUER_INTERNAL.into(),
            dns_provider: None,
            api_token: None,
            email: None,
        }
    }

    /// ACME with the DNS-01 challenge through `dns_provider`.
    pub fn acme(dns_provider: &str, api_token: Secret, email: Option<&str>) -> Self {
        CaddyTls {
            issuer: ISSUER_ACME.into(),
            dns_provider: Some(dns_provider.into()),
            api_token: Some(api_token),
            email: email.map(str::to_string),
        }
    }
}

/// `tls.issuer` of Caddy's local CA.
pub const ISSUER_INTERNAL: &str = "internal";
/// `tls.issuer` of ACME (DNS-01).
pub const ISSUER_ACME: &str = "acme";

/// One site: requests for `host` go to the `upstreams`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaddyRoute {
    /// The site's host name.
    pub host: String,
    /// `host:port` of each upstream.
    pub upstreams: Vec<String>,
    /// Speak TLS to the upstreams (their certificates are verified).
    pub upstream_tls: Option<bool>,
    /// Request headers set on the way up (`X-Forwarded-Proto: https`).
    pub headers: Option<IndexMap<String, String>>,
}

impl CaddyRoute {
    /// A route of `host` to one upstream.
    ///
    /// ```
    /// use lab_net::kinds::CaddyRoute;
    /// let r = CaddyRoute::new("pve.lab.home.arpa", "10.0.10.2:8006")
    ///     .upstream("10.0.10.3:8006")
    ///     .upstream_tls()
    ///     .header("X-Forwarded-Proto", "https");
    /// assert_eq!(r.upstreams.len(), 2);
    /// assert_eq!(r.upstream_tls, Some(true));
    /// ```
    pub fn new(host: &str, upstream: &str) -> Self {
        CaddyRoute {
            host: host.into(),
            upstreams: vec![upstream.into()],
            upstream_tls: None,
            headers: None,
        }
    }

    /// One more upstream (Caddy balances between them).
    pub fn upstream(mut self, upstream: &str) -> Self {
        self.upstreams.push(upstream.into());
        self
    }

    /// Speak TLS to the upstreams, verifying their certificates against
    /// the Caddy host's roots (a self-signed upstream fails: give it a
    /// certificate from a CA the host trusts).
    pub fn upstream_tls(mut self) -> Self {
        self.upstream_tls = Some(true);
        self
    }

    /// A request header set on the way up.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .get_or_insert_with(IndexMap::new)
            .insert(name.into(), value.into());
        self
    }
}

/// The outputs of a Caddy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CaddyOutputs {
    /// PEM of the local CA's root certificate.
    pub root_ca: String,
}

impl Kind for CaddySpec {
    const KIND: &'static str = super::CADDY;
    type Outputs = CaddyOutputs;

    /// One Caddy per admin endpoint: two resources driving one admin API
    /// would overwrite each other's whole config.
    fn identity(&self) -> Option<String> {
        Some(format!("caddy admin {}", self.admin))
    }
}
