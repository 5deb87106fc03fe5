//! `proxmox.file`: `download-url` onto a storage; immutable, so a file
//! whose volume is listed is as declared.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read};
use lab_core::provider::{FieldChange, KindSchema, Limit, OpContext, OpKind, Ownership};
use lab_core::{Address, Attrs, ProviderError};

use super::{diff, gone_ok, ProxmoxProvider, Snapshot};
use crate::api::{path, Form};
use crate::kinds::{FileOutputs, FileSpec};

/// A downloaded file is immutable: if its volume exists, it is as declared.
fn observe(spec: &FileSpec, volid: &str) -> Found<FileSpec> {
    Found {
        id: volid.to_string(),
        spec: spec.clone(),
        outputs: FileOutputs {
            volid: volid.to_string(),
        },
    }
}

#[async_trait]
impl KindProvider<FileSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(
            vec![
                "node",
                "storage",
                "content",
                "filename",
                "url",
                "checksum",
                "checksum_algorithm",
            ],
            vec![],
            [120, 1, 2],
        )
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        diff::diff(&KindProvider::<FileSpec>::schema(self), desired, observed)
    }

    fn limits(&self, op: OpKind, _address: &Address, spec: &FileSpec) -> Vec<Limit> {
        super::limits(self.options.calls_per_node, op, &spec.node, None)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<FileSpec>],
    ) -> Result<Vec<Option<Found<FileSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let key = (r.prior.node.clone(), r.prior.storage.clone());
                snapshot
                    .contents
                    .get(&key)
                    .filter(|v| v.contains(&r.id))
                    .map(|_| observe(&r.prior, &r.id))
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<FileSpec>,
    ) -> Result<Found<FileSpec>, ProviderError> {
        let spec = &req.spec;
        let mut form = Form::new();
        form.push_str("content", &spec.content);
        form.push_str("filename", &spec.filename);
        form.push_str("url", &spec.url);
        if let Some(c) = &spec.checksum {
            form.push_str("checksum", c);
        }
        if let Some(c) = &spec.checksum_algorithm {
            form.push_str("checksum-algorithm", c);
        }
        self.post_wait(
            &path(&[
                "nodes",
                &spec.node,
                "storage",
                &spec.storage,
                "download-url",
            ]),
            &form,
            ctx,
        )
        .await?;
        Ok(observe(spec, &spec.volid()))
    }

    async fn delete(&self, ctx: &OpContext, req: Delete<FileSpec>) -> Result<(), ProviderError> {
        let (node, storage) = (&req.prior.node, &req.prior.storage);
        let p = path(&["nodes", node, "storage", storage, "content", &req.id]);
        match gone_ok(self.client.delete(&p, &[]).await)? {
            Some(data) => self.wait_if_task(&data, ctx).await,
            None => Ok(()),
        }
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&FileSpec>,
    ) -> Result<Vec<Found<FileSpec>>, ProviderError> {
        let Some(spec) = desired else {
            return Ok(vec![]);
        };
        let volid = spec.volid();
        let volids = self.volids(&spec.node, &spec.storage).await?;
        Ok(volids
            .contains(&volid)
            .then(|| observe(spec, &volid))
            .into_iter()
            .collect())
    }
}
