//! Recovery, before every plan: what interrupted or failed runs left.
//!
//! Three sources of candidates, each resolved by the provider that made
//! the object ([`crate::Provider::recover`]):
//!
//! 1. **Open journal operations**: a run died between the intent and its
//!    `Done`. A create is looked up by exactly what its provider claimed
//!    before the call (the VMID, the file, the task's UPID), so a guest
//!    PVE is still cloning, with no marker yet, is waited for and adopted
//!    rather than created again. A delete is re-read; an update is left to
//!    refresh.
//! 2. **Pending creates in the state** ([`crate::state::PendingCreate`]): a
//!    create that failed after claiming an identity. The object may be half
//!    made; it is looked at again on every run until it is adopted or the
//!    create succeeds, and the next create reuses the identity.
//! 3. **Objects the state does not know** (the state is older than the
//!    world: `.prev` restored, or a state written before the crash): for
//!    every resource the code declares and an applied state lacks, objects
//!    carrying this lab's marker are adopted, never duplicated.
//!
//! Every outcome is written to the state and reported in the plan
//! ([`super::PlanRecovery`]) and as an [`Event::Recovered`]: nothing is
//! adopted, cleaned or left waiting silently.

use super::compute::{instance_for, instance_named, known_output};
use super::PlanRecovery;
use crate::engine::{Engine, EngineError};
use crate::events::Event;
use crate::provider::{
    Claim, Observed, OpContext, OpKind, Ownership, ProviderInstance, ReadRequest, RecoverCause,
    RecoverRequest, Recovered,
};
use crate::state::{open_operations, OpenOperation, PendingCreate, ResourceState, State};
use crate::value::{Attrs, OutputRef};
use crate::Address;

/// Loads the state and resolves what interrupted or failed runs left
/// behind (open journal operations, pending creates). Returns the state,
/// whether one existed, and what was done.
pub(crate) async fn recover(
    engine: &Engine,
) -> Result<(State, bool, Vec<PlanRecovery>), EngineError> {
    let store = &engine.store;
    let records = store.journal_read()?;
    let open = open_operations(&records);
    let loaded = store.load_lab(engine.lab.name())?;
    let has_pending = loaded.as_ref().is_some_and(|s| !s.pending.is_empty());
    if open.is_empty() && !has_pending {
        if !records.is_empty() {
            store.journal_clear()?;
        }
        return Ok(match loaded {
            Some(s) => (s, true, Vec::new()),
            None => (State::new(engine.lab.name()), false, Vec::new()),
        });
    }
    let _lock = store.lock("recover")?;
    let (mut state, existed) = match store.load_lab(engine.lab.name())? {
        Some(s) => (s, true),
        None => (State::new(engine.lab.name()), false),
    };
    let mut report = Vec::new();
    let mut seen: Vec<Address> = Vec::new();
    for op in &open {
        match op.action {
            OpKind::Create => {
                // A retry that crashed: the identity it reused is in the state.
                let mut claim = state
                    .pending
                    .get(&op.address)
                    .map(|p| p.claim.clone())
                    .unwrap_or_default();
                claim.merge(&op.claim);
                resolve_create(
                    engine,
                    &mut state,
                    &op.address,
                    &op.provider,
                    claim,
                    RecoverCause::Interrupted,
                    &mut report,
                )
                .await?;
                seen.push(op.address.clone());
            }
            OpKind::Delete => resolve_delete(engine, &mut state, op, &mut report).await?,
            OpKind::Update => report.push(PlanRecovery {
                address: op.address.clone(),
                outcome: "an update was interrupted; refresh compares it again".into(),
                needs_attention: false,
            }),
        }
    }
    let pending: Vec<(Address, PendingCreate)> = state
        .pending
        .iter()
        .filter(|(a, _)| !seen.contains(a))
        .map(|(a, p)| (a.clone(), p.clone()))
        .collect();
    for (address, p) in pending {
        resolve_create(
            engine,
            &mut state,
            &address,
            &p.provider,
            p.claim,
            RecoverCause::Failed,
            &mut report,
        )
        .await?;
    }
    let save = existed || !state.resources.is_empty() || !state.pending.is_empty();
    if save {
        state.serial += 1;
        store.save(&state)?;
    }
    store.journal_clear()?;
    for r in &report {
        engine.emit(Event::Recovered {
            address: r.address.clone(),
            outcome: r.outcome.clone(),
        });
    }
    Ok((state, save, report))
}

