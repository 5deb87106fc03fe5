//! The real client and provider against the simulator: create, clone,
//! update in place, replace and delete for VMs and containers; 20 parallel
//! clones from one template; a crash mid-apply then a re-run that adopts;
//! the exact form keys each operation sends; and every request checked
//! against the official API schema (`pve-apidoc.json`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::provider::OpKind;
use lab_core::{Action, FileStateStore, StateStore};
use lab_proxmox::model::*;
use lab_proxmox::sim::{SimConfig, TaskLatency};
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};

fn connect(dir: &Path, config: SimConfig) -> Connection {
    Connection::simulated(config, dir.join("pve.json")).expect("simulator starts")
}

/// What the lab declares; tests vary it between runs.
#[derive(Clone)]
struct Shape {
    vms: usize,
    cores: u32,
    data_disk: &'static str,
    vlan: u16,
    ct_template: &'static str,
    ct_started: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            vms: 2,
            cores: 2,
            data_disk: "20G",
            vlan: 20,
            ct_template: "debian-13-standard_13.1-2_amd64.tar.zst",
            ct_started: true,
        }
    }
}

fn lab(conn: &Connection, shape: &Shape) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0").bridge("vmbr1"));
    let pve1_disk = lab.add(Node::local_disk(&pve1));
    let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
    let tank = lab.add(
        NasPool::new("tank")
            .server("10.0.0.5")
            .export("/mnt/tank/pve")
            .on(&nas),
    );
    let nfs =
        lab.add(Storage::nfs("tank-nfs", &tank).content(&[Content::Images, Content::Rootdir]));
    let local_lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .on(&pve1_disk)
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[
                Content::Iso,
                Content::Vztmpl,
                Content::Import,
                Content::Backup,
            ])
            .on(&pve1_disk)
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
    let tmpl = lab.add(
        Template::cloud_image("debian-13", &pve1, &image)
            .storage(&local_lvm)
            .disk_gb(8),
    );
    let pool = lab.add(Pool::new("apps").comment("applications"));
    for n in 0..shape.vms {
        lab.add(
            Vm::new(format!("app{n}"), &pve1)
                .clone_from(&tmpl)
                .cores(shape.cores)
                .memory_mb(2048)
                .disk("scsi0", &local_lvm, "8G")
                .disk("scsi1", &nfs, shape.data_disk)
                .nic("net0", "vmbr0")
                .vlan(shape.vlan)
                .cloud_init(
                    CloudInit::new(&local_lvm)
                        .user("admin")
                        .ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@laptop")
                        .ipconfig(&format!("ip=10.0.20.{}/24,gw=10.0.20.1", 10 + n)),
                )
                .tags(&["app"])
                .notes("managed by lab")
                .pool(&pool),
        );
    }
    let ct_tmpl = lab.add(File::download(
        "ct-template",
        &pve1,
        &local,
        Content::Vztmpl,
        &format!(
            "http://download.proxmox.com/images/system/{}",
            shape.ct_template
        ),
    ));
    lab.add(
        Container::new("paperless", &pve1)
            .ostemplate(&ct_tmpl)
            .cores(1)
            .memory_mb(1024)
            .rootfs(&local_lvm, "8G")
            .mount_point("mp0", &nfs, "50G", "/data")
            .nic("net0", "vmbr0")
            .vlan(30)
            .ip("dhcp")
            .nesting(true)
            .started(shape.ct_started)
            .tags(&["docs"]),
    );
    lab
}

fn engine(conn: &Connection, dir: &Path, shape: &Shape) -> Engine {
    Engine::new(lab(conn, shape), FileStateStore::new(dir.join(".lab")))
}

async fn apply(engine: &Engine) -> lab_core::Plan {
    let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
    let report = engine.apply(&plan, &opts()).await.expect("apply");
    assert!(report.is_success(), "{report:#?}");
    plan
}

fn assert_schema_clean(conn: &Connection) {
    let sim = conn.simulator().unwrap();
    let violations = sim.schema_violations();
    assert!(
        violations.is_empty(),
        "requests that do not conform to pve-apidoc.json: {violations:#?}"
    );
    // PVE deletes a volume a guest still uses without a word; lab must let
    // go of it first.
    assert_eq!(sim.dangling_references(), Vec::<String>::new());
}

