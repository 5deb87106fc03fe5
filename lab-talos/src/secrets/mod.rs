//! # The Talos secrets bundle
//!
//! Every certificate, key and token of a Talos cluster derives from one
//! bundle: the cluster id and secret, the Kubernetes bootstrap token, the
//! etcd-encryption (secretbox) key, the trustd token, four CAs (Talos OS,
//! Kubernetes, aggregator/front-proxy, etcd) and the service-account signing
//! key. Given the same bundle, Talos's config generation is deterministic, so
//! lab generates the bundle **once**, keeps it in the encrypted state, and
//! never regenerates it behind the user's back (a new bundle means new CAs:
//! every node and every kubeconfig stops trusting the cluster).
//!
//! The bundle reads and writes talosctl's `secrets.yaml` byte for byte, so
//! `talosctl gen config --with-secrets` and lab interoperate, and it
//! generates bundles the way `talosctl gen secrets` does for a version
//! contract ([`SecretsBundle::generate`]). Keys and certificates are
//! generated with rcgen/ring (RSA with AWS-LC, see `keys`) and re-encoded in
//! Go's exact formats (see the `keys` module: `ED25519 PRIVATE KEY` PKCS#8
//! v1, SEC1 `EC PRIVATE KEY` with the curve and public key, PKCS#1
//! `RSA PRIVATE KEY`). Every private value is a [`Secret`]; the public CA
//! certificates are plain strings.
//!
//! The bundle also issues what users need to reach the cluster without
//! asking a node: the Talos API admin certificate
//! ([`SecretsBundle::admin_client_cert`], signed by the OS CA, as
//! `talosctl gen config` does), the `talosconfig`
//! ([`SecretsBundle::talosconfig`]) and the admin kubeconfig
//! ([`SecretsBundle::admin_kubeconfig`], signed by the Kubernetes CA, as
//! Talos's `pkg/kubeconfig` does).
//!
//! ## Values in machine configs
//!
//! v1alpha1 machine configs carry certificates and keys as base64 of the
//! PEM text; the `*_b64` accessors return exactly those strings (for the
//! reference bundle, exactly what Talos's golden configs contain). The
//! `*_pem` accessors on [`CertAndKey`] return the PEM itself (1.14 multi-doc
//! configs embed it raw, API clients load it).

mod der;
mod keys;
mod mint;
mod text;
mod x509;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use lab_core::Secret;
use rand::TryRngCore as _;
use rcgen::PublicKeyData as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use x509::{CertificateInfo, ExtKeyUsage, KeyAlgorithm, KeyUsage, Name, SignatureAlgorithm};

use mint::*;

use keys::label;
use text::RawBundle;
use x509::{CertSpec, Signer};

/// How long the CAs of a generated bundle are valid: 87600 h (10 years),
/// Talos's `secrets.CAValidityTime`.
pub const CA_VALIDITY: Duration = Duration::from_secs(87_600 * 3600);

/// Talos's default lifetime for the admin Talos API certificate
/// (`constants.TalosAPIDefaultCertificateValidityDuration`) and the admin
/// kubeconfig's client certificate (`cluster.adminKubeconfig.certLifetime`):
/// one year.
pub const DEFAULT_CLIENT_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// Client certificates start this long before "now", so a node whose clock
/// is slightly behind still accepts them (Talos's `allowedTimeSkew`).
const ALLOWED_TIME_SKEW: Duration = Duration::from_secs(10);

/// The Talos admin role (`O=os:admin` in the client certificate).
pub const ROLE_ADMIN: &str = "os:admin";

