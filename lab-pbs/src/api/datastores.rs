//! Datastores: configuration (`/config/datastore`), runtime
//! (`/admin/datastore`: list, status, snapshots, groups), namespaces and
//! garbage collection.

use lab_core::OpContext;
use lab_proxmox::api::path;
use serde_json::Value;

use super::{
    ApiError, DatastoreConfig, DatastoreListItem, DatastoreStatus, Form, GcStatus, GroupInfo,
    NamespaceInfo, PbsClient, SnapshotInfo, TaskOutcome,
};

fn ns_query(ns: Option<&str>) -> Vec<(&'static str, String)> {
    ns.filter(|n| !n.is_empty())
        .map(|n| ("ns", n.to_string()))
        .into_iter()
        .collect()
}

impl PbsClient {
    /// `GET /config/datastore`: every datastore's configuration.
    pub async fn datastores(&self) -> Result<Vec<DatastoreConfig>, ApiError> {
        self.get("/config/datastore", &[]).await
    }

    /// `GET /config/datastore/{name}`.
    pub async fn datastore(&self, name: &str) -> Result<DatastoreConfig, ApiError> {
        self.get(&path(&["config", "datastore", name]), &[]).await
    }

    /// `POST /config/datastore` (`name`, `path` and the options in `form`),
    /// then waits for the `create-datastore` task it answers with (the
    /// schema says `null`; PBS returns the UPID).
    pub async fn create_datastore(
        &self,
        name: &str,
        dir: &str,
        options: Form,
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        let form = Form::new()
            .str("name", name)
            .str("path", dir)
            .extend(options);
        let data = self.http.post("/config/datastore", &form).await?;
        self.await_upid("create datastore", data, ctx).await
    }

    /// `PUT /config/datastore/{name}`: sets what `form` holds and deletes
    /// the properties in `delete` (sent as an array: one `delete=` each).
    pub async fn update_datastore(
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
            .put(&path(&["config", "datastore", name]), &form)
            .await
            .map(drop)
    }

    /// `DELETE /config/datastore/{name}` and waits for its task;
    /// `destroy_data` also removes the contents.
    pub async fn delete_datastore(
        &self,
        name: &str,
        destroy_data: bool,
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        let query = if destroy_data {
            vec![("destroy-data", "1".to_string())]
        } else {
            Vec::new()
        };
        let data = self
            .http
            .delete(&path(&["config", "datastore", name]), &query)
            .await?;
        self.await_upid("delete datastore", data, ctx).await
    }

    /// `GET /admin/datastore`: the datastores this token may see.
    pub async fn admin_datastores(&self) -> Result<Vec<DatastoreListItem>, ApiError> {
        self.get("/admin/datastore", &[]).await
    }

    /// `GET /admin/datastore/{store}/status`: total, used, available bytes.
    pub async fn datastore_status(&self, store: &str) -> Result<DatastoreStatus, ApiError> {
        self.get(&path(&["admin", "datastore", store, "status"]), &[])
            .await
    }

    /// `GET /admin/datastore/{store}/snapshots[?ns=]`.
    pub async fn snapshots(
        &self,
        store: &str,
        ns: Option<&str>,
    ) -> Result<Vec<SnapshotInfo>, ApiError> {
        self.get(
            &path(&["admin", "datastore", store, "snapshots"]),
            &ns_query(ns),
        )
        .await
    }

    /// `GET /admin/datastore/{store}/groups[?ns=]`.
    pub async fn groups(&self, store: &str, ns: Option<&str>) -> Result<Vec<GroupInfo>, ApiError> {
        self.get(
            &path(&["admin", "datastore", store, "groups"]),
            &ns_query(ns),
        )
        .await
    }

