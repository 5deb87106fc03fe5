//! A fresh self-signed certificate per simulator, like a freshly installed
//! Proxmox node (`pve-ssl.pem`, subject `O=PVE Cluster Node`), so clients
//! must pin its fingerprint exactly as they would for a real cluster.
//!
//! The rustls configuration uses the ring provider explicitly; nothing is
//! installed as the process-wide default provider.
//!
//! A node keeps its certificate across restarts, so when the world is
//! persisted the certificate and key are kept beside the state file
//! (`<state>.tls.json`) and reused: the fingerprint to pin stays the same.

use std::path::Path;
use std::sync::Arc;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// The server side of TLS.
pub(crate) struct TlsMaterial {
    /// The acceptor for incoming connections.
    pub acceptor: TlsAcceptor,
    /// SHA-256 of the certificate DER, `AA:BB:...` uppercase.
    pub fingerprint: String,
    /// The certificate, DER encoded.
    pub cert_der: Vec<u8>,
    /// The certificate, PEM encoded.
    pub cert_pem: String,
}

/// `AA:BB:..` SHA-256 fingerprint of a DER certificate.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn material(cert_der: Vec<u8>, key_der: Vec<u8>) -> Result<TlsMaterial, String> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert_der.clone())], key)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let cert_pem = pem_encode(&cert_der);
    Ok(TlsMaterial {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        fingerprint: fingerprint(&cert_der),
        cert_der,
        cert_pem,
    })
}

fn pem_encode(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Reuses the certificate stored in `sidecar` if there is one, else
/// generates a new one (and stores it there).
pub(crate) fn load_or_generate(node: &str, sidecar: Option<&Path>) -> Result<TlsMaterial, String> {
    if let Some(path) = sidecar {
        if let Ok(bytes) = std::fs::read(path) {
            let stored: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            let field = |k: &str| stored.get(k).and_then(|v| v.as_str()).and_then(unhex);
            if let (Some(cert), Some(key)) = (field("cert_der"), field("key_der")) {
                return material(cert, key);
            }
            return Err(format!(
                "{}: not a pve-sim certificate file",
                path.display()
            ));
        }
    }
    let (cert_der, key_der) = generate_der(node)?;
    if let Some(path) = sidecar {
        let stored = serde_json::json!({"cert_der": hex(&cert_der), "key_der": hex(&key_der)});
        std::fs::write(path, stored.to_string())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    material(cert_der, key_der)
}

/// Generates a certificate for `node` (SANs `127.0.0.1`, `localhost` and the
/// node name): DER certificate and PKCS#8 key.
fn generate_der(node: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let key = KeyPair::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let mut sans = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    if !node.is_empty() && node != "localhost" {
        sans.push(node.to_string());
    }
    let mut params =
        CertificateParams::new(sans).map_err(|e| format!("invalid certificate names: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, node);
    dn.push(DnType::OrganizationName, "PVE Cluster Node");
    dn.push(DnType::OrganizationalUnitName, "PVE Cluster Node");
    params.distinguished_name = dn;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_certificates_are_reused() {
        let dir = std::env::temp_dir().join(format!("pve-sim-tls-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("state.tls.json");
        let _ = std::fs::remove_file(&path);
        let first = load_or_generate("pve1", Some(&path)).unwrap();
        let second = load_or_generate("pve1", Some(&path)).unwrap();
        assert_eq!(first.fingerprint, second.fingerprint);
        assert!(first.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(unhex(&hex(&[0, 15, 255])), Some(vec![0, 15, 255]));
        let reference = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        assert_eq!(
            pem_encode(reference.cert.der()).replace("\r\n", "\n"),
            reference.cert.pem().replace("\r\n", "\n")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
