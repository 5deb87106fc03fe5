//! What VMs and containers share: node, VMID, name, CPU and memory, NICs
//! on bridges with VLAN tags, tags, notes, pool, start on boot.

use std::collections::BTreeSet;
use std::panic::Location;

use indexmap::IndexMap;
use lab_core::{Handle, Loc, ResourceSpec, Value};

use super::common::{add_tags, dns_name_problem, mark, parse_slot, problem_at, put, NIC_SLOTS};
use super::node::Node;
use super::pool::Pool;

/// One NIC as declared.
#[derive(Clone, Debug)]
pub(crate) struct Nic {
    pub slot: String,
    pub index: Option<u32>,
    pub bridge: String,
    pub tag: Option<u16>,
    pub firewall: Option<bool>,
    /// Containers only: `dhcp` or a CIDR, and the gateway.
    pub ip: Option<String>,
    pub gw: Option<String>,
    pub loc: Loc,
}

/// The shared part of a guest builder.
#[derive(Clone, Debug)]
pub(crate) struct Guest {
    pub spec: ResourceSpec,
    tags: BTreeSet<String>,
    pub nics: Vec<Nic>,
    /// `name` (VM) or `hostname` (CT).
    name_field: &'static str,
    name_set: bool,
}

impl Guest {
    #[track_caller]
    pub fn new(
        kind: &str,
        name: &str,
        node: &Handle<Node>,
        name_field: &'static str,
        memory_mb: u32,
    ) -> Self {
        let mut spec = ResourceSpec::new(kind, name);
        spec.check_set = Some(crate::checks::SET);
        spec.note_set = Some(crate::notes::NOTES);
        spec.set("node", node.address().name());
        spec.depend_on(node, "node");
        spec.set(name_field, name);
        spec.set("cores", 1);
        spec.set("memory_mb", memory_mb);
        Guest {
            spec,
            tags: BTreeSet::new(),
            nics: Vec::new(),
            name_field,
            name_set: false,
        }
    }

    #[track_caller]
    pub fn hostname(&mut self, name: &str) {
        if let Some(p) = dns_name_problem(name) {
            self.spec.invalid(
                self.name_field,
                p,
                "write a DNS name: letters, digits and inner `-`, labels separated by `.`",
            );
        }
        self.spec.set(self.name_field, name);
        self.name_set = true;
    }

    #[track_caller]
    pub fn nic(&mut self, slot: &str, bridge: &str) {
        let index = match parse_slot(slot, NIC_SLOTS) {
            Ok(i) => Some(i),
            Err(p) => {
                self.spec.invalid("nics", p, "name NICs net0 to net31");
                None
            }
        };
        if self.nics.iter().any(|n| n.slot == slot) {
            self.spec.invalid(
                "nics",
                format!("NIC slot `{slot}` is used twice"),
                "give each NIC its own slot (net0, net1, ...)",
            );
        }
        if bridge.is_empty() {
            self.spec
                .invalid("nics", "the bridge name is empty", "write it like `vmbr0`");
        }
        let loc = Location::caller();
        mark(&mut self.spec, format!("nics.{slot}"), loc);
        self.nics.push(Nic {
            slot: slot.to_string(),
            index,
            bridge: bridge.to_string(),
            tag: None,
            firewall: None,
            ip: None,
            gw: None,
            loc,
        });
    }

    /// The NIC added last, for a modifier; reports a modifier with no NIC
    /// before it.
    #[track_caller]
    pub fn last_nic(&mut self, option: &str) -> Option<&mut Nic> {
        let loc = Location::caller();
        match self.nics.last_mut() {
            Some(n) => {
                self.spec
                    .field_locs
                    .insert(format!("nics.{}.{option}", n.slot), loc);
                Some(n)
            }
            None => {
                self.spec.invalid(
                    "nics",
                    format!(".{option}(..) applies to the NIC added before it, and there is none"),
                    "add the NIC first: .nic(\"net0\", \"vmbr0\").vlan(20)",
                );
                None
            }
        }
    }

    #[track_caller]
    pub fn tags(&mut self, tags: &[&str]) {
        add_tags(&mut self.spec, &mut self.tags, tags);
    }

    #[track_caller]
    pub fn pool(&mut self, pool: &Handle<Pool>) {
        self.spec.set("pool", pool.address().name());
        self.spec.depend_on(pool, "pool");
    }

    /// Lowers the NICs with `lower` and checks the default name.
    pub fn finish(&mut self, lower: impl Fn(&Nic) -> IndexMap<String, Value>) {
        let nics: Vec<Value> = self.nics.iter().map(|n| Value::Map(lower(n))).collect();
        let loc = self.nics.first().map_or(self.spec.declared_at, |n| n.loc);
        put(&mut self.spec, "nics", nics, loc);
        if !self.name_set {
            if let Some(p) = dns_name_problem(self.spec.name()) {
                let at = self.spec.declared_at;
                let field = self.name_field;
                let suggestion = self.spec.name().replace('_', "-");
                problem_at(
                    &mut self.spec,
                    field,
                    at,
                    format!("the resource name is used as the guest's name, and {p}"),
                    format!("give a DNS name with .hostname(\"{suggestion}\")"),
                );
            }
        }
    }
}

/// Puts `value` into `map` under `key` if it is there.
pub(crate) fn opt<T: Into<Value>>(map: &mut IndexMap<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_string(), v.into());
    }
}
