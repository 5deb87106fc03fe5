//! Storages: NFS storages mounted from a NAS pool (managed), and the
//! storages a node already has (`local`, `local-lvm`), declared by id.

use std::collections::BTreeSet;
use std::fmt;

use lab_core::value::OutputRef;
use lab_core::{Handle, Output, Resource, ResourceSpec, Value};

use super::common::storage_id_problem;
use super::nas::NasPool;
use super::node::Node;
use crate::kinds;

/// A content type a storage allows (`content=images,rootdir`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Content {
    /// VM disks (and cloud-init drives).
    Images,
    /// Container root filesystems and mount points.
    Rootdir,
    /// Container templates.
    Vztmpl,
    /// ISO images.
    Iso,
    /// Backups (vzdump).
    Backup,
    /// Snippets (cloud-init custom files, hook scripts).
    Snippets,
    /// Disk images to import (`import-from`), e.g. cloud images.
    Import,
}

impl Content {
    /// Every content type.
    pub const ALL: [Content; 7] = [
        Content::Images,
        Content::Rootdir,
        Content::Vztmpl,
        Content::Iso,
        Content::Backup,
        Content::Snippets,
        Content::Import,
    ];

    /// The name Proxmox uses (`images`, `rootdir`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Content::Images => "images",
            Content::Rootdir => "rootdir",
            Content::Vztmpl => "vztmpl",
            Content::Iso => "iso",
            Content::Backup => "backup",
            Content::Snippets => "snippets",
            Content::Import => "import",
        }
    }
}

impl fmt::Display for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A storage (`proxmox.storage`); its resource name is the Proxmox storage
/// id, which is what guests' `storage` fields hold.
///
/// Two sorts:
///
/// - [`Storage::nfs`]: an NFS storage the lab creates, mounted from a
///   [`NasPool`]; `server` and `export` come from the pool (or
///   `.server()`/`.export()`), `pool` records the pool's address so the
///   failure domain is storage → pool → appliance. Content defaults to
///   `images`, as in Proxmox.
/// - [`Storage::existing`]: a storage the nodes already have, declared so
///   that checks know its content types and nodes; put it `.on(..)` the
///   node's local disk.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1"));
/// let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
/// let tank = lab.add(NasPool::new("tank").server("10.0.0.5").export("/mnt/tank/pve").on(&nas));
/// let nfs = lab.add(
///     Storage::nfs("tank-nfs", &tank)
///         .content(&[Content::Rootdir, Content::Images])
///         .mount_options("vers=4.2"),
/// );
/// let spec = lab.resource(nfs.address()).unwrap();
/// assert_eq!(spec.attrs["type"], Value::from("nfs"));
/// assert_eq!(spec.attrs["content"], Value::from(vec!["images", "rootdir"]));
/// assert_eq!(spec.attrs["pool"], Value::from("proxmox.nas-pool.tank"));
///
/// let local = lab.add(Storage::existing("local").content(&[Content::Iso]).node(&pve1));
/// let spec = lab.resource(local.address()).unwrap();
/// assert_eq!(spec.attrs["nodes"], Value::from(vec!["pve1"]));
/// assert!(!spec.managed);
/// ```
#[derive(Clone, Debug)]
pub struct Storage {
    spec: ResourceSpec,
    nfs: bool,
    content: BTreeSet<&'static str>,
    nodes: Vec<String>,
}

impl Storage {
    /// The kind, `proxmox.storage`.
    pub const KIND: &'static str = kinds::STORAGE;

