//! Computing a plan: check, recover, refresh in bulk, diff, then the
//! identity collisions ([`super::collide`]) and the world checks
//! ([`super::world`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::collide::order_collisions;
use super::recover::{adopt_unrecorded, recover};
use super::world::check_world;
use super::{Action, Drift, Plan, PlanMove, PlanStep};
use crate::apply::ops::OpGraph;
use crate::diag::loc_string;
use crate::engine::{Engine, EngineError};
use crate::events::Event;
use crate::graph::LabGraph;
use crate::provider::{
    FieldChange, Observed, OpContext, OpKind, Ownership, Provider, ProviderInstance, ReadRequest,
    StepReview,
};
use crate::state::State;
use crate::value::OutputRef;
use crate::Address;

/// Options of a plan.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Read every recorded resource from its provider (default). Without
    /// refresh the plan trusts the state and cannot see drift.
    pub refresh: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { refresh: true }
    }
}

pub(crate) async fn plan(engine: &Engine, opts: &PlanOptions) -> Result<Plan, EngineError> {
    let lab = &engine.lab;
    let diags = lab.check();
    if diags.iter().any(|d| d.is_blocking()) {
        return Err(EngineError::Check(diags));
    }
    for spec in lab.resources().filter(|s| s.managed) {
        if lab.provider_of(spec).is_err() {
            return Err(EngineError::NoProvider {
                kind: spec.kind().to_string(),
                address: spec.address.to_string(),
                declared_at: loc_string(spec.declared_at),
            });
        }
    }
    prepare(engine)?;
    let (mut state, existed, mut recovered) = recover(engine).await?;
    if opts.refresh {
        // Before the moves are applied in memory: the state saved here
        // must be the one on disk plus the adoptions.
        let adopted = adopt_unrecorded(engine, &mut state).await?;
        if !adopted.is_empty() {
            let _lock = engine.store.lock("recover")?;
            state.serial += 1;
            engine.store.save(&state)?;
            for r in &adopted {
                engine.emit(Event::Recovered {
                    address: r.address.clone(),
                    outcome: r.outcome.clone(),
                });
            }
            recovered.extend(adopted);
        }
    }
    let moves = apply_moves(lab, &mut state)?;
    check_bindings(lab, &state)?;
    let observed = if opts.refresh {
        refresh(engine, &state).await?
    } else {
        state
            .resources
            .iter()
            .map(|(a, r)| {
                (
                    a.clone(),
                    Some(Observed {
                        id: r.id.clone(),
                        attrs: r.attrs.clone(),
                        outputs: r.outputs.clone(),
                    }),
                )
            })
            .collect()
    };
    let order = LabGraph::build(lab)
        .creation_order()
        .expect("checks passed, so the graph has no cycle");

    let mut steps: Vec<PlanStep> = Vec::new();
    let mut drift = Vec::new();
    let mut unchanged = 0;
    // Resources whose outputs are unknown until apply (created or replaced).
    let mut fresh: HashSet<Address> = HashSet::new();
    let managed: HashSet<&Address> = lab
        .resources()
        .filter(|s| s.managed)
        .map(|s| &s.address)
        .collect();

    for address in &order {
        let spec = lab
            .resource(address)
            .expect("graph nodes are lab resources");
        if !spec.managed {
            continue;
        }
        let instance = lab.provider_of(spec).expect("checked above");
        let provider = &instance.provider;
        let mut deps: Vec<Address> = Vec::new();
        for d in &spec.deps {
            if managed.contains(&d.on) && !deps.contains(&d.on) {
                deps.push(d.on.clone());
            }
        }
        // Resolve references whose producers are not changing identity. A
        // model-only producer (an appliance, a NAS pool, an existing
        // template) is fully known from the code: its outputs are its
        // attributes.
        let mut desired = spec.attrs.clone();
        for v in desired.values_mut() {
            v.resolve_refs(&mut |r: &OutputRef| {
                if fresh.contains(&r.address) {
                    return None;
                }
                known_output(lab, &state, r)
            });
        }
        let declared_at = Some(loc_string(spec.declared_at));
        let cbd = spec.lifecycle.create_before_destroy;
        let prior = state.resources.get(address);
        let seen = observed.get(address).cloned().flatten();
        let step = match (prior, seen) {
            (None, _) => Some(PlanStep {
                address: address.clone(),
                action: Action::Create,
                changes: all_fields(&desired),
                desired,
                prior: None,
                deps,
                create_before_destroy: cbd,
                reason: None,
                declared_at,
                estimate: Duration::ZERO,
                notes: Vec::new(),
                provider: instance.name.clone(),
                after_delete: Vec::new(),
            }),
            (Some(rs), None) => {
                drift.push(Drift {
                    address: address.clone(),
                    changes: Vec::new(),
                    deleted: true,
                });
                Some(PlanStep {
                    address: address.clone(),
                    action: Action::Create,
                    changes: all_fields(&desired),
                    desired,
                    prior: Some(rs.clone()),
                    deps,
                    create_before_destroy: cbd,
                    reason: Some("deleted outside the lab".into()),
                    declared_at,
                    estimate: Duration::ZERO,
                    notes: Vec::new(),
                    provider: instance.name.clone(),
                    after_delete: Vec::new(),
                })
            }
            (Some(rs), Some(obs)) => {
                let outside = changed_outside(provider.as_ref(), spec, rs, &obs.attrs);
                if !outside.is_empty() {
                    drift.push(Drift {
                        address: address.clone(),
                        changes: outside,
                        deleted: false,
                    });
                }
                let changes = provider.diff(spec.kind(), &desired, &obs.attrs);
                if changes.is_empty() {
                    unchanged += 1;
                    None
                } else {
                    let replace = changes.iter().any(|c| c.forces_replacement);
                    if replace && spec.lifecycle.prevent_destroy {
                        return Err(EngineError::PreventDestroy {
                            address: address.to_string(),
                        });
                    }
                    let mut prior = rs.clone();
                    prior.id = obs.id.clone();
                    prior.attrs = obs.attrs.clone();
                    Some(PlanStep {
                        address: address.clone(),
                        action: if replace {
                            Action::Replace
                        } else {
                            Action::Update
                        },
                        changes,
                        desired,
                        prior: Some(prior),
                        deps,
                        create_before_destroy: cbd,
                        reason: None,
                        declared_at,
                        estimate: Duration::ZERO,
                        notes: Vec::new(),
                        provider: instance.name.clone(),
                        after_delete: Vec::new(),
                    })
                }
            }
        };
        if let Some(mut step) = step {
            let review = StepReview {
                address,
                action: step.action,
                desired: &step.desired,
                prior: step.prior.as_ref().map(|p| &p.attrs),
                prior_outputs: step.prior.as_ref().map(|p| &p.outputs),
                changes: &step.changes,
            };
            step.notes = provider
                .review(&review)
                .map_err(|message| EngineError::Refused {
                    address: address.to_string(),
                    declared_at: loc_string(spec.declared_at),
                    message,
                })?;
            if matches!(step.action, Action::Create | Action::Replace) {
                fresh.insert(address.clone());
            }
            steps.push(step);
        }
    }

    // Recorded resources no longer in the code, dependents first.
    let gone: Vec<&Address> = state
        .resources
        .keys()
        .filter(|a| !managed.contains(a))
        .collect();
    for address in reverse_dependency_order(&state, &gone) {
        let rs = &state.resources[&address];
        let exists = observed.get(&address).is_some_and(Option::is_some);
        steps.push(delete_step(
            &address,
            rs,
            if exists {
                "no longer in the code"
            } else {
                "no longer in the code (already gone; forgotten)"
            },
        ));
    }
    for (address, rs) in &state.deposed {
        steps.push(deposed_step(address, rs));
    }
    force_cbd_on_replaced_dependencies(&mut steps);
    order_collisions(lab, &mut steps)?;
    // A create whose earlier try left something only a person can fix is
    // planned (the resource is still wanted) but marked: apply does not
    // attempt it until recovery finds the way clear.
    for step in &mut steps {
        if step.action == Action::Create
            && recovered
                .iter()
                .any(|r| r.needs_attention && r.address == step.address)
        {
            step.notes.push(
                "waits for you: recovery found what an earlier try left (see above); apply \
                 does not attempt it until that is done"
                    .into(),
            );
        }
    }
    if opts.refresh {
        // Without a refresh the plan reads nothing, the world included.
        check_world(engine, &mut steps).await?;
    }
    let mut plan = finish(engine, &state, existed, steps, drift, unchanged, false)?;
    plan.recovered = recovered;
    plan.moves = moves;
    Ok(plan)
}

