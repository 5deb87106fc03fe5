//! Raw-protocol tests of the PVE simulator's less common endpoints
//! (`--features sim`): volume ids in paths (encoded or not), volume
//! deletion as a task, QEMU reset/suspend/resume and the `not running`
//! checks, snapshots of VMs and containers, container defaults, and the
//! cluster and node reads (`/cluster/tasks`, `/cluster/options`,
//! `/nodes/{node}/version`, `aplinfo`).

#![cfg(feature = "sim")]

mod sim_support;

use std::time::Duration;

use lab_proxmox::sim::{SimConfig, TaskLatency};
use serde_json::Value;
use sim_support::{create_vm, sim, Api};

const TEMPLATE: &str = "debian-13-standard_13.1-2_amd64.tar.zst";

/// Downloads the Debian 13 container template onto `local` of pve1.
async fn download_template(api: &Api) {
    api.ok(
        "POST",
        "/nodes/pve1/storage/local/download-url",
        &[
            ("content", "vztmpl"),
            ("filename", TEMPLATE),
            (
                "url",
                "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
            ),
        ],
    )
    .await;
}

fn volids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["volid"].as_str().unwrap().to_string())
        .collect()
}

/// The task log's lines.
async fn task_log(api: &Api, upid: &str) -> Vec<String> {
    let log = api
        .get(&format!("/nodes/pve1/tasks/{upid}/log"), &[])
        .await
        .data();
    log.as_array()
        .unwrap()
        .iter()
        .map(|l| l["t"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn volume_ids_route_encoded_or_not_and_deletion_is_a_task() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    download_template(&api).await;
    let volid = format!("local:vztmpl/{TEMPLATE}");
    // pveproxy decodes the whole path, and `{storage}/content` is mounted
    // with `fragmentDelimiter => ''`: both spellings reach `{volume}`.
    let encoded = format!("/nodes/pve1/storage/local/content/local%3Avztmpl%2F{TEMPLATE}");
    let plain = format!("/nodes/pve1/storage/local/content/{volid}");
    for path in [&encoded, &plain] {
        let v = api.get(path, &[]).await.data();
        assert_eq!(v["volid"], volid.as_str(), "{path}");
        assert_eq!(v["format"], "tzst");
    }
    // Relative to the storage, without the `local:` prefix, also unencoded.
    let relative = format!("/nodes/pve1/storage/local/content/vztmpl/{TEMPLATE}");
    assert_eq!(
        api.get(&relative, &[]).await.data()["volid"],
        volid.as_str()
    );

    // Another storage's volume id: a 400 on `volume`.
    let a = api
        .delete(
            &format!("/nodes/pve1/storage/local-lvm/content/{volid}"),
            &[],
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(
        a.json()["errors"]["volume"].as_str().unwrap().trim_end(),
        "storage ID mismatch (local != local-lvm)"
    );

    // The delete forks `imgdel` and answers its UPID.
    let upid = api.delete(&plain, &[]).await.upid();
    assert_eq!(upid.split(':').nth(5), Some("imgdel"));
    assert_eq!(upid.split(':').nth(6), Some("local"));
    let status = api.wait(&upid).await;
    assert_eq!(status["exitstatus"], "OK");
    assert!(task_log(&api, &upid)
        .await
        .contains(&format!("Removed volume '{volid}'")));
    let left = api
        .get("/nodes/pve1/storage/local/content", &[])
        .await
        .data();
    assert!(!volids(&left).contains(&volid), "{left}");

    // A file already gone is a warning on a directory storage.
    let upid = api.delete(&encoded, &[]).await.upid();
    let status = api.wait(&upid).await;
    assert_eq!(status["exitstatus"], "WARNINGS: 1");
    assert!(task_log(&api, &upid).await.contains(&format!(
        "disk image '/var/lib/vz/template/cache/{TEMPLATE}' does not exist"
    )));

    // A guest disk: the worker id names its owner; `delay` waits and
    // answers null when the task ended well.
    create_vm(&api, "100", &[]).await;
    let disk = "local-lvm:vm-100-disk-0";
    let a = api
        .delete(
            &format!("/nodes/pve1/storage/local-lvm/content/{disk}"),
            &[("delay", "5")],
        )
        .await;
    assert_eq!(a.json(), serde_json::json!({"data": null}));
    let tasks = api
        .get("/nodes/pve1/tasks", &[("typefilter", "imgdel")])
        .await
        .data();
    assert_eq!(tasks[0]["id"], "100@local-lvm", "{tasks}");
    // A thin volume that does not exist fails the task (lvremove).
    let upid = api
        .delete(
            &format!("/nodes/pve1/storage/local-lvm/content/{disk}"),
            &[],
        )
        .await
        .upid();
    let status = api.wait(&upid).await;
    assert!(
        status["exitstatus"]
            .as_str()
            .unwrap()
            .starts_with("lvremove 'pve/vm-100-disk-0' error"),
        "{status}"
    );

    // Unknown paths stay 501.
    let a = api.get("/nodes/pve1/storage/local/contents", &[]).await;
    assert_eq!(a.status, 501);
    assert_eq!(
        a.reason,
        "Method 'GET /nodes/pve1/storage/local/contents' not implemented"
    );
}

#[tokio::test]
async fn reset_suspend_resume_and_power_on_a_stopped_vm() {
    let (sim, api) = sim(SimConfig::for_tests()).await;
    create_vm(&api, "100", &[]).await;
    // qemu-server checks `check_running` before it forks.
    for action in ["reboot", "reset", "suspend", "resume"] {
        let a = api
            .post(&format!("/nodes/pve1/qemu/100/status/{action}"), &[])
            .await;
        assert_eq!(
            (a.status, a.reason.as_str()),
            (500, "VM 100 not running"),
            "{action}"
        );
        assert_eq!(a.json(), serde_json::json!({"data": null}));
        let a = api
            .post(&format!("/nodes/pve1/qemu/999/status/{action}"), &[])
            .await;
        assert_eq!(
            (a.status, a.reason.as_str()),
            (
                500,
                "unable to find configuration file for VM 999 on node 'pve1'"
            ),
            "{action}"
        );
    }
    let a = api
        .post("/nodes/pve1/qemu/100/status/reset", &[("skiplock", "1")])
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json()["errors"]["skiplock"],
        "Only root may use this option."
    );

    api.ok("POST", "/nodes/pve1/qemu/100/status/start", &[])
        .await;
    let uptime_started = sim.world().guests[&100].started_at;
    let status = api
        .ok("POST", "/nodes/pve1/qemu/100/status/reset", &[])
        .await;
    assert_eq!(status["type"], "qmreset");
    assert_eq!(sim.world().guests[&100].started_at, uptime_started);

    let status = api
        .ok("POST", "/nodes/pve1/qemu/100/status/suspend", &[])
        .await;
    assert_eq!(status["type"], "qmpause");
    let current = api
        .get("/nodes/pve1/qemu/100/status/current", &[])
        .await
        .data();
    assert_eq!(
        (current["status"].as_str(), current["qmpstatus"].as_str()),
        (Some("running"), Some("paused"))
    );
    for action in ["shutdown", "reboot"] {
        let a = api
            .post(&format!("/nodes/pve1/qemu/100/status/{action}"), &[])
            .await;
        assert_eq!(
            (a.status, a.reason.as_str()),
            (500, "VM is paused - cannot shutdown"),
            "{action}"
        );
    }
    let status = api
        .ok("POST", "/nodes/pve1/qemu/100/status/resume", &[])
        .await;
    assert_eq!(status["type"], "qmresume");
    let current = api
        .get("/nodes/pve1/qemu/100/status/current", &[])
        .await
        .data();
    assert_eq!(current["qmpstatus"], "running");

    // To disk: the state goes to a volume, the VM stops, `lock: suspended`.
    let status = api
        .ok(
            "POST",
            "/nodes/pve1/qemu/100/status/suspend",
            &[("todisk", "1")],
        )
        .await;
    assert_eq!(status["type"], "qmsuspend");
    let config = api.get("/nodes/pve1/qemu/100/config", &[]).await.data();
    assert_eq!(config["lock"], "suspended");
    let vmstate = config["vmstate"].as_str().unwrap().to_string();
    assert!(
        vmstate.starts_with("local-lvm:vm-100-state-suspend-"),
        "{vmstate}"
    );
    let current = api
        .get("/nodes/pve1/qemu/100/status/current", &[])
        .await
        .data();
    assert_eq!(current["status"], "stopped");
    let a = api
        .put("/nodes/pve1/qemu/100/config", &[("cores", "4")])
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "VM is locked (suspended)")
    );
    // Resume starts it from the saved state and frees the volume.
    api.ok("POST", "/nodes/pve1/qemu/100/status/resume", &[])
        .await;
    let config = api.get("/nodes/pve1/qemu/100/config", &[]).await.data();
    assert!(config.get("lock").is_none() && config.get("vmstate").is_none());
    let content = api
        .get("/nodes/pve1/storage/local-lvm/content", &[])
        .await
        .data();
    assert!(!volids(&content).contains(&vmstate));
    let current = api
        .get("/nodes/pve1/qemu/100/status/current", &[])
        .await
        .data();
    assert_eq!(current["status"], "running");
}

