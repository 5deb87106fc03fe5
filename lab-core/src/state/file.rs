//! The default state store: a directory (usually `.lab/`) holding
//!
//! - `state.json`: the state, secrets sealed with age, plus the public key
//!   (`key_recipient`) they were sealed to;
//! - `state.json.prev`: the version before the last save;
//! - `journal.jsonl`: the write-ahead intent journal, one JSON record a line;
//! - `lock`: locked exclusively while a run may write, holding who holds it;
//! - `age.key`: the age key (its path can be moved with
//!   [`FileStateStore::with_key_file`]).
//!
//! # Why it is written this way
//!
//! **Atomic saves.** A crash or power cut in the middle of a save must leave
//! either the old or the new state on disk, never a torn file: the state is
//! the only record of what exists. [`StateStore::save`] therefore writes
//! `state.json.tmp`, fsyncs it, keeps the current `state.json` as
//! `state.json.prev` the same way (`state.json.prev.tmp` hard-linked to
//! the current file, or copied and fsynced where links are not possible,
//! then renamed over `.prev`), renames the temp file over `state.json`
//! (atomic on POSIX filesystems) and fsyncs the directory so the renames
//! are durable. `state.json` exists from the first save on; stale temp
//! files left by a crash are simply overwritten.
//!
//! **A state is read whole or not at all.** A state read as emptier than it
//! is (a missing or damaged `resources`) would make the next plan create
//! every object again, so a file that does not follow the schema is
//! [`StateError::Corrupt`] naming the field, a field this build does not
//! know is [`StateError::UnknownField`], and a missing `state.json` whose
//! `state.json.prev` is still there is [`StateError::Missing`], never "no
//! state yet". Failed loads touch nothing: the file is left byte-for-byte
//! as it was, to be inspected or restored from `state.json.prev`.
//!
//! **Private files.** `state.json`, `state.json.prev`, their temp files, the
//! journal and the lock are created with mode 0600 on unix (the directory,
//! if this store creates it, 0700); an existing file with a wider mode is
//! tightened when it is written. They hold ciphertext and the lab's layout.
//!
//! **Key rules.** Secrets are unreadable without the key that sealed them,
//! and a new key cannot read them. So the key is created only on first use
//! (the first save of a state with secrets, or the first [`StateStore::sealer`]
//! call) and only if no state file records a `key_recipient`. Once a state
//! records one, a missing key file is an error asking to restore it from
//! backup (never regenerated), and a key file whose public key differs from
//! the recorded one is an error naming both keys. A state with no secrets
//! and no recorded recipient needs no key at all.
//!
//! **Locking.** `lock` uses an OS file lock (`flock` on unix) on `lock`,
//! taken without waiting: a second run fails at once naming the holder. The
//! OS releases the lock when the holder's process dies, so a crash never
//! leaves a stale lock behind.
//!
//! **Journal.** Each record is appended as one line and fsynced before the
//! call it announces. A last line without its newline is a write torn by a
//! crash (its call never happened) and is ignored; anything else that does
//! not parse is corruption.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value as Json;

use crate::Secret;

use super::crypt::{format_utc, sync_dir, unix_now};
use super::sealing_for_save;
use super::{
    DocumentError, JournalRecord, SealCache, Sealer, State, StateError, StateLock, StateStore,
    StateVersion, StoreKey, STATE_VERSION,
};

const STATE_FILE: &str = "state.json";
const PREV_FILE: &str = "state.json.prev";
const TMP_FILE: &str = "state.json.tmp";
const PREV_TMP_FILE: &str = "state.json.prev.tmp";
const JOURNAL_FILE: &str = "journal.jsonl";
const LOCK_FILE: &str = "lock";
const KEY_FILE: &str = "age.key";
/// The top-level field recording the public key secrets were sealed to.
const RECIPIENT_FIELD: &str = "key_recipient";

/// A fault a test injects into a [`FileStateStore`] to simulate a crash or
/// a failing disk. Saves are counted from the injection, starting at 1; the
/// fault fires once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFault {
    /// The `on_save`-th save writes and fsyncs `state.json.tmp`, then
    /// returns [`StateError::Injected`] without renaming it: a crash between
    /// write and rename. `state.json` stays as it was.
    CrashBeforeRename {
        /// Which save (1-based) crashes.
        on_save: u64,
    },
    /// The `on_save`-th save fails before writing anything.
    FailSave {
        /// Which save (1-based) fails.
        on_save: u64,
    },
}

impl StoreFault {
    fn on_save(self) -> u64 {
        match self {
            StoreFault::CrashBeforeRename { on_save } | StoreFault::FailSave { on_save } => on_save,
        }
    }
}

