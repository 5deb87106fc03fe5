//! Every rule and message of [`super::validate_ingress`], and
//! [`super::matching_rule`]'s matching.

use serde_json::{json, Value};

use super::*;

fn catch_all() -> Value {
    json!({"service": "http_status:404"})
}

/// `rule` followed by the catch-all.
fn with_catch_all(rule: Value) -> Result<(), String> {
    validate_ingress(&[rule, catch_all()])
}

fn service(s: &str) -> Result<(), String> {
    with_catch_all(json!({"hostname": "a.example.com", "service": s}))
}

#[test]
fn a_well_formed_list_passes() {
    let rules = [
        json!({"hostname": "grafana.example.com", "service": "https://10.20.0.5:443",
               "originRequest": {"noTLSVerify": false, "originServerName": "grafana.lab.home.arpa",
                                 "access": {"required": true, "teamName": "myteam", "audTag": ["aud1"]}}}),
        json!({"hostname": "blog.example.com", "path": "^/(admin|api)(/|$)", "service": "http://10.30.0.7:8080"}),
        json!({"hostname": "*.example.com", "service": "unix:/run/app.sock"}),
        json!({"hostname": "ssh.example.com", "service": "ssh://10.0.0.2:22"}),
        json!({"service": "http_status:404"}),
    ];
    assert_eq!(validate_ingress(&rules), Ok(()));
    // `*` alone is a catch-all too.
    assert_eq!(
        validate_ingress(&[json!({"hostname": "*", "service": "hello_world"})]),
        Ok(())
    );
}

#[test]
fn no_rules() {
    assert_eq!(validate_ingress(&[]).unwrap_err(), NO_INGRESS_RULES);
    assert_eq!(
        NO_INGRESS_RULES,
        "The config file doesn't contain any ingress rules"
    );
}

#[test]
fn the_last_rule_must_catch_all() {
    let want = "The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)";
    let no_catch_all = [json!({"hostname": "a.example.com", "service": "http://a"})];
    assert_eq!(validate_ingress(&no_catch_all).unwrap_err(), want);
    // A path on the last rule makes it no catch-all.
    let path_on_last = [json!({"path": "^/", "service": "http_status:404"})];
    assert_eq!(validate_ingress(&path_on_last).unwrap_err(), want);
    let star_with_path = [json!({"hostname": "*", "path": "x", "service": "http_status:404"})];
    assert_eq!(validate_ingress(&star_with_path).unwrap_err(), want);
}

#[test]
fn only_the_last_rule_may_catch_all() {
    let rules = [
        json!({"hostname": "a.example.com", "service": "http://a"}),
        json!({"service": "http://b"}),
        json!({"hostname": "c.example.com", "service": "http://c"}),
        catch_all(),
    ];
    assert_eq!(
        validate_ingress(&rules).unwrap_err(),
        "Rule #2 is matching the hostname '', but this will match every hostname, meaning the rules which follow it will never be triggered."
    );
    let star = [json!({"hostname": "*", "service": "http://b"}), catch_all()];
    assert_eq!(
        validate_ingress(&star).unwrap_err(),
        "Rule #1 is matching the hostname '*', but this will match every hostname, meaning the rules which follow it will never be triggered."
    );
    // A hostless rule with a path is no catch-all.
    let hostless_path = [json!({"path": "^/x", "service": "http://b"}), catch_all()];
    assert_eq!(validate_ingress(&hostless_path), Ok(()));
}

#[test]
fn hostnames_cannot_carry_a_port() {
    for host in [
        "a.example.com:443",
        "a.example.com:",
        "[::1]:80",
        "*.example.com:8443",
    ] {
        let got = with_catch_all(json!({"hostname": host, "service": "http://a"}));
        assert_eq!(got.unwrap_err(), "Hostname cannot contain a port", "{host}");
    }
    // Not a host:port for Go: passes the port check.
    assert_eq!(
        with_catch_all(json!({"hostname": "a:b:c", "service": "http://a"})),
        Ok(())
    );
}

#[test]
fn at_most_one_leading_wildcard() {
    let want = "Hostname patterns can have at most one wildcard character (\"*\") and it can only be used for subdomains, e.g. \"*.example.com\"";
    for host in ["a.*.example.com", "*.*.example.com", "a*.example.com"] {
        let got = with_catch_all(json!({"hostname": host, "service": "http://a"}));
        assert_eq!(got.unwrap_err(), want, "{host}");
    }
    assert_eq!(
        with_catch_all(json!({"hostname": "*.example.com", "service": "http://a"})),
        Ok(())
    );
}

#[test]
fn the_port_check_comes_before_the_wildcard_and_catch_all_checks() {
    let rules = [json!({"hostname": "a.*.example.com:80", "service": "http://a"})];
    assert_eq!(
        validate_ingress(&rules).unwrap_err(),
        HOSTNAME_CONTAINS_PORT
    );
    let rules = [json!({"hostname": "a.*.example.com", "service": "http://a"})];
    assert_eq!(validate_ingress(&rules).unwrap_err(), BAD_WILDCARD);
}

