//! The operation graph of a plan: what runs, in which order, how urgent.
//!
//! A plan step becomes one or two operations (a replace is a delete and a
//! create, in either order). Edges:
//! - an up operation (create/update) waits for the up operations of what it needs;
//! - a delete waits for the deletes of what needed it, and for the updates of
//!   resources that stop needing it;
//! - a replace's create waits for its delete (or, with create-before-destroy,
//!   the old object's delete waits for the create and for the dependents that
//!   move over to the new object);
//! - a create waits for the deletes its step names in `after_delete` (old
//!   objects of other resources with the identity its object takes).
//!
//! Priority is the bottom level: the longest estimated path from the
//! operation to the end, so the critical path starts first.

use std::collections::HashMap;
use std::time::Duration;

use crate::plan::{Action, Plan};
use crate::provider::OpKind;
use crate::Address;

/// One provider call of an apply (a create, update or delete of one
/// resource): a plan step becomes one operation, or two for a replacement.
///
/// The executor schedules operations by their edges in [`OpGraph`],
/// longest remaining path first.
#[derive(Clone, Debug)]
pub struct Op {
    /// Index of the plan step it comes from.
    pub step: usize,
    /// The resource.
    pub address: Address,
    /// The call.
    pub kind: OpKind,
    /// True for the delete of an object replaced with create-before-destroy
    /// (the old object, kept as deposed until deleted).
    pub deposed: bool,
    /// Estimated duration.
    pub estimate: Duration,
}

/// Operations and their edges.
#[derive(Clone, Debug, Default)]
pub struct OpGraph {
    /// The operations.
    pub ops: Vec<Op>,
    /// `needs[i]`: the operations `i` waits for.
    pub needs: Vec<Vec<usize>>,
    /// `needed_by[i]`: the operations that wait for `i`.
    pub needed_by: Vec<Vec<usize>>,
    /// Longest estimated path from each operation to the end, itself included.
    pub bottom_level: Vec<Duration>,
}

impl OpGraph {
    /// Builds the graph of `plan`, estimating each operation with `estimate`.
    pub fn build(plan: &Plan, estimate: &dyn Fn(&Address, OpKind) -> Duration) -> Self {
        let mut g = OpGraph::default();
        let mut up: HashMap<&Address, usize> = HashMap::new();
        let mut down: HashMap<&Address, usize> = HashMap::new();
        let push =
            |g: &mut OpGraph, step: usize, address: &Address, kind: OpKind, deposed: bool| {
                g.ops.push(Op {
                    step,
                    address: address.clone(),
                    kind,
                    deposed,
                    estimate: estimate(address, kind),
                });
                g.ops.len() - 1
            };
        for (i, s) in plan.steps.iter().enumerate() {
            match s.action {
                Action::Create => {
                    up.insert(
                        &s.address,
                        push(&mut g, i, &s.address, OpKind::Create, false),
                    );
                }
                Action::Update => {
                    up.insert(
                        &s.address,
                        push(&mut g, i, &s.address, OpKind::Update, false),
                    );
                }
                Action::Delete => {
                    down.insert(
                        &s.address,
                        push(
                            &mut g,
                            i,
                            &s.address,
                            OpKind::Delete,
                            s.create_before_destroy,
                        ),
                    );
                }
                Action::Replace => {
                    up.insert(
                        &s.address,
                        push(&mut g, i, &s.address, OpKind::Create, false),
                    );
                    let d = push(
                        &mut g,
                        i,
                        &s.address,
                        OpKind::Delete,
                        s.create_before_destroy,
                    );
                    down.insert(&s.address, d);
                }
            }
        }
        let n = g.ops.len();
        g.needs = vec![Vec::new(); n];
        let edge = |g: &mut OpGraph, before: usize, after: usize| {
            if before != after && !g.needs[after].contains(&before) {
                g.needs[after].push(before);
            }
        };
        for s in &plan.steps {
            let prior_deps: &[Address] = s.prior.as_ref().map_or(&[], |p| &p.deps);
            // Up operations wait for the up operations of what they need.
            if let Some(&u) = up.get(&s.address) {
                for d in &s.deps {
                    if let Some(&du) = up.get(d) {
                        edge(&mut g, du, u);
                    }
                }
            }
            // A create waits for the deletes of old objects that hold the
            // identity its object takes (a renamed file's volume id).
            if let Some(&u) = up.get(&s.address) {
                for a in &s.after_delete {
                    if let Some(&d) = down.get(a) {
                        edge(&mut g, d, u);
                    }
                }
            }
            // A replace: delete then create, or create then delete the old one.
            if let (Some(&u), Some(&d)) = (up.get(&s.address), down.get(&s.address)) {
                if s.create_before_destroy {
                    edge(&mut g, u, d);
                } else {
                    edge(&mut g, d, u);
                }
            }
            // Its old object is deleted before what it needed is.
            if let Some(&me) = down.get(&s.address) {
                for p in prior_deps {
                    if let Some(&dp) = down.get(p) {
                        edge(&mut g, me, dp);
                    }
                }
            }
            // An update that lets go of something being deleted (or moves to
            // its create-before-destroy replacement) runs before that delete.
            if s.action == Action::Update {
                let u = up[&s.address];
                for p in prior_deps {
                    if let Some(&dp) = down.get(p) {
                        if !s.deps.contains(p) || g.ops[dp].deposed {
                            edge(&mut g, u, dp);
                        }
                    }
                }
            }
        }
        g.needed_by = vec![Vec::new(); n];
        for (after, befores) in g.needs.iter().enumerate() {
            for &b in befores {
                g.needed_by[b].push(after);
            }
        }
        g.bottom_level = g.compute_bottom_levels();
        g
    }

    /// Topological order (Kahn), or `None` if the edges form a cycle.
    pub fn topo_order(&self) -> Option<Vec<usize>> {
        let n = self.ops.len();
        let mut indeg: Vec<usize> = self.needs.iter().map(Vec::len).collect();
        let mut queue: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = queue.pop() {
            order.push(i);
            for &j in &self.needed_by[i] {
                indeg[j] -= 1;
                if indeg[j] == 0 {
                    queue.push(j);
                }
            }
        }
        (order.len() == n).then_some(order)
    }

    fn compute_bottom_levels(&self) -> Vec<Duration> {
        let mut bl = vec![Duration::ZERO; self.ops.len()];
        if let Some(order) = self.topo_order() {
            for &i in order.iter().rev() {
                let tail = self.needed_by[i]
                    .iter()
                    .map(|&j| bl[j])
                    .max()
                    .unwrap_or_default();
                bl[i] = self.ops[i].estimate + tail;
            }
        }
        bl
    }

    /// The estimated makespan with unlimited concurrency: the longest path.
    pub fn critical_path_length(&self) -> Duration {
        self.bottom_level.iter().copied().max().unwrap_or_default()
    }

    /// The operations on the longest path, in order.
    pub fn critical_path(&self) -> Vec<usize> {
        let mut path = Vec::new();
        let mut cur = (0..self.ops.len())
            .filter(|&i| self.needs[i].is_empty())
            .max_by_key(|&i| (self.bottom_level[i], std::cmp::Reverse(i)));
        while let Some(i) = cur {
            path.push(i);
            cur = self.needed_by[i]
                .iter()
                .copied()
                .max_by_key(|&j| (self.bottom_level[j], std::cmp::Reverse(j)));
        }
        path
    }
}
