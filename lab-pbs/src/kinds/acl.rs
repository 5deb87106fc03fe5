//! `pbs.acl`: one ACL entry (path, role, auth id).
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the server's address |
//! | `path` | `Str \| Ref(namespace#acl-path)` | `/`, `/datastore/<store>`, `/datastore/<store>/<ns>`; forces replacement |
//! | `role` | `Str` | one of [`Role`]; forces replacement |
//! | `auth-id` | `Ref(token#tokenid) \| Ref(user#userid)` | forces replacement |
//! | `propagate?` | `Bool` | PBS's default: true |
//! | `target?` | `Str` | lab only: the address of the datastore or namespace the path names (absent: `/`) |
//! | `grantee` | `Str` | lab only: the address of the token or user |
//!
//! Outputs ([`AclOutputs`]): `path`.

use std::fmt;

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::Request;

/// The roles PBS 4 knows (the `role` enum of `PUT /access/acl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Everything.
    Admin,
    /// Read everything.
    Audit,
    /// Nothing (overrides propagated roles).
    NoAccess,
    /// Administer a datastore.
    DatastoreAdmin,
    /// Read (restore) any snapshot of a datastore.
    DatastoreReader,
    /// Back up and restore one's own snapshots.
    DatastoreBackup,
    /// Back up, restore, prune one's own snapshots.
    DatastorePowerUser,
    /// Read a datastore's settings and list its content.
    DatastoreAudit,
    /// Read a remote's settings.
    RemoteAudit,
    /// Administer a remote.
    RemoteAdmin,
    /// Run sync jobs pulling from a remote.
    RemoteSyncOperator,
    /// Run sync jobs pushing to a remote.
    RemoteSyncPushOperator,
    /// Back up and prune one's own snapshots on a remote (push).
    RemoteDatastorePowerUser,
    /// Administer a remote's datastores (push).
    RemoteDatastoreAdmin,
    /// Read tape settings.
    TapeAudit,
    /// Administer tapes.
    TapeAdmin,
    /// Operate tape jobs.
    TapeOperator,
    /// Read tapes.
    TapeReader,
}

impl Role {
    /// Every role, in the apidoc's order.
    pub const ALL: [Role; 18] = [
        Role::Admin,
        Role::Audit,
        Role::NoAccess,
        Role::DatastoreAdmin,
        Role::DatastoreReader,
        Role::DatastoreBackup,
        Role::DatastorePowerUser,
        Role::DatastoreAudit,
        Role::RemoteAudit,
        Role::RemoteAdmin,
        Role::RemoteSyncOperator,
        Role::RemoteSyncPushOperator,
        Role::RemoteDatastorePowerUser,
        Role::RemoteDatastoreAdmin,
        Role::TapeAudit,
        Role::TapeAdmin,
        Role::TapeOperator,
        Role::TapeReader,
    ];

    /// The name PBS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Audit => "Audit",
            Role::NoAccess => "NoAccess",
            Role::DatastoreAdmin => "DatastoreAdmin",
            Role::DatastoreReader => "DatastoreReader",
            Role::DatastoreBackup => "DatastoreBackup",
            Role::DatastorePowerUser => "DatastorePowerUser",
            Role::DatastoreAudit => "DatastoreAudit",
            Role::RemoteAudit => "RemoteAudit",
            Role::RemoteAdmin => "RemoteAdmin",
            Role::RemoteSyncOperator => "RemoteSyncOperator",
            Role::RemoteSyncPushOperator => "RemoteSyncPushOperator",
            Role::RemoteDatastorePowerUser => "RemoteDatastorePowerUser",
            Role::RemoteDatastoreAdmin => "RemoteDatastoreAdmin",
            Role::TapeAudit => "TapeAudit",
            Role::TapeAdmin => "TapeAdmin",
            Role::TapeOperator => "TapeOperator",
            Role::TapeReader => "TapeReader",
        }
    }

    /// True for the roles that only mean something on a datastore path.
    pub fn is_datastore_role(self) -> bool {
        matches!(
            self,
            Role::DatastoreAdmin
                | Role::DatastoreReader
                | Role::DatastoreBackup
                | Role::DatastorePowerUser
                | Role::DatastoreAudit
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The spec of a `pbs.acl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AclSpec {
    /// The server's address.
    pub server: String,
    /// The ACL path.
    pub path: String,
    /// The role.
    pub role: Role,
    /// The token or user id.
    pub auth_id: String,
    /// Whether it applies below the path too.
    pub propagate: Option<bool>,
    /// The datastore's or namespace's address.
    pub target: Option<String>,
    /// The token's or user's address.
    pub grantee: String,
}

impl AclSpec {
    /// `PUT /access/acl`.
    pub fn create_request(&self) -> Request {
        let mut r = Request::new("PUT", "/access/acl".into());
        r.put("path", &self.path);
        r.put("role", self.role);
        r.put("auth-id", &self.auth_id);
        r.put_opt("propagate", self.propagate);
        r
    }
}

/// The outputs of an ACL entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AclOutputs {
    /// The ACL path.
    pub path: String,
}

impl Kind for AclSpec {
    const KIND: &'static str = super::ACL;
    type Outputs = AclOutputs;

    /// The entry (path, auth id, role) on its server.
    fn identity(&self) -> Option<String> {
        Some(format!("acl {} {} {}", self.path, self.auth_id, self.role))
    }
}
