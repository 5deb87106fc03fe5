//! End-to-end tests of the client against a tiny HTTPS server (tokio-rustls
//! with an rcgen self-signed certificate, like a fresh Proxmox node) that
//! writes raw HTTP/1.1 answers, so status lines with PVE's custom reason
//! phrases are exactly what the client sees.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lab_core::{OpContext, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::*;

const SECRET: &str = "5f2b8c1e-0000-4000-8000-c0ffee123456";
const TOKEN_ID: &str = "root@pam!lab";

/// A request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    head: String,
    body: String,
}

type Responder = dyn Fn(&Seen, usize) -> String + Send + Sync;

struct TestServer {
    endpoint: String,
    fingerprint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn reply(status_line: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status_line}\r\nContent-Type: application/json;charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn start(responder: Arc<Responder>) -> TestServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ck = rcgen::generate_simple_self_signed(vec!["pve1.lab".to_string()]).unwrap();
    let cert_der = ck.cert.der().clone();
    let fingerprint = tls::sha256_fingerprint(cert_der.as_ref());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let counter = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let responder = responder.clone();
            let seen = seen2.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                // A refused handshake ends here; that is the point of some tests.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())
                            .flatten()
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let req = Seen {
                    method: first.next().unwrap_or("").to_string(),
                    target: first.next().unwrap_or("").to_string(),
                    head: head.clone(),
                    body,
                };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                seen.lock().unwrap().push(req.clone());
                let answer = responder(&req, n);
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TestServer {
        endpoint: format!("https://127.0.0.1:{}", addr.port()),
        fingerprint,
        seen,
    }
}

fn version_server() -> Arc<Responder> {
    Arc::new(|_, _| {
        reply(
            "200 OK",
            r#"{"data":{"version":"9.1.1","release":"9.1","repoid":"e5010dce"}}"#,
        )
    })
}

fn config(server: &TestServer) -> ClientConfig {
    ClientConfig::new(&server.endpoint, TOKEN_ID, Secret::new(SECRET))
        .with_timeout(Duration::from_secs(5))
        .with_task_poll(Duration::from_millis(20))
}

#[tokio::test]
async fn unpinned_self_signed_is_refused_with_the_fingerprint_to_pin() {
    let server = start(version_server()).await;
    let client = Client::new(config(&server)).unwrap();
    let err = client.version().await.unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::UntrustedCertificate {
            fingerprint: server.fingerprint.clone()
        }
    );
    assert!(!err.is_transient());
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "the server at {} presented a certificate that is not trusted",
            server.endpoint
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with(&format!("pin it: fingerprint {}", server.fingerprint)),
        "{msg}"
    );
    assert!(!msg.contains(SECRET));
    assert!(
        server.requests().is_empty(),
        "no request may pass an untrusted handshake"
    );
}

#[tokio::test]
async fn pinned_fingerprint_is_accepted_and_requests_are_shaped_right() {
    let server = start(version_server()).await;
    // Pin in lowercase without colons: compare is case/colon-insensitive.
    let pin = server.fingerprint.replace(':', "").to_lowercase();
    let client = Client::new(config(&server).with_fingerprint(pin)).unwrap();
    let v = client.version().await.unwrap();
    assert_eq!(v.release, "9.1");
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].target, "/api2/json/version");
    assert!(
        seen[0].head.contains(&format!(
            "authorization: PVEAPIToken={TOKEN_ID}={SECRET}\r\n"
        )),
        "{}",
        seen[0].head
    );
    let lower = seen[0].head.to_ascii_lowercase();
    assert!(!lower.contains("content-length") && !lower.contains("transfer-encoding"));
    assert!(seen[0].body.is_empty());
}

#[tokio::test]
async fn pinned_wrong_fingerprint_is_refused() {
    let server = start(version_server()).await;
    let wrong = tls::sha256_fingerprint(b"some other certificate");
    let client = Client::new(config(&server).with_fingerprint(wrong.clone())).unwrap();
    let err = client.version().await.unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::UntrustedCertificate {
            fingerprint: server.fingerprint.clone()
        }
    );
    assert!(err
        .message
        .contains("does not match the pinned fingerprint"));
    assert!(err.message.contains(&wrong));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn custom_reason_phrase_reaches_the_message() {
    let server = start(Arc::new(|_, _| {
        reply(
            "500 can't lock file '/var/lock/qemu-server/lock-203.conf' - got timeout",
            r#"{"data":null}"#,
        )
    }))
    .await;
    let client = Client::new(config(&server).with_fingerprint(&server.fingerprint)).unwrap();
    let err = client
        .put(
            &path(&["nodes", "pve1", "qemu", "203", "config"]),
            &Form::new().int("cores", 2),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status, 500);
    assert_eq!(
        err.message,
        "can't lock file '/var/lock/qemu-server/lock-203.conf' - got timeout"
    );
    assert_eq!(err.kind, ErrorKind::Locked);
    assert!(err.is_transient());
    let p: lab_core::ProviderError = err.into();
    assert!(p.is_transient());
}

