//! The drill's calls: reading what it needs (the original, the `pbs`
//! storages and their snapshots, the nodes and their storages, a scratch
//! VMID), then restore, start, check, stop and remove, with the clean-up
//! that runs whatever step failed.
//!
//! Every call to the original guest is a read (`config`, `status/current`);
//! every write names the scratch VMID, which [`prepare`] refuses to be the
//! original's.

use std::time::{Duration, Instant};

use lab_core::state::State;
use lab_core::{Lab, OpContext};

use crate::failures::Topology;
use lab_proxmox::api::lenient::{as_i64_lenient, as_string_lenient, as_u64_lenient};
use lab_proxmox::api::{path, ApiError, Form};
use serde_json::Value;

use super::resolve::{self, LabGuest, Wanted};
use super::{
    api, Cleanup, DrillError, DrillOptions, DrillProgress, DrillSource, GuestDrill, GuestType,
    OriginalCheck, Pve, SourceChoice, Step, StepTiming,
};

/// PBS's default port, as PVE's `pbs` storage assumes it.
const PBS_PORT: i64 = 8007;
/// How long `status/current` may take to say `running` after the start
/// task ended.
const RUNNING_WITHIN: Duration = Duration::from_secs(10);

/// Everything [`execute`] needs, read by [`prepare`].
pub(crate) struct Plan {
    vmid: u32,
    node: String,
    target_storage: String,
    volid: String,
    snapshot_time: i64,
    size: u64,
    source: DrillSource,
    original_vmid: u32,
    original_node: String,
    original: (String, String),
    prepare_took: Duration,
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(as_string_lenient)
}

fn u(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(as_u64_lenient)
}

/// The original's config and status (reads only).
async fn read_original(
    client: &Pve,
    node: &str,
    gt: GuestType,
    vmid: u32,
) -> Result<(Value, String), ApiError> {
    let id = vmid.to_string();
    let config: Value = client
        .get(&path(&["nodes", node, gt.api(), &id, "config"]), &[])
        .await?;
    let status: Value = client
        .get(
            &path(&["nodes", node, gt.api(), &id, "status", "current"]),
            &[],
        )
        .await?;
    Ok((config, s(&status, "status").unwrap_or_default()))
}

/// The original's config digest and status.
async fn original_state(
    client: &Pve,
    node: &str,
    gt: GuestType,
    vmid: u32,
) -> Result<(String, String), ApiError> {
    let (config, status) = read_original(client, node, gt, vmid).await?;
    Ok((s(&config, "digest").unwrap_or_default(), status))
}

/// One `pbs` storage of the cluster (`GET /storage`).
struct PbsStorage {
    id: String,
    datastore: String,
    server: String,
    port: i64,
    nodes: Vec<String>,
}

impl PbsStorage {
    fn available_on(&self, node: &str) -> bool {
        self.nodes.is_empty() || self.nodes.iter().any(|n| n == node)
    }
    fn describe(&self) -> String {
        format!(
            "{}: {}:{}/{}",
            self.id, self.server, self.port, self.datastore
        )
    }
}

async fn pbs_storages(client: &Pve) -> Result<Vec<PbsStorage>, DrillError> {
    let all: Vec<Value> = client
        .get("/storage", &[])
        .await
        .map_err(api("reading the cluster's storages (GET /storage)"))?;
    Ok(all
        .iter()
        .filter(|v| s(v, "type").as_deref() == Some("pbs"))
        .filter(|v| u(v, "disable").unwrap_or(0) == 0)
        .filter_map(|v| {
            Some(PbsStorage {
                id: s(v, "storage")?,
                datastore: s(v, "datastore").unwrap_or_default(),
                server: s(v, "server").unwrap_or_default(),
                port: v.get("port").and_then(as_i64_lenient).unwrap_or(PBS_PORT),
                nodes: s(v, "nodes")
                    .map(|n| n.split(',').map(|x| x.trim().to_string()).collect())
                    .unwrap_or_default(),
            })
        })
        .collect())
}

