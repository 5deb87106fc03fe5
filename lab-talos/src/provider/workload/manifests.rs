//! A workload's spec as Kubernetes manifests, written with the crate's Go
//! yaml.v3 emitter (4-space indentation, Go's quoting: the shape kubectl,
//! kustomize and Flux read and `yq` writes), each file headed by the
//! resource's marker line.
//!
//! The names tie the pieces together, so [`super::parse`] can read them
//! back: the Deployment and the Service are named after the workload and
//! select pods by `app.kubernetes.io/name`; volume `i` is the pod volume
//! `data-<i>`, the claim `<name>-data-<i>` in the namespace, and the
//! PersistentVolume `<namespace>.<name>.data-<i>` (PV names are
//! cluster-wide; the dots keep `a-b`/`c` and `a`/`b-c` apart), bound to that claim by `claimRef` so no other claim can
//! take it.

use crate::kinds::WorkloadSpec;
use crate::yaml::{to_string, to_string_multi, Node};

/// `app.kubernetes.io/managed-by`'s value.
pub(crate) const MANAGED_BY: &str = "lab";

/// The files of one workload, in the order its kustomization lists them.
pub(crate) const DEPLOYMENT: &str = "deployment.yaml";
/// The Service, when the workload has ports.
pub(crate) const SERVICE: &str = "service.yaml";
/// The PersistentVolumes, when it has volumes.
pub(crate) const PV: &str = "pv.yaml";
/// Their claims.
pub(crate) const PVC: &str = "pvc.yaml";
/// The kustomization listing the files (in every folder lab writes).
pub(crate) const KUSTOMIZATION: &str = "kustomization.yaml";
/// The Namespace, in the namespace's folder.
pub(crate) const NAMESPACE: &str = "namespace.yaml";

/// Every file name a workload folder may hold.
pub(crate) const WORKLOAD_FILES: &[&str] = &[DEPLOYMENT, SERVICE, PV, PVC, KUSTOMIZATION];

/// The pod volume name of volume `i`.
pub(crate) fn pod_volume(i: usize) -> String {
    format!("data-{i}")
}

/// The claim name of volume `i`.
pub(crate) fn claim_name(name: &str, i: usize) -> String {
    format!("{name}-data-{i}")
}

/// The PersistentVolume name of volume `i`.
pub(crate) fn volume_name(namespace: &str, name: &str, i: usize) -> String {
    format!("{namespace}.{name}.data-{i}")
}

/// The files of workload `name`, `(file name, text)`, each text starting
/// with `marker` (a `# ...` line), the kustomization last.
pub(crate) fn workload_files(
    name: &str,
    spec: &WorkloadSpec,
    marker: &str,
) -> Vec<(&'static str, String)> {
    let mut files = vec![(DEPLOYMENT, to_string(&deployment(name, spec)))];
    if !spec.ports.is_empty() {
        files.push((SERVICE, to_string(&service(name, spec))));
    }
    if !spec.volumes.is_empty() {
        let (pvs, pvcs) = volumes(name, spec);
        files.push((PV, to_string_multi(&pvs)));
        files.push((PVC, to_string_multi(&pvcs)));
    }
    let listed: Vec<&str> = files.iter().map(|(f, _)| *f).collect();
    files.push((KUSTOMIZATION, to_string(&kustomization(&listed))));
    files
        .into_iter()
        .map(|(file, text)| (file, format!("{marker}\n{text}")))
        .collect()
}

/// A kustomization listing `resources` (files or folders), which Flux's
/// `Kustomization` and Argo CD's kustomize support both read.
pub(crate) fn kustomization(resources: &[&str]) -> Node {
    Node::from_pairs([
        ("apiVersion", Node::str("kustomize.config.k8s.io/v1beta1")),
        ("kind", Node::str("Kustomization")),
        ("resources", Node::str_seq(resources.iter().copied())),
    ])
}

/// The v1 Namespace `namespace`.
pub(crate) fn namespace(namespace: &str) -> Node {
    Node::from_pairs([
        ("apiVersion", Node::str("v1")),
        ("kind", Node::str("Namespace")),
        (
            "metadata",
            Node::from_pairs([
                ("name", Node::str(namespace)),
                (
                    "labels",
                    Node::from_pairs([("app.kubernetes.io/managed-by", Node::str(MANAGED_BY))]),
                ),
            ]),
        ),
    ])
}

fn labels(name: &str) -> Node {
    Node::from_pairs([
        ("app.kubernetes.io/name", Node::str(name)),
        ("app.kubernetes.io/managed-by", Node::str(MANAGED_BY)),
    ])
}

fn metadata(name: &str, namespace: Option<&str>, app: &str) -> Node {
    let mut pairs = vec![("name", Node::str(name))];
    if let Some(ns) = namespace {
        pairs.push(("namespace", Node::str(ns)));
    }
    pairs.push(("labels", labels(app)));
    Node::from_pairs(pairs)
}

fn selector(name: &str) -> Node {
    Node::from_pairs([("app.kubernetes.io/name", Node::str(name))])
}

