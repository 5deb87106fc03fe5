//! Raw-protocol tests of the PVE simulator (`--features sim`).
//!
//! These talk HTTP directly (reqwest with a rustls configuration that trusts
//! exactly the simulator's certificate) to check the wire-level behaviour the
//! real client and the provider rely on: envelopes, statuses and reason
//! phrases, the task model, locks, normalisation on read, and the simulator's
//! own features (faults, persistence, request log).

mod sim_support;

use std::time::{Duration, Instant};

use lab_proxmox::sim::{CloneSourceLock, SimConfig, TaskLatency};
use serde_json::Value;
use sim_support::{create_vm, make_template, sim};

#[tokio::test]
async fn envelope_version_and_tls_pinning() {
    let (sim, api) = sim(SimConfig::for_tests()).await;
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let fp = sim.fingerprint();
    assert_eq!(fp.len(), 32 * 3 - 1);
    assert!(fp.split(':').all(|b| b.len() == 2
        && b.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())));
    let a = api.get("/version", &[]).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["data"]["release"], "9.1");
    assert_eq!(v["data"]["version"], "9.1.2");
    let nodes = api.get("/nodes", &[]).await.data();
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pve1", "pve2"]);
    assert_eq!(nodes[0]["ssl_fingerprint"], fp);
    let net = api
        .get("/nodes/pve1/network", &[("type", "bridge")])
        .await
        .data();
    assert_eq!(net[0]["iface"], "vmbr0");
    // A fresh install's vmbr0 is not VLAN-aware: PVE leaves the key out.
    assert!(net[0].get("bridge_vlan_aware").is_none(), "{net}");
}

#[tokio::test]
async fn auth_failures_are_401_with_empty_body_after_the_delay() {
    let config = SimConfig {
        auth_failure_delay: Duration::from_millis(150),
        ..SimConfig::for_tests()
    };
    let (sim, api) = sim(config).await;
    let started = Instant::now();
    let a = api.raw("GET", "/version", &[], None).await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "401 must be delayed"
    );
    assert_eq!(
        (a.status, a.reason.as_str(), a.body.as_str()),
        (401, "No ticket", "")
    );
    let wrong = format!("PVEAPIToken={}=not-the-secret", sim.token_id());
    let a = api.raw("GET", "/version", &[], Some(&wrong)).await;
    assert_eq!(
        (a.status, a.reason.as_str(), a.body.as_str()),
        (401, "invalid token value!", "")
    );
    let other = "PVEAPIToken=lab@pve!other=x".to_string();
    let a = api.raw("GET", "/version", &[], Some(&other)).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.reason, "no such token 'other' for user 'lab@pve'");
    // A space may replace the first '='.
    let spaced = format!("PVEAPIToken {}={}", sim.token_id(), sim.token_secret());
    assert_eq!(
        api.raw("GET", "/version", &[], Some(&spaced)).await.status,
        200
    );
}

#[tokio::test]
async fn unknown_paths_bodies_on_get_and_bad_parameters() {
    let (sim, api) = sim(SimConfig::for_tests()).await;
    let a = api.get("/nodes/pve1/frobnicate", &[]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (501, "Method 'GET /nodes/pve1/frobnicate' not implemented")
    );
    assert_eq!(a.json(), serde_json::json!({"data": null}));
    // No LXC config POST exists in PVE.
    assert_eq!(
        api.post("/nodes/pve1/lxc/100/config", &[("cores", "2")])
            .await
            .status,
        501
    );
    // GET with a body.
    let resp = api
        .client
        .get(format!("{}/version", api.base))
        .header("Authorization", &api.token)
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 501);
    let reason = resp
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| r.as_bytes().to_vec());
    assert_eq!(
        reason.as_deref(),
        Some(&b"Unexpected content for method 'GET'"[..])
    );
    // Unknown parameter.
    let a = api
        .post("/nodes/pve1/qemu", &[("vmid", "100"), ("bogus", "1")])
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (400, "Parameter verification failed.")
    );
    let v = a.json();
    assert_eq!(v["data"], Value::Null);
    assert!(
        v["errors"]["bogus"]
            .as_str()
            .unwrap()
            .contains("not defined in schema"),
        "{v}"
    );
    let violations = sim.schema_violations();
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("POST /nodes/pve1/qemu: bogus: ")),
        "{violations:?}"
    );
    // sshkeys must be urlencoded.
    let a = api
        .post(
            "/nodes/pve1/qemu",
            &[("vmid", "100"), ("sshkeys", "ssh-ed25519 AAAA me@host")],
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.json()["errors"]["sshkeys"]
        .as_str()
        .unwrap()
        .contains("invalid urlencoded string"));
}

