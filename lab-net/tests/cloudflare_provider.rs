//! The Cloudflare provider against the API simulator: a full edge (account,
//! zone, tunnel, its configuration, CNAMEs, Access app, policy and group)
//! applied, then planned with no changes by a new provider on the same
//! state (a restarted simulator), with the refresh's request counts; a
//! rule edited in the dashboard as drift; a tunnel adopted by name; 429s
//! waited out; Cloudflare's error codes and messages surfaced; the plan
//! refusing a missing zone and a DNS name someone else holds; two accounts
//! in one lab; destroy leaving the account empty.

use std::path::Path;
use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{ApplyOptions, EngineError, FileStateStore, RetryPolicy};
use lab_net::api::cloudflare::{CloudflareClient, CloudflareErrorKind, Endpoint};
use lab_net::connect::CloudflareConnection;
use lab_net::model::cloudflare::{
    AccessApp, AccessGroup, AccessPolicy, Account, Decision, DnsRecord, Include, Tunnel,
    TunnelConfig, TunnelIngress, Zone,
};
use lab_net::provider::cloudflare::{plan_checks, CloudflareProvider};
use lab_net::sim::cloudflare::{CloudflareSim, CloudflareSimConfig};
use serde_json::{json, Value as Json};

const ACCOUNT_A: &str = "0123456789abcdef0123456789abcdef";
const ACCOUNT_B: &str = "fedcba9876543210fedcba9876543210";
const TOKEN_A: &str = "token-of-account-a-0123456789";
const TOKEN_B: &str = "token-of-account-b-9876543210";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn opts(attempts: u32) -> ApplyOptions {
    ApplyOptions {
        parallelism: 4,
        retry: RetryPolicy {
            max_attempts: attempts,
            base: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        },
    }
}

fn bind<R: Resource>(r: R, instance: Option<&ProviderHandle>) -> R {
    match instance {
        Some(h) => r.provider(h),
        None => r,
    }
}

/// The edge of one account: a tunnel with an admin rule behind Access and
/// a public one, their CNAMEs, the app, its policy and the policy's group.
fn add_edge(
    lab: &mut Lab,
    name: &str,
    account_id: &str,
    token: &str,
    zone: &str,
    on: Option<&ProviderHandle>,
) -> Handle<Account> {
    let acct = lab.add(bind(
        Account::new(name, account_id, Secret::new(token), "myteam"),
        on,
    ));
    let zone_h = lab.add(bind(Zone::new(&acct, zone), on));
    let tunnel = lab.add(bind(Tunnel::new(&acct, &format!("{name}-edge")), on));
    let admins = lab.add(bind(
        AccessGroup::new(
            &acct,
            &format!("{name}-admins"),
            Include::emails(&["me@example.com"]),
        ),
        on,
    ));
    let policy = lab.add(bind(
        AccessPolicy::new(
            &acct,
            &format!("{name}-admins-only"),
            Decision::Allow,
            Include::group(&admins),
        ),
        on,
    ));
    let pve_host = format!("pve.{zone}");
    let blog_host = format!("blog.{zone}");
    let app = lab.add(bind(
        AccessApp::new(&acct, &format!("{name}-proxmox"), &pve_host).policy(&policy),
        on,
    ));
    lab.add(bind(
        TunnelConfig::new(&acct, &tunnel)
            .rule(TunnelIngress::new(&pve_host, "https://10.0.10.2:8006").access(&app))
            .rule(TunnelIngress::new(&blog_host, "http://10.0.40.7:8080")),
        on,
    ));
    lab.add(bind(
        DnsRecord::tunnel_cname(&zone_h, &pve_host, &tunnel),
        on,
    ));
    lab.add(bind(
        DnsRecord::tunnel_cname(&zone_h, &blog_host, &tunnel),
        on,
    ));
    acct
}

fn engine_on(conn: &CloudflareConnection, dir: &Path) -> Engine {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider());
    let _ = add_edge(&mut lab, "cf", ACCOUNT_A, TOKEN_A, "example.com", None);
    Engine::new(lab, FileStateStore::new(dir.join(".lab")))
}

