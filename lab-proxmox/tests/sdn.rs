//! SDN zones and VNets through the provider and the client against
//! pve-sim: create and apply (live, not pending), a second plan with no
//! changes, drift when a VNet is changed through the API by hand (applied
//! or left pending), adoption of a matching object, delete, PVE's refusals,
//! and the checks at the user's line (offline and against the nodes'
//! bridges). Every request is validated against the PVE apidoc.

#![cfg(feature = "sim")]

mod common;

use std::path::Path;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::{Action, EngineError, FileStateStore};
use lab_proxmox::api::{ErrorKind, Form};
use lab_proxmox::checks::{
    SDN_BRIDGE_MISSING, SDN_BRIDGE_NOT_VLAN_AWARE, SDN_ID, SDN_TAG_RANGE, SDN_TAG_REUSED,
    UNKNOWN_BRIDGE,
};
use lab_proxmox::model::*;
use lab_proxmox::{Connection, ProxmoxOptions};
use serde_json::Value as Json;

use common::{opts, runtime, sim_config};

fn connect(dir: &Path) -> Connection {
    Connection::simulated(sim_config(), dir.join("pve.json")).expect("simulator starts")
}

/// What the code says: a VLAN zone on `vmbr0` with two VNets.
struct Shape {
    dmz_tag: u16,
    with_iot: bool,
    with_sdn: bool,
}

const GOOD: Shape = Shape {
    dmz_tag: 40,
    with_iot: true,
    with_sdn: true,
};

fn lab(conn: &Connection, shape: &Shape) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let pve2 = lab.add(Node::new("pve2").bridge("vmbr0"));
    if shape.with_sdn {
        let zone = lab.add(
            SdnZone::vlan("lab", "vmbr0")
                .mtu(1500)
                .node(&pve1)
                .node(&pve2),
        );
        lab.add(
            Vnet::new("dmz", &zone, shape.dmz_tag)
                .alias("DMZ")
                .subnet("10.0.40.0/24", Some("10.0.40.1")),
        );
        if shape.with_iot {
            lab.add(Vnet::new("iot", &zone, 60).isolate_ports(true));
        }
    }
    lab
}

fn engine(conn: &Connection, dir: &Path, shape: &Shape) -> Engine {
    Engine::new(lab(conn, shape), FileStateStore::new(dir.join(".lab")))
}

fn apply(e: &Engine) -> lab_core::Plan {
    runtime().block_on(async {
        let plan = e.plan(&PlanOptions::default()).await.expect("plan");
        let report = e.apply(&plan, &opts()).await.expect("apply");
        assert!(report.is_success(), "{report:#?}");
        plan
    })
}

fn plan(e: &Engine) -> lab_core::Plan {
    runtime()
        .block_on(e.plan(&PlanOptions::default()))
        .expect("plan")
}

fn step<'a>(plan: &'a lab_core::Plan, address: &str) -> &'a lab_core::PlanStep {
    plan.steps
        .iter()
        .find(|s| s.address.to_string() == address)
        .unwrap_or_else(|| panic!("no step for {address}: {:#?}", plan.steps))
}

fn get(conn: &Connection, path: &str, query: &[(&str, String)]) -> Json {
    runtime()
        .block_on(conn.client().get::<Json>(path, query))
        .expect(path)
}

