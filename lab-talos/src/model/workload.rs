//! [`Workload`]: an application on the Talos cluster (`talos.workload`),
//! written as Kubernetes manifests into a folder that the user's GitOps
//! tool (Flux or Argo CD) applies, by [`crate::provider::WorkloadFolder`].
//!
//! Why a folder and not the Kubernetes API: a homelab's cluster is usually
//! already driven by GitOps, and two writers of one Deployment fight. `lab`
//! writes what its code says into Git-ready files, and Flux or Argo CD
//! remain the only thing that applies them. The builder therefore refuses
//! what must not go to Git (a secret's value) and what the cluster would
//! refuse later (bad names, ports, sizes, an unpinned image), at the line
//! that wrote it.

use std::panic::Location;

use lab_core::diag::Loc;
use lab_core::model::Problem;
use lab_core::{Handle, Input, Resource, ResourceSpec, Secret, Value};

use super::kube::{
    bytes_problem, cpu_problem, dns1035_label_problem, dns1123_label_problem,
    dns1123_subdomain_problem, env_name_problem, export_problem, image_problem, mount_path_problem,
    port_name_problem, secret_key_problem, server_problem,
};
use super::net::parse_ip;
use super::Cluster;
use crate::kinds::{self, NfsVolume, WorkloadEnv, WorkloadPort};

/// A workload on a Talos cluster: one Deployment, its Service (when it has
/// ports), its NFS volumes, in its namespace.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_talos::model::*;
/// let mut lab = Lab::new("home");
/// let secrets = lab.add(Secrets::new("home"));
/// let cluster = lab.add(Cluster::new("home", "https://10.0.10.5:6443", &secrets));
/// let photos = lab.add(
///     Workload::new(&cluster, "photos")
///         .image("ghcr.io/immich-app/immich-server:v1.132.3")
///         .port("http", 2283)
///         .env("TZ", "Europe/Berlin")
///         .env_from_secret("DB_PASSWORD", "immich-db", "password")
///         .nfs_volume("/usr/src/app/upload", "10.0.20.5", "/mnt/hot/photos", "500Gi")
///         .memory("2Gi"),
/// );
/// let spec = lab.resource(photos.address()).unwrap();
/// assert_eq!(spec.attrs["namespace"], Value::from("photos"));
/// assert_eq!(spec.attrs["cluster"], Value::from("home"));
/// assert!(spec.problems.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Workload {
    spec: ResourceSpec,
    ports: Vec<WorkloadPort>,
    env: Vec<WorkloadEnv>,
    volumes: Vec<NfsVolume>,
    load_balancer_at: Option<Loc>,
}

impl Workload {
    /// The kind, `talos.workload`.
    pub const KIND: &'static str = kinds::WORKLOAD;

    /// Workload `name` (a DNS-1035 label: it names the Deployment and the
    /// Service) on `cluster` (from [`super::TalosHandles::cluster`]), in
    /// namespace `name` until [`Workload::namespace`], one replica. The
    /// image is required ([`Workload::image`]).
    #[track_caller]
    pub fn new(cluster: &Handle<Cluster>, name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        if let Some(p) = dns1035_label_problem(name) {
            spec.invalid(
                "name",
                format!("`{name}` is not a workload name: {p}"),
                "name workloads like `photos` or `paperless`: it names the Deployment and the \
                 Service",
            );
        }
        spec.set("cluster", cluster.address().name());
        spec.depend_on(cluster, "cluster");
        spec.set("namespace", name);
        spec.set("replicas", Value::Int(1));
        spec.set("files", kinds::FILES_AS_GENERATED);
        Workload {
            spec,
            ports: Vec::new(),
            env: Vec::new(),
            volumes: Vec::new(),
            load_balancer_at: None,
        }
    }

    /// The Kubernetes namespace (a DNS-1123 label; default: the name).
    #[track_caller]
    pub fn namespace(mut self, namespace: &str) -> Self {
        if let Some(p) = dns1123_label_problem(namespace) {
            self.spec.invalid(
                "namespace",
                format!("`{namespace}` is not a namespace: {p}"),
                "use lowercase letters, digits and `-`, like `media`",
            );
        }
        self.spec.set("namespace", namespace);
        self
    }

    /// The container image, pinned: `registry/repo:tag` (not `latest`) or
    /// `registry/repo@sha256:...`.
    #[track_caller]
    pub fn image(mut self, image: &str) -> Self {
        if let Some(p) = image_problem(image) {
            self.spec.invalid(
                "image",
                p,
                "pin the image to a release: `ghcr.io/owner/app:v1.2.3` or \
                 `ghcr.io/owner/app@sha256:<digest>`; Renovate can keep the tag current",
            );
        }
        self.spec.set("image", image);
        self
    }

