//! The state shared by the HTTP handlers and the task workers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::faults::Faults;
use super::locks::Locks;
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
    pub download_urls_fail: Vec<String>,
    pub clone_source_lock: CloneSourceLock,
}

/// Everything the simulator shares between requests and workers.
pub(crate) struct Shared {
    pub settings: Settings,
    pub schema: Arc<PveSchema>,
    world: Mutex<World>,
    pub locks: Locks,
    pub faults: Faults,
    pub counter: Arc<AtomicU64>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub violations: Mutex<Vec<String>>,
    /// Abort handles of running workers, by UPID (for `DELETE .../tasks/{upid}`).
    pub workers: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Set once the simulator shuts down: nothing is persisted any more.
    stopped: AtomicBool,
    /// Serialises file writes; holds the generation last written.
    persisted: Mutex<u64>,
    /// Bumped by every change.
    generation: AtomicU64,
}

impl Shared {
    pub fn new(settings: Settings, schema: Arc<PveSchema>, world: World, faults: Faults) -> Self {
        let counter = faults.counter.clone();
        Shared {
            settings,
            schema,
            world: Mutex::new(world),
            locks: Locks::default(),
            faults,
            counter,
            requests: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            workers: Mutex::new(HashMap::new()),
            stopped: AtomicBool::new(false),
            persisted: Mutex::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// Stops persisting and aborts every running worker. Their tasks stay
    /// `running` in the persisted world, so the next simulator started on
    /// the same file finishes them on load (like a node that rebooted).
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

    /// Changes the world without persisting it (poll counters).
    pub fn touch<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
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
        let world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        f(&world)
    }

    /// Changes the world and persists it (when `persist` is set): the
    /// snapshot is taken under the world lock, the file is written after it
    /// (atomically, newest generation wins).
    pub fn write<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let (result, snapshot) = {
            let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
            let result = f(&mut world);
            let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
            let snapshot = match &self.settings.persist {
                Some(_) if !self.stopped.load(Ordering::SeqCst) => serde_json::to_vec(&*world)
                    .ok()
                    .map(|bytes| (generation, bytes)),
                _ => None,
            };
            (result, snapshot)
        };
        if let (Some((generation, bytes)), Some(path)) = (snapshot, &self.settings.persist) {
            let mut last = self.persisted.lock().unwrap_or_else(|e| e.into_inner());
            if generation > *last && !self.stopped.load(Ordering::SeqCst) {
                if let Err(e) = World::save_bytes(path, &bytes) {
                    tracing::warn!("pve-sim: cannot persist the world: {e}");
                }
                *last = generation;
            }
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
