//! Recovering what an interrupted or failed create left on the cluster.
//!
//! Before it sends a create, the provider claims the identity
//! ([`lab_core::provider::OpContext::claim`]): `{node, vmid}` for a guest,
//! then `{upid}` once the task runs; `{volid}` for a downloaded file. The
//! next run hands that claim back and this module looks at exactly that
//! object and that task, the way an operator would:
//!
//! | what it finds | what it does |
//! |---|---|
//! | the task still running (a clone takes minutes) | waits for it, then looks again |
//! | no guest at the VMID | nothing to adopt; the next create reuses the VMID |
//! | a guest locked `clone`/`create` by a task that is gone | only root@pam may remove the lock (`skiplock`), so it says what to run (`qm unlock`) and keeps the VMID |
//! | a guest with the lab's marker | adopts it (a plan then fixes what the create did not finish) |
//! | an unlocked guest without the marker that a crashed task of ours made | removes the half-made guest, keeps the VMID |
//! | a guest that is not provably ours | leaves it alone, drops the claim |
//! | a file left by a download (same `volid`; its task is the claimed UPID, or the `download` task running for the file name when the UPID was never journaled) | adopts it if its size matches the URL's (`query-url-metadata`) and, with a checksum, if PVE confirms it (`download-url` on an existing file with a checksum re-checks it); else deletes and downloads again |

use lab_core::kind::{Found, Recovery};
use lab_core::provider::{Claim, OpContext, RecoverCause, RecoverRequest};
use lab_core::ProviderError;
use serde_json::{Map, Value as Json};

use super::guest::GuestSpec;
use super::normalize;
use super::{err, ProxmoxProvider};
use crate::api::{path, ErrorKind};

/// The exit status PVE reports for a task whose worker died (node reboot).
const CRASHED: &str = "unexpected status";

impl ProxmoxProvider {
    /// The create's task, if it can be found (the claimed UPID, or a task
    /// on the node still running for that VMID, as after a crash between
    /// the call and the claim of its UPID), waited for if it runs; and any
    /// other task still running on the VMID (the create's later steps:
    /// config, resize, start) waited for too, so what is adopted is what
    /// the node settled on. Returns the create task's exit status (`None`:
    /// no task known).
    async fn settle_task(
        &self,
        claim: &Claim,
        node: &str,
        vmid: i64,
        notes: &mut Vec<String>,
    ) -> Result<Option<String>, ProviderError> {
        let active: Vec<Map<String, Json>> = self
            .client
            .get(
                &path(&["nodes", node, "tasks"]),
                &[("source", "active".to_string())],
            )
            .await
            .map_err(err)?;
        let source = claim.int("source").map(|s| s.to_string());
        let running: Vec<String> = active
            .iter()
            .filter(|t| {
                let id = normalize::text(t, "id").unwrap_or_default();
                let kind = normalize::text(t, "type").unwrap_or_default();
                id == vmid.to_string() || (kind == "qmclone" && Some(&id) == source.as_ref())
            })
            .filter_map(|t| normalize::text(t, "upid"))
            .collect();
        let upid = claim
            .text("upid")
            .map(str::to_string)
            .or_else(|| running.first().cloned());
        let exit = match &upid {
            Some(upid) => self.settle_upid(upid, notes).await?,
            None => None,
        };
        for other in running.iter().filter(|u| Some(*u) != upid.as_ref()) {
            self.settle_upid(other, notes).await?;
        }
        Ok(exit)
    }

    /// Waits for the task `upid` if it still runs; its exit status.
    pub(crate) async fn settle_upid(
        &self,
        upid: &str,
        notes: &mut Vec<String>,
    ) -> Result<Option<String>, ProviderError> {
        let Ok(parsed) = crate::api::Upid::parse(upid) else {
            return Ok(None);
        };
        let status_path = path(&["nodes", &parsed.node, "tasks", upid, "status"]);
        let status: crate::api::TaskStatus = match self.client.get(&status_path, &[]).await {
            Ok(s) => s,
            Err(e) if e.is_transient() => return Err(err(e)),
            Err(_) => return Ok(None),
        };
        if status.is_stopped() {
            return Ok(status.exitstatus);
        }
        notes.push(format!("waited for the task {upid}, still running"));
        Ok(Some(
            match self.client.wait_task(upid, &OpContext::detached()).await {
                Ok(_) => "OK".to_string(),
                Err(e) => e.message,
            },
        ))
    }

