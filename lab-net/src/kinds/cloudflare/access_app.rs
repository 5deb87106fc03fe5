//! `cloudflare.access_app`: a self-hosted Access application in front of a
//! public hostname, with reusable policies linked by precedence (unique
//! per app, 1 first). Its `aud` is what a tunnel rule's
//! `originRequest.access.audTag` names, so the app exists before the
//! tunnel config is written.
//!
//! | attributes | outputs |
//! |---|---|
//! | `account: Str` (address), `name: Str`, `domain: Str` (a host, may end in a path), `type: "self_hosted"`, `session_duration: Str` (Go duration, `24h`), `policies: [{id: Ref(policy#id), precedence: Int}]` | `id: Str`, `aud: Str` |

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::ACCESS_APP;

/// The application type lab-net creates.
pub const SELF_HOSTED: &str = "self_hosted";

/// The spec of a `cloudflare.access_app`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessAppSpec {
    /// The `cloudflare.account` resource.
    pub account: String,
    /// The app's name (shown in the App Launcher).
    pub name: String,
    /// The protected hostname, optionally with a path
    /// (`pve.example.com`, `blog.example.com/admin`).
    pub domain: String,
    /// Always `self_hosted` here.
    #[serde(rename = "type")]
    pub app_type: String,
    /// How long a login lasts (Go duration).
    pub session_duration: String,
    /// The reusable policies, in precedence order.
    pub policies: Vec<AppPolicyLink>,
}

/// A reusable policy linked to an app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPolicyLink {
    /// The policy's id.
    pub id: String,
    /// Its place (1 first; unique in the app).
    pub precedence: u32,
}

/// The outputs of a `cloudflare.access_app`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessAppOut {
    /// The app's uuid.
    pub id: String,
    /// The Application Audience tag.
    pub aud: String,
}

impl Kind for AccessAppSpec {
    const KIND: &'static str = ACCESS_APP;
    type Outputs = AccessAppOut;
}
