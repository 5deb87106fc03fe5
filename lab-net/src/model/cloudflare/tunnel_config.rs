//! [`TunnelConfig`] and [`TunnelIngress`]: a tunnel's ingress document.

use std::panic::Location;

use indexmap::IndexMap;
use lab_core::model::Dependency;
use lab_core::{Address, Handle, Loc, Problem, ResourceSpec, Value};
use serde_json::json;

use super::{
    cf_spec, from_json, hostname_problem, output_ref, AccessApp, Account, Tunnel, TunnelOutput,
};
use crate::cloudflare::{go_regexp, validate_ingress};
use crate::kinds::cloudflare::{CATCH_ALL_SERVICE, TUNNEL_CONFIG};
use crate::model::net_resource;

/// One ingress rule: requests for `hostname` (and `path`) go to `service`.
///
/// ```
/// use lab_net::model::cloudflare::TunnelIngress;
/// let rule = TunnelIngress::new("grafana.example.com", "https://10.0.20.5:3000")
///     .origin_server_name("grafana.lab.home.arpa")
///     .path("^/(api|d)/");
/// ```
pub struct TunnelIngress {
    rule: serde_json::Map<String, serde_json::Value>,
    access: Option<(Value, Dependency)>,
    problems: Vec<Problem>,
    loc: Loc,
}

impl TunnelIngress {
    /// Requests for `hostname` (`grafana.example.com`, or `*.example.com`
    /// for every name below it, at any depth) go to `service`
    /// (`http://10.0.20.5:8080`, `https://…`, `tcp://…`, `ssh://…`,
    /// `unix:/path`, `http_status:403`). The catch-all is lab-net's: every
    /// rule has a hostname.
    #[track_caller]
    pub fn new(hostname: &str, service: &str) -> Self {
        let mut rule = TunnelIngress {
            rule: serde_json::Map::new(),
            access: None,
            problems: Vec::new(),
            loc: Location::caller(),
        };
        if let Some(problem) = hostname_problem(hostname) {
            let help = if hostname.is_empty() || hostname == "*" {
                "lab-net appends the catch-all (`http_status:404`) itself: give every rule a hostname"
            } else {
                "write a public hostname without port (`app.example.com`, `*.example.com`)"
            };
            rule.problem("hostname", problem, help);
        }
        // The service alone, as cloudflared checks it (as a catch-all, so
        // the hostname checks do not run again).
        if let Err(message) = validate_ingress(&[json!({ "service": service })]) {
            rule.problem(
                "service",
                message,
                "write the origin as scheme://host:port with no path, or http_status:NNN",
            );
        }
        rule.rule.insert("hostname".into(), hostname.into());
        rule.rule.insert("service".into(), service.into());
        rule
    }

    #[track_caller]
    fn problem(&mut self, field: &str, message: impl Into<String>, help: &str) {
        self.problems.push(Problem {
            field: field.into(),
            message: message.into(),
            help: help.into(),
            loc: Location::caller(),
        });
    }

    /// Only requests whose path matches `regex` (Go syntax; cloudflared
    /// matches it unanchored: anchor it, `^/admin(/|$)`).
    #[track_caller]
    pub fn path(mut self, regex: &str) -> Self {
        if let Err(e) = go_regexp::compile(regex) {
            self.problem(
                "path",
                format!("`{regex}` is not a regex cloudflared accepts: {e}"),
                "write a Go (RE2) regex: no look-around, no backreferences",
            );
        }
        self.rule.insert("path".into(), regex.into());
        self
    }

    fn origin(&mut self, key: &str, value: serde_json::Value) {
        let origin = self
            .rule
            .entry("originRequest")
            .or_insert_with(|| json!({}));
        if let Some(map) = origin.as_object_mut() {
            map.insert(key.into(), value);
        }
    }

    /// The name the origin's TLS certificate is checked against.
    #[track_caller]
    pub fn origin_server_name(mut self, name: &str) -> Self {
        if let Some(problem) = hostname_problem(name) {
            self.problem(
                "originRequest.originServerName",
                problem,
                "write the name on the origin's certificate",
            );
        }
        self.origin("originServerName", name.into());
        self
    }

    /// Do not verify the origin's certificate (a self-signed Proxmox UI).
    pub fn no_tls_verify(mut self) -> Self {
        self.origin("noTLSVerify", true.into());
        self
    }

    /// The `Host` header sent to the origin.
    pub fn http_host_header(mut self, host: &str) -> Self {
        self.origin("httpHostHeader", host.into());
        self
    }

