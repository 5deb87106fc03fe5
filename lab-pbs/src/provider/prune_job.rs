//! `pbs.prune_job`: `/config/prune`. The comment carries the lab's
//! marker; an update sends PBS's `delete` array for what the code no
//! longer sets; the plan shows the next runs.
//!
//! Id: the job id.

use lab_core::kind::Found;
use serde_json::{Map, Value as Json};

use super::jobs::Section;
use super::normalize::{int, text};
use super::owner::user_comment;
use crate::kinds::{JobOutputs, PruneJobSpec};

pub(super) fn observe(m: &Map<String, Json>, base: &PruneJobSpec) -> Found<PruneJobSpec> {
    let id = text(m, "id").unwrap_or_else(|| base.id.clone());
    let spec = PruneJobSpec {
        store: text(m, "store").unwrap_or_default(),
        schedule: text(m, "schedule").unwrap_or_default(),
        ns: text(m, "ns"),
        max_depth: int(m, "max-depth"),
        keep_last: int(m, "keep-last"),
        keep_hourly: int(m, "keep-hourly"),
        keep_daily: int(m, "keep-daily"),
        keep_weekly: int(m, "keep-weekly"),
        keep_monthly: int(m, "keep-monthly"),
        keep_yearly: int(m, "keep-yearly"),
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

const SECTION: Section<PruneJobSpec> = Section {
    base: "/config/prune",
    what: "prune job",
    key: "id",
    optional: &[
        "ns",
        "max-depth",
        "keep-last",
        "keep-hourly",
        "keep-daily",
        "keep-weekly",
        "keep-monthly",
        "keep-yearly",
    ],
    observe,
};

super::jobs::job_kind_provider!(PruneJobSpec, SECTION, prune_jobs);
