//! The Caddy provider against a REAL Caddy (`caddy` on PATH; CI installs
//! Debian's 2.6.2): one Caddy for the whole file, started by
//! `CaddyConnection::local` on free loopback ports with its storage,
//! autosave and HOME in a temp dir, stopped by the connection's drop.
//! Backends are tiny axum servers on loopback; requests go through the
//! proxy with reqwest trusting Caddy's root CA (the `root_ca` output) and
//! `resolve()`. Covered: routes added, changed and removed; a config
//! Caddy refuses leaves the old one serving; drift from a hand-made load;
//! a second "process" resumes the autosaved config with no changes;
//! destroy leaves Caddy serving nothing; a Caddy another live process owns
//! is shared, one left by a killed process is taken over and stopped. Without `caddy` the test FAILS,
//! saying how to install it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::get;
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{ApplyOptions, Engine, FileStateStore, RetryPolicy};
use lab_net::connect::{caddy_on_path, CaddyConnection};
use lab_net::kinds::CaddyRoute;
use lab_net::model::Caddy;

fn require_caddy() -> std::path::PathBuf {
    caddy_on_path().unwrap_or_else(|| {
        panic!(
            "these tests drive a real Caddy and `caddy` is not on PATH: \
             install it with `apt-get install -y caddy` (Debian/Ubuntu; .ci/run does)"
        )
    })
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

/// A backend answering `<name> <X-Lab-Site>` on a free loopback port.
async fn backend(name: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/",
        get(move |headers: HeaderMap| async move {
            let proto = headers
                .get("x-lab-site")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            format!("{name} {proto}")
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// What the code says: the sites and their upstreams.
fn engine(conn: &CaddyConnection, dir: &std::path::Path, routes: &[CaddyRoute]) -> Engine {
    let mut lab = Lab::new("home");
    let instance = lab.register_provider_as("proxy", conn.provider());
    let mut proxy = Caddy::new("proxy", "10.0.20.5:2019").bind("10.0.20.5");
    for r in routes {
        proxy = proxy.route_spec(r.clone());
    }
    lab.add(proxy.provider(&instance));
    Engine::new(lab, FileStateStore::new(dir.join(".lab")))
}

async fn apply(e: &Engine) {
    let plan = e.plan(&PlanOptions::default()).await.expect("plan");
    let report = e.apply(&plan, &opts()).await.expect("apply");
    assert!(report.is_success(), "{report:#?}");
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

fn root_ca(e: &Engine) -> String {
    let state = e.store().load().unwrap().unwrap();
    state.resources[&lab_core::Address::new("net.caddy", "proxy")].outputs["root_ca"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A client trusting only `root_pem`, resolving the test's sites to
/// loopback.
fn client(root_pem: &str, https: u16) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    let der = pem::parse(root_pem).expect("root CA PEM");
    roots
        .add(rustls::pki_types::CertificateDer::from(
            der.contents().to_vec(),
        ))
        .unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let at: SocketAddr = ([127, 0, 0, 1], https).into();
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .timeout(Duration::from_secs(5));
    for host in ["a.lab.test", "b.lab.test"] {
        b = b.resolve(host, at);
    }
    b.build().unwrap()
}

/// `GET https://<host>:<https>/` through the proxy: the body, or the error.
async fn fetch(c: &reqwest::Client, host: &str, https: u16) -> Result<String, String> {
    let resp = c
        .get(format!("https://{host}:{https}/"))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status}: {body}"))
    }
}

/// The body once the site answers (leaf certificates are issued as the
/// config loads; polled, never slept for a fixed time).
async fn fetch_ready(c: &reqwest::Client, host: &str, https: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match fetch(c, host, https).await {
            Ok(body) => return body,
            Err(e) if Instant::now() > deadline => panic!("{host} never answered: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

#[test]
fn a_real_caddy_serves_what_the_lab_says() {
    let binary = require_caddy();
    let dir = tempfile::tempdir().unwrap();
    let caddy_dir = dir.path().join("caddy");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (a, b) = rt.block_on(async { (backend("backend-A").await, backend("backend-B").await) });
    let route_a = CaddyRoute::new("a.lab.test", &a.to_string());
    let mut headers = indexmap::IndexMap::new();
    headers.insert("X-Lab-Site".to_string(), "b".to_string());
    let route_b = CaddyRoute {
        headers: Some(headers),
        ..CaddyRoute::new("b.lab.test", &b.to_string())
    };
    let admin_addr;
    {
        let conn = CaddyConnection::local("proxy", &caddy_dir, &binary).unwrap();
        let p = conn.placement().unwrap().clone();
        admin_addr = p.admin.clone();
        rt.block_on(async {
            // Two sites.
            let e = engine(&conn, dir.path(), &[route_a.clone(), route_b.clone()]);
            apply(&e).await;
            assert_no_changes(&e).await;
            let root = root_ca(&e);
            assert!(std::fs::read_to_string(caddy_dir.join("storage/pki/authorities/local/root.crt"))
                .unwrap()
                .contains(root.lines().nth(1).unwrap()));
            let c = client(&root, p.https_port);
            assert_eq!(fetch_ready(&c, "a.lab.test", p.https_port).await, "backend-A -");
            assert_eq!(fetch_ready(&c, "b.lab.test", p.https_port).await, "backend-B b");

            // A site moved to the other backend.
            let moved = CaddyRoute::new("a.lab.test", &b.to_string());
            let e = engine(&conn, dir.path(), &[moved, route_b.clone()]);
            apply(&e).await;
            assert_eq!(fetch_ready(&c, "a.lab.test", p.https_port).await, "backend-B -");

            // A site removed: no certificate for it any more (no 404: the
            // handshake fails).
            let e = engine(&conn, dir.path(), std::slice::from_ref(&route_a));
            apply(&e).await;
            assert_no_changes(&e).await;
            assert_eq!(fetch_ready(&c, "a.lab.test", p.https_port).await, "backend-A -");
            let deadline = Instant::now() + Duration::from_secs(10);
            while fetch(&c, "b.lab.test", p.https_port).await.is_ok() {
                assert!(Instant::now() < deadline, "b.lab.test still served");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }

            // A config Caddy refuses: 400 with its words; the old one serves.
            let bad = serde_json::json!({
                "admin": {"listen": p.admin},
                "apps": {"http": {"servers": {"lab": {"listen": [format!("127.0.0.1:{}", p.https_port)],
                    "routes": [{"handle": [{"handler": "reverse_proxyy"}]}]}}}}
            });
            let err = conn.admin().load_raw(serde_json::to_vec(&bad).unwrap()).await.unwrap_err();
            assert_eq!(err.status, Some(400));
            assert!(err.message.contains("unknown module: http.handlers.reverse_proxyy"), "{err}");
            assert_eq!(fetch(&c, "a.lab.test", p.https_port).await.unwrap(), "backend-A -");
            assert_no_changes(&e).await;
            #[cfg(feature = "sim")]
            the_simulator_refuses_as_caddy_does(&conn, &p.admin).await;

            // Someone points the site elsewhere by hand: drift, put back.
            let mut live = conn.admin().config().await.unwrap().json;
            live["apps"]["http"]["servers"]["lab"]["routes"][0]["handle"][0]["routes"][0]["handle"][0]
                ["upstreams"][0]["dial"] = b.to_string().into();
            conn.admin().load_raw(serde_json::to_vec(&live).unwrap()).await.unwrap();
            assert_eq!(fetch_ready(&c, "a.lab.test", p.https_port).await, "backend-B -");
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            assert_eq!(plan.drift.len(), 1, "{:#?}", plan.drift);
            assert_eq!(plan.counts(), (0, 1, 0));
            apply(&e).await;
            assert_eq!(fetch_ready(&c, "a.lab.test", p.https_port).await, "backend-A -");
        });
    }
    // The connection is gone: so is its Caddy.
    assert!(
        std::net::TcpStream::connect(&admin_addr).is_err(),
        "Caddy still runs"
    );

    // The next "process": the same Caddy folder, resumed, same ports.
    let conn = CaddyConnection::local("proxy", &caddy_dir, &binary).unwrap();
    let p = conn.placement().unwrap().clone();
    assert_eq!(p.admin, admin_addr);
    rt.block_on(async {
        let e = engine(&conn, dir.path(), std::slice::from_ref(&route_a));
        assert_no_changes(&e).await;
        let c = client(&root_ca(&e), p.https_port);
        assert_eq!(
            fetch_ready(&c, "a.lab.test", p.https_port).await,
            "backend-A -"
        );

        // Destroy: Caddy keeps running, serving nothing.
        let plan = e.plan_destroy().await.unwrap();
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        let live = conn.admin().config().await.unwrap().json;
        assert!(live.get("apps").is_none(), "{live}");
        assert!(fetch(&c, "a.lab.test", p.https_port).await.is_err());
    });
    drop(conn);
    assert!(
        std::net::TcpStream::connect(&admin_addr).is_err(),
        "Caddy still runs"
    );

    // While another `lab` process (here: pid 1, alive) owns the Caddy, a
    // second connection shares it and leaves it running.
    let owner = CaddyConnection::local("proxy", &caddy_dir, &binary).unwrap();
    let pid_file = caddy_dir.join("caddy.pid");
    let caddy_pid = std::fs::read_to_string(&pid_file).unwrap();
    let caddy_pid = caddy_pid.split_whitespace().next().unwrap().to_string();
    std::fs::write(&pid_file, format!("{caddy_pid} 1\n")).unwrap();
    drop(CaddyConnection::local("proxy", &caddy_dir, &binary).unwrap());
    assert!(
        std::net::TcpStream::connect(&admin_addr).is_ok(),
        "a shared Caddy was stopped"
    );
    drop(owner);
    assert!(
        std::net::TcpStream::connect(&admin_addr).is_err(),
        "Caddy still runs"
    );

    // A process killed before its drop leaves its Caddy running: the next
    // one takes it over (same admin address) and stops it in turn.
    std::mem::forget(CaddyConnection::local("proxy", &caddy_dir, &binary).unwrap());
    assert!(std::net::TcpStream::connect(&admin_addr).is_ok());
    let conn = CaddyConnection::local("proxy", &caddy_dir, &binary).unwrap();
    assert_eq!(conn.placement().unwrap().admin, admin_addr);
    drop(conn);
    assert!(
        std::net::TcpStream::connect(&admin_addr).is_err(),
        "Caddy still runs"
    );
}

/// `caddy validate` (no server) of what lab renders: every shape a route
/// can take is one Caddy accepts; ACME through Cloudflare is refused by
/// Debian's build for the reason `net::caddy-dns-module` gives.
#[test]
fn caddy_validate_accepts_what_lab_renders() {
    use lab_net::api::caddy_config::render;
    use lab_net::kinds::{CaddySpec, CaddyTls};
    let binary = require_caddy();
    let dir = tempfile::tempdir().unwrap();
    let mut headers = indexmap::IndexMap::new();
    headers.insert("X-Forwarded-Proto".to_string(), "https".to_string());
    let mut spec = CaddySpec {
        admin: format!(
            "127.0.0.1:{}",
            lab_net::connect::free_loopback_port().unwrap()
        ),
        https_port: 18443,
        http_port: Some(18081),
        bind: Some(vec!["127.0.0.1".into(), "::1".into()]),
        tls: CaddyTls::internal(),
        routes: vec![
            CaddyRoute::new("grafana.lab.home.arpa", "10.0.20.11:3000"),
            CaddyRoute {
                host: "pve.lab.home.arpa".into(),
                upstreams: vec!["10.0.10.2:8006".into(), "10.0.10.3:8006".into()],
                upstream_tls: Some(true),
                headers: Some(headers),
            },
            CaddyRoute::new("*.apps.lab.home.arpa", "[fd00::5]:8080"),
        ],
        storage: Some(dir.path().join("storage").display().to_string()),
    };
    let validate = |spec: &CaddySpec| {
        let file = dir.path().join("config.json");
        let config = render(spec, Some("lab:home/net.caddy.proxy"), None).unwrap();
        std::fs::write(&file, serde_json::to_vec(&config).unwrap()).unwrap();
        let out = std::process::Command::new(&binary)
            .args(["validate", "--config"])
            .arg(&file)
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, log) = validate(&spec);
    assert!(ok, "{log}");
    spec.tls = CaddyTls::acme("cloudflare", Secret::new("cf-token"), None);
    let (ok, log) = validate(&spec);
    assert!(!ok);
    assert!(log.contains("dns.providers.cloudflare"), "{log}");
}

/// The documents the simulator refuses, refused by the real Caddy with the
/// same words (JSON syntax errors: the same prefix; Go and serde word the
/// rest differently). Every document names the admin address: Caddy 2.6.2
/// moves its admin endpoint to the default when it refuses one without.
#[cfg(feature = "sim")]
async fn the_simulator_refuses_as_caddy_does(conn: &CaddyConnection, admin: &str) {
    let sim = lab_net::sim::CaddySim::start(None).await.unwrap();
    let sim_admin = lab_net::api::caddy::CaddyAdmin::new(&sim.admin()).unwrap();
    let a = serde_json::json!({"listen": admin});
    let cases = [
        ("notjson".to_string(), false),
        (serde_json::json!({"admin": a, "bogus": 1}).to_string(), true),
        (
            serde_json::json!({"admin": a, "apps": {"http": {"servers": {"lab": {"listen": [":1"],
                "routes": [{"handle": [{"handler": "subroute", "routes": [{"handle": [{"handler": "reverse_proxyy"}]}]}]}]}}}}})
            .to_string(),
            true,
        ),
        (
            serde_json::json!({"admin": a, "apps": {"tls": {"automation": {"policies": [{"issuers": [{"module": "bogus"}]}]}}}})
                .to_string(),
            true,
        ),
        (
            serde_json::json!({"admin": a, "apps": {"tls": {"automation": {"policies": [{"issuers": [
                {"module": "acme", "challenges": {"dns": {"provider": {"name": "cloudflare", "api_token": "x"}}}}]}]}}}})
            .to_string(),
            true,
        ),
    ];
    let caddy_words = |e: lab_net::api::caddy::AdminError| {
        assert_eq!(e.status, Some(400), "{e}");
        e.message
            .split_once(": ")
            .unwrap()
            .1
            .split_once(": ")
            .unwrap()
            .1
            .to_string()
    };
    for (body, exact) in cases {
        let real = caddy_words(
            conn.admin()
                .load_raw(body.clone().into_bytes())
                .await
                .unwrap_err(),
        );
        let simulated = caddy_words(
            sim_admin
                .load_raw(body.clone().into_bytes())
                .await
                .unwrap_err(),
        );
        if exact {
            assert_eq!(simulated, real, "{body}");
        } else {
            let prefix = "loading config: decoding request body: ";
            assert!(
                real.contains(prefix) && simulated.contains(prefix),
                "{real}\n{simulated}"
            );
        }
    }
    assert_eq!(sim.loads(), 0);
}
