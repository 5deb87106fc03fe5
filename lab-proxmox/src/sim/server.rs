//! The HTTPS front end: TLS accept loop, the request pipeline and the
//! router.
//!
//! The pipeline follows pveproxy (`pve-http-server AnyEvent.pm`,
//! `pve-manager PVE/HTTPServer.pm`; proxmox-api.md §1-3):
//!
//! 1. count and record the request; apply injected faults and latency;
//! 2. authenticate `Authorization: PVEAPIToken=<user@realm!name>=<secret>`
//!    (a space may replace the first `=`; the value is split on the **last**
//!    `=`). Failures wait `auth_failure_delay` (3 s on a real node) and
//!    answer **401** with an empty body and the reason `No ticket` (no
//!    credentials), `no such user ('<user>')`, `no such token '<name>' for
//!    user '<user>'` or `invalid token value!`;
//! 3. a body on `GET`/`DELETE` is **501** `Unexpected content for method
//!    '<M>'`;
//! 4. parameters: query for every method, plus the form-urlencoded or JSON
//!    body for `POST`/`PUT`; query pairs are merged over body pairs;
//! 5. validation against `pve-apidoc.json` (501 unknown path/method, 400
//!    `Parameter verification failed.` with `errors`); violations are kept
//!    for [`super::SimHandle::schema_violations`];
//! 6. dispatch; the reply is `{"data": ...}` (plus `total`), an error puts
//!    its message in the HTTP **reason phrase** and answers `{"data":null}`
//!    (plus `errors`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::guest::Power;
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::sdn::{self, Part as SdnPart};
use super::state::Shared;
use super::world::GuestKind;
use super::{
    aplinfo, backup, cluster, content, lxc, oci, pools, qemu, restore, snapshots, storage, tasks,
    validate, vzdump, RecordedRequest,
};

/// How many requests the log keeps (the oldest half is dropped beyond it).
const MAX_RECORDED: usize = 200_000;

/// What the router's handler needs.
#[derive(Clone)]
pub(crate) struct AppState {
    pub shared: Arc<Shared>,
    pub fingerprint: Arc<str>,
}

/// Serves HTTPS on `listener` until `shutdown` flips to `true`.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: AppState,
    shutdown: watch::Receiver<bool>,
) {
    let app = Router::new().fallback(handle).with_state(state);
    serve_https(listener, acceptor, app, shutdown).await;
}

/// Serves `app` over HTTPS (HTTP/1.1, as pveproxy and proxmox-backup-proxy
/// speak it to API clients) on `listener` until `shutdown` flips to
/// `true`, then drops every open connection: the accept loop every
/// simulator of the workspace runs (lab-pbs's too).
pub async fn serve_https(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) {
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

/// Visible ASCII only (HTTP reason phrases cannot carry newlines).
fn reason_text(message: &str) -> String {
    let text: String = message
        .trim_end()
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' || c == '\t' {
                c
            } else {
                ' '
            }
        })
        .collect();
    if text.is_empty() {
        "error".to_string()
    } else {
        text
    }
}

fn response(status: u16, reason: Option<&str>, body: Option<Value>) -> Response<Body> {
    let status_code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder()
        .status(status_code)
        .header(header::SERVER, "pve-api-daemon/3.0")
        .header(header::CACHE_CONTROL, "max-age=0")
        .header(header::PRAGMA, "no-cache");
    let body = match body {
        Some(v) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json;charset=UTF-8");
            Body::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        None => Body::empty(),
    };
    let mut resp = builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()));
    if let Some(reason) = reason {
        if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason_text(reason)) {
            resp.extensions_mut().insert(phrase);
        }
    }
    resp
}

fn render(result: ApiResult) -> (u16, Response<Body>) {
    match result {
        Ok(Reply { data, total }) => {
            let mut body = json!({ "data": data });
            if let Some(total) = total {
                body["total"] = json!(total);
            }
            (200, response(200, None, Some(body)))
        }
        Err(e) => {
            let status = e.status();
            let mut body = json!({ "data": Value::Null });
            if let ApiError::Param(errors) = &e {
                body["errors"] = json!(errors);
            }
            (status, response(status, Some(&e.message()), Some(body)))
        }
    }
}