#[tokio::test]
async fn create_vm_task_and_normalised_readback() {
    let (sim, api) = sim(SimConfig::for_tests()).await;
    let keys = "ssh-ed25519%20AAAAC3Nz%2Fkey%3D%3D%20me%40host";
    let upid = api
        .post(
            "/nodes/pve1/qemu",
            &[
                ("vmid", "101"),
                ("name", "web"),
                ("cores", "2"),
                ("memory", "2048"),
                ("net0", "virtio,bridge=vmbr0,tag=20,firewall=1"),
                ("scsi0", "local-lvm:8,ssd=1,discard=on"),
                ("ide2", "local-lvm:cloudinit"),
                ("sshkeys", keys),
                ("cipassword", "hunter2"),
                ("tags", "web,lab"),
                ("description", "managed by lab\nsecond line\n"),
                ("onboot", "1"),
            ],
        )
        .await
        .upid();
    let parts: Vec<&str> = upid.split(':').collect();
    assert_eq!(parts.len(), 9, "{upid}");
    assert_eq!(
        (parts[1], parts[5], parts[6], parts[7]),
        ("pve1", "qmcreate", "101", "lab@pve!lab")
    );
    // While the task runs the config holds only the lock.
    let status = api.wait(&upid).await;
    assert_eq!(status["exitstatus"], "OK");
    assert_eq!(status["type"], "qmcreate");
    assert_eq!(status["id"], "101");
    assert!(status["pid"].is_u64() && status["starttime"].is_u64());
    let log = api
        .get(&format!("/nodes/pve1/tasks/{upid}/log"), &[])
        .await
        .json();
    let lines = log["data"].as_array().unwrap();
    assert_eq!(lines.last().unwrap()["t"], "TASK OK");
    assert_eq!(lines[0]["n"], 1);
    assert_eq!(log["total"], lines.len() as u64);

    let c = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    let net0 = c["net0"].as_str().unwrap();
    assert!(net0.starts_with("virtio=BC:24:11:"), "{net0}");
    assert!(net0.ends_with(",bridge=vmbr0,firewall=1,tag=20"), "{net0}");
    assert_eq!(
        c["scsi0"],
        "local-lvm:vm-101-disk-0,discard=on,size=8G,ssd=1"
    );
    assert_eq!(c["ide2"], "local-lvm:vm-101-cloudinit,media=cdrom");
    assert_eq!(c["sshkeys"], keys);
    assert_eq!(c["cipassword"], "**********");
    assert_eq!(c["tags"], "lab;web");
    assert_eq!(c["description"], "managed by lab\nsecond line");
    assert_eq!(c["cores"], 2);
    assert_eq!(c["memory"], "2048");
    assert_eq!(c["onboot"], 1);
    assert_eq!(c["boot"], "order=scsi0;net0");
    assert!(c["meta"].as_str().unwrap().starts_with("creation-qemu="));
    assert!(c["smbios1"].as_str().unwrap().starts_with("uuid="));
    assert!(c.get("vmgenid").is_some());
    let digest = c["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 40);
    assert!(c.get("lock").is_none());
    // The disk is in the storage content.
    let content = api
        .get("/nodes/pve1/storage/local-lvm/content", &[("vmid", "101")])
        .await
        .data();
    let volids: Vec<&str> = content
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["volid"].as_str().unwrap())
        .collect();
    assert!(volids.contains(&"local-lvm:vm-101-disk-0"), "{volids:?}");
    // Exists already: 500 with the message in the reason phrase.
    let a = api.post("/nodes/pve1/qemu", &[("vmid", "101")]).await;
    assert_eq!(a.status, 500);
    assert_eq!(
        a.reason,
        "unable to create VM 101 - VM 101 already exists on node 'pve1'"
    );
    assert_eq!(a.json(), serde_json::json!({"data": null}));
    // A missing VM is a 500 "does not exist", also on the wrong node.
    let a = api.get("/nodes/pve2/qemu/101/config", &[]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (
            500,
            "Configuration file 'nodes/pve2/qemu-server/101.conf' does not exist"
        )
    );
    // The world snapshot agrees.
    let world = sim.world();
    assert_eq!(world.guests[&101].config["name"], "web");
    // Updating a NIC without its MAC gets a new MAC (parse_net autogenerates).
    api.put(
        "/nodes/pve1/qemu/101/config",
        &[("net0", "virtio,bridge=vmbr0,tag=30")],
    )
    .await
    .data();
    let c2 = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    assert_ne!(
        c2["net0"].as_str().unwrap().split(',').next(),
        net0.split(',').next()
    );
    assert_ne!(c2["digest"], c["digest"]);
}

