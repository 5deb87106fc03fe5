//! The PostgreSQL state store (feature `postgres`): the state of a lab
//! run by several people or by CI, in a database they share.
//!
//! [`PostgresStateStore`] keeps what the file store keeps, in tables
//! ([`schema`]): the state as versioned documents (serial, lineage, the
//! same JSON as `state.json`, secrets sealed with age by the same
//! [`crate::state::Sealer`]: the database never sees a plaintext secret,
//! and the age key stays a local file, `.lab/age.key` by default), the
//! last [`HISTORY_KEPT`] versions for `state history` and `state
//! rollback`, the write-ahead journal, and who holds the lock.
//!
//! # Why it is written this way
//!
//! **One transaction per save.** A save inserts the new version and
//! deletes the versions beyond the last N in one transaction, so a
//! connection cut or a process killed in the middle leaves the previous
//! version as the newest: the server rolls an unfinished transaction back
//! whole. A journal record is committed (and so durable, with the
//! server's default `synchronous_commit`) before `journal_append` returns,
//! so before the call it announces; records that concurrent operations
//! append while the session is busy share one insert.
//!
//! **The lock is the session's** (`lock.rs`): a session-level advisory lock
//! on the store's own connection, held for the run; the server drops it
//! when the session ends, so a killed run never leaves a stale lock, and a
//! run whose connection was cut stops writing (`worker.rs`).
//!
//! **A thread of its own.** [`crate::state::StateStore`] is synchronous and
//! called from inside the executor's runtime; the client runs on its own
//! thread with its own current-thread runtime (`worker.rs`), and callers
//! wait on a std channel, as they wait on the file store's fsync.
//!
//! **The password is never shown.** `describe()`, every
//! message and every error show the connection string rebuilt without it
//! ([`connect`]); TLS always verifies the server (platform roots, a CA file,
//! or a pinned fingerprint).

pub mod connect;
mod lock;
pub mod schema;
mod store;
mod worker;

pub use connect::{PgSettings, SslMode, ENV_VAR};
pub use store::{CutBeforeCommit, PostgresStateStore, HISTORY_KEPT};
