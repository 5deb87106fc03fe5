//! The Cloudflare edge as lab-net's checks and derivation see it: tunnels,
//! their ingress rules (written by hand, or derived from services'
//! [`crate::kinds::PublicExposure`]s), zones, DNS records, Access apps and
//! policies, and the guests that run a tunnel's connector.
//!
//! These specs hold references (a tunnel's id, an app's `aud`), so they are
//! read from their values, not decoded: a reference says which resource
//! the value will come from, which is what the checks want to know.

use indexmap::IndexMap;
use lab_core::{Address, Loc, ResourceSpec, Value};

use crate::kinds::cloudflare::{
    Decision, ACCESS_APP, ACCESS_POLICY, DNS_RECORD, TUNNEL, TUNNEL_CONFIG, ZONE,
};
use crate::kinds::CONNECTOR_ANNOTATION;

/// The annotation on a derived edge resource (and on a tunnel config, per
/// derived rule) naming the exposure it follows from: `service/index`.
pub const PUBLIC_ANNOTATION: &str = "net.public";

/// Which exposure of which service a derived thing follows from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposureRef {
    /// The `net.service`'s name.
    pub service: String,
    /// The index in its `public` list.
    pub index: usize,
}

impl ExposureRef {
    /// `service/index`.
    pub fn encode(&self) -> String {
        format!("{}/{}", self.service, self.index)
    }

    /// From `service/index`.
    pub fn decode(s: &str) -> Option<ExposureRef> {
        let (service, index) = s.rsplit_once('/')?;
        Some(ExposureRef {
            service: service.to_string(),
            index: index.parse().ok()?,
        })
    }
}

/// A `cloudflare.tunnel`.
#[derive(Clone, Debug)]
pub struct TunnelView {
    /// Its address.
    pub address: Address,
    /// Its account's address (`cloudflare.account.cf`).
    pub account: String,
    /// Where it was declared.
    pub loc: Loc,
}

/// One ingress rule of a tunnel's configuration.
#[derive(Clone, Debug)]
pub struct RuleView {
    /// The public hostname (none on the catch-all).
    pub hostname: Option<String>,
    /// The path regex, if any.
    pub path: Option<String>,
    /// Where requests go (`http://10.0.20.5:8080`, `http_status:404`).
    pub service: String,
    /// `originRequest.access.required` is set.
    pub access: bool,
    /// The Access apps whose `aud` the rule names (by reference).
    pub access_apps: Vec<Address>,
    /// The exposure it was derived from; `None`: written by hand (or the
    /// catch-all).
    pub derived_from: Option<ExposureRef>,
    /// The rule's line (the `.rule(..)` call, or the exposure's).
    pub loc: Loc,
}

impl RuleView {
    /// The catch-all: no hostname (or `*`) and no path.
    pub fn is_catch_all(&self) -> bool {
        matches!(self.hostname.as_deref(), None | Some("") | Some("*"))
            && self.path.as_deref().unwrap_or("").is_empty()
    }
}

/// A `cloudflare.tunnel_config`.
#[derive(Clone, Debug)]
pub struct TunnelConfigView {
    /// Its address.
    pub address: Address,
    /// The tunnel's address.
    pub tunnel: String,
    /// The rules, in order.
    pub rules: Vec<RuleView>,
    /// Derived by lab-net (the user wrote no config for the tunnel).
    pub derived: bool,
    /// Where it was declared.
    pub loc: Loc,
}

/// A `cloudflare.zone`.
#[derive(Clone, Debug)]
pub struct CfZoneView {
    /// Its address.
    pub address: Address,
    /// The zone's name (`example.com`).
    pub name: String,
    /// Its account's address.
    pub account: String,
    /// Where it was declared.
    pub loc: Loc,
}

/// What a Cloudflare DNS record answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordContent {
    /// A value written in the lab.
    Literal(String),
    /// A tunnel's `cname` output (the tunnel's address).
    TunnelCname(Address),
    /// Another output.
    Output(String),
}

/// A `cloudflare.dns_record`.
#[derive(Clone, Debug)]
pub struct CfDnsView {
    /// Its address.
    pub address: Address,
    /// The zone's address.
    pub zone: String,
    /// The record's name.
    pub name: String,
    /// `A`, `CNAME`, ...
    pub record_type: String,
    /// What it answers.
    pub content: RecordContent,
    /// Proxied through Cloudflare.
    pub proxied: bool,
    /// The exposure it was derived from.
    pub derived_from: Option<ExposureRef>,
    /// Where it was declared (its `name` field's line).
    pub loc: Loc,
}

