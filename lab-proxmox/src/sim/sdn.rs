//! SDN: `/cluster/sdn` zones, VNets and subnets with PVE's pending and
//! running configurations (pve-network `PVE/API2/Network/SDN*.pm`,
//! `PVE/Network/SDN.pm`, read at commit `ecf98c5`).
//!
//! - Every write changes the *configuration* (`zones.cfg`, `vnets.cfg`,
//!   `subnets.cfg`) only. `PUT /cluster/sdn` commits it as the *running*
//!   configuration (`.running-config`, its `version` bumped) and answers
//!   the UPID of a `reloadnetworkall` task that reloads each node's
//!   network; until then the change is pending.
//! - `GET ...?pending=1` answers `pending_config`: the running values at
//!   the top level, what the configuration changes under `pending` (a
//!   removed key as `"deleted"`), and `state` `new` / `changed` /
//!   `deleted`; `?running=1` the running configuration alone; neither, the
//!   configuration.
//! - Errors as pve-network raises them: a handler's text inside
//!   `lock_sdn_config` is prefixed with its `errmsg` (`create sdn vnet
//!   object failed: ...`) and a parameter exception inside it is
//!   stringified (`400 Parameter verification failed.` and the
//!   `key: message` lines) into that 500; `sdn vnet object ID 'x' already
//!   defined`, `sdn 'x' does not exist` (zones), `sdn vnet 'x' does not
//!   exist`, `zone <z> is used by vnet <v>`, `Can't delete vnet if subnets
//!   exists`, the VLAN zone's `missing vlan tag`, `vlan tag max value is
//!   4096` and `tag <t> already exist in vnet <v>`, the simple zone's `vlan
//!   tag is not allowed on simple zone`, the subnet's `<gw> is not in subnet
//!   <cidr>`, SectionConfig's `unexpected property`, `missing value for
//!   required option`, `no such option`, `unable to delete required
//!   option` and the digest's `detected modified configuration`.
//! - Not modelled: the global lock (`/cluster/sdn/lock`; a `lock-token` is
//!   accepted and ignored, as PVE does while no lock is held), rollback,
//!   dry-run, IPAM, DNS, DHCP ranges' allocation, controllers, fabrics.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::async_worker::{log_line, spawn_async};
use super::propstr::split_list;
use super::rest::{ApiError, ApiResult, Params, Reply};
use super::sdn_views::{digest, objects, split_subnet_id, view, BOOLS};
use super::state::Shared;
use crate::kinds::cidr_contains;

/// One section of an SDN config file: its keys (`type` included) as text.
pub type SdnSection = BTreeMap<String, String>;

/// Sections of one SDN config file, by id.
pub type SdnSections = BTreeMap<String, SdnSection>;

/// The cluster's SDN configuration: what `/cluster/sdn` edits, and what
/// was last applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sdn {
    /// `zones.cfg`.
    #[serde(default)]
    pub zones: SdnSections,
    /// `vnets.cfg`.
    #[serde(default)]
    pub vnets: SdnSections,
    /// `subnets.cfg` (ids `<zone>-<network>-<prefix>`).
    #[serde(default)]
    pub subnets: SdnSections,
    /// `.running-config`: what `PUT /cluster/sdn` applied last (`None`:
    /// never applied).
    #[serde(default)]
    pub running: Option<SdnRunning>,
}

/// The applied SDN configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SdnRunning {
    /// Bumped by every apply.
    pub version: u64,
    /// Zones.
    pub zones: SdnSections,
    /// VNets.
    pub vnets: SdnSections,
    /// Subnets.
    pub subnets: SdnSections,
}

