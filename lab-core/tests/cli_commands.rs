//! Commands a crate adds to the CLI (`lab_core::command`): carried by the
//! specs of its kinds, registered once, listed in `--help`, run with the
//! engine, and their findings printed like the engine's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use lab_core::command::{CommandContext, CommandError, CommandSet, LabCommand};
use lab_core::prelude::*;
use lab_core::testing::Thing;
use lab_core::Diagnostic;

static MADE: AtomicUsize = AtomicUsize::new(0);

/// Counts the lab's resources; `--fail` reports a finding at the line that
/// declared the first resource.
struct Count;

#[async_trait::async_trait(?Send)]
impl LabCommand for Count {
    fn command(&self) -> clap::Command {
        clap::Command::new("count")
            .about("Count the resources.")
            .arg(
                clap::Arg::new("fail")
                    .long("fail")
                    .action(clap::ArgAction::SetTrue),
            )
    }
    async fn run(&self, ctx: &mut CommandContext<'_>) -> Result<i32, CommandError> {
        let lab = ctx.engine.lab();
        if ctx.args.get_flag("fail") {
            let first = lab.resources().next().expect("a resource");
            return Err(CommandError::Diagnostics(vec![Diagnostic::error(
                "test::count",
                "counting failed",
            )
            .with_label(first.declared_at, "declared here")
            .for_resource(&first.address)]));
        }
        writeln!(ctx.out, "{} resources", lab.resources().count())?;
        Ok(0)
    }
}

/// Tries to take the name of the engine's `plan`.
struct FakePlan;

#[async_trait::async_trait(?Send)]
impl LabCommand for FakePlan {
    fn command(&self) -> clap::Command {
        clap::Command::new("plan").about("Not the engine's plan.")
    }
    async fn run(&self, _: &mut CommandContext<'_>) -> Result<i32, CommandError> {
        Ok(42)
    }
}

fn set_commands() -> Vec<Arc<dyn LabCommand>> {
    MADE.fetch_add(1, Ordering::SeqCst);
    vec![Arc::new(Count), Arc::new(FakePlan)]
}

const SET: CommandSet = CommandSet {
    name: "test-set",
    commands: set_commands,
};

fn thing(name: &str) -> Thing {
    let mut t = Thing::new(name);
    t.spec_mut().command_set = Some(SET);
    t
}

fn run(lab: Lab, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap().to_string();
    let mut argv = vec!["lab", "--state-dir", &state];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(lab, argv, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn a_kind_brings_its_commands_once_and_the_engine_keeps_its_names() {
    let before = MADE.load(Ordering::SeqCst);
    let mut lab = Lab::new("home");
    lab.add(thing("a"));
    lab.add(thing("b"));
    assert_eq!(MADE.load(Ordering::SeqCst) - before, 1, "registered once");

    let (code, out, _) = run(lab, &["count"]);
    assert_eq!((code, out.as_str()), (0, "2 resources\n"));

    let mut lab = Lab::new("home");
    lab.add(thing("a"));
    let (code, out, _) = run(lab, &["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("count") && out.contains("Count the resources."),
        "{out}"
    );
    assert!(!out.contains("Not the engine's plan."), "{out}");
}

#[test]
fn without_the_kind_there_is_no_such_command() {
    let mut lab = Lab::new("home");
    lab.add(Thing::new("a"));
    let (code, _, err) = run(lab, &["count"]);
    assert_eq!(code, 1);
    assert!(err.contains("unrecognized subcommand 'count'"), "{err}");
}

#[test]
fn findings_are_printed_at_the_users_line_and_fail_the_run() {
    let mut lab = Lab::new("home");
    lab.add(thing("a"));
    let (code, out, err) = run(lab, &["count", "--fail"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("test::count"), "{err}");
    assert!(
        err.contains("cli_commands.rs"),
        "points at this file: {err}"
    );
    assert!(err.contains("1 error(s) found"), "{err}");
}

#[test]
fn a_user_registers_a_command_and_global_options_still_apply() {
    let mut lab = Lab::new("home");
    lab.add(Thing::new("a"));
    lab.register_command(Arc::new(Count));
    let (code, out, _) = run(lab, &["--no-color", "count"]);
    assert_eq!((code, out.as_str()), (0, "1 resources\n"));
}