/// For every resource the code declares that an applied state does not
/// record, asks its provider for objects carrying this lab's marker
/// ([`RecoverCause::StateBehind`]) and adopts them. Returns what was
/// adopted (the caller saves the state).
pub(crate) async fn adopt_unrecorded(
    engine: &Engine,
    state: &mut State,
) -> Result<Vec<PlanRecovery>, EngineError> {
    let mut report = Vec::new();
    if state.serial == 0 {
        // A fresh lineage: nothing can carry its marker yet.
        return Ok(report);
    }
    let lab = &engine.lab;
    let missing: Vec<Address> = lab
        .resources()
        .filter(|s| s.managed)
        .map(|s| s.address.clone())
        .filter(|a| !state.resources.contains_key(a) && !state.pending.contains_key(a))
        // A renamed resource is in the state under its old address.
        .filter(|a| !lab.moves().iter().any(|m| &m.to == a))
        .collect();
    for address in missing {
        let Some(instance) = instance_for(lab, &address, "") else {
            continue;
        };
        let known_ids: Vec<String> = state
            .resources
            .iter()
            .chain(state.deposed.iter())
            .filter(|(a, r)| {
                a.kind() == address.kind() && (r.provider.is_empty() || r.provider == instance.name)
            })
            .map(|(_, r)| r.id.clone())
            .collect();
        let req = RecoverRequest {
            address: address.clone(),
            action: OpKind::Create,
            cause: RecoverCause::StateBehind,
            owner: owner(engine, state, &address),
            desired: known_desired(engine, state, &address),
            claim: Claim::new(),
            known_ids: known_ids.clone(),
        };
        let found = call(instance, &req).await?;
        let mut fresh: Vec<Observed> = found
            .found
            .into_iter()
            .filter(|o| !known_ids.contains(&o.id))
            .collect();
        let Some(obs) = fresh.pop() else { continue };
        let mut outcome = format!(
            "found {} carrying this lab's marker, though the state had no record of it (the \
             state is older than the lab's objects, e.g. restored from state.json.prev): \
             adopted, not created again",
            obs.id
        );
        extra_objects(&mut outcome, &fresh);
        record(engine, state, &address, &instance.name, obs);
        report.push(PlanRecovery {
            address,
            outcome,
            needs_attention: false,
        });
    }
    Ok(report)
}

async fn call(instance: &ProviderInstance, req: &RecoverRequest) -> Result<Recovered, EngineError> {
    instance
        .provider
        .recover(&OpContext::detached(), req)
        .await
        .map_err(|error| EngineError::Refresh {
            provider: instance.name.clone(),
            error,
        })
}

fn owner(engine: &Engine, state: &State, address: &Address) -> Ownership {
    Ownership {
        lab: engine.lab.name().to_string(),
        lineage: state.lineage.clone(),
        address: address.clone(),
    }
}

/// The resource's attributes in the code with the references the state
/// can resolve; the rest stay unknown (the provider adopts by marker and
/// the known fields).
fn known_desired(engine: &Engine, state: &State, address: &Address) -> Attrs {
    let mut desired = engine
        .lab
        .resource(address)
        .map(|s| s.attrs.clone())
        .unwrap_or_default();
    for v in desired.values_mut() {
        v.resolve_refs(&mut |r: &OutputRef| known_output(&engine.lab, state, r));
    }
    desired
}

/// Records an adopted object as the resource's state entry.
fn record(engine: &Engine, state: &mut State, address: &Address, provider: &str, obs: Observed) {
    let spec = engine.lab.resource(address);
    state.pending.shift_remove(address);
    state.resources.insert(
        address.clone(),
        ResourceState::observed(
            obs,
            spec.map(|s| s.deps.iter().map(|d| d.on.clone()).collect())
                .unwrap_or_default(),
            spec.is_some_and(|s| s.lifecycle.create_before_destroy),
            provider,
        ),
    );
}

fn extra_objects(outcome: &mut String, more: &[Observed]) {
    if !more.is_empty() {
        let ids: Vec<&str> = more.iter().map(|o| o.id.as_str()).collect();
        outcome.push_str(&format!(
            "; {} more object(s) carry its marker ({}): delete them by hand",
            ids.len(),
            ids.join(", ")
        ));
    }
}

