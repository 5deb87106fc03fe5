//! The executor's limiter: a priority-aware, multi-key, all-or-nothing
//! async semaphore.
//!
//! Every contended thing a provider declares ([`Limit`]: one clone per
//! source template, N calls per node, a rate limit) is a key with a
//! capacity. An operation asks for all of its keys at once
//! ([`Limiter::acquire`]) and gets either every unit or none, so two
//! operations can never deadlock by each holding half of what the other
//! needs.
//!
//! Waiters are granted in priority order (higher first, first come first
//! served among equals: the executor passes the critical-path length), but
//! the limiter is work-conserving: a waiter whose keys are all free is
//! granted even if a higher-priority waiter is still blocked on some other
//! key. That is a greedy list schedule, which never idles a free key while
//! ready work could use it.
//!
//! [`OpSlots`] adapts the call-scoped permits of one operation to the
//! provider's [`CallSlots`] hook, so that [`crate::OpContext::wait`] gives
//! them back while a remote task runs and takes them again afterwards.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::provider::{CallSlots, Limit};

/// Orders waiters: higher priority first, then arrival order.
type WaiterId = (Reverse<u64>, u64);

struct Waiter {
    keys: Vec<String>,
    tx: oneshot::Sender<()>,
}

#[derive(Default)]
struct State {
    /// Units held per key.
    used: HashMap<String, usize>,
    /// The smallest capacity ever declared per key.
    capacity: HashMap<String, usize>,
    /// Blocked acquirers, in grant order.
    waiters: BTreeMap<WaiterId, Waiter>,
    /// Arrival counter (FIFO among equal priorities).
    seq: u64,
}

impl State {
    fn fits(&self, keys: &[String]) -> bool {
        keys.iter().all(|k| {
            let used = self.used.get(k).copied().unwrap_or(0);
            let cap = self.capacity.get(k).copied().unwrap_or(1);
            used < cap
        })
    }

    fn take(&mut self, keys: &[String]) {
        for k in keys {
            *self.used.entry(k.clone()).or_insert(0) += 1;
        }
    }

    fn give_back(&mut self, keys: &[String]) {
        for k in keys {
            if let Some(n) = self.used.get_mut(k) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.used.remove(k);
                }
            }
        }
    }

    /// Grants every waiter that fits, in priority order. O(waiters).
    fn grant(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        let mut granted = Vec::new();
        for (id, w) in &self.waiters {
            if self.fits(&w.keys) {
                for k in &w.keys {
                    *self.used.entry(k.clone()).or_insert(0) += 1;
                }
                granted.push(*id);
            }
        }
        for id in granted {
            if let Some(w) = self.waiters.remove(&id) {
                // If the receiver is gone, the acquire future is being
                // dropped; its guard sees the waiter missing and gives the
                // units back.
                let _ = w.tx.send(());
            }
        }
    }
}

/// A priority-aware, multi-key, all-or-nothing async semaphore.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use lab_core::apply::Limiter;
/// use lab_core::Limit;
///
/// let limiter = Limiter::new();
/// let clone = [Limit::operation("proxmox:clone:9000", 1), Limit::calls("proxmox:node:pve1", 4)];
/// let first = limiter.acquire(&clone, 10).await;
/// assert_eq!(limiter.in_use("proxmox:clone:9000"), 1);
/// drop(first); // the next clone of template 9000 may start
/// assert_eq!(limiter.in_use("proxmox:clone:9000"), 0);
/// # });
/// ```
pub struct Limiter {
    state: Mutex<State>,
}

