//! Cloudflare Tunnel (`/accounts/{account_id}/cfd_tunnel...`): create
//! (409/1013 on a name the account already uses), list with the
//! `is_deleted`/`name`/`uuid`/`status`/prefix filters, read, rename,
//! delete (soft: `deleted_at` is set and the name is free again), the
//! connector token (base64 of `{"a","s","t"}`, cloudflared's
//! `connection.TunnelToken`), connections (a connector is simulated with
//! [`super::CloudflareSim::connect_tunnel`]; a tunnel that has some cannot
//! be deleted, 1022), and the remote configuration:
//! `PUT …/configurations` replaces the whole document after cloudflared's
//! ingress rules accept it (`lab_net::cloudflare::ingress`), and bumps
//! `version`.

use base64::Engine;
use serde_json::{json, Value};

use super::envelope::{query, Answer, ApiError, Page, Success};
use super::world::{now_rfc3339, uuid, Tunnel};
use super::{Request, Shared};

/// The code Cloudflare answers a duplicate tunnel name with (HTTP 409;
/// pulumi/pulumi-cloudflare#1440).
pub(crate) const DUPLICATE_NAME: u32 = 1013;
/// The code of an ingress configuration cloudflared's rules refuse: HTTP
/// 400, `Bad Configuration: Validation failed: <cloudflared's message>`
/// (the API's answer as quoted in public client code).
pub(crate) const INVALID_INGRESS: u32 = 1056;
/// A tunnel with connections cannot be deleted (clean them up first).
pub(crate) const ACTIVE_CONNECTIONS: u32 = 1022;

pub(crate) fn dispatch(shared: &Shared, req: &Request) -> Answer {
    let account = super::zones::account(shared, req)?;
    match (req.method, req.template) {
        ("GET", "/accounts/{account_id}/cfd_tunnel") => list(shared, &account, req),
        ("POST", "/accounts/{account_id}/cfd_tunnel") => create(shared, &account, req),
        ("GET", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}") => {
            with_tunnel(shared, &account, req, |t| Ok(t.record.clone()))
        }
        ("PATCH", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}") => update(shared, &account, req),
        ("DELETE", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}") => {
            delete(shared, &account, req)
        }
        ("GET", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/token") => {
            with_tunnel(shared, &account, req, |t| Ok(Value::String(token(t))))
        }
        ("GET", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/connections") => {
            with_tunnel(shared, &account, req, |t| Ok(clients(t)))
        }
        ("DELETE", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/connections") => {
            clean_connections(shared, &account, req)
        }
        ("GET", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations") => {
            with_tunnel(shared, &account, req, |t| {
                Ok(t.configuration.clone().unwrap_or_else(|| {
                    json!({
                        "tunnel_id": t.record["id"],
                        "version": 0,
                        "config": null,
                        "source": "cloudflare",
                        "created_at": t.record["created_at"],
                    })
                }))
            })
        }
        ("PUT", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations") => {
            configure(shared, &account, req)
        }
        _ => Err(ApiError::no_route()),
    }
}

/// The connector token: base64 (standard, padded) of cloudflared's
/// `TunnelToken` JSON, fields in its struct order `a`, `s`, `t`.
pub(crate) fn token(t: &Tunnel) -> String {
    let json = format!(
        r#"{{"a":{},"s":{},"t":{}}}"#,
        Value::String(t.account.clone()),
        Value::String(t.secret.clone()),
        t.record["id"]
    );
    base64::engine::general_purpose::STANDARD.encode(json)
}

fn not_found() -> ApiError {
    ApiError::not_found(1002, "Tunnel")
}

/// Runs `f` on the tunnel named by the path (deleted ones included, as
/// the API still shows them).
fn with_tunnel(
    shared: &Shared,
    account: &str,
    req: &Request,
    f: impl FnOnce(&Tunnel) -> Result<Value, ApiError>,
) -> Answer {
    let id = req.param("tunnel_id");
    shared.read(|w| match w.tunnels.get(id) {
        Some(t) if t.account == account => f(t).map(Success::ok),
        _ => Err(not_found()),
    })
}

fn is_live(t: &Tunnel) -> bool {
    t.record["deleted_at"].is_null()
}

