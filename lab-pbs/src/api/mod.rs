//! The Proxmox Backup Server API client.
//!
//! PBS speaks PVE's conventions (JSON `data` envelopes, tasks, form
//! parameters), so [`PbsClient`] is lab-proxmox's transport
//! ([`lab_proxmox::api::Client`]: rustls with fingerprint pinning,
//! timeouts, envelopes, forms, task polling) spoken in PBS's [`DIALECT`],
//! with here only what PBS does its own way (notes §3, §4 and §14):
//!
//! - [`token_header`]: `Authorization: PBSAPIToken=<id>:<secret>`, a `:`
//!   between the token id and the secret where PVE has `=`; port 8007;
//! - errors: PBS answers them in plain text (under a JSON content type) with
//!   a canonical reason phrase, 400 for most, 403 `permission check
//!   failed`, 404 for unknown paths; [`ApiError::from_response`] reads the
//!   text as the message and classifies it (`no such datastore` is
//!   not-found, `already exists` already-exists);
//! - [`Upid`]: PBS task ids carry one more field than PVE's (the task id
//!   inside the worker process) and an escaped worker id, so they get their
//!   own parser; the polling loop is lab-proxmox's
//!   ([`lab_proxmox::api::Client::wait_task_at`]);
//! - typed calls for what a provider needs, one file per area:
//!   `datastores` (config, runtime, snapshots, groups, namespaces, GC),
//!   `jobs` (remotes, sync/prune/verify jobs), `access` (users, tokens,
//!   ACLs); answers decoded leniently ([`types`]).

mod access;
mod datastores;
mod jobs;
pub mod types;
mod upid;

use std::time::Duration;

use lab_core::{OpContext, Secret};
use lab_proxmox::api::{path, Client};
pub use lab_proxmox::api::{ApiError, ClientConfig, Dialect, ErrorKind, Form, TaskOutcome};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use jobs::JobKind;
pub use types::*;
pub use upid::{escape_worker_id, Upid, UpidError};

/// Proxmox Backup Server's flavour of the shared transport:
/// `PBSAPIToken=<id>:<secret>`, port 8007, errors naming PBS and the
/// `PBS_*` variables.
pub const DIALECT: Dialect = Dialect {
    name: "Proxmox Backup Server",
    token_prefix: "PBSAPIToken",
    token_separator: ':',
    default_port: Some(8007),
    https_port: 8007,
    credentials_env: "PBS_TOKEN_ID and PBS_TOKEN_SECRET",
    user_agent: concat!("lab-pbs/", env!("CARGO_PKG_VERSION")),
};

/// The environment variables [`PbsClient::from_env`] reads.
pub const ENV_ENDPOINT: &str = "PBS_ENDPOINT";
/// The token id (`user@realm!token`).
pub const ENV_TOKEN_ID: &str = "PBS_TOKEN_ID";
/// The token secret.
pub const ENV_TOKEN_SECRET: &str = "PBS_TOKEN_SECRET";
/// The SHA-256 fingerprint to pin (optional).
pub const ENV_FINGERPRINT: &str = "PBS_FINGERPRINT";

/// The `Authorization` header value for an API token:
/// `PBSAPIToken=<user>@<realm>!<token>:<secret>` (proxmox-auth-api splits
/// the value at the first `:`; PVE's `PVEAPIToken` uses `=`).
///
/// ```
/// assert_eq!(
///     lab_pbs::api::token_header("lab@pbs!lab", "s3cret"),
///     "PBSAPIToken=lab@pbs!lab:s3cret"
/// );
/// ```
pub fn token_header(token_id: &str, secret: &str) -> String {
    format!("PBSAPIToken={token_id}:{secret}")
}

/// A PBS API client. Cheap to clone (shared connection pool); `Debug`
/// shows the endpoint and the token id, never the secret.
///
/// ```no_run
/// # async fn demo() -> Result<(), lab_pbs::api::ApiError> {
/// use lab_pbs::api::{ClientConfig, PbsClient};
/// let config = ClientConfig::new("pbs.lan", "lab@pbs!lab", lab_core::Secret::new("..."))
///     .with_fingerprint("AA:BB:...");
/// let pbs = PbsClient::new(config)?; // https://pbs.lan:8007
/// println!("{}", pbs.version().await?.version);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PbsClient {
    http: Client,
}

impl PbsClient {
    /// Builds a client (no request yet). An endpoint without a port gets
    /// 8007; a malformed endpoint, token id or fingerprint is refused.
    pub fn new(config: ClientConfig) -> Result<PbsClient, ApiError> {
        Ok(PbsClient {
            http: Client::with_dialect(config, DIALECT)?,
        })
    }

