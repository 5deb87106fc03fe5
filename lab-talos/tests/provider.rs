//! The Talos provider end to end: the real gRPC client against the Talos
//! simulator, whose nodes live on the Proxmox simulator's VMs (a node
//! answers only while its VM runs with the node's address in cloud-init).
//!
//! Covered: a cluster from nothing to a kubeconfig and a quiet second plan;
//! every config a node received validates against Talos's v1.13.9 schema;
//! the plan says which change reboots a node, and the apply does what it
//! said; a lost bundle stops the plan, and importing the exported one
//! resumes without touching a node; a bootstrap whose record was lost is
//! re-sent and `AlreadyExists` counts as done; a re-created VM (maintenance
//! mode again) gets its config again.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{
    Action, Address, ApplyOptions, EngineError, MemoryStateStore, Provider, StateStore,
};
use lab_proxmox::model::*;
use lab_proxmox::sim::TaskLatency;
use lab_proxmox::{Connection, ProxmoxOptions};
use lab_talos::config::{self, Document};
use lab_talos::connect::simulated_on_proxmox;
use lab_talos::model::TalosCluster;
use lab_talos::provider::{export_secrets, TalosOptions, TalosProvider};
use lab_talos::sim::{SimConfig, Stage, TalosSim};

const NODES: [(&str, &str, bool); 5] = [
    ("cp1", "10.0.10.11", true),
    ("cp2", "10.0.10.12", true),
    ("cp3", "10.0.10.13", true),
    ("w1", "10.0.10.21", false),
    ("w2", "10.0.10.22", false),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What the lab declares; tests vary it between runs.
#[derive(Clone, Default)]
struct Shape {
    sysctl: Option<&'static str>,
    udev_rule: Option<&'static str>,
    import: Option<Secret>,
    w1_on_pve1: bool,
    version: Option<&'static str>,
}

impl Shape {
    /// Talos's reference bundle, imported: generating a fresh one (an
    /// RSA-4096 key) takes seconds, so only the tests about generation do.
    fn imported() -> Shape {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/reference/talos-examples/secrets.yaml"
        );
        let text = std::fs::read_to_string(path).expect("the reference secrets.yaml");
        Shape {
            import: Some(Secret::new(text)),
            ..Shape::default()
        }
    }
}

/// Both simulators and the provider, for one test.
struct World {
    pve: Connection,
    talos: TalosSim,
    provider: Arc<dyn Provider>,
    store: MemoryStateStore,
}

async fn world(dir: &Path) -> World {
    let pve = Connection::simulated(
        lab_proxmox::sim::SimConfig {
            task_latency: TaskLatency::instant(),
            auth_failure_delay: Duration::ZERO,
            ..Default::default()
        },
        dir.join("pve.json"),
    )
    .expect("the Proxmox simulator starts");
    let addresses: Vec<&str> = NODES.iter().map(|n| n.1).collect();
    let talos = simulated_on_proxmox(
        pve.simulator().unwrap(),
        SimConfig {
            reboot: Duration::from_millis(100),
            ..Default::default()
        },
        &addresses,
    )
    .await
    .expect("the Talos simulator starts");
    let mut options = TalosOptions::simulated(&talos);
    options.boot_timeout = Duration::from_secs(20);
    let provider = TalosProvider::shared(options);
    World {
        pve,
        talos,
        provider,
        store: MemoryStateStore::new(),
    }
}

fn lab(w: &World, shape: &Shape) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(w.pve.provider(ProxmoxOptions::default()));
    lab.register_provider(w.provider.clone());
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso])
            .node(&pve1)
            .node(&pve2),
    );
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images])
            .node(&pve1)
            .node(&pve2),
    );
    let mut c = TalosCluster::new("home", "https://10.0.10.5:6443")
        .talos_version(shape.version.unwrap_or("v1.13.9"))
        .vip("10.0.10.5")
        .link("ens18")
        .gateway("10.0.10.1")
        .nameservers(&["10.0.10.1"])
        .vm_storage(&lvm)
        .iso_storage(&local)
        .bridge("vmbr0")
        .vlan(10);
    if let Some(value) = shape.sysctl {
        c = c.patch(&format!(
            "machine:\n  sysctls:\n    vm.max_map_count: \"{value}\"\n"
        ));
    }
    if let Some(rule) = shape.udev_rule {
        c = c.worker_patch(&format!(
            "machine:\n  udev:\n    rules:\n      - '{rule}'\n"
        ));
    }
    if let Some(bundle) = &shape.import {
        c = c.import_secrets(bundle.clone());
    }
    for (name, ip, control_plane) in NODES {
        let host = match name {
            "w1" if shape.w1_on_pve1 => &pve1,
            "cp2" | "w1" => &pve2,
            _ => &pve1,
        };
        let cidr = format!("{ip}/24");
        c = if control_plane {
            c.control_plane(name, &cidr, host)
        } else {
            c.worker(name, &cidr, host)
        };
    }
    c.add_to(&mut lab);
    lab
}

