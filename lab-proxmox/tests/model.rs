//! The typed builders lower to exactly the attributes of `kinds.rs`, and
//! every Proxmox check fires at the user's line.

use indexmap::IndexMap;
use lab_core::checks::builtin::INVALID_VALUE;
use lab_core::prelude::*;
use lab_core::value::OutputRef;
use lab_core::{Address, Attrs, ResourceSpec};
use lab_proxmox::checks;
use lab_proxmox::kinds;
use lab_proxmox::model::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn attrs(pairs: Vec<(&str, Value)>) -> Attrs {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<IndexMap<_, _>>(),
    )
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn reference(address: &str, output: &str) -> Value {
    Value::Ref(OutputRef {
        address: Address::parse(address).unwrap(),
        output: output.into(),
    })
}

fn spec<'a, R>(lab: &'a Lab, h: &Handle<R>) -> &'a ResourceSpec {
    lab.resource(h.address()).unwrap()
}

/// The edges of a resource as `(on, via)`, in order.
fn edges(spec: &ResourceSpec) -> Vec<(String, String)> {
    spec.deps
        .iter()
        .map(|d| (d.on.to_string(), d.via.clone()))
        .collect()
}

fn lab() -> Lab {
    let mut lab = Lab::new("t");
    checks::register(&mut lab);
    lab
}

fn find<'a>(diags: &'a [Diagnostic], code: &str) -> Vec<&'a Diagnostic> {
    diags.iter().filter(|d| d.code == code).collect()
}

fn one<'a>(diags: &'a [Diagnostic], code: &str) -> &'a Diagnostic {
    let found = find(diags, code);
    assert_eq!(found.len(), 1, "expected one {code} in {diags:#?}");
    found[0]
}

fn lines(d: &Diagnostic) -> Vec<(&'static str, u32)> {
    d.labels
        .iter()
        .map(|l| (l.loc.file(), l.loc.line()))
        .collect()
}

/// A small lab the check tests build on: a node with vmbr0, a local-lvm
/// for disks and root filesystems, `local` for files.
struct Base {
    lab: Lab,
    pve1: Handle<Node>,
    lvm: Handle<Storage>,
    local: Handle<Storage>,
}

fn base() -> Base {
    let mut lab = lab();
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
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
    Base {
        lab,
        pve1,
        lvm,
        local,
    }
}

// ---------------------------------------------------------------------------
// Lowering
// ---------------------------------------------------------------------------

