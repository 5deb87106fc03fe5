//! The firewall's API (pve-firewall `src/PVE/API2/Firewall/{Cluster,
//! Groups,IPSet,Rules,VM}.pm`): `/cluster/firewall/{options,groups,ipset}`
//! and `/nodes/{node}/{qemu,lxc}/{vmid}/firewall/{options,rules}`, over
//! the configuration in [`super::firewall`].
//!
//! Behaviour kept from PVE:
//! - `POST` of a rule or an ipset entry inserts at the TOP (`unshift`),
//!   whatever `pos` says; a rule `POST`ed without `enable` is disabled;
//! - `PUT .../{pos}` with `moveto` only moves; otherwise it merges the
//!   given keys (`''` deletes one), applies `delete`, and verifies;
//! - writes to a rule list, an ipset's entries or options take `digest`
//!   and refuse a stale one (`detected modified configuration - ...`);
//! - rule verification answers 400 naming the parameter (`no such ipset
//!   'x'`, `unknown macro 'x'`, `missing property - 'dport' requires this
//!   property`, ...);
//! - a missing group is `no such security group 'x'`, a missing ipset
//!   `no such IPSet 'x'`, a missing position `no rule at position N`
//!   (500s); deleting a group that still has rules is `Security group 'x'
//!   is not empty`, an ipset with entries (without `force`) `IPSet 'x' is
//!   not empty`; names taken are 400s on `group`/`name`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{json, Value};

