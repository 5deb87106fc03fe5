//! The Proxmox VE API client.
//!
//! A thin, typed layer over `https://<host>:8006/api2/json` that gets the
//! Proxmox details right so the provider does not have to:
//!
//! - **Transport** ([`Client`]): reqwest with rustls (ring provider,
//!   HTTP/1.1), `Authorization: PVEAPIToken=<id>=<secret>` on every request,
//!   parameters in the query string for GET/DELETE (PVE answers 501 to a
//!   body there) and form-encoded for POST/PUT, the `{"data": ...}` envelope
//!   unwrapped.
//! - **Trust** ([`tls`]): a pinned SHA-256 fingerprint for self-signed nodes,
//!   system roots otherwise; an untrusted certificate becomes an error that
//!   shows the fingerprint to pin (at the start of a line, so a wrapping
//!   terminal does not cut it), never a silent "accept anything"; a port
//!   that answers without TLS (plain HTTP) is named as such.
//! - **Errors** ([`ApiError`]): the message from the HTTP reason phrase
//!   first (where PVE puts it), then the body; classified into
//!   [`ErrorKind`]s (not found, already exists, locked, transient, ...).
//! - **Tasks** ([`Upid`], [`Client::wait_task`]): asynchronous calls awaited
//!   to `OK`/`WARNINGS: n` while the engine's call slots are free; a
//!   timeout says how long it really waited.
//! - **Encoding** ([`Form`], [`path`], [`encode_sshkeys`]) and **decoding**
//!   ([`lenient`], [`types`], [`propstr`]): 0/1 booleans, numbers as strings,
//!   property strings, double-encoded `sshkeys`.

mod encode;
mod error;
pub mod lenient;
pub mod propstr;
mod task;
pub mod tls;
pub mod types;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lab_core::Secret;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use encode::{encode_sshkeys, path, percent_encode, Form};
pub use error::{ApiError, ErrorKind};
pub use propstr::{
    format_property_string, parse_property_string, parse_size_bytes, parse_size_gib,
};
pub use task::{is_node_name, TaskOutcome, Upid};
pub use types::{
    config_str, split_tags, ClusterResource, NetworkIface, NodeInfo, StorageContent, StorageStatus,
    TaskLogLine, TaskStatus, Version,
};

/// How to reach and authenticate to a Proxmox VE cluster.
///
/// `Debug` shows the endpoint and token id, never the secret.
#[derive(Clone)]
pub struct ClientConfig {
    /// `https://host:8006` (a trailing `/` or `/api2/json` is tolerated; no
    /// scheme means `https://`).
    pub endpoint: String,
    /// API token id, `user@realm!tokenid`.
    pub token_id: String,
    /// API token secret (a UUID).
    pub token_secret: Secret,
    /// SHA-256 fingerprint of the node's certificate to pin (`AA:BB:...`,
    /// case and colons optional); `None` verifies against system roots.
    pub fingerprint: Option<String>,
    /// Per-request timeout (default 30 s, pveproxy's own proxy timeout).
    pub timeout: Duration,
    /// Task status poll interval (default 1 s).
    pub task_poll: Duration,
    /// Longest wait for one task (default 30 min).
    pub task_timeout: Duration,
}

impl ClientConfig {
    /// A configuration with the default timeouts and no pinned fingerprint.
    pub fn new(
        endpoint: impl Into<String>,
        token_id: impl Into<String>,
        token_secret: Secret,
    ) -> Self {
        ClientConfig {
            endpoint: endpoint.into(),
            token_id: token_id.into(),
            token_secret,
            fingerprint: None,
            timeout: Duration::from_secs(30),
            task_poll: Duration::from_secs(1),
            task_timeout: Duration::from_secs(30 * 60),
        }
    }

    /// Pins the node's certificate by its SHA-256 fingerprint.
    pub fn with_fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(fingerprint.into());
        self
    }

    /// Sets the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the task poll interval.
    pub fn with_task_poll(mut self, every: Duration) -> Self {
        self.task_poll = every;
        self
    }

    /// Sets the longest wait for one task.
    pub fn with_task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = timeout;
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("token_id", &self.token_id)
            .field("token_secret", &self.token_secret)
            .field("fingerprint", &self.fingerprint)
            .field("timeout", &self.timeout)
            .field("task_poll", &self.task_poll)
            .field("task_timeout", &self.task_timeout)
            .finish()
    }
}

