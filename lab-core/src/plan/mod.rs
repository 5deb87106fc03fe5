//! Plans: what apply will do, computed from the model, the state and a
//! bulk refresh, before anything changes.
//!
//! [`Plan`] is a value: steps in dependency order (`+` create, `~` update,
//! `-/+` or `+/-` replace with the fields that force it, `-` delete), drift
//! found by refresh as its own section, an estimated duration and the
//! critical path. It renders as text ([`render`]) and JSON, and saves to a
//! file that `apply` applies exactly, refusing if the state moved since or
//! the file was changed after it was saved (an HMAC seal keyed from the
//! lab's key: [`Plan::to_sealed_json`], [`Plan::from_sealed_json`]).

mod collide;
pub(crate) mod compute;
mod recover;
pub mod render;
mod seal;
mod world;

pub use compute::PlanOptions;
pub(crate) use compute::{plan, plan_destroy};
pub use seal::SavedPlanError;

use std::fmt;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::provider::FieldChange;
use crate::state::ResourceState;
use crate::value::{attrs_from_json, attrs_to_json, Attrs, Value};
use crate::{Address, Secret};

/// What a step does.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Create a new object.
    Create,
    /// Change the object in place.
    Update,
    /// Destroy and create again (or create first, with create-before-destroy).
    Replace,
    /// Destroy the object.
    Delete,
}

impl Action {
    /// The plan symbol: `+`, `~`, `-/+` (`+/-` with create-before-destroy), `-`.
    pub fn symbol(self, create_before_destroy: bool) -> &'static str {
        match (self, create_before_destroy) {
            (Action::Create, _) => "+",
            (Action::Update, _) => "~",
            (Action::Replace, false) => "-/+",
            (Action::Replace, true) => "+/-",
            (Action::Delete, _) => "-",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        })
    }
}

/// One change the plan will make.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanStep {
    /// The resource.
    pub address: Address,
    /// What happens to it.
    pub action: Action,
    /// The fields that change (all fields for a create); on a replace, the
    /// ones that force it have `forces_replacement`.
    pub changes: Vec<FieldChange>,
    /// The desired attributes (create, update, replace); references to
    /// outputs not yet known stay `Value::Ref`.
    pub desired: Attrs,
    /// The recorded state (update, replace, delete).
    pub prior: Option<ResourceState>,
    /// What it needs: desired dependencies, or recorded ones for a delete.
    pub deps: Vec<Address>,
    /// Replace by creating first. On a delete: the object is the old one a
    /// create-before-destroy replacement left behind (deposed).
    pub create_before_destroy: bool,
    /// Why, when it is not obvious ("deleted outside the lab", "no longer in the code").
    pub reason: Option<String>,
    /// Where the user declared it (`file:line`), if still in the code.
    pub declared_at: Option<String>,
    /// Estimated duration of the step.
    pub estimate: Duration,
    /// What the provider says the step will do beyond the field changes,
    /// e.g. "cp1 reboots: machine.install.disk changes" (see
    /// [`crate::provider::Provider::review`]).
    pub notes: Vec<String>,
    /// The provider instance that applies it (for a delete: the one
    /// recorded in the state).
    pub provider: String,
    /// Resources whose old object this step's create waits to see deleted:
    /// they hold the identity the new object takes (a renamed file with
    /// the same volume id; see [`crate::Provider::identity`]).
    pub after_delete: Vec<Address>,
}

/// A state entry that moves to a new address (`Lab::moved`): no call, no
/// change to the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanMove {
    /// The address recorded in the state.
    pub from: Address,
    /// The address in the code.
    pub to: Address,
}

/// What recovery did before the plan was made: an interrupted or failed
/// create resolved (adopted, cleaned up, still pending), or an object found
/// carrying this lab's marker though the state did not record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRecovery {
    /// The resource.
    pub address: Address,
    /// What was found and done, in words.
    pub outcome: String,
    /// True if a person must act before the resource can be applied
    /// (a guest left locked by a crashed task).
    pub needs_attention: bool,
}

/// Something changed outside the lab since the last apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    /// The resource.
    pub address: Address,
    /// The fields that differ from what was recorded; empty if the object is gone.
    pub changes: Vec<FieldChange>,
    /// True if the object no longer exists.
    pub deleted: bool,
}

