//! The command line over [`Engine`]: any `main.rs` becomes a CLI.
//!
//! ```no_run
//! use lab_core::prelude::*;
//! use lab_core::testing::{MemoryProvider, Thing};
//!
//! fn main() {
//!     let mut lab = Lab::new("home");
//!     lab.register_provider(MemoryProvider::new().shared());
//!     let db = lab.add(Thing::new("db").attr("size_gb", 20));
//!     lab.add(Thing::new("app").input("db_id", db.output::<String>("id")));
//!     lab_core::cli::run(lab); // parses the arguments, runs, exits
//! }
//! ```
//!
//! Then `cargo run -- plan`, `cargo run -- apply`, and so on:
//!
//! | command | what it does |
//! |---|---|
//! | `check` | runs every check, without touching the network |
//! | `plan [--json] [--out FILE]` | shows what `apply` would change |
//! | `apply [FILE] [--auto-approve] [--parallelism N]` | makes reality match the code |
//! | `destroy [--auto-approve]` | destroys everything in the state |
//! | `graph [--format dot\|mermaid]` | prints the dependency graph |
//! | `state list`, `state show ADDR`, `state rm ADDR` | inspects or edits the state |
//! | `output ADDR NAME [--out FILE]` | prints an output of an applied resource; a secret one (a kubeconfig) only into FILE, mode 0600 |
//!
//! A crate adds its own commands beside these (lab-pbs: `failures`,
//! `restore-drill`), carried by its kinds' specs: see [`crate::command`];
//! [`run_captured`] runs any of them inside a test.
//!
//! Global options: `--state-dir DIR` (default `.lab`) and `--no-color`
//! (color is used only when stdout is a terminal and `NO_COLOR` is unset).
//!
//! Exit codes: 0 success (for `plan`: no changes), 2 `plan` found changes,
//! 1 anything went wrong (bad arguments, a failed check, a failed operation).
//!
//! `apply` without a plan file asks for confirmation on a terminal; without
//! one it refuses unless given `--auto-approve`. A plan saved with
//! `plan --out FILE` is the approval itself: `apply FILE` applies exactly
//! that plan and refuses if the state moved since it was made.

use std::ffi::OsString;
use std::future::Future;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::builder::RangedU64ValueParser;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use miette::{GraphicalReportHandler, GraphicalTheme, MietteDiagnostic};
use serde_json::{json, Value as Json};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::apply::{ApplyOptions, ApplyReport};
use crate::command::{CommandContext, CommandError, LabCommand};
use crate::graph::LabGraph;
use crate::plan::render::render;
use crate::plan::{fmt_duration, Action, Plan, PlanOptions, SavedPlanError};
use crate::provider::OpKind;
use crate::state::{FileStateStore, StateError, StateStore};
use crate::value::Attrs;
use crate::{Address, Diagnostic, Engine, EngineError, Event, Lab, Severity};

/// Parses the process's arguments, runs the command and exits with its code.
pub fn run(lab: Lab) -> ! {
    let code = run_with_args(lab, std::env::args_os());
    std::process::exit(code)
}

/// Runs the command in `args` (which include the program name, `argv[0]`)
/// against `lab`, writing to stdout and stderr; returns the exit code.
pub fn run_with_args<I, T>(lab: Lab, args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let term = Term::detect();
    let stdout = io::stdout();
    let stderr = io::stderr();
    let stdin = io::stdin();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let mut input = stdin.lock();
    run_io(lab, args, &mut out, &mut err, &mut input, term)
}

/// Runs the command in `args` (with the program name first) with its
/// standard output and error written into `out` and `err`, no terminal
/// (no color, no questions): for testing a lab's CLI in `cargo test`.
pub fn run_captured<I, T>(lab: Lab, args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut input = io::empty();
    let term = Term {
        color: false,
        live: false,
        interactive: false,
    };
    run_io(lab, args, out, err, &mut input, term)
}

/// What the terminal allows.
#[derive(Clone, Copy, Debug)]
struct Term {
    /// Color is allowed (stdout is a terminal and `NO_COLOR` is unset).
    color: bool,
    /// stdout is a terminal: live progress.
    live: bool,
    /// stdin is a terminal: confirmation can be asked.
    interactive: bool,
}

impl Term {
    fn detect() -> Self {
        let stdout_tty = io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Term {
            color: stdout_tty && !no_color,
            live: stdout_tty,
            interactive: io::stdin().is_terminal(),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "lab",
    about = "Check, plan and apply this lab.",
    after_help = "Exit codes: 0 success (plan: no changes), 2 plan found changes, 1 error."
)]
struct Cli {
    /// Where the state (state.json), its age key and the journal live.
    #[arg(long, global = true, value_name = "DIR", default_value = ".lab")]
    state_dir: PathBuf,

    /// Never use color (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long, global = true)]
    no_color: bool,

