//! # An API-faithful Proxmox Backup Server simulator (feature `sim`)
//!
//! The PBS client ([`crate::api`]) and the provider are tested against this
//! simulator, so it answers as a PBS 4.x server does: HTTPS on 127.0.0.1
//! with a self-signed certificate (kept across restarts with the root
//! token's secret in `<state>.tls.json`, lab-proxmox's
//! [`lab_proxmox::sim::tls`]), `PBSAPIToken=<id>:<secret>` auth, every
//! `/api2/json` request validated against the embedded PBS apidoc
//! ([`crate::schema`]: types, enums, ranges, and the Rust-regex patterns),
//! errors as proxmox-rest-server sends them (plain text, 400 for a
//! handler's error, 403 `permission check failed`, 404 `Path '...' not
//! found.`, 401 `authentication failed - ...` after a delay), and
//! asynchronous tasks with 9-field UPIDs. It never dials a non-loopback
//! address.
//!
//! | area | module | what is modelled |
//! |---|---|---|
//! | transport | `server` | TLS accept loop, auth, request log and counter, faults, schema validation, routing, PBS's error texts and statuses |
//! | privileges | [`acl`] | PBS's privileges and roles, propagation and the token ∩ user rule |
//! | tasks | `tasks` | UPIDs (status and log under any `{node}`, as PBS ignores it), `running` → `stopped` after [`PbsSimConfig::task_latency`], `OK` / `WARNINGS: n` / error text, logs; a restart ends running tasks with `unexpected status` |
//! | datastores | `datastores` | config CRUD (POST and DELETE answer UPIDs), `/admin/datastore` (only what the token may see), status (total/used/avail from [`PbsSimConfig::datastore_size`]), namespaces (parent must exist, 7 levels), snapshots and groups listings, GC |
//! | backups | `backups`, [`prune`] | snapshots written through `POST /sim/backup` and read through `GET /sim/backup` (the contract with pve-sim), owners, prune as `pbs-datastore/src/prune.rs` selects, GC with the grace period, verify |
//! | jobs | `jobs`, `sync` | remotes, sync/prune/verify job CRUD and `run`; sync pulls from a local datastore or a loopback remote simulator over HTTPS (pinned), honouring `ns`, `remote-ns`, `max-depth`, `remove-vanished`, `transfer-last`, `group-filter` (`type:`, `group:`) |
//! | access | `access` | users, tokens (the secret shown once; new tokens have no privileges), ACLs |
//!
//! ```no_run
//! # async fn demo() -> Result<(), lab_pbs::sim::SimError> {
//! use lab_pbs::sim::{PbsSim, PbsSimConfig};
//! let sim = PbsSim::start(PbsSimConfig::default()).await?;
//! let pbs = sim.client();
//! # let _ = pbs;
//! # Ok(()) }
//! ```

mod access;
pub mod acl;
mod backups;
mod datastores;
mod jobs;
pub mod prune;
mod rest;
mod server;
mod sync;
mod tasks;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lab_core::Secret;
pub use lab_proxmox::sim::{Faults, RecordedRequest};
use tokio::sync::watch;

use crate::api::{ClientConfig, PbsClient};
use crate::schema::ApiSchema;
use world::{Acl, Token, User, World};

/// How to start a simulated PBS.
#[derive(Clone)]
pub struct PbsSimConfig {
    /// The node name (in UPIDs; `localhost` is accepted in paths too).
    pub node: String,
    /// The root token (`root@pam!<name>`), granted `Admin` on `/` (as an
    /// administrator sets up the token `lab` uses).
    pub root_token_id: String,
    /// Its secret; `None`: the one kept beside the state, else a new one.
    pub root_token_secret: Option<String>,
    /// Where to listen (loopback only; port 0 = any free port).
    pub listen: SocketAddr,
    /// The world is kept in this file (0600, atomic writes) and read back
    /// at start.
    pub state_file: Option<PathBuf>,
    /// How long a task runs before it stops.
    pub task_latency: Duration,
    /// How long a failed authentication waits before its 401 (3 s on PBS).
    pub auth_failure_delay: Duration,
    /// The filesystem size under a datastore without its own size.
    pub datastore_size: u64,
    /// Sizes per datastore name.
    pub datastore_sizes: BTreeMap<String, u64>,
    /// Garbage collection keeps chunks touched within this period (PBS:
    /// 24 h 5 min).
    pub gc_grace: Duration,
    /// What `GET /version` answers.
    pub version: String,
}

