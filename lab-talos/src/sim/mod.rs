//! # An API-faithful Talos simulator (feature `sim`)
//!
//! Tests of the Talos provider need nodes that behave like Talos where it
//! matters to a client: the TLS modes, the stages a node goes through, and
//! the gRPC answers and status codes of the calls lab makes. [`TalosSim`]
//! runs one gRPC server per simulated node on `127.0.0.1:<free port>`,
//! speaking the real wire protocol (the same generated stubs as
//! [`crate::api`], paths such as `/machine.MachineService/ApplyConfiguration`).
//!
//! ## A node's life
//!
//! | stage | TLS | serves |
//! |---|---|---|
//! | [`Stage::Maintenance`] (empty disk) | self-signed, no client auth | `ApplyConfiguration`, `Version`; everything else `Unimplemented` |
//! | [`Stage::Installing`], [`Stage::Rebooting`] | connections dropped | — (for [`SimConfig::reboot`]) |
//! | [`Stage::Configured`] | OS CA from the config, client cert required | all (incl. `Upgrade`); writes need role `os:admin` |
//! | [`Stage::Bootstrapped`] | same | same; etcd runs here |
//! | [`Stage::Off`] | connections dropped | — |
//!
//! The first apply installs and reboots whatever the mode; later applies in
//! `AUTO` mode apply live when [`crate::config::needs_reboot`] finds
//! nothing, and reboot otherwise, as Talos 1.13 does. `Bootstrap` works
//! once per cluster (then `AlreadyExists: etcd data directory is not
//! empty`), only on control planes (`FailedPrecondition` on workers).
//! `Kubeconfig` streams a `.tar.gz` with the admin kubeconfig, issued from
//! the control plane's config exactly as [`crate::secrets`] does offline.
//! `HealthCheck` streams progress lines until every listed node is up and
//! etcd is bootstrapped, or fails with `DeadlineExceeded` naming the check
//! and node. `Reset` wipes the node back to maintenance mode.
//!
//! Each node runs a Talos version, which `Version` reports: the ISO's
//! ([`SimConfig::talos_version`]) in maintenance mode; after the first
//! install the tag of the config's `machine.install.image` (e.g. `v1.13.9`
//! for `factory.talos.dev/nocloud-installer/<id>:v1.13.9`; the ISO's
//! version if the config has none). Later applies never change it, as on
//! real Talos, where a new `install.image` takes effect only with an
//! upgrade: the legacy `Upgrade` call (`Unimplemented` in maintenance
//! mode; `FailedPrecondition` during an apply or another upgrade;
//! `InvalidArgument` for an image without a `:tag`) acknowledges, keeps
//! the node up for [`SimConfig::upgrade_delay`], then reboots it into the
//! image's tag ([`TalosSim::running_version`]).
//!
//! A worker's config carries no OS CA key (real workers get their API
//! certificate from trustd on a control plane); the simulator signs a
//! worker's certificate with the key of any simulated control plane of
//! the same cluster and drops connections until one exists.
//!
//! Whether a machine is there at all comes from
//! [`TalosSim::set_presence`]: `None` is a powered-off VM, a new identity a
//! new VM with an empty disk (maintenance mode again): that is how a
//! Proxmox simulator plugs in. Every request is logged
//! ([`TalosSim::requests`], with outcomes in [`TalosSim::outcomes`]).
//!
//! Time is real (stages end when their `Instant` passes); servers stop when
//! the last clone of the [`TalosSim`] is dropped, or on
//! [`TalosSim::shutdown`].
//!
//! ## Between processes
//!
//! [`TalosSim::start_background`] runs the servers on the simulator's own
//! thread (for a synchronous `main.rs`) and keeps the nodes' disks in a
//! state file ([`persist`]: stage, configs, version, etcd, boot counter),
//! so `apply` in one process and `plan` in the next talk to the same
//! installed, bootstrapped nodes. Nodes only listen on `127.0.0.1`; a
//! provider given [`crate::provider::TalosOptions::simulated`] refuses to
//! dial an address the simulator has no node for.
//!
//! [`factory::FactorySim`] simulates the Image Factory's schematic
//! endpoints (HTTPS with axum), for schematic registration.

