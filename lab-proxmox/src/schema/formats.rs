//! Named formats: the `format => 'pve-vmid'` side of the schema.
//!
//! PVE registers its formats in Perl (`PVE::JSONSchema::register_format`). The API dump keeps
//! only the name, so every check has to be written again here. Each check below follows the
//! Perl validator it names (pve-common `JSONSchema.pm`, pve-storage, qemu-server,
//! pve-container, pve-access-control), and its error text is the Perl `die` message. The
//! caller prefixes `invalid format - `.
//!
//! A name ending in `-list` runs the base check on every item of `PVE::Tools::split_list`
//! (comma, semicolon, whitespace or NUL separated, and empty lists are allowed). A name
//! ending in `-opt` runs it only on a non-empty value. This mirrors
//! `PVE::JSONSchema::check_format`.
//!
//! Named *property-string* formats (`pve-qm-ipconfig`, `pve-vm-cpu-conf`, `prune-backups`,
//! ...) are hash schemas in Perl, and the dump keeps only their `typetext`. For those, the
//! key set is rebuilt from the generated typetext (`[key=]<..> [,key=<..>]`, see
//! `generate_typetext`). This gives the keys, the default key, which keys are required, and
//! the boolean, integer and number keys. Aliases are absent from a typetext, so a format
//! that may have them is left unchecked. `pve-qm-ipconfig` is written out by hand, because
//! its `ip`/`gw` values are worth checking.
//!
//! Unknown names are accepted. [`CHECKED_FORMATS`] lists the names that are checked.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::model::{Format, Property, PropertyString, PropertyType};

/// A format check. The error is the Perl `die` text, without the trailing newline.
pub(crate) type Check = fn(&str) -> Result<(), String>;

/// What a named format resolved to at load time.
#[derive(Debug, Clone)]
pub(crate) enum NamedCheck {
    /// Check the whole value.
    Value(Check),
    /// `<name>-list`: check every item of the list.
    List(Check),
    /// `<name>-opt`: check a non-empty value.
    Opt(Check),
    /// A named property-string format whose keys are known.
    PropertyString(Arc<PropertyString>),
    /// A format this module does not check.
    Unchecked,
}

/// The named formats that have a check. `-list` and `-opt` variants of these are checked too.
pub const CHECKED_FORMATS: &[&str] = &[
    "CIDR",
    "CIDRv4",
    "CIDRv6",
    "address",
    "disk-size",
    "dns-name",
    "email",
    "email-or-username",
    "ip",
    "ipv4",
    "ipv4mask",
    "ipv6",
    "ldap-simple-attr",
    "mac-addr",
    "pve-bridge-id",
    "pve-configid",
    "pve-day-of-week",
    "pve-groupid",
    "pve-hotplug-features",
    "pve-iface",
    "pve-ipv4-config",
    "pve-ipv6-config",
    "pve-lxc-dev-string",
    "pve-lxc-mp-string",
    "pve-node",
    "pve-poolid",
    "pve-qm-bootdisk",
    "pve-qm-ipconfig",
    "pve-realm",
    "pve-roleid",
    "pve-sdn-subnet-id",
    "pve-sdn-vnet-id",
    "pve-sdn-zone-id",
    "pve-startup-order",
    "pve-storage-content",
    "pve-storage-id",
    "pve-storage-path",
    "pve-storage-server",
    "pve-tag",
    "pve-task-status-type",
    "pve-userid",
    "pve-vlan-id-or-range",
    "pve-vmid",
    "pve-volume-id",
    "pve-volume-id-or-absolute-path",
    "pve-volume-id-or-qm-path",
    "string",
    "urlencoded",
];

