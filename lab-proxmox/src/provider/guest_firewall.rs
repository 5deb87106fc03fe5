//! `proxmox.guest_firewall`: `/nodes/{node}/{qemu,lxc}/{vmid}/firewall`.
//! Create and update `PUT .../options` (the options the lab sets, with the
//! digest; an option the lab does not set is not the lab's: neither
//! compared nor written nor deleted) and write the
//! rule list in order (`write_rules`), each rule's comment ending with the
//! lab's marker. The read strips the marker; a rule without it (made by
//! hand) stays in the observed list, so it shows as drift and the next
//! apply removes it: the lab owns the guest's whole rule list. Delete
//! removes only the rules carrying the marker and sets `enable` to 0.
//!
//! Adoption (and crash recovery): a guest whose rules carry this
//! resource's marker.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext, Ownership};
use lab_core::{Attrs, ProviderError};

use super::firewall::{
    firewall_diff, guest_base, mark_rule, option_texts, rule_of, unmark_rule, GuestFirewallRead,
};
use super::{err, ProxmoxProvider, Snapshot};
use crate::api::{path, Form};
use crate::kinds::{FirewallRule, GuestFirewallOutputs, GuestFirewallSpec};

const FLAGS: &[&str] = &["ipfilter", "macfilter", "dhcp", "ndp", "radv"];
const TEXTS: &[&str] = &["policy_in", "policy_out", "log_level_in", "log_level_out"];

fn flag_of(spec: &GuestFirewallSpec, key: &str) -> Option<bool> {
    match key {
        "ipfilter" => spec.ipfilter,
        "macfilter" => spec.macfilter,
        "dhcp" => spec.dhcp,
        "ndp" => spec.ndp,
        "radv" => spec.radv,
        _ => None,
    }
}

fn text_of(spec: &GuestFirewallSpec, key: &str) -> Option<String> {
    match key {
        "policy_in" => spec.policy_in.clone(),
        "policy_out" => spec.policy_out.clone(),
        "log_level_in" => spec.log_level_in.clone(),
        "log_level_out" => spec.log_level_out.clone(),
        _ => None,
    }
}

/// The guest's firewall as read, in the spec's shape (`node`, `vmid`,
/// `guest` from `known`: the firewall API does not say them).
fn observe(
    known: &GuestFirewallSpec,
    read: &GuestFirewallRead,
    marker: &str,
) -> Found<GuestFirewallSpec> {
    let o = option_texts(&read.options);
    let flag = |k: &str| o.get(k).map(|v| v != "0");
    let spec = GuestFirewallSpec {
        node: known.node.clone(),
        vmid: known.vmid,
        guest: known.guest.clone(),
        enable: flag("enable").unwrap_or(false),
        policy_in: o.get("policy_in").cloned(),
        policy_out: o.get("policy_out").cloned(),
        ipfilter: flag("ipfilter"),
        macfilter: flag("macfilter"),
        dhcp: flag("dhcp"),
        ndp: flag("ndp"),
        radv: flag("radv"),
        log_level_in: o.get("log_level_in").cloned(),
        log_level_out: o.get("log_level_out").cloned(),
        rules: read
            .rules
            .iter()
            .map(|m| unmark_rule(rule_of(m), marker).0)
            .collect(),
    };
    Found {
        id: known.vmid.to_string(),
        spec,
        outputs: GuestFirewallOutputs {},
    }
}

/// Whether a guest firewall as read is there at all: PVE answers empty
/// options and rules for a guest that never had one.
fn exists(read: &GuestFirewallRead) -> bool {
    read.options.contains_key("enable") || !read.rules.is_empty()
}

impl ProxmoxProvider {
    /// `PUT .../options` with `enable` and the options the lab sets (with
    /// the digest read just before); the others are not the lab's and stay.
    async fn guest_options(&self, spec: &GuestFirewallSpec) -> Result<(), ProviderError> {
        let mut segs = guest_base(spec);
        segs.push("options".into());
        let p: Vec<&str> = segs.iter().map(String::as_str).collect();
        let options_path = path(&p);
        let mut form = Form::new();
        form.push_bool("enable", spec.enable);
        for key in FLAGS {
            if let Some(v) = flag_of(spec, key) {
                form.push_bool(key, v);
            }
        }
        for key in TEXTS {
            if let Some(v) = text_of(spec, key) {
                form.push_str(key, &v);
            }
        }
        let now: serde_json::Map<String, serde_json::Value> =
            self.client.get(&options_path, &[]).await.map_err(err)?;
        if let Some(d) = now.get("digest").and_then(|d| d.as_str()) {
            form.push_str("digest", d);
        }
        self.client.put(&options_path, &form).await.map_err(err)?;
        Ok(())
    }