/// A request's parameters as the Proxmox REST servers (pveproxy and
/// proxmox-backup-proxy) take them: a POST or PUT body (form-encoded, or
/// JSON with arrays as repeated keys), then the query string. Both
/// simulators read requests with it.
pub fn request_params(
    method: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    query: &str,
) -> Vec<(String, String)> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let mut pairs = if method == "POST" || method == "PUT" {
        if is_json {
            parse_json_body(body)
        } else {
            parse_form(body)
        }
    } else {
        Vec::new()
    };
    pairs.extend(parse_form(query.as_bytes()));
    pairs
}

fn parse_form(text: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(text).unwrap_or_default()
}

fn json_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_json_body(body: &[u8]) -> Vec<(String, String)> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            Value::Array(items) => out.extend(items.iter().map(|i| (k.clone(), json_scalar(i)))),
            other => out.push((k, json_scalar(&other))),
        }
    }
    out
}

/// Checks the API token; the error is the 401 reason phrase.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), String> {
    let no_ticket = || "No ticket".to_string();
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(no_ticket)?;
    let start = value
        .match_indices("PVEAPIToken")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || value[..i].ends_with(char::is_whitespace))
        .ok_or_else(no_ticket)?;
    let rest = &value[start + "PVEAPIToken".len()..];
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(' '))
        .ok_or_else(no_ticket)?;
    let raw = rest.split(';').next().unwrap_or_default();
    let token = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .trim()
        .to_string();
    let (tokenid, secret) = token.rsplit_once('=').ok_or("no tokenid specified")?;
    let (user, name) = tokenid
        .split_once('!')
        .filter(|(u, n)| u.contains('@') && !n.is_empty())
        .ok_or_else(|| format!("'{tokenid}' is not a valid token ID"))?;
    let (cfg_user, cfg_name) = shared
        .settings
        .token_id
        .split_once('!')
        .unwrap_or((shared.settings.token_id.as_str(), ""));
    if user != cfg_user {
        return Err(format!("no such user ('{user}')"));
    }
    if name != cfg_name {
        return Err(format!("no such token '{name}' for user '{user}'"));
    }
    if secret != shared.settings.token_secret {
        return Err("invalid token value!".to_string());
    }
    Ok(())
}

async fn handle(State(app): State<AppState>, req: Request) -> Response<Body> {
    let shared = app.shared.clone();
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
    let pairs = request_params(&method, &headers, &body, &query);
    let recorded_path = rel.clone().unwrap_or_else(|| path.clone());

    let (status, resp) = process(
        &app,
        &shared,
        number,
        &method,
        rel.as_deref(),
        &path,
        &headers,
        body.len(),
        &pairs,
    )
    .await;
    let mut log = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
    if log.len() >= MAX_RECORDED {
        // A long-running `pve-sim` must not grow without bound.
        log.drain(..MAX_RECORDED / 2);
    }
    log.push(RecordedRequest {
        method,
        path: recorded_path,
        params: pairs,
        status,
    });
    drop(log);
    resp
}

