//! "Can A reach B on port P?", answered twice: from the lab's own model
//! (zones, flows, services: [`reach`](fn@reach)) and from the Proxmox
//! firewall lab-net derives, evaluated as Proxmox evaluates it ([`pve`]). The two must
//! agree for every guest; a property test holds them to it on random labs.

pub mod pve;
mod reach;

pub use reach::{can_reach, reach, resolve, Reason, Verdict};
