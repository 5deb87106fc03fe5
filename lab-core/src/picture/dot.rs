//! Graphviz DOT: for users who have Graphviz and want its layouts.
//!
//! Node ids are the picture's own (quoted), so an edge reads as
//! `"proxmox.storage.nfs" -> "proxmox.vm.immich"`; clusters are
//! `cluster_N` subgraphs, which Graphviz draws as boxes.

use std::fmt::Write as _;

use super::{EdgeStyle, Picture, Shape};

/// Renders a validated picture.
pub(super) fn render(picture: &Picture) -> String {
    let mut s = String::from("digraph lab {\n  rankdir=LR;\n  compound=true;\n");
    if !picture.title.is_empty() {
        let _ = writeln!(s, "  label={};\n  labelloc=t;", quote(&picture.title));
    }
    for (style, meaning) in &picture.edge_legend {
        let _ = writeln!(s, "  // {style:?} edges: {}", meaning.replace('\n', " "));
    }
    s.push_str("  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\"];\n");
    s.push_str("  edge [fontname=\"monospace\", fontsize=10];\n");
    let classes = picture.classes();

    fn emit(
        picture: &Picture,
        classes: &[&str],
        parent: Option<&str>,
        depth: usize,
        s: &mut String,
    ) {
        let pad = "  ".repeat(depth);
        for (ci, c) in picture.clusters.iter().enumerate() {
            if c.parent.as_deref() != parent {
                continue;
            }
            let _ = writeln!(s, "{pad}subgraph cluster_{ci} {{");
            let _ = writeln!(
                s,
                "{pad}  label={};\n{pad}  style=rounded;\n{pad}  fontname=\"monospace\";",
                quote(&c.label)
            );
            emit(picture, classes, Some(&c.id), depth + 1, s);
            let _ = writeln!(s, "{pad}}}");
        }
        for n in &picture.nodes {
            if n.cluster.as_deref() != parent {
                continue;
            }
            let k = classes.iter().position(|c| *c == n.class).unwrap_or(0);
            let (fill, stroke) = picture.class_paints()[k];
            let shape = match n.shape {
                Shape::Rounded => "",
                Shape::Box => ", shape=box, style=filled",
                Shape::Cylinder => ", shape=cylinder, style=filled",
            };
            let _ = writeln!(
                s,
                "{pad}{} [label={}, fillcolor=\"{fill}\", color=\"{stroke}\"{shape}];",
                quote(&n.id),
                quote(&n.label)
            );
        }
    }
    emit(picture, &classes, None, 1, &mut s);

    for e in &picture.edges {
        let mut attrs = Vec::new();
        if !e.label.is_empty() {
            attrs.push(format!("label={}", quote(&e.label)));
        }
        match e.style {
            EdgeStyle::Solid => {}
            EdgeStyle::Dashed => attrs.push("style=dashed".into()),
            EdgeStyle::Thick => attrs.push("penwidth=2.5".into()),
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(s, "  {} -> {}{attrs};", quote(&e.from), quote(&e.to));
    }
    s.push_str("}\n");
    s
}

/// A DOT string literal: `"` and `\` escaped, newlines as DOT's `\n`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
