//! [`App`]: the builder, and [`AppHandle`]: what adding one returns.
//!
//! The guest is built eagerly (each method applies to it at once, so the
//! lab-proxmox and lab-net builders record the user's lines themselves);
//! what needs the guest's handle (the lab-net `Service`, the backup jobs'
//! selection) is recorded with its line and lowered by
//! [`App::add_to`](crate::App::add_to) (see `lower.rs`).

use std::panic::Location;

use lab_core::diag::Loc;
use lab_core::{Handle, Resource, Value};
use lab_net::kinds::Port;
use lab_net::model::cloudflare::{Include, Tunnel};
use lab_net::model::{Caddy, GuestNet, Public, Service, Vlan};
use lab_proxmox::model::{BackupJob, Container, Node, Storage, Vm};

/// The guest annotation holding what runs there and why ([`App::about`]),
/// read by lab's notes (`docs`, the guest's Proxmox notes).
pub use lab_core::notes::ABOUT_ANNOTATION;

/// The guest annotation naming the [`App`] that made it.
pub use lab_core::notes::APP_ANNOTATION;

/// A service as a whole: what it is, the guest it runs in, its network,
/// ports and admin surfaces, the services it needs, its data and backups,
/// and how it is reached. [`App::add_to`] lowers it onto lab-proxmox and
/// lab-net resources (see the crate docs).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::kinds::Port;
/// use lab_net::model::{Vlan, Zone};
/// use lab_proxmox::model::{BackupJob, Content, Node, Storage};
/// use lab_services::App;
///
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
/// let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images, Content::Rootdir]));
/// let dumps = lab.add(Storage::existing("dumps").content(&[Content::Backup]));
/// let servers = lab.add(Zone::servers());
/// let v20 = lab.add(Vlan::new("servers", 20, &servers).cidr("10.0.20.0/24"));
/// let nightly = lab.add(BackupJob::new("nightly", &dumps, "02:00"));
/// let debian = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
///
/// let db = App::container("postgres", &pve1, |ct| {
///     ct.ostemplate_volid(debian).memory_mb(2048).rootfs(&lvm, "8G")
/// })
///     .about("PostgreSQL for the photo library and the documents")
///     .vlan(&v20)
///     .port(Port::tcp(5432))
///     .backup(&nightly)
///     .add_to(&mut lab);
/// App::container("photos", &pve1, |ct| {
///     ct.ostemplate_volid(debian).cores(4).memory_mb(4096).rootfs(&lvm, "16G")
/// })
///     .about("Immich, the family's photo library")
///     .vlan(&v20)
///     .port(Port::tcp(2283))
///     .needs(&db)
///     .data(&lvm, "/photos", "200G")
///     .backup(&nightly)
///     .add_to(&mut lab);
/// assert!(lab.check().is_empty(), "{:#?}", lab.check());
/// ```
pub struct App {
    pub(crate) name: String,
    pub(crate) declared_at: Loc,
    pub(crate) guest: Placement,
    pub(crate) data_count: usize,
    pub(crate) net: Vec<(NetOp, Loc)>,
    pub(crate) backups: Vec<(Handle<BackupJob>, Loc)>,
}

/// Where an [`App`] runs, built so far.
pub(crate) enum Placement {
    Container(Box<Container>),
    Vm(Box<Vm>),
}

/// A network fact about the service, applied to its lab-net `Service`
/// once the guest is in the lab.
pub(crate) enum NetOp {
    Port(Port),
    Admin(Port),
    Needs(Handle<Service>),
    Internal(Handle<Caddy>, String, u16),
    UpstreamTls,
    Expose(Box<Public>),
}

