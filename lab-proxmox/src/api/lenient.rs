//! Lenient decoding of Proxmox answers.
//!
//! PVE is written in Perl, which does not keep types: a number may arrive as
//! `100` or `"100"`, a boolean as `1`, `"1"`, `true` or (inside property
//! strings) `"on"`/`"yes"`. Proxmox's own Rust code has the same helpers
//! ("perl" deserialisers in proxmox-serde); bpg decodes every int with a
//! custom type. Use these with `#[serde(deserialize_with = "...")]` (and
//! `#[serde(default)]` on the `Option` ones), or the `as_*_lenient` functions
//! on a [`serde_json::Value`].

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A boolean from `0|1|"0"|"1"|true|false|"on"|"off"|"yes"|"no"|"true"|"false"`.
pub fn as_bool_lenient(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => {
            let x = n.as_f64()?;
            if x == 0.0 {
                Some(false)
            } else if x == 1.0 {
                Some(true)
            } else {
                None
            }
        }
        Value::String(s) => parse_bool(s),
        _ => None,
    }
}

/// PVE's `parse_boolean` (`1|on|yes|true`, `0|off|no|false`, any case).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some(true),
        "0" | "off" | "no" | "false" => Some(false),
        _ => None,
    }
}

/// A `u64` from a number or a numeric string (`100`, `"100"`, `"100.0"`).
pub fn as_u64_lenient(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().and_then(f64_to_u64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(f64_to_u64))
        }
        _ => None,
    }
}

/// An `i64` from a number or a numeric string.
pub fn as_i64_lenient(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(f64_to_i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(f64_to_i64))
        }
        _ => None,
    }
}

/// An `f64` from a number or a numeric string.
pub fn as_f64_lenient(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// A string from a string, or a number/boolean written out (`"110"` or
/// `110` both give `"110"`).
pub fn as_string_lenient(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

fn f64_to_u64(x: f64) -> Option<u64> {
    (x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= u64::MAX as f64).then_some(x as u64)
}

fn f64_to_i64(x: f64) -> Option<i64> {
    (x.is_finite() && x.fract() == 0.0 && x >= i64::MIN as f64 && x <= i64::MAX as f64)
        .then_some(x as i64)
}

/// `null`, a missing field, and `""` are all "absent" for the `opt_` variants.
fn is_absent(v: &Value) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())
}

fn required<'de, D, T>(d: D, what: &str, conv: fn(&Value) -> Option<T>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Value::deserialize(d)?;
    conv(&v).ok_or_else(|| D::Error::custom(format!("expected {what}, got {v}")))
}

fn optional<'de, D, T>(
    d: D,
    what: &str,
    conv: fn(&Value) -> Option<T>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Value::deserialize(d)?;
    if is_absent(&v) {
        return Ok(None);
    }
    conv(&v)
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("expected {what}, got {v}")))
}

/// `deserialize_with` for `bool` (see [`as_bool_lenient`]).
pub fn de_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    required(d, "a boolean", as_bool_lenient)
}

/// `deserialize_with` for `Option<bool>`; pair with `#[serde(default)]`.
pub fn de_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    optional(d, "a boolean", as_bool_lenient)
}

/// `deserialize_with` for `u64` (see [`as_u64_lenient`]).
pub fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    required(d, "an unsigned integer", as_u64_lenient)
}

/// `deserialize_with` for `Option<u64>`; pair with `#[serde(default)]`.
pub fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    optional(d, "an unsigned integer", as_u64_lenient)
}

/// `deserialize_with` for `i64` (see [`as_i64_lenient`]).
pub fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    required(d, "an integer", as_i64_lenient)
}

/// `deserialize_with` for `Option<i64>`; pair with `#[serde(default)]`.
pub fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    optional(d, "an integer", as_i64_lenient)
}

/// `deserialize_with` for `f64` (see [`as_f64_lenient`]).
pub fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    required(d, "a number", as_f64_lenient)
}

/// `deserialize_with` for `Option<f64>`; pair with `#[serde(default)]`.
pub fn de_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    optional(d, "a number", as_f64_lenient)
}

/// `deserialize_with` for `String` (numbers written out; see
/// [`as_string_lenient`]).
pub fn de_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    required(d, "a string", as_string_lenient)
}

/// `deserialize_with` for `Option<String>` (`null` is `None`, `""` stays
/// `Some("")`); pair with `#[serde(default)]`.
pub fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    as_string_lenient(&v)
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("expected a string, got {v}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    struct T {
        #[serde(deserialize_with = "de_u64")]
        n: u64,
        #[serde(deserialize_with = "de_bool")]
        b: bool,
        #[serde(default, deserialize_with = "de_opt_u64")]
        on: Option<u64>,
        #[serde(default, deserialize_with = "de_opt_bool")]
        ob: Option<bool>,
        #[serde(default, deserialize_with = "de_opt_f64")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "de_opt_string")]
        s: Option<String>,
    }

    #[test]
    fn numbers_and_bools_from_anything_perl_sends() {
        for (n, b) in [
            (json!("100"), json!("1")),
            (json!(100), json!(1)),
            (json!(100.0), json!(true)),
            (json!(" 100 "), json!("yes")),
        ] {
            let t: T = serde_json::from_value(json!({"n": n, "b": b})).unwrap();
            assert_eq!(t.n, 100);
            assert!(t.b);
            assert_eq!((t.on, t.ob, t.f, t.s.as_deref()), (None, None, None, None));
        }
        let t: T = serde_json::from_value(json!({
            "n": 0, "b": "off", "on": "7", "ob": 0, "f": "0.25", "s": 110
        }))
        .unwrap();
        assert_eq!(
            (t.n, t.b, t.on, t.ob, t.f),
            (0, false, Some(7), Some(false), Some(0.25))
        );
        assert_eq!(t.s.as_deref(), Some("110"));
        let t: T =
            serde_json::from_value(json!({"n": 1, "b": "false", "on": null, "ob": ""})).unwrap();
        assert_eq!((t.on, t.ob), (None, None));
        assert!(!t.b);

        for bad in [
            json!({"n": "x", "b": 1}),
            json!({"n": 1, "b": 2}),
            json!({"n": -1, "b": 1}),
        ] {
            assert!(serde_json::from_value::<T>(bad).is_err());
        }
    }

    #[test]
    fn value_helpers() {
        assert_eq!(as_u64_lenient(&json!("100")), Some(100));
        assert_eq!(as_u64_lenient(&json!(100)), Some(100));
        assert_eq!(as_u64_lenient(&json!(1.5)), None);
        assert_eq!(as_u64_lenient(&json!(null)), None);
        assert_eq!(as_i64_lenient(&json!("-3")), Some(-3));
        assert_eq!(as_f64_lenient(&json!("2.5")), Some(2.5));
        assert_eq!(as_bool_lenient(&json!("1")), Some(true));
        assert_eq!(as_bool_lenient(&json!(1)), Some(true));
        assert_eq!(as_bool_lenient(&json!(true)), Some(true));
        assert_eq!(as_bool_lenient(&json!("ON")), Some(true));
        assert_eq!(as_bool_lenient(&json!("no")), Some(false));
        assert_eq!(as_bool_lenient(&json!("maybe")), None);
        assert_eq!(as_string_lenient(&json!(12)), Some("12".into()));
    }
}
