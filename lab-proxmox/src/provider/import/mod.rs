//! `lab import` for Proxmox VE ([`lab_core::import`]): the cluster read
//! once (nodes and their bridges, `/storage`, `/pools`, the guests of
//! `/cluster/resources` with their configs, `/cluster/backup`) and written
//! as the builders a user would write, one file per kind.
//!
//! What each object becomes:
//!
//! | object | code | state |
//! |---|---|---|
//! | node | `Node::new(name).bridge(..)` (the bridges of `/nodes/{node}/network`) | model only |
//! | NFS storage | `NasPool::new(..)` + `Storage::nfs(id, &pool)` | bound (managed) |
//! | other storage (PBS too) | `Storage::existing(id).content(..).node(..)` | model only |
//! | pool | `Pool::new(id).comment(..)` | bound |
//! | template | `Template::existing(name, &node, vmid)` | model only |
//! | VM, container | `Vm::new` / `Container::new` with every setting the config holds | bound, by VMID |
//! | backup job | `BackupJob::new(id, &storage, schedule)` and its selection | bound |
//!
//! The no-change guarantee: a bound resource's state entry is the
//! provider's own read of the object (the same `normalize` / `observe`
//! functions a refresh runs), and its code sets exactly the fields that
//! read holds; a guest found without a description gets `.no_notes()`,
//! so the short note is not written into it. Objects created outside lab
//! carry no ownership tag: the state marks such a guest `imported`
//! (an output), and the refresh takes it by its VMID alone until the first
//! update stamps the tag and marker. So the first apply after an import
//! changes nothing. An object whose settings the builders cannot say
//! exactly (a NIC model other than virtio, a CD-ROM, an unusual boot
//! order, a feature other than nesting/keyctl, a guest of another lab) is
//! a [`Finding`], never code that would plan a change.
//!
//! Not expressible yet (findings): storage ids and guest names that are
//! not lab names after `-` replaces dots, guests whose settings are listed
//! above, SDN, firewall, downloaded files (a template's or container's
//! source is not recorded by PVE: a container's OS template is guessed and
//! said so). A PBS storage is used as it is (`Storage::existing`): PVE
//! never returns its token secret, so lab cannot write it.

mod backup_job;
mod ct;
mod guest;
mod node;
mod pool;
mod storage;
mod template;
mod unexpressed;
mod vm;

use std::collections::{BTreeMap, BTreeSet};

pub(super) use lab_core::import::Chain;
use lab_core::import::{rust_ident, rust_str, Discovery, Finding, ImportBlock};
use lab_core::provider::{OpContext, ProviderError};
use lab_core::Address;
use serde_json::{Map, Value as Json};

use super::{err, normalize, ProxmoxProvider};
use crate::api::ClusterResource;

/// Ranks in the generated file: what a block refers to comes first.
pub(super) const ORDER_NODE: u32 = 0;
pub(super) const ORDER_STORAGE: u32 = 1;
pub(super) const ORDER_POOL: u32 = 2;
pub(super) const ORDER_TEMPLATE: u32 = 3;
pub(super) const ORDER_GUEST: u32 = 4;
pub(super) const ORDER_JOB: u32 = 5;

/// What one read of the cluster found.
pub(super) struct World {
    /// Node names, sorted, with their bridges.
    pub nodes: BTreeMap<String, Vec<String>>,
    /// `/storage`, sorted by id.
    pub storages: Vec<(String, Map<String, Json>)>,
    /// `/pools`, sorted by id.
    pub pools: Vec<(String, Map<String, Json>)>,
    /// The guests, sorted by VMID.
    pub guests: Vec<ClusterResource>,
    /// `/cluster/backup`, sorted by id.
    pub jobs: Vec<(String, Map<String, Json>)>,
    /// Container templates (`vztmpl` volume ids) on every storage, sorted.
    pub vztmpls: BTreeSet<String>,
}

/// The variables of what was imported so far, by the service's names.
#[derive(Default)]
pub(super) struct Names {
    pub nodes: BTreeMap<String, String>,
    pub storages: BTreeMap<String, String>,
    pub pools: BTreeMap<String, String>,
    /// Guests (VMs, containers and templates) by VMID: (variable, address).
    pub guests: BTreeMap<i64, (String, Address)>,
    taken: BTreeSet<String>,
}

