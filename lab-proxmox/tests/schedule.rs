//! PBS calendar events: what PBS accepts and refuses, and next runs
//! checked by hand and against a brute-force walk over every minute.

use lab_proxmox::schedule::CalendarEvent;
use proptest::prelude::*;
use time::{Date, Duration, Month, OffsetDateTime, Time};

fn at(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> OffsetDateTime {
    Date::from_calendar_date(y, Month::try_from(mo).unwrap(), d)
        .unwrap()
        .with_time(Time::from_hms(h, mi, s).unwrap())
        .assume_utc()
}

fn event(text: &str) -> CalendarEvent {
    text.parse()
        .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"))
}

fn next(text: &str, after: OffsetDateTime) -> Option<OffsetDateTime> {
    event(text).next_after(after)
}

#[test]
fn the_documented_examples_parse() {
    // PBS docs, "Calendar Events": the named ones and the examples table.
    for text in [
        "minutely",
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "yearly",
        "annually",
        "quarterly",
        "semiannually",
        "semi-annually",
        "mon,tue,wed,thu,fri",
        "mon..fri",
        "sat,sun",
        "sat..sun",
        "mon,wed,fri",
        "12:05",
        "*:00/5",
        "mon..wed *:30/10",
        "mon..fri 8..17,22:0/15",
        "fri 12..13:5/20",
        "12,14,16,18,20,22:5",
        "*/2:00",
        "*:*:0/30",
        "2020-01-01",
        "*-01,07-01",
        "sat *-1..7 15:00",
        "  daily  ",
        "Monday..Friday 02:30",
    ] {
        event(text);
    }
}

#[test]
fn mistakes_are_refused_with_the_reason() {
    for (text, says) in [
        ("", "expected a weekday, a date or a time"),
        ("25:00", "hour 25 is outside 0..23"),
        ("12:60", "minute 60 is outside 0..59"),
        ("*-13-01", "month 13 is outside 1..12"),
        ("*-00-01", "month 0 is outside 1..12"),
        ("*-01-32", "day 32 is outside 1..31"),
        ("funday", "expected a weekday"),
        ("mon..funday", "expected a weekday"),
        ("*/0:00", "needs a step above 0"),
        ("10..5:00", "runs backwards"),
        ("daily 02:00", "expected a weekday"),
        ("02:00 sometimes", "unexpected text"),
    ] {
        let err = text
            .parse::<CalendarEvent>()
            .expect_err(&format!("`{text}` should be refused"));
        assert!(err.to_string().contains(says), "`{text}`: {err}");
    }
}

#[test]
fn next_runs_by_hand() {
    let wed_10 = at(2026, 12, 2, 10, 0, 0); // a Wednesday
    assert_eq!(next("daily", wed_10), Some(at(2026, 12, 3, 0, 0, 0)));
    assert_eq!(next("hourly", wed_10), Some(at(2026, 12, 2, 11, 0, 0)));
    assert_eq!(next("minutely", wed_10), Some(at(2026, 12, 2, 10, 1, 0)));
    assert_eq!(next("weekly", wed_10), Some(at(2026, 12, 7, 0, 0, 0)));
    assert_eq!(next("monthly", wed_10), Some(at(2027, 1, 1, 0, 0, 0)));
    assert_eq!(next("quarterly", wed_10), Some(at(2027, 1, 1, 0, 0, 0)));
    assert_eq!(next("yearly", wed_10), Some(at(2027, 1, 1, 0, 0, 0)));
    // Friday 03:00 -> Monday 02:30.
    assert_eq!(
        next("mon..fri 02:30", at(2026, 12, 4, 3, 0, 0)),
        Some(at(2026, 12, 7, 2, 30, 0))
    );
    // A wrapping weekday range: sat..mon.
    assert_eq!(
        next("sat..mon 12:00", wed_10),
        Some(at(2026, 12, 5, 12, 0, 0))
    );
    assert_eq!(
        next("*:0/15", at(2026, 12, 2, 10, 7, 30)),
        Some(at(2026, 12, 2, 10, 15, 0))
    );
    // Strictly after: a run at `t` itself is not the next one.
    assert_eq!(
        next("*:0/15", at(2026, 12, 2, 10, 15, 0)),
        Some(at(2026, 12, 2, 10, 30, 0))
    );
    // The first Saturday of the month: 2026-12-05, then 2027-01-02.
    assert_eq!(
        next("sat *-1..7 15:00", wed_10),
        Some(at(2026, 12, 5, 15, 0, 0))
    );
    assert_eq!(
        next("sat *-1..7 15:00", at(2026, 12, 5, 15, 0, 0)),
        Some(at(2027, 1, 2, 15, 0, 0))
    );
    // February has no 30th: the next one is in March.
    assert_eq!(
        next("*-*-30 06:00", at(2027, 2, 1, 0, 0, 0)),
        Some(at(2027, 3, 30, 6, 0, 0))
    );
    // Leap day.
    assert_eq!(next("*-02-29", wed_10), Some(at(2028, 2, 29, 0, 0, 0)));
    // In the past: never again.
    assert_eq!(next("2020-01-01", wed_10), None);
    let runs = event("mon,wed,fri 21:00").next_runs(wed_10, 3);
    assert_eq!(
        runs,
        vec![
            at(2026, 12, 2, 21, 0, 0),
            at(2026, 12, 4, 21, 0, 0),
            at(2026, 12, 7, 21, 0, 0)
        ]
    );
}

/// The first minute after `t` that the schedule matches, walking minute by
/// minute (schedules at second 0 only).
fn brute_force(e: &CalendarEvent, t: OffsetDateTime, days: i64) -> Option<OffsetDateTime> {
    let mut m = t.replace_second(0).unwrap().replace_nanosecond(0).unwrap() + Duration::MINUTE;
    let end = t + Duration::days(days);
    while m <= end {
        if e.matches(m) {
            return Some(m);
        }
        m += Duration::MINUTE;
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn next_after_is_the_first_match_brute_force_finds(
        text in prop::sample::select(vec![
            "daily", "hourly", "weekly", "mon..fri 02:30", "sat,sun 8..17:0/20",
            "*:0/15", "*/3:45", "*-*-1..7 04:00", "tue *-*-8..14 12:00",
            "fri 12..13:5/20", "*-01,07-01", "sat..mon 23:59",
        ]),
        start in 0i64..(4 * 365 * 24 * 60),
        second in 0u8..60,
    ) {
        let e = event(text);
        let t = at(2026, 1, 1, 0, 0, 0) + Duration::minutes(start)
            + Duration::seconds(i64::from(second));
        let got = e.next_after(t);
        // Every schedule above runs at least once in 200 days.
        let want = brute_force(&e, t, 200);
        prop_assert_eq!(got, want, "`{}` after {}", text, t);
    }
}
