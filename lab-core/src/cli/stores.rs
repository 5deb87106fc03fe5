//! Which state store a run uses, and the commands that move states
//! between versions and stores: `state history`, `state rollback SERIAL`,
//! `state migrate --to postgres://...|DIR`.
//!
//! With `LAB_STATE_POSTGRES` set (and the `postgres` feature built in), the
//! state lives in that database ([`crate::state::postgres`]) instead of
//! `--state-dir`; the age key stays in `--state-dir` (`age.key`) either
//! way. The run says on stderr which store it uses, without the password.

use super::*;
use crate::state::{migrate, rollback, MigrateError, RollbackError};

/// The store of a run.
#[derive(Clone)]
pub(super) enum CliStore {
    /// `state.json` in `--state-dir`.
    File(Arc<FileStateStore>),
    /// A PostgreSQL database (`LAB_STATE_POSTGRES`).
    #[cfg(feature = "postgres")]
    Postgres(Arc<crate::state::postgres::PostgresStateStore>),
}

impl CliStore {
    /// The store the environment asks for: PostgreSQL when
    /// `LAB_STATE_POSTGRES` is set, else the file store in `state_dir`.
    pub(super) fn select(lab: &str, state_dir: &Path) -> Result<CliStore, CliError> {
        let url = std::env::var(ENV_VAR).ok().filter(|u| !u.trim().is_empty());
        match url {
            None => Ok(CliStore::File(Arc::new(FileStateStore::new(state_dir)))),
            Some(url) => Self::postgres(&url, lab, state_dir),
        }
    }

    /// The store `target` names for `state migrate --to`: a
    /// `postgres://` URL, or a state directory.
    fn target(target: &str, lab: &str, state_dir: &Path) -> Result<CliStore, CliError> {
        if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            Self::postgres(target, lab, state_dir)
        } else {
            Ok(CliStore::File(Arc::new(
                FileStateStore::new(target).with_key_file(state_dir.join("age.key")),
            )))
        }
    }

    #[cfg(feature = "postgres")]
    fn postgres(url: &str, lab: &str, state_dir: &Path) -> Result<CliStore, CliError> {
        let store = crate::state::postgres::PostgresStateStore::connect(url.trim(), lab)?
            .with_key_file(state_dir.join("age.key"));
        Ok(CliStore::Postgres(Arc::new(store)))
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres(_url: &str, _lab: &str, _state_dir: &Path) -> Result<CliStore, CliError> {
        Err(CliError::msg(
            "a PostgreSQL state was asked for, but this build of lab has no PostgreSQL support",
            format!(
                "build with lab's feature `postgres` (it is in `full`, the default), or unset \
                 {ENV_VAR} to use the state in --state-dir"
            ),
        ))
    }

    /// The store as the engine takes it.
    pub(super) fn shared(&self) -> Arc<dyn StateStore> {
        match self {
            CliStore::File(s) => s.clone(),
            #[cfg(feature = "postgres")]
            CliStore::Postgres(s) => s.clone(),
        }
    }

    /// A key file the store created during the run (to tell the user).
    pub(super) fn take_created_key(&self) -> Option<PathBuf> {
        match self {
            CliStore::File(s) => s.take_created_key(),
            #[cfg(feature = "postgres")]
            CliStore::Postgres(s) => s.take_created_key(),
        }
    }

    /// What stderr says when the store is not the default one.
    pub(super) fn announce(&self) -> Option<String> {
        match self {
            CliStore::File(_) => None,
            #[cfg(feature = "postgres")]
            CliStore::Postgres(s) => Some(format!(
                "state: PostgreSQL {} (from {ENV_VAR}); age key {}",
                s.describe(),
                s.key_path().display()
            )),
        }
    }
}

/// The variable naming the PostgreSQL state.
pub(super) const ENV_VAR: &str = "LAB_STATE_POSTGRES";

impl Session<'_> {
    pub(super) fn state_history(&mut self) -> Result<i32, CliError> {
        let store = self.engine.store().clone();
        let versions = store.history()?;
        if versions.is_empty() {
            writeln!(
                self.err,
                "No state yet in {}: nothing has been applied.",
                store.describe()
            )?;
            return Ok(0);
        }
        writeln!(
            self.out,
            "{:>8}  {:<36}  {:<23}  {:>9}",
            "SERIAL", "LINEAGE", "SAVED AT", "RESOURCES"
        )?;
        for v in &versions {
            let line = format!(
                "{:>8}  {:<36}  {:<23}  {:>9}  {}",
                v.serial,
                v.lineage,
                v.saved_at.as_deref().unwrap_or("-"),
                v.resources,
                v.label
            );
            writeln!(self.out, "{}", line.trim_end())?;
        }
        Ok(0)
    }

    pub(super) fn state_rollback(&mut self, serial: u64) -> Result<i32, CliError> {
        let store = self.engine.store().clone();
        let _lock = store.lock("state rollback")?;
        let written = rollback(&*store, serial).map_err(|e| match e {
            RollbackError::State(e) => CliError::from(e),
            RollbackError::NoState => no_state(&*store),
            e @ RollbackError::NotKept { .. } => {
                CliError::msg(e.to_string(), "`state history` lists the versions kept")
            }
            e @ RollbackError::OtherLineage { .. } => CliError::msg(
                e.to_string(),
                "nothing was written; pick a version of this lineage from `state history`",
            ),
        })?;
        writeln!(
            self.out,
            "Rolled back to serial {serial}: written as serial {} ({} resources) in {}. Nothing \
             was changed on the live systems: run `plan` to see how they differ from it.",
            written.serial,
            written.resources.len(),
            store.describe()
        )?;
        Ok(0)
    }

    pub(super) fn state_migrate(&mut self, to: &str) -> Result<i32, CliError> {
        let source = self.engine.store().clone();
        let lab = self.engine.lab().name().to_string();
        let target = CliStore::target(to, &lab, &self.state_dir)?;
        let target_store = target.shared();
        if target_store.describe() == source.describe() {
            return Err(CliError::msg(
                format!("the state is already in {}", source.describe()),
                "give --to another database (postgres://...) or directory",
            ));
        }
        let _from = source.lock("state migrate")?;
        let _to = target_store.lock("state migrate")?;
        let moved = migrate(&*source, &*target_store).map_err(|e| match e {
            MigrateError::State(e) => CliError::from(e),
            MigrateError::NoState => no_state(&*source),
            e => CliError::msg(
                format!("{e} ({})", target_store.describe()),
                "nothing was written; migrate into an empty database or directory, or one that \
                 holds an older version of this same state",
            ),
        })?;
        let serials: Vec<String> = moved.serials.iter().map(u64::to_string).collect();
        writeln!(
            self.out,
            "Copied the state of lab `{lab}` (lineage {}, serials {}) and {} journal record(s) \
             from {} to {}.",
            moved.lineage,
            if serials.is_empty() {
                "none: already there".to_string()
            } else {
                serials.join(", ")
            },
            moved.journal_records,
            source.describe(),
            target_store.describe()
        )?;
        let next = match &target {
            CliStore::File(s) => {
                format!("unset {ENV_VAR} and pass --state-dir {}", s.dir().display())
            }
            #[cfg(feature = "postgres")]
            CliStore::Postgres(_) => format!("set {ENV_VAR} to that connection string"),
        };
        writeln!(
            self.out,
            "The source was left as it was. To use the copy, {next}; the age key stays {}.",
            self.state_dir.join("age.key").display()
        )?;
        if let Some(path) = target.take_created_key() {
            writeln!(self.err, "created age key {}: back it up", path.display())?;
        }
        Ok(0)
    }
}
