//! What the SDN kinds (`sdn_zone`, `sdn_vnet`) share: the bulk refresh,
//! PVE's pending/running views, the apply, the exact diff and the one
//! limit key.
//!
//! PVE keeps every SDN write pending until `PUT /cluster/sdn` applies the
//! whole configuration at once (pve-network `SDN.pm commit_config`, then a
//! `reloadnetworkall` task). So every create, update and delete here writes
//! and then applies, waiting for the task: what `apply` reports done is
//! live. The apply is cluster-wide (it also makes live what someone else
//! left pending), so SDN operations hold one limit key,
//! `proxmox:sdn`, one at a time: no apply lands between another
//! operation's writes.
//!
//! **Refresh** lists `/cluster/sdn/zones?pending=1` and
//! `/cluster/sdn/vnets?pending=1` once each, and the subnets of each
//! managed VNet. From PVE's pending view each object has two faces: the
//! configuration (what the next apply makes live) and the running one. A
//! refresh reports the configuration, so a change made by hand shows as
//! drift whether or not it was applied; when the configuration is exactly
//! what the lab recorded but is not live yet (a run that died between the
//! write and the apply), it reports the running face, so the plan updates
//! (or creates) it and that step applies.
//!
//! **Adoption** is by id (SDN objects carry no comment for a marker): a
//! create that meets `... object ID '<id>' already defined` takes the
//! existing object when its configuration is what the code says, and
//! otherwise stops with what differs.

use std::collections::HashMap;

use lab_core::plan::Action;
use lab_core::provider::{FieldChange, Limit, OpContext, ReadRequest};
use lab_core::{Attrs, PlanCheck, ProviderError, Value};
use serde_json::{Map, Value as Json};

use super::{err, normalize, ProxmoxProvider, Snapshot};
use crate::api::{path, ApiError, Form, NetworkIface};
use crate::checks::world::{World, WorldBridge};
use crate::kinds;

/// The plan note of every SDN step: the apply is cluster-wide.
pub(super) const APPLY_NOTE: &str = "applies the cluster's SDN configuration \
     (PUT /cluster/sdn): changes left pending by hand become live too";

/// The limit every SDN operation holds: one at a time per cluster.
pub(super) fn limits() -> Vec<Limit> {
    vec![Limit::operation("proxmox:sdn", 1)]
}

/// One object of a `?pending=1` listing, both faces.
#[derive(Clone, Debug, Default)]
pub(crate) struct SdnObject {
    /// The configuration (`None`: deleted, pending).
    pub config: Option<Map<String, Json>>,
    /// What runs (`None`: never applied).
    pub running: Option<Map<String, Json>>,
}

impl SdnObject {
    /// Splits a `pending_config` entry into its two faces.
    pub(crate) fn from_pending(m: &Map<String, Json>) -> Self {
        let state = normalize::text(m, "state");
        let mut running = Map::new();
        for (k, v) in m {
            if !matches!(k.as_str(), "digest" | "state" | "pending") {
                running.insert(k.clone(), v.clone());
            }
        }
        let mut config = running.clone();
        if let Some(Json::Object(p)) = m.get("pending") {
            for (k, v) in p {
                if v.as_str() == Some("deleted") {
                    config.remove(k);
                } else {
                    config.insert(k.clone(), v.clone());
                }
            }
        }
        SdnObject {
            config: (state.as_deref() != Some("deleted")).then_some(config),
            running: (state.as_deref() != Some("new")).then_some(running),
        }
    }

    /// Whether the two faces differ (something is pending).
    pub(crate) fn pending(&self) -> bool {
        let flat = |m: &Option<Map<String, Json>>| {
            m.as_ref().map(|m| {
                m.keys()
                    .map(|k| (k.clone(), normalize::text(m, k)))
                    .collect::<std::collections::BTreeMap<_, _>>()
            })
        };
        flat(&self.config) != flat(&self.running)
    }
}

/// What the refresh read of SDN: objects by id, subnets by VNet.
#[derive(Debug, Default)]
pub(crate) struct SdnSnapshot {
    pub zones: HashMap<String, SdnObject>,
    pub vnets: HashMap<String, SdnObject>,
    pub subnets: HashMap<String, Vec<SdnObject>>,
}

