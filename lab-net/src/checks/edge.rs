//! The edge's checks: what must hold for the lab's public face (Cloudflare
//! Tunnel, DNS and Access) to expose only what it means to, each at the
//! user's line with what to write instead.
//!
//! They judge the derived lab, so a service's public exposure is judged by
//! the rule, record and Access app lab-net derives from it, and a rule or
//! record written by hand the same way.
//!
//! Port forwards on the router are not modelled (the lab does not manage
//! the router): "no public name around the tunnel" is checked on
//! Cloudflare DNS records only (an A/AAAA record to a lab address).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use lab_core::{Address, Diagnostic, Lab, Loc};

use super::*;
use crate::kinds::cloudflare::Decision;
use crate::kinds::{Port, Trust, SERVICE};
use crate::policy::{can_reach, Reason};
use crate::read::edge::{ExposureRef, RecordContent, RuleView, TunnelConfigView};
use crate::read::{Endpoint, NetModel, ServiceView};

fn err(code: &str, message: String, at: Loc, label: impl Into<String>) -> Diagnostic {
    Diagnostic::error(code, message).with_label(at, label)
}

fn service_address(name: &str) -> Address {
    Address::new(SERVICE, name)
}

/// A rule with what it is to the user: the exposure it follows from, or
/// the hand-written rule of a tunnel config.
fn describe(rule: &RuleView, config: &TunnelConfigView) -> String {
    match &rule.derived_from {
        Some(e) => format!("service `{}`'s public exposure", e.service),
        None => format!("a rule of tunnel config `{}`", config.address.name()),
    }
}

/// The resource a finding on `rule` is waived on.
fn owner(rule: &RuleView, config: &TunnelConfigView) -> Address {
    match &rule.derived_from {
        Some(e) => service_address(&e.service),
        None => config.address.clone(),
    }
}

/// The (address, port) a rule's `scheme://host:port` origin names.
fn origin(service: &str) -> Option<(Ipv4Addr, u16)> {
    let (scheme, rest) = service.split_once("://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (
            authority,
            match scheme {
                "https" => 443,
                "http" => 80,
                _ => return None,
            },
        ),
    };
    Some((host.parse().ok()?, port))
}

/// The service a rule's origin is: one of its addresses, the port.
fn rule_target<'m>(m: &'m NetModel, rule: &RuleView) -> Option<(&'m ServiceView, u16)> {
    if let Some(e) = &rule.derived_from {
        let s = m.services.get(&e.service)?;
        return Some((s, s.spec.public.get(e.index)?.port));
    }
    let (ip, port) = origin(&rule.service)?;
    m.services
        .values()
        .find(|s| m.service_endpoints(s).iter().any(|e| e.address == Some(ip)))
        .map(|s| (s, port))
}

/// Every rule of every config with a hostname, and its config.
fn rules(m: &NetModel) -> impl Iterator<Item = (&TunnelConfigView, &RuleView)> {
    m.edge
        .configs
        .iter()
        .flat_map(|c| c.rules.iter().map(move |r| (c, r)))
        .filter(|(_, r)| !r.is_catch_all())
}

fn is_admin(s: &ServiceView, port: u16) -> bool {
    s.spec.admin.iter().any(|p| p.covers(&Port::tcp(port)))
}

pub(super) fn admin_public(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for (config, rule) in rules(&m) {
        let Some((s, port)) = rule_target(&m, rule) else {
            continue;
        };
        if !is_admin(s, port) || rule.access {
            continue;
        }
        let host = rule.hostname.clone().unwrap_or_default();
        let help = match &rule.derived_from {
            Some(_) => format!(
                "put it behind Access: `.public_behind_access(&tunnel, \"{host}\", {port}, Include::emails(&[..]))` (or `Public::new(..).behind_access(..)`)"
            ),
            None => "require Access on the rule: `TunnelIngress::new(..).access(&app)` with an `AccessApp` for the host and an Allow policy".to_string(),
        };
        out.push(
            err(
                ADMIN_PUBLIC,
                format!(
                    "the admin surface tcp/{port} of service `{}` is public as `{host}` ({}) without Cloudflare Access: anyone on the internet reaches it",
                    s.name,
                    describe(rule, config)
                ),
                rule.loc,
                "public without Access",
            )
            .with_label(
                s.field_locs.get("admin").copied().unwrap_or(s.loc),
                "its admin port",
            )
            .with_help(help)
            .for_resource(&owner(rule, config)),
        );
    }
}

