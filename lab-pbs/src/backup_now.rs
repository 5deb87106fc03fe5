//! `backup-now [JOB]`: a PVE backup job's "Run now", from the command line.
//!
//! Proxmox VE runs a job (`/cluster/backup/{id}`) on its schedule; its web
//! UI's "Run now" button starts `vzdump` on every node with the job's
//! options (`POST /nodes/{node}/vzdump`), each node backing up the selected
//! guests it holds. This command does the same through the API, so a fresh
//! lab has a backup to restore (`restore-drill`) without waiting for the
//! night, and an owner takes one before an upgrade. It waits for every
//! `vzdump` task and says how each ended.

use std::fmt::Write as _;

use lab_core::command::{CommandContext, CommandError, LabCommand};
use lab_core::provider::OpContext;
use lab_core::{Lab, ResourceSpec};
use lab_proxmox::api::{path, Client, Form};
use lab_proxmox::kinds as pve;
use lab_proxmox::ProxmoxProvider;
use serde_json::{Map, Value as Json};

/// Options of a job that are the job's own, not vzdump's (pve-manager
/// `PVE/Jobs/VZDump.pm` drops them before it calls vzdump).
const JOB_ONLY: &[&str] = &[
    "id",
    "type",
    "schedule",
    "enabled",
    "comment",
    "repeat-missed",
    "next-run",
    "digest",
];

/// `backup-now [JOB]`: see the module docs.
#[derive(Debug, Default)]
pub struct BackupNowCommand;

#[async_trait::async_trait(?Send)]
impl LabCommand for BackupNowCommand {
    fn command(&self) -> clap::Command {
        clap::Command::new("backup-now")
            .about("Run the lab's PVE backup jobs now (as \"Run now\" does) and wait for them.")
            .arg(
                clap::Arg::new("job")
                    .value_name("JOB")
                    .help("One job: its id (`nightly`) or address (`proxmox.backup_job.nightly`); default: every job"),
            )
    }

    async fn run(&self, ctx: &mut CommandContext<'_>) -> Result<i32, CommandError> {
        let lab = ctx.engine.lab();
        let wanted = ctx.args.get_one::<String>("job").map(String::as_str);
        let jobs: Vec<&ResourceSpec> = lab
            .resources()
            .filter(|s| s.kind() == pve::BACKUP_JOB)
            .filter(|s| {
                wanted.is_none_or(|w| {
                    s.address.to_string() == w
                        || s.address.name() == w
                        || job_id(s).as_deref() == Some(w)
                })
            })
            .collect();
        if jobs.is_empty() {
            return Err(CommandError::msg(
                match wanted {
                    Some(w) => format!("the lab declares no backup job `{w}`"),
                    None => "the lab declares no backup job".to_string(),
                },
                "declare one with lab_proxmox::model::BackupJob, apply it, then run `backup-now`",
            ));
        }
        let mut failed = 0;
        for spec in jobs {
            let id = job_id(spec).unwrap_or_else(|| spec.address.name().to_string());
            let client = client_of(lab, spec).ok_or_else(|| {
                CommandError::msg(
                    format!("no Proxmox VE provider applies {}", spec.address),
                    "register the cluster's provider (lab_proxmox::Connection) in the lab",
                )
            })?;
            let report = run_job(client, &id).await?;
            failed += report.failed;
            ctx.out.write_all(report.text.as_bytes())?;
        }
        Ok(if failed > 0 { 1 } else { 0 })
    }
}

fn job_id(spec: &ResourceSpec) -> Option<String> {
    spec.attrs
        .get("id")
        .and_then(lab_core::Value::as_str)
        .map(str::to_string)
}

/// The Proxmox client of the instance applying `spec`.
fn client_of<'l>(lab: &'l Lab, spec: &ResourceSpec) -> Option<&'l Client> {
    let instance = lab.provider_of(spec).ok()?;
    let provider = instance
        .provider
        .as_any()?
        .downcast_ref::<ProxmoxProvider>()?;
    Some(provider.client())
}

struct JobRun {
    text: String,
    failed: usize,
}

/// Runs job `id` on every online node (or its one `node`) and waits.
async fn run_job(client: &Client, id: &str) -> Result<JobRun, CommandError> {
    let api = |e: lab_proxmox::api::ApiError| {
        CommandError::msg(
            format!("backup job `{id}`: {e}"),
            "apply the lab first (`apply`), and check the cluster is reachable",
        )
    };
    let job: Map<String, Json> = client
        .get(&path(&["cluster", "backup", id]), &[])
        .await
        .map_err(api)?;
    let mut form = Form::new();
    for (k, v) in &job {
        if JOB_ONLY.contains(&k.as_str()) {
            continue;
        }
        let v = match v {
            Json::String(s) => s.clone(),
            Json::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            Json::Null => continue,
            other => other.to_string(),
        };
        form.push(k, v);
    }
    let nodes: Vec<Map<String, Json>> = client.get("/nodes", &[]).await.map_err(api)?;
    let only = job.get("node").and_then(Json::as_str);
    let mut text = String::new();
    let mut failed = 0;
    let _ = writeln!(text, "backup job {id}:");
    for node in nodes {
        let Some(name) = node.get("node").and_then(Json::as_str) else {
            continue;
        };
        if only.is_some_and(|n| n != name)
            || node.get("status").and_then(Json::as_str) != Some("online")
        {
            continue;
        }
        let call = client
            .post_task(
                &path(&["nodes", name, "vzdump"]),
                &form,
                &OpContext::detached(),
            )
            .await;
        match call {
            Ok(outcome) if outcome.upid.is_none() => {
                let _ = writeln!(text, "  {name}: nothing of this job's here");
            }
            Ok(outcome) => {
                let _ = writeln!(
                    text,
                    "  {name}: OK{} ({})",
                    if outcome.warnings > 0 {
                        format!(", {} warning(s)", outcome.warnings)
                    } else {
                        String::new()
                    },
                    outcome.upid.unwrap_or_default()
                );
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(text, "  {name}: FAILED: {e}");
            }
        }
    }
    Ok(JobRun { text, failed })
}