#[test]
fn the_path_must_be_a_go_regex() {
    let got = validate_ingress(&[
        json!({"hostname": "a.example.com", "service": "http://a"}),
        json!({"hostname": "b.example.com", "path": "^/(?!admin)", "service": "http://b"}),
        catch_all(),
    ]);
    assert_eq!(
        got.unwrap_err(),
        "Rule #2 has an invalid regex: error parsing regexp: invalid or unsupported Perl syntax: `(?!`"
    );
    let got =
        with_catch_all(json!({"hostname": "a.example.com", "path": "^/(x", "service": "http://a"}));
    assert_eq!(
        got.unwrap_err(),
        "Rule #1 has an invalid regex: error parsing regexp: missing closing ): `^/(x`"
    );
}

#[test]
fn url_services_need_a_scheme_and_a_host() {
    for s in ["10.0.0.5", "localhost:8080", "http://", "", "/var/run/x"] {
        assert_eq!(
            service(s).unwrap_err(),
            format!("{s} is an invalid address, please make sure it has a scheme and a hostname"),
            "{s}"
        );
    }
    // Go's url.Parse refusals come through in its words.
    assert_eq!(
        service("10.0.0.5:8080").unwrap_err(),
        r#"parse "10.0.0.5:8080": first path segment in URL cannot contain colon"#
    );
    assert_eq!(
        service("http://a:http").unwrap_err(),
        r#"parse "http://a:http": invalid port ":http" after host"#
    );
}

#[test]
fn url_services_have_no_path() {
    for s in [
        "http://10.0.0.5/",
        "http://10.0.0.5:8080/admin",
        "https://a/b?c",
    ] {
        assert_eq!(
            service(s).unwrap_err(),
            format!("{s} is an invalid address, ingress rules don't support proxying to a different path on the origin service. The path will be the same as the eyeball request's path"),
            "{s}"
        );
    }
    for s in [
        "http://10.0.0.5",
        "https://a:8443?x=1",
        "tcp://db:5432",
        "rdp://w:3389",
        "smb://nas",
    ] {
        assert_eq!(service(s), Ok(()), "{s}");
    }
}

#[test]
fn http_status_between_100_and_999() {
    for ok in [
        "http_status:100",
        "http_status:404",
        "http_status:999",
        "http_status:+404",
    ] {
        assert_eq!(service(ok), Ok(()), "{ok}");
    }
    assert_eq!(
        service("http_status:99").unwrap_err(),
        "invalid HTTP status code: 99"
    );
    assert_eq!(
        service("http_status:1000").unwrap_err(),
        "invalid HTTP status code: 1000"
    );
    assert_eq!(
        service("http_status:-5").unwrap_err(),
        "invalid HTTP status code: -5"
    );
    assert_eq!(
        service("http_status:abc").unwrap_err(),
        r#"invalid HTTP status code: strconv.Atoi: parsing "abc": invalid syntax"#
    );
    assert_eq!(
        service("http_status:").unwrap_err(),
        r#"invalid HTTP status code: strconv.Atoi: parsing "": invalid syntax"#
    );
    assert_eq!(
        service("http_status:99999999999999999999").unwrap_err(),
        r#"invalid HTTP status code: strconv.Atoi: parsing "99999999999999999999": value out of range"#
    );
}

#[test]
fn special_services_skip_url_checks() {
    for s in [
        "unix:/run/x.sock",
        "unix+tls:/run/x.sock",
        "hello_world",
        "hello-world",
        "bastion",
        "socks-proxy",
    ] {
        assert_eq!(service(s), Ok(()), "{s}");
    }
    // bastionMode makes any service a bastion.
    let got = with_catch_all(json!({"hostname": "a.example.com", "service": "nonsense",
                                    "originRequest": {"bastionMode": true}}));
    assert_eq!(got, Ok(()));
}

#[test]
fn socks_proxy_ip_rules() {
    let socks = |rules: Value| {
        with_catch_all(
            json!({"hostname": "a.example.com", "service": "socks-proxy",
                              "originRequest": {"ipRules": rules}}),
        )
    };
    assert_eq!(
        socks(json!([{"prefix": "10.0.0.0/8", "ports": [80, 443], "allow": true}])),
        Ok(())
    );
    assert_eq!(
        socks(json!([{"ports": [80]}])).unwrap_err(),
        "unable to create ip rule for socks-proxy: no prefix provided"
    );
    assert_eq!(
        socks(json!([{"prefix": "10.0.0.0"}])).unwrap_err(),
        "unable to create ip rule for socks-proxy: unable to parse cidr: 10.0.0.0"
    );
    assert_eq!(
        socks(json!([{"prefix": "10.0.0.0/8", "ports": [0]}])).unwrap_err(),
        "unable to create ip rule for socks-proxy: invalid port 0, needs to be between 1 and 65535"
    );
}

