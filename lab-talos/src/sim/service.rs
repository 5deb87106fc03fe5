//! The simulated MachineService and ClusterService calls.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tonic::codegen::tokio_stream::{self, Stream};
use tonic::{Code, Request, Response, Status};

use super::machine_config::{self, image_tag, MachineType, ParsedConfig};
use super::{is_control_plane, same_cluster, PendingUpgrade, Stage, World, WorldState};
use crate::api::client::pack_kubeconfig;
use crate::api::proto::cluster::cluster_service_server::ClusterService;
use crate::api::proto::cluster::{HealthCheckProgress, HealthCheckRequest};
use crate::api::proto::common::Data;
use crate::api::proto::machine::apply_configuration_request::Mode;
use crate::api::proto::machine::machine_service_server::MachineService;
use crate::api::proto::machine::{
    ApplyConfiguration, ApplyConfigurationRequest, ApplyConfigurationResponse, Bootstrap,
    BootstrapRequest, BootstrapResponse, FeaturesInfo, PlatformInfo, Reset, ResetRequest,
    ResetResponse, Upgrade, UpgradeRequest, UpgradeResponse, Version, VersionInfo, VersionResponse,
};
use crate::config::{changed_paths, needs_reboot};
use crate::secrets::ROLE_ADMIN;

const APPLY: &str = "/machine.MachineService/ApplyConfiguration";
const BOOTSTRAP: &str = "/machine.MachineService/Bootstrap";
const KUBECONFIG: &str = "/machine.MachineService/Kubeconfig";
const RESET: &str = "/machine.MachineService/Reset";
const UPGRADE: &str = "/machine.MachineService/Upgrade";
const VERSION: &str = "/machine.MachineService/Version";
const HEALTH: &str = "/cluster.ClusterService/HealthCheck";

/// What a node in maintenance mode serves (of the calls the simulator has).
pub(super) const MAINTENANCE_PATHS: &[&str] = &[APPLY, VERSION];

/// Kubeconfig archive chunk size.
const CHUNK: usize = 1024;

/// Talos's default wait when `wait_timeout` is unset (talosctl: 20 min).
const DEFAULT_HEALTH_WAIT: Duration = Duration::from_secs(20 * 60);

/// Serves one connection's calls for node `ip`.
#[derive(Clone)]
pub(super) struct Handler {
    pub world: Arc<World>,
    pub ip: String,
    /// The client certificate's `O=` (empty in maintenance mode).
    pub roles: Arc<Vec<String>>,
}

/// Clears the node's apply lock when an apply ends, however it ends.
struct ApplyLock<'a> {
    world: &'a World,
    ip: &'a str,
}

impl Drop for ApplyLock<'_> {
    fn drop(&mut self) {
        if let Some(node) = self.world.lock().nodes.get_mut(self.ip) {
            node.applying = false;
        }
    }
}

impl Handler {
    fn finish<T>(&self, path: &str, result: Result<T, Status>) -> Result<Response<T>, Status> {
        let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        self.world.log_outcome(&self.ip, path, code);
        result.map(Response::new)
    }

    fn stage(&self) -> Stage {
        self.world.stage(&self.ip).unwrap_or(Stage::Off)
    }

