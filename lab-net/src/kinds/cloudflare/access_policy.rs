//! `cloudflare.access_policy`: a reusable Access policy (account level),
//! linked to apps with a precedence. Access denies by default; Service
//! Auth (`non_identity`) and Bypass policies are evaluated first, then
//! Allow and Block by precedence.
//!
//! | attributes | outputs |
//! |---|---|
//! | `account: Str` (address), `name: Str`, `decision: allow\|deny\|non_identity\|bypass`, `include: [rule]` (OR, at least one), `exclude: [rule]` (NOT), `require: [rule]` (AND), `session_duration?: Str` | `id: Str` |
//!
//! A rule is one of the API's one-key objects: `{"email": {"email"}}`,
//! `{"email_domain": {"domain"}}`, `{"everyone": {}}`, `{"group": {"id"}}`,
//! ... ([`AccessRule`]).

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::ACCESS_POLICY;

/// What a matching policy does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let the identity in.
    Allow,
    /// Block the identity.
    Deny,
    /// Service Auth: a service token or certificate, no identity login.
    NonIdentity,
    /// Skip Access entirely (no login, no JWT).
    Bypass,
}

impl Decision {
    /// The API's name (`allow`, `non_identity`).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::NonIdentity => "non_identity",
            Decision::Bypass => "bypass",
        }
    }
}

/// One Access rule, as the API writes it (one key per object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AccessRule {
    /// `{"email": {"email": "a@example.com"}}`.
    Email {
        /// The address.
        email: String,
    },
    /// `{"email_domain": {"domain": "example.com"}}`.
    EmailDomain {
        /// The domain after `@`.
        domain: String,
    },
    /// `{"email_list": {"id"}}`: a Zero Trust list of addresses.
    EmailList {
        /// The list's id.
        id: String,
    },
    /// `{"everyone": {}}`.
    Everyone {},
    /// `{"group": {"id"}}`: an Access group.
    Group {
        /// The group's id.
        id: String,
    },
    /// `{"ip": {"ip": "203.0.113.0/24"}}`.
    Ip {
        /// A CIDR.
        ip: String,
    },
    /// `{"service_token": {"token_id"}}`.
    ServiceToken {
        /// The service token's id.
        token_id: String,
    },
    /// `{"any_valid_service_token": {}}`.
    AnyValidServiceToken {},
}

/// The spec of a `cloudflare.access_policy`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicySpec {
    /// The `cloudflare.account` resource.
    pub account: String,
    /// The policy's name.
    pub name: String,
    /// What it does to who it matches.
    pub decision: Decision,
    /// Any of these (at least one).
    pub include: Vec<AccessRule>,
    /// None of these.
    #[serde(default)]
    pub exclude: Vec<AccessRule>,
    /// All of these.
    #[serde(default)]
    pub require: Vec<AccessRule>,
    /// A Go duration (`8h`) overriding the app's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<String>,
}

/// The outputs of a `cloudflare.access_policy`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicyOut {
    /// The policy's uuid.
    pub id: String,
}

impl Kind for AccessPolicySpec {
    const KIND: &'static str = ACCESS_POLICY;
    type Outputs = AccessPolicyOut;
}
