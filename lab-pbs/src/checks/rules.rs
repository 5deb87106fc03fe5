//! The offline rules: what the code alone shows PBS would refuse, or what
//! would not protect anything.

use indexmap::IndexMap;
use lab_core::{Diagnostic, Lab, ResourceSpec};

use super::read::*;
use super::*;
use crate::kinds::{Retention, Role, MAX_NAMESPACE_DEPTH};
use crate::model::{namespace_address, namespace_depth as depth_of};

pub(super) fn sync_same_datastore(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for job in of_kind(lab, kinds::SYNC_JOB) {
        let (Some(target), Some(source)) = (text(job, "datastore"), text(job, "source")) else {
            continue;
        };
        if target != source {
            continue;
        }
        out.push(
            Diagnostic::error(
                SYNC_SAME_DATASTORE,
                format!(
                    "`{}` copies `{source}` onto itself: its source and target are the same datastore",
                    job.address
                ),
            )
            .for_resource(&job.address)
            .with_label(job.loc_of("source"), "source given here")
            .with_label(job.declared_at, "target given here")
            .with_help(
                "a copy on the same datastore shares its disk and its fate: pull into a datastore \
                 on another appliance",
            ),
        );
    }
}

pub(super) fn sync_source(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for job in of_kind(lab, kinds::SYNC_JOB) {
        let (Some(server), Some(source)) = (text(job, "server"), named(lab, job, "source")) else {
            continue;
        };
        let Some(source_server) = text(source, "server") else {
            continue;
        };
        let remote = job
            .deps
            .iter()
            .find(|d| d.via == "remote")
            .and_then(|d| lab.resource(&d.on));
        match remote {
            None if source_server != server => out.push(
                Diagnostic::error(
                    SYNC_SOURCE,
                    format!(
                        "`{}` is a local sync (no remote) but its source `{}` is on `{source_server}`, \
                         not on `{server}`",
                        job.address, source.address
                    ),
                )
                .for_resource(&job.address)
                .with_label(job.loc_of("source"), "source on another server given here")
                .with_help(format!(
                    "pull through a remote: add a `Remote` on `{}` pointing at `{}` and say \
                     `.remote(&remote)`",
                    server_name(server),
                    server_name(source_server)
                )),
            ),
            None => {}
            Some(remote) => {
                let remote_server = text(remote, "server").unwrap_or_default();
                if remote_server != server {
                    out.push(
                        Diagnostic::error(
                            SYNC_SOURCE,
                            format!(
                                "`{}` runs on `{server}` but pulls through `{}`, a remote of `{remote_server}`",
                                job.address, remote.address
                            ),
                        )
                        .for_resource(&job.address)
                        .with_label(job.loc_of("remote"), "remote given here")
                        .with_help(format!(
                            "use a remote declared on `{}` (`Remote::new(&{}, ..)`)",
                            server_name(server),
                            server_name(server)
                        )),
                    );
                    continue;
                }
                let target = text(remote, "target").unwrap_or_default();
                if target != source_server {
                    out.push(
                        Diagnostic::error(
                            SYNC_SOURCE,
                            format!(
                                "`{}` pulls `{}` (on `{source_server}`) through `{}`, which points at `{target}`",
                                job.address, source.address, remote.address
                            ),
                        )
                        .for_resource(&job.address)
                        .with_label(job.loc_of("source"), "source given here")
                        .with_label(job.loc_of("remote"), "remote given here")
                        .with_label(remote.loc_of("target"), "the remote's target")
                        .with_help(
                            "the source must be a datastore of the server the remote points at",
                        ),
                    );
                }
            }
        }
    }
}

