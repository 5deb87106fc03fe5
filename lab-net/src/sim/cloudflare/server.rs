//! The HTTPS front end and the request pipeline, in the order the API
//! answers:
//!
//! 1. outside `/client/v4`: 400/7003 "No route for the URI";
//! 2. authentication: `Authorization: Bearer <token>`; a missing, malformed
//!    or unknown token is 401 with code 1001 (cloudflare-api.md §1:
//!    terraform-provider-cloudflare#7279);
//! 3. the rate limit (1,200 requests per 5 minutes by default): 429 with
//!    code 971 and `Retry-After: <seconds>` (the seconds until the oldest
//!    request in the window leaves it);
//! 4. routing on the OpenAPI subset: an unknown path is 400/7003 "No route
//!    for the URI", a known path with another method 405/7001;
//! 5. the query and the body against the schema: 400/1004 `Invalid
//!    request: <where>: <why>`;
//! 6. the handler. Every answer, failures included, is the v4 envelope,
//!    and every request is logged with the endpoint it matched.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request as HttpRequest, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::envelope::{failure_body, success_body, Answer, ApiError};
use super::schema::{api, query_pairs, Route};
use super::{access, dns, tunnels, zones, RecordedRequest, Request, Shared};

const MAX_RECORDED: usize = 200_000;
const PREFIX: &str = "/client/v4";
/// The rate limit's error code.
pub(crate) const RATE_LIMITED: u32 = 971;
/// An invalid request body or query.
pub(crate) const INVALID_REQUEST: u32 = 1004;
/// An unknown, malformed or missing token.
pub(crate) const NOT_AUTHENTICATED: u32 = 1001;

/// Serves HTTPS on `listener` until `shutdown` flips (lab-proxmox's accept
/// loop, with this simulator's routes).
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let app = Router::new().fallback(handle).with_state(shared);
    lab_proxmox::sim::serve_https(listener, acceptor, app, shutdown).await;
}

/// What the pipeline decided: the answer, the endpoint it matched, and a
/// `Retry-After` for a 429.
struct Outcome {
    answer: Answer,
    endpoint: Option<String>,
    retry_after: Option<u64>,
}

async fn handle(State(shared): State<Arc<Shared>>, req: HttpRequest) -> Response<Body> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let headers = req.headers().clone();
    let body: Bytes = axum::body::to_bytes(req.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let rel = path
        .strip_prefix(PREFIX)
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .unwrap_or("")
        .to_string();
    let outcome = process(&shared, &method, &path, &headers, &query, &body);
    let (status, json, code) = match &outcome.answer {
        Ok(s) => (s.status, success_body(s), None),
        Err(e) => (e.status, failure_body(e), Some(e.code)),
    };
    {
        let mut log = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= MAX_RECORDED {
            log.drain(..MAX_RECORDED / 2);
        }
        log.push(RecordedRequest {
            method,
            path: if rel.is_empty() { path } else { rel },
            endpoint: outcome.endpoint,
            status,
            error_code: code,
        });
    }
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&json).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(Body::empty()));
    if let Some(secs) = outcome.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

fn fail(e: ApiError) -> Outcome {
    Outcome {
        answer: Err(e),
        endpoint: None,
        retry_after: None,
    }
}

/// The bearer token must be the simulator's.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = || ApiError::new(401, NOT_AUTHENTICATED, "Unable to authenticate request");
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let token = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(refuse)?;
    if token.is_empty() || token != shared.token.expose() {
        return Err(refuse());
    }
    Ok(())
}

fn process(
    shared: &Shared,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    raw_query: &str,
    body: &[u8],
) -> Outcome {
    let Some(rel) = path
        .strip_prefix(PREFIX)
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return fail(ApiError::no_route());
    };
    if let Err(e) = authenticate(shared, headers) {
        return fail(e);
    }
    let admitted = shared
        .rate
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .admit(Instant::now());
    if let Err(wait) = admitted {
        return Outcome {
            answer: Err(ApiError::new(
                429,
                RATE_LIMITED,
                "Please wait and consider throttling your request speed",
            )),
            endpoint: None,
            retry_after: Some(wait),
        };
    }
    let (op, params) = match api().route(method, rel) {
        Route::Found(op, params) => (op, params),
        Route::WrongMethod => {
            return fail(ApiError::new(
                405,
                7001,
                format!("Method {method} not available for that URI."),
            ))
        }
        Route::Unknown => return fail(ApiError::no_route()),
    };
    let endpoint = Some(op.template.clone());
    let query = query_pairs(raw_query);
    let invalid = |why: String| Outcome {
        answer: Err(ApiError::new(
            400,
            INVALID_REQUEST,
            format!("Invalid request: {why}"),
        )),
        endpoint: endpoint.clone(),
        retry_after: None,
    };
    if let Err(why) = op.validate_query(&query) {
        return invalid(why);
    }
    let body = match op.validate_body(body) {
        Ok(b) => b,
        Err(why) => return invalid(why),
    };
    let request = Request {
        method,
        path: rel,
        template: &op.template,
        params: &params,
        query: &query,
        body,
    };
    let answer = if op.template.starts_with("/accounts/{account_id}/cfd_tunnel") {
        tunnels::dispatch(shared, &request)
    } else if op.template.starts_with("/accounts/{account_id}/access/") {
        access::dispatch(shared, &request)
    } else if op.template.starts_with("/zones/{zone_id}/dns_records") {
        dns::dispatch(shared, &request)
    } else {
        zones::dispatch(shared, &request)
    };
    Outcome {
        answer,
        endpoint,
        retry_after: None,
    }
}
