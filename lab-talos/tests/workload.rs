//! `talos.workload` and its `WorkloadFolder`: the builder's problems at the
//! user's line, the manifests it writes (parsed back with yaml-rust2 and
//! checked for the fields Kubernetes requires), a second process planning
//! no changes, a hand edit as drift on its field, a deleted file as gone,
//! and a destroy that leaves the user's own files.
//!
//! The cluster is model-only here (`managed = false`): the workload's
//! folder does not need a running cluster, only its name.

use std::path::Path;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{Action, Address, ApplyOptions, Engine, FileStateStore, StateStore};
use lab_talos::config::{ClusterInput, NodeInput, Role};
use lab_talos::model::{Cluster, Machine, Secrets, Workload};
use lab_talos::provider::WorkloadFolder;
use yaml_rust2::{Yaml, YamlLoader};

const IMAGE: &str = "ghcr.io/immich-app/immich-server:v1.132.3";

/// The lab: a model-only cluster `home` and what `extra` adds.
fn lab_with(root: &Path, extra: impl FnOnce(&mut Lab, &Handle<Cluster>)) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(WorkloadFolder::new(root));
    let mut secrets = Secrets::new("home");
    secrets.spec_mut().managed = false;
    let secrets = lab.add(secrets);
    let input = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
    let node = NodeInput::new(Role::ControlPlane);
    let mut cp1 = Machine::new("cp1", "10.0.10.11", &input, &node, &secrets);
    cp1.spec_mut().managed = false;
    let cp1 = lab.add(cp1);
    let mut cluster =
        Cluster::new("home", "https://10.0.10.5:6443", &secrets).control_plane(&cp1, "10.0.10.11");
    cluster.spec_mut().managed = false;
    let cluster = lab.add(cluster);
    extra(&mut lab, &cluster);
    lab
}

fn photos(cluster: &Handle<Cluster>, image: &str) -> Workload {
    Workload::new(cluster, "photos")
        .namespace("media")
        .image(image)
        .replicas(2)
        .port("http", 2283)
        .env("TZ", "Europe/Berlin")
        .env_from_secret("DB_PASSWORD", "immich-db", "password")
        .nfs_volume(
            "/usr/src/app/upload",
            "10.0.20.5",
            "/mnt/hot/photos",
            "500Gi",
        )
        .cpu("500m")
        .memory("2Gi")
        .load_balancer("10.0.10.50")
}

fn full_lab(root: &Path, image: &'static str) -> Lab {
    lab_with(root, |lab, cluster| {
        lab.add(photos(cluster, image));
        lab.add(
            Workload::new(cluster, "blog")
                .namespace("media")
                .image("ghcr.io/example/blog:1.0"),
        );
    })
}

async fn apply(lab: Lab, state: &Path) -> lab_core::Plan {
    let engine = Engine::new(lab, FileStateStore::new(state));
    let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
    let report = engine
        .apply(&plan, &ApplyOptions::default())
        .await
        .expect("apply");
    assert!(report.is_success(), "{report:#?}");
    plan
}

async fn plan(lab: Lab, state: &Path) -> lab_core::Plan {
    Engine::new(lab, FileStateStore::new(state))
        .plan(&PlanOptions::default())
        .await
        .expect("plan")
}

fn yaml_docs(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_at<'a>(doc: &'a Yaml, path: &[&str]) -> &'a str {
    let node = path.iter().fold(doc, |n, k| &n[*k]);
    node.as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string in {doc:?}"))
}

/// The problems of a lab's `check`, as `(code, line, message)`.
fn problems(lab: &Lab) -> Vec<(String, u32, String)> {
    lab.check()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            (
                d.code.clone(),
                d.labels.first().map_or(0, |l| l.loc.line()),
                d.message.clone(),
            )
        })
        .collect()
}

/// The line of this file holding `needle` (once).
fn line_of(needle: &str) -> u32 {
    let source = include_str!("workload.rs");
    let lines: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle) && !l.contains("line_of("))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{needle:?} is on lines {lines:?}");
    lines[0] as u32
}

