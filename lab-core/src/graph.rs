//! The dependency graph of a lab: ordering, cycle finding and export.
//!
//! Edges point from a dependency to its dependent (`storage -> vm`), so a
//! topological order is a creation order and its reverse a destroy order.
//! Everything is indexed by position; building the graph is linear in
//! resources plus edges. [`LabGraph::picture`] draws it as a
//! [`crate::picture::Picture`] (`graph --format svg`).

use std::collections::{HashMap, VecDeque};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use indexmap::IndexMap;

use crate::model::{Dependency, Lab};
use crate::picture::{Cluster, Edge, EdgeStyle, Node, Picture, Shape};
use crate::Address;

/// The dependency fields that only order two resources (no value flows).
const ORDERING_ONLY: [&str; 3] = ["depends_on", "after", "add_dependency"];

/// The lab's resources as a graph.
pub struct LabGraph {
    graph: DiGraph<Address, Dependency>,
    index: HashMap<Address, NodeIndex>,
}

impl LabGraph {
    /// Builds the graph. Edges to addresses outside the lab (a handle from
    /// another `Lab`) are left out; a check reports them.
    pub fn build(lab: &Lab) -> Self {
        let mut graph = DiGraph::with_capacity(lab.len(), lab.len());
        let mut index = HashMap::with_capacity(lab.len());
        for spec in lab.resources() {
            let n = graph.add_node(spec.address.clone());
            index.insert(spec.address.clone(), n);
        }
        for spec in lab.resources() {
            let to = index[&spec.address];
            for dep in &spec.deps {
                if dep.lab != lab.id() {
                    continue;
                }
                if let Some(&from) = index.get(&dep.on) {
                    graph.add_edge(from, to, dep.clone());
                }
            }
        }
        LabGraph { graph, index }
    }

    /// The addresses in creation order (dependencies first), or `None` if
    /// there is a cycle.
    pub fn creation_order(&self) -> Option<Vec<Address>> {
        toposort(&self.graph, None)
            .ok()
            .map(|v| v.into_iter().map(|n| self.graph[n].clone()).collect())
    }

