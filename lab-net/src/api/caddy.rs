//! The client of Caddy's admin API (plain HTTP, no authentication: keep it
//! on loopback or tunnel to it, as Caddy's docs say).
//!
//! | call | endpoint | notes |
//! |---|---|---|
//! | [`CaddyAdmin::load`] | `POST /load` | replaces the whole config, atomically: a refused document (400) leaves the old one serving |
//! | [`CaddyAdmin::config`] | `GET /config/` | the document and its `ETag` (`"/config/ <fnv1a-32>"`) |
//! | [`CaddyAdmin::root_ca`] | `GET /pki/ca/local` | the local CA's root certificate (PEM) |
//! | [`CaddyAdmin::stop`] | `POST /stop` | Caddy exits |
//!
//! Caddy 2.6.2 sends the `ETag` of `GET /config/` as an HTTP trailer,
//! which HTTP clients rarely surface, so the client computes it as Caddy
//! does (FNV-1a 32 of the body). `POST /load` ignores `If-Match` in 2.6.2
//! (measured), so the ETag is for readers, not a lock.
//!
//! Caddy answers errors with `{"error": "..."}`; a 400 to `/load` is the
//! config's fault (permanent, Caddy's text kept whole: it names the module
//! and the position), a connection failure is transient.

use std::fmt;
use std::time::Duration;

use lab_core::ProviderError;
use serde::Deserialize;

use super::caddy_config::Config;

/// A Caddy admin endpoint.
#[derive(Clone)]
pub struct CaddyAdmin {
    http: reqwest::Client,
    base: String,
}

impl fmt::Debug for CaddyAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaddyAdmin")
            .field("base", &self.base)
            .finish()
    }
}

/// What kind of failure an [`AdminError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminErrorKind {
    /// Caddy refused the request (4xx): the document or the path is wrong.
    Refused,
    /// No answer, or a 5xx: worth retrying.
    Unreachable,
    /// The client could not be built or the answer not read.
    Other,
}

/// A failed admin call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    /// Refused, unreachable or other.
    pub kind: AdminErrorKind,
    /// The HTTP status, when Caddy answered.
    pub status: Option<u16>,
    /// What went wrong (Caddy's own error text when it gave one).
    pub message: String,
}

impl From<AdminError> for ProviderError {
    fn from(e: AdminError) -> Self {
        match e.kind {
            AdminErrorKind::Unreachable => ProviderError::transient(e.message),
            _ => ProviderError::permanent(e.message),
        }
    }
}

/// A config as `GET /config/` returned it. `Debug` shows the ETag only:
/// the document may hold a DNS provider's token.
#[derive(Clone, PartialEq)]
pub struct LiveConfig {
    /// The document (`null` when Caddy has none).
    pub json: serde_json::Value,
    /// Its ETag, `"/config/ 8472a111"`.
    pub etag: String,
}

impl fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveConfig")
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

#[derive(Deserialize)]
struct CaInfo {
    root_certificate: String,
}

/// Caddy's ETag of a `GET /config/` body: `"/config/ <fnv1a-32 hex>"`.
pub fn etag_of(path: &str, body: &[u8]) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in body {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("\"{path} {h:08x}\"")
}

impl CaddyAdmin {
    /// A client of the admin API at `admin` (`host:port`, or a URL
    /// `http://host:port`).
    ///
    /// ```
    /// let admin = lab_net::api::caddy::CaddyAdmin::new("127.0.0.1:2019").unwrap();
    /// assert_eq!(admin.endpoint(), "http://127.0.0.1:2019");
    /// ```
    pub fn new(admin: &str) -> Result<Self, AdminError> {
        let admin = admin.trim().trim_end_matches('/');
        let base = if admin.starts_with("http://") {
            admin.to_string()
        } else if admin.starts_with("https://") || admin.starts_with("unix/") {
            return Err(AdminError {
                kind: AdminErrorKind::Other,
                status: None,
                message: format!(
                    "the Caddy admin address `{admin}` is not plain HTTP: lab drives the \
                     admin API over HTTP on a `host:port` (keep it on loopback and tunnel to it)"
                ),
            });
        } else {
            format!("http://{admin}")
        };
        let other = |e: String| AdminError {
            kind: AdminErrorKind::Other,
            status: None,
            message: e,
        };
        let tls = lab_proxmox::api::tls::client_config(None)
            .map_err(|e| other(format!("TLS setup failed: {e}")))?;
        // No kept-alive connections: Caddy 2.6.2 starts a new admin server
        // on every `/load` (even a refused one) and stops the previous one,
        // so a pooled connection dies under the next request (measured).
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .pool_max_idle_per_host(0)
            .http1_only()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .user_agent("lab-net")
            .build()
            .map_err(|e| other(format!("HTTP client setup failed: {e}")))?;
        Ok(CaddyAdmin { http, base })
    }

