//! Reads a workload's manifests back into its spec, so that a hand edit
//! shows as drift on the field it changed: the image, replicas, ports,
//! variables, requests and volumes are taken from where
//! [`super::manifests`] wrote them. A value that is missing reads as empty
//! (a deleted `image:` is drift on `image`); a file the workload's
//! kustomization no longer lists counts as missing (Flux would not apply
//! it). Where two files hold one field (ports in the Deployment and the
//! Service; sizes in the volume and its claim), an edit to either shows.

use std::collections::HashMap;

use crate::kinds::{NfsVolume, WorkloadEnv, WorkloadPort, WorkloadSpec, FILES_AS_GENERATED};
use crate::yaml::Node;

use super::manifests::{workload_files, DEPLOYMENT, PV, PVC, SERVICE, WORKLOAD_FILES};

/// The parsed documents of a workload's files, by file name.
pub(crate) type Docs = HashMap<&'static str, Vec<Node>>;

fn text(node: Option<&Node>) -> String {
    node.and_then(Node::scalar_text).unwrap_or_default()
}

fn opt_text(node: Option<&Node>) -> Option<String> {
    node.and_then(Node::scalar_text)
}

fn seq(node: Option<&Node>) -> &[Node] {
    node.and_then(Node::as_seq).map_or(&[], Vec::as_slice)
}

fn port_number(node: Option<&Node>) -> u16 {
    match node {
        Some(Node::Int(n)) => u16::try_from(*n).unwrap_or(0),
        other => text(other).parse().unwrap_or(0),
    }
}

fn pod_spec(docs: &Docs) -> Option<&Node> {
    docs.get(DEPLOYMENT)?
        .first()?
        .get_path(&["spec", "template", "spec"])
}

fn first_container(pod: Option<&Node>) -> Option<&Node> {
    pod?.get("containers")?.as_seq()?.first()
}

/// The ports the Deployment's container declares.
fn container_ports(docs: &Docs) -> Vec<WorkloadPort> {
    let container = first_container(pod_spec(docs));
    seq(container.and_then(|c| c.get("ports")))
        .iter()
        .map(|p| WorkloadPort {
            name: text(p.get("name")),
            port: port_number(p.get("containerPort")),
        })
        .collect()
}

/// The spec the files describe, for a workload on `cluster`.
pub(crate) fn spec_from(cluster: &str, docs: &Docs) -> WorkloadSpec {
    let deployment = docs.get(DEPLOYMENT).and_then(|d| d.first());
    let get = |path: &[&str]| deployment.and_then(|d| d.get_path(path));
    let namespace = text(get(&["metadata", "namespace"]));
    let replicas = match get(&["spec", "replicas"]) {
        Some(Node::Int(n)) => u32::try_from(*n).unwrap_or(0),
        // Kubernetes defaults a missing `replicas` to 1.
        None => 1,
        _ => 0,
    };
    let pod = pod_spec(docs);
    let container = first_container(pod);
    let c = |key: &str| container.and_then(|c| c.get(key));

    let mut ports = container_ports(docs);
    let service = docs.get(SERVICE).and_then(|d| d.first());
    let service_ports: Vec<WorkloadPort> = service
        .map(|s| {
            seq(s.get_path(&["spec", "ports"]))
                .iter()
                .map(|p| WorkloadPort {
                    name: text(p.get("name")),
                    port: port_number(p.get("port")),
                })
                .collect()
        })
        .unwrap_or_default();
    // The Service is what other pods reach: when it disagrees with the
    // container (or is gone), it is what the cluster serves.
    if service_ports != ports {
        ports = service_ports;
    }
    let load_balancer = service.and_then(|s| {
        let lb = text(s.get_path(&["spec", "type"])) == "LoadBalancer";
        lb.then(|| text(s.get_path(&["spec", "loadBalancerIP"])))
    });

    let env = seq(c("env"))
        .iter()
        .map(|e| {
            let from = e.get_path(&["valueFrom", "secretKeyRef"]);
            WorkloadEnv {
                name: text(e.get("name")),
                value: if from.is_some() {
                    None
                } else {
                    Some(text(e.get("value")))
                },
                secret: from.map(|f| text(f.get("name"))),
                key: from.map(|f| text(f.get("key"))),
            }
        })
        .collect();

    let requests = c("resources").and_then(|r| r.get("requests"));
    let cpu = opt_text(requests.and_then(|r| r.get("cpu")));
    let memory = opt_text(requests.and_then(|r| r.get("memory")));

    let volumes = volumes(pod, container, docs)
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    WorkloadSpec {
        cluster: cluster.to_string(),
        namespace,
        image: text(c("image")),
        replicas,
        ports,
        env,
        volumes,
        cpu,
        memory,
        load_balancer,
        files: FILES_AS_GENERATED.to_string(),
    }
}

