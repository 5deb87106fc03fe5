//! [`TalosClient`]: one node, one HTTP/2 connection over our own TLS.

use std::fmt;
use std::future::Future;
use std::io::Read as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use lab_core::Secret;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Request, Status};

use super::error::{from_connect, from_status, timed_out};
use super::proto::cluster::cluster_service_client::ClusterServiceClient;
use super::proto::cluster::{ClusterInfo, HealthCheckRequest};
use super::proto::common::Metadata;
use super::proto::machine::machine_service_client::MachineServiceClient;
use super::proto::machine::upgrade_request::RebootMode;
use super::proto::machine::{
    ApplyConfigurationRequest, BootstrapRequest, ResetRequest, UpgradeRequest,
};
use super::tls::{fingerprint, insecure_config, mtls_config};
use super::{
    ApiError, ApplyMode, ApplyOutcome, Credentials, ErrorKind, NodeMode, CONNECT_TIMEOUT,
    DEFAULT_CALL_TIMEOUT,
};

/// A connection to one Talos node's API (apid).
///
/// Built by [`TalosClient::insecure`] (maintenance mode),
/// [`TalosClient::mtls`] (configured nodes) or [`TalosClient::probe`]
/// (whichever works). If the connection drops (a reboot), the next call
/// reconnects with the same TLS settings. Calls take `&mut self`: one call
/// at a time per client, which is how lab drives a node.
pub struct TalosClient {
    desc: String,
    insecure: bool,
    server_sha256: Option<String>,
    call_timeout: Duration,
    /// The tag the last successful `Version` call answered.
    last_version: Option<String>,
    machine: MachineServiceClient<Channel>,
    cluster: ClusterServiceClient<Channel>,
}

impl fmt::Debug for TalosClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TalosClient")
            .field("node", &self.desc)
            .field("insecure", &self.insecure)
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

/// Opens TCP + TLS connections to one address.
#[derive(Clone)]
struct Dialer {
    addr: String,
    desc: String,
    server_name: ServerName<'static>,
    tls: TlsConnector,
}

impl Dialer {
    async fn dial(&self) -> Result<TlsStream<TcpStream>, ApiError> {
        let what = "connecting to";
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr)).await
        {
            Err(_) => {
                return Err(ApiError::new(
                    ErrorKind::Unreachable,
                    format!(
                        "{what} {}: no TCP connection within {CONNECT_TIMEOUT:?}",
                        self.desc
                    ),
                ))
            }
            Ok(Err(e)) => return Err(from_connect(what, &self.desc, &e)),
            Ok(Ok(tcp)) => tcp,
        };
        // Small gRPC frames: don't wait for Nagle.
        let _ = tcp.set_nodelay(true);
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.tls.connect(self.server_name.clone(), tcp),
        )
        .await
        {
            Err(_) => Err(ApiError::new(
                ErrorKind::Unreachable,
                format!(
                    "{what} {}: no TLS handshake within {CONNECT_TIMEOUT:?}",
                    self.desc
                ),
            )),
            Ok(Err(e)) => Err(from_connect(what, &self.desc, &e)),
            Ok(Ok(tls)) => Ok(tls),
        }
    }
}

/// The host part of `host:port` (`[v6]:port` too); the whole text if it
/// has no port.
fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => addr,
    }
}

/// Runs a unary call with the client-side timeout and maps its failure.
async fn unary<T>(
    op: &str,
    desc: &str,
    limit: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(limit, call).await {
        Err(_) => Err(timed_out(op, desc, limit)),
        Ok(Err(status)) => Err(from_status(op, desc, &status)),
        Ok(Ok(response)) => Ok(response.into_inner()),
    }
}

/// A proxied node's error in a response's metadata (apid fills it when it
/// forwards to another node and that node fails).
fn metadata_error(op: &str, desc: &str, metadata: Option<&Metadata>) -> Result<(), ApiError> {
    match metadata {
        Some(m) if !m.error.is_empty() => Err(ApiError::new(
            ErrorKind::Other,
            format!("{op} on {desc}: {}: {}", m.hostname, m.error),
        )),
        _ => Ok(()),
    }
}

