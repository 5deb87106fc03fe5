//! The Proxmox VE provider: lab-core's typed kinds ([`TypedProvider`] and
//! one [`lab_core::kind::KindProvider`] per kind of [`crate::kinds`], one
//! file each) over the [`crate::api`] client, served to the engine through
//! the [`Typed`] adapter.
//!
//! How it answers the pain points of the peers (shared/notes/proxmox-peers.md):
//! - **Refresh in bulk.** One `GET /cluster/resources` lists every guest
//!   with its node, name, tags, memory, CPUs and status. A guest whose cheap
//!   fields still match the state is taken as recorded; only a guest that
//!   changed has its config read. Storages (`GET /storage`), pools
//!   (`GET /pools`) and files (one content listing per node and storage) are
//!   read only when the lab has some. All of it is one [`Snapshot`] per
//!   refresh, shared by the kinds.
//! - **No re-creation from readback noise.** Configs are normalised back to
//!   the lab's shapes (`normalize`) and compared only on what the lab
//!   declares (`diff`); the MAC moves to outputs, disk sizes are parsed.
//! - **Clones as parallel as PVE allows, no `can't lock file` failures.**
//!   Clones of one template run at once (qemu-server locks a template
//!   shared, see `limits`); a slow storage can be capped
//!   ([`ProxmoxOptions::copies_per_storage`]); calls per node are capped at
//!   3 (pvedaemon's workers), and lock errors are transient, so the engine
//!   retries them with backoff.
//! - **Tasks awaited correctly**, holding no engine slot while waiting.
//! - **VMIDs from the lab's state**: given in code, or allocated here from a
//!   range, checked with `nextid?vmid=` and recorded as the resource's id;
//!   never `/cluster/nextid` alone.
//! - **Adoption.** Every guest carries the ownership tag and a notes line;
//!   after a crash the next run finds it by them instead of creating a twin.
//! - **SDN live, not pending.** Every SDN write is followed by the
//!   cluster-wide apply (`PUT /cluster/sdn`, its task awaited), one SDN
//!   operation at a time; refresh reads PVE's pending view, so hand changes
//!   are drift whether applied or not (`sdn`).

mod backup_job;
mod ct;
mod ct_runtime;
mod diff;
mod file;
mod firewall;
mod firewall_cluster;
mod firewall_group;
mod firewall_ipset;
mod guest;
mod guest_firewall;
mod import;
mod normalize;
mod pool;
mod recover;
mod request;
mod sdn;
mod sdn_vnet;
mod sdn_zone;
mod storage;
mod template;
mod vm;
mod vm_drives;
mod world;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lab_core::kind::{Kind, Typed, TypedProvider};
use lab_core::provider::{
    Claim, Estimates, KindSchema, Limit, OpContext, OpKind, Provider, ProviderError, ReadRequest,
};
use lab_core::value::decode;
use lab_core::{Check, Diagnostic, PlanCheck};
use serde_json::{Map, Value as Json};

use crate::api::{ApiError, Client, ClusterResource, ErrorKind, Form};
use crate::kinds::{
    self, BackupJobSpec, CtSpec, FileSpec, PoolSpec, StorageSpec, TemplateSpec, VmSpec,
};
use crate::kinds::{ClusterFirewallSpec, GuestFirewallSpec, IpSetSpec, SecurityGroupSpec};
use crate::kinds::{SdnVnetSpec, SdnZoneSpec};

pub use firewall::FirewallSnapshot;

/// Tunables of the provider.
#[derive(Clone, Debug)]
pub struct ProxmoxOptions {
    /// Concurrent API calls per node (pvedaemon runs 3 workers).
    pub calls_per_node: usize,
    /// Where VMIDs are allocated for guests that do not declare one.
    pub vmid_range: RangeInclusive<i64>,
    /// Full clones copying onto a storage of one node at once, by storage
    /// id, for slow disks (e.g. `1` for a single spinning disk). A storage
    /// not listed takes every clone the lab runs at once, as PVE does (the
    /// copies share its bandwidth).
    pub copies_per_storage: BTreeMap<String, usize>,
    /// Clones of one template running at once. `None` (the default): no
    /// limit, as qemu-server since PVE 7 locks a stopped source shared.
    /// `Some(1)`: one at a time, for a node whose clones lock their source
    /// exclusively (older qemu-server; pve-sim's
    /// `CloneSourceLock::ExclusiveInRequest`), and what this provider did
    /// before.
    pub clones_per_template: Option<usize>,
}

impl ProxmoxOptions {
    /// At most `n` full clones copy onto `storage` of one node at once.
    pub fn copies_on(mut self, storage: &str, n: usize) -> Self {
        self.copies_per_storage.insert(storage.to_string(), n);
        self
    }
}