#[test]
fn access_team_name_when_aud_tags_are_set() {
    let access = |a: Value| {
        with_catch_all(json!({"hostname": "a.example.com", "service": "http://a",
                              "originRequest": {"access": a}}))
    };
    assert_eq!(
        access(json!({"required": true, "audTag": ["x"]})).unwrap_err(),
        "access.TeamName cannot be blank when access.audTags are present"
    );
    assert_eq!(
        access(json!({"required": true, "teamName": "", "audTag": ["x"]})).unwrap_err(),
        ACCESS_TEAM_NAME_BLANK
    );
    // Allowed: required without tags (initial setup), not required, or complete.
    assert_eq!(access(json!({"required": true})), Ok(()));
    assert_eq!(access(json!({"required": false, "audTag": ["x"]})), Ok(()));
    assert_eq!(
        access(json!({"required": true, "teamName": "t", "audTag": ["x"]})),
        Ok(())
    );
}

#[test]
fn checks_run_in_cloudflareds_order() {
    // Service before access before hostname before path.
    let all_wrong = json!({"hostname": "a:1", "path": "(", "service": "http_status:1",
                           "originRequest": {"access": {"required": true, "audTag": ["x"]}}});
    assert_eq!(
        with_catch_all(all_wrong).unwrap_err(),
        "invalid HTTP status code: 1"
    );
    let access_and_host = json!({"hostname": "a:1", "path": "(", "service": "http://a",
                                 "originRequest": {"access": {"required": true, "audTag": ["x"]}}});
    assert_eq!(
        with_catch_all(access_and_host).unwrap_err(),
        ACCESS_TEAM_NAME_BLANK
    );
    // Rules are checked in order: rule 1's problem is reported, not rule 2's.
    let rules = [
        json!({"hostname": "a:1", "service": "http://a"}),
        json!({"hostname": "b", "service": "nope"}),
        catch_all(),
    ];
    assert_eq!(
        validate_ingress(&rules).unwrap_err(),
        HOSTNAME_CONTAINS_PORT
    );
}

#[test]
fn wrong_json_types_are_refused() {
    assert_eq!(
        validate_ingress(&[json!("http_status:404")]).unwrap_err(),
        "json: cannot unmarshal string into Go value of type config.UnvalidatedIngressRule"
    );
    assert_eq!(
        validate_ingress(&[json!({"hostname": 5, "service": "http_status:404"})]).unwrap_err(),
        "json: cannot unmarshal number into Go struct field UnvalidatedIngressRule.hostname of type string"
    );
}

#[test]
fn matching_first_match_exact_or_wildcard_suffix() {
    let rules = [
        json!({"hostname": "pve.example.com", "service": "https://10.0.0.2:8006"}),
        json!({"hostname": "*.example.com", "path": "^/admin(/|$)", "service": "http_status:403"}),
        json!({"hostname": "*.example.com", "service": "http://10.0.0.5"}),
        json!({"hostname": "*foo.org", "service": "http://10.0.0.6"}),
        catch_all(),
    ];
    assert_eq!(matching_rule(&rules, "pve.example.com", "/admin"), Some(0));
    assert_eq!(matching_rule(&rules, "pve.example.com:443", "/"), Some(0));
    assert_eq!(
        matching_rule(&rules, "blog.example.com", "/admin/x"),
        Some(1)
    );
    assert_eq!(
        matching_rule(&rules, "blog.example.com", "/administrator"),
        Some(2)
    );
    // Suffix match reaches any depth; the apex is not covered.
    assert_eq!(matching_rule(&rules, "a.b.example.com", "/"), Some(2));
    assert_eq!(matching_rule(&rules, "example.com", "/"), Some(4));
    // `*foo.org` is no `*.` pattern: it matches only itself.
    assert_eq!(matching_rule(&rules, "barfoo.org", "/"), Some(4));
    assert_eq!(matching_rule(&rules, "*foo.org", "/"), Some(3));
    assert_eq!(matching_rule(&rules, "[::1]:443", "/"), Some(4));
}

#[test]
fn paths_match_unanchored() {
    let rules = [
        json!({"hostname": "a.example.com", "path": "admin", "service": "http_status:403"}),
        catch_all(),
    ];
    assert_eq!(
        matching_rule(&rules, "a.example.com", "/x/admin/y"),
        Some(0)
    );
    assert_eq!(matching_rule(&rules, "a.example.com", "/adm"), Some(1));
    // A hostless rule with a path matches any host on that path.
    let rules = [
        json!({"path": "^/health$", "service": "http_status:200"}),
        catch_all(),
    ];
    assert_eq!(
        matching_rule(&rules, "anything.example.org", "/health"),
        Some(0)
    );
    assert_eq!(
        matching_rule(&rules, "anything.example.org", "/healthz"),
        Some(1)
    );
}

#[test]
fn nothing_matches_an_unvalidated_list_without_catch_all() {
    let rules = [
        json!({"hostname": "a.example.com", "service": "http://a"}),
        json!({"hostname": "b.example.com", "path": "(", "service": "http://b"}),
    ];
    assert_eq!(matching_rule(&rules, "c.example.com", "/"), None);
    assert_eq!(matching_rule(&rules, "b.example.com", "/"), None);
}
