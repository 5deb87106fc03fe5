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

use lab_core::provider::{CreateRequest, Observed, OpContext, ReadRequest, UpdateRequest};
use lab_core::{Attrs, ProviderError, Secret, Value};
use tokio::time::Instant;

use super::{api_error, str_attr, str_list, TalosProvider};
use crate::api::{Credentials, TalosClient};
use crate::secrets::{SecretsBundle, DEFAULT_CLIENT_CERT_VALIDITY, ROLE_ADMIN};

/// What the state recorded is what exists: the cluster has no object of
/// its own that could vanish (its members are the machines).
pub(super) fn read(req: &ReadRequest) -> Option<Observed> {
    Some(Observed {
        id: req.id.clone(),
        attrs: req.prior.clone(),
        outputs: req.prior_outputs.clone(),
    })
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
    attrs: &Attrs,
    id: String,
    bootstrap: bool,
) -> Result<Observed, ProviderError> {
    let first = str_attr(attrs, "bootstrap_node")?.to_string();
    let control_planes = str_list(attrs, "control_planes");
    let workers = str_list(attrs, "workers");
    let bundle = provider.bundle(attrs)?;
    let creds: Credentials = provider.credentials(&bundle)?;
    let dial = provider.dial(&first);
    let opts = &provider.options;
    let connect = || async { TalosClient::mtls(&dial, &first, &creds).await };

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
                .health_check(&control_planes, &workers, opts.health_timeout)
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
    let mut outputs = Attrs::new();
    outputs.insert("kubeconfig".into(), Value::Secret(kubeconfig));
    outputs.insert(
        "talosconfig".into(),
        Value::Secret(talosconfig(&bundle, name, &control_planes, &workers)?),
    );
    Ok(Observed {
        id,
        attrs: attrs.clone(),
        outputs,
    })
}

pub(super) async fn create(
    provider: &TalosProvider,
    ctx: &OpContext,
    req: &CreateRequest,
) -> Result<Observed, ProviderError> {
    let name = req.address.name();
    converge(provider, ctx, name, &req.attrs, name.to_string(), true).await
}

/// Membership changed (a node added or replaced): no new bootstrap, but
/// health with the new member lists and fresh credentials. A cluster whose
/// bootstrap node was replaced is bootstrapped again; `AlreadyExists`
/// makes that a no-op where etcd already runs.
pub(super) async fn update(
    provider: &TalosProvider,
    ctx: &OpContext,
    req: &UpdateRequest,
) -> Result<Observed, ProviderError> {
    let rebootstrap = req.changes.iter().any(|c| c.field == "bootstrap_node");
    let name = req.address.name();
    converge(provider, ctx, name, &req.attrs, req.id.clone(), rebootstrap).await
}
