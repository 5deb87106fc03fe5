//! From a [`Lab`] to a [`Topology`]: the failure-domain facts the builders
//! wrote, read off their specs.
//!
//! | lab | topology |
//! |---|---|
//! | `appliance.*` | an appliance (its `kind` and `site`) |
//! | `proxmox.node.*` | a compute node failing with its `appliance` (its local disk), offering `memory_mb` and `cores` when the lab states them (`Node::cores`, `Node::memory_gb`) |
//! | `proxmox.vm.*`, `proxmox.ct.*` | a guest on its node; each disk (VM `disks`, CT `rootfs` and `mountpoints`) on its storage's appliance (`lab_proxmox::checks::appliance_of`: the storage's own, its NAS pool's, its one node's disk; else the guest's node's disk); rebuilt from config (no backup needed) when it waives `pbs::guest-not-backed-up` or a `talos.machine` runs in it |
//! | `proxmox.nas-pool.*` with `.data(..)`, or replicated | data of its own on the pool's appliance (a pool that only holds guest disks is covered by those guests; a replica holds none of its own), with its `capacity` |
//! | `pbs.server.*` | a backup server failing with its appliance, or with its guest's node and disks |
//! | `pbs.datastore.*` | a datastore on its appliance (its own, its NAS pool's; else its server's box), with its `keep-*` |
//! | `pbs.sync_job.*` with a `schedule` | a copy from its source datastore into its datastore |
//! | `pbs.nas_replication.*` | a copy of one pool onto another on its schedule |
//! | `pbs.target.*` | the RPO and retention targets of the guests and pools it `protects` |
//! | `proxmox.backup_job.*` (enabled) | a copy of the guests it selects (VMIDs by guest or number; all, on its node, minus `exclude`; a pool's members) into the datastore its `pbs` storage reads (`pbs_datastore`, set by `PveStorage`) |
//!
//! Every item keeps the line the user wrote: the declaration, or for a
//! datastore the line that placed it (`.on(..)`, `.nas_pool(..)`), which is
//! where a finding about its placement points. A job without a schedule
//! runs only by hand and copies nothing the analysis can count on.

use lab_core::{Address, ApplianceKind, Lab, ResourceSpec, Value};
use lab_proxmox::kinds as pve;

use super::gap::Schedule;
use super::topology::{
    ApplianceInfo, BackupJob, BackupServer, ComputeNode, Datastore, Guest, PoolData,
    PoolReplication, Retention, Selection, SyncJob, Topology,
};
use crate::kinds;

const GIB: u64 = 1 << 30;

/// The kind of PVE backup jobs (`/cluster/backup`).
const PVE_BACKUP_JOB: &str = pve::BACKUP_JOB;

/// The kind of lab-talos's machines, whose `vm` names the VM they run in.
const TALOS_MACHINE: &str = "talos.machine";

fn text<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a str> {
    spec.attrs.get(key).and_then(Value::as_str)
}

fn int(spec: &ResourceSpec, key: &str) -> Option<i64> {
    spec.attrs.get(key).and_then(Value::as_i64)
}

/// The `keep-*` attributes of a datastore or a backup target.
pub(crate) fn retention_of(spec: &ResourceSpec) -> Retention {
    let keep = |k: &str| int(spec, k).map(|n| n.clamp(0, i64::from(u32::MAX)) as u32);
    Retention {
        last: keep("keep-last"),
        hourly: keep("keep-hourly"),
        daily: keep("keep-daily"),
        weekly: keep("keep-weekly"),
        monthly: keep("keep-monthly"),
        yearly: keep("keep-yearly"),
    }
}

fn of_kind<'a>(lab: &'a Lab, kind: &'a str) -> impl Iterator<Item = &'a ResourceSpec> + 'a {
    lab.resources().filter(move |s| s.kind() == kind)
}

