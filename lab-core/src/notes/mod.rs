//! Notes: a Markdown page per guest, and a short form of it in the guest's
//! own notes field.
//!
//! A lab written as code says what runs where, but an operator at 3 a.m.
//! reads the Proxmox UI, or a page in the repository, not `main.rs`. So
//! every guest gets a note: what runs there and why, where it runs, its
//! network, how it is exposed, where its data is, where its copies are and
//! what an appliance loss costs it, what it depends on, and how to restore
//! it. `docs --out DIR` writes the notes and an index with the lab's
//! pictures ([`NoteBook`]); `apply` writes a short form into the guest's
//! notes field (lab-proxmox: the `description` the web UI shows), so a
//! hand edit there is drift like any other.
//!
//! No crate knows all of it, so, as with pictures
//! ([`PictureSet`](crate::picture::PictureSet)), each crate puts a
//! [`NoteSet`] on the specs its builders make and `Lab::add` registers it.
//! A set names the resources that get a note (its *subjects*: lab-proxmox's
//! VMs and containers) and gives, for any subject, sections and short lines:
//! lab-net its network and exposures, lab-pbs its copies and restore, for
//! guests that lab-proxmox names. lab-core adds what it knows itself: the
//! `about` annotation (what runs there and why) and the graph's edges.
//!
//! Notes read the specs, never a provider, so they work offline and are a
//! pure function of the code: the same lab gives the same bytes. They never
//! print a secret: [`show_value`] prints `Value::Secret` as `(secret)` and a
//! reference as `(known after apply: <address>#<output>)`.
//!
//! The short notes are written last in [`Lab::derive`] (after every crate's
//! derivation, since lab-net's addresses are derived). A subject whose set
//! names a [`NoteSet::short_field`] gets the short form in that field unless
//! the user set it (`.notes(..)`: the user's notes win); the pass marks the
//! fields it wrote ([`WROTE_ANNOTATION`]) so a second run replaces its own
//! value instead of taking it for the user's.
//!
//! ```
//! use lab_core::notes::{NoteBook, NoteLine, NoteSection, NoteSet, NoteSource};
//! use lab_core::prelude::*;
//! use lab_core::testing::Thing;
//! use lab_core::{Address, Resource};
//!
//! struct Boxes<'a>(&'a Lab);
//!
//! impl NoteSource for Boxes<'_> {
//!     fn subjects(&self) -> Vec<Address> {
//!         self.0.resources().map(|s| s.address.clone()).collect()
//!     }
//!     fn sections(&self, subject: &Address) -> Vec<NoteSection> {
//!         vec![NoteSection::new("Box", format!("`{subject}` is a box."), 20)]
//!     }
//!     fn lines(&self, _: &Address) -> Vec<NoteLine> {
//!         vec![NoteLine::new("kind", "a box", 20)]
//!     }
//! }
//!
//! const BOXES: NoteSet = NoteSet {
//!     name: "boxes",
//!     read: |lab| Box::new(Boxes(lab)),
//!     short_field: Some("notes"),
//! };
//!
//! let mut lab = Lab::new("home");
//! let mut web = Thing::new("web");
//! web.spec_mut().note_set = Some(BOXES);
//! web.spec_mut().annotations.insert("about".into(), Value::from("The blog."));
//! lab.add(web);
//! lab.derive();
//! let spec = lab.resources().next().unwrap();
//! assert_eq!(
//!     spec.attrs["notes"],
//!     Value::from("The blog.\n\n- kind: a box\n- full note: docs/test.thing.web.md")
//! );
//! let book = NoteBook::of(&lab);
//! assert!(book.notes[0].to_markdown().contains("## Box"));
//! ```

mod book;
mod write;

pub use book::{GuestNote, NoteBook, PictureFile};
pub use write::{write_atomic, WriteReport};

use std::fmt;

use crate::value::Value;
use crate::{Address, Lab};

/// The annotation naming what runs on a guest and why (one or two
/// sentences, the user's words): the first thing its note says.
pub const ABOUT_ANNOTATION: &str = "about";

/// The annotation naming the app a guest runs (`lab-services`' `App`).
pub const APP_ANNOTATION: &str = "app";

/// The annotation the note pass leaves on a subject whose short-note field
/// it wrote (its value: the field's name), so the next pass knows the
/// value is its own and not the user's.
pub const WROTE_ANNOTATION: &str = "notes.wrote";

/// The first characters of the first line of every file `docs` writes; a
/// stale note is removed only when it starts with them.
pub const HEADER_PREFIX: &str = "<!-- written by lab docs";

/// Where the short note says the full note is (`docs --out docs`).
pub const DOCS_DIR: &str = "docs";

/// Where sections go, by [`NoteSection::order`]: crates use these so
/// notes read in one order whoever wrote each part.
pub mod order {
    /// What runs there and why.
    pub const ABOUT: i32 = 0;
    /// Services, ports and admin surfaces.
    pub const SERVICES: i32 = 10;
    /// Node and resources (cores, memory, disks).
    pub const PLACEMENT: i32 = 20;
    /// Zone, VLAN, address.
    pub const NETWORK: i32 = 30;
    /// Exposures and their URLs.
    pub const EXPOSURE: i32 = 40;
    /// Where the data lives.
    pub const DATA: i32 = 50;
    /// Backups, copies and failure domains.
    pub const COPIES: i32 = 60;
    /// What it depends on and what depends on it.
    pub const DEPENDENCIES: i32 = 70;
    /// How to restore it.
    pub const RESTORE: i32 = 80;
}

