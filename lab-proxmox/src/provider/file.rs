//! `proxmox.file`: `download-url` onto a storage, or `oci-registry-pull`
//! of an OCI image (PVE 9.1); immutable, so a file whose volume is listed
//! is as declared.
//!
//! An OCI image is pulled by `skopeo` into `<name>.tar.tmp.<pid>` and
//! renamed when complete, so a listed image is whole too. PVE refuses a
//! pull onto an existing file before it starts a task (`refusing to
//! override existing file '<name>.tar'`); its name comes from the
//! reference's repository and tag, so such a file is taken as the image
//! (there is no checksum to compare).
//!
//! A download is claimed (`volid`, then the task's UPID) before it is
//! sent. PVE writes the file under a temporary name and renames it when
//! the download (and its checksum) is complete, so a listed file is whole;
//! but it may not be the one the lab asked for. A file found at the volume
//! id, after an interrupted download or when a create meets one, is
//! checked: its size against the URL's (`query-url-metadata`) and, with a
//! checksum, by PVE itself (`download-url` with the checksum on an
//! existing file answers "got correct file already" or a mismatch). A
//! match is adopted; a mismatch that an interrupted download of this lab
//! left is deleted and downloaded again, and one the lab did not make is
//! reported for the user to remove.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery};
use lab_core::provider::{
    Claim, FieldChange, KindSchema, Limit, OpContext, OpKind, Ownership, RecoverCause,
    RecoverRequest,
};
use lab_core::{Address, Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::{diff, err, normalize, ProxmoxProvider, Snapshot};
use crate::api::{path, Form};
use crate::kinds::{FileOutputs, FileSpec};

/// How a file found at the declared volume id compares with the URL.
enum Verdict {
    /// Same size (and checksum, when one is declared): it is the file.
    Same,
    /// Not the file: why.
    Different(String),
}

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
                "reference",
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
        super::limits(&self.options, op, &spec.node, None, None)
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
        let volid = spec.volid();
        ctx.claim(
            Claim::new()
                .with("node", spec.node.as_str())
                .with("volid", volid.as_str()),
        )?;
        if let Some(reference) = &spec.reference {
            return match self.pull(spec, reference, ctx).await {
                Ok(()) => Ok(observe(spec, &volid)),
                // The file is there (pulled by hand, or by a pull the lab
                // has no record of): its name is the image's tag.
                Err(e) if e.message.contains("refusing to override existing file") => {
                    Ok(observe(spec, &volid))
                }
                Err(e) => Err(e),
            };
        }
        match self.download(spec, ctx, true).await {
            Ok(()) => Ok(observe(spec, &volid)),
            Err(e) if e.message.contains("refusing to override existing file") => {
                // A file is already there (made by hand, or by a download
                // the lab has no record of): adopt it only if it is the one
                // the URL serves; never delete what the lab did not make.
                match self.verify(spec).await? {
                    Verdict::Same => Ok(observe(spec, &volid)),
                    Verdict::Different(why) => Err(ProviderError::permanent(format!(
                        "{volid} already exists on {} and is not the file at {} ({why}); \
                         remove it (or choose another `filename`) and apply again",
                        spec.node,
                        spec.url.as_deref().unwrap_or_default()
                    ))),
                }
            }
            Err(e) if e.message.contains("checksum mismatch") && e.message.contains("aborting") => {
                Err(ProviderError::permanent(format!(
                    "{volid} already exists on {} with another checksum than the one declared \
                     ({}); remove it (or choose another `filename`) and apply again",
                    spec.node, e.message
                )))
            }
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, ctx: &OpContext, req: Delete<FileSpec>) -> Result<(), ProviderError> {
        let (node, storage) = (&req.prior.node, &req.prior.storage);
        let p = path(&["nodes", node, "storage", storage, "content", &req.id]);
        self.delete_volume(&p, ctx).await
    }

    async fn recover(
        &self,
        _ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&FileSpec>,
    ) -> Result<Recovery<FileSpec>, ProviderError> {
        // A file carries no marker: adopted after this lab's interrupted
        // download only, never because the state is behind.
        let (OpKind::Create, RecoverCause::Interrupted | RecoverCause::Failed, Some(spec)) =
            (req.action, req.cause, desired)
        else {
            return Ok(Recovery::default());
        };
        let mut notes = Vec::new();
        // The claimed task; or, when lab died between the call and the
        // claim of its UPID, a `download` task still running on the node
        // for this file (PVE's worker id is the file name).
        let upid = match req.claim.text("upid") {
            Some(upid) => Some(upid.to_string()),
            None => self.running_download(spec).await?,
        };
        if let Some(upid) = upid {
            if let Some(exit) = self.settle_upid(&upid, &mut notes).await? {
                if exit != "OK" && !exit.starts_with("WARNINGS") {
                    notes.push(format!("the download task ended with: {exit}"));
                }
            }
        }
        let volid = spec.volid();
        if !self
            .volids(&spec.node, &spec.storage)
            .await?
            .contains(&volid)
        {
            return Ok(Recovery {
                notes,
                ..Recovery::default()
            });
        }
        match self.verify(spec).await? {
            Verdict::Same => Ok(Recovery {
                found: vec![observe(spec, &volid)],
                notes,
                ..Recovery::default()
            }),
            Verdict::Different(why) => {
                // This lab's download left it (the claim names it): replace.
                let p = path(&[
                    "nodes",
                    &spec.node,
                    "storage",
                    &spec.storage,
                    "content",
                    &volid,
                ]);
                self.delete_volume(&p, &OpContext::detached()).await?;
                notes.push(format!(
                    "removed {volid}, which the interrupted download left and which is not the \
                     file at the URL ({why}); it is downloaded again"
                ));
                Ok(Recovery {
                    notes,
                    ..Recovery::default()
                })
            }
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

impl ProxmoxProvider {
    /// The UPID of a `download` (or `ociregistrypull`) task still running
    /// on the file's node for its file name, if any.
    async fn running_download(&self, spec: &FileSpec) -> Result<Option<String>, ProviderError> {
        let wtype = if spec.reference.is_some() {
            "ociregistrypull"
        } else {
            "download"
        };
        let active: Vec<Map<String, Json>> = self
            .client
            .get(
                &path(&["nodes", &spec.node, "tasks"]),
                &[("source", "active".to_string())],
            )
            .await
            .map_err(err)?;
        Ok(active
            .iter()
            .filter(|t| {
                normalize::text(t, "type").as_deref() == Some(wtype)
                    && normalize::text(t, "id").as_deref() == Some(spec.filename.as_str())
            })
            .find_map(|t| normalize::text(t, "upid")))
    }

    /// `oci-registry-pull` of `reference`, claiming its task. The file
    /// name is sent without the `.tar` PVE appends.
    async fn pull(
        &self,
        spec: &FileSpec,
        reference: &str,
        ctx: &OpContext,
    ) -> Result<(), ProviderError> {
        let mut form = Form::new();
        form.push_str("reference", reference);
        let stem = spec.filename.strip_suffix(".tar").unwrap_or(&spec.filename);
        form.push_str("filename", stem);
        let p = path(&[
            "nodes",
            &spec.node,
            "storage",
            &spec.storage,
            "oci-registry-pull",
        ]);
        self.post_claim_wait(&p, &form, ctx).await
    }

    /// `download-url` of `spec`, claiming its task. With `claim` false the
    /// task is not journaled (a re-check of an existing file).
    async fn download(
        &self,
        spec: &FileSpec,
        ctx: &OpContext,
        claim: bool,
    ) -> Result<(), ProviderError> {
        let url = spec.url.as_deref().ok_or_else(|| {
            ProviderError::permanent(format!(
                "{} has neither a `url` nor an OCI `reference`: nothing to download",
                spec.volid()
            ))
        })?;
        let mut form = Form::new();
        form.push_str("content", &spec.content);
        form.push_str("filename", &spec.filename);
        form.push_str("url", url);
        if let Some(c) = &spec.checksum {
            form.push_str("checksum", c);
        }
        if let Some(c) = &spec.checksum_algorithm {
            form.push_str("checksum-algorithm", c);
        }
        let p = path(&[
            "nodes",
            &spec.node,
            "storage",
            &spec.storage,
            "download-url",
        ]);
        if claim {
            self.post_claim_wait(&p, &form, ctx).await
        } else {
            self.post_wait(&p, &form, ctx).await
        }
    }

    /// Whether the file at `spec`'s volume id is the one its URL serves (an
    /// OCI image's, named after its tag, is taken as it is).
    async fn verify(&self, spec: &FileSpec) -> Result<Verdict, ProviderError> {
        let Some(url) = spec.url.clone() else {
            return Ok(Verdict::Same);
        };
        let volid = spec.volid();
        let listing: Vec<Map<String, Json>> = self
            .client
            .get(
                &path(&["nodes", &spec.node, "storage", &spec.storage, "content"]),
                &[],
            )
            .await
            .map_err(err)?;
        let have = listing
            .iter()
            .find(|m| normalize::text(m, "volid").as_deref() == Some(volid.as_str()))
            .and_then(|m| m.get("size").and_then(Json::as_u64));
        // The URL's size, when the server says it (older nodes, or a
        // server without Content-Length, do not).
        let want = match self
            .client
            .get::<Map<String, Json>>(
                &path(&["nodes", &spec.node, "query-url-metadata"]),
                &[("url", url.clone())],
            )
            .await
        {
            Ok(m) => m.get("size").and_then(Json::as_u64),
            Err(e) if e.is_transient() => return Err(err(e)),
            Err(_) => None,
        };
        if let (Some(have), Some(want)) = (have, want) {
            if have != want {
                return Ok(Verdict::Different(format!(
                    "{have} bytes, the URL serves {want}"
                )));
            }
        }
        if spec.checksum.is_some() {
            // PVE checks an existing file against the checksum itself.
            return Ok(
                match self.download(spec, &OpContext::detached(), false).await {
                    Ok(()) => Verdict::Same,
                    Err(e) if e.message.contains("checksum mismatch") => {
                        Verdict::Different("its checksum differs from the declared one".into())
                    }
                    Err(e) => return Err(e),
                },
            );
        }
        Ok(Verdict::Same)
    }
}
