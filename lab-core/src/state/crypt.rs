//! age encryption of the secrets inside state and saved plans.
//!
//! Every [`crate::Secret`] is written to disk as `{"$secret": "..."}`, sealed
//! for the X25519 recipient of one key per lab. The key lives in an
//! age-keygen style key file (see [`KeyFile`]) that the state store creates
//! on first use and that is never regenerated afterwards: a new key could
//! not decrypt what the old one sealed, so losing the file means restoring
//! it from backup, not replacing it.
//!
//! **Envelope.** An age encryption costs an X25519 key agreement (~100 µs):
//! a state of 10,000 secrets took a second to seal and another to open,
//! on every save of a new process and every plan. So a [`Sealer`] seals with
//! a data key of its own (256 random bits, made once per sealer and shared
//! by its clones), encrypted with age to the recipient, and each secret with
//! XChaCha20-Poly1305 under that data key with a random nonce, as SOPS does
//! with age: `{"$secret": "lab-sealed-v1:<age-encrypted data key, base64>:
//! <nonce and ciphertext, base64>"}`. Opening decrypts each distinct data
//! key once. A data key found in a document is never used to seal (whoever
//! can write the document could have planted one they know): each sealer
//! makes its own. age's own armor (`-----BEGIN AGE ENCRYPTED FILE-----`),
//! which earlier versions wrote per secret, still opens.
//!
//! Nothing in this module ever puts plaintext or secret key material into an
//! error message or a `Debug` string.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use age::secrecy::ExposeSecret as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead as _, KeyInit as _};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use serde_json::{json, Value as Json};
use sha2::Sha256;

use super::StateError;
use crate::Secret;

/// Seals and unseals secrets with one age X25519 identity.
///
/// Cloning shares nothing mutable; both clones hold the same key.
#[derive(Clone)]
pub struct Sealer {
    identity: age::x25519::Identity,
    recipient: age::x25519::Recipient,
    /// The data key this sealer seals with, made on first use.
    data_key: Arc<OnceLock<DataKey>>,
    /// Data keys met while opening, by their age-encrypted form.
    opened: Arc<Mutex<HashMap<String, Arc<XChaCha20Poly1305>>>>,
}

/// A data key: the cipher, and the key encrypted with age (base64).
struct DataKey {
    cipher: XChaCha20Poly1305,
    wrapped: String,
}

/// The prefix of an enveloped secret.
const ENVELOPE: &str = "lab-sealed-v1:";

impl Sealer {
    /// A sealer with a fresh in-memory key (nothing is written anywhere).
    pub fn generate() -> Self {
        Self::from_identity(age::x25519::Identity::generate())
    }

    /// Parses an `AGE-SECRET-KEY-1...` string (surrounding whitespace is
    /// ignored). The error never repeats the input.
    pub fn from_identity_str(text: &str) -> Result<Sealer, StateError> {
        let identity: age::x25519::Identity =
            text.trim().parse().map_err(|why| StateError::Key {
                message: format!(
                    "the age key is not a valid X25519 secret key ({why}); \
                 expected one line starting with AGE-SECRET-KEY-1"
                ),
            })?;
        Ok(Self::from_identity(identity))
    }

