//! The shape of Talos's Go config types: field order, Go maps, free-form
//! objects.
//!
//! Talos never writes a patched config back as the patch author wrote it: it
//! decodes every document into Go structs, merges, and encodes again. The
//! output therefore lists struct fields in declaration order, the keys of Go
//! `map`s (labels, sysctls, `extraArgs`) and of free-form objects
//! (`Unstructured`: admission plugin configuration, audit policy, kubelet
//! `extraConfig`) sorted as yaml.v3 sorts them, and list items as they are.
//! [`normalize`] applies the same order to a [`Node`] tree so that a patched
//! config is byte-identical to what Talos would produce.
//!
//! The tables cover the whole v1alpha1 document (including the fields the
//! v1.13 schema hides as deprecated) and the multi-document kinds `lab`
//! generates. For other document kinds, `apiVersion`, `kind` and `name` come
//! first and the remaining keys keep their order. Field order follows
//! `pkg/machinery/config/types/v1alpha1/v1alpha1_types.go` and
//! `pkg/machinery/config/types/network/*.go` (siderolabs/talos); a unit test
//! checks it against the v1.13.9 JSON schema, whose properties are generated
//! from the same structs.

use indexmap::IndexMap;

use crate::yaml::{go_key_cmp, Node};

/// The shape of one node of a Go config type.
#[derive(Debug)]
pub(crate) enum Shape {
    /// A scalar, or a list of scalars: nothing to order.
    Scalar,
    /// A struct: fields in declaration order.
    Struct(&'static [(&'static str, Shape)]),
    /// A Go map: keys sorted by [`go_key_cmp`], values of the given shape.
    Map(&'static Shape),
    /// A list of items of the given shape.
    List(&'static Shape),
    /// A free-form object (`map[string]any`): keys sorted at every depth.
    Unstructured,
}

use Shape::{List, Map, Struct, Unstructured};

mod documents;
mod v1alpha1;

pub(crate) use documents::kind_fields;
use documents::{KIND_TOP_LEVEL, META};
pub(crate) use v1alpha1::V1ALPHA1;

/// Puts a document's keys in the order Talos writes them (see the module
/// docs), and applies the one decode-time rewrite Talos does: leading
/// blank lines and tabs are trimmed from `cluster.inlineManifests[].contents`
/// (`ClusterInlineManifests.UnmarshalYAML`).
pub(crate) fn normalize(doc: &mut Node) {
    let kind = doc.get("kind").and_then(Node::as_str).map(str::to_owned);
    match kind {
        None => {
            order(doc, &Struct(V1ALPHA1));
            trim_inline_manifests(doc);
        }
        Some(kind) => match kind_fields(&kind) {
            Some(fields) => order(doc, &Struct(fields)),
            None => match KIND_TOP_LEVEL.iter().find(|(k, _)| *k == kind) {
                Some((_, names)) => order_keys(
                    doc,
                    ["apiVersion", "kind"]
                        .into_iter()
                        .chain(names.iter().copied()),
                ),
                None => order_struct_prefix(doc, META),
            },
        },
    }
}

fn order(node: &mut Node, shape: &Shape) {
    match (shape, node) {
        (Struct(fields), node @ Node::Map(_)) => {
            order_struct_prefix(node, fields);
            if let Node::Map(m) = node {
                for (key, value) in m.iter_mut() {
                    if let Some((_, s)) = fields.iter().find(|(name, _)| name == key) {
                        order(value, s);
                    }
                }
            }
        }
        (Map(values), Node::Map(m)) => {
            m.sort_by(|a, _, b, _| go_key_cmp(a, b));
            for value in m.values_mut() {
                order(value, values);
            }
        }
        (List(items), Node::Seq(seq)) => {
            for item in seq {
                order(item, items);
            }
        }
        (Unstructured, node) => sort_all(node),
        _ => {}
    }
}

/// Known fields first, in declaration order; unknown keys after them, in
/// their current order (Talos would reject them; the schema check reports
/// them).
fn order_struct_prefix(node: &mut Node, fields: &[(&str, Shape)]) {
    order_keys(node, fields.iter().map(|(name, _)| *name));
}

fn order_keys<'a>(node: &mut Node, names: impl IntoIterator<Item = &'a str>) {
    let Node::Map(m) = node else { return };
    let mut ordered: IndexMap<String, Node> = IndexMap::with_capacity(m.len());
    for name in names {
        if let Some(v) = m.shift_remove(name) {
            ordered.insert(name.to_owned(), v);
        }
    }
    ordered.extend(m.drain(..));
    *m = ordered;
}

