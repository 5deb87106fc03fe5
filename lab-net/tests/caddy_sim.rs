//! The Caddy provider against the admin-API simulator: apply, a plan with
//! no changes (in this process and in a fresh one: a new simulator from
//! its state file, a new engine), drift when someone loads a config by
//! hand (a changed upstream, a handler lab does not write), bad routes and
//! ACME without the DNS module refused at plan time, and destroy.

use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{ApplyOptions, Engine, FileStateStore, RetryPolicy};
use lab_net::connect::CaddyConnection;
use lab_net::kinds::CaddyRoute;
use lab_net::model::Caddy;
use lab_net::provider::caddy::FOREIGN_PREFIX;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn opts() -> ApplyOptions {
    ApplyOptions {
        parallelism: 4,
        retry: RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
        },
    }
}

fn engine(
    conn: &CaddyConnection,
    dir: &std::path::Path,
    proxy: impl FnOnce(Caddy) -> Caddy,
) -> Engine {
    let mut lab = Lab::new("home");
    let instance = lab.register_provider_as("proxy", conn.provider());
    lab.add(
        proxy(
            Caddy::new("proxy", "10.0.20.5:2019")
                .bind("10.0.20.5")
                .route("grafana.lab.home.arpa", "10.0.20.11:3000"),
        )
        .provider(&instance),
    );
    Engine::new(lab, FileStateStore::new(dir.join(".lab")))
}

fn pve_route() -> CaddyRoute {
    let mut headers = indexmap::IndexMap::new();
    headers.insert("X-Forwarded-Proto".to_string(), "https".to_string());
    CaddyRoute {
        host: "pve.lab.home.arpa".into(),
        upstreams: vec!["10.0.10.2:8006".into()],
        upstream_tls: Some(true),
        headers: Some(headers),
    }
}

async fn apply(e: &Engine) -> lab_core::Plan {
    let plan = e.plan(&PlanOptions::default()).await.expect("plan");
    let report = e.apply(&plan, &opts()).await.expect("apply");
    assert!(report.is_success(), "{report:#?}");
    plan
}

async fn assert_no_changes(e: &Engine) {
    let plan = e.plan(&PlanOptions::default()).await.expect("plan");
    assert!(
        !plan.has_changes() && plan.drift.is_empty(),
        "steps: {:#?}\ndrift: {:#?}",
        plan.steps
            .iter()
            .map(|s| (&s.address, &s.changes))
            .collect::<Vec<_>>(),
        plan.drift
    );
}

