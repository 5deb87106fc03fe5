//! The picture model's own rules and the renderers' shapes.

use super::*;

fn small() -> Picture {
    Picture::new("home: \"small\"")
        .cluster(Cluster::new("pve", "proxmox"))
        .cluster(Cluster::new("pve/a", "site a").inside("pve"))
        .node(
            Node::new("nas", "nas\nappliance")
                .class("appliance")
                .shape(Shape::Cylinder),
        )
        .node(
            Node::new("vm", "immich")
                .class("proxmox.vm")
                .in_cluster("pve/a"),
        )
        .node(
            Node::new("ct", "caddy <edge>")
                .class("proxmox.ct")
                .in_cluster("pve"),
        )
        .edge(Edge::new("nas", "vm").label("storage"))
        .edge(Edge::new("vm", "ct").style(EdgeStyle::Dashed))
}

#[test]
fn validate_names_what_is_wrong() {
    assert_eq!(small().validate(), Ok(()));
    let p = small().node(Node::new("vm", "again"));
    assert_eq!(p.validate(), Err(PictureError::DuplicateNode("vm".into())));
    let p = small().edge(Edge::new("vm", "ghost"));
    assert!(
        matches!(p.validate(), Err(PictureError::UnknownNode { missing, .. }) if missing == "ghost")
    );
    let p = small().node(Node::new("x", "x").in_cluster("nowhere"));
    assert!(
        matches!(p.validate(), Err(PictureError::UnknownCluster { cluster, .. }) if cluster == "nowhere")
    );
    let p = Picture::new("t")
        .cluster(Cluster::new("a", "a").inside("b"))
        .cluster(Cluster::new("b", "b").inside("a"));
    assert!(matches!(p.validate(), Err(PictureError::ClusterCycle(_))));
    let p = small().cluster(Cluster::new("pve", "again"));
    assert_eq!(
        p.validate(),
        Err(PictureError::DuplicateCluster("pve".into()))
    );
    assert!(p.to_svg().is_err() && p.to_dot().is_err() && p.to_mermaid().is_err());
}

