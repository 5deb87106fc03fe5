//! Routing and request validation from the embedded OpenAPI subset
//! (`reference/cloudflare-openapi-subset.json`, cloudflare/api-schemas
//! 2024-08-06): the simulator serves exactly the operations the subset
//! holds, and refuses a query parameter or a body the schema refuses, so a
//! client tested here sends only what the real API documents.
//!
//! OpenAPI 3.0 schemas are JSON Schema draft 4 plus `nullable`; `nullable:
//! true` is turned into a `null` type before compiling. Two documented
//! mistakes of the 2024 file are corrected here (the file stays verbatim):
//! the catch-all ingress rule has no `hostname`, and a DNS record body does
//! not carry the read-only `id`/`proxiable`/`created_on`/`modified_on`.
//! A PATCH body is checked as a partial one (nothing required; `oneOf`
//! read as `anyOf`), as the API treats it.
//! Query parameters not in the operation are refused (the real API mostly
//! ignores them; refusing catches a client's typo).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

const SUBSET: &str = include_str!("../../../reference/cloudflare-openapi-subset.json");

/// One operation of the subset.
pub(crate) struct Operation {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path template, `/accounts/{account_id}/cfd_tunnel`.
    pub template: String,
    segments: Vec<String>,
    query: BTreeMap<String, QueryParam>,
    body: Option<Arc<jsonschema::Validator>>,
    body_required: bool,
}

/// A query parameter: its schema (for the value's JSON type) and validator.
struct QueryParam {
    schema: Value,
    validator: jsonschema::Validator,
}

/// Where a request lands.
pub(crate) enum Route<'a> {
    /// An operation, with the path's parameters (`account_id` → value).
    Found(&'a Operation, BTreeMap<String, String>),
    /// The path exists, not with this method.
    WrongMethod,
    /// No such path.
    Unknown,
}

/// The compiled subset.
pub(crate) struct Api {
    ops: Vec<Operation>,
}

/// The subset, compiled once per process.
pub(crate) fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| Api::compile(SUBSET).expect("the embedded OpenAPI subset compiles"))
}

/// `nullable: true` → the type also admits `null` (recursively).
fn openapi_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
            }
            map.values_mut().for_each(openapi_to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(openapi_to_json_schema),
        _ => {}
    }
}

/// The corrections described in the module doc.
fn correct_drift(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    if let Some(rule) = schemas.get_mut("tunnel_ingressRule") {
        rule["required"] = json!(["service"]);
    }
    if let Some(record) = schemas
        .get_mut("dns-records_dns-record")
        .and_then(Value::as_object_mut)
    {
        record.remove("required");
    }
}

/// A PATCH body's schema: the subset gives PATCH the POST body (the DNS
/// record with `type`, `name` and `content` required), but a PATCH sends
/// only what changes. Nothing is required, and `oneOf` becomes `anyOf`
/// (a partial body fits several record types at once).
fn partial(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("required");
            if let Some(branches) = map.remove("oneOf") {
                map.insert("anyOf".into(), branches);
            }
            map.values_mut().for_each(partial);
        }
        Value::Array(items) => items.iter_mut().for_each(partial),
        _ => {}
    }
}

