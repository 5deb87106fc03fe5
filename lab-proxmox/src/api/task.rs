//! Asynchronous tasks: UPIDs and waiting for them.
//!
//! Most mutating PVE calls return a UPID right after the worker forks; the
//! real outcome is in `GET /nodes/{node}/tasks/{upid}/status` once `status`
//! is `stopped`: success iff `exitstatus` is `OK` or `WARNINGS: <n>`.
//! Waiting happens inside [`lab_core::OpContext::wait`], so the engine's
//! call slots are free while a clone copies disks. Early polls may get a 400
//! (the task file is not written yet) and pveproxy may answer 596/599 under
//! load; both are tolerated a bounded number of times.
//!
//! PVE UPIDs have 8 fields; PBS UPIDs have 9 and are deliberately refused
//! here (notes §4: do not share one parser).

use std::fmt;
use std::time::Duration;

use lab_core::OpContext;
use serde_json::Value;
use tokio::time::Instant;

use super::error::{is_lock_text, ApiError, ErrorKind};
use super::types::{TaskLogLine, TaskStatus};
use super::{path, Client, Form};

/// A parsed PVE task id:
/// `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Upid {
    /// Node the task runs on (where to poll).
    pub node: String,
    /// Worker process id (8 hex digits).
    pub pid: u32,
    /// Process start time in clock ticks (8–9 hex digits).
    pub pstart: u64,
    /// Task start, unix seconds (8 hex digits).
    pub starttime: u32,
    /// Worker type (`qmclone`, `qmstart`, `vzcreate`, `download`, ...).
    pub worker_type: String,
    /// Worker id, usually the VMID (may be empty).
    pub id: String,
    /// Who started it (`root@pam`, `gitlab@pam!cicd`).
    pub user: String,
}

impl Upid {
    /// Parses a PVE UPID with the semantics of PVE's decode regex
    /// `^UPID:(node):([0-9A-F]{8}):([0-9A-F]{8,9}):([0-9A-F]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$`.
    pub fn parse(s: &str) -> Result<Upid, ApiError> {
        let bad = |why: &str| {
            ApiError::new(
                ErrorKind::Other,
                format!("not a Proxmox VE task id ({why}): {s:?}"),
            )
        };
        let fields: Vec<&str> = s.split(':').collect();
        if fields.len() == 10 {
            return Err(bad(
                "9 fields: this looks like a Proxmox Backup Server UPID",
            ));
        }
        if fields.len() != 9 || fields[0] != "UPID" || !fields[8].is_empty() {
            return Err(bad("expected UPID:node:pid:pstart:starttime:type:id:user:"));
        }
        let node = fields[1];
        if !is_node_name(node) {
            return Err(bad("node name"));
        }
        let hex = |f: &str, min: usize, max: usize| -> Option<u64> {
            (f.len() >= min && f.len() <= max && f.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u64::from_str_radix(f, 16).ok())
                .flatten()
        };
        let pid = hex(fields[2], 8, 8).ok_or_else(|| bad("pid"))?;
        let pstart = hex(fields[3], 8, 9).ok_or_else(|| bad("pstart"))?;
        let starttime = hex(fields[4], 8, 8).ok_or_else(|| bad("starttime"))?;
        let plain = |f: &str| !f.chars().any(|c| c.is_whitespace() || c == '/');
        let (worker_type, id, user) = (fields[5], fields[6], fields[7]);
        if worker_type.is_empty() || !plain(worker_type) {
            return Err(bad("worker type"));
        }
        if !plain(id) {
            return Err(bad("worker id"));
        }
        if user.is_empty() || !plain(user) {
            return Err(bad("user"));
        }
        Ok(Upid {
            node: node.to_string(),
            pid: pid as u32,
            pstart,
            starttime: starttime as u32,
            worker_type: worker_type.to_string(),
            id: id.to_string(),
            user: user.to_string(),
        })
    }
}

/// A node name as the UPID formats of PVE and PBS allow it: letters and
/// digits, with `-` inside (`[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`).
pub fn is_node_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UPID:{}:{:08X}:{:08X}:{:08X}:{}:{}:{}:",
            self.node, self.pid, self.pstart, self.starttime, self.worker_type, self.id, self.user
        )
    }
}