impl Topology {
    /// The topology the lab's builders describe (see the module docs for
    /// what is read from where).
    pub fn of_lab(lab: &Lab) -> Topology {
        let mut t = Topology::default();
        for spec in of_kind(lab, lab_core::Appliance::KIND) {
            let kind = text(spec, "kind")
                .and_then(ApplianceKind::parse)
                .unwrap_or(ApplianceKind::Other);
            let mut a = ApplianceInfo::new(spec.address.clone(), kind);
            a.site = text(spec, "site").map(str::to_string);
            a.loc = Some(spec.declared_at);
            t.appliances.push(a);
        }
        for spec in of_kind(lab, pve::NODE) {
            let Some(disk) = text(spec, "appliance").and_then(Address::parse) else {
                continue;
            };
            let memory = int(spec, "memory_mb").unwrap_or(0).max(0) as u64;
            let cores = int(spec, "cores")
                .unwrap_or(0)
                .clamp(0, i64::from(u32::MAX)) as u32;
            let mut n = ComputeNode::new(spec.address.clone(), disk, memory, cores);
            n.loc = Some(spec.declared_at);
            t.nodes.push(n);
        }
        // A Talos machine's VM is rebuilt from its machine config: it needs
        // no backup (its etcd has its own story; the lab's state holds the
        // secrets bundle).
        let talos_vms: Vec<Address> = of_kind(lab, TALOS_MACHINE)
            .filter_map(|m| match m.attrs.get("vm") {
                Some(Value::Ref(r)) => Some(r.address.clone()),
                _ => None,
            })
            .collect();
        for spec in lab
            .resources()
            .filter(|s| s.kind() == pve::VM || s.kind() == pve::CT)
        {
            if let Some(mut g) = guest(lab, spec) {
                g.rebuildable |= talos_vms.contains(&g.address);
                t.guests.push(g);
            }
        }
        // Pools at either end of a NAS replication take part even without
        // data of their own (a replica holds none: `used` 0).
        let replicated: Vec<&str> = of_kind(lab, kinds::NAS_REPLICATION)
            .flat_map(|r| [text(r, "from"), text(r, "to")])
            .flatten()
            .collect();
        for spec in of_kind(lab, pve::NAS_POOL) {
            let replica = replicated.contains(&spec.address.as_str());
            let (Some(appliance), Some(data_gb)) = (
                text(spec, "appliance").and_then(Address::parse),
                int(spec, "data_gb").or(replica.then_some(0)),
            ) else {
                continue;
            };
            let capacity = int(spec, "capacity_gb").map(|g| g.max(0) as u64 * GIB);
            let mut p = PoolData::new(spec.address.clone(), appliance);
            p.used_bytes = Some(data_gb.max(0) as u64 * GIB);
            p.capacity_bytes = capacity;
            p.loc = Some(spec.declared_at);
            t.pools.push(p);
        }
        for spec in of_kind(lab, kinds::SERVER) {
            let mut s = BackupServer::new(spec.address.clone(), server_fails_with(lab, spec));
            s.loc = Some(spec.declared_at);
            t.servers.push(s);
        }
        for spec in of_kind(lab, kinds::DATASTORE) {
            if let Some(d) = datastore(lab, spec) {
                t.datastores.push(d);
            }
        }
        for spec in of_kind(lab, kinds::SYNC_JOB) {
            let (Some(from), Some(to), Some(schedule)) = (
                text(spec, "source").and_then(Address::parse),
                text(spec, "datastore").and_then(Address::parse),
                text(spec, "schedule").and_then(|s| Schedule::parse(s).ok()),
            ) else {
                continue;
            };
            let mut j = SyncJob::new(spec.address.clone(), from, to, schedule);
            j.loc = Some(spec.declared_at);
            t.sync_jobs.push(j);
        }
        for spec in of_kind(lab, PVE_BACKUP_JOB) {
            if let Some(j) = backup_job(lab, spec) {
                t.backup_jobs.push(j);
            }
        }
        for spec in of_kind(lab, kinds::NAS_REPLICATION) {
            let (Some(from), Some(to), Some(schedule)) = (
                text(spec, "from").and_then(Address::parse),
                text(spec, "to").and_then(Address::parse),
                text(spec, "schedule").and_then(|s| Schedule::parse(s).ok()),
            ) else {
                continue;
            };
            let mut r = PoolReplication::new(spec.address.clone(), from, to, schedule);
            r.loc = Some(spec.declared_at);
            t.replications.push(r);
        }
        for spec in of_kind(lab, kinds::TARGET) {
            apply_target(&mut t, spec);
        }
        t
    }
}