use super::firewall::{
    assert_if_modified, check_rule_formats, clean_cidr, copy_rule_data, entries_digest,
    entries_json, entry_json, object_json, options_digest, rules_digest, rules_json, verify_rule,
    Firewall, FwRule, IpSetEntryConf, RuleEnv, SecurityGroupConf, RULE_KEYS,
};
use super::propstr::split_list;
use super::rest::{parse_bool, ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::world::GuestKind;

/// Cluster options (`$cluster_option_properties`), booleans first.
const CLUSTER_OPTIONS: &[&str] = &[
    "enable",
    "ebtables",
    "policy_in",
    "policy_out",
    "policy_forward",
    "log_ratelimit",
];
/// Guest options (`$vm_option_properties`), booleans first.
const GUEST_OPTIONS: &[&str] = &[
    "enable",
    "dhcp",
    "ipfilter",
    "macfilter",
    "ndp",
    "radv",
    "policy_in",
    "policy_out",
    "log_level_in",
    "log_level_out",
];
const BOOLEAN_OPTIONS: &[&str] = &[
    "enable",
    "ebtables",
    "dhcp",
    "ipfilter",
    "macfilter",
    "ndp",
    "radv",
];

fn params_map(p: &Params) -> BTreeMap<String, String> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn subdirs(names: &[&str], key: &str) -> ApiResult {
    Ok(Reply::data(Value::Array(
        names.iter().map(|n| json!({ key: n })).collect(),
    )))
}

/// `/cluster/firewall/...`; `rest` is the path below `firewall`.
pub(crate) fn cluster(shared: &Arc<Shared>, method: &str, rest: &[&str], p: &Params) -> ApiResult {
    let unrouted = || {
        ApiError::NotImplemented(format!(
            "Method '{method} /cluster/firewall/{}' not implemented",
            rest.join("/")
        ))
    };
    match (method, rest) {
        ("GET", []) => subdirs(
            &[
                "aliases", "rules", "options", "groups", "ipset", "macros", "refs",
            ],
            "name",
        ),
        ("GET", ["options"]) => shared.read(|w| {
            let digest = options_digest(&w.firewall.options);
            Ok(Reply::data(Value::Object(object_json(
                &w.firewall.options,
                &digest,
            ))))
        }),
        ("PUT", ["options"]) => {
            shared.write(|w| set_options(&mut w.firewall.options, CLUSTER_OPTIONS, p))
        }
        ("GET", ["groups"]) => shared.read(|w| Ok(Reply::data(group_list(&w.firewall)))),
        ("POST", ["groups"]) => shared.write(|w| create_group(&mut w.firewall, p)),
        ("GET", ["groups", group]) => {
            shared.read(|w| Ok(Reply::data(rules_json(group_rules(&w.firewall, group)?))))
        }
        ("POST", ["groups", group]) => shared.write(|w| {
            let sets = ipset_names(&w.firewall);
            let rules = group_rules_mut(&mut w.firewall, group)?;
            create_rule(rules, &sets, RuleEnv::Group, p)
        }),
        ("DELETE", ["groups", group]) => shared.write(|w| {
            if !group_rules(&w.firewall, group)?.is_empty() {
                return Err(ApiError::die(format!(
                    "Security group '{group}' is not empty"
                )));
            }
            w.firewall.groups.remove(*group);
            Ok(Reply::null())
        }),
        (_, ["groups", group, pos]) => {
            let pos = parse_pos(pos)?;
            shared.write(|w| {
                let sets = ipset_names(&w.firewall);
                let rules = group_rules_mut(&mut w.firewall, group)?;
                rule_at(rules, &sets, RuleEnv::Group, method, pos, p)
            })
        }
        ("GET", ["ipset"]) => shared.read(|w| Ok(Reply::data(ipset_list(&w.firewall)))),
        ("POST", ["ipset"]) => shared.write(|w| create_ipset(&mut w.firewall, p)),
        (_, ["ipset", name, cidr @ ..]) => ipset(shared, method, name, &cidr.join("/"), p),
        _ => Err(unrouted()),
    }
}

/// `/nodes/{node}/{qemu,lxc}/{vmid}/firewall/...`.
pub(crate) fn guest(
    shared: &Arc<Shared>,
    kind: GuestKind,
    vmid: u32,
    method: &str,
    rest: &[&str],
    p: &Params,
) -> Result<Option<Reply>, ApiError> {
    let env = match kind {
        GuestKind::Qemu => RuleEnv::Vm,
        GuestKind::Lxc => RuleEnv::Ct,
    };
    let reply = match (method, rest) {
        ("GET", []) => subdirs(&["rules", "aliases", "ipset", "refs", "options"], "name")?,
        ("GET", ["options"]) => shared.read(|w| {
            let options = w
                .firewall
                .guests
                .get(&vmid)
                .map(|g| g.options.clone())
                .unwrap_or_default();
            Reply::data(Value::Object(object_json(
                &options,
                &options_digest(&options),
            )))
        }),
        ("PUT", ["options"]) => shared.write(|w| {
            let conf = w.firewall.guests.entry(vmid).or_default();
            set_options(&mut conf.options, GUEST_OPTIONS, p)
        })?,
        ("GET", ["rules"]) => shared.read(|w| {
            let rules = w
                .firewall
                .guests
                .get(&vmid)
                .map(|g| g.rules.clone())
                .unwrap_or_default();
            Reply::data(rules_json(&rules))
        }),
        ("POST", ["rules"]) => shared.write(|w| {
            let sets = ipset_names(&w.firewall);
            let conf = w.firewall.guests.entry(vmid).or_default();
            create_rule(&mut conf.rules, &sets, env, p)
        })?,
        (_, ["rules", pos]) => {
            let pos = parse_pos(pos)?;
            shared.write(|w| {
                let sets = ipset_names(&w.firewall);
                let conf = w.firewall.guests.entry(vmid).or_default();
                rule_at(&mut conf.rules, &sets, env, method, pos, p)
            })?
        }
        _ => return Ok(None),
    };
    Ok(Some(reply))
}

fn parse_pos(text: &str) -> Result<usize, ApiError> {
    text.parse::<usize>().map_err(|_| {
        ApiError::param(
            "pos",
            format!("type check ('integer') failed - got '{text}'"),
        )
    })
}

fn ipset_names(fw: &Firewall) -> BTreeSet<String> {
    fw.ipsets.keys().cloned().collect()
}

fn group_rules<'a>(fw: &'a Firewall, group: &str) -> Result<&'a [FwRule], ApiError> {
    fw.groups
        .get(group)
        .map(|g| g.rules.as_slice())
        .ok_or_else(|| ApiError::die(format!("no such security group '{group}'")))
}

fn group_rules_mut<'a>(fw: &'a mut Firewall, group: &str) -> Result<&'a mut Vec<FwRule>, ApiError> {
    fw.groups
        .get_mut(group)
        .map(|g| &mut g.rules)
        .ok_or_else(|| ApiError::die(format!("no such security group '{group}'")))
}

