//! The SVG rendering: a standalone document drawn from a [`Layout`].
//!
//! Drawn in Rust so that `graph --format svg` needs neither Graphviz nor a
//! browser, and written with a small hand-made writer ([`writer`]) because
//! an SVG needs only elements, attributes and escaping. Order of drawing:
//! the title and a legend (node classes, then what each edge style means), cluster boxes (outer first),
//! edges, nodes over them (an edge passing a node hides behind it), then
//! edge labels where they fit: just before their arrowheads, else just after
//! their start. An edge label that would cover a node, a cluster title or
//! another label at both is left out of the drawing but kept in the edge's
//! tooltip (`<title>`), as is every node's id.

use super::layout::{Layout, Rect, CHAR_WIDTH, LINE_HEIGHT};
use super::{EdgeStyle, Picture, Shape};

mod writer;

use writer::{num, Xml};

const FONT: &str = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace";
const TITLE_SIZE: f64 = 28.0;
const LEGEND_ROW: f64 = 20.0;
const LEGEND_PAD: f64 = 16.0;
const LABEL_CHAR: f64 = 6.0;
const EDGE_COLOR: &str = "#64748b";

/// Renders a validated picture laid out as `layout`.
pub(super) fn render(picture: &Picture, layout: &Layout) -> String {
    let classes = picture.classes();
    let legend = legend_rows(
        picture,
        &classes,
        layout.width.max(480.0) - 2.0 * LEGEND_PAD,
    );
    let header = TITLE_SIZE + legend.len() as f64 * LEGEND_ROW + 8.0;
    let width = layout.width.max(480.0);
    let height = header + layout.height;

    let mut x = Xml::new();
    x.open(
        "svg",
        &[
            ("xmlns", "http://www.w3.org/2000/svg".into()),
            ("role", "img".into()),
            ("width", num(width)),
            ("height", num(height)),
            ("viewBox", format!("0 0 {} {}", num(width), num(height))),
            ("font-family", FONT.into()),
            ("font-size", "12".into()),
        ],
    );
    x.text("title", &[], &picture.title);
    x.open("defs", &[]);
    x.open(
        "marker",
        &[
            ("id", "arrow".into()),
            ("viewBox", "0 0 10 10".into()),
            ("refX", "10".into()),
            ("refY", "5".into()),
            ("markerUnits", "userSpaceOnUse".into()),
            ("markerWidth", "9".into()),
            ("markerHeight", "9".into()),
            ("orient", "auto".into()),
        ],
    );
    x.empty(
        "path",
        &[
            ("d", "M0,0 L10,5 L0,10 z".into()),
            ("fill", EDGE_COLOR.into()),
        ],
    );
    x.close();
    x.close();
    x.empty(
        "rect",
        &[
            ("width", "100%".into()),
            ("height", "100%".into()),
            ("fill", "#ffffff".into()),
        ],
    );
    x.text(
        "text",
        &[
            ("x", num(LEGEND_PAD)),
            ("y", "20".into()),
            ("font-size", "15".into()),
            ("font-weight", "bold".into()),
            ("fill", "#0f172a".into()),
        ],
        &picture.title,
    );
    draw_legend(&mut x, &legend, &picture.class_paints());

    x.open(
        "g",
        &[("transform", format!("translate(0,{})", num(header)))],
    );
    draw_clusters(&mut x, picture, layout);
    draw_edges(&mut x, picture, layout);
    draw_nodes(&mut x, picture, layout, &classes);
    draw_edge_labels(&mut x, picture, layout);
    x.close();
    x.finish()
}

/// One entry of the legend: a node class with its swatch, or an edge
/// style with a sample line.
#[derive(Clone, Copy)]
enum Entry<'a> {
    Class(usize, &'a str),
    Style(EdgeStyle, &'a str),
}

impl Entry<'_> {
    fn width(&self) -> f64 {
        match self {
            Entry::Class(_, text) => 18.0 + text.chars().count() as f64 * CHAR_WIDTH + 18.0,
            Entry::Style(_, text) => 34.0 + text.chars().count() as f64 * CHAR_WIDTH + 18.0,
        }
    }
}

/// The legend's entries (classes, then edge styles), wrapped into rows of
/// `(x, entry)`.
fn legend_rows<'a>(
    picture: &'a Picture,
    classes: &[&'a str],
    width: f64,
) -> Vec<Vec<(f64, Entry<'a>)>> {
    let entries = classes
        .iter()
        .enumerate()
        .map(|(k, class)| Entry::Class(k, class))
        .chain(
            picture
                .edge_legend
                .iter()
                .map(|(style, text)| Entry::Style(*style, text.as_str())),
        );
    let mut rows: Vec<Vec<(f64, Entry)>> = Vec::new();
    let mut at = 0.0;
    for entry in entries {
        let w = entry.width();
        if rows.is_empty() || (at + w > width && at > 0.0) {
            rows.push(Vec::new());
            at = 0.0;
        }
        rows.last_mut().expect("pushed").push((at, entry));
        at += w;
    }
    rows
}