/// Resolves one create that may have made an object: adopt it, keep its
/// identity for the next try, or report what only a person can fix.
async fn resolve_create(
    engine: &Engine,
    state: &mut State,
    address: &Address,
    provider: &str,
    claim: Claim,
    cause: RecoverCause,
    report: &mut Vec<PlanRecovery>,
) -> Result<(), EngineError> {
    let recorded = state
        .resources
        .get(address)
        .or_else(|| state.deposed.get(address))
        .map_or(provider, |r| r.provider.as_str())
        .to_string();
    let Some(instance) = instance_named(&engine.lab, address, provider, &recorded) else {
        report.push(PlanRecovery {
            address: address.clone(),
            outcome: format!(
                "an interrupted create is left unresolved: no provider for `{}` is registered; \
                 register it and run again",
                address.kind()
            ),
            needs_attention: true,
        });
        return Ok(());
    };
    let known_ids: Vec<String> = [state.resources.get(address), state.deposed.get(address)]
        .into_iter()
        .flatten()
        .map(|r| r.id.clone())
        .collect();
    let req = RecoverRequest {
        address: address.clone(),
        action: OpKind::Create,
        cause,
        owner: owner(engine, state, address),
        desired: known_desired(engine, state, address),
        claim: claim.clone(),
        known_ids: known_ids.clone(),
    };
    let r = call(instance, &req).await?;
    let mut found: Vec<Observed> = r
        .found
        .into_iter()
        .filter(|o| !known_ids.contains(&o.id))
        .collect();
    let notes = if r.notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", r.notes.join("; "))
    };
    let what = match cause {
        RecoverCause::Failed => "a failed create",
        _ => "an interrupted create",
    };
    if let Some(obs) = found.pop() {
        let mut outcome = format!("adopted object {} made by {what}{notes}", obs.id);
        if let Some(old) = state.resources.shift_remove(address) {
            // A create-before-destroy replacement: the recorded object is the old one.
            outcome.push_str(&format!(
                "; the old object {} is deposed and will be deleted",
                old.id
            ));
            state.deposed.insert(address.clone(), old);
        }
        extra_objects(&mut outcome, &found);
        record(engine, state, address, &instance.name, obs);
        report.push(PlanRecovery {
            address: address.clone(),
            outcome,
            needs_attention: false,
        });
        return Ok(());
    }
    let in_code = engine.lab.resource(address).is_some_and(|s| s.managed);
    if let Some(blocked) = r.blocked {
        state.pending.insert(
            address.clone(),
            PendingCreate {
                provider: instance.name.clone(),
                claim: r.keep.unwrap_or(claim),
                reason: blocked.clone(),
            },
        );
        report.push(PlanRecovery {
            address: address.clone(),
            outcome: format!("{what} left an object that needs you: {blocked}{notes}"),
            needs_attention: true,
        });
        return Ok(());
    }
    match r.keep.filter(|k| !k.is_empty() && in_code) {
        Some(keep) => {
            let outcome = format!(
                "{what} made nothing that can be adopted{notes}; the create is planned again \
                 with the same {}",
                keep.describe()
            );
            state.pending.insert(
                address.clone(),
                PendingCreate {
                    provider: instance.name.clone(),
                    claim: keep,
                    reason: outcome.clone(),
                },
            );
            report.push(PlanRecovery {
                address: address.clone(),
                outcome,
                needs_attention: false,
            });
        }
        None => {
            state.pending.shift_remove(address);
            if !state.resources.contains_key(address) {
                report.push(PlanRecovery {
                    address: address.clone(),
                    outcome: format!(
                        "{what} made nothing{notes}; {}",
                        if in_code {
                            "it is planned again"
                        } else {
                            "the code no longer has it, so it is forgotten"
                        }
                    ),
                    needs_attention: false,
                });
            }
        }
    }
    Ok(())
}

/// An interrupted delete: forget the object if it is gone (live or deposed).
async fn resolve_delete(
    engine: &Engine,
    state: &mut State,
    op: &OpenOperation,
    report: &mut Vec<PlanRecovery>,
) -> Result<(), EngineError> {
    let address = &op.address;
    let recorded = state
        .resources
        .get(address)
        .or_else(|| state.deposed.get(address))
        .map_or("", |r| r.provider.as_str())
        .to_string();
    let Some(instance) = instance_for(&engine.lab, address, &recorded) else {
        report.push(PlanRecovery {
            address: address.clone(),
            outcome: format!(
                "an interrupted delete is left unresolved: no provider for `{}` is registered",
                address.kind()
            ),
            needs_attention: true,
        });
        return Ok(());
    };
    for deposed in [false, true] {
        let table = if deposed {
            &state.deposed
        } else {
            &state.resources
        };
        let Some(rs) = table.get(address) else {
            continue;
        };
        let req = ReadRequest {
            address: address.clone(),
            id: rs.id.clone(),
            prior: rs.attrs.clone(),
            prior_outputs: rs.outputs.clone(),
            owner: owner(engine, state, address),
        };
        let found = instance
            .provider
            .read(&OpContext::detached(), std::slice::from_ref(&req))
            .await
            .map_err(|error| EngineError::Refresh {
                provider: instance.name.clone(),
                error,
            })?;
        if found.first().is_some_and(Option::is_none) {
            if deposed {
                state.deposed.shift_remove(address);
            } else {
                state.resources.shift_remove(address);
            }
            report.push(PlanRecovery {
                address: address.clone(),
                outcome: "the interrupted delete completed; forgotten".into(),
                needs_attention: false,
            });
        }
    }
    Ok(())
}
