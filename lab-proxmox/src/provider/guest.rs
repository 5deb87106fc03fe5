//! What VMs, containers and templates share: the [`GuestSpec`] view of
//! their specs, the bulk read from `/cluster/resources` (configs read only
//! for guests whose listed fields changed, or that manage settings the
//! listing does not show), reading one back, delete,
//! adoption by tag and notes marker, and the tail of create and update
//! (start, pool, resizes, reboot for pending changes).

use futures_util::StreamExt;
use indexmap::IndexMap;
use lab_core::kind::{Delete, Found, Kind, Read, Update};
use lab_core::provider::{OpContext, Ownership, ProviderError};
use lab_core::Address;
use serde_json::{Map, Value as Json};

use super::normalize::{self, Readback};
use super::{err, gone_ok, parse_vmid, ProxmoxProvider, Snapshot};
use crate::api::{path, ApiError, ClusterResource, ErrorKind, Form};
use crate::kinds::GuestOutputs;

/// How many guests a refresh reads at once (a config and a status each):
/// a handful of requests in flight keep a node's API busy without
/// queueing behind pveproxy's workers.
const GUEST_READS_AT_ONCE: usize = 8;

/// What `/cluster/resources` lists about a guest, as its spec records it.
pub(crate) struct Listed<'a> {
    pub name: Option<&'a str>,
    pub node: &'a str,
    pub tags: Option<&'a [String]>,
    pub pool: Option<&'a str>,
    /// `None` for templates (never running).
    pub started: Option<bool>,
    pub memory_mb: i64,
    pub cores: i64,
    pub sockets: Option<i64>,
}

/// A guest kind: `qemu` (VMs, templates) or `lxc` (containers).
pub(crate) trait GuestSpec: Kind<Outputs = GuestOutputs> + Clone {
    /// The API's guest type: `qemu` or `lxc`.
    const API: &'static str;
    /// The listed fields, for the cheap comparison.
    fn listed(&self) -> Listed<'_>;
    /// Records the node the guest is on now (it may have migrated).
    fn set_node(&mut self, node: &str);
    /// The NIC slots the spec declares (an update deletes the others).
    fn nic_slots(&self) -> Vec<&str>;
    /// The template a create clones.
    fn clone_source(&self) -> Option<i64> {
        None
    }
    /// The storage a create copies disks onto, when it copies (a full
    /// clone): its copies count against
    /// [`crate::ProxmoxOptions::copies_per_storage`].
    fn copies_onto(&self) -> Option<&str> {
        None
    }
    /// Whether the spec manages settings `/cluster/resources` does not
    /// reflect at all (a container's `entrypoint` and `env`, a guest's
    /// notes): its config is read on every refresh, not only when a listed
    /// field changed.
    fn config_beyond_listing(&self) -> bool {
        false
    }
    /// Reads a config back into the spec; `prior` gives what Proxmox does
    /// not keep, `pool` is the pool the cluster lists the guest in.
    fn observe(rb: &Readback<'_>, prior: Option<&Self>) -> (Self, GuestOutputs);
}

/// `/nodes/{node}/{qemu|lxc}/{vmid}`.
pub(crate) fn guest_path<K: GuestSpec>(node: &str, vmid: i64) -> String {
    path(&["nodes", node, K::API, &vmid.to_string()])
}

/// Compares what `/cluster/resources` lists with the recorded spec.
fn cheap_fields_match(r: &ClusterResource, prior: &Listed<'_>, tag: &str) -> bool {
    if r.name.as_deref() != prior.name || r.node.as_deref() != Some(prior.node) {
        return false;
    }
    if r.lock.is_some() || r.pool.as_deref() != prior.pool {
        return false;
    }
    let tags = normalize::user_tags(r.tags.as_deref(), tag);
    if tags != prior.tags.unwrap_or_default() {
        return false;
    }
    if let Some(started) = prior.started {
        if (r.status.as_deref() == Some("running")) != started {
            return false;
        }
    }
    if let Some(maxmem) = r.maxmem {
        if maxmem != (prior.memory_mb as u64) * 1024 * 1024 {
            return false;
        }
    }
    if let Some(maxcpu) = r.maxcpu {
        let cpus = prior.cores * prior.sockets.unwrap_or(1);
        if (maxcpu - cpus as f64).abs() > 0.01 {
            return false;
        }
    }
    true
}

impl ProxmoxProvider {
    /// The config a guest runs with now (`current=1`: without pending
    /// values, which a running guest only takes at its next boot).
    pub(crate) async fn config<K: GuestSpec>(
        &self,
        node: &str,
        vmid: i64,
    ) -> Result<Map<String, Json>, ApiError> {
        self.client
            .get(
                &format!("{}/config", guest_path::<K>(node, vmid)),
                &[("current", "1".to_string())],
            )
            .await
    }

