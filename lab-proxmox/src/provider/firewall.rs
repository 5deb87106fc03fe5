//! What the firewall kinds share: the bulk refresh of
//! `/cluster/firewall` and of managed guest firewalls ([`FirewallSnapshot`],
//! one part of the provider's [`super::Snapshot`]), rules between PVE's
//! JSON and [`FirewallRule`], the ordered rewrite of a rule list, and the
//! diff.
//!
//! How a rule list is written (`write_rules`): PVE's `POST` inserts a rule
//! at the TOP whatever `pos` says, and every write to a list takes the
//! list's `digest`. So the list is read and walked position by position:
//! a rule whose successor is the wanted one is deleted, a wanted rule
//! whose successor is the rule there is inserted (`POST`ed DISABLED, moved
//! to its place with `moveto`, then enabled, so it is never live at
//! position 0 for a moment), any other difference is rewritten in place
//! (`PUT .../{pos}` with `delete=` for the fields the rule no longer has);
//! rules left over are deleted from the end. One rule added or removed in
//! the middle is therefore one insert or delete, not a rewrite of every
//! rule after it. The list is re-read before each write for its digest:
//! someone editing the same list meanwhile makes PVE refuse the write
//! (`detected modified configuration`) instead of it being overwritten.

use std::collections::{BTreeMap, HashMap};

use lab_core::provider::{generic_diff, FieldChange, KindSchema, ReadRequest};
use lab_core::value::{decode, decode_value, encode_value};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::{err, normalize, ProxmoxProvider};
use crate::api::{path, ApiError, ErrorKind, Form};
use crate::kinds::{self, FirewallRule, GuestFirewallSpec, IpSetEntry};

/// One guest's firewall as read: its options and its rules.
#[derive(Debug, Default, Clone)]
pub(crate) struct GuestFirewallRead {
    /// `GET .../firewall/options` (without `digest`).
    pub options: Map<String, Json>,
    /// `GET .../firewall/rules`, position 0 first.
    pub rules: Vec<Map<String, Json>>,
}

/// The firewall part of one refresh: listings of groups and ipsets, the
/// contents of the managed ones, the cluster options, the managed guest
/// firewalls; each only when the refresh asks for its kind.
#[derive(Debug, Default)]
pub struct FirewallSnapshot {
    /// `/cluster/firewall/groups`, by name.
    pub(crate) groups: HashMap<String, Map<String, Json>>,
    /// The rules of each managed group that exists.
    pub(crate) group_rules: HashMap<String, Vec<Map<String, Json>>>,
    /// `/cluster/firewall/ipset`, by name.
    pub(crate) ipsets: HashMap<String, Map<String, Json>>,
    /// The entries of each managed ipset that exists.
    pub(crate) ipset_entries: HashMap<String, Vec<Map<String, Json>>>,
    /// `/cluster/firewall/options`, when asked for.
    pub(crate) cluster_options: Option<Map<String, Json>>,
    /// Managed guest firewalls, by VMID.
    pub(crate) guests: HashMap<i64, GuestFirewallRead>,
}

/// The keys of a rule in PVE's API, with the field of [`FirewallRule`]
/// each fills.
const OPTIONAL_RULE_KEYS: &[&str] = &[
    "source",
    "dest",
    "proto",
    "dport",
    "sport",
    "icmp-type",
    "macro",
    "iface",
    "log",
    "comment",
];

fn optional(rule: &FirewallRule, key: &str) -> Option<String> {
    match key {
        "source" => rule.source.clone(),
        "dest" => rule.dest.clone(),
        "proto" => rule.proto.clone(),
        "dport" => rule.dport.clone(),
        "sport" => rule.sport.clone(),
        "icmp-type" => rule.icmp_type.clone(),
        "macro" => rule.macro_name.clone(),
        "iface" => rule.iface.clone(),
        "log" => rule.log.clone(),
        "comment" => rule.comment.clone(),
        _ => None,
    }
}

/// A rule as PVE lists it (comment as stored, marker included).
pub(crate) fn rule_of(m: &Map<String, Json>) -> FirewallRule {
    let text = |k: &str| normalize::text(m, k).filter(|v| !v.is_empty());
    FirewallRule {
        direction: text("type").unwrap_or_default(),
        action: text("action").unwrap_or_default(),
        source: text("source"),
        dest: text("dest"),
        proto: text("proto"),
        dport: text("dport"),
        sport: text("sport"),
        icmp_type: text("icmp-type"),
        macro_name: text("macro"),
        iface: text("iface"),
        log: text("log"),
        // A rule file line without `|` is enabled; only `enable: 0` is off.
        enable: text("enable").is_none_or(|v| v != "0"),
        comment: text("comment"),
    }
}