/// The apps/v1 Deployment: one container named after the workload.
pub(crate) fn deployment(name: &str, spec: &WorkloadSpec) -> Node {
    let mut container = vec![("name", Node::str(name)), ("image", Node::str(&spec.image))];
    if !spec.ports.is_empty() {
        container.push((
            "ports",
            Node::Seq(
                spec.ports
                    .iter()
                    .map(|p| {
                        Node::from_pairs([
                            ("name", Node::str(&p.name)),
                            ("containerPort", Node::Int(i64::from(p.port))),
                            ("protocol", Node::str("TCP")),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    if !spec.env.is_empty() {
        let env = spec.env.iter().map(|e| {
            let mut pairs = vec![("name", Node::str(&e.name))];
            match (&e.value, &e.secret, &e.key) {
                (_, Some(secret), Some(key)) => pairs.push((
                    "valueFrom",
                    Node::from_pairs([(
                        "secretKeyRef",
                        Node::from_pairs([("name", Node::str(secret)), ("key", Node::str(key))]),
                    )]),
                )),
                (value, _, _) => {
                    pairs.push(("value", Node::str(value.clone().unwrap_or_default())))
                }
            }
            Node::from_pairs(pairs)
        });
        container.push(("env", Node::Seq(env.collect())));
    }
    let mut requests = Vec::new();
    if let Some(cpu) = &spec.cpu {
        requests.push(("cpu", Node::str(cpu)));
    }
    if let Some(memory) = &spec.memory {
        requests.push(("memory", Node::str(memory)));
    }
    if !requests.is_empty() {
        container.push((
            "resources",
            Node::from_pairs([("requests", Node::from_pairs(requests))]),
        ));
    }
    if !spec.volumes.is_empty() {
        container.push((
            "volumeMounts",
            Node::Seq(
                spec.volumes
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        Node::from_pairs([
                            ("name", Node::str(pod_volume(i))),
                            ("mountPath", Node::str(&v.mount_path)),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    let mut pod = vec![("containers", Node::Seq(vec![Node::from_pairs(container)]))];
    if !spec.volumes.is_empty() {
        pod.push((
            "volumes",
            Node::Seq(
                (0..spec.volumes.len())
                    .map(|i| {
                        Node::from_pairs([
                            ("name", Node::str(pod_volume(i))),
                            (
                                "persistentVolumeClaim",
                                Node::from_pairs([("claimName", Node::str(claim_name(name, i)))]),
                            ),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    Node::from_pairs([
        ("apiVersion", Node::str("apps/v1")),
        ("kind", Node::str("Deployment")),
        ("metadata", metadata(name, Some(&spec.namespace), name)),
        (
            "spec",
            Node::from_pairs([
                ("replicas", Node::Int(i64::from(spec.replicas))),
                (
                    "selector",
                    Node::from_pairs([("matchLabels", selector(name))]),
                ),
                (
                    "template",
                    Node::from_pairs([
                        ("metadata", Node::from_pairs([("labels", labels(name))])),
                        ("spec", Node::from_pairs(pod)),
                    ]),
                ),
            ]),
        ),
    ])
}

/// The v1 Service: ClusterIP, or LoadBalancer at the given IP.
pub(crate) fn service(name: &str, spec: &WorkloadSpec) -> Node {
    let mut body = Vec::new();
    match &spec.load_balancer {
        Some(ip) => {
            body.push(("type", Node::str("LoadBalancer")));
            body.push(("loadBalancerIP", Node::str(ip)));
        }
        None => body.push(("type", Node::str("ClusterIP"))),
    }
    body.push(("selector", selector(name)));
    body.push((
        "ports",
        Node::Seq(
            spec.ports
                .iter()
                .map(|p| {
                    Node::from_pairs([
                        ("name", Node::str(&p.name)),
                        ("port", Node::Int(i64::from(p.port))),
                        ("targetPort", Node::str(&p.name)),
                        ("protocol", Node::str("TCP")),
                    ])
                })
                .collect(),
        ),
    ));
    Node::from_pairs([
        ("apiVersion", Node::str("v1")),
        ("kind", Node::str("Service")),
        ("metadata", metadata(name, Some(&spec.namespace), name)),
        ("spec", Node::from_pairs(body)),
    ])
}

/// The v1 PersistentVolumes (NFS, ReadWriteMany, no storage class, kept
/// when released) and their claims.
pub(crate) fn volumes(name: &str, spec: &WorkloadSpec) -> (Vec<Node>, Vec<Node>) {
    let ns = spec.namespace.as_str();
    let rwx = || Node::str_seq(["ReadWriteMany"]);
    let mut pvs = Vec::new();
    let mut pvcs = Vec::new();
    for (i, v) in spec.volumes.iter().enumerate() {
        pvs.push(Node::from_pairs([
            ("apiVersion", Node::str("v1")),
            ("kind", Node::str("PersistentVolume")),
            ("metadata", metadata(&volume_name(ns, name, i), None, name)),
            (
                "spec",
                Node::from_pairs([
                    (
                        "capacity",
                        Node::from_pairs([("storage", Node::str(&v.size))]),
                    ),
                    ("accessModes", rwx()),
                    ("persistentVolumeReclaimPolicy", Node::str("Retain")),
                    ("storageClassName", Node::str("")),
                    (
                        "claimRef",
                        Node::from_pairs([
                            ("namespace", Node::str(ns)),
                            ("name", Node::str(claim_name(name, i))),
                        ]),
                    ),
                    (
                        "nfs",
                        Node::from_pairs([
                            ("server", Node::str(&v.server)),
                            ("path", Node::str(&v.export)),
                        ]),
                    ),
                ]),
            ),
        ]));
        pvcs.push(Node::from_pairs([
            ("apiVersion", Node::str("v1")),
            ("kind", Node::str("PersistentVolumeClaim")),
            ("metadata", metadata(&claim_name(name, i), Some(ns), name)),
            (
                "spec",
                Node::from_pairs([
                    ("accessModes", rwx()),
                    ("storageClassName", Node::str("")),
                    ("volumeName", Node::str(volume_name(ns, name, i))),
                    (
                        "resources",
                        Node::from_pairs([(
                            "requests",
                            Node::from_pairs([("storage", Node::str(&v.size))]),
                        )]),
                    ),
                ]),
            ),
        ]));
    }
    (pvs, pvcs)
}
