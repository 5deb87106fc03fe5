//! Integration tests of the default state store: atomic saves, sealed
//! secrets, the key rules, locking, the journal and crash injection.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lab_core::provider::OpKind;
use lab_core::state::{
    FileStateStore, JournalRecord, KeyFile, ResourceState, State, StateError, StateStore,
    StoreFault,
};
use lab_core::{Address, Attrs, Secret, Value};

const PLAINTEXT: &str = "pl41ntext-t0ken-that-must-never-hit-disk";

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

fn resource(id: &str, attrs: Attrs, outputs: Attrs) -> ResourceState {
    ResourceState {
        id: id.into(),
        attrs,
        outputs,
        deps: vec![],
        create_before_destroy: false,
        provider: "memory".into(),
    }
}

/// A state with secrets in attrs, nested in a list and a map, and in outputs.
fn state_with_secrets(serial: u64) -> State {
    let mut state = State::new("homelab");
    state.serial = serial;
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), Value::Str("db".into()));
    attrs.insert("size_gb".into(), Value::Int(20));
    attrs.insert("password".into(), Value::Secret(Secret::new(PLAINTEXT)));
    let mut nested = indexmap::IndexMap::new();
    nested.insert(
        "inner".to_string(),
        Value::Secret(Secret::new(format!("{PLAINTEXT}-map"))),
    );
    attrs.insert(
        "more".into(),
        Value::List(vec![
            Value::Map(nested),
            Value::Secret(Secret::new(format!("{PLAINTEXT}-list"))),
        ]),
    );
    let mut outputs = Attrs::new();
    outputs.insert(
        "token".into(),
        Value::Secret(Secret::new(format!("{PLAINTEXT}-out"))),
    );
    outputs.insert("vmid".into(), Value::Int(101));
    state.resources.insert(
        Address::new("proxmox.vm", "db"),
        resource("101", attrs, outputs),
    );
    let mut app = resource("app-1", Attrs::new(), Attrs::new());
    app.deps.push(Address::new("proxmox.vm", "db"));
    app.create_before_destroy = true;
    state
        .resources
        .insert(Address::new("proxmox.vm", "app"), app);
    state.timings.insert("proxmox.vm/create".into(), 1200);
    state
}

fn state_without_secrets(serial: u64) -> State {
    let mut state = State::new("homelab");
    state.serial = serial;
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), Value::Str("plain".into()));
    state.resources.insert(
        Address::new("net.dns.record", "photos"),
        resource("rec-1", attrs, Attrs::new()),
    );
    state
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn state_json(store: &FileStateStore) -> serde_json::Value {
    serde_json::from_slice(&read(&store.state_path())).expect("state.json is JSON")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn intent(op: u64) -> JournalRecord {
    JournalRecord::Intent {
        run: "lineage-7".into(),
        op,
        address: Address::new("proxmox.vm", "db"),
        action: OpKind::Create,
        at_ms: 1_790_000_000_000 + op,
        provider: "proxmox".into(),
    }
}

fn done(op: u64) -> JournalRecord {
    JournalRecord::Done {
        run: "lineage-7".into(),
        op,
        ok: true,
    }
}

#[test]
fn new_creates_nothing_and_load_of_nothing_is_none() {
    let tmp = tempdir();
    let dir = tmp.path().join(".lab");
    let store = FileStateStore::new(&dir);
    assert_eq!(store.dir(), dir);
    assert_eq!(store.state_path(), dir.join("state.json"));
    assert_eq!(store.key_path(), dir.join("age.key"));
    assert!(store.describe().contains("state.json"));
    assert!(store.load().expect("load").is_none());
    assert!(store.journal_read().expect("journal").is_empty());
    store.journal_clear().expect("clear nothing");
    assert!(!dir.exists(), "nothing is created before the first write");
}

#[test]
fn round_trip_with_secrets() {
    let tmp = tempdir();
    let dir = tmp.path().join(".lab");
    let state = state_with_secrets(1);
    let store = FileStateStore::new(&dir);
    store.save(&state).expect("save");
    assert_eq!(store.load().expect("load"), Some(state.clone()));
    // A new store (a later run) reads it with the key file.
    let later = FileStateStore::new(&dir);
    assert_eq!(later.load().expect("load in a later run"), Some(state));
    assert!(later.take_created_key().is_none());
}

#[test]
fn file_is_pretty_json_with_recipient_and_sealed_secrets() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    store.save(&state_with_secrets(1)).expect("save");
    let text = String::from_utf8(read(&store.state_path())).expect("utf-8");
    assert!(text.ends_with("}\n"), "trailing newline");
    assert!(text.contains("\n  \"version\": 1"), "pretty printed");
    let json = state_json(&store);
    let recipient = KeyFile::load(store.key_path()).expect("key").recipient();
    assert_eq!(json["key_recipient"], serde_json::json!(recipient));
    assert!(recipient.starts_with("age1"));
    let sealed = &json["resources"]["proxmox.vm.db"]["attrs"]["password"]["$secret"];
    assert!(sealed
        .as_str()
        .is_some_and(|s| s.starts_with("lab-sealed-v1:")));
}

