//! An ordered YAML tree with a Go `yaml.v3`-compatible emitter.
//!
//! Talos encodes machine configs with Go's `gopkg.in/yaml.v3` (4-space
//! indentation, no line wrapping). A config that `lab` generates must be
//! byte-identical to the one `talosctl gen config` writes, so that a plan can
//! compare them, users can diff them against talosctl output, and the golden
//! files of Talos's own stability test apply to us unchanged. General-purpose
//! Rust YAML emitters choose different indentation, quoting and block-scalar
//! rules, so this module ports the relevant parts of yaml.v3:
//!
//! - **Indentation** (`yaml_emitter_increase_indent`): a mapping or sequence
//!   nested under a mapping key is indented to the next multiple of 4 above
//!   the key's column; content of a sequence item starts 2 columns after the
//!   `-` (so `- name: x` keeps its other keys aligned under `name`), and what
//!   nests under such a key snaps back to the next multiple of 4.
//! - **Scalars** (`encoder.stringv` + `yaml_emitter_analyze_scalar`): a string
//!   that would read back as another type (`""`, `true`, `1.5`, `null`,
//!   `2024-01-02`, the YAML 1.1 booleans `yes`/`no`/`on`/`off`, base-60
//!   floats) is double-quoted; a string that can't be plain (leading or
//!   trailing space, indicators like `- `, `: `, ` #`, `*`) is single-quoted,
//!   or double-quoted with escapes when it holds control characters; a
//!   multi-line string becomes a literal block (`|`, `|-`, `|+`, with an
//!   indentation indicator when it starts with a space or a newline).
//! - **Collections**: empty ones are written in flow style (`[]`, `{}`);
//!   documents of a stream are separated by `---`.
//!
//! Parsing uses `yaml-rust2` (YAML 1.2 core schema, anchors resolved,
//! multi-document). Map keys are kept in source order ([`IndexMap`]);
//! [`go_key_cmp`] gives the order in which Go writes the keys of its `map`
//! types, for callers that model them.
//!
//! Known gaps, none of which occur in Talos configs: map keys longer than
//! 128 characters or containing line breaks are written as simple keys
//! (yaml.v3 would use the `? key` form), and strings holding a line break
//! other than `\n` (`\r`, U+2028…) are double-quoted where yaml.v3 might pick
//! single quotes.

use std::cmp::Ordering;
use std::fmt;

use indexmap::IndexMap;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// One YAML node: the subset of YAML that Talos configs use (no tags, no
/// anchors in the output, string keys only).
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `null` (or `~`, or an empty value).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in key order.
    Map(IndexMap<String, Node>),
}

impl Node {
    /// An empty mapping.
    pub fn map() -> Node {
        Node::Map(IndexMap::new())
    }

