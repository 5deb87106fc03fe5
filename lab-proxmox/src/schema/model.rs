//! The compiled form of one parameter schema.
//!
//! `pve-apidoc.json` is loosely typed. It comes from Perl, so `optional` may be `1`, `"1"` or
//! `0`, `minimum` may be a number or a string, and `enum` may be `null`. It is compiled once,
//! at load time, into these structs. The validator then never looks at JSON again, and the
//! long `description` texts are dropped.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::formats::{self, NamedCheck};

/// The JSON-schema `type` of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    /// `string`: any text. It may be narrowed by a format, pattern, enum or length.
    String,
    /// `integer`: Perl's `^[+-]?\d+$`.
    Integer,
    /// `number`: an integer or decimal, with an optional exponent.
    Number,
    /// `boolean`: `0` or `1` on the wire.
    Boolean,
    /// `array`: the key is repeated once per item.
    Array,
    /// `object`: never a top-level request parameter in PVE.
    Object,
    /// `null`.
    Null,
    /// No `type` given (aliases, for example) or a type this validator does not know.
    Any,
}

impl PropertyType {
    fn parse(v: Option<&Value>) -> Self {
        match v.and_then(Value::as_str) {
            Some("string") => Self::String,
            Some("integer") => Self::Integer,
            Some("number") => Self::Number,
            Some("boolean") => Self::Boolean,
            Some("array") => Self::Array,
            Some("object") => Self::Object,
            Some("null") => Self::Null,
            _ => Self::Any,
        }
    }

    /// The name PVE puts in its `type check ('…') failed` messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Array => "array",
            Self::Object => "object",
            Self::Null => "null",
            Self::Any => "any",
        }
    }
}

/// A `minimum` or `maximum` bound. The value is kept for comparison and the text for error
/// messages, so PVE's `minimum => '0'` prints as `0`, not `0.0`.
#[derive(Debug, Clone)]
pub(crate) struct Limit {
    pub(crate) value: f64,
    pub(crate) text: String,
}

impl Limit {
    fn parse(v: Option<&Value>) -> Option<Self> {
        match v? {
            Value::Number(n) => {
                let value = n.as_f64()?;
                Some(Self {
                    value,
                    text: n.to_string(),
                })
            }
            Value::String(s) => {
                let value = s.trim().parse::<f64>().ok()?;
                Some(Self {
                    value,
                    text: s.clone(),
                })
            }
            _ => None,
        }
    }
}

/// What a property's `format` says about its value.
#[derive(Debug, Clone)]
pub(crate) enum Format {
    /// A named format such as `pve-vmid` or `pve-storage-id-list`, with the check it resolved
    /// to at load time.
    Named { name: String, check: NamedCheck },
    /// An inline property string (`net[n]`, `scsi[n]`, `rootfs`, ...).
    Object(Arc<PropertyString>),
}

/// The schema of a comma-separated `key=value` property string.
#[derive(Debug, Clone, Default)]
pub(crate) struct PropertyString {
    /// The keys, aliases included.
    pub(crate) props: IndexMap<String, Property>,
}

impl PropertyString {
    pub(crate) fn compile(map: &serde_json::Map<String, Value>) -> Self {
        let props = map
            .iter()
            .map(|(k, v)| (k.clone(), Property::compile(v)))
            .collect();
        Self { props }
    }

    /// The key that a bare value (one without `key=`) is stored under.
    pub(crate) fn default_key(&self) -> Option<&str> {
        self.props
            .iter()
            .find(|(_, p)| p.default_key)
            .map(|(k, _)| k.as_str())
    }
}

/// One parameter (or one key of a property string) as the schema describes it.
#[derive(Debug, Clone)]
pub struct Property {
    pub(crate) kind: PropertyType,
    pub(crate) optional: bool,
    pub(crate) alias: Option<String>,
    pub(crate) key_alias: Option<String>,
    pub(crate) default_key: bool,
    pub(crate) enumeration: Option<Vec<String>>,
    pub(crate) minimum: Option<Limit>,
    pub(crate) maximum: Option<Limit>,
    pub(crate) min_length: Option<usize>,
    pub(crate) max_length: Option<usize>,
    pub(crate) pattern: Option<String>,
    pub(crate) format: Option<Format>,
    pub(crate) items: Option<Box<Property>>,
    pub(crate) requires: Option<String>,
    pub(crate) type_property: Option<String>,
    pub(crate) instance_types: Option<Vec<String>>,
    pub(crate) one_of: Vec<Property>,
    pub(crate) typetext: Option<String>,
    pub(crate) default: Option<Value>,
}

