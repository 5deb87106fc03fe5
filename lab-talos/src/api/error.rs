//! From transport errors and gRPC statuses to [`ApiError`].
//!
//! The kind decides retrying, so the mapping looks through the whole error
//! chain: a TLS failure hides inside an `io::Error` inside a hyper error
//! inside a tonic `Status` with code `Unavailable`, and it must come out as
//! [`ErrorKind::Tls`], not as a retryable outage.

use std::error::Error as StdError;
use std::io;

use tonic::{Code, Status};

use super::{ApiError, ErrorKind};

/// What the error chain says, most specific first.
enum Cause<'a> {
    /// A TLS failure, as rustls words it.
    Tls(String),
    Io(io::ErrorKind),
    Api(&'a ApiError),
}

/// Whether an `InvalidData` I/O error's text is a rustls error. h2 keeps
/// only the kind and text of the I/O errors it sees (its errors are
/// `Clone`), so after an HTTP/2 connection fails the rustls error is gone
/// and only its `Display` text is left.
fn looks_like_tls(text: &str) -> bool {
    [
        "received fatal alert",
        "invalid peer certificate",
        "peer sent no certificates",
        "peer is incompatible",
        "peer misbehaved",
        "handshake",
    ]
    .iter()
    .any(|marker| text.contains(marker))
}

/// The first TLS error, I/O error kind or [`ApiError`] in the chain.
fn find_cause<'a>(err: &'a (dyn StdError + 'static)) -> Option<Cause<'a>> {
    let mut io_kind = None;
    let mut cur: Option<&'a (dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(Cause::Tls(tls.to_string()));
        }
        if let Some(api) = e.downcast_ref::<ApiError>() {
            return Some(Cause::Api(api));
        }
        // h2's `source` skips the I/O error inside it.
        let ioe = e
            .downcast_ref::<io::Error>()
            .or_else(|| e.downcast_ref::<h2::Error>().and_then(h2::Error::get_io));
        if let Some(ioe) = ioe {
            io_kind.get_or_insert(ioe.kind());
            if let Some(inner) = ioe.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(Cause::Tls(tls.to_string()));
                }
                let text = inner.to_string();
                if ioe.kind() == io::ErrorKind::InvalidData && looks_like_tls(&text) {
                    return Some(Cause::Tls(text));
                }
                // `io::Error::source` skips a custom error's own value, so
                // step into it explicitly.
                cur = Some(inner as &(dyn StdError + 'static));
                continue;
            }
        }
        cur = e.source();
    }
    io_kind.map(Cause::Io)
}

/// Whether an I/O error kind means "no connection".
fn is_unreachable(kind: io::ErrorKind) -> bool {
    use io::ErrorKind as K;
    matches!(
        kind,
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::TimedOut
            | K::UnexpectedEof
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable
    )
}

/// A TLS failure (rustls's text) explained in Talos terms.
pub(crate) fn explain_tls(err: &str) -> String {
    let has = |words: &[&str]| words.iter().any(|w| err.contains(w));
    if has(&["UnknownIssuer", "BadSignature"]) {
        format!(
            "the node's certificate is not signed by the OS CA we trust (unknown authority: {err}); \
             the node was configured with another cluster's secrets, or is still in maintenance mode"
        )
    } else if has(&["NotValidForName", "not valid for name"]) {
        format!(
            "the node's certificate does not name the IP we expect ({err}); wrong node address?"
        )
    } else if has(&["CertificateRequired", "HandshakeFailure"]) {
        format!(
            "the node demands a client certificate ({err}): it is configured, not in maintenance \
             mode, so connect with mTLS and the cluster's credentials"
        )
    } else if has(&["UnknownCA", "BadCertificate", "DecryptError"]) {
        format!(
            "the node rejected our client certificate ({err}): it is not signed by the node's OS CA \
             (credentials of another cluster?)"
        )
    } else if has(&["CertificateExpired", "Expired"]) {
        format!("a certificate has expired ({err}); issue a new client certificate from the bundle")
    } else {
        format!("TLS failed: {err}")
    }
}

/// The error chain below `err`, `": a: b"`, without repeats.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = match e.downcast_ref::<io::Error>().and_then(|i| i.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    parts.iter().map(|p| format!(": {p}")).collect()
}