/// The value of an output as far as it is known before apply: a model-only
/// producer's (an appliance, an existing template) is its attribute of the
/// same name; a managed one's is what the state recorded.
pub(crate) fn known_output(lab: &crate::Lab, state: &State, r: &OutputRef) -> Option<crate::Value> {
    if let Some(producer) = lab.resource(&r.address).filter(|p| !p.managed) {
        return producer.attrs.get(&r.output).cloned();
    }
    state
        .resources
        .get(&r.address)?
        .outputs
        .get(&r.output)
        .cloned()
}

/// Renames the state entries of resources renamed in the code
/// (`Lab::moved`), in memory: apply writes them first. A move whose old
/// address is not in the state (applied already, or never created) does
/// nothing.
fn apply_moves(lab: &crate::Lab, state: &mut State) -> Result<Vec<PlanMove>, EngineError> {
    let mut moves = Vec::new();
    for m in lab.moves() {
        let Some(from) = m.from_address() else {
            continue; // `check` reports it
        };
        if !state.resources.contains_key(&from) {
            continue;
        }
        if state.resources.contains_key(&m.to) {
            return Err(EngineError::Refused {
                address: m.to.to_string(),
                declared_at: loc_string(m.loc),
                message: format!(
                    "the state holds both `{from}` and `{}`, so `{from}` cannot move there; \
                     remove the `moved` line, or forget one of them with `state rm`",
                    m.to
                ),
            });
        }
        move_entry(state, &from, &m.to);
        moves.push(PlanMove {
            from,
            to: m.to.clone(),
        });
    }
    Ok(moves)
}

