//! The plan-time rules: the planned steps against the cluster as it is now.
//!
//! `check` sees the code; it cannot see that the cluster has no node
//! `pve3`, that `local-lvm` has 80 GiB left, or that an existing template's
//! disks sit on `local-lvm` of another node. After the refresh the provider
//! reads those facts once ([`World`], from `GET /nodes`,
//! `GET /nodes/{node}/storage` per online node and the config of each
//! existing template cloned across nodes) and [`check`] compares every
//! create, update and replace with them. Each finding is labelled at the
//! builder call in the user's code, like the offline rules', so the plan
//! stops there instead of Proxmox refusing halfway through the apply.
//!
//! The rules are pure (no I/O): tests give them a [`World`] directly.

use std::collections::BTreeMap;

use lab_core::plan::{Action, PlanStep};
use lab_core::{Diagnostic, Lab, Loc, PlanCheck, ResourceSpec};

use super::read::{by_address, node, storage, storage_uses, text, StorageUse};
use super::{CLONE_ACROSS_NODES, CLUSTER_CONTENT, NODE_MISSING, STORAGE_FULL, STORAGE_MISSING};
use crate::kinds;

/// What the cluster reports, read once per plan.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// Its nodes, as `GET /nodes` lists them.
    pub nodes: Vec<WorldNode>,
    /// The storages holding the disks of existing templates cloned across
    /// nodes, by (node, VMID).
    pub template_storages: BTreeMap<(String, i64), Vec<String>>,
}

/// One node of the cluster.
#[derive(Clone, Debug)]
pub struct WorldNode {
    /// Its name.
    pub name: String,
    /// Its storages as it reports them (`GET /nodes/{node}/storage`);
    /// `None` when it could not say (offline).
    pub storages: Option<Vec<WorldStorage>>,
    /// Its bridges (`GET /nodes/{node}/network?type=any_bridge`), read
    /// only when the plan creates or changes a VLAN SDN zone; `None`: not
    /// read, or offline.
    pub bridges: Option<Vec<WorldBridge>>,
    /// Its Proxmox VE version (`GET /nodes/{node}/version`: `9.1.2`), read
    /// only when the plan pulls an OCI image or writes a container's
    /// `entrypoint`/`env` there; `None`: not read, or offline.
    pub version: Option<String>,
}

/// One bridge as a node reports it.
#[derive(Clone, Debug)]
pub struct WorldBridge {
    /// Its name (`vmbr0`).
    pub name: String,
    /// `bridge_vlan_aware` set.
    pub vlan_aware: bool,
}

/// One storage as a node reports it.
#[derive(Clone, Debug)]
pub struct WorldStorage {
    /// The storage id.
    pub id: String,
    /// Its content types.
    pub content: Vec<String>,
    /// Shared between the nodes (NFS, Ceph, ...).
    pub shared: bool,
    /// Enabled and active on this node.
    pub usable: bool,
    /// Free space in bytes, when reported.
    pub avail: Option<u64>,
}

const GIB: u64 = 1 << 30;

impl World {
    pub(super) fn node(&self, name: &str) -> Option<&WorldNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The storage `id` as node `on` reports it.
    fn storage_on(&self, on: &str, id: &str) -> Option<&WorldStorage> {
        self.node(on)?
            .storages
            .as_ref()?
            .iter()
            .find(|s| s.id == id)
    }

    /// The nodes that report storage `id`.
    fn nodes_with(&self, id: &str) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| {
                n.storages
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|s| s.id == id))
            })
            .map(|n| n.name.as_str())
            .collect()
    }

    fn node_names(&self) -> String {
        let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        names.join(", ")
    }
}

/// Every plan-time finding for `plan`'s steps against `world`.
pub fn check(plan: &PlanCheck<'_>, world: &World) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let steps: Vec<(&PlanStep, &ResourceSpec)> = plan
        .steps
        .iter()
        .filter_map(|s| Some((*s, plan.spec(s)?)))
        .collect();
    node_missing(plan.lab, &steps, world, &mut out);
    storages(plan.lab, &steps, world, &mut out);
    storage_full(plan.lab, &steps, world, &mut out);
    clone_across_nodes(plan.lab, &steps, world, &mut out);
    super::sdn::bridges(plan.lab, &steps, world, &mut out);
    super::oci::unsupported(&steps, world, &mut out);
    out
}