/// The Talos version whose machine-config format (and bundle contents) lab
/// generates for, independent of the Talos version installed on the nodes:
/// Talos's `config.VersionContract`. Upgrading nodes does not change it.
///
/// ```
/// use lab_talos::secrets::VersionContract;
/// let c = VersionContract::parse("v1.13.9").unwrap();
/// assert_eq!(c, VersionContract::V1_13);
/// assert_eq!(c.to_string(), "v1.13");
/// assert!(VersionContract::parse("v1.7").unwrap() < c);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VersionContract {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl VersionContract {
    /// Talos 1.13, the contract lab generates machine configs for.
    pub const V1_13: VersionContract = VersionContract::new(1, 13);

    /// A contract from its parts.
    pub const fn new(major: u32, minor: u32) -> Self {
        VersionContract { major, minor }
    }

    /// Parses `v<major>.<minor>`, optionally followed by `.<patch>` and a
    /// pre-release (`v1.13`, `v1.13.9`, `v1.14.0-rc.1`); the leading `v` may
    /// be left out. Like talosctl's `--talos-version`, only major and minor
    /// matter.
    pub fn parse(input: &str) -> Result<Self, SecretsError> {
        let invalid = || SecretsError::InvalidContract {
            input: input.to_string(),
        };
        let s = input.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let (major, rest) = s.split_once('.').ok_or_else(invalid)?;
        let (minor, tail) = match rest.split_once('.') {
            Some((minor, tail)) => (minor, Some(tail)),
            None => (rest, None),
        };
        let number = |p: &str| -> Result<u32, SecretsError> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            p.parse().map_err(|_| invalid())
        };
        if tail.is_some_and(str::is_empty) {
            return Err(invalid());
        }
        Ok(VersionContract::new(number(major)?, number(minor)?))
    }

    /// Whether bundles for this contract get an RSA-4096 service-account key
    /// (Talos ≥ 1.7); older contracts get ECDSA P-256.
    pub fn uses_rsa_service_account_key(self) -> bool {
        self >= VersionContract::new(1, 7)
    }

    /// Whether etcd encryption uses secretbox (Talos > 1.2) rather than
    /// AES-CBC.
    pub fn uses_secretbox(self) -> bool {
        self > VersionContract::new(1, 2)
    }
}

impl fmt::Display for VersionContract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

impl FromStr for VersionContract {
    type Err = SecretsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VersionContract::parse(s)
    }
}

impl TryFrom<String> for VersionContract {
    type Error = SecretsError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        VersionContract::parse(&s)
    }
}

impl From<VersionContract> for String {
    fn from(c: VersionContract) -> String {
        c.to_string()
    }
}

