//! The Talos simulator against clients lab did not write: Python's
//! standard `ssl` module, `openssl s_client` and `curl` speaking gRPC over
//! HTTP/2 (all OpenSSL-based, where lab's own client is rustls).
//!
//! In maintenance mode they connect without verification (as `talosctl
//! --insecure` does), call `Version` and apply a config with a hand-encoded
//! `ApplyConfigurationRequest`; once the node runs the config they verify
//! its certificate against the OS CA by the node's address (not the
//! loopback address they dial) and present the admin client certificate of
//! the talosconfig.
//!
//! The tools are required: without one the test fails when `CI` is set
//! (`.ci/run` installs them) and is skipped, saying so, otherwise.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use lab_talos::api::Credentials;
use lab_talos::config::{generate, render, ClusterInput, ConfigSecrets, NodeInput, Role};
use lab_talos::secrets::SecretsBundle;
use lab_talos::sim::{SimConfig, Stage, TalosSim};

const CP: &str = "10.0.10.11";
const ENDPOINT: &str = "https://10.0.10.10:6443";
/// The port talosctl dials; curl is told to reach it at the simulator.
const APID_PORT: u16 = 50000;

fn bundle() -> &'static SecretsBundle {
    static BUNDLE: OnceLock<SecretsBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/reference/talos-examples/secrets.yaml"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        SecretsBundle::from_yaml(&text).expect("the reference bundle parses")
    })
}

/// Whether `tool` runs; a missing tool fails the test under CI.
fn have(tool: &str, version_arg: &str) -> bool {
    let found = Command::new(tool)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is required for the conformance test under CI (.ci/run installs it)"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Python's `ssl`: a TLS handshake with ALPN `h2`, then the negotiated
/// protocol and the server certificate as JSON (or the error).
const PY_TLS: &str = r#"
import json, socket, ssl, sys
port, name, ca, crt, key = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
if ca == "-":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
else:
    ctx = ssl.create_default_context(cafile=ca)
if crt != "-":
    ctx.load_cert_chain(crt, key)
ctx.set_alpn_protocols(["h2"])
try:
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=name) as tls:
            # TLS 1.3 reports a refused client certificate after the
            # handshake: send the HTTP/2 preface and read the answer.
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
            first = tls.recv(9)
            print(json.dumps({
                "ok": True,
                "alpn": tls.selected_alpn_protocol(),
                "version": tls.version(),
                "cert": tls.getpeercert(),
                "frame_type": first[3] if len(first) > 3 else None,
            }))
except (ssl.SSLError, OSError) as e:
    print(json.dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, e)}))
"#;

/// Writes the OS CA, the admin certificate and key (as in the
/// talosconfig) and the Python script into a fresh directory.
fn files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let creds = Credentials::admin(bundle()).unwrap();
    std::fs::write(dir.path().join("ca.pem"), &creds.ca_pem).unwrap();
    std::fs::write(dir.path().join("admin.crt"), &creds.cert_pem).unwrap();
    // OpenSSL reads PKCS#8 under the standard label only.
    let key = creds
        .key
        .expose()
        .replace("ED25519 PRIVATE KEY", "PRIVATE KEY");
    std::fs::write(dir.path().join("admin.key"), key).unwrap();
    std::fs::write(dir.path().join("tls.py"), PY_TLS).unwrap();
    dir
}