/// The existing (not created by the lab) storage `id` as the code declares
/// it, and whether the lab creates it.
fn created_by_lab(lab: &Lab, id: &str) -> bool {
    storage(lab, id).is_some_and(|s| s.managed)
}

fn declared_node(lab: &Lab, name: &str, d: Diagnostic) -> Diagnostic {
    match node(lab, name) {
        Some(n) => d.with_label(n.declared_at, format!("node `{name}` declared here")),
        None => d,
    }
}

fn node_missing(
    lab: &Lab,
    steps: &[(&PlanStep, &ResourceSpec)],
    world: &World,
    out: &mut Vec<Diagnostic>,
) {
    for (_, spec) in steps {
        let mut places: Vec<(&str, Loc)> = Vec::new();
        if let Some(on) = text(spec, "node") {
            places.push((on, spec.loc_of("node")));
        }
        if spec.kind() == kinds::STORAGE {
            for on in super::read::strs(spec, "nodes") {
                places.push((on, spec.loc_of("nodes")));
            }
        }
        for (on, loc) in places {
            if world.node(on).is_some() {
                continue;
            }
            let d = Diagnostic::error(
                NODE_MISSING,
                format!(
                    "`{}` is on node `{on}`, which the cluster does not have (its nodes: {})",
                    spec.address,
                    world.node_names()
                ),
            )
            .for_resource(&spec.address)
            .with_label(loc, format!("on `{on}` here"))
            .with_help(format!(
                "put it on one of the cluster's nodes ({}), or join `{on}` to the cluster \
                 (pvecm add) before applying",
                world.node_names()
            ));
            out.push(declared_node(lab, on, d));
        }
    }
}

/// `storage-missing` and `cluster-storage-content`: each use of a storage
/// the lab does not create, against what the guest's node reports.
fn storages(
    lab: &Lab,
    steps: &[(&PlanStep, &ResourceSpec)],
    world: &World,
    out: &mut Vec<Diagnostic>,
) {
    for (_, spec) in steps {
        let Some(on) = text(spec, "node") else {
            continue;
        };
        // A node the cluster lacks is reported once, above; an offline one
        // cannot say what it has.
        let Some(listed) = world.node(on).and_then(|n| n.storages.as_ref()) else {
            continue;
        };
        for u in storage_uses(spec) {
            if created_by_lab(lab, u.storage) {
                continue;
            }
            let declared = storage(lab, u.storage);
            match listed.iter().find(|s| s.id == u.storage) {
                Some(s) if s.usable => {
                    if !s.content.iter().any(|c| c == u.needs) {
                        out.push(content_missing(spec, &u, on, s, declared));
                    }
                }
                found => out.push(storage_missing(
                    spec,
                    &u,
                    on,
                    found.is_some(),
                    world,
                    declared,
                )),
            }
        }
    }
}

fn content_missing(
    spec: &ResourceSpec,
    u: &StorageUse<'_>,
    on: &str,
    s: &WorldStorage,
    declared: Option<&ResourceSpec>,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        CLUSTER_CONTENT,
        format!(
            "`{}`: {} is on storage `{}`, which the cluster reports does not allow `{}` \
             content on `{on}` (it allows {})",
            spec.address,
            u.what,
            u.storage,
            u.needs,
            if s.content.is_empty() {
                "nothing".to_string()
            } else {
                s.content.join(", ")
            }
        ),
    )
    .for_resource(&spec.address)
    .with_label(u.loc, format!("{} on `{}`", u.what, u.storage));
    if let Some(st) = declared {
        d = d.with_label(
            st.loc_of("content"),
            format!("`{}` declared here", u.storage),
        );
    }
    d.with_help(format!(
        "put it on a storage that allows `{}`, or enable it on `{}` first (Datacenter → \
         Storage, or `pvesm set {} --content {},{}`)",
        u.needs,
        u.storage,
        u.storage,
        s.content.join(","),
        u.needs
    ))
}

