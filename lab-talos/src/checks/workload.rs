//! `talos::workload-ip`: a workload's load-balancer IP that another
//! workload of the same cluster, a Talos node or the cluster's VIP already
//! answers on. MetalLB and Cilium's LB IPAM leave the second Service
//! pending (or, against a node's address, answer ARP for it and cut the
//! node off), hours after Flux applied the manifests; `check` says so at
//! the line that gave the IP.

use indexmap::IndexMap;
use lab_core::{Diagnostic, Lab, ResourceSpec};

use super::{has_problem, machines, text, WORKLOAD_IP};
use crate::kinds;
use crate::model::net::parse_ip;

pub(super) fn workload_ip(lab: &Lab, out: &mut Vec<Diagnostic>) {
    let all = machines(lab);
    // The node addresses and VIPs of each cluster, with whose they are.
    let mut taken: IndexMap<(String, String), (String, &ResourceSpec)> = IndexMap::new();
    for m in &all {
        let cluster = m.cluster.name.clone();
        if let Some(Ok(ip)) = text(m.spec, "address").map(parse_ip) {
            let whose = format!("node `{}`'s address", m.spec.name());
            taken
                .entry((cluster.clone(), ip.to_string()))
                .or_insert((whose, m.spec));
        }
        if let Some(Ok(vip)) = m.cluster.vip.as_ref().map(|v| parse_ip(&v.address)) {
            let whose = format!("the VIP of cluster `{cluster}`");
            taken
                .entry((cluster, vip.to_string()))
                .or_insert((whose, m.spec));
        }
    }
    for spec in lab.resources().filter(|s| s.kind() == kinds::WORKLOAD) {
        if has_problem(spec, "load_balancer") {
            continue;
        }
        let (Some(cluster), Some(Ok(ip))) = (
            text(spec, "cluster"),
            text(spec, "load_balancer").map(parse_ip),
        ) else {
            continue;
        };
        let key = (cluster.to_string(), ip.to_string());
        let at = spec.loc_of("load_balancer");
        match taken.get(&key) {
            None => {
                let whose = format!("workload `{}`'s load balancer", spec.name());
                taken.insert(key, (whose, spec));
            }
            Some((whose, earlier)) => out.push(
                Diagnostic::error(
                    WORKLOAD_IP,
                    format!(
                        "workload `{}` asks for load-balancer IP {ip}, which is already {whose}",
                        spec.name()
                    ),
                )
                .for_resource(&spec.address)
                .with_label(at, format!("{ip} asked for here"))
                .with_label(
                    earlier.loc_of("load_balancer"),
                    format!("{ip} is {whose} here"),
                )
                .with_help(
                    "give each Service its own IP from the load balancer's pool, outside the \
                     nodes' addresses and the VIP",
                ),
            ),
        }
    }
}