pub(super) fn namespace_depth(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for ns in of_kind(lab, kinds::NAMESPACE) {
        let Some(path) = text(ns, "ns") else { continue };
        let depth = depth_of(path);
        if depth > MAX_NAMESPACE_DEPTH {
            out.push(
                Diagnostic::error(
                    NAMESPACE_DEPTH,
                    format!(
                        "namespace `{path}` is {depth} levels deep; PBS allows {MAX_NAMESPACE_DEPTH} \
                         below the datastore's root"
                    ),
                )
                .for_resource(&ns.address)
                .with_label(ns.loc_of("ns"), format!("{depth} levels here"))
                .with_help("flatten the hierarchy: PBS refuses an eighth level"),
            );
        }
    }
    let jobs = lab.resources().filter(|s| {
        matches!(
            s.kind(),
            kinds::SYNC_JOB | kinds::PRUNE_JOB | kinds::VERIFY_JOB
        )
    });
    for job in jobs {
        let Some(max_depth) = int(job, "max-depth") else {
            continue;
        };
        for key in ["ns", "remote-ns"] {
            let Some(ns) = namespace_of(lab, job, key) else {
                continue;
            };
            let path = text(ns, "ns").unwrap_or_default();
            let depth = depth_of(path) as i64;
            if depth + max_depth > MAX_NAMESPACE_DEPTH as i64 {
                out.push(
                    Diagnostic::error(
                        NAMESPACE_DEPTH,
                        format!(
                            "`{}` recurses {max_depth} levels below `{path}` ({depth} deep): \
                             {depth} + {max_depth} > {MAX_NAMESPACE_DEPTH}, which PBS refuses",
                            job.address
                        ),
                    )
                    .for_resource(&job.address)
                    .with_label(job.loc_of("max-depth"), "max-depth given here")
                    .with_label(job.loc_of(key), format!("`{key}` given here"))
                    .with_help(format!(
                        "give .max_depth({}) or less",
                        (MAX_NAMESPACE_DEPTH as i64 - depth).max(0)
                    )),
                );
            }
        }
    }
}

pub(super) fn namespace_parent(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for ns in of_kind(lab, kinds::NAMESPACE) {
        let (Some(path), Some(store), Some(server)) =
            (text(ns, "ns"), text(ns, "store"), text(ns, "server"))
        else {
            continue;
        };
        let Some((parent, _)) = path.rsplit_once('/') else {
            continue;
        };
        if parent.is_empty() {
            continue;
        }
        let wanted = namespace_address(server_name(server), store, parent);
        if lab.resource(&wanted).is_none() {
            out.push(
                Diagnostic::error(
                    NAMESPACE_PARENT,
                    format!(
                        "namespace `{path}` of `{store}` needs its parent `{parent}`, which the lab \
                         does not declare"
                    ),
                )
                .for_resource(&ns.address)
                .with_label(ns.loc_of("ns"), "declared here")
                .with_help(format!(
                    "PBS creates one level at a time under an existing parent: add \
                     `Namespace::new(&store, \"{parent}\")` first"
                )),
            );
        }
    }
}

pub(super) fn namespace_store(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let jobs = lab.resources().filter(|s| {
        matches!(
            s.kind(),
            kinds::SYNC_JOB | kinds::PRUNE_JOB | kinds::VERIFY_JOB
        )
    });
    for job in jobs {
        for (key, store_key) in [("ns", "datastore"), ("remote-ns", "source")] {
            let (Some(ns), Some(store)) = (namespace_of(lab, job, key), text(job, store_key))
            else {
                continue;
            };
            let ns_store = text(ns, "datastore").unwrap_or_default();
            if ns_store != store {
                out.push(
                    Diagnostic::error(
                        NAMESPACE_STORE,
                        format!(
                            "`{}`'s `{key}` is `{}`, a namespace of `{ns_store}`, but the job's {} is `{store}`",
                            job.address,
                            ns.address,
                            if key == "ns" { "datastore" } else { "source" }
                        ),
                    )
                    .for_resource(&job.address)
                    .with_label(job.loc_of(key), "namespace given here")
                    .with_label(ns.declared_at, "the namespace is declared here")
                    .with_help(format!("give a namespace of `{store}`")),
                );
            }
        }
    }
}

