//! [`CloudflareConnection`]: which Cloudflare API a lab's account talks to.

use std::sync::Arc;

use lab_core::Provider;

use crate::api::cloudflare::Endpoint;
use crate::provider::cloudflare::CloudflareProvider;

/// `CLOUDFLARE_<INSTANCE>_API`.
///
/// ```
/// assert_eq!(lab_net::connect::api_variable("cf-home"), "CLOUDFLARE_CF_HOME_API");
/// ```
pub fn api_variable(instance: &str) -> String {
    format!("CLOUDFLARE_{}_API", env_part(instance))
}

fn env_part(instance: &str) -> String {
    instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Why no Cloudflare connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum CloudflareConnectError {
    /// A variable holds something unusable.
    #[error("{0}")]
    Environment(String),
    /// Neither the environment nor the simulator.
    #[error(
        "no Cloudflare API for `{0}`: set CLOUDFLARE_API=cloudflare (or {var}) to use the real \
         API, or build with the feature `sim` for the simulator",
        var = api_variable(.0)
    )]
    Nothing(String),
    /// The state folder could not be made.
    #[error("the Cloudflare simulator's folder {path}: {reason}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Choosing the Cloudflare API a lab's account talks to: the real one when
/// the environment says so, else (feature `sim`) a simulator shaped by the
/// lab. The lab's code is the same in both: the account id, the API token
/// and the zones are the `cloudflare.account` and `cloudflare.zone`
/// resources', read when a plan starts ([`lab_core::Provider::prepare`]).
///
/// ```no_run
/// use lab_core::prelude::*;
/// use lab_net::connect::CloudflareConnection;
/// use lab_net::model::cloudflare::{Account, Tunnel, Zone};
/// let cf = CloudflareConnection::from_env_or_simulated("cloudflare", ".lab/sim")?;
/// let mut lab = Lab::new("home");
/// lab.register_provider(cf.provider());
/// let acct = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef",
///                                 Secret::from_env("CLOUDFLARE_API_TOKEN").ok_or("set CLOUDFLARE_API_TOKEN")?, "myteam"));
/// lab.add(Zone::new(&acct, "example.com"));
/// lab.add(Tunnel::new(&acct, "home"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// | variable | meaning |
/// |---|---|
/// | `CLOUDFLARE_<INSTANCE>_API`, else `CLOUDFLARE_API` | live: `cloudflare` (or `live`) for `https://api.cloudflare.com/client/v4`, or another `https://` base URL |
/// | `CLOUDFLARE_<INSTANCE>_FINGERPRINT`, else `CLOUDFLARE_FINGERPRINT` | optional: trust exactly the certificate with this SHA-256 fingerprint (a simulator in another process) |
///
/// `<INSTANCE>` is the instance name upper case, `-` as `_`
/// ([`api_variable`]). Without them the simulator runs on its own thread,
/// its state in `dir/cloudflare-<instance>.json` (certificate and token
/// beside it), started by the first plan with the lab's account id and
/// zones (every zone the lab declares exists there, so a simulated lab
/// never meets `net::cloudflare-zone-missing`), and restarted on the same
/// state when the lab's account, token or zones change. The simulator
/// never sees the lab's token: it accepts a stand-in derived from it
/// (`sim-` and its SHA-256), which the provider sends instead, so a real
/// token in the lab's code is not written into the simulator's files.
/// Without the feature `sim`, an error says which variable to set.
pub struct CloudflareConnection {
    instance: String,
    describe: String,
    endpoint: Option<Endpoint>,
    dns_tags: bool,
    #[cfg(feature = "sim")]
    sim: Option<Arc<sim::SimSource>>,
}

impl std::fmt::Debug for CloudflareConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareConnection")
            .field("instance", &self.instance)
            .field("describe", &self.describe)
            .finish()
    }
}

