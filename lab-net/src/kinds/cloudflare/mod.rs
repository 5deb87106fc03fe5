//! The typed contract of lab-net's Cloudflare kinds (the public edge: a
//! remotely managed tunnel, its ingress, the DNS names that point at it,
//! and the Access apps and policies in front of admin hostnames), one file
//! per kind, field names as on Cloudflare's API where the API has them.
//!
//! Unlike the inside kinds (zones, flows), these are applied: a Cloudflare
//! account is a provider instance, and every other kind names its account
//! (`account`: the `cloudflare.account` resource's address). Values known
//! only once Cloudflare made them (a tunnel's id, an app's `aud`) are
//! outputs, and other kinds take them as references.

pub mod access_app;
pub mod access_group;
pub mod access_policy;
pub mod account;
pub mod dns_record;
pub mod tunnel;
pub mod tunnel_config;
pub mod zone;

pub use access_app::{AccessAppOut, AccessAppSpec, AppPolicyLink, SELF_HOSTED};
pub use access_group::{AccessGroupOut, AccessGroupSpec};
pub use access_policy::{AccessPolicyOut, AccessPolicySpec, AccessRule, Decision};
pub use account::{AccountOut, AccountSpec};
pub use dns_record::{CloudflareDnsRecordOut, CloudflareDnsRecordSpec, TTL_AUTOMATIC};
pub use tunnel::{TunnelOut, TunnelSpec, CFARGOTUNNEL_SUFFIX};
pub use tunnel_config::{
    AccessConfig, IngressRule, OriginRequest, TunnelConfigDocument, TunnelConfigOut,
    TunnelConfigSpec, CATCH_ALL_SERVICE,
};
pub use zone::{ZoneOut, ZoneSpec};

/// `cloudflare.account`: an account, its API token and Zero Trust team.
pub const ACCOUNT: &str = "cloudflare.account";
/// `cloudflare.zone`: a DNS zone of the account (looked up by name).
pub const ZONE: &str = "cloudflare.zone";
/// `cloudflare.tunnel`: a remotely managed Cloudflare Tunnel.
pub const TUNNEL: &str = "cloudflare.tunnel";
/// `cloudflare.tunnel_config`: a tunnel's whole remote ingress document.
pub const TUNNEL_CONFIG: &str = "cloudflare.tunnel_config";
/// `cloudflare.dns_record`: a DNS record in a Cloudflare zone.
pub const DNS_RECORD: &str = "cloudflare.dns_record";
/// `cloudflare.access_app`: an Access application.
pub const ACCESS_APP: &str = "cloudflare.access_app";
/// `cloudflare.access_policy`: a reusable Access policy.
pub const ACCESS_POLICY: &str = "cloudflare.access_policy";
/// `cloudflare.access_group`: an Access group.
pub const ACCESS_GROUP: &str = "cloudflare.access_group";