fn lookup(name: &str) -> Option<Check> {
    let check: Check = match name {
        "CIDR" => cidr,
        "CIDRv4" => cidr_v4,
        "CIDRv6" => cidr_v6,
        "address" => address,
        "disk-size" => disk_size,
        "dns-name" => dns_name,
        "email" => email,
        "email-or-username" => email_or_username,
        "ip" => ip,
        "ipv4" => ipv4,
        "ipv4mask" => ipv4_mask,
        "ipv6" => ipv6,
        "ldap-simple-attr" => ldap_simple_attr,
        "mac-addr" => mac_addr,
        "pve-bridge-id" => bridge_id,
        "pve-configid" => configid,
        "pve-day-of-week" => day_of_week,
        "pve-groupid" => groupid,
        "pve-hotplug-features" => hotplug_features,
        "pve-iface" => iface,
        "pve-ipv4-config" => ipv4_config,
        "pve-ipv6-config" => ipv6_config,
        "pve-lxc-dev-string" => lxc_path,
        "pve-lxc-mp-string" => lxc_path,
        "pve-node" => node,
        "pve-poolid" => poolid,
        "pve-qm-bootdisk" => bootdisk,
        "pve-realm" => realm,
        "pve-roleid" => roleid,
        "pve-sdn-subnet-id" => sdn_subnet_id,
        "pve-sdn-vnet-id" => sdn_id,
        "pve-sdn-zone-id" => sdn_id,
        "pve-startup-order" => startup_order,
        "pve-storage-content" => storage_content,
        "pve-storage-id" => storage_id,
        "pve-storage-path" => storage_path,
        "pve-storage-server" => storage_server,
        "pve-tag" => tag,
        "pve-task-status-type" => task_status_type,
        "pve-userid" => userid,
        "pve-vlan-id-or-range" => vlan_id_or_range,
        "pve-vmid" => vmid,
        "pve-volume-id" => volume_id,
        "pve-volume-id-or-absolute-path" => volume_id_or_absolute_path,
        "pve-volume-id-or-qm-path" => volume_id_or_qm_path,
        "string" => |_| Ok(()),
        "urlencoded" => urlencoded,
        _ => return None,
    };
    Some(check)
}

/// Resolves a named format once, at load time. `typetext` is the typetext of the property
/// that uses the format. For named property-string formats it is the only description left.
pub(crate) fn resolve(name: &str, typetext: Option<&str>) -> NamedCheck {
    if let Some(ps) = hand_written_property_string(name) {
        return NamedCheck::PropertyString(Arc::new(ps));
    }
    // Perl: `$format =~ m/^(.*?)(?:-(list|opt))?$/`.
    if let Some(base) = name.strip_suffix("-list") {
        return lookup(base).map_or(NamedCheck::Unchecked, NamedCheck::List);
    }
    if let Some(base) = name.strip_suffix("-opt") {
        return lookup(base).map_or(NamedCheck::Unchecked, NamedCheck::Opt);
    }
    if let Some(check) = lookup(name) {
        return NamedCheck::Value(check);
    }
    match typetext.and_then(property_string_from_typetext) {
        Some(ps) => NamedCheck::PropertyString(Arc::new(ps)),
        None => NamedCheck::Unchecked,
    }
}