pub mod factory;
mod machine_config;
pub mod persist;
mod server;
mod service;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lab_core::files::FileLock;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;

use machine_config::{MachineType, ParsedConfig};

/// How a simulated Talos node behaves in time: how long installs, reboots
/// and upgrades take, the version it reports, and how often the health
/// check looks. [`SimConfig::default`] keeps every wait short (tests and
/// the examples); raise a delay to test what happens during it.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// How long installing (after the first apply) and rebooting take.
    pub reboot: Duration,
    /// The version `Version` reports, e.g. `v1.13.9`.
    pub talos_version: String,
    /// How long an `ApplyConfiguration` holds the node's apply lock (to
    /// test the "one apply at a time" rule; zero by default).
    pub apply_delay: Duration,
    /// How often `HealthCheck` re-evaluates the cluster.
    pub health_poll: Duration,
    /// How long a node stays up after acknowledging `Upgrade` (draining,
    /// pulling and installing the image) before it reboots into the new
    /// version; meanwhile applies and upgrades fail with
    /// `FailedPrecondition` (zero by default: the reboot starts with the
    /// answer).
    pub upgrade_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            reboot: Duration::from_millis(200),
            talos_version: "v1.13.9".into(),
            apply_delay: Duration::ZERO,
            health_poll: Duration::from_millis(25),
            upgrade_delay: Duration::ZERO,
        }
    }
}

/// Where a simulated node is in its life (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// No machine (powered off, or [`TalosSim::set_presence`] says none).
    Off,
    /// Booted from the ISO with an empty disk: insecure API.
    Maintenance,
    /// Installing to disk after the first apply, then rebooting.
    Installing,
    /// Rebooting (apply that needs it, or reset).
    Rebooting,
    /// Running with a config: mTLS API.
    Configured,
    /// Configured, and etcd was bootstrapped on this node.
    Bootstrapped,
}

impl Stage {
    /// Whether the node serves the API with its config (mTLS).
    pub fn is_configured(self) -> bool {
        matches!(self, Stage::Configured | Stage::Bootstrapped)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Off => "powered off",
            Stage::Maintenance => "in maintenance mode",
            Stage::Installing => "installing",
            Stage::Rebooting => "rebooting",
            Stage::Configured => "running",
            Stage::Bootstrapped => "running with etcd bootstrapped",
        })
    }
}

type Presence = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// An acknowledged `Upgrade` whose reboot hasn't started yet.
struct PendingUpgrade {
    /// The Talos version the node runs after the reboot.
    version: String,
    /// When the reboot starts, and when the node is back up.
    reboot_at: Instant,
    up_at: Instant,
}

/// One simulated node.
struct NodeState {
    addr: SocketAddr,
    /// The machine last seen at this IP (its disk is this state).
    identity: Option<String>,
    powered: bool,
    config: Option<ParsedConfig>,
    staged: Option<ParsedConfig>,
    bootstrapped: bool,
    /// Installing/Rebooting until the instant.
    down: Option<(Stage, Instant)>,
    applying: bool,
    /// The installed Talos version; `None` = the ISO's
    /// ([`SimConfig::talos_version`]), e.g. in maintenance mode.
    version: Option<String>,
    upgrade: Option<PendingUpgrade>,
    /// Bumped on every boot; connections of an older epoch are closed.
    epoch: watch::Sender<u64>,
    maintenance_tls: Option<Arc<ServerConfig>>,
    /// The configured-mode TLS config and the OS CA it was made for.
    configured_tls: Option<(String, Arc<ServerConfig>)>,
}

impl NodeState {
    fn reboot(&mut self, stage: Stage, reboot: Duration) {
        self.go_down(stage, Instant::now() + reboot);
    }

    fn go_down(&mut self, stage: Stage, until: Instant) {
        self.down = Some((stage, until));
        self.epoch.send_modify(|e| *e += 1);
        self.maintenance_tls = None;
        self.configured_tls = None;
    }

    /// Starts a pending upgrade's reboot once its time has come: the node
    /// comes back with the new version and any staged config.
    fn advance_upgrade(&mut self, now: Instant) {
        let Some(upgrade) = self.upgrade.take_if(|u| now >= u.reboot_at) else {
            return;
        };
        self.version = Some(upgrade.version);
        if let Some(staged) = self.staged.take() {
            self.config = Some(staged);
        }
        self.go_down(Stage::Rebooting, upgrade.up_at);
    }

