//! `lab_proxmox::schema` against the real `pve-apidoc.json` (PVE 9.1), embedded in the crate
//! from `lab-proxmox/reference/` ([`PveSchema::embedded`]).
//!
//! The schema is compiled once per test binary.

use std::sync::Arc;

use lab_proxmox::schema::{PropertyType, PveSchema, Violation, PVE_APIDOC_JSON};

fn schema() -> Arc<PveSchema> {
    PveSchema::embedded()
}

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Validates and returns the 400 error map. Panics on success or on a 501.
fn errors(
    method: &str,
    path: &str,
    pairs: &[(&str, &str)],
) -> std::collections::BTreeMap<String, String> {
    match schema().validate(method, path, &p(pairs)) {
        Err(Violation::Params { errors }) => errors,
        other => panic!("{method} {path}: expected 400, got {other:?}"),
    }
}

fn ok(method: &str, path: &str, pairs: &[(&str, &str)]) {
    if let Err(v) = schema().validate(method, path, &p(pairs)) {
        panic!("{method} {path} should pass:\n{v}");
    }
}

/// An `ssh-ed25519` key URL-encoded the way PVE wants `sshkeys` (`%20` for spaces, `%2B`,
/// `%2F`, `%3D`, `%40`), as it arrives after the form layer was decoded.
const SSHKEYS: &str =
    "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIHx%2Bz%2F0Yq9cT3b1Wq7Yk0eX3Kf4Qm0aLp5uVbVw%3D%3D%20lab%40workstation";

fn vm_create() -> Vec<(&'static str, &'static str)> {
    vec![
        ("vmid", "101"),
        ("name", "web-1.lab"),
        ("cores", "2"),
        ("memory", "4096"),
        ("scsihw", "virtio-scsi-single"),
        ("scsi0", "local-lvm:32"),
        ("net0", "virtio,bridge=vmbr0,tag=20"),
        ("ide2", "local-lvm:cloudinit"),
        ("ipconfig0", "ip=10.0.0.5/24,gw=10.0.0.1"),
        ("sshkeys", SSHKEYS),
        ("agent", "1"),
        ("onboot", "1"),
        ("tags", "a;b"),
        ("description", "managed by lab\nowner: lab"),
    ]
}

/// `vm_create()` with one pair replaced (or added).
fn vm_create_with(key: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut pairs: Vec<_> = vm_create().into_iter().filter(|(k, _)| *k != key).collect();
    pairs.push((key, value));
    pairs
}

#[test]
fn loads_every_path_and_method() {
    let s = schema();
    assert_eq!(s.paths(), 435, "path nodes (SOURCES.md)");
    assert_eq!(s.methods(), 649, "methods (SOURCES.md)");
    assert_eq!(s.endpoints().count(), s.methods());

    // Count the file independently and compare with what was indexed.
    let raw: serde_json::Value = serde_json::from_str(PVE_APIDOC_JSON).unwrap();
    let (mut nodes, mut methods) = (0, 0);
    let mut stack: Vec<&serde_json::Value> = raw.as_array().unwrap().iter().collect();
    while let Some(n) = stack.pop() {
        nodes += 1;
        methods += n
            .get("info")
            .and_then(|i| i.as_object())
            .map_or(0, |i| i.len());
        stack.extend(
            n.get("children")
                .and_then(|c| c.as_array())
                .into_iter()
                .flatten(),
        );
    }
    assert_eq!((s.paths(), s.methods()), (nodes, methods));

    // Every indexed method can be found again by its template.
    for m in s.endpoints() {
        let found = s
            .method(m.http_method(), m.path())
            .unwrap_or_else(|| panic!("{}", m.path()));
        assert_eq!(found.name(), m.name());
    }
}