    /// A string node.
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    /// A sequence of strings.
    pub fn str_seq<I, S>(items: I) -> Node
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Node::Seq(items.into_iter().map(|s| Node::Str(s.into())).collect())
    }

    /// A mapping built from `(key, value)` pairs, in order.
    pub fn from_pairs<I, K>(pairs: I) -> Node
    where
        I: IntoIterator<Item = (K, Node)>,
        K: Into<String>,
    {
        Node::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value under `key` if this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// The mutable value under `key` if this is a mapping.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match self {
            Node::Map(m) => m.get_mut(key),
            _ => None,
        }
    }

    /// Follows a path of mapping keys.
    pub fn get_path(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The string if this is a string node.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The mapping if this is one.
    pub fn as_map(&self) -> Option<&IndexMap<String, Node>> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mutable mapping if this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut IndexMap<String, Node>> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence if this is one.
    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match self {
            Node::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "boolean",
            Node::Int(_) => "integer",
            Node::Float(_) => "float",
            Node::Str(_) => "string",
            Node::Seq(_) => "sequence",
            Node::Map(_) => "mapping",
        }
    }

    /// The scalar as Go's `fmt` would print it (`None` for collections and
    /// null): used to compare a selector value with a field of any type.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Bool(b) => Some(b.to_string()),
            Node::Int(i) => Some(i.to_string()),
            Node::Float(f) => Some(format_go_float(*f)),
            Node::Str(s) => Some(s.clone()),
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }

    /// Converts to JSON (for schema validation). Non-finite floats, which
    /// JSON can't hold, become strings.
    pub fn to_json(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::from(*i),
            Node::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(format_go_float(*f))),
            Node::Str(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect::<serde_json::Map<_, _>>(),
            ),
        }
    }

    /// Converts from JSON; integers that fit `i64` stay integers.
    pub fn from_json(value: &Value) -> Node {
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Node::Int(i),
                None => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Node::Str(s.clone()),
            Value::Array(items) => Node::Seq(items.iter().map(Node::from_json).collect()),
            Value::Object(m) => Node::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Node {
    fn from(s: &str) -> Node {
        Node::Str(s.to_owned())
    }
}

impl From<String> for Node {
    fn from(s: String) -> Node {
        Node::Str(s)
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Node {
        Node::Bool(b)
    }
}

impl From<i64> for Node {
    fn from(i: i64) -> Node {
        Node::Int(i)
    }
}

/// A YAML syntax error, with the 1-based line and column where the parser
/// stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct YamlError {
    /// What the parser expected or found.
    pub message: String,
    /// 1-based line (0 when the error is about a whole document).
    pub line: usize,
    /// 1-based column (0 when the error is about a whole document).
    pub column: usize,
}

/// Parses a YAML stream into its documents (empty documents are skipped).
///
/// ```
/// use lab_talos::yaml::{parse, Node};
/// let docs = parse("a: 1\n---\nb: [x]\n").unwrap();
/// assert_eq!(docs.len(), 2);
/// assert_eq!(docs[0].get("a"), Some(&Node::Int(1)));
/// ```
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| YamlError {
        message: e.info().to_owned(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
    })?;
    Ok(docs
        .iter()
        .filter(|d| !matches!(d, Yaml::Null | Yaml::BadValue))
        .map(from_yaml)
        .collect())
}

fn from_yaml(y: &Yaml) -> Node {
    match y {
        Yaml::Real(s) => Node::Float(parse_yaml_float(s)),
        Yaml::Integer(i) => Node::Int(*i),
        Yaml::String(s) => Node::Str(s.clone()),
        Yaml::Boolean(b) => Node::Bool(*b),
        Yaml::Array(items) => Node::Seq(items.iter().map(from_yaml).collect()),
        Yaml::Hash(h) => Node::Map(h.iter().map(|(k, v)| (key_text(k), from_yaml(v))).collect()),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Node::Null,
    }
}

fn parse_yaml_float(s: &str) -> f64 {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => f64::INFINITY,
        "-.inf" | "-.Inf" | "-.INF" => f64::NEG_INFINITY,
        ".nan" | ".NaN" | ".NAN" => f64::NAN,
        _ => s.parse().unwrap_or(f64::NAN),
    }
}

fn key_text(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => "null".to_owned(),
        other => to_string(&from_yaml(other)).trim_end().to_owned(),
    }
}

/// Writes one document as Go's yaml.v3 would (with a trailing newline).
///
/// ```
/// use lab_talos::yaml::{to_string, Node};
/// let n = Node::from_pairs([
///     ("labels", Node::from_pairs([("exclude", Node::str(""))])),
///     ("subnets", Node::str_seq(["10.244.0.0/16"])),
/// ]);
/// assert_eq!(
///     to_string(&n),
///     "labels:\n    exclude: \"\"\nsubnets:\n    - 10.244.0.0/16\n"
/// );
/// ```
pub fn to_string(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Map(m) if !m.is_empty() => write_map(&mut out, m, 0, false),
        Node::Seq(s) if !s.is_empty() => write_seq(&mut out, s, 0, false),
        scalar => {
            write_scalar(&mut out, scalar, 0, false);
            out.push('\n');
        }
    }
    out
}

/// Writes a stream of documents separated by `---` lines, as Talos does for
/// a multi-document machine config.
pub fn to_string_multi(docs: &[Node]) -> String {
    docs.iter().map(to_string).collect::<Vec<_>>().join("---\n")
}

/// yaml.v3's indentation for a block collection nested under a mapping key
/// at column `indent`: the next multiple of 4.
fn nested_indent(indent: usize) -> usize {
    (indent / 4 + 1) * 4
}

