//! Users, API tokens, ACLs (proxmox-backup `src/api2/access/{user,acl}.rs`)
//! and the node certificate listing.
//!
//! A token's secret is answered once, at creation (`{tokenid, value}`); a
//! new token has no ACL entry, hence no privilege. Deleting a user takes
//! its tokens and their ACL entries with it.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::acl::{self, role_privs};
use super::datastores::need;
use super::rest::{apply_update, config_props, Params, PbsError, Res};
use super::world::{Acl, Token, User, World};
use super::Shared;

/// `GET /nodes/{node}/certificates/info`.
pub(crate) fn certificates(shared: &Shared, auth: &str) -> Res {
    shared.read(|w| {
        need(w, auth, "/system/certificates", acl::SYS_AUDIT, false)?;
        let node = &shared.config.node;
        let subject = format!("CN={node}, O=Proxmox Backup Server, OU=Proxmox Backup Server");
        Ok(json!([{
            "filename": "proxy.pem",
            "fingerprint": shared.fingerprint,
            "subject": subject,
            "issuer": subject,
            "san": ["127.0.0.1", "localhost", node],
            "public-key-type": "id-ecPublicKey",
            "public-key-bits": 256,
        }]))
    })
}

fn may_manage_user(w: &World, auth: &str, userid: &str) -> bool {
    acl::user_of(auth) == userid
        || acl::allowed(w, auth, "/access/users", acl::PERMISSIONS_MODIFY, false)
}

fn user_exists(w: &World, userid: &str) -> Result<(), PbsError> {
    if w.users.contains_key(userid) {
        Ok(())
    } else {
        Err(PbsError::bad(format!("no such user '{userid}'")))
    }
}

fn acl_path_valid(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => true,
        ["access"] | ["access", "acl"] | ["access", "users"] | ["access", "domains"] => true,
        ["datastore", ..] => parts.len() <= 2 + super::datastores::MAX_NAMESPACE_DEPTH,
        ["remote"] | ["remote", _] | ["remote", _, _] => true,
        ["system", ..] | ["tape", ..] => true,
        _ => false,
    }
}

