//! The Image Factory client: registers a schematic (`POST /schematics`)
//! and reads one back (`GET /schematics/<id>`), over HTTPS with reqwest.
//!
//! Schematic ids are computed offline ([`Schematic::id`]); registering only
//! tells the factory about a schematic it has not seen, so it can build its
//! images. The answer must carry the id lab computed
//! ([`Schematic::parse_registration_response`]): a different one means the
//! factory's canonical form changed and every offline URL is suspect, which
//! is an error, never silently accepted.
//!
//! ## Trust
//!
//! The factory is a public, CA-signed service: its certificate is checked
//! against the platform's roots (`rustls-platform-verifier`, the ring
//! provider, as lab-proxmox does for CA-signed nodes), plus any root given
//! with [`FactoryClient::with_root_pem`] (a self-hosted factory with a
//! private CA, or the simulator's self-signed certificate). Nothing is ever
//! accepted unverified.
//!
//! ## Errors
//!
//! Failures are [`ApiError`]s whose kind decides retrying: no connection is
//! [`ErrorKind::Unreachable`], no answer in time
//! [`ErrorKind::DeadlineExceeded`], a `5xx` or `429`
//! [`ErrorKind::Unavailable`] (all transient); a rejected schematic (`400`)
//! is [`ErrorKind::InvalidArgument`] with the factory's own message,
//! `401`/`403` [`ErrorKind::PermissionDenied`], a certificate problem
//! [`ErrorKind::Tls`], and any other answer (a redirect, `404` from
//! something that is not a factory, an id that differs from lab's)
//! [`ErrorKind::Other`]; none of those are retried. Messages never contain
//! the schematic body (it may embed a machine configuration).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::StatusCode;

use super::{ApiError, ErrorKind};
use crate::factory::{ImageFactory, Schematic};

/// How long one request to the factory may take, connection included,
/// unless changed with [`FactoryClient::with_timeout`].
pub const FACTORY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting (TCP and TLS handshake) to the factory may take.
pub const FACTORY_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an error answer's body goes into an error message.
const MAX_MESSAGE: usize = 500;

/// A client for one Image Factory (see the [module docs](self)). Cheap to
/// clone; [`FactoryClient::at`] reuses the connection pool and trust for
/// another base URL.
///
/// ```no_run
/// # async fn demo() -> Result<(), lab_talos::api::ApiError> {
/// use lab_talos::api::FactoryClient;
/// use lab_talos::factory::{Schematic, QEMU_GUEST_AGENT};
/// let client = FactoryClient::official()?;
/// let id = client.register(&Schematic::new().extension(QEMU_GUEST_AGENT)).await?;
/// assert_eq!(id.len(), 64);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FactoryClient {
    factory: ImageFactory,
    http: reqwest::Client,
    timeout: Duration,
    extra_roots: usize,
}

impl fmt::Debug for FactoryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FactoryClient")
            .field("factory", &self.factory.base_url())
            .field("timeout", &self.timeout)
            .field("extra_roots", &self.extra_roots)
            .finish()
    }
}

impl FactoryClient {
    /// A client for `factory`, trusting the platform's root certificates.
    /// Fails only if the TLS setup does (no root certificates on this
    /// system, for instance).
    pub fn new(factory: ImageFactory) -> Result<FactoryClient, ApiError> {
        Self::build(factory, Vec::new())
    }

    /// A client for the official factory, <https://factory.talos.dev>.
    pub fn official() -> Result<FactoryClient, ApiError> {
        Self::new(ImageFactory::official())
    }

    /// A client for `factory` that also trusts the certificates in
    /// `root_pem` (one or more `-----BEGIN CERTIFICATE-----` blocks): a
    /// self-hosted factory's private CA, or a simulator's self-signed
    /// certificate (`FactorySim::cert_pem`, feature `sim`).
    pub fn with_root_pem(factory: ImageFactory, root_pem: &str) -> Result<FactoryClient, ApiError> {
        let roots = super::tls::certs_from_pem(root_pem, "the extra factory root certificate")?;
        Self::build(factory, roots)
    }

    fn build(
        factory: ImageFactory,
        roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    ) -> Result<FactoryClient, ApiError> {
        let extra_roots = roots.len();
        let provider = super::tls::provider();
        let verifier = if roots.is_empty() {
            rustls_platform_verifier::Verifier::new(provider.clone())
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
        }
        .map_err(|e| {
            ApiError::new(
                ErrorKind::Tls,
                format!("cannot load root certificates to verify the Image Factory: {e}"),
            )
        })?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ApiError::new(ErrorKind::Tls, format!("TLS setup failed: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .connect_timeout(FACTORY_CONNECT_TIMEOUT)
            // A redirected POST turns into a GET; say where it pointed instead.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lab-talos/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ApiError::new(ErrorKind::Other, format!("HTTP client setup failed: {e}"))
            })?;
        Ok(FactoryClient {
            factory,
            http,
            timeout: FACTORY_TIMEOUT,
            extra_roots,
        })
    }

