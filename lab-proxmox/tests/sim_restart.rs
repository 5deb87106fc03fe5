//! A simulator stopped mid-task and started again on its state file is a
//! Proxmox node that went down and came back: the tasks that were running
//! read `stopped` with `unexpected status` (no `TASK` line ends their log),
//! what their workers had written stays (a clone's target locked `clone`,
//! a create's `create`; no file for a download), a token can do nothing
//! with a locked guest, and `qm unlock` (here [`SimHandle::unlock`],
//! `lab_proxmox::sim::unlock_state_file`, `pve-sim unlock`) is the way out.
//! The node keeps its certificate and its token secret, on the same port.

#![cfg(feature = "sim")]

mod sim_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lab_proxmox::sim::{SimConfig, SimHandle, TaskLatency, World};
use serde_json::{json, Value};
use sim_support::{sim, Api};

const IMAGE_URL: &str =
    "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2";

fn persisted(path: &Path, latency: TaskLatency) -> SimConfig {
    SimConfig {
        persist: Some(path.to_path_buf()),
        task_latency: latency,
        ..SimConfig::for_tests()
    }
}

/// Waits (up to 10 s) until `f` holds for the simulator's world.
async fn until(sim: &SimHandle, what: &str, f: impl Fn(&World) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sim.observer().read(&f) {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Stops the simulator (the node goes down) and starts another on the same
/// state file with instant tasks.
async fn restart(first: SimHandle, path: &Path) -> (SimHandle, Api) {
    first.shutdown();
    drop(first);
    sim(persisted(path, TaskLatency::instant())).await
}

/// Template 9000: an imported disk, a second disk, a cloud-init drive, a
/// NIC, a description.
async fn template(api: &Api) {
    api.ok(
        "POST",
        "/nodes/pve1/storage/local/download-url",
        &[
            ("content", "import"),
            ("filename", "debian-12-genericcloud-amd64.qcow2"),
            ("url", IMAGE_URL),
        ],
    )
    .await;
    api.ok(
        "POST",
        "/nodes/pve1/qemu",
        &[
            ("vmid", "9000"),
            ("name", "debian-12"),
            (
                "scsi0",
                "local-lvm:0,import-from=local:import/debian-12-genericcloud-amd64.qcow2",
            ),
            ("scsi1", "local-lvm:2"),
            ("ide2", "local-lvm:cloudinit"),
            ("net0", "virtio,bridge=vmbr0"),
            ("description", "the base image"),
        ],
    )
    .await;
    api.ok("POST", "/nodes/pve1/qemu/9000/template", &[]).await;
}

fn volids(world: &World) -> Vec<String> {
    world.volumes.iter().map(|v| v.volid.clone()).collect()
}

fn log_lines(log: &Value) -> Vec<String> {
    log.as_array()
        .unwrap()
        .iter()
        .map(|l| l["t"].as_str().unwrap().to_string())
        .collect()
}

/// The task reads `unexpected status` and its log ends without a `TASK`
/// line; returns the log.
async fn vanished(api: &Api, upid: &str) -> Vec<String> {
    let node = upid.split(':').nth(1).unwrap();
    let status = api
        .get(&format!("/nodes/{node}/tasks/{upid}/status"), &[])
        .await
        .data();
    assert_eq!(status["status"], "stopped", "{status}");
    assert_eq!(status["exitstatus"], "unexpected status", "{status}");
    let log = log_lines(
        &api.get(&format!("/nodes/{node}/tasks/{upid}/log"), &[])
            .await
            .data(),
    );
    assert!(
        log.iter().all(|l| !l.starts_with("TASK ")),
        "a vanished worker wrote no TASK line: {log:?}"
    );
    let listed = api
        .get(&format!("/nodes/{node}/tasks"), &[("errors", "1")])
        .await
        .data();
    let item = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["upid"] == upid)
        .unwrap_or_else(|| panic!("{upid} is not among the failed tasks: {listed}"));
    assert_eq!(item["status"], "unexpected status");
    assert!(item["endtime"].is_u64());
    log
}

/// What a token may not do to a locked guest, and what it may.
async fn refused_while_locked(api: &Api, node: &str, kind: &str, vmid: &str, lock: &str) {
    let label = if kind == "qemu" { "VM" } else { "CT" };
    let locked = format!("{label} is locked ({lock})");
    let base = format!("/nodes/{node}/{kind}/{vmid}");
    let a = api.put(&format!("{base}/config"), &[("cores", "2")]).await;
    assert_eq!((a.status, a.reason.as_str()), (500, locked.as_str()));
    let a = api.delete(&base, &[]).await;
    assert_eq!((a.status, a.reason.as_str()), (500, locked.as_str()));
    if kind == "qemu" {
        let a = api.delete(&base, &[("skiplock", "1")]).await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert_eq!(
            a.json()["errors"]["skiplock"],
            "Only root may use this option."
        );
        let a = api
            .put(
                &format!("{base}/config"),
                &[("cores", "2"), ("skiplock", "1")],
            )
            .await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert_eq!(
            a.json()["errors"]["skiplock"],
            "Only root may use this option."
        );
        let a = api
            .put(
                &format!("{base}/resize"),
                &[("disk", "scsi0"), ("size", "+1G"), ("skiplock", "1")],
            )
            .await;
        assert_eq!(a.status, 400, "{}", a.body);
        let start = api.post(&format!("{base}/status/start"), &[]).await.upid();
        assert_eq!(api.wait(&start).await["exitstatus"], locked.as_str());
        let a = api
            .post(&format!("{base}/clone"), &[("newid", "950")])
            .await;
        assert_eq!((a.status, a.reason.as_str()), (500, locked.as_str()));
    }
}

#[tokio::test]
async fn a_node_down_as_the_clone_starts_leaves_its_placeholder_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve.json");
    let latency = TaskLatency::instant().with("qmclone", Duration::from_secs(30));
    let (first, api) = sim(persisted(&path, latency)).await;
    template(&api).await;
    let upid = api
        .post(
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "201"), ("name", "web1")],
        )
        .await
        .upid();
    // The placeholder, then the first drive's copy (cloud-init) allocated.
    until(&first, "the copy of the first drive", |w| {
        volids(w).contains(&"local-lvm:vm-201-cloudinit".to_string())
    })
    .await;
    let (second, api) = restart(first, &path).await;
    let log = vanished(&api, &upid).await;
    assert_eq!(log, ["create linked clone of VM 9000 with ID 201"]);
    let config = api.get("/nodes/pve1/qemu/201/config", &[]).await.data();
    let mut keys: Vec<&str> = config
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["description", "digest", "lock"], "{config}");
    assert_eq!(config["description"], " qmclone temporary file");
    assert_eq!(config["lock"], "clone");
    let resources = api
        .get("/cluster/resources", &[("type", "vm")])
        .await
        .data();
    let target = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["vmid"] == 201)
        .unwrap();
    assert_eq!(target["lock"], "clone");
    // The drive allocated for the copy stays, owned by 201 but in no config.
    let content = api
        .get("/nodes/pve1/storage/local-lvm/content", &[("vmid", "201")])
        .await
        .data();
    assert_eq!(
        content[0]["volid"], "local-lvm:vm-201-cloudinit",
        "{content}"
    );

    refused_while_locked(&api, "pve1", "qemu", "201", "clone").await;

    // `qm unlock 201`: then the token can clean up.
    assert_eq!(second.unlock(201).unwrap().as_deref(), Some("clone"));
    assert_eq!(
        second.unlock(201).unwrap(),
        None,
        "qm unlock of an unlocked VM is fine"
    );
    let config = api.get("/nodes/pve1/qemu/201/config", &[]).await.data();
    assert!(config.get("lock").is_none(), "{config}");
    api.ok(
        "DELETE",
        "/nodes/pve1/qemu/201",
        &[("destroy-unreferenced-disks", "1"), ("purge", "1")],
    )
    .await;
    assert!(second.world().guest(201).is_none());
    assert!(!volids(&second.world()).iter().any(|v| v.contains("-201-")));
    // The same clone now runs to its end.
    api.ok(
        "POST",
        "/nodes/pve1/qemu/9000/clone",
        &[("newid", "201"), ("name", "web1")],
    )
    .await;
    let config = api.get("/nodes/pve1/qemu/201/config", &[]).await.data();
    assert_eq!(config["name"], "web1");
    assert!(config.get("lock").is_none());
    assert_eq!(
        second.unlock(202).unwrap_err().to_string(),
        "Configuration file 'nodes/pve1/qemu-server/202.conf' does not exist"
    );
}

