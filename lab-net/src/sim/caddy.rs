//! A simulator of Caddy 2.6.2's admin API, for labs and tests on machines
//! without `caddy`: axum on 127.0.0.1, the endpoints lab-net calls, with
//! Caddy's answers as measured.
//!
//! - `POST /load`: the body must be JSON (`400 {"error": "loading config:
//!   decoding request body: ..."}`) in the shape lab writes
//!   ([`Config`], strict as Caddy's decoder: `json: unknown field "x"`),
//!   every module named in it must be one Debian's build has
//!   ([`MODULES`]: handlers `subroute` and `reverse_proxy`, issuers
//!   `internal` and `acme`, storage `file_system`, no `dns.providers.*`),
//!   with Caddy's error text (`loading module 'x': unknown module:
//!   http.handlers.x`). A refused document changes nothing. Unlike Caddy
//!   2.6.2 the simulator never moves its admin endpoint (a refused
//!   document without `admin` moves the real one to `localhost:2019`,
//!   measured): it listens where it was started.
//! - `GET /config/`: the document last loaded (`null` at first) and its
//!   `ETag` (a header here; a trailer in Caddy).
//! - `GET /pki/ca/local`: the local CA, a root made once with rcgen
//!   (`Caddy Local Authority - <year> ECC Root`, P-256), kept in the state.
//! - `POST /stop`: answers 200 (the simulator stops when dropped).
//!
//! The config and the root are kept in the state file (0600, atomic,
//! written under its lock), and read again before a request when another
//! process wrote it, so apply in one process and plan in the next (or in
//! one that was already running) see the same Caddy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};

use lab_core::files::{FileLock, FileStamp};

use crate::api::caddy::etag_of;
use crate::api::caddy_config::{Config, Route};

/// The modules the simulated Caddy has (those of Debian's `caddy` 2.6.2
/// that lab's documents can name).
pub const MODULES: &[&str] = &[
    "caddy.storage.file_system",
    "http.handlers.reverse_proxy",
    "http.handlers.subroute",
    "tls.issuance.acme",
    "tls.issuance.internal",
];

/// Why the simulator did not start.
#[derive(Debug, thiserror::Error)]
#[error("the Caddy simulator did not start: {0}")]
pub struct SimError(pub String);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Stored {
    config: serde_json::Value,
    root_certificate: String,
    loads: u64,
}

struct Shared {
    stored: Stored,
    file: Option<PathBuf>,
    /// The version of the file `stored` is.
    stamp: Option<FileStamp>,
}

impl Shared {
    /// Reads the file again when another process (another simulator on
    /// the same state) wrote it since.
    fn sync(&mut self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let now = FileStamp::of(path);
        if now.is_some() && now != self.stamp {
            let stored = load_stored(Some(path)).map_err(|e| e.to_string())?;
            if !stored.root_certificate.is_empty() {
                self.stored = stored;
            }
            self.stamp = now;
        }
        Ok(())
    }
}

/// A running simulator; dropping it stops the server.
pub struct CaddySim {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for CaddySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaddySim")
            .field("addr", &self.addr)
            .finish()
    }
}

fn generate_root() -> Result<String, SimError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let key = KeyPair::generate().map_err(|e| SimError(format!("root key: {e}")))?;
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| SimError(format!("root params: {e}")))?;
    let year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 31_556_952)
            .unwrap_or(56);
    params.distinguished_name.push(
        DnType::CommonName,
        format!("Caddy Local Authority - {year} ECC Root"),
    );
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params
        .self_signed(&key)
        .map_err(|e| SimError(format!("root certificate: {e}")))?;
    Ok(cert.pem())
}

fn load_stored(file: Option<&Path>) -> Result<Stored, SimError> {
    let Some(path) = file else {
        return Ok(Stored::default());
    };
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            SimError(format!(
                "{} is not a Caddy simulator state ({e}); remove it to start afresh",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Stored::default()),
        Err(e) => Err(SimError(format!("cannot read {}: {e}", path.display()))),
    }
}

fn save(shared: &mut Shared) -> Result<(), String> {
    let Some(path) = &shared.file else {
        return Ok(());
    };
    let bytes = serde_json::to_vec(&shared.stored).map_err(|e| e.to_string())?;
    lab_core::files::write_private_atomic(path, &bytes, false)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    shared.stamp = FileStamp::of(path);
    Ok(())
}