fn draw_legend(x: &mut Xml, rows: &[Vec<(f64, Entry)>], paints: &[(&str, &str)]) {
    x.open("g", &[("class", "legend".into())]);
    for (i, row) in rows.iter().enumerate() {
        let y = TITLE_SIZE + i as f64 * LEGEND_ROW;
        for &(at, entry) in row {
            let left = LEGEND_PAD + at;
            let (text_x, text) = match entry {
                Entry::Class(k, class) => {
                    let (fill, stroke) = paints[k];
                    x.empty(
                        "rect",
                        &[
                            ("x", num(left)),
                            ("y", num(y)),
                            ("width", "12".into()),
                            ("height", "12".into()),
                            ("rx", "3".into()),
                            ("fill", fill.into()),
                            ("stroke", stroke.into()),
                        ],
                    );
                    (left + 18.0, class)
                }
                Entry::Style(style, text) => {
                    let mut attrs = vec![
                        ("d", format!("M{},{} h28", num(left), num(y + 6.0))),
                        ("stroke", EDGE_COLOR.to_string()),
                        ("marker-end", "url(#arrow)".to_string()),
                    ];
                    attrs.extend(style_attrs(style));
                    // One stroke-width: the style's (thick), else the edges'.
                    if !attrs.iter().any(|(k, _)| *k == "stroke-width") {
                        attrs.push(("stroke-width", "1.2".to_string()));
                    }
                    x.empty("path", &attrs);
                    (left + 34.0, text)
                }
            };
            x.text(
                "text",
                &[
                    ("x", num(text_x)),
                    ("y", num(y + 10.5)),
                    ("fill", "#334155".into()),
                ],
                text,
            );
        }
    }
    x.close();
}

/// The attributes that draw an edge style (over the edges' group's).
fn style_attrs(style: EdgeStyle) -> Vec<(&'static str, String)> {
    match style {
        EdgeStyle::Solid => Vec::new(),
        EdgeStyle::Dashed => vec![("stroke-dasharray", "5 4".into())],
        EdgeStyle::Thick => vec![("stroke-width", "2.6".into())],
    }
}

fn draw_clusters(x: &mut Xml, picture: &Picture, layout: &Layout) {
    let depth = |mut i: usize| {
        let mut d = 0;
        while let Some(p) = &picture.clusters[i].parent {
            d += 1;
            i = picture
                .clusters
                .iter()
                .position(|c| &c.id == p)
                .expect("validated");
        }
        d
    };
    let mut order: Vec<(usize, usize)> =
        (0..picture.clusters.len()).map(|i| (depth(i), i)).collect();
    order.sort();
    x.open("g", &[("class", "clusters".into())]);
    for (d, i) in order {
        let Some(r) = layout.clusters[i] else {
            continue;
        };
        let fill = if d % 2 == 0 { "#f8fafc" } else { "#eef2f7" };
        x.open("g", &[]);
        x.text("title", &[], &picture.clusters[i].id);
        x.empty(
            "rect",
            &[
                ("x", num(r.x)),
                ("y", num(r.y)),
                ("width", num(r.w)),
                ("height", num(r.h)),
                ("rx", "8".into()),
                ("fill", fill.into()),
                ("stroke", "#94a3b8".into()),
            ],
        );
        x.text(
            "text",
            &[
                ("x", num(r.x + 10.0)),
                ("y", num(r.y + 15.0)),
                ("font-weight", "bold".into()),
                ("fill", "#334155".into()),
            ],
            &picture.clusters[i].label,
        );
        x.close();
    }
    x.close();
}