#[test]
fn the_example_lab_lowers_to_the_kinds_contract_and_is_clean() {
    let mut lab = lab();
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0").bridge("vmbr1"));
    let pve1_disk = lab.add(Node::local_disk(&pve1));
    let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
    let tank = lab.add(
        NasPool::new("tank")
            .server("10.0.0.5")
            .export("/mnt/tank/pve")
            .on(&nas),
    );
    let nfs = lab.add(
        Storage::nfs("tank-nfs", &tank)
            .content(&[
                Content::Images,
                Content::Rootdir,
                Content::Import,
                Content::Vztmpl,
            ])
            .mount_options("vers=4.2"),
    );
    let local_lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .on(&pve1_disk)
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[
                Content::Iso,
                Content::Vztmpl,
                Content::Import,
                Content::Backup,
            ])
            .on(&pve1_disk)
            .node(&pve1),
    );
    let image = lab.add(
        File::download(
            "debian-13",
            &pve1,
            &local,
            Content::Import,
            "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
        )
        .filename("debian-13-genericcloud-amd64.qcow2")
        .checksum("sha512", "abc123"),
    );
    let tmpl = lab.add(
        Template::cloud_image("debian-13", &pve1, &image)
            .storage(&local_lvm)
            .vmid(9000)
            .disk_gb(8),
    );
    let old = lab.add(Template::existing("ubuntu-old", &pve1, 9001));
    let pool = lab.add(Pool::new("apps").comment("applications"));
    let vm = lab.add(
        Vm::new("immich", &pve1)
            .clone_from(&tmpl)
            .cores(4)
            .memory_mb(8192)
            .disk("scsi0", &local_lvm, "32G")
            .disk("scsi1", &nfs, "200G")
            .nic("net0", "vmbr0")
            .vlan(20)
            .cloud_init(
                CloudInit::new(&local_lvm)
                    .user("admin")
                    .ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me@laptop")
                    .ipconfig("ip=10.0.20.5/24,gw=10.0.20.1"),
            )
            .agent(true)
            .boot_order(&["scsi0", "net0"])
            .onboot(true)
            .tags(&["photos"])
            .notes("Immich photo server")
            .pool(&pool),
    );
    let ct_tmpl = lab.add(File::download(
        "debian-13-ct",
        &pve1,
        &local,
        Content::Vztmpl,
        "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
    ));
    let ct = lab.add(
        Container::new("paperless", &pve1)
            .ostemplate(&ct_tmpl)
            .cores(2)
            .memory_mb(2048)
            .swap_mb(512)
            .rootfs(&local_lvm, "8G")
            .mount_point("mp0", &nfs, "100G", "/data")
            .nic("net0", "vmbr0")
            .vlan(30)
            .ip("dhcp")
            .unprivileged(true)
            .nesting(true)
            .onboot(true)
            .tags(&["docs"])
            .pool(&pool),
    );
    let clone_of_old = lab.add(Vm::new("legacy", &pve1).clone_from(&old).vmid(120));
    let vmid: Output<i64> = vm.vmid();
    assert_eq!(vmid.address(), vm.address());

    let diags = lab.check();
    assert!(
        diags.iter().all(|d| !d.is_blocking()),
        "the example lab must be clean: {diags:#?}"
    );
    assert!(diags.is_empty(), "{diags:#?}");

    // Model-only resources.
    let node = spec(&lab, &pve1);
    assert!(!node.managed);
    assert_eq!(node.kind(), kinds::NODE);
    assert_eq!(
        node.attrs,
        attrs(vec![
            ("bridges", list(&["vmbr0", "vmbr1"])),
            ("appliance", "appliance.pve1-disk".into()),
        ])
    );
    assert_eq!(pve1_disk.address().to_string(), "appliance.pve1-disk");
    assert_eq!(
        spec(&lab, &pve1_disk).attrs["kind"],
        Value::from("node-disk")
    );
    let pool_spec = spec(&lab, &tank);
    assert!(!pool_spec.managed);
    assert_eq!(
        pool_spec.attrs,
        attrs(vec![
            ("server", "10.0.0.5".into()),
            ("export", "/mnt/tank/pve".into()),
            ("appliance", "appliance.nas".into()),
        ])
    );
    let lvm = spec(&lab, &local_lvm);
    assert!(!lvm.managed);
    assert_eq!(
        lvm.attrs,
        attrs(vec![
            ("storage", "local-lvm".into()),
            ("content", list(&["images", "rootdir"])),
            ("shared", false.into()),
            ("nodes", list(&["pve1"])),
            ("appliance", "appliance.pve1-disk".into()),
        ])
    );
    assert_eq!(
        spec(&lab, &local).attrs["content"],
        list(&["backup", "import", "iso", "vztmpl"]),
        "content is sorted"
    );
    let old_spec = spec(&lab, &old);
    assert!(!old_spec.managed);
    assert_eq!(
        old_spec.attrs,
        attrs(vec![("node", "pve1".into()), ("vmid", Value::Int(9001))])
    );

    // NFS storage: server/export are the pool's, `pool` is its address.
    let nfs_spec = spec(&lab, &nfs);
    assert!(nfs_spec.managed);
    assert_eq!(
        nfs_spec.attrs,
        attrs(vec![
            ("storage", "tank-nfs".into()),
            ("type", "nfs".into()),
            ("server", reference("proxmox.nas-pool.tank", "server")),
            ("export", reference("proxmox.nas-pool.tank", "export")),
            ("content", list(&["images", "import", "rootdir", "vztmpl"])),
            ("pool", "proxmox.nas-pool.tank".into()),
            ("options", "vers=4.2".into()),
        ])
    );
    assert_eq!(
        edges(nfs_spec),
        vec![("proxmox.nas-pool.tank".to_string(), "pool".to_string())]
    );
    assert_eq!(
        checks::appliance_of(&lab, nfs_spec).map(|a| a.to_string()),
        Some("appliance.nas".into())
    );

    // The downloaded image and the template made from it.
    assert_eq!(
        spec(&lab, &image).attrs,
        attrs(vec![
            ("node", "pve1".into()),
            ("storage", "local".into()),
            ("content", "import".into()),
            ("filename", "debian-13-genericcloud-amd64.qcow2".into()),
            (
                "url",
                "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2"
                    .into()
            ),
            ("checksum", "abc123".into()),
            ("checksum_algorithm", "sha512".into()),
        ])
    );
    assert_eq!(
        spec(&lab, &ct_tmpl).attrs["filename"],
        Value::from("debian-13-standard_13.1-2_amd64.tar.zst"),
        "the file name defaults to the URL's last segment"
    );
    let t = spec(&lab, &tmpl);
    assert_eq!(
        t.attrs,
        attrs(vec![
            ("node", "pve1".into()),
            ("name", "debian-13".into()),
            ("image", reference("proxmox.file.debian-13", "volid")),
            ("image_file", "proxmox.file.debian-13".into()),
            ("cores", Value::Int(1)),
            ("memory_mb", Value::Int(1024)),
            ("storage", "local-lvm".into()),
            ("vmid", Value::Int(9000)),
            ("disk_gb", Value::Int(8)),
        ])
    );
    assert_eq!(
        edges(t),
        vec![
            ("proxmox.node.pve1".to_string(), "node".to_string()),
            ("proxmox.file.debian-13".to_string(), "image".to_string()),
            (
                "proxmox.storage.local-lvm".to_string(),
                "storage".to_string()
            ),
        ]
    );

    // The VM.
    let v = spec(&lab, &vm);
    assert_eq!(
        v.attrs,
        attrs(vec![
            ("node", "pve1".into()),
            ("name", "immich".into()),
            ("cores", Value::Int(4)),
            ("memory_mb", Value::Int(8192)),
            ("agent", true.into()),
            ("onboot", true.into()),
            ("started", true.into()),
            ("clone_from", "proxmox.template.debian-13".into()),
            (
                "clone_vmid",
                reference("proxmox.template.debian-13", "vmid")
            ),
            (
                "clone_node",
                reference("proxmox.template.debian-13", "node")
            ),
            (
                "cloud_init",
                map(vec![
                    ("storage", "local-lvm".into()),
                    ("user", "admin".into()),
                    (
                        "ssh_keys",
                        list(&["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me@laptop"])
                    ),
                    ("ipconfig", list(&["ip=10.0.20.5/24,gw=10.0.20.1"])),
                ])
            ),
            ("boot_order", list(&["scsi0", "net0"])),
            ("tags", list(&["photos"])),
            ("notes", "Immich photo server".into()),
            ("pool", "apps".into()),
            (
                "nics",
                Value::List(vec![map(vec![
                    ("slot", "net0".into()),
                    ("model", "virtio".into()),
                    ("bridge", "vmbr0".into()),
                    ("tag", Value::Int(20)),
                ])])
            ),
            (
                "disks",
                Value::List(vec![
                    map(vec![
                        ("slot", "scsi0".into()),
                        ("storage", "local-lvm".into()),
                        ("size_gb", Value::Int(32)),
                    ]),
                    map(vec![
                        ("slot", "scsi1".into()),
                        ("storage", "tank-nfs".into()),
                        ("size_gb", Value::Int(200)),
                    ]),
                ])
            ),
        ])
    );
    assert_eq!(
        edges(v),
        vec![
            ("proxmox.node.pve1".to_string(), "node".to_string()),
            (
                "proxmox.template.debian-13".to_string(),
                "clone_from".to_string()
            ),
            (
                "proxmox.template.debian-13".to_string(),
                "clone_vmid".to_string()
            ),
            (
                "proxmox.template.debian-13".to_string(),
                "clone_node".to_string()
            ),
            ("proxmox.storage.local-lvm".to_string(), "disks".to_string()),
            ("proxmox.storage.tank-nfs".to_string(), "disks".to_string()),
            (
                "proxmox.storage.local-lvm".to_string(),
                "cloud_init".to_string()
            ),
            ("proxmox.pool.apps".to_string(), "pool".to_string()),
        ]
    );
    // A clone of an existing template refers to its vmid the same way.
    assert_eq!(
        spec(&lab, &clone_of_old).attrs["clone_vmid"],
        reference("proxmox.template.ubuntu-old", "vmid")
    );

    // The container.
    let c = spec(&lab, &ct);
    assert_eq!(
        c.attrs,
        attrs(vec![
            ("node", "pve1".into()),
            ("hostname", "paperless".into()),
            ("cores", Value::Int(2)),
            ("memory_mb", Value::Int(2048)),
            ("swap_mb", Value::Int(512)),
            ("unprivileged", true.into()),
            ("onboot", true.into()),
            ("started", true.into()),
            (
                "ostemplate",
                reference("proxmox.file.debian-13-ct", "volid")
            ),
            ("ostemplate_file", "proxmox.file.debian-13-ct".into()),
            (
                "rootfs",
                map(vec![
                    ("storage", "local-lvm".into()),
                    ("size_gb", Value::Int(8)),
                ])
            ),
            ("features", map(vec![("nesting", true.into())])),
            ("tags", list(&["docs"])),
            ("pool", "apps".into()),
            (
                "nics",
                Value::List(vec![map(vec![
                    ("slot", "net0".into()),
                    ("name", "eth0".into()),
                    ("bridge", "vmbr0".into()),
                    ("tag", Value::Int(30)),
                    ("ip", "dhcp".into()),
                ])])
            ),
            (
                "mountpoints",
                Value::List(vec![map(vec![
                    ("slot", "mp0".into()),
                    ("storage", "tank-nfs".into()),
                    ("size_gb", Value::Int(100)),
                    ("path", "/data".into()),
                ])])
            ),
        ])
    );
    assert_eq!(
        edges(c),
        vec![
            ("proxmox.node.pve1".to_string(), "node".to_string()),
            (
                "proxmox.file.debian-13-ct".to_string(),
                "ostemplate".to_string()
            ),
            (
                "proxmox.storage.local-lvm".to_string(),
                "rootfs".to_string()
            ),
            (
                "proxmox.storage.tank-nfs".to_string(),
                "mountpoints".to_string()
            ),
            ("proxmox.pool.apps".to_string(), "pool".to_string()),
        ]
    );

    assert_eq!(
        spec(&lab, &pool).attrs,
        attrs(vec![
            ("poolid", "apps".into()),
            ("comment", "applications".into())
        ])
    );

    // Every managed kind is one the provider applies; the rest are model only.
    for s in lab.resources() {
        if s.kind().starts_with("proxmox.") {
            let managed_kind = kinds::MANAGED.contains(&s.kind());
            assert!(
                !s.managed || managed_kind,
                "{} is managed but its kind is not",
                s.address
            );
        }
    }
}

