//! The lab the model, kinds and checks tests share: the seed's design with
//! a primary PBS on its own box (the daily copy) and an off-site PBS (the
//! archive copy), each its own provider instance, with every PBS kind.

#![allow(dead_code)]

use lab_core::prelude::*;
use lab_core::testing::MemoryProvider;
use lab_core::value::OutputRef;
use lab_core::{Address, Attrs, ResourceSpec};
use lab_pbs::kinds;
use lab_pbs::model::*;
use lab_proxmox::model::NasPool;

/// The handles of [`full_lab`].
pub struct Full {
    pub primary: Handle<PbsServer>,
    pub offsite: Handle<PbsServer>,
    pub daily: Handle<Datastore>,
    pub scratch: Handle<Datastore>,
    pub archive: Handle<Datastore>,
    pub site: Handle<Namespace>,
    pub site_pve: Handle<Namespace>,
    pub sync_user: Handle<User>,
    pub root: Handle<User>,
    pub token: Handle<Token>,
    pub acl: Handle<Acl>,
    pub ns_acl: Handle<Acl>,
    pub remote: Handle<Remote>,
    pub archive_copy: Handle<SyncJob>,
    pub local_copy: Handle<SyncJob>,
    pub prune: Handle<PruneJob>,
    pub verify: Handle<VerifyJob>,
}

/// A provider instance that applies every PBS kind (the real provider
/// comes later; the binding rules are the engine's).
pub fn pbs_instance() -> std::sync::Arc<dyn lab_core::Provider> {
    MemoryProvider::new().with_kinds(kinds::ALL).shared()
}

/// The two-server lab, with every kind and every option.
pub fn full_lab() -> (Lab, Full) {
    let mut lab = Lab::new("backups");
    let primary_pbs = lab.register_provider_as("primary", pbs_instance());
    let offsite_pbs = lab.register_provider_as("offsite", pbs_instance());

    let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
    let remote_box = lab.add(Appliance::new("remote-box").kind(ApplianceKind::Offsite));
    let nas = lab.add(Appliance::new("nas2").kind(ApplianceKind::Nas));
    let tank = lab.add(
        NasPool::new("tank")
            .server("10.0.0.6")
            .export("/mnt/tank/pbs")
            .on(&nas),
    );

    let fp = vec!["AB"; 32].join(":");
    let primary = lab.add(
        PbsServer::instance(&primary_pbs, "10.0.0.20")
            .fingerprint(&fp)
            .on(&pbs_box),
    );
    let offsite = lab.add(
        PbsServer::instance(&offsite_pbs, "pbs.offsite.example")
            .port(8008)
            .on(&remote_box),
    );

    let daily = lab.add(
        Datastore::new(&primary, "daily", "/mnt/datastore/daily")
            .on(&pbs_box)
            .comment("the daily copy")
            .gc_schedule("daily")
            .prune_schedule("02:00")
            .retention(Retention::default().last(3).daily(7).weekly(4))
            .verify_new(true)
            .capacity("4T"),
    );
    let scratch = lab.add(Datastore::new(&primary, "scratch", "/mnt/tank").nas_pool(&tank));
    let archive = lab.add(
        Datastore::new(&offsite, "archive", "/mnt/datastore/archive")
            .on(&remote_box)
            .gc_schedule("sun 05:00"),
    );
    let site = lab.add(Namespace::new(&daily, "site"));
    let site_pve = lab.add(Namespace::new(&daily, "site/pve"));

    let sync_user = lab.add(
        User::new(&primary, "sync@pbs")
            .comment("pulls the daily copy")
            .email("admin@example.com")
            .enable(true)
            .expire(0),
    );
    let root = lab.add(User::existing(&offsite, "root@pam"));
    let token = lab.add(
        Token::new(&sync_user, "offsite")
            .comment("for the off-site pull")
            .enable(true)
            .expire(0),
    );
    let acl = lab.add(Acl::new(&token, Role::DatastoreReader, &daily).propagate(true));
    lab.add(Acl::new(&sync_user, Role::DatastoreReader, &daily));
    let ns_acl = lab.add(Acl::new(&token, Role::DatastoreAudit, &site_pve));
    lab.add(Acl::new(&root, Role::Admin, AclPath::root()));

    let remote =
        lab.add(Remote::new(&offsite, "primary", &primary, &token).comment("the primary PBS"));
    let archive_copy = lab.add(
        SyncJob::new(&archive, "archive-copy", &daily)
            .remote(&remote)
            .remote_ns(&site)
            .max_depth(2)
            .schedule("sat 03:00")
            .remove_vanished(false)
            .transfer_last(7)
            .group_filter("type:vm")
            .group_filter("exclude:group:vm/999")
            .comment("weekly archive"),
    );
    let local_copy = lab.add(SyncJob::new(&scratch, "scratch-copy", &daily).schedule("hourly"));
    let prune = lab.add(
        PruneJob::new(&daily, "keep-pve", "daily")
            .ns(&site_pve)
            .max_depth(1)
            .retention(Retention::default().last(3).daily(14).monthly(6).yearly(1))
            .comment("pve retention"),
    );
    let verify = lab.add(
        VerifyJob::new(&daily, "weekly-verify")
            .schedule("sun 04:00")
            .ns(&site)
            .max_depth(3)
            .ignore_verified(true)
            .outdated_after(30)
            .comment("re-read the chunks"),
    );
    let full = Full {
        primary,
        offsite,
        daily,
        scratch,
        archive,
        site,
        site_pve,
        sync_user,
        root,
        token,
        acl,
        ns_acl,
        remote,
        archive_copy,
        local_copy,
        prune,
        verify,
    };
    (lab, full)
}

