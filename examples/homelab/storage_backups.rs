//! Storage and backups: two NASes and their pools, the backup server, the
//! daily copy and the archive copy on separate appliances, and the
//! nightly job services join with `.backup(&storage.nightly)`.
//!
//! Losing NAS A loses the live data on the hot pool and the daily copy:
//! the archive on NAS B restores them. Losing NAS B, the backup server's
//! box or a node loses no data. `check` proves it before anything is
//! applied; `failures` shows the whole table.

use lab::pbs::model::{
    Acl, BackupTarget, Datastore, PbsServer, PruneJob, PveStorage, Retention, Role, SyncJob, Token,
    User, VerifyJob,
};
use lab::prelude::*;
use lab::proxmox::model::{BackupJob, Content, NasPool, Storage};

/// What services use: where their data lives and the job that copies it.
pub struct StorageBackups {
    /// NAS A's hot pool over NFS: the services' data.
    pub hot: Handle<Storage>,
    /// Every night at 02:00 into the daily copy.
    pub nightly: Handle<BackupJob>,
}

/// Adds the NASes, their pools, the backup server and its copies.
pub fn add(lab: &mut Lab, pbs: &ProviderHandle) -> StorageBackups {
    // The boxes that can fail, besides the nodes.
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

    // NAS A's hot pool holds the services' data; NAS B's cold pool the archive.
    let hot_pool = lab.add(
        NasPool::new("hot")
            .server("10.0.30.5")
            .export("/mnt/hot/pve")
            .capacity("8T")
            .on(&nas_a),
    );
    let cold_pool = lab.add(
        NasPool::new("cold")
            .server("10.0.30.6")
            .export("/mnt/cold/pbs")
            .capacity("16T")
            .on(&nas_b),
    );
    let hot = lab.add(Storage::nfs("hot", &hot_pool).content(&[Content::Images, Content::Rootdir]));

    // The backup server on its own box; the daily copy on NAS A, the
    // archive on NAS B.
    let server = lab.add(PbsServer::instance(pbs, "10.0.10.20").on(&pbs_box));
    let daily = lab.add(
        Datastore::new(&server, "daily", "/mnt/hot/pbs-daily")
            .nas_pool(&hot_pool)
            .gc_schedule("daily"),
    );
    let archive =
        lab.add(Datastore::new(&server, "archive", "/mnt/cold/pbs-archive").nas_pool(&cold_pool));
    lab.add(SyncJob::new(&archive, "archive", &daily).schedule("sun 04:00"));
    lab.add(
        PruneJob::new(&daily, "daily", "05:00").retention(Retention::default().daily(7).weekly(4)),
    );
    lab.add(
        PruneJob::new(&archive, "archive", "sun 06:00")
            .retention(Retention::default().weekly(8).monthly(12)),
    );
    lab.add(VerifyJob::new(&daily, "weekly").schedule("sat 05:00"));

    // Proxmox VE writes into the daily copy with a token that may only
    // back up (PBS gives a token at most what its user has: grant both).
    let pve_user = lab.add(User::new(&server, "pve@pbs"));
    let token = lab.add(Token::new(&pve_user, "backup"));
    let user_acl = lab.add(Acl::new(&pve_user, Role::DatastoreBackup, &daily));
    let token_acl = lab.add(Acl::new(&token, Role::DatastoreBackup, &daily));
    // PVE contacts the PBS when it creates the storage: the rights first.
    let pbs_daily = lab.add(
        PveStorage::new("pbs-daily", &server, &daily, &token)
            .after(&user_acl)
            .after(&token_acl),
    );
    // Services join the job with `.backup(&nightly)`.
    let nightly = lab.add(BackupJob::new("nightly", &pbs_daily, "02:00"));

    // What the lab promises for the services' data: at most 9 days lost
    // whatever single box fails.
    lab.add(BackupTarget::new("hot").rpo("9d").protects(&hot_pool));

    StorageBackups { hot, nightly }
}
