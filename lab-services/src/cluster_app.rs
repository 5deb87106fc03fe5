//! [`ClusterApp`]: a service placed on the Talos cluster.
//!
//! `lab` does not drive the Kubernetes API: the service becomes
//! manifests in a folder (lab-talos's `talos.workload`, written by its
//! `WorkloadFolder` provider) for the owner's GitOps tool, Flux or Argo
//! CD, to apply. What a guest-based [`App`](crate::App) has and a
//! workload cannot (a VLAN NIC, a PVE backup job, a tunnel rule lab-net
//! derives) is not offered here, so the compiler says so rather than a
//! check at run time: a workload's address is its load balancer's, and its
//! data lives on a NAS pool whose copies the pool's own protection makes.

use std::panic::Location;

use lab_core::diag::Loc;
use lab_core::{Handle, Lab, Resource, Value};
use lab_net::kinds::{CaddyRoute, Port, Proto};
use lab_net::model::Caddy;
use lab_proxmox::model::Storage;
use lab_talos::model::{Cluster, Workload};

use crate::app::{ServiceHandle, ABOUT_ANNOTATION, APP_ANNOTATION};
use crate::lower::relocate;

/// A service on the Talos cluster: a [`Workload`] (image, replicas,
/// environment: lab-talos's builder, finished by a closure) with its ports,
/// its data on a NAS pool over NFS, the services it needs, and its route
/// through the internal proxy to its load-balancer address.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::kinds::Port;
/// use lab_proxmox::model::{NasPool, Storage};
/// use lab_services::App;
/// use lab_talos::model::TalosCluster;
///
/// let mut lab = Lab::new("home");
/// let talos = TalosCluster::new("home", "https://10.0.20.10:6443").add_to(&mut lab);
/// let pool = lab.add(NasPool::new("hot").server("10.0.30.5").export("/mnt/hot"));
/// let hot = lab.add(Storage::nfs("hot", &pool));
/// let notes = App::on_talos("notes", &talos.cluster, |w| {
///     w.image("ghcr.io/silverbulletmd/silverbullet:2.1.9").load_balancer("10.0.20.30")
/// })
/// .about("SilverBullet: the household's notes")
/// .port(Port::tcp(3000))
/// .data(&hot, "/space", "20G")
/// .add_to(&mut lab);
/// let spec = lab.resource(notes.address()).unwrap();
/// assert_eq!(spec.attrs["volumes"].as_list().unwrap().len(), 1);
/// ```
pub struct ClusterApp {
    name: String,
    workload: Workload,
    data: Vec<(Handle<Storage>, String, String, Loc)>,
    routes: Vec<(Handle<Caddy>, String, u16, Loc)>,
}

impl crate::App {
    /// A service on the Talos cluster `cluster` (from `TalosHandles`), as
    /// manifests for GitOps: `build` finishes lab-talos's [`Workload`]
    /// (its image, replicas, environment, load-balancer address).
    #[track_caller]
    pub fn on_talos(
        name: &str,
        cluster: &Handle<Cluster>,
        build: impl FnOnce(Workload) -> Workload,
    ) -> ClusterApp {
        ClusterApp {
            name: name.to_string(),
            workload: build(Workload::new(cluster, name)),
            data: Vec::new(),
            routes: Vec::new(),
        }
    }
}

impl ClusterApp {
    /// What runs there and why (its note in `docs`).
    #[track_caller]
    pub fn about(mut self, text: &str) -> ClusterApp {
        let here = Location::caller();
        let spec = self.workload.spec_mut();
        spec.annotations
            .insert(ABOUT_ANNOTATION.into(), Value::from(text));
        spec.field_locs.insert(ABOUT_ANNOTATION.into(), here);
        self
    }