/// True for an address no one on the internet reaches: one of the lab's
/// VLANs, private, loopback, link-local, unique local.
fn lab_address(m: &NetModel, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || m.vlans.values().any(|v| v.contains(v4))
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

pub(super) fn public_bypass(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for d in &m.edge.dns {
        if d.record_type != "A" && d.record_type != "AAAA" {
            continue;
        }
        let RecordContent::Literal(content) = &d.content else {
            continue;
        };
        let Ok(ip) = lab_proxmox::addr::parse_ip(content) else {
            continue;
        };
        if !lab_address(&m, ip) {
            continue;
        }
        out.push(
            err(
                PUBLIC_BYPASS,
                format!(
                    "public name `{}` is an {} record to the lab address {content}: it does not go through the tunnel",
                    d.name, d.record_type
                ),
                d.loc,
                "not through the tunnel",
            )
            .with_help("expose the service through the tunnel instead: `Service::public(&tunnel, host, port)` (or `DnsRecord::tunnel_cname(&zone, host, &tunnel)` with a tunnel rule); keep lab addresses in the local DNS (`lab_net::model::DnsRecord`)")
            .for_resource(&d.address),
        );
    }
}

/// One use of a host name, for [`host_twice`].
struct NameUse {
    host: String,
    path: String,
    public: bool,
    tunnel: Option<Address>,
    loc: Loc,
    what: String,
    owner: Option<Address>,
}

fn name_uses(m: &NetModel) -> Vec<NameUse> {
    let mut uses = Vec::new();
    for (config, rule) in rules(m) {
        uses.push(NameUse {
            host: rule
                .hostname
                .clone()
                .unwrap_or_default()
                .to_ascii_lowercase(),
            path: rule.path.clone().unwrap_or_default(),
            public: true,
            tunnel: Address::parse(&config.tunnel),
            loc: rule.loc,
            what: describe(rule, config),
            owner: Some(owner(rule, config)),
        });
    }
    for d in &m.edge.dns {
        let tunnel = match &d.content {
            RecordContent::TunnelCname(t) => Some(t.clone()),
            _ => None,
        };
        uses.push(NameUse {
            host: d.name.to_ascii_lowercase(),
            path: String::from("\u{0}dns"),
            public: true,
            tunnel,
            loc: d.loc,
            what: match &d.derived_from {
                Some(e) => format!("the DNS record of service `{}`'s exposure", e.service),
                None => format!("Cloudflare DNS record `{}`", d.address.name()),
            },
            owner: Some(d.address.clone()),
        });
    }
    for p in m.proxies.values() {
        for host in p.hosts.iter().take(p.hand_routes) {
            uses.push(internal(
                host,
                p.routes_loc.unwrap_or(p.loc),
                format!("a route of proxy `{}`", p.name),
            ));
        }
    }
    for s in m.services.values() {
        if let Some(x) = &s.spec.proxy {
            let at = s.field_locs.get("proxy").copied().unwrap_or(s.loc);
            uses.push(internal(
                &x.host,
                at,
                format!("service `{}` through proxy `{}`", s.name, x.via),
            ));
        }
    }
    for d in &m.dns {
        uses.push(internal(&d.spec.name, d.loc, "a local DNS record".into()));
    }
    uses
}

fn internal(host: &str, loc: Loc, what: String) -> NameUse {
    NameUse {
        host: host.to_ascii_lowercase(),
        path: String::new(),
        public: false,
        tunnel: None,
        loc,
        what,
        owner: None,
    }
}

/// Why two uses of one name conflict, if they do.
fn conflict(a: &NameUse, b: &NameUse) -> Option<&'static str> {
    let a_dns = a.path == "\u{0}dns";
    let b_dns = b.path == "\u{0}dns";
    match (a.public, b.public) {
        (false, false) => None, // net::host-twice's
        (true, false) | (false, true) => Some("a public name served inside too: clients inside reach one service, the internet another"),
        (true, true) if a_dns && b_dns => Some("two Cloudflare DNS records of one name (a CNAME cannot share its name)"),
        (true, true) if a_dns || b_dns => {
            // A tunnel rule and the record that points its name at the
            // tunnel belong together.
            (a.tunnel.is_none() || a.tunnel != b.tunnel)
                .then_some("the DNS record does not point the rule's name at its tunnel")
        }
        (true, true) if a.tunnel != b.tunnel => Some("one name on two tunnels: DNS sends it to one of them only"),
        (true, true) => (a.path == b.path).then_some("the second rule would never match"),
    }
}