#[allow(clippy::too_many_arguments)]
async fn process(
    app: &AppState,
    shared: &Arc<Shared>,
    number: u64,
    method: &str,
    rel: Option<&str>,
    path: &str,
    headers: &HeaderMap,
    body_len: usize,
    pairs: &[(String, String)],
) -> (u16, Response<Body>) {
    if let Some((status, message)) = shared.faults.take_failure(number) {
        let body = (status != 401).then(|| json!({ "data": Value::Null }));
        return (status, response(status, Some(&message), body));
    }
    if let Err(message) = authenticate(shared, headers) {
        let delay = shared.settings.auth_failure_delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        return (401, response(401, Some(&message), None));
    }
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(body_len as u64);
    if (method == "GET" || method == "DELETE") && content_length > 0 {
        return render(Err(ApiError::NotImplemented(format!(
            "Unexpected content for method '{method}'"
        ))));
    }
    let Some(rel) = rel else {
        return render(Err(ApiError::NotImplemented(format!(
            "Method '{method} {path}' not implemented"
        ))));
    };
    if let Err(e) = validate::check(&shared.schema, method, rel, pairs) {
        let mut violations = shared.violations.lock().unwrap_or_else(|e| e.into_inner());
        match &e {
            ApiError::Param(errors) => {
                for (k, v) in errors {
                    violations.push(format!("{method} {rel}: {k}: {}", v.trim_end()));
                }
            }
            other => violations.push(format!("{method} {rel}: {}", other.message())),
        }
        drop(violations);
        return render(Err(e));
    }
    render(dispatch(app, shared, method, rel, pairs).await)
}

/// Binds a path parameter, refusing a conflicting query/body value.
fn bind(p: &mut Params, name: &str, value: &str) -> Result<(), ApiError> {
    if p.get(name).is_some_and(|v| v != value) {
        return Err(ApiError::param(
            name,
            "duplicate parameter (already defined in URI) with conflicting values!",
        ));
    }
    p.insert(name, value);
    Ok(())
}

fn parse_vmid(text: &str) -> Result<u32, ApiError> {
    match text.parse::<i64>() {
        Ok(v) if (100..=999_999_999).contains(&v) => Ok(v as u32),
        Ok(v) => Err(ApiError::param(
            "vmid",
            format!("value must have a minimum value of 100 (got {v})"),
        )),
        Err(_) => Err(ApiError::param(
            "vmid",
            format!("type check ('integer') failed - got '{text}'"),
        )),
    }
}

fn subdirs(names: &[&str]) -> ApiResult {
    Ok(Reply::data(Value::Array(
        names.iter().map(|n| json!({ "subdir": n })).collect(),
    )))
}