/// Why a bundle could not be read, generated or used. Messages name the
/// field (`certs.os.key`) and say what to do; they never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The text is not one YAML document.
    #[error("the secrets bundle is not valid YAML ({detail}); use the file `talosctl gen secrets` or `lab` exported, unedited")]
    Parse {
        /// What the parser found, without the text.
        detail: String,
    },
    /// A required field is absent or empty.
    #[error("`{field}` is missing from the secrets bundle; copy it from the original secrets.yaml (talosctl always writes it)")]
    Missing {
        /// Dotted path of the field.
        field: String,
    },
    /// A field talosctl does not write.
    #[error("`{field}` is not a field of talosctl's secrets bundle; remove it or fix its spelling and indentation")]
    UnknownField {
        /// Dotted path of the field.
        field: String,
    },
    /// A field is present but unusable.
    #[error("`{field}` is invalid: {reason}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// What is wrong and what to do (never the value).
        reason: String,
    },
    /// A CA's private key does not belong to its certificate.
    #[error("`{field}`: the private key does not belong to the certificate; put back the key that was generated together with this certificate (both come from the same secrets.yaml)")]
    KeyMismatch {
        /// Dotted path of the CA (`certs.k8s`).
        field: String,
    },
    /// A version contract that does not parse.
    #[error("`{input}` is not a Talos version contract; write it as v<major>.<minor>, for example v1.13")]
    InvalidContract {
        /// The text given.
        input: String,
    },
    /// A contract older than lab supports.
    #[error(
        "Talos version contract {contract} is too old; lab generates bundles for v1.0 and later"
    )]
    UnsupportedContract {
        /// The contract given.
        contract: VersionContract,
    },
    /// A bad argument to one of the certificate or config builders.
    #[error("{0}")]
    InvalidInput(String),
    /// Key generation, randomness or signing failed.
    #[error(
        "{0}; this is not a problem with the bundle: retry, and check the system's random source if it persists"
    )]
    Crypto(String),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SecretsError {
    SecretsError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

impl CertificateInfo {
    /// Reads a PEM certificate (`-----BEGIN CERTIFICATE-----`), e.g. a CA
    /// from the bundle or a client certificate from
    /// [`SecretsBundle::admin_client_cert`], to check its subject, issuer
    /// or expiry. The signature is not verified.
    pub fn from_pem(pem_text: &str) -> Result<CertificateInfo, SecretsError> {
        const FIELD: &str = "certificate";
        let (crt_label, der) = keys::pem_decode(pem_text)
            .map_err(|_| invalid(FIELD, "is not a PEM block (`-----BEGIN CERTIFICATE-----`)"))?;
        if crt_label != label::CERTIFICATE {
            return Err(invalid(
                FIELD,
                format!("holds a `{crt_label}` PEM block, not a `CERTIFICATE`"),
            ));
        }
        CertificateInfo::from_der(&der).map_err(|e| {
            invalid(
                FIELD,
                format!("is not an X.509 certificate lab can read ({e})"),
            )
        })
    }
}

/// A CA certificate (PEM, public) and its private key (PEM, [`Secret`]).
#[derive(Clone, PartialEq, Eq)]
pub struct CertAndKey {
    crt: String,
    key: Secret,
    crt_b64: String,
    key_b64: Secret,
    info: CertificateInfo,
}

impl CertAndKey {
    /// Validates a CA: the certificate parses, is a CA, may sign
    /// certificates, and `key` is its private key.
    fn new(crt: String, key: String, field: &str) -> Result<Self, SecretsError> {
        let crt_field = format!("{field}.crt");
        let (crt_label, der) = keys::pem_decode(&crt).map_err(|_| {
            invalid(
                &crt_field,
                "is not base64 of a PEM certificate (`-----BEGIN CERTIFICATE-----`)",
            )
        })?;
        if crt_label != label::CERTIFICATE {
            return Err(invalid(
                &crt_field,
                format!("holds a `{crt_label}` PEM block, not a `CERTIFICATE`"),
            ));
        }
        let info = CertificateInfo::from_der(&der).map_err(|e| {
            invalid(
                &crt_field,
                format!("is not an X.509 certificate lab can read ({e})"),
            )
        })?;
        if !info.is_ca {
            return Err(invalid(
                &crt_field,
                "is not a CA certificate (BasicConstraints CA:TRUE is missing); Talos signs node and client certificates with it",
            ));
        }
        if info.key_usage.is_some_and(|ku| !ku.key_cert_sign) {
            return Err(invalid(
                &crt_field,
                "may not sign certificates (its KeyUsage lacks keyCertSign)",
            ));
        }
        let loaded = keys::load_private_key(&key).map_err(|reason| {
            invalid(
                format!("{field}.key"),
                format!("is not a usable private key: {reason}"),
            )
        })?;
        if loaded.algorithm != info.key_algorithm || loaded.pair.der_bytes() != info.public_key {
            return Err(SecretsError::KeyMismatch {
                field: field.to_string(),
            });
        }
        Ok(CertAndKey {
            crt_b64: STANDARD.encode(&crt),
            key_b64: Secret::new(STANDARD.encode(&key)),
            crt,
            key: Secret::new(key),
            info,
        })
    }

    /// The certificate, PEM.
    pub fn crt_pem(&self) -> &str {
        &self.crt
    }

    /// The private key, PEM (`ED25519 PRIVATE KEY`, `EC PRIVATE KEY` or
    /// `RSA PRIVATE KEY`, as Talos writes them).
    pub fn key_pem(&self) -> Secret {
        self.key.clone()
    }

    /// The certificate as base64(PEM), the v1alpha1 config encoding.
    pub fn crt_b64(&self) -> &str {
        &self.crt_b64
    }

    /// The private key as base64(PEM), the v1alpha1 config encoding.
    pub fn key_b64(&self) -> Secret {
        self.key_b64.clone()
    }

    /// What the certificate says (subject, validity, algorithms).
    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }
}

