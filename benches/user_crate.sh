#!/usr/bin/env bash
# What a user's debug build costs: a fresh crate outside the workspace that
# depends on `lab` by path (features talos + sim, nothing else), built with
# cargo's default `dev` profile and none of the workspace's profile
# settings, which do not carry over to a dependent crate.
#
#   benches/user_crate.sh bench   [LAB_DIR]   criterion, `cargo bench --profile dev`
#   benches/user_crate.sh once    [LAB_DIR]   one timed run of each step (no criterion)
#   benches/user_crate.sh example [LAB_DIR] [ARGS...]
#                                             examples/talos.rs as the crate's
#                                             main.rs, timed, debug build
#
# LAB_DIR defaults to this checkout. TIMINGS=1 adds `--timings` to the
# build (cargo's per-crate report, e.g. to see what aws-lc-sys adds). The crate is made in a new temporary
# directory (kept: its path is printed); CARGO_TARGET_DIR, when set, is
# shared between runs so a second run skips the cold build, which the
# script times and reports either way. The workspace's Cargo.lock is copied
# in, so the crate builds the same dependency versions as the workspace.
#
# `bench` measures, unoptimised:
#   user/secrets_generate  SecretsBundle::generate for the v1.13 contract
#                          (its RSA-4096 service-account key dominates)
#   user/check             Lab::check of a 3+2 Talos cluster with a patch,
#                          which validates every node's config against the
#                          Talos schema
# `once` runs the same two steps once each and prints their times; use it
# where a step takes minutes (criterion would take ten samples).
set -euo pipefail

mode="${1:-bench}"
shift || true
here="$(cd "$(dirname "$0")/.." && pwd)"
lab_dir="$(cd "${1:-$here}" && pwd)"
shift || true

crate="$(mktemp -d)/lab-user"
mkdir -p "$crate/src" "$crate/benches"
echo "== fresh crate at $crate (lab from $lab_dir)"
[ -f "$lab_dir/Cargo.lock" ] && cp "$lab_dir/Cargo.lock" "$crate/Cargo.lock"

cat >"$crate/Cargo.toml" <<EOF
[package]
name = "lab-user"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
lab = { path = "$lab_dir", features = ["talos", "sim"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros", "time"] }

[dev-dependencies]
criterion = { version = "0.7", default-features = false, features = ["cargo_bench_support"] }

[[bench]]
name = "user"
harness = false
EOF

# The lab both modes measure.
cat >"$crate/src/lib.rs" <<'EOF'
//! The steps a user's first `check` and `apply` of a Talos lab take.
use lab::prelude::*;
use lab::proxmox::model::*;
use lab::talos::model::TalosCluster;
use lab::talos::secrets::{SecretsBundle, VersionContract};

/// A fresh secrets bundle for the v1.13 contract.
pub fn secrets_generate() -> SecretsBundle {
    SecretsBundle::generate(VersionContract::V1_13).expect("bundle")
}

/// A lab of 3 control planes and 2 workers with one patch.
pub fn talos_lab() -> Lab {
    let mut lab = Lab::new("home");
    lab::talos::checks::register(&mut lab);
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
    TalosCluster::new("home", "https://10.0.10.5:6443")
        .vip("10.0.10.5")
        .link("ens18")
        .vm_storage(&lvm)
        .iso_storage(&local)
        .patch("machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n")
        .control_plane("cp1", "10.0.10.11/24", &pve1)
        .control_plane("cp2", "10.0.10.12/24", &pve1)
        .control_plane("cp3", "10.0.10.13/24", &pve1)
        .worker("w1", "10.0.10.21/24", &pve1)
        .worker("w2", "10.0.10.22/24", &pve1)
        .add_to(&mut lab);
    lab
}

/// `check` of [`talos_lab`]; the number of diagnostics.
pub fn check(lab: &Lab) -> usize {
    lab.check().len()
}
EOF

cat >"$crate/src/main.rs" <<'EOF'
use std::time::Instant;
fn main() {
    let t = Instant::now();
    let bundle = lab_user::secrets_generate();
    println!("secrets_generate: {:.2?}", t.elapsed());
    drop(bundle);
    let lab = lab_user::talos_lab();
    let t = Instant::now();
    let n = lab_user::check(&lab);
    println!("check (first, schema compiled): {:.2?} ({n} diagnostics)", t.elapsed());
    let t = Instant::now();
    lab_user::check(&lab);
    println!("check (again): {:.2?}", t.elapsed());
}
EOF

cat >"$crate/benches/user.rs" <<'EOF'
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn user(c: &mut Criterion) {
    let mut g = c.benchmark_group("user");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("secrets_generate", |b| b.iter(lab_user::secrets_generate));
    let lab = lab_user::talos_lab();
    g.bench_function("check", |b| b.iter(|| lab_user::check(&lab)));
    g.finish();
}

criterion_group!(benches, user);
criterion_main!(benches);
EOF

cd "$crate"
timings=()
[ "${TIMINGS:-}" = 1 ] && timings=(--timings)
case "$mode" in
  bench)
    start=$(date +%s)
    cargo bench --profile dev --no-run "${timings[@]}"
    echo "== build (dev profile): $(($(date +%s) - start)) s"
    cargo bench --profile dev --bench user
    ;;
  once)
    start=$(date +%s)
    cargo build "${timings[@]}"
    echo "== build (dev profile): $(($(date +%s) - start)) s"
    cargo run --quiet
    ;;
  example)
    cp "$lab_dir/examples/talos.rs" "$crate/src/main.rs"
    rm "$crate/src/lib.rs" "$crate/benches/user.rs"
    sed -i '/^\[\[bench\]\]/,$d' "$crate/Cargo.toml"
    start=$(date +%s)
    cargo build "${timings[@]}"
    echo "== build (dev profile): $(($(date +%s) - start)) s"
    start=$(date +%s%N)
    cargo run --quiet -- "$@"
    echo "== run: $((($(date +%s%N) - start) / 1000000)) ms"
    ;;
  *)
    echo "usage: $0 bench|once|example [LAB_DIR] [ARGS...]" >&2
    exit 2
    ;;
esac