    /// How many pods (default 1; 0 keeps the workload declared but stopped).
    #[track_caller]
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.spec.set("replicas", Value::Int(i64::from(replicas)));
        self
    }

    /// A container port named `name` (an IANA service name, `http`), also a
    /// port of the workload's Service (ClusterIP, or `LoadBalancer` with
    /// [`Workload::load_balancer`]).
    #[track_caller]
    pub fn port(mut self, name: &str, port: u16) -> Self {
        let i = self.ports.len();
        let here = Location::caller();
        let field = format!("ports[{i}]");
        if let Some(p) = port_name_problem(name) {
            self.problem(
                &field,
                format!("`{name}` is not a port name: {p}"),
                "name ports like `http`, `https`, `metrics`",
                here,
            );
        }
        if port == 0 {
            self.problem(
                &field,
                "port 0 is not a port".into(),
                "give the TCP port the container listens on (1 to 65535)",
                here,
            );
        }
        if let Some(j) = self.ports.iter().position(|p| p.name == name) {
            self.problem(
                &field,
                format!("port name `{name}` is already ports[{j}]"),
                "give every port its own name",
                here,
            );
        }
        if let Some(j) = self.ports.iter().position(|p| p.port == port) {
            self.problem(
                &field,
                format!("port {port} is already ports[{j}]"),
                "list each port once",
                here,
            );
        }
        self.ports.push(WorkloadPort {
            name: name.to_string(),
            port,
        });
        self.spec.field_locs.insert(field, here);
        let list = lab_core::value::encode_value(&self.ports).expect("ports encode");
        self.spec.set("ports", list);
        self
    }

    /// An environment variable with a value written in the code (and so in
    /// Git): for secrets use [`Workload::env_from_secret`].
    #[track_caller]
    pub fn env(self, name: &str, value: &str) -> Self {
        self.push_env(
            WorkloadEnv {
                name: name.to_string(),
                value: Some(value.to_string()),
                secret: None,
                key: None,
            },
            Location::caller(),
        )
    }

    /// Refused, always: a secret's value in a Kubernetes manifest would be
    /// plaintext in Git (a `Secret` manifest is only base64). The problem
    /// says what to do instead: create the Secret in the cluster with SOPS,
    /// sealed-secrets or external-secrets, and reference it with
    /// [`Workload::env_from_secret`]. The value is dropped unread.
    #[track_caller]
    pub fn env_secret(mut self, name: &str, value: impl Into<Input<Secret>>) -> Self {
        drop(value.into());
        let here = Location::caller();
        let field = format!("env[{}]", self.env.len());
        self.problem(
            &field,
            format!(
                "`{name}` would put a secret into the workload's manifests, which are written \
                 for Git: a Kubernetes Secret manifest holds its value in plaintext (base64)"
            ),
            "create the Secret in the cluster with SOPS, sealed-secrets or external-secrets, \
             then reference it by name: .env_from_secret(\"NAME\", \"<secret name>\", \"<key>\")",
            here,
        );
        self
    }

    /// An environment variable from key `key` of the existing Secret
    /// `secret` in the workload's namespace (made with SOPS, sealed-secrets
    /// or external-secrets): only the Secret's name goes to Git.
    #[track_caller]
    pub fn env_from_secret(mut self, name: &str, secret: &str, key: &str) -> Self {
        let here = Location::caller();
        let field = format!("env[{}]", self.env.len());
        if let Some(p) = dns1123_subdomain_problem(secret) {
            self.problem(
                &field,
                format!("`{secret}` is not a Secret's name: {p}"),
                "give the name of the Secret in the workload's namespace, like `immich-db`",
                here,
            );
        }
        if let Some(p) = secret_key_problem(key) {
            self.problem(
                &field,
                format!("`{key}` is not a key of a Secret: {p}"),
                "give the key inside the Secret, like `password`",
                here,
            );
        }
        self.push_env(
            WorkloadEnv {
                name: name.to_string(),
                value: None,
                secret: Some(secret.to_string()),
                key: Some(key.to_string()),
            },
            here,
        )
    }

    fn push_env(mut self, var: WorkloadEnv, here: Loc) -> Self {
        let field = format!("env[{}]", self.env.len());
        if let Some(p) = env_name_problem(&var.name) {
            self.problem(
                &field,
                format!("`{}` is not a variable name: {p}", var.name),
                "name variables like `DB_HOST`",
                here,
            );
        }
        if let Some(j) = self.env.iter().position(|e| e.name == var.name) {
            self.problem(
                &field,
                format!("variable `{}` is already env[{j}]", var.name),
                "set each variable once",
                here,
            );
        }
        self.env.push(var);
        self.spec.field_locs.insert(field, here);
        let list = lab_core::value::encode_value(&self.env).expect("env encodes");
        self.spec.attrs.insert("env".into(), list);
        self.spec.field_locs.insert("env".into(), here);
        self
    }

    /// An NFS export `server:export` of `size` (`500Gi`) mounted at
    /// `mount_path`: a PersistentVolume (NFS, ReadWriteMany, no storage
    /// class) and its PersistentVolumeClaim.
    #[track_caller]
    pub fn nfs_volume(mut self, mount_path: &str, server: &str, export: &str, size: &str) -> Self {
        let here = Location::caller();
        let field = format!("volumes[{}]", self.volumes.len());
        if let Some(p) = mount_path_problem(mount_path) {
            self.problem(
                &field,
                p,
                "mount at an absolute path inside the container, like `/data`",
                here,
            );
        }
        if let Some(p) = server_problem(server) {
            self.problem(
                &field,
                p,
                "give the NAS's address, like `10.0.20.5` or `nas-a.home.arpa`",
                here,
            );
        }
        if let Some(p) = export_problem(export) {
            self.problem(
                &field,
                p,
                "give the exported path as the NAS shows it",
                here,
            );
        }
        if let Some(p) = bytes_problem(size) {
            self.problem(&field, p, "write sizes like `500Gi`", here);
        }
        if let Some(j) = self.volumes.iter().position(|v| v.mount_path == mount_path) {
            self.problem(
                &field,
                format!("`{mount_path}` is already mounted by volumes[{j}]"),
                "mount each path once",
                here,
            );
        }
        self.volumes.push(NfsVolume {
            mount_path: mount_path.to_string(),
            server: server.to_string(),
            export: export.to_string(),
            size: size.to_string(),
        });
        self.spec.field_locs.insert(field, here);
        let list = lab_core::value::encode_value(&self.volumes).expect("volumes encode");
        self.spec.set("volumes", list);
        self
    }

    /// The CPU request (`500m`, `2`).
    #[track_caller]
    pub fn cpu(mut self, cpu: &str) -> Self {
        if let Some(p) = cpu_problem(cpu) {
            self.spec
                .invalid("cpu", p, "write `500m` for half a core, `2` for two");
        }
        self.spec.set("cpu", cpu);
        self
    }

    /// The memory request (`512Mi`, `2Gi`).
    #[track_caller]
    pub fn memory(mut self, memory: &str) -> Self {
        if let Some(p) = bytes_problem(memory) {
            self.spec.invalid("memory", p, "write `512Mi` or `2Gi`");
        }
        self.spec.set("memory", memory);
        self
    }

    /// Makes the Service a `LoadBalancer` at `ip` (an address MetalLB or
    /// Cilium's LB IPAM hands out), instead of `ClusterIP`.
    #[track_caller]
    pub fn load_balancer(mut self, ip: &str) -> Self {
        if let Err(p) = parse_ip(ip) {
            self.spec.invalid(
                "load_balancer",
                p,
                "give the IP the Service answers on, from the load balancer's pool",
            );
        }
        self.spec.set("load_balancer", ip);
        self.load_balancer_at = Some(Location::caller());
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }

    fn problem(&mut self, field: &str, message: String, help: &str, loc: Loc) {
        self.spec.problems.push(Problem {
            field: field.to_string(),
            message,
            help: help.to_string(),
            loc,
        });
    }
}

