//! X.509 certificates: built the way Go's `crypto/x509` builds Talos's, and
//! read back for validation and inspection.
//!
//! rcgen generates the keys and signs, but its certificate builder cannot
//! express what Talos writes: several `O=` values in one name (one per
//! admin role), Go's extension order, PrintableString attributes, random
//! subject key ids and no subject key id on leaves. So the TBSCertificate
//! is assembled here with the small DER writer and signed with rcgen's
//! [`rcgen::SigningKey`]. The reader extracts only what lab checks: names,
//! validity, key and signature algorithms, CA flags, key usages and key ids.

use time::{Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::der::{self, tag, DerError, Tlv};
use super::keys::{integer_bits, oid};

/// The public-key algorithm of a certificate or private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// Ed25519 (the Talos OS CA and admin certificates).
    Ed25519,
    /// ECDSA on NIST P-256 (the Kubernetes, aggregator and etcd CAs).
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// RSA with a modulus of `bits` bits (the service-account key; CAs
    /// imported from a kubeadm PKI).
    Rsa {
        /// Modulus size.
        bits: usize,
    },
}

/// The algorithm a certificate is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// Pure Ed25519.
    Ed25519,
    /// ECDSA with SHA-256.
    EcdsaSha256,
    /// ECDSA with SHA-384.
    EcdsaSha384,
    /// ECDSA with SHA-512.
    EcdsaSha512,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-384.
    RsaSha384,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RsaSha512,
    /// Anything else.
    Other,
}

/// The parts of a distinguished name Talos and Kubernetes use: `O=` (a
/// Talos role or Kubernetes group each) and `CN=` (a Kubernetes user).
/// Other attributes are ignored when reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    /// Every `O=` value, in order.
    pub organizations: Vec<String>,
    /// The `CN=` value, if any.
    pub common_name: Option<String>,
}

impl Name {
    /// A name with only organizations.
    pub(crate) fn organizations<S: AsRef<str>>(orgs: &[S]) -> Self {
        Name {
            organizations: orgs.iter().map(|o| o.as_ref().to_string()).collect(),
            common_name: None,
        }
    }

