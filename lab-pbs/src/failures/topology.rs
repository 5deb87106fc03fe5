//! The input of the analysis: plain values naming every place data lives,
//! every copy job and every box whose loss matters.
//!
//! The lowering from a [`lab_core::Lab`] fills a [`Topology`]; tests and
//! benches build one by hand. Items refer to each other by
//! [`Address`]; each carries the line that declared it (`loc`), so a
//! diagnostic points at the user's code. The constructors are
//! `#[track_caller]` and record their caller's line, which the lowering
//! replaces with the builder's.

use std::panic::Location;
use std::time::Duration;

use lab_core::{Address, ApplianceKind, Loc};

use super::gap::Schedule;

/// A failure domain: one box whose loss takes everything on it.
#[derive(Clone, Debug)]
pub struct ApplianceInfo {
    /// `appliance.<name>`.
    pub address: Address,
    /// What sort of box it is.
    pub kind: ApplianceKind,
    /// Where it stands, if said (the Mermaid picture groups by site).
    pub site: Option<String>,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl ApplianceInfo {
    /// An appliance of `kind`, declared at the caller's line.
    #[track_caller]
    pub fn new(address: Address, kind: ApplianceKind) -> Self {
        ApplianceInfo {
            address,
            kind,
            site: None,
            loc: Some(Location::caller()),
        }
    }

    /// Where it stands.
    pub fn site(mut self, site: &str) -> Self {
        self.site = Some(site.to_string());
        self
    }
}

/// A hypervisor that runs guests.
#[derive(Clone, Debug)]
pub struct ComputeNode {
    /// The node's address (e.g. `proxmox.node.pve1`).
    pub address: Address,
    /// The appliances whose loss takes it down (its local disk, a NAS it
    /// boots from).
    pub fails_with: Vec<Address>,
    /// Memory it offers to guests, in MiB.
    pub memory_mib: u64,
    /// Cores it offers to guests.
    pub cores: u32,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl ComputeNode {
    /// A node that goes down with `fails_with`.
    #[track_caller]
    pub fn new(address: Address, fails_with: Address, memory_mib: u64, cores: u32) -> Self {
        ComputeNode {
            address,
            fails_with: vec![fails_with],
            memory_mib,
            cores,
            loc: Some(Location::caller()),
        }
    }
}

/// One disk of a guest: where it lives and how big it is.
#[derive(Clone, Debug)]
pub struct Disk {
    /// The appliance holding it (its storage's).
    pub appliance: Address,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A VM or container as the failure analysis sees it: the node it runs on,
/// the resources it needs there, where its disks live, and what its owner
/// asks of it (keep running through a node loss, a recovery point target).
/// The analysis asks, for each loss of appliances, whether its live data
/// and a recent enough copy survive and whether it still has room to run.
#[derive(Clone, Debug)]
pub struct Guest {
    /// The guest's address (e.g. `proxmox.vm.immich`).
    pub address: Address,
    /// The node it runs on.
    pub node: Address,
    /// Its memory in MiB.
    pub memory_mib: u64,
    /// Its cores.
    pub cores: u32,
    /// Its disks. A guest without disks keeps its data on its node: its
    /// live data fails with the node's appliances.
    pub disks: Vec<Disk>,
    /// It must keep running when its node is lost (default true): the
    /// capacity check places it on the surviving nodes.
    pub keep_running: bool,
    /// Its data needs no copy: it is rebuilt from config (Talos nodes). No
    /// backup check fires for it.
    pub rebuildable: bool,
    /// The most recent data its owner accepts to lose, if stated.
    pub rpo_target: Option<Duration>,
    /// The restore points its owner wants kept, if stated.
    pub retention_target: Option<Retention>,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl Guest {
    /// A guest on `node`, with no disk yet, that must keep running.
    #[track_caller]
    pub fn new(address: Address, node: Address, memory_mib: u64, cores: u32) -> Self {
        Guest {
            address,
            node,
            memory_mib,
            cores,
            disks: Vec::new(),
            keep_running: true,
            rebuildable: false,
            rpo_target: None,
            retention_target: None,
            loc: Some(Location::caller()),
        }
    }

    /// Adds a disk of `bytes` on `appliance`.
    pub fn disk(mut self, appliance: Address, bytes: u64) -> Self {
        self.disks.push(Disk { appliance, bytes });
        self
    }

    /// Whether it must keep running when its node is lost.
    pub fn keep_running(mut self, keep: bool) -> Self {
        self.keep_running = keep;
        self
    }

    /// Marks it rebuilt from config: it needs no backup.
    pub fn rebuildable(mut self) -> Self {
        self.rebuildable = true;
        self
    }

    /// The data-loss window its owner accepts.
    pub fn rpo_target(mut self, target: Duration) -> Self {
        self.rpo_target = Some(target);
        self
    }

    /// The restore points its owner wants kept.
    pub fn retention_target(mut self, target: Retention) -> Self {
        self.retention_target = Some(target);
        self
    }
}

/// The data of a NAS pool (what lives on it besides guest disks: photos,
/// documents, media).
#[derive(Clone, Debug)]
pub struct PoolData {
    /// The pool's address (e.g. `proxmox.nas_pool.tank`).
    pub address: Address,
    /// The appliance it is on.
    pub appliance: Address,
    /// The bytes it holds, if known (a restore must find that much room).
    pub used_bytes: Option<u64>,
    /// Its size, if known (room for restoring another pool's data).
    pub capacity_bytes: Option<u64>,
    /// The most recent data its owner accepts to lose, if stated.
    pub rpo_target: Option<Duration>,
    /// The restore points its owner wants kept, if stated.
    pub retention_target: Option<Retention>,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl PoolData {
    /// A pool on `appliance` of unknown size.
    #[track_caller]
    pub fn new(address: Address, appliance: Address) -> Self {
        PoolData {
            address,
            appliance,
            used_bytes: None,
            capacity_bytes: None,
            rpo_target: None,
            retention_target: None,
            loc: Some(Location::caller()),
        }
    }

    /// Its used and total bytes.
    pub fn size(mut self, used_bytes: u64, capacity_bytes: u64) -> Self {
        self.used_bytes = Some(used_bytes);
        self.capacity_bytes = Some(capacity_bytes);
        self
    }

    /// The data-loss window its owner accepts.
    pub fn rpo_target(mut self, target: Duration) -> Self {
        self.rpo_target = Some(target);
        self
    }

    /// The restore points its owner wants kept.
    pub fn retention_target(mut self, target: Retention) -> Self {
        self.retention_target = Some(target);
        self
    }
}

/// A Proxmox Backup Server: it reads (restores from) its datastores.
#[derive(Clone, Debug)]
pub struct BackupServer {
    /// The server's address (e.g. `pbs.server.main`).
    pub address: Address,
    /// The appliances whose loss takes it down: its own box, or, for a PBS
    /// guest, its node's and its disks' appliances.
    pub fails_with: Vec<Address>,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl BackupServer {
    /// A server that goes down with `fails_with`.
    #[track_caller]
    pub fn new(address: Address, fails_with: Vec<Address>) -> Self {
        BackupServer {
            address,
            fails_with,
            loc: Some(Location::caller()),
        }
    }
}

/// PBS's prune options: how many restore points of each kind are kept.
/// All `None` is PBS's default: keep everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// `keep-last`.
    pub last: Option<u32>,
    /// `keep-hourly`.
    pub hourly: Option<u32>,
    /// `keep-daily`.
    pub daily: Option<u32>,
    /// `keep-weekly`.
    pub weekly: Option<u32>,
    /// `keep-monthly`.
    pub monthly: Option<u32>,
    /// `keep-yearly`.
    pub yearly: Option<u32>,
}

impl Retention {
    /// The buckets with their PBS names.
    pub fn buckets(&self) -> [(&'static str, Option<u32>); 6] {
        [
            ("keep-last", self.last),
            ("keep-hourly", self.hourly),
            ("keep-daily", self.daily),
            ("keep-weekly", self.weekly),
            ("keep-monthly", self.monthly),
            ("keep-yearly", self.yearly),
        ]
    }

    /// True when nothing is pruned (no `keep-*` set).
    pub fn keeps_all(&self) -> bool {
        self.buckets().iter().all(|(_, n)| n.is_none())
    }

    /// True when this retention keeps at least what `target` asks for,
    /// bucket by bucket (keeping everything covers any target).
    ///
    /// ```
    /// use lab_pbs::failures::Retention;
    /// let kept = Retention { daily: Some(7), weekly: Some(4), ..Default::default() };
    /// assert!(kept.covers(&Retention { daily: Some(7), ..Default::default() }));
    /// assert!(!kept.covers(&Retention { monthly: Some(6), ..Default::default() }));
    /// assert!(Retention::default().covers(&Retention { yearly: Some(10), ..Default::default() }));
    /// ```
    pub fn covers(&self, target: &Retention) -> bool {
        self.keeps_all()
            || self
                .buckets()
                .iter()
                .zip(target.buckets())
                .all(|((_, have), (_, want))| want.is_none_or(|w| have.unwrap_or(0) >= w))
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.keeps_all() {
            return f.write_str("keep-all");
        }
        let parts: Vec<String> = self
            .buckets()
            .iter()
            .filter_map(|(name, n)| n.map(|n| format!("{name}={n}")))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// What a copy is for, when the user says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CopyRole {
    /// The first copy, restored from day to day.
    Daily,
    /// A further copy kept apart for when the daily one is gone.
    Archive,
}

impl std::fmt::Display for CopyRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CopyRole::Daily => "daily",
            CopyRole::Archive => "archive",
        })
    }
}

/// A PBS datastore: where copies live.
#[derive(Clone, Debug)]
pub struct Datastore {
    /// The datastore's address (e.g. `pbs.datastore.daily`).
    pub address: Address,
    /// The server that reads it (restores come through it).
    pub server: Address,
    /// The appliance its path is on.
    pub appliance: Address,
    /// Its prune options.
    pub retention: Retention,
    /// Its size in bytes, if known (shown beside what it holds).
    pub capacity_bytes: Option<u64>,
    /// Daily or archive, if the user says; otherwise derived per copy: a
    /// datastore a backup job writes is the daily copy, one reached by a
    /// sync from another datastore a further (archive) copy.
    pub role: Option<CopyRole>,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl Datastore {
    /// A datastore of `server` on `appliance`, keeping everything.
    #[track_caller]
    pub fn new(address: Address, server: Address, appliance: Address) -> Self {
        Datastore {
            address,
            server,
            appliance,
            retention: Retention::default(),
            capacity_bytes: None,
            role: None,
            loc: Some(Location::caller()),
        }
    }

    /// Its prune options.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Says what the copy is for.
    pub fn role(mut self, role: CopyRole) -> Self {
        self.role = Some(role);
        self
    }
}

/// Which data a backup job copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every guest (PVE's `all=1`).
    All,
    /// These guests or pools (by id, pool or tag, resolved by the lowering).
    Only(Vec<Address>),
    /// Every guest but these (`all=1` with `exclude`).
    AllExcept(Vec<Address>),
}

impl Selection {
    /// Whether the data at `address` (a guest when `is_guest`) is selected.
    pub fn selects(&self, address: &Address, is_guest: bool) -> bool {
        match self {
            Selection::All => is_guest,
            Selection::Only(list) => list.contains(address),
            Selection::AllExcept(list) => is_guest && !list.contains(address),
        }
    }
}

/// A backup job: copies the selected data into a datastore.
#[derive(Clone, Debug)]
pub struct BackupJob {
    /// The job's address (e.g. `pbs.backup_job.nightly`).
    pub address: Address,
    /// What it backs up.
    pub selection: Selection,
    /// Where it writes.
    pub datastore: Address,
    /// When it runs.
    pub schedule: Schedule,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl BackupJob {
    /// A job writing `selection` into `datastore` on `schedule`.
    #[track_caller]
    pub fn new(
        address: Address,
        selection: Selection,
        datastore: Address,
        schedule: Schedule,
    ) -> Self {
        BackupJob {
            address,
            selection,
            datastore,
            schedule,
            loc: Some(Location::caller()),
        }
    }
}

/// A sync job: the server of `to` pulls `from` (through a remote when
/// `from` is on another server).
#[derive(Clone, Debug)]
pub struct SyncJob {
    /// The job's address (e.g. `pbs.sync_job.offsite`).
    pub address: Address,
    /// The datastore copied.
    pub from: Address,
    /// The datastore written.
    pub to: Address,
    /// When it runs.
    pub schedule: Schedule,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl SyncJob {
    /// A job copying datastore `from` into `to` on `schedule`.
    #[track_caller]
    pub fn new(address: Address, from: Address, to: Address, schedule: Schedule) -> Self {
        SyncJob {
            address,
            from,
            to,
            schedule,
            loc: Some(Location::caller()),
        }
    }
}

/// A pool replication (ZFS send, rsync): copies a pool's data onto another
/// pool, where it is restorable without a backup server.
#[derive(Clone, Debug)]
pub struct PoolReplication {
    /// The job's address.
    pub address: Address,
    /// The pool copied.
    pub from: Address,
    /// The pool written.
    pub to: Address,
    /// When it runs.
    pub schedule: Schedule,
    /// The line that declared it.
    pub loc: Option<Loc>,
}

impl PoolReplication {
    /// A replication of pool `from` onto pool `to` on `schedule`.
    #[track_caller]
    pub fn new(address: Address, from: Address, to: Address, schedule: Schedule) -> Self {
        PoolReplication {
            address,
            from,
            to,
            schedule,
            loc: Some(Location::caller()),
        }
    }
}

/// Everything the failure-domain analysis reasons over.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// The failure domains.
    pub appliances: Vec<ApplianceInfo>,
    /// The hypervisors.
    pub nodes: Vec<ComputeNode>,
    /// The guests.
    pub guests: Vec<Guest>,
    /// The NAS pools (their data, and room for restores).
    pub pools: Vec<PoolData>,
    /// The backup servers.
    pub servers: Vec<BackupServer>,
    /// The datastores.
    pub datastores: Vec<Datastore>,
    /// Jobs copying data into datastores.
    pub backup_jobs: Vec<BackupJob>,
    /// Jobs copying datastores into datastores.
    pub sync_jobs: Vec<SyncJob>,
    /// Jobs copying pools onto pools.
    pub replications: Vec<PoolReplication>,
}
