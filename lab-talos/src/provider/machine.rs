//! `talos.machine`: one node's machine config, applied through the Talos API.
//!
//! Create: wait for the node's VM to answer (maintenance mode, no
//! credentials), apply the config, wait for the installed node to answer
//! over mTLS. A node that already answers over mTLS with the lab's
//! certificate got its config from a run that crashed before recording it:
//! the same config is applied again (a no-op for Talos). A node that
//! answers with another CA's certificate belongs to another cluster and is
//! left alone with an error that says so.
//!
//! Update: apply over mTLS with mode `AUTO`; Talos applies live what it can
//! and reboots for the rest. The plan says which beforehand ([`review`]),
//! computed from the two configs with [`crate::config::needs_reboot`].

use std::time::Duration;

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::plan::Action;
use lab_core::provider::{KindSchema, Limit, OpContext, OpKind, StepReview};
use lab_core::value::decode;
use lab_core::{Address, ProviderError, Secret, Value};
use tokio::time::Instant;

use super::{api_error, TalosProvider};
use crate::api::{ApplyMode, Credentials, ErrorKind, NodeMode, TalosClient};
use crate::config::{self, ConfigSecrets, Document};
use crate::kinds::{ConfigSpec, MachineOut, MachineSpec};
use crate::secrets::SecretsBundle;
use crate::sha256_hex;

/// The rendered config of a machine and its documents.
struct MachineConfig {
    text: Secret,
    docs: Vec<Document>,
}

fn generate(bundle: &SecretsBundle, inputs: &ConfigSpec) -> Result<MachineConfig, String> {
    let (cluster, node) = inputs.inputs();
    let docs = config::generate(&cluster, &node, &ConfigSecrets::from(bundle))
        .map_err(|e| format!("generating the machine config: {e}"))?;
    let text = Secret::new(config::render(&docs));
    Ok(MachineConfig { text, docs })
}

fn config_for(
    provider: &TalosProvider,
    spec: &MachineSpec,
) -> Result<MachineConfig, ProviderError> {
    let bundle = provider.bundle(&spec.secrets)?;
    generate(&bundle, &spec.config).map_err(ProviderError::permanent)
}

fn found(
    id: String,
    spec: MachineSpec,
    config: &MachineConfig,
    version: String,
) -> Found<MachineSpec> {
    Found {
        id,
        spec,
        outputs: MachineOut {
            config_sha256: sha256_hex(config.text.expose().as_bytes()),
            talos_version: version,
        },
    }
}

/// Sleeps between probes without holding a call slot.
async fn pause(ctx: &OpContext, d: Duration) {
    ctx.wait(tokio::time::sleep(d)).await;
}

/// Probes until the node answers in maintenance or configured mode.
async fn reach(
    provider: &TalosProvider,
    ctx: &OpContext,
    address: &str,
    creds: &Credentials,
    timeout: Duration,
    waiting_for: &str,
) -> Result<(NodeMode, TalosClient), ProviderError> {
    let dial = provider.dial(address)?;
    let deadline = Instant::now() + timeout;
    loop {
        match TalosClient::probe(&dial, address, Some(creds)).await {
            Ok(found) => return Ok(found),
            Err(e) if e.kind == ErrorKind::Tls => {
                return Err(ProviderError::permanent(format!(
                    "node {address} answers with a certificate the lab's OS CA did not sign: it \
                     runs another cluster's config. Reset it (`talosctl reset --insecure` from \
                     its console, or re-create its VM) or import that cluster's secrets.yaml \
                     ({e})"
                )))
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(ProviderError::transient(format!(
                    "node {address} did not answer within {}s while waiting for {waiting_for}: {e}",
                    timeout.as_secs()
                )))
            }
            Err(e) if e.is_transient() || e.kind == ErrorKind::Unreachable => {
                tracing::debug!(node = address, error = %e, "waiting for {waiting_for}");
                pause(ctx, provider.options.poll).await;
            }
            Err(e) => return Err(api_error(&format!("probing node {address}"), e)),
        }
    }
}

