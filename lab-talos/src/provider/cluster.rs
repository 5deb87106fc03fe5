//! `talos.cluster`: bootstrap etcd once, wait for health, fetch the
//! kubeconfig.
//!
//! Bootstrap goes to the first control plane only, after every machine is
//! configured (the resource depends on all of them). Talos answers a second
//! bootstrap with `AlreadyExists`; the client treats that as success, so a
//! crash between bootstrap and recording it (or a lost state) is harmless
//! (talos-peers.md pain point 5). The talosconfig is built offline from the
//! bundle with the control planes' real addresses as endpoints (never the
//! VIP, which only answers once etcd runs).

use std::time::Duration;

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{KindSchema, OpContext, StepReview};
use lab_core::{ProviderError, Secret, Value};
use time::OffsetDateTime;
use tokio::time::Instant;

use super::{api_error, TalosProvider};
use crate::api::{Credentials, TalosClient};
use crate::kinds::{ClusterOut, ClusterSpec};
use crate::secrets::{CertificateInfo, SecretsBundle, DEFAULT_CLIENT_CERT_VALIDITY, ROLE_ADMIN};

/// How long the kubeconfig's and talosconfig's client certificates must
/// still be valid; with less left, the plan renews them.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the state recorded is what exists: the cluster has no object of
/// its own that could vanish (its members are the machines). What can go
/// stale are its credentials: `credentials` reads back `valid`, or when a
/// client certificate expires within [`RENEW_BEFORE`], the date it does.
fn read_one(req: &Read<ClusterSpec>) -> Found<ClusterSpec> {
    let mut found = super::recorded(req);
    if found.spec.credentials.is_some() {
        let state = credentials_state(&found.outputs, OffsetDateTime::now_utc());
        found.spec.credentials = Some(state);
    }
    found
}

/// `valid`, `expires on <date>` or `expired on <date>` for the earliest
/// client certificate of the kubeconfig and talosconfig outputs.
pub(crate) fn credentials_state(outputs: &ClusterOut, now: OffsetDateTime) -> String {
    let mut earliest: Option<OffsetDateTime> = None;
    for (output, text, key) in [
        (
            "kubeconfig",
            &outputs.kubeconfig,
            "client-certificate-data:",
        ),
        ("talosconfig", &outputs.talosconfig, "crt:"),
    ] {
        match client_cert_expiry(text.expose(), key) {
            Some(t) => earliest = Some(earliest.map_or(t, |e| e.min(t))),
            None => return format!("unreadable {output}"),
        }
    }
    match earliest {
        Some(t) if t <= now => format!("expired on {}", t.date()),
        Some(t) if t - now < RENEW_BEFORE => format!("expires on {}", t.date()),
        _ => "valid".into(),
    }
}

/// The `notAfter` of the base64(PEM) certificate on the first line with `key`.
fn client_cert_expiry(text: &str, key: &str) -> Option<OffsetDateTime> {
    use base64::Engine as _;
    let b64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(key))?
        .trim()
        .trim_matches('"');
    let pem = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let info = CertificateInfo::from_pem(std::str::from_utf8(&pem).ok()?).ok()?;
    Some(info.not_after)
}

/// Notes for a cluster update: which credentials it renews (from the
/// diff: the value read back before the renewal).
fn review(review: &StepReview<'_>) -> Vec<String> {
    review
        .changes
        .iter()
        .find(|c| c.field == "credentials")
        .and_then(|c| c.before.as_ref())
        .and_then(Value::as_str)
        .map(|before| {
            vec![format!(
                "renews the kubeconfig and talosconfig client certificates ({before})"
            )]
        })
        .unwrap_or_default()
}

/// Retries `f` on transient errors until `timeout`.
async fn retrying<T, F, Fut>(
    provider: &TalosProvider,
    ctx: &OpContext,
    timeout: Duration,
    doing: &str,
    mut f: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::api::ApiError>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tracing::debug!(error = %e, "{doing}: retrying");
                ctx.wait(tokio::time::sleep(provider.options.poll)).await;
            }
            Err(e) => return Err(api_error(doing, e)),
        }
    }
}

fn talosconfig(
    bundle: &SecretsBundle,
    name: &str,
    control_planes: &[String],
    workers: &[String],
) -> Result<Secret, ProviderError> {
    let cert = bundle
        .admin_client_cert(&[ROLE_ADMIN], DEFAULT_CLIENT_CERT_VALIDITY)
        .map_err(|e| ProviderError::permanent(format!("issuing the talosconfig cert: {e}")))?;
    let nodes: Vec<String> = control_planes.iter().chain(workers).cloned().collect();
    Ok(bundle.talosconfig(name, control_planes, &nodes, &cert))
}

