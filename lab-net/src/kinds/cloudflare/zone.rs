//! `cloudflare.zone`: a DNS zone already on the account, found by name
//! (`GET /zones?name=`); lab-net does not create or delete zones.
//!
//! | attributes | outputs |
//! |---|---|
//! | `account: Str` (address), `name: Str` | `id: Str` |

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::ZONE;

/// The spec of a `cloudflare.zone`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    /// The `cloudflare.account` resource it belongs to.
    pub account: String,
    /// The zone's name (`example.com`).
    pub name: String,
}

/// The outputs of a `cloudflare.zone`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneOut {
    /// The zone id.
    pub id: String,
}

impl Kind for ZoneSpec {
    const KIND: &'static str = ZONE;
    type Outputs = ZoneOut;
}
