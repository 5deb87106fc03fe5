//! Backup jobs: `/cluster/backup` (pve-manager `PVE/API2/Backup.pm`; the
//! jobs live in `jobs.cfg` as `vzdump: <id>` sections).
//!
//! - `GET /cluster/backup` lists every job with its `id`, `type: vzdump`
//!   and, when it has a schedule, `next-run` computed from now (PVE: "vzdump
//!   jobs are cluster wide, there maybe was no local run so simply
//!   calculate from now");
//! - `POST` takes `id` or makes up a UUID ("autogenerate id for api
//!   compatibility"), defaults `enabled` to 1, refuses a duplicate with
//!   `Job '<id>' already exists` (500) and answers `null`; `schedule` is
//!   required (`neither 'starttime' nor 'schedule' were set`);
//! - selections as `PVE::VZDump::verify_vzdump_parameters` checks them:
//!   `all`, `exclude` or `pool` with `vmid` is `option conflicts with option
//!   'vmid'` (400), none of them is `vmid: property is missing`; `exclude`
//!   without `pool` implies `all`;
//! - `PUT /cluster/backup/{id}` merges, applies `delete` (only known
//!   options and `comment`, else `delete: unknown option '<k>'`), and a new
//!   selection drops the others as `update_job` does; a missing job is
//!   `no such vzdump job` (500), `GET`/`DELETE` of one `id: No such job
//!   '<id>'` (400).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::propstr::split_list;
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::world::{now, BackupJob};
use crate::schedule::CalendarEvent;

/// Options a job takes beside its id (those vzdump knows, plus `schedule`,
/// `enabled`, `comment`, `repeat-missed`).
const OPTIONS: &[&str] = &[
    "all",
    "bwlimit",
    "comment",
    "compress",
    "dumpdir",
    "enabled",
    "exclude",
    "exclude-path",
    "fleecing",
    "ionice",
    "lockwait",
    "mailnotification",
    "mailto",
    "maxfiles",
    "mode",
    "node",
    "notes-template",
    "notification-mode",
    "pbs-change-detection-mode",
    "performance",
    "pigz",
    "pool",
    "protected",
    "prune-backups",
    "quiet",
    "remove",
    "repeat-missed",
    "schedule",
    "script",
    "stdexcludes",
    "stop",
    "stopwait",
    "storage",
    "tmpdir",
    "vmid",
    "zstd",
];

/// Boolean options, returned as integers.
const FLAGS: &[&str] = &[
    "all",
    "enabled",
    "protected",
    "remove",
    "repeat-missed",
    "quiet",
    "stop",
];

fn is_set(job: &BTreeMap<String, String>, key: &str) -> bool {
    job.get(key).is_some_and(|v| !v.is_empty() && v != "0")
}

/// `PVE::VZDump::verify_vzdump_parameters($param, 1)`.
pub(crate) fn verify_selection(job: &mut BTreeMap<String, String>) -> Result<(), ApiError> {
    for key in ["all", "exclude", "pool"] {
        if is_set(job, key) && is_set(job, "vmid") {
            return Err(ApiError::param(key, "option conflicts with option 'vmid'"));
        }
    }
    if job.contains_key("exclude") && !is_set(job, "pool") {
        job.insert("all".into(), "1".into());
    }
    let selected = ["all", "stop", "pool", "vmid"]
        .iter()
        .any(|k| is_set(job, k));
    if !selected {
        return Err(ApiError::param("vmid", "property is missing"));
    }
    if let Some(s) = job.get("schedule") {
        if let Err(e) = s.parse::<CalendarEvent>() {
            return Err(ApiError::param(
                "schedule",
                format!("invalid calendar event - {e}"),
            ));
        }
    }
    Ok(())
}

fn job_json(job: &BackupJob, with_next_run: bool) -> Value {
    let mut obj = Map::new();
    for (k, v) in &job.options {
        let value = if FLAGS.contains(&k.as_str()) {
            v.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(v))
        } else {
            json!(v)
        };
        obj.insert(k.clone(), value);
    }
    obj.insert("id".into(), json!(job.id));
    obj.insert("type".into(), json!("vzdump"));
    if with_next_run {
        if let Some(next) = job
            .options
            .get("schedule")
            .and_then(|s| s.parse::<CalendarEvent>().ok())
            .and_then(|e| {
                let from = time::OffsetDateTime::from_unix_timestamp(now() as i64).ok()?;
                e.next_after(from)
            })
        {
            obj.insert("next-run".into(), json!(next.unix_timestamp()));
        }
    }
    Value::Object(obj)
}

