//! Proxmox property strings (`virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20`)
//! and disk sizes (`32G`).
//!
//! Most guest config values are property strings: comma-separated
//! `key=value` pairs where the first item may be a bare value for the
//! format's default key (`local-lvm:vm-100-disk-0,size=32G`: the volume).
//! The parser returns the raw pairs and leaves meaning to the caller: for
//! `net[n]` the *model* is the key and the MAC its value (PVE's `keyAlias`),
//! which only the caller knows how to read. Splitting follows PVE's
//! `parse_property_string` (`split /,/`, then `^([^=]+)=(.+)$`).

use indexmap::IndexMap;

/// Parses a property string into its pairs, in order.
///
/// A bare item without `=` is stored under `default_key` when given
/// (`local-lvm:32,ssd=1` with `Some("file")` gives `file=local-lvm:32`),
/// otherwise under its own text with an empty value (`virtio` ->
/// `virtio=""`). Keys are trimmed; empty items are skipped; a repeated key
/// keeps the last value.
///
/// ```
/// use lab_proxmox::api::parse_property_string;
/// let p = parse_property_string("virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20", None);
/// assert_eq!(p["virtio"], "BC:24:11:00:00:01");
/// assert_eq!(p["tag"], "20");
/// ```
pub fn parse_property_string(s: &str, default_key: Option<&str>) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for part in s.split(',') {
        if part.trim().is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.to_string());
            }
            _ => match default_key {
                Some(dk) => {
                    out.insert(dk.to_string(), part.trim().to_string());
                }
                None => {
                    out.insert(part.trim().to_string(), String::new());
                }
            },
        }
    }
    out
}

/// Formats pairs as a property string. A pair with an empty key is written
/// as its bare value (a default-key value; put it first), a pair with an
/// empty value as its bare key (`virtio`).
///
/// ```
/// use lab_proxmox::api::format_property_string;
/// let s = format_property_string(&[("", "local-lvm:32".into()), ("ssd", "1".into())]);
/// assert_eq!(s, "local-lvm:32,ssd=1");
/// ```
pub fn format_property_string(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| match (k.is_empty(), v.is_empty()) {
            (true, _) => v.clone(),
            (false, true) => k.to_string(),
            (false, false) => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a PVE size (`32G`, `512M`, `1T`, `1.5T`, `4096K`, or bare bytes)
/// into whole GiB, rounding up; `None` if it is not a size.
///
/// ```
/// use lab_proxmox::api::parse_size_gib;
/// assert_eq!(parse_size_gib("10240M"), Some(10));
/// assert_eq!(parse_size_gib("512M"), Some(1));
/// ```
pub fn parse_size_gib(s: &str) -> Option<u64> {
    parse_size_bytes(s).map(|b| b.div_ceil(1 << 30))
}

/// Parses a PVE size (PVE's `parse_size`: `^\d+(\.\d+)?[KMGT]?$`, bare
/// number = bytes) into bytes.
pub fn parse_size_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult): (&str, u64) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        'T' | 't' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (num, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    let whole = int.parse::<u64>().ok()?.checked_mul(mult)?;
    let part = match frac {
        // Perl computes in floating point and truncates (`int($size)`).
        Some(f) => {
            let x: f64 = format!("0.{f}").parse().ok()?;
            (x * mult as f64) as u64
        }
        None => 0,
    };
    whole.checked_add(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_net_and_disk() {
        let net = parse_property_string(
            "virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20,firewall=1",
            None,
        );
        assert_eq!(
            net.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("virtio", "BC:24:11:00:00:01"),
                ("bridge", "vmbr0"),
                ("tag", "20"),
                ("firewall", "1")
            ]
        );
        let disk = parse_property_string("local-lvm:vm-100-disk-0,size=32G,ssd=1", Some("file"));
        assert_eq!(disk["file"], "local-lvm:vm-100-disk-0");
        assert_eq!(disk["size"], "32G");
        let bare = parse_property_string("virtio,bridge=vmbr0", None);
        assert_eq!(bare["virtio"], "");
        let model = parse_property_string("virtio,bridge=vmbr0", Some("model"));
        assert_eq!(model["model"], "virtio");
        // Values may contain '=' (import-from paths, cicustom): split on the first.
        let imp = parse_property_string("nas:0,import-from=nas:import/a=b.qcow2", Some("file"));
        assert_eq!(imp["import-from"], "nas:import/a=b.qcow2");
        assert!(parse_property_string("", None).is_empty());
        assert_eq!(parse_property_string("a=1,,b=2,", None).len(), 2);
    }

    #[test]
    fn format_round_trip() {
        let pairs = [
            ("virtio", "BC:24:11:00:00:01".to_string()),
            ("bridge", "vmbr0".to_string()),
            ("tag", "20".to_string()),
        ];
        let s = format_property_string(&pairs);
        assert_eq!(s, "virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20");
        let back = parse_property_string(&s, None);
        assert_eq!(back.len(), 3);
        assert_eq!(back["tag"], "20");
        assert_eq!(
            format_property_string(&[("virtio", String::new()), ("bridge", "vmbr0".into())]),
            "virtio,bridge=vmbr0"
        );
        assert_eq!(format_property_string(&[]), "");
    }

    #[test]
    fn sizes() {
        for (s, gib) in [
            ("32G", Some(32)),
            ("512M", Some(1)),
            ("1T", Some(1024)),
            ("10240M", Some(10)),
            ("10241M", Some(11)),
            ("1.5T", Some(1536)),
            ("2.5G", Some(3)),
            ("4194304K", Some(4)),
            ("34359738368", Some(32)),
            ("0", Some(0)),
            ("32g", Some(32)),
            ("", None),
            ("G", None),
            ("32X", None),
            ("-1G", None),
            ("1.G", None),
            ("abc", None),
        ] {
            assert_eq!(parse_size_gib(s), gib, "{s}");
        }
        assert_eq!(parse_size_bytes("512M"), Some(512 << 20));
    }
}