/// The rule's parameters for `POST`/`PUT` (every field it has; `enable`
/// always, as PVE disables a rule `POST`ed without it).
fn rule_form(rule: &FirewallRule, enable: bool) -> Form {
    let mut form = Form::new();
    form.push_str("type", &rule.direction);
    form.push_str("action", &rule.action);
    form.push_int("enable", i64::from(enable));
    for key in OPTIONAL_RULE_KEYS {
        if let Some(v) = optional(rule, key) {
            form.push_str(key, &v);
        }
    }
    form
}

/// `comment` with `marker` at its end (the rules of a guest firewall).
pub(crate) fn mark_rule(rule: &FirewallRule, marker: &str) -> FirewallRule {
    let mut r = rule.clone();
    r.comment = Some(super::backup_job::comment_with(
        rule.comment.as_deref(),
        marker,
    ));
    r
}

/// The user's part of a rule's comment and whether it carried `marker`.
pub(crate) fn unmark_rule(mut rule: FirewallRule, marker: &str) -> (FirewallRule, bool) {
    let Some(c) = rule.comment.take() else {
        return (rule, false);
    };
    if c == marker {
        return (rule, true);
    }
    if let Some(user) = c.strip_suffix(marker).and_then(|u| u.strip_suffix(' ')) {
        rule.comment = (!user.is_empty()).then(|| user.to_string());
        return (rule, true);
    }
    rule.comment = Some(c);
    (rule, false)
}

/// Whether an error says the list's owner (group, ipset) is gone.
pub(crate) fn missing(e: &ApiError) -> bool {
    e.kind == ErrorKind::NotFound
}

/// The diff of the firewall kinds: options the lab leaves out are not
/// compared (PVE has defaults the lab need not repeat); `rules` and
/// `entries` are compared whole, in order, so a rule or entry changed,
/// added, removed or moved by hand is a change.
pub(crate) fn firewall_diff(
    schema: &KindSchema,
    desired: &Attrs,
    observed: &Attrs,
) -> Vec<FieldChange> {
    let desired = canonical_attrs(desired);
    let mut projected = observed.clone();
    projected.retain(|k, _| desired.contains_key(k));
    generic_diff(schema, &desired, &projected)
}

/// A rule as PVE stores it: the macro in PVE's spelling, empty texts
/// absent.
pub(crate) fn canonical_rule(rule: &FirewallRule) -> FirewallRule {
    let mut r = rule.clone();
    if let Some(m) = r.macro_name.as_deref().and_then(kinds::canonical_macro) {
        r.macro_name = Some(m.to_string());
    }
    for field in [
        &mut r.source,
        &mut r.dest,
        &mut r.proto,
        &mut r.dport,
        &mut r.sport,
        &mut r.icmp_type,
        &mut r.macro_name,
        &mut r.iface,
        &mut r.log,
        &mut r.comment,
    ] {
        if field.as_deref() == Some("") {
            *field = None;
        }
    }
    r
}

/// An ipset's entries as PVE stores them: `cidr` normalised, sorted,
/// `nomatch: false` and empty comments absent.
pub(crate) fn canonical_entries(entries: &[IpSetEntry]) -> Vec<IpSetEntry> {
    let mut out: Vec<IpSetEntry> = entries
        .iter()
        .map(|e| IpSetEntry {
            cidr: kinds::normalize_cidr(&e.cidr),
            nomatch: e.nomatch.filter(|n| *n),
            comment: e.comment.clone().filter(|c| !c.is_empty()),
        })
        .collect();
    out.sort_by(|a, b| a.cidr.cmp(&b.cidr));
    out
}

/// Desired attributes written by other code than the builders (lab-net's
/// lowering) in the form the read gives: `rules` and `entries` through
/// their serde types (defaults filled in) and [`canonical_rule`] /
/// [`canonical_entries`]. A list that does not decode (a reference not
/// known yet) is left as it is.
fn canonical_attrs(desired: &Attrs) -> Attrs {
    let mut out = desired.clone();
    if let Some(v) = desired.get("rules") {
        if let Ok(rules) = decode_value::<Vec<FirewallRule>>(v) {
            let rules: Vec<FirewallRule> = rules.iter().map(canonical_rule).collect();
            if let Ok(v) = encode_value(&rules) {
                out.insert("rules".into(), v);
            }
        }
    }
    if let Some(v) = desired.get("entries") {
        if let Ok(entries) = decode_value::<Vec<IpSetEntry>>(v) {
            if let Ok(v) = encode_value(&canonical_entries(&entries)) {
                out.insert("entries".into(), v);
            }
        }
    }
    out
}

