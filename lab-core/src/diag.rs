//! Diagnostics that point at the user's `main.rs`.
//!
//! Every builder entry point is `#[track_caller]`, so each resource, field
//! and dependency remembers the line that declared it ([`Loc`]). A
//! [`Diagnostic`] is a plain value (for `cargo test`); [`Diagnostic::report`]
//! turns it into a miette report with the source snippet when the file can be
//! read, and a `file:line:col` fallback when it cannot (a binary shipped
//! elsewhere).

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use miette::{
    LabeledSpan, MietteDiagnostic, MietteError, MietteSpanContents, Report, SourceCode, SourceSpan,
    SpanContents,
};

use crate::Address;

/// Where in the user's code something was declared.
pub type Loc = &'static Location<'static>;

/// Formats a location as `file:line:col`.
pub fn loc_string(loc: Loc) -> String {
    format!("{}:{}:{}", loc.file(), loc.line(), loc.column())
}

/// How bad a diagnostic is. Errors block plan and apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Advice,
    /// Probably wrong; does not block.
    Warning,
    /// Wrong; blocks plan and apply.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Advice => "advice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A labelled place in the user's code.
#[derive(Clone, Debug)]
pub struct Label {
    /// The line.
    pub loc: Loc,
    /// What happens there, e.g. "declared here".
    pub text: String,
}

/// One finding of a check, as a value.
///
/// ```
/// use lab_core::{Diagnostic, Severity};
/// let d = Diagnostic::error("demo::rule", "something is off").with_help("fix it");
/// assert_eq!(d.severity, Severity::Error);
/// assert_eq!(d.code, "demo::rule");
/// ```
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// The check's code, e.g. `core::duplicate-address`.
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// One sentence saying what is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    /// The places involved, first the main one.
    pub labels: Vec<Label>,
    /// The resource the finding is about, if any (waivers match on it).
    pub resource: Option<Address>,
    /// Set when the user waived this check for this resource: the reason.
    pub waived: Option<String>,
}

impl Diagnostic {
    /// A new diagnostic of `severity`.
    pub fn new(code: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.into(),
            severity,
            message: message.into(),
            help: None,
            labels: Vec::new(),
            resource: None,
            waived: None,
        }
    }

    /// A new error.
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }

    /// A new warning.
    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }

    /// Adds the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a labelled place.
    pub fn with_label(mut self, loc: Loc, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            loc,
            text: text.into(),
        });
        self
    }

    /// Says which resource this is about.
    pub fn for_resource(mut self, address: &Address) -> Self {
        self.resource = Some(address.clone());
        self
    }

    /// True if this blocks plan and apply (an unwaived error).
    pub fn is_blocking(&self) -> bool {
        self.severity == Severity::Error && self.waived.is_none()
    }

    /// The main location as `file:line:col`, if there is one.
    pub fn location(&self) -> Option<String> {
        self.labels.first().map(|l| loc_string(l.loc))
    }

    /// The main location's file and line, for tests.
    pub fn file_line(&self) -> Option<(&'static str, u32)> {
        self.labels.first().map(|l| (l.loc.file(), l.loc.line()))
    }

    /// A miette report: the snippet of the user's file with every label, or
    /// `file:line:col` in the message when the file cannot be read.
    pub fn report(&self) -> Report {
        let mut groups: Vec<(&'static str, Vec<&Label>)> = Vec::new();
        for l in &self.labels {
            match groups.iter_mut().find(|(f, _)| *f == l.loc.file()) {
                Some((_, v)) => v.push(l),
                None => groups.push((l.loc.file(), vec![l])),
            }
        }
        let mut message = self.message.clone();
        if let Some(reason) = &self.waived {
            message.push_str(&format!(" (waived: {reason})"));
        }
        let severity = match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Advice => miette::Severity::Advice,
        };
        let mut main = MietteDiagnostic::new(message.clone())
            .with_code(self.code.clone())
            .with_severity(severity);
        if let Some(h) = &self.help {
            main = main.with_help(h.clone());
        }
        let Some((file, labels)) = groups.first() else {
            return Report::new(main);
        };
        let Some(text) = read_source(file) else {
            let mut main = main;
            // No source: name every place in the message instead.
            let places: Vec<String> = self
                .labels
                .iter()
                .map(|l| format!("{} ({})", loc_string(l.loc), l.text))
                .collect();
            main.message = format!("{message}\n  at {}", places.join("\n  at "));
            return Report::new(main);
        };
        main = main.with_labels(
            labels
                .iter()
                .map(|l| LabeledSpan::new_with_span(Some(l.text.clone()), span_of(&text, l.loc))),
        );
        let mut report = Report::new(main).with_source_code(UserSource {
            name: file.to_string(),
            text,
        });
        // Places in other files: name them in a note (miette shows one source per report).
        if groups.len() > 1 {
            let others: Vec<String> = groups[1..]
                .iter()
                .flat_map(|(_, ls)| {
                    ls.iter()
                        .map(|l| format!("{} ({})", loc_string(l.loc), l.text))
                })
                .collect();
            report = report.wrap_err(format!("{message}; also at {}", others.join(", ")));
        }
        report
    }
}

impl fmt::Display for Diagnostic {
    /// One line: `severity[code]: message (file:line:col)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        if let Some(l) = self.location() {
            write!(f, " ({l})")?;
        }
        if let Some(r) = &self.waived {
            write!(f, " [waived: {r}]")?;
        }
        Ok(())
    }
}

static SOURCES: Mutex<Option<HashMap<&'static str, Option<String>>>> = Mutex::new(None);

/// Reads the source file a `Location` names, trying the path as given, then
/// relative to each ancestor of `CARGO_MANIFEST_DIR` (rustc records paths
/// relative to the workspace root). Cached per file.
pub fn read_source(file: &'static str) -> Option<String> {
    let mut cache = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .get_or_insert_with(HashMap::new)
        .entry(file)
        .or_insert_with(|| find_source(file).and_then(|p| std::fs::read_to_string(p).ok()))
        .clone()
}

fn find_source(file: &str) -> Option<PathBuf> {
    let path = Path::new(file);
    if path.is_file() {
        return Some(path.to_path_buf());
    }
    if path.is_absolute() {
        return None;
    }
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")?;
    Path::new(&manifest)
        .ancestors()
        .map(|a| a.join(path))
        .find(|p| p.is_file())
}

/// The user's file as miette reads it, with one correction: miette 7
/// reports a snippet's `line_count` as the lines from the top of the file
/// to the snippet's end and merges two labels' snippets when
/// `line + line_count` reaches the next one, so labels at lines 66 and 127
/// printed every line between them. Here `line_count` is the snippet's own
/// number of lines, so only snippets that touch are merged.
struct UserSource {
    name: String,
    text: String,
}

impl SourceCode for UserSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        let data = inner.data();
        let lines = data.iter().filter(|b| **b == b'\n').count()
            + usize::from(!data.is_empty() && !data.ends_with(b"\n"));
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            data,
            *inner.span(),
            inner.line(),
            inner.column(),
            lines,
        )))
    }
}

/// Maps a 1-based line and 1-based column counted in chars to a byte span
/// over the identifier that starts there.
pub fn span_of(text: &str, loc: Loc) -> SourceSpan {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(loc.line().saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let line_start = line_start.min(text.len());
    let col: usize = text[line_start..]
        .chars()
        .take(loc.column().saturating_sub(1) as usize)
        .map(char::len_utf8)
        .sum();
    let start = (line_start + col).min(text.len());
    let len = text[start..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len() - start)
        .max(1)
        .min(text.len().saturating_sub(start));
    (start, len).into()
}
