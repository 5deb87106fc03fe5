//! The firewall kinds against pve-sim: ipsets, security groups with
//! ordered rules, guest firewalls attaching them, the datacenter switch;
//! apply then plan says nothing; drift when a rule is edited, removed or
//! moved or an ipset entry removed by hand through the API; delete;
//! recovery of a group made before a crash (an apply dropped mid-create,
//! as tests/recovery.rs drops one; a state behind; a direct `recover`);
//! persistence; undeclared references warned about. The simulator's
//! answers and the builders' offline problems: tests/firewall_sim.rs.

#![cfg(feature = "sim")]

mod common;

use std::path::Path;

use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::provider::{Claim, OpContext, OpKind, Ownership, RecoverCause, RecoverRequest};
use lab_core::{Action, Address, FileStateStore, ResourceSpec};
use lab_proxmox::api::Form;
use lab_proxmox::model::*;
use lab_proxmox::sim::Firewall;
use lab_proxmox::{Connection, ProxmoxOptions};
use serde_json::{Map, Value as Json};

use common::{opts, runtime, sim_config};

/// How much of the policy the lab declares.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// Everything.
    Full,
    /// The node and the VM only: the firewall objects are removed.
    GuestOnly,
    /// The node only: the VM is destroyed too.
    NodeOnly,
    /// Everything, with one more rule in the middle of the group.
    ExtraRule,
}

fn lab(conn: &Connection, shape: Shape) -> Lab {
    let mut lab = Lab::new("home");
    lab.register_provider(conn.provider(ProxmoxOptions::default()));
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    if shape == Shape::NodeOnly {
        return lab;
    }
    let web = lab.add(
        Vm::new("web", &pve1)
            .vmid(200)
            .nic("net0", "vmbr0")
            .firewall(true),
    );
    if shape == Shape::GuestOnly {
        return lab;
    }
    let mgmt = lab.add(
        IpSet::new("zone_mgmt")
            .entry("10.10.0.0/24")
            .comment("management"),
    );
    let dmz = lab.add(
        IpSet::new("zone_dmz")
            .entry("10.40.0.0/24")
            .nomatch("10.40.0.1"),
    );
    let group = SecurityGroup::new("sg_dmz")
        .comment("DMZ servers")
        .rule(
            FirewallRule::accept_in()
                .source_set(&mgmt)
                .proto("tcp")
                .dport("22")
                .comment("ssh from mgmt"),
        )
        .rule(
            FirewallRule::accept_in()
                .source_set(&dmz)
                .macro_name("https"),
        );
    let group = if shape == Shape::ExtraRule {
        group.rule(FirewallRule::accept_in().proto("icmp").comment("ping"))
    } else {
        group
    };
    let sg = lab.add(group.rule(FirewallRule::drop_in().log("info")));
    let guest = GuestFirewall::vm("web-fw", &web, &pve1).policy_in(Policy::Drop);
    // ExtraRule also stops setting `ipfilter`: the lab no longer manages it.
    let guest = if shape == Shape::ExtraRule {
        guest
    } else {
        guest.ipfilter(true)
    };
    lab.add(
        guest.rule(FirewallRule::group(&sg).iface("net0")).rule(
            FirewallRule::accept_out()
                .dest_set(&mgmt)
                .proto("udp")
                .dport("53"),
        ),
    );
    lab.add(ClusterFirewall::new().policy_in(Policy::Drop));
    lab
}

fn engine(conn: &Connection, dir: &Path, shape: Shape) -> Engine {
    Engine::new(lab(conn, shape), FileStateStore::new(dir.join("state")))
}

fn firewall(conn: &Connection) -> Firewall {
    conn.simulator().unwrap().firewall_snapshot()
}

async fn apply(e: &Engine) -> lab_core::Plan {
    let plan = e.plan(&PlanOptions::default()).await.expect("plan");
    let report = e.apply(&plan, &opts()).await.expect("apply");
    assert!(report.is_success(), "{:?}", report.failed);
    plan
}

async fn assert_converged(conn: &Connection, dir: &Path) {
    let again = engine(conn, dir, Shape::Full)
        .plan(&PlanOptions::default())
        .await
        .unwrap();
    assert!(!again.has_changes(), "{:#?}", again.steps);
}

