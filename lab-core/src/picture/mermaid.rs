//! Mermaid: the rendering Git forges show inline in Markdown.
//!
//! Ids are positional (`n0`, `c0`, `k0`) because a picture's ids are
//! addresses with dots, which Mermaid reads as syntax; labels are quoted,
//! with `"`, `#`, `<` and `>` written as Mermaid's entity codes, so any
//! text is safe.

use std::fmt::Write as _;

use super::{EdgeStyle, Picture, Shape};

/// Renders a validated picture.
pub(super) fn render(picture: &Picture) -> String {
    let mut s = String::from("flowchart LR\n");
    if !picture.title.is_empty() {
        let _ = writeln!(s, "  %% {}", picture.title.replace('\n', " "));
    }
    for (style, meaning) in &picture.edge_legend {
        let _ = writeln!(s, "  %% {}: {}", arrow(*style), meaning.replace('\n', " "));
    }
    let node_index = |id: &str| picture.nodes.iter().position(|n| n.id == id);

    // Clusters as nested subgraphs, each followed by its own nodes.
    fn emit(picture: &Picture, parent: Option<&str>, depth: usize, s: &mut String) {
        let pad = "  ".repeat(depth);
        for (ci, c) in picture.clusters.iter().enumerate() {
            if c.parent.as_deref() != parent {
                continue;
            }
            let _ = writeln!(s, "{pad}subgraph c{ci}[\"{}\"]", quote(&c.label));
            emit(picture, Some(&c.id), depth + 1, s);
            let _ = writeln!(s, "{pad}end");
        }
        for (ni, n) in picture.nodes.iter().enumerate() {
            if n.cluster.as_deref() != parent {
                continue;
            }
            let text = n.lines().map(quote).collect::<Vec<_>>().join("<br/>");
            let (open, close) = match n.shape {
                Shape::Rounded => ("(", ")"),
                Shape::Box => ("[", "]"),
                Shape::Cylinder => ("[(", ")]"),
            };
            let _ = writeln!(s, "{pad}n{ni}{open}\"{text}\"{close}");
        }
    }
    emit(picture, None, 1, &mut s);

    for e in &picture.edges {
        let (from, to) = (
            node_index(&e.from).expect("validated"),
            node_index(&e.to).expect("validated"),
        );
        let arrow = arrow(e.style);
        if e.label.is_empty() {
            let _ = writeln!(s, "  n{from} {arrow} n{to}");
        } else {
            let _ = writeln!(s, "  n{from} {arrow}|\"{}\"| n{to}", quote(&e.label));
        }
    }

    let paints = picture.class_paints();
    for (k, class) in picture.classes().into_iter().enumerate() {
        let (fill, stroke) = paints[k];
        let _ = writeln!(s, "  classDef k{k} fill:{fill},stroke:{stroke}");
        let members: Vec<String> = picture
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.class == class)
            .map(|(i, _)| format!("n{i}"))
            .collect();
        let _ = writeln!(s, "  class {} k{k}", members.join(","));
    }
    s
}

/// Mermaid's arrow for a style.
fn arrow(style: EdgeStyle) -> &'static str {
    match style {
        EdgeStyle::Solid => "-->",
        EdgeStyle::Dashed => "-.->",
        EdgeStyle::Thick => "==>",
    }
}

/// Text safe inside Mermaid's `"..."`: `#` (which starts Mermaid's entity
/// codes), `"`, `<` and `>` (which Mermaid would read as HTML) as decimal
/// entity codes.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
