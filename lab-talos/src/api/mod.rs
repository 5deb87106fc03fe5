//! # The Talos API client (gRPC over TLS, port 50000)
//!
//! A Talos node is driven entirely through apid's gRPC API. This module is
//! the small client lab needs for a node's life cycle: apply a machine
//! config, bootstrap etcd once, fetch the admin kubeconfig, wait for the
//! cluster to be healthy, read the version, upgrade Talos, reset.
//!
//! ## Two ways to connect, and why both exist
//!
//! - **Maintenance mode** (a node booted from the ISO, no config yet) serves
//!   the API with a self-signed certificate and no client authentication:
//!   [`TalosClient::insecure`] accepts any server certificate (trust on first
//!   use; [`TalosClient::insecure_pinned`] checks a SHA-256 fingerprint, e.g.
//!   the one the node prints on its console) and sends no client
//!   certificate. Only `ApplyConfiguration` and `Version` are useful there.
//! - **Configured** nodes demand mutual TLS: [`TalosClient::mtls`] trusts only
//!   the cluster's OS CA ([`Credentials::ca_pem`]), checks the node's
//!   certificate by its **IP address** (Talos puts node IPs in apid's SANs),
//!   and presents a client certificate signed by the OS CA whose `O=` is
//!   the role (`os:admin`, see [`Credentials::admin`]).
//!
//! The classic failure after a first apply ("x509: certificate signed by
//! unknown authority", or a node that suddenly wants a client certificate)
//! is why [`TalosClient::probe`] exists: like the Terraform provider it tries
//! the insecure path first and falls back to mTLS, and both failures are
//! reported as [`ErrorKind::Tls`] with a message saying which case it is.
//!
//! ## Errors
//!
//! Every failure is an [`ApiError`] whose [`ErrorKind`] decides what a
//! caller does: `InvalidArgument` is a bad config (never retry),
//! `Unavailable`, `FailedPrecondition`, `Unreachable` and
//! `DeadlineExceeded` are worth retrying ([`ApiError::is_transient`]).
//! Messages never contain secrets: machine configs and kubeconfigs travel
//! as [`Secret`] and are never formatted.
//!
//! TLS uses rustls with the ring provider and a custom connector (no system
//! roots are involved); connecting times out after [`CONNECT_TIMEOUT`], each
//! unary call after [`DEFAULT_CALL_TIMEOUT`] (see
//! [`TalosClient::set_call_timeout`]).
//!
//! [`FactoryClient`] (module [`factory`]) is the other client here: plain
//! HTTPS to the Image Factory, to register a schematic before Proxmox
//! downloads its ISO; its errors are [`ApiError`]s of the same kinds.

pub(crate) mod client;
mod error;
pub mod factory;
pub(crate) mod proto;
pub(crate) mod tls;

use std::fmt;
use std::time::Duration;

use lab_core::Secret;

use crate::secrets::{SecretsBundle, DEFAULT_CLIENT_CERT_VALIDITY, ROLE_ADMIN};

pub use client::TalosClient;
pub use factory::FactoryClient;

/// The port apid listens on.
pub const APID_PORT: u16 = 50000;

/// How long opening a connection (TCP and TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one unary call may take unless changed with
/// [`TalosClient::set_call_timeout`].
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What a client presents to a configured node: the OS CA to trust and a
/// client certificate signed by it. `Debug` redacts the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The OS CA certificate(s), PEM: the only roots the node's certificate
    /// is checked against.
    pub ca_pem: String,
    /// The client certificate, PEM (its `O=` names the role).
    pub cert_pem: String,
    /// The client key, PEM. Talos writes Ed25519 keys with the label
    /// `ED25519 PRIVATE KEY`; `PRIVATE KEY` (PKCS#8) and `EC PRIVATE KEY`
    /// (SEC1) are read too.
    pub key: Secret,
}

impl Credentials {
    /// Admin credentials issued from the cluster's bundle: a fresh client
    /// certificate with role `os:admin`, valid for a year
    /// ([`DEFAULT_CLIENT_CERT_VALIDITY`]), as `talosctl gen config` writes
    /// into the talosconfig. Issuing is local: nothing is stored.
    pub fn admin(bundle: &SecretsBundle) -> Result<Credentials, ApiError> {
        let cert = bundle
            .admin_client_cert(&[ROLE_ADMIN], DEFAULT_CLIENT_CERT_VALIDITY)
            .map_err(|e| {
                ApiError::new(
                    ErrorKind::Other,
                    format!("issuing the Talos admin client certificate: {e}"),
                )
            })?;
        Ok(Credentials {
            ca_pem: bundle.os_ca().crt_pem().to_owned(),
            cert_pem: cert.crt_pem,
            key: cert.key_pem,
        })
    }
}

