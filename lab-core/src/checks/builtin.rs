//! The engine's own checks: duplicate addresses, dependency cycles, handles
//! from another `Lab`, bad names, and waivers naming no known check.

use crate::address::name_problem;
use crate::diag::{Diagnostic, Severity};
use crate::graph::LabGraph;
use crate::model::{BindingError, Lab};

use super::Check;

/// Code of the duplicate-address check.
pub const DUPLICATE_ADDRESS: &str = "core::duplicate-address";
/// Code of the dependency-cycle check.
pub const DEPENDENCY_CYCLE: &str = "core::dependency-cycle";
/// Code of the foreign-handle check.
pub const FOREIGN_HANDLE: &str = "core::foreign-handle";
/// Code of the invalid-name check.
pub const INVALID_NAME: &str = "core::invalid-name";
/// Code of the invalid-value check (bad values met by builders).
pub const INVALID_VALUE: &str = "core::invalid-value";
/// Code of the unknown-waiver check.
pub const UNKNOWN_WAIVER: &str = "core::unknown-waiver";
/// Code of the duplicate-provider check (two instances under one name).
pub const DUPLICATE_PROVIDER: &str = "core::duplicate-provider";
/// Code of the provider-binding check (no instance, several, or the wrong one).
pub const PROVIDER_BINDING: &str = "core::provider-binding";
/// Code of the spec-mismatch check (attributes that do not fit the kind's spec).
pub const SPEC_MISMATCH: &str = "core::spec-mismatch";
/// Code of the moved check (a `Lab::moved` that cannot apply).
pub const MOVED: &str = "core::moved";

/// Every built-in check.
pub fn all() -> Vec<Check> {
    vec![
        Check::new(DUPLICATE_ADDRESS, Severity::Error, duplicate_address),
        Check::new(DEPENDENCY_CYCLE, Severity::Error, dependency_cycle),
        Check::new(FOREIGN_HANDLE, Severity::Error, |lab, out| {
            foreign_handle(lab, out);
            stray_edges(lab, out);
        }),
        Check::new(INVALID_NAME, Severity::Error, invalid_name),
        Check::new(INVALID_VALUE, Severity::Error, invalid_value),
        Check::new(UNKNOWN_WAIVER, Severity::Warning, unknown_waiver),
        Check::new(DUPLICATE_PROVIDER, Severity::Error, duplicate_provider),
        Check::new(PROVIDER_BINDING, Severity::Error, provider_binding),
        Check::new(SPEC_MISMATCH, Severity::Error, spec_mismatch),
        Check::new(MOVED, Severity::Error, moved),
    ]
}

fn duplicate_provider(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for dup in lab.providers().rejected() {
        let Some(first) = lab.providers().get(&dup.name) else {
            continue;
        };
        out.push(
            Diagnostic::error(
                DUPLICATE_PROVIDER,
                format!("two provider instances are registered as `{}`", dup.name),
            )
            .with_label(dup.declared_at, "registered again here")
            .with_label(first.declared_at, "first registered here")
            .with_help(format!(
                "the state records each resource's instance by name: register the second one \
                 under its own name, e.g. `lab.register_provider_as(\"{}-2\", ..)`",
                dup.name
            )),
        );
    }
}

