//! The contract between the typed builders ([`crate::model`]) and the PBS
//! provider: the resource kinds, each a serde type (its spec, what the
//! builder lowers to) with its outputs, one file per kind.
//!
//! Every spec is `#[serde(deny_unknown_fields)]`: an attribute a builder
//! sets and the spec does not know is a `core::spec-mismatch` error at
//! `check`, at the line that set it. A field is an `Option` when the
//! builder may leave it out or PBS cannot report it back.
//!
//! Field names are PBS's own parameter names (kebab-case: `gc-schedule`,
//! `keep-daily`, `remote-store`), so the request a create sends is the
//! spec minus the lab-only fields each file lists ([`Request`], built by
//! each spec's `create_request`, and checked against the embedded apidoc
//! in `tests/kinds.rs`). Lab-only fields name other resources by address
//! (`server`, `datastore`, `appliance`, `pool`) for the checks and the
//! failure-domain analysis; the provider never sends them.
//!
//! | kind | managed | spec |
//! |---|---|---|
//! | `pbs.server` | yes (read, never created) | [`ServerSpec`] |
//! | `pbs.datastore` | yes | [`DatastoreSpec`] |
//! | `pbs.namespace` | yes | [`NamespaceSpec`] |
//! | `pbs.user` | yes (`User::new`) / no (`User::existing`) | [`UserSpec`] |
//! | `pbs.token` | yes | [`TokenSpec`] |
//! | `pbs.acl` | yes | [`AclSpec`] |
//! | `pbs.remote` | yes | [`RemoteSpec`] |
//! | `pbs.sync_job` | yes | [`SyncJobSpec`] |
//! | `pbs.prune_job` | yes | [`PruneJobSpec`] |
//! | `pbs.verify_job` | yes | [`VerifyJobSpec`] |

mod acl;
mod datastore;
mod namespace;
mod prune_job;
mod remote;
mod retention;
mod server;
mod sync_job;
mod token;
mod user;
mod verify_job;

use std::fmt;

use lab_core::Secret;

pub use acl::{AclOutputs, AclSpec, Role};
pub use datastore::{DatastoreOutputs, DatastoreSpec};
pub use namespace::{NamespaceOutputs, NamespaceSpec};
pub use prune_job::PruneJobSpec;
pub use remote::{RemoteOutputs, RemoteSpec};
pub use retention::Retention;
pub use server::{ServerOutputs, ServerSpec};
pub use sync_job::SyncJobSpec;
pub use token::{TokenOutputs, TokenSpec};
pub use user::{UserOutputs, UserSpec};
pub use verify_job::VerifyJobSpec;

/// Kind of PBS servers (one provider instance each).
pub const SERVER: &str = "pbs.server";
/// Kind of datastores.
pub const DATASTORE: &str = "pbs.datastore";
/// Kind of namespaces inside a datastore.
pub const NAMESPACE: &str = "pbs.namespace";
/// Kind of users.
pub const USER: &str = "pbs.user";
/// Kind of API tokens.
pub const TOKEN: &str = "pbs.token";
/// Kind of ACL entries.
pub const ACL: &str = "pbs.acl";
/// Kind of remotes (another PBS this one pulls from).
pub const REMOTE: &str = "pbs.remote";
/// Kind of sync jobs.
pub const SYNC_JOB: &str = "pbs.sync_job";
/// Kind of prune jobs.
pub const PRUNE_JOB: &str = "pbs.prune_job";
/// Kind of verify jobs.
pub const VERIFY_JOB: &str = "pbs.verify_job";

/// Kind of backup targets (model only: RPO and retention a lab promises
/// for some guests and pools, which the failure-domain analysis checks).
pub const TARGET: &str = "pbs.target";

/// Kind of NAS replications (model only: a pool copied onto another by
/// the NAS, a copy the failure-domain analysis counts).
pub const NAS_REPLICATION: &str = "pbs.nas_replication";