#[tokio::test]
async fn vm_snapshots_create_list_rollback_delete() {
    let latency = TaskLatency::instant().with("qmsnapshot", Duration::from_millis(300));
    let config = SimConfig {
        task_latency: latency,
        ..SimConfig::for_tests()
    };
    let (_sim, api) = sim(config).await;
    create_vm(&api, "100", &[]).await;
    let a = api
        .post("/nodes/pve1/qemu/100/snapshot", &[("snapname", "current")])
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "unable to use snapshot name 'current' (reserved name)")
    );
    let a = api
        .post("/nodes/pve1/qemu/999/snapshot", &[("snapname", "s1")])
        .await;
    assert_eq!(
        a.reason,
        "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
    );

    let upid = api
        .post(
            "/nodes/pve1/qemu/100/snapshot",
            &[("snapname", "s1"), ("description", "before upgrade")],
        )
        .await
        .upid();
    assert_eq!(upid.split(':').nth(5), Some("qmsnapshot"));
    // While the worker runs, the config carries `lock: snapshot` (written
    // by its first step; the volume snapshots then take 300 ms).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let config = api.get("/nodes/pve1/qemu/100/config", &[]).await.data();
        if config["lock"] == "snapshot" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no snapshot lock");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let a = api
        .put("/nodes/pve1/qemu/100/config", &[("cores", "4")])
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "VM is locked (snapshot)")
    );
    assert_eq!(api.wait(&upid).await["exitstatus"], "OK");

    let list = api.get("/nodes/pve1/qemu/100/snapshot", &[]).await.data();
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items[0]["name"], "s1");
    assert_eq!(items[0]["description"], "before upgrade");
    assert_eq!(items[0]["vmstate"], 0);
    assert!(items[0]["snaptime"].as_u64().unwrap() > 0);
    assert!(items[0].get("parent").is_none());
    assert_eq!(items[1]["name"], "current");
    assert_eq!(items[1]["description"], "You are here!");
    assert_eq!(items[1]["parent"], "s1");
    assert_eq!(items[1]["running"], 0);
    let config = api.get("/nodes/pve1/qemu/100/config", &[]).await.data();
    assert_eq!(items[1]["digest"], config["digest"]);
    assert_eq!(config["parent"], "s1");
    assert!(config.get("lock").is_none());

    // Change the VM, take a second snapshot, then go back to the first.
    api.put("/nodes/pve1/qemu/100/config", &[("cores", "4")])
        .await
        .data();
    let a = api
        .post("/nodes/pve1/qemu/100/snapshot", &[("snapname", "s1")])
        .await;
    let status = api.wait(&a.upid()).await;
    assert_eq!(status["exitstatus"], "snapshot name 's1' already used");
    api.ok(
        "POST",
        "/nodes/pve1/qemu/100/snapshot",
        &[("snapname", "s2")],
    )
    .await;
    let s2 = api
        .get("/nodes/pve1/qemu/100/snapshot/s2/config", &[])
        .await
        .data();
    assert_eq!(
        (s2["cores"].as_i64(), s2["parent"].as_str()),
        (Some(4), Some("s1"))
    );
    let via_config = api
        .get("/nodes/pve1/qemu/100/config", &[("snapshot", "s2")])
        .await
        .data();
    assert_eq!(via_config, s2);
    let a = api
        .get(
            "/nodes/pve1/qemu/100/config",
            &[("snapshot", "s2"), ("current", "1")],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        api.get("/nodes/pve1/qemu/100/snapshot/s9/config", &[])
            .await
            .reason,
        "snapshot 's9' does not exist"
    );
    assert_eq!(
        api.get("/nodes/pve1/qemu/100/snapshot/s2", &[])
            .await
            .data(),
        serde_json::json!([{"cmd": "rollback"}, {"cmd": "config"}])
    );
    api.put(
        "/nodes/pve1/qemu/100/snapshot/s2/config",
        &[("description", "four cores")],
    )
    .await
    .data();

    api.ok("POST", "/nodes/pve1/qemu/100/status/start", &[])
        .await;
    let status = api
        .ok("POST", "/nodes/pve1/qemu/100/snapshot/s1/rollback", &[])
        .await;
    assert_eq!(status["type"], "qmrollback");
    let config = api.get("/nodes/pve1/qemu/100/config", &[]).await.data();
    assert_eq!(config["cores"], 2);
    assert_eq!(config["parent"], "s1");
    // The rollback stopped the VM; the snapshot holds no RAM, so it stays
    // stopped.
    let current = api
        .get("/nodes/pve1/qemu/100/status/current", &[])
        .await
        .data();
    assert_eq!(current["status"], "stopped");

    // Deleting s1 hands its (absent) parent down to s2.
    let status = api
        .ok("DELETE", "/nodes/pve1/qemu/100/snapshot/s1", &[])
        .await;
    assert_eq!(status["type"], "qmdelsnapshot");
    let list = api.get("/nodes/pve1/qemu/100/snapshot", &[]).await.data();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s2", "current"]);
    assert!(list[0].get("parent").is_none(), "{list}");
    assert!(list[1].get("parent").is_none(), "{list}");
    assert_eq!(list[0]["description"], "four cores");
    let a = api.delete("/nodes/pve1/qemu/100/snapshot/s1", &[]).await;
    assert_eq!(
        api.wait(&a.upid()).await["exitstatus"],
        "snapshot 's1' does not exist"
    );

    // With RAM: a state volume; rolling back to it starts the VM.
    api.ok("POST", "/nodes/pve1/qemu/100/status/start", &[])
        .await;
    api.ok(
        "POST",
        "/nodes/pve1/qemu/100/snapshot",
        &[("snapname", "live"), ("vmstate", "1")],
    )
    .await;
    let live = api
        .get("/nodes/pve1/qemu/100/snapshot/live/config", &[])
        .await
        .data();
    assert_eq!(live["vmstate"], "local-lvm:vm-100-state-live");
    api.ok("POST", "/nodes/pve1/qemu/100/status/stop", &[])
        .await;
    api.ok("POST", "/nodes/pve1/qemu/100/snapshot/live/rollback", &[])
        .await;
    let current = api
        .get("/nodes/pve1/qemu/100/status/current", &[])
        .await
        .data();
    assert_eq!(current["status"], "running");
    api.ok("POST", "/nodes/pve1/qemu/100/status/stop", &[])
        .await;
    api.ok("DELETE", "/nodes/pve1/qemu/100/snapshot/live", &[])
        .await;
    let content = api
        .get("/nodes/pve1/storage/local-lvm/content", &[])
        .await
        .data();
    assert!(!volids(&content).contains(&"local-lvm:vm-100-state-live".to_string()));

    // A raw file on a directory storage cannot be snapshotted.
    api.post(
        "/storage",
        &[
            ("storage", "dirimg"),
            ("type", "dir"),
            ("path", "/mnt/dirimg"),
            ("content", "images"),
        ],
    )
    .await
    .data();
    api.ok(
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", "101"), ("scsi0", "dirimg:1,format=raw")],
    )
    .await;
    let a = api
        .post("/nodes/pve1/qemu/101/snapshot", &[("snapname", "s1")])
        .await;
    assert_eq!(
        api.wait(&a.upid()).await["exitstatus"],
        "snapshot feature is not available"
    );
    let config = api.get("/nodes/pve1/qemu/101/config", &[]).await.data();
    assert!(config.get("lock").is_none(), "{config}");
}

