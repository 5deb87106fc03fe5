//! The contract the provider relies on: what the builders lower decodes
//! strictly into each kind's spec, and the request each spec's
//! `create_request` makes passes the embedded PBS 4 apidoc: routes, names,
//! types, ranges, lengths (lab-proxmox's validator), and the Perl patterns
//! and calendar events the validator does not run (run here with `regex`
//! and the schedule parser). Then the other way round: what the builders
//! refuse is what the apidoc's patterns refuse.

mod common;

use common::*;
use lab_core::kind::Kind;
use lab_core::value::decode;
use lab_core::ResourceSpec;
use lab_pbs::kinds::{self, *};
use lab_pbs::model::*;
use lab_pbs::schedule::CalendarEvent;
use regex::Regex;
use serde_json::Value as Json;

/// The apidoc's parameter schema of `method` on `template`.
fn params_of(template: &str, method: &str) -> serde_json::Map<String, Json> {
    fn find<'a>(nodes: &'a [Json], path: &str) -> Option<&'a Json> {
        for n in nodes {
            if n["path"] == path {
                return Some(n);
            }
            if let Some(c) = n["children"].as_array().and_then(|c| find(c, path)) {
                return Some(c);
            }
        }
        None
    }
    let doc: Json = serde_json::from_str(lab_pbs::schema::PBS_APIDOC_JSON).unwrap();
    let node = find(doc.as_array().unwrap(), template).expect("the template is in the apidoc");
    node["info"][method]["parameters"]["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// The apidoc's Perl pattern (`/^...$/`) as a Rust regex.
fn pattern(prop: &Json) -> Option<Regex> {
    let p = prop["pattern"].as_str()?;
    let inner = p
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix('/'))
        .unwrap();
    Some(Regex::new(inner).unwrap_or_else(|e| panic!("{inner}: {e}")))
}

/// Sends `req` through the schema as PBS would check it.
fn assert_accepted(what: &str, req: &Request) {
    let schema = lab_pbs::schema::embedded();
    let route = schema
        .route(req.method, &req.path)
        .unwrap_or_else(|| panic!("{what}: no route for {} {}", req.method, req.path));
    let params = req.exposed_params();
    route
        .validate(&params)
        .unwrap_or_else(|v| panic!("{what}: {} {}: {v:?}", req.method, req.path));
    let props = params_of(route.template(), req.method);
    let path_params = route
        .path_params()
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()));
    for (key, value) in params.iter().cloned().chain(path_params) {
        let prop = props.get(&key).unwrap_or_else(|| {
            panic!("{what}: `{key}` is not a parameter of {}", route.template())
        });
        let prop = if prop["type"] == "array" {
            &prop["items"]
        } else {
            prop
        };
        if let Some(re) = pattern(prop) {
            assert!(
                re.is_match(&value),
                "{what}: `{key}` = `{value}` fails {re}"
            );
        }
        if prop["typetext"] == "<calendar-event>" {
            value
                .parse::<CalendarEvent>()
                .unwrap_or_else(|e| panic!("{what}: `{key}`: {e}"));
        }
    }
}

fn request_of(lab: &lab_core::Lab, spec: &ResourceSpec) -> Option<Request> {
    let attrs = resolved(lab, spec);
    let what = spec.address.to_string();
    let strict = |e: lab_core::value::DecodeError| -> ! { panic!("{what}: {e}") };
    Some(match spec.kind() {
        kinds::SERVER => {
            decode::<ServerSpec>(&attrs).unwrap_or_else(|e| strict(e));
            return None;
        }
        kinds::DATASTORE => decode::<DatastoreSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        kinds::NAMESPACE => decode::<NamespaceSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        kinds::USER => decode::<UserSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        kinds::TOKEN => decode::<TokenSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        kinds::ACL => decode::<AclSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        kinds::REMOTE => decode::<RemoteSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        kinds::SYNC_JOB => decode::<SyncJobSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        kinds::PRUNE_JOB => decode::<PruneJobSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        kinds::VERIFY_JOB => decode::<VerifyJobSpec>(&attrs)
            .unwrap_or_else(|e| strict(e))
            .create_request(),
        _ => return None,
    })
}