/// Every PBS kind.
pub const ALL: &[&str] = &[
    SERVER, DATASTORE, NAMESPACE, USER, TOKEN, ACL, REMOTE, SYNC_JOB, PRUNE_JOB, VERIFY_JOB,
];

/// The kinds a PBS provider applies (users declared `existing` are model
/// only, but of the same kind).
pub const MANAGED: &[&str] = ALL;

/// The outputs of a sync, prune or verify job.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct JobOutputs {
    /// The job id.
    pub id: String,
}

/// The port PBS's API listens on.
pub const DEFAULT_PORT: i64 = 8007;

/// Deepest namespace PBS allows, in components below the datastore's root
/// namespace: pbs-api-types' `MAX_NAMESPACE_DEPTH` (7; "the datastore root
/// name space is at depth zero (0), so we have in total eight (8)
/// levels"). `BackupNamespace::push` refuses an eighth component although
/// the apidoc's pattern (`{0,7}` + 1) would let it through, and a job's
/// namespace depth plus its `max-depth` may not exceed it either
/// (`check_max_depth`).
pub const MAX_NAMESPACE_DEPTH: usize = 7;

/// Longest namespace path PBS allows, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 256;

/// The request that creates an object from its spec: the PBS endpoint and
/// its form parameters, as the provider will send them.
///
/// Secret values (a remote's `password`) are kept apart in
/// [`Request::secret_params`] and never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// `POST`, `PUT`.
    pub method: &'static str,
    /// The path below `/api2/json`, path parameters filled in (PBS names
    /// are safe in a path as they are: a user id's `@` and a token id's `!`
    /// are path characters).
    pub path: String,
    /// Form parameters (booleans `true`/`false`, lists repeated).
    pub params: Vec<(String, String)>,
    /// Form parameters holding secrets.
    pub secret_params: Vec<(String, Secret)>,
}

impl Request {
    fn new(method: &'static str, path: String) -> Self {
        Request {
            method,
            path,
            params: Vec::new(),
            secret_params: Vec::new(),
        }
    }

    fn put(&mut self, key: &str, value: impl fmt::Display) {
        self.params.push((key.to_string(), value.to_string()));
    }

    fn put_opt(&mut self, key: &str, value: Option<impl fmt::Display>) {
        if let Some(v) = value {
            self.put(key, v);
        }
    }

    /// Every parameter with secrets exposed: only for the one call that
    /// sends them (and for schema validation).
    pub fn exposed_params(&self) -> Vec<(String, String)> {
        let mut all = self.params.clone();
        all.extend(
            self.secret_params
                .iter()
                .map(|(k, s)| (k.clone(), s.expose().to_string())),
        );
        all
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret_keys: Vec<&str> = self.secret_params.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("params", &self.params)
            .field("secret_params", &secret_keys)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::kind::Kind;

    #[test]
    fn the_kind_names_are_the_constants() {
        assert_eq!(ServerSpec::KIND, SERVER);
        assert_eq!(DatastoreSpec::KIND, DATASTORE);
        assert_eq!(NamespaceSpec::KIND, NAMESPACE);
        assert_eq!(UserSpec::KIND, USER);
        assert_eq!(TokenSpec::KIND, TOKEN);
        assert_eq!(AclSpec::KIND, ACL);
        assert_eq!(RemoteSpec::KIND, REMOTE);
        assert_eq!(SyncJobSpec::KIND, SYNC_JOB);
        assert_eq!(PruneJobSpec::KIND, PRUNE_JOB);
        assert_eq!(VerifyJobSpec::KIND, VERIFY_JOB);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let mut r = Request::new("POST", "/config/remote".into());
        r.secret_params
            .push(("password".into(), Secret::new("hunter2")));
        let shown = format!("{r:?}");
        assert!(shown.contains("password") && !shown.contains("hunter2"));
        assert_eq!(r.exposed_params()[0].1, "hunter2");
    }
}