    #[track_caller]
    fn base(id: &str, nfs: bool) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, id);
        spec.check_set = Some(crate::checks::SET);
        if let Some(p) = storage_id_problem(id) {
            spec.invalid(
                "storage",
                p,
                "name the storage like `local-lvm` or `tank-nfs`",
            );
        }
        spec.set("storage", id);
        Storage {
            spec,
            nfs,
            content: BTreeSet::new(),
            nodes: Vec::new(),
        }
    }

    /// An NFS storage with id `id`, mounting `pool`'s export.
    ///
    /// `server` and `export` are references to the pool's values; the
    /// storage records `pool` (an edge to it) for the failure-domain checks.
    #[track_caller]
    pub fn nfs(id: impl AsRef<str>, pool: &Handle<NasPool>) -> Self {
        let mut s = Self::base(id.as_ref(), true);
        s.spec.set("type", "nfs");
        // References to the pool's values; the one edge is `pool` below.
        for field in ["server", "export"] {
            let r = OutputRef {
                address: pool.address().clone(),
                output: field.to_string(),
            };
            s.spec.set(field, Value::Ref(r));
        }
        s.content.insert(Content::Images.as_str());
        s.spec.set("content", vec![Content::Images.as_str()]);
        s.spec.set_ref("pool", pool);
        s
    }

    /// A storage the nodes already have (model only), by id.
    #[track_caller]
    pub fn existing(id: impl AsRef<str>) -> Self {
        let mut s = Self::base(id.as_ref(), false);
        s.spec.managed = false;
        s.spec.set("content", Vec::<String>::new());
        s.spec.set("shared", false);
        s.spec.set("nodes", Vec::<String>::new());
        s
    }

    /// The content types it allows (replaces those given before; lowered
    /// sorted).
    #[track_caller]
    pub fn content(mut self, content: &[Content]) -> Self {
        self.content = content.iter().map(|c| c.as_str()).collect();
        let list: Vec<&str> = self.content.iter().copied().collect();
        self.spec.set("content", list);
        self
    }

    /// Limits the storage to a node (call once per node). Guests on other
    /// nodes cannot use it (`proxmox::storage-not-on-node`). For an existing
    /// storage no node means every node.
    #[track_caller]
    pub fn node(mut self, node: &Handle<Node>) -> Self {
        let name = node.address().name().to_string();
        self.spec.depend_on(node, "nodes");
        if !self.nodes.contains(&name) {
            self.nodes.push(name);
        }
        self.spec.set("nodes", self.nodes.clone());
        self
    }

    /// NFS mount options (`vers=4.2`).
    #[track_caller]
    pub fn mount_options(mut self, options: &str) -> Self {
        if !self.nfs {
            self.spec.invalid(
                "options",
                "mount options apply to NFS storages only",
                "remove .mount_options(..) from this existing storage",
            );
            return self;
        }
        self.spec.set("options", options);
        self
    }

    /// The NFS server, instead of the pool's.
    #[track_caller]
    pub fn server(mut self, server: &str) -> Self {
        if self.nfs_only("server") {
            self.spec.set("server", server);
        }
        self
    }

    /// The exported directory, instead of the pool's.
    #[track_caller]
    pub fn export(mut self, path: &str) -> Self {
        if !self.nfs_only("export") {
            return self;
        }
        if !path.starts_with('/') {
            self.spec.invalid(
                "export",
                format!("`{path}` is not an absolute path"),
                "write the exported directory like `/mnt/tank/pve`",
            );
        }
        self.spec.set("export", path);
        self
    }

    /// Says whether an existing storage is shared between nodes (NFS
    /// storages always are).
    #[track_caller]
    pub fn shared(mut self, shared: bool) -> Self {
        if self.nfs {
            self.spec.invalid(
                "shared",
                "NFS storages are always shared",
                "remove .shared(..) from this NFS storage",
            );
            return self;
        }
        self.spec.set("shared", shared);
        self
    }

    #[track_caller]
    fn nfs_only(&mut self, field: &str) -> bool {
        if !self.nfs {
            self.spec.invalid(
                field,
                format!("`{field}` applies to NFS storages only"),
                "declare an NFS storage with Storage::nfs(id, &pool)",
            );
        }
        self.nfs
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Storage {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// Outputs of a storage.
pub trait StorageOutputs {
    /// The storage id, once the storage exists.
    #[track_caller]
    fn storage_id(&self) -> Output<String>;
}

impl StorageOutputs for Handle<Storage> {
    #[track_caller]
    fn storage_id(&self) -> Output<String> {
        self.output("storage")
    }
}
