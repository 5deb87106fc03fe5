//! The one error type of the client, [`ApiError`], and the classification
//! of Proxmox's answers into [`ErrorKind`]s.
//!
//! Proxmox reports errors in three places and the client reads them in this
//! order: the HTTP **reason phrase** (`500 can't lock file '...' - got
//! timeout` with body `{"data":null}`), the body's `message`, then its
//! `errors` map (parameter errors, 400). There are no 404s for missing
//! guests: a missing VM is a 500 "... does not exist", a duplicate is a 500
//! (or a 400 on `vmid`) "... already exists". Classification therefore looks
//! at the text as well as the status, so the provider can tell "already done"
//! from "retry later" from "give up".

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// What kind of failure an [`ApiError`] is; drives retries and adoption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object does not exist (PVE: 500 "... does not exist", "no such ...").
    NotFound,
    /// The object already exists (500 "... already exists", or 400 with
    /// `errors.vmid` "VM n already exists").
    AlreadyExists,
    /// A config or storage lock could not be taken ("can't lock file ... got
    /// timeout", pmxcfs's "cfs-lock '...' error: got lock request timeout",
    /// "VM is locked", "got no worker upid"). Worth retrying.
    Locked,
    /// The token lacks a privilege (403).
    PermissionDenied,
    /// A parameter was refused (400, details in [`ApiError::errors`]).
    BadParam,
    /// The token id or secret was refused (401).
    AuthFailed,
    /// A failure that may pass: connection errors, request timeouts, 502–504
    /// and pveproxy's 595/596/599.
    Transient,
    /// The server's certificate is not trusted (or does not match the pinned
    /// fingerprint); `fingerprint` is the SHA-256 of the certificate it
    /// presented, formatted `AA:BB:...`, ready to pin.
    UntrustedCertificate {
        /// SHA-256 of the presented end-entity certificate (DER).
        fingerprint: String,
    },
    /// A task did not finish within the configured task timeout.
    Timeout,
    /// A task ran and failed (its `exitstatus` is in the message).
    Task,
    /// Anything else (unexpected answers, unknown paths, permanent 500s).
    Other,
}

/// A failed API call: status, message and the classified [`ErrorKind`].
///
/// `Display` shows the message followed by the per-parameter errors, if any.
/// Neither ever contains the token secret: the client never puts it in a
/// URL, and messages are built from the server's answer and the path only.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ApiError {
    /// HTTP status, or 0 when there was no HTTP answer (connection, TLS,
    /// task failures).
    pub status: u16,
    /// The message: the reason phrase, else the body's `message`, else a
    /// summary of `errors`.
    pub message: String,
    /// Per-parameter errors (`{"vmid": "VM 218 already exists"}`).
    pub errors: BTreeMap<String, String>,
    /// The classification.
    pub kind: ErrorKind,
    /// How long the server asked to wait before trying again (a
    /// `Retry-After` header in seconds, e.g. on a 429 or 503 from a reverse
    /// proxy in front of pveproxy).
    pub retry_after: Option<std::time::Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        // The summary fallback already is the errors map; don't repeat it.
        if !self.errors.is_empty() && self.message != summarize_errors(&self.errors) {
            f.write_str(" (")?;
            f.write_str(&summarize_errors(&self.errors))?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// An error of `kind` with no HTTP status and no parameter errors.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status: 0,
            message: message.into(),
            errors: BTreeMap::new(),
            kind,
            retry_after: None,
        }
    }

    /// Classifies an HTTP error answer: `status`, the reason phrase if the
    /// server sent a non-canonical one, and the raw body (which for a 401 is
    /// empty, not JSON). A body that is not JSON is the message itself:
    /// Proxmox Backup Server answers errors with the plain text (under a
    /// JSON content type) and a canonical reason phrase.
    pub fn from_response(status: u16, reason: Option<&str>, body: &[u8]) -> Self {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let plain_text = match &json {
            Some(_) => None,
            None => {
                Some(String::from_utf8_lossy(body).trim().to_string()).filter(|s| !s.is_empty())
            }
        };
        let body_message = json
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or(plain_text);
        let mut errors = BTreeMap::new();
        if let Some(Value::Object(map)) = json.as_ref().and_then(|v| v.get("errors")) {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                };
                errors.insert(k.clone(), text);
            }
        }
        let reason = reason.map(str::trim).filter(|s| !s.is_empty());
        let message = reason
            .map(str::to_string)
            .or(body_message.clone())
            .or_else(|| (!errors.is_empty()).then(|| summarize_errors(&errors)))
            .unwrap_or_else(|| canonical_message(status));
        // Everything the server said, for the text-based classification.
        let mut haystack = message.clone();
        if let Some(m) = &body_message {
            haystack.push('\n');
            haystack.push_str(m);
        }
        for v in errors.values() {
            haystack.push('\n');
            haystack.push_str(v);
        }
        let kind = classify(status, &haystack, &errors);
        let message = if kind == ErrorKind::AuthFailed {
            format!(
                "{message} (check the API token id and secret, and that the token is not expired)"
            )
        } else {
            message
        };
        ApiError {
            status,
            message,
            errors,
            kind,
            retry_after: None,
        }
    }

    /// True if the same call may succeed later: [`ErrorKind::Transient`] and
    /// [`ErrorKind::Locked`].
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient | ErrorKind::Locked)
    }

    /// True for [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// True for [`ErrorKind::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        self.kind == ErrorKind::AlreadyExists
    }

    /// Prefixes the message with context (`"clone VM 101: "`), keeping the
    /// kind and status.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<ApiError> for lab_core::ProviderError {
    fn from(e: ApiError) -> Self {
        let message = e.to_string();
        match e.kind {
            _ if e.is_transient() => match e.retry_after {
                Some(wait) => lab_core::ProviderError::transient(message).retry_after(wait),
                None => lab_core::ProviderError::transient(message),
            },
            // The client names its own product's variables; an error made
            // elsewhere gets PVE's.
            ErrorKind::AuthFailed if message.contains("with the `lab` CLI they come from") => {
                lab_core::ProviderError::auth(message)
            }
            ErrorKind::AuthFailed => lab_core::ProviderError::auth(format!(
                "{message}; {}",
                super::credentials_hint(&super::Dialect::PVE)
            )),
            ErrorKind::PermissionDenied => lab_core::ProviderError::auth(format!(
                "{message} (grant the API token the privilege named above, or use a token \
                 without privilege separation)"
            )),
            _ => lab_core::ProviderError::permanent(message),
        }
    }
}

