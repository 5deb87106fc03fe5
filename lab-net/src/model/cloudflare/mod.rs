//! Builders of the Cloudflare edge: an [`Account`], its DNS [`Zone`]s, a
//! remotely managed [`Tunnel`] and its [`TunnelConfig`] (ingress rules,
//! the catch-all appended), the proxied [`DnsRecord`]s that point public
//! names at the tunnel, and the Access apps, policies and groups in front
//! of admin hostnames.
//!
//! These are applied resources (a Cloudflare account is its own provider
//! instance), so builders take the account, zone or tunnel by handle, and
//! what Cloudflare makes (a tunnel's id, an app's `aud`) flows as outputs.
//! Bad values are problems at the user's line. Names clash with the local
//! DNS's [`crate::model::DnsRecord`] and the trust [`crate::model::Zone`]:
//! use this module by path, not by glob.
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_net::model::cloudflare::*;
//!
//! let mut lab = Lab::new("home");
//! let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef",
//!                               Secret::new("token"), "myteam"));
//! let zone = lab.add(Zone::new(&cf, "example.com"));
//! let tunnel = lab.add(Tunnel::new(&cf, "lab"));
//! let admins = lab.add(AccessPolicy::new(&cf, "admins", Decision::Allow,
//!                                        Include::emails(&["me@example.com"])));
//! let pve = lab.add(AccessApp::new(&cf, "Proxmox", "pve.example.com").policy(&admins));
//! lab.add(TunnelConfig::new(&cf, &tunnel)
//!     .rule(TunnelIngress::new("pve.example.com", "https://10.0.10.2:8006").access(&pve))
//!     .rule(TunnelIngress::new("blog.example.com", "http://10.0.40.7:8080")));
//! lab.add(DnsRecord::tunnel_cname(&zone, "pve.example.com", &tunnel));
//! lab.add(DnsRecord::tunnel_cname(&zone, "blog.example.com", &tunnel));
//! assert!(lab.resources().all(|s| s.problems.is_empty()));
//! ```

mod access_app;
mod access_group;
mod access_policy;
mod account;
mod connector;
mod dns_record;
mod tunnel;
mod tunnel_config;
mod zone;

pub use crate::kinds::cloudflare::Decision;
pub use access_app::{AccessApp, AccessAppOutput};
pub use access_group::{AccessGroup, AccessGroupOutput};
pub use access_policy::{AccessPolicy, AccessPolicyOutput, Include};
pub use account::{Account, AccountOutput};
pub use connector::{Connector, CLOUDFLARED_COMMAND, TOKEN_VARIABLE};
pub use dns_record::{DnsRecord, DnsRecordOutput, MANAGED_COMMENT};
pub use tunnel::{Tunnel, TunnelOutput};
pub use tunnel_config::{TunnelConfig, TunnelIngress};
pub use zone::{Zone, ZoneOutput};

use lab_core::model::Dependency;
use lab_core::value::OutputRef;
use lab_core::{Handle, ResourceSpec, Value};

/// A spec of a Cloudflare kind, declared at the caller's line. Resource
/// names are hostnames or display names (see [`resource_name`]).
/// It carries lab-net's checks (the edge's: Access on admin surfaces,
/// public names through the tunnel), so they run on a lab of Cloudflare
/// resources alone.
#[track_caller]
pub(crate) fn cf_spec(kind: &str, name: &str) -> ResourceSpec {
    let mut spec = ResourceSpec::new(kind, &resource_name(name));
    spec.check_set = Some(crate::checks::SET);
    spec.picture_set = Some(crate::picture::PICTURES);
    spec
}

/// `grafana.example.com` -> `grafana-example-com`, `*.x.com` ->
/// `star-x-com`, `My App` -> `My-App`: a resource name from a hostname or
/// a display name.
pub(crate) fn resource_name(host: &str) -> String {
    host.replace('*', "star")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A reference to `handle`'s output `output` as a value, and the
/// dependency it needs (for references inside lists and maps, where
/// `ResourceSpec::set_input` cannot reach).
#[track_caller]
pub(crate) fn output_ref<R>(handle: &Handle<R>, output: &str, via: &str) -> (Value, Dependency) {
    (
        Value::Ref(OutputRef {
            address: handle.address().clone(),
            output: output.into(),
        }),
        Dependency {
            on: handle.address().clone(),
            lab: handle.lab_id(),
            loc: std::panic::Location::caller(),
            via: via.into(),
        },
    )
}

/// A JSON value as a lab value.
pub(crate) fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            Value::Map(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

/// Why `host` cannot be a public hostname (a tunnel rule's, a DNS record's,
/// an Access app's), in cloudflared's words where it has some.
pub(crate) fn hostname_problem(host: &str) -> Option<String> {
    if host.is_empty() {
        return Some("a hostname is needed".into());
    }
    if host.contains(':') {
        return Some(format!(
            "`{host}`: {}",
            crate::cloudflare::ingress::HOSTNAME_CONTAINS_PORT
        ));
    }
    if host.rfind('*').is_some_and(|i| i > 0) || (host.starts_with('*') && !host.starts_with("*."))
    {
        return Some(format!(
            "`{host}`: {}",
            crate::cloudflare::ingress::BAD_WILDCARD
        ));
    }
    let labels = host.strip_prefix("*.").unwrap_or(host);
    let bad_label = labels.split('.').find(|l| {
        l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if let Some(label) = bad_label {
        return Some(format!(
            "`{host}` is not a hostname (label `{label}`: 1-63 letters, digits or `-`, not at either end)"
        ));
    }
    None
}
