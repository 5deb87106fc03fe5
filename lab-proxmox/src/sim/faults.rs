//! Fault injection: the failures real clusters produce that a client must
//! survive (proxmox-api.md §4, §16 item 10; proxmox-peers.md §6 item 4).
//!
//! - [`Faults::fail_request`]: one request answers with a chosen status and
//!   reason phrase (e.g. 596 when pveproxy cannot reach pvedaemon);
//! - [`Faults::extra_latency`]: every request is slowed down;
//! - [`Faults::transient_status_400_on_first_poll`]: the first status poll of
//!   each task answers 400, as bpg observed right after dispatch;
//! - [`Faults::status_599_on_poll`]: the next task-status polls answer
//!   `599 Too many redirections` (the pveproxy connection-reuse bug);
//! - [`Faults::set_lock_timeout`]: the config/storage lock timeout (10 s on
//!   a real node) at run time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The mutable fault settings.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    /// (absolute request number, status, message).
    pub failures: Vec<(u64, u16, String)>,
    pub extra_latency: Duration,
    pub first_poll_400: bool,
    pub polls_599: u32,
    pub lock_timeout: Duration,
}

/// A handle to the simulator's fault injection (cheap to clone).
#[derive(Clone)]
pub struct Faults {
    pub(crate) state: Arc<Mutex<FaultState>>,
    pub(crate) counter: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) default_lock_timeout: Duration,
}

impl Faults {
    /// A fault controller counting requests with `counter` (the
    /// simulator's request counter: [`Faults::fail_request`] counts from
    /// it). Other simulators (lab-pbs's) share this one.
    pub fn new(counter: Arc<std::sync::atomic::AtomicU64>, lock_timeout: Duration) -> Faults {
        Faults {
            state: Arc::new(Mutex::new(FaultState {
                lock_timeout,
                ..FaultState::default()
            })),
            counter,
            default_lock_timeout: lock_timeout,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut FaultState) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    /// Makes the `n`-th request from now (1 = the next one) fail with
    /// `status` and `message` (the reason phrase; the body is
    /// `{"data":null}`, or empty for 401).
    pub fn fail_request(&self, n: u64, status: u16, message: &str) {
        let target = self.counter.load(std::sync::atomic::Ordering::SeqCst) + n.max(1);
        self.with(|s| s.failures.push((target, status, message.to_string())));
    }

    /// Adds `latency` before every request is handled.
    pub fn extra_latency(&self, latency: Duration) {
        self.with(|s| s.extra_latency = latency);
    }

    /// When on, the first `GET .../tasks/{upid}/status` of every task
    /// answers 400 (the task file does not exist yet).
    pub fn transient_status_400_on_first_poll(&self, on: bool) {
        self.with(|s| s.first_poll_400 = on);
    }

    /// The next `n` task-status polls answer `599 Too many redirections`.
    pub fn status_599_on_poll(&self, n: u32) {
        self.with(|s| s.polls_599 = n);
    }

    /// Sets the lock timeout used by config and storage locks from now on.
    pub fn set_lock_timeout(&self, timeout: Duration) {
        self.with(|s| s.lock_timeout = timeout);
    }

    /// The current lock timeout.
    pub fn lock_timeout(&self) -> Duration {
        self.with(|s| s.lock_timeout)
    }

    /// Removes every injected fault and restores the configured lock timeout.
    pub fn clear(&self) {
        let default = self.default_lock_timeout;
        self.with(|s| {
            *s = FaultState {
                lock_timeout: default,
                ..FaultState::default()
            }
        });
    }

    /// The injected failure for request number `number`, if any.
    pub fn take_failure(&self, number: u64) -> Option<(u16, String)> {
        self.with(|s| {
            let index = s.failures.iter().position(|(n, _, _)| *n == number)?;
            let (_, status, message) = s.failures.remove(index);
            Some((status, message))
        })
    }

    /// The extra latency before each request.
    pub fn latency(&self) -> Duration {
        self.with(|s| s.extra_latency)
    }

    /// Consumes one 599 poll, if armed.
    pub fn take_poll_599(&self) -> bool {
        self.with(|s| {
            if s.polls_599 > 0 {
                s.polls_599 -= 1;
                true
            } else {
                false
            }
        })
    }

    /// Whether the first status poll of a task answers 400.
    pub fn first_poll_400(&self) -> bool {
        self.with(|s| s.first_poll_400)
    }
}
