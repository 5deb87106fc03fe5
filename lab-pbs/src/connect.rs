//! Choosing the Proxmox Backup Server each of a lab's `pbs.server`s talks
//! to: a live one named by the environment, or an embedded simulator.
//!
//! Each PBS server is its own provider instance, so a `main.rs` makes one
//! connection per server, by the server's name, and registers its
//! provider under that name:
//!
//! ```no_run
//! # #[cfg(feature = "sim")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use lab_pbs::connect::PbsConnection;
//! use lab_pbs::model::PbsServer;
//! let primary = PbsConnection::from_env_or_simulated("primary", PbsConnection::default_state_file("primary"))?;
//! let offsite = PbsConnection::from_env_or_simulated("offsite", PbsConnection::default_state_file("offsite"))?;
//! let mut lab = lab_core::Lab::new("home");
//! let primary_pbs = lab.register_provider_as("primary", primary.provider());
//! let offsite_pbs = lab.register_provider_as("offsite", offsite.provider());
//! lab.add(PbsServer::instance(&primary_pbs, "10.0.0.20"));
//! lab.add(PbsServer::instance(&offsite_pbs, "pbs.example.net"));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sim"))]
//! # fn main() {} // `from_env_or_simulated` needs the feature `sim`
//! ```
//!
//! ## The environment
//!
//! | variable | example |
//! |---|---|
//! | `PBS_<NAME>_ENDPOINT` | `https://10.0.0.20:8007` |
//! | `PBS_<NAME>_TOKEN_ID` | `lab@pbs!lab` |
//! | `PBS_<NAME>_TOKEN_SECRET` | the token's secret |
//! | `PBS_<NAME>_FINGERPRINT` | the certificate's SHA-256, `AA:BB:...` (optional with a CA-signed certificate) |
//!
//! `<NAME>` is the server's name in upper case, `-` as `_` (`offsite` ->
//! `PBS_OFFSITE_ENDPOINT`, `pbs-2` -> `PBS_PBS_2_ENDPOINT`). Without them,
//! the plain `PBS_ENDPOINT`, `PBS_TOKEN_ID`, `PBS_TOKEN_SECRET`,
//! `PBS_FINGERPRINT` name the server of a lab that has one: the first
//! server of a process to take them has them, and a second one asking is
//! told to use its own prefixed variables (two servers are never silently
//! the same PBS). A server the environment does not name is simulated,
//! with `from_env_or_simulated`.
//!
//! ## The simulated server
//!
//! [`PbsConnection::simulated`] starts [`crate::sim::PbsSim`] on its own
//! thread, its world kept in the state file (`.lab/sim/pbs-<name>.json`,
//! 0600, with its certificate and root token beside it in
//! `<state>.tls.json`), so `lab apply` in one process and `lab plan` in the
//! next see the same server. Its port is kept too (in `<state>.addr`):
//! the simulator listens on the same loopback port again when it is free,
//! so what other resources recorded of it stays true.
//!
//! The lab declares the server at its real address (`10.0.0.20`); the
//! simulator is on `127.0.0.1:<port>`. As with lab-proxmox's and
//! lab-talos's simulators, nothing in a simulated lab dials a declared
//! address: the provider's calls go to the simulator, and the server's
//! `host`/`port` outputs (which a remote on another server, or a PVE `pbs`
//! storage, takes as its address) are the simulator's loopback address
//! ([`PbsOptions::advertise`]), so the off-site simulator's sync jobs
//! reach the primary simulator. A declared `fingerprint` is not checked
//! against the simulator's own certificate; the `fingerprint` output is the
//! simulator's.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lab_core::{Provider, Secret};

use crate::api::{ApiError, ClientConfig, PbsClient};
use crate::provider::{PbsOptions, PbsProvider};

/// Where one server's calls go.
pub struct PbsConnection {
    name: String,
    client: PbsClient,
    describe: String,
    options: PbsOptions,
    #[cfg(feature = "sim")]
    sim: Option<crate::sim::PbsSim>,
}

impl std::fmt::Debug for PbsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PbsConnection")
            .field("name", &self.name)
            .field("describe", &self.describe)
            .finish_non_exhaustive()
    }
}

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The environment names a server but is incomplete or ambiguous.
    #[error("{0}")]
    Environment(String),
    /// The client could not be built.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The simulator did not start.
    #[error("the PBS simulator for `{name}` did not start: {reason}")]
    Simulator {
        /// The server's name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// The server that took the unprefixed `PBS_*` variables in this process.
static UNPREFIXED: Mutex<Option<String>> = Mutex::new(None);

/// `PBS_<NAME>_`: the prefix of server `name`'s variables.
///
/// ```
/// assert_eq!(lab_pbs::connect::env_prefix("offsite"), "PBS_OFFSITE_");
/// assert_eq!(lab_pbs::connect::env_prefix("pbs-2"), "PBS_PBS_2_");
/// ```
pub fn env_prefix(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PBS_{upper}_")
}

/// Which variables named a server: its own prefixed ones or the plain ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSource {
    /// `PBS_<NAME>_*`.
    Prefixed(String),
    /// `PBS_*`.
    Unprefixed,
}

