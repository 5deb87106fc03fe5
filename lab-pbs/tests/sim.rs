//! The PBS simulator's backup model: snapshots written and read through
//! the contract's `/sim/backup`, listed by the real endpoints, pruned as
//! PBS prunes (a table of dates worked out by hand from
//! `pbs-datastore/src/prune.rs`), garbage-collected, verified, synced
//! within one server and between two, and kept across a restart.

use std::time::Duration;

use lab_core::{OpContext, Secret};
use lab_pbs::api::{Form, JobKind, KeepOptions, PbsClient};
use lab_pbs::sim::prune::{prune_marks, PruneMark};
use lab_pbs::sim::{PbsSim, PbsSimConfig};
use serde_json::{json, Value};

fn ctx() -> OpContext {
    OpContext::detached()
}

/// Unix seconds of a UTC date and time.
fn at(y: i32, m: u8, d: u8, h: u8, min: u8) -> i64 {
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
    date.with_hms(h, min, 0)
        .unwrap()
        .assume_utc()
        .unix_timestamp()
}

/// `/sim/backup` over HTTPS, pinned, as `token`.
struct Backups {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Backups {
    fn new(sim: &PbsSim, token_id: &str, secret: &str) -> Backups {
        let pin = lab_proxmox::api::tls::parse_fingerprint(sim.fingerprint());
        let tls = lab_proxmox::api::tls::client_config(pin).unwrap();
        Backups {
            http: reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .build()
                .unwrap(),
            base: sim.endpoint(),
            auth: lab_pbs::api::token_header(token_id, secret),
        }
    }

    fn root(sim: &PbsSim) -> Backups {
        Backups::new(sim, sim.token_id(), sim.token_secret().expose())
    }