impl Default for PbsSimConfig {
    fn default() -> Self {
        PbsSimConfig {
            node: "pbs".to_string(),
            root_token_id: "root@pam!lab".to_string(),
            root_token_secret: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            task_latency: Duration::from_millis(50),
            auth_failure_delay: Duration::from_secs(3),
            datastore_size: 1 << 40,
            datastore_sizes: BTreeMap::new(),
            gc_grace: Duration::from_secs(24 * 3600 + 5 * 60),
            version: "4.0.11".to_string(),
        }
    }
}

impl PbsSimConfig {
    /// A configuration for tests: short tasks, no auth delay.
    pub fn fast() -> Self {
        PbsSimConfig {
            task_latency: Duration::from_millis(10),
            auth_failure_delay: Duration::ZERO,
            ..PbsSimConfig::default()
        }
    }

    /// Keeps the world in `path`.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Sets the node name.
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = node.into();
        self
    }

    /// Sets the root token's secret.
    pub fn with_root_secret(mut self, secret: impl Into<String>) -> Self {
        self.root_token_secret = Some(secret.into());
        self
    }

    /// Sets how long tasks run.
    pub fn with_task_latency(mut self, latency: Duration) -> Self {
        self.task_latency = latency;
        self
    }

    /// Sets the delay before a 401.
    pub fn with_auth_failure_delay(mut self, delay: Duration) -> Self {
        self.auth_failure_delay = delay;
        self
    }

    /// Sets the size of the filesystem under datastore `name`.
    pub fn with_datastore_size(mut self, name: &str, bytes: u64) -> Self {
        self.datastore_sizes.insert(name.to_string(), bytes);
        self
    }

    /// Sets the GC grace period.
    pub fn with_gc_grace(mut self, grace: Duration) -> Self {
        self.gc_grace = grace;
        self
    }

    /// Listens on `addr` (must be a loopback address).
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }
}

impl std::fmt::Debug for PbsSimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PbsSimConfig")
            .field("node", &self.node)
            .field("root_token_id", &self.root_token_id)
            .field("listen", &self.listen)
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The certificate or TLS configuration failed.
    #[error("pbs-sim TLS setup failed: {0}")]
    Tls(String),
    /// The listen address could not be bound, or is not loopback.
    #[error("pbs-sim cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The state file could not be read.
    #[error("pbs-sim state {path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub config: PbsSimConfig,
    pub schema: Arc<ApiSchema>,
    pub world: Mutex<World>,
    pub faults: Faults,
    pub counter: Arc<AtomicU64>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub violations: Mutex<Vec<String>>,
    pub fingerprint: String,
    /// `pstart` of this run's UPIDs.
    pub pstart: u64,
    /// The running workers, ended with the server.
    pub workers: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Set once stopped: nothing is persisted any more (a worker that was
    /// running belongs to the stopped server, as on a real node going down).
    pub stopped: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Reads the world.
    pub fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        let w = self.world.lock().unwrap_or_else(|e| e.into_inner());
        f(&w)
    }

    /// Changes the world and persists it.
    pub fn write<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut w = self.world.lock().unwrap_or_else(|e| e.into_inner());
        let r = f(&mut w);
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return r;
        }
        if let Some(path) = &self.config.state_file {
            if let Err(e) = save(path, &w) {
                tracing::warn!(error = %e, "pbs-sim could not persist its state");
            }
        }
        r
    }

    /// The total size of datastore `name`'s filesystem.
    pub fn size_of(&self, name: &str) -> u64 {
        self.config
            .datastore_sizes
            .get(name)
            .copied()
            .unwrap_or(self.config.datastore_size)
    }
}