/// Waits until the node answers over mTLS (installed and rebooted).
async fn until_configured(
    provider: &TalosProvider,
    ctx: &OpContext,
    address: &str,
    creds: &Credentials,
    timeout: Duration,
) -> Result<String, ProviderError> {
    let dial = provider.dial(address)?;
    let deadline = Instant::now() + timeout;
    loop {
        let attempt = async {
            let mut client = TalosClient::mtls(&dial, address, creds).await?;
            client.version().await
        };
        match attempt.await {
            Ok(version) => return Ok(version),
            Err(e) if Instant::now() >= deadline => {
                return Err(ProviderError::transient(format!(
                    "node {address} did not come back over mTLS within {}s after its config was \
                     applied: {e}",
                    timeout.as_secs()
                )))
            }
            Err(_) => pause(ctx, provider.options.poll).await,
        }
    }
}

async fn create(
    provider: &TalosProvider,
    ctx: &OpContext,
    req: Create<MachineSpec>,
) -> Result<Found<MachineSpec>, ProviderError> {
    let address = req.spec.address.as_str();
    let bundle = provider.bundle(&req.spec.secrets)?;
    let creds = provider.credentials(&bundle)?;
    let config = config_for(provider, &req.spec)?;
    let opts = &provider.options;
    let (mode, mut client) = reach(
        provider,
        ctx,
        address,
        &creds,
        opts.boot_timeout,
        "the VM to boot into maintenance mode",
    )
    .await?;
    match mode {
        NodeMode::Maintenance => {
            tracing::info!(
                node = address,
                "applying the machine config (maintenance mode)"
            );
            client
                .apply_configuration(&config.text, ApplyMode::Auto, false)
                .await
                .map_err(|e| api_error(&format!("applying the config to {address}"), e))?;
            // The node installs to disk and reboots; give it a moment to go
            // down before probing for its return.
            pause(ctx, opts.poll).await;
        }
        NodeMode::Configured => {
            tracing::info!(
                node = address,
                "node already runs the lab's config (an interrupted run): applying it again"
            );
            client
                .apply_configuration(&config.text, ApplyMode::Auto, false)
                .await
                .map_err(|e| api_error(&format!("applying the config to {address}"), e))?;
        }
    }
    let version = until_configured(provider, ctx, address, &creds, opts.install_timeout).await?;
    Ok(found(address.to_string(), req.spec, &config, version))
}

async fn update(
    provider: &TalosProvider,
    ctx: &OpContext,
    req: Update<MachineSpec>,
) -> Result<Found<MachineSpec>, ProviderError> {
    let spec = req.spec;
    let address = spec.address.as_str();
    let bundle = provider.bundle(&spec.secrets)?;
    let creds = provider.credentials(&bundle)?;
    let config = config_for(provider, &spec)?;
    let dial = provider.dial(address)?;
    let mut client = TalosClient::mtls(&dial, address, &creds)
        .await
        .map_err(|e| api_error(&format!("connecting to {address}"), e))?;
    let outcome = client
        .apply_configuration(&config.text, ApplyMode::Auto, false)
        .await
        .map_err(|e| api_error(&format!("applying the config to {address}"), e))?;
    for w in &outcome.warnings {
        tracing::warn!(node = address, "{w}");
    }
    let mut version = if outcome.mode == ApplyMode::Reboot {
        tracing::info!(node = address, "the node reboots to apply the change");
        pause(ctx, provider.options.poll).await;
        until_configured(
            provider,
            ctx,
            address,
            &creds,
            provider.options.install_timeout,
        )
        .await?
    } else {
        client
            .version()
            .await
            .map_err(|e| api_error(&format!("reading the version of {address}"), e))?
    };
    if let Some(wanted) = &spec.version {
        if &version != wanted {
            version = upgrade(provider, ctx, &spec, &creds, wanted).await?;
        }
    }
    Ok(found(req.id, spec, &config, version))
}