/// `PVE::Tools::split_list`: NUL-separated if the text has a NUL, otherwise separated by
/// commas, semicolons and whitespace, with empty items dropped.
pub(crate) fn split_list(text: &str) -> Vec<&str> {
    if text.contains('\0') {
        let mut items: Vec<&str> = text.split('\0').collect();
        while items.last() == Some(&"") {
            items.pop();
        }
        return items;
    }
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Property strings rebuilt from typetext, and the hand-written ones.
// ---------------------------------------------------------------------------------------

fn hand_written_property_string(name: &str) -> Option<PropertyString> {
    let named = |format: &str| {
        let mut p = Property::simple(PropertyType::String);
        p.format = Some(Format::Named {
            name: format.to_owned(),
            check: resolve(format, None),
        });
        p
    };
    match name {
        // qemu-server `$ipconfig_fmt`.
        "pve-qm-ipconfig" => {
            let mut ps = PropertyString::default();
            ps.props.insert("ip".into(), named("pve-ipv4-config"));
            ps.props.insert("gw".into(), named("ipv4"));
            ps.props.insert("ip6".into(), named("pve-ipv6-config"));
            ps.props.insert("gw6".into(), named("ipv6"));
            Some(ps)
        }
        _ => None,
    }
}

/// Rebuilds a property-string schema from a typetext made by pve-common `generate_typetext`:
/// `[[dflt=]<T>] [,key=<T>] ,required=<T>`. Returns `None` if the text has another shape, or
/// if it shows a key alias (`<model>=<macaddr>`), whose keys cannot be known.
pub(crate) fn property_string_from_typetext(text: &str) -> Option<PropertyString> {
    let text = text.trim();
    if !text.contains('=') {
        return None;
    }
    let mut items = Vec::new();
    let mut rest = text;
    // Items are separated by a space that is followed by `,` or `[,`.
    loop {
        let next = rest
            .match_indices(' ')
            .map(|(i, _)| i)
            .find(|&i| rest[i + 1..].starts_with(',') || rest[i + 1..].starts_with("[,"));
        match next {
            Some(i) => {
                items.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                items.push(rest);
                break;
            }
        }
    }

    let mut ps = PropertyString::default();
    for (n, item) in items.iter().enumerate() {
        let (inner, optional) = if n == 0 {
            if item.starts_with("[[") {
                (item.strip_prefix('[')?.strip_suffix(']')?, true)
            } else if is_default_key_item(item) {
                (*item, false)
            } else if let Some(inner) = item.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
                (inner, true)
            } else {
                (*item, false)
            }
        } else if let Some(inner) = item.strip_prefix("[,").and_then(|i| i.strip_suffix(']')) {
            (inner, true)
        } else if let Some(inner) = item.strip_prefix(',') {
            (inner, false)
        } else {
            return None;
        };
        let (key, value, default_key) = if let Some(body) = inner.strip_prefix('[') {
            let (key, value) = body.split_once("=]")?;
            (key, value, true)
        } else {
            let (key, value) = inner.split_once('=')?;
            (key, value, false)
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return None;
        }
        let kind = match value {
            "<1|0>" => PropertyType::Boolean,
            "<integer>" => PropertyType::Integer,
            "<number>" => PropertyType::Number,
            _ => PropertyType::String,
        };
        let mut prop = Property::simple(kind);
        prop.optional = optional;
        prop.default_key = default_key;
        ps.props.insert(key.to_owned(), prop);
    }
    Some(ps)
}

/// `[key=]<T>`: a required default key.
fn is_default_key_item(item: &str) -> bool {
    item.strip_prefix('[')
        .and_then(|s| s.split_once("=]"))
        .is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

// ---------------------------------------------------------------------------------------
// Character-class helpers.
// ---------------------------------------------------------------------------------------

/// Perl `\w` on a decoded string.
pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    s.chars().all(f)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// One DNS label: `[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?`.
pub(crate) fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && all(s, |c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `parse_id`: `^[a-z][a-z0-9\-\_\.]*[a-z0-9]$`, case-insensitive.
fn id_like(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

// ---------------------------------------------------------------------------------------
// pve-common PVE::JSONSchema.
// ---------------------------------------------------------------------------------------

fn urlencoded(v: &str) -> Result<(), String> {
    if all(v, |c| c.is_ascii_alphanumeric() || "-%_.!~*'()".contains(c)) {
        Ok(())
    } else {
        Err(format!("invalid urlencoded string: {v}"))
    }
}

fn configid(v: &str) -> Result<(), String> {
    // `$CONFIGID_RE = qr/[a-z][a-z0-9_-]+/i`.
    let ok = v.len() >= 2
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && all(v, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("invalid configuration ID '{v}'"))
    }
}

/// `pve-sdn-zone-id` / `pve-sdn-vnet-id` (pve-network: pattern
/// `[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]`, 2 to 8 characters), with
/// PVE::JSONSchema's texts.
fn sdn_id(v: &str) -> Result<(), String> {
    if v.len() > 8 {
        return Err("value may only be 8 characters long".into());
    }
    if v.len() < 2 {
        return Err("value must be at least 2 characters long".into());
    }
    let ok =
        v.starts_with(|c: char| c.is_ascii_alphabetic()) && all(v, |c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("value does not match the regex pattern".into())
    }
}

/// `pve-sdn-subnet-id` (`SubnetPlugin.pm parse_sdn_subnet_id`): a CIDR, or
/// `<zone>-<network>-<prefix>`.
fn sdn_subnet_id(v: &str) -> Result<(), String> {
    let cidr = if v.contains('/') {
        v.to_string()
    } else {
        let mut it = v.splitn(3, '-').skip(1);
        format!(
            "{}/{}",
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default()
        )
    };
    cidr_v4(&cidr)
        .or_else(|_| cidr_v6(&cidr))
        .map_err(|_| "value does not look like a valid CIDR network".into())
}

fn storage_id(v: &str) -> Result<(), String> {
    if id_like(v) {
        Ok(())
    } else {
        Err(format!("storage ID '{v}' contains illegal characters"))
    }
}

fn bridge_id(v: &str) -> Result<(), String> {
    if !v.is_empty() && all(v, |c| is_word(c) || c == '-' || c == '.') {
        Ok(())
    } else {
        Err(format!("invalid bridge ID '{v}'"))
    }
}

fn vmid(v: &str) -> Result<(), String> {
    let ok = (3..=9).contains(&v.len()) && digits(v) && !v.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err("value does not look like a valid VM ID".into())
    }
}

fn node(v: &str) -> Result<(), String> {
    if dns_label(v) {
        Ok(())
    } else {
        Err("value does not look like a valid node name".into())
    }
}

fn mac_addr(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.split(':').collect();
    let hex2 = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit());
    // The I/G bit must be clear: the second hex digit is even.
    let unicast = v.as_bytes().get(1).is_some_and(|b| {
        b.is_ascii_hexdigit() && (*b as char).to_digit(16).is_some_and(|d| d % 2 == 0)
    });
    if parts.len() == 6 && parts.iter().all(|p| hex2(p)) && unicast {
        Ok(())
    } else {
        Err("value does not look like a valid unicast MAC address".into())
    }
}

