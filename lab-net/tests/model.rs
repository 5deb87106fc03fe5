//! lab-net's model: checks at the user's lines, the IPAM, the derived
//! firewall, and the `reach` command.

use lab_core::prelude::*;
use lab_net::kinds::{Port, Trust};
use lab_net::model::*;
use lab_net::read::NetModel;
use lab_proxmox::model::{Container, Node};

struct Base {
    lab: Lab,
    node: Handle<Node>,
    servers: Handle<Zone>,
    storage: Handle<Zone>,
    iot: Handle<Zone>,
    v20: Handle<Vlan>,
    v30: Handle<Vlan>,
    v60: Handle<Vlan>,
}

fn base() -> Base {
    let mut lab = Lab::new("home");
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let servers = lab.add(Zone::servers());
    let storage = lab.add(Zone::storage());
    let iot = lab.add(Zone::iot());
    let v20 = lab.add(
        Vlan::new("servers", 20, &servers)
            .cidr("10.0.20.0/24")
            .gateway("10.0.20.1"),
    );
    let v30 = lab.add(Vlan::new("storage", 30, &storage).cidr("10.0.30.0/24"));
    let v60 = lab.add(
        Vlan::new("iot", 60, &iot)
            .cidr("10.0.60.0/24")
            .gateway("10.0.60.1"),
    );
    Base {
        lab,
        node,
        servers,
        storage,
        iot,
        v20,
        v30,
        v60,
    }
}

/// The blocking findings of lab-net and lab-core's value checks, without
/// the container's own (these guests have no template or root disk).
fn codes(lab: &Lab) -> Vec<String> {
    lab.check()
        .into_iter()
        .filter(|d| d.is_blocking())
        .filter(|d| !d.message.contains("ostemplate:") && !d.message.contains("rootfs:"))
        .map(|d| d.code)
        .collect()
}

#[test]
fn a_nic_on_another_zones_vlan_is_refused_at_its_line() {
    let mut b = base();
    let line = line!() + 4;
    b.lab.add(
        Container::new("app", &b.node)
            .zone(&b.servers)
            .nic_on("net0", &b.v30),
    );
    let diags = b.lab.check();
    let d = diags
        .iter()
        .find(|d| d.code == "net::nic-zone")
        .expect("net::nic-zone");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d.message.contains("VLAN `storage`"), "{}", d.message);
    // A raw tag that is none of the zone's VLANs is the same mistake.
    let mut b = base();
    b.lab.add(
        Container::new("app", &b.node)
            .zone(&b.servers)
            .nic("net0", "vmbr0")
            .vlan(60),
    );
    assert!(codes(&b.lab).contains(&"net::nic-zone".to_string()));
    // On its zone's VLAN it is clean.
    let mut b = base();
    b.lab.add(
        Container::new("app", &b.node)
            .zone(&b.servers)
            .nic_on("net0", &b.v20),
    );
    assert!(codes(&b.lab).is_empty(), "{:?}", codes(&b.lab));
}

#[test]
fn vlans_are_checked() {
    let mut b = base();
    b.lab
        .add(Vlan::new("again", 20, &b.iot).cidr("10.0.99.0/24"));
    b.lab.add(Vlan::new("wide", 99, &b.iot).cidr("10.0.0.0/16"));
    b.lab.add(Vlan::new("zero", 0, &b.iot).cidr("10.1.0.0/24"));
    b.lab.add(Vlan::new("host", 98, &b.iot).cidr("10.2.0.5/24"));
    let c = codes(&b.lab);
    assert!(c.contains(&"net::vlan-id-repeated".into()), "{c:?}");
    assert!(c.contains(&"net::cidr-overlap".into()), "{c:?}");
    assert!(c.contains(&"core::invalid-value".into()), "{c:?}");
}

