//! The simulated apid's certificates, as Talos makes them.
//!
//! - Maintenance mode: a fresh self-signed Ed25519 certificate, no client
//!   authentication (so clients must skip verification or pin it).
//! - Configured: an Ed25519 server certificate signed by the OS CA from the
//!   applied config, named as Talos names it (siderolabs/talos v1.13.9
//!   `internal/app/machined/pkg/controllers/secrets/api.go`,
//!   `generateControlPlane`/`generateWorker`: `x509.NewKeyPair(ca,
//!   IPAddresses, DNSNames, CommonName(FQDN), KeyUsage(DigitalSignature),
//!   ExtKeyUsage(ServerAuth))`): subject `CN=<FQDN>` and nothing else, the
//!   SANs of [`ServerNames`], and the authority key identifier Go's
//!   `x509.CreateCertificate` copies from the CA's subject key identifier.
//!   Without the name and the identifier OpenSSL-based clients (curl,
//!   Python) take a certificate whose subject equals its issuer's for
//!   self-issued and cannot verify it. A client certificate signed by the
//!   same CA is required (webpki verification).

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ED25519,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::machine_config::ServerNames;
use crate::api::tls::{certs_from_pem, key_from_pem, provider};

/// Maintenance mode's IP SANs: the node's address and 127.0.0.1.
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

/// The maintenance certificate: self-signed, `O=talos`.
fn maintenance_params(ip: &str) -> CertificateParams {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "talos");
    server_params(dn, sans(ip))
}

/// A configured node's certificate: `CN=<FQDN>`, its DNS and IP SANs, the
/// CA's key identifier.
fn configured_params(names: &ServerNames) -> Result<CertificateParams, String> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names.fqdn.as_str());
    let mut sans = Vec::new();
    for name in &names.dns_names {
        let name = name
            .clone()
            .try_into()
            .map_err(|_| format!("`{name}` is not a DNS name"))?;
        sans.push(SanType::DnsName(name));
    }
    sans.extend(names.ips.iter().copied().map(SanType::IpAddress));
    let mut params = server_params(dn, sans);
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn server_params(dn: DistinguishedName, sans: Vec<SanType>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.subject_alt_names = sans;
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
    let cert = maintenance_params(ip)
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
    names: &ServerNames,
    os_ca_pem: &str,
    os_ca_key_pem: &str,
) -> Result<Arc<ServerConfig>, String> {
    let (cert, key) = configured_cert(names, os_ca_pem, os_ca_key_pem)?;
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
        .with_single_cert(vec![cert], key_der(&key))
        .map_err(|e| e.to_string())?;
    Ok(finish(config))
}

/// A configured node's server certificate (see [`configured_params`]) and
/// its fresh Ed25519 key, signed by the OS CA.
fn configured_cert(
    names: &ServerNames,
    os_ca_pem: &str,
    os_ca_key_pem: &str,
) -> Result<(CertificateDer<'static>, KeyPair), String> {
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
    let cert = configured_params(names)?
        .signed_by(&key, &issuer)
        .map_err(|e| e.to_string())?;
    Ok((cert.der().clone(), key))
}

/// The roles (`O=`) of a client certificate.
pub(crate) fn roles_of(cert: &CertificateDer<'_>) -> Vec<String> {
    let pem = pem::encode(&pem::Pem::new("CERTIFICATE", cert.as_ref().to_vec()));
    crate::secrets::CertificateInfo::from_pem(&pem)
        .map(|info| info.subject.organizations)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::{FromDer, X509Certificate};

    /// A CA as Talos makes the OS CA: Ed25519, `O=talos`, with a subject
    /// key identifier.
    fn os_ca() -> (String, String) {
        let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "talos");
        params.distinguished_name = dn;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn configured_certificate_is_named_like_taloss() {
        let (ca_pem, ca_key) = os_ca();
        let names = ServerNames {
            fqdn: "cp1.lab.home".into(),
            dns_names: vec!["cp1".into(), "cp1.lab.home".into()],
            ips: vec!["10.0.10.11".parse().unwrap(), "127.0.0.1".parse().unwrap()],
        };
        let (der, _) = configured_cert(&names, &ca_pem, &ca_key).unwrap();
        let (_, cert) = X509Certificate::from_der(der.as_ref()).unwrap();
        let ca_der = pem::parse(&ca_pem).unwrap().into_contents();
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();

        // Subject: the FQDN alone, never the CA's own `O=talos`.
        assert_eq!(cert.subject().to_string(), "CN=cp1.lab.home");
        assert_eq!(cert.issuer(), ca.subject());
        assert_ne!(cert.subject(), cert.issuer());
        cert.verify_signature(Some(ca.public_key())).unwrap();

        let mut akid = None;
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    akid = a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(d) => dns.push(d.to_string()),
                            GeneralName::IPAddress(ip) => ips.push(ip.to_vec()),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        let ca_skid = ca
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            });
        assert!(ca_skid.is_some());
        assert_eq!(akid, ca_skid, "the AKID is the CA's SKID");
        assert_eq!(dns, ["cp1", "cp1.lab.home"]);
        assert_eq!(ips, [vec![10, 0, 10, 11], vec![127, 0, 0, 1]]);
    }
}
