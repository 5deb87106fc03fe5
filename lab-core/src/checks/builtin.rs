//! The engine's own checks: duplicate addresses, dependency cycles, handles
//! from another `Lab`, bad names, and waivers naming no known check.

use crate::address::name_problem;
use crate::diag::{Diagnostic, Severity};
use crate::graph::LabGraph;
use crate::model::Lab;

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
    ]
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
