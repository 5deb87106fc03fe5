//! The failure-domain analysis of a lab written with the builders: the
//! lowering (`Topology::of_lab`), the checks `lab.check()` runs, and the
//! `failures` command.
//!
//! The lab is the seed's design: guests on two Proxmox nodes and on the
//! primary NAS; the backup server on its own box; the daily copy on the
//! primary NAS; the archive copy (a local sync every Sunday) on the second
//! NAS. No single appliance loss loses data. The variant puts the archive
//! copy on the primary NAS, and `check` fails at the line that put it there.

use lab_core::prelude::*;
use lab_core::testing::MemoryProvider;
use lab_core::{Address, Diagnostic};
use lab_pbs::failures::{checks as codes, Outcome, Topology};
use lab_pbs::model::*;
use lab_proxmox::model::{BackupJob, Container, Content, GuestOutputs, NasPool, Node, Storage, Vm};

struct Seed {
    lab: Lab,
    /// The line that placed the archive datastore.
    archive_line: u32,
}

fn seed(archive_on_primary: bool) -> Seed {
    seed_with(archive_on_primary, false, None)
}

/// How the PVE storage's token gets its rights.
#[derive(Clone, Copy, PartialEq)]
enum Grant {
    /// No ACL at all.
    None,
    /// ACLs for the token and its user, the storage not ordered after them.
    Unordered,
    /// ACLs, and the storage after them.
    Ordered,
}

fn seed_with(
    archive_on_primary: bool,
    unselected_guest: bool,
    target: Option<(&str, Retention)>,
) -> Seed {
    seed_granting(archive_on_primary, unselected_guest, target, Grant::Ordered)
}

/// The seed, with an unselected guest, with a backup target on immich, and
/// with the PVE storage's rights granted as `grant` says.
fn seed_granting(
    archive_on_primary: bool,
    unselected_guest: bool,
    target: Option<(&str, Retention)>,
    grant: Grant,
) -> Seed {
    let mut lab = Lab::new("home");
    let pbs = lab.register_provider_as(
        "primary",
        MemoryProvider::new()
            .with_kinds(lab_pbs::kinds::ALL)
            .shared(),
    );
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0").cores(16).memory_gb(64));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0").cores(16).memory_gb(64));
    let pve1_disk = lab.add(Node::local_disk(&pve1));
    let pve2_disk = lab.add(Node::local_disk(&pve2));
    let nas_a = lab.add(Appliance::new("nas-a").kind(ApplianceKind::Nas));
    let nas_b = lab.add(Appliance::new("nas-b").kind(ApplianceKind::Nas));
    let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
    let hot = lab.add(
        NasPool::new("hot")
            .server("10.0.0.5")
            .export("/mnt/hot")
            .capacity("8T")
            .on(&nas_a),
    );
    let cold = lab.add(
        NasPool::new("cold")
            .server("10.0.0.6")
            .export("/mnt/cold")
            .capacity("16T")
            .on(&nas_b),
    );
    let hot_nfs = lab.add(Storage::nfs("hot", &hot).content(&[Content::Images]));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .on(&pve1_disk)
            .node(&pve1),
    );
    let lvm2 = lab.add(
        Storage::existing("local-lvm2")
            .content(&[Content::Images, Content::Rootdir])
            .on(&pve2_disk)
            .node(&pve2),
    );
    let immich = lab.add(
        Vm::new("immich", &pve1)
            .cores(4)
            .memory_mb(8192)
            .disk("scsi0", &lvm, "32G")
            .disk("scsi1", &hot_nfs, "500G"),
    );
    let paperless = lab.add(
        Container::new("paperless", &pve2)
            .ostemplate_volid("local:vztmpl/debian-13-standard_13.0-1_amd64.tar.zst")
            .cores(2)
            .memory_mb(2048)
            .rootfs(&lvm2, "16G"),
    );
    lab.add(
        Vm::new("talos-cp1", &pve1)
            .cores(2)
            .memory_mb(4096)
            .disk("scsi0", &lvm, "40G")
            .waive(
                codes::GUEST_NOT_BACKED_UP,
                "rebuilt from its machine config",
            ),
    );
    if unselected_guest {
        lab.add(
            Vm::new("scratch", &pve2)
                .memory_mb(1024)
                .disk("scsi0", &lvm2, "8G"),
        );
    }

    let primary = lab.add(PbsServer::instance(&pbs, "10.0.0.20").on(&pbs_box));
    let daily = lab.add(Datastore::new(&primary, "daily", "/mnt/hot/pbs").nas_pool(&hot));
    let archive_line = line!() + 2;
    let archive = if archive_on_primary {
        lab.add(Datastore::new(&primary, "archive", "/mnt/hot/archive").nas_pool(&hot))
    } else {
        lab.add(Datastore::new(&primary, "archive", "/mnt/cold/archive").nas_pool(&cold))
    };
    lab.add(
        SyncJob::new(&archive, "archive", &daily)
            .schedule("sun 04:00")
            .comment("the archive copy"),
    );
    let pve = lab.add(User::new(&primary, "pve@pbs"));
    let token = lab.add(Token::new(&pve, "backup"));
    let storage = lab.add(PveStorage::new("pbs-daily", &primary, &daily, &token));
    if grant != Grant::None {
        let acls = [
            lab.add(Acl::new(&pve, Role::DatastoreBackup, &daily)),
            lab.add(Acl::new(&token, Role::DatastoreBackup, &daily)),
        ];
        if grant == Grant::Ordered {
            for acl in &acls {
                lab.add_dependency(&storage, acl);
            }
        }
    }
    lab.add(
        BackupJob::new("nightly", &storage, "02:00")
            .guest(&immich)
            .guest(&paperless),
    );
    if let Some((rpo, retention)) = target {
        lab.add(
            BackupTarget::new("photos")
                .rpo(rpo)
                .retention(retention)
                .protects(&immich),
        );
    }
    Seed { lab, archive_line }
}

