//! # An API-faithful Proxmox VE simulator (feature `sim`)
//!
//! The client ([`crate::api`]) and the provider are tested against this
//! simulator, so it answers the way a real PVE 9.1 node does, not the way a
//! convenient mock would. It serves `https://127.0.0.1:<port>/api2/json/...`
//! with a fresh self-signed certificate (clients must pin
//! [`SimHandle::fingerprint`], as they would for a freshly installed node)
//! and implements the endpoints `lab` uses with their real shapes and quirks.
//! It never dials out: what is behind a URL is simulated.
//! Every modelled behaviour cites `shared/notes/proxmox-api.md` (the
//! "notes") in the module that implements it:
//!
//! | area | module | what is modelled |
//! |---|---|---|
//! | transport | `server` | token auth (`PVEAPIToken=<id>=<secret>`, split on the last `=`), failures delayed (3 s by default) then **401** with an empty body and PVE's reason (`No ticket`, `invalid token value!`, `no such token '<n>' for user '<u>'`); messages in the **reason phrase**; `{"data":null}` (+`errors`) error bodies; 501 for unknown paths and for bodies on GET/DELETE; schema validation of every request; routing like pveproxy (the whole path percent-decoded, then split; below `.../storage/{storage}/content` the rest is one volume id, `/` encoded or not: pve-storage's `fragmentDelimiter`) (notes §1-3) |
//! | tasks | `tasks` | UPIDs, `running` → `stopped` after a per-type latency, workers that write in the stages the real ones do (log lines as they go), `OK` / `WARNINGS: n` / error exit statuses, cleanup on failure, task logs and lists with `total`, task stop (notes §4) |
//! | restart | `tasks`, `state`, `tls` | a simulator started on its state file is the node after a crash or reboot: tasks that were running read `stopped` with `unexpected status` and no `TASK` line (pve-common `read_status`), and what their workers wrote stays (a clone's target `lock: clone` with the drives copied so far, a create's `lock: create` and its allocated disks, no file for a download); a simulator embedded in `lab` ([`crate::Connection::simulated`]) stops with `lab`, not with its node, so it resumes them instead ([`Restart::NodeKeptRunning`]); the certificate and the token secret are kept in `<state>.tls.json`; the state file is re-read when changed from outside; [`SimHandle::unlock`] / `pve-sim unlock` = `qm unlock` / `pct unlock` |
//! | locks | `locks` | config and storage locks with timeouts taken where qemu-server/pve-container take them (before or inside the worker), `can't lock file '...' - got timeout`, the `lock` config key (`create`, `clone`) and `VM is locked (<lock>)`, `skiplock` refused for a token (`Only root may use this option.`) (notes §3, §15) |
//! | QEMU | `qemu`, `power` | create (MACs, disk allocation drive by drive, `import-from`, cloud-init drive, `meta`/`vmgenid`/`smbios1`, default boot order, `start`, `pool`), config (pending on running VMs, `digest`, `current=1`, `snapshot=`, masked `cipassword`, urlencoded `sshkeys`, new MAC when a NIC is written without one), linked/full clone (source locked shared, new VMID exclusive, the storage lock only around each drive's allocation, a full clone's copy sharing the storage's bandwidth (`copies`), new MACs, placeholder `# qmclone temporary file`, the new config rewritten after each drive), template (`base-` volumes), resize, power (start/stop/shutdown/reboot/reset, suspend to RAM (`paused`) or to disk (`lock: suspended`, a state volume), resume; `check_running` before the fork: `VM <id> not running`), destroy (notes §6) |
//! | LXC | `lxc`, `oci` | create (`ostemplate`, rootfs/mount points, `hwaddr`, the `hostname` `CT<id>`, `memory` 512 and `swap` 512 defaults; from an OCI image: its `Entrypoint` + `Cmd` as `entrypoint`, `cmode: console`, `host-managed=1` NICs and its `Env` as `env`, replacing what the create sent), config (`entrypoint`, NUL-separated `env`), resize, power, destroy, the root-only checks a token hits (403) (notes §7) |
//! | snapshots | `snapshots` | QEMU and LXC: list (+`current`), create (`lock: snapshot`, `snapstate: prepare`, RAM to `vm-<id>-state-<name>`, `snapshot feature is not available` on raw files), rollback (stops the guest, `lock: rollback`, unused disks, starts with RAM or `start=1`), delete (`lock: snapshot-delete`, parents relinked), section config read/update, all as tasks (`qmsnapshot`, `vzrollback`, ...) |
//! | storage | `storage`, `content`, `urls`, `aplinfo` | `/storage` CRUD with synchronous NFS activation and fixed keys, per-node status and content, volume delete as an `imgdel` task (`delay=` waits), the appliance catalogue (`aplinfo`) and its downloads, `download-url` with PVE's content and extension rules, file name normalisation, the existing-file and checksum checks inside the worker, `query-url-metadata`; each URL's simulated content (size, digests per algorithm, [`SimUrl`]); `oci-registry-pull` (`oci`: file storages with `vztmpl` only, `<repository-tag>.tar` names, an existing file refused before the `ociregistrypull` task, skopeo's failure for [`SimConfig::oci_images_missing`], each image's simulated config, [`OciImage`]) (notes §8) |
//! | pools | `pools` | `/pools` with `?poolid=` and the deprecated `/pools/{id}` (notes §12) |
//! | SDN | `sdn` | `/cluster/sdn` zones, VNets and subnets (pve-network): writes pending until `PUT /cluster/sdn` commits them as the running config in a `reloadnetworkall` task, `?pending=1` (`state` new/changed/deleted, `pending` values) and `?running=1`, pve-network's refusals and texts, applied VNets usable as guest bridges on their zone's nodes; bridges VLAN-aware only as configured ([`SimNode::vlan_aware_bridges`]; a lab's declared bridges are made so by [`NodeJoiner::declare_bridges`]) |
//! | cluster | `cluster` | `/version`, `/nodes`, `/nodes/{node}/status`, `/nodes/{node}/version`, `/nodes/{node}/network`, `/cluster/resources`, `/cluster/status`, `/cluster/nextid`, `/cluster/tasks`, `/cluster/options`, `/access/permissions` (notes §5) |
//! | firewall | `firewall`, `firewall_api` | pve-firewall's API: `/cluster/firewall/{options,groups,ipset}` and `/nodes/{node}/{qemu,lxc}/{vmid}/firewall/{options,rules}`; rules `POST`ed at the top (disabled without `enable`), `moveto`, one digest per list (stale: `detected modified configuration`), `verify_rule`'s 400s, `is not empty` refusals, ipset entries stored as `clean_cidr` does; a destroyed guest's config removed; [`SimHandle::firewall_snapshot`] |
//! | faults | [`Faults`] | failing requests, extra latency, 400 on the first task poll, 599 on polls, lock timeout at run time (notes §16) |
//!
//! ## Deliberate deviations
//!
//! - Lock contention is made deterministic for creates: a create task holds
//!   its target storage's lock for its whole latency (on a real node only
//!   the allocation itself runs under that lock, which takes long only under
//!   load). Parallel creates onto one storage therefore serialise, and fail
//!   with PVE's exact text once the queue is longer than the lock timeout.
//!   Clones hold it only around each drive's allocation, as qemu-server
//!   does, and a full clone's copy shares the storage's
//!   [`TaskLatency::copy_bandwidth`] with the other copies running there.
//! - Clones follow current qemu-server by default (locks taken inside the
//!   worker, shared source lock); [`CloneSourceLock::ExclusiveInRequest`]
//!   opts into a stricter model where a second clone of one source fails
//!   the HTTP request itself with 500 `can't lock file
//!   '/var/lock/qemu-server/lock-<srcid>.conf' - got timeout`.
//! - The digest is a truncated SHA-256 (40 hex characters) of the config
//!   file text rather than SHA-1; it has the same shape and changes exactly
//!   when the content changes.
//! - The API token has every privilege (no ACLs, no privilege separation);
//!   only the checks PVE hard-codes for non-`root@pam` users are modelled
//!   (`skiplock`, LXC feature flags other than `nesting`, bind mounts).
//! - Snapshots keep no data per volume: a rollback restores each volume's
//!   size from the snapshot's drive line, and any snapshot may be rolled
//!   back to (ZFS would refuse all but the newest).
//! - Not simulated (they answer 501 like an unknown path, or are accepted
//!   and ignored when they are mere parameters): tickets/CSRF, backups and
//!   restores, migration, HA, SDN locks/rollback/IPAM/DNS, firewall aliases and host rules, node network changes,
//!   `move_disk`, uploads, LXC clone/template and suspend/resume, the guest
//!   agent, `PUT /cluster/options`.
//!
//! ## Use
//!
//! ```no_run
//! # async fn demo() -> Result<(), lab_proxmox::sim::SimError> {
//! use lab_proxmox::sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::for_tests()).await?;
//! println!("{} {} {}", sim.url(), sim.api_token(), sim.fingerprint());
//! sim.shutdown();
//! # Ok(()) }
//! ```
//!
//! From a synchronous `main` (before another runtime is built), use
//! [`SimHandle::start_background`], which runs the simulator on its own
//! thread and runtime. The `pve-sim` binary runs it standalone.