/// Installs the config's installer image (`machine.install.image`, whose
/// tag is the wanted version) and waits for the node to come back running
/// it. Applying a config with a new install image alone never upgrades a
/// Talos node; the Upgrade call does.
async fn upgrade(
    provider: &TalosProvider,
    ctx: &OpContext,
    spec: &MachineSpec,
    creds: &Credentials,
    wanted: &str,
) -> Result<String, ProviderError> {
    let address = spec.address.as_str();
    let image = spec.config.cluster.install_image.clone().ok_or_else(|| {
        ProviderError::permanent(format!(
            "{address} should run Talos {wanted}, but its config has no install image to upgrade with"
        ))
    })?;
    if !image.ends_with(&format!(":{wanted}")) {
        return Err(ProviderError::permanent(format!(
            "{address} should run Talos {wanted}, but its install image is {image}"
        )));
    }
    tracing::info!(node = address, image = %image, "upgrading Talos");
    let dial = provider.dial(address)?;
    let mut client = TalosClient::mtls(&dial, address, creds)
        .await
        .map_err(|e| api_error(&format!("connecting to {address}"), e))?;
    client
        .upgrade(&image)
        .await
        .map_err(|e| api_error(&format!("upgrading {address} to {wanted}"), e))?;
    let deadline = Instant::now() + provider.options.install_timeout;
    loop {
        pause(ctx, provider.options.poll).await;
        let left = deadline.saturating_duration_since(Instant::now());
        let running = until_configured(provider, ctx, address, creds, left).await?;
        if running == wanted {
            return Ok(running);
        }
        if Instant::now() >= deadline {
            return Err(ProviderError::transient(format!(
                "{address} still runs Talos {running} after the upgrade to {wanted}"
            )));
        }
    }
}

/// Resets the node (wiping its Talos state) so a deleted machine does not
/// keep running as a member. Graceful first (a control plane leaves etcd
/// cleanly), then forced (the last control plane cannot leave gracefully).
/// An unreachable node is already gone with its VM.
async fn delete(provider: &TalosProvider, req: Delete<MachineSpec>) -> Result<(), ProviderError> {
    let address = req.prior.address.as_str();
    let Ok(bundle) = provider.bundle(&req.prior.secrets) else {
        return Ok(());
    };
    let creds = provider.credentials(&bundle)?;
    let dial = provider.dial(address)?;
    let mut client = match TalosClient::mtls(&dial, address, &creds).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(node = address, error = %e, "node unreachable; nothing to reset");
            return Ok(());
        }
    };
    match client.reset(true).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::Unreachable => Ok(()),
        Err(_) => client
            .reset(false)
            .await
            .or_else(|e| match e.kind {
                ErrorKind::Unreachable => Ok(()),
                _ => Err(e),
            })
            .map_err(|e| api_error(&format!("resetting {address}"), e)),
    }
}

/// A node answering over mTLS still runs what the lab applied (the active
/// config is not read back: drift inside the node is not seen). A node in
/// maintenance mode was reset or its disk re-created: it is gone and the
/// plan applies its config again. A node that doesn't answer keeps its
/// record (it may be rebooting); the plan can't see it.
async fn read_one(
    provider: &TalosProvider,
    req: &Read<MachineSpec>,
) -> Result<Option<Found<MachineSpec>>, ProviderError> {
    let keep = || super::recorded(req);
    let address = req.prior.address.as_str();
    let Ok(bundle) = provider.bundle(&req.prior.secrets) else {
        return Ok(Some(keep()));
    };
    let creds = provider.credentials(&bundle)?;
    let dial = provider.dial(address)?;
    // mTLS first: a configured node (the usual case) answers the one
    // Version call, and the version it gives is what it runs.
    let mtls = async {
        let mut client = TalosClient::mtls(&dial, address, &creds).await?;
        client.version().await
    };
    let failure = match mtls.await {
        Ok(running) => {
            let mut found = keep();
            if found.spec.version.is_some() {
                found.spec.version = Some(running);
            }
            return Ok(Some(found));
        }
        Err(e) => e,
    };
    // Refused over mTLS: a node back in maintenance mode (reset, or a new
    // disk) answers without credentials.
    if failure.kind == ErrorKind::Tls {
        let insecure = async {
            let mut client = TalosClient::insecure(&dial).await?;
            client.version().await
        };
        if insecure.await.is_ok() {
            tracing::info!(
                node = address,
                "node is in maintenance mode: its config is gone"
            );
            return Ok(None);
        }
    }
    tracing::warn!(node = address, error = %failure, "node did not answer; keeping its record");
    Ok(Some(keep()))
}

