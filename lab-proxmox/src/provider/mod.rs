//! The Proxmox VE provider: lab-core's [`Provider`] over the [`crate::api`]
//! client.
//!
//! How it answers the pain points of the peers (shared/notes/proxmox-peers.md):
//! - **Refresh in bulk.** One `GET /cluster/resources` lists every guest
//!   with its node, name, tags, memory, CPUs and status. A guest whose cheap
//!   fields still match the state is taken as recorded; only a guest that
//!   changed has its config read. Storages (`GET /storage`), pools
//!   (`GET /pools`) and files (one content listing per node and storage) are
//!   read only when the lab has some.
//! - **No re-creation from readback noise.** Configs are normalised back to
//!   the lab's shapes ([`normalize`]) and compared only on what the lab
//!   declares ([`diff`]); the MAC moves to outputs, disk sizes are parsed.
//! - **No `can't lock file` failures.** Clones from one template are
//!   serialised by an operation-scoped limit, calls per node are capped at
//!   3 (pvedaemon's workers), and lock errors are transient, so the engine
//!   retries them with backoff.
//! - **Tasks awaited correctly**, holding no engine slot while waiting.
//! - **VMIDs from the lab's state**: given in code, or allocated here from a
//!   range, checked with `nextid?vmid=` and recorded as the resource's id;
//!   never `/cluster/nextid` alone.
//! - **Adoption.** Every guest carries the ownership tag and a notes line;
//!   after a crash the next run finds it by them instead of creating a twin.

mod diff;
mod normalize;
mod request;

use std::collections::{BTreeSet, HashMap};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lab_core::provider::{
    CreateRequest, DeleteRequest, Estimates, FieldChange, KindSchema, Limit, Observed, OpContext,
    OpInfo, OpKind, Ownership, Provider, ProviderError, ReadRequest, UpdateRequest,
};
use lab_core::{Attrs, Check, Value};
use serde_json::{Map, Value as Json};

use crate::api::{path, ApiError, Client, ClusterResource, ErrorKind, Form};
use crate::kinds;
use request::{b, i, map, maps, s, strings};

/// Tunables of the provider.
#[derive(Clone, Debug)]
pub struct ProxmoxOptions {
    /// Concurrent API calls per node (pvedaemon runs 3 workers).
    pub calls_per_node: usize,
    /// Where VMIDs are allocated for guests that do not declare one.
    pub vmid_range: RangeInclusive<i64>,
}

impl Default for ProxmoxOptions {
    fn default() -> Self {
        ProxmoxOptions {
            calls_per_node: 3,
            vmid_range: 1000..=99_999,
        }
    }
}

/// The Proxmox VE provider. Register it with `lab.register_provider(..)`.
pub struct ProxmoxProvider {
    client: Client,
    options: ProxmoxOptions,
    /// VMIDs handed out by this process and not yet visible in the cluster.
    reserved: Mutex<BTreeSet<i64>>,
}

impl ProxmoxProvider {
    /// A provider talking through `client`.
    pub fn new(client: Client, options: ProxmoxOptions) -> Self {
        ProxmoxProvider {
            client,
            options,
            reserved: Mutex::new(BTreeSet::new()),
        }
    }

    /// The provider as the engine takes it.
    pub fn shared(self) -> Arc<dyn Provider> {
        Arc::new(self)
    }

    /// The API client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn err(e: ApiError) -> ProviderError {
    e.into()
}

fn guest_path(kind: &str, node: &str, vmid: i64) -> String {
    let t = if kind == kinds::CT { "lxc" } else { "qemu" };
    path(&["nodes", node, t, &vmid.to_string()])
}

fn is_guest(kind: &str) -> bool {
    kind == kinds::VM || kind == kinds::CT || kind == kinds::TEMPLATE
}

fn parse_vmid(id: &str) -> Result<i64, ProviderError> {
    id.parse()
        .map_err(|_| ProviderError::permanent(format!("`{id}` is not a VMID")))
}

/// A UPID returned by a call, if the call was asynchronous.
fn upid(data: &Json) -> Option<&str> {
    data.as_str().filter(|s| s.starts_with("UPID:"))
}

impl ProxmoxProvider {
    async fn wait_if_task(&self, data: &Json, ctx: &OpContext) -> Result<(), ProviderError> {
        if let Some(u) = upid(data) {
            self.client.wait_task(u, ctx).await.map_err(err)?;
        }
        Ok(())
    }

    async fn post_wait(&self, p: &str, form: &Form, ctx: &OpContext) -> Result<(), ProviderError> {
        let data = self.client.post(p, form).await.map_err(err)?;
        self.wait_if_task(&data, ctx).await
    }

    async fn put_wait(&self, p: &str, form: &Form, ctx: &OpContext) -> Result<(), ProviderError> {
        let data = self.client.put(p, form).await.map_err(err)?;
        self.wait_if_task(&data, ctx).await
    }

    async fn resources(&self) -> Result<Vec<ClusterResource>, ProviderError> {
        self.client
            .get("/cluster/resources", &[("type", "vm".to_string())])
            .await
            .map_err(err)
    }

    /// The config a guest runs with now (`current=1`: without pending
    /// values, which a running guest only takes at its next boot).
    async fn config(
        &self,
        kind: &str,
        node: &str,
        vmid: i64,
    ) -> Result<Map<String, Json>, ApiError> {
        self.client
            .get(
                &format!("{}/config", guest_path(kind, node, vmid)),
                &[("current", "1".to_string())],
            )
            .await
    }

    /// Keys changed on a running guest that wait for its next boot.
    async fn pending_keys(
        &self,
        kind: &str,
        node: &str,
        vmid: i64,
    ) -> Result<Vec<String>, ProviderError> {
        let items: Vec<Map<String, Json>> = self
            .client
            .get(&format!("{}/pending", guest_path(kind, node, vmid)), &[])
            .await
            .map_err(err)?;
        Ok(items
            .iter()
            .filter(|i| i.contains_key("pending") || i.contains_key("delete"))
            .filter_map(|i| normalize::text(i, "key"))
            .collect())
    }