#[test]
fn defaults_follow_the_contract() {
    let Base {
        mut lab, pve1, lvm, ..
    } = base();
    let vm = lab.add(Vm::new("plain", &pve1));
    let ct = lab.add(
        Container::new("box", &pve1)
            .ostemplate_volid("local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst")
            .rootfs(&lvm, "4G")
            .nic("net1", "vmbr0")
            .firewall(true),
    );
    assert_eq!(
        spec(&lab, &vm).attrs,
        attrs(vec![
            ("node", "pve1".into()),
            ("name", "plain".into()),
            ("cores", Value::Int(1)),
            ("memory_mb", Value::Int(1024)),
            ("agent", true.into()),
            ("onboot", false.into()),
            ("started", true.into()),
            ("nics", Value::List(vec![])),
            ("disks", Value::List(vec![])),
        ])
    );
    assert_eq!(
        spec(&lab, &ct).attrs,
        attrs(vec![
            ("node", "pve1".into()),
            ("hostname", "box".into()),
            ("cores", Value::Int(1)),
            ("memory_mb", Value::Int(512)),
            ("swap_mb", Value::Int(512)),
            ("unprivileged", true.into()),
            ("onboot", false.into()),
            ("started", true.into()),
            (
                "ostemplate",
                "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst".into()
            ),
            (
                "rootfs",
                map(vec![
                    ("storage", "local-lvm".into()),
                    ("size_gb", Value::Int(4))
                ])
            ),
            (
                "nics",
                Value::List(vec![map(vec![
                    ("slot", "net1".into()),
                    ("name", "eth1".into()),
                    ("bridge", "vmbr0".into()),
                    ("firewall", true.into()),
                ])])
            ),
        ])
    );
    assert!(lab.check().iter().all(|d| !d.is_blocking()));
}

