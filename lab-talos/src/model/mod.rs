//! Typed builders for a Talos cluster on Proxmox VE.
//!
//! The usual entry point is [`TalosCluster`]: one builder for the whole
//! cluster, lowered by [`TalosCluster::add_to`] into the resources of
//! [`crate::kinds`] plus the Proxmox VMs and ISO downloads they run on:
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_proxmox::model::*;
//! use lab_talos::factory::{Schematic, QEMU_GUEST_AGENT};
//! use lab_talos::model::*;
//!
//! let mut lab = Lab::new("home");
//! let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
//! let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
//! let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
//! let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
//! let talos = TalosCluster::new("home", "https://10.0.10.5:6443")
//!     .talos_version("v1.13.9")
//!     .kubernetes_version("1.36.3")
//!     .schematic(Schematic::new().extension(QEMU_GUEST_AGENT))
//!     .vip("10.0.10.5")
//!     .link("ens18").gateway("10.0.10.1").nameservers(&["10.0.10.1"])
//!     .vm_storage(&lvm).iso_storage(&local).bridge("vmbr0").vlan(10)
//!     .patch("machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n")
//!     .control_plane("cp1", "10.0.10.11/24", &pve1)
//!     .control_plane("cp2", "10.0.10.12/24", &pve2)
//!     .control_plane("cp3", "10.0.10.13/24", &pve1)
//!     .worker("w1", "10.0.10.21/24", &pve2).node_patch("machine:\n  nodeLabels:\n    disk: ssd\n")
//!     .add_to(&mut lab);
//! assert_eq!(talos.vms.len(), 4);
//! assert_eq!(talos.isos.len(), 2); // one per Proxmox node
//! let kubeconfig: Output<Secret> = talos.kubeconfig();
//! # let _ = kubeconfig;
//! ```
//!
//! `add_to` adds, in this order:
//!
//! | resource | what |
//! |---|---|
//! | `talos.secrets.<cluster>` | the secrets bundle, generated once (or imported), `prevent_destroy` |
//! | `talos.schematic.<cluster>` | only with `.register_schematic()`: the schematic registered with the Image Factory; every ISO download depends on it |
//! | `proxmox.file.talos-<cluster>-<pve node>` | the schematic's **nocloud ISO** from the Image Factory, `talos-<version>-<id8>-nocloud-amd64.iso`, on the ISO storage of each Proxmox node hosting a Talos VM (once in all if that storage is shared) |
//! | `proxmox.vm.<node>` | one VM per node, see below |
//! | `talos.machine.<node>` | the node's config inputs, its address and its VM |
//! | `talos.cluster.<cluster>` | bootstrap on the first control plane, kubeconfig and talosconfig; after every machine |
//!
//! # Why the VMs look the way they do
//!
//! Each VM follows the Talos Proxmox guide and its issue tracker:
//!
//! - **No clone, an empty `scsi0` disk**, **boot order `scsi0`, `ide2`**,
//!   the ISO in the CD-ROM drive (`ide2`): the empty disk boots nothing so
//!   the ISO boots into maintenance mode; once the machine config is applied
//!   Talos installs to `/dev/sda` and from then on the disk boots. The ISO
//!   stays inserted, so a wiped disk re-installs.
//! - **`virtio-scsi-pci`, not `virtio-scsi-single`**: installs and
//!   bootstraps hang on the latter (talos#11173). Machine `q35`, memory
//!   ballooning off (Talos does not support it).
//! - **Static addresses through cloud-init** (`ipconfig0 =
//!   ip=<cidr>,gw=<gateway>`, nameservers): the maintenance API is only
//!   reachable once the node has an address, and without DHCP only the
//!   nocloud data source can give it one before a machine config exists.
//!   The machine config then configures the same address (`LinkConfig`),
//!   so it survives without the drive.
//! - **The QEMU agent is on exactly when the schematic has
//!   `siderolabs/qemu-guest-agent`**: Proxmox waits for an agent that is
//!   not there otherwise.
//! - **One schematic for the ISO and the installer image**
//!   (`factory.talos.dev/nocloud-installer/<id>:<version>`): an installer of
//!   another schematic drops the ISO's extensions at the first reboot.
//! - Tags `talos` and the cluster's name, started, started on boot.
//!
//! # Versions
//!
//! `.talos_version(..)` is the *installed* version (ISO and installer);
//! `.contract(..)` the machine-config version contract, stored with the
//! secrets and never bumped by upgrades (pain point: regenerating configs
//! for a newer contract broke etcd on Talos 1.14, talos#13885).
//!
//! # Where things were written
//!
//! Every builder method records its line. `add_to` moves each location to
//! the user's call that gave the value: the VM's `cores`/`memory_mb` to
//! `.control_plane_size(..)`, its disk and cloud-init drive to
//! `.vm_storage(..)`, the ISO download's storage to `.iso_storage(..)`,
//! each machine to its `.control_plane(..)`/`.worker(..)`, and patches to
//! their own lines under `patches[i]`, `control_plane_patches[i]`,
//! `worker_patches[i]` and `node_patches[i]` on the machine specs. The
//! cluster spec holds `endpoint`, `vip`, `talos_version`, `contract`,
//! `gateway`, `link` and the other cluster-wide settings. Values wrong in
//! isolation (a malformed CIDR, an endpoint without port, an unknown
//! contract) are recorded with `ResourceSpec::invalid` at that line; rules
//! that need the whole lab are in [`crate::checks`].

mod cluster;
pub(crate) mod kube;
pub(crate) mod net;
mod resources;
mod workload;

pub use cluster::{
    TalosCluster, TalosHandles, DEFAULT_BRIDGE, DEFAULT_CONTRACT, DEFAULT_INSTALL_DISK,
    DEFAULT_KUBERNETES_VERSION, MACHINE_TYPE, SCSI_CONTROLLER,
};
pub use resources::{
    Cluster, ClusterOutputs, Machine, MachineOutputs, SchematicRegistration,
    SchematicRegistrationOutputs, Secrets, SecretsOutputs,
};
pub use workload::{Workload, WorkloadOutputs};
