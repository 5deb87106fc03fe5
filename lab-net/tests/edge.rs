//! The edge: services exposed through a Cloudflare Tunnel. The derivation's
//! output for a small lab (the tunnel's rules, the CNAMEs, the Access app
//! and policy, each decoding into its kind once references resolve), and
//! each edge check firing at the user's line and silent on the good lab.

use lab_core::prelude::*;
use lab_core::value::decode;
use lab_core::{Attrs, ResourceSpec};
use lab_net::kinds::cloudflare::*;
use lab_net::kinds::Port;
use lab_net::model::cloudflare::{
    self as cf, AccessPolicy, Account, Connector, Decision, Include, Tunnel, TunnelConfig,
    TunnelIngress,
};
use lab_net::model::*;
use lab_proxmox::model::{Container, Node};

const ACCOUNT_ID: &str = "0123456789abcdef0123456789abcdef";

/// A small lab: `blog` public in the dmz, `grafana` (an admin UI) public
/// behind Access in `servers`, the connector on the dmz VLAN.
struct Edge {
    lab: Lab,
    node: Handle<Node>,
    mgmt: Handle<Zone>,
    servers: Handle<Zone>,
    dmz: Handle<Zone>,
    v10: Handle<Vlan>,
    v40: Handle<Vlan>,
    cf: Handle<Account>,
    zone: Handle<cf::Zone>,
    tunnel: Handle<Tunnel>,
    blog_ct: Handle<Container>,
    grafana_ct: Handle<Container>,
}

fn base() -> Edge {
    let mut lab = Lab::new("home");
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let mgmt = lab.add(Zone::mgmt());
    let servers = lab.add(Zone::servers());
    let dmz = lab.add(Zone::dmz());
    let v10 = lab.add(Vlan::new("mgmt", 10, &mgmt).cidr("10.0.10.0/24"));
    let v20 = lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24"));
    let v40 = lab.add(Vlan::new("dmz", 40, &dmz).cidr("10.0.40.0/24"));
    let cf = lab.add(Account::new(
        "cf",
        ACCOUNT_ID,
        Secret::new("tok-secret"),
        "myteam",
    ));
    let zone = lab.add(cf::Zone::new(&cf, "example.com"));
    let tunnel = lab.add(Tunnel::new(&cf, "lab"));
    let blog_ct = lab.add(
        Container::new("blog", &node)
            .nic_on("net0", &v40)
            .address("10.0.40.7"),
    );
    let grafana_ct = lab.add(
        Container::new("grafana", &node)
            .nic_on("net0", &v20)
            .address("10.0.20.30"),
    );
    lab.add(Flow::allow(&dmz, &servers).port(Port::tcp(3000)));
    Edge {
        lab,
        node,
        mgmt,
        servers,
        dmz,
        v10,
        v40,
        cf,
        zone,
        tunnel,
        blog_ct,
        grafana_ct,
    }
}

/// The connector on the dmz VLAN.
fn connector(e: &mut Edge) -> Handle<Container> {
    e.lab.add(
        Container::new("cloudflared", &e.node)
            .nic_on("net0", &e.v40)
            .runs_cloudflared(&e.tunnel),
    )
}

fn admins() -> Include {
    Include::emails(&["me@example.com"])
}

/// The base lab with both services public and the connector.
fn good() -> Edge {
    let mut e = base();
    e.lab.add(
        Service::new("blog", &e.blog_ct)
            .port(Port::tcp(8080))
            .public(&e.tunnel, "blog.example.com", 8080),
    );
    e.lab.add(
        Service::new("grafana", &e.grafana_ct)
            .admin(Port::tcp(3000))
            .public_behind_access(&e.tunnel, "grafana.example.com", 3000, admins()),
    );
    connector(&mut e);
    e
}

/// Every finding, but the containers' own (no template or root disk here).
fn findings(lab: &Lab) -> Vec<Diagnostic> {
    lab.check()
        .into_iter()
        .filter(|d| !d.message.contains("ostemplate:") && !d.message.contains("rootfs:"))
        .collect()
}