/// The storages that may hold the copy `wanted` names.
fn candidates(storages: Vec<PbsStorage>, wanted: &Wanted) -> Result<Vec<PbsStorage>, DrillError> {
    let listing = || {
        storages
            .iter()
            .map(PbsStorage::describe)
            .collect::<Vec<_>>()
    };
    match wanted {
        Wanted::Datastore {
            name,
            host,
            port,
            lab_storages,
            ..
        } => {
            let what = match host {
                Some(h) => format!("datastore '{name}' on {h}:{}", port.unwrap_or(PBS_PORT)),
                None => format!("datastore '{name}'"),
            };
            let list = listing();
            let found: Vec<PbsStorage> = storages
                .into_iter()
                .filter(|st| st.datastore == *name)
                .filter(|st| {
                    if lab_storages.is_empty() {
                        host.as_ref().is_none_or(|h| st.server == *h)
                            && port.is_none_or(|p| st.port == p)
                    } else {
                        lab_storages.contains(&st.id)
                    }
                })
                .collect();
            if found.is_empty() {
                return Err(DrillError::NoPbsStorage {
                    what,
                    storages: list,
                });
            }
            Ok(found)
        }
        Wanted::Named(x) => {
            let (by_id, rest): (Vec<PbsStorage>, Vec<PbsStorage>) =
                storages.into_iter().partition(|st| st.id == *x);
            if !by_id.is_empty() {
                return Ok(by_id);
            }
            let by_store: Vec<PbsStorage> =
                rest.into_iter().filter(|st| st.datastore == *x).collect();
            if by_store.is_empty() {
                return Err(DrillError::UnknownSource(x.clone()));
            }
            Ok(by_store)
        }
        Wanted::Newest(ids) => {
            let list = listing();
            let found: Vec<PbsStorage> = if ids.is_empty() {
                storages
            } else {
                storages
                    .into_iter()
                    .filter(|st| ids.contains(&st.id))
                    .collect()
            };
            if found.is_empty() {
                return Err(DrillError::NoPbsStorage {
                    what: if ids.is_empty() {
                        "any datastore (the cluster has no pbs storage)".to_string()
                    } else {
                        format!(
                            "the storage(s) its backup jobs write to ({})",
                            ids.join(", ")
                        )
                    },
                    storages: list,
                });
            }
            Ok(found)
        }
    }
}

/// An online node (`GET /nodes`).
struct NodeInfo {
    name: String,
    free_mem: u64,
}

async fn online_nodes(client: &Pve) -> Result<Vec<NodeInfo>, DrillError> {
    let nodes: Vec<Value> = client
        .get("/nodes", &[])
        .await
        .map_err(api("reading the cluster's nodes (GET /nodes)"))?;
    Ok(nodes
        .iter()
        .filter(|n| s(n, "status").as_deref().is_none_or(|st| st == "online"))
        .filter_map(|n| {
            Some(NodeInfo {
                name: s(n, "node")?,
                free_mem: u(n, "maxmem")
                    .unwrap_or(u64::MAX)
                    .saturating_sub(u(n, "mem").unwrap_or(0)),
            })
        })
        .collect())
}

/// The latest snapshot of `vmid` (of type `gt`) on any of `storages`:
/// (storage index, volid, time, size).
async fn latest_snapshot(
    client: &Pve,
    storages: &[PbsStorage],
    nodes: &[NodeInfo],
    gt: GuestType,
    vmid: u32,
) -> Result<Option<(usize, String, i64, u64)>, DrillError> {
    let mut best: Option<(usize, String, i64, u64)> = None;
    for (i, st) in storages.iter().enumerate() {
        let Some(node) = nodes.iter().find(|n| st.available_on(&n.name)) else {
            continue;
        };
        let items: Vec<Value> = client
            .get(
                &path(&["nodes", &node.name, "storage", &st.id, "content"]),
                &[
                    ("content", "backup".to_string()),
                    ("vmid", vmid.to_string()),
                ],
            )
            .await
            .map_err(api(format!(
                "listing the backups on storage '{}' (datastore '{}' on {}:{})",
                st.id, st.datastore, st.server, st.port
            )))?;
        let marker = format!(":backup/{}/{vmid}/", gt.backup_type());
        for item in &items {
            let Some(volid) = s(item, "volid") else {
                continue;
            };
            if !volid.contains(&marker) {
                continue;
            }
            let time = item.get("ctime").and_then(as_i64_lenient).unwrap_or(0);
            if best.as_ref().is_none_or(|b| time > b.2) {
                best = Some((i, volid, time, u(item, "size").unwrap_or(0)));
            }
        }
    }
    Ok(best)
}