    fn wipe(&mut self) {
        self.config = None;
        self.staged = None;
        self.bootstrapped = false;
        self.down = None;
        self.version = None;
        self.upgrade = None;
    }
}

struct WorldState {
    nodes: BTreeMap<String, NodeState>,
    presence: Presence,
    requests: Vec<String>,
    outcomes: Vec<String>,
}

/// The shared world every server task sees.
pub(crate) struct World {
    config: SimConfig,
    state: Mutex<WorldState>,
    /// The state file the nodes' disks are kept in ([`persist`]).
    persist: Option<PathBuf>,
    /// What this process last read from or wrote to the state file; also
    /// orders this process's writers.
    synced: Mutex<persist::Synced>,
}

impl World {
    /// Writes the nodes' disks to the state file, if there is one, on top
    /// of its latest version: under the file's lock, a node another process
    /// changed since this one last synced (and this one did not) is taken
    /// from the file first, and nodes only the file has are kept. A failure
    /// is logged (the simulated nodes keep running, as a node whose client
    /// lost its disk would not notice).
    pub(crate) fn save(&self) {
        let Some(path) = &self.persist else {
            return;
        };
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        let written = (|| -> io::Result<()> {
            let _file = FileLock::exclusive(path)?;
            let mut state = self.lock();
            let file = synced.take_theirs(path, &mut state.nodes)?;
            let mut saved = persist::Saved::of(state.nodes.iter());
            drop(state);
            saved.keep_others(file);
            synced.write(path, &saved)
        })();
        if let Err(e) = written {
            tracing::warn!("talos-sim: cannot write {}: {e}", path.display());
        }
    }

    /// Reads back what another process wrote to the state file since this
    /// one last synced (one `stat` when nothing changed): a `plan` that
    /// waited for an `apply` in another process sees the nodes as that
    /// apply left them.
    pub(crate) fn sync_external(&self) {
        let Some(path) = &self.persist else {
            return;
        };
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if !synced.changed_on_disk(path) {
            return;
        }
        let read = (|| -> io::Result<()> {
            let _file = FileLock::exclusive(path)?;
            synced.take_theirs(path, &mut self.lock().nodes)?;
            Ok(())
        })();
        if let Err(e) = read {
            tracing::warn!("talos-sim: cannot read {} back: {e}", path.display());
        }
    }

    /// The saved disk of node `ip` in the state file, if the file has one
    /// (a node another process made, met again by this one).
    fn saved_node(&self, ip: &str) -> io::Result<Option<persist::SavedNode>> {
        let Some(path) = &self.persist else {
            return Ok(None);
        };
        let _file = FileLock::exclusive(path)?;
        Ok(persist::Saved::load(path)?.and_then(|mut saved| saved.nodes.remove(ip)))
    }

    fn lock(&self) -> MutexGuard<'_, WorldState> {
        // A panicking test thread must not wedge every other node.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The node's stage now, after applying presence and elapsed time.
    fn refresh(state: &mut WorldState, ip: &str) -> Option<Stage> {
        let presence = state.presence.clone();
        let node = state.nodes.get_mut(ip)?;
        match presence(ip) {
            None => {
                if node.powered {
                    node.powered = false;
                    node.down = None;
                    node.epoch.send_modify(|e| *e += 1);
                }
                return Some(Stage::Off);
            }
            Some(identity) => {
                if node.identity.as_deref() != Some(identity.as_str()) {
                    // Another machine at this address: a fresh, empty disk.
                    node.wipe();
                    node.identity = Some(identity);
                    node.maintenance_tls = None;
                    node.configured_tls = None;
                    node.epoch.send_modify(|e| *e += 1);
                }
                if !node.powered {
                    node.powered = true;
                    node.maintenance_tls = None;
                    node.configured_tls = None;
                    node.epoch.send_modify(|e| *e += 1);
                }
            }
        }
        node.advance_upgrade(Instant::now());
        if let Some((stage, until)) = node.down {
            if Instant::now() < until {
                return Some(stage);
            }
            node.down = None;
        }
        Some(match (&node.config, node.bootstrapped) {
            (None, _) => Stage::Maintenance,
            (Some(_), false) => Stage::Configured,
            (Some(_), true) => Stage::Bootstrapped,
        })
    }