fn one(lab: &Lab, code: &str) -> Diagnostic {
    let all = findings(lab);
    let mut hits: Vec<_> = all.iter().filter(|d| d.code == code).cloned().collect();
    assert_eq!(hits.len(), 1, "one {code} in {all:#?}");
    hits.remove(0)
}

fn spec(lab: &Lab, address: &str) -> ResourceSpec {
    lab.resources()
        .find(|s| s.address.to_string() == address)
        .unwrap_or_else(|| {
            panic!(
                "{address} in {:?}",
                lab.resources()
                    .map(|s| s.address.to_string())
                    .collect::<Vec<_>>()
            )
        })
        .clone()
}

/// The attributes with every reference replaced by `<address>#<output>`.
fn resolved(spec: &ResourceSpec) -> Attrs {
    let mut attrs = spec.attrs.clone();
    for value in attrs.values_mut() {
        value.resolve_refs(&mut |r| Some(Value::Str(format!("{}#{}", r.address, r.output))));
    }
    attrs
}

fn depends_on(spec: &ResourceSpec, address: &str) -> bool {
    spec.deps.iter().any(|d| d.on.to_string() == address)
}

#[test]
fn the_good_lab_has_no_findings() {
    let e = good();
    let all = findings(&e.lab);
    assert!(all.is_empty(), "{all:#?}");
}

#[test]
fn a_tunnel_without_config_gets_one_with_a_rule_per_exposure() {
    let mut e = good();
    e.lab.derive();
    let config = spec(&e.lab, "cloudflare.tunnel_config.lab");
    assert_eq!(config.derived_by, Some("net"));
    let typed: TunnelConfigSpec = decode(&resolved(&config)).expect("decodes");
    assert_eq!(typed.tunnel, "cloudflare.tunnel.lab");
    assert_eq!(typed.account, "cloudflare.account.cf");
    assert_eq!(typed.tunnel_id, "cloudflare.tunnel.lab#id");
    let rules = &typed.config.ingress;
    assert_eq!(rules.len(), 3, "{rules:#?}");
    assert_eq!(rules[0].hostname.as_deref(), Some("blog.example.com"));
    assert_eq!(rules[0].service, "http://10.0.40.7:8080");
    assert_eq!(rules[0].origin_request, None);
    assert_eq!(rules[1].hostname.as_deref(), Some("grafana.example.com"));
    assert_eq!(rules[1].service, "http://10.0.20.30:3000");
    let access = rules[1]
        .origin_request
        .as_ref()
        .and_then(|o| o.access.clone())
        .expect("access on the admin rule");
    assert!(access.required);
    assert_eq!(access.team_name, "cloudflare.account.cf#team_name");
    assert_eq!(
        access.aud_tag,
        vec!["cloudflare.access_app.grafana-example-com#aud".to_string()]
    );
    assert_eq!(rules[2].service, CATCH_ALL_SERVICE);
    assert_eq!(rules[2].hostname, None);
    // What cloudflared would accept.
    let json: Vec<_> = typed.config.ingress_json();
    lab_net::cloudflare::validate_ingress(&json).expect("valid ingress");
    // Ordered after the tunnel and the app whose aud it names.
    assert!(depends_on(&config, "cloudflare.tunnel.lab"));
    assert!(depends_on(
        &config,
        "cloudflare.access_app.grafana-example-com"
    ));
    // Declared at the first exposure's line.
    let blog = spec(&e.lab, "net.service.blog");
    assert_eq!(config.declared_at, blog.loc_of("public.0"));
}

