//! lab-pbs's part of every guest's note ([`lab_core::notes`]): its copies
//! and failure domains, and how to restore it, from the failure-domain
//! analysis ([`Topology::analyze`], the same answer as `failures` and
//! `graph --view failures`):
//!
//! - **Copies**: each copy of the guest (datastore, appliance, backup
//!   server, daily or archive, the jobs that bring it there with their
//!   schedules, how old it can be), the appliances its live data is on,
//!   and what each appliance loss costs this guest (nothing, a restore
//!   losing at most so much, or everything);
//! - **Restore**: the `restore-drill` command that proves the restore
//!   works, then the restore by hand: `qmrestore` / `pct restore` of the
//!   newest snapshot from the PVE `pbs` storage that reads the datastore
//!   of the guest's freshest copy.
//!
//! The analysis borrows its topology, so the sections are composed for
//! every guest when the set reads the lab, once per note pass.

use std::collections::HashMap;

use lab_core::notes::{order, NoteLine, NoteSection, NoteSet, NoteSource};
use lab_core::{Address, Lab, Value};

use crate::failures::{
    AnalysisOptions, DataCopy, DataKind, DataReport, FailureReport, Outcome, Topology,
};

/// lab-pbs's note set, on every spec its builders make.
pub const NOTES: NoteSet = NoteSet {
    name: "pbs",
    read: |lab| Box::new(PbsNotes::read(lab)),
    short_field: None,
};

/// Every guest's sections and lines, composed when read.
struct PbsNotes {
    notes: HashMap<Address, (Vec<NoteSection>, Vec<NoteLine>)>,
    /// Why the analysis could not run, for every guest's note.
    error: Option<String>,
}

/// The PVE `pbs` storage reading each datastore (its address -> storage
/// id).
fn pve_storages(lab: &Lab) -> HashMap<String, String> {
    lab.resources()
        .filter(|s| s.kind() == lab_proxmox::kinds::STORAGE)
        .filter_map(|s| {
            let ds = s.attrs.get("pbs_datastore")?.as_str()?.to_string();
            let id = s.attrs.get("storage").and_then(Value::as_str)?.to_string();
            Some((ds, id))
        })
        .collect()
}

fn copy_line(c: &DataCopy) -> String {
    let mut line = format!("- {} copy in `{}` on `{}`", c.role, c.place, c.appliance);
    if let Some(server) = &c.server {
        line.push_str(&format!(", served by `{server}`"));
    }
    let jobs: Vec<String> = c
        .via
        .iter()
        .map(|h| format!("`{}` (`{}`)", h.job, h.schedule))
        .collect();
    if !jobs.is_empty() {
        line.push_str(&format!(", through {}", jobs.join(" then ")));
    }
    line.push_str(&format!("; at most {} old\n", c.worst_age));
    line
}

fn copies_section(report: &FailureReport<'_>, index: usize, item: &DataReport) -> NoteSection {
    let mut body = String::new();
    let lives: Vec<String> = item.lives_on.iter().map(|a| format!("`{a}`")).collect();
    body.push_str(&format!("Its live data is on {}.\n\n", lives.join(", ")));
    if item.rebuildable {
        body.push_str("It is rebuilt from the lab's code: there is nothing to back up.\n\n");
    } else if item.copies.is_empty() {
        body.push_str("**No copy**: no backup job selects it.\n\n");
    } else {
        for c in &item.copies {
            body.push_str(&copy_line(c));
        }
        body.push('\n');
    }
    let mut losses = String::new();
    for s in report.singles() {
        let lost: Vec<String> = s.lost.iter().map(|a| format!("`{a}`")).collect();
        let lost = lost.join(" and ");
        match s.outcome(index) {
            Outcome::Live => {}
            Outcome::Restorable {
                copy,
                rpo,
                rebuild_server,
            } => {
                let from = &item.copies[copy];
                let wait = if rebuild_server {
                    " once its backup server is rebuilt from the code"
                } else {
                    ""
                };
                losses.push_str(&format!(
                    "- losing {lost}: restored from `{}`{wait}, losing at most {rpo} of data\n",
                    from.place
                ));
            }
            Outcome::Lost if item.rebuildable => {
                losses.push_str(&format!("- losing {lost}: rebuilt from the code\n"));
            }
            Outcome::Lost => {
                let why = if item.copies.is_empty() {
                    "it has no copy"
                } else {
                    "no copy it has, or no node to restore it onto, survives (`failures` shows the loss whole)"
                };
                losses.push_str(&format!("- **losing {lost} loses it**: {why}\n"));
            }
        }
    }
    if losses.is_empty() {
        body.push_str("No single appliance loss touches it.\n");
    } else {
        body.push_str("What one appliance loss costs it:\n\n");
        body.push_str(&losses);
    }
    NoteSection::new("Copies and failure domains", body, order::COPIES)
}

