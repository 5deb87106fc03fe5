//! What the cluster has and lab does not import yet, listed so nothing is
//! dropped silently: SDN zones and VNets, firewall security groups and IP
//! sets (each a finding naming the builder to write it with).

use lab_core::import::Finding;
use lab_core::provider::ProviderError;

use super::{Out, ProxmoxProvider};

/// The listings and what each of their objects is.
const LISTED: &[(&str, &str, &str, &str)] = &[
    ("/cluster/sdn/zones", "zone", "SDN zone", "`SdnZone`"),
    ("/cluster/sdn/vnets", "vnet", "SDN VNet", "`Vnet`"),
    (
        "/cluster/firewall/groups",
        "group",
        "firewall security group",
        "`SecurityGroup`",
    ),
    (
        "/cluster/firewall/ipset",
        "name",
        "firewall IP set",
        "`IpSet`",
    ),
];

pub(super) async fn import(p: &ProxmoxProvider, out: &mut Out) -> Result<(), ProviderError> {
    for (path, key, what, builder) in LISTED {
        let mut ids: Vec<String> = p.listing(path, key).await?.into_keys().collect();
        ids.sort();
        for id in ids {
            out.findings.push(Finding::new(
                format!("{what} {id}"),
                format!("not imported yet: declare it with {builder} (or lab-net's zones, which derive them)"),
            ));
        }
    }
    Ok(())
}
