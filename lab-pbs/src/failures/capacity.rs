//! Capacity after a loss: can the surviving nodes run the guests of the
//! nodes lost, and can the surviving pools hold a restore of the pools
//! lost?
//!
//! Both are bin packing, solved by **first-fit decreasing**: the largest
//! item first (guests by memory, then cores; pools by bytes), each into the
//! first survivor, in the topology's order, with room left. First-fit
//! decreasing is not always optimal (it can leave an item out that a
//! cleverer packing would place), so a warning means "this simple packing
//! fails", which is the packing an operator or HA manager would try by
//! hand; it never claims a fit that does not exist.
//!
//! Node capacity is analysed only when every node states its size (a node
//! with neither memory nor cores is of unknown size). Room on a surviving
//! node is its memory and cores less those of every
//! guest already placed on it (cores are counted one for one, without
//! overcommit). Room on a surviving pool is its capacity less its used
//! bytes; a pool whose sizes are unknown offers none. A pool restored from
//! a replica on a surviving pool needs no room: the replica holds it.

use lab_core::Address;

use super::analysis::{DataReport, Outcome, PlaceKind, Resolved, Scenario};
use super::topology::Topology;

/// Whether the surviving nodes carry the guests that must keep running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCapacity {
    /// Each guest moved, with the node it lands on.
    pub placed: Vec<(Address, Address)>,
    /// The guests with no room left.
    pub unplaced: Vec<Address>,
    /// Memory (MiB) and cores of every guest to move.
    pub needed: (u64, u64),
    /// Memory (MiB) and cores left on the surviving nodes before the move.
    pub free: (u64, u64),
}

impl NodeCapacity {
    /// True when every guest found room.
    pub fn fits(&self) -> bool {
        self.unplaced.is_empty()
    }
}

/// Whether the surviving pools hold a restore of the pools lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NasCapacity {
    /// Each pool restored, with the pool it lands on.
    pub placed: Vec<(Address, Address)>,
    /// The pools with no room left.
    pub unplaced: Vec<Address>,
    /// Lost pools whose used bytes are unknown (not checked).
    pub unknown_size: Vec<Address>,
    /// Lost pools whose freshest surviving copy is a replica on a surviving
    /// pool: it already holds them, nothing needs room.
    pub served_by_replica: Vec<Address>,
    /// Bytes to restore (of the pools of known size).
    pub needed_bytes: u64,
    /// Bytes free on the surviving pools before the restore.
    pub free_bytes: u64,
}

impl NasCapacity {
    /// True when every pool of known size found room.
    pub fn fits(&self) -> bool {
        self.unplaced.is_empty()
    }
}

/// What each node and pool holds with nothing lost.
#[derive(Debug)]
pub(crate) struct Base {
    used_memory: Vec<u64>,
    used_cores: Vec<u64>,
}

impl Base {
    pub fn new(t: &Topology, r: &Resolved) -> Self {
        let mut used_memory = vec![0; t.nodes.len()];
        let mut used_cores = vec![0; t.nodes.len()];
        for (g, guest) in t.guests.iter().enumerate() {
            used_memory[r.guest_node[g]] += guest.memory_mib;
            used_cores[r.guest_node[g]] += u64::from(guest.cores);
        }
        Base {
            used_memory,
            used_cores,
        }
    }