#[test]
fn plaintext_never_on_disk() {
    let tmp = tempdir();
    let dir = tmp.path().join(".lab");
    let store = FileStateStore::new(&dir);
    let _lock = store.lock("apply").expect("lock");
    store.journal_append(&intent(1)).expect("journal");
    store.save(&state_with_secrets(1)).expect("save");
    store.save(&state_with_secrets(2)).expect("save again");
    store.inject_fault(StoreFault::CrashBeforeRename { on_save: 1 });
    assert!(store.save(&state_with_secrets(3)).is_err());
    let files = files_under(&dir);
    for name in [
        "state.json",
        "state.json.prev",
        "state.json.tmp",
        "journal.jsonl",
        "lock",
        "age.key",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "{name} was written"
        );
    }
    for file in files {
        let bytes = read(&file);
        assert!(
            !bytes
                .windows(PLAINTEXT.len())
                .any(|w| w == PLAINTEXT.as_bytes()),
            "plaintext found in {}",
            file.display()
        );
    }
}

#[test]
fn previous_version_kept_after_second_save() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    store.save(&state_with_secrets(1)).expect("first save");
    assert!(
        !tmp.path().join("state.json.prev").exists(),
        "no previous version yet"
    );
    let first = read(&store.state_path());
    store.save(&state_with_secrets(2)).expect("second save");
    assert_eq!(read(&tmp.path().join("state.json.prev")), first);
    assert_eq!(store.load().expect("load").expect("some").serial, 2);
    assert!(!tmp.path().join("state.json.tmp").exists());
}

#[test]
fn corrupt_file_is_reported_and_left_untouched() {
    for bad in [
        &b"{ \"version\": 1, \"lab\": "[..],
        &b"[1, 2, 3]\n"[..],
        &b"{\"version\": 1, \"lab\": \"x\", \"serial\": 3}\n"[..],
        &b"{\"lab\": \"x\"}\n"[..],
        &b"\xff\xfe not utf-8"[..],
    ] {
        let tmp = tempdir();
        let store = FileStateStore::new(tmp.path());
        write(&store.state_path(), bad);
        match store.load() {
            Err(StateError::Corrupt { path, reason }) => {
                assert_eq!(path, store.state_path(), "the error names the file");
                assert!(!reason.is_empty());
            }
            other => panic!("expected Corrupt for {bad:?}, got {other:?}"),
        }
        assert_eq!(read(&store.state_path()), bad, "bytes unchanged");
        assert!(
            !store.key_path().exists(),
            "no key created by a failed load"
        );
        assert_eq!(files_under(tmp.path()).len(), 1, "nothing else written");
    }
}

