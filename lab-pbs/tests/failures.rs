//! `lab_pbs::failures` on hand-built topologies: the seed's design (backup
//! server, daily copy and archive copy on three separate appliances) loses
//! nothing to any single loss, its variant with the archive on the primary
//! NAS does; each check fires where it should and not elsewhere; RPOs and
//! capacity worked out by hand; the renderings are stable.

use std::time::Duration;

use lab_core::{Address, ApplianceKind, Diagnostic};
use lab_pbs::failures::checks::*;
use lab_pbs::failures::*;

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);

fn a(s: &str) -> Address {
    Address::parse(s).unwrap()
}

fn sched(s: &str) -> Schedule {
    Schedule::parse(s).unwrap()
}

fn codes(d: &[Diagnostic]) -> Vec<&str> {
    d.iter().map(|d| d.code.as_str()).collect()
}

fn of<'a>(d: &'a [Diagnostic], code: &str) -> Vec<&'a Diagnostic> {
    d.iter().filter(|d| d.code == code).collect()
}

fn analyze(t: &Topology) -> FailureReport<'_> {
    t.analyze(&AnalysisOptions::default()).unwrap()
}

/// The seed's lab: guests on two nodes and the primary NAS, the photos on
/// the primary NAS, media on the second NAS; the PBS server on its own
/// box writing the daily copy to the second NAS, the off-site PBS pulling
/// the archive copy every Sunday.
fn seed() -> Topology {
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

#[test]
fn the_seed_design_loses_nothing_to_any_single_loss() {
    let t = seed();
    let report = analyze(&t);
    for s in report.singles() {
        // Only the Talos node, rebuilt from config, is ever gone.
        let lost: Vec<&Address> = s.lost_data().map(|i| &report.data[i].address).collect();
        let expected = if s.lost == [a("appliance.pve1-disk")] {
            vec![&t.guests[2].address]
        } else {
            vec![]
        };
        assert_eq!(lost, expected, "losing {:?}", s.lost);
    }
    let diags = report.diagnostics();
    assert!(diags.is_empty(), "{diags:#?}");

    // Losing the primary NAS: immich and the photos come back from the
    // daily copy, a day old at worst.
    let nas1 = report.scenario(&[&a("appliance.nas1")]).unwrap();
    let (immich, _) = report.data_item(&a("proxmox.vm.immich")).unwrap();
    let (photos, photos_report) = report.data_item(&a("proxmox.nas_pool.photos")).unwrap();
    assert_eq!(nas1.outcome(immich).rpo(), Rpo::AtMost(DAY));
    let Outcome::Restorable { copy, .. } = nas1.outcome(photos) else {
        panic!("photos restorable");
    };
    assert_eq!(photos_report.copies[copy].place, a("pbs.datastore.daily"));
    assert_eq!(
        photos_report.copies[copy].server,
        Some(a("pbs.server.main"))
    );
    // The photos' restore fits on the media pool (3.5 TiB free).
    let nas = nas1.nas_capacity.as_ref().unwrap();
    assert_eq!(
        nas.placed,
        vec![(a("proxmox.nas_pool.photos"), a("proxmox.nas_pool.media"))]
    );

    // Losing the second NAS takes the daily copy and the media pool: media
    // comes back from the archive, 1 day (backup) + 7 days (sync) old at worst.
    let nas2 = report.scenario(&[&a("appliance.nas2")]).unwrap();
    let (media, media_report) = report.data_item(&a("proxmox.nas_pool.media")).unwrap();
    let Outcome::Restorable { copy, rpo } = nas2.outcome(media) else {
        panic!("media restorable");
    };
    assert_eq!(media_report.copies[copy].place, a("pbs.datastore.archive"));
    assert_eq!(media_report.copies[copy].role, CopyRole::Archive);
    assert_eq!(rpo, Rpo::AtMost(8 * DAY));

    // Losing the backup server's box loses no live data.
    let pbs = report.scenario(&[&a("appliance.pbs")]).unwrap();
    assert!(pbs.affected.is_empty());
    assert_eq!(pbs.servers_down, vec![a("pbs.server.main")]);
}

#[test]
fn the_archive_on_the_primary_nas_read_by_the_same_server_is_an_error() {
    // The variant: the archive is a local sync on the main PBS into a
    // datastore on the primary NAS.
    let mut t = seed();
    let archive = &mut t.datastores[1];
    archive.server = a("pbs.server.main");
    archive.appliance = a("appliance.nas1");
    let archive_line = archive.loc.unwrap().line();
    let report = analyze(&t);
    let diags = report.diagnostics();

    // Losing the PBS box takes the server that reads both copies.
    let together = of(&diags, SERVER_AND_COPIES_TOGETHER);
    assert_eq!(together.len(), 1, "{diags:#?}");
    let d = together[0];
    assert!(d.is_blocking());
    assert_eq!(d.resource, Some(a("pbs.server.main")));
    assert!(
        d.message.contains("losing appliance.pbs takes the backup server pbs.server.main and every copy of 4 data items together"),
        "{}",
        d.message
    );
    assert!(d.labels.iter().any(|l| l.loc.line() == archive_line));

    // And the archive shares the primary NAS with the data it copies.
    let shares = of(&diags, ARCHIVE_SHARES_APPLIANCE);
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].resource, Some(a("pbs.datastore.archive")));
    assert_eq!(shares[0].file_line().unwrap().1, archive_line);
    assert!(shares[0].message.contains(
        "the archive copy pbs.datastore.archive is on appliance.nas1, with the live data of 2 items: proxmox.vm.immich, proxmox.nas_pool.photos"
    ));
}

