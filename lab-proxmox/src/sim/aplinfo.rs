//! The appliance catalogue `pveam` keeps: `GET /nodes/{node}/aplinfo`
//! lists it, `POST /nodes/{node}/aplinfo` downloads one template.
//!
//! Modelled after pve-manager `PVE/API2/Nodes.pm` (`aplinfo`,
//! `apl_download`) and `PVE/APLInfo.pm` (`read_aplinfo_from_fh`): each
//! record carries the `aplinfo.dat` keys lowercased (`package`, `version`,
//! `type`, `os`, `section`, `maintainer`, `architecture`, `infopage`,
//! `md5sum`, `sha512sum`), the first description line as `headline` and the
//! rest as `description`, `source` (the repository) and `location` (the
//! full URL) and `template` (the file name). The download is a `download`
//! task named after the template that runs pve-common's
//! `download_file_from_url` with `hash_required` and the record's
//! `sha512sum`, so it shares the `download-url` worker (an existing file
//! with the same digest is kept, another one is refused). The simulator
//! never dials out: the digests are those of the simulated content behind
//! each URL ([`super::SimUrl`]).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::disks;
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::state::Shared;
use super::storage::DownloadPlan;
use super::tasks::{self, Effect, TaskPlan};
use super::urls::Urls;

/// The repository of the Proxmox system templates.
const SOURCE: &str = "http://download.proxmox.com/images";

/// One catalogue entry: package, version, os, file name, headline,
/// description.
struct Appliance {
    package: &'static str,
    version: &'static str,
    os: &'static str,
    template: &'static str,
    headline: &'static str,
    description: &'static str,
}

/// The simulated `aplinfo.dat` (system section).
const CATALOGUE: &[Appliance] = &[
    Appliance {
        package: "debian-12-standard",
        version: "12.12-1",
        os: "debian-12",
        template: "debian-12-standard_12.12-1_amd64.tar.zst",
        headline: "Debian 12 Bookworm (standard)",
        description: "A small Debian Bookworm system including all standard packages.",
    },
    Appliance {
        package: "debian-13-standard",
        version: "13.1-2",
        os: "debian-13",
        template: "debian-13-standard_13.1-2_amd64.tar.zst",
        headline: "Debian 13 Trixie (standard)",
        description: "A small Debian Trixie system including all standard packages.",
    },
    Appliance {
        package: "ubuntu-24.04-standard",
        version: "24.04-2",
        os: "ubuntu-24.04",
        template: "ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
        headline: "Ubuntu 24.04 Noble (standard)",
        description: "A small Ubuntu 24.04 Noble Numbat system including all standard packages.",
    },
    Appliance {
        package: "alpine-3.22-default",
        version: "20250617",
        os: "alpine-3.22",
        template: "alpine-3.22-default_20250617_amd64.tar.xz",
        headline: "Alpine Linux 3.22",
        description: "A small Alpine Linux 3.22 system.",
    },
    Appliance {
        package: "rockylinux-9-default",
        version: "20240912",
        os: "rockylinux-9",
        template: "rockylinux-9-default_20240912_amd64.tar.xz",
        headline: "Rocky Linux 9",
        description: "A small Rocky Linux 9 system.",
    },
];

impl Appliance {
    fn location(&self) -> String {
        format!("{SOURCE}/system/{}", self.template)
    }

    fn json(&self, urls: &Urls) -> Value {
        let location = self.location();
        let mut obj = Map::new();
        obj.insert("package".into(), json!(self.package));
        obj.insert("version".into(), json!(self.version));
        obj.insert("type".into(), json!("lxc"));
        obj.insert("os".into(), json!(self.os));
        obj.insert("section".into(), json!("system"));
        obj.insert(
            "maintainer".into(),
            json!("Proxmox Support Team <support@proxmox.com>"),
        );
        obj.insert("architecture".into(), json!("amd64"));
        obj.insert(
            "infopage".into(),
            json!("https://pve.proxmox.com/wiki/Linux_Container#pct_supported_distributions"),
        );
        obj.insert("headline".into(), json!(self.headline));
        obj.insert("description".into(), json!(self.description));
        for alg in ["md5", "sha512"] {
            if let Some(sum) = urls.checksum(&location, alg) {
                obj.insert(format!("{alg}sum"), json!(sum));
            }
        }
        obj.insert("location".into(), json!(location));
        obj.insert("source".into(), json!(SOURCE));
        obj.insert("template".into(), json!(self.template));
        Value::Object(obj)
    }
}

/// `GET /nodes/{node}/aplinfo`.
pub(crate) fn list(shared: &Arc<Shared>) -> ApiResult {
    let urls = &shared.settings.urls;
    Ok(Reply::data(Value::Array(
        CATALOGUE.iter().map(|a| a.json(urls)).collect(),
    )))
}

/// `POST /nodes/{node}/aplinfo`: `template` must be in the catalogue (400
/// `no such template`), the storage enabled on the node and allowing
/// `vztmpl` (`storage '<id>' does not support templates`); answers the
/// UPID of a `download` task.
pub(crate) fn download(shared: &Arc<Shared>, node: &str, p: &Params) -> ApiResult {
    let template = p.required("template")?.to_string();
    let storage = p.required("storage")?.to_string();
    let appliance = CATALOGUE
        .iter()
        .find(|a| a.template == template)
        .ok_or_else(|| ApiError::param("template", "no such template"))?;
    shared.read(|w| -> Result<(), ApiError> {
        let s = disks::storage_on(w, node, &storage).map_err(ApiError::Die)?;
        if !s.allows("vztmpl") {
            return Err(ApiError::die(format!(
                "storage '{storage}' does not support templates"
            )));
        }
        Ok(())
    })?;
    let url = appliance.location();
    let sha512 = shared
        .settings
        .urls
        .checksum(&url, "sha512")
        .unwrap_or_default();
    let plan = DownloadPlan {
        node: node.to_string(),
        storage,
        content: "vztmpl".to_string(),
        filename: template.clone(),
        url,
        checksum: Some(("sha512".to_string(), sha512)),
        compression: None,
        verify_certificates: true,
    };
    let upid = tasks::spawn(
        shared,
        TaskPlan::new(node, "download", template, Effect::Download(plan)),
    );
    Ok(Reply::data(json!(upid)))
}