    /// `http://host:port`.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    fn unreachable(&self, what: &str, e: reqwest::Error) -> AdminError {
        AdminError {
            kind: AdminErrorKind::Unreachable,
            status: None,
            message: format!(
                "{what}: Caddy's admin API at {} does not answer ({e}); is Caddy running \
                 with its admin endpoint there (`admin` in the code, `CADDY_ADMIN`)?",
                self.base
            ),
        }
    }

    async fn refused(&self, what: &str, resp: reqwest::Response) -> AdminError {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let text = serde_json::from_str::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| body.trim().to_string());
        AdminError {
            kind: if status.is_server_error() {
                AdminErrorKind::Unreachable
            } else {
                AdminErrorKind::Refused
            },
            status: Some(status.as_u16()),
            message: format!("{what}: Caddy at {} answered {status}: {text}", self.base),
        }
    }

    /// `POST /load`: replaces the whole config with `config`.
    pub async fn load(&self, config: &Config) -> Result<(), AdminError> {
        let body = serde_json::to_vec(config).map_err(|e| AdminError {
            kind: AdminErrorKind::Other,
            status: None,
            message: format!("the Caddy config cannot be written as JSON: {e}"),
        })?;
        self.load_raw(body).await
    }

    /// `POST /load` of a document as it is (tests load hand-made ones).
    pub async fn load_raw(&self, body: Vec<u8>) -> Result<(), AdminError> {
        const WHAT: &str = "loading the config";
        let resp = self
            .http
            .post(format!("{}/load", self.base))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(WHAT, e))?;
        if !resp.status().is_success() {
            return Err(self.refused(WHAT, resp).await);
        }
        Ok(())
    }

    /// `GET /config/`: the whole config and its ETag.
    pub async fn config(&self) -> Result<LiveConfig, AdminError> {
        const WHAT: &str = "reading the config";
        let resp = self
            .http
            .get(format!("{}/config/", self.base))
            .send()
            .await
            .map_err(|e| self.unreachable(WHAT, e))?;
        if !resp.status().is_success() {
            return Err(self.refused(WHAT, resp).await);
        }
        let header = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.bytes().await.map_err(|e| self.unreachable(WHAT, e))?;
        let json = serde_json::from_slice(&body).map_err(|e| AdminError {
            kind: AdminErrorKind::Other,
            status: None,
            message: format!("{WHAT}: Caddy at {} sent no JSON: {e}", self.base),
        })?;
        Ok(LiveConfig {
            json,
            etag: header.unwrap_or_else(|| etag_of("/config/", &body)),
        })
    }

    /// `GET /pki/ca/local`: the PEM of the local CA's root certificate.
    pub async fn root_ca(&self) -> Result<String, AdminError> {
        const WHAT: &str = "reading the local CA";
        let resp = self
            .http
            .get(format!("{}/pki/ca/local", self.base))
            .send()
            .await
            .map_err(|e| self.unreachable(WHAT, e))?;
        if !resp.status().is_success() {
            return Err(self.refused(WHAT, resp).await);
        }
        let info: CaInfo = resp.json().await.map_err(|e| AdminError {
            kind: AdminErrorKind::Other,
            status: None,
            message: format!("{WHAT}: unexpected answer from {}: {e}", self.base),
        })?;
        Ok(info.root_certificate)
    }

    /// `POST /stop`: Caddy exits.
    pub async fn stop(&self) -> Result<(), AdminError> {
        const WHAT: &str = "stopping Caddy";
        let resp = self
            .http
            .post(format!("{}/stop", self.base))
            .send()
            .await
            .map_err(|e| self.unreachable(WHAT, e))?;
        if !resp.status().is_success() {
            return Err(self.refused(WHAT, resp).await);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_caddys() {
        // Measured on Caddy 2.6.2: this body came with the trailer
        // `Etag: "/config/ 8472a111"`.
        let body = concat!(
            r#"{"admin":{"listen":"127.0.0.1:22019"},"apps":{"http":{"http_port":28081,"https_p"#,
            r#"ort":28443,"servers":{"lab":{"@id":"lab:home/net.caddy.proxy","automatic_https":"#,
            r#"{"disable_redirects":true},"listen":["127.0.0.1:28443"],"routes":[{"handle":[{"h"#,
            r#"andler":"subroute","routes":[{"handle":[{"handler":"reverse_proxy","headers":{"r"#,
            r#"equest":{"set":{"X-Forwarded-Proto":["https"]}}},"upstreams":[{"dial":"127.0.0.1"#,
            r#":28080"}]}]}]}],"match":[{"host":["a.lab"]}],"terminal":true}]}}},"pki":{"certif"#,
            r#"icate_authorities":{"local":{"install_trust":false}}},"tls":{"automation":{"poli"#,
            r#"cies":[{"issuers":[{"module":"internal"}],"subjects":["a.lab"]}]}}},"storage":{""#,
            r#"module":"file_system","root":"/tmp/cx/data"}}"#,
            "\n"
        );
        assert_eq!(
            etag_of("/config/", body.as_bytes()),
            "\"/config/ 8472a111\""
        );
        assert_eq!(etag_of("/config/", b""), "\"/config/ 811c9dc5\"");
    }

    #[test]
    fn admin_addresses() {
        assert_eq!(
            CaddyAdmin::new("http://10.0.0.2:2019/").unwrap().endpoint(),
            "http://10.0.0.2:2019"
        );
        let e = CaddyAdmin::new("unix//run/caddy.sock").unwrap_err();
        assert!(e.message.contains("plain HTTP"));
    }
}
