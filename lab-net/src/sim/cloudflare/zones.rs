//! Accounts and zones: `GET /zones` (with `name`, `status`,
//! `account.id`, `account.name`, `match`, `order`, `direction`), `POST
//! /zones`, `GET /user/tokens/verify`, and the account check every
//! `/accounts/{account_id}/...` call makes (an account the token cannot
//! reach answers 403 `Authentication error`, code 10000, as the API
//! gateway does).

use serde_json::{json, Value};

use super::envelope::{query, Answer, ApiError, Page, Success};
use super::world::{hex_id, now_rfc3339, Zone};
use super::{Request, Shared};

/// The account named by the path, if the token may use it.
pub(crate) fn account(shared: &Shared, req: &Request) -> Result<String, ApiError> {
    let id = req.param("account_id");
    if shared.read(|w| w.accounts.contains_key(id)) {
        Ok(id.to_string())
    } else {
        Err(ApiError::new(403, 10000, "Authentication error"))
    }
}

/// The zone named by the path: 7003 with the API's wording otherwise.
pub(crate) fn zone_id(shared: &Shared, req: &Request) -> Result<String, ApiError> {
    let id = req.param("zone_id");
    if shared.read(|w| w.zones.contains_key(id)) {
        Ok(id.to_string())
    } else {
        Err(ApiError::new(
            400,
            7003,
            format!(
                "Could not route to {}, perhaps your object identifier is invalid?",
                req.path
            ),
        ))
    }
}

/// A new zone object.
pub(crate) fn zone_record(id: &str, name: &str, account: &str, account_name: &str) -> Value {
    let now = now_rfc3339();
    json!({
        "id": id,
        "name": name,
        "status": "active",
        "paused": false,
        "type": "full",
        "development_mode": 0,
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": null,
        "original_registrar": null,
        "original_dnshost": null,
        "created_on": now,
        "modified_on": now,
        "activated_on": now,
        "meta": {"step": 4, "custom_certificate_quota": 0, "page_rule_quota": 3,
                 "phishing_detected": false, "multiple_railguns_allowed": false},
        "owner": {"id": null, "type": "user", "email": null},
        "account": {"id": account, "name": account_name},
        "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
        "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website",
                 "price": 0, "currency": "USD", "frequency": "", "is_subscribed": false,
                 "can_subscribe": false, "legacy_id": "free", "legacy_discount": false,
                 "externally_managed": false},
    })
}

pub(crate) fn dispatch(shared: &Shared, req: &Request) -> Answer {
    match (req.method, req.template) {
        ("GET", "/zones") => list(shared, req),
        ("POST", "/zones") => create(shared, req),
        ("GET", "/user/tokens/verify") => Ok(Success {
            status: 200,
            result: json!({
                "id": shared.token_id,
                "status": "active",
                "not_before": null,
                "expires_on": null,
            }),
            result_info: None,
            messages: vec![json!({
                "code": 10000,
                "message": "This API Token is valid and active",
                "type": null,
            })],
        }),
        _ => Err(ApiError::no_route()),
    }
}

fn list(shared: &Shared, req: &Request) -> Answer {
    let q = req.query;
    let page = Page::from_query(q, 20)?;
    let any = query(q, "match") == Some("any");
    let filters: Vec<(&str, &str)> = [
        ("name", "/name"),
        ("status", "/status"),
        ("account.id", "/account/id"),
        ("account.name", "/account/name"),
    ]
    .into_iter()
    .filter_map(|(k, ptr)| query(q, k).map(|v| (ptr, v)))
    .collect();
    let mut zones: Vec<Value> = shared.read(|w| {
        w.zones
            .values()
            .map(|z| z.record.clone())
            .filter(|z| {
                let hit =
                    |(ptr, v): &(&str, &str)| z.pointer(ptr).and_then(Value::as_str) == Some(v);
                filters.is_empty()
                    || if any {
                        filters.iter().any(hit)
                    } else {
                        filters.iter().all(hit)
                    }
            })
            .collect()
    });
    let key = query(q, "order").unwrap_or("name");
    let ptr = match key {
        "account.id" => "/account/id",
        "account.name" => "/account/name",
        "status" => "/status",
        _ => "/name",
    };
    zones.sort_by(|a, b| {
        a.pointer(ptr)
            .and_then(Value::as_str)
            .cmp(&b.pointer(ptr).and_then(Value::as_str))
    });
    if query(q, "direction") == Some("desc") {
        zones.reverse();
    }
    Ok(page.slice(zones))
}

fn create(shared: &Shared, req: &Request) -> Answer {
    let body = req.body_object();
    let name = body["name"].as_str().unwrap_or_default().to_lowercase();
    let account = body
        .pointer("/account/id")
        .and_then(Value::as_str)
        .map(str::to_string);
    shared.write(|w| {
        let account = match account {
            Some(a) if w.accounts.contains_key(&a) => a,
            Some(_) => return Err(ApiError::new(403, 10000, "Authentication error")),
            None => w
                .accounts
                .keys()
                .next()
                .cloned()
                .ok_or_else(|| ApiError::new(403, 10000, "Authentication error"))?,
        };
        if w.zones.values().any(|z| z.record["name"] == name) {
            return Err(ApiError::new(400, 1061, format!("{name} already exists")));
        }
        let id = hex_id();
        let account_name = w.accounts.get(&account).cloned().unwrap_or_default();
        let mut record = zone_record(&id, &name, &account, &account_name);
        record["status"] = "pending".into();
        record["activated_on"] = Value::Null;
        if let Some(t) = body.get("type") {
            record["type"] = t.clone();
        }
        w.zones.insert(
            id,
            Zone {
                record: record.clone(),
                dns_records: Vec::new(),
            },
        );
        Ok(Success::ok(record))
    })
}
