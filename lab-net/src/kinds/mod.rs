//! The typed contract of lab-net's kinds: each kind's spec as a serde type,
//! one file per kind, and the kind-name constants.
//!
//! Zones, VLANs, flows, services, hosts and DNS names are model-only: no
//! provider applies them; lab-net's derivation ([`crate::derive`]) lowers
//! them onto the kinds that are applied (lab-proxmox's firewall and SDN
//! kinds, the guests' NICs, the Caddy proxy's routes), and its checks read
//! them.

mod caddy;
pub mod cloudflare;
pub mod dns_record;
pub mod flow;
pub mod host;
pub mod port;
pub mod service;
pub mod vlan;
pub mod zone;

pub use caddy::{CaddyOutputs, CaddyRoute, CaddySpec, CaddyTls, ISSUER_ACME, ISSUER_INTERNAL};
pub use dns_record::DnsRecordSpec;
pub use flow::FlowSpec;
pub use host::HostSpec;
pub use port::{Port, Proto};
pub use service::{ProxyExposure, PublicAccess, PublicExposure, ServiceSpec};
pub use vlan::VlanSpec;
pub use zone::{Trust, ZoneSpec};

/// Kind of Caddy reverse proxies (one admin API each).
pub const CADDY: &str = "net.caddy";
/// `net.zone`: a trust zone.
pub const ZONE: &str = "net.zone";
/// `net.vlan`: a VLAN of a zone.
pub const VLAN: &str = "net.vlan";
/// `net.flow`: traffic allowed from one zone to another.
pub const FLOW: &str = "net.flow";
/// `net.service`: something listening on a guest or host.
pub const SERVICE: &str = "net.service";
/// `net.host`: a device on a VLAN that is not a Proxmox guest (a NAS, a
/// Proxmox node, the router).
pub const HOST: &str = "net.host";
/// `net.dns_record`: a name the local DNS (the router, Pi-hole) answers.
pub const DNS_RECORD: &str = "net.dns_record";

/// The annotation on a Proxmox guest listing the NICs that joined a VLAN
/// (`[{slot, vlan, address?}]`), written by [`crate::model::GuestNet`].
pub const NICS_ANNOTATION: &str = "net.nics";
/// The annotation on a Proxmox guest naming its zone.
pub const ZONE_ANNOTATION: &str = "net.zone";
/// The annotation on a `net.caddy` proxy naming the guest it runs in.
pub const PROXY_GUEST_ANNOTATION: &str = "net.guest";
/// The annotation on a Proxmox container naming the `cloudflare.tunnel`
/// it runs the connector (cloudflared) of, written by
/// [`crate::model::cloudflare::Connector`].
pub const CONNECTOR_ANNOTATION: &str = "net.cloudflared";
