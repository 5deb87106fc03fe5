//! Containers: `Container::new` with every setting the config holds
//! (CPU, memory, swap, root filesystem, mount points, NICs named `eth<N>`,
//! unprivileged, nesting and keyctl, power, tags, notes, pool), bound by
//! VMID. PVE does not record the OS template a container was made from:
//! the code names a guess (the template its OS type names, else the first
//! on the cluster) and says so. Other features, other NIC names and
//! volumes under 1 GiB are findings.

use lab_core::import::ImportBlock;
use lab_core::Address;

use super::guest::{bound, guest_name, storage_var, tail};
use super::{lit, Chain, Names, World};
use crate::api::ClusterResource;
use crate::kinds;
use crate::provider::normalize::{self, Readback};

pub(super) fn import(
    rb: &Readback<'_>,
    r: &ClusterResource,
    world: &World,
    node_var: &str,
    names: &mut Names,
    used: &mut std::collections::BTreeSet<Address>,
) -> Result<ImportBlock, String> {
    let (mut spec, outputs) = normalize::ct(rb, None);
    let vmid = rb.vmid;
    spec.vmid = Some(vmid);
    let Some(pve_name) = spec.hostname.clone() else {
        return Err("it has no host name".into());
    };
    // PVE does not record the template a container was made from: the
    // one its OS type names, else the first on the cluster.
    let ostype = normalize::text(rb.config, "ostype").unwrap_or_default();
    let guess = world
        .vztmpls
        .iter()
        .find(|v| !ostype.is_empty() && v.contains(&format!("vztmpl/{ostype}")))
        .or_else(|| world.vztmpls.iter().next())
        .cloned()
        .unwrap_or_else(|| "local:vztmpl/unknown.tar.zst".to_string());
    spec.ostemplate = Some(guess.clone());
    let name = guest_name(kinds::CT, Some(&pve_name), vmid, used);
    let mut c = Chain::new(format!("Container::new({}, &{node_var})", lit(&name)));
    c.call(format!("vmid({vmid})"));
    if name != pve_name {
        c.call(format!("hostname({})", lit(&pve_name)));
    }
    c.call(format!("cores({})", spec.cores));
    c.call(format!("memory_mb({})", spec.memory_mb));
    c.call(format!("swap_mb({})", spec.swap_mb));
    c.call(format!("ostemplate_volid({})", lit(&guess)));
    let root = spec.rootfs.as_ref().ok_or("it has no root filesystem")?;
    let size = root
        .size_gb
        .filter(|s| *s > 0)
        .ok_or("its root filesystem is smaller than 1 GiB")?;
    c.call(format!(
        "rootfs(&{}, \"{size}G\")",
        storage_var(names, &root.storage)?
    ));
    for mp in spec.mountpoints.iter().flatten() {
        let size = mp
            .size_gb
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("mount point {} is smaller than 1 GiB", mp.slot))?;
        c.call(format!(
            "mount_point({}, &{}, \"{size}G\", {})",
            lit(&mp.slot),
            storage_var(names, &mp.storage)?,
            lit(&mp.path)
        ));
    }
    for n in &spec.nics {
        let index = n.slot.trim_start_matches("net");
        if n.name.as_deref() != Some(&format!("eth{index}")) {
            return Err(format!(
                "NIC {} is named {:?} (lab names a container's net<N> eth<N>)",
                n.slot, n.name
            ));
        }
        let bridge = n
            .bridge
            .as_deref()
            .ok_or_else(|| format!("NIC {} has no bridge", n.slot))?;
        c.call(format!("nic({}, {})", lit(&n.slot), lit(bridge)));
        if let Some(t) = n.tag {
            c.call(format!("vlan({t})"));
        }
        if let Some(ip) = &n.ip {
            c.call(format!("ip({})", lit(ip)));
        }
        if let Some(gw) = &n.gw {
            c.call(format!("gw({})", lit(gw)));
        }
        if let Some(f) = n.firewall {
            c.call(format!("firewall({f})"));
        }
    }
    c.call(format!("unprivileged({})", spec.unprivileged));
    for (feature, on) in spec.features.iter().flatten() {
        if !matches!(feature.as_str(), "nesting" | "keyctl") {
            return Err(format!(
                "feature `{feature}` (lab sets nesting and keyctl only)"
            ));
        }
        c.call(format!("{feature}({on})"));
    }
    tail(
        &mut c,
        spec.onboot,
        spec.started,
        &spec.tags,
        &spec.notes,
        &spec.pool,
        names,
    )?;
    let mut block = bound(kinds::CT, &name, vmid, &spec, outputs, c, names, r)?;
    let storages = spec.rootfs.iter().map(|v| v.storage.as_str()).chain(
        spec.mountpoints
            .iter()
            .flatten()
            .map(|m| m.storage.as_str()),
    );
    super::guest::depend_on_storages(&mut block, storages);
    block.comment = Some(format!(
        "Proxmox does not record a container's OS template: `{guess}` is a guess, used only if lab makes it again."
    ));
    Ok(block)
}
