//! `TalosCluster::add_to` lowers to exactly the resources and attributes of
//! `kinds.rs` (plus the Proxmox VMs and ISOs under them), and every Talos
//! check fires at the user's line. No secrets bundle is generated here.

use lab_core::checks::builtin::INVALID_VALUE;
use lab_core::prelude::*;
use lab_core::value::OutputRef;
use lab_core::{Address, ResourceSpec};
use lab_proxmox::model::{Content, Node, Storage};
use lab_talos::checks::{self, *};
use lab_talos::config::{Role, StaticNetwork, Vip};
use lab_talos::factory::{
    ImageFactory, Schematic, NEWEST_STABLE, QEMU_GUEST_AGENT, QEMU_GUEST_AGENT_SCHEMATIC_ID,
    VANILLA_SCHEMATIC_ID,
};
use lab_talos::kinds;
use lab_talos::model::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

struct Base {
    lab: Lab,
    pve1: Handle<Node>,
    pve2: Handle<Node>,
    local: Handle<Storage>,
    lvm: Handle<Storage>,
}

fn base() -> Base {
    let mut lab = Lab::new("t");
    lab_proxmox::checks::register(&mut lab);
    checks::register(&mut lab);
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
    Base {
        lab,
        pve1,
        pve2,
        local,
        lvm,
    }
}

/// A cluster with every network setting and no nodes yet.
fn cluster(b: &Base) -> TalosCluster {
    TalosCluster::new("home", "https://10.0.10.5:6443")
        .vip("10.0.10.5")
        .link("ens18")
        .gateway("10.0.10.1")
        .nameservers(&["10.0.10.1"])
        .vm_storage(&b.lvm)
        .iso_storage(&b.local)
        .bridge("vmbr0")
        .vlan(10)
}

/// Three control planes over two Proxmox nodes and a worker.
fn full(b: &Base) -> TalosCluster {
    cluster(b)
        .patch("machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n")
        .control_plane("cp1", "10.0.10.11/24", &b.pve1)
        .control_plane("cp2", "10.0.10.12/24", &b.pve2)
        .control_plane("cp3", "10.0.10.13/24", &b.pve1)
        .worker("w1", "10.0.10.21/24", &b.pve2)
}

fn spec<'a>(lab: &'a Lab, kind: &str, name: &str) -> &'a ResourceSpec {
    lab.resource(&Address::new(kind, name))
        .unwrap_or_else(|| panic!("no {kind}.{name}"))
}

fn reference(address: &str, output: &str) -> Value {
    Value::Ref(OutputRef {
        address: Address::parse(address).unwrap(),
        output: output.into(),
    })
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn map(v: &Value) -> &indexmap::IndexMap<String, Value> {
    match v {
        Value::Map(m) => m,
        other => panic!("not a map: {other}"),
    }
}

fn first_map(v: &Value) -> &indexmap::IndexMap<String, Value> {
    match v {
        Value::List(l) => map(&l[0]),
        other => panic!("not a list: {other}"),
    }
}

fn count(lab: &Lab, kind: &str) -> usize {
    lab.resources().filter(|s| s.kind() == kind).count()
}

fn find<'a>(diags: &'a [Diagnostic], code: &str) -> Vec<&'a Diagnostic> {
    diags.iter().filter(|d| d.code == code).collect()
}

fn one<'a>(diags: &'a [Diagnostic], code: &str) -> &'a Diagnostic {
    let found = find(diags, code);
    assert_eq!(found.len(), 1, "expected one {code} in {diags:#?}");
    found[0]
}

/// The lines of a finding's labels (all in this file).
fn lines(d: &Diagnostic) -> Vec<u32> {
    d.labels
        .iter()
        .map(|l| {
            assert_eq!(l.loc.file(), file!(), "{d:#?}");
            l.loc.line()
        })
        .collect()
}

fn edges(spec: &ResourceSpec) -> Vec<(String, String)> {
    spec.deps
        .iter()
        .map(|d| (d.on.to_string(), d.via.clone()))
        .collect()
}

// ---------------------------------------------------------------------------
// Lowering
// ---------------------------------------------------------------------------

