//! NAS replication: a pool copied onto another pool by the NAS itself.

use lab_core::{Handle, Resource, ResourceSpec};
use lab_proxmox::model::NasPool;

use super::common::{schedule_problem, SCHEDULE_HELP};
use crate::kinds;

/// A replication task of the NAS (`pbs.nas_replication`, model only): pool
/// `from` copied onto pool `to` on a schedule, as TrueNAS's or a ZFS
/// `zfs send | zfs receive` replication does. `lab` applies nothing for it
/// (the NAS runs it); the failure-domain analysis counts it as a copy of
/// the pool's own data (`NasPool::data`), restorable without any backup
/// server while the target pool's appliance survives.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::NasReplication;
/// use lab_proxmox::model::NasPool;
///
/// let mut lab = Lab::new("home");
/// let nas_a = lab.add(Appliance::new("nas-a").kind(ApplianceKind::Nas));
/// let nas_b = lab.add(Appliance::new("nas-b").kind(ApplianceKind::Nas));
/// let photos = lab.add(NasPool::new("photos").data("2T").on(&nas_a));
/// let replica = lab.add(NasPool::new("photos-replica").capacity("8T").on(&nas_b));
/// lab.add(NasReplication::new("photos", &photos, &replica).schedule("hourly"));
/// let diags = lab.check();
/// assert!(diags.iter().all(|d| !d.is_blocking()), "{diags:#?}");
/// ```
#[derive(Clone, Debug)]
pub struct NasReplication {
    spec: ResourceSpec,
}

impl NasReplication {
    /// The kind, `pbs.nas_replication`.
    pub const KIND: &'static str = kinds::NAS_REPLICATION;

    /// A replication called `name` (the name is only the lab's) of pool
    /// `from` onto pool `to`, daily until `.schedule(..)` says otherwise.
    #[track_caller]
    pub fn new(name: &str, from: &Handle<NasPool>, to: &Handle<NasPool>) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.managed = false;
        spec.check_set = Some(crate::checks::SET);
        spec.command_set = Some(crate::commands::COMMANDS);
        spec.picture_set = Some(crate::picture::PICTURES);
        spec.note_set = Some(crate::notes::NOTES);
        spec.set_ref("from", from);
        spec.set_ref("to", to);
        if from.address() == to.address() {
            spec.invalid(
                "to",
                "a pool replicated onto itself is no copy",
                "replicate onto a pool of another NAS",
            );
        }
        spec.set("schedule", "daily");
        NasReplication { spec }
    }

    /// When it runs (a calendar event, as PBS and PVE write them).
    #[track_caller]
    pub fn schedule(mut self, schedule: &str) -> Self {
        if let Some(p) = schedule_problem(schedule) {
            self.spec.invalid("schedule", p, SCHEDULE_HELP);
        }
        self.spec.set("schedule", schedule);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for NasReplication {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