/// `PUT .../options`: digest, `delete`, then the given options.
fn set_options(options: &mut BTreeMap<String, String>, known: &[&str], p: &Params) -> ApiResult {
    assert_if_modified(&options_digest(options), p.get("digest"))?;
    let mut next = options.clone();
    for opt in p.get("delete").map(split_list).unwrap_or_default() {
        if !known.contains(&opt.as_str()) {
            return Err(ApiError::param("delete", format!("no such option '{opt}'")));
        }
        next.remove(&opt);
    }
    for key in known {
        let Some(v) = p.get(key) else { continue };
        let value = if BOOLEAN_OPTIONS.contains(key) {
            match parse_bool(v) {
                Some(b) => u8::from(b).to_string(),
                None if *key == "enable" => match v.parse::<u64>() {
                    // The cluster's anti-lockout timestamp form: on.
                    Ok(n) => u8::from(n > 0).to_string(),
                    Err(_) => {
                        return Err(ApiError::param(
                            key,
                            format!("type check ('integer') failed - got '{v}'"),
                        ))
                    }
                },
                None => {
                    return Err(ApiError::param(
                        key,
                        format!("type check ('boolean') failed - got '{v}'"),
                    ))
                }
            }
        } else {
            v.to_string()
        };
        next.insert(key.to_string(), value);
    }
    *options = next;
    Ok(Reply::null())
}

/// `POST .../rules`: verified, then inserted at position 0.
fn create_rule(
    rules: &mut Vec<FwRule>,
    sets: &BTreeSet<String>,
    env: RuleEnv,
    p: &Params,
) -> ApiResult {
    let params = params_map(p);
    check_rule_formats(&params)?;
    for key in ["type", "action"] {
        p.required(key)?;
    }
    let mut rule = FwRule::new();
    copy_rule_data(&mut rule, &params);
    verify_rule(&mut rule, sets, env)?;
    rule.entry("enable".into()).or_insert_with(|| "0".into());
    rules.insert(0, rule);
    Ok(Reply::null())
}

/// `GET`/`PUT`/`DELETE .../rules/{pos}`.
fn rule_at(
    rules: &mut Vec<FwRule>,
    sets: &BTreeSet<String>,
    env: RuleEnv,
    method: &str,
    pos: usize,
    p: &Params,
) -> ApiResult {
    let missing = || ApiError::die(format!("no rule at position {pos}"));
    match method {
        "GET" => {
            let digest = rules_digest(rules);
            let rule = rules.get(pos).ok_or_else(missing)?;
            let mut obj = object_json(rule, &digest);
            obj.insert("pos".into(), json!(pos));
            Ok(Reply::data(Value::Object(obj)))
        }
        "DELETE" => {
            assert_if_modified(&rules_digest(rules), p.get("digest"))?;
            if pos >= rules.len() {
                return Err(missing());
            }
            rules.remove(pos);
            Ok(Reply::null())
        }
        "PUT" => {
            let params = params_map(p);
            check_rule_formats(&params)?;
            assert_if_modified(&rules_digest(rules), p.get("digest"))?;
            if pos >= rules.len() {
                return Err(missing());
            }
            match p.int("moveto")? {
                Some(to) if to as usize != pos => {
                    let to = to as usize;
                    let rule = rules[pos].clone();
                    let mut next = Vec::with_capacity(rules.len());
                    for (i, r) in rules.iter().enumerate() {
                        if i == pos {
                            continue;
                        }
                        if i == to {
                            next.push(rule.clone());
                        }
                        next.push(r.clone());
                    }
                    if to >= rules.len() {
                        next.push(rule);
                    }
                    *rules = next;
                }
                _ => {
                    let mut rule = rules[pos].clone();
                    copy_rule_data(&mut rule, &params);
                    for opt in p.get("delete").map(split_list).unwrap_or_default() {
                        if !RULE_KEYS.contains(&opt.as_str()) && opt != "pos" && opt != "digest" {
                            return Err(ApiError::param(
                                "delete",
                                format!("no such property ('{opt}')"),
                            ));
                        }
                        if opt == "type" || opt == "action" {
                            return Err(ApiError::param(
                                "delete",
                                format!("unable to delete required property '{opt}'"),
                            ));
                        }
                        rule.remove(&opt);
                    }
                    verify_rule(&mut rule, sets, env)?;
                    rules[pos] = rule;
                }
            }
            Ok(Reply::null())
        }
        _ => Err(ApiError::NotImplemented(format!(
            "Method '{method}' not implemented"
        ))),
    }
}

