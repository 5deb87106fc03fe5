//! Notes (`lab_core::notes`): the short note the derive pass writes, the
//! user's notes winning, secrets never printed, and `docs --out DIR`.

use std::fs;

use lab_core::notes::{
    show_value, NoteBook, NoteLine, NoteSection, NoteSet, NoteSource, HEADER_PREFIX,
};
use lab_core::prelude::*;
use lab_core::testing::{MemoryProvider, Thing};
use lab_core::{Address, Resource};

/// Every `test.thing` whose name starts with `g` is a subject; each note
/// shows the thing's attributes through `show_value`.
struct Things<'a>(&'a Lab);

impl NoteSource for Things<'_> {
    fn subjects(&self) -> Vec<Address> {
        self.0
            .resources()
            .filter(|s| s.name().starts_with('g'))
            .map(|s| s.address.clone())
            .collect()
    }

    fn sections(&self, subject: &Address) -> Vec<NoteSection> {
        let Some(spec) = self.0.resource(subject) else {
            return Vec::new();
        };
        let body: String = spec
            .attrs
            .iter()
            .filter(|(k, _)| k.as_str() != "notes")
            .map(|(k, v)| format!("- {k}: {}\n", show_value(v)))
            .collect();
        vec![NoteSection::new("Fields", body, 20)]
    }

    fn lines(&self, subject: &Address) -> Vec<NoteLine> {
        let n = self.0.resources().count();
        vec![
            NoteLine::new("node", format!("n-{}", subject.name()), 20),
            NoteLine::new("count", n.to_string(), 25),
        ]
    }
}

const THINGS: NoteSet = NoteSet {
    name: "things",
    read: |lab| Box::new(Things(lab)),
    short_field: Some("notes"),
};

fn guest(name: &str) -> Thing {
    let mut t = Thing::new(name);
    t.spec_mut().note_set = Some(THINGS);
    t
}

fn notes_of(lab: &Lab, name: &str) -> Option<Value> {
    lab.resources()
        .find(|s| s.name() == name)
        .and_then(|s| s.attrs.get("notes").cloned())
}

#[test]
fn the_pass_writes_the_short_note_and_replaces_its_own_value() {
    let mut lab = Lab::new("home");
    let mut g = guest("gweb");
    g.spec_mut().annotations.insert(
        "about".into(),
        Value::from("The blog,\n  served  to friends."),
    );
    lab.add(g);
    lab.derive();
    assert_eq!(
        notes_of(&lab, "gweb"),
        Some(Value::from(
            "The blog, served to friends.\n\n- node: n-gweb\n- count: 1\n- full note: docs/test.thing.gweb.md"
        ))
    );
    // A change re-runs the pass: its earlier value is not taken for the user's.
    lab.add(Thing::new("other"));
    lab.derive();
    let text = notes_of(&lab, "gweb").unwrap();
    assert!(text.as_str().unwrap().contains("- count: 2\n"), "{text:?}");
}

#[test]
fn the_users_notes_win_and_non_subjects_get_none() {
    let mut lab = Lab::new("home");
    lab.add(guest("gmine").attr("notes", "my own words"));
    lab.add(guest("plain"));
    lab.derive();
    assert_eq!(notes_of(&lab, "gmine"), Some(Value::from("my own words")));
    assert_eq!(notes_of(&lab, "plain"), None);
}

#[test]
fn a_lab_without_note_sets_is_left_alone() {
    let mut lab = Lab::new("home");
    lab.add(Thing::new("gweb"));
    assert!(!lab.derivation_pending());
    lab.derive();
    assert_eq!(notes_of(&lab, "gweb"), None);
}

#[test]
fn notes_never_print_a_secret_and_show_references() {
    let mut lab = Lab::new("home");
    let db = lab.add(Thing::new("db"));
    lab.add(
        guest("gapp")
            .secret("password", "hunter2-very-secret")
            .input("db_id", db.output::<String>("id")),
    );
    lab.derive();
    let book = NoteBook::of(&lab);
    let md = book.notes[0].to_markdown();
    assert!(!md.contains("hunter2"), "{md}");
    assert!(md.contains("- password: (secret)"), "{md}");
    assert!(
        md.contains("- db_id: (known after apply: test.thing.db#id)"),
        "{md}"
    );
    assert!(!book.notes[0].short_form().contains("hunter2"));
}

