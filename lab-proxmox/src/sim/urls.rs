//! What is behind a URL: the simulated content that `download-url` fetches
//! and `query-url-metadata` describes.
//!
//! The simulator never dials out, so it has no bytes to hash. Instead every
//! URL stands for a deterministic simulated file: a size (from the file
//! name's extension, varied per URL in 4 KiB steps) and one digest per
//! algorithm PVE knows (`md5`, `sha1`, `sha224`, `sha256`, `sha384`,
//! `sha512`), derived from the URL with the algorithm's length. Tests set a
//! URL's size, digests, MIME type or `Content-Disposition` name with
//! [`SimUrl`] in [`super::SimConfig::urls`].
//!
//! A downloaded volume records what it was downloaded as
//! ([`super::Download`]), so a later `download-url` with a `checksum` onto
//! the existing file compares against the digest of that content, exactly
//! as pve-common's `download_file_from_url` hashes the file already there.
//! A file decompressed on download (`compression=zstd`) is another content
//! than the URL's: three times its size, with its own digests.

use std::collections::BTreeMap;

use sha2::{Digest, Sha512};

use super::propstr::{GIB_BYTES, MIB_BYTES};
use super::world::{Download, Volume};

/// The checksum algorithms of `download-url` and their digest lengths in
/// hex characters.
pub(crate) const ALGORITHMS: &[(&str, usize)] = &[
    ("md5", 32),
    ("sha1", 40),
    ("sha224", 56),
    ("sha256", 64),
    ("sha384", 96),
    ("sha512", 128),
];

/// The simulated content behind one URL; every field left `None` (or an
/// algorithm left out of `checksums`) keeps the derived default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimUrl {
    /// Size in bytes (the `Content-Length`, and the size of the downloaded
    /// file unless it is decompressed).
    pub size: Option<u64>,
    /// Hex digests by algorithm (`sha256` → `ab12...`), compared
    /// case-insensitively like pve-common does.
    pub checksums: BTreeMap<String, String>,
    /// The `Content-Type` (default from the extension).
    pub mimetype: Option<String>,
    /// A `Content-Disposition` file name; without one
    /// `query-url-metadata` takes the name from the URL's path.
    pub filename: Option<String>,
    /// The server answers `404 Not Found` (like
    /// [`super::SimConfig::download_urls_fail`]).
    pub missing: bool,
}

impl SimUrl {
    /// A URL with every default.
    pub fn new() -> Self {
        SimUrl::default()
    }

    /// Sets the size in bytes.
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = Some(bytes);
        self
    }

    /// Sets the digest of one algorithm (`sha256`, ...).
    pub fn checksum(mut self, algorithm: &str, hex: &str) -> Self {
        self.checksums
            .insert(algorithm.to_ascii_lowercase(), hex.to_string());
        self
    }

    /// Sets the `Content-Type`.
    pub fn mimetype(mut self, mimetype: &str) -> Self {
        self.mimetype = Some(mimetype.to_string());
        self
    }

    /// Sets the `Content-Disposition` file name.
    pub fn filename(mut self, filename: &str) -> Self {
        self.filename = Some(filename.to_string());
        self
    }

    /// The server answers 404.
    pub fn missing(mut self) -> Self {
        self.missing = true;
        self
    }
}

/// The hex length of an algorithm's digest; `None` if PVE does not know it.
pub(crate) fn digest_len(algorithm: &str) -> Option<usize> {
    ALGORITHMS
        .iter()
        .find(|(a, _)| *a == algorithm)
        .map(|(_, n)| *n)
}

/// A digest of `algorithm`'s length derived from `key`.
fn derived_digest(key: &str, algorithm: &str) -> Option<String> {
    let len = digest_len(algorithm)?;
    let hash = Sha512::digest(format!("pve-sim:{algorithm}:{key}").as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    Some(hex[..len].to_string())
}

/// A small per-key number (0..256) for varying default sizes.
fn variation(key: &str) -> u64 {
    Sha512::digest(format!("pve-sim:size:{key}").as_bytes())[0] as u64
}

/// The last path segment of a URL, without query or fragment.
pub(crate) fn url_basename(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_scheme = path.split_once("://").map(|(_, r)| r).unwrap_or(path);
    match after_scheme.split_once('/') {
        Some((_, p)) => p.rsplit('/').next().unwrap_or_default(),
        None => "",
    }
}

const COMPRESSED: &[&str] = &["gz", "xz", "zst", "bz2", "lzo"];

/// The default size for a file name: by extension, varied by `key`.
fn default_size(name: &str, key: &str) -> u64 {
    let lower = name.to_ascii_lowercase();
    let mut parts = lower.rsplit('.');
    let ext = parts.next().unwrap_or_default();
    let inner = parts.next().unwrap_or_default();
    let step = variation(key) * 4096;
    match ext {
        "iso" => 650 * MIB_BYTES + step,
        "raw" => 3 * GIB_BYTES,
        "qcow2" | "img" => 420 * MIB_BYTES + step,
        "vmdk" | "ova" | "ovf" => GIB_BYTES + step,
        "tar" | "tgz" => 125 * MIB_BYTES + step,
        e if COMPRESSED.contains(&e) && inner == "tar" => 125 * MIB_BYTES + step,
        e if COMPRESSED.contains(&e) => default_size(&lower[..lower.len() - e.len() - 1], key) / 3,
        _ => 64 * MIB_BYTES + step,
    }
}

/// The URLs a simulator knows ([`super::SimConfig::urls`] and
/// [`super::SimConfig::download_urls_fail`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Urls {
    pub known: BTreeMap<String, SimUrl>,
    pub failing: Vec<String>,
}

