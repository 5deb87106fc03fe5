//! `lab_pbs::failures` by hand: worst gaps of schedules and the RPO of
//! job chains, capacity after a node or NAS loss (first-fit decreasing),
//! pool replicas, pairs, and topologies that do not hold together.

use std::time::Duration;

use lab_core::{Address, ApplianceKind, Diagnostic};
use lab_pbs::failures::checks::*;
use lab_pbs::failures::*;

mod failures_fixtures;
use failures_fixtures::*;

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
    // The replica already holds the photos: no room needed elsewhere.
    let cap = s.nas_capacity.as_ref().unwrap();
    assert_eq!(cap.served_by_replica, vec![a("proxmox.nas_pool.photos")]);
    assert!(cap.placed.is_empty() && cap.fits());
    assert!(report.render_table().contains("1 pool served by a replica"));
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
    // The primary NAS and the PBS box: immich restores from the daily copy
    // (fresher than the archive) once the main PBS is rebuilt.
    let s = report
        .scenario(&[&a("appliance.nas1"), &a("appliance.pbs")])
        .unwrap();
    let (immich, r) = report.data_item(&a("proxmox.vm.immich")).unwrap();
    let Outcome::Restorable {
        copy,
        rebuild_server,
        ..
    } = s.outcome(immich)
    else {
        panic!()
    };
    assert_eq!(r.copies[copy].place, a("pbs.datastore.daily"));
    assert!(rebuild_server);
    // With nas2 gone too, only the archive is left, its server up.
    let s = report
        .scenario(&[&a("appliance.nas1"), &a("appliance.nas2")])
        .unwrap();
    let Outcome::Restorable {
        copy,
        rebuild_server,
        ..
    } = s.outcome(immich)
    else {
        panic!()
    };
    assert_eq!(r.copies[copy].place, a("pbs.datastore.archive"));
    assert!(!rebuild_server);
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
