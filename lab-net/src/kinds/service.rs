//! `net.service`: something listening on a guest or host: its ports, its
//! admin surfaces, the services it needs, and how it is exposed (through
//! the internal reverse proxy, and to the internet through a Cloudflare
//! Tunnel).

use serde::{Deserialize, Serialize};

use super::Port;

/// The spec of a `net.service`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// The Proxmox guest it runs in (its address, `proxmox.ct.immich`).
    pub guest: Option<String>,
    /// Or the host it runs on (`net.host` name).
    pub host: Option<String>,
    /// Its ports.
    pub ports: Vec<Port>,
    /// Its administrative ports (a web UI that can change the lab).
    pub admin: Vec<Port>,
    /// The services it connects to (`net.service` names).
    pub needs: Vec<String>,
    /// Its route through the internal reverse proxy.
    pub proxy: Option<ProxyExposure>,
    /// Its exposures to the internet through a Cloudflare Tunnel.
    #[serde(default)]
    pub public: Vec<PublicExposure>,
}

/// A service's route through the internal reverse proxy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyExposure {
    /// The `net.caddy` proxy's name.
    pub via: String,
    /// The host name clients use (`photos.lab.home.arpa`).
    pub host: String,
    /// The service's port the proxy forwards to.
    pub port: u16,
    /// The service speaks TLS itself (Proxmox's 8006).
    pub upstream_tls: Option<bool>,
}

/// A service's exposure to the internet through a Cloudflare Tunnel: a rule
/// of the tunnel's ingress (`https://host[path]` -> the service's address
/// and port), a proxied CNAME for `host`, and, with `access`, an Access
/// application and policy in front of it. lab-net derives all three.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicExposure {
    /// The `cloudflare.tunnel` resource's name.
    pub tunnel: String,
    /// The public hostname (`photos.example.com`).
    pub host: String,
    /// The service's port the tunnel forwards to.
    pub port: u16,
    /// Only requests whose path matches this Go regex (anchored: `^/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The service speaks TLS itself (`https://` origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<bool>,
    /// Skip the origin certificate's verification (a self-signed UI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_tls_verify: Option<bool>,
    /// The name the origin's certificate is checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_server_name: Option<String>,
    /// Cloudflare Access in front of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<PublicAccess>,
}

/// Who Cloudflare Access lets through to a [`PublicExposure`]: a derived
/// Allow policy of `include` rules, and reusable policies linked by name.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAccess {
    /// The Access rules of the derived Allow policy (the API's one-key
    /// objects: `{"email": {"email"}}`, `{"group": {"id"}}`); none: only
    /// `policies`.
    #[serde(default)]
    pub include: Vec<super::cloudflare::AccessRule>,
    /// Reusable `cloudflare.access_policy` resources linked after it, by
    /// name.
    #[serde(default)]
    pub policies: Vec<String>,
    /// The application's name (default: the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
