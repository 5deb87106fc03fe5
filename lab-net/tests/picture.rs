//! The `network` picture of a small lab: zones holding their VLANs, one
//! node per guest (in its first NIC's VLAN, an edge for its second), the
//! flows, the proxy's routes, the Internet through the tunnel and its
//! connector to the public services (the Access-guarded one marked); it
//! validates, renders three ways, and `graph --view network` finds it
//! because lab-net's kinds are in the lab.

use lab_core::picture::{EdgeStyle, Picture, PictureView};
use lab_core::prelude::*;
use lab_net::kinds::Port;
use lab_net::model::cloudflare::{self as cf, Account, Connector, Include, Tunnel};
use lab_net::model::*;
use lab_net::picture::{NetworkView, NETWORK};
use lab_proxmox::model::{Container, Node};

/// mgmt, servers (VLAN 20), storage (VLAN 30) and dmz (VLAN 40); `app`
/// on VLAN 20 with a second NIC on VLAN 30; `db` on VLAN 30; the proxy
/// in `edge` routing to `app`; `blog` public, `admin` public behind
/// Access, both through the tunnel whose connector runs in `cloudflared`.
fn lab() -> Lab {
    let mut lab = Lab::new("home");
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let mgmt = lab.add(Zone::mgmt());
    let servers = lab.add(Zone::servers());
    let storage = lab.add(Zone::storage());
    let dmz = lab.add(Zone::dmz());
    let v20 = lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24"));
    let v30 = lab.add(Vlan::new("storage", 30, &storage).cidr("10.0.30.0/24"));
    let v40 = lab.add(Vlan::new("dmz", 40, &dmz).cidr("10.0.40.0/24"));
    let nas = lab.add(Host::new("nas", &v30, "10.0.30.5"));
    lab.add(Service::new("nas-ui", &nas).admin(Port::tcp(5001)));
    let account = lab.add(Account::new(
        "cf",
        "0123456789abcdef0123456789abcdef",
        Secret::new("tok-secret"),
        "team",
    ));
    lab.add(cf::Zone::new(&account, "example.com"));
    let tunnel = lab.add(Tunnel::new(&account, "home"));
    lab.add(
        Container::new("cloudflared", &node)
            .zone(&dmz)
            .nic_on("net0", &v40)
            .address("10.0.40.9")
            .runs_cloudflared(&tunnel),
    );
    let edge = lab.add(
        Container::new("edge", &node)
            .zone(&servers)
            .nic_on("net0", &v20)
            .address("10.0.20.5"),
    );
    let proxy = lab.add(
        Caddy::new("proxy", "10.0.20.5:2019")
            .bind("10.0.20.5")
            .runs_in(&edge),
    );
    let app = lab.add(
        Container::new("app", &node)
            .zone(&servers)
            .nic_on("net0", &v20)
            .address("10.0.20.7")
            .nic_on("net1", &v30)
            .address("10.0.30.7"),
    );
    let db = lab.add(
        Container::new("db", &node)
            .zone(&storage)
            .nic_on("net0", &v30)
            .address("10.0.30.8"),
    );
    let pg = lab.add(Service::new("postgres", &db).port(Port::tcp(5432)));
    lab.add(
        Service::new("app", &app)
            .port(Port::tcp(8080))
            .needs(&pg)
            .internal(&proxy, "app.lab.home.arpa", 8080)
            .public(&tunnel, "blog.example.com", 8080),
    );
    let admin = lab.add(
        Service::new("admin", &edge)
            .admin(Port::tcp(9000))
            .public_behind_access(
                &tunnel,
                "admin.example.com",
                9000,
                Include::emails(&["owner@example.com"]),
            ),
    );
    lab.add(Flow::allow(&servers, &storage).service(&pg));
    lab.add(Flow::allow(&dmz, &servers).service(&admin));
    lab.add(
        Flow::allow(&mgmt, &servers)
            .port(Port::tcp(22))
            .port(Port::tcp(443)),
    );
    lab
}

fn edge<'a>(p: &'a Picture, from: &str, to: &str) -> Vec<&'a lab_core::picture::Edge> {
    p.edges
        .iter()
        .filter(|e| e.from == from && e.to == to)
        .collect()
}

fn label<'a>(p: &'a Picture, id: &str) -> &'a str {
    &p.find_node(id)
        .unwrap_or_else(|| panic!("no node {id} in {p:#?}"))
        .label
}