impl Default for ProxmoxOptions {
    fn default() -> Self {
        ProxmoxOptions {
            calls_per_node: 3,
            vmid_range: 1000..=99_999,
            copies_per_storage: BTreeMap::new(),
            clones_per_template: None,
        }
    }
}

/// The Proxmox VE provider. Register it with
/// `lab.register_provider(provider.shared())` (or `register_provider_as`
/// for a second cluster).
pub struct ProxmoxProvider {
    client: Client,
    options: ProxmoxOptions,
    /// VMIDs handed out by this process and not yet visible in the cluster.
    reserved: Mutex<BTreeSet<i64>>,
    /// The embedded simulator the lab's nodes join (see
    /// [`crate::sim::SimConfig::nodes_from_lab`]).
    #[cfg(feature = "sim")]
    joiner: Option<crate::sim::NodeJoiner>,
}

/// What one refresh lists for every kind: the guests of
/// `/cluster/resources`, `/storage`, `/pools` and the content of each
/// (node, storage) holding a recorded file, each only when asked for.
#[derive(Debug, Default)]
pub struct Snapshot {
    guests: HashMap<u64, ClusterResource>,
    storages: HashMap<String, Map<String, Json>>,
    pools: HashMap<String, Map<String, Json>>,
    backup_jobs: HashMap<String, Map<String, Json>>,
    contents: HashMap<(String, String), BTreeSet<String>>,
    sdn: sdn::SdnSnapshot,
    firewall: FirewallSnapshot,
}

impl ProxmoxProvider {
    /// A provider talking through `client`.
    pub fn new(client: Client, options: ProxmoxOptions) -> Self {
        ProxmoxProvider {
            client,
            options,
            reserved: Mutex::new(BTreeSet::new()),
            #[cfg(feature = "sim")]
            joiner: None,
        }
    }

    /// The same provider; before each plan, every `proxmox.node` the lab
    /// declares (bound to this provider instance, or to none) joins the
    /// simulated cluster `joiner` adds to if it lacks it. Only the embedded
    /// default simulator is given one ([`crate::Connection::simulated`]).
    #[cfg(feature = "sim")]
    pub fn with_nodes_from_lab(mut self, joiner: crate::sim::NodeJoiner) -> Self {
        self.joiner = Some(joiner);
        self
    }

    /// The provider as the engine takes it: the [`Typed`] adapter serving
    /// every managed kind.
    pub fn shared(self) -> Arc<dyn Provider> {
        Typed::new(self)
            .kind::<StorageSpec>()
            .kind::<FileSpec>()
            .kind::<TemplateSpec>()
            .kind::<VmSpec>()
            .kind::<CtSpec>()
            .kind::<PoolSpec>()
            .kind::<BackupJobSpec>()
            .kind::<SdnZoneSpec>()
            .kind::<SdnVnetSpec>()
            .kind::<IpSetSpec>()
            .kind::<SecurityGroupSpec>()
            .kind::<ClusterFirewallSpec>()
            .kind::<GuestFirewallSpec>()
            .shared()
    }

    /// The API client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn err(e: ApiError) -> ProviderError {
    e.into()
}

fn parse_vmid(id: &str) -> Result<i64, ProviderError> {
    id.parse()
        .map_err(|_| ProviderError::permanent(format!("`{id}` is not a VMID")))
}

/// A UPID returned by a call, if the call was asynchronous.
fn upid(data: &Json) -> Option<&str> {
    data.as_str().filter(|s| s.starts_with("UPID:"))
}

/// Success for a delete of something already gone.
fn gone_ok(result: Result<Json, ApiError>) -> Result<Option<Json>, ProviderError> {
    match result {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(e)),
    }
}

/// A kind's schema: the fields forcing replacement, those the diff ignores,
/// and its estimates (create, update, delete) in seconds.
fn schema(
    force_new: Vec<&'static str>,
    ignore: Vec<&'static str>,
    [create, update, delete]: [u64; 3],
) -> KindSchema {
    let secs = Duration::from_secs;
    KindSchema {
        force_new,
        ignore,
        estimate: Estimates {
            create: secs(create),
            update: secs(update),
            delete: secs(delete),
        },
    }
}

