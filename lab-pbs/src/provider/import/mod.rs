//! `lab import` for a Proxmox Backup Server ([`lab_core::import`]): the
//! server this instance talks to, its datastores and its prune, verify
//! and (local) sync jobs, as lab-pbs's builders, one file per kind.
//!
//! | object | code | state |
//! |---|---|---|
//! | the server | `PbsServer::instance(&handle, host)` (live: the endpoint's host, port and certificate pinned; simulated: the loopback host, nothing dials it) | bound (its read) |
//! | datastore | `Datastore::new(&server, name, path)` + comment, schedules, retention, verify-new | bound by name |
//! | prune / verify job | `PruneJob::new(&store, id, schedule)` / `VerifyJob::new(&store, id)` + options | bound by id |
//! | sync job (local) | `SyncJob::new(&store, id, &source)` + options | bound by id |
//!
//! As for Proxmox VE, each bound resource's state entry is the provider's
//! own read of the object (the `observe` functions a refresh runs, with
//! the lab-only fields the code gives), and its code sets exactly the
//! fields that read holds, so the first plan after an import says "No
//! changes" and the first apply changes nothing. PBS objects carry the
//! lab's marker only in their comment, and the refresh reads datastores
//! and jobs by name and id, so no marker is needed.
//!
//! Findings (not imported): namespaces (other than the root), users,
//! tokens, ACLs and remotes (their secrets are never returned), sync jobs
//! from a remote or into/out of a namespace, jobs on one namespace,
//! objects whose comment carries a lab's marker.

mod datastore;
mod jobs;
mod server;

use std::collections::BTreeSet;

use lab_core::import::{rust_ident, Discovery, Finding, ImportBlock};
use lab_core::provider::{OpContext, ProviderError};

use super::PbsProvider;

/// Ranks in the generated file.
pub(super) const ORDER_SERVER: u32 = 10;
pub(super) const ORDER_DATASTORE: u32 = 11;
pub(super) const ORDER_JOB: u32 = 12;

/// What the import adds.
#[derive(Default)]
pub(super) struct Out {
    pub blocks: Vec<ImportBlock>,
    pub findings: Vec<Finding>,
    pub uses: BTreeSet<&'static str>,
}

/// The server's instance name and variables of what was imported.
pub(super) struct Names {
    /// The instance (the server's resource name).
    pub server: String,
    /// The server's variable.
    pub server_var: String,
    /// Datastores by store name: (variable, address).
    pub stores: std::collections::BTreeMap<String, (String, lab_core::Address)>,
}

impl Names {
    /// A variable `prefix_name`.
    pub fn var(prefix: &str, name: &str) -> String {
        rust_ident(&format!("{prefix}_{name}"))
    }
}

impl PbsProvider {
    /// Everything `lab import` reads from this server.
    pub(super) async fn discover_server(
        &self,
        _ctx: &OpContext,
        instance: &str,
    ) -> Result<Discovery, ProviderError> {
        let mut out = Out::default();
        let mut names = Names {
            server: instance.to_string(),
            server_var: Names::var("pbs", instance),
            stores: Default::default(),
        };
        server::import(self, &names, &mut out).await?;
        let stores = sorted(self.listing("/config/datastore", "name").await?);
        datastore::import(self, &stores, &mut names, &mut out).await?;
        for (path, what) in [
            ("/config/prune", "prune"),
            ("/config/verify", "verify"),
            ("/config/sync", "sync"),
        ] {
            let list = sorted(self.listing(path, "id").await?);
            jobs::import(what, &list, &names, &mut out);
        }
        self.unexpressed(&mut out).await?;
        Ok(Discovery {
            blocks: out.blocks,
            findings: out.findings,
            uses: out.uses.into_iter().map(str::to_string).collect(),
        })
    }

    /// Users (but `root@pam`) and remotes, listed as findings.
    async fn unexpressed(&self, out: &mut Out) -> Result<(), ProviderError> {
        let users = sorted(self.listing("/access/users", "userid").await?);
        for (id, _) in users.iter().filter(|(id, _)| id != "root@pam") {
            out.findings.push(Finding::new(
                format!("user {id}"),
                "users, their tokens and ACLs are not imported yet: declare them with `User`, `Token` and `Acl`",
            ));
        }
        let remotes = sorted(self.listing("/config/remote", "name").await?);
        for (name, _) in &remotes {
            out.findings.push(Finding::new(
                format!("remote {name}"),
                "PBS never returns a remote's password: declare it with `Remote::new(..)` and its secret",
            ));
        }
        Ok(())
    }
}

/// A listing by key, sorted.
pub(super) fn sorted(
    m: std::collections::HashMap<String, serde_json::Map<String, serde_json::Value>>,
) -> Vec<(String, serde_json::Map<String, serde_json::Value>)> {
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// An encoding that cannot fail (the kinds' specs are plain serde types).
pub(super) fn attrs<T: serde::Serialize>(value: &T) -> lab_core::Attrs {
    lab_core::value::encode(value).unwrap_or_default()
}

/// `PbsRetention::default().last(3)..` for the counts that are set (PBS's
/// `Retention`, named apart from Proxmox VE's in the generated file).
pub(super) fn retention_code(counts: [(&str, Option<i64>); 6]) -> Option<String> {
    let set: Vec<String> = counts
        .iter()
        .filter_map(|(k, v)| {
            let f = k.trim_start_matches("keep-");
            v.map(|v| format!(".{f}({v})"))
        })
        .collect();
    (!set.is_empty()).then(|| format!("PbsRetention::default(){}", set.join("")))
}
