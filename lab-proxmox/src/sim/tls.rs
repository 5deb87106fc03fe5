//! A fresh self-signed certificate per simulator, like a freshly installed
//! Proxmox node (`pve-ssl.pem`, subject `O=PVE Cluster Node`), so clients
//! must pin its fingerprint exactly as they would for a real cluster.
//!
//! The rustls configuration uses the ring provider explicitly; nothing is
//! installed as the process-wide default provider.
//!
//! A node keeps its certificate and its API tokens across restarts, so
//! when the world is persisted its identity is kept beside the state file,
//! in `<state>.tls.json` (mode 0600: it holds the private key and the token
//! secret): the certificate and key (so the fingerprint a client pinned
//! stays valid) and the token id and secret (so a client's token keeps
//! working). A secret given in the configuration replaces the stored one,
//! as regenerating a token does.

use std::path::Path;
use std::sync::Arc;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// The server side of TLS.
pub struct TlsMaterial {
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
pub fn fingerprint(der: &[u8]) -> String {
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

/// What a node keeps across restarts: its TLS material and its token
/// secret.
pub struct Identity {
    /// The TLS material.
    pub tls: TlsMaterial,
    /// The accepted token secret.
    pub token_secret: String,
}

/// Loads the identity stored in `sidecar` if there is one (else generates
/// and stores it): the certificate is reused; the token secret is
/// `secret` if given, else the stored one for `token_id`, else a new one.
pub fn load_or_generate(
    node: &str,
    sidecar: Option<&Path>,
    token_id: &str,
    secret: Option<&str>,
) -> Result<Identity, String> {
    load_or_generate_for("PVE Cluster Node", node, sidecar, token_id, secret)
}

/// [`load_or_generate`] for another product's node: `organization` is the
/// certificate's `O`/`OU` (`Proxmox Backup Server` for the PBS simulator).
pub fn load_or_generate_for(
    organization: &str,
    node: &str,
    sidecar: Option<&Path>,
    token_id: &str,
    secret: Option<&str>,
) -> Result<Identity, String> {
    let Some(path) = sidecar else {
        let (cert_der, key_der) = generate_der(node, organization)?;
        return Ok(Identity {
            tls: material(cert_der, key_der)?,
            token_secret: secret.map_or_else(super::random_secret, str::to_string),
        });
    };
    let stored: Option<serde_json::Value> = match std::fs::read(path) {
        Ok(bytes) => {
            Some(serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let text = |k: &str| {
        stored
            .as_ref()
            .and_then(|s| s.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let (cert_der, key_der) = match &stored {
        Some(_) => match (
            text("cert_der").as_deref().and_then(unhex),
            text("key_der").as_deref().and_then(unhex),
        ) {
            (Some(cert), Some(key)) => (cert, key),
            _ => {
                return Err(format!(
                    "{}: not a simulator certificate file",
                    path.display()
                ))
            }
        },
        None => generate_der(node, organization)?,
    };
    let stored_secret = text("token_secret")
        .filter(|s| !s.is_empty() && text("token_id").as_deref() == Some(token_id));
    let token_secret = match (secret, &stored_secret) {
        (Some(s), _) => s.to_string(),
        (None, Some(s)) => s.clone(),
        (None, None) => super::random_secret(),
    };
    if stored.is_none() || stored_secret.as_deref() != Some(token_secret.as_str()) {
        let record = serde_json::json!({
            "cert_der": hex(&cert_der),
            "key_der": hex(&key_der),
            "token_id": token_id,
            "token_secret": token_secret,
        });
        write_private(path, record.to_string().as_bytes(), true)?;
    }
    Ok(Identity {
        tls: material(cert_der, key_der)?,
        token_secret,
    })
}

/// Writes a file only its owner can read, atomically (a temporary file
/// renamed over it), synced first when `sync` is set. The world's state
/// file uses it too, unsynced (it is written after every change): a
/// simulated node's configs hold what its guests were given.
pub fn write_private(path: &Path, bytes: &[u8], sync: bool) -> Result<(), String> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = |options: &std::fs::OpenOptions| -> std::io::Result<()> {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    };
    write(&options).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Generates a certificate for `node` (SANs `127.0.0.1`, `localhost` and the
/// node name): DER certificate and PKCS#8 key.
fn generate_der(node: &str, organization: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let key = KeyPair::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let mut sans = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    if !node.is_empty() && node != "localhost" {
        sans.push(node.to_string());
    }
    let mut params =
        CertificateParams::new(sans).map_err(|e| format!("invalid certificate names: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, node);
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::OrganizationalUnitName, organization);
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
    fn the_identity_is_kept_and_an_explicit_secret_replaces_the_stored_one() {
        let dir = std::env::temp_dir().join(format!("pve-sim-tls-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("state.tls.json");
        let _ = std::fs::remove_file(&path);
        let first = load_or_generate("pve1", Some(&path), "lab@pve!lab", None).unwrap();
        let second = load_or_generate("pve1", Some(&path), "lab@pve!lab", None).unwrap();
        assert_eq!(first.tls.fingerprint, second.tls.fingerprint);
        assert_eq!(first.token_secret, second.token_secret);
        assert_eq!(first.token_secret.len(), 36);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another token: a new secret; an explicit one is kept from then on.
        let other = load_or_generate("pve1", Some(&path), "ci@pve!ci", None).unwrap();
        assert_ne!(other.token_secret, first.token_secret);
        let given = load_or_generate("pve1", Some(&path), "ci@pve!ci", Some("s3cret")).unwrap();
        assert_eq!(given.token_secret, "s3cret");
        let again = load_or_generate("pve1", Some(&path), "ci@pve!ci", None).unwrap();
        assert_eq!(again.token_secret, "s3cret");
        assert_eq!(again.tls.fingerprint, first.tls.fingerprint);
        // Without a sidecar: fresh each time.
        let a = load_or_generate("pve1", None, "lab@pve!lab", None).unwrap();
        let b = load_or_generate("pve1", None, "lab@pve!lab", None).unwrap();
        assert_ne!(a.tls.fingerprint, b.tls.fingerprint);
        assert!(first
            .tls
            .cert_pem
            .starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(unhex(&hex(&[0, 15, 255])), Some(vec![0, 15, 255]));
        let reference = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        assert_eq!(
            pem_encode(reference.cert.der()).replace("\r\n", "\n"),
            reference.cert.pem().replace("\r\n", "\n")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
