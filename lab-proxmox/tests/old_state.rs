//! A lab applied by an older build plans "No changes." with this one.
//!
//! The fixture `tests/fixtures/state-v0.1-b7ad410/` is what
//! `examples/proxmox.rs` left in `.lab/` when built at commit `b7ad410`
//! (before typed kinds and before the state recorded each resource's
//! provider instance):
//!
//! ```sh
//! git worktree add /tmp/old b7ad410
//! cd /tmp/old && cargo run --example proxmox -- apply --auto-approve
//! cp .lab/state.json .lab/sim/pve.json <fixture dir>
//! ```
//!
//! `state.json` is the lab's state as the old code wrote it (no `provider`
//! field; the example holds no secret, so nothing in it is sealed and that
//! run made no `age.key`), `pve.json` the simulator's persisted world. The
//! simulator's certificate sidecar was left out: a new one is made.
//!
//! The test copies them into a temporary directory, starts the simulator
//! from that world, builds the example's lab (copied below) and plans:
//! nothing to create, update, replace, delete or report as drift. A second
//! test applies a change over the old state and plans clean again.

#![cfg(feature = "sim")]

mod common;

use std::path::Path;
use std::sync::Arc;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{FileStateStore, StateStore};
use lab_proxmox::model::*;
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{opts, runtime, sim_config};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/state-v0.1-b7ad410"
);

/// `examples/proxmox.rs`'s lab, as it was at `b7ad410` (and still is), with
/// immich's cores a parameter (4 in the example).
fn example_lab(pve: &Connection, immich_cores: u32) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(pve.provider(ProxmoxOptions::default()));

    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    lab.add(Node::local_disk(&pve1));
    lab.add(Node::local_disk(&pve2));

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

    for (i, (name, cores, mem, data)) in [
        ("immich", immich_cores, 8192, "200G"),
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
    lab
}

/// Copies the fixture into `dir`: the state store in `dir/.lab`, the
/// simulator's world at `dir/.lab/sim/pve.json` (where the example keeps it).
fn unpack(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let store = dir.join(".lab");
    let world = store.join("sim").join("pve.json");
    std::fs::create_dir_all(world.parent().unwrap()).unwrap();
    for (from, to) in [
        ("state.json", store.join("state.json")),
        ("pve.json", world.clone()),
    ] {
        std::fs::copy(Path::new(FIXTURE).join(from), &to)
            .unwrap_or_else(|e| panic!("copying the fixture's {from}: {e}"));
    }
    (store, world)
}

/// The example's guests, in the order the plan updates them.
const GUESTS: [&str; 5] = [
    "proxmox.ct.mealie",
    "proxmox.ct.paperless",
    "proxmox.vm.homeassistant",
    "proxmox.vm.nextcloud",
    "proxmox.vm.immich",
];

#[test]
fn a_state_applied_by_b7ad410_plans_no_changes_but_the_notes() {
    let dir = tempfile::tempdir().unwrap();
    let (store_dir, world) = unpack(dir.path());
    let pve = Connection::simulated(sim_config(), &world).expect("simulator starts");
    let store: Arc<dyn StateStore> = Arc::new(FileStateStore::new(&store_dir));
    let recorded = store.load().expect("the old state loads").expect("a state");
    assert!(
        recorded.resources.values().all(|r| r.provider.is_empty()),
        "the fixture predates recorded provider instances"
    );
    let engine = Engine::with_store(example_lab(&pve, 4), store.clone());
    let plan = runtime()
        .block_on(engine.plan(&PlanOptions::default()))
        .expect("plan");
    // Only addresses, actions and field names: no values (and so no
    // secret) reach the test output.
    let steps: Vec<_> = plan
        .steps
        .iter()
        .map(|s| {
            let fields: Vec<_> = s.changes.iter().map(|c| c.field.as_str()).collect();
            format!("{} {:?} {fields:?}", s.address, s.action)
        })
        .collect();
    let drift: Vec<_> = plan
        .drift
        .iter()
        .map(|d| {
            let fields: Vec<_> = d.changes.iter().map(|c| c.field.as_str()).collect();
            format!("{} deleted={} {fields:?}", d.address, d.deleted)
        })
        .collect();
    assert_eq!(
        steps,
        GUESTS.map(|g| format!("{g} Update [\"notes\"]")),
        "the old state should plan only the guests' short notes\ndrift: {drift:#?}"
    );
    assert!(plan.drift.is_empty(), "drift: {drift:#?}");
    assert_eq!(plan.unchanged, recorded.resources.len() - GUESTS.len());
    // Planning wrote nothing: the old state is as it was.
    let after = store.load().unwrap().unwrap();
    assert_eq!(after.serial, recorded.serial);
}

/// The old state takes a change: the updated guests (immich's cores, every
/// guest's short note) record their provider instance, the others keep
/// their empty one, and the next plan is clean.
#[test]
fn a_state_applied_by_b7ad410_takes_an_update_then_plans_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (store_dir, world) = unpack(dir.path());
    let pve = Connection::simulated(sim_config(), &world).expect("simulator starts");
    let store: Arc<dyn StateStore> = Arc::new(FileStateStore::new(&store_dir));
    let rt = runtime();
    let engine = Engine::with_store(example_lab(&pve, 6), store.clone());
    let plan = rt
        .block_on(engine.plan(&PlanOptions::default()))
        .expect("plan");
    let steps: Vec<_> = plan
        .steps
        .iter()
        .map(|s| {
            let fields: Vec<_> = s.changes.iter().map(|c| c.field.as_str()).collect();
            format!("{} {:?} {fields:?}", s.address, s.action)
        })
        .collect();
    let expected = GUESTS.map(|g| {
        let fields = if g == "proxmox.vm.immich" {
            "[\"cores\", \"notes\"]"
        } else {
            "[\"notes\"]"
        };
        format!("{g} Update {fields}")
    });
    assert_eq!(steps, expected);
    let report = rt.block_on(engine.apply(&plan, &opts())).expect("apply");
    assert!(report.is_success(), "{report:#?}");

    let state = store.load().unwrap().unwrap();
    for (address, r) in &state.resources {
        let expected = if GUESTS.contains(&address.to_string().as_str()) {
            "proxmox"
        } else {
            ""
        };
        assert_eq!(r.provider, expected, "{address}");
    }
    let engine = Engine::with_store(example_lab(&pve, 6), store);
    let again = rt
        .block_on(engine.plan(&PlanOptions::default()))
        .expect("plan");
    assert!(
        !again.has_changes() && again.drift.is_empty(),
        "{:?}",
        again
            .steps
            .iter()
            .map(|s| (s.address.to_string(), s.action))
            .collect::<Vec<_>>()
    );
}
