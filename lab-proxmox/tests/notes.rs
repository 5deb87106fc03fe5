//! lab-proxmox's notes: the sections it gives a guest (where it runs, its
//! data on NAS pools), the short note in `notes`, and on pve-sim: the
//! short note lands in the guest's `description` above the ownership line,
//! a hand edit there (of a container's, of a running VM's) is drift on
//! `notes`, apply puts it back without restarting the guest, and a fresh run plans no changes.

mod common;

use lab_core::notes::NoteBook;
use lab_core::prelude::*;
use lab_proxmox::model::*;

/// A container with its root filesystem on the node's disk and a mount
/// point on a NAS pool, with the `about` an `App` would set.
fn add_guests(lab: &mut Lab) {
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve1_disk = lab.add(Node::local_disk(&pve1));
    let nas = lab.add(Appliance::new("nas-a").kind(ApplianceKind::Nas));
    let tank = lab.add(
        NasPool::new("tank")
            .server("10.0.0.5")
            .export("/mnt/tank/pve")
            .on(&nas),
    );
    let nfs =
        lab.add(Storage::nfs("tank-nfs", &tank).content(&[Content::Images, Content::Rootdir]));
    let local_lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .on(&pve1_disk)
            .node(&pve1),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Vztmpl, Content::Backup])
            .on(&pve1_disk)
            .node(&pve1),
    );
    let ct_tmpl = lab.add(File::download(
        "ct-template",
        &pve1,
        &local,
        Content::Vztmpl,
        "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
    ));
    let mut photos = Container::new("photos", &pve1)
        .ostemplate(&ct_tmpl)
        .cores(2)
        .memory_mb(2048)
        .rootfs(&local_lvm, "8G")
        .mount_point("mp0", &nfs, "50G", "/data")
        .nic("net0", "vmbr0")
        .ip("dhcp");
    photos.spec_mut().annotations.insert(
        "about".into(),
        Value::from("The family photo library; it keeps the originals."),
    );
    lab.add(photos);
    let mut web = Vm::new("web", &pve1)
        .memory_mb(1024)
        .disk("scsi0", &local_lvm, "8G")
        .nic("net0", "vmbr0");
    web.spec_mut()
        .annotations
        .insert("about".into(), Value::from("The blog."));
    lab.add(web);
    lab.add(
        Container::new("mine", &pve1)
            .ostemplate(&ct_tmpl)
            .rootfs(&local_lvm, "4G")
            .notes("my own notes"),
    );
}

fn attr(lab: &Lab, address: &str, field: &str) -> Option<Value> {
    let a = lab_core::Address::parse(address).unwrap();
    lab.resource(&a)?.attrs.get(field).cloned()
}

#[test]
fn a_guest_note_says_where_it_runs_and_where_its_data_is() {
    let mut lab = Lab::new("home");
    add_guests(&mut lab);
    lab.derive();
    let book = NoteBook::of(&lab);
    let subjects: Vec<String> = book.notes.iter().map(|n| n.address.to_string()).collect();
    assert_eq!(
        subjects,
        ["proxmox.ct.photos", "proxmox.vm.web", "proxmox.ct.mine"]
    );
    let md = book.notes[0].to_markdown();
    for part in [
        "# photos",
        "The family photo library; it keeps the originals.",
        "## Where it runs\n\nan LXC container on the node `pve1`, its VMID given by Proxmox at create",
        "- from the template file `proxmox.file.ct-template`\n- 2 core(s), 2048 MiB of memory",
        "- `rootfs`: 8 GiB on `local-lvm`",
        "- `mp0`: 50 GiB on `tank-nfs`, mounted at `/data`",
        "## Data",
        "- `mp0` (50 GiB) is on the storage `tank-nfs`, on the NAS pool `proxmox.nas-pool.tank` of the appliance `appliance.nas-a`",
        "- `proxmox.node.pve1` (through `node`)",
    ] {
        assert!(md.contains(part), "{part:?} missing from\n{md}");
    }
    assert!(!md.contains("## Data\n\n- `rootfs`"), "{md}");
    assert_eq!(
        attr(&lab, "proxmox.ct.photos", "notes"),
        Some(Value::from(
            "The family photo library; it keeps the originals.\n\n- node: pve1\n- full note: docs/proxmox.ct.photos.md"
        ))
    );
    // The user's notes win.
    assert_eq!(
        attr(&lab, "proxmox.ct.mine", "notes"),
        Some(Value::from("my own notes"))
    );
    assert!(
        lab.check().iter().all(|d| !d.is_blocking()),
        "{:?}",
        lab.check()
    );
}

#[cfg(feature = "sim")]
mod on_the_simulator {
    use std::path::Path;

    use lab_core::plan::PlanOptions;
    use lab_core::{Action, FileStateStore, StateStore};
    use lab_proxmox::{Connection, ProxmoxOptions};

