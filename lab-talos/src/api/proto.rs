//! The generated Talos API stubs (see `build.rs` and `proto/`).
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
    tonic::include_proto!("common");
}

/// The `machine` package (`MachineService`).
pub(crate) mod machine {
    tonic::include_proto!("machine");
}

/// The `cluster` package (`ClusterService`).
pub(crate) mod cluster {
    tonic::include_proto!("cluster");
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
}