fn is_ipv4(v: &str) -> bool {
    v.parse::<Ipv4Addr>().is_ok()
}

fn is_ipv6(v: &str) -> bool {
    v.parse::<Ipv6Addr>().is_ok()
}

fn ipv4(v: &str) -> Result<(), String> {
    if is_ipv4(v) {
        Ok(())
    } else {
        Err("value does not look like a valid IPv4 address".into())
    }
}

fn ipv6(v: &str) -> Result<(), String> {
    if is_ipv6(v) {
        Ok(())
    } else {
        Err("value does not look like a valid IPv6 address".into())
    }
}

fn ip(v: &str) -> Result<(), String> {
    if is_ipv4(v) || is_ipv6(v) {
        Ok(())
    } else {
        Err("value does not look like a valid IP address".into())
    }
}

fn ipv4_mask(v: &str) -> Result<(), String> {
    let ok = v.parse::<Ipv4Addr>().is_ok_and(|a| {
        let bits = u32::from(a);
        bits.leading_ones() + bits.trailing_zeros() == 32
    });
    if ok {
        Ok(())
    } else {
        Err("value does not look like a valid IP netmask".into())
    }
}

fn cidr_with(v: &str, addr: fn(&str) -> bool, max: u32) -> bool {
    v.split_once('/').is_some_and(|(a, bits)| {
        addr(a) && digits(bits) && bits.parse::<u32>().is_ok_and(|b| b > 7 && b <= max)
    })
}

fn is_cidr_v4(v: &str) -> bool {
    cidr_with(v, is_ipv4, 32)
}

fn is_cidr_v6(v: &str) -> bool {
    cidr_with(v, is_ipv6, 128)
}

fn cidr_v4(v: &str) -> Result<(), String> {
    if is_cidr_v4(v) {
        Ok(())
    } else {
        Err("value does not look like a valid IPv4 CIDR network".into())
    }
}

fn cidr_v6(v: &str) -> Result<(), String> {
    if is_cidr_v6(v) {
        Ok(())
    } else {
        Err("value does not look like a valid IPv6 CIDR network".into())
    }
}

fn cidr(v: &str) -> Result<(), String> {
    if is_cidr_v4(v) || is_cidr_v6(v) {
        Ok(())
    } else {
        Err("value does not look like a valid CIDR network".into())
    }
}

fn ipv4_config(v: &str) -> Result<(), String> {
    if matches!(v, "dhcp" | "manual") || is_cidr_v4(v) {
        Ok(())
    } else {
        Err("value does not look like a valid ipv4 network configuration".into())
    }
}

fn ipv6_config(v: &str) -> Result<(), String> {
    if matches!(v, "auto" | "dhcp" | "manual") || is_cidr_v6(v) {
        Ok(())
    } else {
        Err("value does not look like a valid ipv6 network configuration".into())
    }
}

fn is_dns_name(v: &str) -> bool {
    v.split('.').all(dns_label)
}

fn dns_name(v: &str) -> Result<(), String> {
    if is_dns_name(v) {
        Ok(())
    } else {
        Err("value does not look like a valid DNS name".into())
    }
}

