//! Users, API tokens and ACLs (`/access/users`, `/access/acl`).
//!
//! A token belongs to a user, so a provider creates the user first; a new
//! token has no privileges of its own until an ACL names it.

use lab_core::Secret;
use lab_proxmox::api::path;
use serde_json::Value;

use super::{AclEntry, ApiError, ErrorKind, Form, NewToken, PbsClient, TokenInfo, UserInfo};

impl PbsClient {
    /// `GET /access/users`.
    pub async fn users(&self) -> Result<Vec<UserInfo>, ApiError> {
        self.get("/access/users", &[]).await
    }

    /// `POST /access/users` (`userid` `name@pbs`; the `pbs` realm needs no
    /// password for a user that only holds tokens).
    pub async fn create_user(&self, userid: &str, comment: Option<&str>) -> Result<(), ApiError> {
        let form = Form::new()
            .str("userid", userid)
            .opt_str("comment", comment);
        self.http.post("/access/users", &form).await.map(drop)
    }

    /// `DELETE /access/users/{userid}` (its tokens and ACLs go with it).
    pub async fn delete_user(&self, userid: &str) -> Result<(), ApiError> {
        self.http
            .delete(&path(&["access", "users", userid]), &[])
            .await
            .map(drop)
    }

    /// `GET /access/users/{userid}/token`.
    pub async fn tokens(&self, userid: &str) -> Result<Vec<TokenInfo>, ApiError> {
        self.get(&path(&["access", "users", userid, "token"]), &[])
            .await
    }

    /// `POST /access/users/{userid}/token/{name}`: the secret comes back
    /// this once, as a [`Secret`].
    pub async fn create_token(
        &self,
        userid: &str,
        name: &str,
        comment: Option<&str>,
    ) -> Result<NewToken, ApiError> {
        let form = Form::new().opt_str("comment", comment);
        let data = self
            .http
            .post(&path(&["access", "users", userid, "token", name]), &form)
            .await?;
        let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        match (field("tokenid"), field("value")) {
            (Some(tokenid), Some(value)) => Ok(NewToken {
                tokenid,
                value: Secret::new(value),
            }),
            _ => Err(ApiError::new(
                ErrorKind::Other,
                format!(
                    "create token {userid}!{name}: the answer has no tokenid and value \
                     (fields: {})",
                    data.as_object()
                        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
            )),
        }
    }

    /// `DELETE /access/users/{userid}/token/{name}`.
    pub async fn delete_token(&self, userid: &str, name: &str) -> Result<(), ApiError> {
        self.http
            .delete(&path(&["access", "users", userid, "token", name]), &[])
            .await
            .map(drop)
    }

    /// `GET /access/acl[?path=&exact=1]`.
    pub async fn acl(&self, acl_path: Option<&str>) -> Result<Vec<AclEntry>, ApiError> {
        let q: Vec<(&str, String)> = match acl_path {
            Some(p) => vec![("path", p.to_string()), ("exact", "1".to_string())],
            None => Vec::new(),
        };
        self.get("/access/acl", &q).await
    }

    /// `PUT /access/acl`: grants `role` on `acl_path` to `auth_id` (a user or
    /// a token), or takes it away with `delete`.
    pub async fn put_acl(
        &self,
        acl_path: &str,
        role: &str,
        auth_id: &str,
        propagate: bool,
        delete: bool,
    ) -> Result<(), ApiError> {
        let form = Form::new()
            .str("path", acl_path)
            .str("role", role)
            .str("auth-id", auth_id)
            .bool("propagate", propagate)
            .opt_bool("delete", delete.then_some(true));
        self.http.put("/access/acl", &form).await.map(drop)
    }
}
