//! The Talos API client against the simulator: TLS modes, node stages,
//! apply modes, bootstrap idempotency, kubeconfig, health checks, running
//! versions and upgrades.
//!
//! Configs are generated from Talos's public test bundle
//! (`lab-talos/reference/talos-examples/secrets.yaml`); the
//! "other cluster" differs in its OS CA (made here, without the slow RSA
//! service-account keygen of a full `SecretsBundle::generate`).

use std::sync::OnceLock;
use std::time::Duration;

use lab_core::Secret;
use lab_talos::api::{ApiError, ApplyMode, Credentials, ErrorKind, NodeMode, TalosClient};
use lab_talos::config::{generate, render, ClusterInput, ConfigSecrets, NodeInput, Role};
use lab_talos::secrets::SecretsBundle;
use lab_talos::sim::{SimConfig, Stage, TalosSim};

const CP: &str = "10.0.10.11";
const CP2: &str = "10.0.10.12";
const WORKER: &str = "10.0.10.21";
const ENDPOINT: &str = "https://10.0.10.10:6443";
const WAIT: Duration = Duration::from_secs(5);

fn bundle() -> &'static SecretsBundle {
    static BUNDLE: OnceLock<SecretsBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/reference/talos-examples/secrets.yaml"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        SecretsBundle::from_yaml(&text).expect("the reference bundle parses")
    })
}

/// Another cluster's bundle: the reference bundle with a fresh OS CA (an
/// Ed25519 CA with the same subject, `O=talos`, as every Talos OS CA), so
/// no RSA key has to be generated.
fn other_bundle() -> &'static SecretsBundle {
    static BUNDLE: OnceLock<SecretsBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine as _;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "talos");
        params.distinguished_name = dn;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        let talos_key = key
            .serialize_pem()
            .replace("PRIVATE KEY", "ED25519 PRIVATE KEY");
        let reference = bundle().to_yaml();
        let (head, os) = reference.split_at(reference.find("    os:\n").expect("an os CA"));
        assert!(os.lines().count() == 3, "os is the last entry: {os}");
        let text = format!(
            "{head}    os:\n        crt: {}\n        key: {}\n",
            STANDARD.encode(cert.pem()),
            STANDARD.encode(talos_key)
        );
        let other = SecretsBundle::from_yaml(&text).expect("the other bundle parses");
        assert_ne!(other.os_ca().crt_pem(), bundle().os_ca().crt_pem());
        other
    })
}

fn config_for(bundle: &SecretsBundle, role: Role, patches: &[&str]) -> Secret {
    let cluster = ClusterInput::new("lab", ENDPOINT, "1.36.3");
    let mut node = NodeInput::new(role);
    node.patches = patches.iter().map(|p| p.to_string()).collect();
    let docs = generate(&cluster, &node, &ConfigSecrets::from(bundle)).expect("generate");
    Secret::new(render(&docs))
}

fn config(role: Role) -> Secret {
    config_for(bundle(), role, &[])
}

/// The Proxmox guide's schematic (qemu-guest-agent).
const SCHEMATIC: &str = "ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515";

fn installer(tag: &str) -> String {
    format!("factory.talos.dev/nocloud-installer/{SCHEMATIC}:{tag}")
}

/// A control plane config whose `machine.install.image` is the installer
/// for `tag`.
fn config_with_installer(tag: &str) -> Secret {
    let patch = format!("machine:\n  install:\n    image: {}\n", installer(tag));
    config_for(bundle(), Role::ControlPlane, &[&patch])
}

fn admin() -> Credentials {
    Credentials::admin(bundle()).expect("admin credentials")
}

async fn sim_with(ips: &[&str]) -> TalosSim {
    sim_with_config(ips, SimConfig::default()).await
}

/// Reboots long enough that a test can observe the node while it is down
/// even on a loaded machine.
async fn slow_sim_with(ips: &[&str]) -> TalosSim {
    let config = SimConfig {
        reboot: Duration::from_secs(1),
        ..SimConfig::default()
    };
    sim_with_config(ips, config).await
}

async fn sim_with_config(ips: &[&str], config: SimConfig) -> TalosSim {
    let sim = TalosSim::new(config);
    for ip in ips {
        sim.add_node(ip).await.expect("add node");
    }
    sim
}

fn addr(sim: &TalosSim, ip: &str) -> String {
    sim.endpoint(ip).expect("node exists")
}