#[test]
fn sizes_units_tags_and_options_lower_as_documented() {
    let Base {
        mut lab, pve1, lvm, ..
    } = base();
    let vm = lab.add(
        Vm::new("big", &pve1)
            .hostname("big.lan")
            .sockets(2)
            .cpu("host")
            .disk("virtio0", &lvm, "1T")
            .ssd(true)
            .discard(true)
            .iothread(true)
            .disk("sata5", &lvm, "2048M")
            .tags(&["zeta", "alpha"])
            .tags(&["alpha", "mid"])
            .started(false),
    );
    let s = spec(&lab, &vm);
    assert_eq!(s.attrs["name"], Value::from("big.lan"));
    assert_eq!(s.attrs["sockets"], Value::Int(2));
    assert_eq!(s.attrs["cpu"], Value::from("host"));
    assert_eq!(s.attrs["started"], Value::Bool(false));
    assert_eq!(s.attrs["tags"], list(&["alpha", "mid", "zeta"]));
    assert_eq!(
        s.attrs["disks"],
        Value::List(vec![
            map(vec![
                ("slot", "virtio0".into()),
                ("storage", "local-lvm".into()),
                ("size_gb", Value::Int(1024)),
                ("ssd", true.into()),
                ("discard", true.into()),
                ("iothread", true.into()),
            ]),
            map(vec![
                ("slot", "sata5".into()),
                ("storage", "local-lvm".into()),
                ("size_gb", Value::Int(2)),
            ]),
        ])
    );
    assert!(lab.check().iter().all(|d| !d.is_blocking()));
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn builder_lines_are_recorded_per_item() {
    let Base {
        mut lab, pve1, lvm, ..
    } = base();
    let declared = line!() + 1;
    let vm = lab.add(Vm::new("lines", &pve1)
        .disk("scsi0", &lvm, "8G")
        .ssd(true)
        .nic("net0", "vmbr0")
        .vlan(7));
    let s = spec(&lab, &vm);
    assert_eq!(s.declared_at.line(), declared);
    assert_eq!(s.declared_at.file(), file!());
    assert_eq!(s.loc_of("disks.scsi0").line(), declared + 1);
    assert_eq!(s.loc_of("disks.scsi0.ssd").line(), declared + 2);
    assert_eq!(s.loc_of("nics.net0").line(), declared + 3);
    assert_eq!(s.loc_of("nics.net0.tag").line(), declared + 4);
    assert_eq!(s.loc_of("cores").line(), declared, "defaults point at the declaration");
    let mac = vm.macs();
    assert_eq!(mac.name(), "macs");
}

// ---------------------------------------------------------------------------
// Checks, each at the user's line
// ---------------------------------------------------------------------------

#[test]
#[rustfmt::skip] // the assertions count lines
fn vmid_out_of_range_points_at_the_vmid() {
    let Base { mut lab, pve1, .. } = base();
    let line = line!() + 1;
    lab.add(Vm::new("low", &pve1).vmid(99));
    lab.add(Vm::new("ok", &pve1).vmid(100));
    let diags = lab.check();
    let d = one(&diags, checks::VMID_RANGE);
    assert!(d.is_blocking());
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert_eq!(d.resource.as_ref().unwrap().to_string(), "proxmox.vm.low");
    assert!(d.help.as_deref().unwrap().contains("100 to 999999999"));
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn vmid_reused_labels_both_lines() {
    let Base {
        mut lab, pve1, lvm, ..
    } = base();
    let first = line!() + 1;
    lab.add(Template::existing("golden", &pve1, 9000));
    let second = line!() + 1;
    lab.add(Container::new("dup", &pve1).vmid(9000).ostemplate_volid("local:vztmpl/x.tar.zst").rootfs(&lvm, "8G"));
    lab.add(Vm::new("other", &pve1).vmid(9002));
    let diags = lab.check();
    let d = one(&diags, checks::VMID_REUSED);
    assert!(d.is_blocking());
    assert_eq!(lines(d), vec![(file!(), second), (file!(), first)]);
    assert!(d.message.contains("proxmox.template.golden"), "{}", d.message);
    assert!(d.labels[1].text.contains("first used by"));
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn zero_cores_and_memory_are_errors() {
    let Base { mut lab, pve1, .. } = base();
    let cores = line!() + 1;
    lab.add(Vm::new("nocpu", &pve1).cores(0));
    let memory = line!() + 1;
    lab.add(Vm::new("nomem", &pve1).memory_mb(0));
    let diags = lab.check();
    let found = find(&diags, checks::ZERO_RESOURCES);
    assert_eq!(found.len(), 2, "{diags:#?}");
    let mut got: Vec<u32> = found.iter().map(|d| d.file_line().unwrap().1).collect();
    got.sort();
    assert_eq!(got, vec![cores, memory]);
    assert!(found.iter().all(|d| d.is_blocking()));
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn vlan_out_of_range_points_at_the_tag() {
    let Base { mut lab, pve1, .. } = base();
    lab.add(Vm::new("zero", &pve1).nic("net0", "vmbr0")
        .vlan(0));
    let zero = line!() - 1;
    let high = line!() + 1;
    lab.add(Vm::new("high", &pve1).nic("net0", "vmbr0").vlan(4095));
    lab.add(Vm::new("ok", &pve1).nic("net0", "vmbr0").vlan(4094));
    let diags = lab.check();
    let found = find(&diags, checks::VLAN_RANGE);
    assert_eq!(found.len(), 2, "{diags:#?}");
    let mut got: Vec<u32> = found.iter().map(|d| d.file_line().unwrap().1).collect();
    got.sort();
    assert_eq!(got, vec![zero, high]);
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn a_disk_on_a_storage_without_images_labels_the_disk_and_the_content() {
    let mut lab = lab();
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let content_line = line!() + 1;
    let iso = lab.add(Storage::existing("isos").content(&[Content::Iso]));
    let rootdir = lab.add(Storage::existing("cts").content(&[Content::Rootdir]));
    let disk_line = line!() + 1;
    lab.add(Vm::new("db", &pve1).disk("scsi0", &iso, "32G"));
    let ci_line = line!() + 1;
    lab.add(Vm::new("ci", &pve1).cloud_init(CloudInit::new(&iso).user("admin")));
    let rootfs_line = line!() + 1;
    lab.add(Container::new("ct", &pve1).ostemplate_volid("local:vztmpl/x.tar.zst").rootfs(&iso, "8G"));
    let file_line = line!() + 1;
    lab.add(File::download("img", &pve1, &rootdir, Content::Import, "https://example.org/a.qcow2"));
    let diags = lab.check();
    let found = find(&diags, checks::STORAGE_CONTENT);
    assert_eq!(found.len(), 4, "{diags:#?}");
    let disk = found
        .iter()
        .find(|d| d.resource.as_ref().unwrap().name() == "db")
        .unwrap();
    assert_eq!(
        lines(disk),
        vec![(file!(), disk_line), (file!(), content_line)]
    );
    assert!(disk.message.contains("disk scsi0"), "{}", disk.message);
    assert!(disk.message.contains("`images`"), "{}", disk.message);
    assert!(disk.help.as_deref().unwrap().contains("Content::Images"));
    let by_name = |n: &str| {
        found
            .iter()
            .find(|d| d.resource.as_ref().unwrap().name() == n)
            .unwrap()
            .file_line()
            .unwrap()
            .1
    };
    assert_eq!(by_name("ci"), ci_line);
    assert_eq!(by_name("ct"), rootfs_line);
    assert_eq!(by_name("img"), file_line);
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn a_nic_on_an_undeclared_bridge_labels_the_nic_and_the_node() {
    let mut lab = lab();
    let node_line = line!() + 1;
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let nic_line = line!() + 1;
    lab.add(Vm::new("web", &pve1).nic("net0", "vmbr0").nic("net1", "vmbr9"));
    let diags = lab.check();
    let d = one(&diags, checks::UNKNOWN_BRIDGE);
    assert!(d.is_blocking());
    assert_eq!(lines(d), vec![(file!(), nic_line), (file!(), node_line)]);
    assert!(d.message.contains("vmbr9"));
    assert!(d.labels[1].text.contains("vmbr0"));
    assert!(d.help.as_deref().unwrap().contains(".bridge(\"vmbr9\")"));
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn a_local_storage_used_on_another_node_is_an_error() {
    let mut lab = lab();
    let pve1 = lab.add(Node::new("pve1"));
    let pve2 = lab.add(Node::new("pve2"));
    let nodes_line = line!() + 1;
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]).node(&pve1));
    lab.add(Vm::new("here", &pve1).disk("scsi0", &lvm, "8G"));
    let disk_line = line!() + 1;
    lab.add(Vm::new("there", &pve2).disk("scsi0", &lvm, "8G"));
    let diags = lab.check();
    let d = one(&diags, checks::STORAGE_NOT_ON_NODE);
    assert_eq!(lines(d), vec![(file!(), disk_line), (file!(), nodes_line)]);
    assert!(d.message.contains("pve2"));
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn files_must_have_the_content_their_user_needs() {
    let Base {
        mut lab,
        pve1,
        lvm,
        local,
    } = base();
    let iso = lab.add(File::download("iso", &pve1, &local, Content::Iso, "https://example.org/x.iso"));
    let line = line!() + 1;
    lab.add(Container::new("ct", &pve1).ostemplate(&iso).rootfs(&lvm, "8G"));
    let image_line = line!() + 1;
    lab.add(Template::cloud_image("t", &pve1, &iso).storage(&lvm));
    let diags = lab.check();
    let found = find(&diags, checks::FILE_CONTENT);
    assert_eq!(found.len(), 2, "{diags:#?}");
    let mut got: Vec<u32> = found.iter().map(|d| d.file_line().unwrap().1).collect();
    got.sort();
    assert_eq!(got, vec![line, image_line]);
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn an_nfs_pool_without_server_is_reported_unless_the_storage_says_it() {
    let mut lab = lab();
    let tank = lab.add(NasPool::new("tank").export("/mnt/tank"));
    let line = line!() + 1;
    lab.add(Storage::nfs("tank-nfs", &tank));
    lab.add(Storage::nfs("tank-nfs2", &tank).server("10.0.0.5"));
    let diags = lab.check();
    let d = one(&diags, checks::NFS_EXPORT);
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("server"));
    let s = lab
        .resource(&Address::new(kinds::STORAGE, "tank-nfs2"))
        .unwrap();
    assert_eq!(s.attrs["server"], Value::from("10.0.0.5"));
}

// ---------------------------------------------------------------------------
// Bad values met by the builders: core::invalid-value at the user's line
// ---------------------------------------------------------------------------

/// The lines of the `core::invalid-value` findings, sorted.
fn invalid_lines(lab: &Lab) -> Vec<u32> {
    let diags = lab.check();
    let mut v: Vec<u32> = find(&diags, INVALID_VALUE)
        .iter()
        .map(|d| {
            assert_eq!(d.file_line().unwrap().0, file!());
            assert!(d.help.is_some());
            d.file_line().unwrap().1
        })
        .collect();
    v.sort();
    v
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn malformed_sizes_and_slots_are_invalid_values_at_their_line() {
    let Base {
        mut lab, pve1, lvm, ..
    } = base();
    let start = line!() + 2;
    lab.add(Vm::new("a", &pve1)
        .disk("scsi0", &lvm, "32X") // +0
        .disk("scsi31", &lvm, "8G") // +1
        .disk("nvme0", &lvm, "8G") // +2
        .disk("ide0", &lvm, "512M") // +3
        .disk("ide0", &lvm, "1G") // +4: duplicate
        .disk("sata0", &lvm, "32")); // +5: no unit
    lab.add(Container::new("b", &pve1).ostemplate_volid("local:vztmpl/x.tar.zst")
        .rootfs(&lvm, "0G") // +7
        .mount_point("mp256", &lvm, "8G", "/a") // +8
        .mount_point("mp1", &lvm, "8G", "relative") // +9
        .nic("eth0", "vmbr0")); // +10
    let want: Vec<u32> = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10]
        .iter()
        .map(|o| start + o)
        .collect();
    assert_eq!(invalid_lines(&lab), want);
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn other_bad_values_are_invalid_values_at_their_line() {
    let Base {
        mut lab,
        pve1,
        lvm,
        local,
    } = base();
    let start = line!() + 2;
    lab.add(Vm::new("a", &pve1)
        .vlan(20) // +0: no NIC before it
        .ssd(true) // +1: no disk before it
        .tags(&["ok", "not ok"]) // +2
        .hostname("under_score") // +3
        .cloud_init(CloudInit::new(&lvm)
            .ipconfig("ip=10.0.0.5") // +5: no prefix, and no NIC net0 for it
            .ssh_key("AAAA-not-a-key"))); // +6
    lab.add(File::download("u", &pve1, &local, Content::Images, "ftp://x/y.qcow2")); // +7: two problems
    lab.add(File::download("ubuntu", &pve1, &local, Content::Import, "https://x/noble.img")); // +8
    lab.add(Storage::existing("Bad_Id")); // +9
    lab.add(Node::new("pve_3")); // +10
    lab.add(Storage::existing("lonely").mount_options("vers=4")); // +11
    let want: Vec<u32> = [0, 1, 2, 3, 5, 5, 6, 7, 7, 8, 9, 10, 11]
        .iter()
        .map(|o| start + o)
        .collect();
    assert_eq!(invalid_lines(&lab), want);
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn missing_parts_are_reported_at_the_declaration() {
    let Base {
        mut lab,
        pve1,
        lvm,
        local,
    } = base();
    let image = lab.add(File::download("img", &pve1, &local, Content::Import, "https://x/a.qcow2"));
    let start = line!() + 1;
    lab.add(Template::cloud_image("t", &pve1, &image)); // +0: no storage
    lab.add(Container::new("ct", &pve1)); // +1: no OS template, no rootfs
    lab.add(Vm::new("bad_name", &pve1)); // +2: name is not a DNS name
    lab.add(Vm::new("fine_name", &pve1).hostname("fine-name")); // fixed by .hostname
    let boot = line!() + 1;
    lab.add(Vm::new("boot", &pve1).disk("scsi0", &lvm, "8G").boot_order(&["scsi0", "net0"]));
    let ci = line!() + 1;
    lab.add(Vm::new("ci", &pve1).cloud_init(CloudInit::new(&lvm).ipconfig("ip=dhcp")));
    let want = vec![start, start + 1, start + 1, start + 2, boot, ci];
    assert_eq!(invalid_lines(&lab), want);
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn an_iso_boot_vm_lowers_its_cdrom_controller_machine_and_balloon() {
    let Base {
        mut lab,
        pve1,
        lvm,
        local,
    } = base();
    let iso = lab.add(File::download("talos", &pve1, &local, Content::Iso, "https://factory.talos.dev/image/x/v1.13.9/metal-amd64.iso"));
    let cdrom_line = line!() + 3;
    let vm = lab.add(Vm::new("cp1", &pve1)
        .disk("scsi0", &lvm, "32G")
        .cdrom(&iso)
        .scsi_controller("virtio-scsi-pci")
        .machine("q35")
        .balloon_mb(0)
        .nic("net0", "vmbr0")
        .boot_order(&["scsi0", "ide2", "net0"]));
    let s = spec(&lab, &vm);
    assert_eq!(s.attrs["cdrom"], reference("proxmox.file.talos", "volid"));
    assert_eq!(s.attrs["cdrom_file"], Value::from("proxmox.file.talos"));
    assert_eq!(s.attrs["scsihw"], Value::from("virtio-scsi-pci"));
    assert_eq!(s.attrs["machine"], Value::from("q35"));
    assert_eq!(s.attrs["balloon"], Value::Int(0));
    assert_eq!(s.loc_of("cdrom").line(), cdrom_line);
    assert!(edges(s).contains(&("proxmox.file.talos".into(), "cdrom".into())));
    // `ide2` in the boot order is the CD-ROM: the lab is clean.
    let diags = lab.check();
    assert!(diags.iter().all(|d| !d.is_blocking()), "{diags:#?}");
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn bad_iso_boot_settings_are_reported_at_their_line() {
    let Base {
        mut lab,
        pve1,
        lvm,
        local,
    } = base();
    let iso = lab.add(File::download("talos", &pve1, &local, Content::Iso, "https://x/metal-amd64.iso"));
    let image = lab.add(File::download("img", &pve1, &local, Content::Import, "https://x/a.qcow2"));
    let start = line!() + 2;
    lab.add(Vm::new("a", &pve1)
        .scsi_controller("virtio-scsi") // +0: not a controller PVE knows
        .memory_mb(2048)
        .balloon_mb(4096) // +2: more than the memory
        .disk("ide2", &lvm, "8G") // +3: the CD-ROM's slot
        .cdrom(&iso)
        .boot_order(&["ide2"]));
    lab.add(Vm::new("b", &pve1).boot_order(&["ide2"])); // +6: no CD-ROM
    let want: Vec<u32> = [0, 2, 3, 6].iter().map(|o| start + o).collect();
    assert_eq!(invalid_lines(&lab), want);
    let diags = lab.check();
    let bad = find(&diags, INVALID_VALUE)
        .into_iter()
        .find(|d| d.message.contains("scsihw"))
        .expect("the scsihw diagnostic");
    assert!(bad.message.contains("`virtio-scsi`"), "{}", bad.message);
    let help = bad.help.as_deref().unwrap();
    for model in ["lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi"] {
        assert!(help.contains(model), "{help}");
    }
    // A CD-ROM from a file that is not an ISO.
    let line = line!() + 1;
    lab.add(Vm::new("c", &pve1).cdrom(&image));
    let diags = lab.check();
    let d = one(&diags, checks::FILE_CONTENT);
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("`iso`"), "{}", d.message);
}

#[test]
fn nodes_and_pools_say_what_they_carry_for_the_capacity_analysis() {
    let mut lab = Lab::new("home");
    let pve1 = lab.add(Node::new("pve1").cores(16).memory_gb(64));
    let nas = lab.add(Appliance::new("nas").kind(ApplianceKind::Nas));
    let tank = lab.add(
        NasPool::new("tank")
            .server("10.0.0.5")
            .export("/mnt/tank")
            .capacity("8T")
            .data("2T")
            .on(&nas),
    );
    let node = spec(&lab, &pve1);
    assert_eq!(node.attrs["cores"], Value::from(16));
    assert_eq!(node.attrs["memory_mb"], Value::from(65536));
    let pool = spec(&lab, &tank);
    assert_eq!(pool.attrs["capacity_gb"], Value::from(8192));
    assert_eq!(pool.attrs["data_gb"], Value::from(2048));
    assert!(lab.check().iter().all(|d| !d.is_blocking()));

    let mut lab = Lab::new("home");
    lab.add(Node::new("pve1").cores(0).memory_gb(0));
    lab.add(NasPool::new("tank").capacity("8 bananas"));
    let diags = lab.check();
    let invalid: Vec<_> = diags
        .iter()
        .filter(|d| d.code == "core::invalid-value")
        .collect();
    assert_eq!(invalid.len(), 3, "{diags:#?}");
    assert!(invalid
        .iter()
        .all(|d| d.location().is_some_and(|l| l.contains("model.rs"))));
}