async fn apply(e: &Engine, attempts: u32) -> lab_core::Plan {
    let plan = e.plan(&PlanOptions::default()).await.expect("plan");
    let report = e.apply(&plan, &opts(attempts)).await.expect("apply");
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

fn live_tunnels(sim: &CloudflareSim) -> Vec<Json> {
    sim.world()
        .tunnels
        .values()
        .filter(|t| t.record["deleted_at"].is_null())
        .map(|t| t.record.clone())
        .collect()
}

fn tunnel_id(sim: &CloudflareSim, name: &str) -> String {
    live_tunnels(sim)
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .expect("the tunnel")
        .to_string()
}

fn dns_records(sim: &CloudflareSim) -> Vec<Json> {
    sim.world()
        .zones
        .values()
        .flat_map(|z| z.dns_records.clone())
        .collect()
}

#[test]
fn a_full_edge_applies_and_a_new_provider_plans_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let conn = CloudflareConnection::simulated("cloudflare", dir.path()).unwrap();
        let e = engine_on(&conn, dir.path());
        let plan = apply(&e, 2).await;
        assert_eq!(plan.steps.len(), 9, "{:#?}", plan.steps);
        let config_step = plan
            .steps
            .iter()
            .find(|s| s.address.kind() == "cloudflare.tunnel_config")
            .unwrap();
        assert!(
            config_step.notes[0].contains("whole remote configuration"),
            "{:?}",
            config_step.notes
        );
        let sim = conn.simulator().expect("the plan started the simulator");
        assert_eq!(sim.account_id(), ACCOUNT_A);
        // The simulator got a stand-in for the lab's token, and no file
        // under the folder holds the token itself.
        assert!(sim.token().expose().starts_with("sim-"));
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(!text.contains(TOKEN_A), "{}", path.display());
            }
        }

        // What Cloudflare holds: the tunnel, its rules with the app's aud,
        // the CNAMEs marked as the lab's, the app linking the policy.
        let world = sim.world();
        let id = tunnel_id(&sim, "cf-edge");
        let config = world.tunnels[&id].configuration.clone().unwrap();
        let rules = config["config"]["ingress"].as_array().unwrap().clone();
        assert_eq!(rules.len(), 3);
        let app = world.apps.values().next().unwrap().record.clone();
        assert_eq!(
            rules[0]["originRequest"]["access"],
            json!({"required": true, "teamName": "myteam", "audTag": [app["aud"]]})
        );
        assert_eq!(rules[2], json!({"service": "http_status:404"}));
        let policy = world.policies.values().next().unwrap().record.clone();
        assert_eq!(app["policies"][0]["id"], policy["id"]);
        let group = world.groups.values().next().unwrap().record.clone();
        assert_eq!(policy["include"], json!([{"group": {"id": group["id"]}}]));
        let records = dns_records(&sim);
        assert_eq!(records.len(), 2);
        for r in &records {
            assert_eq!(r["type"], "CNAME");
            assert_eq!(r["proxied"], true);
            assert_eq!(r["content"], format!("{id}.cfargotunnel.com"));
            let comment = r["comment"].as_str().unwrap();
            assert!(
                comment.starts_with("managed-by:lab-net lab:home/cloudflare.dns_record."),
                "{comment}"
            );
            // Free zones take no tags: ownership is in the comment.
            assert_eq!(r["tags"], json!([]));
        }

        // The tunnel's token is its output, sealed in the state, never in
        // the plan's text.
        let state = std::fs::read_to_string(dir.path().join(".lab/state.json")).unwrap();
        let token = sim.world().tunnels[&id].secret.clone();
        assert!(!state.contains(&token));
        assert!(!state.contains(TOKEN_A));
        assert!(!lab_core::plan::render::render(&plan, false).contains(TOKEN_A));
        drop(e);
        drop(sim);
        drop(conn);

        // A new process: a new simulator from the state file, a new engine.
        let conn = CloudflareConnection::simulated("cloudflare", dir.path()).unwrap();
        let e = engine_on(&conn, dir.path());
        assert_no_changes(&e).await;
        let sim = conn.simulator().unwrap();
        assert_eq!(tunnel_id(&sim, "cf-edge"), id, "the same tunnel, read back");
        // One refresh: each list once, one configuration read, one DNS
        // listing for the zone (one page each); nothing else.
        sim.reset_requests();
        assert_no_changes(&e).await;
        let counts = sim.request_counts();
        let expected: std::collections::BTreeMap<String, u64> = [
            "GET /accounts/{account_id}/cfd_tunnel",
            "GET /accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations",
            "GET /zones",
            "GET /zones/{zone_id}/dns_records",
            "GET /accounts/{account_id}/access/apps",
            "GET /accounts/{account_id}/access/policies",
            "GET /accounts/{account_id}/access/groups",
        ]
        .into_iter()
        .map(|k| (k.to_string(), 1))
        .collect();
        assert_eq!(counts, expected);
    });
}

