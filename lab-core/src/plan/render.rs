//! Renders a [`Plan`] for people, the way Terraform does.
//!
//! The text is honest about what will happen: drift first (changes made
//! outside the lab), then each step with its symbol (`+` create, `~` update,
//! `-/+` replace, `+/-` replace creating first, `-` delete), where it was
//! declared, and field by field what changes, marking the fields that force
//! a replacement. Values come from [`Value`]'s `Display`, so secrets always
//! show as `(sensitive value)` and outputs not yet known as
//! `(known after apply)`. The footer counts the changes and gives the
//! estimated duration and the critical path.
//!
//! ```
//! use lab_core::plan::{render::render, Plan};
//! let plan = Plan {
//!     lab: "home".into(),
//!     lineage: None,
//!     state_serial: 0,
//!     destroy: false,

//!     recovered: vec![],
//!     moves: vec![],
//!     steps: vec![],
//!     drift: vec![],
//!     unchanged: 3,
//!     estimate: Default::default(),
//!     critical_path: vec![],
//!     kept: vec![],
//! };
//! assert_eq!(render(&plan, false), "No changes. The lab matches the code (3 resources).\n");
//! ```

use std::fmt::Write as _;

use super::{fmt_duration, Action, Drift, Plan, PlanStep};
use crate::provider::FieldChange;
use crate::value::Value;

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The plan as text; ANSI colors on the symbols when `color` is true.
pub fn render(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    let p = Painter { color };

    if !plan.recovered.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.bold("Recovered from an interrupted or failed run (recorded in the state):")
        );
        out.push('\n');
        for r in &plan.recovered {
            let mark = if r.needs_attention {
                p.red("!")
            } else {
                p.symbol("*")
            };
            let _ = writeln!(out, "  {mark} {}: {}", r.address, r.outcome);
        }
        out.push('\n');
    }

    if !plan.drift.is_empty() {
        let _ = writeln!(out, "{}", p.bold("Objects changed outside the lab:"));
        out.push('\n');
        for d in &plan.drift {
            render_drift(&mut out, p, d);
        }
        out.push('\n');
    }

    if !plan.kept.is_empty() {
        let kept: Vec<&str> = plan.kept.iter().map(|a| a.as_str()).collect();
        let _ = writeln!(
            out,
            "Kept (prevent_destroy, or needed by what is): {}",
            kept.join(", ")
        );
        out.push('\n');
    }

    if !plan.has_changes() {
        if plan.destroy {
            out.push_str("No changes. There is nothing in the state to destroy.\n");
        } else {
            let n = plan.unchanged;
            let _ = writeln!(
                out,
                "No changes. The lab matches the code ({n} resource{}).",
                if n == 1 { "" } else { "s" }
            );
        }
        return out;
    }

    let _ = writeln!(out, "{}", p.bold("lab will perform these actions:"));
    for m in &plan.moves {
        out.push('\n');
        let _ = writeln!(
            out,
            "  {} {} has moved to {} (the state entry is renamed; nothing is called)",
            p.symbol("~>"),
            m.from,
            p.bold(m.to.as_str())
        );
    }
    for step in &plan.steps {
        out.push('\n');
        render_step(&mut out, p, step);
    }
    out.push('\n');

    let (add, change, destroy) = plan.counts();
    let moved = if plan.moves.is_empty() {
        String::new()
    } else {
        format!(" {} to move,", plan.moves.len())
    };
    let _ = writeln!(
        out,
        "{}{moved} {add} to add, {change} to change, {destroy} to destroy. {} unchanged.",
        p.bold("Plan:"),
        plan.unchanged
    );
    let _ = write!(out, "Estimated apply time: {}", fmt_duration(plan.estimate));
    if !plan.critical_path.is_empty() {
        let path: Vec<&str> = plan.critical_path.iter().map(|a| a.as_str()).collect();
        let _ = write!(out, "; critical path: {}", path.join(" -> "));
    }
    out.push('\n');
    out
}

fn render_drift(out: &mut String, p: Painter, d: &Drift) {
    if d.deleted {
        let _ = writeln!(
            out,
            "  {} {} (deleted outside the lab)",
            p.symbol("-"),
            d.address
        );
        return;
    }
    let _ = writeln!(out, "  {} {}", p.symbol("~"), d.address);
    let width = d.changes.iter().map(|c| c.field.len()).max().unwrap_or(0);
    for c in &d.changes {
        render_change(out, p, c, width, false);
    }
}

