//! The topologies the failure-domain tests share, built by hand, and
//! small helpers over diagnostics.
#![allow(dead_code)]

use std::time::Duration;

use lab_core::{Address, ApplianceKind, Diagnostic};
use lab_pbs::failures::*;

pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;
pub const DAY: Duration = Duration::from_secs(86_400);
pub const HOUR: Duration = Duration::from_secs(3_600);

pub fn a(s: &str) -> Address {
    Address::parse(s).unwrap()
}

pub fn sched(s: &str) -> Schedule {
    Schedule::parse(s).unwrap()
}

pub fn codes(d: &[Diagnostic]) -> Vec<&str> {
    d.iter().map(|d| d.code.as_str()).collect()
}

pub fn of<'a>(d: &'a [Diagnostic], code: &str) -> Vec<&'a Diagnostic> {
    d.iter().filter(|d| d.code == code).collect()
}

pub fn analyze(t: &Topology) -> FailureReport<'_> {
    t.analyze(&AnalysisOptions::default()).unwrap()
}

/// The seed's lab: guests on two nodes and the primary NAS, the photos on
/// the primary NAS, media on the second NAS; the PBS server on its own
/// box writing the daily copy to the second NAS, the off-site PBS pulling
/// the archive copy every Sunday.
pub fn seed() -> Topology {
    let mut t = Topology::default();
    for (name, kind) in [
        ("pve1-disk", ApplianceKind::NodeDisk),
        ("pve2-disk", ApplianceKind::NodeDisk),
        ("nas1", ApplianceKind::Nas),
        ("nas2", ApplianceKind::Nas),
        ("pbs", ApplianceKind::BackupServer),
    ] {
        t.appliances
            .push(ApplianceInfo::new(Address::new("appliance", name), kind).site("home"));
    }
    t.appliances
        .push(ApplianceInfo::new(a("appliance.offsite"), ApplianceKind::Offsite).site("friend"));
    t.nodes.push(ComputeNode::new(
        a("proxmox.node.pve1"),
        a("appliance.pve1-disk"),
        64 * 1024,
        16,
    ));
    t.nodes.push(ComputeNode::new(
        a("proxmox.node.pve2"),
        a("appliance.pve2-disk"),
        64 * 1024,
        16,
    ));
    t.guests.push(
        Guest::new(a("proxmox.vm.immich"), a("proxmox.node.pve1"), 8192, 4)
            .disk(a("appliance.nas1"), 100 * GIB),
    );
    t.guests.push(
        Guest::new(a("proxmox.ct.paperless"), a("proxmox.node.pve2"), 4096, 2)
            .disk(a("appliance.pve2-disk"), 20 * GIB),
    );
    t.guests.push(
        Guest::new(a("proxmox.vm.talos-cp1"), a("proxmox.node.pve1"), 4096, 2)
            .disk(a("appliance.pve1-disk"), 40 * GIB)
            .rebuildable(),
    );
    t.pools.push(
        PoolData::new(a("proxmox.nas_pool.photos"), a("appliance.nas1")).size(2 * TIB, 4 * TIB),
    );
    t.pools.push(
        PoolData::new(a("proxmox.nas_pool.media"), a("appliance.nas2")).size(TIB / 2, 4 * TIB),
    );
    t.servers.push(BackupServer::new(
        a("pbs.server.main"),
        vec![a("appliance.pbs")],
    ));
    t.servers.push(BackupServer::new(
        a("pbs.server.offsite"),
        vec![a("appliance.offsite")],
    ));
    t.datastores.push(
        Datastore::new(
            a("pbs.datastore.daily"),
            a("pbs.server.main"),
            a("appliance.nas2"),
        )
        .retention(Retention {
            daily: Some(7),
            weekly: Some(4),
            ..Default::default()
        }),
    );
    t.datastores.push(
        Datastore::new(
            a("pbs.datastore.archive"),
            a("pbs.server.offsite"),
            a("appliance.offsite"),
        )
        .retention(Retention {
            weekly: Some(8),
            monthly: Some(12),
            ..Default::default()
        }),
    );
    t.backup_jobs.push(BackupJob::new(
        a("pbs.backup_job.nightly"),
        Selection::AllExcept(vec![a("proxmox.vm.talos-cp1")]),
        a("pbs.datastore.daily"),
        sched("02:00"),
    ));
    t.backup_jobs.push(BackupJob::new(
        a("pbs.backup_job.shares"),
        Selection::Only(vec![
            a("proxmox.nas_pool.photos"),
            a("proxmox.nas_pool.media"),
        ]),
        a("pbs.datastore.daily"),
        sched("03:00"),
    ));
    t.sync_jobs.push(SyncJob::new(
        a("pbs.sync_job.offsite"),
        a("pbs.datastore.daily"),
        a("pbs.datastore.archive"),
        sched("sun 04:00"),
    ));
    t
}