fn guest_names(conn: &Connection) -> Vec<String> {
    let mut names: Vec<String> = conn
        .simulator()
        .unwrap()
        .world()
        .guests()
        .iter()
        .map(|g| g.name.clone())
        .collect();
    names.sort();
    names
}

#[test]
fn create_update_replace_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    // A volume delete is an `imgdel` task: slow enough here that a
    // provider not waiting for it would see its files still listed.
    let mut config = sim_config();
    config.task_latency = config
        .task_latency
        .with("imgdel", Duration::from_millis(200));
    let conn = connect(dir.path(), config);
    runtime().block_on(async {
        let shape = Shape::default();
        let e = engine(&conn, dir.path(), &shape);
        let plan = apply(&e).await;
        assert_eq!(
            plan.counts(),
            (8, 0, 0),
            "{:#?}",
            plan.steps.iter().map(|s| &s.address).collect::<Vec<_>>()
        );
        assert_eq!(
            guest_names(&conn),
            vec!["app0", "app1", "debian-13", "paperless"]
        );

        // Unchanged: no changes, and refresh costs one bulk listing of
        // guests, plus, for each guest carrying notes (the user's, or the
        // short note `lab_proxmox::notes` writes), its config and status:
        // `/cluster/resources` does not list the description, and a hand
        // edit of it is drift.
        let before = conn.simulator().unwrap().request_count();
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
        let reads = conn.simulator().unwrap().request_count() - before;
        let guests_with_notes = 3;
        assert!(
            reads <= 1 + 2 + 2 + 2 * guests_with_notes,
            "a no-change plan made {reads} requests"
        );

        // In place: cores, a grown disk, a NIC's VLAN; the container stopped.
        let shape2 = Shape {
            cores: 4,
            data_disk: "30G",
            vlan: 21,
            ct_started: false,
            ..Shape::default()
        };
        let e2 = engine(&conn, dir.path(), &shape2);
        let plan = e2.plan(&PlanOptions::default()).await.unwrap();
        let actions: BTreeSet<(String, Action)> = plan
            .steps
            .iter()
            .map(|s| (s.address.name().to_string(), s.action))
            .collect();
        assert_eq!(
            actions,
            [
                ("app0", Action::Update),
                ("app1", Action::Update),
                ("paperless", Action::Update)
            ]
            .into_iter()
            .map(|(n, a)| (n.to_string(), a))
            .collect(),
            "{:#?}",
            plan.steps
        );
        let report = e2.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert!(!e2
            .plan(&PlanOptions::default())
            .await
            .unwrap()
            .has_changes());
        let world = conn.simulator().unwrap().world();
        let app0 = world
            .guests()
            .into_iter()
            .find(|g| g.name == "app0")
            .unwrap();
        assert_eq!(app0.config.get("cores").map(String::as_str), Some("4"));
        assert!(app0.config["net0"].contains("tag=21"));
        assert!(
            app0.config["scsi1"].contains("size=30G"),
            "{}",
            app0.config["scsi1"]
        );

        // Replace: a new OS template for the container, forced by that field.
        let shape3 = Shape {
            ct_template: "debian-13-standard_13.2-1_amd64.tar.zst",
            ..shape2.clone()
        };
        let e3 = engine(&conn, dir.path(), &shape3);
        let plan = e3.plan(&PlanOptions::default()).await.unwrap();
        let ct = plan
            .step(&lab_core::Address::new("proxmox.ct", "paperless"))
            .unwrap_or_else(|| {
                panic!(
                    "container step in {:#?}",
                    plan.steps
                        .iter()
                        .map(|s| (&s.address, s.action, &s.changes))
                        .collect::<Vec<_>>()
                )
            });
        assert_eq!(ct.action, Action::Replace);
        assert!(
            ct.changes
                .iter()
                .any(|c| c.field == "ostemplate" && c.forces_replacement),
            "{:#?}",
            ct.changes
        );
        let report = e3.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert!(!e3
            .plan(&PlanOptions::default())
            .await
            .unwrap()
            .has_changes());

        // Replace: a shrinking disk cannot be done in place.
        let shrunk = Shape {
            data_disk: "10G",
            ..shape3.clone()
        };
        let e_shrunk = engine(&conn, dir.path(), &shrunk);
        let plan = e_shrunk.plan(&PlanOptions::default()).await.unwrap();
        for vm in ["app0", "app1"] {
            let step = plan
                .step(&lab_core::Address::new("proxmox.vm", vm))
                .expect("vm step");
            assert_eq!(step.action, Action::Replace);
            assert!(
                step.changes
                    .iter()
                    .any(|c| c.field == "disks" && c.forces_replacement),
                "{:#?}",
                step.changes
            );
        }
        let rendered = lab_core::plan::render::render(&plan, false);
        assert!(rendered.contains("-/+ proxmox.vm.app0"), "{rendered}");
        assert!(rendered.contains("# forces replacement"), "{rendered}");
        let report = e_shrunk.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert!(!e_shrunk
            .plan(&PlanOptions::default())
            .await
            .unwrap()
            .has_changes());

        // Delete: one VM leaves the code; it is stopped and purged.
        let shape4 = Shape { vms: 1, ..shrunk };
        let e4 = engine(&conn, dir.path(), &shape4);
        let plan = e4.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (0, 0, 1));
        let report = e4.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert_eq!(guest_names(&conn), vec!["app0", "debian-13", "paperless"]);
        let requests = conn.simulator().unwrap().requests();
        let stop = requests
            .iter()
            .position(|r| r.method == "POST" && r.path.ends_with("/status/stop"));
        let destroy = requests
            .iter()
            .position(|r| r.method == "DELETE" && r.path.contains("/qemu/"));
        assert!(
            stop.is_some() && destroy.is_some() && stop < destroy,
            "a running VM is stopped before it is destroyed"
        );
        let d = &requests[destroy.unwrap()];
        assert!(d.params.iter().any(|(k, v)| k == "purge" && v == "1"));

        // Destroy everything.
        let plan = e4.plan_destroy().await.unwrap();
        let report = e4.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert!(guest_names(&conn).is_empty());
        // The files went through `imgdel` tasks the provider waited for.
        let world = conn.simulator().unwrap().world();
        let files: Vec<&str> = world
            .volumes
            .iter()
            .filter(|v| matches!(v.content.as_str(), "import" | "vztmpl"))
            .map(|v| v.volid.as_str())
            .collect();
        assert!(files.is_empty(), "files left: {files:?}");
        let requests = conn.simulator().unwrap().requests();
        let deletes = requests
            .iter()
            .filter(|r| r.method == "DELETE" && r.path.contains("/content/"))
            .count();
        assert!(deletes >= 2, "{deletes} volume deletes");
        let polls = requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains("%3Aimgdel%3A"))
            .count();
        assert!(
            polls >= deletes,
            "{polls} imgdel polls for {deletes} deletes"
        );
    });
    assert_schema_clean(&conn);
}