impl ProxmoxProvider {
    /// `GET <list>?pending=1`, by `key`.
    pub(super) async fn sdn_listing(
        &self,
        list: &str,
        key: &str,
    ) -> Result<HashMap<String, SdnObject>, ProviderError> {
        let items: Vec<Map<String, Json>> = self
            .client
            .get(list, &[("pending", "1".to_string())])
            .await
            .map_err(err)?;
        Ok(items
            .iter()
            .filter_map(|m| Some((normalize::text(m, key)?, SdnObject::from_pending(m))))
            .collect())
    }

    /// The subnets of `vnet` (`?pending=1`); none when the VNet is gone.
    pub(super) async fn sdn_subnets(&self, vnet: &str) -> Result<Vec<SdnObject>, ProviderError> {
        let items: Result<Vec<Map<String, Json>>, ApiError> = self
            .client
            .get(
                &path(&["cluster", "sdn", "vnets", vnet, "subnets"]),
                &[("pending", "1".to_string())],
            )
            .await;
        match items {
            Ok(items) => Ok(items.iter().map(SdnObject::from_pending).collect()),
            Err(e) if e.kind == crate::api::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(err(e)),
        }
    }

    /// The SDN part of a refresh: zones and VNets once each, the subnets
    /// of the VNets asked for.
    pub(super) async fn sdn_snapshot(
        &self,
        snap: &mut Snapshot,
        requests: &[ReadRequest],
    ) -> Result<(), ProviderError> {
        let needs = |kind: &str| requests.iter().any(|r| r.address.kind() == kind);
        if !needs(kinds::SDN_ZONE) && !needs(kinds::SDN_VNET) {
            return Ok(());
        }
        if needs(kinds::SDN_ZONE) {
            snap.sdn.zones = self.sdn_listing("/cluster/sdn/zones", "zone").await?;
        }
        if needs(kinds::SDN_VNET) {
            snap.sdn.vnets = self.sdn_listing("/cluster/sdn/vnets", "vnet").await?;
            for r in requests
                .iter()
                .filter(|r| r.address.kind() == kinds::SDN_VNET)
            {
                let id = r.id.clone();
                if snap.sdn.vnets.contains_key(&id) && !snap.sdn.subnets.contains_key(&id) {
                    let subnets = self.sdn_subnets(&id).await?;
                    snap.sdn.subnets.insert(id, subnets);
                }
            }
        }
        Ok(())
    }

