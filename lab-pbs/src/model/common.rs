//! What the builders share: the address scheme that carries each
//! resource's server (so any handle binds to its provider instance), the
//! spec every server-owned builder starts from, and the checks of PBS's
//! little languages (safe ids, namespaces, user ids, comments, hosts,
//! fingerprints, sizes, schedules), each as the apidoc's pattern says.

use std::net::IpAddr;
use std::panic::Location;

use lab_core::model::{Dependency, LabId, ProviderBinding};
use lab_core::{Address, Handle, ResourceSpec};

use crate::kinds;
use crate::schedule::CalendarEvent;

/// Separates the server's name from the rest of an address name
/// (`primary--backup`). Server names may not contain it, nor end in `-`.
pub(crate) const SEP: &str = "--";

/// Longest server name: the server part must survive [`fit`].
pub(crate) const MAX_SERVER_NAME: usize = 24;

/// The address name of a resource of `server` called `local` on it:
/// `<server>--<local>`, characters lab names do not allow (`.`, `@`, `!`,
/// `/`) written `_`, and a name longer than 63 shortened with a hash of
/// the whole, so it stays unique and the server part stays readable.
pub(crate) fn address_name(server: &str, local: &str) -> String {
    let local: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    fit(&format!("{server}{SEP}{local}"))
}

fn fit(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    // FNV-1a: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}-{h:016x}", &name[..46])
}

/// The server (provider instance) name a handle's resource belongs to.
pub(crate) fn server_of<R>(handle: &Handle<R>) -> &str {
    let name = handle.address().name();
    if handle.address().kind() == kinds::SERVER {
        return name;
    }
    name.split_once(SEP).map_or(name, |(server, _)| server)
}

/// The PBS name a handle's address carries after the server (a store, a
/// remote, a job id).
pub(crate) fn local_of<R>(handle: &Handle<R>) -> &str {
    let name = handle.address().name();
    name.split_once(SEP).map_or(name, |(_, local)| local)
}

/// The address of server `name`.
pub(crate) fn server_address(name: &str) -> Address {
    Address::new(kinds::SERVER, name)
}

/// A new spec of `kind` for resource `local` on the server `server`
/// (taken from any handle of that server's resources): its `server`
/// attribute and edge, its binding to the server's provider instance, and
/// the crate's checks.
#[track_caller]
pub(crate) fn owned_spec<R>(kind: &str, owner: &Handle<R>, local: &str) -> ResourceSpec {
    let server = server_of(owner).to_string();
    let mut spec = ResourceSpec::new(kind, &address_name(&server, local));
    spec.check_set = Some(crate::checks::SET);
    spec.command_set = Some(crate::commands::COMMANDS);
    spec.picture_set = Some(crate::picture::PICTURES);
    bind(&mut spec, &server, owner.lab_id());
    let here = Location::caller();
    spec.deps.push(Dependency {
        on: server_address(&server),
        lab: owner.lab_id(),
        loc: here,
        via: "server".into(),
    });
    spec.set("server", server_address(&server).to_string());
    spec
}

/// Binds `spec` to provider instance `server` at the caller's line.
#[track_caller]
pub(crate) fn bind(spec: &mut ResourceSpec, server: &str, lab: LabId) {
    spec.provider = Some(ProviderBinding {
        name: server.to_string(),
        lab,
        loc: Location::caller(),
    });
}

/// Records an edge to the resource at `address` (computed, not from a
/// handle: a namespace's parent).
#[track_caller]
pub(crate) fn depend_on_address(spec: &mut ResourceSpec, address: Address, lab: LabId, via: &str) {
    spec.deps.push(Dependency {
        on: address,
        lab,
        loc: Location::caller(),
        via: via.to_string(),
    });
}

