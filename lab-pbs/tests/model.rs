//! The builders lower to the documented attributes (the field tables of
//! `lab_pbs::kinds`), every spec reads into its kind as `check` reads it,
//! edges and lines are where the user wrote them, and a lab with two PBS
//! servers binds every resource to its server's provider instance.

mod common;

use std::collections::BTreeSet;

use common::*;
use lab_core::prelude::*;
use lab_core::value::validate;
use lab_core::{Lab, ResourceSpec};
use lab_pbs::kinds::{self, *};
use lab_pbs::model::*;

fn keys(spec: &ResourceSpec) -> BTreeSet<&str> {
    spec.attrs.keys().map(String::as_str).collect()
}

fn set<'a>(list: &[&'a str]) -> BTreeSet<&'a str> {
    list.iter().copied().collect()
}

#[test]
fn builders_lower_to_the_documented_attributes() {
    let (lab, f) = full_lab();
    let s = |h: &lab_core::Address| lab.resource(h).unwrap();
    assert_eq!(
        keys(s(f.primary.address())),
        set(&["host", "port", "fingerprint", "appliance"])
    );
    assert_eq!(
        keys(s(f.offsite.address())),
        set(&["host", "port", "appliance"])
    );
    assert_eq!(s(f.offsite.address()).attrs["port"], Value::from(8008));
    assert_eq!(
        keys(s(f.daily.address())),
        set(&[
            "server",
            "name",
            "path",
            "appliance",
            "comment",
            "gc-schedule",
            "prune-schedule",
            "keep-last",
            "keep-daily",
            "keep-weekly",
            "verify-new",
            "capacity-gb",
        ])
    );
    assert_eq!(
        keys(s(f.scratch.address())),
        set(&["server", "name", "path", "pool"])
    );
    assert_eq!(
        s(f.scratch.address()).attrs["pool"],
        Value::from("proxmox.nas-pool.tank")
    );
    assert_eq!(
        keys(s(f.site_pve.address())),
        set(&["server", "datastore", "store", "ns"])
    );
    assert_eq!(
        keys(s(f.sync_user.address())),
        set(&["server", "userid", "comment", "email", "enable", "expire"])
    );
    assert_eq!(
        keys(s(f.token.address())),
        set(&[
            "server",
            "user",
            "userid",
            "token-name",
            "comment",
            "enable",
            "expire"
        ])
    );
    assert_eq!(
        keys(s(f.acl.address())),
        set(&[
            "server",
            "grantee",
            "auth-id",
            "role",
            "target",
            "path",
            "propagate"
        ])
    );
    assert_eq!(
        keys(s(f.remote.address())),
        set(&[
            "server",
            "name",
            "target",
            "host",
            "port",
            "fingerprint",
            "token",
            "auth-id",
            "password",
            "comment",
        ])
    );
    assert_eq!(
        keys(s(f.archive_copy.address())),
        set(&[
            "server",
            "id",
            "datastore",
            "store",
            "source",
            "remote-store",
            "remote",
            "remote-ns",
            "max-depth",
            "schedule",
            "remove-vanished",
            "transfer-last",
            "group-filter",
            "comment",
        ])
    );
    assert_eq!(
        keys(s(f.prune.address())),
        set(&[
            "server",
            "id",
            "datastore",
            "store",
            "schedule",
            "ns",
            "max-depth",
            "keep-last",
            "keep-daily",
            "keep-monthly",
            "keep-yearly",
            "comment",
        ])
    );
    assert_eq!(
        keys(s(f.verify.address())),
        set(&[
            "server",
            "id",
            "datastore",
            "store",
            "schedule",
            "ns",
            "max-depth",
            "ignore-verified",
            "outdated-after",
            "comment",
        ])
    );
    // Values taken from other resources are references to their outputs.
    let remote = s(f.remote.address());
    for (field, producer, output) in [
        ("host", f.primary.address(), "host"),
        ("port", f.primary.address(), "port"),
        ("fingerprint", f.primary.address(), "fingerprint"),
        ("auth-id", f.token.address(), "tokenid"),
        ("password", f.token.address(), "secret"),
    ] {
        match &remote.attrs[field] {
            Value::Ref(r) => {
                assert_eq!(
                    (&r.address, r.output.as_str()),
                    (producer, output),
                    "{field}"
                )
            }
            other => panic!("{field} = {other:?}"),
        }
    }
    match &s(f.ns_acl.address()).attrs["path"] {
        Value::Ref(r) => assert_eq!(
            (&r.address, r.output.as_str()),
            (f.site_pve.address(), "acl-path")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_spec_reads_into_its_kind() {
    // As `check` reads them: references stand for any value.
    let (lab, _) = full_lab();
    let mut kinds_seen = BTreeSet::new();
    for spec in lab.resources().filter(|s| s.kind().starts_with("pbs.")) {
        let r = match spec.kind() {
            kinds::SERVER => validate::<ServerSpec>(&spec.attrs),
            kinds::DATASTORE => validate::<DatastoreSpec>(&spec.attrs),
            kinds::NAMESPACE => validate::<NamespaceSpec>(&spec.attrs),
            kinds::USER => validate::<UserSpec>(&spec.attrs),
            kinds::TOKEN => validate::<TokenSpec>(&spec.attrs),
            kinds::ACL => validate::<AclSpec>(&spec.attrs),
            kinds::REMOTE => validate::<RemoteSpec>(&spec.attrs),
            kinds::SYNC_JOB => validate::<SyncJobSpec>(&spec.attrs),
            kinds::PRUNE_JOB => validate::<PruneJobSpec>(&spec.attrs),
            kinds::VERIFY_JOB => validate::<VerifyJobSpec>(&spec.attrs),
            other => panic!("unknown kind {other}"),
        };
        r.unwrap_or_else(|e| panic!("{}: {e}", spec.address));
        kinds_seen.insert(spec.kind());
    }
    assert_eq!(kinds_seen, kinds::ALL.iter().copied().collect());
}

#[test]
fn an_unknown_attribute_is_refused_by_the_kind() {
    let (lab, f) = full_lab();
    let mut attrs = lab.resource(f.daily.address()).unwrap().attrs.clone();
    attrs.insert("gc_schedule".into(), Value::from("daily"));
    let e = validate::<DatastoreSpec>(&attrs).unwrap_err();
    assert_eq!(e.field(), Some("gc_schedule"));
}

#[test]
fn two_servers_bind_each_resource_to_its_instance() {
    let (lab, f) = full_lab();
    let diags = lab.check();
    assert!(
        diags.iter().all(|d| d.code != "core::provider-binding"),
        "{diags:#?}"
    );
    let instance = |a: &lab_core::Address| {
        lab.provider_of(lab.resource(a).unwrap())
            .unwrap()
            .name
            .clone()
    };
    for a in [
        f.primary.address(),
        f.daily.address(),
        f.scratch.address(),
        f.site.address(),
        f.sync_user.address(),
        f.token.address(),
        f.acl.address(),
        f.local_copy.address(),
        f.prune.address(),
        f.verify.address(),
    ] {
        assert_eq!(instance(a), "primary", "{a}");
    }
    for a in [
        f.offsite.address(),
        f.archive.address(),
        f.remote.address(),
        f.archive_copy.address(),
    ] {
        assert_eq!(instance(a), "offsite", "{a}");
    }
    // The existing root@pam is model only: never applied.
    assert!(!lab.resource(f.root.address()).unwrap().managed);
}

#[test]
fn a_server_without_its_instance_is_reported_where_it_is_used() {
    let mut lab = Lab::new("one-missing");
    lab.register_provider_as("primary", pbs_instance());
    lab.register_provider_as("other", pbs_instance());
    let primary = lab.add(PbsServer::new("primary", "10.0.0.20"));
    let offsite = lab.add(PbsServer::new("offsite", "10.0.1.20"));
    lab.add(Datastore::new(&primary, "daily", "/mnt/daily"));
    let line = line!() + 1;
    lab.add(Datastore::new(&offsite, "archive", "/mnt/archive"));
    let bad: Vec<_> = lab
        .check()
        .into_iter()
        .filter(|d| d.code == "core::provider-binding")
        .collect();
    // The datastore of `offsite` names an instance the lab lacks; both
    // servers, declared with `new` rather than `instance`, are ambiguous.
    let store = bad
        .iter()
        .find(|d| d.message.contains("offsite--archive"))
        .expect("the off-site datastore is reported");
    assert!(store.message.contains("`offsite`"), "{store:#?}");
    assert_eq!(store.labels[0].loc.line(), line);
    assert_eq!(bad.len(), 3, "{bad:#?}");
}

#[test]
fn edges_follow_the_handles() {
    let (lab, f) = full_lab();
    let deps = |a: &lab_core::Address| -> BTreeSet<(String, String)> {
        lab.resource(a)
            .unwrap()
            .deps
            .iter()
            .map(|d| (d.on.to_string(), d.via.clone()))
            .collect()
    };
    let has = |a: &lab_core::Address, on: &str, via: &str| {
        assert!(
            deps(a).contains(&(on.to_string(), via.to_string())),
            "{a} -> {on} via {via}: {:?}",
            deps(a)
        )
    };
    has(f.daily.address(), &addr(&f.primary), "server");
    has(f.site_pve.address(), &addr(&f.site), "parent");
    has(f.site_pve.address(), &addr(&f.daily), "datastore");
    has(f.token.address(), &addr(&f.sync_user), "userid");
    has(f.acl.address(), &addr(&f.token), "auth-id");
    has(f.ns_acl.address(), &addr(&f.site_pve), "path");
    has(f.remote.address(), &addr(&f.offsite), "server");
    has(f.remote.address(), &addr(&f.primary), "fingerprint");
    has(f.remote.address(), &addr(&f.token), "password");
    has(f.archive_copy.address(), &addr(&f.remote), "remote");
    has(f.archive_copy.address(), &addr(&f.daily), "source");
    has(f.archive_copy.address(), &addr(&f.site), "remote-ns");
    has(f.prune.address(), &addr(&f.site_pve), "ns");
    // The graph has an order: no cycle.
    assert!(lab_core::graph::LabGraph::build(&lab)
        .creation_order()
        .is_some());
}

#[test]
fn fields_remember_the_users_lines() {
    let mut lab = Lab::new("lines");
    let server = lab.add(PbsServer::new("primary", "10.0.0.20"));
    let store = lab.add(Datastore::new(&server, "daily", "/mnt/daily"));
    let job = SyncJob::new(&store, "copy", &store);
    let line = line!() + 1;
    let job = job.schedule("daily");
    let retention_line = line!() + 1;
    let prune = PruneJob::new(&store, "p", "daily").retention(Retention::default().last(1));
    let job = lab.add(job);
    let prune = lab.add(prune);
    assert_eq!(spec(&lab, &job).loc_of("schedule").line(), line);
    assert_eq!(
        spec(&lab, &prune).loc_of("keep-last").line(),
        retention_line
    );
    assert_eq!(
        spec(&lab, &prune).loc_of("retention").line(),
        retention_line
    );
}

#[test]
fn retention_replaces_the_earlier_one() {
    let mut lab = Lab::new("retention");
    let server = lab.add(PbsServer::new("primary", "10.0.0.20"));
    let store = lab.add(
        Datastore::new(&server, "daily", "/mnt/daily")
            .retention(Retention::default().last(3).daily(7))
            .retention(Retention::default().weekly(4)),
    );
    let s = spec(&lab, &store);
    assert!(!s.attrs.contains_key("keep-last"));
    assert_eq!(s.attrs["keep-weekly"], Value::from(4));
    let bad = Datastore::new(&server, "xyz", "/mnt/xyz").retention(Retention::default().daily(0));
    assert_eq!(bad.spec().problems.len(), 1);
    assert_eq!(bad.spec().problems[0].field, "keep-daily");
}

#[test]
fn next_runs_for_the_plan() {
    use time::{Date, Month, Time};
    let at = Date::from_calendar_date(2026, Month::December, 5)
        .unwrap()
        .with_time(Time::from_hms(4, 0, 0).unwrap())
        .assume_utc();
    // Saturday 04:00: the weekly archive copy is next Saturday.
    assert_eq!(
        next_runs("sat 03:00", at, 3).unwrap(),
        ["2026-12-12 03:00", "2026-12-19 03:00", "2026-12-26 03:00"]
    );
    assert_eq!(
        describe_schedule("*:0/30", at),
        "`*:0/30`: next 2026-12-05 04:30, 2026-12-05 05:00, 2026-12-05 05:30"
    );
    assert!(describe_schedule("sat 3", at).contains("not a calendar event"));
    // Every schedule of the seed lab parses.
    let (lab, _) = full_lab();
    for s in lab.resources() {
        for key in ["schedule", "gc-schedule", "prune-schedule"] {
            if let Some(v) = s.attrs.get(key).and_then(Value::as_str) {
                assert_eq!(next_runs(v, at, 3).unwrap().len(), 3, "{}: {v}", s.address);
            }
        }
    }
}

#[test]
fn failure_domains_are_followed() {
    let (lab, f) = full_lab();
    let of = |a: &lab_core::Address| {
        lab_pbs::checks::appliance_of(&lab, lab.resource(a).unwrap()).map(|a| a.to_string())
    };
    assert_eq!(of(f.daily.address()).as_deref(), Some("appliance.pbs-box"));
    assert_eq!(of(f.scratch.address()).as_deref(), Some("appliance.nas2"));
    assert_eq!(
        of(f.archive.address()).as_deref(),
        Some("appliance.remote-box")
    );
    assert_eq!(
        of(f.offsite.address()).as_deref(),
        Some("appliance.remote-box")
    );
    let on_primary: Vec<_> = lab_pbs::checks::datastores_of(&lab, "pbs.server.primary")
        .map(|s| s.name().to_string())
        .collect();
    assert_eq!(on_primary, ["primary--daily", "primary--scratch"]);
}

mod names {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the names, a resource's binding and `server` attribute
        /// are its server's, and a namespace's parent edge is the address of
        /// the parent namespace as its own builder makes it.
        #[test]
        fn the_server_survives_every_address(
            server in "[a-z][a-z0-9_-]{0,23}",
            store in "[A-Za-z0-9_][A-Za-z0-9_-]{2,31}",
            ns in proptest::collection::vec("[A-Za-z0-9_][A-Za-z0-9._-]{0,31}", 2..=7),
            user in "[a-z][a-z0-9.@_-]{0,30}",
        ) {
            prop_assume!(!server.contains("--") && !server.ends_with('-'));
            let mut lab = Lab::new("names");
            let s = PbsServer::new(&server, "10.0.0.20");
            prop_assert!(s.spec().problems.is_empty());
            let s = lab.add(s);
            let d = lab.add(Datastore::new(&s, &store, "/mnt/x"));
            let path = ns.join("/");
            let parent = lab.add(Namespace::new(&d, &ns[..ns.len() - 1].join("/")));
            let child = lab.add(Namespace::new(&d, &path));
            let u = lab.add(User::new(&s, &format!("{user}@pbs")));
            let t = lab.add(Token::new(&u, "token"));
            let acl = lab.add(Acl::new(&t, Role::DatastoreReader, &child));
            for a in [d.address(), parent.address(), child.address(), u.address(), t.address(), acl.address()] {
                let spec = lab.resource(a).unwrap();
                prop_assert_eq!(&spec.provider.as_ref().unwrap().name, &server);
                let want = format!("pbs.server.{server}");
                prop_assert_eq!(spec.attrs["server"].as_str(), Some(want.as_str()));
                prop_assert!(lab_core::address::name_problem(a.name()).is_none(), "{}", a);
            }
            let child_spec = lab.resource(child.address()).unwrap();
            prop_assert!(child_spec.deps.iter().any(|e| &e.on == parent.address() && e.via == "parent"));
            prop_assert_eq!(lab.resource(d.address()).unwrap().attrs["name"].as_str(), Some(store.as_str()));
        }
    }
}