    #[command(subcommand)]
    command: Command,
}

/// What the arguments asked for: one of the engine's commands, or one a
/// crate added ([`crate::command`]).
enum Parsed {
    Builtin(Cli),
    Extension {
        state_dir: PathBuf,
        no_color: bool,
        command: Arc<dyn LabCommand>,
        args: clap::ArgMatches,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every check on the code, without touching the network.
    Check,
    /// Show what `apply` would change. Exit code: 0 no changes, 2 changes, 1 error.
    Plan {
        /// Print the plan as JSON (secrets redacted) instead of text.
        #[arg(long)]
        json: bool,
        /// Also save the plan (secrets encrypted) for `apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make reality match the code.
    Apply {
        /// A plan saved by `plan --out FILE`: applied exactly, without asking.
        plan_file: Option<PathBuf>,
        /// Apply without asking for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Run at most N operations at once.
        #[arg(
            long,
            value_name = "N",
            default_value_t = ApplyOptions::default().parallelism,
            value_parser = RangedU64ValueParser::<usize>::new().range(1..)
        )]
        parallelism: usize,
    },
    /// Destroy everything the state records, in reverse dependency order.
    Destroy {
        /// Destroy without asking for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Print the dependency graph.
    Graph {
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Inspect or edit the state.
    ///
    /// The state (state.json in --state-dir) is read whole or not at all: a
    /// damaged state.json, or a lost one whose previous version is still
    /// there, is refused, never taken as empty. The version before the last
    /// save is kept beside it as state.json.prev; to restore it:
    /// `cp .lab/state.json.prev .lab/state.json`.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Print an output of an applied resource (e.g. `talos.cluster.home kubeconfig`).
    ///
    /// A secret output (a kubeconfig, a secrets bundle) is never printed:
    /// it is written, decrypted, into --out FILE with mode 0600.
    Output {
        /// The resource's address, e.g. `talos.cluster.home`.
        address: String,
        /// The output's name, e.g. `kubeconfig`.
        name: String,
        /// Write the value into FILE (mode 0600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// List the resources in the state, with their ids.
    List,
    /// Show one resource as JSON (secrets redacted).
    Show {
        /// The resource's address, e.g. `proxmox.vm.immich`.
        address: String,
    },
    /// Forget a resource without destroying it (the state before is kept as state.json.prev).
    Rm {
        /// The resource's address, e.g. `proxmox.vm.immich`.
        address: String,
    },
}

/// Why a command failed.
enum CliError {
    /// The engine refused or failed.
    Engine(EngineError),
    /// Writing the output failed.
    Io(io::Error),
    /// Anything else: what happened and what to do next.
    Message { message: String, help: String },
}

impl CliError {
    fn msg(message: impl Into<String>, help: impl Into<String>) -> Self {
        CliError::Message {
            message: message.into(),
            help: help.into(),
        }
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        CliError::Engine(e)
    }
}

impl From<StateError> for CliError {
    fn from(e: StateError) -> Self {
        CliError::Engine(EngineError::State(e))
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Io(e)
    }
}

/// Parses `args`, runs the command and returns the exit code. Everything is
/// written to `out` and `err`; confirmation is read from `input`.
fn run_io(
    lab: Lab,
    args: Vec<OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    input: &mut dyn BufRead,
    term: Term,
) -> i32 {
    let wants_no_color = args.iter().any(|a| a == "--no-color");
    let extensions = lab.commands().clone();
    let mut command =
        Cli::command().about(format!("Check, plan and apply the lab `{}`.", lab.name()));
    for (name, ext) in extensions.iter() {
        // The engine's own commands win over a crate's of the same name.
        if command.find_subcommand(name).is_none() {
            command = command.subcommand(ext.command());
        }
    }
    let parsed = command.try_get_matches_from(args).and_then(|m| {
        let extension = m
            .subcommand()
            .and_then(|(name, sub)| Some((extensions.get(name)?.clone(), sub.clone())));
        match extension {
            Some((ext, sub)) => Ok(Parsed::Extension {
                state_dir: m
                    .get_one::<PathBuf>("state_dir")
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from(".lab")),
                no_color: m.get_flag("no_color"),
                command: ext,
                args: sub,
            }),
            None => Cli::from_arg_matches(&m).map(Parsed::Builtin),
        }
    });
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let text = e.render();
            let text = if term.color && !wants_no_color {
                text.ansi().to_string()
            } else {
                text.to_string()
            };
            let (stream, code): (&mut dyn Write, i32) =
                if e.use_stderr() { (err, 1) } else { (out, 0) };
            let _ = stream.write_all(text.as_bytes());
            return code;
        }
    };
    let (state_dir, no_color) = match &parsed {
        Parsed::Builtin(cli) => (cli.state_dir.clone(), cli.no_color),
        Parsed::Extension {
            state_dir,
            no_color,
            ..
        } => (state_dir.clone(), *no_color),
    };
    let term = Term {
        color: term.color && !no_color,
        ..term
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "error: cannot start the async runtime: {e}");
            return 1;
        }
    };

    let store = Arc::new(FileStateStore::new(state_dir));
    let (tx, events) = unbounded_channel();
    let engine = Engine::with_store(lab, store.clone() as Arc<dyn StateStore>).on_event(move |e| {
        let _ = tx.send(e.clone());
    });
    let mut session = Session {
        engine,
        events,
        out,
        err,
        input,
        term,
    };
    let result = match parsed {
        Parsed::Builtin(cli) => runtime.block_on(session.execute(cli.command)),
        Parsed::Extension { command, args, .. } => {
            runtime.block_on(session.extension(command.as_ref(), &args))
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            session.print_error(&e);
            1
        }
    };
    let _ = session.out.flush();
    if let Some(path) = store.take_created_key() {
        let _ = writeln!(
            session.err,
            "created age key {}: back it up; the secrets in the state cannot be read without it",
            path.display()
        );
    }
    code
}

/// One CLI invocation: the engine, its event stream and the terminal.
struct Session<'a> {
    engine: Engine,
    events: UnboundedReceiver<Event>,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    input: &'a mut dyn BufRead,
    term: Term,
}

