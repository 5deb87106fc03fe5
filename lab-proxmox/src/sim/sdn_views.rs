//! The views of the SDN configuration a `GET` answers (pve-network
//! `SDN.pm pending_config`, `api_sdn_*_config`): the configuration, the
//! running one (`?running=1`), or both merged (`?pending=1`: running
//! values at the top level, changes under `pending`, `state` new /
//! changed / deleted); values typed as the API prints them.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::rest::{ApiError, Params};
use super::sdn::{Part, Sdn, SdnSection, SdnSections};
use super::world::digest40;

/// Keys the API answers as numbers.
pub(super) const INTS: &[&str] = &["mtu", "tag", "dp-id", "vrf-vxlan", "vxlan-port"];
/// Keys the API answers as 0/1.
pub(super) const BOOLS: &[&str] = &[
    "isolate-ports",
    "vlanaware",
    "snat",
    "bridge-disable-mac-learning",
    "advertise-subnets",
    "disable-arp-nd-suppression",
    "exitnodes-local-routing",
];

fn typed(key: &str, v: &str) -> Value {
    if INTS.contains(&key) || BOOLS.contains(&key) {
        if let Ok(n) = v.parse::<i64>() {
            return json!(n);
        }
    }
    json!(v)
}

fn section_json(section: &SdnSection) -> Map<String, Value> {
    section
        .iter()
        .map(|(k, v)| (k.clone(), typed(k, v)))
        .collect()
}

/// The digest of one config file (a SHA-256 prefix of its sections, in
/// place of the SHA-1 of the file PVE uses: same shape, changes exactly
/// when the content does).
pub(super) fn digest(sections: &SdnSections) -> String {
    digest40(&serde_json::to_vec(sections).unwrap_or_default())
}

/// pve-network `SDN.pm pending_config`.
pub(super) fn pending_config(
    running: &SdnSections,
    config: &SdnSections,
) -> BTreeMap<String, Map<String, Value>> {
    let mut out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let empty = SdnSection::new();
    for (id, run) in running {
        let cfg = config.get(id).unwrap_or(&empty);
        let entry = out.entry(id.clone()).or_default();
        for (k, v) in run {
            entry.insert(k.clone(), typed(k, v));
            if cfg.is_empty() {
                entry.insert("state".into(), json!("deleted"));
            } else if !cfg.contains_key(k) {
                pending_of(entry).insert(k.clone(), json!("deleted"));
                entry.insert("state".into(), json!("changed"));
            } else if cfg.get(k) != Some(v) {
                entry.insert("state".into(), json!("changed"));
            }
        }
        if entry.contains_key("state") && !entry.contains_key("pending") {
            entry.insert("pending".into(), json!({}));
        }
    }
    for (id, cfg) in config {
        let run = running.get(id).unwrap_or(&empty);
        let entry = out.entry(id.clone()).or_default();
        for (k, v) in cfg {
            let running_value = run.get(k);
            if k == "type" || k == "vnet" {
                entry.insert(k.clone(), typed(k, v));
            } else if running_value != Some(v) {
                pending_of(entry).insert(k.clone(), typed(k, v));
            }
            if run.is_empty() {
                entry.insert("state".into(), json!("new"));
            } else if running_value.is_none() {
                entry.insert("state".into(), json!("changed"));
            }
        }
        if entry.contains_key("state") && !entry.contains_key("pending") {
            entry.insert("pending".into(), json!({}));
        }
    }
    out
}

fn pending_of(entry: &mut Map<String, Value>) -> &mut Map<String, Value> {
    entry
        .entry("pending")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("pending is an object")
}

/// Which configuration a `GET` shows.
#[derive(Clone, Copy)]
pub(super) enum View {
    Config,
    Running,
    Pending,
}

pub(super) fn view(p: &Params) -> Result<View, ApiError> {
    Ok(if p.bool("pending", false)? {
        View::Pending
    } else if p.bool("running", false)? {
        View::Running
    } else {
        View::Config
    })
}

/// The objects of `part` as `GET` answers them (`api_sdn_*_config`).
pub(super) fn objects(sdn: &Sdn, part: Part, view: View) -> BTreeMap<String, Map<String, Value>> {
    let (sections, digest_of) = match view {
        View::Config => (
            part.config(sdn)
                .iter()
                .map(|(id, s)| (id.clone(), section_json(s)))
                .collect(),
            part.config(sdn).clone(),
        ),
        View::Running => {
            let r = part.running(sdn);
            (
                r.iter()
                    .map(|(id, s)| (id.clone(), section_json(s)))
                    .collect(),
                r,
            )
        }
        View::Pending => (
            pending_config(&part.running(sdn), part.config(sdn)),
            part.config(sdn).clone(),
        ),
    };
    let d = digest(&digest_of);
    sections
        .into_iter()
        .map(|(id, mut obj)| {
            obj.insert(part.key().into(), json!(id));
            obj.insert("digest".into(), json!(d));
            if part == Part::Subnets {
                if let Some((zone, net, mask)) = split_subnet_id(&id) {
                    obj.insert("zone".into(), json!(zone));
                    obj.insert("network".into(), json!(net));
                    obj.insert("mask".into(), json!(mask));
                    obj.insert("cidr".into(), json!(format!("{net}/{mask}")));
                }
                obj.entry("dhcp-range").or_insert_with(|| json!([]));
            }
            (id, obj)
        })
        .collect()
}

/// `<zone>-<network>-<prefix>` split as `sdn_subnets_config` splits it.
pub(super) fn split_subnet_id(id: &str) -> Option<(&str, &str, &str)> {
    let mut it = id.splitn(3, '-');
    Some((it.next()?, it.next()?, it.next()?))
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
    fn pending_config_says_new_changed_and_deleted() {
        let running: SdnSections = [
            (
                "dmz".to_string(),
                section(&[("type", "vnet"), ("zone", "lab"), ("tag", "40")]),
            ),
            (
                "iot".to_string(),
                section(&[("type", "vnet"), ("zone", "lab"), ("tag", "60")]),
            ),
        ]
        .into();
        let config: SdnSections = [
            (
                "dmz".to_string(),
                section(&[("type", "vnet"), ("zone", "lab"), ("tag", "41")]),
            ),
            (
                "mgmt".to_string(),
                section(&[("type", "vnet"), ("zone", "lab"), ("tag", "10")]),
            ),
        ]
        .into();
        let p = pending_config(&running, &config);
        assert_eq!(p["dmz"]["state"], "changed");
        assert_eq!(p["dmz"]["tag"], 40);
        assert_eq!(p["dmz"]["pending"]["tag"], 41);
        assert_eq!(p["iot"]["state"], "deleted");
        assert_eq!(p["mgmt"]["state"], "new");
        assert_eq!(p["mgmt"]["pending"]["zone"], "lab");
        assert_eq!(p["mgmt"]["type"], "vnet");
        let same = pending_config(&config, &config);
        assert!(same["dmz"].get("state").is_none(), "{:?}", same["dmz"]);
        assert!(same["dmz"].get("pending").is_none());
    }
}
