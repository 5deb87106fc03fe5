//! Checks: named rules run over the model before anything touches the network.
//!
//! The registry starts with the engine's own checks ([`builtin`]); provider
//! crates add theirs through [`crate::Provider::checks`], and users add
//! closures with [`crate::Lab::check_with`]. A waiver on a resource
//! ([`crate::Resource::waive`]) keeps the finding visible in `check` output,
//! marked waived, and stops it from blocking.

pub mod builtin;

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::diag::{Diagnostic, Severity};
use crate::model::Lab;

type CheckFn = dyn Fn(&Lab, &mut Vec<Diagnostic>) + Send + Sync;

/// A named rule.
#[derive(Clone)]
pub struct Check {
    /// The code findings carry, e.g. `core::dependency-cycle`.
    pub code: &'static str,
    /// The severity of its findings.
    pub severity: Severity,
    run: Arc<CheckFn>,
}

impl Check {
    /// A check from a closure that pushes findings.
    pub fn new(
        code: &'static str,
        severity: Severity,
        run: impl Fn(&Lab, &mut Vec<Diagnostic>) + Send + Sync + 'static,
    ) -> Self {
        Check {
            code,
            severity,
            run: Arc::new(run),
        }
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Check({}, {})", self.code, self.severity)
    }
}

/// The checks a lab runs.
#[derive(Clone, Debug, Default)]
pub struct CheckRegistry {
    checks: IndexMap<&'static str, Check>,
}

impl CheckRegistry {
    /// The engine's own checks.
    pub fn with_builtins() -> Self {
        let mut r = CheckRegistry::default();
        for c in builtin::all() {
            r.register(c);
        }
        r
    }

    /// Adds a check; one with the same code is replaced.
    pub fn register(&mut self, check: Check) {
        self.checks.insert(check.code, check);
    }

    /// The registered codes.
    pub fn codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.checks.keys().copied()
    }

    /// Runs every check, marks waived findings, and orders the result:
    /// errors first, then by file and line.
    pub fn run(&self, lab: &Lab) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for check in self.checks.values() {
            let start = out.len();
            (check.run)(lab, &mut out);
            for d in &mut out[start..] {
                if d.code.is_empty() {
                    d.code = check.code.to_string();
                }
            }
        }
        for d in &mut out {
            let Some(addr) = &d.resource else { continue };
            let Some(spec) = lab.resource(addr) else {
                continue;
            };
            if let Some(w) = spec.waivers.iter().find(|w| w.code == d.code) {
                d.waived = Some(w.reason.clone());
                d.labels.push(crate::diag::Label {
                    loc: w.loc,
                    text: "waived here".into(),
                });
            }
        }
        out.sort_by(|a, b| {
            b.is_blocking()
                .cmp(&a.is_blocking())
                .then(b.severity.cmp(&a.severity))
                .then(a.file_line().cmp(&b.file_line()))
                .then(a.code.cmp(&b.code))
        });
        out
    }
}