fn of<'a>(diags: &'a [Diagnostic], code: &str) -> Vec<&'a Diagnostic> {
    diags.iter().filter(|d| d.code == code).collect()
}

#[test]
fn the_builders_lower_to_the_topology_they_describe() {
    let s = seed(false);
    let t = Topology::of_lab(&s.lab);
    assert_eq!(t.appliances.len(), 5);
    assert_eq!(t.nodes.len(), 2);
    assert_eq!(t.nodes[0].memory_mib, 64 * 1024);
    let immich = t
        .guests
        .iter()
        .find(|g| g.address.to_string() == "proxmox.vm.immich")
        .unwrap();
    let on: Vec<String> = immich
        .disks
        .iter()
        .map(|d| d.appliance.to_string())
        .collect();
    assert_eq!(on, ["appliance.pve1-disk", "appliance.nas-a"]);
    assert!(t
        .guests
        .iter()
        .any(|g| g.address.to_string() == "proxmox.vm.talos-cp1" && g.rebuildable));
    let stores: Vec<(String, String)> = t
        .datastores
        .iter()
        .map(|d| (d.address.to_string(), d.appliance.to_string()))
        .collect();
    assert_eq!(
        stores,
        [
            (
                "pbs.datastore.primary--daily".into(),
                "appliance.nas-a".into()
            ),
            (
                "pbs.datastore.primary--archive".into(),
                "appliance.nas-b".into()
            )
        ]
    );
    assert_eq!(
        t.servers[0].fails_with,
        [Address::new("appliance", "pbs-box")]
    );
    assert_eq!(t.backup_jobs.len(), 1);
    assert_eq!(t.sync_jobs.len(), 1);
}

#[test]
fn the_seed_design_passes_check_and_no_single_loss_loses_data() {
    let s = seed(false);
    let diags = s.lab.check();
    assert!(diags.iter().all(|d| !d.is_blocking()), "{diags:#?}");
    let t = Topology::of_lab(&s.lab);
    let report = t.analyze(&Default::default()).unwrap();
    for scenario in report.singles() {
        // Only what is rebuilt from config (talos-cp1) goes with a loss.
        assert!(
            scenario.lost_data().all(|i| report.data[i].rebuildable),
            "{:?}",
            scenario.lost
        );
    }
    // Losing the primary NAS: immich comes back from the archive copy.
    let nas_a = report
        .scenario(&[&Address::new("appliance", "nas-a")])
        .unwrap();
    let (immich, data) = report
        .data_item(&Address::new("proxmox.vm", "immich"))
        .unwrap();
    let Outcome::Restorable { copy, .. } = nas_a.outcome(immich) else {
        panic!("{:?}", nas_a.outcome(immich));
    };
    assert_eq!(
        data.copies[copy].place.to_string(),
        "pbs.datastore.primary--archive"
    );
}