fn no_violations(conn: &Connection) {
    let v = conn.simulator().unwrap().schema_violations();
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn zone_and_vnets_apply_live_then_plan_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let e = engine(&conn, dir.path(), &GOOD);
    let first = apply(&e);
    for a in [
        "proxmox.sdn_zone.lab",
        "proxmox.sdn_vnet.dmz",
        "proxmox.sdn_vnet.iot",
    ] {
        assert_eq!(step(&first, a).action, Action::Create);
    }
    assert!(step(&first, "proxmox.sdn_zone.lab")
        .notes
        .iter()
        .any(|n| n.contains("PUT /cluster/sdn")));

    // Live, not pending: the running config holds it all.
    let world = conn.simulator().unwrap().world();
    assert!(!world.sdn.has_pending_changes(), "{:#?}", world.sdn);
    let running = world.sdn.running.as_ref().expect("applied");
    assert_eq!(running.zones["lab"]["bridge"], "vmbr0");
    assert_eq!(running.zones["lab"]["nodes"], "pve1,pve2");
    assert_eq!(running.zones["lab"]["mtu"], "1500");
    assert_eq!(running.vnets["dmz"]["tag"], "40");
    assert_eq!(running.vnets["dmz"]["alias"], "DMZ");
    assert_eq!(running.vnets["iot"]["isolate-ports"], "1");
    assert_eq!(running.subnets["lab-10.0.40.0-24"]["gateway"], "10.0.40.1");
    // Each write was applied and its task waited for.
    let applies = conn
        .simulator()
        .unwrap()
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path == "/cluster/sdn")
        .count();
    assert_eq!(applies, 3);
    let tasks: Vec<_> = world
        .tasks
        .iter()
        .filter(|t| t.upid.contains(":reloadnetworkall:"))
        .collect();
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t.exitstatus.as_deref() == Some("OK")));
    no_violations(&conn);

    // The node lists the running VNets among its bridges.
    let bridges = get(
        &conn,
        "/nodes/pve1/network",
        &[("type", "any_bridge".into())],
    );
    let dmz = bridges
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["iface"] == "dmz")
        .expect("dmz listed");
    assert_eq!(dmz["type"], "vnet");
    assert_eq!(dmz["comments"], "DMZ");

    let again = plan(&engine(&conn, dir.path(), &GOOD));
    assert!(!again.has_changes(), "{:#?}", again.steps);
}

#[test]
fn writes_stay_pending_until_the_cluster_applies_them() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let client = conn.client();
    runtime().block_on(async {
        let form = Form::new()
            .str("zone", "hand")
            .str("type", "vlan")
            .str("bridge", "vmbr0");
        client.post("/cluster/sdn/zones", &form).await.unwrap();
    });
    let pending = get(&conn, "/cluster/sdn/zones", &[("pending", "1".into())]);
    assert_eq!(pending[0]["zone"], "hand");
    assert_eq!(pending[0]["state"], "new");
    assert_eq!(pending[0]["pending"]["bridge"], "vmbr0");
    let running = get(&conn, "/cluster/sdn/zones", &[("running", "1".into())]);
    assert_eq!(running, serde_json::json!([]));
    let upid = runtime()
        .block_on(client.put("/cluster/sdn", &Form::new()))
        .unwrap();
    assert!(
        upid.as_str().unwrap().contains(":reloadnetworkall:"),
        "{upid}"
    );
    let pending = get(&conn, "/cluster/sdn/zones", &[("pending", "1".into())]);
    assert!(pending[0].get("state").is_none(), "{pending}");
    assert_eq!(pending[0]["bridge"], "vmbr0");
    // A change is pending again, with the running value beside it.
    runtime().block_on(async {
        let form = Form::new().int("mtu", 9000);
        client.put("/cluster/sdn/zones/hand", &form).await.unwrap();
    });
    let z = get(&conn, "/cluster/sdn/zones/hand", &[("pending", "1".into())]);
    assert_eq!(z["state"], "changed");
    assert_eq!(z["pending"]["mtu"], 9000);
    assert!(z.get("mtu").is_none());
    no_violations(&conn);
}

