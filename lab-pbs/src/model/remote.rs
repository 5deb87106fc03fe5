//! Remotes: another PBS a server pulls from.

use lab_core::{Handle, Input, Output, Resource, ResourceSpec, Secret};

use super::access::{Token, TokenOutputs};
use super::common::{address_id_problem, comment_problem, owned_spec};
use super::server::{PbsServer, ServerOutputs};
use crate::kinds;

/// A remote (`pbs.remote`) on `server`, pointing at another server
/// `target` and logging in with a token of `target`: host, port and
/// fingerprint are the target's (its declared host and port, the
/// fingerprint read from its certificate), `auth-id` is the token's id and
/// the password its secret (or [`Remote::password`]).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
/// let mut lab = Lab::new("home");
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
/// let offsite = lab.add(PbsServer::new("offsite", "pbs.offsite.example"));
/// let sync = lab.add(User::new(&primary, "sync@pbs"));
/// let token = lab.add(Token::new(&sync, "offsite"));
/// let remote = lab.add(Remote::new(&offsite, "primary", &primary, &token));
/// assert_eq!(remote.address().to_string(), "pbs.remote.offsite--primary");
/// let spec = lab.resource(remote.address()).unwrap();
/// assert_eq!(spec.attrs["target"], Value::from("pbs.server.primary"));
/// assert!(matches!(spec.attrs["password"], Value::Ref(_)));
/// ```
#[derive(Clone, Debug)]
pub struct Remote {
    spec: ResourceSpec,
}

impl Remote {
    /// The kind, `pbs.remote`.
    pub const KIND: &'static str = kinds::REMOTE;

    /// The remote `name` on `server`, pointing at `target` and
    /// authenticating with `token` (a token of `target`).
    #[track_caller]
    pub fn new(
        server: &Handle<PbsServer>,
        name: &str,
        target: &Handle<PbsServer>,
        token: &Handle<Token>,
    ) -> Self {
        let mut spec = owned_spec(Self::KIND, server, name);
        if let Some(p) = address_id_problem(name, "remote name") {
            spec.invalid("name", p, "name the remote like `primary` or `main-pbs`");
        }
        spec.set("name", name);
        spec.set_ref("target", target);
        spec.set_input::<String>("host", target.host());
        spec.set_input::<i64>("port", target.port());
        spec.set_input::<String>("fingerprint", target.fingerprint());
        spec.set_ref("token", token);
        spec.set_input::<String>("auth-id", token.tokenid());
        spec.set_input::<Secret>("password", token.secret());
        Remote { spec }
    }

    /// The password to log in with, instead of the token's secret (a token
    /// the lab did not make: `Secret::from_env(..)`).
    #[track_caller]
    pub fn password(mut self, password: impl Into<Input<Secret>>) -> Self {
        self.spec.set_input("password", password);
        self
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

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Remote {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a remote.
pub trait RemoteOutputs {
    /// The remote's name.
    #[track_caller]
    fn remote_name(&self) -> Output<String>;
}

impl RemoteOutputs for Handle<Remote> {
    #[track_caller]
    fn remote_name(&self) -> Output<String> {
        self.output("name")
    }
}