#[test]
fn a_rule_edited_in_the_dashboard_is_drift_and_the_update_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let conn = CloudflareConnection::simulated("cloudflare", dir.path()).unwrap();
        let e = engine_on(&conn, dir.path());
        apply(&e, 2).await;
        let sim = conn.simulator().unwrap();
        let id = tunnel_id(&sim, "cf-edge");
        assert!(sim.edit_tunnel_config(&id, |config| {
            config["ingress"][1]["service"] = json!("http://10.0.40.66:8080");
        }));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let drift: Vec<String> = plan.drift.iter().map(|d| d.address.to_string()).collect();
        assert_eq!(drift, vec!["cloudflare.tunnel_config.cf-edge"], "{plan:#?}");
        let step = plan
            .steps
            .iter()
            .find(|s| s.address.kind() == "cloudflare.tunnel_config")
            .expect("an update of the configuration");
        assert_eq!(step.action, lab_core::Action::Update);
        let changed: Vec<&str> = step.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(changed, vec!["config.ingress[1].service"]);

        let text = lab_core::plan::render::render(&plan, false);
        assert!(text.contains("10.0.40.66"), "{text}");
        let report = e.apply(&plan, &opts(2)).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        let config = sim.world().tunnels[&id].configuration.clone().unwrap();
        assert_eq!(
            config["config"]["ingress"][1]["service"],
            "http://10.0.40.7:8080"
        );
        assert_no_changes(&e).await;
    });
}

/// A simulator started directly, and a provider on it (for worlds a
/// connection would shape from the lab).
async fn direct(config: CloudflareSimConfig) -> (CloudflareSim, CloudflareProvider) {
    let sim = CloudflareSim::start(config).await.unwrap();
    let provider = CloudflareProvider::new(Endpoint {
        base_url: sim.base_url(),
        fingerprint: Some(sim.fingerprint().to_string()),
    });
    (sim, provider)
}

fn client(sim: &CloudflareSim) -> CloudflareClient {
    CloudflareClient::new(
        &Endpoint {
            base_url: sim.base_url(),
            fingerprint: Some(sim.fingerprint().to_string()),
        },
        sim.token(),
    )
    .unwrap()
}

fn account_a() -> CloudflareSimConfig {
    CloudflareSimConfig::default()
        .with_account_id(ACCOUNT_A)
        .with_token(TOKEN_A)
}

#[test]
fn a_tunnel_that_exists_is_adopted_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let (sim, provider) = direct(account_a().with_zone("example.com")).await;
        let ctx = lab_core::OpContext::detached();
        let made = client(&sim)
            .post(
                &ctx,
                &format!("/accounts/{ACCOUNT_A}/cfd_tunnel"),
                &json!({"name": "cf-edge", "config_src": "cloudflare"}),
            )
            .await
            .unwrap();
        let mut lab = Lab::new("home");
        lab.register_provider(provider.shared());
        let _ = add_edge(&mut lab, "cf", ACCOUNT_A, TOKEN_A, "example.com", None);
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
        let plan = apply(&e, 2).await;
        let step = plan
            .steps
            .iter()
            .find(|s| s.address.kind() == "cloudflare.tunnel")
            .unwrap();
        assert!(
            step.notes
                .iter()
                .any(|n| n.contains(plan_checks::TUNNEL_ADOPTED)
                    && n.contains(made["id"].as_str().unwrap())),
            "{:?}",
            step.notes
        );
        let live = live_tunnels(&sim);
        assert_eq!(live.len(), 1, "no second tunnel: {live:#?}");
        assert_eq!(live[0]["id"], made["id"]);
        let state = e.store().load().unwrap().expect("a state");
        let recorded = state
            .resources
            .iter()
            .find(|(a, _)| a.kind() == "cloudflare.tunnel")
            .map(|(_, r)| r.id.clone())
            .unwrap();
        assert_eq!(json!(recorded), made["id"]);
        assert_eq!(
            sim.request_counts()
                .get("POST /accounts/{account_id}/cfd_tunnel"),
            Some(&1),
            "only the test's own create"
        );
        assert_no_changes(&e).await;
    });
}