fn provider_binding(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources().filter(|s| s.managed) {
        let loc = spec.provider.as_ref().map_or(spec.added_at, |b| b.loc);
        let (message, help) = match lab.provider_of(spec) {
            Ok(_) => continue,
            // Reported by plan (`lab::no_provider`), which names the kind.
            Err(BindingError::NoProvider) => continue,
            Err(BindingError::Ambiguous(names)) => (
                format!(
                    "`{}` could be applied by {} provider instances ({})",
                    spec.address,
                    names.len(),
                    names.join(", ")
                ),
                "say which one with `.provider(&handle)`, using the handle \
                 `lab.register_provider..` returned"
                    .to_string(),
            ),
            Err(BindingError::Unknown(name)) => (
                format!(
                    "`{}` is bound to provider instance `{name}`, which this lab does not have",
                    spec.address
                ),
                "pass a handle returned by this lab's `register_provider`".to_string(),
            ),
            Err(BindingError::WrongKind(name)) => (
                format!(
                    "`{}` is bound to provider instance `{name}`, which does not apply `{}`",
                    spec.address,
                    spec.kind()
                ),
                format!(
                    "instances that apply `{}`: {}",
                    spec.kind(),
                    lab.providers()
                        .serving(spec.kind())
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        };
        out.push(
            Diagnostic::error(PROVIDER_BINDING, message)
                .for_resource(&spec.address)
                .with_label(loc, "bound here")
                .with_help(help),
        );
    }
}

fn spec_mismatch(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources().filter(|s| s.managed) {
        let Ok(instance) = lab.provider_of(spec) else {
            continue;
        };
        let Err(e) = instance.provider.validate(spec.kind(), &spec.attrs) else {
            continue;
        };
        let loc = e.field().map_or(spec.declared_at, |f| spec.loc_of(f));
        out.push(
            Diagnostic::error(
                SPEC_MISMATCH,
                format!(
                    "`{}` does not fit the `{}` spec of provider `{}`: {e}",
                    spec.address,
                    spec.kind(),
                    instance.name
                ),
            )
            .for_resource(&spec.address)
            .with_label(loc, "set here")
            .with_help(
                "the builder and the provider disagree about this field: if you wrote the \
                 value with a typed builder, this is a bug in the provider crate; if you set \
                 the attribute by hand, give it the type the spec declares",
            ),
        );
    }
}

fn moved(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let mut seen_from: Vec<&str> = Vec::new();
    let mut seen_to: Vec<&crate::Address> = Vec::new();
    for m in lab.moves() {
        let problem = match m.from_address() {
            _ if m.lab != lab.id() => Some((
                format!("`moved` to `{}` uses a handle from another lab", m.to),
                "pass a handle this lab's `add` returned".to_string(),
            )),
            None => Some((
                format!("`{}` is not a resource address", m.from),
                "write the old address as `kind.name`, e.g. `proxmox.vm.old`".to_string(),
            )),
            Some(from) if from == m.to => Some((
                format!("`{}` is moved to itself", m.to),
                "remove the `moved` line".to_string(),
            )),
            Some(from) if from.kind() != m.to.kind() => Some((
                format!(
                    "`{from}` cannot move to `{}`: a resource keeps its kind",
                    m.to
                ),
                "a different kind is a different object: remove the old one and add the new one"
                    .to_string(),
            )),
            Some(from) if lab.resource(&from).is_some() => Some((
                format!("`{from}` is moved to `{}` but is still in the code", m.to),
                "rename the resource in the code, or remove the `moved` line".to_string(),
            )),
            Some(_) if seen_from.contains(&m.from.as_str()) => Some((
                format!("`{}` is moved twice", m.from),
                "a resource moves to one new address: keep one `moved` line".to_string(),
            )),
            Some(_) if seen_to.contains(&&m.to) => Some((
                format!("two resources are moved to `{}`", m.to),
                "only one old address can become this resource".to_string(),
            )),
            Some(_) => None,
        };
        seen_from.push(&m.from);
        seen_to.push(&m.to);
        if let Some((message, help)) = problem {
            out.push(
                Diagnostic::error(MOVED, message)
                    .with_label(m.loc, "moved here")
                    .with_help(help),
            );
        }
    }
}

fn duplicate_address(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for dup in lab.duplicates() {
        let Some(first) = lab.resource(&dup.address) else {
            continue;
        };
        out.push(
            Diagnostic::error(
                DUPLICATE_ADDRESS,
                format!("`{}` is declared twice", dup.address),
            )
            .with_label(dup.added_at, "declared again here")
            .with_label(first.added_at, "first declared here")
            .with_help("addresses identify resources across runs: give one of them another name"),
        );
    }
}

fn dependency_cycle(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for cycle in LabGraph::build(lab).cycles() {
        let mut path: Vec<String> = cycle.iter().map(|(a, _)| a.to_string()).collect();
        path.push(cycle[0].0.to_string());
        let mut d = Diagnostic::error(
            DEPENDENCY_CYCLE,
            format!("dependency cycle: {}", path.join(" -> ")),
        )
        .for_resource(&cycle[0].0);
        for (needer, dep) in &cycle {
            d = d.with_label(
                dep.loc,
                format!("`{needer}` needs `{}` (via {})", dep.on, dep.via),
            );
        }
        out.push(d.with_help(
            "each resource must be creatable after the ones it needs: remove one of these edges \
             (often a depends_on that is not needed, or a value that can be a plain input)",
        ));
    }
}

fn foreign_handle(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources() {
        for dep in spec.deps.iter().filter(|d| d.lab != lab.id()) {
            out.push(
                Diagnostic::error(
                    FOREIGN_HANDLE,
                    format!(
                        "`{}` uses a handle to `{}` from another Lab",
                        spec.address, dep.on
                    ),
                )
                .for_resource(&spec.address)
                .with_label(dep.loc, "this handle belongs to another Lab")
                .with_label(spec.declared_at, "resource declared here")
                .with_help(format!(
                    "add `{}` to lab `{}` and pass the handle that `add` returns",
                    dep.on,
                    lab.name()
                )),
            );
        }
    }
}

fn stray_edges(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for e in lab.stray_edges() {
        out.push(
            Diagnostic::error(
                FOREIGN_HANDLE,
                format!(
                    "add_dependency was given a handle to `{}` from another Lab",
                    e.on
                ),
            )
            .with_label(e.loc, "this handle belongs to another Lab")
            .with_help(format!(
                "pass handles returned by lab `{}`'s own `add`",
                lab.name()
            )),
        );
    }
}

fn invalid_name(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources().chain(lab.duplicates()) {
        if let Some(problem) = name_problem(spec.name()) {
            out.push(
                Diagnostic::error(
                    INVALID_NAME,
                    format!("`{}` has an invalid name: {problem}", spec.address),
                )
                .for_resource(&spec.address)
                .with_label(spec.declared_at, "named here")
                .with_help("names are 1-63 ASCII letters, digits, `-` or `_`, starting with a letter or digit"),
            );
        }
    }
}

fn invalid_value(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in lab.resources().chain(lab.duplicates()) {
        for p in &spec.problems {
            out.push(
                Diagnostic::error(
                    INVALID_VALUE,
                    format!("`{}`: {}: {}", spec.address, p.field, p.message),
                )
                .for_resource(&spec.address)
                .with_label(p.loc, format!("{} given here", p.field))
                .with_help(p.help.clone()),
            );
        }
    }
}

fn unknown_waiver(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let codes: Vec<&str> = lab.checks().codes().collect();
    for spec in lab.resources() {
        for w in &spec.waivers {
            if !codes.contains(&w.code.as_str()) {
                out.push(
                    Diagnostic::warning(
                        UNKNOWN_WAIVER,
                        format!(
                            "`{}` waives `{}`, which is not a known check",
                            spec.address, w.code
                        ),
                    )
                    .with_label(w.loc, "waived here")
                    .with_help(format!("known checks: {}", codes.join(", "))),
                );
            }
        }
    }
}
