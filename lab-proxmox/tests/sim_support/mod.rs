//! The raw-protocol client the simulator's tests share: reqwest with a
//! rustls configuration that trusts exactly the simulator's certificate,
//! answers with their reason phrases, task waiting, and a few fixtures.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use lab_proxmox::sim::{SimConfig, SimHandle, Simulator};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::Value;

/// Trusts exactly one certificate (by DER), like fingerprint pinning.
#[derive(Debug)]
struct Pinned {
    der: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "certificate is not the pinned one".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub reason: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn data(&self) -> Value {
        assert_eq!(
            self.status, 200,
            "{} {}: {}",
            self.status, self.reason, self.body
        );
        self.json()["data"].clone()
    }

    pub fn upid(&self) -> String {
        self.data()
            .as_str()
            .unwrap_or_else(|| panic!("not a UPID: {}", self.body))
            .to_string()
    }
}

pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub fn new(sim: &SimHandle) -> Api {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                der: sim.certificate_der().to_vec(),
                provider,
            }))
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .build()
            .unwrap();
        Api {
            client,
            base: format!("{}/api2/json", sim.url()),
            token: sim.api_token(),
        }
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        auth: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut url = format!("{}{path}", self.base);
        let in_query = method == reqwest::Method::GET || method == reqwest::Method::DELETE;
        if in_query && !params.is_empty() {
            url.push('?');
            url.push_str(&serde_urlencoded::to_string(params).unwrap());
        }
        let mut req = self.client.request(method.clone(), &url);
        if !in_query {
            req = req.form(params);
        }
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .unwrap_or_else(|| {
                resp.status()
                    .canonical_reason()
                    .unwrap_or_default()
                    .to_string()
            });
        let body = resp.text().await.unwrap();
        Answer {
            status,
            reason,
            body,
        }
    }

    pub async fn call(&self, method: &str, path: &str, params: &[(&str, &str)]) -> Answer {
        self.raw(method, path, params, Some(&self.token.clone()))
            .await
    }

    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("GET", path, params).await
    }

    pub async fn post(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("POST", path, params).await
    }

    pub async fn put(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("PUT", path, params).await
    }

    pub async fn delete(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("DELETE", path, params).await
    }

    /// Polls a task until it stops; returns the status object.
    pub async fn wait(&self, upid: &str) -> Value {
        let node = upid.split(':').nth(1).unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let a = self
                .get(&format!("/nodes/{node}/tasks/{upid}/status"), &[])
                .await;
            if a.status == 200 {
                let status = a.data();
                if status["status"] == "stopped" {
                    return status;
                }
            }
            assert!(Instant::now() < deadline, "task {upid} did not finish");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Runs a task-returning call and asserts it ends `OK`.
    pub async fn ok(&self, method: &str, path: &str, params: &[(&str, &str)]) -> Value {
        let upid = self.call(method, path, params).await.upid();
        let status = self.wait(&upid).await;
        assert_eq!(status["exitstatus"], "OK", "{method} {path}: {status}");
        status
    }
}

pub async fn sim(config: SimConfig) -> (SimHandle, Api) {
    let sim = Simulator::start(config).await.unwrap();
    let api = Api::new(&sim);
    (sim, api)
}

/// Downloads a cloud image and creates VM `vmid` from it with cloud-init.
pub async fn create_vm(api: &Api, vmid: &str, extra: &[(&str, &str)]) {
    let mut params = vec![
        ("vmid", vmid),
        ("name", "web"),
        ("cores", "2"),
        ("memory", "2048"),
        ("net0", "virtio,bridge=vmbr0,tag=20,firewall=1"),
        ("scsi0", "local-lvm:8,ssd=1,discard=on"),
        ("ide2", "local-lvm:cloudinit"),
        ("tags", "web,lab"),
    ];
    params.extend_from_slice(extra);
    api.ok("POST", "/nodes/pve1/qemu", &params).await;
}

/// Builds template 9000 from a downloaded cloud image.
pub async fn make_template(api: &Api) {
    api.ok(
        "POST",
        "/nodes/pve1/storage/local/download-url",
        &[
            ("content", "import"),
            ("filename", "debian-12-genericcloud-amd64.qcow2"),
            ("url", "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"),
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
            ("net0", "virtio,bridge=vmbr0"),
        ],
    )
    .await;
    api.ok("POST", "/nodes/pve1/qemu/9000/template", &[]).await;
}
