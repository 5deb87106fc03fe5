//! Writing a typed spec or outputs back to [`Attrs`]: a serde `Serializer`
//! producing [`Value`].
//!
//! The lab's attribute conventions are built in, so kinds need no serde
//! attributes for them: a struct field that is `None` is left out (optional
//! fields are absent, not `Null`), and a [`Secret`](crate::Secret) becomes
//! [`Value::Secret`] (any other serializer sees `(sensitive value)`).

use indexmap::IndexMap;
use serde::ser::{self, Serialize};

use super::{Attrs, Value};
use crate::secret::{take_stashed, SECRET_TOKEN};

/// Why a value cannot be written as attributes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(String);

impl ser::Error for EncodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

/// Writes `value` (a struct or map) as attributes.
///
/// ```
/// use lab_core::value::{encode, Value};
/// #[derive(serde::Serialize)]
/// struct Outputs { vmid: u32, mac: Option<String> }
/// let attrs = encode(&Outputs { vmid: 101, mac: None }).unwrap();
/// assert_eq!(attrs.get("vmid"), Some(&Value::Int(101)));
/// assert!(!attrs.contains_key("mac"));
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Attrs, EncodeError> {
    match value.serialize(ValueSer)? {
        Value::Map(m) => Ok(m),
        Value::Null => Ok(Attrs::new()),
        other => Err(EncodeError(format!(
            "attributes must be a struct or a map, not {other}"
        ))),
    }
}

/// Writes one value.
pub fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, EncodeError> {
    value.serialize(ValueSer)
}

struct ValueSer;

fn int<T: TryInto<i64>>(v: T) -> Result<Value, EncodeError> {
    v.try_into()
        .map(Value::Int)
        .map_err(|_| EncodeError("an integer too large for an attribute".into()))
}

/// The integer methods of the serializer: every width becomes `Value::Int`.
macro_rules! serialize_ints {
    ($($method:ident: $t:ty),* $(,)?) => {$(
        fn $method(self, v: $t) -> Result<Value, EncodeError> {
            int(v)
        }
    )*};
}

impl ser::Serializer for ValueSer {
    type Ok = Value;
    type Error = EncodeError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = VariantSer<SeqSer>;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = VariantSer<MapSer>;

    fn serialize_bool(self, v: bool) -> Result<Value, EncodeError> {
        Ok(Value::Bool(v))
    }
    serialize_ints! {
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
    }
    fn serialize_f32(self, v: f32) -> Result<Value, EncodeError> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, EncodeError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, EncodeError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, EncodeError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<Value, EncodeError> {
        Err(EncodeError(
            "bytes are not an attribute type; encode them as a string".into(),
        ))
    }
    fn serialize_none(self) -> Result<Value, EncodeError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, EncodeError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, EncodeError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, EncodeError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, EncodeError> {
        Ok(Value::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, EncodeError> {
        if name == SECRET_TOKEN {
            return take_stashed().map(Value::Secret).ok_or_else(|| {
                EncodeError("a secret marker without its secret (serialize `Secret` itself)".into())
            });
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, EncodeError> {
        let mut m = IndexMap::new();
        m.insert(variant.to_string(), value.serialize(ValueSer)?);
        Ok(Value::Map(m))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, EncodeError> {
        Ok(SeqSer(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqSer, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSer<SeqSer>, EncodeError> {
        Ok(VariantSer {
            variant,
            inner: SeqSer(Vec::with_capacity(len)),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer, EncodeError> {
        Ok(MapSer {
            map: IndexMap::new(),
            key: None,
            skip_null: false,
        })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapSer, EncodeError> {
        Ok(MapSer {
            map: IndexMap::new(),
            key: None,
            skip_null: true,
        })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<VariantSer<MapSer>, EncodeError> {
        Ok(VariantSer {
            variant,
            inner: MapSer {
                map: IndexMap::new(),
                key: None,
                skip_null: true,
            },
        })
    }
}

struct SeqSer(Vec<Value>);

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.0.push(value.serialize(ValueSer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, EncodeError> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, EncodeError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, EncodeError> {
        ser::SerializeSeq::end(self)
    }
}

struct MapSer {
    map: IndexMap<String, Value>,
    key: Option<String>,
    /// Structs leave `None` fields out; maps keep explicit nulls.
    skip_null: bool,
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        match key.serialize(ValueSer)? {
            Value::Str(s) => self.key = Some(s),
            Value::Int(i) => self.key = Some(i.to_string()),
            other => {
                return Err(EncodeError(format!(
                    "a map key must be a string, not {other}"
                )))
            }
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| EncodeError("a map value without its key".into()))?;
        self.map.insert(key, value.serialize(ValueSer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, EncodeError> {
        Ok(Value::Map(self.map))
    }
}

impl ser::SerializeStruct for MapSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        let v = value.serialize(ValueSer)?;
        if !(self.skip_null && v == Value::Null) {
            self.map.insert(key.to_string(), v);
        }
        Ok(())
    }
    fn end(self) -> Result<Value, EncodeError> {
        Ok(Value::Map(self.map))
    }
}

struct VariantSer<I> {
    variant: &'static str,
    inner: I,
}

impl<I> VariantSer<I> {
    fn wrap(variant: &'static str, v: Value) -> Value {
        let mut m = IndexMap::new();
        m.insert(variant.to_string(), v);
        Value::Map(m)
    }
}

impl ser::SerializeTupleVariant for VariantSer<SeqSer> {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        ser::SerializeSeq::serialize_element(&mut self.inner, value)
    }
    fn end(self) -> Result<Value, EncodeError> {
        Ok(Self::wrap(
            self.variant,
            ser::SerializeSeq::end(self.inner)?,
        ))
    }
}

impl ser::SerializeStructVariant for VariantSer<MapSer> {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Value, EncodeError> {
        Ok(Self::wrap(
            self.variant,
            ser::SerializeStruct::end(self.inner)?,
        ))
    }
}