fn list(shared: &Shared, account: &str, req: &Request) -> Answer {
    let page = Page::from_query(req.query, 20)?;
    let q = req.query;
    let items = shared.read(|w| {
        let mut tunnels: Vec<&Tunnel> = w
            .tunnels
            .values()
            .filter(|t| t.account == account)
            .filter(|t| match query(q, "is_deleted") {
                Some("true") => !is_live(t),
                Some("false") => is_live(t),
                _ => true,
            })
            .filter(|t| query(q, "name").is_none_or(|n| t.record["name"] == n))
            .filter(|t| query(q, "uuid").is_none_or(|u| t.record["id"] == u))
            .filter(|t| query(q, "status").is_none_or(|s| t.record["status"] == s))
            .filter(|t| {
                let name = t.record["name"].as_str().unwrap_or_default();
                query(q, "include_prefix").is_none_or(|p| name.starts_with(p))
                    && query(q, "exclude_prefix").is_none_or(|p| !name.starts_with(p))
            })
            .collect();
        tunnels.sort_by(|a, b| {
            a.record["created_at"]
                .as_str()
                .cmp(&b.record["created_at"].as_str())
        });
        tunnels
            .into_iter()
            .map(|t| t.record.clone())
            .collect::<Vec<_>>()
    });
    Ok(page.slice(items))
}

fn name_taken(w: &super::world::World, account: &str, name: &str, except: &str) -> bool {
    w.tunnels.values().any(|t| {
        t.account == account && is_live(t) && t.record["name"] == name && t.record["id"] != except
    })
}

fn duplicate() -> ApiError {
    ApiError::new(
        409,
        DUPLICATE_NAME,
        "You already have a tunnel with this name",
    )
}

/// A tunnel secret: the one given (base64, at least 32 bytes decoded),
/// else 32 random bytes.
fn secret_from(body: &Value) -> Result<String, ApiError> {
    match body.get("tunnel_secret").and_then(Value::as_str) {
        Some(s) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| ApiError::invalid("tunnel_secret: must be base64"))?;
            if bytes.len() < 32 {
                return Err(ApiError::invalid(
                    "tunnel_secret: must encode at least 32 bytes",
                ));
            }
            Ok(s.to_string())
        }
        None => {
            let b: [u8; 32] = rand::random();
            Ok(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}

fn create(shared: &Shared, account: &str, req: &Request) -> Answer {
    let body = req.body_object();
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let config_src = body["config_src"].as_str().unwrap_or("local").to_string();
    let secret = secret_from(&body)?;
    shared.write(|w| {
        if name_taken(w, account, &name, "") {
            return Err(duplicate());
        }
        let id = uuid();
        let now = now_rfc3339();
        let record = json!({
            "id": id,
            "account_tag": account,
            "name": name,
            "created_at": now,
            "deleted_at": null,
            "connections": [],
            "conns_active_at": null,
            "conns_inactive_at": now,
            "tun_type": "cfd_tunnel",
            "status": "inactive",
            "remote_config": config_src == "cloudflare",
            "metadata": {},
        });
        w.tunnels.insert(
            id,
            Tunnel {
                account: account.to_string(),
                record: record.clone(),
                secret,
                configuration: None,
            },
        );
        Ok(Success::ok(record))
    })
}

fn update(shared: &Shared, account: &str, req: &Request) -> Answer {
    let body = req.body_object();
    let id = req.param("tunnel_id").to_string();
    let secret = match body.get("tunnel_secret") {
        Some(_) => Some(secret_from(&body)?),
        None => None,
    };
    shared.write(|w| {
        let live = w
            .tunnels
            .get(&id)
            .is_some_and(|t| t.account == account && is_live(t));
        if !live {
            return Err(not_found());
        }
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            if name_taken(w, account, name, &id) {
                return Err(duplicate());
            }
        }
        let t = w.tunnels.get_mut(&id).ok_or_else(not_found)?;
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            t.record["name"] = name.into();
        }
        if let Some(s) = secret {
            t.secret = s;
        }
        Ok(Success::ok(t.record.clone()))
    })
}