fn request<T>(message: T, limit: Duration) -> Request<T> {
    let mut req = Request::new(message);
    req.set_timeout(limit);
    req
}

impl TalosClient {
    async fn open(
        addr: &str,
        desc: String,
        server_name: ServerName<'static>,
        config: Arc<ClientConfig>,
        insecure: bool,
    ) -> Result<TalosClient, ApiError> {
        let endpoint = Endpoint::from_shared(format!("http://{addr}")).map_err(|e| {
            ApiError::new(
                ErrorKind::InvalidArgument,
                format!("`{addr}` is not a host:port address: {e}"),
            )
        })?;
        let dialer = Dialer {
            addr: addr.to_owned(),
            desc: desc.clone(),
            server_name,
            tls: TlsConnector::from(config),
        };
        // Dial once here, so connection and TLS failures surface with their
        // own kind; the channel takes this stream and dials anew only after
        // it drops.
        let first = dialer.dial().await?;
        let server_sha256 = first
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(fingerprint);
        let slot = Arc::new(Mutex::new(Some(first)));
        let connector = tower::service_fn(move |_: Uri| {
            let dialer = dialer.clone();
            let ready = slot.lock().map(|mut s| s.take()).unwrap_or(None);
            async move {
                let stream = match ready {
                    Some(stream) => stream,
                    None => dialer.dial().await?,
                };
                Ok::<_, ApiError>(TokioIo::new(stream))
            }
        });
        let channel = endpoint
            .connect_with_connector(connector)
            .await
            .map_err(|e| from_connect("connecting to", &desc, &e))?;
        Ok(TalosClient {
            desc,
            insecure,
            server_sha256,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            last_version: None,
            machine: MachineServiceClient::new(channel.clone()),
            cluster: ClusterServiceClient::new(channel),
        })
    }

    /// Connects to a node in maintenance mode at `addr` (`host:port`,
    /// usually `<ip>:50000`): any server certificate is accepted and no
    /// client certificate is sent. Against a configured node this connects,
    /// but the first call fails with [`ErrorKind::Tls`] (the node demands a
    /// client certificate; with TLS 1.3 the client learns it only then).
    pub async fn insecure(addr: &str) -> Result<TalosClient, ApiError> {
        TalosClient::insecure_with(addr, None).await
    }

    /// Like [`TalosClient::insecure`], but the node's certificate must have
    /// this SHA-256 fingerprint (64 hex digits, colons allowed), e.g. the
    /// one a maintenance-mode node prints on its console, or one seen
    /// before ([`TalosClient::server_cert_sha256`]).
    pub async fn insecure_pinned(addr: &str, sha256: &str) -> Result<TalosClient, ApiError> {
        TalosClient::insecure_with(addr, Some(sha256)).await
    }