mod aplinfo;
mod async_worker;
mod background;
mod backup;
mod cluster;
mod content;
mod copies;
mod disks;
mod faults;
mod firewall;
mod firewall_api;
mod guest;
mod locks;
mod lxc;
mod oci;
mod pbs_link;
mod pools;
mod power;
mod propstr;
mod qemu;
mod rest;
mod restore;
mod sdn;
mod sdn_views;
mod server;
mod snapshots;
mod state;
mod storage;
mod tasks;
pub mod tls;
mod urls;
mod validate;
mod vzdump;
mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

pub use background::start_on_own_thread;
pub use faults::Faults;
pub use firewall::{
    Firewall, FwRule, GuestFirewallConf, IpSetConf, IpSetEntryConf, SecurityGroupConf,
};
pub use oci::{image_config, OciImage};
pub use sdn::{Sdn, SdnRunning, SdnSection, SdnSections};
pub use server::{request_params, serve_https};
pub use urls::SimUrl;
pub use validate::PveSchema;
pub use world::{
    BackupJob, Download, Guest, GuestKind, GuestStatus, GuestView, NodeState, Pool, Snapshot,
    Storage, Task, TaskState, Volume, World,
};

use state::{Settings, Shared};

/// How long each worker type takes before it completes.
///
/// The defaults are scaled for demos (a clone takes 0.8 s, not minutes);
/// [`TaskLatency::instant`] makes every task complete after a few
/// milliseconds for tests. Any worker type not listed uses `other`.
#[derive(Debug, Clone)]
pub struct TaskLatency {
    /// `qmcreate` (VM create).
    pub qmcreate: Duration,
    /// `qmclone` (VM clone).
    pub qmclone: Duration,
    /// `qmstart`.
    pub qmstart: Duration,
    /// `qmstop`.
    pub qmstop: Duration,
    /// `qmshutdown`.
    pub qmshutdown: Duration,
    /// `qmreboot`.
    pub qmreboot: Duration,
    /// `qmdestroy`.
    pub qmdestroy: Duration,
    /// `qmtemplate`.
    pub qmtemplate: Duration,
    /// `qmconfig` (`POST .../config`).
    pub qmconfig: Duration,
    /// `resize` (QEMU and LXC).
    pub resize: Duration,
    /// `download` (`download-url`) and `ociregistrypull` (`oci-registry-pull`).
    pub download: Duration,
    /// `vzcreate`.
    pub vzcreate: Duration,
    /// `vzstart`.
    pub vzstart: Duration,
    /// `vzstop`.
    pub vzstop: Duration,
    /// `vzshutdown`.
    pub vzshutdown: Duration,
    /// `vzreboot`.
    pub vzreboot: Duration,
    /// `vzdestroy`.
    pub vzdestroy: Duration,
    /// Any other worker type.
    pub other: Duration,
    /// A storage's copy throughput in bytes per second, shared between the
    /// full clones copying onto it at once: a full clone's disk of `size`
    /// bytes takes `size / (copy_bandwidth / concurrent copies)` on top of
    /// `qmclone`; a linked clone copies nothing. `u64::MAX`: copies are
    /// instant. Default: 4 GiB/s, scaled for demos like the latencies
    /// (a 3 GiB cloud image copies in 0.75 s alone).
    pub copy_bandwidth: u64,
}

