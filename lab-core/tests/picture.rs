//! Pictures of a lab (`lab_core::picture`): every renderer shows every node,
//! edge and cluster; the SVG is well-formed XML; the layered layout never
//! overlaps two node boxes and keeps clusters nested and apart (property
//! tests over random labs of 50 guests); the same lab gives the same bytes;
//! the CLI's `graph --view --format svg --out`; a crate's views carried by
//! its specs.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use lab_core::graph::LabGraph;
use lab_core::picture::{
    Cluster, Edge, EdgeStyle, Layout, LayoutOptions, Node, Picture, PictureSet, PictureView, Rect,
    Shape,
};
use lab_core::prelude::*;
use lab_core::testing::Thing;
use proptest::prelude::*;

/// A homelab-shaped lab of `guests` guests: three nodes, two NAS, their
/// storages, templates, guests spread over the nodes, backup jobs, a PBS.
fn homelab(guests: usize) -> Lab {
    let mut lab = Lab::new("home");
    let nas_a = lab.add(Appliance::new("nas-a"));
    let nas_b = lab.add(Appliance::new("nas-b"));
    let nodes: Vec<_> = (1..=3)
        .map(|i| lab.add(Thing::of_kind("proxmox.node", format!("pve{i}"))))
        .collect();
    let hot = lab.add(Thing::of_kind("proxmox.storage", "hot").depends_on(&nas_a));
    let cold = lab.add(Thing::of_kind("proxmox.storage", "archive").depends_on(&nas_b));
    let debian = lab.add(
        Thing::of_kind("proxmox.file", "debian-13").input("storage", hot.output::<String>("id")),
    );
    let pbs = lab.add(Thing::of_kind("pbs.server", "pbs").depends_on(&nodes[0]));
    let store = lab
        .add(Thing::of_kind("pbs.datastore", "daily").input("server", pbs.output::<String>("id")));
    lab.add(
        Thing::of_kind("pbs.datastore", "archive")
            .input("server", pbs.output::<String>("id"))
            .depends_on(&cold),
    );
    let mut handles = Vec::new();
    for g in 0..guests {
        let kind = if g % 5 == 4 {
            "proxmox.vm"
        } else {
            "proxmox.ct"
        };
        let node = &nodes[g % 3];
        let h = lab.add(
            Thing::of_kind(kind, format!("svc{g:02}"))
                .input("node", node.output::<String>("id"))
                .input("storage", hot.output::<String>("id"))
                .input("template", debian.output::<String>("id")),
        );
        handles.push(h);
    }
    for (j, chunk) in handles.chunks(10).enumerate() {
        let mut job = Thing::of_kind("proxmox.backup_job", format!("nightly{j}"))
            .input("storage", store.output::<String>("id"));
        for h in chunk {
            job = job.depends_on(h);
        }
        lab.add(job);
    }
    lab.add(Thing::of_kind("net.zone", "dmz"));
    lab
}