#[test]
fn each_public_host_gets_a_proxied_cname_to_the_tunnel() {
    let mut e = good();
    e.lab.derive();
    for host in ["blog.example.com", "grafana.example.com"] {
        let address = format!("cloudflare.dns_record.cname-{}", host.replace('.', "-"));
        let record = spec(&e.lab, &address);
        let typed: CloudflareDnsRecordSpec = decode(&resolved(&record)).expect("decodes");
        assert_eq!(typed.name, host);
        assert_eq!(typed.record_type, "CNAME");
        assert!(typed.proxied);
        assert_eq!(typed.ttl, TTL_AUTOMATIC);
        assert_eq!(typed.content, "cloudflare.tunnel.lab#cname");
        assert_eq!(typed.zone, "cloudflare.zone.example-com");
        assert_eq!(typed.zone_id, "cloudflare.zone.example-com#id");
        assert_eq!(typed.comment.as_deref(), Some(cf::MANAGED_COMMENT));
        assert!(depends_on(&record, "cloudflare.tunnel.lab"));
        assert!(depends_on(&record, "cloudflare.zone.example-com"));
    }
}

#[test]
fn an_exposure_behind_access_gets_an_app_and_an_allow_policy() {
    let mut e = good();
    e.lab.derive();
    let app = spec(&e.lab, "cloudflare.access_app.grafana-example-com");
    let typed: AccessAppSpec = decode(&resolved(&app)).expect("decodes");
    assert_eq!(typed.domain, "grafana.example.com");
    assert_eq!(typed.app_type, SELF_HOSTED);
    assert_eq!(
        typed.policies,
        vec![AppPolicyLink {
            id: "cloudflare.access_policy.grafana-example-com-allow#id".into(),
            precedence: 1
        }]
    );
    let policy = spec(&e.lab, "cloudflare.access_policy.grafana-example-com-allow");
    let typed: AccessPolicySpec = decode(&resolved(&policy)).expect("decodes");
    assert_eq!(typed.decision, Decision::Allow);
    assert_eq!(
        typed.include,
        vec![AccessRule::Email {
            email: "me@example.com".into()
        }]
    );
    assert!(depends_on(
        &app,
        "cloudflare.access_policy.grafana-example-com-allow"
    ));
    // The public service without Access gets neither.
    assert!(!e
        .lab
        .resources()
        .any(|s| s.address.to_string().contains("blog-example-com") && s.kind() != DNS_RECORD));
}

#[test]
fn derived_rules_follow_the_hand_written_ones_before_the_catch_all() {
    let mut e = base();
    let config = e.lab.add(
        TunnelConfig::new(&e.cf, &e.tunnel)
            .rule(TunnelIngress::new("ssh.example.com", "ssh://10.0.40.9:22")),
    );
    e.lab.add(
        Service::new("blog", &e.blog_ct)
            .port(Port::tcp(8080))
            .expose(
                Public::new(&e.tunnel, "blog.example.com", 8080)
                    .path("^/posts/")
                    .https()
                    .no_tls_verify()
                    .origin_server_name("blog.lab.home.arpa"),
            ),
    );
    connector(&mut e);
    e.lab.derive();
    let s = spec(&e.lab, &config.address().to_string());
    assert_eq!(s.derived_by, None, "the user's config is extended");
    let typed: TunnelConfigSpec = decode(&resolved(&s)).expect("decodes");
    let hosts: Vec<_> = typed
        .config
        .ingress
        .iter()
        .map(|r| r.hostname.clone().unwrap_or_default())
        .collect();
    assert_eq!(hosts, ["ssh.example.com", "blog.example.com", ""]);
    let blog = &typed.config.ingress[1];
    assert_eq!(blog.service, "https://10.0.40.7:8080");
    assert_eq!(blog.path.as_deref(), Some("^/posts/"));
    let origin = blog.origin_request.as_ref().expect("originRequest");
    assert_eq!(origin.no_tls_verify, Some(true));
    assert_eq!(
        origin.origin_server_name.as_deref(),
        Some("blog.lab.home.arpa")
    );
    // Deriving again starts from what the user wrote.
    e.lab
        .add(Flow::allow(&e.dmz, &e.servers).port(Port::tcp(9999)));
    e.lab.derive();
    let again: TunnelConfigSpec =
        decode(&resolved(&spec(&e.lab, &config.address().to_string()))).expect("decodes");
    assert_eq!(again.config.ingress.len(), 3);
    assert!(findings(&e.lab).is_empty(), "{:#?}", findings(&e.lab));
}