#[test]
fn bad_values_are_problems_at_the_users_line() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_with(dir.path(), |lab, cluster| {
        lab.add(
            Workload::new(cluster, "photos")
                .image("ghcr.io/immich-app/immich-server:latest")
                .port("http", 2283)
                .port("http", 8080)
                .env_secret("DB_PASSWORD", Secret::new("hunter2"))
                .nfs_volume("data", "10.0.20.5", "/mnt/hot/photos", "10GB")
                .namespace("Media"),
        );
        lab.add(Workload::new(cluster, "no-image"));
        lab.add(
            Workload::new(cluster, "lb")
                .image("nginx:1.27")
                .load_balancer("10.0.10.50"), // no ports
        );
        lab.add(Workload::new(cluster, "9lives").image("nginx"));
    });
    let found = problems(&lab);
    let text = format!("{found:#?}");
    let at = |needle: &str| -> u32 {
        found
            .iter()
            .find(|(_, _, m)| m.contains(needle))
            .unwrap_or_else(|| panic!("no problem saying {needle:?} in {text}"))
            .1
    };
    assert_eq!(
        at("pinned to `latest`"),
        line_of(".image(\"ghcr.io/immich-app/immich-server:latest\")")
    );
    assert_eq!(
        at("port name `http` is already"),
        line_of(".port(\"http\", 8080)")
    );
    assert_eq!(at("plaintext"), line_of(".env_secret(\"DB_PASSWORD\""));
    let volume = line_of(".nfs_volume(\"data\"");
    assert_eq!(at("`data` is not an absolute path"), volume);
    assert_eq!(at("`10GB` is not a size"), volume);
    assert_eq!(
        at("`Media` is not a namespace"),
        line_of(".namespace(\"Media\")")
    );
    assert_eq!(
        at("has no image"),
        line_of("Workload::new(cluster, \"no-image\")")
    );
    assert_eq!(at("no ports"), line_of("// no ports"));
    assert_eq!(at("`9lives` is not a workload name"), line_of("\"9lives\""));
    assert_eq!(at("`nginx` has no tag"), line_of("\"9lives\""));
    // The secret's value is never in a message.
    assert!(!text.contains("hunter2"));
    // The refusal says what to do instead.
    let secret = lab
        .check()
        .into_iter()
        .find(|d| d.message.contains("plaintext"))
        .unwrap();
    let help = secret.help.clone().unwrap_or_default();
    assert!(
        help.contains("sealed-secrets") && help.contains("env_from_secret"),
        "{help}"
    );
}

#[test]
fn a_load_balancer_ip_taken_already_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_with(dir.path(), |lab, cluster| {
        lab.add(photos(cluster, IMAGE));
        lab.add(
            Workload::new(cluster, "blog")
                .image("ghcr.io/example/blog:1.0")
                .port("http", 8081)
                .load_balancer("10.0.10.50"), // taken by photos
        );
        lab.add(
            Workload::new(cluster, "wiki")
                .image("ghcr.io/example/wiki:2.1")
                .port("http", 3000)
                .load_balancer("10.0.10.11"), // cp1's address
        );
    });
    let found: Vec<_> = lab
        .check()
        .into_iter()
        .filter(|d| d.code == lab_talos::checks::WORKLOAD_IP)
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].labels[0].loc.line(), line_of("// taken by photos"));
    assert!(
        found[0]
            .message
            .contains("workload `photos`'s load balancer"),
        "{}",
        found[0].message
    );
    assert_eq!(found[1].labels[0].loc.line(), line_of("// cp1's address"));
    assert!(
        found[1].message.contains("node `cp1`'s address"),
        "{}",
        found[1].message
    );
}

