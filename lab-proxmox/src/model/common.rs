//! Small pieces the builders share: recording values and problems at a
//! known line, and the parsers for Proxmox's little languages (sizes,
//! slots, tags, names, addresses).

use std::collections::BTreeSet;
use std::net::IpAddr;

use lab_core::{Input, Loc, Output, Problem, ResourceSpec, Value};

/// Sets `field` to `value` as if written at `loc` (for values lowered when
/// the builder is finished rather than when the user's method ran).
pub(crate) fn put(spec: &mut ResourceSpec, field: &str, value: impl Into<Value>, loc: Loc) {
    spec.attrs.insert(field.to_string(), value.into());
    spec.field_locs.insert(field.to_string(), loc);
}

/// Remembers where something without an attribute of its own was written
/// (`disks.scsi0`, `nics.net0.tag`).
pub(crate) fn mark(spec: &mut ResourceSpec, key: String, loc: Loc) {
    spec.field_locs.insert(key, loc);
}

/// Records a bad value at `loc` (for problems found when the builder is
/// finished, which must still point at the user's line).
pub(crate) fn problem_at(
    spec: &mut ResourceSpec,
    field: &str,
    loc: Loc,
    message: impl Into<String>,
    help: impl Into<String>,
) {
    spec.problems.push(Problem {
        field: field.to_string(),
        message: message.into(),
        help: help.into(),
        loc,
    });
}

/// The help line for sizes.
pub(crate) const SIZE_HELP: &str =
    "write a whole number of GiB or TiB with its unit, like `32G` or `1T`";

/// Parses a disk size (`32G`, `1T`, `2048M`, `40GiB`) into whole GiB.
///
/// Proxmox allocates disks in whole GiB (`local-lvm:32`), so a size that is
/// not a whole number of GiB, has no unit, or is zero is refused.
pub(crate) fn parse_size_gb(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("`{text}` is not a size"));
    }
    if unit.starts_with(['.', ',']) {
        return Err(format!(
            "`{text}` is not a whole number; sizes are whole GiB"
        ));
    }
    let n: i64 = num.parse().map_err(|_| format!("`{text}` is too large"))?;
    let gib = match unit.to_ascii_lowercase().as_str() {
        "g" | "gb" | "gib" => Some(n),
        "t" | "tb" | "tib" => n.checked_mul(1024),
        "m" | "mb" | "mib" => {
            if n % 1024 != 0 {
                return Err(format!(
                    "`{text}` is not a whole number of GiB (Proxmox allocates disks in GiB)"
                ));
            }
            Some(n / 1024)
        }
        "" => return Err(format!("`{text}` has no unit")),
        _ => return Err(format!("`{text}` has an unknown unit `{unit}`")),
    };
    match gib {
        None => Err(format!("`{text}` is too large")),
        Some(0) => Err(format!("`{text}` is zero; a disk needs at least 1 GiB")),
        Some(g) => Ok(g),
    }
}

/// Checks a slot name such as `scsi0` against `(prefix, highest index)`
/// pairs and returns its index.
pub(crate) fn parse_slot(slot: &str, kinds: &[(&str, u32)]) -> Result<u32, String> {
    for (prefix, max) in kinds {
        let Some(rest) = slot.strip_prefix(prefix) else {
            continue;
        };
        if rest.is_empty()
            || !rest.bytes().all(|b| b.is_ascii_digit())
            || (rest.len() > 1 && rest.starts_with('0'))
        {
            continue;
        }
        return match rest.parse::<u32>() {
            Ok(n) if n <= *max => Ok(n),
            _ => Err(format!(
                "`{slot}` is out of range: {prefix} slots are {prefix}0 to {prefix}{max}"
            )),
        };
    }
    let forms: Vec<String> = kinds
        .iter()
        .map(|(p, max)| format!("{p}0..{p}{max}"))
        .collect();
    Err(format!(
        "`{slot}` is not a slot name here; use {}",
        forms.join(", ")
    ))
}

/// Disk slots of a QEMU VM (`qm` limits).
pub(crate) const VM_DISK_SLOTS: &[(&str, u32)] =
    &[("scsi", 30), ("virtio", 15), ("sata", 5), ("ide", 3)];