/// The value output `r` takes once its producer is applied, as PBS would
/// give it (model-only producers give their attribute, as the engine
/// does).
pub fn output_of(lab: &Lab, r: &OutputRef) -> Value {
    let producer = lab
        .resource(&r.address)
        .expect("a reference to a resource of the lab");
    let attr = |k: &str| producer.attrs.get(k).cloned();
    match (producer.kind(), r.output.as_str()) {
        (kinds::SERVER, "fingerprint") => {
            attr("fingerprint").unwrap_or_else(|| Value::from(vec!["CD"; 32].join(":")))
        }
        (kinds::SERVER, "version") => Value::from("4.0.14"),
        (kinds::TOKEN, "tokenid") => {
            let user = resolved(lab, producer);
            Value::from(format!(
                "{}!{}",
                user["userid"].as_str().unwrap(),
                user["token-name"].as_str().unwrap()
            ))
        }
        (kinds::TOKEN, "secret") => {
            Value::from(Secret::new("5a2c8a56-8e2c-4e4e-9d4e-0d3f1f8f4a11"))
        }
        (kinds::NAMESPACE, "acl-path") => Value::from(format!(
            "/datastore/{}/{}",
            attr("store").unwrap().as_str().unwrap(),
            attr("ns").unwrap().as_str().unwrap()
        )),
        (_, out) => attr(out).unwrap_or_else(|| panic!("`{}` has no `{out}`", r.address)),
    }
}

/// `spec`'s attributes with every reference resolved as after apply.
pub fn resolved(lab: &Lab, spec: &ResourceSpec) -> Attrs {
    let mut attrs = spec.attrs.clone();
    for v in attrs.values_mut() {
        let all = v.resolve_refs(&mut |r| Some(output_of(lab, r)));
        assert!(all, "every reference of `{}` resolves", spec.address);
    }
    attrs
}

/// The resource at `h`.
pub fn spec<'a, R>(lab: &'a Lab, h: &Handle<R>) -> &'a ResourceSpec {
    lab.resource(h.address()).expect("added")
}

/// The address text of `h`.
pub fn addr<R>(h: &Handle<R>) -> String {
    h.address().to_string()
}

/// The resources of `kind`.
pub fn of_kind<'a>(lab: &'a Lab, kind: &'a str) -> impl Iterator<Item = &'a ResourceSpec> {
    lab.resources().filter(move |s| s.kind() == kind)
}

/// An address of a kind and name.
pub fn address(kind: &str, name: &str) -> Address {
    Address::new(kind, name)
}
