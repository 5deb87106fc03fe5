//! Talos release versions (`v1.13.9`, `v1.14.0-rc.1`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::FactoryError;

/// The newest stable Talos release lab knows (`talos@3ebd10a`, 2026-08-18).
pub const NEWEST_STABLE: &str = "v1.13.9";

/// The newest Talos pre-release lab knows (`talos@7a84d74`).
pub const NEWEST_PRERELEASE: &str = "v1.14.0-rc.1";

/// The Talos releases lab knows exist: the v1.13 line up to the newest
/// stable release, and the v1.14 pre-release. A version outside this list
/// is not necessarily wrong (lab's list ages), but the model reports it as
/// an unknown Talos version so a typo such as `v1.13.90` is caught before
/// the Image Factory answers 404.
pub const KNOWN_VERSIONS: &[&str] = &[
    "v1.13.0",
    "v1.13.1",
    "v1.13.2",
    "v1.13.3",
    "v1.13.4",
    "v1.13.5",
    "v1.13.6",
    "v1.13.7",
    "v1.13.8",
    "v1.13.9",
    "v1.14.0-rc.1",
];

/// A Talos release version: `v<major>.<minor>.<patch>` with an optional
/// pre-release suffix (`-alpha.0`, `-beta.1`, `-rc.1`), the form the Image
/// Factory and the installer image tags use.
///
/// Ordered by semantic-version precedence: `v1.14.0-rc.1` < `v1.14.0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TalosVersion {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Option<String>,
}

impl TalosVersion {
    /// A stable release version.
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
            pre: None,
        }
    }

    /// Parses `v1.13.9` or `v1.14.0-rc.1`. The leading `v` is required, as
    /// in every Talos URL and image tag.
    pub fn parse(text: &str) -> Result<Self, FactoryError> {
        let invalid = |reason: &str| FactoryError::InvalidVersion {
            input: text.to_string(),
            reason: reason.to_string(),
        };
        let Some(rest) = text.strip_prefix('v') else {
            let hint = if text.starts_with(|c: char| c.is_ascii_digit()) {
                format!("Talos versions start with `v`: write `v{text}`")
            } else {
                "expected the form v1.13.9".to_string()
            };
            return Err(invalid(&hint));
        };
        if rest.contains('+') {
            return Err(invalid(
                "build metadata (`+...`) is not part of a Talos version",
            ));
        }
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(invalid(
                "expected major.minor.patch, such as v1.13.9 (not just the minor v1.13)",
            ));
        };
        let number = |part: &str| -> Result<u64, FactoryError> {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("version numbers are decimal digits"));
            }
            if part.len() > 1 && part.starts_with('0') {
                return Err(invalid("version numbers have no leading zeros"));
            }
            part.parse()
                .map_err(|_| invalid("version number out of range"))
        };
        let pre = match pre {
            None => None,
            Some(pre) => {
                for ident in pre.split('.') {
                    if ident.is_empty()
                        || !ident
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        return Err(invalid(
                            "the pre-release suffix is dot-separated letters, digits and hyphens, such as -rc.1",
                        ));
                    }
                    if ident.len() > 1
                        && ident.starts_with('0')
                        && ident.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(invalid("pre-release numbers have no leading zeros"));
                    }
                }
                Some(pre.to_string())
            }
        };
        Ok(Self {
            major: number(major)?,
            minor: number(minor)?,
            patch: number(patch)?,
            pre,
        })
    }

    /// The major version (1).
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor version (13).
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch version (9).
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The pre-release suffix without its hyphen (`rc.1`), if any.
    pub fn pre_release(&self) -> Option<&str> {
        self.pre.as_deref()
    }

    /// Whether this is a pre-release (alpha, beta, release candidate).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// The machine-config version contract this release belongs to, as
    /// `talosctl gen config --talos-version` takes it: `v1.13` for
    /// `v1.13.9`, `v1.14` for `v1.14.0-rc.1`.
    pub fn minor_contract(&self) -> String {
        format!("v{}.{}", self.major, self.minor)
    }

    /// Whether lab knows this release exists ([`KNOWN_VERSIONS`]).
    pub fn is_known(&self) -> bool {
        let text = self.to_string();
        KNOWN_VERSIONS.contains(&text.as_str())
    }

    /// The newest stable release lab knows ([`NEWEST_STABLE`]).
    pub fn newest_stable() -> Self {
        Self::new(1, 13, 9)
    }

    /// The newest pre-release lab knows ([`NEWEST_PRERELEASE`]).
    pub fn newest_prerelease() -> Self {
        Self {
            major: 1,
            minor: 14,
            patch: 0,
            pre: Some("rc.1".into()),
        }
    }
}

impl fmt::Display for TalosVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

impl FromStr for TalosVersion {
    type Err = FactoryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for TalosVersion {
    type Error = FactoryError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl Ord for TalosVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => cmp_pre(a, b),
            })
    }
}

impl PartialOrd for TalosVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Semantic-version precedence of two pre-release suffixes: identifier by
/// identifier, numbers numerically and before words, words in ASCII order,
/// a shorter list first when one is a prefix of the other.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

impl serde::Serialize for TalosVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for TalosVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}