    /// `GET /admin/datastore/{store}/namespace[?parent=&max-depth=]`: the
    /// namespaces (the root, `""`, included, as PBS lists it).
    pub async fn namespaces(
        &self,
        store: &str,
        parent: Option<&str>,
        max_depth: Option<u8>,
    ) -> Result<Vec<NamespaceInfo>, ApiError> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(p) = parent.filter(|p| !p.is_empty()) {
            q.push(("parent", p.to_string()));
        }
        if let Some(d) = max_depth {
            q.push(("max-depth", d.to_string()));
        }
        self.get(&path(&["admin", "datastore", store, "namespace"]), &q)
            .await
    }

    /// `POST /admin/datastore/{store}/namespace`: creates `name` under
    /// `parent` (the root when `None`); answers the new namespace's path.
    pub async fn create_namespace(
        &self,
        store: &str,
        parent: Option<&str>,
        name: &str,
    ) -> Result<String, ApiError> {
        let form = Form::new()
            .str("name", name)
            .opt_str("parent", parent.filter(|p| !p.is_empty()));
        let data = self
            .http
            .post(&path(&["admin", "datastore", store, "namespace"]), &form)
            .await?;
        Ok(match data {
            Value::String(s) => s,
            _ => match parent.filter(|p| !p.is_empty()) {
                Some(p) => format!("{p}/{name}"),
                None => name.to_string(),
            },
        })
    }

    /// `DELETE /admin/datastore/{store}/namespace?ns=`; `delete_groups`
    /// removes the backup groups in it too (PBS refuses a non-empty
    /// namespace otherwise).
    pub async fn delete_namespace(
        &self,
        store: &str,
        ns: &str,
        delete_groups: bool,
    ) -> Result<(), ApiError> {
        let mut q = vec![("ns", ns.to_string())];
        if delete_groups {
            q.push(("delete-groups", "1".to_string()));
        }
        self.http
            .delete(&path(&["admin", "datastore", store, "namespace"]), &q)
            .await
            .map(drop)
    }

    /// `DELETE /admin/datastore/{store}/snapshots`: forgets one snapshot
    /// (its chunks stay until garbage collection).
    pub async fn forget_snapshot(
        &self,
        store: &str,
        ns: Option<&str>,
        backup_type: &str,
        backup_id: &str,
        backup_time: i64,
    ) -> Result<(), ApiError> {
        let mut q = ns_query(ns);
        q.push(("backup-type", backup_type.to_string()));
        q.push(("backup-id", backup_id.to_string()));
        q.push(("backup-time", backup_time.to_string()));
        self.http
            .delete(&path(&["admin", "datastore", store, "snapshots"]), &q)
            .await
            .map(drop)
    }

    /// `PUT /admin/datastore/{store}/protected`: protects a snapshot from
    /// prune (or lifts it).
    pub async fn set_protected(
        &self,
        store: &str,
        ns: Option<&str>,
        backup_type: &str,
        backup_id: &str,
        backup_time: i64,
        protected: bool,
    ) -> Result<(), ApiError> {
        let form = Form::new()
            .opt_str("ns", ns.filter(|n| !n.is_empty()))
            .str("backup-type", backup_type)
            .str("backup-id", backup_id)
            .int("backup-time", backup_time)
            .bool("protected", protected);
        self.http
            .put(&path(&["admin", "datastore", store, "protected"]), &form)
            .await
            .map(drop)
    }

    /// `POST /admin/datastore/{store}/gc` and waits for the
    /// `garbage_collection` task.
    pub async fn run_gc(&self, store: &str, ctx: &OpContext) -> Result<TaskOutcome, ApiError> {
        let data = self
            .http
            .post(&path(&["admin", "datastore", store, "gc"]), &Form::new())
            .await?;
        self.await_upid("garbage collection", data, ctx).await
    }

    /// `GET /admin/datastore/{store}/gc`: the last GC's result.
    pub async fn gc_status(&self, store: &str) -> Result<GcStatus, ApiError> {
        self.get(&path(&["admin", "datastore", store, "gc"]), &[])
            .await
    }
}
