//! The plan's world checks: what the refreshed world shows the service
//! would refuse, reported at the user's lines before anything is applied.
//!
//! `check` works offline on the code; the plan has refreshed, so each
//! provider instance is shown its create, update and replace steps and
//! asked what the service would refuse ([`crate::Provider::check_plan`]):
//! a node the cluster does not have, a storage with no room for the new
//! disks. Findings are settled like `check`'s (waivers, order); a blocking
//! one stops the plan with `lab::plan_check_failed` and every finding at
//! its line; the others are shown under their steps.

use super::{Action, PlanStep};
use crate::checks::settle;
use crate::engine::{Engine, EngineError};
use crate::provider::{OpContext, PlanCheck};
use crate::Diagnostic;

/// Runs every instance's [`crate::Provider::check_plan`] on its steps, one
/// instance after the other (each reads a handful of listings).
pub(crate) async fn check_world(
    engine: &Engine,
    steps: &mut [PlanStep],
) -> Result<(), EngineError> {
    let lab = &engine.lab;
    let mut diags: Vec<Diagnostic> = Vec::new();
    for instance in lab.providers().instances() {
        let mine: Vec<&PlanStep> = steps
            .iter()
            .filter(|s| {
                s.provider == instance.name
                    && s.action != Action::Delete
                    && lab.resource(&s.address).is_some()
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let ctx = OpContext::detached().with_rate(engine.rate_bucket(&instance.name));
        let check = PlanCheck {
            instance: &instance.name,
            lab,
            steps: mine,
        };
        let found = instance
            .provider
            .check_plan(&ctx, &check)
            .await
            .map_err(|error| EngineError::Refresh {
                provider: instance.name.clone(),
                error,
            })?;
        diags.extend(found);
    }
    settle(lab, &mut diags);
    if diags.iter().any(Diagnostic::is_blocking) {
        return Err(EngineError::PlanCheck(diags));
    }
    for d in diags {
        let Some(step) = d
            .resource
            .as_ref()
            .and_then(|a| steps.iter_mut().find(|s| &s.address == a))
        else {
            continue;
        };
        let mut note = format!("{}[{}]: {}", d.severity, d.code, d.message);
        if let Some(reason) = &d.waived {
            note.push_str(&format!(" (waived: {reason})"));
        }
        step.notes.push(note);
    }
    Ok(())
}
