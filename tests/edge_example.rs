//! `examples/edge.rs` as a user runs it: `check` is clean, `apply` makes
//! the tunnel, its rules, the CNAMEs, the Access app and the connector on
//! the simulators, a second `plan` says no changes, the `no-access` variant
//! fails `check` at the service's line, and a rule added in the Cloudflare
//! dashboard (the simulator) is drift that the next apply removes.

#[allow(dead_code)]
#[path = "../examples/edge.rs"]
mod edge;

use edge::{edge_lab, Connections};
use serde_json::json;

/// Runs `lab <args>` on the example's lab; (exit code, stdout, stderr).
fn run(
    conns: &Connections,
    variant: &str,
    state: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let lab = edge_lab(conns, variant);
    let mut argv = vec!["edge", "--state-dir", state.to_str().unwrap(), "--no-color"];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab::cli::run_captured(lab, argv, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[test]
fn the_edge_example_applies_and_settles() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let state = dir.path().join("lab");
    let conns = Connections::open(sim.to_str().unwrap()).unwrap();

    let (code, out, err) = run(&conns, "", &state, &["check"]);
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = run(&conns, "", &state, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let all = format!("{out}{err}");
    for made in [
        "cloudflare.tunnel.home",
        "cloudflare.tunnel_config.home",
        "cloudflare.dns_record.cname-blog-example-com",
        "cloudflare.dns_record.cname-automation-example-com",
        "cloudflare.access_app.automation-example-com",
        "proxmox.ct.cloudflared",
    ] {
        assert!(all.contains(made), "{made} not applied:\n{all}");
    }

    // What Cloudflare holds: the blog open, the automation UI behind
    // Access (its app's aud), the catch-all last.
    let cf = conns
        .cloudflare
        .simulator()
        .expect("the Cloudflare simulator runs");
    let world = cf.world();
    let (id, tunnel) = world.tunnels.iter().next().expect("one tunnel");
    let config = serde_json::to_value(&tunnel.configuration).unwrap();
    let ingress = config["config"]["ingress"].as_array().unwrap().clone();
    assert_eq!(ingress.len(), 3, "{ingress:?}");
    assert_eq!(ingress[0]["hostname"], "blog.example.com");
    assert!(ingress[0].get("originRequest").is_none());
    assert_eq!(ingress[1]["hostname"], "automation.example.com");
    assert_eq!(ingress[1]["originRequest"]["access"]["required"], true);
    assert_eq!(ingress[1]["originRequest"]["access"]["teamName"], "homelab");
    assert_eq!(ingress[2], json!({"service": "http_status:404"}));

    // The tunnel's run token reached the connector's environment, and
    // neither the output nor the state shows it.
    let env = connector_env(&conns);
    let token = env
        .split('\0')
        .find_map(|kv| kv.strip_prefix("TUNNEL_TOKEN="))
        .unwrap_or_else(|| panic!("no TUNNEL_TOKEN in the connector's env"))
        .to_string();
    assert!(token.len() > 40, "a tunnel token: {}", token.len());
    assert!(!all.contains(&token), "the tunnel token was printed");
    let saved = std::fs::read_to_string(state.join("state.json")).unwrap();
    assert!(
        !saved.contains(&token),
        "the tunnel token is in the state in plaintext"
    );

    // A second process (a new lab from the same code) plans no changes.
    let (code, out, err) = run(&conns, "", &state, &["plan"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No changes"), "{out}{err}");

    // A rule added in the dashboard is drift; apply puts the document back.
    assert!(cf.edit_tunnel_config(id, |c| {
        c["ingress"].as_array_mut().unwrap().insert(
            0,
            json!({"hostname": "pve.example.com", "service": "https://10.0.10.11:8006"}),
        )
    }));
    let (code, out, err) = run(&conns, "", &state, &["plan"]);
    assert_eq!(code, 2, "a plan with changes exits 2:\n{out}{err}");
    let drift = out
        .split("changed outside the lab")
        .nth(1)
        .and_then(|rest| rest.split("will perform").next())
        .unwrap_or_else(|| panic!("no drift shown:\n{out}"));
    assert!(
        drift.contains("+ config.ingress[0]"),
        "the one rule added:\n{out}"
    );
    assert!(!drift.contains("ingress[1]"), "only the added rule:\n{out}");
    assert!(
        out.contains("- config.ingress[0]"),
        "one rule to remove:\n{out}"
    );
    assert!(out.contains("pve.example.com"), "{out}");
    let (code, out, err) = run(&conns, "", &state, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, err) = run(&conns, "", &state, &["plan"]);
    assert!(out.contains("No changes"), "{out}{err}");

    // The variant: the admin UI public without Access fails check at the
    // line that exposes it.
    let (code, out, err) = run(&conns, "no-access", &state, &["check"]);
    assert_ne!(code, 0, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains("net::admin-public"), "{all}");
    let line = include_str!("../examples/edge.rs")
        .lines()
        .position(|l| l.contains(r#".public(&tunnel, "automation.example.com", 5678)"#))
        .expect("the variant's line")
        + 1;
    let at_line = all
        .lines()
        .any(|l| l.contains(&format!("{line} │")) && l.contains(".public(&tunnel"));
    assert!(
        at_line && all.contains("public without Access"),
        "not at line {line}:\n{all}"
    );
}

/// The `env` of the connector container, as Proxmox VE returns it.
fn connector_env(conns: &Connections) -> String {
    let client = conns.pve.client().clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let guests: Vec<serde_json::Value> = client
            .get("/nodes/pve1/lxc", &[])
            .await
            .expect("the containers of pve1");
        let vmid = guests
            .iter()
            .find(|g| g["name"] == "cloudflared")
            .and_then(|g| g["vmid"].as_u64())
            .expect("the connector container");
        let config: serde_json::Value = client
            .get(&format!("/nodes/pve1/lxc/{vmid}/config"), &[])
            .await
            .expect("its config");
        config["env"].as_str().unwrap_or_default().to_string()
    })
}