fn storage_missing(
    spec: &ResourceSpec,
    u: &StorageUse<'_>,
    on: &str,
    disabled: bool,
    world: &World,
    declared: Option<&ResourceSpec>,
) -> Diagnostic {
    let elsewhere = world.nodes_with(u.storage);
    let (message, help) = if disabled {
        (
            format!(
                "`{}`: {} is on storage `{}`, which is disabled or inactive on node `{on}`",
                spec.address, u.what, u.storage
            ),
            format!(
                "enable `{}` on `{on}` (pvesm set {} --disable 0) or use another storage",
                u.storage, u.storage
            ),
        )
    } else if elsewhere.is_empty() {
        (
            format!(
                "`{}`: {} is on storage `{}`, which no node of the cluster has",
                spec.address, u.what, u.storage
            ),
            format!(
                "`Storage::existing(\"{}\")` names a storage the cluster must already have: \
                 create it (Datacenter → Storage), fix the id, or declare a storage the lab \
                 creates",
                u.storage
            ),
        )
    } else {
        (
            format!(
                "`{}`: {} is on storage `{}`, which node `{on}` does not have (the cluster has \
                 it on {})",
                spec.address,
                u.what,
                u.storage,
                elsewhere.join(", ")
            ),
            format!(
                "use a storage `{on}` has, or put the resource on {}",
                elsewhere.join(" or ")
            ),
        )
    };
    let mut d = Diagnostic::error(STORAGE_MISSING, message)
        .for_resource(&spec.address)
        .with_label(u.loc, format!("{} on `{}`", u.what, u.storage));
    if let Some(st) = declared {
        d = d.with_label(st.declared_at, format!("`{}` declared here", u.storage));
    }
    d.with_help(help)
}

/// Where new space is taken: a local storage per node, a shared one once.
type SpaceKey = (String, Option<String>);

/// One new disk counted against a storage.
struct Claim {
    gib: i64,
    loc: Loc,
    text: String,
    address: lab_core::Address,
}

/// The space `attrs` of a guest (as recorded) take, per storage and key.
fn recorded_uses(kind: &str, attrs: &lab_core::Attrs) -> Vec<(String, String, i64)> {
    let mut spec = ResourceSpec::new(kind, "recorded");
    spec.attrs = attrs.clone();
    storage_uses(&spec)
        .into_iter()
        .map(|u| (u.storage.to_string(), u.key, u.size_gb.unwrap_or(0)))
        .collect()
}

