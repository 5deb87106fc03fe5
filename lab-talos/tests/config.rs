//! Machine-config generation against Talos's own goldens, the patch
//! fixtures of Talos's `configpatcher`, schema validation and reboot
//! semantics.
//!
//! The reference files are unmodified copies of Talos's, in
//! `lab-talos/reference/talos-examples/` (see `lab-talos/reference/SOURCES.md`);
//! a missing one fails the test that reads it.

use std::path::PathBuf;

use lab_talos::config::{
    apply_patches, default_schema, generate, needs_reboot, render, validate, ClusterInput, Cni,
    ConfigError, ConfigSecrets, Document, NodeInput, Patch, PatchErrorKind, PatchLayer,
    RegistryMirror, Role, StaticNetwork, Vip,
};
use lab_talos::secrets::SecretsBundle;
use lab_talos::yaml::{self, Node};

fn reference(path: &str) -> String {
    let full = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/reference/talos-examples/"
    ))
    .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// The public test bundle of Talos's stability test, through the secrets
/// module's reader (`talosctl`'s `secrets.yaml` format).
fn secrets() -> ConfigSecrets {
    let bundle = SecretsBundle::from_yaml(&reference("secrets.yaml")).expect("secrets.yaml parses");
    ConfigSecrets::from(&bundle)
}

/// `generate.NewInput("base", "https://base:6443", "1.28.0", WithSecretsBundle, WithVersionContract(v1.13))`.
fn base_input() -> ClusterInput {
    ClusterInput::new("base", "https://base:6443", "1.28.0")
}

/// The "with overrides" flavour of the stability test: the same
/// `generate.With*` options as lab inputs, except the two lab deliberately
/// has no input for, which go in as patches with the same effect:
/// `WithInstallExtraKernelArgs` (deprecated: kernel arguments belong in the
/// Image Factory schematic) and `WithLocalAPIServerPort` (control planes
/// only). Then Talos's `patch-pre14.yaml`, applied by the test after
/// generation, as a cluster patch.
fn overrides_input() -> ClusterInput {
    let mut c = base_input();
    c.cert_sans = vec!["foo".into(), "bar".into()];
    c.allow_scheduling_on_control_planes = true;
    c.dns_domain = "example.com".into();
    c.install_disk = Some("/dev/vda".into());
    c.sysctls.insert("foo".into(), "bar".into());
    c.cni = Some(Cni {
        name: "custom".into(),
        urls: vec!["https://example.com/cni.yaml".into()],
    });
    c.registry_mirrors = vec![RegistryMirror {
        registry: "ghcr.io".into(),
        endpoints: vec!["https://ghcr.io.my-mirror.com".into()],
    }];
    c.patches = vec![
        "machine:\n  install:\n    extraKernelArgs:\n      - foo=bar\n      - bar=baz\n".into(),
        reference("overrides-patch-pre14.yaml"),
    ];
    c.control_plane_patches =
        vec!["cluster:\n  controlPlane:\n    localAPIServerPort: 5443\n".into()];
    c
}

fn gen(cluster: &ClusterInput, node: &NodeInput) -> Vec<Document> {
    generate(cluster, node, &secrets()).unwrap_or_else(|e| panic!("generate: {e}"))
}

/// Byte equality, reporting the first differing line.
fn assert_bytes_eq(actual: &str, expected: &str, what: &str) {
    if actual == expected {
        return;
    }
    let (a, e): (Vec<_>, Vec<_>) = (actual.lines().collect(), expected.lines().collect());
    let line = a
        .iter()
        .zip(&e)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(e.len()));
    panic!(
        "{what}: not byte-equal; first difference at line {}:\n  ours:   {:?}\n  theirs: {:?}\n(lengths {} vs {} bytes)",
        line + 1,
        a.get(line),
        e.get(line),
        actual.len(),
        expected.len()
    );
}

// ---------------------------------------------------------------------------
// Goldens: BYTE equality for all four files. The emitter reproduces yaml.v3
// (indentation, quoting) and the generator writes fields in Go struct order,
// and patched documents are re-ordered as Talos re-encodes them, so nothing
// needs a semantic fallback.

