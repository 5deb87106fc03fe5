//! Privileges and roles as PBS defines them (`pbs-api-types/src/acl.rs`)
//! and the lookup PBS does (`pbs-config/src/acl.rs AclTree::roles`): walk
//! from `/` to the path; at each level the entries for the auth id that
//! apply (all of them at the path itself, only propagating ones above it)
//! replace what was found higher up; `NoAccess` clears. A token's
//! privileges are its own intersected with its user's; `root@pam` (the
//! user, not its tokens) has every privilege.

use super::world::World;

/// `Sys.Audit`.
pub const SYS_AUDIT: u64 = 1 << 0;
/// `Sys.Modify`.
pub const SYS_MODIFY: u64 = 1 << 1;
/// `Sys.PowerManagement`.
pub const SYS_POWER_MANAGEMENT: u64 = 1 << 2;
/// `Datastore.Audit`.
pub const DATASTORE_AUDIT: u64 = 1 << 3;
/// `Datastore.Allocate`.
pub const DATASTORE_ALLOCATE: u64 = 1 << 4;
/// `Datastore.Modify`.
pub const DATASTORE_MODIFY: u64 = 1 << 5;
/// `Datastore.Read`.
pub const DATASTORE_READ: u64 = 1 << 6;
/// `Datastore.Verify`.
pub const DATASTORE_VERIFY: u64 = 1 << 7;
/// `Datastore.Backup`.
pub const DATASTORE_BACKUP: u64 = 1 << 8;
/// `Datastore.Prune`.
pub const DATASTORE_PRUNE: u64 = 1 << 9;
/// `Permissions.Modify`.
pub const PERMISSIONS_MODIFY: u64 = 1 << 10;
/// `Remote.Audit`.
pub const REMOTE_AUDIT: u64 = 1 << 11;
/// `Remote.Modify`.
pub const REMOTE_MODIFY: u64 = 1 << 12;
/// `Remote.Read`.
pub const REMOTE_READ: u64 = 1 << 13;

/// The roles PBS knows and their privileges (the tape roles hold only tape
/// privileges, which the simulator does not serve).
pub const ROLES: &[(&str, u64)] = &[
    ("Admin", u64::MAX),
    ("Audit", SYS_AUDIT | DATASTORE_AUDIT),
    ("NoAccess", 0),
    (
        "DatastoreAdmin",
        DATASTORE_AUDIT
            | DATASTORE_MODIFY
            | DATASTORE_READ
            | DATASTORE_VERIFY
            | DATASTORE_BACKUP
            | DATASTORE_PRUNE,
    ),
    (
        "DatastoreReader",
        DATASTORE_AUDIT | DATASTORE_VERIFY | DATASTORE_READ,
    ),
    ("DatastoreBackup", DATASTORE_BACKUP),
    ("DatastorePowerUser", DATASTORE_PRUNE | DATASTORE_BACKUP),
    ("DatastoreAudit", DATASTORE_AUDIT),
    ("RemoteAudit", REMOTE_AUDIT),
    ("RemoteAdmin", REMOTE_AUDIT | REMOTE_MODIFY | REMOTE_READ),
    ("RemoteSyncOperator", REMOTE_AUDIT | REMOTE_READ),
    ("TapeAudit", 0),
    ("TapeAdmin", 0),
    ("TapeOperator", 0),
    ("TapeReader", 0),
];

/// The privileges of a role, `None` for an unknown one.
pub fn role_privs(role: &str) -> Option<u64> {
    ROLES.iter().find(|(r, _)| *r == role).map(|(_, p)| *p)
}

/// The user part of an auth id (`lab@pbs!t` -> `lab@pbs`).
pub fn user_of(auth_id: &str) -> &str {
    auth_id.split_once('!').map_or(auth_id, |(u, _)| u)
}

/// The ACL path of a datastore namespace (`/datastore/<store>[/<ns>]`).
pub fn datastore_path(store: &str, ns: &str) -> String {
    if ns.is_empty() {
        format!("/datastore/{store}")
    } else {
        format!("/datastore/{store}/{ns}")
    }
}

fn own_privs(world: &World, auth_id: &str, path: &str) -> u64 {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut roles: Vec<&str> = Vec::new();
    for depth in 0..=components.len() {
        let node = format!("/{}", components[..depth].join("/"));
        let leaf = depth == components.len();
        let here: Vec<&str> = world
            .acl
            .iter()
            .filter(|a| a.ugid == auth_id && a.path == node && (a.propagate || leaf))
            .map(|a| a.role.as_str())
            .collect();
        if here.contains(&"NoAccess") {
            roles = vec!["NoAccess"];
        } else if !here.is_empty() {
            roles = here;
        }
    }
    roles
        .iter()
        .filter_map(|r| role_privs(r))
        .fold(0, |acc, p| acc | p)
}

/// The privileges `auth_id` has on `path`.
pub fn privs(world: &World, auth_id: &str, path: &str) -> u64 {
    let user = user_of(auth_id);
    let user_privs = if user == "root@pam" {
        u64::MAX
    } else {
        own_privs(world, user, path)
    };
    if auth_id.contains('!') {
        own_privs(world, auth_id, path) & user_privs
    } else {
        user_privs
    }
}

/// Whether `auth_id` has all of `required` (or, with `partial`, any of
/// them) on `path`.
pub fn allowed(world: &World, auth_id: &str, path: &str, required: u64, partial: bool) -> bool {
    let have = privs(world, auth_id, path);
    if partial {
        have & required != 0
    } else {
        have & required == required
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::Acl;

    fn world(entries: &[(&str, &str, &str, bool)]) -> World {
        World {
            acl: entries
                .iter()
                .map(|(path, ugid, role, propagate)| Acl {
                    path: path.to_string(),
                    ugid: ugid.to_string(),
                    role: role.to_string(),
                    propagate: *propagate,
                })
                .collect(),
            ..World::default()
        }
    }

    #[test]
    fn propagation_override_and_token_intersection() {
        let w = world(&[
            ("/datastore", "lab@pbs", "DatastoreAdmin", true),
            ("/datastore", "lab@pbs!t", "DatastoreBackup", true),
            ("/datastore/a", "lab@pbs!t", "DatastoreAudit", false),
            ("/datastore/b", "lab@pbs!t", "NoAccess", true),
        ]);
        // Inherited from /datastore (propagating).
        assert_eq!(privs(&w, "lab@pbs!t", "/datastore/c/ns1"), DATASTORE_BACKUP);
        // The entry at the path replaces the inherited one.
        assert_eq!(privs(&w, "lab@pbs!t", "/datastore/a"), DATASTORE_AUDIT);
        // ... but does not propagate below it, so the inherited one stays.
        assert_eq!(privs(&w, "lab@pbs!t", "/datastore/a/x"), DATASTORE_BACKUP);
        assert_eq!(privs(&w, "lab@pbs!t", "/datastore/b/x"), 0);
        // A token without its own entries has nothing, whatever its user has.
        assert_eq!(privs(&w, "lab@pbs!other", "/datastore/c"), 0);
        // Nothing above /datastore.
        assert_eq!(privs(&w, "lab@pbs!t", "/"), 0);
        // root@pam's tokens are bounded by their ACLs too.
        assert_eq!(privs(&w, "root@pam!x", "/datastore/c"), 0);
        assert_eq!(privs(&w, "root@pam", "/datastore/c"), u64::MAX);
    }
}
