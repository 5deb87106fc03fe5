//! The `lab_core::Provider` implementations of lab-net's managed kinds.

pub mod caddy;
pub mod cloudflare;
pub use caddy::{CaddyOptions, CaddyProvider};
pub use cloudflare::CloudflareProvider;
