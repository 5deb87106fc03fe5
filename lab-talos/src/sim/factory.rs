//! An Image Factory simulator: the schematic endpoints of
//! <https://factory.talos.dev>, over HTTPS on `127.0.0.1`.
//!
//! | request | answer |
//! |---|---|
//! | `POST /schematics` (YAML or JSON body) | `201 {"id": ..., "schematic": ...}`; `400` with yaml.v3's message for a body the factory refuses (unknown fields, wrong types) |
//! | `GET /schematics/<id>` | `200` the stored canonical YAML (`application/yaml`), or `404 schematic not found` |
//! | anything else | `404 404 page not found` (Go's `http.NotFound`) |
//!
//! Like the real factory (`pkg/schematic`), a posted body is decoded
//! strictly with [`Schematic::from_yaml`] and re-marshalled: the stored
//! schematic is its [`Schematic::canonical_yaml`] and the id the SHA-256
//! of that, so a body spelled differently (JSON, other indentation, empty
//! fields) gets the id of its canonical form. Registering again is a no-op
//! that answers the same. Schematics are never forgotten.
//!
//! The server presents a fresh self-signed certificate for `127.0.0.1` and
//! `localhost` ([`FactorySim::cert_pem`]): a client trusts it as an extra
//! root, the way it would trust a self-hosted factory's private CA
//! ([`FactoryClient::with_root_pem`]). Every request is logged
//! ([`FactorySim::requests`]); [`FactorySim::set_failure`] makes every
//! answer an error status (say `503`) until cleared, to test retries.
//!
//! The server stops when the last clone of the [`FactorySim`] is dropped,
//! or on [`FactorySim::shutdown`]. Must be started inside a Tokio runtime.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, Method, Response, StatusCode, Uri};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::api::{ApiError, FactoryClient};
use crate::factory::{ImageFactory, Schematic};

/// One request the simulator answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactoryRequest {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path, such as `/schematics`.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct FactoryState {
    /// id -> canonical YAML.
    schematics: BTreeMap<String, String>,
    requests: Vec<FactoryRequest>,
    failure: Option<u16>,
}

type Shared = Arc<Mutex<FactoryState>>;

fn lock(shared: &Shared) -> MutexGuard<'_, FactoryState> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Stops the server when the last [`FactorySim`] clone goes.
struct Inner {
    addr: SocketAddr,
    cert_pem: String,
    state: Shared,
    shutdown: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// A simulated Image Factory (see the [module docs](self)). Cheap to
/// clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FactorySim {
    inner: Arc<Inner>,
}

impl fmt::Debug for FactorySim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("FactorySim")
            .field("url", &self.url())
            .field("schematics", &state.schematics.len())
            .field("requests", &state.requests.len())
            .finish()
    }
}

impl FactorySim {
    /// Starts a factory on `127.0.0.1:<free port>` with a fresh
    /// self-signed certificate.
    pub async fn start() -> io::Result<FactorySim> {
        let (cert_pem, acceptor) = tls().map_err(io::Error::other)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::default();
        let (shutdown, receiver) = watch::channel(false);
        tokio::spawn(serve(listener, acceptor, state.clone(), receiver));
        Ok(FactorySim {
            inner: Arc::new(Inner {
                addr,
                cert_pem,
                state,
                shutdown,
            }),
        })
    }