fn storage_full(
    lab: &Lab,
    steps: &[(&PlanStep, &ResourceSpec)],
    world: &World,
    out: &mut Vec<Diagnostic>,
) {
    let mut claims: BTreeMap<SpaceKey, Vec<Claim>> = BTreeMap::new();
    for (step, spec) in steps {
        let Some(on) = text(spec, "node") else {
            continue;
        };
        // What the old object frees before the new one is made: an update
        // grows in place, a replace that deletes first frees it all.
        let frees = matches!(step.action, Action::Update)
            || (step.action == Action::Replace && !step.create_before_destroy);
        let before: Vec<(String, String, i64)> = match (&step.prior, frees) {
            (Some(p), true) if p.attrs.get("node").and_then(|v| v.as_str()) == Some(on) => {
                recorded_uses(spec.kind(), &p.attrs)
            }
            _ => Vec::new(),
        };
        for u in storage_uses(spec) {
            let Some(new) = u.size_gb else { continue };
            let old: i64 = before
                .iter()
                .filter(|(s, k, _)| s == u.storage && *k == u.key)
                .map(|(_, _, g)| *g)
                .sum();
            let gib = new - old;
            if gib <= 0 {
                continue;
            }
            let Some(s) = world.storage_on(on, u.storage) else {
                continue;
            };
            let key = (u.storage.to_string(), (!s.shared).then(|| on.to_string()));
            claims.entry(key).or_default().push(Claim {
                gib,
                loc: u.loc,
                text: if old > 0 {
                    format!("{} grows by {gib} GiB", u.what)
                } else {
                    format!("{} takes {gib} GiB", u.what)
                },
                address: spec.address.clone(),
            });
        }
    }
    for ((id, on), mut list) in claims {
        // In the order of the user's code.
        list.sort_by_key(|c| (c.loc.file(), c.loc.line(), c.loc.column()));
        let reporter = match &on {
            Some(n) => world.storage_on(n, &id),
            None => world
                .nodes
                .iter()
                .find_map(|n| world.storage_on(&n.name, &id)),
        };
        let Some(avail) = reporter.and_then(|s| s.avail) else {
            continue;
        };
        let need: i64 = list.iter().map(|c| c.gib).sum();
        let need_bytes = u64::try_from(need).unwrap_or(0).saturating_mul(GIB);
        if need_bytes <= avail {
            continue;
        }
        let place = match &on {
            Some(n) => format!("`{id}` on `{n}`"),
            None => format!("`{id}` (shared)"),
        };
        let free_gib = avail as f64 / GIB as f64;
        let first = &list[0];
        let mut d = Diagnostic::error(
            STORAGE_FULL,
            format!(
                "the new disks on {place} need {need} GiB; the cluster reports {free_gib:.1} GiB \
                 free there"
            ),
        )
        .for_resource(&first.address);
        for c in &list {
            d = d.with_label(c.loc, c.text.clone());
        }
        if let Some(st) = storage(lab, &id) {
            d = d.with_label(st.declared_at, format!("`{id}` declared here"));
        }
        out.push(d.with_help(format!(
            "make the disks smaller, spread them over other storages or nodes, or free space on \
             {place} first; a thin pool that may be overcommitted on purpose can waive it: \
             .waive(\"{STORAGE_FULL}\", \"why\")"
        )));
    }
}

fn clone_across_nodes(
    lab: &Lab,
    steps: &[(&PlanStep, &ResourceSpec)],
    world: &World,
    out: &mut Vec<Diagnostic>,
) {
    for (step, spec) in steps {
        if spec.kind() != kinds::VM || !matches!(step.action, Action::Create | Action::Replace) {
            continue;
        }
        let (Some(on), Some(template)) = (
            text(spec, "node"),
            text(spec, "clone_from").and_then(|a| by_address(lab, a)),
        ) else {
            continue;
        };
        let Some(from) = text(template, "node") else {
            continue;
        };
        if from == on {
            continue;
        }
        let sources: Vec<String> = if template.managed {
            text(template, "storage")
                .map(|s| vec![s.to_string()])
                .unwrap_or_default()
        } else {
            let vmid = super::read::int(template, "vmid").unwrap_or(0);
            world
                .template_storages
                .get(&(from.to_string(), vmid))
                .cloned()
                .unwrap_or_default()
        };
        let local: Vec<&String> = sources
            .iter()
            .filter(|s| world.storage_on(from, s).is_some_and(|s| !s.shared))
            .collect();
        let target = super::read::maps(spec, "disks")
            .first()
            .and_then(|m| super::read::field(m, "storage"))
            .filter(|s| world.storage_on(on, s).is_some_and(|s| !s.shared));
        let problem = match (local.first(), target) {
            (Some(l), _) => format!(
                "its template `{}` on `{from}` has its disks on `{l}`, local to `{from}`",
                template.name()
            ),
            (None, Some(t)) => format!("its first disk goes to `{t}`, local to `{on}`"),
            (None, None) => continue,
        };
        out.push(
            Diagnostic::error(
                CLONE_ACROSS_NODES,
                format!(
                    "`{}` is a clone on `{on}` of a template on `{from}`, but {problem}; Proxmox \
                     clones across nodes only from and to shared storage",
                    spec.address
                ),
            )
            .for_resource(&spec.address)
            .with_label(spec.loc_of("clone_from"), "cloned here")
            .with_label(spec.loc_of("node"), format!("on `{on}` here"))
            .with_label(
                template.declared_at,
                format!("template on `{from}` declared here"),
            )
            .with_help(format!(
                "put the VM on `{from}`, give `{on}` its own template, or keep the template's \
                 disks and the clone's target on shared storage (NFS, Ceph)"
            )),
        );
    }
}
