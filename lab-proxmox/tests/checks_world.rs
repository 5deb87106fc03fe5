//! What the refreshed cluster shows before anything is applied: each
//! mistake of the code that only the world reveals is a diagnostic with its
//! code at the user's line, the plan stops (`lab::plan_check_failed`) and
//! the simulator is left untouched. The simulator has an explicit node set
//! ([`cluster`]), so these hold as they would on a live cluster.

#![cfg(feature = "sim")]

mod common;

use std::path::Path;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{EngineError, FileStateStore};
use lab_proxmox::checks::{
    CLONE_ACROSS_NODES, CLUSTER_CONTENT, DUPLICATE_VOLUME, NODE_MISSING, STORAGE_FULL,
    STORAGE_MISSING, VMID_RANGE,
};
use lab_proxmox::model::*;
use lab_proxmox::sim::{SimConfig, SimNode, SimStorage};
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};

/// Two nodes: `pve1` with `local` (dir, 100 GiB) and `local-lvm` (thin,
/// 400 GiB); `pve2` with the same plus `fast` (thin, 400 GiB), which
/// `pve1` does not have. No `pve3`, no `ghost` storage.
fn cluster() -> SimConfig {
    let mut fast = SimStorage::local_lvm();
    fast.id = "fast".into();
    fast.options.insert("thinpool".into(), "fast".into());
    let mut pve2 = SimNode::new("pve2");
    pve2.storages.push(fast);
    SimConfig {
        nodes: vec![SimNode::new("pve1"), pve2],
        ..sim_config()
    }
}

fn connect(dir: &Path) -> Connection {
    Connection::simulated(cluster(), dir.join("pve.json")).expect("simulator starts")
}

/// The lab's frame: the provider, both nodes (and `pve3`, which the
/// cluster does not have), the storages as the code declares them.
struct Frame {
    lab: Lab,
    pve1: Handle<Node>,
    pve2: Handle<Node>,
    pve3: Handle<Node>,
    lvm: Handle<Storage>,
    local: Handle<Storage>,
}

fn frame(conn: &Connection) -> Frame {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let pve3 = lab.add(Node::new("pve3").bridge("vmbr0"));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images, Content::Rootdir]));
    let local = lab.add(Storage::existing("local").content(&[Content::Iso, Content::Import]));
    Frame {
        lab,
        pve1,
        pve2,
        pve3,
        lvm,
        local,
    }
}

/// Plans `lab`, expecting the world checks to stop it; returns the
/// findings, after checking that `check` (offline) had nothing against it.
fn plan_fails(conn: &Connection, dir: &Path, lab: Lab) -> Vec<Diagnostic> {
    let offline: Vec<_> = lab
        .check()
        .into_iter()
        .filter(|d| d.is_blocking())
        .collect();
    assert!(offline.is_empty(), "check alone cannot tell: {offline:#?}");
    let before = conn.simulator().unwrap().world().guests().len();
    let engine = Engine::new(lab, FileStateStore::new(dir.join(".lab")));
    let err = runtime()
        .block_on(engine.plan(&PlanOptions::default()))
        .expect_err("the plan stops");
    let EngineError::PlanCheck(diags) = err else {
        panic!("not a plan check: {err:?}");
    };
    assert_eq!(
        conn.simulator().unwrap().world().guests().len(),
        before,
        "nothing applied"
    );
    diags
}

fn only<'a>(diags: &'a [Diagnostic], code: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = diags.iter().filter(|d| d.code == code).collect();
    assert_eq!(found.len(), 1, "one {code} in {diags:#?}");
    found[0]
}

fn apply(conn: &Connection, dir: &Path, lab: Lab) {
    let engine = Engine::new(lab, FileStateStore::new(dir.join(".lab")));
    runtime().block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let report = engine.apply(&plan, &opts()).await.expect("apply");
        assert!(report.is_success(), "{report:#?}");
    });
    let sim = conn.simulator().unwrap();
    assert!(sim.schema_violations().is_empty());
}

#[test]
fn a_guest_on_a_node_the_cluster_does_not_have() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let mut f = frame(&conn);
    let line = line!() + 1;
    let vm = Vm::new("web", &f.pve3).disk("scsi0", &f.lvm, "8G");
    f.lab.add(vm);
    let diags = plan_fails(&conn, dir.path(), f.lab);
    let d = only(&diags, NODE_MISSING);
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(
        d.message.contains("pve3") && d.message.contains("pve1, pve2"),
        "{}",
        d.message
    );
    assert_eq!(diags.len(), 1, "{diags:#?}");
}

