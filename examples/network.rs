//! The lab's network as code: trust zones and their VLANs, the traffic
//! allowed between zones, guests on the VLANs, three internal services
//! behind a Caddy reverse proxy with TLS from Caddy's own CA, and the
//! Proxmox firewall derived from all of it.
//!
//! ```sh
//! cargo run --example network --features net,sim -- check
//! cargo run --example network --features net,sim -- apply --auto-approve
//! cargo run --example network --features net,sim -- plan                       # No changes.
//! cargo run --example network --features net,sim -- reach trusted photos tcp/2283   # no: only through the proxy
//! cargo run --example network --features net,sim -- reach photos postgres 5432      # yes
//! LAB_VARIANT=wrong-vlan cargo run --example network --features net,sim -- check  # net::nic-zone at the line
//! ```
//!
//! Nothing here writes a VLAN tag, an address, a firewall rule or a proxy
//! route: lab-net derives them. `plan` shows what it derived: each guest
//! NIC's bridge, tag, address and `firewall=1`; an IPSet per zone
//! (`zone-servers`: its VLAN's subnet) and per service a flow names
//! (`svc-postgres`); a security group per zone (`zone-storage`: inside the
//! zone, then `servers` -> `postgres` on 5432); each guest's firewall
//! (policy_in DROP, its zone's group); the datacenter switch; and the
//! proxy's three routes to the services' addresses.
//!
//! With no `PVE_*` variables it runs against the Proxmox VE simulator
//! (`.lab/sim/pve.json`). The proxy is a real Caddy when `caddy` is on the
//! PATH (`apt-get install caddy`; started on loopback ports with its state
//! under `.lab/sim/caddy-proxy/`, stopped when the command ends), else
//! Caddy's admin-API simulator; `CADDY_PROXY_ADMIN=host:port` names a live
//! one.

use lab::net::connect::CaddyConnection;
use lab::net::kinds::Port;
use lab::net::model::*;
use lab::prelude::*;
use lab::proxmox::model::*;
use lab::proxmox::sim::SimConfig;
use lab::proxmox::{Connection, ProxmoxOptions};