/// 1 GiB in bytes.
const GIB: u64 = 1 << 30;

impl Default for TaskLatency {
    fn default() -> Self {
        let ms = Duration::from_millis;
        TaskLatency {
            qmcreate: ms(300),
            qmclone: ms(800),
            qmstart: ms(200),
            qmstop: ms(100),
            qmshutdown: ms(200),
            qmreboot: ms(300),
            qmdestroy: ms(200),
            qmtemplate: ms(200),
            qmconfig: ms(100),
            resize: ms(100),
            download: ms(500),
            vzcreate: ms(400),
            vzstart: ms(200),
            vzstop: ms(100),
            vzshutdown: ms(200),
            vzreboot: ms(300),
            vzdestroy: ms(200),
            other: ms(100),
            copy_bandwidth: 4 * GIB,
        }
    }
}

impl TaskLatency {
    /// Every task completes after `d` (copies are instant).
    pub fn uniform(d: Duration) -> Self {
        TaskLatency {
            qmcreate: d,
            qmclone: d,
            qmstart: d,
            qmstop: d,
            qmshutdown: d,
            qmreboot: d,
            qmdestroy: d,
            qmtemplate: d,
            qmconfig: d,
            resize: d,
            download: d,
            vzcreate: d,
            vzstart: d,
            vzstop: d,
            vzshutdown: d,
            vzreboot: d,
            vzdestroy: d,
            other: d,
            copy_bandwidth: u64::MAX,
        }
    }

    /// Every task completes after 5 ms (tests).
    pub fn instant() -> Self {
        TaskLatency::uniform(Duration::from_millis(5))
    }

    /// Sets the latency of one worker type (`"qmclone"`, `"download"`, ...;
    /// an unknown type sets `other`).
    pub fn with(mut self, wtype: &str, latency: Duration) -> Self {
        let slot = match wtype {
            "qmcreate" => &mut self.qmcreate,
            "qmclone" => &mut self.qmclone,
            "qmstart" => &mut self.qmstart,
            "qmstop" => &mut self.qmstop,
            "qmshutdown" => &mut self.qmshutdown,
            "qmreboot" => &mut self.qmreboot,
            "qmdestroy" => &mut self.qmdestroy,
            "qmtemplate" => &mut self.qmtemplate,
            "qmconfig" => &mut self.qmconfig,
            "resize" => &mut self.resize,
            "download" | "ociregistrypull" => &mut self.download,
            "vzcreate" => &mut self.vzcreate,
            "vzstart" => &mut self.vzstart,
            "vzstop" => &mut self.vzstop,
            "vzshutdown" => &mut self.vzshutdown,
            "vzreboot" => &mut self.vzreboot,
            "vzdestroy" => &mut self.vzdestroy,
            _ => &mut self.other,
        };
        *slot = latency;
        self
    }

    /// The latency of a worker type.
    pub fn for_type(&self, wtype: &str) -> Duration {
        match wtype {
            "qmcreate" => self.qmcreate,
            "qmclone" => self.qmclone,
            "qmstart" => self.qmstart,
            "qmstop" => self.qmstop,
            "qmshutdown" => self.qmshutdown,
            "qmreboot" => self.qmreboot,
            "qmdestroy" => self.qmdestroy,
            "qmtemplate" => self.qmtemplate,
            "qmconfig" => self.qmconfig,
            "resize" => self.resize,
            "download" | "ociregistrypull" => self.download,
            "vzcreate" => self.vzcreate,
            "vzstart" => self.vzstart,
            "vzstop" => self.vzstop,
            "vzshutdown" => self.vzshutdown,
            "vzreboot" => self.vzreboot,
            "vzdestroy" => self.vzdestroy,
            _ => self.other,
        }
    }
}

/// What a simulator started on a persisted world makes of the tasks that
/// were running when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// The node went down with its tasks (a standalone `pve-sim` killed or
    /// restarted: a crash or a reboot): they read `stopped` with
    /// `unexpected status` and leave what their workers wrote, e.g. a
    /// clone's target locked `clone`. What a real node does.
    #[default]
    NodeRebooted,
    /// The node kept running while the simulator's process was away: the
    /// simulator embedded in a `lab` process ([`crate::Connection::simulated`])
    /// stops with `lab`, which on a real lab never takes the node down. Each
    /// task that was running starts over (its partial work undone, under
    /// the same UPID) and completes, as if it had gone on meanwhile.
    NodeKeptRunning,
}

