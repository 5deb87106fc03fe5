//! The provider against pve-sim and a fake PBS: a `pbs` storage that PVE
//! activates by contacting the PBS (a wrong token, fingerprint or
//! datastore refused at apply with PBSPlugin's words), backup jobs
//! created, read back, updated in place and deleted, and apply-then-plan
//! with no changes (the token secret, never returned, is no drift).

mod common;
mod pbs_support;

use std::path::Path;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{Action, FileStateStore};
use lab_proxmox::model::*;
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};
use pbs_support::FakePbs;

const TOKEN: &str = "backup@pbs!pve";
const SECRET: &str = "6f1b0c3e-token-secret";

struct Shape {
    token_secret: &'static str,
    datastore: &'static str,
    fingerprint: Option<String>,
    schedule: &'static str,
    retention: Retention,
    with_job: bool,
}

fn lab(conn: &Connection, pbs: &FakePbs, shape: &Shape) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1"));
    let fingerprint = shape.fingerprint.clone().unwrap_or(pbs.fingerprint.clone());
    let store = lab.add(
        Storage::pbs("pbs-daily", "127.0.0.1", shape.datastore)
            .port(pbs.port)
            .token(TOKEN, Secret::new(shape.token_secret))
            .fingerprint(fingerprint)
            .prune_backups(Retention::new().keep_last(2)),
    );
    if shape.with_job {
        lab.add(
            BackupJob::new("nightly", &store, shape.schedule)
                .vmid(101)
                .vmid(102)
                .node(&pve1)
                .retention(shape.retention.clone())
                .comment("to the daily store"),
        );
    }
    lab
}

fn good(pbs: &FakePbs) -> Shape {
    let _ = pbs;
    Shape {
        token_secret: SECRET,
        datastore: "daily",
        fingerprint: None,
        schedule: "*-*-* 02:30",
        retention: Retention::new().keep_daily(7),
        with_job: true,
    }
}

fn engine(conn: &Connection, pbs: &FakePbs, dir: &Path, shape: &Shape) -> Engine {
    Engine::new(lab(conn, pbs, shape), FileStateStore::new(dir.join(".lab")))
}

async fn fake_pbs() -> FakePbs {
    let pbs = FakePbs::start().await;
    pbs.token(TOKEN, SECRET).datastore("daily", &[TOKEN]);
    pbs
}

#[test]
fn a_pbs_storage_and_a_backup_job_apply_then_plan_nothing() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        let pbs = fake_pbs().await;
        let e = engine(&conn, &pbs, dir.path(), &good(&pbs));
        let plan = e.plan(&PlanOptions::default()).await.expect("plan");
        let job_step = plan
            .steps
            .iter()
            .find(|s| s.address.to_string() == "proxmox.backup_job.nightly")
            .unwrap();
        assert!(
            job_step
                .notes
                .iter()
                .any(|n| n.contains("next runs") && n.matches("02:30 UTC").count() == 3),
            "{:?}",
            job_step.notes
        );
        let report = e.apply(&plan, &opts()).await.expect("apply");
        assert!(report.is_success(), "{:?}", report.failed);
        // PVE contacted the PBS once to activate the storage.
        assert!(pbs
            .requests()
            .iter()
            .any(|(m, p)| m == "GET" && p == "/api2/json/admin/datastore"));

        let world = conn.simulator().unwrap().world();
        let st = &world.storages["pbs-daily"];
        assert_eq!(st.kind, "pbs");
        assert_eq!(st.options["username"], TOKEN);
        assert_eq!(st.options["prune-backups"], "keep-last=2");
        let job = world
            .backup_jobs
            .iter()
            .find(|j| j.id == "nightly")
            .unwrap();
        assert_eq!(job.options["vmid"], "101,102");
        assert_eq!(job.options["schedule"], "*-*-* 02:30");
        assert_eq!(job.options["storage"], "pbs-daily");
        assert_eq!(job.options["prune-backups"], "keep-daily=7");
        assert_eq!(
            job.options["comment"],
            "to the daily store lab:home/proxmox.backup_job.nightly"
        );

        let again = engine(&conn, &pbs, dir.path(), &good(&pbs))
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
    });
}

#[test]
fn a_job_updates_in_place_and_is_deleted() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        let pbs = fake_pbs().await;
        let e = engine(&conn, &pbs, dir.path(), &good(&pbs));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());

        let changed = Shape {
            schedule: "sun 01:00",
            retention: Retention::new().keep_weekly(4),
            ..good(&pbs)
        };
        let e = engine(&conn, &pbs, dir.path(), &changed);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let step = plan
            .steps
            .iter()
            .find(|s| s.address.to_string() == "proxmox.backup_job.nightly")
            .unwrap();
        assert_eq!(step.action, Action::Update, "{step:#?}");
        assert!(step.notes.iter().any(|n| n.contains("sun 01:00")));
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        let world = conn.simulator().unwrap().world();
        let job = world
            .backup_jobs
            .iter()
            .find(|j| j.id == "nightly")
            .unwrap();
        assert_eq!(job.options["schedule"], "sun 01:00");
        assert_eq!(job.options["prune-backups"], "keep-weekly=4");
        assert!(job.options["comment"].ends_with("lab:home/proxmox.backup_job.nightly"));
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);

        let without = Shape {
            with_job: false,
            ..changed
        };
        let e = engine(&conn, &pbs, dir.path(), &without);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        assert!(conn.simulator().unwrap().world().backup_jobs.is_empty());
    });
}