#[test]
fn a_hand_written_cname_is_kept_and_not_derived_twice() {
    let mut e = good();
    e.lab.add(cf::DnsRecord::tunnel_cname(
        &e.zone,
        "blog.example.com",
        &e.tunnel,
    ));
    e.lab.derive();
    assert_eq!(
        spec(&e.lab, "cloudflare.dns_record.cname-blog-example-com").derived_by,
        None
    );
    assert!(findings(&e.lab).is_empty(), "{:#?}", findings(&e.lab));
}

#[test]
fn derived_resources_are_bound_like_the_resources_they_belong_to() {
    let mut lab = Lab::new("home");
    let instance =
        lab.register_provider_as("cf-home", lab_core::testing::MemoryProvider::new().shared());
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let dmz = lab.add(Zone::dmz());
    let v40 = lab.add(Vlan::new("dmz", 40, &dmz).cidr("10.0.40.0/24"));
    let acct =
        lab.add(Account::new("cf", ACCOUNT_ID, Secret::new("t"), "team").provider(&instance));
    lab.add(cf::Zone::new(&acct, "example.com").provider(&instance));
    let tunnel = lab.add(Tunnel::new(&acct, "lab").provider(&instance));
    let ct = lab.add(Container::new("web", &node).nic_on("net0", &v40));
    lab.add(
        Service::new("web", &ct)
            .admin(Port::tcp(80))
            .public_behind_access(&tunnel, "web.example.com", 80, admins()),
    );
    lab.derive();
    for address in [
        "cloudflare.tunnel_config.lab",
        "cloudflare.dns_record.cname-web-example-com",
        "cloudflare.access_app.web-example-com",
        "cloudflare.access_policy.web-example-com-allow",
    ] {
        let s = spec(&lab, address);
        assert_eq!(
            s.provider.as_ref().map(|b| b.name.as_str()),
            Some("cf-home"),
            "{address}"
        );
    }
}

#[test]
fn an_admin_port_public_without_access_is_refused_at_its_line() {
    let mut e = base();
    let line = line!() + 4;
    e.lab.add(
        Service::new("grafana", &e.grafana_ct)
            .admin(Port::tcp(3000))
            .public(&e.tunnel, "grafana.example.com", 3000),
    );
    connector(&mut e);
    let d = one(&e.lab, "net::admin-public");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(
        d.message.contains("without Cloudflare Access"),
        "{}",
        d.message
    );
    assert!(d
        .help
        .as_deref()
        .unwrap_or("")
        .contains("public_behind_access"));
}

#[test]
fn a_hand_written_rule_to_an_admin_port_without_access_is_refused() {
    let mut e = base();
    e.lab
        .add(Service::new("grafana", &e.grafana_ct).admin(Port::tcp(3000)));
    let line = line!() + 2;
    e.lab
        .add(TunnelConfig::new(&e.cf, &e.tunnel).rule(TunnelIngress::new(
            "grafana.example.com",
            "http://10.0.20.30:3000",
        )));
    e.lab.add(cf::DnsRecord::tunnel_cname(
        &e.zone,
        "grafana.example.com",
        &e.tunnel,
    ));
    connector(&mut e);
    let d = one(&e.lab, "net::admin-public");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.help.as_deref().unwrap_or("").contains(".access(&app)"));
}

#[test]
fn an_a_record_to_a_lab_address_is_refused_and_a_public_one_is_not() {
    let mut e = good();
    let line = line!() + 1;
    e.lab.add(cf::DnsRecord::new(
        &e.zone,
        "nas.example.com",
        "A",
        "10.0.20.5",
    ));
    e.lab.add(cf::DnsRecord::new(
        &e.zone,
        "www.example.com",
        "A",
        "203.0.113.7",
    ));
    let d = one(&e.lab, "net::public-bypass");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("nas.example.com"), "{}", d.message);
}