#[test]
fn unknown_version_is_reported_and_left_untouched() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    let bytes = b"{\n  \"version\": 99,\n  \"key_recipient\": 5,\n  \"future\": true\n}\n";
    write(&store.state_path(), bytes);
    match store.load() {
        Err(StateError::UnknownVersion {
            path,
            found,
            supported,
        }) => {
            assert_eq!(path, store.state_path());
            assert_eq!(found, 99);
            assert_eq!(supported, lab_core::state::STATE_VERSION);
        }
        other => panic!("expected UnknownVersion, got {other:?}"),
    }
    assert_eq!(read(&store.state_path()), bytes);
    assert_eq!(files_under(tmp.path()).len(), 1);
}

#[test]
fn missing_key_with_recorded_recipient_is_an_error_and_never_regenerated() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    store.save(&state_with_secrets(1)).expect("save");
    let key = store.key_path().to_path_buf();
    std::fs::remove_file(&key).expect("remove key");
    let before = read(&store.state_path());

    let later = FileStateStore::new(tmp.path());
    let message = match later.load() {
        Err(StateError::Key { message }) => message,
        other => panic!("expected a Key error, got {other:?}"),
    };
    assert!(
        message.contains(&key.display().to_string()),
        "names the file: {message}"
    );
    assert!(message.contains("never regenerated"), "{message}");
    assert!(message.contains("backup"), "{message}");
    assert!(!key.exists(), "load must not create a key");

    assert!(matches!(later.sealer(), Err(StateError::Key { .. })));
    assert!(matches!(
        later.save(&state_with_secrets(2)),
        Err(StateError::Key { .. })
    ));
    assert!(
        !key.exists(),
        "sealer and save must not create a key either"
    );
    assert!(later.take_created_key().is_none());
    assert_eq!(read(&store.state_path()), before, "state untouched");
}

#[test]
fn missing_key_is_an_error_even_if_only_the_previous_version_records_it() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    store.save(&state_with_secrets(1)).expect("save");
    std::fs::copy(store.state_path(), tmp.path().join("state.json.prev")).expect("copy");
    std::fs::remove_file(store.state_path()).expect("remove state");
    std::fs::remove_file(store.key_path()).expect("remove key");
    let later = FileStateStore::new(tmp.path());
    assert!(matches!(later.sealer(), Err(StateError::Key { .. })));
    assert!(!later.key_path().exists());
}

#[test]
fn wrong_key_is_an_error_naming_both_public_keys() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    store.save(&state_with_secrets(1)).expect("save");
    let recorded = KeyFile::load(store.key_path()).expect("key").recipient();
    std::fs::remove_file(store.key_path()).expect("remove key");
    let other = KeyFile::create(store.key_path())
        .expect("another key")
        .recipient();
    let before = read(&store.state_path());

    let later = FileStateStore::new(tmp.path());
    for result in [
        later.load().map(|_| ()),
        later.sealer().map(|_| ()),
        later.save(&state_with_secrets(2)),
    ] {
        match result {
            Err(StateError::Key { message }) => {
                assert!(
                    message.contains(&recorded),
                    "names the recorded key: {message}"
                );
                assert!(
                    message.contains(&other),
                    "names the key file's key: {message}"
                );
            }
            other => panic!("expected a Key error, got {other:?}"),
        }
    }
    assert_eq!(read(&store.state_path()), before);
    assert_eq!(
        KeyFile::load(store.key_path()).expect("key").recipient(),
        other,
        "key file untouched"
    );
}

