//! Checks: named rules run over the model before anything touches the network.
//!
//! The registry starts with the engine's own checks ([`builtin`]); provider
//! crates add theirs twice over, so that they run whenever their kinds are
//! in the lab, with or without a registered provider: each builder's spec
//! carries its crate's [`CheckSet`] (registered by `Lab::add`), and
//! [`crate::Provider::checks`] is registered with the provider. Users add
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

/// A named rule over the whole lab: a code (what waivers and reports name),
/// a severity, and a closure that pushes a [`Diagnostic`] for each finding.
///
/// Checks run offline (`lab check`, and before every plan), so a mistake is
/// reported at the user's line before any API is called. A crate ships its
/// checks as a [`CheckSet`] carried by its builders' specs; a user adds
/// their own with [`Lab::register_check`].
#[derive(Clone)]
pub struct Check {
    /// The code findings carry, e.g. `core::dependency-cycle`.
    pub code: &'static str,
    /// The severity of its findings.
    pub severity: Severity,
    /// True for a rule a provider applies at plan time against the
    /// refreshed world ([`crate::Provider::check_plan`]): `check` (offline)
    /// runs nothing for it; it is registered so that its code is known
    /// (waivers name it).
    pub at_plan: bool,
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
            at_plan: false,
            run: Arc::new(run),
        }
    }

    /// A rule whose findings come from a provider's plan-time check
    /// ([`crate::Provider::check_plan`]): the offline `check` has nothing
    /// to run for it, as it needs the world the plan refreshes.
    pub fn at_plan(code: &'static str, severity: Severity) -> Self {
        Check {
            code,
            severity,
            at_plan: true,
            run: Arc::new(|_, _| {}),
        }
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = if self.at_plan { ", at plan" } else { "" };
        write!(f, "Check({}, {}{when})", self.code, self.severity)
    }
}

/// A provider crate's checks, named. The crate's builders put it on every
/// spec they make ([`crate::ResourceSpec::check_set`]), and `Lab::add`
/// registers it the first time one of its kinds is added: a lab with
/// Proxmox guests runs the Proxmox checks even when no Proxmox provider is
/// registered (a `cargo test` of the lab, `check` before credentials).
#[derive(Clone, Copy)]
pub struct CheckSet {
    /// The set's name (the crate's provider name, e.g. `proxmox`).
    pub name: &'static str,
    /// Its checks.
    pub checks: fn() -> Vec<Check>,
}

impl fmt::Debug for CheckSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckSet({})", self.name)
    }
}

/// The checks a lab runs.
#[derive(Clone, Debug, Default)]
pub struct CheckRegistry {
    checks: IndexMap<&'static str, Check>,
    /// The [`CheckSet`]s registered so far, by name.
    sets: Vec<&'static str>,
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

    /// Adds a check unless one with its code is registered already (a
    /// provider's checks never replace one the user registered under the
    /// same code).
    pub fn register_default(&mut self, check: Check) {
        self.checks.entry(check.code).or_insert(check);
    }

    /// Adds the checks of `set` (each unless its code is taken), once per
    /// set name.
    pub fn register_set(&mut self, set: CheckSet) {
        if self.sets.contains(&set.name) {
            return;
        }
        self.sets.push(set.name);
        for c in (set.checks)() {
            self.register_default(c);
        }
    }

    /// True if a check with `code` is registered.
    pub fn contains(&self, code: &str) -> bool {
        self.checks.contains_key(code)
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
        settle(lab, &mut out);
        out
    }
}

/// Marks the findings the lab waived (a waiver on the resource with the
/// finding's code, labelled at the waiver's line) and orders them: errors
/// first, then by file and line. `check` and the plan's world checks
/// ([`crate::Provider::check_plan`]) both end with it.
pub fn settle(lab: &Lab, out: &mut [Diagnostic]) {
    for d in out.iter_mut() {
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
}
