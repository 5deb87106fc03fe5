//! The PBS client against the PBS simulator: every typed call, errors
//! classified as the provider needs them, fingerprint pinning, and the
//! token secret kept out of `Debug` and error texts. Every request the
//! client sends must pass the embedded PBS schema (the simulator records
//! the ones that do not).

use lab_core::{OpContext, Secret};
use lab_pbs::api::{
    ClientConfig, DatastoreConfig, ErrorKind, Form, JobKind, PbsClient, PruneJobConfig,
    SyncJobConfig, VerifyJobConfig,
};
use lab_pbs::sim::{PbsSim, PbsSimConfig};

fn ctx() -> OpContext {
    OpContext::detached()
}

async fn sim() -> PbsSim {
    PbsSim::start(PbsSimConfig::fast().with_datastore_size("daily", 2 << 40))
        .await
        .unwrap()
}

#[tokio::test]
async fn version_and_certificate_fingerprint() {
    let sim = sim().await;
    let pbs = sim.client();
    let v = pbs.version().await.unwrap();
    assert_eq!(v.release, "4.0");
    let certs = pbs.certificates("localhost").await.unwrap();
    assert_eq!(certs[0].fingerprint.as_deref(), Some(sim.fingerprint()));
    assert!(
        sim.schema_violations().is_empty(),
        "{:?}",
        sim.schema_violations()
    );
}

#[tokio::test]
async fn datastores_config_runtime_and_errors() {
    let sim = sim().await;
    let pbs = sim.client();
    let done = pbs
        .create_datastore(
            "daily",
            "/mnt/datastore/daily",
            Form::new()
                .str("comment", "the daily copy")
                .str("gc-schedule", "daily"),
            &ctx(),
        )
        .await
        .unwrap();
    let upid = done.upid.expect("POST /config/datastore answers a UPID");
    assert!(upid.contains(":create-datastore:daily:"), "{upid}");
    assert_eq!(
        pbs.task_log(&upid)
            .await
            .unwrap()
            .last()
            .map(String::as_str),
        Some("TASK OK")
    );

    let ds: DatastoreConfig = pbs.datastore("daily").await.unwrap();
    assert_eq!(ds.path, "/mnt/datastore/daily");
    assert_eq!(ds.gc_schedule.as_deref(), Some("daily"));
    assert!(ds.digest.is_some());
    assert_eq!(pbs.datastores().await.unwrap().len(), 1);

    // Duplicate: a parameter error naming the datastore.
    let e = pbs
        .create_datastore("daily", "/mnt/other", Form::new(), &ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}");
    assert_eq!(e.status, 400);
    assert!(
        e.message.contains("datastore 'daily' already exists."),
        "{e}"
    );

    // A relative path is PBS's refusal, not a crash.
    let e = pbs
        .create_datastore("rel", "relative/path", Form::new(), &ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParam, "{e}");
    assert!(e.message.contains("expected absolute path"), "{e}");

    // A bad name is refused by the schema's (Rust regex) pattern.
    let e = pbs
        .create_datastore("-bad", "/mnt/x", Form::new(), &ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParam, "{e}");
    assert!(
        e.message.starts_with("parameter verification errors"),
        "{e}"
    );
    assert!(e.message.contains("parameter 'name'"), "{e}");

    // Update: set one key, delete two (an array).
    pbs.update_datastore(
        "daily",
        Form::new().int("keep-last", 3),
        &["comment", "gc-schedule"],
    )
    .await
    .unwrap();
    let ds = pbs.datastore("daily").await.unwrap();
    assert_eq!(ds.keep.keep_last, Some(3));
    assert!(ds.comment.is_none() && ds.gc_schedule.is_none());
    let put = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(
        put.params.iter().filter(|(k, _)| k == "delete").count(),
        2,
        "{put:?}"
    );

    // Runtime views.
    let listed = pbs.admin_datastores().await.unwrap();
    assert_eq!(listed[0].store, "daily");
    let st = pbs.datastore_status("daily").await.unwrap();
    assert_eq!(st.total, 2 << 40);
    assert_eq!(st.used + st.avail, st.total);

    // Missing: not found, as PBS words it.
    let e = pbs.datastore("nope").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert_eq!(e.message, "no such datastore 'nope'");
    let e = pbs
        .delete_datastore("nope", false, &ctx())
        .await
        .unwrap_err();
    assert_eq!(e.status, 404);
    assert_eq!(e.kind, ErrorKind::NotFound);

    let done = pbs.delete_datastore("daily", false, &ctx()).await.unwrap();
    assert!(done.upid.unwrap().contains(":delete-datastore:daily:"));
    assert!(pbs.datastores().await.unwrap().is_empty());
    assert!(
        sim.schema_violations().len() == 1,
        "{:?}",
        sim.schema_violations()
    );
}

