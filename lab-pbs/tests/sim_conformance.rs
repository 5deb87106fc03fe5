//! Conformance against a client the project did not write: Python's
//! standard library (`tests/conformance/pbs_client.py`: http.client + ssl,
//! the certificate pinned by fingerprint) drives the standalone `pbs-sim`
//! binary on loopback: `PBSAPIToken` auth, envelopes, plain-text errors
//! with PBS's statuses, 9-field UPIDs through their tasks, `/sim/backup`,
//! tokens and ACLs.
//!
//! The script needs `python3`. Without it the test fails where `CI` is set
//! and says it skipped elsewhere.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Kills the simulator when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> Option<&'static str> {
    ["python3", "python"].into_iter().find(|p| {
        Command::new(p)
            .arg("-c")
            .arg("import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[test]
fn python_stdlib_client_against_pbs_sim() {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 is required for the conformance test in CI"
        );
        eprintln!("SKIPPED python_stdlib_client_against_pbs_sim: no python3 on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbs-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--auth-delay-ms",
            "0",
            "--task-latency-ms",
            "20",
            "--state",
        ])
        .arg(dir.path().join("pbs.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("pbs-sim starts");
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut url, mut token, mut fingerprint) = (None, None, None);
    while fingerprint.is_none() {
        let Ok(line) = rx.recv() else { break };
        let value = |prefix: &str| {
            line.trim()
                .strip_prefix(prefix)
                .map(|v| v.trim().to_string())
        };
        if let Some(v) = value("endpoint:") {
            url = Some(v);
        } else if let Some(v) = value("API token:") {
            token = Some(v);
        } else if let Some(v) = value("fingerprint:") {
            fingerprint = Some(v);
        }
    }
    let (url, token, fingerprint) = (
        url.expect("the banner names the endpoint"),
        token.expect("the banner names the token"),
        fingerprint.expect("the banner names the fingerprint"),
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/pbs_client.py");
    let out = Command::new(python)
        .arg(&script)
        .env("PBS_URL", &url)
        .env("PBS_TOKEN", &token)
        .env("PBS_FINGERPRINT", &fingerprint)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pbs_client.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let checks: usize = stdout
        .trim()
        .strip_prefix("ok: ")
        .and_then(|s| s.strip_suffix(" checks"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output: {stdout}"));
    assert!(checks >= 45, "only {checks} checks ran:\n{stdout}");
}