#[test]
fn a_public_name_also_served_inside_is_refused() {
    let mut e = good();
    let line = line!() + 1;
    e.lab.add(DnsRecord::new("blog.example.com", "10.0.40.7"));
    let d = one(&e.lab, "net::public-host-twice");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("served inside"), "{}", d.message);
}

#[test]
fn a_public_name_on_two_tunnels_or_pointing_elsewhere_is_refused() {
    let mut e = good();
    let other = e.lab.add(Tunnel::new(&e.cf, "other"));
    let line = line!() + 2;
    e.lab
        .add(TunnelConfig::new(&e.cf, &other).rule(TunnelIngress::new(
            "blog.example.com",
            "http://10.0.40.7:8080",
        )));
    let d = one(&e.lab, "net::public-host-twice");
    assert!(
        d.labels.iter().any(|l| l.loc.line() == line),
        "a label at the other tunnel's rule: {d:#?}"
    );
    assert!(d.message.contains("two tunnels"), "{}", d.message);

    let mut e = good();
    let line = line!() + 1;
    e.lab.add(cf::DnsRecord::new(
        &e.zone,
        "blog.example.com",
        "CNAME",
        "elsewhere.example.net",
    ));
    let d = one(&e.lab, "net::public-host-twice");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("does not point"), "{}", d.message);
}

#[test]
fn an_unanchored_path_is_refused_and_an_anchored_one_is_not() {
    let mut e = good();
    let line = line!() + 4;
    e.lab.add(
        Service::new("docs", &e.blog_ct)
            .port(Port::tcp(8081))
            .expose(Public::new(&e.tunnel, "docs.example.com", 8081).path("api/"))
            .expose(Public::new(&e.tunnel, "docs.example.com", 8081).path("^/static/")),
    );
    let d = one(&e.lab, "net::unanchored-path");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(
        d.help.as_deref().unwrap_or("").contains("`^/api/`"),
        "{:?}",
        d.help
    );
}

#[test]
fn a_wildcard_rule_wider_than_its_access_app_is_refused() {
    let mut e = good();
    let line = line!() + 4;
    e.lab.add(
        Service::new("apps", &e.blog_ct)
            .port(Port::tcp(8082))
            .public_behind_access(&e.tunnel, "*.apps.example.com", 8082, admins()),
    );
    let d = one(&e.lab, "net::wildcard-wider-than-access");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("every depth"), "{}", d.message);
}

#[test]
fn an_admin_app_open_to_everyone_or_bypassing_is_refused() {
    let mut e = base();
    let line = line!() + 4;
    e.lab.add(
        Service::new("grafana", &e.grafana_ct)
            .admin(Port::tcp(3000))
            .public_behind_access(&e.tunnel, "grafana.example.com", 3000, Include::everyone()),
    );
    connector(&mut e);
    let d = one(&e.lab, "net::admin-app-open");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("`everyone`"), "{}", d.message);

    let mut e = base();
    let line = line!() + 3;
    let open = e
        .lab
        .add(AccessPolicy::new(&e.cf, "open", Decision::Bypass, admins()));
    e.lab.add(
        Service::new("grafana", &e.grafana_ct)
            .admin(Port::tcp(3000))
            .expose(
                Public::new(&e.tunnel, "grafana.example.com", 3000)
                    .behind_access(admins())
                    .access_policy(&open),
            ),
    );
    connector(&mut e);
    let d = one(&e.lab, "net::admin-app-open");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("Bypass"), "{}", d.message);
    // The same policy in front of a service that is not an admin surface
    // is the user's business.
    let mut e = good();
    let open = e
        .lab
        .add(AccessPolicy::new(&e.cf, "open", Decision::Bypass, admins()));
    e.lab.add(
        Service::new("docs", &e.blog_ct)
            .port(Port::tcp(8081))
            .expose(Public::new(&e.tunnel, "docs.example.com", 8081).access_policy(&open)),
    );
    assert!(findings(&e.lab).is_empty(), "{:#?}", findings(&e.lab));
}