fn draw_edges(x: &mut Xml, picture: &Picture, layout: &Layout) {
    x.open(
        "g",
        &[
            ("class", "edges".into()),
            ("fill", "none".into()),
            ("stroke", EDGE_COLOR.into()),
            ("stroke-width", "1.2".into()),
            ("stroke-opacity", "0.85".into()),
        ],
    );
    for (e, points) in picture.edges.iter().zip(&layout.edges) {
        let d = points
            .iter()
            .enumerate()
            .map(|(i, &(px, py))| {
                format!("{}{},{}", if i == 0 { "M" } else { "L" }, num(px), num(py))
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut attrs = vec![("d", d), ("marker-end", "url(#arrow)".to_string())];
        attrs.extend(style_attrs(e.style));
        x.open("path", &attrs);
        let tip = if e.label.is_empty() {
            format!("{} → {}", e.from, e.to)
        } else {
            format!("{} → {}: {}", e.from, e.to, e.label)
        };
        x.text("title", &[], &tip);
        x.close();
    }
    x.close();
}

fn draw_nodes(x: &mut Xml, picture: &Picture, layout: &Layout, classes: &[&str]) {
    let paints = picture.class_paints();
    x.open("g", &[("class", "nodes".into())]);
    for (n, r) in picture.nodes.iter().zip(&layout.nodes) {
        let k = classes.iter().position(|c| *c == n.class).unwrap_or(0);
        let (fill, stroke) = paints[k];
        x.open("g", &[]);
        x.text("title", &[], &n.id);
        let paint = [("fill", fill.to_string()), ("stroke", stroke.to_string())];
        match n.shape {
            Shape::Rounded | Shape::Box => {
                let mut attrs = vec![
                    ("x", num(r.x)),
                    ("y", num(r.y)),
                    ("width", num(r.w)),
                    ("height", num(r.h)),
                ];
                if n.shape == Shape::Rounded {
                    attrs.push(("rx", "6".into()));
                }
                attrs.extend(paint.iter().cloned());
                x.empty("rect", &attrs);
            }
            Shape::Cylinder => {
                let (e, half) = (4.0, r.w / 2.0);
                let body = format!(
                    "M{},{} A{},{} 0 0 1 {},{} V{} A{},{} 0 0 1 {},{} Z",
                    num(r.x),
                    num(r.y + e),
                    num(half),
                    num(e),
                    num(r.right()),
                    num(r.y + e),
                    num(r.bottom() - e),
                    num(half),
                    num(e),
                    num(r.x),
                    num(r.bottom() - e),
                );
                let mut attrs = vec![("d", body)];
                attrs.extend(paint.iter().cloned());
                x.empty("path", &attrs);
                let lid = format!(
                    "M{},{} A{},{} 0 0 0 {},{}",
                    num(r.x),
                    num(r.y + e),
                    num(half),
                    num(e),
                    num(r.right()),
                    num(r.y + e)
                );
                x.empty(
                    "path",
                    &[
                        ("d", lid),
                        ("fill", "none".into()),
                        ("stroke", stroke.into()),
                    ],
                );
            }
        }
        let top = r.y + (r.h - n.lines().count() as f64 * LINE_HEIGHT) / 2.0;
        for (i, line) in n.lines().enumerate() {
            let color = if i == 0 { "#0f172a" } else { "#475569" };
            x.text(
                "text",
                &[
                    ("x", num(r.center_x())),
                    ("y", num(top + (i as f64 + 1.0) * LINE_HEIGHT - 4.0)),
                    ("text-anchor", "middle".into()),
                    ("fill", color.into()),
                ],
                line,
            );
        }
        x.close();
    }
    x.close();
}

/// Each label beside the last stretch of its edge, just before the
/// arrowhead, else beside its first stretch (right of the line, then
/// left), where it covers no node, no cluster title and no label placed
/// before it (else it is only in the edge's tooltip).
fn draw_edge_labels(x: &mut Xml, picture: &Picture, layout: &Layout) {
    let mut taken: Vec<Rect> = picture
        .clusters
        .iter()
        .zip(&layout.clusters)
        .filter_map(|(c, r)| {
            r.map(|r| Rect {
                x: r.x,
                y: r.y,
                w: 20.0 + c.label.chars().count() as f64 * CHAR_WIDTH,
                h: 20.0,
            })
        })
        .collect();
    x.open(
        "g",
        &[
            ("class", "edge-labels".into()),
            ("font-size", "10".into()),
            ("fill", "#334155".into()),
        ],
    );
    for (e, points) in picture.edges.iter().zip(&layout.edges) {
        if e.label.is_empty() || points.len() < 2 {
            continue;
        }
        let w = e.label.chars().count() as f64 * LABEL_CHAR + 2.0;
        let h = 12.0;
        // Beside the arrowhead, on the side the edge comes from, else
        // beside its start, on the side it goes to (a cluster's title
        // often sits where the edge enters); right of the line, then left.
        let (ex, ey) = points[points.len() - 1];
        let (_, py) = points[points.len() - 2];
        let (sx, sy) = points[0];
        let (_, ny) = points[1];
        let at_end = if py < ey { ey - 2.0 - h } else { ey + 2.0 };
        let at_start = if ny > sy { sy + 2.0 } else { sy - 2.0 - h };
        let spots = [
            (ex + 3.0, at_end),
            (sx + 3.0, at_start),
            (ex - 3.0 - w, at_end),
            (sx - 3.0 - w, at_start),
        ];
        let free = |spot: &Rect| {
            !layout.nodes.iter().any(|n| n.overlaps(spot))
                && !taken.iter().any(|t| t.overlaps(spot))
        };
        let found = spots
            .iter()
            .map(|&(x, y)| Rect { x, y, w, h })
            .find(|spot| spot.x >= 0.0 && free(spot));
        if let Some(spot) = found {
            taken.push(spot);
            x.text(
                "text",
                &[
                    ("x", num(spot.x + 1.0)),
                    ("y", num(spot.y + 9.5)),
                    ("stroke", "#ffffff".into()),
                    ("stroke-width", "3".into()),
                    ("paint-order", "stroke".into()),
                ],
                &e.label,
            );
        }
    }
    x.close();
}