#[tokio::test]
async fn pending_changes_on_a_running_vm_and_digest_checks() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    create_vm(&api, "101", &[]).await;
    api.ok("POST", "/nodes/pve1/qemu/101/status/start", &[])
        .await;
    // Starting again fails the task, not the request.
    let upid = api
        .post("/nodes/pve1/qemu/101/status/start", &[])
        .await
        .upid();
    assert_eq!(
        api.wait(&upid).await["exitstatus"],
        "VM 101 already running"
    );
    let log = api
        .get(&format!("/nodes/pve1/tasks/{upid}/log"), &[])
        .await
        .data();
    assert_eq!(
        log.as_array().unwrap().last().unwrap()["t"],
        "TASK ERROR: VM 101 already running"
    );

    let digest = api.get("/nodes/pve1/qemu/101/config", &[]).await.data()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    api.put(
        "/nodes/pve1/qemu/101/config",
        &[("cores", "4"), ("tags", "db"), ("digest", &digest)],
    )
    .await
    .data();
    let merged = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    let current = api
        .get("/nodes/pve1/qemu/101/config", &[("current", "1")])
        .await
        .data();
    assert_eq!(merged["cores"], 4);
    assert_eq!(current["cores"], 2, "cores is not hot-pluggable");
    assert_eq!(current["tags"], "db", "tags apply at once");
    let pending = api.get("/nodes/pve1/qemu/101/pending", &[]).await.data();
    let cores = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "cores")
        .unwrap();
    assert_eq!(
        (cores["value"].clone(), cores["pending"].clone()),
        (2.into(), 4.into())
    );
    // The old digest is stale now.
    let a = api
        .put(
            "/nodes/pve1/qemu/101/config",
            &[("cores", "8"), ("digest", &digest)],
        )
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (
            500,
            "detected modified configuration - file changed by other user? Try again."
        )
    );
    // Reboot applies pending values.
    api.ok("POST", "/nodes/pve1/qemu/101/status/reboot", &[])
        .await;
    let current = api
        .get("/nodes/pve1/qemu/101/config", &[("current", "1")])
        .await
        .data();
    assert_eq!(current["cores"], 4);
    // Destroy is refused while running.
    let a = api.delete("/nodes/pve1/qemu/101", &[]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "VM 101 is running - destroy failed")
    );
    // Asynchronous config update, resize (grow; shrinking fails the task).
    api.ok("POST", "/nodes/pve1/qemu/101/config", &[("memory", "4096")])
        .await;
    api.ok(
        "PUT",
        "/nodes/pve1/qemu/101/resize",
        &[("disk", "scsi0"), ("size", "+2G")],
    )
    .await;
    let upid = api
        .put(
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "4G")],
        )
        .await
        .upid();
    assert_eq!(
        api.wait(&upid).await["exitstatus"],
        "shrinking disks is not supported"
    );
    api.ok("POST", "/nodes/pve1/qemu/101/status/stop", &[])
        .await;
    let c = api
        .get("/nodes/pve1/qemu/101/config", &[("current", "1")])
        .await
        .data();
    assert!(c["scsi0"].as_str().unwrap().contains("size=10G"), "{c}");
    api.ok(
        "DELETE",
        "/nodes/pve1/qemu/101",
        &[("purge", "1"), ("destroy-unreferenced-disks", "1")],
    )
    .await;
    let content = api
        .get("/nodes/pve1/storage/local-lvm/content", &[])
        .await
        .data();
    assert_eq!(content, serde_json::json!([]));
}

#[tokio::test]
async fn download_import_template_and_linked_clone() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    // Ubuntu's .img names are refused for content=import; block storages cannot take files.
    let a = api
        .post(
            "/nodes/pve1/storage/local/download-url",
            &[
                ("content", "import"),
                ("filename", "noble.img"),
                ("url", "https://example.invalid/noble.img"),
            ],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json()["errors"]["filename"],
        "invalid filename or wrong extension"
    );
    let a = api
        .post(
            "/nodes/pve1/storage/local-lvm/download-url",
            &[
                ("content", "iso"),
                ("filename", "x.iso"),
                ("url", "https://example.invalid/x.iso"),
            ],
        )
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (
            500,
            "can't upload to storage type 'lvmthin', not a file based storage!"
        )
    );
    make_template(&api).await;
    let content = api
        .get(
            "/nodes/pve1/storage/local/content",
            &[("content", "import")],
        )
        .await
        .data();
    assert_eq!(
        content[0]["volid"],
        "local:import/debian-12-genericcloud-amd64.qcow2"
    );
    let t = api.get("/nodes/pve1/qemu/9000/config", &[]).await.data();
    assert_eq!(t["template"], 1);
    assert_eq!(t["scsi0"], "local-lvm:base-9000-disk-0,size=3G");
    api.ok(
        "POST",
        "/nodes/pve1/qemu/9000/clone",
        &[("newid", "101"), ("name", "app1")],
    )
    .await;
    let c = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    assert_eq!(
        c["scsi0"],
        "local-lvm:base-9000-disk-0/vm-101-disk-0,size=3G"
    );
    assert_eq!(c["name"], "app1");
    assert!(c.get("template").is_none());
    assert_ne!(c["net0"], t["net0"], "a clone gets a new MAC");
    api.ok(
        "POST",
        "/nodes/pve1/qemu/9000/clone",
        &[("newid", "102"), ("full", "1")],
    )
    .await;
    let c = api.get("/nodes/pve1/qemu/102/config", &[]).await.data();
    assert_eq!(c["scsi0"], "local-lvm:vm-102-disk-0,size=3G");
    assert_eq!(c["name"], "Copy-of-VM-debian-12");
    // Cloning onto an existing VMID is refused before the fork.
    let a = api
        .post("/nodes/pve1/qemu/9000/clone", &[("newid", "101")])
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "unable to create VM 101: config file already exists")
    );
    // Destroying the template while a linked clone uses its base volume
    // warns and keeps the volume (`destroy_vm` warns per disk).
    let upid = api.delete("/nodes/pve1/qemu/9000", &[]).await.upid();
    assert_eq!(api.wait(&upid).await["exitstatus"], "WARNINGS: 1");
    let log = api
        .get(&format!("/nodes/pve1/tasks/{upid}/log"), &[])
        .await
        .data();
    let text: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["t"].as_str().unwrap())
        .collect();
    assert!(
        text.iter()
            .any(|t| t.contains("base volume 'base-9000-disk-0' is still in use by linked clones")),
        "{text:?}"
    );
    assert_eq!(text.last(), Some(&"TASK WARNINGS: 1"));
}

