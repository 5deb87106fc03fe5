//! The ownership marker in PBS `comment` fields.
//!
//! PBS objects have no tags, so the lab's marker (`lab:<lab>/<address>`,
//! [`lab_core::Ownership::marker`]) ends the object's one-line comment,
//! after the user's own comment if the code gives one. A read strips it
//! (the spec's `comment` is the user's part), an update keeps it, and
//! adoption takes only an object whose comment ends with the marker.

use lab_core::Ownership;

/// The comment to write: the user's, then the marker.
pub(crate) fn comment_with(user: Option<&str>, owner: &Ownership) -> String {
    let marker = owner.marker();
    match user {
        Some(u) if !u.is_empty() => format!("{u} {marker}"),
        _ => marker,
    }
}

/// The marker a raw comment ends with, if any.
pub(crate) fn marker_of(comment: Option<&str>) -> Option<&str> {
    let last = comment?.rsplit(' ').next()?;
    last.starts_with("lab:").then_some(last)
}

/// The user's part of a raw comment (the marker, if any, removed).
pub(crate) fn user_comment(comment: Option<String>) -> Option<String> {
    let c = comment?;
    let user = match marker_of(Some(&c)) {
        Some(m) => c[..c.len() - m.len()].trim_end().to_string(),
        None => c,
    };
    (!user.is_empty()).then_some(user)
}

/// Whether a raw comment carries `owner`'s marker.
pub(crate) fn is_ours(comment: Option<&str>, owner: &Ownership) -> bool {
    marker_of(comment) == Some(owner.marker().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::Address;

    #[test]
    fn the_marker_rides_at_the_end_of_the_comment() {
        let owner = Ownership {
            lab: "home".into(),
            lineage: "abc".into(),
            address: Address::new("pbs.datastore", "primary--daily"),
        };
        let m = owner.marker();
        let c = comment_with(Some("daily backups"), &owner);
        assert_eq!(c, format!("daily backups {m}"));
        assert_eq!(
            user_comment(Some(c.clone())).as_deref(),
            Some("daily backups")
        );
        assert!(is_ours(Some(&c), &owner));
        assert_eq!(user_comment(Some(m.clone())), None);
        assert!(!is_ours(Some("made by hand"), &owner));
        assert_eq!(
            user_comment(Some("made by hand".into())).as_deref(),
            Some("made by hand")
        );
    }
}