#[test]
fn a_connector_that_can_reach_mgmt_is_refused_at_its_line() {
    let mut e = good();
    e.lab
        .add(Flow::allow(&e.dmz, &e.mgmt).port(Port::tcp(8006)));
    let d = one(&e.lab, "net::connector-reaches-mgmt");
    let connector_line = e
        .lab
        .resources()
        .find(|s| s.name() == "cloudflared")
        .map(|s| s.loc_of(lab_net::kinds::CONNECTOR_ANNOTATION).line())
        .unwrap();
    assert_eq!(d.file_line().map(|(_, l)| l), Some(connector_line));
    assert!(d.message.contains("zone `mgmt`"), "{}", d.message);
    assert!(d.labels.len() >= 2, "the flow is labelled: {d:#?}");

    // A connector on the mgmt VLAN itself.
    let mut e = base();
    let line = line!() + 4;
    e.lab.add(
        Container::new("cloudflared", &e.node)
            .nic_on("net0", &e.v10)
            .runs_cloudflared(&e.tunnel),
    );
    let d = one(&e.lab, "net::connector-reaches-mgmt");
    assert_eq!(d.file_line(), Some((file!(), line)));
}

#[test]
fn a_connector_that_cannot_reach_a_service_it_fronts_is_refused() {
    let mut e = good();
    let line = line!() + 4;
    e.lab.add(
        Service::new("wiki", &e.grafana_ct)
            .port(Port::tcp(8090))
            .public(&e.tunnel, "wiki.example.com", 8090),
    );
    let d = one(&e.lab, "net::flow-denied");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("connector"), "{}", d.message);
    assert!(d
        .help
        .as_deref()
        .unwrap_or("")
        .contains("Flow::allow(&dmz, &servers)"));
}

#[test]
fn a_tunnel_with_public_rules_and_no_connector_is_a_warning() {
    let mut e = base();
    e.lab.add(
        Service::new("blog", &e.blog_ct)
            .port(Port::tcp(8080))
            .public(&e.tunnel, "blog.example.com", 8080),
    );
    let d = one(&e.lab, "net::tunnel-no-connector");
    assert!(!d.is_blocking());
    let tunnel = spec(&e.lab, &e.tunnel.address().to_string());
    assert_eq!(
        d.file_line().map(|(_, l)| l),
        Some(tunnel.declared_at.line())
    );
}

/// A second `cloudflare.tunnel_config` for one tunnel, under another name
/// (`TunnelConfig::new` names it after its tunnel, so two of those are
/// `core::duplicate-address`).
struct RawConfig(ResourceSpec);

impl Resource for RawConfig {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.0
    }

    fn into_spec(self) -> ResourceSpec {
        self.0
    }
}

#[test]
fn a_tunnel_with_two_configs_is_refused() {
    let mut e = good();
    e.lab.add(TunnelConfig::new(&e.cf, &e.tunnel));
    let line = line!() + 1;
    let mut raw = ResourceSpec::new(TUNNEL_CONFIG, "second");
    raw.set("account", "cloudflare.account.cf");
    raw.set("tunnel", "cloudflare.tunnel.lab");
    raw.check_set = Some(lab_net::checks::SET);
    e.lab.add(RawConfig(raw));
    let d = one(&e.lab, "net::tunnel-config-twice");
    assert_eq!(d.file_line(), Some((file!(), line)));
}

#[test]
fn an_exposure_lab_net_cannot_derive_says_why() {
    let mut e = good();
    let line = line!() + 4;
    e.lab.add(
        Service::new("shop", &e.blog_ct)
            .port(Port::tcp(8083))
            .public(&e.tunnel, "shop.example.org", 8083),
    );
    let d = one(&e.lab, "net::public-exposure");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("no Cloudflare zone"), "{}", d.message);
    assert!(d.message.contains("`example.com`"), "{}", d.message);

    let mut e = good();
    e.lab.add(
        Service::new("shop", &e.blog_ct)
            .port(Port::tcp(8083))
            .public(&e.tunnel, "shop.example.com", 9000),
    );
    let d = one(&e.lab, "net::public-exposure");
    assert!(d.message.contains("none of its ports"), "{}", d.message);
}