#[test]
fn routes_concrete_paths_to_templates() {
    let s = schema();
    for method in ["GET", "PUT", "POST"] {
        let r = s.route(method, "/nodes/pve1/qemu/101/config").unwrap();
        assert_eq!(r.template(), "/nodes/{node}/qemu/{vmid}/config");
        assert_eq!(
            r.path_params(),
            [("node", "pve1".to_owned()), ("vmid", "101".to_owned())]
        );
        assert_eq!(r.method().http_method(), method);
    }
    assert_eq!(
        s.route("PUT", "/nodes/pve1/qemu/101/config")
            .unwrap()
            .method()
            .name(),
        "update_vm"
    );

    let upid = "UPID:pve1:0000C4E1:0009A2B3:6650F0A1:qmcreate:101:root@pam!lab:";
    let r = s
        .route("GET", &format!("/nodes/pve1/tasks/{upid}/status"))
        .unwrap();
    assert_eq!(r.template(), "/nodes/{node}/tasks/{upid}/status");
    assert_eq!(r.path_param("upid"), Some(upid));
    // Percent-escapes in a path segment are decoded.
    let r = s
        .route(
            "GET",
            "/nodes/pve1/tasks/UPID%3Apve1%3A1%3A2%3A3%3Aqmstart%3A101%3Aroot%40pam%3A/status",
        )
        .unwrap();
    assert_eq!(
        r.path_param("upid"),
        Some("UPID:pve1:1:2:3:qmstart:101:root@pam:")
    );

    assert_eq!(
        s.route("GET", "/cluster/resources").unwrap().template(),
        "/cluster/resources"
    );
    assert_eq!(s.route("PUT", "/pools").unwrap().template(), "/pools");
    assert_eq!(s.route("POST", "/storage").unwrap().template(), "/storage");
    // Literal segments win: `lxc` is a literal child of `{node}`, `{vmid}` a parameter.
    assert_eq!(
        s.route("GET", "/nodes/pve1/lxc/200/status/current")
            .unwrap()
            .template(),
        "/nodes/{node}/lxc/{vmid}/status/current"
    );
    // The `/api2/json` prefix, doubled and trailing slashes are tolerated like PVE does.
    assert_eq!(
        s.route("GET", "/api2/json/nodes//pve1/qemu/")
            .unwrap()
            .template(),
        "/nodes/{node}/qemu"
    );

    let m = s.method("POST", "/nodes/{node}/qemu").unwrap();
    assert!(m.protected() && m.allow_token() && !m.additional_properties());
    assert_eq!(m.proxyto(), Some("node"));
    assert_eq!(m.parameter("net31").map(|(k, _)| k), Some("net[n]"));
    assert!(m.parameter("net32").is_none());
    assert_eq!(m.parameter("efidisk0").map(|(k, _)| k), Some("efidisk0"));
    let (_, vmid) = m.parameter("vmid").unwrap();
    assert_eq!(vmid.kind(), PropertyType::Integer);
    assert!(!vmid.optional());
    assert_eq!(vmid.format_name(), Some("pve-vmid"));
    assert!(m.parameter("net0").unwrap().1.is_property_string());
    assert!(!s.method("POST", "/access/ticket").unwrap().allow_token());
}

#[test]
fn unknown_paths_and_methods_are_501() {
    let s = schema();
    let v = s.validate("GET", "/nodes/pve1/nope", &[]).unwrap_err();
    assert_eq!(
        v,
        Violation::NotImplemented {
            message: "Method 'GET /nodes/pve1/nope' not implemented".into()
        }
    );
    assert_eq!(v.status(), 501);
    assert!(s.route("GET", "/nodes/pve1/nope").is_none());

    // The path exists, but not with this method.
    let v = s.validate("DELETE", "/cluster/resources", &[]).unwrap_err();
    assert_eq!(
        v.message(),
        "Method 'DELETE /cluster/resources' not implemented"
    );

    // pveproxy refuses methods it does not know before routing.
    let v = s
        .validate("PATCH", "/nodes/pve1/qemu/101/config", &[])
        .unwrap_err();
    assert_eq!(v.status(), 501);
    assert_eq!(v.message(), "method 'PATCH' not available");
}