#[tokio::test]
async fn a_node_down_mid_clone_keeps_the_drives_copied_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve.json");
    // Three drives to copy (ide2, scsi0, scsi1): one written every 2 s.
    let latency = TaskLatency::instant().with("qmclone", Duration::from_secs(6));
    let (first, api) = sim(persisted(&path, latency)).await;
    template(&api).await;
    api.post("/pools", &[("poolid", "lab")]).await.data();
    let source = api.get("/nodes/pve1/qemu/9000/config", &[]).await.data();
    let upid = api
        .post(
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "201"), ("name", "web1"), ("pool", "lab")],
        )
        .await
        .upid();
    until(&first, "the new config after the first drive", |w| {
        w.guest(201).is_some_and(|g| g.config.contains_key("ide2"))
    })
    .await;
    let (second, api) = restart(first, &path).await;
    vanished(&api, &upid).await;
    let config = api.get("/nodes/pve1/qemu/201/config", &[]).await.data();
    assert_eq!(config["lock"], "clone");
    assert_eq!(config["name"], "web1");
    assert_eq!(config["description"], "the base image");
    assert_eq!(config["ide2"], "local-lvm:vm-201-cloudinit,media=cdrom");
    let net0 = config["net0"].as_str().unwrap();
    assert!(net0.starts_with("virtio=BC:24:11:"), "{net0}");
    assert_ne!(config["net0"], source["net0"], "a clone gets a new MAC");
    assert_ne!(config["smbios1"], source["smbios1"]);
    assert!(config.get("scsi1").is_none(), "not copied yet: {config}");
    assert!(config.get("template").is_none());
    // scsi0's copy had begun: its volume exists, in no config.
    assert!(config.get("scsi0").is_none(), "{config}");
    assert!(
        volids(&second.world()).contains(&"local-lvm:base-9000-disk-0/vm-201-disk-0".to_string()),
        "{:?}",
        volids(&second.world())
    );
    // The pool is joined only at the end.
    let pool = api.get("/pools", &[("poolid", "lab")]).await.data();
    assert_eq!(pool[0]["members"], json!([]), "{pool}");
}

