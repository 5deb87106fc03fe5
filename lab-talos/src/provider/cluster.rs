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

use lab_core::provider::{
    CreateRequest, Observed, OpContext, ReadRequest, StepReview, UpdateRequest,
};
use lab_core::{Attrs, ProviderError, Secret, Value};
use time::OffsetDateTime;
use tokio::time::Instant;

use super::{api_error, str_attr, str_list, TalosProvider};
use crate::api::{Credentials, TalosClient};
use crate::secrets::{CertificateInfo, SecretsBundle, DEFAULT_CLIENT_CERT_VALIDITY, ROLE_ADMIN};

/// How long the kubeconfig's and talosconfig's client certificates must
/// still be valid; with less left, the plan renews them.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the state recorded is what exists: the cluster has no object of
/// its own that could vanish (its members are the machines). What can go
/// stale are its credentials: `credentials` reads back `valid`, or when a
/// client certificate expires within [`RENEW_BEFORE`], the date it does.
pub(super) fn read(req: &ReadRequest) -> Option<Observed> {
    let mut attrs = req.prior.clone();
    if attrs.contains_key("credentials") {
        let state = credentials_state(&req.prior_outputs, OffsetDateTime::now_utc());
        attrs.insert("credentials".into(), Value::Str(state));
    }
    Some(Observed {
        id: req.id.clone(),
        attrs,
        outputs: req.prior_outputs.clone(),
    })
}

/// `valid`, `expires on <date>` or `expired on <date>` for the earliest
/// client certificate of the kubeconfig and talosconfig outputs.
pub(crate) fn credentials_state(outputs: &Attrs, now: OffsetDateTime) -> String {
    let mut earliest: Option<OffsetDateTime> = None;
    for (output, key) in [
        ("kubeconfig", "client-certificate-data:"),
        ("talosconfig", "crt:"),
    ] {
        let Some(Value::Secret(text)) = outputs.get(output) else {
            return format!("missing {output}");
        };
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

/// Notes for a cluster update: which credentials it renews.
pub(super) fn review(review: &StepReview<'_>) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(kube_days: u64, talos_days: u64) -> Attrs {
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
        let mut out = Attrs::new();
        out.insert("kubeconfig".into(), Value::Secret(kube));
        out.insert("talosconfig".into(), Value::Secret(talos));
        out
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
        assert_eq!(credentials_state(&Attrs::new(), now), "missing kubeconfig");
    }
}
