//! The Cloudflare builders: their specs decode into the kinds (references
//! resolved as the engine would), the tunnel's catch-all is appended last,
//! outputs flow as references with their dependencies, and bad values are
//! problems at the user's line.

use lab_core::prelude::*;
use lab_core::value::{decode, validate};
use lab_core::{Attrs, ResourceSpec};
use lab_net::cloudflare::{matching_rule, validate_ingress};
use lab_net::kinds::cloudflare::*;
use lab_net::model::cloudflare::{
    AccessApp, AccessGroup, AccessPolicy, Account, Decision, DnsRecord, Include, Tunnel,
    TunnelConfig, TunnelIngress, Zone,
};

const ACCOUNT_ID: &str = "0123456789abcdef0123456789abcdef";

fn spec<R>(lab: &Lab, handle: &Handle<R>) -> ResourceSpec {
    lab.resource(handle.address()).expect("added").clone()
}

/// The attributes with every reference replaced by `<address>#<output>`,
/// as if everything had been applied.
fn resolved(spec: &ResourceSpec) -> Attrs {
    let mut attrs = spec.attrs.clone();
    for value in attrs.values_mut() {
        value.resolve_refs(&mut |r| Some(Value::Str(format!("{}#{}", r.address, r.output))));
    }
    attrs
}

/// The problems' (field, line).
fn problem_lines(spec: &ResourceSpec) -> Vec<(String, u32)> {
    spec.problems
        .iter()
        .map(|p| (p.field.clone(), p.loc.line()))
        .collect()
}

struct Edge {
    lab: Lab,
    cf: Handle<Account>,
    zone: Handle<Zone>,
    tunnel: Handle<Tunnel>,
    app: Handle<AccessApp>,
}

fn edge() -> Edge {
    let mut lab = Lab::new("home");
    let cf = lab.add(Account::new(
        "cf",
        ACCOUNT_ID,
        Secret::new("tok-123-secret"),
        "myteam",
    ));
    let zone = lab.add(Zone::new(&cf, "example.com"));
    let tunnel = lab.add(Tunnel::new(&cf, "lab"));
    let ops = lab.add(AccessGroup::new(
        &cf,
        "ops",
        Include::emails(&["ops@example.com"]),
    ));
    let admins = lab.add(
        AccessPolicy::new(
            &cf,
            "admins",
            Decision::Allow,
            Include::email_domain("example.com"),
        )
        .require(Include::group(&ops))
        .exclude(Include::emails(&["intern@example.com"]))
        .session_duration("8h"),
    );
    let robots = lab.add(AccessPolicy::new(
        &cf,
        "robots",
        Decision::NonIdentity,
        Include::any_valid_service_token(),
    ));
    let app = lab.add(
        AccessApp::new(&cf, "Proxmox", "pve.example.com")
            .policy(&robots)
            .policy(&admins),
    );
    Edge {
        lab,
        cf,
        zone,
        tunnel,
        app,
    }
}

#[test]
fn every_builder_decodes_into_its_kind() {
    let e = edge();
    for spec in e.lab.resources() {
        assert!(
            spec.problems.is_empty(),
            "{}: {:?}",
            spec.address,
            spec.problems
        );
        let attrs = resolved(spec);
        let kind = spec.kind();
        let result = match kind {
            ACCOUNT => decode::<AccountSpec>(&attrs).map(drop),
            ZONE => decode::<ZoneSpec>(&attrs).map(drop),
            TUNNEL => decode::<TunnelSpec>(&attrs).map(drop),
            ACCESS_GROUP => decode::<AccessGroupSpec>(&attrs).map(drop),
            ACCESS_POLICY => decode::<AccessPolicySpec>(&attrs).map(drop),
            ACCESS_APP => decode::<AccessAppSpec>(&attrs).map(drop),
            other => panic!("unexpected kind {other}"),
        };
        assert!(result.is_ok(), "{}: {:?}", spec.address, result.err());
        // Before apply, references stand for values of the field's type.
        assert!(validate_kind(kind, &spec.attrs), "{}", spec.address);
    }
}

fn validate_kind(kind: &str, attrs: &Attrs) -> bool {
    match kind {
        ACCOUNT => validate::<AccountSpec>(attrs).is_ok(),
        ZONE => validate::<ZoneSpec>(attrs).is_ok(),
        TUNNEL => validate::<TunnelSpec>(attrs).is_ok(),
        TUNNEL_CONFIG => validate::<TunnelConfigSpec>(attrs).is_ok(),
        DNS_RECORD => validate::<CloudflareDnsRecordSpec>(attrs).is_ok(),
        ACCESS_GROUP => validate::<AccessGroupSpec>(attrs).is_ok(),
        ACCESS_POLICY => validate::<AccessPolicySpec>(attrs).is_ok(),
        ACCESS_APP => validate::<AccessAppSpec>(attrs).is_ok(),
        _ => false,
    }
}

