//! `lab_pbs::failures` checks on hand-built topologies: the seed's design
//! (backup server, daily copy and archive copy on three separate
//! appliances) loses nothing to any single loss, its variant with the
//! archive on the primary NAS does; each check fires where it should and
//! not elsewhere.

use lab_core::Address;
use lab_pbs::failures::checks::*;
use lab_pbs::failures::*;

mod failures_fixtures;
use failures_fixtures::*;

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
    let Outcome::Restorable { copy, rpo, .. } = nas2.outcome(media) else {
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
fn the_archive_beside_the_daily_copy_and_the_data_is_an_error_at_its_line() {
    // The variant: the archive is a local sync on the main PBS into a
    // datastore on nas2, which holds the daily copy and the media pool.
    let mut t = seed();
    let archive = &mut t.datastores[1];
    archive.server = a("pbs.server.main");
    archive.appliance = a("appliance.nas2");
    let archive_line = archive.loc.unwrap().line();
    let report = analyze(&t);
    let diags = report.diagnostics();

    // Losing nas2 takes the media, its daily copy and its archive.
    let lost = of(&diags, NO_RESTORABLE_COPY);
    assert_eq!(lost.len(), 1, "{diags:#?}");
    let d = lost[0];
    assert!(d.is_blocking());
    assert_eq!(d.resource, Some(a("proxmox.nas_pool.media")));
    assert!(
        d.message
            .starts_with("losing appliance.nas2 loses proxmox.nas_pool.media"),
        "{}",
        d.message
    );
    assert!(d.labels.iter().any(|l| l.loc.line() == archive_line));

    // And the archive shares nas2 with the daily copy and the data.
    let shares = of(&diags, ARCHIVE_SHARES_APPLIANCE);
    assert!(!shares.is_empty());
    assert!(shares
        .iter()
        .all(|d| d.resource == Some(a("pbs.datastore.archive"))));
    assert_eq!(shares[0].file_line().unwrap().1, archive_line);
}

#[test]
fn a_copy_outlives_its_server_and_is_restored_once_the_server_is_rebuilt() {
    // The main PBS runs in a guest on pve1; losing pve1's disk takes the
    // server, but the daily copy on nas2 is still there.
    let mut t = seed();
    t.servers[0].fails_with = vec![a("appliance.pve1-disk")];
    t.guests[0].disks[0].appliance = a("appliance.pve1-disk");
    let report = analyze(&t);
    let pve1 = report.scenario(&[&a("appliance.pve1-disk")]).unwrap();
    assert_eq!(pve1.servers_down, vec![a("pbs.server.main")]);
    let (immich, _) = report.data_item(&a("proxmox.vm.immich")).unwrap();
    let Outcome::Restorable {
        copy,
        rebuild_server,
        ..
    } = pve1.outcome(immich)
    else {
        panic!("{:?}", pve1.outcome(immich));
    };
    assert!(rebuild_server);
    assert_eq!(
        report.data[immich].copies[copy].place,
        a("pbs.datastore.daily")
    );
    assert!(of(&report.diagnostics(), NO_RESTORABLE_COPY).is_empty());
}

#[test]
fn an_archive_on_the_primary_nas_read_off_site_only_warns() {
    let mut t = seed();
    t.datastores[1].appliance = a("appliance.nas1");
    let diags = analyze(&t).diagnostics();
    assert_eq!(codes(&diags), vec![ARCHIVE_SHARES_APPLIANCE]);
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
fn no_restorable_copy_fires_when_every_node_goes_down_with_the_data() {
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
    assert!(d[0]
        .message
        .contains("no compute node is left to restore the copy on pbs.datastore.daily onto"));
    // The live data goes too, so this is not also `server-and-copies`.
    assert!(of(&diags, SERVER_AND_COPIES_TOGETHER).is_empty());

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
fn server_and_copies_together_fires_when_the_only_copy_is_on_the_server_box() {
    // No off-site pull, and the daily copy on the PBS box's own disks.
    let mut t = small();
    t.sync_jobs.clear();
    t.datastores[0].appliance = a("appliance.pbs");
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

    // A local sync into another datastore on the same box does not help.
    let mut t = small();
    t.datastores[0].appliance = a("appliance.pbs");
    t.datastores[1].server = a("pbs.server.main");
    t.datastores[1].appliance = a("appliance.pbs");
    assert_eq!(
        codes(&analyze(&t).diagnostics()),
        vec![SERVER_AND_COPIES_TOGETHER, ARCHIVE_SHARES_APPLIANCE]
    );

    // Without a server going down, losing every copy alone is not this.
    let mut t = small();
    t.sync_jobs.clear();
    assert!(analyze(&t).diagnostics().is_empty());
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
fn topology_check_is_the_single_loss_findings_or_one_topology_error() {
    assert!(seed().check().is_empty());
    let mut t = small();
    t.sync_jobs.clear();
    t.datastores[0].appliance = a("appliance.pbs");
    assert_eq!(codes(&t.check()), vec![SERVER_AND_COPIES_TOGETHER]);
    t.datastores[0].server = a("pbs.server.gone");
    let diags = t.check();
    assert_eq!(codes(&diags), vec![TOPOLOGY]);
    assert!(diags[0].is_blocking());
    assert_eq!(diags[0].resource, Some(a("pbs.datastore.daily")));
    assert_eq!(diags[0].labels[0].loc, t.datastores[0].loc.unwrap());
}