/// Where a clone takes the source VM's config lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloneSourceLock {
    /// Current qemu-server (PVE 7-9): the worker takes the source lock
    /// *shared* (exclusive only if the source runs) with a 1 s timeout after
    /// forking. Clones of one template contend on the target storage's lock
    /// instead, and a losing clone's **task** fails with `clone failed:
    /// can't lock file '/var/lock/pve-manager/pve-storage-<id>' - got
    /// timeout`.
    #[default]
    SharedInWorker,
    /// Older behaviour (and what many user reports describe): the handler
    /// takes the source lock exclusively before forking and the worker keeps
    /// it, so a second clone of the same source waits `lock_timeout` and the
    /// **HTTP request** fails with 500 `can't lock file
    /// '/var/lock/qemu-server/lock-<srcid>.conf' - got timeout`.
    ExclusiveInRequest,
}

/// One storage on a simulated node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimStorage {
    /// Storage id (`local`).
    pub id: String,
    /// Plugin type (`dir`, `lvmthin`, `nfs`, ...).
    pub kind: String,
    /// Allowed content types.
    pub content: Vec<String>,
    /// Other `storage.cfg` keys (`path`, `vgname`, `thinpool`, ...).
    pub options: BTreeMap<String, String>,
}

impl SimStorage {
    /// `local`: a directory storage at `/var/lib/vz` for ISOs, container
    /// templates, backups, import images and snippets.
    pub fn local() -> Self {
        SimStorage {
            id: "local".into(),
            kind: "dir".into(),
            content: ["iso", "vztmpl", "backup", "import", "snippets"]
                .map(String::from)
                .to_vec(),
            options: BTreeMap::from([("path".to_string(), "/var/lib/vz".to_string())]),
        }
    }

    /// `local-lvm`: an LVM-thin pool `pve/data` for VM disks and container
    /// volumes.
    pub fn local_lvm() -> Self {
        SimStorage {
            id: "local-lvm".into(),
            kind: "lvmthin".into(),
            content: ["images", "rootdir"].map(String::from).to_vec(),
            options: BTreeMap::from([
                ("vgname".to_string(), "pve".to_string()),
                ("thinpool".to_string(), "data".to_string()),
            ]),
        }
    }
}

/// One node of the simulated cluster as it starts: its name, bridges,
/// storages and Proxmox VE version. [`SimNode::new`] is a fresh
/// installation; change the fields to test a lab against another shape (a
/// missing bridge, an older version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNode {
    /// Node name.
    pub name: String,
    /// Linux bridges.
    pub bridges: Vec<String>,
    /// The bridges among them that are VLAN-aware (`bridge-vlan-aware
    /// yes`); a fresh install's `vmbr0` is not.
    pub vlan_aware_bridges: Vec<String>,
    /// Storages on this node (merged into one `storage.cfg`; a storage
    /// missing on some nodes gets a `nodes=` restriction).
    pub storages: Vec<SimStorage>,
    /// The Proxmox VE version it runs (default [`PVE_VERSION`]); before
    /// 9.1 it has no `oci-registry-pull` and no container `entrypoint` or
    /// `env` (the embedded schema is 9.1's: those are refused by hand).
    pub version: String,
}

/// The Proxmox VE version a simulated node runs by default (the embedded
/// schema's).
pub const PVE_VERSION: &str = "9.1.2";

impl SimNode {
    /// A node with bridges `vmbr0`, `vmbr1` and storages `local` and
    /// `local-lvm`, like a default installation.
    pub fn new(name: &str) -> Self {
        SimNode {
            name: name.to_string(),
            bridges: vec!["vmbr0".into(), "vmbr1".into()],
            vlan_aware_bridges: Vec::new(),
            storages: vec![SimStorage::local(), SimStorage::local_lvm()],
            version: PVE_VERSION.to_string(),
        }
    }

    /// The node runs Proxmox VE `version` (`9.0.10`).
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_string();
        self
    }
}