    /// The bridges of every online node, when `plan` creates or changes a
    /// VLAN zone (for `proxmox::sdn-bridge-*`): one
    /// `GET /nodes/{node}/network?type=any_bridge` per node.
    pub(super) async fn sdn_bridges(
        &self,
        ctx: &OpContext,
        plan: &PlanCheck<'_>,
        world: &mut World,
    ) -> Result<(), ProviderError> {
        let needed = plan.steps.iter().any(|s| {
            s.address.kind() == kinds::SDN_ZONE
                && matches!(s.action, Action::Create | Action::Update | Action::Replace)
        });
        if !needed {
            return Ok(());
        }
        for node in world.nodes.iter_mut().filter(|n| n.storages.is_some()) {
            ctx.throttle().await;
            let list: Vec<NetworkIface> = self
                .client
                .get(
                    &path(&["nodes", &node.name, "network"]),
                    &[("type", "any_bridge".to_string())],
                )
                .await
                .map_err(err)?;
            // `any_bridge` lists the running VNets too (`type: vnet`).
            node.bridges = Some(
                list.into_iter()
                    .filter(|i| i.r#type != "vnet")
                    .map(|i| WorldBridge {
                        name: i.iface,
                        vlan_aware: i.bridge_vlan_aware.unwrap_or(false),
                    })
                    .collect(),
            );
        }
        Ok(())
    }

    /// `PUT /cluster/sdn` and the wait for its `reloadnetworkall` task:
    /// every pending SDN change becomes live.
    pub(super) async fn sdn_apply(&self, ctx: &OpContext) -> Result<(), ProviderError> {
        self.put_wait("/cluster/sdn", &Form::new(), ctx).await
    }
}

/// Whether an error is PVE's `... object ID '<id>' already defined`.
pub(super) fn already_defined(e: &ApiError) -> bool {
    e.message.contains("already defined")
}

/// Whether an error says the object is not there (`sdn '<id>' does not
/// exist`, `sdn vnet '<id>' does not exist`).
pub(super) fn missing(e: &ApiError) -> bool {
    e.kind == crate::api::ErrorKind::NotFound || e.message.contains("does not exist")
}

/// Lists PVE keeps unordered, sorted so desired and observed compare.
fn normalized(field: &str, v: &Value) -> Value {
    match (field, v) {
        ("nodes", Value::List(l)) => {
            let mut l = l.clone();
            l.sort_by_key(|x| x.as_str().map(str::to_string));
            Value::List(l)
        }
        ("subnets", Value::List(l)) => {
            let mut l = l.clone();
            l.sort_by_key(|x| match x {
                Value::Map(m) => m.get("cidr").and_then(|c| c.as_str().map(str::to_string)),
                _ => None,
            });
            Value::List(l)
        }
        _ => v.clone(),
    }
}

/// The exact diff of the SDN kinds: PVE reports no defaults for these
/// objects, so a field the code leaves out is a field the object must not
/// have (dropping `.node(..)` spans the zone over every node again,
/// dropping a subnet deletes it). `force_new` fields replace.
pub(super) fn exact_diff(
    force_new: &[&str],
    desired: &Attrs,
    observed: &Attrs,
) -> Vec<FieldChange> {
    let mut fields: Vec<&String> = desired.keys().collect();
    fields.extend(observed.keys().filter(|k| !desired.contains_key(*k)));
    let mut out = Vec::new();
    for field in fields {
        let want = desired
            .get(field)
            .filter(|v| !matches!(v, Value::Null))
            .map(|v| normalized(field, v));
        let have = observed
            .get(field)
            .filter(|v| !matches!(v, Value::Null))
            .map(|v| normalized(field, v));
        if want != have {
            out.push(FieldChange {
                field: field.clone(),
                before: have,
                after: want,
                forces_replacement: force_new.contains(&field.as_str()),
            });
        }
    }
    out
}

/// A text option of a PVE answer, non-empty.
pub(super) fn text(m: &Map<String, Json>, key: &str) -> Option<String> {
    normalize::text(m, key).filter(|v| !v.is_empty())
}

/// An integer option.
pub(super) fn int(m: &Map<String, Json>, key: &str) -> Option<i64> {
    text(m, key)?.trim().parse().ok()
}

/// A boolean option (0/1).
pub(super) fn flag(m: &Map<String, Json>, key: &str) -> Option<bool> {
    text(m, key).map(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_pending_view_has_two_faces() {
        let new = json!({"vnet": "dmz", "type": "vnet", "state": "new",
            "pending": {"zone": "lab", "tag": 40}});
        let o = SdnObject::from_pending(new.as_object().unwrap());
        assert!(o.running.is_none());
        assert_eq!(o.config.as_ref().unwrap()["tag"], 40);
        assert!(o.pending());
        let changed = json!({"vnet": "dmz", "type": "vnet", "zone": "lab", "tag": 40,
            "alias": "DMZ", "state": "changed", "pending": {"tag": 41, "alias": "deleted"}});
        let o = SdnObject::from_pending(changed.as_object().unwrap());
        assert_eq!(o.running.as_ref().unwrap()["tag"], 40);
        assert_eq!(o.config.as_ref().unwrap()["tag"], 41);
        assert!(!o.config.as_ref().unwrap().contains_key("alias"));
        let deleted = json!({"vnet": "dmz", "type": "vnet", "zone": "lab", "state": "deleted"});
        let o = SdnObject::from_pending(deleted.as_object().unwrap());
        assert!(o.config.is_none());
        let live = json!({"vnet": "dmz", "type": "vnet", "zone": "lab", "tag": 40});
        assert!(!SdnObject::from_pending(live.as_object().unwrap()).pending());
    }

    #[test]
    fn the_diff_is_exact_and_ignores_list_order() {
        let mut want = Attrs::new();
        want.insert("zone".into(), "lab".into());
        want.insert("nodes".into(), Value::from(vec!["pve2", "pve1"]));
        let mut have = want.clone();
        have.insert("nodes".into(), Value::from(vec!["pve1", "pve2"]));
        assert!(exact_diff(&[], &want, &have).is_empty());
        have.insert("mtu".into(), Value::Int(9000));
        let changes = exact_diff(&["zone"], &want, &have);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "mtu");
        assert_eq!(changes[0].after, None);
    }
}
