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

mod emit;
#[cfg(test)]
mod tests;

pub use emit::{format_go_float, go_key_cmp, to_string, to_string_multi};

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

impl fmt::Display for Node {
    /// The node as a YAML document (Go yaml.v3 style).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_string(self))
    }
}