    /// Builds a client from `PBS_ENDPOINT`, `PBS_TOKEN_ID`,
    /// `PBS_TOKEN_SECRET` and (optional) `PBS_FINGERPRINT`; a missing
    /// variable is an error naming it.
    pub fn from_env() -> Result<PbsClient, ApiError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`PbsClient::from_env`] over any lookup (tests, config files).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<PbsClient, ApiError> {
        let need = |k: &str| {
            get(k).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                ApiError::new(
                    ErrorKind::BadParam,
                    format!(
                        "{k} is not set: to reach a Proxmox Backup Server set {ENV_ENDPOINT} \
                         (https://host:8007), {ENV_TOKEN_ID} (user@realm!token), \
                         {ENV_TOKEN_SECRET} and, for a self-signed certificate, {ENV_FINGERPRINT}"
                    ),
                )
            })
        };
        let mut config = ClientConfig::new(
            need(ENV_ENDPOINT)?,
            need(ENV_TOKEN_ID)?,
            Secret::new(need(ENV_TOKEN_SECRET)?),
        );
        if let Some(fp) = get(ENV_FINGERPRINT).filter(|v| !v.trim().is_empty()) {
            config = config.with_fingerprint(fp);
        }
        PbsClient::new(config)
    }

    /// The shared transport underneath (raw `get`/`post`/`put`/`delete`
    /// for calls this client has no method for).
    pub fn transport(&self) -> &Client {
        &self.http
    }

    /// The normalised endpoint (`https://host:8007`).
    pub fn endpoint(&self) -> &str {
        self.http.endpoint()
    }

    /// The SHA-256 fingerprint pinned, if any.
    pub fn fingerprint(&self) -> Option<&str> {
        self.http.config().fingerprint.as_deref()
    }

    /// `GET /version`: reachability, trust and token in one cheap call.
    pub async fn version(&self) -> Result<Version, ApiError> {
        self.http.get("/version", &[]).await
    }

    /// `GET /nodes/{node}/certificates/info` (`node` is `localhost` on a
    /// single PBS): the certificates and their fingerprints, what a PVE
    /// `pbs` storage pins.
    pub async fn certificates(&self, node: &str) -> Result<Vec<CertificateInfo>, ApiError> {
        self.http
            .get(&path(&["nodes", node, "certificates", "info"]), &[])
            .await
    }

    /// Waits for a PBS task (a 9-field UPID) with lab-proxmox's polling
    /// loop: `GET /nodes/{node}/tasks/{upid}/status` until `stopped`, then
    /// `OK`/`WARNINGS: n` or the error text.
    pub async fn wait_task(&self, upid: &str, ctx: &OpContext) -> Result<TaskOutcome, ApiError> {
        let parsed =
            Upid::parse(upid).map_err(|e| ApiError::new(ErrorKind::Other, e.to_string()))?;
        self.http
            .wait_task_at(&parsed.node, &parsed.worker_type, upid, ctx)
            .await
    }

    /// The tasks of worker type `worker_type` still running on the server
    /// (`GET /nodes/localhost/tasks?running=1&typefilter=..`): what a
    /// crashed run looks for when it never learnt its task's UPID.
    pub async fn running_tasks(&self, worker_type: &str) -> Result<Vec<TaskListItem>, ApiError> {
        let tasks: Vec<TaskListItem> = self
            .http
            .get(
                &path(&["nodes", "localhost", "tasks"]),
                &[
                    ("running", "1".to_string()),
                    ("typefilter", worker_type.to_string()),
                ],
            )
            .await?;
        Ok(tasks
            .into_iter()
            .filter(|t| t.status.is_none() && t.worker_type == worker_type)
            .collect())
    }

    /// The status of a task right now (no waiting).
    pub async fn task_status(&self, upid: &str) -> Result<TaskStatus, ApiError> {
        let parsed =
            Upid::parse(upid).map_err(|e| ApiError::new(ErrorKind::Other, e.to_string()))?;
        self.http
            .get(
                &path(&["nodes", &parsed.node, "tasks", upid, "status"]),
                &[],
            )
            .await
    }

    /// The first 50 lines of a task's log.
    pub async fn task_log(&self, upid: &str) -> Result<Vec<String>, ApiError> {
        let parsed =
            Upid::parse(upid).map_err(|e| ApiError::new(ErrorKind::Other, e.to_string()))?;
        self.http.task_log_at(&parsed.node, upid).await
    }

    /// Waits for the task a call answered with (`data` a UPID string).
    async fn await_upid(
        &self,
        what: &str,
        data: Value,
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        match data {
            Value::String(upid) if upid.starts_with("UPID:") => self.wait_task(&upid, ctx).await,
            Value::Null => Ok(TaskOutcome::default()),
            other => Err(ApiError::new(
                ErrorKind::Other,
                format!("{what}: expected a Proxmox Backup Server task id, got {other}"),
            )),
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        p: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        self.http.get(p, query).await
    }
}

/// A poll interval suited to a simulator (tests): 20 ms.
pub const FAST_POLL: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_errors_name_every_variable() {
        let e = PbsClient::from_lookup(|_| None).unwrap_err();
        for var in [
            ENV_ENDPOINT,
            ENV_TOKEN_ID,
            ENV_TOKEN_SECRET,
            ENV_FINGERPRINT,
        ] {
            assert!(e.message.contains(var), "{e}");
        }
    }

    #[test]
    fn the_default_port_is_8007_and_debug_hides_the_secret() {
        let c = PbsClient::from_lookup(|k| match k {
            ENV_ENDPOINT => Some("pbs.lan".into()),
            ENV_TOKEN_ID => Some("lab@pbs!lab".into()),
            ENV_TOKEN_SECRET => Some("hunter2-secret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.endpoint(), "https://pbs.lan:8007");
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = PbsClient::new(ClientConfig::new(
            "https://pbs.lan:9007/",
            "lab@pbs!lab",
            Secret::new("x"),
        ))
        .unwrap();
        assert_eq!(c.endpoint(), "https://pbs.lan:9007");
    }
}
