//! [`Retention`]: how many backups to keep (`prune-backups`), shared by
//! `pbs`/NFS storages and backup jobs, and by lab-pbs's prune jobs.

use std::fmt;

use indexmap::IndexMap;
use lab_core::Value;
use serde::{Deserialize, Serialize};

/// A retention policy, PVE's `prune-backups` property string
/// (`keep-last=3,keep-daily=7`). No field set is `keep-all=1`, PVE's
/// default.
///
/// ```
/// use lab_proxmox::kinds::Retention;
/// let r = Retention::new().keep_last(3).keep_daily(7).keep_weekly(4);
/// assert_eq!(r.to_property_string(), "keep-daily=7,keep-last=3,keep-weekly=4");
/// assert_eq!(Retention::parse("keep-weekly=4,keep-daily=7,keep-last=3").unwrap(), r);
/// assert_eq!(Retention::new().to_property_string(), "keep-all=1");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep the last N backups.
    pub keep_last: Option<u64>,
    /// Keep the last backup of each of the last N hours.
    pub keep_hourly: Option<u64>,
    /// Keep the last backup of each of the last N days.
    pub keep_daily: Option<u64>,
    /// Keep the last backup of each of the last N weeks.
    pub keep_weekly: Option<u64>,
    /// Keep the last backup of each of the last N months.
    pub keep_monthly: Option<u64>,
    /// Keep the last backup of each of the last N years.
    pub keep_yearly: Option<u64>,
}

impl Retention {
    /// Keep everything (no field set).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep the last `n` backups.
    pub fn keep_last(mut self, n: u64) -> Self {
        self.keep_last = Some(n);
        self
    }

    /// Keep one backup per hour for the last `n` hours.
    pub fn keep_hourly(mut self, n: u64) -> Self {
        self.keep_hourly = Some(n);
        self
    }

    /// Keep one backup per day for the last `n` days.
    pub fn keep_daily(mut self, n: u64) -> Self {
        self.keep_daily = Some(n);
        self
    }

    /// Keep one backup per week for the last `n` weeks.
    pub fn keep_weekly(mut self, n: u64) -> Self {
        self.keep_weekly = Some(n);
        self
    }

    /// Keep one backup per month for the last `n` months.
    pub fn keep_monthly(mut self, n: u64) -> Self {
        self.keep_monthly = Some(n);
        self
    }

    /// Keep one backup per year for the last `n` years.
    pub fn keep_yearly(mut self, n: u64) -> Self {
        self.keep_yearly = Some(n);
        self
    }

    /// Whether nothing is pruned (`keep-all=1`).
    pub fn keeps_all(&self) -> bool {
        self.fields().iter().all(|(_, v)| v.is_none())
    }

    /// `(PVE key, value)` in PVE's alphabetical key order.
    pub fn fields(&self) -> [(&'static str, Option<u64>); 6] {
        [
            ("keep-daily", self.keep_daily),
            ("keep-hourly", self.keep_hourly),
            ("keep-last", self.keep_last),
            ("keep-monthly", self.keep_monthly),
            ("keep-weekly", self.keep_weekly),
            ("keep-yearly", self.keep_yearly),
        ]
    }

    /// The `prune-backups` property string (`keep-all=1` when nothing is set).
    pub fn to_property_string(&self) -> String {
        if self.keeps_all() {
            return "keep-all=1".to_string();
        }
        self.fields()
            .iter()
            .filter_map(|(k, v)| v.map(|n| format!("{k}={n}")))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads a `prune-backups` property string (`keep-all=1` is no field
    /// set; `keep-all=0` alone too).
    pub fn parse(text: &str) -> Result<Retention, String> {
        let mut r = Retention::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not `key=value`"))?;
            let n: u64 = v
                .parse()
                .map_err(|_| format!("`{v}` in `{part}` is not a whole number"))?;
            let slot = match k {
                "keep-all" => continue,
                "keep-last" => &mut r.keep_last,
                "keep-hourly" => &mut r.keep_hourly,
                "keep-daily" => &mut r.keep_daily,
                "keep-weekly" => &mut r.keep_weekly,
                "keep-monthly" => &mut r.keep_monthly,
                "keep-yearly" => &mut r.keep_yearly,
                other => return Err(format!("`{other}` is not a retention option")),
            };
            *slot = Some(n);
        }
        Ok(r)
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_property_string())
    }
}

impl From<&Retention> for Value {
    /// A map of the fields set (`keep_last: Int`, ...), the spec's shape.
    fn from(r: &Retention) -> Value {
        let mut m = IndexMap::new();
        for (k, v) in r.fields() {
            if let Some(n) = v {
                m.insert(k.replace('-', "_"), Value::Int(n as i64));
            }
        }
        Value::Map(m)
    }
}

impl From<Retention> for Value {
    fn from(r: Retention) -> Value {
        Value::from(&r)
    }
}
