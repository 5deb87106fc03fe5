//! `proxmox.firewall_ipset`: `/cluster/firewall/ipset`. Created empty
//! (`POST {name, comment}`), then one `POST` per entry; updates set the
//! comment through `rename` = the same name (PVE's way), delete the entries
//! the code no longer lists (with the digest), rewrite changed ones (`PUT`)
//! and add new ones. Entries are compared as a set sorted by `cidr`, in
//! PVE's stored form (a host without `/32`). Delete is `DELETE ...?force=1`.
//!
//! Ownership: the lab's marker ends the ipset's comment; adoption (and
//! recovery after a crash) takes an ipset of this name only when it
//! carries the marker.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverRequest};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::backup_job::{comment_with, marker_of, user_comment};
use super::firewall::{canonical_entries, firewall_diff, missing};
use super::{err, gone_ok, normalize, ProxmoxProvider, Snapshot};
use crate::api::{path, Form};
use crate::kinds::{IpSetEntry, IpSetOutputs, IpSetSpec};

fn entry_of(m: &Map<String, Json>) -> IpSetEntry {
    let text = |k: &str| normalize::text(m, k).filter(|v| !v.is_empty());
    IpSetEntry {
        cidr: text("cidr").unwrap_or_default(),
        nomatch: text("nomatch").filter(|v| v != "0").map(|_| true),
        comment: text("comment"),
    }
}

fn observe(
    name: &str,
    listed: &Map<String, Json>,
    entries: &[Map<String, Json>],
) -> Found<IpSetSpec> {
    let mut entries: Vec<IpSetEntry> = entries.iter().map(entry_of).collect();
    entries.sort_by(|a, b| a.cidr.cmp(&b.cidr));
    Found {
        id: name.to_string(),
        spec: IpSetSpec {
            name: name.to_string(),
            comment: user_comment(normalize::text(listed, "comment").filter(|c| !c.is_empty())),
            entries,
        },
        outputs: IpSetOutputs {
            name: name.to_string(),
        },
    }
}

fn entry_form(e: &IpSetEntry) -> Form {
    let mut form = Form::new();
    if e.nomatch == Some(true) {
        form.push_bool("nomatch", true);
    }
    if let Some(c) = &e.comment {
        form.push_str("comment", c);
    }
    form
}

