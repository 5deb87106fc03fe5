//! The layered layout the SVG rendering draws (top to bottom).
//!
//! 1. **Ranks** (`rank`): edges that close a cycle are turned round for
//!    ranking only (a depth-first search in declaration order finds them),
//!    each node's rank is its longest path from a source (so what a lab
//!    stands on, its nodes and appliances, sits at the top).
//! 2. **Order** (`order`): barycenter sweeps. Clusters keep one order
//!    from the top rank to the bottom one, so their boxes never cross:
//!    siblings are ordered by the mean barycenter of their members, a
//!    cluster's own nodes by their barycenter within each rank. The
//!    ordering with the fewest crossings over all sweeps is kept.
//! 3. **Coordinates** (here): every cluster gets its own column, as wide
//!    as its widest rank; a rank wider than [`LayoutOptions::max_row_width`]
//!    wraps into a grid of equal cells, whose aligned gaps carry the edges
//!    to and from its lower rows; when the columns side by side are wider
//!    than [`LayoutOptions::max_width`], ranks wrap sooner until they fit. Above each rank's nodes is room for the
//!    titles of the clusters starting there, below them the bottom padding
//!    of those ending there; between ranks a channel for the edges.
//! 4. **Edges** (`route`): orthogonal polylines (down, across in a lane
//!    of the channel above the target's rank, down), spread over the
//!    nodes' sides so parallel edges stay apart.
//!
//! Node boxes are sized by character count in a monospace font, so the
//! layout needs no font metrics and gives the same numbers everywhere. By
//! construction no two node boxes overlap, sibling clusters' boxes are
//! disjoint and every box lies inside its cluster's (the property tests
//! check all three).

use std::collections::BTreeMap;

use super::Picture;

mod order;
mod rank;
mod route;

/// Width of one character of a label (12 px monospace, 0.6 em).
pub const CHAR_WIDTH: f64 = 7.2;
/// Height of one line of a label.
pub const LINE_HEIGHT: f64 = 15.0;
const NODE_PAD_X: f64 = 10.0;
const NODE_PAD_Y: f64 = 7.0;
const NODE_MIN_WIDTH: f64 = 48.0;
const NODE_GAP: f64 = 16.0;
const ROW_GAP: f64 = 22.0;
/// Height of the edge channel between two ranks.
pub const CHANNEL: f64 = 40.0;
/// Room for one cluster title.
pub const TITLE_HEIGHT: f64 = 22.0;
const CLUSTER_PAD: f64 = 12.0;
const SIBLING_GAP: f64 = 24.0;
const MARGIN: f64 = 16.0;

/// How the layout is made.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutOptions {
    /// A rank of one cluster wider than this wraps onto several rows.
    pub max_row_width: f64,
    /// The drawing's width to stay within: when the clusters side by side
    /// are wider, every wide rank wraps sooner (down to one node per row).
    pub max_width: f64,
    /// Barycenter sweeps (each one down and one up).
    pub sweeps: usize,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            max_row_width: 1100.0,
            max_width: 1600.0,
            sweeps: 12,
        }
    }
}

/// An axis-aligned box.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// Horizontal center.
    pub fn center_x(&self) -> f64 {
        self.x + self.w / 2.0
    }

    /// True if the two boxes share any area (touching edges do not count).
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right()
            && other.x < self.right()
            && self.y < other.bottom()
            && other.y < self.bottom()
    }

    /// True if `other` lies within this box (edges may touch).
    pub fn contains(&self, other: &Rect) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.right() <= self.right()
            && other.bottom() <= self.bottom()
    }
}

/// Where everything of a picture goes, in pixels from the top left.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// The drawing's width.
    pub width: f64,
    /// The drawing's height.
    pub height: f64,
    /// Each node's box, by its index in [`Picture::nodes`].
    pub nodes: Vec<Rect>,
    /// Each node's rank (0 at the top).
    pub ranks: Vec<usize>,
    /// Each cluster's box, by its index in [`Picture::clusters`]; `None`
    /// for a cluster with no nodes (it is not drawn).
    pub clusters: Vec<Option<Rect>>,
    /// Each edge's polyline, by its index in [`Picture::edges`]: from the
    /// source's side to the target's, the arrowhead at the last point.
    pub edges: Vec<Vec<(f64, f64)>>,
}

