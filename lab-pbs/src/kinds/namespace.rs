//! `pbs.namespace`: a namespace inside a datastore. PBS creates one level
//! at a time (`name` under an existing `parent`), so every parent must be
//! declared too (`pbs::namespace-parent`); the builder orders each
//! namespace after its parent. PBS namespaces have no comment.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `server` | `Str` | lab only: the server's address |
//! | `datastore` | `Str` | lab only: the datastore's address |
//! | `store` | `Str` | the store name; forces replacement |
//! | `ns` | `Str` | the whole path (`site/pve`): up to 7 components (8 levels with the root) of `[A-Za-z0-9_][A-Za-z0-9._-]*` (each up to 32), 256 bytes in all; forces replacement |
//!
//! Outputs ([`NamespaceOutputs`]): `ns`, `acl-path`
//! (`/datastore/<store>/<ns>`).

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

use super::Request;

/// The spec of a `pbs.namespace`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NamespaceSpec {
    /// The server's address.
    pub server: String,
    /// The datastore's address.
    pub datastore: String,
    /// The store name.
    pub store: String,
    /// The namespace path.
    pub ns: String,
}

impl NamespaceSpec {
    /// The ACL path of this namespace.
    pub fn acl_path(&self) -> String {
        format!("/datastore/{}/{}", self.store, self.ns)
    }

    /// `POST /admin/datastore/{store}/namespace` with `name` (the last
    /// level) and `parent` (the rest, if any).
    pub fn create_request(&self) -> Request {
        let mut r = Request::new("POST", format!("/admin/datastore/{}/namespace", self.store));
        match self.ns.rsplit_once('/') {
            Some((parent, name)) => {
                r.put("name", name);
                r.put("parent", parent);
            }
            None => r.put("name", &self.ns),
        }
        r
    }
}

/// The outputs of a namespace.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NamespaceOutputs {
    /// The namespace path.
    pub ns: String,
    /// `/datastore/<store>/<ns>`.
    pub acl_path: String,
}

impl Kind for NamespaceSpec {
    const KIND: &'static str = super::NAMESPACE;
    type Outputs = NamespaceOutputs;

    /// The namespace in its store.
    fn identity(&self) -> Option<String> {
        Some(format!("namespace {}:{}", self.store, self.ns))
    }
}
