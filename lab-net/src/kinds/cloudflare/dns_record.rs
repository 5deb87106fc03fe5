//! `cloudflare.dns_record`: a record in a Cloudflare zone. A tunnel's
//! public hostname is a proxied CNAME to `<tunnel id>.cfargotunnel.com`
//! (the config PUT creates none; lab-net emits one per hostname). Records
//! carry a comment that marks them lab-net's.
//!
//! | attributes | outputs |
//! |---|---|
//! | `zone: Str` (address), `zone_id: Ref(zone#id)`, `name: Str`, `type: Str`, `content: Str` (or `Ref(tunnel#cname)`), `proxied: Bool`, `ttl: Int` (1 = automatic), `comment?: Str` | `id: Str` |

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::DNS_RECORD;

/// `ttl: 1`: automatic (required for proxied records).
pub const TTL_AUTOMATIC: u32 = 1;

/// The spec of a `cloudflare.dns_record`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudflareDnsRecordSpec {
    /// The `cloudflare.zone` resource.
    pub zone: String,
    /// The zone's id (its `id` output).
    pub zone_id: String,
    /// The fully qualified name.
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, `TXT`, ...
    #[serde(rename = "type")]
    pub record_type: String,
    /// The record's value.
    pub content: String,
    /// Served through Cloudflare's proxy (orange cloud).
    pub proxied: bool,
    /// Seconds, or 1 for automatic.
    pub ttl: u32,
    /// A note on the record (lab-net marks its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The outputs of a `cloudflare.dns_record`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudflareDnsRecordOut {
    /// The record id.
    pub id: String,
}

impl Kind for CloudflareDnsRecordSpec {
    const KIND: &'static str = DNS_RECORD;
    type Outputs = CloudflareDnsRecordOut;
}
