//! # Calendar events: the schedules of PVE backup jobs and PBS sync, prune, verify and GC jobs
//!
//! Proxmox Backup Server schedules its jobs with *calendar events*, and so
//! does Proxmox VE's `/cluster/backup` (both parse them with the Rust
//! `proxmox-time` crate; this module lives here so both crates share it), a
//! format after systemd's (`systemd.time(7)`):
//!
//! ```text
//! [WEEKDAYS] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]]
//! ```
//!
//! with at least one of the three parts; an omitted weekday or date part
//! means every one, an omitted time means `00:00:00`, omitted seconds mean
//! `:00`. Each field is `*`, `*/STEP`, or a comma list of `VALUE`,
//! `FIRST..LAST` and `START/STEP`; weekdays are `mon`..`sun` (or the full
//! names) and ranges of them (`mon..fri`, `sat..mon` wraps). The words
//! `minutely`, `hourly`, `daily`, `weekly`, `monthly`, `yearly`
//! (`annually`), `quarterly` and `semiannually` (`semi-annually`) stand for
//! their expansions. This is the grammar of the PBS documentation's
//! "Calendar Events" chapter and of proxmox-backup's parser
//! (`src/tools/systemd/parse_time.rs`, later the `proxmox-time` crate);
//! the code here is lab's own, written to accept and refuse what that
//! parser does, so a bad schedule is a diagnostic at `check` instead of a
//! 400 at apply. The API schema cannot catch it: PBS types schedules as
//! plain strings (`typetext: <calendar-event>`).
//!
//! Two choices where PBS's parser is silent: a repetition step of 0
//! (`*/0`, `5/0`) is refused, as it would never advance, and a month or day
//! of 0 is refused (there is none).
//!
//! [`CalendarEvent::next_after`] computes the next run, so a plan can show
//! when a job will first run and the failure-domain analysis can derive a
//! data-loss window from the schedules. Times are wall-clock times of the
//! server's own time zone; the computation here treats them as UTC.
//!
//! ```
//! use lab_proxmox::schedule::CalendarEvent;
//! use time::{Date, Month, Time};
//!
//! let at = |day, h, m| {
//!     let date = Date::from_calendar_date(2026, Month::December, day).unwrap();
//!     date.with_time(Time::from_hms(h, m, 0).unwrap()).assume_utc()
//! };
//! let nightly: CalendarEvent = "mon..fri 02:30".parse().unwrap();
//! // Friday 03:00 -> Monday 02:30.
//! assert_eq!(nightly.next_after(at(4, 3, 0)), Some(at(7, 2, 30)));
//! assert!("25:00".parse::<CalendarEvent>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use time::{Date, Duration, OffsetDateTime, Time};

/// The last year a schedule can name (systemd's limit, kept by PBS).
const YEAR_LIMIT: u32 = 2200;

/// One value, range or repetition of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// `5`
    Single(u32),
    /// `1..7`
    Range(u32, u32),
    /// `0/15` (or `*/15`, from the field's first value): every `step` from
    /// `start`.
    Repeat {
        /// The first value.
        start: u32,
        /// The step (never 0).
        step: u32,
    },
}

impl FieldValue {
    fn matches(self, x: u32) -> bool {
        match self {
            FieldValue::Single(v) => x == v,
            FieldValue::Range(a, b) => (a..=b).contains(&x),
            FieldValue::Repeat { start, step } => x >= start && (x - start).is_multiple_of(step),
        }
    }
}

/// A field: empty matches every value.
fn field_matches(field: &[FieldValue], x: u32) -> bool {
    field.is_empty() || field.iter().any(|v| v.matches(x))
}

/// A parsed calendar event.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CalendarEvent {
    /// Bit `n` set: weekday `n` (0 = Monday .. 6 = Sunday); 0: every day.
    pub weekdays: u8,
    /// Years; empty: every year.
    pub year: Vec<FieldValue>,
    /// Months (1-12); empty: every month.
    pub month: Vec<FieldValue>,
    /// Days of the month (1-31); empty: every day.
    pub day: Vec<FieldValue>,
    /// Hours (0-23); empty: every hour.
    pub hour: Vec<FieldValue>,
    /// Minutes (0-59); empty: every minute.
    pub minute: Vec<FieldValue>,
    /// Seconds (0-59); empty: every second.
    pub second: Vec<FieldValue>,
}

