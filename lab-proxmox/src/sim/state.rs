//! The state shared by the HTTP handlers and the task workers, and the
//! state file.
//!
//! With `persist`, the world is the node's `/etc/pve`: every change is
//! written to the state file (atomically: a temporary file renamed over
//! it) before the change is answered, and a change made to the file from
//! outside (`pve-sim unlock --state FILE <vmid>`, the simulator's `qm
//! unlock`) is read back before the next request sees the world. Writers on
//! both sides take an advisory lock on `<file>.lock` around their
//! read-modify-write, so neither loses the other's change.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::copies::Copies;
use super::faults::Faults;
use super::locks::Locks;
use super::urls::Urls;
use super::validate::PveSchema;
use super::world::World;
use super::{CloneSourceLock, RecordedRequest, TaskLatency};

/// The immutable settings a running simulator needs.
pub(crate) struct Settings {
    pub token_id: String,
    pub token_secret: String,
    pub auth_failure_delay: Duration,
    pub task_latency: TaskLatency,
    pub persist: Option<PathBuf>,
    pub nfs_servers_reachable: Vec<String>,
    pub urls: Urls,
    pub oci_images_missing: Vec<String>,
    pub clone_source_lock: CloneSourceLock,
}

/// What identifies one version of the state file: a change by anyone
/// (every writer renames a new file over it) changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp_of(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

/// `<state>.lock`, the advisory lock beside a state file.
pub(crate) fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// An exclusive advisory lock on `<state>.lock`, released on drop.
pub(crate) struct FileLock(File);

impl FileLock {
    /// Waits for the lock on `state`'s lock file (created if missing).
    pub fn exclusive(state: &Path) -> std::io::Result<FileLock> {
        let path = lock_path(state);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok(FileLock(file))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Everything the simulator shares between requests and workers.
pub(crate) struct Shared {
    pub settings: Settings,
    pub schema: Arc<PveSchema>,
    world: Mutex<World>,
    pub locks: Locks,
    /// The copies running onto each storage (full clones).
    pub copies: Copies,
    pub faults: Faults,
    pub counter: Arc<AtomicU64>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub violations: Mutex<Vec<String>>,
    /// Volumes deleted while a guest that can see them still named them in
    /// its config (real PVE allows it; see `content::delete_volume`).
    pub dangling: Mutex<Vec<String>>,
    /// Abort handles of running workers, by UPID (for `DELETE .../tasks/{upid}`).
    pub workers: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Set once the simulator shuts down: nothing is persisted any more.
    stopped: AtomicBool,
    /// Serialises the state file's readers and writers in this process;
    /// holds the stamp of the file as this process last wrote or read it.
    persisted: Mutex<Option<FileStamp>>,
}

impl Shared {
    /// The shared state around `world`, which was just loaded from (or is
    /// new for) the `persist` file.
    pub fn new(settings: Settings, schema: Arc<PveSchema>, world: World, faults: Faults) -> Self {
        let counter = faults.counter.clone();
        let stamp = settings.persist.as_deref().and_then(stamp_of);
        Shared {
            settings,
            schema,
            world: Mutex::new(world),
            locks: Locks::default(),
            copies: Copies::default(),
            faults,
            counter,
            requests: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            dangling: Mutex::new(Vec::new()),
            workers: Mutex::new(HashMap::new()),
            stopped: AtomicBool::new(false),
            persisted: Mutex::new(stamp),
        }
    }

    /// Stops persisting and aborts every running worker. Their tasks stay
    /// `running` in the persisted world, so the next simulator started on
    /// the same file finds them as a rebooted node does: gone.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let workers: Vec<_> = self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, handle)| handle)
            .collect();
        for handle in workers {
            handle.abort();
        }
    }

    /// The state file, while the simulator persists.
    fn persist_path(&self) -> Option<&Path> {
        match &self.settings.persist {
            Some(p) if !self.stopped.load(Ordering::SeqCst) => Some(p),
            _ => None,
        }
    }

    /// Replaces the world with the state file if someone else changed it
    /// since this process last wrote or read it. The caller holds
    /// `persisted` (passed as `stamp`) and the file lock.
    fn reload_if_changed(&self, path: &Path, stamp: &mut Option<FileStamp>) {
        let current = stamp_of(path);
        if current.is_none() || current == *stamp {
            return;
        }
        match World::load(path) {
            Ok(Some(world)) => {
                *self.world.lock().unwrap_or_else(|e| e.into_inner()) = world;
                tracing::info!("pve-sim: {} changed on disk; reloaded", path.display());
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("pve-sim: cannot reload the changed state file: {e}"),
        }
        *stamp = current;
    }

    /// Reads back a state file changed from outside (cheap when it was not:
    /// one `stat`).
    fn sync_external(&self) {
        let Some(path) = self.persist_path() else {
            return;
        };
        let current = stamp_of(path);
        let mut stamp = self.persisted.lock().unwrap_or_else(|e| e.into_inner());
        if current.is_none() || current == *stamp {
            return;
        }
        let _file = FileLock::exclusive(path).ok();
        self.reload_if_changed(path, &mut stamp);
    }

    /// Changes the world without persisting it (poll counters).
    pub fn touch<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        self.sync_external();
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut world)
    }