    /// The base URL, `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.inner.addr)
    }

    /// The factory at [`url`](Self::url), for the model and for URLs.
    pub fn factory(&self) -> ImageFactory {
        ImageFactory::new(&self.url()).expect("the simulator's URL is a factory base URL")
    }

    /// The server's self-signed certificate, PEM: the root a client must
    /// trust ([`FactoryClient::with_root_pem`]).
    pub fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }

    /// A client for this factory that trusts its certificate.
    pub fn client(&self) -> Result<FactoryClient, ApiError> {
        FactoryClient::with_root_pem(self.factory(), self.cert_pem())
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<FactoryRequest> {
        lock(&self.inner.state).requests.clone()
    }

    /// How many requests with `method` on `path` were answered.
    pub fn count(&self, method: &str, path: &str) -> usize {
        lock(&self.inner.state)
            .requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// The canonical YAML registered under `id`, if any.
    pub fn schematic(&self, id: &str) -> Option<String> {
        lock(&self.inner.state).schematics.get(id).cloned()
    }

    /// The ids registered so far, sorted.
    pub fn schematic_ids(&self) -> Vec<String> {
        lock(&self.inner.state).schematics.keys().cloned().collect()
    }

    /// Answers every request with `status` (such as `503`) until called
    /// with `None`; the requests are still logged.
    pub fn set_failure(&self, status: Option<u16>) {
        lock(&self.inner.state).failure = status;
    }

    /// Stops the server now (clones stay usable for their logs).
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, and the
/// acceptor presenting it (HTTP/1.1 only, like the client).
fn tls() -> Result<(String, TlsAcceptor), String> {
    let key = KeyPair::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "factory-sim");
    dn.push(DnType::OrganizationName, "lab image factory simulator");
    params.distinguished_name = dn;
    params.subject_alt_names = vec![
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::DnsName(
            "localhost"
                .try_into()
                .map_err(|e| format!("certificate name: {e}"))?,
        ),
    ];
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    let der = CertificateDer::from(cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(crate::api::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((cert.pem(), TlsAcceptor::from(Arc::new(config))))
}

/// Serves HTTPS on `listener` until `shutdown` flips to `true`.
async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = Router::new().fallback(handle).with_state(state);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let app = app.clone();
                connections.spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let app = app.clone();
                        async move { app.oneshot(req.map(Body::new)).await }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .http1_only()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

/// A plain-text answer, as Go's `http.Error` writes it.
fn text(status: StatusCode, message: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .body(Body::from(format!("{message}\n")))
        .unwrap_or_default()
}

fn body(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap_or_default()
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    payload: Bytes,
) -> Response<Body> {
    let path = uri.path().to_string();
    let failure = lock(&state).failure;
    let response = match failure {
        Some(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            text(status, status.canonical_reason().unwrap_or("error"))
        }
        None => route(&state, &method, &path, &payload),
    };
    lock(&state).requests.push(FactoryRequest {
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
    });
    response
}

fn route(state: &Shared, method: &Method, path: &str, payload: &[u8]) -> Response<Body> {
    if path == "/schematics" && method == Method::POST {
        return create(state, payload);
    }
    if let Some(id) = path.strip_prefix("/schematics/") {
        if method == Method::GET && !id.is_empty() && !id.contains('/') {
            return match lock(state).schematics.get(id) {
                Some(yaml) => body(StatusCode::OK, "application/yaml", yaml.clone()),
                None => text(StatusCode::NOT_FOUND, "schematic not found"),
            };
        }
    }
    text(StatusCode::NOT_FOUND, "404 page not found")
}

/// `POST /schematics`: decode strictly, re-marshal, hash, keep.
fn create(state: &Shared, payload: &[u8]) -> Response<Body> {
    let Ok(text_body) = std::str::from_utf8(payload) else {
        return text(StatusCode::BAD_REQUEST, "yaml: invalid leading UTF-8 octet");
    };
    let schematic = match Schematic::from_yaml(text_body) {
        Ok(s) => s,
        Err(e) => {
            let message = match e {
                crate::factory::FactoryError::InvalidSchematic(m) => m,
                other => other.to_string(),
            };
            return text(StatusCode::BAD_REQUEST, &message);
        }
    };
    let canonical = schematic.canonical_yaml();
    let id = schematic.id();
    lock(state)
        .schematics
        .entry(id.clone())
        .or_insert_with(|| canonical.clone());
    let json = serde_json::json!({ "id": id, "schematic": canonical });
    // Go's json.Encoder ends the document with a newline.
    body(StatusCode::CREATED, "application/json", format!("{json}\n"))
}