#[test]
fn an_archive_on_the_primary_nas_read_off_site_only_warns() {
    let mut t = seed();
    t.datastores[1].appliance = a("appliance.nas1");
    let diags = analyze(&t).diagnostics();
    assert_eq!(codes(&diags), vec![ARCHIVE_SHARES_APPLIANCE]);
}

/// Two nodes, one guest on the primary NAS, the main PBS on its own box
/// writing the daily copy to the second NAS, an off-site PBS pulling the
/// archive every Sunday: the smallest sound lab, to vary.
fn small() -> Topology {
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

#[test]
fn no_restorable_copy_fires_when_the_copies_share_the_data_appliance() {
    let t = small();
    assert!(analyze(&t).diagnostics().is_empty());

    let mut t = small();
    t.datastores[0].appliance = a("appliance.nas1");
    t.datastores[1].appliance = a("appliance.nas1");
    let diags = analyze(&t).diagnostics();
    let lost = of(&diags, NO_RESTORABLE_COPY);
    assert_eq!(lost.len(), 1, "{diags:#?}");
    let d = lost[0];
    assert!(d.is_blocking());
    assert_eq!(d.resource, Some(a("proxmox.vm.app")));
    assert_eq!(d.labels[0].loc, t.guests[0].loc.unwrap());
    assert_eq!(
        d.message,
        "losing appliance.nas1 loses proxmox.vm.app: its data lives there and the copy on pbs.datastore.daily is on appliance.nas1; the copy on pbs.datastore.archive is on appliance.nas1"
    );
    assert!(d
        .help
        .as_ref()
        .unwrap()
        .contains("other than appliance.nas1"));
    // One copy elsewhere is enough.
    t.datastores[1].appliance = a("appliance.offsite");
    assert!(of(&analyze(&t).diagnostics(), NO_RESTORABLE_COPY).is_empty());
}

#[test]
fn no_restorable_copy_fires_when_the_server_or_every_node_goes_down_with_the_data() {
    // One node, whose disk holds the app and the PBS guest; no archive.
    let mut t = small();
    t.nodes.pop();
    t.sync_jobs.clear();
    t.guests[0].keep_running = false;
    t.guests[0].disks[0].appliance = a("appliance.pve1-disk");
    t.servers[0].fails_with = vec![a("appliance.pve1-disk")];
    let diags = analyze(&t).diagnostics();
    let d = of(&diags, NO_RESTORABLE_COPY);
    assert_eq!(d.len(), 1, "{diags:#?}");
    assert!(d[0].message.contains(
        "pbs.server.main, which reads the copy on pbs.datastore.daily, goes down with it"
    ));
    // And that is also the server taking every copy.
    assert_eq!(of(&diags, SERVER_AND_COPIES_TOGETHER).len(), 1);

    // With both copies read by servers elsewhere, the one node is still the
    // only place to restore onto.
    let mut t = small();
    let pve2 = t.nodes.pop().unwrap();
    t.guests[0].keep_running = false;
    t.guests[0].disks[0].appliance = a("appliance.pve1-disk");
    let diags = analyze(&t).diagnostics();
    assert_eq!(codes(&diags), vec![NO_RESTORABLE_COPY]);
    assert!(
        diags[0]
            .message
            .contains("no compute node is left to restore the copy on pbs.datastore.daily onto"),
        "{}",
        diags[0].message
    );

    // A second node to restore onto fixes it.
    t.nodes.push(pve2);
    assert!(analyze(&t).diagnostics().is_empty());
}

#[test]
fn server_and_copies_together_fires_without_a_copy_read_elsewhere() {
    // No off-site pull: the main PBS reads the only copy.
    let mut t = small();
    t.sync_jobs.clear();
    let diags = analyze(&t).diagnostics();
    assert_eq!(codes(&diags), vec![SERVER_AND_COPIES_TOGETHER]);
    let d = &diags[0];
    assert!(d.is_blocking());
    assert_eq!(d.resource, Some(a("pbs.server.main")));
    assert_eq!(d.labels[0].loc, t.servers[0].loc.unwrap());
    assert_eq!(d.labels[1].loc, t.datastores[0].loc.unwrap());
    assert_eq!(
        d.message,
        "losing appliance.pbs takes the backup server pbs.server.main and every copy of 1 data item together: proxmox.vm.app"
    );
    assert!(d.help.as_ref().unwrap().contains("off-site PBS"));

    // A local sync on the same server does not help.
    let mut t = small();
    t.datastores[1].server = a("pbs.server.main");
    assert_eq!(
        codes(&analyze(&t).diagnostics()),
        vec![SERVER_AND_COPIES_TOGETHER]
    );
}

#[test]
fn archive_shares_appliance_with_the_daily_copy_or_the_data() {
    // The archive next to the daily copy on nas2.
    let mut t = small();
    t.datastores[1].appliance = a("appliance.nas2");
    let diags = analyze(&t).diagnostics();
    assert_eq!(codes(&diags), vec![ARCHIVE_SHARES_APPLIANCE]);
    assert!(!diags[0].is_blocking());
    assert_eq!(
        diags[0].message,
        "the archive copy pbs.datastore.archive is on appliance.nas2, with the daily copy pbs.datastore.daily"
    );
    assert_eq!(diags[0].resource, Some(a("pbs.datastore.archive")));
    assert_eq!(diags[0].labels[0].loc, t.datastores[1].loc.unwrap());
    assert_eq!(diags[0].labels[1].loc, t.datastores[0].loc.unwrap());

    // A datastore on the appliance the data lives on, stated as an
    // archive, written by a backup job directly.
    let mut t = small();
    t.datastores.push(
        Datastore::new(
            a("pbs.datastore.weekly"),
            a("pbs.server.main"),
            a("appliance.nas1"),
        )
        .role(CopyRole::Archive),
    );
    t.backup_jobs.push(BackupJob::new(
        a("pbs.backup_job.weekly"),
        Selection::All,
        a("pbs.datastore.weekly"),
        sched("sat 05:00"),
    ));
    let diags = analyze(&t).diagnostics();
    assert_eq!(codes(&diags), vec![ARCHIVE_SHARES_APPLIANCE]);
    assert_eq!(
        diags[0].message,
        "the archive copy pbs.datastore.weekly is on appliance.nas1, with the live data of 1 item: proxmox.vm.app"
    );

    // Without the stated role a directly written copy is a daily one.
    t.datastores[2].role = None;
    assert!(analyze(&t).diagnostics().is_empty());
}

#[test]
fn guest_not_backed_up_fires_for_unselected_guests_only() {
    let mut t = small();
    t.backup_jobs[0].selection = Selection::AllExcept(vec![a("proxmox.vm.app")]);
    let diags = analyze(&t).diagnostics();
    let d = of(&diags, GUEST_NOT_BACKED_UP);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "no backup job selects proxmox.vm.app");
    assert_eq!(d[0].resource, Some(a("proxmox.vm.app")));
    // Its data is also unrecoverable when nas1 goes.
    assert_eq!(of(&diags, NO_RESTORABLE_COPY).len(), 1);
    assert!(of(&diags, NO_RESTORABLE_COPY)[0]
        .message
        .contains("nothing copies it"));

    // A guest rebuilt from config needs neither.
    t.guests[0].rebuildable = true;
    assert!(analyze(&t).diagnostics().is_empty());

    // Selected by id: fine.
    let mut t = small();
    t.backup_jobs[0].selection = Selection::Only(vec![a("proxmox.vm.app")]);
    assert!(analyze(&t).diagnostics().is_empty());
}