/// How a node applies a new machine config (`ApplyConfigurationRequest.Mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApplyMode {
    /// Apply live if possible, reboot otherwise (v1.13; always live on 1.14).
    Auto,
    /// Apply live, or fail with `InvalidArgument` if a reboot is needed.
    NoReboot,
    /// Apply and reboot (rejected outside maintenance mode from 1.14).
    Reboot,
    /// Store the config; it takes effect at the next reboot.
    Staged,
    /// Apply live and roll back after a timeout unless confirmed.
    Try,
}

impl ApplyMode {
    /// The wire value.
    pub(crate) fn to_proto(self) -> i32 {
        use proto::machine::apply_configuration_request::Mode;
        (match self {
            ApplyMode::Auto => Mode::Auto,
            ApplyMode::NoReboot => Mode::NoReboot,
            ApplyMode::Reboot => Mode::Reboot,
            ApplyMode::Staged => Mode::Staged,
            ApplyMode::Try => Mode::Try,
        }) as i32
    }

    /// From the wire value (`None` for values this client doesn't know).
    pub(crate) fn from_proto(value: i32) -> Option<ApplyMode> {
        use proto::machine::apply_configuration_request::Mode;
        Some(match Mode::try_from(value).ok()? {
            Mode::Auto => ApplyMode::Auto,
            Mode::NoReboot => ApplyMode::NoReboot,
            Mode::Reboot => ApplyMode::Reboot,
            Mode::Staged => ApplyMode::Staged,
            Mode::Try => ApplyMode::Try,
        })
    }
}

impl fmt::Display for ApplyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApplyMode::Auto => "auto",
            ApplyMode::NoReboot => "no-reboot",
            ApplyMode::Reboot => "reboot",
            ApplyMode::Staged => "staged",
            ApplyMode::Try => "try",
        })
    }
}

/// What a node did with an applied config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The mode the node actually used: `NoReboot` (applied live) or
    /// `Reboot` (the node reboots now) for [`ApplyMode::Auto`].
    pub mode: ApplyMode,
    /// The node's explanation (for a dry run, the changes it would make).
    pub mode_details: String,
    /// Validation warnings.
    pub warnings: Vec<String>,
}

/// Which API a node serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeMode {
    /// No config yet: insecure TLS, a few calls only.
    Maintenance,
    /// Configured: mTLS with the cluster's OS CA.
    Configured,
}

/// The kind of an [`ApiError`]: what a caller should do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No connection: refused, reset, timed out (node down or rebooting).
    Unreachable,
    /// The TLS handshake failed: unknown authority (the node trusts another
    /// OS CA, or ours signed nothing it presents), a client certificate the
    /// node demands or rejects, a fingerprint mismatch.
    Tls,
    /// The node rejected the request itself, typically a bad machine
    /// config. Fatal: retrying sends the same thing again.
    InvalidArgument,
    /// Not now (bootstrap not available yet, another apply in progress):
    /// retry.
    FailedPrecondition,
    /// The node is up but the service is not (rebooting, apid restarting):
    /// retry.
    Unavailable,
    /// The node doesn't serve this call in its mode (e.g. Bootstrap in
    /// maintenance mode).
    Unimplemented,
    /// Already done (a second Bootstrap); [`TalosClient::bootstrap`] turns it
    /// into success.
    AlreadyExists,
    /// The call or the node's own wait (health check) ran out of time.
    DeadlineExceeded,
    /// The client certificate's role doesn't allow the call.
    PermissionDenied,
    /// Anything else (a malformed answer, an internal node error).
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Tls => "TLS",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::FailedPrecondition => "failed precondition",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unimplemented => "unimplemented",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::DeadlineExceeded => "deadline exceeded",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Other => "error",
        })
    }
}

/// A failed Talos API operation. The message says what was attempted on
/// which node and why it failed; it never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// What kind of failure (decides retrying).
    pub kind: ErrorKind,
    /// Human-readable details.
    pub message: String,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// Whether retrying later may succeed: `Unreachable`, `Unavailable`,
    /// `FailedPrecondition` and `DeadlineExceeded`.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Unreachable
                | ErrorKind::Unavailable
                | ErrorKind::FailedPrecondition
                | ErrorKind::DeadlineExceeded
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_modes_round_trip_the_wire_values() {
        for (mode, wire) in [
            (ApplyMode::Reboot, 0),
            (ApplyMode::Auto, 1),
            (ApplyMode::NoReboot, 2),
            (ApplyMode::Staged, 3),
            (ApplyMode::Try, 4),
        ] {
            assert_eq!(mode.to_proto(), wire);
            assert_eq!(ApplyMode::from_proto(wire), Some(mode));
        }
        assert_eq!(ApplyMode::from_proto(9), None);
    }

    #[test]
    fn transient_kinds() {
        let t = |k| ApiError::new(k, "x").is_transient();
        assert!(t(ErrorKind::Unreachable));
        assert!(t(ErrorKind::Unavailable));
        assert!(t(ErrorKind::FailedPrecondition));
        assert!(t(ErrorKind::DeadlineExceeded));
        assert!(!t(ErrorKind::InvalidArgument));
        assert!(!t(ErrorKind::Tls));
        assert!(!t(ErrorKind::Unimplemented));
    }
}