/// NIC slots of VMs and containers (32 of each).
pub(crate) const NIC_SLOTS: &[(&str, u32)] = &[("net", 31)];
/// Mount point slots of a container.
pub(crate) const MP_SLOTS: &[(&str, u32)] = &[("mp", 255)];

/// Why `tag` is not a Proxmox tag (`pve-tag`: a letter, digit or `_`, then
/// letters, digits, `_ - + .`), if it is not.
pub(crate) fn tag_problem(tag: &str) -> Option<String> {
    let ok_first = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok_rest = |c: char| ok_first(c) || matches!(c, '-' | '+' | '.');
    let mut chars = tag.chars();
    match chars.next() {
        None => Some("a tag cannot be empty".into()),
        Some(c) if !ok_first(c) => Some(format!(
            "tag `{tag}` must start with a letter, a digit or `_`"
        )),
        _ => chars
            .find(|c| !ok_rest(*c))
            .map(|c| format!("tag `{tag}` contains {c:?}; tags use letters, digits, `_ - + .`")),
    }
}

/// Records each tag, reporting bad ones at the caller's line; returns the
/// sorted list.
#[track_caller]
pub(crate) fn add_tags(spec: &mut ResourceSpec, set: &mut BTreeSet<String>, tags: &[&str]) {
    for t in tags {
        match tag_problem(t) {
            Some(p) => spec.invalid("tags", p, "write tags like `photos`, `prod_db` or `v1.2`"),
            None => {
                set.insert(t.to_string());
            }
        }
    }
    let list: Vec<String> = set.iter().cloned().collect();
    spec.set("tags", list);
}

/// Why `name` is not a DNS name (dot-separated labels of letters, digits
/// and inner `-`), if it is not.
pub(crate) fn dns_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    for label in name.split('.') {
        if let Some(p) = dns_label_problem(label) {
            return Some(format!("`{name}` is not a DNS name: {p}"));
        }
    }
    None
}

/// Why `label` is not one DNS label, if it is not.
pub(crate) fn dns_label_problem(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("a label is empty".into());
    }
    if label.len() > 63 {
        return Some(format!("`{label}` is longer than 63 characters"));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Some(format!("it contains {c:?}"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Some("a label cannot start or end with `-`".into());
    }
    None
}

/// Why `text` is not `address/prefix` of the family wanted, if it is not.
pub(crate) fn cidr_problem(text: &str, v6: bool) -> Option<String> {
    let family = if v6 { "IPv6" } else { "IPv4" };
    let Some((addr, prefix)) = text.split_once('/') else {
        return Some(format!(
            "`{text}` has no prefix length; write it like `{}`",
            example_cidr(v6)
        ));
    };
    let max = if v6 { 128 } else { 32 };
    match (addr.parse::<IpAddr>(), prefix.parse::<u8>()) {
        (Ok(ip), Ok(p)) if ip.is_ipv6() == v6 && p <= max => None,
        (Ok(ip), Ok(_)) if ip.is_ipv6() == v6 => {
            Some(format!("`{text}`: the prefix length is more than {max}"))
        }
        _ => Some(format!(
            "`{text}` is not an {family} address with a prefix length"
        )),
    }
}

fn example_cidr(v6: bool) -> &'static str {
    if v6 {
        "fd00::5/64"
    } else {
        "10.0.0.5/24"
    }
}

/// Why `text` is not an IP address of the family wanted, if it is not.
pub(crate) fn ip_problem(text: &str, v6: bool) -> Option<String> {
    match text.parse::<IpAddr>() {
        Ok(ip) if ip.is_ipv6() == v6 => None,
        _ => Some(format!(
            "`{text}` is not an {} address",
            if v6 { "IPv6" } else { "IPv4" }
        )),
    }
}

