//! cloudflared's ingress rules: which rule lists it accepts (with its own
//! messages) and which rule a request matches.
//!
//! A transcription of cloudflare/cloudflared `ingress/ingress.go`
//! (`validateIngress`, `validateHostname`, `validateAccessConfiguration`,
//! `FindMatchingRule`, `matchHost`) and `ingress/rule.go` (`Matches`) at
//! `d1df7985bdf189c4caf34e290bafbf8f411e603b`. Rules are the API's JSON
//! (`hostname?`, `path?`, `service`, `originRequest`, camelCase). The
//! checks run per rule, in cloudflared's order: the service, then
//! `originRequest.access`, then the hostname (port, wildcard, catch-all
//! placement), then the path regex; the first violation is the answer.
//!
//! Not transcribed: IDN hostnames are not also matched in punycode, and
//! the top-level `originRequest` defaults (only a rule's own
//! `bastionMode` makes it a bastion here).

use serde_json::Value;

use super::{go_regexp, go_url};

/// cloudflared's `ErrNoIngressRules`.
pub const NO_INGRESS_RULES: &str = "The config file doesn't contain any ingress rules";
/// cloudflared's `errLastRuleNotCatchAll`.
pub const LAST_RULE_NOT_CATCH_ALL: &str =
    "The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)";
/// cloudflared's `errBadWildcard`.
pub const BAD_WILDCARD: &str = "Hostname patterns can have at most one wildcard character (\"*\") and it can only be used for subdomains, e.g. \"*.example.com\"";
/// cloudflared's `errHostnameContainsPort`.
pub const HOSTNAME_CONTAINS_PORT: &str = "Hostname cannot contain a port";
/// cloudflared's `validateAccessConfiguration` error.
pub const ACCESS_TEAM_NAME_BLANK: &str =
    "access.TeamName cannot be blank when access.audTags are present";

/// Checks an ingress rule list as cloudflared does (`cloudflared tunnel
/// ingress validate`, and the API's `PUT …/configurations`). The error is
/// the first violation, in cloudflared's words.
///
/// ```
/// use lab_net::cloudflare::validate_ingress;
/// use serde_json::json;
///
/// let ok = [json!({"hostname": "a.example.com", "service": "http://10.0.0.5:80"}),
///           json!({"service": "http_status:404"})];
/// assert!(validate_ingress(&ok).is_ok());
/// let no_catch_all = [json!({"hostname": "a.example.com", "service": "http://10.0.0.5"})];
/// assert_eq!(
///     validate_ingress(&no_catch_all).unwrap_err(),
///     "The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)"
/// );
/// ```
pub fn validate_ingress(rules: &[Value]) -> Result<(), String> {
    if rules.is_empty() {
        return Err(NO_INGRESS_RULES.into());
    }
    for (i, raw) in rules.iter().enumerate() {
        let rule = Rule::decode(raw)?;
        validate_service(&rule)?;
        validate_access(raw)?;
        validate_hostname(&rule, i, rules.len())?;
        if !rule.path.is_empty() {
            go_regexp::compile(&rule.path)
                .map_err(|e| format!("Rule #{} has an invalid regex: {e}", i + 1))?;
        }
    }
    Ok(())
}