/// A tiny XML checker: tags balance, attributes are quoted, entities are
/// the five XML ones, no raw `<` or `&` in text. Returns the element names
/// in document order.
fn parse_xml(text: &str) -> Result<Vec<String>, String> {
    let bytes = text.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut i = 0;
    let check_text = |t: &str| -> Result<(), String> {
        let mut rest = t;
        while let Some(at) = rest.find('&') {
            let end = rest[at..].find(';').ok_or("unterminated entity")?;
            let entity = &rest[at..at + end + 1];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity) {
                return Err(format!("unknown entity {entity}"));
            }
            rest = &rest[at + end + 1..];
        }
        if t.contains('>') && !t.trim().is_empty() {
            return Err(format!("raw `>` in text {t:?}"));
        }
        Ok(())
    };
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let end = text[i..].find('<').map_or(text.len(), |e| i + e);
            check_text(&text[i..end])?;
            i = end;
            continue;
        }
        let end = i + text[i..].find('>').ok_or("unterminated tag")?;
        let tag = &text[i + 1..end];
        // Attribute values are quoted; no `<` may appear inside the tag.
        if tag.contains('<') {
            return Err(format!("`<` inside tag {tag}"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("stray </{name}>"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body
                .split_whitespace()
                .next()
                .ok_or("empty tag")?
                .to_string();
            let attrs = &body[name.len()..];
            if !attrs.matches('"').count().is_multiple_of(2) {
                return Err(format!("unbalanced quotes in <{name}>"));
            }
            let mut in_quotes = false;
            let mut value = String::new();
            for ch in attrs.chars() {
                match (ch, in_quotes) {
                    ('"', false) => in_quotes = true,
                    ('"', true) => {
                        check_text(&value.replace('>', "&gt;"))?;
                        value.clear();
                        in_quotes = false;
                    }
                    (c, true) => value.push(c),
                    _ => {}
                }
            }
            names.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        i = end + 1;
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> never closed"));
    }
    Ok(names)
}

#[test]
fn the_xml_checker_refuses_what_is_not_well_formed() {
    assert!(parse_xml("<a><b/></a>").is_ok());
    assert!(parse_xml("<a><b></a>").is_err());
    assert!(parse_xml("<a>x < y</a>").is_err());
    assert!(parse_xml("<a>&nbsp;</a>").is_err());
    assert!(parse_xml("<a x=\"1></a>").is_err());
    assert!(parse_xml("<a>").is_err());
}

#[test]
fn the_dependency_picture_has_every_resource_and_edge_grouped_by_provider() {
    let lab = homelab(50);
    let picture = LabGraph::picture(&lab);
    assert_eq!(picture.nodes.len(), lab.resources().count());
    let ids: BTreeSet<&str> = picture.nodes.iter().map(|n| n.id.as_str()).collect();
    for spec in lab.resources() {
        assert!(ids.contains(spec.address.as_str()), "{}", spec.address);
    }
    // One edge per (dependency, dependent); fields joined.
    let pairs: BTreeSet<(String, String)> = lab
        .resources()
        .flat_map(|s| {
            s.deps
                .iter()
                .map(move |d| (d.on.to_string(), s.address.to_string()))
        })
        .collect();
    assert_eq!(picture.edges.len(), pairs.len());
    let clusters: Vec<&str> = picture.clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(clusters, ["appliance", "proxmox", "pbs", "net"]);
    let vm = picture.find_node("proxmox.vm.svc04").unwrap();
    assert_eq!(
        (vm.label.as_str(), vm.class.as_str(), vm.cluster.as_deref()),
        ("svc04\nvm", "proxmox.vm", Some("proxmox"))
    );
    assert_eq!(
        picture.find_node("appliance.nas-a").unwrap().shape,
        Shape::Cylinder
    );
    let ordering = picture
        .edges
        .iter()
        .find(|e| e.from == "appliance.nas-a")
        .unwrap();
    assert_eq!(ordering.style, EdgeStyle::Dashed);
    let storage = picture
        .edges
        .iter()
        .find(|e| e.from == "proxmox.storage.hot" && e.to == "proxmox.ct.svc00")
        .unwrap();
    assert_eq!(storage.label, "storage");
}

#[test]
fn every_renderer_shows_every_node_edge_and_cluster() {
    let picture = LabGraph::picture(&homelab(12));
    let dot = picture.to_dot().unwrap();
    let mermaid = picture.to_mermaid().unwrap();
    let svg = picture.to_svg().unwrap();
    for n in &picture.nodes {
        assert!(dot.contains(&format!("\"{}\" [label=", n.id)), "{}", n.id);
        // SVG: every node has its id as a tooltip.
        assert!(
            svg.contains(&format!("<title>{}</title>", n.id)),
            "{}",
            n.id
        );
    }
    let mermaid_nodes = mermaid
        .lines()
        .filter(|l| l.trim_start().starts_with('n') && l.contains("(\"") || l.contains("[(\""))
        .count();
    assert_eq!(mermaid_nodes, picture.nodes.len());
    for e in &picture.edges {
        assert!(
            dot.contains(&format!("\"{}\" -> \"{}\"", e.from, e.to)),
            "{} -> {}",
            e.from,
            e.to
        );
        assert!(svg.contains(&format!("<title>{} → {}", e.from, e.to)));
    }
    let arrows = mermaid.matches(" --> ").count()
        + mermaid.matches(" -->|").count()
        + mermaid.matches(" -.-> ").count()
        + mermaid.matches(" -.->|").count();
    assert_eq!(arrows, picture.edges.len());
    assert_eq!(mermaid.matches("subgraph ").count(), picture.clusters.len());
    assert_eq!(mermaid.matches("\n  end\n").count(), picture.clusters.len());
    assert_eq!(
        dot.matches("subgraph cluster_").count(),
        picture.clusters.len()
    );
    let names = parse_xml(&svg).unwrap();
    assert_eq!(names[0], "svg");
    assert!(names.iter().filter(|n| *n == "path").count() >= picture.edges.len());
}

#[test]
fn the_same_lab_gives_the_same_bytes() {
    let a = LabGraph::picture(&homelab(50));
    let b = LabGraph::picture(&homelab(50));
    assert_eq!(a.to_svg().unwrap(), b.to_svg().unwrap());
    assert_eq!(a.to_dot().unwrap(), b.to_dot().unwrap());
    assert_eq!(a.to_mermaid().unwrap(), b.to_mermaid().unwrap());
}

#[test]
fn fifty_guests_stay_readable() {
    let picture = LabGraph::picture(&homelab(50));
    let options = LayoutOptions::default();
    let layout = Layout::compute(&picture, &options);
    assert_layout_sound(&picture, &layout);
    // Wide ranks wrap, so the drawing stays within the width asked for.
    assert!(layout.width <= options.max_width, "{}", layout.width);
    // Sources above their dependents: every solid edge points down.
    for (e, points) in picture.edges.iter().zip(&layout.edges) {
        let (first, last) = (points[0], points[points.len() - 1]);
        assert!(first.1 < last.1, "{} -> {} goes up", e.from, e.to);
    }
}

/// A network-shaped picture: six zones side by side, a VLAN in each, 50
/// guests, a proxy reaching a third of them, the internet reaching it.
fn network() -> Picture {
    let zones = ["mgmt", "servers", "dmz", "iot", "guest", "storage"];
    let mut p = Picture::new("home: network");
    for (i, z) in zones.iter().enumerate() {
        p = p.cluster(Cluster::new(*z, format!("zone {z}")));
        p = p.cluster(Cluster::new(format!("{z}/v"), format!("VLAN {}", 10 * (i + 1))).inside(*z));
    }
    p = p.node(
        Node::new("internet", "internet")
            .class("edge")
            .shape(Shape::Box),
    );
    p = p.node(
        Node::new("caddy", "caddy\n10.0.20.2")
            .class("proxy")
            .in_cluster("dmz/v"),
    );
    for g in 0..50 {
        let z = zones[[1, 1, 1, 2, 3, 0, 1, 5][g % 8]];
        p = p.node(
            Node::new(
                format!("g{g}"),
                format!("svc{g:02}\n10.0.{}.{}", g % 8, g + 10),
            )
            .class("ct")
            .in_cluster(format!("{z}/v")),
        );
        if g % 3 == 0 {
            p = p.edge(Edge::new("caddy", format!("g{g}")).label("https"));
        }
    }
    p.edge(
        Edge::new("internet", "caddy")
            .label("443")
            .style(EdgeStyle::Thick),
    )
}

#[test]
fn wide_pictures_wrap_to_fit_the_width() {
    let picture = network();
    let options = LayoutOptions::default();
    let unbounded = Layout::compute(
        &picture,
        &LayoutOptions {
            max_width: f64::INFINITY,
            ..options.clone()
        },
    );
    assert!(
        unbounded.width > options.max_width,
        "the sample must be wide: {}",
        unbounded.width
    );
    let layout = Layout::compute(&picture, &options);
    assert!(layout.width <= options.max_width, "{}", layout.width);
    assert_layout_sound(&picture, &layout);
}

#[test]
fn cycles_and_self_loops_are_drawn_too() {
    let picture = Picture::new("cycle")
        .node(Node::new("a", "a"))
        .node(Node::new("b", "b"))
        .node(Node::new("c", "c"))
        .edge(Edge::new("a", "b"))
        .edge(Edge::new("b", "c"))
        .edge(Edge::new("c", "a").label("back"))
        .edge(Edge::new("b", "b"));
    let layout = Layout::compute(&picture, &LayoutOptions::default());
    assert_layout_sound(&picture, &layout);
    // The closing edge goes up, from c's top to a's bottom.
    let back = &layout.edges[2];
    assert_eq!(back[0].1, layout.nodes[2].y);
    assert_eq!(back[back.len() - 1].1, layout.nodes[0].bottom());
    assert_eq!(layout.edges[3].len(), 4, "a self-loop is a small loop");
    parse_xml(&picture.to_svg().unwrap()).unwrap();
}

/// No node boxes overlap; each node lies in its cluster, each cluster in
/// its parent; sibling clusters are apart; every edge starts on its source
/// and ends on its target.
fn assert_layout_sound(picture: &Picture, layout: &Layout) {
    let index: HashMap<&str, usize> = picture
        .clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    for (i, a) in layout.nodes.iter().enumerate() {
        for (j, b) in layout.nodes.iter().enumerate().skip(i + 1) {
            assert!(
                !a.overlaps(b),
                "{} {a:?} overlaps {} {b:?}",
                picture.nodes[i].id,
                picture.nodes[j].id
            );
        }
        if let Some(c) = &picture.nodes[i].cluster {
            let rect = layout.clusters[index[c.as_str()]].expect("a cluster with nodes is drawn");
            assert!(rect.contains(a), "{} outside {c}", picture.nodes[i].id);
        }
        assert!(
            a.x >= 0.0 && a.y >= 0.0 && a.right() <= layout.width && a.bottom() <= layout.height
        );
    }
    for (i, c) in picture.clusters.iter().enumerate() {
        let Some(rect) = layout.clusters[i] else {
            continue;
        };
        if let Some(p) = &c.parent {
            let outer = layout.clusters[index[p.as_str()]].unwrap();
            assert!(outer.contains(&rect), "{} outside {p}", c.id);
        }
        for (j, d) in picture.clusters.iter().enumerate().skip(i + 1) {
            let Some(other) = layout.clusters[j] else {
                continue;
            };
            if c.parent == d.parent {
                assert!(!rect.overlaps(&other), "{} overlaps {}", c.id, d.id);
            }
        }
    }
    let node = |id: &str| picture.nodes.iter().position(|n| n.id == id).unwrap();
    let on_edge = |r: &Rect, p: (f64, f64)| {
        p.0 >= r.x - 0.01
            && p.0 <= r.right() + 0.01
            && (p.1 == r.y || p.1 == r.bottom() || p.0 >= r.right())
    };
    for (e, points) in picture.edges.iter().zip(&layout.edges) {
        assert!(points.len() >= 2);
        assert!(
            on_edge(&layout.nodes[node(&e.from)], points[0]),
            "{} -> {}",
            e.from,
            e.to
        );
        assert!(
            on_edge(&layout.nodes[node(&e.to)], points[points.len() - 1]),
            "{} -> {}",
            e.from,
            e.to
        );
    }
}

/// A random picture: `n` nodes with labels of 1..30 characters and 1..3
/// lines, in random nested clusters, with random edges (cycles allowed).
fn random_picture() -> impl Strategy<Value = Picture> {
    (
        1usize..60,
        prop::collection::vec((1usize..30, 1usize..4, 0usize..8), 50..60),
        prop::collection::vec((0usize..60, 0usize..60), 0..120),
    )
        .prop_map(|(_, nodes, edges)| {
            let mut p = Picture::new("random");
            // Clusters 0..7: 0..3 top-level, 4..7 inside 0..3.
            for c in 0..8 {
                let cluster = Cluster::new(format!("c{c}"), format!("cluster {c}"));
                p = p.cluster(if c >= 4 {
                    cluster.inside(format!("c{}", c - 4))
                } else {
                    cluster
                });
            }
            let n = nodes.len();
            for (i, (chars, lines, cluster)) in nodes.into_iter().enumerate() {
                let line = "x".repeat(chars);
                let label = vec![line; lines].join("\n");
                let mut node = Node::new(format!("n{i}"), label).class(format!("k{}", i % 7));
                if cluster < 7 {
                    node = node.in_cluster(format!("c{cluster}"));
                }
                p = p.node(node);
            }
            for (a, b) in edges {
                p = p.edge(Edge::new(format!("n{}", a % n), format!("n{}", b % n)));
            }
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn layouts_never_overlap_and_keep_clusters_nested(picture in random_picture(), width in 300.0f64..1500.0) {
        let options = LayoutOptions { max_row_width: width, max_width: width * 1.5, ..LayoutOptions::default() };
        let layout = Layout::compute(&picture, &options);
        assert_layout_sound(&picture, &layout);
        let svg = picture.to_svg_with(&options).unwrap();
        prop_assert!(parse_xml(&svg).is_ok(), "{:?}", parse_xml(&svg));
    }
}

#[test]
fn a_small_picture_in_each_format() {
    let mut lab = Lab::new("snap");
    let nas = lab.add(Appliance::new("nas"));
    let db = lab.add(Thing::of_kind("proxmox.ct", "db").depends_on(&nas));
    lab.add(Thing::of_kind("proxmox.vm", "app").input("db_id", db.output::<String>("id")));
    let picture = LabGraph::picture(&lab);
    insta::assert_snapshot!("small_mermaid", picture.to_mermaid().unwrap());
    insta::assert_snapshot!("small_dot", picture.to_dot().unwrap());
    insta::assert_snapshot!("small_svg", picture.to_svg().unwrap());
}

/// A crate's view, carried by its specs.
struct Kinds;

impl PictureView for Kinds {
    fn name(&self) -> &str {
        "kinds"
    }
    fn about(&self) -> &str {
        "one node per kind"
    }
    fn picture(&self, lab: &Lab) -> Picture {
        let kinds: BTreeSet<&str> = lab.resources().map(|s| s.address.kind()).collect();
        kinds
            .into_iter()
            .fold(Picture::new("kinds"), |p, k| p.node(Node::new(k, k)))
    }
}

const KINDS: PictureSet = PictureSet {
    name: "kinds",
    views: || vec![Arc::new(Kinds) as Arc<dyn PictureView>],
};

fn run(lab: Lab, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut full = vec!["lab", "--state-dir", state.to_str().unwrap()];
    full.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(lab, full, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn graph_draws_svg_into_a_file_and_views_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lab.svg");
    let (code, out, err) = run(
        homelab(6),
        &["graph", "--format", "svg", "--out", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("wrote home: dependencies ("), "{out}");
    let svg = std::fs::read_to_string(&file).unwrap();
    parse_xml(&svg).unwrap();
    assert!(svg.contains("<title>proxmox.ct.svc00</title>"));

    let (code, out, _) = run(homelab(6), &["graph", "--format", "svg"]);
    assert_eq!((code, &out), (0, &svg), "printed and written are the same");

    // The format follows --out's extension unless --format says otherwise.
    let inferred = dir.path().join("inferred.svg");
    let (code, _, err) = run(homelab(6), &["graph", "--out", inferred.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&inferred).unwrap(), svg);
    let mmd = dir.path().join("lab.mmd");
    run(homelab(6), &["graph", "--out", mmd.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&mmd)
        .unwrap()
        .starts_with("flowchart LR"));
    let (code, _, _) = run(
        homelab(6),
        &[
            "graph",
            "--format",
            "dot",
            "--out",
            inferred.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0);
    assert!(std::fs::read_to_string(&inferred)
        .unwrap()
        .starts_with("digraph lab {"));

    // The dot output keeps today's shape.
    let (code, out, _) = run(homelab(2), &["graph"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("digraph lab {"));
    assert!(out.contains("\"proxmox.storage.hot\" -> \"proxmox.ct.svc00\" [label=\"storage\"]"));

    let (code, _, err) = run(homelab(2), &["graph", "--view", "network"]);
    assert_eq!(code, 1);
    assert!(err.contains("no picture named `network`"), "{err}");
    assert!(err.contains("`dependencies` (every resource"), "{err}");

    // A view carried by a spec's picture set, registered by `Lab::add`.
    let mut lab = homelab(2);
    let mut thing = Thing::of_kind("test.extra", "x");
    thing.spec_mut().picture_set = Some(KINDS);
    lab.add(thing);
    assert_eq!(
        lab.pictures().iter().map(|(n, _)| n).collect::<Vec<_>>(),
        ["dependencies", "kinds"]
    );
    let (code, out, _) = run(lab.clone(), &["graph", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Which picture: dependencies, kinds"), "{out}");
    let (code, out, err) = run(lab, &["graph", "--view", "kinds", "--format", "mermaid"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[\"test.extra\"]") || out.contains("(\"test.extra\")"),
        "{out}"
    );

    let (code, _, err) = run(
        homelab(2),
        &["graph", "--out", "/nonexistent-dir/x/lab.dot"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot write /nonexistent-dir/x/lab.dot"),
        "{err}"
    );
}

#[test]
fn a_broken_view_is_reported_not_panicked() {
    struct Broken;
    impl PictureView for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn about(&self) -> &str {
            "an edge to nowhere"
        }
        fn picture(&self, _: &Lab) -> Picture {
            Picture::new("b")
                .node(Node::new("a", "a"))
                .edge(Edge::new("a", "z"))
        }
    }
    let mut lab = homelab(1);
    lab.register_picture(Arc::new(Broken));
    let (code, _, err) = run(lab, &["graph", "--view", "broken", "--format", "svg"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("drew a picture that cannot be rendered"),
        "{err}"
    );
    assert!(
        err.contains("`z`") && err.contains("add the node or drop the edge"),
        "{err}"
    );
}
