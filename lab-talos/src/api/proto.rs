//! The generated Talos API stubs, checked in under `src/api/gen/`.
//!
//! They are generated from the minimal `proto/` by tonic-prost-build with a
//! vendored protoc, but not at build time: `bash lab-talos/proto/regen.sh`
//! regenerates them (after a `.proto` change; the test
//! `generated_stubs_match_the_protos` fails until then). Building lab-talos
//! needs neither protoc nor tonic-prost-build: their compile units that
//! nothing else needs (prost-build, tonic-build, prettyplease, regex,
//! rustix, ...) took 159 s of CPU on the 2-core dev machine, out of every
//! cold build that includes lab-talos.
//! The server stubs compile only with the feature `sim`.
//!
//! Crate-private: callers use [`super::TalosClient`]. The two messages that
//! carry secrets (a machine config in `ApplyConfigurationRequest.data`, a
//! kubeconfig archive in `common.Data.bytes`) have no derived `Debug`; the
//! hand-written ones below print sizes only.

#![allow(
    missing_docs,
    dead_code,
    unreachable_pub,
    clippy::all,
    clippy::pedantic
)]

use std::fmt;

/// The `common` package.
pub(crate) mod common {
    include!("gen/common.rs");
}

/// The `machine` package (`MachineService`).
pub(crate) mod machine {
    include!("gen/machine.rs");
}

/// The `cluster` package (`ClusterService`).
pub(crate) mod cluster {
    include!("gen/cluster.rs");
}

impl fmt::Debug for machine::ApplyConfigurationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyConfigurationRequest")
            .field(
                "data",
                &format_args!("<{} bytes redacted>", self.data.len()),
            )
            .field("mode", &self.mode)
            .field("dry_run", &self.dry_run)
            .field("try_mode_timeout", &self.try_mode_timeout)
            .finish()
    }
}

// `skip_debug` on the request also covers its nested enum.
impl fmt::Debug for machine::apply_configuration_request::Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str_name())
    }
}

impl fmt::Debug for common::Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Data")
            .field("metadata", &self.metadata)
            .field(
                "bytes",
                &format_args!("<{} bytes redacted>", self.bytes.len()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_carrying_messages_debug_without_content() {
        let req = machine::ApplyConfigurationRequest {
            data: b"machine:\n  token: s3cr3t\n".to_vec(),
            mode: machine::apply_configuration_request::Mode::Auto as i32,
            dry_run: false,
            try_mode_timeout: None,
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("25 bytes redacted"), "{shown}");
        let data = common::Data {
            metadata: None,
            bytes: b"client-key-data: abc".to_vec(),
        };
        assert!(!format!("{data:?}").contains("abc"));
    }

    /// The fingerprint regen.sh writes into each generated file is that of
    /// the `.proto` files as they are now: `sha256sum` of every
    /// `proto/**/*.proto` (sorted by path), hashed again.
    #[test]
    fn generated_stubs_match_the_protos() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("lab-talos/proto") {
                let path = entry.expect("proto entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "proto") {
                    let rel = path.strip_prefix(&root).expect("under proto/");
                    let rel: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
                    files.push((format!("./{}", rel.join("/")), path));
                }
            }
        }
        files.sort();
        assert_eq!(files.len(), 3, "{files:?}");
        let listing: String = files
            .iter()
            .map(|(rel, path)| {
                let bytes = std::fs::read(path).expect("a .proto file");
                format!("{}  {rel}\n", crate::sha256_hex(&bytes))
            })
            .collect();
        let inputs = crate::sha256_hex(listing.as_bytes());
        for (name, text) in [
            ("common", include_str!("gen/common.rs")),
            ("machine", include_str!("gen/machine.rs")),
            ("cluster", include_str!("gen/cluster.rs")),
        ] {
            assert!(
                text.lines()
                    .any(|l| l == format!("// proto inputs: {inputs}")),
                "src/api/gen/{name}.rs is stale: run `bash lab-talos/proto/regen.sh`"
            );
        }
    }
}
