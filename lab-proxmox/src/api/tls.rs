//! Server certificate verification: fingerprint pinning for self-signed
//! nodes, system roots otherwise, and never "accept anything".
//!
//! A fresh Proxmox node serves a self-signed certificate, so the normal first
//! run fails verification. Instead of an opaque TLS error (or the
//! `insecure = true` that other tools push users to), the verifier records
//! the SHA-256 fingerprint of the certificate it refused, and the client
//! turns it into [`super::ErrorKind::UntrustedCertificate`] with a message
//! that shows the value to pin. With a pinned fingerprint, exactly the
//! end-entity certificate with that SHA-256 (of its DER) is accepted,
//! whatever its issuer, hostname or validity dates: that is what pinning
//! means, and it is how Proxmox's own tools trust a node. The handshake
//! signatures are still verified with the crypto provider's algorithms, so
//! the server must hold the pinned certificate's private key.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use sha2::{Digest, Sha256};

// The fingerprint helpers are lab-core's (the PostgreSQL state store pins
// certificates the same way); re-exported here where lab-proxmox's users
// and the other provider crates have always found them.
pub use lab_core::fingerprint::{
    fingerprints_match, format_fingerprint, normalize_fingerprint, parse_fingerprint,
    sha256_fingerprint,
};

/// Why the verifier refused a certificate; travels inside rustls's error
/// (`CertificateError::Other`) up to the client, which reads it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertRefusal {
    /// Fingerprint of the presented end-entity certificate.
    pub fingerprint: String,
    /// The pinned fingerprint it failed to match, if pinning was on.
    pub pinned: Option<String>,
    /// Why system-root verification failed (unpinned mode).
    pub reason: String,
}

impl fmt::Display for CertRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate {} refused: {}",
            self.fingerprint, self.reason
        )
    }
}

impl std::error::Error for CertRefusal {}

/// The client's [`ServerCertVerifier`].
#[derive(Debug)]
pub(crate) struct Verifier {
    provider: Arc<CryptoProvider>,
    mode: Mode,
}

enum Mode {
    /// Accept exactly this certificate.
    Pinned([u8; 32]),
    /// Verify against the system roots; `None` when no roots could be loaded
    /// (then every certificate is refused, with its fingerprint).
    Roots(Option<Arc<dyn ServerCertVerifier>>, String),
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Pinned(fp) => write!(f, "Pinned({})", format_fingerprint(fp)),
            Mode::Roots(v, _) => write!(f, "Roots(loaded: {})", v.is_some()),
        }
    }
}

impl Verifier {
    /// A verifier that accepts only the certificate whose SHA-256 is `pin`.
    pub(crate) fn pinned(provider: Arc<CryptoProvider>, pin: [u8; 32]) -> Self {
        Verifier {
            provider,
            mode: Mode::Pinned(pin),
        }
    }

    /// A verifier that checks against the platform's roots.
    pub(crate) fn system_roots(provider: Arc<CryptoProvider>) -> Self {
        let mode = match rustls_platform_verifier::Verifier::new(provider.clone()) {
            Ok(v) => Mode::Roots(Some(Arc::new(v)), String::new()),
            Err(e) => Mode::Roots(None, e.to_string()),
        };
        Verifier { provider, mode }
    }

    fn refuse(&self, end_entity: &CertificateDer<'_>, reason: String) -> rustls::Error {
        let refusal = CertRefusal {
            fingerprint: sha256_fingerprint(end_entity.as_ref()),
            pinned: match &self.mode {
                Mode::Pinned(p) => Some(format_fingerprint(p)),
                Mode::Roots(..) => None,
            },
            reason,
        };
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(refusal))))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.mode {
            Mode::Pinned(pin) => {
                let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
                // Not secret material; a plain compare is fine.
                if &got == pin {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(self.refuse(
                        end_entity,
                        "fingerprint does not match the pinned one".into(),
                    ))
                }
            }
            Mode::Roots(Some(inner), _) => inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| self.refuse(end_entity, e.to_string())),
            Mode::Roots(None, why) => Err(self.refuse(
                end_entity,
                format!("no system root certificates available ({why})"),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Finds a [`CertRefusal`] in an error's source chain (reqwest wraps hyper,
/// which wraps an `io::Error` wrapping rustls's error; `io::Error::source`
/// skips its payload, so payloads are inspected explicitly).
pub(crate) fn find_refusal(err: &(dyn std::error::Error + 'static)) -> Option<CertRefusal> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = cur {
        depth += 1;
        if depth > 32 {
            break;
        }
        if let Some(r) = e.downcast_ref::<CertRefusal>() {
            return Some(r.clone());
        }
        if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(other))) =
            e.downcast_ref::<rustls::Error>()
        {
            if let Some(r) = other.0.downcast_ref::<CertRefusal>() {
                return Some(r.clone());
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(r) = find_refusal(inner) {
                    return Some(r);
                }
            }
        }
        cur = e.source();
    }
    None
}

/// Whether an error's source chain holds rustls's verdict that the peer
/// did not speak TLS at all: its first bytes were no TLS record (a plain
/// HTTP server answers `HTTP/1.1 400 ...` to a ClientHello).
pub(crate) fn is_not_tls(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = cur {
        depth += 1;
        if depth > 32 {
            break;
        }
        if let Some(rustls::Error::InvalidMessage(_)) = e.downcast_ref::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if is_not_tls(inner) {
                    return true;
                }
            }
        }
        cur = e.source();
    }
    false
}

/// The rustls client configuration: ring provider, TLS 1.2 and 1.3, our
/// verifier (exactly the certificate with SHA-256 `pin`, or the platform
/// roots), HTTP/1.1 only (pveproxy speaks nothing else). Public for
/// lab-pbs's simulator, which dials a remote simulator with it.
pub fn client_config(pin: Option<[u8; 32]>) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = match pin {
        Some(pin) => Verifier::pinned(provider.clone(), pin),
        None => Verifier::system_roots(provider.clone()),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
