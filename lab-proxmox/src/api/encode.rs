//! Request encoding: URL paths, form bodies and the `sshkeys` value.
//!
//! Three Proxmox rules live here:
//! - path segments that carry values (node names, UPIDs with `:` `@` `!`,
//!   volume ids with `:` and `/`) are percent-encoded, see [`path`];
//! - booleans are sent as `1`/`0`: PVE's strict schema check refuses
//!   `true`/`false` in a form, see [`Form::bool`];
//! - `sshkeys` has `format: urlencoded`: the value must itself be an RFC 3986
//!   percent-encoded string, which the form encoding then encodes again
//!   (`ssh-ed25519%2520AAAA...` on the wire), see [`encode_sshkeys`].
//!
//! A [`Form`] may carry secrets (cloud-init passwords); its `Debug` redacts
//! them, and so does every message built from it.

use std::fmt;

use lab_core::Secret;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `s` keeping only RFC 3986 unreserved characters
/// (space -> `%20`, `/` -> `%2F`, `:` -> `%3A`, `=` -> `%3D`, `+` -> `%2B`,
/// newline -> `%0A`).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Builds an API path from segments, percent-encoding each one:
/// `path(&["nodes", "pve1", "tasks", upid, "status"])` gives
/// `/nodes/pve1/tasks/UPID%3Apve1%3A.../status`. The result starts with `/`
/// and is relative to `<endpoint>/api2/json`.
pub fn path(segments: &[&str]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.push_str(&percent_encode(s));
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The value for PVE's `sshkeys` parameter: the keys joined by newlines, then
/// percent-encoded with only unreserved characters left as they are. Put it
/// in a [`Form`] (which encodes it a second time) via [`Form::sshkeys`].
pub fn encode_sshkeys(keys: &[String]) -> String {
    let joined = keys
        .iter()
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    percent_encode(&joined)
}

#[derive(Clone)]
enum FormValue {
    Plain(String),
    Secret(Secret),
}

impl FormValue {
    fn expose(&self) -> &str {
        match self {
            FormValue::Plain(s) => s,
            FormValue::Secret(s) => s.expose(),
        }
    }
}

/// An ordered `application/x-www-form-urlencoded` body (POST and PUT).
///
/// ```
/// use lab_proxmox::api::Form;
/// let form = Form::new().int("vmid", 101).str("name", "web").bool("onboot", true);
/// assert_eq!(form.encode(), "vmid=101&name=web&onboot=1");
/// ```
#[derive(Clone, Default)]
pub struct Form {
    pairs: Vec<(String, FormValue)>,
}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Form::default()
    }

    /// Adds a string value.
    pub fn str(mut self, key: &str, value: impl Into<String>) -> Self {
        self.push(key, value);
        self
    }

    /// Adds an integer value.
    pub fn int(mut self, key: &str, value: i64) -> Self {
        self.push_int(key, value);
        self
    }

    /// Adds a boolean as `1`/`0` (PVE's strict check accepts nothing else
    /// in a form).
    pub fn bool(mut self, key: &str, value: bool) -> Self {
        self.push_bool(key, value);
        self
    }

    /// Adds a string value if there is one.
    pub fn opt_str(self, key: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.str(key, v),
            None => self,
        }
    }

    /// Adds an integer value if there is one.
    pub fn opt_int(self, key: &str, value: Option<i64>) -> Self {
        match value {
            Some(v) => self.int(key, v),
            None => self,
        }
    }

    /// Adds a boolean (`1`/`0`) if there is one.
    pub fn opt_bool(self, key: &str, value: Option<bool>) -> Self {
        match value {
            Some(v) => self.bool(key, v),
            None => self,
        }
    }

    /// Adds SSH public keys in PVE's `urlencoded` format (see
    /// [`encode_sshkeys`]); the form encoding then encodes them again.
    pub fn sshkeys(mut self, key: &str, keys: &[String]) -> Self {
        self.push_sshkeys(key, keys);
        self
    }

    /// Adds a sensitive value: sent as is, shown as `(sensitive value)` by
    /// `Debug`.
    pub fn secret(mut self, key: &str, value: &Secret) -> Self {
        self.push_secret(key, value);
        self
    }

    /// Adds a string value (in place).
    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        self.pairs
            .push((key.to_string(), FormValue::Plain(value.into())));
    }

    /// Adds a string value (in place).
    pub fn push_str(&mut self, key: &str, value: &str) {
        self.push(key, value);
    }

    /// Adds an integer value (in place).
    pub fn push_int(&mut self, key: &str, value: i64) {
        self.push(key, value.to_string());
    }

    /// Adds a boolean as `1`/`0` (in place).
    pub fn push_bool(&mut self, key: &str, value: bool) {
        self.push(key, if value { "1" } else { "0" });
    }

    /// Adds SSH public keys in PVE's `urlencoded` format (in place; see
    /// [`Form::sshkeys`]).
    pub fn push_sshkeys(&mut self, key: &str, keys: &[String]) {
        self.push(key, encode_sshkeys(keys));
    }

    /// Adds a sensitive value (in place; see [`Form::secret`]).
    pub fn push_secret(&mut self, key: &str, value: &Secret) {
        self.pairs
            .push((key.to_string(), FormValue::Secret(value.clone())));
    }

    /// Appends another form's pairs.
    pub fn extend(mut self, other: Form) -> Self {
        self.pairs.extend(other.pairs);
        self
    }

    /// True if no pair was added.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The keys, in order (for contract tests).
    pub fn keys(&self) -> Vec<&str> {
        self.pairs.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The value of `key`, if it is not a secret (for contract tests).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find_map(|(k, v)| match v {
            FormValue::Plain(s) if k == key => Some(s.as_str()),
            _ => None,
        })
    }

    /// True if `key` was added as a secret.
    pub fn is_secret(&self, key: &str) -> bool {
        self.pairs
            .iter()
            .any(|(k, v)| k == key && matches!(v, FormValue::Secret(_)))
    }

    /// The body as sent: `application/x-www-form-urlencoded`, secrets in
    /// clear. Do not log it.
    pub fn encode(&self) -> String {
        let mut ser = FormSerializer::default();
        for (k, v) in &self.pairs {
            ser.append(k, v.expose());
        }
        ser.out
    }
}

