//! `talos.schematic` (named after the cluster, optional): an Image Factory
//! schematic registration.
//!
//! | attributes | outputs |
//! |---|---|
//! | `factory: Str` (the Image Factory's base URL, `https://factory.talos.dev`), `schematic: Str` (the canonical YAML, [`crate::factory::Schematic::canonical_yaml`]; a `Secret` when it embeds a machine config), `id: Str` (the id computed offline, SHA-256 of `schematic`) | `id: Str` (the id the factory answered, equal to `id`) |
//!
//! A `talos.schematic` is optional ([`crate::model::TalosCluster::register_schematic`]):
//! registering tells the factory about a schematic before Proxmox downloads
//! its ISO (the ISO downloads depend on it). Registration is idempotent and
//! the factory never forgets a schematic, so it is read back from the state
//! and deleting it does nothing.

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::SCHEMATIC;
use crate::factory::Schematic;

/// The spec of a `talos.schematic`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchematicSpec {
    /// The Image Factory's base URL.
    pub factory: String,
    /// The schematic's canonical YAML.
    pub schematic: SchematicYaml,
    /// The id computed offline.
    pub id: String,
}

/// The outputs of a `talos.schematic`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchematicOut {
    /// The id the factory answered.
    pub id: String,
}

impl Kind for SchematicSpec {
    const KIND: &'static str = SCHEMATIC;
    type Outputs = SchematicOut;
}

/// A schematic's canonical YAML: a plain string, or a `Secret` when the
/// schematic embeds a machine config (with its keys), as the builder
/// writes it. Read from either; written back the way the builder wrote it.
#[derive(Clone, Debug)]
pub struct SchematicYaml(Secret);

impl SchematicYaml {
    /// Wraps the YAML text.
    pub fn new(text: impl Into<String>) -> SchematicYaml {
        SchematicYaml(Secret::new(text.into()))
    }

    /// The YAML text.
    pub fn text(&self) -> &str {
        self.0.expose()
    }

    /// True if the schematic embeds a machine config (or does not parse,
    /// so it stays sealed to be safe).
    pub fn is_sensitive(&self) -> bool {
        Schematic::from_yaml(self.text()).map_or(true, |s| {
            s.customization.embedded_machine_configuration.is_some()
        })
    }
}

impl Serialize for SchematicYaml {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_sensitive() {
            self.0.serialize(serializer)
        } else {
            serializer.serialize_str(self.text())
        }
    }
}

impl<'de> Deserialize<'de> for SchematicYaml {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Secret::deserialize(deserializer).map(SchematicYaml)
    }
}