async fn dispatch(
    app: &AppState,
    shared: &Arc<Shared>,
    method: &str,
    rel: &str,
    pairs: &[(String, String)],
) -> ApiResult {
    let mut segments = crate::schema::split_path(rel);
    // `.../storage/{storage}/content/<volume>`: the volume id is the rest
    // of the path, slashes included (fragmentDelimiter, see
    // `crate::schema::FRAGMENT_DELIMITED`).
    if segments.len() > 6
        && segments[0] == "nodes"
        && segments[2] == "storage"
        && segments[4] == "content"
    {
        let volume = segments.split_off(5).join("/");
        segments.push(volume);
    }
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut p = Params::new(pairs);
    let not_implemented =
        || ApiError::NotImplemented(format!("Method '{method} {rel}' not implemented"));
    match (method, s.as_slice()) {
        ("GET", []) => subdirs(&["version", "cluster", "nodes", "storage", "access", "pools"]),
        ("GET", ["version"]) => cluster::version(),
        ("GET", ["nodes"]) => cluster::nodes(shared, &app.fingerprint),
        ("GET", ["cluster"]) => cluster::cluster_index(),
        ("GET", ["cluster", "tasks"]) => cluster::cluster_tasks(shared),
        ("GET", ["cluster", "options"]) => cluster::cluster_options(shared),
        ("GET", ["cluster", "resources"]) => cluster::resources(shared, &p),
        ("GET", ["cluster", "status"]) => cluster::cluster_status(shared),
        ("GET", ["cluster", "nextid"]) => cluster::nextid(shared, &p),
        ("GET", ["cluster", "backup"]) => backup::list(shared),
        ("POST", ["cluster", "backup"]) => backup::create(shared, &p),
        (_, ["cluster", "backup", id]) => {
            bind(&mut p, "id", id)?;
            match method {
                "GET" => backup::get(shared, id),
                "PUT" => backup::update(shared, id, &p),
                "DELETE" => backup::delete(shared, id),
                _ => Err(not_implemented()),
            }
        }
        ("GET", ["cluster", "sdn"]) => sdn::index(),
        ("PUT", ["cluster", "sdn"]) => sdn::apply(shared),
        ("GET", ["cluster", "sdn", "zones"]) => sdn::list(shared, SdnPart::Zones, &p),
        ("POST", ["cluster", "sdn", "zones"]) => sdn::create_zone(shared, &p),
        ("GET", ["cluster", "sdn", "vnets"]) => sdn::list(shared, SdnPart::Vnets, &p),
        ("POST", ["cluster", "sdn", "vnets"]) => sdn::create_vnet(shared, &p),
        (_, ["cluster", "sdn", part @ ("zones" | "vnets"), id]) => {
            let part = if *part == "zones" {
                SdnPart::Zones
            } else {
                SdnPart::Vnets
            };
            bind(
                &mut p,
                if part == SdnPart::Zones {
                    "zone"
                } else {
                    "vnet"
                },
                id,
            )?;
            match method {
                "GET" => sdn::get(shared, part, id, &p),
                "PUT" => sdn::update(shared, part, id, &p),
                "DELETE" => sdn::delete(shared, part, id),
                _ => Err(not_implemented()),
            }
        }
        (_, ["cluster", "sdn", "vnets", vnet, "subnets", rest @ ..]) => {
            bind(&mut p, "vnet", vnet)?;
            match (method, rest) {
                ("GET", []) => sdn::list_subnets(shared, vnet, &p),
                ("POST", []) => sdn::create_subnet(shared, vnet, &p),
                ("GET", [id]) => sdn::get_subnet(shared, vnet, id, &p),
                ("PUT", [id]) => sdn::update_subnet(shared, vnet, id, &p),
                ("DELETE", [id]) => sdn::delete_subnet(shared, vnet, id),
                _ => Err(not_implemented()),
            }
        }
        (_, ["cluster", "firewall", rest @ ..]) => {
            super::firewall_api::cluster(shared, method, rest, &p)
        }
        ("GET", ["access", "permissions"]) => cluster::permissions(&p),
        ("GET", ["storage"]) => storage::list_config(shared, &p),
        ("POST", ["storage"]) => storage::create(shared, &p).await,
        (_, ["storage", id]) => {
            bind(&mut p, "storage", id)?;
            match method {
                "GET" => storage::get_config(shared, id),
                "PUT" => storage::update(shared, id, &p),
                "DELETE" => storage::delete(shared, id),
                _ => Err(not_implemented()),
            }
        }
        ("GET", ["pools"]) => pools::list(shared, &p),
        ("POST", ["pools"]) => pools::create(shared, &p),
        ("PUT", ["pools"]) => {
            let id = p.required("poolid")?.to_string();
            pools::update(shared, &id, &p)
        }
        ("DELETE", ["pools"]) => {
            let id = p.required("poolid")?.to_string();
            pools::delete(shared, &id)
        }
        (_, ["pools", id]) => {
            bind(&mut p, "poolid", id)?;
            match method {
                "GET" => pools::get(shared, id),
                "PUT" => pools::update(shared, id, &p),
                "DELETE" => pools::delete(shared, id),
                _ => Err(not_implemented()),
            }
        }
        (_, ["nodes", node, rest @ ..]) => {
            bind(&mut p, "node", node)?;
            if shared.read(|w| w.node(node).is_none()) {
                return Err(ApiError::die(format!(
                    "hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
                )));
            }
            node_dispatch(shared, method, node, rest, p)
                .await
                .map_err(|e| match e {
                    ApiError::NotImplemented(m) if m.is_empty() => not_implemented(),
                    other => other,
                })
        }
        _ => Err(not_implemented()),
    }
}