fn save(path: &Path, world: &World) -> Result<(), String> {
    let json = serde_json::to_vec(&serde_json::json!({ "pbs-sim": 1, "world": world }))
        .map_err(|e| e.to_string())?;
    lab_proxmox::sim::tls::write_private(path, &json, false)
}

fn load(path: &Path) -> Result<Option<World>, SimError> {
    let bad = |reason: String| SimError::State {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    let mut v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let world = v
        .get_mut("world")
        .map(serde_json::Value::take)
        .ok_or_else(|| bad("not a pbs-sim state file (no `world`)".into()))?;
    serde_json::from_value(world)
        .map(Some)
        .map_err(|e| bad(format!("not a pbs-sim state file: {e}")))
}

/// Unix seconds now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A running simulator. Dropping it stops the server.
pub struct PbsSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    token_secret: Secret,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for PbsSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PbsSim")
            .field("endpoint", &self.endpoint())
            .field("fingerprint", &self.shared.fingerprint)
            .finish_non_exhaustive()
    }
}

impl PbsSim {
    /// Starts the simulator on the current tokio runtime: binds, loads the
    /// state file (tasks that were running end `unexpected status`), sets
    /// up the root token with `Admin` on `/`.
    pub async fn start(config: PbsSimConfig) -> Result<PbsSim, SimError> {
        if !config.listen.ip().is_loopback() {
            return Err(SimError::Bind {
                addr: config.listen,
                reason: "the simulator listens on loopback addresses only".into(),
            });
        }
        let (user, token_name) = config
            .root_token_id
            .split_once('!')
            .filter(|(u, n)| u.contains('@') && !n.is_empty())
            .ok_or_else(|| SimError::Bind {
                addr: config.listen,
                reason: format!(
                    "the root token id must look like root@pam!name (got {:?})",
                    config.root_token_id
                ),
            })?;
        let (user, token_name) = (user.to_string(), token_name.to_string());
        let sidecar = config.state_file.as_ref().map(|p| {
            let mut s = p.as_os_str().to_owned();
            s.push(".tls.json");
            PathBuf::from(s)
        });
        let identity = lab_proxmox::sim::tls::load_or_generate_for(
            "Proxmox Backup Server",
            &config.node,
            sidecar.as_deref(),
            &config.root_token_id,
            config.root_token_secret.as_deref(),
        )
        .map_err(SimError::Tls)?;
        let mut world = match &config.state_file {
            Some(p) => load(p)?.unwrap_or_default(),
            None => World::default(),
        };
        tasks::end_interrupted(&mut world);
        world.users.entry(user.clone()).or_insert_with(|| User {
            config: rest::object([("userid", user.clone().into())]),
        });
        world.tokens.insert(
            config.root_token_id.clone(),
            Token {
                config: rest::object([
                    ("tokenid", config.root_token_id.clone().into()),
                    ("comment", format!("{token_name} (pbs-sim)").into()),
                ]),
                secret: identity.token_secret.clone(),
            },
        );
        let root_acl = Acl {
            path: "/".into(),
            ugid: config.root_token_id.clone(),
            role: "Admin".into(),
            propagate: true,
        };
        if !world.acl.contains(&root_acl) {
            world.acl.push(root_acl);
        }
        for (name, ds) in world.datastores.iter_mut() {
            ds.total = config
                .datastore_sizes
                .get(name)
                .copied()
                .unwrap_or(config.datastore_size);
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| SimError::Bind {
                addr: config.listen,
                reason: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| SimError::Bind {
            addr: config.listen,
            reason: e.to_string(),
        })?;
        let counter = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            faults: Faults::new(counter.clone(), Duration::from_secs(10)),
            counter,
            schema: crate::schema::embedded(),
            world: Mutex::new(world),
            requests: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            fingerprint: identity.tls.fingerprint.clone(),
            pstart: u64::from(rand_u32() % 0x0fff_ffff) + 0x1000,
            workers: Mutex::new(Vec::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
            config,
        });
        shared.write(|_| ());
        let (tx, rx) = watch::channel(false);
        tokio::spawn(server::serve(
            listener,
            identity.tls.acceptor.clone(),
            shared.clone(),
            rx,
        ));
        Ok(PbsSim {
            shared,
            addr,
            token_secret: Secret::new(identity.token_secret),
            shutdown: tx,
        })
    }

