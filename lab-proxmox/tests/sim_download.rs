//! `download-url` as pve-storage and pve-common do it (the handler checks
//! the storage and the file name, the worker everything about the file,
//! existing files and checksums included), and `query-url-metadata` on
//! the same simulated content.

#![cfg(feature = "sim")]

mod sim_support;

use lab_proxmox::sim::{SimConfig, SimUrl};
use serde_json::{json, Value};
use sim_support::{sim, Api};

const ISO: &str = "https://factory.talos.dev/image/abc/v1.13.0/nocloud-amd64.iso";
const OTHER: &str = "https://example.invalid/other/nocloud-amd64.iso";
const DOWNLOAD: &str = "/nodes/pve1/storage/local/download-url";

/// Starts a download and waits: (exit status, log lines).
async fn download(api: &Api, params: &[(&str, &str)]) -> (String, Vec<String>) {
    let upid = api.post(DOWNLOAD, params).await.upid();
    let status = api.wait(&upid).await;
    let log = api
        .get(&format!("/nodes/pve1/tasks/{upid}/log"), &[])
        .await
        .data();
    let lines = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["t"].as_str().unwrap().to_string())
        .collect();
    (status["exitstatus"].as_str().unwrap().to_string(), lines)
}

async fn isos(api: &Api) -> Value {
    api.get("/nodes/pve1/storage/local/content", &[("content", "iso")])
        .await
        .data()
}

#[tokio::test]
async fn checksums_of_fresh_and_existing_files() {
    let config = SimConfig::for_tests().with_url(
        OTHER,
        SimUrl::new()
            .size(123_456_789)
            .checksum("sha256", &"ab".repeat(32))
            .mimetype("application/octet-stream; charset=binary")
            .filename("talos-other.iso"),
    );
    let (sim, api) = sim(config).await;
    let sha512 = sim.url_checksum(ISO, "sha512").unwrap();
    assert_eq!(sha512.len(), 128);
    assert_eq!(sim.url_checksum(ISO, "md5").unwrap().len(), 32);
    assert_eq!(sim.url_checksum(ISO, "crc32"), None);
    let base = [("content", "iso"), ("filename", "talos.iso"), ("url", ISO)];
    let with = |sum: &'static str| {
        let mut p = base.to_vec();
        p.push(("checksum-algorithm", "sha512"));
        p.push(("checksum", sum));
        p
    };
    let sha512: &'static str = Box::leak(sha512.into_boxed_str());

    // A fresh download with a wrong checksum: verified after the download,
    // nothing left.
    let (status, log) = download(&api, &with("deadbeef")).await;
    assert_eq!(
        status,
        format!("checksum mismatch: got '{sha512}' != expect 'deadbeef'")
    );
    assert!(
        log.contains(&"calculating checksum...".to_string()),
        "{log:?}"
    );
    assert_eq!(isos(&api).await, json!([]));

    // With the right one.
    let (status, log) = download(&api, &with(sha512)).await;
    assert_eq!(status, "OK");
    assert_eq!(
        log,
        [
            format!("downloading {ISO} to /var/lib/vz/template/iso/talos.iso"),
            "calculating checksum...OK, checksum verified".to_string(),
            format!("download of '{ISO}' to '/var/lib/vz/template/iso/talos.iso' finished"),
            "TASK OK".to_string(),
        ]
    );
    let listed = isos(&api).await;
    assert_eq!(listed[0]["volid"], "local:iso/talos.iso");
    let meta = api
        .get("/nodes/pve1/query-url-metadata", &[("url", ISO)])
        .await
        .data();
    assert_eq!(
        meta,
        json!({
            "filename": "nocloud-amd64.iso",
            "size": sim.url_size(ISO),
            "mimetype": "application/x-iso9660-image",
        })
    );
    assert_eq!(
        listed[0]["size"], meta["size"],
        "the file is the URL's size"
    );

    // The file is there: the worker hashes it. Same digest (any case): OK
    // at once, nothing downloaded.
    let upper: &'static str = Box::leak(sha512.to_uppercase().into_boxed_str());
    let (status, log) = download(&api, &with(upper)).await;
    assert_eq!(status, "OK");
    assert_eq!(
        log,
        [
            format!("downloading {ISO} to /var/lib/vz/template/iso/talos.iso"),
            "calculating checksum of existing file...OK, got correct file already, no need to download"
                .to_string(),
            "TASK OK".to_string(),
        ]
    );
    // Another URL's content onto the same name: its digest is not the
    // file's.
    let other512 = sim.url_checksum(OTHER, "sha512").unwrap();
    let (status, log) = download(
        &api,
        &[
            ("content", "iso"),
            ("filename", "talos.iso"),
            ("url", OTHER),
            ("checksum-algorithm", "sha512"),
            ("checksum", &other512),
        ],
    )
    .await;
    assert_eq!(
        status,
        format!("checksum mismatch: got '{sha512}' != expect '{other512}', aborting")
    );
    assert_eq!(
        log.last().unwrap(),
        &format!("TASK ERROR: {status}"),
        "{log:?}"
    );
    assert!(log.contains(&"calculating checksum of existing file...".to_string()));
    // Without a checksum an existing file is refused, in the worker.
    let (status, _) = download(&api, &base).await;
    assert_eq!(
        status,
        "refusing to override existing file '/var/lib/vz/template/iso/talos.iso'"
    );
    assert_eq!(isos(&api).await.as_array().unwrap().len(), 1);

    // A URL's content set by the test.
    let (status, _) = download(
        &api,
        &[
            ("content", "iso"),
            ("filename", "other.iso"),
            ("url", OTHER),
            ("checksum-algorithm", "sha256"),
            ("checksum", &"AB".repeat(32)),
        ],
    )
    .await;
    assert_eq!(status, "OK");
    let other = isos(&api)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["volid"] == "local:iso/other.iso")
        .cloned()
        .unwrap();
    assert_eq!(other["size"], 123_456_789);
    let meta = api
        .get("/nodes/pve1/query-url-metadata", &[("url", OTHER)])
        .await
        .data();
    assert_eq!(
        meta,
        json!({"filename": "talos-other.iso", "size": 123_456_789, "mimetype": "application/octet-stream"})
    );
}