/// The storage on `node` with `content`, active, with the most room (and
/// at least `size` bytes of it): its id, or why none fits.
async fn target_storage(
    client: &Pve,
    node: &str,
    content: &str,
    size: u64,
) -> Result<Result<String, String>, DrillError> {
    let list: Vec<Value> = client
        .get(
            &path(&["nodes", node, "storage"]),
            &[
                ("content", content.to_string()),
                ("enabled", "1".to_string()),
            ],
        )
        .await
        .map_err(api(format!("reading {node}'s storages")))?;
    let fitting = list
        .iter()
        .filter(|v| s(v, "content").is_some_and(|c| c.split(',').any(|x| x.trim() == content)))
        .filter(|v| u(v, "active").unwrap_or(1) == 1)
        .filter_map(|v| Some((s(v, "storage")?, u(v, "avail").unwrap_or(0))))
        .filter(|(_, avail)| *avail >= size)
        .max_by_key(|(_, avail)| *avail);
    Ok(match fitting {
        Some((id, _)) => Ok(id),
        None => Err(format!(
            "{node} has no active storage holding '{content}' with {} free",
            crate::failures::bytes(size)
        )),
    })
}

/// Reads everything the drill needs; writes nothing.
pub(crate) async fn prepare(
    lab: &Lab,
    state: &State,
    topology: &Topology,
    client: &Pve,
    guest: &LabGuest,
    options: &DrillOptions,
    progress: &mut dyn FnMut(&DrillProgress),
) -> Result<Plan, DrillError> {
    let began = Instant::now();
    progress(&DrillProgress::StepStarted {
        guest: guest.address.clone(),
        step: Step::Prepare,
    });
    let gt = guest.guest_type;
    let original_vmid = resolve::vmid_of(state, guest)?;
    let resources = client
        .cluster_resources(Some("vm"))
        .await
        .map_err(api("reading the cluster's guests (GET /cluster/resources)"))?;
    let original_node = resources
        .iter()
        .find(|r| r.vmid == Some(u64::from(original_vmid)) && r.r#type == gt.api())
        .and_then(|r| r.node.clone())
        .ok_or_else(|| DrillError::GuestMissing {
            guest: guest.address.clone(),
            vmid: original_vmid,
        })?;
    let (config, status) = read_original(client, &original_node, gt, original_vmid)
        .await
        .map_err(api(format!(
            "reading {} {original_vmid}'s config and status",
            gt.label()
        )))?;
    let original = (s(&config, "digest").unwrap_or_default(), status);
    // PVE's default memory for both guest types when the config omits it.
    let memory_mib = u(&config, "memory").unwrap_or(512);

    let wanted =
        resolve::wanted_source(lab, topology, guest, original_vmid, options.from.as_deref())?;
    let storages = candidates(pbs_storages(client).await?, &wanted)?;
    let nodes = online_nodes(client).await?;
    if let Some(n) = &options.node {
        if !nodes.iter().any(|x| &x.name == n) {
            return Err(DrillError::BadNode {
                node: n.clone(),
                why: format!(
                    "is not an online node of the cluster (online: {})",
                    nodes
                        .iter()
                        .map(|x| x.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let Some((index, volid, snapshot_time, size)) =
        latest_snapshot(client, &storages, &nodes, gt, original_vmid).await?
    else {
        return Err(DrillError::NoBackup {
            guest: guest.address.clone(),
            vmid: original_vmid,
            storages: storages
                .iter()
                .map(|st| format!("storage '{}' (datastore '{}')", st.id, st.datastore))
                .collect::<Vec<_>>()
                .join(", "),
            job: resolve::jobs_selecting(lab, guest, original_vmid)
                .into_iter()
                .next()
                .map(|(id, _)| id),
        });
    };
    let storage = &storages[index];

    // The node: the one asked, else the others (most free memory first),
    // then the guest's own.
    let mut order: Vec<&NodeInfo> = match &options.node {
        Some(n) => nodes.iter().filter(|x| &x.name == n).collect(),
        None => {
            let mut others: Vec<&NodeInfo> =
                nodes.iter().filter(|x| x.name != original_node).collect();
            others.sort_by_key(|n| std::cmp::Reverse(n.free_mem));
            others.extend(nodes.iter().filter(|x| x.name == original_node));
            others
        }
    };
    order.retain(|x| storage.available_on(&x.name) || options.node.is_some());
    let need_mem = memory_mib.saturating_mul(1 << 20);
    let mut why = Vec::new();
    let mut chosen = None;
    for n in order {
        if !storage.available_on(&n.name) {
            why.push(format!(
                "storage '{}' is not available on {}",
                storage.id, n.name
            ));
            continue;
        }
        if n.free_mem < need_mem {
            why.push(format!(
                "{} has {} of memory free, the guest needs {}",
                n.name,
                crate::failures::bytes(n.free_mem),
                crate::failures::bytes(need_mem)
            ));
            continue;
        }
        match target_storage(client, &n.name, gt.disk_content(), size).await? {
            Ok(st) => {
                chosen = Some((n.name.clone(), st));
                break;
            }
            Err(e) => why.push(e),
        }
    }
    let Some((node, target_storage)) = chosen else {
        return Err(DrillError::NoRoom {
            guest: guest.address.clone(),
            details: if why.is_empty() {
                "the cluster has no online node".into()
            } else {
                why.join("; ")
            },
        });
    };

    let vmid = scratch_vmid(client, options.vmid, original_vmid).await?;
    let (datastore_address, appliance, chosen) = match &wanted {
        Wanted::Datastore {
            address,
            appliance,
            chosen,
            ..
        } => (
            address.as_ref().map(ToString::to_string),
            appliance.clone(),
            chosen.clone(),
        ),
        Wanted::Named(_) => (None, None, SourceChoice::Given),
        Wanted::Newest(_) => (None, None, SourceChoice::NewestSnapshot),
    };
    let took = began.elapsed();
    progress(&DrillProgress::StepEnded {
        guest: guest.address.clone(),
        step: Step::Prepare,
        took,
    });
    Ok(Plan {
        vmid,
        node,
        target_storage,
        volid,
        snapshot_time,
        size,
        source: DrillSource {
            storage: storage.id.clone(),
            datastore: storage.datastore.clone(),
            server: format!("{}:{}", storage.server, storage.port),
            datastore_address,
            appliance,
            chosen,
        },
        original_vmid,
        original_node,
        original,
        prepare_took: took,
    })
}

/// `--vmid` checked (not the original's, free), or `/cluster/nextid`.
async fn scratch_vmid(client: &Pve, asked: Option<u32>, original: u32) -> Result<u32, DrillError> {
    if asked == Some(original) {
        return Err(DrillError::BadVmid {
            vmid: original,
            why: "it is the original guest's VMID; a drill never restores over the original".into(),
        });
    }
    let query: Vec<(&str, String)> = asked.map(|v| ("vmid", v.to_string())).into_iter().collect();
    let answer: Value = match client.get("/cluster/nextid", &query).await {
        Ok(v) => v,
        Err(e) => {
            return Err(match asked {
                Some(vmid) => DrillError::BadVmid {
                    vmid,
                    why: e.errors.get("vmid").cloned().unwrap_or(e.message),
                },
                None => DrillError::Api {
                    what: "taking a free VMID (GET /cluster/nextid)".into(),
                    error: e,
                },
            })
        }
    };
    let vmid = as_u64_lenient(&answer)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| DrillError::Api {
            what: "taking a free VMID".into(),
            error: ApiError::new(
                lab_proxmox::api::ErrorKind::Other,
                format!("/cluster/nextid answered {answer}, not a VMID"),
            ),
        })?;
    if vmid == original {
        return Err(DrillError::BadVmid {
            vmid,
            why: "the cluster offered the original's VMID".into(),
        });
    }
    Ok(vmid)
}

/// Restores, starts, checks, stops and removes; cleans up on failure.
pub(crate) async fn execute(
    client: &Pve,
    guest: &LabGuest,
    plan: Plan,
    progress: &mut dyn FnMut(&DrillProgress),
) -> Result<GuestDrill, DrillError> {
    let gt = guest.guest_type;
    let ctx = OpContext::detached();
    let id = plan.vmid.to_string();
    let node = plan.node.as_str();
    let base = path(&["nodes", node, gt.api()]);
    let guest_path = path(&["nodes", node, gt.api(), &id]);
    let mut steps = vec![StepTiming {
        step: Step::Prepare,
        millis: millis(plan.prepare_took),
    }];
    let fail = |step: Step, message: String, cleanup: Cleanup| DrillError::StepFailed {
        guest: guest.address.clone(),
        step,
        message,
        node: plan.node.clone(),
        vmid: plan.vmid,
        cleanup,
    };

    // Restore. A refused POST made nothing (and the VMID may be someone
    // else's: it is never touched then).
    let began = step_started(progress, guest, Step::Restore);
    let mut form = Form::new()
        .int("vmid", i64::from(plan.vmid))
        .str("storage", plan.target_storage.clone())
        .bool("unique", true);
    form = match gt {
        GuestType::Vm => form.str("archive", plan.volid.clone()),
        GuestType::Ct => form
            .str("ostemplate", plan.volid.clone())
            .bool("restore", true),
    };
    let upid = match client.post(&base, &form).await {
        Ok(v) => v,
        Err(e) => {
            step_ended(progress, guest, Step::Restore, began);
            // A refusal made nothing. Without a clear answer (no HTTP
            // status, a proxy's 59x) the call may have gone through: a
            // guest at the VMID is reported, never removed, as it may
            // not be the drill's.
            let unclear = e.status == 0 || e.status >= 596;
            let cleanup = match unclear {
                true => match client
                    .get::<Value>(&format!("{guest_path}/status/current"), &[])
                    .await
                {
                    Err(g) if is_gone(&g) => Cleanup::NothingLeft,
                    _ => Cleanup::Left(format!(
                        "the restore call got no clear answer; check whether guest {id} on \
                         {node} is the drill's copy"
                    )),
                },
                false => Cleanup::NothingLeft,
            };
            return Err(fail(Step::Restore, e.to_string(), cleanup));
        }
    };
    let waited = match upid.as_str() {
        Some(upid) => client.wait_task(upid, &ctx).await.map(|_| ()),
        None => Ok(()),
    };
    steps.push(step_ended(progress, guest, Step::Restore, began));
    if let Err(e) = waited {
        let cleanup = cleanup(client, &guest_path).await;
        return Err(fail(Step::Restore, e.to_string(), cleanup));
    }

    // Start, check, stop: any failure removes the copy.
    let mut observed_status = String::new();
    for step in [Step::Start, Step::Check, Step::Stop] {
        let began = step_started(progress, guest, step);
        let result = match step {
            Step::Start => client
                .post_task(&format!("{guest_path}/status/start"), &Form::new(), &ctx)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Step::Check => match wait_running(client, &guest_path).await {
                Ok(status) => {
                    observed_status = status;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            _ => client
                .post_task(&format!("{guest_path}/status/stop"), &Form::new(), &ctx)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        steps.push(step_ended(progress, guest, step, began));
        if let Err(message) = result {
            let cleanup = cleanup(client, &guest_path).await;
            return Err(fail(step, message, cleanup));
        }
    }

    // Remove.
    let began = step_started(progress, guest, Step::Remove);
    let removed = remove(client, &guest_path).await;
    steps.push(step_ended(progress, guest, Step::Remove, began));
    if let Err(e) = removed {
        // One more try, as the clean-up of any failed step.
        let cleanup = cleanup(client, &guest_path).await;
        return Err(fail(Step::Remove, e.to_string(), cleanup));
    }

    let after = original_state(client, &plan.original_node, gt, plan.original_vmid)
        .await
        .map_err(api(format!(
            "reading {} {}'s config and status after the drill",
            gt.label(),
            plan.original_vmid
        )))?;
    Ok(GuestDrill {
        guest: guest.address.to_string(),
        guest_type: gt,
        original_vmid: plan.original_vmid,
        original_node: plan.original_node,
        volid: plan.volid,
        snapshot_time: plan.snapshot_time,
        snapshot: rfc3339(plan.snapshot_time),
        size: plan.size,
        source: plan.source,
        node: plan.node,
        vmid: plan.vmid,
        target_storage: plan.target_storage,
        observed_status,
        steps,
        original: OriginalCheck {
            unchanged: after == plan.original,
            digest: plan.original.0,
            status: plan.original.1,
        },
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn step_started(progress: &mut dyn FnMut(&DrillProgress), guest: &LabGuest, step: Step) -> Instant {
    progress(&DrillProgress::StepStarted {
        guest: guest.address.clone(),
        step,
    });
    Instant::now()
}

fn step_ended(
    progress: &mut dyn FnMut(&DrillProgress),
    guest: &LabGuest,
    step: Step,
    began: Instant,
) -> StepTiming {
    let took = began.elapsed();
    progress(&DrillProgress::StepEnded {
        guest: guest.address.clone(),
        step,
        took,
    });
    StepTiming {
        step,
        millis: millis(took),
    }
}

/// Polls `status/current` until it says `running` (within
/// [`RUNNING_WITHIN`]).
async fn wait_running(client: &Pve, guest_path: &str) -> Result<String, String> {
    let began = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        let status: Value = client
            .get(&format!("{guest_path}/status/current"), &[])
            .await
            .map_err(|e| e.to_string())?;
        let st = s(&status, "status").unwrap_or_default();
        if st == "running" {
            return Ok(st);
        }
        if began.elapsed() >= RUNNING_WITHIN {
            return Err(format!(
                "status/current says '{st}' {}s after the start (expected 'running')",
                RUNNING_WITHIN.as_secs()
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

async fn remove(client: &Pve, guest_path: &str) -> Result<(), ApiError> {
    client
        .delete_task(
            guest_path,
            &[
                ("purge", "1".to_string()),
                ("destroy-unreferenced-disks", "1".to_string()),
            ],
            &OpContext::detached(),
        )
        .await
        .map(|_| ())
}

fn is_gone(e: &ApiError) -> bool {
    e.is_not_found() || e.message.contains("does not exist")
}

/// Removes the scratch guest, stopping it first when it runs; used after
/// the restore began, so the VMID is the drill's own.
async fn cleanup(client: &Pve, guest_path: &str) -> Cleanup {
    let ctx = OpContext::detached();
    let status: Value = match client
        .get(&format!("{guest_path}/status/current"), &[])
        .await
    {
        Ok(v) => v,
        Err(e) if is_gone(&e) => return Cleanup::NothingLeft,
        Err(e) => return Cleanup::Left(format!("cannot read its status: {e}")),
    };
    if s(&status, "status").as_deref() == Some("running") {
        if let Err(e) = client
            .post_task(&format!("{guest_path}/status/stop"), &Form::new(), &ctx)
            .await
        {
            return Cleanup::Left(format!("cannot stop it: {e}"));
        }
    }
    match remove(client, guest_path).await {
        Ok(()) => Cleanup::Removed,
        Err(e) if is_gone(&e) => Cleanup::NothingLeft,
        Err(e) => Cleanup::Left(e.to_string()),
    }
}

/// `2026-06-01T01:00:00Z`.
pub(crate) fn rfc3339(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        Err(_) => t.to_string(),
    }
}
