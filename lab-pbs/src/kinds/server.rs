//! `pbs.server`: one Proxmox Backup Server, which is also a provider
//! instance (its resource name is the instance's name). Nothing is created:
//! the provider reads it (version, certificate) and checks the pinned
//! fingerprint.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `host` | `Str` | host name or IP address of the API |
//! | `port` | `Int` | 8007 unless given |
//! | `fingerprint?` | `Str` | SHA-256 of the certificate, `AA:BB:..` (32 pairs); pinned: a server showing another one is refused |
//! | `appliance?` | `Str` | lab only: the appliance it runs on (its own box) |
//! | `guest?` | `Str` | lab only: the address of the `proxmox.vm` / `proxmox.ct` it runs in (its failure domain is that guest's node and disks) |
//!
//! Outputs ([`ServerOutputs`]): `host`, `port` (where the provider reaches
//! the server: as declared against a live server, the simulator's loopback
//! address in a simulated lab; other servers' remotes and PVE's `pbs`
//! storages refer to them), `fingerprint` (read from the server's
//! certificate), `version` (`GET /version`).

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

/// The spec of a `pbs.server`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSpec {
    /// Host name or IP address.
    pub host: String,
    /// API port.
    pub port: i64,
    /// Pinned certificate fingerprint.
    pub fingerprint: Option<String>,
    /// The appliance it runs on.
    pub appliance: Option<String>,
    /// The guest it runs in.
    pub guest: Option<String>,
}

/// The outputs of a server.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServerOutputs {
    /// Host name or IP address.
    pub host: String,
    /// API port.
    pub port: i64,
    /// The certificate's SHA-256 fingerprint, `AA:BB:..`.
    pub fingerprint: String,
    /// The PBS version (`4.0.14`).
    pub version: String,
}

impl Kind for ServerSpec {
    const KIND: &'static str = super::SERVER;
    type Outputs = ServerOutputs;
}
