//! Datastores: `Datastore::new(&server, name, path)` with its comment,
//! schedules, retention and verify-new, bound by store name. A store
//! with namespaces below the root lists them as findings.

use lab_core::import::{rust_str, Chain, Finding, ImportBlock, ImportedState};
use lab_core::provider::ProviderError;
use lab_core::Address;
use serde_json::{Map, Value as Json};

use super::{attrs, retention_code, Names, Out, ORDER_DATASTORE};
use crate::kinds::{self, DatastoreSpec};
use crate::provider::datastore::observe;
use crate::provider::normalize::text;
use crate::provider::PbsProvider;

pub(super) async fn import(
    p: &PbsProvider,
    stores: &[(String, Map<String, Json>)],
    names: &mut Names,
    out: &mut Out,
) -> Result<(), ProviderError> {
    for (name, m) in stores {
        if text(m, "comment").is_some_and(|c| c.contains("lab:")) {
            out.findings.push(Finding::new(
                format!("datastore {name}"),
                "its comment carries a lab's marker: manage it from that lab's code and state",
            ));
            continue;
        }
        let address = Address::new(
            kinds::DATASTORE,
            &crate::model::common::address_name(&names.server, name),
        );
        let base = DatastoreSpec {
            server: Address::new(kinds::SERVER, &names.server).to_string(),
            name: name.clone(),
            path: String::new(),
            comment: None,
            gc_schedule: None,
            prune_schedule: None,
            keep_last: None,
            keep_hourly: None,
            keep_daily: None,
            keep_weekly: None,
            keep_monthly: None,
            keep_yearly: None,
            verify_new: None,
            appliance: None,
            pool: None,
            capacity_gb: None,
        };
        let found = observe(m, &base);
        let s = &found.spec;
        let var = Names::var("datastore", name);
        let mut c = Chain::new(format!(
            "Datastore::new(&{}, {}, {})",
            names.server_var,
            rust_str(name),
            rust_str(&s.path)
        ));
        if let Some(v) = &s.comment {
            c.call(format!("comment({})", rust_str(v)));
        }
        if let Some(v) = &s.gc_schedule {
            c.call(format!("gc_schedule({})", rust_str(v)));
        }
        if let Some(v) = &s.prune_schedule {
            c.call(format!("prune_schedule({})", rust_str(v)));
        }
        if let Some(r) = retention_code(s.retention().counts()) {
            out.uses
                .insert("use lab::pbs::kinds::Retention as PbsRetention;");
            c.call(format!("retention({r})"));
        }
        if let Some(v) = s.verify_new {
            c.call(format!("verify_new({v})"));
        }
        for ns in p.namespace_set(name).await?.into_iter().flatten() {
            if !ns.is_empty() {
                out.findings.push(Finding::new(
                    format!("namespace {ns} of datastore {name}"),
                    "namespaces are not imported yet: declare it with `Namespace::new(&store, ..)`",
                ));
            }
        }
        out.uses.insert("use lab::pbs::model::Datastore;");
        out.blocks.push(ImportBlock {
            address: address.clone(),
            var: var.clone(),
            handle: "Handle<Datastore>".into(),
            order: ORDER_DATASTORE,
            code: c.add_to_lab(&var),
            comment: None,
            state: Some(ImportedState {
                id: found.id.clone(),
                attrs: attrs(&found.spec),
                outputs: attrs(&found.outputs),
                deps: vec![Address::new(kinds::SERVER, &names.server)],
            }),
        });
        names.stores.insert(name.clone(), (var, address));
    }
    Ok(())
}
