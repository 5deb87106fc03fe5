//! `pattern` checks, written by hand.
//!
//! PVE checks a value against `m/^$pattern$/` (Perl regexes, sometimes stringified
//! `(?^:…)` qr objects). This crate has no regex engine, and writing one is out of scope.
//! Instead, the patterns that matter for the requests `lab` makes are matched by hand,
//! keyed by their exact text in the schema: URLs, fingerprints, bridges and interface names,
//! LXC mount options and features, NUMA and VLAN lists, machine types, disk sizes, dates and
//! UUIDs, device paths, IDs. [`check`] returns `None` for any other pattern. That pattern is
//! then not checked, and [`CHECKED_PATTERNS`] lists the ones that are.
//!
//! Perl's quirks are kept. For example `/dev/parport\d+|/dev/usb/lp\d+` is not grouped, so
//! `^…$` anchors only the first alternative at the start and the second at the end.

use super::formats::{dns_label, is_word};

/// The exact pattern texts that are checked. Any other `pattern` in the schema is skipped.
pub const CHECKED_PATTERNS: &[&str] = &[
    r"[A-Za-z][A-Za-z0-9\-\_]+",
    r"([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}",
    r"\S+",
    r"\S{2,}",
    r"https?://.*",
    r"^https?://.*",
    r"http://.*",
    r"(ide|sata|scsi|virtio)\d+",
    r"[-_.\w\d]+",
    r"(?^:[a-zA-Z0-9_; ]+)",
    r"(?^:(?^:(discard|lazytime|noatime|nodev|noexec|nosuid))(;(?^:(discard|lazytime|noatime|nodev|noexec|nosuid)))*)",
    r"(?^:\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*)",
    r"(?^:\d+(?:;\d+)*)",
    r"/dev/parport\d+|/dev/usb/lp\d+",
    r"(/dev/.+|socket)",
    r"(now|\d{4}-\d{1,2}-\d{1,2}(T\d{1,2}:\d{1,2}:\d{1,2})?)",
    r"(?:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}|[01])",
    r"0[0-7]{3}",
    r"[a-zA-Z0-9\-]+",
    r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?",
    r"\+?\d+(\.\d+)?[KMGT]?",
    r"^(\d+(\.\d+)?)([KMGT])?$",
    r"[1-9][0-9]{2,8}-\d{1,9}",
    r"(?^:[A-Za-z][A-Za-z0-9\.\-_]+)",
    r"(?^:[A-Za-z0-9\.\-_]+)",
    r"[A-Za-z0-9\-_\s]{,16}",
    r"[A-Za-z0-9\-_\s]{,8}",
    r"\d+[MG]?",
    r"\d{1,2}:\d{1,2}",
    r"[a-fA-F0-9\-]+",
    r"(?^:^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$)",
    r"(?^:^(0x)[0-9a-fA-F]{16})",
    r"(?^:^[^:/\s]+$)",
    r"^/dev/[a-zA-Z0-9\/]+$",
    r"[1-9][0-9]*\/(second|minute|hour|day)",
    r"net\d+=\d+(,net\d+=\d+)*",
    r"(pc|pc(-i440fx)?-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|q35|pc-q35-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|virt(?:-\d+(\.\d+)+)?(\+pve\d+)?)",
    r"(?:none|login|consent|select_account|\S+)",
    r"[a-zA-Z0-9\.\+\_][a-zA-Z0-9\.\+\_\-]+",
    r"(?^:[a-z0-9][-+.a-z0-9:]+)",
    r"(?^i:[a-z0-9_][a-z0-9_\-\+\.]*)(?:;(?^i:[a-z0-9_][a-z0-9_\-\+\.]*))*",
    r"(?:(?^i:[a-z0-9_][a-z0-9_\-\+\.]*);)*(?^i:[a-z0-9_][a-z0-9_\-\+\.]*)",
    r"(?^:^(\d+)\-(\d+(\.\d+)*)$)",
    OCI_IMAGE_REFERENCE,
    r"(?^:(?:\w+=[^\x00-\x08\x10-\x1F\x7F]*)(?:\0\w+=[^\x00-\x08\x10-\x1F\x7F]*)*)",
    r"(?^:[^\x00-\x08\x10-\x1F\x7F]+)",
    r"[0-9a-zA-Z!=]{0,4096}",
    r#"^[^\x00-\x1F\x7F <>#"]*$"#,
    r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$",
    r"/var/tmp/pveupload-[0-9a-f]+",
    r"(?^:^(?^:[^\s:/]+)\@(?^:[A-Za-z][A-Za-z0-9\.\-_]+)(?:!(?^:[A-Za-z][A-Za-z0-9\.\-_]+))?$)",
    r"(?:(?:(?:acl|properties|entry);)*(?:acl|properties|entry))|none",
    r"\w+=[^,]+(,\s*\w+=[^,]+)*",
    r"\s*pve([1248])([cbsp])-[0-9a-f]{10}\s*",
    r"(?^:(?:(?:(?^:(0x)?([0-9A-Fa-f]{4}):(0x)?([0-9A-Fa-f]{4})))|(?:(?^:(\d+)\-(\d+(\.\d+)*)))|[Ss][Pp][Ii][Cc][Ee]))",
];

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    s.chars().all(f)
}