#[test]
fn add_to_adds_secrets_isos_vms_machines_and_the_cluster() {
    let mut b = base();
    let before = b.lab.len();
    let talos = full(&b).add_to(&mut b.lab);

    assert_eq!(count(&b.lab, kinds::SECRETS), 1);
    assert_eq!(count(&b.lab, "proxmox.file"), 2, "one ISO per Proxmox node");
    assert_eq!(count(&b.lab, "proxmox.vm"), 4);
    assert_eq!(count(&b.lab, kinds::MACHINE), 4);
    assert_eq!(count(&b.lab, kinds::CLUSTER), 1);
    assert_eq!(b.lab.len(), before + 1 + 2 + 4 + 4 + 1);

    let added: Vec<String> = b
        .lab
        .resources()
        .skip(before)
        .map(|s| s.address.to_string())
        .collect();
    assert_eq!(
        added,
        [
            "talos.secrets.home",
            "proxmox.file.talos-home-pve1",
            "proxmox.file.talos-home-pve2",
            "proxmox.vm.cp1",
            "proxmox.vm.cp2",
            "proxmox.vm.cp3",
            "proxmox.vm.w1",
            "talos.machine.cp1",
            "talos.machine.cp2",
            "talos.machine.cp3",
            "talos.machine.w1",
            "talos.cluster.home",
        ]
    );
    assert_eq!(talos.secrets.address().to_string(), "talos.secrets.home");
    assert_eq!(talos.isos.len(), 2);
    assert_eq!(talos.vms.len(), 4);
    assert_eq!(talos.machines[3].address().to_string(), "talos.machine.w1");
    assert_eq!(talos.cluster.address().to_string(), "talos.cluster.home");
    for s in b.lab.resources().skip(before) {
        assert!(s.managed, "{} is applied by a provider", s.address);
    }
}

#[test]
fn vms_follow_the_talos_proxmox_guide() {
    let mut b = base();
    full(&b).add_to(&mut b.lab);
    let lab = &b.lab;

    let vm = spec(lab, "proxmox.vm", "cp2");
    assert_eq!(vm.attrs["node"], Value::from("pve2"));
    assert_eq!(vm.attrs["name"], Value::from("cp2"));
    assert_eq!(vm.attrs["cores"], Value::Int(2));
    assert_eq!(vm.attrs["memory_mb"], Value::Int(4096));
    assert_eq!(vm.attrs["scsihw"], Value::from("virtio-scsi-pci"));
    assert_eq!(vm.attrs["machine"], Value::from("q35"));
    assert_eq!(vm.attrs["balloon"], Value::Int(0));
    assert!(!vm.attrs.contains_key("clone_from"), "no clone");
    // The ISO of the VM's own node, in the CD-ROM drive.
    assert_eq!(
        vm.attrs["cdrom"],
        reference("proxmox.file.talos-home-pve2", "volid")
    );
    assert_eq!(
        vm.attrs["cdrom_file"],
        Value::from("proxmox.file.talos-home-pve2")
    );
    let iso = spec(lab, "proxmox.file", "talos-home-pve2");
    assert_eq!(iso.attrs["node"], vm.attrs["node"]);
    assert_eq!(iso.attrs["storage"], Value::from("local"));
    assert_eq!(iso.attrs["content"], Value::from("iso"));
    // Empty disk first, then the ISO.
    assert_eq!(vm.attrs["boot_order"], list(&["scsi0", "ide2"]));
    let disk = first_map(&vm.attrs["disks"]);
    assert_eq!(disk["slot"], Value::from("scsi0"));
    assert_eq!(disk["storage"], Value::from("local-lvm"));
    assert_eq!(disk["size_gb"], Value::Int(32));
    let nic = first_map(&vm.attrs["nics"]);
    assert_eq!(nic["slot"], Value::from("net0"));
    assert_eq!(nic["bridge"], Value::from("vmbr0"));
    assert_eq!(nic["tag"], Value::Int(10));
    assert_eq!(vm.attrs["agent"], Value::Bool(true));
    let ci = map(&vm.attrs["cloud_init"]);
    assert_eq!(ci["storage"], Value::from("local-lvm"));
    assert_eq!(ci["ipconfig"], list(&["ip=10.0.10.12/24,gw=10.0.10.1"]));
    assert_eq!(ci["nameserver"], Value::from("10.0.10.1"));
    assert_eq!(vm.attrs["started"], Value::Bool(true));
    assert_eq!(vm.attrs["onboot"], Value::Bool(true));
    assert_eq!(vm.attrs["tags"], list(&["home", "talos"]));

    let cp3 = spec(lab, "proxmox.vm", "cp3");
    assert_eq!(
        cp3.attrs["cdrom_file"],
        Value::from("proxmox.file.talos-home-pve1")
    );
    let w1 = spec(lab, "proxmox.vm", "w1");
    assert_eq!(first_map(&w1.attrs["disks"])["size_gb"], Value::Int(64));
}

#[test]
fn sizes_and_cpu_apply_by_role() {
    let mut b = base();
    full(&b)
        .control_plane_size(4, 8192, 40)
        .worker_size(8, 16384, 100)
        .cpu("host")
        .add_to(&mut b.lab);
    let cp = spec(&b.lab, "proxmox.vm", "cp1");
    assert_eq!(cp.attrs["cores"], Value::Int(4));
    assert_eq!(cp.attrs["memory_mb"], Value::Int(8192));
    assert_eq!(first_map(&cp.attrs["disks"])["size_gb"], Value::Int(40));
    assert_eq!(cp.attrs["cpu"], Value::from("host"));
    let w = spec(&b.lab, "proxmox.vm", "w1");
    assert_eq!(w.attrs["cores"], Value::Int(8));
    assert_eq!(w.attrs["memory_mb"], Value::Int(16384));
    assert_eq!(first_map(&w.attrs["disks"])["size_gb"], Value::Int(100));
}

