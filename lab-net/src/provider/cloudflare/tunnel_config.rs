//! `cloudflare.tunnel_config`: the tunnel's whole remote configuration.
//! A create or update `PUT`s the document (`{"config": …}`), reads it
//! back (`GET …/configurations`) and fails if Cloudflare holds something
//! else. A refresh reads the document and compares it as a whole: a rule
//! edited in the dashboard is drift, and the plan's update PUTs the code's
//! document again (the PUT replaces everything: one owner per tunnel). A
//! document lab-net cannot read into its types (a field it does not know)
//! shows as a first rule whose hostname is [`super::FOREIGN`] and whose
//! service names the JSON path. A delete PUTs the catch-all alone
//! (`http_status:404`): the tunnel stays up, serving nothing.
//!
//! The diff goes into the document: a changed rule shows as
//! `config.ingress[1].service = "…" -> "…"`, not as the whole document
//! twice.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{
    generic_diff, FieldChange, KindSchema, OpContext, ProviderError, StepReview,
};
use lab_core::{Attrs, Value};
use serde_json::{json, Value as Json};

use super::{estimates, Bound, CloudflareProvider, CloudflareSnapshot};
use crate::kinds::cloudflare::{
    IngressRule, TunnelConfigDocument, TunnelConfigOut, TunnelConfigSpec, CATCH_ALL_SERVICE,
};

/// Empty objects (`originRequest: {}`) left out: Cloudflare may add them.
fn without_empty_objects(v: &Json) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.iter()
                .filter(|(_, v)| !matches!(v, Json::Object(o) if o.is_empty()))
                .map(|(k, v)| (k.clone(), without_empty_objects(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(without_empty_objects).collect()),
        other => other.clone(),
    }
}

/// The document a configuration (`GET …/configurations`'s result) holds,
/// compared with `prior`; `None` when there is none.
pub(crate) fn observe(
    configuration: &Json,
    prior: &TunnelConfigDocument,
) -> Option<TunnelConfigDocument> {
    let config = configuration.get("config")?;
    if config.is_null() {
        return None;
    }
    let mut config = without_empty_objects(config);
    // `warp-routing: {enabled: false}` is what no warp-routing means.
    if prior.warp_routing.is_none()
        && config.pointer("/warp-routing/enabled") == Some(&Json::Bool(false))
    {
        if let Some(m) = config.as_object_mut() {
            m.remove("warp-routing");
        }
    }
    match serde_json::from_value::<TunnelConfigDocument>(config) {
        Ok(doc) => Some(doc),
        Err(e) => {
            let mut doc = prior.clone();
            doc.ingress.insert(
                0,
                IngressRule {
                    hostname: Some(super::FOREIGN.to_string()),
                    service: format!("not lab-net's shape: {}", e.to_string().replace('"', "`")),
                    ..IngressRule::default()
                },
            );
            Some(doc)
        }
    }
}

/// The changes that turn `have` into `want`, as paths under `at`
/// (`config.ingress[1].service`): maps key by key, lists aligned on their
/// unchanged items ([`list_changes`]), anything else (a reference not known
/// yet included) as one change.
pub(crate) fn deep_changes(
    at: &str,
    want: Option<&Value>,
    have: Option<&Value>,
) -> Vec<FieldChange> {
    let leaf = || {
        vec![FieldChange {
            field: at.to_string(),
            before: have.cloned(),
            after: want.cloned(),
            forces_replacement: false,
        }]
    };
    match (want, have) {
        (Some(w), Some(h)) if w == h => Vec::new(),
        (None, None) => Vec::new(),
        (Some(Value::Map(w)), Some(Value::Map(h))) => {
            let mut out = Vec::new();
            for (k, wv) in w {
                out.extend(deep_changes(&format!("{at}.{k}"), Some(wv), h.get(k)));
            }
            for (k, hv) in h.iter().filter(|(k, _)| !w.contains_key(*k)) {
                out.extend(deep_changes(&format!("{at}.{k}"), None, Some(hv)));
            }
            out
        }
        (Some(Value::List(w)), Some(Value::List(h))) => list_changes(at, w, h),
        _ => leaf(),
    }
}