#[test]
fn a_full_vm_create_passes() {
    ok("POST", "/nodes/pve1/qemu", &vm_create());
    // Property strings with aliases, key aliases, default keys and import-from.
    ok(
        "POST",
        "/nodes/pve1/qemu",
        &[
            ("vmid", "102"),
            ("net0", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1"),
            ("net1", "model=e1000,bridge=vmbr1,link_down=yes"),
            (
                "scsi0",
                "local-lvm:0,import-from=local:import/noble.qcow2,discard=on,ssd=1",
            ),
            ("efidisk0", "local-lvm:1,efitype=4m,pre-enrolled-keys=1"),
            ("tpmstate0", "local-lvm:1,version=v2.0"),
            ("agent", "enabled=1,fstrim_cloned_disks=1"),
            ("memory", "current=2048"),
            ("cpu", "x86-64-v2-AES,flags=+aes"),
            ("machine", "q35"),
            ("bios", "ovmf"),
            ("boot", "order=scsi0;net0"),
            ("serial0", "socket"),
            ("vga", "serial0"),
            ("ipconfig1", "ip=dhcp,ip6=auto"),
            ("startup", "order=2,up=30"),
            ("pool", "lab"),
            ("start", "true"),
        ],
    );
}

#[test]
fn vm_create_errors_name_the_parameter() {
    let cases: &[(&str, &str, &str)] = &[
        ("foo", "1", "property is not defined in schema and the schema does not allow additional properties"),
        ("net32", "virtio,bridge=vmbr0", "property is not defined in schema and the schema does not allow additional properties"),
        ("vmid", "5", "invalid format - value does not look like a valid VM ID\n"),
        ("cores", "abc", "type check ('integer') failed - got 'abc'"),
        ("onboot", "yes", "type check ('boolean') failed - got 'yes'"),
        (
            "scsihw",
            "bogus",
            "value 'bogus' does not have a value in the enumeration 'lsi, lsi53c810, virtio-scsi-pci, virtio-scsi-single, megasas, pvscsi'",
        ),
        ("net0", "virtio,bridge=vmbr0,bogus=1", "invalid format - invalid key in comma-separated list property: bogus\n"),
        ("net0", "virtio,bridge=vmbr0,tag=5000", "invalid format - format error\nnet0.tag: value must have a maximum value of 4094\n"),
        ("cores", "0", "value must have a minimum value of 1"),
        ("name", "web_1", "invalid format - value does not look like a valid DNS name\n"),
        ("tags", "a;b c;bad!", "invalid format - invalid characters in tag\n"),
        ("memory", "8", "invalid format - format error\nmemory.current: value must have a minimum value of 16\n"),
        ("scsi0", "junk", "invalid format - format error\nscsi0.file: invalid format - unable to parse volume ID 'junk'\n\n"),
        ("agent", "1,type=serial", "invalid format - format error\nagent.type: value 'serial' does not have a value in the enumeration 'virtio, isa'\n"),
        ("bootdisk", "nvme0", "invalid format - invalid boot disk 'nvme0'\n"),
        ("machine", "q36", "invalid format - format error\nmachine.type: value does not match the regex pattern\n"),
        ("description", "", ""),
    ];
    for (key, value, want) in cases {
        if want.is_empty() {
            ok("POST", "/nodes/pve1/qemu", &vm_create_with(key, value));
            continue;
        }
        let errs = errors("POST", "/nodes/pve1/qemu", &vm_create_with(key, value));
        assert_eq!(errs.len(), 1, "{key}={value}: {errs:?}");
        assert_eq!(
            errs.get(*key).map(String::as_str),
            Some(*want),
            "{key}={value}: {errs:?}"
        );
    }

    let errs = errors(
        "POST",
        "/nodes/pve1/qemu",
        &vm_create_with("sshkeys", "ssh-ed25519 AAAA lab@host"),
    );
    assert_eq!(
        errs["sshkeys"],
        "invalid format - invalid urlencoded string: ssh-ed25519 AAAA lab@host\n"
    );

    let errs = errors(
        "POST",
        "/nodes/pve1/qemu",
        &vm_create_with("ipconfig0", "ip=10.0.0.5,gw=10.0.0.1"),
    );
    assert!(errs["ipconfig0"].contains("ipconfig0.ip: invalid format - value does not look like a valid ipv4 network configuration"));

    let errs = errors(
        "POST",
        "/nodes/pve1/qemu",
        &vm_create_with("net0", "virtio=01:00:5E:00:00:01,bridge=vmbr0"),
    );
    assert!(errs["net0"].contains(
        "net0.macaddr: invalid format - value does not look like a valid unicast MAC address"
    ));

    let errs = errors(
        "POST",
        "/nodes/pve1/qemu",
        &vm_create_with("net0", "bridge=vmbr0"),
    );
    assert_eq!(
        errs["net0"],
        "invalid format - format error\nnet0.model: property is missing and it is not optional\n"
    );

    let missing: Vec<_> = vm_create()
        .into_iter()
        .filter(|(k, _)| *k != "vmid")
        .collect();
    let errs = errors("POST", "/nodes/pve1/qemu", &missing);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs["vmid"], "property is missing and it is not optional");

    // All errors are collected, like PVE does.
    let errs = errors(
        "POST",
        "/nodes/pve1/qemu",
        &[
            ("foo", "1"),
            ("cores", "abc"),
            ("onboot", "yes"),
            ("net40", "x"),
        ],
    );
    let keys: Vec<&str> = errs.keys().map(String::as_str).collect();
    assert_eq!(keys, ["cores", "foo", "net40", "onboot", "vmid"]);
}