impl std::str::FromStr for Upid {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Upid::parse(s)
    }
}

/// A task that finished successfully.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskOutcome {
    /// `n` of `WARNINGS: n` (0 for `OK`); read [`Client::task_log`] for them.
    pub warnings: u32,
    /// The task's id; `None` when the call completed synchronously.
    pub upid: Option<String>,
}

/// Up to this many 400s before the first successful status read.
const MAX_EARLY_400: u32 = 10;
/// Up to this many consecutive transient failures (596, 599, resets).
const MAX_TRANSIENT: u32 = 10;

/// Interprets a stopped task's exit status.
pub(crate) fn outcome(
    worker_type: &str,
    exitstatus: Option<&str>,
    upid: &str,
) -> Result<TaskOutcome, ApiError> {
    let exit = exitstatus.map(str::trim).unwrap_or("unexpected status");
    if exit == "OK" {
        return Ok(TaskOutcome {
            warnings: 0,
            upid: Some(upid.to_string()),
        });
    }
    if let Some(n) = exit.strip_prefix("WARNINGS: ") {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(TaskOutcome {
                warnings: n.parse().unwrap_or(u32::MAX),
                upid: Some(upid.to_string()),
            });
        }
    }
    let kind = if is_lock_text(exit) {
        ErrorKind::Locked
    } else {
        ErrorKind::Task
    };
    Err(ApiError::new(
        kind,
        format!("{worker_type} task failed: {exit}"),
    ))
}

impl Client {
    /// Waits for the task `upid` to stop, polling its status every
    /// `task_poll` (the first polls come sooner: `task_poll`/8, /4, /2, so
    /// quick tasks finish quickly), each sleep inside `ctx.wait` so no call
    /// slot is held. Fails with [`ErrorKind::Timeout`] after `task_timeout`,
    /// [`ErrorKind::Task`] (or [`ErrorKind::Locked`] for lock timeouts) if
    /// the task failed.
    pub async fn wait_task(&self, upid: &str, ctx: &OpContext) -> Result<TaskOutcome, ApiError> {
        let parsed = Upid::parse(upid)?;
        self.wait_task_at(&parsed.node, &parsed.worker_type, upid, ctx)
            .await
    }

