//! Network and edge: zones by trust, their VLANs, the boxes that are not
//! guests (the nodes' management addresses, the backup server, the NASes)
//! and their admin surfaces, the internal proxy, the Cloudflare Tunnel and
//! its connector, and the flows between zones.
//!
//! Nothing here writes a VLAN tag, an address, a firewall rule, a proxy
//! route, a tunnel rule, a DNS record or an Access application: lab-net
//! derives them from the zones, the flows and the services.
//!
//! Every admin surface (Proxmox VE, PBS, the NAS UIs) is reached from the
//! internet only through the tunnel and Cloudflare Access, to the proxy in
//! the servers zone: the connector on the dmz VLAN never reaches mgmt
//! (`check` refuses a lab where it could).

use lab::net::kinds::Port;
use lab::net::model::cloudflare::{self as cf, Connector, Include};
use lab::net::model::*;
use lab::prelude::*;
use lab::proxmox::model::{Container, File};

use super::compute::Compute;

/// The Cloudflare account (the dashboard's URL holds its id).
const ACCOUNT_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// Who may pass Access in front of the admin surfaces.
const OWNERS: &[&str] = &["owner@example.com"];

/// What services use: the zones and VLANs they join, the proxy and the
/// tunnel they are reached through.
pub struct NetworkEdge {
    /// The services.
    pub servers: Handle<Zone>,
    /// What the internet reaches: the tunnel's connector.
    pub dmz: Handle<Zone>,
    /// Smart TVs and other things that only consume.
    pub iot: Handle<Zone>,
    /// The servers VLAN (20).
    pub servers_vlan: Handle<Vlan>,
    /// The internal reverse proxy (TLS from its own CA).
    pub proxy: Handle<Caddy>,
    /// The Cloudflare Tunnel.
    pub tunnel: Handle<cf::Tunnel>,
}

impl NetworkEdge {
    /// The people Access lets through to admin surfaces.
    pub fn owners(&self) -> Include {
        Include::emails(OWNERS)
    }
}