/// Renames one state entry, its deposed object and every recorded edge to it.
pub(crate) fn move_entry(state: &mut State, from: &Address, to: &Address) {
    if let Some(rs) = state.resources.shift_remove(from) {
        state.resources.insert(to.clone(), rs);
    }
    if let Some(rs) = state.deposed.shift_remove(from) {
        state.deposed.insert(to.clone(), rs);
    }
    for rs in state
        .resources
        .values_mut()
        .chain(state.deposed.values_mut())
    {
        for d in rs.deps.iter_mut().filter(|d| *d == from) {
            *d = to.clone();
        }
    }
}

/// A resource stays with the provider instance that created it: moving it
/// to another instance (another cluster) is a destroy and a create the
/// user must ask for.
fn check_bindings(lab: &crate::Lab, state: &State) -> Result<(), EngineError> {
    for (address, rs) in &state.resources {
        let Some(spec) = lab.resource(address).filter(|s| s.managed) else {
            continue;
        };
        let Ok(instance) = lab.provider_of(spec) else {
            continue;
        };
        if !rs.provider.is_empty() && rs.provider != instance.name {
            return Err(EngineError::Refused {
                address: address.to_string(),
                declared_at: loc_string(spec.declared_at),
                message: format!(
                    "it was created through provider instance `{}`, but the code now binds it \
                     to `{}`; a resource cannot move between instances: remove it from the code \
                     and apply (destroying it), then add it back bound to `{}`",
                    rs.provider, instance.name, instance.name
                ),
            });
        }
    }
    Ok(())
}

/// The instance named `name` if it serves `address`'s kind (a plan step's
/// or a journal intent's instance), else [`instance_for`] with `recorded`.
pub(crate) fn instance_named<'a>(
    lab: &'a crate::Lab,
    address: &Address,
    name: &str,
    recorded: &str,
) -> Option<&'a ProviderInstance> {
    lab.providers()
        .get(name)
        .filter(|i| i.serves(address.kind()))
        .or_else(|| instance_for(lab, address, recorded))
}

/// The provider instance for `address`: the code's binding when the
/// resource is in the code, else the one the state recorded.
pub(crate) fn instance_for<'a>(
    lab: &'a crate::Lab,
    address: &Address,
    recorded: &str,
) -> Option<&'a ProviderInstance> {
    match lab.resource(address).filter(|s| s.managed) {
        Some(spec) => lab.provider_of(spec).ok(),
        None => lab.provider_for_recorded(address, recorded),
    }
}

