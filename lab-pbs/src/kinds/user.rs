//! `pbs.user`: a user of one server (`name@realm`). `User::existing`
//! declares one the server has (`root@pam`), model only.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the server's address |
//! | `userid` | `Str` | `name@realm` (3-64); forces replacement |
//! | `comment?`, `email?`, `firstname?`, `lastname?` | `Str` | |
//! | `enable?` | `Bool` | |
//! | `expire?` | `Int` | Unix time; 0 = never |
//!
//! Outputs ([`UserOutputs`]): `userid`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::Request;

/// The spec of a `pbs.user`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UserSpec {
    /// The server's address.
    pub server: String,
    /// `name@realm`.
    pub userid: String,
    /// A comment.
    pub comment: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// First name.
    pub firstname: Option<String>,
    /// Last name.
    pub lastname: Option<String>,
    /// Enabled.
    pub enable: Option<bool>,
    /// Expiry (Unix time, 0 = never).
    pub expire: Option<i64>,
}

impl UserSpec {
    /// `POST /access/users`.
    pub fn create_request(&self) -> Request {
        let mut r = Request::new("POST", "/access/users".into());
        r.put("userid", &self.userid);
        r.put_opt("comment", self.comment.as_ref());
        r.put_opt("email", self.email.as_ref());
        r.put_opt("firstname", self.firstname.as_ref());
        r.put_opt("lastname", self.lastname.as_ref());
        r.put_opt("enable", self.enable);
        r.put_opt("expire", self.expire);
        r
    }
}

/// The outputs of a user.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UserOutputs {
    /// `name@realm`.
    pub userid: String,
}

impl Kind for UserSpec {
    const KIND: &'static str = super::USER;
    type Outputs = UserOutputs;

    /// The user id, on its server.
    fn identity(&self) -> Option<String> {
        Some(format!("user {}", self.userid))
    }
}