impl CloudflareConnection {
    /// The endpoint the environment names for `instance`, if any.
    pub fn endpoint_from_env(instance: &str) -> Result<Option<Endpoint>, CloudflareConnectError> {
        let own = api_variable(instance);
        let (var, value) = match std::env::var(&own) {
            Ok(v) => (own, v),
            Err(_) => match std::env::var("CLOUDFLARE_API") {
                Ok(v) => ("CLOUDFLARE_API".to_string(), v),
                Err(_) => return Ok(None),
            },
        };
        let value = value.trim();
        let base_url = match value {
            "cloudflare" | "live" => crate::api::cloudflare::API_BASE.to_string(),
            url if url.starts_with("https://") => url.trim_end_matches('/').to_string(),
            other => {
                return Err(CloudflareConnectError::Environment(format!(
                    "{var}={other:?}: write `cloudflare` for the real API, or an https:// base URL \
                     (https://api.cloudflare.com/client/v4)"
                )))
            }
        };
        let fingerprint = std::env::var(format!("CLOUDFLARE_{}_FINGERPRINT", env_part(instance)))
            .or_else(|_| std::env::var("CLOUDFLARE_FINGERPRINT"))
            .ok()
            .filter(|f| !f.trim().is_empty());
        Ok(Some(Endpoint {
            base_url,
            fingerprint,
        }))
    }

    /// The API at `endpoint` for provider instance `instance`.
    pub fn live(instance: &str, endpoint: Endpoint) -> Self {
        CloudflareConnection {
            instance: instance.to_string(),
            describe: format!("the Cloudflare API at {}", endpoint.base_url),
            endpoint: Some(endpoint),
            dns_tags: false,
            #[cfg(feature = "sim")]
            sim: None,
        }
    }

    /// The simulator for `instance`, its state in
    /// `dir/cloudflare-<instance>.json`; it starts when a plan first
    /// prepares the lab.
    #[cfg(feature = "sim")]
    pub fn simulated(
        instance: &str,
        dir: impl AsRef<std::path::Path>,
    ) -> Result<Self, CloudflareConnectError> {
        let dir = dir.as_ref();
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| CloudflareConnectError::Folder {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let state_file = dir.join(format!("cloudflare-{instance}.json"));
        Ok(CloudflareConnection {
            instance: instance.to_string(),
            describe: format!(
                "the simulated Cloudflare API (state in {})",
                state_file.display()
            ),
            endpoint: None,
            dns_tags: false,
            sim: Some(Arc::new(sim::SimSource::new(state_file))),
        })
    }

    /// The real API if the environment names one for `instance`, else the
    /// simulator (feature `sim`) kept under `dir`.
    pub fn from_env_or_simulated(
        instance: &str,
        dir: impl AsRef<std::path::Path>,
    ) -> Result<Self, CloudflareConnectError> {
        if let Some(endpoint) = Self::endpoint_from_env(instance)? {
            return Ok(Self::live(instance, endpoint));
        }
        #[cfg(feature = "sim")]
        {
            Self::simulated(instance, dir)
        }
        #[cfg(not(feature = "sim"))]
        {
            let _ = dir;
            Err(CloudflareConnectError::Nothing(instance.to_string()))
        }
    }

    /// What this connection talks to, for a start-up line.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The instance name this connection is for (register the provider
    /// under it: `lab.register_provider_as(conn.instance(), conn.provider())`).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The running simulator, once a plan started it (tests inspect and
    /// edit it).
    #[cfg(feature = "sim")]
    pub fn simulator(&self) -> Option<Arc<crate::sim::cloudflare::CloudflareSim>> {
        self.sim.as_ref().and_then(|s| s.running())
    }

    /// Tags the DNS records too (zones on a paid plan only; see
    /// [`CloudflareProvider::with_dns_tags`]).
    pub fn with_dns_tags(mut self, on: bool) -> Self {
        self.dns_tags = on;
        self
    }

    /// The provider to register with the lab.
    pub fn provider(&self) -> Arc<dyn Provider> {
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.sim {
            return CloudflareProvider::with_source(sim.clone())
                .with_dns_tags(self.dns_tags)
                .shared();
        }
        CloudflareProvider::new(self.endpoint.clone().unwrap_or_else(Endpoint::cloudflare))
            .with_dns_tags(self.dns_tags)
            .shared()
    }
}

#[cfg(feature = "sim")]
mod sim {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use lab_core::Secret;