    async fn insecure_with(addr: &str, pin: Option<&str>) -> Result<TalosClient, ApiError> {
        let host = host_of(addr);
        let server_name = match host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(host.to_owned()).map_err(|_| {
                ApiError::new(
                    ErrorKind::InvalidArgument,
                    format!("`{addr}` is not a host:port address"),
                )
            })?,
        };
        let config = insecure_config(pin)?;
        TalosClient::open(addr, addr.to_owned(), server_name, config, true).await
    }

    /// Connects to a configured node at `addr` with mutual TLS: the node's
    /// certificate must be signed by `creds.ca_pem` and name `server_ip`
    /// (an IP SAN; `addr` may differ, e.g. behind a port forward), and
    /// `creds`' client certificate is presented.
    pub async fn mtls(
        addr: &str,
        server_ip: &str,
        creds: &Credentials,
    ) -> Result<TalosClient, ApiError> {
        let ip: IpAddr = server_ip.parse().map_err(|_| {
            ApiError::new(
                ErrorKind::InvalidArgument,
                format!(
                    "`{server_ip}` is not an IP address; Talos API certificates are checked by node IP"
                ),
            )
        })?;
        let desc = if host_of(addr) == server_ip {
            addr.to_owned()
        } else {
            format!("{server_ip} (via {addr})")
        };
        let config = mtls_config(creds)?;
        TalosClient::open(addr, desc, ServerName::IpAddress(ip.into()), config, false).await
    }

    /// Finds out which API a node serves, as the Terraform provider does:
    /// an insecure `Version` first (success = maintenance mode), then mTLS
    /// with `creds` (success = configured). Returns the working client.
    /// Without `creds`, a configured node is an [`ErrorKind::Tls`] error.
    /// The node's version tag from that `Version` call is then in
    /// [`TalosClient::last_version`].
    pub async fn probe(
        addr: &str,
        server_ip: &str,
        creds: Option<&Credentials>,
    ) -> Result<(NodeMode, TalosClient), ApiError> {
        let insecure_failure = match TalosClient::insecure(addr).await {
            Ok(mut client) => match client.version().await {
                Ok(_) => return Ok((NodeMode::Maintenance, client)),
                Err(e) => e,
            },
            Err(e) => e,
        };
        // Only "the node wants a client certificate" (or refuses the
        // insecure call) means "configured"; an unreachable node stays
        // unreachable.
        if !matches!(
            insecure_failure.kind,
            ErrorKind::Tls | ErrorKind::Unimplemented | ErrorKind::PermissionDenied
        ) {
            return Err(insecure_failure);
        }
        let Some(creds) = creds else {
            return Err(ApiError::new(
                ErrorKind::Tls,
                format!(
                    "{}; no Talos credentials were given to connect with mTLS",
                    insecure_failure.message
                ),
            ));
        };
        let mut client = TalosClient::mtls(addr, server_ip, creds).await?;
        client.version().await?;
        Ok((NodeMode::Configured, client))
    }

    /// Sets how long each call may take (default [`DEFAULT_CALL_TIMEOUT`];
    /// [`TalosClient::health_check`] adds its own wait on top).
    pub fn set_call_timeout(&mut self, limit: Duration) {
        self.call_timeout = limit;
    }

    /// Whether this client connected insecurely (maintenance mode).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// SHA-256 (hex) of the certificate the node presented when this client
    /// connected: pin it with [`TalosClient::insecure_pinned`] to notice a
    /// different machine answering on the same address.
    pub fn server_cert_sha256(&self) -> Option<&str> {
        self.server_sha256.as_deref()
    }

    /// The version tag the last successful [`TalosClient::version`] call
    /// returned (also the one [`TalosClient::probe`] made), `None` before
    /// any. Not refreshed by anything else: after an upgrade, call
    /// [`TalosClient::version`] again.
    pub fn last_version(&self) -> Option<&str> {
        self.last_version.as_deref()
    }

    /// `MachineService.Version`: the node's Talos version tag, e.g. `v1.13.9`
    /// (remembered for [`TalosClient::last_version`]).
    pub async fn version(&mut self) -> Result<String, ApiError> {
        const OP: &str = "Version";
        let limit = self.call_timeout;
        let response = unary(
            OP,
            &self.desc,
            limit,
            self.machine.version(request((), limit)),
        )
        .await?;
        let first = response.messages.into_iter().next();
        metadata_error(
            OP,
            &self.desc,
            first.as_ref().and_then(|m| m.metadata.as_ref()),
        )?;
        let tag = first
            .and_then(|m| m.version)
            .map(|v| v.tag)
            .filter(|tag| !tag.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::Other,
                    format!("{OP} on {}: the answer holds no version tag", self.desc),
                )
            })?;
        self.last_version = Some(tag.clone());
        Ok(tag)
    }

    /// `MachineService.ApplyConfiguration`: sends the whole machine config
    /// (multi-document YAML). In maintenance mode any mode installs and
    /// reboots, though Talos answers `NoReboot` for `Auto` and `Reboot`
    /// (the apply itself is live; the boot sequence that waited for a
    /// config then installs). `dry_run` changes nothing and describes the changes in
    /// [`ApplyOutcome::mode_details`]. A bad config is
    /// [`ErrorKind::InvalidArgument`]; another apply in progress is
    /// [`ErrorKind::FailedPrecondition`].
    pub async fn apply_configuration(
        &mut self,
        config: &Secret,
        mode: ApplyMode,
        dry_run: bool,
    ) -> Result<ApplyOutcome, ApiError> {
        const OP: &str = "ApplyConfiguration";
        let limit = self.call_timeout;
        let message = ApplyConfigurationRequest {
            data: config.expose().as_bytes().to_vec(),
            mode: mode.to_proto(),
            dry_run,
            try_mode_timeout: None,
        };
        let response = unary(
            OP,
            &self.desc,
            limit,
            self.machine.apply_configuration(request(message, limit)),
        )
        .await?;
        let Some(first) = response.messages.into_iter().next() else {
            return Err(ApiError::new(
                ErrorKind::Other,
                format!("{OP} on {}: the answer is empty", self.desc),
            ));
        };
        metadata_error(OP, &self.desc, first.metadata.as_ref())?;
        let applied = ApplyMode::from_proto(first.mode).ok_or_else(|| {
            ApiError::new(
                ErrorKind::Other,
                format!(
                    "{OP} on {}: the node answered with unknown mode {}",
                    self.desc, first.mode
                ),
            )
        })?;
        Ok(ApplyOutcome {
            mode: applied,
            mode_details: first.mode_details,
            warnings: first.warnings,
        })
    }

    /// `MachineService.Bootstrap`: creates etcd on this control plane. Safe
    /// to repeat: the node's "etcd data directory is not empty"
    /// (`AlreadyExists`) counts as success. Before bootstrap is possible
    /// the node answers [`ErrorKind::FailedPrecondition`] (retry); a worker
    /// and a node in maintenance mode answer [`ErrorKind::Unimplemented`]
    /// (not transient: call a control plane).
    pub async fn bootstrap(&mut self) -> Result<(), ApiError> {
        const OP: &str = "Bootstrap";
        let limit = self.call_timeout;
        let message = BootstrapRequest {
            recover_etcd: false,
            recover_skip_hash_check: false,
        };
        match unary(
            OP,
            &self.desc,
            limit,
            self.machine.bootstrap(request(message, limit)),
        )
        .await
        {
            Ok(response) => {
                let first = response.messages.into_iter().next();
                metadata_error(
                    OP,
                    &self.desc,
                    first.as_ref().and_then(|m| m.metadata.as_ref()),
                )
            }
            Err(e) if e.kind == ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `MachineService.Kubeconfig`: the admin kubeconfig a control plane
    /// generates from its Kubernetes CA. The node streams a `.tar.gz` with
    /// one file, `kubeconfig`; this returns that file's text.
    pub async fn kubeconfig(&mut self) -> Result<Secret, ApiError> {
        const OP: &str = "Kubeconfig";
        let limit = self.call_timeout;
        let desc = self.desc.clone();
        let machine = &mut self.machine;
        let collect = async {
            let mut stream = machine.kubeconfig(request((), limit)).await?.into_inner();
            let mut archive = Vec::new();
            while let Some(chunk) = stream.message().await? {
                if let Some(m) = chunk.metadata.as_ref().filter(|m| !m.error.is_empty()) {
                    return Err(Status::unknown(format!("{}: {}", m.hostname, m.error)));
                }
                archive.extend_from_slice(&chunk.bytes);
            }
            Ok(archive)
        };
        let archive = match tokio::time::timeout(limit, collect).await {
            Err(_) => return Err(timed_out(OP, &desc, limit)),
            Ok(Err(status)) => return Err(from_status(OP, &desc, &status)),
            Ok(Ok(archive)) => archive,
        };
        unpack_kubeconfig(&archive)
            .map_err(|reason| ApiError::new(ErrorKind::Other, format!("{OP} on {desc}: {reason}")))
    }

    /// `ClusterService.HealthCheck`: the node checks the whole cluster
    /// (etcd, apid, kubelet, boot sequence, Kubernetes nodes and
    /// components) for up to `timeout` and streams its progress; returns
    /// the progress lines. List **every** control plane and worker by IP.
    /// If the cluster isn't healthy in time the error
    /// ([`ErrorKind::DeadlineExceeded`] on the simulator) names the
    /// failing check and node.
    pub async fn health_check(
        &mut self,
        control_planes: &[String],
        workers: &[String],
        timeout: Duration,
    ) -> Result<Vec<String>, ApiError> {
        const OP: &str = "HealthCheck";
        let message = HealthCheckRequest {
            wait_timeout: Some(prost_types::Duration {
                seconds: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(timeout.subsec_nanos()).unwrap_or(0),
            }),
            cluster_info: Some(ClusterInfo {
                control_plane_nodes: control_planes.to_vec(),
                worker_nodes: workers.to_vec(),
                force_endpoint: String::new(),
            }),
        };
        let limit = timeout.saturating_add(self.call_timeout);
        let desc = self.desc.clone();
        let cluster = &mut self.cluster;
        let mut lines = Vec::new();
        let run = async {
            let mut stream = cluster
                .health_check(request(message, limit))
                .await?
                .into_inner();
            while let Some(progress) = stream.message().await? {
                if let Some(m) = progress.metadata.as_ref().filter(|m| !m.error.is_empty()) {
                    return Err(Status::unknown(format!("{}: {}", m.hostname, m.error)));
                }
                lines.push(progress.message);
            }
            Ok(())
        };
        let outcome = tokio::time::timeout(limit, run).await;
        let mut err = match outcome {
            Ok(Ok(())) => return Ok(lines),
            Err(_) => timed_out(OP, &desc, limit),
            Ok(Err(status)) => from_status(OP, &desc, &status),
        };
        if let Some(last) = lines.last() {
            err.message = format!("{} (last progress: {last})", err.message);
        }
        Err(err)
    }

    /// `MachineService.Upgrade`: the node installs Talos from the installer
    /// `image` (e.g. `factory.talos.dev/nocloud-installer/<id>:v1.13.10`;
    /// use the node's schematic, or its extensions vanish) and reboots into
    /// it. Returns once the node has acknowledged the request; the upgrade
    /// and the reboot follow, so wait for the node to come back and check
    /// [`TalosClient::version`]. The request asks to preserve the node's
    /// data (EPHEMERAL, etcd).
    ///
    /// This is the legacy call: deprecated from Talos 1.13 in favour of the
    /// streaming `LifecycleService.Upgrade`, still served until 1.18.
    ///
    /// mTLS only: a node in maintenance mode has nothing installed to
    /// upgrade, so on an insecure client this fails with
    /// [`ErrorKind::Unimplemented`] without calling the node (which would
    /// answer the same). An image without a `:tag` is
    /// [`ErrorKind::InvalidArgument`]; an apply or another upgrade in
    /// progress [`ErrorKind::FailedPrecondition`] (retry).
    pub async fn upgrade(&mut self, image: &str) -> Result<(), ApiError> {
        const OP: &str = "Upgrade";
        if self.insecure {
            return Err(ApiError::new(
                ErrorKind::Unimplemented,
                format!(
                    "{OP} on {}: needs an mTLS connection; a node in maintenance mode has no \
                     installed Talos to upgrade (apply a config to install it)",
                    self.desc
                ),
            ));
        }
        let limit = self.call_timeout;
        let message = UpgradeRequest {
            image: image.to_owned(),
            // Keep EPHEMERAL (and so etcd's data): without it Talos may
            // wipe it and leave etcd, fatal for a single control plane.
            preserve: true,
            stage: false,
            force: false,
            reboot_mode: RebootMode::Default as i32,
        };
        let response = unary(
            OP,
            &self.desc,
            limit,
            self.machine.upgrade(request(message, limit)),
        )
        .await?;
        let first = response.messages.into_iter().next();
        metadata_error(
            OP,
            &self.desc,
            first.as_ref().and_then(|m| m.metadata.as_ref()),
        )
    }

    /// `MachineService.Reset`: wipes the node and reboots it (into
    /// maintenance mode when it boots from the ISO). `graceful` makes a
    /// control plane leave etcd first.
    pub async fn reset(&mut self, graceful: bool) -> Result<(), ApiError> {
        const OP: &str = "Reset";
        let limit = self.call_timeout;
        let message = ResetRequest {
            graceful,
            reboot: true,
            ..ResetRequest::default()
        };
        let response = unary(
            OP,
            &self.desc,
            limit,
            self.machine.reset(request(message, limit)),
        )
        .await?;
        let first = response.messages.into_iter().next();
        metadata_error(
            OP,
            &self.desc,
            first.as_ref().and_then(|m| m.metadata.as_ref()),
        )
    }
}

/// The `kubeconfig` file of the `.tar.gz` Talos streams.
pub(crate) fn unpack_kubeconfig(archive: &[u8]) -> Result<Secret, String> {
    if archive.is_empty() {
        return Err("the node sent an empty kubeconfig archive".into());
    }
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let entries = tar
        .entries()
        .map_err(|e| format!("the kubeconfig archive is not a .tar.gz: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the kubeconfig archive is corrupt: {e}"))?;
        let is_kubeconfig = entry
            .path()
            .ok()
            .and_then(|p| p.file_name().map(|n| n == "kubeconfig"))
            .unwrap_or(false);
        if is_kubeconfig {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| format!("the kubeconfig in the archive is not UTF-8 text: {e}"))?;
            return Ok(Secret::new(text));
        }
    }
    Err("the archive holds no `kubeconfig` file".into())
}