/// The listing lines of `/cluster/firewall/groups` (`group`, `comment`)
/// or `/cluster/firewall/ipset` (`name`, `comment`).
fn listing_items<T>(
    objects: &BTreeMap<String, T>,
    key: &str,
    comment: impl Fn(&T) -> Option<&String>,
) -> Vec<BTreeMap<String, String>> {
    objects
        .iter()
        .map(|(name, o)| {
            let mut m = BTreeMap::new();
            m.insert(key.to_string(), name.clone());
            if let Some(c) = comment(o).filter(|c| !c.is_empty()) {
                m.insert("comment".to_string(), c.clone());
            }
            m
        })
        .collect()
}

fn group_items(fw: &Firewall) -> Vec<BTreeMap<String, String>> {
    listing_items(&fw.groups, "group", |g| g.comment.as_ref())
}

fn ipset_items(fw: &Firewall) -> Vec<BTreeMap<String, String>> {
    listing_items(&fw.ipsets, "name", |s| s.comment.as_ref())
}

fn group_list(fw: &Firewall) -> Value {
    listing(&group_items(fw))
}

fn ipset_list(fw: &Firewall) -> Value {
    listing(&ipset_items(fw))
}

/// A list of objects with the list's digest on each.
fn listing(items: &[BTreeMap<String, String>]) -> Value {
    let digest = rules_digest(items);
    Value::Array(
        items
            .iter()
            .map(|m| Value::Object(object_json(m, &digest)))
            .collect(),
    )
}

/// `POST /cluster/firewall/groups` (create, or `rename` / update the comment).
fn create_group(fw: &mut Firewall, p: &Params) -> ApiResult {
    let group = p.required("group")?.to_string();
    let comment = p.get("comment").map(str::to_string);
    match p.get("rename") {
        Some(old) => {
            assert_if_modified(&group_list_digest(fw), p.get("digest"))?;
            if !fw.groups.contains_key(old) {
                return Err(ApiError::param(
                    "group",
                    format!("Security group '{old}' does not exist"),
                ));
            }
            if fw.groups.contains_key(&group) && group != old {
                return Err(ApiError::param(
                    "group",
                    format!("Security group '{group}' does already exist"),
                ));
            }
            let mut conf = fw.groups.remove(old).unwrap_or_default();
            if comment.is_some() {
                conf.comment = comment;
            }
            if group != old {
                for g in fw.guests.values_mut() {
                    for r in g.rules.iter_mut() {
                        if r.get("type").map(String::as_str) == Some("group")
                            && r.get("action").map(String::as_str) == Some(old)
                        {
                            r.insert("action".into(), group.clone());
                        }
                    }
                }
            }
            fw.groups.insert(group, conf);
        }
        None => {
            if fw.groups.contains_key(&group) {
                return Err(ApiError::param(
                    "group",
                    format!("Security group '{group}' already exists"),
                ));
            }
            fw.groups.insert(
                group,
                SecurityGroupConf {
                    comment,
                    rules: Vec::new(),
                },
            );
        }
    }
    Ok(Reply::null())
}

fn group_list_digest(fw: &Firewall) -> String {
    rules_digest(&group_items(fw))
}

fn ipset_list_digest(fw: &Firewall) -> String {
    rules_digest(&ipset_items(fw))
}

