//! The Talos provider: a [`TypedProvider`] with one [`KindProvider`](lab_core::kind::KindProvider) per
//! kind of [`crate::kinds`] (one file each), given to the engine as the
//! [`Typed`] adapter by [`TalosProvider::shared`].
//!
//! It drives a cluster in the order the peers' users keep getting wrong
//! (talos-peers.md, pain points 1, 5, 6, 9):
//!
//! 1. `talos.secrets`: the bundle is generated once (or imported from
//!    talosctl's `secrets.yaml`) and lives only in the lab's encrypted
//!    state. It is never regenerated: an update keeps the recorded bundle,
//!    and a plan that would need a new one while nodes trust the old one
//!    stops (`KindProvider::review`).
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
//! `talos.workload` has its own provider, [`WorkloadFolder`]: Kubernetes
//! manifests written to a folder for GitOps (see its module).
//!
//! The Talos API is always dialled at real node addresses, never the VIP
//! (it only exists once etcd runs). Client certificates are derived from
//! the bundle on demand and are never the source of truth.

mod cluster;
mod machine;
mod schematic;
mod secrets;
mod workload;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lab_core::kind::{Found, Kind, Read, Typed, TypedProvider};
use lab_core::provider::{OpContext, ReadRequest};
use lab_core::value::decode;
use lab_core::{Check, Provider, ProviderError, Secret};

use crate::api::{ApiError, Credentials, FactoryClient};
use crate::factory::ImageFactory;
use crate::kinds::{self, ClusterSpec, MachineSpec, SchematicSpec, SecretsOut, SecretsSpec};
use crate::secrets::SecretsBundle;
use crate::sha256_hex;

pub use workload::WorkloadFolder;

/// The port apid listens on.
pub const TALOS_API_PORT: u16 = 50000;

/// Maps a node address to the `host:port` the client dials, or says why
/// it must not be dialled (a simulated lab and an address its simulator
/// does not have).
pub type Dialer = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

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
    /// The simulator that makes a node for every machine address the lab
    /// declares ([`TalosOptions::simulated_from_lab`]).
    #[cfg(feature = "sim")]
    pub(crate) learns: Option<crate::sim::TalosSim>,
    /// A simulated lab: schematics are registered only with a factory on
    /// loopback (a `FactorySim`), never the real one.
    #[cfg(feature = "sim")]
    pub(crate) simulated: bool,
}

