//! 20 clones of one template against the simulated Proxmox VE with its
//! default task delays (real client, real TLS, real provider, the engine's
//! apply), linked and full, against the bound of the simulator's lock and
//! bandwidth model.
//!
//! The model (pve-sim, after qemu-server's `clone_vm` and pve-storage's
//! `vdisk_alloc`): a template is locked shared, so its clones run at once;
//! the storage lock covers only each allocation; a full clone then copies
//! its disks, sharing the storage's `copy_bandwidth` with every copy
//! running there; a linked clone copies nothing. With every clone fired at
//! once, no schedule can end before
//!
//! - linked: `qmclone + qmconfig` (one clone's tasks: the clone, then the
//!   settings the provider writes);
//! - full: `qmclone + N * bytes / copy_bandwidth + qmconfig` (every copy
//!   shares one storage, so the last ends after all bytes went through).
//!
//! Before the criterion groups, the bench prints one run of each, parallel
//! (the provider's default) and one clone of the template at a time
//! (`ProxmoxOptions::clones_per_template = Some(1)`, what the provider did
//! before), with its makespan, the bound and the ratio (target <= 1.10).
//! The state is kept in memory for those (the bound is about PVE's locks
//! and disks); the parallel run is repeated with the state file, whose
//! fsynced journal records and saves are lab's own durability cost.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use lab::core::plan::PlanOptions;
use lab::core::{ApplyOptions, FileStateStore, MemoryStateStore};
use lab::prelude::*;
use lab::proxmox::model::*;
use lab::proxmox::sim::{SimConfig, TaskLatency};
use lab::proxmox::{Connection, ProxmoxOptions};

const CLONES: usize = 20;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A template from a cloud image on `local-lvm` and `clones` VMs cloned
/// from it (linked or full), stopped, no disks of their own.
fn lab(conn: &Connection, options: ProxmoxOptions, clones: usize, linked: bool) -> Lab {
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
                .nic("net0", "vmbr0")
                .started(false),
        );
    }
    lab
}

/// One measured apply of the clones and the model's bound for it.
struct Run {
    makespan: Duration,
    bound: Duration,
}

fn apply(rt: &tokio::runtime::Runtime, engine: &Engine) -> Duration {
    rt.block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let opts = ApplyOptions::default();
        let start = Instant::now();
        let report = engine.apply(&plan, &opts).await.expect("apply");
        let took = start.elapsed();
        assert!(report.is_success(), "{:?}", report.failed.first());
        took
    })
}

/// Where the engine keeps the state.
#[derive(Clone, Copy)]
enum Store {
    Memory,
    File,
}

/// A fresh simulator with the default task delays and the template made;
/// then the timed apply of the `CLONES` clones.
fn run(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    options: &ProxmoxOptions,
    linked: bool,
    store: Store,
) -> Run {
    let latency = TaskLatency::default();
    let config = SimConfig {
        auth_failure_delay: Duration::ZERO,
        task_latency: latency.clone(),
        ..SimConfig::default()
    };
    let conn = Connection::simulated(config, dir.join("pve.json")).expect("simulator");
    let memory = MemoryStateStore::new();
    let engine = |lab: Lab| match store {
        Store::Memory => Engine::new(lab, memory.clone()),
        Store::File => Engine::new(lab, FileStateStore::new(dir.join(".lab"))),
    };
    let setup = engine(lab(&conn, options.clone(), 0, linked));
    apply(rt, &setup);
    // What a full clone copies: the template's disks (not its cloud-init
    // drive, which is allocated anew).
    let world = conn.simulator().expect("simulated").world();
    let copied: u64 = world
        .volumes
        .iter()
        .filter(|v| v.volid.contains(":base-") && !v.volid.contains("cloudinit"))
        .map(|v| v.size)
        .sum();
    let makespan = apply(rt, &engine(lab(&conn, options.clone(), CLONES, linked)));
    let copy = if linked {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(CLONES as f64 * copied as f64 / latency.copy_bandwidth as f64)
    };
    Run {
        makespan,
        bound: latency.qmclone + copy + latency.qmconfig,
    }
}

fn benches(c: &mut Criterion) {
    let rt = rt();
    let parallel = ProxmoxOptions::default();
    let serial = ProxmoxOptions {
        clones_per_template: Some(1),
        ..ProxmoxOptions::default()
    };
    for (kind, linked) in [("linked", true), ("full", false)] {
        let one = |options: &ProxmoxOptions, store: Store| {
            let dir = tempfile::tempdir().expect("tempdir");
            run(&rt, dir.path(), options, linked, store)
        };
        let p = one(&parallel, Store::Memory);
        let s = one(&serial, Store::Memory);
        let f = one(&parallel, Store::File);
        let secs = |d: Duration| d.as_secs_f64();
        println!(
            "figure: {CLONES} {kind} clones of one template (default delays): parallel {:.2} s, \
             bound {:.2} s, ratio {:.3} (target <= 1.10); one at a time {:.2} s ({:.1}x the \
             parallel makespan); parallel with the state file {:.2} s (ratio {:.3})",
            secs(p.makespan),
            secs(p.bound),
            secs(p.makespan) / secs(p.bound),
            secs(s.makespan),
            secs(s.makespan) / secs(p.makespan),
            secs(f.makespan),
            secs(f.makespan) / secs(p.bound),
        );
    }

    let mut g = c.benchmark_group("clones");
    g.sample_size(10);
    for (kind, linked) in [("linked", true), ("full", false)] {
        g.bench_function(format!("{CLONES}_{kind}_parallel"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().expect("tempdir");
                    total += run(&rt, dir.path(), &parallel, linked, Store::Memory).makespan;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(clones, benches);
criterion_main!(clones);
