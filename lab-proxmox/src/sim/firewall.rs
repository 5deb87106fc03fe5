//! The firewall's configuration as pve-firewall keeps it (`cluster.fw`:
//! `[OPTIONS]`, `[IPSET name]`, `[group name]`; `<vmid>.fw`: `[OPTIONS]`,
//! `[RULES]`) and the checks its API runs on rules (pve-firewall
//! `src/PVE/Firewall.pm` `verify_rule`, `parse_address_list`,
//! `parse_port_name_number_or_range`, `copy_list_with_digest`; see
//! `reference/SOURCES.md`). The handlers are in `firewall_api`.
//!
//! Modelling notes:
//! - a rule is the hash PVE keeps (`type`, `action`, `source`, ...,
//!   `enable`, `ipversion`), keys as PVE names them, values as text;
//! - lists and option sets carry one digest (PVE: SHA-1 over `key:value\n`
//!   of each entry's sorted keys; here 40 hex characters of SHA-256 over
//!   the same text, as the guests' config digests are), so a stale
//!   `digest` is refused the way PVE refuses it;
//! - what pve-firewall does not check through the API, neither does this:
//!   a rule may attach a security group that does not exist (the compiler
//!   only warns), an ipset or group still named by rules may be deleted
//!   once empty; macros are checked by name, not expanded.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::rest::ApiError;
use super::world::digest40;
use crate::kinds::{self, canonical_macro};

/// One rule: PVE's keys (`type`, `action`, `source`, `dest`, `proto`,
/// `dport`, `sport`, `icmp-type`, `macro`, `iface`, `log`, `enable`,
/// `comment`, `ipversion`) to their values.
pub type FwRule = BTreeMap<String, String>;

/// The simulated cluster's firewall configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Firewall {
    /// `cluster.fw` `[OPTIONS]` (`enable`, `policy_in`, ...).
    pub options: BTreeMap<String, String>,
    /// Security groups, by name.
    pub groups: BTreeMap<String, SecurityGroupConf>,
    /// Cluster ipsets, by name.
    pub ipsets: BTreeMap<String, IpSetConf>,
    /// Guest firewalls (`<vmid>.fw`), by VMID.
    pub guests: BTreeMap<u32, GuestFirewallConf>,
}

/// One security group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupConf {
    /// Its comment.
    pub comment: Option<String>,
    /// Its rules, position 0 first.
    pub rules: Vec<FwRule>,
}

/// One ipset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpSetConf {
    /// Its comment.
    pub comment: Option<String>,
    /// Its entries, newest first (PVE adds at the top).
    pub entries: Vec<IpSetEntryConf>,
}

/// One ipset entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpSetEntryConf {
    /// IP, CIDR or alias, as stored (`clean_cidr`, no `/32`).
    pub cidr: String,
    /// Excluded from the set.
    pub nomatch: bool,
    /// Its comment.
    pub comment: Option<String>,
}

/// One guest's firewall config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuestFirewallConf {
    /// `[OPTIONS]` (`enable`, `policy_in`, `ipfilter`, ...).
    pub options: BTreeMap<String, String>,
    /// `[RULES]`, position 0 first.
    pub rules: Vec<FwRule>,
}

/// Where rules live: pve-firewall's `rule_env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleEnv {
    /// A security group.
    Group,
    /// A VM.
    Vm,
    /// A container.
    Ct,
}

impl RuleEnv {
    fn name(self) -> &'static str {
        match self {
            RuleEnv::Group => "group",
            RuleEnv::Vm => "vm",
            RuleEnv::Ct => "ct",
        }
    }

    fn types(self) -> &'static [&'static str] {
        match self {
            RuleEnv::Group => &["in", "out", "forward"],
            RuleEnv::Vm | RuleEnv::Ct => &["in", "out", "group"],
        }
    }
}

/// Keys a rule carries (`$rule_properties` without `pos` and `digest`).
pub(crate) const RULE_KEYS: &[&str] = &[
    "type",
    "action",
    "macro",
    "iface",
    "source",
    "dest",
    "proto",
    "enable",
    "log",
    "sport",
    "dport",
    "comment",
    "icmp-type",
];

/// Keys whose values PVE returns as integers.
const INT_KEYS: &[&str] = &["enable", "ipversion", "pos", "nomatch", "ebtables"];

