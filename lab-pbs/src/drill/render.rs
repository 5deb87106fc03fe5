//! The drill report as text: per guest what was restored, from where,
//! onto what, the original's check and each step's duration.

use std::fmt::Write;
use std::time::Duration;

use super::{DrillReport, GuestDrill, SourceChoice};
use crate::failures::bytes;

/// A duration in readable units (`850 ms`, `12.4 s`).
fn took(millis: u64) -> String {
    if millis < 1000 {
        format!("{millis} ms")
    } else {
        format!("{:.1} s", Duration::from_millis(millis).as_secs_f64())
    }
}

fn guest(out: &mut String, d: &GuestDrill) {
    let _ = writeln!(
        out,
        "{}: restored, started and removed in {}",
        d.guest,
        took(d.steps.iter().map(|s| s.millis).sum())
    );
    let _ = writeln!(
        out,
        "  restored  {} (snapshot {}, {})",
        d.volid,
        d.snapshot,
        bytes(d.size)
    );
    let src = &d.source;
    let mut from = format!(
        "storage {} -> datastore {} on {}",
        src.storage, src.datastore, src.server
    );
    if let Some(a) = &src.datastore_address {
        let _ = write!(from, " ({a})");
    }
    if let Some(a) = &src.appliance {
        let _ = write!(from, " -> appliance {a}");
    }
    let why = match src.chosen {
        SourceChoice::Analysis => "the failure analysis' restore path",
        SourceChoice::Given => "--from",
        SourceChoice::NewestSnapshot => "the newest snapshot on the pbs storages",
    };
    let _ = writeln!(out, "  from      {from}  [{why}]");
    let _ = writeln!(
        out,
        "  onto      {}, VMID {}, storage {} (status/current: {})",
        d.node, d.vmid, d.target_storage, d.observed_status
    );
    let _ = writeln!(
        out,
        "  original  {} {} on {}: {} (status {})",
        d.guest_type.label(),
        d.original_vmid,
        d.original_node,
        if d.original.unchanged {
            "unchanged"
        } else {
            "CHANGED during the drill (not by it: every call to it was a read)"
        },
        d.original.status
    );
    let steps: Vec<String> = d
        .steps
        .iter()
        .map(|s| format!("{} {}", s.step, took(s.millis)))
        .collect();
    let _ = writeln!(out, "  steps     {}", steps.join(", "));
}

/// The report as the `restore-drill` command prints it.
pub fn render_text(report: &DrillReport) -> String {
    let mut out = String::new();
    for d in &report.drills {
        guest(&mut out, d);
    }
    for s in &report.skipped {
        let _ = writeln!(out, "{}: not drilled: {}", s.guest, s.reason);
    }
    for f in &report.failed {
        let _ = writeln!(out, "{}: FAILED: {}\n  help: {}", f.guest, f.error, f.help);
    }
    out
}