impl fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertAndKey")
            .field("subject", &self.info.subject.to_string())
            .field("key_algorithm", &self.info.key_algorithm)
            .field("not_after", &self.info.not_after)
            .field("key", &self.key)
            .finish()
    }
}

/// The Kubernetes service-account signing key (no certificate).
#[derive(Clone, PartialEq, Eq)]
struct ServiceAccountKey {
    pem: Secret,
    b64: Secret,
    algorithm: KeyAlgorithm,
}

impl ServiceAccountKey {
    fn new(pem: String) -> Result<Self, SecretsError> {
        const FIELD: &str = "certs.k8sserviceaccount.key";
        let loaded = keys::load_private_key(&pem)
            .map_err(|reason| invalid(FIELD, format!("is not a usable private key: {reason}")))?;
        if loaded.algorithm == KeyAlgorithm::Ed25519 {
            return Err(invalid(
                FIELD,
                "is an Ed25519 key, which Kubernetes cannot sign service-account tokens with; use an RSA or ECDSA key",
            ));
        }
        Ok(ServiceAccountKey {
            b64: Secret::new(STANDARD.encode(&pem)),
            pem: Secret::new(pem),
            algorithm: loaded.algorithm,
        })
    }
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("algorithm", &self.algorithm)
            .field("key", &self.pem)
            .finish()
    }
}

/// A Talos cluster's secrets: talosctl's `secrets.Bundle`.
///
/// Built only by [`SecretsBundle::from_yaml`] and
/// [`SecretsBundle::generate`], both of which validate everything, so a
/// value of this type is always usable. `Debug` shows CA subjects and
/// expiry, never a key or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsBundle {
    cluster_id: Secret,
    cluster_secret: Secret,
    bootstrap_token: Secret,
    aescbc_secret: Option<Secret>,
    secretbox_secret: Option<Secret>,
    trustd_token: Secret,
    etcd: CertAndKey,
    k8s: CertAndKey,
    k8s_aggregator: CertAndKey,
    service_account: ServiceAccountKey,
    os: CertAndKey,
}

/// A client certificate and its key, both PEM (the key in Talos's label:
/// `ED25519 PRIVATE KEY` from the OS CA, `EC PRIVATE KEY` from an ECDSA CA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The certificate, PEM.
    pub crt_pem: String,
    /// The private key, PEM.
    pub key_pem: Secret,
}

impl SecretsBundle {
    /// Reads talosctl's `secrets.yaml` (`talosctl gen secrets` output, or
    /// [`SecretsBundle::to_yaml`]) and validates it: every certificate is
    /// an X.509 CA that may sign, every key parses in the PEM encoding
    /// Talos uses and matches its certificate, the bootstrap token has
    /// kubeadm's `[a-z0-9]{6}.[a-z0-9]{16}` form, exactly one of the
    /// secretbox (32 bytes) and AES-CBC keys is set, base64.
    /// Comments are ignored; unknown fields are errors (so an export never
    /// silently drops anything).
    pub fn from_yaml(text: &str) -> Result<SecretsBundle, SecretsError> {
        SecretsBundle::from_raw(text::read_bundle(text)?)
    }

