//! The serde types of Caddy's JSON config, the part lab-net writes:
//! strict (`deny_unknown_fields`) as Caddy's own decoder is, optional
//! fields left out when unset, names as Caddy spells them.

use std::fmt;

use indexmap::IndexMap;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

/// A whole Caddy config document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The admin endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<Admin>,
    /// Where certificates and the CA are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// The apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps: Option<Apps>,
}

/// `admin`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// `host:port` it listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

/// `storage` (the `file_system` module).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// `file_system`.
    pub module: String,
    /// The folder.
    pub root: String,
}

/// `apps`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apps {
    /// The HTTP app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpApp>,
    /// The TLS app (certificate automation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsApp>,
    /// The PKI app (the local CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pki: Option<PkiApp>,
}

/// `apps.http`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApp {
    /// Caddy's HTTP port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// Caddy's HTTPS port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_port: Option<u16>,
    /// The servers by name.
    #[serde(default)]
    pub servers: IndexMap<String, Server>,
}

/// One HTTP server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The `@id` tag: lab's ownership marker.
    #[serde(rename = "@id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Listen addresses (`127.0.0.1:443`, `:443`).
    #[serde(default)]
    pub listen: Vec<String>,
    /// The routes, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Automatic HTTPS switches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_https: Option<AutomaticHttps>,
}

/// `automatic_https`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomaticHttps {
    /// No HTTP-to-HTTPS redirect listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_redirects: Option<bool>,
}

/// One route.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The matcher sets (any matches).
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub matchers: Option<Vec<Matcher>>,
    /// The handlers, in order.
    #[serde(default)]
    pub handle: Vec<Handler>,
    /// Stop after this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<bool>,
}

/// A matcher set (lab writes only `host`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// Host names.
    #[serde(default)]
    pub host: Vec<String>,
}

/// A handler: `subroute` (with `routes`) or `reverse_proxy` (with
/// `upstreams`, `headers`, `transport`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    /// The module: `subroute`, `reverse_proxy`.
    pub handler: String,
    /// `subroute`'s routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
    /// `reverse_proxy`'s upstreams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstreams: Option<Vec<Upstream>>,
    /// `reverse_proxy`'s header operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    /// `reverse_proxy`'s transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
}

/// An upstream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `host:port`.
    pub dial: String,
}

/// `headers`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headers {
    /// Operations on the request going up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HeaderOps>,
}

/// Header operations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderOps {
    /// Headers set (replacing any value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<IndexMap<String, Vec<String>>>,
}

/// `transport` (the `http` module).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transport {
    /// `http`.
    pub protocol: String,
    /// TLS to the upstream (present: on, certificates verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TransportTls>,
}

/// TLS to the upstream with Caddy's defaults (the system roots).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportTls {}

/// `apps.tls`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsApp {
    /// Certificate automation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation: Option<Automation>,
}

/// `automation`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Automation {
    /// The policies.
    #[serde(default)]
    pub policies: Vec<Policy>,
}

/// An automation policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The names it covers (absent: every name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<String>>,
    /// The issuers, tried in order.
    #[serde(default)]
    pub issuers: Vec<Issuer>,
}

/// An issuer module: `internal` or `acme`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    /// `internal`, `acme`.
    pub module: String,
    /// The ACME account's e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The ACME challenges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenges: Option<Challenges>,
}

/// `challenges`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenges {
    /// DNS-01.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsChallenge>,
}

/// `challenges.dns`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsChallenge {
    /// The DNS provider module.
    pub provider: DnsProvider,
}

/// A `dns.providers.<name>` module.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsProvider {
    /// The module's name (`cloudflare`).
    pub name: String,
    /// Its API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token: Option<ApiToken>,
}

/// A DNS provider's API token inside the document. It is written to Caddy
/// as it is (Caddy needs it); `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiToken(String);

impl ApiToken {
    /// The token of `secret`, to send to Caddy.
    pub fn from_secret(secret: &Secret) -> Self {
        ApiToken(secret.expose().to_string())
    }

    /// The token as a lab secret.
    pub fn secret(&self) -> Secret {
        Secret::new(self.0.as_str())
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken((sensitive value))")
    }
}

/// `apps.pki`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiApp {
    /// The CAs by id.
    #[serde(default)]
    pub certificate_authorities: IndexMap<String, CaConfig>,
}

/// A CA's settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// Whether Caddy writes the root into the system's trust store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_trust: Option<bool>,
}
