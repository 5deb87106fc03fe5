//! The SDN rules: what pve-network would refuse (or silently break) for
//! the zones and VNets the lab declares.
//!
//! Offline ([`super::all`]): ids PVE does not take (2 to 8 letters and
//! digits, a letter first), a zone PVE cannot make as written (a type
//! other than `vlan`/`simple`, a VLAN zone without a bridge, a simple zone
//! with one), a VNet tag outside 1..=4094 (or missing in a VLAN zone, or
//! given in a simple zone), two VNets of one zone with one tag.
//!
//! At plan time ([`bridges`], from [`super::world::check`]): a VLAN zone
//! whose bridge a node it spans lacks, or has without `bridge-vlan-aware`.
//! PVE accepts both and applies them; the zone then fails on that node at
//! the network reload, and its guests have no network there.

use std::collections::BTreeMap;

use lab_core::plan::{Action, PlanStep};
use lab_core::{Diagnostic, Lab, ResourceSpec};

use super::read::{int, node, strs, text};
use super::world::World;
use super::{NODE_MISSING, SDN_BRIDGE_MISSING, SDN_BRIDGE_NOT_VLAN_AWARE};
use super::{SDN_ID, SDN_TAG_RANGE, SDN_TAG_REUSED, SDN_ZONE_TYPE};
use crate::kinds::{self, sdn_id_problem, VNET_TAG_RANGE};

fn of_kind<'a>(lab: &'a Lab, kind: &'a str) -> impl Iterator<Item = &'a ResourceSpec> + 'a {
    lab.resources().filter(move |s| s.kind() == kind)
}

/// The zone a VNet names, if the lab declares it.
fn zone_of<'a>(lab: &'a Lab, vnet: &ResourceSpec) -> Option<&'a ResourceSpec> {
    let zone = text(vnet, "zone")?;
    of_kind(lab, kinds::SDN_ZONE).find(|z| text(z, "zone") == Some(zone))
}

/// Whether `bridge` is a VNet the lab declares whose zone spans `node`
/// (a guest's NIC may use it as its bridge).
pub(super) fn vnet_spans(lab: &Lab, bridge: &str, node: &str) -> bool {
    of_kind(lab, kinds::SDN_VNET)
        .filter(|v| text(v, "vnet") == Some(bridge))
        .filter_map(|v| zone_of(lab, v))
        .any(|z| {
            let nodes = strs(z, "nodes");
            nodes.is_empty() || nodes.contains(&node)
        })
}

/// `proxmox::sdn-id`.
pub(super) fn sdn_id(lab: &Lab, out: &mut Vec<Diagnostic>) {
    vnet_named_like_a_bridge(lab, out);
    for (kind, field, what) in [
        (kinds::SDN_ZONE, "zone", "SDN zone"),
        (kinds::SDN_VNET, "vnet", "VNet"),
    ] {
        for spec in of_kind(lab, kind) {
            let Some(id) = text(spec, field) else {
                continue;
            };
            let Some(problem) = sdn_id_problem(id) else {
                continue;
            };
            out.push(
                Diagnostic::error(SDN_ID, format!("{what} id {problem}"))
                    .for_resource(&spec.address)
                    .with_label(spec.loc_of(field), format!("{what} `{id}` named here"))
                    .with_help(
                        "name it with 2 to 8 letters and digits, a letter first \
                         (like `lab`, `dmz`, `iot60`)",
                    ),
            );
        }
    }
}

/// `proxmox::sdn-id`, second half: a VNet becomes a bridge of that name
/// on every node of its zone, so it must not take the name of a bridge a
/// node declares (PVE accepts it; the node's network reload then clashes).
pub(super) fn vnet_named_like_a_bridge(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in of_kind(lab, kinds::SDN_VNET) {
        let Some(id) = text(spec, "vnet") else {
            continue;
        };
        let Some(n) = of_kind(lab, kinds::NODE).find(|n| strs(n, "bridges").contains(&id)) else {
            continue;
        };
        out.push(
            Diagnostic::error(
                SDN_ID,
                format!(
                    "VNet `{id}` has the name of a bridge node `{}` declares; the VNet becomes \
                     a bridge of that name on its zone's nodes",
                    n.name()
                ),
            )
            .for_resource(&spec.address)
            .with_label(spec.loc_of("vnet"), format!("VNet `{id}` named here"))
            .with_label(n.loc_of("bridges"), format!("bridge `{id}` declared here"))
            .with_help("name the VNet after its VLAN or zone (like `dmz` or `vlan40`)"),
        );
    }
}

/// `proxmox::sdn-zone-type`.
pub(super) fn sdn_zone_type(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in of_kind(lab, kinds::SDN_ZONE) {
        let zone_type = text(spec, "type").unwrap_or_default();
        let bridge = text(spec, "bridge");
        let problem = match (zone_type, bridge) {
            ("vlan", None) => Some((
                "type",
                "a VLAN zone needs the bridge it tags on".to_string(),
                "write SdnZone::vlan(id, \"vmbr0\")",
            )),
            ("simple", Some(b)) => Some((
                "bridge",
                format!("a simple zone takes no bridge (`{b}` given)"),
                "leave the bridge out, or make it SdnZone::vlan(id, bridge)",
            )),
            ("vlan" | "simple", _) => None,
            (other, _) => Some((
                "type",
                format!("zone type `{other}` is not managed by lab (vlan or simple)"),
                "use SdnZone::vlan(..) or SdnZone::simple(..)",
            )),
        };
        if let Some((field, message, help)) = problem {
            out.push(
                Diagnostic::error(SDN_ZONE_TYPE, format!("`{}`: {message}", spec.address))
                    .for_resource(&spec.address)
                    .with_label(spec.loc_of(field), "declared here")
                    .with_help(help),
            );
        }
    }
}

