//! A service placed on the Talos cluster lowers to lab-talos's workload
//! (its NFS volume from the NAS pool behind the storage) and a route on
//! the internal proxy to its load-balancer address; what it cannot do is
//! said at the App's lines.
#![cfg(feature = "talos")]

use lab_core::prelude::*;
use lab_core::Value;
use lab_net::kinds::Port;
use lab_net::model::Caddy;
use lab_proxmox::model::{Container, NasPool, Node, Storage};
use lab_services::App;
use lab_talos::model::TalosCluster;

struct Base {
    lab: Lab,
    cluster: Handle<lab_talos::model::Cluster>,
    hot: Handle<Storage>,
    local: Handle<Storage>,
    proxy: Handle<Caddy>,
}

fn base() -> Base {
    let mut lab = Lab::new("home");
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let talos = TalosCluster::new("home", "https://10.0.20.10:6443").add_to(&mut lab);
    let pool = lab.add(
        NasPool::new("hot")
            .server("10.0.30.5")
            .export("/mnt/hot/pve"),
    );
    let hot = lab.add(Storage::nfs("hot", &pool));
    let local = lab.add(Storage::existing("local"));
    let ct = lab.add(Container::new("proxy", &pve1));
    let proxy = lab.add(Caddy::new("proxy", "10.0.20.5:2019").runs_in(&ct));
    Base {
        lab,
        cluster: talos.cluster,
        hot,
        local,
        proxy,
    }
}

#[test]
fn a_cluster_app_is_a_workload_with_its_pools_nfs_volume_and_a_proxy_route() {
    let Base {
        mut lab,
        cluster,
        hot,
        proxy,
        ..
    } = base();
    let notes = App::on_talos("notes", &cluster, |w| {
        w.image("ghcr.io/silverbulletmd/silverbullet:2.1.9")
            .load_balancer("10.0.20.30")
    })
    .about("the household's notes")
    .port(Port::tcp(3000))
    .data(&hot, "/space", "20G")
    .internal(&proxy, "notes.lab.home.arpa", 3000)
    .add_to(&mut lab);

    let spec = lab.resource(notes.address()).unwrap();
    assert_eq!(spec.address.to_string(), "talos.workload.notes");
    assert_eq!(
        spec.annotations.get("about"),
        Some(&Value::from("the household's notes"))
    );
    let volume = &spec.attrs["volumes"].as_list().unwrap()[0];
    assert_eq!(
        volume.get("server").and_then(Value::as_str),
        Some("10.0.30.5")
    );
    assert_eq!(
        volume.get("export").and_then(Value::as_str),
        Some("/mnt/hot/pve/k8s/notes")
    );
    let port = &spec.attrs["ports"].as_list().unwrap()[0];
    assert_eq!(port.get("name").and_then(Value::as_str), Some("tcp-3000"));
    let caddy = lab.resource(proxy.address()).unwrap();
    let route = &caddy.attrs["routes"].as_list().unwrap()[0];
    assert_eq!(
        route.get("host").and_then(Value::as_str),
        Some("notes.lab.home.arpa")
    );
    assert_eq!(
        route.get("upstreams"),
        Some(&Value::List(vec![Value::from("10.0.20.30:3000")]))
    );
}

#[test]
fn data_off_nfs_and_a_route_without_an_address_fail_at_their_lines() {
    let Base {
        mut lab,
        cluster,
        local,
        proxy,
        ..
    } = base();
    let data_line = line!() + 5;
    let route_line = line!() + 5;
    App::on_talos("notes", &cluster, |w| {
        w.image("ghcr.io/silverbulletmd/silverbullet:2.1.9")
    })
    .data(&local, "/space", "20G")
    .internal(&proxy, "notes.lab.home.arpa", 3000)
    .add_to(&mut lab);
    let diags = lab.check();
    let at = |line: u32, text: &str| {
        diags
            .iter()
            .any(|d| d.message.contains(text) && d.labels.iter().any(|l| l.loc.line() == line))
    };
    assert!(at(data_line, "not an NFS storage"), "{diags:#?}");
    assert!(at(route_line, "needs the workload's address"), "{diags:#?}");
}
