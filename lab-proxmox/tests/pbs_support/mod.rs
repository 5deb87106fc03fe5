//! A small fake Proxmox Backup Server for the PVE side's tests: HTTPS on
//! 127.0.0.1 with a fresh self-signed certificate, serving exactly the
//! endpoints of the PVE <-> PBS contract (helper-notes `pbs-link.md`):
//! `GET /api2/json/admin/datastore`, `.../{store}/snapshots`,
//! `.../{store}/status`, and `POST|GET /sim/backup`, with
//! `PBSAPIToken=<id>:<secret>` auth (401 with an empty body otherwise) and
//! PBS's plain-text errors. Datastores are visible to the tokens listed
//! for them; anything else is the real PBS simulator's job (lab-pbs).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// One stored snapshot.
#[derive(Clone, Debug)]
pub struct Snap {
    pub store: String,
    pub ns: Option<String>,
    pub backup_type: String,
    pub backup_id: String,
    pub backup_time: i64,
    pub files: Vec<(String, u64)>,
    pub guest_config: String,
    pub owner: String,
}

#[derive(Default)]
pub struct Inner {
    /// token id -> secret.
    pub tokens: BTreeMap<String, String>,
    /// datastore -> token ids that may see and write it.
    pub stores: BTreeMap<String, Vec<String>>,
    pub snapshots: Vec<Snap>,
    /// `(method, path)` of every request.
    pub requests: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct FakePbs {
    pub port: u16,
    pub fingerprint: String,
    pub inner: Arc<Mutex<Inner>>,
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [("content-type", "application/json;charset=UTF-8")],
        text.to_string(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Body::empty()).into_response()
}

fn authed(state: &FakePbs, headers: &HeaderMap) -> Option<String> {
    let raw = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let cred = raw.strip_prefix("PBSAPIToken=").unwrap_or_default();
    let (id, secret) = cred.split_once(':').unwrap_or_default();
    let inner = state.inner.lock().unwrap();
    match inner.tokens.get(id) {
        Some(s) if s == secret => Some(id.to_string()),
        _ => None,
    }
}

fn may(state: &FakePbs, auth: &str, store: &str) -> bool {
    let inner = state.inner.lock().unwrap();
    inner
        .stores
        .get(store)
        .is_some_and(|ids| ids.iter().any(|i| i == auth))
}

async fn datastores(State(s): State<FakePbs>, headers: HeaderMap) -> Response {
    let Some(auth) = authed(&s, &headers) else {
        return unauthorized();
    };
    let inner = s.inner.lock().unwrap();
    let list: Vec<Value> = inner
        .stores
        .iter()
        .filter(|(_, ids)| ids.contains(&auth))
        .map(|(name, _)| json!({"store": name}))
        .collect();
    Json(json!({ "data": list })).into_response()
}

async fn snapshots(
    State(s): State<FakePbs>,
    Path(store): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(auth) = authed(&s, &headers) else {
        return unauthorized();
    };
    if !may(&s, &auth, &store) {
        return plain(StatusCode::FORBIDDEN, "permission check failed");
    }
    let ns = q.get("ns").cloned().filter(|n| !n.is_empty());
    let inner = s.inner.lock().unwrap();
    let list: Vec<Value> = inner
        .snapshots
        .iter()
        .filter(|x| x.store == store && x.ns == ns)
        .map(|x| {
            json!({
                "backup-type": x.backup_type, "backup-id": x.backup_id,
                "backup-time": x.backup_time,
                "files": x.files.iter().map(|(f, n)| json!({"filename": f, "size": n})).collect::<Vec<_>>(),
                "size": x.files.iter().map(|(_, n)| n).sum::<u64>(),
                "owner": x.owner, "protected": false,
            })
        })
        .collect();
    Json(json!({ "data": list })).into_response()
}

async fn status(
    State(s): State<FakePbs>,
    Path(store): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(auth) = authed(&s, &headers) else {
        return unauthorized();
    };
    if !may(&s, &auth, &store) {
        return plain(StatusCode::FORBIDDEN, "permission check failed");
    }
    let used: u64 = s
        .inner
        .lock()
        .unwrap()
        .snapshots
        .iter()
        .filter(|x| x.store == store)
        .flat_map(|x| x.files.iter().map(|(_, n)| *n))
        .sum();
    let total = 8u64 << 40;
    Json(json!({"data": {"total": total, "used": used, "avail": total - used}})).into_response()
}

async fn write_backup(State(s): State<FakePbs>, headers: HeaderMap, body: String) -> Response {
    let Some(auth) = authed(&s, &headers) else {
        return unauthorized();
    };
    let b: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let store = b["store"].as_str().unwrap_or_default().to_string();
    if !may(&s, &auth, &store) {
        return plain(StatusCode::FORBIDDEN, "permission check failed");
    }
    let files = b["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["filename"].as_str().unwrap_or_default().to_string(),
                f["size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    s.inner.lock().unwrap().snapshots.push(Snap {
        store,
        ns: b["ns"].as_str().map(str::to_string),
        backup_type: b["backup-type"].as_str().unwrap_or_default().to_string(),
        backup_id: b["backup-id"].as_str().unwrap_or_default().to_string(),
        backup_time: b["backup-time"].as_i64().unwrap_or(0),
        files,
        guest_config: b["guest-config"].as_str().unwrap_or_default().to_string(),
        owner: auth,
    });
    Json(json!({ "data": null })).into_response()
}

async fn read_backup(
    State(s): State<FakePbs>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(auth) = authed(&s, &headers) else {
        return unauthorized();
    };
    let store = q.get("store").cloned().unwrap_or_default();
    if !may(&s, &auth, &store) {
        return plain(StatusCode::FORBIDDEN, "permission check failed");
    }
    let ns = q.get("ns").cloned().filter(|n| !n.is_empty());
    let inner = s.inner.lock().unwrap();
    let found = inner.snapshots.iter().find(|x| {
        x.store == store
            && x.ns == ns
            && Some(&x.backup_type) == q.get("backup-type")
            && Some(&x.backup_id) == q.get("backup-id")
            && q.get("backup-time").and_then(|t| t.parse().ok()) == Some(x.backup_time)
    });
    match found {
        None => plain(StatusCode::BAD_REQUEST, "no such snapshot"),
        Some(x) => Json(json!({"data": {
            "backup-type": x.backup_type, "backup-id": x.backup_id, "backup-time": x.backup_time,
            "files": x.files.iter().map(|(f, n)| json!({"filename": f, "size": n})).collect::<Vec<_>>(),
            "guest-config": x.guest_config,
            "size": x.files.iter().map(|(_, n)| n).sum::<u64>(),
        }}))
        .into_response(),
    }
}

async fn track(
    State(s): State<FakePbs>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    s.inner
        .lock()
        .unwrap()
        .requests
        .push((req.method().to_string(), req.uri().path().to_string()));
    next.run(req).await
}

impl FakePbs {
    /// Starts the server on 127.0.0.1 (in the current runtime).
    pub async fn start() -> FakePbs {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let der = cert.cert.der().to_vec();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(der.clone())], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = FakePbs {
            port,
            fingerprint: lab_proxmox::api::tls::sha256_fingerprint(&der),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = Router::new()
            .route("/api2/json/admin/datastore", get(datastores))
            .route(
                "/api2/json/admin/datastore/{store}/snapshots",
                get(snapshots),
            )
            .route("/api2/json/admin/datastore/{store}/status", get(status))
            .route("/sim/backup", get(read_backup).post(write_backup))
            .layer(axum::middleware::from_fn_with_state(state.clone(), track))
            .with_state(state.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let app = app.clone();
                            async move { app.oneshot(req.map(Body::new)).await }
                        },
                    );
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .http1_only()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        state
    }

    /// Adds a token.
    pub fn token(&self, id: &str, secret: &str) -> &Self {
        let mut inner = self.inner.lock().unwrap();
        inner.tokens.insert(id.into(), secret.into());
        self
    }

    /// Adds a datastore that `token_ids` may use.
    pub fn datastore(&self, name: &str, token_ids: &[&str]) -> &Self {
        let mut inner = self.inner.lock().unwrap();
        inner.stores.insert(
            name.into(),
            token_ids.iter().map(|s| s.to_string()).collect(),
        );
        self
    }

    pub fn snapshots(&self) -> Vec<Snap> {
        self.inner.lock().unwrap().snapshots.clone()
    }

    pub fn requests(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().requests.clone()
    }
}