pub(super) fn host_twice(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    let uses = name_uses(&m);
    let mut by_host: BTreeMap<&str, Vec<&NameUse>> = BTreeMap::new();
    for u in &uses {
        if u.host.is_empty() {
            continue;
        }
        by_host.entry(u.host.as_str()).or_default().push(u);
    }
    // One finding per name: the first conflict says what to fix.
    for (host, list) in by_host {
        'host: for (i, b) in list.iter().enumerate() {
            for a in &list[..i] {
                let Some(why) = conflict(a, b) else { continue };
                let mut d = err(
                    PUBLIC_HOST_TWICE,
                    format!("`{host}` is used twice: by {} and by {}: {why}", a.what, b.what),
                    b.loc,
                    b.what.clone(),
                )
                .with_label(a.loc, a.what.clone())
                .with_help("one name, one service: rename one, or remove the record written by hand (lab-net derives the CNAME of a public service)");
                if let Some(o) = &b.owner {
                    d = d.for_resource(o);
                }
                out.push(d);
                break 'host;
            }
        }
    }
}

pub(super) fn unanchored_path(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for (config, rule) in rules(&m) {
        let Some(path) = rule.path.as_deref().filter(|p| !p.is_empty()) else {
            continue;
        };
        if path.starts_with('^') {
            continue;
        }
        out.push(
            err(
                UNANCHORED_PATH,
                format!(
                    "the path `{path}` of {} is unanchored: cloudflared matches it anywhere in the path (`/x{}y` too)",
                    describe(rule, config),
                    path.trim_start_matches('/'),
                ),
                rule.loc,
                "unanchored",
            )
            .with_help(format!(
                "anchor it at the start: `^/{}` (and end it with `(/|$)` to match one segment)",
                path.trim_start_matches('/')
            ))
            .for_resource(&owner(rule, config)),
        );
    }
}

pub(super) fn wildcard_wider(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for (config, rule) in rules(&m) {
        let Some(host) = rule.hostname.as_deref().filter(|h| h.starts_with("*.")) else {
            continue;
        };
        for app in rule.access_apps.iter().filter_map(|a| m.edge.apps.get(a)) {
            let covered = app.host().eq_ignore_ascii_case(host);
            let why = if covered {
                format!("Access app `{}` protects `{}` one level deep only, the rule reaches every depth (`a.b{}`)", app.address.name(), app.domain, &host[1..])
            } else {
                format!(
                    "Access app `{}` protects `{}` only",
                    app.address.name(),
                    app.domain
                )
            };
            out.push(
                err(
                    WILDCARD_WIDER,
                    format!("the tunnel rule `{host}` of {} is wider than its Access app: {why}", describe(rule, config)),
                    rule.loc,
                    "wildcard rule",
                )
                .with_label(app.loc, "its Access app")
                .with_help("write one rule (and one Access app) per host, or narrow the rule to the names the app protects")
                .for_resource(&owner(rule, config)),
            );
        }
    }
}

/// The Access apps in front of admin surfaces: (app, the rule's service,
/// the rule's line).
fn admin_apps(m: &NetModel) -> Vec<(Address, String, Loc)> {
    let mut apps = Vec::new();
    for (_, rule) in rules(m) {
        let Some((s, port)) = rule_target(m, rule) else {
            continue;
        };
        if !is_admin(s, port) {
            continue;
        }
        for app in &rule.access_apps {
            if !apps.iter().any(|(a, _, _)| a == app) {
                apps.push((app.clone(), s.name.clone(), rule.loc));
            }
        }
    }
    apps
}

