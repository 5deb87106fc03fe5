//! Compute: the three Proxmox VE nodes, their storages, and what guests
//! are made from.

use lab::prelude::*;
use lab::proxmox::model::{CloudInit, Container, Content, File, Node, Storage, Template, Vm};
use lab::talos::factory::{Schematic, QEMU_GUEST_AGENT};
use lab::talos::model::{TalosCluster, TalosHandles};

/// Debian 13's LXC template, as Proxmox publishes it.
const DEBIAN_CT: &str =
    "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst";
/// Debian 13's cloud image, for the VMs.
const DEBIAN_VM: &str =
    "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2";

/// The key the VMs' `admin` user accepts.
const ADMIN_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@laptop";

/// What the other areas build on.
pub struct Compute {
    /// pve1, pve2, pve3.
    pub nodes: [Handle<Node>; 3],
    /// Each node's own disk (LVM thin): root disks.
    pub lvm: Handle<Storage>,
    /// Each node's `local` directory: templates, ISOs, images.
    pub local: Handle<Storage>,
    /// The container template, downloaded on each node.
    debian_ct: [Handle<File>; 3],
    /// The VM template (from the cloud image), on each node.
    debian_vm: [Handle<Template>; 3],
}

/// Adds the nodes, their storages and the templates.
pub fn add(lab: &mut Lab) -> Compute {
    // The simulated cluster has pve1 and pve2; pve3 joins it from here.
    let nodes = ["pve1", "pve2", "pve3"]
        .map(|name| lab.add(Node::new(name).bridge("vmbr0").cores(32).memory_gb(96)));
    // A node's own disk fails with the node.
    for node in &nodes {
        lab.add(Node::local_disk(node));
    }
    let mut lvm = Storage::existing("local-lvm").content(&[Content::Images, Content::Rootdir]);
    let mut local =
        Storage::existing("local").content(&[Content::Vztmpl, Content::Iso, Content::Import]);
    for node in &nodes {
        lvm = lvm.node(node);
        local = local.node(node);
    }
    let lvm = lab.add(lvm);
    let local = lab.add(local);
    // `local` is each node's own disk: each node downloads what it uses.
    let debian_ct = nodes.each_ref().map(|node| {
        lab.add(File::download(
            format!("debian-13-ct-{}", node.address().name()),
            node,
            &local,
            Content::Vztmpl,
            DEBIAN_CT,
        ))
    });
    let debian_vm = nodes.each_ref().map(|node| {
        let name = format!("debian-13-{}", node.address().name());
        let image = lab.add(
            File::download(&name, node, &local, Content::Import, DEBIAN_VM)
                .filename("debian-13-genericcloud-amd64.qcow2"),
        );
        lab.add(
            Template::cloud_image(&name, node, &image)
                .storage(&lvm)
                .disk_gb(8),
        )
    });
    Compute {
        nodes,
        lvm,
        local,
        debian_ct,
        debian_vm,
    }
}

impl Compute {
    /// The node `pveN` (1-based, as the names).
    pub fn node(&self, n: usize) -> &Handle<Node> {
        &self.nodes[n - 1]
    }

    /// A Debian container on `pveN`: `cores`, `memory_mb`, an 8 GB root
    /// disk, started at boot. Services finish it.
    pub fn container(
        &self,
        n: usize,
        cores: u32,
        memory_mb: u32,
    ) -> impl FnOnce(Container) -> Container + '_ {
        move |ct| {
            ct.ostemplate(&self.debian_ct[n - 1])
                .cores(cores)
                .memory_mb(memory_mb)
                .rootfs(&self.lvm, "8G")
                .onboot(true)
        }
    }

    /// A Debian VM on `pveN` from the cloud image: `cores`, `memory_mb`,
    /// a root disk of `disk`, cloud-init, the guest agent.
    pub fn vm(
        &self,
        n: usize,
        cores: u32,
        memory_mb: u32,
        disk: &'static str,
    ) -> impl FnOnce(Vm) -> Vm + '_ {
        move |vm| {
            vm.clone_from(&self.debian_vm[n - 1])
                .cores(cores)
                .memory_mb(memory_mb)
                .disk("scsi0", &self.lvm, disk)
                .cloud_init(CloudInit::new(&self.lvm).user("admin").ssh_key(ADMIN_KEY))
                .agent(true)
                .onboot(true)
        }
    }
}

/// The Talos Kubernetes cluster on VMs: one control plane per node behind
/// a VIP, two workers, on the servers VLAN below the IPAM's pool. Its VMs
/// are rebuilt from this code and the cluster's state is in etcd, so vzdump
/// does not copy them.
pub fn kubernetes(lab: &mut Lab, compute: &Compute) -> TalosHandles {
    let [pve1, pve2, pve3] = &compute.nodes;
    let cluster = TalosCluster::new("home", "https://10.0.20.10:6443")
        .talos_version("v1.13.9")
        .kubernetes_version("1.36.3")
        .schematic(Schematic::new().extension(QEMU_GUEST_AGENT))
        .vip("10.0.20.10")
        .link("ens18")
        .gateway("10.0.20.1")
        .nameservers(&["10.0.20.1"])
        .vm_storage(&compute.lvm)
        .iso_storage(&compute.local)
        .bridge("vmbr0")
        .vlan(20)
        .control_plane("cp1", "10.0.20.11/24", pve1)
        .control_plane("cp2", "10.0.20.12/24", pve2)
        .control_plane("cp3", "10.0.20.13/24", pve3)
        .worker("w1", "10.0.20.21/24", pve1)
        .worker("w2", "10.0.20.22/24", pve2)
        .add_to(lab);
    for vm in &cluster.vms {
        lab.waive(
            vm,
            "pbs::guest-not-backed-up",
            "rebuilt from this code; the cluster's state is in etcd",
        );
    }
    cluster
}
