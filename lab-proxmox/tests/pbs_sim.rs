//! pve-sim's side of backups, against a fake PBS (tests/pbs_support):
//! `pbs` storages, vzdump writing snapshots, the content listing and
//! status through the PBS, "Run now" of a backup job, and restores of a
//! VM and a container from a `pbs:` volume, with PVE's errors.

mod pbs_support;
mod sim_support;

use lab_proxmox::sim::{SimConfig, SimHandle};
use serde_json::Value;

use pbs_support::FakePbs;
use sim_support::{create_vm, sim, Api};

const TOKEN: &str = "backup@pbs!pve";
const SECRET: &str = "s3cret";
const GIB: u64 = 1 << 30;

async fn setup() -> (SimHandle, Api, FakePbs) {
    let pbs = FakePbs::start().await;
    pbs.token(TOKEN, SECRET).datastore("daily", &[TOKEN]);
    let (sim, api) = sim(SimConfig::for_tests()).await;
    let port = pbs.port.to_string();
    api.post(
        "/storage",
        &[
            ("storage", "pbs"),
            ("type", "pbs"),
            ("server", "127.0.0.1"),
            ("port", &port),
            ("datastore", "daily"),
            ("namespace", "pve1"),
            ("username", TOKEN),
            ("password", SECRET),
            ("fingerprint", &pbs.fingerprint),
            ("content", "backup"),
        ],
    )
    .await
    .data();
    (sim, api, pbs)
}

/// VM 101 (an 8 GiB disk and a cloud-init drive) and CT 300 (8 GiB root
/// filesystem, a 4 GiB mount point with backup=1 and a 2 GiB one without).
async fn guests(api: &Api) {
    create_vm(api, "101", &[]).await;
    api.ok(
        "POST",
        "/nodes/pve1/storage/local/download-url",
        &[
            ("content", "vztmpl"),
            ("filename", "debian-12-standard_12.7-1_amd64.tar.zst"),
            (
                "url",
                "http://download.proxmox.com/images/system/debian-12-standard_12.7-1_amd64.tar.zst",
            ),
        ],
    )
    .await;
    api.ok(
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "300"),
            (
                "ostemplate",
                "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            ),
            ("hostname", "ct1"),
            ("rootfs", "local-lvm:8"),
            ("mp0", "local-lvm:4,mp=/data,backup=1"),
            ("mp1", "local-lvm:2,mp=/scratch"),
            ("net0", "name=eth0,bridge=vmbr0,ip=dhcp"),
        ],
    )
    .await;
}

