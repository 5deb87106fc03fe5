//! Edge routes: orthogonal polylines through the channels between ranks.
//!
//! An edge leaves its source's bottom, runs across in a lane of the
//! channel above its target's rank and drops onto the target's top (an
//! edge that closes a cycle goes up instead: from the source's top to the
//! target's bottom, across in the channel above the source's rank). A
//! node in a lower row of a wrapped rank is reached through the gaps
//! between columns and rows, so its edges do not run behind the nodes
//! above it; a node above the last row is left the same way. Edges
//! that share a side of a node are spread along it in the order of their
//! other ends, so they do not cross there; lanes are given greedily, so
//! horizontal runs that overlap sit at different heights.

use std::collections::BTreeMap;

use super::{Frame, Placed, CHANNEL};

/// Lanes per channel; more edges than this share them.
const LANES: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Top,
    Bottom,
}

/// Every edge's polyline, by the picture's edge index.
pub(super) fn route(frame: &Frame, placed: &Placed) -> Vec<Vec<(f64, f64)>> {
    let picture = frame.picture;
    let index: std::collections::HashMap<&str, usize> = picture
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let nodes = &placed.nodes;
    let ends: Vec<(usize, usize)> = picture
        .edges
        .iter()
        .map(|e| (index[e.from.as_str()], index[e.to.as_str()]))
        .collect();

    // Sides and the channel (by the rank below it) each edge uses.
    struct Plan {
        from_side: Side,
        to_side: Side,
        channel: usize,
    }
    let plans: Vec<Option<Plan>> = ends
        .iter()
        .map(|&(a, b)| {
            let (ra, rb) = (frame.ranks[a], frame.ranks[b]);
            match ra.cmp(&rb) {
                _ if a == b => None,
                std::cmp::Ordering::Less => Some(Plan {
                    from_side: Side::Bottom,
                    to_side: Side::Top,
                    channel: rb,
                }),
                std::cmp::Ordering::Greater => Some(Plan {
                    from_side: Side::Top,
                    to_side: Side::Bottom,
                    channel: ra,
                }),
                std::cmp::Ordering::Equal => Some(Plan {
                    from_side: Side::Top,
                    to_side: Side::Top,
                    channel: ra,
                }),
            }
        })
        .collect();

    // Ports: the edges on each side of each node, ordered by their other end.
    // Per (node, side): (the other end's x, edge, whether the edge leaves here).
    type Ports = Vec<(f64, usize, bool)>;
    let mut sides: BTreeMap<(usize, Side), Ports> = BTreeMap::new();
    for (i, plan) in plans.iter().enumerate() {
        if let Some(p) = plan {
            let (a, b) = ends[i];
            sides
                .entry((a, p.from_side))
                .or_default()
                .push((nodes[b].center_x(), i, true));
            sides
                .entry((b, p.to_side))
                .or_default()
                .push((nodes[a].center_x(), i, false));
        }
    }
    let mut port_from = vec![0.0; ends.len()];
    let mut port_to = vec![0.0; ends.len()];
    for ((node, _), mut list) in sides {
        list.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let r = nodes[node];
        let m = list.len() as f64;
        for (k, &(_, edge, is_from)) in list.iter().enumerate() {
            let x = r.x + r.w * (k as f64 + 1.0) / (m + 1.0);
            if is_from {
                port_from[edge] = x;
            } else {
                port_to[edge] = x;
            }
        }
    }

    // Lanes: per channel, horizontal runs by their left end, greedily.
    let mut lane = vec![0usize; ends.len()];
    let mut by_channel: BTreeMap<usize, Vec<(f64, f64, usize)>> = BTreeMap::new();
    for (i, plan) in plans.iter().enumerate() {
        if let Some(p) = plan {
            let (x1, x2) = (port_from[i], port_to[i]);
            by_channel
                .entry(p.channel)
                .or_default()
                .push((x1.min(x2), x1.max(x2), i));
        }
    }
    for runs in by_channel.values_mut() {
        runs.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then(a.2.cmp(&b.2))
        });
        let mut ends_at = [f64::NEG_INFINITY; LANES];
        for &(left, right, edge) in runs.iter() {
            let free = (0..LANES).find(|&l| ends_at[l] + 6.0 < left);
            let l = free.unwrap_or_else(|| {
                (0..LANES)
                    .min_by(|&x, &y| ends_at[x].total_cmp(&ends_at[y]))
                    .unwrap_or(0)
            });
            ends_at[l] = ends_at[l].max(right);
            lane[edge] = l;
        }
    }

    ends.iter()
        .enumerate()
        .map(|(i, &(a, b))| match &plans[i] {
            None => {
                let r = nodes[a];
                let cy = r.y + r.h / 2.0;
                vec![
                    (r.right(), cy - 5.0),
                    (r.right() + 12.0, cy - 5.0),
                    (r.right() + 12.0, cy + 5.0),
                    (r.right(), cy + 5.0),
                ]
            }
            Some(p) => {
                let y_of = |node: usize, side: Side| match side {
                    Side::Top => nodes[node].y,
                    Side::Bottom => nodes[node].bottom(),
                };
                let channel_top = (placed.header_top[p.channel] - CHANNEL).max(0.0);
                let lane_y = channel_top + CHANNEL * (lane[i] as f64 + 1.0) / (LANES as f64 + 1.0);
                let (x1, y1) = (port_from[i], y_of(a, p.from_side));
                let (x2, y2) = (port_to[i], y_of(b, p.to_side));
                let mut points = vec![(x1, y1)];
                let mut x = x1;
                let downward = p.from_side == Side::Bottom;
                if let (true, Some((street, gap))) = (downward, placed.depart[a]) {
                    points.extend([(x1, gap), (street, gap)]);
                    x = street;
                }
                points.push((x, lane_y));
                match placed.arrive[b] {
                    Some((street, gap)) if downward => {
                        points.extend([(street, lane_y), (street, gap), (x2, gap)])
                    }
                    _ => points.push((x2, lane_y)),
                }
                points.push((x2, y2));
                simplify(points)
            }
        })
        .collect()
}

/// The polyline without repeated points and without points in the middle
/// of a straight run.
fn simplify(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let same = |a: f64, b: f64| (a - b).abs() < 0.01;
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for p in points {
        if out.last().is_some_and(|q| same(q.0, p.0) && same(q.1, p.1)) {
            continue;
        }
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            if (same(a.0, b.0) && same(b.0, p.0)) || (same(a.1, b.1) && same(b.1, p.1)) {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}
