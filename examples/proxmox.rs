//! A Proxmox VE lab: two nodes, an NFS storage exported by a NAS pool, a
//! Debian cloud-image template, three VMs cloned from it and two
//! containers, all on VLAN-tagged NICs.
//!
//! ```sh
//! cargo run --example proxmox --features proxmox,sim -- apply --auto-approve   # against the simulator
//! cargo run --example proxmox --features proxmox,sim -- plan                   # "No changes."
//! ```
//!
//! With no `PVE_*` environment variables it runs against the embedded
//! simulated cluster, kept in `.lab/sim/pve.json`. To run it against a real
//! cluster, set `PVE_ENDPOINT`, `PVE_TOKEN_ID`, `PVE_TOKEN_SECRET` and
//! (for a self-signed node certificate) `PVE_FINGERPRINT`; see
//! `lab_proxmox::connect`.

use lab::prelude::*;
use lab::proxmox::model::*;
use lab::proxmox::sim::SimConfig;
use lab::proxmox::{Connection, ProxmoxOptions};

fn main() {
    // A live cluster if PVE_* is set, else the simulator (state in .lab/sim/).
    let pve = match Connection::from_env_or_simulated(SimConfig::default(), ".lab/sim/pve.json") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("talking to {}", pve.describe());

    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));

    // The cluster's nodes, their bridges, and each node's local disk as a
    // failure domain.
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    lab.add(Node::local_disk(&pve1));
    lab.add(Node::local_disk(&pve2));

    // The NAS, its ZFS pool exported over NFS, and the Proxmox storage on it.
    let nas = lab.add(
        Appliance::new("nas")
            .kind(ApplianceKind::Nas)
            .site("basement"),
    );
    let tank = lab.add(
        NasPool::new("tank")
            .server("10.0.10.5")
            .export("/mnt/tank/pve")
            .on(&nas),
    );
    let nfs = lab.add(
        Storage::nfs("tank-nfs", &tank)
            .content(&[Content::Images, Content::Rootdir])
            .mount_options("vers=4.2"),
    );

    // The storages every fresh node has (one id, on each node's own disk).
    let lvm1 = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1)
            .node(&pve2),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[
                Content::Iso,
                Content::Vztmpl,
                Content::Import,
                Content::Backup,
            ])
            .node(&pve1)
            .node(&pve2),
    );

    // A Debian cloud image, downloaded by the node itself (no SSH), turned
    // into a template.
    let image = lab.add(
        File::download(
            "debian-13",
            &pve1,
            &local,
            Content::Import,
            "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
        )
        .filename("debian-13-genericcloud-amd64.qcow2"),
    );
    let debian = lab.add(
        Template::cloud_image("debian-13", &pve1, &image)
            .storage(&lvm1)
            .disk_gb(8),
    );

    let apps = lab.add(Pool::new("apps").comment("self-hosted applications"));
    let admin_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@laptop";

    // Three VMs cloned from the template, on the services VLAN (20).
    for (i, (name, cores, mem, data)) in [
        ("immich", 4, 8192, "200G"),
        ("nextcloud", 2, 4096, "100G"),
        ("homeassistant", 2, 2048, "16G"),
    ]
    .into_iter()
    .enumerate()
    {
        lab.add(
            Vm::new(name, &pve1)
                .clone_from(&debian)
                .cores(cores)
                .memory_mb(mem)
                .disk("scsi0", &lvm1, "16G")
                .disk("scsi1", &nfs, data)
                .nic("net0", "vmbr0")
                .vlan(20)
                .cloud_init(
                    CloudInit::new(&lvm1)
                        .user("admin")
                        .ssh_key(admin_key)
                        .ipconfig(&format!("ip=10.0.20.{}/24,gw=10.0.20.1", 10 + i)),
                )
                .onboot(true)
                .tags(&["apps"])
                .pool(&apps),
        );
    }

    // Two containers on the documents VLAN (30), on the second node.
    let ct_template = lab.add(File::download(
        "debian-13-ct",
        &pve2,
        &local,
        Content::Vztmpl,
        "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
    ));
    for (name, data) in [("paperless", "50G"), ("mealie", "5G")] {
        lab.add(
            Container::new(name, &pve2)
                .ostemplate(&ct_template)
                .cores(2)
                .memory_mb(1024)
                .rootfs(&lvm1, "8G")
                .mount_point("mp0", &nfs, data, "/data")
                .nic("net0", "vmbr0")
                .vlan(30)
                .ip("dhcp")
                .nesting(true)
                .onboot(true)
                .tags(&["docs"])
                .pool(&apps),
        );
    }

    lab::cli::run(lab)
}