    async fn write(&self, body: Value) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/sim/backup", self.base))
            .header("Authorization", &self.auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn read(&self, query: &[(&str, String)]) -> (u16, String) {
        let query = serde_urlencoded::to_string(query).unwrap();
        let r = self
            .http
            .get(format!("{}/sim/backup?{query}", self.base))
            .header("Authorization", &self.auth)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Writes `vm`/`ct` `id` at `time` with one disk of `size` bytes.
    async fn vm(&self, store: &str, ns: &str, ty: &str, id: &str, time: i64, size: u64) {
        let (status, text) = self.write(body(store, ns, ty, id, time, size)).await;
        assert_eq!(status, 200, "{text}");
    }
}

fn body(store: &str, ns: &str, ty: &str, id: &str, time: i64, size: u64) -> Value {
    let mut b = json!({
        "store": store,
        "backup-type": ty,
        "backup-id": id,
        "backup-time": time,
        "files": [
            {"filename": "qemu-server.conf.blob", "size": 0},
            {"filename": "drive-scsi0.img.fidx", "size": size},
        ],
        "guest-config": format!("name: guest{id}\nmemory: 2048\n"),
        "notes": format!("guest {id}\nsecond line"),
    });
    if !ns.is_empty() {
        b["ns"] = ns.into();
    }
    b
}

async fn start(config: PbsSimConfig) -> (PbsSim, PbsClient) {
    let sim = PbsSim::start(config).await.unwrap();
    let pbs = sim.client();
    (sim, pbs)
}

async fn datastore(pbs: &PbsClient, name: &str) {
    pbs.create_datastore(name, &format!("/mnt/{name}"), Form::new(), &ctx())
        .await
        .unwrap();
}

/// A user with a token, the user holding `user_role` and the token
/// `token_role` on `path`.
async fn token(
    pbs: &PbsClient,
    user: &str,
    name: &str,
    path: &str,
    user_role: &str,
    token_role: &str,
) -> Secret {
    if pbs.users().await.unwrap().iter().all(|u| u.userid != user) {
        pbs.create_user(user, None).await.unwrap();
    }
    let t = pbs.create_token(user, name, None).await.unwrap();
    pbs.put_acl(path, user_role, user, true, false)
        .await
        .unwrap();
    pbs.put_acl(path, token_role, &t.tokenid, true, false)
        .await
        .unwrap();
    t.value
}

#[tokio::test]
async fn backups_through_the_contract() {
    let (sim, pbs) = start(PbsSimConfig::fast()).await;
    datastore(&pbs, "daily").await;
    datastore(&pbs, "other").await;
    pbs.create_namespace("daily", None, "pve1").await.unwrap();
    let secret = token(
        &pbs,
        "pve@pbs",
        "backup",
        "/datastore/daily",
        "DatastoreAdmin",
        "DatastoreBackup",
    )
    .await;
    let pve = Backups::new(&sim, "pve@pbs!backup", secret.expose());
    let t1 = at(2026, 12, 3, 1, 0);
    let (status, text) = pve
        .write(body("daily", "pve1", "vm", "101", t1, 1 << 30))
        .await;
    assert_eq!((status, text.as_str()), (200, r#"{"data":null}"#));

    let snaps = pbs.snapshots("daily", Some("pve1")).await.unwrap();
    assert_eq!(snaps.len(), 1);
    let s = &snaps[0];
    assert_eq!(
        (s.backup_type.as_str(), s.backup_id.as_str(), s.backup_time),
        ("vm", "101", t1)
    );
    assert_eq!(s.owner.as_deref(), Some("pve@pbs!backup"));
    assert_eq!(s.size, Some(1 << 30));
    assert_eq!(s.files.len(), 2);
    assert_eq!(s.files[1].size, Some(1 << 30));
    assert_eq!(s.comment.as_deref(), Some("guest 101"));
    assert!(!s.protected && s.verification.is_none());
    // The root namespace holds nothing.
    assert!(pbs.snapshots("daily", None).await.unwrap().is_empty());

    // Read back (the restore path).
    let q = |t: i64| {
        vec![
            ("store", "daily".to_string()),
            ("ns", "pve1".to_string()),
            ("backup-type", "vm".to_string()),
            ("backup-id", "101".to_string()),
            ("backup-time", t.to_string()),
        ]
    };
    let (status, text) = pve.read(&q(t1)).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["guest-config"], "name: guest101\nmemory: 2048\n");
    assert_eq!(v["data"]["size"], 1u64 << 30);
    let (status, text) = pve.read(&q(t1 + 1)).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "snapshot vm/101/2026-12-03T01:00:01Z does not exist!")
    );

    // The contract's refusals, with PBS's statuses and texts.
    let (status, text) = pve
        .write(body("daily", "pve1", "vm", "101", t1 - 60, 1))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (400, "backup timestamp is older than last backup.")
    );
    let (status, text) = pve.write(body("other", "", "vm", "101", t1, 1)).await;
    assert_eq!((status, text.as_str()), (403, "permission check failed"));
    let (status, text) = pve.write(body("daily", "nope", "vm", "101", t1, 1)).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "namespace 'nope' does not exist")
    );
    let root = Backups::root(&sim);
    let (status, text) = root.write(body("gone", "", "vm", "101", t1, 1)).await;
    assert_eq!((status, text.as_str()), (400, "no such datastore 'gone'"));
    // Another token may not add to pve's group.
    let other = token(
        &pbs,
        "pve@pbs",
        "second",
        "/datastore/daily",
        "DatastoreAdmin",
        "DatastoreBackup",
    )
    .await;
    let second = Backups::new(&sim, "pve@pbs!second", other.expose());
    let (status, text) = second
        .write(body("daily", "pve1", "vm", "101", t1 + 60, 1))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (
            400,
            "backup owner check failed (pve@pbs!second != pve@pbs!backup)"
        )
    );
    // Nor read it (no Datastore.Read, not the owner).
    let (status, _) = second.read(&q(t1)).await;
    assert_eq!(status, 403);
    // It sees only its own groups.
    second.vm("daily", "pve1", "ct", "200", t1, 10).await;
    let as_second = PbsClient::new(sim.client_config_for("pve@pbs!second", other.clone())).unwrap();
    let mine = as_second.snapshots("daily", Some("pve1")).await.unwrap();
    assert_eq!(
        mine.iter()
            .map(|s| s.backup_id.as_str())
            .collect::<Vec<_>>(),
        ["200"]
    );
    assert_eq!(pbs.groups("daily", Some("pve1")).await.unwrap().len(), 2);
    // A bad token: 401.
    let bad = Backups::new(&sim, "pve@pbs!backup", "wrong");
    let (status, text) = bad
        .write(body("daily", "pve1", "vm", "101", t1 + 120, 1))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (401, "authentication failed - invalid credentials")
    );
}