impl Api {
    fn compile(text: &str) -> Result<Api, String> {
        let mut doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        correct_drift(&mut doc);
        openapi_to_json_schema(&mut doc);
        let components = doc["components"].clone();
        let resolve = |v: &Value| -> Value {
            // A parameter or body given as `$ref` to `#/components/...`.
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => r
                    .strip_prefix("#/")
                    .map(|p| p.split('/').fold(&doc, |node, key| &node[key]).clone())
                    .unwrap_or(Value::Null),
                None => v.clone(),
            }
        };
        let mut partial_components = components.clone();
        partial(&mut partial_components);
        let compile_with = |components: &Value, schema: &Value| {
            let wrapped = json!({
                "components": components,
                "allOf": [schema],
            });
            jsonschema::draft4::new(&wrapped).map_err(|e| e.to_string())
        };
        let compile = |schema: &Value| compile_with(&components, schema);
        let mut ops = Vec::new();
        let paths = doc["paths"].as_object().ok_or("no paths")?;
        for (template, item) in paths {
            let shared_params = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (method, op) in item.as_object().ok_or("bad path item")? {
                if method == "parameters" {
                    continue;
                }
                let mut query = BTreeMap::new();
                let own = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for p in shared_params.iter().chain(own.iter()).map(&resolve) {
                    if p["in"] == "query" {
                        let name = p["name"].as_str().unwrap_or_default().to_string();
                        let schema = p.get("schema").cloned().unwrap_or(json!({}));
                        let validator =
                            compile(&schema).map_err(|e| format!("{template} ?{name}: {e}"))?;
                        let schema = resolve_local(&components, &schema);
                        query.insert(name, QueryParam { schema, validator });
                    }
                }
                let body_spec = op.get("requestBody").map(&resolve);
                let body = match body_spec
                    .as_ref()
                    .and_then(|b| b.pointer("/content/application~1json/schema"))
                {
                    Some(s) => Some(Arc::new(
                        if method == "patch" {
                            let mut s = s.clone();
                            partial(&mut s);
                            compile_with(&partial_components, &s)
                        } else {
                            compile(s)
                        }
                        .map_err(|e| format!("{method} {template}: {e}"))?,
                    )),
                    None => None,
                };
                ops.push(Operation {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments: template
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    query,
                    body,
                    body_required: body_spec
                        .as_ref()
                        .and_then(|b| b.get("required"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                });
            }
        }
        Ok(Api { ops })
    }

    /// The operation `method path` lands on.
    pub fn route(&self, method: &str, path: &str) -> Route<'_> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut path_exists = false;
        for op in &self.ops {
            let Some(params) = match_template(&op.segments, &segs) else {
                continue;
            };
            if op.method == method {
                return Route::Found(op, params);
            }
            path_exists = true;
        }
        if path_exists {
            Route::WrongMethod
        } else {
            Route::Unknown
        }
    }
}

fn match_template(template: &[String], segs: &[&str]) -> Option<BTreeMap<String, String>> {
    if template.len() != segs.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (t, s) in template.iter().zip(segs) {
        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) => {
                let value = percent_decode(s);
                if value.is_empty() {
                    return None;
                }
                params.insert(name.to_string(), value);
            }
            None if t == s => {}
            None => return None,
        }
    }
    Some(params)
}

/// `%XX` decoding (and `+` as a space in queries: see [`query_pairs`]).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query string's `key=value` pairs, decoded.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

impl Operation {
    /// Checks the query against the operation's parameters: the first
    /// problem, worded `<name>: <why>`.
    pub fn validate_query(&self, pairs: &[(String, String)]) -> Result<(), String> {
        for (name, raw) in pairs {
            let Some(param) = self.query.get(name) else {
                let known: Vec<&str> = self.query.keys().map(String::as_str).collect();
                return Err(if known.is_empty() {
                    format!("{name}: this endpoint takes no query parameters")
                } else {
                    format!(
                        "{name}: unknown query parameter (this endpoint takes {})",
                        known.join(", ")
                    )
                });
            };
            let value = typed_query_value(&param.schema, raw);
            let first = param
                .validator
                .iter_errors(&value)
                .next()
                .map(|e| e.to_string());
            if let Some(e) = first {
                return Err(format!("{name}: {e}"));
            }
        }
        Ok(())
    }