/// A computed plan: every change apply would make, in dependency order, with
/// the drift refresh found and what recovery already did.
///
/// Made by [`crate::Engine::plan`] (or `plan_destroy`) from the lab, the
/// state and a refresh of the world; printed by `lab plan`, saved to a file
/// with an integrity seal, and executed by [`crate::Engine::apply`], which
/// refuses a plan whose state lineage or serial has since moved.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The lab's name.
    pub lab: String,
    /// The state's lineage when planned (`None`: no state yet).
    pub lineage: Option<String>,
    /// The state's serial when planned (0: no state yet).
    pub state_serial: u64,
    /// True for a destroy plan.
    pub destroy: bool,
    /// What recovery found and did before planning (already recorded in
    /// the state; shown so nothing happens silently).
    pub recovered: Vec<PlanRecovery>,
    /// State entries renamed in the code (`Lab::moved`), applied first.
    pub moves: Vec<PlanMove>,
    /// The changes, in dependency order.
    pub steps: Vec<PlanStep>,
    /// Changes made outside the lab, found by refresh.
    pub drift: Vec<Drift>,
    /// Resources that need nothing.
    pub unchanged: usize,
    /// Estimated duration of apply (the critical path, with recorded timings).
    pub estimate: Duration,
    /// The longest chain of steps, by estimated duration.
    pub critical_path: Vec<Address>,
    /// A destroy plan's resources that stay: those marked
    /// `prevent_destroy` (a Talos secrets bundle) and what they depend on.
    /// Shown, not saved with the plan (applying changes nothing of them).
    pub kept: Vec<Address>,
}

/// The format version of saved plan files.
pub const PLAN_FILE_VERSION: u32 = 1;