/// Adds the zones, VLANs, hosts, proxy, tunnel, connector and flows.
pub fn add(lab: &mut Lab, compute: &Compute, proxy_instance: &ProviderHandle) -> NetworkEdge {
    // Zones by trust level, one VLAN each.
    let mgmt = lab.add(Zone::mgmt());
    let trusted = lab.add(Zone::trusted());
    let servers = lab.add(Zone::servers());
    let storage = lab.add(Zone::storage());
    let dmz = lab.add(Zone::dmz());
    let iot = lab.add(Zone::iot());
    let guest = lab.add(Zone::guest());
    let mgmt_vlan = lab.add(
        Vlan::new("mgmt", 10, &mgmt)
            .cidr("10.0.10.0/24")
            .gateway("10.0.10.1"),
    );
    // The IPAM hands out .100-.199; the Talos nodes sit below.
    let servers_vlan = lab.add(
        Vlan::new("servers", 20, &servers)
            .cidr("10.0.20.0/24")
            .gateway("10.0.20.1")
            .pool("10.0.20.100", "10.0.20.199"),
    );
    let storage_vlan = lab.add(Vlan::new("storage", 30, &storage).cidr("10.0.30.0/24"));
    let dmz_vlan = lab.add(
        Vlan::new("dmz", 40, &dmz)
            .cidr("10.0.40.0/24")
            .gateway("10.0.40.1"),
    );
    for (name, id, zone) in [
        ("trusted", 50, &trusted),
        ("iot", 60, &iot),
        ("guest", 70, &guest),
    ] {
        lab.add(
            Vlan::new(name, id, zone)
                .cidr(&format!("10.0.{id}.0/24"))
                .gateway(&format!("10.0.{id}.1")),
        );
    }

    // What is not a guest, and its admin surfaces.
    let pve1_mgmt = lab.add(Host::new("pve1-mgmt", &mgmt_vlan, "10.0.10.11"));
    lab.add(Host::new("pve2-mgmt", &mgmt_vlan, "10.0.10.12"));
    lab.add(Host::new("pve3-mgmt", &mgmt_vlan, "10.0.10.13"));
    let pbs = lab.add(Host::new("pbs", &mgmt_vlan, "10.0.10.20"));
    let nas_a = lab.add(Host::new("nas-a", &storage_vlan, "10.0.30.5"));
    let nas_b = lab.add(Host::new("nas-b", &storage_vlan, "10.0.30.6"));

    // The internal proxy, in its own container on the servers VLAN.
    let debian = compute.container(1, 1, 512);
    let proxy_ct = lab.add(
        debian(Container::new("proxy", compute.node(1)))
            .zone(&servers)
            .nic_on("net0", &servers_vlan)
            .address("10.0.20.5")
            .waive(
                "pbs::guest-not-backed-up",
                "rebuilt from this code; its certificates are re-issued",
            ),
    );
    let proxy = lab.add(
        Caddy::new("proxy", "10.0.20.5:2019")
            .bind("10.0.20.5")
            .runs_in(&proxy_ct)
            .provider(proxy_instance),
    );

    // The Cloudflare side: the account (its token from the environment;
    // the simulator accepts whatever the code says), the zone the public
    // names live in, the tunnel, and its connector on the dmz VLAN.
    let token = Secret::from_env("CLOUDFLARE_API_TOKEN")
        .unwrap_or_else(|| Secret::new("simulated-cloudflare-token"));
    let account = lab.add(cf::Account::new("cf", ACCOUNT_ID, token, "homelab"));
    lab.add(cf::Zone::new(&account, "example.com"));
    let tunnel = lab.add(cf::Tunnel::new(&account, "home"));
    let cloudflared = lab.add(File::oci_image(
        "cloudflared",
        compute.node(2),
        &compute.local,
        "docker.io/cloudflare/cloudflared:2025.11.1",
    ));
    lab.add(
        Container::new("cloudflared", compute.node(2))
            .ostemplate(&cloudflared)
            .rootfs(&compute.lvm, "2G")
            .memory_mb(256)
            .onboot(true)
            .zone(&dmz)
            .nic_on("net0", &dmz_vlan)
            .runs_cloudflared(&tunnel)
            .waive("pbs::guest-not-backed-up", "rebuilt from this code"),
    );

    // The admin surfaces: through the proxy inside, and from the internet
    // through the tunnel to the proxy, behind Access.
    let owners = Include::emails(OWNERS);
    let admin = [
        ("proxmox-ui", &pve1_mgmt, 8006, "pve"),
        ("pbs-ui", &pbs, 8007, "pbs"),
        ("nas-a-ui", &nas_a, 443, "nas-a"),
        ("nas-b-ui", &nas_b, 443, "nas-b"),
    ]
    .map(|(name, host, port, sub)| {
        lab.add(
            Service::new(name, host)
                .admin(Port::tcp(port))
                .internal(&proxy, &format!("{sub}.lab.home.arpa"), port)
                .upstream_tls(),
        )
    });
    let mut https = Service::new("https", &proxy_ct).port(Port::tcp(443));
    for sub in ["pve", "pbs", "nas-a", "nas-b"] {
        https = https.expose(
            Public::new(&tunnel, &format!("{sub}.example.com"), 443)
                .https()
                // cloudflared does not know the proxy's own CA.
                .no_tls_verify()
                .origin_server_name(&format!("{sub}.lab.home.arpa"))
                .behind_access(owners.clone()),
        );
    }
    let https = lab.add(https);

    // Who may talk to whom; everything else between zones is denied.
    lab.add(Flow::allow(&trusted, &servers).service(&https));
    lab.add(
        Flow::allow(&trusted, &mgmt)
            .port(Port::tcp(8006))
            .port(Port::tcp(8007))
            .port(Port::tcp(22)),
    );
    lab.add(Flow::allow(&mgmt, &servers).port(Port::tcp(22)));
    lab.add(Flow::allow(&dmz, &servers).service(&https));
    // The proxy reaches the admin surfaces it serves.
    for service in &admin {
        let to = if service.address().name().starts_with("nas") {
            &storage
        } else {
            &mgmt
        };
        lab.add(Flow::allow(&servers, to).service(service));
    }

    NetworkEdge {
        servers,
        dmz,
        iot,
        servers_vlan,
        proxy,
        tunnel,
    }
}