#[test]
fn golden_base_controlplane_is_byte_equal() {
    let docs = gen(&base_input(), &NodeInput::new(Role::ControlPlane));
    assert_bytes_eq(
        &render(&docs),
        &reference("v1.13/base-controlplane.yaml"),
        "base-controlplane",
    );
}

#[test]
fn golden_base_worker_is_byte_equal() {
    let docs = gen(&base_input(), &NodeInput::new(Role::Worker));
    assert_bytes_eq(
        &render(&docs),
        &reference("v1.13/base-worker.yaml"),
        "base-worker",
    );
}

#[test]
fn golden_overrides_controlplane_is_byte_equal() {
    let docs = gen(&overrides_input(), &NodeInput::new(Role::ControlPlane));
    assert_bytes_eq(
        &render(&docs),
        &reference("v1.13/overrides-controlplane.yaml"),
        "overrides-controlplane",
    );
}

#[test]
fn golden_overrides_worker_is_byte_equal() {
    let docs = gen(&overrides_input(), &NodeInput::new(Role::Worker));
    assert_bytes_eq(
        &render(&docs),
        &reference("v1.13/overrides-worker.yaml"),
        "overrides-worker",
    );
}

/// Every file Go's yaml.v3 wrote (the goldens of both contracts, the
/// expected outputs of the patch fixtures) reads and re-emits to the same
/// bytes: a check of the emitter on more shapes than our generator makes
/// (the v1.14 goldens carry raw PEM in literal block scalars).
#[test]
fn emitter_round_trips_every_go_written_reference_file() {
    for file in [
        "v1.13/base-controlplane.yaml",
        "v1.13/base-worker.yaml",
        "v1.13/overrides-controlplane.yaml",
        "v1.13/overrides-worker.yaml",
        "v1.14/base-controlplane.yaml",
        "v1.14/base-worker.yaml",
        "v1.14/overrides-controlplane.yaml",
        "v1.14/overrides-worker.yaml",
        "patches/apply/expected.yaml",
        "patches/apply/expected_manifests.yaml",
        "patches/multidoc/expected.yaml",
        "patches/patchdelete/expected.yaml",
        "patches/patchdelete/controlplane_expected.yaml",
    ] {
        let text = reference(file);
        let docs = yaml::parse(&text).unwrap();
        assert_bytes_eq(&yaml::to_string_multi(&docs), &text, file);
    }
}

