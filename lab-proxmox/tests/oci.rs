//! Application containers from OCI images (PVE 9.1): `File::oci_image`
//! (`oci-registry-pull`), `Container::entrypoint`, `env` and `env_secret`
//! through the provider against the simulator: pull, create, no changes in
//! a new provider, a changed secret as an update that never shows it, drift
//! on a hand edit, the pull endpoint's answers, recovery of an interrupted
//! pull, nodes before 9.1 refused at plan time. The builders' checks:
//! `tests/oci_model.rs`.

mod common;
mod sim_support;

use std::path::Path;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{Action, FileStateStore};
use lab_proxmox::model::*;
use lab_proxmox::sim::SimConfig;
use lab_proxmox::{checks, Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};

const REFERENCE: &str = "docker.io/cloudflare/cloudflared:2025.11.1";

// ---------------------------------------------------------------------------
// The provider against the simulator
// ---------------------------------------------------------------------------

fn connect(dir: &Path, config: SimConfig) -> Connection {
    Connection::simulated(config, dir.join("pve.json")).expect("simulator starts")
}

/// What a run declares.
#[derive(Clone)]
struct App {
    entrypoint: Option<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    token: &'static str,
}

impl Default for App {
    fn default() -> Self {
        App {
            entrypoint: Some("cloudflared --no-autoupdate tunnel run"),
            env: vec![("TUNNEL_LOGLEVEL", "info")],
            token: "eyJhIjoiZmlyc3QtdG9rZW4ifQ",
        }
    }
}

fn app_lab(conn: &Connection, app: &App) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Vztmpl, Content::Iso, Content::Import])
            .node(&pve1),
    );
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1),
    );
    let image = lab.add(File::oci_image("cloudflared", &pve1, &local, REFERENCE));
    let mut ct = Container::new("tunnel", &pve1)
        .ostemplate(&image)
        .rootfs(&lvm, "2G")
        .memory_mb(256)
        .nic("net0", "vmbr0")
        .ip("dhcp");
    if let Some(e) = app.entrypoint {
        ct = ct.entrypoint(e);
    }
    for (k, v) in &app.env {
        ct = ct.env(k, v);
    }
    lab.add(ct.env_secret("TUNNEL_TOKEN", Secret::new(app.token)));
    lab
}

fn engine(conn: &Connection, dir: &Path, app: &App) -> Engine {
    Engine::new(app_lab(conn, app), FileStateStore::new(dir.join(".lab")))
}

fn tunnel_view(conn: &Connection) -> lab_proxmox::sim::GuestView {
    conn.simulator()
        .unwrap()
        .world()
        .guests()
        .into_iter()
        .find(|g| g.name == "tunnel")
        .expect("the container exists")
}

fn tunnel_config(conn: &Connection) -> std::collections::BTreeMap<String, String> {
    tunnel_view(conn).config
}

fn env_of(config: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    config
        .get("env")
        .map(|e| e.split('\0').map(str::to_string).collect())
        .unwrap_or_default()
}