#[tokio::test]
async fn clones_of_a_template_run_concurrently() {
    let mut config = SimConfig::for_tests();
    config.task_latency = TaskLatency {
        qmclone: Duration::from_millis(1000),
        ..TaskLatency::instant()
    };
    config.lock_timeout = Duration::from_millis(300);
    let (sim, api) = sim(config).await;
    make_template(&api).await;
    // Two clones of the template at once, each longer than every lock
    // timeout: the template's config lock is shared and the storage lock is
    // held only around each allocation (qemu-server `clone_vm`, pve-storage
    // `vdisk_alloc`), so both run side by side and both succeed.
    let (a, b) = tokio::join!(
        api.post("/nodes/pve1/qemu/9000/clone", &[("newid", "201")]),
        api.post(
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "202"), ("full", "1")]
        ),
    );
    let (a, b) = (a.upid(), b.upid());
    // Both targets are `lock: clone` at the same moment: they overlap.
    let deadline = Instant::now() + Duration::from_millis(900);
    loop {
        let locked = sim
            .world()
            .guests()
            .iter()
            .filter(|g| g.config.get("lock").map(String::as_str) == Some("clone"))
            .count();
        if locked == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the two clones never overlapped");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // While a clone runs its target config lock is held: a synchronous
    // update waits for it and fails with HTTP 500 (the bpg #995 symptom).
    let upd = api
        .put("/nodes/pve1/qemu/201/config", &[("cores", "2")])
        .await;
    assert_eq!(
        (upd.status, upd.reason.as_str()),
        (
            500,
            "can't lock file '/var/lock/qemu-server/lock-201.conf' - got timeout"
        )
    );
    assert_eq!(upd.json(), serde_json::json!({"data": null}));
    let (sa, sb) = tokio::join!(api.wait(&a), api.wait(&b));
    assert_eq!(
        (sa["exitstatus"].as_str(), sb["exitstatus"].as_str()),
        (Some("OK"), Some("OK"))
    );
    let res = api
        .get("/cluster/resources", &[("type", "vm")])
        .await
        .data();
    assert_eq!(res.as_array().unwrap().len(), 3, "{res}");
    assert!(
        res.as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("lock").is_none()),
        "{res}"
    );
    let linked = api.get("/nodes/pve1/qemu/201/config", &[]).await.data();
    assert_eq!(
        linked["scsi0"],
        "local-lvm:base-9000-disk-0/vm-201-disk-0,size=3G"
    );
    let full = api.get("/nodes/pve1/qemu/202/config", &[]).await.data();
    assert_eq!(full["scsi0"], "local-lvm:vm-202-disk-0,size=3G");
}

#[tokio::test]
async fn a_full_clone_copies_outside_the_storage_lock() {
    // A slow disk: the full clone's 3 GiB copy takes 2 s alone. The storage
    // lock is held only while the volume is allocated, so a linked clone
    // allocating on the same storage meanwhile does not wait for the copy
    // (with the lock held through the copy it would time out after 300 ms).
    let mut config = SimConfig::for_tests();
    config.task_latency = TaskLatency {
        copy_bandwidth: 3 * (1 << 30) / 2,
        ..TaskLatency::instant()
    };
    config.lock_timeout = Duration::from_millis(300);
    let (handle, api) = sim(config).await;
    make_template(&api).await;
    let full = api
        .post(
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "201"), ("full", "1")],
        )
        .await
        .upid();
    // Wait until the copy runs: the full clone's volume is allocated.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while !handle
        .world()
        .volumes
        .iter()
        .any(|v| v.volid == "local-lvm:vm-201-disk-0")
    {
        assert!(Instant::now() < deadline, "the full clone never allocated");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let linked = api
        .post("/nodes/pve1/qemu/9000/clone", &[("newid", "202")])
        .await
        .upid();
    assert_eq!(api.wait(&linked).await["exitstatus"], "OK");
    let status = api
        .get(&format!("/nodes/pve1/tasks/{full}/status"), &[])
        .await
        .data();
    assert_eq!(status["status"], "running", "the full clone still copies");
    assert_eq!(api.wait(&full).await["exitstatus"], "OK");
}

