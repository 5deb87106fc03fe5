//! Choosing the cluster a lab talks to: a live one named by the
//! environment, or the embedded simulated default.
//!
//! A newcomer without hardware runs the example labs against the simulator
//! (feature `sim`), started in-process and persisted under `.lab/sim/`, so a
//! second run sees what the first one created. Setting the environment
//! variables below switches to a real cluster:
//!
//! | variable | example |
//! |---|---|
//! | `PVE_ENDPOINT` | `https://pve1.lan:8006` |
//! | `PVE_TOKEN_ID` | `lab@pve!lab` |
//! | `PVE_TOKEN_SECRET` | the token's secret (shown once when the token is created) |
//! | `PVE_FINGERPRINT` | the node certificate's SHA-256, `AA:BB:...` (optional with a CA-signed certificate) |
//!
//! ## The simulated cluster takes its nodes from the lab
//!
//! The embedded simulator ([`Connection::simulated`] or
//! [`Connection::from_env_or_simulated`] with [`SimConfig::default`](crate::sim::SimConfig::default))
//! starts as `pve1` and `pve2`. A node the lab declares and the cluster
//! lacks (`lab.add(Node::new("pve3"))`) joins it before the plan reads
//! anything ([`lab_core::Provider::prepare`]), as a fresh install would:
//! bridges `vmbr0` and `vmbr1` (not VLAN-aware), storages `local` (dir:
//! iso, vztmpl, backup, import, snippets) and `local-lvm` (lvmthin:
//! images, rootdir); the state file keeps it. The bridges a declared node
//! lists (`Node::new("pve1").bridge("vmbr0")`) exist there and are
//! VLAN-aware, as an SDN VLAN zone on them needs. Nothing else grows: a live cluster is what it
//! is, and a simulator given its node set (`SimConfig::with_nodes`, a
//! `nodes` list other than the default, or `nodes_from_lab: false`, as in
//! [`SimConfig::for_tests`](crate::sim::SimConfig::for_tests)) keeps
//! exactly those nodes, so a lab naming another node is told the cluster
//! lacks it.

use std::sync::Arc;

use lab_core::{Provider, Secret};

use crate::api::{ApiError, Client, ClientConfig};
use crate::provider::{ProxmoxOptions, ProxmoxProvider};

/// Where the lab's Proxmox calls go.
pub struct Connection {
    client: Client,
    describe: String,
    #[cfg(feature = "sim")]
    sim: Option<crate::sim::SimHandle>,
    /// Whether the lab's nodes join the simulated cluster.
    #[cfg(feature = "sim")]
    nodes_from_lab: bool,
}

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The environment names a cluster but is incomplete.
    #[error("{0}")]
    Environment(String),
    /// The client could not be built.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The simulator did not start.
    #[error("the Proxmox simulator did not start: {0}")]
    Simulator(String),
}

impl Connection {
    /// A live cluster.
    pub fn live(config: ClientConfig) -> Result<Connection, ConnectError> {
        let describe = format!("Proxmox VE at {}", config.endpoint);
        Ok(Connection {
            client: Client::new(config)?,
            describe,
            #[cfg(feature = "sim")]
            sim: None,
            #[cfg(feature = "sim")]
            nodes_from_lab: false,
        })
    }

    /// The cluster the `PVE_*` environment variables name, if they name one.
    pub fn config_from_env() -> Result<Option<ClientConfig>, ConnectError> {
        let Ok(endpoint) = std::env::var("PVE_ENDPOINT") else {
            return Ok(None);
        };
        let need = |var: &str| {
            std::env::var(var).map_err(|_| {
                ConnectError::Environment(format!(
                    "PVE_ENDPOINT is set but {var} is not; set it too (see lab_proxmox::connect)"
                ))
            })
        };
        let token_id = need("PVE_TOKEN_ID")?;
        let secret = Secret::new(need("PVE_TOKEN_SECRET")?);
        let mut config = ClientConfig::new(endpoint, token_id, secret);
        if let Ok(fp) = std::env::var("PVE_FINGERPRINT") {
            config = config.with_fingerprint(fp);
        }
        Ok(Some(config))
    }

    /// The simulated cluster, started on its own thread and kept in `state_file`.
    #[cfg(feature = "sim")]
    pub fn simulated(
        mut config: crate::sim::SimConfig,
        state_file: impl Into<std::path::PathBuf>,
    ) -> Result<Connection, ConnectError> {
        let state_file = state_file.into();
        if let Some(dir) = state_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                ConnectError::Simulator(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        config.persist = Some(state_file.clone());
        let nodes_from_lab = config.grows_from_lab();
        // The simulator stops with this process; a real node would not.
        config.restart = crate::sim::Restart::NodeKeptRunning;
        let sim = crate::sim::SimHandle::start_background(config)
            .map_err(|e| ConnectError::Simulator(e.to_string()))?;
        let client_config =
            ClientConfig::new(sim.url(), sim.token_id(), Secret::new(sim.token_secret()))
                .with_fingerprint(sim.fingerprint())
                // The simulator is on loopback: status polls cost little,
                // and each task is seen ending at most 20 ms late (at 50 ms
                // twenty linked clones took 1.16x their lock bound).
                .with_task_poll(std::time::Duration::from_millis(20));
        Ok(Connection {
            client: Client::new(client_config)?,
            describe: format!(
                "the simulated Proxmox VE at {} (state in {})",
                sim.url(),
                state_file.display()
            ),
            sim: Some(sim),
            nodes_from_lab,
        })
    }

    /// A live cluster if the environment names one, else the simulator.
    #[cfg(feature = "sim")]
    pub fn from_env_or_simulated(
        config: crate::sim::SimConfig,
        state_file: impl Into<std::path::PathBuf>,
    ) -> Result<Connection, ConnectError> {
        match Self::config_from_env()? {
            Some(c) => Self::live(c),
            None => Self::simulated(config, state_file),
        }
    }

    /// What this connection talks to, for a start-up line.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The API client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The simulator, when simulated (tests inspect its request log).
    #[cfg(feature = "sim")]
    pub fn simulator(&self) -> Option<&crate::sim::SimHandle> {
        self.sim.as_ref()
    }

    /// The provider to register with the lab (the typed adapter over
    /// [`ProxmoxProvider`]); register a second cluster's with
    /// `lab.register_provider_as(name, ..)`.
    pub fn provider(&self, options: ProxmoxOptions) -> Arc<dyn Provider> {
        let provider = ProxmoxProvider::new(self.client.clone(), options);
        #[cfg(feature = "sim")]
        let provider = match &self.sim {
            Some(sim) if self.nodes_from_lab => provider.with_nodes_from_lab(sim.joiner()),
            _ => provider,
        };
        provider.shared()
    }
}