fn routes_of(config: &serde_json::Value) -> Vec<(String, String)> {
    config["apps"]["http"]["servers"]["lab"]["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["match"][0]["host"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["handle"][0]["routes"][0]["handle"][0]["upstreams"][0]["dial"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn apply_then_no_changes_then_drift_then_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let sim_dir = dir.path().join("sim");
    {
        let conn = CaddyConnection::simulated("proxy", &sim_dir).unwrap();
        rt.block_on(async {
            let e = engine(&conn, dir.path(), |c| c.route_spec(pve_route()));
            let plan = apply(&e).await;
            assert_eq!(plan.counts(), (1, 0, 0));
            let notes = &plan.steps[0].notes;
            assert!(
                notes.iter().any(|n| n.contains("owns the whole config")),
                "{notes:?}"
            );
            assert_no_changes(&e).await;
            // The root CA is an output, the simulator's.
            let state = e.store().load().unwrap().unwrap();
            let rs = &state.resources[&lab_core::Address::new("net.caddy", "proxy")];
            let root = rs.outputs["root_ca"].as_str().unwrap().to_string();
            assert!(root.starts_with("-----BEGIN CERTIFICATE-----"));
            assert_eq!(root, conn.simulator().unwrap().root_certificate());
        });
        let config = conn.simulator().unwrap().config();
        assert_eq!(
            routes_of(&config),
            vec![
                (
                    "grafana.lab.home.arpa".to_string(),
                    "10.0.20.11:3000".to_string()
                ),
                (
                    "pve.lab.home.arpa".to_string(),
                    "10.0.10.2:8006".to_string()
                ),
            ]
        );
        assert_eq!(
            config["apps"]["http"]["servers"]["lab"]["@id"],
            "lab:home/net.caddy.proxy"
        );
        assert_eq!(
            config["apps"]["http"]["servers"]["lab"]["listen"][0],
            "10.0.20.5:443"
        );
        assert_eq!(config["admin"]["listen"], "10.0.20.5:2019");
    }
    // A new "process": the simulator from its state file, a new engine.
    let conn = CaddyConnection::simulated("proxy", &sim_dir).unwrap();
    rt.block_on(async {
        let e = engine(&conn, dir.path(), |c| c.route_spec(pve_route()));
        assert_no_changes(&e).await;

        // Someone points grafana elsewhere by hand.
        let mut config = conn.simulator().unwrap().config();
        config["apps"]["http"]["servers"]["lab"]["routes"][0]["handle"][0]["routes"][0]["handle"]
            [0]["upstreams"][0]["dial"] = "10.0.20.99:3000".into();
        conn.admin()
            .load_raw(serde_json::to_vec(&config).unwrap())
            .await
            .unwrap();
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.drift.len(), 1, "{:#?}", plan.drift);
        assert_eq!(plan.drift[0].changes[0].field, "routes");
        let after = format!("{:?}", plan.drift[0].changes[0].after);
        assert!(after.contains("10.0.20.99:3000"), "{after}");
        assert_eq!(plan.counts(), (0, 1, 0));
        apply(&e).await;
        assert_no_changes(&e).await;
        assert_eq!(
            routes_of(&conn.simulator().unwrap().config())[0].1,
            "10.0.20.11:3000"
        );

        // Someone adds a handler lab does not write (but Caddy has).
        let mut config = conn.simulator().unwrap().config();
        let extra = serde_json::json!({"handler": "subroute", "routes": []});
        config["apps"]["http"]["servers"]["lab"]["routes"][1]["handle"]
            .as_array_mut()
            .unwrap()
            .push(extra);
        conn.admin()
            .load_raw(serde_json::to_vec(&config).unwrap())
            .await
            .unwrap();
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let after = format!("{:?}", plan.drift[0].changes[0].after);
        assert!(
            after.contains(FOREIGN_PREFIX) && after.contains("routes[1].handle"),
            "{after}"
        );
        apply(&e).await;
        assert_no_changes(&e).await;

        // Someone replaces the whole config (no marker): gone, made again.
        conn.admin()
            .load_raw(br#"{"admin":{"listen":"10.0.20.5:2019"}}"#.to_vec())
            .await
            .unwrap();
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(plan.drift[0].deleted, "{:#?}", plan.drift);
        assert_eq!(plan.counts(), (1, 0, 0));
        apply(&e).await;
        assert_no_changes(&e).await;

        // Destroy: Caddy keeps its admin endpoint and storage, serves nothing.
        let plan = e.plan_destroy().await.unwrap();
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
    });
    let config = conn.simulator().unwrap().config();
    assert_eq!(
        config,
        serde_json::json!({"admin": {"listen": "10.0.20.5:2019"}})
    );
}

#[test]
fn bad_routes_and_acme_without_the_module_are_refused_at_plan() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let conn = CaddyConnection::simulated("proxy", dir.path().join("sim")).unwrap();
    rt.block_on(async {
        // A route the derivation appended by writing attributes (the
        // builder would have reported it): Caddy takes `notaport`, lab not.
        let mut lab = Lab::new("home");
        let instance = lab.register_provider_as("proxy", conn.provider());
        let mut proxy = Caddy::new("proxy", "10.0.20.5:2019").provider(&instance);
        let bad =
            lab_core::value::encode_value(&CaddyRoute::new("x.lab", "127.0.0.1:notaport")).unwrap();
        proxy.spec_mut().set("routes", Value::List(vec![bad]));
        lab.add(proxy);
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
        let err = e
            .plan(&PlanOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("notaport"), "{err}");

        // ACME through Cloudflare on a Caddy without dns.providers.cloudflare.
        let mut lab = Lab::new("home");
        let instance = lab.register_provider_as("proxy", conn.provider());
        lab.add(
            Caddy::new("proxy", "10.0.20.5:2019")
                .tls_acme_dns("cloudflare", Secret::new("cf-token"), None)
                .route("a.lab.example.org", "10.0.20.11:80")
                .provider(&instance),
        );
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
        let err = format!("{:?}", e.plan(&PlanOptions::default()).await.unwrap_err());
        assert!(err.contains("dns.providers.cloudflare"), "{err}");
        assert!(!err.contains("cf-token"), "{err}");
    });
    assert_eq!(conn.simulator().unwrap().loads(), 0);
}

