//! The left-to-right order: barycenter sweeps that keep clusters whole.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Frame, Item, Order};

/// The order with the fewest edge crossings over the initial one and one
/// per sweep.
pub(super) fn best_order(frame: &Frame, dag: &[(usize, usize)]) -> Order {
    let n = frame.picture.nodes.len();
    let mut pred = vec![Vec::new(); n];
    let mut succ = vec![Vec::new(); n];
    for &(a, b) in dag {
        succ[a].push(b);
        pred[b].push(a);
    }
    let mut order = initial(frame);
    let mut placed = frame.place(&order);
    let mut best = (crossings(frame, dag, &placed.nodes), order.clone());
    for sweep in 0..frame.options.sweeps {
        if best.0 == 0 {
            break;
        }
        let pos: Vec<f64> = placed.nodes.iter().map(|r| r.center_x()).collect();
        let bary: Vec<f64> = (0..n)
            .map(|v| {
                // Down sweeps move nodes under their predecessors, up
                // sweeps over their successors; the others stay put (moving
                // both ends of an edge at once could swap them both).
                let near = if sweep % 2 == 0 { &pred[v] } else { &succ[v] };
                if near.is_empty() {
                    pos[v]
                } else {
                    near.iter().map(|&w| pos[w]).sum::<f64>() / near.len() as f64
                }
            })
            .collect();
        order = reorder(frame, &order, &bary);
        placed = frame.place(&order);
        let c = crossings(frame, dag, &placed.nodes);
        if c < best.0 {
            best = (c, order.clone());
        }
    }
    best.1
}

/// Declaration order: a group's own nodes first, then its sub-clusters.
pub(super) fn initial(frame: &Frame) -> Order {
    let groups = &frame.groups;
    let count = groups.depth.len();
    let mut items = vec![Vec::new(); count];
    let mut bands = vec![BTreeMap::new(); count];
    for g in 0..count {
        if !groups.nodes[g].is_empty() {
            items[g].push(Item::Band(g));
        }
        items[g].extend(groups.children[g].iter().map(|&c| Item::Group(c)));
        for &n in &groups.nodes[g] {
            bands[g]
                .entry(frame.ranks[n])
                .or_insert_with(Vec::new)
                .push(n);
        }
    }
    Order { items, bands }
}

/// Siblings sorted by their members' mean barycenter, a band's nodes in
/// each rank by their own; ties keep declaration order.
fn reorder(frame: &Frame, order: &Order, bary: &[f64]) -> Order {
    let groups = &frame.groups;
    let key = |nodes: &[usize]| -> (f64, usize) {
        let mean = nodes.iter().map(|&n| bary[n]).sum::<f64>() / nodes.len().max(1) as f64;
        (mean, nodes.iter().copied().min().unwrap_or(usize::MAX))
    };
    let cmp = |a: &(f64, usize), b: &(f64, usize)| -> Ordering {
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
    };
    let mut next = order.clone();
    for items in &mut next.items {
        let mut keyed: Vec<((f64, usize), Item)> = items
            .iter()
            .map(|&item| {
                let k = match item {
                    Item::Group(c) => key(&groups.members[c]),
                    Item::Band(b) => key(&groups.nodes[b]),
                };
                (k, item)
            })
            .collect();
        keyed.sort_by(|a, b| cmp(&a.0, &b.0));
        *items = keyed.into_iter().map(|(_, item)| item).collect();
    }
    for bands in &mut next.bands {
        for nodes in bands.values_mut() {
            nodes.sort_by(|&a, &b| cmp(&(bary[a], a), &(bary[b], b)));
        }
    }
    next
}

/// Pairs of edges whose straight lines (center to center, rank to rank)
/// cross where their rank spans overlap.
pub(super) fn crossings(frame: &Frame, dag: &[(usize, usize)], nodes: &[super::Rect]) -> usize {
    let lines: Vec<(f64, f64, f64, f64)> = dag
        .iter()
        .map(|&(a, b)| {
            (
                frame.ranks[a] as f64,
                nodes[a].center_x(),
                frame.ranks[b] as f64,
                nodes[b].center_x(),
            )
        })
        .collect();
    let at = |l: &(f64, f64, f64, f64), r: f64| l.1 + (l.3 - l.1) * (r - l.0) / (l.2 - l.0);
    let mut count = 0;
    for (i, a) in lines.iter().enumerate() {
        for b in &lines[i + 1..] {
            let (start, end) = (a.0.max(b.0), a.2.min(b.2));
            if start >= end {
                continue;
            }
            let before = at(a, start) - at(b, start);
            let after = at(a, end) - at(b, end);
            if before * after < 0.0 {
                count += 1;
            }
        }
    }
    count
}
