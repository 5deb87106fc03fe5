//! The rule map shared by `proxmox.firewall_group` and
//! `proxmox.guest_firewall`: one line of a `[RULES]` or `[group <name>]`
//! section of PVE's firewall config, as `/cluster/firewall/groups/{group}`
//! and `/nodes/{node}/{qemu,lxc}/{vmid}/firewall/rules` list it.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `type` | `"in"` \| `"out"` \| `"group"` | `group`: the rule attaches a security group (guests only) |
//! | `action` | `Str` | `ACCEPT`, `DROP`, `REJECT`, or the group's name when `type` is `group` |
//! | `source?`, `dest?` | `Str` | PVE address spec: IP, CIDR, `+ipset`, alias, comma lists |
//! | `proto?` | `Str` | `tcp`, `udp`, `icmp`, ... or a number |
//! | `dport?`, `sport?` | `Str` | `22`, `80:85`, `http,https` (needs `proto`) |
//! | `icmp_type?` | `Str` | with `proto` `icmp`/`icmpv6` |
//! | `macro?` | `Str` | one of [`MACROS`] (PVE's spelling) |
//! | `iface?` | `Str` | `net0`...: the rule applies to one NIC only |
//! | `log?` | `Str` | `emerg` ... `debug`, `nolog` |
//! | `enable` | `Bool` | default true (PVE makes a rule POSTed without `enable` a disabled one, so it is always sent) |
//! | `comment?` | `Str` | |
//!
//! Rules are ordered: index 0 is PVE's position 0, evaluated first. The
//! provider compares them as ordered lists, so a rule edited, removed or
//! moved by hand is drift.

use serde::{Deserialize, Serialize};

fn yes() -> bool {
    true
}

/// One firewall rule (see the module docs for the fields).
///
/// ```
/// use lab_proxmox::kinds::FirewallRule;
/// let ssh = FirewallRule::new("in", "ACCEPT");
/// assert!(ssh.enable);
/// assert_eq!(ssh.action, "ACCEPT");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallRule {
    /// `in`, `out` or `group`.
    #[serde(rename = "type")]
    pub direction: String,
    /// `ACCEPT`, `DROP`, `REJECT` or a security group's name.
    pub action: String,
    /// Source address spec.
    pub source: Option<String>,
    /// Destination address spec.
    pub dest: Option<String>,
    /// IP protocol.
    pub proto: Option<String>,
    /// Destination ports.
    pub dport: Option<String>,
    /// Source ports.
    pub sport: Option<String>,
    /// ICMP type.
    pub icmp_type: Option<String>,
    /// A standard macro (`SSH`, `HTTPS`, ...).
    #[serde(rename = "macro")]
    pub macro_name: Option<String>,
    /// The guest NIC (`net0`) the rule is limited to.
    pub iface: Option<String>,
    /// Log level.
    pub log: Option<String>,
    /// Whether the rule is active.
    #[serde(default = "yes")]
    pub enable: bool,
    /// Descriptive comment.
    pub comment: Option<String>,
}

impl FirewallRule {
    /// An enabled rule of `direction` with `action` and nothing else.
    pub fn new(direction: &str, action: &str) -> Self {
        FirewallRule {
            direction: direction.to_string(),
            action: action.to_string(),
            source: None,
            dest: None,
            proto: None,
            dport: None,
            sport: None,
            icmp_type: None,
            macro_name: None,
            iface: None,
            log: None,
            enable: true,
            comment: None,
        }
    }

    /// The ipsets the rule names (`+name` in `source` or `dest`, scope
    /// prefixes `dc/`/`guest/` removed).
    pub fn ipsets(&self) -> Vec<&str> {
        [&self.source, &self.dest]
            .into_iter()
            .flatten()
            .filter_map(|a| a.strip_prefix('+'))
            .map(|a| {
                a.strip_prefix("dc/")
                    .or_else(|| a.strip_prefix("guest/"))
                    .unwrap_or(a)
            })
            .collect()
    }
}