#[test]
fn rpo_target_compares_the_worst_single_loss() {
    let mut t = small();
    // The data's own loss costs a day at worst: within 2 days.
    t.guests[0].rpo_target = Some(2 * DAY);
    assert!(analyze(&t).diagnostics().is_empty());
    // 12 hours is missed.
    t.guests[0].rpo_target = Some(12 * HOUR);
    let diags = analyze(&t).diagnostics();
    assert_eq!(codes(&diags), vec![RPO_TARGET]);
    assert!(diags[0].message.starts_with(
        "losing appliance.nas1 can lose up to 1d of proxmox.vm.app's data, over its target of 12h"
    ), "{}", diags[0].message);
    assert!(diags[0]
        .message
        .contains("pbs.backup_job.nightly `02:00` (every 1d)"));
    assert_eq!(diags[0].resource, Some(a("proxmox.vm.app")));

    // With the data's disk and the daily copy on one NAS, the archive is
    // what is left: 1 day + 7 days.
    t.guests[0].disks[0].appliance = a("appliance.nas2");
    t.guests[0].rpo_target = Some(2 * DAY);
    let diags = analyze(&t).diagnostics();
    let d = of(&diags, RPO_TARGET);
    assert_eq!(d.len(), 1, "{diags:#?}");
    assert!(
        d[0].message.contains("can lose up to 8d"),
        "{}",
        d[0].message
    );
    assert!(d[0].message.contains(
        "pbs.backup_job.nightly `02:00` (every 1d) then pbs.sync_job.pull `sun 04:00` (every 7d)"
    ));
    assert_eq!(d[0].labels[1].loc, t.datastores[1].loc.unwrap());
}

