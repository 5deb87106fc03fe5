//! Storages: NFS storages mounted from a NAS pool and Proxmox Backup
//! Server datastores (managed), and the storages a node already has
//! (`local`, `local-lvm`), declared by id.

use std::collections::BTreeSet;
use std::fmt;

use lab_core::value::OutputRef;
use lab_core::{Handle, Input, Output, Resource, ResourceSpec, Secret, Value};

use super::common::{storage_id_problem, TextInput};
use super::nas::NasPool;
use super::node::Node;
use crate::kinds::{self, Retention};

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
/// Three sorts:
///
/// - [`Storage::nfs`]: an NFS storage the lab creates, mounted from a
///   [`NasPool`]; `server` and `export` come from the pool (or
///   `.server()`/`.export()`), `pool` records the pool's address so the
///   failure domain is storage → pool → appliance. Content defaults to
///   `images`, as in Proxmox.
/// - [`Storage::pbs`]: a Proxmox Backup Server datastore (type `pbs`,
///   content `backup`): server, datastore, token and fingerprint, each a
///   value or another resource's output ([`Input`]), so a PBS datastore and
///   token made by the lab feed it. PVE contacts the PBS when the storage is
///   created, so those must exist first (the inputs are the edges).
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
///
/// let pbs = lab.add(
///     Storage::pbs("pbs-daily", "10.0.0.9", "daily")
///         .namespace("pve1")
///         .token("backup@pbs!pve", Secret::new("0f6c..."))
///         .fingerprint("AB:".repeat(31) + "AB")
///         .prune_backups(Retention::new().keep_daily(7)),
/// );
/// let spec = lab.resource(pbs.address()).unwrap();
/// assert_eq!(spec.attrs["type"], Value::from("pbs"));
/// assert_eq!(spec.attrs["content"], Value::from(vec!["backup"]));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Storage {
    spec: ResourceSpec,
    sort: Sort,
    content: BTreeSet<&'static str>,
    nodes: Vec<String>,
}

/// Which sort of storage a builder makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sort {
    Nfs,
    Pbs,
    Existing,
}

impl Storage {
    /// The kind, `proxmox.storage`.
    pub const KIND: &'static str = kinds::STORAGE;

