//! `restore-drill`: the CLI face of [`super::run`].

use clap::{Arg, ArgAction, Command};
use lab_core::command::{CommandContext, CommandError, LabCommand};

use super::{render_text, run_engine, DrillOptions, DrillProgress};

/// `restore-drill [GUEST] [--node NODE] [--vmid N] [--from DATASTORE]
/// [--json]`: restores the latest snapshot of a guest (every backed-up
/// guest without GUEST) to a scratch VMID, starts it, checks it runs,
/// removes it, and reports. Exit code 0 when every drill passed.
///
/// Constructed with no arguments: it finds the lab, the state and the
/// Proxmox client in the engine at run time.
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoreDrillCommand;

impl RestoreDrillCommand {
    /// The command.
    pub fn new() -> Self {
        RestoreDrillCommand
    }
}

/// The options the parsed arguments give.
fn options(args: &clap::ArgMatches) -> DrillOptions {
    DrillOptions {
        guest: args.get_one::<String>("guest").cloned(),
        node: args.get_one::<String>("node").cloned(),
        vmid: args.get_one::<u32>("vmid").copied(),
        from: args.get_one::<String>("from").cloned(),
    }
}

#[async_trait::async_trait(?Send)]
impl LabCommand for RestoreDrillCommand {
    fn command(&self) -> Command {
        Command::new("restore-drill")
            .about(
                "Restore the latest backup of a guest to a scratch VMID, start it, check it \
                 runs, remove it, and report (the original is never touched).",
            )
            .arg(
                Arg::new("guest")
                    .value_name("GUEST")
                    .help("The guest's name or address (default: every backed-up guest, one by one)"),
            )
            .arg(
                Arg::new("node")
                    .long("node")
                    .value_name("NODE")
                    .help("Restore onto this node (default: another node than the guest's, with room)"),
            )
            .arg(
                Arg::new("vmid")
                    .long("vmid")
                    .value_name("N")
                    .value_parser(clap::value_parser!(u32).range(100..1_000_000_000))
                    .help("The scratch VMID (default: /cluster/nextid; never the original's)"),
            )
            .arg(
                Arg::new("from")
                    .long("from")
                    .value_name("DATASTORE")
                    .help("Read this datastore (address or name) or PVE pbs storage instead of the failure analysis' restore path"),
            )
            .arg(
                Arg::new("json")
                    .long("json")
                    .action(ArgAction::SetTrue)
                    .help("Print the report as JSON"),
            )
    }

    async fn run(&self, ctx: &mut CommandContext<'_>) -> Result<i32, CommandError> {
        let options = options(ctx.args);
        let json = ctx.args.get_flag("json");
        if options.guest.is_none() {
            writeln!(
                ctx.err,
                "restore-drill: no GUEST given: drilling every backed-up guest, one by one"
            )?;
        }
        let err = &mut *ctx.err;
        let mut progress = |p: &DrillProgress| {
            let _ = match p {
                DrillProgress::Guest { guest } => writeln!(err, "{guest}: drill"),
                DrillProgress::StepStarted { .. } => Ok(()),
                DrillProgress::StepEnded { guest, step, took } => {
                    writeln!(err, "{guest}: {step} done ({} ms)", took.as_millis())
                }
            };
        };
        let report = run_engine(ctx.engine, &options, &mut progress)
            .await
            .map_err(|e| CommandError::msg(e.to_string(), e.help()))?;
        if json {
            let text = serde_json::to_string_pretty(&report).map_err(|e| {
                CommandError::msg(
                    format!("cannot encode the report: {e}"),
                    "report this as a bug",
                )
            })?;
            writeln!(ctx.out, "{text}")?;
        } else {
            write!(ctx.out, "{}", render_text(&report))?;
        }
        Ok(if report.is_success() { 0 } else { 1 })
    }
}
