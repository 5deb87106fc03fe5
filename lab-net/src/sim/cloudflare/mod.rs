//! # An API-faithful Cloudflare API simulator (feature `sim`)
//!
//! lab-net's Cloudflare client and provider (Tunnel, DNS, Access) are
//! tested against this simulator, so it answers as `api.cloudflare.com/
//! client/v4` does, from the notes in `cloudflare-api.md` and the embedded
//! OpenAPI subset (`reference/cloudflare-openapi-subset.json`): HTTPS on
//! 127.0.0.1 only (a self-signed certificate from lab-proxmox's
//! [`lab_proxmox::sim::tls`], pinned by fingerprint), bearer-token auth,
//! the v4 envelope on every answer, page-based pagination, the account rate
//! limit, and every query and body checked against the schema. It never
//! dials anything.
//!
//! | area | module | what is modelled |
//! |---|---|---|
//! | transport | `server` | TLS accept loop, request log and per-endpoint counts, auth (401/1001), rate limit (429/971 + `Retry-After`), routing (400/7003 "No route for the URI"), schema refusals (400/1004) |
//! | envelope | `envelope` | `{success, errors, messages, result, result_info}`, `page`/`per_page` |
//! | schema | `schema` | the OpenAPI subset's operations, query and body validators (`jsonschema`, draft 4 + `nullable`) |
//! | tunnels | `tunnels` | `cfd_tunnel` create/list/get/patch/delete, 409/1013 on a duplicate name, `is_deleted`, token `{a,s,t}`, remote configuration (validated with cloudflared's rules, version bumps, whole-document PUT) |
//! | DNS | `dns` | records with `comment`, `tags`, `proxied`; the CNAME-shares-no-name rule (81053/81054), 81057, 9004; list filters |
//! | Access | `access` | apps (`aud`, unique precedences 12130), reusable and app-scoped policies, groups |
//! | zones | `zones` | `/zones?name=`, `POST /zones`, `/user/tokens/verify`, the account check |
//! | state | `world` | in memory, optionally a 0600 JSON state file written atomically under its lock, on top of its latest version, and re-read when another simulator (another `lab` process) wrote it |
//!
//! ```no_run
//! # async fn demo() -> Result<(), lab_net::sim::cloudflare::SimError> {
//! use lab_net::sim::cloudflare::{CloudflareSim, CloudflareSimConfig};
//! let sim = CloudflareSim::start(CloudflareSimConfig::default().with_zone("example.com")).await?;
//! let base = sim.base_url(); // https://127.0.0.1:<port>/client/v4
//! # let _ = base;
//! # Ok(()) }
//! ```

mod access;
mod dns;
mod envelope;
mod schema;
mod server;
mod tunnels;
pub mod world;
mod zones;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lab_core::files::{FileLock, FileStamp};
use lab_core::Secret;
use serde_json::Value;
use tokio::sync::watch;

pub use world::World;

/// Cloudflare's global API rate limit: 1,200 requests per five minutes.
pub const DEFAULT_RATE_LIMIT: u32 = 1200;
/// The window of [`DEFAULT_RATE_LIMIT`].
pub const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(300);

/// How to start a simulated Cloudflare account.
#[derive(Clone)]
pub struct CloudflareSimConfig {
    /// The API token the simulator accepts (`None`: the one kept beside
    /// the state file, else a random one).
    pub token: Option<String>,
    /// The account id (32 hex digits; `None`: a random one).
    pub account_id: Option<String>,
    /// The account's name.
    pub account_name: String,
    /// Zones that exist from the start (active, in the account).
    pub zones: Vec<String>,
    /// Where to listen (loopback only; port 0 = any free port).
    pub listen: SocketAddr,
    /// Keep the state in this file (0600, atomic writes), read back at start.
    pub state_file: Option<PathBuf>,
    /// Requests allowed per [`CloudflareSimConfig::rate_window`].
    pub rate_limit: u32,
    /// The rate limit's sliding window.
    pub rate_window: Duration,
}

impl Default for CloudflareSimConfig {
    fn default() -> Self {
        CloudflareSimConfig {
            token: None,
            account_id: None,
            account_name: "lab".to_string(),
            zones: Vec::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            rate_window: DEFAULT_RATE_WINDOW,
        }
    }
}