#[tokio::test]
async fn a_clone_onto_a_locked_vmid_fails_like_pve() {
    let mut config = SimConfig::for_tests();
    config.task_latency = TaskLatency {
        qmclone: Duration::from_millis(1000),
        ..TaskLatency::instant()
    };
    config.lock_timeout = Duration::from_millis(300);
    let (handle, api) = sim(config).await;
    make_template(&api).await;
    // While a clone onto 201 runs, 201 is `lock: clone`: a second clone onto
    // it is refused before the fork (`$load_and_check`).
    let first = api
        .post("/nodes/pve1/qemu/9000/clone", &[("newid", "201")])
        .await
        .upid();
    let deadline = Instant::now() + Duration::from_millis(900);
    while handle
        .world()
        .guest(201)
        .and_then(|g| g.config.get("lock").cloned())
        .as_deref()
        != Some("clone")
    {
        assert!(Instant::now() < deadline, "no locked clone target");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let second = api
        .post("/nodes/pve1/qemu/9000/clone", &[("newid", "201")])
        .await;
    assert_eq!(
        (second.status, second.reason.as_str()),
        (500, "unable to create VM 201: config file already exists")
    );
    assert_eq!(api.wait(&first).await["exitstatus"], "OK");

    // Two clones onto one new VMID fired together both pass the early
    // checks; their workers exclude each other on the target's config lock
    // (`lock_config_full($newid, 1, ..)`, 1 s, here the 300 ms lock
    // timeout): the loser waits and fails with the lock's message, or, if
    // it came after the winner's placeholder, is refused before the fork.
    let (a, b) = tokio::join!(
        api.post("/nodes/pve1/qemu/9000/clone", &[("newid", "202")]),
        api.post("/nodes/pve1/qemu/9000/clone", &[("newid", "202")]),
    );
    let mut outcomes = Vec::new();
    for answer in [a, b] {
        if answer.status == 200 {
            let status = api.wait(&answer.upid()).await;
            outcomes.push(status["exitstatus"].as_str().unwrap().to_string());
        } else {
            outcomes.push(format!("HTTP {} {}", answer.status, answer.reason));
        }
    }
    let ok = outcomes.iter().filter(|o| *o == "OK").count();
    assert_eq!(ok, 1, "{outcomes:?}");
    let loser = outcomes.iter().find(|o| *o != "OK").unwrap();
    assert!(
        loser == "can't lock file '/var/lock/qemu-server/lock-202.conf' - got timeout"
            || loser == "HTTP 500 unable to create VM 202: config file already exists",
        "{outcomes:?}"
    );
    // The loser left the winner's clone alone.
    let c = api.get("/nodes/pve1/qemu/202/config", &[]).await.data();
    assert!(c.get("lock").is_none(), "{c}");
    assert_eq!(
        c["scsi0"],
        "local-lvm:base-9000-disk-0/vm-202-disk-0,size=3G"
    );

    // A target lock freed before the loser's wait times out: the worker
    // gets it, re-checks and finds the winner's config.
    let mut config = SimConfig::for_tests();
    config.task_latency = TaskLatency {
        qmclone: Duration::from_millis(50),
        ..TaskLatency::instant()
    };
    config.lock_timeout = Duration::from_millis(1000);
    let (_sim, api) = sim(config).await;
    make_template(&api).await;
    let (a, b) = tokio::join!(
        api.post("/nodes/pve1/qemu/9000/clone", &[("newid", "201")]),
        api.post("/nodes/pve1/qemu/9000/clone", &[("newid", "201")]),
    );
    let mut outcomes = Vec::new();
    for answer in [a, b] {
        if answer.status == 200 {
            let status = api.wait(&answer.upid()).await;
            outcomes.push(status["exitstatus"].as_str().unwrap().to_string());
        } else {
            outcomes.push(answer.reason.clone());
        }
    }
    outcomes.sort();
    assert_eq!(
        outcomes,
        ["OK", "unable to create VM 201: config file already exists"]
    );
}

#[tokio::test]
async fn a_clone_of_a_template_gets_a_new_mac_printed_model_first() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    make_template(&api).await;
    let t = api.get("/nodes/pve1/qemu/9000/config", &[]).await.data();
    let template_net = t["net0"].as_str().unwrap().to_string();
    let template_mac = mac_of(&template_net);
    for (newid, full) in [("301", "0"), ("302", "1")] {
        api.ok(
            "POST",
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", newid), ("full", full)],
        )
        .await;
        let c = api
            .get(&format!("/nodes/pve1/qemu/{newid}/config"), &[])
            .await
            .data();
        let net = c["net0"].as_str().unwrap();
        // qemu-server `print_net`: the model with the MAC first, then the
        // other keys sorted.
        let mac = mac_of(net);
        assert_eq!(net, format!("virtio={mac},bridge=vmbr0"), "full={full}");
        assert!(mac.starts_with("BC:24:11:"), "{mac}");
        assert_ne!(
            mac, template_mac,
            "full={full}: the clone kept the template's MAC"
        );
    }
    let a = api.get("/nodes/pve1/qemu/301/config", &[]).await.data();
    let b = api.get("/nodes/pve1/qemu/302/config", &[]).await.data();
    assert_ne!(
        mac_of(a["net0"].as_str().unwrap()),
        mac_of(b["net0"].as_str().unwrap())
    );
}

/// The MAC of a `net[n]` value (`virtio=<MAC>,...`).
fn mac_of(net: &str) -> String {
    let head = net.split(',').next().unwrap();
    let (model, mac) = head.split_once('=').unwrap_or_else(|| panic!("{net}"));
    assert_eq!(model, "virtio", "{net}");
    mac.to_string()
}

