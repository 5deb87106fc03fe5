//! The Talos provider: lab-core's [`Provider`] for the kinds in
//! [`crate::kinds`].
//!
//! It drives a cluster in the order the peers' users keep getting wrong
//! (talos-peers.md, pain points 1, 5, 6, 9):
//!
//! 1. `talos.secrets`: the bundle is generated once (or imported from
//!    talosctl's `secrets.yaml`) and lives only in the lab's encrypted
//!    state. It is never regenerated: an update keeps the recorded bundle,
//!    and a plan that would need a new one while nodes trust the old one
//!    stops ([`Provider::review`]).
//! 2. `talos.machine`: waits for the node's VM to answer in maintenance
//!    mode (insecure, trust on first use), applies the machine config, then
//!    waits for the installed node to answer over mTLS with the lab's admin
//!    certificate. Later changes go over mTLS with mode `AUTO`, and the plan
//!    says beforehand whether the node will reboot.
//! 3. `talos.cluster`: bootstraps etcd once on the first control plane
//!    (`AlreadyExists` is success, so a lost state or a crash can't wedge
//!    it), waits for the cluster to be healthy, and fetches the kubeconfig.
//!
//! `talos.schematic` (optional) registers the cluster's schematic with the
//! Image Factory ([`crate::api::FactoryClient`]) before the ISO downloads
//! that depend on it, and checks that the factory's id is the offline one.
//!
//! The Talos API is always dialled at real node addresses, never the VIP
//! (it only exists once etcd runs). Client certificates are derived from
//! the bundle on demand and are never the source of truth.

mod cluster;
mod machine;
mod schematic;
mod secrets;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lab_core::provider::{
    CreateRequest, DeleteRequest, Estimates, KindSchema, Limit, Observed, OpContext, OpInfo,
    OpKind, Ownership, ReadRequest, StepReview, UpdateRequest,
};
use lab_core::{Attrs, Check, Provider, ProviderError, Secret, Value};

use crate::api::{ApiError, Credentials, FactoryClient};
use crate::factory::ImageFactory;
use crate::kinds;
use crate::secrets::SecretsBundle;
use crate::sha256_hex;

/// The port apid listens on.
pub const TALOS_API_PORT: u16 = 50000;

/// Maps a node address to the `host:port` the client dials.
pub type Dialer = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// How the provider reaches nodes and how long it waits for them.
#[derive(Clone)]
pub struct TalosOptions {
    /// Where to dial a node's apid (default `<address>:50000`; the
    /// simulator maps each node address to its loopback port).
    pub dial: Dialer,
    /// How long a new VM may take to answer in maintenance mode.
    pub boot_timeout: Duration,
    /// How long install + reboot may take after the first apply.
    pub install_timeout: Duration,
    /// How long the cluster may take to become healthy after bootstrap.
    pub health_timeout: Duration,
    /// The pause between two probes of a node that isn't ready yet.
    pub poll: Duration,
    /// The Image Factory client `talos.schematic` registers with, pointed
    /// at each resource's `factory` URL ([`FactoryClient::at`]): its
    /// trusted roots and timeout apply. `None`: a client trusting the
    /// platform's roots, made when a schematic is registered.
    pub factory: Option<FactoryClient>,
}

impl TalosOptions {
    /// Real nodes: apid on port 50000 of each node address, generous
    /// timeouts (an install downloads the installer image).
    pub fn live() -> TalosOptions {
        TalosOptions {
            dial: Arc::new(|address: &str| format!("{address}:{TALOS_API_PORT}")),
            boot_timeout: Duration::from_secs(600),
            install_timeout: Duration::from_secs(900),
            health_timeout: Duration::from_secs(900),
            poll: Duration::from_secs(3),
            factory: None,
        }
    }

    /// The same options, registering schematics through `client` (for a
    /// self-hosted factory with a private CA, or a
    /// `FactorySim`'s client, feature `sim`).
    pub fn with_factory(mut self, client: FactoryClient) -> TalosOptions {
        self.factory = Some(client);
        self
    }

    /// Nodes of a [`crate::sim::TalosSim`]: each node address dials the
    /// simulator's loopback port for it; short polls.
    #[cfg(feature = "sim")]
    pub fn simulated(sim: &crate::sim::TalosSim) -> TalosOptions {
        let sim = sim.clone();
        TalosOptions {
            dial: Arc::new(move |address: &str| {
                sim.endpoint(address)
                    .unwrap_or_else(|| format!("{address}:{TALOS_API_PORT}"))
            }),
            boot_timeout: Duration::from_secs(60),
            install_timeout: Duration::from_secs(60),
            health_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(20),
            factory: None,
        }
    }
}

