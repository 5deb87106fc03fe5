//! Each PBS check fires on its bad case with its first label at the user's
//! line, and stays quiet on the seed's good design (`common::full_lab`).

mod common;

use common::*;
use lab_core::prelude::*;
use lab_core::{Diagnostic, Lab};
use lab_pbs::checks;
use lab_pbs::model::*;

/// The findings of `code`.
fn found(lab: &Lab, code: &str) -> Vec<Diagnostic> {
    lab.check().into_iter().filter(|d| d.code == code).collect()
}

/// The one finding of `code`, whose first label is at `line` of this file.
#[track_caller]
fn one_at(lab: &Lab, code: &str, line: u32) -> Diagnostic {
    let mut all = found(lab, code);
    assert_eq!(all.len(), 1, "one {code}, got {all:#?}");
    let d = all.remove(0);
    let first = d.labels.first().expect("a label");
    assert!(first.loc.file().ends_with("checks.rs"), "{d:#?}");
    assert_eq!(first.loc.line(), line, "{code} at the user's line: {d:#?}");
    assert!(d.help.is_some(), "{code} says what to do");
    d
}

/// A lab with one server on its box and one datastore on it.
fn base() -> (Lab, Handle<PbsServer>, Handle<Datastore>, Handle<Appliance>) {
    let mut lab = Lab::new("checks");
    let pbs_box = lab.add(Appliance::new("pbs-box"));
    let primary = lab.add(PbsServer::new("primary", "10.0.0.20").on(&pbs_box));
    let daily = lab.add(Datastore::new(&primary, "daily", "/mnt/daily").on(&pbs_box));
    (lab, primary, daily, pbs_box)
}

#[test]
fn the_seed_design_is_quiet() {
    let (lab, _) = full_lab();
    let diags = lab.check();
    let pbs: Vec<_> = diags
        .iter()
        .filter(|d| d.code.starts_with("pbs::"))
        .collect();
    assert!(pbs.is_empty(), "{pbs:#?}");
    assert!(diags.iter().all(|d| !d.is_blocking()), "{diags:#?}");
    // Every PBS check is registered by adding a PBS resource.
    for c in checks::all() {
        assert!(lab.checks().contains(c.code), "{}", c.code);
    }
}

#[test]
fn a_sync_job_onto_its_own_source() {
    let (mut lab, _, daily, _) = base();
    let line = line!() + 1;
    lab.add(SyncJob::new(&daily, "loop", &daily));
    let d = one_at(&lab, checks::SYNC_SAME_DATASTORE, line);
    assert!(d.is_blocking());
}

#[test]
fn a_local_sync_from_another_server() {
    let (mut lab, _, daily, _) = base();
    let remote_box = lab.add(Appliance::new("remote-box"));
    let offsite = lab.add(PbsServer::new("offsite", "10.0.1.20").on(&remote_box));
    let archive = lab.add(Datastore::new(&offsite, "archive", "/mnt/a").on(&remote_box));
    let line = line!() + 1;
    lab.add(SyncJob::new(&archive, "copy", &daily));
    one_at(&lab, checks::SYNC_SOURCE, line);
}

#[test]
fn a_sync_through_a_remote_of_the_wrong_server() {
    let (mut lab, primary, daily, _) = base();
    let remote_box = lab.add(Appliance::new("remote-box"));
    let offsite = lab.add(PbsServer::new("offsite", "10.0.1.20").on(&remote_box));
    let third = lab.add(PbsServer::new("third", "10.0.2.20").on(&remote_box));
    let archive = lab.add(Datastore::new(&offsite, "archive", "/mnt/a").on(&remote_box));
    let third_user = lab.add(User::new(&third, "sync@pbs"));
    let third_token = lab.add(Token::new(&third_user, "t"));
    // A remote of the off-site server, but pointing at `third`.
    let to_third = lab.add(Remote::new(&offsite, "third", &third, &third_token));
    let line = line!() + 1;
    lab.add(SyncJob::new(&archive, "copy", &daily).remote(&to_third));
    one_at(&lab, checks::SYNC_SOURCE, line);

    // The good case: a remote of the off-site server pointing at the primary.
    let sync = lab.add(User::new(&primary, "pull@pbs"));
    let token = lab.add(Token::new(&sync, "offsite"));
    lab.add(Acl::new(&token, Role::DatastoreReader, &daily));
    lab.add(Acl::new(&sync, Role::DatastoreReader, &daily));
    let to_primary = lab.add(Remote::new(&offsite, "primary", &primary, &token));
    lab.add(SyncJob::new(&archive, "copy2", &daily).remote(&to_primary));
    assert_eq!(found(&lab, checks::SYNC_SOURCE).len(), 1);
}

