//! Choosing the Talos nodes a lab talks to: real nodes at their addresses,
//! or simulated nodes that live on the simulated Proxmox VE.
//!
//! The simulated pairing keeps the ordering honest: a simulated Talos node
//! answers only while a running VM on the Proxmox simulator carries its
//! address in its cloud-init `ipconfig` (the nocloud static address the
//! real node would boot with). A VM that is re-created (a new VMID) is a
//! new machine with an empty disk, so the node starts over in maintenance
//! mode, as real hardware would.

#[cfg(feature = "sim")]
use crate::sim::{SimConfig, TalosSim};

/// Starts a [`TalosSim`] with one node per address, present exactly while
/// the Proxmox simulator `pve` runs a QEMU VM whose cloud-init `ipconfig`
/// gives it that address. Call it inside the tokio runtime that will drive
/// the lab (the nodes' servers run on it).
///
/// ```no_run
/// # async fn demo(pve: &lab_proxmox::sim::SimHandle) -> std::io::Result<()> {
/// use lab_talos::connect::simulated_on_proxmox;
/// use lab_talos::provider::TalosOptions;
/// use lab_talos::sim::SimConfig;
/// let talos = simulated_on_proxmox(pve, SimConfig::default(), &["10.0.10.11"]).await?;
/// let options = TalosOptions::simulated(&talos);
/// # let _ = options; Ok(()) }
/// ```
#[cfg(feature = "sim")]
pub async fn simulated_on_proxmox(
    pve: &lab_proxmox::sim::SimHandle,
    config: SimConfig,
    addresses: &[&str],
) -> std::io::Result<TalosSim> {
    let talos = TalosSim::new(config);
    for address in addresses {
        talos.add_node(address).await?;
    }
    let pve = pve.observer();
    talos.set_presence(move |ip| pve.read(|world| vm_with_address(world, ip)));
    Ok(talos)
}

/// The identity (`<node>/<vmid>`) of the running QEMU VM whose cloud-init
/// `ipconfigN` has `ip=<address>/<prefix>`.
#[cfg(feature = "sim")]
pub fn vm_with_address(world: &lab_proxmox::sim::World, address: &str) -> Option<String> {
    use lab_proxmox::sim::{GuestKind, GuestStatus};
    let wanted = format!("ip={address}/");
    world
        .guests
        .values()
        .filter(|g| g.kind == GuestKind::Qemu && g.status == GuestStatus::Running)
        .find(|g| {
            g.config.iter().any(|(key, value)| {
                key.starts_with("ipconfig")
                    && value.split(',').any(|part| {
                        part.starts_with(&wanted) || part.strip_prefix("ip=") == Some(address)
                    })
            })
        })
        .map(|g| format!("{}/{}", g.node, g.vmid))
}