#[test]
fn the_archive_copy_on_the_primary_nas_fails_check_at_the_line_that_put_it_there() {
    let s = seed(true);
    let diags = s.lab.check();
    let lost = of(&diags, codes::NO_RESTORABLE_COPY);
    assert_eq!(lost.len(), 1, "{diags:#?}");
    let d = lost[0];
    assert!(d.is_blocking());
    assert_eq!(d.resource, Some(Address::new("proxmox.vm", "immich")));
    assert!(
        d.labels
            .iter()
            .any(|l| l.loc.line() == s.archive_line && l.loc.file().ends_with("failures_lab.rs")),
        "{d:#?}"
    );
    assert!(!of(&diags, codes::ARCHIVE_SHARES_APPLIANCE).is_empty());
}

#[test]
fn a_guest_no_job_selects_is_a_warning_unless_waived() {
    // talos-cp1 is waived: rebuilt from config, nothing to report.
    let diags = seed(false).lab.check();
    assert!(
        of(&diags, codes::GUEST_NOT_BACKED_UP).is_empty(),
        "{diags:#?}"
    );
    // A guest nobody backs up is a warning at its line (and, as its data
    // lives on pve2's disk only, losing pve2 loses it: an error).
    let diags = seed_with(false, true, None).lab.check();
    let d = of(&diags, codes::GUEST_NOT_BACKED_UP);
    assert_eq!(d.len(), 1, "{diags:#?}");
    assert_eq!(d[0].resource, Some(Address::new("proxmox.vm", "scratch")));
    assert!(!d[0].is_blocking());
    assert!(of(&diags, codes::NO_RESTORABLE_COPY)
        .iter()
        .any(|d| d.resource == Some(Address::new("proxmox.vm", "scratch"))));
}

#[test]
fn the_failures_command_shows_the_table_and_says_no_loss_loses_data() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap().to_string();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        seed(false).lab,
        ["lab", "--state-dir", &state, "failures"],
        &mut out,
        &mut err,
    );
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("appliance lost"), "{out}");
    assert!(out.contains("appliance.nas-a"), "{out}");
    assert!(out.contains("No single appliance loss loses data"), "{out}");

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        seed(true).lab,
        ["lab", "--state-dir", &state, "failures"],
        &mut out,
        &mut err,
    );
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("pbs::no-restorable-copy"), "{err}");

    // Pairs: both nodes at once leave nowhere to run anything.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        seed(false).lab,
        ["lab", "--state-dir", &state, "failures", "--pairs"],
        &mut out,
        &mut err,
    );
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0);
    let both = out
        .lines()
        .find(|l| l.starts_with("appliance.pve1-disk + appliance.pve2-disk"))
        .expect("the pair of nodes");
    assert!(both.ends_with("no node left"), "{both}");

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        seed(false).lab,
        ["lab", "--state-dir", &state, "failures", "--mermaid"],
        &mut out,
        &mut err,
    );
    assert_eq!(code, 0);
    assert!(String::from_utf8(out).unwrap().starts_with("flowchart"));
}

#[test]
fn a_talos_machines_vm_is_rebuilt_from_config() {
    let mut lab = Lab::new("home");
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let disk = lab.add(Node::local_disk(&pve1));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images])
            .on(&disk)
            .node(&pve1),
    );
    let cp1 = lab.add(
        Vm::new("cp1", &pve1)
            .memory_mb(4096)
            .disk("scsi0", &lvm, "20G"),
    );
    let other = lab.add(
        Vm::new("other", &pve1)
            .memory_mb(1024)
            .disk("scsi0", &lvm, "8G"),
    );
    lab.add(lab_core::testing::Thing::of_kind("talos.machine", "cp1").input("vm", cp1.vmid()));
    let _ = other;
    let t = Topology::of_lab(&lab);
    let rebuilt: Vec<(String, bool)> = t
        .guests
        .iter()
        .map(|g| (g.address.to_string(), g.rebuildable))
        .collect();
    assert_eq!(
        rebuilt,
        [
            ("proxmox.vm.cp1".to_string(), true),
            ("proxmox.vm.other".to_string(), false)
        ]
    );
}