#[test]
fn prune_keeps_what_pbs_keeps() {
    // Daily backups at 01:00 on January 1..20 2026, two more on the 20th;
    // January 2 protected. keep-last 2, keep-daily 3, keep-weekly 2.
    let mut snaps: Vec<(i64, bool)> = (1..=20).map(|d| (at(2026, 1, d, 1, 0), d == 2)).collect();
    snaps.push((at(2026, 1, 20, 13, 0), false));
    snaps.push((at(2026, 1, 20, 18, 0), false));
    let keep = KeepOptions {
        keep_last: Some(2),
        keep_daily: Some(3),
        keep_weekly: Some(2),
        ..Default::default()
    };
    let marks = prune_marks(&snaps, &keep);
    let kept: Vec<i64> = marks
        .iter()
        .filter(|(_, m)| m.keep())
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        kept,
        [
            at(2026, 1, 20, 18, 0), // keep-last
            at(2026, 1, 20, 13, 0), // keep-last
            // Jan 20 01:00: its day was kept by keep-last; nothing keeps it.
            at(2026, 1, 19, 1, 0), // keep-daily
            at(2026, 1, 18, 1, 0), // keep-daily
            at(2026, 1, 17, 1, 0), // keep-daily
            // ISO weeks 4 and 3 are kept already; week 2's newest, week 1's.
            at(2026, 1, 11, 1, 0), // keep-weekly
            at(2026, 1, 4, 1, 0),  // keep-weekly
            at(2026, 1, 2, 1, 0),  // protected
        ]
    );
    assert!(marks
        .iter()
        .any(|(t, m)| *t == at(2026, 1, 2, 1, 0) && *m == PruneMark::Protected));

    // keep-hourly: the newest of each of the last two hours.
    let hours: Vec<(i64, bool)> = [(10, 5), (10, 40), (11, 10), (11, 50), (12, 30)]
        .iter()
        .map(|(h, m)| (at(2026, 3, 1, *h, *m), false))
        .collect();
    let hourly = KeepOptions {
        keep_hourly: Some(2),
        ..Default::default()
    };
    let kept: Vec<i64> = prune_marks(&hours, &hourly)
        .into_iter()
        .filter(|(_, m)| m.keep())
        .map(|(t, _)| t)
        .collect();
    assert_eq!(kept, [at(2026, 3, 1, 12, 30), at(2026, 3, 1, 11, 50)]);

    // keep-monthly then keep-yearly: a year the months kept is not kept twice.
    let spread: Vec<(i64, bool)> = [
        (2024, 6, 1),
        (2024, 12, 15),
        (2025, 3, 1),
        (2025, 11, 30),
        (2025, 12, 31),
        (2026, 1, 10),
    ]
    .iter()
    .map(|(y, m, d)| (at(*y, *m, *d, 0, 0), false))
    .collect();
    let long = KeepOptions {
        keep_monthly: Some(2),
        keep_yearly: Some(2),
        ..Default::default()
    };
    let kept: Vec<i64> = prune_marks(&spread, &long)
        .into_iter()
        .filter(|(_, m)| m.keep())
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        kept,
        [
            at(2026, 1, 10, 0, 0),
            at(2025, 12, 31, 0, 0),
            at(2024, 12, 15, 0, 0)
        ]
    );

    // No option: PBS keeps everything.
    assert!(prune_marks(&spread, &KeepOptions::default())
        .iter()
        .all(|(_, m)| m.keep()));
}

