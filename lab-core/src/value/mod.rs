//! Attribute values: the provider-neutral form of a resource's fields.
//!
//! Typed builders in the provider crates lower themselves to [`Attrs`]; the
//! engine diffs, renders and stores those. Two variants carry the engine's
//! own meaning: [`Value::Secret`] (redacted everywhere, sealed at rest) and
//! [`Value::Ref`] (an output of another resource, resolved at apply time and
//! shown as `(known after apply)` while unknown).

mod de;
mod ser;

pub use de::{decode, decode_value, validate, DecodeError};
pub use ser::{encode, encode_value, EncodeError};

use std::fmt::{self, Write as _};

use indexmap::IndexMap;
use serde_json::{json, Map as JsonMap, Value as Json};

use crate::{Address, Secret};

/// The fields of a resource, in declaration order.
pub type Attrs = IndexMap<String, Value>;

/// A reference to an output of another resource (`address#output`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OutputRef {
    /// The resource that produces the output.
    pub address: Address,
    /// The output's name, e.g. `vmid`.
    pub output: String,
}

impl fmt::Display for OutputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.address, self.output)
    }
}

/// One attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string.
    Str(String),
    /// An ordered list.
    List(Vec<Value>),
    /// An ordered map.
    Map(IndexMap<String, Value>),
    /// A sensitive string.
    Secret(Secret),
    /// An output of another resource, known after that resource is applied.
    Ref(OutputRef),
}

impl Value {
    /// The string inside, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The list inside, if this is a `List`.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map inside, if this is a `Map`.
    pub fn as_map(&self) -> Option<&IndexMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The entry `key` of a `Map`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// The integer inside, if this is an `Int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean inside, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// True if this value or anything inside it is a secret.
    pub fn contains_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(l) => l.iter().any(Value::contains_secret),
            Value::Map(m) => m.values().any(Value::contains_secret),
            _ => false,
        }
    }

    /// True if this value or anything inside it is an unresolved reference.
    pub fn contains_ref(&self) -> bool {
        match self {
            Value::Ref(_) => true,
            Value::List(l) => l.iter().any(Value::contains_ref),
            Value::Map(m) => m.values().any(Value::contains_ref),
            _ => false,
        }
    }

    /// Calls `f` on every reference inside this value.
    pub fn visit_refs<'a>(&'a self, f: &mut dyn FnMut(&'a OutputRef)) {
        match self {
            Value::Ref(r) => f(r),
            Value::List(l) => l.iter().for_each(|v| v.visit_refs(f)),
            Value::Map(m) => m.values().for_each(|v| v.visit_refs(f)),
            _ => {}
        }
    }

    /// Replaces every reference for which `lookup` knows a value.
    /// Returns false if some reference stayed unresolved.
    pub fn resolve_refs(&mut self, lookup: &mut dyn FnMut(&OutputRef) -> Option<Value>) -> bool {
        match self {
            Value::Ref(r) => match lookup(r) {
                Some(v) => {
                    *self = v;
                    true
                }
                None => false,
            },
            // Resolve every reference, even after one stayed unresolved.
            Value::List(l) => {
                let mut all = true;
                for v in l {
                    all &= v.resolve_refs(lookup);
                }
                all
            }
            Value::Map(m) => {
                let mut all = true;
                for v in m.values_mut() {
                    all &= v.resolve_refs(lookup);
                }
                all
            }
            _ => true,
        }
    }

    /// Converts to JSON, handing each secret to `seal` (encrypt it, or
    /// redact it) so that plaintext never reaches the output by this path.
    /// References become `{"$ref": "address#output"}`.
    pub fn to_json(&self, seal: &mut dyn FnMut(&Secret) -> Json) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => json!(i),
            Value::Float(f) => json!(f),
            Value::Str(s) => Json::String(s.clone()),
            Value::List(l) => Json::Array(l.iter().map(|v| v.to_json(seal)).collect()),
            Value::Map(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json(seal)))
                    .collect::<JsonMap<_, _>>(),
            ),
            Value::Secret(s) => seal(s),
            Value::Ref(r) => json!({ "$ref": r.to_string() }),
        }
    }

    /// The inverse of [`Value::to_json`]: `{"$secret": ..}` objects go to
    /// `unseal`, `{"$ref": ..}` objects become references.
    pub fn from_json(
        json: &Json,
        unseal: &mut dyn FnMut(&Json) -> Result<Secret, String>,
    ) -> Result<Value, String> {
        Ok(match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            Json::String(s) => Value::Str(s.clone()),
            Json::Array(a) => Value::List(
                a.iter()
                    .map(|v| Value::from_json(v, unseal))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(o) => {
                if o.len() == 1 {
                    if let Some(inner) = o.get("$secret") {
                        return Ok(Value::Secret(unseal(inner)?));
                    }
                    if let Some(Json::String(r)) = o.get("$ref") {
                        let (addr, out) = r
                            .split_once('#')
                            .ok_or_else(|| format!("bad reference `{r}`"))?;
                        let address = Address::parse(addr)
                            .ok_or_else(|| format!("bad address in reference `{r}`"))?;
                        return Ok(Value::Ref(OutputRef {
                            address,
                            output: out.to_string(),
                        }));
                    }
                }
                Value::Map(
                    o.iter()
                        .map(|(k, v)| Ok((k.clone(), Value::from_json(v, unseal)?)))
                        .collect::<Result<_, String>>()?,
                )
            }
        })
    }

    /// JSON for showing to people and machines: secrets redacted as
    /// `"(sensitive value)"`.
    pub fn to_redacted_json(&self) -> Json {
        self.to_json(&mut |_| Json::String("(sensitive value)".into()))
    }
}