/// The segments of a guest firewall's path: `nodes/{node}/{qemu|lxc}/{vmid}/firewall`.
pub(crate) fn guest_base(spec: &GuestFirewallSpec) -> Vec<String> {
    vec![
        "nodes".into(),
        spec.node.clone(),
        spec.guest.clone(),
        spec.vmid.to_string(),
        "firewall".into(),
    ]
}

fn joined(base: &[String], tail: &[&str]) -> String {
    let mut segs: Vec<&str> = base.iter().map(String::as_str).collect();
    segs.extend_from_slice(tail);
    path(&segs)
}

impl ProxmoxProvider {
    /// A rule list and its digest (`base` is the list's path segments).
    async fn rule_list(
        &self,
        base: &[String],
    ) -> Result<(Vec<FirewallRule>, Option<String>), ProviderError> {
        let list: Vec<Map<String, Json>> = self
            .client
            .get(&joined(base, &[]), &[])
            .await
            .map_err(err)?;
        let digest = list.first().and_then(|m| normalize::text(m, "digest"));
        Ok((list.iter().map(rule_of).collect(), digest))
    }

    /// The digest of the list at `base` as it is now.
    async fn rules_digest(&self, base: &[String]) -> Result<Option<String>, ProviderError> {
        Ok(self.rule_list(base).await?.1)
    }