/// The connectors of a tunnel, as `GET …/connections` lists them: one
/// client per connector (`client_id`) with its connections.
fn clients(t: &Tunnel) -> Value {
    let mut by_client: Vec<(String, Vec<Value>)> = Vec::new();
    for c in t.record["connections"].as_array().into_iter().flatten() {
        let client = c["client_id"].as_str().unwrap_or_default().to_string();
        match by_client.iter_mut().find(|(id, _)| *id == client) {
            Some((_, conns)) => conns.push(c.clone()),
            None => by_client.push((client, vec![c.clone()])),
        }
    }
    Value::Array(
        by_client
            .into_iter()
            .map(|(id, conns)| {
                json!({
                    "id": id,
                    "arch": "linux_amd64",
                    "version": conns[0]["client_version"],
                    "run_at": conns[0]["opened_at"],
                    "features": [],
                    "conns": conns,
                })
            })
            .collect(),
    )
}

/// `DELETE …/connections[?client_id=]`: drops the (stale) connections of
/// one connector or of all; a tunnel left without any is `down`.
fn clean_connections(shared: &Shared, account: &str, req: &Request) -> Answer {
    let id = req.param("tunnel_id");
    let client = super::envelope::query(req.query, "client_id").map(str::to_string);
    shared.write(|w| match w.tunnels.get_mut(id) {
        Some(t) if t.account == account && is_live(t) => {
            if let Some(conns) = t.record["connections"].as_array_mut() {
                let before = conns.len();
                conns.retain(|c| client.as_deref().is_some_and(|k| c["client_id"] != k));
                if conns.is_empty() && before > 0 {
                    t.record["status"] = "down".into();
                    t.record["conns_inactive_at"] = now_rfc3339().into();
                }
            }
            Ok(Success::ok(json!({})))
        }
        _ => Err(not_found()),
    })
}

/// A connector running `cloudflared tunnel run --token` (the simulator's
/// knob): four connections from `client_id`, the tunnel `healthy`.
pub(crate) fn connect(w: &mut super::world::World, tunnel: &str, client_id: &str) -> bool {
    let Some(t) = w.tunnels.get_mut(tunnel).filter(|t| is_live(t)) else {
        return false;
    };
    let now = now_rfc3339();
    if let Some(conns) = t.record["connections"].as_array_mut() {
        for colo in ["ams01", "fra06", "ams08", "fra13"] {
            conns.push(json!({
                "id": uuid(),
                "client_id": client_id,
                "client_version": "2024.8.2",
                "colo_name": colo,
                "is_pending_reconnect": false,
                "opened_at": now,
                "origin_ip": "127.0.0.1",
                "uuid": uuid(),
            }));
        }
    }
    t.record["status"] = "healthy".into();
    t.record["conns_active_at"] = now.into();
    true
}

fn delete(shared: &Shared, account: &str, req: &Request) -> Answer {
    let id = req.param("tunnel_id");
    shared.write(|w| match w.tunnels.get_mut(id) {
        Some(t) if t.account == account && is_live(t) => {
            if t.record["connections"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
            {
                return Err(ApiError::new(
                    400,
                    ACTIVE_CONNECTIONS,
                    "Cannot delete tunnel because it has active connections",
                ));
            }
            t.record["deleted_at"] = now_rfc3339().into();
            Ok(Success::ok(t.record.clone()))
        }
        _ => Err(not_found()),
    })
}

fn configure(shared: &Shared, account: &str, req: &Request) -> Answer {
    let body = req.body_object();
    let config = body.get("config").cloned().unwrap_or_else(|| json!({}));
    let rules: Vec<Value> = config
        .get("ingress")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Err(message) = crate::cloudflare::ingress::validate_ingress(&rules) {
        return Err(ApiError::new(
            400,
            INVALID_INGRESS,
            format!("Bad Configuration: Validation failed: {message}"),
        ));
    }
    let id = req.param("tunnel_id").to_string();
    shared.write(|w| {
        let t = w
            .tunnels
            .get_mut(&id)
            .filter(|t| t.account == account && is_live(t))
            .ok_or_else(not_found)?;
        let version = t
            .configuration
            .as_ref()
            .and_then(|c| c["version"].as_u64())
            .unwrap_or(0)
            + 1;
        let document = json!({
            "tunnel_id": id,
            "version": version,
            "config": config,
            "source": "cloudflare",
            "created_at": now_rfc3339(),
        });
        t.configuration = Some(document.clone());
        t.record["remote_config"] = true.into();
        Ok(Success::ok(document))
    })
}
