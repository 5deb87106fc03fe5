//! Cloudflare Access (`/accounts/{account_id}/access/...`): applications
//! (an `aud` tag generated per app, `domain`, `session_duration` 24h by
//! default, `policies` linked by id, by bare id or inline, in ascending
//! precedence), app-scoped (legacy) policies, reusable policies (`allow`,
//! `deny`, `bypass`, `non_identity`; `include` OR, `require` AND, `exclude`
//! NOT) and groups. Precedences within an app must be unique (12130,
//! cloudflare/terraform-provider-cloudflare#2354); a reusable policy that
//! an app uses cannot be deleted.

use serde_json::{json, Map, Value};

use super::envelope::{Answer, ApiError, Page, Success};
use super::world::{aud_tag, now_rfc3339, uuid, AccessObject, World};
use super::{Request, Shared};

/// Two policies of one app with the same precedence.
pub(crate) const DUPLICATE_PRECEDENCE: u32 = 12130;

/// Which store a path addresses.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    App,
    Policy,
    Group,
}

impl Kind {
    fn store(self, w: &mut World) -> &mut std::collections::BTreeMap<String, AccessObject> {
        match self {
            Kind::App => &mut w.apps,
            Kind::Policy => &mut w.policies,
            Kind::Group => &mut w.groups,
        }
    }

    fn store_ref(self, w: &World) -> &std::collections::BTreeMap<String, AccessObject> {
        match self {
            Kind::App => &w.apps,
            Kind::Policy => &w.policies,
            Kind::Group => &w.groups,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::App => "Application",
            Kind::Policy => "Policy",
            Kind::Group => "Access group",
        }
    }
}

fn not_found(kind: Kind) -> ApiError {
    ApiError::new(404, 12001, format!("{} not found", kind.label()))
}

pub(crate) fn dispatch(shared: &Shared, req: &Request) -> Answer {
    let account = super::zones::account(shared, req)?;
    let base = "/accounts/{account_id}/access";
    let Some(rest) = req.template.strip_prefix(base) else {
        return Err(ApiError::no_route());
    };
    match (req.method, rest) {
        ("GET", "/apps") => list(shared, &account, Kind::App, None, req),
        ("POST", "/apps") => save_app(shared, &account, None, req),
        ("GET", "/apps/{app_id}") => get(shared, &account, Kind::App, req.param("app_id"), None),
        ("PUT", "/apps/{app_id}") => save_app(shared, &account, Some(req.param("app_id")), req),
        ("DELETE", "/apps/{app_id}") => {
            delete(shared, &account, Kind::App, req.param("app_id"), None)
        }
        ("GET", "/apps/{app_id}/policies") => {
            app_exists(shared, &account, req.param("app_id"))?;
            list(
                shared,
                &account,
                Kind::Policy,
                Some(req.param("app_id")),
                req,
            )
        }
        ("POST", "/apps/{app_id}/policies") => save_scoped(shared, &account, None, req),
        ("GET", "/apps/{app_id}/policies/{policy_id}") => get(
            shared,
            &account,
            Kind::Policy,
            req.param("policy_id"),
            Some(req.param("app_id")),
        ),
        ("PUT", "/apps/{app_id}/policies/{policy_id}") => {
            save_scoped(shared, &account, Some(req.param("policy_id")), req)
        }
        ("DELETE", "/apps/{app_id}/policies/{policy_id}") => delete(
            shared,
            &account,
            Kind::Policy,
            req.param("policy_id"),
            Some(req.param("app_id")),
        ),
        ("GET", "/policies") => list(shared, &account, Kind::Policy, None, req),
        ("POST", "/policies") => save_plain(shared, &account, Kind::Policy, None, req),
        ("GET", "/policies/{policy_id}") => {
            get(shared, &account, Kind::Policy, req.param("policy_id"), None)
        }
        ("PUT", "/policies/{policy_id}") => save_plain(
            shared,
            &account,
            Kind::Policy,
            Some(req.param("policy_id")),
            req,
        ),
        ("DELETE", "/policies/{policy_id}") => {
            delete(shared, &account, Kind::Policy, req.param("policy_id"), None)
        }
        ("GET", "/groups") => list(shared, &account, Kind::Group, None, req),
        ("POST", "/groups") => save_plain(shared, &account, Kind::Group, None, req),
        ("GET", "/groups/{group_id}") => {
            get(shared, &account, Kind::Group, req.param("group_id"), None)
        }
        ("PUT", "/groups/{group_id}") => save_plain(
            shared,
            &account,
            Kind::Group,
            Some(req.param("group_id")),
            req,
        ),
        ("DELETE", "/groups/{group_id}") => {
            delete(shared, &account, Kind::Group, req.param("group_id"), None)
        }
        _ => Err(ApiError::no_route()),
    }
}

