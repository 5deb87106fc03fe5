//! The client of Cloudflare's v4 API (`https://api.cloudflare.com/client/v4`),
//! as lab-net's Cloudflare provider uses it: tunnels, DNS records, Access,
//! zones, the token check (cloudflare-api.md §1).
//!
//! - **Auth**: `Authorization: Bearer <token>` (API tokens only; the legacy
//!   e-mail + global key pair is not supported). The token is a
//!   [`Secret`]: it is only ever in the (sensitive) header.
//! - **TLS**: rustls with the platform roots, or exactly one certificate
//!   pinned by its SHA-256 fingerprint (the simulator's), through
//!   lab-proxmox's verifier.
//! - **The envelope**: every answer is `{success, errors, messages,
//!   result, result_info}`. A `success: false` is a failure whatever the
//!   HTTP status says; the error keeps Cloudflare's codes and messages
//!   ([`CloudflareError::code`]), with the `error_chain` some errors carry
//!   (DNS validation: 1004 with 9300 "… tags, exceeding the quota of 0.").
//! - **Failure classes** ([`lab_core::ProviderError`]): 401/403 are
//!   credentials (the run stops and says which permission the token
//!   needs); 429 is transient with the `Retry-After` the API sent; 5xx and
//!   no answer are transient; any other failure is permanent.
//! - **Pagination**: [`CloudflareClient::get_all`] walks `page`/`per_page`
//!   until `page * per_page >= total_count` (or `total_pages`, or an
//!   empty page).
//! - **Rate**: every call first takes a token from the engine's bucket for
//!   the instance ([`OpContext::throttle`]; the provider declares 1,200
//!   requests per 5 minutes).

use std::fmt;
use std::time::Duration;

use lab_core::{OpContext, ProviderError, Secret};
use reqwest::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER};
use serde_json::Value;

/// Cloudflare's API base URL.
pub const API_BASE: &str = "https://api.cloudflare.com/client/v4";

/// The page size lists are read with (the most every list endpoint lab-net
/// uses accepts; DNS allows more).
pub const PAGE_SIZE: u64 = 50;

/// Where the API is and how its certificate is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The base URL (`https://api.cloudflare.com/client/v4`).
    pub base_url: String,
    /// The SHA-256 fingerprint (`AA:BB:...`) of the one certificate to
    /// trust, for a simulator; `None`: the platform's roots.
    pub fingerprint: Option<String>,
}

impl Endpoint {
    /// Cloudflare's API, trusted through the platform's roots.
    pub fn cloudflare() -> Self {
        Endpoint {
            base_url: API_BASE.to_string(),
            fingerprint: None,
        }
    }
}

/// What kind of failure a [`CloudflareError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloudflareErrorKind {
    /// The API refused the request (4xx other than the ones below, or
    /// `success: false`): retrying the same call cannot help.
    Refused,
    /// The token is missing, wrong or lacks a permission (401, 403).
    Auth,
    /// Too many requests (429): wait `retry_after`.
    RateLimited,
    /// No answer, or a 5xx.
    Unavailable,
    /// The client could not be built, or the answer was not the envelope.
    Other,
}

/// One `{code, message}` of the envelope's `errors`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiMessage {
    /// Cloudflare's error code (`1013`, `81053`, ...).
    pub code: u64,
    /// Its message.
    pub message: String,
    /// Its `error_chain`: the reasons under it.
    pub chain: Vec<ApiMessage>,
}

impl ApiMessage {
    fn from_json(e: &Value) -> ApiMessage {
        ApiMessage {
            code: e.get("code").and_then(Value::as_u64).unwrap_or(0),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            chain: e
                .get("error_chain")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(ApiMessage::from_json)
                .collect(),
        }
    }
}

impl fmt::Display for ApiMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {}: {}", self.code, self.message)?;
        if !self.chain.is_empty() {
            let reasons: Vec<String> = self
                .chain
                .iter()
                .map(|c| format!("{}: {}", c.code, c.message))
                .collect();
            write!(f, " ({})", reasons.join("; "))?;
        }
        Ok(())
    }
}

/// A failed call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CloudflareError {
    /// Which kind of failure.
    pub kind: CloudflareErrorKind,
    /// The HTTP status, when the API answered.
    pub status: Option<u16>,
    /// The envelope's errors, when it sent some.
    pub errors: Vec<ApiMessage>,
    /// The `Retry-After` of a 429.
    pub retry_after: Option<Duration>,
    /// The whole story: the call, the status, Cloudflare's codes and
    /// messages, what to do.
    pub message: String,
}

impl CloudflareError {
    /// The first Cloudflare error code, if the API sent one.
    pub fn code(&self) -> Option<u64> {
        self.errors.first().map(|e| e.code)
    }

