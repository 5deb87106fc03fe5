//! Errors, parameters and small JSON helpers of the request handlers.
//!
//! PBS (proxmox-rest-server `formatter.rs error_to_response`) answers an
//! error with its text as the body: the `HttpError`'s status where a
//! handler chose one (403 `permission check failed`, 404 `datastore 'x'
//! does not exist.`), else 400; parameter errors (proxmox-schema's
//! `ParameterError`) read `parameter verification errors\n\nparameter
//! '<name>': <message>\n`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PbsError {
    pub status: u16,
    pub message: String,
}

impl PbsError {
    /// 400 with `message` (a handler's plain `bail!`).
    pub fn bad(message: impl Into<String>) -> Self {
        PbsError {
            status: 400,
            message: message.into(),
        }
    }

    /// Another status.
    pub fn http(status: u16, message: impl Into<String>) -> Self {
        PbsError {
            status,
            message: message.into(),
        }
    }

    /// 403 `permission check failed`.
    pub fn forbidden() -> Self {
        PbsError::http(403, "permission check failed")
    }

    /// A parameter error for one parameter.
    pub fn param(name: &str, message: impl Into<String>) -> Self {
        let mut errors = BTreeMap::new();
        errors.insert(name.to_string(), message.into());
        PbsError::params(&errors)
    }

    /// A parameter error for several.
    pub fn params(errors: &BTreeMap<String, String>) -> Self {
        let mut text = String::from("parameter verification errors\n\n");
        for (k, v) in errors {
            text.push_str(&format!("parameter '{k}': {}\n", v.trim_end()));
        }
        PbsError::bad(text)
    }
}

pub(crate) type Res = Result<Value, PbsError>;

/// Request parameters (query and body merged; repeated keys kept).
#[derive(Clone, Debug, Default)]
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A required value (the schema checked presence already).
    pub fn req(&self, key: &str) -> Result<&str, PbsError> {
        self.get(key)
            .ok_or_else(|| PbsError::param(key, "parameter is missing and it is not optional."))
    }

    /// A boolean (`1`/`true`/`yes`/`on`).
    pub fn flag(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            Some(v) => lab_proxmox::api::lenient::parse_bool(v).unwrap_or(default),
            None => default,
        }
    }

    /// An integer.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }

    /// The namespace parameter `key`, `""` for the root.
    pub fn ns(&self, key: &str) -> String {
        self.get(key).unwrap_or("").trim_matches('/').to_string()
    }
}

/// A JSON object from pairs.
pub(crate) fn object<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A parameter value as PBS stores it in a config: integers and booleans
/// typed by the schema's type for the key.
pub(crate) fn typed(kind: &str, value: &str) -> Value {
    match kind {
        "integer" => value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| value.into()),
        "boolean" => lab_proxmox::api::lenient::parse_bool(value)
            .map(Value::from)
            .unwrap_or_else(|| value.into()),
        _ => value.into(),
    }
}

/// `vm/101/2026-12-03T01:00:00Z`: a snapshot's path as PBS prints it.
pub(crate) fn snapshot_dir(backup_type: &str, backup_id: &str, time: i64) -> String {
    format!("{backup_type}/{backup_id}/{}", rfc3339(time))
}

/// RFC 3339 UTC, seconds.
pub(crate) fn rfc3339(time: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(time) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => time.to_string(),
    }
}

/// The parameters of a config write as PBS stores them (typed by the
/// schema; arrays for array properties), leaving out `skip` and `delete`
/// and `digest`.
pub(crate) fn config_props(
    schema: &crate::schema::ApiSchema,
    method: &str,
    path: &str,
    p: &Params,
    skip: &[&str],
) -> Map<String, Value> {
    let route = schema.route(method, path);
    let mut out = Map::new();
    for (k, v) in &p.0 {
        if skip.contains(&k.as_str()) || k == "delete" || k == "digest" {
            continue;
        }
        let kind = route
            .as_ref()
            .and_then(|r| r.method().parameter(k))
            .map(|(_, prop)| prop.kind().name())
            .unwrap_or("string");
        if kind == "array" {
            let entry = out
                .entry(k.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = entry {
                a.push(Value::from(v.clone()));
            }
        } else {
            out.insert(k.clone(), typed(kind, v));
        }
    }
    out
}

/// Applies a PUT: sets `props`, removes each `delete` entry.
pub(crate) fn apply_update(config: &mut Map<String, Value>, props: Map<String, Value>, p: &Params) {
    for d in p.all("delete") {
        for key in d.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            config.remove(key);
        }
    }
    config.extend(props);
}

/// A digest of a config (PBS sends the SHA-256 of the file section).
pub(crate) fn digest(config: &Map<String, Value>) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(config).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