#[test]
fn namespaces_too_deep() {
    let (mut lab, _, daily, _) = base();
    let mut path = String::new();
    for level in 1..=7 {
        if level > 1 {
            path.push('/');
        }
        path.push_str(&format!("l{level}"));
        lab.add(Namespace::new(&daily, &path));
    }
    // Seven levels are fine.
    assert!(found(&lab, checks::NAMESPACE_DEPTH).is_empty());
    let line = line!() + 1;
    lab.add(Namespace::new(&daily, &format!("{path}/l8")));
    one_at(&lab, checks::NAMESPACE_DEPTH, line);
}

#[test]
fn a_job_recursing_past_the_depth_limit() {
    let (mut lab, _, daily, _) = base();
    lab.add(Namespace::new(&daily, "a"));
    lab.add(Namespace::new(&daily, "a/b"));
    let ab = lab.add(Namespace::new(&daily, "a/b/c"));
    // 3 + 4 = 7: fine.
    lab.add(VerifyJob::new(&daily, "ok").ns(&ab).max_depth(4));
    assert!(found(&lab, checks::NAMESPACE_DEPTH).is_empty());
    let job = PruneJob::new(&daily, "deep", "daily").retention(Retention::default().last(1));
    let line = line!() + 1;
    lab.add(job.ns(&ab).max_depth(5));
    one_at(&lab, checks::NAMESPACE_DEPTH, line);
}

#[test]
fn a_namespace_without_its_parent() {
    let (mut lab, _, daily, _) = base();
    let line = line!() + 1;
    lab.add(Namespace::new(&daily, "site/pve"));
    one_at(&lab, checks::NAMESPACE_PARENT, line);
    lab.add(Namespace::new(&daily, "site"));
    assert!(found(&lab, checks::NAMESPACE_PARENT).is_empty());
}

#[test]
fn a_job_on_a_namespace_of_another_datastore() {
    let (mut lab, primary, daily, pbs_box) = base();
    let other = lab.add(Datastore::new(&primary, "other", "/mnt/other").on(&pbs_box));
    let ns = lab.add(Namespace::new(&other, "site"));
    let line = line!() + 1;
    lab.add(VerifyJob::new(&daily, "v").ns(&ns));
    one_at(&lab, checks::NAMESPACE_STORE, line);
}

#[test]
fn a_prune_job_that_keeps_everything() {
    let (mut lab, _, daily, _) = base();
    let line = line!() + 1;
    lab.add(PruneJob::new(&daily, "nothing", "daily"));
    let d = one_at(&lab, checks::PRUNE_KEEPS_ALL, line);
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.message.contains("keeps every snapshot"));
    lab.add(PruneJob::new(&daily, "keep", "daily").retention(Retention::default().daily(7)));
    assert_eq!(found(&lab, checks::PRUNE_KEEPS_ALL).len(), 1);
}

#[test]
fn a_remote_pointing_at_its_own_server() {
    let (mut lab, primary, _, _) = base();
    let user = lab.add(User::new(&primary, "sync@pbs"));
    let token = lab.add(Token::new(&user, "self"));
    let line = line!() + 1;
    lab.add(Remote::new(&primary, "myself", &primary, &token));
    one_at(&lab, checks::REMOTE_SELF, line);
}

#[test]
fn a_remote_with_a_token_of_another_server() {
    let (mut lab, primary, _, _) = base();
    let remote_box = lab.add(Appliance::new("remote-box"));
    let offsite = lab.add(PbsServer::new("offsite", "10.0.1.20").on(&remote_box));
    let offsite_user = lab.add(User::new(&offsite, "sync@pbs"));
    let wrong = lab.add(Token::new(&offsite_user, "t"));
    let line = line!() + 1;
    lab.add(Remote::new(&offsite, "primary", &primary, &wrong));
    one_at(&lab, checks::REMOTE_TOKEN, line);
}

#[test]
fn a_token_acl_on_another_servers_datastore() {
    let (mut lab, _, daily, _) = base();
    let remote_box = lab.add(Appliance::new("remote-box"));
    let offsite = lab.add(PbsServer::new("offsite", "10.0.1.20").on(&remote_box));
    let user = lab.add(User::new(&offsite, "sync@pbs"));
    let token = lab.add(Token::new(&user, "t"));
    let line = line!() + 1;
    lab.add(Acl::new(&token, Role::DatastoreReader, &daily));
    one_at(&lab, checks::ACL_PATH, line);
    // `/` of its own server is fine.
    lab.add(Acl::new(&token, Role::Audit, AclPath::root()));
    assert_eq!(found(&lab, checks::ACL_PATH).len(), 1);
}

