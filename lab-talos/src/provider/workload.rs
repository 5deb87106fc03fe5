//! [`WorkloadFolder`]: the provider of `talos.workload`. Its objects are
//! folders of Kubernetes manifests for the user's GitOps tool; `lab` never
//! calls the Kubernetes API.
//!
//! One instance writes one folder (`root`), laid out for kustomize, which
//! Flux's `Kustomization` and Argo CD both read:
//!
//! ```text
//! <root>/<cluster>/kustomization.yaml            lists the namespaces
//! <root>/<cluster>/<namespace>/kustomization.yaml  namespace.yaml + the workloads
//! <root>/<cluster>/<namespace>/namespace.yaml
//! <root>/<cluster>/<namespace>/<name>/           deployment.yaml, service.yaml,
//!                                                pv.yaml, pvc.yaml, kustomization.yaml
//! ```
//!
//! Point Flux (or an Argo CD Application) at `<root>/<cluster>`. The
//! Namespace lives one level up from the workloads because two workloads
//! may share a namespace, and kustomize refuses one object listed twice.
//!
//! - Every file starts with a marker line. A workload's files carry
//!   `# managed by lab: <lab>/<address>; edits are drift`; the namespace and
//!   cluster indexes, which several workloads share, carry
//!   `# managed by lab: <lab>; rewritten from the workloads on every apply`
//!   and are rebuilt from the folders after every change.
//! - create/update write the files atomically (a temporary file renamed,
//!   mode 0644: they are meant for Git), remove the workload's files it no
//!   longer needs (`service.yaml` without ports), and refuse to overwrite a
//!   file without this resource's marker (a file of the user's, or of
//!   another lab's resource).
//! - read parses the files back into the spec ([`parse`]): a hand edit is
//!   drift on the field it changed (a file taken out of the workload's
//!   kustomization reads as the fields it held, gone); a missing file, one
//!   that lost its marker or no longer parses, or a workload the indexes no
//!   longer lead to, means the workload is gone (kustomize could not build
//!   it), so the next apply writes it again. An edit no field shows (an
//!   annotation, a second container) reads as the `files` field
//!   `edited outside lab: deployment.yaml`: drift, and an update writes the
//!   file again.
//! - delete removes only the files carrying the resource's marker, the
//!   indexes when no workload of the lab is left under them, and folders
//!   left empty; anything else stays.
//!
//! A lock file, `<root>/.lab-workloads.lock`, keeps two processes from
//! rebuilding an index at once (add it to `.gitignore`).

mod manifests;
mod parse;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lab_core::files::FileLock;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Typed, TypedProvider, Update};
use lab_core::provider::{KindSchema, OpContext, Ownership, ReadRequest};
use lab_core::{Provider, ProviderError};

use crate::kinds::{WorkloadOut, WorkloadSpec};
use manifests::{KUSTOMIZATION, NAMESPACE, WORKLOAD_FILES};

/// The provider of `talos.workload`: Kubernetes manifests in a folder.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_talos::provider::WorkloadFolder;
/// let mut lab = Lab::new("home");
/// let gitops = lab.register_provider(WorkloadFolder::new("gitops"));
/// assert_eq!(gitops.name(), "gitops");
/// ```
pub struct WorkloadFolder {
    root: PathBuf,
    writing: Mutex<()>,
}

/// The first line of every file the provider writes starts with this.
const MARKER_PREFIX: &str = "# managed by lab: ";

