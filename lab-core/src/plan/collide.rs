//! Identity collisions: an old and a new object that would be the same
//! object to the service.
//!
//! Most objects get their identity from the service (a UUID, an allocated
//! VMID), so an old object and its replacement never meet. Some take it
//! from their attributes ([`crate::Provider::identity`]): a Proxmox volume
//! id is `storage:content/filename`, so a file renamed in the code keeps
//! its volume id, and its create and the old file's delete would race for
//! one volume (the delete may remove what the create just made). The plan
//! never leaves that to chance:
//! - a create waits for the delete of another resource's old object with
//!   its identity (the plan says so under the step, and suggests
//!   `Lab::moved` to keep the object instead);
//! - a create-before-destroy replacement whose new object would have the
//!   old one's identity cannot create first: it is refused with the
//!   reason, as are two new objects with one identity, and an order that
//!   could only be a cycle.

use std::collections::HashMap;
use std::time::Duration;

use super::compute::instance_named;
use super::{Action, Plan, PlanStep};
use crate::apply::ops::OpGraph;
use crate::diag::loc_string;
use crate::engine::EngineError;
use crate::{Address, Lab};

/// An object's identity within its provider instance: `(instance, identity)`.
type Identity = (String, String);

/// The identity of the object a step creates, and of the old object it
/// deletes.
fn identities(lab: &Lab, step: &PlanStep) -> (Option<Identity>, Option<Identity>) {
    let recorded = step.prior.as_ref().map_or("", |p| p.provider.as_str());
    let Some(instance) = instance_named(lab, &step.address, &step.provider, recorded) else {
        return (None, None);
    };
    let kind = step.address.kind();
    let of = |attrs| {
        instance
            .provider
            .identity(kind, attrs)
            .map(|id| (instance.name.clone(), id))
    };
    let new = matches!(step.action, Action::Create | Action::Replace)
        .then(|| of(&step.desired))
        .flatten();
    // A create whose prior is a state entry of an object deleted outside
    // the lab deletes nothing.
    let old = matches!(step.action, Action::Delete | Action::Replace)
        .then(|| step.prior.as_ref().and_then(|p| of(&p.attrs)))
        .flatten();
    (new, old)
}

fn refused(lab: &Lab, address: &Address, message: String) -> EngineError {
    EngineError::Refused {
        address: address.to_string(),
        declared_at: lab
            .resource(address)
            .map_or_else(|| "the state".to_string(), |s| loc_string(s.declared_at)),
        message,
    }
}

/// Orders or refuses the steps whose old and new objects share an
/// identity (see the module docs).
pub(crate) fn order_collisions(lab: &Lab, steps: &mut [PlanStep]) -> Result<(), EngineError> {
    let ids: Vec<_> = steps.iter().map(|s| identities(lab, s)).collect();
    let mut made: HashMap<&Identity, usize> = HashMap::new();
    for (i, (new, _)) in ids.iter().enumerate() {
        let Some(new) = new else { continue };
        if let Some(&first) = made.get(new) {
            return Err(refused(
                lab,
                &steps[i].address,
                format!(
                    "`{}` and `{}` would both be `{}`, which names one object; give one of them \
                     another identity (another file name, storage or VMID)",
                    steps[i].address, steps[first].address, new.1
                ),
            ));
        }
        made.insert(new, i);
    }
    let mut ordered = false;
    for (i, (new, old)) in ids.iter().enumerate() {
        let Some(new) = new else { continue };
        let step = &steps[i];
        if step.action == Action::Replace && old.as_ref() == Some(new) && step.create_before_destroy
        {
            let why = if lab
                .resource(&step.address)
                .is_some_and(|s| s.lifecycle.create_before_destroy)
            {
                "it is marked create_before_destroy"
            } else {
                "a resource that depends on it is replaced create-before-destroy"
            };
            return Err(refused(
                lab,
                &step.address,
                format!(
                    "it is replaced create-before-destroy ({why}), but the new object would be \
                     `{}` like the old one, so it cannot be made while the old one exists; drop \
                     .create_before_destroy() (the old object is deleted first), or give the new \
                     one another identity (another file name, storage or VMID)",
                    new.1
                ),
            ));
        }
        let holders: Vec<usize> = ids
            .iter()
            .enumerate()
            .filter(|(j, (_, o))| *j != i && o.as_ref() == Some(new))
            .map(|(j, _)| j)
            .collect();
        for j in holders {
            let holder = steps[j].address.clone();
            let mut note = format!(
                "created after `{holder}` is deleted: both are `{}`, one object to the service",
                new.1
            );
            if steps[j].action == Action::Delete
                && holder.kind() == steps[i].address.kind()
                && lab.resource(&holder).is_none()
            {
                note.push_str(&format!(
                    "; to keep the object instead, write lab.moved(\"{holder}\", &{}) (no delete, \
                     no create)",
                    steps[i].address.name()
                ));
            }
            let step = &mut steps[i];
            if !step.after_delete.contains(&holder) {
                step.after_delete.push(holder);
                step.notes.push(note);
                ordered = true;
            }
        }
    }
    if ordered {
        check_order(lab, steps)?;
    }
    Ok(())
}

/// Refuses an ordering that could only be a cycle (a dependent that must
/// move to the new object before the old one goes, while the new one
/// waits for the old one to go).
fn check_order(lab: &Lab, steps: &[PlanStep]) -> Result<(), EngineError> {
    let plan = Plan {
        lab: lab.name().to_string(),
        lineage: None,
        state_serial: 0,
        destroy: false,
        recovered: Vec::new(),
        moves: Vec::new(),
        steps: steps.to_vec(),
        drift: Vec::new(),
        unchanged: 0,
        estimate: Duration::ZERO,
        critical_path: Vec::new(),
        kept: Vec::new(),
    };
    if OpGraph::build(&plan, &|_, _| Duration::ZERO)
        .topo_order()
        .is_some()
    {
        return Ok(());
    }
    let step = steps
        .iter()
        .find(|s| !s.after_delete.is_empty())
        .expect("an ordering was added");
    Err(refused(
        lab,
        &step.address,
        format!(
            "its new object has the identity of `{}`'s old one, so it can only be made after \
             that one is deleted, but a resource must move from the old object to the new one \
             first; keep the object with lab.moved(\"{}\", &{}) or give the new one another \
             identity",
            step.after_delete[0],
            step.after_delete[0],
            step.address.name()
        ),
    ))
}