    #[track_caller]
    fn base(id: &str, sort: Sort) -> Self {
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
            sort,
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
        let mut s = Self::base(id.as_ref(), Sort::Nfs);
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

    /// A Proxmox Backup Server storage with id `id`: datastore `datastore`
    /// on the PBS at `server` (host name or address), content `backup`.
    /// Give the token with [`Storage::token`] and the certificate's
    /// fingerprint with [`Storage::fingerprint`] (a PBS with a self-signed
    /// certificate needs it).
    ///
    /// `server` and `datastore` may be other resources' outputs (a
    /// lab-pbs datastore's name): the storage then depends on them.
    #[track_caller]
    pub fn pbs(
        id: impl AsRef<str>,
        server: impl Into<TextInput>,
        datastore: impl Into<TextInput>,
    ) -> Self {
        let mut s = Self::base(id.as_ref(), Sort::Pbs);
        s.spec.set("type", "pbs");
        let server: Input<String> = server.into().into();
        if let Input::Value(v) = &server {
            if v.trim().is_empty() || v.contains(['/', ' ']) {
                s.spec.invalid(
                    "server",
                    format!("`{v}` is not a host name or address"),
                    "give the PBS host like `10.0.0.9` or `pbs.home.arpa`",
                );
            }
        }
        s.spec.set_input::<String>("server", server);
        let datastore: Input<String> = datastore.into().into();
        if let Input::Value(v) = &datastore {
            if let Some(p) = pbs_datastore_problem(v) {
                s.spec.invalid(
                    "datastore",
                    p,
                    "name the datastore as PBS does: 3 to 32 of `A-Za-z0-9_.-`, not starting with `.` or `-`",
                );
            }
        }
        s.spec.set_input::<String>("datastore", datastore);
        s.content.insert(Content::Backup.as_str());
        s.spec.set("content", vec![Content::Backup.as_str()]);
        s
    }

    /// A storage the nodes already have (model only), by id.
    #[track_caller]
    pub fn existing(id: impl AsRef<str>) -> Self {
        let mut s = Self::base(id.as_ref(), Sort::Existing);
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
        if self.sort == Sort::Pbs {
            if let Some(c) = content.iter().find(|c| **c != Content::Backup) {
                self.spec.invalid(
                    "content",
                    format!("a PBS storage holds backups only, not `{c}`"),
                    "leave .content(..) out (a PBS storage's content is `backup`)",
                );
                return self;
            }
        }
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
        if self.sort != Sort::Nfs {
            self.spec.invalid(
                "options",
                "mount options apply to NFS storages only",
                "remove .mount_options(..) from this storage",
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
        if self.sort != Sort::Existing {
            self.spec.invalid(
                "shared",
                "NFS and PBS storages are always shared",
                "remove .shared(..) from this storage",
            );
            return self;
        }
        self.spec.set("shared", shared);
        self
    }

    #[track_caller]
    fn nfs_only(&mut self, field: &str) -> bool {
        if self.sort != Sort::Nfs {
            self.spec.invalid(
                field,
                format!("`{field}` applies to NFS storages only"),
                "declare an NFS storage with Storage::nfs(id, &pool)",
            );
        }
        self.sort == Sort::Nfs
    }

    #[track_caller]
    fn pbs_only(&mut self, field: &str) -> bool {
        if self.sort != Sort::Pbs {
            self.spec.invalid(
                field,
                format!("`{field}` applies to PBS storages only"),
                "declare a PBS storage with Storage::pbs(id, server, datastore)",
            );
        }
        self.sort == Sort::Pbs
    }

    /// The PBS namespace the backups go into (absent: the datastore's
    /// root), e.g. `pve1` or `site/pve1`.
    #[track_caller]
    pub fn namespace(mut self, namespace: impl Into<TextInput>) -> Self {
        if !self.pbs_only("namespace") {
            return self;
        }
        let ns: Input<String> = namespace.into().into();
        if let Input::Value(v) = &ns {
            if let Some(p) = pbs_namespace_problem(v) {
                self.spec.invalid(
                    "namespace",
                    p,
                    "write the namespace like `pve1` or `site/pve1` (at most 7 levels of `A-Za-z0-9_.-`)",
                );
            }
        }
        self.spec.set_input::<String>("namespace", ns);
        self
    }

    /// The PBS API port, when not 8007.
    #[track_caller]
    pub fn port(mut self, port: u16) -> Self {
        if self.pbs_only("port") {
            if port == 0 {
                self.spec.invalid(
                    "port",
                    "port 0 is not a port",
                    "give the PBS port, e.g. 8007",
                );
            }
            self.spec.set("port", i64::from(port));
        }
        self
    }

    /// The PBS API token: its id (`user@realm!name`, PVE's `username`) and
    /// its secret (PVE's `password`, a [`Secret`]: never shown, sealed in
    /// the state; PVE never returns it).
    #[track_caller]
    pub fn token(
        mut self,
        token_id: impl Into<TextInput>,
        secret: impl Into<Input<Secret>>,
    ) -> Self {
        if !self.pbs_only("username") {
            return self;
        }
        let id: Input<String> = token_id.into().into();
        if let Input::Value(v) = &id {
            if !is_pbs_auth_id(v) {
                self.spec.invalid(
                    "username",
                    format!("`{v}` is not a PBS token id"),
                    "give the token id like `backup@pbs!pve` (user@realm!token)",
                );
            }
        }
        self.spec.set_input::<String>("username", id);
        self.spec.set_input::<Secret>("password", secret);
        self
    }

    /// The SHA-256 fingerprint of the PBS's certificate (`AA:BB:..`, 32
    /// bytes), which PVE pins.
    #[track_caller]
    pub fn fingerprint(mut self, fingerprint: impl Into<TextInput>) -> Self {
        if !self.pbs_only("fingerprint") {
            return self;
        }
        let fp: Input<String> = fingerprint.into().into();
        if let Input::Value(v) = &fp {
            if crate::api::tls::parse_fingerprint(v).is_none() {
                self.spec.invalid(
                    "fingerprint",
                    format!("`{v}` is not a SHA-256 fingerprint"),
                    "copy the fingerprint from the PBS dashboard (32 bytes of hex, `AA:BB:...`)",
                );
            }
        }
        self.spec.set_input::<String>("fingerprint", fp);
        self
    }

    /// Client-side encryption: `Secret::new("autogen")` makes PVE generate
    /// a key, or the key's JSON. Set at create only (PVE never returns it).
    #[track_caller]
    pub fn encryption_key(mut self, key: impl Into<Input<Secret>>) -> Self {
        if self.pbs_only("encryption_key") {
            self.spec.set_input::<Secret>("encryption_key", key);
        }
        self
    }

    /// How many backups PVE keeps on this storage after each backup
    /// (`prune-backups`).
    #[track_caller]
    pub fn prune_backups(mut self, retention: Retention) -> Self {
        if self.sort == Sort::Existing {
            self.spec.invalid(
                "prune_backups",
                "the lab does not manage this existing storage",
                "set the retention on the backup job instead (BackupJob::retention)",
            );
            return self;
        }
        self.spec.set("prune_backups", retention);
        self
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

/// Why `name` is not a PBS datastore name (3-32 of `A-Za-z0-9_.-`, not
/// starting with `.` or `-`, as pbs-api-types `DATASTORE_SCHEMA` has it).
fn pbs_datastore_problem(name: &str) -> Option<String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    (!(ok_chars && ok_first && (3..=32).contains(&name.len())))
        .then(|| format!("`{name}` is not a PBS datastore name"))
}

/// Why `ns` is not a PBS namespace (at most 7 `/`-separated levels, each
/// like a datastore name but of any length from 1).
fn pbs_namespace_problem(ns: &str) -> Option<String> {
    if ns.is_empty() {
        return None;
    }
    let levels: Vec<&str> = ns.split('/').collect();
    let level_ok = |l: &str| {
        l.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && l.len() <= 32
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    if levels.len() > 7 {
        return Some(format!("`{ns}` has {} levels; PBS allows 7", levels.len()));
    }
    (!levels.iter().all(|l| level_ok(l))).then(|| format!("`{ns}` is not a PBS namespace"))
}

/// Whether `id` looks like `user@realm!token`.
pub(crate) fn is_pbs_auth_id(id: &str) -> bool {
    id.split_once('@')
        .and_then(|(user, rest)| rest.split_once('!').map(|(realm, t)| (user, realm, t)))
        .is_some_and(|(u, r, t)| {
            !u.is_empty() && !r.is_empty() && !t.is_empty() && !id.contains([' ', ':'])
        })
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
