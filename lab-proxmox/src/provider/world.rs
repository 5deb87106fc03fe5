//! Reading the world the plan-time checks compare the plan with
//! ([`crate::checks::world`]): the cluster's nodes, what each online node
//! reports of its storages (content, shared, enabled and active, free
//! space), and where existing templates cloned across nodes keep their
//! disks. A handful of reads, once per plan, only when the plan changes
//! something of this provider's.

use lab_core::plan::Action;
use lab_core::{OpContext, PlanCheck, ProviderError};
use serde_json::{Map, Value as Json};

use super::normalize::{is_disk_slot, text, volume_storage};
use super::{err, ProxmoxProvider};
use crate::checks::oci::step_needs_oci;
use crate::checks::world::{World, WorldNode, WorldStorage};
use crate::kinds;

fn number(m: &Map<String, Json>, key: &str) -> Option<u64> {
    text(m, key)?.trim().parse::<f64>().ok().map(|v| v as u64)
}

fn flag(m: &Map<String, Json>, key: &str, default: bool) -> bool {
    text(m, key).map_or(default, |v| matches!(v.trim(), "1" | "true"))
}

fn storage(m: &Map<String, Json>) -> Option<WorldStorage> {
    Some(WorldStorage {
        id: text(m, "storage")?,
        content: text(m, "content")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect(),
        shared: flag(m, "shared", false),
        usable: flag(m, "enabled", true) && flag(m, "active", true),
        avail: number(m, "avail"),
    })
}

impl ProxmoxProvider {
    /// The version of each online node the plan pulls an OCI image on or
    /// writes a container's `entrypoint`/`env` on (one read each).
    async fn node_versions(
        &self,
        ctx: &OpContext,
        plan: &PlanCheck<'_>,
        world: &mut World,
    ) -> Result<(), ProviderError> {
        let mut wanted: Vec<String> = Vec::new();
        for step in &plan.steps {
            let Some(spec) = plan.spec(step) else {
                continue;
            };
            if !step_needs_oci(step, spec) {
                continue;
            }
            if let Some(on) = spec.attrs.get("node").and_then(|v| v.as_str()) {
                if !wanted.iter().any(|w| w == on) {
                    wanted.push(on.to_string());
                }
            }
        }
        for node in world
            .nodes
            .iter_mut()
            .filter(|n| n.storages.is_some() && wanted.contains(&n.name))
        {
            ctx.throttle().await;
            let v: Map<String, Json> = self
                .client
                .get(&crate::api::path(&["nodes", &node.name, "version"]), &[])
                .await
                .map_err(err)?;
            node.version = text(&v, "version");
        }
        Ok(())
    }

    /// Reads the [`World`] `plan` is checked against.
    pub(super) async fn world(
        &self,
        ctx: &OpContext,
        plan: &PlanCheck<'_>,
    ) -> Result<World, ProviderError> {
        ctx.throttle().await;
        let nodes: Vec<Map<String, Json>> = self.client.get("/nodes", &[]).await.map_err(err)?;
        let mut world = World::default();
        for n in &nodes {
            let Some(name) = text(n, "node") else {
                continue;
            };
            let storages = if text(n, "status").as_deref() == Some("online") {
                ctx.throttle().await;
                let list: Vec<Map<String, Json>> = self
                    .client
                    .get(&crate::api::path(&["nodes", &name, "storage"]), &[])
                    .await
                    .map_err(err)?;
                Some(list.iter().filter_map(storage).collect())
            } else {
                None
            };
            world.nodes.push(WorldNode {
                name,
                storages,
                bridges: None,
                version: None,
            });
        }
        self.sdn_bridges(ctx, plan, &mut world).await?;
        self.node_versions(ctx, plan, &mut world).await?;
        // Existing templates cloned onto another node: where are their disks?
        for step in &plan.steps {
            if step.address.kind() != kinds::VM
                || !matches!(step.action, Action::Create | Action::Replace)
            {
                continue;
            }
            let Some(vm) = plan.spec(step) else { continue };
            let template = vm
                .attrs
                .get("clone_from")
                .and_then(|v| v.as_str())
                .and_then(lab_core::Address::parse)
                .and_then(|a| plan.lab.resource(&a))
                .filter(|t| !t.managed);
            let Some(template) = template else { continue };
            let at = |s: &lab_core::ResourceSpec, k: &str| {
                s.attrs.get(k).and_then(|v| v.as_str()).map(String::from)
            };
            let (Some(from), Some(on), Some(vmid)) = (
                at(template, "node"),
                at(vm, "node"),
                template.attrs.get("vmid").and_then(|v| v.as_i64()),
            ) else {
                continue;
            };
            if from == on || world.template_storages.contains_key(&(from.clone(), vmid)) {
                continue;
            }
            ctx.throttle().await;
            let config: Result<Map<String, Json>, _> = self
                .client
                .get(
                    &crate::api::path(&["nodes", &from, "qemu", &vmid.to_string(), "config"]),
                    &[],
                )
                .await;
            // A template that is not there is for the clone to report.
            let Ok(config) = config else { continue };
            let storages: Vec<String> = config
                .iter()
                .filter(|(k, _)| is_disk_slot(k))
                .filter_map(|(_, v)| v.as_str())
                .filter(|v| !v.contains("media=cdrom"))
                .filter_map(|v| v.split(',').next())
                .map(|volid| volume_storage(volid).to_string())
                .collect();
            world.template_storages.insert((from, vmid), storages);
        }
        Ok(world)
    }
}