impl Limiter {
    /// A limiter with no keys in use. Keys come into existence the first
    /// time a [`Limit`] names them.
    pub fn new() -> Arc<Limiter> {
        Arc::new(Limiter {
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every key in `limits` has a free unit, then takes one
    /// unit of each, atomically.
    ///
    /// A key's capacity is the smallest capacity any [`Limit`] has declared
    /// for it. A key named twice in `limits` is taken once. Among waiters,
    /// higher `priority` is granted first (FIFO among equals), but a waiter
    /// whose keys are all free is granted at once even if a higher-priority
    /// one is blocked on another key. An empty `limits` returns at once.
    ///
    /// Cancellation-safe: dropping the future withdraws the request, and
    /// gives the units back if they were granted meanwhile.
    pub async fn acquire(self: &Arc<Self>, limits: &[Limit], priority: u64) -> Permits {
        let mut wanted: Vec<(String, usize)> = Vec::with_capacity(limits.len());
        for l in limits {
            let cap = l.capacity.max(1);
            match wanted.iter_mut().find(|(k, _)| *k == l.key) {
                Some((_, c)) => *c = (*c).min(cap),
                None => wanted.push((l.key.clone(), cap)),
            }
        }
        if wanted.is_empty() {
            return Permits::empty();
        }
        let keys: Vec<String> = wanted.iter().map(|(k, _)| k.clone()).collect();
        loop {
            let (id, rx) = {
                let mut st = self.lock();
                for (k, cap) in &wanted {
                    let c = st.capacity.entry(k.clone()).or_insert(*cap);
                    if *cap < *c {
                        *c = *cap;
                    }
                }
                if st.fits(&keys) {
                    st.take(&keys);
                    return Permits {
                        limiter: Some(self.clone()),
                        keys,
                    };
                }
                st.seq += 1;
                let id = (Reverse(priority), st.seq);
                let (tx, rx) = oneshot::channel();
                st.waiters.insert(
                    id,
                    Waiter {
                        keys: keys.clone(),
                        tx,
                    },
                );
                (id, rx)
            };
            let mut guard = WaitGuard {
                limiter: self.clone(),
                id,
                keys: Some(keys.clone()),
            };
            match rx.await {
                Ok(()) => {
                    // Granted: the units were taken on our behalf.
                    guard.keys = None;
                    return Permits {
                        limiter: Some(self.clone()),
                        keys,
                    };
                }
                // The sender was dropped unsent. Only a guard does that and
                // ours is alive, so this cannot happen; if it did, dropping
                // the guard withdraws cleanly and we ask again.
                Err(_) => drop(guard),
            }
        }
    }

    /// Units of `key` held right now.
    pub fn in_use(&self, key: &str) -> usize {
        self.lock().used.get(key).copied().unwrap_or(0)
    }

    /// The capacity of `key`, if a limit has named it.
    pub fn capacity(&self, key: &str) -> Option<usize> {
        self.lock().capacity.get(key).copied()
    }

    /// How many acquirers are blocked.
    pub fn waiting(&self) -> usize {
        self.lock().waiters.len()
    }

    fn release(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        let mut st = self.lock();
        st.give_back(keys);
        st.grant();
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Limiter")
            .field("used", &st.used)
            .field("capacity", &st.capacity)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}

/// Withdraws a pending request when the acquire future is dropped.
struct WaitGuard {
    limiter: Arc<Limiter>,
    id: WaiterId,
    /// `Some` until the future completes.
    keys: Option<Vec<String>>,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        if let Some(keys) = self.keys.take() {
            let mut st = self.limiter.lock();
            if st.waiters.remove(&self.id).is_none() {
                // Granted concurrently: the units are ours; give them back.
                st.give_back(&keys);
            }
            st.grant();
        }
    }
}

/// Units taken from a [`Limiter`]; dropping them gives them back and wakes
/// the waiters that now fit.
#[must_use = "the units are given back as soon as the permits are dropped"]
pub struct Permits {
    limiter: Option<Arc<Limiter>>,
    keys: Vec<String>,
}

impl Permits {
    /// Permits holding nothing.
    pub fn empty() -> Permits {
        Permits {
            limiter: None,
            keys: Vec::new(),
        }
    }

    /// The keys held, one unit each.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Drop for Permits {
    fn drop(&mut self) {
        if let Some(limiter) = self.limiter.take() {
            limiter.release(&self.keys);
        }
    }
}

impl fmt::Debug for Permits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Permits").field(&self.keys).finish()
    }
}

/// The call-scoped permits of one operation, as the provider's
/// [`CallSlots`] hook: [`crate::OpContext::wait`] releases them while a
/// remote task runs and reacquires them (same limits, same priority)
/// afterwards.
pub struct OpSlots {
    limiter: Arc<Limiter>,
    call_limits: Vec<Limit>,
    priority: u64,
    permits: Mutex<Option<Permits>>,
}

impl OpSlots {
    /// Wraps `permits`, already acquired for `call_limits` at `priority`.
    pub fn new(
        limiter: Arc<Limiter>,
        call_limits: Vec<Limit>,
        priority: u64,
        permits: Permits,
    ) -> Self {
        OpSlots {
            limiter,
            call_limits,
            priority,
            permits: Mutex::new(Some(permits)),
        }
    }