    fn from_identity(identity: age::x25519::Identity) -> Self {
        let recipient = identity.to_public();
        Sealer {
            identity,
            recipient,
            data_key: Arc::new(OnceLock::new()),
            opened: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// An HMAC-SHA256 keyed for `purpose` (e.g. `plan-seal`) with a key
    /// derived from this identity: HMAC-SHA256 keyed with the identity's
    /// secret key over a label naming lab and the purpose. The age key
    /// itself is used only by age, and keys for different purposes are
    /// unrelated.
    pub(crate) fn keyed_mac(&self, purpose: &str) -> Hmac<Sha256> {
        let identity = self.identity.to_string();
        let mut kdf = <Hmac<Sha256> as Mac>::new_from_slice(identity.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        kdf.update(b"lab/key-derivation/v1/");
        kdf.update(purpose.as_bytes());
        let key = kdf.finalize().into_bytes();
        <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes a key of any length")
    }

    /// The public key (`age1...`) that secrets are encrypted to.
    pub fn recipient(&self) -> String {
        self.recipient.to_string()
    }

    /// Encrypts `secret` and returns the whole replacement object
    /// `{"$secret": "<ASCII-armored age ciphertext>"}`, as
    /// [`crate::Value::to_json`] expects from its `seal` callback.
    ///
    /// # Panics
    ///
    /// Only if age fails to encrypt into an in-memory buffer, which cannot
    /// happen for an X25519 recipient; use [`Sealer::try_seal`] to get that
    /// impossible case as an error instead.
    pub fn seal(&self, secret: &Secret) -> Json {
        self.try_seal(secret)
            .expect("age encryption to an X25519 recipient into memory cannot fail")
    }

    /// Like [`Sealer::seal`], but returns an error instead of panicking.
    pub fn try_seal(&self, secret: &Secret) -> Result<Json, StateError> {
        let key = self.data_key()?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), secret.expose().as_bytes())
            .map_err(|_| StateError::Key {
                message: "could not encrypt a secret with its data key".into(),
            })?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        Ok(json!({
            "$secret": format!("{ENVELOPE}{}:{}", key.wrapped, BASE64.encode(body))
        }))
    }

    /// This sealer's data key, made (and encrypted with age) on first use.
    fn data_key(&self) -> Result<&DataKey, StateError> {
        if let Some(k) = self.data_key.get() {
            return Ok(k);
        }
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let wrapped = age::encrypt(&self.recipient, &raw).map_err(|e| StateError::Key {
            message: format!("could not encrypt a data key with age: {e}"),
        })?;
        let key = DataKey {
            cipher: XChaCha20Poly1305::new_from_slice(&raw).expect("a 32-byte key"),
            wrapped: BASE64.encode(wrapped),
        };
        raw.fill(0);
        // Two threads may race here: one key wins, and both use it.
        let _ = self.data_key.set(key);
        Ok(self.data_key.get().expect("just set"))
    }

    /// Decrypts the INNER value of a `{"$secret": ..}` object (the string;
    /// [`crate::Value::from_json`] strips the `$secret` key before
    /// calling). Errors never contain the plaintext.
    pub fn unseal(&self, inner: &Json) -> Result<Secret, String> {
        let text = inner
            .as_str()
            .ok_or_else(|| "a `$secret` value is not a sealed string".to_string())?;
        let plain = match text.strip_prefix(ENVELOPE) {
            Some(rest) => self.open_envelope(rest)?,
            None => age::decrypt(&self.identity, text.as_bytes())
                .map_err(|e| self.age_error(e, "a secret"))?,
        };
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| "a decrypted secret is not valid UTF-8".to_string())
    }

    /// Opens `<wrapped data key>:<nonce and ciphertext>`.
    fn open_envelope(&self, rest: &str) -> Result<Vec<u8>, String> {
        let damaged = || "a sealed secret is damaged (not `data key:ciphertext` in base64)";
        let (wrapped, body) = rest.split_once(':').ok_or_else(damaged)?;
        let cipher = self.opened_key(wrapped)?;
        let body = BASE64.decode(body).map_err(|_| damaged())?;
        if body.len() < 24 {
            return Err(damaged().to_string());
        }
        let (nonce, sealed) = body.split_at(24);
        cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| "a secret could not be decrypted: it was altered or cut".to_string())
    }

    /// The data key `wrapped` (age-encrypted, base64), decrypted once.
    fn opened_key(&self, wrapped: &str) -> Result<Arc<XChaCha20Poly1305>, String> {
        if let Some(own) = self.data_key.get().filter(|k| k.wrapped == wrapped) {
            return Ok(Arc::new(own.cipher.clone()));
        }
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = opened.get(wrapped) {
            return Ok(c.clone());
        }
        let bytes = BASE64
            .decode(wrapped)
            .map_err(|_| "a sealed secret's data key is not base64".to_string())?;
        let mut raw =
            age::decrypt(&self.identity, &bytes).map_err(|e| self.age_error(e, "a data key"))?;
        let cipher = XChaCha20Poly1305::new_from_slice(&raw)
            .map_err(|_| "a sealed secret's data key has the wrong length".to_string())?;
        raw.fill(0);
        let cipher = Arc::new(cipher);
        opened.insert(wrapped.to_string(), cipher.clone());
        Ok(cipher)
    }

    fn age_error(&self, e: age::DecryptError, what: &str) -> String {
        match e {
            age::DecryptError::NoMatchingKeys => format!(
                "{what} was not encrypted to this key ({}); restore the matching age key file from backup",
                self.recipient
            ),
            other => format!("{what} could not be decrypted: {other}"),
        }
    }
}

impl fmt::Debug for Sealer {
    /// Shows only the public key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("recipient", &self.recipient.to_string())
            .finish_non_exhaustive()
    }
}