    /// Whether storage `id` is shared (NFS and the like): its lock is the
    /// cluster's, not one node's.
    pub fn storage_is_shared(&self, id: &str) -> bool {
        self.read(|w| w.storage_is_shared(id))
    }

    /// Reads the world.
    pub fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        self.sync_external();
        let world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        f(&world)
    }

    /// Changes the world and persists it (when `persist` is set): under the
    /// file lock, on top of the file's latest version, written before this
    /// returns.
    pub fn write<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let Some(path) = self.persist_path() else {
            let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
            return f(&mut world);
        };
        let mut stamp = self.persisted.lock().unwrap_or_else(|e| e.into_inner());
        let _file = FileLock::exclusive(path)
            .map_err(|e| tracing::warn!("pve-sim: cannot lock {}: {e}", lock_path(path).display()))
            .ok();
        self.reload_if_changed(path, &mut stamp);
        let (result, bytes) = {
            let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
            let result = f(&mut world);
            (result, serde_json::to_vec(&*world))
        };
        if self.stopped.load(Ordering::SeqCst) {
            return result;
        }
        match bytes
            .map_err(|e| e.to_string())
            .and_then(|b| World::save_bytes(path, &b))
        {
            Ok(()) => *stamp = stamp_of(path),
            Err(e) => tracing::warn!("pve-sim: cannot persist the world: {e}"),
        }
        result
    }

    /// The config/storage lock timeout in force.
    pub fn lock_timeout(&self) -> Duration {
        self.faults.lock_timeout()
    }

    /// The timeout of the clone worker's config locks: qemu-server passes 1 s
    /// to `lock_config_shared`/`lock_config_full` there.
    pub fn clone_lock_timeout(&self) -> Duration {
        self.lock_timeout().min(Duration::from_secs(1))
    }
}

/// Changes a state file no simulator holds in memory, or one a simulator
/// runs on (it reads the change back before its next request): under the
/// file lock, `f` gets the world as the file has it, and the result is
/// written back atomically. `Ok(None)` if there is no such file.
pub(crate) fn edit_state_file<R>(
    path: &Path,
    f: impl FnOnce(&mut World) -> Result<R, String>,
) -> Result<Option<R>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let _file = FileLock::exclusive(path)
        .map_err(|e| format!("cannot lock {}: {e}", lock_path(path).display()))?;
    let Some(mut world) = World::load(path)? else {
        return Ok(None);
    };
    let result = f(&mut world)?;
    let bytes = serde_json::to_vec(&world).map_err(|e| e.to_string())?;
    World::save_bytes(path, &bytes)?;
    Ok(Some(result))
}
