//! `import [--out FILE] [--force]`: the lab's systems read into Rust code
//! and state ([`crate::import`]).
//!
//! Every registered provider instance is asked to discover what it serves
//! ([`crate::Provider::discover`]); the blocks become one file with
//! `pub fn imported(lab: &mut Lab, ..)`, the managed resources' entries go
//! into the state (bound to the instance that read them), and what no
//! provider can express is printed on stderr and kept in the file as
//! comments.
//!
//! Refusals, before anything is written: FILE exists (without `--force`);
//! the state holds resources that are not the objects found at the same
//! addresses (an import never rebinds or drops what the lab already
//! manages), or creates still pending; no instance can import.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use crate::import::{render, InstanceDiscovery};
use crate::provider::OpContext;
use crate::state::{ResourceState, State};

use super::session::Session;
use super::*;

impl Session<'_> {
    /// Runs `import`: discovers, writes `out`, saves the state.
    pub(super) async fn import(&mut self, out: &Path, force: bool) -> Result<i32, CliError> {
        if out.exists() && !force {
            return Err(CliError::msg(
                format!("{} exists already", out.display()),
                "pass --force to overwrite it, or --out another file",
            ));
        }
        let lab = self.engine.lab();
        let store = self.engine.store().clone();
        let _lock = store.lock("import")?;
        let prior = store.load_lab(lab.name())?;

        let ctx = OpContext::detached();
        let mut found = Vec::new();
        let mut cannot = Vec::new();
        for inst in lab.providers().instances() {
            let discovered = inst.provider.discover(&ctx, &inst.name).await.map_err(|e| {
                CliError::msg(
                    format!("reading `{}` for the import failed: {e}", inst.name),
                    "check that the system answers (`plan` probes it) and that the credentials may read everything",
                )
            })?;
            match discovered {
                Some(discovery) => found.push(InstanceDiscovery {
                    instance: inst.name.clone(),
                    provider: inst.provider.name().to_string(),
                    discovery,
                }),
                None => cannot.push(inst.name.clone()),
            }
        }
        if found.is_empty() {
            return Err(CliError::msg(
                "no provider instance of this lab can import",
                "register the providers of the systems to import (Proxmox VE, PBS) with the lab before `import`",
            ));
        }

        let mut entries = IndexMap::new();
        for d in &found {
            for b in &d.discovery.blocks {
                if let Some(s) = &b.state {
                    entries.insert(
                        b.address.clone(),
                        ResourceState {
                            id: s.id.clone(),
                            attrs: s.attrs.clone(),
                            outputs: s.outputs.clone(),
                            deps: s.deps.clone(),
                            create_before_destroy: false,
                            provider: d.instance.clone(),
                        },
                    );
                }
            }
        }
        let mut state = prior.unwrap_or_else(|| State::new(lab.name()));
        refuse_other_objects(&state, &entries, &*store)?;

        let describe = found
            .iter()
            .map(|d| format!("`{}` ({})", d.instance, d.provider))
            .collect::<Vec<_>>()
            .join(", ");
        let text = render(&format!("Read from {describe}."), &found).map_err(|e| {
            CliError::msg(
                e,
                "two instances of one provider name their objects alike (two clusters with a \
                 node `pve1`): import them one at a time, each in a lab with only that instance \
                 registered, and rename in one file",
            )
        })?;
        write_source(out, &text)?;
        let bound = entries.len();
        for (address, entry) in entries {
            state.resources.insert(address, entry);
        }
        state.serial += 1;
        store.save(&state)?;

        let blocks: usize = found.iter().map(|d| d.discovery.blocks.len()).sum();
        let findings: Vec<_> = found
            .iter()
            .flat_map(|d| d.discovery.findings.iter().map(move |f| (&d.instance, f)))
            .collect();
        writeln!(
            self.out,
            "Imported {blocks} resources into {} ({bound} bound in the state, {} known from the code alone).",
            out.display(),
            blocks - bound
        )?;
        let params: BTreeSet<&str> = found
            .iter()
            .filter(|d| {
                d.discovery
                    .blocks
                    .iter()
                    .any(|b| b.code.contains("{provider}"))
            })
            .map(|d| d.instance.as_str())
            .collect();
        let args: Vec<String> = std::iter::once("&mut lab".to_string())
            .chain(
                found
                    .iter()
                    .filter(|d| params.contains(d.instance.as_str()))
                    .map(|d| format!("&{}", crate::import::rust_ident(&d.instance))),
            )
            .collect();
        writeln!(
            self.out,
            "Next: call `{}({})` in your lab (the handles are the ones `register_provider` returned), then `plan`: it says \"No changes\".",
            crate::import::FUNCTION,
            args.join(", ")
        )?;
        for name in &cannot {
            writeln!(
                self.err,
                "note: `{name}` cannot import yet; nothing was read from it"
            )?;
        }
        if !findings.is_empty() {
            writeln!(
                self.err,
                "Not imported ({}), listed in {} as comments:",
                findings.len(),
                out.display()
            )?;
            for (instance, f) in findings {
                writeln!(self.err, "  - {instance}: {}: {}", f.object, f.reason)?;
            }
        }
        Ok(0)
    }
}

/// Refuses a state that records something other than the objects found:
/// a resource at an address the import does not bind, or bound to another
/// object or instance; pending creates; deposed objects.
fn refuse_other_objects(
    state: &State,
    entries: &IndexMap<Address, ResourceState>,
    store: &dyn StateStore,
) -> Result<(), CliError> {
    let others: Vec<String> = state
        .resources
        .iter()
        .filter(|(a, r)| {
            entries
                .get(*a)
                .is_none_or(|e| e.id != r.id || e.provider != r.provider)
        })
        .map(|(a, r)| format!("{a} (id {})", r.id))
        .collect();
    if !others.is_empty() {
        return Err(CliError::msg(
            format!(
                "the state in {} already manages {} resource(s) that are not the objects found: {}",
                store.describe(),
                others.len(),
                others.join(", ")
            ),
            "import into a fresh lab (another --state-dir); `plan` and `apply` manage what this state holds",
        ));
    }
    if !state.pending.is_empty() || !state.deposed.is_empty() {
        return Err(CliError::msg(
            format!(
                "the state in {} has unfinished operations",
                store.describe()
            ),
            "run `plan` and `apply` to finish them, or import into a fresh lab (another --state-dir)",
        ));
    }
    Ok(())
}

/// Writes the generated source (0644: it is code to commit), through a
/// temporary file and a rename, creating its folder.
fn write_source(path: &Path, text: &str) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::MemoryProvider;
    use crate::Lab;

    #[test]
    fn a_lab_whose_providers_cannot_import_is_told_so() {
        let dir = tempfile::tempdir().unwrap();
        let mut lab = Lab::new("home");
        lab.register_provider(MemoryProvider::new().shared());
        let state = dir.path().join(".lab");
        let file = dir.path().join("src/imported.rs");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = crate::cli::run_captured(
            lab,
            [
                "lab",
                "--state-dir",
                state.to_str().unwrap(),
                "import",
                "--out",
                file.to_str().unwrap(),
            ],
            &mut out,
            &mut err,
        );
        let err = String::from_utf8(err).unwrap();
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("no provider instance of this lab can import"),
            "{err}"
        );
        assert!(!file.exists(), "nothing is written");
        assert!(!state.join("state.json").exists(), "no state is saved");
    }
}