#[tokio::test]
async fn failures_names_and_decompression() {
    let missing = "https://example.invalid/broken.iso";
    let config = SimConfig {
        download_urls_fail: vec![missing.to_string()],
        ..SimConfig::for_tests()
    }
    .with_url(
        "https://example.invalid/gone.tar.zst",
        SimUrl::new().missing(),
    );
    let (_sim, api) = sim(config).await;
    let upid = api
        .post(
            DOWNLOAD,
            &[
                ("content", "iso"),
                ("filename", "broken.iso"),
                ("url", missing),
            ],
        )
        .await
        .upid();
    let pid = u32::from_str_radix(upid.split(':').nth(2).unwrap(), 16).unwrap();
    assert_eq!(
        api.wait(&upid).await["exitstatus"],
        format!(
            "download failed: command 'wget --progress=dot:giga -O \
             /var/lib/vz/template/iso/broken.iso.tmp_dwnl.{pid} {missing}' failed: exit code 8"
        )
    );
    for url in [missing, "https://example.invalid/gone.tar.zst"] {
        let a = api
            .get("/nodes/pve1/query-url-metadata", &[("url", url)])
            .await;
        assert_eq!(
            (a.status, a.reason.as_str()),
            (500, "invalid server response: '404 Not Found'")
        );
    }
    // File names are normalised first, then their extension checked.
    let (status, _) = download(
        &api,
        &[
            ("content", "iso"),
            ("filename", "../my image (1).ISO"),
            ("url", ISO),
        ],
    )
    .await;
    assert_eq!(status, "OK");
    assert_eq!(isos(&api).await[0]["volid"], "local:iso/my_image__1_.ISO");
    let refused = |content: &'static str, name: &'static str| {
        let api = &api;
        async move {
            let a = api
                .post(
                    DOWNLOAD,
                    &[("content", content), ("filename", name), ("url", ISO)],
                )
                .await;
            assert_eq!(a.status, 400, "{content} {name}: {}", a.body);
            a.json()["errors"]["filename"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(
        refused("vztmpl", "debian.tgz").await,
        "wrong file extension"
    );
    assert_eq!(refused("iso", ".iso").await, "wrong file extension");
    assert_eq!(
        refused("import", "disk.QCOW2").await,
        "invalid filename or wrong extension"
    );
    let url = "http://download.proxmox.com/images/system/alpine.tar";
    let (status, _) = download(
        &api,
        &[
            ("content", "vztmpl"),
            ("filename", "alpine.tar"),
            ("url", url),
        ],
    )
    .await;
    assert_eq!(status, "OK");
    let tmpl = api
        .get(
            "/nodes/pve1/storage/local/content",
            &[("content", "vztmpl")],
        )
        .await
        .data();
    assert_eq!(tmpl[0]["format"], "tar");
    // Only ISOs may be decompressed; the worker says so.
    let (status, log) = download(
        &api,
        &[
            ("content", "vztmpl"),
            ("filename", "debian.tar.zst"),
            ("url", "https://example.invalid/debian.tar.zst"),
            ("compression", "zst"),
        ],
    )
    .await;
    assert_eq!(status, "decompression not supported for vztmpl");
    assert_eq!(log, ["TASK ERROR: decompression not supported for vztmpl"]);
    let (status, log) = download(
        &api,
        &[
            ("content", "iso"),
            ("filename", "big.iso"),
            ("url", "https://example.invalid/big.iso.zst"),
            ("compression", "zst"),
        ],
    )
    .await;
    assert_eq!(status, "OK");
    assert!(
        log.iter().any(|l| l.starts_with("decompressing ")),
        "{log:?}"
    );
}

/// Deletes a volume as a client would: the answer may be a task (PVE runs
/// `imgdel` workers) or `null` (finished within `delay`).
async fn delete_volume(api: &Api, node: &str, volid: &str) {
    let path = format!(
        "/nodes/{node}/storage/local/content/{}",
        volid.replace('/', "%2F")
    );
    let answer = api.delete(&path, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    if let Some(upid) = answer.data().as_str() {
        assert_eq!(api.wait(upid).await["exitstatus"], "OK");
    }
}

#[tokio::test]
async fn a_volume_in_use_is_deleted_as_pve_does_and_recorded_as_dangling() {
    let (sim, api) = sim(SimConfig::for_tests()).await;
    let volid = "local:iso/talos.iso";
    for node in ["pve1", "pve2"] {
        api.ok(
            "POST",
            &format!("/nodes/{node}/storage/local/download-url"),
            &[("content", "iso"), ("filename", "talos.iso"), ("url", ISO)],
        )
        .await;
    }
    // A VM on pve1 boots from pve1's copy.
    api.ok(
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", "100"), ("ide2", &format!("{volid},media=cdrom"))],
    )
    .await;

    // pve2's copy of the same file name is another volume: no guest of
    // pve2 uses it.
    delete_volume(&api, "pve2", volid).await;
    assert_eq!(sim.dangling_references(), Vec::<String>::new());

    // pve1's copy is in use; PVE deletes it anyway (no in-use check in
    // pve-storage's Content.pm), and the simulator records it.
    delete_volume(&api, "pve1", volid).await;
    assert_eq!(isos(&api).await, json!([]));
    assert_eq!(
        sim.dangling_references(),
        vec![format!(
            "{volid} on pve1 deleted while guest(s) [100] still use it"
        )]
    );
}