impl WorkloadFolder {
    /// The provider writing under `root` (relative to the working
    /// directory, like `.lab/`), as the engine takes it. It registers as
    /// instance `gitops`; a second folder needs
    /// `lab.register_provider_as("other", WorkloadFolder::new("other"))`.
    // `lab.register_provider(WorkloadFolder::new("gitops"))` reads as what
    // it does; the provider itself is `WorkloadFolder::at`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(root: impl Into<PathBuf>) -> Arc<dyn Provider> {
        Self::typed(WorkloadFolder::at(root)).shared()
    }

    /// The provider itself (see [`WorkloadFolder::new`]).
    pub fn at(root: impl Into<PathBuf>) -> WorkloadFolder {
        WorkloadFolder {
            root: root.into(),
            writing: Mutex::new(()),
        }
    }

    /// `provider` behind the [`Typed`] adapter.
    pub fn typed(provider: WorkloadFolder) -> Typed<WorkloadFolder> {
        Typed::new(provider).kind::<WorkloadSpec>()
    }

    /// The folder it writes.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of workload `name` of `spec`.
    pub fn workload_folder(&self, name: &str, spec: &WorkloadSpec) -> PathBuf {
        self.root
            .join(&spec.cluster)
            .join(&spec.namespace)
            .join(name)
    }

    fn found(&self, name: &str, spec: WorkloadSpec) -> Found<WorkloadSpec> {
        let folder = self.workload_folder(name, &spec);
        let service = if spec.ports.is_empty() {
            String::new()
        } else {
            format!("{name}.{}.svc.cluster.local", spec.namespace)
        };
        Found {
            id: format!("{}/{}/{name}", spec.cluster, spec.namespace),
            outputs: WorkloadOut {
                folder: folder.display().to_string(),
                service,
            },
            spec,
        }
    }

    /// Runs `f` holding this process's and the folder's lock.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, ProviderError>) -> Result<T, ProviderError> {
        let _here = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        std::fs::create_dir_all(&self.root).map_err(|e| io_error("create", &self.root, e))?;
        let _there = FileLock::exclusive(&self.root.join(".lab-workloads"))
            .map_err(|e| io_error("lock", &self.root, e))?;
        f()
    }

    /// Writes the workload's files and rebuilds the indexes.
    fn write(
        &self,
        name: &str,
        spec: &WorkloadSpec,
        owner: &Ownership,
    ) -> Result<(), ProviderError> {
        inside_root(name, spec)?;
        let marker = workload_marker(owner);
        let folder = self.workload_folder(name, spec);
        let files = manifests::workload_files(name, spec, &marker);
        self.locked(|| {
            // Only what it writes: a file of the user's that the workload
            // no longer needs (their own `service.yaml`) is left alone.
            for (file, _) in &files {
                refuse_foreign(&folder.join(file), &marker)?;
            }
            std::fs::create_dir_all(&folder).map_err(|e| io_error("create", &folder, e))?;
            for (file, text) in &files {
                write_shared_atomic(&folder.join(file), text.as_bytes())?;
            }
            for file in WORKLOAD_FILES {
                if !files.iter().any(|(f, _)| f == file) {
                    remove_marked(&folder.join(file), &marker)?;
                }
            }
            self.rebuild_indexes(&spec.cluster, &owner.lab)
        })
    }

    /// Rewrites `<root>/<cluster>`'s indexes from the workload folders
    /// that carry a lab marker; removes indexes with nothing left to list.
    fn rebuild_indexes(&self, cluster: &str, lab: &str) -> Result<(), ProviderError> {
        let cluster_dir = self.root.join(cluster);
        let marker = format!("{MARKER_PREFIX}{lab}; rewritten from the workloads on every apply");
        let mut namespaces = Vec::new();
        for ns in subdirs(&cluster_dir)? {
            let ns_dir = cluster_dir.join(&ns);
            let workloads: Vec<String> = subdirs(&ns_dir)?
                .into_iter()
                .filter(|w| carries_lab_marker(&ns_dir.join(w).join(KUSTOMIZATION)))
                .collect();
            let ns_index = ns_dir.join(KUSTOMIZATION);
            let ns_file = ns_dir.join(NAMESPACE);
            if workloads.is_empty() {
                remove_if_lab(&ns_index)?;
                remove_if_lab(&ns_file)?;
                remove_empty_dir(&ns_dir)?;
                continue;
            }
            refuse_foreign_index(&ns_index)?;
            refuse_foreign_index(&ns_file)?;
            let mut listed = vec![NAMESPACE];
            listed.extend(workloads.iter().map(String::as_str));
            let namespace = crate::yaml::to_string(&manifests::namespace(&ns));
            write_shared_atomic(&ns_file, format!("{marker}\n{namespace}").as_bytes())?;
            let index = crate::yaml::to_string(&manifests::kustomization(&listed));
            write_shared_atomic(&ns_index, format!("{marker}\n{index}").as_bytes())?;
            namespaces.push(ns);
        }
        let index = cluster_dir.join(KUSTOMIZATION);
        if namespaces.is_empty() {
            remove_if_lab(&index)?;
            return remove_empty_dir(&cluster_dir);
        }
        refuse_foreign_index(&index)?;
        let listed: Vec<&str> = namespaces.iter().map(String::as_str).collect();
        let text = crate::yaml::to_string(&manifests::kustomization(&listed));
        write_shared_atomic(&index, format!("{marker}\n{text}").as_bytes())
    }

    /// The spec the files of workload `name` (last recorded as `prior`)
    /// describe, or `None` when they are gone (see the module docs).
    fn read_one(
        &self,
        name: &str,
        prior: &WorkloadSpec,
        owner: &Ownership,
    ) -> Option<WorkloadSpec> {
        inside_root(name, prior).ok()?;
        let marker = workload_marker(owner);
        let folder = self.workload_folder(name, prior);
        let ns_dir = folder.parent()?;
        let cluster_dir = ns_dir.parent()?;
        // The indexes must still lead Flux to the folder.
        let lists = |index: &Path, entry: &str| {
            read_lab_file(index, None)
                .and_then(|t| crate::yaml::parse(&t).ok())
                .and_then(|d| d.into_iter().next())
                .is_some_and(|d| listed(&d).iter().any(|r| r == entry))
        };
        if !lists(&cluster_dir.join(KUSTOMIZATION), &prior.namespace)
            || !lists(&ns_dir.join(KUSTOMIZATION), name)
            || read_lab_file(&ns_dir.join(NAMESPACE), None).is_none()
        {
            return None;
        }
        let kustomization = read_lab_file(&folder.join(KUSTOMIZATION), Some(&marker))?;
        let index = crate::yaml::parse(&kustomization)
            .ok()?
            .into_iter()
            .next()?;
        let resources = listed(&index);
        let mut docs = parse::Docs::new();
        for file in WORKLOAD_FILES.iter().filter(|f| **f != KUSTOMIZATION) {
            if !resources.iter().any(|r| r == file) {
                continue;
            }
            // A listed file that is missing (or not ours) breaks the
            // kustomize build Flux runs: the workload is gone.
            let text = read_lab_file(&folder.join(file), Some(&marker))?;
            docs.insert(file, crate::yaml::parse(&text).ok()?);
        }
        if !docs.contains_key(manifests::DEPLOYMENT) {
            return None;
        }
        docs.insert(KUSTOMIZATION, vec![index]);
        let mut spec = parse::spec_from(&prior.cluster, &docs);
        let edited = parse::edited_files(name, &spec, &docs);
        if !edited.is_empty() {
            spec.files = format!("edited outside lab: {}", edited.join(", "));
        }
        Some(spec)
    }

    /// Removes the workload's marked files, its emptied folder and the
    /// indexes with nothing left.
    fn remove(
        &self,
        name: &str,
        spec: &WorkloadSpec,
        owner: &Ownership,
    ) -> Result<(), ProviderError> {
        inside_root(name, spec)?;
        let marker = workload_marker(owner);
        let folder = self.workload_folder(name, spec);
        self.locked(|| {
            for file in WORKLOAD_FILES {
                remove_marked(&folder.join(file), &marker)?;
            }
            remove_empty_dir(&folder)?;
            self.rebuild_indexes(&spec.cluster, &owner.lab)
        })
    }
}

