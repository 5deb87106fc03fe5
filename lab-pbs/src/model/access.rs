//! Users, API tokens and ACL entries.

use lab_core::{Handle, Output, Resource, ResourceSpec, Secret};

use super::common::{comment_problem, local_of, owned_spec, safe_id_problem, userid_problem};
use super::datastore::{store_of, Datastore};
use super::namespace::Namespace;
use super::server::PbsServer;
use crate::kinds::{self, Role};

/// A user of one server (`pbs.user`), `name@realm`.
///
/// [`User::new`] creates it (realm `pbs`: PBS's own users);
/// [`User::existing`] declares one the server has (`root@pam`) so tokens
/// can be made for it.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
/// let mut lab = Lab::new("home");
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
/// let sync = lab.add(User::new(&primary, "sync@pbs").comment("pulls the daily copy"));
/// assert_eq!(sync.address().to_string(), "pbs.user.primary--sync_pbs");
/// let root = lab.add(User::existing(&primary, "root@pam"));
/// assert!(!lab.resource(root.address()).unwrap().managed);
/// ```
#[derive(Clone, Debug)]
pub struct User {
    spec: ResourceSpec,
}

impl User {
    /// The kind, `pbs.user`.
    pub const KIND: &'static str = kinds::USER;

    /// The user `userid` (`name@realm`) the lab creates on `server`.
    #[track_caller]
    pub fn new(server: &Handle<PbsServer>, userid: &str) -> Self {
        let mut spec = owned_spec(Self::KIND, server, userid);
        if let Some(p) = userid_problem(userid) {
            spec.invalid("userid", p, "write the user id like `sync@pbs`");
        }
        spec.set("userid", userid);
        User { spec }
    }

    /// A user the server already has (model only), like `root@pam`.
    #[track_caller]
    pub fn existing(server: &Handle<PbsServer>, userid: &str) -> Self {
        let mut user = User::new(server, userid);
        user.spec.managed = false;
        user
    }

