//! Property strings, sizes, MAC addresses and tag lists, printed the way PVE
//! prints them.
//!
//! PVE keeps most guest settings as *property strings* (`virtio,bridge=vmbr0`,
//! `local-lvm:32,discard=on`). On write it parses them and prints them back
//! with `PVE::JSONSchema::print_property_string`: the default key's value
//! first (without `key=`), then every other key **sorted by name**. That is
//! why `scsi0: local-lvm:32,ssd=1,discard=on` reads back as
//! `local-lvm:vm-101-disk-0,discard=on,size=32G,ssd=1` (proxmox-api.md §6
//! "Values PVE normalises on read"). The simulator uses the same rule so that
//! readback noise in the provider's diff is exercised for real.

use std::collections::BTreeMap;

use rand::Rng;

/// One parsed property string: the default key's value (if the string starts
/// with a bare value) and the remaining `key=value` pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PropString {
    /// The leading bare value (`virtio`, `local-lvm:32`), if any.
    pub head: Option<String>,
    /// Every `key=value` pair, in input order (last one wins on print).
    pub pairs: Vec<(String, String)>,
}

impl PropString {
    /// Parses `value` (a comma list of `value` / `key=value` items). Only the
    /// first item may be bare; a later bare item is reported as an error,
    /// like PVE's "value without key, but schema does not define a default
    /// key".
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut out = PropString::default();
        for (index, item) in value.split(',').enumerate() {
            if item.is_empty() {
                continue;
            }
            match item.split_once('=') {
                Some((k, v)) => out.pairs.push((k.trim().to_string(), v.to_string())),
                None if index == 0 => out.head = Some(item.to_string()),
                None => {
                    return Err(format!(
                        "value without key, but schema does not define a default key: '{item}'"
                    ))
                }
            }
        }
        Ok(out)
    }

    /// The value of `key` (last occurrence).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Removes every occurrence of `key` and returns the last value.
    pub fn take(&mut self, key: &str) -> Option<String> {
        let value = self.get(key).map(str::to_string);
        self.pairs.retain(|(k, _)| k != key);
        value
    }

    /// Sets `key` (replacing earlier values).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.pairs.retain(|(k, _)| k != key);
        self.pairs.push((key.to_string(), value.into()));
    }

    /// Prints `head` (if any) and then the pairs sorted by key, the way
    /// `print_property_string` does.
    pub fn print(&self) -> String {
        let mut sorted: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &self.pairs {
            sorted.insert(k, v);
        }
        let mut parts: Vec<String> = Vec::new();
        if let Some(head) = &self.head {
            parts.push(head.clone());
        }
        parts.extend(sorted.into_iter().map(|(k, v)| format!("{k}={v}")));
        parts.join(",")
    }

    /// Prints with `first_key=value` first (used for LXC `net[n]`, whose
    /// `name` is printed first) and the rest sorted.
    pub fn print_key_first(&self, first_key: &str) -> String {
        let mut rest = self.clone();
        let first = rest.take(first_key);
        let tail = rest.print();
        match first {
            Some(v) if tail.is_empty() => format!("{first_key}={v}"),
            Some(v) => format!("{first_key}={v},{tail}"),
            None => tail,
        }
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

/// One GiB in bytes.
pub(crate) const GIB_BYTES: u64 = GIB;
/// One MiB in bytes.
pub(crate) const MIB_BYTES: u64 = MIB;

/// Parses a PVE disk size (`32G`, `512M`, `1.5T`, `4096` = bytes) into bytes.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], Some(c.to_ascii_uppercase())),
        _ => (text, None),
    };
    let value: f64 = number.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let factor = match unit {
        None => 1,
        Some('K') => KIB,
        Some('M') => MIB,
        Some('G') => GIB,
        Some('T') => TIB,
        Some(_) => return None,
    };
    Some((value * factor as f64).round() as u64)
}

/// Prints a size the way PVE's `format_size` does in drive strings: the
/// largest unit that divides it exactly (`32G`, `4M`), else bytes.
pub(crate) fn format_size(bytes: u64) -> String {
    for (unit, factor) in [('T', TIB), ('G', GIB), ('M', MIB), ('K', KIB)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

/// A random MAC with Proxmox's default prefix `BC:24:11` (datacenter.cfg
/// `mac_prefix`, `PVE::Tools::random_ether_addr`).
pub(crate) fn random_mac() -> String {
    let mut rng = rand::rng();
    format!(
        "BC:24:11:{:02X}:{:02X}:{:02X}",
        rng.random::<u8>(),
        rng.random::<u8>(),
        rng.random::<u8>()
    )
}

/// Whether `mac` looks like `XX:XX:XX:XX:XX:XX`.
pub(crate) fn is_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Normalises a tag list the way `PVE::GuestHelpers::get_unique_tags` does
/// with the default datacenter `tag-style`: split on `;`, `,` or spaces,
/// drop duplicates (case-insensitively), sort, join with `;`.
pub(crate) fn normalise_tags(tags: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for tag in tags.split([';', ',', ' ']).filter(|t| !t.is_empty()) {
        if !out.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            out.push(tag.to_string());
        }
    }
    out.sort();
    out.join(";")
}

/// Splits a PVE list parameter (`delete=a,b;c d`, `vms=1,2`) like
/// `PVE::Tools::split_list`.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split([',', ';', ' ', '\0', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// PVE's `pve_verify_urlencoded` check (`format: urlencoded`, used by
/// `sshkeys`): after form decoding the value must only contain RFC 3986
/// unreserved characters and `%` escapes.
pub(crate) fn is_urlencoded(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '-' | '%' | '_' | '.' | '!' | '~' | '*' | '\'' | '(' | ')'
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_strings_print_sorted_with_head_first() {
        let p = PropString::parse("local-lvm:32,ssd=1,discard=on,iothread=1").unwrap();
        assert_eq!(p.head.as_deref(), Some("local-lvm:32"));
        assert_eq!(p.print(), "local-lvm:32,discard=on,iothread=1,ssd=1");
        let n = PropString::parse("bridge=vmbr0,name=eth0,ip=dhcp").unwrap();
        assert_eq!(n.print_key_first("name"), "name=eth0,bridge=vmbr0,ip=dhcp");
    }

    #[test]
    fn sizes_round_trip() {
        assert_eq!(parse_size("32G"), Some(32 * GIB));
        assert_eq!(parse_size("+10G".trim_start_matches('+')), Some(10 * GIB));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(format_size(32 * GIB), "32G");
        assert_eq!(format_size(4 * MIB), "4M");
        assert_eq!(format_size(1536 * MIB), "1536M");
        assert_eq!(parse_size("1x"), None);
    }

    #[test]
    fn tags_are_unique_and_sorted() {
        assert_eq!(normalise_tags("web,lab;Web db"), "db;lab;web");
        assert!(is_urlencoded("ssh-ed25519%20AAAA%2Fx%3D%3D%20me%40host"));
        assert!(!is_urlencoded("ssh-ed25519 AAAA"));
        assert!(is_mac(&random_mac()));
    }
}
