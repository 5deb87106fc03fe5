//! Apply progress: one line per event, and on a terminal a live status
//! line; the operation count it is measured against.

use super::*;

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

/// Apply progress: one line per event, and on a terminal a live status line.
pub(super) struct Progress {
    term: Term,
    total: usize,
    finished: usize,
    running: Vec<(Address, OpKind)>,
    status_shown: bool,
    width: usize,
}

impl Progress {
    pub(super) fn new(term: Term, total: usize) -> Self {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|&w| w >= 20)
            .unwrap_or(80);
        Progress {
            term,
            total,
            finished: 0,
            running: Vec::new(),
            status_shown: false,
            width,
        }
    }

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
        if !self.term.live {
            let _ = writeln!(out, "{e}");
            return;
        }
        let line = match e {
            Event::Failed { .. } => self.term.paint_red(&e.to_string()),
            _ => e.to_string(),
        };
        let _ = write!(out, "\r\x1b[2K{line}\n{}", self.status());
        self.status_shown = true;
        let _ = out.flush();
    }

    /// `[done/total] N running: a, b`, cut to the terminal's width.
    pub(super) fn status(&self) -> String {
        let mut s = format!(
            "[{}/{}] {} running",
            self.finished,
            self.total,
            self.running.len()
        );
        if !self.running.is_empty() {
            let names: Vec<&str> = self.running.iter().map(|(a, _)| a.as_str()).collect();
            s.push_str(": ");
            s.push_str(&names.join(", "));
        }
        let max = self.width.saturating_sub(1);
        if s.chars().count() > max {
            s = s.chars().take(max.saturating_sub(3)).collect::<String>() + "...";
        }
        s
    }

    pub(super) fn clear(&mut self, out: &mut dyn Write) {
        if self.status_shown {
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
            self.status_shown = false;
        }
    }
}