/// The age key file, in age-keygen format:
///
/// ```text
/// # created: 2026-11-25T20:30:00Z
/// # public key: age1...
/// AGE-SECRET-KEY-1...
/// ```
///
/// Lines starting with `#` and blank lines are ignored when reading.
pub struct KeyFile;

impl KeyFile {
    /// Reads the key at `path`.
    ///
    /// A missing file is a [`StateError::Key`] that names the file and says
    /// to restore it from backup: the key is never regenerated.
    pub fn load(path: impl AsRef<Path>) -> Result<Sealer, StateError> {
        let path = path.as_ref();
        let mut text = String::new();
        match std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::Key {
                    message: missing_key_message(path),
                })
            }
            Err(e) => {
                return Err(StateError::Io {
                    action: "reading the age key file",
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        }
        Self::parse(&text).map_err(|why| StateError::Key {
            message: format!("the age key file {} {why}", path.display()),
        })
    }

    /// Parses key file text (comments and blank lines ignored). The error
    /// completes "the age key file PATH ..." and never repeats key material.
    fn parse(text: &str) -> Result<Sealer, String> {
        let keys: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        match keys.as_slice() {
            [] => Err(
                "holds no key (expected a line starting with AGE-SECRET-KEY-1); \
                       restore it from backup"
                    .into(),
            ),
            [key] => Sealer::from_identity_str(key).map_err(|_| {
                "does not hold a valid age X25519 secret key (a line starting with \
                 AGE-SECRET-KEY-1); restore it from backup"
                    .to_string()
            }),
            more => Err(format!(
                "holds {} non-comment lines; lab expects exactly one AGE-SECRET-KEY-1 line",
                more.len()
            )),
        }
    }

    /// Generates a key and writes it to `path` (age-keygen format, mode
    /// 0600 on unix), creating parent directories. Refuses to overwrite an
    /// existing file: it may hold the only copy of a key.
    pub fn create(path: impl AsRef<Path>) -> Result<Sealer, StateError> {
        let path = path.as_ref();
        let io = |action: &'static str| {
            move |source: std::io::Error| StateError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StateError::Io {
                action: "creating the directory for the age key file",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let sealer = Sealer::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = match options.open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Key {
                    message: format!(
                        "refusing to overwrite the existing age key file {}: it may hold the only \
                         copy of the key that decrypts your state; move it away first if you \
                         really want a new key",
                        path.display()
                    ),
                })
            }
            Err(e) => return Err(io("creating the age key file")(e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io("restricting the permissions of the age key file"))?;
        }
        let secret = sealer.identity.to_string();
        let text = format!(
            "# created: {}\n# public key: {}\n{}\n",
            format_utc(unix_now(), 'T', "Z"),
            sealer.recipient(),
            secret.expose_secret()
        );
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io("writing the age key file"))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok(sealer)
    }
}

