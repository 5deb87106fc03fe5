//! PBS servers: one provider instance each, placed on an appliance or in a
//! Proxmox guest.

use lab_core::{Handle, Output, ProviderHandle, Resource, ResourceSpec};
use lab_proxmox::model::{Container, Vm};

use super::common::{fingerprint_problem, host_problem, MAX_SERVER_NAME, SEP};
use crate::kinds;

/// A Proxmox Backup Server (`pbs.server`). It is also a provider instance:
/// its resource name is the name the lab registers its provider under, and
/// every resource built from its handle (datastores, users, jobs, and
/// everything built from those) is bound to that instance, so a lab with a
/// primary and an off-site server never says `.provider(..)`.
///
/// Declare it with [`PbsServer::instance`], from the handle
/// `lab.register_provider_as(name, ..)` returned: the server takes the
/// instance's name and is bound to it. [`PbsServer::new`] names the server
/// alone; its resources are then bound to an instance of that name, which
/// the lab must register (`core::provider-binding` says so), and the server
/// itself is applied by the only PBS instance (with two, bind it with
/// `.provider(..)` or use `instance`).
///
/// Place it with `.on(&appliance)` (its own box) or [`PbsServer::in_guest`]
/// (a VM or container on a Proxmox node, whose failure domain is then that
/// guest's node and disks).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
///
/// let mut lab = Lab::new("home");
/// let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20").on(&pbs_box));
/// let spec = lab.resource(primary.address()).unwrap();
/// assert_eq!(spec.attrs["host"], Value::from("10.0.0.20"));
/// assert_eq!(spec.attrs["port"], Value::from(8007));
/// assert_eq!(spec.attrs["appliance"], Value::from("appliance.pbs-box"));
/// // What is built from its handle is bound to the instance `primary`.
/// let store = lab.add(Datastore::new(&primary, "backup", "/mnt/backup"));
/// assert_eq!(lab.resource(store.address()).unwrap().provider.as_ref().unwrap().name, "primary");
/// ```
#[derive(Clone, Debug)]
pub struct PbsServer {
    spec: ResourceSpec,
}

impl PbsServer {
    /// The kind, `pbs.server`.
    pub const KIND: &'static str = kinds::SERVER;

    /// The server called `name` (the name of its provider instance; at
    /// most 24 characters, no `--`, not ending in `-`), whose API is at
    /// `host` (a DNS name or an IP address), port 8007.
    #[track_caller]
    pub fn new(name: impl AsRef<str>, host: &str) -> Self {
        let name = name.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        spec.command_set = Some(crate::commands::COMMANDS);
        spec.picture_set = Some(crate::picture::PICTURES);
        spec.note_set = Some(crate::notes::NOTES);
        if name.contains(SEP) || name.ends_with('-') || name.len() > MAX_SERVER_NAME {
            spec.invalid(
                "name",
                format!(
                    "`{name}` cannot name a PBS server: server names are at most \
                     {MAX_SERVER_NAME} characters, without `{SEP}` and not ending in `-` \
                     (the addresses of its resources begin `<server>{SEP}`)"
                ),
                "name the server like `primary` or `pbs-offsite`",
            );
        }
        if let Some(p) = host_problem(host) {
            spec.invalid(
                "host",
                p,
                "write the server's address, like `10.0.0.20` or `pbs.lan`",
            );
        }
        spec.set("host", host);
        spec.set("port", kinds::DEFAULT_PORT);
        PbsServer { spec }
    }

    /// The server behind provider instance `instance` (its name is the
    /// instance's), at `host`.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_core::testing::MemoryProvider;
    /// use lab_pbs::model::*;
    /// let mut lab = Lab::new("home");
    /// let offsite = lab.register_provider_as(
    ///     "offsite",
    ///     MemoryProvider::new().with_kinds(lab_pbs::kinds::ALL).shared(),
    /// );
    /// let server = lab.add(PbsServer::instance(&offsite, "pbs.offsite.example"));
    /// assert_eq!(server.address().to_string(), "pbs.server.offsite");
    /// ```
    #[track_caller]
    pub fn instance(instance: &ProviderHandle, host: &str) -> Self {
        PbsServer::new(instance.name(), host).provider(instance)
    }

    /// The API port, when it is not 8007.
    #[track_caller]
    pub fn port(mut self, port: u16) -> Self {
        if port == 0 {
            self.spec.invalid(
                "port",
                "port 0 is not a port",
                "leave .port(..) out for 8007",
            );
        }
        self.spec.set("port", i64::from(port));
        self
    }

    /// Pins the server's certificate: its SHA-256 fingerprint
    /// (`AA:BB:..`, as `proxmox-backup-manager cert info` prints it). A
    /// server showing another certificate is refused.
    #[track_caller]
    pub fn fingerprint(mut self, fingerprint: &str) -> Self {
        if let Some(p) = fingerprint_problem(fingerprint) {
            self.spec.invalid(
                "fingerprint",
                p,
                "copy the fingerprint from the server's dashboard or `proxmox-backup-manager cert info`",
            );
        }
        self.spec.set("fingerprint", fingerprint);
        self
    }

    /// Runs the server in a Proxmox VM or container: its failure domain is
    /// that guest's node and disks.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_pbs::model::*;
    /// use lab_proxmox::model::{Node, Vm};
    /// let mut lab = Lab::new("home");
    /// let pve1 = lab.add(Node::new("pve1"));
    /// let vm = lab.add(Vm::new("pbs", &pve1));
    /// let server = lab.add(PbsServer::new("primary", "10.0.0.20").in_guest(&vm));
    /// let spec = lab.resource(server.address()).unwrap();
    /// assert_eq!(spec.attrs["guest"], Value::from("proxmox.vm.pbs"));
    /// ```
    #[track_caller]
    pub fn in_guest<G: Guest>(mut self, guest: &Handle<G>) -> Self {
        self.spec.set_ref("guest", guest);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for PbsServer {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// A Proxmox guest a PBS server can run in ([`Vm`], [`Container`]).
pub trait Guest: sealed::Sealed {}
impl Guest for Vm {}
impl Guest for Container {}
mod sealed {
    pub trait Sealed {}
    impl Sealed for lab_proxmox::model::Vm {}
    impl Sealed for lab_proxmox::model::Container {}
}

/// Outputs of a server.
pub trait ServerOutputs {
    /// Its host, as declared.
    #[track_caller]
    fn host(&self) -> Output<String>;
    /// Its port, as declared.
    #[track_caller]
    fn port(&self) -> Output<i64>;
    /// The SHA-256 fingerprint of its certificate, read from the server.
    #[track_caller]
    fn fingerprint(&self) -> Output<String>;
    /// Its version, read from the server (`GET /version`).
    #[track_caller]
    fn version(&self) -> Output<String>;
}

impl ServerOutputs for Handle<PbsServer> {
    #[track_caller]
    fn host(&self) -> Output<String> {
        self.output("host")
    }
    #[track_caller]
    fn port(&self) -> Output<i64> {
        self.output("port")
    }
    #[track_caller]
    fn fingerprint(&self) -> Output<String> {
        self.output("fingerprint")
    }
    #[track_caller]
    fn version(&self) -> Output<String> {
        self.output("version")
    }
}