fn main() {
    let (pve, caddy) = match connect() {
        Ok(both) => both,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("talking to {} and {}", pve.describe(), caddy.describe());
    let variant = std::env::var("LAB_VARIANT").unwrap_or_default();

    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));
    let proxy_instance = lab.register_provider_as("proxy", caddy.provider());

    // Two nodes with a VLAN-aware bridge, their storages, a container
    // template.
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1)
            .node(&pve2),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Vztmpl, Content::Iso])
            .node(&pve1)
            .node(&pve2),
    );
    // `local` is each node's own disk: each node downloads the template.
    let template = |node: &Handle<Node>| {
        File::download(
            format!("debian-13-ct-{}", node.address().name()),
            node,
            &local,
            Content::Vztmpl,
            "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
        )
    };
    let templates = [lab.add(template(&pve1)), lab.add(template(&pve2))];
    let container = |name: &str, node: &Handle<Node>| {
        let on_pve1 = node.address() == pve1.address();
        Container::new(name, node)
            .ostemplate(&templates[usize::from(!on_pve1)])
            .rootfs(&lvm, "8G")
            .memory_mb(1024)
            .onboot(true)
    };

    // Trust zones and their VLANs.
    let mgmt = lab.add(Zone::mgmt());
    let trusted = lab.add(Zone::trusted());
    let servers = lab.add(Zone::servers());
    let storage = lab.add(Zone::storage());
    let iot = lab.add(Zone::iot());
    let v10 = lab.add(
        Vlan::new("mgmt", 10, &mgmt)
            .cidr("10.0.10.0/24")
            .gateway("10.0.10.1"),
    );
    let v20 = lab.add(
        Vlan::new("servers", 20, &servers)
            .cidr("10.0.20.0/24")
            .gateway("10.0.20.1"),
    );
    let v30 = lab.add(Vlan::new("storage", 30, &storage).cidr("10.0.30.0/24"));
    lab.add(
        Vlan::new("trusted", 50, &trusted)
            .cidr("10.0.50.0/24")
            .gateway("10.0.50.1"),
    );
    lab.add(
        Vlan::new("iot", 60, &iot)
            .cidr("10.0.60.0/24")
            .gateway("10.0.60.1"),
    );

    // What is not a guest: the NAS and the Proxmox UI, both admin surfaces.
    let nas = lab.add(Host::new("nas", &v30, "10.0.30.5"));
    let pve1_mgmt = lab.add(Host::new("pve1-mgmt", &v10, "10.0.10.11"));
    lab.add(Service::new("nas-ui", &nas).admin(Port::tcp(5001)));
    lab.add(Service::new("proxmox-ui", &pve1_mgmt).admin(Port::tcp(8006)));
    lab.add(DnsRecord::new("nas.lab.home.arpa", "10.0.30.5"));

    // The guests. Addresses come from the lab's IPAM, except the proxy's.
    let edge = lab.add(
        container("proxy", &pve1)
            .zone(&servers)
            .nic_on("net0", &v20)
            .address("10.0.20.5"),
    );
    let photos_ct = lab.add(
        container("photos", &pve1)
            .zone(&servers)
            .nic_on("net0", &v20),
    );
    let docs_ct = lab.add(container("docs", &pve2).zone(&servers).nic_on("net0", &v20));
    let notes_ct = lab.add(
        container("notes", &pve2)
            .zone(&servers)
            .nic_on("net0", &v20),
    );
    let db_ct = if variant == "wrong-vlan" {
        // The database on the servers VLAN while it belongs to storage:
        // `check` refuses this line (net::nic-zone).
        lab.add(container("db", &pve2).zone(&storage).nic_on("net0", &v20))
    } else {
        lab.add(container("db", &pve2).zone(&storage).nic_on("net0", &v30))
    };

    // The proxy, in its container; its routes are the services' below.
    let proxy = lab.add(
        Caddy::new("proxy", "10.0.20.5:2019")
            .bind("10.0.20.5")
            .runs_in(&edge)
            .provider(&proxy_instance),
    );

    // The services, what they need, and how they are reached.
    let https = lab.add(Service::new("https", &edge).port(Port::tcp(443)));
    let postgres = lab.add(Service::new("postgres", &db_ct).port(Port::tcp(5432)));
    lab.add(
        Service::new("photos", &photos_ct)
            .port(Port::tcp(2283))
            .needs(&postgres)
            .internal(&proxy, "photos.lab.home.arpa", 2283),
    );
    lab.add(
        Service::new("docs", &docs_ct)
            .port(Port::tcp(8000))
            .needs(&postgres)
            .internal(&proxy, "docs.lab.home.arpa", 8000),
    );
    lab.add(
        Service::new("notes", &notes_ct)
            .port(Port::tcp(3000))
            .internal(&proxy, "notes.lab.home.arpa", 3000),
    );

    // Who may talk to whom; everything else between zones is denied.
    lab.add(Flow::allow(&trusted, &servers).service(&https));
    lab.add(
        Flow::allow(&trusted, &mgmt)
            .port(Port::tcp(8006))
            .port(Port::tcp(22)),
    );
    lab.add(Flow::allow(&trusted, &storage).port(Port::tcp(5001)));
    lab.add(Flow::allow(&mgmt, &servers).port(Port::tcp(22)));
    lab.add(Flow::allow(&servers, &storage).service(&postgres));

    let code = lab::cli::run_with_args(lab, std::env::args_os());
    // The local Caddy (if one was started) stops with its connection.
    drop(caddy);
    std::process::exit(code)
}

/// The Proxmox VE connection and the Caddy the proxy talks to.
fn connect() -> Result<(Connection, CaddyConnection), Box<dyn std::error::Error>> {
    let pve = Connection::from_env_or_simulated(SimConfig::default(), ".lab/sim/pve.json")?;
    let caddy = CaddyConnection::from_env_or_local("proxy", ".lab/sim/caddy-proxy")?;
    Ok((pve, caddy))
}