fn app_exists(shared: &Shared, account: &str, app: &str) -> Result<(), ApiError> {
    shared.read(|w| match w.apps.get(app) {
        Some(a) if a.account == account => Ok(()),
        _ => Err(not_found(Kind::App)),
    })
}

/// Objects of `kind` in `account`: reusable policies only, or the
/// policies scoped to `app`.
fn list(shared: &Shared, account: &str, kind: Kind, app: Option<&str>, req: &Request) -> Answer {
    let page = Page::from_query(req.query, 20)?;
    let items = shared.read(|w| {
        let mut objects: Vec<Value> = kind
            .store_ref(w)
            .values()
            .filter(|o| o.account == account && o.app.as_deref() == app)
            .map(|o| o.record.clone())
            .collect();
        objects.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
        objects
    });
    Ok(page.slice(items))
}

fn get(shared: &Shared, account: &str, kind: Kind, id: &str, app: Option<&str>) -> Answer {
    shared.read(|w| match kind.store_ref(w).get(id) {
        Some(o) if o.account == account && o.app.as_deref() == app => {
            Ok(Success::ok(o.record.clone()))
        }
        _ => Err(not_found(kind)),
    })
}

fn delete(shared: &Shared, account: &str, kind: Kind, id: &str, app: Option<&str>) -> Answer {
    shared.write(|w| {
        match kind.store(w).get(id) {
            Some(o) if o.account == account && o.app.as_deref() == app => {}
            _ => return Err(not_found(kind)),
        }
        if kind == Kind::Policy && app.is_none() {
            let users = w
                .apps
                .values()
                .filter(|a| {
                    a.record["policies"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["id"] == id))
                })
                .count();
            if users > 0 {
                return Err(ApiError::new(
                    400,
                    12131,
                    format!(
                        "policy is in use by {users} application(s): remove it from them first"
                    ),
                ));
            }
        }
        if kind == Kind::App {
            w.policies.retain(|_, p| p.app.as_deref() != Some(id));
        }
        kind.store(w).remove(id);
        Ok(Success::ok(json!({ "id": id })))
    })
}

/// The stored form of a policy or group: the body, the defaults the API
/// fills in, and the bookkeeping fields.
fn record_from(body: &Value, id: &str, created: Option<Value>, kind: Kind) -> Value {
    let now = now_rfc3339();
    let mut r: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
    r.insert("id".into(), id.into());
    for k in ["include", "exclude", "require"] {
        r.entry(k).or_insert(json!([]));
    }
    if kind == Kind::Policy {
        r.entry("reusable").or_insert(true.into());
        r.entry("approval_required").or_insert(false.into());
        r.entry("isolation_required").or_insert(false.into());
        r.entry("purpose_justification_required")
            .or_insert(false.into());
    }
    r.insert(
        "created_at".into(),
        created.unwrap_or_else(|| now.clone().into()),
    );
    r.insert("updated_at".into(), now.into());
    Value::Object(r)
}

