//! The Caddy provider: one Caddy (one admin API) per provider instance,
//! whose whole config is the one `net.caddy` resource.
//!
//! - **Create and update** render the spec ([`render`]) and `POST /load`
//!   it, then read it back (`GET /config/`): what Caddy holds must be what
//!   was sent, or the call fails saying what differs. Caddy checks the
//!   document atomically: a refused one (400, Caddy's text kept) leaves
//!   the old config serving.
//! - **Refresh** is one `GET /config/` and one `GET /pki/ca/local`. A
//!   config equal to the rendering of the recorded spec is the recorded
//!   spec; anything else is read back into a spec ([`parse`]), and what a
//!   spec cannot say (a handler lab does not write, a second server, a
//!   field Caddy knows and lab does not) is shown as a route named
//!   `(changed outside lab) <json path>`: the plan shows the drift and the
//!   update that loads the code's config again.
//! - **Ownership.** The server's `@id` is the lab's marker. A Caddy whose
//!   config carries no marker or another resource's is not this
//!   resource's (a refresh reads it as gone); a create over another lab
//!   resource's config is refused.
//! - **Delete** loads a config with the same admin address and storage
//!   and no apps: Caddy keeps running (and reachable), serving nothing.
//! - **Plan review** refuses what Caddy would accept and lab does not
//!   ([`crate::checks::caddy::spec_problems`]: bad upstreams, duplicate
//!   sites), and notes that lab replaces any config loaded by hand.
//!   `check_plan` refuses ACME DNS-01 with a DNS provider module the Caddy
//!   lacks, when its module list is known ([`CaddyOptions::modules`]:
//!   `caddy list-modules` of a local binary, the simulator's list); Caddy's
//!   admin API cannot list modules, so for a remote Caddy the plan says so.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Typed, TypedProvider, Update};
use lab_core::provider::{
    Estimates, KindSchema, OpContext, PlanCheck, Provider, ProviderError, ReadRequest, StepReview,
};
use lab_core::value::decode;
use lab_core::{Attrs, Diagnostic, Ownership, Value};

use crate::api::caddy::{CaddyAdmin, LiveConfig};
use crate::api::caddy_config::{
    differences, parse, render, render_empty, Config, Placement, RenderError,
};
use crate::checks::caddy::spec_problems;
use crate::kinds::{CaddyOutputs, CaddyRoute, CaddySpec, ISSUER_ACME};

/// Tunables of the provider.
#[derive(Clone, Debug, Default)]
pub struct CaddyOptions {
    /// Where the Caddy really listens, for a Caddy started for a simulated
    /// lab ([`crate::connect::CaddyConnection`]); `None`: as declared.
    pub placement: Option<Placement>,
    /// The module ids the Caddy has (`dns.providers.cloudflare`), when
    /// known.
    pub modules: Option<BTreeSet<String>>,
}

/// The provider of one Caddy.
pub struct CaddyProvider {
    admin: CaddyAdmin,
    options: CaddyOptions,
}

/// What one refresh read.
pub struct CaddySnapshot {
    live: Option<LiveConfig>,
    root_ca: Option<String>,
}

impl std::fmt::Debug for CaddySnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaddySnapshot")
            .field("live", &self.live)
            .field("root_ca", &self.root_ca.is_some())
            .finish()
    }
}

/// The `host` of the routes that stand for parts of a config lab did not
/// write.
pub const FOREIGN_PREFIX: &str = "(changed outside lab)";

impl CaddyProvider {
    /// A provider driving the admin API `admin`.
    pub fn new(admin: CaddyAdmin, options: CaddyOptions) -> Self {
        CaddyProvider { admin, options }
    }

    /// The provider as the engine takes it.
    pub fn shared(self) -> Arc<dyn Provider> {
        Typed::new(self).kind::<CaddySpec>().shared()
    }

    /// The admin client.
    pub fn admin(&self) -> &CaddyAdmin {
        &self.admin
    }

    fn render(&self, spec: &CaddySpec, owner: &Ownership) -> Result<Config, ProviderError> {
        render(spec, Some(&owner.marker()), self.options.placement.as_ref())
            .map_err(|RenderError(e)| ProviderError::permanent(format!("{}: {e}", owner.address)))
    }