#[test]
fn repeated_keys_only_for_arrays_and_lists() {
    let errs = errors(
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", "101"), ("name", "a"), ("name", "b")],
    );
    assert_eq!(errs["name"], "type check ('string') failed - got ARRAY");

    ok(
        "POST",
        "/cluster/bulk-action/guest/start",
        &[("vms", "101"), ("vms", "102")],
    );
    ok(
        "POST",
        "/cluster/bulk-action/guest/start",
        &[("vms", "101")],
    );
    let errs = errors(
        "POST",
        "/cluster/bulk-action/guest/start",
        &[("vms", "101"), ("vms", "abc")],
    );
    assert_eq!(errs["vms[1]"], "type check ('integer') failed - got 'abc'");

    // A `-list` format joins repeated keys, as PVE's `normalize_legacy_param_formats` does.
    ok(
        "PUT",
        "/pools",
        &[("poolid", "lab"), ("vms", "101"), ("vms", "102,103")],
    );
    let errs = errors("PUT", "/pools", &[("poolid", "lab"), ("vms", "101;42")]);
    assert_eq!(
        errs["vms"],
        "invalid format - value does not look like a valid VM ID\n"
    );
}

#[test]
fn path_parameters_are_given_and_checked() {
    ok("GET", "/nodes/pve1/qemu/101/config", &[("current", "1")]);
    ok("GET", "/nodes/pve1/qemu/101/config", &[("vmid", "101")]);
    let errs = errors("GET", "/nodes/pve1/qemu/101/config", &[("vmid", "102")]);
    assert_eq!(
        errs["vmid"],
        "duplicate parameter (already defined in URI) with conflicting values!"
    );
    let errs = errors("GET", "/nodes/pve1/qemu/abc/config", &[]);
    assert_eq!(errs["vmid"], "type check ('integer') failed - got 'abc'");
    let errs = errors("GET", "/nodes/pve_1/qemu/101/config", &[]);
    assert_eq!(
        errs["node"],
        "invalid format - value does not look like a valid node name\n"
    );
}

