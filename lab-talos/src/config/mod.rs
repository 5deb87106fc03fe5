//! Talos machine configs: generation, patches, validation, reboot impact.
//!
//! A Talos node is described entirely by its machine config, a stream of
//! YAML documents. `lab` generates those configs itself, as a pure function
//! of the cluster's secrets bundle, its version contract and the lab's
//! inputs, instead of shelling out to `talosctl gen config`:
//!
//! - [`generate`](fn@generate) builds a node's documents for the **v1.13
//!   contract** (classic layout: one `v1alpha1` document plus
//!   `HostnameConfig`) exactly as Talos's `generate` package does
//!   (golden-tested byte for byte against Talos's own stability-test
//!   outputs), adds what the lab needs on top
//!   (a `Layer2VIPConfig` on control planes, static addressing through
//!   `LinkConfig`/`ResolverConfig`, a fixed hostname), then applies the
//!   cluster's, the role's and the node's patches in that order.
//! - [`Patch`] implements Talos's patch formats: strategic merge (documents
//!   matched by `apiVersion`/`kind`/`name`, `$patch: delete`, the merge rules
//!   of Talos's Go types) and RFC 6902 JSON patches (single-document configs
//!   only, as in Talos). Errors carry the patch's index and the YAML path, so
//!   the model layer can point at the user's line.
//! - [`render`] writes the documents as Talos would ([`crate::yaml`]).
//! - `validate` (feature `schema`, which brings the `jsonschema` crate)
//!   checks each document against the Talos JSON schema of the contract:
//!   the embedded v1.13.9 schema ([`default_schema`]) or one the caller
//!   loads (`load_schema`).
//! - [`needs_reboot`] lists the changes between two configs that a v1.13
//!   node cannot apply without rebooting, so a plan can say so.
//!
//! ## Deprecated fields
//!
//! Talos's generator still writes `persist: true` into every v1alpha1
//! document although the field is deprecated and absent from the JSON
//! schema. [`generate`](fn@generate) emits it (so the output equals
//! Talos's) and [`validate`](fn@validate) ignores it. Talos's stability test also exercises
//! `machine.install.extraKernelArgs`, which the v1.13 schema hides as
//! deprecated; `lab` has no input for it (kernel arguments belong in the
//! Image Factory schematic), a patch can still set it, and
//! [`validate`](fn@validate) reports it.

mod generate;
mod patch;
mod reboot;
mod shape;
#[cfg(feature = "schema")]
mod validate;

use std::fmt;

pub use generate::{
    generate, ClusterInput, Cni, ConfigError, ConfigSecrets, NodeInput, PatchLayer, RegistryMirror,
    Role, StaticNetwork, Vip,
};
pub use patch::{apply_patches, Patch, PatchError, PatchErrorKind};
pub use reboot::{changed_paths, needs_reboot, LIVE_MULTIDOC_KINDS, LIVE_V1ALPHA1_PATHS};
#[cfg(feature = "schema")]
pub use validate::{load_schema, validate, Schema, SchemaError, ValidationIssue};

pub use crate::secrets::VersionContract;

use crate::yaml::Node;

/// Talos's machine-config JSON schema of v1.13.9, the release of the
/// v1.13 contract (Draft 2020-12), embedded in the crate: an unmodified
/// copy of `lab-talos/reference/talos-config.v1.13.9.schema.json`
/// (siderolabs/talos, MPL-2.0; origin and sha256 in
/// `lab-talos/reference/SOURCES.md`).
pub const SCHEMA_V1_13_9_JSON: &str =
    include_str!("../../reference/talos-config.v1.13.9.schema.json");

/// [`SCHEMA_V1_13_9_JSON`], parsed.
pub fn default_schema() -> serde_json::Value {
    serde_json::from_str(SCHEMA_V1_13_9_JSON).expect("the embedded Talos schema is JSON")
}

/// One document of a machine config.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The document's content: a mapping.
    pub body: Node,
    /// Where the document comes from (for diagnostics).
    pub source: DocSource,
}

/// Where a [`Document`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocSource {
    /// Written by the generator.
    Generated,
    /// Added by a patch (a document no generated one matched).
    Patch {
        /// The layer of the patch, when it was applied by
        /// [`generate`](fn@generate).
        layer: Option<PatchLayer>,
        /// The patch's index in its list (0-based).
        index: usize,
    },
}

/// The identity Talos matches documents by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DocId {
    /// The legacy `v1alpha1` document (it has `version:` and no `kind:`).
    V1Alpha1,
    /// A multi-document kind, with its `name` if it has one.
    Kind {
        /// `apiVersion`, e.g. `v1alpha1`.
        api_version: String,
        /// `kind`, e.g. `LinkConfig`.
        kind: String,
        /// `name`, for named kinds.
        name: Option<String>,
    },
}