#[test]
fn notes_link_dependencies_both_ways_and_are_deterministic() {
    let build = || {
        let mut lab = Lab::new("home");
        let db = lab.add(guest("gdb"));
        let cache = lab.add(Thing::new("cache"));
        lab.add(
            guest("gapp")
                .input("db_id", db.output::<String>("id"))
                .after(&cache),
        );
        lab.derive();
        lab
    };
    let lab = build();
    let book = NoteBook::of(&lab);
    let app = book
        .notes
        .iter()
        .find(|n| n.address.name() == "gapp")
        .unwrap();
    let md = app.to_markdown();
    assert!(
        md.contains("- [`test.thing.gdb`](test.thing.gdb.md) (through `db_id`)"),
        "{md}"
    );
    assert!(
        md.contains("- `test.thing.cache` (through `after`)"),
        "{md}"
    );
    let db = book
        .notes
        .iter()
        .find(|n| n.address.name() == "gdb")
        .unwrap();
    assert!(db.to_markdown().contains(
        "What depends on it:\n\n- [`test.thing.gapp`](test.thing.gapp.md) (through `db_id`)"
    ));
    // Sections in order: the set's fields (20) before the dependencies (70).
    let fields = md.find("## Fields").unwrap();
    assert!(fields < md.find("## Dependencies").unwrap());
    let again = NoteBook::of(&build());
    assert_eq!(book.index_markdown(), again.index_markdown());
    for (a, b) in book.notes.iter().zip(&again.notes) {
        assert_eq!(a.to_markdown(), b.to_markdown());
    }
}

#[test]
fn docs_writes_notes_index_and_pictures_and_removes_only_its_stale_notes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("docs");
    fs::create_dir_all(&out).unwrap();
    let stale = out.join("test.thing.gold.md");
    fs::write(
        &stale,
        format!("{HEADER_PREFIX} from the lab `home` -->\n# old\n"),
    )
    .unwrap();
    let mine = out.join("runbook.md");
    fs::write(&mine, "# my own page\n").unwrap();

    let mut lab = Lab::new("home");
    lab.register_provider(MemoryProvider::new().shared());
    let db = lab.add(guest("gdb"));
    lab.add(guest("gapp").input("db_id", db.output::<String>("id")));
    let state = dir.path().join("state");
    let (mut o, mut e) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        lab,
        [
            "lab",
            "--state-dir",
            state.to_str().unwrap(),
            "docs",
            "--out",
            out.to_str().unwrap(),
        ],
        &mut o,
        &mut e,
    );
    let stdout = String::from_utf8(o).unwrap();
    assert_eq!(code, 0, "{stdout}{}", String::from_utf8_lossy(&e));
    assert!(
        stdout.contains("wrote 2 note(s), index.md and 1 picture(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("test.thing.gold.md (its guest left the lab)"),
        "{stdout}"
    );
    assert!(!stale.exists());
    assert_eq!(fs::read_to_string(&mine).unwrap(), "# my own page\n");
    let index = fs::read_to_string(out.join("index.md")).unwrap();
    assert!(index.starts_with(HEADER_PREFIX));
    assert!(
        index.contains("| [test.thing.gapp](test.thing.gapp.md) | n-gapp | - | - | - |"),
        "{index}"
    );
    assert!(index.contains("```mermaid\nflowchart"), "{index}");
    assert!(
        index.contains("[SVG](pictures/dependencies.svg)"),
        "{index}"
    );
    let svg = fs::read_to_string(out.join("pictures/dependencies.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    let note = fs::read_to_string(out.join("test.thing.gapp.md")).unwrap();
    assert!(note.contains("# gapp"), "{note}");
    // Offline: no state was made, no provider called.
    assert!(!state.join("state.json").exists());
    // No temp file is left behind.
    assert!(fs::read_dir(&out).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}