#[test]
fn bad_values_in_an_exposure_are_problems_at_the_users_line() {
    let e = base();
    let line = line!() + 3;
    let svc = Service::new("x", &e.blog_ct)
        .port(Port::tcp(80))
        .expose(Public::new(&e.tunnel, "bad host:80", 80).path("(?!x)"));
    let spec = lab_core::Resource::into_spec(svc);
    let lines: Vec<u32> = spec.problems.iter().map(|p| p.loc.line()).collect();
    assert_eq!(lines, vec![line, line], "{:#?}", spec.problems);
}

#[test]
fn the_connector_runs_cloudflared_with_the_tunnels_token() {
    let mut e = good();
    let ct = e
        .lab
        .resources()
        .find(|s| s.name() == "cloudflared")
        .cloned()
        .unwrap();
    assert_eq!(ct.attrs["entrypoint"], Value::from(cf::CLOUDFLARED_COMMAND));
    let token = ct.attrs["env_secrets"]
        .get(cf::TOKEN_VARIABLE)
        .cloned()
        .expect("TUNNEL_TOKEN");
    match token {
        Value::Ref(r) => {
            assert_eq!(r.address, *e.tunnel.address());
            assert_eq!(r.output, "token");
        }
        other => panic!("a reference to the tunnel's token, not {other:?}"),
    }
    assert!(depends_on(&ct, "cloudflare.tunnel.lab"));
    assert_eq!(
        ct.annotations[lab_net::kinds::CONNECTOR_ANNOTATION],
        Value::from("lab")
    );
    // The annotation is lab-net's: never sent to Proxmox.
    assert!(!ct.attrs.contains_key(lab_net::kinds::CONNECTOR_ANNOTATION));
    e.lab.derive();
}

#[test]
fn two_paths_of_one_host_share_its_record_and_get_an_app_each() {
    let mut e = good();
    let ops = e.lab.add(cf::AccessGroup::new(
        &e.cf,
        "ops",
        Include::emails(&["ops@example.com"]),
    ));
    e.lab.add(
        Service::new("api", &e.blog_ct)
            .port(Port::tcp(8081))
            .admin(Port::tcp(9090))
            .expose(
                Public::new(&e.tunnel, "app.example.com", 8081)
                    .path("^/api/")
                    .behind_access(admins()),
            )
            .expose(
                Public::new(&e.tunnel, "app.example.com", 9090)
                    .path("^/admin/")
                    .behind_access(Include::group(&ops)),
            ),
    );
    assert!(findings(&e.lab).is_empty(), "{:#?}", findings(&e.lab));
    e.lab.derive();
    let records: Vec<_> = e
        .lab
        .resources()
        .filter(|s| s.kind() == DNS_RECORD && s.attrs["name"] == Value::from("app.example.com"))
        .collect();
    assert_eq!(records.len(), 1);
    let apps: Vec<String> = e
        .lab
        .resources()
        .filter(|s| s.kind() == ACCESS_APP && s.attrs["domain"] == Value::from("app.example.com"))
        .map(|s| s.address.to_string())
        .collect();
    assert_eq!(apps.len(), 2, "{apps:?}");
    // The group's id is a reference the derived policy keeps, with its
    // edge.
    let policy = e
        .lab
        .resources()
        .find(|s| {
            s.kind() == ACCESS_POLICY
                && s.attrs["include"]
                    .as_list()
                    .is_some_and(|l| l.iter().any(|r| r.get("group").is_some()))
        })
        .cloned()
        .expect("the group's policy");
    assert!(depends_on(&policy, "cloudflare.access_group.ops"));
    let typed: AccessPolicySpec = decode(&resolved(&policy)).expect("decodes");
    assert_eq!(
        typed.include,
        vec![AccessRule::Group {
            id: "cloudflare.access_group.ops#id".into()
        }]
    );
}
