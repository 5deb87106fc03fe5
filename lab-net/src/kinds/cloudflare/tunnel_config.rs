//! `cloudflare.tunnel_config`: a tunnel's whole remote configuration
//! document, as `PUT …/cfd_tunnel/{id}/configurations` takes it (the PUT
//! replaces it all, so lab-net owns the whole document of a tunnel).
//!
//! The ingress rules are the API's JSON (camelCase as on the wire). The
//! last rule is always the catch-all `{"service": "http_status:404"}`,
//! appended by the builder ([`crate::model::cloudflare::TunnelConfig`]),
//! never written by the user. Access on a rule is per rule
//! (`originRequest.access`): cloudflared ignores a top-level one.
//!
//! | attributes | outputs |
//! |---|---|
//! | `account: Str` (address), `tunnel: Str` (address), `tunnel_id: Ref(tunnel#id)`, `config: {ingress: [{hostname?, path?, service, originRequest?}], originRequest?, warp-routing?}` | `version: Int` (the configuration's version Cloudflare reports) |

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::TUNNEL_CONFIG;

/// The service of the catch-all rule lab-net appends.
pub const CATCH_ALL_SERVICE: &str = "http_status:404";

/// The spec of a `cloudflare.tunnel_config`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelConfigSpec {
    /// The `cloudflare.account` resource.
    pub account: String,
    /// The `cloudflare.tunnel` resource this configures.
    pub tunnel: String,
    /// The tunnel's id (its `id` output).
    pub tunnel_id: String,
    /// The document PUT as `{"config": …}`.
    pub config: TunnelConfigDocument,
}

/// A tunnel's remote configuration (`config`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelConfigDocument {
    /// The rules, first match wins, catch-all last.
    pub ingress: Vec<IngressRule>,
    /// Defaults for every rule (never `access`: cloudflared ignores it
    /// here).
    #[serde(
        rename = "originRequest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub origin_request: Option<OriginRequest>,
    /// Private-network routing through the tunnel.
    #[serde(
        rename = "warp-routing",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub warp_routing: Option<WarpRouting>,
}

impl TunnelConfigDocument {
    /// The rules as the API's JSON, for
    /// [`crate::cloudflare::validate_ingress`] and
    /// [`crate::cloudflare::matching_rule`].
    pub fn ingress_json(&self) -> Vec<serde_json::Value> {
        self.ingress
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or(serde_json::Value::Null))
            .collect()
    }
}

/// `warp-routing`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarpRouting {
    /// Whether WARP clients reach private networks through the tunnel.
    pub enabled: bool,
}

/// One ingress rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressRule {
    /// The public hostname (`grafana.example.com`, `*.example.com`); none
    /// on the catch-all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// A Go regex on the request path (unanchored, as cloudflared matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Where matching requests go: `http://10.0.20.5:8080`,
    /// `https://…`, `tcp://…`, `ssh://…`, `unix:/path`, `http_status:404`.
    pub service: String,
    /// How cloudflared talks to the origin, and Access enforcement.
    #[serde(
        rename = "originRequest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub origin_request: Option<OriginRequest>,
}

/// `originRequest` (durations are whole seconds in JSON). `ipRules` (for
/// `socks-proxy`) is not modelled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OriginRequest {
    /// Seconds to wait for a TCP connection to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u64>,
    /// Seconds to wait for the origin's TLS handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_timeout: Option<u64>,
    /// TCP keep-alive period, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_keep_alive: Option<u64>,
    /// Idle keep-alive connection timeout, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive_timeout: Option<u64>,
    /// Idle keep-alive connections kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive_connections: Option<u64>,
    /// Disable Happy Eyeballs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_happy_eyeballs: Option<bool>,
    /// The `Host` header sent to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_host_header: Option<String>,
    /// The name the origin's certificate is checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_server_name: Option<String>,
    /// Use the request's host as SNI.
    #[serde(
        rename = "matchSNItoHost",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub match_sni_to_host: Option<bool>,
    /// A CA bundle path on the connector for the origin's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pool: Option<String>,
    /// Skip the origin certificate's verification.
    #[serde(
        rename = "noTLSVerify",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub no_tls_verify: Option<bool>,
    /// Disable chunked transfer encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_chunked_encoding: Option<bool>,
    /// Talk HTTP/2 to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_origin: Option<bool>,
    /// `""` or `socks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_type: Option<String>,
    /// Run the rule as an SSH/RDP bastion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bastion_mode: Option<bool>,
    /// The local proxy's listen address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_address: Option<String>,
    /// The local proxy's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_port: Option<u16>,
    /// Access enforcement on this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessConfig>,
}

/// `originRequest.access`: cloudflared refuses requests without a valid
/// `Cf-Access-Jwt-Assertion` for the team and one of the AUD tags.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccessConfig {
    /// Refuse requests without a valid Access token.
    #[serde(default)]
    pub required: bool,
    /// The Zero Trust team name.
    #[serde(default)]
    pub team_name: String,
    /// The Access applications' audience tags (their `aud`).
    #[serde(default)]
    pub aud_tag: Vec<String>,
    /// `fed` for FedRAMP accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// The outputs of a `cloudflare.tunnel_config`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelConfigOut {
    /// The configuration version Cloudflare reports.
    pub version: i64,
}

impl Kind for TunnelConfigSpec {
    const KIND: &'static str = TUNNEL_CONFIG;
    type Outputs = TunnelConfigOut;
}
