//! [`Host`]: a device on a VLAN that is not a Proxmox guest.

use lab_core::{Handle, ResourceSpec};
use lab_proxmox::addr::parse_ip;

use super::vlan::Vlan;
use super::{net_resource, net_spec};
use crate::kinds::HOST;

/// A device with a fixed address on a VLAN that is not a Proxmox guest: a
/// NAS, a Proxmox node's management address, the router. Services can run
/// on it ([`super::Service::new`]); the firewall lab-net derives does not
/// stand in front of it (the router does), but reachability to it follows
/// the same zone policy.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::{Host, Vlan, Zone};
/// let mut lab = Lab::new("home");
/// let storage = lab.add(Zone::storage());
/// let v30 = lab.add(Vlan::new("storage", 30, &storage).cidr("10.0.30.0/24"));
/// lab.add(Host::new("nas-a", &v30, "10.0.30.5"));
/// ```
pub struct Host {
    spec: ResourceSpec,
}

net_resource!(Host);

impl Host {
    /// Host `name` at `address` on `vlan`.
    #[track_caller]
    pub fn new(name: &str, vlan: &Handle<Vlan>, address: &str) -> Self {
        let mut spec = net_spec(HOST, name);
        spec.set("vlan", vlan.address().name());
        spec.depend_on(vlan, "vlan");
        if let Err(e) = parse_ip(address) {
            spec.invalid("address", e, "write its address, like `10.0.30.5`");
        }
        spec.set("address", address);
        Host { spec }
    }
}