/// Writes a block mapping whose keys sit at column `indent`. With `inline`,
/// the first key continues the current line (after a sequence's `- `).
fn write_map(out: &mut String, map: &IndexMap<String, Node>, indent: usize, inline: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if !(inline && i == 0) {
            push_indent(out, indent);
        }
        write_key(out, key);
        out.push(':');
        write_value(out, value, indent);
    }
}

/// Writes the value of a mapping entry whose key is at column `indent`;
/// the key and colon are already written.
fn write_value(out: &mut String, value: &Node, indent: usize) {
    match value {
        Node::Map(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, nested_indent(indent), false);
        }
        Node::Seq(s) if !s.is_empty() => {
            out.push('\n');
            write_seq(out, s, nested_indent(indent), false);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, nested_indent(indent), false);
            out.push('\n');
        }
    }
}

/// Writes a block sequence whose dashes sit at column `indent`.
fn write_seq(out: &mut String, items: &[Node], indent: usize, inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if !(inline && i == 0) {
            push_indent(out, indent);
        }
        out.push_str("- ");
        match item {
            Node::Map(m) if !m.is_empty() => write_map(out, m, indent + 2, true),
            Node::Seq(s) if !s.is_empty() => write_seq(out, s, indent + 2, true),
            scalar => {
                write_scalar(out, scalar, indent + 2, false);
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_key(out: &mut String, key: &str) {
    // Keys are simple keys: no block scalars.
    write_string(out, key, 0, true);
}

/// Writes a scalar (or an empty collection in flow style). `block_indent`
/// is the column for the lines of a literal block scalar.
fn write_scalar(out: &mut String, node: &Node, block_indent: usize, key: bool) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Float(f) => out.push_str(&format_go_float(*f)),
        Node::Str(s) => write_string(out, s, block_indent, key),
        Node::Seq(_) => out.push_str("[]"),
        Node::Map(_) => out.push_str("{}"),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` with yaml.v3's names for the
/// special values.
pub fn format_go_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Shortest round-trip digits and decimal exponent.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let nd = digits.len() as i32;
    let dp = exp + 1; // position of the decimal point within `digits`
    let mut s = String::new();
    if f < 0.0 {
        s.push('-');
    }
    if !(-4..6).contains(&exp) {
        s.push_str(&digits[..1]);
        if nd > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", exp.abs()));
    } else if dp <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-dp) as usize));
        s.push_str(&digits);
    } else if dp >= nd {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (dp - nd) as usize));
    } else {
        s.push_str(&digits[..dp as usize]);
        s.push('.');
        s.push_str(&digits[dp as usize..]);
    }
    s
}

/// How yaml.v3 writes a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn write_string(out: &mut String, s: &str, block_indent: usize, key: bool) {
    match string_style(s, key) {
        Style::Plain => out.push_str(s),
        Style::Single => {
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
        Style::Double => write_double_quoted(out, s),
        Style::Literal => write_literal(out, s, block_indent),
    }
}

/// The style yaml.v3 picks: `stringv` asks for plain (or literal for
/// multi-line strings, or double quotes for strings that would resolve to
/// another type), then the emitter downgrades what the scalar's content
/// doesn't allow.
fn string_style(s: &str, key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if resolves_to_str(s) && !is_base60_float(s) && !is_old_bool(s) {
        Style::Plain
    } else {
        Style::Double
    };
    let a = analyze(s);
    match requested {
        Style::Plain => {
            if !a.block_plain_allowed || (s.is_empty() && key) {
                if a.single_quoted_allowed {
                    Style::Single
                } else {
                    Style::Double
                }
            } else {
                Style::Plain
            }
        }
        Style::Literal => {
            if !a.block_allowed || key {
                Style::Double
            } else {
                Style::Literal
            }
        }
        other => other,
    }
}

/// What `yaml_emitter_analyze_scalar` decides about a scalar's content.
struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_yaml_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// yaml.v3's `is_printable` (its UTF-8 byte tests, as code points).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && c != '\u{FEFF}'
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut line_breaks = false;
    let mut special = false;
    let mut tabs = false;
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_whitespace = next.is_none_or(|n| n == ' ' || n == '\t' || is_yaml_break(n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' if followed_by_whitespace => block_indicators = true,
                '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        let last = i + 1 == chars.len();
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_yaml_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = c == ' ' || c == '\t' || is_yaml_break(c);
    }
    let mut a = Analysis {
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tabs || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_allowed = false;
    }
    if line_breaks {
        a.block_plain_allowed = false;
        // Single quotes can't carry a line break without folding it; keep
        // such strings (only possible with `\r` or U+2028…) double-quoted.
        a.single_quoted_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if !is_printable(c) || is_yaml_break(c) || c == '"' || c == '\\' || c == '\u{FEFF}' {
            match c {
                '\0' => out.push_str("\\0"),
                '\u{07}' => out.push_str("\\a"),
                '\u{08}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{0B}' => out.push_str("\\v"),
                '\u{0C}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                '\u{1B}' => out.push_str("\\e"),
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{85}' => out.push_str("\\N"),
                '\u{A0}' => out.push_str("\\_"),
                '\u{2028}' => out.push_str("\\L"),
                '\u{2029}' => out.push_str("\\P"),
                c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02X}", c as u32)),
                c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push_str(&format!("\\U{:08X}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

/// A literal block scalar: header (`|`, indentation hint when the text
/// starts with a space or newline, chomping `-` / `+`), then each line at
/// `indent`; empty lines carry no spaces. The caller writes the final
/// newline (which is part of the header line break accounting below).
fn write_literal(out: &mut String, s: &str, indent: usize) {
    out.push('|');
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('4');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    // Lines of the text without its final newlines; the final newlines are
    // re-added so that exactly `trailing` line breaks end the block (the
    // caller adds one of them).
    let body = &s[..s.len() - trailing];
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            push_indent(out, indent);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

/// Whether a plain scalar with this text reads back as a string under
/// yaml.v3's resolver (no null, bool, number or timestamp).
fn resolves_to_str(s: &str) -> bool {
    match s {
        "" | "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False"
        | "FALSE" | ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf"
        | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | "<<" => return false,
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => !go_parse_float(s),
        b'+' | b'-' | b'0'..=b'9' => {
            if first.is_ascii_digit() && is_timestamp(s) {
                return false;
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            !(go_parse_int(&plain) || is_yaml_style_float(&plain) && go_parse_float(&plain))
        }
        _ => true,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` acceptance (sign, `0x`,
/// `0o`, `0b` and legacy `0` octal prefixes), plus yaml.v3's explicit `0b`
/// and `0o` handling, which these already cover.
fn go_parse_int(s: &str) -> bool {
    let body = s
        .strip_prefix('-')
        .or_else(|| s.strip_prefix('+'))
        .unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let (digits, radix) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (d, 16)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (d, 8)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (d, 2)
        } else if body.len() > 1 && body.starts_with('0') {
            (&body[1..], 8)
        } else {
            (body, 10)
        };
    !digits.is_empty() && u64::from_str_radix(digits, radix).is_ok()
}

/// yaml.v3's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat` acceptance for the decimal forms yaml.v3 tries.
fn go_parse_float(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let body = lower
        .strip_prefix('-')
        .or_else(|| lower.strip_prefix('+'))
        .unwrap_or(&lower);
    if matches!(body, "inf" | "infinity" | "nan") {
        return true;
    }
    body.bytes().any(|c| c.is_ascii_digit()) && body.parse::<f64>().is_ok()
}

/// yaml.v3's timestamp check: `YYYY-` followed by a date, optionally a time
/// (`T`, `t` or space separated) with fraction and zone.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut i = 5;
    let num = |i: &mut usize, max: usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        *i - start
    };
    if num(&mut i, 2) == 0 || i >= b.len() || b[i] != b'-' {
        return false;
    }
    i += 1;
    if num(&mut i, 2) == 0 {
        return false;
    }
    if i == b.len() {
        return true;
    }
    if !matches!(b[i], b'T' | b't' | b' ') {
        return false;
    }
    i += 1;
    for sep in [b':', b':'] {
        if num(&mut i, 2) == 0 || i >= b.len() || b[i] != sep {
            return false;
        }
        i += 1;
    }
    if num(&mut i, 2) == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if num(&mut i, 9) == 0 {
            return false;
        }
    }
    if i == b.len() {
        return true;
    }
    match b[i] {
        b'Z' => i + 1 == b.len(),
        b'+' | b'-' => {
            i += 1;
            num(&mut i, 2) == 2 && i < b.len() && b[i] == b':' && {
                i += 1;
                num(&mut i, 2) == 2 && i == b.len()
            }
        }
        _ => false,
    }
}