#[tokio::test]
async fn a_prune_job_removes_what_the_table_removes_and_gc_frees_it() {
    let (sim, pbs) = start(PbsSimConfig::fast().with_gc_grace(Duration::ZERO)).await;
    datastore(&pbs, "daily").await;
    let root = Backups::root(&sim);
    let days: Vec<i64> = (1..=10).map(|d| at(2026, 2, d, 1, 0)).collect();
    for t in &days {
        root.vm("daily", "", "vm", "101", *t, 100).await;
    }
    pbs.set_protected("daily", None, "vm", "101", days[0], true)
        .await
        .unwrap();
    let before = pbs.datastore_status("daily").await.unwrap();
    assert_eq!(before.used, 1000);
    pbs.create_job(
        JobKind::Prune,
        "keep3",
        Form::new()
            .str("store", "daily")
            .str("schedule", "daily")
            .int("keep-last", 3),
    )
    .await
    .unwrap();
    let run = pbs.run_job(JobKind::Prune, "keep3", &ctx()).await.unwrap();
    let left: Vec<i64> = pbs
        .snapshots("daily", None)
        .await
        .unwrap()
        .iter()
        .map(|s| s.backup_time)
        .collect();
    assert_eq!(left, [days[0], days[7], days[8], days[9]]);
    let log = pbs.task_log(&run.upid.unwrap()).await.unwrap();
    assert!(
        log.contains(&"remove vm/101/2026-02-02T01:00:00Z".to_string()),
        "{log:?}"
    );
    // Removed snapshots still use disk until GC.
    assert_eq!(pbs.datastore_status("daily").await.unwrap().used, 1000);
    pbs.run_gc("daily", &ctx()).await.unwrap();
    let gc = pbs.gc_status("daily").await.unwrap();
    assert_eq!(
        (gc.removed_bytes, gc.pending_bytes, gc.disk_bytes),
        (600, 0, 400)
    );
    assert_eq!(pbs.datastore_status("daily").await.unwrap().used, 400);

    // With PBS's grace period, freshly removed chunks are only pending.
    let (sim2, pbs2) = start(PbsSimConfig::fast()).await;
    datastore(&pbs2, "daily").await;
    let root2 = Backups::root(&sim2);
    root2.vm("daily", "", "ct", "200", days[0], 300).await;
    root2.vm("daily", "", "ct", "200", days[1], 50).await;
    pbs2.forget_snapshot("daily", None, "ct", "200", days[0])
        .await
        .unwrap();
    pbs2.run_gc("daily", &ctx()).await.unwrap();
    let gc = pbs2.gc_status("daily").await.unwrap();
    assert_eq!((gc.removed_bytes, gc.pending_bytes), (0, 300));
    // Forgetting a protected snapshot is refused.
    pbs2.set_protected("daily", None, "ct", "200", days[1], true)
        .await
        .unwrap();
    let e = pbs2
        .forget_snapshot("daily", None, "ct", "200", days[1])
        .await
        .unwrap_err();
    assert_eq!(e.message, "cannot remove protected snapshot");
    drop(sim);
}

#[tokio::test]
async fn verify_marks_snapshots_ok() {
    let (sim, pbs) = start(PbsSimConfig::fast()).await;
    datastore(&pbs, "daily").await;
    let root = Backups::root(&sim);
    root.vm("daily", "", "vm", "101", at(2026, 4, 1, 1, 0), 10)
        .await;
    root.vm("daily", "", "vm", "102", at(2026, 4, 1, 1, 0), 10)
        .await;
    pbs.create_job(
        JobKind::Verify,
        "verify-all",
        Form::new().str("store", "daily"),
    )
    .await
    .unwrap();
    let upid = pbs
        .run_job(JobKind::Verify, "verify-all", &ctx())
        .await
        .unwrap()
        .upid
        .unwrap();
    for s in pbs.snapshots("daily", None).await.unwrap() {
        let v = s.verification.expect("verified");
        assert_eq!((v.state.as_str(), v.upid.as_str()), ("ok", upid.as_str()));
    }
    let (_, text) = root
        .read(&[
            ("store", "daily".into()),
            ("backup-type", "vm".into()),
            ("backup-id", "101".into()),
            ("backup-time", at(2026, 4, 1, 1, 0).to_string()),
        ])
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["verification"]["state"], "ok");
    // ignore-verified (the default): a second run checks nothing.
    let again = pbs
        .run_job(JobKind::Verify, "verify-all", &ctx())
        .await
        .unwrap()
        .upid
        .unwrap();
    let log = pbs.task_log(&again).await.unwrap();
    assert!(!log.iter().any(|l| l.contains("verify daily:")), "{log:?}");
    assert_eq!(
        pbs.snapshots("daily", None).await.unwrap()[0]
            .verification
            .as_ref()
            .unwrap()
            .upid,
        upid
    );
}