    /// Starts the simulator on a thread of its own (with its own tokio
    /// runtime), for callers without a runtime or whose runtime may end
    /// first (a CLI embedding it). It runs until the handle is dropped or
    /// [`PbsSim::stop`]ped.
    pub fn start_background(config: PbsSimConfig) -> Result<PbsSim, SimError> {
        let listen = config.listen;
        lab_proxmox::sim::start_on_own_thread(
            "pbs-sim",
            move || PbsSim::start(config),
            |sim: &PbsSim| sim.shutdown.subscribe(),
            move |reason| SimError::Bind {
                addr: listen,
                reason,
            },
        )
    }

    /// `https://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SHA-256 fingerprint of the certificate (`AA:BB:...`).
    pub fn fingerprint(&self) -> &str {
        &self.shared.fingerprint
    }

    /// The root token id.
    pub fn token_id(&self) -> &str {
        &self.shared.config.root_token_id
    }

    /// The root token secret.
    pub fn token_secret(&self) -> &Secret {
        &self.token_secret
    }

    /// The node name.
    pub fn node(&self) -> &str {
        &self.shared.config.node
    }

    /// A client configuration for the root token, pinned, polling fast.
    pub fn client_config(&self) -> ClientConfig {
        self.client_config_for(self.token_id(), self.token_secret.clone())
    }

    /// A client configuration for another token of this simulator.
    pub fn client_config_for(&self, token_id: &str, secret: Secret) -> ClientConfig {
        ClientConfig::new(self.endpoint(), token_id, secret)
            .with_fingerprint(self.fingerprint())
            .with_task_poll(crate::api::FAST_POLL)
            .with_timeout(Duration::from_secs(20))
    }

    /// A client for the root token.
    pub fn client(&self) -> PbsClient {
        PbsClient::new(self.client_config()).expect("the simulator's own configuration is valid")
    }

    /// The fault-injection controller.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> u64 {
        self.shared
            .counter
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The requests received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests the schema refused (`METHOD path: param: message`).
    pub fn schema_violations(&self) -> Vec<String> {
        self.shared
            .violations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A copy of the whole simulated world (for assertions).
    pub fn world(&self) -> World {
        self.shared.read(World::clone)
    }

    /// Changes the size of datastore `name`'s filesystem.
    pub fn set_datastore_size(&self, name: &str, bytes: u64) {
        self.shared.write(|w| {
            if let Some(ds) = w.datastores.get_mut(name) {
                ds.total = bytes;
            }
        });
    }

    /// Stops the server (also done on drop), as a node going down: the
    /// listener closes, running workers end where they are, and nothing
    /// more is written to the state file (a restart on it reads their
    /// tasks as `unexpected status`).
    pub fn stop(&self) {
        self.shared
            .stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for w in self
            .shared
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            w.abort();
        }
        let _ = self.shutdown.send(true);
    }
}

impl Drop for PbsSim {
    fn drop(&mut self) {
        self.stop();
    }
}

fn rand_u32() -> u32 {
    // std only: the hasher's random keys.
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now() as u64);
    h.finish() as u32
}
