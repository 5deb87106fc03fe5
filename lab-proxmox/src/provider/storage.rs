//! `proxmox.storage` (NFS and PBS): `POST /storage`, content, nodes and
//! (PBS) namespace, port, token, fingerprint and retention updated in place
//! with `PUT` and a `delete=` list, read back from the `/storage` listing.
//!
//! PVE never returns a PBS storage's `password` (the token secret) or
//! `encryption-key` (`sensitive-properties`): the read keeps the recorded
//! ones, so they never show as drift, and a secret changed in the code is
//! an update that sends it again. PVE contacts the PBS when a `pbs`
//! storage is created (a wrong token, fingerprint or datastore refuses the
//! create with PBSPlugin's words), so the error surfaces at apply.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext, Ownership};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::{diff, err, gone_ok, normalize, ProxmoxProvider, Snapshot};
use crate::api::{path, ErrorKind, Form};
use crate::kinds::{Retention, StorageOutputs, StorageSpec};

/// A comma-separated list as its items.
fn items(raw: Option<String>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// A storage as `/storage` describes it; `prior` gives what the listing
/// cannot (the NAS pool and appliance of the lab's model), and the fields
/// it leaves out.
pub(super) fn observe(
    m: &Map<String, Json>,
    prior: Option<&StorageSpec>,
    id: &str,
) -> Found<StorageSpec> {
    let listed = |key: &str, recorded: Option<&String>| {
        normalize::text(m, key)
            .or_else(|| recorded.cloned())
            .unwrap_or_default()
    };
    let mut content = items(normalize::text(m, "content"));
    content.sort();
    let nodes = items(normalize::text(m, "nodes"));
    let declared_nodes = prior.is_some_and(|p| p.nodes.is_some());
    Found {
        id: id.to_string(),
        spec: StorageSpec {
            storage: id.to_string(),
            r#type: listed("type", prior.map(|p| &p.r#type)),
            server: listed("server", prior.map(|p| &p.server)),
            export: normalize::text(m, "export").or_else(|| prior.and_then(|p| p.export.clone())),
            content,
            options: normalize::text(m, "options"),
            nodes: (!nodes.is_empty() || declared_nodes).then_some(nodes),
            datastore: normalize::text(m, "datastore"),
            namespace: normalize::text(m, "namespace").filter(|n| !n.is_empty()),
            port: normalize::text(m, "port").and_then(|p| p.trim().parse().ok()),
            username: normalize::text(m, "username"),
            // Never returned by PVE: what was recorded.
            password: prior.and_then(|p| p.password.clone()),
            fingerprint: normalize::text(m, "fingerprint"),
            encryption_key: prior.and_then(|p| p.encryption_key.clone()),
            prune_backups: normalize::text(m, "prune-backups")
                .and_then(|t| Retention::parse(&t).ok()),
            pool: prior.and_then(|p| p.pool.clone()),
            appliance: prior.and_then(|p| p.appliance.clone()),
            pbs_datastore: prior.and_then(|p| p.pbs_datastore.clone()),
        },
        outputs: StorageOutputs {
            storage: id.to_string(),
        },
    }
}

/// The fields a storage changes in place besides content and nodes: a
/// PBS storage's namespace, port, token and fingerprint, and the retention
/// of both types; those absent go into `delete` (for `PUT`).
fn in_place_fields(spec: &StorageSpec, form: &mut Form, delete: &mut Vec<&'static str>) {
    if spec.is_pbs() {
        let texts: [(&'static str, Option<&String>); 3] = [
            ("namespace", spec.namespace.as_ref()),
            ("username", spec.username.as_ref()),
            ("fingerprint", spec.fingerprint.as_ref()),
        ];
        for (key, value) in texts {
            match value {
                Some(v) => form.push_str(key, v),
                None => delete.push(key),
            }
        }
        match spec.port {
            Some(p) => form.push_int("port", p),
            None => delete.push("port"),
        }
        match &spec.password {
            Some(pw) => form.push_secret("password", pw),
            None => delete.push("password"),
        }
    }
    match &spec.prune_backups {
        Some(r) => form.push_str("prune-backups", &r.to_property_string()),
        None => delete.push("prune-backups"),
    }
}

impl ProxmoxProvider {
    async fn storage_config(&self, id: &str) -> Result<Map<String, Json>, ProviderError> {
        self.client
            .get(&path(&["storage", id]), &[])
            .await
            .map_err(err)
    }
}

#[async_trait]
impl KindProvider<StorageSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(
            vec!["storage", "type", "server", "export", "datastore"],
            vec!["pool", "appliance", "pbs_datastore"],
            [5, 2, 2],
        )
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        diff::diff(
            &KindProvider::<StorageSpec>::schema(self),
            desired,
            observed,
        )
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<StorageSpec>],
    ) -> Result<Vec<Option<Found<StorageSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                snapshot
                    .storages
                    .get(&r.id)
                    .map(|m| observe(m, Some(&r.prior), &r.id))
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<StorageSpec>,
    ) -> Result<Found<StorageSpec>, ProviderError> {
        let spec = &req.spec;
        let mut form = Form::new();
        form.push_str("storage", &spec.storage);
        form.push_str("type", &spec.r#type);
        form.push_str("server", &spec.server);
        if let Some(e) = &spec.export {
            form.push_str("export", e);
        }
        if let Some(d) = &spec.datastore {
            form.push_str("datastore", d);
        }
        if let Some(o) = &spec.options {
            form.push_str("options", o);
        }
        form.push_str("content", &spec.content.join(","));
        if let Some(nodes) = spec.nodes.as_ref().filter(|n| !n.is_empty()) {
            form.push_str("nodes", &nodes.join(","));
        }
        if let Some(k) = &spec.encryption_key {
            form.push_secret("encryption-key", k);
        }
        in_place_fields(spec, &mut form, &mut Vec::new());
        self.client.post("/storage", &form).await.map_err(err)?;
        let m = self.storage_config(&spec.storage).await?;
        Ok(observe(&m, Some(spec), &spec.storage))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<StorageSpec>,
    ) -> Result<Found<StorageSpec>, ProviderError> {
        let spec = &req.spec;
        let mut form = Form::new();
        form.push_str("content", &spec.content.join(","));
        let mut delete = Vec::new();
        match &spec.options {
            Some(o) => form.push_str("options", o),
            None => delete.push("options"),
        }
        match spec.nodes.as_ref().filter(|n| !n.is_empty()) {
            Some(nodes) => form.push_str("nodes", &nodes.join(",")),
            None => delete.push("nodes"),
        }
        in_place_fields(spec, &mut form, &mut delete);
        if spec.is_pbs() {
            // `options` is NFS's.
            delete.retain(|k| *k != "options");
            if let Some(k) = &spec.encryption_key {
                let prior = req.prior.encryption_key.as_ref();
                if prior.is_none_or(|p| p.expose() != k.expose()) {
                    form.push_secret("encryption-key", k);
                }
            }
        }
        if !delete.is_empty() {
            form.push_str("delete", &delete.join(","));
        }
        self.client
            .put(&path(&["storage", &req.id]), &form)
            .await
            .map_err(err)?;
        let m = self.storage_config(&req.id).await?;
        Ok(observe(&m, Some(spec), &req.id))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        req: Delete<StorageSpec>,
    ) -> Result<(), ProviderError> {
        gone_ok(self.client.delete(&path(&["storage", &req.id]), &[]).await).map(|_| ())
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&StorageSpec>,
    ) -> Result<Vec<Found<StorageSpec>>, ProviderError> {
        let id = desired.map_or(owner.address.name(), |d| d.storage.as_str());
        match self
            .client
            .get::<Map<String, Json>>(&path(&["storage", id]), &[])
            .await
        {
            Ok(m) => Ok(vec![observe(&m, desired, id)]),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(err(e)),
        }
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        req: &lab_core::provider::RecoverRequest,
        desired: Option<&StorageSpec>,
    ) -> Result<lab_core::kind::Recovery<StorageSpec>, ProviderError> {
        if req.action != lab_core::provider::OpKind::Create
            || req.cause == lab_core::provider::RecoverCause::StateBehind
        {
            return Ok(lab_core::kind::Recovery::default());
        }
        let found = KindProvider::<StorageSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(super::recover::marker_less(req, found))
    }
}
