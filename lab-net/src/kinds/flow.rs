//! `net.flow`: traffic allowed from one zone to another, by port or to one
//! service. Everything else between zones is denied.

use serde::{Deserialize, Serialize};

use super::Port;

/// The spec of a `net.flow`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    /// The source zone.
    pub from: String,
    /// The destination zone.
    pub to: String,
    /// The ports allowed (to every guest of `to`, or to `service`'s).
    pub ports: Vec<Port>,
    /// Only to this service's guest (`net.service` name); its ports when
    /// `ports` is empty.
    pub service: Option<String>,
}