    /// The spec a live config says for the resource recorded as `prior`,
    /// or `None` when the config is not this resource's.
    fn observe(
        &self,
        live: &serde_json::Value,
        prior: &CaddySpec,
        owner: &Ownership,
    ) -> Option<CaddySpec> {
        let marker = owner.marker();
        if marker_of(live).as_deref() != Some(marker.as_str()) {
            return None;
        }
        let placement = self.options.placement.as_ref();
        if let Ok(expected) = render(prior, Some(&marker), placement) {
            if serde_json::to_value(&expected).ok().as_ref() == Some(live) {
                return Some(prior.clone());
            }
        }
        let config: Config = match serde_json::from_value(live.clone()) {
            Ok(c) => c,
            Err(e) => {
                let mut spec = prior.clone();
                spec.routes.push(foreign(&format!(
                    "not lab's shape: {}",
                    without_values(&e.to_string())
                )));
                return Some(spec);
            }
        };
        let mut spec = parse(&config).spec;
        if let Some(p) = placement {
            unplace(&mut spec, prior, p);
        }
        let left = match render(&spec, Some(&marker), placement) {
            Ok(again) => differences(&serde_json::to_value(&again).unwrap_or_default(), live, 5),
            Err(RenderError(e)) => vec![e],
        };
        spec.routes.extend(left.iter().map(|p| foreign(p)));
        Some(spec)
    }

    async fn load_and_check(
        &self,
        spec: &CaddySpec,
        owner: &Ownership,
    ) -> Result<Found<CaddySpec>, ProviderError> {
        let config = self.render(spec, owner)?;
        self.admin.load(&config).await?;
        let live = self.admin.config().await?;
        let sent = serde_json::to_value(&config).unwrap_or_default();
        if live.json != sent {
            let at = differences(&sent, &live.json, 3).join(", ");
            return Err(ProviderError::permanent(format!(
                "{}: Caddy at {} took the config but holds something else ({at}); \
                 is another process loading configs into it?",
                owner.address,
                self.admin.endpoint()
            )));
        }
        let root_ca = self.admin.root_ca().await?;
        Ok(Found {
            id: spec.admin.clone(),
            spec: spec.clone(),
            outputs: CaddyOutputs { root_ca },
        })
    }

    fn dns_module_findings(&self, plan: &PlanCheck<'_>) -> Vec<Diagnostic> {
        let Some(modules) = &self.options.modules else {
            return Vec::new();
        };
        if self.options.placement.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for step in &plan.steps {
            if step.address.kind() != crate::kinds::CADDY {
                continue;
            }
            let Ok(spec) = decode::<CaddySpec>(&step.desired) else {
                continue;
            };
            let (true, Some(dns)) = (spec.tls.issuer == ISSUER_ACME, &spec.tls.dns_provider) else {
                continue;
            };
            let module = format!("dns.providers.{dns}");
            if modules.contains(&module) {
                continue;
            }
            let mut d = Diagnostic::error(
                "net::caddy-dns-module",
                format!(
                    "the Caddy at {} has no `{module}` module, so ACME's DNS-01 challenge \
                     through `{dns}` cannot work (Caddy would refuse the config: \
                     `unknown module: {module}`)",
                    self.admin.endpoint()
                ),
            )
            .for_resource(&step.address)
            .with_help(format!(
                "build Caddy with the module (`xcaddy build --with github.com/caddy-dns/{dns}`; \
                 Debian's package has no DNS provider), or use `.tls_internal()`"
            ));
            if let Some(s) = plan.spec(step) {
                d = d.with_label(s.loc_of("tls"), "ACME through this DNS provider");
            }
            out.push(d);
        }
        out
    }
}

/// The spec as far as it is known at plan time: routes holding a
/// reference not resolved yet (an upstream that is a guest's address
/// output) are left out, so the others are still checked.
fn known_part(desired: &Attrs) -> Option<CaddySpec> {
    let mut known = desired.clone();
    if let Some(Value::List(routes)) = known.get_mut("routes") {
        routes.retain(|r| !r.contains_ref());
    }
    decode::<CaddySpec>(&known).ok()
}