pub(super) fn admin_app_open(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for (app_address, service, rule_loc) in admin_apps(&m) {
        let Some(app) = m.edge.apps.get(&app_address) else {
            continue;
        };
        for policy in app.policies.iter().filter_map(|p| m.edge.policies.get(p)) {
            let (why, at) = match policy.decision {
                Some(Decision::Bypass) => (
                    "its decision is Bypass: no login at all",
                    policy.decision_loc,
                ),
                Some(Decision::Allow | Decision::NonIdentity) if policy.includes_everyone => (
                    "it includes `everyone`: anyone who can log in with any identity provider",
                    policy.include_loc,
                ),
                _ => continue,
            };
            let derived = app.derived_from.is_some();
            out.push(
                err(
                    ADMIN_APP_OPEN,
                    format!(
                        "Access app `{}` guards the admin surface of service `{service}`, but its policy `{}` lets anyone in: {why}",
                        app.address.name(),
                        policy.address.name()
                    ),
                    at,
                    "lets anyone in",
                )
                .with_label(rule_loc, "the admin surface's rule")
                .with_help(if derived {
                    "name who may log in: `Include::emails(&[..])`, `Include::email_domain(..)` or `Include::group(&group)`"
                } else {
                    "use an Allow policy that names who may log in (`Include::emails`, `::email_domain`, `::group`), never Bypass, on an admin surface"
                })
                .for_resource(&policy.address),
            );
        }
    }
}

/// Endpoints standing for all of `zone`: its guests' and hosts', and the
/// zone itself (what a flow to the zone reaches).
fn zone_targets(m: &NetModel, zone: &str) -> Vec<Endpoint> {
    let mut targets = vec![Endpoint {
        zone: zone.to_string(),
        vlan: String::new(),
        address: None,
        guest: None,
    }];
    for g in &m.guests {
        targets.extend(m.guest_endpoints(g).into_iter().filter(|e| e.zone == zone));
    }
    for h in m.hosts.values() {
        targets.extend(m.host_endpoint(h).filter(|e| e.zone == zone));
    }
    targets
}

pub(super) fn connector_mgmt(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    let mgmt: Vec<&str> = m
        .zones
        .values()
        .filter(|z| z.spec.trust == Trust::Mgmt)
        .map(|z| z.name.as_str())
        .collect();
    for c in &m.edge.connectors {
        let Some(g) = m.guest(&c.guest.to_string()) else {
            continue;
        };
        'guest: for from in m.guest_endpoints(g) {
            for zone in &mgmt {
                let mut ports = vec![Port::any()];
                for f in m
                    .flows
                    .iter()
                    .filter(|f| f.spec.from == from.zone && f.spec.to == *zone)
                {
                    ports.extend(crate::derive::firewall::flow_ports(&m, f));
                }
                for to in zone_targets(&m, zone) {
                    for port in &ports {
                        let v = can_reach(&m, &from, &to, port);
                        if !v.allowed {
                            continue;
                        }
                        let mut d = err(
                            CONNECTOR_MGMT,
                            format!(
                                "`{}` runs tunnel `{}`'s connector on VLAN `{}`, which reaches zone `{zone}` ({}): {}",
                                c.guest, c.tunnel, from.vlan, Trust::Mgmt.as_str(), v.reason
                            ),
                            c.loc,
                            "the connector",
                        )
                        .with_help("the connector is the internet's way in: put it on a dmz VLAN that no flow lets into mgmt, and expose admin surfaces in mgmt through a proxy in another zone, behind Access");
                        if let Reason::Flow { loc, .. } = v.reason {
                            d = d.with_label(loc, "this flow lets it in");
                        }
                        out.push(d.for_resource(&c.guest));
                        break 'guest;
                    }
                }
            }
        }
    }
}

pub(super) fn config_twice(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for (name, t) in &m.edge.tunnels {
        let configs = m.edge.configs_of(name);
        if let [first, rest @ ..] = configs.as_slice() {
            for second in rest {
                out.push(
                    err(
                        CONFIG_TWICE,
                        format!("tunnel `{name}` has two configurations, `{}` and `{}`: each PUT replaces the whole document, so one would undo the other", first.address.name(), second.address.name()),
                        second.loc,
                        "the second",
                    )
                    .with_label(first.loc, "the first")
                    .with_label(t.loc, "the tunnel")
                    .with_help("keep one `TunnelConfig` per tunnel and put every rule in it (services' public exposures are appended to it)")
                    .for_resource(&second.address),
                );
            }
        }
    }
}