/// Converts attributes to a JSON object through [`Value::to_json`].
pub fn attrs_to_json(attrs: &Attrs, seal: &mut dyn FnMut(&Secret) -> Json) -> Json {
    Json::Object(
        attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json(seal)))
            .collect(),
    )
}

/// Converts a JSON object back to attributes through [`Value::from_json`].
pub fn attrs_from_json(
    json: &Json,
    unseal: &mut dyn FnMut(&Json) -> Result<Secret, String>,
) -> Result<Attrs, String> {
    match json {
        Json::Object(o) => o
            .iter()
            .map(|(k, v)| Ok((k.clone(), Value::from_json(v, unseal)?)))
            .collect(),
        Json::Null => Ok(Attrs::new()),
        other => Err(format!("expected an object of attributes, found {other}")),
    }
}

/// Renders for plans: strings quoted, secrets `(sensitive value)`,
/// references `(known after apply)`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Secret(_) => f.write_str("(sensitive value)"),
            Value::Ref(_) => f.write_str("(known after apply)"),
            Value::List(l) => {
                f.write_char('[')?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_char(']')
            }
            Value::Map(m) => {
                f.write_char('{')?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::Int(v as i64) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, usize);

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Str(v.clone())
    }
}
impl From<Secret> for Value {
    fn from(v: Secret) -> Self {
        Value::Secret(v)
    }
}
impl From<&Secret> for Value {
    fn from(v: &Secret) -> Self {
        Value::Secret(v.clone())
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<IndexMap<String, Value>> for Value {
    fn from(v: IndexMap<String, Value>) -> Self {
        Value::Map(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_refs_and_seals_secrets() {
        let mut attrs = Attrs::new();
        attrs.insert("n".into(), 3.into());
        attrs.insert("token".into(), Secret::new("s3cret").into());
        attrs.insert(
            "vmid".into(),
            Value::Ref(OutputRef {
                address: Address::new("proxmox.vm", "a"),
                output: "vmid".into(),
            }),
        );
        let json = attrs_to_json(
            &attrs,
            &mut |s| json!({ "$secret": s.expose().chars().rev().collect::<String>() }),
        );
        assert!(!json.to_string().contains("s3cret"));
        let back = attrs_from_json(&json, &mut |j| {
            Ok(Secret::new(
                j.as_str().unwrap().chars().rev().collect::<String>(),
            ))
        })
        .unwrap();
        assert_eq!(back, attrs);
        assert!(!Value::Secret(Secret::new("x"))
            .to_redacted_json()
            .to_string()
            .contains('x'));
    }
}