#[test]
fn generation_is_deterministic() {
    let a = render(&gen(
        &overrides_input(),
        &NodeInput::new(Role::ControlPlane),
    ));
    let b = render(&gen(
        &overrides_input(),
        &NodeInput::new(Role::ControlPlane),
    ));
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------
// Schema

#[test]
fn base_configs_validate_against_the_v1_13_9_schema() {
    let schema = default_schema();
    for role in [Role::ControlPlane, Role::Worker] {
        let docs = gen(&base_input(), &NodeInput::new(role));
        assert_eq!(validate(&docs, &schema), Ok(()), "{role:?}");
    }
}

#[test]
fn overrides_fail_only_on_the_hidden_extra_kernel_args() {
    // `machine.install.extraKernelArgs` is deprecated and hidden from the
    // v1.13 schema (SOURCES.md: the goldens fail on it too); it's in the
    // overrides only because Talos's stability test sets it.
    let schema = default_schema();
    for role in [Role::ControlPlane, Role::Worker] {
        let docs = gen(&overrides_input(), &NodeInput::new(role));
        let errors = validate(&docs, &schema).unwrap_err();
        assert_eq!(errors.len(), 1, "{role:?}: {errors:#?}");
        assert!(
            errors[0].starts_with("document 0 (v1alpha1) at /machine/install:")
                && errors[0].contains("extraKernelArgs"),
            "{}",
            errors[0]
        );
    }
}

#[test]
fn the_base_goldens_themselves_validate_once_persist_is_ignored() {
    let schema = default_schema();
    for file in ["v1.13/base-controlplane.yaml", "v1.13/base-worker.yaml"] {
        let docs = Document::parse_all(&reference(file)).unwrap();
        assert_eq!(validate(&docs, &schema), Ok(()), "{file}");
    }
}

fn homelab_cluster() -> ClusterInput {
    let mut c = ClusterInput::new("lab", "https://192.168.0.15:6443", "1.36.3");
    c.install_disk = Some("/dev/sda".into());
    c.install_image = Some(
        "factory.talos.dev/nocloud-installer/ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515:v1.13.9"
            .into(),
    );
    c.cert_sans = vec!["192.168.0.15".into(), "k8s.lab.example".into()];
    c.vip = Some(Vip {
        address: "192.168.0.15".into(),
        link: "ens18".into(),
    });
    c
}

fn homelab_node(role: Role, n: u8) -> NodeInput {
    let mut node = NodeInput::new(role);
    node.hostname = Some(format!(
        "{}-{n}",
        if role == Role::ControlPlane {
            "cp"
        } else {
            "w"
        }
    ));
    node.network = Some(StaticNetwork {
        link: "ens18".into(),
        addresses: vec![format!("192.168.0.{}/24", 10 + n)],
        gateway: Some("192.168.0.1".into()),
        nameservers: vec!["192.168.0.1".into(), "1.1.1.1".into()],
    });
    node
}

#[test]
fn lab_additions_render_and_validate() {
    let docs = gen(&homelab_cluster(), &homelab_node(Role::ControlPlane, 1));
    let kinds: Vec<String> = docs.iter().map(Document::kind).collect();
    assert_eq!(
        kinds,
        [
            "v1alpha1",
            "HostnameConfig",
            "ResolverConfig",
            "LinkConfig",
            "Layer2VIPConfig"
        ]
    );
    let text = render(&docs);
    let tail = text.split_once("---\n").unwrap().1;
    assert_eq!(
        tail,
        "apiVersion: v1alpha1
kind: HostnameConfig
hostname: cp-1
---
apiVersion: v1alpha1
kind: ResolverConfig
nameservers:
    - address: 192.168.0.1
    - address: 1.1.1.1
---
apiVersion: v1alpha1
kind: LinkConfig
name: ens18
addresses:
    - address: 192.168.0.11/24
routes:
    - gateway: 192.168.0.1
---
apiVersion: v1alpha1
kind: Layer2VIPConfig
name: 192.168.0.15
link: ens18
"
    );
    assert!(text.contains(
        "    install:\n        disk: /dev/sda\n        image: factory.talos.dev/nocloud-installer/"
    ));
    assert!(text.contains(
        "        certSANs:\n            - 192.168.0.15\n            - k8s.lab.example\n"
    ));
    assert_eq!(validate(&docs, &default_schema()), Ok(()));

    // Workers get no VIP.
    let worker = gen(&homelab_cluster(), &homelab_node(Role::Worker, 4));
    assert!(worker.iter().all(|d| d.kind() != "Layer2VIPConfig"));
    assert_eq!(validate(&worker, &default_schema()), Ok(()));
}

#[test]
fn patches_apply_cluster_then_role_then_node() {
    let mut c = homelab_cluster();
    c.patches = vec!["machine:\n  nodeLabels:\n    tier: cluster\n".into()];
    c.control_plane_patches = vec!["machine:\n  nodeLabels:\n    tier: control-plane\n".into()];
    let mut node = homelab_node(Role::ControlPlane, 1);
    node.patches = vec!["machine:\n  nodeLabels:\n    tier: node\n    rack: r1\n".into()];
    let docs = gen(&c, &node);
    let labels = docs[0].body.get_path(&["machine", "nodeLabels"]).unwrap();
    // Go map: keys sorted.
    assert_eq!(
        yaml::to_string(labels),
        "node.kubernetes.io/exclude-from-external-load-balancers: \"\"\nrack: r1\ntier: node\n"
    );
}

// ---------------------------------------------------------------------------
// Patch fixtures (configpatcher/apply_test.go pairings, SOURCES.md).
//
// The expected files are Go re-encodings of typed configs: decoding adds
// Go zero values the input never had (`type: ""`, `token: ""`,
// `certSANs: []`, `routes: []`, `cluster: null`). They are compared
// YAML-semantically, ignoring keys that are present only in the expected
// file with a Go zero value; everything else (including list order) must
// match.

fn go_zero(n: &Node) -> bool {
    match n {
        Node::Null => true,
        Node::Str(s) => s.is_empty(),
        Node::Seq(s) => s.is_empty(),
        Node::Map(m) => m.is_empty(),
        _ => false,
    }
}

fn semantic_diff(expected: &Node, actual: &Node, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Node::Map(e), Node::Map(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => semantic_diff(ev, av, &format!("{path}.{k}"), out),
                    None if go_zero(ev) => {}
                    None => out.push(format!("{path}.{k}: missing")),
                }
            }
            for k in a.keys().filter(|k| !e.contains_key(*k)) {
                out.push(format!("{path}.{k}: unexpected"));
            }
        }
        (Node::Seq(e), Node::Seq(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                semantic_diff(ev, av, &format!("{path}[{i}]"), out);
            }
        }
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{path}: expected {e:?}, got {a:?}")),
    }
}

