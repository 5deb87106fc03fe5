//! Two Proxmox clusters in one lab: two simulators registered as two
//! provider instances (`register_provider` + `register_provider_as`), a VM
//! and a container bound to each with `.provider(&handle)`, their VMIDs
//! colliding across the clusters. Apply, then a clean plan, and each
//! simulator holds only its own guests.

#![cfg(feature = "sim")]

mod common;

use std::path::Path;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{FileStateStore, ProviderHandle};
use lab_proxmox::model::*;
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};

fn connect(dir: &Path, file: &str) -> Connection {
    Connection::simulated(sim_config(), dir.join(file)).expect("simulator starts")
}

/// Both clusters have node `pve1` with `vmbr0`, `local` and `local-lvm`.
/// Cluster `a` is the default instance (`proxmox`), cluster `b` is `pve-b`.
fn lab(a: &Connection, b: &Connection) -> (Lab, Handle<Node>, ProviderHandle) {
    let mut lab = Lab::new("home");
    let ha = lab.register_provider(a.provider(ProxmoxOptions::default()));
    let hb = lab.register_provider_as("pve-b", b.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Vztmpl, Content::Iso])
            .node(&pve1),
    );
    for (cluster, handle) in [("a", &ha), ("b", &hb)] {
        let tmpl = lab.add(
            File::download(
                format!("debian-{cluster}"),
                &pve1,
                &local,
                Content::Vztmpl,
                "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
            )
            .provider(handle),
        );
        lab.add(
            Vm::new(format!("web-{cluster}"), &pve1)
                .vmid(100)
                .cores(2)
                .disk("scsi0", &lvm, "8G")
                .nic("net0", "vmbr0")
                .tags(&[cluster])
                .provider(handle),
        );
        lab.add(
            Container::new(format!("dns-{cluster}"), &pve1)
                .vmid(101)
                .ostemplate(&tmpl)
                .rootfs(&lvm, "4G")
                .nic("net0", "vmbr0")
                .ip("dhcp")
                .provider(handle),
        );
    }
    (lab, pve1, ha)
}

/// The names and VMIDs of a simulator's guests, sorted.
fn guests(conn: &Connection) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = conn
        .simulator()
        .unwrap()
        .world()
        .guests()
        .iter()
        .map(|g| (g.name.clone(), g.vmid))
        .collect();
    out.sort();
    out
}

#[test]
fn two_clusters_apply_then_plan_clean_each_holding_its_own_guests() {
    let dir = tempfile::tempdir().unwrap();
    let a = connect(dir.path(), "pve-a.json");
    let b = connect(dir.path(), "pve-b.json");
    let rt = runtime();
    let (lab, _, _) = lab(&a, &b);
    let errors: Vec<_> = lab
        .check()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "VMID 100 on two clusters is fine: {errors:#?}"
    );
    let engine = Engine::new(lab, FileStateStore::new(dir.path().join(".lab")));
    rt.block_on(async {
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let report = engine.apply(&plan, &opts()).await.expect("apply");
        assert!(report.is_success(), "{report:#?}");
        let again = engine.plan(&PlanOptions::default()).await.expect("plan");
        assert!(
            !again.has_changes(),
            "{:#?}",
            again
                .steps
                .iter()
                .map(|s| (&s.address, s.action, &s.changes))
                .collect::<Vec<_>>()
        );
    });
    assert_eq!(
        guests(&a),
        vec![("dns-a".to_string(), 101), ("web-a".to_string(), 100)]
    );
    assert_eq!(
        guests(&b),
        vec![("dns-b".to_string(), 101), ("web-b".to_string(), 100)]
    );
    for conn in [&a, &b] {
        let sim = conn.simulator().unwrap();
        assert!(
            sim.schema_violations().is_empty(),
            "{:#?}",
            sim.schema_violations()
        );
    }
}

#[test]
fn a_vmid_used_twice_in_one_cluster_is_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    let a = connect(dir.path(), "pve-a.json");
    let b = connect(dir.path(), "pve-b.json");
    let (mut lab, pve1, ha) = lab(&a, &b);
    lab.add(Vm::new("twin", &pve1).vmid(100).provider(&ha));
    let reused: Vec<_> = lab
        .check()
        .into_iter()
        .filter(|d| d.code == lab_proxmox::checks::VMID_REUSED)
        .collect();
    assert_eq!(reused.len(), 1, "{reused:#?}");
    assert!(reused[0].message.contains("web-a"), "{}", reused[0].message);
}
