//! `talos.secrets` (named after the cluster): the cluster's secrets bundle.
//!
//! | attributes | outputs |
//! |---|---|
//! | `contract: Str` (`"v1.13"`), `import?: Secret` (talosctl `secrets.yaml` text; absent = generate once) | `bundle: Secret` (`secrets.yaml` text), `os_ca_fingerprint: Str` (SHA-256 hex of the OS CA certificate's DER) |
//!
//! The secrets bundle is generated once and then only ever read back: it
//! carries `prevent_destroy`, and its `contract` is the **version contract**
//! of the cluster, chosen at creation and never bumped by Talos upgrades
//! (regenerating configs with a newer contract broke etcd decryption on
//! Talos 1.14, talos#13885). The contract stays a string here: the builder
//! reports a contract it cannot parse at the user's line, and the provider
//! refuses it when generating.

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::SECRETS;

/// The spec of a `talos.secrets`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSpec {
    /// The version contract the bundle is made for (`v1.13`).
    pub contract: String,
    /// talosctl's `secrets.yaml` to import instead of generating one.
    pub import: Option<Secret>,
}

/// The outputs of a `talos.secrets`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsOut {
    /// The bundle as talosctl's `secrets.yaml` text.
    pub bundle: Secret,
    /// SHA-256 (lowercase hex) of the OS CA certificate's DER.
    pub os_ca_fingerprint: String,
}

impl Default for SecretsOut {
    fn default() -> Self {
        SecretsOut {
            bundle: Secret::new(String::new()),
            os_ca_fingerprint: String::new(),
        }
    }
}

impl Kind for SecretsSpec {
    const KIND: &'static str = SECRETS;
    type Outputs = SecretsOut;
}