fn address(v: &str) -> Result<(), String> {
    if is_ipv4(v) || is_ipv6(v) || is_dns_name(v) {
        Ok(())
    } else {
        Err(format!("value does not look like a valid address: {v}"))
    }
}

/// `PVE::Tools::EMAIL_USER_RE`: `[\w\+\-\~]+(\.[\w\+\-\~]+)*`.
fn email_user(v: &str) -> bool {
    v.split('.')
        .all(|p| !p.is_empty() && all(p, |c| is_word(c) || "+-~".contains(c)))
}

fn is_email(v: &str) -> bool {
    v.split_once('@').is_some_and(|(user, domain)| {
        email_user(user)
            && domain
                .split('.')
                .all(|p| !p.is_empty() && all(p, |c| c.is_ascii_alphanumeric() || c == '-'))
    })
}

fn email(v: &str) -> Result<(), String> {
    if is_email(v) {
        Ok(())
    } else {
        Err("value does not look like a valid email address".into())
    }
}

fn email_or_username(v: &str) -> Result<(), String> {
    if is_email(v) || email_user(v) {
        Ok(())
    } else {
        Err("value does not look like a valid email address or user name".into())
    }
}

fn ldap_simple_attr(v: &str) -> Result<(), String> {
    if !v.is_empty() && all(v, |c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!(
            "value '{v}' does not look like a simple ldap attribute name"
        ))
    }
}

fn disk_size(v: &str) -> Result<(), String> {
    // `^(\d+(\.\d+)?)([KMGT])?$`
    let num = v.strip_suffix(['K', 'M', 'G', 'T']).unwrap_or(v);
    let ok = match num.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(num),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("value does not look like a valid disk size: {v}"))
    }
}

fn startup_order(v: &str) -> Result<(), String> {
    // `pve_parse_startup_order` returns undef for a false value ("" or "0").
    let ok = !(v.is_empty() || v == "0")
        && v.split(',').filter(|p| !p.trim().is_empty()).all(|p| {
            let p = p.strip_prefix("order=").unwrap_or(p);
            digits(p)
                || p.strip_prefix("up=").is_some_and(digits)
                || p.strip_prefix("down=").is_some_and(digits)
        });
    if ok {
        Ok(())
    } else {
        Err("unable to parse startup options".into())
    }
}

fn iface(v: &str) -> Result<(), String> {
    // `^[a-z][a-z0-9_]{1,20}([:\.]\d+)?$`, case-insensitive.
    let (name, suffix) = match v.find([':', '.']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let ok = (2..=21).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && all(name, |c| c.is_ascii_alphanumeric() || c == '_')
        && suffix.is_none_or(digits);
    if ok {
        Ok(())
    } else {
        Err(format!("invalid network interface name '{v}'"))
    }
}

fn vlan_id_or_range(v: &str) -> Result<(), String> {
    let (start, end) = match v.split_once('-') {
        Some((s, e)) => (s, Some(e)),
        None => (v, None),
    };
    if !digits(start) || end.is_some_and(|e| !digits(e)) {
        return Err(format!("invalid VLAN configuration '{v}'"));
    }
    let tag = |t: &str| -> Result<u64, String> {
        let n: u64 = t.parse().unwrap_or(u64::MAX);
        if (2..=4094).contains(&n) {
            Ok(n)
        } else {
            Err(format!("invalid VLAN tag '{t}'"))
        }
    };
    let s = tag(start)?;
    if let Some(e) = end {
        let e = tag(e)?;
        if s >= e {
            return Err(format!("VLAN range must go from lower to higher tag '{v}'"));
        }
    }
    Ok(())
}

fn tag(v: &str) -> Result<(), String> {
    // `$PVE_TAG_RE = qr/[a-z0-9_][a-z0-9_\-\+\.]*/i`.
    let ok = v.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && all(v, |c| c.is_ascii_alphanumeric() || "_-+.".contains(c));
    if ok {
        Ok(())
    } else {
        Err("invalid characters in tag".into())
    }
}

fn task_status_type(v: &str) -> Result<(), String> {
    if ["ok", "error", "warning", "unknown"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(v))
    {
        Ok(())
    } else {
        Err(format!("invalid status '{v}'"))
    }
}

fn day_of_week(v: &str) -> Result<(), String> {
    if ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].contains(&v) {
        Ok(())
    } else {
        Err(format!("invalid day '{v}'"))
    }
}