#[tokio::test]
async fn namespaces() {
    let sim = sim().await;
    let pbs = sim.client();
    pbs.create_datastore("daily", "/mnt/daily", Form::new(), &ctx())
        .await
        .unwrap();
    assert_eq!(
        pbs.create_namespace("daily", None, "pve1").await.unwrap(),
        "pve1"
    );
    assert_eq!(
        pbs.create_namespace("daily", Some("pve1"), "guests")
            .await
            .unwrap(),
        "pve1/guests"
    );
    let e = pbs
        .create_namespace("daily", Some("missing"), "x")
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("cannot create new namespace, parent missing doesn't already exists"),
        "{e}"
    );
    // Seven levels at most.
    let mut parent = String::from("pve1/guests");
    for i in 3..=7 {
        parent = pbs
            .create_namespace("daily", Some(&parent), &format!("l{i}"))
            .await
            .unwrap();
    }
    let e = pbs
        .create_namespace("daily", Some(&parent), "l8")
        .await
        .unwrap_err();
    assert!(e.message.contains("namespace too deep, 7 >= max 7"), "{e}");
    let all = pbs.namespaces("daily", None, None).await.unwrap();
    assert_eq!(all[0].ns, "");
    assert_eq!(all.len(), 8);
    let shallow = pbs
        .namespaces("daily", Some("pve1"), Some(1))
        .await
        .unwrap();
    assert_eq!(
        shallow.iter().map(|n| n.ns.as_str()).collect::<Vec<_>>(),
        ["pve1", "pve1/guests"]
    );
    pbs.delete_namespace("daily", "pve1", false).await.unwrap();
    assert_eq!(pbs.namespaces("daily", None, None).await.unwrap().len(), 1);
    assert!(
        sim.schema_violations().is_empty(),
        "{:?}",
        sim.schema_violations()
    );
}