    /// A comment.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        if let Some(p) = comment_problem(comment) {
            self.spec.invalid("comment", p, "write a single line");
        }
        self.spec.set("comment", comment);
        self
    }

    /// An e-mail address.
    #[track_caller]
    pub fn email(mut self, email: &str) -> Self {
        if email.len() < 2 || email.len() > 64 || email.chars().any(char::is_control) {
            self.spec.invalid(
                "email",
                format!("`{email}` is not an e-mail address PBS takes (2-64 characters)"),
                "write it like `admin@example.com`",
            );
        }
        self.spec.set("email", email);
        self
    }

    /// Enables or disables the user (and so its tokens).
    #[track_caller]
    pub fn enable(mut self, enable: bool) -> Self {
        self.spec.set("enable", enable);
        self
    }

    /// The account expires at this Unix time (0: never).
    #[track_caller]
    pub fn expire(mut self, unix_time: i64) -> Self {
        if unix_time < 0 {
            self.spec.invalid(
                "expire",
                "the expiry is before 1970",
                "give a Unix time, or 0 for never",
            );
        }
        self.spec.set("expire", unix_time);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for User {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a user.
pub trait UserOutputs {
    /// `name@realm`.
    #[track_caller]
    fn userid(&self) -> Output<String>;
}

impl UserOutputs for Handle<User> {
    #[track_caller]
    fn userid(&self) -> Output<String> {
        self.output("userid")
    }
}

/// An API token of a user (`pbs.token`, `user@realm!name`). PBS shows its
/// secret once, when it is made: it is the `secret` output, kept sealed in
/// the state. A new token has no rights: grant them with [`Acl`].
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
/// let mut lab = Lab::new("home");
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
/// let sync = lab.add(User::new(&primary, "sync@pbs"));
/// let token = lab.add(Token::new(&sync, "offsite").comment("for the off-site pull"));
/// let spec = lab.resource(token.address()).unwrap();
/// assert_eq!(spec.attrs["token-name"], Value::from("offsite"));
/// // The user id is the user's output (an edge to it).
/// assert!(matches!(spec.attrs["userid"], Value::Ref(_)));
/// assert_eq!(token.secret().name(), "secret");
/// ```
#[derive(Clone, Debug)]
pub struct Token {
    spec: ResourceSpec,
}

impl Token {
    /// The kind, `pbs.token`.
    pub const KIND: &'static str = kinds::TOKEN;

    /// The token `name` of `user`.
    #[track_caller]
    pub fn new(user: &Handle<User>, name: &str) -> Self {
        let mut spec = owned_spec(Self::KIND, user, &format!("{}!{name}", local_of(user)));
        if let Some(p) = safe_id_problem(name, 1, 64, "token name") {
            spec.invalid(
                "token-name",
                p,
                "name the token like `offsite` or `pve-backup`",
            );
        }
        spec.set_ref("user", user);
        spec.set_input::<String>("userid", user.userid());
        spec.set("token-name", name);
        Token { spec }
    }

    /// A comment.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        if let Some(p) = comment_problem(comment) {
            self.spec.invalid("comment", p, "write a single line");
        }
        self.spec.set("comment", comment);
        self
    }

    /// Enables or disables the token.
    #[track_caller]
    pub fn enable(mut self, enable: bool) -> Self {
        self.spec.set("enable", enable);
        self
    }

    /// The token expires at this Unix time (0: never).
    #[track_caller]
    pub fn expire(mut self, unix_time: i64) -> Self {
        if unix_time < 0 {
            self.spec.invalid(
                "expire",
                "the expiry is before 1970",
                "give a Unix time, or 0 for never",
            );
        }
        self.spec.set("expire", unix_time);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Token {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a token.
pub trait TokenOutputs {
    /// `user@realm!name`.
    #[track_caller]
    fn tokenid(&self) -> Output<String>;
    /// The secret PBS returned when it made the token.
    #[track_caller]
    fn secret(&self) -> Output<Secret>;
}

impl TokenOutputs for Handle<Token> {
    #[track_caller]
    fn tokenid(&self) -> Output<String> {
        self.output("tokenid")
    }
    #[track_caller]
    fn secret(&self) -> Output<Secret> {
        self.output("secret")
    }
}

/// Who an ACL entry grants a role to: a token or a user.
#[derive(Clone, Debug)]
pub enum Grantee {
    /// An API token.
    Token(Handle<Token>),
    /// A user.
    User(Handle<User>),
}

impl From<&Handle<Token>> for Grantee {
    fn from(h: &Handle<Token>) -> Self {
        Grantee::Token(h.clone())
    }
}

impl From<&Handle<User>> for Grantee {
    fn from(h: &Handle<User>) -> Self {
        Grantee::User(h.clone())
    }
}

/// Where an ACL entry applies: the root (`/`), a datastore
/// (`/datastore/<store>`) or a namespace (`/datastore/<store>/<ns>`).
#[derive(Clone, Debug)]
pub enum AclPath {
    /// `/`: everything on the server.
    Root,
    /// A datastore.
    Datastore(Handle<Datastore>),
    /// A namespace.
    Namespace(Handle<Namespace>),
}

impl AclPath {
    /// `/`.
    pub fn root() -> Self {
        AclPath::Root
    }
}

impl From<&Handle<Datastore>> for AclPath {
    fn from(h: &Handle<Datastore>) -> Self {
        AclPath::Datastore(h.clone())
    }
}

impl From<&Handle<Namespace>> for AclPath {
    fn from(h: &Handle<Namespace>) -> Self {
        AclPath::Namespace(h.clone())
    }
}

/// An ACL entry (`pbs.acl`): `role` for a token or user on a path of its
/// server. The path must be on the grantee's server
/// (`pbs::acl-path`).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
/// let mut lab = Lab::new("home");
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
/// let store = lab.add(Datastore::new(&primary, "backup", "/mnt/datastore/backup"));
/// let sync = lab.add(User::new(&primary, "sync@pbs"));
/// let token = lab.add(Token::new(&sync, "offsite"));
/// let acl = lab.add(Acl::new(&token, Role::DatastoreReader, &store));
/// let spec = lab.resource(acl.address()).unwrap();
/// assert_eq!(spec.attrs["path"], Value::from("/datastore/backup"));
/// assert_eq!(spec.attrs["role"], Value::from("DatastoreReader"));
/// ```
#[derive(Clone, Debug)]
pub struct Acl {
    spec: ResourceSpec,
}

impl Acl {
    /// The kind, `pbs.acl`.
    pub const KIND: &'static str = kinds::ACL;

    /// Grants `role` on `path` to `grantee`.
    #[track_caller]
    pub fn new(grantee: impl Into<Grantee>, role: Role, path: impl Into<AclPath>) -> Self {
        let grantee = grantee.into();
        let path = path.into();
        let target_local = match &path {
            AclPath::Root => "root".to_string(),
            AclPath::Datastore(h) => local_of(h).to_string(),
            AclPath::Namespace(h) => local_of(h).to_string(),
        };
        let mut spec = match &grantee {
            Grantee::Token(t) => {
                let local = format!("{}-{role}-{target_local}", local_of(t));
                owned_spec(Self::KIND, t, &local)
            }
            Grantee::User(u) => {
                let local = format!("{}-{role}-{target_local}", local_of(u));
                owned_spec(Self::KIND, u, &local)
            }
        };
        match &grantee {
            Grantee::Token(t) => {
                spec.set_ref("grantee", t);
                spec.set_input::<String>("auth-id", t.tokenid());
            }
            Grantee::User(u) => {
                spec.set_ref("grantee", u);
                spec.set_input::<String>("auth-id", u.userid());
            }
        }
        spec.set("role", role.as_str());
        match &path {
            AclPath::Root => spec.set("path", "/"),
            AclPath::Datastore(h) => {
                spec.set_ref("target", h);
                spec.set("path", format!("/datastore/{}", store_of(h)));
            }
            AclPath::Namespace(h) => {
                spec.set_ref("target", h);
                spec.set_input::<String>("path", super::namespace::NamespaceOutputs::acl_path(h));
            }
        }
        Acl { spec }
    }

    /// Whether the role applies below the path too (PBS's default: yes).
    #[track_caller]
    pub fn propagate(mut self, propagate: bool) -> Self {
        self.spec.set("propagate", propagate);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Acl {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
