//! The backup flow across the two real simulators: the PVE side applied
//! through the lab (a `Storage::pbs` with pbs-sim's loopback endpoint,
//! fingerprint and token; a `BackupJob` selecting a VM and a CT), "Run
//! now" writing snapshots the PBS lists, a second PBS pulling them by a
//! sync job, and a prune job keeping what its retention says.

mod flow_support;

use std::collections::BTreeSet;
use std::time::Duration;

use lab_pbs::api::{Form, JobKind, PbsClient};
use serde_json::Value;

use flow_support::*;

/// (type, id, time) of every snapshot of `store`.
async fn snapshots(api: &PbsClient, store: &str) -> BTreeSet<(String, String, i64)> {
    api.snapshots(store, None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.backup_type, s.backup_id, s.backup_time))
        .collect()
}

/// The PBS volumes PVE lists on the pbs storage.
async fn pve_volids(flow: &Flow) -> Vec<String> {
    let items: Vec<Value> = flow
        .conn
        .client()
        .get(
            &format!("/nodes/pve2/storage/{PBS_STORAGE}/content"),
            &[("content", "backup".to_string())],
        )
        .await
        .unwrap();
    items
        .iter()
        .map(|i| i["volid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_go_from_pve_to_pbs_on_to_a_second_pbs_and_are_pruned() {
    let flow = Flow::start().await;
    // The applied storage reaches the PBS with the token; nothing written yet.
    let world = flow.pve_sim().world();
    let st = &world.storages[PBS_STORAGE];
    assert_eq!(
        (st.kind.as_str(), st.options["username"].as_str()),
        ("pbs", PVE_TOKEN)
    );
    assert!(snapshots(&flow.pbs_api, DAILY).await.is_empty());

    // "Run now": one snapshot per selected guest, owned by PVE's token.
    assert_eq!(flow.run_backup().await, ["OK"]);
    let first = snapshots(&flow.pbs_api, DAILY).await;
    let groups: Vec<(String, String)> = first
        .iter()
        .map(|(t, id, _)| (t.clone(), id.clone()))
        .collect();
    assert_eq!(
        groups,
        [
            ("ct".to_string(), DB.to_string()),
            ("vm".to_string(), WEB.to_string())
        ]
    );
    let owners: BTreeSet<Option<String>> = flow
        .pbs_api
        .groups(DAILY, None)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.owner)
        .collect();
    assert_eq!(owners, BTreeSet::from([Some(PVE_TOKEN.to_string())]));
    // PVE lists them through its storage, as the drill reads them.
    let volids = pve_volids(&flow).await;
    assert_eq!(volids.len(), 2, "{volids:?}");
    assert!(volids
        .iter()
        .any(|v| v.starts_with(&format!("{PBS_STORAGE}:backup/vm/{WEB}/"))));
    assert!(volids
        .iter()
        .any(|v| v.starts_with(&format!("{PBS_STORAGE}:backup/ct/{DB}/"))));
    // The spare VM is in no job: no snapshot of it.
    assert!(!first.iter().any(|(_, id, _)| id == &SPARE.to_string()));

    // A second PBS pulls the daily copy through a remote and a sync job.
    let (offsite, off_api) = pbs("pbs-offsite", "offsite").await;
    let pull = token(
        &flow.pbs_api,
        "sync@pbs",
        "pull",
        &format!("/datastore/{DAILY}"),
        "DatastoreReader",
    )
    .await;
    off_api
        .create_remote(
            "main",
            "127.0.0.1",
            "sync@pbs!pull",
            &pull,
            Form::new()
                .int("port", i64::from(flow.pbs.addr().port()))
                .str("fingerprint", flow.pbs.fingerprint()),
        )
        .await
        .unwrap();
    off_api
        .create_job(
            JobKind::Sync,
            "offsite",
            Form::new()
                .str("store", "offsite")
                .str("remote", "main")
                .str("remote-store", DAILY)
                .str("schedule", "daily"),
        )
        .await
        .unwrap();
    let run = off_api
        .run_job(JobKind::Sync, "offsite", &ctx())
        .await
        .unwrap();
    assert!(run.upid.unwrap().starts_with("UPID:pbs-offsite:"));
    assert_eq!(snapshots(&off_api, "offsite").await, first);

    // Two more runs (a second apart: snapshot times are seconds), then a
    // prune job keeping the last two of each group.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(flow.run_backup().await, ["OK"]);
    }
    let all = snapshots(&flow.pbs_api, DAILY).await;
    assert_eq!(all.len(), 6, "{all:?}");
    flow.pbs_api
        .create_job(
            JobKind::Prune,
            "keep2",
            Form::new()
                .str("store", DAILY)
                .str("schedule", "daily")
                .int("keep-last", 2),
        )
        .await
        .unwrap();
    flow.pbs_api
        .run_job(JobKind::Prune, "keep2", &ctx())
        .await
        .unwrap();
    let kept = snapshots(&flow.pbs_api, DAILY).await;
    let expected: BTreeSet<(String, String, i64)> = ["ct", "vm"]
        .iter()
        .flat_map(|ty| {
            let mut times: Vec<&(String, String, i64)> =
                all.iter().filter(|(t, _, _)| t == ty).collect();
            times.sort_by_key(|(_, _, time)| *time);
            times.into_iter().skip(1).cloned().collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(kept, expected);
    assert!(!kept.iter().any(|s| first.contains(s)), "the oldest went");
    // PVE sees what PBS kept; the off-site copy still holds the first run.
    assert_eq!(pve_volids(&flow).await.len(), 4);
    assert_eq!(snapshots(&off_api, "offsite").await, first);
    assert!(
        flow.pbs.schema_violations().is_empty(),
        "{:?}",
        flow.pbs.schema_violations()
    );
    assert!(
        flow.pve_sim().schema_violations().is_empty(),
        "{:?}",
        flow.pve_sim().schema_violations()
    );
    drop(offsite);
}