impl App {
    /// A service in a new LXC container `name` on `node`, which `build`
    /// finishes (template, cores, memory, root disk: lab-proxmox's
    /// [`Container`] builder). Containers are the default for a homelab
    /// service: light, and backed up by vzdump like VMs.
    #[track_caller]
    pub fn container(
        name: &str,
        node: &Handle<Node>,
        build: impl FnOnce(Container) -> Container,
    ) -> App {
        let ct = build(Container::new(name, node));
        App::placed(name, Placement::Container(Box::new(ct)))
    }

    /// A service in a new VM `name` on `node`, which `build` finishes: for
    /// what needs its own kernel (a GPU passed through, Docker with its
    /// own kernel modules) or stronger isolation than a container.
    #[track_caller]
    pub fn vm(name: &str, node: &Handle<Node>, build: impl FnOnce(Vm) -> Vm) -> App {
        let vm = build(Vm::new(name, node));
        App::placed(name, Placement::Vm(Box::new(vm)))
    }

    #[track_caller]
    fn placed(name: &str, guest: Placement) -> App {
        App {
            name: name.to_string(),
            declared_at: Location::caller(),
            guest,
            data_count: 0,
            net: Vec::new(),
            backups: Vec::new(),
        }
    }

    /// What runs there and why, in a sentence or two: the guest's note
    /// (`docs`) and its Proxmox notes start with it.
    #[track_caller]
    pub fn about(mut self, text: &str) -> App {
        let here = Location::caller();
        self.with_spec(|spec| {
            spec.annotations
                .insert(ABOUT_ANNOTATION.into(), Value::from(text));
            spec.field_locs.insert(ABOUT_ANNOTATION.into(), here);
        });
        self
    }

    /// Its NIC (`net0`) on `vlan`: the zone is the VLAN's, the address the
    /// lab's IPAM picks (or [`App::address`]), the bridge, tag and firewall
    /// flag lab-net derives.
    #[track_caller]
    pub fn vlan(mut self, vlan: &Handle<Vlan>) -> App {
        self.guest = match self.guest {
            Placement::Container(ct) => Placement::Container(Box::new(ct.nic_on("net0", vlan))),
            Placement::Vm(vm) => Placement::Vm(Box::new(vm.nic_on("net0", vlan))),
        };
        self
    }

    /// A fixed address on its VLAN (without the prefix), instead of the
    /// IPAM's pick: for what other devices are configured with.
    #[track_caller]
    pub fn address(mut self, address: &str) -> App {
        self.guest = match self.guest {
            Placement::Container(ct) => Placement::Container(Box::new(ct.address(address))),
            Placement::Vm(vm) => Placement::Vm(Box::new(vm.address(address))),
        };
        self
    }

    /// A port it serves on.
    #[track_caller]
    pub fn port(self, port: Port) -> App {
        self.net_op(NetOp::Port(port))
    }

    /// An administrative port (a UI or API that can change the lab):
    /// `check` refuses it public without Access, or reachable from the
    /// iot and guest zones.
    #[track_caller]
    pub fn admin(self, port: Port) -> App {
        self.net_op(NetOp::Admin(port))
    }

    /// It connects to `other` (another [`App`] or a lab-net `Service`) on
    /// `other`'s ports: `check` refuses a lab whose flows deny that.
    #[track_caller]
    pub fn needs(self, other: &impl ServiceHandle) -> App {
        self.net_op(NetOp::Needs(other.service().clone()))
    }

    /// Served through the internal reverse proxy as `https://host` (TLS
    /// from the proxy's CA), forwarded to `port` on the guest.
    #[track_caller]
    pub fn internal(self, proxy: &Handle<Caddy>, host: &str, port: u16) -> App {
        self.net_op(NetOp::Internal(proxy.clone(), host.to_string(), port))
    }

    /// The service speaks TLS itself behind the proxy.
    #[track_caller]
    pub fn upstream_tls(self) -> App {
        self.net_op(NetOp::UpstreamTls)
    }

