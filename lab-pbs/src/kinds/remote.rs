//! `pbs.remote`: on one server, another PBS it pulls from (or pushes to).
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the address of the server that has the remote |
//! | `target` | `Str` | lab only: the address of the server it points at |
//! | `name` | `Str` | the remote's name (3-32); forces replacement |
//! | `host` | `Ref(server#host) \| Str` | |
//! | `port?` | `Ref(server#port) \| Int` | |
//! | `fingerprint?` | `Ref(server#fingerprint) \| Str` | the target's certificate |
//! | `auth-id` | `Ref(token#tokenid) \| Str` | a token (or user) of the target server |
//! | `password` | `Secret` | the token's secret |
//! | `token?` | `Str` | lab only: the token's address |
//! | `comment?` | `Str` | |
//!
//! Outputs ([`RemoteOutputs`]): `name`.

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::Request;

/// The spec of a `pbs.remote`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RemoteSpec {
    /// The server that has the remote.
    pub server: String,
    /// The server it points at.
    pub target: String,
    /// The remote's name.
    pub name: String,
    /// The target's host.
    pub host: String,
    /// The target's port.
    pub port: Option<i64>,
    /// The target's certificate fingerprint.
    pub fingerprint: Option<String>,
    /// The token (or user) it authenticates as.
    pub auth_id: String,
    /// The token's secret.
    pub password: Secret,
    /// The token's address.
    pub token: Option<String>,
    /// A comment.
    pub comment: Option<String>,
}

impl RemoteSpec {
    /// `POST /config/remote`.
    pub fn create_request(&self) -> Request {
        let mut r = Request::new("POST", "/config/remote".into());
        r.put("name", &self.name);
        r.put("host", &self.host);
        r.put_opt("port", self.port);
        r.put_opt("fingerprint", self.fingerprint.as_ref());
        r.put("auth-id", &self.auth_id);
        r.secret_params
            .push(("password".into(), self.password.clone()));
        r.put_opt("comment", self.comment.as_ref());
        r
    }
}

/// The outputs of a remote.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RemoteOutputs {
    /// The remote's name.
    pub name: String,
}

impl Kind for RemoteSpec {
    const KIND: &'static str = super::REMOTE;
    type Outputs = RemoteOutputs;

    /// The remote's name, on its server.
    fn identity(&self) -> Option<String> {
        Some(format!("remote {}", self.name))
    }
}