/// A `.tar.gz` holding one file `kubeconfig`, as Talos streams it.
#[cfg(any(test, feature = "sim"))]
pub(crate) fn pack_kubeconfig(text: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    // Writing into a Vec cannot fail.
    let _ = tar.append_data(&mut header, "kubeconfig", text.as_bytes());
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_archive_round_trip() {
        let text = "apiVersion: v1\nkind: Config\n";
        let archive = pack_kubeconfig(text);
        assert_eq!(unpack_kubeconfig(&archive).unwrap().expose(), text);
        assert!(unpack_kubeconfig(b"").is_err());
        assert!(unpack_kubeconfig(b"not gzip").is_err());
    }

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("10.0.0.1:50000"), "10.0.0.1");
        assert_eq!(host_of("[fd00::1]:50000"), "fd00::1");
        assert_eq!(host_of("node1:50000"), "node1");
        assert_eq!(host_of("node1"), "node1");
    }

    /// The client refuses Upgrade on an insecure connection without a
    /// call; the node, asked directly, answers the same.
    #[cfg(feature = "sim")]
    #[tokio::test]
    async fn a_maintenance_node_answers_upgrade_unimplemented() {
        use crate::sim::{SimConfig, TalosSim};
        let ip = "10.0.10.11";
        let sim = TalosSim::new(SimConfig::default());
        let addr = sim.add_node(ip).await.unwrap().to_string();
        let mut client = TalosClient::insecure(&addr).await.unwrap();
        let err = client
            .upgrade("ghcr.io/siderolabs/installer:v1.13.10")
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unimplemented, "{err}");
        assert_eq!(sim.request_count(), 0);
        let status = client
            .machine
            .upgrade(UpgradeRequest {
                image: "ghcr.io/siderolabs/installer:v1.13.10".into(),
                ..UpgradeRequest::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
        assert_eq!(
            sim.outcomes(),
            [format!(
                "{ip} /machine.MachineService/Upgrade Unimplemented"
            )]
        );
    }

    /// Talos's `Version` reports the platform's own mode (nocloud:
    /// `cloud`) in maintenance mode too, and no features before a config.
    #[cfg(feature = "sim")]
    #[tokio::test]
    async fn maintenance_version_reports_the_platform_mode_and_no_features() {
        use crate::sim::{SimConfig, TalosSim};
        let sim = TalosSim::new(SimConfig::default());
        let addr = sim.add_node("10.0.10.11").await.unwrap().to_string();
        let mut client = TalosClient::insecure(&addr).await.unwrap();
        let answer = client.machine.version(()).await.unwrap().into_inner();
        let version = &answer.messages[0];
        let platform = version.platform.as_ref().unwrap();
        assert_eq!(platform.name, "nocloud");
        assert_eq!(platform.mode, "cloud");
        assert_eq!(version.features, None);
    }

    #[tokio::test]
    async fn refused_connection_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = TalosClient::insecure(&addr).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unreachable, "{err}");
        assert!(err.is_transient());
    }
}