    /// A port it serves on (the container port and its Service's, named
    /// `tcp-<port>` or `udp-<port>`). A range or ICMP is refused at this
    /// line.
    #[track_caller]
    pub fn port(mut self, port: Port) -> ClusterApp {
        let proto = match port.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            _ => "",
        };
        if proto.is_empty() || port.first != port.last {
            self.workload.spec_mut().invalid(
                "ports",
                format!("`{port}` is not one TCP or UDP port"),
                "give a workload's ports one at a time, like `Port::tcp(3000)`",
            );
            return self;
        }
        self.workload = self
            .workload
            .port(&format!("{proto}-{}", port.first), port.first);
        self
    }

    /// It connects to `other`: applied after it. (Pods reach other
    /// services from the nodes' addresses; lab-net's flows do not model
    /// that yet.)
    #[track_caller]
    pub fn needs(mut self, other: &impl ServiceHandle) -> ClusterApp {
        self.workload
            .spec_mut()
            .depend_on(other.service(), "depends_on");
        self
    }

    /// Its data: `size` on the NAS pool behind `storage` (an NFS storage,
    /// `Storage::nfs`), in the folder `k8s/<app>` of the pool's export,
    /// mounted at `path` (an NFS PersistentVolume and its claim). Create
    /// the folder on the NAS; its copies are the pool's.
    #[track_caller]
    pub fn data(mut self, storage: &Handle<Storage>, path: &str, size: &str) -> ClusterApp {
        self.data.push((
            storage.clone(),
            path.to_string(),
            size.to_string(),
            Location::caller(),
        ));
        self
    }

    /// Served through the internal reverse proxy as `https://host`,
    /// forwarded to the workload's load-balancer address (give one with
    /// `Workload::load_balancer`) on `port`.
    #[track_caller]
    pub fn internal(mut self, proxy: &Handle<Caddy>, host: &str, port: u16) -> ClusterApp {
        self.routes
            .push((proxy.clone(), host.to_string(), port, Location::caller()));
        self
    }

    /// Adds the workload to `lab` (and its routes to the proxy).
    #[track_caller]
    pub fn add_to(self, lab: &mut Lab) -> Handle<Workload> {
        let ClusterApp {
            name,
            mut workload,
            data,
            routes,
        } = self;
        workload
            .spec_mut()
            .annotations
            .insert(APP_ANNOTATION.into(), Value::from(name.as_str()));
        for (storage, path, size, at) in data {
            workload = with_nfs(lab, workload, &name, &storage, &path, &size, at);
        }
        let lb = workload
            .spec()
            .attrs
            .get("load_balancer")
            .and_then(Value::as_str)
            .map(str::to_string);
        for (proxy, host, port, at) in routes {
            match &lb {
                Some(ip) => Caddy::add_route(
                    lab,
                    &proxy,
                    CaddyRoute::new(&host, &format!("{ip}:{port}")),
                    at,
                ),
                None => {
                    let spec = workload.spec_mut();
                    spec.invalid(
                        "load_balancer",
                        format!("`{host}` through the proxy needs the workload's address"),
                        "give the workload a load-balancer IP: `|w| w.load_balancer(\"10.0.20.30\")`",
                    );
                    if let Some(p) = spec.problems.last_mut() {
                        p.loc = at;
                    }
                }
            }
        }
        lab.add(workload)
    }
}

/// The NFS volume for `storage`'s pool, or a problem at `at` when the
/// storage is not NFS from a pool the lab declares.
fn with_nfs(
    lab: &Lab,
    workload: Workload,
    app: &str,
    storage: &Handle<Storage>,
    path: &str,
    size: &str,
    at: Loc,
) -> Workload {
    let pool = lab
        .resource(storage.address())
        .and_then(|s| s.attrs.get("pool"))
        .and_then(Value::as_str)
        .and_then(|a| lab.resources().find(|s| s.address.to_string() == a));
    let field = |f: &str| {
        pool.and_then(|p| p.attrs.get(f))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut workload = match (field("server"), field("export")) {
        (Some(server), Some(export)) => {
            let folder = format!("{}/k8s/{app}", export.trim_end_matches('/'));
            workload.nfs_volume(path, &server, &folder, size)
        }
        _ => {
            let mut w = workload;
            w.spec_mut().invalid(
                "volumes",
                format!(
                    "`{}` is not an NFS storage of a NAS pool in this lab",
                    storage.address().name()
                ),
                "Kubernetes mounts the pool over NFS: give a storage made with `Storage::nfs(id, &pool)`",
            );
            w
        }
    };
    relocate(workload.spec_mut(), file!(), at);
    workload
}