#[tokio::test]
async fn exclusive_source_lock_mode_fails_the_second_clone_request() {
    let mut config = SimConfig::for_tests();
    config.task_latency = TaskLatency {
        qmclone: Duration::from_millis(1000),
        ..TaskLatency::instant()
    };
    config.lock_timeout = Duration::from_millis(300);
    config.clone_source_lock = CloneSourceLock::ExclusiveInRequest;
    let (_sim, api) = sim(config).await;
    make_template(&api).await;
    let first = api
        .post("/nodes/pve1/qemu/9000/clone", &[("newid", "201")])
        .await
        .upid();
    let second = api
        .post("/nodes/pve1/qemu/9000/clone", &[("newid", "202")])
        .await;
    assert_eq!(second.status, 500);
    assert_eq!(
        second.reason,
        "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"
    );
    assert_eq!(second.json(), serde_json::json!({"data": null}));
    assert_eq!(api.wait(&first).await["exitstatus"], "OK");
}

#[tokio::test]
async fn nextid_is_a_string_and_reserves_nothing() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    assert_eq!(api.get("/cluster/nextid", &[]).await.data(), "100");
    assert_eq!(api.get("/cluster/nextid", &[]).await.data(), "100");
    create_vm(&api, "100", &[]).await;
    assert_eq!(api.get("/cluster/nextid", &[]).await.data(), "101");
    let a = api.get("/cluster/nextid", &[("vmid", "100")]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (400, "Parameter verification failed.")
    );
    assert_eq!(
        a.json(),
        serde_json::json!({"data": null, "errors": {"vmid": "VM 100 already exists"}})
    );
    assert_eq!(
        api.get("/cluster/nextid", &[("vmid", "555")]).await.data(),
        "555"
    );
}

#[tokio::test]
async fn pools_show_up_in_cluster_resources() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    api.post("/pools", &[("poolid", "prod"), ("comment", "production")])
        .await
        .data();
    let a = api.post("/pools", &[("poolid", "prod")]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "create pool failed: pool 'prod' already exists")
    );
    create_vm(&api, "101", &[("pool", "prod")]).await;
    create_vm(&api, "102", &[]).await;
    api.put("/pools", &[("poolid", "prod"), ("vms", "102")])
        .await
        .data();
    let res = api
        .get("/cluster/resources", &[("type", "vm")])
        .await
        .data();
    for r in res.as_array().unwrap() {
        assert_eq!(r["pool"], "prod", "{r}");
        assert_eq!(r["type"], "qemu");
        assert!(r["vmid"].is_u64());
        assert_eq!(r["template"], 0);
        assert_eq!(r["tags"], "lab;web");
        assert_eq!(r["maxmem"], 2048u64 * 1024 * 1024);
    }
    let all = api.get("/cluster/resources", &[]).await.data();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [
        "qemu/101",
        "node/pve1",
        "storage/pve1/local",
        "storage/pve2/local-lvm",
        "/pool/prod",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let pools = api.get("/pools", &[("poolid", "prod")]).await.data();
    assert_eq!(pools[0]["members"].as_array().unwrap().len(), 2);
    let a = api.delete("/pools", &[("poolid", "prod")]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "delete pool failed: pool 'prod' is not empty")
    );
    api.put(
        "/pools",
        &[("poolid", "prod"), ("vms", "101,102"), ("delete", "1")],
    )
    .await
    .data();
    api.delete("/pools", &[("poolid", "prod")]).await.data();
    assert_eq!(api.get("/pools", &[]).await.data(), serde_json::json!([]));
}