#[test]
fn retention_target_needs_one_copy_keeping_it() {
    let mut t = small();
    t.datastores[0].retention = Retention {
        daily: Some(7),
        ..Default::default()
    };
    t.guests[0].retention_target = Some(Retention {
        daily: Some(7),
        ..Default::default()
    });
    assert!(analyze(&t).diagnostics().is_empty());
    t.guests[0].retention_target = Some(Retention {
        monthly: Some(12),
        ..Default::default()
    });
    let diags = analyze(&t).diagnostics();
    assert_eq!(codes(&diags), vec![RETENTION_TARGET]);
    assert_eq!(
        diags[0].message,
        "no copy of proxmox.vm.app keeps keep-monthly=12, its retention target: pbs.datastore.daily keeps keep-daily=7, pbs.datastore.archive keeps keep-weekly=4"
    );
    // The archive keeping 12 monthly covers it.
    t.datastores[1].retention.monthly = Some(12);
    assert!(analyze(&t).diagnostics().is_empty());
    // Keeping everything (no keep-* at all) covers any target.
    t.datastores[1].retention = Retention::default();
    t.guests[0].retention_target = Some(Retention {
        yearly: Some(10),
        ..Default::default()
    });
    assert!(analyze(&t).diagnostics().is_empty());
}

#[test]
fn rpo_arithmetic_by_hand() {
    use time::{Date, Month};
    let from = Date::from_calendar_date(2026, Month::January, 1).unwrap();
    let gap = |s: &str| worst_gap(&s.parse().unwrap(), from, DEFAULT_HORIZON_DAYS);
    assert_eq!(gap("02:00"), Some(DAY));
    assert_eq!(gap("sun 04:00"), Some(7 * DAY));
    assert_eq!(gap("mon..fri 02:00"), Some(3 * DAY));
    // Twice a day, unevenly: 08:00 -> 20:00 is 12h, 20:00 -> 08:00 too.
    assert_eq!(gap("08,20:00"), Some(12 * HOUR));
    // 06:00 and 09:00: the night from 09:00 to 06:00 is 21h.
    assert_eq!(gap("06,09:00"), Some(21 * HOUR));
    assert_eq!(gap("*:0/15"), Some(Duration::from_secs(900)));
    assert_eq!(gap("hourly"), Some(HOUR));
    // Monthly: the 1st; January to February is 31 days.
    assert_eq!(gap("monthly"), Some(31 * DAY));
    // Every other day of the month (1, 3, .., 31): the 31st to the 1st is
    // 1 day, the 29th of a 30-day month to the 1st is 2 days... the worst
    // is a 31-day month's 31st to the 1st? No: 29th of February (leap) or
    // 27th of a 28-day February to March 1st: 2 days; 29th of a 30-day
    // month -> the 1st: 2 days.
    assert_eq!(gap("*-*-1/2 00:00"), Some(2 * DAY));
    // Leap days: every 4 years between 2028 and 2052.
    assert_eq!(gap("*-02-29"), Some(1461 * DAY));
    // One year only: it stops.
    assert_eq!(gap("2026-*-* 02:00"), None);

    // The chain: a nightly backup then a Sunday sync; the daily copy on
    // the data's NAS.
    let t = {
        let mut t = small();
        t.datastores[0].appliance = a("appliance.nas1");
        t
    };
    let report = analyze(&t);
    let copies = &report.data[0].copies;
    assert_eq!(copies[0].worst_age, Rpo::AtMost(DAY));
    assert_eq!(copies[1].worst_age, Rpo::AtMost(8 * DAY));
    assert_eq!(copies[1].via.len(), 2);
    assert_eq!(copies[1].via[1].worst_gap, Some(7 * DAY));
    let nas1 = report.scenario(&[&a("appliance.nas1")]).unwrap();
    assert_eq!(nas1.outcome(0).rpo(), Rpo::AtMost(8 * DAY));
    assert_eq!(nas1.worst_rpo(), Some((0, Rpo::AtMost(8 * DAY))));

    // A one-off schedule along the chain: the copy ages without bound.
    let mut t = t.clone();
    t.sync_jobs[0].schedule = sched("2026-03-01 04:00");
    let report = analyze(&t);
    assert_eq!(report.data[0].copies[1].worst_age, Rpo::Unbounded);

    // Two chains into one place: the fresher counts.
    let mut t = t.clone();
    t.sync_jobs[0].schedule = sched("sun 04:00");
    t.backup_jobs.push(BackupJob::new(
        a("pbs.backup_job.direct"),
        Selection::All,
        a("pbs.datastore.archive"),
        sched("*:0/30"),
    ));
    let report = analyze(&t);
    let archive = report.data[0]
        .copies
        .iter()
        .find(|c| c.place == a("pbs.datastore.archive"))
        .unwrap();
    assert_eq!(archive.worst_age, Rpo::AtMost(Duration::from_secs(1800)));
    assert_eq!(archive.via[0].job, a("pbs.backup_job.direct"));
}

