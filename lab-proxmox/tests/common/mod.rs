//! What the simulator-backed tests share: a fast simulator, a runtime,
//! apply options with quick retries.

use std::time::Duration;

use lab_core::{ApplyOptions, RetryPolicy};
use lab_proxmox::sim::{SimConfig, TaskLatency};

/// A two-worker runtime, as on the CI's two cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A simulator with instant tasks and short lock timeouts.
pub fn sim_config() -> SimConfig {
    SimConfig {
        auth_failure_delay: Duration::ZERO,
        task_latency: TaskLatency::instant(),
        lock_timeout: Duration::from_millis(200),
        ..SimConfig::default()
    }
}

/// Apply options with up to 10 operations at once and quick retries.
pub fn opts() -> ApplyOptions {
    ApplyOptions {
        parallelism: 10,
        retry: RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        },
    }
}
