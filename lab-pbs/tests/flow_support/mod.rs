//! The backup flow both simulators share in tests: a PBS simulator with a
//! datastore and a token holding DatastoreBackup on it (set up through
//! `PbsClient`), and a pve-sim lab (two nodes, a VM and a CT, a
//! `Storage::pbs` with the PBS's loopback endpoint, fingerprint and token,
//! a `BackupJob` selecting both) applied through the engine.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{ApplyOptions, FileStateStore, OpContext, RetryPolicy};
use lab_pbs::api::{Form, PbsClient};
use lab_pbs::sim::{PbsSim, PbsSimConfig};
use lab_proxmox::model::*;
use lab_proxmox::sim::SimConfig;
use lab_proxmox::{Connection, ProxmoxOptions};

/// The token PVE writes backups with.
pub const PVE_USER: &str = "backup@pbs";
/// Its name.
pub const PVE_TOKEN_NAME: &str = "pve";
/// Its id.
pub const PVE_TOKEN: &str = "backup@pbs!pve";
/// The datastore the backup job writes.
pub const DAILY: &str = "daily";
/// The PVE storage reading it.
pub const PBS_STORAGE: &str = "pbs-daily";
/// The VM's and the CT's VMIDs.
pub const WEB: u32 = 101;
pub const DB: u32 = 102;
/// A VM no backup job selects.
pub const SPARE: u32 = 103;

pub fn ctx() -> OpContext {
    OpContext::detached()
}

/// A PBS simulator (node `node`) with datastore `store`.
pub async fn pbs(node: &str, store: &str) -> (PbsSim, PbsClient) {
    let sim = PbsSim::start(PbsSimConfig::fast().with_node(node))
        .await
        .expect("pbs-sim");
    let api = sim.client();
    api.create_datastore(
        store,
        &format!("/mnt/datastore/{store}"),
        Form::new(),
        &ctx(),
    )
    .await
    .expect("datastore");
    (sim, api)
}

/// A user with a token, both holding `role` on `acl_path`; the token's
/// secret.
pub async fn token(api: &PbsClient, user: &str, name: &str, acl_path: &str, role: &str) -> Secret {
    if api.users().await.unwrap().iter().all(|u| u.userid != user) {
        api.create_user(user, None).await.expect("user");
    }
    let t = api.create_token(user, name, None).await.expect("token");
    api.put_acl(acl_path, role, user, true, false)
        .await
        .expect("user acl");
    api.put_acl(acl_path, role, &t.tokenid, true, false)
        .await
        .expect("token acl");
    t.value
}

/// The lab: nodes pve1 and pve2, VM `web` (101) and CT `db` (102) on
/// pve1, VM `spare` (103, in no job), the PBS storage, job `nightly`.
pub fn lab(conn: &Connection, pbs: &PbsSim, secret: &Secret) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1)
            .node(&pve2),
    );
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Iso, Content::Vztmpl, Content::Backup])
            .node(&pve1)
            .node(&pve2),
    );
    let ct_template = lab.add(File::download(
        "debian-13-ct",
        &pve1,
        &local,
        Content::Vztmpl,
        "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst",
    ));
    let web = lab.add(
        Vm::new("web", &pve1)
            .vmid(WEB)
            .memory_mb(2048)
            .disk("scsi0", &lvm, "8G")
            .nic("net0", "vmbr0"),
    );
    let db = lab.add(
        Container::new("db", &pve1)
            .vmid(DB)
            .ostemplate(&ct_template)
            .rootfs(&lvm, "4G")
            .nic("net0", "vmbr0")
            .ip("dhcp"),
    );
    lab.add(
        Vm::new("spare", &pve1)
            .vmid(SPARE)
            .disk("scsi0", &lvm, "2G"),
    );
    let store = lab.add(
        Storage::pbs(PBS_STORAGE, "127.0.0.1", DAILY)
            .port(pbs.addr().port())
            .token(PVE_TOKEN, secret.clone())
            .fingerprint(pbs.fingerprint()),
    );
    lab.add(
        BackupJob::new("nightly", &store, "*-*-* 02:30")
            .guest(&web)
            .guest(&db),
    );
    lab
}

/// Apply options with quick retries.
pub fn opts() -> ApplyOptions {
    ApplyOptions {
        parallelism: 10,
        retry: RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        },
    }
}

/// A two-node pve-sim keeping its world in `dir`.
pub fn pve(dir: &Path) -> Connection {
    Connection::simulated(
        SimConfig::for_tests().with_nodes(&["pve1", "pve2"]),
        dir.join("pve.json"),
    )
    .expect("pve-sim")
}

/// Everything a flow test holds.
pub struct Flow {
    pub pbs: PbsSim,
    pub pbs_api: PbsClient,
    pub pve_secret: Secret,
    pub conn: Connection,
    pub engine: Engine,
    pub dir: tempfile::TempDir,
}

impl Flow {
    /// The PBS with its token, the PVE lab applied.
    pub async fn start() -> Flow {
        let (pbs, pbs_api) = pbs("pbs-main", DAILY).await;
        let pve_secret = token(
            &pbs_api,
            PVE_USER,
            PVE_TOKEN_NAME,
            &format!("/datastore/{DAILY}"),
            "DatastoreBackup",
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let conn = pve(dir.path());
        let engine = Engine::new(
            lab(&conn, &pbs, &pve_secret),
            FileStateStore::new(dir.path().join(".lab")),
        );
        let plan = engine.plan(&PlanOptions::default()).await.expect("plan");
        let report = engine.apply(&plan, &opts()).await.expect("apply");
        assert!(report.is_success(), "{:?}", report.failed);
        Flow {
            pbs,
            pbs_api,
            pve_secret,
            conn,
            engine,
            dir,
        }
    }

    /// The simulator behind the PVE connection.
    pub fn pve_sim(&self) -> &lab_proxmox::sim::SimHandle {
        self.conn.simulator().expect("simulated")
    }

    /// Runs backup job `nightly` now and waits for its workers; their
    /// exit statuses.
    pub async fn run_backup(&self) -> Vec<String> {
        let sim = self.pve_sim();
        let upids = sim.run_backup_job("nightly").await.expect("run now");
        assert!(!upids.is_empty(), "the job started no vzdump");
        let mut out = Vec::new();
        for upid in upids {
            let status = sim
                .wait_task(&upid, Duration::from_secs(30))
                .await
                .expect("vzdump ended");
            out.push(status);
        }
        out
    }

    /// The original guest as the simulator holds it: (config, running).
    pub fn guest(&self, vmid: u32) -> (std::collections::BTreeMap<String, String>, bool) {
        let w = self.pve_sim().world();
        let g = &w.guests[&vmid];
        (g.config.clone(), g.running())
    }

    /// Every VMID of the cluster.
    pub fn vmids(&self) -> Vec<u32> {
        self.pve_sim().world().guests.keys().copied().collect()
    }
}