pub(crate) async fn plan_destroy(engine: &Engine) -> Result<Plan, EngineError> {
    prepare(engine)?;
    let (state, existed, recovered) = recover(engine).await?;
    let all: Vec<&Address> = state.resources.keys().collect();
    let kept = kept_on_destroy(engine, &state);
    let mut steps = Vec::new();
    for address in reverse_dependency_order(&state, &all) {
        if kept.contains(&address) {
            continue;
        }
        let mut step = delete_step(&address, &state.resources[&address], "destroy");
        step.reason = None;
        step.declared_at = engine
            .lab
            .resource(&address)
            .map(|s| loc_string(s.declared_at));
        steps.push(step);
    }
    for (address, rs) in &state.deposed {
        steps.push(deposed_step(address, rs));
    }
    let unchanged = kept.len();
    let mut plan = finish(engine, &state, existed, steps, Vec::new(), unchanged, true)?;
    plan.recovered = recovered;
    plan.kept = kept;
    Ok(plan)
}

/// What a destroy leaves: the recorded resources the code marks
/// `prevent_destroy`, and everything they depend on (so nothing kept
/// points at a deleted object). In state order.
fn kept_on_destroy(engine: &Engine, state: &State) -> Vec<Address> {
    let mut keep: HashSet<&Address> = HashSet::new();
    let mut todo: Vec<&Address> = state
        .resources
        .keys()
        .filter(|a| {
            engine
                .lab
                .resource(a)
                .is_some_and(|s| s.lifecycle.prevent_destroy)
        })
        .collect();
    while let Some(a) = todo.pop() {
        if keep.insert(a) {
            if let Some(rs) = state.resources.get(a) {
                todo.extend(rs.deps.iter().filter(|d| state.resources.contains_key(*d)));
            }
        }
    }
    state
        .resources
        .keys()
        .filter(|a| keep.contains(a))
        .cloned()
        .collect()
}

/// The delete of an old object a create-before-destroy replacement left.
fn deposed_step(address: &Address, rs: &crate::state::ResourceState) -> PlanStep {
    let mut step = delete_step(
        address,
        rs,
        "old object left by a create-before-destroy replacement",
    );
    step.create_before_destroy = true;
    step
}

fn delete_step(address: &Address, rs: &crate::state::ResourceState, reason: &str) -> PlanStep {
    PlanStep {
        provider: rs.provider.clone(),
        address: address.clone(),
        action: Action::Delete,
        changes: Vec::new(),
        desired: Default::default(),
        prior: Some(rs.clone()),
        deps: Vec::new(),
        create_before_destroy: false,
        reason: Some(reason.to_string()),
        declared_at: None,
        estimate: Duration::ZERO,
        notes: Vec::new(),
        after_delete: Vec::new(),
    }
}

fn all_fields(desired: &crate::Attrs) -> Vec<FieldChange> {
    desired
        .iter()
        .map(|(k, v)| FieldChange {
            field: k.clone(),
            before: None,
            after: Some(v.clone()),
            forces_replacement: false,
        })
        .collect()
}

/// Orders recorded resources so that each comes before everything it
/// depended on (a destroy order), using the deps recorded in state.
fn reverse_dependency_order(state: &State, addrs: &[&Address]) -> Vec<Address> {
    let set: HashSet<&Address> = addrs.iter().copied().collect();
    let mut visited: HashSet<&Address> = HashSet::new();
    let mut post: Vec<Address> = Vec::new();
    fn visit<'a>(
        a: &'a Address,
        state: &'a State,
        set: &HashSet<&'a Address>,
        visited: &mut HashSet<&'a Address>,
        post: &mut Vec<Address>,
    ) {
        if !visited.insert(a) {
            return;
        }
        if let Some(rs) = state.resources.get(a) {
            for d in &rs.deps {
                if set.contains(d) {
                    visit(d, state, set, visited, post);
                }
            }
        }
        post.push(a.clone());
    }
    for a in addrs {
        visit(a, state, &set, &mut visited, &mut post);
    }
    post.reverse();
    post
}

