//! A container's runtime settings: the `entrypoint` it runs as init and the
//! environment variables (`env`) the lab sets, for application containers
//! made from OCI images (PVE 9.1).
//!
//! Why this needs care:
//!
//! - creating a container from an OCI image **overwrites** what the create
//!   call sent: pve-container's `restore_oci_archive` sets `entrypoint` to
//!   the image's `Entrypoint` + `Cmd` and `env` to the image's `Env`
//!   (`PATH=...`), so a create writes the lab's values again with a config
//!   `PUT` before the first start;
//! - PVE keeps `env` as one NUL-separated list; the image's variables
//!   (`PATH`, `SSL_CERT_FILE`) must stay, so the lab owns only the names it
//!   sets: a write keeps every other variable in PVE's order and puts the
//!   lab's after them, and a read reports only the names the recorded spec
//!   sets (a variable added by hand is not drift; one the lab set and that
//!   was edited or removed is);
//! - values set with `env_secret` come back in plain text from `GET
//!   .../config`: they are read into [`Secret`]s at once, so they are
//!   compared but never printed, and sealed in the state.

use indexmap::IndexMap;
use lab_core::{ProviderError, Secret};
use serde_json::{Map, Value as Json};

use super::normalize::text;
use crate::api::Form;
use crate::kinds::CtSpec;

/// PVE's default init, what `entrypoint` reads as when it is not set.
pub(crate) const DEFAULT_ENTRYPOINT: &str = "/sbin/init";

/// The `NAME=value` items of a config's `env`, in PVE's order.
pub(crate) fn pve_env(config: &Map<String, Json>) -> Vec<(String, String)> {
    text(config, "env")
        .unwrap_or_default()
        .split('\0')
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (item.to_string(), String::new()),
        })
        .collect()
}

/// The runtime fields of a container as read back: `entrypoint` when the
/// recorded spec manages it, and the variables among the names it sets.
pub(crate) struct Observed {
    pub entrypoint: Option<String>,
    pub env: Option<IndexMap<String, String>>,
    pub env_secrets: Option<IndexMap<String, Secret>>,
}

