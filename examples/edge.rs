//! The lab's edge as code: three services, one public, one public admin
//! surface behind Cloudflare Access, one internal through Caddy; a
//! Cloudflare Tunnel (no inbound port is opened at home) and the container
//! on the dmz VLAN that runs its connector.
//!
//! ```sh
//! cargo run --example edge --features net,sim -- check
//! cargo run --example edge --features net,sim -- apply --auto-approve
//! cargo run --example edge --features net,sim -- plan                  # No changes.
//! LAB_VARIANT=no-access cargo run --example edge --features net,sim -- check  # net::admin-public at the line
//! ```
//!
//! Nothing here writes a tunnel rule, a DNS record or an Access application:
//! lab-net derives them from the services' `public` exposures. `plan` shows
//! the tunnel's ingress document (the blog, then the automation UI with
//! `originRequest.access` naming its Access application's `aud`, then the
//! catch-all `http_status:404`), one proxied CNAME per public name to
//! `<tunnel id>.cfargotunnel.com`, the Access application and its policy,
//! and the connector container with the tunnel's token in its environment
//! (a secret: never printed, sealed in the state).
//!
//! With no `PVE_*` variables it runs against the Proxmox VE simulator
//! (`.lab/sim/pve.json`), and with no `CLOUDFLARE_*` ones against the
//! Cloudflare API simulator (`.lab/sim/cloudflare-cloudflare.json`), which takes
//! the account, its token and its zone from the code below. The proxy is a
//! real Caddy when `caddy` is on the PATH, else Caddy's admin-API simulator.

use lab::net::connect::{CaddyConnection, CloudflareConnection};
use lab::net::kinds::Port;
use lab::net::model::cloudflare::{self as cf, Connector, Include};
use lab::net::model::*;
use lab::prelude::*;
use lab::proxmox::model::*;
use lab::proxmox::sim::SimConfig;
use lab::proxmox::{Connection, ProxmoxOptions};

/// The Cloudflare account (the dashboard's URL holds its id).
const ACCOUNT_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn main() {
    let connections = match Connections::open(".lab/sim") {
        Ok(all) => all,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "talking to {}, {} and {}",
        connections.pve.describe(),
        connections.caddy.describe(),
        connections.cloudflare.describe()
    );
    let variant = std::env::var("LAB_VARIANT").unwrap_or_default();
    let lab = edge_lab(&connections, &variant);
    let code = lab::cli::run_with_args(lab, std::env::args_os());
    // The local Caddy (if one was started) stops with its connection.
    drop(connections);
    std::process::exit(code)
}

/// The Proxmox VE cluster, the Caddy the proxy talks to, and the
/// Cloudflare account's API: live ones the environment names, else the
/// simulators, kept under `dir`.
pub struct Connections {
    /// Proxmox VE.
    pub pve: Connection,
    /// The internal proxy's Caddy.
    pub caddy: CaddyConnection,
    /// The Cloudflare account.
    pub cloudflare: CloudflareConnection,
}

impl Connections {
    /// Opens the three, their simulators' state under `dir`.
    pub fn open(dir: &str) -> Result<Connections, Box<dyn std::error::Error>> {
        Ok(Connections {
            pve: Connection::from_env_or_simulated(
                SimConfig::default(),
                format!("{dir}/pve.json"),
            )?,
            caddy: CaddyConnection::from_env_or_local("proxy", format!("{dir}/caddy-proxy"))?,
            cloudflare: CloudflareConnection::from_env_or_simulated("cloudflare", dir)?,
        })
    }
}