/// Server `name`'s configuration from `get` (an environment lookup):
/// `PBS_<NAME>_*` if its endpoint is set, else the plain `PBS_*`, else
/// `None`. A set endpoint without its token id or secret is an error
/// naming the missing variable.
pub fn config_from_lookup(
    name: &str,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<(ClientConfig, EnvSource)>, ConnectError> {
    let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    let prefixed = env_prefix(name);
    let (prefix, source) = if get(&format!("{prefixed}ENDPOINT")).is_some() {
        (prefixed.clone(), EnvSource::Prefixed(prefixed))
    } else if get("PBS_ENDPOINT").is_some() {
        ("PBS_".to_string(), EnvSource::Unprefixed)
    } else {
        return Ok(None);
    };
    let var = |k: &str| format!("{prefix}{k}");
    let need = |k: &str| {
        get(&var(k)).ok_or_else(|| {
            ConnectError::Environment(format!(
                "{} is set but {} is not: set it too, for PBS server `{name}` \
                 (see lab_pbs::connect)",
                var("ENDPOINT"),
                var(k)
            ))
        })
    };
    let mut config = ClientConfig::new(
        need("ENDPOINT")?,
        need("TOKEN_ID")?,
        Secret::new(need("TOKEN_SECRET")?),
    );
    if let Some(fp) = get(&var("FINGERPRINT")) {
        config = config.with_fingerprint(fp);
    }
    Ok(Some((config, source)))
}

impl PbsConnection {
    /// Server `name`, live, at `config`.
    pub fn live(name: &str, config: ClientConfig) -> Result<PbsConnection, ConnectError> {
        let describe = format!(
            "PBS server `{name}`: Proxmox Backup Server at {}",
            config.endpoint
        );
        Ok(PbsConnection {
            name: name.to_string(),
            client: PbsClient::new(config)?,
            describe,
            options: PbsOptions::live(),
            #[cfg(feature = "sim")]
            sim: None,
        })
    }

    /// Server `name`'s configuration from the environment (see the module
    /// doc), if it names one. The unprefixed variables serve one server per
    /// process: a second server asking for them is an error saying which
    /// variables to set.
    pub fn config_from_env(name: &str) -> Result<Option<ClientConfig>, ConnectError> {
        let Some((config, source)) = config_from_lookup(name, |k| std::env::var(k).ok())? else {
            return Ok(None);
        };
        if source == EnvSource::Unprefixed {
            let mut taken = UNPREFIXED.lock().unwrap_or_else(|e| e.into_inner());
            match taken.as_deref() {
                Some(other) if other != name => {
                    return Err(ConnectError::Environment(format!(
                        "PBS_ENDPOINT already names PBS server `{other}`; for `{name}` set \
                         {p}ENDPOINT, {p}TOKEN_ID, {p}TOKEN_SECRET (and {p}FINGERPRINT); to \
                         simulate `{name}`, move `{other}`'s settings to {o}* and unset PBS_*",
                        p = env_prefix(name),
                        o = env_prefix(other)
                    )));
                }
                _ => *taken = Some(name.to_string()),
            }
        }
        Ok(Some(config))
    }

    /// `.lab/sim/pbs-<name>.json`: where the simulated server `name` keeps
    /// its world.
    pub fn default_state_file(name: &str) -> PathBuf {
        PathBuf::from(".lab/sim").join(format!("pbs-{name}.json"))
    }

    /// Server `name`, simulated ([`crate::sim::PbsSimConfig::default`]),
    /// on its own thread, kept in `state_file`.
    #[cfg(feature = "sim")]
    pub fn simulated(
        name: &str,
        state_file: impl Into<PathBuf>,
    ) -> Result<PbsConnection, ConnectError> {
        Self::simulated_with(name, crate::sim::PbsSimConfig::default(), state_file)
    }

    /// Server `name`, simulated with `config` (its `state_file` and
    /// `listen` are set here), kept in `state_file`.
    #[cfg(feature = "sim")]
    pub fn simulated_with(
        name: &str,
        mut config: crate::sim::PbsSimConfig,
        state_file: impl Into<PathBuf>,
    ) -> Result<PbsConnection, ConnectError> {
        let state_file = state_file.into();
        let fail = |reason: String| ConnectError::Simulator {
            name: name.to_string(),
            reason,
        };
        if let Some(dir) = state_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        }
        config.state_file = Some(state_file.clone());
        let addr_file = {
            let mut s = state_file.as_os_str().to_owned();
            s.push(".addr");
            PathBuf::from(s)
        };
        let kept: Option<std::net::SocketAddr> = std::fs::read_to_string(&addr_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|a: &std::net::SocketAddr| a.ip().is_loopback());
        let sim = start_on(config, kept).map_err(|e| fail(e.to_string()))?;
        lab_proxmox::sim::tls::write_private(&addr_file, sim.addr().to_string().as_bytes(), true)
            .map_err(|e| fail(format!("cannot write {}: {e}", addr_file.display())))?;
        let client = sim.client();
        let options = PbsOptions {
            advertise: Some((sim.addr().ip().to_string(), sim.addr().port())),
            check_fingerprint: false,
            destroy_data: false,
        };
        Ok(PbsConnection {
            name: name.to_string(),
            describe: format!(
                "PBS server `{name}`: the simulated Proxmox Backup Server at {} (state in {})",
                sim.endpoint(),
                state_file.display()
            ),
            client,
            options,
            sim: Some(sim),
        })
    }

    /// Server `name`, live if the environment names it (see the module
    /// doc), else simulated and kept in `state_file`.
    #[cfg(feature = "sim")]
    pub fn from_env_or_simulated(
        name: &str,
        state_file: impl Into<PathBuf>,
    ) -> Result<PbsConnection, ConnectError> {
        match Self::config_from_env(name)? {
            Some(config) => Self::live(name, config),
            None => Self::simulated(name, state_file),
        }
    }

    /// The server's (and provider instance's) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What this connection talks to, for a start-up line.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The API client.
    pub fn client(&self) -> &PbsClient {
        &self.client
    }

    /// The provider options this connection calls for (live: declared
    /// addresses, fingerprints checked; simulated: the loopback address
    /// advertised, see the module doc).
    pub fn options(&self) -> PbsOptions {
        self.options.clone()
    }

    /// The simulator, when simulated (tests inspect its request log).
    #[cfg(feature = "sim")]
    pub fn simulator(&self) -> Option<&crate::sim::PbsSim> {
        self.sim.as_ref()
    }

    /// The provider to register as this server's instance:
    /// `lab.register_provider_as(conn.name(), conn.provider())`.
    pub fn provider(&self) -> Arc<dyn Provider> {
        self.provider_with(self.options())
    }

    /// The provider with other options (e.g. `destroy_data`).
    pub fn provider_with(&self, options: PbsOptions) -> Arc<dyn Provider> {
        PbsProvider::new(self.client.clone(), options).shared()
    }
}