    /// Seconds to wait for a connection to the origin.
    pub fn connect_timeout(mut self, seconds: u64) -> Self {
        self.origin("connectTimeout", seconds.into());
        self
    }

    /// Requires a valid Access token of `app` on every request (cloudflared
    /// checks `Cf-Access-Jwt-Assertion` against the account's team and the
    /// app's `aud`): the rule's own `originRequest.access`, the only one
    /// cloudflared enforces.
    #[track_caller]
    pub fn access(mut self, app: &Handle<AccessApp>) -> Self {
        self.access = Some(output_ref(app, "aud", "config"));
        self
    }
}

/// A tunnel's whole remote ingress document: the rules in order, then the
/// catch-all `http_status:404`, appended here and never written by the
/// user. A rule that repeats an earlier rule's hostname and path (it could
/// never match) is a problem at its line.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::*;
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// let tunnel = lab.add(Tunnel::new(&cf, "lab"));
/// lab.add(TunnelConfig::new(&cf, &tunnel)
///     .rule(TunnelIngress::new("blog.example.com", "http://10.0.40.7:8080")));
/// ```
pub struct TunnelConfig {
    spec: ResourceSpec,
    account: Address,
    rules: Vec<Value>,
    keys: Vec<(String, String)>,
}

net_resource!(TunnelConfig);

impl TunnelConfig {
    /// The ingress of `tunnel` in `account`; with no rules, only the
    /// catch-all.
    #[track_caller]
    pub fn new(account: &Handle<Account>, tunnel: &Handle<Tunnel>) -> Self {
        let mut spec = cf_spec(TUNNEL_CONFIG, tunnel.address().name());
        spec.set_ref("account", account);
        spec.set_ref("tunnel", tunnel);
        spec.set_input::<String>("tunnel_id", tunnel.id());
        let mut config = TunnelConfig {
            spec,
            account: account.address().clone(),
            rules: Vec::new(),
            keys: Vec::new(),
        };
        config.write();
        config
    }

    /// Appends `rule` (before the catch-all).
    #[track_caller]
    pub fn rule(mut self, rule: TunnelIngress) -> Self {
        let TunnelIngress {
            rule: json_rule,
            access,
            problems,
            loc,
        } = rule;
        self.spec.problems.extend(problems);
        let key = (
            json_rule
                .get("hostname")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            json_rule
                .get("path")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
        );
        if let Some(earlier) = self.keys.iter().position(|k| *k == key) {
            self.spec.problems.push(Problem {
                field: "config".into(),
                message: format!(
                    "rule {} repeats rule {}'s hostname `{}`{}: it would never match",
                    self.keys.len() + 1,
                    earlier + 1,
                    key.0,
                    if key.1.is_empty() {
                        String::new()
                    } else {
                        format!(" and path `{}`", key.1)
                    }
                ),
                help: "remove one of the two rules, or give them different paths".into(),
                loc,
            });
        }
        self.keys.push(key);
        let mut value = from_json(&serde_json::Value::Object(json_rule));
        if let (Some((aud, dep)), Value::Map(map)) = (access, &mut value) {
            self.spec.deps.push(dep);
            let mut access = IndexMap::new();
            access.insert("required".to_string(), Value::Bool(true));
            access.insert(
                "teamName".to_string(),
                Value::Ref(lab_core::value::OutputRef {
                    address: self.account.clone(),
                    output: "team_name".into(),
                }),
            );
            access.insert("audTag".to_string(), Value::List(vec![aud]));
            let origin = map
                .entry("originRequest".to_string())
                .or_insert_with(|| Value::Map(IndexMap::new()));
            if let Value::Map(origin) = origin {
                origin.insert("access".to_string(), Value::Map(access));
            }
        }
        // Each rule's own line, for the checks that judge one rule.
        self.spec
            .field_locs
            .insert(format!("config.ingress.{}", self.rules.len()), loc);
        self.rules.push(value);
        self.write();
        self
    }

    /// Writes `config` as the rules then the catch-all.
    #[track_caller]
    fn write(&mut self) {
        let mut ingress = self.rules.clone();
        let mut catch_all = IndexMap::new();
        catch_all.insert("service".to_string(), Value::Str(CATCH_ALL_SERVICE.into()));
        ingress.push(Value::Map(catch_all));
        let mut config = IndexMap::new();
        config.insert("ingress".to_string(), Value::List(ingress));
        self.spec.set("config", Value::Map(config));
    }
}