#[test]
fn key_created_on_first_use_and_reported_once() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    store
        .save(&state_without_secrets(1))
        .expect("save without secrets");
    assert!(!store.key_path().exists(), "no secrets, no key");
    assert!(store.take_created_key().is_none());
    assert!(state_json(&store).get("key_recipient").is_none());

    store
        .save(&state_with_secrets(2))
        .expect("save with secrets");
    assert!(store.key_path().exists());
    assert_eq!(
        store.take_created_key(),
        Some(store.key_path().to_path_buf())
    );
    assert_eq!(store.take_created_key(), None, "reported once");

    let text = std::fs::read_to_string(store.key_path()).expect("key text");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("# created: "), "{text}");
    assert!(lines[1].starts_with("# public key: age1"));
    assert!(lines[2].starts_with("AGE-SECRET-KEY-1"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(store.key_path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    store.save(&state_with_secrets(3)).expect("save again");
    assert!(store.take_created_key().is_none(), "the same key is reused");
}

#[test]
fn sealer_creates_the_key_on_first_use_and_matches_the_state() {
    let tmp = tempdir();
    let key = tmp.path().join("keys/lab.key");
    let store = FileStateStore::new(tmp.path().join(".lab")).with_key_file(&key);
    assert_eq!(store.key_path(), key);
    let sealer = store.sealer().expect("sealer");
    assert_eq!(store.take_created_key(), Some(key.clone()));
    assert!(!tmp.path().join(".lab/age.key").exists());

    // Sealed plan secrets open with the store's key in a later run.
    let sealed = sealer.seal(&Secret::new(PLAINTEXT));
    let later = FileStateStore::new(tmp.path().join(".lab")).with_key_file(&key);
    let opened = later
        .sealer()
        .expect("sealer")
        .unseal(&sealed["$secret"])
        .expect("unseal");
    assert_eq!(opened.expose(), PLAINTEXT);
    assert!(later.take_created_key().is_none());

    // A state saved without secrets still records the key the store uses.
    store.save(&state_without_secrets(1)).expect("save");
    assert_eq!(
        state_json(&store)["key_recipient"],
        serde_json::json!(sealer.recipient())
    );
}

#[test]
fn recipient_is_kept_when_the_secrets_are_gone() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    store.save(&state_with_secrets(1)).expect("save");
    let recipient = state_json(&store)["key_recipient"].clone();
    // A later run whose state no longer has secrets.
    let later = FileStateStore::new(tmp.path());
    later.save(&state_without_secrets(2)).expect("save");
    assert_eq!(state_json(&later)["key_recipient"], recipient);
}

#[test]
fn state_without_secrets_or_recipient_loads_without_a_key_file() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    let state = state_without_secrets(4);
    store.save(&state).expect("save");
    let later = FileStateStore::new(tmp.path());
    assert_eq!(later.load().expect("load"), Some(state));
    assert!(!later.key_path().exists());
    assert!(later.take_created_key().is_none());
}

#[test]
fn second_lock_fails_at_once_naming_the_holder() {
    let tmp = tempdir();
    let dir = tmp.path().join(".lab");
    let store = FileStateStore::new(&dir);
    let other = FileStateStore::new(&dir);
    let lock = store.lock("apply").expect("first lock");
    let started = Instant::now();
    let holder = match other.lock("plan") {
        Err(StateError::Locked { holder }) => holder,
        Err(e) => panic!("expected Locked, got {e:?}"),
        Ok(_) => panic!("a second lock must fail"),
    };
    assert!(started.elapsed() < Duration::from_secs(2), "fails at once");
    assert!(
        holder.contains(&format!("pid {}", std::process::id())),
        "{holder}"
    );
    assert!(holder.contains("apply"), "{holder}");
    assert!(holder.contains(" on host "), "{holder}");
    assert!(
        holder.contains("since ") && holder.ends_with("UTC)"),
        "{holder}"
    );
    let err = other
        .lock("plan")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("locked by pid"), "{err}");
    // The same store cannot take it twice either.
    assert!(matches!(
        store.lock("apply"),
        Err(StateError::Locked { .. })
    ));
    drop(lock);
}

#[test]
fn lock_is_released_on_drop() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    let other = FileStateStore::new(tmp.path());
    let lock = store.lock("apply").expect("lock");
    assert!(other.lock("destroy").is_err());
    drop(lock);
    let second = other.lock("destroy").expect("free after drop");
    match store.lock("apply") {
        Err(StateError::Locked { holder }) => assert!(holder.contains("destroy"), "{holder}"),
        Err(e) => panic!("expected Locked, got {e:?}"),
        Ok(_) => panic!("held by the second lock"),
    }
    drop(second);
    store.lock("apply").expect("free again");
}