/// A `cloudflare.access_app`.
#[derive(Clone, Debug)]
pub struct AccessAppView {
    /// Its address.
    pub address: Address,
    /// Its domain (a host, maybe with a path).
    pub domain: String,
    /// The linked policies' addresses, in precedence order.
    pub policies: Vec<Address>,
    /// The exposure it was derived from.
    pub derived_from: Option<ExposureRef>,
    /// Where it was declared.
    pub loc: Loc,
}

impl AccessAppView {
    /// The host part of the domain.
    pub fn host(&self) -> &str {
        self.domain
            .split_once('/')
            .map_or(self.domain.as_str(), |(h, _)| h)
    }
}

/// A `cloudflare.access_policy`.
#[derive(Clone, Debug)]
pub struct AccessPolicyView {
    /// Its address.
    pub address: Address,
    /// What it does.
    pub decision: Option<Decision>,
    /// An include rule is `{"everyone": {}}`.
    pub includes_everyone: bool,
    /// Where it was declared.
    pub loc: Loc,
    /// Where its include rules were written.
    pub include_loc: Loc,
    /// Where its decision was written.
    pub decision_loc: Loc,
}

/// A guest that runs a tunnel's connector.
#[derive(Clone, Debug)]
pub struct ConnectorView {
    /// The guest's address.
    pub guest: Address,
    /// The tunnel's resource name.
    pub tunnel: String,
    /// Where `.runs_cloudflared(..)` was written.
    pub loc: Loc,
}

/// The Cloudflare edge of a lab.
#[derive(Clone, Debug, Default)]
pub struct EdgeModel {
    /// Tunnels by resource name.
    pub tunnels: IndexMap<String, TunnelView>,
    /// Tunnel configurations, in declaration order.
    pub configs: Vec<TunnelConfigView>,
    /// Zones.
    pub zones: Vec<CfZoneView>,
    /// DNS records.
    pub dns: Vec<CfDnsView>,
    /// Access apps by address.
    pub apps: IndexMap<Address, AccessAppView>,
    /// Access policies by address.
    pub policies: IndexMap<Address, AccessPolicyView>,
    /// Connector guests.
    pub connectors: Vec<ConnectorView>,
}

