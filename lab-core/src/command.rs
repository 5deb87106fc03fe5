//! Commands a provider crate adds to the CLI.
//!
//! `lab::cli::run` knows the engine's own commands (`check`, `plan`,
//! `apply`, ...). Some commands belong to a domain instead: lab-pbs's
//! `failures` (the failure-domain report) and `restore-drill` need its
//! analysis and its clients, which lab-core must not know. A provider crate
//! therefore puts a [`CommandSet`] on the specs its builders make, exactly as
//! it puts its [`CheckSet`](crate::CheckSet) there: `Lab::add` registers the
//! set the first time one of its kinds is added, so a lab with backups gets
//! `failures` without any line in `main.rs`. A user can add their own with
//! [`Lab::register_command`](crate::Lab::register_command).
//!
//! A command is a [`LabCommand`]: a clap definition and an async `run` that
//! gets the engine (the lab, its providers, the state store), the parsed
//! arguments and the terminal's streams.
//!
//! ```
//! use std::sync::Arc;
//! use lab_core::command::{CommandContext, CommandError, LabCommand};
//! use lab_core::prelude::*;
//!
//! struct Count;
//!
//! #[async_trait::async_trait(?Send)]
//! impl LabCommand for Count {
//!     fn command(&self) -> clap::Command {
//!         clap::Command::new("count").about("Print how many resources the lab declares.")
//!     }
//!     async fn run(&self, ctx: &mut CommandContext<'_>) -> Result<i32, CommandError> {
//!         writeln!(ctx.out, "{}", ctx.engine.lab().resources().count())?;
//!         Ok(0)
//!     }
//! }
//!
//! let mut lab = Lab::new("home");
//! lab.add(Appliance::new("nas"));
//! lab.register_command(Arc::new(Count));
//! let (mut out, mut err) = (Vec::new(), Vec::new());
//! let code = lab_core::cli::run_captured(lab, ["lab", "count"], &mut out, &mut err);
//! assert_eq!((code, String::from_utf8(out).unwrap()), (0, "1\n".to_string()));
//! ```

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use crate::{Diagnostic, Engine, EngineError};

/// A crate's CLI commands, named. Its builders put it on every spec they
/// make ([`crate::ResourceSpec::command_set`]); `Lab::add` registers it once.
#[derive(Clone, Copy)]
pub struct CommandSet {
    /// The set's name (the crate's name, e.g. `pbs`).
    pub name: &'static str,
    /// Its commands.
    pub commands: fn() -> Vec<Arc<dyn LabCommand>>,
}

impl fmt::Debug for CommandSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandSet({})", self.name)
    }
}

/// One CLI command beside the engine's own.
///
/// Its name is the name of [`LabCommand::command`]; a name the engine uses
/// already (`plan`, `apply`, ...) is not added (the engine's command wins).
#[async_trait::async_trait(?Send)]
pub trait LabCommand: Send + Sync {
    /// The clap definition: name, about, arguments.
    fn command(&self) -> clap::Command;

    /// Runs the command; the result is the process's exit code.
    async fn run(&self, ctx: &mut CommandContext<'_>) -> Result<i32, CommandError>;
}

/// What a [`LabCommand`] runs with.
pub struct CommandContext<'a> {
    /// The engine: the lab, its providers and the state store.
    pub engine: &'a Engine,
    /// The command's parsed arguments.
    pub args: &'a clap::ArgMatches,
    /// Standard output (the command's result).
    pub out: &'a mut dyn Write,
    /// Standard error (progress and notes).
    pub err: &'a mut dyn Write,
    /// Color is allowed on `out`.
    pub color: bool,
    /// Renders a diagnostic as `check` prints it (at the user's line,
    /// with its snippet), for findings a command shows without failing.
    pub render: &'a dyn Fn(&Diagnostic) -> String,
}

/// Why a [`LabCommand`] failed. The CLI prints it as the engine's own
/// errors are printed (diagnostics at the user's lines, then the message).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Findings at the user's lines (e.g. a failure-domain error).
    #[error("{} problem(s) found", .0.len())]
    Diagnostics(Vec<Diagnostic>),
    /// The engine refused or failed (a check error, a state problem).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Io(#[from] io::Error),
    /// Anything else: what happened and what to do next.
    #[error("{message}")]
    Message {
        /// What happened.
        message: String,
        /// What to do next.
        help: String,
    },
}

impl CommandError {
    /// A message with a help line saying what to do next.
    pub fn msg(message: impl Into<String>, help: impl Into<String>) -> Self {
        CommandError::Message {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// The commands a lab adds to the CLI, by name.
#[derive(Clone, Default)]
pub struct CommandRegistry {
    commands: indexmap::IndexMap<String, Arc<dyn LabCommand>>,
    sets: Vec<&'static str>,
}

impl fmt::Debug for CommandRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.commands.keys()).finish()
    }
}

impl CommandRegistry {
    /// Adds a command; one with the same name is replaced.
    pub fn register(&mut self, command: Arc<dyn LabCommand>) {
        let name = command.command().get_name().to_string();
        self.commands.insert(name, command);
    }

    /// Adds the commands of `set` (each unless its name is taken), once per
    /// set name.
    pub fn register_set(&mut self, set: CommandSet) {
        if self.sets.contains(&set.name) {
            return;
        }
        self.sets.push(set.name);
        for c in (set.commands)() {
            let name = c.command().get_name().to_string();
            self.commands.entry(name).or_insert(c);
        }
    }

    /// The command named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn LabCommand>> {
        self.commands.get(name)
    }

    /// All commands, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<dyn LabCommand>)> {
        self.commands.iter().map(|(k, v)| (k.as_str(), v))
    }
}
