//! `proxmox.template`: a VM made from a cloud image (`import-from`), its
//! disk grown, then turned into a template; name, tags, notes and pool
//! change in place.

use lab_core::kind::{Found, Update};
use lab_core::provider::{Claim, KindSchema, OpContext};
use lab_core::ProviderError;

use super::guest::{guest_kind_provider, guest_path, GuestSpec, Listed};
use super::normalize::{self, Readback, VmKept};
use super::{request, ProxmoxProvider};
use crate::api::{path, Form};
use crate::kinds::{GuestOutputs, TemplateSpec};

impl GuestSpec for TemplateSpec {
    const API: &'static str = "qemu";

    fn listed(&self) -> Listed<'_> {
        Listed {
            name: self.name.as_deref(),
            node: &self.node,
            tags: self.tags.as_deref(),
            pool: self.pool.as_deref(),
            started: None,
            memory_mb: self.memory_mb,
            cores: self.cores,
            sockets: self.sockets,
        }
    }

    fn set_node(&mut self, node: &str) {
        self.node = node.to_string();
    }

    fn nic_slots(&self) -> Vec<&str> {
        self.nics
            .iter()
            .flatten()
            .map(|n| n.slot.as_str())
            .collect()
    }

    /// Read back as a VM; the image and its file are the lab's
    /// bookkeeping, the storage and size are its first disk's.
    fn observe(rb: &Readback<'_>, prior: Option<&Self>) -> (Self, GuestOutputs) {
        let kept = VmKept {
            vmid: prior.is_some_and(|p| p.vmid.is_some()),
            tags: prior.is_some_and(|p| p.tags.is_some()),
            ..VmKept::default()
        };
        let (vm, outputs) = normalize::vm(rb, kept);
        let first = vm.disks.first();
        let spec = TemplateSpec {
            node: vm.node,
            vmid: vm.vmid,
            name: vm.name,
            cores: vm.cores,
            memory_mb: vm.memory_mb,
            image: prior.and_then(|p| p.image.clone()),
            image_file: prior.and_then(|p| p.image_file.clone()),
            storage: first
                .map(|d| d.storage.clone())
                .or_else(|| prior.and_then(|p| p.storage.clone())),
            disk_gb: prior
                .and_then(|p| p.disk_gb)
                .map(|gb| first.and_then(|d| d.size_gb).unwrap_or(gb)),
            tags: vm.tags,
            notes: vm.notes,
            pool: vm.pool,
            sockets: vm.sockets,
            cpu: vm.cpu,
            scsihw: vm.scsihw,
            machine: vm.machine,
            balloon: vm.balloon,
            disks: Some(vm.disks),
            cdrom: vm.cdrom,
            nics: Some(vm.nics),
            cloud_init: vm.cloud_init,
            agent: Some(vm.agent),
            boot_order: vm.boot_order,
            onboot: Some(vm.onboot),
            started: Some(vm.started),
        };
        (spec, outputs)
    }
}

/// A field the create needs and the spec leaves out.
fn missing(field: &str) -> ProviderError {
    ProviderError::permanent(format!(
        "field `{field}` is required to create a template but missing"
    ))
}

impl ProxmoxProvider {
    async fn create_template(
        &self,
        ctx: &OpContext,
        spec: &TemplateSpec,
        tag: &str,
        marker: &str,
    ) -> Result<Found<TemplateSpec>, ProviderError> {
        let storage = spec.storage.as_deref().ok_or_else(|| missing("storage"))?;
        let image = spec.image.as_deref().ok_or_else(|| missing("image"))?;
        let name = spec.name.as_deref().ok_or_else(|| missing("name"))?;
        let node = &spec.node;
        let vmid = self
            .vmid_for_create(ctx, node, spec.vmid, Claim::new())
            .await?;
        let mut form = Form::new();
        form.push_int("vmid", vmid);
        form.push_str("name", name);
        form.push_int("cores", spec.cores);
        form.push_int("memory", spec.memory_mb);
        form.push_str("scsihw", "virtio-scsi-single");
        form.push_str("scsi0", &format!("{storage}:0,import-from={image}"));
        form.push_str("serial0", "socket");
        form.push_str("boot", "order=scsi0");
        form.push_str("agent", "enabled=1");
        form.push_str("tags", &request::tags(spec.tags.as_deref(), tag));
        form.push_str(
            "description",
            &normalize::description(spec.notes.as_deref(), marker),
        );
        let created = self
            .post_claim_wait(&path(&["nodes", node, "qemu"]), &form, ctx)
            .await;
        self.release(vmid);
        created?;
        if let Some(gb) = spec.disk_gb {
            self.resize::<TemplateSpec>(ctx, node, vmid, vec![("scsi0".into(), gb)])
                .await?;
        }
        let base = guest_path::<TemplateSpec>(node, vmid);
        self.post_wait(&format!("{base}/template"), &Form::new(), ctx)
            .await?;
        self.observe_guest(node, vmid, Some(spec), tag, None).await
    }

    async fn update_template(
        &self,
        ctx: &OpContext,
        req: &Update<TemplateSpec>,
    ) -> Result<Found<TemplateSpec>, ProviderError> {
        let (tag, marker) = (req.owner.tag(), req.owner.marker());
        let spec = &req.spec;
        let mut u = self.start_guest_update(req).await?;
        let form = &mut u.form;
        if let Some(n) = &spec.name {
            form.push_str("name", n);
        }
        form.push_int("cores", spec.cores);
        form.push_int("memory", spec.memory_mb);
        form.push_str("tags", &request::tags(spec.tags.as_deref(), &tag));
        form.push_str(
            "description",
            &normalize::description(spec.notes.as_deref(), &marker),
        );
        self.finish_guest_update(ctx, req, u, vec![], vec![]).await
    }
}

/// A new image means a new template.
fn schema() -> KindSchema {
    super::schema(
        vec![
            "node",
            "vmid",
            "image",
            "image_file",
            "storage",
            "disk_gb",
            "cores",
            "memory_mb",
        ],
        vec![],
        [90, 3, 10],
    )
}

guest_kind_provider!(TemplateSpec, schema, create_template, update_template);