#[test]
fn a_vnet_changed_by_hand_is_drift_applied_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    apply(&engine(&conn, dir.path(), &GOOD));
    let client = conn.client();
    // Left pending: what the next apply would make live is the drift.
    runtime().block_on(async {
        let form = Form::new().int("tag", 41).str("delete", "alias");
        client.put("/cluster/sdn/vnets/dmz", &form).await.unwrap();
    });
    let e = engine(&conn, dir.path(), &GOOD);
    let p = plan(&e);
    let dmz = step(&p, "proxmox.sdn_vnet.dmz");
    assert_eq!(dmz.action, Action::Update, "{dmz:#?}");
    let tag = dmz.changes.iter().find(|c| c.field == "tag").unwrap();
    assert_eq!(tag.before, Some(Value::Int(41)));
    assert_eq!(tag.after, Some(Value::Int(40)));
    assert!(dmz.changes.iter().any(|c| c.field == "alias"));
    assert_eq!(p.steps.len(), 1, "{:#?}", p.steps);
    apply(&e);
    let world = conn.simulator().unwrap().world();
    assert_eq!(
        world.sdn.running.as_ref().unwrap().vnets["dmz"]["tag"],
        "40"
    );
    assert!(!world.sdn.has_pending_changes());

    // Changed and applied by hand: drift all the same.
    runtime().block_on(async {
        let form = Form::new().str("gateway", "10.0.40.254");
        client
            .put("/cluster/sdn/vnets/dmz/subnets/lab-10.0.40.0-24", &form)
            .await
            .unwrap();
        client.put("/cluster/sdn", &Form::new()).await.unwrap();
    });
    let p = plan(&e);
    let dmz = step(&p, "proxmox.sdn_vnet.dmz");
    assert_eq!(dmz.action, Action::Update);
    assert_eq!(dmz.changes.len(), 1, "{:#?}", dmz.changes);
    assert_eq!(dmz.changes[0].field, "subnets");
    apply(&e);
    let world = conn.simulator().unwrap().world();
    assert_eq!(
        world.sdn.running.as_ref().unwrap().subnets["lab-10.0.40.0-24"]["gateway"],
        "10.0.40.1"
    );
    assert!(!plan(&e).has_changes());
    no_violations(&conn);
}

#[test]
fn a_recorded_change_left_unapplied_is_applied_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    apply(&engine(&conn, dir.path(), &GOOD));
    // The code moves dmz to tag 45; the write lands but the run dies
    // before the apply: state and config agree, the cluster runs 40.
    let moved = Shape {
        dmz_tag: 45,
        ..GOOD
    };
    let e = engine(&conn, dir.path(), &moved);
    apply(&e);
    runtime().block_on(async {
        let form = Form::new().int("tag", 40);
        conn.client()
            .put("/cluster/sdn/vnets/dmz", &form)
            .await
            .unwrap();
        conn.client()
            .put("/cluster/sdn", &Form::new())
            .await
            .unwrap();
        let form = Form::new().int("tag", 45);
        conn.client()
            .put("/cluster/sdn/vnets/dmz", &form)
            .await
            .unwrap();
    });
    assert!(conn.simulator().unwrap().world().sdn.has_pending_changes());
    let p = plan(&e);
    let dmz = step(&p, "proxmox.sdn_vnet.dmz");
    assert_eq!(dmz.action, Action::Update, "reads as what runs");
    assert_eq!(dmz.changes[0].before, Some(Value::Int(40)));
    apply(&e);
    let world = conn.simulator().unwrap().world();
    assert!(!world.sdn.has_pending_changes());
    assert_eq!(
        world.sdn.running.as_ref().unwrap().vnets["dmz"]["tag"],
        "45"
    );
}

#[test]
fn a_matching_zone_made_by_hand_is_adopted_a_different_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    runtime().block_on(async {
        let form = Form::new()
            .str("zone", "lab")
            .str("type", "vlan")
            .str("bridge", "vmbr0")
            .int("mtu", 1500)
            .str("nodes", "pve2,pve1");
        conn.client()
            .post("/cluster/sdn/zones", &form)
            .await
            .unwrap();
    });
    apply(&engine(&conn, dir.path(), &GOOD));
    assert_eq!(conn.simulator().unwrap().world().sdn.zones.len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    runtime().block_on(async {
        let form = Form::new()
            .str("zone", "lab")
            .str("type", "vlan")
            .str("bridge", "vmbr1");
        conn.client()
            .post("/cluster/sdn/zones", &form)
            .await
            .unwrap();
    });
    let e = engine(&conn, dir.path(), &GOOD);
    let report = runtime().block_on(async {
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        e.apply(&plan, &opts()).await.unwrap()
    });
    assert!(!report.is_success());
    let error = &report.failed[0].error;
    assert!(
        error.contains("already exists in the cluster and differs") && error.contains("vmbr1"),
        "{error}"
    );
}