#[test]
fn an_existing_storage_no_node_has_or_this_node_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let mut f = frame(&conn);
    let ghost = f
        .lab
        .add(Storage::existing("ghost").content(&[Content::Images]));
    let fast = f
        .lab
        .add(Storage::existing("fast").content(&[Content::Images]));
    let ghost_line = line!() + 1;
    let a = Vm::new("a", &f.pve1).disk("scsi0", &ghost, "8G");
    let fast_line = line!() + 1;
    let b = Vm::new("b", &f.pve1).disk("scsi0", &fast, "8G");
    // `fast` is on pve2: fine there.
    let c = Vm::new("c", &f.pve2).disk("scsi0", &fast, "8G");
    f.lab.add(a);
    f.lab.add(b);
    f.lab.add(c);
    let diags = plan_fails(&conn, dir.path(), f.lab);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert!(diags.iter().all(|d| d.code == STORAGE_MISSING));
    let lines: Vec<_> = diags.iter().map(|d| d.file_line().unwrap().1).collect();
    assert_eq!(lines, vec![ghost_line, fast_line]);
    assert!(diags[0].message.contains("no node"), "{}", diags[0].message);
    assert!(diags[1].message.contains("on pve2"), "{}", diags[1].message);
}

#[test]
fn content_types_as_the_cluster_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    // The code claims `local` takes disks and `local-lvm` ISOs; the cluster says no.
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local = lab.add(Storage::existing("local").content(&[Content::Images]));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Iso]));
    let disk_line = line!() + 1;
    let vm = Vm::new("web", &pve1).disk("scsi0", &local, "8G");
    lab.add(vm);
    let iso_line = line!() + 1;
    let iso = File::download(
        "tools",
        &pve1,
        &lvm,
        Content::Iso,
        "https://example.org/tools.iso",
    );
    lab.add(iso);
    let diags = plan_fails(&conn, dir.path(), lab);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert!(diags.iter().all(|d| d.code == CLUSTER_CONTENT));
    let lines: Vec<_> = diags.iter().map(|d| d.file_line().unwrap().1).collect();
    assert_eq!(lines, vec![disk_line, iso_line]);
    assert!(
        diags[0].message.contains("`images`"),
        "{}",
        diags[0].message
    );
    assert!(diags[1].message.contains("`iso`"), "{}", diags[1].message);
}

#[test]
fn new_disks_larger_than_the_free_space_add_up_per_node() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());

    // 250 + 250 GiB on pve1's local-lvm (400 GiB): too much together.
    let mut f = frame(&conn);
    let first = line!() + 1;
    let a = Vm::new("a", &f.pve1).disk("scsi0", &f.lvm, "250G");
    let second = line!() + 1;
    let b = Vm::new("b", &f.pve1).disk("scsi0", &f.lvm, "250G");
    // The same on pve2's own local-lvm does not count against pve1's.
    let c = Vm::new("c", &f.pve2).disk("scsi0", &f.lvm, "250G");
    f.lab.add(a);
    f.lab.add(b);
    f.lab.add(c);
    let diags = plan_fails(&conn, dir.path(), f.lab);
    let d = only(&diags, STORAGE_FULL);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(
        d.message.contains("`local-lvm` on `pve1` need 500 GiB"),
        "{}",
        d.message
    );
    let lines: Vec<_> = d.labels.iter().map(|l| l.loc.line()).collect();
    assert_eq!(&lines[..2], &[first, second]);

    // The free space is the refreshed one: 300 GiB used, 150 more do not fit.
    let mut f = frame(&conn);
    f.lab
        .add(Vm::new("a", &f.pve1).disk("scsi0", &f.lvm, "300G"));
    apply(&conn, dir.path(), f.lab);
    let mut f = frame(&conn);
    f.lab
        .add(Vm::new("a", &f.pve1).disk("scsi0", &f.lvm, "300G"));
    let line = line!() + 1;
    let b = Vm::new("b", &f.pve1).disk("scsi0", &f.lvm, "150G");
    f.lab.add(b);
    let diags = plan_fails(&conn, dir.path(), f.lab);
    let d = only(&diags, STORAGE_FULL);
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(
        d.message.contains("need 150 GiB") && d.message.contains("100.0 GiB free"),
        "{}",
        d.message
    );

    // Growing a disk counts the growth only; a waiver lets a thin pool overcommit.
    let mut f = frame(&conn);
    f.lab
        .add(Vm::new("a", &f.pve1).disk("scsi0", &f.lvm, "350G"));
    let engine = Engine::new(f.lab, FileStateStore::new(dir.path().join(".lab")));
    runtime()
        .block_on(engine.plan(&PlanOptions::default()))
        .expect("50 GiB more fit in 100");
    let mut f = frame(&conn);
    f.lab
        .add(Vm::new("a", &f.pve1).disk("scsi0", &f.lvm, "300G"));
    f.lab.add(
        Vm::new("b", &f.pve1)
            .disk("scsi0", &f.lvm, "150G")
            .waive(STORAGE_FULL, "thin pool, overcommitted on purpose"),
    );
    let engine = Engine::new(f.lab, FileStateStore::new(dir.path().join(".lab")));
    let plan = runtime()
        .block_on(engine.plan(&PlanOptions::default()))
        .expect("waived");
    let b = plan.steps.iter().find(|s| s.address.name() == "b").unwrap();
    assert!(
        b.notes.iter().any(|n| n.contains("waived: thin pool")),
        "{:?}",
        b.notes
    );
}

