//! Reading PBS's answers leniently: PBS (and older releases) answer numbers
//! and booleans as JSON numbers, booleans or strings; an empty string is
//! no value.

use serde_json::{Map, Value as Json};

/// A text field (numbers as their text); `None` if absent or empty.
pub(crate) fn text(m: &Map<String, Json>, key: &str) -> Option<String> {
    match m.get(key)? {
        Json::String(s) if s.is_empty() => None,
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer field.
pub(crate) fn int(m: &Map<String, Json>, key: &str) -> Option<i64> {
    match m.get(key)? {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean field (`true`, `1`, `yes`, `on`).
pub(crate) fn flag(m: &Map<String, Json>, key: &str) -> Option<bool> {
    match m.get(key)? {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => Some(n.as_i64() != Some(0)),
        Json::String(s) => Some(matches!(s.trim(), "1" | "true" | "yes" | "on")),
        _ => None,
    }
}

/// A list of strings (a JSON array, or one string).
pub(crate) fn list(m: &Map<String, Json>, key: &str) -> Option<Vec<String>> {
    let items: Vec<String> = match m.get(key)? {
        Json::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Json::String(s) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    };
    (!items.is_empty()).then_some(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_read_in_every_shape_pbs_sends() {
        let m = json!({"a": "1", "b": 1, "c": true, "d": "", "e": ["x", "y"], "f": "0"});
        let m = m.as_object().unwrap();
        assert_eq!(int(m, "a"), Some(1));
        assert_eq!(text(m, "b").as_deref(), Some("1"));
        assert_eq!(flag(m, "c"), Some(true));
        assert_eq!(flag(m, "f"), Some(false));
        assert_eq!(text(m, "d"), None);
        assert_eq!(list(m, "e"), Some(vec!["x".into(), "y".into()]));
        assert_eq!(list(m, "zz"), None);
    }
}