/// The files among `docs` whose YAML differs from what `spec` (read from
/// them) renders: edits no field shows, like an added annotation or a
/// second container. Compared as trees, so formatting, key order and
/// comments do not count.
///
/// Where two files hold one field and disagree, `spec` has the Service's
/// ports and the claim's sizes; the Deployment and the volumes are then
/// compared with their own, so that the disagreement shows once, on the
/// field.
pub(crate) fn edited_files(name: &str, spec: &WorkloadSpec, docs: &Docs) -> Vec<&'static str> {
    let own_view = |file: &str| -> WorkloadSpec {
        let mut view = spec.clone();
        if file == DEPLOYMENT {
            view.ports = container_ports(docs);
        }
        if file == PV {
            let pod = pod_spec(docs);
            let offered = volumes(pod, first_container(pod), docs);
            for (v, (_, pv_size)) in view.volumes.iter_mut().zip(offered) {
                v.size = pv_size;
            }
        }
        view
    };
    let rendered = |file: &str| -> Option<Vec<Node>> {
        let (_, text) = workload_files(name, &own_view(file), "#")
            .into_iter()
            .find(|(f, _)| *f == file)?;
        crate::yaml::parse(&text).ok()
    };
    let mut edited: Vec<&'static str> = docs
        .iter()
        .filter(|(file, on_disk)| rendered(file).as_ref() != Some(*on_disk))
        .map(|(file, _)| *file)
        .collect();
    edited.sort_by_key(|f| WORKLOAD_FILES.iter().position(|w| w == f));
    edited
}