/// Why a schedule does not parse: what was expected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// The schedule as given.
    pub input: String,
    /// The byte offset where parsing stopped.
    pub at: usize,
    /// What was wrong there.
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = &self.input[self.at.min(self.input.len())..];
        if rest.is_empty() {
            write!(
                f,
                "`{}` is not a calendar event: {}",
                self.input, self.message
            )
        } else {
            write!(
                f,
                "`{}` is not a calendar event: {} at `{rest}`",
                self.input, self.message
            )
        }
    }
}

impl std::error::Error for ScheduleError {}

impl FromStr for CalendarEvent {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Parser { input: s, pos: 0 }.calendar_event()
    }
}

/// A cursor over the schedule text.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, ScheduleError> {
        Err(ScheduleError {
            input: self.input.to_string(),
            at: self.pos,
            message: message.into(),
        })
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        let trimmed = self.rest().trim_start().len();
        self.pos = self.input.len() - trimmed;
    }

    fn calendar_event(mut self) -> Result<CalendarEvent, ScheduleError> {
        self.skip_spaces();
        let text = self.rest().trim_end();
        if let Some(event) = shorthand(text) {
            return Ok(event);
        }
        let mut event = CalendarEvent::default();
        let mut parts = 0;
        if self.rest().starts_with(|c: char| c.is_ascii_alphabetic()) {
            loop {
                event.weekdays |= self.weekday_range()?;
                if !self.eat(",") {
                    break;
                }
            }
            parts += 1;
            self.skip_spaces();
        }
        if let Some((year, month, day)) = self.try_parse(Parser::date)? {
            event.year = year;
            event.month = month;
            event.day = day;
            parts += 1;
            self.skip_spaces();
        }
        if let Some((hour, minute, second)) = self.try_parse(Parser::time)? {
            event.hour = hour;
            event.minute = minute;
            event.second = second;
            parts += 1;
            self.skip_spaces();
        } else {
            event.hour = vec![FieldValue::Single(0)];
            event.minute = vec![FieldValue::Single(0)];
            event.second = vec![FieldValue::Single(0)];
        }
        if parts == 0 {
            return self.fail("expected a weekday, a date or a time");
        }
        if !self.rest().is_empty() {
            return self.fail("unexpected text");
        }
        Ok(event)
    }

    /// Runs `part` on a copy of the cursor: `None` (nothing consumed) when
    /// it does not parse here; an error only for a value out of range, so
    /// `25:00` says why instead of "unexpected text".
    fn try_parse<T>(
        &mut self,
        part: impl Fn(&mut Self) -> Result<T, PartError>,
    ) -> Result<Option<T>, ScheduleError> {
        let start = self.pos;
        match part(self) {
            Ok(v) => Ok(Some(v)),
            Err(PartError::NoMatch) => {
                self.pos = start;
                Ok(None)
            }
            Err(PartError::Invalid(e)) => Err(e),
        }
    }

    fn weekday_range(&mut self) -> Result<u8, ScheduleError> {
        let first = self.weekday()?;
        if !self.eat("..") {
            return Ok(1 << first);
        }
        let last = self.weekday()?;
        let mut set = 0u8;
        let mut d = first;
        loop {
            set |= 1 << d;
            if d == last {
                break;
            }
            d = (d + 1) % 7;
        }
        Ok(set)
    }

    fn weekday(&mut self) -> Result<u8, ScheduleError> {
        let word: String = self
            .rest()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        let day = match word.to_ascii_lowercase().as_str() {
            "mon" | "monday" => 0,
            "tue" | "tuesday" => 1,
            "wed" | "wednesday" => 2,
            "thu" | "thursday" => 3,
            "fri" | "friday" => 4,
            "sat" | "saturday" => 5,
            "sun" | "sunday" => 6,
            _ => {
                return self.fail(
                    "expected a weekday (mon, tue, wed, thu, fri, sat, sun) or one of \
                     minutely, hourly, daily, weekly, monthly, yearly, quarterly, semiannually",
                )
            }
        };
        self.pos += word.len();
        Ok(day)
    }

    fn date(&mut self) -> Result<Fields3, PartError> {
        let start = self.pos;
        // YEARS-MONTHS-DAYS first, then MONTHS-DAYS. A month out of range
        // in the first is kept: it is the error when the second leaves a
        // `-DAYS` behind (`*-13-01`).
        let mut bad_month = None;
        if let Ok(year) = self.field("year", 0, 0, YEAR_LIMIT - 1) {
            if self.eat("-") {
                match self.field("month", 1, 1, 12) {
                    Ok(month) => {
                        if self.eat("-") {
                            let day = self.field("day", 1, 1, 31)?;
                            return Ok((year, month, day));
                        }
                    }
                    Err(PartError::Invalid(e)) => bad_month = Some(e),
                    Err(PartError::NoMatch) => {}
                }
            }
        }
        self.pos = start;
        let month = self
            .field("month", 1, 1, 12)
            .map_err(|_| PartError::NoMatch)?;
        if !self.eat("-") {
            return Err(PartError::NoMatch);
        }
        let day = self.field("day", 1, 1, 31);
        match (day, bad_month) {
            (Ok(day), bad) if bad.is_none() || !self.rest().starts_with('-') => {
                Ok((Vec::new(), month, day))
            }
            (_, Some(e)) => Err(PartError::Invalid(e)),
            (day, None) => day.map(|day| (Vec::new(), month, day)),
        }
    }

    fn time(&mut self) -> Result<Fields3, PartError> {
        // An hour out of range is an error here (the date was tried first).
        let hour = self.field("hour", 0, 0, 23)?;
        if !self.eat(":") {
            return Err(PartError::NoMatch);
        }
        let minute = self.field("minute", 0, 0, 59)?;
        let second = if self.eat(":") {
            self.field("second", 0, 0, 59)?
        } else {
            vec![FieldValue::Single(0)]
        };
        Ok((hour, minute, second))
    }

    /// `*`, `*/STEP`, or a comma list of values, ranges and repetitions,
    /// each within `min..=max`; `first` is where `*/STEP` starts.
    fn field(
        &mut self,
        what: &str,
        first: u32,
        min: u32,
        max: u32,
    ) -> Result<Vec<FieldValue>, PartError> {
        if self.eat("*") {
            if self.eat("/") {
                let step = self.step(what)?;
                return Ok(vec![FieldValue::Repeat { start: first, step }]);
            }
            return Ok(Vec::new());
        }
        let mut values = Vec::new();
        loop {
            let v = self.bounded(what, min, max)?;
            if self.eat("..") {
                let end = self.bounded(what, min, max)?;
                if end < v {
                    return Err(self.invalid(format!("the {what} range {v}..{end} runs backwards")));
                }
                values.push(FieldValue::Range(v, end));
            } else if self.eat("/") {
                let step = self.step(what)?;
                values.push(FieldValue::Repeat { start: v, step });
            } else {
                values.push(FieldValue::Single(v));
            }
            if !self.eat(",") {
                return Ok(values);
            }
        }
    }

    /// A repetition's step: a number above 0 (a step of 0 never advances).
    fn step(&mut self, what: &str) -> Result<u32, PartError> {
        match self.number()? {
            0 => Err(self.invalid(format!("a {what} repetition needs a step above 0"))),
            step => Ok(step),
        }
    }

    /// A number within `min..=max`; out of range is an error at the number.
    fn bounded(&mut self, what: &str, min: u32, max: u32) -> Result<u32, PartError> {
        let at = self.pos;
        let v = self.number()?;
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            self.pos = at;
            Err(self.invalid(format!("{what} {v} is outside {min}..{max}")))
        }
    }

    fn number(&mut self) -> Result<u32, PartError> {
        let digits: String = self
            .rest()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            return Err(PartError::NoMatch);
        }
        let n = digits
            .parse()
            .map_err(|_| self.invalid(format!("{digits} is too large")))?;
        self.pos += digits.len();
        Ok(n)
    }

    fn invalid(&self, message: String) -> PartError {
        PartError::Invalid(ScheduleError {
            input: self.input.to_string(),
            at: self.pos,
            message,
        })
    }
}

