//! OCI images (PVE 9.1): `POST /nodes/{node}/storage/{storage}/oci-registry-pull`
//! and what a container created from one becomes.
//!
//! Modelled after pve-storage `API2/Storage/Status.pm` (`oci_registry_pull`)
//! and pve-container `LXC/Create.pm` (`restore_oci_archive`):
//!
//! - the handler (before any task) wants a file-based storage (`can't
//!   upload to storage type '<type>', not a file based storage!`) with
//!   `vztmpl` content (`storage '<id>' is not configured for content-type
//!   'vztmpl'`), names the file `normalize_content_filename(filename //
//!   reference) . ".tar"` (so `docker.io/cloudflare/cloudflared:2025.11.1`
//!   is `cloudflared_2025.11.1.tar`: the part after the last `/`, `:` made
//!   `_`) and refuses an existing one (`refusing to override existing file
//!   '<name>'`); the reference itself is checked by the schema's pattern;
//! - the `ociregistrypull` worker (id: the file name) runs `skopeo copy
//!   docker://<reference> oci-archive:<dir>/<name>.tmp.<pid>` and renames
//!   the result, so the volume (`<storage>:vztmpl/<name>`, format `tar`)
//!   appears only at the end; an image the registry does not have
//!   ([`super::SimConfig::oci_images_missing`]) fails the task with
//!   `command 'skopeo copy ...' failed: exit code 1` and leaves nothing;
//! - a container created from such a volume (`vzcreate`: an `.tar` archive
//!   with `oci-layout`, `index.json` and `blobs/`) gets the image's config:
//!   `entrypoint` = `Entrypoint` + `Cmd` (shell-quoted as `cmd2string`)
//!   unless that is `/sbin/init`, then `cmode: console` and
//!   `host-managed=1` on every NIC that lacks it; `env` = the image's `Env`
//!   joined by NUL. These **replace** what the create call sent. The
//!   image's `User`, `WorkingDir` and `StopSignal` become raw `lxc.*` keys,
//!   which `GET .../config` shows only to `root@pam`: not simulated.
//!
//! What an image holds is simulated ([`image_config`]): cloudflared's is
//! the published one (distroless, `ENTRYPOINT ["cloudflared",
//! "--no-autoupdate"]`, `CMD ["version"]`); any other repository gets
//! `Cmd` = its name and a `PATH`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::disks;
use super::propstr::PropString;
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::storage::{cmd2string, normalize_content_filename, subdir};
use super::tasks::{self, Cx, Effect, TaskPlan};
use super::world::{now, Volume, World};

/// The `PATH` of distroless and most images.
const IMAGE_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The parts of an OCI image config `restore_oci_archive` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciImage {
    /// The reference it was pulled as.
    pub reference: String,
    /// `Entrypoint`.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// `Env` (`NAME=value`).
    #[serde(default)]
    pub env: Vec<String>,
}

/// The simulated config of the image `reference` names.
pub fn image_config(reference: &str) -> OciImage {
    let path = reference.rsplit_once(':').map_or(reference, |(p, _)| p);
    let name = path.rsplit('/').next().unwrap_or(path);
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match name {
        "cloudflared" => OciImage {
            reference: reference.to_string(),
            entrypoint: strs(&["cloudflared", "--no-autoupdate"]),
            cmd: strs(&["version"]),
            env: strs(&[
                IMAGE_PATH,
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            ]),
        },
        _ => OciImage {
            reference: reference.to_string(),
            entrypoint: Vec::new(),
            cmd: vec![name.to_string()],
            env: vec![IMAGE_PATH.to_string()],
        },
    }
}

/// The `ociregistrypull` plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PullPlan {
    /// Node.
    pub node: String,
    /// Storage id.
    pub storage: String,
    /// The image reference.
    pub reference: String,
    /// The file name (normalised, with `.tar`).
    pub filename: String,
}

/// Whether `node` runs Proxmox VE 9.1 or later, which has OCI images and
/// the container keys `entrypoint` and `env` (an unknown node: yes).
pub(crate) fn node_has_oci(w: &World, node: &str) -> bool {
    let Some(n) = w.node(node) else {
        return true;
    };
    let mut parts = n.version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let release = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    release >= (9, 1)
}

/// A node before 9.1 does not know `entrypoint` and `env`: PVE's schema
/// error for the first of `keys` that is one of them.
pub(crate) fn refuse_runtime_keys<'a>(
    w: &World,
    node: &str,
    mut keys: impl Iterator<Item = &'a str>,
) -> Result<(), ApiError> {
    if node_has_oci(w, node) {
        return Ok(());
    }
    match keys.find(|k| matches!(*k, "entrypoint" | "env")) {
        Some(k) => Err(ApiError::param(
            k,
            "property is not defined in schema and the schema does not allow additional properties",
        )),
        None => Ok(()),
    }
}

