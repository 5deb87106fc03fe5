//! [`PostgresStateStore`]: the [`StateStore`] operations as SQL.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use serde_json::Value as Json;

use super::connect::{PgSettings, ENV_VAR};
use super::lock;
use super::worker::{backend, Worker};
use crate::state::{sealing_for_save, DocumentError, SealCache, StoreKey};
use crate::state::{JournalRecord, Sealer, State, StateError, StateLock, StateStore, StateVersion};
use crate::Secret;

/// What a journal write tells its caller: done, or the error's message
/// and help.
type Written = Result<(), (String, String)>;

/// A record waiting for the session's thread, and its caller's channel.
type Queued = (String, mpsc::SyncSender<Written>);

/// The records waiting for the session's thread.
type JournalQueue = Arc<Mutex<Vec<Queued>>>;

fn queue(q: &JournalQueue) -> MutexGuard<'_, Vec<Queued>> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many versions of a lab's state are kept by default.
pub const HISTORY_KEPT: usize = 50;

/// The top-level field recording the public key secrets were sealed to
/// (as in the file store's `state.json`).
const RECIPIENT_FIELD: &str = "key_recipient";

/// A fault a test injects into a [`PostgresStateStore`]: the `on_save`-th
/// save (counted from the injection, 1-based) writes the new version and
/// prunes the history, then its session is terminated before `COMMIT`, as
/// a process killed or a connection cut in the middle of a save. The fault
/// fires once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutBeforeCommit {
    /// Which save (1-based) is cut.
    pub on_save: u64,
}

#[derive(Default)]
struct Inner {
    /// The age key, a local file as for the file store.
    key: StoreKey,
    /// The secrets sealed by the last save.
    sealed: SealCache,
    fault: Option<(CutBeforeCommit, u64)>,
    saves: u64,
}

/// A [`StateStore`] in a PostgreSQL database: versions of the state of one
/// lab (the last [`HISTORY_KEPT`]), its journal and its lock. See the
/// [module docs](super) for the tables and the rules.
///
/// ```no_run
/// use lab_core::state::postgres::PostgresStateStore;
/// use lab_core::StateStore;
///
/// let store = PostgresStateStore::connect(
///     "postgres://lab:secret@db.home.arpa:5432/lab?sslmode=verify-full",
///     "home",
/// )?
/// .with_key_file(".lab/age.key");
/// assert_eq!(store.describe(), "postgres://lab@db.home.arpa:5432/lab?sslmode=verify-full (lab `home`)");
/// let _lock = store.lock("apply")?;
/// # Ok::<(), lab_core::state::StateError>(())
/// ```
pub struct PostgresStateStore {
    worker: Arc<Worker>,
    /// A second session for journal appends: an intent never waits
    /// behind a save of the whole state on the first one. While this store
    /// holds the lock, an append goes in only if the locking session still
    /// holds it (`lock_session`), so a run whose lock went never writes.
    journal_worker: Arc<Worker>,
    /// The backend pid of the session holding the lock, while it is held.
    lock_session: Arc<Mutex<Option<i32>>>,
    lab: String,
    location: String,
    key_path: PathBuf,
    keep: usize,
    inner: Mutex<Inner>,
    journal: JournalQueue,
}