/// POST or PUT of a reusable policy or a group.
fn save_plain(
    shared: &Shared,
    account: &str,
    kind: Kind,
    id: Option<&str>,
    req: &Request,
) -> Answer {
    let body = req.body_object();
    shared.write(|w| {
        let created = match id {
            Some(id) => match kind.store(w).get(id) {
                Some(o) if o.account == account && o.app.is_none() => {
                    Some(o.record["created_at"].clone())
                }
                _ => return Err(not_found(kind)),
            },
            None => None,
        };
        let id = id.map_or_else(uuid, str::to_string);
        let mut record = record_from(&body, &id, created, kind);
        if kind == Kind::Policy {
            let count = w
                .apps
                .values()
                .filter(|a| {
                    a.record["policies"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["id"] == id.as_str()))
                })
                .count();
            record["app_count"] = count.into();
            // The apps show the policy as it is now.
            for app in w.apps.values_mut() {
                for linked in app.record["policies"].as_array_mut().into_iter().flatten() {
                    if linked["id"] == id.as_str() {
                        let precedence = linked["precedence"].clone();
                        *linked = record.clone();
                        linked["precedence"] = precedence;
                    }
                }
            }
        }
        kind.store(w).insert(
            id,
            AccessObject {
                account: account.to_string(),
                app: None,
                record: record.clone(),
            },
        );
        Ok(Success::ok(record))
    })
}

/// POST or PUT of an app-scoped policy: its precedence must be free in
/// the app.
fn save_scoped(shared: &Shared, account: &str, id: Option<&str>, req: &Request) -> Answer {
    let app = req.param("app_id").to_string();
    let body = req.body_object();
    app_exists(shared, account, &app)?;
    shared.write(|w| {
        let created = match id {
            Some(id) => match w.policies.get(id) {
                Some(o) if o.account == account && o.app.as_deref() == Some(app.as_str()) => {
                    Some(o.record["created_at"].clone())
                }
                _ => return Err(not_found(Kind::Policy)),
            },
            None => None,
        };
        let id = id.map_or_else(uuid, str::to_string);
        let mut taken: Vec<i64> = w
            .policies
            .values()
            .filter(|p| p.app.as_deref() == Some(app.as_str()) && p.record["id"] != id.as_str())
            .filter_map(|p| p.record["precedence"].as_i64())
            .collect();
        taken.extend(
            w.apps[&app].record["policies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["reusable"] == true)
                .filter_map(|p| p["precedence"].as_i64()),
        );
        let precedence = body["precedence"]
            .as_i64()
            .unwrap_or_else(|| taken.iter().max().copied().unwrap_or(0) + 1);
        if taken.contains(&precedence) {
            return Err(precedence_clash());
        }
        let mut record = record_from(&body, &id, created, Kind::Policy);
        record["precedence"] = precedence.into();
        record["reusable"] = false.into();
        w.policies.insert(
            id,
            AccessObject {
                account: account.to_string(),
                app: Some(app),
                record: record.clone(),
            },
        );
        Ok(Success::ok(record))
    })
}

fn precedence_clash() -> ApiError {
    ApiError::new(
        400,
        DUPLICATE_PRECEDENCE,
        "policy precedences must be unique",
    )
}

/// An app's `policies` as the API returns them: each linked reusable
/// policy (or inline one, stored as app-scoped) with its precedence.
fn resolve_app_policies(
    w: &mut World,
    account: &str,
    app: &str,
    given: &[Value],
) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = Vec::new();
    let mut seen = Vec::new();
    for (index, item) in given.iter().enumerate() {
        let default_precedence = index as i64 + 1;
        let (id, precedence, inline) = match item {
            Value::String(id) => (Some(id.clone()), default_precedence, None),
            Value::Object(o) if o.contains_key("decision") => (
                None,
                o.get("precedence")
                    .and_then(Value::as_i64)
                    .unwrap_or(default_precedence),
                Some(item.clone()),
            ),
            Value::Object(o) => (
                o.get("id").and_then(Value::as_str).map(str::to_string),
                o.get("precedence")
                    .and_then(Value::as_i64)
                    .unwrap_or(default_precedence),
                None,
            ),
            _ => return Err(ApiError::invalid(format!("policies/{index}: not a policy"))),
        };
        if seen.contains(&precedence) {
            return Err(precedence_clash());
        }
        seen.push(precedence);
        let mut policy = match (id, inline) {
            (Some(id), _) => match w.policies.get(&id) {
                Some(p) if p.account == account && p.app.is_none() => p.record.clone(),
                _ => {
                    return Err(ApiError::new(
                        404,
                        12001,
                        format!("policies/{index}: no reusable policy with id {id}"),
                    ))
                }
            },
            (None, Some(body)) => {
                let id = uuid();
                let mut record = record_from(&body, &id, None, Kind::Policy);
                record["reusable"] = false.into();
                w.policies.insert(
                    id,
                    AccessObject {
                        account: account.to_string(),
                        app: Some(app.to_string()),
                        record: record.clone(),
                    },
                );
                record
            }
            (None, None) => {
                return Err(ApiError::invalid(format!(
                    "policies/{index}: give the policy's id or a policy object"
                )))
            }
        };
        policy["precedence"] = precedence.into();
        out.push(policy);
    }
    out.sort_by_key(|p| p["precedence"].as_i64());
    Ok(out)
}

