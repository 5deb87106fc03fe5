//! DNS records (`/zones/{zone_id}/dns_records...`): create, list (the
//! `name`/`type`/`content`/`proxied`/`comment*`/`tag*`/`search` filters,
//! `match`, `order`, `direction`; 100 per page by default), read,
//! overwrite (PUT), update (PATCH), delete.
//!
//! The rules the API enforces on a name: a CNAME cannot share its name
//! with any other record (81053 when the CNAME comes second, 81054 when
//! another record joins a CNAME), an identical record exists only once
//! (81057), only A, AAAA and CNAME records can be proxied (9004). Names
//! are stored fully qualified and lowercase (`grafana` and `@` are
//! relative to the zone); `ttl: 1` means automatic.
//!
//! Record attributes have per-plan quotas (cloudflare-docs
//! `src/content/plans/index.json`: `dns.record_comments`,
//! `dns.record_tags`): a Free zone takes no tags (400/1004 "DNS Validation
//! Error", chain 9300 "DNS record has N tags, exceeding the quota of 0.",
//! kubernetes-sigs/external-dns#3706) and comments of at most 100
//! characters (chain 9313 "DNS record comment exceeds the maximum length of
//! 100 characters.", STRRL/cloudflare-tunnel-ingress-controller#139); a
//! paid one 20 tags and 500 characters. A zone's plan is its
//! `plan.legacy_id` ([`super::CloudflareSim::set_zone_plan`]).

use serde_json::{json, Map, Value};

use super::envelope::{query, Answer, ApiError, Page, Success};
use super::world::{hex_id, now_rfc3339};
use super::{Request, Shared};

/// A CNAME joining a name that has other records.
pub(crate) const CNAME_AFTER_OTHERS: u32 = 81053;
/// A record joining a name that has a CNAME.
pub(crate) const OTHERS_AFTER_CNAME: u32 = 81054;
/// The same type, name and content again.
pub(crate) const IDENTICAL: u32 = 81057;

pub(crate) fn dispatch(shared: &Shared, req: &Request) -> Answer {
    let zone = super::zones::zone_id(shared, req)?;
    match (req.method, req.template) {
        ("GET", "/zones/{zone_id}/dns_records") => list(shared, &zone, req),
        ("POST", "/zones/{zone_id}/dns_records") => {
            write(shared, &zone, None, req.body_object(), false)
        }
        ("GET", "/zones/{zone_id}/dns_records/{dns_record_id}") => {
            let id = req.param("dns_record_id");
            shared.read(|w| {
                w.zones[&zone]
                    .dns_records
                    .iter()
                    .find(|r| r["id"] == id)
                    .cloned()
                    .map(Success::ok)
                    .ok_or_else(missing)
            })
        }
        ("PUT", "/zones/{zone_id}/dns_records/{dns_record_id}") => write(
            shared,
            &zone,
            Some(req.param("dns_record_id")),
            req.body_object(),
            false,
        ),
        ("PATCH", "/zones/{zone_id}/dns_records/{dns_record_id}") => write(
            shared,
            &zone,
            Some(req.param("dns_record_id")),
            req.body_object(),
            true,
        ),
        ("DELETE", "/zones/{zone_id}/dns_records/{dns_record_id}") => {
            let id = req.param("dns_record_id");
            shared.write(|w| {
                let records = &mut w.zones.get_mut(&zone).ok_or_else(missing)?.dns_records;
                let at = records
                    .iter()
                    .position(|r| r["id"] == id)
                    .ok_or_else(missing)?;
                records.remove(at);
                Ok(Success::ok(json!({ "id": id })))
            })
        }
        _ => Err(ApiError::no_route()),
    }
}

fn missing() -> ApiError {
    ApiError::new(404, 81044, "Record does not exist.")
}

/// `name` fully qualified in `zone` and lowercase.
fn qualify(name: &str, zone: &str) -> String {
    let name = name.trim_end_matches('.').to_lowercase();
    if name == "@" || name.is_empty() {
        zone.to_string()
    } else if name == zone || name.ends_with(&format!(".{zone}")) {
        name
    } else {
        format!("{name}.{zone}")
    }
}