#[test]
fn twenty_parallel_clones_from_one_template_succeed() {
    let dir = tempfile::tempdir().unwrap();
    // Clones take longer than the lock timeout: unserialised, they would fail.
    let mut config = sim_config();
    config.task_latency = TaskLatency::instant().with("qmclone", Duration::from_millis(150));
    config.lock_timeout = Duration::from_millis(100);
    let conn = connect(dir.path(), config);
    runtime().block_on(async {
        let shape = Shape {
            vms: 20,
            ..Shape::default()
        };
        let e = engine(&conn, dir.path(), &shape);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{:#?}", report.failed);
        let clones = report
            .done
            .iter()
            .filter(|d| d.op == OpKind::Create && d.address.kind() == "proxmox.vm")
            .count();
        assert_eq!(clones, 20);
        assert_eq!(
            guest_names(&conn)
                .iter()
                .filter(|n| n.starts_with("app"))
                .count(),
            20
        );
        let vmids: BTreeSet<u64> = conn
            .simulator()
            .unwrap()
            .world()
            .guests()
            .iter()
            .map(|g| g.vmid)
            .collect();
        assert_eq!(vmids.len(), 22, "unique VMIDs");
    });
    assert_schema_clean(&conn);
}

#[test]
fn a_crash_mid_apply_is_adopted_on_the_next_run() {
    // While the first clone task runs (the guest exists only as the clone's
    // target), and just after it ended (before its settings were written).
    for after_clone in [Duration::ZERO, Duration::from_millis(120)] {
        crash_mid_apply_then_rerun(after_clone);
    }
}

fn crash_mid_apply_then_rerun(after_clone: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sim_config();
    config.task_latency = TaskLatency::instant().with("qmclone", Duration::from_millis(100));
    let conn = connect(dir.path(), config);
    let rt = runtime();
    let shape = Shape {
        vms: 4,
        ..Shape::default()
    };
    rt.block_on(async {
        let e = engine(&conn, dir.path(), &shape);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        // The process dies as soon as the first clone is under way.
        let sim = conn.simulator().unwrap();
        let crash = async {
            loop {
                if sim.requests().iter().any(|r| r.path.ends_with("/clone")) {
                    tokio::time::sleep(after_clone).await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let o = opts();
        tokio::select! {
            _ = e.apply(&plan, &o) => panic!("the apply finished before the crash"),
            _ = crash => {}
        }
    });
    rt.block_on(async {
        // Let the orphaned tasks finish, as they would on a real node.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let e = engine(&conn, dir.path(), &shape);
        let rerun = apply(&e).await;
        // The adopted clones keep what Proxmox does not record (their
        // template), so they are not replaced.
        let replaced: Vec<_> = rerun
            .steps
            .iter()
            .filter(|s| s.address.kind() == "proxmox.vm" && s.action == Action::Replace)
            .map(|s| (&s.address, &s.changes))
            .collect();
        assert!(replaced.is_empty(), "{replaced:#?}");
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(
            !again.has_changes(),
            "{:#?}",
            again
                .steps
                .iter()
                .map(|s| (&s.address, s.action, &s.changes))
                .collect::<Vec<_>>()
        );
        let names = guest_names(&conn);
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!(names.len(), unique.len(), "no duplicate guest: {names:?}");
        assert_eq!(
            names,
            vec!["app0", "app1", "app2", "app3", "debian-13", "paperless"]
        );
        let state = FileStateStore::new(dir.path().join(".lab"))
            .load()
            .unwrap()
            .unwrap();
        let vmids: BTreeSet<u64> = conn
            .simulator()
            .unwrap()
            .world()
            .guests()
            .iter()
            .map(|g| g.vmid)
            .collect();
        let recorded: BTreeSet<u64> = state
            .resources
            .iter()
            .filter(|(a, _)| {
                a.kind() == "proxmox.vm"
                    || a.kind() == "proxmox.ct"
                    || a.kind() == "proxmox.template"
            })
            .map(|(_, r)| r.id.parse().unwrap())
            .collect();
        assert_eq!(vmids, recorded, "every guest is in state, no orphan");
    });
    assert_schema_clean(&conn);
}

/// The exact keys each operation sends (the contract bpg tests, with the
/// official schema as the oracle for their validity).
#[test]
fn each_operation_sends_exactly_these_form_keys() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path(), sim_config());
    runtime().block_on(async {
        let e = engine(
            &conn,
            dir.path(),
            &Shape {
                vms: 1,
                ..Shape::default()
            },
        );
        apply(&e).await;
    });
    let requests = conn.simulator().unwrap().requests();
    let keys = |method: &str, suffix: &str| -> Vec<BTreeSet<String>> {
        requests
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .map(|r| {
                r.params
                    .iter()
                    .map(|(k, _)| k.clone())
                    .filter(|k| k != "node" && k != "vmid" && k != "storage")
                    .collect()
            })
            .collect()
    };
    let set = |ks: &[&str]| {
        ks.iter()
            .map(|k| k.to_string())
            .collect::<BTreeSet<String>>()
    };
    assert_eq!(
        keys("POST", "/storage"),
        vec![set(&["type", "server", "export", "content"])]
    );
    assert_eq!(
        keys("POST", "/download-url"),
        vec![set(&["content", "filename", "url"]); 2]
    );
    assert_eq!(
        keys("POST", "/clone"),
        vec![set(&["newid", "name", "description", "full", "pool"])]
    );
    let config_posts: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/config"))
        .collect();
    assert_eq!(config_posts.len(), 1);
    let sent: BTreeSet<String> = config_posts[0]
        .params
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    for k in [
        "name",
        "cores",
        "memory",
        "net0",
        "ciuser",
        "sshkeys",
        "ipconfig0",
        "agent",
        "onboot",
        "tags",
        "description",
        "scsi1",
    ] {
        assert!(sent.contains(k), "config update lacks `{k}`: {sent:?}");
    }
    let sshkeys = &config_posts[0]
        .params
        .iter()
        .find(|(k, _)| k == "sshkeys")
        .unwrap()
        .1;
    assert!(
        sshkeys.starts_with("ssh-ed25519%20AAAA"),
        "sshkeys are percent-encoded before form encoding: {sshkeys}"
    );
    assert_eq!(
        keys("POST", "/lxc"),
        vec![set(&[
            "ostemplate",
            "hostname",
            "cores",
            "memory",
            "swap",
            "net0",
            "features",
            "onboot",
            "tags",
            "description",
            "rootfs",
            "mp0",
            "unprivileged",
        ])]
    );
    let template_create = requests
        .iter()
        .find(|r| r.method == "POST" && r.path == "/nodes/pve1/qemu")
        .expect("the template is created");
    let scsi0 = template_create.param("scsi0").unwrap_or_default();
    assert!(
        scsi0.starts_with("local-lvm:0,import-from=local:import/"),
        "{scsi0}"
    );
    assert_eq!(keys("PUT", "/resize"), vec![set(&["disk", "size"])]);
    assert_eq!(keys("POST", "/template").len(), 1);
    assert_schema_clean(&conn);
}

/// A VMID the lab recorded but that no longer carries the lab's tag is not
/// the lab's guest: refresh treats the lab's guest as gone, and destroy
/// leaves the stranger alone.
#[test]
fn a_guest_without_the_labs_tag_is_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path(), sim_config());
    runtime().block_on(async {
        let shape = Shape {
            vms: 1,
            ..Shape::default()
        };
        let e = engine(&conn, dir.path(), &shape);
        apply(&e).await;
        let state = FileStateStore::new(dir.path().join(".lab"))
            .load()
            .unwrap()
            .unwrap();
        let app0 = lab_core::Address::new("proxmox.vm", "app0");
        let vmid = state.resources[&app0].id.clone();
        // Someone re-purposes the VM: the lab's tag is gone.
        let form = lab_proxmox::api::Form::new().str("tags", "someone-else");
        conn.client()
            .put(&format!("/nodes/pve1/qemu/{vmid}/config"), &form)
            .await
            .unwrap();
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let step = plan.step(&app0).expect("app0 is planned again");
        assert_eq!(step.action, Action::Create);
        assert_eq!(step.reason.as_deref(), Some("deleted outside the lab"));

        let destroy = e.plan_destroy().await.unwrap();
        let report = e.apply(&destroy, &opts()).await.unwrap();
        assert_eq!(report.failed.len(), 1, "{report:#?}");
        assert_eq!(report.failed[0].address, app0);
        assert!(
            report.failed[0].error.contains("left alone"),
            "{}",
            report.failed[0].error
        );
        let names = guest_names(&conn);
        assert!(
            names.contains(&"app0".to_string()),
            "the stranger survives: {names:?}"
        );
    });
    assert_schema_clean(&conn);
}

