//! `lab_pbs::schema` against the real `pbs-apidoc.json` (PBS 4.x): the
//! dump compiles with lab-proxmox's validator, routes resolve as
//! proxmox-backup's router resolves them, and requests the PBS client will
//! send pass while the mistakes PBS refuses are refused.

use lab_pbs::schema::{embedded, Violation};

fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_embedded_dump_is_whole() {
    let schema = embedded();
    // The counts SOURCES.md gives.
    assert_eq!(schema.paths(), 248);
    assert_eq!(schema.methods(), 367);
}

#[test]
fn routes_take_their_parameters_from_the_path() {
    let schema = embedded();
    let route = schema
        .route("GET", "/admin/datastore/backup/snapshots")
        .expect("a route");
    assert_eq!(route.template(), "/admin/datastore/{store}/snapshots");
    assert_eq!(route.path_param("store"), Some("backup"));
    // A literal segment wins over a parameter.
    let route = schema.route("GET", "/config/datastore").expect("a route");
    assert_eq!(route.template(), "/config/datastore");
    let route = schema
        .route("PUT", "/config/datastore/backup")
        .expect("a route");
    assert_eq!(route.template(), "/config/datastore/{name}");
    // No such method or path.
    assert!(schema.route("PATCH", "/config/datastore").is_none());
    assert!(schema.route("GET", "/config/no-such-thing").is_none());
}

#[test]
fn the_jobs_lab_makes_pass() {
    let schema = embedded();
    let ok = |method: &str, path: &str, list: &[(&str, &str)]| {
        let route = schema.route(method, path).expect("a route");
        route
            .validate(&params(list))
            .unwrap_or_else(|v| panic!("{method} {path}: {v:?}"));
    };
    ok(
        "POST",
        "/config/datastore",
        &[
            ("name", "backup"),
            ("path", "/mnt/datastore/backup"),
            ("gc-schedule", "daily"),
        ],
    );
    ok(
        "POST",
        "/config/sync",
        &[
            ("id", "daily-copy"),
            ("store", "copy"),
            ("remote", "primary"),
            ("remote-store", "backup"),
            ("schedule", "hourly"),
            ("remove-vanished", "true"),
        ],
    );
    ok(
        "POST",
        "/config/prune",
        &[
            ("id", "keep"),
            ("store", "backup"),
            ("schedule", "daily"),
            ("keep-last", "3"),
            ("keep-daily", "7"),
        ],
    );
}

#[test]
fn mistakes_pbs_refuses_are_refused() {
    let schema = embedded();
    let refused = |method: &str, path: &str, list: &[(&str, &str)]| -> Violation {
        schema
            .route(method, path)
            .expect("a route")
            .validate(&params(list))
            .expect_err("refused")
    };
    // A parameter PBS does not define (additionalProperties: false).
    let v = refused(
        "POST",
        "/config/prune",
        &[
            ("id", "keep"),
            ("store", "backup"),
            ("schedule", "daily"),
            ("keep-forever", "1"),
        ],
    );
    assert_eq!(v.status(), 400);
    assert!(
        v.errors().is_some_and(|e| e.contains_key("keep-forever")),
        "{v:?}"
    );
    // Below the minimum (keep-last >= 1).
    let v = refused(
        "POST",
        "/config/prune",
        &[
            ("id", "keep"),
            ("store", "backup"),
            ("schedule", "daily"),
            ("keep-last", "0"),
        ],
    );
    assert!(
        v.errors().is_some_and(|e| e.contains_key("keep-last")),
        "{v:?}"
    );
    // A required parameter missing (a prune job's schedule).
    let v = refused(
        "POST",
        "/config/prune",
        &[("id", "keep"), ("store", "backup")],
    );
    assert!(
        v.errors().is_some_and(|e| e.contains_key("schedule")),
        "{v:?}"
    );
    // A job id shorter than 3 characters.
    let v = refused(
        "POST",
        "/config/sync",
        &[("id", "d"), ("store", "copy"), ("remote-store", "backup")],
    );
    assert!(v.errors().is_some_and(|e| e.contains_key("id")), "{v:?}");
}

#[test]
fn patterns_are_run_as_pbs_runs_them() {
    let schema = lab_pbs::schema::embedded();
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let ok = schema.validate(
        "POST",
        "/config/datastore",
        &pairs(&[("name", "daily_1"), ("path", "/mnt/daily")]),
    );
    assert!(ok.is_ok(), "{ok:?}");
    for (key, bad) in [
        ("name", "-daily"),
        ("name", "a/b"),
        ("comment", "two\nlines"),
    ] {
        let mut p = vec![("name", "daily"), ("path", "/mnt/daily")];
        p.retain(|(k, _)| *k != key);
        p.push((key, bad));
        match schema.validate("POST", "/config/datastore", &pairs(&p)) {
            Err(lab_pbs::schema::Violation::Params { errors }) => {
                assert_eq!(
                    errors.get(key).map(String::as_str),
                    Some("value does not match the regex pattern"),
                    "{key}={bad:?}: {errors:?}"
                );
            }
            other => panic!("{key}={bad:?} passed: {other:?}"),
        }
    }
    // A namespace deeper than PBS's pattern allows (8 components).
    let deep = "a/b/c/d/e/f/g/h/i";
    assert!(schema
        .validate(
            "GET",
            "/admin/datastore/daily/snapshots",
            &pairs(&[("ns", deep)])
        )
        .is_err());
}