fn engine(w: &World, shape: &Shape) -> Engine {
    Engine::new(lab(w, shape), w.store.clone())
}

fn opts() -> ApplyOptions {
    ApplyOptions {
        parallelism: 8,
        ..ApplyOptions::default()
    }
}

async fn apply(w: &World, shape: &Shape) -> lab_core::Plan {
    let e = engine(w, shape);
    let plan = e.plan(&PlanOptions::default()).await.expect("plan");
    let report = e.apply(&plan, &opts()).await.expect("apply");
    assert!(report.is_success(), "{report:#?}");
    plan
}

async fn assert_quiet(w: &World, shape: &Shape) {
    let again = engine(w, shape)
        .plan(&PlanOptions::default())
        .await
        .expect("plan");
    assert!(!again.has_changes(), "{:#?}", again.steps);
}

fn requests_ending(talos: &TalosSim, path: &str) -> usize {
    talos
        .requests()
        .iter()
        .filter(|r| r.ends_with(path))
        .count()
}

fn cluster_outputs(w: &World) -> lab_core::Attrs {
    let state = w.store.load().unwrap().unwrap();
    state.resources[&Address::new("talos.cluster", "home")]
        .outputs
        .clone()
}

#[test]
fn a_cluster_from_nothing_to_a_kubeconfig_then_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let w = world(dir.path()).await;
        let shape = Shape::default();
        let plan = apply(&w, &shape).await;
        assert_eq!(plan.counts(), (14, 0, 0));

        for (name, ip, control_plane) in NODES {
            let stage = w.talos.node_stage(ip).unwrap();
            assert!(stage.is_configured(), "{name} is {stage:?}");
            // The config the node got is Talos's own shape for its role,
            // valid against the v1.13.9 schema (persist aside, see notes).
            let text = w.talos.applied_config(ip).expect("a config was applied");
            let docs = Document::parse_all(&text).unwrap();
            let schema = config::default_schema();
            config::validate(&docs, &schema).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
            let kind = if control_plane {
                "controlplane"
            } else {
                "worker"
            };
            assert!(text.contains(&format!("type: {kind}")), "{name}");
            assert!(text.contains("image: factory.talos.dev/nocloud-installer/"));
            assert!(text.contains(&format!("{ip}/24")), "{name}: static address");
            assert_eq!(
                text.contains("kind: Layer2VIPConfig"),
                control_plane,
                "{name}: the VIP lives on control planes only"
            );
        }
        assert_eq!(w.talos.node_stage("10.0.10.11"), Some(Stage::Bootstrapped));
        assert_eq!(
            requests_ending(&w.talos, "/machine.MachineService/Bootstrap"),
            1,
            "etcd is bootstrapped once, on the first control plane"
        );

        let outputs = cluster_outputs(&w);
        let Some(Value::Secret(kubeconfig)) = outputs.get("kubeconfig") else {
            panic!("the kubeconfig is a Secret output: {outputs:?}");
        };
        assert!(kubeconfig.expose().contains("https://10.0.10.5:6443"));
        assert!(kubeconfig.expose().contains("certificate-authority-data"));
        let Some(Value::Secret(talosconfig)) = outputs.get("talosconfig") else {
            panic!("the talosconfig is a Secret output");
        };
        // talosctl dials the control planes themselves, never the VIP.
        assert!(talosconfig.expose().contains("10.0.10.11"));
        assert!(!talosconfig.expose().contains("10.0.10.5\n"));

        let before = w.talos.request_count();
        assert_quiet(&w, &shape).await;
        let probes = w.talos.request_count() - before;
        assert_eq!(
            probes,
            NODES.len(),
            "a quiet plan costs one Version call per node: {:?}",
            &w.talos.requests()[before..]
        );
    });
}

