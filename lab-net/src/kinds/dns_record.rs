//! `net.dns_record`: a name the lab's local DNS answers (the router's or
//! Pi-hole's host overrides), to an address or to a guest, host or proxy.

use serde::{Deserialize, Serialize};

/// The spec of a `net.dns_record`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecordSpec {
    /// The fully qualified name.
    pub name: String,
    /// The address it answers.
    pub address: String,
}