#[test]
fn removing_the_code_deletes_vnets_then_the_zone() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    apply(&engine(&conn, dir.path(), &GOOD));
    let fewer = Shape {
        with_iot: false,
        ..GOOD
    };
    let p = apply(&engine(&conn, dir.path(), &fewer));
    assert_eq!(step(&p, "proxmox.sdn_vnet.iot").action, Action::Delete);
    let world = conn.simulator().unwrap().world();
    assert!(!world
        .sdn
        .running
        .as_ref()
        .unwrap()
        .vnets
        .contains_key("iot"));

    let none = Shape {
        with_sdn: false,
        ..GOOD
    };
    apply(&engine(&conn, dir.path(), &none));
    let world = conn.simulator().unwrap().world();
    assert!(world.sdn.zones.is_empty() && world.sdn.vnets.is_empty());
    assert!(world.sdn.subnets.is_empty());
    let running = world.sdn.running.as_ref().unwrap();
    assert!(running.zones.is_empty() && running.vnets.is_empty() && running.subnets.is_empty());
    no_violations(&conn);
}

#[test]
fn pve_refuses_what_pve_network_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let client = conn.client();
    runtime().block_on(async {
        let zone = Form::new()
            .str("zone", "lab")
            .str("type", "vlan")
            .str("bridge", "vmbr0");
        client.post("/cluster/sdn/zones", &zone).await.unwrap();
        let again = client.post("/cluster/sdn/zones", &zone).await.unwrap_err();
        assert_eq!(
            again.message,
            "create sdn zone object failed: sdn zone object ID 'lab' already defined"
        );
        let no_bridge = Form::new().str("zone", "x2").str("type", "vlan");
        let e = client
            .post("/cluster/sdn/zones", &no_bridge)
            .await
            .unwrap_err();
        assert_eq!(e.message, "missing value for required option 'bridge'");
        let vnet = Form::new()
            .str("vnet", "dmz")
            .str("zone", "lab")
            .int("tag", 40);
        client.post("/cluster/sdn/vnets", &vnet).await.unwrap();
        let twin = Form::new()
            .str("vnet", "dmz2")
            .str("zone", "lab")
            .int("tag", 40);
        let e = client.post("/cluster/sdn/vnets", &twin).await.unwrap_err();
        assert!(
            e.message.ends_with("tag: tag 40 already exist in vnet dmz"),
            "{}",
            e.message
        );
        let untagged = Form::new().str("vnet", "dmz3").str("zone", "lab");
        let e = client
            .post("/cluster/sdn/vnets", &untagged)
            .await
            .unwrap_err();
        assert!(
            e.message.ends_with("tag: missing vlan tag"),
            "{}",
            e.message
        );
        let long = Form::new()
            .str("vnet", "servers01")
            .str("zone", "lab")
            .int("tag", 9);
        let e = client.post("/cluster/sdn/vnets", &long).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadParam);
        assert!(e.to_string().contains("8 characters"), "{e}");
        let e = client
            .delete("/cluster/sdn/zones/lab", &[])
            .await
            .unwrap_err();
        assert!(
            e.message.contains("zone lab is used by vnet dmz"),
            "{}",
            e.message
        );
        let subnet = Form::new()
            .str("subnet", "10.0.40.0/24")
            .str("type", "subnet")
            .str("gateway", "10.0.50.1");
        let e = client
            .post("/cluster/sdn/vnets/dmz/subnets", &subnet)
            .await
            .unwrap_err();
        assert!(
            e.message
                .ends_with("gateway: 10.0.50.1 is not in subnet 10.0.40.0/24"),
            "{}",
            e.message
        );
        let e = client
            .get::<Json>("/cluster/sdn/vnets/nope", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    });
}

/// Plans `lab`, expecting the plan-time checks to stop it.
fn plan_fails(dir: &Path, lab: Lab) -> Vec<Diagnostic> {
    let blocking: Vec<_> = lab
        .check()
        .into_iter()
        .filter(|d| d.is_blocking())
        .collect();
    assert!(
        blocking.is_empty(),
        "check alone cannot tell: {blocking:#?}"
    );
    let e = Engine::new(lab, FileStateStore::new(dir.join(".lab")));
    match runtime().block_on(e.plan(&PlanOptions::default())) {
        Err(EngineError::PlanCheck(diags)) => diags,
        other => panic!("not a plan check: {other:?}"),
    }
}