#[test]
fn a_clone_across_nodes_from_local_storage() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let base = |lab: &mut Lab,
                pve1: &Handle<Node>,
                local: &Handle<Storage>,
                lvm: &Handle<Storage>| {
        let image = lab.add(File::download(
            "debian-13",
            pve1,
            local,
            Content::Import,
            "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
        ));
        lab.add(
            Template::cloud_image("debian-13", pve1, &image)
                .storage(lvm)
                .vmid(9000),
        )
    };

    // The template and its clone in one plan: the template's disk will be on pve1's local-lvm.
    let mut f = frame(&conn);
    let tmpl = base(&mut f.lab, &f.pve1, &f.local, &f.lvm);
    let line = line!() + 2; // the `.clone_from(..)` call
    let vm = Vm::new("web", &f.pve2)
        .clone_from(&tmpl)
        .disk("scsi0", &f.lvm, "8G");
    f.lab.add(vm);
    // The same clone on pve1 is fine.
    f.lab.add(
        Vm::new("db", &f.pve1)
            .clone_from(&tmpl)
            .disk("scsi0", &f.lvm, "8G"),
    );
    let diags = plan_fails(&conn, dir.path(), f.lab);
    let d = only(&diags, CLONE_ACROSS_NODES);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(
        d.message.contains("`local-lvm`, local to `pve1`"),
        "{}",
        d.message
    );

    // An existing template: where its disks are comes from its config.
    let mut f = frame(&conn);
    base(&mut f.lab, &f.pve1, &f.local, &f.lvm);
    apply(&conn, dir.path(), f.lab);
    let other = tempfile::tempdir().unwrap();
    let mut f = frame(&conn);
    let old = f.lab.add(Template::existing("debian", &f.pve1, 9000));
    let line = line!() + 2; // the `.clone_from(..)` call
    let vm = Vm::new("web", &f.pve2)
        .clone_from(&old)
        .disk("scsi0", &f.lvm, "8G");
    f.lab.add(vm);
    let diags = plan_fails(&conn, other.path(), f.lab);
    let d = only(&diags, CLONE_ACROSS_NODES);
    assert_eq!(d.file_line(), Some((file!(), line)));
}

#[test]
fn a_renamed_file_with_the_same_name_is_deleted_then_downloaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let url = "https://example.org/tools.iso";
    let mut f = frame(&conn);
    f.lab.add(File::download(
        "tools-old",
        &f.pve1,
        &f.local,
        Content::Iso,
        url,
    ));
    apply(&conn, dir.path(), f.lab);

    let mut f = frame(&conn);
    f.lab.add(File::download(
        "tools",
        &f.pve1,
        &f.local,
        Content::Iso,
        url,
    ));
    let engine = Engine::new(f.lab, FileStateStore::new(dir.path().join(".lab")));
    runtime().block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let step = plan
            .steps
            .iter()
            .find(|s| s.address.name() == "tools")
            .unwrap();
        assert_eq!(step.after_delete.len(), 1, "{step:#?}");
        assert_eq!(step.after_delete[0].to_string(), "proxmox.file.tools-old");
        assert!(
            step.notes.iter().any(|n| n.contains("local:iso/tools.iso")),
            "{:?}",
            step.notes
        );
        let report = engine.apply(&plan, &opts()).await.expect("apply");
        assert!(report.is_success(), "{report:#?}");
        let again = engine.plan(&PlanOptions::default()).await.expect("plan");
        assert!(!again.has_changes(), "{:#?}", again.steps);
    });
}