pub(super) fn no_connector(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for (name, t) in &m.edge.tunnels {
        let public = m
            .edge
            .configs_of(name)
            .iter()
            .any(|c| c.rules.iter().any(|r| !r.is_catch_all()));
        if !public || m.edge.connectors.iter().any(|c| &c.tunnel == name) {
            continue;
        }
        out.push(
            Diagnostic::warning(
                NO_CONNECTOR,
                format!("tunnel `{name}` has public rules but no connector in the lab: nothing serves them (Cloudflare answers error 1033)"),
            )
            .with_label(t.loc, "no connector runs this tunnel")
            .with_help("run cloudflared in a container on a dmz VLAN: `Container::new(..).runs_cloudflared(&tunnel)` (lab_net::model::cloudflare::Connector); waive net::tunnel-no-connector if it runs outside the lab")
            .for_resource(&t.address),
        );
    }
}

/// `net::flow-denied` for the connector: each connector of a tunnel must
/// reach the services its rules send requests to (called by
/// [`super::rules::flow_denied`]).
pub(super) fn connector_flows(m: &NetModel, out: &mut Vec<Diagnostic>) {
    for (config, rule) in rules(m) {
        let Some((s, port)) = rule_target(m, rule) else {
            continue;
        };
        let Some(tunnel) = Address::parse(&config.tunnel) else {
            continue;
        };
        let targets = m.service_endpoints(s);
        for c in m
            .edge
            .connectors
            .iter()
            .filter(|c| c.tunnel == tunnel.name())
        {
            let Some(g) = m.guest(&c.guest.to_string()) else {
                continue;
            };
            let from = m.guest_endpoints(g);
            let Some((f, v)) = super::rules::denied(m, &from, &targets, &Port::tcp(port)) else {
                continue;
            };
            out.push(
                err(
                    FLOW_DENIED,
                    format!(
                        "tunnel `{}`'s connector `{}` forwards `{}` to service `{}` on tcp/{port}, but the policy denies zone `{}` -> zone `{}`: {}",
                        tunnel.name(),
                        c.guest,
                        rule.hostname.as_deref().unwrap_or_default(),
                        s.name,
                        f.zone,
                        targets[0].zone,
                        v.reason
                    ),
                    rule.loc,
                    "routed here",
                )
                .with_label(c.loc, "the connector")
                .with_help(format!(
                    "allow it: `lab.add(Flow::allow(&{}, &{}).service(&{}))`",
                    f.zone, targets[0].zone, s.name
                ))
                .for_resource(&owner(rule, config)),
            );
        }
    }
}

pub(super) fn public_exposure(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let m = NetModel::read(lab);
    for s in m.services.values() {
        for (index, p) in s.spec.public.iter().enumerate() {
            let e = ExposureRef {
                service: s.name.clone(),
                index,
            };
            let at = m.exposure_loc(&e).unwrap_or(s.loc);
            let Some(t) = m.edge.tunnels.get(&p.tunnel) else {
                continue;
            };
            if m.service_endpoints(s).iter().all(|e| e.address.is_none()) {
                out.push(
                    err(PUBLIC_EXPOSURE, format!("service `{}` is public as `{}` but has no address on a lab-net VLAN: the tunnel has nowhere to send requests", s.name, p.host), at, "public here")
                        .with_help("put its guest on a VLAN with `.nic_on(slot, &vlan)`")
                        .for_resource(&service_address(&s.name)),
                );
            }
            if m.edge.zone_for(&t.account, &p.host).is_none() {
                let zones: Vec<String> = m
                    .edge
                    .zones
                    .iter()
                    .filter(|z| z.account == t.account)
                    .map(|z| format!("`{}`", z.name))
                    .collect();
                out.push(
                    err(PUBLIC_EXPOSURE, format!("`{}` is in no Cloudflare zone of the tunnel's account{}: lab-net cannot make its DNS record", p.host, if zones.is_empty() { String::new() } else { format!(" (it has {})", zones.join(", ")) }), at, "public here")
                        .with_help("declare the zone it ends in: `lab.add(cloudflare::Zone::new(&account, \"example.com\"))`, or pick a host in one of the account's zones")
                        .for_resource(&service_address(&s.name)),
                );
            }
            if !s
                .spec
                .ports
                .iter()
                .chain(&s.spec.admin)
                .any(|q| q.covers(&Port::tcp(p.port)))
            {
                out.push(
                    err(PUBLIC_EXPOSURE, format!("service `{}` is public on tcp/{}, which is none of its ports", s.name, p.port), at, "public here")
                        .with_help("expose one of the ports it declares, or declare the port with `.port(..)` / `.admin(..)`")
                        .for_resource(&service_address(&s.name)),
                );
            }
        }
    }
}