#[test]
fn rate_limited_calls_wait_for_retry_after_and_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let conn = CloudflareConnection::simulated("cloudflare", dir.path()).unwrap();
        let retries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = retries.clone();
        let e = engine_on(&conn, dir.path()).on_event(move |ev| {
            if let lab_core::Event::Retrying { delay, error, .. } = ev {
                seen.lock().unwrap().push((*delay, error.clone()));
            }
        });
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let sim = conn.simulator().unwrap();
        sim.set_rate_limit(8, Duration::from_secs(1));
        sim.reset_requests();
        let report = e.apply(&plan, &opts(12)).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        let limited = sim
            .requests()
            .iter()
            .filter(|r| r.status == 429 && r.error_code == Some(971))
            .count();
        assert!(limited > 0, "the lowered limit was hit");
        // Each 429 was retried no sooner than its Retry-After (1 s here;
        // the engine's own backoff is at most 200 ms).
        let retries = retries.lock().unwrap().clone();
        let rate_limited: Vec<_> = retries
            .iter()
            .filter(|(_, e)| e.contains("error 971"))
            .collect();
        assert!(!rate_limited.is_empty(), "{retries:#?}");
        assert!(
            rate_limited
                .iter()
                .all(|(d, _)| *d >= Duration::from_secs(1)),
            "{rate_limited:#?}"
        );
        sim.set_rate_limit(1200, Duration::from_secs(300));
        assert_no_changes(&e).await;
    });
}

#[test]
fn cloudflare_error_codes_and_messages_surface() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let (sim, provider) = direct(account_a().with_zone("example.com")).await;
        let ctx = lab_core::OpContext::detached();
        let api = client(&sim);
        let path = format!("/accounts/{ACCOUNT_A}/cfd_tunnel");
        let body = json!({"name": "twice", "config_src": "cloudflare"});
        api.post(&ctx, &path, &body).await.unwrap();
        let e = api.post(&ctx, &path, &body).await.unwrap_err();
        assert_eq!(e.kind, CloudflareErrorKind::Refused);
        assert_eq!(e.status, Some(409));
        assert_eq!(e.code(), Some(1013));
        assert!(
            e.message
                .contains("error 1013: You already have a tunnel with this name"),
            "{}",
            e.message
        );
        let p = lab_core::ProviderError::from(e);
        assert!(!p.is_transient() && !p.is_auth());

        // A lab whose account the token cannot reach: Cloudflare's 403
        // with its code and message, at plan time when the plan reads the
        // account (a tunnel looked up by name)...
        let unreachable = |with_tunnel: bool| {
            let mut lab = Lab::new("home");
            lab.register_provider(
                CloudflareProvider::new(Endpoint {
                    base_url: sim.base_url(),
                    fingerprint: Some(sim.fingerprint().to_string()),
                })
                .shared(),
            );
            let acct = lab.add(Account::new(
                "cf",
                ACCOUNT_B,
                Secret::new(TOKEN_A),
                "myteam",
            ));
            if with_tunnel {
                lab.add(Tunnel::new(&acct, "edge"));
            }
            lab
        };
        let e = Engine::new(
            unreachable(true),
            FileStateStore::new(dir.path().join(".lab")),
        );
        let err = e.plan(&PlanOptions::default()).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("403") && text.contains("error 10000: Authentication error"),
            "{text}"
        );
        // ... else when the account's create checks it: the run stops.
        let e = Engine::new(
            unreachable(false),
            FileStateStore::new(dir.path().join(".lab")),
        );
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &opts(2)).await.unwrap();
        let stopped = report.stopped.clone().expect("the run stops: credentials");
        let failed: Vec<&str> = report.failed.iter().map(|f| f.error.as_str()).collect();
        let all = format!("{stopped} {failed:?}");
        assert!(
            all.contains("403") && all.contains("error 10000: Authentication error"),
            "{all}"
        );
        assert!(!all.contains(TOKEN_A));
        drop(provider);

        // A wrong token: 401/1001 at the plan's probe.
        let mut lab = Lab::new("home");
        lab.register_provider(
            CloudflareProvider::new(Endpoint {
                base_url: sim.base_url(),
                fingerprint: Some(sim.fingerprint().to_string()),
            })
            .shared(),
        );
        let _ = add_edge(
            &mut lab,
            "cf",
            ACCOUNT_A,
            "not-the-token",
            "example.com",
            None,
        );
        let fresh = tempfile::tempdir().unwrap();
        let e = Engine::new(lab, FileStateStore::new(fresh.path().join(".lab")));
        let err = e.plan(&PlanOptions::default()).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains("error 1001"), "{text}");
        assert!(!text.contains("not-the-token"), "{text}");
    });
}

