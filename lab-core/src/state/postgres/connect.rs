//! The connection string (`LAB_STATE_POSTGRES`) and TLS.
//!
//! The string is a libpq-style URL,
//! `postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=require`, read by
//! tokio-postgres after this module takes out the TLS parameters it handles
//! itself; without a password in it, `PGPASSWORD`'s is used, as libpq does. Its description ([`PgSettings::describe`]) is rebuilt from the
//! parsed parts and never holds the password: it is what every message,
//! error and log line shows.
//!
//! **sslmode.** `disable`: plain TCP. `prefer` (the default, as in libpq):
//! TLS when the server offers it, plain otherwise. `require`, `verify-ca`,
//! `verify-full`: TLS or no connection. Unlike libpq's `prefer` and
//! `require`, a TLS connection here always verifies the server: against the
//! CA file given by `sslrootcert=FILE`, else the platform's roots, or, with
//! `sslfingerprint=AA:BB:...` (a lab parameter, not libpq's), exactly the
//! certificate with that SHA-256, as lab-proxmox pins a node. A password
//! sent to a server nobody checked is a password given away. `verify-ca`
//! checks the chain and not the host name; the others check both (a pinned
//! certificate is trusted whatever its names). A refused certificate's
//! error shows its fingerprint, so the value to pin is at hand.
//!
//! **TLS crate.** `tokio-postgres-rustls` (with rustls 0.23 and ring, no
//! aws-lc) carries the TLS stream and SCRAM channel binding; the verifier
//! is this module's.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use tokio_postgres::config::{Host, SslMode as PgSslMode};

use crate::fingerprint::{format_fingerprint, parse_fingerprint, sha256_fingerprint};

/// The environment variable holding the connection string.
pub const ENV_VAR: &str = "LAB_STATE_POSTGRES";

/// How TLS is used (libpq's `sslmode` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it (verified), plain otherwise.
    Prefer,
    /// TLS, verified (chain and host name, or the pinned certificate).
    Require,
    /// TLS, the chain verified, not the host name.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed connection string: what to connect to and how to trust it.
#[derive(Clone)]
pub struct PgSettings {
    config: tokio_postgres::Config,
    ssl: SslMode,
    root_cert: Option<PathBuf>,
    pin: Option<[u8; 32]>,
    describe: String,
}

impl fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &self.describe)
            .finish_non_exhaustive()
    }
}

impl PgSettings {
    /// Parses `url` (`postgres://` or `postgresql://`). The error never
    /// repeats the string (it may hold a password).
    pub fn parse(url: &str) -> Result<PgSettings, String> {
        let Some(rest) = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        else {
            return Err(format!(
                "the connection string is not a URL starting with postgres:// (write it as \
                 postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=require in {ENV_VAR})"
            ));
        };
        let (base, query) = match rest.split_once('?') {
            Some((b, q)) => (b, q),
            None => (rest, ""),
        };
        let mut ssl = SslMode::Prefer;
        let (mut root_cert, mut pin) = (None, None);
        let mut passed: Vec<&str> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    ssl = SslMode::parse(value).ok_or_else(|| {
                        format!(
                            "sslmode `{value}` is not one of disable, prefer, require, \
                             verify-ca, verify-full"
                        )
                    })?
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(value))),
                "sslfingerprint" => {
                    let text = percent_decode(value);
                    pin = Some(parse_fingerprint(&text).ok_or_else(|| {
                        "sslfingerprint is not a SHA-256 fingerprint (64 hex digits, e.g. \
                         AA:BB:...: `openssl x509 -noout -fingerprint -sha256 -in server.crt`)"
                            .to_string()
                    })?)
                }
                "password" => {
                    return Err(
                        "give the password in the URL's user part (postgres://USER:PASSWORD@...), \
                         not as a `password=` parameter"
                            .into(),
                    )
                }
                _ => passed.push(pair),
            }
        }
        let pg_mode = match ssl {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        };
        let mut text = format!("postgres://{base}");
        if !passed.is_empty() {
            text.push('?');
            text.push_str(&passed.join("&"));
        }
        let mut config = tokio_postgres::Config::from_str(&text)
            .map_err(|e| format!("the connection string does not parse: {e}"))?;
        config.ssl_mode(pg_mode);
        if config.get_application_name().is_none() {
            config.application_name("lab");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        // As libpq: a URL without a password takes `PGPASSWORD`'s (which
        // keeps it out of the process list of `state migrate --to URL`).
        if config.get_password().is_none() {
            if let Some(password) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
                config.password(password.as_encoded_bytes());
            }
        }
        if config.get_user().is_none() {
            return Err("the connection string names no user (postgres://USER@HOST/DBNAME)".into());
        }
        let describe = describe(&config, ssl);
        Ok(PgSettings {
            config,
            ssl,
            root_cert,
            pin,
            describe,
        })
    }

    /// The connection string without the password, for messages:
    /// `postgres://lab@127.0.0.1:5432/lab?sslmode=require`.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The sslmode.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl
    }

    /// The database name (the user's when the URL names none, as libpq).
    pub fn dbname(&self) -> &str {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres")
    }

    /// The tokio-postgres configuration.
    pub(super) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The TLS connector for the session (`None` with `sslmode=disable`).
    pub(super) fn tls(&self) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, String> {
        if self.ssl == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = self.verifier(provider.clone())?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }

    fn verifier(&self, provider: Arc<CryptoProvider>) -> Result<Verifier, String> {
        let check = if let Some(pin) = self.pin {
            Check::Pinned(pin)
        } else if let Some(path) = &self.root_cert {
            let text = std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read the CA file sslrootcert={}: {e}",
                    path.display()
                )
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&text) {
                let cert =
                    cert.map_err(|e| format!("the CA file {} is not PEM: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("a certificate in {} is refused: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "the CA file {} holds no certificate",
                    path.display()
                ));
            }
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("cannot use the CA file {}: {e}", path.display()))?;
            Check::Roots(inner, format!("the CA file {}", path.display()))
        } else {
            let inner = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("cannot load the platform's root certificates: {e}"))?;
            Check::Roots(Arc::new(inner), "the platform's root certificates".into())
        };
        Ok(Verifier {
            provider,
            check,
            names: self.ssl != SslMode::VerifyCa,
        })
    }
}

