//! `lab import`, the acceptance: a lab built by hand through the
//! Proxmox VE and PBS APIs (raw calls, not lab's providers) is imported
//! through the CLI; the generated code is the committed golden file
//! (`tests/import/generated.rs`; `UPDATE_GOLDEN=1` rewrites it), and that
//! file, compiled into this test crate, builds the lab again: with the
//! imported state, `plan` says "No changes".

use std::path::Path;

use lab::core::provider::OpContext;
use lab::pbs::connect::PbsConnection;
use lab::pbs::sim::PbsSimConfig;
use lab::prelude::*;
use lab::proxmox::api::{Client, Form};
use lab::proxmox::sim::SimConfig;
use lab::proxmox::{Connection, ProxmoxOptions};

/// The golden file, compiled: `imported(lab, proxmox, primary)`.
mod golden {
    include!("import/generated.rs");
}

const GOLDEN: &str = "tests/import/generated.rs";
const CT_TEMPLATE: &str = "debian-13-standard_13.1-2_amd64.tar.zst";

/// A call, and its task awaited when it starts one.
async fn call(client: &Client, method: &str, path: &str, form: Form) {
    let data = match method {
        "POST" => client.post(path, &form).await,
        "PUT" => client.put(path, &form).await,
        _ => unreachable!(),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    if let Some(upid) = data.as_str().filter(|u| u.starts_with("UPID:")) {
        client
            .wait_task(upid, &OpContext::detached())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    }
}

/// The lab, made by hand: an NFS storage, a pool, a template, a full and a
/// linked clone of it, a VM of its own (in the pool), a container, a VM
/// lab cannot express (an e1000 NIC), a firewall IP set lab does not
/// import yet, and a nightly backup job.
async fn build_by_hand(client: &Client) {
    let f = Form::new;
    call(
        client,
        "POST",
        "/storage",
        f().str("storage", "tank")
            .str("type", "nfs")
            .str("server", "10.0.0.5")
            .str("export", "/mnt/tank/pve")
            .str("content", "images,backup"),
    )
    .await;
    call(
        client,
        "POST",
        "/pools",
        f().str("poolid", "prod")
            .str("comment", "Production guests"),
    )
    .await;
    call(
        client,
        "POST",
        "/nodes/pve1/qemu",
        f().int("vmid", 9000)
            .str("name", "debian-tmpl")
            .int("cores", 2)
            .int("memory", 2048)
            .str("scsi0", "local-lvm:8")
            .str("net0", "virtio,bridge=vmbr0"),
    )
    .await;
    call(client, "POST", "/nodes/pve1/qemu/9000/template", f()).await;
    call(
        client,
        "POST",
        "/nodes/pve1/qemu/9000/clone",
        f().int("newid", 100).str("name", "web").bool("full", true),
    )
    .await;
    call(
        client,
        "POST",
        "/nodes/pve1/qemu/100/config",
        f().int("cores", 2)
            .int("memory", 4096)
            .str("tags", "web")
            .str("description", "The web server.\nMade by hand."),
    )
    .await;
    call(client, "POST", "/nodes/pve1/qemu/100/status/start", f()).await;
    call(
        client,
        "POST",
        "/nodes/pve1/qemu/9000/clone",
        f().int("newid", 103)
            .str("name", "cache")
            .bool("full", false),
    )
    .await;
    call(
        client,
        "POST",
        "/nodes/pve1/qemu",
        f().int("vmid", 101)
            .str("name", "db.lan")
            .int("cores", 4)
            .int("memory", 8192)
            .str("scsi0", "tank:32,ssd=1,discard=on")
            .str("net0", "virtio,bridge=vmbr0,tag=20,firewall=1")
            .str("ide2", "none,media=cdrom")
            .str("boot", "order=scsi0;ide2;net0")
            .str("agent", "1")
            .bool("onboot", true)
            .str("pool", "prod"),
    )
    .await;
    call(
        client,
        "POST",
        "/nodes/pve2/storage/local/download-url",
        f().str("content", "vztmpl")
            .str("filename", CT_TEMPLATE)
            .str(
                "url",
                "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
            ),
    )
    .await;
    call(
        client,
        "POST",
        "/nodes/pve2/lxc",
        f().int("vmid", 200)
            .str("hostname", "dns")
            .str("ostemplate", format!("local:vztmpl/{CT_TEMPLATE}"))
            .str("rootfs", "local-lvm:4")
            .str("net0", "name=eth0,bridge=vmbr0,ip=10.0.0.53/24,gw=10.0.0.1")
            .int("cores", 1)
            .int("memory", 512)
            .bool("unprivileged", true)
            .str("features", "nesting=1")
            .bool("start", true),
    )
    .await;
    call(
        client,
        "POST",
        "/nodes/pve2/qemu",
        f().int("vmid", 102)
            .str("name", "legacy")
            .int("memory", 1024)
            .str("scsi0", "local-lvm:4")
            .str("net0", "e1000,bridge=vmbr0"),
    )
    .await;
    call(
        client,
        "POST",
        "/cluster/firewall/ipset",
        f().str("name", "admins").str("comment", "made by hand"),
    )
    .await;
    call(
        client,
        "POST",
        "/cluster/backup",
        f().str("id", "nightly")
            .str("schedule", "02:30")
            .str("storage", "tank")
            .str("vmid", "100,101,200")
            .str("mode", "snapshot")
            .str("compress", "zstd")
            .bool("enabled", true)
            .str("prune-backups", "keep-daily=7,keep-last=3")
            .str("comment", "made by hand"),
    )
    .await;
}

/// The backup server, made by hand: two datastores, a prune, a verify
/// and a local sync job, and a user lab does not import.
async fn build_pbs_by_hand(pbs: &PbsConnection) {
    let client = pbs.client();
    let raw = client.transport();
    let f = Form::new;
    for (name, path, comment) in [
        ("backup", "/mnt/datastore/backup", "daily backups"),
        ("archive", "/mnt/datastore/archive", "the archive copy"),
    ] {
        let form = f()
            .str("name", name)
            .str("path", path)
            .str("comment", comment)
            .str("gc-schedule", "daily");
        let upid = raw.post("/config/datastore", &form).await.unwrap();
        let upid = upid.as_str().unwrap().to_string();
        client
            .wait_task(&upid, &OpContext::detached())
            .await
            .unwrap();
    }
    let calls = [
        (
            "/config/prune",
            f().str("id", "keep-month")
                .str("store", "backup")
                .str("schedule", "daily")
                .int("keep-daily", 7)
                .int("keep-monthly", 3),
        ),
        (
            "/config/verify",
            f().str("id", "weekly-verify")
                .str("store", "backup")
                .str("schedule", "sat 03:00")
                .int("outdated-after", 30),
        ),
        (
            "/config/sync",
            f().str("id", "to-archive")
                .str("store", "archive")
                .str("remote-store", "backup")
                .str("schedule", "hourly")
                .bool("remove-vanished", true),
        ),
        ("/access/users", f().str("userid", "backup@pbs")),
    ];
    for (path, form) in calls {
        raw.post(path, &form)
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    }
}

/// Runs `f` on a runtime of its own, dropped after it: the clients'
/// pooled connections belong to it and close with it, so the CLI's own
/// runtime never waits on one.
fn blocking<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The simulated cluster and backup server in `dir`, built by hand.
fn world(dir: &Path) -> (Connection, PbsConnection) {
    let pve = Connection::simulated(SimConfig::for_tests(), dir.join("pve.json")).unwrap();
    let pbs = PbsConnection::simulated_with("primary", PbsSimConfig::fast(), dir.join("pbs.json"))
        .unwrap();
    blocking(async {
        build_by_hand(pve.client()).await;
        build_pbs_by_hand(&pbs).await;
    });
    (pve, pbs)
}

/// The lab's providers: the cluster, and the backup server as `primary`.
fn providers(
    lab: &mut Lab,
    (pve, pbs): &(Connection, PbsConnection),
) -> (ProviderHandle, ProviderHandle) {
    let proxmox = lab.register_provider(pve.provider(ProxmoxOptions::default()));
    let primary = lab.register_provider_as(pbs.name(), pbs.provider());
    (proxmox, primary)
}

/// `import --out` into `dir`: (exit code, stdout, stderr, the file).
fn import(systems: &(Connection, PbsConnection), dir: &Path) -> (i32, String, String, String) {
    let mut lab = Lab::new("home");
    providers(&mut lab, systems);
    let out_file = dir.join("imported.rs");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab::cli::run_captured(
        lab,
        [
            "lab",
            "--state-dir",
            dir.join(".lab").to_str().unwrap(),
            "import",
            "--out",
            out_file.to_str().unwrap(),
        ],
        &mut out,
        &mut err,
    );
    let text = std::fs::read_to_string(&out_file).unwrap_or_default();
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        text,
    )
}