/// `GET /cluster/backup`.
pub(crate) fn list(shared: &Arc<Shared>) -> ApiResult {
    shared.read(|w| {
        Ok(Reply::data(Value::Array(
            w.backup_jobs.iter().map(|j| job_json(j, true)).collect(),
        )))
    })
}

fn no_such_job(id: &str) -> ApiError {
    ApiError::param("id", format!("No such job '{id}'"))
}

/// `GET /cluster/backup/{id}`.
pub(crate) fn get(shared: &Arc<Shared>, id: &str) -> ApiResult {
    shared.read(|w| {
        let job = w
            .backup_jobs
            .iter()
            .find(|j| j.id == id)
            .ok_or_else(|| no_such_job(id))?;
        Ok(Reply::data(job_json(job, false)))
    })
}

/// A UUID as `UUID::uuid()` prints it.
fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `POST /cluster/backup`.
pub(crate) fn create(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    if p.get("schedule").is_none() && p.get("starttime").is_none() {
        return Err(ApiError::param(
            "schedule",
            "neither 'starttime' nor 'schedule' were set",
        ));
    }
    let id = p.get("id").map_or_else(uuid, str::to_string);
    let mut options: BTreeMap<String, String> = p
        .iter()
        .filter(|(k, _)| *k != "id")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    options
        .entry("enabled".into())
        .or_insert_with(|| "1".into());
    shared.write(|w| {
        if w.backup_jobs.iter().any(|j| j.id == id) {
            return Err(ApiError::die(format!("Job '{id}' already exists")));
        }
        verify_selection(&mut options)?;
        w.backup_jobs.push(BackupJob {
            id: id.clone(),
            options,
        });
        Ok(Reply::null())
    })
}

/// `PUT /cluster/backup/{id}`.
pub(crate) fn update(shared: &Arc<Shared>, id: &str, p: &Params) -> ApiResult {
    let delete = p.get("delete").map(split_list).unwrap_or_default();
    let params: BTreeMap<String, String> = p
        .iter()
        .filter(|(k, _)| !matches!(*k, "id" | "delete" | "digest"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if params.is_empty() && delete.is_empty() {
        return Err(ApiError::die("no options specified"));
    }
    shared.write(|w| {
        let job = w
            .backup_jobs
            .iter_mut()
            .find(|j| j.id == id)
            .ok_or_else(|| ApiError::die("no such vzdump job"))?;
        let mut opts = job.options.clone();
        for k in &delete {
            if !OPTIONS.contains(&k.as_str()) {
                return Err(ApiError::param("delete", format!("unknown option '{k}'")));
            }
            opts.remove(k);
        }
        for (k, v) in &params {
            opts.insert(k.clone(), v.clone());
        }
        if opts.contains_key("exclude") && !opts.contains_key("pool") {
            opts.insert("all".into(), "1".into());
        }
        if params.contains_key("vmid") {
            for k in ["all", "exclude", "pool"] {
                opts.remove(k);
            }
        } else if params.get("all").is_some_and(|v| v != "0") {
            opts.remove("vmid");
            opts.remove("pool");
        } else if opts.contains_key("pool") {
            for k in ["vmid", "all", "exclude"] {
                opts.remove(k);
            }
        }
        verify_selection(&mut opts)?;
        job.options = opts;
        Ok(Reply::null())
    })
}

/// `DELETE /cluster/backup/{id}`.
pub(crate) fn delete(shared: &Arc<Shared>, id: &str) -> ApiResult {
    shared.write(|w| {
        let before = w.backup_jobs.len();
        w.backup_jobs.retain(|j| j.id != id);
        if w.backup_jobs.len() == before {
            return Err(no_such_job(id));
        }
        Ok(Reply::null())
    })
}