    /// Every code the API sent, the error chains' included.
    pub fn codes(&self) -> Vec<u64> {
        fn walk(m: &ApiMessage, out: &mut Vec<u64>) {
            out.push(m.code);
            for c in &m.chain {
                walk(c, out);
            }
        }
        let mut out = Vec::new();
        for e in &self.errors {
            walk(e, &mut out);
        }
        out
    }

    /// True if the API said the object does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    fn other(message: impl Into<String>) -> Self {
        CloudflareError {
            kind: CloudflareErrorKind::Other,
            status: None,
            errors: Vec::new(),
            retry_after: None,
            message: message.into(),
        }
    }
}

impl From<CloudflareError> for ProviderError {
    fn from(e: CloudflareError) -> Self {
        match e.kind {
            CloudflareErrorKind::RateLimited => {
                let err = ProviderError::transient(e.message);
                match e.retry_after {
                    Some(wait) => err.retry_after(wait),
                    None => err,
                }
            }
            CloudflareErrorKind::Unavailable => ProviderError::transient(e.message),
            CloudflareErrorKind::Auth => ProviderError::auth(e.message),
            CloudflareErrorKind::Refused | CloudflareErrorKind::Other => {
                ProviderError::permanent(e.message)
            }
        }
    }
}

/// A successful answer: `result` and, for lists, `result_info`.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The envelope's `result`.
    pub result: Value,
    /// The envelope's `result_info`, if any.
    pub result_info: Option<Value>,
}

/// A client of one account's API access (one token).
#[derive(Clone)]
pub struct CloudflareClient {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
}

