//! `talos::patch-schema`: every generated machine config checked against
//! the Talos schema, each finding at the line of the patch that caused it.
//!
//! A strategic-merge patch applies to any key and any value: a misspelt
//! key (`machine.sysctl` for `machine.sysctls`) or a value of the wrong
//! type (`machine.install.wipe: sometimes`) merges without complaint, and
//! the node refuses the config only when `apply` sends it. So the check
//! generates each node's config (with the placeholder secrets of the other
//! patch checks) and validates it against the v1.13.9 schema embedded in
//! the crate ([`crate::config::default_schema`], the release of the only
//! contract lab generates). To name the patch, it validates the config
//! after each patch in the order [`crate::config::generate`] applies them
//! (cluster, role, node): a problem is the first patch's after which it
//! appears. Problems of the config without any patch are the generator's,
//! not the user's, and are left out (the tests check there are none).
//!
//! The config with every patch is validated first; only a config with a
//! problem is validated patch by patch, so a lab without mistakes pays one
//! validation per node.

use std::collections::HashSet;
use std::sync::OnceLock;

use lab_core::{Diagnostic, Lab};

use super::{machines, placeholder_secrets, MachineView, PatchFindings, PATCH_SCHEMA};
use crate::config::{
    default_schema, generate, ClusterInput, ConfigSecrets, NodeInput, PatchLayer, Role, Schema,
    ValidationIssue,
};

/// The embedded schema, indexed once per process (its validators compile
/// on first use and are cached inside).
fn schema() -> Option<&'static Schema> {
    static SCHEMA: OnceLock<Option<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Schema::new(&default_schema()).ok())
        .as_ref()
}

/// A problem, as compared between two configs.
type IssueKey = (String, String, String);

fn key(issue: &ValidationIssue) -> IssueKey {
    (
        issue.id.to_string(),
        issue.pointer.clone(),
        issue.message.clone(),
    )
}

/// The problems of the config generated with `cluster` and `node`; `None`
/// when it does not generate (the `talos::patch` check reports that).
fn issues(
    schema: &Schema,
    cluster: &ClusterInput,
    node: &NodeInput,
    secrets: &ConfigSecrets,
) -> Option<Vec<ValidationIssue>> {
    let docs = generate(cluster, node, secrets).ok()?;
    Some(schema.check(&docs))
}

/// Every patch of a machine in the order `generate` applies them.
fn steps(m: &MachineView<'_>) -> Vec<(PatchLayer, usize)> {
    let role = match m.node.role {
        Role::ControlPlane => (
            PatchLayer::ControlPlane,
            m.cluster.control_plane_patches.len(),
        ),
        Role::Worker => (PatchLayer::Worker, m.cluster.worker_patches.len()),
    };
    [
        (PatchLayer::Cluster, m.cluster.patches.len()),
        role,
        (PatchLayer::Node, m.node.patches.len()),
    ]
    .into_iter()
    .flat_map(|(layer, n)| (0..n).map(move |i| (layer, i)))
    .collect()
}

/// The inputs with the patches up to and including `upto` (`None`: none).
fn truncated(
    m: &MachineView<'_>,
    all: &[(PatchLayer, usize)],
    upto: Option<usize>,
) -> (ClusterInput, NodeInput) {
    let mut cluster = m.cluster.clone();
    let mut node = m.node.clone();
    let keep = |layer: PatchLayer| -> usize {
        all.iter()
            .take(upto.map_or(0, |u| u + 1))
            .filter(|(l, _)| *l == layer)
            .count()
    };
    cluster.patches.truncate(keep(PatchLayer::Cluster));
    cluster
        .control_plane_patches
        .truncate(keep(PatchLayer::ControlPlane));
    cluster.worker_patches.truncate(keep(PatchLayer::Worker));
    node.patches.truncate(keep(PatchLayer::Node));
    (cluster, node)
}

/// Each new problem of a machine's config with the patch that brought it.
fn blame(
    schema: &Schema,
    m: &MachineView<'_>,
    secrets: &ConfigSecrets,
) -> Vec<(PatchLayer, usize, ValidationIssue)> {
    let all = steps(m);
    if all.is_empty() {
        return Vec::new();
    }
    let Some(full) = issues(schema, &m.cluster, &m.node, secrets) else {
        return Vec::new();
    };
    if full.is_empty() {
        return Vec::new();
    }
    let (cluster, node) = truncated(m, &all, None);
    let Some(base) = issues(schema, &cluster, &node, secrets) else {
        return Vec::new();
    };
    let mut seen: HashSet<IssueKey> = base.iter().map(key).collect();
    if full.iter().all(|i| seen.contains(&key(i))) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, &(layer, index)) in all.iter().enumerate() {
        let (cluster, node) = truncated(m, &all, Some(n));
        let Some(now) = issues(schema, &cluster, &node, secrets) else {
            return out;
        };
        for issue in now {
            if seen.insert(key(&issue)) {
                out.push((layer, index, issue));
            }
        }
    }
    out
}

/// `/machine/install/wipe` as `machine.install.wipe`.
fn dotted(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

fn describe(issue: &ValidationIssue) -> String {
    let doc = match issue.id.kind() {
        "v1alpha1" => "the v1alpha1 document".to_owned(),
        _ => format!("document {}", issue.id),
    };
    if issue.pointer.is_empty() {
        format!("{doc}: {}", issue.message)
    } else {
        format!("{doc}, at {}: {}", dotted(&issue.pointer), issue.message)
    }
}

fn help(issue: &ValidationIssue) -> String {
    if issue.message.contains("was unexpected") || issue.message.contains("were unexpected") {
        format!(
            "Talos does not know this key under `{}`: check its spelling against the Talos \
             v1.13 configuration reference (e.g. `machine.sysctls`, not `machine.sysctl`)",
            if issue.pointer.is_empty() {
                "the document".to_owned()
            } else {
                dotted(&issue.pointer)
            }
        )
    } else {
        "give the value the type and form the Talos v1.13 configuration reference gives for \
         this field (a YAML `true`/`false` for a boolean, a number for an integer, a quoted \
         string otherwise)"
            .to_owned()
    }
}

/// The `talos::patch-schema` rule.
pub(super) fn patch_schema(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let Some(schema) = schema() else {
        return;
    };
    let secrets = placeholder_secrets();
    let mut found = PatchFindings::default();
    for m in &machines(lab) {
        for (layer, index, issue) in blame(schema, m, &secrets) {
            let message = format!("{layer} patches[{index}]: {}", describe(&issue));
            found.add(m, layer, index, message, || help(&issue));
        }
    }
    found.report(lab, PATCH_SCHEMA, "makes a config Talos rejects", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_as_yaml_paths() {
        assert_eq!(dotted("/machine/install/wipe"), "machine.install.wipe");
        assert_eq!(dotted("/machine/nodeLabels/a~1b"), "machine.nodeLabels.a/b");
        assert_eq!(dotted(""), "");
    }

    #[test]
    fn unpatched_configs_of_both_roles_are_valid() {
        let schema = schema().expect("the embedded schema indexes");
        let c = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
        for role in [Role::ControlPlane, Role::Worker] {
            let found = issues(schema, &c, &NodeInput::new(role), &placeholder_secrets());
            assert_eq!(found, Some(Vec::new()), "{role:?}");
        }
    }
}