/// `proxmox::sdn-tag-range`.
pub(super) fn sdn_tag_range(lab: &Lab, out: &mut Vec<Diagnostic>) {
    for spec in of_kind(lab, kinds::SDN_VNET) {
        let zone_type = zone_of(lab, spec).and_then(|z| text(z, "type"));
        let tag = int(spec, "tag");
        let problem = match (zone_type, tag) {
            (Some("simple"), Some(t)) => Some((
                format!(
                    "VNet tag {t} in a simple zone; PVE: vlan tag is not allowed on simple zone"
                ),
                "leave the tag out (Vnet::untagged), or put the VNet in a VLAN zone",
            )),
            (Some("vlan"), None) => Some((
                "a VNet of a VLAN zone needs a tag; PVE: missing vlan tag".to_string(),
                "give it the VLAN id it carries, like Vnet::new(id, &zone, 40)",
            )),
            (_, Some(t)) if !VNET_TAG_RANGE.contains(&t) => Some((
                format!("VNet tag {t} is outside 1..=4094"),
                "give a VLAN id from 1 to 4094",
            )),
            _ => None,
        };
        if let Some((message, help)) = problem {
            out.push(
                Diagnostic::error(SDN_TAG_RANGE, format!("`{}`: {message}", spec.address))
                    .for_resource(&spec.address)
                    .with_label(spec.loc_of("tag"), "tag given here")
                    .with_help(help),
            );
        }
    }
}

/// `proxmox::sdn-tag-reused`.
pub(super) fn sdn_tag_reused(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<(&str, i64), &ResourceSpec> = BTreeMap::new();
    for spec in of_kind(lab, kinds::SDN_VNET) {
        let (Some(zone), Some(tag)) = (text(spec, "zone"), int(spec, "tag")) else {
            continue;
        };
        match seen.get(&(zone, tag)) {
            None => {
                seen.insert((zone, tag), spec);
            }
            Some(first) => out.push(
                Diagnostic::error(
                    SDN_TAG_REUSED,
                    format!(
                        "`{}` and `{}` both carry VLAN {tag} in zone `{zone}`; PVE: tag {tag} \
                         already exist in vnet {}",
                        first.address,
                        spec.address,
                        first.name()
                    ),
                )
                .for_resource(&spec.address)
                .with_label(spec.loc_of("tag"), format!("VLAN {tag} again here"))
                .with_label(first.loc_of("tag"), format!("VLAN {tag} first here"))
                .with_help("give each VNet of a zone its own tag"),
            ),
        }
    }
}

/// The plan-time bridge rules for the zones `steps` create or change.
pub(super) fn bridges(
    lab: &Lab,
    steps: &[(&PlanStep, &ResourceSpec)],
    world: &World,
    out: &mut Vec<Diagnostic>,
) {
    for (step, spec) in steps {
        if spec.kind() != kinds::SDN_ZONE
            || !matches!(
                step.action,
                Action::Create | Action::Update | Action::Replace
            )
            || text(spec, "type") != Some("vlan")
        {
            continue;
        }
        let Some(bridge) = text(spec, "bridge") else {
            continue;
        };
        let named = strs(spec, "nodes");
        let spans: Vec<&str> = if named.is_empty() {
            world.nodes.iter().map(|n| n.name.as_str()).collect()
        } else {
            named.clone()
        };
        for on in spans {
            let Some(n) = world.nodes.iter().find(|n| n.name == on) else {
                out.push(
                    Diagnostic::error(
                        NODE_MISSING,
                        format!(
                            "`{}` spans node `{on}`, which the cluster does not have",
                            spec.address
                        ),
                    )
                    .for_resource(&spec.address)
                    .with_label(spec.loc_of("nodes"), format!("`{on}` named here"))
                    .with_help("limit the zone to the cluster's nodes, or join the node first"),
                );
                continue;
            };
            // An offline node cannot say; nothing to compare.
            let Some(listed) = &n.bridges else { continue };
            let found = listed.iter().find(|b| b.name == bridge);
            let (code, message, help) = match found {
                None => (
                    SDN_BRIDGE_MISSING,
                    format!(
                        "`{}` tags on bridge `{bridge}`, which node `{on}` does not have (it has {})",
                        spec.address,
                        if listed.is_empty() {
                            "no bridge".to_string()
                        } else {
                            listed.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(", ")
                        }
                    ),
                    format!(
                        "create `{bridge}` on `{on}` (VLAN-aware), use a bridge every node \
                         has, or limit the zone with .node(..) to the nodes that have it"
                    ),
                ),
                Some(b) if !b.vlan_aware => (
                    SDN_BRIDGE_NOT_VLAN_AWARE,
                    format!(
                        "`{}` tags on bridge `{bridge}`, which is not VLAN-aware on node `{on}`",
                        spec.address
                    ),
                    format!(
                        "make `{bridge}` VLAN-aware on `{on}` (System > Network > {bridge} > \
                         VLAN aware, or `bridge-vlan-aware yes` in /etc/network/interfaces)"
                    ),
                ),
                Some(_) => continue,
            };
            let mut d = Diagnostic::error(code, message)
                .for_resource(&spec.address)
                .with_label(spec.loc_of("bridge"), format!("`{bridge}` given here"))
                .with_help(help);
            if let Some(declared) = node(lab, on) {
                d = d.with_label(declared.declared_at, format!("node `{on}` declared here"));
            }
            out.push(d);
        }
    }
}