#[test]
fn machines_carry_the_contract_attributes_and_config_inputs() {
    let mut b = base();
    full(&b)
        .control_plane_patch("cluster:\n  apiServer:\n    extraArgs:\n      v: \"2\"\n")
        .worker_patch("machine:\n  nodeLabels:\n    role: worker\n")
        .add_to(&mut b.lab);
    let lab = &b.lab;

    let cp1 = spec(lab, kinds::MACHINE, "cp1");
    assert_eq!(cp1.attrs["cluster"], Value::from("home"));
    assert_eq!(cp1.attrs["role"], Value::from("controlplane"));
    assert_eq!(cp1.attrs["address"], Value::from("10.0.10.11"));
    assert_eq!(
        cp1.attrs["secrets"],
        reference("talos.secrets.home", "bundle")
    );
    assert_eq!(cp1.attrs["vm"], reference("proxmox.vm.cp1", "vmid"));
    let deps = edges(cp1);
    assert!(deps.contains(&("talos.secrets.home".into(), "secrets".into())));
    assert!(deps.contains(&("proxmox.vm.cp1".into(), "vm".into())));

    let (c, n) = kinds::config_inputs(&cp1.attrs["config"]).unwrap();
    assert_eq!(c.name, "home");
    assert_eq!(c.endpoint, "https://10.0.10.5:6443");
    assert_eq!(c.kubernetes_version, DEFAULT_KUBERNETES_VERSION);
    assert_eq!(c.contract.to_string(), "v1.13");
    assert_eq!(c.install_disk.as_deref(), Some("/dev/sda"));
    assert_eq!(
        c.install_image.as_deref(),
        Some(
            format!("factory.talos.dev/nocloud-installer/{QEMU_GUEST_AGENT_SCHEMATIC_ID}:{NEWEST_STABLE}")
                .as_str()
        )
    );
    assert_eq!(
        c.vip,
        Some(Vip {
            address: "10.0.10.5".into(),
            link: "ens18".into()
        })
    );
    assert_eq!(c.patches.len(), 1);
    assert_eq!(c.control_plane_patches.len(), 1);
    assert!(
        c.worker_patches.is_empty(),
        "a worker patch is not a CP input"
    );
    assert_eq!(n.role, Role::ControlPlane);
    assert_eq!(n.hostname.as_deref(), Some("cp1"));
    assert_eq!(
        n.network,
        Some(StaticNetwork {
            link: "ens18".into(),
            addresses: vec!["10.0.10.11/24".into()],
            gateway: Some("10.0.10.1".into()),
            nameservers: vec!["10.0.10.1".into()],
        })
    );

    let w1 = spec(lab, kinds::MACHINE, "w1");
    assert_eq!(w1.attrs["role"], Value::from("worker"));
    let (c, n) = kinds::config_inputs(&w1.attrs["config"]).unwrap();
    assert_eq!(c.vip, None, "the VIP is for control planes only");
    assert!(c.control_plane_patches.is_empty());
    assert_eq!(c.worker_patches.len(), 1);
    assert_eq!(n.role, Role::Worker);
}

#[test]
fn hostname_node_patches_and_options_reach_the_inputs() {
    let mut b = base();
    cluster(&b)
        .kubernetes_version("v1.35.2")
        .install_disk("/dev/vda")
        .cert_sans(&["k8s.home.arpa"])
        .allow_scheduling_on_control_planes(true)
        .cni("none", &[])
        .sysctl("vm.max_map_count", "262144")
        .registry_mirror("docker.io", &["https://mirror.home.arpa"])
        .control_plane("cp1", "10.0.10.11/24", &b.pve1)
        .hostname("cp1.home.arpa")
        .node_patch("machine:\n  nodeLabels:\n    zone: a\n")
        .add_to(&mut b.lab);
    let m = spec(&b.lab, kinds::MACHINE, "cp1");
    let (c, n) = kinds::config_inputs(&m.attrs["config"]).unwrap();
    assert_eq!(c.kubernetes_version, "1.35.2");
    assert_eq!(c.install_disk.as_deref(), Some("/dev/vda"));
    assert_eq!(c.cert_sans, ["k8s.home.arpa"]);
    assert!(c.allow_scheduling_on_control_planes);
    assert_eq!(c.cni.as_ref().unwrap().name, "none");
    assert_eq!(c.sysctls["vm.max_map_count"], "262144");
    assert_eq!(c.registry_mirrors[0].registry, "docker.io");
    assert_eq!(n.hostname.as_deref(), Some("cp1.home.arpa"));
    assert_eq!(n.patches.len(), 1);
    assert!(b.lab.check().is_empty(), "{:#?}", b.lab.check());
}