/// Refuses a cluster, namespace or name that would lead outside the root
/// (the builders only make DNS labels; this guards hand-made specs).
fn inside_root(name: &str, spec: &WorkloadSpec) -> Result<(), ProviderError> {
    for (what, part) in [
        ("cluster", spec.cluster.as_str()),
        ("namespace", spec.namespace.as_str()),
        ("name", name),
    ] {
        if part.is_empty() || part == "." || part == ".." || part.contains(['/', '\\']) {
            return Err(ProviderError::permanent(format!(
                "the workload's {what} `{part}` is not a folder name: use a DNS label, like \
                 `media`"
            )));
        }
    }
    Ok(())
}

/// The marker line of `owner`'s files.
fn workload_marker(owner: &Ownership) -> String {
    format!(
        "{MARKER_PREFIX}{}/{}; edits are drift",
        owner.lab, owner.address
    )
}

/// The `resources` a kustomization lists.
fn listed(doc: &crate::yaml::Node) -> Vec<String> {
    doc.get("resources")
        .and_then(|r| r.as_seq())
        .map(|r| r.iter().filter_map(|n| n.scalar_text()).collect())
        .unwrap_or_default()
}

/// The file's text when its first line is `marker` (or any lab marker
/// with `None`); `None` when it is missing or someone else's.
fn read_lab_file(path: &Path, marker: Option<&str>) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let first = text.lines().next().unwrap_or_default();
    let ours = match marker {
        Some(m) => first == m,
        None => first.starts_with(MARKER_PREFIX),
    };
    ours.then_some(text)
}

fn carries_lab_marker(path: &Path) -> bool {
    read_lab_file(path, None).is_some()
}

fn io_error(what: &str, path: &Path, e: io::Error) -> ProviderError {
    ProviderError::permanent(format!("could not {what} {}: {e}", path.display()))
}

/// Refuses to overwrite `path` when it exists without `marker`.
fn refuse_foreign(path: &Path, marker: &str) -> Result<(), ProviderError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let first = text.lines().next().unwrap_or_default();
    if first == marker {
        return Ok(());
    }
    let whose = if first.starts_with(MARKER_PREFIX) {
        format!(
            "belongs to another resource ({})",
            first.trim_start_matches(MARKER_PREFIX)
        )
    } else {
        "was not written by lab".to_string()
    };
    Err(ProviderError::permanent(format!(
        "{} {whose}; lab does not overwrite it: move it away (or give the workload another \
         name or namespace), then apply again",
        path.display()
    )))
}