    /// Every dependency cycle, each as the shortest cycle through its
    /// strongly connected component: the edges in order, each meaning
    /// "`edge.0` needs `edge.1`".
    pub fn cycles(&self) -> Vec<Vec<(Address, Dependency)>> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let self_loop =
                scc.len() == 1 && self.graph.edges_connecting(scc[0], scc[0]).next().is_some();
            if scc.len() < 2 && !self_loop {
                continue;
            }
            // Start at the first-declared node for a deterministic report.
            let start = *scc.iter().min_by_key(|n| n.index()).expect("non-empty scc");
            if let Some(cycle) = self.shortest_cycle(start, &scc) {
                out.push(cycle);
            }
        }
        out.sort_by(|a, b| a[0].0.cmp(&b[0].0));
        out
    }

    /// BFS along "needs" edges (dependent -> dependency) from `start` back to it.
    fn shortest_cycle(
        &self,
        start: NodeIndex,
        scc: &[NodeIndex],
    ) -> Option<Vec<(Address, Dependency)>> {
        let in_scc: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        let mut prev: HashMap<NodeIndex, (NodeIndex, petgraph::graph::EdgeIndex)> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            // Incoming edges are the node's dependencies: n needs e.source().
            let mut deps: Vec<_> = self
                .graph
                .edges_directed(n, petgraph::Direction::Incoming)
                .collect();
            deps.sort_by_key(|e| (e.source().index(), e.id().index()));
            for e in deps {
                let m = e.source();
                if !in_scc.contains(&m) {
                    continue;
                }
                if m == start {
                    // Walk back from n to start.
                    let mut path = vec![(self.graph[n].clone(), e.weight().clone())];
                    let mut cur = n;
                    while cur != start {
                        let (p, pe) = prev[&cur];
                        path.push((self.graph[p].clone(), self.graph[pe].clone()));
                        cur = p;
                    }
                    path.reverse();
                    return Some(path);
                }
                if let std::collections::hash_map::Entry::Vacant(v) = prev.entry(m) {
                    v.insert((n, e.id()));
                    queue.push_back(m);
                }
            }
        }
        None
    }

    /// The number of resources.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// True if the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The direct dependencies of `address`.
    pub fn dependencies_of(&self, address: &Address) -> Vec<Address> {
        self.index.get(address).map_or_else(Vec::new, |&n| {
            self.graph
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .map(|m| self.graph[m].clone())
                .collect()
        })
    }

    /// The dependency graph of `lab` as a picture (the `dependencies` view).
    ///
    /// Each resource is a node labelled with its name and kind, colored by
    /// its kind, a cylinder if it is model-only (an appliance). Nodes sit
    /// in a cluster per provider prefix of their kind (`proxmox`, `pbs`),
    /// and in a nested cluster per provider instance where the resource is
    /// bound to one by name. One edge per pair of resources, from the
    /// dependency to its dependent, labelled with the fields that make it;
    /// dashed when it only orders them (`.after`, `depends_on`). Edges to
    /// resources outside the lab are left out, as in [`LabGraph::build`].
    ///
    /// ```
    /// use lab_core::graph::LabGraph;
    /// use lab_core::testing::Thing;
    /// use lab_core::Lab;
    ///
    /// let mut lab = Lab::new("home");
    /// let db = lab.add(Thing::new("db"));
    /// lab.add(Thing::new("app").input("db_id", db.output::<String>("id")));
    /// let picture = LabGraph::picture(&lab);
    /// assert_eq!(picture.nodes.len(), 2);
    /// assert_eq!(picture.edges[0].label, "db_id");
    /// ```
    pub fn picture(lab: &Lab) -> Picture {
        let mut picture = Picture::new(format!("{}: dependencies", lab.name()))
            .edge_meaning(EdgeStyle::Solid, "needed by (a value flows)")
            .edge_meaning(EdgeStyle::Dashed, "needed by (order only)");
        let mut clusters: IndexMap<String, Cluster> = IndexMap::new();
        let mut present = std::collections::HashSet::new();
        for spec in lab.resources() {
            present.insert(spec.address.clone());
            let kind = spec.address.kind();
            let (prefix, rest) = kind.split_once('.').unwrap_or((kind, kind));
            clusters
                .entry(prefix.to_string())
                .or_insert_with(|| Cluster::new(prefix, prefix));
            let mut cluster = prefix.to_string();
            if let Some(binding) = &spec.provider {
                let id = format!("{prefix}/{}", binding.name);
                clusters.entry(id.clone()).or_insert_with(|| {
                    Cluster::new(id.clone(), format!("{prefix} {}", binding.name)).inside(prefix)
                });
                cluster = id;
            }
            let shape = if spec.managed {
                Shape::Rounded
            } else {
                Shape::Cylinder
            };
            picture.nodes.push(
                Node::new(
                    spec.address.as_str(),
                    format!("{}\n{rest}", spec.address.name()),
                )
                .class(kind)
                .shape(shape)
                .in_cluster(cluster),
            );
        }
        picture.clusters = clusters.into_values().collect();
        // One edge per (dependency, dependent), its fields joined.
        let mut edges: IndexMap<(Address, Address), Vec<&str>> = IndexMap::new();
        for spec in lab.resources() {
            for dep in &spec.deps {
                if dep.lab != lab.id() || !present.contains(&dep.on) {
                    continue;
                }
                let fields = edges
                    .entry((dep.on.clone(), spec.address.clone()))
                    .or_default();
                if !fields.contains(&dep.via.as_str()) {
                    fields.push(&dep.via);
                }
            }
        }
        for ((from, to), fields) in edges {
            let ordering = fields.iter().all(|f| ORDERING_ONLY.contains(f));
            picture.edges.push(
                Edge::new(from.as_str(), to.as_str())
                    .label(fields.join(", "))
                    .style(if ordering {
                        EdgeStyle::Dashed
                    } else {
                        EdgeStyle::Solid
                    }),
            );
        }
        picture
    }
}