#[test]
fn the_installer_and_the_iso_use_the_same_schematic() {
    let mut b = base();
    let schematic = Schematic::new()
        .extension(QEMU_GUEST_AGENT)
        .extension("siderolabs/iscsi-tools");
    let id = schematic.id();
    assert_ne!(id, QEMU_GUEST_AGENT_SCHEMATIC_ID);
    full(&b)
        .talos_version("v1.13.8")
        .schematic(schematic)
        .add_to(&mut b.lab);
    let iso = spec(&b.lab, "proxmox.file", "talos-home-pve1");
    assert_eq!(
        iso.attrs["url"],
        Value::from(format!(
            "https://factory.talos.dev/image/{id}/v1.13.8/nocloud-amd64.iso"
        ))
    );
    assert_eq!(
        iso.attrs["filename"],
        Value::from(format!("talos-v1.13.8-{}-nocloud-amd64.iso", &id[..8]))
    );
    for name in ["cp1", "w1"] {
        let m = spec(&b.lab, kinds::MACHINE, name);
        let (c, _) = kinds::config_inputs(&m.attrs["config"]).unwrap();
        assert_eq!(
            c.install_image.unwrap(),
            format!("factory.talos.dev/nocloud-installer/{id}:v1.13.8")
        );
    }
    assert_eq!(
        spec(&b.lab, "proxmox.vm", "cp1").attrs["agent"],
        Value::Bool(true)
    );
}

#[test]
fn the_agent_is_off_without_the_guest_agent_extension() {
    let mut b = base();
    full(&b).schematic(Schematic::new()).add_to(&mut b.lab);
    assert_eq!(
        spec(&b.lab, "proxmox.vm", "cp1").attrs["agent"],
        Value::Bool(false)
    );
    let url = spec(&b.lab, "proxmox.file", "talos-home-pve1").attrs["url"].clone();
    assert!(url.as_str().unwrap().contains(VANILLA_SCHEMATIC_ID));
}

#[test]
fn a_shared_iso_storage_gets_one_download() {
    let mut b = base();
    let nfs = b.lab.add(
        Storage::existing("iso-nfs")
            .content(&[Content::Iso])
            .shared(true),
    );
    let talos = full(&b).iso_storage(&nfs).add_to(&mut b.lab);
    assert_eq!(talos.isos.len(), 1);
    for vm in ["cp1", "cp2", "w1"] {
        assert_eq!(
            spec(&b.lab, "proxmox.vm", vm).attrs["cdrom_file"],
            Value::from("proxmox.file.talos-home-pve1")
        );
    }
}

#[test]
fn the_cluster_and_the_secrets() {
    let mut b = base();
    let talos = full(&b)
        .import_secrets(Secret::new("cluster:\n    id: x\n"))
        .add_to(&mut b.lab);
    let lab = &b.lab;

    let c = spec(lab, kinds::CLUSTER, "home");
    assert_eq!(c.attrs["endpoint"], Value::from("https://10.0.10.5:6443"));
    assert_eq!(c.attrs["bootstrap_node"], Value::from("10.0.10.11"));
    assert_eq!(
        c.attrs["control_planes"],
        list(&["10.0.10.11", "10.0.10.12", "10.0.10.13"])
    );
    assert_eq!(c.attrs["workers"], list(&["10.0.10.21"]));
    // An imported bundle is known at plan time: carried directly (so a
    // re-import after a lost state leaves the nodes untouched), with the
    // edge to the secrets resource kept.
    assert_eq!(
        c.attrs["secrets"],
        Value::Secret(Secret::new("cluster:\n    id: x\n"))
    );
    assert!(c
        .deps
        .iter()
        .any(|d| d.on.to_string() == "talos.secrets.home"));
    let deps: Vec<String> = c.deps.iter().map(|d| d.on.to_string()).collect();
    for m in ["cp1", "cp2", "cp3", "w1"] {
        assert!(deps.contains(&format!("talos.machine.{m}")), "{deps:?}");
    }

    let s = spec(lab, kinds::SECRETS, "home");
    assert_eq!(s.attrs["contract"], Value::from("v1.13"));
    assert!(s.attrs["import"].contains_secret());
    assert!(s.lifecycle.prevent_destroy);
    assert!(
        !format!("{s:?}").contains("id: x"),
        "the import is redacted"
    );

    let kubeconfig: Output<Secret> = talos.kubeconfig();
    assert_eq!(kubeconfig.address().to_string(), "talos.cluster.home");
    assert_eq!(kubeconfig.name(), "kubeconfig");
    assert_eq!(talos.talosconfig().name(), "talosconfig");
}