/// `POST /nodes/{node}/storage/{storage}/oci-registry-pull` (a node
/// before 9.1 does not have it: 501).
pub(crate) fn registry_pull(shared: &Arc<Shared>, node: &str, id: &str, p: &Params) -> ApiResult {
    if !shared.read(|w| node_has_oci(w, node)) {
        return Err(ApiError::NotImplemented(String::new()));
    }
    let reference = p.required("reference")?.to_string();
    let filename = format!(
        "{}.tar",
        normalize_content_filename(p.get("filename").unwrap_or(&reference))
    );
    shared.read(|w| -> Result<(), ApiError> {
        let s = disks::storage_on(w, node, id).map_err(ApiError::Die)?;
        if !s.file_based() {
            return Err(ApiError::die(format!(
                "can't upload to storage type '{}', not a file based storage!",
                s.kind
            )));
        }
        if !s.allows("vztmpl") {
            return Err(ApiError::die(format!(
                "storage '{id}' is not configured for content-type 'vztmpl'"
            )));
        }
        if w.volume(node, &volid(id, &filename)).is_some() {
            return Err(ApiError::die(format!(
                "refusing to override existing file '{filename}'"
            )));
        }
        Ok(())
    })?;
    let plan = PullPlan {
        node: node.to_string(),
        storage: id.to_string(),
        reference,
        filename: filename.clone(),
    };
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(node, "ociregistrypull", filename, Effect::OciPull(plan)),
    );
    Ok(Reply::data(json!(upid)))
}

fn volid(storage: &str, filename: &str) -> String {
    format!("{storage}:vztmpl/{filename}")
}

/// The end of the worker: skopeo's copy, then the rename that makes the
/// volume appear.
pub(crate) fn pull_apply(world: &mut World, plan: &PullPlan, cx: &mut Cx) -> Result<(), String> {
    let storage = disks::storage_on(world, &plan.node, &plan.storage)?;
    let dir = format!(
        "{}/{}",
        storage.path().unwrap_or("/var/lib/vz"),
        subdir("vztmpl")
    );
    let shared = storage.shared;
    let tmp = format!("{dir}/{}.tmp.{}", plan.filename, cx.pid);
    let source = format!("docker://{}", plan.reference);
    let target = format!("oci-archive:{tmp}");
    if cx
        .settings
        .oci_images_missing
        .iter()
        .any(|r| r == &plan.reference)
    {
        cx.log.push(format!(
            "time=\"\" level=fatal msg=\"initializing source {source}: reading manifest: manifest unknown\""
        ));
        return Err(format!(
            "command '{}' failed: exit code 1",
            cmd2string(&["skopeo", "copy", &source, &target])
        ));
    }
    cx.log.push("Getting image source signatures".to_string());
    cx.log
        .push("Writing manifest to image destination".to_string());
    let id = volid(&plan.storage, &plan.filename);
    world.remove_volume(&plan.node, &id);
    world.volumes.push(Volume {
        volid: id,
        storage: plan.storage.clone(),
        node: (!shared).then(|| plan.node.clone()),
        content: "vztmpl".to_string(),
        format: "tar".to_string(),
        size: 20 << 20,
        vmid: None,
        ctime: now(),
        virtual_size: None,
        download: None,
        oci: Some(image_config(&plan.reference)),
    });
    Ok(())
}

/// `restore_oci_archive`'s mapping of the image's config onto a new
/// container's `config`, logging as it does.
pub(crate) fn apply_image_config(
    image: &OciImage,
    config: &mut std::collections::BTreeMap<String, String>,
    log: &mut Vec<String>,
) {
    log.push("Detected OCI archive".to_string());
    let init: Vec<&str> = image
        .entrypoint
        .iter()
        .chain(&image.cmd)
        .map(String::as_str)
        .collect();
    if !init.is_empty() && init[0] != "/sbin/init" {
        config.insert("entrypoint".into(), cmd2string(&init));
        config.insert("cmode".into(), "console".into());
        let nets: Vec<String> = config
            .keys()
            .filter(|k| k.starts_with("net") && k[3..].chars().all(|c| c.is_ascii_digit()))
            .cloned()
            .collect();
        for key in nets {
            let Ok(mut p) = PropString::parse(&config[&key]) else {
                continue;
            };
            if p.get("host-managed").is_none() {
                log.push(format!(
                    "Auto-Enabling host-managed network for network device {key}."
                ));
                p.set("host-managed", "1");
                config.insert(key, p.print_key_first("name"));
            }
        }
    }
    if !image.env.is_empty() {
        config.insert("env".into(), image.env.join("\0"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_config_replaces_the_entrypoint_and_env_and_manages_the_network() {
        let mut config = std::collections::BTreeMap::new();
        config.insert("entrypoint".to_string(), "mine".to_string());
        config.insert("env".to_string(), "A=1".to_string());
        config.insert(
            "net0".to_string(),
            "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth".to_string(),
        );
        let mut log = Vec::new();
        apply_image_config(
            &image_config("docker.io/cloudflare/cloudflared:2025.11.1"),
            &mut config,
            &mut log,
        );
        assert_eq!(config["entrypoint"], "cloudflared --no-autoupdate version");
        assert_eq!(config["cmode"], "console");
        assert!(config["env"].starts_with("PATH=/usr/local/sbin"));
        assert!(!config["env"].contains("A=1"));
        assert!(
            config["net0"].contains("host-managed=1"),
            "{}",
            config["net0"]
        );
        assert!(config["net0"].starts_with("name=eth0,"));
        assert_eq!(log[0], "Detected OCI archive");
    }
}