    /// The same client (connection pool, trusted roots, timeout) for
    /// another factory base URL.
    pub fn at(&self, factory: ImageFactory) -> FactoryClient {
        FactoryClient {
            factory,
            ..self.clone()
        }
    }

    /// The same client with another per-request timeout (default
    /// [`FACTORY_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> FactoryClient {
        self.timeout = timeout;
        self
    }

    /// The factory this client talks to.
    pub fn factory(&self) -> &ImageFactory {
        &self.factory
    }

    /// Registers `schematic`: `POST /schematics` with its canonical YAML,
    /// and returns the id the factory answered, which is checked to be
    /// [`Schematic::id`]. Idempotent: the factory keeps one copy per id
    /// and answers the same for a schematic it already has.
    pub async fn register(&self, schematic: &Schematic) -> Result<String, ApiError> {
        let request = schematic.registration_request();
        let doing = format!(
            "registering schematic {} with the Image Factory at {}",
            schematic.id(),
            self.factory.base_url()
        );
        let answer = self
            .post_schematic(&doing, request.content_type, request.body)
            .await?;
        schematic
            .parse_registration_response(&answer)
            .map_err(|e| ApiError::new(ErrorKind::Other, format!("{doing}: {e}")))
    }

    /// Registers a schematic written by hand (YAML or JSON), posted as it
    /// is: the factory decides whether it is valid (a refusal is
    /// [`ErrorKind::InvalidArgument`] with its message). Returns the id it
    /// answered; when lab can read the schematic ([`Schematic::from_yaml`])
    /// that id is checked against the offline one too.
    pub async fn register_yaml(&self, yaml: &str) -> Result<String, ApiError> {
        let doing = format!(
            "registering a schematic with the Image Factory at {}",
            self.factory.base_url()
        );
        let answer = self
            .post_schematic(&doing, "application/yaml", yaml.to_string())
            .await?;
        let bad = |e: crate::factory::FactoryError| {
            ApiError::new(ErrorKind::Other, format!("{doing}: {e}"))
        };
        match Schematic::from_yaml(yaml) {
            Ok(schematic) => schematic.parse_registration_response(&answer).map_err(bad),
            Err(_) => {
                let value: serde_json::Value = serde_json::from_str(&answer).map_err(|e| {
                    bad(crate::factory::FactoryError::InvalidResponse(format!(
                        "not JSON: {e}"
                    )))
                })?;
                match value.get("id").and_then(serde_json::Value::as_str) {
                    Some(id)
                        if id.len() == 64
                            && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
                    {
                        Ok(id.to_string())
                    }
                    _ => Err(bad(crate::factory::FactoryError::InvalidResponse(
                        "no lowercase hex SHA-256 `id` field".into(),
                    ))),
                }
            }
        }
    }

    /// `POST /schematics` with `body`; the answer's text on success.
    async fn post_schematic(
        &self,
        doing: &str,
        content_type: &'static str,
        body: String,
    ) -> Result<String, ApiError> {
        let response = self
            .http
            .post(self.factory.schematics_url())
            .timeout(self.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(doing, &e))?;
        let status = response.status();
        let location = location(&response);
        let answer = response
            .text()
            .await
            .map_err(|e| self.transport_error(doing, &e))?;
        if status.is_success() {
            Ok(answer)
        } else {
            Err(status_error(doing, status, &answer, location))
        }
    }

    /// The canonical YAML the factory stores under `id`
    /// (`GET /schematics/<id>`), or `None` if it has no such schematic.
    pub async fn schematic(&self, id: &str) -> Result<Option<String>, ApiError> {
        let doing = format!(
            "reading schematic {id} from the Image Factory at {}",
            self.factory.base_url()
        );
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ApiError::new(
                ErrorKind::InvalidArgument,
                format!("{doing}: not a schematic id"),
            ));
        }
        let response = self
            .http
            .get(self.factory.schematic_url(id))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.transport_error(&doing, &e))?;
        let status = response.status();
        let location = location(&response);
        let body = response
            .text()
            .await
            .map_err(|e| self.transport_error(&doing, &e))?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(body)),
            s => Err(status_error(&doing, s, &body, location)),
        }
    }

    /// Maps a reqwest error (connect, TLS, timeout, body) to an [`ApiError`].
    fn transport_error(&self, doing: &str, e: &reqwest::Error) -> ApiError {
        if let Some(tls) = tls_cause(e) {
            return ApiError::new(
                ErrorKind::Tls,
                format!(
                    "{doing}: the factory's certificate is not trusted ({tls}); a self-hosted \
                     factory with a private CA needs its root certificate \
                     (FactoryClient::with_root_pem)"
                ),
            );
        }
        let detail = chain(e);
        if e.is_timeout() {
            ApiError::new(
                ErrorKind::DeadlineExceeded,
                format!("{doing}: no answer within {:?} ({detail})", self.timeout),
            )
        } else if e.is_builder() {
            ApiError::new(
                ErrorKind::Other,
                format!("{doing}: invalid request: {detail}"),
            )
        } else {
            // Connect failures, resets, a body cut short: the factory (or
            // the way to it) is down for now.
            ApiError::new(ErrorKind::Unreachable, format!("{doing}: {detail}"))
        }
    }
}

fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The error for an answer that is not a success.
fn status_error(doing: &str, status: StatusCode, body: &str, location: Option<String>) -> ApiError {
    let said = message_of(body);
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    let (kind, hint) = match status.as_u16() {
        400 | 422 => (
            ErrorKind::InvalidArgument,
            " (the factory refused the schematic)".to_string(),
        ),
        401 | 403 => (
            ErrorKind::PermissionDenied,
            " (this factory requires authentication)".to_string(),
        ),
        429 => (ErrorKind::Unavailable, " (rate limited)".to_string()),
        300..=399 => (
            ErrorKind::Other,
            match location {
                Some(to) => format!(" (redirected to {to}: use that as the factory base URL)"),
                None => " (redirected)".to_string(),
            },
        ),
        404 | 405 => (
            ErrorKind::Other,
            " (is the base URL an Image Factory?)".to_string(),
        ),
        500..=599 => (ErrorKind::Unavailable, String::new()),
        _ => (ErrorKind::Other, String::new()),
    };
    ApiError::new(kind, format!("{doing}: HTTP {status}{hint}{said}"))
}

/// The text of an error answer on one line, shortened.
fn message_of(body: &str) -> String {
    let text = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > MAX_MESSAGE {
        let cut: String = text.chars().take(MAX_MESSAGE).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The rustls error in an error chain, if any (reqwest wraps hyper, which
/// wraps an `io::Error` wrapping rustls's error; `io::Error::source` skips
/// its payload, so payloads are inspected explicitly).
fn tls_cause(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = cur {
        depth += 1;
        if depth > 32 {
            break;
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(found) = tls_cause(inner) {
                return Some(found);
            }
        }
        cur = e.source();
    }
    None
}

/// `outer: cause: cause`, skipping causes the text already contains.
fn chain(e: &(dyn StdError + 'static)) -> String {
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
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        let kind =
            |code: u16| status_error("x", StatusCode::from_u16(code).unwrap(), "", None).kind;
        assert_eq!(kind(400), ErrorKind::InvalidArgument);
        assert_eq!(kind(403), ErrorKind::PermissionDenied);
        assert_eq!(kind(404), ErrorKind::Other);
        assert_eq!(kind(429), ErrorKind::Unavailable);
        assert_eq!(kind(500), ErrorKind::Unavailable);
        assert_eq!(kind(503), ErrorKind::Unavailable);
        assert_eq!(kind(302), ErrorKind::Other);
        assert!(!ApiError::new(kind(400), "").is_transient());
        assert!(ApiError::new(kind(503), "").is_transient());
    }

    #[test]
    fn the_factorys_message_is_kept_on_one_line() {
        let e = status_error(
            "registering",
            StatusCode::BAD_REQUEST,
            "yaml: unmarshal errors:\n  line 2: field foo not found in type schematic.Customization\n",
            None,
        );
        assert_eq!(
            e.message,
            "registering: HTTP 400 Bad Request (the factory refused the schematic): yaml: \
             unmarshal errors: line 2: field foo not found in type schematic.Customization"
        );
        let long = "x".repeat(2 * MAX_MESSAGE);
        assert!(message_of(&long).chars().count() <= MAX_MESSAGE + 1);
        let e = status_error(
            "registering",
            StatusCode::MOVED_PERMANENTLY,
            "",
            Some("https://factory.example/".into()),
        );
        assert!(
            e.message.contains("redirected to https://factory.example/"),
            "{e}"
        );
    }

    #[test]
    fn a_root_that_is_not_pem_is_refused() {
        let e = FactoryClient::with_root_pem(ImageFactory::official(), "not pem").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Tls);
    }
}
