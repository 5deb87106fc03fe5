//! `docs --out DIR`: the lab's notes ([`crate::notes`]) written into a
//! folder, offline.

use super::session::Session;
use super::*;
use crate::notes::NoteBook;

impl Session<'_> {
    /// Writes the notes, the index and the pictures into `dir`.
    pub(super) fn docs(&mut self, dir: &Path) -> Result<i32, CliError> {
        let book = NoteBook::of(self.engine.lab());
        let report = book.write_to(dir).map_err(|e| {
            CliError::msg(
                format!("cannot write the notes into {}: {e}", dir.display()),
                "check that the folder is writable, or pass another --out DIR",
            )
        })?;
        for p in &report.removed {
            writeln!(self.out, "removed {} (its guest left the lab)", p.display())?;
        }
        for p in book
            .pictures
            .iter()
            .filter_map(|p| p.svg.as_ref().err().map(|e| (p, e)))
        {
            writeln!(
                self.err,
                "warning: the `{}` picture could not be drawn: {}",
                p.0.view, p.1
            )?;
        }
        writeln!(
            self.out,
            "wrote {} note(s), index.md and {} picture(s) to {}",
            book.notes.len(),
            book.pictures.iter().filter(|p| p.svg.is_ok()).count(),
            dir.display()
        )?;
        Ok(0)
    }
}