fn count_in(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
}

/// `\d+(\.\d+)+`, the version part of a machine type.
fn dotted_version(s: &str) -> bool {
    let mut parts = s.split('.');
    parts.next().is_some_and(digits) && {
        let rest: Vec<&str> = parts.collect();
        !rest.is_empty() && rest.iter().all(|p| digits(p))
    }
}

/// `(\+pve\d+)?` and, when `pxe` is allowed, `(\.pxe)?` at the end of a machine type.
fn machine_version(s: &str, pxe: bool) -> bool {
    let s = if pxe {
        s.strip_suffix(".pxe").unwrap_or(s)
    } else {
        s
    };
    let (version, pve) = match s.split_once("+pve") {
        Some((v, n)) => (v, Some(n)),
        None => (s, None),
    };
    dotted_version(version) && pve.is_none_or(digits)
}

fn machine_type(v: &str) -> bool {
    if v == "pc" || v == "q35" || v == "virt" {
        return true;
    }
    if let Some(rest) = v.strip_prefix("virt") {
        // `virt(?:-\d+(\.\d+)+)?(\+pve\d+)?`
        if let Some(n) = rest.strip_prefix("+pve") {
            return digits(n);
        }
        return rest
            .strip_prefix('-')
            .is_some_and(|r| machine_version(r, false));
    }
    ["pc-i440fx-", "pc-q35-", "pc-"]
        .iter()
        .any(|p| v.strip_prefix(p).is_some_and(|r| machine_version(r, true)))
}

/// `YYYY-MM-DD` with one- or two-digit month and day.
fn date(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    p.len() == 3
        && p[0].len() == 4
        && digits(p[0])
        && count_in(p[1], 1, 2)
        && digits(p[1])
        && count_in(p[2], 1, 2)
        && digits(p[2])
}

fn uuid(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    p.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&p)
            .all(|(n, part)| part.len() == *n && hex(part))
}

/// A PVE tag: `[a-z0-9_][a-z0-9_\-\+\.]*`, case-insensitive.
fn tag(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && all(s, |c| c.is_ascii_alphanumeric() || "_-+.".contains(c))
}

/// `[A-Za-z][A-Za-z0-9\.\-_]+`: a realm or token name.
fn realm_like(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && all(s, |c| c.is_ascii_alphanumeric() || ".-_".contains(c))
}

/// A USB port path: `\d+-\d+(\.\d+)*`.
fn usb_port(s: &str) -> bool {
    s.split_once('-')
        .is_some_and(|(bus, port)| digits(bus) && port.split('.').all(digits))
}

/// `[^\x00-\x08\x10-\x1F\x7F]` (tab to `\x0f` are allowed, as the pattern says).
fn printable_ish(c: char) -> bool {
    !(c <= '\x08' || ('\x10'..='\x1f').contains(&c) || c == '\x7f')
}

/// `reference` of `POST /nodes/{node}/storage/{storage}/oci-registry-pull`
/// (pve-storage `API2/Storage/Status.pm`): `[registry[:port]/]repository:tag`.
/// Unlike PVE's other patterns this one is also a Rust regex with the same
/// meaning (no Perl-only syntax), so it runs with the `regex` crate.
pub const OCI_IMAGE_REFERENCE: &str = r"^(?:(?:[a-zA-Z\d]|[a-zA-Z\d][a-zA-Z\d-]*[a-zA-Z\d])(?:\.(?:[a-zA-Z\d]|[a-zA-Z\d][a-zA-Z\d-]*[a-zA-Z\d]))*(?::\d+)?/)?[a-z\d]+(?:(?:[._]|__|[-]*)[a-z\d]+)*(?:/[a-z\d]+(?:(?:[._]|__|[-]*)[a-z\d]+)*)*:\w[\w.-]{0,127}$";

