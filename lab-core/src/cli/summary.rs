//! The end of an apply or destroy: what happened to the resources, per
//! provider instance, what failed and how long it took. Printed the same
//! in a pipe and on a terminal (color only marks failures), so a log or a
//! CI run keeps it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use super::*;

/// What one apply (or destroy) did, counted from its plan and report: the
/// summary `apply` prints.
///
/// A resource counts once, by its plan step, when every operation of the
/// step finished (a replace is a create and a delete); operations count
/// per provider instance.
///
/// ```
/// use lab_core::apply::ApplyReport;
/// use lab_core::cli::ApplySummary;
/// use lab_core::plan::Plan;
///
/// # fn show(plan: &Plan, report: &ApplyReport) {
/// let summary = ApplySummary::new(plan, report);
/// println!("{} created, {} failed", summary.created, summary.failed);
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplySummary {
    /// The plan destroyed the lab (`destroy`).
    pub destroy: bool,
    /// Resources created.
    pub created: usize,
    /// Resources updated in place.
    pub updated: usize,
    /// Resources replaced (both the create and the delete finished).
    pub replaced: usize,
    /// Resources deleted.
    pub deleted: usize,
    /// Operations that finished.
    pub done: usize,
    /// Operations that failed.
    pub failed: usize,
    /// Operations not run because something they need failed.
    pub skipped: usize,
    /// The run stopped starting operations early (a provider rejected its
    /// credentials: [`ApplyReport::stopped`]).
    pub stopped: bool,
    /// Per provider instance (by name, sorted), its operations.
    pub per_provider: Vec<ProviderOps>,
    /// How long the apply took.
    pub elapsed: Duration,
}

/// The operations one provider instance ran in an apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderOps {
    /// The instance's name (`Lab::register_provider_as`), e.g. `pve`.
    pub provider: String,
    /// Operations that finished.
    pub done: usize,
    /// Operations that failed.
    pub failed: usize,
    /// Operations skipped because a dependency failed.
    pub skipped: usize,
}

/// The operations a step of `action` runs.
fn step_ops(action: Action) -> &'static [OpKind] {
    match action {
        Action::Create => &[OpKind::Create],
        Action::Update => &[OpKind::Update],
        Action::Replace => &[OpKind::Create, OpKind::Delete],
        Action::Delete => &[OpKind::Delete],
    }
}

impl ApplySummary {
    /// Counts what `report` says applying `plan` did.
    pub fn new(plan: &Plan, report: &ApplyReport) -> Self {
        let mut summary = ApplySummary {
            destroy: plan.destroy,
            done: report.done.len(),
            failed: report.failed.len(),
            skipped: report.skipped.len(),
            stopped: report.stopped.is_some(),
            elapsed: report.elapsed,
            ..Default::default()
        };
        // Which instance runs each (resource, operation).
        let mut provider_of: HashMap<(&Address, OpKind), &str> = HashMap::new();
        for step in &plan.steps {
            for op in step_ops(step.action) {
                provider_of
                    .entry((&step.address, *op))
                    .or_insert(step.provider.as_str());
            }
        }
        let mut per_provider: BTreeMap<&str, ProviderOps> = BTreeMap::new();
        let mut count = |address: &Address, op: OpKind, bump: fn(&mut ProviderOps)| {
            let name = provider_of
                .get(&(address, op))
                .copied()
                .unwrap_or("(not in the plan)");
            let entry = per_provider.entry(name).or_insert_with(|| ProviderOps {
                provider: name.to_string(),
                ..Default::default()
            });
            bump(entry);
        };
        for d in &report.done {
            count(&d.address, d.op, |p| p.done += 1);
        }
        for f in &report.failed {
            count(&f.address, f.op, |p| p.failed += 1);
        }
        for s in &report.skipped {
            count(&s.address, s.op, |p| p.skipped += 1);
        }
        summary.per_provider = per_provider.into_values().collect();

        // The finished operations, each taken by one step.
        let mut finished: HashMap<(&Address, OpKind), usize> = HashMap::new();
        for d in &report.done {
            *finished.entry((&d.address, d.op)).or_default() += 1;
        }
        for step in &plan.steps {
            let ops = step_ops(step.action);
            let all = ops
                .iter()
                .all(|op| finished.get(&(&step.address, *op)).is_some_and(|&n| n > 0));
            if !all {
                continue;
            }
            for op in ops {
                if let Some(n) = finished.get_mut(&(&step.address, *op)) {
                    *n -= 1;
                }
            }
            match step.action {
                Action::Create => summary.created += 1,
                Action::Update => summary.updated += 1,
                Action::Replace => summary.replaced += 1,
                Action::Delete => summary.deleted += 1,
            }
        }
        summary
    }