    /// [`Client::wait_task`] for a task id this module does not parse (a
    /// Proxmox Backup Server UPID, which lab-pbs parses): the caller gives
    /// the node to poll and the worker type that names the task in errors.
    /// Polls `GET /nodes/{node}/tasks/{upid}/status` as `wait_task` does.
    pub async fn wait_task_at(
        &self,
        node: &str,
        worker_type: &str,
        upid: &str,
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        let status_path = path(&["nodes", node, "tasks", upid, "status"]);
        let cfg = &self.inner.config;
        let started = Instant::now();
        let deadline = started + cfg.task_timeout;
        let mut early_400 = 0u32;
        let mut transient = 0u32;
        let mut seen = false;
        let mut delay = (cfg.task_poll / 8).max(Duration::from_millis(1));
        loop {
            match self.get::<TaskStatus>(&status_path, &[]).await {
                Ok(st) => {
                    seen = true;
                    transient = 0;
                    if st.is_stopped() {
                        let result = outcome(worker_type, st.exitstatus.as_deref(), upid);
                        if let Ok(o) = &result {
                            if o.warnings > 0 {
                                tracing::debug!(
                                    upid,
                                    warnings = o.warnings,
                                    "task finished with warnings"
                                );
                            }
                        }
                        return result;
                    }
                }
                Err(e) if e.status == 400 && !seen && early_400 < MAX_EARLY_400 => {
                    early_400 += 1;
                }
                Err(e) if e.is_transient() && transient < MAX_TRANSIENT => {
                    transient += 1;
                    tracing::debug!(upid, error = %e, "task status poll failed; retrying");
                }
                Err(e) => return Err(e.context(format!("waiting for {} task {upid}", worker_type))),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ApiError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{} task {upid} did not finish: waited {} (the task timeout is {}); \
                         it may still be running on the node",
                        worker_type,
                        human_duration(now - started),
                        human_duration(cfg.task_timeout),
                    ),
                ));
            }
            let sleep = delay.min(deadline - now);
            ctx.wait(tokio::time::sleep(sleep)).await;
            delay = (delay * 2).min(cfg.task_poll);
        }
    }

    /// The first 50 lines of a task's log (`GET .../log?start=0&limit=50`).
    pub async fn task_log(&self, upid: &str) -> Result<Vec<String>, ApiError> {
        let parsed = Upid::parse(upid)?;
        self.task_log_at(&parsed.node, upid).await
    }

    /// [`Client::task_log`] for a task id parsed elsewhere (PBS): the node
    /// to read it from is given.
    pub async fn task_log_at(&self, node: &str, upid: &str) -> Result<Vec<String>, ApiError> {
        let log_path = path(&["nodes", node, "tasks", upid, "log"]);
        let lines: Vec<TaskLogLine> = self
            .get(
                &log_path,
                &[("start", "0".to_string()), ("limit", "50".to_string())],
            )
            .await?;
        Ok(lines.into_iter().map(|l| l.t).collect())
    }

    /// POSTs `form` to `path` and waits for the task it starts. A `null`
    /// answer means the call completed synchronously (e.g. within
    /// `background_delay`): it returns at once with no UPID.
    pub async fn post_task(
        &self,
        path: &str,
        form: &Form,
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        let data = self.post(path, form).await?;
        self.await_data(path, data, ctx).await
    }

    /// Like [`Client::post_task`] with PUT (e.g. `.../resize`).
    pub async fn put_task(
        &self,
        path: &str,
        form: &Form,
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        let data = self.put(path, form).await?;
        self.await_data(path, data, ctx).await
    }

    /// Like [`Client::post_task`] with DELETE (e.g. destroying a guest).
    pub async fn delete_task(
        &self,
        path: &str,
        query: &[(&str, String)],
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        let data = self.delete(path, query).await?;
        self.await_data(path, data, ctx).await
    }

    async fn await_data(
        &self,
        path: &str,
        data: Value,
        ctx: &OpContext,
    ) -> Result<TaskOutcome, ApiError> {
        match data {
            Value::Null => Ok(TaskOutcome::default()),
            Value::String(upid) if upid.starts_with("UPID:") => self.wait_task(&upid, ctx).await,
            // PUT config answers "" on success in some versions.
            Value::String(s) if s.is_empty() => Ok(TaskOutcome::default()),
            other => Err(ApiError::new(
                ErrorKind::Other,
                format!("{path}: expected a task id, got {}", short(&other)),
            )),
        }
    }
}

