//! `pbs.sync_job`: `/config/sync` (a pull, PBS's default direction).
//! The comment carries the lab's marker; an update sends PBS's `delete`
//! array for what the code no longer sets; the plan shows the next runs.
//!
//! Id: the job id.

use lab_core::kind::Found;
use serde_json::{Map, Value as Json};

use super::jobs::Section;
use super::normalize::{flag, int, list, text};
use super::owner::user_comment;
use crate::kinds::{JobOutputs, SyncJobSpec};

pub(super) fn observe(m: &Map<String, Json>, base: &SyncJobSpec) -> Found<SyncJobSpec> {
    let id = text(m, "id").unwrap_or_else(|| base.id.clone());
    let spec = SyncJobSpec {
        store: text(m, "store").unwrap_or_default(),
        remote: text(m, "remote"),
        remote_store: text(m, "remote-store").unwrap_or_default(),
        ns: text(m, "ns"),
        remote_ns: text(m, "remote-ns"),
        max_depth: int(m, "max-depth"),
        schedule: text(m, "schedule"),
        remove_vanished: flag(m, "remove-vanished"),
        transfer_last: int(m, "transfer-last"),
        group_filter: list(m, "group-filter"),
        comment: user_comment(text(m, "comment")),
        id: id.clone(),
        ..base.clone()
    };
    Found {
        id: id.clone(),
        spec,
        outputs: JobOutputs { id },
    }
}

const SECTION: Section<SyncJobSpec> = Section {
    base: "/config/sync",
    what: "sync job",
    key: "id",
    optional: &[
        "remote",
        "schedule",
        "remove-vanished",
        "group-filter",
        "ns",
        "remote-ns",
        "max-depth",
        "transfer-last",
    ],
    observe,
};

super::jobs::job_kind_provider!(SyncJobSpec, SECTION, sync_jobs);