#[test]
fn worst_gap_agrees_with_a_walk_of_next_runs() {
    use lab_pbs::schedule::CalendarEvent;
    use time::{Date, Month};
    let from = Date::from_calendar_date(2026, Month::January, 1).unwrap();
    for s in [
        "02:00",
        "mon..fri 02:30",
        "sat,sun 01:00,13:00",
        "*:0/20",
        "8..17:00/30",
        "*-*-1,15 03:00",
        "mon *-*-1..7 04:00",
        "0/5:0/7:30",
    ] {
        let event: CalendarEvent = s.parse().unwrap();
        let start = from.midnight().assume_utc();
        let runs = event.next_runs(start, 20_000);
        let walked = runs
            .windows(2)
            .map(|w| (w[1] - w[0]).whole_seconds() as u64)
            .max()
            .unwrap();
        // Over the same span the walk covers.
        let days = (runs.last().unwrap().date() - from).whole_days() as u32;
        let computed = worst_gap(&event, from, days.max(400)).unwrap();
        assert_eq!(computed.as_secs(), walked, "{s}");
    }
}

/// Two nodes with guests, and a third to lose.
fn crowded() -> Topology {
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

#[test]
fn node_loss_packs_first_fit_decreasing() {
    let t = crowded();
    let report = analyze(&t);
    let s = report.scenario(&[&a("appliance.pve3-disk")]).unwrap();
    let cap = s.node_capacity.as_ref().unwrap();
    // 6 GiB free on each survivor: 8 GiB fits nowhere; 4 goes to pve1,
    // 2 to pve1 as well (first fit).
    assert_eq!(
        cap.placed,
        vec![
            (a("proxmox.vm.mid"), a("proxmox.node.pve1")),
            (a("proxmox.vm.small"), a("proxmox.node.pve1")),
        ]
    );
    assert_eq!(cap.unplaced, vec![a("proxmox.vm.big")]);
    assert_eq!(cap.needed, (14 * 1024, 3));
    assert_eq!(cap.free, (12 * 1024, 14));
    let diags = report.diagnostics();
    let d: Vec<&Diagnostic> = of(&diags, CAPACITY_NODE_LOSS)
        .into_iter()
        .filter(|d| d.resource == Some(a("appliance.pve3-disk")))
        .collect();
    assert_eq!(d.len(), 1, "{diags:#?}");
    assert_eq!(d[0].labels[0].loc, t.guests[2].loc.unwrap());
    assert!(d[0].message.contains("first-fit decreasing"));
    assert!(d[0]
        .message
        .contains("cannot carry 1 guest that must keep running: proxmox.vm.big"));

    // The big one may stay down: no finding.
    let mut t = crowded();
    t.guests[2].keep_running = false;
    let report = analyze(&t);
    assert!(report
        .scenario(&[&a("appliance.pve3-disk")])
        .unwrap()
        .node_capacity
        .as_ref()
        .unwrap()
        .fits());
    // Cores count too: 8 cores per node, pve1 already uses 1.
    let mut t = crowded();
    t.guests[2].memory_mib = 1024;
    t.guests[2].cores = 8;
    let report = analyze(&t);
    let cap = report
        .scenario(&[&a("appliance.pve3-disk")])
        .unwrap()
        .node_capacity
        .clone()
        .unwrap();
    assert_eq!(cap.unplaced, vec![a("proxmox.vm.big")]);
}

#[test]
fn nas_loss_needs_room_for_the_restore() {
    let mut t = Topology::default();
    for n in ["nas1", "nas2", "pbs"] {
        t.appliances.push(ApplianceInfo::new(
            Address::new("appliance", n),
            ApplianceKind::Nas,
        ));
    }
    t.pools.push(
        PoolData::new(a("proxmox.nas_pool.photos"), a("appliance.nas1")).size(3 * TIB, 4 * TIB),
    );
    t.pools.push(
        PoolData::new(a("proxmox.nas_pool.spare"), a("appliance.nas2")).size(2 * TIB, 4 * TIB),
    );
    t.servers.push(BackupServer::new(
        a("pbs.server.main"),
        vec![a("appliance.pbs")],
    ));
    t.datastores.push(Datastore::new(
        a("pbs.datastore.daily"),
        a("pbs.server.main"),
        a("appliance.pbs"),
    ));
    t.appliances.push(ApplianceInfo::new(
        a("appliance.offsite"),
        ApplianceKind::Offsite,
    ));
    t.servers.push(BackupServer::new(
        a("pbs.server.offsite"),
        vec![a("appliance.offsite")],
    ));
    t.datastores.push(Datastore::new(
        a("pbs.datastore.archive"),
        a("pbs.server.offsite"),
        a("appliance.offsite"),
    ));
    t.backup_jobs.push(BackupJob::new(
        a("pbs.backup_job.shares"),
        Selection::Only(vec![
            a("proxmox.nas_pool.photos"),
            a("proxmox.nas_pool.spare"),
        ]),
        a("pbs.datastore.daily"),
        sched("03:00"),
    ));
    t.sync_jobs.push(SyncJob::new(
        a("pbs.sync_job.pull"),
        a("pbs.datastore.daily"),
        a("pbs.datastore.archive"),
        sched("sun 04:00"),
    ));
    let report = analyze(&t);
    let diags = report.diagnostics();
    // Losing nas1: 3 TiB of photos, 2 TiB free on spare; losing nas2: 2
    // TiB of spare, 1 TiB free on photos.
    assert_eq!(codes(&diags), vec![CAPACITY_NAS_LOSS; 2], "{diags:#?}");
    assert_eq!(diags[0].resource, Some(a("appliance.nas1")));
    assert_eq!(diags[0].labels[0].loc, t.pools[0].loc.unwrap());
    assert!(
        diags[0]
            .message
            .contains("3.0 TiB to restore, 2.0 TiB free"),
        "{}",
        diags[0].message
    );
    assert_eq!(diags[1].resource, Some(a("appliance.nas2")));
    // Grown, both fit.
    t.pools[1].capacity_bytes = Some(8 * TIB);
    t.pools[0].capacity_bytes = Some(6 * TIB);
    let diags = analyze(&t).diagnostics();
    assert!(diags.is_empty(), "{diags:#?}");
    // A pool of unknown size is reported, not guessed.
    t.pools[0].used_bytes = None;
    let report = analyze(&t);
    let cap = report
        .scenario(&[&a("appliance.nas1")])
        .unwrap()
        .nas_capacity
        .clone()
        .unwrap();
    assert_eq!(cap.unknown_size, vec![a("proxmox.nas_pool.photos")]);
    assert!(cap.fits());
}

#[test]
fn pool_replicas_restore_without_a_server() {
    let mut t = Topology::default();
    for n in ["nas1", "nas2"] {
        t.appliances.push(ApplianceInfo::new(
            Address::new("appliance", n),
            ApplianceKind::Nas,
        ));
    }
    t.pools
        .push(PoolData::new(a("proxmox.nas_pool.photos"), a("appliance.nas1")).size(TIB, 4 * TIB));
    t.pools
        .push(PoolData::new(a("proxmox.nas_pool.replica"), a("appliance.nas2")).size(TIB, 4 * TIB));
    t.replications.push(PoolReplication::new(
        a("zfs.replication.photos"),
        a("proxmox.nas_pool.photos"),
        a("proxmox.nas_pool.replica"),
        sched("*:00"),
    ));
    let report = analyze(&t);
    let photos = &report.data[0];
    assert_eq!(photos.copies.len(), 1);
    assert_eq!(photos.copies[0].place_kind, PlaceKind::Pool);
    assert_eq!(photos.copies[0].server, None);
    let s = report.scenario(&[&a("appliance.nas1")]).unwrap();
    assert_eq!(s.outcome(0).rpo(), Rpo::AtMost(HOUR));
    // The replica pool's own data has no copy: losing nas2 loses it.
    let diags = report.diagnostics();
    assert_eq!(codes(&diags), vec![NO_RESTORABLE_COPY]);
    assert_eq!(diags[0].resource, Some(a("proxmox.nas_pool.replica")));
}

#[test]
fn pairs_are_analysed_when_asked() {
    let t = seed();
    let report = t
        .analyze(&AnalysisOptions {
            pairs: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(report.scenarios.len(), 6 + 15);
    // The primary NAS and the second NAS together: immich and the photos
    // come back from the archive, 8 days old at worst; media too.
    let s = report
        .scenario(&[&a("appliance.nas1"), &a("appliance.nas2")])
        .unwrap();
    assert_eq!(s.lost_data().count(), 0);
    assert_eq!(s.worst_rpo().unwrap().1, Rpo::AtMost(8 * DAY));
    // The PBS box and the off-site box: the guests still run, no copy left
    // to read, nothing lost yet.
    let s = report
        .scenario(&[&a("appliance.pbs"), &a("appliance.offsite")])
        .unwrap();
    assert!(s.affected.is_empty());
    // The primary NAS and the PBS box: immich restores from the archive.
    let s = report
        .scenario(&[&a("appliance.nas1"), &a("appliance.pbs")])
        .unwrap();
    let (immich, r) = report.data_item(&a("proxmox.vm.immich")).unwrap();
    let Outcome::Restorable { copy, .. } = s.outcome(immich) else {
        panic!()
    };
    assert_eq!(r.copies[copy].place, a("pbs.datastore.archive"));
    // Pairs never add findings: the checks are about single losses.
    assert!(report.diagnostics().is_empty());
}

#[test]
fn bad_references_say_which_item_and_field() {
    let mut t = small();
    t.guests[0].node = a("proxmox.node.pve9");
    let err = t.analyze(&AnalysisOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("proxmox.vm.app ("), "{text}");
    assert!(
        text.contains("its node `proxmox.node.pve9` is not a node of the topology"),
        "{text}"
    );
    let d = err.diagnostic();
    assert_eq!(d.code, TOPOLOGY);
    assert_eq!(d.labels[0].loc, t.guests[0].loc.unwrap());

    let mut t = small();
    t.backup_jobs[0].selection = Selection::Only(vec![a("proxmox.vm.ghost")]);
    assert!(matches!(
        t.analyze(&AnalysisOptions::default()),
        Err(TopologyError::Unknown {
            field: "selection",
            ..
        })
    ));
    let mut t = small();
    let dup = t.datastores[0].clone();
    t.datastores.push(dup);
    assert!(matches!(
        t.analyze(&AnalysisOptions::default()),
        Err(TopologyError::Duplicate { .. })
    ));
}

#[test]
fn the_seed_renders_as_a_table() {
    let t = seed();
    let report = analyze(&t);
    insta::assert_snapshot!(report.render_table(), @r#"
    appliance lost      | data lost                                  | still restorable from     | worst RPO                   | capacity
    --------------------+--------------------------------------------+---------------------------+-----------------------------+---------------------------
    appliance.pve1-disk | proxmox.vm.talos-cp1 (rebuilt from config) | -                         | -                           | nodes ok (2 guests moved)
    appliance.pve2-disk | -                                          | pbs.datastore.daily (1)   | 1d (proxmox.ct.paperless)   | nodes ok (1 guest moved)
    appliance.nas1      | -                                          | pbs.datastore.daily (2)   | 1d (proxmox.vm.immich)      | pools ok (1 pool restored)
    appliance.nas2      | -                                          | pbs.datastore.archive (1) | 8d (proxmox.nas_pool.media) | pools ok (1 pool restored)
    appliance.pbs       | -                                          | -                         | 0                           | -
    appliance.offsite   | -                                          | -                         | 0                           | -
    "#);
}

#[test]
fn the_seed_renders_its_copies() {
    let t = seed();
    let report = analyze(&t);
    insta::assert_snapshot!(report.render_copies(), @r#"
    proxmox.vm.immich lives on appliance.nas1
      daily   pbs.datastore.daily on appliance.nas2, read by pbs.server.main, at most 1d old: pbs.backup_job.nightly `02:00` (every 1d)
      archive pbs.datastore.archive on appliance.offsite, read by pbs.server.offsite, at most 8d old: pbs.backup_job.nightly `02:00` (every 1d) then pbs.sync_job.offsite `sun 04:00` (every 7d)
    proxmox.ct.paperless lives on appliance.pve2-disk
      daily   pbs.datastore.daily on appliance.nas2, read by pbs.server.main, at most 1d old: pbs.backup_job.nightly `02:00` (every 1d)
      archive pbs.datastore.archive on appliance.offsite, read by pbs.server.offsite, at most 8d old: pbs.backup_job.nightly `02:00` (every 1d) then pbs.sync_job.offsite `sun 04:00` (every 7d)
    proxmox.vm.talos-cp1 lives on appliance.pve1-disk (rebuilt from config)
      no copy
    proxmox.nas_pool.photos lives on appliance.nas1
      daily   pbs.datastore.daily on appliance.nas2, read by pbs.server.main, at most 1d old: pbs.backup_job.shares `03:00` (every 1d)
      archive pbs.datastore.archive on appliance.offsite, read by pbs.server.offsite, at most 8d old: pbs.backup_job.shares `03:00` (every 1d) then pbs.sync_job.offsite `sun 04:00` (every 7d)
    proxmox.nas_pool.media lives on appliance.nas2
      daily   pbs.datastore.daily on appliance.nas2, read by pbs.server.main, at most 1d old: pbs.backup_job.shares `03:00` (every 1d)
      archive pbs.datastore.archive on appliance.offsite, read by pbs.server.offsite, at most 8d old: pbs.backup_job.shares `03:00` (every 1d) then pbs.sync_job.offsite `sun 04:00` (every 7d)
    "#);
}

#[test]
fn the_seed_renders_as_mermaid() {
    let t = seed();
    let report = analyze(&t);
    insta::assert_snapshot!(report.render_mermaid(), @r#"
    flowchart LR
      subgraph site0["site home"]
        subgraph a0["appliance.pve1-disk (node disk)"]
          g2["proxmox.vm.talos-cp1"]
        end
        subgraph a1["appliance.pve2-disk (node disk)"]
          g1["proxmox.ct.paperless"]
        end
        subgraph a2["appliance.nas1 (nas)"]
          g0["proxmox.vm.immich"]
          p0[("proxmox.nas_pool.photos")]
        end
        subgraph a3["appliance.nas2 (nas)"]
          p1[("proxmox.nas_pool.media")]
          ds0[("pbs.datastore.daily")]
        end
        subgraph a4["appliance.pbs (backup server)"]
          s0{{"pbs.server.main"}}
        end
      end
      subgraph site1["site friend"]
        subgraph a5["appliance.offsite (off-site)"]
          ds1[("pbs.datastore.archive")]
          s1{{"pbs.server.offsite"}}
        end
      end
      g0 -->|"nightly 02:00"| ds0
      g1 -->|"nightly 02:00"| ds0
      p0 -->|"shares 03:00"| ds0
      p1 -->|"shares 03:00"| ds0
      ds0 -->|"offsite sun 04:00"| ds1
      s0 -.->|reads| ds0
      s1 -.->|reads| ds1
    "#);
}