    fn stage(&self, ip: &str) -> Option<Stage> {
        World::refresh(&mut self.lock(), ip)
    }

    fn log_request(&self, ip: &str, path: &str) {
        self.lock().requests.push(format!("{ip} {path}"));
    }

    fn log_outcome(&self, ip: &str, path: &str, code: tonic::Code) {
        let code = if code == tonic::Code::Ok {
            "OK".to_string()
        } else {
            format!("{code:?}")
        };
        self.lock().outcomes.push(format!("{ip} {path} {code}"));
    }

    /// The TLS config for a new connection to `ip`, its epoch and whether
    /// it is maintenance mode; `None` drops the connection (node down).
    fn accept_config(&self, ip: &str) -> Option<(Arc<ServerConfig>, u64, Stage)> {
        self.sync_external();
        let mut state = self.lock();
        let stage = World::refresh(&mut state, ip)?;
        match stage {
            Stage::Maintenance => {
                let node = state.nodes.get_mut(ip)?;
                if node.maintenance_tls.is_none() {
                    node.maintenance_tls = tls::maintenance(ip).ok();
                }
                let config = node.maintenance_tls.clone()?;
                Some((config, *node.epoch.borrow(), stage))
            }
            Stage::Configured | Stage::Bootstrapped => {
                let (ca_crt, ca_pem, own_key, names) = {
                    let config = state.nodes.get(ip)?.config.as_ref()?;
                    (
                        config.os_ca_crt_b64.clone(),
                        config.os_ca_pem.clone(),
                        config.os_ca_key_pem.clone(),
                        machine_config::server_names(config, ip),
                    )
                };
                let cached = state
                    .nodes
                    .get(ip)?
                    .configured_tls
                    .as_ref()
                    .filter(|(ca, _)| *ca == ca_crt)
                    .map(|(_, c)| c.clone());
                let config = match cached {
                    Some(config) => config,
                    None => {
                        // A worker's key comes from a control plane of its
                        // cluster (trustd, in real Talos).
                        let key = own_key.or_else(|| {
                            state
                                .nodes
                                .values()
                                .filter_map(|n| n.config.as_ref())
                                .find(|c| c.os_ca_crt_b64 == ca_crt && c.os_ca_key_pem.is_some())
                                .and_then(|c| c.os_ca_key_pem.clone())
                        })?;
                        let made = tls::configured(&names, &ca_pem, key.expose()).ok()?;
                        state.nodes.get_mut(ip)?.configured_tls = Some((ca_crt, made.clone()));
                        made
                    }
                };
                let epoch = *state.nodes.get(ip)?.epoch.borrow();
                Some((config, epoch, stage))
            }
            Stage::Off | Stage::Installing | Stage::Rebooting => None,
        }
    }

    /// Whether a connection of `epoch` may still be served.
    fn connection_current(&self, ip: &str, epoch: u64) -> bool {
        let mut state = self.lock();
        let up = matches!(
            World::refresh(&mut state, ip),
            Some(Stage::Maintenance | Stage::Configured | Stage::Bootstrapped)
        );
        up && state
            .nodes
            .get(ip)
            .is_some_and(|n| *n.epoch.borrow() == epoch)
    }

    fn epoch_watch(&self, ip: &str) -> Option<watch::Receiver<u64>> {
        self.lock().nodes.get(ip).map(|n| n.epoch.subscribe())
    }
}

/// Stops the servers when the last [`TalosSim`] clone goes.
struct Inner {
    world: Arc<World>,
    shutdown: watch::Sender<bool>,
    /// The runtime the servers run on when the simulator has its own
    /// ([`TalosSim::start_background`]); else the caller's.
    runtime: Option<Handle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// A world of simulated Talos nodes (see the module docs). Cheap to clone;
/// the servers stop when the last clone is dropped.
#[derive(Clone)]
pub struct TalosSim {
    inner: Arc<Inner>,
}

impl fmt::Debug for TalosSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.world.lock();
        f.debug_struct("TalosSim")
            .field("nodes", &state.nodes.keys().collect::<Vec<_>>())
            .field("requests", &state.requests.len())
            .finish()
    }
}

