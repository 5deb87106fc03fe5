//! The HTTPS front end and the request pipeline, as proxmox-rest-server
//! runs it (`rest.rs handle_request`, `formatter.rs`):
//!
//! 1. count and record the request; injected faults and latency;
//! 2. outside `/api2/json`: the contract's `/sim/backup` (same auth);
//!    anything else 404 `Path '<path>' not found.`;
//! 3. authenticate `Authorization: PBSAPIToken=<user@realm!name>:<secret>`
//!    (a space may replace the `=`; split at the first `:`; the secret
//!    percent-decoded). Failures wait `auth_failure_delay` and answer 401
//!    `authentication failed - <why>`;
//! 4. parameters: the query, plus the form or JSON body on POST/PUT;
//! 5. validation against the PBS apidoc: an unknown path or method is 404
//!    `Path '/api2/json/<path>' not found.`, bad parameters 400
//!    `parameter verification errors` with a line per parameter;
//! 6. dispatch; success is `{"data": ...}` (+ `total`), errors plain text.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::rest::{Params, PbsError};
use super::{access, backups, datastores, jobs, tasks, RecordedRequest, Shared};

const MAX_RECORDED: usize = 200_000;

/// Serves HTTPS on `listener` until `shutdown` flips (lab-proxmox's
/// accept loop, with this simulator's routes).
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let app = Router::new().fallback(handle).with_state(shared);
    lab_proxmox::sim::serve_https(listener, acceptor, app, shutdown).await;
}

/// A success: `{"data": data}` plus `total` when set.
fn ok(data: Value, total: Option<u64>) -> (u16, Response<Body>) {
    let mut body = json!({ "data": data });
    if let Some(t) = total {
        body["total"] = t.into();
    }
    (
        200,
        respond(200, serde_json::to_vec(&body).unwrap_or_default()),
    )
}

/// An error: the text as the body, under PBS's JSON content type.
fn fail(e: PbsError) -> (u16, Response<Body>) {
    (e.status, respond(e.status, e.message.into_bytes()))
}

fn respond(status: u16, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Checks the token; the auth id, or the reason (after `authentication
/// failed - `).
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<String, String> {
    let none = || "no authentication credentials provided.".to_string();
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(none)?;
    let rest = value.strip_prefix("PBSAPIToken").ok_or_else(none)?;
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(' '))
        .ok_or_else(none)?;
    let (tokenid, secret) = rest.split_once(':').ok_or("malformed API token")?;
    let secret = percent_encoding::percent_decode_str(secret)
        .decode_utf8_lossy()
        .to_string();
    let (user, name) = tokenid
        .split_once('!')
        .filter(|(u, n)| u.contains('@') && !n.is_empty())
        .ok_or_else(|| format!("value '{tokenid}' does not look like a valid authid"))?;
    shared.read(|w| {
        let token = w.tokens.get(tokenid).ok_or("invalid API token")?;
        if token.secret != secret {
            return Err("invalid credentials".to_string());
        }
        let enabled = |c: &serde_json::Map<String, Value>| {
            c.get("enable").and_then(Value::as_bool).unwrap_or(true)
        };
        let expired = |c: &serde_json::Map<String, Value>| {
            c.get("expire")
                .and_then(Value::as_i64)
                .is_some_and(|e| e > 0 && e < super::now())
        };
        if !enabled(&token.config) || expired(&token.config) {
            return Err(format!(
                "user account or token disabled or expired ({tokenid})"
            ));
        }
        let u = w
            .users
            .get(user)
            .ok_or_else(|| format!("no such user '{user}'"))?;
        if !enabled(&u.config) || expired(&u.config) {
            return Err(format!(
                "user account or token disabled or expired ({user})"
            ));
        }
        let _ = name;
        Ok(tokenid.to_string())
    })
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response<Body> {
    let number = shared.counter.fetch_add(1, Ordering::SeqCst) + 1;
    let latency = shared.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let headers = req.headers().clone();
    let body: Bytes = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let pairs = lab_proxmox::sim::request_params(&method, &headers, &body, &query);
    let rel = path
        .strip_prefix("/api2/json")
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .map(|r| {
            if r.is_empty() {
                "/".to_string()
            } else {
                r.to_string()
            }
        });

    let (status, resp) = process(
        &shared,
        number,
        &method,
        &path,
        rel.as_deref(),
        &headers,
        &body,
        &pairs,
    )
    .await;
    let mut log = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
    if log.len() >= MAX_RECORDED {
        log.drain(..MAX_RECORDED / 2);
    }
    log.push(RecordedRequest {
        method,
        path: rel.unwrap_or(path),
        params: pairs,
        status,
    });
    resp
}

#[allow(clippy::too_many_arguments)]
async fn process(
    shared: &Arc<Shared>,
    number: u64,
    method: &str,
    path: &str,
    rel: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    pairs: &[(String, String)],
) -> (u16, Response<Body>) {
    if let Some((status, message)) = shared.faults.take_failure(number) {
        return fail(PbsError::http(status, message));
    }
    if rel.is_none() && path != "/sim/backup" {
        return fail(PbsError::http(404, format!("Path '{path}' not found.")));
    }
    let auth_id = match authenticate(shared, headers) {
        Ok(id) => id,
        Err(why) => {
            let delay = shared.config.auth_failure_delay;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            return fail(PbsError::http(
                401,
                format!("authentication failed - {why}"),
            ));
        }
    };
    let Some(rel) = rel else {
        // The contract's backup endpoint (JSON body on POST, query on GET).
        let result = match method {
            "POST" => serde_json::from_slice::<Value>(body)
                .map_err(|e| PbsError::bad(format!("unable to parse JSON body - {e}")))
                .and_then(|b| backups::write(shared, &auth_id, &b)),
            "GET" => backups::read(shared, &auth_id, &Params(pairs.to_vec())),
            _ => Err(PbsError::http(404, format!("Path '{path}' not found."))),
        };
        return match result {
            Ok(v) => ok(v, None),
            Err(e) => fail(e),
        };
    };
    if let Err(v) = shared.schema.validate(method, rel, pairs) {
        let e = match v {
            lab_proxmox::schema::Violation::NotImplemented { .. } => {
                PbsError::http(404, format!("Path '{path}' not found."))
            }
            lab_proxmox::schema::Violation::Params { errors } => {
                let errors = errors
                    .into_iter()
                    .map(|(k, v)| (k, pbs_wording(&v)))
                    .collect();
                PbsError::params(&errors)
            }
        };
        shared
            .violations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!(
                "{method} {rel}: {}",
                e.message.trim_end().replace('\n', " ")
            ));
        return fail(e);
    }
    let segments: Vec<String> = rel
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let p = Params(pairs.to_vec());
    match dispatch(shared, &auth_id, method, &segs, &p).await {
        Ok((v, total)) => ok(v, total),
        Err(e) => fail(e),
    }
}

