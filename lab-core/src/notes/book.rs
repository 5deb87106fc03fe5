//! Composing notes: every registered set asked about every subject, in a
//! fixed order, plus what lab-core knows itself (the `about` annotation,
//! the graph's edges), rendered as Markdown ([`GuestNote::to_markdown`],
//! [`NoteBook::index_markdown`]) and as the short note.

use std::collections::BTreeSet;

use super::{
    note_file, order, NoteLine, NoteSection, NoteSource, ABOUT_ANNOTATION, APP_ANNOTATION,
    DOCS_DIR, HEADER_PREFIX,
};
use crate::{Address, Lab};

/// One subject's note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestNote {
    /// The subject (`proxmox.ct.immich`).
    pub address: Address,
    /// Its file in the docs folder ([`note_file`]).
    pub file: String,
    /// The lab's name.
    pub lab: String,
    /// What runs there and why (the `about` annotation), if written.
    pub about: Option<String>,
    /// The app it runs (the `app` annotation), if any.
    pub app: Option<String>,
    /// Its sections, in order.
    pub sections: Vec<NoteSection>,
    /// Its short lines, in order.
    pub lines: Vec<NoteLine>,
}

/// A picture of the lab as the index embeds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PictureFile {
    /// The view's name (`network`).
    pub view: String,
    /// What it shows.
    pub about: String,
    /// Its Mermaid text, or why it could not be drawn.
    pub mermaid: Result<String, String>,
    /// Its SVG, or why it could not be drawn.
    pub svg: Result<String, String>,
}

impl PictureFile {
    /// Its file under `pictures/` (`pictures/network.svg`).
    pub fn svg_file(&self) -> String {
        format!("pictures/{}.svg", self.view)
    }
}

/// Every note of a lab, its index and its pictures: what `docs` writes.
#[derive(Clone, Debug)]
pub struct NoteBook {
    /// The lab's name.
    pub lab: String,
    /// One note per subject, in the order the sets name them.
    pub notes: Vec<GuestNote>,
    /// Every registered picture.
    pub pictures: Vec<PictureFile>,
}

/// The registered sets, read.
fn sources(lab: &Lab) -> Vec<Box<dyn NoteSource + '_>> {
    lab.notes().sets().iter().map(|s| (s.read)(lab)).collect()
}

/// Every subject once, each with the short-note field of the first set
/// naming it.
fn subjects(
    lab: &Lab,
    sources: &[Box<dyn NoteSource + '_>],
) -> Vec<(Address, Option<&'static str>)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (set, source) in lab.notes().sets().iter().zip(sources) {
        for subject in source.subjects() {
            if lab.resource(&subject).is_some() && seen.insert(subject.clone()) {
                out.push((subject, set.short_field));
            }
        }
    }
    out
}

