//! `talos.schematic`: register the cluster's schematic with the Image
//! Factory before Proxmox downloads its ISO.
//!
//! The id is computed offline and is already in every URL; registering only
//! makes sure the factory knows the schematic (the official factory serves
//! any schematic whose id it has seen; a new custom one must be posted
//! first). The factory answers with its own id, which must be the offline
//! one: otherwise the factory's canonical form changed and the ISO and
//! installer URLs would name images of nothing.
//!
//! - read: keeps what the state recorded. Registration is idempotent and
//!   the factory keeps a schematic forever, so there is nothing to drift
//!   (and a plan needs no network).
//! - create / update: decode the `schematic` attribute, check it hashes to
//!   the `id` attribute, register it, check the answered id.
//! - delete: nothing (the factory never forgets a schematic).

use lab_core::provider::{CreateRequest, Observed, ReadRequest, UpdateRequest};
use lab_core::{Attrs, ProviderError, Value};

use super::{api_error, str_attr, TalosProvider};
use crate::factory::Schematic;

/// What the state recorded is what exists.
pub(super) fn read(req: &ReadRequest) -> Option<Observed> {
    Some(Observed {
        id: req.id.clone(),
        attrs: req.prior.clone(),
        outputs: req.prior_outputs.clone(),
    })
}

/// Decodes the schematic and checks it against the `id` attribute.
fn desired(attrs: &Attrs) -> Result<(Schematic, String), ProviderError> {
    let text = match attrs.get("schematic") {
        Some(Value::Secret(s)) => s.expose(),
        _ => str_attr(attrs, "schematic")?,
    };
    let id = str_attr(attrs, "id")?;
    let schematic = Schematic::from_yaml(text).map_err(|e| {
        ProviderError::permanent(format!("the `schematic` attribute is not a schematic: {e}"))
    })?;
    let offline = schematic.id();
    if offline != id {
        return Err(ProviderError::permanent(format!(
            "the `id` attribute is {id}, but the `schematic` attribute's canonical form hashes \
             to {offline}"
        )));
    }
    Ok((schematic, offline))
}

async fn register(provider: &TalosProvider, attrs: &Attrs) -> Result<Observed, ProviderError> {
    let (schematic, offline) = desired(attrs)?;
    let client = provider.factory_client(str_attr(attrs, "factory")?)?;
    let id = client
        .register(&schematic)
        .await
        .map_err(|e| api_error("registering the schematic", e))?;
    tracing::info!(
        factory = %client.factory().base_url(),
        schematic = %id,
        "schematic registered"
    );
    debug_assert_eq!(id, offline);
    let mut outputs = Attrs::new();
    outputs.insert("id".into(), Value::from(id.as_str()));
    Ok(Observed {
        id,
        attrs: attrs.clone(),
        outputs,
    })
}

pub(super) async fn create(
    provider: &TalosProvider,
    req: &CreateRequest,
) -> Result<Observed, ProviderError> {
    register(provider, &req.attrs).await
}

/// Another schematic (or factory): register it; the old one stays known.
pub(super) async fn update(
    provider: &TalosProvider,
    req: &UpdateRequest,
) -> Result<Observed, ProviderError> {
    register(provider, &req.attrs).await
}