#[tokio::test]
async fn unauthorized_has_empty_body_and_no_secret_in_message() {
    let server = start(Arc::new(|_, _| reply("401 authentication failure", ""))).await;
    let client = Client::new(config(&server).with_fingerprint(&server.fingerprint)).unwrap();
    let err = client.version().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AuthFailed);
    assert!(
        err.message.starts_with("authentication failure"),
        "{}",
        err.message
    );
    assert!(!err.to_string().contains(SECRET));
    assert!(!format!("{err:?}").contains(SECRET));
    assert!(!format!("{client:?}").contains(SECRET));
    assert!(!format!("{:?}", client.config()).contains(SECRET));
}

#[tokio::test]
async fn parameter_errors_and_query_strings() {
    let server = start(Arc::new(|req: &Seen, _| {
        if req.target.starts_with("/api2/json/cluster/nextid") {
            reply(
                "400 Parameter verification failed.",
                r#"{"errors":{"vmid":"VM 218 already exists"},"data":null}"#,
            )
        } else {
            reply(
                "200 OK",
                r#"{"data":[{"id":"qemu/218","type":"qemu","vmid":"218","template":1}]}"#,
            )
        }
    }))
    .await;
    let client = Client::new(config(&server).with_fingerprint(&server.fingerprint)).unwrap();
    let err = client
        .get::<Value>("/cluster/nextid", &[("vmid", "218".to_string())])
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AlreadyExists);
    assert_eq!(
        err.errors.get("vmid").map(String::as_str),
        Some("VM 218 already exists")
    );
    assert_eq!(err.message, "Parameter verification failed.");
    let res = client.cluster_resources(Some("vm")).await.unwrap();
    assert_eq!(res[0].vmid, Some(218));
    assert!(res[0].template);
    let seen = server.requests();
    assert_eq!(seen[0].target, "/api2/json/cluster/nextid?vmid=218");
    assert_eq!(seen[1].target, "/api2/json/cluster/resources?type=vm");
}