fn restore_section(
    item: &DataReport,
    guest_kind: &str,
    storages: &HashMap<String, String>,
) -> Option<NoteSection> {
    let from = item.restore_from()?;
    let name = item.address.name();
    let mut body = format!(
        "Prove it first: `restore-drill {name}` (e.g. `cargo run -- restore-drill {name}`) \
         restores the newest snapshot from `{}` to a scratch VMID, starts it, checks it runs \
         and removes it; the original is never touched.\n\n",
        from.place
    );
    let storage = storages.get(&from.place.to_string());
    match storage {
        Some(storage) => {
            let (ty, cmd) = if guest_kind == lab_proxmox::kinds::VM {
                (
                    "vm",
                    format!(
                        "qmrestore {storage}:backup/vm/<vmid>/<time> <vmid> --storage <storage>"
                    ),
                )
            } else {
                (
                    "ct",
                    format!(
                        "pct restore <vmid> {storage}:backup/ct/<vmid>/<time> --storage <storage>"
                    ),
                )
            };
            body.push_str(&format!(
                "By hand, on a node: list the snapshots the PVE storage `{storage}` reads from `{}` \
                 and take the newest, then restore it (`<vmid>`: `state show {}` names it; \
                 `<storage>`: one holding {}):\n\n```sh\npvesm list {storage} --vmid <vmid>\n{cmd}\n```\n",
                from.place,
                item.address,
                if ty == "vm" { "`images`" } else { "`rootdir`" }
            ));
        }
        None => body.push_str(&format!(
            "By hand: no PVE `pbs` storage of the lab reads `{}`; add one \
             (`lab_pbs::model::PveStorage`) to restore through Proxmox.\n",
            from.place
        )),
    }
    Some(NoteSection::new("How to restore it", body, order::RESTORE))
}

fn backups_line(item: &DataReport) -> NoteLine {
    let text = if item.rebuildable {
        "none needed (rebuilt from the code)".to_string()
    } else if item.copies.is_empty() {
        "NONE".to_string()
    } else {
        item.copies
            .iter()
            .map(|c| format!("{} {} ({})", c.role, c.place.name(), c.appliance.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    NoteLine::new("backups", text, order::COPIES)
}

impl PbsNotes {
    fn read(lab: &Lab) -> Self {
        let topology = Topology::of_lab(lab);
        // The analysis' fixed horizon, so a note is the same bytes each time.
        let report = match topology.analyze(&AnalysisOptions::default()) {
            Ok(r) => r,
            Err(e) => {
                return PbsNotes {
                    notes: HashMap::new(),
                    error: Some(e.to_string()),
                }
            }
        };
        let storages = pve_storages(lab);
        let mut notes = HashMap::new();
        for (i, item) in report.data.iter().enumerate() {
            if item.kind != DataKind::Guest {
                continue;
            }
            let kind = item.address.kind().to_string();
            let mut sections = vec![copies_section(&report, i, item)];
            sections.extend(restore_section(item, &kind, &storages));
            notes.insert(item.address.clone(), (sections, vec![backups_line(item)]));
        }
        PbsNotes { notes, error: None }
    }
}

impl NoteSource for PbsNotes {
    fn sections(&self, subject: &Address) -> Vec<NoteSection> {
        if let Some(e) = &self.error {
            return vec![NoteSection::new(
                "Copies and failure domains",
                format!("The failure analysis cannot run: {e} (`check` says where)."),
                order::COPIES,
            )];
        }
        self.notes
            .get(subject)
            .map(|(s, _)| s.clone())
            .unwrap_or_default()
    }

    fn lines(&self, subject: &Address) -> Vec<NoteLine> {
        self.notes
            .get(subject)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }
}