/// Why `id` is not a PBS safe id of `min..=max` characters
/// (`PROXMOX_SAFE_ID`: `[A-Za-z0-9_][A-Za-z0-9._-]*`), if it is not.
/// `what` names it in the message (`datastore name`).
pub(crate) fn safe_id_problem(id: &str, min: usize, max: usize, what: &str) -> Option<String> {
    if id.len() < min || id.len() > max {
        return Some(format!(
            "`{id}` is not a PBS {what}: it is {} characters long, PBS takes {min} to {max}",
            id.len()
        ));
    }
    let mut chars = id.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return Some(format!(
            "`{id}` is not a PBS {what}: it must start with a letter, a digit or `_`"
        ));
    }
    chars
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .map(|c| format!("`{id}` is not a PBS {what}: it contains {c:?}; use letters, digits, `.`, `_` and `-`"))
}

/// Like [`safe_id_problem`], and refuses `.` too: the name is part of
/// the resource's address, which cannot hold one.
pub(crate) fn address_id_problem(id: &str, what: &str) -> Option<String> {
    safe_id_problem(id, 3, 32, what).or_else(|| {
        id.contains('.').then(|| {
            format!(
                "`{id}` has a `.`, which PBS allows in a {what} but lab does not: \
                 the name is part of the resource's address"
            )
        })
    })
}

/// Why `ns` is not a PBS namespace path, if it is not: components are
/// safe ids of 1-32 characters, at most [`kinds::MAX_NAMESPACE_DEPTH`] of
/// them (reported apart, as `pbs::namespace-depth`), 256 bytes in all.
pub(crate) fn namespace_problem(ns: &str) -> Option<String> {
    if ns.is_empty() {
        return Some(
            "the namespace path is empty; the datastore's root namespace is not declared".into(),
        );
    }
    if ns.len() > kinds::MAX_NAMESPACE_LEN {
        return Some(format!(
            "the namespace path is {} bytes long; PBS takes at most {}",
            ns.len(),
            kinds::MAX_NAMESPACE_LEN
        ));
    }
    ns.split('/')
        .find_map(|c| safe_id_problem(c, 1, 32, "namespace component"))
}

/// The number of components of a namespace path.
pub fn namespace_depth(ns: &str) -> usize {
    if ns.is_empty() {
        0
    } else {
        ns.split('/').count()
    }
}

