//! Choosing the Talos nodes a lab talks to: real nodes at their addresses,
//! or simulated nodes that live on the simulated Proxmox VE.
//!
//! [`from_env_or_simulated`] follows the Proxmox connection: live nodes
//! with a live cluster, else simulated ones kept in a state file, whose
//! addresses come from the lab. A simulated lab dials only the simulator's
//! loopback ports; an address it has no node for is an error, never a
//! connection to the real address.
//!
//! The simulated pairing keeps the ordering honest: a simulated Talos node
//! answers only while a running VM on the Proxmox simulator carries its
//! address in its cloud-init `ipconfig` (the nocloud static address the
//! real node would boot with). A VM that is re-created (a new VMID) is a
//! new machine with an empty disk, so the node starts over in maintenance
//! mode, as real hardware would.

#[cfg(feature = "sim")]
use crate::provider::TalosOptions;
#[cfg(feature = "sim")]
use crate::sim::{SimConfig, TalosSim};

/// The Talos side of a lab whose Proxmox VE is `pve`: real nodes (apid on
/// port 50000 of each address, [`TalosOptions::live`]) when `pve` is a live
/// cluster (the `PVE_*` environment names one), else simulated nodes on
/// `pve`'s simulator ([`simulated_on_proxmox_kept`]): their disks kept in
/// `state_file` (e.g. `.lab/sim/talos.json`, beside pve-sim's
/// `.lab/sim/pve.json`), one node per machine address the lab declares
/// ([`TalosOptions::simulated_from_lab`]). Works outside any Tokio runtime
/// (the simulator runs on its own thread), so a `main.rs` calls it before
/// `lab::cli::run`.
///
/// ```no_run
/// use lab_proxmox::{sim::SimConfig, Connection, ProxmoxOptions};
/// use lab_talos::provider::TalosProvider;
/// let pve = Connection::from_env_or_simulated(SimConfig::default(), ".lab/sim/pve.json")?;
/// let talos = lab_talos::connect::from_env_or_simulated(&pve, ".lab/sim/talos.json")?;
/// let mut lab = lab_core::Lab::new("home");
/// lab.register_provider(pve.provider(ProxmoxOptions::default()));
/// lab.register_provider(TalosProvider::shared(talos));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "sim")]
pub fn from_env_or_simulated(
    pve: &lab_proxmox::Connection,
    state_file: impl Into<std::path::PathBuf>,
) -> std::io::Result<TalosOptions> {
    match pve.simulator() {
        None => Ok(TalosOptions::live()),
        Some(pve) => {
            let sim = simulated_on_proxmox_kept(pve, SimConfig::default(), state_file)?;
            Ok(TalosOptions::simulated_from_lab(&sim))
        }
    }
}

/// A [`TalosSim`] on its own thread whose nodes' disks are kept in
/// `state_file` across processes ([`TalosSim::start_background`]), each
/// node present exactly while the Proxmox simulator `pve` runs a QEMU VM
/// whose cloud-init `ipconfig` gives it the node's address (as
/// [`simulated_on_proxmox`]). The nodes recorded in the file are back;
/// more come from [`TalosSim::ensure_node`] (or a lab, with
/// [`TalosOptions::simulated_from_lab`]).
#[cfg(feature = "sim")]
pub fn simulated_on_proxmox_kept(
    pve: &lab_proxmox::sim::SimHandle,
    config: SimConfig,
    state_file: impl Into<std::path::PathBuf>,
) -> std::io::Result<TalosSim> {
    let talos = TalosSim::start_background(config, state_file)?;
    let pve = pve.observer();
    talos.set_presence(move |ip| pve.read(|world| vm_with_address(world, ip)));
    Ok(talos)
}

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
