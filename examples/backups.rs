//! Backups whose failure domains are isolated: the backup server, the daily
//! copy and the archive copy on three separate appliances, proven before
//! anything is applied, and a restore drill that shows the copies restore.
//!
//! ```sh
//! cargo run --example backups --features pbs,sim -- check          # no single appliance loss loses data
//! cargo run --example backups --features pbs,sim -- failures       # what each appliance loss would cost
//! cargo run --example backups --features pbs,sim -- graph --view failures --out failures.svg  # the same, drawn
//! cargo run --example backups --features pbs,sim -- apply --auto-approve
//! cargo run --example backups --features pbs,sim -- backup-now     # the nightly job, now
//! cargo run --example backups --features pbs,sim -- restore-drill immich
//! cargo run --example backups --features pbs,sim -- plan           # "No changes."
//! LAB_VARIANT=archive-on-primary cargo run --example backups --features pbs,sim -- check
//! ```
//!
//! The lab: two Proxmox nodes; NAS A with the hot pool (guests' data disks
//! and the daily copy); NAS B with the cold pool (the archive copy); the
//! Proxmox Backup Server on its own small box. Every night PVE backs the
//! guests up into the daily datastore; every Sunday PBS copies it into the
//! archive datastore. Losing NAS A loses the live data and the daily copy,
//! and the archive restores it; losing NAS B or the PBS box loses no data.
//! With `LAB_VARIANT=archive-on-primary` the archive sits on NAS A too, and
//! `check` fails at the line that put it there.
//!
//! With no `PVE_*` / `PBS_PRIMARY_*` (or `PBS_*`) variables it runs against
//! the embedded simulators, kept in `.lab/sim/`.

use lab::pbs::connect::PbsConnection;
use lab::pbs::model::{
    Acl, BackupTarget, Datastore, PbsServer, PruneJob, PveStorage, Retention, Role, SyncJob, Token,
    User, VerifyJob,
};
use lab::prelude::*;
use lab::proxmox::model::{BackupJob, Container, Content, File, NasPool, Node, Storage, Vm};
use lab::proxmox::sim::SimConfig;
use lab::proxmox::{Connection, ProxmoxOptions};

fn main() {
    let archive_on_primary = std::env::var("LAB_VARIANT").as_deref() == Ok("archive-on-primary");

    // Live endpoints from the environment, else the simulators in .lab/sim/.
    let pve = Connection::from_env_or_simulated(SimConfig::default(), ".lab/sim/pve.json")
        .unwrap_or_else(|e| exit(&e));
    let primary_pbs = PbsConnection::from_env_or_simulated(
        "primary",
        PbsConnection::default_state_file("primary"),
    )
    .unwrap_or_else(|e| exit(&e));
    eprintln!(
        "talking to {} and {}",
        pve.describe(),
        primary_pbs.describe()
    );

    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));
    let primary_instance = lab.register_provider_as(primary_pbs.name(), primary_pbs.provider());

    // The boxes that can fail: each node's disks, two NASes, the PBS box.
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0").cores(16).memory_gb(64));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0").cores(16).memory_gb(64));
    lab.add(Node::local_disk(&pve1));
    lab.add(Node::local_disk(&pve2));
    let nas_a = lab.add(
        Appliance::new("nas-a")
            .kind(ApplianceKind::Nas)
            .site("rack"),
    );
    let nas_b = lab.add(
        Appliance::new("nas-b")
            .kind(ApplianceKind::Nas)
            .site("cellar"),
    );
    let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));

    // NAS A's hot pool holds the guests' data; NAS B's cold pool the archive.
    let hot = lab.add(
        NasPool::new("hot")
            .server("10.0.10.5")
            .export("/mnt/hot/pve")
            .capacity("8T")
            .on(&nas_a),
    );
    let cold = lab.add(
        NasPool::new("cold")
            .server("10.0.10.6")
            .export("/mnt/cold/pbs")
            .capacity("16T")
            .on(&nas_b),
    );
    let hot_nfs = lab.add(Storage::nfs("hot", &hot).content(&[Content::Images, Content::Rootdir]));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1)
            .node(&pve2),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Vztmpl, Content::Iso])
            .node(&pve1)
            .node(&pve2),
    );

    // The guests: a photo library (its library on the hot pool) and a
    // document manager.
    let immich = lab.add(
        Vm::new("immich", &pve1)
            .cores(4)
            .memory_mb(8192)
            .disk("scsi0", &lvm, "32G")
            .disk("scsi1", &hot_nfs, "200G")
            .nic("net0", "vmbr0"),
    );
    let ct_template = lab.add(File::download(
        "debian-13-ct",
        &pve2,
        &local,
        Content::Vztmpl,
        "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
    ));
    let paperless = lab.add(
        Container::new("paperless", &pve2)
            .ostemplate(&ct_template)
            .cores(2)
            .memory_mb(2048)
            .rootfs(&lvm, "8G")
            .mount_point("mp0", &hot_nfs, "50G", "/data")
            .nic("net0", "vmbr0")
            .ip("dhcp"),
    );

    // The backup server on its own box; the daily copy on NAS A, the archive
    // copy on NAS B.
    let primary = lab.add(PbsServer::instance(&primary_instance, "10.0.10.20").on(&pbs_box));
    let daily = lab.add(
        Datastore::new(&primary, "daily", "/mnt/hot/pbs-daily")
            .nas_pool(&hot)
            .gc_schedule("daily"),
    );
    let archive = if archive_on_primary {
        // The variant: "more copies on one disk is not redundancy".
        lab.add(Datastore::new(&primary, "archive", "/mnt/hot/pbs-archive").nas_pool(&hot))
    } else {
        lab.add(Datastore::new(&primary, "archive", "/mnt/cold/pbs-archive").nas_pool(&cold))
    };
    lab.add(SyncJob::new(&archive, "archive", &daily).schedule("sun 04:00"));
    lab.add(
        PruneJob::new(&daily, "daily", "05:00").retention(Retention::default().daily(7).weekly(4)),
    );
    lab.add(
        PruneJob::new(&archive, "archive", "sun 06:00")
            .retention(Retention::default().weekly(8).monthly(12)),
    );
    lab.add(VerifyJob::new(&daily, "weekly").schedule("sat 05:00"));

    // Proxmox VE writes into the daily copy with a token that may only back up.
    let pve_user = lab.add(User::new(&primary, "pve@pbs"));
    let token = lab.add(Token::new(&pve_user, "backup"));
    // PBS gives a token at most what its user has: grant both.
    let user_acl = lab.add(Acl::new(&pve_user, Role::DatastoreBackup, &daily));
    let token_acl = lab.add(Acl::new(&token, Role::DatastoreBackup, &daily));
    // PVE contacts the PBS when it creates the storage: the rights first.
    let pbs_daily = lab.add(
        PveStorage::new("pbs-daily", &primary, &daily, &token)
            .after(&user_acl)
            .after(&token_acl),
    );
    lab.add(
        BackupJob::new("nightly", &pbs_daily, "02:00")
            .guest(&immich)
            .guest(&paperless),
    );

    // What the lab promises for the photos: at most 9 days lost whatever
    // single box fails, and a year of monthly restore points.
    lab.add(
        BackupTarget::new("photos")
            .rpo("9d")
            .retention(Retention::default().monthly(12))
            .protects(&immich),
    );

    lab::cli::run(lab)
}

fn exit(e: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1)
}
