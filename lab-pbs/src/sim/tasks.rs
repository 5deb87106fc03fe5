//! Asynchronous tasks: PBS workers with 9-field UPIDs
//! (`UPID:<node>:<pid>:<pstart>:<task id>:<starttime>:<type>:<escaped
//! worker id>:<auth id>:`), `running` until the work is done (after
//! [`super::PbsSimConfig::task_latency`]), then `stopped` with `OK`,
//! `WARNINGS: n` or the error text, the log ending `TASK OK` / `TASK
//! WARNINGS: n` / `TASK ERROR: <text>` as proxmox-rest-server writes it.

use std::future::Future;
use std::sync::Arc;

use serde_json::{json, Value};

use super::rest::{Params, PbsError, Res};
use super::world::{Task, World};
use super::{now, Shared};
use crate::api::escape_worker_id;

/// What a worker reports: the number of warnings, or the error.
pub(crate) type WorkResult = Result<u32, String>;

/// Starts a task; `work` runs after the latency and may log through
/// [`log`]. Returns the UPID at once.
pub(crate) fn spawn<F, Fut>(
    shared: &Arc<Shared>,
    worker_type: &str,
    worker_id: Option<&str>,
    auth_id: &str,
    work: F,
) -> String
where
    F: FnOnce(Arc<Shared>, String) -> Fut + Send + 'static,
    Fut: Future<Output = WorkResult> + Send + 'static,
{
    let start = now();
    let upid = shared.write(|w| {
        let task_id = w.next_task;
        w.next_task += 1;
        let upid = format!(
            "UPID:{}:{:08X}:{:08X}:{:08X}:{:08X}:{}:{}:{}:",
            shared.config.node,
            std::process::id(),
            shared.pstart,
            task_id,
            start as u32,
            worker_type,
            worker_id.map(escape_worker_id).unwrap_or_default(),
            auth_id
        );
        w.tasks.push(Task {
            upid: upid.clone(),
            worker_type: worker_type.to_string(),
            worker_id: worker_id.map(str::to_string),
            auth_id: auth_id.to_string(),
            starttime: start,
            endtime: None,
            exitstatus: None,
            log: Vec::new(),
        });
        // Keep the list bounded for a long-running pbs-sim.
        if w.tasks.len() > 2000 {
            w.tasks.drain(..1000);
        }
        upid
    });
    let worker = shared.clone();
    let id = upid.clone();
    let handle = tokio::spawn(async move {
        tokio::time::sleep(worker.config.task_latency).await;
        let result = work(worker.clone(), id.clone()).await;
        finish(&worker, &id, result);
    });
    let mut workers = shared.workers.lock().unwrap_or_else(|e| e.into_inner());
    workers.retain(|w| !w.is_finished());
    workers.push(handle.abort_handle());
    upid
}

/// Appends a line to a task's log.
pub(crate) fn log(shared: &Shared, upid: &str, line: impl Into<String>) {
    let line = line.into();
    shared.write(|w| {
        if let Some(t) = w.tasks.iter_mut().find(|t| t.upid == upid) {
            t.log.push(line);
        }
    });
}

fn finish(shared: &Shared, upid: &str, result: WorkResult) {
    shared.write(|w| {
        if let Some(t) = w.tasks.iter_mut().find(|t| t.upid == upid) {
            let status = match result {
                Ok(0) => "OK".to_string(),
                Ok(n) => format!("WARNINGS: {n}"),
                Err(e) => e,
            };
            t.log
                .push(if status == "OK" || status.starts_with("WARNINGS: ") {
                    format!("TASK {status}")
                } else {
                    format!("TASK ERROR: {status}")
                });
            t.exitstatus = Some(status);
            t.endtime = Some(now());
        }
    });
}

/// At start: a task the previous run left running ended with it.
pub(crate) fn end_interrupted(world: &mut World) {
    for t in world.tasks.iter_mut().filter(|t| t.exitstatus.is_none()) {
        t.exitstatus = Some("unexpected status".into());
        t.endtime = Some(t.starttime);
    }
}

fn find<'a>(w: &'a World, upid: &str) -> Result<&'a Task, PbsError> {
    w.tasks
        .iter()
        .find(|t| t.upid == upid)
        .ok_or_else(|| PbsError::bad(format!("unable to open task log file for {upid}")))
}

fn may_see(w: &World, auth_id: &str, t: &Task) -> bool {
    t.auth_id == auth_id
        || super::acl::allowed(w, auth_id, "/system/tasks", super::acl::SYS_AUDIT, false)
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
pub(crate) fn status(shared: &Shared, auth_id: &str, upid: &str) -> Res {
    shared.read(|w| {
        let t = find(w, upid)?;
        if !may_see(w, auth_id, t) {
            return Err(PbsError::forbidden());
        }
        let parsed = crate::api::Upid::parse(upid).map_err(|e| PbsError::bad(e.to_string()))?;
        let (user, token) = match t.auth_id.split_once('!') {
            Some((u, n)) => (u.to_string(), Some(n.to_string())),
            None => (t.auth_id.clone(), None),
        };
        let mut v = json!({
            "upid": t.upid,
            "node": parsed.node,
            "pid": parsed.pid,
            "pstart": parsed.pstart,
            "starttime": t.starttime,
            "type": t.worker_type,
            "user": user,
            "status": if t.exitstatus.is_some() { "stopped" } else { "running" },
        });
        if let Some(id) = &t.worker_id {
            v["id"] = id.clone().into();
        }
        if let Some(token) = token {
            v["tokenid"] = token.into();
        }
        if let Some(e) = &t.exitstatus {
            v["exitstatus"] = e.clone().into();
        }
        Ok(v)
    })
}

/// `GET /nodes/{node}/tasks/{upid}/log?start=&limit=`: `[{n, t}]` (the
/// total count is the answer's `total`).
pub(crate) fn log_lines(
    shared: &Shared,
    auth_id: &str,
    upid: &str,
    p: &Params,
) -> Result<(Value, u64), PbsError> {
    shared.read(|w| {
        let t = find(w, upid)?;
        if !may_see(w, auth_id, t) {
            return Err(PbsError::forbidden());
        }
        let start = p.int("start").unwrap_or(0).max(0) as usize;
        let limit = p.int("limit").unwrap_or(50).max(0) as usize;
        let lines: Vec<Value> = t
            .log
            .iter()
            .enumerate()
            .skip(start)
            .take(limit)
            .map(|(i, l)| json!({"n": i + 1, "t": l}))
            .collect();
        Ok((Value::Array(lines), t.log.len() as u64))
    })
}

/// `GET /nodes/{node}/tasks`: the caller's tasks (all with `Sys.Audit`).
pub(crate) fn list(shared: &Shared, auth_id: &str) -> Res {
    shared.read(|w| {
        let items: Vec<Value> = w
            .tasks
            .iter()
            .rev()
            .filter(|t| may_see(w, auth_id, t))
            .map(|t| {
                let mut v = json!({
                    "upid": t.upid,
                    "node": shared.config.node,
                    "starttime": t.starttime,
                    "worker_type": t.worker_type,
                    "user": t.auth_id,
                });
                if let Some(e) = &t.exitstatus {
                    v["status"] = e.clone().into();
                    v["endtime"] = t.endtime.unwrap_or(t.starttime).into();
                }
                if let Some(id) = &t.worker_id {
                    v["worker_id"] = id.clone().into();
                }
                v
            })
            .collect();
        Ok(Value::Array(items))
    })
}