/// Puts the declared values back where a placement put its own.
fn unplace(spec: &mut CaddySpec, prior: &CaddySpec, p: &Placement) {
    if spec.admin == p.admin {
        spec.admin = prior.admin.clone();
    }
    if spec.bind.as_deref() == Some(std::slice::from_ref(&p.bind)) {
        spec.bind = prior.bind.clone();
    }
    if spec.https_port == i64::from(p.https_port) {
        spec.https_port = prior.https_port;
    }
    if spec.http_port == Some(i64::from(p.http_port)) {
        spec.http_port = prior.http_port;
    }
    if spec.storage.as_deref() == Some(p.storage.as_str()) {
        spec.storage = prior.storage.clone();
    }
    if spec.tls.issuer == crate::kinds::ISSUER_INTERNAL && prior.tls.issuer == ISSUER_ACME {
        spec.tls = prior.tls.clone();
    }
}

/// A decoder's message with every quoted value (`"..."`) left out: the
/// value may be a secret someone put in the wrong place (field names are
/// in backticks and stay).
fn without_values(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"(a value)\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

fn foreign(what: &str) -> CaddyRoute {
    CaddyRoute {
        host: format!("{FOREIGN_PREFIX} {what}"),
        upstreams: Vec::new(),
        upstream_tls: None,
        headers: None,
    }
}

/// The lab marker (`@id`) on a config's HTTP server, if any.
pub fn marker_of(config: &serde_json::Value) -> Option<String> {
    config
        .pointer("/apps/http/servers")?
        .as_object()?
        .values()
        .find_map(|s| s.get("@id")?.as_str().map(str::to_string))
}

#[async_trait]
impl TypedProvider for CaddyProvider {
    type Snapshot = CaddySnapshot;

    fn name(&self) -> &str {
        "caddy"
    }

    async fn snapshot(
        &self,
        _ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<CaddySnapshot, ProviderError> {
        if requests.is_empty() {
            return Ok(CaddySnapshot {
                live: None,
                root_ca: None,
            });
        }
        let live = self.admin.config().await?;
        let root_ca = self.admin.root_ca().await.ok();
        Ok(CaddySnapshot {
            live: Some(live),
            root_ca,
        })
    }

    async fn probe(&self, _ctx: &OpContext) -> Result<(), ProviderError> {
        self.admin.config().await?;
        Ok(())
    }

    async fn check_plan(
        &self,
        _ctx: &OpContext,
        plan: &PlanCheck<'_>,
    ) -> Result<Vec<Diagnostic>, ProviderError> {
        Ok(self.dns_module_findings(plan))
    }
}

#[async_trait]
impl KindProvider<CaddySpec> for CaddyProvider {
    fn schema(&self) -> KindSchema {
        KindSchema {
            // Another admin address is another Caddy.
            force_new: vec!["admin"],
            ignore: Vec::new(),
            estimate: Estimates {
                create: Duration::from_millis(300),
                update: Duration::from_millis(300),
                delete: Duration::from_millis(200),
            },
        }
    }

    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        let Some(spec) = known_part(review.desired) else {
            // The fields every check needs are references not known yet:
            // the apply decodes strictly.
            return Ok(Vec::new());
        };
        let problems = spec_problems(&spec);
        if !problems.is_empty() {
            return Err(format!(
                "Caddy would accept this config, but it is wrong: {}",
                problems.join("; ")
            ));
        }
        let mut notes = Vec::new();
        if review.prior.is_none() {
            notes.push(format!(
                "lab owns the whole config of the Caddy at {}: a config loaded there by hand is replaced",
                self.admin.endpoint()
            ));
        }
        if let Some(p) = &self.options.placement {
            notes.push(format!(
                "a local Caddy stands in for this one: admin {}, sites on {}:{}, storage {}",
                p.admin, p.bind, p.https_port, p.storage
            ));
            if spec.tls.issuer == ISSUER_ACME {
                notes.push(
                    "the local Caddy issues from its own CA instead of ACME (nothing dials an ACME server or a DNS provider)"
                        .into(),
                );
            }
        } else if spec.tls.issuer == ISSUER_ACME && self.options.modules.is_none() {
            notes.push(format!(
                "ACME DNS-01 needs Caddy's `dns.providers.{}` module; Caddy's admin API cannot list modules, so a Caddy without it refuses the config at apply",
                spec.tls.dns_provider.as_deref().unwrap_or("?")
            ));
        }
        Ok(notes)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &CaddySnapshot,
        requests: &[Read<CaddySpec>],
    ) -> Result<Vec<Option<Found<CaddySpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let live = snapshot.live.as_ref()?;
                let spec = self.observe(&live.json, &r.prior, &r.owner)?;
                Some(Found {
                    id: r.id.clone(),
                    spec,
                    outputs: CaddyOutputs {
                        root_ca: snapshot
                            .root_ca
                            .clone()
                            .unwrap_or_else(|| r.prior_outputs.root_ca.clone()),
                    },
                })
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<CaddySpec>,
    ) -> Result<Found<CaddySpec>, ProviderError> {
        let live = self.admin.config().await?;
        if let Some(other) = marker_of(&live.json) {
            if other != req.owner.marker() && other.starts_with("lab:") {
                return Err(ProviderError::permanent(format!(
                    "{}: the Caddy at {} holds the config of `{other}`; one Caddy has one owner \
                     (lab loads whole configs): give this resource its own Caddy, or destroy \
                     the other first",
                    req.address,
                    self.admin.endpoint()
                )));
            }
        }
        self.load_and_check(&req.spec, &req.owner).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<CaddySpec>,
    ) -> Result<Found<CaddySpec>, ProviderError> {
        self.load_and_check(&req.spec, &req.owner).await
    }

    async fn delete(&self, _ctx: &OpContext, req: Delete<CaddySpec>) -> Result<(), ProviderError> {
        let live = self.admin.config().await?;
        if marker_of(&live.json).as_deref() != Some(req.owner.marker().as_str()) {
            // Not ours (any more): nothing of this resource to remove.
            return Ok(());
        }
        let empty = render_empty(&req.prior, self.options.placement.as_ref());
        self.admin.load(&empty).await?;
        Ok(())
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&CaddySpec>,
    ) -> Result<Vec<Found<CaddySpec>>, ProviderError> {
        let Some(desired) = desired else {
            return Ok(Vec::new());
        };
        let live = self.admin.config().await?;
        let Some(spec) = self.observe(&live.json, desired, owner) else {
            return Ok(Vec::new());
        };
        let root_ca = self.admin.root_ca().await?;
        Ok(vec![Found {
            id: desired.admin.clone(),
            spec,
            outputs: CaddyOutputs { root_ca },
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_unknown_upstreams_are_left_out_of_the_review() {
        use lab_core::value::{encode, OutputRef};
        let spec = CaddySpec {
            admin: "127.0.0.1:2019".into(),
            https_port: 443,
            http_port: None,
            bind: None,
            tls: crate::kinds::CaddyTls::internal(),
            routes: vec![CaddyRoute::new("a.lab", "10.0.0.1:80:bad")],
            storage: None,
        };
        let mut attrs = encode(&spec).unwrap();
        let Some(Value::List(routes)) = attrs.get_mut("routes") else {
            panic!()
        };
        let mut later = CaddyRoute::new("b.lab", "x:1");
        later.upstreams.clear();
        let Value::Map(mut m) = lab_core::value::encode_value(&later).unwrap() else {
            panic!()
        };
        m.insert(
            "upstreams".into(),
            Value::List(vec![Value::Ref(OutputRef {
                address: lab_core::Address::new("proxmox.vm", "web"),
                output: "ip".into(),
            })]),
        );
        routes.push(Value::Map(m));
        let known = known_part(&attrs).unwrap();
        assert_eq!(known.routes.len(), 1);
        assert_eq!(spec_problems(&known).len(), 1);
    }

    #[test]
    fn values_stay_out_of_shape_errors() {
        let e = serde_json::from_str::<Config>(
            r#"{"apps": {"tls": {"automation": {"policies": [{"issuers": "hunter2"}]}}}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("hunter2"));
        let shown = without_values(&e.to_string());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("(a value)"), "{shown}");
    }
}
