//! Pictures of a lab: one provider-neutral model, three renderings.
//!
//! A lab is easier to trust when it can be seen. Each view of it (the
//! dependency graph here; the network from lab-net and the failure domains
//! from lab-pbs, carried by their specs as a [`PictureSet`]) builds a
//! [`Picture`]: nodes with a label and a kind, labelled edges, and nested
//! clusters (a provider, a zone, a VLAN, an appliance). The picture knows
//! nothing of Proxmox or Cloudflare, so every view gets the same three
//! renderings:
//!
//! - [`Picture::to_mermaid`]: a Mermaid `flowchart` with subgraphs, which
//!   Git forges render inline in Markdown;
//! - [`Picture::to_dot`]: Graphviz DOT with `cluster_` subgraphs;
//! - [`Picture::to_svg`]: an SVG drawn here in Rust, so a user needs neither
//!   Graphviz nor a browser. Its [`layout`] is a layered one (ranks by
//!   longest path, barycenter sweeps against crossings, clusters as boxes
//!   around their members, wide ranks wrapped), sized for a lab of 50 guests.
//!
//! Every rendering is deterministic: the same picture gives the same bytes,
//! so a picture written into a repository changes only when the lab does.
//!
//! ```
//! use lab_core::picture::{Cluster, Edge, Node, Picture};
//!
//! let picture = Picture::new("home")
//!     .cluster(Cluster::new("pve", "proxmox"))
//!     .node(Node::new("nas", "nas").class("appliance"))
//!     .node(Node::new("vm", "immich").class("proxmox.vm").in_cluster("pve"))
//!     .edge(Edge::new("nas", "vm").label("storage"));
//! let svg = picture.to_svg().unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("immich"));
//! assert!(picture.to_mermaid().unwrap().contains("subgraph"));
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;

mod dot;
pub mod layout;
mod mermaid;
mod svg;
mod view;

pub use layout::{Layout, LayoutOptions, Rect};
pub use view::{DependencyView, PictureRegistry, PictureSet, PictureView, DEPENDENCIES};

/// A picture: a title, nested clusters, nodes and edges, in the order they
/// were added (which is the order renderings list them in).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Picture {
    /// What the picture shows, e.g. `home: dependencies`.
    pub title: String,
    /// The groups, each possibly inside another.
    pub clusters: Vec<Cluster>,
    /// The boxes.
    pub nodes: Vec<Node>,
    /// The arrows between nodes.
    pub edges: Vec<Edge>,
    /// What each edge style means in this picture (`Dashed`: "ordering
    /// only"), in the SVG's legend and as comments in Mermaid and DOT.
    pub edge_legend: Vec<(EdgeStyle, String)>,
    /// Colours a view chose for some classes (`class`, fill, stroke), e.g.
    /// red for data a loss loses; the other classes take the palette's.
    pub class_colors: Vec<(String, String, String)>,
}

/// A group of nodes drawn as one box around them: a provider, a zone, a
/// VLAN, an appliance. Clusters nest through [`Cluster::parent`].
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    /// Unique among the picture's clusters.
    pub id: String,
    /// The title drawn on the box.
    pub label: String,
    /// The cluster this one sits in, if any.
    pub parent: Option<String>,
}

/// One box of a picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique among the picture's nodes; edges name nodes by it.
    pub id: String,
    /// The text in the box; `\n` separates lines.
    pub label: String,
    /// What kind of thing it is (`proxmox.vm`, `zone`): nodes of one class
    /// share a color, and the SVG's legend names each class.
    pub class: String,
    /// How the box is drawn.
    pub shape: Shape,
    /// The cluster it is drawn in, if any.
    pub cluster: Option<String>,
}

/// How a node's box is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A rectangle with rounded corners: something the lab manages.
    #[default]
    Rounded,
    /// A plain rectangle.
    Box,
    /// A cylinder: a disk, a pool, an appliance holding data.
    Cylinder,
}

/// An arrow from one node to another.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// The node the arrow starts at.
    pub from: String,
    /// The node it points to.
    pub to: String,
    /// Text on the arrow (empty: none).
    pub label: String,
    /// How the line is drawn.
    pub style: EdgeStyle,
}

/// How an edge's line is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EdgeStyle {
    /// A solid line.
    #[default]
    Solid,
    /// A dashed line: something weaker than a dependency (an ordering, a
    /// copy, a flow that may be refused).
    Dashed,
    /// A thick line: something that matters most (a public exposure).
    Thick,
}