impl DocId {
    /// The kind (`v1alpha1` for the legacy document).
    pub fn kind(&self) -> &str {
        match self {
            DocId::V1Alpha1 => "v1alpha1",
            DocId::Kind { kind, .. } => kind,
        }
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocId::V1Alpha1 => f.write_str("v1alpha1"),
            DocId::Kind {
                kind,
                name: Some(name),
                ..
            } => write!(f, "{kind}({name})"),
            DocId::Kind { kind, .. } => f.write_str(kind),
        }
    }
}

impl Document {
    /// A generated document.
    pub fn new(body: Node) -> Document {
        Document {
            body,
            source: DocSource::Generated,
        }
    }

    /// Parses a multi-document YAML config (every document must be a
    /// mapping). Documents are marked [`DocSource::Generated`].
    pub fn parse_all(text: &str) -> Result<Vec<Document>, crate::yaml::YamlError> {
        let nodes = crate::yaml::parse(text)?;
        for (i, n) in nodes.iter().enumerate() {
            if !matches!(n, Node::Map(_)) {
                return Err(crate::yaml::YamlError {
                    message: format!("document {i} is a {}, not a mapping", n.type_name()),
                    line: 0,
                    column: 0,
                });
            }
        }
        Ok(nodes.into_iter().map(Document::new).collect())
    }

    /// The identity Talos matches this document by.
    pub fn id(&self) -> DocId {
        doc_id(&self.body)
    }

    /// The document's `kind` (`v1alpha1` for the legacy document).
    pub fn kind(&self) -> String {
        self.id().kind().to_owned()
    }
}

/// The identity of a document body (see [`Document::id`]).
pub(crate) fn doc_id(body: &Node) -> DocId {
    match body.get("kind").and_then(Node::as_str) {
        None => DocId::V1Alpha1,
        Some(kind) => DocId::Kind {
            api_version: body
                .get("apiVersion")
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_owned(),
            kind: kind.to_owned(),
            name: body.get("name").and_then(Node::scalar_text),
        },
    }
}

/// Writes documents as one multi-document YAML stream, as Talos encodes a
/// machine config (documents separated by `---`).
pub fn render(docs: &[Document]) -> String {
    let bodies: Vec<Node> = docs.iter().map(|d| d.body.clone()).collect();
    crate::yaml::to_string_multi(&bodies)
}

/// The document kinds of the v1.13 schema (the branches of its root
/// `oneOf`), with the fields each requires beyond `apiVersion` and `kind`.
/// A patch may only add a document of one of these kinds, with these fields.
pub const V1_13_KINDS: &[(&str, &[&str])] = &[
    ("ExistingVolumeConfig", &[]),
    ("ExternalVolumeConfig", &[]),
    ("RawVolumeConfig", &[]),
    ("SwapVolumeConfig", &[]),
    ("UserVolumeConfig", &[]),
    ("VolumeConfig", &[]),
    ("ZswapConfig", &[]),
    ("RegistryAuthConfig", &["name"]),
    ("RegistryMirrorConfig", &["name"]),
    ("RegistryTLSConfig", &["name"]),
    ("ExtensionServiceConfig", &["name"]),
    ("PCIDriverRebindConfig", &["name", "targetDriver"]),
    ("BlackholeRouteConfig", &["name"]),
    ("BondConfig", &["bondMode", "links", "name"]),
    ("BridgeConfig", &["links", "name"]),
    ("NetworkDefaultActionConfig", &[]),
    ("DHCPv4Config", &["name"]),
    ("DHCPv6Config", &["name"]),
    ("DummyLinkConfig", &["name"]),
    ("EthernetConfig", &["name"]),
    ("HCloudVIPConfig", &["name"]),
    ("HostnameConfig", &[]),
    ("KubeSpanConfig", &[]),
    ("KubeSpanEndpoints", &[]),
    ("Layer2VIPConfig", &["name"]),
    ("LinkConfig", &["name"]),
    ("LinkAliasConfig", &["name"]),
    ("ResolverConfig", &[]),
    ("RoutingRuleConfig", &["name", "table"]),
    ("NetworkRuleConfig", &["name"]),
    ("StaticHostConfig", &["name"]),
    ("TCPProbeConfig", &["endpoint", "name"]),
    ("TimeSyncConfig", &[]),
    ("VLANConfig", &["name", "parent", "vlanID"]),
    ("VRFConfig", &["links", "name", "table"]),
    ("WireguardConfig", &["name", "privateKey"]),
    ("EnvironmentConfig", &[]),
    ("EventSinkConfig", &[]),
    ("KmsgLogConfig", &[]),
    ("OOMConfig", &[]),
    ("WatchdogTimerConfig", &[]),
    ("TrustedRootsConfig", &["name"]),
    ("SideroLinkConfig", &[]),
];