    /// Keys changed on a running guest that wait for its next boot.
    async fn pending_keys<K: GuestSpec>(
        &self,
        node: &str,
        vmid: i64,
    ) -> Result<Vec<String>, ProviderError> {
        let items: Vec<Map<String, Json>> = self
            .client
            .get(&format!("{}/pending", guest_path::<K>(node, vmid)), &[])
            .await
            .map_err(err)?;
        Ok(items
            .iter()
            .filter(|i| i.contains_key("pending") || i.contains_key("delete"))
            .filter_map(|i| normalize::text(i, "key"))
            .collect())
    }

    /// Reads one guest back (config + status).
    pub(crate) async fn observe_guest<K: GuestSpec>(
        &self,
        node: &str,
        vmid: i64,
        prior: Option<&K>,
        ownership_tag: &str,
        pool: Option<&str>,
    ) -> Result<Found<K>, ProviderError> {
        let config = self.config::<K>(node, vmid).await.map_err(err)?;
        let status: Json = self
            .client
            .get(
                &format!("{}/status/current", guest_path::<K>(node, vmid)),
                &[],
            )
            .await
            .map_err(err)?;
        let running = status.get("status").and_then(Json::as_str) == Some("running");
        let rb = Readback {
            config: &config,
            node,
            vmid,
            running,
            ownership_tag,
            pool,
        };
        let (spec, outputs) = K::observe(&rb, prior);
        Ok(Found {
            id: vmid.to_string(),
            spec,
            outputs,
        })
    }

    /// Finds the node a guest is on now (it may have migrated).
    pub(crate) async fn locate(&self, vmid: i64) -> Result<Option<ClusterResource>, ProviderError> {
        Ok(self
            .resources()
            .await?
            .into_iter()
            .find(|r| r.vmid == Some(vmid as u64)))
    }

