//! The handler-side vocabulary: request parameters, replies and the error
//! kinds PVE's REST layer maps to HTTP statuses.
//!
//! Status mapping (proxmox-api.md §3, `pve-manager PVE/HTTPServer.pm
//! rest_handler`, `pve-common Exception.pm`):
//! - [`ApiError::Param`] → **400** "Parameter verification failed." with an
//!   `errors` map in the body (`raise_param_exc`);
//! - [`ApiError::Die`] → **500** with the die text (no 404/409: "does not
//!   exist" and "already exists" are plain dies);
//! - [`ApiError::NotImplemented`] → **501**;
//! - [`ApiError::Status`] → any other status (403, 599, injected faults).
//!
//! The message always travels in the HTTP reason phrase; the JSON body is
//! `{"data":null}` (plus `errors`) because the `json` formatter adds no
//! `message` (`pve-http-server Formatter/Standard.pm prepare_response_data`
//! only adds it for `extjs`/`htmljs`).

use std::collections::BTreeMap;

use serde_json::Value;

/// An error a handler returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApiError {
    /// 400 "Parameter verification failed." with per-parameter messages.
    Param(BTreeMap<String, String>),
    /// 500 with this message (a `die` in the Perl handler).
    Die(String),
    /// 501 with this message.
    NotImplemented(String),
    /// Any status with this message.
    Status(u16, String),
}

impl ApiError {
    /// A 400 for one parameter.
    pub fn param(key: &str, message: impl Into<String>) -> Self {
        let mut errors = BTreeMap::new();
        errors.insert(key.to_string(), message.into());
        ApiError::Param(errors)
    }

    /// A 500 with `message`.
    pub fn die(message: impl Into<String>) -> Self {
        ApiError::Die(message.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Param(_) => 400,
            ApiError::Die(_) => 500,
            ApiError::NotImplemented(_) => 501,
            ApiError::Status(s, _) => *s,
        }
    }

    /// The reason phrase.
    pub fn message(&self) -> String {
        match self {
            ApiError::Param(_) => "Parameter verification failed.".to_string(),
            ApiError::Die(m) | ApiError::NotImplemented(m) | ApiError::Status(_, m) => m.clone(),
        }
    }
}

/// A successful reply: `{"data": ...}` plus optional result attributes.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// The `data` value.
    pub data: Value,
    /// The `total` attribute (task logs and lists set it).
    pub total: Option<u64>,
}

impl Reply {
    /// `{"data": data}`.
    pub fn data(data: Value) -> Self {
        Reply { data, total: None }
    }

    /// `{"data": null}`.
    pub fn null() -> Self {
        Reply::data(Value::Null)
    }
}

/// The handler result.
pub(crate) type ApiResult = Result<Reply, ApiError>;

/// Request parameters (query merged over body), with PVE's lenient
/// conversions. The schema validator rejects malformed values before a
/// handler runs; these helpers still refuse them with the same 400, so a
/// value the schema leaves unchecked never panics a handler.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Builds the map; later pairs win (query pairs come after body pairs).
    pub fn new(pairs: &[(String, String)]) -> Self {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            map.insert(k.clone(), v.clone());
        }
        Params { map }
    }

    /// The raw value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A required value.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .ok_or_else(|| ApiError::param(key, "property is missing and it is not optional"))
    }

    /// A boolean (`1/0`, `true/false`, `yes/no`, `on/off`); absent → `default`.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| {
                ApiError::param(key, format!("type check ('boolean') failed - got '{v}'"))
            }),
        }
    }

    /// An integer.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::param(key, format!("type check ('integer') failed - got '{v}'"))
            }),
        }
    }

    /// A VMID (100..=999999999).
    pub fn vmid(&self, key: &str) -> Result<Option<u32>, ApiError> {
        match self.int(key)? {
            None => Ok(None),
            Some(v) if (100..=999_999_999).contains(&v) => Ok(Some(v as u32)),
            Some(v) => Err(ApiError::param(
                key,
                format!("value must have a minimum value of 100 (got {v})"),
            )),
        }
    }

    /// Iterates over all pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Inserts a key (path parameters).
    pub fn insert(&mut self, key: &str, value: &str) {
        self.map.insert(key.to_string(), value.to_string());
    }
}

/// PVE's `parse_boolean`.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}
