//! The typed kinds accept exactly what the builders lower to: a lab using
//! every builder option passes `check` with the provider registered (each
//! spec read into its kind), and an attribute the kind does not know is a
//! `core::spec-mismatch` at the line that set it.

use lab_core::prelude::*;
use lab_core::Secret;
use lab_proxmox::api::{Client, ClientConfig};
use lab_proxmox::model::*;
use lab_proxmox::{ProxmoxOptions, ProxmoxProvider};

const SPEC_MISMATCH: &str = "core::spec-mismatch";

/// A provider that is never called (`check` does no IO).
fn provider() -> ProxmoxProvider {
    let config = ClientConfig::new(
        "https://127.0.0.1:8006",
        "lab@pve!lab",
        Secret::new("unused".to_string()),
    );
    ProxmoxProvider::new(Client::new(config).unwrap(), ProxmoxOptions::default())
}

fn everything() -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(provider().shared());
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
    let tank = lab.add(
        NasPool::new("tank")
            .server("10.0.0.5")
            .export("/mnt/tank/pve")
            .on(&nas),
    );
    let nfs = lab.add(
        Storage::nfs("tank-nfs", &tank)
            .content(&[Content::Images, Content::Rootdir])
            .mount_options("vers=4.2")
            .node(&pve1),
    );
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso, Content::Vztmpl, Content::Import])
            .node(&pve1),
    );
    let image = lab.add(
        File::download(
            "debian-13",
            &pve1,
            &local,
            Content::Import,
            "https://cloud.debian.org/images/debian-13-genericcloud-amd64.qcow2",
        )
        .checksum("sha512", "abc123"),
    );
    let iso = lab.add(File::download(
        "talos",
        &pve1,
        &local,
        Content::Iso,
        "https://factory.talos.dev/image/x/v1.13.0/nocloud-amd64.iso",
    ));
    let ct_file = lab.add(
        File::download(
            "debian-ct",
            &pve1,
            &local,
            Content::Vztmpl,
            "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
        )
        .filename("debian-13.tar.zst"),
    );
    let tmpl = lab.add(
        Template::cloud_image("debian-13", &pve1, &image)
            .storage(&lvm)
            .vmid(9000)
            .disk_gb(8)
            .cores(2)
            .memory_mb(2048)
            .tags(&["image"])
            .notes("the base image"),
    );
    let pool = lab.add(Pool::new("apps").comment("applications"));
    lab.add(
        Vm::new("app", &pve1)
            .vmid(120)
            .hostname("app")
            .clone_from(&tmpl)
            .cores(2)
            .sockets(1)
            .memory_mb(4096)
            .cpu("host")
            .disk("scsi0", &lvm, "16G")
            .ssd(true)
            .discard(true)
            .iothread(true)
            .disk("scsi1", &nfs, "100G")
            .nic("net0", "vmbr0")
            .vlan(20)
            .firewall(true)
            .cloud_init(
                CloudInit::new(&lvm)
                    .user("admin")
                    .password(Secret::new("hunter2".to_string()))
                    .ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@laptop")
                    .ipconfig("ip=10.0.20.10/24,gw=10.0.20.1")
                    .nameserver("10.0.0.1")
                    .searchdomain("lan"),
            )
            .cdrom(&iso)
            .scsi_controller("virtio-scsi-pci")
            .machine("q35")
            .balloon_mb(0)
            .agent(true)
            .boot_order(&["scsi0", "net0"])
            .onboot(true)
            .started(true)
            .tags(&["app"])
            .notes("an app")
            .pool(&pool),
    );
    let paperless = lab.add(
        Container::new("paperless", &pve1)
            .vmid(130)
            .hostname("paperless")
            .cores(1)
            .memory_mb(1024)
            .swap_mb(256)
            .ostemplate(&ct_file)
            .rootfs(&lvm, "8G")
            .mount_point("mp0", &nfs, "50G", "/data")
            .nic("net0", "vmbr0")
            .vlan(30)
            .ip("10.0.30.5/24")
            .gw("10.0.30.1")
            .firewall(false)
            .unprivileged(true)
            .nesting(true)
            .keyctl(true)
            .password(Secret::new("secret".to_string()))
            .ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@laptop")
            .onboot(false)
            .started(true)
            .tags(&["docs"])
            .notes("documents")
            .pool(&pool),
    );
    lab.add(
        Container::new("dns", &pve1)
            .ostemplate_volid("local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst")
            .rootfs(&lvm, "4G")
            .nic("net0", "vmbr0")
            .ip("dhcp"),
    );
    let bare = lab.add(Vm::new("bare", &pve1).disk("scsi0", &lvm, "8G"));
    let pbs = lab.add(
        Storage::pbs("pbs-daily", "10.0.0.9", "daily")
            .namespace("pve1")
            .port(8007)
            .token("backup@pbs!pve", Secret::new("token".to_string()))
            .fingerprint("AB:".repeat(31) + "AB")
            .encryption_key(Secret::new("autogen".to_string()))
            .prune_backups(Retention::new().keep_last(3).keep_daily(7))
            .node(&pve1),
    );
    lab.add(
        BackupJob::new("nightly", &pbs, "*-*-* 02:30")
            .guest(&bare)
            .guest(&paperless)
            .vmid(150)
            .node(&pve1)
            .mode(BackupMode::Suspend)
            .compress(Compress::Zstd)
            .enabled(false)
            .retention(
                Retention::new()
                    .keep_weekly(4)
                    .keep_monthly(6)
                    .keep_yearly(1)
                    .keep_hourly(2),
            )
            .notes_template("{{guestname}}")
            .comment("nightly"),
    );
    lab.add(
        BackupJob::new("apps", &pbs, "sun 01:00")
            .pool(&pool)
            .exclude(&bare)
            .exclude_vmid(151),
    );
    lab.add(BackupJob::new("everything", &pbs, "daily").all());
    let zone = lab.add(SdnZone::vlan("lab", "vmbr0").mtu(9000).node(&pve1));
    lab.add(
        Vnet::new("dmz", &zone, 40)
            .alias("DMZ (public)")
            .isolate_ports(true)
            .subnet("10.0.40.0/24", Some("10.0.40.1"))
            .subnet("fd00:40::/64", None),
    );
    let simple = lab.add(SdnZone::simple("nat"));
    lab.add(
        Vnet::untagged("natnet", &simple)
            .subnet("10.99.0.0/24", Some("10.99.0.1"))
            .snat(true),
    );
    lab
}

#[test]
fn every_builder_option_fits_its_kind() {
    let diags = everything().check();
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn an_attribute_the_kind_does_not_know_is_a_spec_mismatch() {
    let mut lab = everything();
    let pve1 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let mut odd = Pool::new("odd");
    odd.spec_mut().set("colour", "blue");
    lab.add(odd);
    let mut typo = Vm::new("typo", &pve1);
    typo.spec_mut().set("cores", "two");
    lab.add(typo);
    let diags = lab.check();
    let mismatches: Vec<&str> = diags
        .iter()
        .filter(|d| d.code == SPEC_MISMATCH)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(mismatches.len(), 2, "{mismatches:#?}");
    assert!(mismatches
        .iter()
        .any(|m| m.contains("proxmox.pool.odd") && m.contains("colour")));
    assert!(mismatches
        .iter()
        .any(|m| m.contains("proxmox.vm.typo") && m.contains("cores")));
}