/// The index of the rule a request for `host` (a port is ignored, as
/// cloudflared ignores it) and `path` matches: the first rule whose
/// hostname is empty or `*`, equal to the host, or `*.suffix` with the
/// host ending in `.suffix` (any depth: `*.example.com` matches
/// `a.b.example.com`), and whose path regex, unanchored, matches
/// somewhere in `path`.
///
/// `None` when no rule matches, which cannot happen for a list that
/// [`validate_ingress`] accepts (its last rule matches everything). A rule
/// whose path does not compile, or that is not an object, never matches.
///
/// ```
/// use lab_net::cloudflare::matching_rule;
/// use serde_json::json;
///
/// let rules = [json!({"hostname": "*.example.com", "path": "admin", "service": "http_status:403"}),
///              json!({"hostname": "*.example.com", "service": "http://10.0.0.5"}),
///              json!({"service": "http_status:404"})];
/// assert_eq!(matching_rule(&rules, "a.b.example.com:443", "/x/admin/y"), Some(0));
/// assert_eq!(matching_rule(&rules, "blog.example.com", "/"), Some(1));
/// assert_eq!(matching_rule(&rules, "example.com", "/"), Some(2));
/// ```
pub fn matching_rule(rules: &[Value], host: &str, path: &str) -> Option<usize> {
    let host = match split_host_port(host) {
        Ok((h, _)) => h,
        Err(_) => host,
    };
    rules.iter().position(|raw| {
        let Ok(rule) = Rule::decode(raw) else {
            return false;
        };
        let host_match =
            rule.hostname.is_empty() || rule.hostname == "*" || match_host(&rule.hostname, host);
        let path_match = rule.path.is_empty()
            || go_regexp::compile(&rule.path).is_ok_and(|re| re.is_match(path));
        host_match && path_match
    })
}

/// cloudflared's `matchHost`.
fn match_host(rule_host: &str, req_host: &str) -> bool {
    if rule_host == req_host {
        return true;
    }
    match rule_host.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') => req_host.ends_with(suffix),
        _ => false,
    }
}

/// The fields of a rule cloudflared's checks read (`UnvalidatedIngressRule`;
/// absent or `null` is the empty string).
struct Rule {
    hostname: String,
    path: String,
    service: String,
    bastion_mode: bool,
}

impl Rule {
    fn decode(raw: &Value) -> Result<Rule, String> {
        let Some(object) = raw.as_object() else {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type config.UnvalidatedIngressRule",
                json_kind(raw)
            ));
        };
        let text = |field: &str| -> Result<String, String> {
            match object.get(field) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(unmarshal_error(other, field, "string")),
            }
        };
        let origin = object.get("originRequest").and_then(Value::as_object);
        let bastion_mode = match origin.and_then(|o| o.get("bastionMode")) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(unmarshal_error(other, "originRequest.bastionMode", "bool")),
        };
        Ok(Rule {
            hostname: text("hostname")?,
            path: text("path")?,
            service: text("service")?,
            bastion_mode,
        })
    }

    /// cloudflared's `isCatchAllRule`.
    fn is_catch_all(&self) -> bool {
        (self.hostname.is_empty() || self.hostname == "*") && self.path.is_empty()
    }
}

fn unmarshal_error(value: &Value, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field UnvalidatedIngressRule.{field} of type {go_type}",
        json_kind(value)
    )
}

/// The JSON type name Go's `encoding/json` reports.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The service part of `validateIngress`.
fn validate_service(rule: &Rule) -> Result<(), String> {
    let service = rule.service.as_str();
    if service.starts_with("unix:") || service.starts_with("unix+tls:") {
        return Ok(());
    }
    if let Some(code) = service.strip_prefix("http_status:") {
        let status = go_atoi(code).map_err(|e| format!("invalid HTTP status code: {e}"))?;
        if !(100..=999).contains(&status) {
            return Err(format!("invalid HTTP status code: {status}"));
        }
        return Ok(());
    }
    if service == "hello-world" || service == "hello_world" {
        return Ok(());
    }
    if service == "socks-proxy" {
        return Ok(());
    }
    if service == "bastion" || rule.bastion_mode {
        return Ok(());
    }
    let url = go_url::parse(service)?;
    if url.scheme.is_empty() || url.hostname.is_empty() {
        return Err(format!(
            "{service} is an invalid address, please make sure it has a scheme and a hostname"
        ));
    }
    if !url.path.is_empty() {
        return Err(format!(
            "{service} is an invalid address, ingress rules don't support proxying to a different path on the origin service. The path will be the same as the eyeball request's path"
        ));
    }
    Ok(())
}