/// Texts that mean "the object is not there".
const NOT_FOUND: &[&str] = &[
    "does not exist",
    "no such",
    "unable to find configuration file",
];
/// PBS handlers that refuse a caller with a plain `bail!` (400): the
/// sync-job checks ("permission check failed"), `check_privs`
/// (`missing permissions '<privs>' on '<path>'`), the ACL editor
/// ("Unprivileged ...").
const PBS_DENIED: &[&str] = &[
    "permission check failed",
    "missing permissions '",
    "unprivileged ",
];

/// Texts that mean "a lock could not be taken / the daemon was busy".
/// `cfs-lock '<name>' error: got lock request timeout` is pmxcfs's cluster
/// lock (`PVE::Cluster::cfs_lock_*`: `file-user_cfg`, `storage-<id>`,
/// `domain-...`) timing out. `file changed by other user? Try again` is a
/// config written between our read and our write (its digest moved): the
/// same call succeeds once read again.
const LOCKED: &[&str] = &[
    "file changed by other user",
    "can't lock file",
    "got timeout",
    "got lock request timeout",
    "cfs-lock",
    "is locked",
    "got no worker upid",
];

/// Whether a message (an error text or a task exit status) reports a lock
/// that could not be taken.
pub(crate) fn is_lock_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    LOCKED.iter().any(|t| lower.contains(t))
}