/// Applies `config` in maintenance mode and waits until the node runs it.
async fn install(sim: &TalosSim, ip: &str, config: &Secret) {
    let mut client = TalosClient::insecure(&addr(sim, ip))
        .await
        .expect("insecure connect");
    let outcome = client
        .apply_configuration(config, ApplyMode::Auto, false)
        .await
        .expect("apply in maintenance mode");
    assert_eq!(outcome.mode, ApplyMode::NoReboot);
    assert!(
        sim.wait_for_stage(ip, Stage::Configured, WAIT).await,
        "{ip} never came up configured: {:?}",
        sim.node_stage(ip)
    );
}

async fn mtls(sim: &TalosSim, ip: &str) -> TalosClient {
    TalosClient::mtls(&addr(sim, ip), ip, &admin())
        .await
        .expect("mTLS connect")
}

/// Connects insecurely and calls Version: how a maintenance-mode probe
/// fails against a configured node.
async fn insecure_version(addr: &str) -> Result<String, ApiError> {
    let mut client = TalosClient::insecure(addr).await?;
    client.version().await
}

#[tokio::test]
async fn maintenance_apply_installs_then_only_mtls_works() {
    let sim = slow_sim_with(&[CP]).await;
    let a = addr(&sim, CP);
    assert_eq!(sim.node_stage(CP), Some(Stage::Maintenance));

    let (mode, mut maintenance) = TalosClient::probe(&a, CP, Some(&admin())).await.unwrap();
    assert_eq!(mode, NodeMode::Maintenance);
    assert!(maintenance.is_insecure());
    assert_eq!(maintenance.server_cert_sha256().map(str::len), Some(64));
    assert_eq!(maintenance.version().await.unwrap(), "v1.13.9");
    // Maintenance mode serves only ApplyConfiguration and Version.
    let err = maintenance.bootstrap().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unimplemented, "{err}");

    let cp_config = config(Role::ControlPlane);
    let outcome = maintenance
        .apply_configuration(&cp_config, ApplyMode::Auto, false)
        .await
        .unwrap();
    // Talos answers an AUTO apply in maintenance mode as a live one; the
    // boot sequence that waited for the config installs and reboots.
    assert_eq!(outcome.mode, ApplyMode::NoReboot);
    assert_eq!(
        outcome.mode_details,
        "Applied configuration without a reboot"
    );
    assert_eq!(sim.node_stage(CP), Some(Stage::Installing));
    // While installing the node drops connections.
    let err = insecure_version(&a).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(sim.wait_for_stage(CP, Stage::Configured, WAIT).await);
    assert_eq!(sim.applied_config(CP).as_deref(), Some(cp_config.expose()));

    // The old insecure connection is gone, and a new one is refused: the
    // node now demands a client certificate.
    assert!(maintenance.version().await.is_err());
    let err = insecure_version(&a).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");
    assert!(err.message.contains("client certificate"), "{err}");

    let mut client = mtls(&sim, CP).await;
    assert!(!client.is_insecure());
    assert_eq!(client.version().await.unwrap(), "v1.13.9");
    let (mode, _) = TalosClient::probe(&a, CP, Some(&admin())).await.unwrap();
    assert_eq!(mode, NodeMode::Configured);
    let err = TalosClient::probe(&a, CP, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");

    let requests = sim.requests();
    assert!(requests.contains(&format!("{CP} /machine.MachineService/ApplyConfiguration")));
    assert_eq!(sim.request_count(), requests.len());
}