/// The plan after a hand edit updates exactly `address`; applying it
/// restores the lab's policy.
async fn drift_is_found_and_undone(conn: &Connection, dir: &Path, address: &str) {
    let e = engine(conn, dir, Shape::Full);
    let plan = e.plan(&PlanOptions::default()).await.unwrap();
    let changed: Vec<String> = plan.steps.iter().map(|s| s.address.to_string()).collect();
    assert_eq!(changed, vec![address.to_string()], "{:#?}", plan.steps);
    assert_eq!(plan.steps[0].action, Action::Update);
    let report = e.apply(&plan, &opts()).await.unwrap();
    assert!(report.is_success(), "{:?}", report.failed);
    assert_converged(conn, dir).await;
}

async fn rules_of(conn: &Connection, list: &str) -> Vec<Map<String, Json>> {
    conn.client().get(list, &[]).await.unwrap()
}

async fn digest_of(conn: &Connection, list: &str) -> String {
    rules_of(conn, list).await[0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

const GROUP: &str = "/cluster/firewall/groups/sg_dmz";
const GUEST_RULES: &str = "/nodes/pve1/qemu/200/firewall/rules";

#[test]
fn the_policy_applies_in_order_then_plans_nothing() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        let plan = apply(&engine(&conn, dir.path(), Shape::Full)).await;
        let note = plan
            .steps
            .iter()
            .find(|s| s.address.to_string() == "proxmox.firewall_cluster.cluster")
            .unwrap();
        assert!(note
            .notes
            .iter()
            .any(|n| n.contains("sets `enable` back to 0")));

        let fw = firewall(&conn);
        assert_eq!(fw.options["enable"], "1");
        assert_eq!(fw.options["policy_in"], "DROP");
        let dmz = &fw.ipsets["zone_dmz"];
        let mut cidrs: Vec<(&str, bool)> = dmz
            .entries
            .iter()
            .map(|e| (e.cidr.as_str(), e.nomatch))
            .collect();
        cidrs.sort();
        assert_eq!(cidrs, vec![("10.40.0.0/24", false), ("10.40.0.1", true)]);
        assert_eq!(
            fw.ipsets["zone_mgmt"].comment.as_deref(),
            Some("management lab:home/proxmox.firewall_ipset.zone_mgmt")
        );
        let group = &fw.groups["sg_dmz"];
        let summary: Vec<(&str, &str, &str)> = group
            .rules
            .iter()
            .map(|r| {
                (
                    r["action"].as_str(),
                    r.get("source").map_or("-", String::as_str),
                    r["enable"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("ACCEPT", "+zone_mgmt", "1"),
                ("ACCEPT", "+zone_dmz", "1"),
                ("DROP", "-", "1"),
            ]
        );
        assert_eq!(group.rules[1]["macro"], "HTTPS");
        let guest = &fw.guests[&200];
        assert_eq!(guest.options["enable"], "1");
        assert_eq!(guest.options["policy_in"], "DROP");
        assert_eq!(guest.options["ipfilter"], "1");
        assert_eq!(guest.rules[0]["type"], "group");
        assert_eq!(guest.rules[0]["action"], "sg_dmz");
        assert_eq!(guest.rules[0]["iface"], "net0");
        assert_eq!(
            guest.rules[0]["comment"],
            "lab:home/proxmox.guest_firewall.web-fw"
        );
        assert_eq!(guest.rules[1]["dest"], "+zone_mgmt");

        assert_converged(&conn, dir.path()).await;
        let violations = conn.simulator().unwrap().schema_violations();
        assert!(violations.is_empty(), "{violations:#?}");
    });
}

#[test]
fn rules_and_entries_changed_by_hand_are_drift_and_are_put_back() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    let client = conn.client();
    rt.block_on(async {
        apply(&engine(&conn, dir.path(), Shape::Full)).await;
        let want = firewall(&conn);

        // A rule edited: ssh opened to port 2222 instead.
        let form = Form::new()
            .str("dport", "2222")
            .str("digest", digest_of(&conn, GROUP).await);
        client.put(&format!("{GROUP}/0"), &form).await.unwrap();
        drift_is_found_and_undone(&conn, dir.path(), "proxmox.firewall_group.sg_dmz").await;
        assert_eq!(firewall(&conn), want);

        // A rule removed: the final DROP.
        let digest = digest_of(&conn, GROUP).await;
        client
            .delete(&format!("{GROUP}/2"), &[("digest", digest)])
            .await
            .unwrap();
        drift_is_found_and_undone(&conn, dir.path(), "proxmox.firewall_group.sg_dmz").await;
        assert_eq!(firewall(&conn), want);

        // Rules reordered: the DROP moved to the top.
        let form = Form::new()
            .str("moveto", "0")
            .str("digest", digest_of(&conn, GROUP).await);
        client.put(&format!("{GROUP}/2"), &form).await.unwrap();
        assert_eq!(firewall(&conn).groups["sg_dmz"].rules[0]["action"], "DROP");
        drift_is_found_and_undone(&conn, dir.path(), "proxmox.firewall_group.sg_dmz").await;
        assert_eq!(firewall(&conn), want);

        // An ipset entry removed.
        let entries: Vec<Map<String, Json>> = client
            .get("/cluster/firewall/ipset/zone_dmz", &[])
            .await
            .unwrap();
        let digest = entries[0]["digest"].as_str().unwrap().to_string();
        client
            .delete(
                "/cluster/firewall/ipset/zone_dmz/10.40.0.0%2F24",
                &[("digest", digest)],
            )
            .await
            .unwrap();
        assert_eq!(firewall(&conn).ipsets["zone_dmz"].entries.len(), 1);
        drift_is_found_and_undone(&conn, dir.path(), "proxmox.firewall_ipset.zone_dmz").await;

        // An entry added by hand, and one's comment changed.
        client
            .post(
                "/cluster/firewall/ipset/zone_dmz",
                &Form::new().str("cidr", "10.99.0.0/16"),
            )
            .await
            .unwrap();
        drift_is_found_and_undone(&conn, dir.path(), "proxmox.firewall_ipset.zone_dmz").await;
        let entries: Vec<Map<String, Json>> = client
            .get("/cluster/firewall/ipset/zone_dmz", &[])
            .await
            .unwrap();
        let form = Form::new()
            .str("comment", "changed")
            .str("digest", entries[0]["digest"].as_str().unwrap());
        client
            .put("/cluster/firewall/ipset/zone_dmz/10.40.0.0%2F24", &form)
            .await
            .unwrap();
        drift_is_found_and_undone(&conn, dir.path(), "proxmox.firewall_ipset.zone_dmz").await;
        // The same set (PVE keeps entries newest first; order means nothing).
        let sorted = |fw: &Firewall| {
            let mut e = fw.ipsets["zone_dmz"].entries.clone();
            e.sort_by(|a, b| a.cidr.cmp(&b.cidr));
            e
        };
        assert_eq!(sorted(&firewall(&conn)), sorted(&want));

        // A rule added to the guest by hand (at the top, as PVE adds).
        let form = Form::new()
            .str("type", "in")
            .str("action", "ACCEPT")
            .str("enable", "1");
        client.post(GUEST_RULES, &form).await.unwrap();
        drift_is_found_and_undone(&conn, dir.path(), "proxmox.guest_firewall.web-fw").await;
        assert_eq!(firewall(&conn).guests[&200].rules, want.guests[&200].rules);
    });
}