#[test]
fn every_create_request_passes_the_pbs_apidoc() {
    let (lab, _) = full_lab();
    let mut seen = std::collections::BTreeSet::new();
    for spec in lab.resources() {
        let Some(req) = request_of(&lab, spec) else {
            continue;
        };
        seen.insert(spec.kind().to_string());
        assert_accepted(spec.address.as_str(), &req);
    }
    // Every kind that creates something was sent.
    let expected: std::collections::BTreeSet<String> = kinds::ALL
        .iter()
        .filter(|k| **k != kinds::SERVER)
        .map(|k| k.to_string())
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn requests_carry_every_field_the_builders_set() {
    let (lab, full) = full_lab();
    let params = |h: &lab_core::Address| {
        let req = request_of(&lab, lab.resource(h).unwrap()).unwrap();
        (req.path.clone(), req.method, req.exposed_params())
    };
    let has = |ps: &[(String, String)], k: &str, v: &str| {
        assert!(
            ps.iter().any(|(pk, pv)| pk == k && pv == v),
            "{k}={v} missing from {ps:?}"
        )
    };
    let (path, _, ps) = params(full.daily.address());
    assert_eq!(path, "/config/datastore");
    for (k, v) in [
        ("name", "daily"),
        ("path", "/mnt/datastore/daily"),
        ("gc-schedule", "daily"),
        ("prune-schedule", "02:00"),
        ("keep-last", "3"),
        ("keep-daily", "7"),
        ("keep-weekly", "4"),
        ("verify-new", "true"),
        ("comment", "the daily copy"),
    ] {
        has(&ps, k, v);
    }
    // Lab-only fields are never sent.
    for lab_only in ["server", "appliance", "pool", "capacity-gb"] {
        assert!(ps.iter().all(|(k, _)| k != lab_only), "{lab_only} sent");
    }
    let (path, _, ps) = params(full.site_pve.address());
    assert_eq!(path, "/admin/datastore/daily/namespace");
    has(&ps, "name", "pve");
    has(&ps, "parent", "site");
    let (path, _, ps) = params(full.token.address());
    assert_eq!(path, "/access/users/sync@pbs/token/offsite");
    has(&ps, "comment", "for the off-site pull");
    let (path, method, ps) = params(full.acl.address());
    assert_eq!((path.as_str(), method), ("/access/acl", "PUT"));
    has(&ps, "auth-id", "sync@pbs!offsite");
    has(&ps, "path", "/datastore/daily");
    has(&ps, "role", "DatastoreReader");
    let (_, _, ps) = params(full.ns_acl.address());
    has(&ps, "path", "/datastore/daily/site/pve");
    let (_, _, ps) = params(full.remote.address());
    has(&ps, "host", "10.0.0.20");
    has(&ps, "port", "8007");
    has(&ps, "fingerprint", &vec!["AB"; 32].join(":"));
    has(&ps, "auth-id", "sync@pbs!offsite");
    has(&ps, "password", "5a2c8a56-8e2c-4e4e-9d4e-0d3f1f8f4a11");
    let (_, _, ps) = params(full.archive_copy.address());
    for (k, v) in [
        ("id", "archive-copy"),
        ("store", "archive"),
        ("remote", "primary"),
        ("remote-store", "daily"),
        ("remote-ns", "site"),
        ("max-depth", "2"),
        ("schedule", "sat 03:00"),
        ("remove-vanished", "false"),
        ("transfer-last", "7"),
        ("group-filter", "type:vm"),
        ("group-filter", "exclude:group:vm/999"),
    ] {
        has(&ps, k, v);
    }
    let (_, _, ps) = params(full.local_copy.address());
    assert!(
        ps.iter().all(|(k, _)| k != "remote"),
        "a local sync has no remote"
    );
    let (_, _, ps) = params(full.prune.address());
    for (k, v) in [
        ("schedule", "daily"),
        ("ns", "site/pve"),
        ("keep-yearly", "1"),
    ] {
        has(&ps, k, v);
    }
    let (_, _, ps) = params(full.verify.address());
    for (k, v) in [
        ("ignore-verified", "true"),
        ("outdated-after", "30"),
        ("ns", "site"),
    ] {
        has(&ps, k, v);
    }
}

#[test]
fn the_remote_password_stays_out_of_debug() {
    let (lab, full) = full_lab();
    let req = request_of(&lab, lab.resource(full.remote.address()).unwrap()).unwrap();
    assert!(!format!("{req:?}").contains("5a2c8a56"));
}

/// The apidoc's pattern and lengths for `key` of `method template`.
fn accepts(template: &str, method: &str, key: &str, value: &str) -> bool {
    let props = params_of(template, method);
    let prop = &props[key];
    let len_ok = prop["minLength"]
        .as_u64()
        .is_none_or(|m| value.len() as u64 >= m)
        && prop["maxLength"]
            .as_u64()
            .is_none_or(|m| value.len() as u64 <= m);
    len_ok && pattern(prop).is_none_or(|re| re.is_match(value))
}

#[test]
fn builders_refuse_what_the_apidoc_refuses() {
    let mut lab = lab_core::Lab::new("names");
    let server = lab.add(PbsServer::new("s", "10.0.0.20"));
    let refused = |spec: &ResourceSpec, field: &str| spec.problems.iter().any(|p| p.field == field);

    for name in [
        "backup",
        "_x1",
        "a-b_c",
        "ab",
        "-ab",
        "a b",
        "ünï",
        "abc/d",
        "x.y",
        "abcdefghijklmnopqrstuvwxyz0123456",
    ] {
        let ds = Datastore::new(&server, name, "/mnt/x");
        let pbs_ok = accepts("/config/datastore", "POST", "name", name);
        // lab refuses a `.` too (addresses cannot hold one).
        assert_eq!(
            !refused(ds.spec(), "name"),
            pbs_ok && !name.contains('.'),
            "datastore name {name:?}"
        );
    }
    for userid in [
        "sync@pbs",
        "root@pam",
        "a b@pbs",
        "sync",
        "x@",
        "us:er@pbs",
        "a@b@pbs",
    ] {
        let user = User::new(&server, userid);
        assert_eq!(
            !refused(user.spec(), "userid"),
            accepts("/access/users", "POST", "userid", userid),
            "userid {userid:?}"
        );
    }
    for ns in [
        "site",
        "site/pve",
        "a/b/c/d/e/f/g",
        "/site",
        "site/",
        "a b",
        "a//b",
    ] {
        let store = lab.add(Datastore::new(&server, "store", "/mnt/store"));
        let n = Namespace::new(&store, ns);
        assert_eq!(
            !refused(n.spec(), "ns"),
            accepts("/config/prune", "POST", "ns", ns),
            "namespace {ns:?}"
        );
    }
    for comment in ["fine", "two\nlines", &"x".repeat(129)] {
        let ds = Datastore::new(&server, "store", "/mnt/x").comment(comment);
        assert_eq!(
            !refused(ds.spec(), "comment"),
            accepts("/config/datastore", "POST", "comment", comment),
            "comment {comment:?}"
        );
    }
    let good_fp = vec!["aB"; 32].join(":");
    for fp in [good_fp.as_str(), "AB:CD", "zz", &vec!["ABC"; 32].join(":")] {
        let s = PbsServer::new("t", "10.0.0.21").fingerprint(fp);
        assert_eq!(
            !refused(s.spec(), "fingerprint"),
            accepts("/config/remote", "POST", "fingerprint", fp),
            "fingerprint {fp:?}"
        );
    }
    for host in [
        "10.0.0.20",
        "pbs.lan",
        "fd00::20",
        "pbs_lan",
        "10.0.0.256",
        "-pbs.lan",
    ] {
        let s = PbsServer::new("t", host);
        // lab is stricter in one place: an all-numeric name that is not an
        // IPv4 address (`10.0.0.256`) is a DNS name to PBS, and a typo to lab.
        let numeric_typo = host.chars().all(|c| c.is_ascii_digit() || c == '.')
            && host.parse::<std::net::Ipv4Addr>().is_err();
        assert_eq!(
            !refused(s.spec(), "host"),
            accepts("/config/remote", "POST", "host", host) && !numeric_typo,
            "host {host:?}"
        );
    }
}

#[test]
fn outputs_are_the_documented_ones() {
    // The outputs each handle offers are fields of the kind's Outputs.
    let names =
        |v: serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        names(serde_json::to_value(kinds::ServerOutputs::default()).unwrap()),
        ["host", "port", "fingerprint", "version"]
    );
    assert_eq!(
        names(serde_json::to_value(kinds::NamespaceOutputs::default()).unwrap()),
        ["ns", "acl-path"]
    );
    assert_eq!(
        names(serde_json::to_value(kinds::TokenOutputs::default()).unwrap()),
        ["tokenid", "secret"]
    );
    assert_eq!(SyncJobSpec::KIND, "pbs.sync_job");
}

#[test]
fn the_roles_are_pbs_4s() {
    let props = params_of("/access/acl", "PUT");
    let apidoc: Vec<&str> = props["role"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let ours: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(ours, apidoc);
    // The serde name is PBS's name.
    for r in Role::ALL {
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
}
