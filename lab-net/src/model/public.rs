//! [`Public`]: a service's exposure to the internet through a Cloudflare
//! Tunnel, the only way lab-net exposes anything (no inbound port, no
//! A record to a home address).
//!
//! The user says which tunnel, which public name and which of the
//! service's ports; lab-net derives the tunnel's ingress rule (to the
//! service's address from the IPAM), the proxied CNAME in the account's
//! zone, and, behind Access, the Access application and its Allow policy
//! with the rule's `originRequest.access` (see [`crate::derive`]).

use std::panic::Location;

use indexmap::IndexMap;
use lab_core::model::Dependency;
use lab_core::{Handle, Problem, Value};

use super::cloudflare::{hostname_problem, AccessPolicy, Include, Tunnel};
use crate::cloudflare::go_regexp;

/// One exposure of a [`super::Service`] to the internet: requests for
/// `https://host` reach the service's `port` through `tunnel`.
///
/// [`super::Service::public`] and [`super::Service::public_behind_access`]
/// cover the usual cases; this builder, given to
/// [`super::Service::expose`], says the rest (a path, an origin that
/// speaks TLS, reusable Access policies).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::{Account, Include, Tunnel};
/// use lab_net::model::Public;
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// let tunnel = lab.add(Tunnel::new(&cf, "lab"));
/// let pve = Public::new(&tunnel, "pve.example.com", 8006)
///     .https()
///     .no_tls_verify()
///     .behind_access(Include::emails(&["me@example.com"]))
///     .app_name("Proxmox");
/// ```
pub struct Public {
    pub(crate) map: IndexMap<String, Value>,
    access: Option<IndexMap<String, Value>>,
    pub(crate) deps: Vec<Dependency>,
    pub(crate) problems: Vec<Problem>,
}

impl Public {
    /// `https://host` (a public hostname, `*.example.com` for every name
    /// below it) to the service's `port` through `tunnel`.
    #[track_caller]
    pub fn new(tunnel: &Handle<Tunnel>, host: &str, port: u16) -> Self {
        let mut public = Public {
            map: IndexMap::new(),
            access: None,
            deps: vec![Dependency {
                on: tunnel.address().clone(),
                lab: tunnel.lab_id(),
                loc: Location::caller(),
                via: "public".into(),
            }],
            problems: Vec::new(),
        };
        if let Some(problem) = hostname_problem(host) {
            public.problem(
                problem,
                "write the public hostname without scheme or port (`photos.example.com`)",
            );
        }
        if port == 0 {
            public.problem("port 0", "write the port the service listens on");
        }
        public
            .map
            .insert("tunnel".into(), Value::from(tunnel.address().name()));
        public.map.insert("host".into(), Value::from(host));
        public
            .map
            .insert("port".into(), Value::Int(i64::from(port)));
        public
    }

    #[track_caller]
    fn problem(&mut self, message: impl Into<String>, help: &str) {
        self.problems.push(Problem {
            field: "public".into(),
            message: message.into(),
            help: help.into(),
            loc: Location::caller(),
        });
    }

    /// Only requests whose path matches `regex` (Go syntax). cloudflared
    /// matches paths unanchored, so `check` wants a leading `^`
    /// (`^/api/`).
    #[track_caller]
    pub fn path(mut self, regex: &str) -> Self {
        if let Err(e) = go_regexp::compile(regex) {
            self.problem(
                format!("`{regex}` is not a regex cloudflared accepts: {e}"),
                "write a Go (RE2) regex: no look-around, no backreferences",
            );
        }
        self.map.insert("path".into(), Value::from(regex));
        self
    }

    /// The service speaks TLS itself: the rule's origin is `https://`.
    pub fn https(mut self) -> Self {
        self.map.insert("https".into(), Value::Bool(true));
        self
    }

    /// Do not verify the origin's certificate (a self-signed Proxmox UI).
    pub fn no_tls_verify(mut self) -> Self {
        self.map.insert("no_tls_verify".into(), Value::Bool(true));
        self
    }

    /// The name the origin's certificate is checked against.
    #[track_caller]
    pub fn origin_server_name(mut self, name: &str) -> Self {
        if let Some(problem) = hostname_problem(name) {
            self.problem(problem, "write the name on the origin's certificate");
        }
        self.map
            .insert("origin_server_name".into(), Value::from(name));
        self
    }

    fn access_map(&mut self) -> &mut IndexMap<String, Value> {
        self.access.get_or_insert_with(|| {
            let mut m = IndexMap::new();
            m.insert("include".to_string(), Value::List(Vec::new()));
            m.insert("policies".to_string(), Value::List(Vec::new()));
            m
        })
    }

    fn push(&mut self, field: &str, values: Vec<Value>) {
        if let Some(Value::List(list)) = self.access_map().get_mut(field) {
            list.extend(values);
        }
    }

    /// Behind Cloudflare Access: lab-net derives an Access application for
    /// the host and an Allow policy for `who`, and the tunnel rule then
    /// refuses requests without that application's token.
    #[track_caller]
    pub fn behind_access(mut self, who: Include) -> Self {
        let (rules, deps, problems) = who.into_parts();
        if rules.is_empty() {
            self.problem(
                "Access with nobody to let in",
                "say who may log in (Include::emails, ::email_domain, ::group)",
            );
        }
        self.deps.extend(deps);
        for mut p in problems {
            p.field = "public".into();
            self.problems.push(p);
        }
        self.push("include", rules);
        self
    }

    /// Behind Cloudflare Access with a reusable policy (linked after the
    /// one [`Public::behind_access`] derives, in call order).
    #[track_caller]
    pub fn access_policy(mut self, policy: &Handle<AccessPolicy>) -> Self {
        self.deps.push(Dependency {
            on: policy.address().clone(),
            lab: policy.lab_id(),
            loc: Location::caller(),
            via: "public".into(),
        });
        self.push(
            "policies",
            vec![Value::from(policy.address().name().to_string())],
        );
        self
    }

    /// The Access application's name, as the App Launcher shows it
    /// (default: the host).
    #[track_caller]
    pub fn app_name(mut self, name: &str) -> Self {
        if name.trim().is_empty() {
            self.problem(
                "an Access app needs a name",
                "name it as users see it in the App Launcher",
            );
        }
        self.access_map()
            .insert("name".to_string(), Value::from(name));
        self
    }

    /// The exposure as the service spec's `public` entry, the edges it
    /// needs and the problems met (each at its own line).
    #[track_caller]
    pub(crate) fn into_value(self) -> (Value, Vec<Dependency>, Vec<Problem>) {
        let Public {
            mut map,
            access,
            deps,
            mut problems,
        } = self;
        if let Some(access) = access {
            let empty = |k: &str| {
                access
                    .get(k)
                    .and_then(Value::as_list)
                    .is_none_or(<[Value]>::is_empty)
            };
            if empty("include") && empty("policies") {
                problems.push(Problem {
                    field: "public".into(),
                    message: "an Access app name without Access".into(),
                    help: "put it behind Access: `.behind_access(Include::emails(..))` or `.access_policy(&policy)`".into(),
                    loc: Location::caller(),
                });
            }
            map.insert("access".into(), Value::Map(access));
        }
        (Value::Map(map), deps, problems)
    }
}