/// Whether `reference` is an OCI image reference `oci-registry-pull`
/// accepts ([`OCI_IMAGE_REFERENCE`]): `docker.io/cloudflare/cloudflared:2025.11.1`
/// yes; without a tag, with a digest or upper-case letters in the path, no.
pub fn is_oci_image_reference(reference: &str) -> bool {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(OCI_IMAGE_REFERENCE).expect("the OCI reference pattern compiles")
    })
    .is_match(reference)
}

/// `env` of an LXC config (`NAME=value` items separated by NUL): each name
/// `\w+`, each value without control characters but tab to `\x0f` (as
/// the embedded schema says; pve-container's newer pattern also refuses
/// `\x0a`-`\x0f`, and `write_pct_config` refuses a newline anyway).
fn lxc_env(v: &str) -> bool {
    v.split('\0').all(|item| {
        item.split_once('=').is_some_and(|(name, value)| {
            !name.is_empty() && all(name, is_word) && all(value, printable_ish)
        })
    })
}

/// Runs a `/.../`-delimited pattern (Proxmox Backup Server's schema: the
/// regex of proxmox-schema's `ApiStringFormat::Pattern`, which PBS runs with
/// the `regex` crate) with the same engine; compiled once per pattern. PVE's
/// patterns are never written so (they are Perl, matched by hand above).
/// `None` if the text is not such a pattern or does not compile.
fn check_rust_regex(pattern: &str, v: &str) -> Option<bool> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    let inner = pattern.strip_prefix('/')?.strip_suffix('/')?;
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let re = cache
        .entry(inner.to_string())
        .or_insert_with(|| regex::Regex::new(inner).ok());
    re.as_ref().map(|re| re.is_match(v))
}

