//! Private keys and PEM, in the encodings Talos (Go) writes.
//!
//! Talos stores the OS CA key as `ED25519 PRIVATE KEY` wrapping a PKCS#8 v1
//! document (Go's `x509.MarshalPKCS8PrivateKey`, no public key inside),
//! ECDSA keys as SEC1 `EC PRIVATE KEY` (Go's `x509.MarshalECPrivateKey`:
//! version 1, the private scalar, `[0]` named curve, `[1]` public point) and
//! RSA keys as PKCS#1 `RSA PRIVATE KEY`. `ring` (behind rcgen) reads and
//! writes PKCS#8 only, and writes Ed25519 as PKCS#8 v2 and ECDSA without the
//! `[0]` curve, so this module converts in both directions and re-encodes
//! generated keys byte-compatibly with Go.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::der::{self, tag, DerError};
use super::x509::KeyAlgorithm;

/// PEM labels, exactly as Talos writes them.
pub(crate) mod label {
    pub const CERTIFICATE: &str = "CERTIFICATE";
    pub const ED25519: &str = "ED25519 PRIVATE KEY";
    pub const EC: &str = "EC PRIVATE KEY";
    pub const RSA: &str = "RSA PRIVATE KEY";
}

/// Object identifiers (DER content bytes).
pub(crate) mod oid {
    /// 1.3.101.112
    pub const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    /// 1.2.840.10045.2.1
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// 1.2.840.10045.3.1.7 (prime256v1)
    pub const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// 1.3.132.0.34 (secp384r1)
    pub const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    /// 1.2.840.113549.1.1.1
    pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// 1.2.840.10045.4.3.2
    pub const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    /// 1.2.840.10045.4.3.3
    pub const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    /// 1.2.840.10045.4.3.4
    pub const ECDSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
    /// 1.2.840.113549.1.1.11
    pub const RSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    /// 1.2.840.113549.1.1.12
    pub const RSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
    /// 1.2.840.113549.1.1.13
    pub const RSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
    /// 2.5.4.3
    pub const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    /// 2.5.4.10
    pub const ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
    /// 2.5.29.14
    pub const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
    /// 2.5.29.15
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    /// 2.5.29.19
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    /// 2.5.29.35
    pub const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
    /// 2.5.29.37
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    /// 1.3.6.1.5.5.7.3.1
    pub const EKU_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    /// 1.3.6.1.5.5.7.3.2
    pub const EKU_CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
}

/// PEM as Go's `pem.EncodeToMemory` writes it: 64-column base64, LF line
/// ends, a final newline.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// The first PEM block of `text`: its label and DER content. The error is
/// generic on purpose: it is shown for private-key input.
pub(crate) fn pem_decode(text: &str) -> Result<(String, Vec<u8>), &'static str> {
    let block = pem::parse(text).map_err(|_| "it is not a PEM block")?;
    Ok((block.tag().to_string(), block.into_contents()))
}

/// A private key read for signing or checking against a certificate.
pub(crate) struct LoadedKey {
    pub pair: rcgen::KeyPair,
    pub algorithm: KeyAlgorithm,
}

/// Reads a private key in one of the PEM encodings Talos writes.
pub(crate) fn load_private_key(pem_text: &str) -> Result<LoadedKey, String> {
    let (label, der) = pem_decode(pem_text).map_err(str::to_string)?;
    let (pkcs8, algorithm) = match label.as_str() {
        label::ED25519 => {
            check_ed25519_pkcs8(&der)
                .map_err(|e| format!("the Ed25519 PKCS#8 key is malformed ({e})"))?;
            (der, KeyAlgorithm::Ed25519)
        }
        label::EC => {
            let curve =
                sec1_curve(&der).map_err(|e| format!("the SEC1 EC key is malformed ({e})"))?;
            let algorithm = match curve.as_slice() {
                oid::P256 => KeyAlgorithm::EcdsaP256,
                oid::P384 => KeyAlgorithm::EcdsaP384,
                _ => return Err("the EC key is on a curve other than P-256 or P-384".into()),
            };
            (ec_sec1_to_pkcs8(&der, &curve), algorithm)
        }
        label::RSA => {
            let bits = rsa_pkcs1_bits(&der)
                .map_err(|e| format!("the PKCS#1 RSA key is malformed ({e})"))?;
            (rsa_pkcs1_to_pkcs8(&der), KeyAlgorithm::Rsa { bits })
        }
        other => {
            return Err(format!(
                "the PEM label is `{other}`, but Talos reads only `{}`, `{}` or `{}`",
                label::ED25519,
                label::EC,
                label::RSA
            ))
        }
    };
    let pair = rcgen::KeyPair::try_from(pkcs8.as_slice()).map_err(|_| {
        "the key does not load (inconsistent or unsupported key material)".to_string()
    })?;
    Ok(LoadedKey { pair, algorithm })
}

