//! Stable resource addresses (`kind.name`).
//!
//! An address is the identity of a resource across runs: the state is keyed
//! by it, plans name it, and ownership markers stamped on real objects carry
//! it. The kind may contain dots (`proxmox.vm`); the name may not, so the
//! split at the last dot is unambiguous.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The stable address of a resource: `kind.name`, e.g. `proxmox.vm.immich`.
///
/// Cheap to clone (one `Arc`), ordered and hashed by its text.
///
/// ```
/// use lab_core::Address;
/// let a = Address::new("proxmox.vm", "immich");
/// assert_eq!(a.to_string(), "proxmox.vm.immich");
/// assert_eq!(a.kind(), "proxmox.vm");
/// assert_eq!(a.name(), "immich");
/// assert_eq!(Address::parse("proxmox.vm.immich"), Some(a));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    text: Arc<str>,
    kind_len: usize,
}

impl Address {
    /// The address of resource `name` of `kind`.
    pub fn new(kind: &str, name: &str) -> Self {
        let text: Arc<str> = format!("{kind}.{name}").into();
        Address {
            text,
            kind_len: kind.len(),
        }
    }

    /// Parses `kind.name`, splitting at the last dot. `None` if there is no dot.
    pub fn parse(text: &str) -> Option<Self> {
        let dot = text.rfind('.')?;
        if dot == 0 || dot + 1 == text.len() {
            return None;
        }
        Some(Address {
            text: text.into(),
            kind_len: dot,
        })
    }

    /// The kind, e.g. `proxmox.vm`.
    pub fn kind(&self) -> &str {
        &self.text[..self.kind_len]
    }

    /// The name, e.g. `immich`.
    pub fn name(&self) -> &str {
        &self.text[self.kind_len + 1..]
    }

    /// The whole address as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.text)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Address::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a `kind.name` address"))
        })
    }
}

/// Why a resource name is not acceptable, if it is not.
///
/// A name is 1 to 63 characters of ASCII letters, digits, `-` and `_`,
/// starting with a letter or digit. Dots are reserved as the separator
/// between kind and name.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if name.len() > 63 {
        return Some(format!(
            "the name is {} characters long; the limit is 63",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Some(format!(
            "the name contains {c:?}; use ASCII letters, digits, `-` and `_`"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("the name must start with a letter or a digit".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_with_dots_splits_at_last_dot() {
        let a = Address::parse("net.dns.record.photos").unwrap();
        assert_eq!(a.kind(), "net.dns.record");
        assert_eq!(a.name(), "photos");
        assert!(Address::parse("nodot").is_none());
        assert!(Address::parse("trailing.").is_none());
    }

    #[test]
    fn names() {
        assert!(name_problem("web-01").is_none());
        assert!(name_problem("").is_some());
        assert!(name_problem("a.b").is_some());
        assert!(name_problem("-x").is_some());
        assert!(name_problem(&"x".repeat(64)).is_some());
    }
}