/// The lock beside the state file, if there is one.
fn lock_file(file: Option<&Path>) -> Result<Option<FileLock>, String> {
    file.map(|p| FileLock::exclusive(p).map_err(|e| format!("cannot lock {}: {e}", p.display())))
        .transpose()
}

impl CaddySim {
    /// Starts the simulator on the caller's runtime, on a free loopback
    /// port, its state in `state_file` (none: in memory).
    pub async fn start(state_file: Option<PathBuf>) -> Result<CaddySim, SimError> {
        let guard = lock_file(state_file.as_deref()).map_err(SimError)?;
        let mut stored = load_stored(state_file.as_deref())?;
        let fresh = stored.root_certificate.is_empty();
        if fresh {
            stored.root_certificate = generate_root()?;
        }
        let stamp = state_file.as_deref().and_then(FileStamp::of);
        let shared = Arc::new(Mutex::new(Shared {
            stored,
            file: state_file,
            stamp,
        }));
        if fresh {
            save(&mut shared.lock().unwrap_or_else(|e| e.into_inner())).map_err(SimError)?;
        }
        drop(guard);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| SimError(format!("cannot listen on 127.0.0.1: {e}")))?;
        let addr = listener.local_addr().map_err(|e| SimError(e.to_string()))?;
        let app = Router::new()
            .route("/load", post(load))
            .route("/config/", get(config))
            .route("/pki/ca/local", get(ca))
            .route("/stop", post(|| async { StatusCode::OK }))
            .fallback(|| async { caddy_error(StatusCode::NOT_FOUND, "not found".into()) })
            .with_state(shared.clone());
        let (shutdown, mut stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    while !*stopped.borrow() {
                        if stopped.changed().await.is_err() {
                            break;
                        }
                    }
                })
                .await;
        });
        Ok(CaddySim {
            addr,
            shared,
            shutdown,
        })
    }

    /// Starts the simulator on its own thread and runtime (for a lab's
    /// synchronous `main` setup).
    pub fn start_background(state_file: Option<PathBuf>) -> Result<CaddySim, SimError> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("caddy-sim".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(SimError(format!("cannot start a runtime: {e}"))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match CaddySim::start(state_file).await {
                        Ok(sim) => {
                            let mut stopped = sim.shutdown.subscribe();
                            if tx.send(Ok(sim)).is_ok() {
                                while !*stopped.borrow() {
                                    if stopped.changed().await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| SimError(format!("cannot start the simulator's thread: {e}")))?;
        rx.recv()
            .map_err(|_| SimError("the simulator's thread ended before it started".into()))?
    }

    /// The admin address, `127.0.0.1:<port>`.
    pub fn admin(&self) -> String {
        self.addr.to_string()
    }

    /// The config last loaded (by any simulator on the same state file).
    pub fn config(&self) -> serde_json::Value {
        self.synced().stored.config.clone()
    }

    /// The root certificate (PEM).
    pub fn root_certificate(&self) -> String {
        self.synced().stored.root_certificate.clone()
    }

    /// How many documents were loaded.
    pub fn loads(&self) -> u64 {
        self.synced().stored.loads
    }

    fn synced(&self) -> std::sync::MutexGuard<'_, Shared> {
        let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let _ = s.sync();
        s
    }
}

impl Drop for CaddySim {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn caddy_error(status: StatusCode, error: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": error }))).into_response()
}

/// serde's text in Go's words where Caddy's differ (`unknown field`).
fn go_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text
        .strip_prefix("unknown field `")
        .and_then(|r| r.split_once('`'))
    {
        Some((field, _)) => format!("json: unknown field \"{field}\""),
        None => format!("json: {text}"),
    }
}

/// The first module the document names that the simulated Caddy lacks,
/// as Caddy words the refusal.
fn module_problem(config: &Config) -> Option<String> {
    let has = |m: &str| MODULES.contains(&m);
    if let Some(s) = &config.storage {
        if !has(&format!("caddy.storage.{}", s.module)) {
            return Some(format!(
                "loading storage module: loading module '{0}': unknown module: caddy.storage.{0}",
                s.module
            ));
        }
    }
    let apps = config.apps.as_ref()?;
    if let Some(http) = &apps.http {
        for (name, server) in &http.servers {
            if let Some(p) = routes_problem(&server.routes, &has) {
                return Some(format!(
                    "loading http app module: provision http: server {name}: setting up route handlers: {p}"
                ));
            }
        }
    }
    if let Some(tls) = &apps.tls {
        for (i, policy) in tls
            .automation
            .iter()
            .flat_map(|a| a.policies.iter())
            .enumerate()
        {
            for (j, issuer) in policy.issuers.iter().enumerate() {
                let prefix = format!(
                    "loading tls app module: provision tls: provisioning automation policy {i}: \
                     loading TLS automation management module: position {j}: loading module '{}'",
                    issuer.module
                );
                if !has(&format!("tls.issuance.{}", issuer.module)) {
                    return Some(format!(
                        "{prefix}: unknown module: tls.issuance.{}",
                        issuer.module
                    ));
                }
                let dns = issuer.challenges.as_ref().and_then(|c| c.dns.as_ref());
                if let Some(dns) = dns {
                    let name = &dns.provider.name;
                    if !has(&format!("dns.providers.{name}")) {
                        return Some(format!(
                            "{prefix}: provision tls.issuance.{}: loading DNS provider module: \
                             loading module '{name}': unknown module: dns.providers.{name}",
                            issuer.module
                        ));
                    }
                }
            }
        }
    }
    None
}

fn routes_problem(routes: &[Route], has: &dyn Fn(&str) -> bool) -> Option<String> {
    for (i, route) in routes.iter().enumerate() {
        for (j, h) in route.handle.iter().enumerate() {
            let at = format!(
                "route {i}: loading handler modules: position {j}: loading module '{}'",
                h.handler
            );
            if !has(&format!("http.handlers.{}", h.handler)) {
                return Some(format!("{at}: unknown module: http.handlers.{}", h.handler));
            }
            if let Some(sub) = &h.routes {
                if let Some(p) = routes_problem(sub, has) {
                    return Some(format!(
                        "{at}: provision http.handlers.{}: setting up subroutes: {p}",
                        h.handler
                    ));
                }
            }
        }
    }
    None
}

async fn load(State(shared): State<Arc<Mutex<Shared>>>, body: Bytes) -> Response {
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(j) => j,
        Err(e) => {
            return caddy_error(
                StatusCode::BAD_REQUEST,
                format!("loading config: decoding request body: {e}"),
            )
        }
    };
    let config: Config = match serde_json::from_value(json.clone()) {
        Ok(c) => c,
        Err(e) => {
            return caddy_error(
                StatusCode::BAD_REQUEST,
                format!("loading config: loading new config: {}", go_json_error(&e)),
            )
        }
    };
    if let Some(p) = module_problem(&config) {
        return caddy_error(
            StatusCode::BAD_REQUEST,
            format!("loading config: loading new config: {p}"),
        );
    }
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    let guard = match lock_file(s.file.as_deref()) {
        Ok(g) => g,
        Err(e) => return caddy_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    if let Err(e) = s.sync() {
        return caddy_error(StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    let before = std::mem::replace(&mut s.stored.config, json);
    s.stored.loads += 1;
    let saved = save(&mut s);
    drop(guard);
    if let Err(e) = saved {
        s.stored.config = before;
        s.stored.loads -= 1;
        return caddy_error(StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    StatusCode::OK.into_response()
}

/// The shared state, read again if another simulator wrote the file (the
/// error: why the file cannot be read).
fn synced(shared: &Mutex<Shared>) -> Result<std::sync::MutexGuard<'_, Shared>, String> {
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    s.sync()?;
    Ok(s)
}

async fn config(State(shared): State<Arc<Mutex<Shared>>>) -> Response {
    let s = match synced(&shared) {
        Ok(s) => s,
        Err(e) => return caddy_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let mut body = serde_json::to_vec(&s.stored.config).unwrap_or_else(|_| b"null".to_vec());
    body.push(b'\n');
    let etag = etag_of("/config/", &body);
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

async fn ca(State(shared): State<Arc<Mutex<Shared>>>) -> Response {
    let s = match synced(&shared) {
        Ok(s) => s,
        Err(e) => return caddy_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let root = s.stored.root_certificate.clone();
    let cn = "Caddy Local Authority";
    axum::Json(serde_json::json!({
        "id": "local",
        "name": cn,
        "root_common_name": format!("{cn} - ECC Root"),
        "intermediate_common_name": format!("{cn} - ECC Intermediate"),
        "root_certificate": root,
        "intermediate_certificate": "",
    }))
    .into_response()
}