pub(crate) fn dispatch(
    shared: &Arc<Shared>,
    auth: &str,
    method: &str,
    segs: &[&str],
    p: &Params,
) -> Res {
    match (method, segs) {
        ("GET", ["access", "users"]) => shared.read(|w| {
            let all = acl::allowed(w, auth, "/access/users", acl::SYS_AUDIT, false);
            Ok(Value::Array(
                w.users
                    .iter()
                    .filter(|(id, _)| all || acl::user_of(auth) == id.as_str())
                    .map(|(_, u)| Value::Object(u.config.clone()))
                    .collect(),
            ))
        }),
        ("POST", ["access", "users"]) => {
            let userid = p.req("userid")?.to_string();
            let config = config_props(&shared.schema, "POST", "/access/users", p, &["password"]);
            shared.write(|w| {
                need(w, auth, "/access/users", acl::PERMISSIONS_MODIFY, false)?;
                if w.users.contains_key(&userid) {
                    return Err(PbsError::bad(format!("user '{userid}' already exists.")));
                }
                w.users.insert(userid, User { config });
                Ok(Value::Null)
            })
        }
        ("GET", ["access", "users", userid]) => shared.read(|w| {
            if !may_manage_user(w, auth, userid)
                && !acl::allowed(w, auth, "/access/users", acl::SYS_AUDIT, false)
            {
                return Err(PbsError::forbidden());
            }
            user_exists(w, userid)?;
            Ok(Value::Object(w.users[*userid].config.clone()))
        }),
        ("PUT", ["access", "users", userid]) => {
            let props = config_props(
                &shared.schema,
                "PUT",
                "/access/users/u",
                p,
                &["userid", "password"],
            );
            shared.write(|w| {
                if !may_manage_user(w, auth, userid) {
                    return Err(PbsError::forbidden());
                }
                user_exists(w, userid)?;
                let user = w.users.get_mut(*userid).expect("checked");
                apply_update(&mut user.config, props, p);
                Ok(Value::Null)
            })
        }
        ("DELETE", ["access", "users", userid]) => shared.write(|w| {
            need(w, auth, "/access/users", acl::PERMISSIONS_MODIFY, false)?;
            if w.users.remove(*userid).is_none() {
                return Err(PbsError::bad(format!("user '{userid}' does not exist.")));
            }
            let prefix = format!("{userid}!");
            w.tokens.retain(|id, _| !id.starts_with(&prefix));
            w.acl
                .retain(|a| a.ugid != *userid && !a.ugid.starts_with(&prefix));
            Ok(Value::Null)
        }),
        ("GET", ["access", "users", userid, "token"]) => shared.read(|w| {
            if !may_manage_user(w, auth, userid)
                && !acl::allowed(w, auth, "/access/users", acl::SYS_AUDIT, false)
            {
                return Err(PbsError::forbidden());
            }
            user_exists(w, userid)?;
            let prefix = format!("{userid}!");
            Ok(Value::Array(
                w.tokens
                    .iter()
                    .filter(|(id, _)| id.starts_with(&prefix))
                    .map(|(_, t)| Value::Object(t.config.clone()))
                    .collect(),
            ))
        }),
        ("POST", ["access", "users", userid, "token", name]) => {
            let mut config: Map<String, Value> =
                config_props(&shared.schema, "POST", "/access/users/u/token/t", p, &[]);
            let tokenid = format!("{userid}!{name}");
            config.insert("tokenid".into(), tokenid.clone().into());
            shared.write(|w| {
                if !may_manage_user(w, auth, userid) {
                    return Err(PbsError::forbidden());
                }
                user_exists(w, userid)?;
                if w.tokens.contains_key(&tokenid) {
                    return Err(PbsError::bad(format!(
                        "token '{name}' for user '{userid}' already exists."
                    )));
                }
                let secret = lab_proxmox::sim::random_secret();
                w.tokens.insert(
                    tokenid.clone(),
                    Token {
                        config,
                        secret: secret.clone(),
                    },
                );
                Ok(json!({"tokenid": tokenid, "value": secret}))
            })
        }
        ("GET", ["access", "users", userid, "token", name]) => shared.read(|w| {
            if !may_manage_user(w, auth, userid) {
                return Err(PbsError::forbidden());
            }
            w.tokens
                .get(&format!("{userid}!{name}"))
                .map(|t| Value::Object(t.config.clone()))
                .ok_or_else(|| {
                    PbsError::bad(format!("token '{name}' of user '{userid}' does not exist."))
                })
        }),
        ("PUT", ["access", "users", userid, "token", name]) => {
            let props = config_props(&shared.schema, "PUT", "/access/users/u/token/t", p, &[]);
            shared.write(|w| {
                if !may_manage_user(w, auth, userid) {
                    return Err(PbsError::forbidden());
                }
                let token = w
                    .tokens
                    .get_mut(&format!("{userid}!{name}"))
                    .ok_or_else(|| {
                        PbsError::bad(format!("token '{name}' of user '{userid}' does not exist."))
                    })?;
                apply_update(&mut token.config, props, p);
                Ok(Value::Null)
            })
        }
        ("DELETE", ["access", "users", userid, "token", name]) => shared.write(|w| {
            if !may_manage_user(w, auth, userid) {
                return Err(PbsError::forbidden());
            }
            let tokenid = format!("{userid}!{name}");
            if w.tokens.remove(&tokenid).is_none() {
                return Err(PbsError::bad(format!(
                    "token '{name}' of user '{userid}' does not exist."
                )));
            }
            w.acl.retain(|a| a.ugid != tokenid);
            Ok(Value::Null)
        }),
        ("GET", ["access", "acl"]) => shared.read(|w| {
            let all = acl::allowed(w, auth, "/access/acl", acl::SYS_AUDIT, false);
            let path = p.get("path");
            let exact = p.flag("exact", false);
            Ok(Value::Array(
                w.acl
                    .iter()
                    .filter(|a| all || a.ugid == auth || a.ugid == acl::user_of(auth))
                    .filter(|a| match path {
                        None => true,
                        Some(path) if exact => a.path == path,
                        Some(path) => {
                            a.path == path
                                || a.path
                                    .starts_with(&format!("{}/", path.trim_end_matches('/')))
                        }
                    })
                    .map(|a| {
                        json!({
                            "path": a.path, "ugid": a.ugid, "ugid-type": "user",
                            "roleid": a.role, "propagate": a.propagate,
                        })
                    })
                    .collect(),
            ))
        }),
        ("PUT", ["access", "acl"]) => {
            let path = p.req("path")?.to_string();
            let role = p.req("role")?.to_string();
            let propagate = p.flag("propagate", true);
            let delete = p.flag("delete", false);
            if p.get("group").is_some() {
                return Err(PbsError::bad(
                    "parameter 'group' - groups are currently not supported.",
                ));
            }
            let Some(ugid) = p.get("auth-id").map(str::to_string) else {
                return Err(PbsError::bad("missing 'userid' or 'group' parameter."));
            };
            shared.write(|w| {
                // `update_acl`: Permissions.Modify on /access/acl, or a user
                // setting its own tokens' entries.
                if !acl::allowed(w, auth, "/access/acl", acl::PERMISSIONS_MODIFY, false) {
                    if auth.contains('!') {
                        return Err(PbsError::bad(
                            "Unprivileged API tokens can't set ACL items.",
                        ));
                    } else if !ugid.contains('!') {
                        return Err(PbsError::bad(
                            "Unprivileged users can only set ACL items for API tokens.",
                        ));
                    } else if acl::user_of(&ugid) != auth {
                        return Err(PbsError::bad(
                            "Unprivileged users can only set ACL items for their own API tokens.",
                        ));
                    }
                }
                if role_privs(&role).is_none() {
                    return Err(PbsError::param(
                        "role",
                        format!("value '{role}' is not defined in the enumeration."),
                    ));
                }
                if !acl_path_valid(&path) {
                    return Err(PbsError::bad(format!("invalid acl path '{path}'.")));
                }
                let known = if ugid.contains('!') {
                    w.tokens.contains_key(&ugid)
                } else {
                    w.users.contains_key(&ugid)
                };
                if !known && !delete {
                    return Err(PbsError::bad(format!(
                        "no such {}.",
                        if ugid.contains('!') {
                            "API token"
                        } else {
                            "user"
                        }
                    )));
                }
                w.acl
                    .retain(|a| !(a.path == path && a.ugid == ugid && a.role == role));
                if !delete {
                    w.acl.push(Acl {
                        path,
                        ugid,
                        role,
                        propagate,
                    });
                }
                Ok(Value::Null)
            })
        }
        _ => Err(PbsError::http(
            501,
            format!("pbs-sim does not implement {method} /{}", segs.join("/")),
        )),
    }
}