#[tokio::test]
async fn manifests_are_written_and_a_second_process_plans_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (root, state) = (dir.path().join("gitops"), dir.path().join(".lab"));
    let lab = full_lab(&root, IMAGE);
    assert!(problems(&lab).is_empty(), "{:#?}", problems(&lab));
    apply(lab, &state).await;

    let folder = root.join("home/media/photos");
    let marker = "# managed by lab: home/talos.workload.photos; edits are drift";
    for file in [
        "deployment.yaml",
        "service.yaml",
        "pv.yaml",
        "pvc.yaml",
        "kustomization.yaml",
    ] {
        let text = std::fs::read_to_string(folder.join(file)).unwrap();
        assert_eq!(text.lines().next(), Some(marker), "{file}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(folder.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644, "{file}");
        }
    }
    // The Deployment: what Kubernetes requires, and the labels.
    let d = &yaml_docs(&folder.join("deployment.yaml"))[0];
    assert_eq!(str_at(d, &["apiVersion"]), "apps/v1");
    assert_eq!(str_at(d, &["kind"]), "Deployment");
    assert_eq!(str_at(d, &["metadata", "name"]), "photos");
    assert_eq!(str_at(d, &["metadata", "namespace"]), "media");
    assert_eq!(
        str_at(d, &["metadata", "labels", "app.kubernetes.io/managed-by"]),
        "lab"
    );
    let selector = &d["spec"]["selector"]["matchLabels"];
    let pod_labels = &d["spec"]["template"]["metadata"]["labels"];
    assert_eq!(selector["app.kubernetes.io/name"].as_str(), Some("photos"));
    assert_eq!(
        pod_labels["app.kubernetes.io/name"],
        selector["app.kubernetes.io/name"]
    );
    assert_eq!(d["spec"]["replicas"].as_i64(), Some(2));
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(str_at(c, &["image"]), IMAGE);
    assert_eq!(c["ports"][0]["containerPort"].as_i64(), Some(2283));
    let env = c["env"].as_vec().unwrap();
    assert_eq!(env[0]["value"].as_str(), Some("Europe/Berlin"));
    assert_eq!(
        env[1]["valueFrom"]["secretKeyRef"]["name"].as_str(),
        Some("immich-db")
    );
    assert_eq!(str_at(c, &["resources", "requests", "cpu"]), "500m");
    let claim = str_at(
        &d["spec"]["template"]["spec"]["volumes"][0],
        &["persistentVolumeClaim", "claimName"],
    );
    // The Service selects the pods and names their port.
    let s = &yaml_docs(&folder.join("service.yaml"))[0];
    assert_eq!(
        (str_at(s, &["apiVersion"]), str_at(s, &["kind"])),
        ("v1", "Service")
    );
    assert_eq!(str_at(s, &["spec", "type"]), "LoadBalancer");
    assert_eq!(str_at(s, &["spec", "loadBalancerIP"]), "10.0.10.50");
    assert_eq!(s["spec"]["selector"], *selector);
    assert_eq!(s["spec"]["ports"][0]["targetPort"].as_str(), Some("http"));
    // The volume and its claim bind to each other; no storage class.
    let pv = &yaml_docs(&folder.join("pv.yaml"))[0];
    let pvc = &yaml_docs(&folder.join("pvc.yaml"))[0];
    assert_eq!(str_at(pv, &["kind"]), "PersistentVolume");
    assert!(
        pv["metadata"]["namespace"].is_badvalue(),
        "PVs are cluster-wide"
    );
    assert_eq!(str_at(pv, &["spec", "nfs", "server"]), "10.0.20.5");
    assert_eq!(str_at(pv, &["spec", "nfs", "path"]), "/mnt/hot/photos");
    assert_eq!(str_at(pv, &["spec", "storageClassName"]), "");
    assert_eq!(pv["spec"]["accessModes"][0].as_str(), Some("ReadWriteMany"));
    assert_eq!(str_at(pv, &["spec", "claimRef", "name"]), claim);
    assert_eq!(str_at(pvc, &["metadata", "name"]), claim);
    assert_eq!(
        str_at(pvc, &["spec", "volumeName"]),
        str_at(pv, &["metadata", "name"])
    );
    assert_eq!(str_at(pvc, &["spec", "storageClassName"]), "");
    assert_eq!(
        str_at(pvc, &["spec", "resources", "requests", "storage"]),
        "500Gi"
    );
    // The indexes lead from the cluster's folder to every file.
    let listed = |path: &Path| -> Vec<String> {
        yaml_docs(path)[0]["resources"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed(&root.join("home/kustomization.yaml")), ["media"]);
    assert_eq!(
        listed(&root.join("home/media/kustomization.yaml")),
        ["namespace.yaml", "blog", "photos"]
    );
    assert_eq!(
        listed(&folder.join("kustomization.yaml")),
        ["deployment.yaml", "service.yaml", "pv.yaml", "pvc.yaml"]
    );
    let ns = &yaml_docs(&root.join("home/media/namespace.yaml"))[0];
    assert_eq!(
        (str_at(ns, &["kind"]), str_at(ns, &["metadata", "name"])),
        ("Namespace", "media")
    );
    // The blog has no ports or volumes: no Service, no volumes.
    assert!(!root.join("home/media/blog/service.yaml").exists());
    assert!(!root.join("home/media/blog/pv.yaml").exists());

    // A second process: a new lab, a new provider, the state from disk.
    let recorded = FileStateStore::new(&state).load().unwrap().unwrap();
    let outputs = &recorded.resources[&Address::new("talos.workload", "photos")].outputs;
    assert_eq!(
        outputs["service"],
        Value::from("photos.media.svc.cluster.local")
    );
    assert_eq!(outputs["folder"], Value::from(folder.display().to_string()));
    let blog = &recorded.resources[&Address::new("talos.workload", "blog")].outputs;
    assert_eq!(blog["service"], Value::from(""));

    let again = plan(full_lab(&root, IMAGE), &state).await;
    assert!(!again.has_changes(), "{:#?}", again.steps);
    assert!(again.drift.is_empty(), "{:#?}", again.drift);
}