impl Sdn {
    /// The VNets running on `node`: those whose zone is applied and spans
    /// it (guests may use them as bridges).
    pub fn running_vnets_on(&self, node: &str) -> Vec<String> {
        let Some(r) = &self.running else {
            return Vec::new();
        };
        r.vnets
            .iter()
            .filter(|(_, v)| {
                v.get("zone").and_then(|z| r.zones.get(z)).is_some_and(|z| {
                    z.get("nodes")
                        .is_none_or(|n| split_list(n).iter().any(|x| x == node))
                })
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether the configuration differs from what runs.
    pub fn has_pending_changes(&self) -> bool {
        let empty = SdnRunning::default();
        let r = self.running.as_ref().unwrap_or(&empty);
        self.zones != r.zones || self.vnets != r.vnets || self.subnets != r.subnets
    }
}

/// The VNets running on `node` as `/nodes/{node}/network?type=any_bridge`
/// lists them (pve-network `SDN.pm get_local_vnets`).
pub(crate) fn local_vnets(sdn: &Sdn, node: &str) -> Vec<Value> {
    let Some(r) = &sdn.running else {
        return Vec::new();
    };
    sdn.running_vnets_on(node)
        .into_iter()
        .map(|id| {
            let vnet = &r.vnets[&id];
            let zone = vnet.get("zone").and_then(|z| r.zones.get(z));
            let mut obj = serde_json::Map::new();
            obj.insert("iface".into(), json!(id));
            obj.insert("type".into(), json!("vnet"));
            obj.insert("active".into(), json!("1"));
            obj.insert(
                "ipam".into(),
                json!(u8::from(zone.is_some_and(|z| z.contains_key("ipam")))),
            );
            obj.insert(
                "vlanaware".into(),
                json!(u8::from(vnet.get("vlanaware").is_some_and(|v| v == "1"))),
            );
            if let Some(alias) = vnet.get("alias") {
                obj.insert("comments".into(), json!(alias));
            }
            Value::Object(obj)
        })
        .collect()
}

/// The three section files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Zones,
    Vnets,
    Subnets,
}

impl Part {
    /// The id key in API answers.
    pub(super) fn key(self) -> &'static str {
        match self {
            Part::Zones => "zone",
            Part::Vnets => "vnet",
            Part::Subnets => "subnet",
        }
    }

    pub(super) fn config(self, sdn: &Sdn) -> &SdnSections {
        match self {
            Part::Zones => &sdn.zones,
            Part::Vnets => &sdn.vnets,
            Part::Subnets => &sdn.subnets,
        }
    }

    fn config_mut(self, sdn: &mut Sdn) -> &mut SdnSections {
        match self {
            Part::Zones => &mut sdn.zones,
            Part::Vnets => &mut sdn.vnets,
            Part::Subnets => &mut sdn.subnets,
        }
    }

    pub(super) fn running(self, sdn: &Sdn) -> SdnSections {
        sdn.running
            .as_ref()
            .map(|r| match self {
                Part::Zones => r.zones.clone(),
                Part::Vnets => r.vnets.clone(),
                Part::Subnets => r.subnets.clone(),
            })
            .unwrap_or_default()
    }

    /// The options a section of `type` takes and whether each is
    /// optional (`options()` of the plugin); `None`: a zone type whose
    /// options are not modelled (every zone property is accepted).
    fn options(self, kind: &str) -> Option<&'static [(&'static str, bool)]> {
        match (self, kind) {
            (Part::Zones, "vlan") => Some(&[
                ("nodes", true),
                ("bridge", false),
                ("bridge-disable-mac-learning", true),
                ("mtu", true),
                ("dns", true),
                ("reversedns", true),
                ("dnszone", true),
                ("ipam", true),
            ]),
            (Part::Zones, "simple") => Some(&[
                ("nodes", true),
                ("mtu", true),
                ("dns", true),
                ("reversedns", true),
                ("dnszone", true),
                ("ipam", true),
                ("dhcp", true),
            ]),
            (Part::Zones, _) => None,
            (Part::Vnets, _) => Some(&[
                ("zone", false),
                ("tag", true),
                ("alias", true),
                ("vlanaware", true),
                ("isolate-ports", true),
            ]),
            (Part::Subnets, _) => Some(&[
                ("vnet", false),
                ("gateway", true),
                ("snat", true),
                ("dnszoneprefix", true),
                ("dhcp-range", true),
                ("dhcp-dns-server", true),
            ]),
        }
    }
}

/// A parameter exception raised inside `lock_sdn_config`: stringified
/// into the handler's `errmsg` (a 500).
fn locked_param(errmsg: &str, key: &str, message: &str) -> ApiError {
    ApiError::die(format!(
        "{errmsg}: 400 Parameter verification failed. {key}: {message}"
    ))
}

fn locked_die(errmsg: &str, message: &str) -> ApiError {
    ApiError::die(format!("{errmsg}: {message}"))
}

fn missing(part: Part, id: &str) -> String {
    match part {
        Part::Zones => format!("sdn '{id}' does not exist"),
        Part::Vnets => format!("sdn vnet '{id}' does not exist"),
        Part::Subnets => format!("sdn subnet '{id}' does not exist"),
    }
}