/// Each mount, followed to its pod volume, claim and PersistentVolume by
/// name; with the size the PersistentVolume itself offers.
fn volumes(pod: Option<&Node>, container: Option<&Node>, docs: &Docs) -> Vec<(NfsVolume, String)> {
    let named = |file: &str, name: &str| -> Option<&Node> {
        docs.get(file)?
            .iter()
            .find(|d| text(d.get_path(&["metadata", "name"])) == name)
    };
    let pod_volumes = seq(pod.and_then(|p| p.get("volumes")));
    seq(container.and_then(|c| c.get("volumeMounts")))
        .iter()
        .map(|mount| {
            let volume_name = text(mount.get("name"));
            let claim_name = pod_volumes
                .iter()
                .find(|v| text(v.get("name")) == volume_name)
                .map(|v| text(v.get_path(&["persistentVolumeClaim", "claimName"])))
                .unwrap_or_default();
            let claim = named(PVC, &claim_name);
            let pv = claim
                .map(|c| text(c.get_path(&["spec", "volumeName"])))
                .and_then(|pv| named(PV, &pv));
            let pv_size = text(pv.and_then(|p| p.get_path(&["spec", "capacity", "storage"])));
            let claim_size =
                text(claim.and_then(|c| c.get_path(&["spec", "resources", "requests", "storage"])));
            let volume = NfsVolume {
                mount_path: text(mount.get("mountPath")),
                server: text(pv.and_then(|p| p.get_path(&["spec", "nfs", "server"]))),
                export: text(pv.and_then(|p| p.get_path(&["spec", "nfs", "path"]))),
                // The claim asks, the volume offers: an edit to either shows.
                size: if claim_size == pv_size {
                    pv_size.clone()
                } else {
                    claim_size
                },
            };
            (volume, pv_size)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::manifests::workload_files;
    use super::*;
    use crate::yaml::parse;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            cluster: "home".into(),
            namespace: "media".into(),
            image: "ghcr.io/immich-app/immich-server:v1.132.3".into(),
            replicas: 2,
            ports: vec![WorkloadPort {
                name: "http".into(),
                port: 2283,
            }],
            env: vec![
                WorkloadEnv {
                    name: "TZ".into(),
                    value: Some("Europe/Berlin".into()),
                    secret: None,
                    key: None,
                },
                WorkloadEnv {
                    name: "ENABLED".into(),
                    value: Some("true".into()),
                    secret: None,
                    key: None,
                },
                WorkloadEnv {
                    name: "DB_PASSWORD".into(),
                    value: None,
                    secret: Some("immich-db".into()),
                    key: Some("password".into()),
                },
            ],
            volumes: vec![
                NfsVolume {
                    mount_path: "/data".into(),
                    server: "10.0.20.5".into(),
                    export: "/mnt/hot/photos".into(),
                    size: "500Gi".into(),
                },
                NfsVolume {
                    mount_path: "/cache".into(),
                    server: "nas-a.home.arpa".into(),
                    export: "/mnt/hot/cache".into(),
                    size: "10Gi".into(),
                },
            ],
            cpu: Some("500m".into()),
            memory: Some("2Gi".into()),
            load_balancer: Some("10.0.10.50".into()),
            files: FILES_AS_GENERATED.into(),
        }
    }

    fn docs_of(files: &[(&'static str, String)]) -> Docs {
        files.iter().map(|(f, t)| (*f, parse(t).unwrap())).collect()
    }

    #[test]
    fn written_files_read_back_to_the_spec() {
        let s = spec();
        let files = workload_files("photos", &s, "# marker");
        assert_eq!(spec_from("home", &docs_of(&files)), s);
        let mut bare = spec();
        bare.ports.clear();
        bare.env.clear();
        bare.volumes.clear();
        bare.cpu = None;
        bare.memory = None;
        bare.load_balancer = None;
        let files = workload_files("photos", &bare, "# marker");
        assert_eq!(files.len(), 2, "deployment and kustomization only");
        assert_eq!(spec_from("home", &docs_of(&files)), bare);
    }

    #[test]
    fn edits_no_field_shows_name_their_file() {
        let s = spec();
        let mut files = workload_files("photos", &s, "# marker");
        assert!(edited_files("photos", &s, &docs_of(&files)).is_empty());
        for (file, text) in &mut files {
            if *file == SERVICE {
                // Formatting and comments are not edits...
                *text = text.replace(
                    "    type: LoadBalancer",
                    "    type:   LoadBalancer # public",
                );
            }
            if *file == DEPLOYMENT {
                // ...an annotation is.
                *text = text.replace(
                    "\n    labels:\n",
                    "\n    annotations:\n        team: media\n    labels:\n",
                );
            }
        }
        let docs = docs_of(&files);
        let read = spec_from("home", &docs);
        assert_eq!(read, s);
        assert_eq!(edited_files("photos", &read, &docs), [DEPLOYMENT]);
    }

    #[test]
    fn an_edit_reads_as_the_field_it_changed() {
        let s = spec();
        let mut files = workload_files("photos", &s, "# marker");
        for (file, text) in &mut files {
            if *file == PVC {
                *text = text.replace("storage: 500Gi", "storage: 600Gi");
            }
            if *file == SERVICE {
                *text = text.replace("port: 2283", "port: 80");
            }
        }
        let docs = docs_of(&files);
        let read = spec_from("home", &docs);
        assert_eq!(read.volumes[0].size, "600Gi");
        // One field in two files: the disagreement is the field's, no file's.
        assert!(edited_files("photos", &read, &docs).is_empty());
        assert_eq!(read.ports[0].port, 80);
        assert_eq!(read.image, s.image);
        let mut docs = docs_of(&files);
        docs.remove(SERVICE);
        let read = spec_from("home", &docs);
        assert!(read.ports.is_empty() && read.load_balancer.is_none());
    }
}