async fn converge(
    provider: &TalosProvider,
    ctx: &OpContext,
    name: &str,
    spec: ClusterSpec,
    id: String,
    bootstrap: bool,
) -> Result<Found<ClusterSpec>, ProviderError> {
    let first = spec.bootstrap_node.as_str();
    let (control_planes, workers) = (&spec.control_planes, &spec.workers);
    let bundle = provider.bundle(&spec.secrets)?;
    let creds: Credentials = provider.credentials(&bundle)?;
    let dial = provider.dial(first)?;
    let opts = &provider.options;
    let connect = || async { TalosClient::mtls(&dial, first, &creds).await };

    if bootstrap {
        tracing::info!(node = %first, "bootstrapping etcd");
        retrying(
            provider,
            ctx,
            opts.health_timeout,
            &format!("bootstrapping etcd on {first}"),
            || async { connect().await?.bootstrap().await },
        )
        .await?;
    }
    let progress = retrying(
        provider,
        ctx,
        opts.health_timeout,
        "waiting for the cluster to be healthy",
        || async {
            let mut client = connect().await?;
            client
                .health_check(control_planes, workers, opts.health_timeout)
                .await
        },
    )
    .await?;
    for line in &progress {
        tracing::debug!(cluster = name, "{line}");
    }
    let kubeconfig = retrying(
        provider,
        ctx,
        opts.health_timeout,
        &format!("fetching the kubeconfig from {first}"),
        || async { connect().await?.kubeconfig().await },
    )
    .await?;
    let outputs = ClusterOut {
        kubeconfig,
        talosconfig: talosconfig(&bundle, name, control_planes, workers)?,
    };
    Ok(Found { id, spec, outputs })
}

#[async_trait]
impl KindProvider<ClusterSpec> for TalosProvider {
    fn schema(&self) -> KindSchema {
        super::schema(
            Duration::from_secs(300),
            Duration::from_secs(60),
            Duration::from_millis(10),
            Vec::new(),
        )
    }

    fn review(&self, step: &StepReview<'_>) -> Result<Vec<String>, String> {
        Ok(review(step))
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        _snapshot: &(),
        requests: &[Read<ClusterSpec>],
    ) -> Result<Vec<Option<Found<ClusterSpec>>>, ProviderError> {
        Ok(requests.iter().map(|r| Some(read_one(r))).collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<ClusterSpec>,
    ) -> Result<Found<ClusterSpec>, ProviderError> {
        let name = req.address.name();
        converge(self, ctx, name, req.spec, name.to_string(), true).await
    }

    /// Membership changed (a node added or replaced): no new bootstrap, but
    /// health with the new member lists and fresh credentials. A cluster
    /// whose bootstrap node was replaced is bootstrapped again;
    /// `AlreadyExists` makes that a no-op where etcd already runs.
    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<ClusterSpec>,
    ) -> Result<Found<ClusterSpec>, ProviderError> {
        let rebootstrap = req.changed("bootstrap_node");
        let name = req.address.name();
        converge(self, ctx, name, req.spec, req.id, rebootstrap).await
    }

    /// The cluster has nothing of its own to delete.
    async fn delete(
        &self,
        _ctx: &OpContext,
        _req: Delete<ClusterSpec>,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(kube_days: u64, talos_days: u64) -> ClusterOut {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/reference/talos-examples/secrets.yaml"
        );
        let bundle = SecretsBundle::from_yaml(&std::fs::read_to_string(path).unwrap()).unwrap();
        let day = 24 * 3600;
        let kube = bundle
            .admin_kubeconfig(
                "home",
                "https://10.0.10.5:6443",
                Duration::from_secs(kube_days * day),
            )
            .unwrap();
        let cert = bundle
            .admin_client_cert(&[ROLE_ADMIN], Duration::from_secs(talos_days * day))
            .unwrap();
        let talos = bundle.talosconfig("home", &["10.0.10.11".into()], &[], &cert);
        ClusterOut {
            kubeconfig: kube,
            talosconfig: talos,
        }
    }

    #[test]
    fn credentials_are_valid_until_thirty_days_before_the_first_expiry() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(credentials_state(&outputs(365, 365), now), "valid");
        let soon = credentials_state(&outputs(365, 10), now);
        assert!(soon.starts_with("expires on "), "{soon}");
        let later = now + Duration::from_secs(400 * 24 * 3600);
        let gone = credentials_state(&outputs(365, 365), later);
        assert!(gone.starts_with("expired on "), "{gone}");
        assert_eq!(
            credentials_state(&ClusterOut::default(), now),
            "unreadable kubeconfig"
        );
    }
}