#[derive(Default)]
struct Inner {
    /// The age key ([`StoreKey`]).
    key: StoreKey,
    /// The injected fault and how many saves happened since.
    fault: Option<(StoreFault, u64)>,
    /// Saves asked of this store (for [`FileStateStore::saves`]).
    saves: u64,
    /// The secrets sealed by the last save ([`SealCache`]).
    sealed: SealCache,
}

/// The default [`StateStore`]: `state.json` and friends in one directory,
/// saved atomically, secrets sealed with age. See the module docs for the
/// file layout and the rules it follows.
pub struct FileStateStore {
    dir: PathBuf,
    key_path: PathBuf,
    inner: Mutex<Inner>,
    /// Serialises journal appends.
    journal_writer: Mutex<()>,
}

impl std::fmt::Debug for FileStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStateStore")
            .field("dir", &self.dir)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// Held by a [`StateLock`]: the open, locked lock file.
struct FileLock {
    file: File,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Still holding the lock here, so nobody else is writing the file.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

impl FileStateStore {
    /// A store in `dir` (e.g. `.lab`), with its key at `dir/age.key`. Nothing
    /// is created until the first write or lock.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        FileStateStore {
            key_path: dir.join(KEY_FILE),
            dir,
            inner: Mutex::new(Inner::default()),
            journal_writer: Mutex::new(()),
        }
    }

    /// Keeps the age key at `path` instead of `dir/age.key` (e.g. outside a
    /// directory that is committed or synced).
    pub fn with_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key_path = path.into();
        self
    }

    /// How many saves this store was asked for (the apply's group commit
    /// makes one per batch of operations that finish together): for
    /// benches and tests.
    pub fn saves(&self) -> u64 {
        self.inner().saves
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state file, `dir/state.json`.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The age key file.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// `Some(path)` once after this store created a key file, so the caller
    /// can tell the user to back it up; `None` afterwards and if it did not.
    pub fn take_created_key(&self) -> Option<PathBuf> {
        self.inner().key.take_created()
    }

    /// Arms `fault` for a later save (see [`StoreFault`]); replaces any
    /// fault armed before. For crash tests.
    pub fn inject_fault(&self, fault: StoreFault) {
        self.inner().fault = Some((fault, 0));
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn prev_path(&self) -> PathBuf {
        self.dir.join(PREV_FILE)
    }

    fn tmp_path(&self) -> PathBuf {
        self.dir.join(TMP_FILE)
    }

    fn prev_tmp_path(&self) -> PathBuf {
        self.dir.join(PREV_TMP_FILE)
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Creates the directory (mode 0700 on unix: it holds the lab's layout
    /// and ciphertext) if it is not there; an existing one is left as it is.
    fn create_dir(&self) -> Result<(), StateError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(&self.dir).map_err(|source| StateError::Io {
            action: "creating the state directory",
            path: self.dir.clone(),
            source,
        })
    }

    /// The public key the state on disk records, from `state.json`, or from
    /// `state.json.prev` if `state.json` records none. A corrupt
    /// `state.json` is an error; an unreadable `.prev` (e.g. torn by a
    /// crash while it was copied) is skipped.
    fn recorded_recipient(&self) -> Result<Option<String>, StateError> {
        let path = self.state_path();
        if let Some(json) = read_json(&path)? {
            if let Some(r) = recipient_in(&json, &path)? {
                return Ok(Some(r));
            }
        }
        let prev = self.prev_path();
        Ok(read_json(&prev)
            .ok()
            .flatten()
            .and_then(|json| recipient_in(&json, &prev).ok().flatten()))
    }

    /// The state's name in key messages.
    fn key_context(&self) -> String {
        self.state_path().display().to_string()
    }

    /// Counts a save against the armed fault; returns it if it fires now.
    fn fault_for_this_save(&self) -> Option<(StoreFault, u64)> {
        let mut inner = self.inner();
        let (fault, seen) = inner.fault?;
        let seen = seen + 1;
        if seen >= fault.on_save() {
            inner.fault = None;
            Some((fault, seen))
        } else {
            inner.fault = Some((fault, seen));
            None
        }
    }

    /// Writes `state.json.tmp` with `write` (buffered) and fsyncs it.
    fn write_tmp(
        &self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), StateError> {
        let tmp = self.tmp_path();
        let io = |action| io_error(action, &tmp);
        // Truncates a stale temp file left by an earlier crash (and
        // tightens its mode: it becomes state.json).
        let file = create_private(&tmp).map_err(io("creating the temporary state file"))?;
        let mut out = io::BufWriter::with_capacity(1 << 16, file);
        write(&mut out)
            .and_then(|()| out.flush())
            .map_err(io("writing the temporary state file"))?;
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .map_err(io("writing the temporary state file"))?;
        file.sync_all()
            .map_err(io("syncing the temporary state file"))
    }

    /// Keeps the current `state.json` as `state.json.prev`, atomically like
    /// the state itself: `state.json.prev.tmp` made a second name of
    /// `state.json` (a hard link: the save then renames a new file over
    /// `state.json`, so the link keeps the old bytes, which were fsynced
    /// when they were written) and renamed over `.prev`; where the file
    /// system has no hard links, a copy, fsynced. A crash leaves the old
    /// `.prev` or the new one, never a torn one. (The caller syncs the
    /// directory after its own rename.)
    fn keep_prev(&self) -> Result<(), StateError> {
        let (state, tmp, prev) = (self.state_path(), self.prev_tmp_path(), self.prev_path());
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StateError::Io {
                    action: "removing a stale temporary copy",
                    path: tmp,
                    source,
                })
            }
        }
        match fs::hard_link(&state, &tmp) {
            Ok(()) => {
                // The link has the file's mode: a wider one (a copy, a
                // restore) is tightened, as a write would.
                File::open(&tmp)
                    .and_then(|f| tighten(&f))
                    .map_err(io_error("tightening the mode of", &tmp))?;
                return fs::rename(&tmp, &prev).map_err(|source| StateError::Io {
                    action: "renaming the previous version over",
                    path: prev,
                    source,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            // No hard links here: copy.
            Err(_) => {}
        }
        let mut current = match File::open(&state) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StateError::Io {
                    action: "opening the state to keep it as the previous version",
                    path: state,
                    source,
                })
            }
        };
        let io = |action| io_error(action, &tmp);
        let mut copy = create_private(&tmp).map_err(io("creating"))?;
        io::copy(&mut current, &mut copy).map_err(io("copying the state to"))?;
        copy.sync_all().map_err(io("syncing"))?;
        fs::rename(&tmp, &prev).map_err(|source| StateError::Io {
            action: "renaming the previous version over",
            path: prev,
            source,
        })
    }
}