#[test]
fn without_import_the_secrets_have_no_import_attribute() {
    let mut b = base();
    full(&b).add_to(&mut b.lab);
    let s = spec(&b.lab, kinds::SECRETS, "home");
    assert_eq!(s.attrs.keys().collect::<Vec<_>>(), ["contract"]);
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

#[test]
fn a_clean_lab_has_no_findings() {
    let mut b = base();
    full(&b).add_to(&mut b.lab);
    let diags = b.lab.check();
    assert!(diags.is_empty(), "{diags:#?}");
}

#[test]
fn the_talos_checks_are_registered_by_code() {
    let codes: Vec<&str> = checks::checks().iter().map(|c| c.code).collect();
    assert_eq!(
        codes,
        [
            EVEN_CONTROL_PLANES,
            VIP_SUBNET,
            ENDPOINT,
            UNKNOWN_VERSION,
            PATCH,
            PATCH_SCHEMA,
            DUPLICATE_ADDRESS,
            GATEWAY_SUBNET,
            MEMORY,
            WORKLOAD_IP
        ]
    );
    assert!(codes.iter().all(|c| c.starts_with("talos::")));
}

#[test]
fn two_control_planes_warn_at_the_declaration_three_do_not() {
    let mut b = base();
    let declared = line!() + 1;
    let c = TalosCluster::new("home", "https://10.0.10.5:6443")
        .vip("10.0.10.5")
        .link("ens18")
        .vm_storage(&b.lvm)
        .iso_storage(&b.local)
        .control_plane("cp1", "10.0.10.11/24", &b.pve1);
    let second = line!() + 1;
    let c = c.control_plane("cp2", "10.0.10.12/24", &b.pve2);
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, EVEN_CONTROL_PLANES);
    assert_eq!(d.severity, Severity::Warning);
    assert!(!d.is_blocking());
    assert_eq!(lines(d), [declared, second]);
    assert!(d.help.as_deref().unwrap().contains("odd"), "{d:#?}");
    assert_eq!(diags.len(), 1, "{diags:#?}");

    let mut b = base();
    full(&b).add_to(&mut b.lab);
    assert!(find(&b.lab.check(), EVEN_CONTROL_PLANES).is_empty());

    let mut b = base();
    full(&b)
        .control_plane("cp4", "10.0.10.14/24", &b.pve2)
        .add_to(&mut b.lab);
    assert_eq!(find(&b.lab.check(), EVEN_CONTROL_PLANES).len(), 1);
}

#[test]
fn the_warning_can_be_waived() {
    let mut b = base();
    cluster(&b)
        .control_plane("cp1", "10.0.10.11/24", &b.pve1)
        .control_plane("cp2", "10.0.10.12/24", &b.pve2)
        .waive(EVEN_CONTROL_PLANES, "a third node is on order")
        .add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, EVEN_CONTROL_PLANES);
    assert_eq!(d.waived.as_deref(), Some("a third node is on order"));
    assert!(find(&diags, "core::unknown-waiver").is_empty());
}

#[test]
fn a_vip_outside_the_control_planes_subnet_is_an_error_at_vip() {
    let mut b = base();
    let c = full(&b);
    let line = line!() + 1;
    let c = c.vip("10.0.20.5");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, VIP_SUBNET);
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(lines(d)[0], line);
    assert!(d.message.contains("10.0.10.0/24"), "{}", d.message);
    assert!(d.help.as_deref().unwrap().contains("10.0.10.0/24"));
    assert_eq!(diags.len(), 1, "{diags:#?}");
}

#[test]
fn a_vip_equal_to_a_node_address_is_an_error_at_vip() {
    let mut b = base();
    let c = cluster(&b);
    let line = line!() + 1;
    let c = c.vip("10.0.10.12");
    let c = c.control_plane("cp1", "10.0.10.11/24", &b.pve1);
    let cp2 = line!() + 1;
    let c = c.control_plane("cp2", "10.0.10.12/24", &b.pve1);
    c.control_plane("cp3", "10.0.10.13/24", &b.pve1)
        .add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, VIP_SUBNET);
    assert_eq!(lines(d), [line, cp2]);
    assert!(d.message.contains("cp2"), "{}", d.message);
}

#[test]
fn an_endpoint_without_port_is_invalid_at_new() {
    let mut b = base();
    let line = line!() + 1;
    let c = TalosCluster::new("home", "https://10.0.10.5")
        .link("ens18")
        .vm_storage(&b.lvm)
        .iso_storage(&b.local)
        .control_plane("cp1", "10.0.10.11/24", &b.pve1);
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, INVALID_VALUE);
    assert_eq!(lines(d), [line]);
    assert!(d.message.contains("no port"), "{}", d.message);
    assert_eq!(d.resource, Some(Address::new(kinds::CLUSTER, "home")));
    // Reported once: the check stays quiet about an invalid value.
    assert!(find(&diags, ENDPOINT).is_empty(), "{diags:#?}");
}

/// A resource built without the typed builders.
struct Raw(ResourceSpec);

impl Resource for Raw {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.0
    }
    fn into_spec(self) -> ResourceSpec {
        self.0
    }
}

#[test]
fn the_endpoint_check_catches_specs_built_by_hand() {
    let mut lab = Lab::new("t");
    checks::register(&mut lab);
    let line = line!() + 1;
    let mut spec = ResourceSpec::new(kinds::CLUSTER, "raw");
    spec.set("endpoint", "k8s.home.arpa:6443");
    lab.add(Raw(spec));
    let diags = lab.check();
    let d = one(&diags, ENDPOINT);
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(lines(d), [line + 1]);
    assert!(d.message.contains("https://"), "{}", d.message);
}