#[tokio::test]
async fn remotes_jobs_and_gc() {
    let sim = sim().await;
    let pbs = sim.client();
    for name in ["daily", "archive"] {
        pbs.create_datastore(name, &format!("/mnt/{name}"), Form::new(), &ctx())
            .await
            .unwrap();
    }
    pbs.create_remote(
        "offsite",
        "127.0.0.1",
        "sync@pbs!pull",
        &Secret::new("remote-secret"),
        Form::new()
            .int("port", 8007)
            .str("fingerprint", sim.fingerprint()),
    )
    .await
    .unwrap();
    let r = pbs.remote("offsite").await.unwrap();
    assert_eq!(r.auth_id, "sync@pbs!pull");
    assert_eq!(r.port, Some(8007));
    let listed = serde_json::to_string(&sim.requests().last().unwrap().params).unwrap();
    assert!(!listed.contains("remote-secret"));
    let e = pbs
        .create_remote(
            "offsite",
            "127.0.0.1",
            "a@pbs!b",
            &Secret::new("x"),
            Form::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}");
    pbs.update_remote("offsite", Form::new().str("comment", "far"), &["port"])
        .await
        .unwrap();
    let r = pbs.remote("offsite").await.unwrap();
    assert_eq!((r.port, r.comment.as_deref()), (None, Some("far")));

    // Sync job: create, read, update, run (a local pull), delete.
    pbs.create_job(
        JobKind::Sync,
        "archive-copy",
        Form::new()
            .str("store", "archive")
            .str("remote-store", "daily")
            .str("schedule", "daily")
            .bool("remove-vanished", true),
    )
    .await
    .unwrap();
    let job: SyncJobConfig = pbs.job(JobKind::Sync, "archive-copy").await.unwrap();
    assert_eq!(job.remote, None);
    assert_eq!(job.remove_vanished, Some(true));
    pbs.update_job(
        JobKind::Sync,
        "archive-copy",
        Form::new().int("transfer-last", 2),
        &["schedule"],
    )
    .await
    .unwrap();
    let job: SyncJobConfig = pbs.job(JobKind::Sync, "archive-copy").await.unwrap();
    assert_eq!((job.transfer_last, job.schedule), (Some(2), None));
    let run = pbs
        .run_job(JobKind::Sync, "archive-copy", &ctx())
        .await
        .unwrap();
    assert!(run.upid.unwrap().contains(":syncjob:"));
    let e = pbs
        .create_job(
            JobKind::Sync,
            "archive-copy",
            Form::new()
                .str("store", "archive")
                .str("remote-store", "daily"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}");

    // Prune job: `schedule` is required by the schema.
    let e = pbs
        .create_job(JobKind::Prune, "keep", Form::new().str("store", "daily"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParam, "{e}");
    assert!(e.message.contains("parameter 'schedule'"), "{e}");
    pbs.create_job(
        JobKind::Prune,
        "keep",
        Form::new()
            .str("store", "daily")
            .str("schedule", "hourly")
            .int("keep-last", 3)
            .int("keep-daily", 7),
    )
    .await
    .unwrap();
    let prune: Vec<PruneJobConfig> = pbs.jobs(JobKind::Prune).await.unwrap();
    assert_eq!(prune[0].keep.keep_daily, Some(7));
    assert!(pbs
        .run_job(JobKind::Prune, "keep", &ctx())
        .await
        .unwrap()
        .upid
        .unwrap()
        .contains(":prunejob:"));

    pbs.create_job(
        JobKind::Verify,
        "check",
        Form::new()
            .str("store", "daily")
            .bool("ignore-verified", true)
            .int("outdated-after", 30),
    )
    .await
    .unwrap();
    let verify: VerifyJobConfig = pbs.job(JobKind::Verify, "check").await.unwrap();
    assert_eq!(verify.outdated_after, Some(30));
    pbs.run_job(JobKind::Verify, "check", &ctx()).await.unwrap();

    // A remote used by a job cannot go; the job can, then the remote.
    pbs.create_job(
        JobKind::Sync,
        "pull",
        Form::new()
            .str("store", "daily")
            .str("remote", "offsite")
            .str("remote-store", "main"),
    )
    .await
    .unwrap();
    let e = pbs.delete_remote("offsite").await.unwrap_err();
    assert!(e.message.contains("is used by sync job 'pull'"), "{e}");
    // A local sync onto its own source is refused.
    let e = pbs
        .create_job(
            JobKind::Sync,
            "loop",
            Form::new()
                .str("store", "daily")
                .str("remote-store", "daily"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.message, "source and target datastore can't be the same");
    pbs.delete_job(JobKind::Sync, "pull").await.unwrap();
    pbs.delete_remote("offsite").await.unwrap();
    let e = pbs
        .job::<SyncJobConfig>(JobKind::Sync, "pull")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert_eq!(e.message, "no such sync 'pull'");

    // GC.
    let gc = pbs.run_gc("daily", &ctx()).await.unwrap();
    let status = pbs.gc_status("daily").await.unwrap();
    assert_eq!(status.upid, gc.upid);
    assert_eq!(status.removed_bytes, 0);

    // Deleting a datastore takes its jobs and ACL entries with it. (An
    // entry at the path replaces what the root token inherits there: its
    // own entry would take its Datastore.Allocate away.)
    pbs.create_user("audit@pbs", None).await.unwrap();
    pbs.put_acl(
        "/datastore/daily",
        "DatastoreAudit",
        "audit@pbs",
        false,
        false,
    )
    .await
    .unwrap();
    pbs.delete_datastore("daily", false, &ctx()).await.unwrap();
    let prune: Vec<PruneJobConfig> = pbs.jobs(JobKind::Prune).await.unwrap();
    assert!(prune.is_empty());
    let sync: Vec<SyncJobConfig> = pbs.jobs(JobKind::Sync).await.unwrap();
    assert_eq!(sync.len(), 1, "the archive's job stays");
    assert!(pbs.acl(Some("/datastore/daily")).await.unwrap().is_empty());
    assert!(
        sim.schema_violations().len() == 1,
        "{:?}",
        sim.schema_violations()
    );
}

#[tokio::test]
async fn users_tokens_and_acls() {
    let sim = sim().await;
    let pbs = sim.client();
    pbs.create_datastore("daily", "/mnt/daily", Form::new(), &ctx())
        .await
        .unwrap();
    pbs.create_datastore("other", "/mnt/other", Form::new(), &ctx())
        .await
        .unwrap();
    pbs.create_user("pve@pbs", Some("the PVE cluster"))
        .await
        .unwrap();
    let e = pbs.create_user("pve@pbs", None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}");
    assert!(pbs
        .users()
        .await
        .unwrap()
        .iter()
        .any(|u| u.userid == "pve@pbs"));
    let token = pbs
        .create_token("pve@pbs", "backup", Some("vzdump"))
        .await
        .unwrap();
    assert_eq!(token.tokenid, "pve@pbs!backup");
    let secret = token.value.expose().to_string();
    assert!(!format!("{token:?}").contains(&secret));
    assert_eq!(
        pbs.tokens("pve@pbs").await.unwrap()[0].tokenid,
        "pve@pbs!backup"
    );
    let e = pbs.create_token("nobody@pbs", "x", None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");

    // A new token sees nothing.
    let as_pve =
        PbsClient::new(sim.client_config_for("pve@pbs!backup", token.value.clone())).unwrap();
    assert!(as_pve.admin_datastores().await.unwrap().is_empty());
    let e = as_pve.datastore_status("daily").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
    assert_eq!(e.message, "permission check failed");
    assert!(!e.to_string().contains(&secret));

    // The token needs its user's privileges too: granting only the token
    // is not enough.
    pbs.put_acl(
        "/datastore/daily",
        "DatastoreBackup",
        "pve@pbs!backup",
        true,
        false,
    )
    .await
    .unwrap();
    assert!(as_pve.admin_datastores().await.unwrap().is_empty());
    pbs.put_acl("/datastore", "DatastoreAdmin", "pve@pbs", true, false)
        .await
        .unwrap();
    let seen = as_pve.admin_datastores().await.unwrap();
    assert_eq!(
        seen.iter().map(|d| d.store.as_str()).collect::<Vec<_>>(),
        ["daily"]
    );
    as_pve.datastore_status("daily").await.unwrap();
    let acl = pbs.acl(Some("/datastore/daily")).await.unwrap();
    assert_eq!(acl.len(), 1);
    assert_eq!(
        (acl[0].roleid.as_str(), acl[0].propagate),
        ("DatastoreBackup", true)
    );
    // A token cannot grant itself more.
    let e = as_pve
        .put_acl(
            "/datastore/other",
            "DatastoreAdmin",
            "pve@pbs!backup",
            true,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
    assert_eq!(e.status, 400);
    assert_eq!(e.message, "Unprivileged API tokens can't set ACL items.");
    pbs.put_acl(
        "/datastore/daily",
        "DatastoreBackup",
        "pve@pbs!backup",
        true,
        true,
    )
    .await
    .unwrap();
    assert!(as_pve.admin_datastores().await.unwrap().is_empty());

    pbs.delete_token("pve@pbs", "backup").await.unwrap();
    let e = as_pve.version().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::AuthFailed, "{e}");
    pbs.delete_user("pve@pbs").await.unwrap();
    assert!(
        sim.schema_violations().is_empty(),
        "{:?}",
        sim.schema_violations()
    );
}

#[tokio::test]
async fn auth_failures_pinning_and_secrets() {
    let sim = sim().await;
    // A wrong secret: 401, PBS's text, the variables to set, no secret.
    let wrong =
        PbsClient::new(sim.client_config_for(sim.token_id(), Secret::new("not-the-secret")))
            .unwrap();
    let e = wrong.version().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::AuthFailed, "{e}");
    assert_eq!(e.status, 401);
    assert!(
        e.message
            .starts_with("authentication failed - invalid credentials"),
        "{e}"
    );
    assert!(
        e.message.contains("PBS_TOKEN_ID and PBS_TOKEN_SECRET"),
        "{e}"
    );
    assert!(!e.message.contains("not-the-secret"));
    let p: lab_core::ProviderError = e.into();
    assert!(p.is_auth());
    assert!(!p.message.contains("PVE_TOKEN"), "{}", p.message);
    let unknown = PbsClient::new(sim.client_config_for("ghost@pbs!x", Secret::new("s"))).unwrap();
    let e = unknown.version().await.unwrap_err();
    assert!(
        e.message
            .starts_with("authentication failed - invalid API token"),
        "{e}"
    );

    // Pinning: a wrong fingerprint is refused before any request.
    let before = sim.request_count();
    let pinned_wrong = PbsClient::new(
        ClientConfig::new(sim.endpoint(), sim.token_id(), sim.token_secret().clone())
            .with_fingerprint("AB:".repeat(31) + "AB"),
    )
    .unwrap();
    let e = pinned_wrong.version().await.unwrap_err();
    match &e.kind {
        ErrorKind::UntrustedCertificate { fingerprint } => {
            assert_eq!(fingerprint, sim.fingerprint())
        }
        other => panic!("{other:?}: {e}"),
    }
    assert!(
        e.message.contains("does not match the pinned fingerprint"),
        "{e}"
    );
    assert_eq!(sim.request_count(), before);

    // No pin: the self-signed certificate is refused, with its fingerprint.
    let unpinned = PbsClient::new(ClientConfig::new(
        sim.endpoint(),
        sim.token_id(),
        sim.token_secret().clone(),
    ))
    .unwrap();
    let e = unpinned.version().await.unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::UntrustedCertificate { .. }),
        "{e}"
    );
    assert!(e.message.contains(sim.fingerprint()));
    assert!(
        e.message.contains("your Proxmox Backup Server node's"),
        "{e}"
    );

    // The secret is in no Debug output.
    let secret = sim.token_secret().expose().to_string();
    let client = sim.client();
    assert!(!format!("{client:?}").contains(&secret));
    assert!(!format!("{:?}", sim.client_config()).contains(&secret));
    assert!(!format!("{sim:?}").contains(&secret));

    // Unknown paths: 404 with PBS's text.
    let e = client
        .transport()
        .get::<serde_json::Value>("/nothing/here", &[])
        .await
        .unwrap_err();
    assert_eq!(e.status, 404);
    assert_eq!(e.message, "Path '/api2/json/nothing/here' not found.");
    // Unknown parameters: 400 naming them.
    let e = client
        .transport()
        .get::<serde_json::Value>("/version", &[("bogus", "1".into())])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParam);
    assert!(
        e.message
            .contains("parameter 'bogus': schema does not allow additional properties."),
        "{e}"
    );
}

#[tokio::test]
async fn faults_fail_the_nth_call_and_tasks_report_errors() {
    let sim = sim().await;
    let pbs = sim.client();
    sim.faults().fail_request(1, 503, "service unavailable");
    let e = pbs.version().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(e.message, "service unavailable");
    pbs.version().await.unwrap();
    // A task that fails: its error text is the error.
    pbs.create_datastore("daily", "/mnt/daily", Form::new(), &ctx())
        .await
        .unwrap();
    pbs.create_job(
        JobKind::Sync,
        "from-nowhere",
        Form::new()
            .str("store", "daily")
            .str("remote-store", "missing"),
    )
    .await
    .unwrap();
    let e = pbs
        .run_job(JobKind::Sync, "from-nowhere", &ctx())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Task, "{e}");
    assert!(e.message.contains("no such datastore 'missing'"), "{e}");
}
