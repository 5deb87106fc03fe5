//! `net.zone`: a trust zone. Traffic between zones is denied unless a flow
//! allows it; inside a zone it is allowed unless the zone is isolated.

use serde::{Deserialize, Serialize};

/// How far a zone is trusted. The well-known zones of a homelab
/// (`mgmt`, `trusted`, `servers`, `storage`, `dmz`, `iot`, `guest`) each
/// have their level; a zone the user adds picks one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// Hypervisors, the backup server, switches, the router's admin.
    Mgmt,
    /// The owner's own laptops and phones.
    Trusted,
    /// Internal applications and the reverse proxy.
    Servers,
    /// NAS, NFS, iSCSI, backup datastores.
    Storage,
    /// Internet-facing services and the tunnel connector.
    Dmz,
    /// Smart devices and cameras.
    Iot,
    /// Visitors: internet only.
    Guest,
}

impl Trust {
    /// True for the zones whose guests may run without a firewall (`mgmt`
    /// and `trusted`); every other guest must have it on.
    pub fn is_trusted(self) -> bool {
        matches!(self, Trust::Mgmt | Trust::Trusted)
    }

    /// True for the zones that must never reach an admin surface (`iot`,
    /// `guest`).
    pub fn is_untrusted(self) -> bool {
        matches!(self, Trust::Iot | Trust::Guest)
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Mgmt => "mgmt",
            Trust::Trusted => "trusted",
            Trust::Servers => "servers",
            Trust::Storage => "storage",
            Trust::Dmz => "dmz",
            Trust::Iot => "iot",
            Trust::Guest => "guest",
        }
    }
}

/// The spec of a `net.zone`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    /// Its trust level.
    pub trust: Trust,
    /// Guests of the zone cannot reach each other (client isolation).
    pub isolated: Option<bool>,
    /// A note.
    pub comment: Option<String>,
}