fn annotation(lab: &Lab, subject: &Address, key: &str) -> Option<String> {
    let v = lab.resource(subject)?.annotations.get(key)?;
    let text = v.as_str()?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn note_of(
    lab: &Lab,
    sources: &[Box<dyn NoteSource + '_>],
    subject: &Address,
    all: &BTreeSet<Address>,
) -> GuestNote {
    let mut sections = Vec::new();
    let mut lines = Vec::new();
    for source in sources {
        sections.extend(source.sections(subject));
        lines.extend(source.lines(subject));
    }
    sections.extend(dependency_section(lab, subject, all));
    // A stable sort: ties keep the sets' registration order.
    sections.sort_by_key(|s| s.order);
    lines.sort_by_key(|l| l.order);
    GuestNote {
        address: subject.clone(),
        file: note_file(subject),
        lab: lab.name().to_string(),
        about: annotation(lab, subject, ABOUT_ANNOTATION),
        app: annotation(lab, subject, APP_ANNOTATION),
        sections,
        lines,
    }
}

/// A link to `address`'s note when it has one, else the address.
fn link(address: &Address, all: &BTreeSet<Address>) -> String {
    if all.contains(address) {
        format!("[`{address}`]({})", note_file(address))
    } else {
        format!("`{address}`")
    }
}

/// What `subject` depends on and what depends on it, from the graph's
/// edges (each with the fields that make it).
fn dependency_section(
    lab: &Lab,
    subject: &Address,
    all: &BTreeSet<Address>,
) -> Option<NoteSection> {
    let spec = lab.resource(subject)?;
    let mut needs: indexmap::IndexMap<&Address, BTreeSet<&str>> = indexmap::IndexMap::new();
    for d in &spec.deps {
        if &d.on != subject {
            needs.entry(&d.on).or_default().insert(d.via.as_str());
        }
    }
    let mut needed_by: indexmap::IndexMap<&Address, BTreeSet<&str>> = indexmap::IndexMap::new();
    for other in lab.resources() {
        for d in &other.deps {
            if &d.on == subject && &other.address != subject {
                needed_by
                    .entry(&other.address)
                    .or_default()
                    .insert(d.via.as_str());
            }
        }
    }
    if needs.is_empty() && needed_by.is_empty() {
        return None;
    }
    needs.sort_keys();
    needed_by.sort_keys();
    let list = |m: &indexmap::IndexMap<&Address, BTreeSet<&str>>| -> String {
        m.iter()
            .map(|(a, via)| {
                let via: Vec<&str> = via.iter().copied().collect();
                format!("- {} (through `{}`)\n", link(a, all), via.join("`, `"))
            })
            .collect()
    };
    let mut body = String::new();
    if !needs.is_empty() {
        body.push_str("It depends on:\n\n");
        body.push_str(&list(&needs));
    }
    if !needed_by.is_empty() {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str("What depends on it:\n\n");
        body.push_str(&list(&needed_by));
    }
    Some(NoteSection::new(
        "Dependencies",
        body.trim_end().to_string(),
        order::DEPENDENCIES,
    ))
}

impl GuestNote {
    /// The short note, Markdown (the Proxmox UI renders notes so): what
    /// runs there as a paragraph, then the sets' lines and where the full
    /// note is as a list. No line starts with `lab:` (that prefix marks the
    /// ownership line lab-proxmox adds after it).
    pub fn short_form(&self) -> String {
        let mut out = Vec::new();
        if let Some(about) = &self.about {
            if about.starts_with("lab:") {
                out.push(format!("about: {about}"));
            } else {
                out.push(about.clone());
            }
            out.push(String::new());
        }
        for line in &self.lines {
            out.push(format!("- {}: {}", line.label, one_line(&line.text)));
        }
        out.push(format!("- full note: {DOCS_DIR}/{}", self.file));
        out.join("\n")
    }

    /// The fact labelled `label` among its lines.
    pub fn fact(&self, label: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| l.label == label)
            .map(|l| l.text.as_str())
    }

    /// The full note, Markdown, starting with the tool's header line.
    pub fn to_markdown(&self) -> String {
        let mut md = format!(
            "{HEADER_PREFIX} from the lab `{}`: edit the code, not this file -->\n",
            self.lab
        );
        md.push_str(&format!("# {}\n\n", self.address.name()));
        md.push_str(&format!(
            "`{}` in the lab `{}` · [all guests](index.md)\n\n",
            self.address, self.lab
        ));
        md.push_str("## What runs here\n\n");
        match (&self.about, &self.app) {
            (Some(about), Some(app)) => md.push_str(&format!("**{app}**: {about}\n\n")),
            (Some(about), None) => md.push_str(&format!("{about}\n\n")),
            (None, Some(app)) => md.push_str(&format!("**{app}**.\n\n")),
            (None, None) => md.push_str(
                "Not written yet: say what runs here and why with the guest's `about` (an `App` sets it).\n\n",
            ),
        }
        for s in &self.sections {
            md.push_str(&format!(
                "## {}\n\n{}\n\n",
                s.title,
                s.body_markdown.trim_end()
            ));
        }
        md.truncate(md.trim_end().len());
        md.push('\n');
        md
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every subject's short note, with the field it goes into.
pub(super) fn short_forms(lab: &Lab) -> Vec<(Address, &'static str, String)> {
    let sources = sources(lab);
    let subjects = subjects(lab, &sources);
    let all: BTreeSet<Address> = subjects.iter().map(|(a, _)| a.clone()).collect();
    subjects
        .iter()
        .filter_map(|(subject, field)| {
            let field = (*field)?;
            let mut note = note_of(lab, &sources, subject, &all);
            note.sections.clear();
            Some((subject.clone(), field, note.short_form()))
        })
        .collect()
}

impl NoteBook {
    /// Composes every note and draws every picture of `lab` (derive it
    /// first; [`crate::Engine::new`] does).
    pub fn of(lab: &Lab) -> NoteBook {
        let sources = sources(lab);
        let subjects = subjects(lab, &sources);
        let all: BTreeSet<Address> = subjects.iter().map(|(a, _)| a.clone()).collect();
        let notes = subjects
            .iter()
            .map(|(s, _)| note_of(lab, &sources, s, &all))
            .collect();
        let pictures = lab
            .pictures()
            .iter()
            .map(|(name, view)| {
                let picture = view.picture(lab);
                PictureFile {
                    view: name.to_string(),
                    about: view.about().to_string(),
                    mermaid: picture.to_mermaid().map_err(|e| e.to_string()),
                    svg: picture.to_svg().map_err(|e| e.to_string()),
                }
            })
            .collect();
        NoteBook {
            lab: lab.name().to_string(),
            notes,
            pictures,
        }
    }

    /// `index.md`: the lab, a table of its guests (node, zone, address,
    /// what runs, the note), and every picture as a Mermaid block and a
    /// link to its SVG.
    pub fn index_markdown(&self) -> String {
        let mut md = format!(
            "{HEADER_PREFIX} from the lab `{}`: edit the code, not this file -->\n",
            self.lab
        );
        md.push_str(&format!("# The lab `{}`\n\n", self.lab));
        if self.notes.is_empty() {
            md.push_str("No guests yet.\n\n");
        } else {
            md.push_str(&format!("{} guest(s).\n\n", self.notes.len()));
            md.push_str("| guest | node | zone | address | what runs |\n|---|---|---|---|---|\n");
            for n in &self.notes {
                let runs = n
                    .app
                    .clone()
                    .or_else(|| n.about.clone())
                    .or_else(|| n.fact("services").map(str::to_string))
                    .unwrap_or_default();
                md.push_str(&format!(
                    "| [{}]({}) | {} | {} | {} | {} |\n",
                    n.address,
                    n.file,
                    cell(n.fact("node")),
                    cell(n.fact("zone")),
                    cell(n.fact("address")),
                    cell(Some(&runs)),
                ));
            }
            md.push('\n');
        }
        if !self.pictures.is_empty() {
            md.push_str("## Pictures\n\n");
        }
        for p in &self.pictures {
            md.push_str(&format!("### {}\n\n{}.\n\n", p.view, p.about));
            match &p.mermaid {
                Ok(text) => md.push_str(&format!("```mermaid\n{}\n```\n\n", text.trim_end())),
                Err(e) => md.push_str(&format!("(the Mermaid text could not be made: {e})\n\n")),
            }
            match &p.svg {
                Ok(_) => md.push_str(&format!("[SVG]({})\n\n", p.svg_file())),
                Err(e) => md.push_str(&format!("(the SVG could not be drawn: {e})\n\n")),
            }
        }
        md.truncate(md.trim_end().len());
        md.push('\n');
        md
    }
}

/// A table cell: no `|`, no line break; `-` when empty.
fn cell(text: Option<&str>) -> String {
    match text.map(one_line) {
        Some(t) if !t.is_empty() => t.replace('|', "\\|"),
        _ => "-".into(),
    }
}
