//! PBS task ids.
//!
//! `UPID:<node>:<pid>:<pstart>:<task_id>:<starttime>:<type>:<worker id>:<auth id>:`
//! with the checks of proxmox-schema's `PROXMOX_UPID_REGEX`: a node name of
//! letters, digits and inner `-`; pid 8 hex digits; pstart 8 or 9; task id
//! 8 to 16; starttime 8; type and auth id without `:` or whitespace (not
//! empty); the worker id likewise but possibly empty, escaped as systemd
//! unit names are (`/` written `-`, other bytes outside `[A-Za-z0-9_.]` as
//! `\xNN`), so a datastore path in it reads back whole.

use std::fmt;

/// A parsed PBS task id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Upid {
    /// The node the task runs on (where to poll).
    pub node: String,
    /// The worker's process id.
    pub pid: u32,
    /// The process start time in clock ticks.
    pub pstart: u64,
    /// The task's number inside the process.
    pub task_id: u64,
    /// The task start, unix seconds.
    pub starttime: u32,
    /// The worker type (`syncjob`, `prune`, `garbage_collection`,
    /// `verificationjob`, `backup`, ...).
    pub worker_type: String,
    /// The worker id, unescaped (`backup:vm/100`), if any.
    pub worker_id: Option<String>,
    /// Who started it (`root@pam`, `lab@pbs!lab`).
    pub auth_id: String,
    /// The text as PBS wrote it (what the status URL takes).
    raw: String,
}

/// Why a text is not a PBS task id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a Proxmox Backup Server task id ({why}): {text:?}")]
pub struct UpidError {
    /// The text given.
    pub text: String,
    /// Which part is wrong.
    pub why: &'static str,
}