impl Names {
    /// A variable `prefix_name`, made unique.
    pub fn var(&mut self, prefix: &str, name: &str) -> String {
        let base = rust_ident(&format!("{prefix}_{name}"));
        let mut v = base.clone();
        let mut n = 2;
        while !self.taken.insert(v.clone()) {
            v = format!("{base}_{n}");
            n += 1;
        }
        v
    }
}

/// What the import of one kind adds.
#[derive(Default)]
pub(super) struct Out {
    pub blocks: Vec<ImportBlock>,
    pub findings: Vec<Finding>,
    pub uses: BTreeSet<&'static str>,
}

/// A lab resource name for a service's name: dots become `-`; `None`
/// when that is still not a name.
pub(super) fn lab_name(name: &str) -> Option<String> {
    let n = name.replace('.', "-");
    lab_core::address::name_problem(&n).is_none().then_some(n)
}

/// `"text"`.
pub(super) fn lit(text: &str) -> String {
    rust_str(text)
}

/// `&["a", "b"]`.
pub(super) fn lit_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| lit(s)).collect();
    format!("&[{}]", inner.join(", "))
}

/// An encoding that cannot fail (the kinds' specs are plain serde types).
pub(super) fn attrs<T: serde::Serialize>(value: &T) -> lab_core::Attrs {
    lab_core::value::encode(value).unwrap_or_default()
}

impl ProxmoxProvider {
    /// Everything `lab import` reads, then the blocks of every kind.
    pub(super) async fn discover_cluster(
        &self,
        _ctx: &OpContext,
    ) -> Result<Discovery, ProviderError> {
        let world = self.read_world().await?;
        let mut names = Names::default();
        let mut out = Out::default();
        node::import(&world, &mut names, &mut out);
        storage::import(&world, &mut names, &mut out);
        pool::import(&world, &mut names, &mut out);
        guest::import(self, &world, &mut names, &mut out).await?;
        backup_job::import(&world, &mut names, &mut out);
        unexpressed::import(self, &mut out).await?;
        Ok(Discovery {
            blocks: out.blocks,
            findings: out.findings,
            uses: out.uses.into_iter().map(str::to_string).collect(),
        })
    }

    async fn read_world(&self) -> Result<World, ProviderError> {
        let listed: Vec<Map<String, Json>> = self.client.get("/nodes", &[]).await.map_err(err)?;
        let mut nodes = BTreeMap::new();
        for n in &listed {
            let Some(name) = normalize::text(n, "node") else {
                continue;
            };
            let ifaces: Vec<Map<String, Json>> = self
                .client
                .get(
                    &crate::api::path(&["nodes", &name, "network"]),
                    &[("type", "bridge".to_string())],
                )
                .await
                .map_err(err)?;
            let mut bridges: Vec<String> = ifaces
                .iter()
                .filter_map(|i| normalize::text(i, "iface"))
                .collect();
            bridges.sort();
            nodes.insert(name, bridges);
        }
        let sorted = |m: std::collections::HashMap<String, Map<String, Json>>| {
            let mut v: Vec<_> = m.into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let storages = sorted(self.listing("/storage", "storage").await?);
        let pools = sorted(self.listing("/pools", "poolid").await?);
        let jobs = sorted(self.listing("/cluster/backup", "id").await?);
        let mut guests: Vec<ClusterResource> = self
            .resources()
            .await?
            .into_iter()
            .filter(|r| r.is_guest() && r.vmid.is_some())
            .collect();
        guests.sort_by_key(|r| r.vmid);
        let mut vztmpls = BTreeSet::new();
        for node in nodes.keys() {
            for (id, s) in &storages {
                let content = normalize::text(s, "content").unwrap_or_default();
                let on_node =
                    normalize::text(s, "nodes").is_none_or(|ns| ns.split(',').any(|n| n == node));
                if content.split(',').any(|c| c == "vztmpl") && on_node {
                    vztmpls.extend(
                        self.volids(node, id)
                            .await?
                            .into_iter()
                            .filter(|v| v.contains(":vztmpl/")),
                    );
                }
            }
        }
        Ok(World {
            nodes,
            storages,
            pools,
            guests,
            jobs,
            vztmpls,
        })
    }
}
