//! `pbs.datastore`: `/config/datastore`.
//!
//! - **Create** claims the store name, sends `POST /config/datastore`
//!   (the comment ending in the lab's marker), claims the
//!   `create-datastore` task's UPID and waits for it holding no engine
//!   slot; a run that dies meanwhile is followed by one that waits for the
//!   same task ([`KindProvider::recover`]) and adopts the store by its
//!   marker.
//! - **Update** is `PUT /config/datastore/{name}` with what the code sets
//!   and, in PBS's `delete` array, the options it no longer sets. `name`
//!   and `path` force a replacement (PBS cannot move a chunk store).
//! - **Delete** is `DELETE /config/datastore/{name}` and its
//!   `delete-datastore` task. It removes the configuration only: the
//!   chunk store and its backups stay on disk unless
//!   [`super::PbsOptions::destroy_data`] asks for PBS's `destroy-data`.
//!   PBS also drops the jobs and ACL entries on the store (the plan
//!   deletes those first anyway).

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Recovery, Update};
use lab_core::provider::{
    Claim, FieldChange, KindSchema, OpContext, OpKind, Ownership, RecoverRequest, StepReview,
};
use lab_core::{Attrs, ProviderError};
use serde_json::{Map, Value as Json};

use super::normalize::{flag, int, text};
use super::owner::{comment_with, is_ours, user_comment};
use super::{err, form_of, update_form, PbsProvider, Snapshot};
use crate::api::ErrorKind;
use crate::kinds::{DatastoreOutputs, DatastoreSpec};

/// The options an update deletes when the code leaves them out.
const OPTIONAL: &[&str] = &[
    "gc-schedule",
    "prune-schedule",
    "keep-last",
    "keep-hourly",
    "keep-daily",
    "keep-weekly",
    "keep-monthly",
    "keep-yearly",
    "verify-new",
];

/// A store as PBS has it; the lab-only fields from `base`.
pub(crate) fn observe(m: &Map<String, Json>, base: &DatastoreSpec) -> Found<DatastoreSpec> {
    let name = text(m, "name").unwrap_or_else(|| base.name.clone());
    let spec = DatastoreSpec {
        server: base.server.clone(),
        name: name.clone(),
        path: text(m, "path").unwrap_or_default(),
        comment: user_comment(text(m, "comment")),
        gc_schedule: text(m, "gc-schedule"),
        prune_schedule: text(m, "prune-schedule"),
        keep_last: int(m, "keep-last"),
        keep_hourly: int(m, "keep-hourly"),
        keep_daily: int(m, "keep-daily"),
        keep_weekly: int(m, "keep-weekly"),
        keep_monthly: int(m, "keep-monthly"),
        keep_yearly: int(m, "keep-yearly"),
        verify_new: flag(m, "verify-new"),
        appliance: base.appliance.clone(),
        pool: base.pool.clone(),
        capacity_gb: base.capacity_gb,
    };
    Found {
        id: name.clone(),
        spec,
        outputs: DatastoreOutputs { name },
    }
}

fn path_of(name: &str) -> String {
    lab_proxmox::api::path(&["config", "datastore", name])
}

impl PbsProvider {
    async fn datastore_read_back(
        &self,
        name: &str,
        base: &DatastoreSpec,
    ) -> Result<Found<DatastoreSpec>, ProviderError> {
        let m = self.object(&path_of(name)).await?.ok_or_else(|| {
            ProviderError::permanent(format!(
                "datastore `{name}` was accepted but PBS does not list it"
            ))
        })?;
        Ok(observe(&m, base))
    }

    /// The store named like `desired` (or the address), if it carries
    /// `owner`'s marker.
    async fn datastore_marked(
        &self,
        owner: &Ownership,
        desired: Option<&DatastoreSpec>,
    ) -> Result<Option<Found<DatastoreSpec>>, ProviderError> {
        let Some(base) = desired else {
            return Ok(None);
        };
        let Some(m) = self.object(&path_of(&base.name)).await? else {
            return Ok(None);
        };
        Ok(is_ours(text(&m, "comment").as_deref(), owner).then(|| observe(&m, base)))
    }

    /// Waits for task `upid` if it still runs (after a crash).
    pub(crate) async fn settle(&self, upid: &str, notes: &mut Vec<String>) {
        match self.client.task_status(upid).await {
            Ok(s) if s.is_stopped() => {}
            Ok(_) => {
                notes.push(format!("waited for the task {upid}, still running"));
                if let Err(e) = self.client.wait_task(upid, &OpContext::detached()).await {
                    notes.push(format!("the task {upid} failed: {}", e.message));
                }
            }
            // A task PBS no longer knows: nothing to wait for.
            Err(_) => {}
        }
    }
}

