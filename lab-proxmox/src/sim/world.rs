//! The simulated cluster's state: nodes, the storage configuration, volumes,
//! guests (their config files with pending sections), resource pools and
//! tasks.
//!
//! Everything here is plain data with `serde`, so the whole world can be
//! persisted to one JSON file and handed to tests as a read-only snapshot
//! ([`super::SimHandle::world`]). The HTTP handlers mutate it under one
//! mutex and never hold that mutex across an `.await`.
//!
//! Modelling notes (sources in `proxmox-api.md`):
//! - a guest's config is the *current* section of its `.conf` file; keys that
//!   cannot be hot-applied to a running VM live in `pending` /
//!   `pending_delete` (§6 "Config");
//! - the config `lock` key (`create`, `clone`, `template`, ...) is a normal
//!   config key, exactly as in PVE, and the `digest` is the hash of the
//!   config file text (so it changes whenever the content changes);
//! - volumes on non-shared storages (`local`, `local-lvm`) belong to one node;
//!   volumes on shared storages (NFS) have no node (§8).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tasks::{Effect, Progress};

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The whole simulated cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct World {
    /// Cluster nodes, in configuration order.
    pub nodes: Vec<NodeState>,
    /// `storage.cfg`: every storage, by id.
    pub storages: BTreeMap<String, Storage>,
    /// Every volume on every storage.
    pub volumes: Vec<Volume>,
    /// Every guest (QEMU VM or LXC container), by VMID.
    pub guests: BTreeMap<u32, Guest>,
    /// Resource pools, by pool id.
    pub pools: BTreeMap<String, Pool>,
    /// Every task ever started, oldest first.
    pub tasks: Vec<Task>,
    /// The next worker PID handed out (UPIDs carry it).
    pub next_pid: u32,
    /// `jobs.cfg`'s `vzdump` jobs, in creation order.
    #[serde(default)]
    pub backup_jobs: Vec<BackupJob>,
    /// The SDN configuration (`/cluster/sdn`), pending and running.
    #[serde(default)]
    pub sdn: super::sdn::Sdn,
    /// The firewall's configuration (`cluster.fw`, `<vmid>.fw`).
    #[serde(default)]
    pub firewall: super::firewall::Firewall,
}

/// One backup job of `/cluster/backup`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupJob {
    /// The job id.
    pub id: String,
    /// Its options as `jobs.cfg` keeps them (`schedule`, `storage`,
    /// `vmid`, `enabled`, ...).
    pub options: BTreeMap<String, String>,
}

/// One node as the simulator's world holds it (and persists it): its
/// bridges, version and boot time, what the API's `/nodes/{node}/...`
/// paths report (`network`, `version`, `status`, task UPIDs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeState {
    /// Node name (`pve1`).
    pub name: String,
    /// Linux bridges on the node (`vmbr0`, `vmbr1`).
    pub bridges: Vec<String>,
    /// The VLAN-aware ones among them (`bridge_vlan_aware` in
    /// `/nodes/{node}/network`).
    #[serde(default)]
    pub vlan_aware_bridges: Vec<String>,
    /// Boot time (Unix seconds), for `uptime` and UPID `pstart`.
    pub boot_time: u64,
    /// Its Proxmox VE version (`GET /nodes/{node}/version`).
    #[serde(default = "default_pve_version")]
    pub version: String,
}

/// The version a node runs unless configured otherwise.
pub(crate) fn default_pve_version() -> String {
    super::PVE_VERSION.to_string()
}

/// One storage definition from `storage.cfg`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Storage {
    /// Storage id (`local`, `local-lvm`, `nas`).
    pub id: String,
    /// Plugin type (`dir`, `lvmthin`, `nfs`, ...).
    pub kind: String,
    /// Allowed content types, sorted.
    pub content: Vec<String>,
    /// Whether the storage is shared between nodes (NFS always is).
    pub shared: bool,
    /// Node restriction (`nodes=`); `None` means every node.
    pub nodes: Option<Vec<String>>,
    /// The other configuration keys (`path`, `server`, `export`, `options`,
    /// `vgname`, `thinpool`, `disable`, ...), as strings.
    pub options: BTreeMap<String, String>,
    /// Capacity in bytes (per node for local storages).
    pub total: u64,
}

