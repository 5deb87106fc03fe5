//! Apply and refresh progress.
//!
//! In a pipe (or with `TERM=dumb`) progress is one plain line per event,
//! the lines tests, logs and CI read. On a terminal the same lines scroll
//! above an [`indicatif`] bar (finished operations out of the plan's, what
//! runs now, elapsed time) that is cleared when the run ends, and planning
//! shows a spinner while the providers refresh. Both draw through a
//! [`ProgressDrawTarget`], so a test drives the terminal path with
//! `ProgressDrawTarget::term_like`.

use std::borrow::Cow;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::*;

/// How often a visible bar or spinner redraws on its own (its spinner and
/// elapsed time move while no event arrives).
const TICK: Duration = Duration::from_millis(120);

/// The number of operations applying `plan` runs (a replace is two).
pub(super) fn op_count(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .map(|s| if s.action == Action::Replace { 2 } else { 1 })
        .sum()
}

/// Awaits `fut`, handing every event that arrives meanwhile (and those
/// still queued when it ends) to `handle`.
pub(super) async fn with_events<F: Future>(
    fut: F,
    events: &mut UnboundedReceiver<Event>,
    mut handle: impl FnMut(Event),
) -> F::Output {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            Some(e) = events.recv() => handle(e),
            result = &mut fut => {
                while let Ok(e) = events.try_recv() {
                    handle(e);
                }
                return result;
            }
        }
    }
}

/// Where live progress draws for `term`: `make` (indicatif's stdout or
/// stderr target, which is hidden itself when that stream is not a
/// terminal or `TERM` is `dumb`) on a live terminal, nothing otherwise.
pub(super) fn live_target(
    term: Term,
    make: fn() -> ProgressDrawTarget,
) -> Option<ProgressDrawTarget> {
    term.live.then(make)
}

/// A bar or spinner style from `template` (a constant: a template that
/// does not parse falls back to indicatif's default rather than panic).
fn style(template: &str, fallback: fn() -> ProgressStyle) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| fallback())
}

/// The apply bar's style: colored only when `color`.
fn bar_style(color: bool) -> ProgressStyle {
    let template = if color {
        "{spinner:.green} [{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} {wide_msg}"
    } else {
        "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} {wide_msg}"
    };
    style(template, ProgressStyle::default_bar).progress_chars("=> ")
}

/// The refresh spinner's style: colored only when `color`.
fn spinner_style(color: bool) -> ProgressStyle {
    let template = if color {
        "{spinner:.green} {wide_msg} [{elapsed}]"
    } else {
        "{spinner} {wide_msg} [{elapsed}]"
    };
    style(template, ProgressStyle::default_spinner)
}

/// A visible bar (a hidden target draws nothing: none is made for it).
fn visible(bar: ProgressBar) -> Option<ProgressBar> {
    if bar.is_hidden() {
        return None;
    }
    bar.enable_steady_tick(TICK);
    Some(bar)
}

/// Writes `line` to `out`, above `bar` when there is one.
fn print_line(bar: Option<&ProgressBar>, out: &mut dyn Write, line: &str) {
    let mut write = || {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// Apply progress: one line per event; on a terminal also a bar below
/// them (finished operations / all, what runs now, elapsed time).
pub(super) struct Progress {
    term: Term,
    bar: Option<ProgressBar>,
    finished: u64,
    running: Vec<(Address, OpKind)>,
}

impl Progress {
    /// Progress over `total` operations; a bar drawn into `target` when
    /// given (and not hidden), plain lines only without one.
    pub(super) fn new(term: Term, total: usize, target: Option<ProgressDrawTarget>) -> Self {
        let bar = target.and_then(|target| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), target)
                .with_style(bar_style(term.color))
                .with_message("starting");
            visible(bar)
        });
        Progress {
            term,
            bar,
            finished: 0,
            running: Vec::new(),
        }
    }

    /// True if a bar is drawn (a live terminal).
    #[cfg(test)]
    pub(super) fn has_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// Records `e`, prints its line into `out` (above the bar) and moves
    /// the bar.
    pub(super) fn on_event(&mut self, e: &Event, out: &mut dyn Write) {
        match e {
            Event::Started { address, op } => self.running.push((address.clone(), *op)),
            Event::Finished { address, op, .. } | Event::Failed { address, op, .. } => {
                self.running.retain(|(a, o)| !(a == address && o == op));
                self.finished += 1;
            }
            Event::Skipped { .. } => self.finished += 1,
            Event::Refreshing { .. } | Event::Recovered { .. } | Event::Retrying { .. } => {}
        }
        let line = match e {
            Event::Failed { .. } => self.term.paint_red(&e.to_string()),
            _ => e.to_string(),
        };
        if let Some(bar) = &self.bar {
            bar.set_position(self.finished);
            bar.set_message(self.running_now());
        }
        print_line(self.bar.as_ref(), out, &line);
    }

    /// What runs now, for the bar's message: `create a`, `2 running:
    /// create a, update b` (cut at the terminal's edge), or `waiting`
    /// between operations.
    pub(super) fn running_now(&self) -> String {
        let ops: Vec<String> = self
            .running
            .iter()
            .map(|(address, op)| format!("{op} {address}"))
            .collect();
        match ops.len() {
            0 => "waiting".to_string(),
            1 => ops.join(""),
            n => format!("{n} running: {}", ops.join(", ")),
        }
    }

    /// Clears the bar (the lines above it stay).
    pub(super) fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The spinner planning shows while providers refresh; each refresh's line
/// (`refresh  pve: 12 resource(s)`) printed above it. Nothing in a pipe.
pub(super) struct RefreshSpinner {
    spinner: Option<ProgressBar>,
    refreshing: Vec<String>,
    live: bool,
}

impl RefreshSpinner {
    /// A spinner drawn into `target`; `None` (no terminal): silent.
    pub(super) fn new(term: Term, target: Option<ProgressDrawTarget>) -> Self {
        let live = target.is_some();
        let spinner = target.and_then(|target| {
            let spinner = ProgressBar::with_draw_target(None, target)
                .with_style(spinner_style(term.color))
                .with_message("planning");
            visible(spinner)
        });
        RefreshSpinner {
            spinner,
            refreshing: Vec::new(),
            live,
        }
    }

    /// A `Refreshing` event: named in the spinner's message and printed
    /// above it into `err` (other events are apply's, not shown here).
    pub(super) fn on_event(&mut self, e: &Event, err: &mut dyn Write) {
        let Event::Refreshing {
            provider,
            resources,
        } = e
        else {
            return;
        };
        if !self.live {
            return;
        }
        self.refreshing.push(format!("{provider} ({resources})"));
        if let Some(spinner) = &self.spinner {
            spinner.set_message(Cow::Owned(format!(
                "refreshing {}",
                self.refreshing.join(", ")
            )));
        }
        print_line(self.spinner.as_ref(), err, &e.to_string());
    }

    /// Clears the spinner (the lines above it stay).
    pub(super) fn clear(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }
}

impl Drop for RefreshSpinner {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
