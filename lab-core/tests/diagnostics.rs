//! Diagnostics point at the user's file and line.

use lab_core::checks::builtin::{
    DEPENDENCY_CYCLE, DUPLICATE_ADDRESS, FOREIGN_HANDLE, INVALID_NAME,
};
use lab_core::prelude::*;
use lab_core::testing::Thing;

fn find<'a>(diags: &'a [Diagnostic], code: &str) -> &'a Diagnostic {
    diags
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no {code} in {diags:#?}"))
}

fn render(d: &Diagnostic) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, d.report().as_ref())
        .unwrap();
    out
}

#[test]
fn duplicate_address_shows_both_lines() {
    let mut lab = Lab::new("t");
    let first_line = line!() + 1;
    lab.add(Thing::new("db"));
    let second_line = line!() + 1;
    lab.add(Thing::new("db"));
    let diags = lab.check();
    let d = find(&diags, DUPLICATE_ADDRESS);
    assert!(d.is_blocking());
    let lines: Vec<(&str, u32)> = d
        .labels
        .iter()
        .map(|l| (l.loc.file(), l.loc.line()))
        .collect();
    assert_eq!(lines, vec![(file!(), second_line), (file!(), first_line)]);
    assert!(d.message.contains("test.thing.db"));
    let out = render(d);
    assert!(out.contains("lab-core/tests/diagnostics.rs"), "{out}");
    assert!(out.contains("declared again here"), "{out}");
    assert!(out.contains("first declared here"), "{out}");
}

#[test]
fn cycle_is_reported_as_a_labelled_path_through_the_users_lines() {
    let mut lab = Lab::new("t");
    let a = lab.add(Thing::new("a"));
    let b_line = line!() + 1;
    let b = lab.add(Thing::new("b").after(&a));
    let c_line = line!() + 1;
    let c = lab.add(Thing::new("c").after(&b));
    lab.add(Thing::new("unrelated").after(&a));
    assert!(lab.check().iter().all(|d| d.code != DEPENDENCY_CYCLE));
    let closing_line = line!() + 1;
    lab.add_dependency(&a, &c);
    let diags = lab.check();
    let d = find(&diags, DEPENDENCY_CYCLE);
    assert!(d.is_blocking());
    assert_eq!(
        d.message,
        "dependency cycle: test.thing.a -> test.thing.c -> test.thing.b -> test.thing.a"
    );
    let lines: Vec<u32> = d.labels.iter().map(|l| l.loc.line()).collect();
    assert_eq!(lines, vec![closing_line, c_line, b_line]);
    assert!(d.labels[0]
        .text
        .contains("`test.thing.a` needs `test.thing.c`"));
    assert!(d.labels.iter().all(|l| l.loc.file() == file!()));
    let out = render(d);
    assert!(out.contains("lab.add_dependency(&a, &c);"), "{out}");
}

#[test]
fn handle_from_another_lab_is_caught_at_its_line() {
    let mut other = Lab::new("other");
    let foreign = other.add(Thing::new("db"));
    let mut lab = Lab::new("t");
    let line = line!() + 1;
    lab.add(Thing::new("app").after(&foreign));
    let diags = lab.check();
    let d = find(&diags, FOREIGN_HANDLE);
    assert_eq!(d.file_line(), Some((file!(), line)));
}

#[test]
fn empty_and_invalid_names_point_at_the_declaration() {
    let mut lab = Lab::new("t");
    let line = line!() + 1;
    lab.add(Thing::new(""));
    lab.add(Thing::new("has.dot"));
    let diags = lab.check();
    let bad: Vec<&Diagnostic> = diags.iter().filter(|d| d.code == INVALID_NAME).collect();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].file_line(), Some((file!(), line)));
    assert!(bad[0].message.contains("empty"));
    assert!(bad[1].message.contains("'.'"), "{}", bad[1].message);
}