#[tokio::test]
async fn a_hand_edit_is_drift_on_its_field_and_apply_puts_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let (root, state) = (dir.path().join("gitops"), dir.path().join(".lab"));
    apply(full_lab(&root, IMAGE), &state).await;
    let deployment = root.join("home/media/photos/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(&deployment, text.replace("replicas: 2", "replicas: 5")).unwrap();

    let p = plan(full_lab(&root, IMAGE), &state).await;
    let drift: Vec<&str> = p
        .drift
        .iter()
        .flat_map(|d| d.changes.iter().map(|c| c.field.as_str()))
        .collect();
    assert_eq!(drift, ["replicas"], "{:#?}", p.drift);
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.steps[0].action, Action::Update);

    apply(full_lab(&root, IMAGE), &state).await;
    assert_eq!(std::fs::read_to_string(&deployment).unwrap(), text);
    assert!(!plan(full_lab(&root, IMAGE), &state).await.has_changes());

    // A new image in the code is an update of that field only.
    let p = plan(
        full_lab(&root, "ghcr.io/immich-app/immich-server:v1.133.0"),
        &state,
    )
    .await;
    let changed: Vec<&str> = p
        .steps
        .iter()
        .flat_map(|s| s.changes.iter().map(|c| c.field.as_str()))
        .collect();
    assert_eq!(changed, ["image"]);

    // An edit no field shows (a second container) is drift on `files`.
    let service = root.join("home/media/photos/service.yaml");
    let before = std::fs::read_to_string(&service).unwrap();
    std::fs::write(
        &service,
        before.replace(
            "    type: LoadBalancer\n",
            "    type: LoadBalancer\n    externalTrafficPolicy: Local\n",
        ),
    )
    .unwrap();
    let p = plan(full_lab(&root, IMAGE), &state).await;
    let changes: Vec<_> = p.drift.iter().flat_map(|d| d.changes.iter()).collect();
    assert_eq!(changes.len(), 1, "{:#?}", p.drift);
    assert_eq!(changes[0].field, "files");
    assert_eq!(
        changes[0].after,
        Some(Value::from("edited outside lab: service.yaml"))
    );
    apply(full_lab(&root, IMAGE), &state).await;
    assert_eq!(std::fs::read_to_string(&service).unwrap(), before);

    // The Service taken out of the workload's kustomization: Flux no longer
    // applies it, so its fields read as gone.
    let index = root.join("home/media/photos/kustomization.yaml");
    let listed = std::fs::read_to_string(&index).unwrap();
    assert!(listed.contains("    - service.yaml\n"), "{listed}");
    std::fs::write(&index, listed.replace("    - service.yaml\n", "")).unwrap();
    let p = plan(full_lab(&root, IMAGE), &state).await;
    let drift: Vec<&str> = p
        .drift
        .iter()
        .flat_map(|d| d.changes.iter().map(|c| c.field.as_str()))
        .collect();
    assert_eq!(drift, ["ports", "load_balancer"], "{:#?}", p.drift);
    apply(full_lab(&root, IMAGE), &state).await;
    assert_eq!(std::fs::read_to_string(&index).unwrap(), listed);

    // A deleted file means the workload is gone: apply writes it again.
    std::fs::remove_file(root.join("home/media/photos/service.yaml")).unwrap();
    let p = plan(full_lab(&root, IMAGE), &state).await;
    assert_eq!(p.drift.len(), 1, "{:#?}", p.drift);
    assert!(p.drift[0].deleted, "{:#?}", p.drift);
    apply(full_lab(&root, IMAGE), &state).await;
    assert!(root.join("home/media/photos/service.yaml").exists());
    assert!(!plan(full_lab(&root, IMAGE), &state).await.has_changes());
}