    /// True while the call permits are held.
    pub fn is_held(&self) -> bool {
        self.permits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

#[async_trait]
impl CallSlots for OpSlots {
    fn release(&self) {
        let held = self
            .permits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(held);
    }

    async fn reacquire(&self) {
        let permits = self.limiter.acquire(&self.call_limits, self.priority).await;
        let old = self
            .permits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(permits);
        drop(old);
    }
}

impl fmt::Debug for OpSlots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpSlots")
            .field("call_limits", &self.call_limits)
            .field("priority", &self.priority)
            .field("held", &self.is_held())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    fn poll_once<F: Future>(fut: &mut Pin<Box<F>>) -> Poll<F::Output> {
        let mut cx = Context::from_waker(Waker::noop());
        fut.as_mut().poll(&mut cx)
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn capacity_is_respected_under_many_tasks() {
        let limiter = Limiter::new();
        let cur_a = Arc::new(AtomicUsize::new(0));
        let max_a = Arc::new(AtomicUsize::new(0));
        let cur_b = Arc::new(AtomicUsize::new(0));
        let max_b = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..200u64 {
            let limiter = limiter.clone();
            let (cur_a, max_a, cur_b, max_b) =
                (cur_a.clone(), max_a.clone(), cur_b.clone(), max_b.clone());
            tasks.push(tokio::spawn(async move {
                let mut limits = vec![Limit::calls("a", 3)];
                if i % 2 == 0 {
                    limits.push(Limit::operation("b", 2));
                }
                let p = limiter.acquire(&limits, i % 7).await;
                let a = cur_a.fetch_add(1, Ordering::SeqCst) + 1;
                max_a.fetch_max(a, Ordering::SeqCst);
                if i % 2 == 0 {
                    let b = cur_b.fetch_add(1, Ordering::SeqCst) + 1;
                    max_b.fetch_max(b, Ordering::SeqCst);
                }
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_micros(100)).await;
                if i % 2 == 0 {
                    cur_b.fetch_sub(1, Ordering::SeqCst);
                }
                cur_a.fetch_sub(1, Ordering::SeqCst);
                drop(p);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(max_a.load(Ordering::SeqCst) <= 3);
        assert!(max_b.load(Ordering::SeqCst) <= 2);
        assert!(
            max_a.load(Ordering::SeqCst) >= 2,
            "some parallelism happened"
        );
        assert_eq!(limiter.in_use("a"), 0);
        assert_eq!(limiter.in_use("b"), 0);
        assert_eq!(limiter.waiting(), 0);
    }

    #[tokio::test]
    async fn smallest_capacity_wins_and_duplicates_take_one_unit() {
        let limiter = Limiter::new();
        let p = limiter
            .acquire(&[Limit::calls("k", 5), Limit::operation("k", 2)], 0)
            .await;
        assert_eq!(limiter.in_use("k"), 1);
        assert_eq!(limiter.capacity("k"), Some(2));
        let q = limiter.acquire(&[Limit::calls("k", 5)], 0).await;
        let k5 = [Limit::calls("k", 5)];
        let mut third = Box::pin(limiter.acquire(&k5, 0));
        assert!(
            poll_once(&mut third).is_pending(),
            "capacity stays at the smallest (2)"
        );
        drop(p);
        assert!(poll_once(&mut third).is_ready());
        drop(q);
    }

    #[tokio::test]
    async fn empty_limits_return_immediately() {
        let limiter = Limiter::new();
        let p = limiter.acquire(&[], 0).await;
        assert!(p.is_empty());
        assert!(Permits::empty().is_empty());
    }

    #[tokio::test]
    async fn grants_in_priority_order_fifo_among_equals() {
        let limiter = Limiter::new();
        let holder = limiter.acquire(&[Limit::calls("x", 1)], 0).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, prio) in [
            ("low", 1u64),
            ("high", 9),
            ("mid-a", 5),
            ("mid-b", 5),
            ("top", 20),
        ] {
            let limiter = limiter.clone();
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let p = limiter.acquire(&[Limit::calls("x", 1)], prio).await;
                order.lock().unwrap().push(name);
                tokio::task::yield_now().await;
                drop(p);
            }));
            settle().await; // enqueue in this order
        }
        assert_eq!(limiter.waiting(), 5);
        drop(holder);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            vec!["top", "high", "mid-a", "mid-b", "low"]
        );
    }

    #[tokio::test]
    async fn work_conserving_across_keys() {
        let limiter = Limiter::new();
        let a = limiter.acquire(&[Limit::calls("a", 1)], 0).await;
        // A high-priority waiter needing a and b is blocked on a...
        let ab = [Limit::calls("a", 1), Limit::calls("b", 1)];
        let mut high = Box::pin(limiter.acquire(&ab, 100));
        assert!(poll_once(&mut high).is_pending());
        // ...so a low-priority one needing only b goes first,
        let b = [Limit::calls("b", 1)];
        let mut low = Box::pin(limiter.acquire(&b, 1));
        let low_permit = match poll_once(&mut low) {
            Poll::Ready(p) => p,
            Poll::Pending => panic!("low should be granted while b is free"),
        };
        // and one needing c too.
        let c = limiter.acquire(&[Limit::calls("c", 1)], 0).await;
        drop(a);
        assert!(poll_once(&mut high).is_pending(), "b is still held by low");
        drop(low_permit);
        let both = match poll_once(&mut high) {
            Poll::Ready(p) => p,
            Poll::Pending => panic!("high should be granted now"),
        };
        assert_eq!(both.keys().len(), 2);
        assert_eq!(limiter.in_use("a"), 1);
        assert_eq!(limiter.in_use("b"), 1);
        drop((both, c));
        assert_eq!(
            limiter.in_use("a") + limiter.in_use("b") + limiter.in_use("c"),
            0
        );
    }