/// The lab; `variant` `no-access` puts the automation UI on the internet
/// without Access.
pub fn edge_lab(connections: &Connections, variant: &str) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(connections.pve.provider(ProxmoxOptions::default()));
    let proxy_instance = lab.register_provider_as("proxy", connections.caddy.provider());
    lab.register_provider(connections.cloudflare.provider());

    // One node, its storages, a container template and cloudflared's image.
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Vztmpl, Content::Iso])
            .node(&pve1),
    );
    let debian = lab.add(File::download(
        "debian-13-ct",
        &pve1,
        &local,
        Content::Vztmpl,
        "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
    ));
    let cloudflared = lab.add(File::oci_image(
        "cloudflared",
        &pve1,
        &local,
        "docker.io/cloudflare/cloudflared:2025.11.1",
    ));
    let container = |name: &str| {
        Container::new(name, &pve1)
            .ostemplate(&debian)
            .rootfs(&lvm, "8G")
            .memory_mb(1024)
            .onboot(true)
    };

    // Trust zones and their VLANs: the connector lives in the dmz.
    let mgmt = lab.add(Zone::mgmt());
    let trusted = lab.add(Zone::trusted());
    let servers = lab.add(Zone::servers());
    let dmz = lab.add(Zone::dmz());
    lab.add(
        Vlan::new("mgmt", 10, &mgmt)
            .cidr("10.0.10.0/24")
            .gateway("10.0.10.1"),
    );
    let v20 = lab.add(
        Vlan::new("servers", 20, &servers)
            .cidr("10.0.20.0/24")
            .gateway("10.0.20.1"),
    );
    let v40 = lab.add(
        Vlan::new("dmz", 40, &dmz)
            .cidr("10.0.40.0/24")
            .gateway("10.0.40.1"),
    );
    lab.add(
        Vlan::new("trusted", 50, &trusted)
            .cidr("10.0.50.0/24")
            .gateway("10.0.50.1"),
    );

    // The Cloudflare side: the account (its token from the environment;
    // the simulator accepts whatever the code says), the zone the public
    // names live in, and the tunnel.
    let token = Secret::from_env("CLOUDFLARE_API_TOKEN")
        .unwrap_or_else(|| Secret::new("simulated-cloudflare-token"));
    let account = lab.add(cf::Account::new("cf", ACCOUNT_ID, token, "homelab"));
    lab.add(cf::Zone::new(&account, "example.com"));
    let tunnel = lab.add(cf::Tunnel::new(&account, "home"));

    // The connector: cloudflared's own image as a PVE application
    // container on the dmz VLAN, run with the tunnel's token.
    lab.add(
        Container::new("cloudflared", &pve1)
            .ostemplate(&cloudflared)
            .rootfs(&lvm, "2G")
            .memory_mb(256)
            .onboot(true)
            .zone(&dmz)
            .nic_on("net0", &v40)
            .runs_cloudflared(&tunnel),
    );

    // The internal proxy, in its own container.
    let proxy_ct = lab.add(
        container("proxy")
            .zone(&servers)
            .nic_on("net0", &v20)
            .address("10.0.20.5"),
    );
    let proxy = lab.add(
        Caddy::new("proxy", "10.0.20.5:2019")
            .bind("10.0.20.5")
            .runs_in(&proxy_ct)
            .provider(&proxy_instance),
    );
    let https = lab.add(Service::new("https", &proxy_ct).port(Port::tcp(443)));

    // The services.
    let blog_ct = lab.add(container("blog").zone(&servers).nic_on("net0", &v20));
    let automation_ct = lab.add(container("automation").zone(&servers).nic_on("net0", &v20));
    let notes_ct = lab.add(container("notes").zone(&servers).nic_on("net0", &v20));
    // Public: anyone on the internet reads the blog.
    let blog = lab.add(Service::new("blog", &blog_ct).port(Port::tcp(2368)).public(
        &tunnel,
        "blog.example.com",
        2368,
    ));
    // Public, but an admin surface (it runs workflows with the lab's
    // credentials): only the owner, through Cloudflare Access.
    let automation = if variant == "no-access" {
        // The admin UI on the internet with no Access in front: `check`
        // refuses this line.
        lab.add(
            Service::new("automation", &automation_ct)
                .admin(Port::tcp(5678))
                .public(&tunnel, "automation.example.com", 5678),
        )
    } else {
        lab.add(
            Service::new("automation", &automation_ct)
                .admin(Port::tcp(5678))
                .public_behind_access(
                    &tunnel,
                    "automation.example.com",
                    5678,
                    Include::emails(&["owner@example.com"]),
                ),
        )
    };
    // Internal: only the trusted VLAN, through the proxy with Caddy's TLS.
    lab.add(
        Service::new("notes", &notes_ct)
            .port(Port::tcp(3000))
            .internal(&proxy, "notes.lab.home.arpa", 3000),
    );

    // Who may talk to whom; everything else between zones is denied. The
    // connector reaches the two public services and nothing in mgmt.
    lab.add(Flow::allow(&dmz, &servers).service(&blog));
    lab.add(Flow::allow(&dmz, &servers).service(&automation));
    lab.add(Flow::allow(&trusted, &servers).service(&https));
    lab.add(
        Flow::allow(&trusted, &mgmt)
            .port(Port::tcp(8006))
            .port(Port::tcp(22)),
    );

    lab
}