    fn from_raw(raw: RawBundle) -> Result<SecretsBundle, SecretsError> {
        if base64_any(&raw.cluster_id).is_none() {
            return Err(invalid(
                "cluster.id",
                "is not base64; copy it unchanged from the original secrets.yaml",
            ));
        }
        if base64_any(&raw.cluster_secret).is_none() {
            return Err(invalid(
                "cluster.secret",
                "is not base64; copy it unchanged from the original secrets.yaml",
            ));
        }
        if !is_token(&raw.bootstrap_token) {
            return Err(invalid(
                "secrets.bootstraptoken",
                "does not have the form [a-z0-9]{6}.[a-z0-9]{16} that Kubernetes bootstrap tokens need",
            ));
        }
        match (&raw.secretbox_secret, &raw.aescbc_secret) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "secrets",
                    "sets both secretboxencryptionsecret and aescbcencryptionsecret; Talos allows only one, keep the one the cluster was created with",
                ))
            }
            (None, None) => {
                return Err(SecretsError::Missing {
                    field: "secrets.secretboxencryptionsecret".into(),
                })
            }
            (Some(secretbox), None) => {
                check_encryption_key("secrets.secretboxencryptionsecret", secretbox, &[32])?;
            }
            (None, Some(aescbc)) => {
                check_encryption_key("secrets.aescbcencryptionsecret", aescbc, &[16, 24, 32])?;
            }
        }
        let pair =
            |(crt, key): (String, String), field: &str| -> Result<CertAndKey, SecretsError> {
                let crt = decode_pem_b64(&crt, &format!("{field}.crt"))?;
                let key = decode_pem_b64(&key, &format!("{field}.key"))?;
                CertAndKey::new(crt, key, field)
            };
        Ok(SecretsBundle {
            cluster_id: Secret::new(raw.cluster_id),
            cluster_secret: Secret::new(raw.cluster_secret),
            bootstrap_token: Secret::new(raw.bootstrap_token),
            aescbc_secret: raw.aescbc_secret.map(Secret::new),
            secretbox_secret: raw.secretbox_secret.map(Secret::new),
            trustd_token: Secret::new(raw.trustd_token),
            etcd: pair(raw.etcd, "certs.etcd")?,
            k8s: pair(raw.k8s, "certs.k8s")?,
            k8s_aggregator: pair(raw.k8s_aggregator, "certs.k8saggregator")?,
            service_account: ServiceAccountKey::new(decode_pem_b64(
                &raw.service_account_key,
                "certs.k8sserviceaccount.key",
            )?)?,
            os: pair(raw.os, "certs.os")?,
        })
    }

    /// Writes talosctl's `secrets.yaml` exactly as `talosctl gen secrets`
    /// does: Go's `yaml.Marshal` layout (4-space indentation, field order
    /// cluster, secrets, trustdinfo, certs), certificates and keys as
    /// base64(PEM), no comment. The text contains every private key:
    /// wrap it in a [`Secret`] unless it goes straight to a protected file.
    pub fn to_yaml(&self) -> String {
        let pair = |c: &CertAndKey| (c.crt_b64.clone(), c.key_b64.expose().to_string());
        text::write_bundle(&RawBundle {
            cluster_id: self.cluster_id.expose().to_string(),
            cluster_secret: self.cluster_secret.expose().to_string(),
            bootstrap_token: self.bootstrap_token.expose().to_string(),
            aescbc_secret: self.aescbc_secret.as_ref().map(|s| s.expose().to_string()),
            secretbox_secret: self
                .secretbox_secret
                .as_ref()
                .map(|s| s.expose().to_string()),
            trustd_token: self.trustd_token.expose().to_string(),
            etcd: pair(&self.etcd),
            k8s: pair(&self.k8s),
            k8s_aggregator: pair(&self.k8s_aggregator),
            service_account_key: self.service_account.b64.expose().to_string(),
            os: pair(&self.os),
        })
    }

    /// Generates a new bundle like `talosctl gen secrets --talos-version
    /// <contract>`: 32-byte cluster id (base64 URL alphabet up to 1.13,
    /// standard from 1.14) and secret, kubeadm-style bootstrap and trustd
    /// tokens, a 32-byte secretbox key (AES-CBC for contracts ≤ 1.2),
    /// an Ed25519 OS CA (`O=talos`), ECDSA P-256 Kubernetes
    /// (`O=kubernetes`), aggregator (empty subject) and etcd (`O=etcd`)
    /// CAs valid for [`CA_VALIDITY`] from now, and an RSA-4096
    /// service-account key (ECDSA P-256 before 1.7). The RSA key (AWS-LC)
    /// dominates: a few seconds even in a user's unoptimised debug build
    /// (`benches/user_crate.sh`).
    pub fn generate(contract: VersionContract) -> Result<SecretsBundle, SecretsError> {
        if contract < VersionContract::new(1, 0) {
            return Err(SecretsError::UnsupportedContract { contract });
        }
        let now = now_utc();
        let (etcd_crt, etcd_key) = new_ca(Name::organizations(&["etcd"]), CaKey::P256, now)?;
        let (k8s_crt, k8s_key) = new_ca(Name::organizations(&["kubernetes"]), CaKey::P256, now)?;
        let (agg_crt, agg_key) = new_ca(Name::default(), CaKey::P256, now)?;
        let (os_crt, os_key) = new_ca(Name::organizations(&["talos"]), CaKey::Ed25519, now)?;
        let sa_key = if contract.uses_rsa_service_account_key() {
            keys::generate_rsa_pem(4096).map_err(SecretsError::Crypto)?
        } else {
            keys::generate_p256().map_err(SecretsError::Crypto)?.pem
        };
        let encryption = STANDARD.encode(random_bytes::<32>()?);
        let (secretbox, aescbc) = if contract.uses_secretbox() {
            (Some(encryption), None)
        } else {
            (None, Some(encryption))
        };
        let cluster_id = new_cluster_id(contract)?;
        let b64 = |s: &str| STANDARD.encode(s);
        // Through the same validation as an imported bundle.
        SecretsBundle::from_raw(RawBundle {
            cluster_id,
            cluster_secret: STANDARD.encode(random_bytes::<32>()?),
            bootstrap_token: new_token()?,
            aescbc_secret: aescbc,
            secretbox_secret: secretbox,
            trustd_token: new_token()?,
            etcd: (b64(&etcd_crt), b64(&etcd_key)),
            k8s: (b64(&k8s_crt), b64(&k8s_key)),
            k8s_aggregator: (b64(&agg_crt), b64(&agg_key)),
            service_account_key: b64(&sa_key),
            os: (b64(&os_crt), b64(&os_key)),
        })
    }

    /// `cluster.id` (v1alpha1 `cluster.id`; 1.14+ `DiscoveryIdentityConfig`).
    pub fn cluster_id(&self) -> Secret {
        self.cluster_id.clone()
    }

    /// `cluster.secret` (v1alpha1 `cluster.secret`).
    pub fn cluster_secret(&self) -> Secret {
        self.cluster_secret.clone()
    }

    /// `secrets.bootstraptoken` (v1alpha1 `cluster.token`, every node).
    pub fn bootstrap_token(&self) -> Secret {
        self.bootstrap_token.clone()
    }

    /// `trustdinfo.token` (v1alpha1 `machine.token`, every node).
    pub fn trustd_token(&self) -> Secret {
        self.trustd_token.clone()
    }

    /// `secrets.secretboxencryptionsecret` (v1alpha1
    /// `cluster.secretboxEncryptionSecret`, control planes); `None` for a
    /// legacy AES-CBC bundle.
    pub fn secretbox_secret(&self) -> Option<Secret> {
        self.secretbox_secret.clone()
    }

    /// `secrets.aescbcencryptionsecret` (v1alpha1
    /// `cluster.aescbcEncryptionSecret`), set only in bundles for contracts
    /// ≤ 1.2.
    pub fn aescbc_secret(&self) -> Option<Secret> {
        self.aescbc_secret.clone()
    }

    /// The Talos OS CA (`certs.os`).
    pub fn os_ca(&self) -> &CertAndKey {
        &self.os
    }

    /// The Kubernetes CA (`certs.k8s`).
    pub fn k8s_ca(&self) -> &CertAndKey {
        &self.k8s
    }

    /// The aggregator (front-proxy) CA (`certs.k8saggregator`).
    pub fn aggregator_ca(&self) -> &CertAndKey {
        &self.k8s_aggregator
    }

    /// The etcd CA (`certs.etcd`).
    pub fn etcd_ca(&self) -> &CertAndKey {
        &self.etcd
    }

    /// v1alpha1 `machine.ca.crt` (every node).
    pub fn os_ca_crt_b64(&self) -> String {
        self.os.crt_b64.clone()
    }

    /// v1alpha1 `machine.ca.key` (control planes; workers get `""`).
    pub fn os_ca_key_b64(&self) -> Secret {
        self.os.key_b64()
    }

    /// v1alpha1 `cluster.ca.crt` (every node).
    pub fn k8s_ca_crt_b64(&self) -> String {
        self.k8s.crt_b64.clone()
    }

    /// v1alpha1 `cluster.ca.key` (control planes).
    pub fn k8s_ca_key_b64(&self) -> Secret {
        self.k8s.key_b64()
    }

    /// v1alpha1 `cluster.aggregatorCA.crt` (control planes).
    pub fn aggregator_ca_crt_b64(&self) -> String {
        self.k8s_aggregator.crt_b64.clone()
    }

    /// v1alpha1 `cluster.aggregatorCA.key` (control planes).
    pub fn aggregator_ca_key_b64(&self) -> Secret {
        self.k8s_aggregator.key_b64()
    }

    /// v1alpha1 `cluster.etcd.ca.crt` (control planes).
    pub fn etcd_ca_crt_b64(&self) -> String {
        self.etcd.crt_b64.clone()
    }

    /// v1alpha1 `cluster.etcd.ca.key` (control planes).
    pub fn etcd_ca_key_b64(&self) -> Secret {
        self.etcd.key_b64()
    }

    /// v1alpha1 `cluster.serviceAccount.key` (control planes).
    pub fn service_account_key_b64(&self) -> Secret {
        self.service_account.b64.clone()
    }

    /// The service-account key, PEM (`RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    pub fn service_account_key_pem(&self) -> Secret {
        self.service_account.pem.clone()
    }

    /// The service-account key's algorithm.
    pub fn service_account_key_algorithm(&self) -> KeyAlgorithm {
        self.service_account.algorithm
    }

    /// Issues a Talos API client certificate signed by the OS CA, as
    /// `talosctl gen config` does for the `talosconfig`: one `O=` per role
    /// ([`ROLE_ADMIN`] for full access), ExtKeyUsage ClientAuth, KeyUsage
    /// DigitalSignature, valid from 10 s ago for `validity`
    /// ([`DEFAULT_CLIENT_CERT_VALIDITY`] is Talos's default). The key type
    /// follows the CA (Ed25519 for Talos's OS CA).
    pub fn admin_client_cert(
        &self,
        roles: &[&str],
        validity: Duration,
    ) -> Result<ClientCert, SecretsError> {
        if roles.is_empty() || roles.iter().any(|r| r.trim().is_empty()) {
            return Err(SecretsError::InvalidInput(
                "a Talos client certificate needs at least one non-empty role, such as os:admin"
                    .into(),
            ));
        }
        issue_client_cert(
            &self.os,
            "certs.os",
            &Name::organizations(roles),
            KeyUsage {
                digital_signature: true,
                ..KeyUsage::default()
            },
            validity,
        )
    }

    /// talosctl's `talosconfig` for one context: `endpoints` are what
    /// talosctl dials (control-plane addresses, not the VIP), `nodes` the
    /// default targets (may be empty); `ca` is the OS CA and `crt`/`key`
    /// come from [`SecretsBundle::admin_client_cert`], all base64(PEM).
    pub fn talosconfig(
        &self,
        context: &str,
        endpoints: &[String],
        nodes: &[String],
        cert: &ClientCert,
    ) -> Secret {
        Secret::new(text::talosconfig(
            context,
            endpoints,
            nodes,
            &self.os.crt_b64,
            &STANDARD.encode(&cert.crt_pem),
            &STANDARD.encode(cert.key_pem.expose()),
        ))
    }

    /// The admin kubeconfig Talos generates (`talosctl kubeconfig`), built
    /// offline: a client certificate signed by the Kubernetes CA with
    /// `CN=admin`, `O=system:masters`, valid from 10 s ago for `validity`;
    /// cluster `<cluster_name>` at `endpoint` (the control-plane endpoint
    /// URL, e.g. `https://10.0.0.10:6443`), user and context
    /// `admin@<cluster_name>`, namespace `default`.
    pub fn admin_kubeconfig(
        &self,
        cluster_name: &str,
        endpoint: &str,
        validity: Duration,
    ) -> Result<Secret, SecretsError> {
        if cluster_name.trim().is_empty() {
            return Err(SecretsError::InvalidInput(
                "the kubeconfig needs a cluster name".into(),
            ));
        }
        if endpoint.trim().is_empty() {
            return Err(SecretsError::InvalidInput(
                "the kubeconfig needs the control-plane endpoint, such as https://10.0.0.10:6443"
                    .into(),
            ));
        }
        let subject = Name {
            organizations: vec!["system:masters".into()],
            common_name: Some("admin".into()),
        };
        let cert = issue_client_cert(
            &self.k8s,
            "certs.k8s",
            &subject,
            KeyUsage {
                digital_signature: true,
                key_encipherment: true,
                ..KeyUsage::default()
            },
            validity,
        )?;
        Ok(Secret::new(text::kubeconfig(
            cluster_name,
            endpoint,
            &self.k8s.crt_b64,
            &STANDARD.encode(&cert.crt_pem),
            &STANDARD.encode(cert.key_pem.expose()),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contracts_parse_like_talosctl() {
        assert_eq!(
            VersionContract::parse("v1.13").unwrap(),
            VersionContract::V1_13
        );
        assert_eq!(
            VersionContract::parse("1.13").unwrap(),
            VersionContract::V1_13
        );
        assert_eq!(
            VersionContract::parse("v1.14.0-rc.1").unwrap(),
            VersionContract::new(1, 14)
        );
        for bad in [
            "", "v1", "v1.", "v1.x", "vx.13", "v1.13-rc", "v1.13.", "1..13",
        ] {
            assert!(VersionContract::parse(bad).is_err(), "{bad:?}");
        }
        assert!(VersionContract::new(1, 9) < VersionContract::new(1, 13));
        assert!(VersionContract::new(1, 6) < VersionContract::new(1, 7));
        assert!(!VersionContract::new(1, 6).uses_rsa_service_account_key());
        assert!(VersionContract::new(1, 7).uses_rsa_service_account_key());
        assert!(!VersionContract::new(1, 2).uses_secretbox());
        let json = serde_json::to_string(&VersionContract::V1_13).unwrap();
        assert_eq!(json, "\"v1.13\"");
        assert_eq!(
            serde_json::from_str::<VersionContract>(&json).unwrap(),
            VersionContract::V1_13
        );
    }

    #[test]
    fn cluster_id_alphabet_follows_the_contract() {
        // 200 ids make a `-`/`_` or `+`/`/` all but certain to appear.
        let ids = |c| {
            (0..200)
                .map(|_| new_cluster_id(c).unwrap())
                .collect::<Vec<_>>()
        };
        let old = ids(VersionContract::V1_13);
        assert!(old
            .iter()
            .all(|id| URL_SAFE.decode(id).unwrap().len() == 32));
        assert!(old.iter().any(|id| id.contains(['-', '_'])));
        let new = ids(VersionContract::new(1, 14));
        assert!(new
            .iter()
            .all(|id| STANDARD.decode(id).unwrap().len() == 32));
        assert!(new.iter().any(|id| id.contains(['+', '/'])));
    }

    #[test]
    fn tokens_have_kubeadm_form() {
        for _ in 0..20 {
            assert!(is_token(&new_token().unwrap()));
        }
        assert!(!is_token("ABCDEF.0123456789abcdef"));
        assert!(!is_token("abcdef0123456789abcdef"));
    }
}