fn assert_schema_clean(conn: &Connection) {
    let violations = conn.simulator().unwrap().schema_violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn pull_create_and_plan_again_in_a_new_provider_says_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path(), sim_config());
    runtime().block_on(async {
        let app = App::default();
        let e = engine(&conn, dir.path(), &app);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (2, 0, 0), "{:#?}", plan.steps);
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");

        let world = conn.simulator().unwrap().world();
        let image = world
            .volumes
            .iter()
            .find(|v| v.volid == "local:vztmpl/cloudflared_2025.11.1.tar")
            .expect("the pulled image is a vztmpl volume");
        assert_eq!(image.content, "vztmpl");
        assert_eq!(image.format, "tar");
        let config = tunnel_config(&conn);
        assert_eq!(
            config.get("entrypoint").map(String::as_str),
            Some("cloudflared --no-autoupdate tunnel run")
        );
        let env = env_of(&config);
        assert!(
            env.iter().any(|v| v.starts_with("PATH=")),
            "the image's PATH stays: {env:?}"
        );
        assert!(env.contains(&"TUNNEL_LOGLEVEL=info".to_string()), "{env:?}");
        assert!(
            env.contains(&format!("TUNNEL_TOKEN={}", app.token)),
            "{env:?}"
        );
        assert_eq!(config.get("cmode").map(String::as_str), Some("console"));
        assert!(
            config["net0"].contains("host-managed=1"),
            "{}",
            config["net0"]
        );
        assert_eq!(
            world
                .guests()
                .iter()
                .find(|g| g.name == "tunnel")
                .unwrap()
                .status,
            lab_proxmox::sim::GuestStatus::Running
        );

        // The state never holds the token in plain text.
        let state = std::fs::read_to_string(dir.path().join(".lab/state.json")).unwrap();
        assert!(!state.contains(app.token));

        // A new connection (a new process) on the same simulator state.
        drop(e);
        let conn2 = connect(dir.path(), sim_config());
        let e2 = engine(&conn2, dir.path(), &app);
        let again = e2.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
        assert_schema_clean(&conn);
    });
}

#[test]
fn a_changed_env_secret_is_an_update_whose_plan_does_not_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path(), sim_config());
    runtime().block_on(async {
        let e = engine(&conn, dir.path(), &App::default());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());

        let rotated = App {
            token: "eyJhIjoic2Vjb25kLXRva2VuIn0",
            env: vec![("TUNNEL_LOGLEVEL", "debug")],
            ..App::default()
        };
        let e2 = engine(&conn, dir.path(), &rotated);
        let plan = e2.plan(&PlanOptions::default()).await.unwrap();
        let step = plan
            .step(&lab_core::Address::new("proxmox.ct", "tunnel"))
            .expect("the container changes");
        assert_eq!(step.action, Action::Update, "{step:#?}");
        let fields: Vec<&str> = step.changes.iter().map(|c| c.field.as_str()).collect();
        assert!(fields.contains(&"env_secrets"), "{fields:?}");
        assert!(fields.contains(&"env"), "{fields:?}");
        let text = lab_core::plan::render::render(&plan, false);
        let json = plan.to_redacted_json().to_string();
        for secret in [App::default().token, rotated.token] {
            assert!(!text.contains(secret), "{text}");
            assert!(!json.contains(secret), "{json}");
        }
        assert!(text.contains("debug"), "plain values are shown: {text}");
        let report = e2.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        // Not hotpluggable: the provider rebooted the container into it.
        let view = tunnel_view(&conn);
        assert!(view.pending.is_empty(), "{:?}", view.pending);
        assert_eq!(view.status, lab_proxmox::sim::GuestStatus::Running);
        let config = view.current;
        assert!(
            config["net0"].contains("host-managed=1"),
            "an update keeps the host's DHCP: {}",
            config["net0"]
        );
        let env = env_of(&config);
        assert!(
            env.contains(&format!("TUNNEL_TOKEN={}", rotated.token)),
            "{env:?}"
        );
        assert!(
            !env.iter().any(|v| v.contains(App::default().token)),
            "{env:?}"
        );
        assert!(env.iter().any(|v| v.starts_with("PATH=")), "{env:?}");
        assert!(!e2
            .plan(&PlanOptions::default())
            .await
            .unwrap()
            .has_changes());

        // A variable dropped from the code is removed; the image's stay.
        let fewer = App {
            env: vec![],
            ..rotated
        };
        let e3 = engine(&conn, dir.path(), &fewer);
        let plan = e3.plan(&PlanOptions::default()).await.unwrap();
        assert!(e3.apply(&plan, &opts()).await.unwrap().is_success());
        let env = env_of(&tunnel_config(&conn));
        assert!(
            !env.iter().any(|v| v.starts_with("TUNNEL_LOGLEVEL=")),
            "{env:?}"
        );
        assert!(env.iter().any(|v| v.starts_with("PATH=")), "{env:?}");
        assert!(!e3
            .plan(&PlanOptions::default())
            .await
            .unwrap()
            .has_changes());
        assert_schema_clean(&conn);
    });
}

