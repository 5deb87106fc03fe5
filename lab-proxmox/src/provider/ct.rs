//! `proxmox.ct`: create from an OS template, update in place, delete, adopt.

use lab_core::kind::{Found, Update};
use lab_core::provider::{Claim, KindSchema, OpContext};
use lab_core::ProviderError;

use super::guest::{guest_kind_provider, GuestSpec, Listed};
use super::normalize::{self, Readback};
use super::vm_drives::disk_size;
use super::{ct_runtime, err, request, ProxmoxProvider};
use crate::api::{path, Form};
use crate::kinds::{CtSpec, GuestOutputs};

impl GuestSpec for CtSpec {
    const API: &'static str = "lxc";

    fn listed(&self) -> Listed<'_> {
        Listed {
            name: self.hostname.as_deref(),
            node: &self.node,
            tags: self.tags.as_deref(),
            pool: self.pool.as_deref(),
            started: Some(self.started),
            memory_mb: self.memory_mb,
            cores: self.cores,
            sockets: None,
        }
    }

    fn set_node(&mut self, node: &str) {
        self.node = node.to_string();
    }

    fn nic_slots(&self) -> Vec<&str> {
        self.nics.iter().map(|n| n.slot.as_str()).collect()
    }

    fn config_beyond_listing(&self) -> bool {
        // The notes live in the description, which `/cluster/resources`
        // does not list.
        self.manages_runtime() || self.notes.is_some()
    }

    fn observe(rb: &Readback<'_>, prior: Option<&Self>) -> (Self, GuestOutputs) {
        normalize::ct(rb, prior)
    }
}

/// A field the create needs and the spec leaves out.
fn missing(field: &str) -> ProviderError {
    ProviderError::permanent(format!(
        "field `{field}` is required to create a container but missing"
    ))
}

impl ProxmoxProvider {
    async fn create_ct(
        &self,
        ctx: &OpContext,
        spec: &CtSpec,
        tag: &str,
        marker: &str,
    ) -> Result<Found<CtSpec>, ProviderError> {
        let ostemplate = spec
            .ostemplate
            .as_deref()
            .ok_or_else(|| missing("ostemplate"))?;
        let rootfs = spec.rootfs.as_ref().ok_or_else(|| missing("rootfs"))?;
        ct_runtime::check_secrets(spec)?;
        let node = &spec.node;
        let vmid = self
            .vmid_for_create(ctx, node, spec.vmid, Claim::new())
            .await?;
        let mut form = Form::new();
        form.push_int("vmid", vmid);
        form.push_str("ostemplate", ostemplate);
        request::ct_settings(&mut form, spec, &Default::default(), &[], tag, marker);
        form.push_str(
            "rootfs",
            &request::ct_volume(&rootfs.storage, rootfs.size_gb, None),
        );
        for m in spec.mountpoints.iter().flatten() {
            form.push_str(
                &m.slot,
                &request::ct_volume(&m.storage, m.size_gb, Some(&m.path)),
            );
        }
        form.push_bool("unprivileged", spec.unprivileged);
        if let Some(pw) = &spec.password {
            form.push_secret("password", pw);
        }
        if let Some(keys) = spec.ssh_keys.as_ref().filter(|k| !k.is_empty()) {
            form.push_str("ssh-public-keys", &keys.join("\n"));
        }
        if let Some(p) = &spec.pool {
            form.push_str("pool", p);
        }
        if let Some(e) = &spec.entrypoint {
            form.push_str("entrypoint", e);
        }
        if let Some(env) = ct_runtime::merged_env(&[], &[], spec) {
            form.push_secret("env", &env);
        }
        let mut created = self
            .post_claim_wait(&path(&["nodes", node, "lxc"]), &form, ctx)
            .await;
        if created.is_ok() && spec.manages_runtime() {
            created = self.settle_runtime(ctx, node, vmid, spec).await;
        }
        self.finish_guest_create(ctx, node, vmid, spec, tag, created)
            .await
    }

    /// After a create: a container made from an OCI image runs the image's
    /// entrypoint and environment (pve-container's `restore_oci_archive`
    /// replaces what the create sent), so the spec's are written again,
    /// the image's other variables kept, before the first start.
    async fn settle_runtime(
        &self,
        ctx: &OpContext,
        node: &str,
        vmid: i64,
        spec: &CtSpec,
    ) -> Result<(), ProviderError> {
        let config = self.config::<CtSpec>(node, vmid).await.map_err(err)?;
        let mut form = Form::new();
        let change = ct_runtime::settle(&mut form, &config, spec, &[]);
        if !change.changed {
            return Ok(());
        }
        if let Some(d) = normalize::text(&config, "digest") {
            form.push_str("digest", &d);
        }
        let p = path(&["nodes", node, "lxc", &vmid.to_string(), "config"]);
        self.put_wait(&p, &form, ctx).await
    }

    async fn update_ct(
        &self,
        ctx: &OpContext,
        req: &Update<CtSpec>,
    ) -> Result<Found<CtSpec>, ProviderError> {
        let (tag, marker) = (req.owner.tag(), req.owner.marker());
        let spec = &req.spec;
        ct_runtime::check_secrets(spec)?;
        let mut u = self.start_guest_update(req).await?;
        let (config, form) = (&u.config, &mut u.form);
        let host_managed = request::host_managed_slots(config);
        request::ct_settings(form, spec, &u.macs, &host_managed, &tag, &marker);
        let mut remove: Vec<String> = Vec::new();
        if req.changed("entrypoint") || req.changed("env") || req.changed("env_secrets") {
            let owned_before = req.prior.env_names();
            if ct_runtime::settle(form, config, spec, &owned_before).delete_env {
                remove.push("env".into());
            }
        }
        // Mount points: add new slots now; grow existing ones (and the
        // root filesystem) with resize below.
        let mut resizes: Vec<(String, i64)> = Vec::new();
        if req.changed("mountpoints") || req.changed("rootfs") {
            let wanted = spec.mountpoints.as_deref().unwrap_or_default();
            for m in wanted {
                let gb = m.size_gb.unwrap_or(0);
                match disk_size(config, &m.slot) {
                    None => form.push_str(
                        &m.slot,
                        &request::ct_volume(&m.storage, m.size_gb, Some(&m.path)),
                    ),
                    Some(cur) if gb as u64 > cur => resizes.push((m.slot.clone(), gb)),
                    Some(_) => {}
                }
            }
            remove.extend(
                req.prior
                    .mountpoints
                    .iter()
                    .flatten()
                    .filter(|old| !wanted.iter().any(|m| m.slot == old.slot))
                    .map(|old| old.slot.clone()),
            );
            if let Some(r) = &spec.rootfs {
                let gb = r.size_gb.unwrap_or(0);
                if disk_size(config, "rootfs").is_some_and(|cur| gb as u64 > cur) {
                    resizes.push(("rootfs".into(), gb));
                }
            }
        }
        self.finish_guest_update(ctx, req, u, remove, resizes).await
    }
}

/// A new OS template (another file, or the same file downloaded anew)
/// means a new container.
fn schema() -> KindSchema {
    super::schema(
        vec![
            "node",
            "vmid",
            "ostemplate",
            "ostemplate_file",
            "unprivileged",
            "password",
            "ssh_keys",
        ],
        vec![],
        [30, 3, 10],
    )
}

guest_kind_provider!(CtSpec, schema, create_ct, update_ct);
