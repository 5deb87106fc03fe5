//! The Cloudflare API simulator driven over HTTPS with plain reqwest (and
//! once with curl): the v4 envelope, auth, pagination, tunnels (1013,
//! tokens, remote configurations and cloudflared's ingress messages), the
//! CNAME rule, Access precedences (12130), schema refusals, the rate limit
//! with `Retry-After`, persistence and the per-endpoint request counts.

use std::time::Duration;

use base64::Engine;
use lab_net::sim::cloudflare::{CloudflareSim, CloudflareSimConfig};
use reqwest::Method;
use serde_json::{json, Value};

struct Api {
    sim: CloudflareSim,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

impl Reply {
    fn code(&self) -> i64 {
        self.body["errors"][0]["code"].as_i64().unwrap_or(0)
    }
    fn message(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }
}

async fn start(config: CloudflareSimConfig) -> Api {
    let sim = CloudflareSim::start(config)
        .await
        .expect("the simulator starts");
    let pin = lab_proxmox::api::tls::parse_fingerprint(sim.fingerprint()).expect("a fingerprint");
    let tls = lab_proxmox::api::tls::client_config(Some(pin)).expect("TLS config");
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");
    Api { sim, http }
}

async fn example() -> Api {
    start(CloudflareSimConfig::default().with_zone("example.com")).await
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let url = format!("{}{}", self.sim.base_url(), path);
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the request is answered");
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = resp.json().await.expect("every answer is JSON");
        // The envelope, on every answer.
        for key in ["success", "errors", "messages", "result"] {
            assert!(body.get(key).is_some(), "no `{key}` in {body}");
        }
        assert_eq!(
            body["success"] == true,
            (200..300).contains(&status),
            "{body}"
        );
        Reply {
            status,
            body,
            retry_after,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let token = self.sim.token().expose().to_string();
        self.send(method, path, body, Some(&token)).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    fn account(&self) -> String {
        format!("/accounts/{}", self.sim.account_id())
    }

    fn zone(&self) -> String {
        format!(
            "/zones/{}",
            self.sim.zone_id("example.com").expect("the zone exists")
        )
    }
}

#[tokio::test]
async fn every_answer_wears_the_envelope_and_unknown_paths_are_7003() {
    let api = example().await;
    let ok = api.get("/user/tokens/verify").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["errors"], json!([]));
    assert_eq!(ok.body["result"]["status"], "active");
    assert_eq!(
        ok.body["messages"][0]["message"],
        "This API Token is valid and active"
    );

    let missing = api.get("/no/such/thing").await;
    assert_eq!((missing.status, missing.code()), (400, 7003));
    assert_eq!(missing.message(), "No route for the URI");
    assert_eq!(missing.body["result"], Value::Null);

    let wrong_method = api.call(Method::DELETE, "/zones", None).await;
    assert_eq!(wrong_method.status, 405);

    let zones = api.get("/zones?name=example.com").await;
    assert_eq!(zones.body["messages"], json!([]));
    assert_eq!(zones.body["result"][0]["name"], "example.com");
    assert_eq!(
        zones.body["result"][0]["id"].as_str().map(str::len),
        Some(32)
    );
    let none = api.get("/zones?name=other.org").await;
    assert_eq!(none.body["result"], json!([]));
    assert_eq!(none.body["result_info"]["total_count"], 0);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_with_1001() {
    let api = example().await;
    for token in [None, Some("not-the-token")] {
        let r = api.send(Method::GET, "/zones", None, token).await;
        assert_eq!((r.status, r.code()), (401, 1001), "{token:?}: {}", r.body);
    }
    // The token never appears in an answer.
    let r = api.send(Method::GET, "/zones", None, Some("x")).await;
    assert!(!r.body.to_string().contains(api.sim.token().expose()));
}

#[tokio::test]
async fn dns_lists_are_paged_with_result_info() {
    let api = example().await;
    for i in 0..25 {
        let r = api
            .post(
                &format!("{}/dns_records", api.zone()),
                json!({"type": "TXT", "name": format!("t{i:02}"), "content": "v=1", "ttl": 1}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let all = api.get(&format!("{}/dns_records", api.zone())).await;
    assert_eq!(all.body["result_info"]["per_page"], 100);
    assert_eq!(all.body["result_info"]["count"], 25);
    let page = api
        .get(&format!("{}/dns_records?per_page=10&page=3", api.zone()))
        .await;
    let info = &page.body["result_info"];
    assert_eq!(
        (
            info["page"].clone(),
            info["count"].clone(),
            info["total_count"].clone(),
            info["total_pages"].clone()
        ),
        (json!(3), json!(5), json!(25), json!(3))
    );
    assert_eq!(page.body["result"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn tunnels_refuse_a_duplicate_name_with_409_1013_and_carry_a_token() {
    let api = example().await;
    let base = format!("{}/cfd_tunnel", api.account());
    let created = api
        .post(&base, json!({"name": "lab", "config_src": "cloudflare"}))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.body["result"]["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["result"]["remote_config"], true);
    assert_eq!(created.body["result"]["status"], "inactive");

    let again = api.post(&base, json!({"name": "lab"})).await;
    assert_eq!((again.status, again.code()), (409, 1013));
    assert_eq!(again.message(), "You already have a tunnel with this name");

    // Adopt by name.
    let found = api.get(&format!("{base}?name=lab&is_deleted=false")).await;
    assert_eq!(found.body["result"][0]["id"], id.as_str());

    // The token: base64 of {"a","s","t"} in cloudflared's order.
    let token = api.get(&format!("{base}/{id}/token")).await;
    let text = token.body["result"]
        .as_str()
        .expect("the result is a string");
    let json = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    let json = String::from_utf8(json).unwrap();
    assert!(json.starts_with(r#"{"a":""#), "{json}");
    let parsed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["a"], api.sim.account_id());
    assert_eq!(parsed["t"], id.as_str());
    let secret = base64::engine::general_purpose::STANDARD
        .decode(parsed["s"].as_str().unwrap())
        .unwrap();
    assert_eq!(secret.len(), 32);

    // A rename onto a name in use is the same 409.
    let other = api.post(&base, json!({"name": "other"})).await;
    let other_id = other.body["result"]["id"].as_str().unwrap().to_string();
    let rename = api
        .call(
            Method::PATCH,
            &format!("{base}/{other_id}"),
            Some(json!({"name": "lab"})),
        )
        .await;
    assert_eq!((rename.status, rename.code()), (409, 1013));
    let rename = api
        .call(
            Method::PATCH,
            &format!("{base}/{other_id}"),
            Some(json!({"name": "lab-2"})),
        )
        .await;
    assert_eq!(rename.body["result"]["name"], "lab-2");
    api.call(Method::DELETE, &format!("{base}/{other_id}"), None)
        .await;

    // Delete: gone from is_deleted=false, kept under is_deleted=true; the name is free.
    let deleted = api
        .call(Method::DELETE, &format!("{base}/{id}"), None)
        .await;
    assert_eq!(deleted.status, 200);
    assert!(deleted.body["result"]["deleted_at"].is_string());
    let live = api.get(&format!("{base}?is_deleted=false")).await;
    assert_eq!(live.body["result"], json!([]));
    let dead = api.get(&format!("{base}?is_deleted=true")).await;
    assert_eq!(dead.body["result"][0]["id"], id.as_str());
    let replacement = api.post(&base, json!({"name": "lab"})).await;
    assert_eq!(replacement.status, 200);
    assert_eq!(replacement.body["result"]["remote_config"], false);
}

#[tokio::test]
async fn a_configuration_put_replaces_the_document_and_bumps_the_version() {
    let api = example().await;
    let base = format!("{}/cfd_tunnel", api.account());
    let t = api
        .post(&base, json!({"name": "edge", "config_src": "cloudflare"}))
        .await;
    let id = t.body["result"]["id"].as_str().unwrap().to_string();
    let url = format!("{base}/{id}/configurations");
    let first = json!({"config": {"ingress": [
        {"hostname": "grafana.example.com", "service": "https://10.20.0.5:443",
         "originRequest": {"noTLSVerify": false, "originServerName": "grafana.lab.home.arpa",
                           "access": {"required": true, "teamName": "myteam", "audTag": ["abc"]}}},
        {"hostname": "blog.example.com", "service": "http://10.30.0.7:8080"},
        {"service": "http_status:404"}
    ], "originRequest": {"connectTimeout": 10}}});
    let put = api.call(Method::PUT, &url, Some(first.clone())).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["result"]["version"], 1);
    let got = api.get(&url).await;
    assert_eq!(got.body["result"]["config"], first["config"]);
    assert_eq!(got.body["result"]["tunnel_id"], id.as_str());

    let second = json!({"config": {"ingress": [{"service": "http_status:404"}]}});
    let put = api.call(Method::PUT, &url, Some(second.clone())).await;
    assert_eq!(put.body["result"]["version"], 2);
    let got = api.get(&url).await;
    assert_eq!(
        got.body["result"]["config"], second["config"],
        "the whole document is replaced"
    );
}

#[tokio::test]
async fn ingress_is_refused_with_cloudflareds_words() {
    let api = example().await;
    let base = format!("{}/cfd_tunnel", api.account());
    let t = api
        .post(&base, json!({"name": "edge", "config_src": "cloudflare"}))
        .await;
    let id = t.body["result"]["id"].as_str().unwrap().to_string();
    let url = format!("{base}/{id}/configurations");
    let cases = [
        (
            json!([{"hostname": "a.example.com", "service": "http://10.0.0.1:80"}]),
            "The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)",
        ),
        (
            json!([{"hostname": "a.example.com:8443", "service": "http://10.0.0.1:80"},
                   {"service": "http_status:404"}]),
            "Hostname cannot contain a port",
        ),
        (
            json!([{"hostname": "a.*.example.com", "service": "http://10.0.0.1:80"},
                   {"service": "http_status:404"}]),
            "Hostname patterns can have at most one wildcard character (\"*\") and it can only be used for subdomains, e.g. \"*.example.com\"",
        ),
    ];
    for (rules, message) in cases {
        let r = api
            .call(
                Method::PUT,
                &url,
                Some(json!({"config": {"ingress": rules}})),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, 1056), "{}", r.body);
        assert_eq!(
            r.message(),
            format!("Bad Configuration: Validation failed: {message}")
        );
    }
    let got = api.get(&url).await;
    assert_eq!(
        got.body["result"]["version"], 0,
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn a_cname_shares_its_name_with_no_other_record() {
    let api = example().await;
    let records = format!("{}/dns_records", api.zone());
    let a = api
        .post(
            &records,
            json!({"type": "A", "name": "www", "content": "198.51.100.4"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["result"]["name"], "www.example.com");
    let cname = api
        .post(
            &records,
            json!({"type": "CNAME", "name": "www.example.com", "content": "x.cfargotunnel.com"}),
        )
        .await;
    assert_eq!((cname.status, cname.code()), (400, 81053), "{}", cname.body);
    assert!(cname
        .message()
        .starts_with("An A, AAAA, or CNAME record with that host already exists."));

    let record = json!({"type": "CNAME", "name": "grafana.example.com", "content": "t.cfargotunnel.com",
                        "proxied": true, "ttl": 1, "comment": "managed-by:lab-net", "tags": ["owner:lab-net"]});
    // A Free zone takes no tags, and comments of 100 characters at most.
    let free = api.post(&records, record.clone()).await;
    assert_eq!((free.status, free.code()), (400, 1004), "{}", free.body);
    assert_eq!(
        free.body["errors"][0]["error_chain"],
        json!([{"code": 9300, "message": "DNS record has 1 tags, exceeding the quota of 0."}])
    );
    let mut long = record.clone();
    long["tags"] = json!([]);
    long["comment"] = json!("x".repeat(101));
    let long = api.post(&records, long).await;
    assert_eq!(
        long.body["errors"][0]["error_chain"][0]["code"], 9313,
        "{}",
        long.body
    );
    assert!(api.sim.set_zone_plan("example.com", "pro"));
    let tunnel = api.post(&records, record).await;
    assert_eq!(tunnel.status, 200, "{}", tunnel.body);
    assert_eq!(tunnel.body["result"]["proxied"], true);
    assert_eq!(tunnel.body["result"]["tags"], json!(["owner:lab-net"]));
    assert_eq!(tunnel.body["result"]["comment"], "managed-by:lab-net");
    let txt = api
        .post(
            &records,
            json!({"type": "TXT", "name": "grafana.example.com", "content": "hello"}),
        )
        .await;
    assert_eq!((txt.status, txt.code()), (400, 81054), "{}", txt.body);

    let proxied_txt = api
        .post(
            &records,
            json!({"type": "TXT", "name": "t", "content": "x", "proxied": true}),
        )
        .await;
    assert_eq!((proxied_txt.status, proxied_txt.code()), (400, 9004));

    let found = api
        .get(&format!("{records}?type=CNAME&name=grafana.example.com"))
        .await;
    assert_eq!(found.body["result"].as_array().map(Vec::len), Some(1));
    let by_tag = api.get(&format!("{records}?tag=owner:lab-net")).await;
    assert_eq!(by_tag.body["result"][0]["name"], "grafana.example.com");
    let other_type = api
        .get(&format!("{records}?type=A&name=grafana.example.com"))
        .await;
    assert_eq!(other_type.body["result"], json!([]));
}

#[tokio::test]
async fn access_apps_get_an_aud_and_unique_precedences() {
    let api = example().await;
    let access = format!("{}/access", api.account());
    let group = api
        .post(
            &format!("{access}/groups"),
            json!({"name": "admins", "include": [{"email_domain": {"domain": "example.com"}}]}),
        )
        .await;
    assert_eq!(group.status, 200, "{}", group.body);
    let gid = group.body["result"]["id"].as_str().unwrap().to_string();
    let mut policies = Vec::new();
    for (name, decision) in [("admins", "allow"), ("ci", "non_identity")] {
        let p = api
            .post(
                &format!("{access}/policies"),
                json!({"name": name, "decision": decision,
                       "include": [{"everyone": {}}], "require": [{"group": {"id": gid}}]}),
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        policies.push(p.body["result"]["id"].as_str().unwrap().to_string());
    }
    let clash = api
        .post(
            &format!("{access}/apps"),
            json!({"type": "self_hosted", "name": "Proxmox", "domain": "pve.example.com",
                   "policies": [{"id": policies[0], "precedence": 1}, {"id": policies[1], "precedence": 1}]}),
        )
        .await;
    assert_eq!((clash.status, clash.code()), (400, 12130), "{}", clash.body);
    assert_eq!(clash.message(), "policy precedences must be unique");

    let app = api
        .post(
            &format!("{access}/apps"),
            json!({"type": "self_hosted", "name": "Proxmox", "domain": "pve.example.com",
                   "policies": [{"id": policies[0], "precedence": 2}, {"id": policies[1], "precedence": 1}]}),
        )
        .await;
    assert_eq!(app.status, 200, "{}", app.body);
    let aud = app.body["result"]["aud"].as_str().unwrap();
    assert_eq!(aud.len(), 64);
    assert_eq!(app.body["result"]["domain"], "pve.example.com");
    assert_eq!(app.body["result"]["session_duration"], "24h");
    assert_eq!(
        app.body["result"]["policies"][0]["id"],
        policies[1].as_str()
    );

    let bad_decision = api
        .post(
            &format!("{access}/policies"),
            json!({"name": "x", "decision": "maybe", "include": [{"everyone": {}}]}),
        )
        .await;
    assert_eq!(
        (bad_decision.status, bad_decision.code()),
        (400, 1004),
        "{}",
        bad_decision.body
    );

    // App-scoped (legacy) policies share the app's precedences.
    let app_id = app.body["result"]["id"].as_str().unwrap().to_string();
    let scoped = api
        .post(
            &format!("{access}/apps/{app_id}/policies"),
            json!({"name": "legacy", "decision": "allow", "include": [{"everyone": {}}], "precedence": 2}),
        )
        .await;
    assert_eq!(
        (scoped.status, scoped.code()),
        (400, 12130),
        "{}",
        scoped.body
    );
    let scoped = api
        .post(
            &format!("{access}/apps/{app_id}/policies"),
            json!({"name": "legacy", "decision": "allow", "include": [{"everyone": {}}], "precedence": 3}),
        )
        .await;
    assert_eq!(scoped.status, 200, "{}", scoped.body);
    assert_eq!(scoped.body["result"]["reusable"], false);

    // A policy changed later shows changed in the app.
    let renamed = api
        .call(
            Method::PUT,
            &format!("{access}/policies/{}", policies[1]),
            Some(json!({"name": "ci-tokens", "decision": "non_identity",
                        "include": [{"any_valid_service_token": {}}]})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let app_now = api.get(&format!("{access}/apps/{app_id}")).await;
    assert_eq!(app_now.body["result"]["policies"][0]["name"], "ci-tokens");
    assert_eq!(app_now.body["result"]["policies"][0]["precedence"], 1);
    assert_eq!(app_now.body["result"]["aud"], app.body["result"]["aud"]);

    let in_use = api
        .call(
            Method::DELETE,
            &format!("{access}/policies/{}", policies[0]),
            None,
        )
        .await;
    assert_eq!(in_use.status, 400, "{}", in_use.body);
}

#[tokio::test]
async fn the_schema_refuses_bad_bodies_and_queries() {
    let api = example().await;
    let base = format!("{}/cfd_tunnel", api.account());
    let cases = [
        (
            Method::POST,
            base.clone(),
            Some(json!({"config_src": "cloudflare"})),
            "/: \"name\" is a required property",
        ),
        (
            Method::POST,
            base.clone(),
            Some(json!({"name": "x", "config_src": "elsewhere"})),
            "/config_src: ",
        ),
        (
            Method::GET,
            format!("{base}?is_deleted=maybe"),
            None,
            "is_deleted: \"maybe\" is not of type \"boolean\"",
        ),
        (
            Method::GET,
            format!("{base}?nmae=lab"),
            None,
            "nmae: unknown query parameter (this endpoint takes ",
        ),
        (
            Method::POST,
            format!("{}/dns_records", api.zone()),
            Some(json!({"type": "CNAME", "name": "a", "content": "b.example.com", "ttl": "auto"})),
            // The CNAME branch's own error, not "none of the 20 record types".
            "/ttl: \"auto\" is not of type \"number\"",
        ),
    ];
    for (method, path, body, message) in cases {
        let r = api.call(method.clone(), &path, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (400, 1004),
            "{method} {path} {body:?}: {}",
            r.body
        );
        let expected = format!("Invalid request: {message}");
        assert!(
            r.message().starts_with(&expected),
            "{} vs {expected}",
            r.message()
        );
    }
    let not_json = api
        .http
        .post(format!("{}{}", api.sim.base_url(), base))
        .bearer_auth(api.sim.token().expose())
        .body("{name")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 400);
    assert!(api.sim.world().tunnels.is_empty());
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let api =
        start(CloudflareSimConfig::default().with_rate_limit(3, Duration::from_secs(60))).await;
    for _ in 0..3 {
        assert_eq!(api.get("/user/tokens/verify").await.status, 200);
    }
    let limited = api.get("/user/tokens/verify").await;
    assert_eq!((limited.status, limited.code()), (429, 971));
    let wait: u64 = limited
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    api.sim.set_rate_limit(1200, Duration::from_secs(300));
    assert_eq!(api.get("/user/tokens/verify").await.status, 200);
}

#[tokio::test]
async fn the_state_survives_a_restart_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloudflare.json");
    let config = CloudflareSimConfig::default()
        .with_zone("example.com")
        .with_state_file(&path);
    let api = start(config.clone()).await;
    let base = format!("{}/cfd_tunnel", api.account());
    let t = api.post(&base, json!({"name": "kept"})).await;
    let id = t.body["result"]["id"].as_str().unwrap().to_string();
    let account = api.sim.account_id().to_string();
    let token = api.sim.token().expose().to_string();
    let fingerprint = api.sim.fingerprint().to_string();
    drop(api);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = start(config).await;
    assert_eq!(again.sim.account_id(), account);
    assert_eq!(again.sim.token().expose(), token, "the token is kept");
    assert_eq!(
        again.sim.fingerprint(),
        fingerprint,
        "the certificate is kept"
    );
    let got = again.get(&format!("{base}/{id}")).await;
    assert_eq!(got.body["result"]["name"], "kept");
}

#[tokio::test]
async fn two_simulators_on_one_state_file_see_each_others_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloudflare.json");
    let config = CloudflareSimConfig::default()
        .with_zone("example.com")
        .with_state_file(&path);
    // Two `lab` processes at once: each its own simulator, one file.
    let a = start(config.clone()).await;
    let b = start(config.with_zone("example.org")).await;
    assert_eq!(a.sim.account_id(), b.sim.account_id());
    let base = format!("{}/cfd_tunnel", a.account());
    let made = a.post(&base, json!({"name": "from-a"})).await;
    let id = made.body["result"]["id"].as_str().unwrap().to_string();
    let seen = b.get(&format!("{base}/{id}")).await;
    assert_eq!(seen.body["result"]["name"], "from-a", "{}", seen.body);
    b.post(&base, json!({"name": "from-b"})).await;
    let listed = a.get(&base).await;
    let names: Vec<&str> = listed.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["from-a", "from-b"]);
    // b's zone, made when b started, is in the file a reads.
    assert!(a.sim.zone_id("example.org").is_some());
    assert!(a.sim.zone_id("example.com").is_some());
}

#[tokio::test]
async fn requests_are_counted_per_endpoint() {
    let api = example().await;
    let base = format!("{}/cfd_tunnel", api.account());
    api.post(&base, json!({"name": "a"})).await;
    api.get(&base).await;
    api.get(&base).await;
    api.get("/nope").await;
    let counts = api.sim.request_counts();
    assert_eq!(counts["GET /accounts/{account_id}/cfd_tunnel"], 2);
    assert_eq!(counts["POST /accounts/{account_id}/cfd_tunnel"], 1);
    assert_eq!(counts["GET ?"], 1);
    assert_eq!(api.sim.request_count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reads_a_zone() {
    let api = example().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("sim.pem");
    std::fs::write(&ca, api.sim.certificate_pem()).unwrap();
    let url = format!("{}/zones?name=example.com", api.sim.base_url());
    let header = format!("Authorization: Bearer {}", api.sim.token().expose());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&ca)
            .args(["-H", &header, &url])
            .output()
    })
    .await
    .unwrap()
    .expect("curl runs (it is installed on the lab's machines)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["result"][0]["name"], "example.com");
}

#[tokio::test]
async fn updates_keep_the_name_rules_and_deletes_are_final() {
    let api = example().await;
    let records = format!("{}/dns_records", api.zone());
    let cname = api
        .post(
            &records,
            json!({"type": "CNAME", "name": "app", "content": "t.cfargotunnel.com", "proxied": true}),
        )
        .await;
    let a = api
        .post(
            &records,
            json!({"type": "A", "name": "db", "content": "198.51.100.7"}),
        )
        .await;
    let a_id = a.body["result"]["id"].as_str().unwrap().to_string();
    let same = api
        .post(
            &records,
            json!({"type": "A", "name": "db", "content": "198.51.100.7"}),
        )
        .await;
    assert_eq!((same.status, same.code()), (400, 81057));
    let second_a = api
        .post(
            &records,
            json!({"type": "A", "name": "db", "content": "198.51.100.8"}),
        )
        .await;
    assert_eq!(second_a.status, 200, "two A records may share a name");

    let onto_cname = api
        .call(
            Method::PATCH,
            &format!("{records}/{a_id}"),
            Some(json!({"name": "app.example.com"})),
        )
        .await;
    assert_eq!((onto_cname.status, onto_cname.code()), (400, 81054));
    let put = api
        .call(
            Method::PUT,
            &format!("{records}/{a_id}"),
            Some(json!({"type": "A", "name": "db2", "content": "198.51.100.9", "ttl": 300})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["result"]["name"], "db2.example.com");
    assert_eq!(
        put.body["result"]["created_on"],
        a.body["result"]["created_on"]
    );

    let cname_id = cname.body["result"]["id"].as_str().unwrap().to_string();
    let gone = api
        .call(Method::DELETE, &format!("{records}/{cname_id}"), None)
        .await;
    assert_eq!(gone.body["result"], json!({"id": cname_id}));
    let missing = api.get(&format!("{records}/{cname_id}")).await;
    assert_eq!((missing.status, missing.code()), (404, 81044));

    let unknown_zone = api
        .get("/zones/0123456789abcdef0123456789abcdef/dns_records")
        .await;
    assert_eq!((unknown_zone.status, unknown_zone.code()), (400, 7003));
}

#[tokio::test]
async fn zones_are_created_once_and_other_accounts_are_refused() {
    let api = example().await;
    let account = api.sim.account_id().to_string();
    let created = api
        .post(
            "/zones",
            json!({"name": "lab.example.org", "account": {"id": account}}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.body["result"]["status"], "pending");
    let again = api
        .post(
            "/zones",
            json!({"name": "lab.example.org", "account": {"id": account}}),
        )
        .await;
    assert_eq!((again.status, again.code()), (400, 1061));
    let by_account = api.get(&format!("/zones?account.id={account}")).await;
    assert_eq!(by_account.body["result_info"]["total_count"], 2);

    let other = api
        .get("/accounts/0123456789abcdef0123456789abcdef/cfd_tunnel")
        .await;
    assert_eq!((other.status, other.code()), (403, 10000));
}

#[test]
fn a_background_simulator_serves_without_the_callers_runtime() {
    let sim =
        CloudflareSim::start_background(CloudflareSimConfig::default().with_zone("example.com"))
            .expect("the simulator starts on its own thread");
    let pin = lab_proxmox::api::tls::parse_fingerprint(sim.fingerprint()).unwrap();
    let tls = lab_proxmox::api::tls::client_config(Some(pin)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body: Value = runtime.block_on(async {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .build()
            .unwrap()
            .get(format!("{}/zones", sim.base_url()))
            .bearer_auth(sim.token().expose())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(body["result"][0]["name"], "example.com");
    sim.stop();
}

#[tokio::test]
async fn a_connected_tunnel_is_deleted_only_after_its_connections_are_cleaned() {
    let api = example().await;
    let base = format!("{}/cfd_tunnel", api.account());
    let t = api
        .post(&base, json!({"name": "edge", "config_src": "cloudflare"}))
        .await;
    let id = t.body["result"]["id"].as_str().unwrap().to_string();
    assert!(api.sim.connect_tunnel(&id, "c0nnect0r"));
    let got = api.get(&format!("{base}/{id}")).await;
    assert_eq!(got.body["result"]["status"], "healthy");
    let clients = api.get(&format!("{base}/{id}/connections")).await;
    assert_eq!(clients.body["result"][0]["id"], "c0nnect0r");
    assert_eq!(
        clients.body["result"][0]["conns"].as_array().map(Vec::len),
        Some(4)
    );

    let refused = api
        .call(Method::DELETE, &format!("{base}/{id}"), None)
        .await;
    assert_eq!((refused.status, refused.code()), (400, 1022));
    let other_client = api
        .call(
            Method::DELETE,
            &format!("{base}/{id}/connections?client_id=other"),
            None,
        )
        .await;
    assert_eq!(other_client.status, 200);
    let still = api
        .call(Method::DELETE, &format!("{base}/{id}"), None)
        .await;
    assert_eq!(
        still.code(),
        1022,
        "another connector's cleanup leaves these"
    );
    api.call(
        Method::DELETE,
        &format!("{base}/{id}/connections?client_id=c0nnect0r"),
        None,
    )
    .await;
    let got = api.get(&format!("{base}/{id}")).await;
    assert_eq!(got.body["result"]["status"], "down");
    let deleted = api
        .call(Method::DELETE, &format!("{base}/{id}"), None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
}
