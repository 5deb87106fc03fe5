//! The failure-domain analysis (criterion): 500 guests on 4 nodes, 10
//! appliances, 12 pools, 2 PBS servers with 3 datastores, 6 backup jobs
//! and 2 sync jobs; every single and every pair of appliance losses
//! (10 + 45 scenarios), then every check. Target: under 100 ms.
//!
//! `failures/analyze_pairs/500`: `Topology::analyze` with `pairs`;
//! `failures/analyze_pairs_and_check/500`: the same and
//! `FailureReport::diagnostics`; `failures/render_table/500`: the loss
//! table of that report.

use criterion::{criterion_group, criterion_main, Criterion};
use lab::core::{Address, ApplianceKind};
use lab_pbs::failures::*;

const GIB: u64 = 1 << 30;

fn topology(guests: usize) -> Topology {
    let mut t = Topology::default();
    let app = |n: &str| Address::new("appliance", n);
    for n in 1..=4 {
        t.appliances.push(ApplianceInfo::new(
            app(&format!("pve{n}-disk")),
            ApplianceKind::NodeDisk,
        ));
        t.nodes.push(ComputeNode::new(
            Address::new("proxmox.node", &format!("pve{n}")),
            app(&format!("pve{n}-disk")),
            512 * 1024,
            128,
        ));
    }
    for (n, kind) in [
        ("nas1", ApplianceKind::Nas),
        ("nas2", ApplianceKind::Nas),
        ("nas3", ApplianceKind::Nas),
        ("pbs", ApplianceKind::BackupServer),
        ("offsite", ApplianceKind::Offsite),
        ("switch", ApplianceKind::Other),
    ] {
        t.appliances.push(ApplianceInfo::new(app(n), kind));
    }
    let disk_on = [
        "pve1-disk",
        "pve2-disk",
        "pve3-disk",
        "pve4-disk",
        "nas1",
        "nas2",
    ];
    for g in 0..guests {
        let node = g % 4 + 1;
        t.guests.push(
            Guest::new(
                Address::new("proxmox.vm", &format!("guest{g}")),
                Address::new("proxmox.node", &format!("pve{node}")),
                512 + (g as u64 % 8) * 256,
                1 + (g as u32 % 3),
            )
            .disk(app(disk_on[g % disk_on.len()]), 16 * GIB)
            .keep_running(g % 5 != 0)
            .rpo_target(std::time::Duration::from_secs(2 * 86_400)),
        );
    }
    for p in 0..12 {
        let on = ["nas1", "nas2", "nas3"][p % 3];
        t.pools.push(
            PoolData::new(
                Address::new("proxmox.nas_pool", &format!("pool{p}")),
                app(on),
            )
            .size(200 * GIB * (p as u64 + 1), 8 << 40),
        );
    }
    t.servers.push(BackupServer::new(
        Address::new("pbs.server", "main"),
        vec![app("pbs")],
    ));
    t.servers.push(BackupServer::new(
        Address::new("pbs.server", "offsite"),
        vec![app("offsite")],
    ));
    let ds = |n: &str| Address::new("pbs.datastore", n);
    t.datastores.push(Datastore::new(
        ds("daily"),
        Address::new("pbs.server", "main"),
        app("nas3"),
    ));
    t.datastores.push(Datastore::new(
        ds("local"),
        Address::new("pbs.server", "main"),
        app("pbs"),
    ));
    t.datastores.push(Datastore::new(
        ds("archive"),
        Address::new("pbs.server", "offsite"),
        app("offsite"),
    ));
    let schedules = ["02:00", "03:00", "*:0/30", "mon..fri 01:00", "sun 05:00"];
    for (j, s) in schedules.iter().enumerate() {
        let selected = (0..guests)
            .filter(|g| g % schedules.len() == j)
            .map(|g| Address::new("proxmox.vm", &format!("guest{g}")))
            .collect();
        t.backup_jobs.push(BackupJob::new(
            Address::new("pbs.backup_job", &format!("job{j}")),
            Selection::Only(selected),
            ds("daily"),
            Schedule::parse(s).unwrap(),
        ));
    }
    t.backup_jobs.push(BackupJob::new(
        Address::new("pbs.backup_job", "shares"),
        Selection::Only(
            (0..12)
                .map(|p| Address::new("proxmox.nas_pool", &format!("pool{p}")))
                .collect(),
        ),
        ds("daily"),
        Schedule::parse("04:00").unwrap(),
    ));
    t.sync_jobs.push(SyncJob::new(
        Address::new("pbs.sync_job", "local"),
        ds("daily"),
        ds("local"),
        Schedule::parse("*:15").unwrap(),
    ));
    t.sync_jobs.push(SyncJob::new(
        Address::new("pbs.sync_job", "offsite"),
        ds("daily"),
        ds("archive"),
        Schedule::parse("sun 06:00").unwrap(),
    ));
    t
}

fn bench(c: &mut Criterion) {
    let t = topology(500);
    let options = AnalysisOptions {
        pairs: true,
        ..Default::default()
    };
    let report = t.analyze(&options).expect("a sound topology");
    println!(
        "failures: {} appliances, {} guests, {} scenarios, {} findings",
        t.appliances.len(),
        t.guests.len(),
        report.scenarios.len(),
        report.diagnostics().len()
    );
    let mut g = c.benchmark_group("failures");
    g.bench_function("analyze_pairs/500", |b| {
        b.iter(|| t.analyze(&options).expect("analysis").scenarios.len())
    });
    g.bench_function("analyze_pairs_and_check/500", |b| {
        b.iter(|| t.analyze(&options).expect("analysis").diagnostics().len())
    });
    g.bench_function("render_table/500", |b| {
        b.iter(|| report.render_table().len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