impl Storage {
    /// Whether this storage is usable on `node`.
    pub fn on_node(&self, node: &str) -> bool {
        self.nodes
            .as_ref()
            .is_none_or(|nodes| nodes.iter().any(|n| n == node))
    }

    /// Whether `content` is enabled.
    pub fn allows(&self, content: &str) -> bool {
        self.content.iter().any(|c| c == content)
    }

    /// Whether volumes are files (dir, nfs, cifs...): `<vmid>/vm-..-disk-N.raw`
    /// names and `iso/`, `vztmpl/`, `import/` directories.
    pub fn file_based(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "dir" | "nfs" | "cifs" | "cephfs" | "glusterfs" | "btrfs"
        )
    }

    /// The base path of a file-based storage.
    pub fn path(&self) -> Option<&str> {
        self.options.get("path").map(String::as_str)
    }
}

/// One volume (disk image, ISO, container template, import image).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Volume {
    /// Volume id (`local-lvm:vm-101-disk-0`, `local:iso/x.iso`).
    pub volid: String,
    /// Storage id (the part of `volid` before `:`).
    pub storage: String,
    /// Owning node for non-shared storages; `None` on shared storage.
    pub node: Option<String>,
    /// Content type (`images`, `rootdir`, `iso`, `vztmpl`, `import`).
    pub content: String,
    /// Format (`raw`, `qcow2`, `iso`, `tzst`, ...).
    pub format: String,
    /// Size in bytes (the virtual size for disk images).
    pub size: u64,
    /// Owner VMID for guest volumes.
    pub vmid: Option<u32>,
    /// Creation time (Unix seconds).
    pub ctime: u64,
    /// For import images: the virtual disk size an `import-from` yields.
    #[serde(default)]
    pub virtual_size: Option<u64>,
    /// What a file was downloaded as (`download-url`), so its checksum is
    /// that content's; `None` for volumes not downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<Download>,
    /// What an OCI image pulled with `oci-registry-pull` holds (its
    /// entrypoint, command and environment); `None` for other volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<super::oci::OciImage>,
}

/// What a downloaded file was downloaded as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    /// The URL.
    pub url: String,
    /// The decompression applied (`compression=zstd`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
}

/// QEMU VM or LXC container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// A QEMU virtual machine (`/nodes/{node}/qemu`).
    Qemu,
    /// An LXC container (`/nodes/{node}/lxc`).
    Lxc,
}

impl GuestKind {
    /// `qemu` or `lxc` (the `/cluster/resources` type).
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }

    /// `VM` or `CT`, as PVE names guests in messages.
    pub fn label(self) -> &'static str {
        match self {
            GuestKind::Qemu => "VM",
            GuestKind::Lxc => "CT",
        }
    }

    /// The config file directory under `nodes/<node>/`.
    pub fn conf_dir(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu-server",
            GuestKind::Lxc => "lxc",
        }
    }

    /// The flock file guarding this guest's config.
    pub fn lock_path(self, vmid: u32) -> String {
        match self {
            GuestKind::Qemu => format!("/var/lock/qemu-server/lock-{vmid}.conf"),
            GuestKind::Lxc => format!("/run/lock/lxc/pve-config-{vmid}.lock"),
        }
    }
}

/// Running state of a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestStatus {
    /// Powered off.
    Stopped,
    /// Powered on.
    Running,
}

impl GuestStatus {
    /// `running` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestStatus::Stopped => "stopped",
            GuestStatus::Running => "running",
        }
    }
}

/// One guest: its config file and its runtime state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Guest {
    /// The VMID.
    pub vmid: u32,
    /// The node whose `nodes/<node>/...` directory holds the config.
    pub node: String,
    /// QEMU or LXC.
    pub kind: GuestKind,
    /// The current config section (`lock`, `template` included), sorted.
    pub config: BTreeMap<String, String>,
    /// The `[PENDING]` section: values written while running that apply at
    /// the next start.
    pub pending: BTreeMap<String, String>,
    /// Keys whose deletion is pending.
    pub pending_delete: BTreeSet<String>,
    /// Running or stopped.
    pub status: GuestStatus,
    /// When it was started (Unix seconds), while running.
    pub started_at: Option<u64>,
    /// The fake QEMU/LXC process id, while running.
    pub pid: Option<u32>,
    /// A running VM whose CPUs are stopped (`status/suspend` without
    /// `todisk`): `qmpstatus` reads `paused`.
    #[serde(default)]
    pub paused: bool,
    /// The snapshot sections of the config file (`[name]`), by name.
    #[serde(default)]
    pub snapshots: BTreeMap<String, Snapshot>,
}