// ---------------------------------------------------------------------------------------
// pve-storage.
// ---------------------------------------------------------------------------------------

fn storage_content(v: &str) -> Result<(), String> {
    // `valid_content_types('dir')`: the dir plugin supports every content type.
    const CONTENT: &[&str] = &[
        "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none",
    ];
    if CONTENT.contains(&v) {
        Ok(())
    } else {
        Err(format!("invalid content type '{v}'"))
    }
}

fn is_volume_id(v: &str) -> bool {
    // `^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$`, case-insensitive.
    v.split_once(':')
        .is_some_and(|(store, name)| id_like(store) && !name.is_empty())
}

fn volume_id(v: &str) -> Result<(), String> {
    if is_volume_id(v) {
        Ok(())
    } else {
        Err(format!("unable to parse volume ID '{v}'"))
    }
}

fn volume_id_or_absolute_path(v: &str) -> Result<(), String> {
    if v.starts_with('/') {
        Ok(())
    } else {
        volume_id(v)
    }
}

fn volume_id_or_qm_path(v: &str) -> Result<(), String> {
    if v == "none" || v == "cdrom" {
        Ok(())
    } else {
        volume_id_or_absolute_path(v)
    }
}

fn storage_path(v: &str) -> Result<(), String> {
    // `m|^/[^;\(\)]+|`: the pattern is not anchored at the end.
    let ok = v
        .strip_prefix('/')
        .and_then(|r| r.chars().next())
        .is_some_and(|c| !";()".contains(c));
    if ok {
        Ok(())
    } else {
        Err("value does not look like a valid absolute path".into())
    }
}

fn storage_server(v: &str) -> Result<(), String> {
    if is_ipv4(v) || is_ipv6(v) || is_dns_name(v) {
        Ok(())
    } else {
        Err("value does not look like a valid server name or IP address".into())
    }
}

// ---------------------------------------------------------------------------------------
// qemu-server and pve-container.
// ---------------------------------------------------------------------------------------

fn bootdisk(v: &str) -> Result<(), String> {
    let ok = ["ide", "sata", "scsi", "virtio", "efidisk", "tpmstate"]
        .iter()
        .any(|p| v.strip_prefix(p).is_some_and(digits));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid boot disk '{v}'"))
    }
}

fn hotplug_features(v: &str) -> Result<(), String> {
    if v == "0" || v == "1" {
        return Ok(());
    }
    for feature in split_list(v) {
        if !matches!(
            feature,
            "network" | "disk" | "cpu" | "memory" | "usb" | "cloudinit"
        ) {
            return Err(format!("invalid hotplug feature '{feature}'"));
        }
    }
    Ok(())
}

