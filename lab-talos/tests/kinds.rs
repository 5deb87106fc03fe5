//! The typed kinds accept exactly what the builders write: `check` with the
//! Talos provider registered finds no `core::spec-mismatch`, every spec
//! written back from its type is the builder's attributes (so an unchanged
//! lab diffs as nothing), and an attribute the provider does not know is a
//! `check` error at the line that set it.

use lab_core::checks::builtin::SPEC_MISMATCH;
use lab_core::kind::Kind;
use lab_core::prelude::*;
use lab_core::value::{decode, encode, Attrs};
use lab_core::ResourceSpec;
use lab_proxmox::model::{Content, Node, Storage};
use lab_talos::config::{ClusterInput, NodeInput, Role};
use lab_talos::factory::{ImageFactory, Schematic, QEMU_GUEST_AGENT};
use lab_talos::kinds::{self, ClusterSpec, MachineSpec, SchematicSpec, SecretsSpec};
use lab_talos::model::*;
use lab_talos::provider::{TalosOptions, TalosProvider};

fn lab() -> Lab {
    let mut lab = Lab::new("t");
    lab.register_provider(TalosProvider::shared(TalosOptions::live()));
    lab
}

/// A lab with every Talos kind, built every way the builders allow.
fn full() -> Lab {
    let mut lab = lab();
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
    TalosCluster::new("home", "https://10.0.10.5:6443")
        .talos_version("v1.13.9")
        .schematic(Schematic::new().extension(QEMU_GUEST_AGENT))
        .register_schematic()
        .import_secrets(Secret::new("cluster: ...\n"))
        .vip("10.0.10.5")
        .link("ens18")
        .gateway("10.0.10.1")
        .nameservers(&["10.0.10.1"])
        .vm_storage(&lvm)
        .iso_storage(&local)
        .patch("machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n")
        .control_plane("cp1", "10.0.10.11/24", &pve1)
        .control_plane("cp2", "10.0.10.12/24", &pve2)
        .control_plane("cp3", "10.0.10.13/24", &pve1)
        .worker("w1", "10.0.10.21/24", &pve2)
        .node_patch("machine:\n  nodeLabels:\n    disk: ssd\n")
        .add_to(&mut lab);

    // Hand-built: no VM, no version, no workers, a secret schematic.
    let secrets = lab.add(Secrets::new("lab2"));
    let mut cluster = ClusterInput::new("lab2", "https://10.0.20.5:6443", "1.36.3");
    cluster.allow_scheduling_on_control_planes = true;
    cluster
        .sysctls
        .insert("net.core.somaxconn".into(), "65535".into());
    let node = NodeInput::new(Role::ControlPlane);
    let m = lab.add(Machine::new(
        "solo",
        "10.0.20.11",
        &cluster,
        &node,
        &secrets,
    ));
    lab.add(
        Cluster::new("lab2", "https://10.0.20.5:6443", &secrets).control_plane(&m, "10.0.20.11"),
    );
    let embedded = Schematic::new().embedded_machine_configuration("version: v1alpha1\n");
    lab.add(SchematicRegistration::new(
        "lab2",
        &ImageFactory::official(),
        &embedded,
    ));
    lab
}

fn mismatches(lab: &Lab) -> Vec<Diagnostic> {
    lab.check()
        .into_iter()
        .filter(|d| d.code == SPEC_MISMATCH)
        .collect()
}

#[test]
fn every_builder_fits_its_kind() {
    let lab = full();
    for kind in kinds::MANAGED {
        assert!(
            lab.resources().any(|s| s.kind() == *kind),
            "the lab has no {kind}"
        );
    }
    let found = mismatches(&lab);
    assert!(found.is_empty(), "{found:#?}");
}

/// The builder's attributes with every reference replaced by a value of
/// its type, as the engine resolves them at apply.
fn resolved(spec: &ResourceSpec) -> Attrs {
    spec.attrs
        .iter()
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                ("secrets", Value::Ref(_)) => Value::Secret(Secret::new("bundle")),
                ("vm", Value::Ref(_)) => Value::Int(101),
                (_, Value::Ref(r)) => panic!("{}: unexpected reference {k} -> {r:?}", spec.address),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn round_trips<K: Kind>(lab: &Lab) -> usize {
    let mut n = 0;
    for spec in lab.resources().filter(|s| s.kind() == K::KIND) {
        let attrs = resolved(spec);
        let typed: K = decode(&attrs).unwrap_or_else(|e| panic!("{}: {e}", spec.address));
        assert_eq!(encode(&typed).unwrap(), attrs, "{}", spec.address);
        n += 1;
    }
    n
}

#[test]
fn specs_write_back_the_builders_attributes() {
    let lab = full();
    assert_eq!(round_trips::<SecretsSpec>(&lab), 2);
    assert_eq!(round_trips::<MachineSpec>(&lab), 5);
    assert_eq!(round_trips::<ClusterSpec>(&lab), 2);
    assert_eq!(round_trips::<SchematicSpec>(&lab), 2);
}

#[test]
fn a_secret_schematic_stays_secret_and_a_plain_one_plain() {
    let lab = full();
    let plain = lab
        .resource(&lab_core::Address::new(kinds::SCHEMATIC, "home"))
        .unwrap();
    let sealed = lab
        .resource(&lab_core::Address::new(kinds::SCHEMATIC, "lab2"))
        .unwrap();
    let back = |s: &ResourceSpec| encode(&decode::<SchematicSpec>(&s.attrs).unwrap()).unwrap();
    assert!(matches!(back(plain)["schematic"], Value::Str(_)));
    assert!(back(sealed)["schematic"].contains_secret());
}

#[test]
fn an_attribute_the_provider_does_not_know_is_a_check_error_at_its_line() {
    let mut lab = lab();
    let secrets = Secrets::new("home");
    let mut secrets = secrets;
    let line = line!() + 1;
    secrets.spec_mut().set("colour", "blue");
    lab.add(secrets);
    let found = mismatches(&lab);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("colour"), "{}", found[0].message);
    assert_eq!(found[0].labels[0].loc.line(), line);
}

#[test]
fn a_missing_required_field_is_named() {
    let mut lab = lab();
    let mut secrets = Secrets::new("home");
    secrets.spec_mut().attrs.shift_remove("contract");
    lab.add(secrets);
    let found = mismatches(&lab);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("`contract`"),
        "{}",
        found[0].message
    );
}

#[test]
fn a_wrong_role_in_the_config_map_names_its_path() {
    let mut lab = lab();
    let secrets = lab.add(Secrets::new("home"));
    let cluster = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
    let mut m = Machine::new(
        "w1",
        "10.0.10.21",
        &cluster,
        &NodeInput::new(Role::Worker),
        &secrets,
    );
    let Some(Value::Map(config)) = m.spec_mut().attrs.get_mut("config") else {
        panic!("config is a map")
    };
    let Some(Value::Map(node)) = config.get_mut("node") else {
        panic!("config.node is a map")
    };
    node.insert("role".into(), "master".into());
    lab.add(m);
    let found = mismatches(&lab);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("config.node.role"),
        "{}",
        found[0].message
    );
}
