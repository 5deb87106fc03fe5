//! The edge: what follows from services exposed through a Cloudflare
//! Tunnel ([`crate::kinds::PublicExposure`]).
//!
//! Per exposure, in the order services and their exposures were written:
//!
//! - a rule of the tunnel's ingress, `hostname` (+ `path`) -> the
//!   service's address (the IPAM's) and port, `http://` or `https://`,
//!   appended to the tunnel's `cloudflare.tunnel_config` after the rules
//!   written by hand and before the catch-all; a tunnel without a config
//!   gets one (one owner per tunnel: the document is PUT whole);
//! - a proxied CNAME to the tunnel (`DnsRecord::tunnel_cname`'s shape) in
//!   the account's `cloudflare.zone` the host ends in, unless the lab has a
//!   record of that name already (the checks judge it);
//! - behind Access: a self-hosted Access application for the host, an
//!   Allow policy of the exposure's include rules (linked first, then the
//!   reusable policies it names), and the rule's `originRequest.access`
//!   (`required`, the account's team, the application's `aud`), the only
//!   Access cloudflared enforces.
//!
//! Every derived resource is bound to the provider instance of the
//! resource it belongs to (the tunnel's, the zone's, the account's) and
//! points at the line that exposed the service.

use indexmap::IndexMap;
use lab_core::{Address, Lab, LabId, Loc, ResourceSpec, Value};

use super::{add, original, push_dep};
use crate::kinds::cloudflare::{
    ACCESS_APP, ACCESS_POLICY, ACCOUNT, CATCH_ALL_SERVICE, DNS_RECORD, SELF_HOSTED, TTL_AUTOMATIC,
    TUNNEL_CONFIG,
};
use crate::kinds::{Port, PublicExposure, SERVICE};
use crate::model::cloudflare::{resource_name, MANAGED_COMMENT};
use crate::policy::can_reach;
use crate::read::edge::{ExposureRef, PUBLIC_ANNOTATION};
use crate::read::{Endpoint, NetModel};

/// The rules derived for one tunnel.
#[derive(Default)]
struct TunnelRules {
    rules: Vec<Value>,
    from: Vec<ExposureRef>,
    apps: Vec<Address>,
    first_at: Option<Loc>,
}

