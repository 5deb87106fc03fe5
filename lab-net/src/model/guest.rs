//! [`GuestNet`]: Proxmox guests' NICs on lab-net's VLANs.

use std::panic::Location;

use indexmap::IndexMap;
use lab_core::{Handle, Resource, Value};
use lab_proxmox::addr::parse_ip;
use lab_proxmox::model::{Container, Vm};

use super::vlan::Vlan;
use super::zone::Zone;
use crate::kinds::{NICS_ANNOTATION, ZONE_ANNOTATION};

/// Puts a Proxmox guest's NICs on VLANs by handle. lab-net then derives
/// each NIC's bridge and tag (or VNet), its address when none is given
/// (the lab's IPAM: a pure function of the lab), the firewall flag, and
/// the guest's firewall rules from the zone policy.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::*;
/// use lab_proxmox::model::{Container, Node};
///
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
/// let servers = lab.add(Zone::servers());
/// let v20 = lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24").gateway("10.0.20.1"));
/// let ct = lab.add(
///     Container::new("immich", &pve1)
///         .zone(&servers)
///         .nic_on("net0", &v20)
///         .address("10.0.20.30"),
/// );
/// lab.derive();
/// let spec = lab.resource(ct.address()).unwrap();
/// let nic = &spec.attrs["nics"].as_list().unwrap()[0];
/// assert_eq!(nic.get("tag"), Some(&Value::Int(20)));
/// assert_eq!(nic.get("ip").and_then(Value::as_str), Some("10.0.20.30/24"));
/// ```
pub trait GuestNet: Resource {
    /// A NIC in `slot` (`net0`..) on `vlan`.
    #[track_caller]
    fn nic_on(self, slot: &str, vlan: &Handle<Vlan>) -> Self;

    /// The static address (without prefix) of the last NIC put on a VLAN;
    /// without it, the lab's IPAM picks one from the VLAN's pool.
    #[track_caller]
    fn address(self, address: &str) -> Self;

    /// The guest's zone: `check` refuses a NIC on a VLAN of another zone
    /// (or a raw VLAN tag that is not one of the zone's VLANs).
    #[track_caller]
    fn zone(self, zone: &Handle<Zone>) -> Self;
}

/// Adds the annotation of a NIC joining `vlan` to a guest's spec.
#[track_caller]
fn join<R: Resource>(guest: &mut R, slot: &str, vlan: &Handle<Vlan>) {
    let here = Location::caller();
    let spec = guest.spec_mut();
    // Its checks and commands come with the VLAN and zone specs; the
    // guest keeps lab-proxmox's.
    spec.derivation = Some(crate::derive::NET);
    let mut nic = IndexMap::new();
    nic.insert("slot".to_string(), Value::from(slot));
    nic.insert("vlan".to_string(), Value::from(vlan.address().name()));
    match spec.annotations.get_mut(NICS_ANNOTATION) {
        Some(Value::List(list)) => list.push(Value::Map(nic)),
        _ => {
            spec.annotations
                .insert(NICS_ANNOTATION.into(), Value::List(vec![Value::Map(nic)]));
        }
    }
    spec.field_locs
        .insert(format!("{NICS_ANNOTATION}.{slot}"), here);
    spec.depend_on(vlan, &format!("{NICS_ANNOTATION}.{slot}"));
}

#[track_caller]
fn set_address<R: Resource>(guest: &mut R, address: &str) {
    let here = Location::caller();
    let spec = guest.spec_mut();
    if let Err(e) = parse_ip(address) {
        spec.invalid(
            NICS_ANNOTATION,
            e,
            "write the address without its prefix, like `10.0.20.30`; the VLAN gives the prefix",
        );
    }
    let slot = match spec.annotations.get_mut(NICS_ANNOTATION) {
        Some(Value::List(list)) => match list.last_mut() {
            Some(Value::Map(nic)) => {
                nic.insert("address".into(), Value::from(address));
                nic.get("slot").and_then(Value::as_str).map(str::to_string)
            }
            _ => None,
        },
        _ => None,
    };
    match slot {
        Some(slot) => {
            spec.field_locs.insert(format!("net.address.{slot}"), here);
        }
        None => spec.invalid(
            NICS_ANNOTATION,
            "`.address(..)` before any `.nic_on(..)`",
            "put the NIC on its VLAN first: `.nic_on(\"net0\", &vlan).address(..)`",
        ),
    }
}

#[track_caller]
fn set_zone<R: Resource>(guest: &mut R, zone: &Handle<Zone>) {
    let here = Location::caller();
    let spec = guest.spec_mut();
    // Its checks and commands come with the VLAN and zone specs; the
    // guest keeps lab-proxmox's.
    spec.derivation = Some(crate::derive::NET);
    spec.annotations
        .insert(ZONE_ANNOTATION.into(), Value::from(zone.address().name()));
    spec.field_locs.insert(ZONE_ANNOTATION.into(), here);
    spec.depend_on(zone, ZONE_ANNOTATION);
}

macro_rules! guest_net {
    ($ty:ty) => {
        impl GuestNet for $ty {
            #[track_caller]
            fn nic_on(self, slot: &str, vlan: &Handle<Vlan>) -> Self {
                // The bridge and tag are the VLAN's, written by the
                // derivation once the whole lab is known.
                let mut guest = self.nic(slot, "vmbr0");
                join(&mut guest, slot, vlan);
                guest
            }

            #[track_caller]
            fn address(mut self, address: &str) -> Self {
                set_address(&mut self, address);
                self
            }

            #[track_caller]
            fn zone(mut self, zone: &Handle<Zone>) -> Self {
                set_zone(&mut self, zone);
                self
            }
        }
    };
}

guest_net!(Vm);
guest_net!(Container);