    async fn guest_firewall_write(
        &self,
        spec: &GuestFirewallSpec,
        marker: &str,
    ) -> Result<Found<GuestFirewallSpec>, ProviderError> {
        self.guest_options(spec).await?;
        let mut base = guest_base(spec);
        base.push("rules".into());
        let marked: Vec<FirewallRule> = spec.rules.iter().map(|r| mark_rule(r, marker)).collect();
        self.write_rules(&base, &marked).await?;
        let read = self.guest_firewall_read(spec).await?.ok_or_else(|| {
            ProviderError::permanent(format!(
                "the firewall of guest {} was written but PVE does not answer for it",
                spec.vmid
            ))
        })?;
        Ok(observe(spec, &read, marker))
    }
}

#[async_trait]
impl KindProvider<GuestFirewallSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["vmid", "guest"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        firewall_diff(
            &KindProvider::<GuestFirewallSpec>::schema(self),
            desired,
            observed,
        )
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<GuestFirewallSpec>],
    ) -> Result<Vec<Option<Found<GuestFirewallSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let read = snapshot.firewall.guests.get(&r.prior.vmid)?;
                exists(read).then(|| observe(&r.prior, read, &r.owner.marker()))
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<GuestFirewallSpec>,
    ) -> Result<Found<GuestFirewallSpec>, ProviderError> {
        self.guest_firewall_write(&req.spec, &req.owner.marker())
            .await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<GuestFirewallSpec>,
    ) -> Result<Found<GuestFirewallSpec>, ProviderError> {
        self.guest_firewall_write(&req.spec, &req.owner.marker())
            .await
    }

    /// Removes the rules carrying the marker (others stay) and sets
    /// `enable` to 0.
    async fn delete(
        &self,
        _ctx: &OpContext,
        req: Delete<GuestFirewallSpec>,
    ) -> Result<(), ProviderError> {
        let marker = req.owner.marker();
        let Some(read) = self.guest_firewall_read(&req.prior).await? else {
            return Ok(());
        };
        let keep: Vec<FirewallRule> = read
            .rules
            .iter()
            .map(rule_of)
            .filter(|r| !unmark_rule(r.clone(), &marker).1)
            .collect();
        let mut base = guest_base(&req.prior);
        base.push("rules".into());
        self.write_rules(&base, &keep).await?;
        let mut off = req.prior.clone();
        off.enable = false;
        self.guest_options_enable_only(&off).await
    }

    /// The guest's firewall, when one of its rules carries `owner`'s marker.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&GuestFirewallSpec>,
    ) -> Result<Vec<Found<GuestFirewallSpec>>, ProviderError> {
        let Some(spec) = desired else {
            return Ok(vec![]);
        };
        let marker = owner.marker();
        let Some(read) = self.guest_firewall_read(spec).await? else {
            return Ok(vec![]);
        };
        let ours = read
            .rules
            .iter()
            .any(|m| unmark_rule(rule_of(m), &marker).1);
        Ok(if ours {
            vec![observe(spec, &read, &marker)]
        } else {
            vec![]
        })
    }
}

impl ProxmoxProvider {
    /// `PUT .../options {enable}` alone (delete leaves the other options).
    async fn guest_options_enable_only(
        &self,
        spec: &GuestFirewallSpec,
    ) -> Result<(), ProviderError> {
        let mut segs = guest_base(spec);
        segs.push("options".into());
        let p: Vec<&str> = segs.iter().map(String::as_str).collect();
        let mut form = Form::new();
        form.push_bool("enable", spec.enable);
        self.client.put(&path(&p), &form).await.map_err(err)?;
        Ok(())
    }
}