#[test]
fn the_plan_says_which_change_reboots_and_the_apply_does_so() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let w = world(dir.path()).await;
        let mut shape = Shape {
            sysctl: Some("262144"),
            ..Shape::imported()
        };
        apply(&w, &shape).await;

        let boots =
            |w: &World| -> Vec<u64> { NODES.iter().map(|n| w.talos.boots(n.1).unwrap()).collect() };
        let booted = boots(&w);

        // A sysctl applies live.
        shape.sysctl = Some("524288");
        let plan = engine(&w, &shape)
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        let machines: Vec<_> = plan
            .steps
            .iter()
            .filter(|s| s.address.kind() == "talos.machine")
            .collect();
        assert_eq!(machines.len(), NODES.len());
        for step in &machines {
            assert_eq!(step.action, Action::Update);
            assert!(
                step.notes
                    .iter()
                    .any(|n| n.contains("live, no reboot") && n.contains("machine.sysctls")),
                "{:?}",
                step.notes
            );
        }
        let rendered = lab_core::plan::render::render(&plan, false);
        assert!(rendered.contains("applies the change live"), "{rendered}");
        let report = engine(&w, &shape).apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert!(w
            .talos
            .applied_config("10.0.10.21")
            .unwrap()
            .contains("524288"));
        assert_eq!(boots(&w), booted, "nothing rebooted, as the plan said");
        assert_quiet(&w, &shape).await;

        // udev rules only load at boot: the workers reboot, the control
        // planes are untouched, and the plan says so before anything happens.
        shape.udev_rule = Some(r#"SUBSYSTEM=="drm", KERNEL=="renderD*", GROUP="44", MODE="0660""#);
        let plan = engine(&w, &shape)
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        let changed: Vec<&str> = plan.steps.iter().map(|s| s.address.name()).collect();
        assert_eq!(changed, vec!["w1", "w2"], "{:#?}", plan.steps);
        for step in &plan.steps {
            assert!(
                step.notes
                    .iter()
                    .any(|n| n.contains("REBOOTS") && n.contains("machine.udev")),
                "{:?}",
                step.notes
            );
        }
        let report = engine(&w, &shape).apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        let rebooted: Vec<bool> = boots(&w).iter().zip(&booted).map(|(a, b)| a > b).collect();
        assert_eq!(
            rebooted,
            vec![false, false, false, true, true],
            "only the workers rebooted"
        );
        assert!(w.talos.node_stage("10.0.10.21").unwrap().is_configured());
        assert_quiet(&w, &shape).await;
    });
}

#[test]
fn a_lost_bundle_stops_the_plan_and_the_exported_one_resumes() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let w = world(dir.path()).await;
        let shape = Shape::default();
        apply(&w, &shape).await;
        let mut state = w.store.load().unwrap().unwrap();
        let exported = export_secrets(&state, "home").expect("the bundle is in the state");
        assert!(exported.expose().contains("bootstraptoken"));

        // Someone lost the bundle's record (a hand-edited or restored state).
        state
            .resources
            .shift_remove(&Address::new("talos.secrets", "home"));
        w.store.save(&state).unwrap();
        let applies = requests_ending(&w.talos, "/machine.MachineService/ApplyConfiguration");
        match engine(&w, &shape).plan(&PlanOptions::default()).await {
            Err(EngineError::Refused {
                address, message, ..
            }) => {
                assert!(address.starts_with("talos."), "{address}");
                assert!(message.contains("import_secrets"), "{message}");
                assert!(!message.contains("BEGIN"), "no key material in messages");
            }
            other => panic!("the plan must stop, got {:?}", other.map(|p| p.steps)),
        }

        // Importing the exported bundle puts it back without touching a node.
        let shape = Shape {
            import: Some(exported),
            ..Shape::default()
        };
        let plan = engine(&w, &shape)
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        let kinds: Vec<(&str, Action)> = plan
            .steps
            .iter()
            .map(|s| (s.address.kind(), s.action))
            .collect();
        assert_eq!(kinds, vec![("talos.secrets", Action::Create)], "{kinds:?}");
        let report = engine(&w, &shape).apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert_eq!(
            requests_ending(&w.talos, "/machine.MachineService/ApplyConfiguration"),
            applies
        );
        assert_quiet(&w, &shape).await;
    });
}