/// Perl truthiness for a schema flag: `1`, `"1"` and `true` are set; `0`, `"0"`, `""` and a
/// missing key are not.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty() && s != "0",
        _ => false,
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

fn length(v: Option<&Value>) -> Option<usize> {
    match v? {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    let arr = v?.as_array()?;
    Some(
        arr.iter()
            .map(|e| match e {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
    )
}

impl Property {
    /// Compiles one property object from the schema file.
    pub(crate) fn compile(v: &Value) -> Self {
        let typetext = string(v.get("typetext"));
        let format = match v.get("format") {
            Some(Value::String(name)) => Some(Format::Named {
                name: name.clone(),
                check: formats::resolve(name, typetext.as_deref()),
            }),
            Some(Value::Object(map)) => {
                Some(Format::Object(Arc::new(PropertyString::compile(map))))
            }
            _ => None,
        };
        let one_of = v
            .get("oneOf")
            .and_then(Value::as_array)
            .map(|alts| alts.iter().map(Property::compile).collect())
            .unwrap_or_default();
        Self {
            kind: PropertyType::parse(v.get("type")),
            optional: truthy(v.get("optional")),
            alias: string(v.get("alias")),
            key_alias: string(v.get("keyAlias")),
            default_key: truthy(v.get("default_key")),
            enumeration: strings(v.get("enum")),
            minimum: Limit::parse(v.get("minimum")),
            maximum: Limit::parse(v.get("maximum")),
            min_length: length(v.get("minLength")),
            max_length: length(v.get("maxLength")),
            pattern: string(v.get("pattern")),
            format,
            items: v
                .get("items")
                .filter(|i| i.is_object())
                .map(|i| Box::new(Property::compile(i))),
            requires: string(v.get("requires")),
            type_property: string(v.get("type-property")),
            instance_types: strings(v.get("instance-types")),
            one_of,
            typetext,
            default: v.get("default").filter(|d| !d.is_null()).cloned(),
        }
    }

    /// A plain property of the given type, used for hand-written property-string schemas.
    pub(crate) fn simple(kind: PropertyType) -> Self {
        Self {
            kind,
            optional: true,
            alias: None,
            key_alias: None,
            default_key: false,
            enumeration: None,
            minimum: None,
            maximum: None,
            min_length: None,
            max_length: None,
            pattern: None,
            format: None,
            items: None,
            requires: None,
            type_property: None,
            instance_types: None,
            one_of: Vec::new(),
            typetext: None,
            default: None,
        }
    }

    /// The JSON-schema type.
    pub fn kind(&self) -> PropertyType {
        self.kind
    }

    /// Whether the parameter may be left out. Aliases count as optional, as they do in PVE.
    pub fn optional(&self) -> bool {
        self.optional || self.alias.is_some()
    }

    /// The allowed values, if the schema gives an `enum`.
    pub fn enum_values(&self) -> Option<&[String]> {
        self.enumeration.as_deref()
    }

    /// The human-readable type summary (`typetext`), for example
    /// `[file=]<volume> [,size=<DiskSize>]`.
    pub fn typetext(&self) -> Option<&str> {
        self.typetext.as_deref()
    }

    /// The documented default, if any.
    pub fn default_value(&self) -> Option<&Value> {
        self.default.as_ref()
    }

    /// The name of a named `format` such as `pve-vmid`. This is `None` for inline property
    /// strings and for properties without a format.
    pub fn format_name(&self) -> Option<&str> {
        match &self.format {
            Some(Format::Named { name, .. }) => Some(name),
            _ => None,
        }
    }

    /// Whether the value is a comma-separated `key=value` property string: an inline one, or
    /// a named format whose keys this module knows.
    pub fn is_property_string(&self) -> bool {
        match &self.format {
            Some(Format::Object(_)) => true,
            Some(Format::Named { check, .. }) => matches!(check, NamedCheck::PropertyString(_)),
            None => false,
        }
    }

    /// The `-list` variant of a named format: the value is a comma-, semicolon- or
    /// space-separated list, and PVE joins repeated keys into one.
    pub(crate) fn is_list_format(&self) -> bool {
        matches!(&self.format, Some(Format::Named { name, .. }) if name.ends_with("-list"))
    }
}
