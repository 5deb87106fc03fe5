//! The PBS provider against two simulators: a primary and an off-site
//! server in one lab, applied, planned again with no changes (in this
//! process and in a fresh one: new simulators from their state files, a
//! new engine), drift found and fixed, a field dropped from the code
//! unset with PBS's `delete`, a real sync over the remote the lab made,
//! and destroy; every request fits the apidoc.

mod provider_support;

use lab_core::plan::PlanOptions;
use lab_core::Action;
use lab_pbs::api::{Form, JobKind};

use provider_support::{addr, engine, opts, runtime, write_backup, Servers, Shape};

async fn apply(e: &lab_core::Engine) -> lab_core::Plan {
    let plan = e.plan(&PlanOptions::default()).await.expect("plan");
    let report = e.apply(&plan, &opts()).await.expect("apply");
    assert!(report.is_success(), "{report:#?}");
    plan
}

async fn assert_no_changes(e: &lab_core::Engine) {
    let plan = e.plan(&PlanOptions::default()).await.expect("plan");
    assert!(
        !plan.has_changes() && plan.drift.is_empty(),
        "steps: {:#?}\ndrift: {:#?}",
        plan.steps
            .iter()
            .map(|s| (&s.address, s.action, &s.changes))
            .collect::<Vec<_>>(),
        plan.drift
    );
}

#[test]
fn two_servers_apply_then_plan_no_changes_even_in_a_new_process() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    {
        let servers = Servers::start(dir.path());
        rt.block_on(async {
            let e = engine(&servers, dir.path(), &Shape::default());
            let plan = apply(&e).await;
            assert_eq!(
                plan.counts(),
                (14, 0, 0),
                "{:#?}",
                plan.steps.iter().map(|s| &s.address).collect::<Vec<_>>()
            );
            // The plan showed the schedules' next runs.
            let sync = plan
                .step(&addr("pbs.sync_job", "offsite--archive-copy"))
                .unwrap();
            assert!(
                sync.notes.iter().any(|n| n.contains("`sat 03:00`: next")),
                "{:?}",
                sync.notes
            );
            assert_no_changes(&e).await;
        });
        servers.assert_schema_clean();

        // What PBS holds: marked comments, the remote on loopback with the
        // token's id, the datastore on the simulator.
        let primary = servers.primary.simulator().unwrap().world();
        let daily = &primary.datastores["daily"].config;
        assert_eq!(
            daily["comment"],
            "daily backups lab:home/pbs.datastore.primary--daily"
        );
        assert!(primary.datastores["daily"].namespaces.contains("site/pve"));
        assert!(primary.tokens.contains_key("sync@pbs!offsite"));
        let offsite = servers.offsite.simulator().unwrap().world();
        let remote = &offsite.remotes["primary"];
        assert_eq!(remote.config["host"], "127.0.0.1");
        assert_eq!(remote.config["auth-id"], "sync@pbs!offsite");
        assert_eq!(
            remote.password, primary.tokens["sync@pbs!offsite"].secret,
            "the remote authenticates with the token the lab made"
        );

        // The token's secret is sealed in the state, never plain.
        let state = std::fs::read_to_string(dir.path().join(".lab/state.json")).unwrap();
        assert!(state.contains("sync@pbs!offsite"));
        assert!(!state.contains(&primary.tokens["sync@pbs!offsite"].secret));

        // The sync job the lab made really pulls, over the remote, with the
        // token and its ACL.
        rt.block_on(async {
            let outcome = servers
                .offsite
                .client()
                .run_job(
                    JobKind::Sync,
                    "archive-copy",
                    &lab_core::OpContext::detached(),
                )
                .await;
            assert!(outcome.is_ok(), "{outcome:?}");
        });
    }
    // A new "process": simulators from their state files, a new engine.
    let servers = Servers::start(dir.path());
    rt.block_on(async {
        let e = engine(&servers, dir.path(), &Shape::default());
        assert_no_changes(&e).await;
    });
    servers.assert_schema_clean();
}