/// What differs between the Proxmox APIs that share this transport:
/// Proxmox VE ([`Dialect::PVE`]) and Proxmox Backup Server (lab-pbs
/// defines its own). The envelope, forms, fingerprint pinning and task
/// polling are the same; the token header, the default port and the words
/// in error messages are not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// The product as error messages name it (`Proxmox`, `Proxmox Backup
    /// Server`).
    pub name: &'static str,
    /// The `Authorization` scheme (`PVEAPIToken`, `PBSAPIToken`).
    pub token_prefix: &'static str,
    /// Between the token id and the secret (`=` for PVE, `:` for PBS).
    pub token_separator: char,
    /// The port an endpoint without one gets (`None`: the URL's default,
    /// 443).
    pub default_port: Option<u16>,
    /// The port named in the "not TLS" hint (8006, 8007).
    pub https_port: u16,
    /// Where the `lab` CLI reads the credentials from, for auth errors.
    pub credentials_env: &'static str,
    /// The user agent product token.
    pub user_agent: &'static str,
}

impl Dialect {
    /// Proxmox VE: `PVEAPIToken=<id>=<secret>`, port 8006.
    pub const PVE: Dialect = Dialect {
        name: "Proxmox",
        token_prefix: "PVEAPIToken",
        token_separator: '=',
        default_port: None,
        https_port: 8006,
        credentials_env: "PVE_TOKEN_ID and PVE_TOKEN_SECRET",
        user_agent: concat!("lab-proxmox/", env!("CARGO_PKG_VERSION")),
    };
}

/// The text auth errors end with, naming where the credentials come from.
pub fn credentials_hint(dialect: &Dialect) -> String {
    format!(
        "with the `lab` CLI they come from {}",
        dialect.credentials_env
    )
}

/// A PVE API client. Cheap to clone (shared connection pool).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `https://host:8006`, normalised.
    endpoint: String,
    /// `<endpoint>/api2/json`.
    base: String,
    /// The Authorization header, marked sensitive.
    auth: HeaderValue,
    config: ClientConfig,
    dialect: Dialect,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("token_id", &self.inner.config.token_id)
            .finish_non_exhaustive()
    }
}

fn bad_config(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadParam, message)
}

/// Normalises an endpoint: adds `https://` if no scheme, drops a trailing
/// `/` and `/api2/json`; refuses `http://`.
fn normalize_endpoint(endpoint: &str, dialect: &Dialect) -> Result<String, ApiError> {
    let name = dialect.name;
    let mut e = endpoint.trim().to_string();
    if !e.contains("://") {
        e = format!("https://{e}");
    }
    if !e.starts_with("https://") {
        return Err(bad_config(format!(
            "the {name} endpoint must use https:// (got {endpoint:?})"
        )));
    }
    while e.ends_with('/') {
        e.pop();
    }
    if let Some(stripped) = e.strip_suffix("/api2/json") {
        e = stripped.to_string();
    }
    if e.len() <= "https://".len() {
        return Err(bad_config(format!(
            "the {name} endpoint has no host ({endpoint:?})"
        )));
    }
    let url = reqwest::Url::parse(&e)
        .map_err(|err| bad_config(format!("invalid {name} endpoint {endpoint:?}: {err}")))?;
    if let (Some(port), None) = (dialect.default_port, url.port()) {
        let mut with_port = url;
        let _ = with_port.set_port(Some(port));
        e = with_port.as_str().trim_end_matches('/').to_string();
    }
    Ok(e)
}

impl Client {
    /// Builds a client. Fails on a malformed endpoint, token id or
    /// fingerprint; makes no request.
    pub fn new(config: ClientConfig) -> Result<Client, ApiError> {
        Client::with_dialect(config, Dialect::PVE)
    }