#[test]
fn the_ipam_is_a_pure_function_of_the_lab() {
    let addresses = |order: &[&str]| {
        let mut b = base();
        for name in order {
            b.lab
                .add(Container::new(*name, &b.node).nic_on("net0", &b.v20));
        }
        b.lab.add(
            Container::new("fixed", &b.node)
                .nic_on("net0", &b.v20)
                .address("10.0.20.50"),
        );
        let m = NetModel::read(&b.lab);
        let mut out: Vec<(String, String)> = m
            .guests
            .iter()
            .map(|g| (g.name().to_string(), g.nics[0].address.unwrap().to_string()))
            .collect();
        out.sort();
        out
    };
    let a = addresses(&["web", "db", "cache", "auth"]);
    let b = addresses(&["auth", "cache", "db", "web"]);
    assert_eq!(a, b, "the order of the code does not move addresses");
    let mut seen = std::collections::BTreeSet::new();
    for (name, addr) in &a {
        assert!(seen.insert(addr.clone()), "{addr} given twice");
        if name == "fixed" {
            assert_eq!(addr, "10.0.20.50");
        } else {
            assert_ne!(addr, "10.0.20.1", "the gateway is reserved");
            let last: u32 = addr.rsplit('.').next().unwrap().parse().unwrap();
            assert!(
                (10..255).contains(&last),
                "{addr} is outside the default pool"
            );
        }
    }
    // Adding a guest moves no one else here (no collision on first choice).
    let c = addresses(&["web", "db", "cache", "auth", "photos"]);
    for (name, addr) in &a {
        assert!(c.contains(&(name.clone(), addr.clone())), "{name} moved");
    }
}

#[test]
fn addresses_outside_or_twice_are_refused() {
    let mut b = base();
    b.lab.add(
        Container::new("a", &b.node)
            .nic_on("net0", &b.v20)
            .address("10.0.30.5"),
    );
    b.lab.add(
        Container::new("c", &b.node)
            .nic_on("net0", &b.v20)
            .address("10.0.20.1"),
    );
    b.lab.add(Host::new("nas", &b.v30, "10.0.30.7"));
    b.lab.add(
        Container::new("d", &b.node)
            .nic_on("net0", &b.v30)
            .address("10.0.30.7"),
    );
    let c = codes(&b.lab);
    assert!(c.contains(&"net::address-outside-vlan".into()), "{c:?}");
    assert_eq!(
        c.iter().filter(|c| *c == "net::address-twice").count(),
        2,
        "{c:?}"
    );
}

#[test]
fn a_pool_can_run_out() {
    let mut b = base();
    let tiny = b.lab.add(
        Vlan::new("tiny", 70, &b.iot)
            .cidr("10.0.70.0/24")
            .pool("10.0.70.10", "10.0.70.11"),
    );
    for n in ["a", "c", "d"] {
        b.lab.add(Container::new(n, &b.node).nic_on("net0", &tiny));
    }
    assert!(codes(&b.lab).contains(&"net::pool-exhausted".into()));
}

#[test]
fn a_service_whose_database_the_policy_denies_fails_at_the_needs_line() {
    let mut b = base();
    let db = b
        .lab
        .add(Container::new("db", &b.node).nic_on("net0", &b.v30));
    let app = b
        .lab
        .add(Container::new("app", &b.node).nic_on("net0", &b.v20));
    let pg = b
        .lab
        .add(Service::new("postgres", &db).port(Port::tcp(5432)));
    let line = line!() + 4; // the `.needs(&pg)` line
    b.lab.add(
        Service::new("photos", &app)
            .port(Port::tcp(2283))
            .needs(&pg),
    );
    let diags = b.lab.check();
    let d = diags
        .iter()
        .find(|d| d.code == "net::flow-denied")
        .expect("flow-denied");
    assert_eq!(d.file_line(), Some((file!(), line)));
    assert!(d
        .help
        .as_deref()
        .unwrap_or("")
        .contains("Flow::allow(&servers, &storage)"));
    // The flow the help names makes it clean.
    b.lab.add(Flow::allow(&b.servers, &b.storage).service(&pg));
    assert!(codes(&b.lab).is_empty(), "{:?}", codes(&b.lab));
}

#[test]
fn an_admin_surface_reachable_from_iot_is_refused() {
    let mut b = base();
    let ct = b
        .lab
        .add(Container::new("nas-ui", &b.node).nic_on("net0", &b.v30));
    b.lab.add(
        Service::new("nas-ui", &ct)
            .port(Port::tcp(80))
            .admin(Port::tcp(5001)),
    );
    b.lab
        .add(Flow::allow(&b.iot, &b.storage).port(Port::tcp(80)));
    assert!(codes(&b.lab).is_empty(), "{:?}", codes(&b.lab));
    b.lab.add(Flow::allow(&b.iot, &b.storage).any());
    assert!(codes(&b.lab).contains(&"net::admin-exposed".into()));
}

