//! NAS pools exporting NFS (model only).

use lab_core::{Handle, Output, Resource, ResourceSpec};

use super::common::{ip_problem, parse_size_gb, SIZE_HELP};
use crate::kinds;

/// A pool on a NAS that exports a directory over NFS
/// (`proxmox.nas-pool`, model only): `server`, `export`, and with
/// `.on(&nas)` the appliance it lives on. [`super::Storage::nfs`] mounts it.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
/// let tank = lab.add(NasPool::new("tank").server("10.0.0.5").export("/mnt/tank/pve").on(&nas));
/// let spec = lab.resource(tank.address()).unwrap();
/// assert_eq!(spec.attrs["server"], Value::from("10.0.0.5"));
/// assert_eq!(spec.attrs["appliance"], Value::from("appliance.nas"));
/// ```
#[derive(Clone, Debug)]
pub struct NasPool {
    spec: ResourceSpec,
}

impl NasPool {
    /// The kind, `proxmox.nas-pool`.
    pub const KIND: &'static str = kinds::NAS_POOL;

    /// A pool called `name` (the name is only the lab's).
    #[track_caller]
    pub fn new(name: impl AsRef<str>) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, name.as_ref());
        spec.check_set = Some(crate::checks::SET);
        spec.managed = false;
        NasPool { spec }
    }

    /// The NFS server: a host name or an IP address.
    #[track_caller]
    pub fn server(mut self, server: &str) -> Self {
        let looks_like_ip = server.chars().all(|c| c.is_ascii_digit() || c == '.');
        if server.is_empty() || (looks_like_ip && ip_problem(server, false).is_some()) {
            self.spec.invalid(
                "server",
                format!("`{server}` is not a host name or IP address"),
                "write the NAS's address, like `10.0.0.5` or `nas.lan`",
            );
        }
        self.spec.set("server", server);
        self
    }

    /// The exported directory, an absolute path (`/mnt/tank/pve`).
    #[track_caller]
    pub fn export(mut self, path: &str) -> Self {
        if !path.starts_with('/') {
            self.spec.invalid(
                "export",
                format!("`{path}` is not an absolute path"),
                "write the exported directory as the NAS shows it, like `/mnt/tank/pve`",
            );
        }
        self.spec.set("export", path);
        self
    }

    /// The pool's usable size (`8T`), for the capacity-on-loss analysis:
    /// can the surviving pools hold a restore of what lived on a lost NAS?
    #[track_caller]
    pub fn capacity(mut self, size: &str) -> Self {
        match parse_size_gb(size) {
            Ok(gib) => self.spec.set("capacity_gb", gib),
            Err(e) => self.spec.invalid("capacity_gb", e, SIZE_HELP),
        }
        self
    }

    /// How much data lives on the pool outside any guest's disk (photos,
    /// media, documents shared over NFS/SMB): the data the failure-domain
    /// analysis must find a copy of.
    #[track_caller]
    pub fn data(mut self, size: &str) -> Self {
        match parse_size_gb(size) {
            Ok(gib) => self.spec.set("data_gb", gib),
            Err(e) => self.spec.invalid("data_gb", e, SIZE_HELP),
        }
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for NasPool {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// The values of a NAS pool, as references other resources can take.
///
/// A NAS pool is model only: these resolve from its attributes (see the
/// module documentation).
pub trait NasPoolOutputs {
    /// The NFS server.
    #[track_caller]
    fn server(&self) -> Output<String>;
    /// The exported directory.
    #[track_caller]
    fn export(&self) -> Output<String>;
}

impl NasPoolOutputs for Handle<NasPool> {
    #[track_caller]
    fn server(&self) -> Output<String> {
        self.output("server")
    }
    #[track_caller]
    fn export(&self) -> Output<String> {
        self.output("export")
    }
}
