//! An in-memory [`StateStore`] for tests and embedding.

use std::sync::{Arc, Mutex};

use super::{JournalRecord, Sealer, State, StateError, StateLock, StateStore};

#[derive(Default)]
struct Inner {
    state: Option<State>,
    journal: Vec<JournalRecord>,
    locked_by: Option<String>,
    saves: u64,
    /// The key, made on first use and kept: a plan sealed with it must
    /// verify later.
    sealer: Option<Sealer>,
}

/// Keeps the state in memory. Cloning shares it. Secrets are kept as
/// plaintext values in memory (never written anywhere); the key for saved
/// plans is made on first use and kept for the store's life.
#[derive(Clone, Default)]
pub struct MemoryStateStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the state was saved.
    pub fn saves(&self) -> u64 {
        self.lock_inner().saves
    }

    fn lock_inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct MemoryLock(Arc<Mutex<Inner>>);

impl Drop for MemoryLock {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).locked_by = None;
    }
}

impl StateStore for MemoryStateStore {
    fn describe(&self) -> String {
        "in-memory state".into()
    }

    fn lock(&self, operation: &str) -> Result<StateLock, StateError> {
        let mut inner = self.lock_inner();
        if let Some(holder) = &inner.locked_by {
            return Err(StateError::Locked {
                holder: holder.clone(),
            });
        }
        inner.locked_by = Some(format!("{operation} in this process"));
        Ok(StateLock::new(MemoryLock(self.inner.clone())))
    }

    fn load(&self) -> Result<Option<State>, StateError> {
        Ok(self.lock_inner().state.clone())
    }

    fn save(&self, state: &State) -> Result<(), StateError> {
        let mut inner = self.lock_inner();
        inner.state = Some(state.clone());
        inner.saves += 1;
        Ok(())
    }

    fn journal_append(&self, record: &JournalRecord) -> Result<(), StateError> {
        self.lock_inner().journal.push(record.clone());
        Ok(())
    }

    fn journal_read(&self) -> Result<Vec<JournalRecord>, StateError> {
        Ok(self.lock_inner().journal.clone())
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        self.lock_inner().journal.clear();
        Ok(())
    }

    fn sealer(&self) -> Result<Sealer, StateError> {
        Ok(self
            .lock_inner()
            .sealer
            .get_or_insert_with(Sealer::generate)
            .clone())
    }

    fn existing_sealer(&self) -> Result<Option<Sealer>, StateError> {
        Ok(self.lock_inner().sealer.clone())
    }
}