fn render_step(out: &mut String, p: Painter, step: &PlanStep) {
    let _ = write!(
        out,
        "  {} {}",
        p.symbol(step.action.symbol(step.create_before_destroy)),
        step.address
    );
    if let Some(reason) = &step.reason {
        let _ = write!(out, " ({reason})");
    }
    if let Some(at) = &step.declared_at {
        let _ = write!(out, "  # declared at {at}");
    }
    out.push('\n');

    match step.action {
        Action::Delete => {}
        Action::Create => {
            if step.changes.is_empty() {
                // A create lists every desired field; fall back to them if
                // the planner left `changes` empty.
                let width = step.desired.keys().map(String::len).max().unwrap_or(0);
                for (field, value) in &step.desired {
                    let _ = writeln!(out, "      {} {field:<width$} = {value}", p.symbol("+"));
                }
            } else {
                render_changes(out, p, &step.changes, true);
            }
        }
        Action::Update | Action::Replace => render_changes(out, p, &step.changes, false),
    }
    for note in &step.notes {
        let _ = writeln!(out, "      {} {note}", p.symbol("!"));
    }
}

/// The field lines of a step, names aligned.
fn render_changes(out: &mut String, p: Painter, changes: &[FieldChange], creating: bool) {
    let width = changes.iter().map(|c| c.field.len()).max().unwrap_or(0);
    for c in changes {
        render_change(out, p, c, width, creating);
    }
}

/// One field line: `+ f = v` (new), `- f = v` (removed), `~ f = a -> b`.
fn render_change(out: &mut String, p: Painter, c: &FieldChange, width: usize, creating: bool) {
    let field = &c.field;
    let _ = match (&c.before, &c.after) {
        (_, Some(after)) if creating => {
            write!(out, "      {} {field:<width$} = {after}", p.symbol("+"))
        }
        (None, Some(after)) => write!(out, "      {} {field:<width$} = {after}", p.symbol("+")),
        (Some(before), None) => write!(out, "      {} {field:<width$} = {before}", p.symbol("-")),
        (Some(before), Some(after)) => write!(
            out,
            "      {} {field:<width$} = {} -> {after}",
            p.symbol("~"),
            before
        ),
        (None, None) => write!(
            out,
            "      {} {field:<width$} = {}",
            p.symbol("~"),
            Value::Null
        ),
    };
    if c.forces_replacement {
        out.push_str("  # forces replacement");
    }
    out.push('\n');
}

#[derive(Clone, Copy)]
struct Painter {
    color: bool,
}

impl Painter {
    /// Colors each `+` green, `~` yellow and `-` red.
    fn symbol(self, sym: &str) -> String {
        if !self.color {
            return sym.to_string();
        }
        let mut s = String::new();
        for ch in sym.chars() {
            match ch {
                '+' => s.push_str(&format!("{GREEN}+{RESET}")),
                '~' => s.push_str(&format!("{YELLOW}~{RESET}")),
                '-' => s.push_str(&format!("{RED}-{RESET}")),
                other => s.push(other),
            }
        }
        s
    }