/// Two nodes, one guest on the primary NAS, the main PBS on its own box
/// writing the daily copy to the second NAS, an off-site PBS pulling the
/// archive every Sunday: the smallest sound lab, to vary.
pub fn small() -> Topology {
    let mut t = Topology::default();
    for (name, kind) in [
        ("pve1-disk", ApplianceKind::NodeDisk),
        ("pve2-disk", ApplianceKind::NodeDisk),
        ("nas1", ApplianceKind::Nas),
        ("nas2", ApplianceKind::Nas),
        ("pbs", ApplianceKind::BackupServer),
        ("offsite", ApplianceKind::Offsite),
    ] {
        t.appliances
            .push(ApplianceInfo::new(Address::new("appliance", name), kind));
    }
    for n in ["pve1", "pve2"] {
        t.nodes.push(ComputeNode::new(
            Address::new("proxmox.node", n),
            Address::new("appliance", &format!("{n}-disk")),
            32 * 1024,
            8,
        ));
    }
    t.guests.push(
        Guest::new(a("proxmox.vm.app"), a("proxmox.node.pve1"), 2048, 2)
            .disk(a("appliance.nas1"), 10 * GIB),
    );
    t.servers.push(BackupServer::new(
        a("pbs.server.main"),
        vec![a("appliance.pbs")],
    ));
    t.servers.push(BackupServer::new(
        a("pbs.server.offsite"),
        vec![a("appliance.offsite")],
    ));
    t.datastores.push(Datastore::new(
        a("pbs.datastore.daily"),
        a("pbs.server.main"),
        a("appliance.nas2"),
    ));
    t.datastores.push(
        Datastore::new(
            a("pbs.datastore.archive"),
            a("pbs.server.offsite"),
            a("appliance.offsite"),
        )
        .retention(Retention {
            weekly: Some(4),
            ..Default::default()
        }),
    );
    t.backup_jobs.push(BackupJob::new(
        a("pbs.backup_job.nightly"),
        Selection::All,
        a("pbs.datastore.daily"),
        sched("02:00"),
    ));
    t.sync_jobs.push(SyncJob::new(
        a("pbs.sync_job.pull"),
        a("pbs.datastore.daily"),
        a("pbs.datastore.archive"),
        sched("sun 04:00"),
    ));
    t
}

/// Two nodes with guests, and a third to lose.
pub fn crowded() -> Topology {
    let mut t = Topology::default();
    for n in 1..=3 {
        t.appliances.push(ApplianceInfo::new(
            Address::new("appliance", &format!("pve{n}-disk")),
            ApplianceKind::NodeDisk,
        ));
        t.nodes.push(ComputeNode::new(
            Address::new("proxmox.node", &format!("pve{n}")),
            Address::new("appliance", &format!("pve{n}-disk")),
            16 * 1024,
            8,
        ));
    }
    t.appliances
        .push(ApplianceInfo::new(a("appliance.nas"), ApplianceKind::Nas));
    // pve1 and pve2 each carry 10 GiB; pve3 carries 8 + 4 + 2 GiB.
    for (name, node, mem) in [
        ("a", 1, 10),
        ("b", 2, 10),
        ("big", 3, 8),
        ("mid", 3, 4),
        ("small", 3, 2),
    ] {
        t.guests.push(
            Guest::new(
                Address::new("proxmox.vm", name),
                Address::new("proxmox.node", &format!("pve{node}")),
                mem * 1024,
                1,
            )
            .disk(a("appliance.nas"), 10 * GIB)
            .rebuildable(),
        );
    }
    t
}