#[tokio::test]
async fn local_sync_maps_namespaces_and_honours_its_options() {
    let (sim, pbs) = start(PbsSimConfig::fast()).await;
    datastore(&pbs, "daily").await;
    datastore(&pbs, "archive").await;
    pbs.create_namespace("daily", None, "pve1").await.unwrap();
    pbs.create_namespace("daily", Some("pve1"), "deep")
        .await
        .unwrap();
    let root = Backups::root(&sim);
    let t: Vec<i64> = (1..=4).map(|d| at(2026, 5, d, 1, 0)).collect();
    for x in &t[..3] {
        root.vm("daily", "pve1", "vm", "101", *x, 10).await;
    }
    root.vm("daily", "pve1", "ct", "200", t[0], 10).await;
    root.vm("daily", "pve1/deep", "vm", "300", t[0], 10).await;
    root.vm("daily", "", "vm", "999", t[0], 10).await;
    pbs.create_job(
        JobKind::Sync,
        "archive",
        Form::new()
            .str("store", "archive")
            .str("ns", "copy")
            .str("remote-store", "daily")
            .str("remote-ns", "pve1")
            .int("max-depth", 0)
            .int("transfer-last", 2),
    )
    .await
    .unwrap();
    pbs.run_job(JobKind::Sync, "archive", &ctx()).await.unwrap();
    let copied = |snaps: Vec<lab_pbs::api::SnapshotInfo>| {
        snaps
            .into_iter()
            .map(|s| (s.backup_id, s.backup_time))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        copied(pbs.snapshots("archive", Some("copy")).await.unwrap()),
        [
            ("101".into(), t[1]),
            ("101".into(), t[2]),
            ("200".into(), t[0])
        ]
    );
    let namespaces: Vec<String> = pbs
        .namespaces("archive", None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.ns)
        .collect();
    assert_eq!(namespaces, ["", "copy"]);
    let groups = pbs.groups("archive", Some("copy")).await.unwrap();
    assert!(groups
        .iter()
        .all(|g| g.owner.as_deref() == Some("root@pam")));

    // The source moves on: t[1] forgotten, t[3] new; deeper levels too,
    // and vanished snapshots go.
    pbs.forget_snapshot("daily", Some("pve1"), "vm", "101", t[1])
        .await
        .unwrap();
    root.vm("daily", "pve1", "vm", "101", t[3], 10).await;
    pbs.update_job(
        JobKind::Sync,
        "archive",
        Form::new().bool("remove-vanished", true),
        &["max-depth"],
    )
    .await
    .unwrap();
    pbs.run_job(JobKind::Sync, "archive", &ctx()).await.unwrap();
    assert_eq!(
        copied(pbs.snapshots("archive", Some("copy")).await.unwrap()),
        [
            ("101".into(), t[2]),
            ("101".into(), t[3]),
            ("200".into(), t[0])
        ]
    );
    assert_eq!(
        copied(pbs.snapshots("archive", Some("copy/deep")).await.unwrap()),
        [("300".into(), t[0])]
    );
    // Guest config and notes travel with the snapshot.
    let (_, text) = root
        .read(&[
            ("store", "archive".into()),
            ("ns", "copy/deep".into()),
            ("backup-type", "vm".into()),
            ("backup-id", "300".into()),
            ("backup-time", t[0].to_string()),
        ])
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["guest-config"], "name: guest300\nmemory: 2048\n");
    assert_eq!(v["data"]["notes"], "guest 300\nsecond line");
    // A group filter.
    pbs.create_job(
        JobKind::Sync,
        "cts",
        Form::new()
            .str("store", "archive")
            .str("remote-store", "daily")
            .str("remote-ns", "pve1")
            .int("max-depth", 0)
            .str("group-filter", "type:ct"),
    )
    .await
    .unwrap();
    pbs.run_job(JobKind::Sync, "cts", &ctx()).await.unwrap();
    assert_eq!(
        copied(pbs.snapshots("archive", None).await.unwrap()),
        [("200".into(), t[0])]
    );
}