/// Creates (`id` none), overwrites (PUT) or updates (PATCH, `merge`).
fn write(shared: &Shared, zone: &str, id: Option<&str>, body: Value, merge: bool) -> Answer {
    shared.write(|w| {
        let z = w.zones.get_mut(zone).ok_or_else(missing)?;
        let zone_name = z.record["name"].as_str().unwrap_or_default().to_string();
        let existing = match id {
            Some(id) => Some(
                z.dns_records
                    .iter()
                    .position(|r| r["id"] == id)
                    .ok_or_else(missing)?,
            ),
            None => None,
        };
        let mut fields: Map<String, Value> = match (existing, merge) {
            (Some(at), true) => z.dns_records[at].as_object().cloned().unwrap_or_default(),
            _ => Map::new(),
        };
        for (k, v) in body.as_object().cloned().unwrap_or_default() {
            fields.insert(k, v);
        }
        let rtype = fields
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = qualify(
            fields.get("name").and_then(Value::as_str).unwrap_or_default(),
            &zone_name,
        );
        let content = fields
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let proxiable = matches!(rtype.as_str(), "A" | "AAAA" | "CNAME");
        let proxied = fields.get("proxied").and_then(Value::as_bool).unwrap_or(false);
        if proxied && !proxiable {
            return Err(ApiError::new(
                400,
                9004,
                "This record type cannot be proxied.",
            ));
        }
        let free = z.record.pointer("/plan/legacy_id").and_then(Value::as_str) == Some("free");
        let (max_tags, max_comment) = if free { (0, 100) } else { (20, 500) };
        let tags = fields.get("tags").and_then(Value::as_array).map_or(0, Vec::len);
        if tags > max_tags {
            return Err(ApiError::dns_validation(
                9300,
                format!("DNS record has {tags} tags, exceeding the quota of {max_tags}."),
            ));
        }
        let comment = fields.get("comment").and_then(Value::as_str).unwrap_or_default();
        if comment.chars().count() > max_comment {
            return Err(ApiError::dns_validation(
                9313,
                format!("DNS record comment exceeds the maximum length of {max_comment} characters."),
            ));
        }
        let own_id = existing.map(|at| z.dns_records[at]["id"].clone());
        let others = z
            .dns_records
            .iter()
            .filter(|r| Some(&r["id"]) != own_id.as_ref() && r["name"] == name.as_str());
        for other in others {
            if other["type"] == rtype.as_str() && other["content"] == content.as_str() {
                return Err(ApiError::new(400, IDENTICAL, "The record already exists."));
            }
            if rtype == "CNAME" {
                return Err(ApiError::new(
                    400,
                    CNAME_AFTER_OTHERS,
                    "An A, AAAA, or CNAME record with that host already exists. For more details, refer to <https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>.",
                ));
            }
            if other["type"] == "CNAME" {
                return Err(ApiError::new(
                    400,
                    OTHERS_AFTER_CNAME,
                    "A CNAME record with that host already exists. For more details, refer to <https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>.",
                ));
            }
        }
        let now = now_rfc3339();
        let created = existing
            .map(|at| z.dns_records[at]["created_on"].clone())
            .unwrap_or_else(|| now.clone().into());
        let record = json!({
            "id": own_id.clone().unwrap_or_else(|| hex_id().into()),
            "zone_id": zone,
            "zone_name": zone_name,
            "name": name,
            "type": rtype,
            "content": content,
            "proxiable": proxiable,
            "proxied": proxied,
            "ttl": fields.get("ttl").cloned().unwrap_or(json!(1)),
            "locked": false,
            "meta": {"auto_added": false, "managed_by_apps": false, "managed_by_argo_tunnel": false},
            "comment": fields.get("comment").cloned().unwrap_or(Value::Null),
            "tags": fields.get("tags").cloned().unwrap_or(json!([])),
            "created_on": created,
            "modified_on": now,
        });
        let mut record = record;
        for extra in ["priority", "data", "settings"] {
            if let Some(v) = fields.get(extra) {
                record[extra] = v.clone();
            }
        }
        match existing {
            Some(at) => z.dns_records[at] = record.clone(),
            None => z.dns_records.push(record.clone()),
        }
        Ok(Success::ok(record))
    })
}