    /// The node capacity of a loss that leaves `node_up` (`None` when no
    /// node is down).
    pub fn nodes(
        &self,
        t: &Topology,
        r: &Resolved,
        node_up: &[bool],
        s: &Scenario,
    ) -> Option<NodeCapacity> {
        // A node whose size the lab does not state (neither memory nor
        // cores) leaves the question open: no answer rather than a guess.
        if node_up.iter().all(|u| *u) || t.nodes.iter().any(|n| n.memory_mib == 0 && n.cores == 0) {
            return None;
        }
        let mut moving: Vec<usize> = (0..t.guests.len())
            .filter(|g| {
                let guest = &t.guests[*g];
                guest.keep_running
                    && !node_up[r.guest_node[*g]]
                    && (guest.rebuildable || s.outcome(*g) != Outcome::Lost)
            })
            .collect();
        moving.sort_by(|a, b| {
            let (ga, gb) = (&t.guests[*a], &t.guests[*b]);
            (gb.memory_mib, gb.cores)
                .cmp(&(ga.memory_mib, ga.cores))
                .then(ga.address.cmp(&gb.address))
        });
        let mut room: Vec<(usize, u64, u64)> = (0..t.nodes.len())
            .filter(|n| node_up[*n])
            .map(|n| {
                (
                    n,
                    t.nodes[n].memory_mib.saturating_sub(self.used_memory[n]),
                    u64::from(t.nodes[n].cores).saturating_sub(self.used_cores[n]),
                )
            })
            .collect();
        let free = room
            .iter()
            .fold((0, 0), |(m, c), (_, rm, rc)| (m + rm, c + rc));
        let mut out = NodeCapacity {
            placed: Vec::new(),
            unplaced: Vec::new(),
            needed: (0, 0),
            free,
        };
        for g in moving {
            let guest = &t.guests[g];
            let cores = u64::from(guest.cores);
            out.needed.0 += guest.memory_mib;
            out.needed.1 += cores;
            match room
                .iter_mut()
                .find(|(_, m, c)| *m >= guest.memory_mib && *c >= cores)
            {
                Some((n, m, c)) => {
                    *m -= guest.memory_mib;
                    *c -= cores;
                    out.placed
                        .push((guest.address.clone(), t.nodes[*n].address.clone()));
                }
                None => out.unplaced.push(guest.address.clone()),
            }
        }
        Some(out)
    }

    /// The pool capacity of a loss of `lost` (`None` when no pool is lost).
    pub fn nas(
        &self,
        t: &Topology,
        lost: &[usize],
        r: &Resolved,
        data: &[DataReport],
        s: &Scenario,
    ) -> Option<NasCapacity> {
        let gone = |p: usize| lost.contains(&r.pool_appliance[p]);
        if !(0..t.pools.len()).any(gone) {
            return None;
        }
        let mut out = NasCapacity {
            placed: Vec::new(),
            unplaced: Vec::new(),
            unknown_size: Vec::new(),
            served_by_replica: Vec::new(),
            needed_bytes: 0,
            free_bytes: 0,
        };
        let mut restoring = Vec::new();
        for p in (0..t.pools.len()).filter(|p| gone(*p)) {
            let item = t.guests.len() + p;
            match s.outcome(item) {
                // Nothing left to restore: the loss itself is the finding.
                Outcome::Lost | Outcome::Live => continue,
                // A replica on a surviving pool already holds it.
                Outcome::Restorable { copy, .. }
                    if data[item].copies[copy].place_kind == PlaceKind::Pool =>
                {
                    out.served_by_replica.push(t.pools[p].address.clone());
                    continue;
                }
                Outcome::Restorable { .. } => {}
            }
            match t.pools[p].used_bytes {
                Some(b) => {
                    out.needed_bytes += b;
                    restoring.push((p, b));
                }
                None => out.unknown_size.push(t.pools[p].address.clone()),
            }
        }
        restoring.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut room: Vec<(usize, u64)> = (0..t.pools.len())
            .filter(|p| !gone(*p))
            .filter_map(|p| {
                let pool = &t.pools[p];
                Some((p, pool.capacity_bytes?.saturating_sub(pool.used_bytes?)))
            })
            .collect();
        out.free_bytes = room.iter().map(|(_, b)| b).sum();
        for (p, bytes) in restoring {
            match room.iter_mut().find(|(_, free)| *free >= bytes) {
                Some((to, free)) => {
                    *free -= bytes;
                    out.placed
                        .push((t.pools[p].address.clone(), t.pools[*to].address.clone()));
                }
                None => out.unplaced.push(t.pools[p].address.clone()),
            }
        }
        Some(out)
    }
}