#[tokio::test]
async fn another_clusters_credentials_are_an_unknown_authority() {
    let sim = sim_with(&[CP]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    let other = Credentials::admin(other_bundle()).unwrap();
    let err = TalosClient::mtls(&addr(&sim, CP), CP, &other)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");
    assert!(err.message.contains("unknown authority"), "{err}");
    assert!(!err.is_transient());

    // The server side too: our CA, but a client certificate from the other
    // cluster's CA.
    let mixed = Credentials {
        ca_pem: bundle().os_ca().crt_pem().to_owned(),
        ..other
    };
    let result = async {
        let mut client = TalosClient::mtls(&addr(&sim, CP), CP, &mixed).await?;
        client.version().await
    }
    .await;
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn mtls_checks_the_node_ip() {
    let sim = sim_with(&[CP]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    let err = TalosClient::mtls(&addr(&sim, CP), "10.0.10.99", &admin())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn bootstrap_is_idempotent_and_control_plane_only() {
    let sim = sim_with(&[CP, WORKER]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    install(&sim, WORKER, &config(Role::Worker)).await;

    let mut cp = mtls(&sim, CP).await;
    cp.bootstrap().await.expect("first bootstrap");
    assert_eq!(sim.node_stage(CP), Some(Stage::Bootstrapped));
    cp.bootstrap()
        .await
        .expect("second bootstrap counts as done");
    let bootstraps: Vec<String> = sim
        .outcomes()
        .into_iter()
        .filter(|o| o.contains("/machine.MachineService/Bootstrap"))
        .collect();
    assert_eq!(
        bootstraps,
        [
            format!("{CP} /machine.MachineService/Bootstrap OK"),
            format!("{CP} /machine.MachineService/Bootstrap AlreadyExists"),
        ]
    );

    // A worker has no Bootstrap (Talos's `CheckControlplane`): not a
    // condition to wait out.
    let mut worker = mtls(&sim, WORKER).await;
    let err = worker.bootstrap().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unimplemented, "{err}");
    assert!(!err.is_transient(), "{err}");
    assert!(
        err.message
            .contains("bootstrap is only available on control plane nodes"),
        "{err}"
    );
    assert!(
        err.message.contains("call it on a control-plane node"),
        "{err}"
    );
    assert_eq!(sim.node_stage(WORKER), Some(Stage::Configured));
}

#[tokio::test]
async fn kubeconfig_round_trip() {
    let sim = sim_with(&[CP, WORKER]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    install(&sim, WORKER, &config(Role::Worker)).await;
    let mut cp = mtls(&sim, CP).await;
    let kubeconfig = cp.kubeconfig().await.expect("kubeconfig");
    let text = kubeconfig.expose();
    assert!(text.contains(&format!("server: {ENDPOINT}")), "{text}");
    assert!(text.contains("certificate-authority-data: "));
    assert!(text.contains(&bundle().k8s_ca_crt_b64()));
    assert!(text.contains("client-key-data: "));
    assert!(text.contains("admin@lab"));
    // Not in Debug output.
    assert!(!format!("{kubeconfig:?}").contains("client-key-data"));

    let mut worker = mtls(&sim, WORKER).await;
    let err = worker.kubeconfig().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unimplemented, "{err}");
    assert!(!err.is_transient(), "{err}");
    assert!(
        err.message.contains("call it on a control-plane node"),
        "{err}"
    );
}

#[tokio::test]
async fn auto_apply_is_live_or_reboots_like_talos_1_13() {
    let sim = slow_sim_with(&[CP]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    let mut client = mtls(&sim, CP).await;

    // kubelet and sysctls are in LIVE_V1ALPHA1_PATHS: applied live.
    let live = config_for(
        bundle(),
        Role::ControlPlane,
        &["machine:\n  kubelet:\n    extraArgs:\n      max-pods: \"150\"\n  sysctls:\n    vm.max_map_count: \"262144\"\n"],
    );
    let outcome = client
        .apply_configuration(&live, ApplyMode::Auto, false)
        .await
        .unwrap();
    assert_eq!(outcome.mode, ApplyMode::NoReboot, "{outcome:?}");
    assert_eq!(sim.node_stage(CP), Some(Stage::Configured));
    assert_eq!(sim.applied_config(CP).as_deref(), Some(live.expose()));

    // machine.env is not: a dry run says so and changes nothing.
    let reboot = config_for(
        bundle(),
        Role::ControlPlane,
        &["machine:\n  env:\n    HTTP_PROXY: http://proxy:3128\n"],
    );
    let dry = client
        .apply_configuration(&reboot, ApplyMode::Auto, true)
        .await
        .unwrap();
    assert_eq!(dry.mode, ApplyMode::Reboot);
    assert!(
        dry.mode_details.contains(".machine.env"),
        "{}",
        dry.mode_details
    );
    assert!(
        !dry.mode_details.contains("proxy:3128"),
        "values must not leak"
    );
    assert_eq!(sim.applied_config(CP).as_deref(), Some(live.expose()));

    let err = client
        .apply_configuration(&reboot, ApplyMode::NoReboot, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");
    assert!(err.message.contains(".machine.env"), "{err}");

    let outcome = client
        .apply_configuration(&reboot, ApplyMode::Auto, false)
        .await
        .unwrap();
    assert_eq!(outcome.mode, ApplyMode::Reboot);
    assert_eq!(sim.node_stage(CP), Some(Stage::Rebooting));
    assert!(sim.wait_for_stage(CP, Stage::Configured, WAIT).await);
    // The client reconnects by itself after the reboot.
    assert_eq!(client.version().await.unwrap(), "v1.13.9");
}

#[tokio::test]
async fn configs_without_the_v1alpha1_document_are_invalid() {
    let sim = sim_with(&[CP]).await;
    let mut client = TalosClient::insecure(&addr(&sim, CP)).await.unwrap();
    let multidoc_only = Secret::new("apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: cp1\n");
    let err = client
        .apply_configuration(&multidoc_only, ApplyMode::Auto, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");
    assert!(!err.is_transient());
    assert!(err.message.contains("v1alpha1"), "{err}");

    let garbage = Secret::new("machine: [unclosed\n");
    let err = client
        .apply_configuration(&garbage, ApplyMode::Auto, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");
    assert_eq!(sim.node_stage(CP), Some(Stage::Maintenance));

    install(&sim, CP, &config(Role::ControlPlane)).await;
    let mut client = mtls(&sim, CP).await;
    let err = client
        .apply_configuration(&multidoc_only, ApplyMode::Auto, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");
}

#[tokio::test]
async fn only_one_apply_at_a_time() {
    let sim = TalosSim::new(SimConfig {
        apply_delay: Duration::from_millis(600),
        ..SimConfig::default()
    });
    sim.add_node(CP).await.unwrap();
    let a = addr(&sim, CP);
    let cfg = config(Role::ControlPlane);
    let mut first = TalosClient::insecure(&a).await.unwrap();
    let mut second = TalosClient::insecure(&a).await.unwrap();
    let (one, two) = tokio::join!(
        first.apply_configuration(&cfg, ApplyMode::Auto, false),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            second
                .apply_configuration(&cfg, ApplyMode::Auto, false)
                .await
        }
    );
    // Whichever got the lock first wins; the other is told to retry.
    let (won, lost) = match (one, two) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("expected one apply to win and one to fail: {other:?}"),
    };
    assert_eq!(won.mode, ApplyMode::NoReboot);
    assert_eq!(lost.kind, ErrorKind::FailedPrecondition, "{lost}");
    assert!(lost.is_transient());
}

#[tokio::test]
async fn health_check_passes_after_bootstrap_and_names_an_absent_node() {
    let sim = sim_with(&[CP, CP2, WORKER]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    install(&sim, CP2, &config(Role::ControlPlane)).await;
    install(&sim, WORKER, &config(Role::Worker)).await;
    let cps = vec![CP.to_string(), CP2.to_string()];
    let workers = vec![WORKER.to_string()];
    let mut client = mtls(&sim, CP).await;

    // Before bootstrap: etcd isn't there.
    let err = client
        .health_check(&cps, &workers, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::DeadlineExceeded, "{err}");
    assert!(err.message.contains("etcd"), "{err}");

    client.bootstrap().await.unwrap();
    let lines = client
        .health_check(&cps, &workers, Duration::from_secs(5))
        .await
        .expect("healthy");
    assert!(
        lines.contains(&"waiting for etcd to be healthy: OK".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"waiting for all nodes to finish boot sequence: OK".to_string()),
        "{lines:?}"
    );

    // The worker's VM is powered off.
    sim.set_presence(|ip| (ip != WORKER).then(|| format!("machine-{ip}")));
    assert_eq!(sim.node_stage(WORKER), Some(Stage::Off));
    let err = client
        .health_check(&cps, &workers, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::DeadlineExceeded, "{err}");
    assert!(err.message.contains(WORKER), "{err}");
    assert!(err.message.contains("apid"), "{err}");
    assert!(err.is_transient());

    // A powered-off node refuses connections.
    let err = TalosClient::mtls(&addr(&sim, WORKER), WORKER, &admin())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unreachable, "{err}");
}

#[tokio::test]
async fn a_new_machine_at_the_same_ip_starts_in_maintenance_mode() {
    let sim = sim_with(&[CP]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    sim.set_presence(|ip| Some(format!("replacement-{ip}")));
    assert_eq!(sim.node_stage(CP), Some(Stage::Maintenance));
    assert_eq!(sim.applied_config(CP), None);
    let (mode, _) = TalosClient::probe(&addr(&sim, CP), CP, Some(&admin()))
        .await
        .unwrap();
    assert_eq!(mode, NodeMode::Maintenance);
}

#[tokio::test]
async fn reset_returns_to_maintenance_mode() {
    let sim = slow_sim_with(&[CP]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    let mut client = mtls(&sim, CP).await;
    client.bootstrap().await.unwrap();
    // The only etcd member can't leave gracefully.
    let err = client.reset(true).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::FailedPrecondition, "{err}");
    client.reset(false).await.unwrap();
    assert_eq!(sim.node_stage(CP), Some(Stage::Rebooting));
    assert!(sim.wait_for_stage(CP, Stage::Maintenance, WAIT).await);
    assert_eq!(insecure_version(&addr(&sim, CP)).await.unwrap(), "v1.13.9");
}

#[tokio::test]
async fn pinned_maintenance_certificate() {
    let sim = sim_with(&[CP]).await;
    let a = addr(&sim, CP);
    let first = TalosClient::insecure(&a).await.unwrap();
    let seen = first.server_cert_sha256().unwrap().to_owned();
    let mut pinned = TalosClient::insecure_pinned(&a, &seen).await.unwrap();
    assert_eq!(pinned.version().await.unwrap(), "v1.13.9");
    let wrong = "00".repeat(32);
    let err = TalosClient::insecure_pinned(&a, &wrong).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn servers_stop_with_the_last_clone() {
    let sim = sim_with(&[CP]).await;
    let a = addr(&sim, CP);
    let clone = sim.clone();
    drop(sim);
    assert_eq!(insecure_version(&a).await.unwrap(), "v1.13.9");
    drop(clone);
    // The accept loop notices the shutdown and releases the port.
    let mut refused = false;
    for _ in 0..50 {
        if let Err(e) = TalosClient::insecure(&a).await {
            assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "the server kept listening after the simulator was dropped"
    );
}

#[tokio::test]
async fn upgrade_reboots_into_the_installer_tag_and_apply_alone_does_not() {
    // Booted from a v1.13.7 ISO, installed with the v1.13.9 installer.
    let sim = sim_with_config(
        &[CP],
        SimConfig {
            reboot: Duration::from_secs(1),
            talos_version: "v1.13.7".into(),
            ..SimConfig::default()
        },
    )
    .await;
    let a = addr(&sim, CP);
    assert_eq!(sim.running_version(CP).as_deref(), Some("v1.13.7"));
    assert_eq!(sim.running_version("10.0.10.99"), None);
    let (mode, maintenance) = TalosClient::probe(&a, CP, Some(&admin())).await.unwrap();
    assert_eq!(mode, NodeMode::Maintenance);
    assert_eq!(maintenance.last_version(), Some("v1.13.7"));
    drop(maintenance);

    install(&sim, CP, &config_with_installer("v1.13.9")).await;
    assert_eq!(sim.running_version(CP).as_deref(), Some("v1.13.9"));
    let (mode, mut client) = TalosClient::probe(&a, CP, Some(&admin())).await.unwrap();
    assert_eq!(mode, NodeMode::Configured);
    // probe's Version call is remembered: no second call needed.
    assert_eq!(client.last_version(), Some("v1.13.9"));

    // A new install image applied alone changes the config, not Talos.
    let newer = config_with_installer("v1.13.10");
    let outcome = client
        .apply_configuration(&newer, ApplyMode::Auto, false)
        .await
        .unwrap();
    assert_eq!(outcome.mode, ApplyMode::NoReboot, "{outcome:?}");
    assert_eq!(sim.applied_config(CP).as_deref(), Some(newer.expose()));
    assert_eq!(client.version().await.unwrap(), "v1.13.9");
    assert_eq!(sim.running_version(CP).as_deref(), Some("v1.13.9"));

    // The Upgrade call does: acknowledged, one reboot, the new version.
    let boots = sim.boots(CP).unwrap();
    client
        .upgrade(&installer("v1.13.10"))
        .await
        .expect("upgrade");
    assert_eq!(sim.node_stage(CP), Some(Stage::Rebooting));
    assert_eq!(sim.boots(CP), Some(boots + 1));
    assert!(sim.wait_for_stage(CP, Stage::Configured, WAIT).await);
    // Still the version the last call saw, until Version is asked again.
    assert_eq!(client.last_version(), Some("v1.13.9"));
    assert_eq!(client.version().await.unwrap(), "v1.13.10");
    assert_eq!(client.last_version(), Some("v1.13.10"));
    assert_eq!(sim.running_version(CP).as_deref(), Some("v1.13.10"));
    assert_eq!(sim.boots(CP), Some(boots + 1));
    // The config survives the upgrade.
    assert_eq!(sim.applied_config(CP).as_deref(), Some(newer.expose()));
    assert!(sim
        .outcomes()
        .contains(&format!("{CP} /machine.MachineService/Upgrade OK")));
}

#[tokio::test]
async fn upgrade_in_maintenance_mode_is_unimplemented() {
    let sim = sim_with(&[CP]).await;
    let mut client = TalosClient::insecure(&addr(&sim, CP)).await.unwrap();
    let err = client.upgrade(&installer("v1.13.10")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unimplemented, "{err}");
    assert!(!err.is_transient());
    assert!(err.message.contains("mTLS"), "{err}");
    assert_eq!(sim.node_stage(CP), Some(Stage::Maintenance));
    assert_eq!(sim.running_version(CP).as_deref(), Some("v1.13.9"));
}

#[tokio::test]
async fn an_upgrade_image_without_a_tag_is_invalid() {
    let sim = sim_with(&[CP]).await;
    install(&sim, CP, &config(Role::ControlPlane)).await;
    // No install image in the config: the ISO's version.
    assert_eq!(sim.running_version(CP).as_deref(), Some("v1.13.9"));
    let boots = sim.boots(CP);
    let mut client = mtls(&sim, CP).await;
    for image in [
        format!("factory.talos.dev/nocloud-installer/{SCHEMATIC}"),
        "registry.lan:5000/siderolabs/installer".to_string(),
    ] {
        let err = client.upgrade(&image).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");
        assert!(!err.is_transient());
        assert!(err.message.contains("no tag"), "{err}");
    }
    assert_eq!(sim.node_stage(CP), Some(Stage::Configured));
    assert_eq!(sim.boots(CP), boots);
    assert_eq!(client.version().await.unwrap(), "v1.13.9");
    let upgrades: Vec<String> = sim
        .outcomes()
        .into_iter()
        .filter(|o| o.contains("/Upgrade"))
        .collect();
    assert_eq!(
        upgrades,
        vec![format!("{CP} /machine.MachineService/Upgrade InvalidArgument"); 2]
    );
}

#[tokio::test]
async fn upgrade_waits_for_applies_and_other_upgrades() {
    let sim = sim_with_config(
        &[CP],
        SimConfig {
            reboot: Duration::from_secs(1),
            apply_delay: Duration::from_millis(600),
            upgrade_delay: Duration::from_secs(1),
            ..SimConfig::default()
        },
    )
    .await;
    install(&sim, CP, &config_with_installer("v1.13.9")).await;
    let mut first = mtls(&sim, CP).await;
    let mut second = mtls(&sim, CP).await;

    // An apply holds the node: an upgrade meanwhile is told to retry.
    let live = config_with_installer("v1.13.10");
    let (applied, refused) = tokio::join!(
        first.apply_configuration(&live, ApplyMode::Auto, false),
        async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            second.upgrade(&installer("v1.13.10")).await
        }
    );
    assert_eq!(applied.unwrap().mode, ApplyMode::NoReboot);
    let err = refused.unwrap_err();
    assert_eq!(err.kind, ErrorKind::FailedPrecondition, "{err}");
    assert!(err.is_transient());

    // Acknowledged; until its reboot the node is up but busy.
    first.upgrade(&installer("v1.13.10")).await.unwrap();
    assert_eq!(sim.node_stage(CP), Some(Stage::Configured));
    let err = second.upgrade(&installer("v1.13.11")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::FailedPrecondition, "{err}");
    assert!(err.message.contains("in progress"), "{err}");
    let err = second
        .apply_configuration(&live, ApplyMode::Auto, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::FailedPrecondition, "{err}");
    assert_eq!(second.version().await.unwrap(), "v1.13.9");

    assert!(sim.wait_for_stage(CP, Stage::Rebooting, WAIT).await);
    assert!(sim.wait_for_stage(CP, Stage::Configured, WAIT).await);
    assert_eq!(first.version().await.unwrap(), "v1.13.10");
}