#[test]
fn config_updates_and_delete_lists() {
    let path = "/nodes/pve1/qemu/101/config";
    ok(
        "PUT",
        path,
        &[
            ("cores", "4"),
            ("delete", "net1,ipconfig1,unused0"),
            ("digest", "0123abcd"),
        ],
    );
    ok("POST", path, &[("memory", "8192"), ("revert", "cores")]);

    let errs = errors("PUT", path, &[("delete", "net1,bogus")]);
    assert_eq!(errs["delete"], "unknown option 'bogus'");
    let errs = errors("PUT", path, &[("delete", "net32")]);
    assert_eq!(errs["delete"], "unknown option 'net32'");
    let errs = errors("PUT", path, &[("delete", "vmid")]);
    assert_eq!(errs["delete"], "unknown option 'vmid'");
    let errs = errors(
        "PUT",
        path,
        &[("net1", "virtio,bridge=vmbr0"), ("delete", "net1")],
    );
    assert_eq!(
        errs["delete"],
        "you can't use '-net1' and -delete net1' at the same time"
    );
    // The format check of the list itself runs first.
    let errs = errors("PUT", path, &[("delete", "0bad")]);
    assert_eq!(
        errs["delete"],
        "invalid format - invalid configuration ID '0bad'\n"
    );

    // LXC config: mp/dev/unused ranges.
    ok(
        "PUT",
        "/nodes/pve1/lxc/200/config",
        &[
            ("mp255", "local-lvm:8,mp=/srv"),
            ("dev0", "/dev/net/tun"),
            ("delete", "mp1"),
        ],
    );
    let errs = errors(
        "PUT",
        "/nodes/pve1/lxc/200/config",
        &[("mp256", "local-lvm:8,mp=/srv")],
    );
    assert!(errs.contains_key("mp256"));
}

#[test]
fn lxc_create_passes() {
    let base = [
        ("vmid", "200"),
        (
            "ostemplate",
            "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        ),
        ("hostname", "ct-1"),
        ("rootfs", "local-lvm:8"),
        ("mp0", "local-lvm:16,mp=/data,backup=1"),
        ("net0", "name=eth0,bridge=vmbr0,ip=dhcp,tag=30"),
        ("unprivileged", "1"),
        ("features", "nesting=1"),
        ("ssh-public-keys", "ssh-ed25519 AAAA lab@host"),
        ("password", "secret123"),
        ("tags", "lab"),
    ];
    ok("POST", "/nodes/pve1/lxc", &base);
    ok(
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "201"),
            ("ostemplate", "local:vztmpl/x.tar.zst"),
            ("features", "nesting=yes,keyctl=on"),
        ],
    );

    let errs = errors(
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "200"),
            ("ostemplate", "x"),
            ("mp0", "local-lvm:16"),
        ],
    );
    assert_eq!(
        errs["mp0"],
        "invalid format - format error\nmp0.mp: property is missing and it is not optional\n"
    );
    let errs = errors(
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "200"),
            ("ostemplate", "x"),
            ("net0", "name=eth0,ip=10.0.0.5"),
        ],
    );
    assert!(errs["net0"].contains(
        "net0.ip: invalid format - value does not look like a valid ipv4 network configuration"
    ));
    let errs = errors(
        "POST",
        "/nodes/pve1/lxc",
        &[("vmid", "200"), ("ostemplate", "x"), ("password", "abc")],
    );
    assert_eq!(errs["password"], "value must be at least 5 characters long");
    let errs = errors(
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "200"),
            ("ostemplate", "x"),
            ("features", "nesting=maybe"),
        ],
    );
    assert_eq!(errs["features"], "invalid format - format error\nfeatures.nesting: type check ('boolean') failed - got 'maybe'\n");
    let errs = errors(
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "200"),
            ("ostemplate", "x"),
            ("mp0", "local-lvm:16,mp=/data,mountoptions=noatime;bogus"),
        ],
    );
    assert!(errs["mp0"].contains("mp0.mountoptions: value does not match the regex pattern"));
}