/// One section of a guest's note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSection {
    /// Its heading (`Network`).
    pub title: String,
    /// Its text, Markdown.
    pub body_markdown: String,
    /// Where it goes (see [`order`]); ties keep the set order.
    pub order: i32,
}

impl NoteSection {
    /// A section.
    pub fn new(title: impl Into<String>, body_markdown: impl Into<String>, order: i32) -> Self {
        NoteSection {
            title: title.into(),
            body_markdown: body_markdown.into(),
            order,
        }
    }
}

/// One line of the short note (`zone: servers`), also the facts the
/// index's table shows (labels `node`, `zone`, `address`, `services`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteLine {
    /// What it says (`zone`); printed before the text.
    pub label: String,
    /// The text, plain (the Proxmox UI renders notes as Markdown; keep it
    /// to one line).
    pub text: String,
    /// Where it goes (see [`order`]).
    pub order: i32,
}

impl NoteLine {
    /// A line.
    pub fn new(label: impl Into<String>, text: impl Into<String>, order: i32) -> Self {
        NoteLine {
            label: label.into(),
            text: text.into(),
            order,
        }
    }
}

/// A crate's view of the lab for notes: read once per note pass (so a
/// crate reads its model of the lab once, not once per guest), then asked
/// about each subject.
pub trait NoteSource {
    /// The resources that get a note from this set (lab-proxmox: every VM
    /// and container); most sets name none and add to others' subjects.
    fn subjects(&self) -> Vec<Address> {
        Vec::new()
    }

    /// Sections this set adds to `subject`'s note (none when it knows
    /// nothing about it).
    fn sections(&self, subject: &Address) -> Vec<NoteSection>;

    /// Lines this set adds to `subject`'s short note.
    fn lines(&self, subject: &Address) -> Vec<NoteLine>;
}

/// A crate's notes. Its builders put it on the specs they make
/// ([`crate::ResourceSpec::note_set`]); `Lab::add` registers it once (by
/// name).
#[derive(Clone, Copy)]
pub struct NoteSet {
    /// The set's name (the crate's, e.g. `net`).
    pub name: &'static str,
    /// Reads the lab (derived) into the set's [`NoteSource`].
    pub read: for<'a> fn(&'a Lab) -> Box<dyn NoteSource + 'a>,
    /// The field of this set's subjects that holds the short note
    /// (lab-proxmox: `notes`, written into the guest's `description`);
    /// `None`: its subjects get no short note.
    pub short_field: Option<&'static str>,
}

impl fmt::Debug for NoteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSet({})", self.name)
    }
}

/// The note sets a lab registered, in registration order.
#[derive(Clone, Debug, Default)]
pub struct NoteRegistry {
    sets: Vec<NoteSet>,
}

impl NoteRegistry {
    /// Adds `set` unless one of its name is there.
    pub fn register_set(&mut self, set: NoteSet) {
        if !self.sets.iter().any(|s| s.name == set.name) {
            self.sets.push(set);
        }
    }

    /// The sets.
    pub fn sets(&self) -> &[NoteSet] {
        &self.sets
    }

    /// True when no set is registered (no notes, no note pass).
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

/// A value as notes print it: text as is, a secret as `(secret)`, a
/// reference as `(known after apply: <address>#<output>)`, lists joined by
/// `, `, maps as `key=value`.
///
/// ```
/// use lab_core::notes::show_value;
/// use lab_core::{Secret, Value};
/// assert_eq!(show_value(&Value::Secret(Secret::new("hunter2"))), "(secret)");
/// assert_eq!(show_value(&Value::from(4096)), "4096");
/// ```
pub fn show_value(value: &Value) -> String {
    match value {
        Value::Null => "(none)".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => s.clone(),
        Value::List(l) => l.iter().map(show_value).collect::<Vec<_>>().join(", "),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", show_value(v)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Secret(_) => "(secret)".into(),
        Value::Ref(r) => format!("(known after apply: {r})"),
    }
}

/// The file a subject's note is written to (`proxmox.ct.immich.md`): the
/// address is unique, and a VM and a container of one name do not collide.
pub fn note_file(subject: &Address) -> String {
    format!("{subject}.md")
}

/// Writes every subject's short note into its set's field (see the module
/// docs); [`Lab::derive`] calls it after every derivation.
pub(crate) fn write_short_notes(lab: &mut Lab) {
    if lab.notes().is_empty() {
        return;
    }
    let forms = book::short_forms(lab);
    for (subject, field, text) in forms {
        let Some(spec) = lab.spec_mut(&subject) else {
            continue;
        };
        let ours = spec
            .annotations
            .get(WROTE_ANNOTATION)
            .and_then(Value::as_str)
            == Some(field);
        if spec.attrs.contains_key(field) && !ours {
            // The user's own notes win.
            continue;
        }
        spec.attrs.insert(field.to_string(), Value::Str(text));
        let at = spec.declared_at;
        spec.field_locs.insert(field.to_string(), at);
        spec.annotations
            .insert(WROTE_ANNOTATION.to_string(), Value::from(field));
    }
}