#[test]
fn account_keeps_the_token_secret() {
    let e = edge();
    let account = spec(&e.lab, &e.cf);
    assert!(matches!(
        account.attrs.get("api_token"),
        Some(Value::Secret(_))
    ));
    assert!(!format!("{:?}", account.attrs).contains("tok-123-secret"));
    let decoded: AccountSpec = decode(&account.attrs).unwrap();
    assert_eq!(decoded.api_token.expose(), "tok-123-secret");
    assert_eq!(decoded.team_name, "myteam");
}

#[test]
fn policies_and_groups_in_the_apis_rule_shape() {
    let e = edge();
    let policy = e
        .lab
        .resources()
        .find(|s| s.address.to_string() == "cloudflare.access_policy.admins")
        .unwrap();
    let decoded: AccessPolicySpec = decode(&resolved(policy)).unwrap();
    assert_eq!(decoded.decision, Decision::Allow);
    assert_eq!(
        decoded.include,
        vec![AccessRule::EmailDomain {
            domain: "example.com".into()
        }]
    );
    assert_eq!(
        decoded.require,
        vec![AccessRule::Group {
            id: "cloudflare.access_group.ops#id".into()
        }]
    );
    assert_eq!(
        decoded.exclude,
        vec![AccessRule::Email {
            email: "intern@example.com".into()
        }]
    );
    assert_eq!(decoded.session_duration.as_deref(), Some("8h"));
    assert!(policy
        .deps
        .iter()
        .any(|d| d.on.to_string() == "cloudflare.access_group.ops"));
    // The JSON is the API's: one key per rule object.
    let json = serde_json::to_value(&decoded.require[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"group": {"id": "cloudflare.access_group.ops#id"}})
    );
    let everyone = serde_json::to_value(AccessRule::Everyone {}).unwrap();
    assert_eq!(everyone, serde_json::json!({"everyone": {}}));
}

#[test]
fn app_links_policies_by_precedence() {
    let e = edge();
    let app = spec(&e.lab, &e.app);
    let decoded: AccessAppSpec = decode(&resolved(&app)).unwrap();
    assert_eq!(decoded.app_type, "self_hosted");
    assert_eq!(decoded.session_duration, "24h");
    assert_eq!(
        decoded.policies,
        vec![
            AppPolicyLink {
                id: "cloudflare.access_policy.robots#id".into(),
                precedence: 1
            },
            AppPolicyLink {
                id: "cloudflare.access_policy.admins#id".into(),
                precedence: 2
            },
        ]
    );
    let deps: Vec<String> = app.deps.iter().map(|d| d.on.to_string()).collect();
    assert!(
        deps.contains(&"cloudflare.access_policy.admins".to_string()),
        "{deps:?}"
    );
}

#[test]
fn tunnel_config_appends_the_catch_all_last_and_enforces_access_per_rule() {
    let mut e = edge();
    let config = e.lab.add(
        TunnelConfig::new(&e.cf, &e.tunnel)
            .rule(
                TunnelIngress::new("pve.example.com", "https://10.0.10.2:8006")
                    .no_tls_verify()
                    .access(&e.app),
            )
            .rule(
                TunnelIngress::new("blog.example.com", "http://10.0.40.7:8080")
                    .path("^/(?:admin|api)(/|$)"),
            ),
    );
    let s = spec(&e.lab, &config);
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    assert!(validate_kind(TUNNEL_CONFIG, &s.attrs));
    let decoded: TunnelConfigSpec = decode(&resolved(&s)).unwrap();
    assert_eq!(decoded.tunnel_id, "cloudflare.tunnel.lab#id");
    let ingress = &decoded.config.ingress;
    assert_eq!(ingress.len(), 3);
    assert_eq!(
        ingress[2],
        IngressRule {
            service: CATCH_ALL_SERVICE.into(),
            ..Default::default()
        }
    );
    let access = ingress[0]
        .origin_request
        .as_ref()
        .unwrap()
        .access
        .as_ref()
        .unwrap();
    assert!(access.required);
    assert_eq!(access.team_name, "cloudflare.account.cf#team_name");
    assert_eq!(
        access.aud_tag,
        vec!["cloudflare.access_app.Proxmox#aud".to_string()]
    );
    assert_eq!(
        ingress[0].origin_request.as_ref().unwrap().no_tls_verify,
        Some(true)
    );
    assert!(ingress[1].origin_request.is_none());
    // What is PUT passes cloudflared's rules, and routes as intended.
    let json = decoded.config.ingress_json();
    assert_eq!(validate_ingress(&json), Ok(()));
    assert_eq!(matching_rule(&json, "pve.example.com", "/"), Some(0));
    assert_eq!(matching_rule(&json, "blog.example.com", "/api/x"), Some(1));
    assert_eq!(matching_rule(&json, "blog.example.com", "/"), Some(2));
    assert_eq!(json[1]["path"], "^/(?:admin|api)(/|$)");
    // The config waits for the app (its aud), the account and the tunnel.
    let deps: Vec<String> = s.deps.iter().map(|d| d.on.to_string()).collect();
    for want in [
        "cloudflare.access_app.Proxmox",
        "cloudflare.account.cf",
        "cloudflare.tunnel.lab",
    ] {
        assert!(deps.contains(&want.to_string()), "{want} in {deps:?}");
    }
}