#[tokio::test]
async fn remote_sync_pulls_from_another_simulator() {
    let (source, src_api) = start(PbsSimConfig::fast().with_node("pbs-main")).await;
    let (target, dst_api) = start(PbsSimConfig::fast().with_node("pbs-offsite")).await;
    datastore(&src_api, "main").await;
    src_api
        .create_namespace("main", None, "pve1")
        .await
        .unwrap();
    let root = Backups::root(&source);
    let t1 = at(2026, 6, 1, 1, 0);
    root.vm("main", "pve1", "vm", "101", t1, 4096).await;
    root.vm("main", "pve1", "vm", "101", t1 + 86_400, 4096)
        .await;
    let pull = token(
        &src_api,
        "sync@pbs",
        "pull",
        "/datastore/main",
        "DatastoreReader",
        "DatastoreReader",
    )
    .await;

    datastore(&dst_api, "offsite").await;
    dst_api
        .create_remote(
            "main",
            "127.0.0.1",
            "sync@pbs!pull",
            &pull,
            Form::new()
                .int("port", i64::from(source.addr().port()))
                .str("fingerprint", source.fingerprint()),
        )
        .await
        .unwrap();
    dst_api
        .create_job(
            JobKind::Sync,
            "offsite",
            Form::new()
                .str("store", "offsite")
                .str("remote", "main")
                .str("remote-store", "main")
                .str("remote-ns", "pve1"),
        )
        .await
        .unwrap();
    let run = dst_api
        .run_job(JobKind::Sync, "offsite", &ctx())
        .await
        .unwrap();
    assert!(run.upid.unwrap().starts_with("UPID:pbs-offsite:"));
    let copied = dst_api.snapshots("offsite", None).await.unwrap();
    assert_eq!(
        copied.iter().map(|s| s.backup_time).collect::<Vec<_>>(),
        [t1, t1 + 86_400]
    );
    assert_eq!(copied[0].size, Some(4096));
    let (_, text) = Backups::root(&target)
        .read(&[
            ("store", "offsite".into()),
            ("backup-type", "vm".into()),
            ("backup-id", "101".into()),
            ("backup-time", t1.to_string()),
        ])
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["guest-config"], "name: guest101\nmemory: 2048\n");
    // The source saw the pull through its real API and /sim/backup, with
    // the remote's token.
    assert!(source
        .requests()
        .iter()
        .any(|r| r.path == "/admin/datastore/main/snapshots" && r.param("ns") == Some("pve1")));
    assert!(source.requests().iter().any(|r| r.path == "/sim/backup"));
    assert!(
        source.schema_violations().is_empty(),
        "{:?}",
        source.schema_violations()
    );

    // A wrong fingerprint: the job fails, naming the certificate.
    dst_api
        .update_remote(
            "main",
            Form::new().str("fingerprint", "AB:".repeat(31) + "AB"),
            &[],
        )
        .await
        .unwrap();
    let e = dst_api
        .run_job(JobKind::Sync, "offsite", &ctx())
        .await
        .unwrap_err();
    assert!(
        e.message.contains("does not match the pinned fingerprint"),
        "{e}"
    );

    // A non-loopback host is never dialled.
    let before = source.request_count();
    dst_api
        .update_remote("main", Form::new().str("host", "192.0.2.10"), &[])
        .await
        .unwrap();
    let e = dst_api
        .run_job(JobKind::Sync, "offsite", &ctx())
        .await
        .unwrap_err();
    assert!(e.message.contains("error trying to connect"), "{e}");
    assert!(e.message.contains("192.0.2.10 was not dialled"), "{e}");
    assert_eq!(source.request_count(), before);

    // Without read access on the source, the pull fails as PBS's does.
    dst_api
        .update_remote(
            "main",
            Form::new()
                .str("host", "127.0.0.1")
                .str("fingerprint", source.fingerprint()),
            &[],
        )
        .await
        .unwrap();
    src_api
        .put_acl(
            "/datastore/main",
            "DatastoreReader",
            "sync@pbs!pull",
            true,
            true,
        )
        .await
        .unwrap();
    let e = dst_api
        .run_job(JobKind::Sync, "offsite", &ctx())
        .await
        .unwrap_err();
    assert!(e.message.contains("permission check failed"), "{e}");
}

