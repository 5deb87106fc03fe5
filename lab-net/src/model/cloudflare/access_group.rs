//! [`AccessGroup`]: a named set of identities.

use std::panic::Location;

use lab_core::{Handle, Output, ResourceSpec, Value};

use super::{cf_spec, Account, Include};
use crate::kinds::cloudflare::ACCESS_GROUP;
use crate::model::net_resource;

/// An Access group, for policies' [`Include::group`].
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::*;
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// let ops = lab.add(AccessGroup::new(&cf, "ops", Include::emails(&["a@example.com", "b@example.com"])));
/// lab.add(AccessPolicy::new(&cf, "ops", Decision::Allow, Include::group(&ops)));
/// ```
pub struct AccessGroup {
    spec: ResourceSpec,
}

net_resource!(AccessGroup);

impl AccessGroup {
    /// Group `name` of `account`: who `include` matches.
    #[track_caller]
    pub fn new(account: &Handle<Account>, name: &str, include: Include) -> Self {
        let mut spec = cf_spec(ACCESS_GROUP, name);
        spec.set_ref("account", account);
        spec.set("name", name);
        if include.is_empty() {
            spec.invalid(
                "include",
                "a group needs at least one include rule",
                "say who is in it (Include::emails, ...)",
            );
        }
        include.add_to(&mut spec, "include", Location::caller());
        spec.set("exclude", Value::List(Vec::new()));
        spec.set("require", Value::List(Vec::new()));
        AccessGroup { spec }
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
}

/// Outputs of an [`AccessGroup`].
pub trait AccessGroupOutput {
    /// The group's uuid.
    #[track_caller]
    fn id(&self) -> Output<String>;
}

impl AccessGroupOutput for Handle<AccessGroup> {
    #[track_caller]
    fn id(&self) -> Output<String> {
        self.output("id")
    }
}