/// `GET /cluster/sdn`.
pub(crate) fn index() -> ApiResult {
    Ok(Reply::data(json!([
        {"id": "vnets"}, {"id": "zones"}, {"id": "controllers"},
        {"id": "ipams"}, {"id": "dns"}, {"id": "fabrics"},
    ])))
}

/// `GET /cluster/sdn/{zones,vnets}`.
pub(crate) fn list(shared: &Arc<Shared>, part: Part, p: &Params) -> ApiResult {
    let view = view(p)?;
    let only_type = p.get("type").map(str::to_string);
    shared.read(|w| {
        let items: Vec<Value> = objects(&w.sdn, part, view)
            .into_values()
            .filter(|o| {
                only_type
                    .as_deref()
                    .is_none_or(|t| o.get("type").and_then(Value::as_str) == Some(t))
            })
            .map(Value::Object)
            .collect();
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /cluster/sdn/{zones,vnets}/{id}`.
pub(crate) fn get(shared: &Arc<Shared>, part: Part, id: &str, p: &Params) -> ApiResult {
    let view = view(p)?;
    shared.read(|w| {
        objects(&w.sdn, part, view)
            .remove(id)
            .map(|o| Reply::data(Value::Object(o)))
            .ok_or_else(|| ApiError::die(missing(part, id)))
    })
}

/// The options of a create or update (`check_config`): everything but
/// the id, `digest`, `delete` and `lock-token`; SectionConfig's errors.
fn options(
    part: Part,
    kind: &str,
    p: &Params,
    id_key: &str,
    create: bool,
) -> Result<SdnSection, String> {
    let allowed = part.options(kind);
    let mut opts = SdnSection::new();
    for (k, v) in p.iter() {
        if matches!(k, "digest" | "delete" | "lock-token" | "type") || k == id_key {
            continue;
        }
        if part == Part::Subnets && k == "vnet" && !create {
            continue;
        }
        if let Some(allowed) = allowed {
            if !allowed.iter().any(|(o, _)| *o == k) {
                return Err(format!("unexpected property '{k}'"));
            }
        }
        let v = if k == "nodes" {
            let mut nodes = split_list(v);
            nodes.sort();
            nodes.dedup();
            nodes.join(",")
        } else if BOOLS.contains(&k) {
            match super::rest::parse_bool(v) {
                Some(b) => u8::from(b).to_string(),
                None => v.to_string(),
            }
        } else {
            v.to_string()
        };
        opts.insert(k.to_string(), v);
    }
    if create {
        for (k, optional) in allowed.unwrap_or(&[]) {
            if !optional && !opts.contains_key(*k) {
                return Err(format!("missing value for required option '{k}'"));
            }
        }
    }
    Ok(opts)
}

/// SectionConfig `delete_from_config`.
fn delete_keys(
    part: Part,
    kind: &str,
    section: &mut SdnSection,
    opts: &SdnSection,
    delete: &[String],
) -> Result<(), String> {
    for k in delete {
        let optional = match part.options(kind) {
            Some(list) => list
                .iter()
                .find(|(o, _)| o == k)
                .map(|(_, optional)| *optional)
                .ok_or_else(|| format!("no such option '{k}'"))?,
            None => true,
        };
        if !optional {
            return Err(format!("unable to delete required option '{k}'"));
        }
        if opts.contains_key(k) {
            return Err(format!(
                "cannot set and delete property '{k}' at the same time!"
            ));
        }
        section.remove(k);
    }
    Ok(())
}

/// The VLAN / simple zone plugins' `vnet_update_hook`; other zone types
/// check nothing here.
fn vnet_hook(sdn: &Sdn, vnets: &SdnSections, id: &str) -> Result<(), (String, String)> {
    let vnet = &vnets[id];
    let zone_type = vnet
        .get("zone")
        .and_then(|z| sdn.zones.get(z))
        .and_then(|z| z.get("type"))
        .map(String::as_str);
    let tag = vnet.get("tag");
    match zone_type {
        Some("vlan") => {
            let Some(tag) = tag else {
                return Err(("tag".into(), "missing vlan tag".into()));
            };
            if tag.parse::<i64>().unwrap_or(0) > 4096 {
                return Err(("tag".into(), "vlan tag max value is 4096".into()));
            }
            for (other, o) in vnets {
                if other != id && o.get("zone") == vnet.get("zone") && o.get("tag") == Some(tag) {
                    return Err((
                        "tag".into(),
                        format!("tag {tag} already exist in vnet {other}"),
                    ));
                }
            }
            Ok(())
        }
        Some("simple") if tag.is_some() => Err((
            "tag".into(),
            "vlan tag is not allowed on simple zone".into(),
        )),
        _ => Ok(()),
    }
}

/// `POST /cluster/sdn/zones`.
pub(crate) fn create_zone(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let id = p.required("zone")?.to_string();
    let kind = p.required("type")?.to_string();
    let mut opts = options(Part::Zones, &kind, p, "zone", true).map_err(ApiError::die)?;
    opts.insert("type".into(), kind);
    let errmsg = "create sdn zone object failed";
    shared.write(|w| {
        if w.sdn.zones.contains_key(&id) {
            return Err(locked_die(
                errmsg,
                &format!("sdn zone object ID '{id}' already defined"),
            ));
        }
        w.sdn.zones.insert(id, opts);
        Ok(Reply::null())
    })
}

/// `POST /cluster/sdn/vnets`.
pub(crate) fn create_vnet(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let id = p.required("vnet")?.to_string();
    let errmsg = "create sdn vnet object failed";
    shared.write(|w| {
        let mut opts =
            options(Part::Vnets, "vnet", p, "vnet", true).map_err(|e| locked_die(errmsg, &e))?;
        opts.insert("type".into(), "vnet".into());
        if w.sdn.vnets.contains_key(&id) {
            return Err(locked_die(
                errmsg,
                &format!("sdn vnet object ID '{id}' already defined"),
            ));
        }
        let zone = opts.get("zone").cloned().unwrap_or_default();
        if !w.sdn.zones.contains_key(&zone) {
            return Err(locked_die(errmsg, "unknown section type ''"));
        }
        let mut vnets = w.sdn.vnets.clone();
        vnets.insert(id.clone(), opts);
        vnet_hook(&w.sdn, &vnets, &id).map_err(|(k, m)| locked_param(errmsg, &k, &m))?;
        w.sdn.vnets = vnets;
        Ok(Reply::null())
    })
}

/// `PUT /cluster/sdn/{zones,vnets}/{id}`.
pub(crate) fn update(shared: &Arc<Shared>, part: Part, id: &str, p: &Params) -> ApiResult {
    let delete = p.get("delete").map(split_list).unwrap_or_default();
    let digest_given = p.get("digest").map(str::to_string);
    let errmsg = match part {
        Part::Zones => "update sdn zone object failed",
        Part::Vnets => "update sdn vnet object failed",
        Part::Subnets => "update sdn subnet object failed",
    };
    shared.write(|w| {
        if part == Part::Vnets && !w.sdn.vnets.contains_key(id) {
            // `$check_vnet_access`, before the lock.
            return Err(ApiError::die(missing(part, id)));
        }
        let sections = part.config(&w.sdn);
        if let Some(d) = &digest_given {
            if *d != digest(sections) {
                return Err(locked_die(
                    errmsg,
                    "detected modified configuration - file changed by other user? Try again.",
                ));
            }
        }
        let Some(mut section) = sections.get(id).cloned() else {
            return Err(locked_die(errmsg, &missing(part, id)));
        };
        let kind = section.get("type").cloned().unwrap_or_default();
        let opts =
            options(part, &kind, p, part.key(), false).map_err(|e| locked_die(errmsg, &e))?;
        delete_keys(part, &kind, &mut section, &opts, &delete)
            .map_err(|e| locked_die(errmsg, &e))?;
        let old_zone = section.get("zone").cloned();
        section.extend(opts);
        match part {
            Part::Vnets => {
                let Some(new_zone) = section.get("zone").cloned() else {
                    return Err(locked_param(errmsg, "zone", "cannot delete zone"));
                };
                let has_subnets = w
                    .sdn
                    .subnets
                    .values()
                    .any(|s| s.get("vnet").map(String::as_str) == Some(id));
                if has_subnets && old_zone.as_deref() != Some(new_zone.as_str()) {
                    return Err(locked_param(
                        errmsg,
                        "zone",
                        "can't change zone if subnets exist",
                    ));
                }
                let mut vnets = w.sdn.vnets.clone();
                vnets.insert(id.to_string(), section);
                vnet_hook(&w.sdn, &vnets, id).map_err(|(k, m)| locked_param(errmsg, &k, &m))?;
                w.sdn.vnets = vnets;
            }
            Part::Subnets => {
                subnet_hook(id, &section).map_err(|(k, m)| locked_param(errmsg, &k, &m))?;
                w.sdn.subnets.insert(id.to_string(), section);
            }
            Part::Zones => {
                w.sdn.zones.insert(id.to_string(), section);
            }
        }
        Ok(Reply::null())
    })
}

/// `DELETE /cluster/sdn/{zones,vnets}/{id}`.
pub(crate) fn delete(shared: &Arc<Shared>, part: Part, id: &str) -> ApiResult {
    let errmsg = match part {
        Part::Zones => "delete sdn zone object failed",
        Part::Vnets => "delete sdn vnet object failed",
        Part::Subnets => "delete sdn subnet object failed",
    };
    shared.write(|w| {
        if part == Part::Vnets && !w.sdn.vnets.contains_key(id) {
            return Err(ApiError::die(missing(part, id)));
        }
        if !part.config(&w.sdn).contains_key(id) {
            return Err(locked_die(errmsg, &missing(part, id)));
        }
        match part {
            Part::Zones => {
                if let Some((vnet, _)) = w
                    .sdn
                    .vnets
                    .iter()
                    .find(|(_, v)| v.get("zone").map(String::as_str) == Some(id))
                {
                    // `die` without a newline: Perl appends where.
                    return Err(locked_die(
                        errmsg,
                        &format!(
                            "zone {id} is used by vnet {vnet} at \
                             /usr/share/perl5/PVE/Network/SDN/Zones/Plugin.pm line 148."
                        ),
                    ));
                }
            }
            Part::Vnets => {
                if w.sdn
                    .subnets
                    .values()
                    .any(|s| s.get("vnet").map(String::as_str) == Some(id))
                {
                    return Err(locked_param(
                        errmsg,
                        "vnet",
                        "Can't delete vnet if subnets exists",
                    ));
                }
            }
            Part::Subnets => {}
        }
        part.config_mut(&mut w.sdn).remove(id);
        Ok(Reply::null())
    })
}

/// `SubnetPlugin.pm on_update_hook`: the gateway inside the subnet (a
/// `/32` may point outside).
fn subnet_hook(id: &str, section: &SdnSection) -> Result<(), (String, String)> {
    let Some((_, net, mask)) = split_subnet_id(id) else {
        return Ok(());
    };
    let cidr = format!("{net}/{mask}");
    if let Some(gw) = section.get("gateway") {
        let point_to_point = !net.contains(':') && mask == "32";
        if !point_to_point && !cidr_contains(&cidr, gw) {
            return Err(("gateway".into(), format!("{gw} is not in subnet {cidr}")));
        }
    }
    Ok(())
}

/// The subnets of `vnet` (`$check_vnet_access` first).
pub(crate) fn list_subnets(shared: &Arc<Shared>, vnet: &str, p: &Params) -> ApiResult {
    let view = view(p)?;
    shared.read(|w| {
        if !w.sdn.vnets.contains_key(vnet) {
            return Err(ApiError::die(missing(Part::Vnets, vnet)));
        }
        let items: Vec<Value> = objects(&w.sdn, Part::Subnets, view)
            .into_values()
            .filter(|o| o.get("vnet").and_then(Value::as_str) == Some(vnet))
            .map(Value::Object)
            .collect();
        Ok(Reply::data(Value::Array(items)))
    })
}

/// `GET /cluster/sdn/vnets/{vnet}/subnets/{subnet}`.
pub(crate) fn get_subnet(shared: &Arc<Shared>, vnet: &str, id: &str, p: &Params) -> ApiResult {
    let view = view(p)?;
    shared.read(|w| {
        if !w.sdn.vnets.contains_key(vnet) {
            return Err(ApiError::die(missing(Part::Vnets, vnet)));
        }
        let obj = objects(&w.sdn, Part::Subnets, view)
            .remove(id)
            .ok_or_else(|| ApiError::die(missing(Part::Subnets, id)))?;
        if obj.get("vnet").and_then(Value::as_str) != Some(vnet) {
            return Err(ApiError::param("vnet", "wrong vnet"));
        }
        Ok(Reply::data(Value::Object(obj)))
    })
}

/// `POST /cluster/sdn/vnets/{vnet}/subnets`: the id is
/// `<zone>-<cidr with / as ->`.
pub(crate) fn create_subnet(shared: &Arc<Shared>, vnet: &str, p: &Params) -> ApiResult {
    let cidr = p.required("subnet")?.to_string();
    let errmsg = "create sdn subnet object failed";
    shared.write(|w| {
        let Some(v) = w.sdn.vnets.get(vnet) else {
            return Err(ApiError::die(missing(Part::Vnets, vnet)));
        };
        let zone = v.get("zone").cloned().unwrap_or_default();
        let id = format!("{zone}-{}", cidr.replace('/', "-"));
        let mut opts = options(Part::Subnets, "subnet", p, "subnet", true)
            .map_err(|e| locked_die(errmsg, &e))?;
        opts.insert("type".into(), "subnet".into());
        if w.sdn.subnets.contains_key(&id) {
            return Err(locked_die(
                errmsg,
                &format!("sdn subnet object ID '{id}' already defined"),
            ));
        }
        if v.get("vlanaware").is_some_and(|x| x == "1") {
            return Err(locked_param(
                errmsg,
                "vnet",
                "you can't add a subnet on a vlanaware vnet",
            ));
        }
        subnet_hook(&id, &opts).map_err(|(k, m)| locked_param(errmsg, &k, &m))?;
        w.sdn.subnets.insert(id, opts);
        Ok(Reply::null())
    })
}

/// `PUT /cluster/sdn/vnets/{vnet}/subnets/{subnet}`.
pub(crate) fn update_subnet(shared: &Arc<Shared>, vnet: &str, id: &str, p: &Params) -> ApiResult {
    if shared.read(|w| !w.sdn.vnets.contains_key(vnet)) {
        return Err(ApiError::die(missing(Part::Vnets, vnet)));
    }
    update(shared, Part::Subnets, id, p)
}

/// `DELETE /cluster/sdn/vnets/{vnet}/subnets/{subnet}`.
pub(crate) fn delete_subnet(shared: &Arc<Shared>, vnet: &str, id: &str) -> ApiResult {
    if shared.read(|w| !w.sdn.vnets.contains_key(vnet)) {
        return Err(ApiError::die(missing(Part::Vnets, vnet)));
    }
    delete(shared, Part::Subnets, id)
}

/// `PUT /cluster/sdn`: commits the configuration as the running one and
/// reloads every node's network in a `reloadnetworkall` task.
pub(crate) fn apply(shared: &Arc<Shared>) -> ApiResult {
    let (node, nodes) = shared.write(|w| {
        let version = w.sdn.running.as_ref().map_or(1, |r| r.version + 1);
        w.sdn.running = Some(SdnRunning {
            version,
            zones: w.sdn.zones.clone(),
            vnets: w.sdn.vnets.clone(),
            subnets: w.sdn.subnets.clone(),
        });
        let nodes: Vec<String> = w.nodes.iter().map(|n| n.name.clone()).collect();
        (nodes.first().cloned().unwrap_or_default(), nodes)
    });
    let latency = shared.settings.task_latency.other;
    let upid = spawn_async(
        shared,
        &node,
        "reloadnetworkall",
        "",
        move |shared, upid| async move {
            for n in &nodes {
                log_line(&shared, &upid, format!("{n}: reloading network config"));
                if !latency.is_zero() {
                    tokio::time::sleep(latency / nodes.len().max(1) as u32).await;
                }
            }
            Ok(0)
        },
    );
    Ok(Reply::data(json!(upid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(pairs: &[(&str, &str)]) -> SdnSection {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn vnets_run_on_the_nodes_of_their_applied_zone() {
        let mut sdn = Sdn::default();
        sdn.zones.insert(
            "lab".into(),
            section(&[("type", "vlan"), ("bridge", "vmbr0"), ("nodes", "pve1")]),
        );
        sdn.vnets.insert(
            "dmz".into(),
            section(&[("type", "vnet"), ("zone", "lab"), ("tag", "40")]),
        );
        assert!(sdn.running_vnets_on("pve1").is_empty(), "not applied yet");
        assert!(sdn.has_pending_changes());
        sdn.running = Some(SdnRunning {
            version: 1,
            zones: sdn.zones.clone(),
            vnets: sdn.vnets.clone(),
            subnets: sdn.subnets.clone(),
        });
        assert_eq!(sdn.running_vnets_on("pve1"), ["dmz"]);
        assert!(sdn.running_vnets_on("pve2").is_empty());
        assert!(!sdn.has_pending_changes());
    }
}
