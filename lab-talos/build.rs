//! Generates the Talos API stubs (tonic + prost) from `proto/`.
//!
//! protoc comes from `protoc-bin-vendored`, so neither developers nor CI
//! need a system protoc; the well-known types (`google.protobuf.Empty`,
//! `Duration`) come from its include directory. Server stubs are generated
//! only with the `sim` feature, which is the only user of them.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // Edition 2021: `set_var` is safe; the build script is single-threaded.
    std::env::set_var("PROTOC", protoc);
    let wkt = protoc_bin_vendored::include_path()?;
    let sim = std::env::var_os("CARGO_FEATURE_SIM").is_some();
    let protos = [
        PathBuf::from("proto/machine/machine.proto"),
        PathBuf::from("proto/cluster/cluster.proto"),
    ];
    let includes = [PathBuf::from("proto"), wkt];
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(sim)
        .build_transport(false)
        // Machine configs and kubeconfigs are secrets: these two messages get
        // a hand-written, redacting `Debug` (src/api/proto.rs).
        .skip_debug([".machine.ApplyConfigurationRequest", ".common.Data"])
        .compile_protos(&protos, &includes)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
