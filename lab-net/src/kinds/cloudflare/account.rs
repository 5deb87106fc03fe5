//! `cloudflare.account`: the account lab-net manages tunnels, DNS and
//! Access in, the API token it does so with, and the Zero Trust team name
//! (`<team>.cloudflareaccess.com`) that tunnel rules verify Access tokens
//! against.
//!
//! | attributes | outputs |
//! |---|---|
//! | `account_id: Str`, `api_token: Secret`, `team_name: Str` | `team_name: Str` (the same, as an output other kinds reference) |

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::ACCOUNT;

/// The spec of a `cloudflare.account`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// The account id (32 hex digits, from the dashboard's URL).
    pub account_id: String,
    /// An API token with Tunnel Edit, Access Apps and Policies Write, DNS
    /// Edit and Zone Read.
    pub api_token: Secret,
    /// The Zero Trust team name.
    pub team_name: String,
}

/// The outputs of a `cloudflare.account`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountOut {
    /// The team name, for `originRequest.access.teamName`.
    pub team_name: String,
}

impl Kind for AccountSpec {
    const KIND: &'static str = ACCOUNT;
    type Outputs = AccountOut;
}