#[tokio::test]
async fn a_node_down_mid_create_leaves_lock_create_and_the_allocated_disks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve.json");
    let latency = TaskLatency::instant()
        .with("qmcreate", Duration::from_secs(30))
        .with("vzcreate", Duration::from_secs(30));
    let (first, api) = sim(persisted(&path, latency)).await;
    // The container goes on pve2: each create holds its storage's lock.
    api.ok(
        "POST",
        "/nodes/pve2/storage/local/download-url",
        &[
            ("content", "vztmpl"),
            ("filename", "debian-13-standard_13.1-2_amd64.tar.zst"),
            (
                "url",
                "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
            ),
        ],
    )
    .await;
    let vm = api
        .post(
            "/nodes/pve1/qemu",
            &[
                ("vmid", "105"),
                ("name", "db"),
                ("scsi0", "local-lvm:4"),
                ("scsi1", "local-lvm:2"),
            ],
        )
        .await
        .upid();
    let ct = api
        .post(
            "/nodes/pve2/lxc",
            &[
                ("vmid", "300"),
                ("hostname", "paperless"),
                (
                    "ostemplate",
                    "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
                ),
                ("rootfs", "local-lvm:8"),
            ],
        )
        .await
        .upid();
    until(&first, "the first disks", |w| {
        let v = volids(w);
        v.contains(&"local-lvm:vm-105-disk-0".to_string())
            && v.contains(&"local-lvm:vm-300-disk-0".to_string())
    })
    .await;
    let (second, api) = restart(first, &path).await;
    vanished(&api, &vm).await;
    vanished(&api, &ct).await;
    for (node, kind, vmid) in [("pve1", "qemu", "105"), ("pve2", "lxc", "300")] {
        let config = api
            .get(&format!("/nodes/{node}/{kind}/{vmid}/config"), &[])
            .await
            .data();
        let mut keys: Vec<&str> = config
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, ["digest", "lock"], "{kind} {vmid}: {config}");
        assert_eq!(config["lock"], "create");
        refused_while_locked(&api, node, kind, vmid, "create").await;
        let content = api
            .get(
                &format!("/nodes/{node}/storage/local-lvm/content"),
                &[("vmid", vmid)],
            )
            .await
            .data();
        assert_eq!(
            content[0]["volid"],
            format!("local-lvm:vm-{vmid}-disk-0"),
            "the disks allocated so far stay: {content}"
        );
    }
    // `pct unlock` insists on a lock; `qm unlock` does not.
    assert_eq!(second.unlock(300).unwrap().as_deref(), Some("create"));
    assert_eq!(
        second.unlock(300).unwrap_err().to_string(),
        "no lock found trying to remove any lock"
    );
    // `qm unlock` on the state file of a running simulator: it reads the
    // change back before the next request.
    assert_eq!(
        lab_proxmox::sim::unlock_state_file(&path, 105)
            .unwrap()
            .as_deref(),
        Some("create")
    );
    let config = api.get("/nodes/pve1/qemu/105/config", &[]).await.data();
    assert!(config.get("lock").is_none(), "{config}");
    api.ok(
        "DELETE",
        "/nodes/pve1/qemu/105",
        &[("destroy-unreferenced-disks", "1")],
    )
    .await;
    assert!(!volids(&second.world())
        .iter()
        .any(|v| v.contains("vm-105-")));
    // And the simulator's own next write keeps the change.
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(on_disk["guests"].get("105").is_none());
}