fn sort_all(node: &mut Node) {
    match node {
        Node::Map(m) => {
            m.sort_by(|a, _, b, _| go_key_cmp(a, b));
            m.values_mut().for_each(sort_all);
        }
        Node::Seq(items) => items.iter_mut().for_each(sort_all),
        _ => {}
    }
}

fn trim_inline_manifests(doc: &mut Node) {
    let Some(Node::Seq(manifests)) = doc
        .get_mut("cluster")
        .and_then(|c| c.get_mut("inlineManifests"))
    else {
        return;
    };
    for m in manifests {
        if let Some(Node::Str(contents)) = m.get_mut("contents") {
            let trimmed = contents.trim_start_matches(['\t', '\n', '\u{0B}', '\u{0C}', '\r']);
            if trimmed.len() != contents.len() {
                *contents = trimmed.to_owned();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Shape::Scalar;
    use super::*;
    use serde_json::Value;

    /// Fields the v1.13 schema hides (deprecated or `docgen:nodoc`); they
    /// are in the Go structs, so in our tables, but not in the schema.
    const HIDDEN: &[&str] = &[
        "v1alpha1.persist",
        "v1alpha1.machine.network",
        "v1alpha1.machine.disks",
        "v1alpha1.machine.env",
        "v1alpha1.machine.time",
        "v1alpha1.machine.registries",
        "v1alpha1.machine.systemDiskEncryption",
        "v1alpha1.machine.install.extraKernelArgs",
        "v1alpha1.machine.install.extensions",
        "v1alpha1.machine.install.bootloader",
        "v1alpha1.machine.features.rbac",
        "v1alpha1.machine.features.stableHostname",
        "v1alpha1.machine.features.apidCheckExtKeyUsage",
        "v1alpha1.cluster.apiServer.disablePodSecurityPolicy",
        "v1alpha1.cluster.etcd.subnet",
        "v1alpha1.cluster.allowSchedulingOnMasters",
    ];

    fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
        let mut node = node;
        loop {
            if let Some(r) = node.get("$ref").and_then(Value::as_str) {
                let name = r.trim_start_matches("#/$defs/");
                node = &schema["$defs"][name];
            } else if let Some(items) = node.get("items") {
                node = items;
            } else {
                return node;
            }
        }
    }

    /// Every schema property of a struct is in our table, in the same
    /// relative order, recursively.
    fn check(
        schema: &Value,
        def: &Value,
        fields: &[(&str, Shape)],
        path: &str,
        checked: &mut usize,
    ) {
        let Some(props) = def.get("properties").and_then(Value::as_object) else {
            return;
        };
        let ours: Vec<&str> = fields
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !HIDDEN.contains(&format!("{path}.{n}").as_str()))
            .collect();
        let theirs: Vec<&str> = props.keys().map(String::as_str).collect();
        assert_eq!(ours, theirs, "field order of {path}");
        *checked += 1;
        for (name, shape) in fields {
            let Some(prop) = props.get(*name) else {
                continue;
            };
            let target = resolve(schema, prop);
            let inner = match shape {
                Struct(f) => Some(*f),
                List(Struct(f)) => Some(*f),
                Map(Struct(f)) => {
                    let add = target
                        .get("patternProperties")
                        .and_then(|p| p.as_object()?.values().next());
                    if let Some(add) = add {
                        check(
                            schema,
                            resolve(schema, add),
                            f,
                            &format!("{path}.{name}.*"),
                            checked,
                        );
                    }
                    None
                }
                Scalar => {
                    // (`v1alpha1.Endpoint` is an object without properties
                    // in the schema, a URL string in YAML.)
                    let props = target.get("properties").and_then(Value::as_object);
                    assert!(
                        props.is_none_or(|p| p.is_empty()),
                        "{path}.{name} is a struct in the schema, a scalar in our table"
                    );
                    None
                }
                _ => None,
            };
            if let Some(f) = inner {
                check(schema, target, f, &format!("{path}.{name}"), checked);
            }
        }
    }

    #[test]
    fn tables_match_the_v1_13_schema() {
        let schema = crate::config::default_schema();
        let mut checked = 0;
        check(
            &schema,
            &schema["$defs"]["v1alpha1.Config"],
            V1ALPHA1,
            "v1alpha1",
            &mut checked,
        );
        for (kind, def) in [
            ("LinkConfig", "network.LinkConfigV1Alpha1"),
            ("Layer2VIPConfig", "network.Layer2VIPConfigV1Alpha1"),
            ("HostnameConfig", "network.HostnameConfigV1Alpha1"),
            ("ResolverConfig", "network.ResolverConfigV1Alpha1"),
            ("RegistryMirrorConfig", "cri.RegistryMirrorConfigV1Alpha1"),
        ] {
            check(
                &schema,
                &schema["$defs"][def],
                kind_fields(kind).unwrap(),
                kind,
                &mut checked,
            );
        }
        assert!(checked > 40, "only {checked} structs checked");
    }

    #[test]
    fn every_v1_13_kind_has_its_field_order() {
        let schema = crate::config::default_schema();
        let mut kinds = 0;
        for branch in schema["oneOf"].as_array().unwrap() {
            let name = branch["$ref"]
                .as_str()
                .unwrap()
                .trim_start_matches("#/$defs/");
            let def = &schema["$defs"][name];
            let Some(kind) = def["properties"]["kind"]["enum"][0].as_str() else {
                continue;
            };
            let theirs: Vec<&str> = def["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let ours: Vec<&str> = match kind_fields(kind) {
                Some(fields) => fields.iter().map(|(n, _)| *n).collect(),
                None => {
                    let (_, names) = KIND_TOP_LEVEL
                        .iter()
                        .find(|(k, _)| *k == kind)
                        .unwrap_or_else(|| panic!("{kind} has no field order"));
                    ["apiVersion", "kind"]
                        .into_iter()
                        .chain(names.iter().copied())
                        .collect()
                }
            };
            assert_eq!(ours, theirs, "{kind}");
            let mut required: Vec<&str> = def["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            required.retain(|f| !matches!(*f, "apiVersion" | "kind"));
            required.sort_unstable();
            let (_, ours_required) = crate::config::V1_13_KINDS
                .iter()
                .find(|(k, _)| *k == kind)
                .unwrap_or_else(|| panic!("{kind} is not in V1_13_KINDS"));
            let mut ours_required = ours_required.to_vec();
            ours_required.sort_unstable();
            assert_eq!(ours_required, required, "required fields of {kind}");
            kinds += 1;
        }
        assert_eq!(kinds, KIND_TOP_LEVEL.len() + 5);
        // The kinds a patch may add are exactly the schema's.
        assert_eq!(kinds, crate::config::V1_13_KINDS.len());
    }

    #[test]
    fn normalize_orders_structs_and_sorts_maps() {
        let mut doc = crate::yaml::parse(
            "machine:\n  sysctls: {b: '1', a: '2'}\n  kubelet:\n    extraMounts:\n      - source: /s\n        destination: /d\n    image: k\n  type: worker\nversion: v1alpha1\n",
        )
        .unwrap()
        .remove(0);
        normalize(&mut doc);
        assert_eq!(
            crate::yaml::to_string(&doc),
            "version: v1alpha1\nmachine:\n    type: worker\n    kubelet:\n        image: k\n        extraMounts:\n            - destination: /d\n              source: /s\n    sysctls:\n        a: \"2\"\n        b: \"1\"\n"
        );
    }
}