/// A VM or container as a guest: its node, size and disks' appliances.
fn guest(lab: &Lab, spec: &ResourceSpec) -> Option<Guest> {
    let node = Address::new(pve::NODE, text(spec, "node")?);
    let node_disk = lab
        .resource(&node)
        .and_then(|n| text(n, "appliance"))
        .and_then(Address::parse);
    let memory = int(spec, "memory_mb").unwrap_or(0).max(0) as u64;
    let cores = int(spec, "cores")
        .unwrap_or(1)
        .clamp(0, i64::from(u32::MAX)) as u32;
    let mut g = Guest::new(spec.address.clone(), node, memory, cores);
    g.loc = Some(spec.declared_at);
    g.rebuildable = spec
        .waivers
        .iter()
        .any(|w| w.code == super::checks::GUEST_NOT_BACKED_UP);
    let mut disks: Vec<&Value> = Vec::new();
    if let Some(Value::List(list)) = spec.attrs.get("disks") {
        disks.extend(list);
    }
    if let Some(root) = spec.attrs.get("rootfs") {
        disks.push(root);
    }
    if let Some(Value::List(list)) = spec.attrs.get("mountpoints") {
        disks.extend(list);
    }
    for disk in disks {
        let Value::Map(disk) = disk else { continue };
        let storage = disk.get("storage").and_then(Value::as_str);
        let appliance = storage
            .and_then(|id| lab.resource(&Address::new(pve::STORAGE, id)))
            .and_then(|s| lab_proxmox::checks::appliance_of(lab, s))
            .or_else(|| node_disk.clone());
        let Some(appliance) = appliance else { continue };
        let gib = disk.get("size_gb").and_then(Value::as_i64).unwrap_or(0);
        g.disks.push(super::topology::Disk {
            appliance,
            bytes: gib.max(0) as u64 * GIB,
        });
    }
    Some(g)
}

/// The appliances whose loss takes a PBS server down: its own box, or the
/// node and disks of the guest it runs in.
fn server_fails_with(lab: &Lab, spec: &ResourceSpec) -> Vec<Address> {
    if let Some(a) = text(spec, "appliance").and_then(Address::parse) {
        return vec![a];
    }
    let Some(g) = text(spec, "guest")
        .and_then(Address::parse)
        .and_then(|g| lab.resource(&g))
        .and_then(|g| guest(lab, g))
    else {
        return crate::checks::appliance_of(lab, spec).into_iter().collect();
    };
    let mut fails: Vec<Address> = lab
        .resource(&g.node)
        .and_then(|n| text(n, "appliance"))
        .and_then(Address::parse)
        .into_iter()
        .collect();
    for d in g.disks {
        if !fails.contains(&d.appliance) {
            fails.push(d.appliance);
        }
    }
    fails
}