#[test]
fn an_entrypoint_edited_in_the_simulator_is_drift_and_apply_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path(), sim_config());
    runtime().block_on(async {
        let app = App::default();
        let e = engine(&conn, dir.path(), &app);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        let id = conn
            .simulator()
            .unwrap()
            .world()
            .guests()
            .into_iter()
            .find(|g| g.name == "tunnel")
            .unwrap()
            .vmid;

        // By hand: another command, and the token edited.
        let form = lab_proxmox::api::Form::new()
            .str("entrypoint", "/bin/sh")
            .str("env", "PATH=/usr/bin\0TUNNEL_TOKEN=by-hand");
        let _: serde_json::Value = conn
            .client()
            .put(&format!("/nodes/pve1/lxc/{id}/config"), &form)
            .await
            .unwrap();
        // Not hotpluggable: pending while the container runs what the lab
        // set, so nothing has drifted yet.
        let pending = tunnel_view(&conn).pending;
        assert!(
            pending.contains_key("entrypoint") && pending.contains_key("env"),
            "{pending:?}"
        );
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());
        // Rebooted: the hand edit runs.
        let api = sim_support::Api::new(conn.simulator().unwrap());
        api.ok("POST", &format!("/nodes/pve1/lxc/{id}/status/reboot"), &[])
            .await;

        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let step = plan
            .step(&lab_core::Address::new("proxmox.ct", "tunnel"))
            .expect("drift");
        assert_eq!(step.action, Action::Update);
        let fields: Vec<&str> = step.changes.iter().map(|c| c.field.as_str()).collect();
        assert!(fields.contains(&"entrypoint"), "{fields:?}");
        assert!(fields.contains(&"env_secrets"), "{fields:?}");
        assert!(
            fields.contains(&"env"),
            "TUNNEL_LOGLEVEL is gone: {fields:?}"
        );
        let text = lab_core::plan::render::render(&plan, false);
        assert!(text.contains("/bin/sh"), "{text}");
        assert!(
            !text.contains("by-hand") && !text.contains(app.token),
            "{text}"
        );

        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        // Written, then rebooted into: running, nothing pending.
        let view = tunnel_view(&conn);
        assert!(view.pending.is_empty(), "{:?}", view.pending);
        let config = view.current;
        assert_eq!(
            config.get("entrypoint").map(String::as_str),
            Some("cloudflared --no-autoupdate tunnel run")
        );
        let env = env_of(&config);
        assert!(
            env.contains(&format!("TUNNEL_TOKEN={}", app.token)),
            "{env:?}"
        );
        assert!(env.contains(&"PATH=/usr/bin".to_string()), "{env:?}");
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());
        assert_schema_clean(&conn);
    });
}