/// Checks a PKCS#8 document holds an Ed25519 key.
fn check_ed25519_pkcs8(der: &[u8]) -> Result<(), DerError> {
    let outer = der::parse_single(der, tag::SEQUENCE, "expected a PKCS#8 sequence")?;
    let mut r = outer.reader();
    r.expect(tag::INTEGER, "expected a version")?;
    let alg = r.expect(tag::SEQUENCE, "expected an algorithm identifier")?;
    let alg_oid = alg.reader().expect(tag::OID, "expected an algorithm OID")?;
    if alg_oid.value != oid::ED25519 {
        return Err(DerError("the algorithm is not Ed25519"));
    }
    let key = r.expect(tag::OCTET_STRING, "expected the private key")?;
    let seed = der::parse_single(key.value, tag::OCTET_STRING, "expected the Ed25519 seed")?;
    if seed.value.len() != 32 {
        return Err(DerError("the Ed25519 seed is not 32 bytes"));
    }
    Ok(())
}

/// The named curve (`[0]`) of a SEC1 `ECPrivateKey`.
fn sec1_curve(der: &[u8]) -> Result<Vec<u8>, DerError> {
    let outer = der::parse_single(der, tag::SEQUENCE, "expected an ECPrivateKey sequence")?;
    let mut r = outer.reader();
    let version = r.expect(tag::INTEGER, "expected a version")?;
    if der::small_uint(&version)? != 1 {
        return Err(DerError("unsupported ECPrivateKey version"));
    }
    r.expect(tag::OCTET_STRING, "expected the private key")?;
    let params = r
        .optional(tag::context(0))?
        .ok_or(DerError("the key does not name its curve"))?;
    let curve = der::parse_single(params.value, tag::OID, "expected a named curve")?;
    Ok(curve.value.to_vec())
}

/// Wraps a SEC1 key into PKCS#8 (ring accepts the inner `[0]` when it names
/// the same curve as the algorithm identifier).
fn ec_sec1_to_pkcs8(sec1: &[u8], curve: &[u8]) -> Vec<u8> {
    let alg = der::sequence(&[&der::oid(oid::EC_PUBLIC_KEY), &der::oid(curve)]);
    der::sequence(&[&der::uint(&[0]), &alg, &der::tlv(tag::OCTET_STRING, sec1)])
}

/// Re-encodes ring's PKCS#8 ECDSA key as Go's SEC1 `ECPrivateKey`:
/// version 1, private key, `[0]` named curve, `[1]` public key.
pub(crate) fn ec_pkcs8_to_sec1(pkcs8: &[u8]) -> Result<Vec<u8>, DerError> {
    let outer = der::parse_single(pkcs8, tag::SEQUENCE, "expected a PKCS#8 sequence")?;
    let mut r = outer.reader();
    r.expect(tag::INTEGER, "expected a version")?;
    let alg = r.expect(tag::SEQUENCE, "expected an algorithm identifier")?;
    let mut alg_r = alg.reader();
    if alg_r.expect(tag::OID, "expected an algorithm OID")?.value != oid::EC_PUBLIC_KEY {
        return Err(DerError("not an EC key"));
    }
    let curve = alg_r.expect(tag::OID, "expected a named curve")?;
    let inner = r.expect(tag::OCTET_STRING, "expected the private key")?;
    let ec = der::parse_single(inner.value, tag::SEQUENCE, "expected an ECPrivateKey")?;
    let mut ec_r = ec.reader();
    let version = ec_r.expect(tag::INTEGER, "expected a version")?;
    if der::small_uint(&version)? != 1 {
        return Err(DerError("unsupported ECPrivateKey version"));
    }
    let private = ec_r.expect(tag::OCTET_STRING, "expected the private scalar")?;
    ec_r.optional(tag::context(0))?;
    let public = ec_r
        .optional(tag::context(1))?
        .ok_or(DerError("the key has no public point"))?;
    Ok(der::sequence(&[
        &der::uint(&[1]),
        private.raw,
        &der::tlv(tag::context(0), curve.raw),
        public.raw,
    ]))
}