/// POST or PUT of an application.
fn save_app(shared: &Shared, account: &str, id: Option<&str>, req: &Request) -> Answer {
    let body = req.body_object();
    shared.write(|w| {
        let previous = match id {
            Some(id) => match w.apps.get(id) {
                Some(a) if a.account == account => Some(a.record.clone()),
                _ => return Err(not_found(Kind::App)),
            },
            None => None,
        };
        let id = id.map_or_else(uuid, str::to_string);
        let given = body["policies"].as_array().cloned().unwrap_or_default();
        // Inline policies of the previous version are replaced.
        let inline: Vec<Value> = previous
            .as_ref()
            .and_then(|p| p["policies"].as_array())
            .into_iter()
            .flatten()
            .filter(|p| p["reusable"] == false)
            .map(|p| p["id"].clone())
            .collect();
        let mut scratch = w.clone();
        scratch
            .policies
            .retain(|pid, _| !inline.contains(&Value::String(pid.clone())));
        let policies = resolve_app_policies(&mut scratch, account, &id, &given)?;
        *w = scratch;
        let now = now_rfc3339();
        let mut r: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
        r.insert("id".into(), id.clone().into());
        let aud = previous
            .as_ref()
            .map(|p| p["aud"].clone())
            .unwrap_or_else(|| aud_tag().into());
        r.insert("aud".into(), aud);
        r.entry("type").or_insert("self_hosted".into());
        r.entry("session_duration").or_insert("24h".into());
        r.entry("app_launcher_visible").or_insert(true.into());
        r.entry("auto_redirect_to_identity").or_insert(false.into());
        r.entry("allowed_idps").or_insert(json!([]));
        if let Some(domain) = r.get("domain").cloned() {
            r.entry("self_hosted_domains").or_insert(json!([domain]));
        }
        r.insert("policies".into(), Value::Array(policies));
        r.insert(
            "created_at".into(),
            previous
                .as_ref()
                .map(|p| p["created_at"].clone())
                .unwrap_or_else(|| now.clone().into()),
        );
        r.insert("updated_at".into(), now.into());
        let record = Value::Object(r);
        w.apps.insert(
            id,
            AccessObject {
                account: account.to_string(),
                app: None,
                record: record.clone(),
            },
        );
        let counts: Vec<(String, usize)> = w
            .policies
            .iter()
            .filter(|(_, p)| p.app.is_none())
            .map(|(pid, _)| {
                let n = w
                    .apps
                    .values()
                    .filter(|a| {
                        a.record["policies"]
                            .as_array()
                            .is_some_and(|ps| ps.iter().any(|p| p["id"] == pid.as_str()))
                    })
                    .count();
                (pid.clone(), n)
            })
            .collect();
        for (pid, n) in counts {
            if let Some(p) = w.policies.get_mut(&pid) {
                p.record["app_count"] = n.into();
            }
        }
        Ok(Success::ok(record))
    })
}