#[async_trait]
impl KindProvider<DatastoreSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec!["name", "path"], vec![], [3, 1, 3])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(
            &KindProvider::<DatastoreSpec>::schema(self),
            desired,
            observed,
        )
    }

    fn review(&self, review: &StepReview<'_>) -> Result<Vec<String>, String> {
        let mut notes = super::schedule_notes(review, &["gc-schedule", "prune-schedule"]);
        if review.changes.iter().any(|c| c.forces_replacement) {
            notes.push(if self.options.destroy_data {
                "the old datastore is deleted with its chunk store and every backup in it \
                 (destroy_data)"
                    .to_string()
            } else {
                "the old datastore's configuration is removed; its chunk store and backups \
                 stay on disk"
                    .to_string()
            });
        }
        Ok(notes)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Snapshot,
        requests: &[Read<DatastoreSpec>],
    ) -> Result<Vec<Option<Found<DatastoreSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| snapshot.datastores.get(&r.id).map(|m| observe(m, &r.prior)))
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<DatastoreSpec>,
    ) -> Result<Found<DatastoreSpec>, ProviderError> {
        let spec = &req.spec;
        ctx.claim(Claim::new().with("name", spec.name.as_str()))?;
        let mut form = form_of(&spec.create_request(), &["comment"]);
        form = form.str("comment", comment_with(spec.comment.as_deref(), &req.owner));
        let data: Result<Json, _> = self
            .client
            .transport()
            .post("/config/datastore", &form)
            .await;
        match data {
            Ok(Json::String(upid)) if upid.starts_with("UPID:") => {
                ctx.claim(Claim::new().with("upid", upid.as_str()))?;
                self.client.wait_task(&upid, ctx).await.map_err(err)?;
            }
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                return match self.datastore_marked(&req.owner, Some(spec)).await? {
                    Some(found) => Ok(found),
                    None => Err(ProviderError::permanent(format!(
                        "datastore `{}` already exists on {} and is not this lab's (its \
                         comment has no `{}`): name the lab's datastore differently, or \
                         remove the existing one",
                        spec.name,
                        self.client.endpoint(),
                        req.owner.marker()
                    ))),
                };
            }
            Err(e) => return Err(err(e)),
        }
        self.datastore_read_back(&spec.name, spec).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<DatastoreSpec>,
    ) -> Result<Found<DatastoreSpec>, ProviderError> {
        let spec = &req.spec;
        let (form, delete) = update_form(
            &spec.create_request(),
            &["name", "path", "comment"],
            OPTIONAL,
        );
        let mut form = form.str("comment", comment_with(spec.comment.as_deref(), &req.owner));
        for d in &delete {
            form.push("delete", *d);
        }
        self.client
            .transport()
            .put(&path_of(&req.id), &form)
            .await
            .map_err(err)?;
        self.datastore_read_back(&req.id, spec).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        req: Delete<DatastoreSpec>,
    ) -> Result<(), ProviderError> {
        match self
            .client
            .delete_datastore(&req.id, self.options.destroy_data, ctx)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&DatastoreSpec>,
    ) -> Result<Vec<Found<DatastoreSpec>>, ProviderError> {
        Ok(self
            .datastore_marked(owner, desired)
            .await?
            .into_iter()
            .collect())
    }

    /// Waits for the claimed `create-datastore` task if it still runs,
    /// then adopts the store if it carries the lab's marker.
    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
        desired: Option<&DatastoreSpec>,
    ) -> Result<Recovery<DatastoreSpec>, ProviderError> {
        if req.action != OpKind::Create {
            return Ok(Recovery::default());
        }
        let mut notes = Vec::new();
        // The claimed task; or, when lab died between the call and the
        // claim of its UPID, a `create-datastore` task still running for
        // this store (its worker id is the store's name).
        let upid = match req.claim.text("upid") {
            Some(upid) => Some(upid.to_string()),
            None => match desired {
                Some(d) => self
                    .client
                    .running_tasks("create-datastore")
                    .await
                    .map_err(err)?
                    .into_iter()
                    .find(|t| t.worker_id.as_deref() == Some(d.name.as_str()))
                    .map(|t| t.upid),
                None => None,
            },
        };
        if let Some(upid) = upid {
            self.settle(&upid, &mut notes).await;
        }
        let found = KindProvider::<DatastoreSpec>::adopt(self, ctx, &req.owner, desired).await?;
        Ok(Recovery {
            found: found
                .into_iter()
                .filter(|f| !req.known_ids.contains(&f.id))
                .collect(),
            notes,
            ..Recovery::default()
        })
    }
}
