//! Group commit: how the executor makes its journal and its state durable
//! without paying a disk write per operation.
//!
//! A large apply used to save the whole state after every operation, which
//! is quadratic in serialisation (10,000 resources: ~10,000 saves of a
//! 5 MB document). Two queues replace that, each written by one writer at a
//! time for everything that piled up while the previous write ran:
//!
//! - **The journal queue.** An intent must be on disk before its call
//!   ([`Shared::journal_now`]): operations that start together share one
//!   append and one `fsync` ([`crate::state::StateStore::journal_append_batch`]).
//!   `Done` records are queued without waiting ([`Shared::journal_later`])
//!   and written after the save that holds their change, in one append.
//! - **The state saver** ([`saver`]): one task saves the whole state,
//!   back to back, while changes arrive. An operation records its result in
//!   the in-memory state ([`Shared::changed`]) and is finished: its
//!   dependents start at once, they do not wait for a save. Its `Done`
//!   record is queued only after a save that holds its change.
//!
//! Why this keeps crash safety: at any crash point, every call that ran has
//! its intent in the journal, and an intent without `Done` is resolved by
//! the next plan's recovery (the create adopted by its claim or marker, the
//! delete re-read, the update refreshed), whether or not the state save
//! covering it happened, and whether or not its dependents ran too (each
//! has its own intent). A `Done` record is never durable before the state
//! that holds its change, so recovery never skips an operation the state
//! lacks. A failed save is fatal: no new operation starts, and the run ends
//! with the error.

use std::sync::Arc;

use super::Shared;
use crate::state::{JournalRecord, State};

/// The state saver's bookkeeping. Every change to the in-memory state an
/// operation makes is numbered (`applied`, bumped under the state's lock);
/// `saved` is the highest number a finished save covered.
#[derive(Default)]
pub(super) struct Commits {
    applied: u64,
    saved: u64,
    /// `Done` records waiting for a save of their change (by its number).
    done: Vec<(u64, JournalRecord)>,
    /// The executor is finishing: the saver saves what is left and stops.
    closing: bool,
    /// The save that failed, and why: the saver stopped.
    failed: Option<String>,
}

/// The journal queue's bookkeeping: records are numbered as they are
/// queued; `written` is the highest number on disk.
#[derive(Default)]
pub(super) struct JournalQueue {
    queued: Vec<JournalRecord>,
    next: u64,
    written: u64,
    /// An append runs: the others wait for it; one of them writes what
    /// piled up meanwhile.
    writing: bool,
    /// The last append that failed: the records it covered and why.
    failed: Option<(u64, String)>,
}

impl Shared {
    /// Numbers a change just made to `state` (call with its lock held) and
    /// wakes the saver; `done` is journaled once a save holds the change.
    pub(super) fn changed(&self, state: &mut State, done: JournalRecord) {
        state.serial += 1;
        let mut c = self.lock_commits();
        c.applied += 1;
        let n = c.applied;
        c.done.push((n, done));
        drop(c);
        self.changes.notify_one();
    }

    /// Journals `record` and waits until it is on disk, sharing the append
    /// with every record queued meanwhile (intents of operations that start
    /// together, `Done` records of earlier ones).
    pub(super) async fn journal_now(&self, record: JournalRecord) -> Result<(), String> {
        let mine = {
            let mut q = self.lock_journal();
            q.queued.push(record);
            q.next += 1;
            q.next
        };
        loop {
            let notified = self.journaled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let lead = {
                let mut q = self.lock_journal();
                if q.written >= mine {
                    return Ok(());
                }
                if let Some((upto, why)) = &q.failed {
                    if *upto >= mine {
                        return Err(why.clone());
                    }
                }
                let lead = !q.writing;
                q.writing = true;
                lead
            };
            if lead {
                // Let the operations about to journal their intent queue
                // it first: this append then takes them too.
                tokio::task::yield_now().await;
                self.write_journal();
                continue;
            }
            notified.await;
        }
    }

    /// Queues `record` without waiting (a `Done` record: losing it in a
    /// crash costs the next plan a recovery look-up, nothing else).
    pub(super) fn journal_later(&self, record: JournalRecord) {
        let mut q = self.lock_journal();
        q.queued.push(record);
        q.next += 1;
    }

    /// Writes what is queued, if anything and no append runs: at the end of
    /// a run that keeps its journal.
    pub(super) fn flush_journal(&self) {
        {
            let mut q = self.lock_journal();
            if q.writing || q.queued.is_empty() {
                return;
            }
            q.writing = true;
        }
        self.write_journal();
    }

    /// Appends every queued record in one batch (the caller set `writing`).
    fn write_journal(&self) {
        let (batch, upto) = {
            let mut q = self.lock_journal();
            (std::mem::take(&mut q.queued), q.next)
        };
        let result = if batch.is_empty() {
            Ok(())
        } else {
            self.store.journal_append_batch(&batch)
        };
        let mut q = self.lock_journal();
        q.writing = false;
        match result {
            Ok(()) => q.written = q.written.max(upto),
            Err(e) => {
                q.failed = Some((upto, format!("could not journal the intent: {e}")));
                drop(q);
                self.set_fatal(e);
            }
        }
        self.journaled.notify_waiters();
    }

    /// Tells the saver to save what is left and stop.
    pub(super) fn close_commits(&self) {
        self.lock_commits().closing = true;
        self.changes.notify_one();
    }

    fn lock_commits(&self) -> std::sync::MutexGuard<'_, Commits> {
        self.commits.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_journal(&self) -> std::sync::MutexGuard<'_, JournalQueue> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The state saver: saves the whole state whenever changes are waiting,
/// one save after the other, until [`Shared::close_commits`] and nothing is
/// left. A save copies the state under its lock and writes the copy
/// outside it, so operations keep recording results meanwhile.
pub(super) async fn saver(shared: Arc<Shared>) {
    loop {
        let notified = shared.changes.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (pending, closing) = {
            let c = shared.lock_commits();
            if c.failed.is_some() {
                return;
            }
            (c.applied > c.saved, c.closing)
        };
        if !pending {
            if closing {
                return;
            }
            notified.await;
            continue;
        }
        // Let the operations finishing now record their change first.
        tokio::task::yield_now().await;
        let (snapshot, upto) = {
            let state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            // Changes are numbered under the state's lock: this is what
            // the copy holds.
            let upto = shared.lock_commits().applied;
            (state.clone(), upto)
        };
        let result = shared.store.save(&snapshot);
        drop(snapshot);
        let mut c = shared.lock_commits();
        match result {
            Ok(()) => {
                c.saved = upto;
                let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut c.done)
                    .into_iter()
                    .partition(|(n, _)| *n <= upto);
                c.done = later;
                drop(c);
                for (_, record) in now {
                    shared.journal_later(record);
                }
                // Written now rather than with the next intents: after a
                // crash, recovery then looks only at what was really open.
                shared.flush_journal();
            }
            Err(e) => {
                c.failed = Some(e.to_string());
                drop(c);
                shared.set_fatal(e);
                return;
            }
        }
    }
}
