//! [`AccessApp`]: an Access application in front of a public hostname.

use lab_core::{Handle, Output, ResourceSpec, Value};

use super::access_policy::duration_problem;
use super::{cf_spec, hostname_problem, output_ref, AccessPolicy, Account};
use crate::kinds::cloudflare::{ACCESS_APP, SELF_HOSTED};
use crate::model::net_resource;

/// A self-hosted Access application: logins for `domain`, let in by its
/// policies in the order linked. Its `aud` output is what a tunnel rule's
/// [`super::TunnelIngress::access`] checks tokens against.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::*;
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// let admins = lab.add(AccessPolicy::new(&cf, "admins", Decision::Allow, Include::emails(&["me@example.com"])));
/// let app = lab.add(AccessApp::new(&cf, "Proxmox", "pve.example.com").policy(&admins).session_duration("8h"));
/// assert_eq!(app.aud().name(), "aud");
/// ```
pub struct AccessApp {
    spec: ResourceSpec,
    policies: Vec<Value>,
}

net_resource!(AccessApp);

impl AccessApp {
    /// App `name` protecting `domain` (a hostname, optionally with a path:
    /// `blog.example.com/admin`), logins lasting 24h.
    #[track_caller]
    pub fn new(account: &Handle<Account>, name: &str, domain: &str) -> Self {
        let mut spec = cf_spec(ACCESS_APP, name);
        spec.set_ref("account", account);
        if name.trim().is_empty() {
            spec.invalid(
                "name",
                "an Access app needs a name",
                "name it as users see it in the App Launcher",
            );
        }
        spec.set("name", name);
        let host = domain.split_once('/').map_or(domain, |(h, _)| h);
        if let Some(problem) = hostname_problem(host) {
            spec.invalid(
                "domain",
                problem,
                "write the public hostname (`pve.example.com`), optionally with a path",
            );
        }
        spec.set("domain", domain);
        spec.set("type", SELF_HOSTED);
        spec.set("session_duration", "24h");
        spec.set("policies", Value::List(Vec::new()));
        AccessApp {
            spec,
            policies: Vec::new(),
        }
    }

    /// Links a reusable policy, after those already linked (precedence 1,
    /// 2, ...: Allow and Block policies are tried in this order, after
    /// Service Auth and Bypass ones).
    #[track_caller]
    pub fn policy(mut self, policy: &Handle<AccessPolicy>) -> Self {
        let (id, dep) = output_ref(policy, "id", "policies");
        let mut link = indexmap::IndexMap::new();
        link.insert("id".to_string(), id);
        link.insert(
            "precedence".to_string(),
            Value::Int(self.policies.len() as i64 + 1),
        );
        self.policies.push(Value::Map(link));
        self.spec.deps.push(dep);
        self.spec
            .set("policies", Value::List(self.policies.clone()));
        self
    }

    /// How long a login lasts (Go duration: `30m`, `8h`, `24h`).
    #[track_caller]
    pub fn session_duration(mut self, duration: &str) -> Self {
        if let Some(problem) = duration_problem(duration) {
            self.spec.invalid(
                "session_duration",
                problem,
                "write a Go duration (`30m`, `8h`, `24h`)",
            );
        }
        self.spec.set("session_duration", duration);
        self
    }
}

/// Outputs of an [`AccessApp`].
pub trait AccessAppOutput {
    /// The app's uuid.
    #[track_caller]
    fn id(&self) -> Output<String>;
    /// The Application Audience tag.
    #[track_caller]
    fn aud(&self) -> Output<String>;
}

impl AccessAppOutput for Handle<AccessApp> {
    #[track_caller]
    fn id(&self) -> Output<String> {
        self.output("id")
    }

    #[track_caller]
    fn aud(&self) -> Output<String> {
        self.output("aud")
    }
}