    /// [`lab_core::kind::KindProvider::recover`] for guests (VMs,
    /// containers, templates): see the module doc.
    pub(crate) async fn recover_guest<K: GuestSpec>(
        &self,
        req: &RecoverRequest,
        desired: Option<&K>,
    ) -> Result<Recovery<K>, ProviderError> {
        let claimed = req.claim.int("vmid");
        let (RecoverCause::Interrupted | RecoverCause::Failed, Some(vmid)) = (req.cause, claimed)
        else {
            // Nothing claimed (a journal from before claims, or the state
            // is behind): the marker is the only proof.
            let found = self
                .adopt_guests(&req.owner, desired, &req.known_ids)
                .await?;
            return Ok(Recovery {
                found,
                ..Recovery::default()
            });
        };
        let mut notes = Vec::new();
        let claim_node = req.claim.text("node").unwrap_or_default().to_string();
        let exit = if claim_node.is_empty() {
            None
        } else {
            self.settle_task(&req.claim, &claim_node, vmid, &mut notes)
                .await?
        };
        let keep = Claim::new()
            .with("node", claim_node.as_str())
            .with("vmid", vmid);
        let Some(res) = self.locate(vmid).await? else {
            notes.push(match &exit {
                Some(e) if e != "OK" => format!("its task failed ({e}) and left no guest"),
                _ => format!("no guest {vmid} exists"),
            });
            return Ok(Recovery {
                notes,
                keep: Some(keep),
                ..Recovery::default()
            });
        };
        let node = res.node.clone().unwrap_or(claim_node);
        let config = match self.config::<K>(&node, vmid).await {
            Ok(c) => c,
            Err(e) if e.kind == ErrorKind::NotFound => {
                return Ok(Recovery {
                    notes,
                    keep: Some(keep),
                    ..Recovery::default()
                })
            }
            Err(e) => return Err(err(e)),
        };
        let marker = req.owner.marker();
        let has_marker = normalize::has_marker(&config, &marker);
        let lock = normalize::text(&config, "lock");
        let tool = if K::API == "lxc" { "pct" } else { "qm" };
        if let Some(lock) = lock {
            let by = if matches!(lock.as_str(), "clone" | "create") {
                "the interrupted create's task, which is gone"
            } else {
                "another operation"
            };
            return Ok(Recovery {
                notes,
                keep: Some(keep),
                blocked: Some(format!(
                    "guest {vmid} on {node} is half made and locked (`lock: {lock}`) by {by}; \
                     Proxmox lets only root@pam remove a lock, so run `{tool} unlock {vmid}` \
                     on {node}, then `lab apply` removes the half-made guest and creates it \
                     again with VMID {vmid}"
                )),
                ..Recovery::default()
            });
        }
        if has_marker {
            let tag = req.owner.tag();
            let found = self
                .observe_guest(&node, vmid, desired, &tag, res.pool.as_deref())
                .await?;
            return Ok(Recovery {
                found: vec![found],
                notes,
                ..Recovery::default()
            });
        }
        if exit.as_deref().is_some_and(|e| e.contains(CRASHED)) {
            // Our task made it (the claim names the VMID and the task; PVE
            // refuses to create over an existing VMID) and died before the
            // marker was written; someone removed its lock since.
            let running = res.status.as_deref() == Some("running");
            self.destroy_guest::<K>(&OpContext::detached(), &node, vmid, running)
                .await?;
            notes.push(format!(
                "removed guest {vmid}, which the crashed task left half made"
            ));
            return Ok(Recovery {
                notes,
                keep: Some(keep),
                ..Recovery::default()
            });
        }
        notes.push(format!(
            "guest {vmid} on {node} does not carry this lab's marker: it is not this lab's, so \
             it is left alone and the next create picks another VMID"
        ));
        Ok(Recovery {
            notes,
            ..Recovery::default()
        })
    }
}

/// What a kind without a marker (storage, pool) recovers after a crash:
/// the objects its deterministic id found, less those already recorded.
/// (Its callers adopt nothing, and call nothing, when the state is merely
/// behind: a same-named object made by hand is not this lab's.)
pub(crate) fn marker_less<K: lab_core::kind::Kind>(
    req: &RecoverRequest,
    found: Vec<Found<K>>,
) -> Recovery<K> {
    Recovery {
        found: found
            .into_iter()
            .filter(|f| !req.known_ids.contains(&f.id))
            .collect(),
        ..Recovery::default()
    }
}
