//! Firewall IP sets (`/cluster/firewall/ipset`): the addresses a zone or
//! a group of hosts has, named by rules as `+name`.

use lab_core::value::encode_value;
use lab_core::{Handle, Output, Resource, ResourceSpec, Value};

use crate::kinds::{self, firewall_name_ok, ip_version, normalize_cidr, IpSetEntry};

/// A cluster-wide IP set (`proxmox.firewall_ipset`); its resource name is
/// the ipset's name. Rules name it with `.source_set(&set)` /
/// `.dest_set(&set)`.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let dmz = lab.add(
///     IpSet::new("zone_dmz").entry("10.40.0.0/24").nomatch("10.40.0.1").comment("DMZ"),
/// );
/// let spec = lab.resource(dmz.address()).unwrap();
/// assert_eq!(spec.attrs["name"], Value::from("zone_dmz"));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct IpSet {
    spec: ResourceSpec,
    entries: Vec<IpSetEntry>,
}

impl IpSet {
    /// The kind, `proxmox.firewall_ipset`.
    pub const KIND: &'static str = kinds::FIREWALL_IPSET;

    /// An empty ipset named `name` (≤ 64 characters: a letter, then
    /// letters, digits, `-`, `_`).
    #[track_caller]
    pub fn new(name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        if !firewall_name_ok(name, kinds::MAX_IPSET_NAME) {
            spec.invalid(
                "name",
                format!("`{name}` is not a valid ipset name"),
                "name it like `zone_dmz`: a letter, then letters, digits, - and _, 64 characters at most",
            );
        }
        spec.set("name", name);
        spec.set("entries", Value::List(Vec::new()));
        IpSet {
            spec,
            entries: Vec::new(),
        }
    }

    #[track_caller]
    fn add(&mut self, cidr: &str, nomatch: bool, comment: Option<&str>) {
        let alias = firewall_name_ok(cidr, 64);
        if !alias && ip_version(cidr).is_none() {
            self.spec.invalid(
                "entries",
                format!("`{cidr}` is not an IP address, a CIDR network or an alias"),
                "write an entry like `10.0.0.5` or `10.0.0.0/24`",
            );
        }
        let cidr = normalize_cidr(cidr);
        if cidr.ends_with("/0") {
            self.spec.invalid(
                "entries",
                "a zero prefix is not allowed in ipset entries",
                "list the networks themselves (PVE refuses `/0`)",
            );
        }
        if self.entries.iter().any(|e| e.cidr == cidr) {
            self.spec.invalid(
                "entries",
                format!("address '{cidr}' already exists in this ipset"),
                "list each address once",
            );
            return;
        }
        self.entries.push(IpSetEntry {
            cidr,
            nomatch: nomatch.then_some(true),
            comment: comment.map(str::to_string),
        });
        self.entries.sort_by(|a, b| a.cidr.cmp(&b.cidr));
        let list: Vec<Value> = self
            .entries
            .iter()
            .filter_map(|e| encode_value(e).ok())
            .collect();
        self.spec.set("entries", Value::List(list));
    }

    /// Adds an IP, a CIDR network (stored as its network address; a host
    /// without `/32`) or an alias.
    #[track_caller]
    pub fn entry(mut self, cidr: &str) -> Self {
        self.add(cidr, false, None);
        self
    }

    /// Adds an entry with a comment.
    #[track_caller]
    pub fn entry_with_comment(mut self, cidr: &str, comment: &str) -> Self {
        self.add(cidr, false, Some(comment));
        self
    }

    /// Adds an exception: `cidr` is left out of the set (`!cidr`).
    #[track_caller]
    pub fn nomatch(mut self, cidr: &str) -> Self {
        self.add(cidr, true, None);
        self
    }

    /// The set's comment.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        if comment.contains('\n') {
            self.spec.invalid(
                "comment",
                "an ipset's comment is one line",
                "remove the line breaks",
            );
        }
        self.spec.set("comment", comment);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for IpSet {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of an ipset.
pub trait IpSetOutputs {
    /// The ipset's name.
    #[track_caller]
    fn ipset_name(&self) -> Output<String>;
}

impl IpSetOutputs for Handle<IpSet> {
    #[track_caller]
    fn ipset_name(&self) -> Output<String> {
        self.output("name")
    }
}