#[test]
fn journal_append_read_clear() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path().join(".lab"));
    let records = vec![intent(1), intent(2), done(1)];
    for r in &records {
        store.journal_append(r).expect("append");
    }
    assert_eq!(store.journal_read().expect("read"), records);
    let pending = lab_core::state::pending(&records);
    assert_eq!(pending, vec![&intent(2)]);
    let text =
        std::fs::read_to_string(tmp.path().join(".lab/journal.jsonl")).expect("journal text");
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'));
    assert_eq!(
        text.lines().next(),
        Some(serde_json::to_string(&intent(1)).expect("json").as_str())
    );

    store.journal_clear().expect("clear");
    assert!(store.journal_read().expect("read").is_empty());
    store.journal_append(&done(2)).expect("append after clear");
    assert_eq!(store.journal_read().expect("read"), vec![done(2)]);
}

#[test]
fn torn_last_journal_line_is_ignored_and_repaired() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    store.journal_append(&intent(1)).expect("append");
    store.journal_append(&done(1)).expect("append");
    let path = tmp.path().join("journal.jsonl");
    let full = serde_json::to_string(&intent(2)).expect("json");
    let mut bytes = read(&path);
    bytes.extend_from_slice(&full.as_bytes()[..full.len() / 2]);
    write(&path, &bytes);
    assert_eq!(
        store.journal_read().expect("torn tail tolerated"),
        vec![intent(1), done(1)]
    );

    // The next append starts on a line of its own.
    store
        .journal_append(&intent(3))
        .expect("append after a torn write");
    assert_eq!(
        store.journal_read().expect("read"),
        vec![intent(1), done(1), intent(3)]
    );

    // A complete last record that only lost its newline is kept.
    let mut bytes = read(&path);
    bytes.extend_from_slice(full.as_bytes());
    write(&path, &bytes);
    assert_eq!(store.journal_read().expect("read").last(), Some(&intent(2)));
    store.journal_append(&done(3)).expect("append");
    assert_eq!(
        store.journal_read().expect("read"),
        vec![intent(1), done(1), intent(3), intent(2), done(3)]
    );
}

#[test]
fn corrupt_journal_line_in_the_middle_is_an_error() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    let path = tmp.path().join("journal.jsonl");
    let line = serde_json::to_string(&intent(1)).expect("json");
    let bytes = format!("{line}\n{{\"record\": \"garbage\n{line}\n");
    write(&path, &bytes);
    match store.journal_read() {
        Err(StateError::Corrupt { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.contains("line 2"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(read(&path), bytes.as_bytes());
}

#[test]
fn crash_before_rename_keeps_the_previous_state_and_the_next_save_succeeds() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    let first = state_with_secrets(1);
    store.save(&first).expect("save");
    let bytes = read(&store.state_path());

    store.inject_fault(StoreFault::CrashBeforeRename { on_save: 2 });
    let second = state_with_secrets(2);
    store
        .save(&second)
        .expect("the first save after injection works");
    let bytes_after_second = read(&store.state_path());
    let crashed = state_with_secrets(3);
    assert!(matches!(store.save(&crashed), Err(StateError::Injected(_))));
    assert_eq!(
        read(&store.state_path()),
        bytes_after_second,
        "state.json untouched"
    );
    assert_ne!(bytes, bytes_after_second);
    assert!(
        tmp.path().join("state.json.tmp").exists(),
        "the temp file was written"
    );

    // The next run loads the last good state despite the stale temp file...
    let later = FileStateStore::new(tmp.path());
    assert_eq!(later.load().expect("load"), Some(second));
    // ...and saves over it.
    let next = state_with_secrets(3);
    later.save(&next).expect("save after the crash");
    assert_eq!(later.load().expect("load"), Some(next.clone()));
    assert!(!tmp.path().join("state.json.tmp").exists());
    // The fault fires once: the crashed store saves again too.
    let again = state_with_secrets(4);
    store.save(&again).expect("fault was one-shot");
    assert_eq!(store.load().expect("load"), Some(again));
}

#[test]
fn fail_save_writes_nothing() {
    let tmp = tempdir();
    let dir = tmp.path().join(".lab");
    let store = FileStateStore::new(&dir);
    store.inject_fault(StoreFault::FailSave { on_save: 1 });
    assert!(matches!(
        store.save(&state_with_secrets(1)),
        Err(StateError::Injected(_))
    ));
    assert!(!dir.exists(), "nothing written, no key created");
    assert!(store.take_created_key().is_none());
    store.save(&state_with_secrets(1)).expect("next save works");
    assert!(store.load().expect("load").is_some());
}

#[test]
fn stale_garbage_temp_file_does_not_break_load_or_save() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    write(
        &tmp.path().join("state.json.tmp"),
        "{ torn garbage from a crash",
    );
    assert!(store.load().expect("load ignores the temp file").is_none());
    let state = state_with_secrets(1);
    store.save(&state).expect("save");
    assert_eq!(store.load().expect("load"), Some(state));
}

#[test]
fn store_is_send_and_sync_and_usable_across_threads() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let tmp = tempdir();
    let store = std::sync::Arc::new(FileStateStore::new(tmp.path()));
    assert_send_sync(&*store);
    let handles: Vec<_> = (0..4u64)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || store.sealer().map(|s| (i, s.recipient())))
        })
        .collect();
    let recipients: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").expect("sealer").1)
        .collect();
    assert!(
        recipients.windows(2).all(|w| w[0] == w[1]),
        "one key for everyone"
    );
    let dyn_store: &dyn StateStore = &*store;
    assert!(dyn_store.load().expect("load").is_none());
}