impl FileStateStore {
    /// Reads a state file's JSON whole: version first, then the shape
    /// (decrypting nothing), then the key (`load` and `state.json.prev`).
    fn parse_file(&self, path: PathBuf, json: &Json) -> Result<State, StateError> {
        // Version first: a newer file may record its key differently.
        if let Some(found) = json.get("version").and_then(Json::as_u64) {
            if found != u64::from(STATE_VERSION) {
                return Err(StateError::UnknownVersion {
                    path,
                    found,
                    supported: STATE_VERSION,
                });
            }
        }
        // The whole shape before the key: a damaged file is reported as
        // damaged, whatever else is wrong, and decrypts nothing.
        State::from_json(json, &mut |_| Ok(Secret::new(String::new())))
            .map_err(|e| at_path(e, &path))?;
        let recorded = recipient_in(json, &path)?;
        let sealer = if recorded.is_some() || contains_sealed(json) {
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
        State::from_json(json, &mut unseal).map_err(|e| at_path(e, &path))
    }

    /// The state's versions on disk: `state.json`, then `state.json.prev`
    /// (skipped when it does not read: the current state is what counts).
    fn versions(&self) -> Result<Vec<(State, PathBuf)>, StateError> {
        let mut out = Vec::new();
        if let Some(current) = self.load()? {
            out.push((current, self.state_path()));
        }
        let prev = self.prev_path();
        if let Ok(Some(json)) = read_json(&prev) {
            if let Ok(state) = self.parse_file(prev.clone(), &json) {
                out.push((state, prev));
            }
        }
        Ok(out)
    }
}

/// Reads and parses a JSON file; `None` if it does not exist.
fn read_json(path: &Path) -> Result<Option<Json>, StateError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Io {
                action: "reading",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let corrupt = |reason: String| StateError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(corrupt("the file is empty".into()));
    }
    let json: Json = serde_json::from_slice(&bytes).map_err(|e| {
        corrupt(if e.is_eof() {
            format!(
                "the file ends in the middle of the JSON ({e}): it was cut short, e.g. by a \
                 full disk or a copy that did not finish"
            )
        } else {
            format!("not valid JSON ({e})")
        })
    })?;
    match &json {
        Json::Object(_) => Ok(Some(json)),
        Json::Array(_) => Err(corrupt(
            "the file holds a JSON array, not a state object".into(),
        )),
        _ => Err(corrupt(
            "the file holds a single JSON value, not a state object".into(),
        )),
    }
}