impl Urls {
    fn get(&self, url: &str) -> Option<&SimUrl> {
        self.known.get(url)
    }

    /// Whether the server answers 404.
    pub fn missing(&self, url: &str) -> bool {
        self.failing.iter().any(|u| u == url) || self.get(url).is_some_and(|u| u.missing)
    }

    /// The `Content-Length`.
    pub fn size(&self, url: &str) -> u64 {
        self.get(url)
            .and_then(|u| u.size)
            .unwrap_or_else(|| default_size(url_basename(url), url))
    }

    /// The digest of the URL's content.
    pub fn checksum(&self, url: &str, algorithm: &str) -> Option<String> {
        let algorithm = algorithm.to_ascii_lowercase();
        match self.get(url).and_then(|u| u.checksums.get(&algorithm)) {
            Some(hex) => Some(hex.clone()),
            None => derived_digest(url, &algorithm),
        }
    }

    /// The `Content-Type`.
    pub fn mimetype(&self, url: &str) -> String {
        if let Some(m) = self.get(url).and_then(|u| u.mimetype.clone()) {
            return m;
        }
        let lower = url_basename(url).to_ascii_lowercase();
        let ext = lower.rsplit('.').next().unwrap_or_default();
        match ext {
            "iso" => "application/x-iso9660-image",
            "gz" | "tgz" => "application/gzip",
            "xz" => "application/x-xz",
            "zst" => "application/zstd",
            "bz2" => "application/x-bzip2",
            "tar" => "application/x-tar",
            _ => "application/octet-stream",
        }
        .to_string()
    }

    /// The `Content-Disposition` file name, if the server sends one.
    pub fn disposition(&self, url: &str) -> Option<String> {
        self.get(url).and_then(|u| u.filename.clone())
    }

    /// Size of the file a download leaves (decompressed: three times the
    /// download).
    pub fn file_size(&self, download: &Download) -> u64 {
        let size = self.size(&download.url);
        match download.compression {
            Some(_) => size.saturating_mul(3),
            None => size,
        }
    }

    /// The digest of the file a download leaves.
    pub fn file_checksum(&self, download: &Download, algorithm: &str) -> Option<String> {
        match &download.compression {
            None => self.checksum(&download.url, algorithm),
            Some(c) => derived_digest(
                &format!("decompressed:{c}:{}", download.url),
                &algorithm.to_ascii_lowercase(),
            ),
        }
    }

    /// The digest of a volume already on a storage: of what it was
    /// downloaded as, or derived from its volume id.
    pub fn volume_checksum(&self, volume: &Volume, algorithm: &str) -> Option<String> {
        match &volume.download {
            Some(d) => self.file_checksum(d, algorithm),
            None => derived_digest(
                &format!("volume:{}", volume.volid),
                &algorithm.to_ascii_lowercase(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_have_their_algorithm_length_and_overrides_win() {
        let mut urls = Urls::default();
        let url = "https://example.invalid/a/x.iso?token=1";
        for (alg, len) in ALGORITHMS {
            let d = urls.checksum(url, alg).unwrap();
            assert_eq!(d.len(), *len);
            assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
        }
        assert_ne!(
            urls.checksum(url, "sha256"),
            urls.checksum("https://example.invalid/y.iso", "sha256")
        );
        assert_eq!(urls.checksum(url, "crc32"), None);
        urls.known.insert(
            url.to_string(),
            SimUrl::new().size(42).checksum("SHA256", "AB"),
        );
        assert_eq!(urls.checksum(url, "sha256").as_deref(), Some("AB"));
        assert_eq!(urls.size(url), 42);
        assert_eq!(url_basename(url), "x.iso");
        assert_eq!(url_basename("https://host"), "");
        assert_eq!(url_basename("https://host/dir/"), "");
    }

    #[test]
    fn default_sizes_follow_the_extension() {
        let urls = Urls::default();
        let iso = urls.size("https://h/x.iso");
        assert!((650 * MIB_BYTES..651 * MIB_BYTES).contains(&iso));
        assert_eq!(iso % 4096, 0);
        assert_eq!(urls.size("https://h/x.raw"), 3 * GIB_BYTES);
        let zst = urls.size("https://h/x.iso.zst");
        assert!(zst < iso && zst > 200 * MIB_BYTES, "{zst}");
        let tmpl = urls.size("https://h/debian-13-standard_13.1-2_amd64.tar.zst");
        assert!((125 * MIB_BYTES..126 * MIB_BYTES).contains(&tmpl));
    }
}