/// PVE's standard macros (`$pve_fw_macros` in pve-firewall's
/// `src/PVE/Firewall.pm`, see `reference/SOURCES.md`), in PVE's spelling.
/// PVE takes a macro name in any case and stores this spelling.
pub const MACROS: &[&str] = &[
    "Amanda",
    "Auth",
    "BGP",
    "BitTorrent",
    "BitTorrent32",
    "Ceph",
    "CVS",
    "Citrix",
    "DAAP",
    "DCC",
    "DHCPfwd",
    "DNS",
    "Distcc",
    "FTP",
    "Finger",
    "GNUnet",
    "GRE",
    "Git",
    "HKP",
    "HTTP",
    "HTTPS",
    "ICPV2",
    "ICQ",
    "IMAP",
    "IMAPS",
    "IPIP",
    "IPsec",
    "IPsecah",
    "IPsecnat",
    "IRC",
    "Jetdirect",
    "L2TP",
    "LDAP",
    "LDAPS",
    "MSNP",
    "MSSQL",
    "Mail",
    "MDNS",
    "Munin",
    "MySQL",
    "NNTP",
    "NNTPS",
    "NTP",
    "OSPF",
    "OpenVPN",
    "PCA",
    "PMG",
    "POP3",
    "POP3S",
    "PPtP",
    "Ping",
    "PostgreSQL",
    "Printer",
    "RDP",
    "RIP",
    "RNDC",
    "Razor",
    "Rdate",
    "Rsync",
    "SANE",
    "SMB",
    "SMBswat",
    "SMTP",
    "SMTPS",
    "SNMP",
    "SPAMD",
    "SSH",
    "SVN",
    "SixXS",
    "SPICEproxy",
    "Squid",
    "Submission",
    "Syslog",
    "TFTP",
    "Telnet",
    "Telnets",
    "Time",
    "Trcrt",
    "VNC",
    "VNCL",
    "Web",
    "Webcache",
    "Webmin",
    "Whois",
];

/// PVE's spelling of macro `name` (matched without regard to case), or
/// `None` for a macro PVE does not know.
///
/// ```
/// assert_eq!(lab_proxmox::kinds::canonical_macro("ssh"), Some("SSH"));
/// assert_eq!(lab_proxmox::kinds::canonical_macro("nope"), None);
/// ```
pub fn canonical_macro(name: &str) -> Option<&'static str> {
    MACROS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
}

/// Whether `name` is a valid ipset or security group name
/// (`[A-Za-z][A-Za-z0-9\-\_]+`) of at most `max` characters.
pub fn firewall_name_ok(name: &str, max: usize) -> bool {
    name.len() >= 2
        && name.len() <= max
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// Longest ipset name PVE accepts.
pub const MAX_IPSET_NAME: usize = 64;
/// Longest security group name PVE accepts.
pub const MAX_GROUP_NAME: usize = 18;

/// Protocol names PVE takes in `proto` (`/etc/protocols` of a Debian
/// host, plus `icmpv6`, which pve-firewall adds); numbers 0..=255 too.
pub const PROTOCOLS: &[&str] = &[
    "ip",
    "icmp",
    "igmp",
    "ggp",
    "ipencap",
    "st",
    "tcp",
    "egp",
    "igp",
    "pup",
    "udp",
    "hmp",
    "xns-idp",
    "rdp",
    "iso-tp4",
    "dccp",
    "xtp",
    "ddp",
    "idpr-cmtp",
    "ipv6",
    "ipv6-route",
    "ipv6-frag",
    "idrp",
    "rsvp",
    "gre",
    "esp",
    "ah",
    "skip",
    "ipv6-icmp",
    "ipv6-nonxt",
    "ipv6-opts",
    "rspf",
    "vmtp",
    "eigrp",
    "ospf",
    "ax.25",
    "ipip",
    "etherip",
    "encap",
    "pim",
    "ipcomp",
    "vrrp",
    "l2tp",
    "isis",
    "sctp",
    "fc",
    "mobility-header",
    "udplite",
    "mpls-in-ip",
    "manet",
    "hip",
    "shim6",
    "wesp",
    "rohc",
    "ethernet",
    "icmpv6",
];

/// Protocols whose rules may name ports (`$PROTOCOLS_WITH_PORTS`).
pub const PROTOCOLS_WITH_PORTS: &[&str] = &[
    "udp", "17", "udplite", "136", "tcp", "6", "dccp", "33", "sctp", "132",
];

/// Service names this crate knows for ports (a common subset of a Debian
/// host's `/etc/services`, which PVE reads); any number works everywhere.
pub const SERVICES: &[&str] = &[
    "ftp-data",
    "ftp",
    "ssh",
    "telnet",
    "smtp",
    "domain",
    "tftp",
    "http",
    "kerberos",
    "pop3",
    "sunrpc",
    "ntp",
    "imap2",
    "snmp",
    "ldap",
    "https",
    "microsoft-ds",
    "submission",
    "ldaps",
    "imaps",
    "pop3s",
    "openvpn",
    "nfs",
    "mysql",
    "postgresql",
    "rsync",
    "syslog",
    "bootps",
    "bootpc",
    "netbios-ns",
    "netbios-dgm",
    "netbios-ssn",
    "iscsi-target",
    "rdp",
    "mdns",
];

/// Whether `proto` names a protocol (`pve-fw-protocol-spec`); the error
/// is PVE's text.
pub fn check_proto(proto: &str) -> Result<(), String> {
    let known = PROTOCOLS.contains(&proto) || proto.parse::<u8>().is_ok();
    if known {
        Ok(())
    } else {
        Err(format!("unknown protocol '{proto}'"))
    }
}

/// Checks a port list (`22`, `80:85`, `http,https`) as pve-firewall's
/// `parse_port_name_number_or_range` does; the error is PVE's text.
pub fn check_ports(ports: &str) -> Result<(), String> {
    let items: Vec<&str> = ports.split(',').collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err("extraneous commas in list".to_string());
    }
    let mut count = 0;
    for item in items {
        let number = |p: &str| -> Result<u32, String> {
            match p.parse::<u32>() {
                Ok(n) if n <= 65535 => Ok(n),
                _ => Err(format!("invalid port '{p}'")),
            }
        };
        if let Some((a, b)) = item.split_once(':') {
            if a.chars().all(|c| c.is_ascii_digit()) && b.chars().all(|c| c.is_ascii_digit()) {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(format!(
                        "backwards range '{a}:{b}' not allowed, did you mean '{b}:{a}'?"
                    ));
                }
                count += 2;
                continue;
            }
        }
        if !item.is_empty() && item.chars().all(|c| c.is_ascii_digit()) {
            number(item)?;
            count += 1;
        } else if !SERVICES.contains(&item) {
            return Err(format!("invalid port '{item}'"));
        }
    }
    if count > 15 {
        return Err("too many entries in port list (> 15 numbers)".to_string());
    }
    Ok(())
}