#[test]
fn clone_passes() {
    ok(
        "POST",
        "/nodes/pve1/qemu/9000/clone",
        &[
            ("newid", "101"),
            ("name", "web-1"),
            ("full", "1"),
            ("storage", "local-lvm"),
            ("pool", "lab"),
            ("target", "pve2"),
        ],
    );
    let errs = errors("POST", "/nodes/pve1/qemu/9000/clone", &[("name", "web-1")]);
    assert_eq!(errs["newid"], "property is missing and it is not optional");
}

#[test]
fn download_url_content_is_an_enum() {
    let path = "/nodes/pve1/storage/local/download-url";
    let base = [
        ("content", "import"),
        ("filename", "noble-server-cloudimg-amd64.qcow2"),
        (
            "url",
            "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img",
        ),
    ];
    ok("POST", path, &base);
    ok(
        "POST",
        path,
        &[
            base[0],
            base[1],
            base[2],
            ("checksum", "abc"),
            ("checksum-algorithm", "sha256"),
        ],
    );

    let errs = errors("POST", path, &[("content", "snippets"), base[1], base[2]]);
    assert_eq!(
        errs["content"],
        "value 'snippets' does not have a value in the enumeration 'iso, vztmpl, import'"
    );
    let errs = errors(
        "POST",
        path,
        &[base[0], base[1], ("url", "ftp://example.com/x")],
    );
    assert_eq!(errs["url"], "value does not match the regex pattern");
    let errs = errors(
        "POST",
        path,
        &[base[0], base[1], base[2], ("checksum", "abc")],
    );
    assert_eq!(
        errs["checksum-algorithm"],
        "missing property - 'checksum' requires this property"
    );
}

#[test]
fn storage_create_passes() {
    ok(
        "POST",
        "/storage",
        &[
            ("storage", "nas"),
            ("type", "nfs"),
            ("server", "10.0.0.10"),
            ("export", "/tank/pve"),
            ("content", "images,rootdir"),
        ],
    );
    ok(
        "POST",
        "/storage",
        &[
            ("storage", "pbs"),
            ("type", "pbs"),
            ("server", "pbs.lab"),
            ("datastore", "main"),
            ("username", "root@pam"),
            ("fingerprint", &["ab"; 32].join(":")),
            ("prune-backups", "keep-daily=7,keep-weekly=4"),
        ],
    );
    let errs = errors(
        "POST",
        "/storage",
        &[
            ("storage", "nas"),
            ("type", "nfs"),
            ("content", "images,bogus"),
        ],
    );
    assert_eq!(
        errs["content"],
        "invalid format - invalid content type 'bogus'\n"
    );
    let errs = errors("POST", "/storage", &[("storage", "1nas"), ("type", "smb")]);
    assert_eq!(
        errs["storage"],
        "invalid format - storage ID '1nas' contains illegal characters\n"
    );
    assert!(errs["type"].starts_with("value 'smb' does not have a value in the enumeration"));
    let errs = errors(
        "POST",
        "/storage",
        &[
            ("storage", "pbs"),
            ("type", "pbs"),
            ("fingerprint", "ab:cd"),
        ],
    );
    assert_eq!(
        errs["fingerprint"],
        "value does not match the regex pattern"
    );
    let errs = errors(
        "POST",
        "/storage",
        &[
            ("storage", "pbs"),
            ("type", "pbs"),
            ("prune-backups", "keep-dayly=7"),
        ],
    );
    assert_eq!(
        errs["prune-backups"],
        "invalid format - invalid key in comma-separated list property: keep-dayly\n"
    );
}