#[tokio::test]
async fn a_node_down_mid_download_lists_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve.json");
    let latency = TaskLatency::instant().with("download", Duration::from_secs(30));
    let (first, api) = sim(persisted(&path, latency)).await;
    let url = "https://factory.talos.dev/image/x/v1.13.0/nocloud-amd64.iso";
    let upid = api
        .post(
            "/nodes/pve1/storage/local/download-url",
            &[("content", "iso"), ("filename", "talos.iso"), ("url", url)],
        )
        .await
        .upid();
    until(&first, "the download to start", |w| {
        w.task(&upid).is_some_and(|t| !t.log.is_empty())
    })
    .await;
    // While it runs nothing is listed either.
    let isos = api
        .get("/nodes/pve1/storage/local/content", &[("content", "iso")])
        .await
        .data();
    assert_eq!(isos, json!([]));
    let (_second, api) = restart(first, &path).await;
    let log = vanished(&api, &upid).await;
    assert_eq!(
        log,
        [format!(
            "downloading {url} to /var/lib/vz/template/iso/talos.iso"
        )]
    );
    let isos = api
        .get("/nodes/pve1/storage/local/content", &[("content", "iso")])
        .await
        .data();
    assert_eq!(isos, json!([]));
    // Downloading again works: there is no file to refuse to override.
    api.ok(
        "POST",
        "/nodes/pve1/storage/local/download-url",
        &[("content", "iso"), ("filename", "talos.iso"), ("url", url)],
    )
    .await;
}

#[tokio::test]
async fn a_restarted_node_keeps_its_certificate_token_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve.json");
    let (first, api) = sim(persisted(&path, TaskLatency::instant())).await;
    let (fingerprint, secret, addr) = (
        first.fingerprint().to_string(),
        first.token_secret().to_string(),
        first.addr(),
    );
    assert_eq!(secret.len(), 36, "a UUID-like secret");
    let identity = identity_file(&path);
    let stored = std::fs::read_to_string(&identity).unwrap();
    assert!(stored.contains(&secret));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&identity).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the identity file holds secrets");
    }
    first.shutdown();
    drop(first);
    let (second, _) = sim(SimConfig {
        listen: Some(addr),
        ..persisted(&path, TaskLatency::instant())
    })
    .await;
    assert_eq!(second.fingerprint(), fingerprint);
    assert_eq!(second.token_secret(), secret);
    assert_eq!(second.addr(), addr);
    // The first client (pinned certificate, old token) carries on.
    assert_eq!(api.get("/version", &[]).await.data()["release"], "9.1");
    second.shutdown();
    drop(second);
    // A secret given in the configuration replaces the kept one.
    let (third, api) = sim(SimConfig {
        token_secret: "given-secret".into(),
        ..persisted(&path, TaskLatency::instant())
    })
    .await;
    assert_eq!(third.token_secret(), "given-secret");
    assert_eq!(third.fingerprint(), fingerprint);
    assert_eq!(api.get("/version", &[]).await.status, 200);
}