/// The private key octet string of a PKCS#8 `PrivateKeyInfo` (version,
/// algorithm, key) whose algorithm is `algorithm`; `other` says what it is
/// not.
fn pkcs8_private_key<'a>(
    pkcs8: &'a [u8],
    algorithm: &[u8],
    other: &'static str,
) -> Result<der::Tlv<'a>, DerError> {
    let outer = der::parse_single(pkcs8, tag::SEQUENCE, "expected a PKCS#8 sequence")?;
    let mut r = outer.reader();
    r.expect(tag::INTEGER, "expected a version")?;
    let alg = r.expect(tag::SEQUENCE, "expected an algorithm identifier")?;
    if alg
        .reader()
        .expect(tag::OID, "expected an algorithm OID")?
        .value
        != algorithm
    {
        return Err(DerError(other));
    }
    r.expect(tag::OCTET_STRING, "expected the private key")
}

/// Re-encodes ring's PKCS#8 v2 Ed25519 key as Go's PKCS#8 v1 (version 0,
/// algorithm, seed; no public key).
pub(crate) fn ed25519_pkcs8_v1(pkcs8: &[u8]) -> Result<Vec<u8>, DerError> {
    let key = pkcs8_private_key(pkcs8, oid::ED25519, "not an Ed25519 key")?;
    Ok(der::sequence(&[
        &der::uint(&[0]),
        &der::sequence(&[&der::oid(oid::ED25519)]),
        key.raw,
    ]))
}

/// Wraps a PKCS#1 RSA key into PKCS#8.
fn rsa_pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let alg = der::sequence(&[&der::oid(oid::RSA_ENCRYPTION), &der::tlv(tag::NULL, &[])]);
    der::sequence(&[&der::uint(&[0]), &alg, &der::tlv(tag::OCTET_STRING, pkcs1)])
}

/// The modulus size of a PKCS#1 `RSAPrivateKey`.
fn rsa_pkcs1_bits(der: &[u8]) -> Result<usize, DerError> {
    let outer = der::parse_single(der, tag::SEQUENCE, "expected an RSAPrivateKey sequence")?;
    let mut r = outer.reader();
    r.expect(tag::INTEGER, "expected a version")?;
    let modulus = r.expect(tag::INTEGER, "expected the modulus")?;
    Ok(integer_bits(modulus.value))
}

/// The bit length of a non-negative INTEGER's content.
pub(crate) fn integer_bits(content: &[u8]) -> usize {
    let skip = content.iter().take_while(|&&b| b == 0).count();
    match content.get(skip) {
        Some(&first) => (content.len() - skip) * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// A freshly generated key, in ring's form (for signing) and Go's PEM.
pub(crate) struct GeneratedKey {
    pub pair: rcgen::KeyPair,
    pub pem: String,
}

/// Generates an Ed25519 key (`ED25519 PRIVATE KEY`, PKCS#8 v1).
pub(crate) fn generate_ed25519() -> Result<GeneratedKey, String> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .map_err(|e| format!("Ed25519 key generation failed: {e}"))?;
    let v1 = ed25519_pkcs8_v1(&pair.serialize_der())
        .map_err(|e| format!("re-encoding the Ed25519 key failed: {e}"))?;
    Ok(GeneratedKey {
        pem: pem_encode(label::ED25519, &v1),
        pair,
    })
}

/// Generates an ECDSA P-256 key (`EC PRIVATE KEY`, SEC1 as Go writes it).
pub(crate) fn generate_p256() -> Result<GeneratedKey, String> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("ECDSA P-256 key generation failed: {e}"))?;
    let sec1 = ec_pkcs8_to_sec1(&pair.serialize_der())
        .map_err(|e| format!("re-encoding the ECDSA key failed: {e}"))?;
    Ok(GeneratedKey {
        pem: pem_encode(label::EC, &sec1),
        pair,
    })
}

