//! Clones as parallel as PVE allows, through the real client and provider
//! against the simulator: clones of one template overlap (no per-template
//! limit: qemu-server locks a stopped source shared), the per-storage copy
//! knob serialises full clones onto a slow storage, the per-template knob
//! serialises clones of a template, and linked clones are
//! made with `full=0`, stay on the template's storage and plan clean.
//!
//! Overlap is read from the simulator's world (how many `qmclone` tasks
//! run at once), never from timings.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::FileStateStore;
use lab_proxmox::api::Form;
use lab_proxmox::model::*;
use lab_proxmox::sim::{TaskLatency, TaskState};
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};

const CLONES: usize = 4;

/// A template from a cloud image and `CLONES` VMs cloned from it onto
/// `local-lvm`, linked or full.
fn lab(conn: &Connection, options: ProxmoxOptions, linked: bool) -> Lab {
    lab_with(conn, options, linked, CLONES)
}

/// The template and `clones` clones of it on `local-lvm`.
fn lab_with(conn: &Connection, options: ProxmoxOptions, linked: bool, clones: usize) -> Lab {
    let mut lab = Lab::new("clones");
    lab.register_provider(conn.provider(options));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let disk = lab.add(Node::local_disk(&pve1));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .on(&disk)
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso, Content::Import])
            .on(&disk)
            .node(&pve1),
    );
    let image = lab.add(
        File::download(
            "debian-13",
            &pve1,
            &local,
            Content::Import,
            "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
        )
        .filename("debian-13-genericcloud-amd64.qcow2"),
    );
    let tmpl = lab.add(Template::cloud_image("debian-13", &pve1, &image).storage(&lvm));
    for n in 0..clones {
        let vm = Vm::new(format!("app{n}"), &pve1);
        let vm = if linked {
            vm.linked_clone_from(&tmpl)
        } else {
            vm.clone_from(&tmpl)
        };
        lab.add(
            vm.cores(1)
                .memory_mb(1024)
                .disk("scsi0", &lvm, "8G")
                .nic("net0", "vmbr0")
                .started(false),
        );
    }
    lab
}

fn connect(dir: &Path) -> Connection {
    connect_with(dir, |_| {})
}

fn connect_with(dir: &Path, tweak: impl FnOnce(&mut lab_proxmox::sim::SimConfig)) -> Connection {
    let mut config = sim_config();
    // Long enough that clones fired together are seen running together.
    config.task_latency = TaskLatency::instant().with("qmclone", Duration::from_millis(400));
    tweak(&mut config);
    Connection::simulated(config, dir.join("pve.json")).expect("simulator starts")
}

/// Applies the lab while watching the simulator; returns the most `qmclone`
/// tasks it saw running at once.
fn apply_watching(conn: &Connection, dir: &Path, options: ProxmoxOptions, linked: bool) -> usize {
    apply_lab(conn, dir, lab(conn, options, linked))
}

/// Applies `lab` (then plans it: no changes) while watching the simulator;
/// returns the most `qmclone` tasks it saw running at once.
fn apply_lab(conn: &Connection, dir: &Path, lab: Lab) -> usize {
    let engine = Engine::new(lab, FileStateStore::new(dir.join(".lab")));
    let sim = conn.simulator().expect("simulated");
    let peak = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let running = sim
                    .world()
                    .tasks
                    .iter()
                    .filter(|t| t.wtype == "qmclone" && t.state == TaskState::Running)
                    .count();
                peak.fetch_max(running, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        // Stops the watcher however the apply ends (a failed assertion too).
        let _stop = Stop(&done);
        runtime().block_on(async {
            let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
            let report = engine.apply(&plan, &opts()).await.expect("apply");
            assert!(report.is_success(), "{report:#?}");
            let again = engine.plan(&PlanOptions::default()).await.expect("plan");
            assert!(!again.has_changes(), "{:#?}", again.steps);
        });
    });
    let violations = conn.simulator().unwrap().schema_violations();
    assert!(violations.is_empty(), "{violations:#?}");
    peak.load(Ordering::SeqCst)
}

/// Sets its flag when dropped.
struct Stop<'a>(&'a AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn clones_of_one_template_run_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let peak = apply_watching(&conn, dir.path(), ProxmoxOptions::default(), false);
    // No per-template limit: the engine fires every clone; PVE runs them
    // side by side.
    assert!(peak >= 2, "at most {peak} clone task(s) ran at once");
    let clone_posts = conn
        .simulator()
        .unwrap()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/clone"))
        .map(|r| r.param("full").map(str::to_string))
        .collect::<Vec<_>>();
    assert_eq!(clone_posts, vec![Some("1".to_string()); CLONES]);
}

#[test]
fn the_storage_copy_knob_serialises_full_clones() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let options = ProxmoxOptions::default().copies_on("local-lvm", 1);
    let peak = apply_watching(&conn, dir.path(), options, false);
    assert_eq!(peak, 1, "one copy at a time onto local-lvm");
}

