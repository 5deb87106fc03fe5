//! Namespaces inside a datastore.

use lab_core::{Address, Handle, Output, Resource, ResourceSpec};

use super::common::{address_name, depend_on_address, namespace_problem, owned_spec, server_of};
use super::datastore::{store_of, Datastore};
use crate::kinds;

/// A namespace (`pbs.namespace`) in a datastore, by its whole path
/// (`site/pve`). PBS creates one level at a time under an existing parent,
/// so each parent must be declared too (`pbs::namespace-parent` reports a
/// missing one); the namespace is ordered after its parent. At most 7
/// components (`pbs::namespace-depth`).
///
/// Its outputs `ns` and `acl-path` are what jobs and ACLs take from its
/// handle.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
///
/// let mut lab = Lab::new("home");
/// let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
/// let store = lab.add(Datastore::new(&primary, "backup", "/mnt/datastore/backup"));
/// let site = lab.add(Namespace::new(&store, "site"));
/// let pve = lab.add(Namespace::new(&store, "site/pve"));
/// let spec = lab.resource(pve.address()).unwrap();
/// assert_eq!(spec.attrs["ns"], Value::from("site/pve"));
/// assert_eq!(spec.attrs["store"], Value::from("backup"));
/// // Ordered after its parent.
/// assert!(spec.deps.iter().any(|d| &d.on == site.address()));
/// ```
#[derive(Clone, Debug)]
pub struct Namespace {
    spec: ResourceSpec,
}

impl Namespace {
    /// The kind, `pbs.namespace`.
    pub const KIND: &'static str = kinds::NAMESPACE;

    /// The namespace `path` (`a/b/c`) in `store`.
    #[track_caller]
    pub fn new(store: &Handle<Datastore>, path: &str) -> Self {
        let store_name = store_of(store);
        let mut spec = owned_spec(Self::KIND, store, &namespace_local(store_name, path));
        if let Some(p) = namespace_problem(path) {
            spec.invalid(
                "ns",
                p,
                "write the path like `site/pve`: components of letters, digits, `.`, `_`, `-` \
                 joined by `/`",
            );
        }
        spec.set_ref("datastore", store);
        spec.set("store", store_name);
        spec.set("ns", path);
        if let Some((parent, _)) = path.rsplit_once('/') {
            let server = server_of(store).to_string();
            let parent_address = Address::new(
                Self::KIND,
                &address_name(&server, &namespace_local(store_name, parent)),
            );
            depend_on_address(&mut spec, parent_address, store.lab_id(), "parent");
        }
        Namespace { spec }
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

/// The local part of a namespace's address: `<store>--<a>--<b>`.
pub(crate) fn namespace_local(store: &str, path: &str) -> String {
    format!("{store}--{}", path.replace('/', "--"))
}

/// The address of namespace `path` in the datastore `store` of `server`
/// (for the checks that look for parents).
pub(crate) fn namespace_address(server: &str, store: &str, path: &str) -> Address {
    Address::new(
        kinds::NAMESPACE,
        &address_name(server, &namespace_local(store, path)),
    )
}

impl Resource for Namespace {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a namespace.
pub trait NamespaceOutputs {
    /// The namespace path (`site/pve`).
    #[track_caller]
    fn ns(&self) -> Output<String>;
    /// Its ACL path (`/datastore/<store>/site/pve`).
    #[track_caller]
    fn acl_path(&self) -> Output<String>;
}

impl NamespaceOutputs for Handle<Namespace> {
    #[track_caller]
    fn ns(&self) -> Output<String> {
        self.output("ns")
    }
    #[track_caller]
    fn acl_path(&self) -> Output<String> {
        self.output("acl-path")
    }
}