fn assert_semantic_eq(actual: &[Document], expected: &str, what: &str) {
    let expected = Document::parse_all(expected).unwrap();
    assert_eq!(actual.len(), expected.len(), "{what}: document count");
    let mut diffs = Vec::new();
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        semantic_diff(&e.body, &a.body, &format!("doc{i}"), &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "{what}: {diffs:#?}\nours:\n{}",
        render(actual)
    );
}

fn patches(files: &[&str]) -> Vec<Patch> {
    files
        .iter()
        .map(|f| Patch::parse(&reference(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect()
}

fn fixture(path: &str) -> Vec<Document> {
    Document::parse_all(&reference(path)).unwrap()
}

#[test]
fn fixture_apply_strategic_and_json_patches() {
    let out = apply_patches(
        &fixture("patches/apply/config.yaml"),
        &patches(&[
            "patches/apply/strategic1.yaml",
            "patches/apply/jsonpatch1.yaml",
            "patches/apply/jsonpatch2.yaml",
            "patches/apply/strategic2.yaml",
            "patches/apply/strategic3.yaml",
        ]),
    )
    .unwrap();
    assert_semantic_eq(
        &out,
        &reference("patches/apply/expected.yaml"),
        "apply/expected",
    );
}

#[test]
fn fixture_apply_inline_manifest_leading_newline() {
    // Talos trims leading blank lines of inline manifests when it decodes
    // (`ClusterInlineManifests.UnmarshalYAML`); so do we.
    let out = apply_patches(
        &fixture("patches/apply/config.yaml"),
        &patches(&["patches/apply/strategic4.yaml"]),
    )
    .unwrap();
    assert_semantic_eq(
        &out,
        &reference("patches/apply/expected_manifests.yaml"),
        "apply/expected_manifests",
    );
}

#[test]
fn fixture_multidoc() {
    let out = apply_patches(
        &fixture("patches/multidoc/config.yaml"),
        &patches(&[
            "patches/multidoc/strategic1.yaml",
            "patches/multidoc/strategic2.yaml",
            "patches/multidoc/strategic3.yaml",
        ]),
    )
    .unwrap();
    assert_semantic_eq(
        &out,
        &reference("patches/multidoc/expected.yaml"),
        "multidoc/expected",
    );
}

#[test]
fn fixture_multidoc_rejects_json_patches() {
    let err = apply_patches(
        &fixture("patches/multidoc/config.yaml"),
        &patches(&[
            "patches/multidoc/jsonpatch.yaml",
            "patches/multidoc/strategic1.yaml",
        ]),
    )
    .unwrap_err();
    assert_eq!(err.index, 0);
    assert_eq!(err.kind, PatchErrorKind::JsonPatchMultiDoc);
    assert!(err
        .to_string()
        .contains("JSON6902 patches are not supported for multi-document machine configuration"));
}

#[test]
fn fixture_patchdelete_multidoc() {
    let out = apply_patches(
        &fixture("patches/patchdelete/config.yaml"),
        &patches(&["patches/patchdelete/strategic1.yaml"]),
    )
    .unwrap();
    assert_semantic_eq(
        &out,
        &reference("patches/patchdelete/expected.yaml"),
        "patchdelete/expected",
    );
}

#[test]
fn fixture_patchdelete_controlplane_is_byte_equal() {
    // A full config has no missing Go defaults, so this one compares bytes.
    let out = apply_patches(
        &fixture("patches/patchdelete/controlplane_orig.yaml"),
        &patches(&[
            "patches/patchdelete/strategic2.yaml",
            "patches/patchdelete/strategic3.yaml",
            "patches/patchdelete/strategic4.yaml",
        ]),
    )
    .unwrap();
    assert_bytes_eq(
        &render(&out),
        &reference("patches/patchdelete/controlplane_expected.yaml"),
        "patchdelete/controlplane_expected",
    );
}

// ---------------------------------------------------------------------------
// Patch errors carry the layer, the patch's index and the YAML path.

fn patch_error(
    cluster: ClusterInput,
    node: NodeInput,
) -> (PatchLayer, lab_talos::config::PatchError) {
    match generate(&cluster, &node, &secrets()) {
        Err(ConfigError::Patch { layer, error }) => (layer, *error),
        other => panic!("expected a patch error, got {other:?}"),
    }
}

#[test]
fn unparsable_patch_is_an_error_with_its_index() {
    let mut c = base_input();
    c.patches = vec![
        "machine:\n  sysctls: {a: b}\n".into(),
        "machine: [\n".into(),
    ];
    let (layer, err) = patch_error(c, NodeInput::new(Role::Worker));
    assert_eq!(layer, PatchLayer::Cluster);
    assert_eq!(err.index, 1);
    assert!(matches!(err.kind, PatchErrorKind::Parse(_)), "{err}");
    assert!(
        err.to_string().starts_with("patches[1]: invalid YAML"),
        "{err}"
    );
}

#[test]
fn delete_of_a_missing_key_targets_nothing() {
    let mut node = NodeInput::new(Role::Worker);
    node.patches = vec![
        "machine:\n  nodeLabels:\n    a: b\n".into(),
        "machine:\n  network:\n    hostname:\n      $patch: delete\n".into(),
    ];
    let (layer, err) = patch_error(base_input(), node);
    assert_eq!(layer, PatchLayer::Node);
    assert_eq!(err.index, 1);
    assert_eq!(err.path, "machine.network.hostname");
    assert_eq!(err.kind, PatchErrorKind::DeleteTargetMissing);
    assert_eq!(
        ConfigError::Patch {
            layer,
            error: Box::new(err)
        }
        .to_string(),
        "node patches[1], document v1alpha1, at machine.network.hostname: $patch: delete targets nothing (no such key or item)"
    );
}

#[test]
fn delete_of_a_missing_list_item_targets_nothing() {
    let mut c = base_input();
    c.control_plane_patches =
        vec!["cluster:\n  apiServer:\n    admissionControl:\n      - name: NoSuchPlugin\n        $patch: delete\n".into()];
    let (layer, err) = patch_error(c, NodeInput::new(Role::ControlPlane));
    assert_eq!(layer, PatchLayer::ControlPlane);
    assert_eq!(
        (err.index, err.path.as_str()),
        (0, "cluster.apiServer.admissionControl[name=NoSuchPlugin]")
    );
    assert_eq!(err.kind, PatchErrorKind::DeleteTargetMissing);
}

#[test]
fn a_document_of_an_unknown_kind_targets_nothing() {
    // The v1.14 multi-doc patch against a v1.13 config.
    let mut c = base_input();
    c.worker_patches = vec![reference("overrides-patch.yaml")];
    let (layer, err) = patch_error(c, NodeInput::new(Role::Worker));
    assert_eq!(layer, PatchLayer::Worker);
    assert_eq!(
        err.kind,
        PatchErrorKind::UnknownKind("KubeletConfig".into())
    );
    assert_eq!(err.document.unwrap().to_string(), "KubeletConfig");
}

#[test]
fn a_partial_document_for_a_missing_document_targets_nothing() {
    let mut c = base_input();
    c.patches = vec!["apiVersion: v1alpha1\nkind: LinkConfig\nmtu: 9000\n".into()];
    let (_, err) = patch_error(c, NodeInput::new(Role::Worker));
    assert_eq!(
        err.kind,
        PatchErrorKind::IncompleteDocument(vec!["name".into()])
    );
}

#[test]
fn a_complete_new_document_is_added_and_a_partial_one_merges() {
    let mut c = homelab_cluster();
    c.patches = vec![
        "apiVersion: v1alpha1\nkind: StaticHostConfig\nname: 192.168.0.2\nhostnames: [nas.lab]\n"
            .into(),
        "apiVersion: v1alpha1\nkind: LinkConfig\nname: ens18\nmtu: 9000\n".into(),
    ];
    let docs = gen(&c, &homelab_node(Role::Worker, 4));
    let text = render(&docs);
    assert!(text.ends_with(
        "kind: LinkConfig\nname: ens18\nmtu: 9000\naddresses:\n    - address: 192.168.0.14/24\nroutes:\n    - gateway: 192.168.0.1\n---\napiVersion: v1alpha1\nkind: StaticHostConfig\nname: 192.168.0.2\nhostnames:\n    - nas.lab\n"
    ), "{text}");
    assert_eq!(validate(&docs, &default_schema()), Ok(()));
}

#[test]
fn other_patch_errors() {
    let base = gen(&base_input(), &NodeInput::new(Role::Worker));
    let err = |text: &str| {
        let patch = Patch::parse(text).unwrap();
        apply_patches(&base, &[patch]).unwrap_err()
    };
    assert_eq!(
        err("machine:\n  certSANs: {a: b}\n").kind,
        PatchErrorKind::TypeMismatch {
            target: "sequence",
            patch: "mapping"
        }
    );
    assert_eq!(
        err("version: v1alpha1\n$patch: delete\n").kind,
        PatchErrorKind::DeleteLegacyRoot
    );
    assert_eq!(
        err("apiVersion: v1alpha1\nkind: HostnameConfig\nauto: off\n---\napiVersion: v1alpha1\nkind: HostnameConfig\nauto: stable\n").kind,
        PatchErrorKind::DuplicateDocument
    );
    let e =
        err("machine:\n  install:\n    extensions:\n      - image: x\n        $patch: delete\n");
    assert_eq!(
        (e.kind, e.path.as_str()),
        (
            PatchErrorKind::DeleteTargetMissing,
            "machine.install.extensions[image=x]"
        )
    );
    assert_eq!(
        err("cluster:\n  network:\n    podSubnets:\n      - a: 1\n        b:\n          $patch: delete\n").kind,
        PatchErrorKind::DeleteInsideList
    );
    assert!(matches!(
        Patch::parse("- op: frobnicate\n  path: /a\n"),
        Err(PatchErrorKind::InvalidJsonPatch(_))
    ));
    assert_eq!(Patch::parse("# nothing\n"), Err(PatchErrorKind::Empty));
    // Deleting a whole document that doesn't exist is a no-op, as in Talos.
    let patch =
        Patch::parse("apiVersion: v1alpha1\nkind: KubeSpanConfig\n$patch: delete\n").unwrap();
    assert_eq!(apply_patches(&base, &[patch]).unwrap(), base);
}

#[test]
fn merge_rules() {
    let base = gen(&base_input(), &NodeInput::new(Role::ControlPlane));
    let apply = |text: &str| apply_patches(&base, &[Patch::parse(text).unwrap()]).unwrap();
    // Replaced lists.
    let out = apply("cluster:\n  network:\n    podSubnets: [10.42.0.0/16]\n    serviceSubnets: [10.43.0.0/16]\n");
    let net = out[0].body.get_path(&["cluster", "network"]).unwrap();
    assert_eq!(
        net.get("podSubnets"),
        Some(&Node::str_seq(["10.42.0.0/16"]))
    );
    assert_eq!(
        net.get("serviceSubnets"),
        Some(&Node::str_seq(["10.43.0.0/16"]))
    );
    // The audit policy is replaced, not merged.
    let out = apply("cluster:\n  apiServer:\n    auditPolicy:\n      apiVersion: audit.k8s.io/v1\n      kind: Policy\n      rules: [{level: None}]\n");
    let rules = out[0]
        .body
        .get_path(&["cluster", "apiServer", "auditPolicy", "rules"])
        .unwrap();
    assert_eq!(yaml::to_string(rules), "- level: None\n");
    // Other lists append; admission plugins merge by name.
    let out = apply("machine:\n  certSANs: [a]\ncluster:\n  apiServer:\n    admissionControl:\n      - name: PodSecurity\n        configuration:\n          defaults:\n            enforce: restricted\n");
    assert_eq!(
        out[0].body.get_path(&["machine", "certSANs"]),
        Some(&Node::str_seq(["a"]))
    );
    let ac = out[0]
        .body
        .get_path(&["cluster", "apiServer", "admissionControl"])
        .unwrap();
    assert_eq!(ac.as_seq().unwrap().len(), 1);
    assert_eq!(
        ac.as_seq().unwrap()[0].get_path(&["configuration", "defaults", "enforce"]),
        Some(&Node::str("restricted"))
    );
    // Zero values don't override; false does; null changes nothing.
    let out = apply("cluster:\n  clusterName: \"\"\n  discovery:\n    enabled: false\nmachine:\n  kubelet:\n    image: null\n");
    assert_eq!(
        out[0].body.get_path(&["cluster", "clusterName"]),
        Some(&Node::str("base"))
    );
    assert_eq!(
        out[0].body.get_path(&["cluster", "discovery", "enabled"]),
        Some(&Node::Bool(false))
    );
    assert_eq!(
        out[0].body.get_path(&["machine", "kubelet", "image"]),
        Some(&Node::str("ghcr.io/siderolabs/kubelet:v1.28.0"))
    );
    // Deleting the last label removes `nodeLabels` (omitempty in Go).
    let out = apply("machine:\n  nodeLabels:\n    node.kubernetes.io/exclude-from-external-load-balancers:\n      $patch: delete\n");
    assert_eq!(out[0].body.get_path(&["machine", "nodeLabels"]), None);
}

// ---------------------------------------------------------------------------
// Reboot semantics (v1.13 CanApplyImmediate).

#[test]
fn needs_reboot_examples() {
    let node = homelab_node(Role::ControlPlane, 1);
    let old = gen(&homelab_cluster(), &node);
    let with = |f: &dyn Fn(&mut ClusterInput, &mut NodeInput)| {
        let (mut c, mut n) = (homelab_cluster(), node.clone());
        f(&mut c, &mut n);
        needs_reboot(&old, &gen(&c, &n))
    };
    let none: Vec<String> = Vec::new();
    assert_eq!(needs_reboot(&old, &old), none);
    // Live: Kubernetes version (kubelet + cluster), install image, SANs,
    // sysctls, labels, network documents, the VIP, hostname.
    assert_eq!(with(&|c, _| c.kubernetes_version = "1.36.4".into()), none);
    assert_eq!(
        with(&|c, _| c.install_image = Some("factory.talos.dev/x:v1.13.10".into())),
        none
    );
    assert_eq!(with(&|c, _| c.cert_sans.push("extra".into())), none);
    assert_eq!(
        with(&|c, _| {
            c.sysctls.insert("vm.max_map_count".into(), "262144".into());
        }),
        none
    );
    assert_eq!(
        with(&|_, n| n.network.as_mut().unwrap().addresses = vec!["192.168.0.21/24".into()]),
        none
    );
    assert_eq!(with(&|c, _| c.vip = None), none);
    assert_eq!(with(&|_, n| n.hostname = None), none);
    assert_eq!(
        with(&|c, _| c
            .patches
            .push("machine:\n  features:\n    kubePrism:\n      port: 7446\n".into())),
        none
    );
    // Reboot: machine type, a non-live feature, files, a volume document.
    assert_eq!(with(&|_, n| n.role = Role::Worker), [".machine.type"]);
    assert_eq!(
        with(&|c, _| c
            .patches
            .push("machine:\n  features:\n    diskQuotaSupport: false\n".into())),
        [".machine.features.diskQuotaSupport"]
    );
    assert_eq!(
        with(&|c, _| {
            c.patches.push("machine:\n  files:\n    - {content: x, permissions: 0o644, path: /var/x, op: create}\n".into())
        }),
        [".machine.files"]
    );
    assert_eq!(
        with(&|c, _| {
            c.patches.push("apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nprovisioning:\n  maxSize: 40GiB\n".into())
        }),
        ["VolumeConfig(EPHEMERAL)"]
    );
}