    /// Builds a client for another Proxmox API sharing this transport
    /// (lab-pbs's `PbsClient` passes PBS's dialect).
    pub fn with_dialect(config: ClientConfig, dialect: Dialect) -> Result<Client, ApiError> {
        let endpoint = normalize_endpoint(&config.endpoint, &dialect)?;
        let token_id = config.token_id.trim();
        let valid_id = token_id
            .split_once('@')
            .and_then(|(user, rest)| rest.split_once('!').map(|(realm, id)| (user, realm, id)))
            .is_some_and(|(u, r, i)| !u.is_empty() && !r.is_empty() && !i.is_empty());
        if !valid_id {
            return Err(bad_config(format!(
                "the API token id must look like user@realm!tokenid (got {token_id:?})"
            )));
        }
        let pin = match &config.fingerprint {
            None => None,
            Some(fp) => Some(tls::parse_fingerprint(fp).ok_or_else(|| {
                bad_config(format!(
                    "the certificate fingerprint must be a SHA-256 fingerprint, 32 bytes \
                     of hex like AA:BB:...:FF (got {fp:?})"
                ))
            })?),
        };
        let mut auth = HeaderValue::from_str(&format!(
            "{}={token_id}{}{}",
            dialect.token_prefix,
            dialect.token_separator,
            config.token_secret.expose().trim()
        ))
        .map_err(|_| {
            bad_config(
                "the API token id or secret contains characters not allowed in an HTTP header",
            )
        })?;
        auth.set_sensitive(true);
        let tls = tls::client_config(pin)
            .map_err(|e| ApiError::new(ErrorKind::Other, format!("TLS setup failed: {e}")))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(15)))
            .user_agent(dialect.user_agent)
            .build()
            .map_err(|e| {
                ApiError::new(ErrorKind::Other, format!("HTTP client setup failed: {e}"))
            })?;
        let base = format!("{endpoint}/api2/json");
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoint,
                base,
                auth,
                config,
                dialect,
            }),
        })
    }

    /// The normalised endpoint (`https://host:8006`).
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The configuration the client was built from.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The API dialect the client speaks.
    pub fn dialect(&self) -> &Dialect {
        &self.inner.dialect
    }

    /// `GET path?query`, decoding `data` as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let data = self.request(Method::GET, path, query, None).await?;
        serde_json::from_value(data).map_err(|e| {
            ApiError::new(
                ErrorKind::Other,
                format!("GET {path}: unexpected answer shape: {e}"),
            )
        })
    }

    /// `POST path` with a form body; returns `data` (often a UPID string;
    /// see [`Client::post_task`]).
    pub async fn post(&self, path: &str, form: &Form) -> Result<Value, ApiError> {
        self.request(Method::POST, path, &[], Some(form)).await
    }

    /// `PUT path` with a form body; returns `data`.
    pub async fn put(&self, path: &str, form: &Form) -> Result<Value, ApiError> {
        self.request(Method::PUT, path, &[], Some(form)).await
    }

    /// `DELETE path?query` (no body); returns `data`.
    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ApiError> {
        self.request(Method::DELETE, path, query, None).await
    }

    /// `GET /version`: a cheap check of reachability, trust and token.
    pub async fn version(&self) -> Result<Version, ApiError> {
        self.get("/version", &[]).await
    }

    /// `GET /cluster/resources[?type=...]`: the whole cluster in one call.
    pub async fn cluster_resources(
        &self,
        kind: Option<&str>,
    ) -> Result<Vec<ClusterResource>, ApiError> {
        let query: Vec<(&str, String)> =
            kind.map(|k| ("type", k.to_string())).into_iter().collect();
        self.get("/cluster/resources", &query).await
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        form: Option<&Form>,
    ) -> Result<Value, ApiError> {
        let inner = &self.inner;
        let rel = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let mut url = format!("{}{rel}", inner.base);
        for (i, (k, v)) in query.iter().enumerate() {
            let sep = if i == 0 && !rel.contains('?') {
                '?'
            } else {
                '&'
            };
            url.push(sep);
            url.push_str(&percent_encode(k));
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        let mut req = inner
            .http
            .request(method.clone(), &url)
            .header(AUTHORIZATION, inner.auth.clone());
        if let Some(form) = form {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form.encode());
        }
        let what = format!("{method} {rel}");
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&what, &e))?;
        let status = resp.status().as_u16();
        // PVE puts the error message in the status line; hyper keeps a
        // non-canonical reason phrase as an extension, and reqwest keeps
        // the extensions.
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
        // `Retry-After: <seconds>` (the HTTP-date form is not used by the
        // proxies that sit in front of pveproxy).
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(&what, &e))?;
        if !(200..300).contains(&status) {
            let mut e = ApiError::from_response(status, reason.as_deref(), &body);
            e.retry_after = retry_after;
            if e.kind == ErrorKind::AuthFailed {
                e.message = format!("{}; {}", e.message, credentials_hint(&inner.dialect));
            }
            tracing::debug!(request = %what, status, error = %e, "Proxmox API error");
            return Err(e);
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        let mut envelope: Value = serde_json::from_slice(&body).map_err(|e| ApiError {
            status,
            ..ApiError::new(
                ErrorKind::Other,
                format!("{what}: the answer is not JSON: {e}"),
            )
        })?;
        Ok(envelope
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    /// Maps a reqwest error (connect, TLS, timeout, body) to an [`ApiError`].
    fn transport_error(&self, what: &str, e: &reqwest::Error) -> ApiError {
        let endpoint = &self.inner.endpoint;
        if let Some(refusal) = tls::find_refusal(e) {
            let message = refusal_message(endpoint, &refusal, self.inner.dialect.name);
            return ApiError::new(
                ErrorKind::UntrustedCertificate {
                    fingerprint: refusal.fingerprint,
                },
                message,
            );
        }
        if tls::is_not_tls(e) {
            return ApiError::new(
                ErrorKind::Other,
                format!(
                    "{what}: {endpoint} answered, but not with TLS: is it an HTTP port? \
                     {} serves HTTPS on {}",
                    self.inner.dialect.name, self.inner.dialect.https_port
                ),
            );
        }
        let detail = error_chain(e);
        if e.is_timeout() {
            ApiError::new(
                ErrorKind::Transient,
                format!(
                    "{what}: no answer from {endpoint} within {}s ({detail})",
                    self.inner.config.timeout.as_secs()
                ),
            )
        } else if e.is_connect() {
            ApiError::new(
                ErrorKind::Transient,
                format!("{what}: cannot connect to {endpoint}: {detail}"),
            )
        } else if e.is_builder() {
            ApiError::new(
                ErrorKind::Other,
                format!("{what}: invalid request: {detail}"),
            )
        } else {
            ApiError::new(ErrorKind::Transient, format!("{what}: {detail}"))
        }
    }
}

/// The message of a refused certificate. A fingerprint never shares a line
/// with text of varying length, so a wrapping terminal cannot cut it
/// inside a hex pair: with a pin, both fingerprints are lines of their own;
/// without one, the line is `pin it: fingerprint AA:BB:...` (a fixed
/// 20-column prefix: an 80-column terminal wraps it between two pairs).
fn refusal_message(endpoint: &str, refusal: &tls::CertRefusal, product: &str) -> String {
    match &refusal.pinned {
        Some(pinned) => format!(
            "the server at {endpoint} presented a certificate that does not match the \
             pinned fingerprint; if the node's certificate was renewed, pin the new \
             one.\npresented:\n{}\npinned:\n{pinned}",
            refusal.fingerprint
        ),
        None => format!(
            "the server at {endpoint} presented a certificate that is not trusted ({}); \
             if it is your {product} node's self-signed certificate,\npin it: fingerprint {}",
            refusal.reason, refusal.fingerprint
        ),
    }
}

/// `outer: cause: cause`, skipping causes the outer text already contains.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod transport_tests {
    use std::time::Duration;

    use lab_core::Secret;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::{tls, Client, ClientConfig, ErrorKind};

    /// A plain-HTTP server on the port (a reverse proxy's HTTP side, or
    /// port 80): it reads whatever comes and answers HTTP/1.1 400, as
    /// nginx does to a TLS ClientHello.
    async fn plain_http() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = conn.read(&mut buf).await;
                    let body = "<html><body>400 Bad Request</body></html>";
                    let reply = format!(
                        "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(reply.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        format!("https://{addr}")
    }

    #[tokio::test]
    async fn a_port_that_speaks_plain_http_is_named_as_such() {
        let endpoint = plain_http().await;
        for pin in [None, Some("AB".repeat(32))] {
            let mut config = ClientConfig::new(&endpoint, "lab@pve!lab", Secret::new("s3cret"))
                .with_timeout(Duration::from_secs(5));
            if let Some(pin) = pin {
                config = config.with_fingerprint(pin);
            }
            let client = Client::new(config).unwrap();
            let e = client.version().await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Other, "{e}");
            assert!(!e.is_transient());
            assert_eq!(
                e.message,
                format!(
                    "GET /version: {endpoint} answered, but not with TLS: is it an HTTP port? \
                     Proxmox serves HTTPS on 8006"
                )
            );
            assert!(!e.message.contains("s3cret"));
        }
    }

    #[test]
    fn fingerprints_start_their_own_line_in_refusals() {
        let fp = tls::sha256_fingerprint(b"presented");
        let pinned = tls::sha256_fingerprint(b"pinned");
        for refusal in [
            tls::CertRefusal {
                fingerprint: fp.clone(),
                pinned: Some(pinned.clone()),
                reason: "fingerprint does not match the pinned one".into(),
            },
            tls::CertRefusal {
                fingerprint: fp.clone(),
                pinned: None,
                reason: "invalid peer certificate: UnknownIssuer".into(),
            },
        ] {
            let message = super::refusal_message("https://pve1:8006", &refusal, "Proxmox");
            let lines: Vec<&str> = message.lines().collect();
            let holding: Vec<&&str> = lines.iter().filter(|l| l.contains(&fp[..5])).collect();
            assert_eq!(holding.len(), 1, "{message}");
            // On its own line, or after a fixed prefix of 20 columns (so an
            // 80-column terminal wraps it between two pairs).
            assert!(
                *holding[0] == fp || **holding[0] == format!("pin it: fingerprint {fp}"),
                "{message}"
            );
            if let Some(p) = &refusal.pinned {
                assert!(lines.contains(&p.as_str()), "{message}");
            }
        }
    }
}