/// The message for a key file that is not there.
pub(super) fn missing_key_message(path: &Path) -> String {
    format!(
        "the age key file {} is missing. It holds the key that decrypts the secrets in this lab's \
         state and is never regenerated (a new key could not read them): restore it from your \
         backup to that path",
        path.display()
    )
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DD<sep>HH:MM:SS<suffix>` in UTC.
pub(super) fn format_utc(secs: u64, sep: char, suffix: &str) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}{suffix}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Makes a directory's entries (a created or renamed file) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| StateError::Io {
                action: "syncing the directory",
                path: dir.to_path_buf(),
                source,
            })?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_unseal_round_trip_and_no_plaintext() {
        let s = Sealer::generate();
        let sealed = s.seal(&Secret::new("hunter2"));
        let inner = sealed.get("$secret").expect("$secret key");
        assert!(inner.as_str().is_some_and(|a| a.starts_with(ENVELOPE)));
        assert!(!sealed.to_string().contains("hunter2"));
        assert_eq!(
            s.unseal(inner).map(|x| x.expose().to_string()),
            Ok("hunter2".into())
        );
    }

    #[test]
    fn one_data_key_per_sealer_and_a_new_sealer_opens_it() {
        let s = Sealer::generate();
        let (a, b) = (s.seal(&Secret::new("one")), s.seal(&Secret::new("two")));
        let key_of = |j: &Json| {
            let t = j["$secret"].as_str().expect("string");
            t[ENVELOPE.len()..]
                .split_once(':')
                .expect("two parts")
                .0
                .to_string()
        };
        assert_eq!(key_of(&a), key_of(&b), "the data key is made once");
        assert_ne!(a, b);
        // Another process: the same identity, no cached key.
        let again =
            Sealer::from_identity_str(s.identity.to_string().expose_secret()).expect("identity");
        assert_eq!(again.unseal(&b["$secret"]).expect("opens").expose(), "two");
        assert_ne!(
            key_of(&again.seal(&Secret::new("x"))),
            key_of(&a),
            "own data key"
        );
    }

    #[test]
    fn armored_age_secrets_of_earlier_versions_still_open() {
        let s = Sealer::generate();
        let armored = age::encrypt_and_armor(&s.recipient, b"old").expect("encrypt");
        assert_eq!(s.unseal(&json!(armored)).expect("opens").expose(), "old");
    }

    #[test]
    fn an_altered_envelope_is_refused_without_plaintext() {
        let s = Sealer::generate();
        let sealed = s.seal(&Secret::new("hunter2"));
        let text = sealed["$secret"].as_str().expect("string");
        let (head, body) = text.rsplit_once(':').expect("body");
        let mut bytes = BASE64.decode(body).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = format!("{head}:{}", BASE64.encode(bytes));
        let err = s.unseal(&json!(altered)).expect_err("altered");
        assert!(err.contains("altered"), "{err}");
        assert!(!err.contains("hunter2"));
        let err = s
            .unseal(&json!(format!("{ENVELOPE}nonsense")))
            .expect_err("damaged");
        assert!(err.contains("damaged"), "{err}");
    }

    #[test]
    fn wrong_key_errors_without_plaintext() {
        let (a, b) = (Sealer::generate(), Sealer::generate());
        let sealed = a.seal(&Secret::new("hunter2"));
        let err = b.unseal(&sealed["$secret"]).expect_err("wrong key");
        assert!(!err.contains("hunter2"));
        assert!(err.contains(&b.recipient()));
        assert!(b.unseal(&json!(3)).is_err());
    }

    #[test]
    fn debug_shows_no_secret_key() {
        let s = Sealer::generate();
        let secret = s.identity.to_string();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains(secret.expose_secret()));
        assert!(!dbg.contains("AGE-SECRET-KEY"));
        assert!(dbg.contains(&s.recipient()));
    }

    #[test]
    fn identity_string_round_trips_and_bad_input_is_not_echoed() {
        let s = Sealer::generate();
        let text = s.identity.to_string();
        let t = Sealer::from_identity_str(text.expose_secret()).expect("parses");
        assert_eq!(t.recipient(), s.recipient());
        let err = Sealer::from_identity_str("AGE-SECRET-KEY-1NOTAKEY").expect_err("bad");
        assert!(!err.to_string().contains("NOTAKEY"));
    }

    #[test]
    fn key_file_create_load_and_comments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/age.key");
        let s = KeyFile::create(&path).expect("create");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("# created: "));
        assert_eq!(lines[1], format!("# public key: {}", s.recipient()));
        assert!(lines[2].starts_with("AGE-SECRET-KEY-1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            KeyFile::load(&path).expect("load").recipient(),
            s.recipient()
        );
        let err = KeyFile::create(&path).expect_err("no overwrite");
        assert!(matches!(err, StateError::Key { .. }));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    }

    #[test]
    fn missing_key_file_says_restore() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("age.key");
        let err = KeyFile::load(&path).expect_err("missing");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()));
        assert!(msg.contains("never regenerated"));
        assert!(msg.contains("backup"));
        assert!(!path.exists());
    }

    #[test]
    fn keyed_macs_are_derived_per_purpose_and_never_from_the_raw_key() {
        let s = Sealer::generate();
        let tag = |m: Hmac<Sha256>| {
            let mut m = m;
            m.update(b"message");
            m.finalize().into_bytes()
        };
        let plan = tag(s.keyed_mac("plan-seal"));
        assert_eq!(plan, tag(s.clone().keyed_mac("plan-seal")), "deterministic");
        assert_ne!(plan, tag(s.keyed_mac("other")), "one key per purpose");
        assert_ne!(plan, tag(Sealer::generate().keyed_mac("plan-seal")));
        let identity = s.identity.to_string();
        let raw = <Hmac<Sha256> as Mac>::new_from_slice(identity.expose_secret().as_bytes())
            .expect("any length");
        assert_ne!(plan, tag(raw), "the age key is not used raw");
        // A key file read back derives the same key.
        let t = Sealer::from_identity_str(identity.expose_secret()).expect("parses");
        assert_eq!(plan, tag(t.keyed_mac("plan-seal")));
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0, ' ', " UTC"), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400, 'T', "Z"), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_795_638_600, ' ', ""), "2026-11-25 20:30:00");
    }
}