/// A Talos-style VM booting an ISO (no clone, an empty disk, VirtIO SCSI,
/// q35, no balloon); tests vary the balloon and the disc.
fn iso_lab(conn: &Connection, balloon: u32, iso: Option<&str>) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local_lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso, Content::Import])
            .node(&pve1),
    );
    let talos = |lab: &mut Lab, name: &str, version: &str| {
        lab.add(
            File::download(
                name,
                &pve1,
                &local,
                Content::Iso,
                &format!("https://factory.talos.dev/image/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba/{version}/metal-amd64.iso"),
            )
            .filename(&format!("talos-{version}-metal-amd64.iso")),
        )
    };
    let isos = [
        ("talos-a", talos(&mut lab, "talos-a", "v1.13.8")),
        ("talos-b", talos(&mut lab, "talos-b", "v1.13.9")),
    ];
    let mut vm = Vm::new("cp1", &pve1)
        .memory_mb(2048)
        .disk("scsi0", &local_lvm, "32G")
        .scsi_controller("virtio-scsi-pci")
        .machine("q35")
        .balloon_mb(balloon)
        .nic("net0", "vmbr0");
    if let Some((_, file)) = isos.iter().find(|(n, _)| Some(*n) == iso) {
        vm = vm.cdrom(file);
    }
    lab.add(vm);
    lab
}

