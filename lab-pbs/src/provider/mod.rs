//! The PBS provider: lab-core's typed kinds ([`TypedProvider`] and one
//! [`lab_core::kind::KindProvider`] per kind of [`crate::kinds`], one file
//! each) over the [`crate::api::PbsClient`], served to the engine through
//! the [`Typed`] adapter.
//!
//! **One provider instance per server.** Every PBS resource is bound, by
//! its address (`<server>--<name>`), to the instance named like its
//! `pbs.server` ([`crate::model::PbsServer::instance`]), so a provider
//! talks to exactly one PBS: register each server's with
//! `lab.register_provider_as(name, provider.shared())`.
//!
//! How it answers the usual pain points (lab-proxmox's provider is the
//! model):
//! - **Refresh in bulk.** One [`Snapshot`] per refresh, shared by the
//!   kinds: one `GET` per listing endpoint the recorded resources need
//!   (`/config/datastore`, `/access/users`, `/access/acl`,
//!   `/config/remote`, `/config/{sync,prune,verify}`), one namespace
//!   listing per store holding a recorded namespace, and one token
//!   listing per user owning a recorded token (PBS lists tokens per user).
//! - **No drift from readback noise.** Answers are normalised to the
//!   spec's shape (`normalize`): lab-only fields come from the recorded
//!   spec, the ownership marker is stripped from comments, PBS's defaults
//!   (an ACL's `propagate`) stay absent when the code leaves them out.
//!   PBS reports exactly the options a config sets, so a field the code
//!   no longer sets is a change to unset it ([`diff`](fn@diff)), sent as
//!   PBS's `delete` array.
//! - **Ownership.** Every object with a `comment` (datastores, users,
//!   tokens, remotes, jobs) carries the lab's marker
//!   (`lab:<lab>/<address>`) at the end of it; after a crash, or with a
//!   state that is behind, only marked objects are adopted. Namespaces and
//!   ACL entries have no comment: an interrupted create is adopted by its
//!   identity (both are idempotent to make), never on a state that is
//!   merely behind.
//! - **Tasks.** A datastore's create and delete are PBS tasks: the UPID is
//!   claimed (journaled) before the wait, so the run after a crash waits
//!   for the same task instead of starting another.
//! - **Plans** show the next three runs of every schedule a step sets
//!   ([`crate::model::describe_schedule`]).

mod acl;
mod datastore;
mod diff;
mod import;
mod jobs;
mod namespace;
mod normalize;
mod owner;
mod prune_job;
mod remote;
mod server;
mod sync_job;
mod token;
mod user;
mod verify_job;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lab_core::kind::{Typed, TypedProvider};
use lab_core::provider::{Estimates, KindSchema, OpContext, Provider, ProviderError, ReadRequest};
use lab_core::value::decode;
use lab_core::Value;
use serde_json::{Map, Value as Json};

use crate::api::{ApiError, ErrorKind, Form, PbsClient};
use crate::kinds::{
    self, AclSpec, DatastoreSpec, NamespaceSpec, PruneJobSpec, RemoteSpec, ServerSpec, SyncJobSpec,
    TokenSpec, UserSpec, VerifyJobSpec,
};

pub use diff::diff;

/// Tunables of the provider.
#[derive(Clone, Debug, Default)]
pub struct PbsOptions {
    /// The `host` and `port` this server's outputs give other resources (a
    /// remote on another server, a PVE `pbs` storage), instead of the
    /// declared ones. `None` (live servers): as declared. The embedded
    /// simulator sets its loopback address here
    /// ([`crate::connect::PbsConnection::options`]), so nothing ever dials
    /// the declared address of a simulated server.
    pub advertise: Option<(String, u16)>,
    /// Whether a `pbs.server`'s declared `fingerprint` is checked against
    /// the certificate the server shows (a mismatch stops the refresh).
    /// `true` for live servers; the simulator has its own certificate.
    pub check_fingerprint: bool,
    /// Whether deleting a `pbs.datastore` also removes its chunk store and
    /// every backup in it (PBS's `destroy-data`). `false` (the default):
    /// only the configuration goes and the data stays on disk, so a
    /// datastore dropped from the code by mistake is one `lab apply` away
    /// from coming back with its backups.
    pub destroy_data: bool,
}

impl PbsOptions {
    /// The options for a live server: declared addresses, fingerprints
    /// checked, data kept on delete.
    pub fn live() -> Self {
        PbsOptions {
            check_fingerprint: true,
            ..PbsOptions::default()
        }
    }
}

