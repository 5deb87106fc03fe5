//! Bounded retries of transient provider failures, with exponential
//! backoff and jitter.
//!
//! A transient failure (connection reset, 5xx, Proxmox `can't lock file`)
//! is retried after [`RetryPolicy::delay`]; a permanent one is not. The
//! delay doubles with each failed attempt up to a cap, and is "equal
//! jitter": half of it fixed, half random, so that operations which failed
//! together (a lock released, an endpoint back up) do not all retry in the
//! same instant.

use std::time::Duration;

use rand::Rng;

/// How often and how patiently transient failures are retried.
///
/// ```
/// use std::time::Duration;
/// use lab_core::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert!(policy.should_retry(1, true));
/// assert!(!policy.should_retry(1, false)); // permanent: never retried
/// assert!(!policy.should_retry(policy.max_attempts, true));
/// let d = policy.delay(3); // base * 2^2 = 1 s, equal jitter: 0.5 s ..= 1 s
/// assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries, the first included (1 means never retry).
    pub max_attempts: u32,
    /// The delay before the first retry (before jitter).
    pub base: Duration,
    /// The largest delay between two tries (before jitter).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 250 ms base delay, 10 s cap.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// One attempt: failures are final.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// 5 attempts with millisecond delays (1 ms base, 5 ms cap), for tests.
    pub fn fast() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        }
    }

    /// The delay before the try that follows failed attempt number
    /// `failed_attempt` (1-based): `base * 2^(failed_attempt - 1)`, capped at
    /// `max_delay`, then equal jitter: half of it fixed and half uniformly
    /// random, so the result lies in `[d/2, d]`.
    pub fn delay(&self, failed_attempt: u32) -> Duration {
        let ceiling = self.ceiling(failed_attempt);
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half);
        let nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if nanos == 0 {
            0
        } else {
            rand::rng().random_range(0..=nanos)
        };
        half + Duration::from_nanos(jitter)
    }

    /// The un-jittered delay after failed attempt `failed_attempt`.
    fn ceiling(&self, failed_attempt: u32) -> Duration {
        let exp = failed_attempt.max(1) - 1;
        let factor = 1u32.checked_shl(exp.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// True if the failure of attempt `failed_attempt` (1-based) should be
    /// retried: only transient failures, and only while attempts remain.
    pub fn should_retry(&self, failed_attempt: u32, transient: bool) -> bool {
        transient && failed_attempt < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.base, Duration::from_millis(250));
        assert_eq!(p.max_delay, Duration::from_secs(10));
        assert_eq!(RetryPolicy::none().max_attempts, 1);
        assert_eq!(RetryPolicy::fast().max_delay, Duration::from_millis(5));
    }

    #[test]
    fn delays_are_bounded_and_grow() {
        let p = RetryPolicy::default();
        for n in 1..=40u32 {
            let ceiling = p.ceiling(n);
            for _ in 0..50 {
                let d = p.delay(n);
                assert!(
                    d >= ceiling / 2,
                    "attempt {n}: {d:?} below half of {ceiling:?}"
                );
                assert!(d <= ceiling, "attempt {n}: {d:?} above {ceiling:?}");
                assert!(d <= p.max_delay);
            }
        }
        assert_eq!(p.ceiling(1), Duration::from_millis(250));
        assert_eq!(p.ceiling(2), Duration::from_millis(500));
        assert_eq!(p.ceiling(3), Duration::from_secs(1));
        assert_eq!(p.ceiling(100), Duration::from_secs(10));
        // The lower bound of attempt n+1 reaches the upper bound of attempt n
        // until the cap: delays grow.
        for n in 1..5 {
            assert!(p.delay(n + 1) >= p.ceiling(n));
        }
        // Attempt 0 is treated as the first failure.
        assert!(p.delay(0) <= p.base);
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let p = RetryPolicy {
            max_attempts: u32::MAX,
            base: Duration::MAX,
            max_delay: Duration::MAX,
        };
        let d = p.delay(u32::MAX);
        assert!(d >= Duration::MAX / 2);
    }

    #[test]
    fn should_retry_only_transient_within_budget() {
        let p = RetryPolicy::fast();
        assert!(p.should_retry(1, true));
        assert!(p.should_retry(4, true));
        assert!(!p.should_retry(5, true));
        assert!(!p.should_retry(1, false));
        assert!(!RetryPolicy::none().should_retry(1, true));
    }
}