/// `POST /cluster/firewall/ipset` (create, or `rename` / update the comment).
fn create_ipset(fw: &mut Firewall, p: &Params) -> ApiResult {
    let name = p.required("name")?.to_string();
    let comment = p.get("comment").map(str::to_string);
    match p.get("rename") {
        Some(old) => {
            assert_if_modified(&ipset_list_digest(fw), p.get("digest"))?;
            if !fw.ipsets.contains_key(old) {
                return Err(ApiError::param(
                    "name",
                    format!("IPSet '{old}' does not exist"),
                ));
            }
            if fw.ipsets.contains_key(&name) && name != old {
                return Err(ApiError::param(
                    "name",
                    format!("IPSet '{name}' does already exist"),
                ));
            }
            let mut conf = fw.ipsets.remove(old).unwrap_or_default();
            if comment.is_some() {
                conf.comment = comment;
            }
            fw.ipsets.insert(name, conf);
        }
        None => {
            if fw.ipsets.contains_key(&name) {
                return Err(ApiError::param(
                    "name",
                    format!("IPSet '{name}' already exists"),
                ));
            }
            fw.ipsets.insert(
                name,
                super::firewall::IpSetConf {
                    comment,
                    entries: Vec::new(),
                },
            );
        }
    }
    Ok(Reply::null())
}

/// `/cluster/firewall/ipset/{name}[/{cidr}]`.
fn ipset(shared: &Arc<Shared>, method: &str, name: &str, cidr: &str, p: &Params) -> ApiResult {
    let no_such = || ApiError::die(format!("no such IPSet '{name}'"));
    match (method, cidr.is_empty()) {
        ("GET", true) => shared.read(|w| {
            let set = w.firewall.ipsets.get(name).ok_or_else(no_such)?;
            Ok(Reply::data(entries_json(&set.entries)))
        }),
        ("DELETE", true) => shared.write(|w| {
            let set = w.firewall.ipsets.get(name).ok_or_else(no_such)?;
            if !set.entries.is_empty() && !p.bool("force", false)? {
                return Err(ApiError::die(format!("IPSet '{name}' is not empty")));
            }
            w.firewall.ipsets.remove(name);
            Ok(Reply::null())
        }),
        ("POST", true) => shared.write(|w| {
            let set = w.firewall.ipsets.get_mut(name).ok_or_else(no_such)?;
            let raw = p.required("cidr")?;
            let alias = raw
                .strip_prefix("dc/")
                .or_else(|| raw.strip_prefix("guest/"))
                .unwrap_or(raw);
            if crate::kinds::firewall_name_ok(alias, usize::MAX) {
                // The simulator keeps no aliases.
                return Err(ApiError::die(format!("no such alias '{alias}'")));
            }
            let cidr = clean_cidr(raw)?;
            if set.entries.iter().any(|e| e.cidr == cidr) {
                return Err(ApiError::param(
                    "cidr",
                    format!("address '{cidr}' already exists"),
                ));
            }
            if cidr.ends_with("/0") {
                return Err(ApiError::param(
                    "cidr",
                    "a zero prefix is not allowed in ipset entries",
                ));
            }
            let entry = IpSetEntryConf {
                cidr,
                nomatch: p.bool("nomatch", false)?,
                comment: p
                    .get("comment")
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            };
            set.entries.insert(0, entry);
            Ok(Reply::null())
        }),
        ("GET", false) => shared.read(|w| {
            let set = w.firewall.ipsets.get(name).ok_or_else(no_such)?;
            let digest = entries_digest(&set.entries);
            set.entries
                .iter()
                .find(|e| e.cidr == cidr)
                .map(|e| Reply::data(entry_json(e, &digest)))
                .ok_or_else(|| ApiError::param("cidr", "no such IP/Network"))
        }),
        ("PUT", false) => shared.write(|w| {
            let set = w.firewall.ipsets.get_mut(name).ok_or_else(no_such)?;
            assert_if_modified(&entries_digest(&set.entries), p.get("digest"))?;
            let entry = set
                .entries
                .iter_mut()
                .find(|e| e.cidr == cidr)
                .ok_or_else(|| ApiError::param("cidr", "no such IP/Network"))?;
            entry.nomatch = p.bool("nomatch", false)?;
            entry.comment = p
                .get("comment")
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            Ok(Reply::null())
        }),
        ("DELETE", false) => shared.write(|w| {
            let set = w.firewall.ipsets.get_mut(name).ok_or_else(no_such)?;
            assert_if_modified(&entries_digest(&set.entries), p.get("digest"))?;
            set.entries.retain(|e| e.cidr != cidr);
            Ok(Reply::null())
        }),
        _ => Err(ApiError::NotImplemented(format!(
            "Method '{method} /cluster/firewall/ipset/{name}' not implemented"
        ))),
    }
}