#[test]
fn a_bootstrap_whose_record_was_lost_is_sent_again_and_already_exists_is_done() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let w = world(dir.path()).await;
        let shape = Shape::imported();
        apply(&w, &shape).await;
        // A crash after Bootstrap succeeded but before the state recorded it.
        let mut state = w.store.load().unwrap().unwrap();
        state
            .resources
            .shift_remove(&Address::new("talos.cluster", "home"));
        w.store.save(&state).unwrap();

        let plan = apply(&w, &shape).await;
        assert_eq!(plan.counts(), (1, 0, 0));
        assert_eq!(
            requests_ending(&w.talos, "/machine.MachineService/Bootstrap"),
            2
        );
        assert!(
            w.talos
                .outcomes()
                .iter()
                .any(|o| o.contains("AlreadyExists")),
            "{:?}",
            w.talos.outcomes()
        );
        assert!(matches!(
            cluster_outputs(&w).get("kubeconfig"),
            Some(Value::Secret(_))
        ));
        assert_quiet(&w, &shape).await;
    });
}

#[test]
fn a_recreated_vm_boots_into_maintenance_and_gets_its_config_again() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let w = world(dir.path()).await;
        let mut shape = Shape::imported();
        apply(&w, &shape).await;
        let applies = requests_ending(&w.talos, "/machine.MachineService/ApplyConfiguration");

        // Moving w1 to another Proxmox node re-creates its VM.
        shape.w1_on_pve1 = true;
        let plan = engine(&w, &shape)
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        let step = plan
            .step(&Address::new("talos.machine", "w1"))
            .expect("the machine follows its VM");
        assert_eq!(step.action, Action::Replace);
        assert!(
            step.notes.iter().any(|n| n.contains("maintenance mode")),
            "{:?}",
            step.notes
        );
        let report = engine(&w, &shape).apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert!(w.talos.node_stage("10.0.10.21").unwrap().is_configured());
        assert!(
            requests_ending(&w.talos, "/machine.MachineService/ApplyConfiguration") > applies,
            "the new VM got its config"
        );
        assert_quiet(&w, &shape).await;
    });
}

#[test]
fn a_node_that_never_boots_fails_alone_and_the_next_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let mut w = world(dir.path()).await;
        let mut options = TalosOptions::simulated(&w.talos);
        options.boot_timeout = Duration::from_secs(2);
        w.provider = TalosProvider::shared(options);
        // w2's VM runs, but its Talos never answers (a wrong ISO, a NIC on
        // the wrong VLAN): the simulator hides it until told otherwise.
        let hidden = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let pve = w.pve.simulator().unwrap().observer();
        let flag = hidden.clone();
        w.talos.set_presence(move |ip| {
            if ip == "10.0.10.22" && flag.load(std::sync::atomic::Ordering::SeqCst) {
                return None;
            }
            pve.read(|world| lab_talos::connect::vm_with_address(world, ip))
        });
        let shape = Shape::imported();
        let e = engine(&w, &shape);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let once = ApplyOptions {
            retry: lab_core::RetryPolicy {
                max_attempts: 1,
                ..lab_core::RetryPolicy::fast()
            },
            ..opts()
        };
        let report = e.apply(&plan, &once).await.unwrap();
        assert!(!report.is_success());
        let failed: Vec<String> = report
            .failed
            .iter()
            .map(|f| f.address.to_string())
            .collect();
        assert_eq!(failed, vec!["talos.machine.w2".to_string()], "{report:#?}");
        let skipped: Vec<String> = report
            .skipped
            .iter()
            .map(|s| s.address.to_string())
            .collect();
        assert!(
            report.failed[0].error.contains("did not answer"),
            "{}",
            report.failed[0].error
        );
        assert_eq!(skipped, vec!["talos.cluster.home".to_string()]);
        assert!(
            w.talos.node_stage("10.0.10.21").unwrap().is_configured(),
            "the other nodes went ahead"
        );

        // The node shows up; the next run finishes the job, nothing twice.
        hidden.store(false, std::sync::atomic::Ordering::SeqCst);
        let plan = apply(&w, &shape).await;
        let created: Vec<String> = plan.steps.iter().map(|s| s.address.to_string()).collect();
        assert_eq!(created, vec!["talos.machine.w2", "talos.cluster.home"]);
        assert_eq!(
            requests_ending(&w.talos, "/machine.MachineService/Bootstrap"),
            1
        );
        assert_eq!(
            w.pve.simulator().unwrap().world().guests().len(),
            5,
            "no VM twice"
        );
        assert_quiet(&w, &shape).await;
    });
}