    /// Writes need `os:admin` once the node is configured (maintenance mode
    /// has no client certificates at all).
    fn require_admin(&self) -> Result<(), Status> {
        if !self.stage().is_configured() || self.roles.iter().any(|r| r == ROLE_ADMIN) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "not authorized: this call needs role {ROLE_ADMIN}, the client certificate has {:?}",
                self.roles
            )))
        }
    }

    fn require_reader(&self) -> Result<(), Status> {
        if !self.stage().is_configured() || self.roles.iter().any(|r| r.starts_with("os:")) {
            Ok(())
        } else {
            Err(Status::permission_denied(
                "not authorized: the client certificate names no os:* role",
            ))
        }
    }

    fn config(&self) -> Result<ParsedConfig, Status> {
        self.world
            .lock()
            .nodes
            .get(&self.ip)
            .and_then(|n| n.config.clone())
            .ok_or_else(|| Status::unavailable("the node has no config"))
    }

    async fn apply(
        &self,
        req: ApplyConfigurationRequest,
    ) -> Result<ApplyConfigurationResponse, Status> {
        self.require_admin()?;
        let new = machine_config::parse(&req.data).map_err(Status::invalid_argument)?;
        let mode = Mode::try_from(req.mode)
            .map_err(|_| Status::invalid_argument(format!("unknown apply mode {}", req.mode)))?;
        {
            let mut state = self.world.lock();
            World::refresh(&mut state, &self.ip);
            let node = state
                .nodes
                .get_mut(&self.ip)
                .ok_or_else(|| Status::unavailable("no such node"))?;
            if node.applying {
                return Err(Status::failed_precondition(
                    "another apply configuration request is in progress",
                ));
            }
            if node.upgrade.is_some() {
                return Err(Status::failed_precondition(
                    "an upgrade is in progress: apply the configuration after it",
                ));
            }
            node.applying = true;
        }
        let _lock = ApplyLock {
            world: &self.world,
            ip: &self.ip,
        };
        if !self.world.config.apply_delay.is_zero() {
            tokio::time::sleep(self.world.config.apply_delay).await;
        }
        let reboot_time = self.world.config.reboot;
        let mut state = self.world.lock();
        let stage = World::refresh(&mut state, &self.ip).unwrap_or(Stage::Off);
        let node = state
            .nodes
            .get_mut(&self.ip)
            .ok_or_else(|| Status::unavailable("no such node"))?;
        let answer = |mode: Mode, details: String| ApplyConfigurationResponse {
            messages: vec![ApplyConfiguration {
                metadata: None,
                warnings: Vec::new(),
                mode: mode as i32,
                mode_details: details,
            }],
        };
        match stage {
            Stage::Maintenance => {
                // machined serves maintenance mode itself and answers like
                // a live apply: REBOOT and AUTO become NO_REBOOT, TRY and
                // STAGED stay (siderolabs/talos v1.13.9
                // `internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go`,
                // `ApplyConfiguration`: `inMaintenance`). The boot sequence
                // waiting for a config then installs and reboots.
                let (effective, details) = match mode {
                    Mode::Staged => (
                        Mode::Staged,
                        "Staged configuration to be applied after the next reboot",
                    ),
                    Mode::Try => (Mode::Try, "Applied configuration without a reboot"),
                    _ => (Mode::NoReboot, "Applied configuration without a reboot"),
                };
                if req.dry_run {
                    return Ok(answer(
                        effective,
                        format!("Dry run summary:\n{details} (skipped in dry-run).\nthe node is in maintenance mode: the config installs Talos"),
                    ));
                }
                // The install uses the config's installer (the ISO's Talos
                // without one).
                node.version = Some(
                    new.install_image
                        .as_deref()
                        .and_then(image_tag)
                        .map_or_else(|| self.world.config.talos_version.clone(), str::to_owned),
                );
                node.config = Some(new);
                node.staged = None;
                node.bootstrapped = false;
                node.reboot(Stage::Installing, reboot_time);
                Ok(answer(effective, details.into()))
            }
            Stage::Configured | Stage::Bootstrapped => {
                let old = node
                    .config
                    .as_ref()
                    .ok_or_else(|| Status::unavailable("the node has no config"))?;
                let changed = changed_paths(&old.docs, &new.docs);
                let reboot = needs_reboot(&old.docs, &new.docs);
                let effective = match mode {
                    Mode::Auto if reboot.is_empty() => Mode::NoReboot,
                    Mode::Auto => Mode::Reboot,
                    other => other,
                };
                if req.dry_run {
                    let mut details = format!(
                        "Dry run summary:\nApplied configuration with mode {}",
                        effective
                            .as_str_name()
                            .to_ascii_lowercase()
                            .replace('_', "-")
                    );
                    if changed.is_empty() {
                        details.push_str("\nNo changes.");
                    } else {
                        details.push_str("\nChanged paths:");
                        for path in &changed {
                            details.push_str("\n  ");
                            details.push_str(path);
                        }
                    }
                    if !reboot.is_empty() {
                        details.push_str("\nNeeds a reboot: ");
                        details.push_str(&reboot.join(", "));
                    }
                    return Ok(answer(effective, details));
                }
                match effective {
                    Mode::NoReboot | Mode::Try => {
                        if !reboot.is_empty() {
                            return Err(Status::invalid_argument(format!(
                                "apply configuration in {} mode failed: the change can't be applied without a reboot: {}",
                                effective.as_str_name().to_ascii_lowercase().replace('_', "-"),
                                reboot.join(", ")
                            )));
                        }
                        node.config = Some(new);
                        let details = if effective == Mode::Try {
                            "Applied configuration in try mode; it rolls back after 1m0s unless confirmed"
                        } else {
                            "Applied configuration without a reboot"
                        };
                        Ok(answer(effective, details.into()))
                    }
                    Mode::Staged => {
                        node.staged = Some(new);
                        Ok(answer(
                            Mode::Staged,
                            "Staged configuration to be applied after a reboot".into(),
                        ))
                    }
                    Mode::Reboot | Mode::Auto => {
                        node.config = Some(new);
                        node.staged = None;
                        node.reboot(Stage::Rebooting, reboot_time);
                        Ok(answer(
                            Mode::Reboot,
                            format!(
                                "Applied configuration with a reboot: {}",
                                if reboot.is_empty() {
                                    "requested".to_string()
                                } else {
                                    reboot.join(", ")
                                }
                            ),
                        ))
                    }
                }
            }
            other => Err(Status::unavailable(format!("the node is {other}"))),
        }
    }

    fn bootstrap(&self) -> Result<BootstrapResponse, Status> {
        self.require_admin()?;
        let mut state = self.world.lock();
        let config = state
            .nodes
            .get(&self.ip)
            .and_then(|n| n.config.clone())
            .ok_or_else(|| Status::unavailable("the node has no config"))?;
        // siderolabs/talos v1.13.9 `internal/app/internal/machinehelper/machinehelper.go`,
        // `CheckControlplane`.
        if config.machine_type != MachineType::ControlPlane {
            return Err(Status::unimplemented(
                "bootstrap is only available on control plane nodes",
            ));
        }
        let already = state
            .nodes
            .values()
            .any(|n| n.bootstrapped && n.config.as_ref().is_some_and(|c| same_cluster(c, &config)));
        if already {
            return Err(Status::already_exists(
                "bootstrap failed: etcd data directory is not empty",
            ));
        }
        if let Some(node) = state.nodes.get_mut(&self.ip) {
            node.bootstrapped = true;
        }
        Ok(BootstrapResponse {
            messages: vec![Bootstrap { metadata: None }],
        })
    }

    fn kubeconfig(&self) -> Result<Vec<Data>, Status> {
        self.require_admin()?;
        let config = self.config()?;
        // `CheckControlplane`, as for Bootstrap.
        if !is_control_plane(&config) {
            return Err(Status::unimplemented(
                "kubeconfig is only available on control plane nodes",
            ));
        }
        let kubeconfig = machine_config::admin_kubeconfig(&config).map_err(Status::internal)?;
        let archive = pack_kubeconfig(kubeconfig.expose());
        Ok(archive
            .chunks(CHUNK)
            .map(|chunk| Data {
                metadata: None,
                bytes: chunk.to_vec(),
            })
            .collect())
    }

    fn reset(&self, req: &ResetRequest) -> Result<ResetResponse, Status> {
        self.require_admin()?;
        let reboot_time = self.world.config.reboot;
        let mut state = self.world.lock();
        let config = state
            .nodes
            .get(&self.ip)
            .and_then(|n| n.config.clone())
            .ok_or_else(|| Status::unavailable("the node has no config"))?;
        let bootstrapped_here = state.nodes.get(&self.ip).is_some_and(|n| n.bootstrapped);
        if req.graceful && is_control_plane(&config) && bootstrapped_here {
            let other_cp = state.nodes.iter().any(|(ip, n)| {
                *ip != self.ip
                    && n.config
                        .as_ref()
                        .is_some_and(|c| same_cluster(c, &config) && is_control_plane(c))
            });
            if !other_cp {
                return Err(Status::failed_precondition(
                    "etcd: this node is the last etcd member and can't leave the cluster; reset with graceful=false",
                ));
            }
        }
        if let Some(node) = state.nodes.get_mut(&self.ip) {
            node.wipe();
            node.reboot(Stage::Rebooting, reboot_time);
        }
        Ok(ResetResponse {
            messages: vec![Reset {
                metadata: None,
                actor_id: String::new(),
            }],
        })
    }

    /// The legacy `MachineService.Upgrade`: acknowledges, then (after
    /// [`super::SimConfig::upgrade_delay`]) reboots into the image's tag.
    fn upgrade(&self, req: &UpgradeRequest) -> Result<UpgradeResponse, Status> {
        self.require_admin()?;
        let config = &self.world.config;
        let mut state = self.world.lock();
        let stage = World::refresh(&mut state, &self.ip).unwrap_or(Stage::Off);
        if stage == Stage::Maintenance {
            return Err(Status::unimplemented(
                "upgrade is not available in maintenance mode: apply a config to install Talos",
            ));
        }
        let version = image_tag(&req.image).ok_or_else(|| {
            Status::invalid_argument(format!(
                "upgrade image `{}` has no tag: name the Talos version, e.g. `<installer>:v1.13.9`",
                req.image.trim()
            ))
        })?;
        if !stage.is_configured() {
            return Err(Status::failed_precondition(format!("the node is {stage}")));
        }
        let node = state
            .nodes
            .get_mut(&self.ip)
            .ok_or_else(|| Status::unavailable("no such node"))?;
        if node.applying {
            return Err(Status::failed_precondition(
                "an apply configuration request is in progress: upgrade after it",
            ));
        }
        if node.upgrade.is_some() {
            return Err(Status::failed_precondition(
                "an upgrade is already in progress",
            ));
        }
        let now = Instant::now();
        let reboot_at = now + config.upgrade_delay;
        node.upgrade = Some(PendingUpgrade {
            version: version.to_owned(),
            reboot_at,
            up_at: reboot_at + config.reboot,
        });
        node.advance_upgrade(now);
        Ok(UpgradeResponse {
            messages: vec![Upgrade {
                metadata: None,
                ack: "Upgrade request received".into(),
                actor_id: String::new(),
            }],
        })
    }

    fn version(&self) -> Result<VersionResponse, Status> {
        self.require_reader()?;
        let maintenance = self.stage() == Stage::Maintenance;
        let tag = self
            .world
            .lock()
            .nodes
            .get(&self.ip)
            .and_then(|n| n.version.clone())
            .unwrap_or_else(|| self.world.config.talos_version.clone());
        Ok(VersionResponse {
            messages: vec![Version {
                metadata: None,
                version: Some(VersionInfo {
                    tag,
                    sha: "0000000".into(),
                    built: String::new(),
                    go_version: "go1.25".into(),
                    os: "linux".into(),
                    arch: "amd64".into(),
                }),
                // siderolabs/talos v1.13.9 `v1alpha1_server.go`, `Version`:
                // the platform's own mode (nocloud's is `cloud`,
                // `platform/nocloud/nocloud.go`) in every stage; features
                // only once a machine config is loaded.
                platform: Some(PlatformInfo {
                    name: "nocloud".into(),
                    mode: "cloud".into(),
                }),
                features: (!maintenance).then_some(FeaturesInfo { rbac: true }),
            }],
        })
    }
}