/// Everything [`Simulator::start`] needs: the cluster's nodes, the token it
/// accepts, the latencies and failures it imitates (auth delay, task
/// times, lock timeouts, unreachable NFS servers, failing downloads), where
/// it persists its world and where it listens.
///
/// [`SimConfig::default`] is a two-node cluster shaped by the lab's code;
/// [`SimConfig::for_tests`] a fast, fixed one for tests.
#[derive(Clone)]
pub struct SimConfig {
    /// Cluster nodes (default: `pve1`, `pve2`).
    pub nodes: Vec<SimNode>,
    /// The accepted API token id (default `lab@pve!lab`).
    pub token_id: String,
    /// The accepted token secret. Empty (the default): the secret the node
    /// kept in its identity file (with `persist`, `<persist>.tls.json`), or
    /// a new random UUID-like one (kept there). A secret given here
    /// replaces the kept one.
    pub token_secret: String,
    /// Delay before answering an authentication failure (real PVE: 3 s).
    pub auth_failure_delay: Duration,
    /// Task latencies per worker type.
    pub task_latency: TaskLatency,
    /// Config and storage lock timeout (real PVE: 10 s).
    pub lock_timeout: Duration,
    /// Persist the world to this JSON file (loaded at start if it exists,
    /// rewritten atomically after every change).
    pub persist: Option<PathBuf>,
    /// Every request is validated against this schema (default: the
    /// embedded PVE 9.1 schema, [`PveSchema::embedded`]).
    pub schema: Arc<PveSchema>,
    /// NFS servers whose mount succeeds; others fail storage activation.
    /// Empty: every server is reachable.
    pub nfs_servers_reachable: Vec<String>,
    /// URLs whose server answers 404 (`download-url` tasks fail,
    /// `query-url-metadata` is refused).
    pub download_urls_fail: Vec<String>,
    /// OCI image references the registry does not have
    /// (`oci-registry-pull` tasks fail as skopeo does).
    pub oci_images_missing: Vec<String>,
    /// The simulated content behind URLs (size, checksums, MIME type);
    /// any other URL gets content derived from it (see [`SimUrl`]).
    pub urls: BTreeMap<String, SimUrl>,
    /// How clones lock their source (see [`CloneSourceLock`]).
    pub clone_source_lock: CloneSourceLock,
    /// What a restart makes of running tasks (see [`Restart`]).
    pub restart: Restart,
    /// Address to listen on (default `127.0.0.1:0`, a free port).
    pub listen: Option<SocketAddr>,
    /// Whether the lab's code shapes the cluster: a node the lab declares
    /// (`Node::new("pve3")`) and the cluster lacks joins it, with a fresh
    /// install's bridges and storages ([`SimNode::new`]), before the plan
    /// reads anything. Only for the embedded simulator of
    /// [`crate::Connection::simulated`] with the default node set: `true`
    /// in [`SimConfig::default`]; [`SimConfig::for_tests`] and
    /// [`SimConfig::with_nodes`] turn it off, and a connection whose
    /// `nodes` are not the default ones never grows (a lab that names a
    /// node such a cluster lacks is told so).
    pub nodes_from_lab: bool,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field(
                "nodes",
                &self.nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
            )
            .field("token_id", &self.token_id)
            .field("auth_failure_delay", &self.auth_failure_delay)
            .field("lock_timeout", &self.lock_timeout)
            .field("persist", &self.persist)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

/// A random token secret in PVE's UUID format.
pub fn random_secret() -> String {
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: vec![SimNode::new("pve1"), SimNode::new("pve2")],
            token_id: "lab@pve!lab".into(),
            token_secret: String::new(),
            auth_failure_delay: Duration::from_secs(3),
            task_latency: TaskLatency::default(),
            lock_timeout: Duration::from_secs(10),
            persist: None,
            schema: PveSchema::embedded(),
            nfs_servers_reachable: Vec::new(),
            download_urls_fail: Vec::new(),
            oci_images_missing: Vec::new(),
            urls: BTreeMap::new(),
            clone_source_lock: CloneSourceLock::default(),
            restart: Restart::default(),
            listen: None,
            nodes_from_lab: true,
        }
    }
}

impl SimConfig {
    /// The defaults with test timings: no auth delay, instant tasks, a 1 s
    /// lock timeout.
    pub fn for_tests() -> Self {
        SimConfig {
            auth_failure_delay: Duration::ZERO,
            task_latency: TaskLatency::instant(),
            lock_timeout: Duration::from_secs(1),
            nodes_from_lab: false,
            ..SimConfig::default()
        }
    }

    /// Nodes with the default bridges and storages, by name (exactly
    /// these: [`SimConfig::nodes_from_lab`] is turned off).
    pub fn with_nodes(mut self, names: &[&str]) -> Self {
        self.nodes = names.iter().map(|n| SimNode::new(n)).collect();
        self.nodes_from_lab = false;
        self
    }

    /// Whether a connection to this simulator takes nodes from the lab:
    /// [`SimConfig::nodes_from_lab`] and the default nodes, as they are by
    /// default (a node set shaped by hand, even one storage more, is kept
    /// as given).
    pub(crate) fn grows_from_lab(&self) -> bool {
        self.nodes_from_lab && self.nodes == SimConfig::default().nodes
    }

    /// Sets the simulated content behind `url`.
    pub fn with_url(mut self, url: &str, content: SimUrl) -> Self {
        self.urls.insert(url.to_string(), content);
        self
    }
}

/// One request as the simulator saw it (for contract tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path relative to `/api2/json` as sent, not percent-decoded
    /// (`/nodes/pve1/qemu`); the full path for requests outside it.
    pub path: String,
    /// Parameters as received: body pairs first, then query pairs.
    pub params: Vec<(String, String)>,
    /// The HTTP status answered.
    pub status: u16,
}

impl RecordedRequest {
    /// The parameter names, in order.
    pub fn keys(&self) -> Vec<&str> {
        self.params.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The value of parameter `key` (last occurrence).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The certificate or TLS configuration failed.
    #[error("pve-sim TLS setup failed: {0}")]
    Tls(String),
    /// The listen address could not be bound.
    #[error("pve-sim cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The persisted world could not be loaded.
    #[error("pve-sim cannot load its state: {0}")]
    Persist(String),
    /// The background runtime or thread failed.
    #[error("pve-sim runtime error: {0}")]
    Runtime(String),
    /// The configuration is unusable.
    #[error("pve-sim configuration error: {0}")]
    Config(String),
    /// A command on a guest failed (`unlock`), with PVE's text.
    #[error("{0}")]
    Guest(String),
}

/// The simulator entry point.
pub struct Simulator;

impl Simulator {
    /// Starts a simulator on the current tokio runtime and returns its
    /// handle once it listens.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        start_on_current_runtime(config).await
    }
}

/// Reads the world of a running simulator; see [`SimHandle::observer`].
#[derive(Clone)]
pub struct WorldObserver {
    shared: Arc<Shared>,
}

impl WorldObserver {
    /// Runs `f` on the world as it is now, under its lock (keep it short).
    pub fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        self.shared.read(f)
    }
}

