//! `proxmox.firewall_cluster`: `/cluster/firewall/options`. Create and
//! update `PUT` the options the lab sets (with the digest read just
//! before), never the others; delete sets `enable` back to 0 and leaves
//! the rest (the plan says so). There is one per cluster: its id is
//! `cluster`. The options carry no ownership marker; a create is an
//! idempotent `PUT`. Adoption takes them only when they are exactly what
//! the lab would write (a state behind the world): after a destroy (which
//! set `enable` back to 0) they are written again, not "found".

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext, Ownership, StepReview};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::firewall::{firewall_diff, option_texts};
use super::{err, ProxmoxProvider, Snapshot};
use crate::api::Form;
use crate::kinds::{ClusterFirewallOutputs, ClusterFirewallSpec};

const ID: &str = "cluster";

fn observe(options: &Map<String, Json>) -> Found<ClusterFirewallSpec> {
    let o = option_texts(options);
    let flag = |k: &str| o.get(k).map(|v| v != "0");
    Found {
        id: ID.to_string(),
        spec: ClusterFirewallSpec {
            enable: flag("enable").unwrap_or(false),
            policy_in: o.get("policy_in").cloned(),
            policy_out: o.get("policy_out").cloned(),
            policy_forward: o.get("policy_forward").cloned(),
            ebtables: flag("ebtables"),
            log_ratelimit: o.get("log_ratelimit").cloned(),
        },
        outputs: ClusterFirewallOutputs {},
    }
}

fn options_form(spec: &ClusterFirewallSpec) -> Form {
    let mut form = Form::new();
    form.push_bool("enable", spec.enable);
    for (key, value) in [
        ("policy_in", &spec.policy_in),
        ("policy_out", &spec.policy_out),
        ("policy_forward", &spec.policy_forward),
        ("log_ratelimit", &spec.log_ratelimit),
    ] {
        if let Some(v) = value {
            form.push_str(key, v);
        }
    }
    if let Some(e) = spec.ebtables {
        form.push_bool("ebtables", e);
    }
    form
}

impl ProxmoxProvider {
    async fn cluster_options(&self) -> Result<Map<String, Json>, ProviderError> {
        self.client
            .get("/cluster/firewall/options", &[])
            .await
            .map_err(err)
    }

    /// `PUT /cluster/firewall/options` with `form` and the current digest.
    async fn put_cluster_options(
        &self,
        mut form: Form,
    ) -> Result<Found<ClusterFirewallSpec>, ProviderError> {
        let now = self.cluster_options().await?;
        if let Some(d) = now.get("digest").and_then(Json::as_str) {
            form.push_str("digest", d);
        }
        self.client
            .put("/cluster/firewall/options", &form)
            .await
            .map_err(err)?;
        Ok(observe(&self.cluster_options().await?))
    }
}

#[async_trait]
impl KindProvider<ClusterFirewallSpec> for ProxmoxProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec![], vec![], [1, 1, 1])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        firewall_diff(
            &KindProvider::<ClusterFirewallSpec>::schema(self),
            desired,
            observed,
        )
    }

    /// Says what removing the resource later does (lab-core reviews no
    /// delete steps, so the note rides on the create).
    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        if review.prior.is_some() {
            return Ok(vec![]);
        }
        Ok(vec![
            "removing the cluster firewall from the lab sets `enable` back to 0 and leaves its other options as they are".to_string(),
        ])
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<ClusterFirewallSpec>],
    ) -> Result<Vec<Option<Found<ClusterFirewallSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|_| snapshot.firewall.cluster_options.as_ref().map(observe))
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<ClusterFirewallSpec>,
    ) -> Result<Found<ClusterFirewallSpec>, ProviderError> {
        self.put_cluster_options(options_form(&req.spec)).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<ClusterFirewallSpec>,
    ) -> Result<Found<ClusterFirewallSpec>, ProviderError> {
        self.put_cluster_options(options_form(&req.spec)).await
    }

    /// `enable: 0`; every other option stays.
    async fn delete(
        &self,
        _ctx: &OpContext,
        _req: Delete<ClusterFirewallSpec>,
    ) -> Result<(), ProviderError> {
        let mut form = Form::new();
        form.push_bool("enable", false);
        self.put_cluster_options(form).await.map(|_| ())
    }

    /// The options exist on every cluster and carry no marker: they are
    /// adopted only when they are what the lab would write.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        _owner: &Ownership,
        desired: Option<&ClusterFirewallSpec>,
    ) -> Result<Vec<Found<ClusterFirewallSpec>>, ProviderError> {
        let found = observe(&self.cluster_options().await?);
        Ok(match desired {
            Some(d) if *d == found.spec => vec![found],
            _ => Vec::new(),
        })
    }
}
