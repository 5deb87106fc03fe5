//! Request rates: a token bucket per provider instance.
//!
//! Concurrency limits ([`super::Limit`]) bound how many calls run at once;
//! some services also bound how many arrive per period (Cloudflare: 1,200
//! requests per 5 minutes per user). A provider declares that with
//! [`super::Provider::rate_limit`]; the engine gives every operation and
//! refresh of that instance one shared [`TokenBucket`], and the provider
//! calls [`super::OpContext::throttle`] before each request.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// `requests` per `per`, with bursts up to `requests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// How many requests a full bucket holds (and the period refills).
    pub requests: u32,
    /// The period.
    pub per: Duration,
}

impl RateLimit {
    /// `requests` per `per`.
    pub fn new(requests: u32, per: Duration) -> Self {
        RateLimit {
            requests: requests.max(1),
            per,
        }
    }
}

/// A token bucket: starts full, refills continuously at `requests / per`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// use std::time::Duration;
/// use lab_core::provider::{RateLimit, TokenBucket};
/// let bucket = TokenBucket::new(RateLimit::new(2, Duration::from_secs(10)));
/// let t0 = tokio::time::Instant::now();
/// bucket.take().await;
/// bucket.take().await; // the burst
/// bucket.take().await; // waits for one token: 5 s
/// assert_eq!(t0.elapsed().as_secs(), 5);
/// # });
/// ```
#[derive(Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    inner: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        TokenBucket {
            limit,
            inner: Mutex::new(Bucket {
                tokens: f64::from(limit.requests),
                at: Instant::now(),
            }),
        }
    }

    /// The limit it enforces.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn per_token(&self) -> Duration {
        self.limit.per / self.limit.requests
    }

    /// Takes one token, waiting until one is there.
    pub async fn take(&self) {
        loop {
            let wait = {
                let mut b = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let refill = now.duration_since(b.at).as_secs_f64()
                    / self.per_token().as_secs_f64().max(f64::MIN_POSITIVE);
                b.tokens = (b.tokens + refill).min(f64::from(self.limit.requests));
                b.at = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                self.per_token().mul_f64(1.0 - b.tokens)
            };
            tokio::time::sleep(wait).await;
        }
    }
}