    /// The refresh of one guest kind from the snapshot. A guest whose
    /// listing shows no change is taken from the state; the others (and
    /// guests whose notes or runtime the lab owns, which the listing does
    /// not show) have their config read, up to [`GUEST_READS_AT_ONCE`] at a
    /// time.
    pub(crate) async fn read_guests<K: GuestSpec>(
        &self,
        snapshot: &Snapshot,
        requests: &[Read<K>],
    ) -> Result<Vec<Option<Found<K>>>, ProviderError> {
        // A loop, not a closure: the futures stay `Send` for async-trait.
        let mut reads = Vec::with_capacity(requests.len());
        for r in requests {
            reads.push(self.read_guest(snapshot, r));
        }
        futures_util::stream::iter(reads)
            .buffered(GUEST_READS_AT_ONCE)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// One guest of [`ProxmoxProvider::read_guests`].
    async fn read_guest<K: GuestSpec>(
        &self,
        snapshot: &Snapshot,
        r: &Read<K>,
    ) -> Result<Option<Found<K>>, ProviderError> {
        let tag = r.owner.tag();
        let vmid = parse_vmid(&r.id)?;
        // A VMID can be reused: a guest without the lab's tag is not
        // ours any more (ours was deleted outside the lab), unless the
        // state says it was imported and never tagged (`lab import`).
        let Some(res) = snapshot.guests.get(&(vmid as u64)) else {
            return Ok(None);
        };
        let tagged = res.tags_list().contains(&tag);
        if !tagged && !r.prior_outputs.imported {
            return Ok(None);
        }
        let node = res.node.clone().unwrap_or_default();
        let cheap =
            !r.prior.config_beyond_listing() && cheap_fields_match(res, &r.prior.listed(), &tag);
        if cheap {
            // Nothing Proxmox lists changed: take the recorded state.
            let mut spec = r.prior.clone();
            spec.set_node(&node);
            let outputs = GuestOutputs {
                vmid: r.prior_outputs.vmid,
                node: r.prior_outputs.node.clone(),
                macs: r.prior_outputs.macs.clone(),
                imported: !tagged,
            };
            return Ok(Some(Found {
                id: r.id.clone(),
                spec,
                outputs,
            }));
        }
        let mut found = self
            .observe_guest(&node, vmid, Some(&r.prior), &tag, res.pool.as_deref())
            .await?;
        found.outputs.imported = !tagged;
        Ok(Some(found))
    }

    /// Deletes a guest that still carries the lab's tag (stopping it first).
    pub(crate) async fn delete_guest<K: GuestSpec>(
        &self,
        ctx: &OpContext,
        req: &Delete<K>,
    ) -> Result<(), ProviderError> {
        let vmid = parse_vmid(&req.id)?;
        let Some(res) = self.locate(vmid).await? else {
            return Ok(());
        };
        if !res.tags_list().contains(&req.owner.tag()) {
            return Err(ProviderError::permanent(format!(
                "VMID {vmid} is not tagged `{}`: it is not {}'s guest any more, or it was \
                 imported (`lab import`) and lab never changed it, so it is left alone (lab \
                 deletes only guests carrying its tag); if the lab's guest is gone, forget it \
                 with `state rm {}`; to delete an imported guest, apply a change to it first \
                 (an update stamps the tag) or delete it by hand and `state rm` it",
                req.owner.tag(),
                req.address,
                req.address
            )));
        }
        let node = res.node.clone().unwrap_or_default();
        let running = res.status.as_deref() == Some("running");
        self.destroy_guest::<K>(ctx, &node, vmid, running).await
    }

    /// Stops the guest if `running`, then destroys it with its disks and
    /// every reference to it (`purge`); already gone is success.
    pub(crate) async fn destroy_guest<K: GuestSpec>(
        &self,
        ctx: &OpContext,
        node: &str,
        vmid: i64,
        running: bool,
    ) -> Result<(), ProviderError> {
        let base = guest_path::<K>(node, vmid);
        if running {
            self.post_wait(&format!("{base}/status/stop"), &Form::new(), ctx)
                .await?;
        }
        let query = vec![
            ("purge", "1".to_string()),
            ("destroy-unreferenced-disks", "1".to_string()),
        ];
        match gone_ok(self.client.delete(&base, &query).await)? {
            Some(data) => self.wait_if_task(&data, ctx).await,
            None => Ok(()),
        }
    }

    /// The guests carrying `owner`'s tag and marker line, except the
    /// VMIDs in `skip` (recorded already: only their configs would be read).
    pub(crate) async fn adopt_guests<K: GuestSpec>(
        &self,
        owner: &Ownership,
        desired: Option<&K>,
        skip: &[String],
    ) -> Result<Vec<Found<K>>, ProviderError> {
        let tag = owner.tag();
        let marker = owner.marker();
        let mut found = Vec::new();
        for r in self.resources().await? {
            let Some(vmid) = r.vmid else { continue };
            if !r.tags_list().contains(&tag) || skip.contains(&vmid.to_string()) {
                continue;
            }
            let node = r.node.clone().unwrap_or_default();
            let config = match self.config::<K>(&node, vmid as i64).await {
                Ok(c) => c,
                Err(e) if e.kind == ErrorKind::NotFound => continue,
                Err(e) => return Err(err(e)),
            };
            if normalize::has_marker(&config, &marker) {
                let running = r.status.as_deref() == Some("running");
                let rb = Readback {
                    config: &config,
                    node: &node,
                    vmid: vmid as i64,
                    running,
                    ownership_tag: &tag,
                    pool: r.pool.as_deref(),
                };
                let (spec, outputs) = K::observe(&rb, desired);
                found.push(Found {
                    id: vmid.to_string(),
                    spec,
                    outputs,
                });
            }
        }
        Ok(found)
    }

    /// Starts a new guest if the lab wants it running, frees its reserved
    /// VMID whatever happened, and reads it back.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn finish_guest_create<K: GuestSpec>(
        &self,
        ctx: &OpContext,
        node: &str,
        vmid: i64,
        spec: &K,
        tag: &str,
        created: Result<(), ProviderError>,
    ) -> Result<Found<K>, ProviderError> {
        let listed = spec.listed();
        let started = match created {
            Ok(()) if listed.started.unwrap_or(true) => {
                let start = format!("{}/status/start", guest_path::<K>(node, vmid));
                self.post_wait(&start, &Form::new(), ctx).await
            }
            other => other,
        };
        self.release(vmid);
        started?;
        self.observe_guest(node, vmid, Some(spec), tag, listed.pool)
            .await
    }

