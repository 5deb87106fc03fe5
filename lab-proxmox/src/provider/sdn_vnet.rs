//! `proxmox.sdn_vnet`: `/cluster/sdn/vnets` and each VNet's
//! `/subnets`, each write followed by the apply (`PUT /cluster/sdn`, see
//! [`super::sdn`]).
//!
//! - Create: the VNet, then its subnets (`POST .../subnets` with
//!   `subnet=<cidr>`, `type=subnet`; PVE names them
//!   `<zone>-<network>-<prefix>`), then the apply.
//! - Update: `PUT` of the VNet's options (`delete=` for what the code no
//!   longer says), then the subnets brought to the code's list (created,
//!   `PUT` with `delete=`, deleted). PVE refuses a new zone while subnets
//!   exist (`can't change zone if subnets exist`) and the subnets' ids
//!   carry the zone, so a move deletes them first and makes them again in
//!   the new zone.
//! - Delete: the subnets first (PVE refuses `Can't delete vnet if subnets
//!   exists`), then the VNet, then the apply.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{
    FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverRequest, StepReview,
};
use lab_core::{Address, Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::sdn::{already_defined, exact_diff, flag, int, missing, text, SdnObject};
use super::{err, ProxmoxProvider, Snapshot};
use crate::api::{path, ApiError, Form};
use crate::kinds::{SdnSubnet, SdnVnetOutputs, SdnVnetSpec};

const FORCE_NEW: &[&str] = &["vnet"];

/// A VNet's options as PVE answers them (one face), subnets apart.
fn observe(m: &Map<String, Json>, id: &str, subnets: Vec<SdnSubnet>) -> SdnVnetSpec {
    SdnVnetSpec {
        vnet: id.to_string(),
        zone: text(m, "zone").unwrap_or_default(),
        tag: int(m, "tag"),
        alias: text(m, "alias"),
        isolate_ports: flag(m, "isolate-ports"),
        subnets: (!subnets.is_empty()).then_some(subnets),
    }
}

/// One subnet as PVE answers it, with its id.
fn subnet(m: &Map<String, Json>) -> Option<(String, SdnSubnet)> {
    let id = text(m, "subnet")?;
    let cidr = text(m, "cidr").or_else(|| {
        let mut parts = id.splitn(3, '-').skip(1);
        Some(format!("{}/{}", parts.next()?, parts.next()?))
    })?;
    Some((
        id,
        SdnSubnet {
            cidr,
            gateway: text(m, "gateway"),
            snat: flag(m, "snat"),
        },
    ))
}

fn sorted(mut list: Vec<SdnSubnet>) -> Vec<SdnSubnet> {
    list.sort();
    list
}

fn canonical(spec: &SdnVnetSpec) -> SdnVnetSpec {
    let mut s = spec.clone();
    s.subnets = s.subnets.map(sorted).filter(|l| !l.is_empty());
    s
}

fn found(id: &str, spec: SdnVnetSpec) -> Found<SdnVnetSpec> {
    Found {
        id: id.to_string(),
        spec,
        outputs: SdnVnetOutputs {},
    }
}

/// What a refresh reports for a VNet recorded as `prior` (see
/// [`super::sdn`]); the VNet is pending when it or one of its subnets is.
fn choose(
    obj: &SdnObject,
    subnets: &[SdnObject],
    id: &str,
    prior: &SdnVnetSpec,
) -> Option<SdnVnetSpec> {
    let face = |config: bool| {
        let pick = |o: &SdnObject| {
            if config {
                o.config.clone()
            } else {
                o.running.clone()
            }
        };
        let list: Vec<SdnSubnet> = subnets
            .iter()
            .filter_map(pick)
            .filter_map(|m| subnet(&m).map(|(_, s)| s))
            .collect();
        pick(obj).map(|m| observe(&m, id, sorted(list)))
    };
    let config = face(true);
    let pending = obj.pending() || subnets.iter().any(SdnObject::pending);
    if pending && config.as_ref() == Some(&canonical(prior)) {
        return face(false);
    }
    config
}

/// The VNet's options (without `vnet`); with `delete`, the optional ones
/// the spec leaves out.
fn vnet_form(spec: &SdnVnetSpec, delete: Option<&mut Vec<&'static str>>) -> Form {
    let mut form = Form::new();
    form.push_str("zone", &spec.zone);
    let mut absent = Vec::new();
    match spec.tag {
        Some(t) => form.push_int("tag", t),
        None => absent.push("tag"),
    }
    match &spec.alias {
        Some(a) => form.push_str("alias", a),
        None => absent.push("alias"),
    }
    match spec.isolate_ports {
        Some(i) => form.push_bool("isolate-ports", i),
        None => absent.push("isolate-ports"),
    }
    if let Some(d) = delete {
        d.extend(absent);
    }
    form
}

/// A subnet's options (without its id and `vnet`); with `delete`, the
/// optional ones it leaves out.
fn subnet_form(s: &SdnSubnet, delete: Option<&mut Vec<&'static str>>) -> Form {
    let mut form = Form::new();
    let mut absent = Vec::new();
    match &s.gateway {
        Some(g) => form.push_str("gateway", g),
        None => absent.push("gateway"),
    }
    match s.snat {
        Some(n) => form.push_bool("snat", n),
        None => absent.push("snat"),
    }
    if let Some(d) = delete {
        d.extend(absent);
    }
    form
}

impl ProxmoxProvider {
    /// The VNet's configuration (`None`: not defined) and its subnets by id.
    async fn sdn_vnet_config(
        &self,
        id: &str,
    ) -> Result<Option<(SdnVnetSpec, Vec<(String, SdnSubnet)>)>, ProviderError> {
        let m: Map<String, Json> = match self
            .client
            .get(&path(&["cluster", "sdn", "vnets", id]), &[])
            .await
        {
            Ok(m) => m,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let list: Vec<Map<String, Json>> = self
            .client
            .get(&path(&["cluster", "sdn", "vnets", id, "subnets"]), &[])
            .await
            .map_err(err)?;
        let subnets: Vec<(String, SdnSubnet)> = list.iter().filter_map(subnet).collect();
        let spec = observe(
            &m,
            id,
            sorted(subnets.iter().map(|(_, s)| s.clone()).collect()),
        );
        Ok(Some((spec, subnets)))
    }

    /// Brings the subnets of `vnet` from `current` (by id) to `desired`.
    async fn sync_subnets(
        &self,
        vnet: &str,
        current: &[(String, SdnSubnet)],
        desired: &[SdnSubnet],
    ) -> Result<(), ProviderError> {
        let base = path(&["cluster", "sdn", "vnets", vnet, "subnets"]);
        for (id, have) in current {
            if !desired.iter().any(|d| d.cidr == have.cidr) {
                match self
                    .client
                    .delete(&format!("{base}/{}", crate::api::percent_encode(id)), &[])
                    .await
                {
                    Ok(_) => {}
                    Err(e) if missing(&e) => {}
                    Err(e) => return Err(err(e)),
                }
            }
        }
        for want in desired {
            match current.iter().find(|(_, h)| h.cidr == want.cidr) {
                Some((_, have)) if have == want => {}
                Some((id, _)) => {
                    let mut delete = Vec::new();
                    let mut form = subnet_form(want, Some(&mut delete));
                    if !delete.is_empty() {
                        form.push_str("delete", &delete.join(","));
                    }
                    self.client
                        .put(&format!("{base}/{}", crate::api::percent_encode(id)), &form)
                        .await
                        .map_err(err)?;
                }
                None => {
                    let mut form = subnet_form(want, None);
                    form.push_str("subnet", &want.cidr);
                    form.push_str("type", "subnet");
                    self.client.post(&base, &form).await.map_err(err)?;
                }
            }
        }
        Ok(())
    }
}

/// PVE's refusal of a VNet, with what to do.
fn vnet_error(e: ApiError, spec: &SdnVnetSpec) -> ProviderError {
    let hint = if e.message.contains("already exist in vnet") {
        format!(
            "give VNet `{}` a tag no other VNet of zone `{}` has",
            spec.vnet, spec.zone
        )
    } else if e.message.contains("unknown section type") {
        format!(
            "zone `{}` does not exist: declare it with `SdnZone` and pass its handle",
            spec.zone
        )
    } else {
        return err(e);
    };
    ProviderError::permanent(format!("{e}; {hint}"))
}

#[async_trait]
impl KindProvider<SdnVnetSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(FORCE_NEW.to_vec(), vec![], [2, 2, 2])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        exact_diff(FORCE_NEW, desired, observed)
    }

    fn limits(&self, _op: OpKind, _address: &Address, _spec: &SdnVnetSpec) -> Vec<lab_core::Limit> {
        super::sdn::limits()
    }

    fn review(&self, _review: &StepReview<'_>) -> Result<Vec<String>, String> {
        Ok(vec![super::sdn::APPLY_NOTE.to_string()])
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<SdnVnetSpec>],
    ) -> Result<Vec<Option<Found<SdnVnetSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let obj = snapshot.sdn.vnets.get(&r.id)?;
                let subnets = snapshot
                    .sdn
                    .subnets
                    .get(&r.id)
                    .map_or(&[][..], Vec::as_slice);
                choose(obj, subnets, &r.id, &r.prior).map(|s| found(&r.id, s))
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<SdnVnetSpec>,
    ) -> Result<Found<SdnVnetSpec>, ProviderError> {
        let spec = canonical(&req.spec);
        let mut form = vnet_form(&spec, None);
        form.push_str("vnet", &spec.vnet);
        let current = match self.client.post("/cluster/sdn/vnets", &form).await {
            Ok(_) => Vec::new(),
            Err(e) if already_defined(&e) => {
                // Adopted only when it is this VNet, its subnets a part of
                // the code's (an earlier try may have made some).
                let have = self.sdn_vnet_config(&spec.vnet).await?;
                let fits = have.as_ref().is_some_and(|(h, subnets)| {
                    h.zone == spec.zone
                        && h.tag == spec.tag
                        && h.alias == spec.alias
                        && h.isolate_ports == spec.isolate_ports
                        && subnets
                            .iter()
                            .all(|(_, s)| spec.subnets.iter().flatten().any(|d| d == s))
                });
                if !fits {
                    return Err(ProviderError::permanent(format!(
                        "SDN VNet `{}` already exists in the cluster and differs from the code \
                         (it is {:?}); delete it in Datacenter > SDN > VNets, or write the code \
                         to match it so the lab adopts it",
                        spec.vnet,
                        have.map(|(h, _)| h)
                    )));
                }
                have.map(|(_, s)| s).unwrap_or_default()
            }
            Err(e) => return Err(vnet_error(e, &spec)),
        };
        self.sync_subnets(&spec.vnet, &current, spec.subnets.as_deref().unwrap_or(&[]))
            .await?;
        self.sdn_apply(ctx).await?;
        let id = spec.vnet.clone();
        Ok(found(&id, spec))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<SdnVnetSpec>,
    ) -> Result<Found<SdnVnetSpec>, ProviderError> {
        let spec = canonical(&req.spec);
        let Some((have, mut current)) = self.sdn_vnet_config(&req.id).await? else {
            return Err(ProviderError::permanent(format!(
                "SDN VNet `{}` is gone; the next plan creates it",
                req.id
            )));
        };
        if have.zone != spec.zone && !current.is_empty() {
            self.sync_subnets(&req.id, &current, &[]).await?;
            current.clear();
        }
        let mut delete = Vec::new();
        let mut form = vnet_form(&spec, Some(&mut delete));
        if !delete.is_empty() {
            form.push_str("delete", &delete.join(","));
        }
        self.client
            .put(&path(&["cluster", "sdn", "vnets", &req.id]), &form)
            .await
            .map_err(|e| vnet_error(e, &spec))?;
        self.sync_subnets(&req.id, &current, spec.subnets.as_deref().unwrap_or(&[]))
            .await?;
        self.sdn_apply(ctx).await?;
        Ok(found(&req.id, spec))
    }

    async fn delete(&self, ctx: &OpContext, req: Delete<SdnVnetSpec>) -> Result<(), ProviderError> {
        if let Some((_, current)) = self.sdn_vnet_config(&req.id).await? {
            self.sync_subnets(&req.id, &current, &[]).await?;
            match self
                .client
                .delete(&path(&["cluster", "sdn", "vnets", &req.id]), &[])
                .await
            {
                Ok(_) => {}
                Err(e) if missing(&e) => {}
                Err(e) => return Err(err(e)),
            }
        }
        self.sdn_apply(ctx).await
    }

    /// The VNet with the desired id, when its configuration (subnets
    /// included) is what the code says.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&SdnVnetSpec>,
    ) -> Result<Vec<Found<SdnVnetSpec>>, ProviderError> {
        let Some(desired) = desired else {
            return Ok(vec![]);
        };
        let id = desired.vnet.as_str();
        Ok(self
            .sdn_vnet_config(id)
            .await?
            .filter(|(have, _)| *have == canonical(desired))
            .map(|(have, _)| vec![found(id, have)])
            .unwrap_or_default())
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&SdnVnetSpec>,
    ) -> Result<Recovery<SdnVnetSpec>, ProviderError> {
        if req.action != OpKind::Create {
            return Ok(Recovery::default());
        }
        let found = KindProvider::<SdnVnetSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(super::recover::marker_less(req, found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Json) -> SdnObject {
        SdnObject::from_pending(v.as_object().unwrap())
    }

    #[test]
    fn a_pending_subnet_makes_the_vnet_pending() {
        let vnet = obj(json!({"vnet": "dmz", "type": "vnet", "zone": "lab", "tag": 40}));
        let subnets = [obj(json!({"subnet": "lab-10.0.40.0-24", "type": "subnet",
            "vnet": "dmz", "cidr": "10.0.40.0/24", "state": "new",
            "pending": {"gateway": "10.0.40.1"}}))];
        let prior = SdnVnetSpec {
            vnet: "dmz".into(),
            zone: "lab".into(),
            tag: Some(40),
            alias: None,
            isolate_ports: None,
            subnets: Some(vec![SdnSubnet {
                cidr: "10.0.40.0/24".into(),
                gateway: Some("10.0.40.1".into()),
                snat: None,
            }]),
        };
        let seen = choose(&vnet, &subnets, "dmz", &prior).unwrap();
        assert_eq!(seen.subnets, None, "the subnet is not live yet");
        let mut other = prior.clone();
        other.tag = Some(41);
        assert_eq!(choose(&vnet, &subnets, "dmz", &other), Some(prior));
    }
}