fn lxc_path(v: &str) -> Result<(), String> {
    // No `/./` or `/../`, no `/.` or `/..` at the end, no `./` or `../` at the start.
    let bad = v.contains("/./")
        || v.contains("/../")
        || v.ends_with("/.")
        || v.ends_with("/..")
        || v.starts_with("./")
        || v.starts_with("../");
    if bad {
        Err(format!("{v} contains illegal character sequences"))
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// pve-access-control.
// ---------------------------------------------------------------------------------------

fn poolid(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.split('/').collect();
    if parts.len() > 3 {
        return Err(format!(
            "pool name '{v}' nested too deeply (max levels = 3)"
        ));
    }
    let part_ok = |p: &str| {
        p.len() >= 2
            && p.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && all(p, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if parts.iter().all(|p| part_ok(p)) {
        Ok(())
    } else {
        Err(format!("pool name '{v}' contains illegal characters"))
    }
}

fn is_realm(v: &str) -> bool {
    // `[A-Za-z][A-Za-z0-9\.\-_]+`
    v.len() >= 2
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && all(v, |c| c.is_ascii_alphanumeric() || ".-_".contains(c))
}

fn realm(v: &str) -> Result<(), String> {
    if is_realm(v) {
        Ok(())
    } else {
        Err(format!("value '{v}' does not look like a valid realm"))
    }
}

fn userid(v: &str) -> Result<(), String> {
    let len = v.chars().count();
    if len < 3 {
        return Err(format!("user name '{v}' is too short"));
    }
    if len > 64 {
        return Err(format!("user name '{v}' is too long ({len} > 64)"));
    }
    // `[^\s:/]+\@[A-Za-z][A-Za-z0-9\.\-_]+`
    let ok = v.rsplit_once('@').is_some_and(|(user, realm)| {
        !user.is_empty()
            && all(user, |c| !c.is_whitespace() && c != ':' && c != '/')
            && is_realm(realm)
    });
    if ok {
        Ok(())
    } else {
        Err(format!("value '{v}' does not look like a valid user name"))
    }
}

fn group_like(v: &str) -> bool {
    !v.is_empty() && all(v, |c| c.is_ascii_alphanumeric() || ".-_".contains(c))
}

fn groupid(v: &str) -> Result<(), String> {
    if group_like(v) {
        Ok(())
    } else {
        Err(format!("group name '{v}' contains invalid characters"))
    }
}

fn roleid(v: &str) -> Result<(), String> {
    if group_like(v) {
        Ok(())
    } else {
        Err(format!("role name '{v}' contains invalid characters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typetext_property_strings() {
        let ps = property_string_from_typetext(
            "[gw=<GatewayIPv4>] [,gw6=<GatewayIPv6>] [,ip=<IPv4Format/CIDR>] [,ip6=<IPv6Format/CIDR>]",
        )
        .unwrap();
        assert_eq!(
            ps.props.keys().collect::<Vec<_>>(),
            ["gw", "gw6", "ip", "ip6"]
        );
        assert!(ps.default_key().is_none());

        let ps = property_string_from_typetext(
            "[type=]<tdx-type> ,attestation=<1|0> [,vsock-cid=<integer>] [,vsock-port=<integer>]",
        )
        .unwrap();
        assert_eq!(ps.default_key(), Some("type"));
        assert!(!ps.props["type"].optional);
        assert!(!ps.props["attestation"].optional);
        assert_eq!(ps.props["attestation"].kind, PropertyType::Boolean);
        assert_eq!(ps.props["vsock-cid"].kind, PropertyType::Integer);

        let ps =
            property_string_from_typetext("[[legacy=]<[acdn]{1,4}>] [,order=<device[;device...]>]")
                .unwrap();
        assert_eq!(ps.default_key(), Some("legacy"));
        assert!(ps.props["legacy"].optional);

        let ps = property_string_from_typetext(
            "apitoken=<PVEAPIToken=user@realm!token=SECRET> ,host=<ADDRESS> [,fingerprint=<FINGERPRINT>] [,port=<PORT>]",
        )
        .unwrap();
        assert!(!ps.props["apitoken"].optional && !ps.props["host"].optional);

        assert!(property_string_from_typetext("<node>[:<pri>]{,<node>[:<pri>]}*").is_none());
        assert!(property_string_from_typetext("<integer> (100 - 999999999)").is_none());
        assert!(property_string_from_typetext("[model=]<enum> [,<model>=<macaddr>]").is_none());
    }

    #[test]
    fn lists_split_like_perl() {
        assert_eq!(split_list("a, b;c  d"), ["a", "b", "c", "d"]);
        assert_eq!(split_list("a\0b\0"), ["a", "b"]);
        assert!(split_list("").is_empty());
    }

    #[test]
    fn named_checks() {
        assert!(vmid("100").is_ok() && vmid("999999999").is_ok());
        assert!(vmid("5").is_err() && vmid("0100").is_err() && vmid("1000000000").is_err());
        assert!(mac_addr("BC:24:11:00:00:01").is_ok());
        assert!(mac_addr("01:00:5e:00:00:01").is_err());
        assert!(poolid("lab").is_ok() && poolid("lab/ab/cd").is_ok() && poolid("a/b/c/d").is_err());
        assert!(ipv4_mask("255.255.255.0").is_ok() && ipv4_mask("255.0.255.0").is_err());
        assert!(vlan_id_or_range("2-4094").is_ok() && vlan_id_or_range("1").is_err());
        assert!(startup_order("order=1,up=30").is_ok() && startup_order("bogus").is_err());
        assert!(
            volume_id_or_qm_path("local-lvm:32").is_ok() && volume_id_or_qm_path("junk").is_err()
        );
        assert!(userid("root@pam").is_ok() && userid("root").is_err());
    }
}