/// `postgres://user@host:port/db?sslmode=...` from the parsed parts.
fn describe(config: &tokio_postgres::Config, ssl: SslMode) -> String {
    let user = config.get_user().unwrap_or("");
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    format!(
        "postgres://{user}@{}/{db}?sslmode={}",
        hosts.join(","),
        ssl.name()
    )
}

/// `%XX` escapes decoded (a path or fingerprint in the URL's query).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a certificate was refused; carried inside rustls's error, its text
/// names the certificate's fingerprint and what to do.
#[derive(Debug)]
struct Refusal(String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

enum Check {
    /// Exactly the certificate with this SHA-256.
    Pinned([u8; 32]),
    /// A chain to these roots (named for messages).
    Roots(Arc<dyn ServerCertVerifier>, String),
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Pinned(p) => write!(f, "Pinned({})", format_fingerprint(p)),
            Check::Roots(_, what) => write!(f, "Roots({what})"),
        }
    }
}

/// The server certificate verifier: pinned, or roots (with or without the
/// host name). Handshake signatures are always verified, so the server
/// must hold the certificate's key.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    check: Check,
    names: bool,
}

impl Verifier {
    fn refuse(&self, cert: &CertificateDer<'_>, why: String) -> rustls::Error {
        let fp = sha256_fingerprint(cert.as_ref());
        let text = format!(
            "the server's certificate (SHA-256 {fp}) was refused: {why}. If this is your \
             server's certificate, pin it with sslfingerprint={fp} in {ENV_VAR}, or give its \
             CA with sslrootcert=FILE"
        );
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Refusal(
            text,
        )))))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.check {
            Check::Pinned(pin) => {
                let got = parse_fingerprint(&sha256_fingerprint(end_entity.as_ref()));
                if got.as_ref() == Some(pin) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(self.refuse(
                        end_entity,
                        format!("it is not the pinned one, {}", format_fingerprint(pin)),
                    ))
                }
            }
            Check::Roots(inner, what) => {
                match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                    Ok(v) => Ok(v),
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. },
                    )) if !self.names => Ok(ServerCertVerified::assertion()),
                    Err(e) => Err(self.refuse(end_entity, format!("checked against {what}: {e}"))),
                }
            }
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

/// An error and its sources, one line (tokio-postgres's own text is short:
/// "error performing TLS handshake"; the reason is in its sources).
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    let mut depth = 0;
    while let Some(e) = cur {
        depth += 1;
        if depth > 8 {
            break;
        }
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cur = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_never_holds_the_password() {
        let s = PgSettings::parse(
            "postgres://lab:s3cr%40t-pw@127.0.0.1:5433/labdb?sslmode=require&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(
            s.describe(),
            "postgres://lab@127.0.0.1:5433/labdb?sslmode=require"
        );
        assert!(!format!("{s:?}").contains("s3cr"));
        assert_eq!(s.ssl_mode(), SslMode::Require);
        assert_eq!(s.dbname(), "labdb");
    }

    #[test]
    fn bad_strings_are_refused_without_repeating_them() {
        for bad in [
            "mysql://lab:hunter2@h/db",
            "postgres://lab:hunter2@h/db?sslmode=maybe",
            "postgres://lab@h/db?password=hunter2",
            "postgres://lab:hunter2@h/db?sslfingerprint=zz",
        ] {
            let e = PgSettings::parse(bad).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
        let fp = sha256_fingerprint(b"x");
        let s = PgSettings::parse(&format!(
            "postgresql://lab@h/db?sslmode=verify-full&sslfingerprint={}",
            fp.replace(':', "%3A")
        ))
        .unwrap();
        assert_eq!(s.pin, parse_fingerprint(&fp));
        assert_eq!(s.dbname(), "db");
        assert_eq!(
            PgSettings::parse("postgres://lab@h").unwrap().dbname(),
            "lab"
        );
    }
}
