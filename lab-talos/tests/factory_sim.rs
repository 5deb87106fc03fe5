//! Image Factory schematic registration: the real HTTPS client against the
//! factory simulator, then a lab whose only resource is `talos.schematic`.
//!
//! Covered: the qemu-guest-agent schematic registers under its published
//! id and reads back; registering again changes nothing; a body with an
//! unknown field is the factory's fatal 400; a 503 and a refused connection
//! are transient; an untrusted certificate is a TLS error; through the
//! engine, a schematic is registered once, a second plan is quiet, and a
//! changed schematic registers the new one.

use std::sync::Arc;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{Action, Address, ApplyOptions, MemoryStateStore, Provider, StateStore};
use lab_talos::api::{ErrorKind, FactoryClient};
use lab_talos::factory::{
    ImageFactory, Schematic, QEMU_GUEST_AGENT, QEMU_GUEST_AGENT_SCHEMATIC_ID, VANILLA_SCHEMATIC_ID,
};
use lab_talos::model::{SchematicRegistration, SchematicRegistrationOutputs};
use lab_talos::provider::{TalosOptions, TalosProvider};
use lab_talos::sim::factory::FactorySim;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn qemu() -> Schematic {
    Schematic::new().extension(QEMU_GUEST_AGENT)
}

#[test]
fn the_client_registers_the_qemu_guest_agent_schematic() {
    runtime().block_on(async {
        let sim = FactorySim::start().await.unwrap();
        let client = FactoryClient::with_root_pem(sim.factory(), sim.cert_pem()).unwrap();
        let id = client.register(&qemu()).await.unwrap();
        assert_eq!(id, QEMU_GUEST_AGENT_SCHEMATIC_ID);
        assert_eq!(
            sim.schematic(&id).as_deref(),
            Some(qemu().canonical_yaml().as_str())
        );
        assert_eq!(
            client.schematic(&id).await.unwrap().as_deref(),
            Some(qemu().canonical_yaml().as_str()),
            "GET /schematics/<id> returns the canonical YAML"
        );
        assert_eq!(client.schematic(VANILLA_SCHEMATIC_ID).await.unwrap(), None);

        // Idempotent: the same answer, one stored copy.
        assert_eq!(client.register(&qemu()).await.unwrap(), id);
        assert_eq!(sim.schematic_ids(), std::slice::from_ref(&id));
        assert_eq!(sim.count("POST", "/schematics"), 2);

        // Another spelling of the same schematic gets the canonical id.
        let json = r#"{"customization":{"systemExtensions":{"officialExtensions":["siderolabs/qemu-guest-agent"]}}}"#;
        assert_eq!(client.register_yaml(json).await.unwrap(), id);
        assert_eq!(sim.schematic_ids(), [id]);
    });
}

#[test]
fn a_schematic_with_an_unknown_field_is_a_fatal_400() {
    runtime().block_on(async {
        let sim = FactorySim::start().await.unwrap();
        let client = sim.client().unwrap();
        let raw = "customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/qemu-guest-agent\n    extensions:\n        - siderolabs/iscsi-tools\n";
        let err = client.register_yaml(raw).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");
        assert!(!err.is_transient());
        assert!(err.message.contains("400"), "{err}");
        assert!(
            err.message
                .contains("line 5: field extensions not found in type schematic.Customization"),
            "the factory's own message: {err}"
        );
        assert_eq!(sim.requests().last().map(|r| r.status), Some(400));
        assert!(sim.schematic_ids().is_empty(), "nothing was registered");
    });
}

#[test]
fn a_503_and_a_refused_connection_are_transient() {
    runtime().block_on(async {
        let sim = FactorySim::start().await.unwrap();
        let client = sim.client().unwrap();
        sim.set_failure(Some(503));
        let err = client.register(&qemu()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
        assert!(err.is_transient(), "{err}");
        assert!(err.message.contains("503"), "{err}");
        sim.set_failure(None);
        assert_eq!(
            client.register(&qemu()).await.unwrap(),
            QEMU_GUEST_AGENT_SCHEMATIC_ID
        );

        // Nothing listens on a port just released.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let gone = client.at(ImageFactory::new(&format!("https://127.0.0.1:{port}")).unwrap());
        let err = gone.register(&qemu()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unreachable, "{err}");
        assert!(err.is_transient(), "{err}");
    });
}

#[test]
fn the_simulators_certificate_is_not_trusted_without_its_root() {
    runtime().block_on(async {
        let sim = FactorySim::start().await.unwrap();
        // Platform roots only (or none at all on this system): either way a
        // TLS error, never an accepted connection.
        let err = match FactoryClient::new(sim.factory()) {
            Ok(client) => client.register(&qemu()).await.unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(err.kind, ErrorKind::Tls, "{err}");
        assert!(!err.is_transient());
        assert_eq!(sim.count("POST", "/schematics"), 0);
    });
}

fn lab(sim: &FactorySim, provider: &Arc<dyn Provider>, schematic: &Schematic) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(provider.clone());
    let reg = lab.add(SchematicRegistration::new(
        "home",
        &sim.factory(),
        schematic,
    ));
    assert_eq!(reg.id().address().to_string(), "talos.schematic.home");
    lab
}

#[test]
fn a_lab_registers_its_schematic_once_and_then_has_no_changes() {
    runtime().block_on(async {
        let sim = FactorySim::start().await.unwrap();
        let options = TalosOptions::live().with_factory(sim.client().unwrap());
        let provider = TalosProvider::shared(options);
        let store = MemoryStateStore::new();

        let engine = Engine::new(lab(&sim, &provider, &qemu()), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (1, 0, 0), "{:#?}", plan.steps);
        let report = engine.apply(&plan, &ApplyOptions::default()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");

        let again = Engine::new(lab(&sim, &provider, &qemu()), store.clone())
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
        assert_eq!(sim.count("POST", "/schematics"), 1, "{:#?}", sim.requests());
        assert_eq!(sim.requests().len(), 1, "a plan asks the factory nothing");

        let state = store.load().unwrap().unwrap();
        let recorded = &state.resources[&Address::new("talos.schematic", "home")];
        assert_eq!(
            recorded.outputs["id"],
            Value::from(QEMU_GUEST_AGENT_SCHEMATIC_ID)
        );
        assert_eq!(sim.schematic_ids(), [QEMU_GUEST_AGENT_SCHEMATIC_ID]);

        // A custom schematic: an update that registers the new one.
        let custom = qemu().kernel_arg("console=ttyS0");
        let engine = Engine::new(lab(&sim, &provider, &custom), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.steps.len(), 1, "{:#?}", plan.steps);
        assert_eq!(plan.steps[0].action, Action::Update, "{:#?}", plan.steps);
        let report = engine.apply(&plan, &ApplyOptions::default()).await.unwrap();
        assert!(report.is_success(), "{report:#?}");
        assert_eq!(sim.count("POST", "/schematics"), 2);
        assert!(sim.schematic(&custom.id()).is_some());
        let state = store.load().unwrap().unwrap();
        let recorded = &state.resources[&Address::new("talos.schematic", "home")];
        assert_eq!(recorded.outputs["id"], Value::from(custom.id()));
    });
}