impl std::fmt::Debug for TalosOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TalosOptions")
            .field("boot_timeout", &self.boot_timeout)
            .field("install_timeout", &self.install_timeout)
            .field("health_timeout", &self.health_timeout)
            .field("poll", &self.poll)
            .field("factory", &self.factory)
            .finish_non_exhaustive()
    }
}

/// The provider for `talos.secrets`, `talos.machine`, `talos.cluster` and
/// `talos.schematic`.
///
/// ```no_run
/// use std::sync::Arc;
/// use lab_talos::provider::{TalosOptions, TalosProvider};
/// let mut lab = lab_core::Lab::new("home");
/// lab.register_provider(Arc::new(TalosProvider::new(TalosOptions::live())));
/// ```
pub struct TalosProvider {
    options: TalosOptions,
    bundles: Mutex<HashMap<String, Arc<SecretsBundle>>>,
}

impl TalosProvider {
    /// A provider with these options.
    pub fn new(options: TalosOptions) -> TalosProvider {
        TalosProvider {
            options,
            bundles: Mutex::new(HashMap::new()),
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> &TalosOptions {
        &self.options
    }

    /// The bundle a `secrets` attribute carries, parsed once per content.
    fn bundle(&self, attrs: &Attrs) -> Result<Arc<SecretsBundle>, ProviderError> {
        let yaml = match attrs.get("secrets") {
            Some(Value::Secret(s)) => s,
            Some(Value::Ref(r)) => {
                return Err(ProviderError::permanent(format!(
                    "the secrets bundle ({}#{}) is not known yet",
                    r.address, r.output
                )))
            }
            _ => {
                return Err(ProviderError::permanent(
                    "the resource has no `secrets` attribute (the cluster's bundle)",
                ))
            }
        };
        parse_bundle_cached(&self.bundles, yaml)
    }

    fn credentials(&self, bundle: &SecretsBundle) -> Result<Credentials, ProviderError> {
        Credentials::admin(bundle).map_err(|e| api_error("issue the admin certificate", e))
    }

    fn dial(&self, address: &str) -> String {
        (self.options.dial)(address)
    }

    /// The factory client for base URL `url`: the configured one pointed
    /// there, or one trusting the platform's roots.
    fn factory_client(&self, url: &str) -> Result<FactoryClient, ProviderError> {
        let factory = ImageFactory::new(url)
            .map_err(|e| ProviderError::permanent(format!("the `factory` attribute: {e}")))?;
        match &self.options.factory {
            Some(client) => Ok(client.at(factory)),
            None => FactoryClient::new(factory)
                .map_err(|e| api_error("setting up the Image Factory client", e)),
        }
    }
}

fn parse_bundle_cached(
    cache: &Mutex<HashMap<String, Arc<SecretsBundle>>>,
    yaml: &Secret,
) -> Result<Arc<SecretsBundle>, ProviderError> {
    let key = sha256_hex(yaml.expose().as_bytes());
    if let Some(b) = cache.lock().expect("bundle cache").get(&key) {
        return Ok(b.clone());
    }
    let bundle = SecretsBundle::from_yaml(yaml.expose()).map_err(|e| {
        ProviderError::permanent(format!("the stored secrets bundle does not parse: {e}"))
    })?;
    let bundle = Arc::new(bundle);
    cache
        .lock()
        .expect("bundle cache")
        .insert(key, bundle.clone());
    Ok(bundle)
}

/// The cluster's secrets bundle as talosctl's `secrets.yaml` text, read
/// from the lab's state: back it up, hand it to `talosctl gen config
/// --with-secrets`, or give it to [`crate::model::TalosCluster::import_secrets`]
/// if the state is ever lost. `None` if the state has no bundle for
/// `cluster`.
///
/// ```
/// let state = lab_core::State::new("home");
/// assert!(lab_talos::provider::export_secrets(&state, "home").is_none());
/// ```
pub fn export_secrets(state: &lab_core::State, cluster: &str) -> Option<Secret> {
    let address = lab_core::Address::new(kinds::SECRETS, cluster);
    match state.resources.get(&address)?.outputs.get("bundle")? {
        Value::Secret(s) => Some(s.clone()),
        _ => None,
    }
}

/// A provider error from a Talos API error, with what was being done.
pub(crate) fn api_error(doing: &str, e: ApiError) -> ProviderError {
    let message = format!("{doing}: {e}");
    if e.is_transient() {
        ProviderError::transient(message)
    } else {
        ProviderError::permanent(message)
    }
}

pub(crate) fn str_attr<'a>(attrs: &'a Attrs, field: &str) -> Result<&'a str, ProviderError> {
    attrs
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::permanent(format!("missing string attribute `{field}`")))
}