#[test]
fn an_unknown_talos_version_is_an_error_at_talos_version() {
    let mut b = base();
    let c = full(&b);
    let line = line!() + 1;
    let c = c.talos_version("v1.13.90");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, UNKNOWN_VERSION);
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(lines(d), [line]);
    assert!(d.help.as_deref().unwrap().contains(NEWEST_STABLE));
    assert_eq!(diags.len(), 1, "{diags:#?}");

    // A malformed version is the builder's finding, not the check's.
    let mut b = base();
    let c = full(&b);
    let line = line!() + 1;
    let c = c.talos_version("1.13.9");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    assert_eq!(lines(one(&diags, INVALID_VALUE)), [line]);
    assert!(find(&diags, UNKNOWN_VERSION).is_empty());
}

#[test]
fn a_patch_that_does_not_parse_is_reported_once_at_its_line() {
    let mut b = base();
    let c = full(&b);
    let line = line!() + 1;
    let c = c.patch("machine: [");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, PATCH);
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(lines(d), [line]);
    // The second cluster patch (index 1), failing on every node.
    assert!(d.message.contains("cluster patches[1]"), "{}", d.message);
    assert!(d.message.contains("invalid YAML"), "{}", d.message);
    assert!(d.message.contains("cp1, cp2, cp3, w1"), "{}", d.message);
    assert_eq!(d.resource, Some(Address::new(kinds::CLUSTER, "home")));
    assert!(d.help.is_some());
}

#[test]
fn a_control_plane_patch_that_targets_nothing_points_at_its_line() {
    let mut b = base();
    let c = full(&b).control_plane_patch("machine:\n  nodeLabels:\n    tier: cp\n");
    let line = line!() + 1;
    let c = c.control_plane_patch("machine:\n  kubelet:\n    extraArgs:\n      $patch: delete\n");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, PATCH);
    assert_eq!(lines(d), [line]);
    assert!(
        d.message.contains("control-plane patches[1]"),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("machine.kubelet.extraArgs"),
        "{}",
        d.message
    );
    assert!(d.message.contains("targets nothing"), "{}", d.message);
    assert!(!d.message.contains("w1"), "workers don't get CP patches");
}

#[test]
fn a_node_patch_is_reported_against_its_machine() {
    let mut b = base();
    let c = full(&b).worker("w2", "10.0.10.22/24", &b.pve1);
    let line = line!() + 1;
    let c = c.node_patch("apiVersion: v1alpha1\nkind: KubeletConfig\nclusterDNS: [10.96.0.10]\n");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, PATCH);
    assert_eq!(lines(d), [line]);
    assert_eq!(d.resource, Some(Address::new(kinds::MACHINE, "w2")));
    assert!(d.message.contains("node patches[0]"), "{}", d.message);
    assert!(d.message.contains("KubeletConfig"), "{}", d.message);
}

#[test]
fn worker_patches_point_at_their_line_too() {
    let mut b = base();
    let c = full(&b);
    let line = line!() + 1;
    let c = c.worker_patch("");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, PATCH);
    assert_eq!(lines(d), [line]);
    assert!(d.message.contains("worker patches[0]"), "{}", d.message);
    assert!(d.message.contains("(on w1)"), "{}", d.message);
}

#[test]
fn a_patch_with_an_unknown_key_is_a_schema_error_at_its_line() {
    let mut b = base();
    let c = full(&b);
    let line = line!() + 1;
    let c = c.patch("machine:\n  sysctl:\n    vm.max_map_count: \"262144\"\n");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    // The patch merges, so only the schema check sees it.
    assert!(find(&diags, PATCH).is_empty(), "{diags:#?}");
    let d = one(&diags, PATCH_SCHEMA);
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(lines(d), [line]);
    assert_eq!(d.resource, Some(Address::new(kinds::CLUSTER, "home")));
    // The second cluster patch (the first is `full`'s valid `sysctls`).
    assert!(d.message.contains("cluster patches[1]"), "{}", d.message);
    assert!(d.message.contains("at machine:"), "{}", d.message);
    assert!(d.message.contains("'sysctl'"), "{}", d.message);
    assert!(d.message.contains("cp1, cp2, cp3, w1"), "{}", d.message);
    assert!(d.help.as_deref().unwrap().contains("machine.sysctls"));
    assert_eq!(diags.len(), 1, "{diags:#?}");
}

#[test]
fn a_patch_value_of_the_wrong_type_is_a_schema_error_at_its_line() {
    let mut b = base();
    let c = full(&b).worker_patch("machine:\n  nodeLabels:\n    tier: worker\n");
    let line = line!() + 1;
    let c = c.worker_patch("machine:\n  install:\n    wipe: sometimes\n");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, PATCH_SCHEMA);
    assert_eq!(lines(d), [line]);
    assert!(d.message.contains("worker patches[1]"), "{}", d.message);
    assert!(
        d.message.contains("at machine.install.wipe"),
        "{}",
        d.message
    );
    assert!(d.message.contains("boolean"), "{}", d.message);
    assert!(d.message.contains("(on w1)"), "{}", d.message);
    assert_eq!(diags.len(), 1, "{diags:#?}");
}