#[test]
fn removing_the_policy_deletes_what_the_lab_made_and_keeps_the_rest() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        apply(&engine(&conn, dir.path(), Shape::Full)).await;
        // Someone else's rule on the guest, made by hand.
        let form = Form::new()
            .str("type", "in")
            .str("action", "ACCEPT")
            .str("proto", "icmp")
            .str("enable", "1")
            .str("comment", "ping, by hand");
        conn.client().post(GUEST_RULES, &form).await.unwrap();

        let e = engine(&conn, dir.path(), Shape::GuestOnly);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(
            plan.steps
                .iter()
                .filter(|s| s.action == Action::Delete)
                .count(),
            5,
            "{:#?}",
            plan.steps
        );
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{:?}", report.failed);
        let fw = firewall(&conn);
        assert!(fw.groups.is_empty(), "{:?}", fw.groups);
        assert!(fw.ipsets.is_empty(), "{:?}", fw.ipsets);
        assert_eq!(fw.options["enable"], "0");
        assert_eq!(fw.options["policy_in"], "DROP", "other options stay");
        let guest = &fw.guests[&200];
        assert_eq!(guest.options["enable"], "0");
        assert_eq!(guest.rules.len(), 1);
        assert_eq!(guest.rules[0]["comment"], "ping, by hand");
        let again = e.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);

        // Destroying the guest removes its firewall config, as
        // `remove_vmfw_conf` does.
        apply(&engine(&conn, dir.path(), Shape::NodeOnly)).await;
        assert!(firewall(&conn).guests.is_empty());
    });
}