impl std::fmt::Debug for PostgresStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStateStore")
            .field("location", &self.location)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl PostgresStateStore {
    /// A store for lab `lab` in the database `url` names (see
    /// [`super::connect`] for the form and `sslmode`). Nothing is
    /// connected until the first call; the age key is `.lab/age.key`
    /// unless moved with [`PostgresStateStore::with_key_file`].
    pub fn connect(url: &str, lab: &str) -> Result<PostgresStateStore, StateError> {
        let settings = PgSettings::parse(url).map_err(|message| {
            backend(
                &format!("${ENV_VAR}"),
                message,
                "fix the connection string; it is never printed (it may hold a password)",
            )
        })?;
        Self::with_settings(settings, lab)
    }

    /// [`PostgresStateStore::connect`] with the string in
    /// `LAB_STATE_POSTGRES`; `None` when it is unset or empty.
    pub fn from_env(lab: &str) -> Result<Option<PostgresStateStore>, StateError> {
        match std::env::var(ENV_VAR) {
            Ok(url) if !url.trim().is_empty() => Self::connect(url.trim(), lab).map(Some),
            _ => Ok(None),
        }
    }

    /// A store over already parsed settings.
    pub fn with_settings(
        settings: PgSettings,
        lab: &str,
    ) -> Result<PostgresStateStore, StateError> {
        let location = format!("{} (lab `{lab}`)", settings.describe());
        Ok(PostgresStateStore {
            journal_worker: Arc::new(Worker::start(settings.clone())?),
            lock_session: Arc::new(Mutex::new(None)),
            worker: Arc::new(Worker::start(settings)?),
            lab: lab.to_string(),
            location,
            key_path: PathBuf::from(".lab").join("age.key"),
            keep: HISTORY_KEPT,
            inner: Mutex::new(Inner::default()),
            journal: JournalQueue::default(),
        })
    }

    /// Keeps the age key at `path` (default `.lab/age.key`): a local file,
    /// never in the database.
    pub fn with_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key_path = path.into();
        self
    }

    /// Keeps the last `n` versions (at least 1; default [`HISTORY_KEPT`]).
    pub fn with_history(mut self, n: usize) -> Self {
        self.keep = n.max(1);
        self
    }

    /// The lab whose state this is.
    pub fn lab(&self) -> &str {
        &self.lab
    }

    /// The age key file.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// How many saves this store was asked for.
    pub fn saves(&self) -> u64 {
        self.inner().saves
    }

    /// `Some(path)` once after this store created a key file.
    pub fn take_created_key(&self) -> Option<PathBuf> {
        self.inner().key.take_created()
    }

    /// Arms a cut for a later save (see [`CutBeforeCommit`]). For crash tests.
    pub fn inject_fault(&self, fault: CutBeforeCommit) {
        self.inner().fault = Some((fault, 0));
    }

    /// The server's process id of this store's session (connecting if
    /// needed): what `pg_terminate_backend` takes, and what
    /// `lab_lock_holder` records.
    pub fn backend_pid(&self) -> Result<i32, StateError> {
        self.worker.call(|link| {
            link.run("asking for the session's pid", async |c| {
                Ok(c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0))
            })
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn corrupt(&self, serial: Option<i64>, reason: String) -> StateError {
        StateError::Corrupt {
            path: self.version_path(serial),
            reason,
        }
    }

    /// A version's name in messages (the errors' `path`).
    fn version_path(&self, serial: Option<i64>) -> PathBuf {
        PathBuf::from(match serial {
            Some(s) => format!("{}, serial {s}", self.location),
            None => self.location.clone(),
        })
    }

    /// The newest document (or the one with `serial`), as text.
    fn fetch(&self, serial: Option<u64>) -> Result<Option<(i64, String)>, StateError> {
        let lab = self.lab.clone();
        self.worker.call(move |link| {
            link.run("reading the state", async |c| {
                let row = match serial {
                    None => {
                        c.query_opt(
                            "SELECT serial, document::text FROM lab_state_versions \
                             WHERE lab = $1 ORDER BY serial DESC LIMIT 1",
                            &[&lab],
                        )
                        .await?
                    }
                    Some(s) => {
                        c.query_opt(
                            "SELECT serial, document::text FROM lab_state_versions \
                             WHERE lab = $1 AND serial = $2",
                            &[&lab, &(s as i64)],
                        )
                        .await?
                    }
                };
                Ok(row.map(|r| (r.get(0), r.get(1))))
            })
        })
    }

    /// Reads a document as the file store reads `state.json`: version
    /// first, then the whole shape (decrypting nothing), then the key.
    fn parse(&self, serial: i64, text: &str) -> Result<State, StateError> {
        let json: Json = serde_json::from_str(text)
            .map_err(|e| self.corrupt(Some(serial), format!("not valid JSON ({e})")))?;
        let path = self.version_path(Some(serial));
        let at = |e: StateError| match e {
            StateError::Corrupt { reason, .. } => StateError::Corrupt {
                path: path.clone(),
                reason,
            },
            StateError::UnknownField { field, .. } => StateError::UnknownField {
                path: path.clone(),
                field,
            },
            StateError::UnknownVersion {
                found, supported, ..
            } => StateError::UnknownVersion {
                path: path.clone(),
                found,
                supported,
            },
            other => other,
        };
        State::from_json(&json, &mut |_| Ok(Secret::new(String::new()))).map_err(at)?;
        let recorded = match json.get(RECIPIENT_FIELD) {
            None | Some(Json::Null) => None,
            Some(Json::String(r)) => Some(r.clone()),
            Some(_) => {
                return Err(
                    self.corrupt(Some(serial), format!("`{RECIPIENT_FIELD}` is not a string"))
                )
            }
        };
        let sealer = if recorded.is_some() || contains_sealed(&json) {
            let context = self.key_context();
            Some(
                self.inner()
                    .key
                    .resolve(&self.key_path, &context, recorded.as_deref(), false)?,
            )
        } else {
            None
        };
        let mut unseal = |inner: &Json| match &sealer {
            Some(s) => s.unseal(inner),
            None => Err("a sealed secret, but no key is known".to_string()),
        };
        State::from_json(&json, &mut unseal).map_err(at)
    }

    fn recorded_recipient(&self) -> Result<Option<String>, StateError> {
        let lab = self.lab.clone();
        self.worker.call(move |link| {
            link.run("reading the state's key recipient", async |c| {
                let row = c
                    .query_opt(
                        "SELECT document->>'key_recipient' FROM lab_state_versions \
                         WHERE lab = $1 ORDER BY serial DESC LIMIT 1",
                        &[&lab],
                    )
                    .await?;
                Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
            })
        })
    }

    /// The state's name in key messages.
    fn key_context(&self) -> String {
        format!("in {}", self.location)
    }

    /// The state as the document to store: secrets sealed (reusing the
    /// last save's ciphertext of an unchanged secret), the key recorded.
    fn document(&self, state: &State) -> Result<String, StateError> {
        let (sealer, recipient) = sealing_for_save(
            state,
            || self.sealer(),
            || self.inner().key.loaded_recipient(),
            || self.recorded_recipient(),
        )?;
        let mut cache = std::mem::take(&mut self.inner().sealed);
        let mut text = Vec::new();
        match cache.write(
            state,
            sealer.as_ref(),
            recipient.as_deref(),
            false,
            &mut text,
        ) {
            Ok(()) => {}
            Err(DocumentError::Seal(e)) => return Err(e),
            Err(DocumentError::Write(e)) => {
                return Err(self.corrupt(
                    None,
                    format!("could not serialise the state ({e}); nothing was written"),
                ))
            }
        }
        self.inner().sealed = cache;
        String::from_utf8(text).map_err(|e| {
            self.corrupt(
                None,
                format!("the state's JSON is not UTF-8 ({e}); nothing was written"),
            )
        })
    }
}

/// Clears the locking session's pid when the lock is given back.
struct ForgetSession(Arc<Mutex<Option<i32>>>);

impl Drop for ForgetSession {
    fn drop(&mut self) {
        *session(&self.0) = None;
    }
}

fn session(m: &Mutex<Option<i32>>) -> MutexGuard<'_, Option<i32>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// True if any `{"$secret": ..}` object occurs in `json`.
fn contains_sealed(json: &Json) -> bool {
    match json {
        Json::Object(o) => o.contains_key("$secret") || o.values().any(contains_sealed),
        Json::Array(a) => a.iter().any(contains_sealed),
        _ => false,
    }
}

impl StateStore for PostgresStateStore {
    fn describe(&self) -> String {
        self.location.clone()
    }

    fn lock(&self, operation: &str) -> Result<StateLock, StateError> {
        let lock = lock::take(&self.worker, &self.lab, operation)?;
        let pid = self.backend_pid()?;
        *session(&self.lock_session) = Some(pid);
        // Dropped in order: the journal's guard first, then the lock.
        Ok(StateLock::new((
            ForgetSession(self.lock_session.clone()),
            lock,
        )))
    }

    fn load(&self) -> Result<Option<State>, StateError> {
        match self.fetch(None)? {
            None => Ok(None),
            Some((serial, text)) => self.parse(serial, &text).map(Some),
        }
    }

    fn save(&self, state: &State) -> Result<(), StateError> {
        let cut = {
            let mut inner = self.inner();
            inner.saves += 1;
            match inner.fault {
                Some((fault, seen)) if seen + 1 >= fault.on_save => {
                    inner.fault = None;
                    Some(seen + 1)
                }
                Some((fault, seen)) => {
                    inner.fault = Some((fault, seen + 1));
                    None
                }
                None => None,
            }
        };
        if state.lab != self.lab {
            return Err(backend(
                &self.location,
                format!(
                    "refusing to save a state of lab `{}` as the state of lab `{}`",
                    state.lab, self.lab
                ),
                "report this as a bug in lab",
            ));
        }
        let document = self.document(state)?;
        let (lab, lineage) = (self.lab.clone(), state.lineage.clone());
        let serial = state.serial as i64;
        let resources = state.resources.len() as i32;
        let keep = self.keep as i64;
        let location = self.location.clone();
        let outcome = self.worker.call(move |link| {
            link.transaction("saving the state", async |c| {
                let newest = c
                    .query_opt(
                        "SELECT lineage FROM lab_state_versions WHERE lab = $1 \
                         ORDER BY serial DESC LIMIT 1 FOR UPDATE",
                        &[&lab],
                    )
                    .await?;
                if let Some(row) = newest {
                    let there: String = row.get(0);
                    if there != lineage {
                        return Ok(Some(there));
                    }
                }
                c.execute(
                    "INSERT INTO lab_state_versions (lab, serial, lineage, document, resources) \
                     VALUES ($1, $2, $3, ($4::text)::json, $5) \
                     ON CONFLICT (lab, serial) DO UPDATE SET lineage = $3, \
                     document = ($4::text)::json, resources = $5, saved_at = now()",
                    &[&lab, &serial, &lineage, &document, &resources],
                )
                .await?;
                c.execute(
                    "DELETE FROM lab_state_versions WHERE lab = $1 AND serial NOT IN \
                     (SELECT serial FROM lab_state_versions WHERE lab = $1 \
                     ORDER BY serial DESC LIMIT $2)",
                    &[&lab, &keep],
                )
                .await?;
                if cut.is_some() {
                    // The injected cut: the session ends before COMMIT.
                    c.execute("SELECT pg_terminate_backend(pg_backend_pid())", &[])
                        .await?;
                }
                Ok(None)
            })
        });
        if let Some(n) = cut {
            return Err(StateError::Injected(format!(
                "save #{n} was cut before its COMMIT ({})",
                match outcome {
                    Ok(_) => "the session survived: the cut did not happen".to_string(),
                    Err(e) => e.to_string(),
                }
            )));
        }
        match outcome? {
            None => Ok(()),
            Some(there) => Err(backend(
                &location,
                format!(
                    "the database holds a state of this lab with lineage {there}, and this \
                     state has lineage {}: refusing to overwrite another state",
                    state.lineage
                ),
                "nothing was written. If this lab really is that one, `state history` shows \
                 its versions; otherwise give this lab its own database or lab name",
            )),
        }
    }

    /// One insert per batch: every record queued while the session's
    /// thread was busy goes in with the next insert (one commit), and each
    /// caller returns once its record is committed. Concurrent operations
    /// share a round trip, and each intent is still durable before its call.
    fn journal_append(&self, record: &JournalRecord) -> Result<(), StateError> {
        self.journal_append_batch(std::slice::from_ref(record))
    }

    fn journal_append_batch(&self, records: &[JournalRecord]) -> Result<(), StateError> {
        let mut texts = Vec::with_capacity(records.len());
        for record in records {
            texts.push(serde_json::to_string(record).map_err(|e| {
                self.corrupt(
                    None,
                    format!("could not serialise a journal record ({e}); nothing was written"),
                )
            })?);
        }
        let Some(last) = texts.pop() else {
            return Ok(());
        };
        // The batch's records go in together, in order; the last one's
        // answer covers them all (one insert writes a queue whole).
        let (tx, rx) = mpsc::sync_channel(1);
        {
            let mut q = queue(&self.journal);
            for text in texts {
                let (ignored, _) = mpsc::sync_channel(1);
                q.push((text, ignored));
            }
            q.push((last, tx));
        }
        let (lab, pending) = (self.lab.clone(), self.journal.clone());
        let locked_by = *session(&self.lock_session);
        self.journal_worker.call(move |link| {
            let batch = std::mem::take(&mut *queue(&pending));
            if batch.is_empty() {
                return Ok(()); // an earlier job wrote this caller's record
            }
            let (texts, waiters): (Vec<String>, Vec<_>) = batch.into_iter().unzip();
            let expected = texts.len() as u64;
            let written = link
                .run("appending to the journal", async |c| {
                    c.execute(
                        "INSERT INTO lab_journal (lab, record) SELECT $1, r::json \
                         FROM unnest($2::text[]) WITH ORDINALITY AS t(r, n) \
                         WHERE $3::int4 IS NULL OR EXISTS (SELECT 1 FROM pg_locks \
                         WHERE locktype = 'advisory' AND granted AND pid = $3) ORDER BY n",
                        &[&lab, &texts, &locked_by],
                    )
                    .await
                })
                .map_err(|e| match e {
                    StateError::Backend { message, help, .. } => (message, help),
                    other => (other.to_string(), String::new()),
                })
                .and_then(|n| {
                    if n == expected {
                        Ok(())
                    } else {
                        Err((
                            "the session holding the state lock ended, so the journal was not \
                             written: this run no longer holds the lock"
                                .to_string(),
                            "run the command again: the next run resolves what this one left"
                                .to_string(),
                        ))
                    }
                });
            for waiter in waiters {
                let _ = waiter.send(written.clone());
            }
            Ok(())
        })?;
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err((message, help))) => Err(backend(&self.location, message, &help)),
            Err(_) => Err(backend(
                &self.location,
                "the journal record was not written: the session's thread dropped it".into(),
                "report this as a bug in lab",
            )),
        }
    }

    fn journal_read(&self) -> Result<Vec<JournalRecord>, StateError> {
        let lab = self.lab.clone();
        let rows: Vec<(i64, String)> = self.worker.call(move |link| {
            link.run("reading the journal", async |c| {
                let rows = c
                    .query(
                        "SELECT seq, record::text FROM lab_journal WHERE lab = $1 ORDER BY seq",
                        &[&lab],
                    )
                    .await?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            })
        })?;
        rows.into_iter()
            .map(|(seq, text)| {
                serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                    path: PathBuf::from(format!("{}, journal", self.location)),
                    reason: format!(
                        "journal record {seq} is not a record ({e}); it lists operations a crash \
                         may have interrupted, so check it by hand (table lab_journal), then fix \
                         or delete it"
                    ),
                })
            })
            .collect()
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        let lab = self.lab.clone();
        self.worker.call(move |link| {
            link.run("emptying the journal", async |c| {
                c.execute("DELETE FROM lab_journal WHERE lab = $1", &[&lab])
                    .await
            })
        })?;
        Ok(())
    }

    fn sealer(&self) -> Result<Sealer, StateError> {
        let recorded = self.recorded_recipient()?;
        let may_create = recorded.is_none();
        let context = self.key_context();
        self.inner()
            .key
            .resolve(&self.key_path, &context, recorded.as_deref(), may_create)
    }

    fn existing_sealer(&self) -> Result<Option<Sealer>, StateError> {
        let recorded = self.recorded_recipient()?;
        let context = self.key_context();
        self.inner()
            .key
            .existing(&self.key_path, &context, recorded.as_deref())
    }

    fn history(&self) -> Result<Vec<StateVersion>, StateError> {
        let lab = self.lab.clone();
        let rows: Vec<(i64, String, String, i32)> = self.worker.call(move |link| {
            link.run("reading the state's history", async |c| {
                let rows = c
                    .query(
                        "SELECT serial, lineage, \
                         to_char(saved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), resources \
                         FROM lab_state_versions WHERE lab = $1 ORDER BY serial DESC",
                        &[&lab],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                    .collect())
            })
        })?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, (serial, lineage, saved_at, resources))| StateVersion {
                serial: serial as u64,
                lineage,
                saved_at: Some(format!("{saved_at} UTC")),
                resources: resources.max(0) as usize,
                label: if i == 0 {
                    "current".into()
                } else {
                    String::new()
                },
            })
            .collect())
    }

    fn load_version(&self, serial: u64) -> Result<Option<State>, StateError> {
        match self.fetch(Some(serial))? {
            None => Ok(None),
            Some((serial, text)) => self.parse(serial, &text).map(Some),
        }
    }
}
