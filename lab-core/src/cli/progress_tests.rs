//! Progress and the apply summary: the terminal path drawn into a fake
//! terminal (indicatif's `term_like`), the pipe path through `run_captured`.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::TermLike;

use super::*;
use crate::cli::run_captured;
use crate::testing::{Fault, MemoryProvider, Thing};
use crate::Resource;

const PLAIN: Term = Term {
    color: false,
    live: false,
    interactive: false,
};

const LIVE: Term = Term {
    live: true,
    ..PLAIN
};

/// A terminal that records what is drawn on it: text as written, cursor
/// moves and clears as `<up 1>`, `<clear>`.
#[derive(Debug, Default, Clone)]
struct FakeTerminal(Arc<Mutex<String>>);

impl FakeTerminal {
    fn target(&self) -> ProgressDrawTarget {
        ProgressDrawTarget::term_like(Box::new(self.clone()))
    }

    fn drawn(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// True if the last thing drawn was a clear (cursor moves after it
    /// draw nothing).
    fn ends_cleared(&self) -> bool {
        let drawn = self.drawn();
        let Some(at) = drawn.rfind("<clear>") else {
            return false;
        };
        let mut in_marker = false;
        drawn[at..].chars().all(|c| {
            match c {
                '<' => in_marker = true,
                '>' => in_marker = false,
                _ => {}
            }
            in_marker || c == '>'
        })
    }

    fn push(&self, text: &str) -> io::Result<()> {
        self.0.lock().unwrap().push_str(text);
        Ok(())
    }
}

impl TermLike for FakeTerminal {
    fn width(&self) -> u16 {
        140
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.push(&format!("<up {n}>"))
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.push(&format!("<down {n}>"))
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.push(&format!("<right {n}>"))
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.push(&format!("<left {n}>"))
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.push(&format!("{s}\n"))
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.push(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        self.push("<clear>")
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

fn started(name: &str) -> Event {
    Event::Started {
        address: Address::new("test.thing", name),
        op: OpKind::Create,
    }
}

fn finished(name: &str) -> Event {
    Event::Finished {
        address: Address::new("test.thing", name),
        op: OpKind::Create,
        elapsed: Duration::from_millis(5),
    }
}

#[test]
fn on_a_terminal_the_bar_counts_finished_operations_under_the_event_lines() {
    let screen = FakeTerminal::default();
    let mut progress = Progress::new(LIVE, 2, Some(screen.target()));
    assert!(progress.has_bar());
    let mut out = Vec::new();

    progress.on_event(&started("a"), &mut out);
    progress.on_event(&started("b"), &mut out);
    assert_eq!(
        progress.running_now(),
        "2 running: create test.thing.a, create test.thing.b"
    );
    let after_start = screen.drawn();
    assert!(after_start.contains("0/2"), "{after_start}");
    assert!(
        after_start.contains("2 running: create test.thing.a, create test.thing.b"),
        "the bar names what runs now: {after_start}"
    );

    progress.on_event(&finished("a"), &mut out);
    let after_one = screen.drawn();
    // The last frame drawn (the bar's ticker may redraw an earlier one in
    // between, on a loaded machine).
    let tail = after_one.rsplit("<clear>").next().unwrap_or_default();
    assert!(
        tail.contains("1/2") && tail.contains("create test.thing.b"),
        "{tail}"
    );
    assert!(!tail.contains("running:"), "{tail}");

    progress.on_event(&finished("b"), &mut out);
    assert_eq!(progress.running_now(), "waiting");
    assert!(!screen.ends_cleared(), "the bar stays until the end");
    progress.clear();
    let drawn = screen.drawn();
    assert!(drawn[after_one.len()..].contains("2/2"), "{drawn}");
    assert!(
        screen.ends_cleared(),
        "the bar is cleared at the end: {drawn:?}"
    );

    // The event lines go to the output, whole and in order, above the bar.
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "create   test.thing.a: started",
            "create   test.thing.b: started",
            "create   test.thing.a: done in 5ms",
            "create   test.thing.b: done in 5ms",
        ]
    );
    assert!(!text.contains('\x1b'), "{text:?}");
}

#[test]
fn a_failure_is_red_on_a_colored_terminal_and_plain_without_color() {
    let failed = Event::Failed {
        address: Address::new("test.thing", "db"),
        op: OpKind::Create,
        error: "boom".into(),
    };
    let colored = Term {
        color: true,
        ..LIVE
    };
    let mut out = Vec::new();
    let mut progress = Progress::new(colored, 1, Some(FakeTerminal::default().target()));
    progress.on_event(&failed, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("\x1b[31mcreate   test.thing.db: FAILED: boom"),
        "{text:?}"
    );

    let mut out = Vec::new();
    let mut progress = Progress::new(LIVE, 1, Some(FakeTerminal::default().target()));
    progress.on_event(&failed, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "create   test.thing.db: FAILED: boom\n"
    );
}

#[test]
fn without_a_terminal_there_is_no_bar_only_the_lines() {
    // A hidden target (what indicatif gives for a pipe or `TERM=dumb`), and
    // no target at all (not live): the same plain lines.
    for target in [Some(ProgressDrawTarget::hidden()), None] {
        let mut progress = Progress::new(LIVE, 1, target);
        assert!(!progress.has_bar());
        let mut out = Vec::new();
        progress.on_event(&started("a"), &mut out);
        progress.on_event(&finished("a"), &mut out);
        progress.clear();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "create   test.thing.a: started\ncreate   test.thing.a: done in 5ms\n"
        );
    }
    assert!(live_target(PLAIN, ProgressDrawTarget::stdout).is_none());
    assert!(live_target(LIVE, ProgressDrawTarget::hidden).is_some());
}

#[test]
fn refresh_spins_on_a_terminal_and_is_silent_in_a_pipe() {
    let refreshing = Event::Refreshing {
        provider: "memory".into(),
        resources: 3,
    };
    let screen = FakeTerminal::default();
    let mut spinner = RefreshSpinner::new(LIVE, Some(screen.target()));
    let mut err = Vec::new();
    spinner.on_event(&refreshing, &mut err);
    spinner.on_event(&started("a"), &mut err);
    assert!(
        screen.drawn().contains("refreshing memory (3)"),
        "{}",
        screen.drawn()
    );
    spinner.clear();
    assert!(screen.ends_cleared(), "{:?}", screen.drawn());
    assert_eq!(
        String::from_utf8(err).unwrap(),
        "refresh  memory: 3 resource(s)\n"
    );

    let mut spinner = RefreshSpinner::new(PLAIN, live_target(PLAIN, ProgressDrawTarget::stderr));
    let mut err = Vec::new();
    spinner.on_event(&refreshing, &mut err);
    assert!(err.is_empty());
}

// The summary, through the CLI in a pipe.

/// `things` through `memory` and two disks through a second instance `disks`.
fn lab(memory: &MemoryProvider, disks: &MemoryProvider, things: &[(&str, &str, i64)]) -> Lab {
    let mut lab = Lab::new("summary");
    lab.register_provider(memory.shared());
    lab.register_provider(disks.shared());
    for (name, image, size) in things {
        lab.add(Thing::new(name).attr("image", *image).attr("size", *size));
    }
    add_disks(&mut lab);
    lab
}

fn add_disks(lab: &mut Lab) {
    lab.add(Thing::of_kind("test.disk", "d1").attr("size", 1));
    lab.add(Thing::of_kind("test.disk", "d2").attr("size", 2));
}

fn disks() -> MemoryProvider {
    MemoryProvider::new()
        .with_kinds(&["test.disk"])
        .with_name("disks")
}

fn cli(lab: Lab, dir: &Path, args: &[&str]) -> (i32, String) {
    let mut argv = vec![
        "lab".to_string(),
        "--state-dir".to_string(),
        dir.join(".lab").display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_captured(lab, argv, &mut out, &mut err);
    let out = String::from_utf8(out).unwrap();
    let err = String::from_utf8(err).unwrap();
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "escape codes in a pipe: {out:?} {err:?}"
    );
    (code, out)
}

/// The summary: from its first line to the end.
fn summary(out: &str) -> &str {
    let start = out
        .find("Apply ")
        .or_else(|| out.find("Destroy "))
        .unwrap_or_else(|| panic!("no summary in {out}"));
    &out[start..]
}

/// The summary without its time (`in 3ms.`).
fn timeless(summary: &str) -> String {
    let (head, rest) = summary.split_once(" in ").expect("a time");
    let (_, rest) = rest.split_once(".\n").expect("the first line's end");
    format!("{head} in T.\n{rest}")
}

#[test]
fn the_summary_counts_resources_and_operations_per_provider_instance() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, disks) = (MemoryProvider::new(), disks());
    let things = [("a", "x", 1), ("b", "x", 1), ("c", "x", 1)];
    let (code, out) = cli(
        lab(&memory, &disks, &things),
        dir.path(),
        &["apply", "--auto-approve"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("create   test.disk.d1: done in"), "{out}");
    assert_eq!(
        timeless(summary(&out)),
        "Apply complete: 5 done, 0 failed, 0 skipped in T.\n\
         Resources: 5 created, 0 updated, 0 replaced, 0 deleted.\n\
         Operations per provider:\n  \
         disks   2 done\n  \
         memory  3 done\n"
    );

    // `a` updated, `b` replaced (its image), `c` deleted.
    let things = [("a", "x", 2), ("b", "y", 1)];
    let (code, out) = cli(
        lab(&memory, &disks, &things),
        dir.path(),
        &["apply", "--auto-approve"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        timeless(summary(&out)),
        "Apply complete: 4 done, 0 failed, 0 skipped in T.\n\
         Resources: 0 created, 1 updated, 1 replaced, 1 deleted.\n\
         Operations per provider:\n  \
         memory  4 done\n"
    );

    let (code, out) = cli(
        lab(&memory, &disks, &things),
        dir.path(),
        &["destroy", "--auto-approve"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        timeless(summary(&out)),
        "Destroy complete: 4 done, 0 failed, 0 skipped in T.\n\
         Resources: 0 created, 0 updated, 0 replaced, 4 deleted.\n\
         Operations per provider:\n  \
         disks   2 done\n  \
         memory  2 done\n"
    );
}

#[test]
fn a_failure_shows_in_the_summary_counts_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, disks) = (MemoryProvider::new(), disks());
    memory.fail_resource("a", Fault::Permanent);
    let mut lab = Lab::new("summary");
    lab.register_provider(memory.shared());
    lab.register_provider(disks.shared());
    let a = lab.add(Thing::new("a").attr("size", 1));
    lab.add(Thing::new("after-a").attr("size", 1).after(&a));
    add_disks(&mut lab);
    let (code, out) = cli(lab, dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}");
    let summary = timeless(summary(&out));
    assert!(
        summary.starts_with(
            "Apply finished with failures: 2 done, 1 failed, 1 skipped in T.\n\
             Resources: 2 created, 0 updated, 0 replaced, 0 deleted.\n\
             Operations per provider:\n  \
             disks   2 done\n  \
             memory  0 done, 1 failed, 1 skipped\n\
             Failed:\n  \
             x test.thing.a (create): injected permanent failure"
        ),
        "{summary}"
    );
    assert!(
        summary.contains(
            "Skipped:\n  - test.thing.after-a (create): waited for test.thing.a, which failed\n"
        ),
        "{summary}"
    );
    assert!(summary.contains("run apply again"), "{summary}");
}

#[test]
fn a_run_stopped_by_rejected_credentials_is_not_called_complete() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, disks) = (MemoryProvider::new(), disks());
    memory.fail_resource("a", Fault::Auth);
    let lab = lab(&memory, &disks, &[("a", "x", 1)]);
    let (code, out) = cli(
        lab,
        dir.path(),
        &["apply", "--auto-approve", "--parallelism", "1"],
    );
    assert_eq!(code, 1, "{out}");
    let summary = summary(&out);
    assert!(
        summary.starts_with("Apply finished with failures: "),
        "{summary}"
    );
    assert!(
        summary.contains("memory  0 done, 1 failed") && summary.contains("The run stopped: "),
        "{summary}"
    );
}
