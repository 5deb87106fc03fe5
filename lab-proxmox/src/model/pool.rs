//! Resource pools: named groups of guests (for permissions and backups).

use lab_core::{Handle, Output, Resource, ResourceSpec};

use crate::kinds;

/// A resource pool (`proxmox.pool`); its name is the pool id. Guests join
/// with `.pool(&pool)`.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let apps = lab.add(Pool::new("apps").comment("applications"));
/// let spec = lab.resource(apps.address()).unwrap();
/// assert_eq!(spec.attrs["poolid"], Value::from("apps"));
/// assert_eq!(spec.attrs["comment"], Value::from("applications"));
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    spec: ResourceSpec,
}

impl Pool {
    /// The kind, `proxmox.pool`.
    pub const KIND: &'static str = kinds::POOL;

    /// The pool with id `id`.
    #[track_caller]
    pub fn new(id: impl AsRef<str>) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, id.as_ref());
        spec.check_set = Some(crate::checks::SET);
        spec.set("poolid", id.as_ref());
        Pool { spec }
    }

    /// A comment shown in the web interface.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        self.spec.set("comment", comment);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Pool {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a pool.
pub trait PoolOutputs {
    /// The pool id.
    #[track_caller]
    fn poolid(&self) -> Output<String>;
}

impl PoolOutputs for Handle<Pool> {
    #[track_caller]
    fn poolid(&self) -> Output<String> {
        self.output("poolid")
    }
}