#[test]
fn a_missing_zone_and_a_taken_name_stop_the_plan_at_the_users_line() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        // The account has example.com only.
        let (sim, provider) = direct(account_a().with_zone("example.com")).await;
        let zone_id = sim.zone_id("example.com").unwrap();
        let ctx = lab_core::OpContext::detached();
        client(&sim)
            .post(
                &ctx,
                &format!("/zones/{zone_id}/dns_records"),
                &json!({"type": "A", "name": "blog.example.com", "content": "203.0.113.7",
                        "comment": "the old blog"}),
            )
            .await
            .unwrap();
        let mut lab = Lab::new("home");
        lab.register_provider(provider.shared());
        let acct = add_edge(&mut lab, "cf", ACCOUNT_A, TOKEN_A, "example.com", None);
        let other_line = line!() + 1;
        lab.add(Zone::new(&acct, "example.net"));
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
        let err = e.plan(&PlanOptions::default()).await.unwrap_err();
        let EngineError::PlanCheck(diags) = err else {
            panic!("{err:?}")
        };
        let missing = diags
            .iter()
            .find(|d| d.code == plan_checks::ZONE_MISSING)
            .expect("the missing zone");
        assert!(
            missing.message.contains("example.net"),
            "{}",
            missing.message
        );
        assert_eq!(missing.labels[0].loc.line(), other_line);
        let taken = diags
            .iter()
            .find(|d| d.code == plan_checks::DNS_TAKEN)
            .expect("the taken name");
        assert!(
            taken.message.contains("blog.example.com") && taken.message.contains("the old blog"),
            "{}",
            taken.message
        );
        assert_eq!(diags.len(), 2, "{diags:#?}");
        assert_eq!(sim.world().tunnels.len(), 0, "nothing applied");
    });
}

#[test]
fn two_accounts_in_one_lab_are_two_instances() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let a = CloudflareConnection::simulated("cf-a", dir.path()).unwrap();
        let b = CloudflareConnection::simulated("cf-b", dir.path()).unwrap();
        let make = |a: &CloudflareConnection, b: &CloudflareConnection| {
            let mut lab = Lab::new("home");
            let ha = lab.register_provider_as("cf-a", a.provider());
            let hb = lab.register_provider_as("cf-b", b.provider());
            let _ = add_edge(&mut lab, "a", ACCOUNT_A, TOKEN_A, "example.com", Some(&ha));
            let _ = add_edge(&mut lab, "b", ACCOUNT_B, TOKEN_B, "example.org", Some(&hb));
            Engine::new(lab, FileStateStore::new(dir.path().join(".lab")))
        };
        let e = make(&a, &b);
        apply(&e, 2).await;
        let (sa, sb) = (a.simulator().unwrap(), b.simulator().unwrap());
        assert_eq!((sa.account_id(), sb.account_id()), (ACCOUNT_A, ACCOUNT_B));
        assert_ne!(sa.token().expose(), sb.token().expose());
        let names = |s: &CloudflareSim| {
            live_tunnels(s)
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&sa), vec!["a-edge"]);
        assert_eq!(names(&sb), vec!["b-edge"]);
        assert!(sa.zone_id("example.org").is_none());
        assert_eq!(dns_records(&sb).len(), 2);
        assert_no_changes(&e).await;

        // Two accounts on one instance: refused, saying what to write.
        let mut lab = Lab::new("home");
        lab.register_provider(a.provider());
        let _ = add_edge(&mut lab, "a", ACCOUNT_A, TOKEN_A, "example.com", None);
        let _ = add_edge(&mut lab, "b", ACCOUNT_B, TOKEN_B, "example.org", None);
        let fresh = tempfile::tempdir().unwrap();
        let e = Engine::new(lab, FileStateStore::new(fresh.path().join(".lab")));
        let err = e.plan(&PlanOptions::default()).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("one provider instance serves one account"),
            "{text}"
        );

        // Resources on an instance no account is bound to: refused too.
        let mut lab = Lab::new("home");
        let ha = lab.register_provider_as("cf-a", a.provider());
        let hb = lab.register_provider_as("cf-b", b.provider());
        let acct =
            lab.add(Account::new("a", ACCOUNT_A, Secret::new(TOKEN_A), "myteam").provider(&ha));
        lab.add(Tunnel::new(&acct, "stray").provider(&hb));
        let e = Engine::new(lab, FileStateStore::new(fresh.path().join(".lab")));
        let err = e.plan(&PlanOptions::default()).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            text.contains(
                "`cf-b` applies cloudflare.tunnel.stray but no `cloudflare.account` is bound to it"
            ),
            "{text}"
        );
    });
}