/// Generates an RSA key (`RSA PRIVATE KEY`, PKCS#1) of 2048, 3072 or 4096
/// bits.
///
/// AWS-LC (C and assembly) generates it: a pure-Rust bignum is minutes for
/// 4096 bits in a user's unoptimised debug build, and a library cannot set
/// its dependencies' opt-level for its users. AWS-LC writes PKCS#8; the
/// PKCS#1 `RSAPrivateKey` is its inner octet string, re-wrapped in Go's PEM
/// layout.
pub(crate) fn generate_rsa_pem(bits: usize) -> Result<String, String> {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        other => return Err(format!("RSA keys of {other} bits are not generated")),
    };
    let pair = KeyPair::generate(size).map_err(|_| "RSA key generation failed".to_string())?;
    let pkcs8 = pair
        .as_der()
        .map_err(|_| "encoding the RSA key failed".to_string())?;
    let pkcs1 = rsa_pkcs8_to_pkcs1(pkcs8.as_ref())
        .map_err(|e| format!("re-encoding the RSA key failed: {e}"))?;
    Ok(pem_encode(label::RSA, pkcs1))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (version,
/// `rsaEncryption` algorithm, the key as an octet string).
fn rsa_pkcs8_to_pkcs1(pkcs8: &[u8]) -> Result<&[u8], DerError> {
    let key = pkcs8_private_key(pkcs8, oid::RSA_ENCRYPTION, "not an RSA key")?;
    der::parse_single(key.value, tag::SEQUENCE, "expected an RSAPrivateKey")?;
    Ok(key.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ecdsa_key_has_go_sec1_layout_and_reloads() {
        let key = generate_p256().unwrap();
        assert!(key.pem.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        let (_, der) = pem_decode(&key.pem).unwrap();
        // Go: 30 77 02 01 01 04 20 <32> a0 0a 06 08 <P-256> a1 44 03 42 00 04 <64>
        assert_eq!(der.len(), 121);
        assert_eq!(&der[..7], &[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
        assert_eq!(&der[39..41], &[0xa0, 0x0a]);
        assert_eq!(&der[43..51], oid::P256);
        assert_eq!(&der[51..56], &[0xa1, 0x44, 0x03, 0x42, 0x00]);
        let loaded = load_private_key(&key.pem).unwrap();
        assert_eq!(loaded.algorithm, KeyAlgorithm::EcdsaP256);
        use rcgen::PublicKeyData as _;
        assert_eq!(loaded.pair.der_bytes(), key.pair.der_bytes());
    }

    #[test]
    fn generated_ed25519_key_is_pkcs8_v1_and_reloads() {
        let key = generate_ed25519().unwrap();
        let (label, der) = pem_decode(&key.pem).unwrap();
        assert_eq!(label, label::ED25519);
        // Go: 30 2e 02 01 00 30 05 06 03 2b 65 70 04 22 04 20 <32>
        assert_eq!(der.len(), 48);
        assert_eq!(
            &der[..16],
            &[
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20
            ]
        );
        let loaded = load_private_key(&key.pem).unwrap();
        assert_eq!(loaded.algorithm, KeyAlgorithm::Ed25519);
        use rcgen::PublicKeyData as _;
        assert_eq!(loaded.pair.der_bytes(), key.pair.der_bytes());
    }

    #[test]
    fn generated_rsa_key_is_pkcs1_4096_bits_and_reloads() {
        let pem = generate_rsa_pem(4096).unwrap();
        let (label, der) = pem_decode(&pem).unwrap();
        assert_eq!(label, label::RSA);
        // PKCS#1 RSAPrivateKey: SEQUENCE (long form, two length bytes),
        // version 0, then the modulus INTEGER.
        assert_eq!(&der[..2], &[0x30, 0x82]);
        assert_eq!(&der[4..7], &[0x02, 0x01, 0x00]);
        assert_eq!(rsa_pkcs1_bits(&der).unwrap(), 4096);
        // ring (behind rcgen) checks the key's consistency as it loads it.
        let loaded = load_private_key(&pem).unwrap();
        assert_eq!(loaded.algorithm, KeyAlgorithm::Rsa { bits: 4096 });
        // Go's layout: 64-column lines, LF, a final newline.
        assert!(pem.lines().skip(1).take(3).all(|l| l.len() == 64));
        assert!(pem.ends_with("-----END RSA PRIVATE KEY-----\n"));
        // Two keys differ.
        assert_ne!(
            generate_rsa_pem(2048).unwrap(),
            generate_rsa_pem(2048).unwrap()
        );
        assert!(generate_rsa_pem(1024).is_err());
    }

    #[test]
    fn pem_layout_is_gos() {
        let pem = pem_encode("X", &[0u8; 96]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN X-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3], "-----END X-----");
        assert!(pem.ends_with("-----\n"));
    }

    #[test]
    fn rejects_foreign_labels_without_echoing_content() {
        let pem = pem_encode("PRIVATE KEY", b"secret material");
        let err = load_private_key(&pem).err().unwrap();
        assert!(err.contains("`PRIVATE KEY`"));
        assert!(!err.contains("c2VjcmV0"));
    }

    #[test]
    fn integer_bits_counts_the_magnitude() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x01]), 1);
        assert_eq!(integer_bits(&[0x00]), 0);
    }
}
