//! Reading [`Attrs`] into a typed spec: a serde `Deserializer` over
//! [`Value`].
//!
//! Why not `serde_json::from_value`: attributes carry two things JSON does
//! not, [`Value::Secret`] (which must reach a [`Secret`](crate::Secret)
//! field without ever being printed) and [`Value::Ref`] (an output not known until apply), and
//! a builder/provider mismatch must name the field path (`disks[0].size_gb`)
//! so the engine can point at the user's line. Two modes:
//!
//! - [`decode`] (strict): every reference must be resolved; used at apply
//!   and refresh, where the engine has resolved them.
//! - [`validate`] (at check time): a reference stands for a value of whatever
//!   type the field wants, so only the shape of known values is checked.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::{Attrs, Value};
use crate::secret::SECRET_TOKEN;

/// Why attributes do not fit a spec: the field path and what is wrong.
///
/// ```
/// use lab_core::value::{decode, Attrs, Value};
/// #[derive(serde::Deserialize)]
/// struct Disk { size_gb: u32 }
/// #[derive(serde::Deserialize)]
/// struct Spec { disks: Vec<Disk> }
/// let mut disk = indexmap::IndexMap::new();
/// disk.insert("size_gb".to_string(), Value::from("32G"));
/// let mut attrs = Attrs::new();
/// attrs.insert("disks".into(), Value::List(vec![Value::Map(disk)]));
/// let err = decode::<Spec>(&attrs).err().unwrap();
/// assert_eq!(err.path(), "disks[0].size_gb");
/// assert_eq!(err.field(), Some("disks"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    path: Vec<PathPart>,
    message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PathPart {
    Key(String),
    Index(usize),
}

impl DecodeError {
    fn new(message: impl Into<String>) -> Self {
        DecodeError {
            path: Vec::new(),
            message: message.into(),
        }
    }

    fn under(mut self, part: PathPart) -> Self {
        self.path.insert(0, part);
        self
    }

