//! The field diff of every PBS kind.
//!
//! PBS reports exactly the options a configuration sets (it writes no
//! defaults into `datastore.cfg`, `sync.cfg`, `user.cfg`, ...), and the
//! read normalises them to the spec's shape, so the observed attributes are
//! what the object has. Besides the generic comparison of what the code
//! sets, a field the object has and the code no longer sets is a change
//! to unset it (an update sends it in PBS's `delete` array).

use lab_core::provider::{generic_diff, FieldChange, KindSchema};
use lab_core::Attrs;

/// Desired against observed, with unset fields as changes.
pub fn diff(schema: &KindSchema, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
    let mut out = generic_diff(schema, desired, observed);
    for (field, have) in observed {
        if desired.contains_key(field) || schema.ignore.contains(&field.as_str()) {
            continue;
        }
        if matches!(have, lab_core::Value::Null) {
            continue;
        }
        out.push(FieldChange {
            field: field.clone(),
            before: Some(have.clone()),
            after: None,
            forces_replacement: schema.force_new.contains(&field.as_str()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::Value;

    #[test]
    fn a_field_the_code_drops_is_unset() {
        let schema = KindSchema {
            force_new: vec!["name"],
            ..KindSchema::default()
        };
        let mut want = Attrs::new();
        want.insert("name".into(), Value::from("daily"));
        let mut have = want.clone();
        assert!(diff(&schema, &want, &have).is_empty());
        have.insert("comment".into(), Value::from("old"));
        let changes = diff(&schema, &want, &have);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "comment");
        assert_eq!(changes[0].after, None);
        assert!(!changes[0].forces_replacement);
    }
}