/// An error from connecting (TCP, TLS, HTTP/2) to `node`.
pub(crate) fn from_connect(what: &str, node: &str, err: &(dyn StdError + 'static)) -> ApiError {
    match find_cause(err) {
        Some(Cause::Api(api)) => api.clone(),
        Some(Cause::Tls(tls)) => ApiError::new(
            ErrorKind::Tls,
            format!("{what} {node}: {}", explain_tls(&tls)),
        ),
        Some(Cause::Io(kind)) if is_unreachable(kind) => ApiError::new(
            ErrorKind::Unreachable,
            format!("{what} {node}: {err}{}", chain_text(err)),
        ),
        _ => ApiError::new(
            ErrorKind::Unreachable,
            format!("{what} {node}: {err}{}", chain_text(err)),
        ),
    }
}

/// The kind a gRPC status code maps to.
pub(crate) fn kind_of_code(code: Code) -> ErrorKind {
    match code {
        Code::InvalidArgument => ErrorKind::InvalidArgument,
        Code::FailedPrecondition => ErrorKind::FailedPrecondition,
        Code::Unavailable => ErrorKind::Unavailable,
        Code::Unimplemented => ErrorKind::Unimplemented,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::DeadlineExceeded => ErrorKind::DeadlineExceeded,
        Code::PermissionDenied | Code::Unauthenticated => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    }
}

/// A failed call `op` on `node`.
pub(crate) fn from_status(op: &str, node: &str, status: &Status) -> ApiError {
    let cause = find_cause(status);
    if let Some(Cause::Tls(tls)) = &cause {
        return ApiError::new(
            ErrorKind::Tls,
            format!("{op} on {node}: {}", explain_tls(tls)),
        );
    }
    if let Some(Cause::Api(api)) = &cause {
        return (*api).clone();
    }
    let mut kind = kind_of_code(status.code());
    if matches!(
        status.code(),
        Code::Unknown | Code::Unavailable | Code::Cancelled
    ) {
        if let Some(Cause::Io(io)) = cause {
            if is_unreachable(io) {
                kind = ErrorKind::Unreachable;
            }
        }
    }
    let hint = match kind {
        // Talos's `CheckControlplane`: "<api> is only available on control
        // plane nodes" (Bootstrap, Kubeconfig on a worker).
        ErrorKind::Unimplemented if status.message().contains("control plane nodes") => {
            " (the node is a worker: call it on a control-plane node)"
        }
        ErrorKind::Unimplemented => {
            " (a node in maintenance mode serves only ApplyConfiguration and Version)"
        }
        _ => "",
    };
    ApiError::new(
        kind,
        format!(
            "{op} on {node}: {:?}: {}{}{hint}",
            status.code(),
            status.message(),
            chain_text(status)
        ),
    )
}

/// A call that ran out of time on the client side.
pub(crate) fn timed_out(op: &str, node: &str, after: std::time::Duration) -> ApiError {
    ApiError::new(
        ErrorKind::DeadlineExceeded,
        format!("{op} on {node}: no answer within {after:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_inside_io_inside_status_is_tls() {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let status = Status::from_error(Box::new(io));
        let e = from_status("Version", "10.0.0.1", &status);
        assert_eq!(e.kind, ErrorKind::Tls, "{e}");
        assert!(e.message.contains("unknown authority"), "{e}");
    }

    #[test]
    fn tls_text_that_h2_kept_is_tls() {
        // What h2 leaves of a TLS alert: kind and text only.
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            "received fatal alert: CertificateRequired",
        );
        let e = from_connect("connecting to", "10.0.0.1", &io);
        assert_eq!(e.kind, ErrorKind::Tls, "{e}");
        assert!(e.message.contains("demands a client certificate"), "{e}");
    }

    #[test]
    fn codes_map_to_kinds() {
        let e = from_status(
            "Bootstrap",
            "n",
            &Status::already_exists("etcd data directory is not empty"),
        );
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
        assert!(e.message.contains("etcd data directory is not empty"));
        let e = from_status("Bootstrap", "n", &Status::unimplemented("x"));
        assert_eq!(e.kind, ErrorKind::Unimplemented);
        assert!(e.message.contains("maintenance"));
        assert_eq!(
            kind_of_code(Code::InvalidArgument),
            ErrorKind::InvalidArgument
        );
        assert_eq!(kind_of_code(Code::Internal), ErrorKind::Other);
    }

    #[test]
    fn refused_connection_is_unreachable() {
        let io = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let e = from_connect("connecting to", "10.0.0.1", &io);
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert!(e.is_transient());
    }
}
