//! `talos.secrets`: the cluster's secrets bundle, generated once or
//! imported, kept only in the lab's encrypted state.
//!
//! The bundle is the root of every trust relation in the cluster (the OS
//! CA the nodes' apid trusts, the Kubernetes and etcd CAs, the secretbox key
//! that encrypts Secrets in etcd). A lost or regenerated bundle locks the
//! owner out (talos-peers.md pain point 1), so: generation happens only on
//! create; an update keeps the recorded bundle; importing a bundle with a
//! different OS CA, or bumping the version contract, is refused at plan
//! time.

use std::time::Duration;

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::plan::Action;
use lab_core::provider::{KindSchema, OpContext, StepReview};
use lab_core::value::decode;
use lab_core::{ProviderError, Secret};

use super::TalosProvider;
use crate::kinds::{SecretsOut, SecretsSpec};
use crate::secrets::{SecretsBundle, VersionContract};
use crate::sha256_hex;

/// The OS CA's fingerprint: SHA-256 of its DER, lowercase hex.
pub(crate) fn os_ca_fingerprint(bundle: &SecretsBundle) -> String {
    let pem = bundle.os_ca().crt_pem();
    match pem::parse(pem) {
        Ok(p) => sha256_hex(p.contents()),
        Err(_) => sha256_hex(pem.as_bytes()),
    }
}

fn outputs_for(bundle: &SecretsBundle) -> SecretsOut {
    SecretsOut {
        bundle: Secret::new(bundle.to_yaml()),
        os_ca_fingerprint: os_ca_fingerprint(bundle),
    }
}

fn parse_import(secret: &Secret) -> Result<SecretsBundle, String> {
    SecretsBundle::from_yaml(secret.expose()).map_err(|e| {
        format!(
            "the imported secrets.yaml does not parse: {e}; export it again with \
             `talosctl gen secrets --from-controlplane-config controlplane.yaml`"
        )
    })
}

#[async_trait]
impl KindProvider<SecretsSpec> for TalosProvider {
    fn schema(&self) -> KindSchema {
        super::schema(
            Duration::from_secs(3),
            Duration::from_millis(10),
            Duration::from_millis(10),
            Vec::new(),
        )
    }

    /// Refuses what would break the running cluster: a new version contract,
    /// or an imported bundle with a different OS CA.
    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        let desired = decode::<SecretsSpec>(review.desired)
            .map_err(|e| format!("{}: {e}", review.address))?;
        let Some(prior) = review.prior else {
            return Ok(match desired.import {
                Some(_) => vec!["imports the secrets bundle (kept in the encrypted state)".into()],
                None => vec![
                    "generates a new secrets bundle, kept only in the lab's encrypted state: \
                     back the state up (or export the bundle) before the nodes depend on it"
                        .into(),
                ],
            });
        };
        if review.action == Action::Replace {
            return Err(format!(
                "{} would be replaced, which means a new secrets bundle; the nodes trust the old one",
                review.address
            ));
        }
        let prior = decode::<SecretsSpec>(prior).map_err(|e| format!("{}: {e}", review.address))?;
        let (before, after) = (&prior.contract, &desired.contract);
        if before != after {
            return Err(format!(
                "the cluster's version contract is {before} and is pinned at creation; configs \
                 generated for {after} would not match what the nodes run (Talos's maintainers: \
                 never bump it on upgrade, talos#13885). Keep `.contract(\"{before}\")` and \
                 upgrade the installed version with `.talos_version(..)` instead",
            ));
        }
        if let Some(text) = &desired.import {
            let imported = parse_import(text)?;
            let recorded = review
                .prior_outputs
                .and_then(|o| decode::<SecretsOut>(o).ok());
            if let Some(recorded) = recorded {
                let recorded_fp = recorded.os_ca_fingerprint;
                if os_ca_fingerprint(&imported) != recorded_fp {
                    return Err(format!(
                        "the imported secrets.yaml has OS CA {} but the cluster runs with {}; \
                         importing it would lock the lab out of its nodes. Import the bundle the \
                         cluster was made with, or remove `.import_secrets(..)` to keep the recorded one",
                        &os_ca_fingerprint(&imported)[..16],
                        &recorded_fp[..16.min(recorded_fp.len())]
                    ));
                }
            }
        }
        Ok(vec!["keeps the recorded secrets bundle".into()])
    }

    /// The bundle lives only in the state: what the state recorded is what
    /// exists.
    async fn read(
        &self,
        _ctx: &OpContext,
        _snapshot: &(),
        requests: &[Read<SecretsSpec>],
    ) -> Result<Vec<Option<Found<SecretsSpec>>>, ProviderError> {
        Ok(requests.iter().map(|r| Some(super::recorded(r))).collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<SecretsSpec>,
    ) -> Result<Found<SecretsSpec>, ProviderError> {
        let bundle = match &req.spec.import {
            Some(text) => parse_import(text).map_err(ProviderError::permanent)?,
            None => {
                let text = &req.spec.contract;
                let contract = VersionContract::parse(text).map_err(|e| {
                    ProviderError::permanent(format!("version contract `{text}`: {e}"))
                })?;
                // RSA-4096 keygen takes seconds: keep it off the async workers.
                tokio::task::spawn_blocking(move || SecretsBundle::generate(contract))
                    .await
                    .map_err(|e| {
                        ProviderError::permanent(format!("bundle generation panicked: {e}"))
                    })?
                    .map_err(|e| {
                        ProviderError::permanent(format!("generating the secrets bundle: {e}"))
                    })?
            }
        };
        let outputs = outputs_for(&bundle);
        let fingerprint = outputs.os_ca_fingerprint.as_str();
        tracing::info!(resource = %req.address, os_ca = fingerprint, "secrets bundle ready");
        Ok(Found {
            id: format!("os-ca:{}", fingerprint.get(..16).unwrap_or(fingerprint)),
            spec: req.spec,
            outputs,
        })
    }

    /// Never regenerates: keeps the recorded bundle, or takes an imported one
    /// with the same OS CA (review refused any other).
    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<SecretsSpec>,
    ) -> Result<Found<SecretsSpec>, ProviderError> {
        let recorded = self.bundle(&req.prior_outputs.bundle)?;
        let bundle = match &req.spec.import {
            Some(text) => {
                let imported = parse_import(text).map_err(ProviderError::permanent)?;
                if os_ca_fingerprint(&imported) != os_ca_fingerprint(&recorded) {
                    return Err(ProviderError::permanent(
                        "the imported bundle has a different OS CA than the one the cluster runs with",
                    ));
                }
                imported
            }
            None => (*recorded).clone(),
        };
        Ok(Found {
            id: req.id,
            spec: req.spec,
            outputs: outputs_for(&bundle),
        })
    }

    /// The bundle lives only in the state: forgetting it is the delete (the
    /// model marks it `prevent_destroy`, so this takes intent).
    async fn delete(
        &self,
        _ctx: &OpContext,
        _req: Delete<SecretsSpec>,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}
