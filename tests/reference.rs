//! The reference data inside the repository is what its `SOURCES.md` says:
//! every file of `lab-proxmox/reference/`, `lab-talos/reference/`,
//! `lab-pbs/reference/` and `lab-net/reference/` is listed there with its
//! sha256, and no listed file is missing or changed.
//!
//! The crates embed these files (`include_str!`), so a missing one already
//! fails the build; this test catches a file replaced without updating its
//! provenance, and a file added without any.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// `file -> sha256` from the table rows of a `SOURCES.md`: the first cell is
/// the file in backticks, the last the sha256 in backticks.
fn listed(sources: &str) -> BTreeMap<String, String> {
    sources
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().strip_prefix('|')?.split('|').collect();
            let file = cells.first()?.trim().strip_prefix('`')?.strip_suffix('`')?;
            let hash = cells
                .iter()
                .rev()
                .map(|c| c.trim())
                .find(|c| !c.is_empty())?;
            let hash = hash.strip_prefix('`')?.strip_suffix('`')?;
            (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (file.to_owned(), hash.to_owned()))
        })
        .collect()
}

/// Every file under `dir` but `SOURCES.md`, relative to `dir`, `/`-separated.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                let rel: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
                out.push(rel.join("/"));
            }
        }
    }
    out.retain(|f| f != "SOURCES.md");
    out.sort();
    out
}

fn check(krate: &str, expected_files: usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(krate)
        .join("reference");
    let sources = std::fs::read_to_string(dir.join("SOURCES.md"))
        .unwrap_or_else(|e| panic!("{krate}/reference/SOURCES.md: {e}"));
    let listed = listed(&sources);
    assert_eq!(
        listed.keys().cloned().collect::<Vec<_>>(),
        files(&dir),
        "{krate}/reference: the files on disk and the files SOURCES.md lists"
    );
    assert_eq!(listed.len(), expected_files, "{krate}/reference");
    for (file, want) in &listed {
        let bytes = std::fs::read(dir.join(file)).expect("listed and present");
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(&got, want, "sha256 of {krate}/reference/{file}");
    }
}

#[test]
fn proxmox_reference_matches_its_sources() {
    check("lab-proxmox", 1);
}

#[test]
fn talos_reference_matches_its_sources() {
    check("lab-talos", 35);
}

#[test]
fn pbs_reference_matches_its_sources() {
    check("lab-pbs", 1);
}

#[test]
fn net_reference_matches_its_sources() {
    check("lab-net", 1);
}