/// The `key_recipient` a state file records.
fn recipient_in(json: &Json, path: &Path) -> Result<Option<String>, StateError> {
    match json.get(RECIPIENT_FIELD) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(r)) => Ok(Some(r.clone())),
        Some(_) => Err(StateError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("`{RECIPIENT_FIELD}` is not a string"),
        }),
    }
}

/// True if any `{"$secret": ..}` object occurs in `json`.
fn contains_sealed(json: &Json) -> bool {
    match json {
        Json::Object(o) => o.contains_key("$secret") || o.values().any(contains_sealed),
        Json::Array(a) => a.iter().any(contains_sealed),
        _ => false,
    }
}

/// Maps an IO error of `action` on `path` to [`StateError::Io`].
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io {
        action,
        path,
        source,
    }
}

/// Fills in the path that [`State::from_json`] leaves empty.
fn at_path(e: StateError, path: &Path) -> StateError {
    match e {
        StateError::Corrupt { reason, .. } => StateError::Corrupt {
            path: path.to_path_buf(),
            reason,
        },
        StateError::UnknownField { field, .. } => StateError::UnknownField {
            path: path.to_path_buf(),
            field,
        },
        StateError::UnknownVersion {
            found, supported, ..
        } => StateError::UnknownVersion {
            path: path.to_path_buf(),
            found,
            supported,
        },
        other => other,
    }
}

/// Opens `path` for writing with `options`, creating it with mode 0600 on
/// unix; an existing file with a wider mode is tightened to 0600. The
/// state, its previous version, the journal, the lock and saved plans hold
/// ciphertext and the lab's layout: they are the owner's alone.
fn open_private(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    tighten(&file)?;
    Ok(file)
}

/// Sets mode 0600 on unix if group or others have any access.
fn tighten(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Creates or truncates `path` for writing, private (see [`open_private`]).
fn create_private(path: &Path) -> io::Result<File> {
    open_private(
        OpenOptions::new().write(true).create(true).truncate(true),
        path,
    )
}

/// Writes `bytes` to `path` (created or replaced, mode 0600 on unix, an
/// existing file tightened) and syncs it: a saved plan.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = create_private(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The host name from `/etc/hostname`, or `unknown`.
pub(super) fn hostname() -> String {
    fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// If the journal ends in a line without its newline (a write torn by a
/// crash), completes it if it parses and cuts it off otherwise, so the next
/// record starts on a line of its own.
fn repair_torn_tail(file: &mut File, path: &Path) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        action: "repairing the end of the journal",
        path: path.to_path_buf(),
        source,
    };
    // The usual case costs one byte: the journal ends with a newline.
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).map_err(io)?;
    file.read_exact(&mut last).map_err(io)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_to_end(&mut bytes).map_err(io)?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let start = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if serde_json::from_slice::<JournalRecord>(&bytes[start..]).is_ok() {
        file.write_all(b"\n").map_err(io)
    } else {
        file.set_len(start as u64).map_err(io)
    }
}

impl StateStore for FileStateStore {
    fn describe(&self) -> String {
        self.state_path().display().to_string()
    }

