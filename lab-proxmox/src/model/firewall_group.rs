//! Security groups (`/cluster/firewall/groups`): an ordered list of rules
//! a guest firewall attaches as one line.

use lab_core::value::encode_value;
use lab_core::{Resource, ResourceSpec, Value};

use super::firewall_rule::FirewallRule;
use crate::kinds::{self, firewall_name_ok};

/// A security group (`proxmox.firewall_group`); its resource name is the
/// group's name (≤ 18 characters). Rules are evaluated in the order they
/// are added.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let web = lab.add(
///     SecurityGroup::new("sg_web")
///         .comment("web servers")
///         .rule(FirewallRule::accept_in().proto("tcp").dport("80,443"))
///         .rule(FirewallRule::drop_in()),
/// );
/// let spec = lab.resource(web.address()).unwrap();
/// assert_eq!(spec.attrs["group"], Value::from("sg_web"));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct SecurityGroup {
    spec: ResourceSpec,
    rules: Vec<Value>,
}

impl SecurityGroup {
    /// The kind, `proxmox.firewall_group`.
    pub const KIND: &'static str = kinds::FIREWALL_GROUP;

    /// An empty group named `name`.
    #[track_caller]
    pub fn new(name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        if !firewall_name_ok(name, kinds::MAX_GROUP_NAME) {
            spec.invalid(
                "group",
                format!("`{name}` is not a valid security group name"),
                "name it like `sg_dmz`: a letter, then letters, digits, - and _, 18 characters at most",
            );
        }
        spec.set("group", name);
        spec.set("rules", Value::List(Vec::new()));
        SecurityGroup {
            spec,
            rules: Vec::new(),
        }
    }

    /// The group's comment.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        if comment.contains('\n') {
            self.spec.invalid(
                "comment",
                "a security group's comment is one line",
                "remove the line breaks",
            );
        }
        self.spec.set("comment", comment);
        self
    }

    /// Appends a rule (evaluated after the ones before it). A group holds
    /// `in`/`out` rules only.
    #[track_caller]
    pub fn rule(mut self, rule: FirewallRule) -> Self {
        rule.attach(&mut self.spec, true);
        if let Ok(v) = encode_value(rule.spec()) {
            self.rules.push(v);
        }
        self.spec.set("rules", Value::List(self.rules.clone()));
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for SecurityGroup {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