impl fmt::Debug for CloudflareClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudflareClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl CloudflareClient {
    /// A client of the API at `endpoint` with `token`. Makes no request.
    ///
    /// ```
    /// use lab_core::Secret;
    /// use lab_net::api::cloudflare::{CloudflareClient, Endpoint};
    /// let client = CloudflareClient::new(&Endpoint::cloudflare(), &Secret::new("t0ken")).unwrap();
    /// assert_eq!(client.base_url(), "https://api.cloudflare.com/client/v4");
    /// assert!(!format!("{client:?}").contains("t0ken"));
    /// ```
    pub fn new(endpoint: &Endpoint, token: &Secret) -> Result<Self, CloudflareError> {
        let base = endpoint.base_url.trim().trim_end_matches('/').to_string();
        if !base.starts_with("https://") {
            return Err(CloudflareError::other(format!(
                "the Cloudflare API address `{base}` is not https:// (write {API_BASE}, or the simulator's URL)"
            )));
        }
        let pin = match &endpoint.fingerprint {
            None => None,
            Some(fp) => Some(lab_proxmox::api::tls::parse_fingerprint(fp).ok_or_else(|| {
                CloudflareError::other(format!(
                    "the certificate fingerprint must be a SHA-256 fingerprint like AA:BB:...:FF (got {fp:?})"
                ))
            })?),
        };
        let token = token.expose().trim();
        if token.is_empty() {
            return Err(CloudflareError::other(
                "the Cloudflare API token is empty: give the account's `api_token` a token \
                 (My Profile > API Tokens)",
            ));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            CloudflareError::other(
                "the Cloudflare API token holds characters an HTTP header cannot carry; copy it again",
            )
        })?;
        auth.set_sensitive(true);
        let tls = lab_proxmox::api::tls::client_config(pin)
            .map_err(|e| CloudflareError::other(format!("TLS setup failed: {e}")))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(15))
            .user_agent("lab-net")
            .build()
            .map_err(|e| CloudflareError::other(format!("HTTP client setup failed: {e}")))?;
        Ok(CloudflareClient { http, base, auth })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET path?query`: the result.
    pub async fn get(
        &self,
        ctx: &OpContext,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, CloudflareError> {
        Ok(self
            .call(ctx, reqwest::Method::GET, path, query, None)
            .await?
            .result)
    }

    /// `GET path?query` over every page (`page`, `per_page` =
    /// [`PAGE_SIZE`]): all the items.
    pub async fn get_all(
        &self,
        ctx: &OpContext,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, CloudflareError> {
        self.pages(ctx, path, query, true).await
    }

    /// `GET path?query` for a list whose endpoint takes no paging
    /// parameters (Access apps, policies, groups in the 2024 schema): the
    /// first answer as it comes, and further pages (`page=N`) only if its
    /// `result_info` says there are more.
    pub async fn get_list(
        &self,
        ctx: &OpContext,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, CloudflareError> {
        self.pages(ctx, path, query, false).await
    }

    async fn pages(
        &self,
        ctx: &OpContext,
        path: &str,
        query: &[(&str, &str)],
        sized: bool,
    ) -> Result<Vec<Value>, CloudflareError> {
        let mut items = Vec::new();
        let per_page = PAGE_SIZE.to_string();
        for page in 1u64.. {
            let page_text = page.to_string();
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if sized || page > 1 {
                q.push(("page", &page_text));
            }
            if sized {
                q.push(("per_page", &per_page));
            }
            let answer = self.call(ctx, reqwest::Method::GET, path, &q, None).await?;
            let Value::Array(got) = answer.result else {
                return Err(CloudflareError::other(format!(
                    "GET {path}: the API answered something other than a list"
                )));
            };
            let count = got.len() as u64;
            items.extend(got);
            let info = answer.result_info.unwrap_or(Value::Null);
            let n = |k: &str| info.get(k).and_then(Value::as_u64);
            let size = n("per_page").unwrap_or(if sized { PAGE_SIZE } else { count });
            let done = count == 0
                || n("total_pages").is_some_and(|t| page >= t)
                || n("total_count").is_some_and(|t| page.saturating_mul(size) >= t)
                || (n("total_pages").is_none()
                    && n("total_count").is_none()
                    && (count < size || !sized));
            if done {
                break;
            }
        }
        Ok(items)
    }

    /// `POST path` with a JSON body: the result.
    pub async fn post(
        &self,
        ctx: &OpContext,
        path: &str,
        body: &Value,
    ) -> Result<Value, CloudflareError> {
        Ok(self
            .call(ctx, reqwest::Method::POST, path, &[], Some(body))
            .await?
            .result)
    }

    /// `PUT path` with a JSON body: the result.
    pub async fn put(
        &self,
        ctx: &OpContext,
        path: &str,
        body: &Value,
    ) -> Result<Value, CloudflareError> {
        Ok(self
            .call(ctx, reqwest::Method::PUT, path, &[], Some(body))
            .await?
            .result)
    }

    /// `PATCH path` with a JSON body: the result.
    pub async fn patch(
        &self,
        ctx: &OpContext,
        path: &str,
        body: &Value,
    ) -> Result<Value, CloudflareError> {
        Ok(self
            .call(ctx, reqwest::Method::PATCH, path, &[], Some(body))
            .await?
            .result)
    }

    /// `DELETE path?query`: the result.
    pub async fn delete(
        &self,
        ctx: &OpContext,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, CloudflareError> {
        Ok(self
            .call(ctx, reqwest::Method::DELETE, path, query, None)
            .await?
            .result)
    }

    /// `GET /user/tokens/verify`: fails unless the token is valid and
    /// `active`.
    pub async fn verify_token(&self, ctx: &OpContext) -> Result<(), CloudflareError> {
        let result = self.get(ctx, "/user/tokens/verify", &[]).await?;
        match result.get("status").and_then(Value::as_str) {
            Some("active") => Ok(()),
            other => Err(CloudflareError {
                kind: CloudflareErrorKind::Auth,
                status: Some(200),
                errors: Vec::new(),
                retry_after: None,
                message: format!(
                    "the Cloudflare API token is {} (not active): make a new one under \
                     My Profile > API Tokens and put it in the account's `api_token`",
                    other.unwrap_or("in an unknown state")
                ),
            }),
        }
    }

    /// One request: throttled, sent, and its envelope checked.
    pub async fn call(
        &self,
        ctx: &OpContext,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, CloudflareError> {
        let mut url = format!("{}{path}", self.base);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&lab_proxmox::api::percent_encode(k));
            url.push('=');
            url.push_str(&lab_proxmox::api::percent_encode(v));
        }
        let what = format!("{method} {path}");
        ctx.throttle().await;
        let mut request = self
            .http
            .request(method, &url)
            .header(AUTHORIZATION, self.auth.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| CloudflareError {
            kind: CloudflareErrorKind::Unavailable,
            status: None,
            errors: Vec::new(),
            retry_after: None,
            message: format!(
                "{what}: the Cloudflare API at {} does not answer ({e})",
                self.base
            ),
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|e| CloudflareError {
            kind: CloudflareErrorKind::Unavailable,
            status: Some(status),
            errors: Vec::new(),
            retry_after: None,
            message: format!("{what}: the answer was cut off ({e})"),
        })?;
        envelope(&what, status, retry_after, &bytes)
    }
}

/// Reads the v4 envelope of an answer with HTTP `status`.
fn envelope(
    what: &str,
    status: u16,
    retry_after: Option<Duration>,
    bytes: &[u8],
) -> Result<Answer, CloudflareError> {
    let body: Option<Value> = serde_json::from_slice(bytes).ok();
    let success = body
        .as_ref()
        .and_then(|b| b.get("success"))
        .and_then(Value::as_bool);
    let errors: Vec<ApiMessage> = body
        .as_ref()
        .and_then(|b| b.get("errors"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(ApiMessage::from_json)
        .collect();
    if (200..300).contains(&status) && success == Some(true) && errors.is_empty() {
        let body = body.unwrap_or(Value::Null);
        return Ok(Answer {
            result: body.get("result").cloned().unwrap_or(Value::Null),
            result_info: body.get("result_info").cloned(),
        });
    }
    let kind = match status {
        401 | 403 => CloudflareErrorKind::Auth,
        429 => CloudflareErrorKind::RateLimited,
        500..=599 => CloudflareErrorKind::Unavailable,
        200..=299 if body.is_none() || success.is_none() => CloudflareErrorKind::Other,
        _ => CloudflareErrorKind::Refused,
    };
    let said = if errors.is_empty() {
        match &body {
            Some(_) => "no error detail".to_string(),
            None => format!(
                "not the API's JSON envelope: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).trim()
            ),
        }
    } else {
        errors
            .iter()
            .map(ApiMessage::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let hint = match kind {
        CloudflareErrorKind::Auth => {
            " (the account's `api_token` must be valid and reach the account with \
             Account > Cloudflare Tunnel > Edit, Access: Apps and Policies > Edit, \
             Zone > DNS > Edit and Zone > Zone > Read)"
        }
        CloudflareErrorKind::RateLimited => {
            " (the account's rate limit: 1,200 requests per 5 minutes)"
        }
        _ => "",
    };
    let wait = retry_after
        .filter(|_| kind == CloudflareErrorKind::RateLimited)
        .map(|d| format!(", retry after {}s", d.as_secs()))
        .unwrap_or_default();
    Err(CloudflareError {
        kind,
        status: Some(status),
        errors,
        retry_after: retry_after.filter(|_| kind == CloudflareErrorKind::RateLimited),
        message: format!("{what}: Cloudflare answered {status}: {said}{wait}{hint}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<Answer, CloudflareError> {
        envelope(
            "GET /x",
            status,
            Some(Duration::from_secs(7)),
            body.as_bytes(),
        )
    }

    #[test]
    fn success_false_is_a_failure_even_with_200() {
        let e = answer(
            200,
            r#"{"success":false,"errors":[{"code":1013,"message":"dup"}],"messages":[],"result":null}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, CloudflareErrorKind::Refused);
        assert_eq!(e.code(), Some(1013));
        assert!(e.message.contains("error 1013: dup"), "{}", e.message);
    }

    #[test]
    fn error_chains_are_kept() {
        let e = answer(
            400,
            r#"{"success":false,"errors":[{"code":1004,"message":"DNS Validation Error",
                "error_chain":[{"code":9300,"message":"DNS record has 1 tags, exceeding the quota of 0."}]}],
                "messages":[],"result":null}"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), Some(1004));
        assert_eq!(e.codes(), vec![1004, 9300]);
        assert!(
            e.message.contains(
                "error 1004: DNS Validation Error (9300: DNS record has 1 tags, exceeding the quota of 0.)"
            ),
            "{}",
            e.message
        );
    }

    #[test]
    fn statuses_map_to_classes() {
        let body =
            r#"{"success":false,"errors":[{"code":971,"message":"slow down"}],"result":null}"#;
        let e = answer(429, body).unwrap_err();
        let p = ProviderError::from(e);
        assert!(p.is_transient());
        assert_eq!(p.retry_after, Some(Duration::from_secs(7)));
        assert!(ProviderError::from(answer(401, body).unwrap_err()).is_auth());
        assert!(ProviderError::from(answer(403, body).unwrap_err()).is_auth());
        assert!(ProviderError::from(answer(502, "bad gateway").unwrap_err()).is_transient());
        let refused = ProviderError::from(answer(400, body).unwrap_err());
        assert!(!refused.is_transient() && !refused.is_auth());
        // Retry-After only counts on a 429.
        assert_eq!(answer(400, body).unwrap_err().retry_after, None);
    }

    #[test]
    fn success_gives_the_result_and_info() {
        let a = answer(
            200,
            r#"{"success":true,"errors":[],"messages":[],"result":[1],"result_info":{"page":1}}"#,
        )
        .unwrap();
        assert_eq!(a.result, serde_json::json!([1]));
        assert_eq!(a.result_info.unwrap()["page"], 1);
    }

    #[test]
    fn non_https_and_empty_tokens_are_refused() {
        let e = CloudflareClient::new(
            &Endpoint {
                base_url: "http://x".into(),
                fingerprint: None,
            },
            &Secret::new("t"),
        )
        .unwrap_err();
        assert!(e.message.contains("https"));
        let e = CloudflareClient::new(&Endpoint::cloudflare(), &Secret::new(" ")).unwrap_err();
        assert!(e.message.contains("empty"));
    }
}