pub(super) fn prune_keeps_all(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for job in of_kind(lab, kinds::PRUNE_JOB) {
        if Retention::FIELDS.iter().any(|k| job.attrs.contains_key(*k)) {
            continue;
        }
        out.push(
            Diagnostic::warning(
                PRUNE_KEEPS_ALL,
                format!(
                    "`{}` has no keep-* option: PBS then keeps every snapshot, so this job removes \
                     nothing",
                    job.address
                ),
            )
            .for_resource(&job.address)
            .with_label(job.loc_of("retention"), "no retention given")
            .with_help(
                "say what to keep, like `.retention(Retention::default().last(3).daily(7).weekly(4))`, \
                 or remove the job",
            ),
        );
    }
}

pub(super) fn remote_self(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for remote in of_kind(lab, kinds::REMOTE) {
        let (Some(server), Some(target)) = (text(remote, "server"), text(remote, "target")) else {
            continue;
        };
        if server == target {
            out.push(
                Diagnostic::error(
                    REMOTE_SELF,
                    format!(
                        "`{}` on `{server}` points at `{server}` itself",
                        remote.address
                    ),
                )
                .for_resource(&remote.address)
                .with_label(remote.loc_of("target"), "its own server given here")
                .with_help(
                    "a copy between datastores of one server needs no remote: use a local \
                     `SyncJob` without `.remote(..)`",
                ),
            );
        }
    }
}

pub(super) fn remote_token(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for remote in of_kind(lab, kinds::REMOTE) {
        let (Some(target), Some(token)) = (text(remote, "target"), named(lab, remote, "token"))
        else {
            continue;
        };
        let token_server = text(token, "server").unwrap_or_default();
        if token_server != target {
            out.push(
                Diagnostic::error(
                    REMOTE_TOKEN,
                    format!(
                        "`{}` logs into `{target}` with `{}`, a token of `{token_server}`",
                        remote.address, token.address
                    ),
                )
                .for_resource(&remote.address)
                .with_label(remote.loc_of("token"), "token given here")
                .with_help(format!(
                    "use a token of a user of `{}`",
                    server_name(target)
                )),
            );
        }
    }
}

pub(super) fn acl_path(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for acl in of_kind(lab, kinds::ACL) {
        let (Some(server), Some(target)) = (text(acl, "server"), named(lab, acl, "target")) else {
            continue;
        };
        let target_server = text(target, "server").unwrap_or_default();
        if target_server != server {
            let grantee = text(acl, "grantee").unwrap_or_default();
            out.push(
                Diagnostic::error(
                    ACL_PATH,
                    format!(
                        "`{}` grants `{grantee}` (of `{server}`) a role on `{}`, which is on \
                         `{target_server}`",
                        acl.address, target.address
                    ),
                )
                .for_resource(&acl.address)
                .with_label(acl.loc_of("target"), "path on another server given here")
                .with_help(
                    "an ACL applies on its own server only: grant a token of that server, or name a \
                     datastore of this one",
                ),
            );
        }
    }
}

/// Roles that let a sync job read a datastore (`Datastore.Read`, or
/// `Datastore.Backup` for the groups the token owns).
fn reads(role: Option<&str>) -> bool {
    matches!(
        role,
        Some(
            "Admin"
                | "DatastoreAdmin"
                | "DatastoreReader"
                | "DatastoreBackup"
                | "DatastorePowerUser"
        )
    )
}

/// True if `grantee` (an address) has an ACL entry with a reading role on
/// `store` (an address), its namespaces, or `/` propagating.
fn can_read(lab: &Lab, grantee: &str, store: &str) -> bool {
    grants(lab, grantee, store, reads).next().is_some()
}

/// The roles that hold `Datastore.Backup` (PVE writes backups with it).
fn backs_up(role: Option<&str>) -> bool {
    matches!(
        role,
        Some("Admin" | "DatastoreAdmin" | "DatastoreBackup" | "DatastorePowerUser")
    )
}