#[tokio::test]
async fn containers_and_nfs_storage() {
    let config = SimConfig {
        nfs_servers_reachable: vec!["10.0.0.5".into()],
        ..SimConfig::for_tests()
    };
    let (_sim, api) = sim(config).await;
    let a = api
        .post(
            "/storage",
            &[
                ("storage", "nas"),
                ("type", "nfs"),
                ("server", "10.0.0.9"),
                ("export", "/tank/pve"),
            ],
        )
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "create storage failed: storage 'nas' is not online")
    );
    let created = api
        .post(
            "/storage",
            &[
                ("storage", "nas"),
                ("type", "nfs"),
                ("server", "10.0.0.5"),
                ("export", "/tank/pve"),
                ("content", "rootdir,images,vztmpl"),
            ],
        )
        .await
        .data();
    assert_eq!(
        created,
        serde_json::json!({"storage": "nas", "type": "nfs"})
    );
    let a = api
        .post(
            "/storage",
            &[
                ("storage", "nas"),
                ("type", "nfs"),
                ("server", "10.0.0.5"),
                ("export", "/x"),
            ],
        )
        .await;
    assert_eq!(
        a.reason,
        "create storage failed: storage ID 'nas' already defined"
    );
    let cfg = api.get("/storage/nas", &[]).await.data();
    assert_eq!(
        (cfg["path"].clone(), cfg["content"].clone()),
        ("/mnt/pve/nas".into(), "images,rootdir,vztmpl".into())
    );
    let a = api.put("/storage/nas", &[("server", "10.0.0.6")]).await;
    assert_eq!(
        a.reason,
        "update storage failed: can't change value of fixed parameter 'server'"
    );
    let on_pve2 = api
        .get("/nodes/pve2/storage", &[("content", "rootdir")])
        .await
        .data();
    let ids: Vec<&str> = on_pve2
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["storage"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["local-lvm", "nas"]);
    api.ok(
        "POST",
        "/nodes/pve1/storage/nas/download-url",
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
        "/nodes/pve2/lxc",
        &[
            ("vmid", "300"),
            (
                "ostemplate",
                "nas:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            ),
            ("hostname", "ct1"),
            ("rootfs", "local-lvm:8"),
            ("mp0", "nas:4,mp=/data"),
            ("net0", "name=eth0,bridge=vmbr1,ip=dhcp,tag=30"),
            ("unprivileged", "1"),
            ("features", "nesting=1"),
            ("password", "secret"),
            ("description", "a container"),
            ("start", "1"),
        ],
    )
    .await;
    let c = api.get("/nodes/pve2/lxc/300/config", &[]).await.data();
    assert_eq!(c["rootfs"], "local-lvm:vm-300-disk-0,size=8G");
    assert_eq!(c["mp0"], "nas:300/vm-300-disk-0.raw,mp=/data,size=4G");
    let net0 = c["net0"].as_str().unwrap();
    assert!(
        net0.starts_with("name=eth0,bridge=vmbr1,hwaddr=BC:24:11:")
            && net0.ends_with(",ip=dhcp,tag=30,type=veth"),
        "{net0}"
    );
    assert_eq!(c["unprivileged"], 1);
    assert_eq!(c["ostype"], "debian");
    assert_eq!(c["description"], "a container\n");
    assert!(c.get("password").is_none());
    let st = api
        .get("/nodes/pve2/lxc/300/status/current", &[])
        .await
        .data();
    assert_eq!(st["status"], "running");
    let a = api.post("/nodes/pve2/lxc/300/status/start", &[]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "CT 300 already running")
    );
    let a = api.delete("/nodes/pve2/lxc/300", &[]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "unable to destroy CT 300 - container is running")
    );
    let a = api
        .put(
            "/nodes/pve2/lxc/300/config",
            &[("features", "nesting=1,keyctl=1")],
        )
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (
            403,
            "Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)"
        )
    );
    api.put(
        "/nodes/pve2/lxc/300/config",
        &[("cores", "2"), ("memory", "1024")],
    )
    .await
    .data();
    api.ok(
        "PUT",
        "/nodes/pve2/lxc/300/resize",
        &[("disk", "rootfs"), ("size", "+4G")],
    )
    .await;
    let a = api
        .put(
            "/nodes/pve2/lxc/300/resize",
            &[("disk", "rootfs"), ("size", "2G")],
        )
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "unable to shrink disk size")
    );
    api.ok("POST", "/nodes/pve2/lxc/300/status/shutdown", &[])
        .await;
    api.ok("DELETE", "/nodes/pve2/lxc/300", &[("purge", "1")])
        .await;
    assert!(api
        .get("/nodes/pve2/storage/nas/content", &[("content", "rootdir")])
        .await
        .data()
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn faults_counter_and_request_log() {
    let config = SimConfig {
        download_urls_fail: vec!["https://example.invalid/broken.iso".into()],
        ..SimConfig::for_tests()
    };
    let (sim, api) = sim(config).await;
    let before = sim.request_count();
    api.get("/version", &[]).await.data();
    api.get("/cluster/resources", &[("type", "vm")])
        .await
        .data();
    assert_eq!(sim.request_count(), before + 2);
    let log = sim.requests();
    let last = log.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str(), last.status),
        ("GET", "/cluster/resources", 200)
    );
    assert_eq!(last.params, vec![("type".to_string(), "vm".to_string())]);
    sim.reset_requests();
    assert!(sim.requests().is_empty());

    sim.faults().fail_request(2, 596, "Broken pipe");
    assert_eq!(api.get("/version", &[]).await.status, 200);
    let a = api.get("/version", &[]).await;
    assert_eq!((a.status, a.reason.as_str()), (596, "Broken pipe"));
    assert_eq!(api.get("/version", &[]).await.status, 200);

    let upid = api
        .post(
            "/nodes/pve1/storage/local/download-url",
            &[
                ("content", "iso"),
                ("filename", "broken.iso"),
                ("url", "https://example.invalid/broken.iso"),
            ],
        )
        .await
        .upid();
    sim.faults().transient_status_400_on_first_poll(true);
    sim.faults().status_599_on_poll(1);
    let path = format!("/nodes/pve1/tasks/{upid}/status");
    let a = api.get(&path, &[]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (599, "Too many redirections")
    );
    let a = api.get(&path, &[]).await;
    assert_eq!(a.status, 400);
    let status = api.wait(&upid).await;
    assert!(
        status["exitstatus"]
            .as_str()
            .unwrap()
            .starts_with("download failed"),
        "{status}"
    );
    sim.faults().clear();
    let tasks = api
        .get("/nodes/pve1/tasks", &[("typefilter", "download")])
        .await
        .json();
    assert_eq!(tasks["total"], 1);
    assert_eq!(tasks["data"][0]["upid"], upid.as_str());
}