    /// The top-level field the error is in (whose line the user wrote), if any.
    pub fn field(&self) -> Option<&str> {
        match self.path.first() {
            Some(PathPart::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// The whole path, e.g. `disks[0].size_gb` (empty at the top level).
    pub fn path(&self) -> String {
        let mut out = String::new();
        for part in &self.path {
            match part {
                PathPart::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                PathPart::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field `{}`: {}", self.path(), self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError::new(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError::new("is required but missing").under(PathPart::Key(field.to_string()))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let known = if expected.is_empty() {
            "no fields".to_string()
        } else {
            expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        DecodeError::new(format!("is not a field of this kind (it has {known})"))
            .under(PathPart::Key(field.to_string()))
    }
}

/// Reads `attrs` into `T`. Every reference must have been resolved.
pub fn decode<T: DeserializeOwned>(attrs: &Attrs) -> Result<T, DecodeError> {
    T::deserialize(AttrsDe {
        attrs,
        lenient: false,
    })
}

/// Checks that `attrs` fit `T`, taking every unresolved reference as a value
/// of the type the field wants (for `check`, before outputs are known).
pub fn validate<T: DeserializeOwned>(attrs: &Attrs) -> Result<(), DecodeError> {
    T::deserialize(AttrsDe {
        attrs,
        lenient: true,
    })
    .map(|_| ())
}

/// Reads one value into `T` (strict).
pub fn decode_value<T: DeserializeOwned>(value: &Value) -> Result<T, DecodeError> {
    T::deserialize(ValueDe {
        value,
        lenient: false,
    })
}

struct AttrsDe<'a> {
    attrs: &'a Attrs,
    lenient: bool,
}

impl<'de, 'a: 'de> de::Deserializer<'de> for AttrsDe<'a> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_map(MapDe {
            iter: self.attrs.iter(),
            pending: None,
            lenient: self.lenient,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// A deserializer over one value.
struct ValueDe<'a> {
    value: &'a Value,
    lenient: bool,
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Secret(_) => "a secret",
        Value::Ref(_) => "an output of another resource",
    }
}

impl<'a> ValueDe<'a> {
    fn unresolved(&self) -> DecodeError {
        match self.value {
            Value::Ref(r) => DecodeError::new(format!(
                "`{r}` is not known yet (the engine resolves outputs before it calls the provider)"
            )),
            _ => DecodeError::new("an unresolved reference"),
        }
    }

    fn invalid(&self, expected: &str) -> DecodeError {
        DecodeError::new(format!(
            "expected {expected}, found {}",
            match self.value {
                Value::Str(s) => format!("the string {s:?}"),
                Value::Int(i) => format!("the integer {i}"),
                Value::Bool(b) => format!("`{b}`"),
                other => kind_name(other).to_string(),
            }
        ))
    }

    fn is_ref(&self) -> bool {
        matches!(self.value, Value::Ref(_))
    }
}

/// A lenient placeholder for an unresolved reference, by the type wanted.
macro_rules! placeholder_or {
    ($self:ident, $visitor:ident, $placeholder:expr) => {
        if $self.is_ref() {
            if $self.lenient {
                return $placeholder;
            }
            return Err($self.unresolved());
        }
    };
}

impl<'de, 'a: 'de> de::Deserializer<'de> for ValueDe<'a> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::List(l) => visitor.visit_seq(SeqDe {
                iter: l.iter().enumerate(),
                lenient: self.lenient,
            }),
            Value::Map(m) => visitor.visit_map(MapDe {
                iter: m.iter(),
                pending: None,
                lenient: self.lenient,
            }),
            Value::Secret(_) => Err(DecodeError::new(
                "a secret can only be read into a `Secret` field",
            )),
            Value::Ref(_) if self.lenient => visitor.visit_unit(),
            Value::Ref(_) => Err(self.unresolved()),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        placeholder_or!(self, visitor, visitor.visit_bool(false));
        match self.value {
            Value::Bool(b) => visitor.visit_bool(*b),
            _ => Err(self.invalid("a boolean")),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        placeholder_or!(self, visitor, visitor.visit_i64(0));
        match self.value {
            Value::Int(i) => visitor.visit_i64(*i),
            _ => Err(self.invalid("an integer")),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        placeholder_or!(self, visitor, visitor.visit_u64(0));
        match self.value {
            Value::Int(i) if *i >= 0 => visitor.visit_u64(*i as u64),
            Value::Int(i) => Err(DecodeError::new(format!(
                "expected a non-negative integer, found {i}"
            ))),
            _ => Err(self.invalid("an integer")),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        placeholder_or!(self, visitor, visitor.visit_f64(0.0));
        match self.value {
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Int(i) => visitor.visit_f64(*i as f64),
            _ => Err(self.invalid("a number")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        placeholder_or!(self, visitor, visitor.visit_borrowed_str(""));
        match self.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Secret(_) => Err(DecodeError::new(
                "is a secret: declare the field as `Secret` so it stays redacted",
            )),
            _ => Err(self.invalid("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            _ => Err(self.invalid("nothing (null)")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        if name == SECRET_TOKEN {
            return match self.value {
                Value::Secret(s) => visitor.visit_newtype_struct(s.expose().into_deserializer()),
                Value::Str(s) => visitor.visit_newtype_struct(s.as_str().into_deserializer()),
                Value::Ref(_) if self.lenient => {
                    visitor.visit_newtype_struct("".into_deserializer())
                }
                Value::Ref(_) => Err(self.unresolved()),
                _ => Err(self.invalid("a secret")),
            };
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        placeholder_or!(
            self,
            visitor,
            visitor.visit_seq(SeqDe {
                iter: std::iter::empty(),
                lenient: true,
            })
        );
        match self.value {
            Value::List(l) => visitor.visit_seq(SeqDe {
                iter: l.iter().enumerate(),
                lenient: self.lenient,
            }),
            _ => Err(self.invalid("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        placeholder_or!(
            self,
            visitor,
            visitor.visit_map(MapDe {
                iter: std::iter::empty(),
                pending: None,
                lenient: true,
            })
        );
        match self.value {
            Value::Map(m) => visitor.visit_map(MapDe {
                iter: m.iter(),
                pending: None,
                lenient: self.lenient,
            }),
            _ => Err(self.invalid("a map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        if self.is_ref() {
            return Err(DecodeError::new(
                "a whole structure cannot come from another resource's output",
            ));
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("one entry");
                visitor.visit_enum(EnumDe {
                    variant: k,
                    value: v,
                    lenient: self.lenient,
                })
            }
            Value::Ref(_) => Err(self.unresolved()),
            _ => Err(self.invalid("a variant name")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! { bytes byte_buf }

    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_u64(v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_u64(v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_u64(v)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        self.deserialize_f64(v)
    }
}

struct SeqDe<'a, I: Iterator<Item = (usize, &'a Value)>> {
    iter: I,
    lenient: bool,
}

impl<'de, 'a: 'de, I: Iterator<Item = (usize, &'a Value)>> SeqAccess<'de> for SeqDe<'a, I> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        match self.iter.next() {
            None => Ok(None),
            Some((i, value)) => seed
                .deserialize(ValueDe {
                    value,
                    lenient: self.lenient,
                })
                .map(Some)
                .map_err(|e| e.under(PathPart::Index(i))),
        }
    }
}

struct MapDe<'a, I: Iterator<Item = (&'a String, &'a Value)>> {
    iter: I,
    pending: Option<(&'a String, &'a Value)>,
    lenient: bool,
}

impl<'de, 'a: 'de, I: Iterator<Item = (&'a String, &'a Value)>> MapAccess<'de> for MapDe<'a, I> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        match self.iter.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.pending = Some((k, v));
                seed.deserialize(de::value::BorrowedStrDeserializer::new(k))
                    .map(Some)
            }
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        let (k, value) = self
            .pending
            .take()
            .ok_or_else(|| DecodeError::new("a map value without its key"))?;
        seed.deserialize(ValueDe {
            value,
            lenient: self.lenient,
        })
        .map_err(|e| e.under(PathPart::Key(k.clone())))
    }
}

struct EnumDe<'a> {
    variant: &'a String,
    value: &'a Value,
    lenient: bool,
}

impl<'de, 'a: 'de> EnumAccess<'de> for EnumDe<'a> {
    type Error = DecodeError;
    type Variant = ValueDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, ValueDe<'a>), DecodeError> {
        let v = seed.deserialize(de::value::BorrowedStrDeserializer::new(self.variant))?;
        Ok((
            v,
            ValueDe {
                value: self.value,
                lenient: self.lenient,
            },
        ))
    }
}

impl<'de, 'a: 'de> VariantAccess<'de> for ValueDe<'a> {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        match self.value {
            Value::Null => Ok(()),
            _ => Err(self.invalid("nothing after a unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}
