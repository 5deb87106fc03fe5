//! The firewall's parts without a provider run: pve-sim's answers as
//! pve-firewall gives them (its error texts, positions, digests, refusals)
//! and the builders' offline problems, reported where they were written.

#![cfg(feature = "sim")]

#[allow(dead_code)] // this test needs only part of it
mod common;

use lab_core::prelude::*;
use lab_core::Address;
use lab_proxmox::api::{ErrorKind, Form};
use lab_proxmox::model::*;
use lab_proxmox::Connection;
use serde_json::{Map, Value as Json};

use common::{runtime, sim_config};

async fn rules_of(conn: &Connection, list: &str) -> Vec<Map<String, Json>> {
    conn.client().get(list, &[]).await.unwrap()
}

#[test]
fn the_simulator_answers_with_pves_texts() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::simulated(sim_config(), dir.path().join("pve.json")).unwrap();
    let client = conn.client();
    rt.block_on(async {
        client
            .post(
                "/cluster/firewall/groups",
                &Form::new().str("group", "sg_a"),
            )
            .await
            .unwrap();
        let dup = client
            .post(
                "/cluster/firewall/groups",
                &Form::new().str("group", "sg_a"),
            )
            .await
            .unwrap_err();
        assert_eq!(dup.errors["group"], "Security group 'sg_a' already exists");

        // An unknown ipset.
        let bad = Form::new()
            .str("type", "in")
            .str("action", "ACCEPT")
            .str("source", "+nope");
        let e = client
            .post("/cluster/firewall/groups/sg_a", &bad)
            .await
            .unwrap_err();
        assert_eq!(e.status, 400, "{e}");
        assert_eq!(e.errors["source"], "no such ipset 'nope'");

        // An unknown macro, a port without a protocol, a bad port.
        let e = client
            .post(
                "/cluster/firewall/groups/sg_a",
                &Form::new()
                    .str("type", "in")
                    .str("action", "ACCEPT")
                    .str("macro", "Nope"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.errors["macro"], "unknown macro 'Nope'");
        let e = client
            .post(
                "/cluster/firewall/groups/sg_a",
                &Form::new()
                    .str("type", "in")
                    .str("action", "ACCEPT")
                    .str("dport", "22"),
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.errors["proto"],
            "missing property - 'dport' requires this property"
        );
        let e = client
            .post(
                "/cluster/firewall/groups/sg_a",
                &Form::new()
                    .str("type", "in")
                    .str("action", "ACCEPT")
                    .str("proto", "tcp")
                    .str("dport", "99999"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.errors["dport"], "invalid format - invalid port '99999'");

        // POST inserts at the top; without `enable` the rule is off.
        for action in ["ACCEPT", "DROP"] {
            client
                .post(
                    "/cluster/firewall/groups/sg_a",
                    &Form::new()
                        .str("type", "in")
                        .str("action", action)
                        .str("pos", "5"),
                )
                .await
                .unwrap();
        }
        let rules = rules_of(&conn, "/cluster/firewall/groups/sg_a").await;
        assert_eq!(rules[0]["action"], "DROP");
        assert_eq!(rules[1]["action"], "ACCEPT");
        assert_eq!(rules[0]["enable"], 0);
        assert_eq!(rules[1]["pos"], 1);

        // A stale digest.
        let stale = rules[0]["digest"].as_str().unwrap().to_string();
        client
            .delete(
                "/cluster/firewall/groups/sg_a/0",
                &[("digest", stale.clone())],
            )
            .await
            .unwrap();
        let e = client
            .delete("/cluster/firewall/groups/sg_a/0", &[("digest", stale)])
            .await
            .unwrap_err();
        assert_eq!(e.status, 500);
        assert_eq!(
            e.message,
            "detected modified configuration - file changed by other user? Try again."
        );

        // A group with rules cannot be deleted; a missing one is "no such".
        let e = client
            .delete("/cluster/firewall/groups/sg_a", &[])
            .await
            .unwrap_err();
        assert_eq!(e.message, "Security group 'sg_a' is not empty");
        let e = client
            .get::<Json>("/cluster/firewall/groups/sg_b", &[])
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
        assert_eq!(e.message, "no such security group 'sg_b'");

        // ipsets: entries normalised, duplicates and /0 refused.
        client
            .post(
                "/cluster/firewall/ipset",
                &Form::new().str("name", "zone_x"),
            )
            .await
            .unwrap();
        client
            .post(
                "/cluster/firewall/ipset/zone_x",
                &Form::new().str("cidr", "10.1.2.3/24"),
            )
            .await
            .unwrap();
        let e = client
            .post(
                "/cluster/firewall/ipset/zone_x",
                &Form::new().str("cidr", "10.1.2.0/24"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.errors["cidr"], "address '10.1.2.0/24' already exists");
        let e = client
            .delete("/cluster/firewall/ipset/zone_x", &[])
            .await
            .unwrap_err();
        assert_eq!(e.message, "IPSet 'zone_x' is not empty");
        let entry: Json = client
            .get("/cluster/firewall/ipset/zone_x/10.1.2.0%2F24", &[])
            .await
            .unwrap();
        assert_eq!(entry["cidr"], "10.1.2.0/24");

        // Guest rules: groups may be attached; `iface` must be a NIC key.
        let e = client
            .post(
                "/nodes/pve1/qemu/100/firewall/rules",
                &Form::new()
                    .str("type", "in")
                    .str("action", "ACCEPT")
                    .str("iface", "eth0"),
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.errors["iface"],
            "value does not match the regex pattern 'net\\d+'"
        );
        // Containers: the same rules, their own rule_env.
        let e = client
            .post(
                "/nodes/pve1/lxc/300/firewall/rules",
                &Form::new().str("type", "forward").str("action", "ACCEPT"),
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.errors["type"],
            "invalid rule type 'forward' for rule_env 'ct'"
        );
        client
            .post(
                "/nodes/pve1/lxc/300/firewall/rules",
                &Form::new()
                    .str("type", "group")
                    .str("action", "sg_a")
                    .str("enable", "1"),
            )
            .await
            .unwrap();
        let fw = conn.simulator().unwrap().firewall_snapshot();
        assert_eq!(fw.guests[&300].rules[0]["action"], "sg_a");
        assert!(conn.simulator().unwrap().schema_violations().is_empty());
    });
}

/// The problems of `lab`'s resources, as `(field, message)`.
fn problems(lab: &Lab) -> Vec<(String, String)> {
    lab.resources()
        .flat_map(|s| {
            s.problems
                .iter()
                .map(|p| (p.field.clone(), p.message.clone()))
        })
        .collect()
}

#[test]
fn bad_rules_are_reported_where_they_were_written() {
    let mut lab = Lab::new("home");
    let pve1 = lab.add(Node::new("pve1"));
    let web = lab.add(Vm::new("web", &pve1));
    let sg = lab.add(
        SecurityGroup::new("a_name_longer_than_18")
            .rule(FirewallRule::accept_in().dport("22"))
            .rule(FirewallRule::accept_in().proto("icmp").sport("22"))
            .rule(FirewallRule::accept_in().source("10.0.0.1,fd00::1"))
            .rule(FirewallRule::accept_in().iface("net0"))
            .rule(
                FirewallRule::drop_in()
                    .macro_name("NoSuchMacro")
                    .proto("tcp")
                    .dport("1:99999"),
            ),
    );
    let inner = lab.add(SecurityGroup::new("sg_ok").rule(FirewallRule::group(&sg)));
    lab.add(
        GuestFirewall::vm("web-fw", &web, &pve1)
            .rule(FirewallRule::group(&inner).iface("eth0"))
            .log_level_in("loud"),
    );
    lab.add(
        IpSet::new("zone")
            .entry("10.0.0.0/8")
            .entry("10.1.0.0/8")
            .entry("0.0.0.0/0")
            .entry("not an ip"),
    );
    let found = problems(&lab);
    let has = |field: &str, text: &str| found.iter().any(|(f, m)| f == field && m.contains(text));
    for (field, text) in [
        ("group", "is not a valid security group name"),
        ("rules.dport", "missing property - 'dport' requires 'proto'"),
        ("rules.sport", "protocol 'icmp' does not support ports"),
        ("rules.source", "detected mixed ipv4/ipv6 addresses"),
        ("rules.iface", "parameter -i not allowed"),
        ("rules.macro", "unknown macro 'NoSuchMacro'"),
        ("rules.dport", "invalid port '99999'"),
        ("rules.type", "security groups not allowed"),
        ("rules.iface", "`eth0` is not a guest NIC"),
        ("log_level_in", "`loud` is not a log level"),
        ("entries", "address '10.0.0.0/8' already exists"),
        ("entries", "a zero prefix is not allowed"),
        ("entries", "`not an ip` is not an IP address"),
    ] {
        assert!(has(field, text), "{field}: {text} not in {found:#?}");
    }
    assert_eq!(found.len(), 13, "{found:#?}");
    // The edges: the guest firewall needs the group, the group the ipsets.
    let fw = lab
        .resource(&Address::new("proxmox.guest_firewall", "web-fw"))
        .unwrap();
    assert!(fw
        .deps
        .iter()
        .any(|d| d.on.to_string() == "proxmox.firewall_group.sg_ok"));
    assert!(fw.deps.iter().any(|d| d.on.to_string() == "proxmox.vm.web"));
}