#[test]
fn the_firewall_off_outside_trusted_zones_is_refused() {
    let mut b = base();
    b.lab.add(
        Container::new("cam", &b.node)
            .nic_on("net0", &b.v60)
            .firewall(false),
    );
    assert!(codes(&b.lab).contains(&"net::firewall-off".into()));
    let mut lab = Lab::new("home");
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let mgmt = lab.add(Zone::new("mgmt", Trust::Mgmt));
    let v10 = lab.add(Vlan::new("mgmt", 10, &mgmt).cidr("10.0.10.0/24"));
    lab.add(
        Container::new("jump", &node)
            .nic_on("net0", &v10)
            .firewall(false),
    );
    assert!(!codes(&lab).contains(&"net::firewall-off".into()));
}

#[test]
fn names_served_twice_are_refused() {
    let mut b = base();
    let ct = b
        .lab
        .add(Container::new("photos", &b.node).nic_on("net0", &b.v20));
    let other = b
        .lab
        .add(Container::new("docs", &b.node).nic_on("net0", &b.v20));
    let proxy = b.lab.add(Caddy::new("caddy", "127.0.0.1:2019"));
    b.lab
        .add(Service::new("photos", &ct).port(Port::tcp(2283)).internal(
            &proxy,
            "photos.lab.home.arpa",
            2283,
        ));
    b.lab
        .add(Service::new("docs", &other).port(Port::tcp(8000)).internal(
            &proxy,
            "Photos.lab.home.arpa",
            8000,
        ));
    b.lab
        .add(DnsRecord::new("photos.lab.home.arpa", "10.0.20.9"));
    let c = codes(&b.lab);
    assert_eq!(
        c.iter().filter(|c| *c == "net::host-twice").count(),
        2,
        "{c:?}"
    );
}

#[test]
fn the_derivation_writes_nics_and_the_firewall() {
    let mut b = base();
    let db = b.lab.add(
        Container::new("db", &b.node)
            .nic_on("net0", &b.v30)
            .address("10.0.30.20"),
    );
    let app = b
        .lab
        .add(Container::new("app", &b.node).nic_on("net0", &b.v20));
    let pg = b
        .lab
        .add(Service::new("postgres", &db).port(Port::tcp(5432)));
    b.lab.add(
        Service::new("photos", &app)
            .port(Port::tcp(2283))
            .needs(&pg),
    );
    b.lab.add(Flow::allow(&b.servers, &b.storage).service(&pg));
    let mut lab = b.lab;
    lab.derive();
    let get = |a: &str| {
        lab.resources()
            .find(|s| s.address.to_string() == a)
            .unwrap_or_else(|| panic!("{a} derived"))
    };
    let nic = &get("proxmox.ct.db").attrs["nics"].as_list().unwrap()[0];
    assert_eq!(nic.get("tag"), Some(&Value::Int(30)));
    assert_eq!(nic.get("firewall"), Some(&Value::Bool(true)));
    assert_eq!(nic.get("ip").and_then(Value::as_str), Some("10.0.30.20/24"));
    assert!(nic.get("gw").is_none(), "the storage VLAN has no gateway");
    let set = get("proxmox.firewall_ipset.svc-postgres");
    assert_eq!(
        set.attrs["entries"].as_list().unwrap()[0]
            .get("cidr")
            .and_then(Value::as_str),
        Some("10.0.30.20/32")
    );
    let group = get("proxmox.firewall_group.zone-storage");
    let rules = group.attrs["rules"].as_list().unwrap();
    assert_eq!(rules.len(), 2, "inside the zone, then the flow");
    assert_eq!(
        rules[1].get("source").and_then(Value::as_str),
        Some("+zone-servers")
    );
    assert_eq!(
        rules[1].get("dest").and_then(Value::as_str),
        Some("+svc-postgres")
    );
    assert_eq!(rules[1].get("dport").and_then(Value::as_str), Some("5432"));
    let fw = get("proxmox.guest_firewall.db");
    assert_eq!(fw.attrs["policy_in"], Value::from("DROP"));
    assert!(matches!(fw.attrs["vmid"], Value::Ref(_)));
    let cluster = get("proxmox.firewall_cluster.cluster");
    assert_eq!(cluster.attrs["enable"], Value::Bool(true));
    assert!(cluster
        .deps
        .iter()
        .any(|d| d.on.to_string() == "proxmox.guest_firewall.app"));
    // Every derived resource points at a line of this file.
    for s in lab.resources().filter(|s| s.derived_by.is_some()) {
        assert_eq!(s.declared_at.file(), file!(), "{}", s.address);
    }
    // Deriving again changes nothing.
    let before: Vec<String> = lab.resources().map(|s| format!("{:?}", s.attrs)).collect();
    lab.add(Zone::guest());
    lab.derive();
    let after: Vec<String> = lab.resources().map(|s| format!("{:?}", s.attrs)).collect();
    assert_eq!(before.len() + 1, after.len());
    for b in &before {
        assert!(after.contains(b));
    }
}

