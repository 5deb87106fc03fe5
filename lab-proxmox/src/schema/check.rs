//! The validator: pve-common `PVE::JSONSchema::check_prop` / `check_object` /
//! `parse_property_string`, applied to the string pairs that arrive on the wire.
//!
//! The order of checks and the messages follow the Perl code, because the simulator has to
//! answer exactly like PVE. That order is type, then format, then pattern, then
//! maxLength/minLength, then minimum/maximum, then enum. Each check except enum stops at its
//! first failure. Every parameter is checked, and all errors are collected into one map
//! keyed by parameter name. A property-string error is one entry whose text lists the bad
//! sub-keys (`net0.tag: …`).

use std::collections::BTreeMap;

use super::formats::{self, NamedCheck};
use super::model::{Format, Property, PropertyString, PropertyType};
use super::patterns;

/// The error map, with pve-common `add_error` semantics: an empty path becomes `_root`. A
/// second error for the same path is appended after a literal `\n` (backslash and n, because
/// Perl's `'\n'` is single-quoted).
#[derive(Debug, Default)]
pub(crate) struct Errors(pub(crate) BTreeMap<String, String>);

impl Errors {
    pub(crate) fn add(&mut self, path: &str, msg: impl Into<String>) {
        let path = if path.is_empty() { "_root" } else { path };
        let msg = msg.into();
        self.0
            .entry(path.to_owned())
            .and_modify(|old| {
                old.push_str("\\n");
                old.push_str(&msg);
            })
            .or_insert(msg);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A parameter value as received: one string, or several when the key was repeated.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Given<'a> {
    One(&'a str),
    Many(&'a [&'a str]),
}

/// Perl's `is_number`: `^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$`.
pub(crate) fn is_number(v: &str) -> bool {
    let s = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((i, f)) => (digits(i) && (f.is_empty() || digits(f))) || (i.is_empty() && digits(f)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// Perl's `is_integer`: `^[+-]?\d+$`.
pub(crate) fn is_integer(v: &str) -> bool {
    let s = v.strip_prefix(['+', '-']).unwrap_or(v);
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// pve-common `parse_boolean`, used for boolean keys inside property strings.
fn parse_boolean(v: &str) -> Option<&'static str> {
    let l = v.to_ascii_lowercase();
    match l.as_str() {
        "1" | "on" | "yes" | "true" => Some("1"),
        "0" | "off" | "no" | "false" => Some("0"),
        _ => None,
    }
}

/// `check_prop`. `value` is `None` when the parameter was not given. `instance_type` is the
/// value of the `type-property` parameter, for section-config style `oneOf` schemas.
pub(crate) fn check_prop(
    value: Option<Given<'_>>,
    prop: &Property,
    path: &str,
    errors: &mut Errors,
    instance_type: Option<&str>,
) {
    let mut optional_for_type = false;
    if !prop.one_of.is_empty() {
        if prop.type_property.is_some() {
            optional_for_type = true;
            if let Some(it) = instance_type {
                for alt in &prop.one_of {
                    let Some(types) = &alt.instance_types else {
                        errors.add(path, "missing 'instance-types' in oneOf alternative");
                        return;
                    };
                    if types.iter().any(|t| t == it) {
                        optional_for_type = alt.optional;
                        check_prop(value, alt, path, errors, None);
                    }
                }
            }
        } else {
            let mut first_errors = None;
            let valid = prop.one_of.iter().any(|alt| {
                let mut inner = Errors::default();
                check_prop(value, alt, path, &mut inner, None);
                let ok = inner.is_empty();
                if !ok && first_errors.is_none() {
                    first_errors = Some(inner);
                }
                ok
            });
            if !valid {
                for (k, v) in first_errors.map(|e| e.0).unwrap_or_default() {
                    errors.add(&k, v);
                }
            }
        }
    }

    let Some(value) = value else {
        if !prop.optional && prop.alias.is_none() && !optional_for_type {
            errors.add(path, "property is missing and it is not optional");
        }
        return;
    };

    match value {
        Given::Many(values) => match prop.kind {
            PropertyType::Array => check_items(values, prop, path, errors),
            // PVE joins an array given for a `-list` string (`normalize_legacy_param_formats`).
            PropertyType::String if prop.is_list_format() => {
                let joined = values.join(",");
                check_scalar(&joined, prop, path, errors);
            }
            PropertyType::Any => {}
            kind => errors.add(
                path,
                format!("type check ('{}') failed - got ARRAY", kind.name()),
            ),
        },
        Given::One(v) => match prop.kind {
            // A scalar for an array type is wrapped into a one-item array.
            PropertyType::Array => check_items(&[v], prop, path, errors),
            _ => check_scalar(v, prop, path, errors),
        },
    }
}

fn check_items(values: &[&str], prop: &Property, path: &str, errors: &mut Errors) {
    if let Some(items) = &prop.items {
        for (i, v) in values.iter().enumerate() {
            check_prop(
                Some(Given::One(v)),
                items,
                &format!("{path}[{i}]"),
                errors,
                None,
            );
        }
    }
}

/// The scalar part of `check_prop`, after the type is known to be a scalar one.
fn check_scalar(v: &str, prop: &Property, path: &str, errors: &mut Errors) {
    let type_ok = match prop.kind {
        // Form values are strings. `true`/`false` stand for the JSON booleans PVE accepts.
        PropertyType::Boolean => matches!(v, "0" | "1" | "true" | "false"),
        PropertyType::Integer => is_integer(v),
        PropertyType::Number => is_number(v),
        PropertyType::String | PropertyType::Any => true,
        PropertyType::Array | PropertyType::Object => {
            errors.add(path, format!("type check ('{}') failed", prop.kind.name()));
            return;
        }
        PropertyType::Null => {
            errors.add(path, "type check ('null') failed - value is not null");
            return;
        }
    };
    if !type_ok {
        errors.add(
            path,
            format!("type check ('{}') failed - got '{v}'", prop.kind.name()),
        );
        return;
    }

    if let Some(format) = &prop.format {
        if let Err(e) = check_format(format, v, path) {
            errors.add(path, format!("invalid format - {e}"));
            return;
        }
    }

    if let Some(pattern) = &prop.pattern {
        if patterns::check(pattern, v) == Some(false) {
            errors.add(path, "value does not match the regex pattern");
            return;
        }
    }

    let len = v.chars().count();
    if let Some(max) = prop.max_length {
        if len > max {
            errors.add(path, format!("value may only be {max} characters long"));
            return;
        }
    }
    if let Some(min) = prop.min_length {
        if len < min {
            errors.add(
                path,
                format!("value must be at least {min} characters long"),
            );
            return;
        }
    }

    if is_number(v) {
        let n: f64 = v.parse().unwrap_or(f64::NAN);
        if let Some(max) = &prop.maximum {
            if n > max.value {
                errors.add(
                    path,
                    format!("value must have a maximum value of {}", max.text),
                );
                return;
            }
        }
        if let Some(min) = &prop.minimum {
            if n < min.value {
                errors.add(
                    path,
                    format!("value must have a minimum value of {}", min.text),
                );
                return;
            }
        }
    }

    if let Some(values) = &prop.enumeration {
        if !values.iter().any(|e| e == v) {
            errors.add(
                path,
                format!(
                    "value '{v}' does not have a value in the enumeration '{}'",
                    values.join(", ")
                ),
            );
        }
    }
}

/// `check_format`. The error is the text of Perl's `$@`, trailing newline included.
fn check_format(format: &Format, v: &str, path: &str) -> Result<(), String> {
    let nl = |e: String| format!("{e}\n");
    match format {
        Format::Object(ps) => parse_property_string(ps, v, path),
        Format::Named { check, .. } => match check {
            NamedCheck::Value(f) => f(v).map_err(nl),
            NamedCheck::List(f) => formats::split_list(v)
                .into_iter()
                .try_for_each(f)
                .map_err(nl),
            NamedCheck::Opt(f) if !v.is_empty() && v != "0" => f(v).map_err(nl),
            NamedCheck::Opt(_) | NamedCheck::Unchecked => Ok(()),
            NamedCheck::PropertyString(ps) => parse_property_string(ps, v, path),
        },
    }
}

/// `parse_property_string` followed by `check_object`. A parse failure returns the `die`
/// text. A failed sub-key check returns `format error\n` and then one `path.key: message`
/// line per bad key, the way `PVE::Exception` prints itself.
fn parse_property_string(ps: &PropertyString, data: &str, path: &str) -> Result<(), String> {
    let mut res: Vec<(String, String)> = Vec::new();
    let get = |res: &Vec<(String, String)>, k: &str| res.iter().position(|(key, _)| key == k);
    let mut default_key: Option<&str> = None;

    for part in data.split(',') {
        if part.trim().is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                if get(&res, k).is_some() {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {k}\n"
                    ));
                }
                let mut key = k;
                let mut schema = ps.props.get(k);
                if let Some(alias) = schema.and_then(|s| s.alias.as_deref()) {
                    if let Some(key_alias) = schema.and_then(|s| s.key_alias.as_deref()) {
                        if get(&res, key_alias).is_some() {
                            return Err(format!("key alias '{key_alias}' is already defined\n"));
                        }
                        res.push((key_alias.to_owned(), k.to_owned()));
                    }
                    key = alias;
                    schema = ps.props.get(alias);
                }
                let Some(schema) = schema else {
                    return Err(format!(
                        "invalid key in comma-separated list property: {key}\n"
                    ));
                };
                let value = match schema.kind {
                    PropertyType::Boolean => parse_boolean(v).unwrap_or(v),
                    _ => v,
                };
                match get(&res, key) {
                    Some(i) => res[i].1 = value.to_owned(),
                    None => res.push((key.to_owned(), value.to_owned())),
                }
            }
            None => {
                if let Some(dk) = default_key {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {dk}\n"
                    ));
                }
                let Some(dk) = ps.default_key() else {
                    return Err(
                        "value without key, but schema does not define a default key\n".into(),
                    );
                };
                default_key = Some(dk);
                match get(&res, dk) {
                    Some(i) if !res[i].1.is_empty() && res[i].1 != "0" => {
                        return Err(format!(
                            "duplicate key in comma-separated list property: {dk}\n"
                        ));
                    }
                    Some(i) => res[i].1 = part.to_owned(),
                    None => res.push((dk.to_owned(), part.to_owned())),
                }
            }
            Some(_) => return Err("missing key in comma-separated list property\n".into()),
        }
    }

    let mut errors = Errors::default();
    for (k, sub) in &ps.props {
        let value = get(&res, k).map(|i| Given::One(res[i].1.as_str()));
        let sub_path = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        check_prop(value, sub, &sub_path, &mut errors, None);
    }
    for (k, _) in &res {
        if let Some(requires) = ps.props.get(k).and_then(|s| s.requires.as_deref()) {
            if get(&res, requires).is_none() {
                let req_path = if path.is_empty() {
                    requires.to_owned()
                } else {
                    format!("{path}.{requires}")
                };
                let key_path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                errors.add(
                    &req_path,
                    format!("missing property - '{key_path}' requires this property"),
                );
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let mut msg = String::from("format error\n");
    for (k, v) in &errors.0 {
        msg.push_str(&format!("{k}: {v}\n"));
    }
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_numbers() {
        for ok in ["1", "-1", "+2", "1.5", "1.", ".5", "1e3", "2.5E-2"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "abc", ".", "1e", "0x10", "1.2.3"] {
            assert!(!is_number(bad), "{bad}");
        }
        assert!(is_integer("-12") && !is_integer("1.0") && !is_integer(""));
    }

    #[test]
    fn errors_join_like_perl() {
        let mut e = Errors::default();
        e.add("", "a");
        e.add("x", "b");
        e.add("x", "c");
        assert_eq!(e.0["_root"], "a");
        assert_eq!(e.0["x"], "b\\nc");
    }
}