/// A list's changes with its unchanged items aligned (their longest common
/// subsequence), so a rule added in the dashboard before the others is one
/// `- config.ingress[0]`, not every rule after it shifted by one. Between
/// two unchanged items, wanted and held items are paired in order (their
/// fields compared), the rest added (at the wanted index) or removed (at
/// the held one).
fn list_changes(at: &str, want: &[Value], have: &[Value]) -> Vec<FieldChange> {
    let (n, m) = (want.len(), have.len());
    // common[i][j]: the longest common subsequence of want[i..] and have[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if want[i] == have[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    let mut flush = |added: &mut Vec<usize>, removed: &mut Vec<usize>| {
        for k in 0..added.len().max(removed.len()) {
            let (a, r) = (added.get(k).copied(), removed.get(k).copied());
            let index = a.or(r).unwrap_or_default();
            out.extend(deep_changes(
                &format!("{at}[{index}]"),
                a.map(|a| &want[a]),
                r.map(|r| &have[r]),
            ));
        }
        added.clear();
        removed.clear();
    };
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && want[i] == have[j] {
            flush(&mut added, &mut removed);
            i += 1;
            j += 1;
        } else if j < m && (i == n || common[i][j + 1] >= common[i + 1][j]) {
            removed.push(j);
            j += 1;
        } else {
            added.push(i);
            i += 1;
        }
    }
    flush(&mut added, &mut removed);
    out
}

fn path(bound: &Bound, tunnel_id: &str) -> String {
    bound.account_path(&format!("/cfd_tunnel/{tunnel_id}/configurations"))
}

async fn put_and_check(
    provider: &CloudflareProvider,
    ctx: &OpContext,
    address: &lab_core::Address,
    spec: &TunnelConfigSpec,
) -> Result<Found<TunnelConfigSpec>, ProviderError> {
    let bound = provider.bound()?;
    let path = path(&bound, &spec.tunnel_id);
    let body = json!({ "config": spec.config });
    bound.client.put(ctx, &path, &body).await?;
    let back = bound.client.get(ctx, &path, &[]).await?;
    let held = observe(&back, &spec.config);
    if held.as_ref() != Some(&spec.config) {
        return Err(ProviderError::permanent(format!(
            "{address}: Cloudflare took the configuration of tunnel {} but holds another \
             one; is someone else (the dashboard, another tool) writing it? One tunnel has \
             one owner: its configuration is replaced as a whole",
            spec.tunnel_id
        )));
    }
    Ok(Found {
        id: spec.tunnel_id.clone(),
        spec: spec.clone(),
        outputs: TunnelConfigOut {
            version: back.get("version").and_then(Json::as_i64).unwrap_or(0),
        },
    })
}