/// The cluster tree: group 0 is the picture itself, group `i + 1` the
/// cluster `i`.
pub(super) struct Groups {
    /// Sub-groups with nodes, in picture order.
    pub children: Vec<Vec<usize>>,
    /// The nodes placed directly in each group.
    pub nodes: Vec<Vec<usize>>,
    /// Nesting depth: 0 for the picture, 1 for a top-level cluster.
    pub depth: Vec<usize>,
    /// Every node in the group and its sub-groups.
    pub members: Vec<Vec<usize>>,
}

impl Groups {
    fn build(picture: &Picture) -> Groups {
        let count = picture.clusters.len() + 1;
        let index = |id: &str| {
            1 + picture
                .clusters
                .iter()
                .position(|c| c.id == id)
                .expect("validated")
        };
        let parent: Vec<usize> = std::iter::once(0)
            .chain(
                picture
                    .clusters
                    .iter()
                    .map(|c| c.parent.as_deref().map_or(0, index)),
            )
            .collect();
        let mut nodes = vec![Vec::new(); count];
        for (i, n) in picture.nodes.iter().enumerate() {
            nodes[n.cluster.as_deref().map_or(0, index)].push(i);
        }
        let depth: Vec<usize> = (0..count)
            .map(|g| {
                let (mut d, mut at) = (0, g);
                while at != 0 {
                    d += 1;
                    at = parent[at];
                }
                d
            })
            .collect();
        let mut members = nodes.clone();
        // Deepest first, so a child's members are complete before its parent's.
        let mut by_depth: Vec<usize> = (1..count).collect();
        by_depth.sort_by_key(|&g| std::cmp::Reverse(depth[g]));
        for &g in &by_depth {
            let m = members[g].clone();
            members[parent[g]].extend(m);
        }
        let mut children = vec![Vec::new(); count];
        for g in 1..count {
            if !members[g].is_empty() {
                children[parent[g]].push(g);
            }
        }
        Groups {
            children,
            nodes,
            depth,
            members,
        }
    }
}

/// One entry in a group's left-to-right order: a sub-cluster, or the
/// group's own nodes (its band).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Item {
    Group(usize),
    Band(usize),
}

/// The left-to-right order of everything: per group its items, per group
/// and rank its own nodes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Order {
    pub items: Vec<Vec<Item>>,
    pub bands: Vec<BTreeMap<usize, Vec<usize>>>,
}

/// The node sizes and ranks the coordinates start from.
pub(super) struct Frame<'a> {
    pub picture: &'a Picture,
    pub options: &'a LayoutOptions,
    pub groups: Groups,
    pub ranks: Vec<usize>,
    pub sizes: Vec<(f64, f64)>,
    /// The width a band's rank wraps at.
    pub wrap: f64,
}

/// Node boxes and cluster boxes, and the rank geometry edges route through.
pub(super) struct Placed {
    pub nodes: Vec<Rect>,
    pub groups: Vec<Option<Rect>>,
    pub width: f64,
    pub height: f64,
    /// The top of each rank's cluster titles; its edge channel lies above it.
    pub header_top: Vec<f64>,
    /// For a node in a lower row of a wrapped rank: the gap between
    /// columns left of it and the gap between rows above it, which edges
    /// to it run through.
    pub arrive: Vec<Option<(f64, f64)>>,
    /// For a node above the last row of a wrapped rank: the gap between
    /// columns right of it and the gap between rows below it, which edges
    /// from it run through.
    pub depart: Vec<Option<(f64, f64)>>,
}

/// A band's rank laid out: its rows, the cell width when it wraps, its width.
struct Grid {
    rows: Vec<Vec<usize>>,
    cell: Option<f64>,
    width: f64,
}

impl Layout {
    /// Lays out a picture that [`Picture::validate`] accepted.
    pub fn compute(picture: &Picture, options: &LayoutOptions) -> Layout {
        let groups = Groups::build(picture);
        let dag = rank::acyclic_edges(picture);
        let ranks = rank::ranks(picture.nodes.len(), &dag);
        let sizes = picture.nodes.iter().map(node_size).collect();
        let mut frame = Frame {
            picture,
            options,
            groups,
            ranks,
            sizes,
            wrap: options.max_row_width,
        };
        frame.wrap = frame.fitting_wrap();
        let order = order::best_order(&frame, &dag);
        let placed = frame.place(&order);
        let edges = route::route(&frame, &placed);
        Layout {
            width: placed.width,
            height: placed.height,
            nodes: placed.nodes,
            ranks: frame.ranks,
            clusters: placed.groups[1..].to_vec(),
            edges,
        }
    }
}

