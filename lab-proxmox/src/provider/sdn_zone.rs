//! `proxmox.sdn_zone`: `/cluster/sdn/zones`, each write followed by the
//! apply (`PUT /cluster/sdn`, see [`super::sdn`]). The id and the type
//! force replacement (PVE cannot change a zone's type); `bridge`, `mtu`
//! and `nodes` change in place, `delete=` removing what the code no longer
//! says.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{
    FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverRequest, StepReview,
};
use lab_core::{Address, Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::sdn::{already_defined, exact_diff, int, missing, text, SdnObject};
use super::{err, ProxmoxProvider, Snapshot};
use crate::api::{path, Form};
use crate::kinds::{SdnZoneOutputs, SdnZoneSpec};

const FORCE_NEW: &[&str] = &["zone", "type"];

/// A zone as PVE answers it (one face of the pending view).
fn observe(m: &Map<String, Json>, id: &str) -> SdnZoneSpec {
    let nodes = text(m, "nodes").map(|n| {
        let mut list: Vec<String> = n
            .split([',', ';', ' '])
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        list.sort();
        list
    });
    SdnZoneSpec {
        zone: id.to_string(),
        zone_type: text(m, "type").unwrap_or_default(),
        bridge: text(m, "bridge"),
        mtu: int(m, "mtu"),
        nodes,
    }
}

fn found(id: &str, spec: SdnZoneSpec) -> Found<SdnZoneSpec> {
    Found {
        id: id.to_string(),
        spec,
        outputs: SdnZoneOutputs {},
    }
}

/// The spec with its lists sorted as PVE keeps them.
fn canonical(spec: &SdnZoneSpec) -> SdnZoneSpec {
    let mut s = spec.clone();
    if let Some(n) = &mut s.nodes {
        n.sort();
        n.dedup();
    }
    s
}

/// What a refresh reports for a zone recorded as `prior` (see
/// [`super::sdn`]): the configuration, or the running face when only the
/// apply of the recorded configuration is missing.
fn choose(obj: &SdnObject, id: &str, prior: &SdnZoneSpec) -> Option<SdnZoneSpec> {
    let config = obj.config.as_ref().map(|m| observe(m, id));
    if obj.pending() && config.as_ref() == Some(&canonical(prior)) {
        return obj.running.as_ref().map(|m| observe(m, id));
    }
    config
}

/// The options a write sends (without `zone` and `type`); with `delete`,
/// the optional ones the spec leaves out.
fn zone_form(spec: &SdnZoneSpec, delete: Option<&mut Vec<&'static str>>) -> Form {
    let mut form = Form::new();
    if let Some(b) = &spec.bridge {
        form.push_str("bridge", b);
    }
    if let Some(mtu) = spec.mtu {
        form.push_int("mtu", mtu);
    }
    let nodes = canonical(spec).nodes.filter(|n| !n.is_empty());
    if let Some(n) = &nodes {
        form.push_str("nodes", &n.join(","));
    }
    if let Some(d) = delete {
        if spec.mtu.is_none() {
            d.push("mtu");
        }
        if nodes.is_none() {
            d.push("nodes");
        }
    }
    form
}

impl ProxmoxProvider {
    /// The zone's configuration now (`None`: not defined).
    async fn sdn_zone_config(&self, id: &str) -> Result<Option<SdnZoneSpec>, ProviderError> {
        match self
            .client
            .get::<Map<String, Json>>(&path(&["cluster", "sdn", "zones", id]), &[])
            .await
        {
            Ok(m) => Ok(Some(observe(&m, id))),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }
}

#[async_trait]
impl KindProvider<SdnZoneSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(FORCE_NEW.to_vec(), vec![], [2, 2, 2])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        exact_diff(FORCE_NEW, desired, observed)
    }

    fn limits(&self, _op: OpKind, _address: &Address, _spec: &SdnZoneSpec) -> Vec<lab_core::Limit> {
        super::sdn::limits()
    }

    fn review(&self, _review: &StepReview<'_>) -> Result<Vec<String>, String> {
        Ok(vec![super::sdn::APPLY_NOTE.to_string()])
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<SdnZoneSpec>],
    ) -> Result<Vec<Option<Found<SdnZoneSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let obj = snapshot.sdn.zones.get(&r.id)?;
                choose(obj, &r.id, &r.prior).map(|s| found(&r.id, s))
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<SdnZoneSpec>,
    ) -> Result<Found<SdnZoneSpec>, ProviderError> {
        let spec = canonical(&req.spec);
        let mut form = zone_form(&spec, None);
        form.push_str("zone", &spec.zone);
        form.push_str("type", &spec.zone_type);
        match self.client.post("/cluster/sdn/zones", &form).await {
            Ok(_) => {}
            Err(e) if already_defined(&e) => {
                let have = self.sdn_zone_config(&spec.zone).await?;
                if have.as_ref() != Some(&spec) {
                    return Err(ProviderError::permanent(format!(
                        "SDN zone `{}` already exists in the cluster and differs from the code \
                         (it is {:?}); delete it in Datacenter > SDN > Zones, or write the code \
                         to match it so the lab adopts it",
                        spec.zone, have
                    )));
                }
            }
            Err(e) => return Err(err(e)),
        }
        self.sdn_apply(ctx).await?;
        let id = spec.zone.clone();
        Ok(found(&id, spec))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<SdnZoneSpec>,
    ) -> Result<Found<SdnZoneSpec>, ProviderError> {
        let spec = canonical(&req.spec);
        let mut delete = Vec::new();
        let mut form = zone_form(&spec, Some(&mut delete));
        if !delete.is_empty() {
            form.push_str("delete", &delete.join(","));
        }
        self.client
            .put(&path(&["cluster", "sdn", "zones", &req.id]), &form)
            .await
            .map_err(err)?;
        self.sdn_apply(ctx).await?;
        Ok(found(&req.id, spec))
    }

    async fn delete(&self, ctx: &OpContext, req: Delete<SdnZoneSpec>) -> Result<(), ProviderError> {
        match self
            .client
            .delete(&path(&["cluster", "sdn", "zones", &req.id]), &[])
            .await
        {
            Ok(_) => {}
            Err(e) if missing(&e) => {}
            Err(e) if e.message.contains("is used by vnet") => {
                return Err(ProviderError::permanent(format!(
                    "{e}; delete the VNets of zone `{}` first (remove their `Vnet`s from the \
                     code, or delete them in Datacenter > SDN > VNets)",
                    req.id
                )))
            }
            Err(e) => return Err(err(e)),
        }
        self.sdn_apply(ctx).await
    }

    /// The zone with the desired id, when its configuration is what the
    /// code says (SDN objects carry no marker).
    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&SdnZoneSpec>,
    ) -> Result<Vec<Found<SdnZoneSpec>>, ProviderError> {
        let Some(desired) = desired else {
            return Ok(vec![]);
        };
        let id = desired.zone.as_str();
        let _ = owner;
        Ok(self
            .sdn_zone_config(id)
            .await?
            .filter(|have| *have == canonical(desired))
            .map(|have| vec![found(id, have)])
            .unwrap_or_default())
    }

    /// After a crash during a create: a zone with this id and the code's
    /// configuration is adopted (the next plan applies it if it is not
    /// live yet).
    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&SdnZoneSpec>,
    ) -> Result<Recovery<SdnZoneSpec>, ProviderError> {
        if req.action != OpKind::Create {
            return Ok(Recovery::default());
        }
        let found = KindProvider::<SdnZoneSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(super::recover::marker_less(req, found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(mtu: Option<i64>) -> SdnZoneSpec {
        SdnZoneSpec {
            zone: "lab".into(),
            zone_type: "vlan".into(),
            bridge: Some("vmbr0".into()),
            mtu,
            nodes: Some(vec!["pve1".into(), "pve2".into()]),
        }
    }

    #[test]
    fn a_recorded_zone_not_yet_applied_reads_as_what_runs() {
        let changed = json!({"zone": "lab", "type": "vlan", "bridge": "vmbr0",
            "nodes": "pve1,pve2", "state": "changed", "pending": {"mtu": 9000}});
        let obj = SdnObject::from_pending(changed.as_object().unwrap());
        // Recorded with the MTU: only the apply is missing.
        assert_eq!(choose(&obj, "lab", &spec(Some(9000))), Some(spec(None)));
        // Recorded without: the pending MTU is someone's change (drift).
        assert_eq!(choose(&obj, "lab", &spec(None)), Some(spec(Some(9000))));
    }

    #[test]
    fn updates_delete_what_the_code_leaves_out() {
        let mut delete = Vec::new();
        let mut s = spec(None);
        s.nodes = None;
        let form = zone_form(&s, Some(&mut delete));
        assert_eq!(form.keys(), ["bridge"]);
        assert_eq!(delete, ["mtu", "nodes"]);
    }
}
