//! `plan` on a fresh lab checks the connection and the credentials with
//! one `GET /version`, instead of reporting changes it could never apply.

#![cfg(feature = "sim")]

#[allow(dead_code)] // this test needs only part of it
mod common;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{EngineError, MemoryStateStore, Secret};
use lab_proxmox::api::ClientConfig;
use lab_proxmox::model::*;
use lab_proxmox::sim::Simulator;
use lab_proxmox::{Connection, ProxmoxOptions};

use common::{runtime, sim_config};

fn lab(conn: &Connection) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images])
            .node(&pve1),
    );
    lab.add(
        Vm::new("web", &pve1)
            .disk("scsi0", &lvm, "8G")
            .nic("net0", "vmbr0"),
    );
    lab
}

#[test]
fn a_fresh_plan_with_a_wrong_token_is_an_auth_error_after_one_request() {
    let rt = runtime();
    rt.block_on(async {
        let sim = Simulator::start(sim_config()).await.unwrap();
        let wrong = Connection::live(
            ClientConfig::new(sim.url(), sim.token_id(), Secret::new("not-the-secret"))
                .with_fingerprint(sim.fingerprint()),
        )
        .unwrap();
        sim.reset_requests();
        let err = Engine::new(lab(&wrong), MemoryStateStore::new())
            .plan(&PlanOptions::default())
            .await
            .expect_err("a wrong token fails the plan");
        match &err {
            EngineError::Refresh { error, .. } => assert!(error.is_auth(), "{err}"),
            other => panic!("not a refresh error: {other}"),
        }
        let requests = sim.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        assert_eq!(requests[0].path, "/version");

        let right = Connection::live(
            ClientConfig::new(sim.url(), sim.token_id(), Secret::new(sim.token_secret()))
                .with_fingerprint(sim.fingerprint()),
        )
        .unwrap();
        let plan = Engine::new(lab(&right), MemoryStateStore::new())
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        assert!(plan.has_changes());
        sim.shutdown();
    });
}