/// Reads the runtime fields `prior` manages from `config`.
pub(crate) fn observe(config: &Map<String, Json>, prior: Option<&CtSpec>) -> Observed {
    let entrypoint = prior
        .and_then(|p| p.entrypoint.as_ref())
        .map(|_| text(config, "entrypoint").unwrap_or_else(|| DEFAULT_ENTRYPOINT.into()));
    let have = pve_env(config);
    let value = |name: &str| {
        have.iter()
            .rev() // LXC applies the list in order: the last one wins.
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let env = prior.and_then(|p| p.env.as_ref()).map(|declared| {
        declared
            .keys()
            .filter_map(|k| Some((k.clone(), value(k)?)))
            .collect()
    });
    let env_secrets = prior.and_then(|p| p.env_secrets.as_ref()).map(|declared| {
        declared
            .keys()
            .filter_map(|k| Some((k.clone(), Secret::new(value(k)?))))
            .collect()
    });
    Observed {
        entrypoint,
        env,
        env_secrets,
    }
}

/// The `env` to write: the variables of `current` that the lab does not
/// own (neither `spec` nor `owned_before` names them), in their order,
/// then the spec's. `None` when nothing is left (PVE refuses an empty
/// `env`: delete it instead).
pub(crate) fn merged_env(
    current: &[(String, String)],
    owned_before: &[&str],
    spec: &CtSpec,
) -> Option<Secret> {
    let owned = spec.env_names();
    let mut items: Vec<String> = current
        .iter()
        .filter(|(k, _)| !owned.contains(&k.as_str()) && !owned_before.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    items.extend(spec.env_entries());
    (!items.is_empty()).then(|| Secret::new(items.join("\0")))
}

/// Refuses a secret value PVE would refuse (a control character), naming
/// the variable but never the value.
pub(crate) fn check_secrets(spec: &CtSpec) -> Result<(), ProviderError> {
    for (name, value) in spec.env_secrets.iter().flatten() {
        if value
            .expose()
            .chars()
            .any(|c| (c.is_ascii_control() && c != '\t') || c == '\u{7f}')
        {
            return Err(ProviderError::permanent(format!(
                "the secret value of the environment variable `{name}` contains a control \
                 character (a newline?), which Proxmox refuses in `env`; fix the value it \
                 comes from"
            )));
        }
    }
    Ok(())
}

/// What to change so `config` runs what `spec` says (after a create from
/// an OCI image rewrote it, or for an update): the form's `entrypoint`
/// and `env`, and whether `env` must be deleted instead. `owned_before`
/// are the names the recorded spec set (removed ones are dropped).
pub(crate) fn settle(
    form: &mut Form,
    config: &Map<String, Json>,
    spec: &CtSpec,
    owned_before: &[&str],
) -> RuntimeChange {
    let mut change = RuntimeChange::default();
    if let Some(want) = &spec.entrypoint {
        let have = text(config, "entrypoint").unwrap_or_else(|| DEFAULT_ENTRYPOINT.into());
        if &have != want {
            form.push_str("entrypoint", want);
            change.changed = true;
        }
    }
    if spec.env.is_some() || spec.env_secrets.is_some() || !owned_before.is_empty() {
        let current = pve_env(config);
        let now = text(config, "env").unwrap_or_default();
        match merged_env(&current, owned_before, spec) {
            Some(env) if env.expose() != now => {
                form.push_secret("env", &env);
                change.changed = true;
            }
            Some(_) => {}
            None if !now.is_empty() => {
                change.delete_env = true;
                change.changed = true;
            }
            None => {}
        }
    }
    change
}

/// What [`settle`] found to change.
#[derive(Default)]
pub(crate) struct RuntimeChange {
    /// Something was put in the form or must be deleted.
    pub changed: bool,
    /// `env` must go (`delete=env`): nothing is left in it.
    pub delete_env: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(env: &[(&str, &str)], secrets: &[(&str, &str)]) -> CtSpec {
        let mut s: CtSpec = serde_json::from_value(json!({
            "node": "pve1", "vmid": null, "hostname": "ct", "cores": 1, "memory_mb": 512,
            "swap_mb": 512, "ostemplate": null, "ostemplate_file": null, "password": null,
            "ssh_keys": null, "rootfs": null, "mountpoints": null, "unprivileged": true,
            "features": null, "onboot": false, "started": true, "tags": null, "notes": null,
            "pool": null, "entrypoint": null, "env": null, "env_secrets": null
        }))
        .unwrap();
        if !env.is_empty() {
            s.env = Some(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
        }
        if !secrets.is_empty() {
            s.env_secrets = Some(
                secrets
                    .iter()
                    .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                    .collect(),
            );
        }
        s
    }

    #[test]
    fn the_images_variables_stay_and_the_labs_come_after_them() {
        let config: Map<String, Json> = serde_json::from_value(json!({
            "env": "PATH=/usr/bin\0TUNNEL_TOKEN=old\0GONE=1\0HAND=x"
        }))
        .unwrap();
        let s = spec(&[("LOGLEVEL", "info")], &[("TUNNEL_TOKEN", "new")]);
        let env = merged_env(&pve_env(&config), &["GONE", "TUNNEL_TOKEN"], &s).unwrap();
        assert_eq!(
            env.expose(),
            "PATH=/usr/bin\0HAND=x\0LOGLEVEL=info\0TUNNEL_TOKEN=new"
        );
        let seen = observe(&config, Some(&s));
        assert_eq!(seen.env.unwrap().len(), 0, "LOGLEVEL is not set in PVE yet");
        assert_eq!(
            seen.env_secrets.unwrap()["TUNNEL_TOKEN"],
            Secret::new("old")
        );
        assert_eq!(seen.entrypoint, None, "not managed");
    }

    #[test]
    fn nothing_left_deletes_env_and_a_bad_secret_is_named_not_shown() {
        let config: Map<String, Json> = serde_json::from_value(json!({"env": "GONE=1"})).unwrap();
        let s = spec(&[], &[]);
        let mut form = Form::new();
        let change = settle(&mut form, &config, &s, &["GONE"]);
        assert!(change.changed && change.delete_env);
        let bad = spec(&[], &[("TOKEN", "line\nbreak")]);
        let e = check_secrets(&bad).unwrap_err();
        assert!(e.message.contains("`TOKEN`") && !e.message.contains("break"));
    }
}