impl TalosOptions {
    /// Real nodes: apid on port 50000 of each node address, generous
    /// timeouts (an install downloads the installer image).
    pub fn live() -> TalosOptions {
        TalosOptions {
            dial: Arc::new(|address: &str| Ok(format!("{address}:{TALOS_API_PORT}"))),
            boot_timeout: Duration::from_secs(600),
            install_timeout: Duration::from_secs(900),
            health_timeout: Duration::from_secs(900),
            poll: Duration::from_secs(3),
            factory: None,
            #[cfg(feature = "sim")]
            learns: None,
            #[cfg(feature = "sim")]
            simulated: false,
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
    /// simulator's loopback port for it; short polls. A simulated lab
    /// never dials anything else: an address the simulator has no node for
    /// is an error naming it (never the real address, which may be a real
    /// machine on the LAN), and so is an endpoint that is not loopback.
    #[cfg(feature = "sim")]
    pub fn simulated(sim: &crate::sim::TalosSim) -> TalosOptions {
        let sim = sim.clone();
        TalosOptions {
            dial: Arc::new(move |address: &str| simulated_endpoint(&sim, address)),
            boot_timeout: Duration::from_secs(60),
            install_timeout: Duration::from_secs(60),
            health_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(20),
            factory: None,
            learns: None,
            simulated: true,
        }
    }

    /// Like [`TalosOptions::simulated`], and the simulator takes its nodes
    /// from the lab: before each plan, every `talos.machine` address the
    /// lab declares (for this provider instance) becomes a node of `sim`
    /// if it is not one yet (in maintenance mode once a VM runs there, see
    /// [`crate::connect`]). Addresses the lab does not declare stay
    /// unknown, and dialling one is an error.
    #[cfg(feature = "sim")]
    pub fn simulated_from_lab(sim: &crate::sim::TalosSim) -> TalosOptions {
        TalosOptions {
            learns: Some(sim.clone()),
            ..TalosOptions::simulated(sim)
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
/// use lab_talos::provider::{TalosOptions, TalosProvider};
/// let mut lab = lab_core::Lab::new("home");
/// lab.register_provider(TalosProvider::shared(TalosOptions::live()));
/// ```
pub struct TalosProvider {
    options: TalosOptions,
    bundles: Mutex<HashMap<String, Arc<SecretsBundle>>>,
}

impl TalosProvider {
    /// The provider as the engine takes it: the [`Typed`] adapter serving
    /// `talos.secrets`, `talos.machine`, `talos.cluster` and
    /// `talos.schematic`.
    pub fn shared(options: TalosOptions) -> Arc<dyn Provider> {
        Self::typed(TalosProvider::new(options)).shared()
    }

    /// `provider` behind the [`Typed`] adapter, with every kind.
    pub fn typed(provider: TalosProvider) -> Typed<TalosProvider> {
        Typed::new(provider)
            .kind::<SecretsSpec>()
            .kind::<MachineSpec>()
            .kind::<ClusterSpec>()
            .kind::<SchematicSpec>()
    }

    /// A provider with these options (see [`TalosProvider::shared`]).
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

    /// The bundle a `secrets` field carries, parsed once per content.
    fn bundle(&self, yaml: &Secret) -> Result<Arc<SecretsBundle>, ProviderError> {
        parse_bundle_cached(&self.bundles, yaml)
    }

    fn credentials(&self, bundle: &SecretsBundle) -> Result<Credentials, ProviderError> {
        Credentials::admin(bundle).map_err(|e| api_error("issue the admin certificate", e))
    }

    fn dial(&self, address: &str) -> Result<String, ProviderError> {
        (self.options.dial)(address).map_err(ProviderError::permanent)
    }

    /// The factory client for base URL `url`: the configured one pointed
    /// there, or one trusting the platform's roots.
    fn factory_client(&self, url: &str) -> Result<FactoryClient, ProviderError> {
        let factory = ImageFactory::new(url)
            .map_err(|e| ProviderError::permanent(format!("the `factory` attribute: {e}")))?;
        #[cfg(feature = "sim")]
        if self.options.simulated && !is_loopback_url(factory.base_url()) {
            return Err(ProviderError::permanent(format!(
                "a simulated lab registers schematics only with a simulated Image Factory on \
                 loopback, never {url}: give the cluster `.factory(..)` a `FactorySim`'s URL and \
                 the options its client (`TalosOptions::with_factory`), or leave \
                 `.register_schematic()` out"
            )));
        }
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

/// Whether `url`'s host is a loopback address (`127.0.0.0/8`, `[::1]`,
/// `localhost`).
#[cfg(feature = "sim")]
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where a simulated lab dials `address`: its node's loopback port.
#[cfg(feature = "sim")]
fn simulated_endpoint(sim: &crate::sim::TalosSim, address: &str) -> Result<String, String> {
    let Some(endpoint) = sim.endpoint(address) else {
        let known = sim.addresses();
        return Err(format!(
            "{address} is not a node of the Talos simulator (it has {}): a simulated lab never \
             dials a real address. Declare the machine in the lab (its simulator then makes the \
             node) or add it with `TalosSim::add_node`",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    match endpoint.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => Ok(endpoint),
        _ => Err(format!(
            "the Talos simulator's node {address} listens on {endpoint}, not on loopback: a \
             simulated lab dials only loopback addresses"
        )),
    }
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
    let outputs = &state.resources.get(&address)?.outputs;
    decode::<SecretsOut>(outputs).ok().map(|o| o.bundle)
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

#[async_trait]
impl TypedProvider for TalosProvider {
    /// Nothing is listed in bulk: the secrets, clusters and schematics are
    /// read from the state, and each machine answers one Version call.
    type Snapshot = ();

    fn name(&self) -> &str {
        "talos"
    }

    fn checks(&self) -> Vec<Check> {
        crate::checks::checks()
    }

    /// A simulator that takes its nodes from the lab
    /// ([`TalosOptions::simulated_from_lab`]) gets one for every machine
    /// address this instance applies.
    fn prepare(&self, lab: &lab_core::Lab, instance: &str) -> Result<(), ProviderError> {
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.options.learns {
            for spec in lab.resources().filter(|s| s.kind() == kinds::MACHINE) {
                if lab.provider_of(spec).map(|i| i.name.as_str()) != Ok(instance) {
                    continue;
                }
                let Some(lab_core::Value::Str(address)) = spec.attrs.get("address") else {
                    continue;
                };
                sim.ensure_node(address).map_err(|e| {
                    ProviderError::permanent(format!(
                        "the Talos simulator cannot make node {address} ({}): {e}",
                        spec.address
                    ))
                })?;
            }
        }
        #[cfg(not(feature = "sim"))]
        let _ = (lab, instance);
        Ok(())
    }

    async fn snapshot(
        &self,
        _ctx: &OpContext,
        _requests: &[ReadRequest],
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The resource as the state recorded it: what exists for the kinds that
/// live only in the state (the bundle, a registered schematic), and what a
/// node that does not answer keeps.
fn recorded<K: Kind + Clone>(req: &Read<K>) -> Found<K>
where
    K::Outputs: Clone,
{
    Found {
        id: req.id.clone(),
        spec: req.prior.clone(),
        outputs: req.prior_outputs.clone(),
    }
}

/// The kind schema with these estimates and forcing fields.
fn schema(
    create: Duration,
    update: Duration,
    delete: Duration,
    force_new: Vec<&'static str>,
) -> lab_core::provider::KindSchema {
    lab_core::provider::KindSchema {
        force_new,
        estimate: lab_core::provider::Estimates {
            create,
            update,
            delete,
        },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_provider_serves_every_kind() {
        let p = TalosProvider::shared(TalosOptions::live());
        assert_eq!(p.name(), "talos");
        assert_eq!(p.kinds(), kinds::MANAGED.to_vec());
    }

    #[test]
    #[cfg(feature = "sim")]
    fn loopback_urls() {
        for url in [
            "https://127.0.0.1:4443",
            "http://localhost/",
            "https://[::1]:8443/schematics",
            "https://127.0.0.2",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://factory.talos.dev",
            "https://10.0.0.1:443",
            "https://127.0.0.1.example.com",
            "https://user@factory.talos.dev",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn live_options_dial_port_50000() {
        let o = TalosOptions::live();
        assert_eq!((o.dial)("10.0.10.11").unwrap(), "10.0.10.11:50000");
    }
}