#[test]
fn proxmox_checks_run_without_a_provider() {
    // A lab with Proxmox kinds and no provider registered (a `cargo test`
    // of the lab): the Proxmox checks run all the same.
    let mut lab = Lab::new("home");
    let pve1 = lab.add(Node::new("pve1"));
    let line = line!() + 1;
    lab.add(Vm::new("web", &pve1).vmid(5));
    let diags = lab.check();
    let d = only(&diags, VMID_RANGE);
    assert_eq!(d.file_line(), Some((file!(), line)));
}

#[test]
fn the_cli_stops_at_the_finding_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let mut f = frame(&conn);
    f.lab
        .add(Vm::new("web", &f.pve3).disk("scsi0", &f.lvm, "8G"));
    let state = dir.path().join(".lab");
    let code = lab_core::cli::run_with_args(
        f.lab,
        [
            "lab",
            "--no-color",
            "--state-dir",
            state.to_str().unwrap(),
            "apply",
            "--auto-approve",
        ],
    );
    assert_eq!(code, 1);
    assert!(conn.simulator().unwrap().world().guests().is_empty());
}

#[test]
fn one_iso_per_node_on_local_storage_is_no_collision_but_twice_on_one_node_is() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let url = "https://example.org/talos.iso";
    // The same file name on each node's own `local` (as a Talos cluster
    // over two nodes lowers it): two volumes, both made.
    let mut f = frame(&conn);
    f.lab.add(File::download(
        "iso-1",
        &f.pve1,
        &f.local,
        Content::Iso,
        url,
    ));
    f.lab.add(File::download(
        "iso-2",
        &f.pve2,
        &f.local,
        Content::Iso,
        url,
    ));
    assert!(f.lab.check().iter().all(|d| !d.is_blocking()));
    apply(&conn, dir.path(), f.lab);

    // Twice on one node: the code already shows it.
    let mut f = frame(&conn);
    let first = line!() + 1;
    f.lab.add(File::download(
        "iso-a",
        &f.pve1,
        &f.local,
        Content::Iso,
        url,
    ));
    let second = line!() + 1;
    f.lab.add(File::download(
        "iso-b",
        &f.pve1,
        &f.local,
        Content::Iso,
        url,
    ));
    let lab = f.lab;
    let diags = lab.check();
    let d = only(&diags, DUPLICATE_VOLUME);
    let lines: Vec<_> = d.labels.iter().map(|l| l.loc.line()).collect();
    assert_eq!(lines, vec![second, first]);
}

#[test]
fn the_world_is_read_once_per_plan_with_changes_and_not_at_all_without() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let sim = conn.simulator().unwrap();
    let world_reads = || {
        sim.requests()
            .iter()
            .filter(|r| r.path == "/nodes" || r.path.ends_with("/storage"))
            .count()
    };
    let build = || {
        let mut f = frame(&conn);
        f.lab
            .add(Vm::new("web", &f.pve1).disk("scsi0", &f.lvm, "8G"));
        f.lab
            .add(Vm::new("db", &f.pve2).disk("scsi0", &f.lvm, "8G"));
        f.lab
    };
    sim.reset_requests();
    let engine = Engine::new(build(), FileStateStore::new(dir.path().join(".lab")));
    runtime().block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        // `GET /nodes` and one storage listing per node, for two guests.
        assert_eq!(world_reads(), 3, "{:#?}", sim.requests());
        assert!(engine
            .apply(&plan, &opts())
            .await
            .expect("apply")
            .is_success());
        sim.reset_requests();
        let again = engine.plan(&PlanOptions::default()).await.expect("plan");
        assert!(!again.has_changes());
        assert_eq!(world_reads(), 0, "{:#?}", sim.requests());
    });
}
