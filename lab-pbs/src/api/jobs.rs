//! Remotes (`/config/remote`) and the sync, prune and verify jobs
//! (`/config/{sync,prune,verify}`, run with `POST /admin/{kind}/{id}/run`).

use lab_core::{OpContext, Secret};
use lab_proxmox::api::path;
use serde::de::DeserializeOwned;

use super::{ApiError, Form, PbsClient, RemoteConfig, TaskOutcome};

/// The three kinds of job PBS configures and runs alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// `/config/sync`, `/admin/sync`.
    Sync,
    /// `/config/prune`, `/admin/prune`.
    Prune,
    /// `/config/verify`, `/admin/verify`.
    Verify,
}

impl JobKind {
    /// The path segment (`sync`, `prune`, `verify`).
    pub fn segment(self) -> &'static str {
        match self {
            JobKind::Sync => "sync",
            JobKind::Prune => "prune",
            JobKind::Verify => "verify",
        }
    }
}

impl PbsClient {
    /// `GET /config/remote`.
    pub async fn remotes(&self) -> Result<Vec<RemoteConfig>, ApiError> {
        self.get("/config/remote", &[]).await
    }

    /// `GET /config/remote/{name}`.
    pub async fn remote(&self, name: &str) -> Result<RemoteConfig, ApiError> {
        self.get(&path(&["config", "remote", name]), &[]).await
    }

    /// `POST /config/remote`: `name`, `host`, `auth-id`, `password` (the
    /// remote's token secret) and the options in `form` (`port`,
    /// `fingerprint`, `comment`).
    pub async fn create_remote(
        &self,
        name: &str,
        host: &str,
        auth_id: &str,
        password: &Secret,
        options: Form,
    ) -> Result<(), ApiError> {
        let form = Form::new()
            .str("name", name)
            .str("host", host)
            .str("auth-id", auth_id)
            .secret("password", password)
            .extend(options);
        self.http.post("/config/remote", &form).await.map(drop)
    }

    /// `PUT /config/remote/{name}`; `delete` as an array.
    pub async fn update_remote(
        &self,
        name: &str,
        form: Form,
        delete: &[&str],
    ) -> Result<(), ApiError> {
        let mut form = form;
        for d in delete {
            form.push("delete", *d);
        }
        self.http
            .put(&path(&["config", "remote", name]), &form)
            .await
            .map(drop)
    }

    /// `DELETE /config/remote/{name}`.
    pub async fn delete_remote(&self, name: &str) -> Result<(), ApiError> {
        self.http
            .delete(&path(&["config", "remote", name]), &[])
            .await
            .map(drop)
    }

    /// `GET /config/{kind}`: decode as [`super::SyncJobConfig`],
    /// [`super::PruneJobConfig`] or [`super::VerifyJobConfig`].
    pub async fn jobs<T: DeserializeOwned>(&self, kind: JobKind) -> Result<Vec<T>, ApiError> {
        self.get(&path(&["config", kind.segment()]), &[]).await
    }

    /// `GET /config/{kind}/{id}`.
    pub async fn job<T: DeserializeOwned>(&self, kind: JobKind, id: &str) -> Result<T, ApiError> {
        self.get(&path(&["config", kind.segment(), id]), &[]).await
    }

    /// `POST /config/{kind}` with `id` and the job's fields in `form`.
    pub async fn create_job(&self, kind: JobKind, id: &str, form: Form) -> Result<(), ApiError> {
        let form = Form::new().str("id", id).extend(form);
        self.http
            .post(&path(&["config", kind.segment()]), &form)
            .await
            .map(drop)
    }

    /// `PUT /config/{kind}/{id}`; `delete` as an array.
    pub async fn update_job(
        &self,
        kind: JobKind,
        id: &str,
        form: Form,
        delete: &[&str],
    ) -> Result<(), ApiError> {
        let mut form = form;
        for d in delete {
            form.push("delete", *d);
        }
        self.http
            .put(&path(&["config", kind.segment(), id]), &form)
            .await
            .map(drop)
    }

    /// `DELETE /config/{kind}/{id}`.
    pub async fn delete_job(&self, kind: JobKind, id: &str) -> Result<(), ApiError> {
        self.http
            .delete(&path(&["config", kind.segment(), id]), &[])
            .await
            .map(drop)
    }

    /// `POST /admin/{kind}/{id}/run` and waits for the job's task.
    pub async fn run_job(
        &self,
        kind: JobKind,
        id: &str,
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        let data = self
            .http
            .post(&path(&["admin", kind.segment(), id, "run"]), &Form::new())
            .await?;
        self.await_upid(&format!("run {} job {id}", kind.segment()), data, ctx)
            .await
    }
}