#[test]
fn oci_registry_pull_answers_as_pve_does() {
    runtime().block_on(async {
        let mut config = sim_config();
        config.oci_images_missing = vec!["docker.io/library/nope:1".into()];
        let (sim, api) = sim_support::sim(config).await;
        let pull = |storage: &str| format!("/nodes/pve1/storage/{storage}/oci-registry-pull");

        // Not a file storage; a tagless reference (the schema's pattern).
        let a = api
            .post(&pull("local-lvm"), &[("reference", REFERENCE)])
            .await;
        assert_eq!(
            (a.status, a.reason.as_str()),
            (
                500,
                "can't upload to storage type 'lvmthin', not a file based storage!"
            ),
            "{a:?}"
        );
        let a = api
            .post(
                &pull("local"),
                &[("reference", "docker.io/cloudflare/cloudflared")],
            )
            .await;
        assert_eq!(a.status, 400, "{a:?}");
        assert!(a.body.contains("reference"), "{}", a.body);

        // A pull: the file appears as a vztmpl volume named as PVE names it.
        let status = api
            .ok("POST", &pull("local"), &[("reference", REFERENCE)])
            .await;
        assert_eq!(status["type"], "ociregistrypull");
        assert_eq!(status["id"], "cloudflared_2025.11.1.tar");
        let listed = api
            .get(
                "/nodes/pve1/storage/local/content",
                &[("content", "vztmpl")],
            )
            .await
            .data();
        let image = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["volid"] == "local:vztmpl/cloudflared_2025.11.1.tar")
            .unwrap_or_else(|| panic!("{listed}"));
        assert_eq!(image["format"], "tar");

        // Again: refused before any task.
        let a = api.post(&pull("local"), &[("reference", REFERENCE)]).await;
        assert_eq!(
            (a.status, a.reason.as_str()),
            (
                500,
                "refusing to override existing file 'cloudflared_2025.11.1.tar'"
            )
        );

        // A given file name is normalised, `.tar` appended.
        api.ok(
            "POST",
            &pull("local"),
            &[("reference", REFERENCE), ("filename", "cf:edge")],
        )
        .await;
        let world = sim.world();
        assert!(world.volume("pve1", "local:vztmpl/cf_edge.tar").is_some());

        // An image the registry lacks: skopeo's failure, nothing left.
        let upid = api
            .post(&pull("local"), &[("reference", "docker.io/library/nope:1")])
            .await
            .upid();
        let status = api.wait(&upid).await;
        let exit = status["exitstatus"].as_str().unwrap();
        assert!(
            exit.starts_with("command 'skopeo copy docker://docker.io/library/nope:1 oci-archive:"),
            "{exit}"
        );
        assert!(sim
            .world()
            .volume("pve1", "local:vztmpl/nope_1.tar")
            .is_none());
    });
}