/// The digest of a list of entries (`copy_list_with_digest`).
pub(crate) fn list_digest<'a>(
    entries: impl IntoIterator<Item = BTreeMap<&'a str, &'a str>>,
) -> String {
    let mut text = String::new();
    for entry in entries {
        for (k, v) in entry {
            text.push_str(&format!("{k}:{v}\n"));
        }
    }
    digest40(text.as_bytes())
}

/// The digest of a rule list.
pub(crate) fn rules_digest(rules: &[FwRule]) -> String {
    list_digest(
        rules
            .iter()
            .map(|r| r.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()),
    )
}

/// The digest of an ipset's entries.
pub(crate) fn entries_digest(entries: &[IpSetEntryConf]) -> String {
    list_digest(entries.iter().map(|e| {
        let mut m = BTreeMap::new();
        m.insert("cidr", e.cidr.as_str());
        if e.nomatch {
            m.insert("nomatch", "1");
        }
        if let Some(c) = &e.comment {
            m.insert("comment", c.as_str());
        }
        m
    }))
}

/// The digest of an option set (`copy_opject_with_digest`).
pub(crate) fn options_digest(options: &BTreeMap<String, String>) -> String {
    list_digest([options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()])
}

/// A value as PVE's JSON has it: integers for the numeric keys.
pub(crate) fn json_value(key: &str, value: &str) -> Value {
    if INT_KEYS.contains(&key) {
        if let Ok(n) = value.parse::<i64>() {
            return json!(n);
        }
    }
    json!(value)
}

/// A map of text values as JSON, plus `digest`.
pub(crate) fn object_json(map: &BTreeMap<String, String>, digest: &str) -> Map<String, Value> {
    let mut obj: Map<String, Value> = map
        .iter()
        .map(|(k, v)| (k.clone(), json_value(k, v)))
        .collect();
    obj.insert("digest".into(), json!(digest));
    obj
}

/// `PVE::Tools::assert_if_modified`.
pub(crate) fn assert_if_modified(current: &str, given: Option<&str>) -> Result<(), ApiError> {
    match given {
        Some(d) if !d.is_empty() && d != current => Err(ApiError::die(
            "detected modified configuration - file changed by other user? Try again.",
        )),
        _ => Ok(()),
    }
}