    fn lock(&self, operation: &str) -> Result<StateLock, StateError> {
        self.create_dir()?;
        let path = self.lock_path();
        let io = |action| io_error(action, &path);
        // No truncation on open: the file holds the current holder's details.
        let mut file = open_private(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
            &path,
        )
        .map_err(io("opening the lock file"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StateError::Locked {
                    holder: if holder.is_empty() {
                        "another run (it has not written its details yet)".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(fs::TryLockError::Error(source)) => return Err(io("locking")(source)),
        }
        let holder = format!(
            "pid {} on host {} ({operation}, since {})\n",
            std::process::id(),
            hostname(),
            format_utc(unix_now(), ' ', " UTC")
        );
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(holder.as_bytes()))
            .and_then(|()| file.sync_data())
            .map_err(io("writing the lock holder to"))?;
        Ok(StateLock::new(FileLock { file }))
    }

    fn load(&self) -> Result<Option<State>, StateError> {
        let path = self.state_path();
        let Some(json) = read_json(&path)? else {
            // No state.json: a state never made, or one lost. A previous
            // version beside it says lost; starting empty would create
            // every object again.
            let prev = self.prev_path();
            let prev_exists = prev.try_exists().map_err(|source| StateError::Io {
                action: "checking for the previous version of the state",
                path: prev.clone(),
                source,
            })?;
            if prev_exists {
                return Err(StateError::Missing { path, prev });
            }
            return Ok(None);
        };
        self.parse_file(path, &json).map(Some)
    }

    fn save(&self, state: &State) -> Result<(), StateError> {
        self.inner().saves += 1;
        let fault = self.fault_for_this_save();
        if let Some((StoreFault::FailSave { .. }, n)) = fault {
            return Err(StateError::Injected(format!(
                "save #{n} failed before writing anything"
            )));
        }
        self.create_dir()?;
        let (sealer, recipient) = sealing_for_save(
            state,
            || self.sealer(),
            || self.inner().key.loaded_recipient(),
            || self.recorded_recipient(),
        )?;
        let mut cache = std::mem::take(&mut self.inner().sealed);
        let mut failed: Option<StateError> = None;
        let written = self.write_tmp(|w| {
            match cache.write(state, sealer.as_ref(), recipient.as_deref(), true, &mut *w) {
                Ok(()) => w.write_all(b"\n"),
                Err(DocumentError::Write(e)) => Err(io::Error::other(e)),
                Err(DocumentError::Seal(e)) => {
                    failed = Some(e);
                    Ok(())
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        written?;
        self.inner().sealed = cache;
        if let Some((StoreFault::CrashBeforeRename { .. }, n)) = fault {
            return Err(StateError::Injected(format!(
                "save #{n} crashed after writing {} and before renaming it",
                self.tmp_path().display()
            )));
        }
        self.keep_prev()?;
        fs::rename(self.tmp_path(), self.state_path()).map_err(|source| StateError::Io {
            action: "renaming the temporary state file over",
            path: self.state_path(),
            source,
        })?;
        sync_dir(&self.dir)
    }

    fn journal_append(&self, record: &JournalRecord) -> Result<(), StateError> {
        self.journal_append_batch(std::slice::from_ref(record))
    }

    fn journal_append_batch(&self, records: &[JournalRecord]) -> Result<(), StateError> {
        self.create_dir()?;
        let path = self.journal_path();
        let io = |action| io_error(action, &path);
        let mut lines = String::new();
        for record in records {
            let line = serde_json::to_string(record).map_err(|e| StateError::Corrupt {
                path: path.clone(),
                reason: format!("could not serialise a journal record ({e}); nothing was written"),
            })?;
            lines.push_str(&line);
            lines.push('\n');
        }
        // One writer at a time: a torn-tail repair must never see another
        // append half written.
        let _one_writer = self
            .journal_writer
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let existed = path.try_exists().map_err(io("checking for the journal"))?;
        let mut file = open_private(
            OpenOptions::new().read(true).append(true).create(true),
            &path,
        )
        .map_err(io("opening the journal"))?;
        if existed {
            repair_torn_tail(&mut file, &path)?;
        }
        file.write_all(lines.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(io("appending to the journal"))?;
        if !existed {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn journal_read(&self) -> Result<Vec<JournalRecord>, StateError> {
        let path = self.journal_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError::Io {
                    action: "reading the journal",
                    path,
                    source,
                })
            }
        };
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let last = lines.len() - 1;
        let mut records = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<JournalRecord>(line) {
                Ok(r) => records.push(r),
                // The last line without its newline: a torn write; its call
                // never happened.
                Err(_) if i == last => {}
                Err(e) => {
                    return Err(StateError::Corrupt {
                        path,
                        reason: format!(
                        "journal line {} is not a record ({e}); it lists operations a crash may \
                             have interrupted, so check that line by hand, then fix or delete it",
                        i + 1
                    ),
                    })
                }
            }
        }
        Ok(records)
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        let path = self.journal_path();
        match OpenOptions::new().write(true).truncate(true).open(&path) {
            Ok(file) => tighten(&file)
                .and_then(|()| file.sync_all())
                .map_err(|source| StateError::Io {
                    action: "syncing the emptied journal",
                    path,
                    source,
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Io {
                action: "emptying the journal",
                path,
                source,
            }),
        }
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
        Ok(self
            .versions()?
            .into_iter()
            .enumerate()
            .map(|(i, (state, path))| {
                let saved_at = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| format_utc(d.as_secs(), ' ', " UTC"));
                let label = if i == 0 { "current" } else { PREV_FILE };
                StateVersion::of(&state, saved_at, label)
            })
            .collect())
    }

    fn load_version(&self, serial: u64) -> Result<Option<State>, StateError> {
        Ok(self
            .versions()?
            .into_iter()
            .map(|(state, _)| state)
            .find(|s| s.serial == serial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FileStateStore>();
    }

    #[test]
    fn contains_sealed_finds_nested() {
        assert!(contains_sealed(
            &serde_json::json!({"a": [{"b": {"$secret": "x"}}]})
        ));
        assert!(!contains_sealed(
            &serde_json::json!({"a": [{"b": "$secret"}]})
        ));
    }
}