impl Session<'_> {
    /// Runs a command a crate added; its errors printed like the engine's.
    async fn extension(
        &mut self,
        command: &dyn LabCommand,
        args: &clap::ArgMatches,
    ) -> Result<i32, CliError> {
        let mut ctx = CommandContext {
            engine: &self.engine,
            args,
            out: &mut *self.out,
            err: &mut *self.err,
            color: self.term.color,
        };
        match command.run(&mut ctx).await {
            Ok(code) => Ok(code),
            Err(CommandError::Diagnostics(diags)) => {
                for d in &diags {
                    self.print_diagnostic(d);
                }
                let blocking = diags.iter().filter(|d| d.is_blocking()).count();
                Err(CliError::msg(
                    format!("{blocking} error(s) found"),
                    "fix the lines named above, or waive a finding for one resource with `.waive(code, reason)`",
                ))
            }
            Err(CommandError::Engine(e)) => Err(CliError::Engine(e)),
            Err(CommandError::Io(e)) => Err(CliError::Io(e)),
            Err(CommandError::Message { message, help }) => Err(CliError::msg(message, help)),
        }
    }

    async fn execute(&mut self, command: Command) -> Result<i32, CliError> {
        match command {
            Command::Check => self.check(),
            Command::Plan { json, out } => self.plan(json, out.as_deref()).await,
            Command::Apply {
                plan_file,
                auto_approve,
                parallelism,
            } => {
                let opts = ApplyOptions {
                    parallelism,
                    ..Default::default()
                };
                match plan_file {
                    Some(file) => self.apply_file(&file, opts).await,
                    None => self.apply(auto_approve, opts).await,
                }
            }
            Command::Destroy { auto_approve } => self.destroy(auto_approve).await,
            Command::Graph { format } => {
                let graph = LabGraph::build(self.engine.lab());
                let text = match format {
                    GraphFormat::Dot => graph.to_dot(),
                    GraphFormat::Mermaid => graph.to_mermaid(),
                };
                self.out.write_all(text.as_bytes())?;
                Ok(0)
            }
            Command::State { command } => match command {
                StateCommand::List => self.state_list(),
                StateCommand::Show { address } => self.state_show(&address),
                StateCommand::Rm { address } => self.state_rm(&address),
            },
            Command::Output { address, name, out } => self.output(&address, &name, out.as_deref()),
        }
    }

    fn output(&mut self, address: &str, name: &str, to: Option<&Path>) -> Result<i32, CliError> {
        let address = parse_address(address)?;
        let store = self.engine.store().clone();
        let state = store.load()?.ok_or_else(|| no_state(&*store))?;
        let r = state
            .resources
            .get(&address)
            .ok_or_else(|| not_in_state(&address))?;
        let Some(value) = r.outputs.get(name) else {
            let names: Vec<&str> = r.outputs.keys().map(String::as_str).collect();
            return Err(CliError::msg(
                format!("`{address}` has no output `{name}`"),
                if names.is_empty() {
                    "it has no outputs".to_string()
                } else {
                    format!("its outputs: {}", names.join(", "))
                },
            ));
        };
        let text = match value {
            crate::Value::Secret(secret) => secret.expose().to_string(),
            crate::Value::Str(text) => text.clone(),
            other => other.to_redacted_json().to_string(),
        };
        match to {
            Some(path) => {
                crate::state::write_private(path, text.as_bytes()).map_err(|e| {
                    CliError::msg(
                        format!("cannot write {}: {e}", path.display()),
                        "check that the directory exists and is writable, or pass another --out FILE",
                    )
                })?;
                writeln!(
                    self.err,
                    "wrote {address} {name} to {} (mode 0600)",
                    path.display()
                )?;
            }
            None if matches!(value, crate::Value::Secret(_)) => {
                return Err(CliError::msg(
                    format!("`{address}` output `{name}` is secret and is not printed"),
                    format!("write it to a private file: `output {address} {name} --out FILE`"),
                ));
            }
            None => {
                self.out.write_all(text.as_bytes())?;
                if !text.ends_with('\n') {
                    writeln!(self.out)?;
                }
            }
        }
        Ok(0)
    }

    fn check(&mut self) -> Result<i32, CliError> {
        let diags = self.engine.check();
        for d in &diags {
            self.print_diagnostic(d);
        }
        let errors = diags.iter().filter(|d| d.is_blocking()).count();
        let unwaived = |s: Severity| {
            diags
                .iter()
                .filter(|d| d.severity == s && d.waived.is_none())
                .count()
        };
        let warnings = unwaived(Severity::Warning);
        let advice = unwaived(Severity::Advice);
        let waived = diags.iter().filter(|d| d.waived.is_some()).count();
        write!(
            self.out,
            "{errors} error(s), {warnings} warning(s), {waived} waived"
        )?;
        if advice > 0 {
            write!(self.out, ", {advice} advice")?;
        }
        writeln!(self.out)?;
        Ok(if errors > 0 { 1 } else { 0 })
    }

    async fn plan(&mut self, as_json: bool, save_to: Option<&Path>) -> Result<i32, CliError> {
        let plan = self.make_plan(false).await?;
        if as_json {
            let text = serde_json::to_string_pretty(&plan.to_redacted_json()).map_err(|e| {
                CliError::msg(
                    format!("cannot format the plan as JSON: {e}"),
                    "report this as a bug",
                )
            })?;
            writeln!(self.out, "{text}")?;
        } else {
            self.out
                .write_all(render(&plan, self.term.color).as_bytes())?;
        }
        if let Some(path) = save_to {
            self.save_plan(&plan, path)?;
            let note = format!(
                "\nSaved the plan to {}. `apply {}` applies exactly this plan.",
                path.display(),
                path.display()
            );
            // Keep stdout pure JSON with --json.
            if as_json {
                writeln!(self.err, "{}", note.trim_start())?;
            } else {
                writeln!(self.out, "{note}")?;
            }
        }
        Ok(if plan.has_changes() { 2 } else { 0 })
    }

    /// Plans (or plans a destroy), printing refresh progress on a terminal.
    async fn make_plan(&mut self, destroy: bool) -> Result<Plan, CliError> {
        let live = self.term.live;
        let err = &mut *self.err;
        let on_event = |e: Event| {
            if live {
                if let Event::Refreshing { .. } = e {
                    let _ = writeln!(err, "{e}");
                }
            }
        };
        let plan = if destroy {
            with_events(self.engine.plan_destroy(), &mut self.events, on_event).await?
        } else {
            with_events(
                self.engine.plan(&PlanOptions::default()),
                &mut self.events,
                on_event,
            )
            .await?
        };
        Ok(plan)
    }

    /// Saves `plan` for `apply FILE`: secrets sealed with age, the whole
    /// under an integrity seal keyed from the lab's key (made here if the
    /// lab has none yet; `run_io` then says so), mode 0600.
    fn save_plan(&mut self, plan: &Plan, path: &Path) -> Result<(), CliError> {
        let sealer = self.engine.store().sealer()?;
        let json = plan.to_sealed_json(&sealer)?;
        let text = serde_json::to_string_pretty(&json).map_err(|e| {
            CliError::msg(
                format!("cannot format the plan as JSON: {e}"),
                "report this as a bug",
            )
        })?;
        crate::state::write_private(path, (text + "\n").as_bytes()).map_err(|e| {
            CliError::msg(
                format!("cannot write the plan to {}: {e}", path.display()),
                "check that the directory exists and is writable, or pass another --out FILE",
            )
        })?;
        Ok(())
    }

    async fn apply(&mut self, auto_approve: bool, opts: ApplyOptions) -> Result<i32, CliError> {
        let plan = self.make_plan(false).await?;
        self.out
            .write_all(render(&plan, self.term.color).as_bytes())?;
        if !plan.has_changes() {
            return Ok(0);
        }
        if !self.confirm(
            "Do you want to perform these actions? Only 'yes' will be accepted:",
            auto_approve,
            "apply",
            "pass --auto-approve, or save a plan with `plan --out FILE` and apply that file with `apply FILE`",
        )? {
            writeln!(self.out, "Apply cancelled.")?;
            return Ok(1);
        }
        self.run_plan(&plan, &opts).await
    }

    /// Applies a plan saved by `plan --out`, exactly, after checking its
    /// seal (refused if the file was changed or made with another key), its
    /// lab and the state's lab.
    async fn apply_file(&mut self, path: &Path, opts: ApplyOptions) -> Result<i32, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::msg(
                format!("cannot read the plan file {}: {e}", path.display()),
                "save a plan with `plan --out FILE` and pass that FILE",
            )
        })?;
        let refused = |problem: String| EngineError::PlanSeal {
            path: path.display().to_string(),
            problem,
        };
        let json: Json = serde_json::from_str(&text)
            .map_err(|e| refused(format!("is not a saved plan: it is not JSON ({e})")))?;
        let store = self.engine.store().clone();
        let Some(sealer) = store.existing_sealer()? else {
            let problem = match json
                .get("seal")
                .and_then(|s| s.get("key"))
                .and_then(Json::as_str)
            {
                Some(key) => format!(
                    "was sealed with the key {key}, and this lab has no key yet ({}): another \
                     lab or state directory saved it",
                    store.describe()
                ),
                None => SavedPlanError::Unsealed.to_string(),
            };
            return Err(refused(problem).into());
        };
        let plan = Plan::from_sealed_json(&json, &sealer).map_err(|e| refused(e.to_string()))?;
        let lab = self.engine.lab().name();
        if plan.lab != lab {
            return Err(EngineError::PlanFile(format!(
                "{} was made for the lab `{}`, and this is the lab `{lab}`",
                path.display(),
                plan.lab
            ))
            .into());
        }
        store.load_lab(lab)?;
        if !plan.has_changes() {
            writeln!(self.out, "No changes. The saved plan has nothing to do.")?;
        }
        self.run_plan(&plan, &opts).await
    }

    async fn destroy(&mut self, auto_approve: bool) -> Result<i32, CliError> {
        let plan = self.make_plan(true).await?;
        self.out
            .write_all(render(&plan, self.term.color).as_bytes())?;
        if !plan.has_changes() {
            return Ok(0);
        }
        if !self.confirm(
            "Do you really want to destroy all of the above? Only 'yes' will be accepted:",
            auto_approve,
            "destroy",
            "pass --auto-approve to destroy without being asked",
        )? {
            writeln!(self.out, "Destroy cancelled.")?;
            return Ok(1);
        }
        self.run_plan(&plan, &ApplyOptions::default()).await
    }

    /// Asks `question` on a terminal; refuses without one unless `auto_approve`.
    fn confirm(
        &mut self,
        question: &str,
        auto_approve: bool,
        what: &str,
        help: &str,
    ) -> Result<bool, CliError> {
        if auto_approve {
            return Ok(true);
        }
        if !self.term.interactive {
            return Err(CliError::msg(
                format!("refusing to {what} without confirmation: there is no terminal to ask on"),
                help,
            ));
        }
        write!(self.out, "\n{question} ")?;
        self.out.flush()?;
        let mut answer = String::new();
        self.input.read_line(&mut answer)?;
        Ok(answer.trim() == "yes")
    }

    /// Applies `plan` with progress, then prints the summary.
    async fn run_plan(&mut self, plan: &Plan, opts: &ApplyOptions) -> Result<i32, CliError> {
        let mut progress = Progress::new(self.term, op_count(plan));
        writeln!(self.out)?;
        let out = &mut *self.out;
        let result = with_events(self.engine.apply(plan, opts), &mut self.events, |e| {
            progress.on_event(&e, out)
        })
        .await;
        progress.clear(out);
        let report = result?;
        self.print_summary(&report)?;
        Ok(if report.is_success() { 0 } else { 1 })
    }

    fn print_summary(&mut self, report: &ApplyReport) -> Result<(), CliError> {
        let out = &mut *self.out;
        writeln!(
            out,
            "\nApply complete: {} done, {} failed, {} skipped in {}.",
            report.done.len(),
            report.failed.len(),
            report.skipped.len(),
            fmt_duration(report.elapsed)
        )?;
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
                    self.term.paint_red("x"),
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
            writeln!(out, "{} The run stopped: {why}", self.term.paint_red("x"))?;
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

    fn state_list(&mut self) -> Result<i32, CliError> {
        let store = self.engine.store().clone();
        let Some(state) = store.load()? else {
            writeln!(
                self.err,
                "No state yet in {}: nothing has been applied.",
                store.describe()
            )?;
            return Ok(0);
        };
        let mut rows: Vec<_> = state.resources.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        let width = rows
            .iter()
            .map(|(a, _)| a.as_str().len())
            .max()
            .unwrap_or(0);
        for (address, r) in rows {
            writeln!(self.out, "{:<width$}  {}", address.as_str(), r.id)?;
        }
        if state.resources.is_empty() {
            writeln!(
                self.err,
                "The state in {} holds no resources.",
                store.describe()
            )?;
        }
        Ok(0)
    }

    fn state_show(&mut self, address: &str) -> Result<i32, CliError> {
        let address = parse_address(address)?;
        let store = self.engine.store().clone();
        let state = store.load()?.ok_or_else(|| no_state(&*store))?;
        let r = state
            .resources
            .get(&address)
            .ok_or_else(|| not_in_state(&address))?;
        let redact = |attrs: &Attrs| -> Json {
            Json::Object(
                attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_redacted_json()))
                    .collect(),
            )
        };
        let shown = json!({
            "address": address,
            "id": r.id,
            "attrs": redact(&r.attrs),
            "outputs": redact(&r.outputs),
            "deps": r.deps,
            "create_before_destroy": r.create_before_destroy,
        });
        let text = serde_json::to_string_pretty(&shown).map_err(|e| {
            CliError::msg(
                format!("cannot format the resource as JSON: {e}"),
                "report this as a bug",
            )
        })?;
        writeln!(self.out, "{text}")?;
        Ok(0)
    }

    fn state_rm(&mut self, address: &str) -> Result<i32, CliError> {
        let address = parse_address(address)?;
        let store = self.engine.store().clone();
        let _lock = store.lock("state rm")?;
        let mut state = store.load()?.ok_or_else(|| no_state(&*store))?;
        let removed = state
            .resources
            .shift_remove(&address)
            .ok_or_else(|| not_in_state(&address))?;
        state.serial += 1;
        store.save(&state)?;
        writeln!(
            self.out,
            "Removed {address} (id {}) from the state. The lab forgot it without destroying it: \
             the object still exists, and if it is still in the code the next apply creates a new one.",
            removed.id
        )?;
        Ok(0)
    }

    fn handler(&self) -> GraphicalReportHandler {
        let theme = if self.term.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        // Long words (a certificate fingerprint, a UPID, a path) are never
        // cut: a fingerprint split inside a hex pair cannot be copied.
        GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_break_words(false)
            .with_links(self.term.color)
    }

    fn print_report(&mut self, d: &dyn miette::Diagnostic) {
        let mut text = String::new();
        if self.handler().render_report(&mut text, d).is_err() {
            text = format!("error: {d}\n");
        }
        let _ = writeln!(self.err, "{}", text.trim_end());
        let _ = writeln!(self.err);
    }

    fn print_diagnostic(&mut self, d: &Diagnostic) {
        let report = d.report();
        self.print_report(&*report);
    }

    fn print_error(&mut self, e: &CliError) {
        match e {
            CliError::Engine(
                inner @ (EngineError::Check(diags) | EngineError::PlanCheck(diags)),
            ) => {
                for d in diags {
                    self.print_diagnostic(d);
                }
                self.print_report(inner);
            }
            CliError::Engine(inner) => self.print_report(inner),
            CliError::Io(io) => {
                let d = MietteDiagnostic::new(format!("cannot write the output: {io}"))
                    .with_code("lab::cli::io");
                self.print_report(&d);
            }
            CliError::Message { message, help } => {
                let d = MietteDiagnostic::new(message.clone())
                    .with_code("lab::cli")
                    .with_help(help.clone());
                self.print_report(&d);
            }
        }
    }
}