#[test]
fn destroy_leaves_the_account_empty() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let conn = CloudflareConnection::simulated("cloudflare", dir.path()).unwrap();
        let e = engine_on(&conn, dir.path());
        apply(&e, 2).await;
        let sim = conn.simulator().unwrap();
        let id = tunnel_id(&sim, "cf-edge");
        // A connector that went away without saying so: its connections
        // are stale, and the delete cleans them first.
        assert!(sim.connect_tunnel(&id, "c0ffee00-0000-4000-8000-000000000000"));
        sim.reset_requests();
        let plan = e.plan_destroy().await.unwrap();
        let report = e.apply(&plan, &opts(2)).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        let world = sim.world();
        assert!(live_tunnels(&sim).is_empty());
        assert!(dns_records(&sim).is_empty());
        assert!(world.apps.is_empty() && world.policies.is_empty() && world.groups.is_empty());
        // The zone is the account's, not the lab's.
        assert!(sim.zone_id("example.com").is_some());
        // Order (cloudflare-api.md §6): records and the configuration
        // before the app, the app before its policy and group, the
        // connections cleaned before the tunnel goes.
        let order: Vec<String> = sim
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.endpoint.clone().unwrap_or_default()))
            .collect();
        let at = |what: &str| {
            order
                .iter()
                .position(|o| o == what)
                .unwrap_or_else(|| panic!("{what} in {order:#?}"))
        };
        let app = at("DELETE /accounts/{account_id}/access/apps/{app_id}");
        assert!(
            at("DELETE /zones/{zone_id}/dns_records/{dns_record_id}")
                < at("DELETE /accounts/{account_id}/cfd_tunnel/{tunnel_id}")
        );
        assert!(at("PUT /accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations") < app);
        assert!(app < at("DELETE /accounts/{account_id}/access/policies/{policy_id}"));
        assert!(
            at("DELETE /accounts/{account_id}/access/policies/{policy_id}")
                < at("DELETE /accounts/{account_id}/access/groups/{group_id}")
        );
        assert!(
            at("DELETE /accounts/{account_id}/cfd_tunnel/{tunnel_id}/connections")
                < at("DELETE /accounts/{account_id}/cfd_tunnel/{tunnel_id}")
        );
        let state = e.store().load().unwrap().expect("a state");
        assert!(state.resources.is_empty(), "{:#?}", state.resources.keys());
    });
}

#[test]
fn a_record_carrying_the_marker_is_taken_over_not_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        // A run that made the blog's CNAME and crashed before recording
        // it: the record carries the resource's marker.
        let (sim, provider) = direct(account_a().with_zone("example.com")).await;
        let zone_id = sim.zone_id("example.com").unwrap();
        let ctx = lab_core::OpContext::detached();
        let left = client(&sim)
            .post(
                &ctx,
                &format!("/zones/{zone_id}/dns_records"),
                &json!({"type": "CNAME", "name": "blog.example.com", "content": "old.cfargotunnel.com",
                        "proxied": true, "ttl": 1,
                        "comment": "managed-by:lab-net lab:home/cloudflare.dns_record.cname-blog-example-com"}),
            )
            .await
            .unwrap();
        let mut lab = Lab::new("home");
        lab.register_provider(provider.shared());
        let _ = add_edge(&mut lab, "cf", ACCOUNT_A, TOKEN_A, "example.com", None);
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
        apply(&e, 2).await;
        let records = dns_records(&sim);
        assert_eq!(records.len(), 2, "{records:#?}");
        let blog = records
            .iter()
            .find(|r| r["name"] == "blog.example.com")
            .unwrap();
        assert_eq!(blog["id"], left["id"], "the same record, taken over");
        let id = tunnel_id(&sim, "cf-edge");
        assert_eq!(blog["content"], format!("{id}.cfargotunnel.com"));
        assert_no_changes(&e).await;
    });
}