#[test]
fn user_check_and_waiver_show_in_output() {
    let mut lab = Lab::new("t");
    lab.check_with("my::needs-size", Severity::Error, |lab, out| {
        for r in lab.resources() {
            if !r.attrs.contains_key("size_gb") {
                out.push(
                    Diagnostic::error("my::needs-size", format!("`{}` has no size_gb", r.address))
                        .for_resource(&r.address)
                        .with_label(r.declared_at, "declared here"),
                );
            }
        }
    });
    lab.add(Thing::new("sized").attr("size_gb", 10));
    let line = line!() + 1;
    lab.add(Thing::new("unsized"));
    let waiver_line = line!() + 1;
    lab.add(Thing::new("scratch").waive("my::needs-size", "scratch space, any size"));
    let diags = lab.check();
    let mine: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| d.code == "my::needs-size")
        .collect();
    assert_eq!(mine.len(), 2);
    let blocking: Vec<_> = mine.iter().filter(|d| d.is_blocking()).collect();
    assert_eq!(blocking.len(), 1);
    assert_eq!(blocking[0].file_line(), Some((file!(), line)));
    let waived = mine.iter().find(|d| d.waived.is_some()).unwrap();
    assert_eq!(waived.waived.as_deref(), Some("scratch space, any size"));
    assert!(waived.labels.iter().any(|l| l.loc.line() == waiver_line));
    assert!(waived.to_string().contains("waived"));
}

#[test]
fn a_waiver_for_an_unknown_check_is_a_warning() {
    let mut lab = Lab::new("t");
    let line = line!() + 1;
    lab.add(Thing::new("x").waive("no::such-check", "typo"));
    let diags = lab.check();
    let d = find(&diags, "core::unknown-waiver");
    assert!(!d.is_blocking());
    assert_eq!(d.file_line(), Some((file!(), line)));
}

#[test]
fn a_report_without_readable_source_names_file_and_line() {
    // A Location whose file cannot be found falls back to `file:line:col`.
    #[track_caller]
    fn here() -> &'static std::panic::Location<'static> {
        std::panic::Location::caller()
    }
    let loc = here();
    let d = Diagnostic::error("t::x", "boom").with_label(loc, "here");
    // This file is readable, so it renders with a snippet:
    assert!(render(&d).contains("here"));
    // Simulate a shipped binary: no CARGO_MANIFEST_DIR, run elsewhere.
    let text = format!("{}", d);
    assert!(
        text.contains(&format!("{}:{}", file!(), loc.line())),
        "{text}"
    );
}

#[test]
fn a_bad_value_met_by_a_builder_points_at_its_line() {
    let mut lab = Lab::new("t");
    let mut spec = lab_core::ResourceSpec::new("demo.disk", "data");
    let line = line!() + 1;
    spec.invalid("size", "`12Q` is not a size", "write it like `32G`");
    struct Raw(lab_core::ResourceSpec);
    impl lab_core::Resource for Raw {
        fn spec_mut(&mut self) -> &mut lab_core::ResourceSpec {
            &mut self.0
        }
        fn into_spec(self) -> lab_core::ResourceSpec {
            self.0
        }
    }
    lab.add(Raw(spec));
    let diags = lab.check();
    let d = find(&diags, lab_core::checks::builtin::INVALID_VALUE);
    assert!(d.is_blocking());
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert_eq!(d.help.as_deref(), Some("write it like `32G`"));
}

#[test]
fn labels_far_apart_render_as_two_snippets_whatever_their_order() {
    #[track_caller]
    fn here() -> &'static std::panic::Location<'static> {
        std::panic::Location::caller()
    }
    let early = here();
    // Lines between the two labels, which the report must not print.
    let _filler_one = 1;
    let _filler_two = 2;
    let _filler_three = 3;
    let _filler_four = 4;
    let _filler_five = 5;
    let late = here();
    // The later label first, as checks often add them (the finding, then
    // where its storage was declared).
    let d = Diagnostic::error("t::x", "boom")
        .with_label(late, "the finding")
        .with_label(early, "declared here");
    let out = render(&d);
    assert!(
        out.contains("the finding") && out.contains("declared here"),
        "{out}"
    );
    assert!(!out.contains("_filler_three"), "{out}");
    assert_eq!(out.matches("╭─[").count(), 2, "{out}");
}