#[test]
fn drift_is_found_and_fixed_and_dropped_fields_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let servers = Servers::start(dir.path());
    rt.block_on(async {
        let e = engine(&servers, dir.path(), &Shape::default());
        apply(&e).await;

        // By hand: the datastore's comment and the verify job's schedule.
        let pbs = servers.primary.client().transport().clone();
        pbs.put(
            "/config/datastore/daily",
            &Form::new().str("comment", "changed by hand"),
        )
        .await
        .unwrap();
        let off = servers.offsite.client().transport().clone();
        off.put(
            "/config/verify/verify-archive",
            &Form::new().str("schedule", "daily"),
        )
        .await
        .unwrap();

        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let daily = addr("pbs.datastore", "primary--daily");
        let verify = addr("pbs.verify_job", "offsite--verify-archive");
        for a in [&daily, &verify] {
            assert!(
                plan.drift.iter().any(|d| &d.address == a),
                "{:#?}",
                plan.drift
            );
            assert_eq!(plan.step(a).map(|s| s.action), Some(Action::Update));
        }
        assert_eq!(plan.counts(), (0, 2, 0));
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert_no_changes(&e).await;
        let world = servers.primary.simulator().unwrap().world();
        assert_eq!(
            world.datastores["daily"].config["comment"],
            "daily backups lab:home/pbs.datastore.primary--daily",
            "the marker is written back with the comment"
        );

        // The code drops the comment and the GC schedule: PBS deletes them.
        let shape = Shape {
            daily_comment: None,
            gc_schedule: None,
            ..Shape::default()
        };
        let e = engine(&servers, dir.path(), &shape);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let step = plan.step(&daily).expect("an update of the datastore");
        assert_eq!(step.action, Action::Update);
        let fields: Vec<&str> = step.changes.iter().map(|c| c.field.as_str()).collect();
        assert!(
            fields.contains(&"gc-schedule") && fields.contains(&"comment"),
            "{fields:?}"
        );
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        let config = &servers.primary.simulator().unwrap().world().datastores["daily"].config;
        assert!(!config.contains_key("gc-schedule"), "{config:?}");
        assert_eq!(config["comment"], "lab:home/pbs.datastore.primary--daily");
        assert_no_changes(&e).await;
    });
    servers.assert_schema_clean();
}

#[test]
fn destroy_removes_everything_the_lab_made_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let servers = Servers::start(dir.path());
    rt.block_on(async {
        let e = engine(&servers, dir.path(), &Shape::default());
        apply(&e).await;
        let plan = e.plan_destroy().await.unwrap();
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
    });
    for conn in [&servers.primary, &servers.offsite] {
        let w = conn.simulator().unwrap().world();
        assert!(w.datastores.is_empty(), "{:?}", w.datastores.keys());
        assert!(w.remotes.is_empty());
        assert!(w.sync_jobs.is_empty() && w.prune_jobs.is_empty() && w.verify_jobs.is_empty());
        assert_eq!(w.users.keys().collect::<Vec<_>>(), ["root@pam"]);
        assert!(
            w.acl.iter().all(|a| a.ugid == "root@pam!lab"),
            "{:?}",
            w.acl
        );
        // The datastores went without `destroy-data`.
        assert!(w.tasks.iter().any(|t| t.worker_type == "delete-datastore"));
    }
    let destroyed = servers
        .primary
        .simulator()
        .unwrap()
        .requests()
        .iter()
        .any(|r| r.path.contains("destroy-data"));
    assert!(!destroyed);
    servers.assert_schema_clean();
}