/// Adds nodes to a running simulator: what makes a node the lab declares
/// a node of the embedded simulated cluster (see
/// [`SimConfig::nodes_from_lab`]). Cheap to clone.
#[derive(Clone)]
pub struct NodeJoiner {
    shared: Arc<Shared>,
}

impl NodeJoiner {
    /// Makes `node` a member of the cluster, as `pvecm add` on a fresh
    /// install would: its bridges, and its storages in `storage.cfg` (an
    /// entry without `nodes=` covers it already, a restricted one the node
    /// has names it too, a new one is restricted to it). Persisted like
    /// any change. Returns false (and changes nothing) if the cluster has a
    /// node of that name.
    pub fn join(&self, node: &SimNode) -> bool {
        self.shared.write(|w| join_node(w, node))
    }

    /// Makes `bridges` exist on `node` and be VLAN-aware, as the lab
    /// declares them (`Node::bridge`): the embedded cluster takes its
    /// network from the lab as it takes its nodes. Returns false (and
    /// changes nothing) when they are already so or the node is unknown.
    pub fn declare_bridges(&self, node: &str, bridges: &[String]) -> bool {
        let needed = self.shared.read(|w| {
            w.node(node).is_some_and(|n| {
                bridges
                    .iter()
                    .any(|b| !n.bridges.contains(b) || !n.vlan_aware_bridges.contains(b))
            })
        });
        if !needed {
            return false;
        }
        self.shared.write(|w| {
            let Some(n) = w.nodes.iter_mut().find(|n| n.name == node) else {
                return false;
            };
            for b in bridges {
                if !n.bridges.contains(b) {
                    n.bridges.push(b.clone());
                }
                if !n.vlan_aware_bridges.contains(b) {
                    n.vlan_aware_bridges.push(b.clone());
                }
            }
            true
        })
    }

    /// The cluster's node names now.
    pub fn nodes(&self) -> Vec<String> {
        self.shared
            .read(|w| w.nodes.iter().map(|n| n.name.clone()).collect())
    }
}

fn join_node(w: &mut World, node: &SimNode) -> bool {
    if w.nodes.iter().any(|n| n.name == node.name) {
        return false;
    }
    let boot_time = w
        .nodes
        .first()
        .map(|n| n.boot_time)
        .unwrap_or_else(|| world::now().saturating_sub(3 * 24 * 3600));
    w.nodes.push(NodeState {
        name: node.name.clone(),
        bridges: node.bridges.clone(),
        vlan_aware_bridges: node.vlan_aware_bridges.clone(),
        boot_time,
        version: node.version.clone(),
    });
    // `storage.cfg` is cluster-wide: an entry without `nodes=` covers the
    // new node too; a restricted one names it if the node has it.
    for storage in w.storages.values_mut() {
        if let Some(list) = &mut storage.nodes {
            if node.storages.iter().any(|s| s.id == storage.id) {
                list.push(node.name.clone());
            }
        }
    }
    for s in &node.storages {
        if w.storages.contains_key(&s.id) {
            continue;
        }
        let mut content = s.content.clone();
        content.sort();
        content.dedup();
        w.storages.insert(
            s.id.clone(),
            Storage {
                id: s.id.clone(),
                kind: s.kind.clone(),
                content,
                shared: false,
                nodes: Some(vec![node.name.clone()]),
                options: s.options.clone(),
                total: storage::default_total(&s.kind),
            },
        );
    }
    true
}

/// A running simulator.
pub struct SimHandle {
    shared: Arc<Shared>,
    url: String,
    addr: SocketAddr,
    fingerprint: String,
    cert_der: Vec<u8>,
    cert_pem: String,
    shutdown: watch::Sender<bool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn initial_world(config: &SimConfig) -> Result<World, SimError> {
    if config.nodes.is_empty() {
        return Err(SimError::Config("at least one node is needed".into()));
    }
    let boot_time = world::now().saturating_sub(3 * 24 * 3600);
    let mut w = World::default();
    for node in &config.nodes {
        w.nodes.push(NodeState {
            name: node.name.clone(),
            bridges: node.bridges.clone(),
            vlan_aware_bridges: node.vlan_aware_bridges.clone(),
            boot_time,
            version: node.version.clone(),
        });
    }
    for node in &config.nodes {
        for s in &node.storages {
            let holders: Vec<String> = config
                .nodes
                .iter()
                .filter(|n| n.storages.iter().any(|x| x.id == s.id))
                .map(|n| n.name.clone())
                .collect();
            let mut content = s.content.clone();
            content.sort();
            content.dedup();
            w.storages.entry(s.id.clone()).or_insert_with(|| Storage {
                id: s.id.clone(),
                kind: s.kind.clone(),
                content,
                shared: false,
                nodes: (holders.len() != config.nodes.len()).then_some(holders),
                options: s.options.clone(),
                total: storage::default_total(&s.kind),
            });
        }
    }
    Ok(w)
}

/// `<state>.tls.json`: the node's identity beside its state file.
fn identity_path(state: &std::path::Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".tls.json");
    PathBuf::from(name)
}

/// Binds `addr`; a fixed port still held by a simulator that is shutting
/// down (its accept loop ends at its next poll) is retried for a moment.
async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, SimError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && addr.port() != 0
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(source) => return Err(SimError::Bind { addr, source }),
        }
    }
}

