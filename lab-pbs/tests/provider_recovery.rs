//! Recovery: an apply dropped while PBS still creates a datastore (the lab
//! process "dies"; the server carries on) converges on the next run by
//! waiting for the same task and adopting the store by its marker, with
//! nothing made twice; a token an interrupted create made is deleted
//! (its secret is lost) and made again.

mod provider_support;

use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::provider::{Claim, OpContext, OpKind, Ownership, RecoverCause, RecoverRequest};
use lab_core::Address;
use lab_pbs::api::Form;
use lab_pbs::kinds::TokenSpec;
use lab_pbs::sim::PbsSimConfig;

use provider_support::{engine, opts, runtime, Servers, Shape};

fn create_datastore_running(servers: &Servers) -> bool {
    servers
        .primary
        .simulator()
        .unwrap()
        .world()
        .tasks
        .iter()
        .any(|t| t.worker_type == "create-datastore" && t.endtime.is_none())
}

#[test]
fn a_datastore_create_interrupted_mid_task_is_waited_for_and_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let slow = PbsSimConfig::fast().with_task_latency(Duration::from_millis(1500));
    let servers = Servers::start_with(dir.path(), slow);
    rt.block_on(async {
        let e = engine(&servers, dir.path(), &Shape::default());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let options = opts();
        let apply = e.apply(&plan, &options);
        tokio::pin!(apply);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            tokio::select! {
                r = &mut apply => panic!("the apply finished before the datastore task ran: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            if create_datastore_running(&servers) {
                break; // dropping `apply` is the crash
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no create-datastore task ran"
            );
        }
    });
    rt.block_on(async {
        let e = engine(&servers, dir.path(), &Shape::default());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let daily = Address::new("pbs.datastore", "primary--daily");
        let recovered = plan
            .recovered
            .iter()
            .find(|r| r.address == daily)
            .unwrap_or_else(|| panic!("no recovery reported: {:#?}", plan.recovered));
        assert!(
            recovered.outcome.contains("adopted"),
            "{}",
            recovered.outcome
        );
        assert!(
            plan.step(&daily).is_none(),
            "the adopted store needs nothing"
        );
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!plan.has_changes(), "{:#?}", plan.steps);
    });
    let w = servers.primary.simulator().unwrap().world();
    let creates = w
        .tasks
        .iter()
        .filter(|t| t.worker_type == "create-datastore" && t.worker_id.as_deref() == Some("daily"))
        .count();
    assert_eq!(creates, 1, "the store was created once");
    assert_eq!(
        w.tokens
            .keys()
            .filter(|t| t.starts_with("sync@pbs!"))
            .count(),
        1
    );
    servers.assert_schema_clean();
}

#[test]
fn a_token_an_interrupted_create_made_is_made_again_not_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let servers = Servers::start(dir.path());
    let owner = Ownership {
        lab: "home".into(),
        lineage: "0123abcd".into(),
        address: Address::new("pbs.token", "primary--sync@pbs!offsite"),
    };
    let spec = TokenSpec {
        server: "pbs.server.primary".into(),
        user: "pbs.user.primary--sync@pbs".into(),
        userid: "sync@pbs".into(),
        token_name: "offsite".into(),
        comment: None,
        enable: None,
        expire: None,
    };
    let provider = servers.primary.provider();
    rt.block_on(async {
        // What the interrupted create left: the user and a marked token.
        let pbs = servers.primary.client();
        pbs.create_user("sync@pbs", None).await.unwrap();
        pbs.transport()
            .post(
                "/access/users/sync@pbs/token/offsite",
                &Form::new().str("comment", owner.marker()),
            )
            .await
            .unwrap();
        let recovered = provider
            .recover(
                &OpContext::detached(),
                &RecoverRequest {
                    address: owner.address.clone(),
                    action: OpKind::Create,
                    cause: RecoverCause::Interrupted,
                    owner: owner.clone(),
                    desired: lab_core::value::encode(&spec).unwrap(),
                    claim: Claim::new().with("tokenid", "sync@pbs!offsite"),
                    known_ids: vec![],
                },
            )
            .await
            .unwrap();
        assert!(recovered.found.is_empty());
        assert!(
            recovered.notes[0].contains("secret"),
            "{:?}",
            recovered.notes
        );
        // A token of the same name that is not the lab's is left alone.
        pbs.transport()
            .post(
                "/access/users/sync@pbs/token/offsite",
                &Form::new().str("comment", "by hand"),
            )
            .await
            .unwrap();
        let again = provider
            .recover(
                &OpContext::detached(),
                &RecoverRequest {
                    address: owner.address.clone(),
                    action: OpKind::Create,
                    cause: RecoverCause::Interrupted,
                    owner: owner.clone(),
                    desired: lab_core::value::encode(&spec).unwrap(),
                    claim: Claim::new(),
                    known_ids: vec![],
                },
            )
            .await
            .unwrap();
        assert!(again.notes.is_empty());
    });
    assert!(servers
        .primary
        .simulator()
        .unwrap()
        .world()
        .tokens
        .contains_key("sync@pbs!offsite"));
    servers.assert_schema_clean();
}

/// The narrow window of the first test, made certain: the create reached
/// PBS, then lab died before it journaled the task's UPID (only the store's
/// name was claimed). Recovery finds the running `create-datastore` task
/// by the store's name, waits for it, and adopts the store by its marker.
#[test]
fn a_datastore_create_whose_task_id_was_never_journaled_is_found_and_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let slow = PbsSimConfig::fast().with_task_latency(Duration::from_millis(800));
    let servers = Servers::start_with(dir.path(), slow);
    let owner = Ownership {
        lab: "home".into(),
        lineage: "0123abcd".into(),
        address: Address::new("pbs.datastore", "primary--daily"),
    };
    let spec = lab_pbs::kinds::DatastoreSpec {
        server: "pbs.server.primary".into(),
        name: "daily".into(),
        path: "/mnt/daily".into(),
        comment: None,
        gc_schedule: None,
        prune_schedule: None,
        keep_last: None,
        keep_hourly: None,
        keep_daily: None,
        keep_weekly: None,
        keep_monthly: None,
        keep_yearly: None,
        verify_new: None,
        appliance: None,
        pool: None,
        capacity_gb: None,
    };
    let provider = servers.primary.provider();
    rt.block_on(async {
        // The call lab made before it died: PBS answers with the UPID.
        let upid = servers
            .primary
            .client()
            .transport()
            .post(
                "/config/datastore",
                &Form::new()
                    .str("name", "daily")
                    .str("path", "/mnt/daily")
                    .str("comment", owner.marker()),
            )
            .await
            .unwrap();
        assert!(upid.as_str().unwrap().starts_with("UPID:"));
        assert!(create_datastore_running(&servers));
        let recovered = provider
            .recover(
                &OpContext::detached(),
                &RecoverRequest {
                    address: owner.address.clone(),
                    action: OpKind::Create,
                    cause: RecoverCause::Interrupted,
                    owner: owner.clone(),
                    desired: lab_core::value::encode(&spec).unwrap(),
                    claim: Claim::new().with("name", "daily"),
                    known_ids: vec![],
                },
            )
            .await
            .unwrap();
        assert!(
            recovered.notes.iter().any(|n| n.contains("waited")),
            "{recovered:?}"
        );
        assert!(!create_datastore_running(&servers));
        assert_eq!(recovered.found.len(), 1, "{recovered:?}");
    });
    servers.assert_schema_clean();
}
