//! The CLI commands lab-pbs adds to `lab::cli::run`: `failures` (the
//! failure-domain report), `restore-drill` ([`crate::drill`]) and
//! `backup-now` ([`crate::backup_now`]).
//!
//! Every builder of this crate puts [`COMMANDS`] on its spec (beside the
//! check set), so a lab with backups has these commands with no line in its
//! `main.rs`; see `lab_core::command`.

use std::sync::Arc;

use lab_core::command::{CommandContext, CommandError, CommandSet, LabCommand};
use lab_core::Severity;

use crate::failures::{AnalysisOptions, Topology};

/// lab-pbs's commands, carried by every spec its builders make.
pub const COMMANDS: CommandSet = CommandSet {
    name: "pbs",
    commands,
};

fn commands() -> Vec<Arc<dyn LabCommand>> {
    vec![
        Arc::new(FailuresCommand),
        Arc::new(crate::drill::RestoreDrillCommand::new()),
        Arc::new(crate::backup_now::BackupNowCommand),
    ]
}

/// `failures [--pairs] [--mermaid]`: for every appliance lost in turn (and
/// every pair with `--pairs`), what is lost, what is still restorable and
/// from where, the worst-case data-loss window, and whether the surviving
/// nodes and pools have room; then each item's copies; then the findings
/// `check` reports about them. `--mermaid` prints the picture of
/// appliances, data and copies instead. Exit code 1 when a finding is an
/// error (a loss that loses data).
pub struct FailuresCommand;

#[async_trait::async_trait(?Send)]
impl LabCommand for FailuresCommand {
    fn command(&self) -> clap::Command {
        clap::Command::new("failures")
            .about("Show what every appliance loss would cost: data lost, restorable copies, RPO, capacity.")
            .arg(
                clap::Arg::new("pairs")
                    .long("pairs")
                    .action(clap::ArgAction::SetTrue)
                    .help("Also take away every pair of appliances"),
            )
            .arg(
                clap::Arg::new("mermaid")
                    .long("mermaid")
                    .action(clap::ArgAction::SetTrue)
                    .help("Print a Mermaid picture of appliances, data and copies instead"),
            )
    }

    async fn run(&self, ctx: &mut CommandContext<'_>) -> Result<i32, CommandError> {
        let lab = ctx.engine.lab();
        let topology = Topology::of_lab(lab);
        let options = AnalysisOptions {
            pairs: ctx.args.get_flag("pairs"),
            from: time::OffsetDateTime::now_utc().date(),
            ..AnalysisOptions::default()
        };
        let report = topology
            .analyze(&options)
            .map_err(|e| CommandError::Diagnostics(vec![e.diagnostic()]))?;
        if ctx.args.get_flag("mermaid") {
            ctx.out.write_all(report.render_mermaid().as_bytes())?;
            return Ok(0);
        }
        writeln!(
            ctx.out,
            "Failure domains of lab `{}`: {} appliances, {} data items{}\n",
            lab.name(),
            topology.appliances.len(),
            report.data.len(),
            if options.pairs {
                ", single and pair losses"
            } else {
                ", single losses (--pairs for pairs)"
            }
        )?;
        ctx.out.write_all(report.render_table().as_bytes())?;
        writeln!(ctx.out)?;
        ctx.out.write_all(report.render_copies().as_bytes())?;
        // The findings as `check` settles them (waivers applied).
        let findings: Vec<_> = lab
            .check()
            .into_iter()
            .filter(|d| crate::failures::checks::CODES.contains(&d.code.as_str()))
            .collect();
        for d in &findings {
            writeln!(ctx.err, "{}", (ctx.render)(d).trim_end())?;
        }
        let errors = findings
            .iter()
            .filter(|d| d.severity == Severity::Error && d.is_blocking())
            .count();
        let loses_data =
            |s: &crate::failures::Scenario| s.lost_data().any(|i| !report.data[i].rebuildable);
        if !report.singles().any(loses_data) {
            writeln!(
                ctx.out,
                "\nNo single appliance loss loses data (what is rebuilt from config aside)."
            )?;
        }
        if !findings.is_empty() {
            writeln!(
                ctx.err,
                "{errors} error(s), {} warning(s) about failure domains (also shown by `check`)",
                findings.len() - errors
            )?;
        }
        Ok(if errors > 0 { 1 } else { 0 })
    }
}
