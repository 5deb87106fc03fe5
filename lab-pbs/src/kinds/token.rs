//! `pbs.token`: an API token of a user (`user@realm!name`). PBS returns
//! its secret once, at creation: it is the `secret` output (a
//! [`Secret`], sealed in the state), and a token whose secret is lost is
//! replaced, never read back.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the server's address |
//! | `user` | `Str` | lab only: the `pbs.user`'s address |
//! | `userid` | `Ref(user#userid) \| Str` | forces replacement |
//! | `token-name` | `Str` | `[A-Za-z0-9_][A-Za-z0-9._-]*`; forces replacement |
//! | `comment?` | `Str` | |
//! | `enable?` | `Bool` | |
//! | `expire?` | `Int` | Unix time; 0 = never |
//!
//! Outputs ([`TokenOutputs`]): `tokenid` (`user@realm!name`), `secret`.

use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::Request;

/// The spec of a `pbs.token`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TokenSpec {
    /// The server's address.
    pub server: String,
    /// The user's address.
    pub user: String,
    /// The user's id.
    pub userid: String,
    /// The token's name.
    pub token_name: String,
    /// A comment.
    pub comment: Option<String>,
    /// Enabled.
    pub enable: Option<bool>,
    /// Expiry (Unix time, 0 = never).
    pub expire: Option<i64>,
}

impl TokenSpec {
    /// `user@realm!name`.
    pub fn tokenid(&self) -> String {
        format!("{}!{}", self.userid, self.token_name)
    }

    /// `POST /access/users/{userid}/token/{token-name}`.
    pub fn create_request(&self) -> Request {
        let mut r = Request::new(
            "POST",
            format!("/access/users/{}/token/{}", self.userid, self.token_name),
        );
        r.put_opt("comment", self.comment.as_ref());
        r.put_opt("enable", self.enable);
        r.put_opt("expire", self.expire);
        r
    }
}

/// The outputs of a token.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TokenOutputs {
    /// `user@realm!name`.
    pub tokenid: String,
    /// The secret PBS returned at creation (`value`).
    pub secret: Option<Secret>,
}

impl Kind for TokenSpec {
    const KIND: &'static str = super::TOKEN;
    type Outputs = TokenOutputs;

    /// The token id, on its server.
    fn identity(&self) -> Option<String> {
        Some(format!("token {}", self.tokenid()))
    }
}