#[test]
fn an_empty_tunnel_config_is_the_catch_all_alone() {
    let mut e = edge();
    let config = e.lab.add(TunnelConfig::new(&e.cf, &e.tunnel));
    let decoded: TunnelConfigSpec = decode(&resolved(&spec(&e.lab, &config))).unwrap();
    assert_eq!(
        decoded.config.ingress_json(),
        vec![serde_json::json!({"service": "http_status:404"})]
    );
}

#[test]
fn tunnel_cname_is_a_proxied_cname_to_the_tunnel() {
    let mut e = edge();
    let record = e.lab.add(DnsRecord::tunnel_cname(
        &e.zone,
        "pve.example.com",
        &e.tunnel,
    ));
    let s = spec(&e.lab, &record);
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    let decoded: CloudflareDnsRecordSpec = decode(&resolved(&s)).unwrap();
    assert_eq!(decoded.record_type, "CNAME");
    assert_eq!(decoded.name, "pve.example.com");
    assert_eq!(decoded.content, "cloudflare.tunnel.lab#cname");
    assert!(decoded.proxied);
    assert_eq!(decoded.ttl, TTL_AUTOMATIC);
    assert_eq!(decoded.zone_id, "cloudflare.zone.example-com#id");
    assert_eq!(decoded.comment.as_deref(), Some("managed-by:lab-net"));
    let deps: Vec<String> = s.deps.iter().map(|d| d.on.to_string()).collect();
    assert!(deps.contains(&"cloudflare.tunnel.lab".to_string()));
    let plain = e
        .lab
        .add(DnsRecord::new(&e.zone, "nas.example.com", "A", "203.0.113.7").ttl(300));
    let decoded: CloudflareDnsRecordSpec = decode(&resolved(&spec(&e.lab, &plain))).unwrap();
    assert!(!decoded.proxied);
    assert_eq!(decoded.ttl, 300);
}

#[test]
fn bad_rules_are_problems_at_the_users_line() {
    let mut e = edge();
    let (port_line, wildcard_line, path_line, service_line, catch_all_line, repeat_line);
    let config = TunnelConfig::new(&e.cf, &e.tunnel)
        .rule({
            port_line = line!() + 1;
            TunnelIngress::new("pve.example.com:8006", "https://10.0.10.2:8006")
        })
        .rule({
            wildcard_line = line!() + 1;
            TunnelIngress::new("a.*.example.com", "http://10.0.0.1")
        })
        .rule({
            let rule = TunnelIngress::new("blog.example.com", "http://10.0.0.2");
            path_line = line!() + 1;
            rule.path("^/(?!admin)")
        })
        .rule({
            service_line = line!() + 1;
            TunnelIngress::new("x.example.com", "http://10.0.0.3/app")
        })
        .rule({
            catch_all_line = line!() + 1;
            TunnelIngress::new("", "http_status:404")
        });
    repeat_line = line!() + 1;
    let config = config.rule(TunnelIngress::new("x.example.com", "http://10.0.0.4"));
    let handle = e.lab.add(config);
    let s = spec(&e.lab, &handle);
    assert_eq!(
        problem_lines(&s),
        vec![
            ("hostname".to_string(), port_line),
            ("hostname".to_string(), wildcard_line),
            ("path".to_string(), path_line),
            ("service".to_string(), service_line),
            ("hostname".to_string(), catch_all_line),
            ("config".to_string(), repeat_line),
        ]
    );
    let messages: Vec<&str> = s.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages[0],
        "`pve.example.com:8006`: Hostname cannot contain a port"
    );
    assert!(
        messages[1].contains("at most one wildcard"),
        "{}",
        messages[1]
    );
    assert_eq!(
        messages[2],
        "`^/(?!admin)` is not a regex cloudflared accepts: error parsing regexp: invalid or unsupported Perl syntax: `(?!`"
    );
    assert!(messages[3].starts_with("http://10.0.0.3/app is an invalid address, ingress rules don't support proxying to a different path"));
    assert!(
        s.problems[4].help.contains("appends the catch-all"),
        "{}",
        s.problems[4].help
    );
    assert_eq!(
        messages[5],
        "rule 6 repeats rule 4's hostname `x.example.com`: it would never match"
    );
    // `check` reports them at those lines.
    let diags = e.lab.check();
    let lines: Vec<u32> = diags
        .iter()
        .filter(|d| d.code == "core::invalid-value")
        .flat_map(|d| d.labels.iter().map(|l| l.loc.line()))
        .collect();
    for line in [
        port_line,
        wildcard_line,
        path_line,
        service_line,
        catch_all_line,
        repeat_line,
    ] {
        assert!(lines.contains(&line), "line {line} in {lines:?}");
    }
}