impl Plan {
    /// True if applying would change anything.
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty() || !self.moves.is_empty()
    }

    /// `(to add, to change, to destroy)`, counting a replace as one add and one destroy.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for s in &self.steps {
            match s.action {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Replace => {
                    c.0 += 1;
                    c.2 += 1
                }
                Action::Delete => c.2 += 1,
            }
        }
        c
    }

    /// The step for `address`, if any.
    pub fn step(&self, address: &Address) -> Option<&PlanStep> {
        self.steps.iter().find(|s| &s.address == address)
    }

    /// JSON with secrets handed to `seal` (redact for `--json`, encrypt for
    /// `--out`).
    pub fn to_json(&self, seal: &mut dyn FnMut(&Secret) -> Json) -> Json {
        let change = |c: &FieldChange, seal: &mut dyn FnMut(&Secret) -> Json| {
            json!({
                "field": c.field,
                "before": c.before.as_ref().map(|v| v.to_json(seal)),
                "after": c.after.as_ref().map(|v| v.to_json(seal)),
                "known_after_apply": c.after.as_ref().is_some_and(Value::contains_ref),
                "forces_replacement": c.forces_replacement,
            })
        };
        let steps: Vec<Json> = self
            .steps
            .iter()
            .map(|s| {
                let mut step = json!({
                    "address": s.address,
                    "action": s.action,
                    "changes": s.changes.iter().map(|c| change(c, seal)).collect::<Vec<_>>(),
                    "desired": attrs_to_json(&s.desired, seal),
                    "prior": s.prior.as_ref().map(|p| json!({
                        "id": p.id,
                        "attrs": attrs_to_json(&p.attrs, seal),
                        "outputs": attrs_to_json(&p.outputs, seal),
                        "deps": p.deps,
                        "create_before_destroy": p.create_before_destroy,
                        "provider": p.provider,
                    })),
                    "deps": s.deps,
                    "create_before_destroy": s.create_before_destroy,
                    "reason": s.reason,
                    "declared_at": s.declared_at,
                    "notes": s.notes,
                    "estimate_ms": s.estimate.as_millis() as u64,
                    "provider": s.provider,
                });
                if !s.after_delete.is_empty() {
                    step["after_delete"] = json!(s.after_delete);
                }
                step
            })
            .collect();
        let drift: Vec<Json> = self
            .drift
            .iter()
            .map(|d| {
                json!({
                    "address": d.address,
                    "deleted": d.deleted,
                    "changes": d.changes.iter().map(|c| change(c, seal)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let (add, chg, del) = self.counts();
        json!({
            "format_version": PLAN_FILE_VERSION,
            "lab": self.lab,
            "lineage": self.lineage,
            "state_serial": self.state_serial,
            "destroy": self.destroy,
            "summary": { "add": add, "change": chg, "destroy": del, "unchanged": self.unchanged },
            "recovered": self.recovered.iter().map(|r| json!({"address": r.address, "outcome": r.outcome, "needs_attention": r.needs_attention})).collect::<Vec<_>>(),
            "moved": self.moves.iter().map(|m| json!({"from": m.from, "to": m.to})).collect::<Vec<_>>(),
            "steps": steps,
            "drift": drift,
            "estimate_ms": self.estimate.as_millis() as u64,
            "critical_path": self.critical_path,
        })
    }

    /// JSON for people and machines: secrets redacted.
    pub fn to_redacted_json(&self) -> Json {
        self.to_json(&mut |_| Json::String("(sensitive value)".into()))
    }

    /// Parses a saved plan, handing each sealed secret to `unseal`.
    pub fn from_json(
        json: &Json,
        unseal: &mut dyn FnMut(&Json) -> Result<Secret, String>,
    ) -> Result<Plan, String> {
        let version = json.get("format_version").and_then(Json::as_u64);
        if version != Some(u64::from(PLAN_FILE_VERSION)) {
            return Err(format!(
                "plan file format {version:?} is not {PLAN_FILE_VERSION}; make the plan again with this build"
            ));
        }
        fn field<T: serde::de::DeserializeOwned>(j: &Json, k: &str) -> Result<T, String> {
            serde_json::from_value(j.get(k).cloned().unwrap_or(Json::Null))
                .map_err(|e| format!("`{k}`: {e}"))
        }
        fn opt_value(
            j: Option<&Json>,
            unseal: &mut dyn FnMut(&Json) -> Result<Secret, String>,
        ) -> Result<Option<Value>, String> {
            match j {
                None | Some(Json::Null) => Ok(None),
                Some(v) => Value::from_json(v, unseal).map(Some),
            }
        }
        let changes = |j: &Json,
                       unseal: &mut dyn FnMut(&Json) -> Result<Secret, String>|
         -> Result<Vec<FieldChange>, String> {
            j.get("changes")
                .and_then(Json::as_array)
                .map(|a| a.as_slice())
                .unwrap_or(&[])
                .iter()
                .map(|c| {
                    Ok(FieldChange {
                        field: field(c, "field")?,
                        before: opt_value(c.get("before"), unseal)?,
                        after: opt_value(c.get("after"), unseal)?,
                        forces_replacement: field(c, "forces_replacement")?,
                    })
                })
                .collect()
        };
        let mut steps = Vec::new();
        for s in json
            .get("steps")
            .and_then(Json::as_array)
            .map(|a| a.as_slice())
            .unwrap_or(&[])
        {
            let prior = match s.get("prior") {
                None | Some(Json::Null) => None,
                Some(p) => Some(ResourceState {
                    id: field(p, "id")?,
                    attrs: attrs_from_json(p.get("attrs").unwrap_or(&Json::Null), unseal)?,
                    outputs: attrs_from_json(p.get("outputs").unwrap_or(&Json::Null), unseal)?,
                    deps: field(p, "deps")?,
                    create_before_destroy: field(p, "create_before_destroy")?,
                    provider: field::<Option<String>>(p, "provider")?.unwrap_or_default(),
                }),
            };
            steps.push(PlanStep {
                address: field(s, "address")?,
                action: field(s, "action")?,
                changes: changes(s, unseal)?,
                desired: attrs_from_json(s.get("desired").unwrap_or(&Json::Null), unseal)?,
                prior,
                deps: field(s, "deps")?,
                create_before_destroy: field(s, "create_before_destroy")?,
                reason: field(s, "reason")?,
                declared_at: field(s, "declared_at")?,
                notes: field::<Option<Vec<String>>>(s, "notes")?.unwrap_or_default(),
                estimate: Duration::from_millis(field(s, "estimate_ms")?),
                provider: field::<Option<String>>(s, "provider")?.unwrap_or_default(),
                after_delete: field::<Option<Vec<Address>>>(s, "after_delete")?.unwrap_or_default(),
            });
        }
        let mut moves = Vec::new();
        for m in json
            .get("moved")
            .and_then(Json::as_array)
            .map(|a| a.as_slice())
            .unwrap_or(&[])
        {
            moves.push(PlanMove {
                from: field(m, "from")?,
                to: field(m, "to")?,
            });
        }
        let mut drift = Vec::new();
        for d in json
            .get("drift")
            .and_then(Json::as_array)
            .map(|a| a.as_slice())
            .unwrap_or(&[])
        {
            drift.push(Drift {
                address: field(d, "address")?,
                deleted: field(d, "deleted")?,
                changes: changes(d, unseal)?,
            });
        }
        let unchanged = json
            .get("summary")
            .and_then(|s| s.get("unchanged"))
            .and_then(Json::as_u64)
            .unwrap_or(0) as usize;
        let mut recovered = Vec::new();
        for r in json
            .get("recovered")
            .and_then(Json::as_array)
            .map(|a| a.as_slice())
            .unwrap_or(&[])
        {
            recovered.push(PlanRecovery {
                address: field(r, "address")?,
                outcome: field(r, "outcome")?,
                needs_attention: r
                    .get("needs_attention")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
            });
        }
        Ok(Plan {
            lab: field(json, "lab")?,
            recovered,
            lineage: field(json, "lineage")?,
            state_serial: field(json, "state_serial")?,
            destroy: field(json, "destroy")?,
            moves,
            steps,
            drift,
            unchanged,
            estimate: Duration::from_millis(field(json, "estimate_ms")?),
            critical_path: field(json, "critical_path")?,
            kept: Vec::new(),
        })
    }
}

/// Formats a duration for people: `850ms`, `12s`, `3m05s`, `1h02m`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let s = d.as_secs_f64();
        if s < 10.0 {
            format!("{s:.1}s")
        } else {
            format!("{}s", d.as_secs())
        }
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h{:02}m", d.as_secs() / 3600, (d.as_secs() % 3600) / 60)
    }
}