/// Applies `shape` on a fresh cluster and returns the storage's error.
async fn refused(pbs: &FakePbs, shape: Shape) -> String {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    let e = engine(&conn, pbs, dir.path(), &shape);
    let plan = e.plan(&PlanOptions::default()).await.unwrap();
    let report = e.apply(&plan, &opts()).await.unwrap();
    assert!(!report.is_success());
    // Nothing was left behind, and the job depending on it was skipped.
    let world = conn.simulator().unwrap().world();
    assert!(!world.storages.contains_key("pbs-daily"));
    assert!(world.backup_jobs.is_empty());
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    report.failed[0].error.clone()
}

#[test]
fn a_wrong_token_fingerprint_or_datastore_is_refused_as_pve_words_it() {
    let rt = runtime();
    rt.block_on(async {
        let pbs = fake_pbs().await;
        let e = refused(
            &pbs,
            Shape {
                token_secret: "wrong",
                ..good(&pbs)
            },
        )
        .await;
        assert!(
            e.contains(
                "create storage failed: pbs-daily: error fetching datastores - 401 Unauthorized"
            ),
            "{e}"
        );
        let other = "AA:".repeat(31) + "AA";
        let e = refused(
            &pbs,
            Shape {
                fingerprint: Some(other),
                ..good(&pbs)
            },
        )
        .await;
        assert!(
            e.contains(&format!(
                "error fetching datastores - fingerprint '{}' not verified, abort!",
                pbs.fingerprint
            )),
            "{e}"
        );
        let e = refused(
            &pbs,
            Shape {
                datastore: "weekly",
                ..good(&pbs)
            },
        )
        .await;
        assert!(
            e.contains(
                "pbs-daily: Cannot find datastore 'weekly', check permissions and existence!"
            ),
            "{e}"
        );
    });
}

#[test]
fn a_new_token_secret_is_an_update_that_sends_it_and_shows_no_value() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        let pbs = fake_pbs().await;
        let e = engine(&conn, &pbs, dir.path(), &good(&pbs));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());

        // The token was regenerated on the PBS; the code says the new secret.
        pbs.token(TOKEN, "regenerated");
        let rotated = Shape {
            token_secret: "regenerated",
            ..good(&pbs)
        };
        let e = engine(&conn, &pbs, dir.path(), &rotated);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let changed: Vec<(String, Action, Vec<String>)> = plan
            .steps
            .iter()
            .map(|s| {
                (
                    s.address.to_string(),
                    s.action,
                    s.changes.iter().map(|c| c.field.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            changed,
            [(
                "proxmox.storage.pbs-daily".to_string(),
                Action::Update,
                vec!["password".to_string()]
            )]
        );
        let json = plan
            .to_json(&mut |_| serde_json::json!("(sensitive value)"))
            .to_string();
        let text = lab_core::plan::render::render(&plan, false);
        for shown in [json, text] {
            assert!(
                !shown.contains("regenerated") && !shown.contains(SECRET),
                "{shown}"
            );
        }
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        let world = conn.simulator().unwrap().world();
        assert_eq!(
            world.storages["pbs-daily"].options["password"],
            "regenerated"
        );
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());
    });
}

/// A client of the simulator, for what a person (or a crashed run) did.
fn by_hand(conn: &Connection) -> lab_proxmox::api::Client {
    let sim = conn.simulator().unwrap();
    let config = lab_proxmox::api::ClientConfig::new(
        sim.url(),
        sim.token_id(),
        Secret::new(sim.token_secret().to_string()),
    )
    .with_fingerprint(sim.fingerprint());
    lab_proxmox::api::Client::new(config).unwrap()
}

async fn job_by_hand(conn: &Connection, comment: &str) {
    let mut form = lab_proxmox::api::Form::new();
    for (k, v) in [
        ("id", "nightly"),
        ("schedule", "*-*-* 02:30"),
        ("storage", "pbs-daily"),
        ("vmid", "101,102"),
        ("comment", comment),
    ] {
        form.push_str(k, v);
    }
    by_hand(conn).post("/cluster/backup", &form).await.unwrap();
}

#[test]
fn a_job_with_the_labs_marker_is_adopted_and_one_without_is_not() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        let pbs = fake_pbs().await;
        let without_job = Shape {
            with_job: false,
            ..good(&pbs)
        };
        let e = engine(&conn, &pbs, dir.path(), &without_job);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());

        // A run that created the job died before it was recorded.
        job_by_hand(
            &conn,
            "to the daily store lab:home/proxmox.backup_job.nightly",
        )
        .await;
        let e = engine(&conn, &pbs, dir.path(), &good(&pbs));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.recovered.len(), 1, "{:#?}", plan.recovered);
        assert!(
            plan.steps
                .iter()
                .all(|s| s.address.to_string() != "proxmox.backup_job.nightly"
                    || s.action == Action::Update),
            "{:#?}",
            plan.steps
        );
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());
    });

    // A job of that id made by hand is not the lab's: the create is
    // refused with PVE's words and the job is left alone.
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        let pbs = fake_pbs().await;
        let without_job = Shape {
            with_job: false,
            ..good(&pbs)
        };
        let e = engine(&conn, &pbs, dir.path(), &without_job);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        job_by_hand(&conn, "made by hand").await;
        let e = engine(&conn, &pbs, dir.path(), &good(&pbs));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(plan.recovered.is_empty());
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert_eq!(report.failed.len(), 1);
        assert!(
            report.failed[0]
                .error
                .contains("Job 'nightly' already exists"),
            "{}",
            report.failed[0].error
        );
        let world = conn.simulator().unwrap().world();
        assert_eq!(world.backup_jobs[0].options["comment"], "made by hand");
    });
}