#[test]
fn a_new_talos_version_upgrades_every_node_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let w = world(dir.path()).await;
        let mut shape = Shape {
            version: Some("v1.13.8"),
            ..Shape::imported()
        };
        apply(&w, &shape).await;
        for (name, ip, _) in NODES {
            assert_eq!(
                w.talos.running_version(ip).as_deref(),
                Some("v1.13.8"),
                "{name}"
            );
        }
        let booted: Vec<u64> = NODES.iter().map(|n| w.talos.boots(n.1).unwrap()).collect();
        let logged = w.talos.requests().len();

        shape.version = Some("v1.13.9");
        let plan = engine(&w, &shape)
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        for (name, _, _) in NODES {
            let step = plan
                .step(&Address::new("talos.machine", name))
                .expect("every node upgrades");
            assert_eq!(step.action, Action::Update);
            assert!(
                step.notes
                    .iter()
                    .any(|n| n.contains("UPGRADES Talos v1.13.8 -> v1.13.9")),
                "{:?}",
                step.notes
            );
        }
        let report = engine(&w, &shape).apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        for (i, (name, ip, _)) in NODES.into_iter().enumerate() {
            assert_eq!(
                w.talos.running_version(ip).as_deref(),
                Some("v1.13.9"),
                "{name}"
            );
            assert!(
                w.talos.boots(ip).unwrap() > booted[i],
                "{name} rebooted into it"
            );
        }
        // Rolling: each node's apply and upgrade finish before the next
        // node's apply starts.
        let writes: Vec<String> = w.talos.requests()[logged..]
            .iter()
            .filter(|r| r.ends_with("/ApplyConfiguration") || r.ends_with("/Upgrade"))
            .cloned()
            .collect();
        assert_eq!(writes.len(), 2 * NODES.len(), "{writes:#?}");
        for pair in writes.chunks(2) {
            let ip = |r: &String| r.split(' ').next().unwrap().to_string();
            assert!(pair[0].ends_with("/ApplyConfiguration"), "{writes:#?}");
            assert!(pair[1].ends_with("/Upgrade"), "{writes:#?}");
            assert_eq!(ip(&pair[0]), ip(&pair[1]), "{writes:#?}");
        }
        // Each node's old ISO was deleted only after its VMs let go of it.
        let sim = w.pve.simulator().unwrap();
        assert_eq!(sim.dangling_references(), Vec::<String>::new());
        assert_quiet(&w, &shape).await;
    });
}

#[test]
fn client_certificates_close_to_expiry_are_renewed_by_the_next_apply() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let w = world(dir.path()).await;
        let shape = Shape::imported();
        apply(&w, &shape).await;
        assert_quiet(&w, &shape).await;

        // Eleven months later: the talosconfig's certificate has 10 days left.
        let bundle =
            lab_talos::secrets::SecretsBundle::from_yaml(shape.import.as_ref().unwrap().expose())
                .unwrap();
        let cert = bundle
            .admin_client_cert(&["os:admin"], Duration::from_secs(10 * 24 * 3600))
            .unwrap();
        let stale = bundle.talosconfig("home", &["10.0.10.11".into()], &[], &cert);
        let mut state = w.store.load().unwrap().unwrap();
        let cluster = Address::new("talos.cluster", "home");
        state
            .resources
            .get_mut(&cluster)
            .unwrap()
            .outputs
            .insert("talosconfig".into(), Value::Secret(stale.clone()));
        w.store.save(&state).unwrap();

        let e = engine(&w, &shape);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let actions: Vec<(String, Action)> = plan
            .steps
            .iter()
            .map(|s| (s.address.to_string(), s.action))
            .collect();
        assert_eq!(actions, vec![(cluster.to_string(), Action::Update)]);
        let step = &plan.steps[0];
        assert!(
            step.notes
                .iter()
                .any(|n| n.contains("renews") && n.contains("expires on")),
            "{:?}",
            step.notes
        );
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert_eq!(
            requests_ending(&w.talos, "/machine.MachineService/Bootstrap"),
            1,
            "renewing credentials does not bootstrap again"
        );
        let Some(Value::Secret(fresh)) = cluster_outputs(&w).get("talosconfig").cloned() else {
            panic!("a talosconfig");
        };
        assert_ne!(fresh, stale);
        assert_quiet(&w, &shape).await;
    });
}
