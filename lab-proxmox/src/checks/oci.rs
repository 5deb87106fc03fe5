//! Plan time: OCI images and application containers need Proxmox VE 9.1.
//!
//! `oci-registry-pull` and the container keys `entrypoint` and `env` came
//! with PVE 9.1 (pve-storage 9.1, pve-container 6.0). An older node answers
//! the pull with `501 Method ... not implemented` and refuses the keys as
//! `property is not defined in schema`, halfway through an apply; the
//! node's version (read only when the plan needs it) tells before.

use lab_core::plan::{Action, PlanStep};
use lab_core::{Diagnostic, ResourceSpec};

use super::read::text;
use super::world::World;
use super::OCI_UNSUPPORTED;
use crate::kinds;

/// The first release with OCI images and application containers.
const SINCE: (u32, u32) = (9, 1);

/// `9.0.10` -> `(9, 0)`; `None` if it does not parse.
fn release(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split(['.', '-', '~']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// What of `spec` needs PVE 9.1, with the field to point at.
pub(crate) fn needs_oci(spec: &ResourceSpec) -> Option<(&'static str, &'static str)> {
    match spec.kind() {
        kinds::FILE if spec.attrs.contains_key("reference") => {
            Some(("reference", "pulling an OCI image (`oci-registry-pull`)"))
        }
        kinds::CT => ["entrypoint", "env", "env_secrets"]
            .into_iter()
            .find(|k| spec.attrs.contains_key(*k))
            .map(|k| (k, "a container's `entrypoint` and `env`")),
        _ => None,
    }
}

/// Whether a plan step writes what [`needs_oci`] names.
pub(crate) fn step_needs_oci(step: &PlanStep, spec: &ResourceSpec) -> bool {
    let writes = match step.action {
        Action::Create | Action::Replace => true,
        Action::Update => step
            .changes
            .iter()
            .any(|c| ["entrypoint", "env", "env_secrets"].contains(&c.field.as_str())),
        _ => false,
    };
    writes && needs_oci(spec).is_some()
}

/// Each such step on a node whose version is older than 9.1.
pub(super) fn unsupported(
    steps: &[(&PlanStep, &ResourceSpec)],
    world: &World,
    out: &mut Vec<Diagnostic>,
) {
    for (step, spec) in steps {
        if !step_needs_oci(step, spec) {
            continue;
        }
        let Some((field, what)) = needs_oci(spec) else {
            continue;
        };
        let Some(on) = text(spec, "node") else {
            continue;
        };
        let Some(version) = world.node(on).and_then(|n| n.version.as_deref()) else {
            continue;
        };
        if release(version).is_none_or(|r| r >= SINCE) {
            continue;
        }
        out.push(
            Diagnostic::error(
                OCI_UNSUPPORTED,
                format!(
                    "`{}`: node `{on}` runs Proxmox VE {version}; {what} came with Proxmox VE 9.1",
                    spec.address
                ),
            )
            .for_resource(&spec.address)
            .with_label(
                spec.loc_of(field),
                format!("needs Proxmox VE 9.1 on `{on}`"),
            )
            .with_help(format!(
                "upgrade `{on}` to Proxmox VE 9.1 or later, or use a system container: \
                 File::download(.., Content::Vztmpl, url) and .ostemplate(&file) without \
                 .entrypoint/.env"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::release;

    #[test]
    fn releases() {
        assert_eq!(release("9.1.2"), Some((9, 1)));
        assert_eq!(release("9.0.10"), Some((9, 0)));
        assert_eq!(release("8.4"), Some((8, 4)));
        assert_eq!(release("10"), Some((10, 0)));
        assert_eq!(release("x"), None);
    }
}