    use super::common::{opts, runtime, sim_config};
    use super::*;

    fn engine(conn: &Connection, dir: &Path) -> Engine {
        let mut lab = Lab::new("home");
        lab.register_provider(conn.provider(ProxmoxOptions::default()));
        add_guests(&mut lab);
        Engine::new(lab, FileStateStore::new(dir.join(".lab")))
    }

    fn description(conn: &Connection, name: &str) -> String {
        conn.simulator()
            .unwrap()
            .world()
            .guests()
            .into_iter()
            .find(|g| g.name == name)
            .unwrap_or_else(|| panic!("{name} exists"))
            .config
            .get("description")
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn the_short_note_is_the_description_and_a_hand_edit_is_drift() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
        let rt = runtime();
        rt.block_on(async {
            let e = engine(&conn, dir.path());
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let report = e.apply(&plan, &opts()).await.unwrap();
            assert!(report.is_success(), "{report:#?}");

            let written = description(&conn, "photos");
            let lines: Vec<&str> = written.lines().collect();
            assert_eq!(
                lines[..4],
                [
                    "The family photo library; it keeps the originals.",
                    "",
                    "- node: pve1",
                    "- full note: docs/proxmox.ct.photos.md",
                ],
                "{written}"
            );
            let marker = lines[4];
            assert!(
                marker.starts_with("lab:"),
                "the ownership line follows: {written}"
            );
            assert!(description(&conn, "mine").starts_with("my own notes\nlab:"));

            let sim = conn.simulator().unwrap();
            // Someone edits the notes in the web UI (keeping the marker).
            let state = FileStateStore::new(dir.path().join(".lab"))
                .load()
                .unwrap()
                .unwrap();
            let photos = lab_core::Address::new("proxmox.ct", "photos");
            let vmid = state.resources[&photos].id.clone();
            let edited = format!("fixed by hand\n{marker}");
            let form = lab_proxmox::api::Form::new().str("description", &edited);
            conn.client()
                .put(&format!("/nodes/pve1/lxc/{vmid}/config"), &form)
                .await
                .unwrap();
            assert_eq!(description(&conn, "photos"), edited);
            // And the running VM's, its marker kept too.
            let web = lab_core::Address::new("proxmox.vm", "web");
            let web_vmid = state.resources[&web].id.clone();
            let web_written = description(&conn, "web");
            assert!(
                web_written.starts_with(
                    "The blog.\n\n- node: pve1\n- full note: docs/proxmox.vm.web.md\nlab:"
                ),
                "{web_written}"
            );
            let web_marker = web_written.lines().last().unwrap().to_string();
            let form =
                lab_proxmox::api::Form::new().str("description", format!("my VM\n{web_marker}"));
            conn.client()
                .put(&format!("/nodes/pve1/qemu/{web_vmid}/config"), &form)
                .await
                .unwrap();
            let plan = e.plan(&PlanOptions::default()).await.unwrap();
            let mut drift: Vec<(String, Vec<String>)> = plan
                .drift
                .iter()
                .map(|d| {
                    (
                        d.address.to_string(),
                        d.changes.iter().map(|c| c.field.clone()).collect(),
                    )
                })
                .collect();
            drift.sort();
            assert_eq!(
                drift,
                [
                    ("proxmox.ct.photos".to_string(), vec!["notes".to_string()]),
                    ("proxmox.vm.web".to_string(), vec!["notes".to_string()])
                ],
                "{:#?}",
                plan.steps
            );
            for guest in [&photos, &web] {
                let step = plan.step(guest).expect("the note is put back");
                assert_eq!(step.action, Action::Update);
            }
            assert_eq!(plan.steps.len(), 2, "{:#?}", plan.steps);

            sim.reset_requests();
            let report = e.apply(&plan, &opts()).await.unwrap();
            assert!(report.is_success(), "{report:#?}");
            assert_eq!(description(&conn, "photos"), written);
            assert_eq!(description(&conn, "web"), web_written);
            let running = |name: &str| {
                sim.world()
                    .guests()
                    .into_iter()
                    .find(|g| g.name == name)
                    .is_some_and(|g| g.status == lab_proxmox::sim::GuestStatus::Running)
            };
            assert!(running("photos") && running("web"));
            let power: Vec<String> = sim
                .requests()
                .into_iter()
                .filter(|r| r.path.contains("/status/") && r.method == "POST")
                .map(|r| r.path)
                .collect();
            assert!(
                power.is_empty(),
                "a note update restarted the guest: {power:?}"
            );
        });

        // Another process: a fresh lab, derived anew, and the state on disk.
        let e = engine(&conn, dir.path());
        let plan = rt.block_on(e.plan(&PlanOptions::default())).unwrap();
        assert!(
            !plan.has_changes() && plan.drift.is_empty(),
            "{:#?}",
            plan.steps
        );
    }
}
