//! [`AccessPolicy`] and [`Include`]: who an Access policy matches.

use std::panic::Location;

use indexmap::IndexMap;
use lab_core::model::Dependency;
use lab_core::{Handle, Loc, Output, Problem, ResourceSpec, Value};

use super::{cf_spec, output_ref, AccessGroup, Account};
use crate::kinds::cloudflare::{Decision, ACCESS_POLICY};
use crate::model::net_resource;

/// Access rules (the API's one-key objects), for a policy's or group's
/// `include` (any of them), `exclude` (none of them) or `require` (all of
/// them). Combine with [`Include::or`].
///
/// ```
/// use lab_net::model::cloudflare::Include;
/// let admins = Include::emails(&["me@example.com", "ops@example.com"])
///     .or(Include::email_domain("example.org"));
/// assert_eq!(admins.len(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct Include {
    rules: Vec<Value>,
    deps: Vec<Dependency>,
    problems: Vec<Problem>,
}

impl Include {
    fn one(key: &str, body: IndexMap<String, Value>) -> Self {
        let mut rule = IndexMap::new();
        rule.insert(key.to_string(), Value::Map(body));
        Include {
            rules: vec![Value::Map(rule)],
            deps: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn field(key: &str, field: &str, value: impl Into<Value>) -> Self {
        let mut body = IndexMap::new();
        body.insert(field.to_string(), value.into());
        Include::one(key, body)
    }

    #[track_caller]
    fn with_problem(mut self, problem: Option<String>, help: &str) -> Self {
        if let Some(message) = problem {
            self.problems.push(Problem {
                field: String::new(),
                message,
                help: help.into(),
                loc: Location::caller(),
            });
        }
        self
    }

    /// These addresses (`{"email": {"email"}}` each).
    #[track_caller]
    pub fn emails(emails: &[&str]) -> Self {
        let mut all = Include::none();
        for email in emails {
            all = all.or(Include::field("email", "email", *email).with_problem(
                email_problem(email),
                "write a whole address (`me@example.com`), or use Include::email_domain",
            ));
        }
        if emails.is_empty() {
            all = all.with_problem(
                Some("no email address given".into()),
                "list at least one address",
            );
        }
        all
    }

    /// Every address at `domain` (`example.com`, no `@`).
    #[track_caller]
    pub fn email_domain(domain: &str) -> Self {
        let bad = domain.contains('@')
            || super::hostname_problem(domain).is_some()
            || domain.starts_with('*');
        Include::field("email_domain", "domain", domain).with_problem(
            bad.then(|| format!("`{domain}` is not an email domain")),
            "write the part after `@` (`example.com`)",
        )
    }

    /// Everyone who can log in with any identity provider.
    pub fn everyone() -> Self {
        Include::one("everyone", IndexMap::new())
    }

    /// The members of an Access group.
    #[track_caller]
    pub fn group(group: &Handle<AccessGroup>) -> Self {
        let (id, dep) = output_ref(group, "id", "group");
        let mut rule = Include::field("group", "id", id);
        rule.deps.push(dep);
        rule
    }

    /// A service token (by its id, from Zero Trust > Access > Service
    /// Auth).
    #[track_caller]
    pub fn service_token(token_id: &str) -> Self {
        Include::field("service_token", "token_id", token_id).with_problem(
            token_id
                .is_empty()
                .then(|| "the service token id is empty".to_string()),
            "copy the token's id from Zero Trust > Access > Service Auth",
        )
    }

    /// Any valid service token of the account.
    pub fn any_valid_service_token() -> Self {
        Include::one("any_valid_service_token", IndexMap::new())
    }

    /// Requests from an address range (`203.0.113.0/24`).
    #[track_caller]
    pub fn ip(cidr: &str) -> Self {
        let ok = match cidr.split_once('/') {
            Some((ip, bits)) => {
                lab_proxmox::addr::parse_ip(ip).is_ok() && bits.parse::<u8>().is_ok()
            }
            None => lab_proxmox::addr::parse_ip(cidr).is_ok(),
        };
        Include::field("ip", "ip", cidr).with_problem(
            (!ok).then(|| format!("`{cidr}` is not an address or CIDR")),
            "write an address or a range (`203.0.113.0/24`)",
        )
    }

    /// These rules and `other`'s.
    pub fn or(mut self, other: Include) -> Self {
        self.rules.extend(other.rules);
        self.deps.extend(other.deps);
        self.problems.extend(other.problems);
        self
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// No rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn none() -> Self {
        Include {
            rules: Vec::new(),
            deps: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The rules, the dependencies their references need, and the problems
    /// met (for builders that nest the rules, as a service's exposure).
    pub(crate) fn into_parts(self) -> (Vec<Value>, Vec<Dependency>, Vec<Problem>) {
        (self.rules, self.deps, self.problems)
    }

    /// Appends these rules to `spec`'s list `field` (its problems and
    /// dependencies with them).
    pub(crate) fn add_to(self, spec: &mut ResourceSpec, field: &str, loc: Loc) {
        let mut list = spec
            .attrs
            .get(field)
            .and_then(Value::as_list)
            .map(<[Value]>::to_vec)
            .unwrap_or_default();
        list.extend(self.rules);
        spec.attrs.insert(field.to_string(), Value::List(list));
        spec.field_locs.insert(field.to_string(), loc);
        spec.deps.extend(self.deps);
        for mut problem in self.problems {
            problem.field = field.to_string();
            spec.problems.push(problem);
        }
    }
}

fn email_problem(email: &str) -> Option<String> {
    let ok = match email.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty()
                && !domain.contains('@')
                && super::hostname_problem(domain).is_none()
                && domain.contains('.')
        }
        None => false,
    };
    (!ok).then(|| format!("`{email}` is not an email address"))
}

/// A reusable Access policy: `decision` for who `include` matches (and
/// `require`, and not `exclude`). Link it to apps with
/// [`super::AccessApp::policy`].
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::*;
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// lab.add(AccessPolicy::new(&cf, "admins", Decision::Allow, Include::email_domain("example.com"))
///     .require(Include::emails(&["me@example.com"]))
///     .session_duration("8h"));
/// ```
pub struct AccessPolicy {
    spec: ResourceSpec,
}

net_resource!(AccessPolicy);

impl AccessPolicy {
    /// Policy `name` of `account`.
    #[track_caller]
    pub fn new(
        account: &Handle<Account>,
        name: &str,
        decision: Decision,
        include: Include,
    ) -> Self {
        let mut spec = cf_spec(ACCESS_POLICY, name);
        spec.set_ref("account", account);
        spec.set("name", name);
        spec.set("decision", decision.as_str());
        if include.is_empty() {
            spec.invalid(
                "include",
                "a policy needs at least one include rule",
                "say who it matches (Include::emails, ::email_domain, ::group, ...)",
            );
        }
        include.add_to(&mut spec, "include", Location::caller());
        spec.set("exclude", Value::List(Vec::new()));
        spec.set("require", Value::List(Vec::new()));
        AccessPolicy { spec }
    }

    /// Nobody these rules match.
    #[track_caller]
    pub fn exclude(mut self, rules: Include) -> Self {
        rules.add_to(&mut self.spec, "exclude", Location::caller());
        self
    }

    /// Only who all these rules match.
    #[track_caller]
    pub fn require(mut self, rules: Include) -> Self {
        rules.add_to(&mut self.spec, "require", Location::caller());
        self
    }

    /// A session length overriding the app's (Go duration: `8h`, `30m`).
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

/// Why `duration` is not a Go duration (`1h30m`, `45s`).
pub(crate) fn duration_problem(duration: &str) -> Option<String> {
    let mut rest = duration;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let unit_len = rest[digits..]
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic() || *b == 0xc2 || *b == 0xb5)
            .count();
        let unit = &rest[digits..digits + unit_len];
        if digits == 0 || !["ns", "us", "µs", "ms", "s", "m", "h"].contains(&unit) {
            return Some(format!("`{duration}` is not a duration"));
        }
        rest = &rest[digits + unit_len..];
        parts += 1;
    }
    (parts == 0).then(|| "the duration is empty".to_string())
}

/// Outputs of an [`AccessPolicy`].
pub trait AccessPolicyOutput {
    /// The policy's uuid.
    #[track_caller]
    fn id(&self) -> Output<String>;
}

impl AccessPolicyOutput for Handle<AccessPolicy> {
    #[track_caller]
    fn id(&self) -> Output<String> {
        self.output("id")
    }
}
