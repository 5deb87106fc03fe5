//! lab-net's part of a guest's note: its services (ports, admin ports,
//! needs), its zone, VLAN and IPAM address, and its exposures (internal
//! through Caddy, public through the tunnel with Access or without), in
//! the note and in the short note lab-proxmox writes into `notes`.

use lab_core::notes::NoteBook;
use lab_core::prelude::*;
use lab_net::kinds::Port;
use lab_net::model::cloudflare::{self as cf, Account, Connector, Include, Tunnel};
use lab_net::model::*;
use lab_proxmox::model::{Container, Node};

fn lab() -> Lab {
    let mut lab = Lab::new("home");
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let servers = lab.add(Zone::servers());
    let v20 = lab.add(
        Vlan::new("servers", 20, &servers)
            .cidr("10.0.20.0/24")
            .gateway("10.0.20.1"),
    );
    let account = lab.add(Account::new(
        "cf",
        "0123456789abcdef0123456789abcdef",
        Secret::new("tok-secret-value"),
        "team",
    ));
    lab.add(cf::Zone::new(&account, "example.com"));
    let tunnel = lab.add(Tunnel::new(&account, "home"));
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
    lab.add(
        Container::new("cloudflared", &node)
            .zone(&servers)
            .nic_on("net0", &v20)
            .runs_cloudflared(&tunnel),
    );
    let db = lab.add(
        Container::new("db", &node)
            .zone(&servers)
            .nic_on("net0", &v20),
    );
    let pg = lab.add(Service::new("postgres", &db).port(Port::tcp(5432)));
    let photos = lab.add(Container::new("photos", &node).nic_on("net0", &v20));
    lab.add(
        Service::new("immich", &photos)
            .port(Port::tcp(2283))
            .admin(Port::tcp(9000))
            .needs(&pg)
            .internal(&proxy, "photos.lab.home.arpa", 2283)
            .public(&tunnel, "photos.example.com", 2283)
            .public_behind_access(
                &tunnel,
                "photos-admin.example.com",
                9000,
                Include::emails(&["owner@example.com"]),
            ),
    );
    lab
}

#[test]
fn a_guest_note_has_its_services_network_and_exposures() {
    let mut lab = lab();
    lab.derive();
    let book = NoteBook::of(&lab);
    let note = book
        .notes
        .iter()
        .find(|n| n.address.to_string() == "proxmox.ct.photos")
        .expect("lab-proxmox names the guest");
    let md = note.to_markdown();
    // The IPAM's address, derived: the same one the network view shows.
    let address = note.fact("address").expect("an IPAM address").to_string();
    assert!(address.starts_with("10.0.20."), "{address}");
    for part in [
        "## Services\n\n- `immich`: tcp/2283; admin tcp/9000; needs `postgres`",
        "## Network\n\nZone `servers` (trust `servers`).",
        &format!("- `net0` on the VLAN `servers`, tag 20: `{address}/24` (from the lab's IPAM), gateway `10.0.20.1`"),
        "## Exposure\n\n- `https://photos.lab.home.arpa` (internal) through the Caddy proxy `proxy` to port 2283",
        "- `https://photos.example.com` (public) through the tunnel `home` to port 2283: **no Access**: anyone on the internet reaches it",
        "- `https://photos-admin.example.com` (public) through the tunnel `home` to port 9000: Access allows `owner@example.com`",
    ] {
        assert!(md.contains(part), "{part:?} missing from\n{md}");
    }
    // Sections in the agreed order, whoever wrote them.
    let at = |t: &str| md.find(t).unwrap_or_else(|| panic!("{t} in {md}"));
    assert!(at("## Services") < at("## Where it runs"));
    assert!(at("## Where it runs") < at("## Network"));
    assert!(at("## Network") < at("## Exposure"));
    assert!(at("## Exposure") < at("## Dependencies"));

    let short = lab
        .resources()
        .find(|s| s.address.to_string() == "proxmox.ct.photos")
        .and_then(|s| s.attrs.get("notes"))
        .and_then(Value::as_str)
        .expect("the short note")
        .to_string();
    assert_eq!(
        short,
        format!(
            "- services: immich (tcp/2283, admin tcp/9000)\n\
             - node: pve1\n\
             - zone: servers\n\
             - vlan: servers (tag 20)\n\
             - address: {address}\n\
             - urls: https://photos.lab.home.arpa (internal), https://photos.example.com (public, no Access), https://photos-admin.example.com (public, Access)\n\
             - full note: docs/proxmox.ct.photos.md"
        )
    );
    // The index's table row takes the facts.
    let index = book.index_markdown();
    assert!(
        index.contains(&format!(
            "| [proxmox.ct.photos](proxmox.ct.photos.md) | pve1 | servers | {address} | immich (tcp/2283, admin tcp/9000) |"
        )),
        "{index}"
    );
    assert!(index.contains("### network"), "{index}");
    // The guests that run lab-net's own pieces say so.
    let edge = book
        .notes
        .iter()
        .find(|n| n.address.to_string() == "proxmox.ct.edge")
        .unwrap()
        .to_markdown();
    assert!(
        edge.contains(
            "## Services\n\n- the Caddy reverse proxy `proxy`, routing `photos.lab.home.arpa`\n"
        ),
        "{edge}"
    );
    let connector = book
        .notes
        .iter()
        .find(|n| n.address.to_string() == "proxmox.ct.cloudflared")
        .unwrap()
        .to_markdown();
    assert!(
        connector.contains("- the connector (`cloudflared`) of the tunnel `home`"),
        "{connector}"
    );
    // The account's token never shows.
    for n in &book.notes {
        assert!(!n.to_markdown().contains("tok-secret-value"));
        assert!(!n.short_form().contains("tok-secret-value"));
    }
    assert!(!index.contains("tok-secret-value"));
}