/// Why `userid` is not a PBS user id (`name@realm`, 3-64 characters; the
/// name without whitespace, `:`, `/` or control characters, the realm a
/// safe id), if it is not.
pub(crate) fn userid_problem(userid: &str) -> Option<String> {
    if userid.len() < 3 || userid.len() > 64 {
        return Some(format!(
            "`{userid}` is not a PBS user id: it is {} characters long, PBS takes 3 to 64",
            userid.len()
        ));
    }
    let Some((name, realm)) = userid.rsplit_once('@') else {
        return Some(format!(
            "`{userid}` is not a PBS user id: write it `name@realm`, like `sync@pbs`"
        ));
    };
    if name.is_empty() {
        return Some(format!("`{userid}` has an empty user name"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '/'))
    {
        return Some(format!("`{userid}`: the user name contains {c:?}"));
    }
    safe_id_problem(realm, 1, 64, "realm")
}

/// Why `comment` is not a single-line PBS comment (no control
/// characters, up to 128), if it is not.
pub(crate) fn comment_problem(comment: &str) -> Option<String> {
    if comment.len() > 128 {
        return Some(format!(
            "the comment is {} bytes long; PBS takes at most 128",
            comment.len()
        ));
    }
    comment
        .chars()
        .any(char::is_control)
        .then(|| "the comment has a control character (a newline?); PBS takes one line".into())
}

/// Why `host` is not a DNS name or an IP address, if it is not.
pub(crate) fn host_problem(host: &str) -> Option<String> {
    if host.parse::<IpAddr>().is_ok() {
        return None;
    }
    let bad_label = |l: &str| {
        l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let looks_numeric = host.chars().all(|c| c.is_ascii_digit() || c == '.');
    (host.is_empty() || looks_numeric || host.split('.').any(bad_label))
        .then(|| format!("`{host}` is not a host name or an IP address"))
}

/// Why `fp` is not a SHA-256 certificate fingerprint (`AA:BB:..`, 32
/// pairs), if it is not.
pub(crate) fn fingerprint_problem(fp: &str) -> Option<String> {
    let pairs: Vec<&str> = fp.split(':').collect();
    let ok = pairs.len() == 32
        && pairs
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    (!ok).then(|| {
        format!(
            "`{fp}` is not a SHA-256 fingerprint: PBS wants 32 hex pairs joined by `:` \
             (`proxmox-backup-manager cert info` shows it)"
        )
    })
}

/// Why `schedule` is not a calendar event PBS accepts, if it is not.
pub(crate) fn schedule_problem(schedule: &str) -> Option<String> {
    schedule
        .parse::<CalendarEvent>()
        .err()
        .map(|e| e.to_string())
}

/// The help line for schedules.
pub(crate) const SCHEDULE_HELP: &str =
    "write a PBS calendar event, like `daily`, `02:30`, `mon..fri 21:00` or `*:0/15`";

/// Parses a size (`500G`, `4T`) into whole GiB.
pub(crate) fn parse_gb(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().map_err(|_| format!("`{text}` is not a size"))?;
    let gb = match unit.to_ascii_lowercase().as_str() {
        "g" | "gb" | "gib" => Some(n),
        "t" | "tb" | "tib" => n.checked_mul(1024),
        "" => return Err(format!("`{text}` has no unit")),
        _ => return Err(format!("`{text}` has an unknown unit `{unit}`")),
    };
    match gb {
        Some(0) => Err(format!("`{text}` is zero")),
        Some(g) => Ok(g),
        None => Err(format!("`{text}` is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_names_carry_the_server() {
        assert_eq!(address_name("primary", "backup"), "primary--backup");
        assert_eq!(address_name("primary", "sync@pbs"), "primary--sync_pbs");
        let long = address_name("primary", &"a/".repeat(60));
        assert_eq!(long.len(), 63);
        assert!(long.starts_with("primary--"));
        assert_ne!(long, address_name("primary", &"b/".repeat(60)));
    }

    #[test]
    fn pbs_names() {
        assert!(safe_id_problem("backup", 3, 32, "x").is_none());
        assert!(safe_id_problem("_a.b-c", 3, 32, "x").is_none());
        assert!(safe_id_problem("ab", 3, 32, "x").is_some());
        assert!(safe_id_problem("-ab", 3, 32, "x").is_some());
        assert!(safe_id_problem("a b", 3, 32, "x").is_some());
        assert!(safe_id_problem(&"a".repeat(33), 3, 32, "x").is_some());
        assert!(address_id_problem("a.b", "x").is_some());
        assert!(namespace_problem("site/pve").is_none());
        assert!(namespace_problem("site//pve").is_some());
        assert!(namespace_problem("/site").is_some());
        assert!(namespace_problem("").is_some());
        assert_eq!(namespace_depth("a/b/c"), 3);
        assert!(userid_problem("sync@pbs").is_none());
        assert!(userid_problem("root@pam").is_none());
        assert!(userid_problem("sync").is_some());
        assert!(userid_problem("a b@pbs").is_some());
        assert!(userid_problem("sync@").is_some());
        assert!(comment_problem("fine").is_none());
        assert!(comment_problem("two\nlines").is_some());
        assert!(host_problem("10.0.0.5").is_none());
        assert!(host_problem("pbs.lan").is_none());
        assert!(host_problem("fd00::5").is_none());
        assert!(host_problem("10.0.0.256").is_some());
        assert!(host_problem("pbs_lan").is_some());
        let fp = vec!["AB"; 32].join(":");
        assert!(fingerprint_problem(&fp).is_none());
        assert!(fingerprint_problem("AB:CD").is_some());
        assert!(schedule_problem("mon..fri 02:30").is_none());
        assert!(schedule_problem("25:00").is_some());
        assert_eq!(parse_gb("4T"), Ok(4096));
        assert!(parse_gb("4").is_err());
    }
}
