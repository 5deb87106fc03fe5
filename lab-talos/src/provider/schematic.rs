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
//! - create / update: check the `schematic` field hashes to the `id` field, register it, check the answered id.
//! - delete: nothing (the factory never forgets a schematic).

use std::time::Duration;

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{KindSchema, OpContext};
use lab_core::ProviderError;

use super::{api_error, TalosProvider};
use crate::factory::Schematic;
use crate::kinds::{SchematicOut, SchematicSpec};

/// Decodes the schematic and checks it against the `id` field.
fn desired(spec: &SchematicSpec) -> Result<(Schematic, String), ProviderError> {
    let schematic = Schematic::from_yaml(spec.schematic.text()).map_err(|e| {
        ProviderError::permanent(format!("the `schematic` attribute is not a schematic: {e}"))
    })?;
    let offline = schematic.id();
    if offline != spec.id {
        return Err(ProviderError::permanent(format!(
            "the `id` attribute is {}, but the `schematic` attribute's canonical form hashes \
             to {offline}",
            spec.id
        )));
    }
    Ok((schematic, offline))
}

async fn register(
    provider: &TalosProvider,
    spec: SchematicSpec,
) -> Result<Found<SchematicSpec>, ProviderError> {
    let (schematic, offline) = desired(&spec)?;
    let client = provider.factory_client(&spec.factory)?;
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
    Ok(Found {
        id: id.clone(),
        spec,
        outputs: SchematicOut { id },
    })
}

#[async_trait]
impl KindProvider<SchematicSpec> for TalosProvider {
    fn schema(&self) -> KindSchema {
        super::schema(
            Duration::from_secs(2),
            Duration::from_secs(2),
            Duration::from_millis(10),
            Vec::new(),
        )
    }

    /// What the state recorded is what exists.
    async fn read(
        &self,
        _ctx: &OpContext,
        _snapshot: &(),
        requests: &[Read<SchematicSpec>],
    ) -> Result<Vec<Option<Found<SchematicSpec>>>, ProviderError> {
        Ok(requests.iter().map(|r| Some(super::recorded(r))).collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<SchematicSpec>,
    ) -> Result<Found<SchematicSpec>, ProviderError> {
        register(self, req.spec).await
    }

    /// Another schematic (or factory): register it; the old one stays known.
    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<SchematicSpec>,
    ) -> Result<Found<SchematicSpec>, ProviderError> {
        register(self, req.spec).await
    }

    /// The factory never forgets a schematic: nothing to delete.
    async fn delete(
        &self,
        _ctx: &OpContext,
        _req: Delete<SchematicSpec>,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}
