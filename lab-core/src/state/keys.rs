//! The age key of a state store, and the rules every store follows with it.
//!
//! Secrets are unreadable without the key that sealed them, and a new key
//! cannot read them. So the key file is created only on first use, and
//! only when no state records a key; a missing key file that a state
//! needs is an error asking to restore it from backup (never regenerated);
//! a key file whose public key differs from the recorded one is refused.
//! The file store and the PostgreSQL store keep their key the same way
//! (a local file: the database never sees it), through [`StoreKey`].

use std::path::{Path, PathBuf};

use super::crypt::missing_key_message;
use super::{KeyFile, Sealer, State, StateError};

/// One store's key: the sealer once loaded or created, and the key file
/// this store created that nobody was told about yet.
#[derive(Default)]
pub(crate) struct StoreKey {
    sealer: Option<Sealer>,
    created: Option<PathBuf>,
}

impl StoreKey {
    /// Loads (or, if `may_create`, creates) the key at `path` and checks
    /// it against `recorded`, the public key the state records. Never
    /// creates a key when `recorded` is set. `state` names the state in
    /// messages (`.lab/state.json`, `in postgres://...`).
    pub(crate) fn resolve(
        &mut self,
        path: &Path,
        state: &str,
        recorded: Option<&str>,
        may_create: bool,
    ) -> Result<Sealer, StateError> {
        let sealer = match &self.sealer {
            Some(s) => s.clone(),
            None if key_exists(path)? => KeyFile::load(path)?,
            None => {
                if let Some(r) = recorded {
                    return Err(StateError::Key {
                        message: format!(
                            "{} The state {state} records that its secrets are sealed to public \
                             key {r}.",
                            missing_key_message(path),
                        ),
                    });
                }
                if !may_create {
                    return Err(StateError::Key {
                        message: format!(
                            "{} The state {state} holds sealed secrets.",
                            missing_key_message(path),
                        ),
                    });
                }
                let s = KeyFile::create(path)?;
                self.created = Some(path.to_path_buf());
                s
            }
        };
        if let Some(r) = recorded {
            if sealer.recipient() != r {
                return Err(StateError::Key {
                    message: format!(
                        "the age key file {} has public key {}, but the state {state} was sealed \
                         with public key {r}. Restore the key file for {r} from backup (or point \
                         lab at it); the state was left untouched",
                        path.display(),
                        sealer.recipient(),
                    ),
                });
            }
        }
        self.sealer = Some(sealer.clone());
        Ok(sealer)
    }

    /// The key if there is one, never creating it: `None` when no key is
    /// loaded, none is recorded and the file does not exist.
    pub(crate) fn existing(
        &mut self,
        path: &Path,
        state: &str,
        recorded: Option<&str>,
    ) -> Result<Option<Sealer>, StateError> {
        if self.sealer.is_none() && recorded.is_none() && !key_exists(path)? {
            return Ok(None);
        }
        self.resolve(path, state, recorded, false).map(Some)
    }

    /// The public key of the key loaded so far, if any.
    pub(crate) fn loaded_recipient(&self) -> Option<String> {
        self.sealer.as_ref().map(Sealer::recipient)
    }

    /// `Some(path)` once after this store created a key file.
    pub(crate) fn take_created(&mut self) -> Option<PathBuf> {
        self.created.take()
    }
}

/// The sealer and the public key a save writes with. The key is fetched
/// (loaded, or created on first use) only when `state` holds a secret;
/// without one, the key already `loaded`, or else the one the stored state
/// `recorded`, stays recorded.
pub(crate) fn sealing_for_save(
    state: &State,
    sealer: impl FnOnce() -> Result<Sealer, StateError>,
    loaded: impl FnOnce() -> Option<String>,
    recorded: impl FnOnce() -> Result<Option<String>, StateError>,
) -> Result<(Option<Sealer>, Option<String>), StateError> {
    if state.has_secrets() {
        let s = sealer()?;
        let recipient = s.recipient();
        return Ok((Some(s), Some(recipient)));
    }
    let recipient = match loaded() {
        Some(r) => Some(r),
        None => recorded()?,
    };
    Ok((None, recipient))
}

fn key_exists(path: &Path) -> Result<bool, StateError> {
    path.try_exists().map_err(|source| StateError::Io {
        action: "checking for the age key file",
        path: path.to_path_buf(),
        source,
    })
}
