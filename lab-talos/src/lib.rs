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