/// The IP version of an address or CIDR (`None`: not one).
pub fn ip_version(text: &str) -> Option<u8> {
    let (ip, len) = match text.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (text, None),
    };
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if let Some(len) = len {
        match len.parse::<u8>() {
            Ok(l) if l <= max => {}
            _ => return None,
        }
    }
    Some(if ip.is_ipv4() { 4 } else { 6 })
}

/// Checks an address spec (`pve-fw-addr-spec`: `+ipset`, an alias, or a
/// comma list of IPs/CIDRs of one IP version) as pve-firewall's
/// `parse_address_list` does; the error is PVE's text. Returns the IP
/// version of a literal list.
pub fn check_address(spec: &str) -> Result<Option<u8>, String> {
    if let Some(set) = spec.strip_prefix('+') {
        if spec.len() > MAX_IPSET_NAME + 1 {
            return Err("ipset name too long".to_string());
        }
        if !set.is_empty() && !set.contains(char::is_whitespace) {
            return Ok(None);
        }
    }
    let alias = spec
        .strip_prefix("dc/")
        .or_else(|| spec.strip_prefix("guest/"))
        .unwrap_or(spec);
    if firewall_name_ok(alias, usize::MAX) {
        if spec.len() > 64 {
            return Err("alias name too long".to_string());
        }
        return Ok(None);
    }
    let items: Vec<&str> = spec.split(',').collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err("extraneous commas in list".to_string());
    }
    let mut version = None;
    for item in &items {
        let v = if let Some((a, b)) = item.split_once('-') {
            match (ip_version(a), ip_version(b)) {
                (Some(x), Some(y)) if x == y && !a.contains('/') && !b.contains('/') => x,
                _ => return Err(format!("invalid IP address: Invalid IP {item}")),
            }
        } else {
            ip_version(item).ok_or_else(|| format!("invalid IP address: Invalid IP {item}"))?
        };
        if version.is_some_and(|old| old != v) {
            return Err(format!(
                "detected mixed ipv4/ipv6 addresses in address list '{spec}'"
            ));
        }
        version = Some(v);
    }
    if items.len() > 1 && items.iter().any(|i| i.contains('-')) {
        return Err("you can't use a range in a list".to_string());
    }
    Ok(version)
}

/// An IP or CIDR as PVE stores it in an ipset (`clean_cidr` then
/// `parse_ip_or_cidr`): the network address of a CIDR, no `/32` or
/// `/128`. An alias (or anything else) is returned unchanged.
///
/// ```
/// use lab_proxmox::kinds::normalize_cidr;
/// assert_eq!(normalize_cidr("10.0.0.7/24"), "10.0.0.0/24");
/// assert_eq!(normalize_cidr("10.0.0.7/32"), "10.0.0.7");
/// assert_eq!(normalize_cidr("mgmt"), "mgmt");
/// ```
pub fn normalize_cidr(text: &str) -> String {
    use std::net::IpAddr;
    let Some((ip, len)) = text.split_once('/') else {
        return text.to_string();
    };
    let (Ok(addr), Ok(len)) = (ip.parse::<IpAddr>(), len.parse::<u32>()) else {
        return text.to_string();
    };
    match addr {
        IpAddr::V4(v4) if len <= 32 => {
            if len == 32 {
                return v4.to_string();
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            format!("{}/{len}", std::net::Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) if len <= 128 => {
            if len == 128 {
                return v6.to_string();
            }
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            format!("{}/{len}", std::net::Ipv6Addr::from(u128::from(v6) & mask))
        }
        _ => text.to_string(),
    }
}

/// Log levels PVE takes (`pve-fw-loglevel`).
pub const LOG_LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog",
];