type Fields3 = (Vec<FieldValue>, Vec<FieldValue>, Vec<FieldValue>);

/// A part of the grammar that is absent here, or present and wrong.
enum PartError {
    NoMatch,
    Invalid(ScheduleError),
}

/// The named schedules.
fn shorthand(text: &str) -> Option<CalendarEvent> {
    use FieldValue::Single;
    let at = |month: Vec<FieldValue>, day: Vec<FieldValue>, weekdays: u8| CalendarEvent {
        weekdays,
        month,
        day,
        hour: vec![Single(0)],
        minute: vec![Single(0)],
        second: vec![Single(0)],
        ..CalendarEvent::default()
    };
    Some(match text {
        "minutely" => CalendarEvent {
            second: vec![Single(0)],
            ..CalendarEvent::default()
        },
        "hourly" => CalendarEvent {
            minute: vec![Single(0)],
            second: vec![Single(0)],
            ..CalendarEvent::default()
        },
        "daily" => at(Vec::new(), Vec::new(), 0),
        "weekly" => at(Vec::new(), Vec::new(), 1),
        "monthly" => at(Vec::new(), vec![Single(1)], 0),
        "yearly" | "annually" => at(vec![Single(1)], vec![Single(1)], 0),
        "quarterly" => at(
            vec![Single(1), Single(4), Single(7), Single(10)],
            vec![Single(1)],
            0,
        ),
        "semiannually" | "semi-annually" => at(vec![Single(1), Single(7)], vec![Single(1)], 0),
        _ => return None,
    })
}

