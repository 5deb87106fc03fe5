//! A small XML writer for the SVG rendering.
//!
//! An SVG picture needs elements, attributes, text and escaping, nothing
//! more; a dozen lines here avoid a dependency (no XML crate is in the
//! workspace). Elements are closed in order by construction, and every
//! attribute value and text is escaped, so the output is well-formed
//! whatever the labels hold (the tests parse it back).

use std::fmt::Write as _;

/// An XML document being written.
pub(super) struct Xml {
    out: String,
    open: Vec<&'static str>,
}

impl Xml {
    pub(super) fn new() -> Self {
        Xml {
            out: String::new(),
            open: Vec::new(),
        }
    }

    fn start(&mut self, name: &'static str, attrs: &[(&str, String)]) {
        let _ = write!(self.out, "{}<{name}", "  ".repeat(self.open.len()));
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v));
        }
    }

    /// `<name attrs>`; closed by [`Xml::close`].
    pub(super) fn open(&mut self, name: &'static str, attrs: &[(&str, String)]) {
        self.start(name, attrs);
        self.out.push_str(">\n");
        self.open.push(name);
    }

    /// `<name attrs/>`.
    pub(super) fn empty(&mut self, name: &'static str, attrs: &[(&str, String)]) {
        self.start(name, attrs);
        self.out.push_str("/>\n");
    }

    /// `<name attrs>text</name>`.
    pub(super) fn text(&mut self, name: &'static str, attrs: &[(&str, String)], text: &str) {
        self.start(name, attrs);
        let _ = writeln!(self.out, ">{}</{name}>", escape(text));
    }

    /// Closes the innermost open element.
    pub(super) fn close(&mut self) {
        if let Some(name) = self.open.pop() {
            let _ = writeln!(self.out, "{}</{name}>", "  ".repeat(self.open.len()));
        }
    }

    /// The document, every element closed.
    pub(super) fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

/// Text safe in XML content and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate: one decimal, no trailing `.0`, never `-0`.
pub(super) fn num(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    if rounded == 0.0 {
        return "0".into();
    }
    let s = format!("{rounded:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes_and_closes_everything() {
        let mut x = Xml::new();
        x.open("svg", &[("a", "1 \"&\" <2>".into())]);
        x.text("text", &[], "a < b & 'c'\u{1}");
        let out = x.finish();
        assert_eq!(
            out,
            "<svg a=\"1 &quot;&amp;&quot; &lt;2&gt;\">\n  <text>a &lt; b &amp; &apos;c&apos; </text>\n</svg>\n"
        );
    }

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(-3.25), "-3.3");
    }
}
