//! Recovery against the simulator, in one process: an apply dropped while
//! PVE is still cloning (the lab process "dies"; the node carries on), a
//! download interrupted the same way, and a lab whose state went back to
//! `state.json.prev`. After each, the next plan waits for the task and
//! adopts what the interrupted run made, says so, and the guest exists
//! once.

#![cfg(feature = "sim")]

mod common;

use std::path::Path;
use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::provider::{Claim, OpContext, OpKind, Ownership, RecoverCause, RecoverRequest};
use lab_core::{Action, Address, FileStateStore};
use lab_proxmox::api::Form;
use lab_proxmox::model::*;
use lab_proxmox::sim::{SimConfig, TaskLatency};
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};

/// Clones take 1.5 s, downloads 1 s: long enough to "die" in the middle.
fn slow_sim() -> SimConfig {
    SimConfig {
        task_latency: TaskLatency::instant()
            .with("qmclone", Duration::from_millis(1500))
            .with("download", Duration::from_millis(1000)),
        ..sim_config()
    }
}

/// One node, a cloud image, a template from it, and `vms` clones.
fn lab(conn: &Connection, vms: &[&str]) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Import, Content::Iso])
            .node(&pve1),
    );
    let image = lab.add(File::download(
        "debian-13",
        &pve1,
        &local,
        Content::Import,
        "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
    ));
    let tmpl = lab.add(Template::cloud_image("debian-13", &pve1, &image).storage(&lvm));
    for name in vms {
        lab.add(
            Vm::new(*name, &pve1)
                .clone_from(&tmpl)
                .cores(2)
                .disk("scsi0", &lvm, "8G")
                .nic("net0", "vmbr0"),
        );
    }
    lab
}

fn engine(lab: Lab, dir: &Path) -> Engine {
    Engine::new(lab, FileStateStore::new(dir.join("state")))
}

/// How many guests the simulator holds named `name`.
fn named(conn: &Connection, name: &str) -> usize {
    conn.simulator()
        .unwrap()
        .world()
        .guests
        .values()
        .filter(|g| g.config.get("name").map(String::as_str) == Some(name))
        .count()
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

/// Applies `lab` until a `wtype` task runs, then drops the apply (the
/// process "dies"; the node's task carries on).
async fn apply_until(conn: &Connection, lab: Lab, dir: &Path, wtype: &str) {
    let e = engine(lab, dir);
    let plan = e.plan(&PlanOptions::default()).await.unwrap();
    let options = opts();
    let apply = e.apply(&plan, &options);
    tokio::pin!(apply);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        tokio::select! {
            r = &mut apply => panic!("the apply finished before a {wtype} task ran: {r:?}"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if running(conn, wtype) {
            return; // dropping `apply` here is the crash
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {wtype} task ran"
        );
    }
}

#[test]
fn a_clone_still_running_when_lab_died_is_waited_for_and_adopted_not_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let conn = Connection::simulated(slow_sim(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        apply_until(&conn, lab(&conn, &["web"]), dir.path(), "qmclone").await;
        let e = engine(lab(&conn, &["web"]), dir.path());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let web = Address::new("proxmox.vm", "web");
        let recovered = plan
            .recovered
            .iter()
            .find(|r| r.address == web)
            .unwrap_or_else(|| panic!("no recovery reported: {:?}", plan.recovered));
        assert!(
            recovered.outcome.contains("adopted") && recovered.outcome.contains("waited"),
            "{}",
            recovered.outcome
        );
        assert!(
            plan.steps
                .iter()
                .all(|s| !(s.address == web && s.action == Action::Create)),
            "the adopted clone is not created again: {:?}",
            plan.steps
        );
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:?}", again.steps);
    });
    assert_eq!(named(&conn, "web"), 1, "exactly one guest `web`");
}

#[test]
fn a_download_still_running_when_lab_died_is_adopted_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let conn = Connection::simulated(slow_sim(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        apply_until(&conn, lab(&conn, &[]), dir.path(), "download").await;
        let e = engine(lab(&conn, &[]), dir.path());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let file = Address::new("proxmox.file", "debian-13");
        assert!(
            plan.recovered
                .iter()
                .any(|r| r.address == file && r.outcome.contains("adopted")),
            "{:?}",
            plan.recovered
        );
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());
    });
}

#[test]
fn a_state_restored_from_prev_adopts_what_carries_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    let state = dir.path().join("state");
    rt.block_on(async {
        let e = engine(lab(&conn, &["a"]), dir.path());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        let before_b = std::fs::read(state.join("state.json")).unwrap();
        let e = engine(lab(&conn, &["a", "b"]), dir.path());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(e.apply(&plan, &opts()).await.unwrap().is_success());
        // The user restores the state from before `b` was made.
        std::fs::write(state.join("state.json"), before_b).unwrap();
        let e = engine(lab(&conn, &["a", "b"]), dir.path());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let b = Address::new("proxmox.vm", "b");
        assert!(
            plan.recovered
                .iter()
                .any(|r| r.address == b && r.outcome.contains("adopted, not created again")),
            "{:?}",
            plan.recovered
        );
        assert!(!plan.has_changes(), "{:?}", plan.steps);
    });
    assert_eq!(named(&conn, "b"), 1);
}

/// The narrow window of the test above, made certain: lab's download call
/// reached PVE, then lab died before it journaled the task's UPID (only the
/// volume id was claimed). Recovery finds the running `download` task by
/// its file name, waits for it, and adopts the file.
#[test]
fn a_download_whose_task_id_was_never_journaled_is_found_waited_for_and_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let conn = Connection::simulated(slow_sim(), dir.path().join("pve.json")).unwrap();
    let lab = lab(&conn, &[]);
    let address = Address::new("proxmox.file", "debian-13");
    let desired = lab.resource(&address).unwrap().attrs.clone();
    let url = desired["url"].as_str().unwrap().to_string();
    rt.block_on(async {
        let form = Form::new()
            .str("url", url)
            .str("content", "import")
            .str("filename", "debian-13-genericcloud-amd64.qcow2");
        let upid = conn
            .client()
            .post("/nodes/pve1/storage/local/download-url", &form)
            .await
            .unwrap();
        assert!(upid.as_str().unwrap().starts_with("UPID:"));
        assert!(running(&conn, "download"));
        let provider = conn.provider(ProxmoxOptions::default());
        let req = RecoverRequest {
            address: address.clone(),
            action: OpKind::Create,
            cause: RecoverCause::Interrupted,
            owner: Ownership {
                lab: "home".into(),
                lineage: "test".into(),
                address,
            },
            desired,
            claim: Claim::new().with("volid", "local:import/debian-13-genericcloud-amd64.qcow2"),
            known_ids: Vec::new(),
        };
        let recovered = provider
            .recover(&OpContext::detached(), &req)
            .await
            .unwrap();
        assert_eq!(recovered.found.len(), 1, "{recovered:?}");
        assert!(
            recovered.notes.iter().any(|n| n.contains("waited")),
            "{recovered:?}"
        );
        assert!(!running(&conn, "download"));
    });
}
