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

use lab_core::plan::Action;
use lab_core::provider::{CreateRequest, Observed, ReadRequest, StepReview, UpdateRequest};
use lab_core::{Attrs, ProviderError, Secret, Value};

use super::TalosProvider;
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

fn outputs_for(bundle: &SecretsBundle) -> Attrs {
    let mut outputs = Attrs::new();
    outputs.insert(
        "bundle".into(),
        Value::Secret(Secret::new(bundle.to_yaml())),
    );
    outputs.insert(
        "os_ca_fingerprint".into(),
        Value::Str(os_ca_fingerprint(bundle)),
    );
    outputs
}

fn contract_of(attrs: &Attrs) -> Result<VersionContract, ProviderError> {
    let text = attrs
        .get("contract")
        .and_then(Value::as_str)
        .unwrap_or("v1.13");
    VersionContract::parse(text)
        .map_err(|e| ProviderError::permanent(format!("version contract `{text}`: {e}")))
}

fn parse_import(secret: &Secret) -> Result<SecretsBundle, String> {
    SecretsBundle::from_yaml(secret.expose()).map_err(|e| {
        format!(
            "the imported secrets.yaml does not parse: {e}; export it again with \
             `talosctl gen secrets --from-controlplane-config controlplane.yaml`"
        )
    })
}

/// The bundle lives only in the state: what the state recorded is what
/// exists. A record without its bundle is gone.
pub(super) fn read(req: &ReadRequest) -> Option<Observed> {
    if !matches!(req.prior_outputs.get("bundle"), Some(Value::Secret(_))) {
        return None;
    }
    Some(Observed {
        id: req.id.clone(),
        attrs: req.prior.clone(),
        outputs: req.prior_outputs.clone(),
    })
}

pub(super) async fn create(req: &CreateRequest) -> Result<Observed, ProviderError> {
    let bundle = match req.attrs.get("import") {
        Some(Value::Secret(text)) => parse_import(text).map_err(ProviderError::permanent)?,
        _ => {
            let contract = contract_of(&req.attrs)?;
            // RSA-4096 keygen takes seconds: keep it off the async workers.
            tokio::task::spawn_blocking(move || SecretsBundle::generate(contract))
                .await
                .map_err(|e| ProviderError::permanent(format!("bundle generation panicked: {e}")))?
                .map_err(|e| {
                    ProviderError::permanent(format!("generating the secrets bundle: {e}"))
                })?
        }
    };
    let outputs = outputs_for(&bundle);
    let fingerprint = outputs["os_ca_fingerprint"].as_str().unwrap_or_default();
    tracing::info!(resource = %req.address, os_ca = fingerprint, "secrets bundle ready");
    Ok(Observed {
        id: format!("os-ca:{}", fingerprint.get(..16).unwrap_or(fingerprint)),
        attrs: req.attrs.clone(),
        outputs,
    })
}

/// Never regenerates: keeps the recorded bundle, or takes an imported one
/// with the same OS CA (review refused any other).
pub(super) fn update(
    provider: &TalosProvider,
    req: &UpdateRequest,
) -> Result<Observed, ProviderError> {
    let prior_yaml = match req.prior_outputs.get("bundle") {
        Some(Value::Secret(s)) => s,
        _ => {
            return Err(ProviderError::permanent(
                "the state has no bundle for this cluster; nothing to keep",
            ))
        }
    };
    let recorded = super::parse_bundle_cached(&provider.bundles, prior_yaml)?;
    let bundle = match req.attrs.get("import") {
        Some(Value::Secret(text)) => {
            let imported = parse_import(text).map_err(ProviderError::permanent)?;
            if os_ca_fingerprint(&imported) != os_ca_fingerprint(&recorded) {
                return Err(ProviderError::permanent(
                    "the imported bundle has a different OS CA than the one the cluster runs with",
                ));
            }
            imported
        }
        _ => (*recorded).clone(),
    };
    Ok(Observed {
        id: req.id.clone(),
        attrs: req.attrs.clone(),
        outputs: outputs_for(&bundle),
    })
}

/// Refuses what would break the running cluster: a new version contract,
/// or an imported bundle with a different OS CA.
pub(super) fn review(
    provider: &TalosProvider,
    review: &StepReview<'_>,
) -> Result<Vec<String>, String> {
    let Some(prior) = review.prior else {
        return Ok(match review.desired.get("import") {
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
    let before = prior.get("contract").and_then(Value::as_str);
    let after = review.desired.get("contract").and_then(Value::as_str);
    if before.is_some() && before != after {
        return Err(format!(
            "the cluster's version contract is {} and is pinned at creation; configs \
             generated for {} would not match what the nodes run (Talos's maintainers: never \
             bump it on upgrade, talos#13885). Keep `.contract(\"{}\")` and upgrade the \
             installed version with `.talos_version(..)` instead",
            before.unwrap_or("?"),
            after.unwrap_or("?"),
            before.unwrap_or("?"),
        ));
    }
    if let Some(Value::Secret(text)) = review.desired.get("import") {
        let imported = parse_import(text)?;
        let outputs = review.prior_outputs;
        let recorded_fp = outputs
            .and_then(|o| o.get("os_ca_fingerprint"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| match outputs.and_then(|o| o.get("bundle")) {
                Some(Value::Secret(s)) => super::parse_bundle_cached(&provider.bundles, s)
                    .ok()
                    .map(|b| os_ca_fingerprint(&b)),
                _ => None,
            });
        if let Some(recorded_fp) = recorded_fp {
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
