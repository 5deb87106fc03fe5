//! Workers whose body is asynchronous because they talk to another
//! server: vzdump and the restores talk to a PBS (see [`super::pbs_link`]).
//! They are registered and finished like every worker of
//! [`super::tasks`] (same UPIDs, logs, `received interrupt` when stopped,
//! `unexpected status` when the node goes down), but carry no `Effect`:
//! their steps happen in their body, each a change of the world.

use std::sync::Arc;

use super::state::Shared;
use super::tasks::{finish, register};
use super::world::TaskState;

/// Starts a worker whose body is asynchronous because it talks to another
/// server (vzdump and qmrestore talk to a PBS), and returns its UPID.
/// `work` gets the UPID, appends to the log with [`log_line`] as it goes,
/// and its result ends the task (`Ok(n)`: `OK` or `WARNINGS: n`). A node
/// that goes down leaves it `unexpected status`, like every worker.
pub(crate) fn spawn_async<F, Fut>(
    shared: &Arc<Shared>,
    node: &str,
    wtype: &'static str,
    id: &str,
    work: F,
) -> String
where
    F: FnOnce(Arc<Shared>, String) -> Fut,
    Fut: std::future::Future<Output = Result<u32, String>> + Send + 'static,
{
    let user = shared.settings.token_id.clone();
    let upid = shared.write(|w| register(w, node, wtype, id, &user, None));
    let body = work(shared.clone(), upid.clone());
    let worker = {
        let shared = shared.clone();
        let upid = upid.clone();
        async move {
            let result = body.await;
            shared.write(|w| {
                if w.task(&upid).is_some_and(|t| t.state == TaskState::Running) {
                    finish(w, &upid, Vec::new(), result);
                }
            });
            shared
                .workers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&upid);
        }
    };
    let handle = tokio::spawn(worker);
    shared
        .workers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(upid.clone(), handle.abort_handle());
    upid
}

/// Appends a line to a running task's log.
pub(crate) fn log_line(shared: &Shared, upid: &str, line: impl Into<String>) {
    let line = line.into();
    shared.write(|w| {
        if let Some(t) = w.task_mut(upid) {
            t.log.push(line);
        }
    });
}