#[test]
fn a_group_made_before_a_crash_is_adopted_not_created_twice() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    let lab = lab(&conn, Shape::Full);
    let address = Address::new("proxmox.firewall_group", "sg_dmz");
    let desired = lab.resource(&address).unwrap().attrs.clone();
    rt.block_on(async {
        // The create reached PVE (the group and its first rule), then lab died.
        let client = conn.client();
        let form = Form::new().str("group", "sg_dmz").str(
            "comment",
            "DMZ servers lab:home/proxmox.firewall_group.sg_dmz",
        );
        client
            .post("/cluster/firewall/groups", &form)
            .await
            .unwrap();
        let form = Form::new()
            .str("type", "in")
            .str("action", "DROP")
            .str("enable", "0");
        client.post(GROUP, &form).await.unwrap();
        let provider = conn.provider(ProxmoxOptions::default());
        let req = RecoverRequest {
            address: address.clone(),
            action: OpKind::Create,
            cause: RecoverCause::Interrupted,
            owner: Ownership {
                lab: "home".into(),
                lineage: "test".into(),
                address: address.clone(),
            },
            desired,
            claim: Claim::new(),
            known_ids: Vec::new(),
        };
        let recovered = provider
            .recover(&OpContext::detached(), &req)
            .await
            .unwrap();
        assert_eq!(recovered.found.len(), 1, "{recovered:?}");
        assert_eq!(recovered.found[0].id, "sg_dmz");

        // A group of that name without the marker is not adopted.
        let form = Form::new()
            .str("group", "sg_dmz")
            .str("rename", "sg_dmz")
            .str("comment", "made by hand");
        client
            .post("/cluster/firewall/groups", &form)
            .await
            .unwrap();
        let none = provider
            .recover(&OpContext::detached(), &req)
            .await
            .unwrap();
        assert!(none.found.is_empty(), "{none:?}");

        // The same for an ipset made before the crash, with its marker.
        let address = Address::new("proxmox.firewall_ipset", "zone_mgmt");
        let form = Form::new().str("name", "zone_mgmt").str(
            "comment",
            "management lab:home/proxmox.firewall_ipset.zone_mgmt",
        );
        client.post("/cluster/firewall/ipset", &form).await.unwrap();
        let req = RecoverRequest {
            address: address.clone(),
            owner: Ownership {
                lab: "home".into(),
                lineage: "test".into(),
                address: address.clone(),
            },
            desired: lab.resource(&address).unwrap().attrs.clone(),
            ..req
        };
        let recovered = provider
            .recover(&OpContext::detached(), &req)
            .await
            .unwrap();
        assert_eq!(recovered.found.len(), 1, "{recovered:?}");
        assert_eq!(recovered.found[0].id, "zone_mgmt");
    });
}

#[test]
fn a_state_behind_adopts_the_groups_that_carry_the_marker() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    let state = dir.path().join("state");
    rt.block_on(async {
        apply(&engine(&conn, dir.path(), Shape::GuestOnly)).await;
        let before = std::fs::read(state.join("state.json")).unwrap();
        apply(&engine(&conn, dir.path(), Shape::Full)).await;
        std::fs::write(state.join("state.json"), before).unwrap();
        let plan = engine(&conn, dir.path(), Shape::Full)
            .plan(&PlanOptions::default())
            .await
            .unwrap();
        let sg = Address::new("proxmox.firewall_group", "sg_dmz");
        assert!(
            plan.recovered
                .iter()
                .any(|r| r.address == sg && r.outcome.contains("adopted")),
            "{:?}",
            plan.recovered
        );
        assert!(
            !plan
                .steps
                .iter()
                .any(|s| s.action == Action::Create
                    && s.address.kind().starts_with("proxmox.firewall_")),
            "{:#?}",
            plan.steps
        );
    });
}