#[test]
fn zones_hold_their_vlans_and_guests_sit_in_their_first_nics_vlan() {
    let p = NetworkView.picture(&lab());
    p.validate().unwrap();
    assert_eq!(p.title, "home: network");
    let cluster = |id: &str| p.clusters.iter().find(|c| c.id == id).unwrap();
    assert_eq!(cluster("vlan:servers").label, "VLAN 20 10.0.20.0/24");
    assert_eq!(
        cluster("vlan:servers").parent.as_deref(),
        Some("zone:servers")
    );
    assert_eq!(
        cluster("vlan:storage").parent.as_deref(),
        Some("zone:storage")
    );
    assert_eq!(cluster("zone:dmz").label, "zone dmz");

    // One node per guest, with its address and services, in its first
    // NIC's VLAN, coloured by its zone's trust.
    let app = p.find_node("proxmox.ct.app").unwrap();
    assert_eq!(app.cluster.as_deref(), Some("vlan:servers"));
    assert_eq!(app.class, "trust: servers");
    assert!(
        app.label.starts_with("app\n10.0.20.7\napp tcp/8080"),
        "{}",
        app.label
    );
    assert_eq!(
        p.nodes
            .iter()
            .filter(|n| n.label.starts_with("app\n"))
            .count(),
        1
    );
    // Its second NIC: an edge to the storage zone.
    let second = edge(&p, "proxmox.ct.app", "zone-node:storage");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].label, "net1: VLAN 30 10.0.30.7");

    let db = p.find_node("proxmox.ct.db").unwrap();
    assert_eq!(db.cluster.as_deref(), Some("vlan:storage"));
    assert_eq!(db.class, "trust: storage");
    assert!(db.label.contains("postgres tcp/5432"));
    // A host, with its admin service.
    let nas = p.find_node("host:nas").unwrap();
    assert_eq!(nas.cluster.as_deref(), Some("vlan:storage"));
    assert_eq!(nas.label, "nas\n10.0.30.5\nnas-ui tcp/5001");
    // A zone with no VLAN still has its node, in its cluster.
    assert_eq!(
        p.find_node("zone-node:mgmt").unwrap().cluster.as_deref(),
        Some("zone:mgmt")
    );
}

#[test]
fn flows_routes_and_public_exposures_are_edges() {
    let p = NetworkView.picture(&lab());
    // A flow naming a service ends at the service's guest.
    let to_pg = edge(&p, "zone-node:servers", "proxmox.ct.db");
    assert_eq!(to_pg.len(), 1);
    assert_eq!(to_pg[0].label, "postgres tcp/5432");
    assert_eq!(to_pg[0].style, EdgeStyle::Solid);
    // An admin-only service: the flow allows its admin ports.
    let to_admin = edge(&p, "zone-node:dmz", "proxmox.ct.edge");
    assert_eq!(to_admin[0].label, "admin tcp/9000");
    // A flow of ports ends at the zone.
    let ssh = edge(&p, "zone-node:mgmt", "zone-node:servers");
    assert_eq!(ssh[0].label, "tcp/22, tcp/443");

    // The proxy runs in `edge`: its route starts there.
    assert!(label(&p, "proxmox.ct.edge").contains("caddy: proxy"));
    let route = edge(&p, "proxmox.ct.edge", "proxmox.ct.app");
    assert_eq!(route.len(), 1);
    assert_eq!(route[0].label, "app.lab.home.arpa");
    assert_eq!(route[0].style, EdgeStyle::Dashed);

    // The Internet, the tunnel, its connector, then the public services.
    assert_eq!(label(&p, "internet"), "Internet");
    assert_eq!(
        edge(&p, "internet", "tunnel:home")[0].style,
        EdgeStyle::Thick
    );
    let connector = edge(&p, "tunnel:home", "proxmox.ct.cloudflared");
    assert_eq!(connector[0].label, "connector");
    assert!(label(&p, "proxmox.ct.cloudflared").contains("tunnel connector"));
    let blog = edge(&p, "proxmox.ct.cloudflared", "proxmox.ct.app");
    assert_eq!(blog[0].label, "blog.example.com");
    assert_eq!(blog[0].style, EdgeStyle::Thick);
    let admin = edge(&p, "proxmox.ct.cloudflared", "proxmox.ct.edge");
    assert_eq!(admin[0].label, "admin.example.com [Access]");
    // The public names are in the guests' labels too (edge labels may
    // be left out of the SVG where they would cover another).
    assert!(label(&p, "proxmox.ct.edge").contains("https://admin.example.com [Access]"));
    assert!(label(&p, "proxmox.ct.app").contains("https://blog.example.com"));
    assert!(!label(&p, "proxmox.ct.app").contains("[Access]"));
}

