//! # lab-proxmox: Proxmox VE
//!
//! This crate will hold everything `lab` needs to manage a Proxmox VE
//! cluster, in the same rooms as every provider crate:
//!
//! - `model`: typed resources and their builders: nodes, storages (each
//!   naming the appliance it lives on), bridges, templates, LXC containers
//!   and QEMU VMs, with outputs such as the VMID and MAC addresses;
//! - `api`: the HTTP client for the PVE API (reqwest with rustls, API-token
//!   auth, pinned certificate fingerprint, asynchronous task polling);
//! - `provider`: the implementation of lab-core's `Provider` trait: bulk
//!   read, diff, create, update, delete, adoption by ownership tag and notes
//!   line, and per-node and per-template limits;
//! - `checks`: the Proxmox policy checks;
//! - `sim` (feature `sim`): an API-faithful PVE simulator on 127.0.0.1.