fn classify(status: u16, text: &str, errors: &BTreeMap<String, String>) -> ErrorKind {
    let lower = text.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    match status {
        401 => ErrorKind::AuthFailed,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        400 => {
            if errors.values().any(|v| v.contains("already exists")) {
                ErrorKind::AlreadyExists
            } else if !errors.is_empty() {
                ErrorKind::BadParam
            // No `errors` map: PBS, which answers 400 with the plain text
            // of any error a handler raises without a status ("no such
            // datastore 'x'", "datastore 'x' already exists."), so the
            // text decides.
            } else if has(PBS_DENIED) {
                ErrorKind::PermissionDenied
            } else if has(&["already exists"]) {
                ErrorKind::AlreadyExists
            } else if has(NOT_FOUND) {
                ErrorKind::NotFound
            } else if has(LOCKED) {
                ErrorKind::Locked
            } else {
                ErrorKind::BadParam
            }
        }
        // 500 is PVE's "die in a handler": classify by text; an unknown
        // text is a permanent failure (retrying "VM 100 is running - destroy
        // failed" helps nobody).
        500 => {
            if has(LOCKED) {
                ErrorKind::Locked
            } else if has(NOT_FOUND) {
                ErrorKind::NotFound
            } else if has(PBS_DENIED) {
                ErrorKind::PermissionDenied
            } else if has(&["already exists"]) {
                ErrorKind::AlreadyExists
            } else if has(&["timeout", "timed out", "connection refused", "broken pipe"]) {
                ErrorKind::Transient
            } else {
                ErrorKind::Other
            }
        }
        // 501: unknown path or method, or a body on GET/DELETE: a bug, not weather.
        501 => ErrorKind::Other,
        _ if status >= 500 => {
            if has(LOCKED) {
                ErrorKind::Locked
            } else {
                ErrorKind::Transient
            }
        }
        408 | 429 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

fn summarize_errors(errors: &BTreeMap<String, String>) -> String {
    errors
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn canonical_message(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, reason: Option<&str>, body: &str) -> ApiError {
        ApiError::from_response(status, reason, body.as_bytes())
    }

    #[test]
    fn retry_after_reaches_the_engine_and_auth_stops_the_run() {
        let mut e = err(429, None, "");
        e.retry_after = Some(std::time::Duration::from_secs(7));
        let p: lab_core::ProviderError = e.into();
        assert!(p.is_transient());
        assert_eq!(p.retry_after, Some(std::time::Duration::from_secs(7)));
        let p: lab_core::ProviderError = err(401, Some("authentication failure"), "").into();
        assert!(p.is_auth(), "{p:?}");
        assert!(p.message.contains("PVE_TOKEN_SECRET"), "{}", p.message);
        let p: lab_core::ProviderError = err(403, Some("Permission check failed"), "").into();
        assert!(p.is_auth(), "{p:?}");
    }

    #[test]
    fn classification_table() {
        let cases: &[(u16, Option<&str>, &str, ErrorKind, &str)] = &[
            (
                500,
                Some("can't lock file '/var/lock/qemu-server/lock-203.conf' - got timeout"),
                r#"{"data":null}"#,
                ErrorKind::Locked,
                "can't lock file '/var/lock/qemu-server/lock-203.conf' - got timeout",
            ),
            (
                401,
                Some("No ticket"),
                "",
                ErrorKind::AuthFailed,
                "No ticket",
            ),
            (
                401,
                Some("authentication failure"),
                "",
                ErrorKind::AuthFailed,
                "authentication failure",
            ),
            (
                403,
                Some("Permission check failed (/vms/100, VM.Allocate)"),
                r#"{"data":null}"#,
                ErrorKind::PermissionDenied,
                "Permission check failed (/vms/100, VM.Allocate)",
            ),
            (
                400,
                Some("Parameter verification failed."),
                r#"{"errors":{"vmid":"VM 218 already exists"},"data":null}"#,
                ErrorKind::AlreadyExists,
                "Parameter verification failed.",
            ),
            (
                400,
                Some("Parameter verification failed."),
                r#"{"errors":{"cores":"value must have a minimum value of 1"},"data":null}"#,
                ErrorKind::BadParam,
                "Parameter verification failed.",
            ),
            // No reason phrase (canonical): the errors map becomes the message.
            (
                400,
                None,
                r#"{"errors":{"vmid":"VM 218 already exists"},"data":null}"#,
                ErrorKind::AlreadyExists,
                "vmid: VM 218 already exists",
            ),
            (
                500,
                Some("Configuration file 'nodes/pve1/qemu-server/105.conf' does not exist"),
                r#"{"data":null}"#,
                ErrorKind::NotFound,
                "Configuration file 'nodes/pve1/qemu-server/105.conf' does not exist",
            ),
            (
                500,
                Some("unable to create VM 105 - VM 105 already exists on node 'pve1'"),
                r#"{"data":null}"#,
                ErrorKind::AlreadyExists,
                "unable to create VM 105 - VM 105 already exists on node 'pve1'",
            ),
            (
                500,
                Some("VM is locked (clone)"),
                r#"{"data":null}"#,
                ErrorKind::Locked,
                "VM is locked (clone)",
            ),
            (
                500,
                Some("cfs-lock 'file-user_cfg' error: got lock request timeout"),
                r#"{"data":null}"#,
                ErrorKind::Locked,
                "cfs-lock 'file-user_cfg' error: got lock request timeout",
            ),
            (
                500,
                Some("create storage failed: cfs-lock 'file-storage_cfg' error: got lock request timeout"),
                r#"{"data":null}"#,
                ErrorKind::Locked,
                "create storage failed: cfs-lock 'file-storage_cfg' error: got lock request timeout",
            ),
            (
                500,
                Some("got no worker upid - start worker failed"),
                r#"{"data":null}"#,
                ErrorKind::Locked,
                "got no worker upid - start worker failed",
            ),
            (
                500,
                Some("VM 100 is running - destroy failed"),
                r#"{"data":null}"#,
                ErrorKind::Other,
                "VM 100 is running - destroy failed",
            ),
            // Body message when the reason phrase is canonical (absent).
            (
                500,
                None,
                r#"{"data":null,"message":"storage 'x' does not exist\n"}"#,
                ErrorKind::NotFound,
                "storage 'x' does not exist",
            ),
            (
                501,
                Some("Method 'GET /nodes/pve1/nothing' not implemented"),
                r#"{"data":null}"#,
                ErrorKind::Other,
                "Method 'GET /nodes/pve1/nothing' not implemented",
            ),
            (
                596,
                Some("Connection timed out"),
                "",
                ErrorKind::Transient,
                "Connection timed out",
            ),
            (
                599,
                Some("Too many redirections"),
                "",
                ErrorKind::Transient,
                "Too many redirections",
            ),
            (502, None, "", ErrorKind::Transient, "HTTP 502 Bad Gateway"),
            (
                401,
                None,
                "",
                ErrorKind::AuthFailed,
                "HTTP 401 Unauthorized",
            ),
        ];
        for (status, reason, body, kind, message) in cases {
            let e = err(*status, *reason, body);
            assert_eq!(&e.kind, kind, "{status} {reason:?} {body}");
            assert!(
                e.message.starts_with(message),
                "{status} {reason:?}: {:?} does not start with {message:?}",
                e.message
            );
            assert_eq!(e.status, *status);
        }
    }

    #[test]
    fn pmxcfs_lock_timeouts_are_locked_and_retried() {
        for text in [
            "cfs-lock 'file-user_cfg' error: got lock request timeout",
            "cfs-lock 'storage-local' error: got lock request timeout",
            "clone failed: cfs-lock 'storage-nas' error: got lock request timeout",
        ] {
            let e = err(500, Some(text), r#"{"data":null}"#);
            assert_eq!(e.kind, ErrorKind::Locked, "{text}");
            assert!(e.is_transient());
            let p: lab_core::ProviderError = e.into();
            assert!(p.is_transient(), "{text}");
            assert!(is_lock_text(text));
            // Behind a proxy that answers 5xx other than 500.
            assert_eq!(err(503, Some(text), "").kind, ErrorKind::Locked);
        }
    }

    #[test]
    fn transient_and_provider_error() {
        let locked = err(500, Some("can't lock file 'x' - got timeout"), "");
        assert!(locked.is_transient());
        let p: lab_core::ProviderError = locked.into();
        assert!(p.is_transient());
        assert!(p.message.contains("can't lock file"));

        let gone = err(500, Some("VM 100 is running - destroy failed"), "");
        assert!(!gone.is_transient());
        let p: lab_core::ProviderError = gone.into();
        assert!(!p.is_transient());

        assert!(err(599, None, "").is_transient());
        assert!(!err(400, None, r#"{"errors":{"a":"b"}}"#).is_transient());
        assert!(!ApiError::new(ErrorKind::Timeout, "slow").is_transient());
    }

    #[test]
    fn plain_text_bodies_are_the_message() {
        let e = err(400, None, "no such datastore 'nope'\n");
        assert_eq!(e.message, "no such datastore 'nope'");
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = err(
            400,
            None,
            "parameter verification errors\n\nparameter 'name': datastore 'a' already exists.\n",
        );
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
        let e = err(404, None, "Path '/api2/json/x' not found.");
        assert_eq!(e.message, "Path '/api2/json/x' not found.");
        assert_eq!(e.kind, ErrorKind::NotFound);
        // PVE's parameter errors stay parameter errors, whatever they say.
        let e = err(
            400,
            Some("Parameter verification failed."),
            r#"{"errors":{"storage":"storage 'x' does not exist"},"data":null}"#,
        );
        assert_eq!(e.kind, ErrorKind::BadParam);
        let e = err(400, None, "permission check failed");
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        let e = err(
            400,
            None,
            "missing permissions 'Datastore.Backup' on '/datastore/a'",
        );
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        let e = err(403, None, "permission check failed");
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert_eq!(e.message, "permission check failed");
    }

    #[test]
    fn display_appends_errors() {
        let e = err(
            400,
            Some("Parameter verification failed."),
            r#"{"errors":{"net0":"invalid format","cores":"too small"},"data":null}"#,
        );
        assert_eq!(
            e.to_string(),
            "Parameter verification failed. (cores: too small; net0: invalid format)"
        );
        assert_eq!(e.errors.len(), 2);
        let summary_only = err(400, None, r#"{"errors":{"a":"b"}}"#);
        assert_eq!(summary_only.to_string(), "a: b");
    }
}
