//! The typed event stream of check, plan, apply and destroy.
//!
//! The CLI renders these (live on a TTY, one line each otherwise); a
//! dashboard, a bot or a test can subscribe the same way with
//! [`crate::Engine::on_event`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::provider::OpKind;
use crate::Address;

/// Something that happened during a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Refresh started for a provider.
    Refreshing {
        /// The provider's name.
        provider: String,
        /// How many resources it reads.
        resources: usize,
    },
    /// An operation recorded as begun by an interrupted run was resolved.
    Recovered {
        /// The resource.
        address: Address,
        /// What was decided, e.g. "adopted existing object 104".
        outcome: String,
    },
    /// An operation started.
    Started {
        /// The resource.
        address: Address,
        /// The operation.
        op: OpKind,
    },
    /// An operation failed transiently and will be retried.
    Retrying {
        /// The resource.
        address: Address,
        /// The operation.
        op: OpKind,
        /// The attempt that failed (1 = first try).
        attempt: u32,
        /// How long until the next try.
        delay: Duration,
        /// The error.
        error: String,
    },
    /// An operation finished.
    Finished {
        /// The resource.
        address: Address,
        /// The operation.
        op: OpKind,
        /// How long it took, retries included.
        elapsed: Duration,
    },
    /// An operation failed for good.
    Failed {
        /// The resource.
        address: Address,
        /// The operation.
        op: OpKind,
        /// The error.
        error: String,
    },
    /// An operation was not run because something it needs failed.
    Skipped {
        /// The resource.
        address: Address,
        /// The operation.
        op: OpKind,
        /// The failed operation's resource.
        because: Address,
    },
}

impl fmt::Display for Event {
    /// One plain line per event, for logs and pipes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Refreshing {
                provider,
                resources,
            } => {
                write!(f, "refresh  {provider}: {resources} resource(s)")
            }
            Event::Recovered { address, outcome } => write!(f, "recover  {address}: {outcome}"),
            Event::Started { address, op } => write!(f, "{op:<8} {address}: started"),
            Event::Retrying {
                address,
                op,
                attempt,
                delay,
                error,
            } => write!(
                f,
                "{op:<8} {address}: attempt {attempt} failed ({error}); retrying in {}",
                crate::plan::fmt_duration(*delay)
            ),
            Event::Finished {
                address,
                op,
                elapsed,
            } => write!(
                f,
                "{op:<8} {address}: done in {}",
                crate::plan::fmt_duration(*elapsed)
            ),
            Event::Failed { address, op, error } => write!(f, "{op:<8} {address}: FAILED: {error}"),
            Event::Skipped {
                address,
                op,
                because,
            } => {
                write!(
                    f,
                    "{op:<8} {address}: skipped (needs {because}, which failed)"
                )
            }
        }
    }
}

/// A subscriber to events.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;