    fn bold(self, text: &str) -> String {
        if self.color {
            format!("{BOLD}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn red(self, text: &str) -> String {
        if self.color {
            format!("{RED}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::state::ResourceState;
    use crate::value::{Attrs, OutputRef};
    use crate::{Address, Secret};

    const PASSWORD: &str = "correct-horse-battery-staple";

    fn addr(name: &str) -> Address {
        Address::new("test.thing", name)
    }

    fn change(
        field: &str,
        before: Option<Value>,
        after: Option<Value>,
        forces: bool,
    ) -> FieldChange {
        FieldChange {
            field: field.into(),
            before,
            after,
            forces_replacement: forces,
        }
    }

    fn prior(id: &str, attrs: Attrs) -> ResourceState {
        ResourceState {
            id: id.into(),
            attrs,
            outputs: Attrs::new(),
            deps: vec![],
            create_before_destroy: false,
            provider: "memory".into(),
        }
    }

    fn step(name: &str, action: Action, changes: Vec<FieldChange>) -> PlanStep {
        let desired: Attrs = changes
            .iter()
            .filter_map(|c| c.after.clone().map(|v| (c.field.clone(), v)))
            .collect();
        PlanStep {
            address: addr(name),
            action,
            changes,
            desired,
            prior: None,
            deps: vec![],
            create_before_destroy: false,
            reason: None,
            declared_at: Some(format!("examples/quickstart.rs:{}", 10 + name.len())),
            notes: Vec::new(),
            estimate: Duration::from_secs(2),
            provider: "memory".into(),
            after_delete: Vec::new(),
        }
    }

    fn empty_plan() -> Plan {
        Plan {
            lab: "home".into(),
            lineage: Some("0000".into()),
            state_serial: 4,
            destroy: false,

            recovered: vec![],
            moves: vec![],
            steps: vec![],
            drift: vec![],
            unchanged: 0,
            estimate: Duration::ZERO,
            critical_path: vec![],
            kept: vec![],
        }
    }

    fn full_plan() -> Plan {
        let secret = Value::Secret(Secret::new(PASSWORD));
        let db_ref = Value::Ref(OutputRef {
            address: addr("db"),
            output: "id".into(),
        });
        let mut db = step(
            "db",
            Action::Create,
            vec![
                change("size_gb", None, Some(Value::Int(20)), false),
                change("password", None, Some(secret.clone()), false),
            ],
        );
        db.estimate = Duration::from_secs(8);
        let mut app = step(
            "app",
            Action::Create,
            vec![
                change("db_id", None, Some(db_ref.clone()), false),
                change(
                    "image",
                    None,
                    Some(Value::Str("ghcr.io/demo/app:1.2".into())),
                    false,
                ),
            ],
        );
        app.deps = vec![addr("db")];
        let mut proxy = step(
            "proxy",
            Action::Update,
            vec![
                change(
                    "upstream",
                    Some(Value::Str("10.0.0.5".into())),
                    Some(db_ref),
                    false,
                ),
                change(
                    "tls",
                    Some(Value::Bool(false)),
                    Some(Value::Bool(true)),
                    false,
                ),
                change(
                    "token",
                    Some(secret.clone()),
                    Some(Value::Secret(Secret::new("new-token"))),
                    false,
                ),
            ],
        );
        proxy.prior = Some(prior("p-1", Attrs::new()));
        let mut pool = step(
            "pool",
            Action::Replace,
            vec![
                change(
                    "disk",
                    Some(Value::Str("sda".into())),
                    Some(Value::Str("sdb".into())),
                    true,
                ),
                change(
                    "size_gb",
                    Some(Value::Int(100)),
                    Some(Value::Int(200)),
                    false,
                ),
                change("comment", Some(Value::Str("old".into())), None, false),
            ],
        );
        pool.prior = Some(prior("pool-7", Attrs::new()));
        let mut dns = step(
            "dns",
            Action::Replace,
            vec![change(
                "zone",
                Some(Value::Str("lan".into())),
                Some(Value::Str("home.arpa".into())),
                true,
            )],
        );
        dns.create_before_destroy = true;
        let mut old = step("old", Action::Delete, vec![]);
        old.declared_at = None;
        old.reason = Some("no longer in the code".into());
        old.prior = Some(prior(
            "old-3",
            [("password".to_string(), secret)].into_iter().collect(),
        ));
        Plan {
            steps: vec![db, app, proxy, pool, dns, old],
            drift: vec![
                Drift {
                    address: addr("share"),
                    changes: vec![change(
                        "path",
                        Some(Value::Str("/media".into())),
                        Some(Value::Str("/srv/media".into())),
                        false,
                    )],
                    deleted: false,
                },
                Drift {
                    address: addr("backup"),
                    changes: vec![],
                    deleted: true,
                },
            ],
            unchanged: 3,
            estimate: Duration::from_millis(12_400),
            critical_path: vec![addr("db"), addr("app"), addr("proxy")],
            kept: vec![],
            ..empty_plan()
        }
    }

    #[test]
    fn full_plan_renders_every_kind_of_step() {
        let text = render(&full_plan(), false);
        assert!(!text.contains(PASSWORD), "secret plaintext leaked:\n{text}");
        assert!(
            !text.contains("new-token"),
            "secret plaintext leaked:\n{text}"
        );
        assert!(!text.contains('\x1b'), "color without color:\n{text}");
        insta::assert_snapshot!(text, @r#"
        Objects changed outside the lab:

          ~ test.thing.share
              ~ path = "/media" -> "/srv/media"
          - test.thing.backup (deleted outside the lab)

        lab will perform these actions:

          + test.thing.db  # declared at examples/quickstart.rs:12
              + size_gb  = 20
              + password = (sensitive value)

          + test.thing.app  # declared at examples/quickstart.rs:13
              + db_id = (known after apply)
              + image = "ghcr.io/demo/app:1.2"

          ~ test.thing.proxy  # declared at examples/quickstart.rs:15
              ~ upstream = "10.0.0.5" -> (known after apply)
              ~ tls      = false -> true
              ~ token    = (sensitive value) -> (sensitive value)

          -/+ test.thing.pool  # declared at examples/quickstart.rs:14
              ~ disk    = "sda" -> "sdb"  # forces replacement
              ~ size_gb = 100 -> 200
              - comment = "old"

          +/- test.thing.dns  # declared at examples/quickstart.rs:13
              ~ zone = "lan" -> "home.arpa"  # forces replacement

          - test.thing.old (no longer in the code)

        Plan: 4 to add, 1 to change, 3 to destroy. 3 unchanged.
        Estimated apply time: 12s; critical path: test.thing.db -> test.thing.app -> test.thing.proxy
        "#);
    }

    #[test]
    fn no_changes() {
        let plan = Plan {
            unchanged: 7,
            ..empty_plan()
        };
        insta::assert_snapshot!(render(&plan, false), @"No changes. The lab matches the code (7 resources).");
        let one = Plan {
            unchanged: 1,
            ..empty_plan()
        };
        assert_eq!(
            render(&one, false),
            "No changes. The lab matches the code (1 resource).\n"
        );
        let destroy = Plan {
            destroy: true,

            recovered: vec![],
            ..empty_plan()
        };
        assert_eq!(
            render(&destroy, false),
            "No changes. There is nothing in the state to destroy.\n"
        );
    }

    #[test]
    fn no_changes_still_shows_drift() {
        let plan = Plan {
            unchanged: 2,
            drift: vec![Drift {
                address: addr("db"),
                changes: vec![change(
                    "password",
                    Some(Value::Secret(Secret::new(PASSWORD))),
                    Some(Value::Secret(Secret::new("changed-by-hand"))),
                    false,
                )],
                deleted: false,
            }],
            ..empty_plan()
        };
        let text = render(&plan, false);
        assert!(!text.contains(PASSWORD) && !text.contains("changed-by-hand"));
        insta::assert_snapshot!(text, @r"
        Objects changed outside the lab:

          ~ test.thing.db
              ~ password = (sensitive value) -> (sensitive value)

        No changes. The lab matches the code (2 resources).
        ");
    }

    #[test]
    fn create_without_changes_lists_desired_fields() {
        let mut s = step("bare", Action::Create, vec![]);
        s.desired.insert("a".into(), Value::Int(1));
        s.desired
            .insert("longer".into(), Value::Secret(Secret::new(PASSWORD)));
        let plan = Plan {
            steps: vec![s],
            estimate: Duration::from_millis(850),
            ..empty_plan()
        };
        let text = render(&plan, false);
        assert!(!text.contains(PASSWORD));
        insta::assert_snapshot!(text, @r"
        lab will perform these actions:

          + test.thing.bare  # declared at examples/quickstart.rs:14
              + a      = 1
              + longer = (sensitive value)

        Plan: 1 to add, 0 to change, 0 to destroy. 0 unchanged.
        Estimated apply time: 850ms
        ");
    }

    #[test]
    fn color_only_when_asked() {
        let plan = full_plan();
        let plain = render(&plan, false);
        let colored = render(&plan, true);
        assert!(!plain.contains('\x1b'));
        assert!(colored.contains("\x1b[32m+\x1b[0m"));
        assert!(colored.contains("\x1b[33m~\x1b[0m"));
        assert!(colored.contains("\x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m"));
        assert!(!colored.contains(PASSWORD));
        // Stripping the escapes gives the plain text back.
        let stripped = strip_ansi(&colored);
        assert_eq!(stripped, plain);
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