    #[tokio::test]
    async fn all_or_nothing_holds_no_partial_units() {
        let limiter = Limiter::new();
        let b = limiter.acquire(&[Limit::calls("b", 1)], 0).await;
        let both = [Limit::calls("a", 1), Limit::calls("b", 1)];
        let mut ab = Box::pin(limiter.acquire(&both, 5));
        assert!(poll_once(&mut ab).is_pending());
        assert_eq!(limiter.in_use("a"), 0, "a is not held while b is missing");
        let a = limiter.acquire(&[Limit::calls("a", 1)], 0).await;
        drop(a);
        drop(b);
        assert!(poll_once(&mut ab).is_ready());
    }

    #[tokio::test]
    async fn cancelled_waiter_frees_its_place() {
        let limiter = Limiter::new();
        let holder = limiter.acquire(&[Limit::calls("x", 1)], 0).await;
        let timed_out = tokio::time::timeout(
            Duration::from_millis(5),
            limiter.acquire(&[Limit::calls("x", 1)], 50),
        )
        .await;
        assert!(timed_out.is_err());
        assert_eq!(limiter.waiting(), 0);
        drop(holder);
        assert_eq!(limiter.in_use("x"), 0);
        let again = limiter.acquire(&[Limit::calls("x", 1)], 0).await;
        assert_eq!(limiter.in_use("x"), 1);
        drop(again);
    }

    #[tokio::test]
    async fn cancelled_after_grant_gives_units_back() {
        let limiter = Limiter::new();
        let holder = limiter.acquire(&[Limit::calls("x", 1)], 0).await;
        let x = [Limit::calls("x", 1)];
        let mut waiter = Box::pin(limiter.acquire(&x, 0));
        assert!(poll_once(&mut waiter).is_pending());
        drop(holder); // grants `waiter`, which is never polled again
        assert_eq!(limiter.in_use("x"), 1);
        assert_eq!(limiter.waiting(), 0);
        drop(waiter);
        assert_eq!(limiter.in_use("x"), 0);
        let p = limiter.acquire(&[Limit::calls("x", 1)], 0).await;
        drop(p);
    }

    #[tokio::test]
    async fn op_slots_release_lets_another_in_and_reacquire_waits() {
        let limiter = Limiter::new();
        let limits = vec![Limit::calls("api", 1)];
        let first = limiter.acquire(&limits, 3).await;
        let slots = Arc::new(OpSlots::new(limiter.clone(), limits.clone(), 3, first));
        assert!(slots.is_held());
        let mut other = Box::pin(limiter.acquire(&limits, 1));
        assert!(poll_once(&mut other).is_pending());
        slots.release();
        assert!(!slots.is_held());
        let other_permit = match poll_once(&mut other) {
            Poll::Ready(p) => p,
            Poll::Pending => panic!("release should let the other task in"),
        };
        let mut re = Box::pin(slots.reacquire());
        assert!(
            poll_once(&mut re).is_pending(),
            "reacquire waits for the slot"
        );
        drop(other_permit);
        assert!(poll_once(&mut re).is_ready());
        drop(re);
        assert!(slots.is_held());
        assert_eq!(limiter.in_use("api"), 1);
        drop(slots);
        assert_eq!(limiter.in_use("api"), 0);
    }

    #[tokio::test]
    async fn op_context_wait_releases_call_slots() {
        use crate::provider::OpContext;
        use crate::Address;
        let limiter = Limiter::new();
        let limits = vec![Limit::calls("api", 1)];
        let p = limiter.acquire(&limits, 0).await;
        let slots = Arc::new(OpSlots::new(limiter.clone(), limits.clone(), 0, p));
        let ctx = OpContext::for_operation(Address::new("test.thing", "a"), 1, slots.clone());
        let l2 = limiter.clone();
        let inside = ctx
            .wait(async move {
                // Another operation can make calls while we wait.
                let q = l2.acquire(&[Limit::calls("api", 1)], 0).await;
                drop(q);
                l2.in_use("api")
            })
            .await;
        assert_eq!(inside, 0);
        assert_eq!(limiter.in_use("api"), 1, "held again after the wait");
    }
}