/// Checks `value` against `pattern`, if the pattern is one this module knows
/// (or a `/.../` Rust regex, as PBS's schema writes them).
pub(crate) fn check(pattern: &str, v: &str) -> Option<bool> {
    if pattern.starts_with('/') && pattern.len() > 2 && pattern.ends_with('/') {
        return check_rust_regex(pattern, v);
    }
    // Perl's `.` does not match a newline.
    let no_nl = !v.contains('\n');
    let ok = match pattern {
        r"[A-Za-z][A-Za-z0-9\-\_]+" => {
            v.len() >= 2
                && v.starts_with(|c: char| c.is_ascii_alphabetic())
                && all(v, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        r"([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}" => {
            let parts: Vec<&str> = v.split(':').collect();
            parts.len() == 32 && parts.iter().all(|p| p.len() == 2 && hex(p))
        }
        r"\S+" => !v.is_empty() && !v.chars().any(char::is_whitespace),
        r"\S{2,}" => v.chars().count() >= 2 && !v.chars().any(char::is_whitespace),
        r"https?://.*" | r"^https?://.*" => {
            no_nl && (v.starts_with("http://") || v.starts_with("https://"))
        }
        r"http://.*" => no_nl && v.starts_with("http://"),
        r"(ide|sata|scsi|virtio)\d+" => ["ide", "sata", "scsi", "virtio"]
            .iter()
            .any(|p| v.strip_prefix(p).is_some_and(digits)),
        r"[-_.\w\d]+" => !v.is_empty() && all(v, |c| is_word(c) || c == '-' || c == '.'),
        r"(?^:[a-zA-Z0-9_; ]+)" => {
            !v.is_empty() && all(v, |c| c.is_ascii_alphanumeric() || "_; ".contains(c))
        }
        r"(?^:(?^:(discard|lazytime|noatime|nodev|noexec|nosuid))(;(?^:(discard|lazytime|noatime|nodev|noexec|nosuid)))*)" => {
            v.split(';').all(|o| {
                matches!(
                    o,
                    "discard" | "lazytime" | "noatime" | "nodev" | "noexec" | "nosuid"
                )
            })
        }
        r"(?^:\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*)" => v.split(';').all(|r| match r.split_once('-') {
            Some((a, b)) => digits(a) && digits(b),
            None => digits(r),
        }),
        r"(?^:\d+(?:;\d+)*)" => v.split(';').all(digits),
        r"/dev/parport\d+|/dev/usb/lp\d+" => {
            let first = v
                .strip_prefix("/dev/parport")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
            let second = v
                .rfind("/dev/usb/lp")
                .is_some_and(|i| digits(&v[i + "/dev/usb/lp".len()..]));
            first || second
        }
        r"(/dev/.+|socket)" => v == "socket" || (no_nl && v.len() > 5 && v.starts_with("/dev/")),
        r"(now|\d{4}-\d{1,2}-\d{1,2}(T\d{1,2}:\d{1,2}:\d{1,2})?)" => {
            v == "now"
                || match v.split_once('T') {
                    Some((d, t)) => {
                        let t: Vec<&str> = t.split(':').collect();
                        date(d) && t.len() == 3 && t.iter().all(|p| count_in(p, 1, 2) && digits(p))
                    }
                    None => date(v),
                }
        }
        r"(?:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}|[01])" => {
            v == "0" || v == "1" || uuid(v)
        }
        r"0[0-7]{3}" => {
            v.len() == 4 && v.starts_with('0') && v.bytes().all(|b| (b'0'..=b'7').contains(&b))
        }
        r"[a-zA-Z0-9\-]+" => !v.is_empty() && all(v, |c| c.is_ascii_alphanumeric() || c == '-'),
        r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?" => dns_label(v),
        r"\+?\d+(\.\d+)?[KMGT]?" | r"^(\d+(\.\d+)?)([KMGT])?$" => {
            let s = if pattern.starts_with('\\') {
                v.strip_prefix('+').unwrap_or(v)
            } else {
                v
            };
            let s = s.strip_suffix(['K', 'M', 'G', 'T']).unwrap_or(s);
            match s.split_once('.') {
                Some((i, f)) => digits(i) && digits(f),
                None => digits(s),
            }
        }
        r"[1-9][0-9]{2,8}-\d{1,9}" => v.split_once('-').is_some_and(|(id, n)| {
            count_in(id, 3, 9)
                && digits(id)
                && !id.starts_with('0')
                && count_in(n, 1, 9)
                && digits(n)
        }),
        r"(?^:[A-Za-z][A-Za-z0-9\.\-_]+)" => {
            v.len() >= 2
                && v.starts_with(|c: char| c.is_ascii_alphabetic())
                && all(v, |c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        }
        r"(?^:[A-Za-z0-9\.\-_]+)" => {
            !v.is_empty() && all(v, |c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        }
        r"[A-Za-z0-9\-_\s]{,16}" | r"[A-Za-z0-9\-_\s]{,8}" => {
            let max = if pattern.ends_with("16}") { 16 } else { 8 };
            v.chars().count() <= max
                && all(v, |c| {
                    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c.is_whitespace()
                })
        }
        r"\d+[MG]?" => digits(v.strip_suffix(['M', 'G']).unwrap_or(v)),
        r"\d{1,2}:\d{1,2}" => v
            .split_once(':')
            .is_some_and(|(a, b)| count_in(a, 1, 2) && digits(a) && count_in(b, 1, 2) && digits(b)),
        r"[a-fA-F0-9\-]+" => !v.is_empty() && all(v, |c| c.is_ascii_hexdigit() || c == '-'),
        r"(?^:^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$)" => v
            .split_once(':')
            .is_some_and(|(a, b)| a.len() == 4 && hex(a) && b.len() == 4 && hex(b)),
        r"(?^:^(0x)[0-9a-fA-F]{16})" => v
            .strip_prefix("0x")
            .is_some_and(|h| h.len() == 16 && hex(h)),
        r"(?^:^[^:/\s]+$)" => {
            !v.is_empty() && all(v, |c| c != ':' && c != '/' && !c.is_whitespace())
        }
        r"^/dev/[a-zA-Z0-9\/]+$" => v
            .strip_prefix("/dev/")
            .is_some_and(|r| !r.is_empty() && all(r, |c| c.is_ascii_alphanumeric() || c == '/')),
        r"[1-9][0-9]*\/(second|minute|hour|day)" => v.split_once('/').is_some_and(|(n, unit)| {
            digits(n) && !n.starts_with('0') && matches!(unit, "second" | "minute" | "hour" | "day")
        }),
        r"net\d+=\d+(,net\d+=\d+)*" => v.split(',').all(|e| {
            e.split_once('=')
                .is_some_and(|(k, n)| k.strip_prefix("net").is_some_and(digits) && digits(n))
        }),
        r"(pc|pc(-i440fx)?-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|q35|pc-q35-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|virt(?:-\d+(\.\d+)+)?(\+pve\d+)?)" => {
            machine_type(v)
        }
        r"(?:none|login|consent|select_account|\S+)" => {
            !v.is_empty() && !v.chars().any(char::is_whitespace)
        }
        r"[a-zA-Z0-9\.\+\_][a-zA-Z0-9\.\+\_\-]+" => {
            v.len() >= 2
                && !v.starts_with('-')
                && all(v, |c| c.is_ascii_alphanumeric() || ".+_-".contains(c))
        }
        r"(?^:[a-z0-9][-+.a-z0-9:]+)" => {
            v.len() >= 2
                && v.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && all(v, |c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || "-+.:".contains(c)
                })
        }
        r"(?^i:[a-z0-9_][a-z0-9_\-\+\.]*)(?:;(?^i:[a-z0-9_][a-z0-9_\-\+\.]*))*"
        | r"(?:(?^i:[a-z0-9_][a-z0-9_\-\+\.]*);)*(?^i:[a-z0-9_][a-z0-9_\-\+\.]*)" => {
            v.split(';').all(tag)
        }
        r"(?^:^(\d+)\-(\d+(\.\d+)*)$)" => usb_port(v),
        r"(?^:[^\x00-\x08\x10-\x1F\x7F]+)" => !v.is_empty() && all(v, printable_ish),
        OCI_IMAGE_REFERENCE => is_oci_image_reference(v),
        r"(?^:(?:\w+=[^\x00-\x08\x10-\x1F\x7F]*)(?:\0\w+=[^\x00-\x08\x10-\x1F\x7F]*)*)" => {
            lxc_env(v)
        }
        r"[0-9a-zA-Z!=]{0,4096}" => {
            v.len() <= 4096 && all(v, |c| c.is_ascii_alphanumeric() || c == '!' || c == '=')
        }
        r#"^[^\x00-\x1F\x7F <>#"]*$"# => {
            all(v, |c| !(c <= '\x1f' || c == '\x7f' || " <>#\"".contains(c)))
        }
        r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$" => {
            let (d, t) = v.split_once(' ').map_or((v, None), |(d, t)| (d, Some(t)));
            let two = |p: &&str| p.len() == 2 && digits(p);
            let dp: Vec<&str> = d.split('-').collect();
            dp.len() == 3
                && dp[0].len() == 4
                && digits(dp[0])
                && two(&dp[1])
                && two(&dp[2])
                && t.is_none_or(|t| {
                    let tp: Vec<&str> = t.split(':').collect();
                    (tp.len() == 2 || tp.len() == 3) && tp.iter().all(two)
                })
        }
        r"/var/tmp/pveupload-[0-9a-f]+" => v.strip_prefix("/var/tmp/pveupload-").is_some_and(|h| {
            !h.is_empty() && all(h, |c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        }),
        r"(?^:^(?^:[^\s:/]+)\@(?^:[A-Za-z][A-Za-z0-9\.\-_]+)(?:!(?^:[A-Za-z][A-Za-z0-9\.\-_]+))?$)" => {
            v.split_once('@').is_some_and(|(user, rest)| {
                let (realm, token) = rest
                    .split_once('!')
                    .map_or((rest, None), |(r, t)| (r, Some(t)));
                !user.is_empty()
                    && all(user, |c| !c.is_whitespace() && c != ':' && c != '/')
                    && realm_like(realm)
                    && token.is_none_or(realm_like)
            })
        }
        // Not grouped: `^` binds to the first alternative and `$` to `none`.
        r"(?:(?:(?:acl|properties|entry);)*(?:acl|properties|entry))|none" => {
            ["acl", "properties", "entry"]
                .iter()
                .any(|p| v.starts_with(p))
                || v.ends_with("none")
        }
        r"\w+=[^,]+(,\s*\w+=[^,]+)*" => v.split(',').enumerate().all(|(i, item)| {
            let item = if i == 0 { item } else { item.trim_start() };
            item.split_once('=')
                .is_some_and(|(k, val)| !k.is_empty() && all(k, is_word) && !val.is_empty())
        }),
        r"\s*pve([1248])([cbsp])-[0-9a-f]{10}\s*" => {
            let t = v.trim();
            let b = t.as_bytes();
            b.len() == 16
                && t.starts_with("pve")
                && b"1248".contains(&b[3])
                && b"cbsp".contains(&b[4])
                && b[5] == b'-'
                && all(&t[6..], |c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        }
        r"(?^:(?:(?:(?^:(0x)?([0-9A-Fa-f]{4}):(0x)?([0-9A-Fa-f]{4})))|(?:(?^:(\d+)\-(\d+(\.\d+)*)))|[Ss][Pp][Ii][Cc][Ee]))" => {
            v.eq_ignore_ascii_case("spice")
                || usb_port(v)
                || v.split_once(':').is_some_and(|(a, b)| {
                    let id = |s: &str| {
                        let s = s.strip_prefix("0x").unwrap_or(s);
                        s.len() == 4 && hex(s)
                    };
                    id(a) && id(b)
                })
        }
        _ => return None,
    };
    Some(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_delimited_patterns_run_as_rust_regexes() {
        let store = r"/^(?:[A-Za-z0-9_][A-Za-z0-9._\-]*)$/";
        assert_eq!(check(store, "daily"), Some(true));
        assert_eq!(check(store, "-daily"), Some(false));
        assert_eq!(check(store, "a/b"), Some(false));
        let comment = r"/^[[:^cntrl:]]*$/";
        assert_eq!(check(comment, "a comment"), Some(true));
        assert_eq!(check(comment, "two\nlines"), Some(false));
        // Not a regex the engine takes: skipped, not refused.
        assert_eq!(check("/^(?<=x)$/", "x"), None);
    }

    #[test]
    fn oci_references_and_lxc_env() {
        for ok in [
            "docker.io/cloudflare/cloudflared:2025.11.1",
            "cloudflared:latest",
            "registry.example.com:5000/team/app:v1.2-rc_3",
            "library/alpine:3.22",
        ] {
            assert!(is_oci_image_reference(ok), "{ok}");
            assert_eq!(check(OCI_IMAGE_REFERENCE, ok), Some(true));
        }
        for bad in [
            "docker.io/cloudflare/cloudflared",
            "docker.io/Cloudflare/cloudflared:1",
            "cloudflared@sha256:0123",
            "docker://cloudflared:1",
            "-bad.example/x:1",
            "",
        ] {
            assert!(!is_oci_image_reference(bad), "{bad}");
        }
        let env = r"(?^:(?:\w+=[^\x00-\x08\x10-\x1F\x7F]*)(?:\0\w+=[^\x00-\x08\x10-\x1F\x7F]*)*)";
        assert_eq!(check(env, "A=1\0TUNNEL_TOKEN=ey.J=\0EMPTY="), Some(true));
        assert_eq!(check(env, "A=1\0\0B=2"), Some(false));
        assert_eq!(check(env, "BAD-NAME=1"), Some(false));
        assert_eq!(check(env, "A=\x1b[0m"), Some(false));
        assert_eq!(check(env, ""), Some(false));
    }

    #[test]
    fn every_listed_pattern_is_checked() {
        for p in CHECKED_PATTERNS {
            assert!(check(p, "x").is_some(), "{p}");
        }
        assert_eq!(check("(?^i:[\\(\\)-_.\\w\\d\\s]{0,256})", "x"), None);
    }

    #[test]
    fn machine_types() {
        for ok in [
            "pc",
            "q35",
            "virt",
            "pc-q35-9.2+pve1",
            "pc-i440fx-8.1",
            "pc-8.1.pxe",
            "virt-9.0",
            "virt+pve1",
        ] {
            assert!(machine_type(ok), "{ok}");
        }
        for bad in ["q36", "pc-q35", "pc-q35-9", "virt-9"] {
            assert!(!machine_type(bad), "{bad}");
        }
    }

    #[test]
    fn perl_alternation_quirk() {
        let p = r"/dev/parport\d+|/dev/usb/lp\d+";
        assert_eq!(check(p, "/dev/parport0"), Some(true));
        assert_eq!(check(p, "/dev/usb/lp1"), Some(true));
        assert_eq!(check(p, "/dev/ttyS0"), Some(false));
    }
}