/// Refuses to overwrite an index that is not lab's.
fn refuse_foreign_index(path: &Path) -> Result<(), ProviderError> {
    if path.exists() && !carries_lab_marker(path) {
        return Err(ProviderError::permanent(format!(
            "{} was not written by lab, which keeps this folder's index: move it away (or \
             give the WorkloadFolder another root), then apply again",
            path.display()
        )));
    }
    Ok(())
}

fn remove_marked(path: &Path, marker: &str) -> Result<(), ProviderError> {
    if read_lab_file(path, Some(marker)).is_some() {
        std::fs::remove_file(path).map_err(|e| io_error("remove", path, e))?;
    }
    Ok(())
}

fn remove_if_lab(path: &Path) -> Result<(), ProviderError> {
    if carries_lab_marker(path) {
        std::fs::remove_file(path).map_err(|e| io_error("remove", path, e))?;
    }
    Ok(())
}

/// Removes `dir` if it exists and is empty.
fn remove_empty_dir(dir: &Path) -> Result<(), ProviderError> {
    let empty = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none());
    if empty {
        std::fs::remove_dir(dir).map_err(|e| io_error("remove", dir, e))?;
    }
    Ok(())
}

/// The names of `dir`'s subfolders, sorted (none when it is missing).
fn subdirs(dir: &Path) -> Result<Vec<String>, ProviderError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list", dir, e))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            names.extend(entry.file_name().to_str().map(str::to_string));
        }
    }
    names.sort();
    Ok(names)
}

/// Writes `bytes` to `path` atomically with mode 0644 (the files are meant
/// for Git, they hold no secret): a temporary file renamed over it.
fn write_shared_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProviderError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> io::Result<()> {
        std::fs::write(&tmp, bytes)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
        }
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| io_error("write", path, e))
}

#[async_trait]
impl TypedProvider for WorkloadFolder {
    type Snapshot = ();

    fn name(&self) -> &str {
        "gitops"
    }

    async fn snapshot(
        &self,
        _ctx: &OpContext,
        _requests: &[ReadRequest],
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[async_trait]
impl KindProvider<WorkloadSpec> for WorkloadFolder {
    /// Another cluster or namespace is another folder: replace.
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["cluster", "namespace"],
            estimate: lab_core::provider::Estimates {
                create: Duration::from_millis(20),
                update: Duration::from_millis(20),
                delete: Duration::from_millis(20),
            },
            ..Default::default()
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        _snapshot: &(),
        requests: &[Read<WorkloadSpec>],
    ) -> Result<Vec<Option<Found<WorkloadSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let name = r.address.name();
                self.read_one(name, &r.prior, &r.owner)
                    .map(|spec| self.found(name, spec))
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<WorkloadSpec>,
    ) -> Result<Found<WorkloadSpec>, ProviderError> {
        let name = req.address.name();
        self.write(name, &req.spec, &req.owner)?;
        Ok(self.found(name, req.spec))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<WorkloadSpec>,
    ) -> Result<Found<WorkloadSpec>, ProviderError> {
        let name = req.address.name();
        self.write(name, &req.spec, &req.owner)?;
        Ok(self.found(name, req.spec))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        req: Delete<WorkloadSpec>,
    ) -> Result<(), ProviderError> {
        self.remove(req.address.name(), &req.prior, &req.owner)
    }

    /// The workload's folder, when its files carry `owner`'s marker.
    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&WorkloadSpec>,
    ) -> Result<Vec<Found<WorkloadSpec>>, ProviderError> {
        let name = owner.address.name();
        Ok(desired
            .and_then(|d| self.read_one(name, d, owner))
            .map(|spec| self.found(name, spec))
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::FILES_AS_GENERATED;

    fn spec(cluster: &str, namespace: &str) -> WorkloadSpec {
        WorkloadSpec {
            cluster: cluster.into(),
            namespace: namespace.into(),
            image: "nginx:1.27".into(),
            replicas: 1,
            ports: Vec::new(),
            env: Vec::new(),
            volumes: Vec::new(),
            cpu: None,
            memory: None,
            load_balancer: None,
            files: FILES_AS_GENERATED.into(),
        }
    }

    #[test]
    fn folders_stay_inside_the_root() {
        assert!(inside_root("blog", &spec("home", "web")).is_ok());
        for (name, cluster, namespace) in [
            ("blog", "..", "web"),
            ("blog", "home", "a/b"),
            ("..", "home", "web"),
            ("blog", "home", ""),
        ] {
            let e = inside_root(name, &spec(cluster, namespace)).unwrap_err();
            assert!(e.to_string().contains("is not a folder name"), "{e}");
        }
    }
}