/// proxmox-schema's texts for the validator's PVE wording.
fn pbs_wording(message: &str) -> String {
    let m = message.trim_end();
    if m.starts_with("property is not defined in schema") {
        "schema does not allow additional properties.".to_string()
    } else if m.starts_with("property is missing and it is not optional") {
        "parameter is missing and it is not optional.".to_string()
    } else {
        m.to_string()
    }
}

type Answer = Result<(Value, Option<u64>), PbsError>;

fn plain(r: Result<Value, PbsError>) -> Answer {
    r.map(|v| (v, None))
}

async fn dispatch(
    shared: &Arc<Shared>,
    auth: &str,
    method: &str,
    segs: &[&str],
    p: &Params,
) -> Answer {
    // PBS is one node: its handlers ignore `{node}` (`localhost` or the
    // host name, or anything else), so the simulator does too.
    match (method, segs) {
        ("GET", ["version"]) => plain(Ok(json!({
            "version": shared.config.version,
            "release": shared.config.version.rsplit_once('.').map_or("4.0", |(r, _)| r),
            "repoid": "5f2d8b7c",
        }))),
        ("GET", ["nodes", _, "certificates", "info"]) => plain(access::certificates(shared, auth)),
        ("GET", ["nodes", _, "tasks"]) => plain(tasks::list(shared, auth)),
        ("GET", ["nodes", _, "tasks", upid, "status"]) => plain(tasks::status(shared, auth, upid)),
        ("GET", ["nodes", _, "tasks", upid, "log"]) => {
            tasks::log_lines(shared, auth, upid, p).map(|(v, t)| (v, Some(t)))
        }
        (_, ["config", "datastore", ..]) | (_, ["admin", "datastore", ..]) => {
            plain(datastores::dispatch(shared, auth, method, segs, p))
        }
        (_, ["config", "remote", ..])
        | (_, ["config", "sync" | "prune" | "verify", ..])
        | (_, ["admin", "sync" | "prune" | "verify", ..]) => {
            plain(jobs::dispatch(shared, auth, method, segs, p))
        }
        (_, ["access", ..]) => plain(access::dispatch(shared, auth, method, segs, p)),
        _ => Err(PbsError::http(
            501,
            format!("pbs-sim does not implement {method} /{}", segs.join("/")),
        )),
    }
}
