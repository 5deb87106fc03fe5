//! An [`App`] lowers onto the resources a user could write by hand, and the
//! provider crates' checks hold for it at the App's own lines.

use lab_core::prelude::*;
use lab_core::{Diagnostic, Value};
use lab_net::kinds::Port;
use lab_net::model::cloudflare::{Account, Include, Tunnel, Zone as CfZone};
use lab_net::model::{Caddy, Vlan, Zone};
use lab_pbs::model::{Datastore, PbsServer, PveStorage, Token, User};
use lab_proxmox::model::{BackupJob, Container, Content, NasPool, Node, Storage};
use lab_services::{App, AppGuest, ABOUT_ANNOTATION, APP_ANNOTATION};

struct Base {
    lab: Lab,
    pve1: Handle<Node>,
    lvm: Handle<Storage>,
    v20: Handle<Vlan>,
    v40: Handle<Vlan>,
    tunnel: Handle<Tunnel>,
}

fn base() -> Base {
    let mut lab = Lab::new("home");
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1),
    );
    let servers = lab.add(Zone::servers());
    let dmz = lab.add(Zone::dmz());
    let v20 = lab.add(
        Vlan::new("servers", 20, &servers)
            .cidr("10.0.20.0/24")
            .gateway("10.0.20.1"),
    );
    let v40 = lab.add(
        Vlan::new("dmz", 40, &dmz)
            .cidr("10.0.40.0/24")
            .gateway("10.0.40.1"),
    );
    let cf = lab.add(Account::new(
        "cf",
        "0123456789abcdef0123456789abcdef",
        Secret::new("token"),
        "team",
    ));
    lab.add(CfZone::new(&cf, "example.com"));
    let tunnel = lab.add(Tunnel::new(&cf, "home"));
    Base {
        lab,
        pve1,
        lvm,
        v20,
        v40,
        tunnel,
    }
}

/// A container's template, as every container needs one.
fn os(ct: Container) -> Container {
    ct.ostemplate_volid("local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst")
}

fn line_of(d: &Diagnostic) -> Vec<u32> {
    d.labels.iter().map(|l| l.loc.line()).collect()
}

#[test]
fn an_app_lowers_to_its_guest_service_data_and_backup_selection() {
    let Base {
        mut lab,
        pve1,
        lvm,
        v20,
        ..
    } = base();
    let dumps = lab.add(
        Storage::existing("dumps")
            .content(&[Content::Backup])
            .node(&pve1),
    );
    let job = lab.add(BackupJob::new("nightly", &dumps, "02:00"));
    let caddy_ct =
        lab.add(os(lab_proxmox::model::Container::new("proxy", &pve1)).rootfs(&lvm, "8G"));
    let proxy = lab.add(Caddy::new("proxy", "10.0.20.5:2019").runs_in(&caddy_ct));
    let db = App::container("postgres", &pve1, |ct| os(ct).rootfs(&lvm, "8G"))
        .vlan(&v20)
        .port(Port::tcp(5432))
        .add_to(&mut lab);
    let photos = App::container("photos", &pve1, |ct| os(ct).cores(4).rootfs(&lvm, "16G"))
        .about("Immich, the photo library")
        .vlan(&v20)
        .address("10.0.20.30")
        .port(Port::tcp(2283))
        .needs(&db)
        .data(&lvm, "/photos", "200G")
        .backup(&job)
        .internal(&proxy, "photos.lab.home.arpa", 2283)
        .add_to(&mut lab);

    let AppGuest::Container(ct) = &photos.guest else {
        panic!("a container was asked for")
    };
    assert_eq!(ct.address().to_string(), "proxmox.ct.photos");
    lab.derive();
    let guest = lab.resource(ct.address()).unwrap();
    assert_eq!(
        guest.annotations.get(ABOUT_ANNOTATION),
        Some(&Value::from("Immich, the photo library"))
    );
    assert_eq!(
        guest.annotations.get(APP_ANNOTATION),
        Some(&Value::from("photos"))
    );
    assert_eq!(guest.attrs["cores"], Value::Int(4));
    // The NIC on the VLAN with its tag and the fixed address (lab-net's
    // derivation), the data as mount point mp0 on the storage.
    let nic = &guest.attrs["nics"].as_list().unwrap()[0];
    assert_eq!(nic.get("tag"), Some(&Value::Int(20)));
    assert_eq!(nic.get("ip").and_then(Value::as_str), Some("10.0.20.30/24"));
    let mp = &guest.attrs["mountpoints"].as_list().unwrap()[0];
    assert_eq!(mp.get("slot").and_then(Value::as_str), Some("mp0"));
    assert_eq!(mp.get("path").and_then(Value::as_str), Some("/photos"));
    assert_eq!(mp.get("storage").and_then(Value::as_str), Some("local-lvm"));

    // The lab-net service: its port, what it needs, its proxy route.
    let svc = lab.resource(photos.service.address()).unwrap();
    assert_eq!(svc.address.to_string(), "net.service.photos");
    assert_eq!(
        svc.attrs["ports"],
        Value::List(vec![Value::from("tcp/2283")])
    );
    assert_eq!(
        svc.attrs["needs"],
        Value::List(vec![Value::from("postgres")])
    );
    assert_eq!(
        svc.attrs["proxy"].get("host").and_then(Value::as_str),
        Some("photos.lab.home.arpa")
    );
    // The backup job selects the guest (its VMID, once known), and waits
    // for it.
    let job = lab.resource(job.address()).unwrap();
    let vmids = job.attrs["vmids"].as_list().unwrap();
    assert_eq!(vmids.len(), 1);
    assert!(matches!(&vmids[0], Value::Ref(r) if r.address == *ct.address()));
    assert!(job.deps.iter().any(|d| d.on == *ct.address()));
    // The derived proxy route is there too.
    let caddy = lab.resource(proxy.address()).unwrap();
    let routes = caddy.attrs["routes"].as_list().unwrap();
    assert!(routes
        .iter()
        .any(|r| r.get("host").and_then(Value::as_str) == Some("photos.lab.home.arpa")));
    assert!(lab.check().is_empty(), "{:?}", lab.check());
}

