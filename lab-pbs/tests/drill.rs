//! Restore drills on the two simulators: the VM and the CT restored from
//! pbs-sim through pve-sim's API onto the other node, started, checked,
//! removed, the originals untouched; the copy the failure analysis names;
//! clear errors (no backup yet, a bad --vmid/--node/--from); a fault on
//! start still removes the scratch guest; the CLI command.

mod flow_support;

use std::sync::Arc;

use lab_core::{Address, ApplianceKind, FileStateStore, StateStore};
use lab_pbs::api::Form;
use lab_pbs::drill::{
    self, Cleanup, DrillError, DrillOptions, DrillProgress, GuestType, SourceChoice, Step,
};
use lab_pbs::failures::{
    ApplianceInfo, BackupJob as TBackupJob, BackupServer, ComputeNode, Datastore as TDatastore,
    Guest as TGuest, Schedule, Selection, Topology,
};

use flow_support::*;

fn guest(name: &str) -> DrillOptions {
    DrillOptions {
        guest: Some(name.to_string()),
        ..DrillOptions::default()
    }
}

async fn drill(flow: &Flow, options: &DrillOptions) -> Result<drill::DrillReport, DrillError> {
    drill::run_engine(&flow.engine, options, &mut |_| {}).await
}

/// The PBS's snapshot time of `ty`/`id` (the only one).
async fn snapshot_time(flow: &Flow, ty: &str, id: u32) -> i64 {
    let snaps = flow.pbs_api.snapshots(DAILY, None).await.unwrap();
    let mine: Vec<i64> = snaps
        .iter()
        .filter(|s| s.backup_type == ty && s.backup_id == id.to_string())
        .map(|s| s.backup_time)
        .collect();
    assert_eq!(mine.len(), 1, "{snaps:?}");
    mine[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vm_and_the_ct_are_restored_started_and_removed_and_the_originals_untouched() {
    let flow = Flow::start().await;
    assert_eq!(flow.run_backup().await, ["OK"]);
    let vmids = flow.vmids();
    let web_before = flow.guest(WEB);
    let db_before = flow.guest(DB);
    let port = flow.pbs.addr().port();

    for (name, ty, vmid, gt) in [
        ("web", "vm", WEB, GuestType::Vm),
        ("proxmox.ct.db", "ct", DB, GuestType::Ct),
    ] {
        let mut events = Vec::new();
        flow.pve_sim().reset_requests();
        let report = drill::run_engine(&flow.engine, &guest(name), &mut |p: &DrillProgress| {
            events.push(p.clone())
        })
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", e.help()));
        assert!(report.is_success());
        assert!(report.skipped.is_empty() && report.failed.is_empty());
        let [d] = report.drills.as_slice() else {
            panic!("{report:?}")
        };
        let time = snapshot_time(&flow, ty, vmid).await;
        assert_eq!(d.guest_type, gt);
        assert_eq!((d.original_vmid, d.original_node.as_str()), (vmid, "pve1"));
        assert_eq!(d.snapshot_time, time);
        assert_eq!(
            d.volid,
            format!("{PBS_STORAGE}:backup/{ty}/{vmid}/{}", d.snapshot)
        );
        assert!(d.snapshot.ends_with('Z') && d.snapshot.starts_with("20"));
        assert_eq!(d.source.storage, PBS_STORAGE);
        assert_eq!(d.source.datastore, DAILY);
        assert_eq!(d.source.server, format!("127.0.0.1:{port}"));
        // The lab declares no PBS datastore: the newest snapshot on the
        // storages of the jobs selecting the guest.
        assert_eq!(d.source.chosen, SourceChoice::NewestSnapshot);
        // Onto the other node, a scratch VMID, a storage for its disks.
        assert_eq!(d.node, "pve2");
        assert!(!vmids.contains(&d.vmid), "{} is taken", d.vmid);
        assert_eq!(d.target_storage, "local-lvm");
        assert_eq!(d.observed_status, "running");
        let steps: Vec<Step> = d.steps.iter().map(|s| s.step).collect();
        assert_eq!(
            steps,
            [
                Step::Prepare,
                Step::Restore,
                Step::Start,
                Step::Check,
                Step::Stop,
                Step::Remove
            ]
        );
        assert!(d.original.unchanged && !d.original.digest.is_empty());
        // Every step was announced and timed as it ran.
        let ended: Vec<Step> = events
            .iter()
            .filter_map(|e| match e {
                DrillProgress::StepEnded { step, .. } => Some(*step),
                _ => None,
            })
            .collect();
        assert_eq!(ended, steps);

        // The restore went to pve2 with unique=1 from the snapshot; no
        // write ever named the original.
        let requests = flow.pve_sim().requests();
        let restore = requests
            .iter()
            .find(|r| r.method == "POST" && r.path == format!("/nodes/pve2/{}", gt.api()))
            .expect("the restore call");
        let archive_key = if gt == GuestType::Vm {
            "archive"
        } else {
            "ostemplate"
        };
        assert_eq!(restore.param(archive_key), Some(d.volid.as_str()));
        assert_eq!(restore.param("unique"), Some("1"));
        assert_eq!(restore.param("vmid"), Some(d.vmid.to_string().as_str()));
        let original = format!("/{}/{vmid}", gt.api());
        assert!(
            !requests
                .iter()
                .any(|r| r.method != "GET" && r.path.contains(&original)),
            "a write touched the original: {requests:?}"
        );

        // Nothing left behind; the originals as they were.
        assert_eq!(flow.vmids(), vmids);
        assert_eq!(flow.guest(WEB), web_before);
        assert_eq!(flow.guest(DB), db_before);
        let text = drill::render_text(&report);
        assert!(text.contains(&d.volid), "{text}");
        assert!(
            text.contains(&format!(
                "from      storage {PBS_STORAGE} -> datastore {DAILY} on 127.0.0.1:{port}"
            )),
            "{text}"
        );
        assert!(text.contains("onto      pve2, VMID"), "{text}");
        assert!(text.contains("restore "), "{text}");
    }
    let world = flow.pve_sim().world();
    assert!(
        world
            .volumes
            .iter()
            .all(|v| v.node.as_deref() != Some("pve2")
                || v.vmid.is_none_or(|id| vmids.contains(&id))),
        "a scratch volume was left"
    );
    assert!(flow.pve_sim().schema_violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_guest_every_backed_up_guest_is_drilled_one_by_one() {
    let flow = Flow::start().await;
    // Before any backup: nothing to drill, and the user is told what to do.
    let e = drill(&flow, &DrillOptions::default()).await.unwrap_err();
    assert!(matches!(e, DrillError::NothingBackedUp { .. }), "{e}");
    assert!(
        e.help().contains("run the backup job first"),
        "{}",
        e.help()
    );

    flow.run_backup().await;
    let vmids = flow.vmids();
    let report = drill(&flow, &DrillOptions::default()).await.unwrap();
    let drilled: Vec<&str> = report.drills.iter().map(|d| d.guest.as_str()).collect();
    assert_eq!(drilled, ["proxmox.vm.web", "proxmox.ct.db"]);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].guest, "proxmox.vm.spare");
    assert!(report.skipped[0].reason.contains("has no backup"));
    assert!(report.is_success());
    assert_eq!(flow.vmids(), vmids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_errors_say_what_to_do_next() {
    let flow = Flow::start().await;
    // No backup yet: name the job that would make one.
    let e = drill(&flow, &guest("web")).await.unwrap_err();
    let DrillError::NoBackup { vmid, job, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!((*vmid, job.as_deref()), (WEB, Some("nightly")));
    assert!(e.to_string().contains("storage 'pbs-daily'"), "{e}");
    assert!(
        e.help()
            .starts_with("run the backup job first (e.g. 'Run now' on backup job 'nightly'"),
        "{}",
        e.help()
    );

    flow.run_backup().await;
    let vmids = flow.vmids();
    // A guest no job selects.
    let e = drill(&flow, &guest("spare")).await.unwrap_err();
    assert!(matches!(&e, DrillError::NoBackup { job: None, .. }), "{e}");
    assert!(
        e.help().contains("no BackupJob of the lab selects it"),
        "{}",
        e.help()
    );
    // Unknown guest, the original's VMID, a taken VMID, an unknown node,
    // an unknown source.
    let e = drill(&flow, &guest("nope")).await.unwrap_err();
    assert!(matches!(&e, DrillError::UnknownGuest { .. }), "{e}");
    assert!(e.help().contains("proxmox.vm.web"), "{}", e.help());
    let mut o = guest("web");
    o.vmid = Some(WEB);
    let e = drill(&flow, &o).await.unwrap_err();
    assert!(e.to_string().contains("the original guest's VMID"), "{e}");
    o.vmid = Some(DB);
    let e = drill(&flow, &o).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("scratch VMID {DB}: VM {DB} already exists")
    );
    let mut o = guest("web");
    o.node = Some("pve9".into());
    let e = drill(&flow, &o).await.unwrap_err();
    assert!(matches!(&e, DrillError::BadNode { .. }), "{e}");
    assert!(e.to_string().contains("online: pve1, pve2"), "{e}");
    let mut o = guest("web");
    o.from = Some("elsewhere".into());
    let e = drill(&flow, &o).await.unwrap_err();
    assert!(matches!(&e, DrillError::UnknownSource(_)), "{e}");
    // --from naming the datastore, --node the guest's own, --vmid given.
    let o = DrillOptions {
        guest: Some("web".into()),
        node: Some("pve1".into()),
        vmid: Some(4242),
        from: Some(DAILY.into()),
    };
    let report = drill(&flow, &o).await.unwrap();
    let d = &report.drills[0];
    assert_eq!((d.node.as_str(), d.vmid), ("pve1", 4242));
    assert_eq!(d.source.chosen, SourceChoice::Given);
    assert!(!flow.vmids().contains(&4242));

    // No node with room: the guest now wants more memory than any node has.
    flow.conn
        .client()
        .put(
            &format!("/nodes/pve1/qemu/{WEB}/config"),
            &Form::new().int("memory", 100_000),
        )
        .await
        .unwrap();
    let e = drill(&flow, &guest("web")).await.unwrap_err();
    assert!(matches!(&e, DrillError::NoRoom { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("pve2 has 62.0 GiB of memory free, the guest needs 97.7 GiB"),
        "{e}"
    );
    assert!(e.help().contains("--node"), "{}", e.help());
    assert!(!flow.vmids().iter().any(|v| !vmids.contains(v)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_start_still_removes_the_scratch_guest() {
    let flow = Flow::start().await;
    flow.run_backup().await;
    let vmids = flow.vmids();
    let before = flow.guest(WEB);
    let faults = flow.pve_sim().faults();
    let e = drill::run_engine(&flow.engine, &guest("web"), &mut |p: &DrillProgress| {
        if let DrillProgress::StepStarted {
            step: Step::Start, ..
        } = p
        {
            // The next request is the start.
            faults.fail_request(1, 500, "start failed: simulated");
        }
    })
    .await
    .unwrap_err();
    let DrillError::StepFailed {
        step,
        cleanup,
        vmid,
        node,
        message,
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(
        (*step, cleanup, node.as_str()),
        (Step::Start, &Cleanup::Removed, "pve2")
    );
    assert!(message.contains("start failed: simulated"), "{message}");
    assert!(!vmids.contains(vmid));
    assert!(e.to_string().contains("was removed"), "{e}");
    assert_eq!(flow.vmids(), vmids, "the scratch guest was left behind");
    assert_eq!(flow.guest(WEB), before);
    // The scratch guest existed (restored) before it was removed.
    let requests = flow.pve_sim().requests();
    assert!(requests.iter().any(|r| r.method == "DELETE"
        && r.path == format!("/nodes/pve2/qemu/{vmid}")
        && r.status == 200));

    // A refused restore made nothing, and nothing is removed.
    flow.pve_sim().reset_requests();
    let e = drill::run_engine(&flow.engine, &guest("db"), &mut |p: &DrillProgress| {
        if let DrillProgress::StepStarted {
            step: Step::Restore,
            ..
        } = p
        {
            faults.fail_request(1, 500, "restore refused: simulated");
        }
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            &e,
            DrillError::StepFailed {
                step: Step::Restore,
                cleanup: Cleanup::NothingLeft,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("nothing was left behind"), "{e}");
    assert_eq!(flow.vmids(), vmids);
    assert!(!flow
        .pve_sim()
        .requests()
        .iter()
        .any(|r| r.method == "DELETE"));
}

/// The failure analysis names the copy: a topology built by hand, with
/// the datastore on its appliance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analysis_names_the_copy_restored() {
    let flow = Flow::start().await;
    flow.run_backup().await;
    let a = |k: &str, n: &str| Address::new(k, n);
    let mut t = Topology::default();
    t.appliances.push(ApplianceInfo::new(
        a("appliance", "pve1-disk"),
        ApplianceKind::NodeDisk,
    ));
    t.appliances.push(ApplianceInfo::new(
        a("appliance", "pbs-box"),
        ApplianceKind::BackupServer,
    ));
    t.nodes.push(ComputeNode::new(
        a("proxmox.node", "pve1"),
        a("appliance", "pve1-disk"),
        65536,
        16,
    ));
    t.guests.push(
        TGuest::new(a("proxmox.vm", "web"), a("proxmox.node", "pve1"), 2048, 2)
            .disk(a("appliance", "pve1-disk"), 8 << 30),
    );
    t.servers.push(BackupServer::new(
        a("pbs.server", "main"),
        vec![a("appliance", "pbs-box")],
    ));
    t.datastores.push(TDatastore::new(
        a("pbs.datastore", "main--daily"),
        a("pbs.server", "main"),
        a("appliance", "pbs-box"),
    ));
    t.backup_jobs.push(TBackupJob::new(
        a("proxmox.backup_job", "nightly"),
        Selection::Only(vec![a("proxmox.vm", "web")]),
        a("pbs.datastore", "main--daily"),
        Schedule::parse("*-*-* 02:30").unwrap(),
    ));
    let lab = flow.engine.lab();
    let state = FileStateStore::new(flow.dir.path().join(".lab"))
        .load_lab(lab.name())
        .unwrap()
        .unwrap();
    let report = drill::run_with(lab, &state, &t, &guest("web"), &mut |_| {})
        .await
        .unwrap();
    let src = &report.drills[0].source;
    assert_eq!(src.chosen, SourceChoice::Analysis);
    assert_eq!(
        src.datastore_address.as_deref(),
        Some("pbs.datastore.main--daily")
    );
    assert_eq!(src.appliance.as_deref(), Some("appliance.pbs-box"));
    assert_eq!(
        (src.storage.as_str(), src.datastore.as_str()),
        (PBS_STORAGE, DAILY)
    );
    let text = drill::render_text(&report);
    assert!(
        text.contains("(pbs.datastore.main--daily) -> appliance appliance.pbs-box  [the failure analysis' restore path]"),
        "{text}"
    );

    // A datastore no PVE storage reads: said so, with the storages there are.
    let mut t2 = t.clone();
    t2.datastores[0].address = a("pbs.datastore", "main--weekly");
    t2.backup_jobs[0].datastore = a("pbs.datastore", "main--weekly");
    let e = drill::run_with(lab, &state, &t2, &guest("web"), &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no PVE 'pbs' storage reads datastore 'weekly'"
    );
    assert!(
        e.help().contains(&format!("{PBS_STORAGE}: 127.0.0.1:")),
        "{}",
        e.help()
    );
}

/// `restore-drill` through the CLI, as the lead will wire it.
#[test]
fn the_command_prints_the_report_and_json() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let flow = rt.block_on(async {
        let flow = Flow::start().await;
        flow.run_backup().await;
        flow
    });
    let run = |args: &[&str]| {
        let mut lab = lab(&flow.conn, &flow.pbs, &flow.pve_secret);
        lab.register_command(Arc::new(drill::RestoreDrillCommand::new()));
        let state_dir = flow.dir.path().join(".lab");
        let mut argv = vec!["lab", "--state-dir", state_dir.to_str().unwrap()];
        argv.extend_from_slice(args);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = lab_core::cli::run_captured(lab, argv, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    };
    let (code, out, err) = run(&["restore-drill", "web"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.starts_with("proxmox.vm.web: restored, started and removed in"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{PBS_STORAGE}:backup/vm/{WEB}/")),
        "{out}"
    );
    assert!(err.contains("proxmox.vm.web: restore done"), "{err}");

    let (code, out, _) = run(&["restore-drill", "db", "--json", "--vmid", "777"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["drills"][0]["vmid"], 777);
    assert_eq!(v["drills"][0]["guest_type"], "ct");
    assert_eq!(v["drills"][0]["source"]["chosen"], "newest-snapshot");
    assert_eq!(v["drills"][0]["steps"].as_array().unwrap().len(), 6);

    let (code, out, err) = run(&["restore-drill", "spare"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("has no backup"), "{err}");
    assert!(err.contains("run the backup job first"), "{err}");

    let (code, _, err) = run(&["restore-drill"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("drilling every backed-up guest, one by one"),
        "{err}"
    );
    rt.block_on(async { drop(flow) });
}
