//! [`App::add_to`]: the lowering onto lab-proxmox and lab-net resources.
//!
//! The lab-net `Service` and the backup selection need the guest's handle,
//! so they are built here, after the guest is added. Their builders record
//! the line that called them, which would be this file; every location
//! this file leaves on a spec is moved to the user's line that asked for
//! it (the `.port(..)`, `.public(..)` or `.backup(..)` of the [`App`]), so
//! diagnostics never point inside lab-services.

use lab_core::diag::Loc;
use lab_core::{Lab, ResourceSpec, Value};
use lab_net::model::{RunsOn, Service};
use lab_proxmox::model::BackupJob;

use crate::app::{App, AppGuest, AppHandle, NetOp, Placement, APP_ANNOTATION};

impl App {
    /// Adds the service to `lab`: the guest, its lab-net `Service`, and
    /// the guest into each backup job named with [`App::backup`].
    #[track_caller]
    pub fn add_to(mut self, lab: &mut Lab) -> AppHandle {
        let name = self.name.clone();
        self.with_spec(|spec| {
            spec.annotations
                .insert(APP_ANNOTATION.into(), Value::from(name.as_str()));
        });
        let App {
            name,
            declared_at,
            guest,
            net,
            backups,
            ..
        } = self;
        let guest = match guest {
            Placement::Container(ct) => AppGuest::Container(lab.add(*ct)),
            Placement::Vm(vm) => AppGuest::Vm(lab.add(*vm)),
        };
        let service = match &guest {
            AppGuest::Container(h) => build_service(&name, h, declared_at, net),
            AppGuest::Vm(h) => build_service(&name, h, declared_at, net),
        };
        let service = lab.add(service);
        for (job, at) in backups {
            match &guest {
                AppGuest::Container(h) => BackupJob::select_guest(lab, &job, h, at),
                AppGuest::Vm(h) => BackupJob::select_guest(lab, &job, h, at),
            }
        }
        AppHandle { guest, service }
    }
}

/// The lab-net service, each of its facts located at the user's line.
fn build_service(
    name: &str,
    on: &impl RunsOn,
    declared_at: Loc,
    net: Vec<(NetOp, Loc)>,
) -> Service {
    let mut service = Service::new(name, on);
    let spec = lab_core::Resource::spec_mut(&mut service);
    spec.declared_at = declared_at;
    relocate(spec, file!(), declared_at);
    for (op, at) in net {
        service = match op {
            NetOp::Port(p) => service.port(p),
            NetOp::Admin(p) => service.admin(p),
            NetOp::Needs(other) => service.needs(&other),
            NetOp::Internal(proxy, host, port) => service.internal(&proxy, &host, port),
            NetOp::UpstreamTls => service.upstream_tls(),
            NetOp::Expose(public) => service.expose(*public),
        };
        relocate(lab_core::Resource::spec_mut(&mut service), file!(), at);
    }
    service
}

/// Moves every location in `spec` that points into `file` (the caller's
/// `file!()`: a builder called from lab-services) to the user's line `at`.
pub(crate) fn relocate(spec: &mut ResourceSpec, file: &str, at: Loc) {
    let ours = |loc: &Loc| loc.file() == file;
    for loc in spec.field_locs.values_mut() {
        if ours(loc) {
            *loc = at;
        }
    }
    for dep in &mut spec.deps {
        if ours(&dep.loc) {
            dep.loc = at;
        }
    }
    for problem in &mut spec.problems {
        if ours(&problem.loc) {
            problem.loc = at;
        }
    }
    if ours(&spec.declared_at) {
        spec.declared_at = at;
    }
}