pub(crate) fn str_list(attrs: &Attrs, field: &str) -> Vec<String> {
    match attrs.get(field) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[async_trait]
impl Provider for TalosProvider {
    fn name(&self) -> &str {
        "talos"
    }

    fn kinds(&self) -> Vec<&'static str> {
        kinds::MANAGED.to_vec()
    }

    fn schema(&self, kind: &str) -> KindSchema {
        match kind {
            kinds::SECRETS => KindSchema {
                estimate: Estimates {
                    create: Duration::from_secs(3),
                    update: Duration::from_millis(10),
                    delete: Duration::from_millis(10),
                },
                ..KindSchema::default()
            },
            kinds::MACHINE => KindSchema {
                force_new: vec!["vm", "address", "role", "cluster"],
                estimate: Estimates {
                    create: Duration::from_secs(180),
                    update: Duration::from_secs(30),
                    delete: Duration::from_secs(30),
                },
                ..KindSchema::default()
            },
            kinds::CLUSTER => KindSchema {
                estimate: Estimates {
                    create: Duration::from_secs(300),
                    update: Duration::from_secs(60),
                    delete: Duration::from_millis(10),
                },
                ..KindSchema::default()
            },
            kinds::SCHEMATIC => KindSchema {
                estimate: Estimates {
                    create: Duration::from_secs(2),
                    update: Duration::from_secs(2),
                    delete: Duration::from_millis(10),
                },
                ..KindSchema::default()
            },
            _ => KindSchema::default(),
        }
    }

    fn checks(&self) -> Vec<Check> {
        crate::checks::checks()
    }

    async fn read(
        &self,
        ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let reads = requests.iter().map(|req| async move {
            match req.address.kind() {
                kinds::SECRETS => Ok(secrets::read(req)),
                kinds::MACHINE => machine::read(self, ctx, req).await,
                kinds::CLUSTER => Ok(cluster::read(req)),
                kinds::SCHEMATIC => Ok(schematic::read(req)),
                other => Err(ProviderError::permanent(format!(
                    "the Talos provider does not manage `{other}`"
                ))),
            }
        });
        futures_util::future::join_all(reads)
            .await
            .into_iter()
            .collect()
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError> {
        match req.address.kind() {
            kinds::SECRETS => secrets::create(req).await,
            kinds::MACHINE => machine::create(self, ctx, req).await,
            kinds::CLUSTER => cluster::create(self, ctx, req).await,
            kinds::SCHEMATIC => schematic::create(self, req).await,
            other => Err(ProviderError::permanent(format!(
                "the Talos provider does not manage `{other}`"
            ))),
        }
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError> {
        match req.address.kind() {
            kinds::SECRETS => secrets::update(self, req),
            kinds::MACHINE => machine::update(self, ctx, req).await,
            kinds::CLUSTER => cluster::update(self, ctx, req).await,
            kinds::SCHEMATIC => schematic::update(self, req).await,
            other => Err(ProviderError::permanent(format!(
                "the Talos provider does not manage `{other}`"
            ))),
        }
    }

    async fn delete(&self, ctx: &OpContext, req: &DeleteRequest) -> Result<(), ProviderError> {
        match req.address.kind() {
            // The bundle lives only in the state: forgetting it is the delete
            // (the model marks it prevent_destroy, so this takes intent).
            // The factory never forgets a schematic: nothing to delete.
            kinds::SECRETS | kinds::CLUSTER | kinds::SCHEMATIC => Ok(()),
            kinds::MACHINE => machine::delete(self, ctx, req).await,
            other => Err(ProviderError::permanent(format!(
                "the Talos provider does not manage `{other}`"
            ))),
        }
    }

    /// Nothing carries a marker: the bundle lives only in the state, and a
    /// machine, cluster or schematic create that a crash interrupted is
    /// simply run again (re-applying the same config, re-bootstrapping and
    /// re-registering are idempotent), so adoption finds nothing.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        _owner: &Ownership,
        _desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError> {
        Ok(Vec::new())
    }

    /// Machine updates of one cluster go one node at a time: a change that
    /// reboots (or upgrades) never takes two control planes, and so etcd's
    /// quorum, down at once.
    fn limits(&self, op: &OpInfo<'_>) -> Vec<Limit> {
        if op.address.kind() != kinds::MACHINE || op.op != OpKind::Update {
            return Vec::new();
        }
        let cluster = op
            .attrs
            .get("cluster")
            .and_then(Value::as_str)
            .unwrap_or("?");
        vec![Limit::operation(format!("talos:rolling:{cluster}"), 1)]
    }

    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        match review.address.kind() {
            kinds::SECRETS => secrets::review(self, review),
            kinds::MACHINE => machine::review(self, review),
            kinds::CLUSTER => Ok(cluster::review(review)),
            _ => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_options_dial_port_50000() {
        let o = TalosOptions::live();
        assert_eq!((o.dial)("10.0.10.11"), "10.0.10.11:50000");
    }
}