#[test]
fn a_network_without_an_edge_has_no_internet() {
    let mut lab = Lab::new("home");
    let servers = lab.add(Zone::servers());
    lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24"));
    let p = NetworkView.picture(&lab);
    assert!(p.find_node("internet").is_none());
    assert_eq!(p.nodes.len(), 1, "{p:#?}");
    assert_eq!(p.clusters.len(), 2);
}

#[test]
fn it_renders_in_every_format() {
    let p = NetworkView.picture(&lab());
    let svg = p.to_svg().unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("VLAN 20 10.0.20.0/24"));
    assert!(svg.contains("trust: storage"));
    let mermaid = p.to_mermaid().unwrap();
    assert!(mermaid.contains("subgraph") && mermaid.contains("admin.example.com [Access]"));
    let dot = p.to_dot().unwrap();
    assert!(dot.contains("subgraph cluster_") && dot.contains("blog.example.com"));
}

#[test]
fn graph_view_network_is_registered_by_lab_nets_kinds() {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        lab(),
        ["lab", "graph", "--view", NETWORK, "--format", "mermaid"],
        &mut out,
        &mut err,
    );
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("flowchart"), "{out}");
    assert!(out.contains("VLAN 30 10.0.30.0/24"), "{out}");

    // A lab of Cloudflare resources alone has the view too.
    let mut edge_only = Lab::new("cf");
    let account = edge_only.add(Account::new(
        "cf",
        "0123456789abcdef0123456789abcdef",
        Secret::new("tok-secret"),
        "team",
    ));
    edge_only.add(Tunnel::new(&account, "home"));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        edge_only,
        ["lab", "graph", "--view", NETWORK, "--format", "dot"],
        &mut out,
        &mut err,
    );
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{out}{}", String::from_utf8_lossy(&err));
    assert!(out.contains("tunnel home"), "{out}");

    // A lab with none of lab-net's kinds does not.
    let mut bare = Lab::new("bare");
    bare.add(Appliance::new("nas"));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        bare,
        ["lab", "graph", "--view", NETWORK],
        &mut out,
        &mut err,
    );
    assert_ne!(code, 0);
    assert!(String::from_utf8(err)
        .unwrap()
        .contains("no picture named `network`"));
}

#[test]
fn hand_written_routes_and_tunnel_rules_find_their_upstreams() {
    use lab_net::model::cloudflare::{TunnelConfig, TunnelIngress};
    let mut lab = Lab::new("home");
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let servers = lab.add(Zone::servers());
    let v20 = lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24"));
    lab.add(
        Container::new("wiki", &node)
            .zone(&servers)
            .nic_on("net0", &v20)
            .address("10.0.20.7"),
    );
    lab.add(
        Caddy::new("proxy", "10.0.20.5:2019")
            .route("wiki.lab.home.arpa", "10.0.20.7:8080")
            .route("old.lab.home.arpa", "10.0.99.1:80"),
    );
    let account = lab.add(Account::new(
        "cf",
        "0123456789abcdef0123456789abcdef",
        Secret::new("tok-secret"),
        "team",
    ));
    let tunnel = lab.add(Tunnel::new(&account, "home"));
    lab.add(
        TunnelConfig::new(&account, &tunnel).rule(TunnelIngress::new(
            "wiki.example.com",
            "http://10.0.20.7:8080",
        )),
    );
    let p = NetworkView.picture(&lab);
    p.validate().unwrap();
    // No guest runs the proxy: it has a node of its own.
    assert_eq!(label(&p, "proxy:proxy"), "caddy: proxy");
    let to_wiki = edge(&p, "proxy:proxy", "proxmox.ct.wiki");
    assert_eq!(to_wiki[0].label, "wiki.lab.home.arpa");
    assert_eq!(to_wiki[0].style, EdgeStyle::Dashed);
    // An upstream the lab does not know is a node of its own.
    let old = edge(&p, "proxy:proxy", "upstream:10.0.99.1:80");
    assert_eq!(old[0].label, "old.lab.home.arpa");
    // No connector: the public rule goes from the tunnel itself.
    let public = edge(&p, "tunnel:home", "proxmox.ct.wiki");
    assert_eq!(public[0].label, "wiki.example.com");
    assert_eq!(public[0].style, EdgeStyle::Thick);
    // The legend names the two styles drawn (no flow: no solid line).
    assert_eq!(p.edge_legend.len(), 2, "{:?}", p.edge_legend);
}