#[test]
fn pools_and_cluster_reads() {
    ok(
        "PUT",
        "/pools",
        &[
            ("poolid", "lab"),
            ("vms", "101,102"),
            ("storage", "local-lvm"),
        ],
    );
    ok(
        "POST",
        "/pools",
        &[("poolid", "lab"), ("comment", "managed by lab")],
    );
    let errs = errors("POST", "/pools", &[("poolid", "l")]);
    assert_eq!(
        errs["poolid"],
        "invalid format - pool name 'l' contains illegal characters\n"
    );
    ok("GET", "/cluster/resources", &[("type", "vm")]);
    let errs = errors("GET", "/cluster/resources", &[("type", "vms")]);
    assert!(errs["type"].starts_with("value 'vms' does not have a value in the enumeration"));
    ok("GET", "/cluster/nextid", &[("vmid", "150")]);
}

#[test]
fn violation_reports() {
    let v = schema()
        .validate("POST", "/nodes/pve1/qemu", &p(&[("cores", "abc")]))
        .unwrap_err();
    assert_eq!(v.status(), 400);
    assert_eq!(v.message(), "Parameter verification failed.");
    let text = v.to_string();
    assert!(
        text.starts_with("400 Parameter verification failed.\n"),
        "{text}"
    );
    assert!(
        text.contains("cores: type check ('integer') failed - got 'abc'"),
        "{text}"
    );
    assert_eq!(v.errors().unwrap().len(), 2);
}

#[test]
fn section_config_one_of_and_additional_properties() {
    let path = "/cluster/sdn/fabrics/node/f1";
    let base = [("node_id", "pve1"), ("protocol", "openfabric")];
    ok(
        "POST",
        path,
        &[
            base[0],
            base[1],
            ("interfaces", "name=eth0,hello_multiplier=5,ip=10.0.0.1/31"),
        ],
    );
    let errs = errors(
        "POST",
        path,
        &[
            base[0],
            base[1],
            ("interfaces", "name=eth0,hello_multiplier=500"),
        ],
    );
    assert!(
        errs["interfaces[0]"]
            .contains("interfaces[0].hello_multiplier: value must have a maximum value of 100"),
        "{errs:?}"
    );
    // The OSPF variant of `interfaces` has no hello_multiplier.
    let errs = errors(
        "POST",
        path,
        &[
            base[0],
            ("protocol", "ospf"),
            ("interfaces", "name=eth0,hello_multiplier=5"),
        ],
    );
    assert_eq!(
        errs["interfaces[0]"],
        "invalid format - invalid key in comma-separated list property: hello_multiplier\n"
    );

    // `additionalProperties: 1` lets unknown names through.
    ok("GET", "/nodes/pve1/qemu/101/agent", &[("anything", "goes")]);
}

#[test]
fn the_schema_is_shareable() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<PveSchema>();
    send_sync::<Violation>();
}

#[test]
fn volume_ids_keep_their_slash_below_storage_content() {
    // pve-storage mounts `{storage}/content` with `fragmentDelimiter => ''`
    // and pveproxy decodes the whole path first: a volume id reaches
    // `{volume}` whole, encoded or not.
    let s = schema();
    for path in [
        "/nodes/pve1/storage/local/content/local:vztmpl/debian-13.tar.zst",
        "/nodes/pve1/storage/local/content/local%3Avztmpl%2Fdebian-13.tar.zst",
        "/api2/json/nodes/pve1/storage/local/content/local:vztmpl//debian-13.tar.zst",
    ] {
        for method in ["GET", "DELETE", "PUT", "POST"] {
            let r = s
                .route(method, path)
                .unwrap_or_else(|| panic!("{method} {path}"));
            assert_eq!(
                r.template(),
                "/nodes/{node}/storage/{storage}/content/{volume}"
            );
            assert_eq!(
                r.path_param("volume"),
                Some("local:vztmpl/debian-13.tar.zst")
            );
        }
    }
    // Elsewhere an encoded slash separates segments, as in PVE.
    assert_eq!(
        s.route("GET", "/nodes/pve1/qemu/101%2Fconfig")
            .unwrap()
            .template(),
        "/nodes/{node}/qemu/{vmid}/config"
    );
    assert!(s
        .route("GET", "/nodes/pve1/qemu/101/config/extra")
        .is_none());
}