fn iso_engine(conn: &Connection, dir: &Path, balloon: u32, iso: Option<&str>) -> Engine {
    Engine::new(
        iso_lab(conn, balloon, iso),
        FileStateStore::new(dir.join(".lab")),
    )
}

fn cp1_config(conn: &Connection) -> std::collections::BTreeMap<String, String> {
    conn.simulator()
        .unwrap()
        .world()
        .guests()
        .into_iter()
        .find(|g| g.name == "cp1")
        .expect("cp1 exists")
        .config
}

/// The one step of a plan, for `cp1`, with its changed fields.
fn cp1_step(plan: &lab_core::Plan) -> (Action, Vec<(String, bool)>) {
    let steps: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Create || s.address.kind() == "proxmox.vm")
        .collect();
    assert_eq!(steps.len(), 1, "{:#?}", plan.steps);
    let step = plan
        .step(&lab_core::Address::new("proxmox.vm", "cp1"))
        .expect("a step for cp1");
    let fields = step
        .changes
        .iter()
        .map(|c| (c.field.clone(), c.forces_replacement))
        .collect();
    (step.action, fields)
}

#[test]
fn a_vm_boots_an_iso_with_virtio_scsi_q35_and_no_balloon() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path(), sim_config());
    runtime().block_on(async {
        let e = iso_engine(&conn, dir.path(), 0, Some("talos-a"));
        let plan = apply(&e).await;
        assert_eq!(plan.counts(), (3, 0, 0), "{:#?}", plan.steps);

        // One create call: no clone, the settings and the disc in ide2.
        let requests = conn.simulator().unwrap().requests();
        let create = requests
            .iter()
            .find(|r| r.method == "POST" && r.path == "/nodes/pve1/qemu")
            .expect("the VM is created");
        assert!(!requests.iter().any(|r| r.path.ends_with("/clone")));
        assert_eq!(
            create.param("ide2"),
            Some("local:iso/talos-v1.13.8-metal-amd64.iso,media=cdrom")
        );
        assert_eq!(create.param("scsihw"), Some("virtio-scsi-pci"));
        assert_eq!(create.param("machine"), Some("q35"));
        assert_eq!(create.param("balloon"), Some("0"));
        assert_eq!(create.param("scsi0"), Some("local-lvm:32"));
        assert_eq!(
            create.params.iter().filter(|(k, _)| k == "scsihw").count(),
            1
        );
        let config = cp1_config(&conn);
        assert!(
            config["ide2"].starts_with("local:iso/talos-v1.13.8-metal-amd64.iso,media=cdrom,size="),
            "{}",
            config["ide2"]
        );
        assert_eq!(config["scsihw"], "virtio-scsi-pci");
        assert_eq!(config["machine"], "q35");
        assert_eq!(config["balloon"], "0");
        assert_eq!(config["boot"], "order=scsi0;ide2;net0");

        // Unchanged: no changes.
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);

        // The balloon on: in place (the VM runs, so Proxmox takes it at the
        // reboot the provider does).
        let e = iso_engine(&conn, dir.path(), 1024, Some("talos-a"));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(
            cp1_step(&plan),
            (Action::Update, vec![("balloon".to_string(), false)])
        );
        apply_plan(&e, &plan).await;
        assert_eq!(cp1_config(&conn)["balloon"], "1024");
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);

        // Another disc: swapped in place, in the same drive.
        let e = iso_engine(&conn, dir.path(), 1024, Some("talos-b"));
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let (action, fields) = cp1_step(&plan);
        assert_eq!(action, Action::Update);
        assert!(fields.contains(&("cdrom".to_string(), false)), "{fields:?}");
        assert!(fields.iter().all(|(_, forces)| !forces), "{fields:?}");
        apply_plan(&e, &plan).await;
        let config = cp1_config(&conn);
        assert!(
            config["ide2"].starts_with("local:iso/talos-v1.13.9-metal-amd64.iso,media=cdrom"),
            "{}",
            config["ide2"]
        );
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);

        // No disc any more: the lab's disc is ejected, the drive stays.
        let e = iso_engine(&conn, dir.path(), 1024, None);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(
            cp1_step(&plan),
            (Action::Update, vec![("cdrom".to_string(), false)])
        );
        apply_plan(&e, &plan).await;
        assert_eq!(cp1_config(&conn)["ide2"], "none,media=cdrom");
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
    });
    assert_schema_clean(&conn);
}

async fn apply_plan(engine: &Engine, plan: &lab_core::Plan) {
    let report = engine.apply(plan, &opts()).await.expect("apply");
    assert!(report.is_success(), "{report:#?}");
}
