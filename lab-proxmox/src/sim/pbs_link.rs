//! How the simulated PVE talks to a Proxmox Backup Server: the contract
//! the PBS simulator serves (helper-notes `pbs-link.md`): the real
//! `GET /api2/json/admin/datastore`, `.../{store}/snapshots` and
//! `.../{store}/status`, and two endpoints outside `/api2/json` standing for
//! the backup protocol (`POST /sim/backup` writes a snapshot, `GET
//! /sim/backup` reads one), all with `Authorization:
//! PBSAPIToken=<auth-id>:<secret>` and the storage's `fingerprint` pinned.
//!
//! PVE's errors are PBSPlugin.pm's and PVE::APIClient::LWP's words for the
//! API calls: a fingerprint that does not match is `fingerprint '<seen>'
//! not verified, abort!`; a PBS answering an error gives `<code> <reason
//! phrase>` (LWP's `$response->message`, the body unread; the exception
//! prefixes the code); a connection LWP cannot make is its own `500 Can't
//! connect to <host>:<port> (<why>)`; activation wraps them as
//! `<storeid>: error fetching datastores - ...`. The backup and restore
//! themselves are proxmox-backup-client's, which reports PBS's plain-text
//! message.
//!
//! The simulator dials loopback only: a `server` that is not `127.0.0.1`,
//! `::1` or `localhost` fails as an unreachable host would (`Can't connect
//! to <host>:<port> (Connection timed out)`, with LWP's 500 before it),
//! and nothing is dialed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::api::tls;

/// What PVE knows of a `pbs` storage to reach its PBS.
#[derive(Clone, Debug)]
pub(crate) struct PbsConn {
    /// The storage id (for messages).
    pub storeid: String,
    /// Host.
    pub server: String,
    /// Port (8007 by default).
    pub port: u16,
    /// `user@realm!token` (PBSPlugin's default is `root@pam`).
    pub auth_id: String,
    /// The token secret (`/etc/pve/priv/storage/<id>.pw`).
    pub secret: String,
    /// The pinned fingerprint, if any.
    pub fingerprint: Option<String>,
    /// The datastore.
    pub datastore: String,
    /// The namespace (absent: the root).
    pub namespace: Option<String>,
}

