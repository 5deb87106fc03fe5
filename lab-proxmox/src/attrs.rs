//! Typed reads of [`lab_core::Attrs`]: the small accessors the checks and
//! the provider share, so both read the shapes of [`crate::kinds`] the same way.

use lab_core::{Attrs, Value};

/// Reads a string attribute.
pub(crate) fn s<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

/// Reads an integer attribute.
pub(crate) fn i(attrs: &Attrs, key: &str) -> Option<i64> {
    attrs.get(key).and_then(Value::as_i64)
}

/// Reads a boolean attribute.
pub(crate) fn b(attrs: &Attrs, key: &str) -> Option<bool> {
    attrs.get(key).and_then(Value::as_bool)
}

/// The maps of a list attribute.
pub(crate) fn maps<'a>(attrs: &'a Attrs, key: &str) -> Vec<&'a indexmap::IndexMap<String, Value>> {
    match attrs.get(key) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| match v {
                Value::Map(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A map attribute.
pub(crate) fn map<'a>(
    attrs: &'a Attrs,
    key: &str,
) -> Option<&'a indexmap::IndexMap<String, Value>> {
    match attrs.get(key) {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    }
}

/// The strings of a list attribute.
pub(crate) fn strings(attrs: &Attrs, key: &str) -> Vec<String> {
    match attrs.get(key) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}