#[test]
fn a_lab_built_by_hand_imports_as_the_golden_code() {
    let dir = tempfile::tempdir().unwrap();
    let systems = world(dir.path());
    let (code, out, err, text) = import(&systems, dir.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("Imported "), "{out}");
    assert!(
        err.contains("VM 102 (legacy)") && err.contains("e1000"),
        "the VM lab cannot express is listed on stderr: {err}"
    );
    assert!(
        text.contains("// - VM 102 (legacy)"),
        "and in the file: {text}"
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(
        text, want,
        "the generated code is not {GOLDEN}; if the change is intended, run with UPDATE_GOLDEN=1 and commit the file"
    );
}

/// The lab the golden code builds. The hand-made lab backs its guests up
/// to NFS, which lab-pbs's failure-domain analysis does not follow (only
/// backups into a PBS datastore count as copies), so `check` says losing
/// a node's disk loses them: the owner's decision, waived here as an owner
/// would, through the handles `imported` returns.
fn imported_lab(systems: &(Connection, PbsConnection)) -> Lab {
    let mut lab = Lab::new("home");
    let (proxmox, primary) = providers(&mut lab, systems);
    let found = golden::imported(&mut lab, &proxmox, &primary);
    let why = "backed up by the nightly vzdump to NFS (tank), which the analysis does not follow";
    lab.waive(&found.vm_web, "pbs::no-restorable-copy", why);
    lab.waive(&found.vm_db_lan, "pbs::no-restorable-copy", why);
    lab.waive(&found.ct_dns, "pbs::no-restorable-copy", why);
    lab.waive(
        &found.vm_cache,
        "pbs::no-restorable-copy",
        "a cache: nothing in it to keep",
    );
    lab
}

#[test]
fn the_imported_code_plans_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let systems = world(dir.path());
    let (code, out, err, _) = import(&systems, dir.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");

    let state_dir = dir.path().join(".lab");
    // The state binds the VM by VMID, marked imported (it carries no tag),
    // after the storage its disk is on.
    let mut shown = Vec::new();
    let code = lab::cli::run_captured(
        imported_lab(&systems),
        [
            "lab",
            "--state-dir",
            state_dir.to_str().unwrap(),
            "state",
            "show",
            "proxmox.vm.db-lan",
        ],
        &mut shown,
        &mut Vec::new(),
    );
    let shown: serde_json::Value = serde_json::from_slice(&shown).unwrap();
    assert_eq!(code, 0, "{shown}");
    assert_eq!(shown["id"], "101", "{shown}");
    assert_eq!(shown["outputs"]["imported"], true, "{shown}");
    assert!(
        shown["deps"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("proxmox.storage.tank")),
        "{shown}"
    );

    let lab = imported_lab(&systems);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab::cli::run_captured(
        lab,
        ["lab", "--state-dir", state_dir.to_str().unwrap(), "plan"],
        &mut out,
        &mut err,
    );
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("No changes. The lab matches the code (13 resources)."),
        "{out}"
    );

    // The first apply changes nothing, and the plan after it is still empty.
    let apply = |args: &[&str]| {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut argv = vec!["lab", "--state-dir", state_dir.to_str().unwrap()];
        argv.extend_from_slice(args);
        let code = lab::cli::run_captured(imported_lab(&systems), argv, &mut out, &mut err);
        let (out, err) = (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        );
        (code, out, err)
    };
    let (code, out, err) = apply(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("No changes."), "{out}");
    let (code, out, _) = apply(&["plan"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes."), "{out}");

    // The imported guests are read, not taken on trust: a hand edit is drift.
    blocking(call(
        systems.0.client(),
        "POST",
        "/nodes/pve1/qemu/101/config",
        Form::new().int("cores", 6),
    ));
    let (code, out, err) = apply(&["plan"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("proxmox.vm.db-lan") && out.contains("cores"),
        "{out}"
    );

    // Applying it puts the code's value back and stamps the lab's tag: the
    // guest is the lab's like any other, and the next plan is empty.
    let (code, out, err) = apply(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let config: serde_json::Value =
        blocking(systems.0.client().get("/nodes/pve1/qemu/101/config", &[])).unwrap();
    assert_eq!(config["cores"], 4, "{config}");
    let tags = config["tags"].as_str().unwrap_or_default();
    assert!(
        tags.contains("lab-"),
        "the update stamped the tag: {tags:?}"
    );
    let (code, out, _) = apply(&["plan"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn import_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let systems = world(dir.path());
    std::fs::write(dir.path().join("imported.rs"), "// mine\n").unwrap();
    let (code, _, err, text) = import(&systems, dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("exists already") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(text, "// mine\n", "the file is left alone");
}

#[test]
fn import_again_binds_the_same_objects_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let systems = world(dir.path());
    let (code, _, err, first) = import(&systems, dir.path());
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(dir.path().join("imported.rs")).unwrap();
    let (code, _, err, again) = import(&systems, dir.path());
    assert_eq!(code, 0, "the state holds the same objects: {err}");
    assert_eq!(first, again);

    // The pool the state binds is gone: the import refuses to drop it.
    blocking(async {
        let client = systems.0.client();
        let leave = Form::new().str("vms", "101").bool("delete", true);
        client.put("/pools?poolid=prod", &leave).await.unwrap();
        client.delete("/pools?poolid=prod", &[]).await.unwrap();
    });
    std::fs::remove_file(dir.path().join("imported.rs")).unwrap();
    let (code, _, err, text) = import(&systems, dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("already manages") && err.contains("proxmox.pool.prod"),
        "{err}"
    );
    assert!(text.is_empty(), "nothing is written");
}