#[test]
fn the_simulator_refuses_what_caddy_refuses_with_caddys_words() {
    let rt = runtime();
    rt.block_on(async {
        let sim = lab_net::sim::CaddySim::start(None).await.unwrap();
        let admin = lab_net::api::caddy::CaddyAdmin::new(&sim.admin()).unwrap();
        let cases: [(&str, &str); 4] = [
            ("notjson", "loading config: decoding request body"),
            (r#"{"bogus":1}"#, r#"loading config: loading new config: json: unknown field "bogus""#),
            (
                r#"{"apps":{"http":{"servers":{"lab":{"listen":[":1"],"routes":[{"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"reverse_proxyy"}]}]}]}]}}}}}"#,
                "loading config: loading new config: loading http app module: provision http: server lab: setting up route handlers: route 0: loading handler modules: position 0: loading module 'subroute': provision http.handlers.subroute: setting up subroutes: route 0: loading handler modules: position 0: loading module 'reverse_proxyy': unknown module: http.handlers.reverse_proxyy",
            ),
            (
                r#"{"apps":{"tls":{"automation":{"policies":[{"issuers":[{"module":"acme","challenges":{"dns":{"provider":{"name":"cloudflare","api_token":"x"}}}}]}]}}}}"#,
                "loading module 'cloudflare': unknown module: dns.providers.cloudflare",
            ),
        ];
        for (body, want) in cases {
            let e = admin.load_raw(body.as_bytes().to_vec()).await.unwrap_err();
            assert_eq!(e.status, Some(400), "{body}");
            assert!(e.message.contains(want), "{body}: {}", e.message);
        }
        assert_eq!(sim.loads(), 0);
        let live = admin.config().await.unwrap();
        assert_eq!(live.json, serde_json::Value::Null);
        assert_eq!(live.etag, lab_net::api::caddy::etag_of("/config/", b"null\n"));
    });
}

#[test]
fn two_simulators_on_one_state_file_see_the_same_caddy() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("caddy-sim.json");
    let rt = runtime();
    rt.block_on(async {
        let a = lab_net::sim::CaddySim::start(Some(file.clone()))
            .await
            .unwrap();
        let b = lab_net::sim::CaddySim::start(Some(file.clone()))
            .await
            .unwrap();
        assert_eq!(a.root_certificate(), b.root_certificate());
        let admin_a = lab_net::api::caddy::CaddyAdmin::new(&a.admin()).unwrap();
        let admin_b = lab_net::api::caddy::CaddyAdmin::new(&b.admin()).unwrap();
        let doc = br#"{"admin":{"listen":"10.0.20.5:2019"}}"#.to_vec();
        admin_a.load_raw(doc).await.unwrap();
        let seen = admin_b.config().await.unwrap().json;
        assert_eq!(
            seen,
            serde_json::json!({"admin": {"listen": "10.0.20.5:2019"}})
        );
        assert_eq!(b.loads(), 1);
    });
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