/// Why a Proxmox storage id is not valid (`pve-storage-id`: a lowercase
/// letter, then lowercase letters, digits, `- _ .`, ending in a letter or
/// digit), if it is not.
pub(crate) fn storage_id_problem(id: &str) -> Option<String> {
    let ok = id.len() >= 2
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    (!ok).then(|| {
        format!(
            "`{id}` is not a Proxmox storage id: it must start with a lowercase letter, \
             end with a letter or digit, and use lowercase letters, digits, `-` and `_`"
        )
    })
}

/// A text field given as a value (`"daily"`, a `String`) or as another
/// resource's output (`Output<String>`, e.g. a lab-pbs datastore's name):
/// what builders taking server names, datastores and token ids accept.
///
/// ```
/// use lab_core::Input;
/// use lab_proxmox::model::TextInput;
/// let t: TextInput = "daily".into();
/// let input: Input<String> = t.into();
/// assert!(matches!(input, Input::Value(v) if v == "daily"));
/// ```
pub struct TextInput(pub Input<String>);

impl From<&str> for TextInput {
    fn from(v: &str) -> Self {
        TextInput(Input::Value(v.to_string()))
    }
}

impl From<String> for TextInput {
    fn from(v: String) -> Self {
        TextInput(Input::Value(v))
    }
}

impl From<&String> for TextInput {
    fn from(v: &String) -> Self {
        TextInput(Input::Value(v.clone()))
    }
}

impl From<Output<String>> for TextInput {
    fn from(o: Output<String>) -> Self {
        TextInput(Input::Output(o))
    }
}

impl From<&Output<String>> for TextInput {
    fn from(o: &Output<String>) -> Self {
        TextInput(Input::Output(o.clone()))
    }
}

impl From<Input<String>> for TextInput {
    fn from(i: Input<String>) -> Self {
        TextInput(i)
    }
}

impl From<TextInput> for Input<String> {
    fn from(t: TextInput) -> Self {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size_gb("32G"), Ok(32));
        assert_eq!(parse_size_gb("32GiB"), Ok(32));
        assert_eq!(parse_size_gb("1t"), Ok(1024));
        assert_eq!(parse_size_gb("2048M"), Ok(2));
        for bad in [
            "32X",
            "",
            "G",
            "32",
            "0G",
            "512M",
            "1.5T",
            "-1G",
            "99999999999999999999G",
        ] {
            assert!(parse_size_gb(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slots() {
        assert_eq!(parse_slot("scsi30", VM_DISK_SLOTS), Ok(30));
        assert_eq!(parse_slot("ide3", VM_DISK_SLOTS), Ok(3));
        assert!(parse_slot("scsi31", VM_DISK_SLOTS)
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_slot("ide4", VM_DISK_SLOTS).is_err());
        assert!(parse_slot("nvme0", VM_DISK_SLOTS).is_err());
        assert!(parse_slot("scsi01", VM_DISK_SLOTS).is_err());
        assert!(parse_slot("scsi", VM_DISK_SLOTS).is_err());
        assert_eq!(parse_slot("mp255", MP_SLOTS), Ok(255));
        assert!(parse_slot("mp256", MP_SLOTS).is_err());
        assert_eq!(parse_slot("net31", NIC_SLOTS), Ok(31));
        assert!(parse_slot("net32", NIC_SLOTS).is_err());
    }

    #[test]
    fn names_tags_addresses() {
        assert!(tag_problem("photos").is_none());
        assert!(tag_problem("v1.2+x").is_none());
        assert!(tag_problem("-x").is_some());
        assert!(tag_problem("a b").is_some());
        assert!(dns_name_problem("immich.lan").is_none());
        assert!(dns_name_problem("my_vm").is_some());
        assert!(storage_id_problem("local-lvm").is_none());
        assert!(storage_id_problem("Tank").is_some());
        assert!(storage_id_problem("1tank").is_some());
        assert!(cidr_problem("10.0.0.5/24", false).is_none());
        assert!(cidr_problem("10.0.0.5", false).is_some());
        assert!(cidr_problem("10.0.0.5/33", false).is_some());
        assert!(cidr_problem("fd00::5/64", true).is_none());
        assert!(ip_problem("10.0.0.1", false).is_none());
        assert!(ip_problem("fd00::1", false).is_some());
    }
}