/// Starts the simulator on `kept` (the port of its last run) if given,
/// retrying for a moment while a previous simulator on that port shuts
/// down, else (or then) on any free loopback port.
#[cfg(feature = "sim")]
fn start_on(
    config: crate::sim::PbsSimConfig,
    kept: Option<std::net::SocketAddr>,
) -> Result<crate::sim::PbsSim, crate::sim::SimError> {
    if let Some(addr) = kept {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            match crate::sim::PbsSim::start_background(config.clone().with_listen(addr)) {
                Ok(sim) => return Ok(sim),
                Err(crate::sim::SimError::Bind { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Err(crate::sim::SimError::Bind { .. }) => break,
                Err(e) => return Err(e),
            }
        }
    }
    crate::sim::PbsSim::start_background(
        config.with_listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn prefixed_variables_win_and_plain_ones_are_the_fallback() {
        let vars = [
            ("PBS_ENDPOINT", "https://10.0.0.20:8007"),
            ("PBS_TOKEN_ID", "lab@pbs!lab"),
            ("PBS_TOKEN_SECRET", "s1"),
            ("PBS_OFFSITE_ENDPOINT", "https://pbs.example.net:8007"),
            ("PBS_OFFSITE_TOKEN_ID", "lab@pbs!offsite"),
            ("PBS_OFFSITE_TOKEN_SECRET", "s2"),
            ("PBS_OFFSITE_FINGERPRINT", "AA:BB"),
        ];
        let (c, source) = config_from_lookup("offsite", lookup(&vars))
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint, "https://pbs.example.net:8007");
        assert_eq!(c.fingerprint.as_deref(), Some("AA:BB"));
        assert_eq!(source, EnvSource::Prefixed("PBS_OFFSITE_".into()));
        let (c, source) = config_from_lookup("primary", lookup(&vars))
            .unwrap()
            .unwrap();
        assert_eq!(c.token_id, "lab@pbs!lab");
        assert_eq!(source, EnvSource::Unprefixed);
        assert!(config_from_lookup("primary", lookup(&[]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn an_incomplete_environment_names_the_missing_variable() {
        let vars = [("PBS_OFFSITE_ENDPOINT", "https://x:8007")];
        let e = config_from_lookup("offsite", lookup(&vars)).unwrap_err();
        assert!(e.to_string().contains("PBS_OFFSITE_TOKEN_ID"), "{e}");
        assert!(!format!("{e:?}").contains("s2"));
    }
}