#[async_trait]
impl KindProvider<TunnelConfigSpec> for CloudflareProvider {
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["account", "tunnel", "tunnel_id"],
            ignore: Vec::new(),
            estimate: estimates(600),
        }
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        let schema = KindProvider::<TunnelConfigSpec>::schema(self);
        generic_diff(&schema, desired, observed)
            .into_iter()
            .flat_map(|c| {
                if c.field == "config" && !c.forces_replacement {
                    deep_changes("config", c.after.as_ref(), c.before.as_ref())
                } else {
                    vec![c]
                }
            })
            .collect()
    }

    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        if review.prior.is_some() {
            return Ok(Vec::new());
        }
        Ok(vec![
            "lab owns the tunnel's whole remote configuration: rules added in the dashboard \
             are replaced (and show as drift until then)"
                .into(),
        ])
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &CloudflareSnapshot,
        requests: &[Read<TunnelConfigSpec>],
    ) -> Result<Vec<Option<Found<TunnelConfigSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let configuration = snapshot.configurations.get(&r.prior.tunnel_id)?.as_ref()?;
                let config = observe(configuration, &r.prior.config)?;
                Some(Found {
                    id: r.id.clone(),
                    spec: TunnelConfigSpec {
                        config,
                        ..r.prior.clone()
                    },
                    outputs: TunnelConfigOut {
                        version: configuration
                            .get("version")
                            .and_then(Json::as_i64)
                            .unwrap_or(r.prior_outputs.version),
                    },
                })
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<TunnelConfigSpec>,
    ) -> Result<Found<TunnelConfigSpec>, ProviderError> {
        put_and_check(self, ctx, &req.address, &req.spec).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<TunnelConfigSpec>,
    ) -> Result<Found<TunnelConfigSpec>, ProviderError> {
        put_and_check(self, ctx, &req.address, &req.spec).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        req: Delete<TunnelConfigSpec>,
    ) -> Result<(), ProviderError> {
        let bound = self.bound()?;
        let body = json!({"config": {"ingress": [{"service": CATCH_ALL_SERVICE}]}});
        match bound
            .client
            .put(ctx, &path(&bound, &req.prior.tunnel_id), &body)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_changes_are_paths() {
        let v = |j: Json| lab_net_value(&j);
        let want = v(
            json!({"ingress": [{"hostname": "a", "service": "http://x:1"},
                                        {"hostname": "b", "service": "http://y:1"},
                                        {"service": "http_status:404"}]}),
        );
        let have = v(
            json!({"ingress": [{"hostname": "a", "service": "http://x:2"},
                                        {"service": "http_status:404"}],
                            "warp-routing": {"enabled": true}}),
        );
        let changes = deep_changes("config", Some(&want), Some(&have));
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "config.ingress[0].service",
                "config.ingress[1]",
                "config.warp-routing",
            ]
        );
        assert_eq!(changes[0].after, Some(Value::Str("http://x:1".into())));
        assert_eq!(changes[1].before, None, "b is added whole");
        assert_eq!(changes[2].after, None);
        assert!(deep_changes("config", Some(&want), Some(&want)).is_empty());
    }

    #[test]
    fn a_rule_added_in_front_is_one_removal() {
        let v = |j: Json| lab_net_value(&j);
        let want = v(json!([{"hostname": "a", "service": "http://x:1"},
                            {"service": "http_status:404"}]));
        let have = v(json!([{"hostname": "pve", "service": "https://y:8006"},
                            {"hostname": "a", "service": "http://x:1"},
                            {"service": "http_status:404"}]));
        let changes = deep_changes("config.ingress", Some(&want), Some(&have));
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].field, "config.ingress[0]");
        assert_eq!(changes[0].after, None);
        // And the other way: a rule the dashboard removed is one addition.
        let back = deep_changes("config.ingress", Some(&have), Some(&want));
        assert_eq!(back.len(), 1, "{back:?}");
        assert_eq!(back[0].before, None);
        // Rules swapped: one pair of changes, the rest aligned.
        let swapped = v(json!([{"service": "http_status:404"},
                               {"hostname": "a", "service": "http://x:1"}]));
        assert!(!deep_changes("config.ingress", Some(&want), Some(&swapped)).is_empty());
    }

    fn lab_net_value(j: &Json) -> Value {
        lab_core::value::encode_value(j).unwrap()
    }

    fn doc(rules: Json) -> TunnelConfigDocument {
        serde_json::from_value(json!({ "ingress": rules })).unwrap()
    }

    #[test]
    fn cloudflare_additions_are_not_drift_and_edits_are() {
        let prior = doc(
            json!([{"hostname": "a.example.com", "service": "http://10.0.0.1:80"},
                               {"service": "http_status:404"}]),
        );
        let live = json!({"version": 3, "config": {
            "ingress": [{"hostname": "a.example.com", "service": "http://10.0.0.1:80", "originRequest": {}},
                        {"service": "http_status:404"}],
            "warp-routing": {"enabled": false}}});
        assert_eq!(observe(&live, &prior), Some(prior.clone()));
        let edited = json!({"config": {"ingress": [
            {"hostname": "a.example.com", "service": "http://10.0.0.9:80"},
            {"service": "http_status:404"}]}});
        let seen = observe(&edited, &prior).unwrap();
        assert_eq!(seen.ingress[0].service, "http://10.0.0.9:80");
        assert_eq!(observe(&json!({"config": null}), &prior), None);
        let foreign = json!({"config": {"ingress": [{"service": "http_status:404", "bogus": 1}]}});
        let seen = observe(&foreign, &prior).unwrap();
        assert_eq!(
            seen.ingress[0].hostname.as_deref(),
            Some(crate::provider::cloudflare::FOREIGN)
        );
        assert!(
            seen.ingress[0].service.contains("bogus"),
            "{}",
            seen.ingress[0].service
        );
    }
}