    /// Grows disks: `(slot, GiB)` each.
    pub(crate) async fn resize<K: GuestSpec>(
        &self,
        ctx: &OpContext,
        node: &str,
        vmid: i64,
        resizes: Vec<(String, i64)>,
    ) -> Result<(), ProviderError> {
        for (slot, gb) in resizes {
            let mut f = Form::new();
            f.push_str("disk", &slot);
            f.push_str("size", &format!("{gb}G"));
            self.put_wait(&format!("{}/resize", guest_path::<K>(node, vmid)), &f, ctx)
                .await?;
        }
        Ok(())
    }

    /// Moves a guest from pool `old` to pool `new`.
    pub(crate) async fn move_pool(
        &self,
        vmid: i64,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), ProviderError> {
        if let Some(old) = old {
            let mut f = Form::new();
            f.push_str("vms", &vmid.to_string());
            f.push_bool("delete", true);
            self.client
                .put(&format!("/pools?poolid={old}"), &f)
                .await
                .map_err(err)?;
        }
        if let Some(new) = new {
            let mut f = Form::new();
            f.push_str("vms", &vmid.to_string());
            self.client
                .put(&format!("/pools?poolid={new}"), &f)
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    /// Brings a guest to the power state the lab wants: what Proxmox could
    /// not apply to the running guest waits for a boot, so reboot now, so
    /// the lab runs what the code says.
    pub(crate) async fn settle_power<K: GuestSpec>(
        &self,
        ctx: &OpContext,
        address: &Address,
        res: &ClusterResource,
        vmid: i64,
        want: bool,
    ) -> Result<(), ProviderError> {
        let node = res.node.clone().unwrap_or_default();
        let base = guest_path::<K>(&node, vmid);
        let running = res.status.as_deref() == Some("running");
        if running && want {
            let pending = self.pending_keys::<K>(&node, vmid).await?;
            if !pending.is_empty() {
                tracing::info!(guest = %address, keys = ?pending, "rebooting to apply pending changes");
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
        Ok(())
    }

    /// Begins an update: finds the guest, reads its config and MACs, and
    /// starts the config form with its digest (a concurrent change fails it).
    pub(crate) async fn start_guest_update<K: GuestSpec>(
        &self,
        req: &Update<K>,
    ) -> Result<Updating, ProviderError> {
        let (vmid, res) = self.located(&req.address, &req.id).await?;
        let node = res.node.clone().unwrap_or_default();
        let config = self.config::<K>(&node, vmid).await.map_err(err)?;
        let tag = req.owner.tag();
        let rb = Readback {
            config: &config,
            node: &node,
            vmid,
            running: false,
            ownership_tag: &tag,
            pool: None,
        };
        let macs = K::observe(&rb, Some(&req.prior)).1.macs;
        let mut form = Form::new();
        if let Some(d) = normalize::text(&config, "digest") {
            form.push_str("digest", &d);
        }
        Ok(Updating {
            vmid,
            res,
            node,
            config,
            macs,
            form,
        })
    }

    /// Ends an update: deletes `remove` and the NICs the spec no longer
    /// declares with the config form, grows `resizes`, moves the guest to
    /// its pool, brings it to its power state and reads it back.
    pub(crate) async fn finish_guest_update<K: GuestSpec>(
        &self,
        ctx: &OpContext,
        req: &Update<K>,
        u: Updating,
        mut remove: Vec<String>,
        resizes: Vec<(String, i64)>,
    ) -> Result<Found<K>, ProviderError> {
        let Updating {
            vmid,
            res,
            node,
            config,
            mut form,
            ..
        } = u;
        let listed = req.spec.listed();
        remove.extend(undeclared_nics(&config, &req.spec.nic_slots()));
        if !remove.is_empty() {
            form.push_str("delete", &remove.join(","));
        }
        let config_path = format!("{}/config", guest_path::<K>(&node, vmid));
        // Containers have no `POST .../config`.
        if K::API == "lxc" {
            self.put_wait(&config_path, &form, ctx).await?;
        } else {
            self.post_wait(&config_path, &form, ctx).await?;
        }
        self.resize::<K>(ctx, &node, vmid, resizes).await?;
        if req.changed("pool") {
            self.move_pool(vmid, res.pool.as_deref(), listed.pool)
                .await?;
        }
        if let Some(want) = listed.started {
            self.settle_power::<K>(ctx, &req.address, &res, vmid, want)
                .await?;
        }
        let tag = req.owner.tag();
        self.observe_guest(&node, vmid, Some(&req.spec), &tag, listed.pool)
            .await
    }

    /// The guest an update is for, where it is now.
    pub(crate) async fn located(
        &self,
        address: &Address,
        id: &str,
    ) -> Result<(i64, ClusterResource), ProviderError> {
        let vmid = parse_vmid(id)?;
        match self.locate(vmid).await? {
            Some(res) => Ok((vmid, res)),
            None => Err(ProviderError::permanent(format!(
                "{address} (VMID {vmid}) no longer exists; plan again"
            ))),
        }
    }
}

/// A guest being updated: where it is, its config and MACs, and the config
/// form being written.
pub(crate) struct Updating {
    pub vmid: i64,
    pub res: ClusterResource,
    pub node: String,
    pub config: Map<String, Json>,
    pub macs: IndexMap<String, String>,
    pub form: Form,
}

/// The NIC slots (`netN`) of a config that `declared` does not list: the
/// update deletes them.
fn undeclared_nics<'a>(
    config: &'a Map<String, Json>,
    declared: &[&str],
) -> impl Iterator<Item = String> + 'a {
    let declared: Vec<String> = declared.iter().map(|s| s.to_string()).collect();
    config
        .keys()
        .filter(|k| k.starts_with("net") && k[3..].chars().all(|c| c.is_ascii_digit()))
        .filter(move |k| !declared.contains(k))
        .cloned()
}

/// The [`lab_core::kind::KindProvider`] of a guest kind: its schema from
/// `$schema`, create and update from the kind's file, the rest from here.
macro_rules! guest_kind_provider {
    ($spec:ty, $schema:path, $create:ident, $update:ident) => {
        #[async_trait::async_trait]
        impl lab_core::kind::KindProvider<$spec> for $crate::provider::ProxmoxProvider {
            fn schema(&self) -> lab_core::provider::KindSchema {
                $schema()
            }

            fn diff(
                &self,
                desired: &lab_core::Attrs,
                observed: &lab_core::Attrs,
            ) -> Vec<lab_core::provider::FieldChange> {
                $crate::provider::diff::diff(&$schema(), desired, observed)
            }

            fn limits(
                &self,
                op: lab_core::provider::OpKind,
                _address: &lab_core::Address,
                spec: &$spec,
            ) -> Vec<lab_core::provider::Limit> {
                use $crate::provider::guest::GuestSpec;
                $crate::provider::limits(
                    &self.options,
                    op,
                    spec.listed().node,
                    spec.clone_source(),
                    spec.copies_onto(),
                )
            }

            async fn read(
                &self,
                _ctx: &lab_core::provider::OpContext,
                snapshot: &$crate::provider::Snapshot,
                requests: &[lab_core::kind::Read<$spec>],
            ) -> Result<Vec<Option<lab_core::kind::Found<$spec>>>, lab_core::ProviderError> {
                self.read_guests(snapshot, requests).await
            }

            async fn create(
                &self,
                ctx: &lab_core::provider::OpContext,
                req: lab_core::kind::Create<$spec>,
            ) -> Result<lab_core::kind::Found<$spec>, lab_core::ProviderError> {
                self.$create(ctx, &req.spec, &req.owner.tag(), &req.owner.marker())
                    .await
            }

            async fn update(
                &self,
                ctx: &lab_core::provider::OpContext,
                req: lab_core::kind::Update<$spec>,
            ) -> Result<lab_core::kind::Found<$spec>, lab_core::ProviderError> {
                self.$update(ctx, &req).await
            }

            async fn delete(
                &self,
                ctx: &lab_core::provider::OpContext,
                req: lab_core::kind::Delete<$spec>,
            ) -> Result<(), lab_core::ProviderError> {
                self.delete_guest(ctx, &req).await
            }

            async fn adopt(
                &self,
                _ctx: &lab_core::provider::OpContext,
                owner: &lab_core::provider::Ownership,
                desired: Option<&$spec>,
            ) -> Result<Vec<lab_core::kind::Found<$spec>>, lab_core::ProviderError> {
                self.adopt_guests(owner, desired, &[]).await
            }

            async fn recover(
                &self,
                _ctx: &lab_core::provider::OpContext,
                req: &lab_core::provider::RecoverRequest,
                desired: Option<&$spec>,
            ) -> Result<lab_core::kind::Recovery<$spec>, lab_core::ProviderError> {
                if req.action != lab_core::provider::OpKind::Create {
                    return Ok(lab_core::kind::Recovery::default());
                }
                self.recover_guest(req, desired).await
            }
        }
    };
}
pub(crate) use guest_kind_provider;