#[test]
fn the_firewall_is_persisted_with_the_rest_of_the_simulator() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pve.json");
    let before = {
        let conn = Connection::simulated(sim_config(), &file).unwrap();
        rt.block_on(apply(&engine(&conn, dir.path(), Shape::Full)));
        firewall(&conn)
    };
    let conn = Connection::simulated(sim_config(), &file).unwrap();
    assert_eq!(firewall(&conn), before);
    rt.block_on(assert_converged(&conn, dir.path()));
}

/// A resource written as attributes, as lab-net's lowering writes them.
struct Raw(ResourceSpec);

impl Resource for Raw {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.0
    }

    fn into_spec(self) -> ResourceSpec {
        self.0
    }
}

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

#[test]
fn attributes_written_by_other_code_converge_too() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    let build = || {
        let mut lab = Lab::new("home");
        lab.register_provider(conn.provider(ProxmoxOptions::default()));
        let mut set = ResourceSpec::new("proxmox.firewall_ipset", "zone_lan");
        set.set("name", "zone_lan");
        set.set(
            "entries",
            Value::List(vec![
                map(&[("cidr", Value::from("10.9.0.7/32"))]),
                map(&[
                    ("cidr", Value::from("10.8.1.0/16")),
                    ("nomatch", Value::Bool(false)),
                ]),
            ]),
        );
        lab.add(Raw(set));
        let mut group = ResourceSpec::new("proxmox.firewall_group", "sg_lan");
        group.set("group", "sg_lan");
        group.set(
            "rules",
            Value::List(vec![
                map(&[
                    ("type", Value::from("in")),
                    ("action", Value::from("ACCEPT")),
                    ("macro", Value::from("ssh")),
                    ("source", Value::from("+zone_lan")),
                ]),
                map(&[("type", Value::from("in")), ("action", Value::from("DROP"))]),
            ]),
        );
        lab.add(Raw(group));
        Engine::new(lab, FileStateStore::new(dir.path().join("state")))
    };
    rt.block_on(async {
        let e = build();
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{:?}", report.failed);
        let fw = firewall(&conn);
        let mut cidrs: Vec<&str> = fw.ipsets["zone_lan"]
            .entries
            .iter()
            .map(|e| e.cidr.as_str())
            .collect();
        cidrs.sort();
        assert_eq!(cidrs, vec!["10.8.0.0/16", "10.9.0.7"]);
        let rules = &fw.groups["sg_lan"].rules;
        assert_eq!(rules[0]["macro"], "SSH");
        assert_eq!(rules[0]["enable"], "1", "a rule without `enable` is on");
        let again = build().plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
    });
}

/// The group's writes since `from` in the simulator's request log.
fn group_writes(conn: &Connection, from: usize) -> Vec<String> {
    conn.simulator().unwrap().requests()[from..]
        .iter()
        .filter(|r| r.method != "GET" && r.path.starts_with(GROUP))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn a_rule_added_or_removed_in_the_middle_touches_only_that_rule() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    rt.block_on(async {
        apply(&engine(&conn, dir.path(), Shape::Full)).await;
        let from = conn.simulator().unwrap().requests().len();
        apply(&engine(&conn, dir.path(), Shape::ExtraRule)).await;
        // POST (disabled, at the top), move to position 2, enable.
        assert_eq!(
            group_writes(&conn, from),
            vec![
                format!("POST {GROUP}"),
                format!("PUT {GROUP}/0"),
                format!("PUT {GROUP}/2"),
            ]
        );
        let rules = &firewall(&conn).groups["sg_dmz"].rules;
        let order: Vec<&str> = rules
            .iter()
            .map(|r| {
                r.get("comment")
                    .map_or(r["action"].as_str(), String::as_str)
            })
            .collect();
        assert_eq!(order, vec!["ssh from mgmt", "ACCEPT", "ping", "DROP"]);
        assert!(rules.iter().all(|r| r["enable"] == "1"));
        // An option the lab stopped setting is left as it is.
        let guest = &firewall(&conn).guests[&200];
        assert_eq!(guest.options["ipfilter"], "1", "{guest:?}");
        assert_eq!(guest.options["policy_in"], "DROP");

        let from = conn.simulator().unwrap().requests().len();
        apply(&engine(&conn, dir.path(), Shape::Full)).await;
        assert_eq!(group_writes(&conn, from), vec![format!("DELETE {GROUP}/2")]);
        assert_converged(&conn, dir.path()).await;
    });
}