async fn start_on_current_runtime(config: SimConfig) -> Result<SimHandle, SimError> {
    let world = match &config.persist {
        Some(path) => match World::load(path).map_err(SimError::Persist)? {
            Some(w) => w,
            None => initial_world(&config)?,
        },
        None => initial_world(&config)?,
    };
    let first_node = world
        .nodes
        .first()
        .map(|n| n.name.clone())
        .unwrap_or_else(|| "pve".into());
    let sidecar = config.persist.as_deref().map(identity_path);
    let explicit = Some(config.token_secret.as_str()).filter(|s| !s.is_empty());
    let identity =
        tls::load_or_generate(&first_node, sidecar.as_deref(), &config.token_id, explicit)
            .map_err(SimError::Tls)?;
    let tls = identity.tls;
    let addr = config
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = bind(addr).await?;
    let local = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let counter = Arc::new(AtomicU64::new(0));
    let faults = Faults {
        state: Arc::new(Mutex::new(faults::FaultState {
            lock_timeout: config.lock_timeout,
            ..Default::default()
        })),
        counter,
        default_lock_timeout: config.lock_timeout,
    };
    let settings = Settings {
        token_id: config.token_id.clone(),
        token_secret: identity.token_secret,
        auth_failure_delay: config.auth_failure_delay,
        task_latency: config.task_latency.clone(),
        persist: config.persist.clone(),
        nfs_servers_reachable: config.nfs_servers_reachable.clone(),
        urls: urls::Urls {
            known: config.urls.clone(),
            failing: config.download_urls_fail.clone(),
        },
        oci_images_missing: config.oci_images_missing.clone(),
        clone_source_lock: config.clone_source_lock,
    };
    let shared = Arc::new(Shared::new(settings, config.schema.clone(), world, faults));
    match config.restart {
        // A node that went down with running tasks comes back without their
        // workers: the tasks read `unexpected status`, their leftovers stay.
        Restart::NodeRebooted => shared.write(|w| {
            let vanished = tasks::vanish_running(w);
            if vanished > 0 {
                tracing::info!("pve-sim: {vanished} task(s) were running when the node went down");
            }
        }),
        Restart::NodeKeptRunning => {
            tasks::resume_running(&shared);
        }
    }
    let (tx, rx) = watch::channel(false);
    let state = server::AppState {
        shared: shared.clone(),
        fingerprint: Arc::from(tls.fingerprint.as_str()),
    };
    tokio::spawn(server::serve(listener, tls.acceptor, state, rx));
    let host = if local.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local.ip().to_string()
    };
    Ok(SimHandle {
        shared,
        url: format!("https://{host}:{}", local.port()),
        addr: local,
        fingerprint: tls.fingerprint,
        cert_der: tls.cert_der,
        cert_pem: tls.cert_pem,
        shutdown: tx,
        thread: Mutex::new(None),
    })
}

/// `qm unlock <vmid>` / `pct unlock <vmid>` on a world: removes the guest's
/// `lock` (qm: also from the pending section, and no lock is fine; pct: no
/// lock is `no lock found trying to remove any lock`). Returns the lock
/// removed.
fn unlock_guest(world: &mut World, vmid: u32) -> Result<Option<String>, String> {
    let Some(guest) = world.guests.get_mut(&vmid) else {
        let node = world
            .nodes
            .first()
            .map(|n| n.name.as_str())
            .unwrap_or("pve");
        return Err(format!(
            "Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist"
        ));
    };
    let lock = guest.config.remove("lock");
    match guest.kind {
        GuestKind::Qemu => {
            guest.pending.remove("lock");
        }
        GuestKind::Lxc if lock.is_none() => {
            return Err("no lock found trying to remove any lock".to_string());
        }
        GuestKind::Lxc => {}
    }
    Ok(lock)
}

/// `qm unlock <vmid>` on the node of a state file (what `pve-sim unlock
/// --state FILE <vmid>` runs): removes the guest's `lock` key and writes
/// the file back. A simulator running on the file reads the change back
/// before its next request, as a node's API sees `/etc/pve` change.
/// Returns the lock removed.
pub fn unlock_state_file(state: &std::path::Path, vmid: u32) -> Result<Option<String>, SimError> {
    state::edit_state_file(state, |w| unlock_guest(w, vmid))
        .map_err(SimError::Guest)?
        .ok_or_else(|| SimError::Guest(format!("{}: no such state file", state.display())))
}

