//! The simulated apid's certificates, as Talos makes them.
//!
//! - Maintenance mode: a fresh self-signed Ed25519 certificate, no client
//!   authentication (so clients must skip verification or pin it).
//! - Configured: an Ed25519 server certificate signed by the OS CA from the
//!   applied config, with the node's IP and 127.0.0.1 as IP SANs; a client
//!   certificate signed by the same CA is required (webpki verification).

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ED25519,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::api::tls::{certs_from_pem, key_from_pem, provider};

fn sans(ip: &str) -> Vec<SanType> {
    let mut out = Vec::new();
    for candidate in [ip, "127.0.0.1"] {
        if let Ok(addr) = candidate.parse::<IpAddr>() {
            let san = SanType::IpAddress(addr);
            if !out.contains(&san) {
                out.push(san);
            }
        }
    }
    out
}

fn server_params(ip: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "talos");
    params.distinguished_name = dn;
    params.subject_alt_names = sans(ip);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(365);
    params
}

fn finish(config: ServerConfig) -> Arc<ServerConfig> {
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivatePkcs8KeyDer::from(key.serialize_der()).into()
}

/// Maintenance mode: self-signed, no client auth.
pub(crate) fn maintenance(ip: &str) -> Result<Arc<ServerConfig>, String> {
    let key = KeyPair::generate_for(&PKCS_ED25519).map_err(|e| e.to_string())?;
    let cert = server_params(ip)
        .self_signed(&key)
        .map_err(|e| e.to_string())?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der(&key))
        .map_err(|e| e.to_string())?;
    Ok(finish(config))
}

/// Configured: a server certificate from the OS CA, client certificates
/// required and verified against it.
pub(crate) fn configured(
    ip: &str,
    os_ca_pem: &str,
    os_ca_key_pem: &str,
) -> Result<Arc<ServerConfig>, String> {
    // Talos's `ED25519 PRIVATE KEY` is PKCS#8: read it by label, then hand
    // the DER to rcgen.
    let ca_key = match key_from_pem(os_ca_key_pem, "machine.ca.key").map_err(|e| e.message)? {
        PrivateKeyDer::Pkcs8(der) => KeyPair::try_from(der.secret_pkcs8_der())
            .map_err(|_| "machine.ca.key does not load".to_string())?,
        _ => return Err("machine.ca.key is not an Ed25519 PKCS#8 key".into()),
    };
    let issuer = Issuer::from_ca_cert_pem(os_ca_pem, ca_key)
        .map_err(|e| format!("machine.ca.crt does not load: {e}"))?;
    let key = KeyPair::generate_for(&PKCS_ED25519).map_err(|e| e.to_string())?;
    let cert = server_params(ip)
        .signed_by(&key, &issuer)
        .map_err(|e| e.to_string())?;
    let mut roots = RootCertStore::empty();
    let ca_certs: Vec<CertificateDer<'static>> =
        certs_from_pem(os_ca_pem, "machine.ca.crt").map_err(|e| e.message)?;
    for ca in ca_certs {
        roots
            .add(ca)
            .map_err(|e| format!("machine.ca.crt is not a trust anchor: {e}"))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| e.to_string())?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert.der().clone()], key_der(&key))
        .map_err(|e| e.to_string())?;
    Ok(finish(config))
}

/// The roles (`O=`) of a client certificate.
pub(crate) fn roles_of(cert: &CertificateDer<'_>) -> Vec<String> {
    let pem = pem::encode(&pem::Pem::new("CERTIFICATE", cert.as_ref().to_vec()));
    crate::secrets::CertificateInfo::from_pem(&pem)
        .map(|info| info.subject.organizations)
        .unwrap_or_default()
}