fn identity_file(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".tls.json");
    PathBuf::from(name)
}

#[tokio::test]
async fn unlock_waits_for_nothing_a_running_clone_holds_its_config_lock() {
    let latency = TaskLatency::instant().with("qmclone", Duration::from_secs(30));
    let (sim, api) = sim(SimConfig {
        task_latency: latency,
        ..SimConfig::for_tests()
    })
    .await;
    template(&api).await;
    api.post("/nodes/pve1/qemu/9000/clone", &[("newid", "201")])
        .await
        .upid();
    until(&sim, "the placeholder", |w| w.guest(201).is_some()).await;
    assert_eq!(
        sim.unlock(201).unwrap_err().to_string(),
        "can't lock file '/var/lock/qemu-server/lock-201.conf' - got timeout"
    );
}

#[tokio::test]
async fn pve_sim_unlock_edits_a_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve.json");
    let latency = TaskLatency::instant().with("qmcreate", Duration::from_secs(30));
    let (first, api) = sim(persisted(&path, latency)).await;
    api.post("/nodes/pve1/qemu", &[("vmid", "105")])
        .await
        .upid();
    until(&first, "the create", |w| w.guest(105).is_some()).await;
    first.shutdown();
    drop(first);
    let bin = env!("CARGO_BIN_EXE_pve-sim");
    let out = std::process::Command::new(bin)
        .args(["unlock", "--state"])
        .arg(&path)
        .arg("105")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "removed lock 'create' from 105\n"
    );
    let out = std::process::Command::new(bin)
        .args(["unlock", "--state"])
        .arg(&path)
        .arg("106")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pve-sim: Configuration file 'nodes/pve1/qemu-server/106.conf' does not exist\n"
    );
    let (_second, api) = sim(persisted(&path, TaskLatency::instant())).await;
    let config = api.get("/nodes/pve1/qemu/105/config", &[]).await.data();
    assert!(config.get("lock").is_none(), "{config}");
    // No state file: an error, and nothing created beside it.
    let missing = dir.path().join("missing.json");
    let out = std::process::Command::new(bin)
        .args(["unlock", "--state"])
        .arg(&missing)
        .arg("105")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("pve-sim: {}: no such state file\n", missing.display())
    );
    assert!(!dir.path().join("missing.json.lock").exists());
}

/// The simulator embedded in a `lab` process stops with `lab`, not with
/// its node (`Restart::NodeKeptRunning`): a clone that was running starts
/// over under its UPID and completes, leaving no lock and no stray volume.
#[tokio::test]
async fn an_embedded_node_that_kept_running_finishes_the_clone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve.json");
    let latency = TaskLatency::instant().with("qmclone", Duration::from_secs(30));
    let (first, api) = sim(persisted(&path, latency)).await;
    template(&api).await;
    let upid = api
        .post(
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "201"), ("name", "web1")],
        )
        .await
        .upid();
    until(&first, "the copy of the first drive", |w| {
        volids(w).contains(&"local-lvm:vm-201-cloudinit".to_string())
    })
    .await;
    first.shutdown();
    drop(first);
    let (second, api) = sim(SimConfig {
        restart: lab_proxmox::sim::Restart::NodeKeptRunning,
        ..persisted(&path, TaskLatency::instant())
    })
    .await;
    until(&second, "the resumed clone's end", |w| {
        w.tasks
            .iter()
            .any(|t| t.upid == upid && t.endtime.is_some())
    })
    .await;
    let status = api
        .get(&format!("/nodes/pve1/tasks/{upid}/status"), &[])
        .await
        .data();
    assert_eq!(status["exitstatus"], "OK", "{status}");
    let config = api.get("/nodes/pve1/qemu/201/config", &[]).await.data();
    assert_eq!(config["name"], "web1");
    assert!(config.get("lock").is_none(), "{config}");
    let cloudinit: Vec<String> = volids(&second.world())
        .into_iter()
        .filter(|v| v.contains("vm-201-cloudinit"))
        .collect();
    assert_eq!(cloudinit.len(), 1, "{cloudinit:?}");
}
