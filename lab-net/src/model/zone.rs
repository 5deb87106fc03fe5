//! [`Zone`]: a trust zone.

use lab_core::{Handle, ResourceSpec};

use super::{net_resource, net_spec};
use crate::kinds::{Trust, ZONE};

/// A trust zone: the VLANs of one trust level. Traffic between zones is
/// denied unless a [`super::Flow`] allows it.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::Zone;
/// use lab_net::kinds::Trust;
/// let mut lab = Lab::new("home");
/// let servers = lab.add(Zone::servers());
/// let lab_zone = lab.add(Zone::new("lab", Trust::Guest).comment("throw-away experiments"));
/// assert_eq!(lab_zone.address().to_string(), "net.zone.lab");
/// ```
pub struct Zone {
    spec: ResourceSpec,
}

net_resource!(Zone);

impl Zone {
    /// A zone named `name` (at most 13 characters: the firewall's security
    /// group is `zone-<name>`, and PVE allows 18) of trust level `trust`.
    #[track_caller]
    pub fn new(name: &str, trust: Trust) -> Self {
        let mut spec = net_spec(ZONE, name);
        spec.set("trust", trust.as_str());
        if name.len() > 13 {
            spec.invalid(
                "trust",
                format!("the zone name `{name}` is longer than 13 characters"),
                "the firewall's security group is `zone-<name>` and Proxmox allows 18 characters: shorten the name",
            );
        }
        Zone { spec }
    }

    /// `mgmt`: hypervisors, the backup server, switches.
    #[track_caller]
    pub fn mgmt() -> Self {
        Zone::new("mgmt", Trust::Mgmt)
    }

    /// `trusted`: the owner's devices.
    #[track_caller]
    pub fn trusted() -> Self {
        Zone::new("trusted", Trust::Trusted)
    }

    /// `servers`: internal applications.
    #[track_caller]
    pub fn servers() -> Self {
        Zone::new("servers", Trust::Servers)
    }

    /// `storage`: NAS, NFS, backup datastores.
    #[track_caller]
    pub fn storage() -> Self {
        Zone::new("storage", Trust::Storage)
    }

    /// `dmz`: internet-facing services.
    #[track_caller]
    pub fn dmz() -> Self {
        Zone::new("dmz", Trust::Dmz)
    }

    /// `iot`: smart devices.
    #[track_caller]
    pub fn iot() -> Self {
        Zone::new("iot", Trust::Iot)
    }

    /// `guest`: visitors.
    #[track_caller]
    pub fn guest() -> Self {
        Zone::new("guest", Trust::Guest)
    }

    /// Guests of this zone cannot reach each other either (client
    /// isolation); by default traffic inside a zone is allowed.
    #[track_caller]
    pub fn isolated(mut self) -> Self {
        self.spec.set("isolated", true);
        self
    }

    /// A note.
    #[track_caller]
    pub fn comment(mut self, text: &str) -> Self {
        self.spec.set("comment", text);
        self
    }
}

/// The zone's name from its handle.
pub(crate) fn zone_name(zone: &Handle<Zone>) -> String {
    zone.address().name().to_string()
}