#[test]
fn a_zone_on_a_bridge_a_node_lacks_or_that_is_not_vlan_aware() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    lab.add(Node::new("pve2").bridge("vmbr0"));
    let missing_line = line!() + 1;
    lab.add(SdnZone::vlan("far", "vmbr9").node(&pve1));
    // vmbr1 exists on a fresh node but is not VLAN-aware; the lab does not
    // declare it.
    let plain_line = line!() + 1;
    lab.add(SdnZone::vlan("plain", "vmbr1"));
    let diags = plan_fails(dir.path(), lab);
    let missing: Vec<_> = diags
        .iter()
        .filter(|d| d.code == SDN_BRIDGE_MISSING)
        .collect();
    assert_eq!(missing.len(), 1, "{diags:#?}");
    assert_eq!(missing[0].file_line(), Some((file!(), missing_line)));
    assert!(
        missing[0].message.contains("pve1"),
        "{}",
        missing[0].message
    );
    let plain: Vec<_> = diags
        .iter()
        .filter(|d| d.code == SDN_BRIDGE_NOT_VLAN_AWARE)
        .collect();
    assert_eq!(plain.len(), 2, "both nodes: {diags:#?}");
    assert_eq!(plain[0].file_line(), Some((file!(), plain_line)));
    assert!(plain[0].help.as_deref().unwrap().contains("VLAN aware"));
    assert!(conn.simulator().unwrap().world().sdn.zones.is_empty());
}

#[test]
fn offline_checks_point_at_the_line() {
    let mut lab = Lab::new("home");
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let zone = lab.add(SdnZone::vlan("lab", "vmbr0"));
    let range_line = line!() + 1;
    lab.add(Vnet::new("big", &zone, 5000));
    lab.add(Vnet::new("dmz", &zone, 40));
    let reused_line = line!() + 1;
    lab.add(Vnet::new("dmz2", &zone, 40));
    let id_line = line!() + 1;
    lab.add(Vnet::new("servers01", &zone, 41));
    // A guest on a VNet of a zone spanning its node: a known bridge.
    lab.add(Vm::new("web", &pve1).nic("net0", "dmz"));
    let mut other = Lab::new("other");
    other.add(Node::new("pve1").bridge("vmbr1"));
    let zone2 = other.add(SdnZone::vlan("lab", "vmbr1"));
    let clash_line = line!() + 1;
    other.add(Vnet::new("vmbr1", &zone2, 10));
    let clash: Vec<_> = other
        .check()
        .into_iter()
        .filter(|d| d.code == SDN_ID)
        .collect();
    assert_eq!(clash.len(), 1, "{clash:#?}");
    assert_eq!(clash[0].file_line(), Some((file!(), clash_line)));
    assert!(clash[0].message.contains("bridge"), "{}", clash[0].message);
    let diags = lab.check();
    let one = |code: &str| {
        let found: Vec<&Diagnostic> = diags.iter().filter(|d| d.code == code).collect();
        assert_eq!(found.len(), 1, "one {code} in {diags:#?}");
        found[0].clone()
    };
    assert_eq!(one(SDN_TAG_RANGE).file_line(), Some((file!(), range_line)));
    assert_eq!(
        one(SDN_TAG_REUSED).file_line(),
        Some((file!(), reused_line))
    );
    let id = one(SDN_ID);
    assert_eq!(id.file_line(), Some((file!(), id_line)));
    assert!(id.message.contains("2 to 8"), "{}", id.message);
    assert!(
        !diags.iter().any(|d| d.code == UNKNOWN_BRIDGE),
        "{diags:#?}"
    );
}