/// A node's box size from its label: characters and lines.
pub fn node_size(node: &super::Node) -> (f64, f64) {
    let chars = node.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let lines = node.lines().count().max(1);
    (
        (chars as f64 * CHAR_WIDTH + 2.0 * NODE_PAD_X).max(NODE_MIN_WIDTH),
        lines as f64 * LINE_HEIGHT + 2.0 * NODE_PAD_Y,
    )
}

impl Frame<'_> {
    /// The widest wrap (at most `max_row_width`) that keeps the drawing
    /// within `max_width`. Widths do not depend on the order within a
    /// group, so the declaration order measures them; a drawing's width
    /// only grows with the wrap, so halving the interval finds it.
    fn fitting_wrap(&mut self) -> f64 {
        let order = order::initial(self);
        let fits =
            |frame: &Frame| frame.widths(&order).0[0] + 2.0 * MARGIN <= frame.options.max_width;
        if fits(self) {
            return self.wrap;
        }
        let widest = self.sizes.iter().map(|s| s.0).fold(0.0, f64::max);
        let (mut lo, mut hi) = (widest, self.options.max_row_width.max(widest));
        for _ in 0..24 {
            self.wrap = (lo + hi) / 2.0;
            if fits(self) {
                lo = self.wrap;
            } else {
                hi = self.wrap;
            }
        }
        lo
    }

    fn rank_count(&self) -> usize {
        self.ranks.iter().max().map_or(0, |m| m + 1)
    }

    /// A band's rank as one row, or, when wider than the options allow, as
    /// a grid of equal cells (so the gaps between columns line up and
    /// edges can reach the lower rows through them).
    fn grid(&self, nodes: &[usize]) -> Grid {
        let natural: f64 = nodes.iter().map(|&n| self.sizes[n].0).sum::<f64>()
            + NODE_GAP * nodes.len().saturating_sub(1) as f64;
        if natural <= self.wrap || nodes.len() < 2 {
            return Grid {
                rows: vec![nodes.to_vec()],
                cell: None,
                width: natural,
            };
        }
        let cell = nodes.iter().map(|&n| self.sizes[n].0).fold(0.0, f64::max);
        let cols =
            (((self.wrap + NODE_GAP) / (cell + NODE_GAP)).floor() as usize).clamp(1, nodes.len());
        Grid {
            rows: nodes.chunks(cols).map(<[usize]>::to_vec).collect(),
            cell: Some(cell),
            width: cols as f64 * cell + (cols - 1) as f64 * NODE_GAP,
        }
    }

    /// The first and last rank holding a member of group `g`.
    fn span(&self, g: usize) -> (usize, usize) {
        let ranks = self.groups.members[g].iter().map(|&n| self.ranks[n]);
        (ranks.clone().min().unwrap_or(0), ranks.max().unwrap_or(0))
    }

    fn title_width(&self, g: usize) -> f64 {
        if g == 0 {
            return 0.0;
        }
        self.picture.clusters[g - 1].label.chars().count() as f64 * CHAR_WIDTH + 2.0 * CLUSTER_PAD
    }

    /// Every item's width, by group and band.
    fn widths(&self, order: &Order) -> (Vec<f64>, Vec<f64>) {
        let count = self.groups.depth.len();
        let band: Vec<f64> = (0..count)
            .map(|g| {
                order.bands[g]
                    .values()
                    .map(|nodes| self.grid(nodes).width)
                    .fold(0.0, f64::max)
            })
            .collect();
        let mut group = vec![0.0; count];
        let mut by_depth: Vec<usize> = (0..count).collect();
        by_depth.sort_by_key(|&g| std::cmp::Reverse(self.groups.depth[g]));
        for g in by_depth {
            let content = self.content_width(g, order, &band, &group);
            group[g] = if g == 0 {
                content
            } else {
                content.max(self.title_width(g)) + 2.0 * CLUSTER_PAD
            };
        }
        (group, band)
    }

    fn content_width(&self, g: usize, order: &Order, band: &[f64], group: &[f64]) -> f64 {
        let items = &order.items[g];
        let sum: f64 = items
            .iter()
            .map(|item| match *item {
                Item::Group(c) => group[c],
                Item::Band(b) => band[b],
            })
            .sum();
        sum + SIBLING_GAP * items.len().saturating_sub(1) as f64
    }

    /// Coordinates for an order.
    pub(super) fn place(&self, order: &Order) -> Placed {
        let ranks = self.rank_count();
        let count = self.groups.depth.len();
        let (group_w, band_w) = self.widths(order);

        // Rows per rank, row height per rank, titles and paddings per rank.
        let mut rows = vec![0usize; ranks];
        for bands in &order.bands {
            for (&r, nodes) in bands {
                rows[r] = rows[r].max(self.grid(nodes).rows.len());
            }
        }
        let mut row_h = vec![0.0f64; ranks];
        for (n, &r) in self.ranks.iter().enumerate() {
            row_h[r] = row_h[r].max(self.sizes[n].1);
        }
        let mut header = vec![0usize; ranks];
        let mut footer = vec![0usize; ranks];
        for g in 1..count {
            if self.groups.members[g].is_empty() {
                continue;
            }
            let (first, last) = self.span(g);
            header[first] = header[first].max(self.groups.depth[g]);
            footer[last] = footer[last].max(self.groups.depth[g]);
        }
        let mut header_top = vec![0.0; ranks];
        let mut body_top = vec![0.0; ranks];
        let mut body_bottom = vec![0.0; ranks];
        let mut y = MARGIN;
        for r in 0..ranks {
            if r > 0 {
                y += CHANNEL;
            }
            header_top[r] = y;
            y += header[r] as f64 * TITLE_HEIGHT;
            body_top[r] = y;
            if rows[r] > 0 {
                y += rows[r] as f64 * row_h[r] + (rows[r] - 1) as f64 * ROW_GAP;
            }
            body_bottom[r] = y;
            y += footer[r] as f64 * CLUSTER_PAD;
        }

        let mut placed = Placed {
            nodes: vec![Rect::default(); self.picture.nodes.len()],
            groups: vec![None; count],
            width: group_w[0] + 2.0 * MARGIN,
            height: y + MARGIN,
            header_top: header_top.clone(),
            arrive: vec![None; self.picture.nodes.len()],
            depart: vec![None; self.picture.nodes.len()],
        };
        // Columns, left to right, depth first.
        let mut stack = vec![(0usize, MARGIN)];
        while let Some((g, x0)) = stack.pop() {
            let mut x = x0;
            if g > 0 {
                let (first, last) = self.span(g);
                let d = self.groups.depth[g];
                let top = header_top[first] + (d - 1) as f64 * TITLE_HEIGHT;
                let bottom = body_bottom[last] + (footer[last] + 1 - d) as f64 * CLUSTER_PAD;
                placed.groups[g] = Some(Rect {
                    x: x0,
                    y: top,
                    w: group_w[g],
                    h: bottom - top,
                });
                let content = self.content_width(g, order, &band_w, &group_w);
                x += CLUSTER_PAD + (group_w[g] - 2.0 * CLUSTER_PAD - content) / 2.0;
            }
            for item in &order.items[g] {
                match *item {
                    Item::Group(c) => {
                        stack.push((c, x));
                        x += group_w[c] + SIBLING_GAP;
                    }
                    Item::Band(b) => {
                        for (&r, nodes) in &order.bands[b] {
                            let grid = self.grid(nodes);
                            let left = x + (band_w[b] - grid.width) / 2.0;
                            let last = grid.rows.len() - 1;
                            for (i, row) in grid.rows.iter().enumerate() {
                                let row_top = body_top[r] + i as f64 * (row_h[r] + ROW_GAP);
                                let mut nx = left;
                                for (j, &n) in row.iter().enumerate() {
                                    let (w, h) = self.sizes[n];
                                    let (cell_x, cell_w) = match grid.cell {
                                        Some(c) => (left + j as f64 * (c + NODE_GAP), c),
                                        None => (nx, w),
                                    };
                                    nx += w + NODE_GAP;
                                    placed.nodes[n] = Rect {
                                        x: cell_x + (cell_w - w) / 2.0,
                                        y: row_top + (row_h[r] - h) / 2.0,
                                        w,
                                        h,
                                    };
                                    if i > 0 {
                                        placed.arrive[n] = Some((
                                            cell_x - NODE_GAP / 2.0,
                                            row_top - ROW_GAP / 2.0,
                                        ));
                                    }
                                    if i < last {
                                        placed.depart[n] = Some((
                                            cell_x + cell_w + NODE_GAP / 2.0,
                                            row_top + row_h[r] + ROW_GAP / 2.0,
                                        ));
                                    }
                                }
                            }
                        }
                        x += band_w[b] + SIBLING_GAP;
                    }
                }
            }
        }
        placed
    }
}