fn reference(address: &Address, output: &str) -> Value {
    Value::Ref(lab_core::value::OutputRef {
        address: address.clone(),
        output: output.into(),
    })
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A derived spec of a Cloudflare kind, with lab-net's checks, bound like
/// `like` (the resource it belongs to), marked with its exposure.
fn cf_spec(
    lab: &Lab,
    kind: &str,
    name: &str,
    like: &[&Address],
    exposure: &ExposureRef,
) -> ResourceSpec {
    let mut spec = ResourceSpec::new(kind, &resource_name(name));
    spec.check_set = Some(crate::checks::SET);
    spec.provider = like
        .iter()
        .find_map(|a| lab.resource(a).and_then(|s| s.provider.clone()));
    spec.annotations
        .insert(PUBLIC_ANNOTATION.into(), Value::from(exposure.encode()));
    spec
}

/// Records an edge for every reference inside `value`.
fn deps_of_refs(spec: &mut ResourceSpec, lab: LabId, value: &Value, via: &str, at: Loc) {
    match value {
        Value::Ref(r) if !spec.deps.iter().any(|d| d.on == r.address) => {
            push_dep(spec, lab, &r.address, via, at);
        }
        Value::List(l) => l.iter().for_each(|v| deps_of_refs(spec, lab, v, via, at)),
        Value::Map(m) => m.values().for_each(|v| deps_of_refs(spec, lab, v, via, at)),
        _ => {}
    }
}

/// The address the tunnel's connector sends the exposure's requests to:
/// one of the service's addresses, the first a connector of the tunnel
/// can reach on the port when there are several.
fn origin_address(
    model: &NetModel,
    endpoints: &[Endpoint],
    tunnel: &str,
    port: u16,
) -> Option<std::net::Ipv4Addr> {
    let with_address: Vec<&Endpoint> = endpoints.iter().filter(|e| e.address.is_some()).collect();
    let connectors: Vec<Endpoint> = model
        .edge
        .connectors
        .iter()
        .filter(|c| c.tunnel == tunnel)
        .filter_map(|c| model.guest(&c.guest.to_string()))
        .flat_map(|g| model.guest_endpoints(g))
        .collect();
    with_address
        .iter()
        .find(|t| {
            connectors
                .iter()
                .any(|c| can_reach(model, c, t, &Port::tcp(port)).allowed)
        })
        .or(with_address.first())
        .and_then(|e| e.address)
}

pub(super) fn derive(lab: &mut Lab, model: &NetModel) {
    let mut per_tunnel: IndexMap<String, TunnelRules> = IndexMap::new();
    for s in model.services.values() {
        for (index, p) in s.spec.public.iter().enumerate() {
            let exposure = ExposureRef {
                service: s.name.clone(),
                index,
            };
            let at = model.exposure_loc(&exposure).unwrap_or(s.loc);
            let Some(tunnel) = model.edge.tunnels.get(&p.tunnel) else {
                continue;
            };
            let Some(account) = Address::parse(&tunnel.account) else {
                continue;
            };
            dns_record(lab, model, p, &tunnel.address, &account, &exposure, at);
            let endpoints = model.service_endpoints(s);
            let Some(addr) = origin_address(model, &endpoints, &p.tunnel, p.port) else {
                continue;
            };
            let app = p
                .access
                .as_ref()
                .map(|_| access(lab, p, &account, &exposure, at));
            let entry = per_tunnel.entry(p.tunnel.clone()).or_default();
            entry.first_at.get_or_insert(at);
            entry.rules.push(rule(p, addr, &account, app.as_ref()));
            entry.from.push(exposure);
            entry.apps.extend(app);
        }
    }
    for (tunnel, derived) in per_tunnel {
        extend_config(lab, model, &tunnel, derived);
    }
}

/// The ingress rule of one exposure.
fn rule(
    p: &PublicExposure,
    addr: std::net::Ipv4Addr,
    account: &Address,
    app: Option<&Address>,
) -> Value {
    let scheme = if p.https == Some(true) {
        "https"
    } else {
        "http"
    };
    let mut entries = vec![("hostname", Value::from(p.host.as_str()))];
    if let Some(path) = &p.path {
        entries.push(("path", Value::from(path.as_str())));
    }
    entries.push((
        "service",
        Value::from(format!("{scheme}://{addr}:{}", p.port)),
    ));
    let mut origin = Vec::new();
    if let Some(name) = &p.origin_server_name {
        origin.push(("originServerName", Value::from(name.as_str())));
    }
    if p.no_tls_verify == Some(true) {
        origin.push(("noTLSVerify", Value::Bool(true)));
    }
    if let Some(app) = app {
        origin.push((
            "access",
            map(vec![
                ("required", Value::Bool(true)),
                ("teamName", reference(account, "team_name")),
                ("audTag", Value::List(vec![reference(app, "aud")])),
            ]),
        ));
    }
    if !origin.is_empty() {
        entries.push(("originRequest", map(origin)));
    }
    map(entries)
}

/// The proxied CNAME of an exposure's host, in the zone it ends in.
fn dns_record(
    lab: &mut Lab,
    model: &NetModel,
    p: &PublicExposure,
    tunnel: &Address,
    account: &Address,
    exposure: &ExposureRef,
    at: Loc,
) {
    let Some(zone) = model.edge.zone_for(&account.to_string(), &p.host) else {
        return;
    };
    let taken = model
        .edge
        .dns
        .iter()
        .any(|d| d.derived_from.is_none() && d.name.eq_ignore_ascii_case(&p.host));
    if taken {
        return;
    }
    let zone_address = zone.address.clone();
    // Two exposures of one host (different paths) share its record.
    if lab
        .resource(&Address::new(
            DNS_RECORD,
            &resource_name(&format!("cname-{}", p.host)),
        ))
        .is_some()
    {
        return;
    }
    let mut spec = cf_spec(
        lab,
        DNS_RECORD,
        &format!("cname-{}", p.host),
        &[&zone_address, account],
        exposure,
    );
    spec.set("zone", zone_address.to_string());
    spec.set("zone_id", reference(&zone_address, "id"));
    spec.set("name", p.host.as_str());
    spec.set("type", "CNAME");
    spec.set("proxied", true);
    spec.set("ttl", TTL_AUTOMATIC);
    spec.set("comment", MANAGED_COMMENT);
    spec.set("content", reference(tunnel, "cname"));
    push_dep(&mut spec, lab.id(), &zone_address, "zone", at);
    push_dep(&mut spec, lab.id(), tunnel, "content", at);
    add(lab, spec, at);
}

/// The Access application (and its Allow policy) of an exposure behind
/// Access; returns the application's address.
fn access(
    lab: &mut Lab,
    p: &PublicExposure,
    account: &Address,
    exposure: &ExposureRef,
    at: Loc,
) -> Address {
    let access = p.access.as_ref().expect("called for exposures with access");
    // One app per exposure: its path (if any) tells two of one host apart.
    let name = access.name.clone().unwrap_or_else(|| match &p.path {
        Some(path) => format!("{} {path}", p.host),
        None => p.host.clone(),
    });
    let id = lab.id();
    // The include rules as written (references to Access groups kept).
    let service = Address::new(SERVICE, &exposure.service);
    let include = lab
        .resource(&service)
        .and_then(|s| s.attrs.get("public"))
        .and_then(Value::as_list)
        .and_then(|l| l.get(exposure.index))
        .and_then(|e| e.get("access"))
        .and_then(|a| a.get("include"))
        .cloned()
        .unwrap_or(Value::List(Vec::new()));
    let mut links = Vec::new();
    let mut policy_addresses = Vec::new();
    if include.as_list().is_some_and(|l| !l.is_empty()) {
        let mut spec = cf_spec(
            lab,
            ACCESS_POLICY,
            &format!("{name} allow"),
            &[account],
            exposure,
        );
        spec.set("account", account.to_string());
        spec.set("name", format!("{name}: who may log in"));
        spec.set("decision", "allow");
        deps_of_refs(&mut spec, id, &include, "include", at);
        spec.set("include", include);
        spec.set("exclude", Value::List(Vec::new()));
        spec.set("require", Value::List(Vec::new()));
        push_dep(&mut spec, id, account, "account", at);
        policy_addresses.push(spec.address.clone());
        add(lab, spec, at);
    }
    policy_addresses.extend(
        access
            .policies
            .iter()
            .map(|n| Address::new(ACCESS_POLICY, n)),
    );
    for (i, policy) in policy_addresses.iter().enumerate() {
        links.push(map(vec![
            ("id", reference(policy, "id")),
            ("precedence", Value::Int(i as i64 + 1)),
        ]));
    }
    let mut spec = cf_spec(lab, ACCESS_APP, &name, &[account], exposure);
    spec.set("account", account.to_string());
    spec.set("name", name.as_str());
    spec.set("domain", p.host.as_str());
    spec.set("type", SELF_HOSTED);
    spec.set("session_duration", "24h");
    push_dep(&mut spec, id, account, "account", at);
    for policy in &policy_addresses {
        push_dep(&mut spec, id, policy, "policies", at);
    }
    spec.set("policies", Value::List(links));
    let address = spec.address.clone();
    add(lab, spec, at);
    address
}

/// Appends a tunnel's derived rules to its configuration (before the
/// catch-all), or makes one.
fn extend_config(lab: &mut Lab, model: &NetModel, tunnel: &str, derived: TunnelRules) {
    let Some(t) = model.edge.tunnels.get(tunnel) else {
        return;
    };
    let tunnel_address = t.address.clone();
    let account = Address::parse(&t.account).unwrap_or_else(|| Address::new(ACCOUNT, "?"));
    let at = derived.first_at.unwrap_or(t.loc);
    let id = lab.id();
    let from = Value::List(
        derived
            .from
            .iter()
            .map(|e| Value::from(e.encode()))
            .collect(),
    );
    let user_config = model
        .edge
        .configs_of(tunnel)
        .into_iter()
        .find(|c| !c.derived)
        .map(|c| c.address.clone());
    let catch_all = map(vec![("service", Value::from(CATCH_ALL_SERVICE))]);
    match user_config.and_then(|a| lab.spec_mut(&a)) {
        Some(spec) => {
            let mut ingress: Vec<Value> = original(spec, "config")
                .and_then(|c| {
                    c.get("ingress")
                        .and_then(Value::as_list)
                        .map(<[Value]>::to_vec)
                })
                .unwrap_or_default();
            let last_is_catch_all = ingress
                .last()
                .is_some_and(|r| r.get("hostname").is_none() && r.get("path").is_none());
            let tail = if last_is_catch_all {
                ingress.pop()
            } else {
                Some(catch_all)
            };
            ingress.extend(derived.rules);
            ingress.extend(tail);
            let mut config = match spec.attrs.get("config") {
                Some(Value::Map(m)) => m.clone(),
                _ => IndexMap::new(),
            };
            config.insert("ingress".into(), Value::List(ingress));
            spec.attrs.insert("config".into(), Value::Map(config));
            spec.annotations.insert(PUBLIC_ANNOTATION.into(), from);
            for app in &derived.apps {
                if !spec.deps.iter().any(|d| &d.on == app) {
                    push_dep(spec, id, app, "config", at);
                }
            }
        }
        None => {
            let first = derived.from[0].clone();
            let mut spec = cf_spec(
                lab,
                TUNNEL_CONFIG,
                tunnel_address.name(),
                &[&tunnel_address, &account],
                &first,
            );
            spec.annotations.insert(PUBLIC_ANNOTATION.into(), from);
            spec.set("account", account.to_string());
            spec.set("tunnel", tunnel_address.to_string());
            spec.set("tunnel_id", reference(&tunnel_address, "id"));
            let mut ingress = derived.rules;
            ingress.push(catch_all);
            spec.set("config", map(vec![("ingress", Value::List(ingress))]));
            push_dep(&mut spec, id, &account, "account", at);
            push_dep(&mut spec, id, &tunnel_address, "tunnel", at);
            for app in &derived.apps {
                push_dep(&mut spec, id, app, "config", at);
            }
            add(lab, spec, at);
        }
    }
}