/// `application/x-www-form-urlencoded` as browsers and Go's `url.Values`
/// write it (space -> `+`), which PVE's form decoder reads back.
#[derive(Default)]
struct FormSerializer {
    out: String,
}

impl FormSerializer {
    fn append(&mut self, key: &str, value: &str) {
        if !self.out.is_empty() {
            self.out.push('&');
        }
        self.out.push_str(&form_component(key));
        self.out.push('=');
        self.out.push_str(&form_component(value));
    }
}

/// Form-encodes one component (`*-._` and alphanumerics kept, space -> `+`).
fn form_component(s: &str) -> String {
    // serde_urlencoded/form_urlencoded semantics without an extra dependency.
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b' ');
    utf8_percent_encode(s, FORM).to_string().replace(' ', "+")
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.pairs {
            match v {
                FormValue::Plain(s) => m.entry(k, s),
                FormValue::Secret(_) => m.entry(k, &format_args!("(sensitive value)")),
            };
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sshkeys_are_double_encoded() {
        let keys = vec![
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB/x+y= alice@laptop".to_string(),
            "ssh-rsa AAAAB3NzaC1yc2E= bob".to_string(),
        ];
        let once = encode_sshkeys(&keys);
        assert_eq!(
            once,
            "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIB%2Fx%2By%3D%20alice%40laptop%0Assh-rsa%20AAAAB3NzaC1yc2E%3D%20bob"
        );
        // PVE's check after form decoding: ^[-%a-zA-Z0-9_.!~*'()]*$
        assert!(once
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-%_.!~*'()".contains(c)));
        let wire = Form::new().sshkeys("sshkeys", &keys).encode();
        assert!(wire.starts_with("sshkeys=ssh-ed25519%2520AAAA"), "{wire}");
        assert!(
            wire.contains("alice%2540laptop%250Assh-rsa%2520AAAA"),
            "{wire}"
        );
        assert!(!wire.contains('+') && !wire.contains(' '));
    }

    #[test]
    fn form_bools_and_order() {
        let f = Form::new()
            .bool("onboot", true)
            .bool("agent", false)
            .opt_bool("template", None)
            .opt_int("cores", Some(2))
            .opt_str("name", None::<String>)
            .str("net0", "virtio,bridge=vmbr0,tag=20")
            .str("description", "a b&c");
        assert_eq!(
            f.encode(),
            "onboot=1&agent=0&cores=2&net0=virtio%2Cbridge%3Dvmbr0%2Ctag%3D20&description=a+b%26c"
        );
        assert_eq!(
            f.keys(),
            vec!["onboot", "agent", "cores", "net0", "description"]
        );
        assert_eq!(f.get("onboot"), Some("1"));
        // Same as serde_urlencoded would produce.
        let pairs = [("net0", "virtio,bridge=vmbr0,tag=20"), ("d", "a b&c~*")];
        let mut f2 = Form::new();
        for (k, v) in pairs {
            f2.push(k, v);
        }
        assert_eq!(f2.encode(), serde_urlencoded::to_string(pairs).unwrap());
    }

    #[test]
    fn form_debug_redacts_secrets() {
        let f = Form::new()
            .str("ciuser", "admin")
            .secret("cipassword", &Secret::new("hunter2"));
        let dbg = format!("{f:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("(sensitive value)"));
        assert!(dbg.contains("admin"));
        assert!(f.is_secret("cipassword"));
        assert_eq!(f.get("cipassword"), None);
        assert!(f.encode().contains("cipassword=hunter2"));
    }

    #[test]
    fn paths_encode_values() {
        let upid = "UPID:pve1:003CDE3D:025BF6DA:665F0761:qmstart:12001:gitlab@pam!cicd:";
        assert_eq!(
            path(&["nodes", "pve1", "tasks", upid, "status"]),
            "/nodes/pve1/tasks/UPID%3Apve1%3A003CDE3D%3A025BF6DA%3A665F0761%3Aqmstart%3A12001%3Agitlab%40pam%21cicd%3A/status"
        );
        assert_eq!(
            path(&[
                "nodes",
                "pve1",
                "storage",
                "local",
                "content",
                "local:iso/x y.iso"
            ]),
            "/nodes/pve1/storage/local/content/local%3Aiso%2Fx%20y.iso"
        );
        assert_eq!(path(&["version"]), "/version");
        assert_eq!(path(&[]), "/");
    }
}