/// The ACL entries giving `grantee` a role `allows` on datastore `store`
/// (on it, on one of its namespaces, or propagating from `/`).
fn grants<'a>(
    lab: &'a Lab,
    grantee: &'a str,
    store: &'a str,
    allows: fn(Option<&str>) -> bool,
) -> impl Iterator<Item = &'a ResourceSpec> + 'a {
    of_kind(lab, kinds::ACL)
        .filter(move |a| text(a, "grantee") == Some(grantee) && allows(text(a, "role")))
        .filter(move |a| match named(lab, a, "target") {
            None => a.attrs.get("propagate").and_then(|v| v.as_bool()) != Some(false),
            Some(t) if t.kind() == kinds::DATASTORE => t.address.as_str() == store,
            Some(t) => text(t, "datastore") == Some(store),
        })
}

/// A PVE `pbs` storage (`PveStorage`) whose token cannot back up into its
/// datastore, or that the plan may create before the ACL that lets it:
/// PVE contacts the PBS when it creates the storage and refuses ("Cannot
/// find datastore ..., check permissions and existence!").
pub(super) fn pve_storage_access(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for storage in of_kind(lab, lab_proxmox::kinds::STORAGE) {
        let Some(store) = text(storage, "pbs_datastore") else {
            continue;
        };
        let Some(token) = (match storage.attrs.get("username") {
            Some(lab_core::Value::Ref(r)) => lab.resource(&r.address),
            _ => None,
        })
        .filter(|t| t.kind() == kinds::TOKEN) else {
            continue;
        };
        // A token has the rights both it and its user have.
        let user = named(lab, token, "user");
        let mut grantees = vec![token];
        if let Some(user) = user.filter(|u| text(u, "userid") != Some("root@pam")) {
            grantees.push(user);
        }
        for who in grantees {
            let acls: Vec<&ResourceSpec> =
                grants(lab, who.address.as_str(), store, backs_up).collect();
            let who_kind = if who.kind() == kinds::TOKEN {
                "token"
            } else {
                "user"
            };
            if acls.is_empty() {
                out.push(
                    Diagnostic::error(
                        PVE_STORAGE_ACCESS,
                        format!(
                            "PVE would write backups to `{store}` as `{}`, which has no ACL entry \
                             allowing it to back up there: PVE refuses to create `{}`",
                            who.address, storage.address
                        ),
                    )
                    .for_resource(&storage.address)
                    .with_label(storage.declared_at, "the PVE storage")
                    .with_label(who.declared_at, "declared here")
                    .with_help(format!(
                        "grant it: `Acl::new(&{who_kind}, Role::DatastoreBackup, &datastore)` (a \
                         token has only the rights both it and its user have)"
                    )),
                );
            } else if !acls
                .iter()
                .any(|a| storage.deps.iter().any(|d| d.on == a.address))
            {
                out.push(
                    Diagnostic::error(
                        PVE_STORAGE_ACCESS,
                        format!(
                            "`{}` may be created before `{}` lets `{}` back up to `{store}`: PVE \
                             contacts the PBS when it creates the storage",
                            storage.address, acls[0].address, who.address
                        ),
                    )
                    .for_resource(&storage.address)
                    .with_label(storage.declared_at, "the PVE storage")
                    .with_label(acls[0].declared_at, "the ACL it needs first")
                    .with_help("order it after the ACL: `PveStorage::new(..).after(&acl)`"),
                );
            }
        }
    }
}