#[tokio::test]
async fn container_defaults_and_snapshots() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    download_template(&api).await;
    let ostemplate = format!("local:vztmpl/{TEMPLATE}");
    api.ok(
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "200"),
            ("ostemplate", &ostemplate),
            ("rootfs", "local-lvm:4"),
        ],
    )
    .await;
    // pve-container writes these defaults once the archive is extracted.
    let c = api.get("/nodes/pve1/lxc/200/config", &[]).await.data();
    assert_eq!(c["hostname"], "CT200");
    assert_eq!(c["memory"], 512);
    assert_eq!(c["swap"], 512);
    // An explicit swap of 0 stays (`//=`).
    api.ok(
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "201"),
            ("ostemplate", &ostemplate),
            ("rootfs", "local-lvm:4"),
            ("hostname", "db"),
            ("memory", "1024"),
            ("swap", "0"),
        ],
    )
    .await;
    let c = api.get("/nodes/pve1/lxc/201/config", &[]).await.data();
    assert_eq!(
        (
            c["hostname"].as_str(),
            c["memory"].as_i64(),
            c["swap"].as_i64()
        ),
        (Some("db"), Some(1024), Some(0))
    );

    let a = api
        .post("/nodes/pve1/lxc/200/snapshot", &[("snapname", "vzdump")])
        .await;
    assert_eq!(
        a.reason,
        "unable to use snapshot name 'vzdump' (reserved name)"
    );
    let status = api
        .ok(
            "POST",
            "/nodes/pve1/lxc/200/snapshot",
            &[("snapname", "base")],
        )
        .await;
    assert_eq!(status["type"], "vzsnapshot");
    let list = api.get("/nodes/pve1/lxc/200/snapshot", &[]).await.data();
    assert_eq!(list[0]["name"], "base");
    assert!(list[0].get("vmstate").is_none(), "{list}");
    assert_eq!(list[1]["parent"], "base");
    api.put("/nodes/pve1/lxc/200/config", &[("memory", "2048")])
        .await
        .data();
    let status = api
        .ok(
            "POST",
            "/nodes/pve1/lxc/200/snapshot/base/rollback",
            &[("start", "1")],
        )
        .await;
    assert_eq!(status["type"], "vzrollback");
    let c = api.get("/nodes/pve1/lxc/200/config", &[]).await.data();
    assert_eq!(c["memory"], 512);
    let st = api
        .get("/nodes/pve1/lxc/200/status/current", &[])
        .await
        .data();
    assert_eq!(st["status"], "running");
    let status = api
        .ok("DELETE", "/nodes/pve1/lxc/200/snapshot/base", &[])
        .await;
    assert_eq!(status["type"], "vzdelsnapshot");
    let c = api.get("/nodes/pve1/lxc/200/config", &[]).await.data();
    assert!(c.get("parent").is_none(), "{c}");
}

