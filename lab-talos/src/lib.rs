//! # lab-talos: Talos Linux and its Kubernetes cluster
//!
//! This crate will hold everything `lab` needs to run a Talos Kubernetes
//! cluster on Proxmox VMs, in the same rooms as every provider crate:
//!
//! - `model`: typed resources and their builders: the cluster, its control
//!   plane and worker machines, the Talos secrets bundle (generated once and
//!   kept encrypted in the state), machine configs and Image Factory images;
//! - `api`: the clients for the Image Factory (HTTP) and the Talos API
//!   (gRPC with mTLS);
//! - `provider`: the implementation of lab-core's `Provider` trait;
//! - `checks`: the Talos policy checks;
//! - `sim` (feature `sim`): an API-faithful Talos simulator on 127.0.0.1.
//!
//! Built so far (the offline half): [`secrets`] (the bundle, talosctl's
//! `secrets.yaml` format, admin certificates and kubeconfig), [`config`]
//! (machine configs for a version contract, strategic-merge patches,
//! schema validation), [`yaml`] (a Go-compatible YAML emitter, so configs
//! match Talos's own byte for byte) and [`factory`] (Image Factory
//! schematics, their ids and image URLs).

pub mod api;
pub mod checks;
pub mod config;
pub mod connect;
pub mod factory;
pub mod kinds;
pub mod model;
pub mod provider;
pub mod secrets;
#[cfg(feature = "sim")]
pub mod sim;
pub mod yaml;
