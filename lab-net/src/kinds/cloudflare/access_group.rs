//! `cloudflare.access_group`: a named set of identities policies refer to
//! (`{"group": {"id"}}`), with the same rule lists as a policy.
//!
//! | attributes | outputs |
//! |---|---|
//! | `account: Str` (address), `name: Str`, `include: [rule]`, `exclude: [rule]`, `require: [rule]` | `id: Str` |

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::{AccessRule, ACCESS_GROUP};

/// The spec of a `cloudflare.access_group`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessGroupSpec {
    /// The `cloudflare.account` resource.
    pub account: String,
    /// The group's name.
    pub name: String,
    /// Any of these (at least one).
    pub include: Vec<AccessRule>,
    /// None of these.
    #[serde(default)]
    pub exclude: Vec<AccessRule>,
    /// All of these.
    #[serde(default)]
    pub require: Vec<AccessRule>,
}

/// The outputs of a `cloudflare.access_group`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessGroupOut {
    /// The group's uuid.
    pub id: String,
}

impl Kind for AccessGroupSpec {
    const KIND: &'static str = ACCESS_GROUP;
    type Outputs = AccessGroupOut;
}
