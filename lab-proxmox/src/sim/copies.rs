//! A storage's copy bandwidth, shared between the full clones copying onto
//! it at the same time.
//!
//! A full clone copies every disk of its source (`qemu-img convert`, or a
//! `drive-mirror` from a running source: qemu-server `clone_disk` ->
//! `clone_disk_copy_data`) **after** `vdisk_alloc` returned, i.e. outside
//! the storage lock. Concurrent copies onto one storage therefore run side
//! by side and share its throughput: a copy of `size` bytes alone takes
//! `size / bandwidth`; with `n` copies running, each advances at
//! `bandwidth / n`. A linked clone copies nothing (`vdisk_clone` makes a
//! thin snapshot of the template's base volume), so it never enters here.
//!
//! The sharing is modelled exactly (processor sharing, not ticks): each
//! channel keeps the bytes every active copy has received so far
//! (`progress`), advanced at `bandwidth / n` whenever `n` changes; a copy
//! is done when `progress` reaches the value it joined at plus its size.
//! Waiters sleep until their own end under the current `n` and wake early
//! when a copy joins or leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::locks::LockSpec;

/// What one stage of a worker does outside the world: the lock held
/// around its change of the world alone (a drive's storage allocation),
/// and the bytes it copies afterwards onto that lock's storage.
pub(crate) struct StageIo {
    /// The allocation lock (its key also names the storage's copy channel).
    pub lock: LockSpec,
    /// Prefix of the task's error when the lock times out.
    pub prefix: &'static str,
    /// Bytes copied after the allocation (0: nothing, e.g. a linked clone).
    pub copy_bytes: u64,
}

/// The copies running onto one storage.
struct Channel {
    /// Copies running now.
    active: usize,
    /// Bytes each running copy has received since the channel was made.
    progress: f64,
    /// When `progress` was last advanced.
    at: Instant,
    /// Woken whenever `active` changes.
    changed: Arc<Notify>,
}

impl Channel {
    /// Advances `progress` to now at `bandwidth / active` per copy.
    fn advance(&mut self, bandwidth: f64) {
        let now = Instant::now();
        if self.active > 0 {
            let secs = now.saturating_duration_since(self.at).as_secs_f64();
            self.progress += secs * bandwidth / self.active as f64;
        }
        self.at = now;
    }
}

/// Every storage's running copies, keyed like the storage lock (node +
/// storage for a local storage, the storage alone for a shared one).
#[derive(Default)]
pub(crate) struct Copies {
    channels: Mutex<HashMap<String, Channel>>,
}

/// One running copy; dropping it (the copy ended, or its worker was
/// aborted) frees its share for the others.
struct Running<'a> {
    copies: &'a Copies,
    key: &'a str,
    bandwidth: f64,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut channels = self.copies.lock();
        if let Some(ch) = channels.get_mut(self.key) {
            ch.advance(self.bandwidth);
            ch.active = ch.active.saturating_sub(1);
            ch.changed.notify_waiters();
            if ch.active == 0 {
                channels.remove(self.key);
            }
        }
    }
}

impl Copies {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many copies run onto `key` now.
    #[cfg(test)]
    pub fn running(&self, key: &str) -> usize {
        self.lock().get(key).map_or(0, |c| c.active)
    }

    /// Copies `bytes` onto the storage `key` whose throughput is
    /// `bandwidth` bytes per second, sharing it with every other copy
    /// running there meanwhile; returns when the copy is done.
    pub async fn transfer(&self, key: &str, bytes: u64, bandwidth: u64) {
        if bytes == 0 || bandwidth == 0 || bandwidth == u64::MAX {
            return;
        }
        let bandwidth = bandwidth as f64;
        let target = {
            let mut channels = self.lock();
            let ch = channels.entry(key.to_string()).or_insert_with(|| Channel {
                active: 0,
                progress: 0.0,
                at: Instant::now(),
                changed: Arc::new(Notify::new()),
            });
            ch.advance(bandwidth);
            ch.active += 1;
            ch.changed.notify_waiters();
            ch.progress + bytes as f64
        };
        let _running = Running {
            copies: self,
            key,
            bandwidth,
        };
        let changed = match self.lock().get(key) {
            Some(ch) => ch.changed.clone(),
            None => return,
        };
        loop {
            // Registered before the share is read, so a copy joining or
            // leaving after the read wakes this one.
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let left = {
                let mut channels = self.lock();
                let Some(ch) = channels.get_mut(key) else {
                    return;
                };
                ch.advance(bandwidth);
                let remaining = target - ch.progress;
                // Below a byte: done (float rounding).
                if remaining < 1.0 {
                    return;
                }
                Duration::from_secs_f64(remaining * ch.active as f64 / bandwidth)
            };
            tokio::select! {
                () = tokio::time::sleep(left) => {}
                () = &mut notified => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[tokio::test(start_paused = true)]
    async fn one_copy_takes_size_over_bandwidth() {
        let copies = Copies::default();
        let start = Instant::now();
        copies.transfer("pve1:local-lvm", 4 * GIB, 2 * GIB).await;
        let took = start.elapsed().as_secs_f64();
        assert!((took - 2.0).abs() < 0.01, "{took}");
        assert_eq!(copies.running("pve1:local-lvm"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_copies_share_the_bandwidth() {
        let copies = Arc::new(Copies::default());
        let start = Instant::now();
        // Two copies of 2 GiB at 1 GiB/s share it: both end at 4 s; a
        // third of 1 GiB joining at 1 s runs at a third until it ends.
        let spawn = |delay: u64, bytes: u64| {
            let copies = copies.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(delay)).await;
                copies.transfer("s", bytes, GIB).await;
                start.elapsed().as_secs_f64()
            })
        };
        let a = spawn(0, 2 * GIB);
        let b = spawn(0, 2 * GIB);
        let c = spawn(1, GIB);
        let (a, b, c) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
        // 0-1 s: a, b at 0.5 GiB/s (0.5 GiB each). From 1 s: three copies at
        // 1/3 GiB/s; c needs 1 GiB: 3 s -> ends at 4 s, a and b have 1.5 GiB
        // then, the last 0.5 GiB at 0.5 GiB/s -> 5 s.
        assert!((c - 4.0).abs() < 0.01, "{c}");
        assert!((a - 5.0).abs() < 0.01, "{a}");
        assert!((b - 5.0).abs() < 0.01, "{b}");
    }

    #[tokio::test(start_paused = true)]
    async fn storages_do_not_share() {
        let copies = Arc::new(Copies::default());
        let start = Instant::now();
        let (c1, c2) = (copies.clone(), copies.clone());
        tokio::join!(
            async move { c1.transfer("pve1:local-lvm", GIB, GIB).await },
            async move { c2.transfer("pve2:local-lvm", GIB, GIB).await },
        );
        let took = start.elapsed().as_secs_f64();
        assert!((took - 1.0).abs() < 0.01, "{took}");
    }
}