#[test]
fn a_node_patch_schema_error_is_reported_against_its_machine() {
    let mut b = base();
    let c = full(&b).worker("w2", "10.0.10.22/24", &b.pve1);
    let line = line!() + 1;
    let c = c.node_patch("machine:\n  kubelet:\n    extraArgs: [--v=2]\n");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, PATCH_SCHEMA);
    assert_eq!(lines(d), [line]);
    assert_eq!(d.resource, Some(Address::new(kinds::MACHINE, "w2")));
    assert!(d.message.contains("node `w2`"), "{}", d.message);
    assert!(
        d.message.contains("at machine.kubelet.extraArgs"),
        "{}",
        d.message
    );
}

#[test]
fn two_nodes_on_one_address_are_an_error_at_the_second() {
    let mut b = base();
    let c = cluster(&b);
    let first = line!() + 1;
    let c = c.control_plane("cp1", "10.0.10.11/24", &b.pve1);
    let second = line!() + 1;
    let c = c.worker("w1", "10.0.10.11/24", &b.pve2);
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, DUPLICATE_ADDRESS);
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(lines(d), [second, first]);
    assert_eq!(d.resource, Some(Address::new(kinds::MACHINE, "w1")));
}

#[test]
fn an_address_outside_the_gateway_subnet_is_an_error_at_the_node() {
    let mut b = base();
    let c = TalosCluster::new("home", "https://10.0.10.5:6443").link("ens18");
    let gateway = line!() + 1;
    let c = c.gateway("10.0.10.1");
    let c =
        c.vm_storage(&b.lvm)
            .iso_storage(&b.local)
            .control_plane("cp1", "10.0.10.11/24", &b.pve1);
    let node = line!() + 1;
    let c = c.worker("w1", "10.0.20.21/24", &b.pve2);
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, GATEWAY_SUBNET);
    assert_eq!(lines(d), [node, gateway]);
    assert!(d.message.contains("10.0.20.0/24"), "{}", d.message);
}

#[test]
fn a_small_control_plane_warns_at_its_size() {
    let mut b = base();
    let c = full(&b);
    let line = line!() + 1;
    let c = c.control_plane_size(2, 1024, 32);
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let found = find(&diags, MEMORY);
    assert_eq!(found.len(), 3, "one per control plane: {diags:#?}");
    for d in found {
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!(lines(d), [line]);
        assert!(d.message.contains("2048"), "{}", d.message);
    }
    assert!(diags.iter().all(|d| !d.is_blocking()), "{diags:#?}");
}

#[test]
fn values_wrong_in_isolation_are_invalid_at_their_line() {
    let mut b = base();
    let c = TalosCluster::new("home", "https://10.0.10.5:6443")
        .link("ens18")
        .vm_storage(&b.lvm)
        .iso_storage(&b.local);
    let contract = line!() + 1;
    let c = c.contract("v1.14");
    let k8s = line!() + 1;
    let c = c.kubernetes_version("latest");
    let vip = line!() + 1;
    let c = c.vip("10.0.10.5/24");
    let vlan = line!() + 1;
    let c = c.vlan(5000);
    let cidr = line!() + 1;
    let c = c.control_plane("cp1", "10.0.10.11", &b.pve1);
    c.add_to(&mut b.lab);
    let orphan = line!() + 1;
    let o = TalosCluster::new("other", "https://10.0.30.5:6443").node_patch("machine: {}");
    o.link("ens18")
        .vm_storage(&b.lvm)
        .iso_storage(&b.local)
        .control_plane("o1", "10.0.30.11/24", &b.pve1)
        .add_to(&mut b.lab);
    let diags = b.lab.check();
    let invalid = find(&diags, INVALID_VALUE);
    let at: Vec<u32> = invalid.iter().map(|d| lines(d)[0]).collect();
    for (what, line) in [
        ("contract", contract),
        ("kubernetes_version", k8s),
        ("vip", vip),
        ("vlan", vlan),
        ("address", cidr),
        ("node_patch", orphan),
    ] {
        assert!(at.contains(&line), "{what} at line {line}: {invalid:#?}");
    }
    assert_eq!(invalid.len(), 6, "{invalid:#?}");
    let cidr_finding = invalid.iter().find(|d| lines(d)[0] == cidr).unwrap();
    assert_eq!(
        cidr_finding.resource,
        Some(Address::new(kinds::MACHINE, "cp1"))
    );
}

