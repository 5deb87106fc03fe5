//! What the provider tests share: two simulated servers (a primary and an
//! off-site one) kept in state files, the lab that uses both, and apply
//! options with quick retries.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use lab_core::prelude::*;
use lab_core::{ApplyOptions, FileStateStore, RetryPolicy};
use lab_pbs::connect::PbsConnection;
use lab_pbs::model::*;
use lab_pbs::sim::PbsSimConfig;

/// A two-worker runtime, as on the CI's two cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Apply options with quick retries.
pub fn opts() -> ApplyOptions {
    ApplyOptions {
        parallelism: 8,
        retry: RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        },
    }
}

/// The two servers, simulated, kept under `dir` (a second call on the
/// same `dir` is the next "process").
pub struct Servers {
    pub primary: PbsConnection,
    pub offsite: PbsConnection,
}

impl Servers {
    pub fn start(dir: &Path) -> Servers {
        Servers::start_with(dir, PbsSimConfig::fast())
    }

    pub fn start_with(dir: &Path, primary: PbsSimConfig) -> Servers {
        Servers {
            primary: PbsConnection::simulated_with(
                "primary",
                primary,
                dir.join("sim/pbs-primary.json"),
            )
            .unwrap(),
            offsite: PbsConnection::simulated_with(
                "offsite",
                PbsSimConfig::fast(),
                dir.join("sim/pbs-offsite.json"),
            )
            .unwrap(),
        }
    }

    /// Every request both simulators refused as not fitting the apidoc.
    pub fn assert_schema_clean(&self) {
        for conn in [&self.primary, &self.offsite] {
            let v = conn.simulator().unwrap().schema_violations();
            assert!(v.is_empty(), "{}: {v:#?}", conn.name());
        }
    }
}

/// What the code says, where the tests vary it.
#[derive(Clone)]
pub struct Shape {
    pub daily_comment: Option<&'static str>,
    pub gc_schedule: Option<&'static str>,
    /// Whether the code has the namespace `site/pve`.
    pub pve_namespace: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            daily_comment: Some("daily backups"),
            gc_schedule: Some("daily"),
            pve_namespace: true,
        }
    }
}

/// A primary with a datastore, a namespace tree, a sync user with a token
/// and a read ACL, prune and verify jobs; an off-site server with an
/// archive datastore, a remote pointing at the primary with the token, a
/// sync job pulling the primary's datastore, and a verify job.
pub fn lab(servers: &Servers, shape: &Shape) -> Lab {
    let mut lab = Lab::new("home");
    let p = lab.register_provider_as("primary", servers.primary.provider());
    let o = lab.register_provider_as("offsite", servers.offsite.provider());
    let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
    let remote_box = lab.add(Appliance::new("remote-box").kind(ApplianceKind::Offsite));
    let primary = lab.add(PbsServer::instance(&p, "10.0.0.20").on(&pbs_box));
    let offsite = lab.add(PbsServer::instance(&o, "pbs.example.net").on(&remote_box));
    let mut daily = Datastore::new(&primary, "daily", "/mnt/daily")
        .on(&pbs_box)
        .retention(Retention::default().last(3).daily(7));
    if let Some(c) = shape.daily_comment {
        daily = daily.comment(c);
    }
    if let Some(s) = shape.gc_schedule {
        daily = daily.gc_schedule(s);
    }
    let daily = lab.add(daily);
    let archive = lab.add(Datastore::new(&offsite, "archive", "/mnt/archive").on(&remote_box));
    let site = lab.add(Namespace::new(&daily, "site"));
    if shape.pve_namespace {
        lab.add(Namespace::new(&daily, "site/pve"));
    }
    let sync_user = lab.add(User::new(&primary, "sync@pbs").comment("pulls for the off-site copy"));
    let token = lab.add(Token::new(&sync_user, "offsite"));
    // PBS gives a token the privileges both it and its user have.
    lab.add(Acl::new(&sync_user, Role::DatastoreReader, &daily));
    lab.add(Acl::new(&token, Role::DatastoreReader, &daily));
    let remote = lab.add(Remote::new(&offsite, "primary", &primary, &token));
    lab.add(
        SyncJob::new(&archive, "archive-copy", &daily)
            .remote(&remote)
            .schedule("sat 03:00"),
    );
    lab.add(
        PruneJob::new(&daily, "keep", "daily")
            .ns(&site)
            .retention(Retention::default().last(3).daily(14)),
    );
    lab.add(VerifyJob::new(&archive, "verify-archive").schedule("sun 05:00"));
    lab
}

pub fn engine(servers: &Servers, dir: &Path, shape: &Shape) -> Engine {
    Engine::new(lab(servers, shape), FileStateStore::new(dir.join(".lab")))
}

pub fn addr(kind: &str, name: &str) -> lab_core::Address {
    lab_core::Address::new(kind, name)
}

/// Writes one VM snapshot into `store`/`ns` through the simulator's
/// `/sim/backup` (what PVE's vzdump does through the backup protocol),
/// as the root token.
pub async fn write_backup(conn: &PbsConnection, store: &str, ns: &str, vmid: &str) {
    let sim = conn.simulator().unwrap();
    let pin = lab_proxmox::api::tls::parse_fingerprint(sim.fingerprint());
    let tls = lab_proxmox::api::tls::client_config(pin).unwrap();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let body = serde_json::json!({
        "store": store,
        "ns": ns,
        "backup-type": "vm",
        "backup-id": vmid,
        "backup-time": 1_796_000_000,
        "files": [{"filename": "drive-scsi0.img.fidx", "size": 1u64 << 30}],
        "guest-config": format!("name: guest{vmid}\n"),
    });
    let r = http
        .post(format!("{}/sim/backup", sim.endpoint()))
        .header(
            "Authorization",
            lab_pbs::api::token_header(sim.token_id(), sim.token_secret().expose()),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
}