impl SimHandle {
    /// Starts a simulator on its own thread with its own tokio runtime (for
    /// synchronous callers, e.g. before `lab::cli::run` builds a runtime).
    pub fn start_background(config: SimConfig) -> Result<SimHandle, SimError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pve-sim".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(SimError::Runtime(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match start_on_current_runtime(config).await {
                        Ok(handle) => {
                            let mut stop = handle.shutdown.subscribe();
                            let _ = tx.send(Ok(handle));
                            while stop.changed().await.is_ok() {
                                if *stop.borrow() {
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| SimError::Runtime(e.to_string()))?;
        let handle = rx
            .recv()
            .map_err(|e| SimError::Runtime(format!("the simulator thread stopped: {e}")))??;
        if let Ok(mut slot) = handle.thread.lock() {
            *slot = Some(thread);
        }
        Ok(handle)
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The accepted API token id (`lab@pve!lab`).
    pub fn token_id(&self) -> &str {
        &self.shared.settings.token_id
    }

    /// The accepted token secret.
    pub fn token_secret(&self) -> &str {
        &self.shared.settings.token_secret
    }

    /// The full `Authorization` header value: `PVEAPIToken=<id>=<secret>`.
    pub fn api_token(&self) -> String {
        format!("PVEAPIToken={}={}", self.token_id(), self.token_secret())
    }

    /// SHA-256 fingerprint of the certificate (`AA:BB:...`, uppercase).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The certificate, DER encoded.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate, PEM encoded.
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Number of HTTP requests received (including refused ones).
    pub fn request_count(&self) -> u64 {
        self.shared.counter.load(Ordering::SeqCst)
    }

    /// Every request received since start (or the last reset), in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Clears the request log (the counter keeps counting).
    pub fn reset_requests(&self) {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Every schema violation seen, as `METHOD path: key: message`.
    pub fn schema_violations(&self) -> Vec<String> {
        self.shared
            .violations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every volume deleted while a guest that can see it still used it
    /// (`volid on node deleted while guest(s) [..] still use it`). Real PVE
    /// deletes such a volume without a word and the guest fails at its next
    /// start, so a client must let go of a volume first; tests assert this
    /// stays empty.
    pub fn dangling_references(&self) -> Vec<String> {
        self.shared
            .dangling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The fault-injection controller.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// What an administrator runs on the node when a guest stays locked
    /// (a token may not remove a `lock`, only `root@pam` with `skiplock`
    /// may ignore it): `qm unlock <vmid>` / `pct unlock <vmid>`. Removes the
    /// `lock` key (and persists); returns the lock removed. Like the real
    /// commands it takes the guest's config lock first, so a guest whose
    /// worker still runs (a clone in progress) is refused with `can't lock
    /// file '...' - got timeout`.
    pub fn unlock(&self, vmid: u32) -> Result<Option<String>, SimError> {
        let held = self.shared.read(|w| {
            w.guest(vmid).map(|g| {
                let spec =
                    locks::LockSpec::file(&g.node, &g.kind.lock_path(vmid), true, Duration::ZERO);
                self.shared.locks.try_acquire(&spec)
            })
        });
        let _guard = match held {
            Some(Err(message)) => return Err(SimError::Guest(message)),
            Some(Ok(guard)) => Some(guard),
            None => None,
        };
        self.shared
            .write(|w| unlock_guest(w, vmid))
            .map_err(SimError::Guest)
    }

    /// The size a download of `url` yields here (its `Content-Length`, as
    /// `query-url-metadata` reports it).
    pub fn url_size(&self, url: &str) -> u64 {
        self.shared.settings.urls.size(url)
    }

    /// The checksum of `url`'s simulated content with `algorithm` (`md5`,
    /// `sha1`, `sha224`, `sha256`, `sha384`, `sha512`), as a
    /// `download-url` with `checksum` expects it; `None` for an unknown
    /// algorithm.
    pub fn url_checksum(&self, url: &str, algorithm: &str) -> Option<String> {
        self.shared.settings.urls.checksum(url, algorithm)
    }

    /// Runs backup job `id` now, as the web interface's "Run now" does:
    /// the job's options (without its schedule, state and comment) are
    /// posted to `/nodes/{node}/vzdump` on every node (the job's `node`
    /// only, when it has one); returns the UPIDs of the `vzdump` workers
    /// started (none on a node with nothing to back up). Call it from
    /// within a tokio runtime (the workers run there).
    pub async fn run_backup_job(&self, id: &str) -> Result<Vec<String>, SimError> {
        let (options, nodes) = self.shared.read(|w| {
            let options = vzdump::job_options(w, id);
            let nodes: Vec<String> = w.nodes.iter().map(|n| n.name.clone()).collect();
            (options, nodes)
        });
        let options = options.ok_or_else(|| SimError::Guest(format!("No such job '{id}'")))?;
        let mut upids = Vec::new();
        for node in nodes {
            if options.get("node").is_some_and(|n| n != &node) {
                continue;
            }
            match vzdump::start(&self.shared, &node, options.clone()) {
                Ok(Some(upid)) => upids.push(upid),
                Ok(None) => {}
                Err(e) => return Err(SimError::Guest(e.message())),
            }
        }
        Ok(upids)
    }

    /// Waits up to `timeout` for task `upid` to stop; its exit status, or
    /// `None` when it still runs.
    pub async fn wait_task(&self, upid: &str, timeout: Duration) -> Option<String> {
        tasks::wait(&self.shared, upid, timeout).await
    }

    /// A snapshot of the simulated cluster, for assertions.
    pub fn world(&self) -> World {
        self.shared.read(World::clone)
    }

    /// The firewall configuration as stored (`cluster.fw` and every
    /// guest's `<vmid>.fw`), for tests comparing it with a lab's policy.
    pub fn firewall_snapshot(&self) -> Firewall {
        self.shared.read(|w| w.firewall.clone())
    }

    /// A cheap, cloneable view of the world that outlives borrows of the
    /// handle: what another simulator consults to know which VMs run
    /// (lab-talos's nodes answer only while their VM runs).
    pub fn observer(&self) -> WorldObserver {
        WorldObserver {
            shared: self.shared.clone(),
        }
    }

    /// What adds nodes to this simulator while it runs.
    pub fn joiner(&self) -> NodeJoiner {
        NodeJoiner {
            shared: self.shared.clone(),
        }
    }

    /// Stops serving (and joins the background thread, if any): the node
    /// goes down. Running workers are aborted and nothing is persisted
    /// afterwards; tasks still running stay `running` in the state file, and
    /// a simulator started on it later finds them as a rebooted node does:
    /// `stopped` with `unexpected status`, whatever their workers had
    /// written kept (a clone's target locked `clone`, a create's `create`,
    /// no file for a download). The listening port is free once the accept
    /// loop sees the shutdown (at once for [`SimHandle::start_background`];
    /// at its next poll on a shared runtime, which a new simulator on the
    /// same port waits for).
    pub fn shutdown(&self) {
        self.shared.stop();
        let _ = self.shutdown.send(true);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shared.stop();
        let _ = self.shutdown.send(true);
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("url", &self.url)
            .field("token_id", &self.token_id())
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}