impl Resource for Workload {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    /// The spec, with what only the whole builder can tell: an image must
    /// be given, and a load balancer needs ports.
    fn into_spec(mut self) -> ResourceSpec {
        if !self.spec.attrs.contains_key("image") {
            let at = self.spec.declared_at;
            self.problem(
                "image",
                format!("workload `{}` has no image", self.spec.name()),
                "add .image(\"ghcr.io/owner/app:v1.2.3\") (a tag or digest, not `latest`)",
                at,
            );
        }
        if let (Some(at), true) = (self.load_balancer_at, self.ports.is_empty()) {
            self.problem(
                "load_balancer",
                format!(
                    "workload `{}` has a load balancer but no ports, so its Service would \
                     answer on nothing",
                    self.spec.name()
                ),
                "add the ports it serves with .port(\"http\", 8080)",
                at,
            );
        }
        self.spec
    }
}

/// Outputs of a workload.
pub trait WorkloadOutputs {
    /// The folder holding its manifests.
    #[track_caller]
    fn folder(&self) -> lab_core::Output<String>;
    /// Its Service's cluster DNS name (`<name>.<namespace>.svc.cluster.local`).
    #[track_caller]
    fn service(&self) -> lab_core::Output<String>;
}

impl WorkloadOutputs for Handle<Workload> {
    #[track_caller]
    fn folder(&self) -> lab_core::Output<String> {
        self.output("folder")
    }
    #[track_caller]
    fn service(&self) -> lab_core::Output<String> {
        self.output("service")
    }
}