impl std::fmt::Debug for CloudflareSimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareSimConfig")
            .field("account_id", &self.account_id)
            .field("zones", &self.zones)
            .field("listen", &self.listen)
            .field("state_file", &self.state_file)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

impl CloudflareSimConfig {
    /// Adds a zone that exists from the start.
    pub fn with_zone(mut self, name: impl Into<String>) -> Self {
        self.zones.push(name.into().to_lowercase());
        self
    }

    /// Sets the accepted API token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the account id.
    pub fn with_account_id(mut self, id: impl Into<String>) -> Self {
        self.account_id = Some(id.into());
        self
    }

    /// Keeps the state in `path`.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Lowers (or raises) the rate limit: `limit` requests per `window`.
    pub fn with_rate_limit(mut self, limit: u32, window: Duration) -> Self {
        self.rate_limit = limit;
        self.rate_window = window;
        self
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The certificate or TLS configuration failed.
    #[error("cloudflare-sim TLS setup failed: {0}")]
    Tls(String),
    /// The listen address could not be bound, or is not loopback.
    #[error("cloudflare-sim cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The state file could not be read.
    #[error("cloudflare-sim state: {0}")]
    State(String),
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path below `/client/v4`.
    pub path: String,
    /// The OpenAPI path template it matched
    /// (`/accounts/{account_id}/cfd_tunnel`), if any.
    pub endpoint: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The first error code answered, on failure.
    pub error_code: Option<u32>,
}

/// The sliding-window rate limiter.
pub(crate) struct RateLimit {
    pub limit: u32,
    pub window: Duration,
    pub seen: VecDeque<Instant>,
}

impl RateLimit {
    /// Admits a request now, or says how many seconds to wait.
    pub fn admit(&mut self, now: Instant) -> Result<(), u64> {
        while self
            .seen
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.seen.pop_front();
        }
        if self.seen.len() >= self.limit as usize {
            let oldest = self.seen.front().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        self.seen.push_back(now);
        Ok(())
    }
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub config: CloudflareSimConfig,
    pub token: Secret,
    pub token_id: String,
    pub world: Mutex<World>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub rate: Mutex<RateLimit>,
    pub fingerprint: String,
    pub cert_pem: String,
    /// The version of the state file the world is.
    pub stamp: Mutex<Option<FileStamp>>,
}

impl Shared {
    /// Takes the world from the state file again when another process
    /// (another simulator on the same file) wrote it since.
    fn sync(&self, w: &mut World) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        let now = FileStamp::of(path);
        let mut stamp = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
        if now.is_none() || now == *stamp {
            return;
        }
        match World::load(path) {
            Ok(Some(latest)) => *w = latest,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cloudflare-sim could not re-read its state"),
        }
        *stamp = now;
    }

    /// Reads the world (its latest version).
    pub fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        let mut w = self.world.lock().unwrap_or_else(|e| e.into_inner());
        self.sync(&mut w);
        f(&w)
    }

    /// Changes the world and persists it: under the state file's lock, on
    /// top of its latest version, so two simulators on one file (two `lab`
    /// processes) never lose each other's changes.
    pub fn write<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let _lock = self.config.state_file.as_deref().and_then(|p| {
            FileLock::exclusive(p)
                .map_err(|e| tracing::warn!(error = %e, "cloudflare-sim could not lock its state"))
                .ok()
        });
        let mut w = self.world.lock().unwrap_or_else(|e| e.into_inner());
        self.sync(&mut w);
        let r = f(&mut w);
        if let Some(path) = &self.config.state_file {
            match w.save(path) {
                Ok(()) => {
                    *self.stamp.lock().unwrap_or_else(|e| e.into_inner()) = FileStamp::of(path)
                }
                Err(e) => tracing::warn!(error = %e, "cloudflare-sim could not persist its state"),
            }
        }
        r
    }
}

/// A routed, validated request as the handlers see it.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    /// The path below `/client/v4`.
    pub path: &'a str,
    /// The OpenAPI path template.
    pub template: &'a str,
    pub params: &'a BTreeMap<String, String>,
    pub query: &'a [(String, String)],
    pub body: Option<Value>,
}