    /// Picks a free VMID: not in the cluster, not handed out by this
    /// process, and confirmed free by `nextid?vmid=`.
    async fn allocate_vmid(&self) -> Result<i64, ProviderError> {
        let used: BTreeSet<i64> = self
            .resources()
            .await?
            .iter()
            .filter_map(|r| r.vmid.map(|v| v as i64))
            .collect();
        loop {
            let candidate = {
                let mut reserved = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
                let found = self
                    .options
                    .vmid_range
                    .clone()
                    .find(|v| !used.contains(v) && !reserved.contains(v));
                let Some(v) = found else {
                    return Err(ProviderError::permanent(format!(
                        "no free VMID left in {:?}",
                        self.options.vmid_range
                    )));
                };
                reserved.insert(v);
                v
            };
            match self
                .client
                .get::<Json>("/cluster/nextid", &[("vmid", candidate.to_string())])
                .await
            {
                Ok(_) => return Ok(candidate),
                // Taken meanwhile (400 "VM N already exists"): keep it reserved, try the next.
                Err(e) if matches!(e.kind, ErrorKind::BadParam | ErrorKind::AlreadyExists) => {
                    continue
                }
                Err(e) => {
                    self.release(candidate);
                    return Err(err(e));
                }
            }
        }
    }

    fn release(&self, vmid: i64) {
        self.reserved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&vmid);
    }

    /// Reads one guest back into attributes (config + status).
    async fn observe_guest(
        &self,
        kind: &str,
        node: &str,
        vmid: i64,
        prior: &Attrs,
        ownership_tag: &str,
        pool: Option<&str>,
    ) -> Result<Observed, ProviderError> {
        let config = self.config(kind, node, vmid).await.map_err(err)?;
        let status: Json = self
            .client
            .get(
                &format!("{}/status/current", guest_path(kind, node, vmid)),
                &[],
            )
            .await
            .map_err(err)?;
        let running = status.get("status").and_then(Json::as_str) == Some("running");
        Ok(self.normalise(
            kind,
            &config,
            node,
            vmid,
            running,
            prior,
            ownership_tag,
            pool,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn normalise(
        &self,
        kind: &str,
        config: &Map<String, Json>,
        node: &str,
        vmid: i64,
        running: bool,
        prior: &Attrs,
        ownership_tag: &str,
        pool: Option<&str>,
    ) -> Observed {
        let (mut attrs, outputs) = if kind == kinds::CT {
            normalize::ct(config, node, vmid, running, prior, ownership_tag)
        } else {
            normalize::vm(config, node, vmid, running, prior, ownership_tag)
        };
        if let Some(p) = pool {
            attrs.insert("pool".into(), p.into());
        } else {
            attrs.shift_remove("pool");
        }
        if kind == kinds::TEMPLATE {
            if let Some(Value::List(disks)) = attrs.get("disks").cloned() {
                if let Some(Value::Map(d)) = disks.first() {
                    if let Some(st) = d.get("storage") {
                        attrs.insert("storage".into(), st.clone());
                    }
                    if prior.contains_key("disk_gb") {
                        if let Some(sz) = d.get("size_gb") {
                            attrs.insert("disk_gb".into(), sz.clone());
                        }
                    }
                }
            }
        }
        Observed {
            id: vmid.to_string(),
            attrs,
            outputs,
        }
    }

    /// Finds the node a guest is on now (it may have migrated).
    async fn locate(&self, vmid: i64) -> Result<Option<ClusterResource>, ProviderError> {
        Ok(self
            .resources()
            .await?
            .into_iter()
            .find(|r| r.vmid == Some(vmid as u64)))
    }
}

#[async_trait]
impl Provider for ProxmoxProvider {
    fn name(&self) -> &str {
        "proxmox"
    }

    fn kinds(&self) -> Vec<&'static str> {
        kinds::MANAGED.to_vec()
    }

    fn schema(&self, kind: &str) -> KindSchema {
        let secs = Duration::from_secs;
        match kind {
            k if k == kinds::VM => KindSchema {
                force_new: vec!["node", "vmid", "clone_from"],
                ignore: vec!["clone_vmid"],
                estimate: Estimates {
                    create: secs(60),
                    update: secs(5),
                    delete: secs(15),
                },
            },
            // A new OS template (another file, or the same file downloaded
            // anew) means a new container; a new image, a new template.
            k if k == kinds::CT => KindSchema {
                force_new: vec![
                    "node",
                    "vmid",
                    "ostemplate",
                    "ostemplate_file",
                    "unprivileged",
                    "password",
                    "ssh_keys",
                ],
                ignore: vec![],
                estimate: Estimates {
                    create: secs(30),
                    update: secs(3),
                    delete: secs(10),
                },
            },
            k if k == kinds::TEMPLATE => KindSchema {
                force_new: vec![
                    "node",
                    "vmid",
                    "image",
                    "image_file",
                    "storage",
                    "disk_gb",
                    "cores",
                    "memory_mb",
                ],
                ignore: vec![],
                estimate: Estimates {
                    create: secs(90),
                    update: secs(3),
                    delete: secs(10),
                },
            },
            k if k == kinds::STORAGE => KindSchema {
                force_new: vec!["storage", "type", "server", "export"],
                ignore: vec!["pool", "appliance"],
                estimate: Estimates {
                    create: secs(5),
                    update: secs(2),
                    delete: secs(2),
                },
            },
            k if k == kinds::FILE => KindSchema {
                force_new: vec![
                    "node",
                    "storage",
                    "content",
                    "filename",
                    "url",
                    "checksum",
                    "checksum_algorithm",
                ],
                ignore: vec![],
                estimate: Estimates {
                    create: secs(120),
                    update: secs(1),
                    delete: secs(2),
                },
            },
            _ => KindSchema {
                force_new: vec!["poolid"],
                ignore: vec![],
                estimate: Estimates {
                    create: secs(1),
                    update: secs(1),
                    delete: secs(1),
                },
            },
        }
    }

    fn checks(&self) -> Vec<Check> {
        crate::checks::all()
    }

    fn diff(&self, kind: &str, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        diff::diff(&self.schema(kind), desired, observed)
    }

    fn limits(&self, op: &OpInfo<'_>) -> Vec<Limit> {
        let mut out = Vec::new();
        if let Some(node) = s(op.attrs, "node") {
            out.push(Limit::calls(
                format!("proxmox:node:{node}"),
                self.options.calls_per_node,
            ));
        }
        if op.op == OpKind::Create {
            if let Some(src) = i(op.attrs, "clone_vmid") {
                // The template stays locked for the whole clone task.
                out.push(Limit::operation(format!("proxmox:clone:{src}"), 1));
            }
        }
        out
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let kind_of = |r: &ReadRequest| r.address.kind().to_string();
        let needs = |k: &str| requests.iter().any(|r| kind_of(r) == k);
        let guests: HashMap<u64, ClusterResource> =
            if requests.iter().any(|r| is_guest(r.address.kind())) {
                self.resources()
                    .await?
                    .into_iter()
                    .filter_map(|r| r.vmid.map(|v| (v, r)))
                    .collect()
            } else {
                HashMap::new()
            };
        let storages: HashMap<String, Map<String, Json>> = if needs(kinds::STORAGE) {
            let list: Vec<Map<String, Json>> =
                self.client.get("/storage", &[]).await.map_err(err)?;
            list.into_iter()
                .filter_map(|m| Some((normalize::text(&m, "storage")?, m)))
                .collect()
        } else {
            HashMap::new()
        };
        let pools: HashMap<String, Map<String, Json>> = if needs(kinds::POOL) {
            let list: Vec<Map<String, Json>> = self.client.get("/pools", &[]).await.map_err(err)?;
            list.into_iter()
                .filter_map(|m| Some((normalize::text(&m, "poolid")?, m)))
                .collect()
        } else {
            HashMap::new()
        };
        let mut contents: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
        for r in requests.iter().filter(|r| kind_of(r) == kinds::FILE) {
            let (Some(node), Some(storage)) = (s(&r.prior, "node"), s(&r.prior, "storage")) else {
                continue;
            };
            let key = (node.to_string(), storage.to_string());
            if contents.contains_key(&key) {
                continue;
            }
            let list: Result<Vec<Map<String, Json>>, ApiError> = self
                .client
                .get(&path(&["nodes", node, "storage", storage, "content"]), &[])
                .await;
            let volids = match list {
                Ok(l) => l
                    .iter()
                    .filter_map(|m| normalize::text(m, "volid"))
                    .collect(),
                Err(e) if e.kind == ErrorKind::NotFound => BTreeSet::new(),
                Err(e) => return Err(err(e)),
            };
            contents.insert(key, volids);
        }

        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            let kind = r.address.kind();
            let tag = r.owner.tag();
            let found = match kind {
                k if is_guest(k) => {
                    let vmid = parse_vmid(&r.id)?;
                    // A VMID can be reused: a guest without the lab's tag is
                    // not ours any more (ours was deleted outside the lab).
                    match guests
                        .get(&(vmid as u64))
                        .filter(|res| res.tags_list().contains(&tag))
                    {
                        None => None,
                        Some(res) => {
                            let node = res.node.clone().unwrap_or_default();
                            if cheap_fields_match(kind, res, &r.prior, &tag) {
                                // Nothing Proxmox lists changed: take the recorded state.
                                let mut attrs = r.prior.clone();
                                attrs.insert("node".into(), node.as_str().into());
                                Some(Observed {
                                    id: r.id.clone(),
                                    attrs,
                                    outputs: r.prior_outputs.clone(),
                                })
                            } else {
                                Some(
                                    self.observe_guest(
                                        kind,
                                        &node,
                                        vmid,
                                        &r.prior,
                                        &tag,
                                        res.pool.as_deref(),
                                    )
                                    .await?,
                                )
                            }
                        }
                    }
                }
                k if k == kinds::STORAGE => storages
                    .get(&r.id)
                    .map(|m| observe_storage(m, &r.prior, &r.id)),
                k if k == kinds::POOL => pools.get(&r.id).map(|m| observe_pool(m, &r.id)),
                k if k == kinds::FILE => {
                    let key = (
                        s(&r.prior, "node").unwrap_or_default().to_string(),
                        s(&r.prior, "storage").unwrap_or_default().to_string(),
                    );
                    contents
                        .get(&key)
                        .filter(|v| v.contains(&r.id))
                        .map(|_| observe_file(&r.prior, &r.id))
                }
                _ => None,
            };
            out.push(found);
        }
        Ok(out)
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError> {
        let a = &req.attrs;
        let kind = req.address.kind();
        let tag = req.owner.tag();
        let marker = req.owner.marker();
        match kind {
            k if k == kinds::POOL => {
                let poolid = s(a, "poolid").unwrap_or(req.address.name());
                let mut form = Form::new();
                form.push_str("poolid", poolid);
                if let Some(c) = s(a, "comment") {
                    form.push_str("comment", c);
                }
                match self.client.post("/pools", &form).await {
                    Ok(_) => {}
                    Err(e) if e.kind == ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(err(e)),
                }
                Ok(observe_pool(&Map::new(), poolid)).map(|mut o| {
                    o.attrs = a.clone();
                    o
                })
            }
            k if k == kinds::STORAGE => {
                let id = s(a, "storage").unwrap_or(req.address.name()).to_string();
                let mut form = Form::new();
                form.push_str("storage", &id);
                form.push_str("type", s(a, "type").unwrap_or("nfs"));
                for key in ["server", "export", "options"] {
                    if let Some(v) = s(a, key) {
                        form.push_str(key, v);
                    }
                }
                form.push_str("content", &strings(a, "content").join(","));
                let nodes = strings(a, "nodes");
                if !nodes.is_empty() {
                    form.push_str("nodes", &nodes.join(","));
                }
                self.client.post("/storage", &form).await.map_err(err)?;
                let m: Map<String, Json> = self
                    .client
                    .get(&path(&["storage", &id]), &[])
                    .await
                    .map_err(err)?;
                Ok(observe_storage(&m, a, &id))
            }
            k if k == kinds::FILE => {
                let node = s(a, "node").unwrap_or_default();
                let storage = s(a, "storage").unwrap_or_default();
                let content = s(a, "content").unwrap_or("import");
                let filename = s(a, "filename").unwrap_or_default();
                let mut form = Form::new();
                form.push_str("content", content);
                form.push_str("filename", filename);
                form.push_str("url", s(a, "url").unwrap_or_default());
                if let Some(c) = s(a, "checksum") {
                    form.push_str("checksum", c);
                }
                if let Some(c) = s(a, "checksum_algorithm") {
                    form.push_str("checksum-algorithm", c);
                }
                self.post_wait(
                    &path(&["nodes", node, "storage", storage, "download-url"]),
                    &form,
                    ctx,
                )
                .await?;
                Ok(observe_file(a, &format!("{storage}:{content}/{filename}")))
            }
            k if k == kinds::TEMPLATE => self.create_template(ctx, a, &tag, &marker).await,
            k if k == kinds::VM => self.create_vm(ctx, a, &tag, &marker).await,
            k if k == kinds::CT => self.create_ct(ctx, a, &tag, &marker).await,
            other => Err(ProviderError::permanent(format!(
                "proxmox does not manage `{other}`"
            ))),
        }
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError> {
        let a = &req.attrs;
        let kind = req.address.kind();
        let tag = req.owner.tag();
        let marker = req.owner.marker();
        match kind {
            k if k == kinds::POOL => {
                let mut form = Form::new();
                form.push_str("comment", s(a, "comment").unwrap_or_default());
                let q = format!(
                    "/pools?poolid={}",
                    percent_encoding::utf8_percent_encode(
                        &req.id,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                );
                self.client.put(&q, &form).await.map_err(err)?;
                let mut o = observe_pool(&Map::new(), &req.id);
                o.attrs = a.clone();
                Ok(o)
            }
            k if k == kinds::STORAGE => {
                let mut form = Form::new();
                form.push_str("content", &strings(a, "content").join(","));
                let mut delete = Vec::new();
                match s(a, "options") {
                    Some(o) => form.push_str("options", o),
                    None => delete.push("options"),
                }
                let nodes = strings(a, "nodes");
                if nodes.is_empty() {
                    delete.push("nodes");
                } else {
                    form.push_str("nodes", &nodes.join(","));
                }
                if !delete.is_empty() {
                    form.push_str("delete", &delete.join(","));
                }
                self.client
                    .put(&path(&["storage", &req.id]), &form)
                    .await
                    .map_err(err)?;
                let m: Map<String, Json> = self
                    .client
                    .get(&path(&["storage", &req.id]), &[])
                    .await
                    .map_err(err)?;
                Ok(observe_storage(&m, a, &req.id))
            }
            k if is_guest(k) => self.update_guest(ctx, req, &tag, &marker).await,
            other => Err(ProviderError::permanent(format!(
                "`{other}` cannot be updated in place"
            ))),
        }
    }

    async fn delete(&self, ctx: &OpContext, req: &DeleteRequest) -> Result<(), ProviderError> {
        let kind = req.address.kind();
        let gone = |e: &ApiError| e.kind == ErrorKind::NotFound;
        match kind {
            k if k == kinds::POOL => {
                match self
                    .client
                    .delete("/pools", &[("poolid", req.id.clone())])
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if gone(&e) => Ok(()),
                    Err(e) => Err(err(e)),
                }
            }
            k if k == kinds::STORAGE => {
                match self.client.delete(&path(&["storage", &req.id]), &[]).await {
                    Ok(_) => Ok(()),
                    Err(e) if gone(&e) => Ok(()),
                    Err(e) => Err(err(e)),
                }
            }
            k if k == kinds::FILE => {
                let node = s(&req.prior, "node").unwrap_or_default();
                let storage = s(&req.prior, "storage").unwrap_or_default();
                match self
                    .client
                    .delete(
                        &path(&["nodes", node, "storage", storage, "content", &req.id]),
                        &[],
                    )
                    .await
                {
                    Ok(data) => self.wait_if_task(&data, ctx).await,
                    Err(e) if gone(&e) => Ok(()),
                    Err(e) => Err(err(e)),
                }
            }
            k if is_guest(k) => {
                let vmid = parse_vmid(&req.id)?;
                let Some(res) = self.locate(vmid).await? else {
                    return Ok(());
                };
                if !res.tags_list().contains(&req.owner.tag()) {
                    return Err(ProviderError::permanent(format!(
                        "VMID {vmid} is not tagged `{}`: it is not {}'s guest any more, so it is \
                         left alone; if the lab's guest is gone, forget it with `state rm {}`",
                        req.owner.tag(),
                        req.address,
                        req.address
                    )));
                }
                let node = res.node.clone().unwrap_or_default();
                let base = guest_path(kind, &node, vmid);
                if res.status.as_deref() == Some("running") {
                    self.post_wait(&format!("{base}/status/stop"), &Form::new(), ctx)
                        .await?;
                }
                let mut query = vec![("purge", "1".to_string())];
                query.push(("destroy-unreferenced-disks", "1".to_string()));
                match self.client.delete(&base, &query).await {
                    Ok(data) => self.wait_if_task(&data, ctx).await,
                    Err(e) if gone(&e) => Ok(()),
                    Err(e) => Err(err(e)),
                }
            }
            other => Err(ProviderError::permanent(format!(
                "proxmox does not manage `{other}`"
            ))),
        }
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError> {
        let kind = owner.address.kind();
        match kind {
            k if is_guest(k) => {
                let tag = owner.tag();
                let marker = owner.marker();
                let mut found = Vec::new();
                for r in self.resources().await? {
                    let Some(vmid) = r.vmid else { continue };
                    if !r.tags_list().contains(&tag) {
                        continue;
                    }
                    let node = r.node.clone().unwrap_or_default();
                    let config = match self.config(kind, &node, vmid as i64).await {
                        Ok(c) => c,
                        Err(e) if e.kind == ErrorKind::NotFound => continue,
                        Err(e) => return Err(err(e)),
                    };
                    let has_marker = normalize::text(&config, "description")
                        .is_some_and(|d| d.lines().any(|l| l.trim() == marker));
                    if has_marker {
                        let running = r.status.as_deref() == Some("running");
                        found.push(self.normalise(
                            kind,
                            &config,
                            &node,
                            vmid as i64,
                            running,
                            desired,
                            &tag,
                            r.pool.as_deref(),
                        ));
                    }
                }
                Ok(found)
            }
            k if k == kinds::STORAGE => {
                let id = s(desired, "storage").unwrap_or(owner.address.name());
                match self
                    .client
                    .get::<Map<String, Json>>(&path(&["storage", id]), &[])
                    .await
                {
                    Ok(m) => Ok(vec![observe_storage(&m, desired, id)]),
                    Err(e) if e.kind == ErrorKind::NotFound => Ok(vec![]),
                    Err(e) => Err(err(e)),
                }
            }
            k if k == kinds::POOL => {
                let id = s(desired, "poolid")
                    .unwrap_or(owner.address.name())
                    .to_string();
                let list: Vec<Map<String, Json>> =
                    self.client.get("/pools", &[]).await.map_err(err)?;
                Ok(list
                    .iter()
                    .filter(|m| normalize::text(m, "poolid").as_deref() == Some(id.as_str()))
                    .map(|m| observe_pool(m, &id))
                    .collect())
            }
            k if k == kinds::FILE => {
                let (Some(node), Some(storage), Some(content), Some(filename)) = (
                    s(desired, "node"),
                    s(desired, "storage"),
                    s(desired, "content"),
                    s(desired, "filename"),
                ) else {
                    return Ok(vec![]);
                };
                let volid = format!("{storage}:{content}/{filename}");
                let list: Vec<Map<String, Json>> = self
                    .client
                    .get(&path(&["nodes", node, "storage", storage, "content"]), &[])
                    .await
                    .map_err(err)?;
                Ok(list
                    .iter()
                    .any(|m| normalize::text(m, "volid").as_deref() == Some(volid.as_str()))
                    .then(|| observe_file(desired, &volid))
                    .into_iter()
                    .collect())
            }
            _ => Ok(vec![]),
        }
    }
}

/// Compares what `/cluster/resources` lists with the recorded attributes.
fn cheap_fields_match(kind: &str, r: &ClusterResource, prior: &Attrs, tag: &str) -> bool {
    let name_key = if kind == kinds::CT {
        "hostname"
    } else {
        "name"
    };
    if r.name.as_deref() != s(prior, name_key) {
        return false;
    }
    if r.node.as_deref() != s(prior, "node") {
        return false;
    }
    if r.lock.is_some() {
        return false;
    }
    let tags = normalize::user_tags(r.tags.as_deref(), tag);
    if tags != strings(prior, "tags") {
        return false;
    }
    if r.pool.as_deref() != s(prior, "pool") {
        return false;
    }
    if kind != kinds::TEMPLATE {
        let running = r.status.as_deref() == Some("running");
        if Some(running) != b(prior, "started") {
            return false;
        }
    }
    if let (Some(maxmem), Some(mem)) = (r.maxmem, i(prior, "memory_mb")) {
        if maxmem != (mem as u64) * 1024 * 1024 {
            return false;
        }
    }
    if let (Some(maxcpu), Some(cores)) = (r.maxcpu, i(prior, "cores")) {
        let sockets = i(prior, "sockets").unwrap_or(1);
        if (maxcpu - (cores * sockets) as f64).abs() > 0.01 {
            return false;
        }
    }
    true
}

fn observe_storage(m: &Map<String, Json>, prior: &Attrs, id: &str) -> Observed {
    let mut attrs = Attrs::new();
    attrs.insert("storage".into(), id.into());
    for key in ["type", "server", "export", "options"] {
        if let Some(v) = normalize::text(m, key) {
            attrs.insert(key.into(), v.into());
        }
    }
    let mut content: Vec<String> = normalize::text(m, "content")
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    content.sort();
    attrs.insert("content".into(), content.into());
    let nodes: Vec<String> = normalize::text(m, "nodes")
        .map(|n| {
            n.split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if !nodes.is_empty() || prior.contains_key("nodes") {
        attrs.insert("nodes".into(), nodes.into());
    }
    for k in ["pool", "appliance"] {
        if let Some(v) = prior.get(k) {
            attrs.insert(k.into(), v.clone());
        }
    }
    let mut outputs = Attrs::new();
    outputs.insert("storage".into(), id.into());
    Observed {
        id: id.to_string(),
        attrs,
        outputs,
    }
}

fn observe_pool(m: &Map<String, Json>, id: &str) -> Observed {
    let mut attrs = Attrs::new();
    attrs.insert("poolid".into(), id.into());
    if let Some(c) = normalize::text(m, "comment").filter(|c| !c.is_empty()) {
        attrs.insert("comment".into(), c.into());
    }
    let mut outputs = Attrs::new();
    outputs.insert("poolid".into(), id.into());
    Observed {
        id: id.to_string(),
        attrs,
        outputs,
    }
}

/// A downloaded file is immutable: if its volume exists, it is as declared.
fn observe_file(prior: &Attrs, volid: &str) -> Observed {
    let mut outputs = Attrs::new();
    outputs.insert("volid".into(), volid.into());
    Observed {
        id: volid.to_string(),
        attrs: prior.clone(),
        outputs,
    }
}

impl ProxmoxProvider {
    async fn vmid_for(&self, a: &Attrs) -> Result<i64, ProviderError> {
        match i(a, "vmid") {
            Some(v) => Ok(v),
            None => self.allocate_vmid().await,
        }
    }

    async fn create_template(
        &self,
        ctx: &OpContext,
        a: &Attrs,
        tag: &str,
        marker: &str,
    ) -> Result<Observed, ProviderError> {
        let node = s(a, "node").unwrap_or_default().to_string();
        let vmid = self.vmid_for(a).await?;
        let base = guest_path(kinds::TEMPLATE, &node, vmid);
        let mut form = Form::new();
        form.push_int("vmid", vmid);
        form.push_str("name", s(a, "name").unwrap_or_default());
        form.push_int("cores", i(a, "cores").unwrap_or(1));
        form.push_int("memory", i(a, "memory_mb").unwrap_or(1024));
        form.push_str("scsihw", "virtio-scsi-single");
        form.push_str(
            "scsi0",
            &format!(
                "{}:0,import-from={}",
                s(a, "storage").unwrap_or_default(),
                s(a, "image").unwrap_or_default()
            ),
        );
        form.push_str("serial0", "socket");
        form.push_str("boot", "order=scsi0");
        form.push_str("agent", "enabled=1");
        form.push_str("tags", &request::tags(a, tag));
        form.push_str(
            "description",
            &normalize::description(s(a, "notes"), marker),
        );
        let created = self
            .post_wait(&path(&["nodes", &node, "qemu"]), &form, ctx)
            .await;
        self.release(vmid);
        created?;
        if let Some(gb) = i(a, "disk_gb") {
            let mut f = Form::new();
            f.push_str("disk", "scsi0");
            f.push_str("size", &format!("{gb}G"));
            self.put_wait(&format!("{base}/resize"), &f, ctx).await?;
        }
        self.post_wait(&format!("{base}/template"), &Form::new(), ctx)
            .await?;
        let obs = self
            .observe_guest(kinds::TEMPLATE, &node, vmid, a, tag, None)
            .await?;
        Ok(obs)
    }

    async fn create_vm(
        &self,
        ctx: &OpContext,
        a: &Attrs,
        tag: &str,
        marker: &str,
    ) -> Result<Observed, ProviderError> {
        let node = s(a, "node").unwrap_or_default().to_string();
        let vmid = self.vmid_for(a).await?;
        let base = guest_path(kinds::VM, &node, vmid);
        let result = async {
            if let Some(src) = i(a, "clone_vmid") {
                let mut form = Form::new();
                form.push_int("newid", vmid);
                if let Some(n) = s(a, "name") {
                    form.push_str("name", n);
                }
                // The clone inherits the template's tags (the lab's ownership
                // tag among them); its own marker goes in at once, so a crash
                // before the settings below still leaves it adoptable.
                form.push_str(
                    "description",
                    &normalize::description(s(a, "notes"), marker),
                );
                form.push_bool("full", true);
                if let Some(first) = maps(a, "disks").first() {
                    if let Some(st) = first.get("storage").and_then(Value::as_str) {
                        form.push_str("storage", st);
                    }
                }
                if let Some(p) = s(a, "pool") {
                    form.push_str("pool", p);
                }
                self.post_wait(
                    &format!("{}/clone", guest_path(kinds::VM, &node, src)),
                    &form,
                    ctx,
                )
                .await?;
                // Settings, then disks: grow cloned ones, add missing ones.
                let config = self.config(kinds::VM, &node, vmid).await.map_err(err)?;
                let mut form = Form::new();
                request::vm_settings(&mut form, a, &Attrs::new(), tag, marker);
                add_ide_drives(&mut form, a, &config)?;
                let mut resizes = Vec::new();
                for d in maps(a, "disks") {
                    let slot = d.get("slot").and_then(Value::as_str).unwrap_or_default();
                    match normalize::text(&config, slot) {
                        None => form.push_str(slot, &request::new_disk(d)),
                        Some(_) => resizes.push((
                            slot.to_string(),
                            d.get("size_gb").and_then(Value::as_i64).unwrap_or(0),
                        )),
                    }
                }
                self.post_wait(&format!("{base}/config"), &form, ctx)
                    .await?;
                for (slot, gb) in resizes {
                    let (Some(current), _) = disk_size(&config, &slot) else {
                        continue;
                    };
                    if gb as u64 > current {
                        let mut f = Form::new();
                        f.push_str("disk", &slot);
                        f.push_str("size", &format!("{gb}G"));
                        self.put_wait(&format!("{base}/resize"), &f, ctx).await?;
                    }
                }
            } else {
                let mut form = Form::new();
                form.push_int("vmid", vmid);
                request::vm_settings(&mut form, a, &Attrs::new(), tag, marker);
                if s(a, "scsihw").is_none() {
                    form.push_str("scsihw", "virtio-scsi-single");
                }
                for d in maps(a, "disks") {
                    if let Some(slot) = d.get("slot").and_then(Value::as_str) {
                        form.push_str(slot, &request::new_disk(d));
                    }
                }
                add_ide_drives(&mut form, a, &Map::new())?;
                if let Some(p) = s(a, "pool") {
                    form.push_str("pool", p);
                }
                self.post_wait(&path(&["nodes", &node, "qemu"]), &form, ctx)
                    .await?;
            }
            Ok::<(), ProviderError>(())
        }
        .await;
        self.finish_guest_create(ctx, kinds::VM, &node, vmid, a, tag, result)
            .await
    }

    /// Starts a new guest if the lab wants it running, frees its reserved
    /// VMID whatever happened, and reads it back.
    #[allow(clippy::too_many_arguments)]
    async fn finish_guest_create(
        &self,
        ctx: &OpContext,
        kind: &str,
        node: &str,
        vmid: i64,
        a: &Attrs,
        tag: &str,
        created: Result<(), ProviderError>,
    ) -> Result<Observed, ProviderError> {
        let started = match created {
            Ok(()) if b(a, "started").unwrap_or(true) => {
                let start = format!("{}/status/start", guest_path(kind, node, vmid));
                self.post_wait(&start, &Form::new(), ctx).await
            }
            other => other,
        };
        self.release(vmid);
        started?;
        self.observe_guest(kind, node, vmid, a, tag, s(a, "pool"))
            .await
    }

    async fn create_ct(
        &self,
        ctx: &OpContext,
        a: &Attrs,
        tag: &str,
        marker: &str,
    ) -> Result<Observed, ProviderError> {
        let node = s(a, "node").unwrap_or_default().to_string();
        let vmid = self.vmid_for(a).await?;
        let mut form = Form::new();
        form.push_int("vmid", vmid);
        form.push_str("ostemplate", s(a, "ostemplate").unwrap_or_default());
        request::ct_settings(&mut form, a, &Attrs::new(), tag, marker);
        if let Some(r) = map(a, "rootfs") {
            form.push_str("rootfs", &request::ct_volume(r));
        }
        for m in maps(a, "mountpoints") {
            if let Some(slot) = m.get("slot").and_then(Value::as_str) {
                form.push_str(slot, &request::ct_volume(m));
            }
        }
        form.push_bool("unprivileged", b(a, "unprivileged").unwrap_or(true));
        if let Some(pw) = request::secret(a, "password") {
            form.push_secret("password", &pw);
        }
        let keys = strings(a, "ssh_keys");
        if !keys.is_empty() {
            form.push_str("ssh-public-keys", &keys.join("\n"));
        }
        if let Some(p) = s(a, "pool") {
            form.push_str("pool", p);
        }
        let created = self
            .post_wait(&path(&["nodes", &node, "lxc"]), &form, ctx)
            .await;
        self.finish_guest_create(ctx, kinds::CT, &node, vmid, a, tag, created)
            .await
    }

    async fn update_guest(
        &self,
        ctx: &OpContext,
        req: &UpdateRequest,
        tag: &str,
        marker: &str,
    ) -> Result<Observed, ProviderError> {
        let kind = req.address.kind();
        let a = &req.attrs;
        let vmid = parse_vmid(&req.id)?;
        let Some(res) = self.locate(vmid).await? else {
            return Err(ProviderError::permanent(format!(
                "{} (VMID {vmid}) no longer exists; plan again",
                req.address
            )));
        };
        let node = res.node.clone().unwrap_or_default();
        let base = guest_path(kind, &node, vmid);
        let config = self.config(kind, &node, vmid).await.map_err(err)?;
        let (_, outputs) = if kind == kinds::CT {
            normalize::ct(&config, &node, vmid, false, &req.prior, tag)
        } else {
            normalize::vm(&config, &node, vmid, false, &req.prior, tag)
        };
        let changed = |f: &str| req.changes.iter().any(|c| c.field == f);
        let mut form = Form::new();
        if let Some(d) = normalize::text(&config, "digest") {
            form.push_str("digest", &d);
        }
        if kind == kinds::CT {
            request::ct_settings(&mut form, a, &outputs, tag, marker);
        } else {
            request::vm_settings(&mut form, a, &outputs, tag, marker);
            add_ide_drives(&mut form, a, &config)?;
            // A CD-ROM the lab inserted and no longer declares: eject it.
            if changed("cdrom") && s(a, "cdrom").is_none() {
                if let Some(slot) = cdrom_drive(&config) {
                    form.push_str(&slot, &request::cdrom("none"));
                }
            }
        }
        // Disks: add new slots now; grow existing ones with resize below.
        let disk_field = if kind == kinds::CT {
            "mountpoints"
        } else {
            "disks"
        };
        let mut resizes: Vec<(String, i64)> = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        if changed(disk_field) || changed("rootfs") {
            let wanted = maps(a, disk_field);
            for d in &wanted {
                let slot = d.get("slot").and_then(Value::as_str).unwrap_or_default();
                let gb = d.get("size_gb").and_then(Value::as_i64).unwrap_or(0);
                match disk_size(&config, slot) {
                    (None, _) => form.push_str(
                        slot,
                        &if kind == kinds::CT {
                            request::ct_volume(d)
                        } else {
                            request::new_disk(d)
                        },
                    ),
                    (Some(cur), _) if gb as u64 > cur => resizes.push((slot.to_string(), gb)),
                    _ => {}
                }
            }
            if let Some(Value::List(before)) = req.prior.get(disk_field) {
                for d in before {
                    let Value::Map(m) = d else { continue };
                    let slot = m.get("slot").and_then(Value::as_str).unwrap_or_default();
                    if !wanted
                        .iter()
                        .any(|w| w.get("slot").and_then(Value::as_str) == Some(slot))
                    {
                        remove.push(slot.to_string());
                    }
                }
            }
            if let Some(r) = map(a, "rootfs") {
                let gb = r.get("size_gb").and_then(Value::as_i64).unwrap_or(0);
                if let (Some(cur), _) = disk_size(&config, "rootfs") {
                    if gb as u64 > cur {
                        resizes.push(("rootfs".into(), gb));
                    }
                }
            }
        }
        // NICs no longer declared.
        for slot in config
            .keys()
            .filter(|k| k.starts_with("net") && k[3..].chars().all(|c| c.is_ascii_digit()))
        {
            if !maps(a, "nics")
                .iter()
                .any(|n| n.get("slot").and_then(Value::as_str) == Some(slot.as_str()))
            {
                remove.push(slot.clone());
            }
        }
        if !remove.is_empty() {
            form.push_str("delete", &remove.join(","));
        }
        let config_path = format!("{base}/config");
        if kind == kinds::CT {
            self.put_wait(&config_path, &form, ctx).await?;
        } else {
            self.post_wait(&config_path, &form, ctx).await?;
        }
        for (slot, gb) in resizes {
            let mut f = Form::new();
            f.push_str("disk", &slot);
            f.push_str("size", &format!("{gb}G"));
            self.put_wait(&format!("{base}/resize"), &f, ctx).await?;
        }
        if changed("pool") {
            if let Some(old) = res.pool.as_deref() {
                let mut f = Form::new();
                f.push_str("vms", &vmid.to_string());
                f.push_bool("delete", true);
                self.client
                    .put(&format!("/pools?poolid={old}"), &f)
                    .await
                    .map_err(err)?;
            }
            if let Some(new) = s(a, "pool") {
                let mut f = Form::new();
                f.push_str("vms", &vmid.to_string());
                self.client
                    .put(&format!("/pools?poolid={new}"), &f)
                    .await
                    .map_err(err)?;
            }
        }
        if kind != kinds::TEMPLATE {
            let running = res.status.as_deref() == Some("running");
            let want = b(a, "started").unwrap_or(true);
            // What Proxmox could not apply to the running guest waits for a
            // boot: reboot now, so the lab runs what the code says.
            if running && want {
                let pending = self.pending_keys(kind, &node, vmid).await?;
                if !pending.is_empty() {
                    tracing::info!(guest = %req.address, keys = ?pending, "rebooting to apply pending changes");
                    self.post_wait(&format!("{base}/status/reboot"), &Form::new(), ctx)
                        .await?;
                }
            }
            if want && !running {
                self.post_wait(&format!("{base}/status/start"), &Form::new(), ctx)
                    .await?;
            } else if !want && running {
                self.post_wait(&format!("{base}/status/shutdown"), &Form::new(), ctx)
                    .await?;
            }
        }
        let obs = self
            .observe_guest(kind, &node, vmid, a, tag, s(a, "pool"))
            .await?;
        Ok(obs)
    }
}

/// The size (GiB) and volume of a disk slot in a config.
fn disk_size(config: &Map<String, Json>, slot: &str) -> (Option<u64>, Option<String>) {
    let Some(raw) = normalize::text(config, slot) else {
        return (None, None);
    };
    let p = crate::api::propstr::parse_property_string(&raw, Some("file"));
    let size = p
        .get("size")
        .and_then(|s| crate::api::propstr::parse_size_gib(s));
    (
        Some(size.unwrap_or(0)),
        p.get("file").or_else(|| p.get("volume")).cloned(),
    )
}

/// IDE slots in the order the lab fills them: `ide2` first, where
/// Proxmox's own tools put CD-ROM and cloud-init drives.
const IDE_SLOTS: [&str; 4] = ["ide2", "ide0", "ide1", "ide3"];

/// Does a drive value describe a CD-ROM drive (empty or not) that is not a
/// cloud-init drive?
fn is_cdrom_drive(value: &str) -> bool {
    let p = crate::api::propstr::parse_property_string(value, Some("file"));
    let file = p.get("file").map_or("", String::as_str);
    !file.contains("cloudinit")
        && (p.get("media").is_some_and(|m| m == "cdrom") || matches!(file, "none" | "cdrom"))
}

/// The guest's first CD-ROM drive that is not a cloud-init drive, in the
/// order [`normalize`] reads them.
fn cdrom_drive(config: &Map<String, Json>) -> Option<String> {
    normalize::sorted_keys(config, normalize::is_disk_slot)
        .into_iter()
        .find(|k| normalize::text(config, k).is_some_and(|v| is_cdrom_drive(&v)))
        .cloned()
}

/// The first IDE slot that the guest's config, the lab's disks and `taken`
/// leave free.
fn free_ide(config: &Map<String, Json>, a: &Attrs, taken: Option<&str>) -> Option<&'static str> {
    let declared = |slot: &str| {
        maps(a, "disks")
            .iter()
            .any(|d| d.get("slot").and_then(Value::as_str) == Some(slot))
    };
    IDE_SLOTS
        .into_iter()
        .find(|k| !config.contains_key(*k) && !declared(k) && taken != Some(*k))
}

/// Adds the lab's drives on the IDE bus to a create or update form:
///
/// - the CD-ROM (`cdrom`), into the guest's existing CD-ROM drive (a clone
///   keeps its template's), else `ide2` or the first free IDE slot;
/// - a cloud-init drive when the lab wants cloud-init and the guest has
///   none (a new VM, a clone of a template without one, or a drive removed
///   by hand), in a free IDE slot the CD-ROM does not take.
fn add_ide_drives(
    form: &mut Form,
    a: &Attrs,
    config: &Map<String, Json>,
) -> Result<(), ProviderError> {
    let no_slot = |what: &str| {
        ProviderError::permanent(format!(
            "no free IDE slot for {what}: ide0 to ide3 are all in use"
        ))
    };
    let mut cdrom_slot = None;
    if let Some(volid) = s(a, "cdrom") {
        let slot = match cdrom_drive(config) {
            Some(slot) => slot,
            None => free_ide(config, a, None)
                .ok_or_else(|| no_slot("the CD-ROM"))?
                .to_string(),
        };
        form.push_str(&slot, &request::cdrom(volid));
        cdrom_slot = Some(slot);
    }
    let has_drive = config.keys().any(|k| {
        normalize::is_disk_slot(k)
            && normalize::text(config, k).is_some_and(|v| v.contains("cloudinit"))
    });
    if let (Some(ci), false) = (map(a, "cloud_init"), has_drive) {
        let storage = ci
            .get("storage")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let slot = free_ide(config, a, cdrom_slot.as_deref())
            .ok_or_else(|| no_slot("the cloud-init drive"))?;
        form.push_str(slot, &format!("{storage}:cloudinit"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn wants(cdrom: Option<&str>, cloud_init: bool) -> Attrs {
        let mut a = Attrs::new();
        if let Some(volid) = cdrom {
            a.insert("cdrom".into(), volid.into());
        }
        if cloud_init {
            let mut ci = IndexMap::new();
            ci.insert("storage".to_string(), Value::from("local-lvm"));
            a.insert("cloud_init".into(), Value::Map(ci));
        }
        a
    }

    fn config(pairs: &[(&str, &str)]) -> Map<String, Json> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Json::from(*v)))
            .collect()
    }

    fn ide(a: &Attrs, config: &Map<String, Json>) -> String {
        let mut form = Form::new();
        add_ide_drives(&mut form, a, config).unwrap();
        form.encode()
    }

    #[test]
    fn the_cdrom_takes_ide2_and_cloud_init_the_next_free_slot() {
        let iso = Some("local:iso/talos.iso");
        assert_eq!(
            ide(&wants(iso, true), &Map::new()),
            "ide2=local%3Aiso%2Ftalos.iso%2Cmedia%3Dcdrom&ide0=local-lvm%3Acloudinit"
        );
        assert_eq!(
            ide(&wants(None, true), &Map::new()),
            "ide2=local-lvm%3Acloudinit"
        );
        // A template's cloud-init drive in ide2 stays; the disc goes next to it.
        let cloned = config(&[("ide2", "local-lvm:vm-9000-cloudinit,media=cdrom")]);
        assert_eq!(
            ide(&wants(iso, true), &cloned),
            "ide0=local%3Aiso%2Ftalos.iso%2Cmedia%3Dcdrom"
        );
        // An existing CD-ROM drive (empty or not) takes the disc.
        let empty = config(&[("ide0", "none,media=cdrom")]);
        assert_eq!(
            ide(&wants(iso, false), &empty),
            "ide0=local%3Aiso%2Ftalos.iso%2Cmedia%3Dcdrom"
        );
        assert_eq!(cdrom_drive(&empty).as_deref(), Some("ide0"));
        assert_eq!(cdrom_drive(&cloned), None);
    }
}
