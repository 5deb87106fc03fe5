//! # lab-services: a service as a whole
//!
//! The provider crates each know one side of a service: lab-proxmox the
//! guest it runs in, lab-net its NIC, ports, flows, proxy route and public
//! exposure, lab-proxmox and lab-pbs where its data lives and which backup
//! job copies it. A homelab owner thinks in services: "the photo library
//! runs in a container on pve1, on the servers VLAN, keeps its library on
//! the hot pool, is backed up nightly, and the family reaches it as
//! `photos.lab.home.arpa`". [`App`] says exactly that, in one statement,
//! and lowers it onto those crates' own builders:
//!
//! - the guest (an LXC container by default, a VM where isolation or a
//!   custom kernel needs one), with an `about` note lab's docs and the
//!   guest's Proxmox notes show;
//! - its NIC on the VLAN (hence its zone) and an address from the lab's
//!   IPAM;
//! - a lab-net `Service` with its ports, admin ports, the services it
//!   needs, its route through the internal Caddy or its rule on the
//!   Cloudflare Tunnel (behind Access);
//! - its data as mount points (or VM disks) on NAS-pool-backed storages;
//! - the backup jobs that select it.
//!
//! Nothing here is new machinery: the lowered resources are the ones a
//! user could write by hand, so every check of those crates holds for the
//! service as a whole and points at the [`App`]'s lines (a public admin
//! surface without Access at its `.public(..)`, data without an isolated
//! copy at its `.container(..)`).
//!
//! With the feature `talos`, [`App::on_talos`] places a service on the
//! Talos cluster instead ([`ClusterApp`]): lab-talos's workload, written as
//! manifests for the owner's GitOps tool.
//!
//! This crate has no API, provider or simulator of its own (so not the
//! five rooms of a provider crate): it is a model over the others.

#![deny(missing_docs)]

mod app;
#[cfg(feature = "talos")]
mod cluster_app;
mod lower;

pub use app::{App, AppGuest, AppHandle, ServiceHandle, ABOUT_ANNOTATION, APP_ANNOTATION};
#[cfg(feature = "talos")]
pub use cluster_app::ClusterApp;