#[tokio::test]
async fn post_sends_a_form_and_waits_for_the_task() {
    const UPID: &str = "UPID:pve1:003CDE3D:025BF6DA:665F0761:qmclone:9000:root@pam!lab:";
    let server = start(Arc::new(|req: &Seen, n| match (req.method.as_str(), n) {
        ("POST", _) => reply("200 OK", &format!(r#"{{"data":"{UPID}"}}"#)),
        // The task file is not there yet.
        (_, 1) => reply("400 no such task", r#"{"data":null}"#),
        // pveproxy hiccup.
        (_, 2) => reply("596 Connection timed out", ""),
        (_, 3) => reply("200 OK", r#"{"data":{"status":"running","type":"qmclone","id":"9000"}}"#),
        _ => reply(
            "200 OK",
            r#"{"data":{"status":"stopped","exitstatus":"WARNINGS: 2","type":"qmclone","id":9000}}"#,
        ),
    }))
    .await;
    let client = Client::new(config(&server).with_fingerprint(&server.fingerprint)).unwrap();
    let keys = vec!["ssh-ed25519 AAAAC3Nza alice@laptop".to_string()];
    let form = Form::new()
        .int("newid", 101)
        .str("name", "web 1")
        .bool("full", true)
        .sshkeys("sshkeys", &keys)
        .secret("cipassword", &Secret::new("pw&=1"));
    let clone_path = path(&["nodes", "pve1", "qemu", "9000", "clone"]);
    let out = client
        .post_task(&clone_path, &form, &OpContext::detached())
        .await
        .unwrap();
    assert_eq!(out.warnings, 2);
    assert_eq!(out.upid.as_deref(), Some(UPID));
    let seen = server.requests();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0].target, "/api2/json/nodes/pve1/qemu/9000/clone");
    assert!(seen[0]
        .head
        .to_ascii_lowercase()
        .contains("content-type: application/x-www-form-urlencoded\r\n"));
    assert_eq!(
        seen[0].body,
        "newid=101&name=web+1&full=1&sshkeys=ssh-ed25519%2520AAAAC3Nza%2520alice%2540laptop&cipassword=pw%26%3D1"
    );
    let status_target = "/api2/json/nodes/pve1/tasks/UPID%3Apve1%3A003CDE3D%3A025BF6DA%3A665F0761%3Aqmclone%3A9000%3Aroot%40pam%21lab%3A/status";
    for s in &seen[1..] {
        assert_eq!(s.method, "GET");
        assert_eq!(s.target, status_target);
    }
}

#[tokio::test]
async fn failed_task_and_synchronous_answers() {
    const UPID: &str = "UPID:pve1:00000001:00000002:665F0761:qmstart:101:root@pam:";
    let server = start(Arc::new(|req: &Seen, _| {
        if req.method == "POST" && req.target.ends_with("/start") {
            reply("200 OK", &format!(r#"{{"data":"{UPID}"}}"#))
        } else if req.method == "POST" {
            reply("200 OK", r#"{"data":null}"#)
        } else if req.target.ends_with("/log?start=0&limit=50") {
            reply("200 OK", r#"{"data":[{"n":1,"t":"starting"},{"n":"2","t":"TASK ERROR: VM 101 already running"}]}"#)
        } else {
            reply(
                "200 OK",
                r#"{"data":{"status":"stopped","exitstatus":"VM 101 already running"}}"#,
            )
        }
    }))
    .await;
    let client = Client::new(config(&server).with_fingerprint(&server.fingerprint)).unwrap();
    let ctx = OpContext::detached();
    let err = client
        .post_task("/nodes/pve1/qemu/101/status/start", &Form::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Task);
    assert_eq!(err.message, "qmstart task failed: VM 101 already running");
    let out = client
        .post_task(
            "/nodes/pve1/qemu/101/config",
            &Form::new().int("cores", 2),
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(out, TaskOutcome::default());
    let log = client.task_log(UPID).await.unwrap();
    assert_eq!(log, vec!["starting", "TASK ERROR: VM 101 already running"]);
}

#[tokio::test]
async fn task_timeout() {
    const UPID: &str = "UPID:pve1:00000001:00000002:665F0761:qmclone:101:root@pam:";
    let server = start(Arc::new(|_, _| {
        reply("200 OK", r#"{"data":{"status":"running"}}"#)
    }))
    .await;
    let client = Client::new(
        config(&server)
            .with_fingerprint(&server.fingerprint)
            .with_task_timeout(Duration::from_millis(150)),
    )
    .unwrap();
    let err = client
        .wait_task(UPID, &OpContext::detached())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(!err.is_transient());
    assert!(err.message.contains("qmclone task"), "{}", err.message);
}

#[tokio::test]
async fn connection_refused_is_transient() {
    // Bind then drop to get a port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::new(ClientConfig::new(
        format!("127.0.0.1:{port}/"),
        TOKEN_ID,
        Secret::new(SECRET),
    ))
    .unwrap();
    assert_eq!(client.endpoint(), format!("https://127.0.0.1:{port}"));
    let err = client.version().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    assert!(err.message.contains("cannot connect"), "{}", err.message);
    assert!(!err.message.contains(SECRET));
}

#[test]
fn config_validation() {
    let ok = |e: &str| ClientConfig::new(e, TOKEN_ID, Secret::new(SECRET));
    assert!(Client::new(ok("https://pve1:8006/api2/json/")).is_ok());
    assert_eq!(
        Client::new(ok("https://pve1:8006/api2/json/"))
            .unwrap()
            .endpoint(),
        "https://pve1:8006"
    );
    assert_eq!(
        Client::new(ok("http://pve1:8006")).unwrap_err().kind,
        ErrorKind::BadParam
    );
    assert_eq!(
        Client::new(ClientConfig::new(
            "https://pve1:8006",
            "root@pam",
            Secret::new("x")
        ))
        .unwrap_err()
        .kind,
        ErrorKind::BadParam
    );
    let e = Client::new(ok("https://pve1:8006").with_fingerprint("AA:BB")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParam);
    let e = Client::new(ClientConfig::new(
        "https://pve1:8006",
        TOKEN_ID,
        Secret::new("bad\nsecret"),
    ))
    .unwrap_err();
    assert!(!e.message.contains("bad\nsecret"));
    let dbg = format!("{:?}", ok("https://pve1:8006"));
    assert!(!dbg.contains(SECRET) && dbg.contains(TOKEN_ID), "{dbg}");
}

#[tokio::test]
async fn volume_delete_waits_for_its_task_and_accepts_null() {
    // PVE 6+ forks `imgdel` and answers its UPID (pve-storage
    // `API2/Storage/Content.pm` `delete`); PVE 5 answered `null`.
    const UPID: &str = "UPID:pve1:00000001:00000002:665F0761:imgdel:101@local-lvm:root@pam:";
    let server = start(Arc::new(|req: &Seen, _| {
        if req.method == "DELETE" && req.target.contains("vm-101-disk-0") {
            reply("200 OK", &format!(r#"{{"data":"{UPID}"}}"#))
        } else if req.method == "DELETE" {
            reply("200 OK", r#"{"data":null}"#)
        } else {
            reply(
                "200 OK",
                r#"{"data":{"status":"stopped","exitstatus":"OK","type":"imgdel"}}"#,
            )
        }
    }))
    .await;
    let client = Client::new(config(&server).with_fingerprint(&server.fingerprint)).unwrap();
    let ctx = OpContext::detached();
    let task = path(&[
        "nodes",
        "pve1",
        "storage",
        "local-lvm",
        "content",
        "local-lvm:vm-101-disk-0",
    ]);
    let out = client.delete_task(&task, &[], &ctx).await.unwrap();
    assert_eq!(out.upid.as_deref(), Some(UPID));
    let old = path(&[
        "nodes",
        "pve1",
        "storage",
        "local",
        "content",
        "local:iso/x.iso",
    ]);
    let out = client.delete_task(&old, &[], &ctx).await.unwrap();
    assert_eq!(out, TaskOutcome::default());
    let seen = server.requests();
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["DELETE", "GET", "DELETE"], "{seen:#?}");
    assert!(seen[1]
        .target
        .ends_with("imgdel%3A101%40local-lvm%3Aroot%40pam%3A/status"));
}
