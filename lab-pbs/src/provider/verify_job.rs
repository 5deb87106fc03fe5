//! `pbs.verify_job`: `/config/verify`. The comment carries the lab's
//! marker; an update sends PBS's `delete` array for what the code no
//! longer sets; the plan shows the next runs.
//!
//! Id: the job id.

use lab_core::kind::Found;
use serde_json::{Map, Value as Json};

use super::jobs::Section;
use super::normalize::{flag, int, text};
use super::owner::user_comment;
use crate::kinds::{JobOutputs, VerifyJobSpec};

pub(super) fn observe(m: &Map<String, Json>, base: &VerifyJobSpec) -> Found<VerifyJobSpec> {
    let id = text(m, "id").unwrap_or_else(|| base.id.clone());
    let spec = VerifyJobSpec {
        store: text(m, "store").unwrap_or_default(),
        schedule: text(m, "schedule"),
        ns: text(m, "ns"),
        max_depth: int(m, "max-depth"),
        ignore_verified: flag(m, "ignore-verified"),
        outdated_after: int(m, "outdated-after"),
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

const SECTION: Section<VerifyJobSpec> = Section {
    base: "/config/verify",
    what: "verify job",
    key: "id",
    optional: &[
        "schedule",
        "ns",
        "max-depth",
        "ignore-verified",
        "outdated-after",
    ],
    observe,
};

super::jobs::job_kind_provider!(VerifyJobSpec, SECTION, verify_jobs);