/// One snapshot section of a guest config (`[name]` in the config file):
/// the config as it was, plus `snaptime`, `description`, `vmstate` (QEMU,
/// with RAM), `parent` and, while a worker is on it, `snapstate`
/// (`prepare`, `delete`) (pve-guest-common `AbstractConfig.pm`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The config keys copied from the current config
    /// (`__snapshot_copy_config`: all but `lock`, `digest`, `description`,
    /// `unused[n]`, ...), plus `parent`, `snaptime`, `description`,
    /// `vmstate`, `snapstate`.
    pub config: BTreeMap<String, String>,
}

impl Guest {
    /// A new, empty, stopped guest.
    pub fn new(vmid: u32, node: &str, kind: GuestKind) -> Self {
        Guest {
            vmid,
            node: node.to_string(),
            kind,
            config: BTreeMap::new(),
            pending: BTreeMap::new(),
            pending_delete: BTreeSet::new(),
            status: GuestStatus::Stopped,
            started_at: None,
            pid: None,
            paused: false,
            snapshots: BTreeMap::new(),
        }
    }

    /// The config `lock` value, if set.
    pub fn lock(&self) -> Option<&str> {
        self.config.get("lock").map(String::as_str)
    }

    /// Whether `template: 1` is set.
    pub fn is_template(&self) -> bool {
        self.config.get("template").map(String::as_str) == Some("1")
    }

    /// Whether the guest runs.
    pub fn running(&self) -> bool {
        self.status == GuestStatus::Running
    }

    /// The config with pending values applied (what `GET .../config`
    /// returns without `current=1`).
    pub fn effective_config(&self) -> BTreeMap<String, String> {
        let mut config = self.config.clone();
        for key in &self.pending_delete {
            config.remove(key);
        }
        for (k, v) in &self.pending {
            config.insert(k.clone(), v.clone());
        }
        config
    }

    /// The config file text PVE would write (description as `#` comments,
    /// keys sorted, `[PENDING]` section), used for the digest.
    pub fn file_text(&self) -> String {
        fn section(text: &mut String, config: &BTreeMap<String, String>) {
            if let Some(descr) = config.get("description") {
                for line in descr.split('\n') {
                    text.push('#');
                    text.push_str(line);
                    text.push('\n');
                }
            }
            for (k, v) in config {
                if k != "description" {
                    text.push_str(&format!("{k}: {v}\n"));
                }
            }
        }
        let mut text = String::new();
        section(&mut text, &self.config);
        if !self.pending.is_empty() || !self.pending_delete.is_empty() {
            text.push_str("\n[PENDING]\n");
            for (k, v) in &self.pending {
                text.push_str(&format!("{k}: {v}\n"));
            }
            if !self.pending_delete.is_empty() {
                let keys: Vec<&str> = self.pending_delete.iter().map(String::as_str).collect();
                text.push_str(&format!("delete: {}\n", keys.join(",")));
            }
        }
        for (name, snap) in &self.snapshots {
            text.push_str(&format!("\n[{name}]\n"));
            section(&mut text, &snap.config);
        }
        text
    }

    /// The config digest: 40 hex characters (PVE uses SHA-1 of the file;
    /// the simulator uses a truncated SHA-256 of the same text, which has the
    /// same shape and the same "changes with the content" behaviour).
    pub fn digest(&self) -> String {
        digest40(self.file_text().as_bytes())
    }

    /// `nodes/<node>/qemu-server/<vmid>.conf`.
    pub fn conf_path(&self) -> String {
        format!(
            "nodes/{}/{}/{}.conf",
            self.node,
            self.kind.conf_dir(),
            self.vmid
        )
    }