/// The hosts the simulator may dial.
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl PbsConn {
    /// From a storage's options (its config and its password).
    pub fn of(storeid: &str, options: &BTreeMap<String, String>) -> PbsConn {
        let get = |k: &str| options.get(k).cloned();
        PbsConn {
            storeid: storeid.to_string(),
            server: get("server").unwrap_or_default(),
            port: get("port").and_then(|p| p.parse().ok()).unwrap_or(8007),
            auth_id: get("username").unwrap_or_else(|| "root@pam".to_string()),
            secret: get("password").unwrap_or_default(),
            fingerprint: get("fingerprint"),
            datastore: get("datastore").unwrap_or_default(),
            namespace: get("namespace").filter(|n| !n.is_empty()),
        }
    }

    fn base(&self) -> String {
        if self.server.contains(':') && !self.server.starts_with('[') {
            format!("https://[{}]:{}", self.server, self.port)
        } else {
            format!("https://{}:{}", self.server, self.port)
        }
    }

    fn client(&self) -> Result<reqwest::Client, String> {
        if !is_loopback(&self.server) {
            return Err(format!(
                "Can't connect to {}:{} (Connection timed out)",
                self.server, self.port
            ));
        }
        let pin = match &self.fingerprint {
            Some(fp) => Some(
                tls::parse_fingerprint(fp).ok_or_else(|| format!("invalid fingerprint '{fp}'"))?,
            ),
            None => None,
        };
        let config = tls::client_config(pin).map_err(|e| e.to_string())?;
        reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .http1_only()
            .timeout(Duration::from_secs(7))
            .build()
            .map_err(|e| e.to_string())
    }

    /// One call; the `data` of a success, or the error as LWP reports it.
    /// `lwp`: report errors as PVE::APIClient::LWP does (API calls), else
    /// as proxmox-backup-client does (PBS's message).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        lwp: bool,
    ) -> Result<Value, String> {
        let client = self.client().map_err(|e| self.lwp_code(e, lwp))?;
        let mut url = format!("{}{path}", self.base());
        for (i, (k, v)) in query.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            url.push_str(&format!("{sep}{k}={}", crate::api::percent_encode(v)));
        }
        let mut req = client.request(method, url).header(
            "Authorization",
            format!("PBSAPIToken={}:{}", self.auth_id, self.secret),
        );
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.lwp_code(self.transport_error(&e), lwp))?;
        let status = resp.status();
        if !status.is_success() {
            let reason = status.canonical_reason().unwrap_or("error");
            let text = resp.text().await.unwrap_or_default();
            let text = text.trim();
            return Err(if lwp || text.is_empty() {
                format!("{} {reason}", status.as_u16())
            } else {
                text.to_string()
            });
        }
        let text = resp.text().await.map_err(|e| e.to_string())?;
        let body: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        Ok(body.get("data").cloned().unwrap_or(Value::Null))
    }

    /// LWP reports a connection it could not make as a response of its
    /// own, code 500, which the exception prints first; a fingerprint the
    /// client refused is raised without a code.
    fn lwp_code(&self, message: String, lwp: bool) -> String {
        if lwp && message.starts_with("Can't connect") {
            format!("500 {message}")
        } else {
            message
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> String {
        if let Some(refusal) = tls::find_refusal(e) {
            return match refusal.pinned {
                Some(_) => format!("fingerprint '{}' not verified, abort!", refusal.fingerprint),
                None => format!(
                    "Can't connect to {}:{} (certificate verify failed)",
                    self.server, self.port
                ),
            };
        }
        let why = if e.is_timeout() {
            "Connection timed out"
        } else {
            "Connection refused"
        };
        format!("Can't connect to {}:{} ({why})", self.server, self.port)
    }

    /// `activate_storage`: the datastore must be among those the token
    /// sees.
    pub async fn activate(&self) -> Result<(), String> {
        let list = self
            .call(
                reqwest::Method::GET,
                "/api2/json/admin/datastore",
                &[],
                None,
                true,
            )
            .await
            .map_err(|e| format!("{}: error fetching datastores - {e}", self.storeid))?;
        let found = list
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| d.get("store").and_then(Value::as_str) == Some(self.datastore.as_str()));
        if found {
            Ok(())
        } else {
            Err(format!(
                "{}: Cannot find datastore '{}', check permissions and existence!",
                self.storeid, self.datastore
            ))
        }
    }

    /// `(total, used, avail)` of the datastore.
    pub async fn status(&self) -> Result<(u64, u64, u64), String> {
        let path = format!("/api2/json/admin/datastore/{}/status", self.datastore);
        let s = self
            .call(reqwest::Method::GET, &path, &[], None, true)
            .await?;
        let n = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        Ok((n("total"), n("used"), n("avail")))
    }

    fn ns_query(&self) -> Vec<(&'static str, String)> {
        self.namespace.iter().map(|ns| ("ns", ns.clone())).collect()
    }

    /// The snapshots in the storage's namespace.
    pub async fn snapshots(&self) -> Result<Vec<Value>, String> {
        let path = format!("/api2/json/admin/datastore/{}/snapshots", self.datastore);
        let list = self
            .call(reqwest::Method::GET, &path, &self.ns_query(), None, true)
            .await
            .map_err(|e| format!("error listing snapshots - {e}"))?;
        Ok(list.as_array().cloned().unwrap_or_default())
    }

    /// Writes one snapshot (`POST /sim/backup`).
    pub async fn write_backup(&self, snapshot: &Snapshot) -> Result<(), String> {
        let mut body = json!({
            "store": self.datastore,
            "backup-type": snapshot.backup_type,
            "backup-id": snapshot.backup_id,
            "backup-time": snapshot.backup_time,
            "files": snapshot.files.iter().map(|(f, s)| json!({"filename": f, "size": s})).collect::<Vec<_>>(),
            "guest-config": snapshot.guest_config,
        });
        if let Some(ns) = &self.namespace {
            body["ns"] = json!(ns);
        }
        if let Some(n) = &snapshot.notes {
            body["notes"] = json!(n);
        }
        self.call(
            reqwest::Method::POST,
            "/sim/backup",
            &[],
            Some(&body),
            false,
        )
        .await
        .map(|_| ())
    }

    /// Reads one snapshot (`GET /sim/backup`).
    pub async fn read_backup(
        &self,
        backup_type: &str,
        backup_id: &str,
        backup_time: i64,
    ) -> Result<Snapshot, String> {
        let mut q = vec![
            ("store", self.datastore.clone()),
            ("backup-type", backup_type.to_string()),
            ("backup-id", backup_id.to_string()),
            ("backup-time", backup_time.to_string()),
        ];
        q.extend(self.ns_query());
        let d = self
            .call(reqwest::Method::GET, "/sim/backup", &q, None, false)
            .await?;
        let files = d
            .get("files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| {
                Some((
                    f.get("filename")?.as_str()?.to_string(),
                    f.get("size").and_then(Value::as_u64).unwrap_or(0),
                ))
            })
            .collect();
        Ok(Snapshot {
            backup_type: backup_type.to_string(),
            backup_id: backup_id.to_string(),
            backup_time,
            files,
            guest_config: d
                .get("guest-config")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            notes: None,
        })
    }
}