impl Term {
    fn paint_red(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[31m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn parse_address(text: &str) -> Result<Address, CliError> {
    Address::parse(text).ok_or_else(|| {
        CliError::msg(
            format!("`{text}` is not a resource address"),
            "addresses look like `kind.name`, e.g. `proxmox.vm.immich`; `state list` shows them",
        )
    })
}

fn no_state(store: &dyn StateStore) -> CliError {
    CliError::msg(
        format!("there is no state yet in {}", store.describe()),
        "nothing has been applied with this --state-dir; check the directory",
    )
}

fn not_in_state(address: &Address) -> CliError {
    CliError::msg(
        format!("`{address}` is not in the state"),
        "`state list` shows the addresses the state holds",
    )
}

/// The number of operations applying `plan` runs (a replace is two).
fn op_count(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .map(|s| if s.action == Action::Replace { 2 } else { 1 })
        .sum()
}

/// Awaits `fut`, handing every event that arrives meanwhile (and those
/// still queued when it ends) to `handle`.
async fn with_events<F: Future>(
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
struct Progress {
    term: Term,
    total: usize,
    finished: usize,
    running: Vec<(Address, OpKind)>,
    status_shown: bool,
    width: usize,
}

impl Progress {
    fn new(term: Term, total: usize) -> Self {
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

    fn on_event(&mut self, e: &Event, out: &mut dyn Write) {
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
    fn status(&self) -> String {
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

    fn clear(&mut self, out: &mut dyn Write) {
        if self.status_shown {
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
            self.status_shown = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::testing::{Fault, MemoryProvider, Thing};
    use crate::{Appliance, ApplianceKind, Resource};

    const PASSWORD: &str = "cli-test-password-7f3a";

    const PLAIN: Term = Term {
        color: false,
        live: false,
        interactive: false,
    };

    /// The same lab each time, applied through `memory` (clones share its world).
    fn lab(memory: &MemoryProvider) -> Lab {
        let mut lab = Lab::new("clitest");
        lab.register_provider(memory.shared());
        let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
        let pool = lab.add(Thing::new("pool").attr("size_gb", 100).on(&nas));
        let db = lab.add(Thing::new("db").secret("password", PASSWORD).after(&pool));
        lab.add(Thing::new("app").input("db_id", db.output::<String>("id")));
        lab
    }

    struct Run {
        code: i32,
        out: String,
        err: String,
    }

    fn run_in(lab: Lab, dir: &Path, args: &[&str], term: Term, input: &str) -> Run {
        let mut argv: Vec<OsString> =
            vec!["lab".into(), "--state-dir".into(), dir.join(".lab").into()];
        argv.extend(args.iter().map(|a| OsString::from(*a)));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut input = io::Cursor::new(input.as_bytes().to_vec());
        let code = run_io(lab, argv, &mut out, &mut err, &mut input, term);
        let run = Run {
            code,
            out: String::from_utf8_lossy(&out).into_owned(),
            err: String::from_utf8_lossy(&err).into_owned(),
        };
        assert!(
            !run.out.contains(PASSWORD) && !run.err.contains(PASSWORD),
            "secret printed by {args:?}:\n{}\n{}",
            run.out,
            run.err
        );
        run
    }

    fn run(memory: &MemoryProvider, dir: &Path, args: &[&str]) -> Run {
        run_in(lab(memory), dir, args, PLAIN, "")
    }

    #[test]
    fn output_prints_plain_values_and_writes_secrets_only_to_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let r = run(&memory, dir.path(), &["output", "test.thing.db", "id"]);
        assert_eq!(r.code, 1);
        assert!(r.err.contains("no state yet"), "{}", r.err);
        let r = run(&memory, dir.path(), &["apply", "--auto-approve"]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);

        let id = memory.find_by_name("db")[0].id.clone();
        let r = run(&memory, dir.path(), &["output", "test.thing.db", "id"]);
        assert_eq!((r.code, r.out.as_str()), (0, format!("{id}\n").as_str()));
        let r = run(&memory, dir.path(), &["output", "test.thing.db", "nope"]);
        assert_eq!(r.code, 1);
        assert!(
            r.err.contains("has no output `nope`") && r.err.contains("its outputs: id"),
            "{}",
            r.err
        );

        // A secret output (as a kubeconfig is) in the state.
        let store = FileStateStore::new(dir.path().join(".lab"));
        let mut state = store.load().unwrap().unwrap();
        let db = Address::parse("test.thing.db").unwrap();
        state.resources.get_mut(&db).unwrap().outputs.insert(
            "token".into(),
            crate::Value::Secret(crate::Secret::new(PASSWORD)),
        );
        store.save(&state).unwrap();
        // run_in asserts the secret is never in stdout or stderr.
        let r = run(&memory, dir.path(), &["output", "test.thing.db", "token"]);
        assert_eq!(r.code, 1);
        assert!(r.err.contains("--out FILE"), "{}", r.err);
        let file = dir.path().join("token");
        let r = run(
            &memory,
            dir.path(),
            &[
                "output",
                "test.thing.db",
                "token",
                "--out",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert!(r.err.contains("mode 0600"), "{}", r.err);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), PASSWORD);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn plan_apply_plan_again() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();

        let r = run(&memory, dir.path(), &["plan"]);
        assert_eq!(r.code, 2, "{}{}", r.out, r.err);
        assert!(
            r.out.contains("Plan: 3 to add, 0 to change, 0 to destroy."),
            "{}",
            r.out
        );
        assert!(r.out.contains("(known after apply)") && r.out.contains("(sensitive value)"));

        // No terminal and no --auto-approve: refuse, say what to do.
        let r = run(&memory, dir.path(), &["apply"]);
        assert_eq!(r.code, 1);
        assert!(
            r.err.contains("--auto-approve") && r.err.contains("plan --out"),
            "{}",
            r.err
        );
        assert_eq!(memory.counts().creates, 0);

        let r = run(
            &memory,
            dir.path(),
            &["apply", "--auto-approve", "--parallelism", "2"],
        );
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert!(
            r.out
                .contains("Apply complete: 3 done, 0 failed, 0 skipped in"),
            "{}",
            r.out
        );
        assert!(
            r.out.contains("create   test.thing.db: started")
                || r.out.contains("test.thing.db: done")
        );
        assert!(r.err.contains("created age key"), "{}", r.err);
        let state = std::fs::read_to_string(dir.path().join(".lab/state.json")).unwrap();
        assert!(!state.contains(PASSWORD));

        let r = run(&memory, dir.path(), &["plan"]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert!(
            r.out
                .contains("No changes. The lab matches the code (3 resources)."),
            "{}",
            r.out
        );
        assert!(!r.err.contains("created age key"));

        let r = run(&memory, dir.path(), &["apply"]);
        assert_eq!(r.code, 0);
        assert!(r.out.contains("No changes."));

        let r = run(&memory, dir.path(), &["destroy", "--auto-approve"]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert!(r.out.contains("3 to destroy"), "{}", r.out);
        assert!(memory.objects().is_empty());
    }

    #[test]
    fn confirmation_on_a_terminal() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let tty = Term {
            interactive: true,
            ..PLAIN
        };
        let r = run_in(lab(&memory), dir.path(), &["apply"], tty, "no\n");
        assert_eq!(r.code, 1);
        assert!(
            r.out.contains("Only 'yes' will be accepted:") && r.out.contains("Apply cancelled.")
        );
        assert_eq!(memory.counts().creates, 0);

        let r = run_in(lab(&memory), dir.path(), &["apply"], tty, "yes\n");
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert_eq!(memory.objects().len(), 3);
    }

    #[test]
    fn saved_plan_applies_once_and_then_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let file = dir.path().join("plan.json");
        let file_arg = file.to_str().unwrap();

        let r = run(&memory, dir.path(), &["plan", "--out", file_arg]);
        assert_eq!(r.code, 2, "{}{}", r.out, r.err);
        assert!(r.out.contains("Saved the plan to"));
        let saved = std::fs::read_to_string(&file).unwrap();
        assert!(!saved.contains(PASSWORD));
        assert!(saved.contains("$secret"));

        let r = run(&memory, dir.path(), &["apply", file_arg]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert_eq!(memory.objects().len(), 3);
        let db = memory.find_by_name("db");
        assert_eq!(
            db[0].attrs["password"],
            crate::Value::Secret(crate::Secret::new(PASSWORD))
        );

        let r = run(&memory, dir.path(), &["apply", file_arg]);
        assert_eq!(r.code, 1);
        assert!(r.err.contains("stale"), "{}", r.err);
        assert_eq!(memory.counts().creates, 3);

        let r = run(&memory, dir.path(), &["apply", "missing.json"]);
        assert_eq!(r.code, 1);
        assert!(r.err.contains("plan --out"), "{}", r.err);
    }

    #[test]
    fn plan_json_is_json_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let r = run(&memory, dir.path(), &["plan", "--json"]);
        assert_eq!(r.code, 2);
        let json: Json = serde_json::from_str(&r.out).unwrap();
        assert_eq!(json["summary"]["add"], 3);
        assert!(r.out.contains("(sensitive value)"));
        // Planning a lab needs no key: none was created.
        assert!(!dir.path().join(".lab/age.key").exists());
    }

    #[test]
    fn a_failure_stops_only_what_depends_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        memory.fail_resource("db", Fault::Permanent);
        let r = run(&memory, dir.path(), &["apply", "--auto-approve"]);
        assert_eq!(r.code, 1, "{}{}", r.out, r.err);
        assert!(r.out.contains("1 done, 1 failed, 1 skipped"), "{}", r.out);
        assert!(
            r.out.contains("test.thing.db (create)")
                && r.out.contains("injected permanent failure")
        );
        assert!(
            r.out
                .contains("test.thing.app (create): waited for test.thing.db, which failed"),
            "{}",
            r.out
        );

        memory.clear_faults();
        let r = run(&memory, dir.path(), &["apply", "--auto-approve"]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert!(r.out.contains("Apply complete: 2 done"), "{}", r.out);
    }

    #[test]
    fn state_commands() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let r = run(&memory, dir.path(), &["state", "list"]);
        assert_eq!(r.code, 0);
        assert!(r.out.is_empty() && r.err.contains("No state yet"));

        assert_eq!(
            run(&memory, dir.path(), &["apply", "--auto-approve"]).code,
            0
        );

        let r = run(&memory, dir.path(), &["state", "list"]);
        assert_eq!(r.code, 0);
        let lines: Vec<&str> = r.out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("test.thing.app ") && lines[2].starts_with("test.thing.pool"));
        assert!(lines.iter().all(|l| l.contains("mem-")));

        let r = run(&memory, dir.path(), &["state", "show", "test.thing.db"]);
        assert_eq!(r.code, 0, "{}", r.err);
        let shown: Json = serde_json::from_str(&r.out).unwrap();
        assert_eq!(shown["attrs"]["password"], "(sensitive value)");
        assert_eq!(shown["deps"][0], "test.thing.pool");

        let r = run(&memory, dir.path(), &["state", "show", "test.thing.nope"]);
        assert_eq!(r.code, 1);
        assert!(r.err.contains("not in the state") && r.err.contains("state list"));
        assert_eq!(
            run(&memory, dir.path(), &["state", "show", "nodot"]).code,
            1
        );

        let r = run(&memory, dir.path(), &["state", "rm", "test.thing.app"]);
        assert_eq!(r.code, 0, "{}", r.err);
        assert!(r.out.contains("without destroying it"));
        assert_eq!(memory.objects().len(), 3, "state rm destroys nothing");
        let r = run(&memory, dir.path(), &["state", "list"]);
        assert_eq!(r.out.lines().count(), 2);
        assert_eq!(
            run(&memory, dir.path(), &["state", "rm", "test.thing.app"]).code,
            1
        );
    }

    #[test]
    fn check_graph_and_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let r = run(&memory, dir.path(), &["check"]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert!(
            r.out.starts_with("0 error(s), 0 warning(s), 0 waived"),
            "{}",
            r.out
        );

        let mut bad = lab(&memory);
        bad.add(Thing::new("pool"));
        let r = run_in(bad, dir.path(), &["check"], PLAIN, "");
        assert_eq!(r.code, 1);
        assert!(r.out.starts_with("1 error(s)"), "{}", r.out);
        assert!(
            r.err.contains("core::duplicate-address") || r.err.contains("duplicate"),
            "{}",
            r.err
        );

        let mut bad = lab(&memory);
        bad.add(Thing::new("pool"));
        let r = run_in(bad, dir.path(), &["plan"], PLAIN, "");
        assert_eq!(r.code, 1);
        assert!(r.err.contains("nothing was planned"), "{}", r.err);

        let r = run(&memory, dir.path(), &["graph"]);
        assert_eq!(r.code, 0);
        assert!(
            r.out.starts_with("digraph lab {")
                && r.out.contains("\"test.thing.pool\" -> \"test.thing.db\"")
        );
        let r = run(&memory, dir.path(), &["graph", "--format", "mermaid"]);
        assert!(r.out.starts_with("flowchart LR"));

        let r = run(&memory, dir.path(), &["--help"]);
        assert_eq!(r.code, 0);
        assert!(r.out.contains("clitest") && r.out.contains("apply"));
        let r = run(&memory, dir.path(), &["plan", "--bogus"]);
        assert_eq!(r.code, 1);
        assert!(!r.err.is_empty());
        assert_eq!(
            run(&memory, dir.path(), &["apply", "--parallelism", "0"]).code,
            1
        );
        assert_eq!(run(&memory, dir.path(), &[]).code, 1);
    }

    #[test]
    fn live_progress_redraws_a_status_line() {
        let mut p = Progress::new(
            Term {
                live: true,
                ..PLAIN
            },
            2,
        );
        let a = Address::new("test.thing", "a");
        let mut out = Vec::new();
        p.on_event(
            &Event::Started {
                address: a.clone(),
                op: OpKind::Create,
            },
            &mut out,
        );
        p.on_event(
            &Event::Finished {
                address: a,
                op: OpKind::Create,
                elapsed: std::time::Duration::from_millis(5),
            },
            &mut out,
        );
        p.clear(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("[0/2] 1 running: test.thing.a"), "{text:?}");
        assert!(text.contains("[1/2] 0 running"), "{text:?}");
        assert!(text.ends_with("\r\x1b[2K"));
    }

    // Issue 9, crash safety: a damaged, lost or foreign state and an edited
    // saved plan stop the run before anything reaches a provider.

    /// `text` without whitespace and miette's frame (which wraps lines
    /// anywhere, even inside a long path).
    fn squeeze(text: &str) -> String {
        text.chars()
            .filter(|c| !c.is_whitespace() && !"│╰╭─×┬┆".contains(*c))
            .collect()
    }

    /// True if stderr `err` says `needle`, however it was wrapped.
    fn says(err: &str, needle: &str) -> bool {
        squeeze(err).contains(&squeeze(needle))
    }

    fn state_file(dir: &Path) -> PathBuf {
        dir.join(".lab/state.json")
    }

    fn prev_file(dir: &Path) -> PathBuf {
        dir.join(".lab/state.json.prev")
    }

    fn restore_command(dir: &Path) -> String {
        format!(
            "cp {} {}",
            prev_file(dir).display(),
            state_file(dir).display()
        )
    }

    /// Applies `lab(memory)` in `dir`, then forgets the provider's counts.
    fn applied(memory: &MemoryProvider, dir: &Path) {
        let r = run(memory, dir, &["apply", "--auto-approve"]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert_eq!(memory.objects().len(), 3);
        memory.reset_counts();
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_damaged_state_stops_every_command_naming_the_file_and_its_prev() {
        /// Edits the state's JSON, or returns the bytes to write instead.
        type Damage = fn(&mut Json) -> Option<Vec<u8>>;
        let damages: [(&str, Damage, &str); 6] = [
            (
                "resources null",
                |j| {
                    j["resources"] = Json::Null;
                    None
                },
                "`resources` is null, not an object",
            ),
            (
                "resources missing",
                |j| {
                    j.as_object_mut().unwrap().shift_remove("resources");
                    None
                },
                "`resources` is missing",
            ),
            (
                "an entry without id",
                |j| {
                    j["resources"]["test.thing.db"]
                        .as_object_mut()
                        .unwrap()
                        .shift_remove("id");
                    None
                },
                r#"`resources["test.thing.db"].id` is missing"#,
            ),
            (
                "attrs not an object",
                |j| {
                    j["resources"]["test.thing.pool"]["attrs"] = json!([1]);
                    None
                },
                r#"`resources["test.thing.pool"].attrs` is an array, not an object"#,
            ),
            (
                "truncated",
                |_| Some(b"{\"version\": 1, \"lab\": \"cl".to_vec()),
                "cut short",
            ),
            ("empty", |_| Some(Vec::new()), "the file is empty"),
        ];
        for (what, damage, names) in damages {
            let dir = tempfile::tempdir().unwrap();
            let memory = MemoryProvider::new();
            applied(&memory, dir.path());
            let path = state_file(dir.path());
            let mut json: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let bytes = damage(&mut json).unwrap_or_else(|| serde_json::to_vec(&json).unwrap());
            std::fs::write(&path, &bytes).unwrap();
            for args in [
                &["plan"][..],
                &["plan", "--json"],
                &["apply", "--auto-approve"],
                &["destroy", "--auto-approve"],
                &["state", "list"],
            ] {
                let r = run(&memory, dir.path(), args);
                assert_eq!(r.code, 1, "{what} {args:?}: {}{}", r.out, r.err);
                assert!(
                    says(
                        &r.err,
                        &format!("the state file {} is corrupt", path.display())
                    ) && says(&r.err, names)
                        && says(&r.err, &restore_command(dir.path())),
                    "{what} {args:?}: {}",
                    r.err
                );
            }
            assert_eq!(
                memory.counts(),
                crate::testing::CallCounts::default(),
                "{what}"
            );
            assert_eq!(memory.objects().len(), 3, "{what}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}: untouched");
        }
    }

    #[test]
    fn a_lost_state_with_its_prev_stops_plan_with_the_restore_command() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        applied(&memory, dir.path());
        std::fs::remove_file(state_file(dir.path())).unwrap();
        for args in [
            &["plan"][..],
            &["apply", "--auto-approve"],
            &["state", "list"],
        ] {
            let r = run(&memory, dir.path(), args);
            assert_eq!(r.code, 1, "{args:?}: {}{}", r.out, r.err);
            assert!(
                says(
                    &r.err,
                    &format!(
                        "the state file {} is missing, but its previous version {} is there",
                        state_file(dir.path()).display(),
                        prev_file(dir.path()).display()
                    )
                ) && says(&r.err, &restore_command(dir.path())),
                "{args:?}: {}",
                r.err
            );
        }
        assert_eq!(memory.counts(), crate::testing::CallCounts::default());
        assert!(!state_file(dir.path()).exists());

        // Restored as told: nothing is created again (what the older state
        // lacks is adopted by its marker).
        std::fs::copy(prev_file(dir.path()), state_file(dir.path())).unwrap();
        let r = run(&memory, dir.path(), &["apply", "--auto-approve"]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert_eq!(memory.counts().creates, 0);
        assert_eq!(memory.objects().len(), 3);
        let r = run(&memory, dir.path(), &["plan"]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    }

    #[test]
    fn apply_of_a_saved_plan_refuses_a_state_of_another_lab() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        // The plan is saved first (no state yet), then lab `other` applies
        // into the same directory (with the key the plan was sealed with).
        let file = dir.path().join("plan.json");
        let file_arg = file.to_str().unwrap();
        assert_eq!(
            run(&memory, dir.path(), &["plan", "--out", file_arg]).code,
            2
        );
        let mut other = Lab::new("other");
        other.register_provider(memory.shared());
        other.add(Thing::new("x"));
        let r = run_in(other, dir.path(), &["apply", "--auto-approve"], PLAIN, "");
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        memory.reset_counts();
        let r = run(&memory, dir.path(), &["apply", file_arg]);
        assert_eq!(r.code, 1, "{}{}", r.out, r.err);
        assert!(
            says(
                &r.err,
                &format!(
                    "the state in {} belongs to lab `other`; this code is lab `clitest`",
                    state_file(dir.path()).display()
                )
            ),
            "{}",
            r.err
        );
        assert_eq!(memory.counts().mutating(), 0);
    }

    #[test]
    fn plan_refuses_a_state_of_another_lab() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let mut other = Lab::new("other");
        other.register_provider(memory.shared());
        other.add(Thing::new("x"));
        assert_eq!(
            run_in(other, dir.path(), &["apply", "--auto-approve"], PLAIN, "").code,
            0
        );
        memory.reset_counts();
        for args in [
            &["plan"][..],
            &["apply", "--auto-approve"],
            &["destroy", "--auto-approve"],
        ] {
            let r = run(&memory, dir.path(), args);
            assert_eq!(r.code, 1, "{args:?}: {}{}", r.out, r.err);
            assert!(
                says(&r.err, "belongs to lab `other`; this code is lab `clitest`"),
                "{args:?}: {}",
                r.err
            );
        }
        assert_eq!(memory.counts(), crate::testing::CallCounts::default());
    }

    #[test]
    fn a_saved_plan_is_private_and_sealed_and_its_key_made_if_needed() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        // No secret in this lab: only the seal needs the key.
        let plain = || {
            let mut lab = Lab::new("clitest");
            lab.register_provider(memory.shared());
            lab.add(Thing::new("a").attr("size_gb", 1));
            lab
        };
        let file = dir.path().join("plan.json");
        let file_arg = file.to_str().unwrap();
        let r = run_in(plain(), dir.path(), &["plan", "--out", file_arg], PLAIN, "");
        assert_eq!(r.code, 2, "{}{}", r.out, r.err);
        assert!(r.err.contains("created age key"), "{}", r.err);
        assert!(dir.path().join(".lab/age.key").exists());
        let saved: Json = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(saved["seal"]["alg"], "HMAC-SHA256");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(mode(&file), 0o600);
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let r = run_in(plain(), dir.path(), &["plan", "--out", file_arg], PLAIN, "");
            assert_eq!(r.code, 2, "{}{}", r.out, r.err);
            assert!(!r.err.contains("created age key"), "{}", r.err);
            assert_eq!(mode(&file), 0o600, "an existing file is tightened");
        }
        let r = run_in(plain(), dir.path(), &["apply", file_arg], PLAIN, "");
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert_eq!(memory.objects().len(), 1);
        #[cfg(unix)]
        for name in [
            "state.json",
            "state.json.prev",
            "journal.jsonl",
            "lock",
            "age.key",
        ] {
            assert_eq!(mode(&dir.path().join(".lab").join(name)), 0o600, "{name}");
        }
    }

    #[test]
    fn an_edited_saved_plan_is_refused_and_nothing_runs() {
        type Edit = fn(&mut Json);
        let edits: [(&str, Edit); 5] = [
            ("a changed size", |j| {
                for s in j["steps"].as_array_mut().unwrap() {
                    if s["address"] == "test.thing.pool" {
                        s["desired"]["size_gb"] = json!(1000);
                    }
                }
            }),
            ("an extra resource", |j| {
                let mut extra = j["steps"][0].clone();
                extra["address"] = json!("test.thing.extra");
                j["steps"].as_array_mut().unwrap().push(extra);
            }),
            ("a removed step", |j| {
                j["steps"].as_array_mut().unwrap().remove(0);
            }),
            ("a changed lineage", |j| {
                j["lineage"] = json!("00000000-0000-4000-8000-000000000000")
            }),
            ("a changed serial", |j| j["state_serial"] = json!(5)),
        ];
        let changed = "was changed after it was saved; make it again with `plan --out`";
        for (what, edit) in edits {
            let dir = tempfile::tempdir().unwrap();
            let memory = MemoryProvider::new();
            let file = dir.path().join("plan.json");
            let file_arg = file.to_str().unwrap();
            assert_eq!(
                run(&memory, dir.path(), &["plan", "--out", file_arg]).code,
                2
            );
            let mut json: Json = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            edit(&mut json);
            std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
            let r = run(&memory, dir.path(), &["apply", file_arg]);
            assert_eq!(r.code, 1, "{what}: {}{}", r.out, r.err);
            assert!(
                says(&r.err, &format!("the plan file {file_arg} {changed}")),
                "{what}: {}",
                r.err
            );
            assert!(says(&r.err, "nothing was applied"), "{what}: {}", r.err);
            assert_eq!(memory.counts().mutating(), 0, "{what}");
            assert!(memory.objects().is_empty(), "{what}");
        }

        // No seal, not JSON (a torn file), another lab's key, no key at all.
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new();
        let file = dir.path().join("plan.json");
        let file_arg = file.to_str().unwrap();
        assert_eq!(
            run(&memory, dir.path(), &["plan", "--out", file_arg]).code,
            2
        );
        let text = std::fs::read_to_string(&file).unwrap();
        let mut json: Json = serde_json::from_str(&text).unwrap();
        json.as_object_mut().unwrap().shift_remove("seal");
        std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
        let r = run(&memory, dir.path(), &["apply", file_arg]);
        assert_eq!(r.code, 1);
        assert!(says(&r.err, "carries no integrity seal"), "{}", r.err);
        std::fs::write(&file, &text[..text.len() / 2]).unwrap();
        let r = run(&memory, dir.path(), &["apply", file_arg]);
        assert_eq!(r.code, 1);
        assert!(
            says(&r.err, "is not a saved plan: it is not JSON"),
            "{}",
            r.err
        );

        std::fs::write(&file, &text).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let r = run(&memory, elsewhere.path(), &["apply", file_arg]);
        assert_eq!(r.code, 1);
        assert!(says(&r.err, "this lab has no key yet"), "{}", r.err);
        assert!(
            !elsewhere.path().join(".lab/age.key").exists(),
            "no key made"
        );
        // Once that directory has its own key: another key.
        run(
            &memory,
            elsewhere.path(),
            &[
                "plan",
                "--out",
                elsewhere.path().join("p.json").to_str().unwrap(),
            ],
        );
        let r = run(&memory, elsewhere.path(), &["apply", file_arg]);
        assert_eq!(r.code, 1);
        assert!(says(&r.err, "was sealed with another key"), "{}", r.err);
        assert_eq!(memory.counts().mutating(), 0);

        // The file as saved still applies.
        let r = run(&memory, dir.path(), &["apply", file_arg]);
        assert_eq!(r.code, 0, "{}{}", r.out, r.err);
        assert_eq!(memory.objects().len(), 3);
    }

    /// A provider's plan-time finding is rendered like a check's: a report
    /// at the user's line, exit code 1, nothing applied.
    #[test]
    fn plan_check_findings_render_at_the_line_and_stop_apply() {
        let dir = tempfile::tempdir().unwrap();
        let memory = MemoryProvider::new().check_plan_with(|plan, _| {
            plan.steps
                .iter()
                .filter_map(|s| plan.spec(s))
                .filter(|spec| spec.attrs.get("size_gb") == Some(&crate::Value::Int(100)))
                .map(|spec| {
                    Diagnostic::error("memory::too-big", "no room for 100 GiB")
                        .for_resource(&spec.address)
                        .with_label(spec.loc_of("size_gb"), "100 GiB asked here")
                })
                .collect()
        });
        let line = line!() + 2;
        let mut lab = lab(&memory);
        lab.add(Thing::new("big").attr("size_gb", 100));
        let r = run_in(lab, dir.path(), &["apply", "--auto-approve"], PLAIN, "");
        assert_eq!(r.code, 1, "{}{}", r.out, r.err);
        assert!(r.err.contains("memory::too-big"), "{}", r.err);
        assert!(r.err.contains("lab::plan_check_failed"), "{}", r.err);
        assert!(r.err.contains(&format!("{}:{line}", file!())), "{}", r.err);
        assert_eq!(memory.counts().mutating(), 0, "nothing applied");
    }
}