/// A text filter: `key` (exact), `key.exact`, `key.contains`,
/// `key.startswith`, `key.endswith`, `key.present`, `key.absent`; each
/// `Some(matches)` when the query sets it.
fn text_filters(q: &[(String, String)], key: &str, value: Option<&str>) -> Vec<bool> {
    let v = value.unwrap_or_default().to_lowercase();
    let mut out = Vec::new();
    for (k, want) in q {
        let want = want.to_lowercase();
        let Some(op) = k.strip_prefix(key) else {
            continue;
        };
        out.push(match op {
            "" | ".exact" => value.is_some() && v == want,
            ".contains" => value.is_some() && v.contains(&want),
            ".startswith" => value.is_some() && v.starts_with(&want),
            ".endswith" => value.is_some() && v.ends_with(&want),
            ".present" => value.is_some_and(|s| !s.is_empty()),
            ".absent" => value.is_none_or(str::is_empty),
            _ => continue,
        });
    }
    out
}

/// Tag filters: `tag=name:value` or `tag=name` (exact), `tag.present=name`,
/// `tag.absent=name`, `tag.exact=name:value`, `tag.contains=name:part`, ...
fn tag_filters(q: &[(String, String)], tags: &[&str]) -> Vec<bool> {
    let split = |t: &str| {
        t.split_once(':')
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .unwrap_or((t.to_string(), String::new()))
    };
    let tags: Vec<(String, String)> = tags.iter().map(|t| split(t)).collect();
    let mut out = Vec::new();
    for (k, want) in q {
        let Some(op) = k.strip_prefix("tag") else {
            continue;
        };
        let (name, value) = split(want);
        let with = |f: &dyn Fn(&str) -> bool| tags.iter().any(|(n, v)| *n == name && f(v));
        out.push(match op {
            "" if !want.contains(':') => with(&|_| true),
            "" | ".exact" => with(&|v| v == value),
            ".contains" => with(&|v| v.contains(&value)),
            ".startswith" => with(&|v| v.starts_with(&value)),
            ".endswith" => with(&|v| v.ends_with(&value)),
            ".present" => tags.iter().any(|(n, _)| *n == want.as_str()),
            ".absent" => !tags.iter().any(|(n, _)| *n == want.as_str()),
            _ => continue,
        });
    }
    out
}

fn list(shared: &Shared, zone: &str, req: &Request) -> Answer {
    let q = req.query;
    let page = Page::from_query(q, 100)?;
    let any = query(q, "match") == Some("any");
    let tags_all = query(q, "tag_match") != Some("any");
    let (records, zone_name) = shared.read(|w| {
        let z = &w.zones[zone];
        (
            z.dns_records.clone(),
            z.record["name"].as_str().unwrap_or_default().to_string(),
        )
    });
    let mut hits: Vec<Value> = records
        .into_iter()
        .filter(|r| {
            let s = |k: &str| r[k].as_str();
            let mut checks = Vec::new();
            if let Some(n) = query(q, "name") {
                checks.push(s("name") == Some(qualify(n, &zone_name).as_str()));
            }
            if let Some(t) = query(q, "type") {
                checks.push(s("type") == Some(t));
            }
            if let Some(c) = query(q, "content") {
                checks.push(s("content").is_some_and(|v| v.eq_ignore_ascii_case(c)));
            }
            if let Some(p) = query(q, "proxied") {
                checks.push(r["proxied"].as_bool() == Some(p == "true"));
            }
            if let Some(term) = query(q, "search") {
                let term = term.to_lowercase();
                checks.push(
                    ["name", "content", "comment"]
                        .iter()
                        .any(|k| s(k).is_some_and(|v| v.to_lowercase().contains(&term))),
                );
            }
            checks.extend(text_filters(q, "comment", s("comment")));
            let tags: Vec<&str> = r["tags"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let tag_checks = tag_filters(q, &tags);
            if !tag_checks.is_empty() {
                checks.push(if tags_all {
                    tag_checks.iter().all(|b| *b)
                } else {
                    tag_checks.iter().any(|b| *b)
                });
            }
            checks.is_empty()
                || if any {
                    checks.iter().any(|b| *b)
                } else {
                    checks.iter().all(|b| *b)
                }
        })
        .collect();
    let key = query(q, "order").unwrap_or("type").to_string();
    hits.sort_by(|a, b| {
        let k = |r: &Value| (r[key.as_str()].to_string(), r["name"].to_string());
        k(a).cmp(&k(b))
    });
    if query(q, "direction") == Some("desc") {
        hits.reverse();
    }
    Ok(page.slice(hits))
}