/// A duration as people read it: `10m 0s`, `1h 2m 3s`, `12s`, `150ms`.
pub(crate) fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        let mut end = 120;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "UPID:pve1:003CDE3D:025BF6DA:665F0761:qmstart:12001:gitlab@pam!cicd:";

    #[test]
    fn upid_round_trip() {
        let u = Upid::parse(EXAMPLE).unwrap();
        assert_eq!(u.node, "pve1");
        assert_eq!(u.pid, 0x003C_DE3D);
        assert_eq!(u.pstart, 0x025B_F6DA);
        assert_eq!(u.starttime, 0x665F_0761);
        assert_eq!(u.worker_type, "qmstart");
        assert_eq!(u.id, "12001");
        assert_eq!(u.user, "gitlab@pam!cicd");
        assert_eq!(u.to_string(), EXAMPLE);
        // 9-digit pstart, empty id, hyphenated node.
        let s = "UPID:pve-node-2:0000A1B2:1025BF6DA:665F0761:download::root@pam:";
        let u: Upid = s.parse().unwrap();
        assert_eq!(
            (u.node.as_str(), u.pstart, u.id.as_str()),
            ("pve-node-2", 0x1_025B_F6DA, "")
        );
        assert_eq!(u.to_string(), s);
    }

    #[test]
    fn upid_rejects_malformed_and_pbs() {
        let pbs =
            "UPID:pbs1:000004E2:00000A3C:00000001:665F0761:garbage_collection:store1:root@pam:";
        let e = Upid::parse(pbs).unwrap_err();
        assert!(e.message.contains("Backup Server"), "{}", e.message);
        for bad in [
            "",
            "UPID",
            "UPID:pve1:003CDE3D:025BF6DA:665F0761:qmstart:12001:root@pam", // no trailing ':'
            "UPID:pve1:003CDE3D:025BF6DA:665F0761:qmstart:12001::",        // empty user
            "UPID:pve1:3CDE3D:025BF6DA:665F0761:qmstart:12001:root@pam:",  // short pid
            "UPID:pve1:003CDE3D:025BF6D:665F0761:qmstart:12001:root@pam:", // short pstart
            "UPID:pve1:003CDE3D:025BF6DA00:665F0761:qmstart:1:root@pam:",  // long pstart
            "UPID:pve1:003CDE3G:025BF6DA:665F0761:qmstart:12001:root@pam:", // not hex
            "UPID:-pve:003CDE3D:025BF6DA:665F0761:qmstart:12001:root@pam:", // node
            "UPID:pve_1:003CDE3D:025BF6DA:665F0761:qmstart:12001:root@pam:",
            "UPID:pve1:003CDE3D:025BF6DA:665F0761::12001:root@pam:", // empty type
            "UPID:pve1:003CDE3D:025BF6DA:665F0761:qm start:1:root@pam:",
            "UPID:pve1:003CDE3D:025BF6DA:665F0761:qmstart:a/b:root@pam:",
            "XPID:pve1:003CDE3D:025BF6DA:665F0761:qmstart:12001:root@pam:",
        ] {
            assert!(Upid::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn exit_status_interpretation() {
        assert_eq!(outcome("qmstart", Some("OK"), "u").unwrap().warnings, 0);
        assert_eq!(
            outcome("qmclone", Some("WARNINGS: 3"), "u")
                .unwrap()
                .warnings,
            3
        );
        let e = outcome("qmstart", Some("VM 101 already running"), "u").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Task);
        assert_eq!(e.message, "qmstart task failed: VM 101 already running");
        let e = outcome(
            "qmclone",
            Some("can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"),
            "u",
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Locked);
        assert!(e.is_transient());
        let e = outcome("qmclone", Some("WARNINGS: x"), "u").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Task);
        let e = outcome("qmclone", None, "u").unwrap_err();
        assert_eq!(e.message, "qmclone task failed: unexpected status");
        // A worker that vanished with its node: a failure, not a lock.
        let e = outcome("qmclone", Some("unexpected status"), "u").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Task);
        let e = outcome(
            "qmclone",
            Some("clone failed: cfs-lock 'storage-nas' error: got lock request timeout"),
            "u",
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Locked);
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human_duration(Duration::from_secs(600)), "10m 0s");
        assert_eq!(human_duration(Duration::from_millis(600_400)), "10m 0s");
        assert_eq!(human_duration(Duration::from_secs(3723)), "1h 2m 3s");
        assert_eq!(human_duration(Duration::from_secs(12)), "12s");
        assert_eq!(human_duration(Duration::from_millis(150)), "150ms");
    }

    #[tokio::test]
    async fn a_timeout_says_how_long_it_really_waited() {
        // A node that never answers a status poll within the request
        // timeout: the wait ends later than the task timeout, and says so.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let config = super::super::ClientConfig::new(
            format!("https://{addr}"),
            "lab@pve!lab",
            lab_core::Secret::new("s"),
        )
        .with_fingerprint("AA".repeat(32))
        .with_timeout(Duration::from_millis(1200))
        .with_task_poll(Duration::from_millis(10))
        .with_task_timeout(Duration::from_millis(100));
        let client = Client::new(config).unwrap();
        let upid = "UPID:pve1:00000001:00000002:665F0761:qmclone:101:lab@pve!lab:";
        let started = std::time::Instant::now();
        let e = client
            .wait_task(upid, &OpContext::detached())
            .await
            .unwrap_err();
        hold.abort();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(1), "{waited:?}");
        // The transient poll failures are retried until the deadline; the
        // message says the time really spent, not only the configured one.
        assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
        assert!(
            e.message
                .contains("did not finish: waited 1s (the task timeout is 100ms)")
                || e.message
                    .contains("did not finish: waited 2s (the task timeout is 100ms)"),
            "{}",
            e.message
        );
    }
}
