//! Addresses to indices, once: every reference checked, with the line of
//! the item that made a bad one.

use std::collections::HashMap;
use std::fmt;

use lab_core::{diag::loc_string, Address, Diagnostic, Loc};

use super::topology::Topology;

/// A topology that does not hold together: a reference to nothing, or two
/// items with one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopologyError {
    /// `item`'s `field` names `target`, which the topology does not hold.
    Unknown {
        /// The item with the bad reference.
        item: Address,
        /// The field holding it.
        field: &'static str,
        /// What it names.
        target: Address,
        /// What `target` should be (an appliance, a node, ...).
        expected: &'static str,
        /// The item's line.
        loc: Option<Loc>,
    },
    /// Two items share `address`.
    Duplicate {
        /// The address.
        address: Address,
        /// The second item's line.
        loc: Option<Loc>,
    },
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |loc: &Option<Loc>| loc.map(|l| format!(" ({})", loc_string(l)));
        match self {
            TopologyError::Unknown {
                item,
                field,
                target,
                expected,
                loc,
            } => write!(
                f,
                "{item}{}: its {field} `{target}` is not {expected} of the topology; add it, or name one that is",
                at(loc).unwrap_or_default()
            ),
            TopologyError::Duplicate { address, loc } => write!(
                f,
                "`{address}`{} appears twice in the topology; give each item its own address",
                at(loc).unwrap_or_default()
            ),
        }
    }
}

impl std::error::Error for TopologyError {}

impl TopologyError {
    /// The error as a `pbs::topology` diagnostic at the item's line.
    pub fn diagnostic(&self) -> Diagnostic {
        let (address, loc) = match self {
            TopologyError::Unknown { item, loc, .. } => (item, loc),
            TopologyError::Duplicate { address, loc } => (address, loc),
        };
        let mut d = Diagnostic::error(super::checks::TOPOLOGY, self.to_string())
            .for_resource(address)
            .with_help(
                "the failure-domain analysis needs every place data lives and every job copying it",
            );
        if let Some(loc) = loc {
            d = d.with_label(loc, "declared here");
        }
        d
    }
}

/// Every item's index by address, per kind.
pub(crate) struct Index {
    pub appliances: HashMap<Address, usize>,
    pub nodes: HashMap<Address, usize>,
    pub pools: HashMap<Address, usize>,
    pub servers: HashMap<Address, usize>,
    pub datastores: HashMap<Address, usize>,
    pub guests: HashMap<Address, usize>,
}

fn index_of<'a>(
    items: impl Iterator<Item = (&'a Address, Option<Loc>)>,
) -> Result<HashMap<Address, usize>, TopologyError> {
    let mut map = HashMap::new();
    for (i, (address, loc)) in items.enumerate() {
        if map.insert(address.clone(), i).is_some() {
            return Err(TopologyError::Duplicate {
                address: address.clone(),
                loc,
            });
        }
    }
    Ok(map)
}

/// Looks `target` up in `map`, or says who named it.
pub(crate) fn find(
    map: &HashMap<Address, usize>,
    target: &Address,
    item: &Address,
    field: &'static str,
    expected: &'static str,
    loc: Option<Loc>,
) -> Result<usize, TopologyError> {
    map.get(target)
        .copied()
        .ok_or_else(|| TopologyError::Unknown {
            item: item.clone(),
            field,
            target: target.clone(),
            expected,
            loc,
        })
}

impl Index {
    pub fn new(t: &Topology) -> Result<Self, TopologyError> {
        Ok(Index {
            appliances: index_of(t.appliances.iter().map(|a| (&a.address, a.loc)))?,
            nodes: index_of(t.nodes.iter().map(|a| (&a.address, a.loc)))?,
            pools: index_of(t.pools.iter().map(|a| (&a.address, a.loc)))?,
            servers: index_of(t.servers.iter().map(|a| (&a.address, a.loc)))?,
            datastores: index_of(t.datastores.iter().map(|a| (&a.address, a.loc)))?,
            guests: index_of(t.guests.iter().map(|a| (&a.address, a.loc)))?,
        })
    }

    pub fn appliance(
        &self,
        target: &Address,
        item: &Address,
        field: &'static str,
        loc: Option<Loc>,
    ) -> Result<usize, TopologyError> {
        find(&self.appliances, target, item, field, "an appliance", loc)
    }
}
