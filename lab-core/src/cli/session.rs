//! One CLI invocation ([`Session`]): each command over the engine, and how
//! its results and errors are printed.

use indicatif::ProgressDrawTarget;

use super::progress::{live_target, op_count, with_events, Progress, RefreshSpinner};
use super::*;

/// One CLI invocation: the engine, its event stream and the terminal.
pub(super) struct Session<'a> {
    pub(super) engine: Engine,
    pub(super) events: UnboundedReceiver<Event>,
    pub(super) out: &'a mut dyn Write,
    pub(super) err: &'a mut dyn Write,
    pub(super) input: &'a mut dyn BufRead,
    pub(super) term: Term,
    /// `--state-dir`: the file state's folder, and the age key's in any case.
    pub(super) state_dir: PathBuf,
}

impl Session<'_> {
    /// Runs a command a crate added; its errors printed like the engine's.
    pub(super) async fn extension(
        &mut self,
        command: &dyn LabCommand,
        args: &clap::ArgMatches,
    ) -> Result<i32, CliError> {
        let term = self.term;
        let render = move |d: &Diagnostic| render_diagnostic(term, d);
        let mut ctx = CommandContext {
            engine: &self.engine,
            args,
            out: &mut *self.out,
            err: &mut *self.err,
            color: self.term.color,
            render: &render,
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

    pub(super) async fn execute(&mut self, command: Command) -> Result<i32, CliError> {
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
            Command::Graph { format, view, out } => self.graph(format, &view, out.as_deref()),
            Command::Docs { out } => self.docs(&out),
            Command::Import { out, force } => self.import(&out, force).await,
            Command::State { command } => match command {
                StateCommand::List => self.state_list(),
                StateCommand::Show { address } => self.state_show(&address),
                StateCommand::Rm { address } => self.state_rm(&address),
                StateCommand::History => self.state_history(),
                StateCommand::Rollback { serial } => self.state_rollback(serial),
                StateCommand::Migrate { to } => self.state_migrate(&to),
            },
            Command::Output { address, name, out } => self.output(&address, &name, out.as_deref()),
        }
    }

    /// Draws the view named `view` in `format` (else the one `to`'s
    /// extension names, else DOT), printed or into `to`.
    fn graph(
        &mut self,
        format: Option<GraphFormat>,
        view: &str,
        to: Option<&Path>,
    ) -> Result<i32, CliError> {
        let lab = self.engine.lab();
        let Some(found) = lab.pictures().get(view) else {
            let known: Vec<String> = lab
                .pictures()
                .iter()
                .map(|(name, v)| format!("`{name}` ({})", v.about()))
                .collect();
            return Err(CliError::msg(
                format!("this lab has no picture named `{view}`"),
                format!("pass --view with one of: {}", known.join(", ")),
            ));
        };
        let format = format
            .or_else(|| to.and_then(GraphFormat::from_path))
            .unwrap_or(GraphFormat::Dot);
        let picture = found.picture(lab);
        let text = match format {
            GraphFormat::Dot => picture.to_dot(),
            GraphFormat::Mermaid => picture.to_mermaid(),
            GraphFormat::Svg => picture.to_svg(),
        }
        .map_err(|e| {
            CliError::msg(
                format!("the `{view}` view drew a picture that cannot be rendered: {e}"),
                "report this as a bug in the crate that adds the view",
            )
        })?;
        match to {
            None => self.out.write_all(text.as_bytes())?,
            Some(path) => {
                std::fs::write(path, text.as_bytes()).map_err(|e| {
                    CliError::msg(
                        format!("cannot write {}: {e}", path.display()),
                        "check that the directory exists and is writable, or pass another --out FILE",
                    )
                })?;
                writeln!(self.out, "wrote {} to {}", picture, path.display())?;
            }
        }
        Ok(0)
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

    /// Plans (or plans a destroy), with a refresh spinner on a terminal.
    async fn make_plan(&mut self, destroy: bool) -> Result<Plan, CliError> {
        let mut spinner = RefreshSpinner::new(
            self.term,
            live_target(self.term, ProgressDrawTarget::stderr),
        );
        let err = &mut *self.err;
        let on_event = |e: Event| spinner.on_event(&e, err);
        let plan = if destroy {
            with_events(self.engine.plan_destroy(), &mut self.events, on_event).await
        } else {
            with_events(
                self.engine.plan(&PlanOptions::default()),
                &mut self.events,
                on_event,
            )
            .await
        };
        spinner.clear();
        Ok(plan?)
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
        let target = live_target(self.term, ProgressDrawTarget::stdout);
        writeln!(self.out)?;
        self.out.flush()?;
        let mut progress = Progress::new(self.term, op_count(plan), target);
        let out = &mut *self.out;
        let result = with_events(self.engine.apply(plan, opts), &mut self.events, |e| {
            progress.on_event(&e, out)
        })
        .await;
        progress.clear();
        let report = result?;
        super::summary::print_summary(&mut *self.out, self.term, plan, &report)?;
        Ok(if report.is_success() { 0 } else { 1 })
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
        handler_for(self.term)
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

    pub(super) fn print_error(&mut self, e: &CliError) {
        match e {
            CliError::Engine(
                inner @ (EngineError::Check(diags) | EngineError::PlanCheck(diags)),
            ) => {
                for d in diags {
                    self.print_diagnostic(d);
                }
                self.print_report(inner);
            }
            other => print_cli_error(self.err, self.term, other),
        }
    }
}

/// Prints a message or output error (before a session exists, too).
pub(super) fn print_cli_error(err: &mut dyn Write, term: Term, e: &CliError) {
    // The same rendering as `Session::print_report`.
    let d = match e {
        CliError::Io(io) => MietteDiagnostic::new(format!("cannot write the output: {io}"))
            .with_code("lab::cli::io"),
        CliError::Message { message, help } => MietteDiagnostic::new(message.clone())
            .with_code("lab::cli")
            .with_help(help.clone()),
        CliError::Engine(inner) => {
            let mut text = String::new();
            if handler_for(term).render_report(&mut text, inner).is_err() {
                text = format!("error: {inner}\n");
            }
            let _ = writeln!(err, "{}\n", text.trim_end());
            return;
        }
    };
    let mut text = String::new();
    if handler_for(term).render_report(&mut text, &d).is_err() {
        text = format!("error: {d}\n");
    }
    let _ = writeln!(err, "{}\n", text.trim_end());
}

/// The report handler for `term`: unicode, colored only on a terminal.
fn handler_for(term: Term) -> GraphicalReportHandler {
    let theme = if term.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    // Long words (a certificate fingerprint, a UPID, a path) are never
    // cut: a fingerprint split inside a hex pair cannot be copied.
    GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_break_words(false)
        .with_links(term.color)
}

/// A diagnostic as `check` prints it (its snippet at the user's line).
pub(super) fn render_diagnostic(term: Term, d: &Diagnostic) -> String {
    let report = d.report();
    let mut text = String::new();
    if handler_for(term)
        .render_report(&mut text, &*report)
        .is_err()
    {
        text = format!("{d:?}");
    }
    text
}
