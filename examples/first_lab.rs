//! The lab of the README's "A lab is a `main.rs`": three Proxmox VE nodes,
//! a cloud-image template, a VM cloned from it and a container.
//!
//! ```sh
//! cargo run --example first_lab --features proxmox,sim -- apply --auto-approve
//! cargo run --example first_lab --features proxmox,sim -- plan    # No changes.
//! ```
//!
//! tests/readme.rs checks that the README shows this file verbatim.

use lab::prelude::*;
use lab::proxmox::model::*;
use lab::proxmox::sim::SimConfig;
use lab::proxmox::{Connection, ProxmoxOptions};

const DEBIAN: &str =
    "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2";
const DEBIAN_CT: &str =
    "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst";

fn main() {
    // A live cluster if PVE_ENDPOINT, PVE_TOKEN_ID and PVE_TOKEN_SECRET are
    // set, else the embedded simulator, kept in .lab/sim/pve.json.
    let pve = Connection::from_env_or_simulated(SimConfig::default(), ".lab/sim/pve.json")
        .unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        });
    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));

    // The simulated cluster has pve1 and pve2; pve3 joins it from here.
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve3 = lab.add(Node::new("pve3").bridge("vmbr0"));
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Import, Content::Vztmpl])
            .node(&pve1)
            .node(&pve3),
    );
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1)
            .node(&pve3),
    );

    // A Debian cloud image, downloaded by the node, made a template.
    let image = lab.add(
        File::download("debian-13", &pve1, &local, Content::Import, DEBIAN)
            .filename("debian-13-genericcloud-amd64.qcow2"),
    );
    let debian = lab.add(
        Template::cloud_image("debian-13", &pve1, &image)
            .storage(&lvm)
            .disk_gb(8),
    );
    lab.add(
        Vm::new("web", &pve1)
            .clone_from(&debian)
            .cores(2)
            .memory_mb(2048)
            .disk("scsi0", &lvm, "16G")
            .nic("net0", "vmbr0")
            .cloud_init(CloudInit::new(&lvm).user("admin").ipconfig("ip=dhcp")),
    );

    // A container on the third node.
    let ct_image = lab.add(File::download(
        "debian-13-ct",
        &pve3,
        &local,
        Content::Vztmpl,
        DEBIAN_CT,
    ));
    lab.add(
        Container::new("dns", &pve3)
            .ostemplate(&ct_image)
            .cores(1)
            .memory_mb(512)
            .rootfs(&lvm, "4G")
            .nic("net0", "vmbr0")
            .ip("dhcp"),
    );

    lab::cli::run(lab) // check, plan, apply, destroy, graph, state, output
}