#[tokio::test]
async fn persistence_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    let config = SimConfig {
        persist: Some(path.clone()),
        ..SimConfig::for_tests()
    };
    // In the first run downloads never finish before the shutdown.
    let slow = SimConfig {
        task_latency: TaskLatency::instant().with("download", Duration::from_secs(60)),
        ..config.clone()
    };
    let (first, api) = sim(slow).await;
    create_vm(&api, "101", &[]).await;
    api.post("/pools", &[("poolid", "lab")]).await.data();
    let download = api
        .post(
            "/nodes/pve1/storage/local/download-url",
            &[
                ("content", "iso"),
                ("filename", "x.iso"),
                ("url", "https://example.invalid/x.iso"),
            ],
        )
        .await
        .upid();
    let before = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    let fingerprint = first.fingerprint().to_string();
    first.shutdown();
    drop(first);
    assert!(path.exists());

    let (second, api) = sim(config).await;
    let after = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    assert_eq!(before, after);
    assert_eq!(api.get("/pools", &[]).await.data()[0]["poolid"], "lab");
    assert_eq!(second.world().guests.len(), 1);
    assert_eq!(
        second.fingerprint(),
        fingerprint,
        "a restarted node keeps its certificate"
    );
    // The interrupted download's worker is gone: the task reads
    // `unexpected status`, and the file never appeared (it was still
    // `x.iso.tmp_dwnl.<pid>`).
    let status = api.wait(&download).await;
    assert_eq!(status["exitstatus"], "unexpected status");
    let isos = api
        .get("/nodes/pve1/storage/local/content", &[("content", "iso")])
        .await
        .data();
    assert_eq!(isos, serde_json::json!([]));
}

/// A CD-ROM drive holding an ISO, and the Talos settings: a missing ISO
/// fails the create task (and a synchronous update with a 500), an existing
/// one is recorded with its size; on a running VM a new disc and a balloon
/// target that keeps the device apply at once, turning the balloon device
/// on waits for the reboot, and a balloon above the memory is refused.
#[tokio::test]
async fn an_iso_in_a_cdrom_drive_and_the_balloon() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    let upid = api
        .post(
            "/nodes/pve1/qemu",
            &[("vmid", "102"), ("ide2", "local:iso/nope.iso,media=cdrom")],
        )
        .await
        .upid();
    assert_eq!(
        api.wait(&upid).await["exitstatus"],
        "unable to create VM 102 - volume 'local:iso/nope.iso' does not exist"
    );
    for name in ["a.iso", "b.iso"] {
        let url = format!("https://example.invalid/{name}");
        api.ok(
            "POST",
            "/nodes/pve1/storage/local/download-url",
            &[("content", "iso"), ("filename", name), ("url", &url)],
        )
        .await;
    }
    api.ok(
        "POST",
        "/nodes/pve1/qemu",
        &[
            ("vmid", "101"),
            ("memory", "2048"),
            ("scsi0", "local-lvm:8"),
            ("ide2", "local:iso/a.iso,media=cdrom"),
            ("scsihw", "virtio-scsi-pci"),
            ("machine", "q35"),
            ("balloon", "0"),
            ("net0", "virtio,bridge=vmbr0"),
        ],
    )
    .await;
    let config = "/nodes/pve1/qemu/101/config";
    let current = || async { api.get(config, &[("current", "1")]).await.data() };
    let c = current().await;
    let ide2 = c["ide2"].as_str().unwrap();
    assert!(
        ide2.starts_with("local:iso/a.iso,media=cdrom,size="),
        "{ide2}"
    );
    assert_eq!(c["scsihw"], "virtio-scsi-pci");
    assert_eq!(c["machine"], "q35");
    assert_eq!(c["balloon"], 0);
    assert_eq!(c["boot"], "order=scsi0;ide2;net0");

    api.ok("POST", "/nodes/pve1/qemu/101/status/start", &[])
        .await;
    let a = api
        .put(config, &[("ide2", "local:iso/nope.iso,media=cdrom")])
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "volume 'local:iso/nope.iso' does not exist")
    );
    api.put(config, &[("ide2", "local:iso/b.iso,media=cdrom")])
        .await
        .data();
    let ide2 = current().await["ide2"].as_str().unwrap().to_string();
    assert!(
        ide2.starts_with("local:iso/b.iso,media=cdrom"),
        "a new disc is hot: {ide2}"
    );

    api.put(config, &[("balloon", "1024")]).await.data();
    assert_eq!(
        current().await["balloon"],
        0,
        "turning the balloon on waits"
    );
    let a = api.put(config, &[("balloon", "4096")]).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (
            500,
            "balloon value too large (must be smaller than assigned memory)"
        )
    );
    api.ok("POST", "/nodes/pve1/qemu/101/status/reboot", &[])
        .await;
    assert_eq!(current().await["balloon"], 1024);
    api.put(config, &[("balloon", "512")]).await.data();
    assert_eq!(current().await["balloon"], 512, "a new target is hot");
    // Ejecting keeps the drive.
    api.put(config, &[("ide2", "none,media=cdrom")])
        .await
        .data();
    assert_eq!(current().await["ide2"], "none,media=cdrom");
}
