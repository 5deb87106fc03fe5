//! Writing a [`NoteBook`] into a folder: each file atomically (temp file,
//! then rename, so a reader never sees half a note), and the notes of
//! guests that left the lab removed, but only files the tool wrote (their
//! first line starts with [`HEADER_PREFIX`]): a user's own `*.md` beside
//! them is never touched.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{NoteBook, HEADER_PREFIX};

/// What [`NoteBook::write_to`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// The files written (notes, index, pictures), in order.
    pub written: Vec<PathBuf>,
    /// Notes of guests no longer in the lab, removed.
    pub removed: Vec<PathBuf>,
}

/// Writes `bytes` to `path` through a temp file beside it and a rename
/// (mode as the umask gives: these files are meant for Git).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// True when the file's first line is the tool's header.
fn written_by_docs(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|t| t.starts_with(HEADER_PREFIX))
}

impl NoteBook {
    /// Writes `index.md`, one note per guest and `pictures/<view>.svg`
    /// into `dir` (created when missing), then removes the `*.md` files in
    /// `dir` that the tool wrote for guests no longer in the lab.
    pub fn write_to(&self, dir: &Path) -> io::Result<WriteReport> {
        let mut report = WriteReport::default();
        fs::create_dir_all(dir)?;
        let mut keep = BTreeSet::new();
        for note in &self.notes {
            let path = dir.join(&note.file);
            write_atomic(&path, note.to_markdown().as_bytes())?;
            keep.insert(note.file.clone());
            report.written.push(path);
        }
        let index = dir.join("index.md");
        write_atomic(&index, self.index_markdown().as_bytes())?;
        keep.insert("index.md".to_string());
        report.written.push(index);
        let svgs: Vec<_> = self
            .pictures
            .iter()
            .filter_map(|p| Some((p.svg_file(), p.svg.as_ref().ok()?)))
            .collect();
        if !svgs.is_empty() {
            fs::create_dir_all(dir.join("pictures"))?;
        }
        for (file, svg) in svgs {
            let path = dir.join(file);
            write_atomic(&path, svg.as_bytes())?;
            report.written.push(path);
        }
        let mut stale = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(".md") && !keep.contains(name) && written_by_docs(&path) {
                stale.push(path);
            }
        }
        stale.sort();
        for path in stale {
            fs::remove_file(&path)?;
            report.removed.push(path);
        }
        Ok(report)
    }
}