/// Says whether the change reboots the node, and stops a plan that would
/// hand a configured node a config from a new bundle. Works on attributes:
/// the bundle of a plan that makes a new one is a reference not known yet.
fn review(provider: &TalosProvider, review: &StepReview<'_>) -> Result<Vec<String>, String> {
    let name = review.address.name();
    let new_bundle = match review.desired.get("secrets") {
        Some(Value::Ref(r)) => Some(&r.address),
        _ => None,
    };
    match (review.action, review.prior, new_bundle) {
        (Action::Update | Action::Replace, Some(_), Some(secrets)) => Err(format!(
            "{name} runs with the cluster's recorded secrets bundle, but this plan would \
                 generate a new one (the state has no `{secrets}`, or it would be replaced); the \
                 node would stop trusting the lab. Import the bundle the cluster runs with: \
                 `.import_secrets(..)` with the secrets.yaml you exported, or \
                 `talosctl gen secrets --from-controlplane-config controlplane.yaml`"
        )),
        (Action::Update, Some(prior), _) => {
            let (prior, old) = match rendered(provider, prior) {
                Ok(found) => found,
                Err(e) => return Ok(vec![format!("cannot tell whether {name} reboots: {e}")]),
            };
            let (desired, new) =
                rendered(provider, review.desired).map_err(|e| format!("{name}: {e}"))?;
            let changed = config::changed_paths(&old.docs, &new.docs);
            let reboot = config::needs_reboot(&old.docs, &new.docs);
            if let (Some(running), Some(wanted)) = (&prior.version, &desired.version) {
                if running != wanted {
                    return Ok(vec![format!(
                        "{name} UPGRADES Talos {running} -> {wanted}: the new installer, then a \
                         reboot; the cluster's nodes upgrade one at a time"
                    )]);
                }
            }
            Ok(if changed.is_empty() {
                vec![format!("{name}: the machine config does not change")]
            } else if reboot.is_empty() {
                vec![format!(
                    "{name} applies the change live, no reboot ({})",
                    changed.join(", ")
                )]
            } else {
                vec![format!(
                    "{name} REBOOTS to apply {} (Talos applies these only at boot)",
                    reboot.join(", ")
                )]
            })
        }
        (Action::Replace, _, _) => Ok(vec![format!(
            "{name} is reset with its VM; the new VM boots into maintenance mode and gets its \
             config again"
        )]),
        _ => Ok(Vec::new()),
    }
}

/// The spec in `attrs` (every reference resolved) and its rendered config.
fn rendered(
    provider: &TalosProvider,
    attrs: &lab_core::Attrs,
) -> Result<(MachineSpec, MachineConfig), String> {
    let spec = decode::<MachineSpec>(attrs).map_err(|e| e.to_string())?;
    let config = config_for(provider, &spec).map_err(|e| e.message)?;
    Ok((spec, config))
}

#[async_trait]
impl KindProvider<MachineSpec> for TalosProvider {
    fn schema(&self) -> KindSchema {
        super::schema(
            Duration::from_secs(180),
            Duration::from_secs(30),
            Duration::from_secs(30),
            vec!["vm", "address", "role", "cluster"],
        )
    }

    /// Machine updates of one cluster go one node at a time: a change that
    /// reboots (or upgrades) never takes two control planes, and so etcd's
    /// quorum, down at once.
    fn limits(&self, op: OpKind, _address: &Address, spec: &MachineSpec) -> Vec<Limit> {
        if op != OpKind::Update {
            return Vec::new();
        }
        vec![Limit::operation(
            format!("talos:rolling:{}", spec.cluster),
            1,
        )]
    }

    fn review(&self, step: &StepReview<'_>) -> Result<Vec<String>, String> {
        review(self, step)
    }

    /// One Version call per machine, all at once.
    async fn read(
        &self,
        _ctx: &OpContext,
        _snapshot: &(),
        requests: &[Read<MachineSpec>],
    ) -> Result<Vec<Option<Found<MachineSpec>>>, ProviderError> {
        futures_util::future::join_all(requests.iter().map(|r| read_one(self, r)))
            .await
            .into_iter()
            .collect()
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<MachineSpec>,
    ) -> Result<Found<MachineSpec>, ProviderError> {
        create(self, ctx, req).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<MachineSpec>,
    ) -> Result<Found<MachineSpec>, ProviderError> {
        update(self, ctx, req).await
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        req: Delete<MachineSpec>,
    ) -> Result<(), ProviderError> {
        delete(self, req).await
    }
}