    use crate::api::cloudflare::Endpoint;
    use crate::provider::cloudflare::{EndpointSource, LabAccount};
    use crate::sim::cloudflare::{CloudflareSim, CloudflareSimConfig};

    /// What the running simulator was started with.
    #[derive(PartialEq)]
    struct Shape {
        account_id: String,
        token: String,
        zones: Vec<String>,
    }

    /// A simulator started (and restarted) with the lab's account.
    pub(super) struct SimSource {
        state_file: PathBuf,
        running: Mutex<Option<(Shape, Arc<CloudflareSim>)>>,
    }

    impl SimSource {
        pub fn new(state_file: PathBuf) -> Self {
            SimSource {
                state_file,
                running: Mutex::new(None),
            }
        }

        pub fn running(&self) -> Option<Arc<CloudflareSim>> {
            let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            running.as_ref().map(|(_, sim)| sim.clone())
        }
    }

    /// The simulator's token for the lab's `token`: `sim-` and its
    /// SHA-256 (one way: the files keep no usable token).
    pub(super) fn stand_in(token: &Secret) -> Secret {
        let digest = lab_proxmox::api::tls::sha256_fingerprint(token.expose().as_bytes());
        Secret::new(format!("sim-{}", digest.replace(':', "").to_lowercase()))
    }

    impl EndpointSource for Arc<SimSource> {
        fn endpoint(&self, account: &LabAccount) -> Result<(Endpoint, Option<Secret>), String> {
            let mut zones = account.zones.clone();
            zones.sort();
            zones.dedup();
            let token = stand_in(&account.token);
            let shape = Shape {
                account_id: account.account_id.clone(),
                token: token.expose().to_string(),
                zones,
            };
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            let endpoint = |sim: &CloudflareSim| Endpoint {
                base_url: sim.base_url(),
                fingerprint: Some(sim.fingerprint().to_string()),
            };
            if let Some((had, sim)) = running.as_ref() {
                if *had == shape {
                    return Ok((endpoint(sim), Some(token)));
                }
            }
            // Another account, token or zone set: the same state, started
            // again with the lab's shape.
            if let Some((_, old)) = running.take() {
                old.stop();
            }
            let mut config = CloudflareSimConfig::default()
                .with_token(shape.token.clone())
                .with_account_id(shape.account_id.clone())
                .with_state_file(self.state_file.clone());
            for zone in &shape.zones {
                config = config.with_zone(zone.clone());
            }
            let sim = CloudflareSim::start_background(config).map_err(|e| e.to_string())?;
            let at = endpoint(&sim);
            *running = Some((shape, Arc::new(sim)));
            Ok((at, Some(token)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_the_live_api() {
        // Variables of an instance no other test uses.
        let var = api_variable("unit-env");
        assert_eq!(var, "CLOUDFLARE_UNIT_ENV_API");
        std::env::set_var(&var, "cloudflare");
        let e = CloudflareConnection::endpoint_from_env("unit-env")
            .unwrap()
            .unwrap();
        assert_eq!(e, Endpoint::cloudflare());
        std::env::set_var(&var, "https://127.0.0.1:9443/client/v4/");
        std::env::set_var("CLOUDFLARE_UNIT_ENV_FINGERPRINT", "AA:BB");
        let e = CloudflareConnection::endpoint_from_env("unit-env")
            .unwrap()
            .unwrap();
        assert_eq!(e.base_url, "https://127.0.0.1:9443/client/v4");
        assert_eq!(e.fingerprint.as_deref(), Some("AA:BB"));
        let conn = CloudflareConnection::from_env_or_simulated("unit-env", "").unwrap();
        assert!(conn.describe().contains("127.0.0.1:9443"), "{conn:?}");
        std::env::set_var(&var, "api.cloudflare.com");
        let err = CloudflareConnection::endpoint_from_env("unit-env").unwrap_err();
        assert!(err.to_string().contains("CLOUDFLARE_UNIT_ENV_API"), "{err}");
        std::env::remove_var(&var);
        std::env::remove_var("CLOUDFLARE_UNIT_ENV_FINGERPRINT");
    }
}