/// One backup snapshot as vzdump writes it and qmrestore reads it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Snapshot {
    /// `vm` or `ct`.
    pub backup_type: String,
    /// The VMID.
    pub backup_id: String,
    /// Unix seconds.
    pub backup_time: i64,
    /// `(filename, size)`: `qemu-server.conf.blob` / `pct.conf.blob`, then
    /// one `drive-<key>.img.fidx` per VM disk or `root.pxar.didx`.
    pub files: Vec<(String, u64)>,
    /// The guest's config file text.
    pub guest_config: String,
    /// Notes.
    pub notes: Option<String>,
}

/// `YYYY-MM-DDTHH:MM:SSZ` of unix seconds (PBS snapshot names).
pub(crate) fn rfc3339(t: i64) -> String {
    let dt =
        time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i32>().ok();
    let date = time::Date::from_calendar_date(
        n(0..4)?,
        time::Month::try_from(n(5..7)? as u8).ok()?,
        n(8..10)? as u8,
    )
    .ok()?;
    let t = time::Time::from_hms(n(11..13)? as u8, n(14..16)? as u8, n(17..19)? as u8).ok()?;
    Some(date.with_time(t).assume_utc().unix_timestamp())
}

/// A PBS volume name `backup/<type>/<id>/<time>` as its parts
/// (PBSPlugin's `parse_volname`).
pub(crate) fn parse_volname(volname: &str) -> Result<(String, String, i64), String> {
    let parts: Vec<&str> = volname.split('/').collect();
    if let ["backup", btype, bid, btime] = parts.as_slice() {
        if let Some(t) = parse_rfc3339(btime) {
            if !btype.is_empty() && !bid.is_empty() {
                return Ok((btype.to_string(), bid.to_string(), t));
            }
        }
    }
    Err(format!("unable to parse PBS volume name '{volname}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_round_trip() {
        let t = 1_764_720_000;
        let name = format!("backup/vm/101/{}", rfc3339(t));
        assert_eq!(name, "backup/vm/101/2025-12-03T00:00:00Z");
        assert_eq!(
            parse_volname(&name).unwrap(),
            ("vm".into(), "101".into(), t)
        );
        assert!(parse_volname("backup/vm/101").is_err());
    }

    #[test]
    fn only_loopback_is_dialed() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("::1"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("10.0.0.9"));
        let mut options = BTreeMap::new();
        options.insert("server".to_string(), "10.0.0.9".to_string());
        let conn = PbsConn::of("pbs", &options);
        assert_eq!(
            conn.client().unwrap_err(),
            "Can't connect to 10.0.0.9:8007 (Connection timed out)"
        );
    }
}
