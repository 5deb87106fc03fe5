//! `net.service`: something listening on a guest or host: its ports, its
//! admin surfaces, the services it needs, and how it is exposed.

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
