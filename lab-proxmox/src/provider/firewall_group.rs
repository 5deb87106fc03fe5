//! `proxmox.firewall_group`: `/cluster/firewall/groups`. Created empty
//! (`POST {group, comment}`), then its rules written in order
//! ([`super::firewall`]'s `write_rules`); updates set the comment through
//! `rename` = the same name and rewrite the rules that differ. Rules are
//! compared as an ordered list, so a rule edited, removed, added or moved
//! by hand is drift. Delete removes the rules, then the group (PVE refuses
//! to delete a group that still has rules).
//!
//! Ownership: the lab's marker ends the group's comment; adoption and
//! crash recovery take a group of this name only with the marker.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverRequest};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::backup_job::{comment_with, marker_of, user_comment};
use super::firewall::{firewall_diff, missing, rule_of};
use super::{err, gone_ok, normalize, ProxmoxProvider, Snapshot};
use crate::api::{path, Form};
use crate::kinds::{SecurityGroupOutputs, SecurityGroupSpec};

fn observe(
    group: &str,
    listed: &Map<String, Json>,
    rules: &[Map<String, Json>],
) -> Found<SecurityGroupSpec> {
    Found {
        id: group.to_string(),
        spec: SecurityGroupSpec {
            group: group.to_string(),
            comment: user_comment(normalize::text(listed, "comment").filter(|c| !c.is_empty())),
            rules: rules.iter().map(rule_of).collect(),
        },
        outputs: SecurityGroupOutputs {
            group: group.to_string(),
        },
    }
}

fn base(group: &str) -> Vec<String> {
    vec![
        "cluster".into(),
        "firewall".into(),
        "groups".into(),
        group.into(),
    ]
}

impl ProxmoxProvider {
    async fn group_now(
        &self,
        group: &str,
    ) -> Result<Option<(Map<String, Json>, Vec<Map<String, Json>>)>, ProviderError> {
        let listed = self.listing("/cluster/firewall/groups", "group").await?;
        let Some(line) = listed.get(group).cloned() else {
            return Ok(None);
        };
        match self
            .client
            .get::<Vec<Map<String, Json>>>(&path(&["cluster", "firewall", "groups", group]), &[])
            .await
        {
            Ok(rules) => Ok(Some((line, rules))),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn group_read_back(
        &self,
        group: &str,
    ) -> Result<Found<SecurityGroupSpec>, ProviderError> {
        let (line, rules) = self.group_now(group).await?.ok_or_else(|| {
            ProviderError::permanent(format!(
                "security group `{group}` was accepted but PVE does not list it"
            ))
        })?;
        Ok(observe(group, &line, &rules))
    }
}

#[async_trait]
impl KindProvider<SecurityGroupSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["group"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        firewall_diff(
            &KindProvider::<SecurityGroupSpec>::schema(self),
            desired,
            observed,
        )
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<SecurityGroupSpec>],
    ) -> Result<Vec<Option<Found<SecurityGroupSpec>>>, ProviderError> {
        let fw = &snapshot.firewall;
        Ok(requests
            .iter()
            .map(|r| {
                let line = fw.groups.get(&r.id)?;
                let rules = fw.group_rules.get(&r.id)?;
                Some(observe(&r.id, line, rules))
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<SecurityGroupSpec>,
    ) -> Result<Found<SecurityGroupSpec>, ProviderError> {
        let spec = &req.spec;
        let mut form = Form::new();
        form.push_str("group", &spec.group);
        form.push_str(
            "comment",
            &comment_with(spec.comment.as_deref(), &req.owner.marker()),
        );
        self.client
            .post("/cluster/firewall/groups", &form)
            .await
            .map_err(err)?;
        self.write_rules(&base(&spec.group), &spec.rules).await?;
        self.group_read_back(&spec.group).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<SecurityGroupSpec>,
    ) -> Result<Found<SecurityGroupSpec>, ProviderError> {
        let spec = &req.spec;
        if req.changes.iter().any(|c| c.field == "comment") {
            let mut form = Form::new();
            form.push_str("group", &req.id);
            form.push_str("rename", &req.id);
            form.push_str(
                "comment",
                &comment_with(spec.comment.as_deref(), &req.owner.marker()),
            );
            self.client
                .post("/cluster/firewall/groups", &form)
                .await
                .map_err(err)?;
        }
        self.write_rules(&base(&req.id), &spec.rules).await?;
        self.group_read_back(&req.id).await
    }

    /// Empties the group, then deletes it. Guests still attaching it keep
    /// a rule naming a missing group (PVE allows that and skips it).
    async fn delete(
        &self,
        _ctx: &OpContext,
        req: Delete<SecurityGroupSpec>,
    ) -> Result<(), ProviderError> {
        if self.group_now(&req.id).await?.is_none() {
            return Ok(());
        }
        self.write_rules(&base(&req.id), &[]).await?;
        match self
            .client
            .delete(&path(&["cluster", "firewall", "groups", &req.id]), &[])
            .await
        {
            Err(e) if missing(&e) => Ok(()),
            other => gone_ok(other).map(|_| ()),
        }
    }

    /// The group of this name, if its comment ends with `owner`'s marker.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&SecurityGroupSpec>,
    ) -> Result<Vec<Found<SecurityGroupSpec>>, ProviderError> {
        let group = desired.map_or(owner.address.name(), |d| d.group.as_str());
        let Some((line, rules)) = self.group_now(group).await? else {
            return Ok(vec![]);
        };
        let raw = normalize::text(&line, "comment");
        if marker_of(raw.as_deref()) != Some(owner.marker().as_str()) {
            return Ok(vec![]);
        }
        Ok(vec![observe(group, &line, &rules)])
    }

    /// After a crash during a create: a group carrying this lab's marker
    /// is adopted, whatever rules it got before the crash (the next plan
    /// shows the missing ones as an update); one without the marker is not
    /// this lab's, and the create fails with PVE's `Security group '<name>'
    /// already exists`.
    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&SecurityGroupSpec>,
    ) -> Result<Recovery<SecurityGroupSpec>, ProviderError> {
        if req.action != OpKind::Create {
            return Ok(Recovery::default());
        }
        let found =
            KindProvider::<SecurityGroupSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(super::recover::marker_less(req, found))
    }
}