/// Applies the full lab until PVE has the group, then drops the apply
/// (lab "dies"; what PVE did stays).
async fn apply_until_the_group_exists(conn: &Connection, dir: &Path) {
    let e = engine(conn, dir, Shape::Full);
    let plan = e.plan(&PlanOptions::default()).await.unwrap();
    let options = opts();
    let run = e.apply(&plan, &options);
    tokio::pin!(run);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        tokio::select! {
            r = &mut run => panic!("the apply finished before the group existed: {r:?}"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {}
        }
        if firewall(conn).groups.contains_key("sg_dmz") {
            return; // dropping `run` here is the crash
        }
        assert!(tokio::time::Instant::now() < deadline, "no group was made");
    }
}

/// lab dies (its apply dropped) just after PVE made the group, before
/// its rules were all written: the next plan adopts the group by its
/// marker (says so), completes its rules, and there is one group.
#[test]
fn a_group_whose_create_was_cut_short_is_adopted_and_completed() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    let sim = conn.simulator().unwrap();
    rt.block_on(async {
        apply(&engine(&conn, dir.path(), Shape::GuestOnly)).await;
        sim.faults()
            .extra_latency(std::time::Duration::from_millis(30));
        apply_until_the_group_exists(&conn, dir.path()).await;
        sim.faults().extra_latency(std::time::Duration::ZERO);
        let made = firewall(&conn).groups["sg_dmz"].rules.len();
        assert!(made < 3, "the crash came after the rules ({made})");

        let e = engine(&conn, dir.path(), Shape::Full);
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let sg = Address::new("proxmox.firewall_group", "sg_dmz");
        assert!(
            plan.recovered
                .iter()
                .any(|r| r.address == sg && r.outcome.contains("adopted")),
            "{:?}",
            plan.recovered
        );
        assert!(
            !plan
                .steps
                .iter()
                .any(|s| s.address == sg && s.action == Action::Create),
            "{:#?}",
            plan.steps
        );
        let report = e.apply(&plan, &opts()).await.unwrap();
        assert!(report.is_success(), "{:?}", report.failed);
        assert_eq!(firewall(&conn).groups.len(), 1);
        assert_eq!(firewall(&conn).groups["sg_dmz"].rules.len(), 3);
        assert_converged(&conn, dir.path()).await;
    });
}

#[test]
fn rules_naming_undeclared_ipsets_or_groups_are_warned_about() {
    let codes = |lab: &Lab| -> Vec<String> {
        lab.check()
            .iter()
            .filter(|d| d.code == "proxmox::firewall-reference")
            .map(|d| d.message.clone())
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    assert!(codes(&lab(&conn, Shape::Full)).is_empty());

    let mut lab = Lab::new("home");
    let pve1 = lab.add(Node::new("pve1"));
    let web = lab.add(Vm::new("web", &pve1));
    let mut group = ResourceSpec::new("proxmox.firewall_group", "sg_lan");
    group.set("group", "sg_lan");
    group.set(
        "rules",
        Value::List(vec![map(&[
            ("type", Value::from("in")),
            ("action", Value::from("ACCEPT")),
            ("source", Value::from("+zone_nope")),
        ])]),
    );
    lab.add(Raw(group));
    let mut fw = GuestFirewall::vm("web-fw", &web, &pve1);
    fw.spec_mut().set(
        "rules",
        Value::List(vec![map(&[
            ("type", Value::from("group")),
            ("action", Value::from("sg_missing")),
        ])]),
    );
    lab.add(fw);
    let found = codes(&lab);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("ipset `+zone_nope`") || found[1].contains("ipset `+zone_nope`"));
    assert!(found
        .iter()
        .any(|m| m.contains("security group `sg_missing`")));
}