#[tokio::test]
async fn the_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pbs.json");
    let (sim, pbs) = start(PbsSimConfig::fast().with_state_file(&file)).await;
    datastore(&pbs, "daily").await;
    let secret = token(
        &pbs,
        "pve@pbs",
        "backup",
        "/datastore/daily",
        "DatastoreAdmin",
        "DatastoreBackup",
    )
    .await;
    Backups::root(&sim)
        .vm("daily", "", "vm", "101", at(2026, 7, 1, 1, 0), 7)
        .await;
    let fingerprint = sim.fingerprint().to_string();
    let root_secret = sim.token_secret().expose().to_string();
    // A task still running when the server stops.
    sim.faults().extra_latency(Duration::ZERO);
    let running = pbs
        .transport()
        .post("/admin/datastore/daily/gc", &Form::new())
        .await
        .unwrap();
    drop(sim);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [file.clone(), dir.path().join("pbs.json.tls.json")] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }
    let state = std::fs::read_to_string(&file).unwrap();
    assert!(state.contains("daily"));

    let (sim, pbs) = start(PbsSimConfig::fast().with_state_file(&file)).await;
    assert_eq!(sim.fingerprint(), fingerprint);
    assert_eq!(sim.token_secret().expose(), root_secret);
    assert_eq!(pbs.snapshots("daily", None).await.unwrap().len(), 1);
    let as_pve = PbsClient::new(sim.client_config_for("pve@pbs!backup", secret)).unwrap();
    assert_eq!(as_pve.admin_datastores().await.unwrap().len(), 1);
    let upid = running.as_str().unwrap();
    let st = pbs.task_status(upid).await.unwrap();
    // The GC either finished before the stop or reads as interrupted.
    assert_eq!(st.status, "stopped");
    assert!(
        matches!(st.exitstatus.as_deref(), Some("OK" | "unexpected status")),
        "{st:?}"
    );
}

#[test]
fn a_background_simulator_serves_callers_of_other_runtimes() {
    let sim = PbsSim::start_background(PbsSimConfig::fast()).unwrap();
    for _ in 0..2 {
        // Each runtime ends after its call; the simulator keeps serving.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let v = rt.block_on(sim.client().version()).unwrap();
        assert_eq!(v.release, "4.0");
    }
    let endpoint = sim.endpoint();
    drop(sim);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gone = PbsClient::new(
        lab_pbs::api::ClientConfig::new(endpoint, "root@pam!lab", Secret::new("x"))
            .with_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    // Stopped: nothing answers (give the thread a moment to close).
    std::thread::sleep(Duration::from_millis(200));
    assert!(rt.block_on(gone.version()).is_err());
}

#[tokio::test]
async fn an_interrupted_task_reads_unexpected_status() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pbs.json");
    let slow = PbsSimConfig::fast()
        .with_state_file(&file)
        .with_task_latency(Duration::from_secs(30));
    let (sim, pbs) = start(slow).await;
    let upid = pbs
        .transport()
        .post(
            "/config/datastore",
            &Form::new().str("name", "daily").str("path", "/mnt/daily"),
        )
        .await
        .unwrap();
    let upid = upid.as_str().unwrap().to_string();
    assert_eq!(pbs.task_status(&upid).await.unwrap().status, "running");
    drop(sim);
    let (_sim, pbs) = start(PbsSimConfig::fast().with_state_file(&file)).await;
    let st = pbs.task_status(&upid).await.unwrap();
    assert_eq!(
        (st.status.as_str(), st.exitstatus.as_deref()),
        ("stopped", Some("unexpected status"))
    );
    let e = pbs.wait_task(&upid, &ctx()).await.unwrap_err();
    assert!(e.message.contains("unexpected status"), "{e}");
    // The worker never ran: no datastore.
    assert!(pbs.datastores().await.unwrap().is_empty());
}