#[test]
fn reach_answers_from_the_model_and_the_firewall() {
    let mut b = base();
    let db = b
        .lab
        .add(Container::new("db", &b.node).nic_on("net0", &b.v30));
    let app = b
        .lab
        .add(Container::new("app", &b.node).nic_on("net0", &b.v20));
    let pg = b
        .lab
        .add(Service::new("postgres", &db).port(Port::tcp(5432)));
    b.lab.add(
        Service::new("photos", &app)
            .port(Port::tcp(2283))
            .needs(&pg),
    );
    b.lab.add(Flow::allow(&b.servers, &b.storage).service(&pg));
    let run = |lab: Lab, args: &[&str]| {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut argv = vec!["lab"];
        argv.extend(args);
        let code = lab_core::cli::run_captured(lab, argv, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    };
    let (code, out, err) = run(b.lab, &["reach", "photos", "postgres", "5432"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("yes: app net0"), "{out}");
    assert!(
        out.contains("the derived Proxmox firewall agrees: accepted"),
        "{out}"
    );
    let mut b = base();
    let db = b
        .lab
        .add(Container::new("db", &b.node).nic_on("net0", &b.v30));
    b.lab
        .add(Service::new("postgres", &db).port(Port::tcp(5432)));
    let (code, out, _) = run(b.lab, &["reach", "iot", "postgres", "tcp/5432"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("no flow allows `iot` -> `storage` (default deny)"),
        "{out}"
    );
    assert!(out.contains("agrees: dropped"), "{out}");
}

#[test]
fn a_vlan_on_sdn_becomes_a_vnet_and_nics_use_it_untagged() {
    use lab_proxmox::model::SdnZone;
    let mut lab = Lab::new("home");
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let sdn = lab.add(SdnZone::vlan("lab", "vmbr0").node(&node));
    let servers = lab.add(Zone::servers());
    let v20 = lab.add(
        Vlan::new("servers", 20, &servers)
            .cidr("10.0.20.0/24")
            .gateway("10.0.20.1")
            .sdn(&sdn),
    );
    let ct = lab.add(Container::new("app", &node).nic_on("net0", &v20));
    assert!(codes(&lab).is_empty(), "{:?}", codes(&lab));
    lab.derive();
    let vnet = lab
        .resources()
        .find(|s| s.address.to_string() == "proxmox.sdn_vnet.vlan20")
        .expect("the VNet is derived");
    assert_eq!(vnet.attrs["tag"], Value::Int(20));
    assert_eq!(vnet.attrs["zone"], Value::from("lab"));
    let spec = lab.resource(ct.address()).unwrap();
    let nic = &spec.attrs["nics"].as_list().unwrap()[0];
    assert_eq!(nic.get("bridge").and_then(Value::as_str), Some("vlan20"));
    assert!(nic.get("tag").is_none());
    assert!(
        spec.deps.iter().any(|d| d.on == vnet.address),
        "the guest waits for its VNet"
    );
}

#[test]
fn the_proxy_must_be_allowed_to_reach_what_it_fronts() {
    let mut b = base();
    let dmz = b.lab.add(Zone::dmz());
    let v40 = b.lab.add(Vlan::new("dmz", 40, &dmz).cidr("10.0.40.0/24"));
    let edge = b
        .lab
        .add(Container::new("edge", &b.node).nic_on("net0", &v40));
    let proxy = b
        .lab
        .add(Caddy::new("proxy", "127.0.0.1:2019").runs_in(&edge));
    let app = b
        .lab
        .add(Container::new("app", &b.node).nic_on("net0", &b.v20));
    let photos = b
        .lab
        .add(Service::new("photos", &app).port(Port::tcp(2283)).internal(
            &proxy,
            "photos.lab.home.arpa",
            2283,
        ));
    let diags = b.lab.check();
    let d = diags
        .iter()
        .find(|d| d.code == "net::flow-denied")
        .expect("flow-denied for the proxy");
    assert!(
        d.message
            .contains("proxy `proxy` forwards `photos.lab.home.arpa`"),
        "{}",
        d.message
    );
    b.lab.add(Flow::allow(&dmz, &b.servers).service(&photos));
    assert!(codes(&b.lab).is_empty(), "{:?}", codes(&b.lab));
    // The derived route points at the service's address.
    let mut lab = b.lab;
    lab.derive();
    let spec = lab.resource(proxy.address()).unwrap();
    let route = &spec.attrs["routes"].as_list().unwrap()[0];
    let upstream = route.get("upstreams").and_then(Value::as_list).unwrap()[0]
        .as_str()
        .unwrap()
        .to_string();
    let m = NetModel::read(&lab);
    let addr = m.guest("proxmox.ct.app").unwrap().nics[0].address.unwrap();
    assert_eq!(upstream, format!("{addr}:2283"));
}

#[test]
fn a_vm_with_cloud_init_gets_its_address_in_ipconfig() {
    use lab_proxmox::model::{CloudInit, Storage, Vm};
    let mut b = base();
    let lvm = b.lab.add(Storage::existing("local-lvm").node(&b.node));
    let vm = b.lab.add(
        Vm::new("app", &b.node)
            .cloud_init(CloudInit::new(&lvm).user("admin"))
            .nic_on("net0", &b.v20)
            .address("10.0.20.40")
            .nic_on("net1", &b.v30),
    );
    let mut lab = b.lab;
    lab.derive();
    let spec = lab.resource(vm.address()).unwrap();
    let ipconfig: Vec<&str> = spec.attrs["cloud_init"]
        .get("ipconfig")
        .and_then(Value::as_list)
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ipconfig.len(), 2, "{ipconfig:?}");
    assert_eq!(ipconfig[0], "ip=10.0.20.40/24,gw=10.0.20.1");
    assert!(ipconfig[1].starts_with("ip=10.0.30."), "{ipconfig:?}");
    assert!(
        !ipconfig[1].contains("gw="),
        "the storage VLAN has no gateway"
    );
    // An ipconfig the user wrote is kept.
    let mut b = base();
    let lvm = b.lab.add(Storage::existing("local-lvm").node(&b.node));
    let vm = b.lab.add(
        Vm::new("app", &b.node)
            .cloud_init(CloudInit::new(&lvm).ipconfig("ip=dhcp"))
            .nic_on("net0", &b.v20),
    );
    let mut lab = b.lab;
    lab.derive();
    let ci = &lab.resource(vm.address()).unwrap().attrs["cloud_init"];
    assert_eq!(
        ci.get("ipconfig").and_then(Value::as_list).unwrap().len(),
        1
    );
}

#[test]
fn two_clusters_get_a_firewall_each() {
    use lab_core::testing::MemoryProvider;
    let mut b = base();
    let east = b
        .lab
        .register_provider_as("east", MemoryProvider::new().shared());
    let west = b
        .lab
        .register_provider_as("west", MemoryProvider::new().shared());
    b.lab.add(
        Container::new("a", &b.node)
            .nic_on("net0", &b.v20)
            .provider(&east),
    );
    b.lab.add(
        Container::new("c", &b.node)
            .nic_on("net0", &b.v20)
            .provider(&west),
    );
    let mut lab = b.lab;
    lab.derive();
    for (instance, guest) in [("east", "a"), ("west", "c")] {
        let group = lab
            .resources()
            .find(|s| {
                s.address.to_string() == format!("proxmox.firewall_group.zone-servers--{instance}")
            })
            .unwrap_or_else(|| panic!("{instance}'s group"));
        assert_eq!(
            group.attrs["group"],
            Value::from("zone-servers"),
            "the PVE name is the same"
        );
        assert_eq!(
            group.provider.as_ref().map(|b| b.name.as_str()),
            Some(instance)
        );
        let cluster = lab
            .resources()
            .find(|s| {
                s.address.to_string() == format!("proxmox.firewall_cluster.cluster--{instance}")
            })
            .unwrap();
        assert!(cluster
            .deps
            .iter()
            .any(|d| d.on.to_string() == format!("proxmox.guest_firewall.{guest}")));
        let fw = lab
            .resources()
            .find(|s| s.address.to_string() == format!("proxmox.guest_firewall.{guest}"))
            .unwrap();
        assert!(fw.deps.iter().any(|d| d.on == group.address));
    }
}
