//! `cloudflare.tunnel`: a remotely managed tunnel (`config_src:
//! cloudflare`), adopted by name if it exists (names are unique per
//! account). Its token runs the connector (`cloudflared tunnel run
//! --token`) and is a secret.
//!
//! | attributes | outputs |
//! |---|---|
//! | `account: Str` (address), `name: Str`, `config_src: "cloudflare"` | `id: Str` (uuid), `cname: Str` (`<id>.cfargotunnel.com`, what DNS records point at), `token: Secret` |

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::TUNNEL;

/// What a tunnel's CNAME target is: `<tunnel id>` + this.
pub const CFARGOTUNNEL_SUFFIX: &str = ".cfargotunnel.com";

/// The spec of a `cloudflare.tunnel`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelSpec {
    /// The `cloudflare.account` resource it belongs to.
    pub account: String,
    /// The tunnel's name, unique in the account.
    pub name: String,
    /// Always `cloudflare`: the ingress lives in the API, not in a local
    /// `config.yml`.
    pub config_src: String,
}

/// The outputs of a `cloudflare.tunnel`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelOut {
    /// The tunnel's uuid.
    pub id: String,
    /// `<id>.cfargotunnel.com`.
    pub cname: String,
    /// The connector's run token.
    pub token: Secret,
}

impl Default for TunnelOut {
    fn default() -> Self {
        TunnelOut {
            id: String::new(),
            cname: String::new(),
            token: Secret::new(String::new()),
        }
    }
}

impl Kind for TunnelSpec {
    const KIND: &'static str = TUNNEL;
    type Outputs = TunnelOut;
}