/// The formats the schema gives rule parameters (`pve-fw-addr-spec`,
/// `pve-fw-dport-spec`, `pve-fw-sport-spec`, `pve-fw-protocol-spec`),
/// checked as the JSON schema checks them before the handler runs
/// (`invalid format - <why>`).
pub(crate) fn check_rule_formats(params: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let mut errors = BTreeMap::new();
    for (key, value) in params {
        let result = match key.as_str() {
            "source" | "dest" => kinds::check_address(value).map(|_| ()),
            "dport" | "sport" => kinds::check_ports(value),
            "proto" => kinds::check_proto(value),
            _ => Ok(()),
        };
        if let Err(e) = result {
            errors.insert(key.clone(), format!("invalid format - {e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Param(errors))
    }
}

/// `copy_rule_data`: the rule keys given, `''` or `-` deleting one.
pub(crate) fn copy_rule_data(rule: &mut FwRule, params: &BTreeMap<String, String>) {
    for key in RULE_KEYS {
        if let Some(v) = params.get(*key) {
            if v.is_empty() || v == "-" {
                rule.remove(*key);
            } else {
                rule.insert(key.to_string(), v.clone());
            }
        }
    }
}

/// `verify_rule` (without `$noerr`: the first problem is the answer, a
/// 400 naming the parameter, as `raise_param_exc` sends it). Sets
/// `ipversion` and PVE's spelling of `macro`.
pub(crate) fn verify_rule(
    rule: &mut FwRule,
    ipsets: &BTreeSet<String>,
    env: RuleEnv,
) -> Result<(), ApiError> {
    let fail = |key: &str, msg: String| Err(ApiError::param(key, msg));
    let get = |rule: &FwRule, k: &str| rule.get(k).cloned().filter(|v| !v.is_empty());
    let mut version: Option<u8> = None;
    let mut set_version = |v: u8| -> Result<(), String> {
        if version.is_some_and(|old| old != v) {
            return Err("detected mixed ipv4/ipv6 addresses in rule".to_string());
        }
        version = Some(v);
        Ok(())
    };
    let (ty, action) = (get(rule, "type"), get(rule, "action"));
    let Some(ty) = ty else {
        return fail("type", "missing property".into());
    };
    let Some(action) = action else {
        return fail("action", "missing property".into());
    };
    if !env.types().contains(&ty.as_str()) {
        return fail(
            "type",
            format!("invalid rule type '{ty}' for rule_env '{}'", env.name()),
        );
    }
    if matches!(ty.as_str(), "in" | "out" | "forward") {
        if ty == "forward" && action == "REJECT" {
            return fail(
                "action",
                "cannot define REJECT rules on forward chain".into(),
            );
        }
        if !matches!(action.as_str(), "ACCEPT" | "DROP" | "REJECT") {
            return fail("action", format!("unknown action '{action}'"));
        }
    } else if !kinds::firewall_name_ok(&action, usize::MAX) {
        return fail("action", "invalid characters in security group name".into());
    }
    if let Some(iface) = get(rule, "iface") {
        if env == RuleEnv::Group {
            return fail("type", "parameter -i not allowed for this rule type".into());
        }
        let ok = iface
            .strip_prefix("net")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return fail(
                "iface",
                "value does not match the regex pattern 'net\\d+'".into(),
            );
        }
    }
    if let Some(m) = get(rule, "macro") {
        match canonical_macro(&m) {
            Some(name) => {
                rule.insert("macro".into(), name.into());
            }
            None => return fail("macro", format!("unknown macro '{m}'")),
        }
    }
    let proto = get(rule, "proto");
    let is_icmp = matches!(proto.as_deref(), Some("icmp" | "icmpv6" | "ipv6-icmp"));
    if let Some(p) = &proto {
        if let Err(e) = kinds::check_proto(p) {
            return fail("proto", e);
        }
        let v = match p.as_str() {
            "icmp" => Some(4),
            "icmpv6" | "ipv6-icmp" => Some(6),
            _ => None,
        };
        if let Some(v) = v {
            set_version(v).map_err(|e| ApiError::param("proto", e))?;
        }
    }
    for key in ["dport", "sport"] {
        let Some(ports) = get(rule, key) else {
            continue;
        };
        if !(key == "dport" && is_icmp) {
            if let Err(e) = kinds::check_ports(&ports) {
                return fail(key, e);
            }
        }
        let Some(p) = &proto else {
            return fail(
                "proto",
                format!("missing property - '{key}' requires this property"),
            );
        };
        let ok = kinds::PROTOCOLS_WITH_PORTS.contains(&p.as_str()) || (key == "dport" && is_icmp);
        if !ok {
            return fail(key, format!("protocol '{p}' does not support ports"));
        }
    }
    if get(rule, "icmp-type").is_some() {
        if !is_icmp {
            return fail(
                "proto",
                "missing property - 'icmp-type' requires this property".into(),
            );
        }
        if get(rule, "dport").is_some() {
            return fail(
                "icmp-type",
                "'icmp-type' cannot be specified together with 'dport'".into(),
            );
        }
    }
    for key in ["source", "dest"] {
        let Some(addr) = get(rule, key) else {
            continue;
        };
        match kinds::check_address(&addr) {
            Err(e) => return fail(key, e),
            Ok(Some(v)) => set_version(v).map_err(|e| ApiError::param(key, e))?,
            Ok(None) => {}
        }
        if let Some(set) = addr.strip_prefix('+') {
            let name = set
                .strip_prefix("dc/")
                .or_else(|| set.strip_prefix("guest/"))
                .or_else(|| set.strip_prefix("sdn/"))
                .unwrap_or(set);
            if !kinds::firewall_name_ok(name, usize::MAX) {
                return fail(key, format!("invalid ipset name '{addr}'"));
            }
            if !ipsets.contains(name) {
                return fail(key, format!("no such ipset '{name}'"));
            }
        } else if kinds::firewall_name_ok(
            addr.strip_prefix("dc/")
                .or_else(|| addr.strip_prefix("guest/"))
                .unwrap_or(&addr),
            usize::MAX,
        ) {
            // The simulator keeps no aliases (`/cluster/firewall/aliases`).
            return fail(key, format!("no such alias '{addr}'"));
        }
    }
    match version {
        Some(v) => rule.insert("ipversion".into(), v.to_string()),
        None => rule.remove("ipversion"),
    };
    Ok(())
}

/// A rule list as `GET .../rules` answers: each rule with `pos` and the
/// list's `digest`.
pub(crate) fn rules_json(rules: &[FwRule]) -> Value {
    let digest = rules_digest(rules);
    Value::Array(
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut obj = object_json(r, &digest);
                obj.insert("pos".into(), json!(i));
                Value::Object(obj)
            })
            .collect(),
    )
}