/// yaml.v3's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let g = &b[start..i];
        let ok = match g.len() {
            1 => true,
            2 => g[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// The order in which yaml.v3 writes the keys of a Go map (`keyList.Less`):
/// letters compare by code point, runs of digits compare numerically, and a
/// non-letter sorts before a letter unless it follows a digit.
///
/// ```
/// use lab_talos::yaml::go_key_cmp;
/// let mut keys = vec!["warn", "audit-version", "audit", "a10", "a9"];
/// keys.sort_by(|a, b| go_key_cmp(a, b));
/// assert_eq!(keys, ["a9", "a10", "audit", "audit-version", "warn"]);
/// ```
pub fn go_key_cmp(a: &str, b: &str) -> Ordering {
    if a == b {
        Ordering::Equal
    } else if go_key_less(a, b) {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn go_key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut digits = false;
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            digits = ar[i].is_ascii_digit();
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return if digits { al } else { bl };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

impl fmt::Display for Node {
    /// The node as a YAML document (Go yaml.v3 style).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_string(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(s: &str) -> String {
        to_string(&Node::from_pairs([("k", Node::str(s))]))
    }

    #[test]
    fn quoting_follows_yaml_v3() {
        assert_eq!(style(""), "k: \"\"\n");
        assert_eq!(style("true"), "k: \"true\"\n");
        assert_eq!(style("yes"), "k: \"yes\"\n");
        assert_eq!(style("1.28"), "k: \"1.28\"\n");
        assert_eq!(style("6443"), "k: \"6443\"\n");
        assert_eq!(style("0x1F"), "k: \"0x1F\"\n");
        assert_eq!(style("1:20"), "k: \"1:20\"\n");
        assert_eq!(style("2024-01-02"), "k: \"2024-01-02\"\n");
        assert_eq!(style("null"), "k: \"null\"\n");
        assert_eq!(style("*"), "k: '*'\n");
        assert_eq!(style("- x"), "k: '- x'\n");
        assert_eq!(style("a: b"), "k: 'a: b'\n");
        assert_eq!(style("a #b"), "k: 'a #b'\n");
        assert_eq!(style(" lead"), "k: ' lead'\n");
        assert_eq!(style("it's"), "k: it's\n");
        assert_eq!(style("'quoted'"), "k: '''quoted'''\n");
        assert_eq!(style("tab\there"), "k: \"tab\\there\"\n");
        assert_eq!(style("$(POD_IP):10249"), "k: $(POD_IP):10249\n");
        assert_eq!(style("https://x:6443"), "k: https://x:6443\n");
        assert_eq!(style("v1.28.0"), "k: v1.28.0\n");
        assert_eq!(style("1.2.3"), "k: 1.2.3\n");
        assert_eq!(style("-"), "k: '-'\n");
        assert_eq!(style("a\nb"), "k: |-\n    a\n    b\n");
        assert_eq!(style("a\n\nb\n"), "k: |\n    a\n\n    b\n");
        assert_eq!(style("a\n\n"), "k: |+\n    a\n\n");
        assert_eq!(style(" a\n"), "k: |4\n     a\n");
        assert_eq!(style("trail \nx"), "k: \"trail \\nx\"\n");
    }

    #[test]
    fn floats_follow_strconv_g() {
        for (f, s) in [
            (1.5, "1.5"),
            (100.0, "100"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(format_go_float(f), s, "{f}");
        }
    }

    #[test]
    fn nested_indentation() {
        let doc = parse(
            "a:\n  - name: x\n    conf:\n      k: v\n      l: [1, 2]\n  - [p, q]\nb: {}\nc: []\n",
        )
        .unwrap();
        assert_eq!(
            to_string(&doc[0]),
            "a:\n    - name: x\n      conf:\n        k: v\n        l:\n            - 1\n            - 2\n    - - p\n      - q\nb: {}\nc: []\n"
        );
    }

    #[test]
    fn go_map_order() {
        let mut keys = vec!["b", "B", "a1", "a01", "a-b", "ab", "_x", "x"];
        keys.sort_by(|a, b| go_key_cmp(a, b));
        assert_eq!(keys, ["_x", "B", "a-b", "a1", "a01", "ab", "b", "x"]);
    }
}
