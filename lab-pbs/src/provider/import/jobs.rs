//! Prune, verify and local sync jobs, bound by id: the builder of each
//! with every option PBS lists for it. A job on one namespace, a sync
//! from a remote, or one whose comment carries a lab's marker is a
//! finding.

use lab_core::import::{rust_str, Chain, Finding, ImportBlock, ImportedState};
use lab_core::Address;
use serde_json::{Map, Value as Json};

use super::{attrs, retention_code, Names, Out, ORDER_JOB};
use crate::kinds::{self, PruneJobSpec, SyncJobSpec, VerifyJobSpec};
use crate::model::common::address_name;
use crate::provider::normalize::text;
use crate::provider::{prune_job, sync_job, verify_job};

/// What every job's block needs: its store's variable and address.
struct Job<'a> {
    id: &'a str,
    store: (String, Address),
    server: String,
}

pub(super) fn import(
    what: &str,
    list: &[(String, Map<String, Json>)],
    names: &Names,
    out: &mut Out,
) {
    for (id, m) in list {
        let object = format!("{what} job {id}");
        let store = text(m, "store").unwrap_or_default();
        if text(m, "comment").is_some_and(|c| c.contains("lab:")) {
            out.findings.push(Finding::new(
                object,
                "its comment carries a lab's marker: manage it from that lab's code and state",
            ));
            continue;
        }
        if text(m, "ns").is_some_and(|n| !n.is_empty()) {
            out.findings.push(Finding::new(
                object,
                "it works on a namespace, which is not imported yet",
            ));
            continue;
        }
        let Some(handle) = names.stores.get(&store).cloned() else {
            out.findings.push(Finding::new(
                object,
                format!("its datastore {store} was not imported"),
            ));
            continue;
        };
        let job = Job {
            id,
            store: handle,
            server: Address::new(kinds::SERVER, &names.server).to_string(),
        };
        let made = match what {
            "prune" => prune(&job, m, names, out),
            "verify" => verify(&job, m, names, out),
            _ => sync(&job, m, names, out),
        };
        match made {
            Ok(b) => out.blocks.push(b),
            Err(reason) => out.findings.push(Finding::new(object, reason)),
        }
    }
}

fn block(
    kind: &str,
    prefix: &str,
    job: &Job<'_>,
    names: &Names,
    c: &Chain,
    state: (String, lab_core::Attrs, lab_core::Attrs),
    extra_deps: Vec<Address>,
) -> ImportBlock {
    let var = Names::var(prefix, job.id);
    let rust_type = match kind {
        kinds::PRUNE_JOB => "PruneJob",
        kinds::VERIFY_JOB => "VerifyJob",
        _ => "SyncJob",
    };
    let mut deps = vec![job.store.1.clone()];
    deps.extend(extra_deps);
    ImportBlock {
        address: Address::new(kind, &address_name(&names.server, job.id)),
        var: var.clone(),
        handle: format!("Handle<{}>", rust_type),
        order: ORDER_JOB,
        code: c.add_to_lab(&var),
        comment: None,
        state: Some(ImportedState {
            id: state.0,
            attrs: state.1,
            outputs: state.2,
            deps,
        }),
    }
}

fn prune(
    job: &Job<'_>,
    m: &Map<String, Json>,
    names: &Names,
    out: &mut Out,
) -> Result<ImportBlock, String> {
    let base = PruneJobSpec {
        server: job.server.clone(),
        datastore: job.store.1.to_string(),
        id: job.id.to_string(),
        store: String::new(),
        schedule: String::new(),
        ns: None,
        max_depth: None,
        keep_last: None,
        keep_hourly: None,
        keep_daily: None,
        keep_weekly: None,
        keep_monthly: None,
        keep_yearly: None,
        comment: None,
    };
    let f = prune_job::observe(m, &base);
    let s = &f.spec;
    let mut c = Chain::new(format!(
        "PruneJob::new(&{}, {}, {})",
        job.store.0,
        rust_str(job.id),
        rust_str(&s.schedule)
    ));
    let counts = s.retention().counts();
    if let Some(r) = retention_code(counts) {
        out.uses
            .insert("use lab::pbs::kinds::Retention as PbsRetention;");
        c.call(format!("retention({r})"));
    }
    if let Some(d) = s.max_depth {
        c.call(format!("max_depth({d})"));
    }
    if let Some(v) = &s.comment {
        c.call(format!("comment({})", rust_str(v)));
    }
    out.uses.insert("use lab::pbs::model::PruneJob;");
    let state = (f.id.clone(), attrs(&f.spec), attrs(&f.outputs));
    Ok(block(
        kinds::PRUNE_JOB,
        "prune_job",
        job,
        names,
        &c,
        state,
        vec![],
    ))
}

fn verify(
    job: &Job<'_>,
    m: &Map<String, Json>,
    names: &Names,
    out: &mut Out,
) -> Result<ImportBlock, String> {
    let base = VerifyJobSpec {
        server: job.server.clone(),
        datastore: job.store.1.to_string(),
        id: job.id.to_string(),
        store: String::new(),
        schedule: None,
        ns: None,
        max_depth: None,
        ignore_verified: None,
        outdated_after: None,
        comment: None,
    };
    let f = verify_job::observe(m, &base);
    let s = &f.spec;
    let mut c = Chain::new(format!(
        "VerifyJob::new(&{}, {})",
        job.store.0,
        rust_str(job.id)
    ));
    if let Some(v) = &s.schedule {
        c.call(format!("schedule({})", rust_str(v)));
    }
    if let Some(d) = s.max_depth {
        c.call(format!("max_depth({d})"));
    }
    if let Some(v) = s.ignore_verified {
        c.call(format!("ignore_verified({v})"));
    }
    if let Some(v) = s.outdated_after {
        c.call(format!("outdated_after({v})"));
    }
    if let Some(v) = &s.comment {
        c.call(format!("comment({})", rust_str(v)));
    }
    out.uses.insert("use lab::pbs::model::VerifyJob;");
    let state = (f.id.clone(), attrs(&f.spec), attrs(&f.outputs));
    Ok(block(
        kinds::VERIFY_JOB,
        "verify_job",
        job,
        names,
        &c,
        state,
        vec![],
    ))
}