#[test]
fn bad_values_of_the_other_builders_at_the_users_line() {
    let mut lab = Lab::new("home");
    let line = line!() + 1;
    let cf = lab.add(Account::new("cf", "not-an-id", Secret::new(""), "My Team"));
    assert_eq!(
        problem_lines(&spec(&lab, &cf)),
        vec![
            ("account_id".into(), line),
            ("api_token".into(), line),
            ("team_name".into(), line)
        ]
    );
    let line = line!() + 1;
    let zone = lab.add(Zone::new(&cf, "*.example.com"));
    assert_eq!(
        problem_lines(&spec(&lab, &zone)),
        vec![("name".into(), line)]
    );
    let line = line!() + 1;
    let members = Include::emails(&["me@", "ok@example.com", "nope"]);
    let group = lab.add(AccessGroup::new(&cf, "g", members));
    assert_eq!(
        problem_lines(&spec(&lab, &group)),
        vec![("include".into(), line), ("include".into(), line)]
    );
    let include_line = line!() + 1;
    let domain = Include::email_domain("@example.com");
    let policy = AccessPolicy::new(&cf, "p", Decision::Allow, domain);
    let duration_line = line!() + 1;
    let policy = lab.add(policy.session_duration("8 hours"));
    assert_eq!(
        problem_lines(&spec(&lab, &policy)),
        vec![
            ("include".into(), include_line),
            ("session_duration".into(), duration_line)
        ]
    );
    let line = line!() + 1;
    let app = lab.add(AccessApp::new(&cf, "App", "app.example.com:443/admin"));
    assert_eq!(
        problem_lines(&spec(&lab, &app)),
        vec![("domain".into(), line)]
    );
    let line = line!() + 1;
    let a = lab.add(DnsRecord::new(&zone, "nas.example.com", "A", "2001:db8::1").ttl(5));
    assert_eq!(
        problem_lines(&spec(&lab, &a)),
        vec![("content".into(), line), ("ttl".into(), line)]
    );
    let line = line!() + 1;
    let txt = lab.add(DnsRecord::new(&zone, "example.com", "TXT", "v=spf1 -all").proxied(true));
    assert_eq!(
        problem_lines(&spec(&lab, &txt)),
        vec![("proxied".into(), line)]
    );
}

#[test]
fn a_policy_needs_an_include_rule() {
    let mut lab = Lab::new("home");
    let cf = lab.add(Account::new("cf", ACCOUNT_ID, Secret::new("t"), "team"));
    let line = line!() + 1;
    let p = lab.add(AccessPolicy::new(
        &cf,
        "p",
        Decision::Allow,
        Include::emails(&[]),
    ));
    let s = spec(&lab, &p);
    assert_eq!(problem_lines(&s)[0], ("include".into(), line));
    assert_eq!(
        s.problems[0].message,
        "a policy needs at least one include rule"
    );
}

#[test]
fn a_well_formed_edge_checks_clean() {
    let mut e = edge();
    e.lab.add(
        TunnelConfig::new(&e.cf, &e.tunnel)
            .rule(TunnelIngress::new("pve.example.com", "https://10.0.10.2:8006").access(&e.app)),
    );
    e.lab.add(DnsRecord::tunnel_cname(
        &e.zone,
        "pve.example.com",
        &e.tunnel,
    ));
    let blocking: Vec<String> = e
        .lab
        .check()
        .iter()
        .filter(|d| d.is_blocking())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(blocking.is_empty(), "{blocking:#?}");
}
