//! Ranks: which row of the drawing each node sits in.

use crate::picture::Picture;

/// The picture's edges as `(from, to)` node indices with every edge that
/// closes a cycle turned round and self-loops left out: a graph with no
/// cycle, for ranking and ordering only (the drawing keeps each edge's
/// direction). A depth-first search in declaration order decides which
/// edges close cycles, so the choice is the same on every run.
pub(super) fn acyclic_edges(picture: &Picture) -> Vec<(usize, usize)> {
    let n = picture.nodes.len();
    let index: std::collections::HashMap<&str, usize> = picture
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.id.as_str(), i))
        .collect();
    let edges: Vec<(usize, usize)> = picture
        .edges
        .iter()
        .map(|e| (index[e.from.as_str()], index[e.to.as_str()]))
        .filter(|(a, b)| a != b)
        .collect();
    let mut out_edges = vec![Vec::new(); n];
    for (i, &(a, _)) in edges.iter().enumerate() {
        out_edges[a].push(i);
    }
    // 0 unseen, 1 on the stack, 2 done.
    let mut state = vec![0u8; n];
    let mut reversed = vec![false; edges.len()];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        let mut stack = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&e) = out_edges[v].get(*next) {
                *next += 1;
                let w = edges[e].1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => reversed[e] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    edges
        .into_iter()
        .zip(reversed)
        .map(|((a, b), r)| if r { (b, a) } else { (a, b) })
        .collect()
}

/// Each node's rank: the length of its longest path from a source.
pub(super) fn ranks(n: usize, dag: &[(usize, usize)]) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    let mut succ = vec![Vec::new(); n];
    for &(a, b) in dag {
        indegree[b] += 1;
        succ[a].push(b);
    }
    let mut rank = vec![0usize; n];
    let mut queue: std::collections::VecDeque<usize> =
        (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(v) = queue.pop_front() {
        for &w in &succ[v] {
            rank[w] = rank[w].max(rank[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                queue.push_back(w);
            }
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::{Edge, Node};

    fn picture(n: usize, edges: &[(usize, usize)]) -> Picture {
        let mut p = Picture::new("t");
        for i in 0..n {
            p = p.node(Node::new(format!("n{i}"), format!("n{i}")));
        }
        for &(a, b) in edges {
            p = p.edge(Edge::new(format!("n{a}"), format!("n{b}")));
        }
        p
    }

    #[test]
    fn longest_path_ranks() {
        // 0 -> 1 -> 2, 3 -> 2, 0 -> 2.
        let p = picture(4, &[(0, 1), (1, 2), (3, 2), (0, 2)]);
        let dag = acyclic_edges(&p);
        assert_eq!(ranks(4, &dag), vec![0, 1, 2, 0]);
    }

    #[test]
    fn a_cycle_is_broken_at_its_closing_edge_and_self_loops_dropped() {
        let p = picture(3, &[(0, 1), (1, 2), (2, 0), (1, 1)]);
        let dag = acyclic_edges(&p);
        assert_eq!(dag, vec![(0, 1), (1, 2), (0, 2)]);
        assert_eq!(ranks(3, &dag), vec![0, 1, 2]);
    }
}