    /// The name PVE reports: `name` or `VM <id>` for QEMU
    /// (`QemuServer::vmstatus`), `hostname` or `CT<id>` for LXC
    /// (`LXC::vmstatus`).
    pub fn display_name(&self) -> String {
        match self.kind {
            GuestKind::Qemu => self
                .config
                .get("name")
                .cloned()
                .unwrap_or_else(|| format!("VM {}", self.vmid)),
            GuestKind::Lxc => self
                .config
                .get("hostname")
                .cloned()
                .unwrap_or_else(|| format!("CT{}", self.vmid)),
        }
    }

    /// Memory in MiB (QEMU `memory` is a property string `[current=]N`).
    pub fn memory_mib(&self) -> u64 {
        let config = &self.config;
        let raw = config.get("memory").map(String::as_str).unwrap_or("512");
        let value = raw
            .split(',')
            .find_map(|item| match item.split_once('=') {
                Some(("current", v)) => Some(v),
                Some(_) => None,
                None => Some(item),
            })
            .unwrap_or("512");
        value.parse().unwrap_or(512)
    }

    /// Memory in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mib().saturating_mul(1024 * 1024)
    }

    /// Number of vCPUs (`cores * sockets`).
    pub fn cpus(&self) -> u64 {
        let get = |k: &str, d: u64| self.config.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        match self.kind {
            GuestKind::Qemu => get("cores", 1).saturating_mul(get("sockets", 1)),
            GuestKind::Lxc => get("cores", 1),
        }
    }
}

/// Forty hex characters of SHA-256 over `bytes` (the shape of PVE's SHA-1
/// digests).
pub(crate) fn digest40(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    hex[..40].to_string()
}

/// One resource pool.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pool {
    /// Pool id.
    pub poolid: String,
    /// Free-text comment.
    pub comment: Option<String>,
    /// Member guests.
    pub vms: BTreeSet<u32>,
    /// Member storages.
    pub storages: BTreeSet<String>,
}

/// Whether a simulated task's worker still runs, as `GET
/// /nodes/{node}/tasks/{upid}/status` reports it in `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// The worker still runs.
    Running,
    /// The worker ended; see `exitstatus`.
    Stopped,
}

/// One task (a forked worker in PVE terms).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`.
    pub upid: String,
    /// Node the worker runs on.
    pub node: String,
    /// Worker PID.
    pub pid: u32,
    /// Process start (clock ticks since boot).
    pub pstart: u64,
    /// Start time (Unix seconds).
    pub starttime: u64,
    /// Worker type (`qmcreate`, `qmclone`, `download`, ...).
    pub wtype: String,
    /// Worker id (usually the VMID).
    pub id: String,
    /// The user (the API token id).
    pub user: String,
    /// Running or stopped.
    pub state: TaskState,
    /// `OK`, `WARNINGS: n` or the error text, once stopped.
    pub exitstatus: Option<String>,
    /// End time (Unix seconds), once stopped.
    pub endtime: Option<u64>,
    /// Log lines (without the final `TASK ...` line, which is derived).
    pub log: Vec<String>,
    /// How many status polls this task has seen (for the first-poll fault).
    #[serde(default)]
    pub polls: u32,
    /// What the worker does (kept while it runs, for a task stop).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) effect: Option<Effect>,
    /// What the worker has done so far (its memory: lost, and ignored,
    /// when the node goes down).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) progress: Option<Progress>,
}

/// Reads an optional field that only a running worker needs: anything that
/// does not parse (a state file from another version) is `None`, never an
/// error, because a loaded world has no running worker.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// The exit status of a task whose worker vanished (the node went down):
/// pve-common's `PVE::UPID::read_status` finds no `TASK ...` line at the
/// end of the log.
pub(crate) const UNEXPECTED_STATUS: &str = "unexpected status";

impl Task {
    /// The log as PVE returns it: every line plus `TASK OK` /
    /// `TASK WARNINGS: n` / `TASK ERROR: ...` once stopped (nothing for a
    /// worker that vanished: that is why its status is `unexpected
    /// status`).
    pub fn full_log(&self) -> Vec<String> {
        let mut lines = self.log.clone();
        let status = self.exitstatus.as_ref();
        if let Some(status) = status.filter(|s| *s != UNEXPECTED_STATUS) {
            if status == "OK" || status.starts_with("WARNINGS: ") {
                lines.push(format!("TASK {status}"));
            } else {
                lines.push(format!("TASK ERROR: {status}"));
            }
        }
        lines
    }
}

