//! The offline rule of the firewall kinds: what rules name must exist.
//! PVE refuses a rule naming an ipset it does not have (`no such ipset`),
//! but takes a guest rule attaching a security group it does not have and
//! skips it when it compiles the rules (pve-firewall only logs "no such
//! security group"): the guest then runs without that group's rules, on its
//! policy alone. Both are named by handle in the builders; attributes
//! written by other code (lab-net's lowering) name them as text, so this
//! checks them. A warning, not an error: the object may exist in the
//! cluster without the lab declaring it.

use std::collections::BTreeSet;

use lab_core::{Diagnostic, Lab, Value};

use super::FIREWALL_REFERENCE;
use crate::kinds;

fn declared(lab: &Lab, kind: &str, field: &str) -> BTreeSet<String> {
    lab.resources()
        .filter(|s| s.kind() == kind)
        .filter_map(|s| match s.attrs.get(field) {
            Some(Value::Str(n)) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn text<'a>(rule: &'a indexmap::IndexMap<String, Value>, key: &str) -> Option<&'a str> {
    match rule.get(key) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

pub(super) fn firewall_references(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let ipsets = declared(lab, kinds::FIREWALL_IPSET, "name");
    let groups = declared(lab, kinds::FIREWALL_GROUP, "group");
    let owners = lab
        .resources()
        .filter(|s| s.kind() == kinds::FIREWALL_GROUP || s.kind() == kinds::GUEST_FIREWALL);
    for spec in owners {
        let Some(Value::List(rules)) = spec.attrs.get("rules") else {
            continue;
        };
        for (pos, rule) in rules.iter().enumerate() {
            let Value::Map(rule) = rule else { continue };
            for key in ["source", "dest"] {
                let Some(set) = text(rule, key).and_then(|a| a.strip_prefix('+')) else {
                    continue;
                };
                let name = set
                    .strip_prefix("dc/")
                    .or_else(|| set.strip_prefix("guest/"))
                    .unwrap_or(set);
                if !ipsets.contains(name) {
                    out.push(
                        Diagnostic::warning(
                            FIREWALL_REFERENCE,
                            format!(
                                "rule {pos} of `{}` names ipset `+{name}` in `{key}`, which the lab does not declare; PVE refuses the rule unless the cluster has it",
                                spec.address
                            ),
                        )
                        .for_resource(&spec.address)
                        .with_label(spec.loc_of("rules"), "the rules are set here")
                        .with_help(format!(
                            "declare it (`IpSet::new(\"{name}\")`) and name it by handle with `.{key}_set(&ipset)`, or make sure the cluster has it"
                        )),
                    );
                }
            }
            if text(rule, "type") == Some("group") {
                let Some(group) = text(rule, "action") else {
                    continue;
                };
                if !groups.contains(group) {
                    out.push(
                        Diagnostic::warning(
                            FIREWALL_REFERENCE,
                            format!(
                                "rule {pos} of `{}` attaches security group `{group}`, which the lab does not declare; PVE accepts the rule and, if the cluster has no such group, skips it: the guest runs on its policy alone",
                                spec.address
                            ),
                        )
                        .for_resource(&spec.address)
                        .with_label(spec.loc_of("rules"), "the rules are set here")
                        .with_help(format!(
                            "declare it (`SecurityGroup::new(\"{group}\")`) and attach it by handle with `FirewallRule::group(&group)`, or make sure the cluster has it"
                        )),
                    );
                }
            }
        }
    }
}