impl Request<'_> {
    /// A path parameter (routing guarantees the template's ones exist).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// The body (schema-checked), or an empty object.
    pub fn body_object(&self) -> Value {
        self.body
            .clone()
            .unwrap_or_else(|| Value::Object(Default::default()))
    }
}

/// The account and the configured zones, made in `world` where missing.
fn ensure_shape(world: &mut World, config: &CloudflareSimConfig, account_id: &str) {
    world
        .accounts
        .entry(account_id.to_string())
        .or_insert_with(|| config.account_name.clone());
    for name in &config.zones {
        if !world
            .zones
            .values()
            .any(|z| z.record["name"] == name.as_str())
        {
            let id = world::hex_id();
            world.zones.insert(
                id.clone(),
                world::Zone {
                    record: zones::zone_record(&id, name, account_id, &config.account_name),
                    dns_records: Vec::new(),
                },
            );
        }
    }
}

/// A running simulator. Dropping it stops the server.
pub struct CloudflareSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    account_id: String,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for CloudflareSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareSim")
            .field("base_url", &self.base_url())
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl CloudflareSim {
    /// Starts the simulator on the current tokio runtime: loads the state
    /// file if any, creates the account and the configured zones that do
    /// not exist yet, binds.
    pub async fn start(config: CloudflareSimConfig) -> Result<CloudflareSim, SimError> {
        if !config.listen.ip().is_loopback() {
            return Err(SimError::Bind {
                addr: config.listen,
                reason: "the simulator listens on loopback addresses only".into(),
            });
        }
        let stamp = config.state_file.as_deref().and_then(FileStamp::of);
        let mut world = match &config.state_file {
            Some(p) => World::load(p).map_err(SimError::State)?.unwrap_or_default(),
            None => World::default(),
        };
        let account_id = config
            .account_id
            .clone()
            .or_else(|| world.accounts.keys().next().cloned())
            .unwrap_or_else(world::hex_id);
        ensure_shape(&mut world, &config, &account_id);
        // With a state file, the certificate and the token are kept beside
        // it (`<state>.tls.json`, 0600), so a pinned client keeps working
        // across restarts.
        let sidecar = config.state_file.as_ref().map(|p| {
            let mut s = p.as_os_str().to_owned();
            s.push(".tls.json");
            PathBuf::from(s)
        });
        let identity = lab_proxmox::sim::tls::load_or_generate_for(
            "Cloudflare API simulator",
            "api.cloudflare.com",
            sidecar.as_deref(),
            "cloudflare-api-token",
            config.token.as_deref(),
        )
        .map_err(SimError::Tls)?;
        let token = identity.token_secret.clone();
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
        let shared = Arc::new(Shared {
            token: Secret::new(token),
            token_id: world::hex_id(),
            world: Mutex::new(world),
            requests: Mutex::new(Vec::new()),
            rate: Mutex::new(RateLimit {
                limit: config.rate_limit,
                window: config.rate_window,
                seen: VecDeque::new(),
            }),
            fingerprint: identity.tls.fingerprint.clone(),
            cert_pem: identity.tls.cert_pem.clone(),
            stamp: Mutex::new(stamp),
            config,
        });
        // Persisted on top of the file's latest version (another process
        // may have written it since it was read above).
        let shape = shared.config.clone();
        shared.write(|w| ensure_shape(w, &shape, &account_id));
        let (tx, rx) = watch::channel(false);
        tokio::spawn(server::serve(
            listener,
            identity.tls.acceptor.clone(),
            shared.clone(),
            rx,
        ));
        Ok(CloudflareSim {
            shared,
            addr,
            account_id,
            shutdown: tx,
        })
    }

    /// Starts the simulator on a thread of its own (with its own tokio
    /// runtime), for callers without a runtime or whose runtime may end
    /// first (a CLI embedding it). It runs until the handle is dropped or
    /// [`CloudflareSim::stop`]ped.
    pub fn start_background(config: CloudflareSimConfig) -> Result<CloudflareSim, SimError> {
        let listen = config.listen;
        lab_proxmox::sim::start_on_own_thread(
            "cloudflare-sim",
            move || CloudflareSim::start(config),
            |sim: &CloudflareSim| sim.shutdown.subscribe(),
            move |reason| SimError::Bind {
                addr: listen,
                reason,
            },
        )
    }

    /// `https://127.0.0.1:<port>/client/v4`: the API base URL.
    pub fn base_url(&self) -> String {
        format!("https://{}/client/v4", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SHA-256 fingerprint of the certificate (`AA:BB:...`), to pin.
    pub fn fingerprint(&self) -> &str {
        &self.shared.fingerprint
    }

    /// The certificate, PEM encoded (for `curl --cacert`).
    pub fn certificate_pem(&self) -> &str {
        &self.shared.cert_pem
    }

    /// The accepted API token.
    pub fn token(&self) -> &Secret {
        &self.shared.token
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The id of zone `name`, if it exists.
    pub fn zone_id(&self, name: &str) -> Option<String> {
        self.shared.read(|w| {
            w.zones
                .iter()
                .find(|(_, z)| z.record["name"] == name)
                .map(|(id, _)| id.clone())
        })
    }

    /// Simulates a connector (`cloudflared tunnel run`) on tunnel `id`:
    /// four connections from `client_id`, status `healthy`. False if no
    /// such live tunnel.
    pub fn connect_tunnel(&self, id: &str, client_id: &str) -> bool {
        self.shared.write(|w| tunnels::connect(w, id, client_id))
    }

    /// Puts zone `name` on another plan (`free`, `pro`, `business`,
    /// `enterprise`: its `plan.legacy_id`); zones start on `free`. False if
    /// there is no such zone.
    pub fn set_zone_plan(&self, name: &str, legacy_id: &str) -> bool {
        self.shared.write(|w| {
            let Some(zone) = w.zones.values_mut().find(|z| z.record["name"] == name) else {
                return false;
            };
            zone.record["plan"]["legacy_id"] = legacy_id.into();
            zone.record["plan"]["name"] = match legacy_id {
                "free" => "Free Website",
                "pro" => "Pro Website",
                "business" => "Business Website",
                _ => "Enterprise Website",
            }
            .into();
            true
        })
    }

    /// Edits tunnel `id`'s remote configuration as someone in the
    /// dashboard would: `edit` changes the `config` document in place (not
    /// checked: the dashboard's own editor is), the version goes up. False
    /// if the tunnel has no configuration.
    pub fn edit_tunnel_config(&self, id: &str, edit: impl FnOnce(&mut Value)) -> bool {
        self.shared.write(|w| {
            let Some(doc) = w.tunnels.get_mut(id).and_then(|t| t.configuration.as_mut()) else {
                return false;
            };
            edit(&mut doc["config"]);
            let version = doc["version"].as_u64().unwrap_or(0) + 1;
            doc["version"] = version.into();
            true
        })
    }

    /// Changes the rate limit from now on (the window's history is kept).
    pub fn set_rate_limit(&self, limit: u32, window: Duration) {
        let mut rate = self.shared.rate.lock().unwrap_or_else(|e| e.into_inner());
        rate.limit = limit;
        rate.window = window;
    }

    /// The requests received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Requests per endpoint, keyed `METHOD template`
    /// (`GET /accounts/{account_id}/cfd_tunnel`); unrouted requests count
    /// under `METHOD ?`.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for r in self.requests() {
            let key = format!("{} {}", r.method, r.endpoint.as_deref().unwrap_or("?"));
            *counts.entry(key).or_insert(0) += 1;
        }
        counts
    }

    /// Forgets the recorded requests.
    pub fn reset_requests(&self) {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// A copy of the simulated state (for assertions).
    pub fn world(&self) -> World {
        self.shared.read(World::clone)
    }

    /// Stops the server (also done on drop).
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for CloudflareSim {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_slides_and_says_how_long_to_wait() {
        let mut rate = RateLimit {
            limit: 2,
            window: Duration::from_secs(10),
            seen: VecDeque::new(),
        };
        let t0 = Instant::now();
        assert!(rate.admit(t0).is_ok());
        assert!(rate.admit(t0 + Duration::from_secs(4)).is_ok());
        assert_eq!(rate.admit(t0 + Duration::from_secs(5)), Err(5));
        assert_eq!(rate.admit(t0 + Duration::from_millis(9_500)), Err(1));
        // The first request has left the window.
        assert!(rate.admit(t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(rate.admit(t0 + Duration::from_secs(11)), Err(3));
    }
}