    /// Go's `pkix.Name.ToRDNSequence` encoding: all `O=` values in one
    /// (multi-valued, DER-sorted) RDN, then `CN=`; PrintableString when the
    /// value allows it, UTF8String otherwise.
    pub(crate) fn to_der(&self) -> Vec<u8> {
        let mut rdns: Vec<Vec<u8>> = Vec::new();
        if !self.organizations.is_empty() {
            let mut atvs: Vec<Vec<u8>> = self
                .organizations
                .iter()
                .map(|o| attribute(oid::ORGANIZATION, o))
                .collect();
            atvs.sort();
            let parts: Vec<&[u8]> = atvs.iter().map(Vec::as_slice).collect();
            rdns.push(der::constructed(tag::SET, &parts));
        }
        if let Some(cn) = &self.common_name {
            rdns.push(der::constructed(
                tag::SET,
                &[&attribute(oid::COMMON_NAME, cn)],
            ));
        }
        let parts: Vec<&[u8]> = rdns.iter().map(Vec::as_slice).collect();
        der::sequence(&parts)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = self
            .organizations
            .iter()
            .map(|o| format!("O={o}"))
            .collect();
        if let Some(cn) = &self.common_name {
            parts.push(format!("CN={cn}"));
        }
        if parts.is_empty() {
            f.write_str("(empty)")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

fn attribute(attr_oid: &[u8], value: &str) -> Vec<u8> {
    let printable = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?*".contains(&b));
    let string_tag = if printable {
        tag::PRINTABLE_STRING
    } else {
        tag::UTF8_STRING
    };
    der::sequence(&[&der::oid(attr_oid), &der::tlv(string_tag, value.as_bytes())])
}

/// The key-usage bits lab cares about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// `digitalSignature`.
    pub digital_signature: bool,
    /// `keyEncipherment`.
    pub key_encipherment: bool,
    /// `keyCertSign`: the key may sign certificates.
    pub key_cert_sign: bool,
}

impl KeyUsage {
    /// The first byte of the KeyUsage BIT STRING.
    fn bits(self) -> u8 {
        (if self.digital_signature { 0x80 } else { 0 })
            | (if self.key_encipherment { 0x20 } else { 0 })
            | (if self.key_cert_sign { 0x04 } else { 0 })
    }
}

/// An extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtKeyUsage {
    /// TLS server authentication.
    ServerAuth,
    /// TLS client authentication.
    ClientAuth,
    /// Any other purpose.
    Other,
}

/// What lab reads from a certificate: enough to validate a bundle and to
/// report on CAs and client certificates (issuer, subject, expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// The serial number's content bytes (big-endian).
    pub serial_number: Vec<u8>,
    /// How the issuer signed it.
    pub signature_algorithm: SignatureAlgorithm,
    /// The issuer's name.
    pub issuer: Name,
    /// The subject's name.
    pub subject: Name,
    /// Start of validity (UTC).
    pub not_before: OffsetDateTime,
    /// End of validity (UTC).
    pub not_after: OffsetDateTime,
    /// The subject's public-key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// BasicConstraints `CA:TRUE`.
    pub is_ca: bool,
    /// The KeyUsage extension, if present.
    pub key_usage: Option<KeyUsage>,
    /// The ExtendedKeyUsage purposes, in order.
    pub ext_key_usage: Vec<ExtKeyUsage>,
    /// The SubjectKeyIdentifier, if present.
    pub subject_key_id: Option<Vec<u8>>,
    /// The AuthorityKeyIdentifier's key id, if present.
    pub authority_key_id: Option<Vec<u8>>,
    /// The subject's encoded name, copied into certificates it issues.
    pub(crate) subject_der: Vec<u8>,
    /// The subjectPublicKey bits.
    pub(crate) public_key: Vec<u8>,
}

impl CertificateInfo {
    /// Reads a DER certificate.
    pub(crate) fn from_der(data: &[u8]) -> Result<Self, DerError> {
        let cert = der::parse_single(data, tag::SEQUENCE, "expected a certificate sequence")?;
        let mut cert_r = cert.reader();
        let tbs = cert_r.expect(tag::SEQUENCE, "expected a TBSCertificate")?;
        let outer_alg = cert_r.expect(tag::SEQUENCE, "expected a signature algorithm")?;
        let signature = cert_r.expect(tag::BIT_STRING, "expected a signature")?;
        cert_r.finish("data after the signature")?;
        der::bit_string_bytes(&signature)?;

        let mut r = tbs.reader();
        if let Some(version) = r.optional(tag::context(0))? {
            let v = der::parse_single(version.value, tag::INTEGER, "expected a version")?;
            if der::small_uint(&v)? != 2 {
                return Err(DerError("not an X.509 v3 certificate"));
            }
        } else {
            return Err(DerError("not an X.509 v3 certificate"));
        }
        let serial = r.expect(tag::INTEGER, "expected a serial number")?;
        let inner_alg = r.expect(tag::SEQUENCE, "expected a signature algorithm")?;
        if inner_alg.raw != outer_alg.raw {
            return Err(DerError("the two signature algorithms differ"));
        }
        let issuer = r.expect(tag::SEQUENCE, "expected an issuer name")?;
        let validity = r.expect(tag::SEQUENCE, "expected a validity")?;
        let subject = r.expect(tag::SEQUENCE, "expected a subject name")?;
        let spki = r.expect(tag::SEQUENCE, "expected a subject public key")?;
        r.optional(tag::context_primitive(1))?;
        r.optional(tag::context_primitive(2))?;
        let extensions = r.optional(tag::context(3))?;
        r.finish("unexpected data in the TBSCertificate")?;

        let mut validity_r = validity.reader();
        let not_before = parse_time(&validity_r.read()?)?;
        let not_after = parse_time(&validity_r.read()?)?;
        validity_r.finish("unexpected data in the validity")?;

        let (key_algorithm, public_key) = parse_spki(&spki)?;

        let mut info = CertificateInfo {
            serial_number: serial.value.to_vec(),
            signature_algorithm: parse_signature_algorithm(&inner_alg)?,
            issuer: parse_name(&issuer)?,
            subject: parse_name(&subject)?,
            not_before,
            not_after,
            key_algorithm,
            is_ca: false,
            key_usage: None,
            ext_key_usage: Vec::new(),
            subject_key_id: None,
            authority_key_id: None,
            subject_der: subject.raw.to_vec(),
            public_key,
        };
        if let Some(extensions) = extensions {
            let list = der::parse_single(extensions.value, tag::SEQUENCE, "expected extensions")?;
            let mut list_r = list.reader();
            while !list_r.is_empty() {
                let ext = list_r.expect(tag::SEQUENCE, "expected an extension")?;
                let mut ext_r = ext.reader();
                let ext_oid = ext_r.expect(tag::OID, "expected an extension id")?;
                ext_r.optional(tag::BOOLEAN)?;
                let value = ext_r.expect(tag::OCTET_STRING, "expected an extension value")?;
                ext_r.finish("unexpected data in an extension")?;
                info.read_extension(ext_oid.value, value.value)?;
            }
        }
        Ok(info)
    }