/// `/nodes/{node}/...`; an empty `NotImplemented` means "not routed".
async fn node_dispatch(
    shared: &Arc<Shared>,
    method: &str,
    node: &str,
    rest: &[&str],
    mut p: Params,
) -> ApiResult {
    let unrouted = || ApiError::NotImplemented(String::new());
    match (method, rest) {
        ("GET", []) => cluster::node_index(),
        ("GET", ["status"]) => cluster::node_status(shared, node),
        ("GET", ["network"]) => cluster::network(shared, node, &p),
        ("GET", ["tasks"]) => tasks::list(shared, node, &p),
        ("GET", ["query-url-metadata"]) => storage::query_url_metadata(shared, &p),
        ("GET", ["version"]) => cluster::node_version(shared, node),
        ("GET", ["aplinfo"]) => aplinfo::list(shared),
        ("POST", ["aplinfo"]) => aplinfo::download(shared, node, &p),
        (_, ["tasks", upid, tail @ ..]) => {
            bind(&mut p, "upid", upid)?;
            match (method, tail) {
                ("GET", []) => tasks::index(shared, node, upid),
                ("DELETE", []) => tasks::stop(shared, node, upid),
                ("GET", ["status"]) => tasks::status(shared, node, upid),
                ("GET", ["log"]) => tasks::log(shared, node, upid, &p),
                _ => Err(unrouted()),
            }
        }
        ("GET", ["storage"]) => storage::node_list(shared, node, &p).await,
        ("POST", ["vzdump"]) => vzdump::vzdump(shared, node, &p),
        (_, ["storage", id, tail @ ..]) => {
            bind(&mut p, "storage", id)?;
            match (method, tail) {
                ("GET", []) => storage::node_index(shared, node, id),
                ("GET", ["status"]) => storage::node_status(shared, node, id).await,
                ("GET", ["content"]) if is_pbs(shared, id) => {
                    vzdump::pbs_content(shared, id, &p).await
                }
                ("GET", ["content"]) => content::content(shared, node, id, &p),
                ("GET", ["content", volume]) => {
                    content::volume_attributes(shared, node, id, volume)
                }
                ("DELETE", ["content", volume]) => {
                    content::delete_volume(shared, node, id, volume, &p).await
                }
                ("POST", ["download-url"]) => storage::download_url(shared, node, id, &p),
                ("POST", ["oci-registry-pull"]) => oci::registry_pull(shared, node, id, &p),
                _ => Err(unrouted()),
            }
        }
        ("GET", ["qemu"]) => qemu::list(shared, node),
        ("POST", ["qemu"]) if p.has("archive") => {
            restore::start(shared, GuestKind::Qemu, node, &p, "archive")
        }
        ("POST", ["qemu"]) => qemu::create(shared, node, &p),
        (_, ["qemu", vmid, tail @ ..]) => {
            let id = parse_vmid(vmid)?;
            bind(&mut p, "vmid", vmid)?;
            match (method, tail) {
                ("GET", []) => qemu::index(shared, node, id),
                ("DELETE", []) => qemu::destroy(shared, node, id, &p),
                ("GET", ["config"]) => qemu::get_config(shared, node, id, &p),
                ("PUT", ["config"]) => qemu::put_config(shared, node, id, &p).await,
                ("POST", ["config"]) => qemu::post_config(shared, node, id, &p).await,
                ("GET", ["pending"]) => qemu::pending(shared, GuestKind::Qemu, node, id),
                ("PUT", ["resize"]) => qemu::resize(shared, node, id, &p),
                ("POST", ["clone"]) => qemu::clone(shared, node, id, &p).await,
                ("POST", ["template"]) => qemu::template(shared, node, id).await,
                (_, ["snapshot", ..]) => {
                    snapshot_dispatch(shared, GuestKind::Qemu, method, node, id, &tail[1..], p)
                }
                (_, ["firewall", fw @ ..]) => {
                    super::firewall_api::guest(shared, GuestKind::Qemu, id, method, fw, &p)?
                        .ok_or_else(unrouted)
                }
                ("GET", ["status"]) => subdirs(&[
                    "current", "start", "stop", "reset", "shutdown", "reboot", "suspend", "resume",
                ]),
                ("GET", ["status", "current"]) => {
                    qemu::status_current(shared, GuestKind::Qemu, node, id)
                }
                ("POST", ["status", action]) => match Power::parse(action) {
                    Some(action) => qemu::power(shared, node, id, action, &p),
                    None => Err(unrouted()),
                },
                _ => Err(unrouted()),
            }
        }
        ("GET", ["lxc"]) => lxc::list(shared, node),
        ("POST", ["lxc"]) if p.bool("restore", false)? => {
            restore::start(shared, GuestKind::Lxc, node, &p, "ostemplate")
        }
        ("POST", ["lxc"]) => lxc::create(shared, node, &p),
        (_, ["lxc", vmid, tail @ ..]) => {
            let id = parse_vmid(vmid)?;
            bind(&mut p, "vmid", vmid)?;
            match (method, tail) {
                ("GET", []) => subdirs(&[
                    "config", "pending", "status", "resize", "snapshot", "firewall", "rrd",
                    "rrddata",
                ]),
                ("DELETE", []) => lxc::destroy(shared, node, id, &p),
                ("GET", ["config"]) => lxc::get_config(shared, node, id, &p),
                ("PUT", ["config"]) => lxc::put_config(shared, node, id, &p).await,
                ("GET", ["pending"]) => qemu::pending(shared, GuestKind::Lxc, node, id),
                ("PUT", ["resize"]) => lxc::resize(shared, node, id, &p).await,
                (_, ["snapshot", ..]) => {
                    snapshot_dispatch(shared, GuestKind::Lxc, method, node, id, &tail[1..], p)
                }
                (_, ["firewall", fw @ ..]) => {
                    super::firewall_api::guest(shared, GuestKind::Lxc, id, method, fw, &p)?
                        .ok_or_else(unrouted)
                }
                ("GET", ["status"]) => subdirs(&[
                    "current", "start", "stop", "shutdown", "reboot", "suspend", "resume",
                ]),
                ("GET", ["status", "current"]) => {
                    qemu::status_current(shared, GuestKind::Lxc, node, id)
                }
                // Container suspend/resume (CRIU, experimental) is not
                // simulated.
                ("POST", ["status", action]) => match Power::parse(action) {
                    Some(
                        action @ (Power::Start | Power::Stop | Power::Shutdown | Power::Reboot),
                    ) => lxc::power(shared, node, id, action, &p),
                    _ => Err(unrouted()),
                },
                _ => Err(unrouted()),
            }
        }
        _ => Err(unrouted()),
    }
}

