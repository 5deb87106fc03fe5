//! The services: what the lab is for. Each one is an [`App`]: the guest it
//! runs in, its VLAN, ports and admin surfaces, what it needs, its data,
//! its backups and how it is reached. Change one here and `plan` shows
//! exactly that change.
//!
//! Inside, people reach services as `https://<name>.lab.home.arpa`
//! through the proxy; from the internet only the blog is open, and the
//! admin surfaces (automation, dev environments) sit behind Access.

use lab::net::kinds::Port;
use lab::net::model::Flow;
use lab::prelude::*;
use lab::talos::model::TalosHandles;

use super::compute::Compute;
use super::network_edge::NetworkEdge;
use super::storage_backups::StorageBackups;

/// Adds the services.
pub fn add(
    lab: &mut Lab,
    compute: &Compute,
    kubernetes: &TalosHandles,
    storage: &StorageBackups,
    net: &NetworkEdge,
) {
    let (c, s, n) = (compute, storage, net);

    // The database the photo library, documents and automation share.
    let postgres = App::container("postgres", c.node(2), c.container(2, 2, 2048))
        .about("PostgreSQL 17: the photo library's, the documents' and the automation's database.")
        .vlan(&n.servers_vlan)
        .port(Port::tcp(5432))
        .data(&s.hot, "/var/lib/postgresql", "50G")
        .backup(&s.nightly)
        .add_to(lab);

    // A photo library (Immich): Docker with its machine learning, in a VM.
    App::vm("photos", c.node(1), c.vm(1, 4, 8192, "32G"))
        .about("Immich: the family's photo library, with face and object search.")
        .vlan(&n.servers_vlan)
        .port(Port::tcp(2283))
        .needs(&postgres)
        .data(&s.hot, "/photos", "500G")
        .backup(&s.nightly)
        .internal(&n.proxy, "photos.lab.home.arpa", 2283)
        .add_to(lab);

    // A media library (Jellyfin); the TVs on the iot VLAN play from it.
    let media = App::container("media", c.node(3), c.container(3, 4, 4096))
        .about("Jellyfin: films, series and music for every screen in the house.")
        .vlan(&n.servers_vlan)
        .port(Port::tcp(8096))
        .data(&s.hot, "/media", "2T")
        .backup(&s.nightly)
        .internal(&n.proxy, "media.lab.home.arpa", 8096)
        .add_to(lab);
    lab.add(Flow::allow(&n.iot, &n.servers).service(&media.service));

    // Document management (Paperless-ngx).
    App::container("documents", c.node(2), c.container(2, 2, 2048))
        .about("Paperless-ngx: scanned letters and invoices, searchable.")
        .vlan(&n.servers_vlan)
        .port(Port::tcp(8000))
        .needs(&postgres)
        .data(&s.hot, "/data", "50G")
        .backup(&s.nightly)
        .internal(&n.proxy, "docs.lab.home.arpa", 8000)
        .add_to(lab);

    // Self-hosted AI (Ollama with Open WebUI): a VM, where a GPU would be
    // passed through.
    App::vm("ai", c.node(3), c.vm(3, 8, 16384, "64G"))
        .about("Ollama and Open WebUI: language models that never leave the house.")
        .vlan(&n.servers_vlan)
        .port(Port::tcp(8080))
        .backup(&s.nightly)
        .internal(&n.proxy, "ai.lab.home.arpa", 8080)
        .add_to(lab);

    // Workflow automation (n8n): it runs with the lab's credentials, so
    // its UI is an admin surface; public for webhooks, behind Access.
    let automation = App::container("automation", c.node(1), c.container(1, 2, 2048))
        .about("n8n: workflows that glue the services together.")
        .vlan(&n.servers_vlan)
        .admin(Port::tcp(5678))
        .needs(&postgres)
        .backup(&s.nightly)
        .public_behind_access(&n.tunnel, "automation.example.com", 5678, n.owners())
        .add_to(lab);

    // A personal knowledge base (SilverBullet), on the Kubernetes cluster:
    // manifests in gitops/ for Flux or Argo CD, its notes on the hot pool.
    App::on_talos("notes", &kubernetes.cluster, |w| {
        w.image("ghcr.io/silverbulletmd/silverbullet:2.1.9")
            .load_balancer("10.0.20.30")
    })
    .about("SilverBullet: the household's notes and how-tos, as Markdown files.")
    .port(Port::tcp(3000))
    .data(&s.hot, "/space", "20G")
    .internal(&n.proxy, "notes.lab.home.arpa", 3000)
    .add_to(lab);

    // Browser-based development environments (Coder): workspaces are
    // containers of their own, so a VM.
    let dev = App::vm("dev", c.node(1), c.vm(1, 4, 8192, "64G"))
        .about("Coder: development environments in the browser, from anywhere.")
        .vlan(&n.servers_vlan)
        .admin(Port::tcp(7080))
        .backup(&s.nightly)
        .public_behind_access(&n.tunnel, "dev.example.com", 7080, n.owners())
        .add_to(lab);

    // The blog (Ghost): public.
    let blog = App::container("blog", c.node(2), c.container(2, 1, 1024))
        .about("Ghost: the family blog, public on the internet.")
        .vlan(&n.servers_vlan)
        .port(Port::tcp(2368))
        .data(&s.hot, "/var/lib/ghost/content", "10G")
        .backup(&s.nightly)
        .public(&n.tunnel, "blog.example.com", 2368)
        .add_to(lab);

    // The connector on the dmz reaches the public services, nothing else.
    for public in [&blog, &automation, &dev] {
        lab.add(Flow::allow(&n.dmz, &n.servers).service(&public.service));
    }
}