impl TalosSim {
    /// A world with no nodes; every node is present with a fixed identity
    /// until [`TalosSim::set_presence`] says otherwise.
    pub fn new(config: SimConfig) -> TalosSim {
        let (shutdown, _) = watch::channel(false);
        TalosSim::make(config, None, shutdown, None)
    }

    fn make(
        config: SimConfig,
        persist: Option<PathBuf>,
        shutdown: watch::Sender<bool>,
        runtime: Option<Handle>,
    ) -> TalosSim {
        let presence: Presence = Arc::new(|ip: &str| Some(format!("machine-{ip}")));
        TalosSim {
            inner: Arc::new(Inner {
                world: Arc::new(World {
                    config,
                    state: Mutex::new(WorldState {
                        nodes: BTreeMap::new(),
                        presence,
                        requests: Vec::new(),
                        outcomes: Vec::new(),
                    }),
                    persist,
                    synced: Mutex::new(persist::Synced::default()),
                }),
                shutdown,
                runtime,
            }),
        }
    }

    /// A simulator on its own thread and Tokio runtime (for synchronous
    /// callers: a `main.rs` before `lab::cli::run` builds its runtime),
    /// whose nodes' disks are kept in `state_file` ([`persist`]): the
    /// nodes it recorded are back, with their configs, versions and etcd,
    /// and every change is written there. The directory is created; a file
    /// that does not parse is an error, never an empty world.
    pub fn start_background(
        config: SimConfig,
        state_file: impl Into<PathBuf>,
    ) -> io::Result<TalosSim> {
        let state_file = state_file.into();
        if let Some(dir) = state_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let saved = persist::Saved::load(&state_file)?;
        let (shutdown, mut stop) = watch::channel(false);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("talos-sim".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(async move {
                    let _ = stop.wait_for(|s| *s).await;
                });
            })?;
        let handle = rx
            .recv()
            .map_err(|_| io::Error::other("the Talos simulator thread stopped"))??;
        let sim = TalosSim::make(config, Some(state_file.clone()), shutdown, Some(handle));
        if let Some(saved) = saved {
            for (ip, node) in saved.nodes {
                sim.spawn_node(&ip, Some(node))?;
            }
        }
        Ok(sim)
    }

    /// The state file the nodes' disks are kept in, if any.
    pub fn state_file(&self) -> Option<&Path> {
        self.inner.world.persist.as_deref()
    }

    /// Whether the simulator has a node at `ip`.
    pub fn has_node(&self, ip: &str) -> bool {
        self.inner.world.lock().nodes.contains_key(ip)
    }

    /// Adds a node at `ip` unless there is one (what a lab's declared
    /// machine addresses do to a simulator that takes its nodes from the
    /// lab). Needs the simulator's own runtime
    /// ([`TalosSim::start_background`]) or to be called inside a Tokio
    /// runtime.
    pub fn ensure_node(&self, ip: &str) -> io::Result<()> {
        if self.has_node(ip) {
            return Ok(());
        }
        match self.spawn_node(ip, None) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Adds a node with address `ip` (as it would have on the LAN, e.g.
    /// `10.0.10.11`): it boots into maintenance mode when present, and its
    /// API listens on `127.0.0.1:<free port>` (returned). Must be called
    /// inside a Tokio runtime.
    pub async fn add_node(&self, ip: &str) -> io::Result<SocketAddr> {
        self.spawn_node(ip, None)
    }

    /// Makes node `ip` (with a saved disk, when restoring) and starts its
    /// server on the simulator's runtime (else the caller's).
    fn spawn_node(&self, ip: &str, saved: Option<persist::SavedNode>) -> io::Result<SocketAddr> {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{ip}` is not an IP address"),
            ));
        }
        let saved = match saved {
            Some(saved) => Some(saved),
            None => self.inner.world.saved_node(ip)?,
        };
        let runtime = match &self.inner.runtime {
            Some(handle) => handle.clone(),
            None => Handle::try_current().map_err(|_| {
                io::Error::other("the Talos simulator adds nodes inside a Tokio runtime")
            })?,
        };
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        {
            let mut state = self.inner.world.lock();
            if state.nodes.contains_key(ip) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("the simulator already has a node {ip}"),
                ));
            }
            let (epoch, _) = watch::channel(0);
            let mut node = NodeState {
                addr,
                identity: None,
                powered: false,
                config: None,
                staged: None,
                bootstrapped: false,
                down: None,
                applying: false,
                version: None,
                upgrade: None,
                epoch,
                maintenance_tls: None,
                configured_tls: None,
            };
            if let Some(saved) = saved {
                saved.restore(ip, &mut node)?;
            }
            state.nodes.insert(ip.to_owned(), node);
        }
        runtime.spawn(server::accept_loop(
            self.inner.world.clone(),
            ip.to_owned(),
            listener,
            self.inner.shutdown.subscribe(),
        ));
        self.inner.world.save();
        Ok(addr)
    }

    /// The addresses of the simulator's nodes.
    pub fn addresses(&self) -> Vec<String> {
        self.inner.world.lock().nodes.keys().cloned().collect()
    }

    /// Where the node's API listens: `127.0.0.1:<port>`.
    pub fn endpoint(&self, ip: &str) -> Option<String> {
        self.inner
            .world
            .lock()
            .nodes
            .get(ip)
            .map(|n| n.addr.to_string())
    }

    /// Which machine is at each IP: `f(ip)` returns its identity (e.g. a
    /// VM id), or `None` when no machine runs there (powered off, deleted).
    /// A different identity than before is a new machine with an empty
    /// disk: the node starts over in maintenance mode. Consulted on every
    /// connection and request.
    pub fn set_presence(&self, f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) {
        self.inner.world.lock().presence = Arc::new(f);
    }

    /// The node's stage now (`None` for an IP the simulator doesn't have).
    pub fn node_stage(&self, ip: &str) -> Option<Stage> {
        self.inner.world.stage(ip)
    }

    /// How many times the node has gone down to install or reboot (and
    /// been reset or re-created) since the simulator started: what a test
    /// checks a plan's "no reboot" against.
    pub fn boots(&self, ip: &str) -> Option<u64> {
        self.inner
            .world
            .lock()
            .nodes
            .get(ip)
            .map(|n| *n.epoch.borrow())
    }

    /// The Talos version the node runs, what `Version` answers when it is
    /// up (`None` for an IP the simulator doesn't have): the ISO's
    /// ([`SimConfig::talos_version`]) until the first install, then the
    /// install image's tag, then each upgrade's (from the moment its
    /// reboot starts).
    pub fn running_version(&self, ip: &str) -> Option<String> {
        let world = &self.inner.world;
        let mut state = world.lock();
        World::refresh(&mut state, ip)?;
        state.nodes.get(ip).map(|n| {
            n.version
                .clone()
                .unwrap_or_else(|| world.config.talos_version.clone())
        })
    }

    /// Waits (polling) until the node is in `stage`; false after `within`.
    pub async fn wait_for_stage(&self, ip: &str, stage: Stage, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.node_stage(ip) == Some(stage) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many requests all nodes received.
    pub fn request_count(&self) -> usize {
        self.inner.world.lock().requests.len()
    }

    /// Every request so far, `"<ip> <grpc path>"`, e.g.
    /// `10.0.10.11 /machine.MachineService/ApplyConfiguration`.
    pub fn requests(&self) -> Vec<String> {
        self.inner.world.lock().requests.clone()
    }

    /// Every answer so far, `"<ip> <grpc path> <code>"` (`OK` or the gRPC
    /// code name, e.g. `AlreadyExists`).
    pub fn outcomes(&self) -> Vec<String> {
        self.inner.world.lock().outcomes.clone()
    }

    /// The config the node runs (applied, installed), if any.
    pub fn applied_config(&self, ip: &str) -> Option<String> {
        self.inner
            .world
            .lock()
            .nodes
            .get(ip)
            .and_then(|n| n.config.as_ref())
            .map(|c| c.text.clone())
    }

    /// Stops every server now (dropping the last clone does the same).
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

/// Whether two configs belong to the same cluster (same OS CA).
fn same_cluster(a: &ParsedConfig, b: &ParsedConfig) -> bool {
    a.os_ca_crt_b64 == b.os_ca_crt_b64
}

fn is_control_plane(config: &ParsedConfig) -> bool {
    config.machine_type == MachineType::ControlPlane
}