#[test]
fn an_image_pulled_by_hand_is_taken_and_a_missing_one_fails_with_skopeos_words() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sim_config();
    config.oci_images_missing = vec!["docker.io/cloudflare/cloudflared:0.0.0".into()];
    let conn = connect(dir.path(), config);
    runtime().block_on(async {
        // By hand, before the lab: the same reference, so the same file.
        let form = lab_proxmox::api::Form::new().str("reference", REFERENCE);
        let upid = conn
            .client()
            .post("/nodes/pve1/storage/local/oci-registry-pull", &form)
            .await
            .unwrap()
            .to_string();
        let world = || conn.simulator().unwrap().world();
        for _ in 0..200 {
            if world()
                .volume("pve1", "local:vztmpl/cloudflared_2025.11.1.tar")
                .is_some()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(upid.contains(":ociregistrypull:"), "{upid}");
        let e = engine(&conn, dir.path(), &App::default());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());

        // A tag the registry does not have: the pull fails, nothing is made.
        let mut lab = Lab::new("other");
        lab.register_provider(conn.provider(ProxmoxOptions::default()));
        let pve1 = lab.add(Node::new("pve1"));
        let local = lab.add(
            Storage::existing("local")
                .content(&[Content::Vztmpl])
                .node(&pve1),
        );
        lab.add(File::oci_image(
            "old",
            &pve1,
            &local,
            "docker.io/cloudflare/cloudflared:0.0.0",
        ));
        let e = Engine::new(lab, FileStateStore::new(dir.path().join(".other")));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert_eq!(report.failed.len(), 1, "{report:#?}");
        let error = &report.failed[0].error;
        assert!(
            error.contains("skopeo copy docker://docker.io/cloudflare/cloudflared:0.0.0"),
            "{error}"
        );
        assert!(world()
            .volume("pve1", "local:vztmpl/cloudflared_0.0.0.tar")
            .is_none());
    });
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn a_node_before_9_1_is_refused_at_plan_time_where_the_code_asks_for_oci() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        nodes: vec![lab_proxmox::sim::SimNode::new("pve1").version("9.0.10")],
        ..sim_config()
    };
    let conn = connect(dir.path(), config);
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local = lab.add(Storage::existing("local").content(&[Content::Vztmpl]).node(&pve1));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Rootdir]).node(&pve1));
    let pull = line!() + 1;
    lab.add(File::oci_image("cloudflared", &pve1, &local, REFERENCE));
    let system = lab.add(File::download("debian", &pve1, &local, Content::Vztmpl, "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst"));
    let entrypoint = line!() + 1;
    lab.add(Container::new("app", &pve1).ostemplate(&system).rootfs(&lvm, "2G").entrypoint("/usr/bin/app"));
    assert!(lab.check().iter().all(|d| !d.is_blocking()), "only the cluster can tell");
    let engine = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
    let err = runtime()
        .block_on(engine.plan(&PlanOptions::default()))
        .expect_err("the plan stops");
    let lab_core::EngineError::PlanCheck(diags) = err else {
        panic!("not a plan check: {err:?}");
    };
    let found: Vec<&Diagnostic> = diags.iter().filter(|d| d.code == checks::OCI_UNSUPPORTED).collect();
    assert_eq!(found.len(), 2, "{diags:#?}");
    for (d, line) in found.iter().zip([pull, entrypoint]) {
        assert_eq!(d.file_line(), Some((file!(), line)), "{d:#?}");
        assert!(d.message.contains("Proxmox VE 9.0.10"), "{}", d.message);
        assert!(d.help.as_deref().unwrap().contains("upgrade `pve1`"));
    }
    assert!(conn.simulator().unwrap().world().volumes.iter().all(|v| !v.volid.contains("cloudflared")));

    // What such a node answers when asked anyway.
    runtime().block_on(async {
        let api = sim_support::Api::new(conn.simulator().unwrap());
        let a = api
            .post("/nodes/pve1/storage/local/oci-registry-pull", &[("reference", REFERENCE)])
            .await;
        assert_eq!(a.status, 501, "{a:?}");
        assert_eq!(api.get("/nodes/pve1/version", &[]).await.data()["release"], "9.0");
        let a = api
            .post(
                "/nodes/pve1/lxc",
                &[("vmid", "150"), ("ostemplate", "local:vztmpl/x.tar.zst"), ("entrypoint", "/bin/app")],
            )
            .await;
        assert_eq!(a.status, 400, "{a:?}");
        assert!(a.body.contains("property is not defined in schema"), "{}", a.body);
    });
}

/// Whether a task of `wtype` runs in the simulator now.
fn running(conn: &Connection, wtype: &str) -> bool {
    conn.simulator()
        .unwrap()
        .world()
        .tasks
        .iter()
        .any(|t| t.wtype == wtype && t.endtime.is_none())
}

#[test]
fn a_pull_still_running_when_lab_died_is_waited_for_and_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        task_latency: lab_proxmox::sim::TaskLatency::instant()
            .with("ociregistrypull", std::time::Duration::from_millis(800)),
        ..sim_config()
    };
    let conn = connect(dir.path(), config);
    runtime().block_on(async {
        {
            let e = engine(&conn, dir.path(), &App::default());
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let options = opts();
            let apply = e.apply(&plan, &options);
            tokio::pin!(apply);
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                tokio::select! {
                    r = &mut apply => panic!("the apply finished before the pull ran: {r:?}"),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
                }
                if running(&conn, "ociregistrypull") {
                    break; // dropping `apply` is the crash; the node's task goes on
                }
                assert!(tokio::time::Instant::now() < deadline, "no pull ran");
            }
        }

        let e = engine(&conn, dir.path(), &App::default());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let file = lab_core::Address::new("proxmox.file", "cloudflared");
        assert!(
            plan.recovered
                .iter()
                .any(|r| r.address == file && r.outcome.contains("adopted")),
            "{:?}",
            plan.recovered
        );
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());
        let pulls = conn
            .simulator()
            .unwrap()
            .world()
            .tasks
            .iter()
            .filter(|t| t.wtype == "ociregistrypull")
            .count();
        assert_eq!(pulls, 1, "pulled once, not again");
    });
}