/// An ipset's entries as `GET /cluster/firewall/ipset/{name}` answers.
pub(crate) fn entries_json(entries: &[IpSetEntryConf]) -> Value {
    let digest = entries_digest(entries);
    Value::Array(entries.iter().map(|e| entry_json(e, &digest)).collect())
}

/// One entry with the list's digest.
pub(crate) fn entry_json(e: &IpSetEntryConf, digest: &str) -> Value {
    let mut obj = Map::new();
    obj.insert("cidr".into(), json!(e.cidr));
    if e.nomatch {
        obj.insert("nomatch".into(), json!(1));
    }
    if let Some(c) = &e.comment {
        obj.insert("comment".into(), json!(c));
    }
    obj.insert("digest".into(), json!(digest));
    Value::Object(obj)
}

/// `clean_cidr` + `parse_ip_or_cidr`: an entry as PVE stores it, or
/// PVE's complaint.
pub(crate) fn clean_cidr(cidr: &str) -> Result<String, ApiError> {
    if kinds::ip_version(cidr).is_none() {
        return Err(ApiError::die(
            "value does not look like a valid IP address or CIDR network",
        ));
    }
    Ok(kinds::normalize_cidr(cidr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pairs: &[(&str, &str)]) -> FwRule {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn verify_rule_answers_with_pves_texts() {
        let sets: BTreeSet<String> = ["zone_mgmt".to_string()].into();
        let mut ok = rule(&[
            ("type", "in"),
            ("action", "ACCEPT"),
            ("source", "+zone_mgmt"),
            ("proto", "tcp"),
            ("dport", "22"),
            ("macro", "ssh"),
        ]);
        verify_rule(&mut ok, &sets, RuleEnv::Group).unwrap();
        assert_eq!(ok["macro"], "SSH");
        type Case<'a> = (&'a [(&'a str, &'a str)], RuleEnv, &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[("type", "in"), ("action", "ACCEPT"), ("source", "+nope")],
                RuleEnv::Vm,
                "source",
                "no such ipset 'nope'",
            ),
            (
                &[("type", "group"), ("action", "sg_web")],
                RuleEnv::Group,
                "type",
                "invalid rule type 'group' for rule_env 'group'",
            ),
            (
                &[("type", "in"), ("action", "ACCEPT"), ("dport", "22")],
                RuleEnv::Vm,
                "proto",
                "missing property - 'dport' requires this property",
            ),
            (
                &[
                    ("type", "in"),
                    ("action", "ACCEPT"),
                    ("proto", "icmp"),
                    ("sport", "22"),
                ],
                RuleEnv::Vm,
                "sport",
                "protocol 'icmp' does not support ports",
            ),
            (
                &[("type", "in"), ("action", "ACCEPT"), ("macro", "Nope")],
                RuleEnv::Vm,
                "macro",
                "unknown macro 'Nope'",
            ),
            (
                &[("type", "in"), ("action", "ACCEPT"), ("iface", "eth0")],
                RuleEnv::Vm,
                "iface",
                "value does not match the regex pattern 'net\\d+'",
            ),
            (
                &[("type", "in"), ("action", "ACCEPT"), ("iface", "net0")],
                RuleEnv::Group,
                "type",
                "parameter -i not allowed for this rule type",
            ),
            (
                &[
                    ("type", "in"),
                    ("action", "ACCEPT"),
                    ("source", "10.0.0.1"),
                    ("dest", "fd00::1"),
                ],
                RuleEnv::Vm,
                "dest",
                "detected mixed ipv4/ipv6 addresses in rule",
            ),
        ];
        for (pairs, env, key, text) in cases {
            let err = verify_rule(&mut rule(pairs), &sets, *env).unwrap_err();
            assert_eq!(err, ApiError::param(key, *text), "{pairs:?}");
        }
    }

    #[test]
    fn digests_change_with_order_and_content() {
        let a = rule(&[("type", "in"), ("action", "ACCEPT")]);
        let b = rule(&[("type", "in"), ("action", "DROP")]);
        let ab = rules_digest(&[a.clone(), b.clone()]);
        assert_ne!(ab, rules_digest(&[b, a.clone()]));
        assert_ne!(ab, rules_digest(&[a]));
        assert_eq!(ab.len(), 40);
    }
}