#[test]
fn a_guest_on_a_vnet_starts_there_and_the_sdn_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let build = |conn: &Connection| {
        let mut lab = Lab::new("home");
        lab.register_provider(conn.provider(ProxmoxOptions::default()));
        let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
        // pve2, which the lab does not declare, has a plain vmbr0.
        let zone = lab.add(SdnZone::vlan("lab", "vmbr0").node(&pve1));
        let dmz = lab.add(Vnet::new("dmz", &zone, 40));
        // The NIC names the VNet as its bridge; `.after` orders the start
        // after the VNet is live.
        lab.add(
            Vm::new("web", &pve1)
                .nic("net0", "dmz")
                .started(true)
                .after(&dmz),
        );
        Engine::new(lab, FileStateStore::new(dir.path().join(".lab")))
    };
    {
        let conn = connect(dir.path());
        apply(&build(&conn));
        let world = conn.simulator().unwrap().world();
        let web = world
            .guests()
            .into_iter()
            .find(|g| g.name == "web")
            .unwrap();
        assert_eq!(web.status, lab_proxmox::sim::GuestStatus::Running);
    }
    // The node restarts on its state file: the SDN config is still there.
    let conn = connect(dir.path());
    let world = conn.simulator().unwrap().world();
    assert_eq!(world.sdn.running.as_ref().unwrap().vnets.len(), 1);
    let again = plan(&build(&conn));
    assert!(!again.has_changes(), "{:#?}", again.steps);
}

#[test]
fn a_simple_zone_with_snat_and_an_ipv6_subnet_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let build = |conn: &Connection| {
        let mut lab = Lab::new("home");
        lab.register_provider(conn.provider(ProxmoxOptions::default()));
        let zone = lab.add(SdnZone::simple("nat"));
        lab.add(
            Vnet::untagged("natnet", &zone)
                .subnet("10.99.0.0/24", Some("10.99.0.1"))
                .snat(true)
                .subnet("fd00:99::/64", Some("fd00:99::1")),
        );
        Engine::new(lab, FileStateStore::new(dir.path().join(".lab")))
    };
    apply(&build(&conn));
    let world = conn.simulator().unwrap().world();
    let running = world.sdn.running.as_ref().unwrap();
    assert_eq!(running.subnets["nat-10.99.0.0-24"]["snat"], "1");
    assert_eq!(running.subnets["nat-fd00:99::-64"]["gateway"], "fd00:99::1");
    assert!(!running.vnets["natnet"].contains_key("tag"));
    no_violations(&conn);
    let again = plan(&build(&conn));
    assert!(!again.has_changes(), "{:#?}", again.steps);
}

#[test]
fn a_bad_subnet_is_reported_at_its_line() {
    let mut lab = Lab::new("home");
    let zone = lab.add(SdnZone::vlan("lab", "vmbr0"));
    let line = line!() + 1;
    let vnet = Vnet::new("dmz", &zone, 40).subnet("10.0.40.0/24", Some("10.0.50.1"));
    lab.add(vnet);
    let diags = lab.check();
    let bad: Vec<_> = diags
        .iter()
        .filter(|d| d.code == "core::invalid-value")
        .collect();
    assert_eq!(bad.len(), 1, "{diags:#?}");
    assert_eq!(bad[0].file_line(), Some((file!(), line)));
    assert!(bad[0]
        .message
        .contains("10.0.50.1 is not in subnet 10.0.40.0/24"));
}

#[test]
fn a_create_whose_apply_failed_is_adopted_and_applied_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(dir.path());
    let build = |conn: &Connection| {
        let mut lab = Lab::new("home");
        lab.register_provider(conn.provider(ProxmoxOptions::default()));
        let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
        lab.add(SdnZone::vlan("lab", "vmbr0").node(&pve1));
        Engine::new(lab, FileStateStore::new(dir.path().join(".lab")))
    };
    let e = build(&conn);
    let sim = conn.simulator().unwrap();
    let report = runtime().block_on(async {
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        // The zone's POST is the next request; the apply after it fails.
        sim.faults()
            .fail_request(2, 500, "could not commit SDN config: simulated failure");
        e.apply(&plan, &opts()).await.unwrap()
    });
    assert!(!report.is_success(), "{report:#?}");
    let world = sim.world();
    assert!(world.sdn.zones.contains_key("lab"), "written");
    assert!(world.sdn.has_pending_changes(), "not applied");

    // The next run finds the zone as the code says it and applies it.
    let e = build(&conn);
    apply(&e);
    let world = sim.world();
    assert!(!world.sdn.has_pending_changes());
    assert_eq!(
        world.sdn.running.as_ref().unwrap().zones["lab"]["bridge"],
        "vmbr0"
    );
    assert!(!plan(&e).has_changes());
    no_violations(&conn);
}