    /// Served on the internet as `https://host` through `tunnel`, to `port`
    /// on the guest, for anyone: for what is meant to be public (a blog).
    /// An admin surface exposed this way fails `check` at this line.
    #[track_caller]
    pub fn public(self, tunnel: &Handle<Tunnel>, host: &str, port: u16) -> App {
        self.expose(Public::new(tunnel, host, port))
    }

    /// Served on the internet as `https://host` through `tunnel`, to `port`
    /// on the guest, behind Cloudflare Access: only `who` gets through.
    #[track_caller]
    pub fn public_behind_access(
        self,
        tunnel: &Handle<Tunnel>,
        host: &str,
        port: u16,
        who: Include,
    ) -> App {
        self.expose(Public::new(tunnel, host, port).behind_access(who))
    }

    /// Served on the internet as [`Public`] says (a path, an origin
    /// speaking TLS, reusable Access policies).
    #[track_caller]
    pub fn expose(self, public: Public) -> App {
        self.net_op(NetOp::Expose(Box::new(public)))
    }

    /// Its data: `size` on `storage` (a NAS pool's NFS storage, for data
    /// that must outlive the node), mounted at `path` (a container's mount
    /// point `mp0`, `mp1`, ...; a VM's disk `scsi1`, `scsi2`, ..., which
    /// the guest mounts at `path` itself). lab-pbs's failure analysis then
    /// knows which appliance holds it and `check` proves it has a copy
    /// elsewhere.
    #[track_caller]
    pub fn data(mut self, storage: &Handle<Storage>, path: &str, size: &str) -> App {
        let n = self.data_count;
        self.data_count += 1;
        self.guest = match self.guest {
            Placement::Container(ct) => Placement::Container(Box::new(ct.mount_point(
                &format!("mp{n}"),
                storage,
                size,
                path,
            ))),
            Placement::Vm(vm) => {
                Placement::Vm(Box::new(vm.disk(&format!("scsi{}", n + 1), storage, size)))
            }
        };
        self
    }

    /// Backed up by `job` (a PVE backup job, declared before the app): the
    /// job selects the guest.
    #[track_caller]
    pub fn backup(mut self, job: &Handle<BackupJob>) -> App {
        self.backups.push((job.clone(), Location::caller()));
        self
    }

    #[track_caller]
    fn net_op(mut self, op: NetOp) -> App {
        self.net.push((op, Location::caller()));
        self
    }

    pub(crate) fn with_spec(&mut self, f: impl FnOnce(&mut lab_core::ResourceSpec)) {
        match &mut self.guest {
            Placement::Container(ct) => f(ct.spec_mut()),
            Placement::Vm(vm) => f(vm.spec_mut()),
        }
    }
}

/// What [`App::add_to`] returns: the guest and the service, for what else
/// the lab says about them (a flow, another app's `needs`).
#[derive(Clone, Debug)]
pub struct AppHandle {
    /// The guest it runs in.
    pub guest: AppGuest,
    /// Its lab-net service (ports, exposure).
    pub service: Handle<Service>,
}

/// The guest an [`App`] runs in.
#[derive(Clone, Debug)]
pub enum AppGuest {
    /// An LXC container.
    Container(Handle<Container>),
    /// A VM.
    Vm(Handle<Vm>),
}

impl AppGuest {
    /// The guest's address (`proxmox.ct.photos`).
    pub fn address(&self) -> &lab_core::Address {
        match self {
            AppGuest::Container(h) => h.address(),
            AppGuest::Vm(h) => h.address(),
        }
    }
}

/// A handle [`App::needs`] accepts: an [`AppHandle`] or a lab-net
/// `Handle<Service>`.
pub trait ServiceHandle {
    /// The lab-net service.
    fn service(&self) -> &Handle<Service>;
}

impl ServiceHandle for AppHandle {
    fn service(&self) -> &Handle<Service> {
        &self.service
    }
}

impl ServiceHandle for Handle<Service> {
    fn service(&self) -> &Handle<Service> {
        self
    }
}
