//! # lab-talos: Talos Linux and its Kubernetes cluster, on Proxmox VMs
//!
//! Everything `lab` needs to run a Talos Kubernetes cluster, in the same
//! rooms as every provider crate:
//!
//! - [`model`]: [`model::TalosCluster`], one builder for the cluster that
//!   lowers to the secrets bundle, the Image Factory ISO on each Proxmox
//!   node, the VMs (through lab-proxmox), one machine per node and the
//!   cluster (bootstrap, kubeconfig); [`kinds`] is the typed contract (each
//!   kind's spec and outputs as serde types);
//! - [`checks`]: etcd quorum, VIP and endpoint, Talos version, patches, at
//!   the user's line;
//! - [`api`]: the Talos API client (gRPC with tonic over rustls: insecure in
//!   maintenance mode, then mTLS with an admin certificate from the bundle);
//! - [`provider`]: a lab-core `TypedProvider` for the four kinds,
//!   registered with `TalosProvider::shared`;
//! - workloads on the cluster: [`model::Workload`] (`talos.workload`), kept
//!   as Kubernetes manifests in a folder for Flux or Argo CD by its own
//!   provider, [`provider::WorkloadFolder`] (`lab` never drives the
//!   Kubernetes API);
//! - `sim` (feature `sim`): an API-faithful Talos simulator on 127.0.0.1,
//!   and [`connect`] to pair it with the Proxmox simulator.
//!
//! Underneath, the offline half: [`secrets`] (the bundle, talosctl's
//! `secrets.yaml` format, admin certificates and kubeconfig), [`config`]
//! (machine configs for a version contract, strategic-merge patches,
//! schema validation with the feature `schema`, the reboot table), [`yaml`]
//! (a Go-compatible YAML emitter, so configs match Talos's own byte for
//! byte) and [`factory`]
//! (Image Factory schematics, their ids and image URLs).

#![deny(missing_docs)]

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

/// Lowercase hex SHA-256: Image Factory schematic ids, certificate
/// fingerprints, config digests.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_hex_is_lowercase_and_64_chars() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
