//! Minting: new CAs and client certificates, random tokens and cluster
//! ids; and the checks imported values (tokens, encryption keys, PEM)
//! must pass.

use super::*;

pub(super) enum CaKey {
    Ed25519,
    P256,
}

/// A self-signed CA as siderolabs/crypto's `NewSelfSignedCertificateAuthority`
/// makes it: random 128-bit serial, random 20-byte SubjectKeyId, KeyUsage
/// CertSign|DigitalSignature, ExtKeyUsage ServerAuth+ClientAuth,
/// BasicConstraints CA:TRUE, valid from `now` for [`CA_VALIDITY`].
pub(super) fn new_ca(
    subject: Name,
    kind: CaKey,
    now: OffsetDateTime,
) -> Result<(String, String), SecretsError> {
    let key = match kind {
        CaKey::Ed25519 => keys::generate_ed25519(),
        CaKey::P256 => keys::generate_p256(),
    }
    .map_err(SecretsError::Crypto)?;
    let serial = random_bytes::<16>()?;
    let ski = random_bytes::<20>()?;
    let name_der = subject.to_der();
    let spec = CertSpec {
        serial: &serial,
        subject: &subject,
        not_before: now,
        not_after: now + CA_VALIDITY,
        is_ca: true,
        key_usage: KeyUsage {
            digital_signature: true,
            key_cert_sign: true,
            ..KeyUsage::default()
        },
        ext_key_usage: &[ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth],
        subject_key_id: Some(&ski),
        authority_key_id: None,
    };
    let der = x509::build_certificate(
        &spec,
        &key.pair.subject_public_key_info(),
        &Signer {
            name_der: &name_der,
            key: &key.pair,
        },
    )
    .map_err(SecretsError::Crypto)?;
    Ok((keys::pem_encode(label::CERTIFICATE, &der), key.pem))
}

/// A leaf client certificate signed by `ca`, as siderolabs/crypto's
/// `NewKeyPair` makes it: a fresh key of the CA's kind (Ed25519 for an
/// Ed25519 CA, ECDSA P-256 otherwise), random serial, ExtKeyUsage
/// ClientAuth, AuthorityKeyId = the CA's SubjectKeyId, no SubjectKeyId.
pub(super) fn issue_client_cert(
    ca: &CertAndKey,
    field: &str,
    subject: &Name,
    key_usage: KeyUsage,
    validity: Duration,
) -> Result<ClientCert, SecretsError> {
    if validity.is_zero() {
        return Err(SecretsError::InvalidInput(
            "a client certificate needs a validity longer than zero".into(),
        ));
    }
    let ca_key = keys::load_private_key(ca.key.expose()).map_err(|reason| {
        invalid(
            format!("{field}.key"),
            format!("is not a usable private key: {reason}"),
        )
    })?;
    let leaf = match ca_key.algorithm {
        KeyAlgorithm::Ed25519 => keys::generate_ed25519(),
        _ => keys::generate_p256(),
    }
    .map_err(SecretsError::Crypto)?;
    let now = now_utc();
    let not_after = time::Duration::try_from(validity)
        .ok()
        .and_then(|v| now.checked_add(v))
        .filter(|t| t.year() <= 9999)
        .ok_or_else(|| {
            SecretsError::InvalidInput(
                "the client certificate's validity is too long; certificates cannot end after the year 9999".into(),
            )
        })?;
    let serial = random_bytes::<16>()?;
    let spec = CertSpec {
        serial: &serial,
        subject,
        not_before: now - ALLOWED_TIME_SKEW,
        not_after,
        is_ca: false,
        key_usage,
        ext_key_usage: &[ExtKeyUsage::ClientAuth],
        subject_key_id: None,
        authority_key_id: ca.info.subject_key_id.as_deref(),
    };
    let der = x509::build_certificate(
        &spec,
        &leaf.pair.subject_public_key_info(),
        &Signer {
            name_der: &ca.info.subject_der,
            key: &ca_key.pair,
        },
    )
    .map_err(SecretsError::Crypto)?;
    Ok(ClientCert {
        crt_pem: keys::pem_encode(label::CERTIFICATE, &der),
        key_pem: Secret::new(leaf.pem),
    })
}

/// Now, to the second (certificates carry no fractions).
pub(super) fn now_utc() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

pub(super) fn random_bytes<const N: usize>() -> Result<[u8; N], SecretsError> {
    let mut buf = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| SecretsError::Crypto(format!("the system random source failed: {e}")))?;
    if buf.iter().all(|&b| b == 0) {
        // A zero serial number is invalid; all-zero output means a broken source.
        return Err(SecretsError::Crypto(
            "the system random source returned zeros".into(),
        ));
    }
    Ok(buf)
}

/// 32 random bytes, base64: URL alphabet for contracts up to 1.13, the
/// standard one from 1.14 (both with padding), as talosctl writes them.
pub(super) fn new_cluster_id(contract: VersionContract) -> Result<String, SecretsError> {
    let bytes = random_bytes::<32>()?;
    Ok(if contract >= VersionContract::new(1, 14) {
        STANDARD.encode(bytes)
    } else {
        URL_SAFE.encode(bytes)
    })
}

/// A kubeadm-style token `[a-z0-9]{6}.[a-z0-9]{16}`, drawn like Talos's
/// `genToken` (bytes ≥ 252 rejected so every character is equally likely).
pub(super) fn new_token() -> Result<String, SecretsError> {
    const CHARS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let part = |len: usize| -> Result<String, SecretsError> {
        let mut out = String::with_capacity(len);
        while out.len() < len {
            for b in random_bytes::<32>()? {
                if b < 252 && out.len() < len {
                    out.push(CHARS[(b % 36) as usize] as char);
                }
            }
        }
        Ok(out)
    };
    Ok(format!("{}.{}", part(6)?, part(16)?))
}

pub(super) fn is_token(s: &str) -> bool {
    let ok = |p: &str, n: usize| {
        p.len() == n
            && p.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    s.split_once('.')
        .is_some_and(|(a, b)| ok(a, 6) && ok(b, 16))
}

pub(super) fn base64_any(s: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .ok()
        .filter(|b| !b.is_empty())
}

pub(super) fn check_encryption_key(
    field: &str,
    value: &str,
    lengths: &[usize],
) -> Result<(), SecretsError> {
    let Ok(bytes) = STANDARD.decode(value) else {
        return Err(invalid(
            field,
            "is not base64; copy it unchanged from the original secrets.yaml",
        ));
    };
    if !lengths.contains(&bytes.len()) {
        let want: Vec<String> = lengths.iter().map(usize::to_string).collect();
        return Err(invalid(
            field,
            format!(
                "decodes to {} bytes, but the key must be {} bytes; copy it unchanged from the original secrets.yaml",
                bytes.len(),
                want.join(" or ")
            ),
        ));
    }
    Ok(())
}

/// base64(PEM) → PEM text.
pub(super) fn decode_pem_b64(value: &str, field: &str) -> Result<String, SecretsError> {
    let bytes = STANDARD.decode(value).map_err(|_| {
        invalid(
            field,
            "is not base64 (talosctl writes base64 of the PEM text)",
        )
    })?;
    String::from_utf8(bytes)
        .map_err(|_| invalid(field, "is base64 of binary data, not of PEM text"))
}