/// The limits of an operation on `node`: the per-node call limit; for a
/// create that copies disks onto `copies_onto` (a full clone) the
/// storage's copy limit when [`ProxmoxOptions::copies_per_storage`] sets
/// one; for a clone of template `clone_of`, the per-template limit when
/// [`ProxmoxOptions::clones_per_template`] sets one.
///
/// By default there is no limit per template: PVE lets clones of one
/// template run at once. qemu-server's `clone_vm` (API2/Qemu.pm) takes the source's config
/// lock *shared* when the source is not running (a template never runs)
/// and only the new VMID's exclusively; pve-storage's `vdisk_alloc` /
/// `vdisk_clone` hold the storage lock just around each allocation, and
/// the copy runs outside every lock. What remains are short waits on those
/// locks (10 s timeout): a `can't lock file ... got timeout` is transient
/// ([`crate::api::ErrorKind::Locked`]), so the engine retries it.
fn limits(
    options: &ProxmoxOptions,
    op: OpKind,
    node: &str,
    clone_of: Option<i64>,
    copies_onto: Option<&str>,
) -> Vec<Limit> {
    let mut out = vec![Limit::calls(
        format!("proxmox:node:{node}"),
        options.calls_per_node,
    )];
    if let (OpKind::Create, Some(src), Some(n)) = (op, clone_of, options.clones_per_template) {
        // The template's lock is held for the whole clone task.
        out.push(Limit::operation(format!("proxmox:clone:{src}"), n.max(1)));
    }
    if let (OpKind::Create, Some(storage)) = (op, copies_onto) {
        if let Some(&n) = options.copies_per_storage.get(storage) {
            // The copy is the whole clone task: held to the end.
            out.push(Limit::operation(
                format!("proxmox:copies:{node}:{storage}"),
                n.max(1),
            ));
        }
    }
    out
}

