//! Which snapshots a prune keeps, exactly as proxmox-backup selects them
//! (`pbs-datastore/src/prune.rs compute_prune_info`, 3.2.4):
//!
//! - the snapshots of a group are sorted newest first;
//! - each `keep-*` option, in the order last, hourly, daily, weekly,
//!   monthly, yearly, walks that list: a snapshot already marked is
//!   skipped; a protected one is marked protected; otherwise its period
//!   (`%Y/%m/%d/%H`, `%Y/%m/%d`, ISO `%G/%V`, `%Y/%m`, `%Y`; for keep-last
//!   its own time) is computed: a period an earlier option already kept
//!   is skipped, the first snapshot of a new period is kept while fewer
//!   than n periods are, another one of a kept period is marked removed,
//!   and the walk stops once n periods are kept;
//! - what no option marked is removed, protected snapshots are always
//!   kept; with no option at all PBS keeps everything (the prune job says
//!   "No prune selection - keeping all files.").
//!
//! Periods use the server's local time; the simulator's is UTC.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;

use crate::api::KeepOptions;

/// What prune does to a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PruneMark {
    /// Protected: never removed.
    Protected,
    /// Kept by an option.
    Keep,
    /// Removed.
    Remove,
}

impl PruneMark {
    /// True unless removed.
    pub fn keep(self) -> bool {
        self != PruneMark::Remove
    }
}

fn period(time: i64, which: usize) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(time) else {
        return time.to_string();
    };
    let (y, m, d, h) = (t.year(), u8::from(t.month()), t.day(), t.hour());
    match which {
        0 => time.to_string(),
        1 => format!("{y:04}/{m:02}/{d:02}/{h:02}"),
        2 => format!("{y:04}/{m:02}/{d:02}"),
        3 => {
            let (iy, iw, _) = t.to_iso_week_date();
            format!("{iy:04}/{iw:02}")
        }
        4 => format!("{y:04}/{m:02}"),
        _ => format!("{y:04}"),
    }
}

/// The marks for one group's snapshots, given as `(time, protected)`;
/// answered newest first.
///
/// ```
/// use lab_pbs::api::KeepOptions;
/// use lab_pbs::sim::prune::{prune_marks, PruneMark};
/// let day = 86_400;
/// let snaps: Vec<(i64, bool)> = (0..5).map(|i| (1_700_000_000 + i * day, false)).collect();
/// let keep = KeepOptions { keep_last: Some(2), ..Default::default() };
/// let marks = prune_marks(&snaps, &keep);
/// assert_eq!(marks.iter().filter(|(_, m)| m.keep()).count(), 2);
/// ```
pub fn prune_marks(snapshots: &[(i64, bool)], keep: &KeepOptions) -> Vec<(i64, PruneMark)> {
    let mut list: Vec<(i64, bool)> = snapshots.to_vec();
    list.sort_by_key(|s| std::cmp::Reverse(s.0));
    if !keep.keeps_something() {
        return list
            .iter()
            .map(|(t, p)| {
                (
                    *t,
                    if *p {
                        PruneMark::Protected
                    } else {
                        PruneMark::Keep
                    },
                )
            })
            .collect();
    }
    let mut mark: HashMap<i64, PruneMark> = HashMap::new();
    let options = [
        keep.keep_last,
        keep.keep_hourly,
        keep.keep_daily,
        keep.keep_weekly,
        keep.keep_monthly,
        keep.keep_yearly,
    ];
    for (which, n) in options.iter().enumerate() {
        let Some(n) = n else { continue };
        let n = *n as usize;
        let already: HashSet<String> = list
            .iter()
            .filter(|(t, _)| mark.get(t) == Some(&PruneMark::Keep))
            .map(|(t, _)| period(*t, which))
            .collect();
        let mut included: HashSet<String> = HashSet::new();
        for (t, protected) in &list {
            if mark.contains_key(t) {
                continue;
            }
            if *protected {
                mark.insert(*t, PruneMark::Protected);
                continue;
            }
            let sel = period(*t, which);
            if already.contains(&sel) {
                continue;
            }
            if !included.contains(&sel) {
                if included.len() >= n {
                    break;
                }
                included.insert(sel);
                mark.insert(*t, PruneMark::Keep);
            } else {
                mark.insert(*t, PruneMark::Remove);
            }
        }
    }
    list.iter()
        .map(|(t, p)| {
            let m = if *p {
                PruneMark::Protected
            } else {
                mark.get(t).copied().unwrap_or(PruneMark::Remove)
            };
            (*t, m)
        })
        .collect()
}