/// Why a picture cannot be rendered: a view built it wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    /// Two nodes share an id.
    #[error("the picture has two nodes with the id `{0}`; give each node its own id")]
    DuplicateNode(String),
    /// Two clusters share an id.
    #[error("the picture has two clusters with the id `{0}`; give each cluster its own id")]
    DuplicateCluster(String),
    /// A node or cluster names a cluster the picture does not have.
    #[error("`{from}` is placed in the cluster `{cluster}`, which the picture does not have; add the cluster first")]
    UnknownCluster {
        /// The node or cluster placed in it.
        from: String,
        /// The missing cluster.
        cluster: String,
    },
    /// Clusters that contain each other.
    #[error("the cluster `{0}` is inside itself through its parents; make the parents a tree")]
    ClusterCycle(String),
    /// An edge names a node the picture does not have.
    #[error("an edge `{from}` -> `{to}` names the node `{missing}`, which the picture does not have; add the node or drop the edge")]
    UnknownNode {
        /// The edge's start.
        from: String,
        /// The edge's end.
        to: String,
        /// The id not found.
        missing: String,
    },
}

impl Picture {
    /// An empty picture titled `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Picture {
            title: title.into(),
            ..Picture::default()
        }
    }

    /// Adds a cluster (builder style).
    pub fn cluster(mut self, cluster: Cluster) -> Self {
        self.clusters.push(cluster);
        self
    }

    /// Adds a node (builder style).
    pub fn node(mut self, node: Node) -> Self {
        self.nodes.push(node);
        self
    }

    /// Adds an edge (builder style).
    pub fn edge(mut self, edge: Edge) -> Self {
        self.edges.push(edge);
        self
    }

    /// Says what edges drawn in `style` mean (builder style).
    pub fn edge_meaning(mut self, style: EdgeStyle, meaning: impl Into<String>) -> Self {
        self.edge_legend.push((style, meaning.into()));
        self
    }

    /// Draws the nodes of `class` filled with `fill` and outlined with
    /// `stroke` (CSS colours, e.g. `#fee2e2` and `#b91c1c`) in every
    /// rendering, instead of the palette's next colours (builder style).
    /// A view marks what needs attention so.
    ///
    /// ```
    /// use lab_core::picture::{Node, Picture};
    /// let p = Picture::new("t")
    ///     .class_color("at risk", "#fee2e2", "#b91c1c")
    ///     .node(Node::new("a", "a").class("at risk"));
    /// assert!(p.to_svg().unwrap().contains("#b91c1c"));
    /// ```
    pub fn class_color(
        mut self,
        class: impl Into<String>,
        fill: impl Into<String>,
        stroke: impl Into<String>,
    ) -> Self {
        self.class_colors
            .push((class.into(), fill.into(), stroke.into()));
        self
    }

    /// The fill and stroke of each of [`Picture::classes`], in that order:
    /// a class's chosen colours ([`Picture::class_color`]), else the
    /// palette's next.
    pub fn class_paints(&self) -> Vec<(&str, &str)> {
        let mut next = 0;
        self.classes()
            .into_iter()
            .map(
                |class| match self.class_colors.iter().find(|(c, _, _)| c == class) {
                    Some((_, fill, stroke)) => (fill.as_str(), stroke.as_str()),
                    None => {
                        next += 1;
                        palette(next - 1)
                    }
                },
            )
            .collect()
    }

    /// The node with id `id`.
    pub fn find_node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node classes in first-use order: the legend's entries.
    pub fn classes(&self) -> Vec<&str> {
        let mut seen = Vec::new();
        for n in &self.nodes {
            if !seen.contains(&n.class.as_str()) {
                seen.push(n.class.as_str());
            }
        }
        seen
    }

    /// Checks that ids are unique, clusters form a tree and edges join
    /// nodes the picture has. Every rendering calls it first.
    pub fn validate(&self) -> Result<(), PictureError> {
        let mut clusters: HashMap<&str, Option<&str>> = HashMap::new();
        for c in &self.clusters {
            if clusters.insert(&c.id, c.parent.as_deref()).is_some() {
                return Err(PictureError::DuplicateCluster(c.id.clone()));
            }
        }
        for c in &self.clusters {
            if let Some(p) = &c.parent {
                if !clusters.contains_key(p.as_str()) {
                    return Err(PictureError::UnknownCluster {
                        from: c.id.clone(),
                        cluster: p.clone(),
                    });
                }
            }
            // Walk up: a tree reaches a root within `clusters.len()` steps.
            let mut at = c.parent.as_deref();
            for _ in 0..=self.clusters.len() {
                match at {
                    Some(p) if p == c.id => return Err(PictureError::ClusterCycle(c.id.clone())),
                    Some(p) => at = clusters[p],
                    None => break,
                }
            }
        }
        let mut nodes = HashSet::new();
        for n in &self.nodes {
            if !nodes.insert(n.id.as_str()) {
                return Err(PictureError::DuplicateNode(n.id.clone()));
            }
            if let Some(c) = &n.cluster {
                if !clusters.contains_key(c.as_str()) {
                    return Err(PictureError::UnknownCluster {
                        from: n.id.clone(),
                        cluster: c.clone(),
                    });
                }
            }
        }
        for e in &self.edges {
            for end in [&e.from, &e.to] {
                if !nodes.contains(end.as_str()) {
                    return Err(PictureError::UnknownNode {
                        from: e.from.clone(),
                        to: e.to.clone(),
                        missing: end.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The picture as a Mermaid flowchart (clusters as subgraphs, one
    /// `classDef` per node class).
    pub fn to_mermaid(&self) -> Result<String, PictureError> {
        self.validate()?;
        Ok(mermaid::render(self))
    }

    /// The picture as Graphviz DOT (clusters as `cluster_` subgraphs).
    pub fn to_dot(&self) -> Result<String, PictureError> {
        self.validate()?;
        Ok(dot::render(self))
    }

    /// The picture as a standalone SVG document, laid out with
    /// [`LayoutOptions::default`].
    pub fn to_svg(&self) -> Result<String, PictureError> {
        self.to_svg_with(&LayoutOptions::default())
    }

    /// The picture as SVG, laid out with `options`.
    pub fn to_svg_with(&self, options: &LayoutOptions) -> Result<String, PictureError> {
        self.validate()?;
        let layout = Layout::compute(self, options);
        Ok(svg::render(self, &layout))
    }
}

impl Cluster {
    /// A top-level cluster.
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Self {
        Cluster {
            id: id.into(),
            label: label.into(),
            parent: None,
        }
    }

    /// Places this cluster inside `parent`.
    pub fn inside(mut self, parent: impl Into<String>) -> Self {
        self.parent = Some(parent.into());
        self
    }
}

impl Node {
    /// A node of class `node` outside any cluster.
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Self {
        Node {
            id: id.into(),
            label: label.into(),
            class: "node".to_string(),
            shape: Shape::default(),
            cluster: None,
        }
    }

    /// Sets its class (its color and legend entry).
    pub fn class(mut self, class: impl Into<String>) -> Self {
        self.class = class.into();
        self
    }

    /// Sets its shape.
    pub fn shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// Places it in the cluster `cluster`.
    pub fn in_cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = Some(cluster.into());
        self
    }

    /// Its label's lines.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.label.split('\n')
    }
}

impl Edge {
    /// A solid, unlabelled edge.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Edge {
            from: from.into(),
            to: to.into(),
            label: String::new(),
            style: EdgeStyle::default(),
        }
    }

    /// Sets its label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Sets its style.
    pub fn style(mut self, style: EdgeStyle) -> Self {
        self.style = style;
        self
    }
}

impl fmt::Display for Picture {
    /// A one-line summary: title and counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} nodes, {} edges, {} clusters)",
            self.title,
            self.nodes.len(),
            self.edges.len(),
            self.clusters.len()
        )
    }
}

/// A fill and stroke color per class, by its position in
/// [`Picture::classes`]: the same picture always gets the same colors, and
/// up to twelve classes get distinct ones.
pub(crate) fn palette(index: usize) -> (&'static str, &'static str) {
    const COLORS: [(&str, &str); 12] = [
        ("#dbeafe", "#1d4ed8"),
        ("#dcfce7", "#15803d"),
        ("#fef3c7", "#b45309"),
        ("#fce7f3", "#be185d"),
        ("#ede9fe", "#6d28d9"),
        ("#cffafe", "#0e7490"),
        ("#fee2e2", "#b91c1c"),
        ("#ecfccb", "#4d7c0f"),
        ("#ffedd5", "#c2410c"),
        ("#e0e7ff", "#4338ca"),
        ("#f5f5f4", "#57534e"),
        ("#fae8ff", "#a21caf"),
    ];
    COLORS[index % COLORS.len()]
}

#[cfg(test)]
mod tests;