impl ProxmoxProvider {
    /// `DELETE .../storage/{storage}/content/{volume}` and the wait for its
    /// `imgdel` task: PVE 6+ answers a UPID and frees the volume in the
    /// task (pve-storage `API2/Storage/Content.pm` `delete`), older
    /// releases answered `null` once it was gone ([`Client::delete_task`]
    /// takes both). A volume already gone is success.
    async fn delete_volume(&self, p: &str, ctx: &OpContext) -> Result<(), ProviderError> {
        match self.client.delete_task(p, &[], ctx).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

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

    /// `POST` of the call that makes an object: the task's UPID is claimed
    /// (journaled) before the wait, so a run that dies meanwhile is
    /// followed by one that waits for the same task instead of starting a
    /// second one.
    async fn post_claim_wait(
        &self,
        p: &str,
        form: &Form,
        ctx: &OpContext,
    ) -> Result<(), ProviderError> {
        let data = self.client.post(p, form).await.map_err(err)?;
        if let Some(u) = upid(&data) {
            ctx.claim(Claim::new().with("upid", u))?;
        }
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

    /// `GET` of a list of objects keyed by `key` (`/storage`, `/pools`).
    async fn listing(
        &self,
        path: &str,
        key: &str,
    ) -> Result<HashMap<String, Map<String, Json>>, ProviderError> {
        let list: Vec<Map<String, Json>> = self.client.get(path, &[]).await.map_err(err)?;
        Ok(list
            .into_iter()
            .filter_map(|m| Some((normalize::text(&m, key)?, m)))
            .collect())
    }

    /// The volume ids on `storage` of `node` (none if the storage is gone).
    async fn volids(&self, node: &str, storage: &str) -> Result<BTreeSet<String>, ProviderError> {
        let list: Result<Vec<Map<String, Json>>, ApiError> = self
            .client
            .get(
                &crate::api::path(&["nodes", node, "storage", storage, "content"]),
                &[],
            )
            .await;
        match list {
            Ok(l) => Ok(l
                .iter()
                .filter_map(|m| normalize::text(m, "volid"))
                .collect()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(BTreeSet::new()),
            Err(e) => Err(err(e)),
        }
    }

    /// Picks a free VMID: not in the cluster, not handed out by this
    /// process, and confirmed free by `nextid?vmid=`.
    async fn allocate_vmid(&self, ctx: &OpContext) -> Result<i64, ProviderError> {
        let mut used: BTreeSet<i64> = self
            .resources()
            .await?
            .iter()
            .filter_map(|r| r.vmid.map(|v| v as i64))
            .collect();
        // VMIDs held for other guests' interrupted or failed creates.
        used.extend(ctx.held().iter().filter_map(|c| c.int("vmid")));
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

    /// The VMID a create makes, claimed (journaled) before any call that
    /// could make it: the one given in code, else the one an earlier
    /// interrupted or failed try claimed (recovery found it free; it must
    /// still be), else a newly allocated one. `extra` joins the claim
    /// (a clone's `source`).
    async fn vmid_for_create(
        &self,
        ctx: &OpContext,
        node: &str,
        explicit: Option<i64>,
        extra: Claim,
    ) -> Result<i64, ProviderError> {
        let vmid = match (explicit, ctx.reserved().and_then(|c| c.int("vmid"))) {
            (Some(v), _) => v,
            (None, Some(v)) => {
                self.confirm_free(v).await?;
                v
            }
            (None, None) => self.allocate_vmid(ctx).await?,
        };
        let mut claim = Claim::new().with("node", node).with("vmid", vmid);
        claim.merge(&extra);
        if let Err(e) = ctx.claim(claim) {
            self.release(vmid);
            return Err(e);
        }
        Ok(vmid)
    }

    /// Reserves `vmid`, which an earlier try of the same create claimed,
    /// after checking with `nextid?vmid=` that it is free.
    async fn confirm_free(&self, vmid: i64) -> Result<(), ProviderError> {
        match self
            .client
            .get::<Json>("/cluster/nextid", &[("vmid", vmid.to_string())])
            .await
        {
            Ok(_) => {
                self.reserved
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(vmid);
                Ok(())
            }
            Err(e) if matches!(e.kind, ErrorKind::BadParam | ErrorKind::AlreadyExists) => {
                Err(ProviderError::permanent(format!(
                    "VMID {vmid}, which an earlier try of this create claimed, is in use again; \
                     nothing was created. The next `lab plan` looks at guest {vmid}: it adopts \
                     it if it is this lab's, and otherwise lets the create pick another VMID"
                )))
            }
            Err(e) => Err(err(e)),
        }
    }
}

#[async_trait]
impl TypedProvider for ProxmoxProvider {
    type Snapshot = Snapshot;

    fn name(&self) -> &str {
        "proxmox"
    }

    fn checks(&self) -> Vec<Check> {
        crate::checks::all()
    }

    fn prepare(&self, lab: &lab_core::Lab, instance: &str) -> Result<(), ProviderError> {
        #[cfg(feature = "sim")]
        if let Some(joiner) = &self.joiner {
            for spec in lab.resources().filter(|s| s.kind() == kinds::NODE) {
                if spec.provider.as_ref().is_some_and(|b| b.name != instance) {
                    continue;
                }
                let name = spec.address.name();
                if joiner.join(&crate::sim::SimNode::new(name)) {
                    tracing::info!("pve-sim: node {name}, declared in the lab, joined the cluster");
                }
                // The bridges the lab declares are VLAN-aware there.
                let bridges: Vec<String> = match spec.attrs.get("bridges") {
                    Some(lab_core::Value::List(l)) => l
                        .iter()
                        .filter_map(|b| b.as_str().map(String::from))
                        .collect(),
                    _ => Vec::new(),
                };
                if joiner.declare_bridges(name, &bridges) {
                    tracing::info!("pve-sim: node {name} has the lab's bridges {bridges:?}");
                }
            }
        }
        #[cfg(not(feature = "sim"))]
        let _ = (lab, instance);
        Ok(())
    }

    async fn probe(&self, _ctx: &OpContext) -> Result<(), ProviderError> {
        self.client.version().await.map(|_| ()).map_err(err)
    }

    /// `lab import`: nodes, storages, pools, templates, guests and backup
    /// jobs as builders, bound in the state (see `provider::import`).
    async fn discover(
        &self,
        ctx: &OpContext,
        _instance: &str,
    ) -> Result<Option<lab_core::import::Discovery>, ProviderError> {
        self.discover_cluster(ctx).await.map(Some)
    }

    /// The plan-time rules of [`crate::checks::world`], against the nodes
    /// and storages the cluster reports now.
    async fn check_plan(
        &self,
        ctx: &OpContext,
        plan: &PlanCheck<'_>,
    ) -> Result<Vec<Diagnostic>, ProviderError> {
        let world = self.world(ctx, plan).await?;
        Ok(crate::checks::world::check(plan, &world))
    }

    async fn snapshot(
        &self,
        _ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Snapshot, ProviderError> {
        let needs = |kind: &str| requests.iter().any(|r| r.address.kind() == kind);
        let mut snap = Snapshot::default();
        if needs(kinds::VM) || needs(kinds::CT) || needs(kinds::TEMPLATE) {
            snap.guests = self
                .resources()
                .await?
                .into_iter()
                .filter_map(|r| r.vmid.map(|v| (v, r)))
                .collect();
        }
        if needs(kinds::STORAGE) {
            snap.storages = self.listing("/storage", "storage").await?;
        }
        if needs(kinds::POOL) {
            snap.pools = self.listing("/pools", "poolid").await?;
        }
        if needs(kinds::BACKUP_JOB) {
            snap.backup_jobs = self.listing("/cluster/backup", "id").await?;
        }
        self.sdn_snapshot(&mut snap, requests).await?;
        snap.firewall = self.firewall_snapshot(requests).await?;
        for r in requests.iter().filter(|r| r.address.kind() == kinds::FILE) {
            let file = decode::<FileSpec>(&r.prior).map_err(|e| {
                ProviderError::permanent(format!(
                    "{}: the recorded spec does not fit `{}`: {e}",
                    r.address,
                    FileSpec::KIND
                ))
            })?;
            let key = (file.node, file.storage);
            if let Entry::Vacant(slot) = snap.contents.entry(key) {
                let (node, storage) = slot.key();
                let volids = self.volids(node, storage).await?;
                slot.insert(volids);
            }
        }
        Ok(snap)
    }
}
