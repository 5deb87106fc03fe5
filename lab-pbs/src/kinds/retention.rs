//! Retention (`keep-last/hourly/daily/weekly/monthly/yearly`), shared by
//! datastores and prune jobs.

use serde::{Deserialize, Serialize};

use super::Request;

/// How many snapshots PBS keeps per backup group, by period. Each count is
/// at least 1 (PBS's `minimum: 1`); an absent count keeps nothing for that
/// period. PBS applies them in this order, each over the snapshots the
/// earlier ones did not keep (`docs/maintenance.rst`).
///
/// With no count at all PBS **keeps every snapshot**: proxmox-backup's
/// prune sets `keep_all = !keep_options.keeps_something()`, so a prune job
/// without any `keep-*` removes nothing (`pbs::prune-keeps-all` says so).
///
/// ```
/// use lab_pbs::kinds::Retention;
/// let r = Retention::default().last(3).daily(7).weekly(4);
/// assert_eq!(r.to_string(), "keep-last=3, keep-daily=7, keep-weekly=4");
/// assert!(Retention::default().is_empty());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Retention {
    /// `keep-last`: the last N snapshots.
    pub keep_last: Option<i64>,
    /// `keep-hourly`: one per hour for the last N hours.
    pub keep_hourly: Option<i64>,
    /// `keep-daily`: one per day for the last N days.
    pub keep_daily: Option<i64>,
    /// `keep-weekly`: one per ISO week for the last N weeks.
    pub keep_weekly: Option<i64>,
    /// `keep-monthly`: one per month for the last N months.
    pub keep_monthly: Option<i64>,
    /// `keep-yearly`: one per year for the last N years.
    pub keep_yearly: Option<i64>,
}

impl Retention {
    /// The attribute names, in PBS's order.
    pub const FIELDS: [&'static str; 6] = [
        "keep-last",
        "keep-hourly",
        "keep-daily",
        "keep-weekly",
        "keep-monthly",
        "keep-yearly",
    ];

    /// Keeps the last `n` snapshots.
    pub fn last(mut self, n: i64) -> Self {
        self.keep_last = Some(n);
        self
    }
    /// Keeps one snapshot per hour for `n` hours.
    pub fn hourly(mut self, n: i64) -> Self {
        self.keep_hourly = Some(n);
        self
    }
    /// Keeps one snapshot per day for `n` days.
    pub fn daily(mut self, n: i64) -> Self {
        self.keep_daily = Some(n);
        self
    }
    /// Keeps one snapshot per week for `n` weeks.
    pub fn weekly(mut self, n: i64) -> Self {
        self.keep_weekly = Some(n);
        self
    }
    /// Keeps one snapshot per month for `n` months.
    pub fn monthly(mut self, n: i64) -> Self {
        self.keep_monthly = Some(n);
        self
    }
    /// Keeps one snapshot per year for `n` years.
    pub fn yearly(mut self, n: i64) -> Self {
        self.keep_yearly = Some(n);
        self
    }

    /// The counts with their attribute names, in PBS's order.
    pub fn counts(&self) -> [(&'static str, Option<i64>); 6] {
        [
            (Self::FIELDS[0], self.keep_last),
            (Self::FIELDS[1], self.keep_hourly),
            (Self::FIELDS[2], self.keep_daily),
            (Self::FIELDS[3], self.keep_weekly),
            (Self::FIELDS[4], self.keep_monthly),
            (Self::FIELDS[5], self.keep_yearly),
        ]
    }

    /// True when no count is given: PBS then keeps everything.
    pub fn is_empty(&self) -> bool {
        self.counts().iter().all(|(_, n)| n.is_none())
    }

    pub(super) fn put_into(&self, req: &mut Request) {
        for (key, n) in self.counts() {
            req.put_opt(key, n);
        }
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .counts()
            .iter()
            .filter_map(|(k, n)| n.map(|n| format!("{k}={n}")))
            .collect();
        if parts.is_empty() {
            f.write_str("keep everything")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}