#[test]
fn a_pull_whose_token_cannot_read_the_source() {
    let (mut lab, primary, daily, _) = base();
    let remote_box = lab.add(Appliance::new("remote-box"));
    let offsite = lab.add(PbsServer::new("offsite", "10.0.1.20").on(&remote_box));
    let archive = lab.add(Datastore::new(&offsite, "archive", "/mnt/a").on(&remote_box));
    let user = lab.add(User::new(&primary, "sync@pbs"));
    let token = lab.add(Token::new(&user, "offsite"));
    let remote = lab.add(Remote::new(&offsite, "primary", &primary, &token));
    lab.add(Acl::new(&user, Role::DatastoreReader, &daily));
    let line = line!() + 1;
    lab.add(SyncJob::new(&archive, "copy", &daily).remote(&remote));
    // The user may read it, the token may not.
    let d = one_at(&lab, checks::SYNC_TOKEN_ACL, line);
    assert!(d.message.contains("primary--sync_pbs_offsite"), "{d:#?}");
    lab.add(Acl::new(&token, Role::DatastoreReader, &daily));
    assert!(found(&lab, checks::SYNC_TOKEN_ACL).is_empty());
}

#[test]
fn a_datastore_without_placement() {
    let (mut lab, primary, _, _) = base();
    let line = line!() + 1;
    lab.add(Datastore::new(&primary, "floating", "/mnt/floating"));
    let d = one_at(&lab, checks::DATASTORE_PLACEMENT, line);
    assert!(!d.is_blocking());
}

#[test]
fn a_server_without_placement() {
    let mut lab = Lab::new("checks");
    let line = line!() + 1;
    lab.add(PbsServer::new("primary", "10.0.0.20"));
    one_at(&lab, checks::SERVER_PLACEMENT, line);
}

#[test]
fn two_datastores_at_one_path() {
    let (mut lab, primary, _, pbs_box) = base();
    let line = line!() + 1;
    lab.add(Datastore::new(&primary, "again", "/mnt/daily/").on(&pbs_box));
    let d = one_at(&lab, checks::DATASTORE_PATH, line);
    assert_eq!(d.labels.len(), 2);
    // The same path on another server is another directory.
    let remote_box = lab.add(Appliance::new("remote-box"));
    let offsite = lab.add(PbsServer::new("offsite", "10.0.1.20").on(&remote_box));
    lab.add(Datastore::new(&offsite, "daily2", "/mnt/daily").on(&remote_box));
    assert_eq!(found(&lab, checks::DATASTORE_PATH).len(), 1);
}

#[test]
fn server_names_that_would_blur_addresses() {
    for bad in ["a--b", "primary-", "a-very-long-server-name-xy"] {
        let s = PbsServer::new(bad, "10.0.0.20");
        assert_eq!(s.spec().problems.len(), 1, "{bad}");
        assert_eq!(s.spec().problems[0].field, "name");
    }
    assert!(PbsServer::new("pbs-offsite_2", "10.0.0.20")
        .spec()
        .problems
        .is_empty());
}

#[test]
fn a_token_id_too_long_for_an_auth_id() {
    let (mut lab, primary, _, _) = base();
    let user = lab.add(User::new(&primary, "synchronisation-of-archives@pbs"));
    lab.add(Token::new(&user, "short"));
    assert!(found(&lab, checks::TOKEN_ID_LENGTH).is_empty());
    let line = line!() + 1;
    lab.add(Token::new(&user, "a-token-name-that-is-far-too-long-x"));
    one_at(&lab, checks::TOKEN_ID_LENGTH, line);
}

#[test]
fn bad_values_are_reported_where_they_were_written() {
    let (mut lab, primary, daily, _) = base();
    let line = line!() + 1;
    lab.add(Datastore::new(&primary, "x", "relative/path"));
    let bad: Vec<_> = found(&lab, "core::invalid-value");
    assert_eq!(bad.len(), 2, "{bad:#?}");
    assert!(bad.iter().all(|d| d.labels[0].loc.line() == line));

    let mut lab2 = Lab::new("schedules");
    let s = lab2.add(PbsServer::new("primary", "10.0.0.20"));
    let store = lab2.add(Datastore::new(&s, "daily", "/mnt/daily"));
    let job = PruneJob::new(&store, "keep", "daily").retention(Retention::default().last(1));
    let line = line!() + 1;
    lab2.add(job.max_depth(9));
    let verify = VerifyJob::new(&store, "v");
    let schedule_line = line!() + 1;
    lab2.add(verify.schedule("sun 25:00"));
    let bad = found(&lab2, "core::invalid-value");
    let lines: Vec<u32> = bad.iter().map(|d| d.labels[0].loc.line()).collect();
    assert!(
        lines.contains(&line) && lines.contains(&schedule_line),
        "{bad:#?}"
    );
    let schedule = bad
        .iter()
        .find(|d| d.labels[0].loc.line() == schedule_line)
        .unwrap();
    assert!(schedule.message.contains("sun 25:00"), "{schedule:#?}");
    let _ = daily;
}

#[test]
fn waivers_silence_a_warning_at_its_resource() {
    let (mut lab, _, daily, _) = base();
    lab.add(PruneJob::new(&daily, "nothing", "daily").waive(
        checks::PRUNE_KEEPS_ALL,
        "kept by the datastore's own retention",
    ));
    let d = &found(&lab, checks::PRUNE_KEEPS_ALL)[0];
    assert!(d.waived.is_some());
}