impl ProxmoxProvider {
    /// The ipset's listing line and entries (`None`: no such ipset).
    async fn ipset_now(
        &self,
        name: &str,
    ) -> Result<Option<(Map<String, Json>, Vec<Map<String, Json>>)>, ProviderError> {
        let listed = self.listing("/cluster/firewall/ipset", "name").await?;
        let Some(line) = listed.get(name).cloned() else {
            return Ok(None);
        };
        match self
            .client
            .get::<Vec<Map<String, Json>>>(&path(&["cluster", "firewall", "ipset", name]), &[])
            .await
        {
            Ok(entries) => Ok(Some((line, entries))),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn ipset_read_back(&self, name: &str) -> Result<Found<IpSetSpec>, ProviderError> {
        let (line, entries) = self.ipset_now(name).await?.ok_or_else(|| {
            ProviderError::permanent(format!(
                "ipset `{name}` was accepted but PVE does not list it"
            ))
        })?;
        Ok(observe(name, &line, &entries))
    }

    /// Makes the entries of `name` the desired ones.
    async fn write_entries(&self, name: &str, desired: &[IpSetEntry]) -> Result<(), ProviderError> {
        let desired = canonical_entries(desired);
        let base = path(&["cluster", "firewall", "ipset", name]);
        let current: Vec<Map<String, Json>> = self.client.get(&base, &[]).await.map_err(err)?;
        let digest_of =
            |list: &[Map<String, Json>]| list.first().and_then(|m| normalize::text(m, "digest"));
        let mut digest = digest_of(&current);
        let current: Vec<IpSetEntry> = current.iter().map(entry_of).collect();
        for have in &current {
            let entry_path = path(&["cluster", "firewall", "ipset", name, &have.cidr]);
            match desired.iter().find(|d| d.cidr == have.cidr) {
                Some(want) if want == have => continue,
                Some(want) => {
                    let mut form = entry_form(want);
                    if let Some(d) = &digest {
                        form.push_str("digest", d);
                    }
                    self.client.put(&entry_path, &form).await.map_err(err)?;
                }
                None => {
                    let query: Vec<(&str, String)> =
                        digest.iter().map(|d| ("digest", d.clone())).collect();
                    self.client.delete(&entry_path, &query).await.map_err(err)?;
                }
            }
            let now: Vec<Map<String, Json>> = self.client.get(&base, &[]).await.map_err(err)?;
            digest = digest_of(&now);
        }
        for want in desired
            .iter()
            .filter(|d| !current.iter().any(|c| c.cidr == d.cidr))
        {
            let mut form = entry_form(want);
            form.push_str("cidr", &want.cidr);
            self.client.post(&base, &form).await.map_err(err)?;
        }
        Ok(())
    }
}

#[async_trait]
impl KindProvider<IpSetSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["name"], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        firewall_diff(&KindProvider::<IpSetSpec>::schema(self), desired, observed)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<IpSetSpec>],
    ) -> Result<Vec<Option<Found<IpSetSpec>>>, ProviderError> {
        let fw = &snapshot.firewall;
        Ok(requests
            .iter()
            .map(|r| {
                let line = fw.ipsets.get(&r.id)?;
                let entries = fw.ipset_entries.get(&r.id)?;
                Some(observe(&r.id, line, entries))
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<IpSetSpec>,
    ) -> Result<Found<IpSetSpec>, ProviderError> {
        let spec = &req.spec;
        let mut form = Form::new();
        form.push_str("name", &spec.name);
        form.push_str(
            "comment",
            &comment_with(spec.comment.as_deref(), &req.owner.marker()),
        );
        self.client
            .post("/cluster/firewall/ipset", &form)
            .await
            .map_err(err)?;
        self.write_entries(&spec.name, &spec.entries).await?;
        self.ipset_read_back(&spec.name).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<IpSetSpec>,
    ) -> Result<Found<IpSetSpec>, ProviderError> {
        let spec = &req.spec;
        if req.changes.iter().any(|c| c.field == "comment") {
            let mut form = Form::new();
            form.push_str("name", &req.id);
            form.push_str("rename", &req.id);
            form.push_str(
                "comment",
                &comment_with(spec.comment.as_deref(), &req.owner.marker()),
            );
            self.client
                .post("/cluster/firewall/ipset", &form)
                .await
                .map_err(err)?;
        }
        self.write_entries(&req.id, &spec.entries).await?;
        self.ipset_read_back(&req.id).await
    }

    async fn delete(&self, _ctx: &OpContext, req: Delete<IpSetSpec>) -> Result<(), ProviderError> {
        match self
            .client
            .delete(
                &path(&["cluster", "firewall", "ipset", &req.id]),
                &[("force", "1".to_string())],
            )
            .await
        {
            Err(e) if missing(&e) => Ok(()),
            other => gone_ok(other).map(|_| ()),
        }
    }

    /// The ipset of this name, if its comment ends with `owner`'s marker.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&IpSetSpec>,
    ) -> Result<Vec<Found<IpSetSpec>>, ProviderError> {
        let name = desired.map_or(owner.address.name(), |d| d.name.as_str());
        let Some((line, entries)) = self.ipset_now(name).await? else {
            return Ok(vec![]);
        };
        let raw = normalize::text(&line, "comment");
        if marker_of(raw.as_deref()) != Some(owner.marker().as_str()) {
            return Ok(vec![]);
        }
        Ok(vec![observe(name, &line, &entries)])
    }

    /// After a crash during a create: an ipset carrying this lab's marker
    /// is adopted (the next plan completes its entries); one without it is
    /// not this lab's, and the create fails with PVE's `IPSet '<name>'
    /// already exists`.
    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&IpSetSpec>,
    ) -> Result<Recovery<IpSetSpec>, ProviderError> {
        if req.action != OpKind::Create {
            return Ok(Recovery::default());
        }
        let found = KindProvider::<IpSetSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(super::recover::marker_less(req, found))
    }
}
