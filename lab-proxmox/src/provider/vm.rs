//! `proxmox.vm`: create (fresh or a full or linked clone of a template, then its
//! settings and disks), update in place, delete, adopt.

use lab_core::kind::{Found, Update};
use lab_core::provider::{Claim, KindSchema, OpContext};
use lab_core::ProviderError;
use serde_json::{Map, Value as Json};

use super::guest::{guest_kind_provider, guest_path, GuestSpec, Listed};
use super::normalize::{self, Readback, VmKept};
use super::vm_drives::{add_ide_drives, cdrom_drive, disk_size};
use super::{err, request, ProxmoxProvider};
use crate::api::{path, Form};
use crate::kinds::{GuestOutputs, VmSpec};

impl GuestSpec for VmSpec {
    const API: &'static str = "qemu";

    fn listed(&self) -> Listed<'_> {
        Listed {
            name: self.name.as_deref(),
            node: &self.node,
            tags: self.tags.as_deref(),
            pool: self.pool.as_deref(),
            started: Some(self.started),
            memory_mb: self.memory_mb,
            cores: self.cores,
            sockets: self.sockets,
        }
    }

    fn set_node(&mut self, node: &str) {
        self.node = node.to_string();
    }

    fn config_beyond_listing(&self) -> bool {
        // The notes (the short note `lab_proxmox::notes` writes) live in
        // the description, which `/cluster/resources` does not list.
        self.notes.is_some()
    }

    fn nic_slots(&self) -> Vec<&str> {
        self.nics.iter().map(|n| n.slot.as_str()).collect()
    }

    fn clone_source(&self) -> Option<i64> {
        self.clone_vmid
    }

    fn copies_onto(&self) -> Option<&str> {
        // A full clone copies its disks onto the first disk's storage
        // (`storage` below); a linked clone copies nothing.
        if self.clone_vmid.is_none() || self.linked_clone == Some(true) {
            return None;
        }
        self.disks.first().map(|d| d.storage.as_str())
    }

    fn observe(rb: &Readback<'_>, prior: Option<&Self>) -> (Self, GuestOutputs) {
        normalize::vm(rb, prior.map(VmKept::of).unwrap_or_default())
    }
}

/// The slot and size of each disk to grow: declared larger than `config` has it.
fn grows(spec: &VmSpec, config: &Map<String, Json>) -> Vec<(String, i64)> {
    spec.disks
        .iter()
        .filter_map(|d| {
            let gb = d.size_gb.unwrap_or(0);
            let current = disk_size(config, &d.slot)?;
            (gb as u64 > current).then(|| (d.slot.clone(), gb))
        })
        .collect()
}

impl ProxmoxProvider {
    async fn create_vm(
        &self,
        ctx: &OpContext,
        spec: &VmSpec,
        tag: &str,
        marker: &str,
    ) -> Result<Found<VmSpec>, ProviderError> {
        let node = &spec.node;
        let source = match spec.clone_vmid {
            Some(src) => Claim::new().with("source", src),
            None => Claim::new(),
        };
        let vmid = self.vmid_for_create(ctx, node, spec.vmid, source).await?;
        let result = async {
            if let Some(src) = spec.clone_vmid {
                let mut form = Form::new();
                form.push_int("newid", vmid);
                if let Some(n) = &spec.name {
                    form.push_str("name", n);
                }
                // The clone inherits the template's tags (the lab's ownership
                // tag among them); its own marker goes in at once, so a crash
                // before the settings below still leaves it adoptable.
                form.push_str(
                    "description",
                    &normalize::description(spec.notes.as_deref(), marker),
                );
                // A linked clone stays on the template's storage (PVE
                // refuses `storage` with `full=0`).
                let linked = spec.linked_clone == Some(true);
                form.push_bool("full", !linked);
                if let (false, Some(first)) = (linked, spec.disks.first()) {
                    form.push_str("storage", &first.storage);
                }
                if let Some(p) = &spec.pool {
                    form.push_str("pool", p);
                }
                // qemu-server loads the source's config on the node the
                // call runs on: a template elsewhere is cloned there, onto
                // this node.
                let from = spec.clone_node.as_deref().unwrap_or(node);
                if from != node {
                    form.push_str("target", node);
                }
                self.post_claim_wait(
                    &format!("{}/clone", guest_path::<VmSpec>(from, src)),
                    &form,
                    ctx,
                )
                .await?;
                // Settings, then disks: grow cloned ones, add missing ones.
                let config = self.config::<VmSpec>(node, vmid).await.map_err(err)?;
                let mut form = Form::new();
                request::vm_settings(&mut form, spec, &Default::default(), tag, marker);
                add_ide_drives(&mut form, spec, &config)?;
                for d in &spec.disks {
                    if normalize::text(&config, &d.slot).is_none() {
                        form.push_str(&d.slot, &request::new_disk(d));
                    }
                }
                let base = guest_path::<VmSpec>(node, vmid);
                self.post_wait(&format!("{base}/config"), &form, ctx)
                    .await?;
                self.resize::<VmSpec>(ctx, node, vmid, grows(spec, &config))
                    .await?;
            } else {
                let mut form = Form::new();
                form.push_int("vmid", vmid);
                request::vm_settings(&mut form, spec, &Default::default(), tag, marker);
                if spec.scsihw.is_none() {
                    form.push_str("scsihw", "virtio-scsi-single");
                }
                for d in &spec.disks {
                    form.push_str(&d.slot, &request::new_disk(d));
                }
                add_ide_drives(&mut form, spec, &Map::new())?;
                if let Some(p) = &spec.pool {
                    form.push_str("pool", p);
                }
                self.post_claim_wait(&path(&["nodes", node, "qemu"]), &form, ctx)
                    .await?;
            }
            Ok::<(), ProviderError>(())
        }
        .await;
        self.finish_guest_create(ctx, node, vmid, spec, tag, result)
            .await
    }

    async fn update_vm(
        &self,
        ctx: &OpContext,
        req: &Update<VmSpec>,
    ) -> Result<Found<VmSpec>, ProviderError> {
        let (tag, marker) = (req.owner.tag(), req.owner.marker());
        let spec = &req.spec;
        let mut u = self.start_guest_update(req).await?;
        let (config, form) = (&u.config, &mut u.form);
        request::vm_settings(form, spec, &u.macs, &tag, &marker);
        add_ide_drives(form, spec, config)?;
        // A CD-ROM the lab inserted and no longer declares: eject it.
        if req.changed("cdrom") && spec.cdrom.is_none() {
            if let Some(slot) = cdrom_drive(config) {
                form.push_str(&slot, &request::cdrom("none"));
            }
        }
        // Disks: add new slots now; grow existing ones with resize below.
        let mut resizes = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        if req.changed("disks") {
            for d in spec
                .disks
                .iter()
                .filter(|d| disk_size(config, &d.slot).is_none())
            {
                form.push_str(&d.slot, &request::new_disk(d));
            }
            resizes = grows(spec, config);
            remove.extend(
                req.prior
                    .disks
                    .iter()
                    .filter(|old| !spec.disks.iter().any(|d| d.slot == old.slot))
                    .map(|old| old.slot.clone()),
            );
        }
        self.finish_guest_update(ctx, req, u, remove, resizes).await
    }
}

/// The fields of a VM that force replacement, and its estimates.
fn schema() -> KindSchema {
    super::schema(
        vec!["node", "vmid", "clone_from"],
        vec!["clone_vmid", "clone_node", "linked_clone"],
        [60, 5, 15],
    )
}

guest_kind_provider!(VmSpec, schema, create_vm, update_vm);