#[test]
fn a_backup_target_the_schedules_or_retention_miss_is_a_warning() {
    // Losing the primary NAS leaves the weekly archive: up to 8 days. A
    // 9-day target holds; keep-all (no prune) keeps 12 monthly.
    let diags = seed_with(false, false, Some(("9d", Retention::default().monthly(12))))
        .lab
        .check();
    assert!(of(&diags, codes::RPO_TARGET).is_empty(), "{diags:#?}");
    assert!(of(&diags, codes::RETENTION_TARGET).is_empty(), "{diags:#?}");
    // A 26-hour target does not, and the warning says which loss.
    let diags = seed_with(false, false, Some(("26h", Retention::default())))
        .lab
        .check();
    let d = of(&diags, codes::RPO_TARGET);
    assert_eq!(d.len(), 1, "{diags:#?}");
    assert_eq!(d[0].resource, Some(Address::new("proxmox.vm", "immich")));
    assert!(d[0]
        .message
        .starts_with("losing appliance.nas-a can lose up to 8d"));
    assert!(!d[0].is_blocking());
}

#[test]
fn a_pve_storage_needs_its_tokens_acl_first() {
    let diags = seed_granting(false, false, None, Grant::None).lab.check();
    let d = of(&diags, "pbs::pve-storage-access");
    // The token and its user both lack the right.
    assert_eq!(d.len(), 2, "{diags:#?}");
    assert!(d.iter().all(|d| d.is_blocking()));
    assert!(d[0]
        .message
        .contains("no ACL entry allowing it to back up there"));

    let diags = seed_granting(false, false, None, Grant::Unordered)
        .lab
        .check();
    let d = of(&diags, "pbs::pve-storage-access");
    assert_eq!(d.len(), 2, "{diags:#?}");
    assert!(d[0].message.contains("may be created before"));
    assert!(d[0].help.as_deref().unwrap().contains(".after(&acl)"));

    let diags = seed_granting(false, false, None, Grant::Ordered)
        .lab
        .check();
    assert!(
        of(&diags, "pbs::pve-storage-access").is_empty(),
        "{diags:#?}"
    );
}

#[test]
fn a_pools_own_data_needs_a_copy_and_a_nas_replication_is_one() {
    let build = |replicate: bool| {
        let mut lab = Lab::new("home");
        // A lab of NAS pools alone has no lab-pbs builder to bring the checks.
        lab_pbs::checks::register(&mut lab);
        let nas_a = lab.add(Appliance::new("nas-a").kind(ApplianceKind::Nas));
        let nas_b = lab.add(Appliance::new("nas-b").kind(ApplianceKind::Nas));
        let photos = lab.add(NasPool::new("photos").data("2T").capacity("4T").on(&nas_a));
        let replica = lab.add(NasPool::new("photos-replica").capacity("8T").on(&nas_b));
        if replicate {
            lab.add(NasReplication::new("photos", &photos, &replica).schedule("hourly"));
        }
        lab
    };
    let diags = build(false).check();
    let lost = of(&diags, codes::NO_RESTORABLE_COPY);
    assert_eq!(lost.len(), 1, "{diags:#?}");
    assert_eq!(
        lost[0].resource,
        Some(Address::new("proxmox.nas-pool", "photos"))
    );

    let lab = build(true);
    let diags = lab.check();
    assert!(diags.iter().all(|d| !d.is_blocking()), "{diags:#?}");
    let t = Topology::of_lab(&lab);
    let report = t.analyze(&Default::default()).unwrap();
    let nas_a = report
        .scenario(&[&Address::new("appliance", "nas-a")])
        .unwrap();
    let (photos, data) = report
        .data_item(&Address::new("proxmox.nas-pool", "photos"))
        .unwrap();
    let Outcome::Restorable { copy, .. } = nas_a.outcome(photos) else {
        panic!("{:?}", nas_a.outcome(photos));
    };
    assert_eq!(
        data.copies[copy].place,
        Address::new("proxmox.nas-pool", "photos-replica")
    );
}