fn text(spec: &ResourceSpec, field: &str) -> Option<String> {
    spec.attrs
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn derived_from(spec: &ResourceSpec) -> Option<ExposureRef> {
    spec.annotations
        .get(PUBLIC_ANNOTATION)
        .and_then(Value::as_str)
        .and_then(ExposureRef::decode)
}

fn ref_address(v: &Value) -> Option<Address> {
    match v {
        Value::Ref(r) => Some(r.address.clone()),
        _ => None,
    }
}

impl EdgeModel {
    /// Reads `spec` if it is one of the edge's (or a connector guest).
    pub(crate) fn read(&mut self, spec: &ResourceSpec) {
        if let Some(tunnel) = spec
            .annotations
            .get(CONNECTOR_ANNOTATION)
            .and_then(Value::as_str)
        {
            self.connectors.push(ConnectorView {
                guest: spec.address.clone(),
                tunnel: tunnel.to_string(),
                loc: spec.loc_of(CONNECTOR_ANNOTATION),
            });
        }
        match spec.kind() {
            TUNNEL => {
                self.tunnels.insert(
                    spec.name().to_string(),
                    TunnelView {
                        address: spec.address.clone(),
                        account: text(spec, "account").unwrap_or_default(),
                        loc: spec.declared_at,
                    },
                );
            }
            TUNNEL_CONFIG => self.configs.push(config_view(spec)),
            ZONE => self.zones.push(CfZoneView {
                address: spec.address.clone(),
                name: text(spec, "name").unwrap_or_default(),
                account: text(spec, "account").unwrap_or_default(),
                loc: spec.declared_at,
            }),
            DNS_RECORD => {
                let content = match spec.attrs.get("content") {
                    Some(Value::Ref(r)) if r.output == "cname" && r.address.kind() == TUNNEL => {
                        RecordContent::TunnelCname(r.address.clone())
                    }
                    Some(Value::Ref(r)) => RecordContent::Output(r.to_string()),
                    Some(Value::Str(s)) => RecordContent::Literal(s.clone()),
                    _ => RecordContent::Literal(String::new()),
                };
                self.dns.push(CfDnsView {
                    address: spec.address.clone(),
                    zone: text(spec, "zone").unwrap_or_default(),
                    name: text(spec, "name").unwrap_or_default(),
                    record_type: text(spec, "type").unwrap_or_default(),
                    content,
                    proxied: spec.attrs.get("proxied").and_then(Value::as_bool) == Some(true),
                    derived_from: derived_from(spec),
                    loc: spec.declared_at,
                });
            }
            ACCESS_APP => {
                let policies = spec
                    .attrs
                    .get("policies")
                    .and_then(Value::as_list)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|l| l.get("id").and_then(ref_address))
                    .collect();
                self.apps.insert(
                    spec.address.clone(),
                    AccessAppView {
                        address: spec.address.clone(),
                        domain: text(spec, "domain").unwrap_or_default(),
                        policies,
                        derived_from: derived_from(spec),
                        loc: spec.declared_at,
                    },
                );
            }
            ACCESS_POLICY => {
                let decision = spec
                    .attrs
                    .get("decision")
                    .and_then(|d| lab_core::value::decode_value::<Decision>(d).ok());
                let includes_everyone = spec
                    .attrs
                    .get("include")
                    .and_then(Value::as_list)
                    .unwrap_or_default()
                    .iter()
                    .any(|r| r.get("everyone").is_some());
                self.policies.insert(
                    spec.address.clone(),
                    AccessPolicyView {
                        address: spec.address.clone(),
                        decision,
                        includes_everyone,
                        loc: spec.declared_at,
                        include_loc: spec.loc_of("include"),
                        decision_loc: spec.loc_of("decision"),
                    },
                );
            }
            _ => {}
        }
    }

    /// The configurations of the tunnel named `tunnel`.
    pub fn configs_of(&self, tunnel: &str) -> Vec<&TunnelConfigView> {
        let Some(t) = self.tunnels.get(tunnel) else {
            return Vec::new();
        };
        let address = t.address.to_string();
        self.configs
            .iter()
            .filter(|c| c.tunnel == address)
            .collect()
    }

    /// The zone of `account` that `host` is in (the longest suffix).
    pub fn zone_for(&self, account: &str, host: &str) -> Option<&CfZoneView> {
        let host = host.strip_prefix("*.").unwrap_or(host).to_ascii_lowercase();
        self.zones
            .iter()
            .filter(|z| z.account == account && !z.name.is_empty())
            .filter(|z| {
                let zone = z.name.to_ascii_lowercase();
                host == zone || host.ends_with(&format!(".{zone}"))
            })
            .max_by_key(|z| z.name.len())
    }
}

fn config_view(spec: &ResourceSpec) -> TunnelConfigView {
    let ingress = spec
        .attrs
        .get("config")
        .and_then(|c| c.get("ingress"))
        .and_then(Value::as_list)
        .unwrap_or_default();
    // Derived rules follow the hand-written ones; the annotation lists
    // them in order.
    let derived: Vec<ExposureRef> = spec
        .annotations
        .get(PUBLIC_ANNOTATION)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().and_then(ExposureRef::decode))
        .collect();
    let catch_all_last = ingress
        .last()
        .is_some_and(|r| r.get("hostname").is_none() && r.get("path").is_none());
    let first_derived = ingress
        .len()
        .saturating_sub(derived.len() + usize::from(catch_all_last));
    let rules = ingress
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let access = r.get("originRequest").and_then(|o| o.get("access"));
            let from = (i >= first_derived)
                .then(|| derived.get(i - first_derived).cloned())
                .flatten();
            RuleView {
                hostname: r
                    .get("hostname")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                path: r.get("path").and_then(Value::as_str).map(str::to_string),
                service: r
                    .get("service")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                access: access
                    .and_then(|a| a.get("required"))
                    .and_then(Value::as_bool)
                    == Some(true),
                access_apps: access
                    .and_then(|a| a.get("audTag"))
                    .and_then(Value::as_list)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(ref_address)
                    .collect(),
                loc: if from.is_some() {
                    spec.declared_at
                } else {
                    spec.field_locs
                        .get(&format!("config.ingress.{i}"))
                        .or(spec.field_locs.get("config"))
                        .copied()
                        .unwrap_or(spec.declared_at)
                },
                derived_from: from,
            }
        })
        .collect();
    TunnelConfigView {
        address: spec.address.clone(),
        tunnel: text(spec, "tunnel").unwrap_or_default(),
        rules,
        derived: spec.derived_by.is_some(),
        loc: spec.declared_at,
    }
}