/// A create-before-destroy replacement needs the things it depends on, if
/// they are replaced too, to be replaced create-before-destroy as well
/// (otherwise the old object would outlive what it needs: a cycle).
fn force_cbd_on_replaced_dependencies(steps: &mut [PlanStep]) {
    loop {
        let cbd: HashSet<Address> = steps
            .iter()
            .filter(|s| s.action == Action::Replace && s.create_before_destroy)
            .flat_map(|s| {
                s.deps
                    .iter()
                    .chain(s.prior.iter().flat_map(|p| p.deps.iter()))
                    .cloned()
            })
            .collect();
        let mut changed = false;
        for s in steps.iter_mut() {
            if s.action == Action::Replace && !s.create_before_destroy && cbd.contains(&s.address) {
                s.create_before_destroy = true;
                s.reason =
                    Some("create-before-destroy, because a dependent is replaced that way".into());
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// Estimates, critical path, and the plan value.
fn finish(
    engine: &Engine,
    state: &State,
    existed: bool,
    mut steps: Vec<PlanStep>,
    drift: Vec<Drift>,
    unchanged: usize,
    destroy: bool,
) -> Result<Plan, EngineError> {
    let mut plan = Plan {
        lab: engine.lab.name().to_string(),
        lineage: existed.then(|| state.lineage.clone()),
        state_serial: if existed { state.serial } else { 0 },
        destroy,
        recovered: Vec::new(),
        moves: Vec::new(),
        steps: Vec::new(),
        drift,
        unchanged,
        estimate: Duration::ZERO,
        critical_path: Vec::new(),
        kept: Vec::new(),
    };
    let estimate = |a: &Address, op: OpKind| estimate_op(engine, state, a, op);
    for s in steps.iter_mut().filter(|s| s.provider.is_empty()) {
        // A state written before instances were recorded.
        if let Some(i) = instance_for(&engine.lab, &s.address, "") {
            s.provider = i.name.clone();
        }
    }
    for s in &mut steps {
        let ops: &[OpKind] = match s.action {
            Action::Create => &[OpKind::Create],
            Action::Update => &[OpKind::Update],
            Action::Delete => &[OpKind::Delete],
            Action::Replace => &[OpKind::Delete, OpKind::Create],
        };
        s.estimate = ops.iter().map(|&op| estimate(&s.address, op)).sum();
    }
    plan.steps = steps;
    let graph = OpGraph::build(&plan, &estimate);
    plan.estimate = graph.critical_path_length();
    let mut path: Vec<Address> = Vec::new();
    for i in graph.critical_path() {
        let a = &graph.ops[i].address;
        if path.last() != Some(a) {
            path.push(a.clone());
        }
    }
    plan.critical_path = path;
    Ok(plan)
}

/// The measured average for this kind and operation, else the provider's estimate.
pub(crate) fn estimate_op(
    engine: &Engine,
    state: &State,
    address: &Address,
    op: OpKind,
) -> Duration {
    if let Some(ms) = state.timing(address.kind(), op) {
        return Duration::from_millis(ms);
    }
    let recorded = state
        .resources
        .get(address)
        .map_or("", |r| r.provider.as_str());
    let Some(p) = instance_for(&engine.lab, address, recorded) else {
        return Duration::from_secs(1);
    };
    let e = p.provider.schema(address.kind()).estimate;
    match op {
        OpKind::Create => e.create,
        OpKind::Update => e.update,
        OpKind::Delete => e.delete,
    }
}

/// Shows every provider instance the lab's code before anything is read
/// ([`Provider::prepare`]: simulators that take their shape from the lab).
pub(crate) fn prepare(engine: &Engine) -> Result<(), EngineError> {
    for instance in engine.lab.providers().instances() {
        instance
            .provider
            .prepare(&engine.lab, &instance.name)
            .map_err(|error| EngineError::Refresh {
                provider: instance.name.clone(),
                error,
            })?;
    }
    Ok(())
}

/// Reads every recorded resource: one bulk call per provider, providers in parallel.
async fn refresh(
    engine: &Engine,
    state: &State,
) -> Result<HashMap<Address, Option<Observed>>, EngineError> {
    let mut by_provider: Vec<(String, Arc<dyn Provider>, Vec<ReadRequest>)> = Vec::new();
    for (address, rs) in &state.resources {
        let Some(instance) = instance_for(&engine.lab, address, &rs.provider) else {
            return Err(EngineError::NoProvider {
                kind: address.kind().to_string(),
                address: address.to_string(),
                declared_at: if rs.provider.is_empty() {
                    "the state (no longer in the code)".into()
                } else {
                    format!(
                        "the state (no longer in the code; it was applied through provider instance `{}`)",
                        rs.provider
                    )
                },
            });
        };
        let req = ReadRequest {
            address: address.clone(),
            id: rs.id.clone(),
            prior: rs.attrs.clone(),
            prior_outputs: rs.outputs.clone(),
            owner: Ownership {
                lab: engine.lab.name().to_string(),
                lineage: state.lineage.clone(),
                address: address.clone(),
            },
        };
        match by_provider.iter_mut().find(|(n, _, _)| *n == instance.name) {
            Some((_, _, reqs)) => reqs.push(req),
            None => by_provider.push((instance.name.clone(), instance.provider.clone(), vec![req])),
        }
    }
    // An instance with nothing recorded yet (a fresh lab) is probed: its
    // address and credentials are checked now, not at apply.
    for spec in engine.lab.resources().filter(|s| s.managed) {
        if let Ok(instance) = engine.lab.provider_of(spec) {
            if !by_provider.iter().any(|(n, _, _)| *n == instance.name) {
                by_provider.push((instance.name.clone(), instance.provider.clone(), Vec::new()));
            }
        }
    }
    let mut tasks = JoinSet::new();
    for (name, provider, reqs) in by_provider {
        if !reqs.is_empty() {
            engine.emit(Event::Refreshing {
                provider: name.clone(),
                resources: reqs.len(),
            });
        }
        let ctx = OpContext::detached().with_rate(engine.rate_bucket(&name));
        tasks.spawn(async move {
            let result = if reqs.is_empty() {
                provider.probe(&ctx).await.map(|()| Vec::new())
            } else {
                provider.read(&ctx, &reqs).await
            };
            (name, reqs, result)
        });
    }
    let mut out = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (provider, reqs, result) = joined.map_err(|e| EngineError::Refresh {
            provider: "unknown".into(),
            error: crate::ProviderError::permanent(format!("refresh task panicked: {e}")),
        })?;
        let found = result.map_err(|error| EngineError::Refresh {
            provider: provider.clone(),
            error,
        })?;
        if found.len() != reqs.len() {
            return Err(EngineError::Refresh {
                provider,
                error: crate::ProviderError::permanent(format!(
                    "read returned {} results for {} requests",
                    found.len(),
                    reqs.len()
                )),
            });
        }
        for (req, obs) in reqs.into_iter().zip(found) {
            out.insert(req.address, obs);
        }
    }
    Ok(out)
}

/// Resolves the references left in `attrs` from recorded outputs.
pub(crate) fn resolve_from_state(attrs: &mut crate::Attrs, state: &State) -> Result<(), String> {
    let mut missing = None;
    for v in attrs.values_mut() {
        let ok = v.resolve_refs(&mut |r: &OutputRef| {
            let found = state
                .resources
                .get(&r.address)
                .and_then(|rs| rs.outputs.get(&r.output))
                .cloned();
            if found.is_none() {
                missing = Some(r.to_string());
            }
            found
        });
        if !ok {
            return Err(format!(
                "output `{}` is not available (its producer did not record it)",
                missing.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// The fields the world changed since the state recorded them (the spec's
/// fields whose observed value is not the recorded one), each shown as the
/// provider's diff shows it when that names paths inside the field (a
/// tunnel's ingress document: `config.ingress[0]` removed, not the whole
/// document twice), else whole.
fn changed_outside(
    provider: &dyn crate::provider::Provider,
    spec: &crate::model::ResourceSpec,
    recorded: &crate::state::ResourceState,
    observed: &crate::value::Attrs,
) -> Vec<FieldChange> {
    let drifted: Vec<&String> = spec
        .attrs
        .keys()
        .filter(|k| recorded.attrs.get(*k) != observed.get(*k))
        .collect();
    if drifted.is_empty() {
        return Vec::new();
    }
    // The diff that would turn the recorded object into the observed one.
    let detailed = provider.diff(spec.kind(), observed, &recorded.attrs);
    let root = |field: &str| -> String {
        field
            .split(['.', '['])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let mut out = Vec::new();
    for field in drifted {
        let inside: Vec<FieldChange> = detailed
            .iter()
            .filter(|c| c.field != *field && root(&c.field) == *field)
            .map(|c| FieldChange {
                forces_replacement: false,
                ..c.clone()
            })
            .collect();
        if inside.is_empty() {
            out.push(FieldChange {
                field: field.clone(),
                before: recorded.attrs.get(field).cloned(),
                after: observed.get(field).cloned(),
                forces_replacement: false,
            });
        } else {
            out.extend(inside);
        }
    }
    out
}
