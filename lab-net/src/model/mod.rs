//! The builders the user writes: trust zones, VLANs, the flows allowed
//! between zones, services, hosts and local DNS names (all model-only:
//! lab-net derives what is applied from them), and [`GuestNet`], which puts
//! a Proxmox guest's NICs on VLANs.
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_net::model::*;
//! use lab_net::kinds::Port;
//!
//! let mut lab = Lab::new("home");
//! let servers = lab.add(Zone::servers());
//! let dmz = lab.add(Zone::dmz());
//! lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24").gateway("10.0.20.1"));
//! lab.add(Vlan::new("dmz", 40, &dmz).cidr("10.0.40.0/24").gateway("10.0.40.1"));
//! lab.add(Flow::allow(&dmz, &servers).port(Port::tcp(443)));
//! assert!(lab.check().iter().all(|d| !d.is_blocking()));
//! ```

mod caddy;
pub mod cloudflare;
mod dns_record;
mod flow;
mod guest;
mod host;
mod public;
mod service;
mod vlan;
mod zone;

pub use caddy::{Caddy, CaddyOutput};
pub use dns_record::DnsRecord;
pub use flow::Flow;
pub use guest::GuestNet;
pub use host::Host;
pub use public::Public;
pub use service::RunsOn;
pub use service::Service;
pub use vlan::Vlan;
pub use zone::Zone;

use lab_core::ResourceSpec;

/// A model-only spec of one of lab-net's kinds, carrying its checks and its
/// derivation.
#[track_caller]
pub(crate) fn net_spec(kind: &str, name: &str) -> ResourceSpec {
    let mut spec = ResourceSpec::new(kind, name);
    spec.managed = false;
    mark(&mut spec);
    spec
}

/// Puts lab-net's checks, commands, pictures, notes and derivation on a
/// spec.
pub(crate) fn mark(spec: &mut ResourceSpec) {
    spec.check_set = Some(crate::checks::SET);
    spec.derivation = Some(crate::derive::NET);
    spec.command_set = Some(crate::command::COMMANDS);
    spec.picture_set = Some(crate::picture::PICTURES);
    spec.note_set = Some(crate::notes::NOTES);
}

/// Implements `lab_core::Resource` for a builder holding `spec`.
macro_rules! net_resource {
    ($ty:ty) => {
        impl lab_core::Resource for $ty {
            fn spec_mut(&mut self) -> &mut lab_core::ResourceSpec {
                &mut self.spec
            }

            fn into_spec(self) -> lab_core::ResourceSpec {
                self.spec
            }
        }
    };
}
pub(crate) use net_resource;