pub(super) fn sync_token_acl(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for job in of_kind(lab, kinds::SYNC_JOB) {
        let Some(source) = text(job, "source") else {
            continue;
        };
        let Some(remote) = job
            .deps
            .iter()
            .find(|d| d.via == "remote")
            .and_then(|d| lab.resource(&d.on))
        else {
            continue;
        };
        let Some(token) = named(lab, remote, "token") else {
            continue;
        };
        // A token's rights are the intersection of its own and its user's
        // (root@pam has every right).
        let user = named(lab, token, "user");
        let user_is_root = user.and_then(|u| text(u, "userid")) == Some("root@pam");
        let mut missing: Vec<&ResourceSpec> = Vec::new();
        if !can_read(lab, token.address.as_str(), source) {
            missing.push(token);
        }
        if let Some(user) = user {
            if !user_is_root && !can_read(lab, user.address.as_str(), source) {
                missing.push(user);
            }
        }
        for who in missing {
            out.push(
                Diagnostic::warning(
                    SYNC_TOKEN_ACL,
                    format!(
                        "`{}` pulls `{source}` as `{}`, which has no ACL entry that can read it",
                        job.address, who.address
                    ),
                )
                .for_resource(&job.address)
                .with_label(job.loc_of("source"), "source given here")
                .with_label(who.declared_at, "declared here")
                .with_help(format!(
                    "grant it: `Acl::new(&{}, Role::{}, &source_store)` (a token has only the rights \
                     both it and its user have)",
                    if who.kind() == kinds::TOKEN {
                        "token"
                    } else {
                        "user"
                    },
                    Role::DatastoreReader
                )),
            );
        }
    }
}

pub(super) fn datastore_placement(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for store in of_kind(lab, kinds::DATASTORE) {
        if store.attrs.contains_key("appliance") || store.attrs.contains_key("pool") {
            continue;
        }
        out.push(
            Diagnostic::warning(
                DATASTORE_PLACEMENT,
                format!(
                    "`{}` does not say where its data lives: the failure-domain analysis cannot \
                     place it",
                    store.address
                ),
            )
            .for_resource(&store.address)
            .with_label(store.declared_at, "declared here")
            .with_help(
                "say `.on(&appliance)` (a disk of a box) or `.nas_pool(&pool)` (an NFS export)",
            ),
        );
    }
}

pub(super) fn server_placement(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for server in of_kind(lab, kinds::SERVER) {
        if server.attrs.contains_key("appliance") || server.attrs.contains_key("guest") {
            continue;
        }
        out.push(
            Diagnostic::warning(
                SERVER_PLACEMENT,
                format!(
                    "`{}` does not say where it runs: the failure-domain analysis cannot tell \
                     what takes it down",
                    server.address
                ),
            )
            .for_resource(&server.address)
            .with_label(server.declared_at, "declared here")
            .with_help("say `.on(&appliance)` (its own box) or `.in_guest(&vm)`"),
        );
    }
}

pub(super) fn datastore_path(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let mut first: IndexMap<(&str, String), &ResourceSpec> = IndexMap::new();
    for store in of_kind(lab, kinds::DATASTORE) {
        let (Some(server), Some(path)) = (text(store, "server"), text(store, "path")) else {
            continue;
        };
        let key = (server, path.trim_end_matches('/').to_string());
        match first.get(&key) {
            None => {
                first.insert(key, store);
            }
            Some(earlier) => out.push(
                Diagnostic::error(
                    DATASTORE_PATH,
                    format!(
                        "`{}` and `{}` are both at `{path}` on `{}`",
                        store.address,
                        earlier.address,
                        server_name(server)
                    ),
                )
                .for_resource(&store.address)
                .with_label(store.loc_of("path"), "path used again here")
                .with_label(earlier.loc_of("path"), "first used here")
                .with_help("give each datastore its own directory"),
            ),
        }
    }
}

pub(super) fn token_id_length(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for token in of_kind(lab, kinds::TOKEN) {
        let (Some(user), Some(name)) = (named(lab, token, "user"), text(token, "token-name"))
        else {
            continue;
        };
        let Some(userid) = text(user, "userid") else {
            continue;
        };
        let tokenid = format!("{userid}!{name}");
        if tokenid.len() > 64 {
            out.push(
                Diagnostic::error(
                    TOKEN_ID_LENGTH,
                    format!(
                        "token id `{tokenid}` is {} characters long; PBS takes auth ids of at most 64",
                        tokenid.len()
                    ),
                )
                .for_resource(&token.address)
                .with_label(token.loc_of("token-name"), "token name given here")
                .with_help(format!(
                    "shorten the token name to {} characters or fewer",
                    64usize.saturating_sub(userid.len() + 1)
                )),
            );
        }
    }
}