    fn read_extension(&mut self, ext_oid: &[u8], value: &[u8]) -> Result<(), DerError> {
        match ext_oid {
            oid::BASIC_CONSTRAINTS => {
                let bc = der::parse_single(value, tag::SEQUENCE, "malformed basic constraints")?;
                let mut r = bc.reader();
                if let Some(ca) = r.optional(tag::BOOLEAN)? {
                    self.is_ca = ca.value == [0xff];
                }
            }
            oid::KEY_USAGE => {
                let bits = der::parse_single(value, tag::BIT_STRING, "malformed key usage")?;
                let first = bits.value.get(1).copied().unwrap_or(0);
                self.key_usage = Some(KeyUsage {
                    digital_signature: first & 0x80 != 0,
                    key_encipherment: first & 0x20 != 0,
                    key_cert_sign: first & 0x04 != 0,
                });
            }
            oid::EXT_KEY_USAGE => {
                let list = der::parse_single(value, tag::SEQUENCE, "malformed extended key usage")?;
                let mut r = list.reader();
                while !r.is_empty() {
                    let purpose = r.expect(tag::OID, "malformed extended key usage")?;
                    self.ext_key_usage.push(match purpose.value {
                        oid::EKU_SERVER_AUTH => ExtKeyUsage::ServerAuth,
                        oid::EKU_CLIENT_AUTH => ExtKeyUsage::ClientAuth,
                        _ => ExtKeyUsage::Other,
                    });
                }
            }
            oid::SUBJECT_KEY_ID => {
                let id = der::parse_single(value, tag::OCTET_STRING, "malformed subject key id")?;
                self.subject_key_id = Some(id.value.to_vec());
            }
            oid::AUTHORITY_KEY_ID => {
                let aki = der::parse_single(value, tag::SEQUENCE, "malformed authority key id")?;
                let mut r = aki.reader();
                if let Some(id) = r.optional(tag::context_primitive(0))? {
                    self.authority_key_id = Some(id.value.to_vec());
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn parse_signature_algorithm(alg: &Tlv<'_>) -> Result<SignatureAlgorithm, DerError> {
    let id = alg
        .reader()
        .expect(tag::OID, "expected a signature algorithm id")?;
    Ok(match id.value {
        oid::ED25519 => SignatureAlgorithm::Ed25519,
        oid::ECDSA_SHA256 => SignatureAlgorithm::EcdsaSha256,
        oid::ECDSA_SHA384 => SignatureAlgorithm::EcdsaSha384,
        oid::ECDSA_SHA512 => SignatureAlgorithm::EcdsaSha512,
        oid::RSA_SHA256 => SignatureAlgorithm::RsaSha256,
        oid::RSA_SHA384 => SignatureAlgorithm::RsaSha384,
        oid::RSA_SHA512 => SignatureAlgorithm::RsaSha512,
        _ => SignatureAlgorithm::Other,
    })
}

fn parse_spki(spki: &Tlv<'_>) -> Result<(KeyAlgorithm, Vec<u8>), DerError> {
    let mut r = spki.reader();
    let alg = r.expect(tag::SEQUENCE, "expected a key algorithm")?;
    let key = r.expect(tag::BIT_STRING, "expected a public key")?;
    r.finish("unexpected data in the public key info")?;
    let key = der::bit_string_bytes(&key)?;
    let mut alg_r = alg.reader();
    let id = alg_r.expect(tag::OID, "expected a key algorithm id")?;
    let algorithm = match id.value {
        oid::ED25519 => KeyAlgorithm::Ed25519,
        oid::EC_PUBLIC_KEY => match alg_r.expect(tag::OID, "expected a named curve")?.value {
            oid::P256 => KeyAlgorithm::EcdsaP256,
            oid::P384 => KeyAlgorithm::EcdsaP384,
            _ => return Err(DerError("unsupported elliptic curve")),
        },
        oid::RSA_ENCRYPTION => {
            let pk = der::parse_single(key, tag::SEQUENCE, "malformed RSA public key")?;
            let modulus = pk
                .reader()
                .expect(tag::INTEGER, "malformed RSA public key")?;
            KeyAlgorithm::Rsa {
                bits: integer_bits(modulus.value),
            }
        }
        _ => return Err(DerError("unsupported public key algorithm")),
    };
    Ok((algorithm, key.to_vec()))
}

fn parse_name(name: &Tlv<'_>) -> Result<Name, DerError> {
    let mut out = Name::default();
    let mut rdns = name.reader();
    while !rdns.is_empty() {
        let rdn = rdns.expect(tag::SET, "malformed name")?;
        let mut atvs = rdn.reader();
        while !atvs.is_empty() {
            let atv = atvs.expect(tag::SEQUENCE, "malformed name attribute")?;
            let mut atv_r = atv.reader();
            let attr = atv_r.expect(tag::OID, "malformed name attribute")?;
            let value = decode_string(&atv_r.read()?)?;
            match attr.value {
                oid::ORGANIZATION => out.organizations.push(value),
                oid::COMMON_NAME => out.common_name = Some(value),
                _ => {}
            }
        }
    }
    Ok(out)
}

fn decode_string(value: &Tlv<'_>) -> Result<String, DerError> {
    match value.tag {
        tag::PRINTABLE_STRING | tag::UTF8_STRING | tag::IA5_STRING => {
            String::from_utf8(value.value.to_vec()).map_err(|_| DerError("malformed string"))
        }
        tag::T61_STRING => Ok(value.value.iter().map(|&b| b as char).collect()),
        tag::BMP_STRING => {
            let units: Vec<u16> = value
                .value
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units).map_err(|_| DerError("malformed string"))
        }
        _ => Err(DerError("unsupported string type in a name")),
    }
}

fn parse_time(value: &Tlv<'_>) -> Result<OffsetDateTime, DerError> {
    let text = std::str::from_utf8(value.value).map_err(|_| DerError("malformed time"))?;
    let digits = text
        .strip_suffix('Z')
        .ok_or(DerError("time is not in UTC"))?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DerError("malformed time"));
    }
    let num = |s: &str| s.parse::<i32>().map_err(|_| DerError("malformed time"));
    let (year, rest) = match (value.tag, digits.len()) {
        (tag::UTC_TIME, 12) => {
            let yy = num(&digits[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (tag::GENERALIZED_TIME, 14) => (num(&digits[..4])?, &digits[4..]),
        _ => return Err(DerError("malformed time")),
    };
    let field = |i: usize| num(&rest[i..i + 2]).map(|v| v as u8);
    let month = Month::try_from(field(0)?).map_err(|_| DerError("malformed time"))?;
    let date = time::Date::from_calendar_date(year, month, field(2)?)
        .map_err(|_| DerError("malformed time"))?;
    let clock =
        Time::from_hms(field(4)?, field(6)?, field(8)?).map_err(|_| DerError("malformed time"))?;
    Ok(PrimitiveDateTime::new(date, clock).assume_utc())
}

/// UTCTime for 1950..2050, GeneralizedTime otherwise (RFC 5280, as Go).
fn encode_time(at: OffsetDateTime) -> Vec<u8> {
    let at = at.to_offset(UtcOffset::UTC);
    let (y, mo, d) = (at.year(), u8::from(at.month()), at.day());
    let (h, mi, s) = (at.hour(), at.minute(), at.second());
    if (1950..2050).contains(&y) {
        let text = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        der::tlv(tag::UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
        der::tlv(tag::GENERALIZED_TIME, text.as_bytes())
    }
}

/// What goes into a certificate lab issues.
pub(crate) struct CertSpec<'a> {
    /// Serial number magnitude (positive).
    pub serial: &'a [u8],
    pub subject: &'a Name,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub is_ca: bool,
    pub key_usage: KeyUsage,
    pub ext_key_usage: &'a [ExtKeyUsage],
    pub subject_key_id: Option<&'a [u8]>,
    pub authority_key_id: Option<&'a [u8]>,
}

/// The issuing side: its encoded name and its signing key.
pub(crate) struct Signer<'a> {
    pub name_der: &'a [u8],
    pub key: &'a rcgen::KeyPair,
}

fn extension(ext_oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let id = der::oid(ext_oid);
    let value = der::tlv(tag::OCTET_STRING, value);
    if critical {
        der::sequence(&[&id, &der::tlv(tag::BOOLEAN, &[0xff]), &value])
    } else {
        der::sequence(&[&id, &value])
    }
}

fn signature_algorithm_der(key: &rcgen::KeyPair) -> Result<Vec<u8>, String> {
    let alg = rcgen::PublicKeyData::algorithm(key);
    if alg == &rcgen::PKCS_ED25519 {
        Ok(der::sequence(&[&der::oid(oid::ED25519)]))
    } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        Ok(der::sequence(&[&der::oid(oid::ECDSA_SHA256)]))
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Ok(der::sequence(&[&der::oid(oid::ECDSA_SHA384)]))
    } else if alg == &rcgen::PKCS_RSA_SHA256 {
        Ok(der::sequence(&[
            &der::oid(oid::RSA_SHA256),
            &der::tlv(tag::NULL, &[]),
        ]))
    } else {
        Err("the CA key's algorithm cannot sign certificates here".to_string())
    }
}

/// Builds and signs a certificate for `subject_spki` (an encoded
/// SubjectPublicKeyInfo), with Go's extension order: KeyUsage,
/// ExtKeyUsage, BasicConstraints, SubjectKeyId, AuthorityKeyId.
pub(crate) fn build_certificate(
    spec: &CertSpec<'_>,
    subject_spki: &[u8],
    signer: &Signer<'_>,
) -> Result<Vec<u8>, String> {
    let sig_alg = signature_algorithm_der(signer.key)?;

    let mut extensions: Vec<Vec<u8>> = Vec::new();
    let ku = spec.key_usage.bits();
    if ku != 0 {
        let unused = ku.trailing_zeros() as u8;
        extensions.push(extension(
            oid::KEY_USAGE,
            true,
            &der::tlv(tag::BIT_STRING, &[unused, ku]),
        ));
    }
    if !spec.ext_key_usage.is_empty() {
        let purposes: Vec<Vec<u8>> = spec
            .ext_key_usage
            .iter()
            .filter_map(|p| match p {
                ExtKeyUsage::ServerAuth => Some(der::oid(oid::EKU_SERVER_AUTH)),
                ExtKeyUsage::ClientAuth => Some(der::oid(oid::EKU_CLIENT_AUTH)),
                ExtKeyUsage::Other => None,
            })
            .collect();
        let parts: Vec<&[u8]> = purposes.iter().map(Vec::as_slice).collect();
        extensions.push(extension(oid::EXT_KEY_USAGE, false, &der::sequence(&parts)));
    }
    if spec.is_ca {
        let bc = der::sequence(&[&der::tlv(tag::BOOLEAN, &[0xff])]);
        extensions.push(extension(oid::BASIC_CONSTRAINTS, true, &bc));
    }
    if let Some(ski) = spec.subject_key_id {
        extensions.push(extension(
            oid::SUBJECT_KEY_ID,
            false,
            &der::tlv(tag::OCTET_STRING, ski),
        ));
    }
    if let Some(aki) = spec.authority_key_id {
        let value = der::sequence(&[&der::tlv(tag::context_primitive(0), aki)]);
        extensions.push(extension(oid::AUTHORITY_KEY_ID, false, &value));
    }
    let ext_parts: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
    let ext_list = der::sequence(&ext_parts);

    let validity = der::sequence(&[&encode_time(spec.not_before), &encode_time(spec.not_after)]);
    let tbs = der::sequence(&[
        &der::tlv(tag::context(0), &der::uint(&[2])),
        &der::uint(spec.serial),
        &sig_alg,
        signer.name_der,
        &validity,
        &spec.subject.to_der(),
        subject_spki,
        &der::tlv(tag::context(3), &ext_list),
    ]);
    let signature =
        rcgen::SigningKey::sign(signer.key, &tbs).map_err(|e| format!("signing failed: {e}"))?;
    Ok(der::sequence(&[
        &tbs,
        &sig_alg,
        &der::bit_string(&signature),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> OffsetDateTime {
        let date = time::Date::from_calendar_date(y, Month::try_from(mo).unwrap(), d).unwrap();
        PrimitiveDateTime::new(date, Time::from_hms(h, mi, s).unwrap()).assume_utc()
    }

    #[test]
    fn times_round_trip_in_both_encodings() {
        for at in [
            utc(2033, 10, 9, 10, 46, 9),
            utc(2050, 1, 1, 0, 0, 0),
            utc(1999, 12, 31, 23, 59, 59),
        ] {
            let encoded = encode_time(at);
            let tlv = der::parse_single(&encoded, encoded[0], "t").unwrap();
            assert_eq!(parse_time(&tlv).unwrap(), at);
        }
    }

    #[test]
    fn names_put_all_organizations_in_one_sorted_rdn() {
        let name = Name::organizations(&["os:reader", "os:admin"]);
        let encoded = name.to_der();
        let parsed = parse_name(&der::parse_single(&encoded, tag::SEQUENCE, "n").unwrap()).unwrap();
        assert_eq!(parsed.organizations, vec!["os:admin", "os:reader"]);
        // one SET inside the SEQUENCE
        let seq = der::parse_single(&encoded, tag::SEQUENCE, "n").unwrap();
        let mut r = seq.reader();
        r.expect(tag::SET, "set").unwrap();
        assert!(r.is_empty());
        assert_eq!(Name::default().to_der(), vec![0x30, 0x00]);
    }

    #[test]
    fn printable_string_when_possible() {
        assert_eq!(
            attribute(oid::ORGANIZATION, "talos")[7],
            tag::PRINTABLE_STRING
        );
        assert_eq!(attribute(oid::ORGANIZATION, "ümlaut")[7], tag::UTF8_STRING);
        assert_eq!(attribute(oid::ORGANIZATION, "a_b")[7], tag::UTF8_STRING);
    }
}
