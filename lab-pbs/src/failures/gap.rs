//! The worst gap between two runs of a schedule, which bounds how stale a
//! copy can be.
//!
//! A calendar event allows a set of days and, on each of them, the same
//! set of times of day (the time fields do not depend on the date). So its
//! runs are the product of the two, and the worst gap between consecutive
//! runs is the larger of the widest gap between two times of one day and
//! the widest gap between two allowed days, less the part of the day the
//! runs span (the last run of one allowed day to the first of the next).
//! The times of a day are at most 86,400; the days are walked over a
//! horizon long enough to hold every weekday/date combination (28 years
//! repeat the calendar between 1901 and 2099), which costs a few hundred
//! microseconds per distinct schedule; [`GapCache`] computes each once.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use lab_proxmox::schedule::{CalendarEvent, FieldValue, ScheduleError};
use time::Date;

/// A job's schedule: the text the user wrote and the calendar event it
/// parses to (the two always agree: build one with [`Schedule::parse`]).
///
/// ```
/// use lab_pbs::failures::Schedule;
/// let nightly = Schedule::parse("02:30").unwrap();
/// assert_eq!(nightly.text(), "02:30");
/// assert!(Schedule::parse("25:00").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    event: CalendarEvent,
}

impl Schedule {
    /// Parses a calendar event as PBS and PVE do.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        Ok(Schedule {
            event: text.parse()?,
            text: text.to_string(),
        })
    }

    /// The schedule as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed calendar event.
    pub fn event(&self) -> &CalendarEvent {
        &self.event
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The days walked by default: 29 years, one more than the 28-year cycle
/// after which weekdays fall on the same dates again.
pub const DEFAULT_HORIZON_DAYS: u32 = 29 * 366;

const DAY: u64 = 86_400;

fn field_allows(field: &[FieldValue], x: u32) -> bool {
    field.is_empty()
        || field.iter().any(|v| match *v {
            FieldValue::Single(s) => s == x,
            FieldValue::Range(a, b) => (a..=b).contains(&x),
            FieldValue::Repeat { start, step } => x >= start && (x - start).is_multiple_of(step),
        })
}

/// The seconds of the day at which `event` runs (on a day it allows),
/// ascending.
fn times_of_day(event: &CalendarEvent) -> Vec<u32> {
    let allowed = |field: &[FieldValue], n: u32| -> Vec<u32> {
        (0..n).filter(|x| field_allows(field, *x)).collect()
    };
    let (hours, minutes, seconds) = (
        allowed(&event.hour, 24),
        allowed(&event.minute, 60),
        allowed(&event.second, 60),
    );
    let mut out = Vec::with_capacity(hours.len() * minutes.len() * seconds.len());
    for h in &hours {
        for m in &minutes {
            for s in &seconds {
                out.push(h * 3600 + m * 60 + s);
            }
        }
    }
    out
}

/// The worst gap between two consecutive runs of `event`, walking
/// `horizon_days` days from `from`; `None` when it does not recur over the
/// horizon: fewer than two runs, or runs that stop (the time after the
/// last run is longer than any gap between runs, e.g. a schedule limited
/// to one year).
///
/// ```
/// use std::time::Duration;
/// use lab_pbs::failures::worst_gap;
/// use time::{Date, Month};
/// let from = Date::from_calendar_date(2026, Month::January, 1).unwrap();
/// let gap = |s: &str| worst_gap(&s.parse().unwrap(), from, 3660);
/// assert_eq!(gap("daily"), Some(Duration::from_secs(86_400)));
/// // Weekdays at 02:00: Friday 02:00 to Monday 02:00.
/// assert_eq!(gap("mon..fri 02:00"), Some(Duration::from_secs(3 * 86_400)));
/// // 08:00 and 20:00: the night is the longer gap.
/// assert_eq!(gap("08,20:00"), Some(Duration::from_secs(12 * 3600)));
/// assert_eq!(gap("2026-03-01"), None);
/// ```
pub fn worst_gap(event: &CalendarEvent, from: Date, horizon_days: u32) -> Option<Duration> {
    let times = times_of_day(event);
    let (&first, &last) = (times.first()?, times.last()?);
    let within_day = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let probe = time::Time::from_hms(
        (first / 3600) as u8,
        (first / 60 % 60) as u8,
        (first % 60) as u8,
    )
    .ok()?;
    let mut date = from;
    let mut previous: Option<u32> = None;
    let mut widest_days = 0u32;
    let mut allowed_days = 0u32;
    let mut last_day = 0u32;
    for day in 0..horizon_days {
        if event.matches(date.with_time(probe).assume_utc()) {
            if let Some(p) = previous {
                widest_days = widest_days.max(day - p);
            }
            previous = Some(day);
            allowed_days += 1;
            last_day = day;
        }
        date = date.next_day()?;
    }
    let runs = u64::from(allowed_days) * times.len() as u64;
    if runs < 2 {
        return None;
    }
    if allowed_days < 2 {
        // One day only: the schedule does not recur.
        return None;
    }
    let across_days = u64::from(widest_days) * DAY - u64::from(last - first);
    // The days after the last run: longer than every gap means it stopped.
    let tail = u64::from(horizon_days - last_day) * DAY;
    let worst = u64::from(within_day).max(across_days);
    if tail > worst.max(u64::from(widest_days) * DAY) {
        return None;
    }
    Some(Duration::from_secs(worst))
}

/// [`worst_gap`] once per distinct schedule text: 500 guests sharing a
/// nightly job cost one computation.
#[derive(Debug)]
pub struct GapCache {
    from: Date,
    horizon_days: u32,
    gaps: HashMap<String, Option<Duration>>,
}

impl GapCache {
    /// A cache walking `horizon_days` from `from`.
    pub fn new(from: Date, horizon_days: u32) -> Self {
        GapCache {
            from,
            horizon_days,
            gaps: HashMap::new(),
        }
    }

    /// The worst gap of `schedule` (see [`worst_gap`]).
    pub fn gap(&mut self, schedule: &Schedule) -> Option<Duration> {
        if let Some(g) = self.gaps.get(schedule.text()) {
            return *g;
        }
        let g = worst_gap(schedule.event(), self.from, self.horizon_days);
        self.gaps.insert(schedule.text().to_string(), g);
        g
    }
}