#[test]
fn missing_link_and_storages_are_invalid_at_new() {
    let mut b = base();
    let line = line!() + 1;
    let c = TalosCluster::new("home", "https://10.0.10.5:6443").control_plane(
        "cp1",
        "10.0.10.11/24",
        &b.pve1,
    );
    let talos = c.add_to(&mut b.lab);
    assert!(talos.isos.is_empty());
    let diags = b.lab.check();
    let invalid = find(&diags, INVALID_VALUE);
    assert_eq!(invalid.len(), 3, "{invalid:#?}");
    let messages: Vec<&str> = invalid.iter().map(|d| d.message.as_str()).collect();
    for field in ["link", "vm_storage", "iso_storage"] {
        assert!(
            messages.iter().any(|m| m.contains(&format!(": {field}:"))),
            "{field}: {messages:#?}"
        );
    }
    for d in invalid {
        assert_eq!(lines(d), [line]);
    }
}

#[test]
fn a_cluster_without_control_planes_is_invalid() {
    let mut b = base();
    let line = line!() + 1;
    let c = TalosCluster::new("home", "https://10.0.10.5:6443")
        .link("ens18")
        .vm_storage(&b.lvm)
        .iso_storage(&b.local)
        .worker("w1", "10.0.10.21/24", &b.pve1);
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let d = one(&diags, INVALID_VALUE);
    assert_eq!(lines(d), [line]);
    assert!(d.message.contains("no control plane"), "{}", d.message);
}

#[test]
fn proxmox_findings_point_at_the_cluster_settings() {
    let mut b = base();
    let c = full(&b);
    let iso_line = line!() + 1;
    let c = c.iso_storage(&b.lvm);
    let bridge_line = line!() + 1;
    let c = c.bridge("vmbr9");
    c.add_to(&mut b.lab);
    let diags = b.lab.check();
    let content = find(&diags, "proxmox::storage-content");
    assert_eq!(content.len(), 2, "one per ISO download: {diags:#?}");
    for d in content {
        assert_eq!(lines(d)[0], iso_line);
    }
    let bridges = find(&diags, "proxmox::unknown-bridge");
    assert_eq!(bridges.len(), 4, "{diags:#?}");
    for d in bridges {
        assert_eq!(lines(d)[0], bridge_line);
    }
}

#[test]
fn a_node_declared_twice_is_invalid_at_the_second_declaration() {
    let mut b = base();
    let c = full(&b);
    let line = line!() + 1;
    let c = c.worker("w1", "10.0.10.22/24", &b.pve1);
    let talos = c.add_to(&mut b.lab);
    assert_eq!(talos.machines.len(), 4);
    let diags = b.lab.check();
    let d = one(&diags, INVALID_VALUE);
    assert_eq!(lines(d), [line]);
    assert!(
        d.message.contains("`w1` is declared twice"),
        "{}",
        d.message
    );
    assert!(find(&diags, "core::duplicate-address").is_empty());
}

#[test]
fn registering_the_schematic_makes_every_iso_wait_for_it() {
    let mut b = base();
    let without = full(&b).add_to(&mut b.lab);
    assert!(without.schematic.is_none(), "off by default");
    assert_eq!(count(&b.lab, kinds::SCHEMATIC), 0);

    let mut b = base();
    let schematic = Schematic::new().extension(QEMU_GUEST_AGENT);
    let line = line!() + 1;
    let talos = full(&b).register_schematic().add_to(&mut b.lab);
    let reg = talos.schematic.as_ref().expect("a registration");
    assert_eq!(reg.address().to_string(), "talos.schematic.home");
    assert_eq!(count(&b.lab, kinds::SCHEMATIC), 1);

    let spec = spec(&b.lab, kinds::SCHEMATIC, "home");
    assert_eq!(
        spec.attrs["factory"],
        Value::from("https://factory.talos.dev")
    );
    assert_eq!(
        spec.attrs["schematic"],
        Value::from(schematic.canonical_yaml())
    );
    assert_eq!(spec.attrs["id"], Value::from(QEMU_GUEST_AGENT_SCHEMATIC_ID));

    assert_eq!(talos.isos.len(), 2);
    for iso in &talos.isos {
        let file = b.lab.resource(iso.address()).unwrap();
        let on_schematic: Vec<_> = file
            .deps
            .iter()
            .filter(|d| d.on.to_string() == "talos.schematic.home")
            .collect();
        assert_eq!(on_schematic.len(), 1, "{}: {:#?}", file.address, file.deps);
        assert_eq!(on_schematic[0].loc.line(), line, "at .register_schematic()");
    }
    assert!(b.lab.check().is_empty(), "{:#?}", b.lab.check());
}

#[test]
fn a_schematic_that_embeds_a_machine_config_is_a_secret() {
    let embedded = "machine:\n    token: not-for-plans\n";
    let schematic = Schematic::new().embedded_machine_configuration(embedded);
    let registration = SchematicRegistration::new("home", &ImageFactory::default(), &schematic);
    let attr = &registration.spec().attrs["schematic"];
    assert!(matches!(attr, Value::Secret(_)), "{attr:?}");
    assert!(!format!("{attr:?}").contains("not-for-plans"));
    let plain = SchematicRegistration::new("home", &ImageFactory::default(), &Schematic::new());
    assert!(matches!(plain.spec().attrs["schematic"], Value::Str(_)));
}