    /// `PUT` of `form` at `pos` with the list's current digest.
    async fn put_rule(
        &self,
        base: &[String],
        pos: usize,
        mut form: Form,
    ) -> Result<(), ProviderError> {
        if let Some(d) = self.rules_digest(base).await? {
            form.push_str("digest", &d);
        }
        self.client
            .put(&joined(base, &[&pos.to_string()]), &form)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Rule `pos` becomes `want` in place (`delete=` for the fields `have`
    /// has and `want` has not).
    async fn rewrite_rule(
        &self,
        base: &[String],
        pos: usize,
        want: &FirewallRule,
        have: &FirewallRule,
    ) -> Result<(), ProviderError> {
        let mut form = rule_form(want, want.enable);
        let gone: Vec<&str> = OPTIONAL_RULE_KEYS
            .iter()
            .copied()
            .filter(|k| optional(want, k).is_none() && optional(have, k).is_some())
            .collect();
        if !gone.is_empty() {
            form.push_str("delete", &gone.join(","));
        }
        self.put_rule(base, pos, form).await
    }

    /// `DELETE` of rule `pos` with the list's current digest.
    async fn delete_rule(&self, base: &[String], pos: usize) -> Result<(), ProviderError> {
        let query: Vec<(&str, String)> = self
            .rules_digest(base)
            .await?
            .into_iter()
            .map(|d| ("digest", d))
            .collect();
        self.client
            .delete(&joined(base, &[&pos.to_string()]), &query)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// `want` at position `pos`: `POST`ed disabled (PVE puts it at the
    /// top), moved to `pos` (`moveto` = `pos + 1`: PVE places the rule
    /// before the one at `moveto` in the list that still holds it), then
    /// enabled, so it is never live out of order.
    async fn insert_rule(
        &self,
        base: &[String],
        pos: usize,
        want: &FirewallRule,
    ) -> Result<(), ProviderError> {
        self.client
            .post(&joined(base, &[]), &rule_form(want, false))
            .await
            .map_err(err)?;
        if pos > 0 {
            let mut form = Form::new();
            form.push_int("moveto", pos as i64 + 1);
            self.put_rule(base, 0, form).await?;
        }
        if want.enable {
            let mut form = Form::new();
            form.push_int("enable", 1);
            self.put_rule(base, pos, form).await?;
        }
        Ok(())
    }

    /// Makes the rule list at `base` (a group: `cluster/firewall/groups/{g}`;
    /// a guest: `.../firewall/rules`) exactly `desired`, in order (see the
    /// module docs).
    pub(crate) async fn write_rules(
        &self,
        base: &[String],
        desired: &[FirewallRule],
    ) -> Result<(), ProviderError> {
        let desired: Vec<FirewallRule> = desired.iter().map(canonical_rule).collect();
        let (mut current, _) = self.rule_list(base).await?;
        // `current` mirrors the list as each write leaves it.
        let mut i = 0;
        while i < desired.len() {
            let want = &desired[i];
            match current.get(i) {
                Some(have) if have == want => i += 1,
                // `have` is not wanted here but the next one is: delete it.
                Some(_) if current.get(i + 1) == Some(want) => {
                    self.delete_rule(base, i).await?;
                    current.remove(i);
                }
                // `have` is wanted next: `want` goes in before it.
                Some(have) if desired.get(i + 1) == Some(have) => {
                    self.insert_rule(base, i, want).await?;
                    current.insert(i, want.clone());
                    i += 1;
                }
                Some(have) => {
                    self.rewrite_rule(base, i, want, have).await?;
                    current[i] = want.clone();
                    i += 1;
                }
                None => {
                    self.insert_rule(base, i, want).await?;
                    current.push(want.clone());
                    i += 1;
                }
            }
        }
        for pos in (desired.len()..current.len()).rev() {
            self.delete_rule(base, pos).await?;
        }
        Ok(())
    }

    /// A guest firewall's options and rules (`None`: the API answers that
    /// the guest's node is gone).
    pub(crate) async fn guest_firewall_read(
        &self,
        spec: &GuestFirewallSpec,
    ) -> Result<Option<GuestFirewallRead>, ProviderError> {
        let base = guest_base(spec);
        let options: Result<Map<String, Json>, ApiError> =
            self.client.get(&joined(&base, &["options"]), &[]).await;
        let mut options = match options {
            Ok(o) => o,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        options.remove("digest");
        let rules: Vec<Map<String, Json>> = self
            .client
            .get(&joined(&base, &["rules"]), &[])
            .await
            .map_err(err)?;
        Ok(Some(GuestFirewallRead { options, rules }))
    }

    /// The firewall part of a refresh for `requests`.
    pub(crate) async fn firewall_snapshot(
        &self,
        requests: &[ReadRequest],
    ) -> Result<FirewallSnapshot, ProviderError> {
        let of_kind =
            |kind: &'static str| requests.iter().filter(move |r| r.address.kind() == kind);
        let mut snap = FirewallSnapshot::default();
        if of_kind(kinds::FIREWALL_GROUP).next().is_some() {
            snap.groups = self.listing("/cluster/firewall/groups", "group").await?;
            for r in of_kind(kinds::FIREWALL_GROUP) {
                if snap.groups.contains_key(&r.id) && !snap.group_rules.contains_key(&r.id) {
                    let rules = self
                        .client
                        .get(&path(&["cluster", "firewall", "groups", &r.id]), &[])
                        .await
                        .map_err(err)?;
                    snap.group_rules.insert(r.id.clone(), rules);
                }
            }
        }
        if of_kind(kinds::FIREWALL_IPSET).next().is_some() {
            snap.ipsets = self.listing("/cluster/firewall/ipset", "name").await?;
            for r in of_kind(kinds::FIREWALL_IPSET) {
                if snap.ipsets.contains_key(&r.id) && !snap.ipset_entries.contains_key(&r.id) {
                    let entries = self
                        .client
                        .get(&path(&["cluster", "firewall", "ipset", &r.id]), &[])
                        .await
                        .map_err(err)?;
                    snap.ipset_entries.insert(r.id.clone(), entries);
                }
            }
        }
        if of_kind(kinds::FIREWALL_CLUSTER).next().is_some() {
            let mut options: Map<String, Json> = self
                .client
                .get("/cluster/firewall/options", &[])
                .await
                .map_err(err)?;
            options.remove("digest");
            snap.cluster_options = Some(options);
        }
        for r in of_kind(kinds::GUEST_FIREWALL) {
            let spec = decode::<GuestFirewallSpec>(&r.prior).map_err(|e| {
                ProviderError::permanent(format!(
                    "{}: the recorded spec does not fit `{}`: {e}",
                    r.address,
                    kinds::GUEST_FIREWALL
                ))
            })?;
            if let Some(read) = self.guest_firewall_read(&spec).await? {
                snap.guests.insert(spec.vmid, read);
            }
        }
        Ok(snap)
    }
}

/// Options of `m` as text, without `digest`.
pub(crate) fn option_texts(m: &Map<String, Json>) -> BTreeMap<String, String> {
    m.iter()
        .filter(|(k, _)| k.as_str() != "digest")
        .filter_map(|(k, _)| Some((k.clone(), normalize::text(m, k)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_rides_at_the_end_of_a_rule_comment() {
        let m = "lab:home/proxmox.guest_firewall.web";
        let mut r = FirewallRule::new("in", "ACCEPT");
        r.comment = Some("ssh".into());
        let marked = mark_rule(&r, m);
        assert_eq!(marked.comment.as_deref(), Some(&*format!("ssh {m}")));
        assert_eq!(unmark_rule(marked, m), (r.clone(), true));
        let bare = mark_rule(&FirewallRule::new("in", "DROP"), m);
        assert_eq!(
            unmark_rule(bare, m),
            (FirewallRule::new("in", "DROP"), true)
        );
        assert_eq!(unmark_rule(r.clone(), m), (r, false));
    }
}
