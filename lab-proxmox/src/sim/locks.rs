//! `flock`-style file locks with timeouts, the source of PVE's
//! `can't lock file '...' - got timeout`.
//!
//! PVE guards every guest config with a lock file
//! (`/var/lock/qemu-server/lock-<vmid>.conf`, `/run/lock/lxc/pve-config-<vmid>.lock`)
//! taken with `lock_file_full` and a **10 s** default timeout
//! (proxmox-api.md §3, §15). Storage allocation takes
//! `/var/lock/pve-manager/pve-storage-<id>` on local storages, or the
//! cluster-wide `cfs-lock 'storage-<id>'` on shared ones. A forked worker
//! inherits the lock file descriptor, so a lock taken before `fork_worker`
//! stays held for the whole task.
//!
//! Here every lock file is a `tokio::sync::RwLock<()>` (shared = read,
//! exclusive = write) keyed by node and path; guards are owned, so tasks can
//! hold them across their latency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// A held lock; dropping it releases the lock.
#[allow(dead_code)] // the guards are held for their Drop only
pub(crate) enum Held {
    /// A shared lock.
    Shared(OwnedRwLockReadGuard<()>),
    /// An exclusive lock.
    Exclusive(OwnedRwLockWriteGuard<()>),
}

/// What to lock.
#[derive(Debug, Clone)]
pub(crate) struct LockSpec {
    /// Map key (node + path, or `cluster` + path for cluster locks).
    pub key: String,
    /// The error message on timeout.
    pub timeout_message: String,
    /// Shared or exclusive.
    pub exclusive: bool,
    /// How long to wait.
    pub timeout: Duration,
}

impl LockSpec {
    /// A guest config lock on `node`.
    pub fn file(node: &str, path: &str, exclusive: bool, timeout: Duration) -> Self {
        LockSpec {
            key: format!("{node}:{path}"),
            timeout_message: format!("can't lock file '{path}' - got timeout"),
            exclusive,
            timeout,
        }
    }

    /// The storage allocation lock: a local lock file for node-local
    /// storages, a cluster (pmxcfs) lock for shared ones.
    pub fn storage(node: &str, storage: &str, shared: bool, timeout: Duration) -> Self {
        if shared {
            LockSpec {
                key: format!("cluster:storage-{storage}"),
                timeout_message: format!(
                    "cfs-lock 'storage-{storage}' error: got lock request timeout"
                ),
                exclusive: true,
                timeout,
            }
        } else {
            let path = format!("/var/lock/pve-manager/pve-storage-{storage}");
            LockSpec::file(node, &path, true, timeout)
        }
    }
}

/// All lock files of the simulated cluster.
#[derive(Default)]
pub(crate) struct Locks {
    files: Mutex<HashMap<String, Arc<RwLock<()>>>>,
}

impl Locks {
    fn lock_for(&self, key: &str) -> Arc<RwLock<()>> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(RwLock::new(())))
            .clone()
    }

    /// Takes the lock if it is free now; the error is PVE's timeout
    /// message.
    pub fn try_acquire(&self, spec: &LockSpec) -> Result<Held, String> {
        let lock = self.lock_for(&spec.key);
        let result = if spec.exclusive {
            lock.try_write_owned().map(Held::Exclusive)
        } else {
            lock.try_read_owned().map(Held::Shared)
        };
        result.map_err(|_| spec.timeout_message.clone())
    }

    /// Waits for the lock up to its timeout; the error is PVE's message.
    pub async fn acquire(&self, spec: &LockSpec) -> Result<Held, String> {
        let lock = self.lock_for(&spec.key);
        let result = if spec.exclusive {
            tokio::time::timeout(spec.timeout, lock.write_owned())
                .await
                .map(Held::Exclusive)
        } else {
            tokio::time::timeout(spec.timeout, lock.read_owned())
                .await
                .map(Held::Shared)
        };
        result.map_err(|_| spec.timeout_message.clone())
    }
}
