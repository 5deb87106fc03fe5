//! SHA-256 certificate fingerprints: how a self-signed server (a fresh
//! Proxmox node, a PostgreSQL server with its own certificate) is trusted
//! by pinning exactly its certificate.
//!
//! The form is `AA:BB:...` (32 bytes, uppercase hex), the one Proxmox shows
//! in its GUI and `openssl x509 -fingerprint -sha256` prints; input is read
//! with or without separators, in any case. lab-proxmox's TLS verifier and
//! lab-core's PostgreSQL store share these.

use sha2::{Digest, Sha256};

/// SHA-256 of `der`, formatted `AA:BB:...` (32 bytes, uppercase).
pub fn sha256_fingerprint(der: &[u8]) -> String {
    format_fingerprint(&Sha256::digest(der).into())
}

/// Formats 32 bytes as `AA:BB:...`.
pub fn format_fingerprint(bytes: &[u8; 32]) -> String {
    let mut out = String::with_capacity(95);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// Parses a SHA-256 fingerprint written with or without `:` (or spaces,
/// dashes), in any case: `aa:bb:...`, `AABB...`. `None` unless it is
/// exactly 32 bytes of hex.
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let hex: Vec<u8> = s
        .bytes()
        .filter(|b| !matches!(b, b':' | b' ' | b'-'))
        .collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Normalises a fingerprint to `AA:BB:...`; `None` if it is not SHA-256.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    parse_fingerprint(s).map(|b| format_fingerprint(&b))
}

/// True if two fingerprints denote the same SHA-256 (case and separators
/// ignored); false if either is malformed.
pub fn fingerprints_match(a: &str, b: &str) -> bool {
    match (parse_fingerprint(a), parse_fingerprint(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_normalisation_and_compare() {
        let fp = sha256_fingerprint(b"hello");
        assert_eq!(
            fp,
            "2C:F2:4D:BA:5F:B0:A3:0E:26:E8:3B:2A:C5:B9:E2:9E:1B:16:1E:5C:1F:A7:42:5E:73:04:33:62:93:8B:98:24"
        );
        let lower_plain = fp.replace(':', "").to_lowercase();
        assert!(fingerprints_match(&fp, &lower_plain));
        assert!(fingerprints_match(&fp.to_lowercase(), &fp));
        assert_eq!(
            normalize_fingerprint(&lower_plain).as_deref(),
            Some(fp.as_str())
        );
        assert!(!fingerprints_match(&fp, &sha256_fingerprint(b"other")));
        // SHA-1 length, junk, empty: not fingerprints.
        assert_eq!(parse_fingerprint("AA:BB:CC"), None);
        assert_eq!(parse_fingerprint(&"ZZ".repeat(32)), None);
        assert_eq!(parse_fingerprint(""), None);
        assert!(!fingerprints_match("", ""));
    }
}