/// A flattened, read-only view of one guest for assertions
/// ([`World::guests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestView {
    /// The VMID.
    pub vmid: u64,
    /// The node holding its config.
    pub node: String,
    /// QEMU or LXC.
    pub kind: GuestKind,
    /// `name` (QEMU) or `hostname` (LXC); `VM<id>`/`CT<id>` when unset.
    pub name: String,
    /// Running or stopped.
    pub status: GuestStatus,
    /// `template: 1`.
    pub template: bool,
    /// The config `lock`, if any.
    pub lock: Option<String>,
    /// The config as `GET .../config` returns it (pending values applied),
    /// without `digest`, values as stored (strings).
    pub config: BTreeMap<String, String>,
    /// The running values (`GET .../config?current=1`).
    pub current: BTreeMap<String, String>,
    /// Pending values.
    pub pending: BTreeMap<String, String>,
    /// The pool the guest belongs to.
    pub pool: Option<String>,
}

impl World {
    /// Every guest as a [`GuestView`], by VMID.
    pub fn guests(&self) -> Vec<GuestView> {
        self.guests
            .values()
            .map(|g| GuestView {
                vmid: g.vmid as u64,
                node: g.node.clone(),
                kind: g.kind,
                name: g.display_name(),
                status: g.status,
                template: g.is_template(),
                lock: g.lock().map(str::to_string),
                config: g.effective_config(),
                current: g.config.clone(),
                pending: g.pending.clone(),
                pool: self.pool_of(g.vmid).map(str::to_string),
            })
            .collect()
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeState> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The guest `vmid`.
    pub fn guest(&self, vmid: u32) -> Option<&Guest> {
        self.guests.get(&vmid)
    }

    /// The task `upid`.
    pub fn task(&self, upid: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.upid == upid)
    }

    /// The task `upid`, to change.
    pub(crate) fn task_mut(&mut self, upid: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.upid == upid)
    }

    /// Whether storage `id` is shared (NFS and the like): its lock and its
    /// volumes are the cluster's, not one node's.
    pub fn storage_is_shared(&self, id: &str) -> bool {
        self.storages.get(id).is_some_and(|s| s.shared)
    }

    /// The volume `volid` as seen from `node` (local storages are per node).
    pub fn volume(&self, node: &str, volid: &str) -> Option<&Volume> {
        self.volumes
            .iter()
            .find(|v| v.volid == volid && v.node.as_deref().is_none_or(|n| n == node))
    }

    /// Removes the volume `volid` as seen from `node`; returns whether it
    /// existed.
    pub(crate) fn remove_volume(&mut self, node: &str, volid: &str) -> bool {
        let before = self.volumes.len();
        self.volumes
            .retain(|v| !(v.volid == volid && v.node.as_deref().is_none_or(|n| n == node)));
        before != self.volumes.len()
    }

    /// Bytes used on `storage` as seen from `node`.
    pub fn storage_used(&self, node: &str, storage: &str) -> u64 {
        self.volumes
            .iter()
            .filter(|v| v.storage == storage && v.node.as_deref().is_none_or(|n| n == node))
            .map(|v| v.size)
            .sum()
    }

    /// The pool a guest belongs to.
    pub fn pool_of(&self, vmid: u32) -> Option<&str> {
        self.pools
            .values()
            .find(|p| p.vms.contains(&vmid))
            .map(|p| p.poolid.as_str())
    }

    /// The `storage.cfg` digest.
    pub fn storage_digest(&self) -> String {
        let text = serde_json::to_string(&self.storages).unwrap_or_default();
        digest40(text.as_bytes())
    }

    /// Loads a persisted world.
    pub(crate) fn load(path: &Path) -> Result<Option<World>, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("cannot parse {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes serialised world bytes atomically, readable by the owner
    /// only (0600, as the certificate and token file beside it).
    pub(crate) fn save_bytes(path: &Path, bytes: &[u8]) -> Result<(), String> {
        super::tls::write_private(path, bytes, false)
    }
}