#[tonic::async_trait]
impl MachineService for Handler {
    async fn apply_configuration(
        &self,
        request: Request<ApplyConfigurationRequest>,
    ) -> Result<Response<ApplyConfigurationResponse>, Status> {
        let result = self.apply(request.into_inner()).await;
        self.finish(APPLY, result)
    }

    async fn bootstrap(
        &self,
        _request: Request<BootstrapRequest>,
    ) -> Result<Response<BootstrapResponse>, Status> {
        self.finish(BOOTSTRAP, Handler::bootstrap(self))
    }

    type KubeconfigStream = tokio_stream::Iter<std::vec::IntoIter<Result<Data, Status>>>;

    async fn kubeconfig(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::KubeconfigStream>, Status> {
        let result = Handler::kubeconfig(self)
            .map(|chunks| tokio_stream::iter(chunks.into_iter().map(Ok).collect::<Vec<_>>()));
        self.finish(KUBECONFIG, result)
    }

    async fn reset(
        &self,
        request: Request<ResetRequest>,
    ) -> Result<Response<ResetResponse>, Status> {
        let result = Handler::reset(self, request.get_ref());
        self.finish(RESET, result)
    }

    async fn upgrade(
        &self,
        request: Request<UpgradeRequest>,
    ) -> Result<Response<UpgradeResponse>, Status> {
        let result = Handler::upgrade(self, request.get_ref());
        self.finish(UPGRADE, result)
    }

    async fn version(&self, _request: Request<()>) -> Result<Response<VersionResponse>, Status> {
        self.finish(VERSION, Handler::version(self))
    }
}

/// `HealthCheck` progress, fed by the checking task.
pub(super) struct ProgressStream(mpsc::Receiver<Result<HealthCheckProgress, Status>>);

impl Stream for ProgressStream {
    type Item = Result<HealthCheckProgress, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// One health check: its name as talosctl prints it ("waiting for ...")
/// and the test (the problem, naming the node, if it fails).
struct Check {
    name: &'static str,
    test: fn(&mut WorldState, &Cluster) -> Result<(), String>,
}

/// The cluster a health check is about.
struct Cluster {
    /// The OS CA of the node asked (identifies the cluster).
    os_ca: String,
    control_planes: Vec<String>,
    workers: Vec<String>,
}

/// Every listed node must be up and configured for this cluster.
fn nodes_up(state: &mut WorldState, cluster: &Cluster, ips: &[String]) -> Result<(), String> {
    for ip in ips {
        match World::refresh(state, ip) {
            None => return Err(format!("node {ip}: no such node")),
            Some(stage) if !stage.is_configured() => return Err(format!("node {ip}: {stage}")),
            Some(_) => {}
        }
        let same = state
            .nodes
            .get(ip)
            .and_then(|n| n.config.as_ref())
            .is_some_and(|c| c.os_ca_crt_b64 == cluster.os_ca);
        if !same {
            return Err(format!("node {ip}: configured for another cluster"));
        }
    }
    Ok(())
}

fn all_nodes(cluster: &Cluster) -> Vec<String> {
    cluster
        .control_planes
        .iter()
        .chain(&cluster.workers)
        .cloned()
        .collect()
}

fn etcd_healthy(state: &mut WorldState, cluster: &Cluster) -> Result<(), String> {
    if cluster.control_planes.is_empty() {
        return Err("no control plane nodes were given".into());
    }
    nodes_up(state, cluster, &cluster.control_planes)?;
    let bootstrapped = cluster
        .control_planes
        .iter()
        .any(|ip| state.nodes.get(ip).is_some_and(|n| n.bootstrapped));
    if bootstrapped {
        Ok(())
    } else {
        Err(format!(
            "etcd is not bootstrapped on any of the control planes {} (call Bootstrap on one)",
            cluster.control_planes.join(", ")
        ))
    }
}

fn control_planes_up(state: &mut WorldState, cluster: &Cluster) -> Result<(), String> {
    nodes_up(state, cluster, &cluster.control_planes)
}

fn every_node_up(state: &mut WorldState, cluster: &Cluster) -> Result<(), String> {
    nodes_up(state, cluster, &all_nodes(cluster))
}

const CHECKS: &[Check] = &[
    Check {
        name: "etcd to be healthy",
        test: etcd_healthy,
    },
    Check {
        name: "etcd members to be consistent across nodes",
        test: etcd_healthy,
    },
    Check {
        name: "etcd members to be control plane nodes",
        test: control_planes_up,
    },
    Check {
        name: "apid to be ready",
        test: every_node_up,
    },
    Check {
        name: "kubelet to be healthy",
        test: every_node_up,
    },
    Check {
        name: "all nodes to finish boot sequence",
        test: every_node_up,
    },
    Check {
        name: "all k8s nodes to report",
        test: every_node_up,
    },
    Check {
        name: "all control plane static pods to be running",
        test: etcd_healthy,
    },
    Check {
        name: "all k8s nodes to report ready",
        test: every_node_up,
    },
];

/// Runs the checks in order, streaming progress, until all pass or the
/// deadline passes.
async fn run_health(
    world: Arc<World>,
    cluster: Cluster,
    wait: Duration,
    tx: mpsc::Sender<Result<HealthCheckProgress, Status>>,
) {
    let deadline = Instant::now() + wait;
    let line = |message: String| {
        Ok(HealthCheckProgress {
            metadata: None,
            message,
        })
    };
    for check in CHECKS {
        let mut last_problem: Option<String> = None;
        loop {
            let outcome = {
                let mut state = world.lock();
                (check.test)(&mut state, &cluster)
            };
            match outcome {
                Ok(()) => {
                    if tx
                        .send(line(format!("waiting for {}: OK", check.name)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    break;
                }
                Err(problem) => {
                    if last_problem.as_ref() != Some(&problem) {
                        if tx
                            .send(line(format!("waiting for {}: {problem}", check.name)))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        last_problem = Some(problem.clone());
                    }
                    if Instant::now() >= deadline {
                        let _ = tx
                            .send(Err(Status::deadline_exceeded(format!(
                                "health check failed after {wait:?}: waiting for {}: {problem}",
                                check.name
                            ))))
                            .await;
                        return;
                    }
                    tokio::time::sleep(world.config.health_poll).await;
                }
            }
        }
    }
}

#[tonic::async_trait]
impl ClusterService for Handler {
    type HealthCheckStream = ProgressStream;

    async fn health_check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::HealthCheckStream>, Status> {
        let result = (|| {
            self.require_reader()?;
            let req = request.into_inner();
            let config = self.config()?;
            let wait = req
                .wait_timeout
                .and_then(|d| Duration::try_from(d).ok())
                .unwrap_or(DEFAULT_HEALTH_WAIT);
            let info = req.cluster_info.unwrap_or_default();
            let cluster = Cluster {
                os_ca: config.os_ca_crt_b64.clone(),
                control_planes: info.control_plane_nodes,
                workers: info.worker_nodes,
            };
            let (tx, rx) = mpsc::channel(16);
            tokio::spawn(run_health(self.world.clone(), cluster, wait, tx));
            Ok(ProgressStream(rx))
        })();
        self.finish(HEALTH, result)
    }
}
