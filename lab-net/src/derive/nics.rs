//! Guest NICs on VLANs: bridge, tag or VNet, firewall flag, address.

use indexmap::IndexMap;
use lab_core::{Address, Lab, Value};

use lab_proxmox::kinds::SDN_VNET;

use super::{original, push_dep};
use crate::read::NetModel;

pub(super) fn derive(lab: &mut Lab, model: &NetModel) {
    let id = lab.id();
    for g in &model.guests {
        if g.vlan_nics().next().is_none() {
            continue;
        }
        let Some(spec) = lab.spec_mut(&g.address) else {
            continue;
        };
        let Some(Value::List(mut nics)) = original(spec, "nics") else {
            continue;
        };
        let mut ipconfig: Vec<Value> = match original(spec, "cloud_init") {
            Some(Value::Map(ci)) => match ci.get("ipconfig") {
                Some(Value::List(l)) => l.clone(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let ipconfig_before = ipconfig.len();
        let mut vnets = Vec::new();
        for nic in nics.iter_mut() {
            let Value::Map(map) = nic else { continue };
            let Some(slot) = map.get("slot").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let Some(view) = g.nics.iter().find(|n| n.slot == slot) else {
                continue;
            };
            let Some(vlan) = view.vlan.as_deref().and_then(|v| model.vlans.get(v)) else {
                continue;
            };
            if vlan.spec.sdn_zone.is_some() {
                let vnet = vlan.spec.vnet_id();
                map.insert("bridge".into(), Value::from(vnet.as_str()));
                map.shift_remove("tag");
                vnets.push((vnet, view.loc));
            } else {
                let bridge = vlan.spec.bridge.as_deref().unwrap_or("vmbr0");
                map.insert("bridge".into(), Value::from(bridge));
                map.insert("tag".into(), Value::Int(vlan.spec.id));
            }
            if !map.contains_key("firewall") {
                map.insert("firewall".into(), Value::Bool(true));
            }
            let Some(address) = view.address else {
                continue;
            };
            let cidr = format!("{address}/{}", vlan.prefix());
            let gateway = vlan.spec.gateway.clone();
            if g.guest_type == "lxc" {
                if !map.contains_key("ip") {
                    map.insert("ip".into(), Value::from(cidr.as_str()));
                    if let (Some(gw), false) = (&gateway, map.contains_key("gw")) {
                        map.insert("gw".into(), Value::from(gw.as_str()));
                    }
                }
            } else if g.cloud_init {
                let index: usize = slot.trim_start_matches("net").parse().unwrap_or(usize::MAX);
                if index >= ipconfig_before && index < 32 {
                    while ipconfig.len() < index {
                        ipconfig.push(Value::from("ip=dhcp"));
                    }
                    let mut entry = format!("ip={cidr}");
                    if let Some(gw) = &gateway {
                        entry.push_str(&format!(",gw={gw}"));
                    }
                    if ipconfig.len() == index {
                        ipconfig.push(Value::from(entry));
                    }
                }
            }
        }
        spec.attrs.insert("nics".into(), Value::List(nics));
        if ipconfig.len() > ipconfig_before {
            if let Some(Value::Map(ci)) = original(spec, "cloud_init") {
                let mut ci: IndexMap<String, Value> = ci;
                ci.insert("ipconfig".into(), Value::List(ipconfig));
                spec.attrs.insert("cloud_init".into(), Value::Map(ci));
            }
        }
        for (vnet, at) in vnets {
            let on = Address::new(SDN_VNET, &vnet);
            if !spec.deps.iter().any(|d| d.on == on) {
                push_dep(spec, id, &on, "vnet", at);
            }
        }
    }
}