/// A datastore on its appliance (its own, its NAS pool's, else its
/// server's box), with its retention.
fn datastore(lab: &Lab, spec: &ResourceSpec) -> Option<Datastore> {
    // `server` holds the server's address (`pbs.server.primary`).
    let server = text(spec, "server")
        .and_then(|s| Address::parse(s).or_else(|| Some(Address::new(kinds::SERVER, s))))?;
    let placed = crate::checks::appliance_of(lab, spec);
    let appliance = match &placed {
        Some(a) => a.clone(),
        None => server_fails_with(lab, lab.resource(&server)?)
            .into_iter()
            .next()?,
    };
    let mut d = Datastore::new(spec.address.clone(), server, appliance);
    d.retention = retention_of(spec);
    d.capacity_bytes = int(spec, "capacity-gb").map(|g| g.max(0) as u64 * GIB);
    d.loc = Some(if spec.field_locs.contains_key("appliance") {
        spec.loc_of("appliance")
    } else {
        spec.loc_of("pool")
    });
    Some(d)
}

/// A PVE backup job writing to a `pbs` storage whose datastore the lab
/// declares (`PveStorage` records it): which guests it selects, into which
/// datastore, when. A disabled job copies nothing.
fn backup_job(lab: &Lab, spec: &ResourceSpec) -> Option<BackupJob> {
    if spec.attrs.get("enabled").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let schedule = Schedule::parse(text(spec, "schedule")?).ok()?;
    let storage = lab.resource(&Address::new(pve::STORAGE, text(spec, "storage")?))?;
    let datastore = text(storage, "pbs_datastore").and_then(Address::parse)?;
    let guests: Vec<&ResourceSpec> = lab
        .resources()
        .filter(|s| s.kind() == pve::VM || s.kind() == pve::CT)
        .collect();
    // A VMID list names guests by their `vmid` output, or by number.
    let named = |key: &str| -> Vec<Address> {
        let Some(Value::List(items)) = spec.attrs.get(key) else {
            return Vec::new();
        };
        items
            .iter()
            .flat_map(|v| match v {
                Value::Ref(r) => vec![r.address.clone()],
                Value::Int(n) => guests
                    .iter()
                    .filter(|g| int(g, "vmid") == Some(*n))
                    .map(|g| g.address.clone())
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let exclude = named("exclude");
    let on_node =
        |g: &&&ResourceSpec| text(spec, "node").is_none_or(|n| text(g, "node") == Some(n));
    let selection = if spec.attrs.get("all").and_then(Value::as_bool) == Some(true) {
        if text(spec, "node").is_some() {
            Selection::Only(
                guests
                    .iter()
                    .filter(on_node)
                    .map(|g| g.address.clone())
                    .filter(|a| !exclude.contains(a))
                    .collect(),
            )
        } else if exclude.is_empty() {
            Selection::All
        } else {
            Selection::AllExcept(exclude)
        }
    } else if let Some(pool) = text(spec, "pool") {
        Selection::Only(
            guests
                .iter()
                .filter(|g| text(g, "pool") == Some(pool))
                .filter(on_node)
                .map(|g| g.address.clone())
                .collect(),
        )
    } else {
        Selection::Only(named("vmids"))
    };
    let mut j = BackupJob::new(spec.address.clone(), selection, datastore, schedule);
    j.loc = Some(spec.declared_at);
    Some(j)
}

/// Puts a backup target's RPO and retention on the guests and pools it
/// protects (a later target wins where two name one item).
fn apply_target(t: &mut Topology, spec: &ResourceSpec) {
    let rpo = int(spec, "rpo_seconds").map(|s| std::time::Duration::from_secs(s.max(0) as u64));
    let retention = retention_of(spec);
    let retention = (!retention.keeps_all()).then_some(retention);
    let Some(Value::List(items)) = spec.attrs.get("protects") else {
        return;
    };
    for item in items
        .iter()
        .filter_map(Value::as_str)
        .filter_map(Address::parse)
    {
        if let Some(g) = t.guests.iter_mut().find(|g| g.address == item) {
            g.rpo_target = rpo.or(g.rpo_target);
            g.retention_target = retention.or(g.retention_target);
        }
        if let Some(p) = t.pools.iter_mut().find(|p| p.address == item) {
            p.rpo_target = rpo.or(p.rpo_target);
            p.retention_target = retention.or(p.retention_target);
        }
    }
}