/// The PBS provider for one server. Register it with
/// `lab.register_provider_as(server_name, provider.shared())`.
pub struct PbsProvider {
    client: PbsClient,
    options: PbsOptions,
}

/// What one refresh lists for every kind, each only when asked for.
#[derive(Debug, Default)]
pub struct Snapshot {
    datastores: HashMap<String, Map<String, Json>>,
    /// Per store: its namespaces (`None`: the store is gone).
    namespaces: HashMap<String, Option<BTreeSet<String>>>,
    users: HashMap<String, Map<String, Json>>,
    /// By token id.
    tokens: HashMap<String, Map<String, Json>>,
    acl: Vec<Map<String, Json>>,
    remotes: HashMap<String, Map<String, Json>>,
    sync_jobs: HashMap<String, Map<String, Json>>,
    prune_jobs: HashMap<String, Map<String, Json>>,
    verify_jobs: HashMap<String, Map<String, Json>>,
}

impl PbsProvider {
    /// A provider talking to one server through `client`.
    pub fn new(client: PbsClient, options: PbsOptions) -> Self {
        PbsProvider { client, options }
    }

    /// The provider as the engine takes it: the [`Typed`] adapter serving
    /// every PBS kind.
    pub fn shared(self) -> Arc<dyn Provider> {
        Typed::new(self)
            .kind::<ServerSpec>()
            .kind::<DatastoreSpec>()
            .kind::<NamespaceSpec>()
            .kind::<UserSpec>()
            .kind::<TokenSpec>()
            .kind::<AclSpec>()
            .kind::<RemoteSpec>()
            .kind::<SyncJobSpec>()
            .kind::<PruneJobSpec>()
            .kind::<VerifyJobSpec>()
            .shared()
    }

    /// The API client.
    pub fn client(&self) -> &PbsClient {
        &self.client
    }

    /// The options.
    pub fn options(&self) -> &PbsOptions {
        &self.options
    }

    /// `GET` of a list of objects keyed by `key`.
    async fn listing(
        &self,
        path: &str,
        key: &str,
    ) -> Result<HashMap<String, Map<String, Json>>, ProviderError> {
        let list: Vec<Map<String, Json>> =
            self.client.transport().get(path, &[]).await.map_err(err)?;
        Ok(list
            .into_iter()
            .filter_map(|m| Some((normalize::text(&m, key)?, m)))
            .collect())
    }

    /// `GET` of one object; `None` when PBS says it does not exist.
    async fn object(&self, path: &str) -> Result<Option<Map<String, Json>>, ProviderError> {
        match self.client.transport().get(path, &[]).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// The namespaces of `store` (`None`: no such store).
    async fn namespace_set(&self, store: &str) -> Result<Option<BTreeSet<String>>, ProviderError> {
        match self.client.namespaces(store, None, None).await {
            Ok(list) => Ok(Some(list.into_iter().map(|n| n.ns).collect())),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(e)),
        }
    }
}

pub(crate) fn err(e: ApiError) -> ProviderError {
    e.into()
}

/// Success for a delete of something already gone.
pub(crate) fn gone_ok(result: Result<(), ApiError>) -> Result<(), ProviderError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// A kind's schema: the fields forcing replacement, those the diff ignores,
/// and its estimates (create, update, delete) in seconds.
pub(crate) fn schema(
    force_new: Vec<&'static str>,
    ignore: Vec<&'static str>,
    [create, update, delete]: [u64; 3],
) -> KindSchema {
    let secs = Duration::from_secs;
    KindSchema {
        force_new,
        ignore,
        estimate: Estimates {
            create: secs(create),
            update: secs(update),
            delete: secs(delete),
        },
    }
}

/// A spec's create request as a form (secrets kept secret), without the
/// parameters in `skip` (the comment, which the provider writes with the
/// ownership marker).
pub(crate) fn form_of(request: &kinds::Request, skip: &[&str]) -> Form {
    let mut form = Form::new();
    for (k, v) in request
        .params
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
    {
        form.push(k, v.as_str());
    }
    for (k, s) in &request.secret_params {
        form.push_secret(k, s);
    }
    form
}