#[test]
fn secrets_of_deposed_objects_are_sealed_too() {
    let tmp = tempdir();
    let store = FileStateStore::new(tmp.path());
    let mut state = state_without_secrets(1);
    let mut outputs = Attrs::new();
    outputs.insert("token".into(), Value::Secret(Secret::new(PLAINTEXT)));
    state.deposed.insert(
        Address::new("proxmox.vm", "old"),
        resource("99", Attrs::new(), outputs),
    );
    store.save(&state).expect("save");
    assert_eq!(
        store.take_created_key(),
        Some(store.key_path().to_path_buf())
    );
    let bytes = read(&store.state_path());
    assert!(!bytes
        .windows(PLAINTEXT.len())
        .any(|w| w == PLAINTEXT.as_bytes()));
    assert!(state_json(&store).get("key_recipient").is_some());
    assert_eq!(
        FileStateStore::new(tmp.path()).load().expect("load"),
        Some(state)
    );
}

#[test]
fn unchanged_secrets_keep_their_ciphertext_and_changed_ones_are_sealed_anew() {
    let dir = tempdir();
    let store = FileStateStore::new(dir.path().join(".lab"));
    let db = Address::new("proxmox.vm", "db");
    let mut state = state_with_secrets(1);
    store.save(&state).expect("first save");
    let sealed = |store: &FileStateStore| {
        state_json(store)["resources"]["proxmox.vm.db"]["attrs"]["password"].clone()
    };
    let first = sealed(&store);

    // Saved again (the executor saves after every operation): same ciphertext.
    state.serial = 2;
    store.save(&state).expect("second save");
    assert_eq!(
        sealed(&store),
        first,
        "an unchanged secret is not re-encrypted"
    );

    // A new value is sealed anew and reads back as the new value.
    state.serial = 3;
    state.resources[&db].attrs.insert(
        "password".into(),
        Value::Secret(Secret::new("rotated-password")),
    );
    store.save(&state).expect("third save");
    assert_ne!(sealed(&store), first);
    let loaded = store.load().expect("load").expect("state");
    assert_eq!(
        loaded.resources[&db].attrs["password"],
        Value::Secret(Secret::new("rotated-password"))
    );
    assert!(!String::from_utf8_lossy(&read(&store.state_path())).contains("rotated-password"));
}
