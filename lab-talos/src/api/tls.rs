//! rustls configurations for Talos's two TLS modes, and the PEM quirks.
//!
//! Talos's OS CA and client certificates are Ed25519, which rustls (ring)
//! supports in both directions; its key files say `ED25519 PRIVATE KEY`
//! around a plain PKCS#8 document, a label no PEM reader recognises, so keys
//! are decoded here by label. No system roots are ever loaded: a configured
//! node is trusted only through the cluster's OS CA.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    ServerName, UnixTime,
};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{ApiError, Credentials, ErrorKind};

/// The crypto provider every Talos connection uses (ring, as the rest of
/// the workspace).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad_input(message: String) -> ApiError {
    ApiError::new(ErrorKind::Tls, message)
}

/// Every `CERTIFICATE` block of a PEM text, DER.
pub(crate) fn certs_from_pem(
    text: &str,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, ApiError> {
    let blocks =
        pem::parse_many(text).map_err(|e| bad_input(format!("{what} is not PEM ({e})")))?;
    let certs: Vec<CertificateDer<'static>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.into_contents()))
        .collect();
    if certs.is_empty() {
        return Err(bad_input(format!(
            "{what} holds no `-----BEGIN CERTIFICATE-----` block"
        )));
    }
    Ok(certs)
}

/// A private key in any PEM encoding Talos or rustls users write:
/// `ED25519 PRIVATE KEY` (Talos's label for PKCS#8) and `PRIVATE KEY`
/// (PKCS#8), `EC PRIVATE KEY` (SEC1), `RSA PRIVATE KEY` (PKCS#1). Error
/// messages never include key material.
pub(crate) fn key_from_pem(text: &str, what: &str) -> Result<PrivateKeyDer<'static>, ApiError> {
    let block = pem::parse(text).map_err(|_| {
        bad_input(format!(
            "{what} is not a PEM private key (expected `-----BEGIN ED25519 PRIVATE KEY-----` or `-----BEGIN PRIVATE KEY-----`)"
        ))
    })?;
    let tag = block.tag().to_owned();
    let der = block.into_contents();
    Ok(match tag.as_str() {
        "ED25519 PRIVATE KEY" | "PRIVATE KEY" => PrivatePkcs8KeyDer::from(der).into(),
        "EC PRIVATE KEY" => PrivateSec1KeyDer::from(der).into(),
        "RSA PRIVATE KEY" => PrivatePkcs1KeyDer::from(der).into(),
        other => {
            return Err(bad_input(format!(
                "{what} is a `{other}` PEM block, not a private key"
            )))
        }
    })
}

/// SHA-256 of a certificate's DER, lowercase hex (the fingerprint Talos
/// prints for maintenance mode).
pub(crate) fn fingerprint(cert: &CertificateDer<'_>) -> String {
    crate::sha256_hex(cert.as_ref())
}

/// Accepts any server certificate (maintenance mode is trust on first use),
/// or only the one with a pinned SHA-256 fingerprint. Handshake signatures
/// are still verified, so the peer holds the key of the certificate it sent.
#[derive(Debug)]
struct MaintenanceVerifier {
    provider: Arc<CryptoProvider>,
    pin: Option<String>,
}

impl ServerCertVerifier for MaintenanceVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pin {
            Some(pin) if *pin != fingerprint(end_entity) => Err(rustls::Error::General(format!(
                "the node's certificate fingerprint {} is not the pinned {pin}",
                fingerprint(end_entity)
            ))),
            _ => Ok(ServerCertVerified::assertion()),
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

fn with_h2(mut config: ClientConfig) -> Arc<ClientConfig> {
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// Maintenance mode: no client certificate, any (or the pinned) server
/// certificate.
pub(crate) fn insecure_config(pin: Option<&str>) -> Result<Arc<ClientConfig>, ApiError> {
    let pin = match pin {
        None => None,
        Some(p) => {
            let p: String = p
                .chars()
                .filter(|c| *c != ':')
                .collect::<String>()
                .to_ascii_lowercase();
            if p.len() != 64 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ApiError::new(
                    ErrorKind::InvalidArgument,
                    "a certificate fingerprint is 64 hex digits (SHA-256), optionally colon-separated",
                ));
            }
            Some(p)
        }
    };
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad_input(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(MaintenanceVerifier { provider, pin }))
        .with_no_client_auth();
    Ok(with_h2(config))
}

/// Configured nodes: trust only the OS CA, present the client certificate.
pub(crate) fn mtls_config(creds: &Credentials) -> Result<Arc<ClientConfig>, ApiError> {
    let mut roots = RootCertStore::empty();
    for ca in certs_from_pem(&creds.ca_pem, "the OS CA (ca_pem)")? {
        roots.add(ca).map_err(|e| {
            bad_input(format!(
                "the OS CA (ca_pem) is not a usable trust anchor: {e}"
            ))
        })?;
    }
    let chain = certs_from_pem(&creds.cert_pem, "the client certificate (cert_pem)")?;
    let key = key_from_pem(creds.key.expose(), "the client key")?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad_input(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| {
            bad_input(format!(
                "the client certificate and key do not load together: {e}"
            ))
        })?;
    Ok(with_h2(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn talos_key_label_is_read_as_pkcs8() {
        let pkcs8 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let talos = pkcs8
            .serialize_pem()
            .replace("PRIVATE KEY", "ED25519 PRIVATE KEY");
        assert!(matches!(
            key_from_pem(&talos, "k").unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));
        let err = key_from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "k",
        )
        .unwrap_err();
        assert!(err.message.contains("not a private key"), "{err}");
    }

    #[test]
    fn pins_are_normalised_and_checked() {
        assert!(insecure_config(Some("zz")).is_err());
        let colon = vec!["AB"; 32].join(":");
        assert!(insecure_config(Some(&colon)).is_ok());
    }
}