#[test]
fn the_per_template_knob_serialises_clones_of_a_template() {
    // For a node whose clones lock the source exclusively (older
    // qemu-server): one clone of a template at a time, linked ones too.
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let options = ProxmoxOptions {
        clones_per_template: Some(1),
        ..ProxmoxOptions::default()
    };
    let peak = apply_watching(&conn, dir.path(), options, true);
    assert_eq!(peak, 1, "one clone of the template at a time");
}

#[test]
fn linked_clones_copy_nothing_and_plan_clean() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    // A copy limit does not hold back linked clones: they copy nothing.
    let options = ProxmoxOptions::default().copies_on("local-lvm", 1);
    let peak = apply_watching(&conn, dir.path(), options, true);
    assert!(peak >= 2, "at most {peak} clone task(s) ran at once");
    let sim = conn.simulator().unwrap();
    for r in sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/clone"))
    {
        assert_eq!(r.param("full"), Some("0"), "{r:?}");
        assert_eq!(r.param("storage"), None, "{r:?}");
    }
    let world = sim.world();
    let apps: Vec<_> = world
        .guests()
        .into_iter()
        .filter(|g| g.name.starts_with("app"))
        .collect();
    assert_eq!(apps.len(), CLONES);
    for g in apps {
        let scsi0 = &g.config["scsi0"];
        assert!(
            scsi0.starts_with("local-lvm:base-")
                && scsi0.contains(&format!("/vm-{}-disk-", g.vmid)),
            "{}: {scsi0}",
            g.name
        );
    }
}

#[test]
fn a_storage_lock_timeout_in_a_clone_is_retried() {
    // A VM create holds local-lvm's lock for its whole task in the
    // simulator (its deliberate deviation), here 600 ms, longer than the
    // 100 ms lock timeout: the clones allocating there meanwhile fail
    // `clone failed: can't lock file
    // '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout`, a
    // transient error the engine retries until the lock is free.
    let dir = tempfile::tempdir().unwrap();
    let conn = connect_with(dir.path(), |c| {
        c.task_latency = TaskLatency::instant()
            .with("qmclone", Duration::from_millis(50))
            .with("qmcreate", Duration::from_millis(600));
        c.lock_timeout = Duration::from_millis(100);
    });
    // The template first (its own create waits for nothing).
    apply_lab(
        &conn,
        dir.path(),
        lab_with(&conn, ProxmoxOptions::default(), false, 0),
    );
    let engine = Engine::new(
        lab_with(&conn, ProxmoxOptions::default(), false, 3),
        FileStateStore::new(dir.path().join(".lab")),
    );
    runtime().block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        // Another client's create takes the storage lock just before.
        let mut form = Form::new();
        form.push_int("vmid", 500);
        form.push_str("scsi0", "local-lvm:4");
        let upid = conn
            .client()
            .post("/nodes/pve1/qemu", &form)
            .await
            .expect("create");
        assert!(upid.as_str().is_some_and(|u| u.starts_with("UPID:")));
        let report = engine.apply(&plan, &opts()).await.expect("apply");
        assert!(report.is_success(), "{report:#?}");
    });
    let world = conn.simulator().unwrap().world();
    let timed_out = world
        .tasks
        .iter()
        .filter(|t| t.wtype == "qmclone")
        .filter_map(|t| t.exitstatus.as_deref())
        .filter(|e| {
            *e == "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout"
        })
        .count();
    assert!(timed_out > 0, "no clone met the storage lock");
    let names: Vec<String> = world.guests().into_iter().map(|g| g.name).collect();
    for name in ["app0", "app1", "app2"] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
    }
}

#[test]
fn a_template_on_another_node_is_cloned_there_onto_the_vm_node() {
    // qemu-server loads the source's config where the call runs, so a
    // template on pve1 cloned onto pve2 is asked of pve1 with `target`;
    // both the template's disk and the clone's are on shared NFS storage.
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let mut lab = Lab::new("clones");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
    let tank = lab.add(
        NasPool::new("tank")
            .server("10.0.0.5")
            .export("/mnt/tank/pve")
            .on(&nas),
    );
    let nfs = lab.add(Storage::nfs("tank-nfs", &tank).content(&[Content::Images, Content::Import]));
    let image = lab.add(File::download(
        "debian-13",
        &pve1,
        &nfs,
        Content::Import,
        "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
    ));
    let tmpl = lab.add(Template::cloud_image("debian-13", &pve1, &image).storage(&nfs));
    lab.add(
        Vm::new("web", &pve2)
            .clone_from(&tmpl)
            .disk("scsi0", &nfs, "8G")
            .started(false),
    );
    assert!(lab.check().iter().all(|d| !d.is_blocking()));
    apply_lab(&conn, dir.path(), lab);

    let sim = conn.simulator().unwrap();
    let clone = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/clone"))
        .expect("a clone request");
    assert!(clone.path.starts_with("/nodes/pve1/qemu/"), "{clone:?}");
    assert!(
        clone
            .params
            .iter()
            .any(|(k, v)| k == "target" && v == "pve2"),
        "{clone:?}"
    );
    let world = sim.world();
    let web = world
        .guests()
        .into_iter()
        .find(|g| g.config.get("name").map(String::as_str) == Some("web"))
        .expect("the clone");
    assert_eq!(web.node, "pve2");
}