impl CalendarEvent {
    /// Whether `t` (to the second) is a run of this schedule.
    pub fn matches(&self, t: OffsetDateTime) -> bool {
        self.date_matches(t.date())
            && field_matches(&self.hour, u32::from(t.hour()))
            && field_matches(&self.minute, u32::from(t.minute()))
            && field_matches(&self.second, u32::from(t.second()))
    }

    fn date_matches(&self, d: Date) -> bool {
        let weekday = d.weekday().number_days_from_monday();
        (self.weekdays == 0 || self.weekdays & (1 << weekday) != 0)
            && u32::try_from(d.year()).is_ok_and(|y| field_matches(&self.year, y))
            && field_matches(&self.month, u32::from(u8::from(d.month())))
            && field_matches(&self.day, u32::from(d.day()))
    }

    /// The first run strictly after `t` (at least one second later), or
    /// `None` when there is none before the year 2200.
    pub fn next_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let t = t.replace_nanosecond(0).ok()? + Duration::SECOND;
        let mut date = t.date();
        let mut clock = t.time();
        // Day by day; on a day the date fields allow, the first time the
        // time fields allow from `clock` on.
        while date.year() < YEAR_LIMIT as i32 {
            if self.date_matches(date) {
                if let Some(clock) = self.first_time_from(clock) {
                    return Some(date.with_time(clock).assume_offset(t.offset()));
                }
            }
            date = date.next_day()?;
            clock = Time::MIDNIGHT;
        }
        None
    }

    /// The first time of day at or after `from` that the time fields allow.
    fn first_time_from(&self, from: Time) -> Option<Time> {
        let (h0, m0, s0) = (
            u32::from(from.hour()),
            u32::from(from.minute()),
            u32::from(from.second()),
        );
        for h in h0..24 {
            if !field_matches(&self.hour, h) {
                continue;
            }
            let m_start = if h == h0 { m0 } else { 0 };
            for m in m_start..60 {
                if !field_matches(&self.minute, m) {
                    continue;
                }
                let s_start = if h == h0 && m == m0 { s0 } else { 0 };
                if let Some(s) = (s_start..60).find(|s| field_matches(&self.second, *s)) {
                    return Time::from_hms(h as u8, m as u8, s as u8).ok();
                }
            }
        }
        None
    }

    /// The next `n` runs after `t`.
    pub fn next_runs(&self, t: OffsetDateTime, n: usize) -> Vec<OffsetDateTime> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }
}