#[tokio::test]
async fn cluster_tasks_options_node_version_and_aplinfo() {
    let (_sim, api) = sim(SimConfig::for_tests()).await;
    let index = api.get("/cluster", &[]).await.data();
    let names: Vec<&str> = index
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"tasks") && names.contains(&"options"),
        "{index}"
    );

    let v = api.get("/nodes/pve1/version", &[]).await.data();
    assert_eq!(v["release"], "9.1");
    assert!(v.get("console").is_none());
    assert_eq!(
        v["version"],
        api.get("/version", &[]).await.data()["version"]
    );

    let list = api.get("/nodes/pve1/aplinfo", &[]).await.data();
    let debian = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["template"] == TEMPLATE)
        .unwrap_or_else(|| panic!("{list}"))
        .clone();
    assert_eq!(debian["type"], "lxc");
    assert_eq!(debian["section"], "system");
    assert_eq!(debian["source"], "http://download.proxmox.com/images");
    assert_eq!(
        debian["location"],
        format!("http://download.proxmox.com/images/system/{TEMPLATE}")
    );
    assert_eq!(debian["sha512sum"].as_str().unwrap().len(), 128);

    let a = api
        .post(
            "/nodes/pve1/aplinfo",
            &[("storage", "local"), ("template", "nope.tar.zst")],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["errors"]["template"], "no such template");
    let a = api
        .post(
            "/nodes/pve1/aplinfo",
            &[("storage", "local-lvm"), ("template", TEMPLATE)],
        )
        .await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (500, "storage 'local-lvm' does not support templates")
    );
    let status = api
        .ok(
            "POST",
            "/nodes/pve1/aplinfo",
            &[("storage", "local"), ("template", TEMPLATE)],
        )
        .await;
    assert_eq!(
        (status["type"].as_str(), status["id"].as_str()),
        (Some("download"), Some(TEMPLATE))
    );
    let content = api
        .get(
            "/nodes/pve1/storage/local/content",
            &[("content", "vztmpl")],
        )
        .await
        .data();
    assert_eq!(volids(&content), [format!("local:vztmpl/{TEMPLATE}")]);

    create_vm(&api, "100", &[]).await;
    let tasks = api.get("/cluster/tasks", &[]).await.data();
    let items = tasks.as_array().unwrap();
    let create = items
        .iter()
        .find(|t| t["type"] == "qmcreate")
        .unwrap_or_else(|| panic!("{tasks}"));
    assert_eq!(create["status"], "OK");
    assert_eq!(create["user"], "lab@pve");
    assert_eq!(create["tokenid"], "lab");
    assert!(create.get("pid").is_none() && create.get("pstart").is_none());
    assert!(create["endtime"].as_u64().is_some());
    assert!(items.iter().any(|t| t["type"] == "download"));

    let options = api.get("/cluster/options", &[]).await.data();
    assert_eq!(options["allowed-tags"], serde_json::json!(["lab", "web"]));
    assert_eq!(options["keyboard"], "en-us");
}