fn sync(
    job: &Job<'_>,
    m: &Map<String, Json>,
    names: &Names,
    out: &mut Out,
) -> Result<ImportBlock, String> {
    if text(m, "remote").is_some_and(|r| !r.is_empty()) {
        return Err("it pulls from a remote, whose password PBS never returns".into());
    }
    if text(m, "remote-ns").is_some_and(|n| !n.is_empty()) {
        return Err("it reads a namespace, which is not imported yet".into());
    }
    let source_store = text(m, "remote-store").unwrap_or_default();
    let source = names
        .stores
        .get(&source_store)
        .ok_or_else(|| format!("its source datastore {source_store} was not imported"))?;
    let base = SyncJobSpec {
        server: job.server.clone(),
        datastore: job.store.1.to_string(),
        source: source.1.to_string(),
        id: job.id.to_string(),
        store: String::new(),
        remote: None,
        remote_store: String::new(),
        ns: None,
        remote_ns: None,
        max_depth: None,
        schedule: None,
        remove_vanished: None,
        transfer_last: None,
        group_filter: None,
        comment: None,
    };
    let f = sync_job::observe(m, &base);
    let s = &f.spec;
    let mut c = Chain::new(format!(
        "SyncJob::new(&{}, {}, &{})",
        job.store.0,
        rust_str(job.id),
        source.0
    ));
    if let Some(v) = &s.schedule {
        c.call(format!("schedule({})", rust_str(v)));
    }
    if let Some(d) = s.max_depth {
        c.call(format!("max_depth({d})"));
    }
    if let Some(v) = s.remove_vanished {
        c.call(format!("remove_vanished({v})"));
    }
    if let Some(v) = s.transfer_last {
        c.call(format!("transfer_last({v})"));
    }
    for g in s.group_filter.iter().flatten() {
        c.call(format!("group_filter({})", rust_str(g)));
    }
    if let Some(v) = &s.comment {
        c.call(format!("comment({})", rust_str(v)));
    }
    out.uses.insert("use lab::pbs::model::SyncJob;");
    let state = (f.id.clone(), attrs(&f.spec), attrs(&f.outputs));
    Ok(block(
        kinds::SYNC_JOB,
        "sync_job",
        job,
        names,
        &c,
        state,
        vec![source.1.clone()],
    ))
}

#[cfg(test)]
mod tests {
    use lab_core::Address;
    use serde_json::json;

    use super::super::{Names, Out};
    use crate::kinds;

    fn list(items: serde_json::Value) -> Vec<(String, serde_json::Map<String, serde_json::Value>)> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let m = i.as_object().unwrap().clone();
                (m["id"].as_str().unwrap().to_string(), m)
            })
            .collect()
    }

    #[test]
    fn what_a_job_cannot_say_is_a_finding() {
        let mut names = Names {
            server: "primary".into(),
            server_var: "pbs_primary".into(),
            stores: Default::default(),
        };
        names.stores.insert(
            "backup".into(),
            (
                "datastore_backup".into(),
                Address::new(kinds::DATASTORE, "primary--backup"),
            ),
        );
        let mut out = Out::default();
        super::import(
            "sync",
            &list(json!([
                {"id": "from-offsite", "store": "backup", "remote": "offsite", "remote-store": "x"},
                {"id": "from-gone", "store": "backup", "remote-store": "gone"},
                {"id": "into-ns", "store": "backup", "remote-store": "backup", "ns": "team"},
                {"id": "mine", "store": "backup", "remote-store": "backup",
                 "comment": "copy lab:home/pbs.sync_job.primary--mine"},
            ])),
            &names,
            &mut out,
        );
        super::import(
            "verify",
            &list(
                json!([{"id": "weekly", "store": "backup", "schedule": "sat 03:00",
                          "ignore-verified": true}]),
            ),
            &names,
            &mut out,
        );
        let found: Vec<&str> = out.findings.iter().map(|f| f.object.as_str()).collect();
        assert_eq!(
            found,
            [
                "sync job from-offsite",
                "sync job from-gone",
                "sync job into-ns",
                "sync job mine"
            ]
        );
        assert!(out.findings[0].reason.contains("remote"));
        assert_eq!(out.blocks.len(), 1);
        let b = &out.blocks[0];
        assert_eq!(b.address.to_string(), "pbs.verify_job.primary--weekly");
        assert!(
            b.code
                .contains("VerifyJob::new(&datastore_backup, \"weekly\")"),
            "{}",
            b.code
        );
        assert!(b.code.contains(".ignore_verified(true)"), "{}", b.code);
        let state = b.state.as_ref().unwrap();
        assert_eq!(state.id, "weekly");
        assert_eq!(
            state.attrs["datastore"],
            lab_core::Value::from("pbs.datastore.primary--backup")
        );
    }
}