    /// True if nothing failed or was skipped and the run did not stop.
    pub fn is_success(&self) -> bool {
        self.failed == 0 && self.skipped == 0 && !self.stopped
    }

    /// The counts as printed (without the failure list):
    ///
    /// ```text
    /// Apply complete: 4 done, 0 failed, 0 skipped in 1.2s.
    /// Resources: 2 created, 1 updated, 1 replaced, 0 deleted.
    /// Operations per provider:
    ///   memory  3 done
    ///   disks   1 done
    /// ```
    ///
    /// `Destroy` instead of `Apply` for a destroy; `finished with failures`
    /// instead of `complete` when something failed or was skipped.
    pub fn render_counts(&self) -> String {
        let what = if self.destroy { "Destroy" } else { "Apply" };
        let how = if self.is_success() {
            "complete"
        } else {
            "finished with failures"
        };
        let mut text = format!(
            "{what} {how}: {} done, {} failed, {} skipped in {}.\n",
            self.done,
            self.failed,
            self.skipped,
            fmt_duration(self.elapsed)
        );
        let _ = writeln!(
            text,
            "Resources: {} created, {} updated, {} replaced, {} deleted.",
            self.created, self.updated, self.replaced, self.deleted
        );
        if !self.per_provider.is_empty() {
            text.push_str("Operations per provider:\n");
            let width = self
                .per_provider
                .iter()
                .map(|p| p.provider.chars().count())
                .max()
                .unwrap_or(0);
            for p in &self.per_provider {
                let mut counts = vec![format!("{} done", p.done)];
                if p.failed > 0 {
                    counts.push(format!("{} failed", p.failed));
                }
                if p.skipped > 0 {
                    counts.push(format!("{} skipped", p.skipped));
                }
                let _ = writeln!(text, "  {:<width$}  {}", p.provider, counts.join(", "));
            }
        }
        text
    }
}

/// Prints the summary of applying `plan`: the counts, then what moved,
/// what recovery resolved, what failed and was skipped, and what to do.
pub(super) fn print_summary(
    out: &mut dyn Write,
    term: Term,
    plan: &Plan,
    report: &ApplyReport,
) -> io::Result<()> {
    let summary = ApplySummary::new(plan, report);
    write!(out, "\n{}", summary.render_counts())?;
    if !report.moved.is_empty() {
        writeln!(out, "Moved:")?;
        for (from, to) in &report.moved {
            writeln!(out, "  {from} -> {to}")?;
        }
    }
    if !report.recovered.is_empty() {
        writeln!(out, "Recovered from an interrupted run:")?;
        for (address, outcome) in &report.recovered {
            writeln!(out, "  {address}: {outcome}")?;
        }
    }
    if !report.failed.is_empty() {
        writeln!(out, "Failed:")?;
        for f in &report.failed {
            let tries = if f.attempts > 1 {
                format!(" (after {} attempts)", f.attempts)
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {} {} ({}){tries}: {}",
                term.paint_red("x"),
                f.address,
                f.op,
                f.error
            )?;
        }
    }
    if !report.skipped.is_empty() {
        writeln!(out, "Skipped:")?;
        for s in &report.skipped {
            writeln!(
                out,
                "  - {} ({}): waited for {}, which failed",
                s.address, s.op, s.because
            )?;
        }
    }
    if let Some(why) = &report.stopped {
        writeln!(out, "{} The run stopped: {why}", term.paint_red("x"))?;
    }
    if !report.is_success() {
        writeln!(
            out,
            "The state records everything that was done. Fix the cause above and run apply again: \
             it continues from there."
        )?;
    }
    Ok(())
}