    /// Checks the body: JSON, and what the schema accepts.
    pub fn validate_body(&self, body: &[u8]) -> Result<Option<Value>, String> {
        let Some(validator) = &self.body else {
            return Ok(None);
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            // The subset marks the `{}` body of a DELETE required; the API
            // (and cloudflared, and every SDK) sends none.
            return if self.body_required && self.method != "DELETE" {
                Err("the request body is required (a JSON object)".to_string())
            } else {
                Ok(None)
            };
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
        let first = validator.iter_errors(&value).next().map(|e| explain(&e));
        if let Some((at, e)) = first {
            let at = if at.is_empty() { "/".to_string() } else { at };
            return Err(format!("{at}: {e}"));
        }
        Ok(Some(value))
    }
}

/// The error to show for `e`: for a `oneOf`/`anyOf` no branch accepts
/// (a DNS record of some type, an Access app of some kind), the first
/// error of the branch that came closest (its `type` accepted, then the
/// fewest errors) rather than "not valid under any of the schemas".
fn explain(e: &jsonschema::ValidationError<'_>) -> (String, String) {
    use jsonschema::error::ValidationErrorKind;
    if let ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } =
        e.kind()
    {
        let closest = context
            .iter()
            .filter(|errs| !errs.is_empty())
            .min_by_key(|errs| {
                let wrong_type = errs
                    .iter()
                    .any(|x| x.instance_path().to_string().ends_with("/type"));
                (wrong_type, errs.len())
            });
        if let Some(first) = closest.and_then(|errs| errs.first()) {
            return explain(first);
        }
    }
    (e.instance_path().to_string(), e.to_string())
}

/// A `$ref` to `#/components/...`, followed once (for the type of a query
/// value).
fn resolve_local(components: &Value, schema: &Value) -> Value {
    let mut s = schema.clone();
    for _ in 0..8 {
        match s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/"))
        {
            Some(p) => {
                s = p
                    .split('/')
                    .fold(components, |node, key| &node[key])
                    .clone()
            }
            None => break,
        }
    }
    s
}

/// A query value as the JSON its schema expects (`per_page=5` → `5`,
/// `is_deleted=false` → `false`); left a string when it does not parse, so
/// the schema's error names the type.
fn typed_query_value(schema: &Value, raw: &str) -> Value {
    let ty = schema
        .get("type")
        .and_then(|t| t.as_str().or_else(|| t.get(0).and_then(Value::as_str)));
    match ty {
        Some("integer") => raw.parse::<i64>().map(Value::from).unwrap_or(raw.into()),
        Some("number") => raw.parse::<f64>().map(Value::from).unwrap_or(raw.into()),
        Some("boolean") => match raw {
            "true" => true.into(),
            "false" => false.into(),
            _ => raw.into(),
        },
        Some("array") => Value::Array(raw.split(',').map(|s| s.into()).collect()),
        _ => raw.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_compiles_and_routes() {
        let api = api();
        assert!(matches!(
            api.route("GET", "/accounts/abc/cfd_tunnel"),
            Route::Found(op, p) if op.template == "/accounts/{account_id}/cfd_tunnel" && p["account_id"] == "abc"
        ));
        assert!(matches!(
            api.route("PATCH", "/accounts/abc/cfd_tunnel"),
            Route::WrongMethod
        ));
        assert!(matches!(api.route("GET", "/nope"), Route::Unknown));
    }

    #[test]
    fn the_catch_all_rule_and_a_dns_body_pass_the_corrected_schema() {
        let Route::Found(put, _) = api().route("PUT", "/accounts/a/cfd_tunnel/t/configurations")
        else {
            panic!("no route")
        };
        let body = br#"{"config":{"ingress":[{"service":"http_status:404"}]}}"#;
        assert!(put.validate_body(body).is_ok());
        let Route::Found(post, _) = api().route("POST", "/zones/z/dns_records") else {
            panic!("no route")
        };
        let ok = br#"{"type":"CNAME","name":"a.example.com","content":"x.cfargotunnel.com","proxied":true,"ttl":1}"#;
        assert!(
            post.validate_body(ok).is_ok(),
            "{:?}",
            post.validate_body(ok)
        );
        let bad = br#"{"type":"CNAME","name":"a.example.com","content":"x","ttl":"auto"}"#;
        assert!(post.validate_body(bad).is_err());
    }
}
