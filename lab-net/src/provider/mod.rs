//! The `lab_core::Provider` implementations of lab-net's managed kinds.

pub mod caddy;
pub use caddy::{CaddyOptions, CaddyProvider};
