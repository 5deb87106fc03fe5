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
//! | `graph [--view NAME] [--format dot\|mermaid\|svg] [--out FILE]` | draws the dependency graph, or a crate's view ([`crate::picture`]); the format follows FILE's extension unless given |
//! | `import [--out FILE] [--force]` | reads the systems into Rust code (`pub fn imported`) and the state that binds it ([`crate::import`]) |
//! | `docs [--out DIR]` | writes a Markdown note per guest, an index and the pictures ([`crate::notes`]), offline |
//! | `state list`, `state show ADDR`, `state rm ADDR` | inspects or edits the state |
//! | `state history` | the versions the store keeps: serial, lineage, saved at, resources (the file store: the current one and `state.json.prev`; PostgreSQL: the last 50) |
//! | `state rollback SERIAL` | writes a kept version back as a new serial, under the lock; refuses a version of another lineage |
//! | `state migrate --to postgres://...\|DIR` | copies the state (its versions where the source keeps them, and the journal, serial and lineage unchanged) into a PostgreSQL database or a state directory; refuses a target holding another lineage or a newer serial |
//! | `output ADDR NAME [--out FILE]` | prints an output of an applied resource; a secret one (a kubeconfig) only into FILE, mode 0600 |
//!
//! A crate adds its own commands beside these (lab-pbs: `failures`,
//! `restore-drill`), carried by its kinds' specs: see [`crate::command`];
//! [`run_captured`] runs any of them inside a test.
//!
//! Global options: `--state-dir DIR` (default `.lab`) and `--no-color`
//! (color is used only when stdout is a terminal, `NO_COLOR` is unset and
//! `TERM` is not `dumb`).
//!
//! The state: `state.json` in `--state-dir`, or, when `LAB_STATE_POSTGRES`
//! holds a connection string (`postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=verify-full`,
//! feature `postgres`), that database ([`crate::state::postgres`]; stderr
//! names it, without the password). The age key stays `--state-dir`'s
//! `age.key` either way (`stores.rs`).
//!
//! Progress: in a pipe `apply` and `destroy` print one line per event; on a
//! terminal the same lines scroll above a live bar, and planning shows a
//! spinner while providers refresh. Both end with a summary, in a pipe too:
//! resources created, updated, replaced and deleted, operations per
//! provider instance, failures and time ([`ApplySummary`]).
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
use crate::plan::render::render;
use crate::plan::{fmt_duration, Action, Plan, PlanOptions, SavedPlanError};
use crate::provider::OpKind;
use crate::state::{FileStateStore, StateError, StateStore};
use crate::value::Attrs;
use crate::{Address, Diagnostic, Engine, EngineError, Event, Lab, Severity};

mod docs;
mod import;
mod progress;
mod session;
mod stores;
mod summary;
#[cfg(test)]
mod tests;

use session::Session;
pub use summary::{ApplySummary, ProviderOps};

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
    // stdout and stderr are not held locked: the progress bar's ticker
    // thread draws on them between the session's writes.
    let mut out = io::stdout();
    let mut err = io::stderr();
    let stdin = io::stdin();
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
    /// Color is allowed (stdout is a terminal, `NO_COLOR` is unset and
    /// `TERM` is not `dumb`).
    color: bool,
    /// stdout is a terminal that can redraw (`TERM` is not `dumb`): live
    /// progress.
    live: bool,
    /// stdin is a terminal: confirmation can be asked.
    interactive: bool,
}

impl Term {
    fn detect() -> Self {
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let stdout_tty = io::stdout().is_terminal() && !dumb;
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
    /// Draw the lab: the dependency graph, or another view a crate adds.
    ///
    /// SVG is drawn here (no Graphviz needed); DOT is for Graphviz, Mermaid
    /// renders inline on Git forges.
    Graph {
        /// Output format [default: from --out's extension (.svg, .mmd, .dot,
        /// .gv), else dot].
        #[arg(long, value_enum)]
        format: Option<GraphFormat>,
        /// Which picture: `dependencies`, or a view a crate adds (an unknown
        /// name lists the lab's views).
        #[arg(long, value_name = "NAME", default_value = crate::picture::DEPENDENCIES)]
        view: String,
        /// Write the picture into FILE instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write a Markdown note per guest, an index and the pictures into DIR.
    ///
    /// Offline: the notes are read from the code (no provider is called).
    /// Notes of guests that left the lab are removed, only when the tool
    /// wrote them (their first line is its header).
    Docs {
        /// The folder to write into (created when missing).
        #[arg(long, value_name = "DIR", default_value = crate::notes::DOCS_DIR)]
        out: PathBuf,
    },
    /// Read the systems into Rust code and state: `pub fn imported(lab, ..)`.
    ///
    /// Every provider instance the lab registers reads what it serves;
    /// the code goes into FILE, the state binds each resource to the
    /// object it was read from, so the next `plan` says "No changes".
    /// What cannot be expressed yet is listed on stderr and in FILE.
    Import {
        /// The Rust file to write.
        #[arg(long, value_name = "FILE", default_value = "src/imported.rs")]
        out: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
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
    /// An SVG drawing, laid out and drawn without Graphviz.
    Svg,
}

impl GraphFormat {
    /// The format a file name asks for by its extension, if it names one.
    fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "svg" => Some(GraphFormat::Svg),
            "mmd" | "mermaid" => Some(GraphFormat::Mermaid),
            "dot" | "gv" => Some(GraphFormat::Dot),
            _ => None,
        }
    }
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
    /// List the versions of the state the store keeps (serial, lineage, saved at, resources).
    History,
    /// Write a kept version (see `state history`) back as the newest, under a new serial.
    ///
    /// Nothing changes on the live systems; the next plan shows how they
    /// differ from the version written back. A version of another lineage
    /// is refused.
    Rollback {
        /// The serial to go back to.
        serial: u64,
    },
    /// Copy the state into a PostgreSQL database or a state directory.
    ///
    /// Moves the current state, the versions the source keeps and the
    /// journal, serial and lineage unchanged: file -> PostgreSQL
    /// (`--to postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=verify-full`)
    /// and PostgreSQL -> file (`--to DIR`, with LAB_STATE_POSTGRES set).
    /// Refused when the target holds another state of this lab or a newer
    /// serial. The source is left as it was.
    Migrate {
        /// `postgres://...` or a state directory.
        #[arg(long, value_name = "postgres://...|DIR")]
        to: String,
    },
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
    // `graph --help` names the views this lab has.
    let views: Vec<&str> = lab.pictures().iter().map(|(name, _)| name).collect();
    let view_help = format!("Which picture: {}", views.join(", "));
    command = command.mut_subcommand("graph", |graph| {
        graph.mut_arg("view", |arg| arg.help(view_help))
    });
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

    let store = match stores::CliStore::select(lab.name(), &state_dir) {
        Ok(store) => store,
        Err(e) => {
            session::print_cli_error(err, term, &e);
            return 1;
        }
    };
    if let Some(line) = store.announce() {
        let _ = writeln!(err, "{line}");
    }
    let (tx, events) = unbounded_channel();
    let engine = Engine::with_store(lab, store.shared()).on_event(move |e| {
        let _ = tx.send(e.clone());
    });
    let mut session = Session {
        engine,
        events,
        out,
        err,
        input,
        term,
        state_dir,
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