#[test]
fn long_names_get_the_short_marker_and_paid_zones_get_tags() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let (sim, _) = direct(account_a().with_zone("example.com")).await;
        let host = "a-rather-long-service-name-for-limits.example.com";
        let make = |provider: CloudflareProvider| {
            let mut lab = Lab::new("home");
            lab.register_provider(provider.shared());
            let acct = lab.add(Account::new("cf", ACCOUNT_A, Secret::new(TOKEN_A), "myteam"));
            let zone = lab.add(Zone::new(&acct, "example.com"));
            let tunnel = lab.add(Tunnel::new(&acct, "edge"));
            lab.add(DnsRecord::tunnel_cname(&zone, host, &tunnel));
            Engine::new(lab, FileStateStore::new(dir.path().join(".lab")))
        };
        let endpoint = Endpoint {
            base_url: sim.base_url(),
            fingerprint: Some(sim.fingerprint().to_string()),
        };

        // Tags on a Free zone: Cloudflare's refusal, its chain shown.
        let e = make(CloudflareProvider::new(endpoint.clone()).with_dns_tags(true));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &opts(2)).await.unwrap();
        let failed = &report.failed[0];
        assert!(
            failed.error.contains(
                "error 1004: DNS Validation Error (9300: DNS record has 2 tags, exceeding the quota of 0.)"
            ),
            "{}",
            failed.error
        );

        // On a paid plan the tags are written; the long name's marker is
        // the short one, so the comment fits in 100 characters.
        assert!(sim.set_zone_plan("example.com", "pro"));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &opts(2)).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        let record = dns_records(&sim).pop().unwrap();
        let comment = record["comment"].as_str().unwrap();
        let marker = format!("lab:home/cloudflare.dns_record.cname-{}", host.replace('.', "-"));
        assert_eq!(
            comment,
            format!(
                "managed-by:lab-net {}",
                lab_net::provider::cloudflare::short_marker(&marker)
            )
        );
        assert!(comment.len() <= 100);
        assert_eq!(record["tags"][0], "managed-by:lab-net");
        assert!(record["tags"][1].as_str().unwrap().starts_with("lab:lab-"));
        drop(e);
        let e = make(CloudflareProvider::new(endpoint).with_dns_tags(true));
        assert_no_changes(&e).await;
    });
}

#[test]
fn removing_the_account_with_its_objects_says_to_keep_it_until_they_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let conn = CloudflareConnection::simulated("cloudflare", dir.path()).unwrap();
        let mut lab = Lab::new("home");
        lab.register_provider(conn.provider());
        let acct = lab.add(Account::new(
            "cf",
            ACCOUNT_A,
            Secret::new(TOKEN_A),
            "myteam",
        ));
        lab.add(Tunnel::new(&acct, "edge"));
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
        apply(&e, 2).await;
        drop(e);

        let mut lab = Lab::new("home");
        lab.register_provider(conn.provider());
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
        let err = e.plan(&PlanOptions::default()).await.unwrap_err();
        let text = err.to_string() + &format!("{err:?}");
        assert!(
            text.contains("keep their account in the code until they are gone"),
            "{text}"
        );
        // With the account kept, the tunnel goes.
        let mut lab = Lab::new("home");
        lab.register_provider(conn.provider());
        lab.add(Account::new(
            "cf",
            ACCOUNT_A,
            Secret::new(TOKEN_A),
            "myteam",
        ));
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
        apply(&e, 2).await;
        assert!(live_tunnels(&conn.simulator().unwrap()).is_empty());
    });
}

#[test]
fn the_client_reads_every_page() {
    let rt = runtime();
    rt.block_on(async {
        let (sim, _) = direct(account_a()).await;
        let api = client(&sim);
        let ctx = lab_core::OpContext::detached();
        let path = format!("/accounts/{ACCOUNT_A}/cfd_tunnel");
        for i in 0..57 {
            api.post(&ctx, &path, &json!({"name": format!("t{i:02}")}))
                .await
                .unwrap();
        }
        sim.reset_requests();
        let all = api.get_all(&ctx, &path, &[]).await.unwrap();
        assert_eq!(all.len(), 57);
        let names: std::collections::BTreeSet<&str> =
            all.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 57, "no tunnel twice");
        // Two pages of 50 (the sim's default would be 20: three).
        assert_eq!(sim.request_count(), 2, "{:?}", sim.requests());
        // A filter is kept on every page.
        let some = api.get_all(&ctx, &path, &[("name", "t07")]).await.unwrap();
        assert_eq!(some.len(), 1);
    });
}