fn log_of(sim: &SimHandle, upid: &str) -> Vec<String> {
    sim.world().task(upid).unwrap().log.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pbs_storage_is_checked_on_create_and_keeps_its_secret() {
    let (_sim, api, pbs) = setup().await;
    let cfg = api.get("/storage/pbs", &[]).await.data();
    assert_eq!(cfg["type"], "pbs");
    assert_eq!(cfg["username"], TOKEN);
    assert!(cfg.get("password").is_none(), "{cfg}");
    let port = pbs.port.to_string();
    let a = api
        .post(
            "/storage",
            &[
                ("storage", "far"),
                ("type", "pbs"),
                ("server", "10.0.0.9"),
                ("datastore", "daily"),
                ("username", TOKEN),
                ("password", SECRET),
            ],
        )
        .await;
    assert_eq!(a.status, 500);
    assert_eq!(
        a.reason,
        "create storage failed: far: error fetching datastores - 500 Can't connect to 10.0.0.9:8007 (Connection timed out)"
    );
    // Without a fingerprint, PVE verifies the self-signed certificate and fails.
    let a = api
        .post(
            "/storage",
            &[
                ("storage", "nofp"),
                ("type", "pbs"),
                ("server", "127.0.0.1"),
                ("port", &port),
                ("datastore", "daily"),
                ("username", TOKEN),
                ("password", SECRET),
            ],
        )
        .await;
    assert_eq!(a.status, 500);
    assert!(
        a.reason.contains("(certificate verify failed)"),
        "{}",
        a.reason
    );
    assert_eq!(
        api.get("/storage", &[])
            .await
            .data()
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["type"] == "pbs")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vzdump_writes_one_snapshot_per_guest_and_pve_lists_them() {
    let (sim, api, pbs) = setup().await;
    guests(&api).await;
    let upid = api
        .post(
            "/nodes/pve1/vzdump",
            &[
                ("vmid", "101,300"),
                ("storage", "pbs"),
                ("mode", "snapshot"),
                ("notes-template", "{{guestname}} on {{node}}"),
            ],
        )
        .await
        .upid();
    assert!(upid.contains(":vzdump::"), "{upid}");
    let status = api.wait(&upid).await;
    assert_eq!(status["exitstatus"], "OK", "{:#?}", log_of(&sim, &upid));
    let log = log_of(&sim, &upid);
    assert!(
        log.iter()
            .any(|l| l == "INFO: Starting Backup of VM 101 (qemu)"),
        "{log:#?}"
    );
    assert!(log
        .iter()
        .any(|l| l == "INFO: Starting Backup of VM 300 (lxc)"));
    assert!(log
        .iter()
        .any(|l| l == "INFO: Backup job finished successfully"));

    let snaps = pbs.snapshots();
    assert_eq!(snaps.len(), 2);
    let vm = snaps.iter().find(|s| s.backup_type == "vm").unwrap();
    assert_eq!(vm.backup_id, "101");
    assert_eq!(vm.ns.as_deref(), Some("pve1"));
    assert_eq!(vm.owner, TOKEN);
    let files: Vec<&str> = vm.files.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(files, ["qemu-server.conf.blob", "drive-scsi0.img.fidx"]);
    assert_eq!(vm.files[1].1, 8 * GIB);
    assert!(vm.guest_config.contains("name: web"), "{}", vm.guest_config);
    assert!(!vm.guest_config.contains("lock:"));
    let ct = snaps.iter().find(|s| s.backup_type == "ct").unwrap();
    assert_eq!(ct.files[1], ("root.pxar.didx".to_string(), 12 * GIB));
    // The guests are unlocked afterwards.
    let world = sim.world();
    assert_eq!(world.guest(101).unwrap().lock(), None);
    assert_eq!(world.guest(300).unwrap().lock(), None);

    let content = api.get("/nodes/pve1/storage/pbs/content", &[]).await.data();
    let items = content.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let vm_item = items.iter().find(|i| i["format"] == "pbs-vm").unwrap();
    let volid = vm_item["volid"].as_str().unwrap();
    assert!(
        volid.starts_with("pbs:backup/vm/101/") && volid.ends_with('Z'),
        "{volid}"
    );
    assert_eq!(vm_item["vmid"], 101);
    assert_eq!(vm_item["content"], "backup");
    let only = api
        .get("/nodes/pve1/storage/pbs/content", &[("vmid", "300")])
        .await
        .data();
    assert_eq!(only.as_array().unwrap().len(), 1);

    let list = api.get("/nodes/pve1/storage", &[]).await.data();
    let st = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["storage"] == "pbs")
        .unwrap()
        .clone();
    assert_eq!(st["active"], 1);
    assert_eq!(st["total"].as_u64(), Some(8 << 40));
    assert!(st["used"].as_u64().unwrap() >= 20 * GIB, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_fails_fails_the_job_and_the_others_are_backed_up() {
    let (sim, api, pbs) = setup().await;
    create_vm(&api, "101", &[]).await;
    let upid = api
        .post(
            "/nodes/pve1/vzdump",
            &[("vmid", "101,999"), ("storage", "pbs")],
        )
        .await
        .upid();
    let status = api.wait(&upid).await;
    assert_eq!(status["exitstatus"], "job errors");
    let log = log_of(&sim, &upid);
    assert!(
        log.iter()
            .any(|l| l == "ERROR: Backup of VM 999 failed - unable to find VM '999'"),
        "{log:#?}"
    );
    assert!(log
        .iter()
        .any(|l| l == "INFO: Backup job finished with errors"));
    assert_eq!(pbs.snapshots().len(), 1);
    // A selection that conflicts is refused as verify_vzdump_parameters words it.
    let a = api
        .post(
            "/nodes/pve1/vzdump",
            &[("vmid", "101"), ("all", "1"), ("storage", "pbs")],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json()["errors"]["all"],
        "option conflicts with option 'vmid'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_job_lists_its_next_run_and_runs_now() {
    let (sim, api, pbs) = setup().await;
    create_vm(&api, "101", &[]).await;
    api.post(
        "/cluster/backup",
        &[
            ("id", "nightly"),
            ("schedule", "*-*-* 02:30"),
            ("storage", "pbs"),
            ("all", "1"),
            ("mode", "snapshot"),
        ],
    )
    .await
    .data();
    let dup = api
        .post(
            "/cluster/backup",
            &[
                ("id", "nightly"),
                ("schedule", "daily"),
                ("storage", "pbs"),
                ("all", "1"),
            ],
        )
        .await;
    assert_eq!(
        (dup.status, dup.reason.as_str()),
        (500, "Job 'nightly' already exists")
    );
    let jobs = api.get("/cluster/backup", &[]).await.data();
    let job = &jobs[0];
    assert_eq!(job["id"], "nightly");
    assert_eq!(job["type"], "vzdump");
    assert_eq!(job["enabled"], 1);
    let next = job["next-run"].as_i64().unwrap();
    assert_eq!(next % 86_400, 2 * 3600 + 30 * 60, "{job}");
    // Without an id PVE makes one up.
    api.post(
        "/cluster/backup",
        &[
            ("schedule", "sun 01:00"),
            ("storage", "pbs"),
            ("vmid", "101"),
        ],
    )
    .await
    .data();
    let jobs = api.get("/cluster/backup", &[]).await.data();
    let made_up = jobs[1]["id"].as_str().unwrap();
    assert_eq!(made_up.len(), 36, "{made_up}");

    // With `all`, every node runs a worker, even one with no guest (as
    // `vzdump` answers `OK` without a worker only when `all` is not set).
    let upids = sim.run_backup_job("nightly").await.unwrap();
    assert_eq!(upids.len(), sim.world().nodes.len());
    for upid in &upids {
        let status = sim
            .wait_task(upid, std::time::Duration::from_secs(10))
            .await;
        assert_eq!(status.as_deref(), Some("OK"));
    }
    assert_eq!(pbs.snapshots().len(), 1);
    assert!(sim.run_backup_job("nope").await.is_err());
    let missing = api.get("/cluster/backup/nope", &[]).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["errors"]["id"], "No such job 'nope'");
}

async fn backup_volid(api: &Api, vmid: &str) -> String {
    api.ok(
        "POST",
        "/nodes/pve1/vzdump",
        &[("vmid", vmid), ("storage", "pbs")],
    )
    .await;
    let content = api
        .get("/nodes/pve1/storage/pbs/content", &[("vmid", vmid)])
        .await
        .data();
    content[0]["volid"].as_str().unwrap().to_string()
}

fn mac_of(config: &Value) -> String {
    config["net0"]
        .as_str()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_is_restored_from_a_pbs_volume() {
    let (sim, api, _pbs) = setup().await;
    create_vm(&api, "101", &[]).await;
    let volid = backup_volid(&api, "101").await;

    let taken = api
        .post("/nodes/pve1/qemu", &[("vmid", "101"), ("archive", &volid)])
        .await;
    assert_eq!(taken.status, 500);
    assert_eq!(
        taken.reason,
        "unable to restore VM 101 - VM 101 already exists on node 'pve1'"
    );

    let upid = api
        .post(
            "/nodes/pve1/qemu",
            &[
                ("vmid", "201"),
                ("archive", &volid),
                ("storage", "local-lvm"),
                ("unique", "1"),
            ],
        )
        .await
        .upid();
    assert!(upid.contains(":qmrestore:201:"), "{upid}");
    let status = api.wait(&upid).await;
    assert_eq!(status["exitstatus"], "OK", "{:#?}", log_of(&sim, &upid));
    let restored = api.get("/nodes/pve1/qemu/201/config", &[]).await.data();
    let original = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    assert_eq!(restored["name"], "web");
    let scsi0 = restored["scsi0"].as_str().unwrap();
    assert!(scsi0.starts_with("local-lvm:vm-201-disk-0,"), "{scsi0}");
    assert!(scsi0.contains("size=8G"), "{scsi0}");
    assert_ne!(mac_of(&restored), mac_of(&original));
    assert!(restored.get("lock").is_none());

    // Over the original with force: its disks are replaced.
    api.ok(
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", "101"), ("archive", &volid), ("force", "1")],
    )
    .await;
    let again = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    assert_eq!(mac_of(&again), mac_of(&original));

    // A snapshot the PBS does not have fails the task and leaves nothing.
    let gone = volid.rsplit_once('/').unwrap().0.to_string() + "/2020-01-01T00:00:00Z";
    let upid = api
        .post("/nodes/pve1/qemu", &[("vmid", "202"), ("archive", &gone)])
        .await
        .upid();
    let status = api.wait(&upid).await;
    assert_eq!(
        status["exitstatus"],
        "unable to restore VM 202 - no such snapshot"
    );
    assert!(sim.world().guest(202).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_is_restored_from_a_pbs_volume() {
    let (sim, api, _pbs) = setup().await;
    guests(&api).await;
    let volid = backup_volid(&api, "300").await;
    let upid = api
        .post(
            "/nodes/pve1/lxc",
            &[
                ("vmid", "301"),
                ("ostemplate", &volid),
                ("restore", "1"),
                ("storage", "local-lvm"),
            ],
        )
        .await
        .upid();
    let status = api.wait(&upid).await;
    assert_eq!(status["exitstatus"], "OK", "{:#?}", log_of(&sim, &upid));
    let c = api.get("/nodes/pve1/lxc/301/config", &[]).await.data();
    assert_eq!(c["hostname"], "ct1");
    assert!(
        c["rootfs"]
            .as_str()
            .unwrap()
            .starts_with("local-lvm:vm-301-disk-0,"),
        "{c}"
    );
    assert!(c["mp0"].as_str().unwrap().contains("size=4G"), "{c}");
    // The mount point without backup=1 was not in the backup.
    assert!(c.get("mp1").is_none(), "{c}");
    // A VM backup is no container.
    let vm_volid = backup_volid(&api, "101").await;
    let a = api
        .post(
            "/nodes/pve1/lxc",
            &[("vmid", "302"), ("ostemplate", &vm_volid), ("restore", "1")],
        )
        .await;
    assert_eq!(a.status, 500);
    assert!(a.reason.contains("is a 'vm' backup"), "{}", a.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_does_not_fit_fails_and_frees_what_it_took() {
    let (sim, api, _pbs) = setup().await;
    api.ok(
        "POST",
        "/nodes/pve1/qemu",
        &[
            ("vmid", "105"),
            ("name", "big"),
            // scsi0 fits again, scsi1 does not: scsi0's new volume is freed.
            ("scsi0", "local-lvm:20"),
            ("scsi1", "local-lvm:300"),
        ],
    )
    .await;
    let volid = backup_volid(&api, "105").await;
    let upid = api
        .post(
            "/nodes/pve1/qemu",
            &[
                ("vmid", "205"),
                ("archive", &volid),
                ("storage", "local-lvm"),
            ],
        )
        .await
        .upid();
    let status = api.wait(&upid).await;
    let exit = status["exitstatus"].as_str().unwrap();
    assert!(
        exit.starts_with(
            "unable to restore VM 205 - no space left on storage 'local-lvm' for scsi1"
        ),
        "{exit}"
    );
    let world = sim.world();
    assert!(world.guest(205).is_none());
    assert!(world.volumes.iter().all(|v| v.vmid != Some(205)));
}