#[tokio::test]
async fn delete_leaves_foreign_files_and_create_refuses_to_overwrite_them() {
    let dir = tempfile::tempdir().unwrap();
    let (root, state) = (dir.path().join("gitops"), dir.path().join(".lab"));
    apply(full_lab(&root, IMAGE), &state).await;
    let mine = root.join("home/media/photos/notes.md");
    std::fs::write(&mine, "mine\n").unwrap();

    // The photos workload leaves the code: its files go, the user's stay.
    let only_blog = |root: &Path| {
        lab_with(root, |lab, cluster| {
            lab.add(
                Workload::new(cluster, "blog")
                    .namespace("media")
                    .image("ghcr.io/example/blog:1.0"),
            );
        })
    };
    let p = apply(only_blog(&root), &state).await;
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.steps[0].action, Action::Delete);
    assert!(!root.join("home/media/photos/deployment.yaml").exists());
    assert!(!root.join("home/media/photos/kustomization.yaml").exists());
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine\n");
    let index = std::fs::read_to_string(root.join("home/media/kustomization.yaml")).unwrap();
    assert!(
        index.contains("- blog") && !index.contains("photos"),
        "{index}"
    );

    // Destroying everything removes the indexes and empty folders only.
    let engine = Engine::new(only_blog(&root), FileStateStore::new(&state));
    let destroy = engine.plan_destroy().await.expect("plan destroy");
    let report = engine
        .apply(&destroy, &ApplyOptions::default())
        .await
        .expect("destroy");
    assert!(report.is_success(), "{report:#?}");
    assert!(!root.join("home/media/blog").exists());
    assert!(!root.join("home/kustomization.yaml").exists());
    assert!(!root.join("home/media/namespace.yaml").exists());
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine\n");

    // A file lab did not write is never overwritten: the create fails and says why.
    let foreign = root.join("home/media/photos/deployment.yaml");
    std::fs::write(&foreign, "apiVersion: apps/v1\nkind: Deployment\n").unwrap();
    let engine = Engine::new(full_lab(&root, IMAGE), FileStateStore::new(&state));
    let p = engine.plan(&PlanOptions::default()).await.expect("plan");
    let report = engine
        .apply(&p, &ApplyOptions::default())
        .await
        .expect("apply runs");
    assert!(!report.is_success());
    let why = format!("{report:?}");
    assert!(why.contains("was not written by lab"), "{why}");
    assert_eq!(
        std::fs::read_to_string(&foreign).unwrap(),
        "apiVersion: apps/v1\nkind: Deployment\n"
    );
}

#[tokio::test]
async fn another_namespace_moves_the_folder_and_a_lost_state_rewrites_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (root, state) = (dir.path().join("gitops"), dir.path().join(".lab"));
    let blog = |namespace: &'static str| {
        let root = root.clone();
        move || {
            lab_with(&root, |lab, cluster| {
                lab.add(
                    Workload::new(cluster, "blog")
                        .namespace(namespace)
                        .image("ghcr.io/example/blog:1.0"),
                );
            })
        }
    };
    apply(blog("web")(), &state).await;
    assert!(root.join("home/web/blog/deployment.yaml").exists());

    let p = apply(blog("public")(), &state).await;
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.steps[0].action, Action::Replace);
    assert!(root.join("home/public/blog/deployment.yaml").exists());
    assert!(
        !root.join("home/web").exists(),
        "the old namespace's folder is gone"
    );
    let index = std::fs::read_to_string(root.join("home/kustomization.yaml")).unwrap();
    assert!(
        index.contains("- public") && !index.contains("- web"),
        "{index}"
    );

    // The state is lost: the files carry this lab's marker, so the create
    // writes over them and the next plan is quiet.
    std::fs::remove_dir_all(&state).unwrap();
    let p = apply(blog("public")(), &state).await;
    assert_eq!(p.steps[0].action, Action::Create);
    assert!(!plan(blog("public")(), &state).await.has_changes());
}

/// The way a homelab writes it: a workload on `TalosCluster`'s cluster,
/// whose VIP no Service may take.
#[test]
fn a_workload_on_a_lowered_cluster_checks_clean_and_waits_for_it() {
    use lab_proxmox::model::{Content, Node, Storage};
    use lab_talos::model::TalosCluster;
    let mut lab = Lab::new("home");
    lab.register_provider(WorkloadFolder::new("gitops"));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
    let talos = TalosCluster::new("home", "https://10.0.10.5:6443")
        .vip("10.0.10.5")
        .link("ens18")
        .gateway("10.0.10.1")
        .vm_storage(&lvm)
        .iso_storage(&local)
        .control_plane("cp1", "10.0.10.11/24", &pve1)
        .add_to(&mut lab);
    let photos = lab.add(photos(&talos.cluster, IMAGE));
    let errors: Vec<_> = lab
        .check()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let spec = lab.resource(photos.address()).unwrap();
    assert!(spec.deps.iter().any(|d| &d.on == talos.cluster.address()));

    lab.add(
        Workload::new(&talos.cluster, "dns")
            .image("ghcr.io/example/dns:1.0")
            .port("dns", 5353)
            .load_balancer("10.0.10.5"), // the VIP
    );
    let found: Vec<_> = lab
        .check()
        .into_iter()
        .filter(|d| d.code == lab_talos::checks::WORKLOAD_IP)
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("the VIP of cluster `home`"));
    assert_eq!(found[0].labels[0].loc.line(), line_of("// the VIP"));
}