#[test]
fn a_public_admin_surface_without_access_fails_check_at_the_apps_public_line() {
    let Base {
        mut lab,
        pve1,
        lvm,
        v40,
        tunnel,
        ..
    } = base();
    let public_line = line!() + 5;
    App::container("automation", &pve1, |ct| os(ct).rootfs(&lvm, "8G"))
        .vlan(&v40)
        .admin(Port::tcp(5678))
        // The admin UI on the internet for anyone.
        .public(&tunnel, "automation.example.com", 5678)
        .add_to(&mut lab);
    let diags = lab.check();
    let d = diags
        .iter()
        .find(|d| d.code == "net::admin-public")
        .unwrap_or_else(|| panic!("no net::admin-public in {diags:?}"));
    assert!(
        line_of(d).contains(&public_line),
        "labels {:?} miss line {public_line}",
        line_of(d)
    );
    // No label points inside lab-services.
    for d in &diags {
        for l in &d.labels {
            assert!(!l.loc.file().contains("lab-services/src"), "{d:?}");
        }
    }
}

#[test]
fn behind_access_the_same_admin_surface_passes() {
    let Base {
        mut lab,
        pve1,
        lvm,
        v40,
        tunnel,
        ..
    } = base();
    App::container("automation", &pve1, |ct| os(ct).rootfs(&lvm, "8G"))
        .vlan(&v40)
        .admin(Port::tcp(5678))
        .public_behind_access(
            &tunnel,
            "automation.example.com",
            5678,
            Include::emails(&["owner@example.com"]),
        )
        .add_to(&mut lab);
    let diags = lab.check();
    // Only the warning that no connector runs the tunnel (this lab has
    // none).
    assert!(
        diags.iter().all(|d| d.code == "net::tunnel-no-connector"),
        "{diags:?}"
    );
    lab.derive();
    assert!(lab.resources().any(|s| s.kind() == "cloudflare.access_app"));
}

#[test]
fn a_bad_value_points_at_the_apps_method_line() {
    let Base {
        mut lab,
        pve1,
        lvm,
        v20,
        ..
    } = base();
    let caddy_ct =
        lab.add(os(lab_proxmox::model::Container::new("proxy", &pve1)).rootfs(&lvm, "8G"));
    let proxy = lab.add(Caddy::new("proxy", "10.0.20.5:2019").runs_in(&caddy_ct));
    let data_line = line!() + 4;
    let internal_line = line!() + 4;
    App::container("notes", &pve1, |ct| os(ct).rootfs(&lvm, "8G"))
        .vlan(&v20)
        .data(&lvm, "data", "10G")
        .internal(&proxy, "notes.lab.home.arpa", 0)
        .add_to(&mut lab);
    let diags = lab.check();
    let lines: Vec<u32> = diags.iter().flat_map(line_of).collect();
    assert!(lines.contains(&data_line), "{diags:#?}");
    assert!(lines.contains(&internal_line), "{diags:#?}");
}

#[test]
fn data_whose_only_copy_shares_its_appliance_fails_check_at_the_app() {
    let Base {
        mut lab,
        pve1,
        lvm,
        v20,
        ..
    } = base();
    let nas = lab.add(Appliance::new("nas-a").kind(ApplianceKind::Nas));
    let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
    let hot = lab.add(
        NasPool::new("hot")
            .server("10.0.30.5")
            .export("/mnt/hot/pve")
            .capacity("8T")
            .on(&nas),
    );
    let hot_nfs = lab.add(Storage::nfs("hot", &hot).content(&[Content::Images, Content::Rootdir]));
    lab.add(Node::local_disk(&pve1));
    // The only backups on the same NAS pool as the data.
    let server = lab.add(PbsServer::new("pbs", "10.0.10.20").on(&pbs_box));
    let daily = lab.add(Datastore::new(&server, "daily", "/mnt/hot/pbs").nas_pool(&hot));
    let user = lab.add(User::new(&server, "pve@pbs"));
    let token = lab.add(Token::new(&user, "backup"));
    let pbs = lab.add(PveStorage::new("pbs-daily", &server, &daily, &token));
    let nightly = lab.add(BackupJob::new("nightly", &pbs, "02:00"));
    let app_line = line!() + 1;
    App::container("photos", &pve1, |ct| os(ct).rootfs(&lvm, "8G"))
        .vlan(&v20)
        .data(&hot_nfs, "/photos", "200G")
        .backup(&nightly)
        .add_to(&mut lab);
    let diags = lab.check();
    let d = diags
        .iter()
        .find(|d| d.code == "pbs::no-restorable-copy")
        .unwrap_or_else(|| panic!("no pbs::no-restorable-copy in {diags:#?}"));
    assert!(line_of(d).contains(&app_line), "{d:#?}");
}