/// Whether `id` is a `pbs` storage (its content is the PBS's).
fn is_pbs(shared: &Shared, id: &str) -> bool {
    shared.read(|w| w.storages.get(id).is_some_and(|s| s.kind == "pbs"))
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}/snapshot/...`.
fn snapshot_dispatch(
    shared: &Arc<Shared>,
    kind: GuestKind,
    method: &str,
    node: &str,
    vmid: u32,
    rest: &[&str],
    mut p: Params,
) -> ApiResult {
    match (method, rest) {
        ("GET", []) => snapshots::list(shared, kind, node, vmid),
        ("POST", []) => snapshots::create(shared, kind, node, vmid, &p),
        (_, [name, tail @ ..]) => {
            bind(&mut p, "snapname", name)?;
            match (method, tail) {
                ("GET", []) => snapshots::index(),
                ("DELETE", []) => snapshots::delete(shared, kind, node, vmid, name, &p),
                ("GET", ["config"]) => snapshots::get_config(shared, kind, node, vmid, name),
                ("PUT", ["config"]) => snapshots::put_config(shared, kind, node, vmid, name, &p),
                ("POST", ["rollback"]) => snapshots::rollback(shared, kind, node, vmid, name, &p),
                _ => Err(ApiError::NotImplemented(String::new())),
            }
        }
        _ => Err(ApiError::NotImplemented(String::new())),
    }
}