/// The `socks-proxy` IP rules and `originRequest.access`, in the order
/// `validateIngress` checks them.
fn validate_access(raw: &Value) -> Result<(), String> {
    let origin = raw.get("originRequest");
    if raw.get("service").and_then(Value::as_str) == Some("socks-proxy") {
        let ip_rules = origin
            .and_then(|o| o.get("ipRules"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for ip_rule in ip_rules {
            socks_ip_rule(ip_rule)
                .map_err(|e| format!("unable to create ip rule for socks-proxy: {e}"))?;
        }
    }
    let Some(access) = origin
        .and_then(|o| o.get("access"))
        .filter(|a| !a.is_null())
    else {
        return Ok(());
    };
    let required = access
        .get("required")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !required {
        return Ok(());
    }
    let team_blank = access
        .get("teamName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty();
    let has_aud = access
        .get("audTag")
        .and_then(Value::as_array)
        .is_some_and(|tags| !tags.is_empty());
    if team_blank && has_aud {
        return Err(ACCESS_TEAM_NAME_BLANK.into());
    }
    Ok(())
}

/// ipaccess `NewRuleByCIDR` + `Validate`.
fn socks_ip_rule(rule: &Value) -> Result<(), String> {
    let prefix = rule.get("prefix").and_then(Value::as_str).unwrap_or("");
    if prefix.is_empty() {
        return Err("no prefix provided".into());
    }
    if !valid_cidr(prefix) {
        return Err(format!("unable to parse cidr: {prefix}"));
    }
    let ports = rule
        .get("ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut ports: Vec<i64> = ports.iter().filter_map(Value::as_i64).collect();
    ports.sort_unstable();
    if let Some(bad) = ports.iter().find(|p| !(1..=65535).contains(*p)) {
        return Err(format!(
            "invalid port {bad}, needs to be between 1 and 65535"
        ));
    }
    Ok(())
}

fn valid_cidr(prefix: &str) -> bool {
    let Some((ip, bits)) = prefix.split_once('/') else {
        return false;
    };
    let max = match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => 32,
        Ok(std::net::IpAddr::V6(_)) => 128,
        Err(_) => return false,
    };
    !bits.is_empty()
        && bits.len() <= 3
        && bits.bytes().all(|b| b.is_ascii_digit())
        && bits.parse::<u32>().is_ok_and(|b| b <= max)
}

/// `validateHostname`.
fn validate_hostname(rule: &Rule, index: usize, total: usize) -> Result<(), String> {
    if split_host_port(&rule.hostname).is_ok() {
        return Err(HOSTNAME_CONTAINS_PORT.into());
    }
    if rule.hostname.rfind('*').is_some_and(|i| i > 0) {
        return Err(BAD_WILDCARD.into());
    }
    let is_last = index == total - 1;
    if is_last && !rule.is_catch_all() {
        return Err(LAST_RULE_NOT_CATCH_ALL.into());
    }
    if !is_last && rule.is_catch_all() {
        return Err(format!(
            "Rule #{} is matching the hostname '{}', but this will match every hostname, meaning the rules which follow it will never be triggered.",
            index + 1,
            rule.hostname
        ));
    }
    Ok(())
}

/// Go's `net.SplitHostPort` (the port need not be a number).
fn split_host_port(hostport: &str) -> Result<(&str, &str), &'static str> {
    let Some(i) = hostport.rfind(':') else {
        return Err("missing port in address");
    };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return Err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return Err("missing port in address");
        } else if end + 1 != i {
            if hostport.as_bytes()[end + 1] == b':' {
                return Err("too many colons in address");
            }
            return Err("missing port in address");
        }
        host = &hostport[1..end];
        (j, k) = (1, end + 1);
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return Err("too many colons in address");
        }
        (j, k) = (0, 0);
    }
    if hostport[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

/// Go's `strconv.Atoi` with its error text.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

/// Go's `%q` of a string (close enough: Rust's debug quoting).
pub(crate) fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
#[path = "ingress_tests.rs"]
mod tests;