fn arg(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Python's `ssl` to the simulator's `port`, checking the certificate
/// against the OS CA for `name` when `verify`, with the admin certificate
/// when `client`.
fn python_tls(dir: &Path, port: u16, name: &str, verify: bool, client: bool) -> serde_json::Value {
    let ca = if verify {
        arg(dir, "ca.pem")
    } else {
        "-".into()
    };
    let (crt, key) = if client {
        (arg(dir, "admin.crt"), arg(dir, "admin.key"))
    } else {
        ("-".into(), "-".into())
    };
    let out = run(Command::new("python3").arg(dir.join("tls.py")).args([
        port.to_string(),
        name.into(),
        ca,
        crt,
        key,
    ]));
    assert!(out.status.success(), "python3: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("python3 printed {}: {e}", text(&out.stdout)))
}

/// A gRPC message frame: uncompressed, 4-byte length, the message.
fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    out.extend_from_slice(message);
    out
}

fn varint(mut n: usize, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// `ApplyConfigurationRequest { data = 1, mode = 4 }`, protobuf by hand.
fn apply_request(config: &str, mode: u8) -> Vec<u8> {
    let mut out = vec![0x0a];
    varint(config.len(), &mut out);
    out.extend_from_slice(config.as_bytes());
    out.extend_from_slice(&[0x20, mode]);
    out
}

/// What curl got from one gRPC call: headers and trailers, and the body.
struct GrpcAnswer {
    exit: Option<i32>,
    headers: String,
    body: Vec<u8>,
    stderr: String,
}

impl GrpcAnswer {
    fn status(&self) -> Option<&str> {
        self.headers.lines().find_map(|l| {
            l.strip_prefix("grpc-status:")
                .map(str::trim)
                .filter(|s| !s.is_empty())
        })
    }

    fn body_has(&self, needle: &[u8]) -> bool {
        self.body.windows(needle.len()).any(|w| w == needle)
    }
}

/// curl, HTTP/2 over TLS, to `https://<ip>:50000/<method>` connected to
/// the simulator's port, with `message` in a gRPC frame; `secure`: verify against the OS CA and present
/// the admin certificate, else `--insecure` without one.
fn curl_grpc(
    dir: &Path,
    port: u16,
    method: &str,
    message: Option<&[u8]>,
    secure: bool,
) -> GrpcAnswer {
    let request = dir.join("request.bin");
    let headers = dir.join("headers.txt");
    let body = dir.join("body.bin");
    let _ = std::fs::remove_file(&headers);
    let _ = std::fs::remove_file(&body);
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--http2", "--max-time", "20"])
        .arg("--connect-to")
        .arg(format!("{CP}:{APID_PORT}:127.0.0.1:{port}"))
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"]);
    match message {
        Some(message) => {
            std::fs::write(&request, grpc_frame(message)).unwrap();
            cmd.arg("--data-binary")
                .arg(format!("@{}", request.display()));
        }
        // A request that ends with its headers: for calls refused before
        // the body is read (the server then resets a still-open stream
        // with NO_ERROR, as grpc-go does, which curl 7.88 reports as a
        // framing error).
        None => {
            cmd.args(["--request", "POST"]);
        }
    }
    cmd.arg("--dump-header")
        .arg(&headers)
        .arg("--output")
        .arg(&body);
    if secure {
        cmd.arg("--cacert")
            .arg(dir.join("ca.pem"))
            .arg("--cert")
            .arg(dir.join("admin.crt"))
            .arg("--key")
            .arg(dir.join("admin.key"));
    } else {
        cmd.arg("--insecure");
    }
    cmd.arg(format!("https://{CP}:{APID_PORT}/{method}"));
    let out = run(&mut cmd);
    GrpcAnswer {
        exit: out.status.code(),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: std::fs::read(&body).unwrap_or_default(),
        stderr: text(&out.stderr),
    }
}

/// `openssl s_client` verifying the certificate for `ip` against the OS
/// CA, with the admin certificate.
fn openssl_verify(dir: &Path, port: u16, ip: &str) -> Output {
    run(Command::new("openssl")
        .args(["s_client", "-brief", "-verify_return_error", "-alpn", "h2"])
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-verify_ip")
        .arg(ip)
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .arg("-cert")
        .arg(dir.join("admin.crt"))
        .arg("-key")
        .arg(dir.join("admin.key"))
        .stdin(std::process::Stdio::null()))
}

fn config(hostname: &str) -> String {
    let cluster = ClusterInput::new("lab", ENDPOINT, "1.36.3");
    let mut node = NodeInput::new(Role::ControlPlane);
    node.hostname = Some(hostname.into());
    let docs = generate(&cluster, &node, &ConfigSecrets::from(bundle())).expect("generate");
    render(&docs)
}

fn sans(cert: &serde_json::Value) -> Vec<(String, String)> {
    cert["subjectAltName"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pair| {
            (
                pair[0].as_str().unwrap_or_default().to_owned(),
                pair[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_clients_talk_to_both_tls_endpoints() {
    if !(have("python3", "--version") && have("openssl", "version") && have("curl", "--version")) {
        return;
    }
    let files = files();
    let dir = files.path().to_owned();
    let sim = TalosSim::new(SimConfig::default());
    let port = sim.add_node(CP).await.unwrap().port();
    // The tools block: run them off the runtime the simulator serves on.
    let blocking = |f: Box<dyn FnOnce(&Path) -> GrpcAnswer + Send>| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || f(&dir))
    };

    // --- Maintenance mode: self-signed, h2, no client certificate asked.
    let py = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || python_tls(&dir, port, CP, false, false))
            .await
            .unwrap()
    };
    assert_eq!(py["ok"], true, "{py}");
    assert_eq!(py["alpn"], "h2", "{py}");
    assert_eq!(py["version"], "TLSv1.3", "{py}");
    // The server's SETTINGS frame (type 4) answers the preface.
    assert_eq!(py["frame_type"], 4, "{py}");

    let version = blocking(Box::new(move |dir| {
        curl_grpc(
            dir,
            port,
            "machine.MachineService/Version",
            Some(&[]),
            false,
        )
    }))
    .await
    .unwrap();
    assert_eq!(version.exit, Some(0), "curl: {}", version.stderr);
    assert_eq!(version.status(), Some("0"), "{}", version.headers);
    assert!(version.headers.contains("content-type: application/grpc"));
    assert!(version.body_has(b"v1.13.9"));
    assert!(version.body_has(b"nocloud"));
    // The platform's mode, `cloud`, not `maintenance`.
    assert!(version.body_has(b"\x12\x05cloud"), "{:?}", version.body);
    assert!(!version.body_has(b"maintenance"));

    // Maintenance mode has no Bootstrap: Unimplemented (12).
    let bootstrap = blocking(Box::new(move |dir| {
        curl_grpc(dir, port, "machine.MachineService/Bootstrap", None, false)
    }))
    .await
    .unwrap();
    assert_eq!(
        bootstrap.status(),
        Some("12"),
        "{:?} {} {}",
        bootstrap.exit,
        bootstrap.headers,
        bootstrap.stderr
    );

    // An AUTO apply (mode 1) answers NO_REBOOT (mode 2), then installs.
    let request = apply_request(&config("cp1"), 1);
    let apply = blocking(Box::new(move |dir| {
        curl_grpc(
            dir,
            port,
            "machine.MachineService/ApplyConfiguration",
            Some(&request),
            false,
        )
    }))
    .await
    .unwrap();
    // The answer that starts the install ends with its trailers.
    assert_eq!(apply.status(), Some("0"), "{}", apply.headers);
    assert!(
        apply.body_has(&[0x18, 0x02]),
        "mode NO_REBOOT: {:?}",
        apply.body
    );
    assert!(apply.body_has(b"Applied configuration without a reboot"));
    assert!(
        sim.wait_for_stage(CP, Stage::Configured, Duration::from_secs(10))
            .await
    );

    // --- Configured: the certificate verifies against the OS CA by the
    // node's address, with the admin client certificate.
    let (py, py_wrong_ip, py_no_client, s_client, s_client_wrong_ip) = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            (
                python_tls(&dir, port, CP, true, true),
                python_tls(&dir, port, "10.0.10.99", true, true),
                python_tls(&dir, port, CP, true, false),
                openssl_verify(&dir, port, CP),
                openssl_verify(&dir, port, "10.0.10.99"),
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(py["ok"], true, "{py}");
    assert_eq!(py["alpn"], "h2", "{py}");
    assert_eq!(py["frame_type"], 4, "{py}");
    let subject = py["cert"]["subject"].to_string();
    assert_eq!(subject, r#"[[["commonName","cp1"]]]"#, "{py}");
    let issuer = py["cert"]["issuer"].to_string();
    assert_eq!(issuer, r#"[[["organizationName","talos"]]]"#, "{py}");
    let names = sans(&py["cert"]);
    for wanted in [
        ("DNS", "cp1"),
        ("IP Address", CP),
        ("IP Address", "127.0.0.1"),
    ] {
        assert!(
            names.contains(&(wanted.0.to_owned(), wanted.1.to_owned())),
            "{wanted:?} not in {names:?}"
        );
    }
    assert_eq!(py_wrong_ip["ok"], false, "{py_wrong_ip}");
    assert!(
        py_wrong_ip["error"]
            .as_str()
            .is_some_and(|e| e.contains("CERTIFICATE_VERIFY_FAILED")),
        "{py_wrong_ip}"
    );
    // Without a client certificate the node refuses the connection.
    assert_eq!(py_no_client["ok"], false, "{py_no_client}");

    let out = text(&s_client.stdout) + &text(&s_client.stderr);
    assert!(s_client.status.success(), "openssl s_client: {out}");
    assert!(out.contains("Verification: OK"), "{out}");
    assert!(out.contains("Peer certificate: CN = cp1"), "{out}");
    assert!(!s_client_wrong_ip.status.success());

    let secure = blocking(Box::new(move |dir| {
        curl_grpc(dir, port, "machine.MachineService/Version", Some(&[]), true)
    }))
    .await
    .unwrap();
    assert_eq!(secure.exit, Some(0), "curl: {}", secure.stderr);
    assert_eq!(secure.status(), Some("0"), "{}", secure.headers);
    assert!(secure.body_has(b"v1.13.9"));
    // No client certificate: the node refuses the call.
    let insecure = blocking(Box::new(move |dir| {
        curl_grpc(
            dir,
            port,
            "machine.MachineService/Version",
            Some(&[]),
            false,
        )
    }))
    .await
    .unwrap();
    assert_ne!(insecure.status(), Some("0"), "{}", insecure.headers);
    assert!(!insecure.body_has(b"v1.13.9"));
}
