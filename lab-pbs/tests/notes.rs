//! lab-pbs's part of a guest's note: its copies (datastore, appliance,
//! server, jobs, age), what each appliance loss costs it (from the
//! failure-domain analysis), and how to restore it (the drill command,
//! then `qmrestore` from the PVE storage reading its freshest copy); a
//! guest nobody backs up says so, in the note and the short note.

use lab_core::notes::NoteBook;
use lab_core::prelude::*;
use lab_core::testing::MemoryProvider;
use lab_core::ApplianceKind;
use lab_pbs::model::*;
use lab_proxmox::model::{BackupJob, Container, Content, NasPool, Node, Storage, Vm};

/// Two nodes; immich (on pve1: a disk on the node, one on NAS A's pool) backed up
/// nightly into `daily` on NAS A, synced on Sundays into `archive` on
/// NAS B; `solo` (on the node's disk) backed up by nobody.
fn lab() -> Lab {
    let mut lab = Lab::new("home");
    let pbs = lab.register_provider_as(
        "primary",
        MemoryProvider::new()
            .with_kinds(lab_pbs::kinds::ALL)
            .shared(),
    );
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0").cores(16).memory_gb(64));
    let pve1_disk = lab.add(Node::local_disk(&pve1));
    // A second node, so a restore has somewhere to go.
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0").cores(16).memory_gb(64));
    lab.add(Node::local_disk(&pve2));
    let nas_a = lab.add(Appliance::new("nas-a").kind(ApplianceKind::Nas));
    let nas_b = lab.add(Appliance::new("nas-b").kind(ApplianceKind::Nas));
    let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
    let hot = lab.add(
        NasPool::new("hot")
            .server("10.0.0.5")
            .export("/mnt/hot")
            .on(&nas_a),
    );
    let cold = lab.add(
        NasPool::new("cold")
            .server("10.0.0.6")
            .export("/mnt/cold")
            .on(&nas_b),
    );
    let hot_nfs = lab.add(Storage::nfs("hot", &hot).content(&[Content::Images]));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .on(&pve1_disk)
            .node(&pve1),
    );
    let immich = lab.add(
        Vm::new("immich", &pve1)
            .memory_mb(4096)
            .disk("scsi0", &lvm, "32G")
            .disk("scsi1", &hot_nfs, "500G"),
    );
    lab.add(
        Container::new("solo", &pve1)
            .ostemplate_volid("local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst")
            .rootfs(&lvm, "8G"),
    );
    let primary = lab.add(PbsServer::instance(&pbs, "10.0.0.20").on(&pbs_box));
    let daily = lab.add(Datastore::new(&primary, "daily", "/mnt/hot/pbs").nas_pool(&hot));
    let archive = lab.add(Datastore::new(&primary, "archive", "/mnt/cold/pbs").nas_pool(&cold));
    lab.add(SyncJob::new(&archive, "archive", &daily).schedule("sun 04:00"));
    let user = lab.add(User::new(&primary, "pve@pbs"));
    let token = lab.add(Token::new(&user, "backup"));
    let storage = lab.add(PveStorage::new("pbs-daily", &primary, &daily, &token));
    lab.add(BackupJob::new("nightly", &storage, "02:00").guest(&immich));
    lab
}

fn note(book: &NoteBook, address: &str) -> String {
    book.notes
        .iter()
        .find(|n| n.address.to_string() == address)
        .unwrap_or_else(|| panic!("no note for {address}"))
        .to_markdown()
}

#[test]
fn a_guest_note_has_its_copies_losses_and_restore() {
    let mut lab = lab();
    lab.derive();
    let book = NoteBook::of(&lab);
    let md = note(&book, "proxmox.vm.immich");
    for part in [
        "## Copies and failure domains\n\nIts live data is on `appliance.pve1-disk`, `appliance.nas-a`.",
        "- daily copy in `pbs.datastore.primary--daily` on `appliance.nas-a`, served by `pbs.server.primary`, through `proxmox.backup_job.nightly` (`02:00`); at most 1d old",
        "- archive copy in `pbs.datastore.primary--archive` on `appliance.nas-b`, served by `pbs.server.primary`, through `proxmox.backup_job.nightly` (`02:00`) then `pbs.sync_job.primary--archive` (`sun 04:00`)",
        "- losing `appliance.pve1-disk`: restored from `pbs.datastore.primary--daily`, losing at most 1d of data",
        "- losing `appliance.nas-a`: restored from `pbs.datastore.primary--archive`",
        "## How to restore it\n\nProve it first: `restore-drill immich`",
        "pvesm list pbs-daily --vmid <vmid>\nqmrestore pbs-daily:backup/vm/<vmid>/<time> <vmid> --storage <storage>",
    ] {
        assert!(md.contains(part), "{part:?} missing from\n{md}");
    }
    // The PBS box holds no live data of immich's: its loss does not touch it.
    assert!(!md.contains("losing `appliance.pbs-box`"), "{md}");
    // Copies come after the network and before the dependencies.
    assert!(md.find("## Copies").unwrap() < md.find("## Dependencies").unwrap());
    assert!(md.find("## Dependencies").unwrap() < md.find("## How to restore").unwrap());

    let solo = note(&book, "proxmox.ct.solo");
    assert!(
        solo.contains("**No copy**: no backup job selects it."),
        "{solo}"
    );
    assert!(
        solo.contains("- **losing `appliance.pve1-disk` loses it**: it has no copy"),
        "{solo}"
    );
    assert!(!solo.contains("## How to restore it"), "{solo}");

    let short = |name: &str| {
        lab.resources()
            .find(|s| s.address.name() == name)
            .and_then(|s| s.attrs.get("notes"))
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    };
    assert!(
        short("immich").contains(
            "\n- backups: daily primary--daily (nas-a), archive primary--archive (nas-b)\n"
        ),
        "{}",
        short("immich")
    );
    assert!(
        short("solo").contains("\n- backups: NONE\n"),
        "{}",
        short("solo")
    );
    // The token's secret is never in a note.
    for n in &book.notes {
        assert!(
            !n.to_markdown().contains("(sensitive"),
            "{}",
            n.to_markdown()
        );
    }
}