impl Upid {
    /// Parses a PBS UPID.
    ///
    /// ```
    /// use lab_pbs::api::Upid;
    /// let upid = Upid::parse(
    ///     "UPID:pbs:000004D2:0000162E:00000003:66A1B2C3:syncjob:pbs\\x3abackup\\x3acopy\\x3ds1:root@pam:",
    /// ).unwrap();
    /// assert_eq!(upid.node, "pbs");
    /// assert_eq!(upid.task_id, 3);
    /// assert_eq!(upid.worker_id.as_deref(), Some("pbs:backup:copy=s1"));
    /// // A PVE UPID (one field fewer) is not one.
    /// assert!(Upid::parse("UPID:pve1:003CDE3D:025BF6DA:665F0761:qmstart:100:root@pam:").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Upid, UpidError> {
        let bad = |why| UpidError {
            text: text.to_string(),
            why,
        };
        let fields: Vec<&str> = text.split(':').collect();
        if fields.len() == 9 && fields[8].is_empty() {
            return Err(bad("8 fields: this looks like a Proxmox VE UPID"));
        }
        if fields.len() != 10 || fields[0] != "UPID" || !fields[9].is_empty() {
            return Err(bad(
                "expected UPID:node:pid:pstart:task_id:starttime:type:worker_id:auth_id:",
            ));
        }
        let node = fields[1];
        if !lab_proxmox::api::is_node_name(node) {
            return Err(bad("node name"));
        }
        let hex = |f: &str, min: usize, max: usize| {
            (f.len() >= min && f.len() <= max && f.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u64::from_str_radix(f, 16).ok())
                .flatten()
        };
        let pid = hex(fields[2], 8, 8).ok_or_else(|| bad("pid"))?;
        let pstart = hex(fields[3], 8, 9).ok_or_else(|| bad("pstart"))?;
        let task_id = hex(fields[4], 8, 16).ok_or_else(|| bad("task id"))?;
        let starttime = hex(fields[5], 8, 8).ok_or_else(|| bad("starttime"))?;
        let plain = |f: &str| !f.chars().any(char::is_whitespace);
        let (worker_type, worker_id, auth_id) = (fields[6], fields[7], fields[8]);
        if worker_type.is_empty() || !plain(worker_type) {
            return Err(bad("worker type"));
        }
        if !plain(worker_id) {
            return Err(bad("worker id"));
        }
        if auth_id.is_empty() || !plain(auth_id) {
            return Err(bad("auth id"));
        }
        let worker_id = if worker_id.is_empty() {
            None
        } else {
            Some(unescape(worker_id).ok_or_else(|| bad("worker id escape"))?)
        };
        Ok(Upid {
            node: node.to_string(),
            pid: pid as u32,
            pstart,
            task_id,
            starttime: starttime as u32,
            worker_type: worker_type.to_string(),
            worker_id,
            auth_id: auth_id.to_string(),
            raw: text.to_string(),
        })
    }
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Writes `id` as PBS writes a worker id into a UPID: systemd unit-name
/// escaping (what the PBS simulator will write, and [`Upid::parse`] reads).
pub fn escape_worker_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for (i, b) in id.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// Reads a systemd-escaped worker id back; `None` for a broken `\x`.
fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' => {
                out.push(b'/');
                i += 1;
            }
            b'\\' => {
                if bytes.get(i + 1) != Some(&b'x') {
                    return None;
                }
                let hex = text.get(i + 2..i + 4)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_survive_escaping() {
        for id in [
            "backup:vm/100",
            "pbs:backup:copy:s1",
            "store1",
            ".hidden",
            "with space",
            "héllo",
            "a-b",
        ] {
            let escaped = escape_worker_id(id);
            assert!(!escaped.contains([':', ' ']), "{escaped}");
            assert_eq!(unescape(&escaped).as_deref(), Some(id), "{escaped}");
        }
        assert_eq!(escape_worker_id("a/b"), "a-b");
        assert_eq!(escape_worker_id("a-b"), "a\\x2db");
        assert_eq!(escape_worker_id(".x"), "\\x2ex");
    }

    #[test]
    fn upids_as_pbs_writes_them() {
        let text = format!(
            "UPID:pbs1:{:08X}:{:08X}:{:08X}:{:08X}:garbage_collection:{}:lab@pbs!lab:",
            4242,
            5678,
            12,
            0x66A1_B2C3u32,
            escape_worker_id("backup")
        );
        let upid = Upid::parse(&text).unwrap();
        assert_eq!(upid.pid, 4242);
        assert_eq!(upid.pstart, 5678);
        assert_eq!(upid.task_id, 12);
        assert_eq!(upid.starttime, 0x66A1_B2C3);
        assert_eq!(upid.worker_type, "garbage_collection");
        assert_eq!(upid.worker_id.as_deref(), Some("backup"));
        assert_eq!(upid.auth_id, "lab@pbs!lab");
        assert_eq!(upid.to_string(), text);
        // No worker id at all.
        let upid =
            Upid::parse("UPID:pbs1:00000001:00000002:00000003:00000004:aptupdate::root@pam:")
                .unwrap();
        assert_eq!(upid.worker_id, None);
    }

    #[test]
    fn what_the_regex_refuses() {
        for (text, why) in [
            (
                "UPID:pve1:003CDE3D:025BF6DA:665F0761:qmstart:100:root@pam:",
                "Proxmox VE",
            ),
            (
                "UPID:-pbs:00000001:00000002:00000003:00000004:t::root@pam:",
                "node name",
            ),
            (
                "UPID:pbs:0001:00000002:00000003:00000004:t::root@pam:",
                "pid",
            ),
            (
                "UPID:pbs:00000001:00000002:0003:00000004:t::root@pam:",
                "task id",
            ),
            (
                "UPID:pbs:00000001:00000002:00000003:00000004:t:::",
                "auth id",
            ),
            (
                "UPID:pbs:00000001:00000002:00000003:00000004::x:root@pam:",
                "worker type",
            ),
            (
                "UPID:pbs:00000001:00000002:00000003:00000004:t:a\\x4:root@pam:",
                "escape",
            ),
            (
                "UPID:pbs:00000001:00000002:00000003:00000004:t::root@pam",
                "expected",
            ),
        ] {
            let err = Upid::parse(text).expect_err(text);
            assert!(err.to_string().contains(why), "{text}: {err}");
        }
    }
}