/// The form of an update: `request`'s parameters but `skip` (the
/// identity, which a `PUT` takes in its path), and the PBS names of the
/// `optional` fields `request` leaves out, to be deleted.
pub(crate) fn update_form(
    request: &kinds::Request,
    skip: &[&str],
    optional: &[&'static str],
) -> (Form, Vec<&'static str>) {
    let mut form = Form::new();
    for (k, v) in request
        .params
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
    {
        form.push(k, v.as_str());
    }
    for (k, s) in &request.secret_params {
        form.push_secret(k, s);
    }
    let delete = optional
        .iter()
        .copied()
        .filter(|o| !request.params.iter().any(|(k, _)| k == o))
        .collect();
    (form, delete)
}

/// Plan notes for the schedules `fields` a create or a change sets: each
/// one's next three runs.
pub(crate) fn schedule_notes(
    review: &lab_core::provider::StepReview<'_>,
    fields: &[&str],
) -> Vec<String> {
    let now = time::OffsetDateTime::now_utc();
    fields
        .iter()
        .filter(|f| review.prior.is_none() || review.changes.iter().any(|c| c.field == **f))
        .filter_map(|f| match review.desired.get(*f) {
            Some(Value::Str(s)) => Some(format!(
                "{f} {} (UTC; PBS runs it in the server's time zone)",
                crate::model::describe_schedule(s, now)
            )),
            _ => None,
        })
        .collect()
}

fn recorded<K: lab_core::kind::Kind>(r: &ReadRequest) -> Result<K, ProviderError> {
    decode::<K>(&r.prior).map_err(|e| {
        ProviderError::permanent(format!(
            "{}: the recorded spec does not fit `{}`: {e}",
            r.address,
            K::KIND
        ))
    })
}

#[async_trait]
impl TypedProvider for PbsProvider {
    type Snapshot = Snapshot;

    fn name(&self) -> &str {
        "pbs"
    }

    /// `lab import`: the server, its datastores and its prune, verify and
    /// local sync jobs as builders, bound in the state (see
    /// `provider::import`).
    async fn discover(
        &self,
        ctx: &OpContext,
        instance: &str,
    ) -> Result<Option<lab_core::import::Discovery>, ProviderError> {
        self.discover_server(ctx, instance).await.map(Some)
    }

    async fn probe(&self, _ctx: &OpContext) -> Result<(), ProviderError> {
        self.client.version().await.map(|_| ()).map_err(err)
    }

    async fn snapshot(
        &self,
        _ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<Snapshot, ProviderError> {
        let of = |kind: &'static str| requests.iter().filter(move |r| r.address.kind() == kind);
        let needs = |kind: &'static str| of(kind).next().is_some();
        let mut snap = Snapshot::default();
        if needs(kinds::DATASTORE) {
            snap.datastores = self.listing("/config/datastore", "name").await?;
        }
        for r in of(kinds::NAMESPACE) {
            let ns = recorded::<NamespaceSpec>(r)?;
            if let std::collections::hash_map::Entry::Vacant(slot) = snap.namespaces.entry(ns.store)
            {
                let set = self.namespace_set(slot.key()).await?;
                slot.insert(set);
            }
        }
        if needs(kinds::USER) || needs(kinds::TOKEN) {
            snap.users = self.listing("/access/users", "userid").await?;
        }
        let mut token_users = BTreeSet::new();
        for r in of(kinds::TOKEN) {
            token_users.insert(recorded::<TokenSpec>(r)?.userid);
        }
        for userid in token_users.iter().filter(|u| snap.users.contains_key(*u)) {
            let path = lab_proxmox::api::path(&["access", "users", userid, "token"]);
            match self.listing(&path, "tokenid").await {
                Ok(tokens) => snap.tokens.extend(tokens),
                // Deleted between the two calls.
                Err(e) if e.message.contains("does not exist") => {}
                Err(e) => return Err(e),
            }
        }
        if needs(kinds::ACL) {
            snap.acl = self
                .client
                .transport()
                .get("/access/acl", &[])
                .await
                .map_err(err)?;
        }
        if needs(kinds::REMOTE) {
            snap.remotes = self.listing("/config/remote", "name").await?;
        }
        if needs(kinds::SYNC_JOB) {
            snap.sync_jobs = self.listing("/config/sync", "id").await?;
        }
        if needs(kinds::PRUNE_JOB) {
            snap.prune_jobs = self.listing("/config/prune", "id").await?;
        }
        if needs(kinds::VERIFY_JOB) {
            snap.verify_jobs = self.listing("/config/verify", "id").await?;
        }
        Ok(snap)
    }
}