#[test]
fn mermaid_nests_subgraphs_and_quotes_labels() {
    let m = small().to_mermaid().unwrap();
    let expected = "flowchart LR
  %% home: \"small\"
  subgraph c0[\"proxmox\"]
    subgraph c1[\"site a\"]
      n1(\"immich\")
    end
    n2(\"caddy #60;edge#62;\")
  end
  n0[(\"nas<br/>appliance\")]
  n0 -->|\"storage\"| n1
  n1 -.-> n2
  classDef k0 fill:#dbeafe,stroke:#1d4ed8
  class n0 k0
  classDef k1 fill:#dcfce7,stroke:#15803d
  class n1 k1
  classDef k2 fill:#fef3c7,stroke:#b45309
  class n2 k2
";
    assert_eq!(m, expected);
}

#[test]
fn dot_nests_clusters_and_escapes() {
    let d = small().to_dot().unwrap();
    assert!(d.starts_with("digraph lab {\n"));
    assert!(d.contains("label=\"home: \\\"small\\\"\""), "{d}");
    let outer = d.find("subgraph cluster_0 {").unwrap();
    let inner = d.find("subgraph cluster_1 {").unwrap();
    let vm = d.find("\"vm\" [label=\"immich\"").unwrap();
    assert!(outer < inner && inner < vm);
    assert!(d.contains("\"nas\" [label=\"nas\\nappliance\""));
    assert!(d.contains("shape=cylinder"));
    assert!(d.contains("\"nas\" -> \"vm\" [label=\"storage\"];"));
    assert!(d.contains("\"vm\" -> \"ct\" [style=dashed];"));
    assert_eq!(d.matches('{').count(), d.matches('}').count());
}

#[test]
fn svg_escapes_labels_and_draws_every_part() {
    let s = small().to_svg().unwrap();
    assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(s.contains("caddy &lt;edge&gt;") && !s.contains("caddy <edge>"));
    assert_eq!(s.matches("marker-end=").count(), 2);
    for class in ["appliance", "proxmox.vm", "proxmox.ct"] {
        assert!(
            s.contains(&format!(">{class}</text>")),
            "legend lacks {class}"
        );
    }
    // A label that would cover a cluster title at the arrowhead moves to
    // the edge's start; one covered at both stays in the tooltip only.
    assert!(s.contains("<title>nas → vm: storage</title>"));
    let at = s.find(">storage</text>").expect("the label is drawn");
    let tag = &s[s[..at].rfind("<text").unwrap()..at];
    let coord = |name: &str| -> f64 {
        let from = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[from..].split('"').next().unwrap().parse().unwrap()
    };
    let (lx, ly) = (coord("x") - 1.0, coord("y") - 9.5);
    let label = layout::Rect {
        x: lx,
        y: ly,
        w: 7.0 * 6.0 + 2.0,
        h: 12.0,
    };
    let layout = Layout::compute(&small(), &LayoutOptions::default());
    for (c, r) in small().clusters.iter().zip(&layout.clusters) {
        let r = r.expect("drawn");
        let title = layout::Rect {
            x: r.x,
            y: r.y,
            w: 20.0 + c.label.chars().count() as f64 * layout::CHAR_WIDTH,
            h: 20.0,
        };
        assert!(!title.overlaps(&label), "the label covers {}'s title", c.id);
    }
    assert!(!layout.nodes.iter().any(|n| n.overlaps(&label)));
    let open = Picture::new("t")
        .node(Node::new("a", "a"))
        .node(Node::new("b", "b"))
        .edge(Edge::new("a", "b").label("storage"));
    assert!(open.to_svg().unwrap().contains(">storage</text>"));
}

#[test]
fn classes_are_in_first_use_order() {
    assert_eq!(
        small().classes(),
        vec!["appliance", "proxmox.vm", "proxmox.ct"]
    );
}

#[test]
fn mermaid_escapes_entity_starts() {
    let p = Picture::new("t").node(Node::new("a", "#1 \"x\""));
    assert!(p
        .to_mermaid()
        .unwrap()
        .contains("n0(\"#35;1 #quot;x#quot;\")"));
}

#[test]
fn empty_pictures_and_empty_clusters_render() {
    let empty = Picture::new("nothing yet");
    let svg = empty.to_svg().unwrap();
    assert!(svg.contains("<title>nothing yet</title>") && svg.ends_with("</svg>\n"));
    assert_eq!(
        empty.to_mermaid().unwrap(),
        "flowchart LR\n  %% nothing yet\n"
    );
    let p = small().cluster(Cluster::new("idle", "idle"));
    let layout = Layout::compute(&p, &LayoutOptions::default());
    assert_eq!(
        layout.clusters[2], None,
        "a cluster with no nodes is not drawn"
    );
    assert!(layout.clusters[0].is_some() && layout.clusters[1].is_some());
    assert!(!p.to_svg().unwrap().contains("<title>idle</title>"));
}

#[test]
fn barycenter_sweeps_remove_a_crossing_the_declaration_order_makes() {
    // Declared c before d, but a -> d and b -> c: drawn in declaration
    // order the two edges cross; the sweeps put d under a, c under b.
    let p = Picture::new("t")
        .node(Node::new("a", "a"))
        .node(Node::new("b", "b"))
        .node(Node::new("c", "c"))
        .node(Node::new("d", "d"))
        .edge(Edge::new("a", "d"))
        .edge(Edge::new("b", "c"));
    let layout = Layout::compute(&p, &LayoutOptions::default());
    let x = |i: usize| layout.nodes[i].center_x();
    assert_eq!(x(0) < x(1), x(3) < x(2), "{:?}", layout.nodes);
    let none = Layout::compute(
        &p,
        &LayoutOptions {
            sweeps: 0,
            ..LayoutOptions::default()
        },
    );
    let x = |i: usize| none.nodes[i].center_x();
    assert_ne!(x(0) < x(1), x(3) < x(2), "without sweeps the edges cross");
}

#[test]
fn edge_meanings_reach_every_rendering() {
    let p = small().edge_meaning(EdgeStyle::Dashed, "order only");
    assert!(p.to_mermaid().unwrap().contains("  %% -.->: order only\n"));
    assert!(p
        .to_dot()
        .unwrap()
        .contains("  // Dashed edges: order only\n"));
    let svg = p.to_svg().unwrap();
    assert!(svg.contains(">order only</text>") && svg.contains("stroke-dasharray=\"5 4\""));
}

#[test]
fn every_svg_element_names_an_attribute_once() {
    // XML forbids a repeated attribute (rsvg-convert and browsers refuse
    // the file): the thick style's legend sample once wrote two widths.
    let p = small()
        .edge_meaning(EdgeStyle::Solid, "flow")
        .edge_meaning(EdgeStyle::Dashed, "order only")
        .edge_meaning(EdgeStyle::Thick, "public");
    let svg = p.to_svg().unwrap();
    for element in svg.split('<').skip(1) {
        let head = element.split('>').next().unwrap_or_default();
        let mut names: Vec<&str> = head
            .split('"')
            .step_by(2)
            .filter_map(|part| part.trim_end().strip_suffix('='))
            .map(|n| n.rsplit(' ').next().unwrap_or(n))
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a repeated attribute in <{head}>");
    }
}

#[test]
fn a_class_keeps_the_colours_chosen_for_it_and_the_others_the_palette() {
    // `proxmox.vm` is the second class: chosen red; the others take the
    // palette's first two colours, none skipped.
    let p = small().class_color("proxmox.vm", "#fee2e2", "#b91c1c");
    assert_eq!(
        p.class_paints(),
        [palette(0), ("#fee2e2", "#b91c1c"), palette(1)]
    );
    let svg = p.to_svg().unwrap();
    assert_eq!(svg.matches("#b91c1c").count(), 2, "the legend and the node");
    assert!(p
        .to_mermaid()
        .unwrap()
        .contains("classDef k1 fill:#fee2e2,stroke:#b91c1c"));
    assert!(p
        .to_dot()
        .unwrap()
        .contains("fillcolor=\"#fee2e2\", color=\"#b91c1c\""));
    // A colour chosen for a class no node has changes nothing.
    assert_eq!(
        small().class_color("absent", "#000", "#fff").to_svg(),
        small().to_svg()
    );
}