#[test]
fn a_token_deleted_by_hand_is_made_again_and_the_remote_takes_its_new_secret() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let servers = Servers::start(dir.path());
    rt.block_on(async {
        let e = engine(&servers, dir.path(), &Shape::default());
        apply(&e).await;
        let old = servers.primary.simulator().unwrap().world().tokens["sync@pbs!offsite"]
            .secret
            .clone();
        // By hand: PBS drops the token's ACL entries with it.
        servers
            .primary
            .client()
            .delete_token("sync@pbs", "offsite")
            .await
            .unwrap();
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let remote = addr("pbs.remote", "offsite--primary");
        let token = plan.steps.iter().find(|s| s.address.kind() == "pbs.token");
        assert_eq!(
            token.map(|s| s.action),
            Some(Action::Create),
            "{:#?}",
            plan.steps
                .iter()
                .map(|s| (&s.address, s.action))
                .collect::<Vec<_>>()
        );
        let step = plan.step(&remote).expect("the remote's password changes");
        assert_eq!(step.action, Action::Update);
        assert!(step.changes.iter().any(|c| c.field == "password"));
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert_no_changes(&e).await;

        let primary = servers.primary.simulator().unwrap().world();
        let new = &primary.tokens["sync@pbs!offsite"].secret;
        assert_ne!(new, &old);
        let offsite = servers.offsite.simulator().unwrap().world();
        assert_eq!(&offsite.remotes["primary"].password, new);
        let outcome = servers
            .offsite
            .client()
            .run_job(
                JobKind::Sync,
                "archive-copy",
                &lab_core::OpContext::detached(),
            )
            .await;
        assert!(outcome.is_ok(), "{outcome:?}");
    });
    servers.assert_schema_clean();
}

#[test]
fn users_and_tokens_change_in_place_and_defaults_read_back_absent() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let servers = Servers::start(dir.path());
    rt.block_on(async {
        let e = engine(&servers, dir.path(), &Shape::default());
        apply(&e).await;
        // By hand: the user disabled, with an e-mail address; the token
        // given a comment.
        let pbs = servers.primary.client().transport().clone();
        pbs.put(
            "/access/users/sync@pbs",
            &Form::new()
                .str("enable", "false")
                .str("email", "ops@example.net"),
        )
        .await
        .unwrap();
        pbs.put(
            "/access/users/sync@pbs/token/offsite",
            &Form::new().str("comment", "by hand"),
        )
        .await
        .unwrap();
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (0, 2, 0), "{:#?}", plan.steps);
        let user = plan
            .steps
            .iter()
            .find(|s| s.address.kind() == "pbs.user")
            .unwrap();
        let mut fields: Vec<&str> = user.changes.iter().map(|c| c.field.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["email", "enable"]);
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert_no_changes(&e).await;
        let w = servers.primary.simulator().unwrap().world();
        let user = &w.users["sync@pbs"].config;
        assert!(!user.contains_key("email"), "{user:?}");
        assert_eq!(
            user["comment"],
            "pulls for the off-site copy lab:home/pbs.user.primary--sync_pbs"
        );
        let token = &w.tokens["sync@pbs!offsite"].config;
        assert!(token["comment"]
            .as_str()
            .unwrap()
            .starts_with("lab:home/pbs.token."));
    });
    servers.assert_schema_clean();
}

#[test]
fn a_namespace_holding_backups_is_not_deleted_and_the_error_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let servers = Servers::start(dir.path());
    rt.block_on(async {
        let e = engine(&servers, dir.path(), &Shape::default());
        apply(&e).await;
        write_backup(&servers.primary, "daily", "site/pve", "101").await;
        let shape = Shape {
            pve_namespace: false,
            ..Shape::default()
        };
        let e = engine(&servers, dir.path(), &shape);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let ns = addr("pbs.namespace", "primary--daily--site--pve");
        assert_eq!(plan.step(&ns).map(|s| s.action), Some(Action::Delete));
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert_eq!(report.failed.len(), 1, "{report:#?}");
        let error = &report.failed[0].error;
        assert!(
            error.contains("never deletes backups") && error.contains("site/pve"),
            "{error}"
        );
    });
    let w = servers.primary.simulator().unwrap().world();
    assert!(w.datastores["daily"].namespaces.contains("site/pve"));
    assert_eq!(w.datastores["daily"].groups.len(), 1);
    assert!(!servers
        .primary
        .simulator()
        .unwrap()
        .requests()
        .iter()
        .any(|r| r.path.contains("delete-groups")
            || r.params.iter().any(|(k, _)| k == "delete-groups")));
    servers.assert_schema_clean();
}
